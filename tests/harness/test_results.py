"""Tests of relight_lib.harness.results: writing runs, reading them back, comparison tables, claims."""

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
    assert list(pi.columns) == ["paper", "table", "variant", "seed", "image", "metric", "value"]
    assert len(pi) == 9 and pi["value"].isna().sum() == 4
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


# ------------------------------------------------------------------------------ claims


def _claim_frame(better_values, worse_values, metric="psnr", seeds=(0, 1, 2), images=IMAGES,
                 worse_images=None, better="new", worse="old"):
    rows = []
    for seed in seeds:
        for variant, values, ims in ((better, better_values, images),
                                     (worse, worse_values, worse_images or images)):
            vals = values(seed) if callable(values) else values
            rows += [{"paper": "ltnet", "table": "table2", "variant": variant, "seed": seed,
                      "image": im, "metric": metric, "value": float(v)}
                     for im, v in zip(ims, vals, strict=True)]
    return pd.DataFrame(rows)


BASE = np.linspace(15.0, 20.0, len(IMAGES))
CLAIM = R.Claim("c1", "new beats old", "table2", "psnr", "new", "old", paper="ltnet")


def test_claim_supported_and_contradicted():
    rng = np.random.default_rng(1)
    noise = {s: rng.normal(0, 0.1, len(IMAGES)) for s in range(3)}
    df = _claim_frame(lambda s: BASE + 1.0 + noise[s], lambda s: BASE)
    v = R.claim_verdict(CLAIM, df, n_boot=500)
    assert set(v) == {"id", "text", "metric", "reported_difference", "our_difference", "ci_low",
                      "ci_high", "n_images", "n_seeds", "verdict", "reason"}
    assert v["verdict"] == "supported" and v["ci_low"] > 0.5
    assert v["our_difference"] == pytest.approx(1.0 + np.mean([noise[s].mean() for s in range(3)]))
    assert v["ci_low"] <= v["our_difference"] <= v["ci_high"]
    assert v["n_images"] == 45 and v["n_seeds"] == 3 and "paired" in v["reason"]

    flipped = R.Claim("c2", "old beats new", "table2", "psnr", "old", "new")
    v = R.claim_verdict(flipped, df, n_boot=500)
    assert v["verdict"] == "contradicted" and v["ci_high"] < -0.5


def test_claim_noise_level_difference_is_not_supported():
    wiggle = np.where(np.arange(len(IMAGES)) % 2 == 0, 0.5, -0.5)
    wiggle[-1] = 0.0  # mean difference exactly 0
    df = _claim_frame(lambda s: BASE + wiggle, lambda s: BASE)
    v = R.claim_verdict(CLAIM, df, n_boot=500)
    assert v["verdict"] == "not supported"
    assert v["ci_low"] < 0 < v["ci_high"] and v["our_difference"] == pytest.approx(0.0)


def test_claim_lower_is_better_orientation():
    claim = R.Claim("c", "new lowers LPIPS", "table2", "lpips", "new", "old")
    assert claim.higher_is_better is False
    df = _claim_frame(lambda s: 0.25 + 0.01 * np.sin(np.arange(45) + s), lambda s: 0.30 + 0 * BASE,
                      metric="lpips")
    v = R.claim_verdict(claim, df, n_boot=300)
    assert v["verdict"] == "supported" and v["our_difference"] > 0.04
    rep = pd.DataFrame({"table": "table2", "variant": ["new", "old"], "split": "validation",
                        "metric": "lpips", "value": [0.27, 0.28]})
    assert R.reported_difference(claim, rep) == pytest.approx(0.01)
    assert R.Claim("c", "", "t", "lpips", "a", "b", higher_is_better=True).higher_is_better


def test_claim_paired_drops_pairs_with_a_nan():
    worse = BASE.copy()
    worse[3] = np.nan
    df = _claim_frame(lambda s: BASE + 1.0, lambda s: worse)
    v = R.claim_verdict(CLAIM, df, n_boot=200)
    assert "paired bootstrap over 3 seed(s) x 44 image(s)" in v["reason"]
    assert v["our_difference"] == pytest.approx(1.0) and v["ci_low"] == pytest.approx(1.0)


def test_claim_unpaired_when_images_differ():
    other = [f"Image{400 + i}" for i in range(30)]
    df = _claim_frame(lambda s: BASE + 2.0, lambda s: BASE[:30], worse_images=other, seeds=(0, 1))
    v = R.claim_verdict(CLAIM, df, n_boot=300)
    assert "unpaired" in v["reason"] and v["n_images"] == 75 and v["n_seeds"] == 2
    assert v["our_difference"] == pytest.approx(BASE.mean() + 2.0 - BASE[:30].mean())


