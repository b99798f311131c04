"""Any-to-any rows (2DSceneRelighting): train, evaluate, write results; losses; not-run rows."""

import json

import numpy as np
import pandas as pd
import pytest
import torch

from relight_lib.papers.swapnet import any2any, budget, deviations, loop, pairs
from relight_lib.papers.swapnet import plan as swap_plan
from relight_lib.papers.swapnet.objective import (SwapObjective, chance_losses, describe_loss,
                                                  hsv_envmap_loss)
from relight_lib.harness import results
from relight_lib.library.data.depth import save_depth
from relight_lib.library.data.imageio import write_png_rgb

TAGS = ("6500_N", "6500_E", "4500_N", "4500_E")
SPLITS = {"train": ("Image000", "Image001", "Image002"), "validation": ("Image003", "Image004"),
          "test": ("Image005", "Image006")}


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


def _parse(key):
    """(input scene, (temperature, direction), guide scene, (temperature, direction))."""
    (si, ci), (sg, cg) = [p.split("_", 1) for p in key.split("__")]
    return si, tuple(ci.split("_")), sg, tuple(cg.split("_"))


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
    assert {"psnr", "ssim", "dssim", "mse", "score_l2", "score_l2_pairmean", "temperature_error_k",
            "direction_error_deg", "scene_latent_mse_same_scene"} <= set(summary["metric"])
    run = tmp_path / "results" / "smoke" / "swapnet" / "table1" / "illumination_predicter" / \
        "seed=0"
    rj = json.loads((run / "run.json").read_text())
    assert rj["extra"]["parameters"] == 18_837_556
    assert rj["extra"]["parameters_discriminator"] == 2_765_633
    assert rj["extra"]["parameters_predicter"] > 0 and rj["extra"]["train_steps"] == 2
    assert rj["params"]["train_pairs"] == "all" and rj["params"]["discriminator"] == "pix2pix"
    assert rj["params"]["envmap_recipe"] == "code" and rj["params"]["eval_subsets"] == "report"
    assert any("pix2pix reading" in d for d in rj["deviations"])
    assert any(d.startswith("Training budget: 2 steps of batch 2") for d in rj["deviations"])
    # below the report's budget model A trains the normalised temperature head, listed
    assert rj["params"]["temperature_head"] == "normalised"
    assert any("temperature_head='normalised'" in d for d in rj["deviations"])
    assert any("LPIPS" in d and "not found" in d for d in rj["deviations"])
    hist = pd.read_csv(run / "history.csv")
    assert list(hist["step"]) == [1, 2]
    assert {"mse", "colour_temperature", "direction", "gan_generator", "d_loss"} <= set(hist)
    # model A's validation curve has its L_c too, and the plateau test judges both metrics
    assert hist["val_lc"].notna().all() and (hist["val_lc"] >= 0).all()
    conv = rj["extra"]["convergence"]
    assert [c["metric"] for c in conv["checks"]] == ["val_psnr", "val_lc"]
    assert conv["converged"] is None  # two points: too few to tell
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
    # the report's Eval sets (section 3.5) constrain only their equality
    sub = results.load_per_image(tmp_path / "results", "smoke", "swapnet", "subsets")
    for name, ok in (("full", lambda si, ci, sg, cg: True),
                     ("same_colour", lambda si, ci, sg, cg: ci[0] == cg[0]),
                     ("same_direction", lambda si, ci, sg, cg: ci[1] == cg[1])):
        keys = set(sub.loc[sub["variant"] == f"illumination_predicter_{name}", "image"])
        assert keys and all(ok(*_parse(k)) for k in keys)
    pi = results.load_per_image(tmp_path / "results", "smoke", "swapnet", "predicter")
    assert set(pi["variant"]) == {"temperature", "direction", "temperature_chance",
                                  "direction_chance"} and set(pi["metric"]) == {"light_loss"}
    # the plateau test judges the final weights' validation L_c (validation pairs: not the
    # test pairs the predicter table is read on)
    assert [c["metric"] for c in conv["checks"] if c["what"] == "final"] == ["val_psnr",
                                                                          "val_lc"]
    assert pi.loc[pi["variant"] == "temperature", "value"].notna().all()
    # the chance rows are on the same pairs as model A's (paired claims)
    by = {v: set(g["image"]) for v, g in pi.groupby("variant")}
    assert by["temperature"] == by["temperature_chance"] == by["direction_chance"]
    # evaluation pairs follow the protocol: different scene and different direction
    keys = results.load_per_image(tmp_path / "results", "smoke", "swapnet", "table1")["image"]
    for k in set(keys):
        (si, ci), (sg, cg) = [(p.split("_", 1)[0], p.split("_", 1)[1]) for p in k.split("__")]
        assert si != sg and ci.split("_")[1] != cg.split("_")[1]
    # resume: the finished checkpoint is reused, nothing is trained again
    ckpts = list((tmp_path / "_build" / "checkpoints").rglob("seed=0.pt"))
    assert len(ckpts) == 1
    # a rerun with the same key keeps the finished seed, checkpoints gone or not, but only
    # while every run it wrote (main, subsets, predicter) is there
    import shutil

    class Trained(Exception):
        pass

    def no_training(*a, **k):
        raise Trained

    monkeypatch.setattr(any2any, "train_seed", no_training)
    shutil.rmtree(tmp_path / "_build")
    again = _row(tmp_path, data_root, model="swapnet_illum", loss_setting="A",
                 discriminator=True, variant="illumination_predicter")
    pd.testing.assert_frame_equal(again, summary, check_dtype=False)
    shutil.rmtree(run.parent.parent.parent / "predicter" / "direction_chance")
    with pytest.raises(Trained):
        _row(tmp_path, data_root, model="swapnet_illum", loss_setting="A",
             discriminator=True, variant="illumination_predicter")


