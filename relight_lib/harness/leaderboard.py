"""The leaderboard: every method of the suite on the same data, budget and metrics.

No paper can make this comparison: each trained on its own budget, at its own resolution, with its
own metrics code. Here every method is one row of a paper table that the suite has already run
at a profile, so the methods share the SynVIDIT split, the image size, the optimiser step budget
and the metric implementations of that profile. This module picks, for each method, the row that
is the paper's own final configuration (:data:`ONE_TO_ONE`, :data:`ANY_TO_ANY`), reads its
results, and adds the model's size, inference time and peak memory from the benchmark CSVs
(``results/bench/``, :mod:`relight_lib.bench`): a CPU's times only from a benchmark run on an
idle machine (:func:`timed_bench`), each device labelled with its benchmark's date and load
(:func:`bench_conditions`). LTNet's submitted snapshot ensemble and its single model are
separate, labelled entries; each entry says whether its training converged.

Nothing is recomputed here: a metric a run could not compute stays missing with its reason, and
a method whose row was not run at the profile is listed with the runner's reason.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from relight_lib.harness import reproduce, results

#: Metrics of each board, in column order (higher is better except LPIPS).
ONE_TO_ONE_METRICS: tuple[str, ...] = ("psnr", "ssim", "lpips", "mps")
ANY_TO_ANY_METRICS: tuple[str, ...] = ("score_l2", "psnr", "ssim", "lpips")
LOWER_IS_BETTER = frozenset({"lpips", "mse", "dssim"})


@dataclass(frozen=True)
class Entry:
    """One method on a board.

    Attributes:
        method: Its name on the board.
        paper, table, variant: The row of ours that is the method (``notebooks/<paper>/runs.yaml``).
        model: The registered model name whose size and speed the benchmark measured (None for
            methods that are not networks).
        config: One line: which configuration of the paper this is.
        ensemble: How many copies of ``model`` one prediction runs (a snapshot ensemble): its
            parameters are that many times the model's; the benchmark timed one network, so
            the board shows no time or memory for it rather than an estimate.
    """

    method: str
    paper: str
    table: str
    variant: str
    model: str | None
    config: str
    ensemble: int = 1

    @property
    def row_name(self) -> str:
        return f"{self.paper}/{self.table}/{self.variant}"


#: Track 1 (one-to-one: 6500 K North -> 4500 K East). Each paper's final configuration.
ONE_TO_ONE: tuple[Entry, ...] = (
    Entry("Identity", "baselines", "onetoone", "identity", None,
          "the input returned unchanged: the floor every method must beat"),
    Entry("Colour transform", "baselines", "onetoone", "colour_lstsq", None,
          "one 3x4 colour matrix fitted by least squares on the training pairs"),
    Entry("LTNet* ensemble (submitted)", "ltnet", "table1", "ltnet_small_ensemble", "ltnet",
          "(2,16), RGB + depth, the paper's losses, dehazing, the mean of 5 snapshots: the "
          "model the paper submitted and its Table 1 reports", ensemble=5),
    Entry("LTNet* single model", "ltnet", "table1", "ltnet_small", "ltnet",
          "(2,16), RGB + depth, the paper's losses, dehazing, the final weights alone"),
    Entry("LTNet* single model, not dehazed", "ltnet", "table1", "ltnet_small_no_dehaze",
          "ltnet", "the single model's output before the dehazing post-process"),
    Entry("LTNet†", "ltnet", "table1", "ltnet_large_dehaze", "ltnet_large",
          "(8,32), RGB + depth, the paper's losses, dehazing post-process"),
    Entry("DMSHN", "msrnet", "table1", "dmshn", "dmshn",
          "two stages: L2, then the combined loss L_CL"),
    Entry("Stacked DMSHN", "msrnet", "table1", "stacked_dmshn", "stacked_dmshn",
          "two DMSHNs in series, two stages: L2, then L_CL"),
    Entry("MBNet", "mbnet", "table1", "extra_data_residual", "mbnet",
          "extra training pairs and residual learning (the paper's final model)"),
)

#: Any-to-any relighting (input and guide under any of VIDIT's 40 lightings).
ANY_TO_ANY: tuple[Entry, ...] = (
    Entry("Identity", "swapnet", "table1", "identity", None,
          "the input returned unchanged (Score_l2 = 1 by definition)"),
    Entry("Model A: illumination predicter", "swapnet", "table1", "illumination_predicter",
          "swapnet_illum", "latent swap with a temperature and direction predicter"),
    Entry("Model A + PatchGAN", "swapnet", "discriminator", "with_gan", "swapnet_illum",
          "model A trained with a PatchGAN whose adversarial term reaches the generator (the "
          "pix2pix reading; the official code never adds it)"),
    Entry("Model B: envmap", "swapnet", "table1", "envmap", "swapnet_envmap",
          "the light latent decoded into an environment map"),
    Entry("Model C: envmap + scene", "swapnet", "table1", "envmap_scene",
          "swapnet_envmap_scene", "model B with the scene latent swapped too (LPIPS loss)"),
)


def _row_status(entry: Entry, profile: str, rows: list[reproduce.Row]) -> str:
    """Why a method has no results at ``profile`` ('' when it should have them)."""
    match = [r for r in rows if r.name == entry.row_name]
    if not match:
        return f"no row {entry.row_name} in notebooks/{entry.paper}/runs.yaml"
    row = match[0]
    if not row.runs_at(profile):
        return f"not run at the {profile} profile: {row.why}"
    return f"not run yet at the {profile} profile (`relight reproduce --profile {profile}`)"


def _runs(entry: Entry, profile: str, results_root: Path) -> list[dict[str, Any]]:
    out = []
    for rj in sorted((results_root / profile / entry.paper / entry.table / entry.variant)
                     .glob("seed=*/run.json")):
        out.append(json.loads(rj.read_text()))
    return out


def _budget(run: dict[str, Any], entry: Entry) -> str:
    """'150 steps x 4 at 64 px' from a run.json (train size may differ from the eval size)."""
    if entry.model is None:
        return "no training"
    p = run.get("params") or {}
    train = p.get("train") or {}
    steps = train.get("steps") or p.get("train_steps")
    batch = train.get("batch_size") or p.get("batch_size")
    size = p.get("train_size") or p.get("size")
    if steps is None:
        return "no training"
    return f"{steps} steps x {batch} at {size} px"


#: Largest 1-minute load per thread at which a CPU benchmark counts as run on an idle machine
#: (a CPU time measured beside other work says more about the other work than the model).
IDLE_LOAD_PER_THREAD = 0.5


def bench_conditions(bench: pd.DataFrame) -> pd.DataFrame:
    """Per benchmarked device: ``device_name``, ``device`` (cpu, cuda), ``threads``, the
    highest ``load_1min`` its runs recorded, the last ``timestamp_utc``, and ``idle`` (the load
    per thread at most :data:`IDLE_LOAD_PER_THREAD`; False where the load was not recorded).
    Only GPU devices and idle CPU runs give the board its times (:func:`bench_summary`)."""
    cols = ["device_name", "device", "threads", "load_1min", "timestamp_utc", "idle"]
    if bench is None or bench.empty or "device_name" not in bench.columns:
        return pd.DataFrame(columns=cols)
    out = []
    for dev, g in bench.groupby("device_name"):
        load = pd.to_numeric(g.get("load_1min"), errors="coerce").max()
        threads = pd.to_numeric(g.get("threads"), errors="coerce").max()
        idle = bool(_finite(load) and _finite(threads) and threads > 0
                    and load / threads <= IDLE_LOAD_PER_THREAD)
        stamps = g["timestamp_utc"].dropna().astype(str) if "timestamp_utc" in g else []
        out.append({"device_name": dev,
                    "device": str(g["device"].iloc[0]) if "device" in g else "",
                    "threads": threads, "load_1min": load,
                    "timestamp_utc": max(stamps) if len(stamps) else "", "idle": idle})
    return pd.DataFrame(out, columns=cols)


def timed_bench(bench: pd.DataFrame) -> pd.DataFrame:
    """``bench`` without the inference measurements of CPU devices that were not idle
    (:func:`bench_conditions`): their times are not shown. GPU rows and model sizes stay."""
    if bench is None or bench.empty or "device" not in bench.columns:
        return bench if bench is not None else pd.DataFrame()
    cond = bench_conditions(bench).set_index("device_name")
    loaded = {d for d, r in cond.iterrows() if r["device"] == "cpu" and not r["idle"]}
    drop = (bench["section"] == "inference") & bench["device_name"].isin(loaded)
    return bench[~drop]


def bench_summary(bench: pd.DataFrame, size: int = 1024) -> pd.DataFrame:
    """Per model and device: parameters, the fastest acceptable latency at ``size`` (fp32, or a
    bf16 precision that passed the PSNR check: :func:`relight_lib.bench.compare_with_papers`)
    and the fp32 peak memory of a forward pass at ``size`` (MiB, the smallest over the
    benchmark files that measured it). Columns: ``model``, ``device_name``, ``params``,
    ``latency_s``, ``precision``, ``peak_mb``."""
    from relight_lib.harness import bench_results as bench_mod

    cols = ["model", "device_name", "params", "latency_s", "precision", "peak_mb"]
    if bench.empty:
        return pd.DataFrame(columns=cols)
    fast = bench_mod.compare_with_papers(bench, size=size)
    params = (bench[(bench["section"] == "model") & (bench["measure"] == "params")]
              .groupby("model")["value"].max())
    mem = bench[(bench["section"] == "inference") & (bench["measure"] == "peak_mem_mb")
                & (bench["precision"] == "fp32") & (bench["size"].astype(str) == str(size))]
    mem = mem.groupby(["model", "device_name"])["value"].min()
    out = []
    for r in fast.itertuples():
        out.append({"model": r.model, "device_name": r.device_name,
                    "params": params.get(r.model, math.nan), "latency_s": r.ours_s,
                    "precision": r.precision,
                    "peak_mb": mem.get((r.model, r.device_name), math.nan)})
    return pd.DataFrame(out, columns=cols)


def board(entries: tuple[Entry, ...] | list[Entry], metrics: tuple[str, ...],
          profile: str, results_root: str | Path = "results",
          bench: pd.DataFrame | None = None, size: int = 1024) -> pd.DataFrame:
    """One row per method: its metrics (mean and sd over seeds, with the reason where missing),
    the training budget, and its size, speed and memory per benchmarked device.

    Columns: ``method``, ``paper``, ``row``, ``config``, ``seeds``, ``budget``, ``status``
    (empty when the row ran), ``converged`` (the plateau test: yes, no, can't tell; empty for a
    row that trains nothing), for each metric ``<m>_mean``, ``<m>_sd``, ``<m>_note``; then
    ``params`` and, per device name ``D`` found in ``bench``, ``latency_s@D``,
    ``precision@D`` and ``peak_mb@D``.
    """
    results_root = Path(results_root)
    rows = reproduce.load_rows()
    # CPU times only from an idle machine (timed_bench): a loaded one's are not shown
    summary = bench_summary(timed_bench(bench) if bench is not None else pd.DataFrame(),
                            size=size)
    devices = sorted(summary["device_name"].unique()) if len(summary) else []
    out = []
    for e in entries:
        runs = _runs(e, profile, results_root)
        rec: dict[str, Any] = {"method": e.method, "paper": e.paper, "row": e.row_name,
                               "config": e.config, "seeds": len(runs),
                               "budget": _budget(runs[0], e) if runs else "",
                               "status": "" if runs else _row_status(e, profile, rows),
                               "converged": _converged(e, profile, results_root)}
        long = results.load_results(results_root, profile, paper=e.paper, table=e.table)
        long = long[long["variant"] == e.variant] if len(long) else long
        for m in metrics:
            vals = long[long["metric"] == m] if len(long) else long
            v = pd.to_numeric(vals["value"], errors="coerce").dropna() if len(vals) else []
            rec[f"{m}_mean"] = float(v.mean()) if len(v) else math.nan
            rec[f"{m}_sd"] = float(v.std(ddof=1)) if len(v) > 1 else math.nan
            notes = [str(n) for n in (vals["note"] if len(vals) else []) if str(n)]
            rec[f"{m}_note"] = notes[0] if (notes and not len(v)) else ""
        not_run = [rec[f"{m}_note"] for m in metrics if "not run here" in rec[f"{m}_note"]]
        if runs and not_run and all(not _finite(rec[f"{m}_mean"]) for m in metrics):
            # the runner wrote the row without training it (e.g. its loss needs LPIPS)
            rec["status"] = not_run[0].split("not run here:", 1)[-1].strip().splitlines()[0]
            rec["status"] = f"not run here: {rec['status']}"
        if rec["status"]:
            rec["budget"] = ""
        params = math.nan
        if runs:
            params = (runs[0].get("extra") or {}).get("parameters", math.nan)
        for dev in devices:
            s = summary[(summary["model"] == e.model) & (summary["device_name"] == dev)]
            if len(s):
                params = s["params"].iloc[0] if not _finite(params) else params
            timed = len(s) and e.ensemble == 1  # one network timed: not an ensemble's time
            rec[f"latency_s@{dev}"] = float(s["latency_s"].iloc[0]) if timed else math.nan
            rec[f"precision@{dev}"] = str(s["precision"].iloc[0]) if timed else ""
            rec[f"peak_mb@{dev}"] = float(s["peak_mb"].iloc[0]) if timed else math.nan
        rec["params"] = params * e.ensemble if e.model is not None else math.nan
        out.append(rec)
    return pd.DataFrame(out)


def _converged(entry: Entry, profile: str, results_root: Path) -> str:
    """The row's plateau test (:func:`relight_lib.harness.results.load_convergence`) in a word:
    ``yes``, ``no``, ``can't tell``; ``""`` for a row that trains nothing or has no runs."""
    conv = results.load_convergence(results_root, profile, entry.paper, entry.table)
    c = conv.get(entry.variant)
    if c is None:
        return ""
    return results.CONVERGED_WORDS[c["converged"]]


