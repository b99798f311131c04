"""When has a training stopped improving? The plateau test every trained row passes or is marked.

The test, written down once (issue: trained to convergence). Validation PSNR is measured every
few steps during training (the engine's ``val_every``), at least :data:`MIN_EVALS` times. With
``T`` the last step, the *tail* is the evaluations after ``(1 - TAIL) * T`` (the last fifth) and
the *head* those before it. A training has **converged** when both hold:

1. the best validation PSNR of the tail is within ``TOL_DB`` (0.1 dB) of the best of the whole
   run (the model did not get worse at the end: no late divergence), and
2. the tail gained less than ``TOL_DB`` over the best of the head (it stopped improving:
   training longer would not move the numbers by more than we can resolve).

Why these two: (2) alone passes a run that collapsed late (its tail gains nothing because it is
worse); (1) alone passes a run still climbing steadily (its tail holds its best). A row whose
runs do not pass is reported as *not converged*: the tables mark it and its claims get no
verdict. 0.1 dB is about the smallest PSNR difference the papers' claims turn on (their
ablation steps are 0.1-1 dB).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

__all__ = ["MIN_EVALS", "TAIL", "TOL_DB", "Plateau", "plateau_test", "from_history"]

#: Share of the training at the end whose gain is tested.
TAIL = 0.2
#: dB: less than this gained in the tail, and the tail's best at most this below the best.
TOL_DB = 0.1
#: Fewest validation points for a verdict (and at least two in the tail).
MIN_EVALS = 5


@dataclass(frozen=True)
class Plateau:
    """The plateau test of one training.

    Attributes:
        converged: True when both conditions hold; False when one fails; None when there are
            too few validation points to tell.
        best: best validation PSNR of the run (dB); ``best_step`` where it was reached.
        tail_best: best of the last fifth; ``tail_gain``: tail_best minus the head's best.
        n_evals: validation points used.
        reason: one sentence, for the tables.
    """

    converged: bool | None
    best: float | None
    best_step: int | None
    tail_best: float | None
    tail_gain: float | None
    n_evals: int
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def plateau_test(steps: Sequence[int], psnr: Sequence[float], tail: float = TAIL,
                 tol_db: float = TOL_DB) -> Plateau:
    """The plateau test (module docstring) on validation PSNR ``psnr`` measured at ``steps``.

    >>> steps = range(100, 1100, 100)
    >>> plateau_test(steps, [18, 19.5, 19.9, 19.95, 19.96, 20, 20, 20, 20, 20]).converged
    True
    >>> plateau_test(steps, [15, 16, 17, 18, 19, 20, 21, 22, 23, 24]).reason
    'still improving: the last fifth gained 2.00 dB (>= 0.1 dB)'
    """
    pts = [(int(s), float(v)) for s, v in zip(steps, psnr) if v == v]  # drop NaN
    n = len(pts)
    if n < MIN_EVALS:
        return Plateau(None, None, None, None, None, n,
                       f"too few validation points to tell ({n} < {MIN_EVALS})")
    last = max(s for s, _ in pts)
    cut = (1 - tail) * last
    head = [v for s, v in pts if s <= cut]
    tl = [v for s, v in pts if s > cut]
    if len(tl) < 2 or not head:
        return Plateau(None, None, None, None, None, n,
                       "too few validation points in the last fifth to tell")
    best_step, best = max(pts, key=lambda p: p[1])
    tail_best, gain = max(tl), max(tl) - max(head)
    if best - tail_best > tol_db:
        return Plateau(False, best, best_step, tail_best, gain, n,
                       f"got worse at the end: the last fifth's best is {best - tail_best:.2f} dB "
                       f"below the best (step {best_step})")
    if gain >= tol_db:
        return Plateau(False, best, best_step, tail_best, gain, n,
                       f"still improving: the last fifth gained {gain:.2f} dB (>= {tol_db} dB)")
    return Plateau(True, best, best_step, tail_best, gain, n,
                   f"plateau: the last fifth gained {gain:+.2f} dB")


def from_history(history: Sequence[Mapping[str, Any]], metric: str = "val_psnr") -> Plateau:
    """:func:`plateau_test` on the ``step`` / ``val_psnr`` entries of a training history."""
    rows = [h for h in history if metric in h and h[metric] is not None]
    return plateau_test([h["step"] for h in rows], [h[metric] for h in rows])
