"""What every row of a profile costs, from measurements (issue 27 item 6).

A row's cost is estimated from three measurements, each labelled with the machine that made it:

- **training**: the row's optimiser steps (from its plan, :func:`relight_lib.harness.reproduce.
  plan_row`) times the measured seconds per step of its training on a named machine. Where a
  committed run of the same training (:func:`training_signature`) trained on that machine, its
  seeds' measured seconds per step (``extra.seconds.train`` over ``extra.steps_trained_here``:
  the real training, validation passes included) are used; otherwise the bench step of its
  model (``results/bench/<machine>-training-steps.csv`` where it has the model, else
  ``<machine>-training-flops.csv``: ``relight bench --costs`` and ``--training-flops``). A model
  whose bench loss has a VGG perceptual term is timed with and without it; a row whose loss has
  that term for only part of its steps (MSR-Net's L_CL: L2 first) or not at all pays the
  matching mix. Rows that train the same network share one training (:func:`training_signature`:
  the same model, loss after dropping LPIPS, budget and data): only the first pays for it.
- **per-seed overhead**: evaluation, the run-time column and the rest of the seed (from the
  committed ``run.json`` ``extra.seconds`` of the row, or of a row of the same model), plus the
  notebook's own time (imports, figures: the papermill wall time less its seeds), measured
  where the committed rows ran.
- **data**: the SynVIDIT render per seed (``results/bench/synvidit_render.csv``, through
  :func:`relight_lib.papers.profiles.render_cost`).

The seed counts are :data:`TABLE_SEEDS` (5, MBNet 3: the next issue's), a budget-check row its own
(one). :func:`cost_table` is the table of the how-to-rerun page; :func:`readme_text` the
README's short generated block.
"""

from __future__ import annotations

import json
import re
import statistics
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from relight_lib.harness import reproduce

BENCH_DIR = Path("results/bench")
#: The machine whose step times the cost table uses by default: the 2-core AMD EPYC (AVX2, no
#: native bf16) that builds the book and runs CI.
DEFAULT_MACHINE = "cpu-amd-epyc-2c"
#: Seeds per row in the cost table, by paper (``default`` for the others).
TABLE_SEEDS: dict[str, int] = {"default": 5, "mbnet": 3}

#: Bench names of the models that are timed (``relight_lib.bench_flops``); the plans' other
#: models map to them in :func:`bench_model`.
_LTNET_SIZES = {("2", "16"): "ltnet", ("8", "32"): "ltnet_large", ("4", "32"): "ltnet_4_32",
                ("4", "16"): "ltnet_4_16", ("4", "4"): "ltnet_4_4"}
_STAGE = re.compile(r"\(steps (\d+)-(\d+)\)")


def bench_model(plan: Mapping[str, Any]) -> tuple[str | None, str]:
    """The bench name whose step time a planned row pays, and a note when it is a stand-in.

    >>> bench_model({"model": "ltnet", "model_kwargs": {"f1": 8, "nc": 32}})
    ('ltnet_large', '')
    >>> bench_model({"model": "identity", "model_kwargs": {}})
    (None, '')
    """
    model, kw = plan.get("model"), plan.get("model_kwargs") or {}
    if not plan.get("steps", 1) or model in ("identity", "colour_lstsq"):
        return None, ""
    if model == "ltnet":
        name = _LTNET_SIZES.get((str(kw.get("f1")), str(kw.get("nc"))))
        inputs = kw.get("inputs")
        note = ("" if not inputs or len(inputs) == 4 else
                "timed with all four inputs (only the first convolution differs)")
        return name, note
    if model == "swapnet_envmap_scene":
        return "swapnet_envmap", ("timed as model B: model C's LPIPS loss cannot run on a "
                                  "machine without the AlexNet weights")
    return model, ""


