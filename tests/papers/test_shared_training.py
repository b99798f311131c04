"""One training per distinct recipe: rows whose weights would be identical share one training
key (the loss actually trained, not the one listed), rows whose weights differ never do, and the
snapshot ensemble reuses LTNet*'s training whichever of the two runs first."""

import json
from pathlib import Path

import pytest
import torch

from relight_lib.library import losses
from relight_lib.library.models import build_model
from relight_lib.library.train import training_key
from relight_lib.library.weights import WeightsInfo
from relight_lib.papers import onetoone, profiles
from relight_lib.papers.ltnet import recipe

#: The notebook parameters (notebooks/ltnet/runs.yaml) of the LTNet rows in question.
ROWS = {
    "table3/skip": {"global_residual": True, "residual_loss": False, "reconstruction_loss": True},
    "table6/a_lc": {"loss_setting": "A"},
    "table6/c_lc_lr": {"loss_setting": "C"},
    "table1/ltnet_small": {},
    "table1/ltnet_small_no_dehaze": {"postprocess": None},
    "table1/ltnet_small_ensemble": {"ensemble": "paper"},
    "table3/no_skip": {"global_residual": False, "residual_loss": False},
    "table2/i_d": {"inputs": ["rgb", "depth"]},
    "table5/f1_4_nc_16": {"table5_label": "4,16"},
}


class _StubLPIPS(torch.nn.Module):
    """LPIPS as if its AlexNet weights were found (a file of the given sha256)."""

    def __init__(self, sha: str) -> None:
        super().__init__()
        self.weights_info = WeightsInfo("alexnet", "file", "/somewhere/alexnet.pth", sha, "stub")

    def forward(self, pred, target):
        return (pred - target).abs().mean()


@pytest.fixture
def lpips_weights(monkeypatch):
    """``lpips_weights(None)``: the AlexNet weights of LPIPS are missing; ``lpips_weights(sha)``:
    found, a file with that sha256 (whatever this machine holds)."""
    real = losses.build_loss

    def use(sha):
        def build(name, **kwargs):
            if name != "lpips":
                return real(name, **kwargs)
            if sha is None:
                raise losses.LPIPSUnavailable("weights for 'alexnet' not found (test)")
            return _StubLPIPS(sha)

        monkeypatch.setattr(losses, "build_loss", build)

    return use


def _recipe(data_root, seed=0, net_weights=None, **params):
    """The training recipe of an LTNet row at the smoke profile (no training)."""
    row = recipe.ltnet_row(profile="smoke", data_root=str(data_root), **params)
    plan = onetoone.resolve_one_to_one(variant="v", profile="smoke", data_root=str(data_root),
                                       plan_only=True, **row)
    objectives = [onetoone.build_objective(st["loss"], plan.cfg.allow_random_backbone)
                  for st in plan.stage_plan]
    net = build_model(plan.model, **plan.model_kwargs)
    if net_weights is not None:
        net.weights_info = net_weights
    return onetoone.training_recipe(plan, seed, profiles.for_seed(plan.cfg, seed), net,
                                    objectives)


def _key(data_root, **kw):
    return training_key(**_recipe(data_root, **kw))[0]


