"""MBNet's recipe (relight_lib/papers/mbnet.py): the paper's settings, the Table 1 switches,
and that every term and setting is accepted by the library it is handed to."""

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
    with pytest.raises(ValueError, match="budget"):
        mbnet.mbnet_row(budget="hours")


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
