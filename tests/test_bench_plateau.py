"""The plateau test's false-alarm bench: its simulated curves are recorded as the engine records
a training, and what it writes adds up."""

import csv
import math

import numpy as np
import pytest

from relight_lib import bench_plateau


def test_a_flat_history_is_recorded_as_the_engine_records_a_training():
    hist = bench_plateau.flat_history(0.05, np.random.default_rng(0))
    assert [r["step"] for r in hist] == list(range(1, bench_plateau.TOTAL_STEPS + 1))
    vals = [r["val_psnr"] for r in hist if "val_psnr" in r]
    assert len(vals) == bench_plateau.TOTAL_STEPS // bench_plateau.EVERY
    assert 0.02 < np.std(vals) < 0.09 and abs(np.mean(vals) - 20) < 0.05
    # a cosine: the peak at the start, (almost) nothing at the end
    assert hist[0]["lr"] == pytest.approx(bench_plateau.PEAK_LR, rel=1e-4)
    assert hist[-1]["lr"] == pytest.approx(0.0, abs=1e-12)


def test_a_noiseless_flat_curve_never_fails_and_the_row_rate_follows():
    quiet = bench_plateau.false_alarms(0.0, n=5)
    assert quiet["p_fail"] == 0.0 and quiet["p_row_passes"] == 1.0
    noisy = bench_plateau.false_alarms(0.08, n=60, seed=3)
    fired = (noisy["fail_best_minus_final"] + noisy["fail_last_fifth_gain"]
             + noisy["fail_too_noisy"] + noisy["fail_other"])
    assert noisy["p_fail"] == pytest.approx(fired / 60)
    assert noisy["p_row_passes"] == pytest.approx((1 - noisy["p_fail"]) ** 5, abs=1e-4)


def test_run_writes_one_row_per_noise_level(tmp_path):
    out = bench_plateau.run(sigmas=(0.0, 0.05), n=10, out=tmp_path / "cal.csv",
                            log=lambda *a: None)
    rows = list(csv.DictReader(open(out)))
    assert [float(r["sigma_db"]) for r in rows] == [0.0, 0.05]
    assert all(int(r["curves"]) == 10 and int(r["points"]) == 20 for r in rows)
    assert all(0 <= float(r["p_fail"]) <= 1 and not math.isnan(float(r["p_row_passes"]))
               for r in rows)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cal.csv"]  # no temporary left
    assert all(r["git_commit"] and r["date_utc"] for r in rows)  # which test was measured
    assert float(rows[0]["member_p_fail"]) == 0.0 and 0 <= float(rows[1]["member_p_fail"]) <= 1


def test_a_climbing_history_puts_the_members_on_the_curve():
    hist, values = bench_plateau.climbing_history(0.0, np.random.default_rng(0))
    total = bench_plateau.TOTAL_STEPS
    assert sorted(values) == [round(m * total) for m in bench_plateau.MEMBER_SHARES]
    vals = [(r["step"], r["val_psnr"]) for r in hist if "val_psnr" in r]
    # still climbing where the members sit, flat by the end
    assert vals[-1][1] - vals[len(vals) // 2][1] > 0.1 and vals[-1][1] - vals[-2][1] < 0.01
    from relight_lib.library.convergence import from_history
    verdict = from_history(hist, members=sorted(values), member_values=values)
    assert verdict.converged is True
    # a member pulled off the curve by 10 noise sd is caught at the quick noise level
    rng = np.random.default_rng(1)
    hist, values = bench_plateau.climbing_history(0.05, rng)
    first = min(values)
    values[first]["val_psnr"] -= 0.5
    verdict = from_history(hist, members=sorted(values), member_values=values)
    assert verdict.converged is False and f"member {first}" in verdict.reason