def perceptual_fraction(plan: Mapping[str, Any]) -> float:
    """The share of a planned row's steps whose loss has a VGG perceptual term (0 to 1).

    >>> perceptual_fraction({"steps": 800, "loss": ["stage1_l2 (steps 0-399): 1 x mse",
    ...     "stage2_combined (steps 400-799): 0.006 x perceptual(arch=vgg16)"]})
    0.5
    """
    steps = plan.get("steps") or 0
    if not steps:
        return 0.0
    for term in plan.get("loss") or []:
        if "perceptual" in term:
            m = _STAGE.search(term)
            return 1.0 if m is None else (int(m[2]) - int(m[1]) + 1) / steps
    return 0.0


def training_signature(plan: Mapping[str, Any]) -> str | None:
    """What decides a row's trained weights, as the cost table shares trainings: the model
    and its arguments, the loss with its LPIPS terms dropped (unavailable without the AlexNet
    weights, so they train nothing), the budget and the data. None for a row that trains
    nothing. Post-processing, evaluation and ensembles of snapshots are not part of it."""
    if not plan.get("steps"):
        return None
    loss = [t for t in plan.get("loss") or [] if "lpips" not in t]
    what = {k: plan.get(k) for k in ("model", "model_kwargs", "steps", "batch_size",
                                     "train_size", "train_pairs", "augment", "data")}
    what["loss"] = loss
    return json.dumps(what, sort_keys=True, default=str)


def _read_csv(path: Path) -> list[dict[str, str]]:
    import csv

    if not path.exists():
        return []
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def step_times(machine: str = DEFAULT_MACHINE, bench_dir: Path = BENCH_DIR
               ) -> dict[str, dict[str, Any]]:
    """Measured seconds per training step on ``machine``, per bench model: ``s`` (the loss as
    the bench trains it), ``s_no_vgg`` (without its VGG term, where measured), ``source`` (the
    file and how many steps), ``load`` (1-min load average before, where recorded). The FLOPs
    file times every paper model in one run (one load for all, ``relight bench
    --training-flops``); the steps file (``relight bench --costs``) adds the models it lacks."""
    out: dict[str, dict[str, Any]] = {}
    flops = bench_dir / f"{machine}-training-flops.csv"
    for r in _read_csv(flops):
        if r.get("s_per_step"):
            out[r["model"]] = {"s": float(r["s_per_step"]), "s_no_vgg": None,
                               "source": f"{flops.name} ({r['precision']})", "load": None}
    for r in _read_csv(bench_dir / f"{machine}-training-levers.csv"):
        if r["lever"] == "perceptual_loss" and r["model"] in out and r["ratio"]:
            ratio = float(r["ratio"])
            if ratio > 1:  # below 1 the VGG term is within the noise: no saving modelled
                out[r["model"]]["s_no_vgg"] = out[r["model"]]["s"] / ratio
    steps = bench_dir / f"{machine}-training-steps.csv"
    # a model the FLOPs run lacks is put on its load: its step over the step of a model of the
    # FLOPs run timed next to it (the nearest in time) in the same file, times that model's
    # step in the FLOPs run
    rows = [r for r in _read_csv(steps) if r["arm"] == "loss as trained"]
    refs = [r for r in rows if r["model"] in out]
    extra = {}
    for r in rows:
        m = r["model"]
        if m in out:
            continue
        raw = float(r["s_per_step_median"])
        src = f"{steps.name} ({r['precision']}, {r['steps']} steps, load {r['load_1min_before']})"
        ref = min(refs, key=lambda q: abs(_when(q) - _when(r)), default=None)
        if ref is not None:
            factor = out[ref["model"]]["s"] / float(ref["s_per_step_median"])
            raw *= factor
            src += f", scaled by {ref['model']}'s step in the FLOPs run over its step there"
        extra[m] = {"s": raw, "s_no_vgg": None, "source": src,
                    "load": float(r["load_1min_before"]) if r["load_1min_before"] else None}
    return {**out, **extra}


