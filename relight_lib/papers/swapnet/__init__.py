"""2DSceneRelighting (any-to-any): the row runner (:mod:`.any2any`) and its parts by concern
(objective, pairs, budget, deviations, plan, loop, evaluate, figures), and the envmaps."""
