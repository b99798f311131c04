"""Scoring an any-to-any model (2DSceneRelighting): the metrics of every evaluation set with
the swap-specific per-pair diagnostics, and validation during training.

Evaluation (papers.md 6.11): Table 1's pairs have a different scene and a different light
direction (``PROTOCOL_2DSCENE``), drawn from the profile's ``eval_split`` (test on SynVIDIT,
validation on real VIDIT) with a fixed seed (the same pairs for every row of a seed's data, so
differences are paired); PSNR, SSIM and DSSIM = (1 - SSIM)/2
(what the report's "SSIM" column very likely is), LPIPS (NaN with the reason when its weights are
missing), MSE, Score_l2 (:func:`relight_lib.library.metrics.score_l2`: mean MSE(I, G) / mean MSE(G_hat,
G), > 1 beats the identity, the report's way) and score_l2_pairmean (the mean of per-pair
ratios); for model A the predicter's losses and errors; latent distances. ``extra_tables=True``
also writes

* ``subsets/<variant>_{full,same_colour,same_direction}``: the report's evaluation sets of
  section 3.5 (:data:`~relight_lib.papers.swapnet.pairs.EVAL_SUBSETS`,
  ``eval_subsets="report"``): Eval = every validation
  pair, Eval_{c_I = c_T} = same colour temperature, Eval_{d_I = d_T} = same direction, nothing
  else constrained; ``eval_subsets="protocol"`` gives the suite's earlier reading (the protocol
  set, protocol and same colour, different scene and same direction);
* ``predicter/{temperature,direction}`` (model A): the per-pair L_c and L_d as one metric
  ``light_loss``, and ``predicter/{temperature,direction}_chance``: the same losses for a
  predicter that knows nothing but the training prior (it always answers the mean training
  temperature and the circular-mean training direction), on the same pairs: the chance levels
  model A's predictions are claimed against.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import torch
from torch import nn

from relight_lib.library import metrics

if TYPE_CHECKING:
    from relight_lib.papers.swapnet.loop import TrainedSeed
    from relight_lib.papers.swapnet.plan import AnyToAnyPlan

__all__ = ["EVAL_METRICS", "EvaluatedSeed", "SUBSET_METRICS", "VAL_METRICS", "evaluate_pairs",
           "evaluate_seed", "not_run_rows", "scored_checkpoint", "validate"]

def scored_checkpoint(cfg: Any, setting: str | None, read_at: float | None
                      ) -> tuple[float | None, str | None]:
    """Which checkpoint a row scores: ``(read_at, deviation)`` to plan it with.

    The report's Table 1 reads model B at its epoch-8 and model C at its epoch-6 checkpoint of
    20 (``evaluate.py``; :data:`~relight_lib.papers.swapnet.budget.READ_FRACTION`), trained at a
    constant rate. The paper profile reads the same epochs. Below it (``cfg.train_steps`` set,
    not the paper profile) the rate warms up and decays to 1 % over the budget
    (:func:`~relight_lib.papers.swapnet.budget.train_config`), so the checkpoint at 8/20 or
    6/20 of it is taken at a high rate, mid-descent: it measures how far training had got, not
    the model, and the plateau test rejects it. There B and C are scored on their last weights
    (``read_at`` 1), as model A is, with a deviation sentence saying so. A ``read_at`` given
    by the row is kept, and so is every row at the paper profile.

    >>> from types import SimpleNamespace
    >>> quick = SimpleNamespace(name="quick", train_steps=400)
    >>> scored_checkpoint(quick, "B", None)[0], scored_checkpoint(quick, "A", None)
    (1.0, (None, None))
    >>> scored_checkpoint(SimpleNamespace(name="paper", train_steps=None), "B", None)
    (None, None)
    """
    from relight_lib.papers.swapnet.budget import READ_FRACTION

    short = cfg.name != "paper" and cfg.train_steps is not None
    if read_at is not None or setting not in READ_FRACTION or not short:
        return read_at, None
    num, den = READ_FRACTION[setting]
    return 1.0, (f"Scored on the last weights, not on the checkpoint the report's Table 1 reads "
                 f"(epoch {num} of {den}, at the report's constant rate): at the {cfg.name} "
                 f"profile the rate decays over the budget, so the checkpoint at {num}/{den} of "
                 "it is taken mid-descent, at a high rate, and would score how far training had "
                 "got rather than the model (model A is scored on its last weights too).")


EVAL_METRICS = ("psnr", "ssim", "dssim", "lpips", "mse", "score_l2", "score_l2_pairmean")
SUBSET_METRICS = ("psnr", "ssim", "mse", "score_l2", "score_l2_pairmean")
#: What validation measures (fp32, the relit image against the ground truth).
VAL_METRICS = ("psnr", "ssim")


def not_run_rows(metric_names: Sequence[str], reason: str, dataset):
    """NaN for every pair and metric, with the reason: claims on this row then say why they
    cannot be tested (rather than "no results")."""
    keys = [p.key for p in dataset.pairs]
    rows = pd.DataFrame([(k, m, float("nan")) for k in keys for m in metric_names],
                        columns=["image", "metric", "value"])
    return rows, {m: reason for m in metric_names}


def evaluate_pairs(net, predicter, objective, dataset, device, want_metrics, progress,
              diagnostics: bool = True):
    """metrics.evaluate plus the swap-specific per-pair diagnostics; ``diagnostics=False``
    scores the relit image only (validation during training: G is not encoded)."""
    extra: list[dict[str, np.ndarray]] = []
    keys: list[str] = []

    def predict_fn(batch):
        if net is None:  # identity
            return batch["input"]
        # (B, 3, H, W), unclamped: metrics.evaluate clamps to [0, 1] before scoring
        out = net.outputs(batch, with_target=diagnostics)
        if not diagnostics:
            return out["relit"]
        keys.extend(batch["key"])
        row: dict[str, np.ndarray] = {}

        def mse_lat(a, b):
            return ((a - b) ** 2).flatten(1).mean(1).cpu().numpy()

        if out.get("scene_input") is not None:
            row["scene_latent_mse_same_scene"] = mse_lat(out["scene_input"], out["scene_target"])
            row["scene_latent_mse_diff_scene"] = mse_lat(out["scene_input"], out["scene_guide"])
        row["light_latent_mse_same_light"] = mse_lat(out["light_guide"], out["light_target"])
        row["light_latent_mse_diff_light"] = mse_lat(out["light_input"], out["light_target"])
        if predicter is not None:
            _, _, per = objective.predicter_losses(out, batch, predicter)
            row["temperature_loss"] = per["lc"].cpu().numpy()
            row["direction_loss"] = per["ld"].cpu().numpy()
            row["temperature_error_k"] = per["temp_err"].cpu().numpy()
            row["direction_error_deg"] = per["dir_err"].cpu().numpy()
        if objective is not None and objective.setting in ("B", "C"):
            from relight_lib.library.losses import envmap_log_l2_loss

            gt = objective.envmap_targets(batch, "guide", out["relit"].device)
            pred = out["light_guide"]
            if objective.setting == "C":
                gt, pred = gt[:, 2:], pred[:, 2:]
            row["envmap_log_l2_guide"] = envmap_log_l2_loss(
                pred, gt, reduction="none").cpu().numpy()
        extra.append(row)
        return out["relit"]

    res = metrics.evaluate(predict_fn, dataset, metrics=want_metrics, batch_size=4,
                           device=device, progress=progress)
    rows = res.rows
    if extra:
        cols = {k: np.concatenate([r[k] for r in extra]) for k in extra[0]}
        add = pd.DataFrame([(k, m, float(v[i])) for i, k in enumerate(keys)
                            for m, v in cols.items()], columns=["image", "metric", "value"])
        rows = pd.concat([rows, add], ignore_index=True)
    return rows, res.notes, res.lpips_weights


def validate(net: nn.Module, val_set, device: torch.device, predicter=None,
              objective=None) -> dict[str, float]:
    """Mean PSNR and SSIM (:data:`VAL_METRICS`) of the relit images over ``val_set``, as
    ``{"val_psnr": ..., "val_ssim": ...}``; with model A's ``predicter`` also its mean
    colour-temperature loss L_c as ``val_lc`` (the plateau test judges it: the temperature
    claim reads it). In fp32 (the caller's autocast does not reach here) and under inference
    mode; the caller puts the modules in eval mode."""
    rows, _, _ = evaluate_pairs(net, predicter, objective, val_set, device, VAL_METRICS,
                           progress=False, diagnostics=predicter is not None)
    mean = rows.groupby("metric")["value"].mean()
    out = {f"val_{m}": float(mean.get(m, float("nan"))) for m in VAL_METRICS}
    if predicter is not None:
        out["val_lc"] = float(mean.get("temperature_loss", float("nan")))
    return out


@dataclasses.dataclass
class EvaluatedSeed:
    """Every evaluation set of one seed, scored: ``sets[name] = (per-pair rows, notes)``."""

    sets: dict[str, tuple[pd.DataFrame, dict[str, str]]]
    eval_s_per_pair: float | None = None  # the main table's evaluation time, per pair
    lpips_weights: Any = None  # provenance of the LPIPS metric's weights, when it ran


def evaluate_seed(plan: AnyToAnyPlan, trained: TrainedSeed, device: torch.device,
                  progress: bool = False) -> EvaluatedSeed:
    """Score the trained seed (or the identity) on every evaluation set of the plan: the main
    table's :data:`EVAL_METRICS`, the ``subsets`` sets' :data:`SUBSET_METRICS`; a row that
    cannot run here gets NaN with its reason."""
    out = EvaluatedSeed(sets={})
    for name, ds in plan.eval_sets.items():
        want = EVAL_METRICS if name == plan.table else SUBSET_METRICS
        if trained.reason is not None:
            out.sets[name] = not_run_rows(want, trained.reason, ds)
            continue
        t_eval = time.perf_counter()
        rows, notes, lp_weights = evaluate_pairs(trained.net, trained.predicter,
                                                 trained.objective, ds, device, want, progress)
        if name == plan.table:
            out.eval_s_per_pair = (time.perf_counter() - t_eval) / max(1, len(ds))
            if trained.net is not None and getattr(trained.net, "light_kind", "") == "envmap_rgb":
                notes.setdefault("scene_latent_mse_same_scene",
                                 "model B has no scene latent (the scene reaches the decoder "
                                 "through the skips only)")
        if lp_weights:
            out.lpips_weights = lp_weights
        out.sets[name] = (rows, notes)
    return out
