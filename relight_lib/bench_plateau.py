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

It also measures the member check of a snapshot ensemble (``member_p_fail``): on a curve that
still climbs where the members sit and has flattened by the end (the shape of LTNet's quick
curves), each member's own validation value is the curve plus the same noise, so every member
called "off the curve" is a false alarm. :data:`relight_lib.library.convergence.LOCAL_POINTS`
is chosen with it.
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
#: Where an ensemble's members sit, as shares of the budget: LTNet's snapshots at the quick
#: profile (steps 1100, 1224, 1228, 1240 and 1258 of 1600), before the schedule has decayed.
MEMBER_SHARES = (1100 / 1600, 1224 / 1600, 1228 / 1600, 1240 / 1600, 1258 / 1600)


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


def climbing_history(sigma: float, rng: np.random.Generator, total: int = TOTAL_STEPS,
                     every: int = EVERY, members: Sequence[float] = MEMBER_SHARES
                     ) -> tuple[list[dict[str, Any]], dict[int, dict[str, float]]]:
    """A training whose validation PSNR ``20 - 5 exp(-6 s / total) + N(0, sigma)`` still climbs
    where the ensemble's members sit and has flattened by the end (a cosine rate as in
    :func:`flat_history`), with each member's own value drawn as a validation point would be:
    ``(history, member_values)``, member steps at the shares ``members`` of ``total``."""
    def level(s: float) -> float:
        return 20.0 - 5.0 * math.exp(-6.0 * s / total)

    hist = flat_history(0.0, rng, total, every)
    for rec in hist:
        if "val_psnr" in rec:
            rec["val_psnr"] = level(rec["step"]) + float(rng.normal(0.0, sigma))
    values = {round(m * total): {"val_psnr": level(round(m * total))
                                 + float(rng.normal(0.0, sigma))} for m in members}
    return hist, values


def member_false_alarms(sigma: float, n: int = 1000, seed: int = 1, total: int = TOTAL_STEPS,
                        every: int = EVERY) -> float:
    """The share of ``n`` :func:`climbing_history` trainings in which the member check calls a
    member that lies on the curve (up to the noise) "off the curve".

    >>> member_false_alarms(0.0, n=3)
    0.0
    """
    from relight_lib.library.convergence import from_history

    rng = np.random.default_rng(seed)
    fired = 0
    for _ in range(n):
        hist, values = climbing_history(sigma, rng, total, every)
        verdict = from_history(hist, members=sorted(values), member_values=values)
        fired += any(c.ok is False and c.what.startswith("member") for c in verdict.checks)
    return fired / n


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
        r = false_alarms(sigma, n=n)
        r["member_p_fail"] = member_false_alarms(sigma, n=n)
        rows.append({**r, **stamp})
        log(f"noise {sigma:.3f} dB: {r['p_fail']:.1%} of converged seeds called not converged; "
            f"a {r['n_seeds']}-seed row passes {r['p_row_passes']:.0%} of the time; "
            f"{r['member_p_fail']:.1%} of ensembles have a member called off the curve")
    with atomic_write(out, suffix=".csv.tmp") as tmp, open(tmp, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    return out
