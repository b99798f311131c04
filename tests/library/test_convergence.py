"""The plateau test of the scored weights: final below the best, still climbing, flat within the
noise, a curve that jumps, L_c (lower is better), ensemble members and a read checkpoint."""

import math

import pytest

from relight_lib.library import convergence as C

STEPS = [100, 200, 300, 400, 500, 600, 700, 800, 900, 1000]
LC = C.METRICS["val_lc"]


def _history(values, column="val_psnr", decay_from=None, steps=STEPS):
    """One history row per step 1..last; ``column`` at ``steps``; lr 1 until ``decay_from``,
    then 0.01 (None: constant)."""
    at = dict(zip(steps, values))
    out = []
    for s in range(1, steps[-1] + 1):
        lr = 1.0 if decay_from is None or s <= decay_from else 0.01
        h = {"step": s, "lr": lr, "loss": 1.0}
        if s in at:
            h[column] = at[s]
        out.append(h)
    return out


def test_final_below_best_fails_even_when_the_last_fifth_held_its_best():
    # mbnet/extra_data's shape: the scored final weights 0.4 dB below the plateau; the first
    # test (best of the last fifth) passed this. The best is a level (the mean of 3 points,
    # here 700-900 around step 800), the final weights are judged by their own value
    v = [15.0, 17.0, 18.5, 19.2, 19.5, 19.6, 19.62, 19.65, 19.66, 19.26]
    c = C.judge_final(STEPS, v, tol=0.1)
    assert c.ok is False and "worse than the best" in c.reason and c.best_step == 800
    assert c.best == pytest.approx((19.62 + 19.65 + 19.66) / 3)
    assert c.drop == pytest.approx(c.best - 19.26) and c.value == pytest.approx(19.26)


def test_still_climbing_fails():
    v = [15.0, 16.0, 17.0, 18.0, 19.0, 19.5, 19.8, 20.0, 20.1, 20.25]
    c = C.judge_final(STEPS, v, tol=0.1)
    assert c.ok is False and "still improving" in c.reason
    # levels: the means of the curve at 800, 700, 600 and at 1000, 900, 800
    assert c.start == pytest.approx((20.0 + 19.8 + 19.5) / 3)
    assert c.gain == pytest.approx((20.25 + 20.1 + 20.0) / 3 - c.start)


def test_a_failing_reason_prints_the_gain_and_the_tolerance_apart():
    # the last fifth gains 0.35 dB; a tol 0.002 dB under it reads the same at 2 decimals
    v = [15.0, 16.0, 17.0, 18.0, 19.0, 19.5, 19.8, 20.0, 20.1, 20.25]
    c = C.judge_final(STEPS, v, tol=0.348)
    assert c.ok is False
    assert c.reason.endswith("gained 0.350 dB (> tol 0.348 dB)")
    assert C.judge_final(STEPS, v, tol=0.1).reason.endswith("gained 0.35 dB (> tol 0.10 dB)")


def test_flat_with_noise_within_tol_passes():
    # after the decay (step 500) the curve alternates by 0.06 dB: tol = TOL_SDS sd of the
    # differences between the points after the decay, the final one left out (600-900)
    v = [15.0, 17.0, 18.5, 19.2, 19.50, 19.56, 19.50, 19.56, 19.50, 19.56]
    c = C.from_history(_history(v, decay_from=500))
    diffs = [-0.06, 0.06, -0.06]
    mean = sum(diffs) / 3
    sd = math.sqrt(sum((d - mean) ** 2 for d in diffs) / 2)
    assert c.converged is True and c.tol == pytest.approx(C.TOL_SDS * sd)
    # the final point (19.56) above the best level (19.54): no drop
    assert c.final_drop == 0.0 and c.tail_gain == pytest.approx(0.0)
    assert c.best == pytest.approx(19.54) and "0.00 dB below the best" in c.reason
    # the same noise with the final point 0.3 dB under the plateau fails
    low = C.from_history(_history(v[:-1] + [19.23], decay_from=500))
    assert low.converged is False and "worse than the best" in low.reason