def _finite(v: Any) -> bool:
    try:
        return math.isfinite(float(v))
    except (TypeError, ValueError):
        return False


def rank(df: pd.DataFrame, metric: str) -> pd.Series:
    """1 = best on ``metric`` among the methods that have it (ties share the better rank);
    missing where the method has no value."""
    return df[f"{metric}_mean"].rank(ascending=metric in LOWER_IS_BETTER, method="min")


def _fmt(v: float, digits: int) -> str:
    return f"{v:.{digits}f}" if _finite(v) else ""


def view(df: pd.DataFrame, metrics: tuple[str, ...], rank_by: str, digits: dict[str, int],
         chapter_links: dict[str, str] | None = None,
         run_links: dict[str, str] | None = None) -> pd.DataFrame:
    """The quality board as the book shows it: HTML cells, best first by ``rank_by``.

    Key columns first (``out.attrs["key_columns"]``): rank, method, the ``rank_by`` metric,
    seeds and whether the training converged (``no training`` for a method that trains
    nothing); then the other metrics and the training budget. Metrics read "mean ± sd" (just
    the mean with one seed), "n/a" when the run could not compute them and "—" when the method
    did not run (:func:`not_run` says why). ``chapter_links`` maps a paper to the relative URL
    of its chapter, ``run_links`` a row (``paper/table/variant``) to its run page: the cells
    become links.
    """
    import html

    df = _ranked(df, rank_by)
    out = pd.DataFrame(index=range(len(df)))
    out["#"] = [str(int(r)) if _finite(r) else "" for r in df["_rank"]]
    pages = run_links or {}
    out["method"] = [f'<a href="{html.escape(pages[r])}">{html.escape(m)}</a>'
                     if r in pages else html.escape(m) for m, r in zip(df["method"], df["row"])] \
        if "row" in df.columns else [html.escape(m) for m in df["method"]]
    key = rank_by.upper().replace("SCORE_L2", "Score_l2")
    links = chapter_links or {}
    out["paper"] = [f'<a href="{links[p]}">{p}</a>' if p in links else p for p in df["paper"]]
    for m in (rank_by, *[m for m in metrics if m != rank_by]):
        d = digits.get(m, 3)
        col = []
        for r in df.itertuples(index=False):
            mean, sd = getattr(r, f"{m}_mean"), getattr(r, f"{m}_sd")
            if _finite(mean):
                col.append(results.format_mean_sd(mean, sd, d))
            else:
                col.append("—" if r.status else "n/a")
        out[m.upper().replace("SCORE_L2", "Score_l2")] = col
        if m == rank_by:  # the key columns: the ranking metric, seeds, convergence
            out["seeds"] = [str(n) if n and not st else "—"
                            for n, st in zip(df["seeds"], df["status"])]
            out["converged"] = [c or ("—" if st else "no training")
                                for c, st in zip(df.get("converged", [""] * len(df)),
                                                 df["status"])]
    out["training"] = [b or "—" for b in df["budget"]]
    out.attrs["key_columns"] = ["#", "method", key, "seeds", "converged"]
    return out


