"""MBNet's recipe (relight_lib/papers/mbnet.py): the paper's settings, the Table 1 switches,
equal epochs per row, deviation sentences that match each row's plan, and that every term and
setting is accepted by the library it is handed to."""

import re
from pathlib import Path

import pytest

from relight_lib.library import losses
from relight_lib.papers import mbnet
from relight_lib.library.train import TrainConfig


def test_full_row_is_the_papers_setting():
    row = mbnet.mbnet_row(extra_data=True, residual=True, profile="quick")
    assert row["model"] == "mbnet" and row["augment"] is None
    assert row["train_pairs"] == "mbnet_extra"
    assert row["model_kwargs"] == {"residual": True, "pretrained": "allow_random"}
    assert [(t["name"], t["weight"]) for t in row["loss"]] == [
        ("charbonnier", 1.0), ("ssim", 1.1), ("perceptual", 0.1)]
    # -SSIM (Eq. 3) and L1 on VGG-19 conv3_3, as the suite's MBNet preset
    kw = {t["name"]: t["kwargs"] for t in row["loss"]}
    assert kw["ssim"]["form"] == "negative"
    assert {k: kw["perceptual"][k] for k in losses.PERCEPTUAL_PRESETS["mbnet"]} == \
        losses.PERCEPTUAL_PRESETS["mbnet"]
    assert row["train"] == {"lr": 1e-4, "betas": (0.5, 0.999), "gamma": 0.1,
                            "drop_fractions": [0.25]}
    assert row["paper_budget"] == {"epochs": 200, "batch_size": 3}


@pytest.mark.parametrize("extra, residual, pairs", [
    (False, False, "track1"), (True, False, "mbnet_extra"), (True, True, "mbnet_extra")])
def test_table1_switches(extra, residual, pairs):
    row = mbnet.mbnet_row(extra_data=extra, residual=residual, profile="smoke")
    assert row["train_pairs"] == pairs and row["model_kwargs"]["residual"] is residual
    no_residual_note = any("Without residual learning" in d for d in row["deviations"])
    assert no_residual_note is (not residual)


def test_weights_policy_follows_the_profile():
    assert mbnet.weights_policy("smoke") == "allow_random"
    assert mbnet.weights_policy("gpu") == "allow_random"
    assert mbnet.weights_policy("paper") == "require"
    assert mbnet.mbnet_row()["model_kwargs"]["pretrained"] == "require"
    with pytest.raises(KeyError, match="unknown profile"):
        mbnet.weights_policy("laptop")


@pytest.mark.parametrize("extra, n_pairs, steps", [(False, 300, 20_000), (True, 900, 60_000)])
def test_paper_budget_is_200_epochs_of_each_rows_pairs(extra, n_pairs, steps):
    from relight_lib.papers import onetoone, profiles

    row = mbnet.mbnet_row(extra_data=extra, profile="paper")
    cfg = profiles.resolve("paper", data_root="VIDIT")
    settings, epochs = onetoone.resolve_budget(cfg, row["train"], row["paper_budget"], n_pairs)
    assert epochs == 200 and settings["steps"] == steps and settings["batch_size"] == 3
    assert settings["amp"] is False  # the paper trained in fp32


@pytest.mark.parametrize("steps", [8, 150, 60_000])
def test_the_learning_rate_drops_once_after_a_quarter(steps):
    """The paper divides the rate by 10 once, after 50 of 200 epochs: two distinct rates."""
    from relight_lib.papers import onetoone, profiles
    from relight_lib.library.train import lr_at, lr_schedule_points

    row = mbnet.mbnet_row(profile="quick")
    cfg = profiles.resolve("quick", train_steps=steps)
    settings, _ = onetoone.resolve_budget(cfg, row["train"], row["paper_budget"], 276)
    tcfg = TrainConfig(**{k: v for k, v in settings.items() if k != "device"})
    points = lr_schedule_points(tcfg, steps)
    assert [lr for _, lr in points] == [1e-4, pytest.approx(1e-5)]
    assert points[1][0] == round(steps / 4)
    if steps <= 150:  # every step, not just the points the plan shows
        assert len({round(lr_at(tcfg, steps, s), 12) for s in range(steps)}) == 2


def test_equal_steps_option():
    row = mbnet.mbnet_row(extra_data=False, profile="paper", budget="equal_steps")
    assert row["paper_budget"] == {"steps": 60_000, "batch_size": 3}
    assert any("60,000 steps" in d for d in row["deviations"])
    # the paper's own budget (equal epochs) is no deviation at the paper profile
    assert not any("steps" in d for d in mbnet.mbnet_row(profile="paper")["deviations"])
    with pytest.raises(ValueError, match="budget"):
        mbnet.mbnet_row(budget="hours")


@pytest.mark.parametrize("profile", ["smoke", "quick"])
def test_short_profiles_train_every_row_the_same_epochs(profile):
    """As the paper: the extra-data rows, with three pairs per scene, train three times the
    baseline's steps (the ratio of the pairs, up to the dropped partial batch)."""
    from relight_lib.library.train import steps_per_epoch

    epochs = mbnet.MBNET_SHORT_BUDGETS[profile]["epochs"]
    steps, pairs = {}, {}
    for extra in (False, True):
        row = mbnet.mbnet_row(extra_data=extra, residual=False, profile=profile)
        budget = row["short_budgets"][profile]
        pairs[extra] = mbnet.train_pair_count(profile, row["train_pairs"])
        steps[extra] = budget["steps"]
        assert steps[extra] == epochs * steps_per_epoch(pairs[extra], budget["batch_size"])
        assert "epochs" not in budget  # run_one_to_one takes steps
    assert pairs[True] == 3 * pairs[False]
    batch = mbnet.MBNET_SHORT_BUDGETS[profile]["batch_size"]
    assert abs(steps[True] - pairs[True] / pairs[False] * steps[False]) <= epochs * 3 * batch
    # the option of equal steps gives the baseline the extra-data rows' steps
    eq = mbnet.mbnet_row(extra_data=False, profile=profile, budget="equal_steps")
    assert eq["short_budgets"][profile]["steps"] == steps[True]
    assert any("budget='equal_steps'" in d for d in eq["deviations"])