def test_identity_scores_one(tmp_path, data_root, monkeypatch):
    monkeypatch.chdir(tmp_path)
    _row(tmp_path, data_root, model="identity", loss_setting=None, variant="identity")
    pi = results.load_per_image(tmp_path / "results", "smoke", "swapnet", "table1")
    assert np.allclose(pi.loc[pi.metric.isin(["score_l2", "score_l2_pairmean"]), "value"], 1.0)
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
    from relight_lib.papers.swapnet.envmap import envmap_batch

    gt = envmap_batch([4500, 2500], ["E", "N"], mode="hsv")
    assert float(hsv_envmap_loss(gt, gt)) == pytest.approx(0.0, abs=1e-6)
    shifted = gt.clone()
    shifted[:, 0] += 255 / 4  # a quarter turn of hue costs 1 in the cosine term
    assert float(hsv_envmap_loss(shifted, gt)) == pytest.approx(1.0, abs=1e-4)


def test_objective_a_parts():
    from relight_lib.library.models.swapnet import SwapNetIllum

    torch.manual_seed(0)
    net = SwapNetIllum().eval()
    pred = net.make_predicter(32)
    batch = {k: torch.rand(2, 3, 32, 32) for k in ("input", "guide", "target")}
    batch.update(input_temperature=torch.tensor([2500, 6500]), guide_temperature=torch.tensor(
        [4500, 4500]), input_angle=torch.tensor([0, 90]), guide_angle=torch.tensor([180, 270]))
    obj = SwapObjective("A")
    with torch.no_grad():
        out = net.outputs(batch)
        total, parts = obj(out, batch, pred)
        lc, ld, per = obj.predicter_losses(out, batch, pred)
    assert set(parts) == {"mse", "colour_temperature", "direction"}
    assert float(total) == pytest.approx(sum(parts.values()), rel=1e-5)
    assert per["lc"].shape == (2,) and float(per["lc"].mean()) == pytest.approx(float(lc))
    assert (per["dir_err"] <= 180).all()


# ---------------------------------------------------------------------------------------------
# issue 15: evaluation sets, budgets, plans, options


def test_eval_rules_report_and_protocol():
    from relight_lib.library.data.layout import Condition
    from relight_lib.library.data.vidit import Pair

    def pair(s_in, c_in, s_g, c_g):
        return Pair(s_in, Condition.parse(c_in), s_g, Condition.parse(c_g))

    same_scene_same_dir = pair("Image000", "6500_N", "Image000", "4500_N")
    other_scene_same_dir = pair("Image000", "6500_N", "Image001", "4500_N")
    same_scene_same_col = pair("Image000", "6500_N", "Image000", "6500_E")
    protocol_same_col = pair("Image000", "6500_N", "Image001", "6500_E")
    identical = pair("Image000", "6500_N", "Image000", "6500_N")
    unrelated = pair("Image000", "6500_N", "Image001", "4500_E")
    report = {k: r for k, (r, _) in pairs.eval_rules("report").items()}
    protocol = {k: r for k, (r, _) in pairs.eval_rules("protocol").items()}
    # report section 3.5: Eval is every pair; the subsets constrain only their equality
    assert all(report["full"](p) for p in (same_scene_same_dir, identical, unrelated))
    assert report["same_direction"](same_scene_same_dir)
    assert report["same_direction"](other_scene_same_dir) and report["same_direction"](identical)
    assert not report["same_direction"](unrelated) and not report["same_direction"](
        protocol_same_col)
    assert report["same_colour"](same_scene_same_col) and report["same_colour"](protocol_same_col)
    assert not report["same_colour"](other_scene_same_dir)
    # the suite's earlier reading adds different-scene / different-direction conditions
    assert not protocol["full"](same_scene_same_dir) and protocol["full"](unrelated)
    assert not protocol["same_direction"](same_scene_same_dir)
    assert protocol["same_direction"](other_scene_same_dir)
    assert not protocol["same_colour"](same_scene_same_col)
    assert protocol["same_colour"](protocol_same_col)
    with pytest.raises(ValueError, match="eval_subsets"):
        pairs.eval_rules("mine")


