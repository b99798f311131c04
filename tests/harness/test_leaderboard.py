"""The leaderboard: which row each method is, metrics with their reasons, bench columns."""

import math

import pandas as pd
import pytest

from relight_lib import bench
from relight_lib.harness import leaderboard as lb, reproduce, results


def _write(root, paper, table, variant, seed, values, notes=None, model_params=None):
    per_image = pd.DataFrame([{"image": f"im{i}", "metric": m, "value": v + 0.1 * i}
                              for m, v in values.items() for i in range(2)])
    params = {"train": {"steps": 150, "batch_size": 4}, "train_size": 64, "size": 128}
    results.write_run(root, paper=paper, table=table, variant=variant, profile="quick",
                      seed=seed, dataset="SynVIDIT", split="validation", per_image=per_image,
                      params=params, notes=notes,
                      extra={"parameters": model_params} if model_params else None)


def test_every_entry_is_a_row_of_a_runs_file():
    names = {r.name for r in reproduce.load_rows()}
    for e in lb.ONE_TO_ONE + lb.ANY_TO_ANY:
        assert e.row_name in names, e


def test_board_mean_sd_over_seeds_and_missing_reasons(tmp_path):
    _write(tmp_path, "msrnet", "table1", "dmshn", 0, {"psnr": 14.0, "ssim": 0.5},
           notes={"lpips": "LPIPS unavailable: no alexnet weights"}, model_params=5424393)
    _write(tmp_path, "msrnet", "table1", "dmshn", 1, {"psnr": 16.0, "ssim": 0.6},
           model_params=5424393)
    entries = [e for e in lb.ONE_TO_ONE if e.variant in ("dmshn", "mbnet", "extra_data_residual")]
    df = lb.board(entries, ("psnr", "ssim", "lpips"), "quick", results_root=tmp_path).set_index(
        "method")
    d = df.loc["DMSHN"]
    # per seed: the mean over 2 images (14.05, 16.05); board: mean and sd over seeds
    assert d["psnr_mean"] == pytest.approx(15.05)
    assert d["psnr_sd"] == pytest.approx(math.sqrt(2.0))
    assert d["seeds"] == 2 and d["status"] == "" and d["params"] == 5424393
    assert d["budget"] == "150 steps x 4 at 64 px"
    assert math.isnan(d["lpips_mean"]) and "alexnet" in d["lpips_note"]
    mb = df.loc["MBNet"]
    assert mb["seeds"] == 0 and "not run yet" in mb["status"] and math.isnan(mb["psnr_mean"])


def test_rows_outside_the_profile_say_why(tmp_path):
    (large,) = [e for e in lb.ONE_TO_ONE if e.method == "LTNet†"]
    df = lb.board([large], ("psnr",), "quick", results_root=tmp_path)
    assert df["status"].iloc[0].startswith("not run at the quick profile: ")
    assert lb.short_status(df["status"].iloc[0]).count(";") == 0


def _bench():
    base = dict(section="inference", size="1024", device_name="GPU X")
    rows = [dict(section="model", model="dmshn", measure="params", value=5424393.0,
                 device_name="GPU X", size="", precision=""),
            dict(base, model="dmshn", precision="fp32", measure="latency_s", value=0.02),
            dict(base, model="dmshn", precision="bf16_cl", measure="latency_s", value=0.01),
            dict(base, model="dmshn", precision="bf16_cl", measure="fast_path_ok", value=1.0),
            dict(base, model="dmshn", precision="fp32", measure="peak_mem_mb", value=800.0),
            dict(base, model="dmshn", precision="bf16_cl", measure="peak_mem_mb", value=300.0)]
    return pd.DataFrame(rows)


def test_bench_columns_use_the_fastest_acceptable_precision_and_fp32_memory(tmp_path):
    (dmshn,) = [e for e in lb.ONE_TO_ONE if e.method == "DMSHN"]
    df = lb.board([dmshn], ("psnr",), "quick", results_root=tmp_path, bench=_bench())
    r = df.iloc[0]
    assert r["latency_s@GPU X"] == 0.01 and r["precision@GPU X"] == "bf16_cl"
    assert r["peak_mb@GPU X"] == 800.0
    # not run here, so the size comes from the benchmark
    assert r["params"] == 5424393.0
    v = lb.view(df, ("psnr",), "psnr", {"psnr": 2})
    assert v["PSNR"].iloc[0] == "—" and v["#"].iloc[0] == "" and v["seeds"].iloc[0] == "—"
    c = lb.cost_view(df, "psnr")
    assert c["GPU X: time (ms)"].iloc[0] == "10 (bf16)"
    assert c["GPU X: memory (MiB)"].iloc[0] == "800"
    assert lb.not_run(df) == [f"DMSHN: {lb.short_status(df['status'].iloc[0])}"]


def test_view_ranks_best_first_and_lpips_is_lower_better():
    df = pd.DataFrame({"method": ["a", "b", "c"], "paper": ["p"] * 3, "status": ["", "", "x"],
                       "lpips_mean": [0.3, 0.1, math.nan], "lpips_sd": [math.nan] * 3,
                       "params": [math.nan, 2e6, 1e6], "budget": [""] * 3, "seeds": [1, 1, 0]})
    v = lb.view(df, ("lpips",), "lpips", {"lpips": 3}, chapter_links={"p": "p/index.html"})
    assert list(v["method"]) == ["b", "a", "c"] and list(v["#"]) == ["1", "2", ""]
    assert list(v["LPIPS"]) == ["0.100", "0.300", "—"]
    assert v["paper"].iloc[0] == '<a href="p/index.html">p</a>'
    # not a network (no parameters): left out of the cost table
    assert list(lb.cost_view(df, "lpips")["method"]) == ["b", "c"]


def test_bench_summary_empty():
    assert lb.bench_summary(pd.DataFrame()).empty
    assert list(lb.bench_summary(bench.load_bench("/nonexistent")).columns)[:2] == [
        "model", "device_name"]
