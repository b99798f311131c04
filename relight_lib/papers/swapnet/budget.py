"""How long an any-to-any row trains (2DSceneRelighting), which checkpoint Table 1 reads, the
learning-rate schedule and how often validation runs.

Budgets: the smoke, quick and gpu profiles train ``train_steps`` steps of ``batch_size`` pairs;
the paper profile trains the report's own (:data:`PAPER_BUDGET`: model A 60,000 iterations of
batch 8; models B and C 20 epochs of batch 25 over 400,000 sampled pairs) at the report's 256
px and evaluates 10,000 pairs per set. Table 1 reads model B at its epoch-8 and model C at its
epoch-6 checkpoint (``evaluate.py``); at every profile we read the same fraction of the budget
(8/20 and 6/20, :data:`READ_FRACTION`); training still runs to the end of the budget so that
the learning curve is complete. Validation PSNR and SSIM (fp32, eval mode; model A also its
L_c as ``val_lc``) on up to :data:`VAL_PAIRS` protocol pairs of the profile's ``val_split``
(validation; at the paper profile, where the tables are read on validation too, of the main
evaluation set), the profile's ``val_points`` times evenly over the training, go into
history.csv; run.json's ``extra["convergence"]`` is the plateau test
(:mod:`relight_lib.library.convergence`) of the weights the row scores (models B and C: the
read checkpoint), on PSNR and, for model A, L_c.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import torch

__all__ = ["Budget", "DEFAULT_EVAL_PAIRS", "PAPER_BUDGET", "PAPER_EVAL_PAIRS", "PAPER_SIZE",
           "READ_FRACTION", "VAL_PAIRS", "budget_for", "finish_budget", "report_read_step",
           "train_config", "validation_interval", "validation_subset"]

#: The report's own training budgets (papers.md 6.12), used at the paper profile: model A
#: (``train.py``, config ``...IlluminationPerdicterNoGAN``) 60,000 iterations of batch 8 over
#: every pair, shuffled; models B and C (``trainWithGeneratedEnvmaps.py``) 20 epochs of batch 25
#: over 400,000 randomly drawn pairs (different scene, different direction).
PAPER_BUDGET: dict[str, dict[str, Any]] = {
    "A": {"batch_size": 8, "steps": 60_000, "epochs": None},
    "B": {"batch_size": 25, "epochs": 20, "n_train": 400_000},
    "C": {"batch_size": 25, "epochs": 20, "n_train": 400_000},
}
#: Which checkpoint Table 1 reads, as a fraction of the budget: model B's epoch 8 and model C's
#: epoch 6 of 20 (``evaluate.py``); model A its last.
READ_FRACTION: dict[str, tuple[int, int]] = {"B": (8, 20), "C": (6, 20)}
#: The report's image size (``Resize(256)``) and evaluation set size (Table 1).
PAPER_SIZE = 256
PAPER_EVAL_PAIRS = 10_000
#: Evaluation pairs per set below the paper profile (capped by the profile's ``eval_limit``).
DEFAULT_EVAL_PAIRS = 100
#: Validation during training (the learning curve and the plateau test of
#: :mod:`relight_lib.library.convergence`) scores at most this many pairs of the main evaluation
#: set, spread evenly over it: a point costs a forward pass per pair (``val_points`` of them a
#: run), which on 2 CPU cores must stay a small share of the training whatever the set's size
#: (10,000 pairs at the paper profile). The pairs are fixed, so the curve moves with the weights
#: only.
VAL_PAIRS = 200


@dataclasses.dataclass
class Budget:
    """The training budget of one row (steps of ``batch_size`` pairs)."""

    steps: int
    batch_size: int
    n_wanted: int            # training pairs to draw
    epochs: float | None     # where the report counts epochs (B, C)
    read_step: int | None    # the checkpoint Table 1 reads (None: the last)
    paper: bool              # the report's own budget


def budget_for(cfg, setting: str, steps: int | None) -> Budget:
    """Steps, batch and training pairs of a loss setting at a profile; the number of epochs is
    fixed once the training pairs are known (:func:`finish_budget`)."""
    paper = cfg.name == "paper" or cfg.train_steps is None
    if paper:
        pb = PAPER_BUDGET[setting]
        batch = pb["batch_size"]
        if setting == "A":
            n_steps = int(steps or pb["steps"])
            n_wanted = n_steps * batch
        else:
            n_steps = int(steps) if steps else 0  # 0: from the epochs, once the pairs are known
            n_wanted = pb["n_train"]
        return Budget(n_steps, batch, n_wanted, None, None, steps is None)
    n_steps, batch = int(cfg.train_steps), int(cfg.batch_size)
    return Budget(n_steps, batch, n_steps * batch, None, None, False)


def finish_budget(b: Budget, setting: str, n_train: int, read_at: float | None) -> Budget:
    from relight_lib.library.train import steps_per_epoch

    spe = steps_per_epoch(n_train, b.batch_size)
    if b.steps == 0:  # the report's epochs
        b.steps = PAPER_BUDGET[setting]["epochs"] * spe
    if setting in READ_FRACTION:
        b.epochs = b.steps / spe
    if read_at is None and setting in READ_FRACTION:
        num, den = READ_FRACTION[setting]
        read_at = num / den
    if read_at is not None:
        if not 0 < read_at <= 1:
            raise ValueError(f"read_at must be in (0, 1], got {read_at}")
        if read_at < 1:
            b.read_step = min(b.steps, max(1, round(b.steps * read_at)))
    return b


def validation_interval(cfg, b: Budget | None) -> int:
    """Steps between validation points: the profile's ``val_points`` spread over the training
    (at least 1); 0 when ``val_points`` is 0 or the row does not train."""
    if b is None or not cfg.val_points:
        return 0
    return max(1, round(b.steps / cfg.val_points))


def validation_subset(eval_set, n: int):
    """At most ``n`` pairs of ``eval_set`` (the run asks :data:`VAL_PAIRS`), evenly spaced: an
    enumerated set is ordered input scene by input scene, so its first ``n`` pairs would cover
    few scenes. Deterministic, so every seed and row that shares the set validates on the same
    pairs."""
    if len(eval_set) <= n:
        return eval_set
    idx = np.linspace(0, len(eval_set) - 1, n).round().astype(int).tolist()
    return torch.utils.data.Subset(eval_set, idx)


def train_config(b: Budget, lr: float):
    """The learning-rate schedule of a row as a :class:`~relight_lib.library.train.TrainConfig`
    (only its schedule fields matter): the code's constant Adam rate at the paper budget; below
    it the short profiles' warm-up and cosine decay to 1 % of ``lr`` (as the one-to-one rows'
    :func:`relight_lib.papers.profiles.short_budget`): at a few hundred steps a constant rate
    ends while the weights still jump around the minimum."""
    from relight_lib.library.train import TrainConfig

    if b.paper:
        return TrainConfig(steps=b.steps, batch_size=b.batch_size, lr=lr, schedule="constant")
    return TrainConfig(steps=b.steps, batch_size=b.batch_size, lr=lr, final_lr=lr / 100,
                       schedule="warmup_cosine", warmup=0.05)


def report_read_step(b: Budget, setting: str) -> int | None:
    if setting not in READ_FRACTION:
        return None
    num, den = READ_FRACTION[setting]
    return min(b.steps, max(1, round(b.steps * num / den)))