def test_claim_not_testable_missing_row_and_all_nan(tmp_path):
    df = _claim_frame(lambda s: BASE + 1, lambda s: BASE)
    v = R.claim_verdict(R.Claim("c", "x", "table2", "psnr", "new", "absent"), df)
    assert v["verdict"] == "not testable here" and "'absent'" in v["reason"]
    assert math.isnan(v["our_difference"]) and math.isnan(v["ci_low"])

    # LPIPS NaN everywhere; the reason comes from the runs' notes (metrics.csv)
    for variant in ("new", "old"):
        for seed in (0, 1):
            _write(tmp_path, variant=variant, seed=seed,
                   per_image=_per_image([17.0, 18.0], lpips=[float("nan")] * 2),
                   notes={"lpips": "AlexNet weights not available"})
    per_image = R.load_per_image(tmp_path, "smoke", "ltnet", "table2")
    notes = R.load_results(tmp_path, "smoke", "ltnet", "table2")
    claim = R.Claim("c", "new lowers LPIPS", "table2", "lpips", "new", "old", paper="ltnet")
    v = R.claim_verdict(claim, per_image, notes=notes)
    assert v["verdict"] == "not testable here"
    assert v["reason"] == "lpips not computed: AlexNet weights not available"
    v = R.claim_verdict(claim, per_image, notes={"lpips": "AlexNet weights not available"})
    assert v["reason"] == "lpips not computed: AlexNet weights not available"
    v = R.claim_verdict(claim, per_image, notes={"new": {"lpips": "no weights"}})
    assert v["reason"] == "lpips not computed: new: no weights; old: no reason recorded"
    v = R.claim_verdict(claim, per_image)
    assert v["reason"] == "lpips not computed: no reason recorded"
    t = R.claims_table([claim, CLAIM], per_image, notes=notes)
    assert list(t["verdict"]) == ["not testable here", "not supported"]  # equal psnr


def test_claim_with_a_single_image_is_not_testable():
    df = _claim_frame(lambda s: BASE[:1] + 1, lambda s: BASE[:1], seeds=(0,),
                      images=IMAGES[:1])
    v = R.claim_verdict(CLAIM, df)
    assert v["verdict"] == "not testable here" and "too few images" in v["reason"]


def test_claim_verdict_is_deterministic():
    rng = np.random.default_rng(3)
    df = _claim_frame(lambda s: BASE + rng.normal(0.2, 1.0, 45), lambda s: BASE)
    a = R.claim_verdict(CLAIM, df, n_boot=400, seed=7)
    b = R.claim_verdict(CLAIM, df, n_boot=400, seed=7)
    c = R.claim_verdict(CLAIM, df, n_boot=400, seed=8)
    assert a == b
    assert (a["ci_low"], a["ci_high"]) != (c["ci_low"], c["ci_high"])
    t1 = R.claims_table([CLAIM], df, n_boot=400, seed=7)
    assert t1.iloc[0]["ci_low"] == a["ci_low"]


# ------------------------------------------------------------------------------ load_claims


def _yaml(tmp_path, text):
    path = tmp_path / "claims.yaml"
    path.write_text(text)
    return path


GOOD = """
- id: normals_raise_mps
  text: Adding normal maps raises MPS.
  table: table2
  metric: mps
  better: i_d_n
  worse: i_d
- id: normals_lower_lpips
  text: Adding normal maps lowers LPIPS.
  table: table2
  metric: lpips
  better: i_d_n
  worse: i_d
  note: small difference
- id: given
  text: given difference
  table: table2
  metric: psnr
  better: i_d_n
  worse: i_d
  reported_difference: 0.5
"""


def test_load_claims_fills_reported_differences(tmp_path):
    claims = R.load_claims(_yaml(tmp_path, GOOD), paper="ltnet")
    assert [c.id for c in claims] == ["normals_raise_mps", "normals_lower_lpips", "given"]
    assert claims[0].reported_difference == pytest.approx(0.6855 - 0.6756)
    assert claims[1].higher_is_better is False
    assert claims[1].reported_difference == pytest.approx(0.2795 - 0.2780)
    assert claims[1].note == "small difference"
    assert claims[2].reported_difference == 0.5
    # without a paper there is nothing to look the difference up in
    assert R.load_claims(_yaml(tmp_path, GOOD))[0].reported_difference is None


