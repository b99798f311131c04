"""Tests of relight_lib.harness.claims: reading claims, the interval over seeds, the verdicts, the
calibration of the whole procedure on simulated claims, and results/<profile>/claims.csv."""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from relight_lib.harness import claims as C
from relight_lib.harness import results as R

REPO = Path(__file__).resolve().parents[2]
IMAGES = [f"Image{300 + i:03d}" for i in range(45)]
BASE = np.linspace(15.0, 20.0, len(IMAGES))
CLAIM = C.Claim("c1", "new beats old", "table2", "psnr", "new", "old", paper="ltnet")


def _claim_frame(better_values, worse_values, metric="psnr", seeds=(0, 1, 2), images=IMAGES,
                 worse_images=None, better="new", worse="old", worse_seeds=None):
    """Per-image rows of two variants: ``better_values(seed)`` / ``worse_values(seed)`` (or
    fixed arrays) on ``images`` for each seed."""
    rows = []
    for variant, values, ims, ss in ((better, better_values, images, seeds),
                                     (worse, worse_values, worse_images or images,
                                      worse_seeds if worse_seeds is not None else seeds)):
        for seed in ss:
            vals = values(seed) if callable(values) else values
            rows += [{"paper": "ltnet", "table": "table2", "variant": variant, "seed": seed,
                      "image": im, "metric": metric, "value": float(v)}
                     for im, v in zip(ims, vals, strict=True)]
    return pd.DataFrame(rows)


def _offsets(per_seed):
    """A better row whose image mean differs from BASE by ``per_seed[s]`` in seed ``s``."""
    return lambda s: BASE + per_seed[s]


# ------------------------------------------------------------------------------ the interval


def test_t_interval_matches_scipy_on_a_hand_made_case():
    d = [0.30, 0.20, 0.25, 0.15]
    df = _claim_frame(_offsets(d), lambda s: BASE, seeds=(0, 1, 2, 3))
    v = C.claim_verdict(CLAIM, df)
    lo, hi = stats.t.interval(0.95, 3, loc=np.mean(d), scale=stats.sem(d))
    assert v["our_difference"] == pytest.approx(0.225)
    assert (v["ci_low"], v["ci_high"]) == (pytest.approx(lo), pytest.approx(hi))
    assert v["half_width"] == pytest.approx(stats.t.ppf(0.975, 3) * np.std(d, ddof=1) / 2)
    assert v["n_seeds"] == 4 and v["n_images"] == 45 and v["verdict"] == "supported"
    assert "Student-t interval over 4 seed(s) (df 3)" in v["reason"]
    # the example: per-seed differences +0.032, +0.012, +0.026 contain zero
    m, lo, hi, hw = C.t_interval([0.032, 0.012, 0.026])
    assert lo < 0 < hi and hw == pytest.approx(hi - m)
    assert math.isnan(C.t_interval([1.0])[1])


def test_welch_when_the_rows_share_no_seeds_matches_scipy():
    mb, mw = [1.0, 1.2, 1.1], [0.5, 0.9, 0.7, 0.6]
    df = _claim_frame(lambda s: BASE + mb[s], lambda s: BASE + mw[s - 3], seeds=(0, 1, 2),
                      worse_seeds=(3, 4, 5, 6))
    v = C.claim_verdict(CLAIM, df)
    ref = stats.ttest_ind(mb, mw, equal_var=False).confidence_interval(0.95)
    assert v["our_difference"] == pytest.approx(np.mean(mb) - np.mean(mw))
    assert (v["ci_low"], v["ci_high"]) == (pytest.approx(ref.low), pytest.approx(ref.high))
    assert "Welch" in v["reason"] and v["n_seeds"] == 3 and v["verdict"] == "supported"
    # disjoint images in the same seeds are not paired either
    other = [f"Image{400 + i}" for i in range(30)]
    df = _claim_frame(lambda s: BASE + 2.0 + 0.1 * s, lambda s: BASE[:30], worse_images=other)
    v = C.claim_verdict(CLAIM, df)
    assert "Welch" in v["reason"] and v["n_images"] == 75 and v["n_seeds"] == 3
    assert v["our_difference"] == pytest.approx(BASE.mean() + 2.1 - BASE[:30].mean())


def test_pairs_with_a_nan_are_dropped_on_both_sides():
    worse = BASE.copy()
    worse[3] = np.nan
    df = _claim_frame(_offsets([1.0, 1.0, 1.0]), lambda s: worse)
    v = C.claim_verdict(CLAIM, df)
    assert "132 image pair(s)" in v["reason"] and v["n_images"] == 44
    assert v["our_difference"] == pytest.approx(1.0) and v["ci_low"] == pytest.approx(1.0)
    assert v["half_width"] == pytest.approx(0.0)


