"""The cost table: step times from the bench files, shared trainings, seeds, the README block."""

import json
from pathlib import Path

import pytest

from relight_lib.harness import costs

FLOPS = ("model,precision,size,batch,gflop_per_step,s_per_step,gflops_achieved,"
         "machine_peak_gflops,fraction_of_peak\n"
         "dmshn,fp32_cl,64,8,144,4.0,30,36,0.8\nltnet,fp32_cl,64,8,14,2.0,7,36,0.2\n")
LEVERS = ("model,lever,baseline,variant,s_per_step_baseline,s_per_step_variant,ratio,"
          "gflops_ratio,note\ndmshn,perceptual_loss,a,b,4,1,4.0,4.0,\n")
STEPS = ("model,arm,precision,threads,steps,s_per_step_median,s_per_step_mean,omp_wait_policy,"
         "load_1min_before,load_1min_after,timestamp_utc\n"
         "dmshn,loss as trained,fp32,2,20,3.0,3.1,PASSIVE,1.5,1.7,t\n"
         "dmshn,without the VGG term,fp32,2,20,1.0,1.1,PASSIVE,1.6,1.8,t\n")


def _bench(tmp_path: Path, steps: bool = True) -> Path:
    d = tmp_path / "bench"
    d.mkdir(parents=True)
    (d / "m-training-flops.csv").write_text(FLOPS)
    (d / "m-training-levers.csv").write_text(LEVERS)
    if steps:
        (d / "m-training-steps.csv").write_text(STEPS)
    return d


def test_step_times_read_one_run_for_all_and_add_the_missing(tmp_path):
    d = _bench(tmp_path)
    with open(d / "m-training-steps.csv", "a") as f:
        f.write("ltnet,loss as trained,fp32,2,3,4.0,4.0,PASSIVE,9.0,9.5,2026-01-01T10:00:00\n"
                "ltnet_4_32,loss as trained,fp32,2,3,5.0,5.0,PASSIVE,9.0,9.5,"
                "2026-01-01T10:01:00\n")
    t = costs.step_times("m", d)
    # the FLOPs run times every model under one load: it wins where it has the model
    assert t["dmshn"]["s"] == 4.0 and t["dmshn"]["s_no_vgg"] == 1.0
    assert "training-flops" in t["dmshn"]["source"]
    assert t["ltnet"]["s"] == 2.0 and t["ltnet"]["s_no_vgg"] is None
    # timed at twice LTNet*'s step here, where LTNet* took 4.0 s against 2.0 in the FLOPs run
    assert t["ltnet_4_32"]["s"] == pytest.approx(5.0 * 2.0 / 4.0)
    assert t["ltnet_4_32"]["load"] == 9.0 and "scaled by ltnet" in t["ltnet_4_32"]["source"]


def test_model_mapping_and_perceptual_share():
    assert costs.bench_model({"model": "ltnet", "steps": 8,
                              "model_kwargs": {"f1": 4, "nc": 32}})[0] == "ltnet_4_32"
    name, note = costs.bench_model({"model": "swapnet_envmap_scene", "steps": 8})
    assert name == "swapnet_envmap" and "model B" in note
    assert costs.bench_model({"model": "dmshn", "steps": 0})[0] is None
    assert costs.perceptual_fraction({"steps": 10, "loss": ["1 x mse"]}) == 0.0
    assert costs.perceptual_fraction({"steps": 10, "loss": ["0.1 x perceptual(vgg19)"]}) == 1.0
    assert costs.perceptual_fraction({"steps": 8, "loss": [
        "a (steps 0-1): 1 x mse", "b (steps 2-7): 1 x perceptual"]}) == 0.75


def test_training_signature_drops_lpips_and_keeps_the_budget():
    base = {"model": "ltnet", "model_kwargs": {"f1": 2}, "steps": 800, "batch_size": 8,
            "loss": ["1 x charbonnier", "0.1 x lpips [optional]"], "data": ["s0"]}
    assert costs.training_signature(base) == costs.training_signature(
        {**base, "loss": ["1 x charbonnier"], "postprocess": "dehaze"})
    assert costs.training_signature(base) != costs.training_signature({**base, "steps": 1600})
    assert costs.training_signature(base) != costs.training_signature({**base, "data": ["s1"]})
    assert costs.training_signature({**base, "steps": 0}) is None


def _plan(model, steps, loss, **kw):
    return {"model": model, "model_kwargs": kw.pop("model_kwargs", {}), "steps": steps,
            "batch_size": 8, "loss": loss, "data": ["s0"], **kw}