def _when(r: Mapping[str, str]) -> float:
    from datetime import datetime

    try:
        return datetime.fromisoformat(r["timestamp_utc"]).timestamp()
    except (KeyError, ValueError):
        return 0.0


def run_machine_slug(prov: Mapping[str, Any]) -> str | None:
    """The bench files' machine name (:func:`relight_lib.bench_flops.machine_slug`, e.g.
    ``cpu-amd-epyc-2c``) of the machine a committed run's ``provenance`` names, or None when it
    names no device.

    >>> run_machine_slug({"device": "cpu", "device_name": "AMD EPYC", "cpu_count": 2})
    'cpu-amd-epyc-2c'
    >>> run_machine_slug({"device": "cuda", "device_name": "NVIDIA H200", "cpu_count": 16})
    'nvidia-h200-16c'
    """
    from relight_lib.bench import slug  # the bench files' own naming

    name = prov.get("device_name")
    if not name or not prov.get("cpu_count"):
        return None
    return f"{'cpu-' if prov.get('device') == 'cpu' else ''}{slug(str(name))}-{prov['cpu_count']}c"


def committed_seconds(profile: str = "quick", results_root: Path = reproduce.RESULTS_DIR
                      ) -> dict[str, dict[str, Any]]:
    """Per committed row of ``profile`` (``paper/table/variant``): its seeds' ``train``,
    ``evaluate`` and ``run_time`` seconds (lists, from ``run.json`` ``extra.seconds``), its
    seeds' wall times, the papermill wall time of its executed notebook, the machine (CPU
    or GPU name and cores) that ran it and its bench name (``slug``), ``s_per_step``: the
    measured seconds per training step of each seed that trained in this row (none for a row
    that reused another row's training), ``steps``: each seed's training steps as run
    (``extra.train_steps``; a recipe may have changed its budget since), and ``bf16``: whether
    its seeds trained under bf16 autocast (``params.train.amp``; None when not recorded)."""
    out: dict[str, dict[str, Any]] = {}
    for row in reproduce.load_rows(budget_checks=True):
        seeds = sorted(row.result_dir(profile, results_root).glob("seed=*/run.json"))
        if not seeds:
            continue
        rec: dict[str, Any] = {"train": [], "evaluate": [], "run_time": [], "wall": [],
                               "machine": None, "slug": None, "notebook_s": None,
                               "s_per_step": [], "steps": [], "bf16": None}
        for rj in seeds:
            d = json.loads(rj.read_text())
            extra = d.get("extra") or {}
            sec = extra.get("seconds") or {}
            for k in ("train", "evaluate", "run_time"):
                if sec.get(k) is not None:
                    rec[k].append(float(sec[k]))
            if d.get("wall_time_s") is not None:
                rec["wall"].append(float(d["wall_time_s"]))
            if extra.get("train_steps"):
                rec["steps"].append(int(extra["train_steps"]))
            amp = ((d.get("params") or {}).get("train") or {}).get("amp")
            if amp is not None:
                rec["bf16"] = bool(amp) or bool(rec["bf16"])
            prov = d.get("provenance") or {}
            rec["machine"] = (f"{prov.get('device_name') or prov.get('device')} "
                              f"({prov.get('cpu_count', '?')} cores)")
            rec["slug"] = run_machine_slug(prov)
            # a seed that trained here (not one that reused another row's training)
            trained = extra.get("steps_trained_here")
            if trained and sec.get("train"):
                rec["s_per_step"].append(float(sec["train"]) / int(trained))
        nb = row.executed_path(profile, results_root)
        if nb.exists():
            meta = json.loads(nb.read_text()).get("metadata", {}).get("papermill", {})
            if meta.get("duration") is not None:
                rec["notebook_s"] = float(meta["duration"])
        out[row.name] = rec
    return out


def _median(xs: list[float]) -> float | None:
    return statistics.median(xs) if xs else None


