"""Scoring and writing one seed of a one-to-one row: what follows its training.

:mod:`relight_lib.papers.onetoone` resolves a row and trains each seed; this module scores the
trained seed (:func:`evaluate_seed`: every ensemble member on validation, the row's prediction
path on the evaluation split, the run-time column) and writes it (:func:`record_seed`: run.json
with the plateau test of every scored weight, history.csv, the figures).

Nothing here decides a trained weight, so the training key leaves this file out
(:data:`relight_lib.papers.onetoone.EVAL_FILES`, passed to
:func:`relight_lib.library.train.training_key`): changing how a row is scored or drawn makes its
rows *re-evaluate* from their checkpoints, not retrain.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import torch

from relight_lib.library import metrics, utils
from relight_lib.library.convergence import TAIL, from_history
from relight_lib.library.train import predict, time_inference
from relight_lib.papers.onetoone import (EVAL_METRICS, OneToOnePlan, TrainedSeed, _data_record,
                                         _not_run, _snapshot_models)

__all__ = ["MEMBER_METRICS", "NO_POSTPROCESS", "EvaluatedSeed", "evaluate_seed", "example_figure",
           "learning_curves", "record_seed"]

#: The validation metrics measured on each snapshot-ensemble member (history.csv's columns),
#: so the plateau test can judge every member on every metric a claim uses.
MEMBER_METRICS = {"psnr": "val_psnr", "ssim": "val_ssim"}

#: Suffix of the metrics of a post-processed row computed without its post-process.
NO_POSTPROCESS = "_no_postprocess"


def _prediction_path(members, post, snapshot_weights, device: str):
    """``batch -> image``: every ensemble member's prediction, each post-processed (LTNet dehazes
    each snapshot's output, then fuses), then their (weighted) mean."""

    def predict_fn(batch):
        outs = [predict(m, batch, device=device) for m in members]
        if post is not None:
            outs = [post(o) for o in outs]
        if len(outs) == 1:
            return outs[0]
        from relight_lib.papers.ltnet.dehaze import snapshot_ensemble

        return snapshot_ensemble(outs, snapshot_weights)

    return predict_fn


def _member_validation(members, snap_steps: Sequence[int], val_set, snapshot_weights,
                       device: str) -> dict[str, Any] | None:
    """Validation PSNR and SSIM (:data:`MEMBER_METRICS`) of each snapshot-ensemble member and
    of their (weighted) mean, without the post-process, as the training curve measures (the
    plateau test judges every member on every metric a claim uses:
    :func:`relight_lib.library.convergence.from_history`). None for a single model or without
    a validation set. ``{"members": {step: {"val_psnr": dB, "val_ssim": s}}, "ensemble":
    {...}}``."""
    if len(members) < 2 or val_set is None:
        return None

    def scores(fn) -> dict[str, float]:
        res = metrics.evaluate(fn, val_set, metrics=tuple(MEMBER_METRICS), progress=False)
        means = res.summary().set_index("metric")["mean"]
        return {col: float(means.get(m, float("nan"))) for m, col in MEMBER_METRICS.items()}

    out: dict[str, Any] = {"members": {}}
    for step, m in zip(snap_steps, members):
        out["members"][str(step)] = scores(lambda b, m=m: predict(m, b, device=device))
    out["ensemble"] = scores(_prediction_path(members, None, snapshot_weights, device))
    return out


def _timed_path(n_members: int, postprocess: str | None) -> str:
    """What the run-time column of a row measured, in words."""
    what = "network" if n_members == 1 else f"{n_members}-snapshot ensemble"
    return what + (f" + {postprocess}" if postprocess else "")



@dataclass
class EvaluatedSeed:
    """One seed scored on the evaluation split: per-image rows and notes (with
    ``<metric>_no_postprocess`` for a post-processed row), the ensemble members' validation,
    the run-time column and where the time went."""

    per_image: pd.DataFrame
    notes: dict[str, str]
    ensemble_val: dict[str, Any] | None = None
    timing: dict[str, Any] = field(default_factory=dict)
    lpips_weights: Any = None
    evaluate_s: float = 0.0
    run_time_s: float = 0.0
    #: ``batch -> image``, the prediction the row scored (ensemble and post-process included):
    #: what its example figure shows.
    predict_fn: Any = None