def test_paired_on_the_common_seeds_when_one_row_has_more():
    d = [0.2, 0.3, 0.25, 9.0, 9.0]
    df = _claim_frame(_offsets(d), lambda s: BASE, seeds=(0, 1, 2, 3, 4),
                      worse_seeds=(0, 1, 2))
    v = C.claim_verdict(CLAIM, df)
    assert v["n_seeds"] == 3 and v["our_difference"] == pytest.approx(0.25)
    assert "seed(s) [3, 4] of one row only left out" in v["reason"]


@pytest.mark.parametrize("better_seeds, worse_seeds, n", [
    ((0,), (0,), 1), ((0, 1), (0, 1), 2), ((0, 1, 2), (5, 6), 2)])
def test_fewer_than_three_seeds_is_not_testable_with_the_count(better_seeds, worse_seeds, n):
    df = _claim_frame(lambda s: BASE + 5.0 + 0.1 * s, lambda s: BASE, seeds=better_seeds,
                      worse_seeds=worse_seeds)
    v = C.claim_verdict(CLAIM, df)
    assert v["verdict"] == "not testable here"
    assert v["reason"].startswith(f"{n} seed(s): a verdict needs at least 3")
    assert v["n_seeds"] == n and v["our_difference"] > 4.9  # the difference is still shown


# ------------------------------------------------------------------------------ verdicts


@pytest.mark.parametrize("per_seed, reported, verdict", [
    ([0.9, 1.0, 1.1], 0.5, "supported"),
    ([-0.9, -1.0, -1.1], 0.5, "contradicted"),
    ([-0.2, 0.0, 0.2], 1.0, "smaller than reported"),   # interval about [-0.5, 0.5]
    ([-0.2, 0.0, 0.2], 0.3, "inconclusive"),            # ... reaches the paper's 0.3
    ([-0.2, 0.0, 0.2], None, "inconclusive"),           # no reported number
    ([-0.2, 0.0, 0.2], -0.4, "inconclusive"),           # the paper's own numbers disagree
])
def test_the_four_verdicts(per_seed, reported, verdict):
    claim = C.Claim("c", "new beats old", "table2", "psnr", "new", "old",
                    reported_difference=reported)
    v = C.claim_verdict(claim, _claim_frame(_offsets(per_seed), lambda s: BASE))
    assert v["verdict"] == verdict
    assert v["ci_low"] < v["our_difference"] < v["ci_high"]
    assert C.VERDICTS == ("supported", "smaller than reported", "inconclusive", "contradicted",
                          "not testable here")


def test_verdict_of_needs_a_finite_interval_and_a_margin():
    with pytest.raises(ValueError, match="finite"):
        C.verdict_of(float("nan"), 1.0)
    with pytest.raises(ValueError, match="margin"):
        C.verdict_of(-1.0, 1.0, expect="no_difference")


def test_lower_is_better_orientation():
    claim = C.Claim("c", "new lowers LPIPS", "table2", "lpips", "new", "old")
    assert claim.higher_is_better is False
    df = _claim_frame(lambda s: 0.25 + 0.01 * np.sin(np.arange(45) + s), lambda s: 0.30 + 0 * BASE,
                      metric="lpips")
    v = C.claim_verdict(claim, df)
    assert v["verdict"] == "supported" and v["our_difference"] > 0.04 and v["ci_low"] > 0
    rep = pd.DataFrame({"table": "table2", "variant": ["new", "old"], "split": "validation",
                        "metric": "lpips", "value": [0.27, 0.28]})
    assert C.reported_difference(claim, rep) == pytest.approx(0.01)
    assert C.Claim("c", "", "t", "lpips", "a", "b", higher_is_better=True).higher_is_better


@pytest.mark.parametrize("per_seed, verdict", [
    ([-0.1, 0.0, 0.1], "supported"),        # about [-0.25, 0.25], inside ±0.5
    ([0.8, 1.0, 1.2], "contradicted"),      # excludes 0
    ([-0.4, 0.0, 0.4], "inconclusive"),     # about [-1.0, 1.0]: contains 0, leaves the margin
    ([0.1, 0.2, 0.15], "supported"),        # resolved but smaller than the margin
])
def test_no_difference_claims(per_seed, verdict):
    claim = C.Claim("c", "new and old do not differ", "table2", "psnr", "new", "old",
                    expect="no_difference", margin=0.5, reported_difference=0.55)
    v = C.claim_verdict(claim, _claim_frame(_offsets(per_seed), lambda s: BASE))
    assert v["verdict"] == verdict and v["margin"] == 0.5
    assert v["reason"].startswith("no difference if inside ±0.5")


@pytest.mark.parametrize("extra, match", [
    ("expect: no_difference", "needs a positive margin"),
    ("expect: no_difference, margin: -1", "needs a positive margin"),
    ("expect: no_difference, margin: wide", "needs a positive margin"),
    ("margin: 0.5", "a margin belongs to expect: no_difference claims only"),
    ("expect: equal", "expect must be one of"),
])
def test_no_difference_claims_are_checked_when_read(tmp_path, extra, match):
    path = _yaml(tmp_path, "- {id: a, text: t, table: table1, metric: psnr, better: x, "
                           f"worse: y, {extra}}}\n")
    with pytest.raises(ValueError, match=match) as err:
        C.load_claims(path)
    assert str(path) in str(err.value) and "claim #1 ('a')" in str(err.value)