def _seeds(row: reproduce.Row, seeds: Mapping[str, int], profile: str) -> int:
    listed = row.params_at(profile).get("seeds")
    if listed is not None:
        return len(listed)
    return int(seeds.get(row.paper, seeds["default"]))


def plans(profile: str = "quick") -> dict[str, dict[str, Any]]:
    """Every row's plan at ``profile`` (the budget checks and the rows kept out of the
    profile included), or ``{"error": ...}`` for one that cannot be planned."""
    out = {}
    for row in reproduce.load_rows(budget_checks=True):
        try:
            out[row.name] = reproduce.plan_row(row, profile)
        except (reproduce.PlanError, reproduce.RunsFileError) as e:
            out[row.name] = {"error": str(e).splitlines()[0]}
    return out


def _bench_step(t: Mapping[str, Any] | None, plan: Mapping[str, Any]) -> float | None:
    """The bench's seconds per step for ``plan`` from its model's :func:`step_times` entry
    ``t``: the mix of steps with and without the VGG term that the plan's loss has."""
    if t is None:
        return None
    frac = perceptual_fraction(plan)
    lo = t["s_no_vgg"] if t["s_no_vgg"] is not None else t["s"]
    return frac * t["s"] + (1 - frac) * lo


def cost_table(profile: str = "quick", machine: str = DEFAULT_MACHINE,
               seeds: Mapping[str, int] = TABLE_SEEDS, bench_dir: Path = BENCH_DIR,
               results_root: Path = reproduce.RESULTS_DIR,
               row_plans: Mapping[str, Mapping[str, Any]] | None = None) -> "Any":
    """One line per row of ``profile`` (every row of ``runs.yaml`` and the budget checks,
    those kept out of the profile included) with its estimated cost on ``machine``:

    ``row``, ``model`` (the bench model timed), ``steps``, ``seeds``, ``s/step`` (measured on
    ``machine``: the committed training of the same recipe where it ran there, else the bench
    step with the row's mix of losses with and without the VGG term), ``training (min)`` (all
    seeds; 0 for a row that reuses another row's training, named in ``shares training with``),
    ``overhead (min)`` (all seeds' evaluation and the notebook, measured where the committed
    rows ran; ``overhead from``), ``total (min)``, ``committed (min)`` (the papermill wall time
    of the committed row at its own seeds, where it ran), ``runs at profile`` and ``note``.
    ``df.attrs`` holds the machines: ``steps_on`` (``machine``), ``overhead_on`` (the committed
    rows' machine).
    """
    import pandas as pd

    row_plans = plans(profile) if row_plans is None else row_plans
    times = step_times(machine, bench_dir)
    done = committed_seconds(profile, results_root)
    by_model: dict[str, list[float]] = {}
    all_over: list[float] = []
    for name, rec in done.items():
        plan = row_plans.get(name) or {}
        over = [e + r for e, r in zip(rec["evaluate"], rec["run_time"])]
        if over and rec["train"] and max(rec["train"]) > 0:  # a row that trained: a full seed
            model = bench_model(plan)[0] if "error" not in plan else None
            by_model.setdefault(model or "", []).extend(over)
            all_over.extend(over)
    notebook_extra = [rec["notebook_s"] - sum(rec["wall"]) for rec in done.values()
                      if rec["notebook_s"] is not None and rec["wall"]]
    nb_s = _median([x for x in notebook_extra if x >= 0]) or 0.0
    # measured training steps on ``machine``: per training, from the committed rows that paid
    # for it there
    measured: dict[str, tuple[float, str]] = {}
    # per bench model, the measured step over the bench's step of the same plan: the bench
    # ran under another load than the trainings, so the model's other trainings are scaled by it
    calibration: dict[str, list[tuple[float, str]]] = {}
    for name, rec in done.items():
        plan = row_plans.get(name) or {}
        sig = training_signature(plan) if "error" not in plan else None
        if sig is not None and rec["slug"] == machine and rec["s_per_step"]:
            step = statistics.median(rec["s_per_step"])
            measured[sig] = (step, f"measured: the committed training of {name} on {machine} "
                                   f"({len(rec['s_per_step'])} seeds)")
            model = bench_model(plan)[0]
            bench_step = _bench_step(times.get(model), plan)
            if model and bench_step:
                calibration.setdefault(model, []).append((step / bench_step, name))
    first: dict[str, str] = {}
    lines = []
    for row in reproduce.load_rows(budget_checks=True):
        plan = row_plans.get(row.name) or {"error": "not planned"}
        n = _seeds(row, seeds, profile)
        note = plan.get("error", "")
        model, stand_in = (None, "") if "error" in plan else bench_model(plan)
        steps = int(plan.get("steps") or 0)
        s_step = None
        if model is not None:
            t = times.get(model)
            if t is None:
                note = f"{model}: no step time measured on {machine}"
            else:
                s_step = _bench_step(t, plan)
                if model in calibration:
                    ratio = statistics.median(r for r, _ in calibration[model])
                    s_step *= ratio
                    stand_in = "; ".join(x for x in (stand_in, (
                        f"bench step x{ratio:.2f}, the measured over the bench step of "
                        + ", ".join(n for _, n in calibration[model]))) if x)
                if any(term.startswith("discriminator") for term in plan.get("loss") or []):
                    stand_in = "; ".join(x for x in (stand_in, "timed without the "
                                                     "discriminator's step") if x)
                note = "; ".join(x for x in (stand_in, t["source"]) if x)
        sig = training_signature(plan) if "error" not in plan else None
        if sig is not None and sig in measured:
            s_step, note = measured[sig]
        shares = ""
        if sig is not None and sig in first:
            shares = first[sig]
        elif sig is not None:
            first[sig] = row.name
        train_min = (0.0 if shares or s_step is None and steps == 0 else
                     None if s_step is None else s_step * steps * n / 60)
        rec = done.get(row.name)
        over_seed, over_from = None, ""
        if rec and rec["evaluate"] and sum(rec["evaluate"]) > 0:  # 0: the row did not run
            over_seed = _median([e + r for e, r in zip(rec["evaluate"], rec["run_time"])])
            over_from = "this row"
        elif model is not None and by_model.get(model):
            over_seed, over_from = _median(by_model[model]), f"rows of {model}"
        elif all_over:
            over_seed, over_from = _median(all_over), "all training rows"
        if rec and rec["wall"] and not steps:  # a row without training: its seeds as measured
            over_seed, over_from = _median(rec["wall"]), "this row"
        over_min = None if over_seed is None else (over_seed * n + nb_s) / 60
        total = (None if train_min is None or over_min is None else train_min + over_min)
        committed = (rec["notebook_s"] / 60 if rec and rec["notebook_s"] is not None else None)
        lines.append({"row": row.name, "model": model or "—", "steps": steps, "seeds": n,
                      "s/step": s_step, "training (min)": train_min,
                      "shares training with": shares, "overhead (min)": over_min,
                      "overhead from": over_from, "total (min)": total,
                      "committed (min)": committed,
                      "runs at profile": row.runs_at(profile), "note": note})
    df = pd.DataFrame(lines)
    machines = sorted({r["machine"] for r in done.values() if r["machine"]})
    df.attrs.update({"steps_on": machine, "overhead_on": ", ".join(machines) or "—",
                     "notebook_s": nb_s})
    return df


