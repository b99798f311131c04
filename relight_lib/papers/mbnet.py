"""MBNet's training recipe: what a row of its tables means in model, losses and settings.

:func:`mbnet_row` returns the keyword arguments of :func:`relight_lib.papers.onetoone.run_one_to_one`
for one row of MBNet's Table 1 ablation (papers.md 4.6-4.8, 4.9): the training pairs (Track 1
only, or with the extra pairs), the residual switch, the loss and the optimiser. Used by
``notebooks/mbnet/table1.ipynb`` (and, through Table 1's full row, by Table 2).

Kept apart from :mod:`relight_lib.papers.ltnet.recipe` so that the results cache (which hashes the library
files a run imported) does not tie MBNet's rows to the other papers' recipes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from relight_lib.library.train import steps_per_epoch
from relight_lib.papers.profiles import COSINE, SMOKE_BUDGET

__all__ = [
    "MBNET_BUDGETS",
    "MBNET_DEVIATIONS",
    "MBNET_EQUAL_STEPS_BUDGET",
    "MBNET_LOSS",
    "MBNET_PAPER_BUDGET",
    "MBNET_SHORT_BUDGETS",
    "MBNET_TRAIN",
    "budget_deviations",
    "mbnet_loss",
    "mbnet_row",
    "row_budget",
    "short_row_budget",
    "train_pair_count",
    "weights_policy",
]

#: MBNet §4.1 (papers.md 4.8): Adam (0.5, 0.999), lr 1e-4 divided by 10 once, after 50 of 200
#: epochs, i.e. after a quarter of the budget whatever the profile's budget is
#: (``drop_fractions`` becomes a one-milestone ``multistep`` schedule in run_one_to_one).
MBNET_TRAIN: dict[str, Any] = {"lr": 1e-4, "betas": (0.5, 0.999), "gamma": 0.1,
                               "drop_fractions": [0.25]}

#: MBNet's recipe at the short profiles, the same for every row of Table 1, with the budget in
#: **epochs over the row's own training pairs**, as the paper (200 epochs for every row): the
#: extra-data rows, with three pairs per scene, train three times the baseline's steps
#: (:func:`short_row_budget` turns epochs into steps). With random encoders at the paper's 1e-4
#: (cosine) the baseline reached 18.91 dB after 300 steps and 18.90 after 400 (2-core CPU,
#: 64 px, batch 8, the quick validation scenes); 11 epochs of its 300 quick pairs keep it at
#: about those 400 steps. Three seeds, the fewest a verdict takes (spec/evidence.md): a baseline
#: seed cost about 15 minutes on a CPU with AMX, and an extra-data row trains three times its
#: steps, so the profile's five seeds would cost hours per row.
MBNET_SHORT_BUDGETS: dict[str, dict[str, Any]] = {
    # a third of an epoch: the smoke book is a pipeline check, and a full epoch of MBNet's 150 M
    # parameters (3 steps, 9 with the extra data) made its three rows a quarter of the smoke
    # book's row time in `make test` (58 + 106 + 106 s of 1131 s on a 2-core CPU)
    "smoke": {**{k: v for k, v in SMOKE_BUDGET.items() if k != "steps"}, "epochs": 1 / 3},
    "quick": {"epochs": 11, "lr": 1e-4, "final_lr": 1e-6, "seeds": 3, **COSINE},
}

#: The paper's own budget (§4.1), used at the paper profile only: 200 epochs of batch 3 over
#: the row's training pairs, so the baseline (300 Track 1 pairs: 100 steps an epoch) trains a
#: third of the steps of the extra-data rows (900 pairs: 300 steps an epoch), as in the paper.
MBNET_PAPER_BUDGET: dict[str, Any] = {"epochs": 200, "batch_size": 3}

#: Values of ``mbnet_row(budget=...)``.
MBNET_BUDGETS: dict[str, str] = {
    "epochs": "every row trains the same number of epochs over its own training pairs (the "
              "paper's 200 at the paper profile, the profile's own at smoke and quick)",
    "equal_steps": "every row trains the steps of the extra-data rows' epochs (the paper "
                   "profile: 200 epochs of 900 pairs at batch 3), whatever its own pairs",
}

#: Training pairs per VIDIT scene of each row's data (papers.md 4.6): Track 1's one pair, or
#: with the extra data three (the NE input and the mirrored W target added).
PAIRS_PER_SCENE = {"track1": 1, "mbnet_extra": 3}

#: §3.4 Eq. 1-4 (papers.md 4.7): 1 Charbonnier + 1.1 (-SSIM) + 0.1 L1 on VGG-19 conv3_3.
#: Not given by the paper [?], suite defaults (papers.md 10): Charbonnier eps 1e-3 (per element);
#: SSIM Gaussian window 11, sigma 1.5; the VGG feature after its ReLU, ImageNet-normalised input.
MBNET_LOSS: list[dict[str, Any]] = [
    {"name": "charbonnier", "weight": 1.0, "kwargs": {"eps": 1e-3, "colour": False}},
    {"name": "ssim", "weight": 1.1, "kwargs": {"form": "negative", "window_size": 11,
                                                "sigma": 1.5}},
    {"name": "perceptual", "weight": 0.1, "kwargs": {"arch": "vgg19", "layer": "relu3_3",
                                                      "distance": "l1", "normalize": True}},
]

#: VIDIT's training scenes (papers.md 4.6): 300 Track 1 pairs, 900 with the extra data.
VIDIT_TRAIN_SCENES = 300

#: The option of giving every row the extra-data rows' steps at the paper profile
#: (``budget='equal_steps'``): 200 epochs of VIDIT's 900 extra-data pairs at batch 3.
MBNET_EQUAL_STEPS_BUDGET: dict[str, Any] = {
    "steps": MBNET_PAPER_BUDGET["epochs"] * steps_per_epoch(
        VIDIT_TRAIN_SCENES * PAIRS_PER_SCENE["mbnet_extra"], MBNET_PAPER_BUDGET["batch_size"]),
    "batch_size": MBNET_PAPER_BUDGET["batch_size"]}

#: Deviations of every row, whatever its settings (the paper gives none of these choices).
MBNET_DEVIATIONS = [
    "Charbonnier eps 1e-3, SSIM window 11 / sigma 1.5, the VGG-19 conv3_3 feature after its ReLU: "
    "the paper gives none of them (suite defaults, papers.md 10).",
    "The output is clamped to [0, 1] in training too, with a straight-through gradient (the "
    "official code clamps only when saving).",
]

#: The paper's setting that the budget sentences compare against (§4.1).
_PAPER_SIZE = 1024


def weights_policy(profile: str | None) -> str:
    """The ``MBNet(pretrained=...)`` value of a profile: ``'allow_random'`` where the profile
    allows a random backbone (smoke, quick, gpu), ``'require'`` otherwise (paper, and ``None``:
    the faithful default).

    >>> weights_policy("quick"), weights_policy("paper"), weights_policy(None)
    ('allow_random', 'require', 'require')
    """
    if profile is None:
        return "require"
    from relight_lib.papers.profiles import PROFILES

    if profile not in PROFILES:
        raise KeyError(f"unknown profile {profile!r}; choose from {list(PROFILES)}")
    return "allow_random" if PROFILES[profile].allow_random_backbone else "require"


def mbnet_loss() -> list[dict[str, Any]]:
    """MBNet's loss terms (a fresh copy of :data:`MBNET_LOSS`).

    >>> [(t["name"], t["weight"]) for t in mbnet_loss()]
    [('charbonnier', 1.0), ('ssim', 1.1), ('perceptual', 0.1)]
    """
    return [{**t, "kwargs": dict(t["kwargs"])} for t in MBNET_LOSS]


def _profile(profile: str, data_root: str | None) -> "profiles.Profile":
    """The profile's settings (the paper profile without a data root: its defaults, which is
    all a recipe needs to describe itself)."""
    from relight_lib.papers import profiles

    try:
        return profiles.resolve(profile, data_root=data_root)
    except ValueError:  # the paper profile before a VIDIT folder is known
        return profiles.PROFILES[profile]


def train_pair_count(profile: str, pairs: str = "track1", data_root: str | None = None) -> int:
    """Training pairs of a row at ``profile``: from the SynVIDIT preset's scene counts when the
    set is not rendered (plans read no data), else counted on disk
    (:func:`relight_lib.papers.onetoone.training_pairs`).

    >>> train_pair_count("quick"), train_pair_count("quick", "mbnet_extra")
    (300, 900)

    Raises:
        ValueError: unknown ``pairs``.
    """
    from relight_lib.papers import onetoone, profiles

    if pairs not in PAIRS_PER_SCENE:
        raise ValueError(f"train_pairs {pairs!r} is not one of {sorted(PAIRS_PER_SCENE)}")
    cfg = _profile(profile, data_root)
    counts = profiles.preset_split_counts(cfg, cfg.track1_root)
    if counts is not None and not Path(cfg.track1_root).exists():
        return counts["train"] * PAIRS_PER_SCENE[pairs]
    if cfg.track1_root is None:  # the paper profile without VIDIT: VIDIT's own split
        return VIDIT_TRAIN_SCENES * PAIRS_PER_SCENE[pairs]
    return len(onetoone.training_pairs(cfg.track1_root, cfg.size, pairs))


def short_row_budget(profile: str, n_train: int) -> dict[str, Any] | None:
    """MBNet's recipe at a short ``profile`` for a row trained on ``n_train`` pairs, with its
    epochs turned into steps: ``epochs * steps_per_epoch(n_train, batch)`` (full batches, as
    the training loop draws them), so that every row trains the same epochs; None where MBNet
    has no short recipe (gpu, paper).

    >>> b = short_row_budget("quick", 900)
    >>> b["steps"] == 11 * (900 // 8), "epochs" in b
    (True, False)
    """
    from relight_lib.papers import profiles

    own = profiles.short_budget(profile, MBNET_SHORT_BUDGETS)
    if own is None:
        return None
    epochs = float(own.pop("epochs"))
    own["steps"] = max(1, round(epochs * steps_per_epoch(int(n_train), int(own["batch_size"]))))
    return own


def row_budget(extra_data: bool, profile: str, budget: str = "epochs",
               data_root: str | None = None) -> dict[str, Any]:
    """A Table 1 row's training budget at ``profile``, as the run resolves it: training pairs,
    epochs (over the row's own pairs), batch and steps (for the book and plans).

    >>> [row_budget(e, "quick")["steps"] for e in (False, True)]
    [407, 1232]
    """
    from relight_lib.papers.profiles import PROFILES

    if budget not in MBNET_BUDGETS:
        raise ValueError(f"budget must be one of {sorted(MBNET_BUDGETS)}, got {budget!r}")
    pairs = train_pair_count(profile, "mbnet_extra" if extra_data else "track1", data_root)
    n_budget = (train_pair_count(profile, "mbnet_extra", data_root)
                if budget == "equal_steps" else pairs)
    short = short_row_budget(profile, n_budget)
    if short is not None:
        steps, batch = short["steps"], short["batch_size"]
    elif PROFILES[profile].train_steps is not None:
        steps, batch = PROFILES[profile].train_steps, PROFILES[profile].batch_size
    else:
        batch = MBNET_PAPER_BUDGET["batch_size"]
        steps = (MBNET_EQUAL_STEPS_BUDGET["steps"] if budget == "equal_steps" else
                 MBNET_PAPER_BUDGET["epochs"] * steps_per_epoch(pairs, batch))
    return {"pairs": pairs, "epochs": steps / steps_per_epoch(pairs, batch),
            "batch_size": batch, "steps": steps}


def _epochs(n: float) -> str:
    return f"{n:.3g} epoch" + ("" if n == 1 else "s")


def budget_deviations(profile: str | None, n_train: int, n_budget: int, budget: str,
                      data_root: str | None = None) -> list[str]:
    """The budget sentences of a row, written from its resolved settings.

    Args:
        profile: The row's profile (None: the faithful default, the paper's budget).
        n_train: The row's own training pairs.
        n_budget: The pairs whose epochs set the steps (``n_train``, or the extra-data rows'
            pairs under ``budget='equal_steps'``).
        budget: ``'epochs'`` or ``'equal_steps'`` (:data:`MBNET_BUDGETS`).
        data_root: The row's VIDIT folder, if any.
    """
    paper_epochs, paper_batch = MBNET_PAPER_BUDGET["epochs"], MBNET_PAPER_BUDGET["batch_size"]
    paper = (f"the paper's {paper_epochs} epochs of batch {paper_batch} over each row's own "
             "pairs")
    if profile is None:
        profile = "paper"
    cfg = _profile(profile, data_root)
    out = []
    # the data sentence (SynVIDIT, drawn per seed, its splits) is the runner's: profiles.data_deviation
    if cfg.size != _PAPER_SIZE:
        out.append(f"Images at {cfg.size} px instead of the paper's {_PAPER_SIZE} px.")
    short = short_row_budget(profile, n_budget)
    if short is not None:
        epochs = MBNET_SHORT_BUDGETS[profile]["epochs"]
        steps, batch = short["steps"], short["batch_size"]
        if budget == "epochs":
            out.append(f"Profile {profile}: {_epochs(epochs)} over this row's {n_train:,} training "
                       f"pairs = {steps:,} steps of batch {batch}, instead of {paper}; as in "
                       "the paper every row trains the same number of epochs, so a row with "
                       "more pairs trains more steps.")
        else:
            out.append(f"Profile {profile}: every row trains {steps:,} steps of batch {batch} "
                       f"(budget='equal_steps': {_epochs(epochs)} of the extra-data rows' "
                       f"{n_budget:,} pairs), so this row's {n_train:,} pairs get "
                       f"{_epochs(steps * batch / max(1, n_train))}, instead of {paper}.")
        n_seeds = short.get("seeds")
        if n_seeds and n_seeds < len(cfg.seeds):
            seeds = f"{n_seeds} seed" + ("s" if n_seeds > 1 else "")
            out.append(f"Profile {profile}: {seeds} instead of the profile's {len(cfg.seeds)}: "
                       "one MBNet seed costs the most of any row here.")
        return out
    if cfg.train_steps is not None:  # a profile with its own step budget (gpu)
        steps, batch = int(cfg.train_steps), int(cfg.batch_size)
        spe = steps_per_epoch(n_train, batch)
        out.append(f"Profile {profile}: every row trains the profile's {steps:,} steps of batch "
                   f"{batch} ({steps / spe:.3g} epochs over this row's {n_train:,} pairs) "
                   f"instead of {paper}: equal steps, not equal epochs; the lr is divided by "
                   f"{1 / MBNET_TRAIN['gamma']:g} once, after "
                   f"{MBNET_TRAIN['drop_fractions'][0]:.0%} of the steps, as the paper's.")
        return out
    if budget == "equal_steps":
        steps, batch = MBNET_EQUAL_STEPS_BUDGET["steps"], MBNET_EQUAL_STEPS_BUDGET["batch_size"]
        out.append(f"Paper profile: every row trains {steps:,} steps of batch {batch} "
                   f"(budget='equal_steps', the extra-data rows' {paper_epochs} epochs), "
                   f"instead of {paper}, in which a row with fewer pairs trains fewer steps.")
    return out


def mbnet_row(extra_data: bool = True, residual: bool = True,
              profile: str | None = None, budget: str = "epochs",
              data_root: str | None = None) -> dict[str, Any]:
    """The :func:`~relight_lib.papers.onetoone.run_one_to_one` arguments of one MBNet row.

    Args:
        extra_data: Table 1's "+ Extra data": train on the Track 1 pairs plus the 6500-NE ->
            4500-E pairs and the mirrored 6500-N -> 4500-W pairs (``train_pairs='mbnet_extra'``);
            False: Track 1 pairs only.
        residual: Table 1's "+ Residual learning": ``ReLU(input + residual)``; False: the
            network predicts the image directly.
        profile: The profile the row runs at: it sets the ImageNet weights policy of the two
            ResNet-50 streams (:func:`weights_policy`), the short budget's steps (epochs over
            the row's pairs, :func:`short_row_budget`) and the deviation sentences. None: the
            faithful ``'require'`` policy and the paper's budget.
        budget: ``'epochs'`` (the paper: the same epochs for every row, 200 of batch 3 at the
            paper profile) or ``'equal_steps'`` (every row the extra-data rows' steps),
            :data:`MBNET_BUDGETS`.
        data_root: The row's VIDIT folder (None: the profile's SynVIDIT set), to count its
            training pairs.

    Example:
        >>> row = mbnet_row(extra_data=False, residual=False, profile="smoke")
        >>> row["train_pairs"], row["model_kwargs"], row["augment"]
        ('track1', {'residual': False, 'pretrained': 'allow_random'}, None)
    """
    budgets = {"epochs": MBNET_PAPER_BUDGET, "equal_steps": MBNET_EQUAL_STEPS_BUDGET}
    if budget not in budgets:
        raise ValueError(f"budget must be one of {sorted(budgets)}, got {budget!r}")
    pairs = "mbnet_extra" if extra_data else "track1"
    train = {**MBNET_TRAIN, "drop_fractions": list(MBNET_TRAIN["drop_fractions"])}
    deviations = list(MBNET_DEVIATIONS)
    policy = weights_policy(profile)
    if policy == "allow_random":
        deviations.insert(0, "ResNet-50 streams: ImageNet weights when found on disk; otherwise "
                             f"(profile {profile} allows it) a seeded random init (run.json "
                             "'weights' -> 'model' says which). The VGG-19 of the perceptual "
                             "loss follows the same policy.")
    if not residual:
        deviations.append("Without residual learning the network's 3-channel output is the "
                          "prediction itself (no ReLU, no skip): the paper does not describe the "
                          "baseline's last layer.")
    from relight_lib.papers.profiles import PROFILES

    short_budgets = None
    n_train = n_budget = 0  # the paper profile counts its epochs over whatever VIDIT holds
    if profile is not None and (profile in MBNET_SHORT_BUDGETS
                                or PROFILES[profile].train_steps is not None):
        n_train = train_pair_count(profile, pairs, data_root)
        n_budget = (train_pair_count(profile, "mbnet_extra", data_root)
                    if budget == "equal_steps" else n_train)
    if profile in MBNET_SHORT_BUDGETS:
        short_budgets = {profile: short_row_budget(profile, n_budget)}
    deviations += budget_deviations(profile, n_train, n_budget, budget, data_root)
    return {
        "model": "mbnet",
        "model_kwargs": {"residual": bool(residual), "pretrained": policy},
        "loss": mbnet_loss(),
        "train": train,
        "paper_budget": dict(budgets[budget]),
        "short_budgets": short_budgets,
        "train_pairs": pairs,
        "augment": None,  # "no flip / crop augmentation" (§4.1)
        "deviations": deviations,
    }