# ------------------------------------------------------------------------------ splits


def test_claims_never_mix_splits():
    val = _claim_frame(_offsets([5.0, 5.0, 5.0]), lambda s: BASE).assign(split="validation")
    test = _claim_frame(_offsets([-1.0, -1.1, -0.9]), lambda s: BASE).assign(split="test")
    v = C.claim_verdict(CLAIM, pd.concat([val, test]))
    assert v["split"] == "test" and v["verdict"] == "contradicted"  # the test split first
    assert v["our_difference"] == pytest.approx(-1.0)
    v = C.claim_verdict(CLAIM, pd.concat([val, test]), split="validation")
    assert v["split"] == "validation" and v["our_difference"] == pytest.approx(5.0)
    assert C.claim_verdict(CLAIM, val)["split"] == "validation"
    # one row on validation only, the other on test only: no verdict
    mixed = pd.concat([val[val["variant"] == "new"], test[test["variant"] == "old"]])
    v = C.claim_verdict(CLAIM, mixed)
    assert v["verdict"] == "not testable here"
    assert v["reason"] == ("the rows were evaluated on different splits ('new': validation; "
                           "'old': test)")


# ------------------------------------------------------------------------------ calibration


def _simulated_verdicts(rng, n_claims, n_seeds, effect_in_se=0.0, n_images=45):
    """Verdicts of ``n_claims`` simulated claims with ``n_seeds`` seeds each, through the real
    :func:`claim_verdict`: per seed a training offset (sd 0.10-0.15 dB) and per image a noise
    (sd 0.05-0.30 dB) on the difference, the sizes measured on the quick profile's rows; the
    true difference is ``effect_in_se`` standard errors of the per-seed mean (0: null)."""
    seeds = np.repeat(np.arange(n_seeds), n_images)
    images = np.tile(np.array(IMAGES[:n_images], dtype=object), n_seeds)
    frame = pd.DataFrame({
        "variant": np.r_[np.full(seeds.size, "new"), np.full(seeds.size, "old")],
        "seed": np.r_[seeds, seeds], "image": np.r_[images, images], "metric": "psnr"})
    out = []
    for _ in range(n_claims):
        seed_sd, image_sd = rng.uniform(0.10, 0.15), rng.uniform(0.05, 0.30)
        se = math.sqrt(seed_sd ** 2 + image_sd ** 2 / n_images) / math.sqrt(n_seeds)
        worse = np.tile(rng.normal(17.0, 1.0, n_images), n_seeds) \
            + np.repeat(rng.normal(0, 0.2, n_seeds), n_images)  # shared by both rows: cancels
        better = (worse + effect_in_se * se + np.repeat(rng.normal(0, seed_sd, n_seeds), n_images)
                  + rng.normal(0, image_sd, seeds.size))
        out.append(C.claim_verdict(CLAIM, frame.assign(value=np.r_[better, worse]))["verdict"])
    return pd.Series(out)


@pytest.mark.parametrize("n_seeds", [3, 5])
def test_null_claims_get_a_verdict_about_5_percent_of_the_time(n_seeds):
    # 1500 claims: the binomial se of a 5 % rate is 0.56 %, so [2.5 %, 7.5 %] is +-4.4 se wide
    verdicts = _simulated_verdicts(np.random.default_rng(2026 + n_seeds), 1500, n_seeds)
    false = verdicts.isin(["supported", "contradicted"]).mean()
    assert 0.025 <= false <= 0.075, false
    assert verdicts.isin(["supported", "contradicted", "inconclusive"]).all()


@pytest.mark.parametrize("n_seeds, effect, at_least", [(3, 7.0, 0.80), (5, 4.5, 0.80)])
def test_planted_effects_are_found(n_seeds, effect, at_least):
    """A calibrated 95 % interval over n seeds finds an effect of k standard errors with the
    t-test's power P(T' > t_{0.975, n-1}), T' noncentral t(n-1, k): at 3 standard errors that is
    only 39 % at 3 seeds and 62 % at 5 (80 % needs about 20 seeds). So this checks that the
    interval is not conservative at 3 SE (the rate matches that power), and that an effect the
    design is sized for (power about 91 %: 7 SE at 3 seeds, 4.5 SE at 5) is found >= 80 % of
    the time."""
    rng = np.random.default_rng(7 + n_seeds)
    t_crit = stats.t.ppf(0.975, n_seeds - 1)
    for k in (3.0, effect):
        found = (_simulated_verdicts(rng, 600, n_seeds, effect_in_se=k) == "supported").mean()
        power = stats.nct.sf(t_crit, n_seeds - 1, k)
        assert abs(found - power) < 4 * math.sqrt(power * (1 - power) / 600), (k, found, power)
    assert found >= at_least


# ------------------------------------------------------------------------------ missing data