def test_rows_share_the_loss_they_train_not_the_one_they_list(tiny_vidit, lpips_weights):
    lpips_weights(None)  # as here: the optional 0.1 LPIPS term is left out
    keys = {name: _key(tiny_vidit, **p) for name, p in ROWS.items()}
    assert keys["table6/a_lc"] == keys["table3/skip"]  # both train L_C
    # LTNet*, its post-process and ensemble variants and Table 6 C all train L_C + L_r
    star = {keys[r] for r in ("table6/c_lc_lr", "table1/ltnet_small",
                              "table1/ltnet_small_no_dehaze", "table1/ltnet_small_ensemble")}
    assert star == {keys["table1/ltnet_small"]}
    # five distinct trainings: L_C, L_C + L_r, no skip, two inputs, another size
    assert len(set(keys.values())) == 5

    lpips_weights("a" * 64)  # found: the LPIPS term trains, and A, C stand apart
    found = {name: _key(tiny_vidit, **p) for name, p in ROWS.items()}
    assert found["table6/a_lc"] != found["table3/skip"]
    assert found["table6/c_lc_lr"] != found["table1/ltnet_small"]
    assert found["table1/ltnet_small_ensemble"] == found["table1/ltnet_small"]
    # Table 6 D (its LPIPS term required) trains what LTNet* (optional LPIPS) trains
    assert _key(tiny_vidit, loss_setting="D") == found["table1/ltnet_small"]
    assert found["table6/a_lc"] == keys["table6/a_lc"]  # no LPIPS term either way
    assert found["table1/ltnet_small"] != keys["table1/ltnet_small"]
    # another AlexNet file is another training
    lpips_weights("b" * 64)
    assert _key(tiny_vidit) != found["table1/ltnet_small"]


def test_rows_whose_weights_differ_never_share(tiny_vidit, lpips_weights):
    lpips_weights(None)
    random = {"rgb": {"name": "resnet50", "source": "random", "path": None, "sha256": None,
                      "reason": "not found"}}
    from_file = {"rgb": {"name": "resnet50", "source": "file", "path": "/a/r50.pth",
                         "sha256": "c" * 64, "reason": "found"}}
    moved = {"rgb": {**from_file["rgb"], "path": "/elsewhere/r50.pth", "reason": "found there"}}
    base = _recipe(tiny_vidit)
    variants = {
        "seed": _recipe(tiny_vidit, seed=1),
        "inputs": _recipe(tiny_vidit, inputs=["rgb", "depth"]),
        "loss": _recipe(tiny_vidit, loss_setting="A"),
        "model weights random": _recipe(tiny_vidit, net_weights=random),
        "model weights file": _recipe(tiny_vidit, net_weights=from_file),
    }
    # the budget, the rate, the batch, the augmentation and the training size are settings
    for what, change in {"steps": {"steps": 5}, "lr": {"lr": 5e-4}, "batch": {"batch_size": 4},
                         "augment": {"augment": None},  # smoke keeps the paper's flips
                         "train size": {"train_size": 32}}.items():
        if what in ("steps", "lr", "batch"):
            variants[what] = {**base, "settings": {**base["settings"], **change}}
        else:
            variants[what] = {**base, **change}
    keys = {what: training_key(**r)[0] for what, r in variants.items()}
    keys["base"] = training_key(**base)[0]
    assert len(set(keys.values())) == len(keys), keys  # every change is another training
    # where a weights file lies, or the sentence saying so, is not part of the recipe
    assert training_key(**_recipe(tiny_vidit, net_weights=moved))[0] == \
        keys["model weights file"]


def test_evaluation_and_kept_snapshots_do_not_split_the_key(tiny_vidit, lpips_weights):
    lpips_weights(None)
    row = recipe.ltnet_row(profile="smoke")
    ens = recipe.ltnet_row(profile="smoke", ensemble="code")
    # every LTNet row keeps the ensemble's snapshots on the way; only the ensemble uses them
    assert row["keep_snapshots"] == ens["keep_snapshots"] == ens["snapshots"]
    assert "snapshots" not in row
    assert _key(tiny_vidit, postprocess="dehaze_he") == _key(tiny_vidit, ensemble="code") \
        == _key(tiny_vidit)


def _run(variant, data_root, loss=({"name": "l1"},), **kw):
    """One smoke-size row of a tiny network, one seed, four steps (an LTNet row costs minutes on
    a loaded CPU; the mechanism is the same: :func:`recipe.ltnet_row` passes ``keep_snapshots``
    and ``snapshots`` as below)."""
    onetoone.run_one_to_one(paper="demo", table="t", variant=variant, profile="smoke",
                            results_root="results", model="tiny_unet", model_kwargs={"width": 4},
                            loss=list(loss), train={"lr": 5e-2}, data_root=str(data_root),
                            steps=4, **kw)
    return json.loads(open(f"results/smoke/demo/t/{variant}/seed=0/run.json").read())