def test_the_tolerance_comes_from_the_decayed_stretch_only():
    # big jumps while the rate is high do not widen the tolerance; flat after the decay: floor
    v = [15.0, 19.0, 16.0, 19.5, 19.6, 19.6, 19.6, 19.6, 19.6, 19.6]
    tol, sd, n = C.noise_tolerance(STEPS, v, {s: (1.0 if s <= 400 else 0.01) for s in
                                              range(1, 1001)})
    assert (tol, sd, n) == (C.METRICS["val_psnr"].floor, 0.0, 5)  # 500-900, not the final
    # no schedule known: the last fifth (one point before the final one here, so the last
    # MIN_NOISE_POINTS before it: 700-900)
    tol, sd, n = C.noise_tolerance(STEPS, [19, 19, 19, 19, 19, 19, 19, 19.0, 19.2, 19.0])
    assert n == C.MIN_NOISE_POINTS == 3
    assert sd == pytest.approx(math.sqrt(0.02)) and tol == pytest.approx(
        C.TOL_SDS * math.sqrt(0.02))  # the differences 0 and 0.2
    # a final dip does not widen its own tolerance
    dip = C.noise_tolerance(STEPS, [19, 19, 19, 19, 19, 19, 19, 19.0, 19.2, 17.0])
    assert dip[:2] == (tol, sd)


def test_a_curve_that_still_jumps_after_the_decay_is_not_converged():
    v = [15.0, 17.0, 18.5, 19.2, 19.5, 19.9, 19.4, 19.9, 19.4, 19.9]
    c = C.from_history(_history(v, decay_from=500))
    assert c.converged is False and "still jumps" in c.reason and 2 * c.checks[0].sd > 0.3
    # its numbers are kept for the tables (the best level: 19.9, 19.4, 19.9 around 800)
    assert c.best == pytest.approx(19.4 + 0.5 * 2 / 3) and c.final_drop == 0.0


def test_lower_is_better_lc():
    down = [5.0, 3.0, 2.0, 1.0, 0.60, 0.47, 0.47, 0.47, 0.47, 0.47]
    assert C.judge_final(STEPS, down, LC, tol=0.01).ok is True
    still = [5.0, 3.0, 2.0, 1.0, 0.90, 0.80, 0.70, 0.60, 0.50, 0.40]
    c = C.judge_final(STEPS, still, LC, tol=0.01)
    assert c.ok is False and "still improving" in c.reason and c.gain == pytest.approx(0.20)
    worse = [5.0, 3.0, 2.0, 1.0, 0.60, 0.50, 0.40, 0.40, 0.40, 0.47]
    c = C.judge_final(STEPS, worse, LC, tol=0.01)
    assert c.ok is False and c.best == pytest.approx(0.40) and c.drop == pytest.approx(0.07)


def test_model_a_is_judged_on_lc_too():
    psnr = [15.0, 17.0, 18.5, 19.2, 19.5, 19.6, 19.6, 19.6, 19.6, 19.6]
    lc = [5.0, 4.5, 4.0, 3.5, 3.0, 2.5, 2.0, 1.5, 1.0, 0.5]  # PSNR flat, L_c still falling
    hist = _history(psnr, decay_from=500)
    for h, v in zip([hist[s - 1] for s in STEPS], lc):
        h["val_lc"] = v
    c = C.from_history(hist)
    assert c.converged is False and c.reason.startswith("final weights, L_c: still improving")
    # PSNR alone passes; the PSNR figures are the headline whatever decided
    assert C.from_history(hist, metrics=["val_psnr"]).converged is True
    assert c.final == pytest.approx(19.6)
    # a curve recorded before L_c was validated cannot tell, when L_c is asked for
    old = C.from_history(_history(psnr, decay_from=500), metrics=["val_psnr", "val_lc"])
    assert old.converged is None and "L_c is not on the validation curve" in old.reason