def cost_view(df: pd.DataFrame, rank_by: str) -> pd.DataFrame:
    """Size, speed and memory of the networks on the board, in the quality board's order:
    parameters in millions; per benchmarked device the time for one 1024 x 1024 image
    (seconds on CPUs, milliseconds on GPUs; "(bf16)" when the bf16 fast path was used) and
    the peak memory of an fp32 forward pass (MiB). Methods that are not networks are left out.
    """
    df = _ranked(df, rank_by)
    df = df[df["params"].map(_finite)]
    out = pd.DataFrame(index=range(len(df)))
    out["method"] = list(df["method"])
    out["params (M)"] = [_fmt(p / 1e6, 2) for p in df["params"]]
    for c in [c for c in df.columns if c.startswith("latency_s@")]:
        dev = c.split("@", 1)[1]
        gpu = "NVIDIA" in dev or "GPU" in dev.upper()
        unit, scale = ("ms", 1e3) if gpu else ("s", 1.0)
        out[f"{dev}: time ({unit})"] = [
            (f"{v * scale:.3g}" + (" (bf16)" if str(p).startswith("bf16") else ""))
            if _finite(v) else "—" for v, p in zip(df[c], df[f"precision@{dev}"])]
        out[f"{dev}: memory (MiB)"] = [f"{v:,.0f}" if _finite(v) else "—"
                                       for v in df[f"peak_mb@{dev}"]]
    return out