@pytest.mark.parametrize("text, match", [
    (("- id: a\n  text: t\n  table: table2\n  metric: psnr\n  better: x\n  worse: y\n"
     "  colour: red\n"),
     r"claim #1 \('a'\): unknown keys \['colour'\]"),
    ("- id: a\n  text: t\n  table: table2\n  metric: psnr\n  better: x\n",
     r"claim #1 \('a'\): missing keys \['worse'\]"),
    ("id: a\n", "expected a YAML list"),
    ("- just a string\n", "claim #1 is not a mapping"),
    (("- {id: a, text: t, table: table2, metric: psnr, better: x, worse: y}\n"
     "- {id: a, text: t, table: table2, metric: psnr, better: x, worse: z}\n"),
     r"claim #2 \('a'\): duplicate id"),
    (("- {id: a, text: t, table: table2, metric: psnr, better: x, worse: y, "
     "higher_is_better: maybe}\n"), "higher_is_better"),
    ("- {id: a, text: t, table: table2, metric: psnr, better: x, worse: x}\n", "same variant"),
    ("- {id: a, text: t, table: table2, metric: psnr, better: x, worse: y, trained_by: 3}\n",
     "trained_by must be a row"),
    ("- {id: a, text: t, table: table2, metric: psnr, better: x, worse: y, trained_by: a/b/c/d}\n",
     "neither a variant slug"),
])
def test_load_claims_errors_name_file_and_entry(tmp_path, text, match):
    path = _yaml(tmp_path, text)
    with pytest.raises(ValueError, match=match) as err:
        R.load_claims(path)
    assert str(path) in str(err.value)


def test_claim_across_papers(tmp_path):
    # LTNet's "better than MSR-Net": a side may name another paper's row, paper/table/variant
    ours = _claim_frame(lambda s: BASE + 1.0, lambda s: BASE, better="ltnet_small_ensemble")
    ours = ours[ours["variant"] == "ltnet_small_ensemble"].assign(table="table1")
    msr = _claim_frame(lambda s: BASE, lambda s: BASE, better="stacked_dmshn")
    msr = msr[msr["variant"] == "stacked_dmshn"].assign(paper="msrnet", table="table1")
    # a same-named row of LTNet's own table must not be mistaken for MSR-Net's
    decoy = msr.assign(paper="ltnet", value=msr["value"] + 5.0)
    per_image = pd.concat([ours, msr, decoy], ignore_index=True)
    claim = R.Claim("x", "LTNet beats MSR-Net", "table1", "psnr", "ltnet_small_ensemble",
                    "msrnet/table1/stacked_dmshn", paper="ltnet")
    assert claim.sides == (("ltnet", "table1", "ltnet_small_ensemble"),
                           ("msrnet", "table1", "stacked_dmshn"))
    v = R.claim_verdict(claim, per_image, n_boot=200)
    assert v["verdict"] == "supported" and v["our_difference"] == pytest.approx(1.0)
    assert "paired" in v["reason"]
    # ... and it can fail: MSR-Net ahead
    v = R.claim_verdict(claim, per_image.assign(
        value=np.where(per_image["paper"] == "msrnet", per_image["value"] + 2.0,
                       per_image["value"])), n_boot=200)
    assert v["verdict"] == "contradicted"
    # the other paper's run is missing: not testable, and the reason says where it looked
    v = R.claim_verdict(claim, pd.concat([ours, decoy]), n_boot=50)
    assert v["verdict"] == "not testable here"
    assert v["reason"] == "no results for variant 'stacked_dmshn' in table1 of msrnet"
    notes = pd.DataFrame({"paper": "msrnet", "table": "table1", "variant": "stacked_dmshn",
                          "metric": "psnr", "note": "not run here: no data"}, index=[0])
    v = R.claim_verdict(claim, pd.concat([ours, decoy]), notes=notes, n_boot=50)
    assert v["reason"] == "variant 'msrnet/table1/stacked_dmshn': not run here: no data"
    assert R.claim_sources([claim, CLAIM]) == [("ltnet", "table1"), ("ltnet", "table2"),
                                              ("msrnet", "table1")]