def test_ssim_is_judged_only_when_asked_for_the_claims_on_it():
    psnr = [15.0, 17.0, 18.5, 19.2, 19.5, 19.6, 19.6, 19.6, 19.6, 19.6]
    ssim = [0.50, 0.55, 0.60, 0.62, 0.64, 0.66, 0.68, 0.70, 0.72, 0.74]  # still climbing
    hist = _history(psnr, decay_from=500)
    for h, v in zip([hist[s - 1] for s in STEPS], ssim):
        h["val_ssim"] = v
    assert C.from_history(hist).converged is True  # the row's own verdict: PSNR
    assert [c.metric for c in C.from_history(hist).checks] == ["val_psnr"]
    on_ssim = C.from_history(hist, metrics=C.claim_columns("ssim"))
    assert on_ssim.converged is False
    assert on_ssim.reason.startswith("final weights, SSIM: still improving")
    assert C.claim_columns("ssim") == ("val_ssim",)
    assert C.claim_columns("psnr") == ("val_psnr",)
    assert C.claim_columns("score_l2") == () and C.claim_columns("mps") == ()
    # a flat SSIM curve within its floor passes
    for h in hist:
        if "val_ssim" in h:
            h["val_ssim"] = 0.700 + (0.0005 if h["step"] % 200 else 0.0)
    assert C.from_history(hist, metrics=("val_ssim",)).converged is True
    assert C.METRICS["val_ssim"].floor == pytest.approx(0.002)


def test_too_few_points_cannot_tell():
    assert C.plateau_test([1, 2, 3], [1.0, 2.0, 3.0]).converged is None
    nan = float("nan")
    assert C.plateau_test(STEPS, [nan] * 8 + [1.0, 1.0]).converged is None
    assert C.from_history([{"step": 1, "loss": 1.0}]).converged is None


def test_ensemble_members_are_judged():
    # a climb until 600, flat after (decayed from 600)
    v = [15.0, 16.0, 17.0, 18.0, 19.0, 20.0, 20.0, 20.0, 20.0, 20.0]
    hist = _history(v, decay_from=600)
    on_curve = {400: {"val_psnr": 18.02}, 800: {"val_psnr": 19.99}, 900: {"val_psnr": 20.0}}
    ok = C.from_history(hist, members=[400, 800, 900, 1000], member_values=on_curve)
    assert ok.converged is True
    assert [c.what for c in ok.checks] == ["final", "member 400", "member 800", "member 900"]
    # a snapshot mid-climb is what the recipe asks for: its climb is reported, not judged
    mid = ok.checks[1]
    # its level (18.02 with the points at 300 and 200) against the curve's at 320, 220, 120
    assert mid.ok is True and mid.gain == pytest.approx(
        (18.02 + 17.0 + 16.0) / 3 - (17.2 + 16.2 + 15.2) / 3)
    assert mid.drop == pytest.approx(20.0 - 18.02)
    # a member whose own value is off the curve around it (a dip of the weights there) fails
    off = C.from_history(hist, members=[900], member_values={900: {"val_psnr": 19.5}})
    assert off.converged is False and "from the curve there" in off.reason
    # a member the run did not validate (runs from before): cannot tell, the climb is named
    old = C.from_history(hist, members=[400])
    assert old.converged is None and "not validated in this run" in old.reason
    assert "the curve gained 0.80 dB" in old.reason
    # before the first validation point: cannot tell
    early = C.from_history(hist, members=[50], member_values={50: {"val_psnr": 15.0}})
    assert early.converged is None and "before the first validation point" in early.reason
    # the members' training must converge too
    climbing = _history([15.0 + i for i in range(10)], decay_from=600)
    assert C.from_history(climbing, members=[900], member_values={900: {"val_psnr": 23.0}}
                          ).converged is False


