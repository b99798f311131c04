"""Which rows share one training, and the training time that saves, from run.json files."""

import json
from pathlib import Path

import pytest

from relight_lib.harness.shared_trainings import (effective_recipe, shared_trainings,
                                                  training_seconds_saved)

REPO = Path(__file__).resolve().parents[2]

L_C = {"name": "charbonnier", "weight": 1.0, "kwargs": {"colour": True}}
LPIPS = {"name": "lpips", "weight": 0.1, "required": False}
L_R = {"name": "residual", "weight": 1.0, "on": "residual"}
LEFT_OUT = ("lpips term (weight 0.1) left out of the loss: lpips loss unavailable: cannot use "
            "the LPIPS loss")


def _write(root, table, variant, seed, loss, train_s, lr=1e-3, deviations=(), steps_here=None,
           key=None, weights=None):
    run = root / "quick" / "ltnet" / table / variant / f"seed={seed}"
    run.mkdir(parents=True)
    extra = {"train_steps": 800, "seconds": {"train": train_s},
             "data": {"draw": "per_seed", "scene_seed": seed}}
    if steps_here is not None:
        extra["steps_trained_here"] = steps_here
    if key is not None:
        extra["training_key"] = key
    rec = {"paper": "ltnet", "table": table, "variant": variant, "seed": seed,
           "dataset": "SynVIDIT", "data_manifest_sha256": f"m{seed}",
           "params": {"model": "ltnet", "model_kwargs": {"nc": 16}, "loss": loss,
                      "stages": None, "train": {"steps": 800, "lr": lr}, "train_size": 64,
                      "train_pairs": "track1", "augment": None, "track1_root": "data/q",
                      "postprocess": "dehaze"},
           "weights": weights or {}, "deviations": list(deviations), "extra": extra}
    (run / "run.json").write_text(json.dumps(rec))


def test_groups_rows_by_the_loss_they_trained_and_counts_the_saving(tmp_path):
    t = {}  # training seconds written, to check the sums against
    for seed in (0, 1):
        t["skip", seed] = 300.0 + seed
        t["a", seed] = 340.0 + 2 * seed
        _write(tmp_path, "table3", "skip", seed, [L_C, LPIPS], t["skip", seed],
               deviations=[LEFT_OUT])
        _write(tmp_path, "table6", "a_lc", seed, [L_C], t["a", seed])
        # LTNet* trained once (older record: training time only), reused by a second row
        t["star", seed] = 250.0 + seed
        t["c", seed] = 400.0 - seed
        _write(tmp_path, "table2", "i_d_v_n", seed, [L_C, LPIPS, L_R], t["star", seed],
               deviations=[LEFT_OUT])
        _write(tmp_path, "table1", "ltnet_small", seed, [L_C, LPIPS, L_R], 0.1,
               deviations=[LEFT_OUT])
        _write(tmp_path, "table6", "c_lc_lr", seed, [L_C, L_R], t["c", seed])
        # a newer record that reused its training: it says so, whatever its seconds
        _write(tmp_path, "table1", "ltnet_small_ensemble", seed, [L_C, LPIPS, L_R], 3.0,
               deviations=[LEFT_OUT], steps_here=0, key="k")
        # another learning rate: another training, however alike its loss
        _write(tmp_path, "table9", "other_lr", seed, [L_C], 500.0, lr=2e-3)
    df = shared_trainings("quick", tmp_path).set_index("recipe")
    assert len(df) == 2
    rows = {tuple(r) for r in df["rows"]}
    assert rows == {("table3/skip", "table6/a_lc"),
                    ("table1/ltnet_small", "table1/ltnet_small_ensemble", "table2/i_d_v_n",
                     "table6/c_lc_lr")}
    skip = df[df["rows"].map(lambda r: "table3/skip" in r)].iloc[0]
    spent = sum(t["skip", s] + t["a", s] for s in (0, 1))
    needed = sum((t["skip", s] + t["a", s]) / 2 for s in (0, 1))
    assert skip["trainings"] == 4 and skip["seeds"] == [0, 1]
    assert skip["spent_s"] == pytest.approx(spent, abs=0.1)
    assert skip["saved_s"] == pytest.approx(spent - needed, abs=0.1)
    star = df[df["rows"].map(lambda r: "table6/c_lc_lr" in r)].iloc[0]
    assert star["trainings"] == 4 and star["training_keys"] == ["k"]
    assert star["saved_s"] == pytest.approx(
        sum((t["star", s] + t["c", s]) / 2 for s in (0, 1)), abs=0.1)
    assert training_seconds_saved("quick", tmp_path) == pytest.approx(
        skip["saved_s"] + star["saved_s"])
    # every recipe, single rows included; nothing saved on those
    everything = shared_trainings("quick", tmp_path, all_groups=True)
    alone = everything[everything["rows"].map(lambda r: r == ["table9/other_lr"])]
    assert len(everything) == 3 and len(alone) == 1
    assert alone["saved_s"].iloc[0] == 0 and alone["spent_s"].iloc[0] == 1000.0


def test_backbone_files_split_the_recipe_but_not_where_they_lie():
    def rec(weights):
        return {"params": {"model": "m", "loss": [{"name": "perceptual"}], "train_pairs": "t"},
                "extra": {"train_steps": 3}, "weights": weights}

    file_a = {"perceptual": {"name": "vgg19", "source": "file", "path": "/a", "sha256": "1",
                             "reason": "found in /a"}}
    moved = {"perceptual": {**file_a["perceptual"], "path": "/b", "reason": "found in /b"}}
    random = {"perceptual": {"name": "vgg19", "source": "random", "path": None, "sha256": None,
                             "reason": "not found"}}
    assert effective_recipe(rec(file_a)) == effective_recipe(rec(moved))
    assert effective_recipe(rec(file_a)) != effective_recipe(rec(random))
    # the LPIPS of the metrics is not part of the training
    assert effective_recipe(rec({**file_a, "lpips_metric": {"sha256": "2"}})) == \
        effective_recipe(rec(file_a))
    assert effective_recipe({"params": {"method": "identity"}, "extra": {}}) is None


def test_committed_quick_results_group_table6_with_their_parents():
    if not (REPO / "results" / "quick" / "ltnet" / "table6" / "a_lc").is_dir():
        pytest.skip("no committed quick LTNet results")
    groups = [set(r) for r in shared_trainings("quick", REPO / "results", "ltnet")["rows"]]
    assert any({"table3/skip", "table6/a_lc"} <= g for g in groups)
    assert any({"table1/ltnet_small", "table1/ltnet_small_ensemble", "table6/c_lc_lr"} <= g
               for g in groups)
    assert not any({"table3/skip", "table1/ltnet_small"} <= g for g in groups)