def test_protocol_subsets_option(tmp_path, data_root, monkeypatch):
    monkeypatch.chdir(tmp_path)
    _row(tmp_path, data_root, model="identity", loss_setting=None, variant="identity",
         eval_subsets="protocol")
    sub = results.load_per_image(tmp_path / "results", "smoke", "swapnet", "subsets")
    main = results.load_per_image(tmp_path / "results", "smoke", "swapnet", "table1")
    assert set(sub.loc[sub["variant"] == "identity_full", "image"]) == set(main["image"])
    for k in set(sub.loc[sub["variant"] == "identity_same_direction", "image"]):
        si, ci, sg, cg = _parse(k)
        assert si != sg and ci[1] == cg[1]
    rj = json.loads((tmp_path / "results" / "smoke" / "swapnet" / "table1" / "identity" /
                     "seed=0" / "run.json").read_text())
    assert any("protocol reading" in d for d in rj["deviations"])


PLAN_KEYS = {"row", "model", "model_kwargs", "parameters", "image_size", "train_size",
             "batch_size", "steps", "epochs", "n_train", "precision", "optimizer", "lr_schedule",
             "loss", "eval", "validation", "data", "postprocess", "snapshots", "deviations",
             "notes"}


def _plan(tmp_path, data_root, **kw):
    args = dict(paper="swapnet", table="table1", variant="v", profile="smoke",
                results_root=str(tmp_path / "results"), data_root=str(data_root),
                dry_run=True)
    args.update(kw)
    return any2any.run_any_to_any(**args)


def test_a_budget_check_doubles_the_steps_and_keeps_the_read_fraction(tmp_path, data_root,
                                                                      monkeypatch):
    monkeypatch.chdir(tmp_path)
    kw = dict(model="swapnet_envmap", loss_setting="B", variant="envmap__x2", steps=10,
              read_at=0.4)
    base, plan = _plan(tmp_path, data_root, **kw), _plan(tmp_path, data_root, **kw, budget_scale=2)
    assert (base["steps"], plan["steps"]) == (10, 20)
    assert plan["snapshots"] == [8]  # a read checkpoint: the same fraction of the longer budget
    assert any(d.startswith("Budget check: trained for 2 x the row's budget (10 -> 20 steps")
               for d in plan["deviations"])
    with pytest.raises(ValueError, match="budget_scale"):
        _plan(tmp_path, data_root, **kw, budget_scale=-1)


def test_dry_run_plans_without_training_or_writing(tmp_path, data_root, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("RELIGHT_WEIGHTS", str(tmp_path / "no_weights"))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "no_torch_home"))
    monkeypatch.setattr(any2any, "train_seed", lambda *a, **k: pytest.fail("a plan trained"))
    plan = _plan(tmp_path, data_root, model="swapnet_illum", loss_setting="A",
                 discriminator="code", n_eval_pairs=3)
    assert set(plan) == PLAN_KEYS
    json.dumps(plan)  # plain data
    assert plan["parameters"] == 18_837_556 and plan["steps"] == 4 and plan["batch_size"] == 2
    assert plan["n_train"] == 8 and plan["epochs"] is None and plan["snapshots"] is None
    assert plan["precision"] == "fp32"
    # below the paper budget: warm-up (none at 4 steps) and a cosine to 1 % of the rate
    assert plan["lr_schedule"][0] == [0, 0.001] and plan["lr_schedule"][-1] == [3, 1e-05]
    assert plan["optimizer"].startswith("Adam(lr=0.001, betas=(0.9, 0.999))")
    assert plan["loss"][0] == "1.0 x mse" and "no adversarial term" in plan["loss"][-1]
    assert [e["name"] for e in plan["eval"]] == ["table1", "subsets/full", "subsets/same_colour",
                                                 "subsets/same_direction"]
    assert all(e["n"] == 3 and e["definition"] for e in plan["eval"])
    assert any("code's 'WithGAN' run" in d for d in plan["deviations"])
    assert any("LPIPS weights missing" in n for n in plan["notes"])
    assert not (tmp_path / "results").exists() and not (tmp_path / "_build").exists()
    with pytest.raises(ValueError, match="discriminator must be"):
        _plan(tmp_path, data_root, model="swapnet_illum", loss_setting="A", discriminator="wgan")
    with pytest.raises(ValueError, match="lpips_form"):
        _plan(tmp_path, data_root, model="swapnet_envmap_scene", loss_setting="C",
              lpips_form="max")


