"""MBNet's recipe (relight_lib/recipes_mbnet.py): the paper's settings, the Table 1 switches,
and that every term and setting is accepted by the library it is handed to."""

import pytest

from relight_lib import losses, recipes_mbnet
from relight_lib.train import TrainConfig


def test_full_row_is_the_papers_setting():
    row = recipes_mbnet.mbnet_row(extra_data=True, residual=True, profile="quick")
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
    assert row["train"] == {"lr": 1e-4, "betas": (0.5, 0.999), "schedule": "step",
                            "gamma": 0.1, "step_fraction": 0.25}


@pytest.mark.parametrize("extra, residual, pairs", [
    (False, False, "track1"), (True, False, "mbnet_extra"), (True, True, "mbnet_extra")])
def test_table1_switches(extra, residual, pairs):
    row = recipes_mbnet.mbnet_row(extra_data=extra, residual=residual, profile="smoke")
    assert row["train_pairs"] == pairs and row["model_kwargs"]["residual"] is residual
    no_residual_note = any("Without residual learning" in d for d in row["deviations"])
    assert no_residual_note is (not residual)


def test_weights_policy_follows_the_profile():
    assert recipes_mbnet.weights_policy("smoke") == "allow_random"
    assert recipes_mbnet.weights_policy("gpu") == "allow_random"
    assert recipes_mbnet.weights_policy("paper") == "require"
    assert recipes_mbnet.mbnet_row()["model_kwargs"]["pretrained"] == "require"
    with pytest.raises(KeyError, match="unknown profile"):
        recipes_mbnet.weights_policy("laptop")


def test_paper_profile_gets_the_papers_budget_and_quarter_step():
    row = recipes_mbnet.mbnet_row(profile="paper")
    train = dict(row["train"])
    assert train["batch_size"] == 3 and train["steps"] == 60_000
    # what run_one_to_one does with step_fraction: lr / 10 after 50 of 200 epochs
    frac = train.pop("step_fraction")
    cfg = TrainConfig(**train, step_size=round(frac * train["steps"]))
    assert cfg.step_size == 15_000 and cfg.gamma == 0.1 and cfg.betas == (0.5, 0.999)


def test_loss_terms_build_with_the_library():
    row = recipes_mbnet.mbnet_row(profile="smoke")
    for term in row["loss"]:
        kwargs = dict(term["kwargs"])
        if term["name"] == "perceptual":
            continue  # builds a VGG-19 (0.5 GB); its kwargs are checked against the preset
        module = losses.build_loss(term["name"], **kwargs)
        assert module is not None
    # rows are independent copies: editing one cannot leak into the next
    row["loss"][0]["kwargs"]["eps"] = 1.0
    assert recipes_mbnet.mbnet_row()["loss"][0]["kwargs"]["eps"] == 1e-3
