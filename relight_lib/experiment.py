"""One table row of a one-to-one (Track 1) paper: train, evaluate, write results.

Paper notebooks stay thin: their ``parameters`` cell names the model, the loss terms and the
training settings of the row, and one call to :func:`run_one_to_one` does the rest for every seed
of the profile, writing ``results/<profile>/<paper>/<table>/<variant>/seed=<k>/`` with full
provenance (:func:`relight_lib.results.write_run`), the training history and figures.

Loss terms are plain dicts, e.g. LTNet's final setting (Table 6 D)::

    [{"name": "charbonnier", "weight": 1.0},
     {"name": "lpips", "weight": 0.1, "required": False},
     {"name": "residual", "weight": 1.0, "on": "residual"}]

``on='residual'`` compares (prediction - input) with (target - input), the residual a global-skip
model predicts. A term whose weights are missing here (LPIPS without AlexNet, VGG without
ImageNet under the ``require`` policy) either stops the row (``required: True``, the default: the
row is written as *not run here* with the reason, so its claims become *not testable here*) or is
dropped (``required: False``), which is recorded as a deviation in run.json and on the page.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import torch

from relight_lib import metrics, profiles, results, utils
from relight_lib.train import TrainConfig, fit, predict, time_inference

EVAL_METRICS = ("psnr", "ssim", "lpips", "mps", "score_l2")
CHECKPOINT_DIR = Path("_build/checkpoints")


class NotRunnable(RuntimeError):
    """A row cannot be run faithfully on this machine (the reason says why)."""


@dataclass
class Objective:
    """The training loss of a row, and what had to be left out."""

    terms: list[tuple[float, str, torch.nn.Module]]
    dropped: list[str] = field(default_factory=list)
    weights: dict[str, Any] = field(default_factory=dict)

    def __call__(self, pred: torch.Tensor, batch: Mapping[str, Any]) -> torch.Tensor:
        total = pred.new_zeros(())
        for weight, on, term in self.terms:
            if on == "residual":
                total = total + weight * term(pred - batch["input"], batch["target"] - batch["input"])
            else:
                total = total + weight * term(pred, batch["target"])
        return total


def build_objective(spec: Sequence[Mapping[str, Any]], allow_random: bool) -> Objective:
    """Build the weighted loss terms of ``spec`` (see the module docstring).

    Raises:
        NotRunnable: a required term cannot be built here (its reason is in the message).
        ValueError: a malformed term.
    """
    from relight_lib.losses import LOSSES, LPIPSUnavailable, build_loss
    from relight_lib.weights import WeightsNotFound

    obj = Objective(terms=[])
    for raw in spec:
        term = dict(raw)
        unknown = set(term) - {"name", "weight", "kwargs", "on", "required"}
        if unknown or "name" not in term:
            raise ValueError(f"loss term {raw!r}: needs 'name'; unknown keys {sorted(unknown)}")
        if term["name"] not in LOSSES:
            raise ValueError(f"loss term {term['name']!r} is not one of {sorted(LOSSES)}")
        on = term.get("on", "output")
        if on not in ("output", "residual"):
            raise ValueError(f"loss term {term['name']!r}: 'on' must be output or residual")
        kwargs = dict(term.get("kwargs", {}))
        if term["name"] == "perceptual":
            kwargs.setdefault("allow_random", allow_random)
        try:
            module = build_loss(term["name"], **kwargs)
        except (LPIPSUnavailable, WeightsNotFound) as e:
            reason = f"{term['name']} loss unavailable: {str(e).splitlines()[0]}"
            if term.get("required", True):
                raise NotRunnable(reason) from e
            obj.dropped.append(f"{term['name']} term (weight {term.get('weight', 1.0)}) left "
                               f"out of the loss: {reason}")
            continue
        info = getattr(module, "weights_info", None)
        if info is not None:
            obj.weights[term["name"]] = info.to_dict()
        obj.terms.append((float(term.get("weight", 1.0)), on, module))
    if not obj.terms:
        raise NotRunnable("no loss term can be built here: " + "; ".join(obj.dropped))
    return obj


def _augment(name: str | None):
    if name is None:
        return None
    from relight_lib.data import transforms

    table = {"flip_rotate": transforms.random_flip_rotate}
    if name not in table:
        raise ValueError(f"augment {name!r} is not one of {sorted(table)}")
    return table[name]


def _postprocess(name: str | None):
    if name is None:
        return None
    from relight_lib import postprocess

    table = {"dehaze": lambda x: postprocess.dehaze(x),
             "dehaze_code": lambda x: postprocess.dehaze(x, **postprocess.DEHAZE_CODE)}
    if name not in table:
        raise ValueError(f"postprocess {name!r} is not one of {sorted(table)}")
    return table[name]


def _not_run(per_metric_reason: str) -> tuple[pd.DataFrame, dict[str, str]]:
    rows = pd.DataFrame(columns=["image", "metric", "value"])
    return rows, {m: per_metric_reason for m in EVAL_METRICS}


def run_one_to_one(*, paper: str, table: str, variant: str, profile: str,
                   results_root: str = "results", cache_key: str = "", model: str,
                   model_kwargs: Mapping[str, Any] | None = None,
                   loss: Sequence[Mapping[str, Any]], train: Mapping[str, Any] | None = None,
                   augment: str | None = None, postprocess: str | None = None,
                   data_root: str | None = None, seeds: Sequence[int] | None = None,
                   steps: int | None = None, label: str | None = None,
                   deviations: Sequence[str] = (), progress: bool = False) -> pd.DataFrame:
    """Train ``model`` for each seed of the profile, evaluate it, write the results.

    Args:
        paper, table, variant, profile, results_root, cache_key: Where the row goes (the
            runner passes these).
        model: Registered model name; ``model_kwargs`` its constructor arguments.
        loss: Loss terms (see the module docstring).
        train: :class:`~relight_lib.train.TrainConfig` overrides (lr, betas, schedule,
            final_lr, ...); budget, batch size, seed and device come from the profile.
        augment: ``'flip_rotate'`` (LTNet) or None.
        postprocess: ``'dehaze'`` (He et al. parameters) | ``'dehaze_code'`` | None, applied to
            the predictions before evaluation.
        data_root: Real VIDIT folder (None: the profile's SynVIDIT set).
        seeds, steps: Override the profile's seeds and training steps.
        label: Human label of the row for the tables.
        deviations: Known deviations from the paper for this row (go to run.json and the page).
        progress: Progress bars (off in papermill runs: they would clutter the book).

    Returns:
        The per-seed summary: one row per (seed, metric) with mean, sd and n_images.
    """
    cfg = profiles.resolve(profile, data_root=data_root, seeds=seeds, train_steps=steps)
    from relight_lib.data.vidit import OneToOneDataset
    from relight_lib.models import build_model, count_parameters

    train_set = OneToOneDataset(cfg.track1_root, split="train", size=cfg.size)
    eval_set = OneToOneDataset(cfg.track1_root, split=cfg.eval_split, size=cfg.size,
                               limit=cfg.eval_limit)
    settings = {"steps": cfg.train_steps, "batch_size": cfg.batch_size, "device": cfg.device,
                "amp": cfg.amp, "channels_last": cfg.channels_last, "compile": cfg.compile,
                **dict(train or {})}
    manifest_sha = profiles.data_manifest_sha256(cfg)
    post = _postprocess(postprocess)
    params = {**cfg.to_dict(), "model": model, "model_kwargs": dict(model_kwargs or {}),
              "loss": [dict(t) for t in loss], "train": settings, "augment": augment,
              "postprocess": postprocess}
    summaries = []
    for seed in cfg.seeds:
        t0 = time.perf_counter()
        utils.seed_everything(seed)
        net = build_model(model, **dict(model_kwargs or {}))
        devs = list(deviations)
        weights: dict[str, Any] = {}
        history: list[dict] = []
        timing: dict[str, Any] = {}
        try:
            objective = build_objective(loss, cfg.allow_random_backbone)
        except NotRunnable as e:
            per_image, notes = _not_run(f"not run here: {e}")
        else:
            devs += objective.dropped
            weights = objective.weights
            tcfg = TrainConfig(**{**settings, "seed": seed})
            ckpt = CHECKPOINT_DIR / (cache_key[:12] or "adhoc") / profile / paper / table / \
                variant / f"seed={seed}.pt"
            fitted = fit(net, objective, train_set, None, tcfg, checkpoint=ckpt, resume=True,
                         augment=_augment(augment), progress=progress,
                         model_spec={"name": model, "kwargs": dict(model_kwargs or {})})
            history = fitted.history
            device = fitted.device

            def predict_fn(batch, _m=fitted.model):
                out = predict(_m, batch, device=device)
                return post(out) if post is not None else out

            res = metrics.evaluate(predict_fn, eval_set, metrics=EVAL_METRICS, progress=progress)
            per_image, notes = res.rows, res.notes
            # the papers' run-time column: seconds per image, here and at 1024 px
            timing = {"device": device,
                      f"inference_s_{cfg.size}px": time_inference(fitted.model, cfg.size, device)}
            if cfg.time_1024:
                timing["inference_s_1024px"] = time_inference(fitted.model, 1024, device,
                                                              repeats=1)
            if res.lpips_weights:
                weights["lpips_metric"] = res.lpips_weights
        out = results.write_run(
            results_root, paper=paper, table=table, variant=variant, profile=cfg.name,
            seed=seed, dataset="SynVIDIT" if cfg.render_preset else "VIDIT",
            split=cfg.eval_split, per_image=per_image, notes=notes, label=label or variant,
            params=params, weights=weights, deviations=devs,
            wall_time_s=time.perf_counter() - t0, peak_memory_mb=utils.peak_memory_mb(),
            cache_key=cache_key, data_manifest_sha256=manifest_sha,
            extra={"parameters": count_parameters(net), "train_steps": len(history),
                   "timing": timing})
        if history:
            pd.DataFrame(history).to_csv(out / "history.csv", index=False)
            _figures(out, history, fitted.model, eval_set, post, device)
        summ = per_image.groupby("metric")["value"].agg(["mean", "std", "count"]) \
            if len(per_image) else pd.DataFrame(columns=["mean", "std", "count"])
        summ["seed"] = seed
        summaries.append(summ.reset_index())
    return pd.concat(summaries, ignore_index=True)


def _figures(out: Path, history: list[dict], model, eval_set, post, device: str) -> None:
    """Training curve and a few input / prediction / target triplets, saved under figures/."""
    import matplotlib.pyplot as plt

    (out / "figures").mkdir(exist_ok=True)
    h = pd.DataFrame(history)
    fig, ax = plt.subplots(figsize=(4, 2.5))
    ax.plot(h["step"], h["loss"], lw=1)
    ax.set_xlabel("step")
    ax.set_ylabel("training loss")
    fig.tight_layout()
    fig.savefig(out / "figures" / "loss.png", dpi=80)
    plt.close(fig)
    n = min(3, len(eval_set))
    fig, axes = plt.subplots(n, 3, figsize=(6, 2 * n), squeeze=False)
    for r in range(n):
        item = eval_set[r]
        batch = {k: (v[None] if isinstance(v, torch.Tensor) else v) for k, v in item.items()}
        pred = predict(model, batch, device=device)
        if post is not None:
            pred = post(pred)
        for c, (img, title) in enumerate([(item["input"], "input"), (pred[0], "prediction"),
                                          (item["target"], "target")]):
            axes[r][c].imshow(img.permute(1, 2, 0).clamp(0, 1).cpu().numpy())
            axes[r][c].set_axis_off()
            if r == 0:
                axes[r][c].set_title(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(out / "figures" / "examples.png", dpi=80)
    plt.close(fig)