def summary(df: "Any", profile: str = "quick", seeds: Mapping[str, int] = TABLE_SEEDS,
            results_root: Path = reproduce.RESULTS_DIR) -> dict[str, Any]:
    """Totals of :func:`cost_table`: ``rows``, ``trainings`` (rows that pay a training),
    ``unpriced`` (rows without a step time), ``training_h``, ``overhead_h``, ``render_h``
    (the SynVIDIT render of the largest seed count), ``total_h``, ``render_measured`` (which
    render measurement), the seed counts, and, over the rows committed with a full training,
    ``committed_rows`` and ``committed_h`` (their measured papermill time), split into
    ``here``: those that ran on the table's machine, and ``elsewhere``: those that ran on
    another, each ``{"rows", "h", "machines", "bf16"}`` (``bf16``: how many trained under bf16
    autocast). ``elsewhere`` also holds ``estimate_h``: the same rows estimated here **at the
    steps and seeds they ran** (a recipe's budget may have changed since), and ``slowdown``,
    the estimate over the measured time."""
    from relight_lib.papers import profiles

    prof = profiles.resolve(profile)
    rc = profiles.render_cost(prof)
    n_max = max(seeds.values())
    render_s = None if rc["per_seed_s"] is None else rc["per_seed_s"] * n_max
    train = df["training (min)"].fillna(0).sum() / 60
    over = df["overhead (min)"].fillna(0).sum() / 60
    nb_min = df.attrs.get("notebook_s", 0) / 60
    both = df[df["committed (min)"].notna() & (df["training (min)"].fillna(0) > 0)]
    done = committed_seconds(profile, results_root)
    groups: dict[str, dict[str, Any]] = {
        k: {"rows": 0, "h": 0.0, "machines": set(), "bf16": 0} for k in ("here", "elsewhere")}
    est_min = 0.0
    for _, r in both.iterrows():
        rec = done[r["row"]]
        g = groups["here" if rec["slug"] == df.attrs.get("steps_on") else "elsewhere"]
        g["rows"] += 1
        g["h"] += r["committed (min)"] / 60
        g["machines"].add(rec["machine"])
        g["bf16"] += bool(rec["bf16"])
        if g is groups["elsewhere"]:
            # the committed seeds at the steps each ran, and their evaluation, as estimated here
            k = len(rec["wall"]) or 1
            steps = sum(rec["steps"]) if rec["steps"] else r["steps"] * k
            est_min += (r["s/step"] * steps / 60
                        + (r["overhead (min)"] - nb_min) / r["seeds"] * k + nb_min)
    for g in groups.values():
        g["machines"] = ", ".join(sorted(g["machines"]))
    away = groups["elsewhere"]
    away["estimate_h"] = est_min / 60
    away["slowdown"] = away["estimate_h"] / away["h"] if away["h"] else None
    return {"rows": len(df), "trainings": int((df["training (min)"].fillna(0) > 0).sum()),
            "unpriced": int(df["total (min)"].isna().sum()), "training_h": train,
            "overhead_h": over, "render_h": None if render_s is None else render_s / 3600,
            "total_h": train + over + (render_s or 0) / 3600,
            "render_measured": rc["measured"], "seeds": n_max, "mbnet_seeds": seeds.get("mbnet"),
            "committed_rows": len(both), "committed_h": both["committed (min)"].sum() / 60,
            "here": groups["here"], "elsewhere": away,
            "steps_on": df.attrs.get("steps_on"), "overhead_on": df.attrs.get("overhead_on")}