def _write(root, *, variant="i_d", seed=0, per_image=None, **kw):
    args = {"paper": "ltnet", "table": "table2", "variant": variant, "profile": "smoke",
            "seed": seed, "dataset": "SynVIDIT smoke", "split": "validation",
            "per_image": per_image, "params": {"epochs": 1}}
    args.update(kw)
    return R.write_run(root, **args)


def _per_image(psnr, lpips=None):
    rows = [{"image": f"img{i}", "metric": "psnr", "value": v} for i, v in enumerate(psnr)]
    if lpips is not None:
        rows += [{"image": f"img{i}", "metric": "lpips", "value": v} for i, v in enumerate(lpips)]
    return pd.DataFrame(rows)


def test_not_testable_missing_row_and_all_nan(tmp_path):
    df = _claim_frame(lambda s: BASE + 1, lambda s: BASE)
    v = C.claim_verdict(C.Claim("c", "x", "table2", "psnr", "new", "absent"), df)
    assert v["verdict"] == "not testable here" and "'absent'" in v["reason"]
    assert math.isnan(v["our_difference"]) and math.isnan(v["ci_low"])

    # LPIPS NaN everywhere; the reason comes from the runs' notes (metrics.csv)
    for variant in ("new", "old"):
        for seed in (0, 1, 2):
            _write(tmp_path, variant=variant, seed=seed,
                   per_image=_per_image([17.0, 18.0 + seed], lpips=[float("nan")] * 2),
                   notes={"lpips": "AlexNet weights not available"})
    per_image = R.load_per_image(tmp_path, "smoke", "ltnet", "table2")
    notes = R.load_results(tmp_path, "smoke", "ltnet", "table2")
    claim = C.Claim("c", "new lowers LPIPS", "table2", "lpips", "new", "old", paper="ltnet")
    v = C.claim_verdict(claim, per_image, notes=notes)
    assert v["verdict"] == "not testable here"
    assert v["reason"] == "lpips not computed: AlexNet weights not available"
    v = C.claim_verdict(claim, per_image, notes={"lpips": "AlexNet weights not available"})
    assert v["reason"] == "lpips not computed: AlexNet weights not available"
    v = C.claim_verdict(claim, per_image, notes={"new": {"lpips": "no weights"}})
    assert v["reason"] == "lpips not computed: new: no weights; old: no reason recorded"
    v = C.claim_verdict(claim, per_image)
    assert v["reason"] == "lpips not computed: no reason recorded"
    t = C.claims_table([claim, CLAIM], per_image, notes=notes)
    assert list(t.columns) == list(C.CLAIM_COLUMNS)
    assert list(t["verdict"]) == ["not testable here", "inconclusive"]  # equal psnr
    assert list(t["split"]) == ["validation", "validation"]
    # without a split column the runs' metrics.csv (the notes) names the split
    assert C.claim_verdict(CLAIM, per_image.drop(columns="split"), notes=notes)["split"] \
        == "validation"


def test_claim_on_a_row_not_run_here_gives_its_reason():
    df = _claim_frame(BASE, BASE)
    df = df[df["variant"] == "new"]  # "old" was written as not run here: no per-image values
    notes = {"old": {"psnr": "not run here: lpips loss unavailable"}}
    v = C.claim_verdict(CLAIM, df, notes=notes)
    assert v["verdict"] == "not testable here"
    assert v["reason"] == "variant 'old': not run here: lpips loss unavailable"
    v = C.claim_verdict(CLAIM, df)
    assert v["reason"] == "no results for variant 'old' in table2"


def _supported_frame():
    rng = np.random.default_rng(3)
    noise = {s: rng.normal(0, 0.1, len(IMAGES)) for s in range(3)}
    return _claim_frame(lambda s: BASE + 1.0 + noise[s], lambda s: BASE)


def test_claims_table_a_side_not_converged_is_not_testable():
    df = _supported_frame()
    plain = C.claims_table([CLAIM], df)
    assert plain["verdict"].tolist() == ["supported"]
    gated = C.claims_table([CLAIM], df,
                           not_converged={("ltnet", "table2", "old"): "still improving"})
    assert gated["verdict"].tolist() == ["not testable here"]
    assert gated["reason"].iloc[0] == "not converged: old: still improving"
    # the difference and its interval are still shown
    assert gated["our_difference"].iloc[0] == pytest.approx(plain["our_difference"].iloc[0])
    assert gated["half_width"].iloc[0] == pytest.approx(plain["half_width"].iloc[0])
    # a row of another table with the same slug does not gate the claim
    other = C.claims_table([CLAIM], df,
                           not_converged={("ltnet", "table3", "old"): "still improving"})
    assert other["verdict"].tolist() == ["supported"]