def not_converged(df: pd.DataFrame, rank_by: str) -> list[str]:
    """'<method> (rank n) did not converge: ...' for each ranked method whose training did not
    pass the plateau test (or cannot tell): its place says how far it got in the budget, not
    where it would end."""
    df = _ranked(df, rank_by)
    out = []
    conv = df["converged"] if "converged" in df.columns else [""] * len(df)
    for method, place, c in zip(df["method"], df["_rank"], conv):
        if c in ("no", "can't tell") and _finite(place):
            what = "did not converge" if c == "no" else "cannot tell whether it converged"
            out.append(f"{method} (rank {int(place)}) {what} in its budget: its rank is "
                       "where the budget stopped it, not where its training would end")
    return out


def not_run(df: pd.DataFrame) -> list[str]:
    """'<method>: <why>' for each method without results (short reasons)."""
    return [f"{r.method}: {short_status(r.status)}" for r in df.itertuples() if r.status]


def _ranked(df: pd.DataFrame, rank_by: str) -> pd.DataFrame:
    return (df.assign(_rank=rank(df, rank_by))
            .sort_values(["_rank", "method"], na_position="last"))


def short_status(text: str) -> str:
    """One short clause for a board cell (the full reason is on the paper's page)."""
    if not text:
        return ""
    if "LPIPS" in text:
        return "not run here: its loss needs LPIPS, whose AlexNet weights are not on this machine"
    head, _, why = text.partition(": ")
    first = why.split(";")[0].strip()
    return f"{head}: {first}" if first else head


