"""Any-to-any rows (2DSceneRelighting): train, evaluate, write results; losses; not-run rows."""

import json

import numpy as np
import pandas as pd
import pytest
import torch

from relight_lib import any2any, results
from relight_lib.data.depth import save_depth
from relight_lib.data.imageio import write_png_rgb

TAGS = ("6500_N", "6500_E", "4500_N", "4500_E")
SPLITS = {"train": ("Image000", "Image001", "Image002"), "validation": ("Image003", "Image004")}


@pytest.fixture(scope="module")
def data_root(tmp_path_factory):
    """A flat any-to-any set: 16 px images whose colour follows the temperature and whose
    brightness gradient follows the direction."""
    root = tmp_path_factory.mktemp("a2a") / "set"
    rng = np.random.default_rng(0)
    for split, scenes in SPLITS.items():
        folder = root / "any2any" / split
        for s in scenes:
            base = rng.uniform(0.2, 0.8, (16, 16, 3))
            for tag in TAGS:
                temp, d = tag.split("_")
                tint = np.array([1.0, 0.9, 0.7]) if temp == "4500" else np.ones(3)
                ramp = np.linspace(0.5, 1, 16)[None, :, None] if d == "E" else \
                    np.linspace(0.5, 1, 16)[:, None, None]
                write_png_rgb(folder / f"{s}_{tag}.png",
                              (255 * np.clip(base * tint * ramp, 0, 1)).astype(np.uint8))
            save_depth(folder / f"{s}.npy", rng.uniform(0, 1, (16, 16)).astype(np.float32))
    return root


def _row(tmp_path, data_root, **kw):
    args = dict(paper="swapnet", table="table1", variant="v", profile="smoke",
                results_root=str(tmp_path / "results"), cache_key="k" * 64,
                data_root=str(data_root), steps=2, n_eval_pairs=3)
    args.update(kw)
    return any2any.run_any_to_any(**args)


def test_model_a_with_gan_writes_everything(tmp_path, data_root, monkeypatch):
    monkeypatch.chdir(tmp_path)
    summary = _row(tmp_path, data_root, model="swapnet_illum", loss_setting="A",
                   discriminator=True, variant="illumination_predicter")
    assert {"psnr", "ssim", "dssim", "mse", "score_l2", "temperature_error_k",
            "direction_error_deg", "scene_latent_mse_same_scene"} <= set(summary["metric"])
    run = tmp_path / "results" / "smoke" / "swapnet" / "table1" / "illumination_predicter" / \
        "seed=0"
    rj = json.loads((run / "run.json").read_text())
    assert rj["extra"]["parameters"] == 18_837_556
    assert rj["extra"]["parameters_discriminator"] == 2_765_633
    assert rj["extra"]["parameters_predicter"] > 0 and rj["extra"]["train_steps"] == 2
    assert rj["params"]["train_pairs"] == "all" and rj["params"]["discriminator"] is True
    hist = pd.read_csv(run / "history.csv")
    assert list(hist["step"]) == [1, 2]
    assert {"mse", "colour_temperature", "direction", "gan_generator", "d_loss"} <= set(hist)
    assert np.allclose(hist["loss"], hist[["mse", "colour_temperature", "direction",
                                           "gan_generator"]].sum(axis=1), rtol=1e-4)
    for fig in ("loss", "examples", "latents"):
        assert (run / "figures" / f"{fig}.png").exists()
    ours = results.load_results(tmp_path / "results", "smoke", paper="swapnet")
    m = ours.set_index(["table", "variant", "metric"])["value"]
    # DSSIM is (1 - SSIM) / 2 of the same images
    assert m["table1", "illumination_predicter", "dssim"] == pytest.approx(
        (1 - m["table1", "illumination_predicter", "ssim"]) / 2, abs=1e-6)
    for sub in ("full", "same_colour", "same_direction"):
        assert ("subsets", f"illumination_predicter_{sub}", "score_l2") in m.index
    assert m["subsets", "illumination_predicter_full", "psnr"] == pytest.approx(
        m["table1", "illumination_predicter", "psnr"])
    pi = results.load_per_image(tmp_path / "results", "smoke", "swapnet", "predicter")
    assert set(pi["variant"]) == {"temperature", "direction"} and set(pi["metric"]) == {
        "light_loss"}
    # evaluation pairs follow the protocol: different scene and different direction
    keys = results.load_per_image(tmp_path / "results", "smoke", "swapnet", "table1")["image"]
    for k in set(keys):
        (si, ci), (sg, cg) = [(p.split("_", 1)[0], p.split("_", 1)[1]) for p in k.split("__")]
        assert si != sg and ci.split("_")[1] != cg.split("_")[1]
    # resume: the finished checkpoint is reused, nothing is trained again
    ckpts = list((tmp_path / "_build" / "checkpoints").rglob("seed=0.pt"))
    assert len(ckpts) == 1