def _precision(g: Mapping[str, Any]) -> str:
    """How a group of committed rows trained.

    >>> [_precision({"rows": 3, "bf16": n}) for n in (3, 0, 1)]
    ['in bf16', 'in fp32', '(1 of them in bf16)']
    """
    if g["bf16"] == g["rows"]:
        return "in bf16"
    return "in fp32" if not g["bf16"] else f"({g['bf16']} of them in bf16)"


def readme_text(s: Mapping[str, Any] | None = None, profile: str = "quick") -> str:
    """The README's cost lines (its generated ``costs`` block, written by
    :func:`relight_lib.harness.readme.refresh_readme`), indented to continue a list item;
    ``s`` is a :func:`summary` (by default of ``profile``'s :func:`cost_table`)."""
    import textwrap

    if s is None:
        s = summary(cost_table(profile), profile)
    render = ("" if s["render_h"] is None else
              f", of which {s['render_h'] * 60:.0f} min render SynVIDIT")
    text = (f"Estimated, the whole quick profile at {s['seeds']} seeds (MBNet "
            f"{s['mbnet_seeds']}), every row included ({s['rows']} rows, {s['trainings']} "
            f"trainings), takes **{s['total_h']:.0f} h** in fp32 on `{s['steps_on']}`"
            f"{render}: training {s['training_h']:.0f} h at the step times measured there, "
            f"evaluation and notebooks {s['overhead_h']:.1f} h as measured on "
            f"{s['overhead_on']}.")
    text += " " + committed_sentence(s)
    return textwrap.fill(text.strip(), 96, initial_indent="  ", subsequent_indent="  ") + "\n"