def evaluate_seed(plan: OneToOnePlan, trained: TrainedSeed, post,
                  progress: bool = False) -> EvaluatedSeed:
    """Score the trained seed: each ensemble member's validation (the plateau test judges
    every scored weight), the (post-processed) prediction path on the evaluation split, the
    bare network's numbers too when post-processed, and the run-time column."""
    if trained.reason is not None:
        return EvaluatedSeed(*_not_run(trained.reason))
    cfg, data, device = plan.cfg, trained.data, trained.device
    members = _snapshot_models(trained.net, trained.ckpt_dir, trained.seed, plan.snap_steps,
                               device)
    ensemble_val = _member_validation(members, plan.snap_steps,
                                      data.val_set if plan.val_every else None,
                                      plan.snapshot_weights, device)
    predict_fn = _prediction_path(members, post, plan.snapshot_weights, device)
    t_eval = time.perf_counter()
    res = metrics.evaluate(predict_fn, data.eval_set, metrics=EVAL_METRICS, progress=progress)
    per_image, notes = res.rows, res.notes
    if post is not None:  # the bare network's numbers too (LTNet's undehazed rows)
        raw = metrics.evaluate(_prediction_path(members, None, plan.snapshot_weights, device),
                               data.eval_set, metrics=EVAL_METRICS, progress=progress)
        per_image = pd.concat([per_image, raw.rows.assign(
            metric=raw.rows["metric"] + NO_POSTPROCESS)], ignore_index=True)
        notes = {**notes, **{m + NO_POSTPROCESS: n for m, n in raw.notes.items()}}
    t_time = time.perf_counter()
    # the papers' run-time column: seconds per image for what the row does (every ensemble
    # member, then the post-process), here and at 1024 px
    timing = {"device": device, "timed": _timed_path(len(members), plan.postprocess),
              f"inference_s_{cfg.size}px": time_inference(trained.net, cfg.size, device,
                                                           fn=predict_fn)}
    if cfg.time_1024:
        timing["inference_s_1024px"] = time_inference(trained.net, 1024, device, repeats=1,
                                                      fn=predict_fn)
    return EvaluatedSeed(per_image, notes, ensemble_val, timing, res.lpips_weights,
                         evaluate_s=t_time - t_eval, run_time_s=time.perf_counter() - t_time,
                         predict_fn=predict_fn)


def record_seed(plan: OneToOnePlan, trained: TrainedSeed, evaluated: EvaluatedSeed, post, *,
                paper: str, table: str, variant: str, results_root: str, cache_key: str,
                params: Mapping[str, Any]) -> pd.DataFrame:
    """Write one seed of the row (:func:`relight_lib.library.record.write_run`: run.json with
    the plateau test of every scored weight, history.csv, figures); returns the seed's summary
    (one row per metric: mean, std, count)."""
    from relight_lib.library import record
    from relight_lib.library.models import count_parameters

    cfg, data, history = plan.cfg, trained.data, trained.history
    weights = dict(trained.weights)
    if evaluated.lpips_weights:
        weights["lpips_metric"] = evaluated.lpips_weights
    seconds = {"train": trained.train_s, "evaluate": evaluated.evaluate_s,
               "run_time": evaluated.run_time_s}
    ensemble_val = evaluated.ensemble_val
    out = record.write_run(
        results_root, paper=paper, table=table, variant=variant, profile=cfg.name,
        seed=trained.seed, dataset="SynVIDIT" if cfg.render_preset else "VIDIT",
        split=cfg.eval_split, per_image=evaluated.per_image, notes=evaluated.notes,
        label=plan.label, params=params, weights=weights, deviations=trained.deviations,
        wall_time_s=time.perf_counter() - trained.t0, peak_memory_mb=utils.peak_memory_mb(),
        cache_key=cache_key, data_manifest_sha256=data.manifest_sha,
        precision=record.precision_entry(plan.amp_requested, plan.settings["amp"]) if history
        else None,
        extra={"parameters": count_parameters(trained.net), "train_steps": len(history),
               # every scored weight: the final model, or each ensemble member
               "convergence": from_history(
                   history, members=plan.snap_steps,
                   member_values=(ensemble_val or {}).get("members")).to_dict()
               if history else None,
               "ensemble_validation": ensemble_val,
               "training_data": data.data_path,
               "data": _data_record(data.cfg, data.cfg.track1_root, len(data.eval_set)),
               "training_key": trained.key if trained.training_files else None,
               "training_files": trained.training_files,
               # 0: the finished training of training_key was reused (made by this row's
               # earlier run or by another row of the same recipe)
               "steps_trained_here": trained.steps_trained if history else None,
               "timing": evaluated.timing,
               "seconds": {k: round(v, 1) for k, v in seconds.items()}})
    if history:
        pd.DataFrame(history).to_csv(out / "history.csv", index=False)
        _figures(out, history, trained.net, data.eval_set, post, trained.device,
                 examples=trained.seed == cfg.seeds[0], predict_fn=evaluated.predict_fn)
    return record.seed_summary(evaluated.per_image, trained.seed)


