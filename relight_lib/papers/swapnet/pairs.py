"""The pairs an any-to-any row reads (2DSceneRelighting): training pairs drawn per seed,
evaluation sets drawn once with seed 0 (the same pairs for every row of a seed's data, so
differences are paired), the ``subsets`` table's rules, and scene indexes of presets not yet
rendered (plans never render).

Evaluation (papers.md 6.11): Table 1's pairs have a different scene and a different light
direction (``PROTOCOL_2DSCENE``), drawn from the profile's ``eval_split`` (test on SynVIDIT,
validation on real VIDIT).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from relight_lib.papers import profiles

__all__ = ["EVAL_SUBSETS", "eval_rules", "evaluation_set", "planned_index", "scene_index",
           "training_set"]

#: Values of ``eval_subsets``: how the ``subsets`` table's three sets are defined.
EVAL_SUBSETS: dict[str, str] = {
    "report": "the report's section 3.5: Eval = every validation pair, Eval_{c_I=c_T} = same "
              "colour temperature, Eval_{d_I=d_T} = same direction (nothing else constrained)",
    "protocol": "the suite's earlier reading: Table 1's protocol set (different scene and "
                "direction), protocol and same colour, different scene and same direction",
}


def eval_rules(eval_subsets: str = "report") -> dict[str, tuple[Any, str]]:
    """The pair rules of the ``subsets`` table's sets (``full``, ``same_colour``,
    ``same_direction``) with a one-line definition each.

    >>> {k: str(r) for k, (r, _) in eval_rules("report").items()}
    {'full': 'any_pair', 'same_colour': 'same_colour', 'same_direction': 'same_direction'}
    """
    from relight_lib.library.data import vidit

    if eval_subsets == "report":
        return {
            "full": (vidit.any_pair, "Eval: every validation pair (I, T), same scene and "
                                     "identical lighting included (report section 3.5)"),
            "same_colour": (vidit.same_colour, "Eval_{c_I=c_T}: I and T have the same colour "
                                               "temperature, nothing else constrained"),
            "same_direction": (vidit.same_direction, "Eval_{d_I=d_T}: I and T have the same "
                                                     "light direction, nothing else constrained"),
        }
    if eval_subsets == "protocol":
        return {
            "full": (vidit.PROTOCOL_2DSCENE, "different scene and different direction "
                                             "(Table 1's protocol)"),
            "same_colour": (vidit.PROTOCOL_2DSCENE & vidit.same_colour,
                            "different scene, different direction, same colour temperature"),
            "same_direction": (vidit.different_scene & vidit.same_direction,
                               "different scene, same direction"),
        }
    raise ValueError(f"eval_subsets must be one of {sorted(EVAL_SUBSETS)}, got {eval_subsets!r}")


def _eval_rule(index, rule, name: str, devs: list[str]):
    """The evaluation rule, without ``different_scene`` when the split has a single scene
    (the smoke data's validation split): recorded as a deviation."""
    from relight_lib.library.data import vidit

    def leaves(r):
        return [x for p in r.parts for x in leaves(p)] if r.op == "and" else [r]

    if len(index.scenes) >= 2 or vidit.different_scene not in leaves(rule):
        return rule
    kept = [r for r in leaves(rule) if r is not vidit.different_scene]
    devs.append(f"evaluation set {name!r}: the split has one scene, so pairs share the scene "
                "(different_scene dropped from the rule)")
    return vidit.all_of(*kept) if kept else vidit.any_pair


#: Enumerate a pair set below this many candidate pairs; sample lazily above.
_ENUMERATE_BELOW = 200_000


class _PlannedPairs:
    """The pairs of a set whose images are not on disk yet (a plan of an unrendered SynVIDIT
    preset): what a dataset would hold, without its files."""

    def __init__(self, pairs, rule=None) -> None:
        self.pairs, self.rule = list(pairs), rule

    def __len__(self) -> int:
        return len(self.pairs)


def _enumerate(index, rule):
    """Every pair of a small set (None when there are too many candidates to list)."""
    from relight_lib.library.data.vidit import all_pairs

    try:
        return all_pairs(index, rule, max_candidates=_ENUMERATE_BELOW)
    except ValueError:
        return None


def training_set(root, index, rule, size, n, seed, devs, planned=False):
    """``n`` training pairs following ``rule``, drawn with ``seed`` (all of them, with a
    deviation, when fewer exist). ``planned``: the pairs only (the images are not on disk)."""
    from relight_lib.library.data.vidit import AnyToAnyDataset, sample_pairs

    pairs = _enumerate(index, rule)
    if pairs is not None and len(pairs) < n:
        if not pairs:
            raise ValueError(f"no training pair satisfies {rule} in {index.folder}")
        devs.append(f"Training pairs: only {len(pairs):,} pairs satisfy {rule} in the training "
                    f"split (the budget asks for {n:,}): all of them are used, in epochs.")
        return _PlannedPairs(pairs) if planned else AnyToAnyDataset(root, "train", pairs,
                                                                    size=size)
    if planned:
        return _PlannedPairs(sample_pairs(index, n, seed, rule), rule)
    return AnyToAnyDataset(root, "train", rule, size=size, n_pairs=n, seed=seed)


def evaluation_set(root, split, index, size, rule, n, name, devs, planned=False):
    """An evaluation set drawn with seed 0, so that every row and seed sees the same pairs.
    ``planned``: the pairs only (the images are not on disk)."""
    from relight_lib.library.data.vidit import AnyToAnyDataset, sample_pairs

    rule = _eval_rule(index, rule, name, devs)
    pairs = _enumerate(index, rule)
    if pairs is None:  # too many to enumerate: draw lazily
        if planned:
            return _PlannedPairs(sample_pairs(index, n, 0, rule), rule)
        return AnyToAnyDataset(root, split, rule, size=size, n_pairs=n, seed=0)
    if len(pairs) > n:
        rng = np.random.default_rng(0)
        pairs = [pairs[i] for i in sorted(rng.choice(len(pairs), n, replace=False))]
    elif len(pairs) < n:
        devs.append(f"evaluation set {name!r}: only {len(pairs)} pairs satisfy {rule} in the "
                    f"{split} split (asked for {n}): all of them are used")
    if not pairs:
        raise ValueError(f"evaluation set {name!r}: no pair satisfies {rule} in {index.folder}")
    return _PlannedPairs(pairs) if planned else AnyToAnyDataset(root, split, pairs, size=size)


def scene_index(root, split):
    from relight_lib.library.data.vidit import SceneIndex, find_any2any_dir

    return SceneIndex.from_folder(find_any2any_dir(root, split))


def planned_index(cfg, split: str):
    """The scene index a SynVIDIT preset folder will have once rendered, from the preset's
    parameters (plans do not render); None for real VIDIT or a folder that already exists."""
    from relight_lib.library.data import layout
    from relight_lib.library.data.vidit import SceneIndex, canonical_split

    if cfg.render_preset is None or Path(cfg.any2any_root).exists():
        return None
    rc = profiles.preset_config(cfg, cfg.any2any_root)
    if rc is None:
        return None
    ids = rc.splits()[canonical_split(split)]
    return SceneIndex.from_dict({layout.scene_name(i): rc.conditions for i in ids})
