"""Plan mode (``relight reproduce --dry-run``): every committed row plans at every profile, the
paper profile on a tiny SynVIDIT render standing in for real VIDIT, without training anything."""

import json
from pathlib import Path

import pytest

from relight_lib import cli
from relight_lib.papers import profiles
from relight_lib.harness import reproduce

REPO = Path(__file__).resolve().parents[2]

# Under `pytest -n` these run on one worker: `relight try` renders the smoke SynVIDIT set into the
# repository's data/ when it is missing, and the plans read the same folders
pytestmark = pytest.mark.xdist_group("repository_data")

PLAN_KEYS = {"row", "model", "model_kwargs", "parameters", "image_size", "train_size",
             "batch_size", "steps", "epochs", "n_train", "precision", "optimizer",
             "lr_schedule", "loss", "eval", "postprocess", "snapshots", "deviations", "notes"}


@pytest.fixture(scope="module")
def tiny_vidit(tmp_path_factory):
    """A 6-scene, 16 px SynVIDIT set with all 40 conditions and the Track 1 folders."""
    pytest.importorskip("mitsuba")
    from relight_lib.library.data import synvidit

    root = tmp_path_factory.mktemp("plan") / "vidit"
    synvidit.render_dataset(root, synvidit.RenderConfig(n_scenes=6, size=16, spp=1, seed=3),
                            progress=False)
    return root


@pytest.fixture()
def in_repo(monkeypatch):
    # the profiles' data folders and the notebooks are relative to the repository root; a
    # missing SynVIDIT preset is planned from its parameters, so nothing is rendered here
    monkeypatch.chdir(REPO)


@pytest.mark.parametrize("profile", ["smoke", "quick", "gpu", "paper"])
def test_every_row_plans_at_every_profile(profile, tiny_vidit, in_repo):
    data_root = str(tiny_vidit) if profile == "paper" else None
    plans, failures = reproduce.plan_rows(profile, data_root=data_root, log=lambda *a: None)
    assert failures == {}
    rows = [r for r in reproduce.load_rows(budget_checks=True) if r.runs_at(profile)]
    assert set(plans) == {r.name for r in rows}
    # the profile's bf16, where this machine runs it natively (the paper profile trains in fp32)
    from relight_lib.library import utils

    cfg = profiles.resolve(profile, data_root=data_root)
    native = utils.bf16_native(utils.pick_device(cfg.device))
    bf16 = {p: "bf16" if profiles.PROFILES[p].amp and native else "fp32" for p in profiles.PROFILES}
    for name, plan in plans.items():
        assert PLAN_KEYS <= set(plan), name
        trained = plan["steps"] > 0
        if trained:
            assert plan["lr_schedule"][0][0] == 0 and plan["loss"], name
            assert plan["precision"] == bf16[profile], name
        assert all(ev["n"] >= 1 for ev in plan["eval"]), name
        json.dumps(plan)  # plans are written as JSON by --plan-json
    if profile != "paper":
        prof = profiles.resolve(profile)
        assert all(p["image_size"] == prof.size for p in plans.values())
        return
    # the paper's own budgets, in epochs where the papers count epochs
    epochs = {n.split("/")[0]: p["epochs"] for n, p in plans.items() if p["epochs"]}
    assert epochs.get("mbnet") == 200 and epochs.get("msrnet") == 2500
    assert epochs.get("ltnet") == 300
    for name, plan in plans.items():
        if name.startswith(("ltnet", "msrnet")):
            assert plan["batch_size"] == 2, name
        if name.startswith("mbnet"):
            assert plan["batch_size"] == 3, name


def test_mbnet_baseline_trains_a_third_of_the_extra_data_steps(tiny_vidit, in_repo):
    plans, _ = reproduce.plan_rows("paper", paper="mbnet", data_root=str(tiny_vidit),
                                   log=lambda *a: None)
    base, extra = plans["mbnet/table1/baseline"], plans["mbnet/table1/extra_data"]
    assert extra["n_train"] == 3 * base["n_train"] and base["epochs"] == extra["epochs"] == 200
    # one drop, after a quarter of each row's own budget
    for p in (base, extra):
        assert [s for s, _ in p["lr_schedule"]] == [0, round(p["steps"] / 4)]


def test_cli_dry_run_prints_plans_and_names_rows_it_cannot_plan(tiny_vidit, in_repo, capsys,
                                                                  tmp_path, monkeypatch):
    out_json = tmp_path / "plans.json"
    code = cli.main(["reproduce", "--profile", "paper", "--paper", "msrnet", "--table", "table2",
                     "--variant", "dmshn_cl", "--dry-run", "--data-root", str(tiny_vidit),
                     "--plan-json", str(out_json)])
    out = capsys.readouterr().out
    assert code == 0
    assert "2,500 epochs" in out or "2500 epochs" in out
    assert "stage1_l2 (steps 0-" in out and "lr           step 0: 0.002" in out
    assert json.loads(out_json.read_text())["plans"]["msrnet/table2/dmshn_cl"]["epochs"] == 2500
    # without real VIDIT the paper profile cannot plan: every row is named, exit status 1
    monkeypatch.delenv("RELIGHT_VIDIT", raising=False)
    code = cli.main(["reproduce", "--profile", "paper", "--paper", "msrnet", "--dry-run"])
    out = capsys.readouterr().out
    assert code == 1
    assert "cannot be planned: msrnet/table1/dmshn" in out and "CANNOT PLAN" in out
    assert "RELIGHT_VIDIT" in out


def test_quick_dry_run_shows_each_seeds_data_and_the_test_split(in_repo, capsys, monkeypatch):
    # nothing rendered and nothing rendered by the plan: a preset's sizes come from its
    # parameters
    from relight_lib.library.data import synvidit

    monkeypatch.setattr(synvidit, "render_dataset",
                        lambda *a, **k: pytest.fail("a dry run rendered"))
    code = cli.main(["reproduce", "--profile", "quick", "--paper", "msrnet", "--table",
                     "table1", "--variant", "dmshn", "--dry-run"])
    out = capsys.readouterr().out
    assert code == 0
    assert "evaluation   test: 150 pairs" in out
    assert "validation   validation split: 45 pairs" in out
    for k in (0, 1, 2):
        scene_seed = synvidit.scene_seed("quick", "track1", k)
        assert (f"seed {k}: data/synvidit/quick-s{k}-track1 (scene seed {scene_seed}, per seed)"
                f"; scenes 300 train / 45 validation / 150 test") in out