def committed_sentence(s: Mapping[str, Any]) -> str:
    """What the committed rows that trained took, by where they ran, and, for those that ran
    elsewhere, their estimate on the summary's machine at the steps and seeds they ran (the
    README and the book's rerun chapter); empty when no committed row trained."""
    here, away = s["here"], s["elsewhere"]
    parts = []
    if away["rows"]:
        parts.append(f"{away['rows']} took {away['h']:.1f} h on {away['machines']} "
                     f"{_precision(away)}, and at the steps and seeds they ran are estimated "
                     f"at {away['estimate_h']:.0f} h on {s['steps_on']}, "
                     f"{away['slowdown']:.1f} times as long")
    if here["rows"]:
        parts.append(f"{here['rows']} took {here['h']:.1f} h on {s['steps_on']} "
                     f"({here['machines']}) {_precision(here)}")
    if not parts:
        return ""
    return (f"Of the {s['committed_rows']} committed rows that trained, " + "; ".join(parts)
            + ".")


def _training_path(bench_dir: Path, model: str) -> dict[str, Any]:
    """The ``relight bench-train`` measurements of ``model`` on a CPU with native bf16: fp32
    and bf16 + channels_last step times (data in memory), the machine and its threads."""
    for p in sorted(bench_dir.glob("*-training-path.csv")):
        got: dict[str, Any] = {}
        for r in _read_csv(p):
            if r["model"] != model or r["section"] != "training_path" or not r["value"]:
                continue
            got["machine"] = f"{r['device_name']} ({r['threads']} threads)"
            if r["measure"] == "step_s_memory":
                got[f"{r['precision']}_s"] = float(r["value"])
        if "fp32_s" in got and "bf16_cl_s" in got:
            return got
    return {}


