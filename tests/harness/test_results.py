"""Tests of relight_lib.harness.results: writing runs, reading them back, comparison tables (the
claims are tested in test_claims.py)."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from relight_lib.harness import results as R

IMAGES = [f"Image{300 + i:03d}" for i in range(45)]


def _per_image(psnr, ssim=None, lpips=None, images=None):
    images = images or [f"img{i}" for i in range(len(psnr))]
    rows = []
    for name, values in (("psnr", psnr), ("ssim", ssim), ("lpips", lpips)):
        if values is None:
            continue
        rows += [{"image": im, "metric": name, "value": v} for im, v in zip(images, values)]
    return pd.DataFrame(rows)


def _write(root, *, variant="i_d", seed=0, per_image=None, **kw):
    if per_image is None:
        per_image = _per_image([10.0, 20.0, 30.0])
    args = {"paper": "ltnet", "table": "table2", "variant": variant, "profile": "smoke",
            "seed": seed, "dataset": "SynVIDIT smoke", "split": "validation",
            "per_image": per_image, "params": {"epochs": 1}}
    args.update(kw)
    return R.write_run(root, **args)


def _hidden(path: Path) -> list[str]:
    return [p.name for p in path.iterdir() if p.name.startswith(".")]


# ------------------------------------------------------------------------------ paths


def test_run_dir_layout_and_rejects_unsafe_components(tmp_path):
    d = R.run_dir(tmp_path, "quick", "mbnet", "table1", "extra_data", 2)
    assert d == tmp_path / "quick" / "mbnet" / "table1" / "extra_data" / "seed=2"
    for bad in ("../x", "a/b", ".hidden", ""):
        with pytest.raises(ValueError):
            R.run_dir(tmp_path, "quick", "mbnet", "table1", bad, 0)
    for seed in (-1, 1.5, "0", True):
        with pytest.raises(ValueError):
            R.run_dir(tmp_path, "quick", "mbnet", "table1", "x", seed)


# ------------------------------------------------------------------------------ write / load


def test_write_run_round_trip(tmp_path):
    per_image = _per_image([10.0, 20.0, float("nan")], ssim=[0.5, 0.7, 0.9],
                           lpips=[float("nan")] * 3)
    d = _write(tmp_path, per_image=per_image, label="I,D",
               notes={"lpips": "AlexNet weights not available",
                      "mps": "needs lpips: AlexNet weights not available"})
    assert d == tmp_path / "smoke" / "ltnet" / "table2" / "i_d" / "seed=0"
    assert sorted(p.name for p in d.iterdir()) == ["metrics.csv", "per_image.csv", "run.json"]

    df = R.load_results(tmp_path, "smoke")
    assert list(df.columns) == list(R.SCHEMA)
    assert list(df["metric"]) == ["psnr", "ssim", "lpips", "mps"]
    row = df.set_index("metric")
    assert row.loc["psnr", "value"] == pytest.approx(15.0)
    assert row.loc["psnr", "n_images"] == 2
    assert "1 of 3 images" in row.loc["psnr", "note"]
    assert row.loc["ssim", "value"] == pytest.approx(0.7)
    assert row.loc["ssim", "n_images"] == 3 and row.loc["ssim", "note"] == ""
    assert math.isnan(row.loc["lpips", "value"]) and row.loc["lpips", "n_images"] == 0
    assert row.loc["lpips", "note"] == "AlexNet weights not available"
    assert math.isnan(row.loc["mps", "value"]) and row.loc["mps", "note"].startswith("needs lpips")
    assert set(df["source"]) == {"ours"} and set(df["label"]) == {"I,D"}
    assert set(df["seed"]) == {0} and str(df["seed"].dtype) == "Int64"
    assert set(df["where"]) == {"smoke/ltnet/table2/i_d/seed=0"}
    assert set(df["split"]) == {"validation"} and set(df["profile"]) == {"smoke"}

    # filters, and a profile with nothing in it
    assert len(R.load_results(tmp_path, "smoke", paper="ltnet", table=2)) == 4
    assert R.load_results(tmp_path, "smoke", paper="mbnet").empty
    empty = R.load_results(tmp_path, "gpu")
    assert empty.empty and list(empty.columns) == list(R.SCHEMA)

    pi = R.load_per_image(tmp_path, "smoke", "ltnet", "table2")
    assert list(pi.columns) == ["paper", "table", "variant", "seed", "split", "image", "metric",
                                "value"]
    assert len(pi) == 9 and pi["value"].isna().sum() == 4
    assert set(pi["split"]) == {"validation"}  # from the run's metrics.csv
    assert R.load_per_image(tmp_path, "smoke", "ltnet", "table3").empty


def test_write_run_accepts_wide_per_image_and_rejects_bad_ones(tmp_path):
    wide = pd.DataFrame({"image": ["a", "b"], "psnr": [1.0, 3.0], "ssim": [0.1, 0.3]})
    _write(tmp_path, per_image=wide)
    df = R.load_results(tmp_path, "smoke").set_index("metric")
    assert df.loc["psnr", "value"] == pytest.approx(2.0)
    assert df.loc["ssim", "value"] == pytest.approx(0.2)
    with pytest.raises(ValueError, match="several values"):
        _write(tmp_path, per_image=pd.DataFrame(
            {"image": ["a", "a"], "metric": ["psnr", "psnr"], "value": [1.0, 2.0]}))
    with pytest.raises(ValueError, match="non-numeric"):
        _write(tmp_path, per_image=pd.DataFrame(
            {"image": ["a"], "metric": ["psnr"], "value": ["high"]}))
    with pytest.raises(ValueError, match="split"):
        _write(tmp_path, split="val")
    with pytest.raises(ValueError, match="empty"):
        _write(tmp_path, per_image=pd.DataFrame(columns=["image", "metric", "value"]))


def test_run_json_content(tmp_path):
    params = {"lr": np.float32(0.5), "size": (np.int64(64), 64), "data_root": Path("/data/x"),
              "arr": np.arange(3), "tags": {"b", "a"}, "nan": float("nan")}
    d = _write(tmp_path, params=params, notes={"lpips": "AlexNet weights not available"},
               weights={"resnet50": "random init (smoke)"}, deviations=["128 px instead of 1024"],
               wall_time_s=1.25, peak_memory_mb=np.float64(321.0), cache_key="abc123",
               data_manifest_sha256="f" * 64, extra={"epochs_run": np.int32(3)})
    run = R.load_run_json(tmp_path, "smoke", "ltnet", "table2", "i_d", 0)
    assert run == json.loads((d / "run.json").read_text())
    assert run["params"] == {"lr": 0.5, "size": [64, 64], "data_root": "/data/x",
                             "arr": [0, 1, 2], "tags": ["a", "b"], "nan": None}
    assert run["cache_key"] == "abc123" and run["data_manifest_sha256"] == "f" * 64
    assert run["notes"] == {"lpips": "AlexNet weights not available"}
    assert run["weights"] == {"resnet50": "random init (smoke)"}
    assert run["deviations"] == ["128 px instead of 1024"]
    assert run["wall_time_s"] == 1.25 and run["peak_memory_mb"] == 321.0
    assert run["extra"] == {"epochs_run": 3}
    key = (run["paper"], run["table"], run["variant"], run["seed"])
    assert key == ("ltnet", "table2", "i_d", 0)
    assert run["metrics"]["psnr"] == pytest.approx(20.0) and run["metrics"]["lpips"] is None
    assert set(run["files"]) == {"metrics.csv", "per_image.csv", "run.json"}
    import hashlib
    for name, digest in run["sha256"].items():
        assert hashlib.sha256((d / name).read_bytes()).hexdigest() == digest
    prov = run["provenance"]
    for key in ("git_commit", "git_dirty", "versions", "platform", "cpu_count", "device",
                "device_name", "hostname", "timestamp_utc"):
        assert key in prov
    assert {"python", "numpy", "pandas", "relight_lib"} <= set(prov["versions"])
    with pytest.raises(FileNotFoundError):
        R.load_run_json(tmp_path, "smoke", "ltnet", "table2", "i_d", 1)


def test_provenance_outside_a_repository(tmp_path):
    prov = R.provenance(tmp_path)
    assert prov["git_commit"] is None and prov["git_dirty"] is None
    json.dumps(prov)


def test_crash_in_the_middle_keeps_previous_result(tmp_path, monkeypatch):
    d = _write(tmp_path, per_image=_per_image([1.0, 2.0]))
    before = {p.name: p.read_bytes() for p in d.iterdir()}

    def boom(*args, **kwargs):
        raise RuntimeError("disk full")

    from relight_lib.library import record  # write_run lives there (re-exported by results)

    monkeypatch.setattr(record, "_write_json", boom)
    with pytest.raises(RuntimeError, match="disk full"):
        _write(tmp_path, per_image=_per_image([5.0, 6.0]))
    assert {p.name: p.read_bytes() for p in d.iterdir()} == before
    assert _hidden(d.parent) == []
    assert R.load_results(tmp_path, "smoke")["value"].iloc[0] == pytest.approx(1.5)

    # a crash on the very first write leaves nothing behind either
    with pytest.raises(RuntimeError):
        _write(tmp_path, variant="i_d_v", per_image=_per_image([5.0, 6.0]))
    assert not (d.parent.parent / "i_d_v" / "seed=0").exists()
    assert _hidden(d.parent.parent / "i_d_v") == []


def test_crash_during_the_swap_restores_previous_result(tmp_path, monkeypatch):
    d = _write(tmp_path, per_image=_per_image([1.0, 2.0]))
    before = {p.name: p.read_bytes() for p in d.iterdir()}
    real_replace = os.replace

    def flaky_replace(src, dst):
        if ".tmp-" in Path(src).name:
            raise OSError("rename failed")
        return real_replace(src, dst)

    monkeypatch.setattr(R.os, "replace", flaky_replace)
    with pytest.raises(OSError, match="rename failed"):
        _write(tmp_path, per_image=_per_image([5.0, 6.0]))
    monkeypatch.undo()
    assert {p.name: p.read_bytes() for p in d.iterdir()} == before
    assert _hidden(d.parent) == []


def test_rerun_replaces_old_result(tmp_path):
    d = _write(tmp_path, per_image=_per_image([1.0, 2.0]))
    (d / "figures").mkdir()
    (d / "figures" / "old.png").write_bytes(b"stale")
    d2 = _write(tmp_path, per_image=_per_image([7.0, 9.0]), params={"epochs": 2})
    assert d2 == d and not (d / "figures").exists()
    df = R.load_results(tmp_path, "smoke")
    assert len(df) == 1 and df["value"].iloc[0] == pytest.approx(8.0)
    run = R.load_run_json(tmp_path, "smoke", "ltnet", "table2", "i_d", 0)
    assert run["params"] == {"epochs": 2}
    assert _hidden(d.parent) == []


# ------------------------------------------------------------------------------ compare tables


def _long(rows, source):
    df = pd.DataFrame(rows, columns=["variant", "split", "seed", "metric", "value"])
    df["label"] = df["variant"].str.upper()
    df["source"] = source
    return df


def test_compare_table_by_hand():
    v = "validation"
    reported = _long([("a", v, None, "psnr", 17.0), ("a", v, None, "ssim", 0.6),
                      ("b", v, None, "psnr", 18.0), ("b", v, None, "ssim", 0.7)], "reported")
    ours = _long([("a", "validation", 0, "psnr", 16.0), ("a", "validation", 1, "psnr", 17.0),
                  ("a", "validation", 2, "psnr", 18.0),
                  ("a", "validation", 0, "ssim", 0.5), ("a", "validation", 1, "ssim", 0.7),
                  ("a", "validation", 2, "ssim", float("nan")),
                  ("c", "validation", 0, "psnr", 20.0)], "ours")
    t = R.compare_table(ours, reported, ["psnr", "ssim"])
    assert list(t["variant"]) == ["a", "b", "c"]
    assert list(t["label"]) == ["A", "B", "C"]
    a, b, c = (t.iloc[i] for i in range(3))
    assert a["psnr_reported"] == 17.0 and a["psnr_mean"] == pytest.approx(17.0)
    assert a["psnr_sd"] == pytest.approx(1.0) and a["psnr_n_seeds"] == 3
    assert a["psnr_diff"] == pytest.approx(0.0)
    # NaN seed dropped: mean of 0.5 and 0.7, sd = sqrt(((0.1)^2 * 2) / 1)
    assert a["ssim_mean"] == pytest.approx(0.6) and a["ssim_n_seeds"] == 2
    assert a["ssim_sd"] == pytest.approx(math.sqrt(0.02))
    assert a["ssim_diff"] == pytest.approx(0.0)
    assert b["psnr_reported"] == 18.0 and math.isnan(b["psnr_mean"]) and b["psnr_n_seeds"] == 0
    assert math.isnan(b["psnr_diff"])
    assert math.isnan(c["psnr_reported"]) and c["psnr_mean"] == 20.0 and math.isnan(c["psnr_sd"])
    assert R.format_mean_sd(a["psnr_mean"], a["psnr_sd"], 2) == "17.00 ± 1.00"
    assert R.format_mean_sd(b["psnr_mean"], b["psnr_sd"], 2) == "n/a"


def test_compare_table_keys_on_split_when_a_variant_has_several():
    reported = _long([("x", "validation", None, "ssim", 0.70), ("x", "test", None, "ssim", 0.69)],
                     "reported")
    ours = _long([("x", "validation", 0, "ssim", 0.72)], "ours")
    t = R.compare_table(ours, reported, ["ssim"])
    assert list(zip(t["variant"], t["split"])) == [("x", "validation"), ("x", "test")]
    assert t["ssim_diff"].iloc[0] == pytest.approx(0.02) and math.isnan(t["ssim_mean"].iloc[1])


def test_compare_table_with_real_files(tmp_path):
    _write(tmp_path, variant="i_d_n", per_image=_per_image([16.0, 17.0]))
    reported = R.load_reported("ltnet", "table2")
    t = R.compare_table(R.load_results(tmp_path, "smoke"), reported, ["psnr", "mps"])
    assert list(t["variant"]) == ["i_d", "i_d_v", "i_d_n", "i_d_v_n"]
    row = t.set_index("variant").loc["i_d_n"]
    assert row["psnr_diff"] == pytest.approx(16.5 - 16.7863)
    assert row["label"] == "I,D,N" and math.isnan(row["mps_mean"])


# ------------------------------------------------------------------------------ load_reported


def _reported_csv(tmp_path, rows, columns=R.SCHEMA):
    root = tmp_path / "reported"
    root.mkdir(exist_ok=True)
    lines = [",".join(columns)] + [",".join(r) for r in rows]
    (root / "toy.csv").write_text("\n".join(lines) + "\n")
    return root


ROW = ["toy", "table1", "a", "A", "paper", "VIDIT", "validation", "", "psnr", "17.0", "45",
       "reported", "Toy Table 1", ""]


def test_load_reported_validates(tmp_path):
    root = _reported_csv(tmp_path, [ROW, [*ROW[:8], "ssim", "0.6000", *ROW[10:]]])
    df = R.load_reported("toy", root=root, printed=True)
    assert list(df["value"]) == [17.0, 0.6] and list(df["value_printed"]) == ["17.0", "0.6000"]
    assert len(R.load_reported("toy", 1, root=root)) == 2
    with pytest.raises(ValueError, match="no table 'table2'"):
        R.load_reported("toy", "table2", root=root)
    with pytest.raises(FileNotFoundError):
        R.load_reported("nothere", root=root)

    cases = [
        ([ROW[:-1]], R.SCHEMA[:-1], r"missing columns \['note'\]"),
        ([[*ROW, "x"]], (*R.SCHEMA, "extra"), r"unexpected columns \['extra'\]"),
        ([[*ROW[:9], "high", *ROW[10:]]], R.SCHEMA, r"line 2: value 'high'"),
        ([ROW, ROW], R.SCHEMA, r"duplicate .* on lines \[2, 3\]"),
        ([[*ROW[:11], "ours", *ROW[12:]]], R.SCHEMA, "source is 'ours'"),
        ([[*ROW[:2], "Bad Slug", *ROW[3:]]], R.SCHEMA, "variant 'Bad Slug'"),
        ([[*ROW[:6], "val", *ROW[7:]]], R.SCHEMA, "split 'val'"),
        ([[*ROW[:7], "1", *ROW[8:]]], R.SCHEMA, "seed '1' must be empty"),
        ([[*ROW[:10], "4.5", *ROW[11:]]], R.SCHEMA, "n_images '4.5'"),
        ([["other", *ROW[1:]]], R.SCHEMA, "paper is 'other'"),
    ]
    for rows, columns, match in cases:
        root = _reported_csv(tmp_path, rows, columns=columns)
        with pytest.raises(ValueError, match=match) as err:
            R.load_reported("toy", root=root)
        assert "toy.csv" in str(err.value)


def test_dssim_and_light_loss_are_lower_is_better():
    assert {"dssim", "light_loss", "lpips"} <= R.LOWER_IS_BETTER


# --- compact_history: the committed learning curves keep 6 significant digits ---------------

_CURVE = "step,loss,lr,stage,val_psnr,val_ssim\n" + "".join(
    f"{s},{0.1 + 0.01 / s + 1e-9 * s!r},{1e-3 * 0.999 ** s!r},train,"
    + (f"{20 + 0.3 * (1 - 0.99 ** s)!r},{0.6 + 0.001 * math.log(s)!r}" if s % 10 == 0 else ",")
    + "\n" for s in range(1, 201))


def test_compact_history_rounds_to_six_digits_and_keeps_the_rest(tmp_path):
    f = tmp_path / "history.csv"
    f.write_text(_CURVE)
    before = pd.read_csv(f)
    saved = R.compact_history(f)
    after = pd.read_csv(f)
    assert saved == len(_CURVE) - len(f.read_text()) > 0.3 * len(_CURVE)
    assert list(after.columns) == list(before.columns) and len(after) == len(before)
    assert after["step"].tolist() == before["step"].tolist()
    assert after["stage"].tolist() == ["train"] * 200
    assert after["val_psnr"].isna().tolist() == before["val_psnr"].isna().tolist()
    for col in ("loss", "lr", "val_psnr", "val_ssim"):
        a, b = after[col].dropna().to_numpy(), before[col].dropna().to_numpy()
        np.testing.assert_allclose(a, b, rtol=5e-6)
        assert not np.array_equal(a, b), col  # it did round
    assert f.read_text().splitlines()[10] == "10,0.101,0.000990045,train,20.0287,0.602303"


def test_compact_history_twice_changes_nothing(tmp_path):
    f = tmp_path / "history.csv"
    f.write_text(_CURVE)
    R.compact_history(f)
    once = f.read_bytes()
    assert R.compact_history(f) == 0 and f.read_bytes() == once


def test_compact_history_leaves_the_plateau_test_as_it_was(tmp_path):
    from relight_lib.library.convergence import from_history

    f = tmp_path / "history.csv"
    f.write_text(_CURVE)
    before = from_history(pd.read_csv(f).to_dict("records")).to_dict()
    R.compact_history(f)
    after = from_history(pd.read_csv(f).to_dict("records")).to_dict()
    assert after["converged"] == before["converged"] and after["reason"] == before["reason"]


def test_seal_history_makes_an_edited_curve_an_edited_run(tmp_path):
    from relight_lib.library.record import EDITED, verify_run

    run = _write(tmp_path)
    assert not R.seal_history(run)  # no curve yet: nothing to seal
    (run / "history.csv").write_text(_CURVE)
    R.compact_history(run / "history.csv")
    assert R.seal_history(run) and verify_run(run) is None
    stamp = (run / "run.json").read_bytes()
    assert R.seal_history(run) and (run / "run.json").read_bytes() == stamp  # idempotent
    assert "history.csv" in json.loads(stamp)["sha256"]
    # an edit of the curve (which decides the plateau test) is now an edit of the run
    (run / "history.csv").write_text(_CURVE.replace("train,20.", "train,21.", 1))
    assert verify_run(run) == (f"{EDITED} (seed=0: history.csv differs from the sha256 in "
                               "its run.json)")
    assert not R.seal_history(run)  # an edited run is never resealed (it would launder it)
    assert verify_run(run) is not None
    # an edit of the scores is refused too, before any curve was sealed
    other = _write(tmp_path, variant="i_d_v")
    (other / "history.csv").write_text(_CURVE)
    (other / "metrics.csv").write_text((other / "metrics.csv").read_text() + "\n")
    assert not R.seal_history(other)
    assert "history.csv" not in json.loads((other / "run.json").read_text())["sha256"]


def test_compact_history_names_a_file_it_cannot_read(tmp_path):
    with pytest.raises(ValueError, match=r"nowhere\.csv: not a readable history\.csv"):
        R.compact_history(tmp_path / "nowhere.csv")
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    with pytest.raises(ValueError, match="empty.csv"):
        R.compact_history(empty)
