"""The plateau test: converged, still improving, collapsed at the end, too short to tell."""

import pytest

from relight_lib.library import convergence as C

STEPS = [100, 200, 300, 400, 500, 600, 700, 800, 900, 1000]


def test_a_plateau_converges():
    v = [15.0, 17.0, 18.5, 19.2, 19.5, 19.6, 19.62, 19.65, 19.66, 19.66]
    p = C.plateau_test(STEPS, v)
    assert p.converged is True and p.best == pytest.approx(19.66) and p.best_step == 900
    assert p.tail_gain == pytest.approx(19.66 - 19.65)


def test_still_climbing_is_not_converged():
    v = [15.0, 16.0, 17.0, 18.0, 19.0, 19.5, 19.8, 20.0, 20.1, 20.25]
    p = C.plateau_test(STEPS, v)
    assert p.converged is False and "still improving" in p.reason
    assert p.tail_gain == pytest.approx(0.25)


def test_a_late_collapse_is_not_converged():
    v = [15.0, 17.0, 18.5, 19.2, 19.5, 19.6, 19.62, 19.65, 19.2, 19.1]
    p = C.plateau_test(STEPS, v)
    assert p.converged is False and "worse at the end" in p.reason and p.best_step == 800


def test_too_few_points_or_nan_cannot_tell():
    assert C.plateau_test([1, 2, 3], [1.0, 2.0, 3.0]).converged is None
    nan = float("nan")
    assert C.plateau_test(STEPS, [nan] * 8 + [1.0, 1.0]).converged is None


def test_from_history_reads_val_psnr():
    hist = [{"step": s, "loss": 1.0} for s in range(1, 1001)]
    for h, v in zip([hist[s - 1] for s in STEPS], [19.0] * 10):
        h["val_psnr"] = v
    assert C.from_history(hist).converged is True
    assert C.from_history([{"step": 1, "loss": 1.0}]).converged is None
