"""Reading the benchmark CSVs back (``results/bench/``) for the Performance chapter and the
leaderboard, and the papers' reported run times they are compared with.

:mod:`relight_lib.bench` measures and writes; this module only reads, so the book never imports
the measuring code.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

#: Columns of the benchmark CSV, in order.
COLUMNS: tuple[str, ...] = (
    "section", "model", "size", "precision", "measure", "value", "unit", "note", "profile",
    "device", "device_name", "threads", "load_1min", "torch", "relight_lib", "python",
    "git_commit", "git_dirty", "setting", "timestamp_utc",
)

#: Which reported run time each of our models is compared with: model -> (paper, table,
#: variant, split) in ``results/reported/<paper>.csv``. LTNet† without dehaze, because our
#: model output is not dehazed. MBNet's own paper states 2.8867 s only in its text; the
#: reported CSVs carry the run time as LTNet Table 1 prints it (NTIRE 2021 test row).
PAPER_RUNTIME_ROWS: dict[str, tuple[str, str, str, str]] = {
    "ltnet": ("ltnet", "table1", "ltnet_small_ensemble", "validation"),
    "ltnet_large": ("ltnet", "table1", "ltnet_large_no_dehaze", "validation"),
    "dmshn": ("msrnet", "table1", "dmshn", "validation"),
    "stacked_dmshn": ("msrnet", "table1", "stacked_dmshn", "validation"),
    "mbnet": ("ltnet", "table1", "aicsntu_mbnet", "test"),
}


#: How many times faster than the paper's reported run time our GPU latency should be (the
#: suite's performance target, spec/evaluation.md).
TARGET_SPEEDUP = 10

def load_bench(folder: str | os.PathLike[str] = "results/bench") -> Any:
    """All benchmark CSVs in ``folder`` (not the render-speed file) as one DataFrame with a
    ``file`` column; an empty frame with :data:`COLUMNS` when there are none."""
    import pandas as pd

    frames = []
    for p in sorted(Path(folder).glob("*.csv")):
        if p.name == "synvidit_render.csv":
            continue
        df = pd.read_csv(p, dtype={"note": str, "git_commit": str}, keep_default_na=False)
        if "measure" not in df.columns:
            continue
        df["value"] = pd.to_numeric(df["value"], errors="coerce")
        df["file"] = p.name
        frames.append(df)
    if not frames:
        return pd.DataFrame(columns=[*COLUMNS, "file"])
    return pd.concat(frames, ignore_index=True)


def reported_hardware(note: str) -> str:
    """The hardware a reported run time was measured on, from the ``note`` of a
    ``results/reported`` row (``'...; hardware: Tesla K80; ...'``), or '' when not stated.

    >>> reported_hardware("copied; hardware: Tesla K80; seconds per 1024x1024 image")
    'Tesla K80'
    """
    m = re.search(r"hardware:\s*([^;]+)", note)
    return m.group(1).strip() if m else ""


def paper_runtimes(root: str | os.PathLike[str] = "results/reported") -> Any:
    """The papers' reported seconds per 1024 x 1024 image for our models
    (:data:`PAPER_RUNTIME_ROWS`), read from ``results/reported``: columns ``model``, ``label``,
    ``paper``, ``where``, ``seconds``, ``hardware``."""
    import pandas as pd

    from relight_lib.harness.results import load_reported

    out = []
    for model, (paper, table, variant, split) in PAPER_RUNTIME_ROWS.items():
        rep = load_reported(paper, table, root=root)
        r = rep[(rep["variant"] == variant) & (rep["split"] == split)
                & (rep["metric"] == "runtime_s")]
        if r.empty:
            continue
        out.append({"model": model, "label": r["label"].iloc[0], "paper": paper,
                    "where": r["where"].iloc[0], "seconds": float(r["value"].iloc[0]),
                    "hardware": reported_hardware(str(r["note"].iloc[0])) or "not stated"})
    return pd.DataFrame(out, columns=["model", "label", "paper", "where", "seconds", "hardware"])


def compare_with_papers(bench: Any, size: int = 1024) -> Any:
    """Our fastest acceptable latency at ``size`` per model and device next to the paper's.

    Acceptable: fp32, or a bf16 precision whose ``fast_path_ok`` rows are all 1 for that model
    and size (several benchmark files may measure the same model). Columns: ``model``, ``device_name``, ``precision``, ``ours_s``, ``paper_s``,
    ``hardware``, ``speedup`` (paper / ours; > 1 means we are faster), ``target_10x``.
    """
    import pandas as pd

    cols = ["model", "device_name", "precision", "ours_s", "paper_s", "hardware", "speedup",
            "target_10x"]
    rep = paper_runtimes()
    if bench.empty:
        return pd.DataFrame(columns=cols)
    b = bench[(bench["section"] == "inference")
              & (bench["size"].astype(str) == str(size))].reset_index(drop=True)
    lat = b[(b["measure"] == "latency_s") & b["value"].notna()]
    # several runs (files) may check the same model and precision: it is acceptable only if
    # every check passed
    ok = (b[b["measure"] == "fast_path_ok"]
          .groupby(["device_name", "model", "precision"])["value"].min())
    out = []
    for (dev, model), g in lat.groupby(["device_name", "model"]):
        g = g[[p == "fp32" or ok.get((dev, model, p), 0) == 1 for p in g["precision"]]]
        if g.empty:
            continue
        best = g.loc[g["value"].idxmin()]
        r = rep[rep["model"] == model]
        paper_s = float(r["seconds"].iloc[0]) if len(r) else float("nan")
        speed = paper_s / best["value"] if len(r) else float("nan")
        out.append({"model": model, "device_name": dev, "precision": best["precision"],
                    "ours_s": float(best["value"]), "paper_s": paper_s,
                    "hardware": r["hardware"].iloc[0] if len(r) else "",
                    "speedup": speed, "target_10x": bool(speed >= TARGET_SPEEDUP) if len(r) else None})
    return pd.DataFrame(out, columns=cols)


# --------------------------------------------------------------------------------------------
# are the papers' reported run times physically possible?

#: fp32 peak (TFLOP/s, boost clock, no tensor cores) and memory bandwidth (GB/s) of the GPUs the
#: papers name, from NVIDIA's datasheets (cores x boost clock x 2 FLOP per fused multiply-add).
#: Matched against the reported hardware text, case and spaces ignored. Generous on purpose: the
#: K80 is counted with both of its GK210 dies although one CUDA device is one die, so a row
#: flagged below is impossible even then.
GPU_DATASHEETS: dict[str, tuple[float, float, str]] = {
    # both GK210 dies at boost clock; one die (one CUDA device) is 4.37 TFLOP/s and 240 GB/s
    "teslak80": (8.73, 480.0, "Tesla K80 (both dies)"),
    # 3584 cores x 1.582 GHz x 2; no tensor cores
    "1080ti": (11.34, 484.0, "GTX 1080 Ti"),
    # SXM2 fp32 (PCIe: 14.0); its fp16 tensor cores reach 125 TFLOP/s
    "teslav100": (15.7, 900.0, "Tesla V100 (fp32)"),
    # SXM2 fp32 (PCIe: 9.3)
    "p100": (10.6, 732.0, "Tesla P100"),
    # fp32; its fp16 tensor cores reach 107 TFLOP/s
    "2080ti": (13.45, 616.0, "RTX 2080 Ti (fp32)"),
    "titanxp": (12.15, 547.7, "Titan Xp"),
}

#: Reported rows that are another paper's copy of a model we implement: (paper, table, variant)
#: -> (model, kwargs). Rows of our own tables are resolved from notebooks/*/runs.yaml.
COPIED_ROWS: dict[tuple[str, str, str], tuple[str, dict[str, Any]]] = {
    ("ltnet", "table1", "msrnet"): ("stacked_dmshn", {}),
    ("ltnet", "table1", "aicsntu_mbnet"): ("mbnet", {}),
}


def datasheet(hardware: str) -> tuple[float, float, str] | None:
    """(fp32 TFLOP/s, GB/s, source) of the GPU named in ``hardware``, or None.

    >>> datasheet("GTX 1080 Ti (AMD 1950X, 64 GB RAM)")[0]
    11.34
    """
    key = re.sub(r"[^a-z0-9]", "", hardware.lower())
    for name, spec in GPU_DATASHEETS.items():
        if name in key:
            return spec
    return None


def flops_at(model: str, kwargs: dict[str, Any], size: int = 1024) -> int:
    """Forward FLOPs of one ``size`` x ``size`` image, counted by torch's FlopCounterMode on
    the ``meta`` device (shapes only: no memory, no weights, seconds on a CPU)."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    from relight_lib.library.models import build_model

    kwargs = {**kwargs, **({"pretrained": "none"} if model == "mbnet" else {})}
    try:
        with torch.device("meta"):
            net = build_model(model, **kwargs)
    except RuntimeError:  # an init that reads values (MBNet's seed): build, then drop the data
        net = build_model(model, **kwargs).to("meta")
    with torch.device("meta"):
        batch = {"input": torch.rand(1, 3, size, size)}
        for key in getattr(net, "needs", ()):
            batch[key] = torch.rand(1, 1 if "depth" in key else 3, size, size)
        with FlopCounterMode(display=False) as counter:
            net(batch)
    return int(counter.get_total_flops())