def test_cost_table_prices_rows_and_shares_trainings(tmp_path):
    cl = ["stage1 (steps 0-399): 1 x mse", "stage2 (steps 400-799): 0.006 x perceptual"]
    plans = {"msrnet/table2/dmshn_cl": _plan("dmshn", 800, cl),
             "msrnet/table1/dmshn": _plan("dmshn", 800, cl, postprocess="x"),
             "msrnet/table2/dmshn_mse": _plan("dmshn", 800, ["1 x mse"]),
             "mbnet/table1/baseline": _plan("mbnet", 100, ["1 x perceptual"]),
             "baselines/onetoone/identity": _plan("identity", 0, [])}
    df = costs.cost_table(bench_dir=_bench(tmp_path), machine="m", row_plans=plans,
                          results_root=tmp_path / "none").set_index("row")
    cl_row, mse = df.loc["msrnet/table2/dmshn_cl"], df.loc["msrnet/table2/dmshn_mse"]
    assert cl_row["s/step"] == pytest.approx(0.5 * 4.0 + 0.5 * 1.0)
    assert cl_row["training (min)"] == pytest.approx(2.5 * 800 * 5 / 60)
    assert mse["s/step"] == pytest.approx(1.0) and mse["seeds"] == 5
    shared = df.loc["msrnet/table1/dmshn"]
    assert shared["training (min)"] == 0 and shared["shares training with"] == "msrnet/table2/dmshn_cl"
    mb = df.loc["mbnet/table1/baseline"]
    assert mb["seeds"] == 3 and pd_isna(mb["s/step"])
    assert "no step time" in mb["note"] and pd_isna(mb["total (min)"])
    x2 = df.loc["msrnet/table2/dmshn_mse__x2"]  # a budget check: one seed, its own plan
    assert x2["seeds"] == 1 and "not planned" in x2["note"]
    assert df.attrs["steps_on"] == "m"


def pd_isna(v):
    import pandas as pd

    return bool(pd.isna(v))


def test_committed_overhead_is_used_per_seed(tmp_path):
    root = tmp_path / "results"
    seed = root / "quick" / "msrnet" / "table2" / "dmshn_mse" / "seed=0"
    seed.mkdir(parents=True)
    (seed / "run.json").write_text(json.dumps({
        "extra": {"seconds": {"train": 100.0, "evaluate": 6.0, "run_time": 54.0}},
        "wall_time_s": 170.0, "provenance": {"device": "cpu", "device_name": "X", "cpu_count": 2}}))
    plans = {"msrnet/table2/dmshn_mse": _plan("dmshn", 800, ["1 x mse"])}
    df = costs.cost_table(bench_dir=_bench(tmp_path), machine="m", row_plans=plans,
                          results_root=root).set_index("row")
    r = df.loc["msrnet/table2/dmshn_mse"]
    assert r["overhead from"] == "this row" and r["overhead (min)"] == pytest.approx(5 * 60 / 60)
    assert r["total (min)"] == pytest.approx(r["training (min)"] + r["overhead (min)"])
    assert df.attrs["overhead_on"] == "X (2 cores)"


