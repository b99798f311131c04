"""One table row end to end: train, evaluate, write results (and the honest 'not run here')."""

import json

import pandas as pd
import pytest
import torch

from relight_lib.papers import onetoone, onetoone_eval
from relight_lib.harness import results
from relight_lib.library.data import synvidit


@pytest.fixture(scope="module")
def data_root(tmp_path_factory):
    pytest.importorskip("mitsuba")
    root = tmp_path_factory.mktemp("exp") / "set"
    cfg = synvidit.RenderConfig(n_scenes=5, size=32, spp=2, seed=5, conditions=("6500_N", "4500_E", "6500_NE", "4500_W"))
    synvidit.render_dataset(root, cfg, progress=False)
    return root


def _row(tmp_path, data_root, loss, variant="v"):
    return onetoone.run_one_to_one(
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


def test_a_rerun_skips_the_seeds_already_finished_with_the_same_key(tmp_path, data_root,
                                                                   monkeypatch, capsys):
    """An interrupted row, rerun on a machine without its checkpoints (a new session), trains
    only the seeds it had not finished; a seed recorded under another key trains again."""
    import shutil

    from relight_lib.library import train as train_mod

    monkeypatch.chdir(tmp_path)
    kw = dict(paper="demo", table="t1", variant="v", profile="smoke",
              results_root=str(tmp_path / "results"), cache_key="r" * 64, model="tiny_unet",
              model_kwargs={"width": 4}, loss=[{"name": "l1"}], train={"lr": 1e-3},
              data_root=str(data_root), steps=2)
    first = onetoone.run_one_to_one(**kw, seeds=[0])
    shutil.rmtree(tmp_path / "_build")  # the checkpoints are gone, the results are kept
    calls = []
    real_fit = train_mod.fit
    monkeypatch.setattr(onetoone, "fit", lambda *a, **k: calls.append(a[-1].seed)
                        or real_fit(*a, **k))
    capsys.readouterr()
    both = onetoone.run_one_to_one(**kw, seeds=[0, 1])
    assert calls == [1]  # seed 1 only
    assert "seed 0: finished by an earlier run of this row" in capsys.readouterr().out
    pd.testing.assert_frame_equal(both[both.seed == 0].reset_index(drop=True),
                                  first.reset_index(drop=True), check_dtype=False)
    assert set(both.seed) == {0, 1}
    # another key (a changed parameter): seed 0 trains again
    calls.clear()
    onetoone.run_one_to_one(**{**kw, "cache_key": "s" * 64}, seeds=[0])
    assert calls == [0]


def test_required_term_missing_means_not_run_here(tmp_path, data_root, monkeypatch):
    monkeypatch.chdir(tmp_path)
    _row(tmp_path, data_root, [{"name": "charbonnier"}, {"name": "lpips", "weight": 0.5}],
         variant="needs_lpips")
    ours = results.load_results(tmp_path / "results", "smoke", paper="demo")
    assert ours["value"].isna().all()
    assert ours["note"].str.startswith("not run here: lpips loss unavailable").all()


def test_bad_loss_terms():
    with pytest.raises(ValueError, match="not one of"):
        onetoone.build_objective([{"name": "hinge"}], allow_random=True)
    with pytest.raises(ValueError, match="unknown keys"):
        onetoone.build_objective([{"name": "charbonnier", "wieght": 2}], allow_random=True)
    with pytest.raises(ValueError, match="'on'"):
        onetoone.build_objective([{"name": "charbonnier", "on": "depth"}], allow_random=True)


def test_two_stages_train_one_model_along_one_lr_curve(tmp_path, data_root, monkeypatch):
    monkeypatch.chdir(tmp_path)
    onetoone.run_one_to_one(
        paper="demo", table="t1", variant="staged", profile="smoke",
        results_root=str(tmp_path / "results"), cache_key="s" * 64, model="tiny_unet",
        model_kwargs={"width": 4}, stages=[
            {"name": "stage1", "loss": [{"name": "mse"}], "fraction": 0.5},
            {"name": "stage2", "loss": [{"name": "l1"}], "fraction": 0.5}],
        train={"lr": 1e-2, "final_lr": 1e-4, "schedule": "exponential"}, train_scale=0.5,
        data_root=str(data_root), steps=4)
    run = tmp_path / "results" / "smoke" / "demo" / "t1" / "staged" / "seed=0"
    import pandas as pd

    h = pd.read_csv(run / "history.csv")
    assert list(h["stage"]) == ["stage1"] * 2 + ["stage2"] * 2
    assert list(h["step"]) == [1, 2, 3, 4]
    # one exponential curve from 1e-2 (first step) to 1e-4 (last step), cut in two
    assert h["lr"].tolist() == pytest.approx([1e-2 * 1e-2 ** (t / 3) for t in range(4)])
    rj = json.loads((run / "run.json").read_text())
    assert rj["params"]["train_size"] == 32 and rj["params"]["size"] == 64  # half-size training
    assert rj["params"]["stages"][1]["name"] == "stage2" and rj["params"]["loss"] is None
    # where the seed's time went: both stages' training, the evaluation, the run-time column
    sec = rj["extra"]["seconds"]
    assert set(sec) == {"train", "evaluate", "run_time"} and sec["train"] > 0
    assert sec["train"] + sec["evaluate"] + sec["run_time"] <= rj["wall_time_s"] + 0.1


def test_plan_stages_errors():
    tr = {"lr": 1e-3, "final_lr": 1e-5, "schedule": "exponential"}
    with pytest.raises(ValueError, match="exactly one"):
        onetoone.plan_stages(10, [{"name": "l1"}], [{"loss": [], "fraction": 1}], tr)
    with pytest.raises(ValueError, match="sum to 1"):
        onetoone.plan_stages(10, None, [{"loss": [], "fraction": 0.3}], tr)
    (one,) = onetoone.plan_stages(10, [{"name": "l1"}], None, tr)
    assert one["steps"] == 10 and one["final_lr"] == 1e-5


def test_mbnet_extra_pairs(data_root):
    from relight_lib.library.data.transforms import hflip_pair
    from relight_lib.library.data.vidit import OneToOneDataset

    base = onetoone.training_pairs(str(data_root), 32, "track1")
    extra = onetoone.training_pairs(str(data_root), 32, "mbnet_extra")
    assert len(extra) == 3 * len(base)
    n = len(base)
    west = OneToOneDataset(data_root, "train", size=32, input_condition="6500_N",
                           target_condition="4500_W", source="any2any")
    mirrored, plain = extra[2 * n], west[0]
    assert mirrored["key"] == plain["key"] + "_mirrored"
    for k in ("input", "target", "depth"):
        assert torch.equal(mirrored[k], hflip_pair(plain)[k])
    ne = extra[n]
    assert torch.equal(ne["target"], base[0]["target"])  # same 4500-E target
    assert not torch.equal(ne["input"], base[0]["input"])  # 6500-NE input, not 6500-N
    with pytest.raises(ValueError, match="not one of"):
        onetoone.training_pairs(str(data_root), 32, "everything")


def test_snapshot_ensemble_averages_kept_weights(tmp_path, data_root, monkeypatch):
    monkeypatch.chdir(tmp_path)

    def row(variant, snapshots):
        return onetoone.run_one_to_one(
            paper="demo", table="t1", variant=variant, profile="smoke",
            results_root=str(tmp_path / "results"), cache_key=variant * 12, model="tiny_unet",
            model_kwargs={"width": 4}, loss=[{"name": "l1"}], train={"lr": 5e-2},
            data_root=str(data_root), steps=4, snapshots=snapshots)

    final = row("final", None).set_index("metric")["mean"]
    last_only = row("last", [1.0]).set_index("metric")["mean"]
    ens = row("ens", [0.5, 1.0]).set_index("metric")["mean"]
    assert last_only["psnr"] == pytest.approx(final["psnr"], abs=1e-9)  # one snapshot = final
    assert ens["psnr"] != pytest.approx(final["psnr"], abs=1e-6)  # the mean of two differs
    # one recipe, one training folder; a training that kept too few snapshots was redone (no
    # row here keeps snapshots it does not use) and holds the ensemble's at the end
    ckpts = tmp_path / "_build" / "checkpoints"
    assert len(list(ckpts.rglob("seed=0.pt"))) == 1
    assert sorted(p.name for p in ckpts.rglob("*snapshot*")) == \
        ["seed=0-snapshot2.pt", "seed=0-snapshot4.pt"]
    rj = json.loads((tmp_path / "results/smoke/demo/t1/ens/seed=0/run.json").read_text())
    assert rj["params"]["snapshot_steps"] == [2, 4]
    # every member is validated and judged; the ensemble's validation is recorded beside them
    val = rj["extra"]["ensemble_validation"]
    assert set(val["members"]) == {"2", "4"} and val["ensemble"]["val_psnr"] > 0
    hist = pd.read_csv(tmp_path / "results/smoke/demo/t1/ens/seed=0/history.csv")
    final_val = hist["val_psnr"].dropna().iloc[-1]
    assert val["members"]["4"]["val_psnr"] == pytest.approx(final_val, abs=1e-4)
    checks = rj["extra"]["convergence"]["checks"]
    assert [c["what"] for c in checks] == ["final", "member 2"]
    # each member's own value is the curve's at its step (the same weights, the same set)
    at2 = hist.loc[hist["step"] == 2, "val_psnr"].iloc[0]
    assert val["members"]["2"]["val_psnr"] == pytest.approx(at2, abs=1e-4)
    # and on SSIM, so that SSIM claims can judge every member too
    for step in (2, 4):
        at = hist.loc[hist["step"] == step, "val_ssim"].iloc[0]
        assert val["members"][str(step)]["val_ssim"] == pytest.approx(at, abs=1e-4)
    from relight_lib.library.convergence import claim_columns, from_history

    on_ssim = from_history(hist.to_dict("records"), members=[2, 4],
                           member_values=val["members"], metrics=claim_columns("ssim"))
    assert [c.what for c in on_ssim.checks] == ["final", "member 2"]
    assert "not validated" not in on_ssim.checks[1].reason
    with pytest.raises(ValueError, match="in \\(0, 1\\]"):
        onetoone.snapshot_steps(4, [0.0])


def test_rows_with_the_same_training_share_one_checkpoint(tmp_path, data_root, monkeypatch):
    monkeypatch.chdir(tmp_path)

    def row(variant, post, lr=1e-3):
        return onetoone.run_one_to_one(
            paper="demo", table="t1", variant=variant, profile="smoke",
            results_root=str(tmp_path / "results"), cache_key=variant * 8, model="tiny_unet",
            model_kwargs={"width": 4}, loss=[{"name": "l1"}], train={"lr": lr},
            postprocess=post, data_root=str(data_root), steps=3)

    row("plain", None)
    row("dehazed", "dehaze")  # same training, another post-process: resumes the finished run
    ckpts = sorted((tmp_path / "_build" / "checkpoints").rglob("seed=0.pt"))
    assert len(ckpts) == 1
    import pandas as pd

    runs = tmp_path / "results" / "smoke" / "demo" / "t1"
    h1 = pd.read_csv(runs / "plain" / "seed=0" / "history.csv")
    h2 = pd.read_csv(runs / "dehazed" / "seed=0" / "history.csv")
    pd.testing.assert_frame_equal(h1, h2)  # the same training, its history carried over
    row("other_lr", None, lr=2e-3)  # another setting trains on its own
    assert len(sorted((tmp_path / "_build" / "checkpoints").rglob("seed=0.pt"))) == 2


class _RecordsDevice(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.moved_to = []

    def to(self, *args, **kwargs):
        self.moved_to.append(args[0] if args else kwargs.get("device"))
        return super().to(*args, **kwargs)

    def forward(self, pred, target):
        return (pred - target).abs().mean()


def test_objective_moves_its_loss_networks_to_the_prediction_device():
    term = _RecordsDevice()
    obj = onetoone.Objective(terms=[(1.0, "output", term)])
    pred = torch.rand(1, 3, 8, 8)
    obj(pred, {"target": torch.zeros_like(pred), "input": pred})
    assert term.moved_to == [pred.device]


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_objective_with_a_vgg_term_runs_on_cuda():
    """The perceptual (VGG) term is built on the CPU; on a GPU it must follow the prediction
    (MSR-Net's L_CL and MBNet's loss failed on an H200 before)."""
    obj = onetoone.build_objective(
        [{"name": "perceptual", "weight": 0.006, "kwargs": {"arch": "vgg16"}},
         {"name": "l1", "weight": 1.0}], allow_random=True)
    pred = torch.rand(2, 3, 32, 32, device="cuda", requires_grad=True)
    loss = obj(pred, {"target": torch.rand(2, 3, 32, 32, device="cuda"), "input": pred})
    loss.backward()
    assert pred.grad is not None and torch.isfinite(loss)


def test_postprocessed_row_also_scores_the_bare_network(tmp_path, data_root, monkeypatch):
    monkeypatch.chdir(tmp_path)
    onetoone.run_one_to_one(
        paper="demo", table="t1", variant="dehazed", profile="smoke",
        results_root=str(tmp_path / "results"), model="tiny_unet", model_kwargs={"width": 4},
        loss=[{"name": "l1"}], train={"lr": 1e-3}, data_root=str(data_root), steps=2,
        postprocess="dehaze", snapshots=[0.5, 1.0])
    ours = results.load_results(tmp_path / "results", "smoke", paper="demo")
    psnr = ours.set_index("metric")["value"]
    assert {"psnr", "ssim", "psnr" + onetoone_eval.NO_POSTPROCESS,
            "ssim" + onetoone_eval.NO_POSTPROCESS} <= set(psnr.index)
    assert psnr["psnr"] != psnr["psnr" + onetoone_eval.NO_POSTPROCESS]  # dehazing changed the image
    rj = json.loads(next((tmp_path / "results").rglob("run.json")).read_text())
    # the run-time column times what the row does: both snapshots, then the dehazing
    assert rj["extra"]["timing"]["timed"] == "2-snapshot ensemble + dehaze"


def test_a_budget_check_trains_longer_and_says_so(tmp_path, data_root, monkeypatch):
    monkeypatch.chdir(tmp_path)
    kw = dict(paper="demo", table="t1", variant="v__x2", profile="smoke", results_root="results",
              model="tiny_unet", model_kwargs={"width": 4}, loss=[{"name": "l1"}],
              train={"lr": 1e-3}, data_root=str(data_root), snapshots=[0.5, 1.0], dry_run=True)
    base = onetoone.run_one_to_one(**kw)
    plan = onetoone.run_one_to_one(**kw, budget_scale=2)
    assert plan["steps"] == 2 * base["steps"]
    assert plan["snapshots"] == [2 * s for s in base["snapshots"]]  # fractions of the budget
    assert any(d.startswith(f"Budget check: trained for 2 x the row's budget ({base['steps']:,}"
                            f" -> {plan['steps']:,} steps") for d in plan["deviations"])
    assert not any(d.startswith("Budget check") for d in base["deviations"])


def test_dry_run_plans_without_training_or_writing(tmp_path, data_root, monkeypatch):
    monkeypatch.chdir(tmp_path)
    plan = onetoone.run_one_to_one(
        paper="demo", table="t1", variant="v", profile="paper", results_root="results",
        model="tiny_unet", model_kwargs={"width": 4}, loss=[{"name": "l1"}],
        train={"lr": 1e-3, "drop_fractions": [0.25]}, data_root=str(data_root),
        paper_budget={"epochs": 10, "batch_size": 2}, dry_run=True)
    n_train = plan["n_train"]
    assert plan["steps"] == 10 * (n_train // 2) and plan["epochs"] == 10
    assert plan["precision"] == "fp32" and plan["batch_size"] == 2
    assert [lr for _, lr in plan["lr_schedule"]] == [1e-3, pytest.approx(1e-4)]
    assert plan["loss"] == ["1 x l1"] and plan["parameters"] > 0
    assert plan["eval"][0]["n"] >= 1 and plan["image_size"] == 1024
    assert not (tmp_path / "results").exists() and not (tmp_path / "_build").exists()


def test_a_profile_recipe_may_change_train_scale_and_says_so(tmp_path, data_root, monkeypatch):
    monkeypatch.chdir(tmp_path)
    recipe = {"steps": 3, "batch_size": 2, "lr": 1e-3, "final_lr": 1e-5,
              "schedule": "warmup_cosine", "warmup": 0.05, "train_scale": 1.0}
    kw = dict(paper="demo", table="t1", variant="v", profile="smoke", results_root="results",
              model="tiny_unet", model_kwargs={"width": 4}, loss=[{"name": "l1"}],
              data_root=str(data_root), dry_run=True, short_budgets={"smoke": recipe})
    plan = onetoone.run_one_to_one(train_scale=0.5, **kw)
    assert plan["train_size"] == plan["image_size"]
    assert any("1 x the evaluation size instead of the paper's 0.5 x" in d
               for d in plan["deviations"])
    plan = onetoone.run_one_to_one(train_scale=1.0, **kw)  # nothing to say when they agree
    assert not any("evaluation size instead" in d for d in plan["deviations"])


def test_a_profile_recipe_may_drop_the_augmentation_and_says_so(tmp_path, data_root,
                                                                 monkeypatch):
    monkeypatch.chdir(tmp_path)
    recipe = {"steps": 3, "batch_size": 2, "lr": 1e-3, "final_lr": 1e-5,
              "schedule": "warmup_cosine", "warmup": 0.05}
    kw = dict(paper="demo", table="t1", variant="v", profile="smoke", results_root="results",
              model="tiny_unet", model_kwargs={"width": 4}, loss=[{"name": "l1"}],
              data_root=str(data_root), dry_run=True, augment="flip_rotate")
    plan = onetoone.run_one_to_one(short_budgets={"smoke": {**recipe, "augment": None}}, **kw)
    assert plan["augment"] is None
    assert any("trains without augmentation instead of the paper's 'flip_rotate'" in d
               for d in plan["deviations"])
    plan = onetoone.run_one_to_one(short_budgets={"smoke": recipe}, **kw)  # no key: the paper's
    assert plan["augment"] == "flip_rotate"
    assert not any("augmentation instead" in d for d in plan["deviations"])


def test_bf16_rows_list_it_as_a_deviation(tmp_path, data_root, monkeypatch):
    from relight_lib.library import utils

    monkeypatch.chdir(tmp_path)
    kw = dict(paper="demo", table="t1", variant="v", profile="smoke", results_root="results",
              model="tiny_unet", model_kwargs={"width": 4}, loss=[{"name": "l1"}],
              data_root=str(data_root), dry_run=True, amp=True)
    for native in (True, False):
        monkeypatch.setattr(utils, "bf16_native", lambda device, native=native: native)
        plan = onetoone.run_one_to_one(**kw)
        assert plan["precision"] == ("bf16" if native else "fp32")
        assert (onetoone.BF16_DEVIATION in plan["deviations"]) == native


def test_a_row_without_a_budget_at_the_paper_profile_says_so(tmp_path, data_root):
    from relight_lib.papers import profiles

    cfg = profiles.resolve("paper", data_root=str(data_root))
    with pytest.raises(ValueError, match="paper_budget"):
        onetoone.resolve_budget(cfg, {"lr": 1e-3}, None, 10)
    with pytest.raises(ValueError, match="exactly one"):
        onetoone.resolve_budget(cfg, {}, {"epochs": 2, "steps": 3}, 10)
    with pytest.raises(ValueError, match="drop_fractions"):
        onetoone.resolve_budget(cfg, {"drop_fractions": [1.5]}, {"steps": 3}, 10)
    settings, epochs = onetoone.resolve_budget(cfg, {}, {"steps": 7, "batch_size": 5}, 10)
    assert (settings["steps"], settings["batch_size"], epochs) == (7, 5, None)


def test_baseline_rows_fit_evaluate_and_plan(tmp_path, data_root, monkeypatch):
    monkeypatch.chdir(tmp_path)
    summary = onetoone.run_baseline(paper="baselines", table="onetoone", variant="colour_lstsq",
                                    profile="smoke", method="colour_lstsq",
                                    results_root=str(tmp_path / "results"),
                                    data_root=str(data_root))
    assert {"psnr", "ssim"} <= set(summary["metric"])
    run = tmp_path / "results" / "smoke" / "baselines" / "onetoone" / "colour_lstsq" / "seed=0"
    assert (run / "figures" / "examples.png").exists()
    assert len(json.loads((run / "run.json").read_text())["extra"]["model_state"]["matrix"]) == 3
    plan = onetoone.run_baseline(paper="baselines", table="onetoone", variant="identity",
                                 profile="smoke", method="identity", data_root=str(data_root),
                                 dry_run=True)
    assert plan["steps"] == 0 and plan["parameters"] == 0 and plan["eval"][0]["n"] >= 1
    with pytest.raises(ValueError, match="method"):
        onetoone.run_baseline(paper="b", table="t", variant="v", profile="smoke", method="mean",
                              data_root=str(data_root))


def test_per_seed_data_each_seed_trains_and_tests_on_its_own_scenes(tmp_path, monkeypatch):
    """A profile that draws per seed: each seed renders, trains on and is tested on its own
    set; the tables read the test split, the curves the validation split."""
    import dataclasses

    from relight_lib.papers import profiles

    pytest.importorskip("mitsuba")
    monkeypatch.chdir(tmp_path)
    tiny = synvidit.RenderConfig(n_scenes=4, split_sizes=(2, 1, 1), size=16, spp=1,
                                 conditions=("6500_N", "4500_E"))
    monkeypatch.setitem(synvidit.PER_SEED, "smoke", {"track1": tiny, "any2any": tiny})
    monkeypatch.setitem(profiles.PROFILES, "smoke", dataclasses.replace(
        profiles.PROFILES["smoke"], scene_seed="per_seed",
        track1_root="data/synvidit/smoke-s{seed}-track1",
        any2any_root="data/synvidit/smoke-s{seed}-any2any"))
    lines = []
    profiles.ensure_data(profiles.resolve("smoke", seeds=[0, 1]), jobs=1, progress=False,
                         log=lines.append)
    assert len(lines) == 4 and "rendering" in lines[0]
    onetoone.run_one_to_one(
        paper="demo", table="t1", variant="v", profile="smoke", results_root="results",
        model="tiny_unet", model_kwargs={"width": 4}, loss=[{"name": "l1"}],
        train={"lr": 1e-3}, seeds=[0, 1], steps=2)
    runs = [json.loads((tmp_path / "results" / "smoke" / "demo" / "t1" / "v" / f"seed={k}" /
                        "run.json").read_text()) for k in (0, 1)]
    data = [r["extra"]["data"] for r in runs]
    assert [d["root"] for d in data] == ["data/synvidit/smoke-s0-track1",
                                         "data/synvidit/smoke-s1-track1"]
    assert data[0]["scene_seed"] == synvidit.scene_seed("smoke", "track1", 0)
    assert data[0]["scene_seed"] != data[1]["scene_seed"]
    assert runs[0]["data_manifest_sha256"] != runs[1]["data_manifest_sha256"]
    assert runs[0]["data_manifest_sha256"] == profiles.data_manifest_sha256(
        profiles.for_seed(profiles.resolve("smoke"), 0))
    assert all(r["split"] == "test" and data_["n_eval"] == 1 for r, data_ in zip(runs, data))
    ours = results.load_results(tmp_path / "results", "smoke", paper="demo")
    assert set(ours["split"]) == {"test"}
    # the same image name in both seeds' test splits, but other scenes: other values
    psnr = ours[ours.metric == "psnr"].set_index("seed")["value"]
    assert psnr[0] != psnr[1]
    # the plan shows each seed's folder and the two splits, and renders nothing new
    plan = onetoone.run_one_to_one(
        paper="demo", table="t1", variant="v", profile="smoke", results_root="results",
        model="tiny_unet", model_kwargs={"width": 4}, loss=[{"name": "l1"}], seeds=[0, 1, 2],
        steps=2, dry_run=True)
    assert [d["rendered"] for d in plan["data"]] == ["complete", "complete", "missing"]
    assert plan["eval"][0]["split"] == "test" and plan["validation"]["split"] == "validation"
    assert not (tmp_path / "data" / "synvidit" / "smoke-s2-track1").exists()


def test_training_key_data_separates_per_seed_and_fixed_data():
    from relight_lib.papers import profiles

    q = profiles.resolve("quick")
    f = profiles.resolve("quick", scene_seed="fixed")
    per0 = profiles.data_key(profiles.for_seed(q, 0), profiles.for_seed(q, 0).track1_root)
    per1 = profiles.data_key(profiles.for_seed(q, 1), profiles.for_seed(q, 1).track1_root)
    fixed0 = profiles.data_key(profiles.for_seed(f, 0), f.track1_root)
    assert per0["scene_seed"] == synvidit.scene_seed("quick", "track1", 0)
    assert fixed0["scene_seed"] == 0 and fixed0["draw"] == "fixed"
    assert len({json.dumps(k, sort_keys=True) for k in (per0, per1, fixed0)}) == 3