def test_paper_profile_plans(tmp_path, data_root, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("RELIGHT_WEIGHTS", str(tmp_path / "no_weights"))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "no_torch_home"))
    plans = {m: _plan(tmp_path, data_root, profile="paper", model=m, loss_setting=s)
             for m, s in (("identity", None), ("swapnet_illum", "A"), ("swapnet_envmap", "B"),
                          ("swapnet_envmap_scene", "C"))}
    for p in plans.values():
        assert set(p) == PLAN_KEYS
        assert p["image_size"] == p["train_size"] == 256 and p["precision"] == "fp32"
        # the report's 10,000 pairs are asked for; the tiny set has fewer, all used
        assert any("asked for 10000" in d for d in p["deviations"])
    a, b, c = plans["swapnet_illum"], plans["swapnet_envmap"], plans["swapnet_envmap_scene"]
    assert (a["batch_size"], a["steps"], a["snapshots"]) == (8, 60_000, None)
    # 20 epochs of batch 25 over the (here: 48) protocol training pairs; B read at 8/20
    assert (b["batch_size"], b["epochs"], b["steps"]) == (25, 20.0, 20)
    assert b["snapshots"] == [8] and c["snapshots"] == [6]
    assert any("not run here" in n for n in c["notes"])
    assert plans["identity"]["steps"] == 0 and plans["identity"]["lr_schedule"] == []


def test_short_profiles_score_models_b_and_c_on_their_last_weights(tmp_path, data_root,
                                                                   monkeypatch):
    """The report reads B at epoch 8 and C at epoch 6 of 20 at a constant rate; under a
    short profile's decaying rate that checkpoint is mid-descent, so the last weights are
    scored, and the deviation says so. A read_at the row gives is kept."""
    monkeypatch.chdir(tmp_path)
    for model, setting, epoch in (("swapnet_envmap", "B", 8), ("swapnet_envmap_scene", "C", 6)):
        plan = _plan(tmp_path, data_root, model=model, loss_setting=setting, steps=10)
        assert plan["snapshots"] is None
        said = [d for d in plan["deviations"] if d.startswith("Scored on the last weights")]
        assert len(said) == 1 and f"epoch {epoch} of 20" in said[0]
        kept = _plan(tmp_path, data_root, model=model, loss_setting=setting, steps=10,
                     read_at=0.5)
        assert kept["snapshots"] == [5]
        assert not any(d.startswith("Scored on the last weights") for d in kept["deviations"])
    a = _plan(tmp_path, data_root, model="swapnet_illum", loss_setting="A", steps=10)
    assert not any(d.startswith("Scored on the last weights") for d in a["deviations"])


def test_paper_budget_numbers():
    from relight_lib.papers import profiles

    cfg = profiles.resolve("paper", data_root="/no/such/vidit")
    a = budget.finish_budget(budget.budget_for(cfg, "A", None), "A", 480_000, None)
    assert (a.steps, a.batch_size, a.n_wanted, a.read_step, a.paper) == (60_000, 8, 480_000,
                                                                          None, True)
    b = budget.finish_budget(budget.budget_for(cfg, "B", None), "B", 400_000, None)
    assert (b.steps, b.batch_size, b.epochs, b.read_step) == (320_000, 25, 20.0, 128_000)
    c = budget.finish_budget(budget.budget_for(cfg, "C", None), "C", 400_000, None)
    assert (c.steps, c.read_step) == (320_000, 96_000)
    # shorter profiles read the same fraction of their own budget
    q = profiles.resolve("quick")
    b = budget.finish_budget(budget.budget_for(q, "B", None), "B", 600, None)
    assert (b.steps, b.batch_size, b.read_step) == (400, 8, 160)
    c = budget.finish_budget(budget.budget_for(q, "C", None), "C", 600, 1.0)
    assert c.read_step is None


def test_read_at_evaluates_an_earlier_checkpoint(tmp_path, data_root, monkeypatch):
    monkeypatch.chdir(tmp_path)
    _row(tmp_path, data_root, model="swapnet_illum", loss_setting="A", variant="a", steps=4,
         read_at=0.5, extra_tables=False)
    run = tmp_path / "results" / "smoke" / "swapnet" / "table1" / "a" / "seed=0"
    rj = json.loads((run / "run.json").read_text())
    assert rj["extra"]["read_step"] == 2 and rj["extra"]["train_steps"] == 4
    assert len(pd.read_csv(run / "history.csv")) == 4
    assert len(list((tmp_path / "_build" / "checkpoints").rglob("seed=0-step2.pt"))) == 1


def test_code_discriminator_and_training_passes(tmp_path, data_root, monkeypatch):
    """The code's WithGAN: no adversarial term; D sees a second generator pass after the
    generator's step; model A encodes G in training (its predicter needs G's light)."""
    from relight_lib.library.models import swapnet

    calls = []
    real = swapnet.SwapNet.outputs

    def spy(self, batch, with_target=True):
        if self.training:
            calls.append(with_target)
        return real(self, batch, with_target)

    monkeypatch.setattr(swapnet.SwapNet, "outputs", spy)
    monkeypatch.chdir(tmp_path)
    _row(tmp_path, data_root, model="swapnet_illum", loss_setting="A", variant="with_gan_code",
         table="discriminator", discriminator="code", extra_tables=False)
    assert calls == [True] * 4  # 2 steps x (generator pass + the discriminator's pass)
    run = tmp_path / "results" / "smoke" / "swapnet" / "discriminator" / "with_gan_code" / \
        "seed=0"
    hist = pd.read_csv(run / "history.csv")
    assert "gan_generator" not in hist and "d_loss" in hist
    assert np.allclose(hist["loss"], hist[["mse", "colour_temperature", "direction"]].sum(axis=1),
                       rtol=1e-4)