def test_claims_table_a_claims_own_metric_decides_over_the_rows_verdict():
    """A ``(paper, table, variant, metric)`` key is the row's test on the claim's metric: it
    decides for claims on that metric (None: passed), whatever the row's own verdict says."""
    df = _supported_frame()
    side = ("ltnet", "table2", "old")
    passed = C.claims_table([CLAIM], df, not_converged={side: "PSNR fell", (*side, "psnr"): None})
    assert passed["verdict"].tolist() == ["supported"]
    failed = C.claims_table([CLAIM], df, not_converged={(*side, "psnr"): "PSNR still climbs"})
    assert failed["reason"].iloc[0] == "not converged: old: PSNR still climbs"
    # another metric's test does not decide: the row's verdict does
    other = C.claims_table([CLAIM], df, not_converged={side: "row", (*side, "ssim"): "ssim"})
    assert other["reason"].iloc[0] == "not converged: old: row"


def test_claims_table_judges_a_score_claim_on_the_psnr_curve():
    """Score_l2 is a ratio of MSEs of the relit images: the PSNR curve decides for it, not the
    row's verdict (model A's L_c), and a metric with neither keeps the row's verdict."""
    score = C.Claim("s", "A beats the identity", "table2", "score_l2", "new", "old", paper="ltnet")
    df = _supported_frame().assign(metric="score_l2")
    side = ("ltnet", "table2", "old")
    lc_jumps = {side: "L_c jumps", (*side, "psnr"): None}
    assert C.claims_table([score], df, not_converged=lc_jumps)["verdict"].tolist() == [
        "supported"]
    psnr_climbs = {side: "L_c jumps", (*side, "psnr"): "PSNR still climbs"}
    assert C.claims_table([score], df, not_converged=psnr_climbs)["reason"].tolist() == [
        "not converged: old: PSNR still climbs"]
    light = C.Claim("l", "t", "table2", "light_loss", "new", "old", paper="ltnet")
    gated = C.claims_table([light], df.assign(metric="light_loss"), not_converged=lc_jumps)
    assert gated["reason"].tolist() == ["not converged: old: L_c jumps"]


def test_claims_table_trained_by_row_not_converged_is_not_testable(tmp_path):
    path = _yaml(tmp_path, "- {id: a, text: t, paper: ltnet, table: table2, metric: psnr, "
                           "better: new, worse: old, trained_by: table1/trainer, "
                           "reported_difference: 1.0}\n")
    claim, = C.load_claims(path)
    assert claim.trained_by == ("table1/trainer",)
    assert claim.trained_rows[-1] == ("ltnet", "table1", "trainer")
    assert C.convergence_sources([claim]) == [("ltnet", "table1"), ("ltnet", "table2")]
    df = _supported_frame()
    gated = C.claims_table([claim], df,
                           not_converged={("ltnet", "table1", "trainer"): "still improving"})
    assert gated["verdict"].tolist() == ["not testable here"]
    assert "trainer: still improving" in gated["reason"].iloc[0]
    assert C.claims_table([claim], df)["verdict"].tolist() == ["supported"]


def _with_budget_checks(df, better_gain, worse_gain, seed=0):
    """``df`` plus the budget checks ``new__x2`` and ``old__x2`` of one seed: each row's values
    of that seed raised by its gain."""
    extra = []
    for variant, gain in (("new", better_gain), ("old", worse_gain)):
        one = df[(df["variant"] == variant) & (df["seed"] == seed)]
        extra.append(one.assign(variant=f"{variant}__x2", value=one["value"] + gain))
    return pd.concat([df, *extra], ignore_index=True)


def test_budget_check_change_reads_one_seeds_difference_at_both_budgets():
    df = _supported_frame()
    assert C.budget_check_change(CLAIM, df) is None  # no checks: no pair
    # only one side checked: no pair either
    only_new = _with_budget_checks(df, 0.4, 0.0)
    assert C.budget_check_change(CLAIM, only_new[only_new["variant"] != "old__x2"]) is None
    check = C.budget_check_change(CLAIM, _with_budget_checks(df, 0.4, 0.1))
    base = C.seed_difference(CLAIM, df, 0)
    assert base == pytest.approx(df[(df.variant == "new") & (df.seed == 0)]["value"].mean()
                                 - df[(df.variant == "old") & (df.seed == 0)]["value"].mean())
    assert check == {"seed": 0, "scale": 2.0, "at_budget": pytest.approx(base),
                     "longer": pytest.approx(base + 0.3), "change": pytest.approx(0.3)}
    # a lower-is-better metric is not turned: the change is as measured
    lp = C.Claim("c2", "t", "table2", "lpips", "new", "old", paper="ltnet")
    lp_df = _with_budget_checks(df.assign(metric="lpips"), -0.2, 0.0)
    assert C.budget_check_change(lp, lp_df)["change"] == pytest.approx(-0.2)
    # a seed missing from one side's check is no pair
    assert C.seed_difference(CLAIM, df, 0, ("new__x2", "old__x2")) is None