def test_a_training_committed_on_the_machine_prices_its_rows_by_its_measured_steps(tmp_path):
    root = tmp_path / "results"
    prov = {"device": "cpu", "device_name": "X CPU", "cpu_count": 2}
    for s, (train, trained) in enumerate([(400.0, 800), (480.0, 800), (440.0, 800)]):
        seed = root / "quick" / "msrnet" / "table2" / "dmshn_mse" / f"seed={s}"
        seed.mkdir(parents=True)
        (seed / "run.json").write_text(json.dumps({
            "extra": {"seconds": {"train": train, "evaluate": 6.0, "run_time": 4.0},
                      "steps_trained_here": trained},
            "wall_time_s": train + 10, "provenance": prov}))
    # a row that reused that training trained nothing here: no step time of its own
    reuse = root / "quick" / "msrnet" / "table1" / "dmshn" / "seed=0"
    reuse.mkdir(parents=True)
    (reuse / "run.json").write_text(json.dumps({
        "extra": {"seconds": {"train": 0.0, "evaluate": 6.0, "run_time": 4.0},
                  "steps_trained_here": 0}, "wall_time_s": 12.0, "provenance": prov}))
    bench = _bench(tmp_path)
    for f in bench.iterdir():  # the same bench files under this machine's name
        (bench / f.name.replace("m-", "cpu-x-cpu-2c-", 1)).write_text(f.read_text())
    plans = {"msrnet/table2/dmshn_mse": _plan("dmshn", 800, ["1 x mse"]),
             "msrnet/table1/dmshn": _plan("dmshn", 800, ["1 x mse"], postprocess="x"),
             "msrnet/table2/dmshn_csl": _plan("dmshn", 400, ["1 x mse"])}
    assert costs.committed_seconds("quick", root)["msrnet/table1/dmshn"]["s_per_step"] == []
    df = costs.cost_table(bench_dir=bench, machine="cpu-x-cpu-2c", row_plans=plans,
                          results_root=root).set_index("row")
    mse = df.loc["msrnet/table2/dmshn_mse"]
    assert mse["s/step"] == pytest.approx(0.55)  # the median seed: 440 s over 800 steps
    assert "measured" in mse["note"] and "3 seeds" in mse["note"]
    assert df.loc["msrnet/table1/dmshn"]["shares training with"] == "msrnet/table2/dmshn_mse"
    # another budget is another training: the bench's step (mse only: without the VGG term),
    # scaled by how the measured training compared with the bench (0.55 s against 1.0 s)
    csl = df.loc["msrnet/table2/dmshn_csl"]
    assert csl["s/step"] == pytest.approx(0.55) and "x0.55" in csl["note"]
    # the same runs on another machine's table: the bench
    other = costs.cost_table(bench_dir=_bench(tmp_path / "o"), machine="m", row_plans=plans,
                             results_root=root).set_index("row")
    assert other.loc["msrnet/table2/dmshn_mse"]["s/step"] == pytest.approx(1.0)


def _committed_row(root: Path, name: str, device: str, steps: int, train_s: float,
                   amp: bool, seeds: int = 2, notebook_s: float = 3600.0) -> None:
    paper, table, variant = name.split("/")
    for s in range(seeds):
        seed = root / "quick" / paper / table / variant / f"seed={s}"
        seed.mkdir(parents=True)
        (seed / "run.json").write_text(json.dumps({
            "params": {"train": {"amp": amp}},
            "extra": {"seconds": {"train": train_s, "evaluate": 6.0, "run_time": 4.0},
                      "steps_trained_here": steps, "train_steps": steps},
            "wall_time_s": train_s + 10,
            "provenance": {"device": "cpu", "device_name": device, "cpu_count": 2}}))
    nb = root / "quick" / "executed" / paper / f"{table}__{variant}.ipynb"
    nb.parent.mkdir(parents=True, exist_ok=True)
    nb.write_text(json.dumps({"metadata": {"papermill": {"duration": notebook_s}}}))


def test_summary_splits_the_committed_rows_by_machine_and_prices_them_at_their_steps(tmp_path):
    root = tmp_path / "results"
    # trained here (machine "X CPU") in fp32 at today's 1600 steps, 0.5 s a step
    _committed_row(root, "msrnet/table2/dmshn_mse", "X CPU", 1600, 800.0, False,
                   notebook_s=1800.0)
    # trained on another machine in bf16 at 800 steps; its recipe now asks for 1600
    _committed_row(root, "msrnet/table2/dmshn_csl", "Y CPU", 800, 100.0, True,
                   notebook_s=360.0)
    bench = _bench(tmp_path)
    for f in list(bench.iterdir()):  # the bench files under the name of machine X
        (bench / f.name.replace("m-", "cpu-x-cpu-2c-", 1)).write_text(f.read_text())
    plans = {"msrnet/table2/dmshn_mse": _plan("dmshn", 1600, ["1 x mse"]),
             "msrnet/table2/dmshn_csl": _plan("dmshn", 1600, ["1 x charbonnier"])}
    df = costs.cost_table(bench_dir=bench, machine="cpu-x-cpu-2c", row_plans=plans,
                          results_root=root)
    s = costs.summary(df, results_root=root)
    assert s["committed_rows"] == 2 and s["committed_h"] == pytest.approx(0.6)
    assert s["here"] == {"rows": 1, "h": 0.5, "machines": "X CPU (2 cores)", "bf16": 0}
    away = s["elsewhere"]
    assert (away["rows"], away["h"], away["machines"], away["bf16"]) == (
        1, pytest.approx(0.1), "Y CPU (2 cores)", 1)
    # priced at the 2 x 800 steps its seeds ran, not at the recipe's 1600: 0.5 s a step
    # (the bench step scaled by the training measured here), 10 s of evaluation a seed, and
    # the notebook's own time
    csl = df.set_index("row").loc["msrnet/table2/dmshn_csl"]
    assert csl["s/step"] == pytest.approx(0.5)
    nb_min = df.attrs["notebook_s"] / 60
    assert away["estimate_h"] * 60 == pytest.approx(0.5 * 1600 / 60 + 2 * 10 / 60 + nb_min)
    assert away["slowdown"] == pytest.approx(away["estimate_h"] / 0.1)
    sentence = costs.committed_sentence(s)
    assert sentence.startswith("Of the 2 committed rows that trained, 1 took 0.1 h on Y CPU "
                               "(2 cores) in bf16")
    assert "1 took 0.5 h on cpu-x-cpu-2c (X CPU (2 cores)) in fp32." in sentence
    assert costs.committed_sentence({**s, "here": {**s["here"], "rows": 0},
                                     "elsewhere": {**away, "rows": 0}}) == ""


