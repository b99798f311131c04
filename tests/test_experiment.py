"""One table row end to end: train, evaluate, write results (and the honest 'not run here')."""

import json

import pytest

from relight_lib import experiment, results
from relight_lib.data import synvidit


@pytest.fixture(scope="module")
def data_root(tmp_path_factory):
    pytest.importorskip("mitsuba")
    root = tmp_path_factory.mktemp("exp") / "set"
    cfg = synvidit.RenderConfig(n_scenes=5, size=32, spp=2, seed=5, conditions=("6500_N", "4500_E"))
    synvidit.render_dataset(root, cfg, progress=False)
    return root


def _row(tmp_path, data_root, loss, variant="v"):
    return experiment.run_one_to_one(
        paper="demo", table="t1", variant=variant, profile="smoke",
        results_root=str(tmp_path / "results"), cache_key="k" * 64, model="tiny_unet",
        model_kwargs={"width": 4}, loss=loss, train={"lr": 1e-3}, data_root=str(data_root),
        steps=3, deviations=["demo deviation"])


def test_row_writes_results_history_and_figures(tmp_path, data_root, monkeypatch):
    monkeypatch.chdir(tmp_path)
    summary = _row(tmp_path, data_root, [
        {"name": "charbonnier", "weight": 1.0},
        {"name": "lpips", "weight": 0.1, "required": False},
        {"name": "residual", "weight": 1.0, "on": "residual"}])
    assert set(summary["metric"]) >= {"psnr", "ssim", "score_l2"}
    run = tmp_path / "results" / "smoke" / "demo" / "t1" / "v" / "seed=0"
    rj = json.loads((run / "run.json").read_text())
    assert rj["cache_key"] == "k" * 64
    assert rj["deviations"][0] == "demo deviation"
    assert any("lpips term" in d for d in rj["deviations"])  # dropped, and said so
    assert rj["extra"]["parameters"] > 0 and rj["extra"]["train_steps"] == 3
    timing = rj["extra"]["timing"]
    assert timing["device"] == "cpu" and timing["inference_s_64px"] > 0
    assert "inference_s_1024px" not in timing  # the smoke profile skips the 1024 px timing
    assert (run / "history.csv").exists() and (run / "figures" / "examples.png").exists()
    ours = results.load_results(tmp_path / "results", "smoke", paper="demo")
    assert ours.loc[ours.metric == "psnr", "value"].notna().all()
    assert (tmp_path / "_build" / "checkpoints").exists()


def test_required_term_missing_means_not_run_here(tmp_path, data_root, monkeypatch):
    monkeypatch.chdir(tmp_path)
    _row(tmp_path, data_root, [{"name": "charbonnier"}, {"name": "lpips", "weight": 0.5}],
         variant="needs_lpips")
    ours = results.load_results(tmp_path / "results", "smoke", paper="demo")
    assert ours["value"].isna().all()
    assert ours["note"].str.startswith("not run here: lpips loss unavailable").all()


def test_bad_loss_terms():
    with pytest.raises(ValueError, match="not one of"):
        experiment.build_objective([{"name": "hinge"}], allow_random=True)
    with pytest.raises(ValueError, match="unknown keys"):
        experiment.build_objective([{"name": "charbonnier", "wieght": 2}], allow_random=True)
    with pytest.raises(ValueError, match="'on'"):
        experiment.build_objective([{"name": "charbonnier", "on": "depth"}], allow_random=True)