def test_a_member_is_judged_against_the_jitter_where_it_sits():
    # 20 points: a climb that zigzags by 0.3 dB until 880, then flat from 960 (decayed there),
    # so the decayed stretch's tolerance is the floor while the points around a member at 500
    # differ by 0.3 dB
    steps = list(range(80, 1601, 80))
    v = [15.0 + 3 * i / 11 + (0.15 if i % 2 else -0.15) for i in range(11)] + [18.0] * 9
    hist = _history(v, decay_from=900, steps=steps)
    tol, _, _ = C.noise_tolerance(steps, v, {h["step"]: h["lr"] for h in hist})
    local, _ = C.local_tolerance(steps, v, 500)
    assert tol == C.METRICS["val_psnr"].floor and local > C.METRICS["val_psnr"].max_tol
    curve = C._interp(list(zip(steps, v)), 500)
    near = C.from_history(hist, members=[500], member_values={500: {"val_psnr": curve - 0.2}})
    assert near.converged is True and "within tol 0.30 dB" in near.checks[1].reason
    # the local tolerance is capped at max_tol (0.3 dB): further off fails whatever the jitter
    far = C.from_history(hist, members=[500], member_values={500: {"val_psnr": curve - 0.45}})
    assert far.converged is False and "(> tol 0.30 dB)" in far.reason
    # where the curve is smooth the floor still holds: 0.1 dB off at 1560 fails
    late = C.from_history(hist, members=[1560], member_values={1560: {"val_psnr": 17.9}})
    assert late.converged is False and "(> tol 0.05 dB)" in late.reason


def test_local_tolerance_takes_the_nearest_points_and_their_trend_out():
    steps = list(range(100, 2100, 100))
    # a steady climb is no jitter; a zigzag is (3 sd of its consecutive differences)
    assert C.local_tolerance(steps, [float(i) for i in range(20)], 450) == (0.05, 0.0)
    zig = [10.0 + (0.3 if i % 2 else 0.0) for i in range(20)]
    tol, sd = C.local_tolerance(steps, zig, 1050)
    nearest = zig[6:15]  # the LOCAL_POINTS = 9 points from 700 to 1500
    assert C.LOCAL_POINTS == 9
    diffs = [b - a for a, b in zip(nearest, nearest[1:])]
    mean = sum(diffs) / len(diffs)
    want = math.sqrt(sum((d - mean) ** 2 for d in diffs) / (len(diffs) - 1))
    assert sd == pytest.approx(want) and tol == pytest.approx(3 * want)
    # only the nearest points: a jump far from the step does not widen it
    far_jump = [10.0] * 19 + [13.0]
    assert C.local_tolerance(steps, far_jump, 300) == (0.05, 0.0)
    assert C.local_tolerance(steps, far_jump, 1900)[0] > 1.0
    # fewer than 3 points: the floor, no sd
    assert C.local_tolerance([100, 200], [10.0, 11.0], 150) == (0.05, None)


def test_a_read_checkpoint_is_judged_as_the_scored_weights():
    # flat at 19.0 around step 400, then a second rise to 20: a snapshot at 400 is fine; a
    # checkpoint read at 400 is 1 dB below what the budget reaches (fails)
    v = [15.0, 18.0, 19.0, 19.0, 20.0, 20.0, 20.0, 20.0, 20.0, 20.0]
    hist = _history(v, decay_from=700)
    member = C.from_history(hist, members=[400], member_values={400: {"val_psnr": 19.0}})
    assert member.converged is True and member.checks[1].drop == pytest.approx(1.0)
    read = C.from_history(hist, read_step=400)
    assert read.converged is False and read.reason.startswith("read 400 weights, PSNR")
    assert "worse than the best" in read.reason and read.final == pytest.approx(19.0)
    assert [c.what for c in read.checks] == ["read 400"]  # the final weights are not scored
    # a read checkpoint still climbing fails even where it is the best so far
    early = C.from_history(_history([15.0 + i for i in range(10)], decay_from=700),
                           read_step=1000 - 1)
    assert early.converged is False
    flat_end = C.from_history(hist, read_step=900)
    assert flat_end.converged is True


def test_to_dict_keeps_the_fields_the_tables_read():
    d = C.plateau_test(STEPS, [18, 19.5, 19.9, 19.95, 19.96, 20, 20, 20, 20, 20]).to_dict()
    assert {"converged", "reason", "best", "best_step", "tail_gain", "final_drop", "tol",
            "checks"} <= set(d)
    assert d["converged"] is True and d["checks"][0]["what"] == "final"