def test_envmap_models_do_not_encode_the_target_in_training(tmp_path, data_root, monkeypatch):
    from relight_lib.library.models import swapnet

    calls = []
    real = swapnet.SwapNet.outputs

    def spy(self, batch, with_target=True):
        if self.training:
            calls.append(with_target)
        return real(self, batch, with_target)

    monkeypatch.setattr(swapnet.SwapNet, "outputs", spy)
    monkeypatch.chdir(tmp_path)
    _row(tmp_path, data_root, model="swapnet_envmap", loss_setting="B", variant="envmap",
         steps=1, extra_tables=False, read_at=1.0)
    assert calls == [False]


def test_default_envmap_recipe_is_the_codes():
    import inspect
    from pathlib import Path

    from relight_lib.papers.swapnet import envmap
    from relight_lib.harness import reproduce

    assert inspect.signature(any2any.run_any_to_any).parameters["envmap_recipe"].default == "code"
    assert SwapObjective("B").envmap_recipe == "code"
    assert np.array_equal(envmap.envmap(3500, "NE"), envmap.envmap(3500, "NE", recipe="code"))
    nb = Path(__file__).resolve().parents[2] / "notebooks" / "swapnet"
    for name in ("table1", "discriminator"):
        params = reproduce.notebook_parameters(nb / f"{name}.ipynb")
        assert params["envmap_recipe"] == "code" and params["lpips_form"] == "code"
        assert params["eval_subsets"] == "report" and params["dry_run"] is False
    rows = [r for r in reproduce.load_rows(nb.parent) if r.paper == "swapnet"]
    assert not any("envmap_recipe" in r.params for r in rows)
    modes = {r.variant: r.params.get("discriminator") for r in rows if r.table == "discriminator"}
    assert modes == {"no_gan": False, "with_gan": "pix2pix", "with_gan_code": "code"}


class _StubLPIPS(torch.nn.Module):
    def forward(self, a, b, normalize=False):
        self.normalize = normalize
        return ((a - b) ** 2).flatten(1).mean(1)[:, None, None, None]


def test_lpips_forms():
    obj = SwapObjective("A")
    obj.lpips = _StubLPIPS()
    a, b = torch.zeros(3, 3, 8, 8), torch.ones(3, 3, 8, 8)
    obj.lpips_form = "code"
    assert float(obj.lpips_term(a, b)) == pytest.approx(3.0) and obj.lpips.normalize is False
    obj.lpips_form = "mean"
    assert float(obj.lpips_term(a, b)) == pytest.approx(1.0) and obj.lpips.normalize is True
    assert "summed over the batch" in describe_loss("C")[0]


def test_chance_levels_of_a_uniform_prior():
    from relight_lib.library.data.layout import ALL_CONDITIONS
    from relight_lib.library.data.vidit import SceneIndex, all_pairs

    idx = SceneIndex.from_dict({"Image000": ALL_CONDITIONS, "Image001": ALL_CONDITIONS})
    pairs = all_pairs(idx)
    ch = chance_losses(ALL_CONDITIONS, pairs)
    # uniform temperatures 2500..6500: variance 2e6 K^2 / 2000^2 = 0.5; uniform directions: 1
    assert ch["temperature"].mean() == pytest.approx(0.5)
    assert ch["direction"].mean() == pytest.approx(1.0)
    assert ch["temperature"].shape == (len(pairs),)


def test_plans_an_unrendered_preset_from_its_parameters(tmp_path, monkeypatch):
    """The quick preset is not rendered in tmp_path: the plan counts its pairs from the preset's
    scenes and conditions, and renders nothing."""
    monkeypatch.chdir(tmp_path)
    plan = any2any.run_any_to_any(paper="swapnet", table="table1", variant="envmap",
                                  profile="quick", model="swapnet_envmap", loss_setting="B",
                                  dry_run=True)
    assert (plan["steps"], plan["batch_size"], plan["n_train"]) == (400, 8, 3200)
    assert plan["snapshots"] is None and [e["n"] for e in plan["eval"]] == [100] * 4
    assert any("not rendered yet" in n for n in plan["notes"])
    assert not (tmp_path / "data").exists()


# ---------------------------------------------------------------------------------------------
# validation during training: the learning curve and the plateau test


