"""How often the plateau test calls a converged training "not converged" (``relight bench
--plateau-calibration``).

The plateau test (:mod:`relight_lib.library.convergence`) decides whether a row's claims get a
verdict: one seed that fails it and the row is out. So its false alarms matter as much as the
claims' intervals do. This bench measures them by simulation, on curves where the answer is
known: a training that has *stopped improving*, i.e. a validation curve that is flat plus
independent noise of standard deviation ``sigma`` (the jitter our committed quick curves show
after the schedule has decayed is of the order of 0.03-0.06 dB), recorded the way the engine
records it (a cosine learning rate, a validation point every ``every`` steps) and judged by
:func:`relight_lib.library.convergence.from_history` exactly as a row is. Every failure on such
a curve is a false alarm.

For each noise level it writes the false-alarm rate per seed, the chance that a row of
``n_seeds`` seeds passes (every seed must), and which check fired (``best - final`` or the last
fifth's gain). A row needs every seed to pass, so a per-seed rate of a quarter leaves a five-seed
row a one-in-four chance; :data:`relight_lib.library.convergence.TOL_SDS` is chosen with this
bench.
"""

from __future__ import annotations

import csv
import math
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from relight_lib.library.data.imageio import atomic_write

#: Where the numbers go.
OUT = Path("results/bench/plateau-calibration.csv")
#: The quick one-to-one recipe's shape: 800 steps, a point every 40 (20 points), a cosine.
TOTAL_STEPS, EVERY, PEAK_LR = 800, 40, 3e-4
SIGMAS = (0.0, 0.02, 0.035, 0.05)


def flat_history(sigma: float, rng: np.random.Generator, total: int = TOTAL_STEPS,
                 every: int = EVERY) -> list[dict[str, Any]]:
    """One converged training's ``history.csv`` records: validation PSNR ``20 + N(0, sigma)``
    every ``every`` steps (flat: nothing left to learn), the rate a cosine from ``PEAK_LR``."""
    hist = []
    for s in range(1, total + 1):
        rec: dict[str, Any] = {"step": s, "loss": 0.1,
                               "lr": PEAK_LR * 0.5 * (1 + math.cos(math.pi * s / total))}
        if s % every == 0:
            rec["val_psnr"] = 20.0 + float(rng.normal(0.0, sigma))
        hist.append(rec)
    return hist


def _which(reason: str) -> str:
    if "worse than the best" in reason:
        return "best - final"
    if "still improving" in reason:
        return "last fifth's gain"
    if "still jumps" in reason:
        return "too noisy"
    return "other"


def false_alarms(sigma: float, n: int = 1000, seed: int = 0, n_seeds: int = 5,
                 total: int = TOTAL_STEPS, every: int = EVERY) -> dict[str, Any]:
    """The plateau test on ``n`` flat curves of noise ``sigma``: the share it calls not
    converged (``p_fail``), the chance a row of ``n_seeds`` such seeds passes, and the count of
    each failing check.

    >>> r = false_alarms(0.0, n=3)
    >>> r["p_fail"], r["p_row_passes"]
    (0.0, 1.0)
    """
    from relight_lib.library.convergence import from_history

    rng = np.random.default_rng(seed)
    fired: Counter[str] = Counter()
    for _ in range(n):
        verdict = from_history(flat_history(sigma, rng, total, every))
        if verdict.converged is False:
            fired[_which(verdict.reason)] += 1
    p = sum(fired.values()) / n
    return {"sigma_db": sigma, "points": total // every, "steps": total, "curves": n,
            "p_fail": p, "n_seeds": n_seeds, "p_row_passes": round((1 - p) ** n_seeds, 4),
            "fail_best_minus_final": fired["best - final"],
            "fail_last_fifth_gain": fired["last fifth's gain"],
            "fail_too_noisy": fired["too noisy"], "fail_other": fired["other"], "seed": seed}


def run(sigmas: Sequence[float] = SIGMAS, n: int = 1000, out: Path = OUT,
        log=print) -> Path:
    """:func:`false_alarms` at every noise level, written to ``out`` (atomically) with the
    commit that measured it (the test measured is that commit's)."""
    from relight_lib.library.record import provenance

    prov = provenance()
    stamp = {"git_commit": prov.get("git_commit"), "git_dirty": prov.get("git_dirty"),
             "date_utc": prov.get("timestamp_utc")}
    rows = []
    for sigma in sigmas:
        rows.append({**false_alarms(sigma, n=n), **stamp})
        r = rows[-1]
        log(f"noise {sigma:.3f} dB: {r['p_fail']:.1%} of converged seeds called not converged; "
            f"a {r['n_seeds']}-seed row passes {r['p_row_passes']:.0%} of the time")
    with atomic_write(out, suffix=".csv.tmp") as tmp, open(tmp, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    return out
