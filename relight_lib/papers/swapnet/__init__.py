"""2DSceneRelighting (any-to-any): envmaps and the training loop."""