def test_identity_scores_one(tmp_path, data_root, monkeypatch):
    monkeypatch.chdir(tmp_path)
    _row(tmp_path, data_root, model="identity", loss_setting=None, variant="identity")
    pi = results.load_per_image(tmp_path / "results", "smoke", "swapnet", "table1")
    assert np.allclose(pi.loc[pi.metric == "score_l2", "value"], 1.0)
    assert not (tmp_path / "results" / "smoke" / "swapnet" / "predicter").exists()


def test_model_b_trains_on_envmaps(tmp_path, data_root, monkeypatch):
    monkeypatch.chdir(tmp_path)
    _row(tmp_path, data_root, model="swapnet_envmap", loss_setting="B", variant="envmap",
         steps=1, extra_tables=False)
    run = tmp_path / "results" / "smoke" / "swapnet" / "table1" / "envmap" / "seed=0"
    hist = pd.read_csv(run / "history.csv")
    assert {"l1", "envmap_input", "envmap_guide"} <= set(hist)
    ours = results.load_results(tmp_path / "results", "smoke", paper="swapnet")
    row = ours.set_index("metric")
    assert np.isfinite(row.loc["envmap_log_l2_guide", "value"])
    assert np.isnan(row.loc["scene_latent_mse_same_scene", "value"])
    assert "no scene latent" in row.loc["scene_latent_mse_same_scene", "note"]
    assert (run / "figures" / "envmaps.png").exists()
    assert not (tmp_path / "results" / "smoke" / "swapnet" / "subsets").exists()


def test_model_c_without_lpips_is_not_run_here(tmp_path, data_root, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("RELIGHT_WEIGHTS", str(tmp_path / "no_weights"))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "no_torch_home"))
    _row(tmp_path, data_root, model="swapnet_envmap_scene", loss_setting="C",
         variant="envmap_scene")
    ours = results.load_results(tmp_path / "results", "smoke", paper="swapnet")
    assert len(ours) and ours["value"].isna().all()
    assert ours["note"].str.startswith("not run here: loss setting C").all()
    assert set(ours["table"]) == {"table1", "subsets"}
    pi = results.load_per_image(tmp_path / "results", "smoke", "swapnet", "table1")
    assert len(pi) and pi["value"].isna().all()  # every pair is listed, none scored
    assert not list((tmp_path / "results").rglob("history.csv"))


def test_mismatched_loss_setting(tmp_path, data_root):
    with pytest.raises(ValueError, match="light latent"):
        _row(tmp_path, data_root, model="swapnet_illum", loss_setting="B")
    with pytest.raises(ValueError, match="loss_setting"):
        _row(tmp_path, data_root, model="swapnet_illum", loss_setting="D")


def test_hsv_envmap_loss():
    from relight_lib.envmap import envmap_batch

    gt = envmap_batch([4500, 2500], ["E", "N"], mode="hsv")
    assert float(any2any.hsv_envmap_loss(gt, gt)) == pytest.approx(0.0, abs=1e-6)
    shifted = gt.clone()
    shifted[:, 0] += 255 / 4  # a quarter turn of hue costs 1 in the cosine term
    assert float(any2any.hsv_envmap_loss(shifted, gt)) == pytest.approx(1.0, abs=1e-4)


def test_objective_a_parts():
    from relight_lib.models.swapnet import SwapNetIllum

    torch.manual_seed(0)
    net = SwapNetIllum().eval()
    pred = net.make_predicter(32)
    batch = {k: torch.rand(2, 3, 32, 32) for k in ("input", "guide", "target")}
    batch.update(input_temperature=torch.tensor([2500, 6500]), guide_temperature=torch.tensor(
        [4500, 4500]), input_angle=torch.tensor([0, 90]), guide_angle=torch.tensor([180, 270]))
    obj = any2any.SwapObjective("A")
    with torch.no_grad():
        out = net.outputs(batch)
        total, parts = obj(out, batch, pred)
        lc, ld, per = obj.predicter_losses(out, batch, pred)
    assert set(parts) == {"mse", "colour_temperature", "direction"}
    assert float(total) == pytest.approx(sum(parts.values()), rel=1e-5)
    assert per["lc"].shape == (2,) and float(per["lc"].mean()) == pytest.approx(float(lc))
    assert (per["dir_err"] <= 180).all()