def test_quick_baseline_keeps_about_its_former_budget():
    row = mbnet.mbnet_row(extra_data=False, residual=False, profile="quick")
    assert abs(row["short_budgets"]["quick"]["steps"] - 400) <= 400 // 10


def test_gpu_profile_lists_its_equal_steps():
    devs = mbnet.mbnet_row(extra_data=True, profile="gpu")["deviations"]
    assert any("equal steps, not equal epochs" in d for d in devs)
    assert any("divided by 10" in d for d in devs)  # the gpu profile keeps the paper's curve


# --- every row's deviation sentences against its plan (no data: plans read the presets) ------

REPO = Path(__file__).resolve().parents[2]


def schedule_kind(points):
    """The lr curve of a plan's ``lr_schedule`` points."""
    lrs = [lr for _, lr in points]
    if len(lrs) == 1:
        return "constant"
    if lrs[0] < max(lrs):
        return "warmup_cosine"
    if len(lrs) == 2:
        return "multistep"
    return "exponential"


def check_against_plan(plan, devs):
    """What every MBNet deviation sentence must agree with in its row's plan."""
    text = " ".join(devs)
    kind = schedule_kind(plan["lr_schedule"])
    if kind == "warmup_cosine":
        assert "cosine" in text and "divided by 10" not in text, devs
    else:
        assert kind == "multistep" and "cosine" not in text, (kind, devs)
        if "divided by 10" in text:  # only where the plan divides by 10, once
            (s0, lr0), (s1, lr1) = plan["lr_schedule"]
            assert lr1 == pytest.approx(lr0 / 10) and s1 == round(plan["steps"] / 4)
    for steps, batch in re.findall(r"([\d,]+) steps of batch (\d+)", text):
        assert (int(steps.replace(",", "")), int(batch)) == (plan["steps"], plan["batch_size"])
    for pairs in re.findall(r"over this row's ([\d,]+) training pairs", text):
        assert int(pairs.replace(",", "")) == plan["n_train"]
    for size in re.findall(r"Images at (\d+) px", text):
        assert int(size) == plan["image_size"]
    assert ("Without residual learning" in text) == (not plan["model_kwargs"]["residual"])


@pytest.mark.parametrize("profile", ["quick", "paper"])
def test_every_rows_deviations_match_its_plan(profile, request, monkeypatch):
    from relight_lib.harness import reproduce

    monkeypatch.chdir(REPO)  # the presets and notebooks are relative to the repository
    root = str(request.getfixturevalue("tiny_vidit")) if profile == "paper" else None
    plans, failures = reproduce.plan_rows(profile, paper="mbnet", data_root=root,
                                          log=lambda *a: None)
    assert failures == {}
    checks = {n: p for n, p in plans.items() if n.endswith("__x2")}
    assert len(plans) - len(checks) == 3 and len(checks) == (profile == "quick")
    for name, plan in plans.items():
        if name in checks:
            _check_budget_check_row(plan)
        else:
            check_against_plan(plan, plan["deviations"])
    base, extra = plans["mbnet/table1/baseline"], plans["mbnet/table1/extra_data"]
    assert extra["n_train"] == 3 * base["n_train"]
    if profile == "quick":  # the steps per row are in the plan, and follow the pairs
        assert extra["steps"] / base["steps"] == pytest.approx(3, rel=0.05)
        for plan, extra_data in ((base, False), (extra, True)):  # what the book shows
            assert plan["steps"] == mbnet.row_budget(extra_data, "quick")["steps"]
    else:
        assert base["epochs"] == extra["epochs"] == 200


def _check_budget_check_row(plan):
    """A budget-check row (``<variant>__x2``) says it trains twice its recipe's steps."""
    text = " ".join(plan["deviations"])
    base = plan["steps"] // 2
    assert f"Budget check: trained for 2 x the row's budget ({base:,} -> {plan['steps']:,} " \
        "steps" in text, text


def test_the_check_catches_a_contradiction():
    """A fixed 'divided by 10' sentence next to a cosine plan is what the check must reject."""
    plan = {"lr_schedule": [[0, 1e-6], [20, 1e-4], [399, 1e-6]], "steps": 400, "batch_size": 8,
            "n_train": 300, "image_size": 64, "model_kwargs": {"residual": True}}
    with pytest.raises(AssertionError):
        check_against_plan(plan, ["the lr is divided by 10 once, after a quarter; cosine"])
    with pytest.raises(AssertionError):
        check_against_plan(plan, ["Profile quick: 400 steps of batch 8, cosine",
                                  "Profile quick: 11 epochs over this row's 900 training pairs"])


def test_loss_terms_build_with_the_library():
    row = mbnet.mbnet_row(profile="smoke")
    for term in row["loss"]:
        kwargs = dict(term["kwargs"])
        if term["name"] == "perceptual":
            continue  # builds a VGG-19 (0.5 GB); its kwargs are checked against the preset
        module = losses.build_loss(term["name"], **kwargs)
        assert module is not None
    # rows are independent copies: editing one cannot leak into the next
    row["loss"][0]["kwargs"]["eps"] = 1.0
    assert mbnet.mbnet_row()["loss"][0]["kwargs"]["eps"] == 1e-3