def test_validation_curve_and_convergence_are_recorded(tmp_path, data_root, monkeypatch):
    import dataclasses

    import relight_lib.library.losses  # noqa: F401
    from relight_lib.papers import profiles

    # (losses.py is imported by train_loop, after the training key is made: imported here first, the
    # two runs below hash the same files whatever ran before in this process)
    monkeypatch.chdir(tmp_path)
    # 5 steps, 2 validation points asked: every round(5 / 2) = 2 steps, and the last
    monkeypatch.setitem(profiles.PROFILES, "smoke",
                        dataclasses.replace(profiles.PROFILES["smoke"], val_points=2))
    # fewer than the 3 evaluation pairs (the plan draws and counts them, its notes say so)
    monkeypatch.setattr(swap_plan, "VAL_PAIRS", 2)
    monkeypatch.setattr(deviations, "VAL_PAIRS", 2)
    _row(tmp_path, data_root, model="swapnet_envmap", loss_setting="B", variant="envmap",
         steps=5, extra_tables=False, read_at=1.0)
    run = tmp_path / "results" / "smoke" / "swapnet" / "table1" / "envmap" / "seed=0"
    hist = pd.read_csv(run / "history.csv")
    val = hist[hist["val_psnr"].notna()]
    assert list(val["step"]) == [2, 4, 5] and val["val_ssim"].notna().all()
    assert np.isfinite(val["val_psnr"]).all()
    rj = json.loads((run / "run.json").read_text())
    assert rj["params"]["val_every"] == 2 and rj["params"]["n_val_pairs"] == 2
    conv = rj["extra"]["convergence"]
    assert conv["n_evals"] == 3 and conv["converged"] is None  # too few points to tell
    assert (run / "figures" / "loss.png").exists()
    # validation is not part of the training key: without it the finished checkpoint is reused
    # (nothing is trained again) and its history keeps the curve
    monkeypatch.setitem(profiles.PROFILES, "smoke",
                        dataclasses.replace(profiles.PROFILES["smoke"], val_points=0))
    monkeypatch.setattr(loop, "train_loop", _no_training(loop.train_loop))
    # (another key: the runner's key of a row whose profile changed differs, since profiles.py
    # is one of its recorded files; with the same key the finished seed would be kept whole)
    _row(tmp_path, data_root, model="swapnet_envmap", loss_setting="B", variant="envmap",
         steps=5, extra_tables=False, read_at=1.0, cache_key="j" * 64)
    rj2 = json.loads((run / "run.json").read_text())
    assert rj2["extra"]["training_key"] == rj["extra"]["training_key"]
    # the scoring, the figures and the runner are not training files (a change there
    # re-evaluates); the training loop is
    files = set(rj["extra"]["training_files"])
    assert not files & set(loop.EVAL_FILES) and "papers/swapnet/loop.py" in files
    assert rj2["params"]["val_every"] == 0 and rj2["extra"]["convergence"] == conv
    pd.testing.assert_frame_equal(pd.read_csv(run / "history.csv"), hist)


def _no_training(train):
    """``train_loop`` that fails if it would run a step (it may only resume a finished run)."""
    def wrapped(*args, **kw):
        history, step_times = train(*args, **kw)
        assert step_times == [], "trained again"
        return history, step_times
    return wrapped


def test_val_set_is_spread_over_the_evaluation_set():
    ds = list(range(10))
    assert budget.validation_subset(ds, 20) is ds
    sub = budget.validation_subset(ds, 4)
    assert [sub[i] for i in range(len(sub))] == [0, 3, 6, 9]


def test_validation_changes_neither_weights_nor_rng(tmp_path, data_root):
    """Training with validation (and interrupted in the middle, then resumed: exact resume)
    gives the weights, BatchNorm statistics and losses of training without it, and leaves the
    global RNG stream alone."""
    from relight_lib.library.data.vidit import AnyToAnyDataset, any_pair
    from relight_lib.library.models.patchgan import PatchGAN
    from relight_lib.library.models.swapnet import SwapNetIllum

    train_set = AnyToAnyDataset(data_root, "train", any_pair, size=32, n_pairs=6, seed=0)
    val_set = AnyToAnyDataset(data_root, "validation", any_pair, size=32, n_pairs=3, seed=0)
    objective = SwapObjective("A")

    def train(name, steps, val_every, fresh=True, modules=None, on_step=None):
        if fresh:
            torch.manual_seed(0)
            net = SwapNetIllum()
            modules = (net, net.make_predicter(32), PatchGAN())
        history, _ = loop.train_loop(
            *modules, objective, train_set, steps=steps, batch_size=2, seed=0,
            device=torch.device("cpu"), lr=1e-3, ckpt=tmp_path / f"{name}.pt", ckpt_every=0,
            progress=False, gan="pix2pix", val_set=val_set if val_every else None,
            val_every=val_every, on_step=on_step)
        return modules, history, torch.rand(4)  # the next draws of the global stream

    def state(modules):
        return {f"{i}.{k}": v for i, m in enumerate(modules) for k, v in m.state_dict().items()}

    plain, h_plain, r_plain = train("plain", 4, 0)
    valid, h_val, r_val = train("val", 4, 2)
    def interrupt(step, loss):
        if step == 3:
            raise KeyboardInterrupt  # Ctrl-C: fit keeps the 3 steps done

    with pytest.raises(KeyboardInterrupt):
        train("resumed", 4, 2, on_step=interrupt)
    from relight_lib.library.train import load_checkpoint

    assert load_checkpoint(tmp_path / "resumed.pt")["step"] == 3
    resumed, h_res, _ = train("resumed", 4, 2)  # fresh modules: resumes from step 3
    assert torch.equal(r_plain, r_val)
    ref = state(plain)
    assert any("running_mean" in k for k in ref)
    for other in (valid, resumed):
        got = state(other)
        assert got.keys() == ref.keys()
        assert all(torch.equal(ref[k], got[k]) for k in ref), \
            [k for k in ref if not torch.equal(ref[k], got[k])]
    assert [h["loss"] for h in h_val] == [h["loss"] for h in h_plain]
    assert not any("val_psnr" in h for h in h_plain)
    assert [h["step"] for h in h_val if "val_psnr" in h] == [2, 4]
    assert [h.get("val_psnr") for h in h_res] == [h.get("val_psnr") for h in h_val]