#: The snapshots every row keeps and the ensemble averages (fractions of the budget).
KEEP = [0.5, 0.75, 1.0]


def test_the_ensemble_and_the_single_model_share_one_training_either_way(
        tmp_path, tiny_vidit, lpips_weights, monkeypatch):
    """The single model then its snapshot ensemble, and the other way round; a row whose LPIPS
    term is left out after the row that trains the same loss without it. Each second row trains
    no step of its own and gives the numbers it gives when it trains."""
    lpips_weights(None)
    (tmp_path / "single_first").mkdir()
    monkeypatch.chdir(tmp_path / "single_first")
    single = _run("single", tiny_vidit, keep_snapshots=KEEP)
    ens = _run("ens", tiny_vidit, keep_snapshots=KEEP, snapshots=KEEP)
    assert single["extra"]["steps_trained_here"] == single["extra"]["train_steps"] == 4
    assert ens["extra"]["steps_trained_here"] == 0
    assert ens["extra"]["training_key"] == single["extra"]["training_key"]
    assert ens["params"]["snapshot_steps"] == [2, 3, 4]
    assert ens["extra"]["timing"]["timed"] == "3-snapshot ensemble"
    ckpts = sorted(p.name for p in Path("_build/checkpoints").rglob("*.pt"))
    assert ckpts == ["seed=0-snapshot2.pt", "seed=0-snapshot3.pt", "seed=0-snapshot4.pt",
                     "seed=0.pt"]

    (tmp_path / "ensemble_first").mkdir()
    monkeypatch.chdir(tmp_path / "ensemble_first")
    ens2 = _run("ens", tiny_vidit, keep_snapshots=KEEP, snapshots=KEEP)
    single2 = _run("single", tiny_vidit, keep_snapshots=KEEP)
    assert ens2["extra"]["steps_trained_here"] == 4
    assert single2["extra"]["steps_trained_here"] == 0
    assert single2["extra"]["training_key"] == ens2["extra"]["training_key"]
    # the same training either way: the same numbers
    assert ens2["metrics"] == ens["metrics"] and single2["metrics"] == single["metrics"]

    # Table 3's skip and Table 6's A: the listed loss differs, the trained one does not
    a = _run("a", tiny_vidit, loss=[{"name": "l1"}, {"name": "lpips", "weight": 0.1,
                                                     "required": False}], keep_snapshots=KEEP)
    assert a["extra"]["steps_trained_here"] == 0 and a["metrics"] == single2["metrics"]
    assert any("lpips term (weight 0.1) left out" in d for d in a["deviations"])


def test_a_training_that_kept_no_snapshot_is_redone_for_the_ensemble(tmp_path, capsys):
    """A finished training without the snapshots an ensemble needs cannot give them (no earlier
    state is left): the seed's checkpoints go, with one line saying why; one that has not
    reached the snapshot's step yet resumes."""
    from relight_lib.library.train import save_checkpoint

    model = build_model("tiny_unet", width=4)
    save_checkpoint(tmp_path / "seed=0.pt", model, step=2)  # 2 steps done
    onetoone._check_snapshots(tmp_path, 0, [3, 4])  # not reached yet: resume
    assert (tmp_path / "seed=0.pt").exists() and capsys.readouterr().out == ""
    save_checkpoint(tmp_path / "seed=0.pt", model, step=4)  # finished, no snapshot kept
    onetoone._check_snapshots(tmp_path, 0, [3, 4])
    assert not list(tmp_path.glob("*.pt"))
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 1 and "kept no snapshot at step(s) 3, 4" in out[0]
    # two stages: the second stage's checkpoint counts from the first stage's end
    stages = [{"name": "s1", "schedule_offset": 0}, {"name": "s2", "schedule_offset": 2}]
    save_checkpoint(tmp_path / "seed=0-s2.pt", model, step=1)  # step 3 of the whole training
    onetoone._check_snapshots(tmp_path, 0, [3], stages)
    assert not list(tmp_path.glob("*.pt"))
