import pytest

from relight_lib import recipes
from relight_lib.models import build_model, count_parameters


def _names(row):
    return [(t["name"], t.get("weight"), t.get("on", "output"), t.get("required", True))
            for t in row["loss"]]


def test_ltnet_default_row_is_the_papers_final_setting():
    row = recipes.ltnet_row()
    assert row["model"] == "ltnet" and row["augment"] == "flip_rotate"
    assert row["model_kwargs"]["nc"] == 16 and row["model_kwargs"]["f1"] == 2
    assert row["train"] == {"lr": 1e-4, "betas": (0.9, 0.999), "schedule": "exponential",
                            "final_lr": 1e-6}
    # Table 6 D: L_C + 0.1 LPIPS (left out when unavailable) + L_r on the residual
    assert _names(row) == [("charbonnier", 1.0, "output", True), ("lpips", 0.1, "output", False),
                           ("residual", 1.0, "residual", True)]
    model = build_model(row["model"], **row["model_kwargs"])
    assert abs(count_parameters(model) - 1.07e6) / 1.07e6 < 0.02


@pytest.mark.parametrize("setting, expected", [
    ("A", ["charbonnier"]),
    ("B", ["charbonnier", "lpips"]),
    ("C", ["charbonnier", "residual"]),
    ("D", ["charbonnier", "lpips", "residual"]),
])
def test_table6_settings(setting, expected):
    row = recipes.ltnet_row(loss_setting=setting)
    assert [t["name"] for t in row["loss"]] == expected
    lp = [t for t in row["loss"] if t["name"] == "lpips"]
    if lp:  # B and D are defined by their LPIPS term: required
        assert lp[0]["required"] is True
        assert lp[0]["weight"] == {"B": 0.5, "D": 0.1}[setting]


def test_table3_switches_and_errors():
    no_skip = recipes.ltnet_row(global_residual=False, residual_loss=False)
    assert no_skip["model_kwargs"]["global_residual"] is False
    assert [t["name"] for t in no_skip["loss"]] == ["charbonnier", "lpips"]
    only_lr = recipes.ltnet_row(reconstruction_loss=False)
    assert [t["name"] for t in only_lr["loss"]] == ["residual"]
    with pytest.raises(ValueError, match="global skip"):
        recipes.ltnet_row(global_residual=False, residual_loss=True)
    with pytest.raises(ValueError, match="at least one"):
        recipes.ltnet_row(residual_loss=False, reconstruction_loss=False)
    with pytest.raises(ValueError, match="loss_setting"):
        recipes.ltnet_row(loss_setting="E")
    with pytest.raises(ValueError, match="table5_label"):
        recipes.ltnet_row(table5_label="3,3")


def test_table5_sizes():
    large = recipes.ltnet_row(table5_label="8,32")["model_kwargs"]
    assert (large["nc"], large["f1"]) == (32, 8)


def test_ltnet_snapshot_ensemble_settings():
    assert "snapshots" not in recipes.ltnet_row()
    paper = recipes.ltnet_row(ensemble="paper")
    assert len(paper["snapshots"]) == 5 and paper["snapshots"][-1] == 1.0
    assert paper["snapshot_weights"] is None  # a plain mean, as the paper says
    assert recipes.ltnet_row(ensemble="code")["snapshot_weights"] == (1.0, 1.0, 1.0, 2.0, 1.0)
    assert any("Snapshot ensemble" in d for d in paper["deviations"])
    with pytest.raises(ValueError, match="ensemble"):
        recipes.ltnet_row(ensemble="median")