def test_any_to_any_training_writes_the_runners_progress(tmp_path, data_root, monkeypatch):
    """Through fit, an any-to-any seed writes the same progress status as a one-to-one row,
    and trains on in-memory pairs to the weights of the streamed set."""
    from relight_lib.library import train
    from relight_lib.library.data.memory import InMemoryPairs
    from relight_lib.library.data.vidit import AnyToAnyDataset, any_pair
    from relight_lib.library.models.swapnet import SwapNetIllum

    path = tmp_path / "status.json"
    monkeypatch.setenv(train.PROGRESS_ENV, str(path))
    train_set = AnyToAnyDataset(data_root, "train", any_pair, size=32, n_pairs=4, seed=0)

    def run(data, name):
        torch.manual_seed(0)
        net = SwapNetIllum()
        loop.train_loop(net, net.make_predicter(32), None, SwapObjective("A"), data, steps=2,
                        batch_size=2, seed=3, device=torch.device("cpu"), lr=1e-3,
                        ckpt=tmp_path / f"{name}.pt", ckpt_every=0, progress=False)
        return net.state_dict()

    streamed = run(train_set, "streamed")
    got = train.read_progress(path)
    assert {k: got[k] for k in ("seed", "stage", "step", "total", "phase")} == \
        {"seed": 3, "stage": "train", "step": 2, "total": 2, "phase": "trained"}
    in_memory = run(InMemoryPairs(train_set), "memory")
    assert all(torch.equal(v, in_memory[k]) for k, v in streamed.items())


def test_short_profiles_warm_up_and_decay_the_rate_the_paper_keeps_it(tmp_path, data_root):
    """Below the paper budget both optimisers follow the warm-up + cosine curve (a closed form
    of the step, so a resumed run follows it too); at the paper budget the code's constant
    rate."""
    from relight_lib.library.data.vidit import AnyToAnyDataset, any_pair
    from relight_lib.library.models.patchgan import PatchGAN
    from relight_lib.library.models.swapnet import SwapNetIllum
    from relight_lib.library.train import lr_at

    paper = budget.train_config(budget.Budget(60_000, 8, 0, None, None, True), 1e-3)
    assert paper.schedule == "constant" and paper.lr == 1e-3
    short = budget.train_config(budget.Budget(6, 2, 12, None, None, False), 1e-3)
    assert short.schedule == "warmup_cosine" and short.final_lr == pytest.approx(1e-5)

    train_set = AnyToAnyDataset(data_root, "train", any_pair, size=32, n_pairs=6, seed=0)
    objective = SwapObjective("A")

    def train(steps):
        torch.manual_seed(0)
        net = SwapNetIllum()
        return loop.train_loop(
            net, net.make_predicter(32), PatchGAN(), objective, train_set, steps=steps,
            batch_size=2, seed=0, device=torch.device("cpu"), lr=1e-3,
            ckpt=tmp_path / "run.pt", ckpt_every=0, progress=False, gan="pix2pix",
            schedule=short)[0]

    history = train(6)
    want = [lr_at(short, 6, s) for s in range(6)]
    assert [h["lr"] for h in history] == pytest.approx(want)
    # 5 % of 6 steps is no warm-up step: a decay from the peak only
    assert want == sorted(want, reverse=True) and want[0] == pytest.approx(1e-3)
    long = budget.train_config(budget.Budget(400, 8, 3200, None, None, False), 1e-3)
    curve = [lr_at(long, 400, s) for s in (0, 10, 20, 399)]
    assert curve[0] < curve[1] < curve[2] and curve[3] < curve[2]  # warm-up, then decay