def test_claims_table_withholds_a_verdict_the_budget_check_moves_by_a_half_width():
    df = _supported_frame()
    plain = C.claims_table([CLAIM], df).iloc[0]
    assert plain["verdict"] == "supported"
    hw = plain["half_width"]
    # both rows gained alike: the difference moved by a fraction of the half-width
    kept = C.claims_table([CLAIM], _with_budget_checks(df, 0.5, 0.5 - 0.5 * hw)).iloc[0]
    assert kept["verdict"] == "supported" and kept["reason"] == plain["reason"]
    # the difference moved by more than the half-width, either way: no verdict
    for gain in (1.5 * hw, -1.5 * hw):
        moved = C.claims_table([CLAIM], _with_budget_checks(df, gain, 0.0)).iloc[0]
        assert moved["verdict"] == "not testable here"
        assert moved["reason"].startswith("budget-sensitive: trained 2 times as long, seed 0's")
        assert f"{gain:+.4g}" in moved["reason"]
        # the interval is still shown, as for a claim whose rows did not converge
        assert moved["our_difference"] == pytest.approx(plain["our_difference"])
    # the checks themselves are never a side of the interval
    assert kept["n_seeds"] == plain["n_seeds"] == 3


def test_a_budget_check_trained_before_its_rows_budget_changed_is_not_used():
    """A check of 3,200 steps next to a row now trained for 3,200 measures nothing about the
    row: the rule leaves it out; a check at twice the row's steps is used."""
    df = _supported_frame()
    moved = _with_budget_checks(df, 1.0, 0.0)  # would withhold the verdict
    side_new, side_old = ("ltnet", "table2", "new"), ("ltnet", "table2", "old")

    def budgets(row_steps, check_steps):
        return {side_new: {s: row_steps for s in range(3)},
                side_old: {s: row_steps for s in range(3)},
                ("ltnet", "table2", "new__x2"): {0: check_steps},
                ("ltnet", "table2", "old__x2"): {0: check_steps}}

    assert C.budget_check_change(CLAIM, moved, budgets=budgets(1600, 3200)) is not None
    assert C.budget_check_change(CLAIM, moved, budgets=budgets(3200, 3200)) is None
    assert C.budget_check_change(CLAIM, moved, budgets={}) is not None  # counts unknown
    stale = C.claims_table([CLAIM], moved, budgets=budgets(3200, 3200)).iloc[0]
    assert stale["verdict"] == "supported"
    current = C.claims_table([CLAIM], moved, budgets=budgets(1600, 3200)).iloc[0]
    assert current["reason"].startswith("budget-sensitive")


def test_claims_table_withholds_a_verdict_over_seeds_of_different_budgets():
    """A row part-way through a rerun at a new budget: its interval would mix two budgets."""
    df = _supported_frame()
    side = ("ltnet", "table2", "old")
    mixed = C.claims_table([CLAIM], df, budgets={side: {0: 3200, 1: 1600, 2: 1600}}).iloc[0]
    assert mixed["verdict"] == "not testable here"
    assert mixed["reason"] == ("seeds trained at different budgets: old: 1,600 steps "
                               "(seeds 1, 2), 3,200 steps (seed 0) (rerun the row at one budget)")
    assert mixed["our_difference"] == pytest.approx(C.claims_table([CLAIM], df)
                                                    .iloc[0]["our_difference"])
    same = C.claims_table([CLAIM], df, budgets={side: {0: 3200, 1: 3200, 2: None}}).iloc[0]
    assert same["verdict"] == "supported"


# ------------------------------------------------------------------------------ load_claims


def _yaml(tmp_path, text, name="claims.yaml"):
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


GOOD = """
- id: normals_raise_mps
  text: Adding normal maps raises MPS.
  table: table2
  metric: mps
  better: i_d_n
  worse: i_d
- id: normals_lower_lpips
  text: Adding normal maps lowers LPIPS.
  table: table2
  metric: lpips
  better: i_d_n
  worse: i_d
  note: small difference
- id: given
  text: given difference
  table: table2
  metric: psnr
  better: i_d_n
  worse: i_d
  reported_difference: 0.5
"""


def test_load_claims_fills_reported_differences(tmp_path):
    claims = C.load_claims(_yaml(tmp_path, GOOD), paper="ltnet")
    assert [c.id for c in claims] == ["normals_raise_mps", "normals_lower_lpips", "given"]
    assert claims[0].reported_difference == pytest.approx(0.6855 - 0.6756)
    assert claims[1].higher_is_better is False
    assert claims[1].reported_difference == pytest.approx(0.2795 - 0.2780)
    assert claims[1].note == "small difference"
    assert claims[2].reported_difference == 0.5
    assert claims[0].expect == "difference" and claims[0].margin is None
    # without a paper there is nothing to look the difference up in
    assert C.load_claims(_yaml(tmp_path, GOOD))[0].reported_difference is None