def learning_curves(h: pd.DataFrame, path: Path | None = None, title: str = ""):
    """Training loss (left) and validation PSNR (right, with the plateau test's last fifth
    shaded) against the step, from a row's ``history.csv``; saved to ``path`` when given.

    Returns the matplotlib figure."""
    import matplotlib.pyplot as plt

    fig, (a1, a2) = plt.subplots(1, 2, figsize=(7, 2.6))
    a1.plot(h["step"], h["loss"], lw=0.8)
    a1.set_xlabel("step")
    a1.set_ylabel("training loss")
    a1.set_yscale("log")
    if "val_psnr" in h.columns and h["val_psnr"].notna().any():
        v = h[h["val_psnr"].notna()]
        a2.plot(v["step"], v["val_psnr"], marker=".", lw=1)
        last = float(v["step"].max())
        a2.axvspan((1 - TAIL) * last, last, color="0.9", zorder=0)
        verdict = from_history(h.to_dict("records"))
        a2.set_title({True: "converged", False: "not converged", None: "too short to tell"}[
            verdict.converged], fontsize=9)
    a2.set_xlabel("step")
    a2.set_ylabel("validation PSNR (dB)")
    if title:
        fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    if path is not None:
        from relight_lib.library import record

        record.save_figure(fig, path)
    return fig


def _figures(out: Path, history: list[dict], model, eval_set, post, device: str,
             examples: bool = True, predict_fn=None) -> None:
    """Training curve and, with ``examples`` (the profile's first seed: the only one a page
    shows), a few input / prediction / target triplets of ``predict_fn`` (the row's scored
    prediction: an ensemble's fused output; default the model, then ``post``), saved under
    figures/."""
    (out / "figures").mkdir(exist_ok=True)
    learning_curves(pd.DataFrame(history), out / "figures" / "loss.png")
    if not examples:
        return

    def relight(batch):
        pred = predict(model, batch, device=device)
        return post(pred) if post is not None else pred

    example_figure(out, eval_set, predict_fn or relight, "prediction")



def example_figure(out: Path, eval_set, predict_fn, title: str) -> None:
    """input / prediction / target for the first three evaluation images, into figures/
    (``predict_fn`` gets each item as a batch of one: input, depth, ... as the model needs)."""
    import matplotlib.pyplot as plt

    (out / "figures").mkdir(exist_ok=True)
    n = min(3, len(eval_set))
    fig, axes = plt.subplots(n, 3, figsize=(6, 2 * n), squeeze=False)
    for r in range(n):
        item = eval_set[r]
        batch = {k: (v[None] if isinstance(v, torch.Tensor) else [v]) for k, v in item.items()}
        pred = predict_fn(batch)[0]
        for c, (img, name) in enumerate([(item["input"], "input 6500 K N"), (pred, title),
                                         (item["target"], "target 4500 K E")]):
            axes[r][c].imshow(img.permute(1, 2, 0).clamp(0, 1).cpu().numpy())
            axes[r][c].set_axis_off()
            if r == 0:
                axes[r][c].set_title(name, fontsize=9)
    fig.tight_layout()
    from relight_lib.library import record

    record.save_figure(fig, out / "figures" / "examples.png")
