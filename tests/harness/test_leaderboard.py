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


def test_rows_outside_the_profile_say_why(tmp_path, monkeypatch):
    import dataclasses

    (large,) = [e for e in lb.ONE_TO_ONE if e.method == "LTNet†"]
    # every row runs at quick now: keep LTNet†'s out of it, as runs.yaml's only_profiles would
    real = reproduce.load_rows
    monkeypatch.setattr(reproduce, "load_rows", lambda *a, **k: [
        dataclasses.replace(r, only_profiles=("gpu",), why="slow here; run it at gpu")
        if r.name == large.row_name else r for r in real(*a, **k)])
    df = lb.board([large], ("psnr",), "quick", results_root=tmp_path)
    assert df["status"].iloc[0] == "not run at the quick profile: slow here; run it at gpu"
    assert lb.short_status(df["status"].iloc[0]).count(";") == 0
    # a row of the profile without results says how to run it
    monkeypatch.setattr(reproduce, "load_rows", real)
    status = lb.board([large], ("psnr",), "quick", results_root=tmp_path)["status"].iloc[0]
    assert status.startswith("not run yet at the quick profile")


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


def test_the_ensemble_and_the_single_model_are_both_on_the_board_and_labelled():
    rows = {e.variant: e for e in lb.ONE_TO_ONE if e.paper == "ltnet"}
    assert {"ltnet_small_ensemble", "ltnet_small", "ltnet_small_no_dehaze"} <= set(rows)
    assert "ensemble" in rows["ltnet_small_ensemble"].method
    assert "single model" in rows["ltnet_small"].method
    assert rows["ltnet_small_ensemble"].ensemble == 5 and rows["ltnet_small"].ensemble == 1
    assert len({e.method for e in lb.ONE_TO_ONE}) == len(lb.ONE_TO_ONE)


def test_an_ensemble_has_its_size_times_the_copies_and_no_time(tmp_path):
    ens = [e for e in lb.ONE_TO_ONE if e.ensemble > 1]
    _write(tmp_path, ens[0].paper, ens[0].table, ens[0].variant, 0, {"psnr": 14.0},
           model_params=1000)
    b = _bench().assign(model=lambda d: d["model"].replace("dmshn", ens[0].model))
    df = lb.board(ens, ("psnr",), "quick", results_root=tmp_path, bench=b)
    assert df["params"].iloc[0] == 1000 * ens[0].ensemble
    assert math.isnan(df["latency_s@GPU X"].iloc[0])


def _loaded_and_idle_bench():
    rows = []
    for dev, kind, load, threads in (("CPU busy", "cpu", 3.9, 2), ("CPU idle", "cpu", 0.3, 2),
                                     ("GPU X", "cuda", 5.0, 16)):
        base = dict(section="inference", size="1024", device_name=dev, device=kind,
                    load_1min=load, threads=threads, timestamp_utc="2026-12-01T10:00:00+00:00")
        rows += [dict(base, model="dmshn", precision="fp32", measure="latency_s", value=2.0),
                 dict(base, model="dmshn", precision="fp32", measure="peak_mem_mb", value=9.0)]
    rows.append(dict(section="model", model="dmshn", measure="params", value=5.0,
                     device_name="CPU busy", device="cpu", size="", precision=""))
    return pd.DataFrame(rows)


def test_cpu_times_only_from_an_idle_machine(tmp_path):
    b = _loaded_and_idle_bench()
    cond = lb.bench_conditions(b).set_index("device_name")
    assert not cond.loc["CPU busy", "idle"] and cond.loc["CPU idle", "idle"]
    kept = set(lb.timed_bench(b).query("section == 'inference'")["device_name"])
    assert kept == {"CPU idle", "GPU X"}  # a GPU's time does not depend on the host's load
    (dmshn,) = [e for e in lb.ONE_TO_ONE if e.method == "DMSHN"]
    df = lb.board([dmshn], ("psnr",), "quick", results_root=tmp_path, bench=b)
    assert "latency_s@CPU busy" not in df.columns and df["latency_s@CPU idle"].iloc[0] == 2.0
    assert df["params"].iloc[0] == 5.0  # sizes need no idle machine


def test_view_puts_seeds_and_converged_next_to_the_ranking_metric():
    df = pd.DataFrame({"method": ["a", "b", "id"], "paper": ["p"] * 3, "row": ["p/t/a", "p/t/b",
                                                                               "p/t/id"],
                       "status": ["", "", ""], "psnr_mean": [20.0, 21.0, 13.0],
                       "psnr_sd": [math.nan] * 3, "ssim_mean": [0.5] * 3, "ssim_sd": [math.nan] * 3,
                       "params": [1e6, 1e6, math.nan], "budget": ["x", "x", ""],
                       "seeds": [3, 3, 3], "converged": ["yes", "no", ""]})
    v = lb.view(df, ("ssim", "psnr"), "psnr", {"psnr": 2}, run_links={"p/t/b": "../b.html"})
    assert list(v.columns[:6]) == ["#", "method", "paper", "PSNR", "seeds", "converged"]
    assert v.attrs["key_columns"] == ["#", "method", "PSNR", "seeds", "converged"]
    assert list(v["converged"]) == ["no", "yes", "no training"]
    assert v["method"].iloc[0] == '<a href="../b.html">b</a>' and v["method"].iloc[1] == "a"
    (note,) = lb.not_converged(df, "psnr")
    assert note.startswith("b (rank 1) did not converge")


def test_quality_vs_time_labels_do_not_overlap():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    df = pd.DataFrame({"method": ["one", "two", "three", "colour"], "paper": ["p", "p", "q", "b"],
                       "psnr_mean": [20.0, 20.01, 20.02, 15.0], "params": [1, 1, 1, math.nan],
                       "latency_s@GPU X": [0.04, 0.0401, 0.0402, math.nan]})
    fig = lb.quality_vs_time(df, "psnr", "PSNR")
    ax = fig.axes[0]
    fig.canvas.draw()
    from matplotlib.text import Text

    # the text's own box (an Annotation's extent would include its leader line)
    boxes = [Text.get_window_extent(t) for t in ax.texts
             if t.get_text() in ("one", "two", "three")]
    assert len(boxes) == 3
    for i in range(3):
        for j in range(i + 1, 3):
            assert not boxes[i].overlaps(boxes[j]), (i, j)
    ticks = [t for t in ax.get_xticklabels(minor=True) if t.get_text()]
    assert ticks == []  # minor ticks of the log axis carry no labels
    plt.close(fig)
    assert lb.quality_vs_time(df.assign(psnr_mean=math.nan), "psnr", "PSNR") is None