def _row_model(paper: str, table: str, variant: str) -> tuple[str, dict[str, Any]] | None:
    """The network a reported row timed, when we implement it."""
    if (paper, table, variant) in COPIED_ROWS:
        return COPIED_ROWS[(paper, table, variant)]
    if paper not in ("ltnet", "msrnet"):
        return None
    import inspect

    from relight_lib.harness import reproduce

    rows = {(r.table, r.variant): r for r in reproduce.load_rows() if r.paper == paper}
    row = rows.get((table, variant))
    if row is None:
        return None
    params = {**reproduce.notebook_parameters(row.notebook), **row.params}
    if paper == "ltnet":
        from relight_lib.papers.ltnet.recipe import ltnet_row as make
    else:
        from relight_lib.papers.msrnet import msrnet_row as make
    accepted = inspect.signature(make).parameters
    spec = make(**{k: v for k, v in params.items() if k in accepted})
    return spec["model"], dict(spec.get("model_kwargs") or {})


def plausibility(root: str | os.PathLike[str] = "results/reported") -> Any:
    """Every run time the papers report, against the fastest time physics allows on the named
    GPU: the forward FLOPs of the network at 1024 x 1024 (counted, for the networks we
    implement) over the GPU's fp32 peak (:data:`GPU_DATASHEETS`). A reported time below that
    bound is impossible as described (unsynchronised CUDA timing would produce exactly this).

    Columns: ``paper``, ``table``, ``variant``, ``label``, ``split``, ``reported_s``,
    ``hardware``, ``gflop``, ``peak_tflops``, ``bound_s``, ``verdict``, ``why``.
    """
    import pandas as pd

    from relight_lib.harness.results import load_reported

    cols = ["paper", "table", "variant", "label", "split", "reported_s", "hardware", "gflop",
            "peak_tflops", "bound_s", "verdict", "why"]
    out = []
    flops_cache: dict[str, int] = {}
    for paper in ("ltnet", "mbnet", "msrnet", "swapnet"):
        try:
            rep = load_reported(paper, root=root)
        except (FileNotFoundError, ValueError):
            continue
        paper_hw = {"ltnet": "Tesla K80", "msrnet": "GTX 1080 Ti"}.get(paper, "")
        for _, r in rep[rep["metric"] == "runtime_s"].iterrows():
            hardware = reported_hardware(str(r["note"]))
            assumed = ""
            if not hardware and paper_hw:
                hardware, assumed = paper_hw, " (not stated for this row; the paper's test GPU)"
            rec = {"paper": paper, "table": r["table"], "variant": r["variant"],
                   "label": r["label"], "split": r["split"], "reported_s": float(r["value"]),
                   "hardware": (hardware or "not stated") + assumed, "gflop": None,
                   "peak_tflops": None, "bound_s": None}
            spec = datasheet(hardware) if hardware else None
            net = _row_model(paper, r["table"], r["variant"])
            if net is None:
                rec.update(verdict="not checked",
                           why="another paper's architecture, not implemented here")
            elif spec is None:
                rec.update(verdict="not checked", why="hardware not stated or not in the table")
            else:
                key = json.dumps(net, sort_keys=True)
                if key not in flops_cache:
                    flops_cache[key] = flops_at(*net)
                flops = flops_cache[key]
                bound = flops / (spec[0] * 1e12)
                rec.update(gflop=flops / 1e9, peak_tflops=spec[0], bound_s=bound)
                if rec["reported_s"] < bound:
                    rec.update(verdict="impossible",
                               why=f"{flops / 1e9:,.0f} GFLOP in {rec['reported_s']} s is "
                                   f"{flops / rec['reported_s'] / 1e12:.1f} TFLOP/s, "
                                   f"{bound / rec['reported_s']:.1f}x the {spec[2]}'s fp32 "
                                   f"peak of {spec[0]} TFLOP/s")
                else:
                    rec.update(verdict="possible",
                               why=f"needs {flops / rec['reported_s'] / 1e12:.1f} TFLOP/s, "
                                   f"{rec['reported_s'] / bound:.1f}x above the fp32 bound")
                if r["variant"] == "ltnet_small_ensemble":
                    rec["why"] += ("; one network: the submitted 5-snapshot ensemble would need "
                                   f"{5 * bound:.3f} s at least")
            out.append(rec)
    return pd.DataFrame(out, columns=cols)