@pytest.mark.parametrize("text, match", [
    (("- id: a\n  text: t\n  table: table2\n  metric: psnr\n  better: x\n  worse: y\n"
     "  colour: red\n"),
     r"claim #1 \('a'\): unknown keys \['colour'\]"),
    ("- id: a\n  text: t\n  table: table2\n  metric: psnr\n  better: x\n",
     r"claim #1 \('a'\): missing keys \['worse'\]"),
    ("id: a\n", "expected a YAML list"),
    ("- just a string\n", "claim #1 is not a mapping"),
    (("- {id: a, text: t, table: table2, metric: psnr, better: x, worse: y}\n"
     "- {id: a, text: t, table: table2, metric: psnr, better: x, worse: z}\n"),
     r"claim #2 \('a'\): duplicate id"),
    (("- {id: a, text: t, table: table2, metric: psnr, better: x, worse: y, "
     "higher_is_better: maybe}\n"), "higher_is_better"),
    ("- {id: a, text: t, table: table2, metric: psnr, better: x, worse: x}\n", "same variant"),
    ("- {id: a, text: t, table: table2, metric: psnr, better: x, worse: y, trained_by: 3}\n",
     "trained_by must be a row"),
    ("- {id: a, text: t, table: table2, metric: psnr, better: x, worse: y, trained_by: a/b/c/d}\n",
     "neither a variant slug"),
])
def test_load_claims_errors_name_file_and_entry(tmp_path, text, match):
    path = _yaml(tmp_path, text)
    with pytest.raises(ValueError, match=match) as err:
        C.load_claims(path)
    assert str(path) in str(err.value)


def test_claim_across_papers():
    # LTNet's "better than MSR-Net": a side may name another paper's row, paper/table/variant
    ours = _claim_frame(lambda s: BASE + 1.0 + 0.01 * s, lambda s: BASE,
                        better="ltnet_small_ensemble")
    ours = ours[ours["variant"] == "ltnet_small_ensemble"].assign(table="table1")
    msr = _claim_frame(lambda s: BASE, lambda s: BASE, better="stacked_dmshn")
    msr = msr[msr["variant"] == "stacked_dmshn"].assign(paper="msrnet", table="table1")
    # a same-named row of LTNet's own table must not be mistaken for MSR-Net's
    decoy = msr.assign(paper="ltnet", value=msr["value"] + 5.0)
    per_image = pd.concat([ours, msr, decoy], ignore_index=True)
    claim = C.Claim("x", "LTNet beats MSR-Net", "table1", "psnr", "ltnet_small_ensemble",
                    "msrnet/table1/stacked_dmshn", paper="ltnet")
    assert claim.sides == (("ltnet", "table1", "ltnet_small_ensemble"),
                           ("msrnet", "table1", "stacked_dmshn"))
    v = C.claim_verdict(claim, per_image)
    assert v["verdict"] == "supported" and v["our_difference"] == pytest.approx(1.01)
    assert "paired" in v["reason"] and v["paper"] == "ltnet"
    # ... and it can fail: MSR-Net ahead
    v = C.claim_verdict(claim, per_image.assign(
        value=np.where(per_image["paper"] == "msrnet", per_image["value"] + 2.0,
                       per_image["value"])))
    assert v["verdict"] == "contradicted"
    # the other paper's run is missing: not testable, and the reason says where it looked
    v = C.claim_verdict(claim, pd.concat([ours, decoy]))
    assert v["verdict"] == "not testable here"
    assert v["reason"] == "no results for variant 'stacked_dmshn' in table1 of msrnet"
    notes = pd.DataFrame({"paper": "msrnet", "table": "table1", "variant": "stacked_dmshn",
                          "metric": "psnr", "note": "not run here: no data"}, index=[0])
    v = C.claim_verdict(claim, pd.concat([ours, decoy]), notes=notes)
    assert v["reason"] == "variant 'msrnet/table1/stacked_dmshn': not run here: no data"
    assert C.claim_sources([claim, CLAIM]) == [("ltnet", "table1"), ("ltnet", "table2"),
                                              ("msrnet", "table1")]


def test_load_claims_across_papers_reads_both_reported_files(tmp_path):
    text = ("- {id: x, text: t, table: table1, metric: psnr, split: validation,\n"
            "   better: ltnet_large_no_dehaze, worse: msrnet/table1/stacked_dmshn}\n"
            "- {id: y, text: t, table: table1, metric: lpips, split: validation,\n"
            "   better: ltnet_large_no_dehaze, worse: msrnet/table1/stacked_dmshn}\n")
    x, y = C.load_claims(_yaml(tmp_path, text), paper="ltnet")
    # LTNet Table 1 LTNet† without dehaze 19.1853 vs MSR-Net Table 1 Stacked DMSHN 17.89
    assert x.reported_difference == pytest.approx(19.1853 - 17.89)
    assert y.sides[1] == ("msrnet", "table1", "stacked_dmshn")
    assert y.reported_difference == pytest.approx(0.4088 - 0.2470)  # lower is better
    # the reported frame given by the caller is used as is
    rep = pd.DataFrame({"paper": ["ltnet", "msrnet"], "table": "table1", "split": "validation",
                        "variant": ["ltnet_large_no_dehaze", "stacked_dmshn"],
                        "metric": "psnr", "value": [18.0, 17.0]})
    assert C.load_claims(_yaml(tmp_path, text), paper="ltnet",
                         reported=rep)[0].reported_difference == pytest.approx(1.0)


