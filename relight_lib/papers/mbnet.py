"""MBNet's training recipe: what a row of its tables means in model, losses and settings.

:func:`mbnet_row` returns the keyword arguments of :func:`relight_lib.papers.onetoone.run_one_to_one`
for one row of MBNet's Table 1 ablation (papers.md 4.6-4.8, 4.9): the training pairs (Track 1
only, or with the extra pairs), the residual switch, the loss and the optimiser. Used by
``notebooks/mbnet/table1.ipynb`` (and, through Table 1's full row, by Table 2).

Kept apart from :mod:`relight_lib.papers.ltnet.recipe` so that the results cache (which hashes the library
files a run imported) does not tie MBNet's rows to the other papers' recipes.
"""

from __future__ import annotations

from typing import Any

from relight_lib.papers.profiles import COSINE, SMOKE_BUDGET

__all__ = [
    "MBNET_DEVIATIONS",
    "MBNET_EQUAL_STEPS_BUDGET",
    "MBNET_LOSS",
    "MBNET_PAPER_BUDGET",
    "MBNET_TRAIN",
    "mbnet_loss",
    "mbnet_row",
    "weights_policy",
]

#: MBNet §4.1 (papers.md 4.8): Adam (0.5, 0.999), lr 1e-4 divided by 10 once, after 50 of 200
#: epochs, i.e. after a quarter of the budget whatever the profile's budget is
#: (``drop_fractions`` becomes a one-milestone ``multistep`` schedule in run_one_to_one).
MBNET_TRAIN: dict[str, Any] = {"lr": 1e-4, "betas": (0.5, 0.999), "gamma": 0.1,
                               "drop_fractions": [0.25]}

#: MBNet's recipe at the short profiles (:func:`relight_lib.papers.profiles.short_budget`), the
#: same for every row: with random encoders at the paper's 1e-4 (cosine) it reached 18.91 dB
#: after 300 steps and 18.90 after 400 (2-core CPU, 64 px, batch 8). One seed: a seed costs
#: about 15 minutes here.
MBNET_SHORT_BUDGETS: dict[str, dict[str, Any]] = {
    "smoke": SMOKE_BUDGET,
    "quick": {"steps": 400, "lr": 1e-4, "final_lr": 1e-6, "seeds": 1, **COSINE},
}

#: The paper's own budget (§4.1), used at the paper profile only: 200 epochs of batch 3 over
#: the row's training pairs, so the baseline (300 Track 1 pairs: 100 steps an epoch) trains a
#: third of the steps of the extra-data rows (900 pairs: 300 steps an epoch), as in the paper.
MBNET_PAPER_BUDGET: dict[str, Any] = {"epochs": 200, "batch_size": 3}

#: The option of giving every row the extra-data rows' 60,000 steps (``budget='equal_steps'``).
MBNET_EQUAL_STEPS_BUDGET: dict[str, Any] = {"steps": 200 * (900 // 3), "batch_size": 3}

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

MBNET_DEVIATIONS = [
    "ResNet-50 streams: ImageNet weights when found on disk; otherwise, where the profile allows "
    "it (smoke, quick, gpu), a seeded random init (run.json 'weights' -> 'model' says which). "
    "The VGG-19 of the perceptual loss follows the same policy.",
    "Training budget, image size, batch and data follow the profile (the paper: 200 epochs of "
    "VIDIT at 1024 px, batch 3, one V100; the paper profile keeps these); the lr is still "
    "divided by 10 once, after a quarter of the budget.",
    "Charbonnier eps 1e-3, SSIM window 11 / sigma 1.5, the VGG-19 conv3_3 feature after its ReLU: "
    "the paper gives none of them (suite defaults, papers.md 10).",
    "The output is clamped to [0, 1] in training too, with a straight-through gradient (the "
    "official code clamps only when saving).",
]


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


def mbnet_row(extra_data: bool = True, residual: bool = True,
              profile: str | None = None, budget: str = "epochs") -> dict[str, Any]:
    """The :func:`~relight_lib.papers.onetoone.run_one_to_one` arguments of one MBNet row.

    Args:
        extra_data: Table 1's "+ Extra data": train on the Track 1 pairs plus the 6500-NE ->
            4500-E pairs and the mirrored 6500-N -> 4500-W pairs (``train_pairs='mbnet_extra'``);
            False: Track 1 pairs only.
        residual: Table 1's "+ Residual learning": ``ReLU(input + residual)``; False: the
            network predicts the image directly.
        profile: The profile the row runs at, which sets the ImageNet weights policy of the two
            ResNet-50 streams (:func:`weights_policy`). None: the faithful ``'require'`` policy.
        budget: The paper profile's budget: ``'epochs'`` (the paper: 200 epochs of batch 3 over
            the row's pairs, :data:`MBNET_PAPER_BUDGET`) or ``'equal_steps'`` (every row the
            extra-data rows' 60,000 steps, :data:`MBNET_EQUAL_STEPS_BUDGET`).

    Example:
        >>> row = mbnet_row(extra_data=False, residual=False, profile="smoke")
        >>> row["train_pairs"], row["model_kwargs"], row["augment"]
        ('track1', {'residual': False, 'pretrained': 'allow_random'}, None)
    """
    budgets = {"epochs": MBNET_PAPER_BUDGET, "equal_steps": MBNET_EQUAL_STEPS_BUDGET}
    if budget not in budgets:
        raise ValueError(f"budget must be one of {sorted(budgets)}, got {budget!r}")
    train = {**MBNET_TRAIN, "drop_fractions": list(MBNET_TRAIN["drop_fractions"])}
    deviations = list(MBNET_DEVIATIONS)
    if budget == "equal_steps":
        deviations.append("Paper profile: every row trains 60,000 steps of batch 3 (the paper: "
                          "200 epochs over each row's own pairs, so its baseline trains a third "
                          "of the extra-data rows' steps).")
    if not residual:
        deviations.append("Without residual learning the network's 3-channel output is the "
                          "prediction itself (no ReLU, no skip): the paper does not describe the "
                          "baseline's last layer.")
    return {
        "model": "mbnet",
        "model_kwargs": {"residual": bool(residual), "pretrained": weights_policy(profile)},
        "loss": mbnet_loss(),
        "train": train,
        "paper_budget": dict(budgets[budget]),
        "short_budgets": MBNET_SHORT_BUDGETS,
        "train_pairs": "mbnet_extra" if extra_data else "track1",
        "augment": None,  # "no flip / crop augmentation" (§4.1)
        "deviations": deviations,
    }