def bf16_explanation(model: str = "dmshn", machine: str = DEFAULT_MACHINE,
                     bench_dir: Path = BENCH_DIR, results_root: Path = reproduce.RESULTS_DIR,
                     profile: str = "quick") -> dict[str, Any]:
    """Where the factor between the committed quick rows (trained in bf16 on a CPU with AMX)
    and the same rows here (fp32, AVX2) comes from, for ``model`` (MSR-Net's DMSHN: the row
    timed here over many steps). Every value is a measurement, with its machine:

    - ``there_row_s``: seconds per step of the committed L2 row (``msrnet/table2/<model>_mse``,
      its seeds' ``extra.seconds.train`` over the steps), ``there_cl_s`` the L_CL row's;
    - ``there_fp32_s``, ``there_bf16_s``: the same machine's fp32 and bf16 + channels_last
      steps (``relight bench-train``, L1 loss), ``bf16_gain`` their ratio;
    - ``here_s``: the step here without the VGG term (from the FLOPs run: its step over the
      perceptual lever's ratio), ``here_vgg_s`` with it; ``here20_s``, ``here20_vgg_s`` and
      ``here20_load`` the 20-step measurement of ``relight bench --costs`` (another load);
    - ``machine_factor`` = ``here_s / there_fp32_s`` (fp32 against fp32: the cores, AVX2
      against AVX-512, the load); ``total`` = ``here_s / there_row_s`` (about ``bf16_gain x
      machine_factor``); ``vgg_here``, ``vgg_there``: the stage with the VGG term over the
      stage without it, here and there;
    - ``bf16_peak_ratio``: this machine's measured fp32 over bf16 convolution rate (its bf16 is
      emulated: autocast would slow it down), ``omp_gain`` the median default / PASSIVE ratio,
      ``threads_gain`` LTNet*'s 2-thread / 1-thread step under load.
    Missing measurements are None.
    """
    out: dict[str, Any] = {"model": model, "machine": machine}
    done = committed_seconds(profile, results_root)
    for key, variant in (("there_row_s", f"{model}_mse"), ("there_cl_s", f"{model}_cl")):
        rec = done.get(f"msrnet/table2/{variant}")
        train = [t for t in (rec or {}).get("train", []) if t > 0]
        # the steps the committed run trained; the row's plan only when the run did not record
        # them (the recipe's budget may have changed since: MSR-Net went from 800 to 1600)
        steps = statistics.median(rec["steps"]) if rec and rec.get("steps") else None
        if steps is None:
            try:
                row = next(r for r in reproduce.load_rows()
                           if r.name == f"msrnet/table2/{variant}")
                steps = reproduce.effective_budget(row, profile).get("steps")
            except (StopIteration, reproduce.PlanError):
                pass
        out[key] = statistics.median(train) / steps if train and steps else None
        out.setdefault("there", rec["machine"] if rec else None)
    tp = _training_path(bench_dir, model)
    out["there_fp32_s"], out["there_bf16_s"] = tp.get("fp32_s"), tp.get("bf16_cl_s")
    out["there_path_machine"] = tp.get("machine")
    out["bf16_gain"] = (tp["fp32_s"] / tp["bf16_cl_s"]) if tp else None
    t = step_times(machine, bench_dir).get(model, {})
    out["here_vgg_s"], out["here_s"] = t.get("s"), t.get("s_no_vgg")
    for r in _read_csv(bench_dir / f"{machine}-training-steps.csv"):
        if r["model"] == model and r["steps"] and int(r["steps"]) >= 10:
            k = "here20_vgg_s" if r["arm"] == "loss as trained" else "here20_s"
            out[k] = float(r["s_per_step_median"])
            out["here20_steps"] = int(r["steps"])
            out["here20_load"] = float(r["load_1min_before"])
    out["machine_factor"] = (out["here_s"] / out["there_fp32_s"]
                             if out["here_s"] and out["there_fp32_s"] else None)
    out["total"] = (out["here_s"] / out["there_row_s"]
                    if out["here_s"] and out["there_row_s"] else None)
    out["vgg_here"] = (out["here_vgg_s"] / out["here_s"]
                       if out["here_vgg_s"] and out["here_s"] else None)
    # there, the L_CL row's second half carries the VGG term: 2 x cl - l2 is its step
    out["vgg_there"] = ((2 * out["there_cl_s"] - out["there_row_s"]) / out["there_row_s"]
                        if out["there_cl_s"] and out["there_row_s"] else None)
    peak = {(r["kernel"], r["precision"]): float(r["gflops"])
            for r in _read_csv(bench_dir / f"{machine}-training-peak.csv") if r["gflops"]}
    fp, bf = peak.get(("conv3x3", "fp32")), peak.get(("conv3x3", "bf16"))
    out["bf16_peak_ratio"] = fp / bf if fp and bf else None
    omp = [float(r["ratio"]) for r in _read_csv(bench_dir / f"{machine}-training-omp.csv")
           if r["ratio"]]
    out["omp_gain"] = statistics.median(omp) if omp else None
    out["omp_min"], out["omp_max"] = (min(omp), max(omp)) if omp else (None, None)
    lev = {(r["model"], r["lever"]): r for r in
           _read_csv(bench_dir / f"{machine}-training-levers.csv")}
    th = lev.get(("ltnet", "threads"))
    out["threads_gain"] = float(th["ratio"]) if th and th["ratio"] else None
    return out
