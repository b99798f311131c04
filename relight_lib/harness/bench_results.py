"""Reading the benchmark CSVs back (``results/bench/``) for the Performance chapter and the
leaderboard, and the papers' reported run times they are compared with.

:mod:`relight_lib.bench` measures and writes; this module only reads, so the book never imports
the measuring code.
"""

from __future__ import annotations

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
                    "speedup": speed, "target_10x": bool(speed >= 10) if len(r) else None})
    return pd.DataFrame(out, columns=cols)