def _device_title(dev: str, conditions: pd.DataFrame | None) -> str:
    """'NVIDIA H200 (benchmark of 2026-11-28, host load 0.65 on 16 threads)'."""
    if conditions is None or conditions.empty or dev not in set(conditions["device_name"]):
        return dev
    c = conditions.set_index("device_name").loc[dev]
    when = str(c["timestamp_utc"])[:10]
    load = (f", host load {c['load_1min']:.2f} on {int(c['threads'])} threads"
            if _finite(c["load_1min"]) and _finite(c["threads"]) else "")
    if when:
        return f"{dev} (benchmark of {when}{load})"
    return f"{dev} ({load[2:]})" if load else dev


def quality_vs_time(df: pd.DataFrame, metric: str, label: str,
                    conditions: pd.DataFrame | None = None) -> Any:
    """Quality against the time to relight one 1024 x 1024 image, one panel per benchmarked
    device (the columns ``latency_s@<device>`` of :func:`board`; milliseconds on GPUs, seconds
    on CPUs, log scale). Methods that are not networks are dashed horizontal lines. Labels of
    points that would overlap are moved apart vertically (with a thin leader line), and the
    log axis labels only its 1-2-5 ticks, so no two labels collide. ``conditions``
    (:func:`bench_conditions`) labels each panel with its benchmark's date and host load.
    Returns the Figure, or None when no method has both a score and a time."""
    import matplotlib.pyplot as plt
    import seaborn as sns
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    devices = [c.split("@", 1)[1] for c in df.columns if c.startswith("latency_s@")]
    have = df[df[f"{metric}_mean"].map(_finite)]
    devices = [d for d in devices if have[f"latency_s@{d}"].map(_finite).any()]
    if not devices or have.empty:
        return None
    papers = sorted(have["paper"].unique())
    colours = dict(zip(papers, sns.color_palette("colorblind", len(papers))))
    fig, axes = plt.subplots(1, len(devices), figsize=(5.6 * len(devices), 4.2), squeeze=False,
                             sharey=True)
    for ax, dev in zip(axes[0], devices):
        gpu = "NVIDIA" in dev or "GPU" in dev.upper()
        unit, scale = ("ms", 1e3) if gpu else ("s", 1.0)
        pts = have[have[f"latency_s@{dev}"].map(_finite)]
        xs = pts[f"latency_s@{dev}"].astype(float) * scale
        ys = pts[f"{metric}_mean"].astype(float)
        for (_, r), x, y in zip(pts.iterrows(), xs, ys):
            ax.scatter(x, y, s=60, color=colours[r["paper"]], label=r["paper"], zorder=3)
        ax.set_xscale("log")
        ax.set_xlim(xs.min() / 1.6, xs.max() * 4.0)  # room for the labels on the right
        ax.xaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
        ax.xaxis.set_minor_formatter(NullFormatter())
        for _, r in have[~have["params"].map(_finite)].iterrows():  # not networks
            ax.axhline(r[f"{metric}_mean"], ls="--", lw=0.9, color="grey", zorder=1)
            ax.text(0.02, r[f"{metric}_mean"], f" {r['method']}", color="dimgrey", fontsize=8,
                    va="bottom", transform=ax.get_yaxis_transform())
        ax.set_xlabel(f"{unit} per 1024 x 1024 image (log scale)")
        ax.set_title(_device_title(dev, conditions), fontsize=9)
    axes[0][0].set_ylabel(label)
    handles = {h.get_label(): h for ax in axes[0] for h in ax.collections}
    fig.legend(handles.values(), handles.keys(), title="paper", loc="upper center",
               ncol=len(handles), frameon=False, bbox_to_anchor=(0.5, 1.1), fontsize=8)
    fig.tight_layout()
    fig.canvas.draw()  # the layout is final: place the labels where they do not collide
    for ax, dev in zip(axes[0], devices):
        pts = have[have[f"latency_s@{dev}"].map(_finite)]
        scale = 1e3 if ("NVIDIA" in dev or "GPU" in dev.upper()) else 1.0
        _label_points(ax, list(pts["method"]),
                      list(pts[f"latency_s@{dev}"].astype(float) * scale),
                      list(pts[f"{metric}_mean"].astype(float)))
    return fig