def test_readme_text_states_the_summary():
    s = {"render_h": 0.5, "seeds": 5, "mbnet_seeds": 3, "rows": 55, "trainings": 29,
         "total_h": 125.4, "steps_on": "m", "training_h": 124.0, "overhead_h": 1.04,
         "overhead_on": "X (2 cores)", "committed_rows": 21, "committed_h": 5.21,
         "here": {"rows": 2, "h": 1.5, "machines": "X (2 cores)", "bf16": 0},
         "elsewhere": {"rows": 19, "h": 3.71, "machines": "Y (2 cores)", "bf16": 19,
                       "estimate_h": 48.0, "slowdown": 12.94}}
    text = costs.readme_text(s)
    flat = " ".join(text.split())
    assert "at 5 seeds (MBNet 3)" in flat and "(55 rows, 29 trainings)" in flat
    assert "**125 h**" in flat and "30 min render" in flat and "12.9 times as long" in flat
    assert "19 took 3.7 h on Y (2 cores) in bf16" in flat and "2 took 1.5 h on m" in flat
    assert all(line.startswith("  ") and len(line) <= 96 for line in text.splitlines())


def test_bf16_explanation_multiplies_out(tmp_path):
    d = _bench(tmp_path)
    (d / "m-training-peak.csv").write_text(
        "kernel,precision,shape,gflop,seconds,gflops\nconv3x3,fp32,x,1,1,36.0\n"
        "conv3x3,bf16,x,1,1,3.6\n")
    (d / "m-training-omp.csv").write_text(
        "model,round,steps,threads,s_per_step_default,s_per_step_passive,ratio,"
        "load_1min_before,load_1min_after\nltnet,0,2,2,8,2,4.0,1,1\ndmshn,0,2,2,10,2,5.0,1,1\n"
        "dmshn,1,2,2,12,2,6.0,1,1\n")
    (d / "x-training-path.csv").write_text(
        "section,model,size,precision,measure,value,unit,note,profile,device,device_name,"
        "threads\ntraining_path,dmshn,64,fp32,step_s_memory,0.3,s,,quick,cpu,Xeon,2\n"
        "training_path,dmshn,64,bf16_cl,step_s_memory,0.1,s,,quick,cpu,Xeon,2\n")
    root = tmp_path / "results"
    for variant, train in (("dmshn_mse", 80.0), ("dmshn_cl", 120.0)):
        seed = root / "quick" / "msrnet" / "table2" / variant / "seed=0"
        seed.mkdir(parents=True)
        # trained 800 steps, whatever the recipe's budget is now
        (seed / "run.json").write_text(json.dumps({
            "extra": {"seconds": {"train": train, "evaluate": 1.0, "run_time": 5.0},
                      "train_steps": 800},
            "wall_time_s": train + 6, "provenance": {"device": "cpu", "device_name": "Xeon",
                                                      "cpu_count": 2}}))
    w = costs.bf16_explanation("dmshn", "m", d, root)
    assert w["there_row_s"] == pytest.approx(80.0 / 800) and w["there"] == "Xeon (2 cores)"
    assert w["bf16_gain"] == pytest.approx(3.0) and w["here_s"] == pytest.approx(1.0)
    assert w["machine_factor"] == pytest.approx(1.0 / 0.3)
    assert w["total"] == pytest.approx(10.0)
    assert w["vgg_here"] == pytest.approx(4.0)
    assert w["vgg_there"] == pytest.approx((2 * 0.15 - 0.1) / 0.1)
    assert w["here20_s"] == 1.0 and w["here20_vgg_s"] == 3.0 and w["here20_load"] == 1.6
    assert w["bf16_peak_ratio"] == pytest.approx(10.0)
    assert (w["omp_gain"], w["omp_min"], w["omp_max"]) == (5.0, 4.0, 6.0)