@pytest.mark.parametrize("text, match", [
    ("- {id: a, text: t, table: table1, metric: psnr, better: x, worse: msrnet/y}\n",
     "neither a variant slug nor 'paper/table/variant'"),
    ("- {id: a, text: t, table: table1, metric: psnr, better: x, worse: m//y}\n",
     "neither a variant slug"),
    ("- {id: a, text: t, table: table1, metric: psnr, better: x, worse: ltnet/table1/x}\n",
     "same variant"),
])
def test_load_claims_cross_paper_errors(tmp_path, text, match):
    with pytest.raises(ValueError, match=match):
        C.load_claims(_yaml(tmp_path, text), paper="ltnet")
    with pytest.raises(ValueError, match="paper"):
        C.load_claims(_yaml(tmp_path, "- {id: a, text: t, table: table1, metric: psnr, "
                                      "better: x, worse: msrnet/table1/y}\n"))


def test_every_committed_claims_file_loads():
    for path in sorted((REPO / "notebooks").glob("*/claims.yaml")):
        claims = C.load_claims(path, paper=path.parent.name)
        assert claims, path
        for c in claims:
            assert c.expect != "no_difference" or c.note, f"{path}: {c.id} needs its margin's why"


# ------------------------------------------------------------------------------ claims.csv


def test_write_claims_csv(tmp_path):
    results_root, notebooks = tmp_path / "results", tmp_path / "notebooks"
    for variant, offset in (("new", 1.0), ("old", 0.0)):
        for seed in (0, 1, 2):
            _write(results_root, variant=variant, seed=seed, profile="quick", split="test",
                   per_image=_per_image(list(BASE[:5] + offset + 0.1 * seed * (variant == "new"))))
    _yaml(notebooks, "- {id: a, text: new beats old, table: table2, metric: psnr, better: new, "
                     "worse: old, reported_difference: 0.5}\n"
                     "- {id: b, text: old beats new, table: table2, metric: psnr, better: old, "
                     "worse: new}\n", name="ltnet/claims.yaml")
    path = C.write_claims_csv("quick", results_root, notebooks, papers=["ltnet"])
    assert path == results_root / "quick" / "claims.csv"
    text = path.read_text()
    assert text.splitlines()[0] == ("paper,id,text,metric,reported_difference,our_difference,"
                                    "ci_low,ci_high,half_width,n_seeds,split,verdict,reason")
    df = pd.read_csv(path)
    assert tuple(df.columns) == C.CSV_COLUMNS
    assert df["id"].tolist() == ["a", "b"] and set(df["paper"]) == {"ltnet"}
    assert df["verdict"].tolist() == ["supported", "contradicted"]
    assert df.loc[0, "our_difference"] == pytest.approx(1.1, abs=1e-5)
    assert df.loc[0, "n_seeds"] == 3 and df.loc[0, "split"] == "test"
    assert [p.name for p in path.parent.iterdir() if p.name.startswith(".")] == []
    # the runs are still found as runs: claims.csv is not mistaken for one
    assert len(R.load_results(results_root, "quick")) == 6


def test_quick_claims_are_read_on_the_test_split_only(tmp_path):
    """Rows read on validation (the split recipes are tuned on) give no verdict at quick."""
    results_root, notebooks = tmp_path / "results", tmp_path / "notebooks"
    for variant, offset in (("new", 1.0), ("old", 0.0)):
        for seed in (0, 1, 2):
            _write(results_root, variant=variant, seed=seed, profile="quick",
                   per_image=_per_image(list(BASE[:5] + offset + 0.1 * seed * (variant == "new"))))
    _yaml(notebooks, "- {id: a, text: new beats old, table: table2, metric: psnr, better: new, "
                     "worse: old}\n", name="ltnet/claims.yaml")
    t = C.paper_claims("ltnet", "quick", results_root, notebooks)
    assert t["verdict"].tolist() == ["not testable here"]
    assert "read on the validation split, not on the test split" in t.loc[0, "reason"]
    # the paper profile reads its tables on validation (VIDIT's test ground truth is private)
    for variant, offset in (("new", 1.0), ("old", 0.0)):
        for seed in (0, 1, 2):
            _write(results_root, variant=variant, seed=seed, profile="paper",
                   per_image=_per_image(list(BASE[:5] + offset + 0.1 * seed * (variant == "new"))))
    assert C.paper_claims("ltnet", "paper", results_root, notebooks)["verdict"].tolist() == [
        "supported"]


def test_committed_claims_csv_is_current():
    os.chdir(REPO)
    committed = pd.read_csv(REPO / "results" / "quick" / "claims.csv", dtype=str,
                            keep_default_na=False)
    now = C.profile_claims("quick")
    assert tuple(committed.columns) == C.CSV_COLUMNS
    assert committed["id"].tolist() == now["id"].tolist(), (
        "results/quick/claims.csv is stale: run relight reproduce or relight book")
    assert committed["verdict"].tolist() == now["verdict"].tolist()