def _label_points(ax: Any, names: list[str], xs: list[float], ys: list[float],
                  gap_pt: float = 13.0) -> None:
    """Write each name to the right of its point; where two would overlap, move the upper one
    up until they are ``gap_pt`` points apart, with a leader line to its point. Call it once
    the figure's layout is final (positions are computed on the drawn axes)."""
    dpi = ax.figure.dpi
    disp = ax.transData.transform(list(zip(xs, ys)))
    order = sorted(range(len(names)), key=lambda i: disp[i][1])
    gap = gap_pt * dpi / 72
    wide = 150 * dpi / 72  # labels further apart than this sideways cannot collide
    placed: list[tuple[float, float]] = []  # (x, y) in display px of the labels placed so far
    for i in order:  # lowest point first: a label that collides moves above the other
        x_px, y_px = disp[i]
        for _ in range(len(placed) + 1):
            hits = [py for px, py in placed
                    if abs(px - x_px) < wide and abs(py - y_px) < gap - 1e-6]
            if not hits:
                break
            y_px = max(hits) + gap
        placed.append((x_px, y_px))
        dy = (y_px - disp[i][1]) * 72 / dpi
        ax.annotate(names[i], (xs[i], ys[i]), textcoords="offset points", xytext=(7, dy),
                    fontsize=8, va="center",
                    arrowprops={"arrowstyle": "-", "lw": 0.5, "color": "grey"} if dy else None)