# --------------------------------------------------------------------------------------------
# training efficiency against the machine (relight_lib.bench_flops)

#: Files of one machine's training-efficiency run, by kind (``<machine>-training-<kind>``).
TRAINING_KINDS: tuple[str, ...] = ("flops", "profile", "phases", "levers", "peak")


def load_training_efficiency(folder: str | os.PathLike[str] = "results/bench"
                             ) -> dict[str, dict[str, Any]]:
    """Every machine's training-efficiency files in ``folder`` (written by
    ``relight bench --training-flops``): ``{machine: {kind: DataFrame, ..., "meta": dict}}``
    for the kinds of :data:`TRAINING_KINDS` present; machines sorted by name."""
    import pandas as pd

    out: dict[str, dict[str, Any]] = {}
    for p in sorted(Path(folder).glob("*-training-flops.csv")):
        machine = p.name[: -len("-training-flops.csv")]
        got: dict[str, Any] = {}
        for kind in TRAINING_KINDS:
            f = Path(folder) / f"{machine}-training-{kind}.csv"
            if f.exists():
                got[kind] = pd.read_csv(f, keep_default_na=True)
        meta = Path(folder) / f"{machine}-training-flops.json"
        got["meta"] = json.loads(meta.read_text()) if meta.exists() else {}
        out[machine] = got
    return out


def flop_ratio(flops: Any, model: str = "ltnet", reference: str = "dmshn") -> float | None:
    """``model``'s achieved GFLOP/s over ``reference``'s in one training-flops table (None when
    either is missing): the issue-27 target is >= 0.5 for LTNet* against DMSHN."""
    rate = dict(zip(flops["model"], flops["gflops_achieved"]))
    if model not in rate or reference not in rate or not rate[reference]:
        return None
    return float(rate[model]) / float(rate[reference])


#: Operators that do the counted FLOPs (convolutions and matrix products, forward and backward).
FLOP_OPERATORS = re.compile(r"convolution|conv2d|::mm$|addmm|bmm|matmul|linear")


def flop_operator_share(profile: Any, model: str) -> float:
    """The share of ``model``'s profiled step spent in the operators that do its counted FLOPs
    (:data:`FLOP_OPERATORS`; only the listed top operators are seen, so a lower bound)."""
    p = profile[profile["model"] == model]
    return float(p.loc[p["operator"].str.contains(FLOP_OPERATORS), "self_cpu_share"].sum())