def test_load_claims_across_papers_reads_both_reported_files(tmp_path):
    text = ("- {id: x, text: t, table: table1, metric: psnr, split: validation,\n"
            "   better: ltnet_large_no_dehaze, worse: msrnet/table1/stacked_dmshn}\n"
            "- {id: y, text: t, table: table1, metric: lpips, split: validation,\n"
            "   better: ltnet_large_no_dehaze, worse: msrnet/table1/stacked_dmshn}\n")
    x, y = R.load_claims(_yaml(tmp_path, text), paper="ltnet")
    # LTNet Table 1 LTNet† without dehaze 19.1853 vs MSR-Net Table 1 Stacked DMSHN 17.89
    assert x.reported_difference == pytest.approx(19.1853 - 17.89)
    assert y.sides[1] == ("msrnet", "table1", "stacked_dmshn")
    assert y.reported_difference == pytest.approx(0.4088 - 0.2470)  # lower is better
    # the reported frame given by the caller is used as is
    rep = pd.DataFrame({"paper": ["ltnet", "msrnet"], "table": "table1", "split": "validation",
                        "variant": ["ltnet_large_no_dehaze", "stacked_dmshn"],
                        "metric": "psnr", "value": [18.0, 17.0]})
    assert R.load_claims(_yaml(tmp_path, text), paper="ltnet",
                         reported=rep)[0].reported_difference == pytest.approx(1.0)


@pytest.mark.parametrize("text, match", [
    ("- {id: a, text: t, table: table1, metric: psnr, better: x, worse: msrnet/y}\n",
     "neither a variant slug nor 'paper/table/variant'"),
    ("- {id: a, text: t, table: table1, metric: psnr, better: x, worse: m//y}\n",
     "neither a variant slug"),
    ("- {id: a, text: t, table: table1, metric: psnr, better: x, worse: ltnet/table1/x}\n",
     "same variant"),
])
def test_load_claims_cross_paper_errors(tmp_path, text, match):
    with pytest.raises(ValueError, match=match):
        R.load_claims(_yaml(tmp_path, text), paper="ltnet")
    with pytest.raises(ValueError, match="paper"):
        R.load_claims(_yaml(tmp_path, "- {id: a, text: t, table: table1, metric: psnr, "
                                      "better: x, worse: msrnet/table1/y}\n"))


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


def test_claim_on_a_row_not_run_here_gives_its_reason():
    df = _claim_frame(BASE, BASE)
    df = df[df["variant"] == "new"]  # "old" was written as not run here: no per-image values
    notes = {"old": {"psnr": "not run here: lpips loss unavailable"}}
    v = R.claim_verdict(CLAIM, df, notes=notes, n_boot=50)
    assert v["verdict"] == "not testable here"
    assert v["reason"] == "variant 'old': not run here: lpips loss unavailable"
    v = R.claim_verdict(CLAIM, df, n_boot=50)
    assert v["reason"] == "no results for variant 'old' in table2"


def test_dssim_and_light_loss_are_lower_is_better():
    assert {"dssim", "light_loss", "lpips"} <= R.LOWER_IS_BETTER


def _converged_claims_frame():
    rng = np.random.default_rng(3)
    noise = {s: rng.normal(0, 0.1, len(IMAGES)) for s in range(3)}
    return _claim_frame(lambda s: BASE + 1.0 + noise[s], lambda s: BASE)


def test_claims_table_a_side_not_converged_is_not_testable():
    df = _converged_claims_frame()
    plain = R.claims_table([CLAIM], df, n_boot=200)
    assert plain["verdict"].tolist() == ["supported"]
    gated = R.claims_table([CLAIM], df, n_boot=200,
                           not_converged={("ltnet", "table2", "old"): "still improving"})
    assert gated["verdict"].tolist() == ["not testable here"]
    assert gated["reason"].iloc[0] == "not converged: old: still improving"
    # the difference is still shown
    assert gated["our_difference"].iloc[0] == pytest.approx(plain["our_difference"].iloc[0])
    # a row of another table with the same slug does not gate the claim
    other = R.claims_table([CLAIM], df, n_boot=200,
                           not_converged={("ltnet", "table3", "old"): "still improving"})
    assert other["verdict"].tolist() == ["supported"]


def test_claims_table_trained_by_row_not_converged_is_not_testable(tmp_path):
    path = _yaml(tmp_path, "- {id: a, text: t, paper: ltnet, table: table2, metric: psnr, "
                           "better: new, worse: old, trained_by: table1/trainer, "
                           "reported_difference: 1.0}\n")
    claim, = R.load_claims(path)
    assert claim.trained_by == ("table1/trainer",)
    assert claim.trained_rows[-1] == ("ltnet", "table1", "trainer")
    assert R.convergence_sources([claim]) == [("ltnet", "table1"), ("ltnet", "table2")]
    df = _converged_claims_frame()
    gated = R.claims_table([claim], df, n_boot=200,
                           not_converged={("ltnet", "table1", "trainer"): "still improving"})
    assert gated["verdict"].tolist() == ["not testable here"]
    assert "trainer: still improving" in gated["reason"].iloc[0]
    assert R.claims_table([claim], df, n_boot=200)["verdict"].tolist() == ["supported"]
