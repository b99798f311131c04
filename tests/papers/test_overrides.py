"""Budget, learning rate and batch size changed by hand reach every place a recipe gives them."""

import pytest

from relight_lib.papers import mbnet, msrnet, onetoone, profiles
from relight_lib.papers.overrides import with_training_overrides


def _msrnet_row():
    return msrnet.msrnet_row(model="dmshn", loss="mse", stage1_fraction=0.5, init="default",
                             profile="quick")


@pytest.mark.parametrize("name, value", [("steps", 0), ("steps", 2.5), ("lr", -1e-3),
                                         ("lr", "fast"), ("batch_size", True),
                                         ("batch_size", 0)])
def test_bad_values_are_one_line_errors(name, value):
    with pytest.raises(ValueError, match=f"^{name} must be a positive"):
        with_training_overrides(_msrnet_row(), **{name: value})


def test_the_recipe_is_not_modified():
    row = _msrnet_row()
    before = repr(row)
    with_training_overrides(row, lr=1.0, batch_size=1, steps=1)
    assert repr(row) == before


@pytest.mark.parametrize("profile", ["smoke", "quick"])
def test_the_plan_trains_with_the_changed_values_at_the_short_profiles(profile):
    # smoke and quick replace the recipe's train settings by the paper's own short budget
    row = with_training_overrides(mbnet.mbnet_row(extra_data=False, residual=True,
                                                  profile=profile, budget="epochs",
                                                  data_root=None),
                                  lr=5e-4, batch_size=4, steps=10)
    plan = onetoone.run_one_to_one(paper="mbnet", table="table1", variant="v", profile=profile,
                                   dry_run=True, **row)
    assert plan["steps"] == 10 and plan["batch_size"] == 4
    assert max(lr for _, lr in plan["lr_schedule"]) == pytest.approx(5e-4)


def test_the_paper_profiles_budget_takes_the_changed_batch():
    row = with_training_overrides(mbnet.mbnet_row(extra_data=False, residual=True,
                                                  profile="paper", budget="epochs",
                                                  data_root="VIDIT"), lr=5e-4, batch_size=4)
    cfg = profiles.resolve("paper", data_root="VIDIT")
    settings, epochs = onetoone.resolve_budget(cfg, row["train"], row["paper_budget"], 300)
    # 200 epochs of 300 pairs in batches of 4 (the paper: 3)
    assert (settings["lr"], settings["batch_size"], epochs, settings["steps"]) == \
        (5e-4, 4, 200, 200 * 75)