@pytest.fixture()
def per_seed_smoke(tmp_path, monkeypatch):
    """The smoke profile drawing a tiny any-to-any set per seed (seeds 0 and 1 rendered)."""
    import dataclasses

    from relight_lib.library.data import synvidit
    from relight_lib.papers import profiles

    pytest.importorskip("mitsuba")
    monkeypatch.chdir(tmp_path)
    tiny = synvidit.RenderConfig(n_scenes=5, split_sizes=(2, 1, 2), size=16, spp=1,
                                 conditions=TAGS)
    monkeypatch.setitem(synvidit.PER_SEED, "smoke", {"track1": tiny, "any2any": tiny})
    monkeypatch.setitem(profiles.PROFILES, "smoke", dataclasses.replace(
        profiles.PROFILES["smoke"], scene_seed="per_seed", val_points=1,
        track1_root="data/synvidit/smoke-s{seed}-track1",
        any2any_root="data/synvidit/smoke-s{seed}-any2any"))
    profiles.ensure_data(profiles.resolve("smoke", seeds=[0, 1]), jobs=1, progress=False,
                         log=lambda *a: None)
    return tmp_path


def _per_seed_runs(root, variant):
    runs = [json.loads((root / "results" / "smoke" / "swapnet" / "table1" / variant /
                        f"seed={k}" / "run.json").read_text()) for k in (0, 1)]
    pers = [pd.read_csv(root / "results" / "smoke" / "swapnet" / "table1" / variant /
                        f"seed={k}" / "per_image.csv") for k in (0, 1)]
    return runs, pers


def test_per_seed_data_each_seed_reads_its_own_set(per_seed_smoke):
    """Each seed's row is resolved on its own any-to-any set and scored on its test split."""
    from relight_lib.library.data import synvidit

    any2any.run_any_to_any(paper="swapnet", table="table1", variant="identity",
                           profile="smoke", results_root="results", model="identity",
                           seeds=[0, 1], n_eval_pairs=2, extra_tables=False)
    runs, pers = _per_seed_runs(per_seed_smoke, "identity")
    data = [r["extra"]["data"] for r in runs]
    assert [d["root"] for d in data] == ["data/synvidit/smoke-s0-any2any",
                                         "data/synvidit/smoke-s1-any2any"]
    assert [d["scene_seed"] for d in data] == [synvidit.scene_seed("smoke", "any2any", k)
                                               for k in (0, 1)]
    assert runs[0]["data_manifest_sha256"] != runs[1]["data_manifest_sha256"]
    assert all(r["split"] == "test" for r in runs)
    for per in pers:  # test scenes only (Image003, Image004)
        scenes = {s for key in per["image"] for s in (_parse(key)[0], _parse(key)[2])}
        assert scenes <= {"Image003", "Image004"}
    plan = any2any.run_any_to_any(paper="swapnet", table="table1", variant="v",
                                  profile="smoke", model="swapnet_envmap", loss_setting="B",
                                  seeds=[0, 1], steps=2, n_eval_pairs=2, extra_tables=False,
                                  dry_run=True)
    assert [d["folder"] for d in plan["data"]] == [d["root"] for d in data]
    assert plan["eval"][0]["split"] == "test" and plan["validation"]["split"] == "validation"


@pytest.mark.slow
def test_per_seed_rows_validate_on_validation_and_score_on_test(per_seed_smoke):
    any2any.run_any_to_any(paper="swapnet", table="table1", variant="v", profile="smoke",
                           results_root="results", model="swapnet_envmap", loss_setting="B",
                           seeds=[0, 1], steps=2, n_eval_pairs=2, extra_tables=False,
                           read_at=1.0)
    runs, pers = _per_seed_runs(per_seed_smoke, "v")
    assert all(r["split"] == "test" and r["params"]["n_val_pairs"] > 0 for r in runs)
    assert runs[0]["extra"]["training_key"] != runs[1]["extra"]["training_key"]
    for per in pers:
        scenes = {s for key in per["image"] for s in (_parse(key)[0], _parse(key)[2])}
        assert scenes <= {"Image003", "Image004"}


def test_the_profiles_eval_limit_caps_the_validation_pairs(data_root, monkeypatch):
    """Validation reads at most the profile's ``eval_limit`` pairs, as the evaluation sets do:
    16 protocol pairs in the fixture's validation split, 4 at smoke."""
    import dataclasses

    from relight_lib.papers import profiles

    def n_val():
        plan = any2any.run_any_to_any(paper="swapnet", table="table1", variant="v",
                                      profile="smoke", model="swapnet_illum", loss_setting="A",
                                      data_root=str(data_root), steps=4, extra_tables=False,
                                      dry_run=True)
        return plan["validation"]["n"]

    assert profiles.PROFILES["smoke"].eval_limit == 4 and n_val() == 4
    monkeypatch.setitem(profiles.PROFILES, "smoke",
                        dataclasses.replace(profiles.PROFILES["smoke"], eval_limit=None))
    assert n_val() == 16
