"""One table row of a one-to-one (Track 1) paper: train, evaluate, write results.

Paper notebooks stay thin: their ``parameters`` cell names the model, the loss terms and the
training settings of the row, and one call to :func:`run_one_to_one` does the rest for every seed
of the profile, writing ``results/<profile>/<paper>/<table>/<variant>/seed=<k>/`` with full
provenance (:func:`relight_lib.results.write_run`), the training history and figures.

Loss terms are plain dicts, e.g. LTNet's final setting (Table 6 D)::

    [{"name": "charbonnier", "weight": 1.0},
     {"name": "lpips", "weight": 0.1, "required": False},
     {"name": "residual", "weight": 1.0, "on": "residual"}]

Multi-stage training (MSR-Net's two stages, papers.md 5.5) passes ``stages`` instead of ``loss``:
``[{"name": "stage1", "loss": [...], "fraction": 0.5}, {"name": "stage2", "loss": [...],
"fraction": 0.5}]``; the stages train one model in turn and the learning-rate curve of ``train``
runs across the whole budget. ``train_scale`` trains at a fraction of the evaluation size (MSR-Net
trains at 512 px and tests at 1024 px, 5.7), and ``train_pairs='mbnet_extra'`` adds MBNet's extra
training pairs (4.6).

``on='residual'`` compares (prediction - input) with (target - input), the residual a global-skip
model predicts; ``on='prediction'`` applies a term to the prediction alone (total variation). A term whose weights are missing here (LPIPS without AlexNet, VGG without
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
            # loss networks (VGG, LPIPS) are built on the CPU; follow the prediction's device
            term.to(pred.device)
            if on == "residual":
                total = total + weight * term(pred - batch["input"], batch["target"] - batch["input"])
            elif on == "prediction":  # a regulariser of the output alone (TV)
                total = total + weight * term(pred)
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
        if on not in ("output", "residual", "prediction"):
            raise ValueError(f"loss term {term['name']!r}: 'on' must be output, residual or "
                             "prediction")
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

    return postprocess.get_postprocess(name)


#: Training pairs of a one-to-one row: Track 1's own, or MBNet's extra pairs on top (papers.md
#: 4.6): input 6500-NE with the same 4500-E target, and the mirrored 6500-N input and depth with the
#: mirrored 4500-W image as target (a mirror turns West into East).
TRAIN_PAIRS = ("track1", "mbnet_extra")


class _Mirrored(torch.utils.data.Dataset):
    """A dataset whose items are mirrored left-right (input, target and depth together)."""

    def __init__(self, base) -> None:
        self.base = base

    def __len__(self) -> int:
        return len(self.base)

    def __getitem__(self, i: int) -> dict[str, Any]:
        from relight_lib.data.transforms import hflip_pair

        item = dict(self.base[i])
        item["key"] = f"{item['key']}_mirrored"
        return hflip_pair(item)


def training_pairs(root: str, size: int, pairs: str = "track1"):
    """The training set of a one-to-one row at ``size`` px (see :data:`TRAIN_PAIRS`).

    Raises:
        ValueError: unknown ``pairs``.
        DataError: the extra conditions (6500_NE, 4500_W) are missing from the data.
    """
    from relight_lib.data.vidit import OneToOneDataset

    if pairs not in TRAIN_PAIRS:
        raise ValueError(f"train_pairs {pairs!r} is not one of {TRAIN_PAIRS}")
    track1 = OneToOneDataset(root, split="train", size=size)
    if pairs == "track1":
        return track1
    ne = OneToOneDataset(root, split="train", size=size, input_condition="6500_NE",
                         target_condition="4500_E", source="any2any")
    west = OneToOneDataset(root, split="train", size=size, input_condition="6500_N",
                           target_condition="4500_W", source="any2any")
    return torch.utils.data.ConcatDataset([track1, ne, _Mirrored(west)])


def plan_stages(total_steps: int, loss: Sequence[Mapping[str, Any]] | None,
                stages: Sequence[Mapping[str, Any]] | None, train: Mapping[str, Any]
                ) -> list[dict[str, Any]]:
    """Split the budget into training stages, each with its loss and its slice of the lr curve.

    A single-loss row is one stage. With ``stages``, stage k gets ``round(fraction_k * total)``
    steps (the last takes the remainder) and the exponential lr curve from ``lr`` to
    ``final_lr`` over the *whole* budget is cut at the stage boundaries, so two stages follow
    exactly the curve one run would. Only ``constant`` and ``exponential`` schedules can be
    split this way.

    >>> [(s["name"], s["steps"], s["lr"], round(s["final_lr"], 6))
    ...  for s in plan_stages(3, None, [{"name": "a", "loss": [], "fraction": 2 / 3},
    ...                                 {"name": "b", "loss": [], "fraction": 1 / 3}],
    ...                       {"lr": 1e-2, "final_lr": 1e-4, "schedule": "exponential"})]
    [('a', 2, 0.01, 0.001), ('b', 1, 0.0001, 0.0001)]
    """
    if (loss is None) == (stages is None):
        raise ValueError("give exactly one of loss (one stage) and stages")
    if stages is None:
        return [{"name": "train", "loss": list(loss), "steps": total_steps, **dict(train)}]
    schedule = train.get("schedule", "constant")
    if schedule not in ("constant", "exponential"):
        raise ValueError(f"stages need a constant or exponential lr schedule, not {schedule!r}")
    fracs = [float(st.get("fraction", 0)) for st in stages]
    if not stages or any(f <= 0 for f in fracs) or abs(sum(fracs) - 1) > 1e-6:
        raise ValueError(f"stage fractions must be positive and sum to 1, got {fracs}")
    lr0 = float(train.get("lr", 1e-4))
    lr1 = float(train.get("final_lr") or lr0)

    def lr_at(t: int) -> float:  # lr of step t (0-based) in one run: lr0 at 0, lr1 at the last
        return lr0 * (lr1 / lr0) ** (t / max(total_steps - 1, 1))

    out, start = [], 0
    for k, (st, f) in enumerate(zip(stages, fracs)):
        unknown = set(st) - {"name", "loss", "fraction"}
        if unknown or "loss" not in st:
            raise ValueError(f"stage {st!r}: needs 'loss'; unknown keys {sorted(unknown)}")
        n = total_steps - start if k == len(stages) - 1 else max(1, round(f * total_steps))
        cfg = {**dict(train), "lr": lr_at(start)}
        if schedule == "exponential":
            cfg["final_lr"] = lr_at(start + n - 1)  # the lr of the stage's last step
        out.append({"name": st.get("name", f"stage{k + 1}"), "loss": list(st["loss"]),
                    "steps": n, **cfg})
        start += n
    return out


def training_key(**what: Any) -> str:
    """Name of the checkpoint folder of one training: a hash of everything the trained weights
    depend on (model and its arguments, the stage plan with losses and learning rates, the
    settings, training size and pairs, augmentation, seed, data, snapshot steps) and of the
    library's source. Rows that train the same network with the same settings (LTNet's
    baseline appears in Tables 1, 2, 3, 5 and 6; a post-process or a different evaluation does
    not change the training) share one checkpoint, so the second row resumes a finished run
    instead of training again; any change to the library starts afresh."""
    import hashlib
    import json

    import relight_lib

    h = hashlib.sha256(json.dumps(what, sort_keys=True, default=str).encode())
    for f in sorted(Path(relight_lib.__file__).parent.rglob("*.py")):
        if f.name not in _NOT_TRAINING_CODE:
            h.update(f.read_bytes())
    return h.hexdigest()[:16]


#: Library files that never run during a training (commands, the book, benchmarks): editing
#: them does not make a saved training obsolete.
_NOT_TRAINING_CODE = ("cli.py", "book.py", "bench.py", "reproduce.py")


def snapshot_steps(total_steps: int, fractions: Sequence[float] | None) -> list[int]:
    """The training steps (1-based) whose weights a snapshot ensemble keeps.

    >>> snapshot_steps(134, [90 / 134, 123 / 134, 1.0])
    [90, 123, 134]
    >>> snapshot_steps(4, [90 / 134, 123 / 134, 124 / 134, 1.0])
    [3, 4, 4, 4]
    """
    if not fractions:
        return []
    if any(not 0 < f <= 1 for f in fractions):
        raise ValueError(f"snapshot fractions must lie in (0, 1], got {list(fractions)}")
    # on a very short budget two snapshots can fall on one step: that step's weights then
    # count twice in the mean, as the two epochs would have
    return [max(1, round(f * total_steps)) for f in fractions]


def _snapshot_path(ckpt_dir: Path, seed: int, step: int) -> Path:
    return ckpt_dir / f"seed={seed}-snapshot{step}.pt"


def _snapshot_saver(net, ckpt_dir: Path, seed: int, offset: int, steps: Sequence[int]):
    """An ``on_step`` callback of :func:`fit` that saves the weights at ``steps`` (atomically,
    so an interrupted and resumed run still finds every snapshot)."""
    from relight_lib.train import save_checkpoint

    if not steps:
        return None

    def keep(step: int, loss: float) -> None:
        if offset + step in steps:
            save_checkpoint(_snapshot_path(ckpt_dir, seed, offset + step), net, step=offset + step)

    return keep


def _snapshot_models(final, ckpt_dir: Path, seed: int, steps: Sequence[int], device: str):
    """The ensemble members: the final model alone, or one model per saved snapshot."""
    import copy

    from relight_lib.train import load_checkpoint

    if not steps:
        return [final]
    members = []
    for step in steps:
        m = copy.deepcopy(final)
        m.load_state_dict(load_checkpoint(_snapshot_path(ckpt_dir, seed, step), device)["model"])
        members.append(m.eval())
    return members


def _not_run(per_metric_reason: str) -> tuple[pd.DataFrame, dict[str, str]]:
    rows = pd.DataFrame(columns=["image", "metric", "value"])
    return rows, {m: per_metric_reason for m in EVAL_METRICS}


def run_one_to_one(*, paper: str, table: str, variant: str, profile: str,
                   results_root: str = "results", cache_key: str = "", model: str,
                   model_kwargs: Mapping[str, Any] | None = None,
                   loss: Sequence[Mapping[str, Any]] | None = None,
                   stages: Sequence[Mapping[str, Any]] | None = None,
                   train: Mapping[str, Any] | None = None, train_scale: float = 1.0,
                   train_pairs: str = "track1",
                   augment: str | None = None, postprocess: str | None = None,
                   snapshots: Sequence[float] | None = None,
                   snapshot_weights: Sequence[float] | None = None,
                   data_root: str | None = None, seeds: Sequence[int] | None = None,
                   steps: int | None = None, label: str | None = None,
                   deviations: Sequence[str] = (), progress: bool = False) -> pd.DataFrame:
    """Train ``model`` for each seed of the profile, evaluate it, write the results.

    Args:
        paper, table, variant, profile, results_root, cache_key: Where the row goes (the
            runner passes these).
        model: Registered model name; ``model_kwargs`` its constructor arguments.
        loss: Loss terms (see the module docstring); or ``stages`` for several training
            stages with their own losses (:func:`plan_stages`).
        train: :class:`~relight_lib.train.TrainConfig` overrides (lr, betas, schedule,
            final_lr, ...); budget, batch size, seed and device come from the profile. A
            ``step_fraction`` entry sets the ``step`` schedule's ``step_size`` to that fraction
            of the budget (MBNet: lr / 10 after a quarter of the epochs).
        train_scale: Train at ``round(size * train_scale)`` px, evaluate at the profile's size.
        train_pairs: ``'track1'`` or ``'mbnet_extra'`` (:func:`training_pairs`).
        augment: ``'flip_rotate'`` (LTNet) or None.
        postprocess: ``'dehaze'`` (He et al. parameters) | ``'dehaze_code'`` | None, applied to
            the predictions before evaluation.
        snapshots: Snapshot ensemble (LTNet §3.4, papers.md 3.8): fractions of the budget in
            (0, 1] at whose steps the weights are kept; the evaluated prediction is the mean of
            the snapshots' (post-processed) outputs. None: the final weights only.
        snapshot_weights: One weight per snapshot (the official code counts one twice); None:
            a plain mean, as the paper says.
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

    if not 0 < train_scale <= 1:
        raise ValueError(f"train_scale must be in (0, 1], got {train_scale}")
    train_size = max(8, round(cfg.size * train_scale))
    train_set = training_pairs(cfg.track1_root, train_size, train_pairs)
    eval_set = OneToOneDataset(cfg.track1_root, split=cfg.eval_split, size=cfg.size,
                               limit=cfg.eval_limit)
    settings = {"steps": cfg.train_steps, "batch_size": cfg.batch_size, "device": cfg.device,
                "amp": cfg.amp, "channels_last": cfg.channels_last, "compile": cfg.compile,
                **dict(train or {})}
    if settings["steps"] is None:  # the paper profile's budget is in epochs
        raise ValueError("run_one_to_one needs a step budget (train={'steps': ...} or the "
                         "profile's train_steps)")
    step_fraction = settings.pop("step_fraction", None)
    if step_fraction is not None:
        settings["step_size"] = max(1, round(float(step_fraction) * settings["steps"]))
    snap_steps = snapshot_steps(int(settings["steps"]), snapshots)
    plan = plan_stages(int(settings["steps"]), loss, stages,
                       {k: settings[k] for k in ("lr", "final_lr", "schedule") if k in settings})
    manifest_sha = profiles.data_manifest_sha256(cfg)
    post = _postprocess(postprocess)
    params = {**cfg.to_dict(), "model": model, "model_kwargs": dict(model_kwargs or {}),
              "loss": [dict(t) for t in loss] if loss is not None else None,
              "stages": [dict(st) for st in stages] if stages is not None else None,
              "train": settings, "train_size": train_size, "train_pairs": train_pairs,
              "n_train_pairs": len(train_set), "augment": augment, "postprocess": postprocess,
              "snapshots": list(snapshots) if snapshots is not None else None,
              "snapshot_steps": snap_steps or None,
              "snapshot_weights": list(snapshot_weights) if snapshot_weights else None}
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
            objectives = [build_objective(st["loss"], cfg.allow_random_backbone) for st in plan]
        except NotRunnable as e:
            per_image, notes = _not_run(f"not run here: {e}")
        else:
            model_weights = getattr(net, "weights_info", None)
            if model_weights:
                weights["model"] = model_weights
            # one key for every stage of this seed's training (it hashes the library files)
            ckpt_dir = CHECKPOINT_DIR / cfg.name / training_key(
                model=model, model_kwargs=dict(model_kwargs or {}), plan=plan,
                settings=settings, train_size=train_size, train_pairs=train_pairs,
                augment=augment, seed=seed, data=[cfg.track1_root, manifest_sha],
                snapshot_steps=snap_steps)
            for st, objective in zip(plan, objectives):
                prefix = f"{st['name']}: " if len(plan) > 1 else ""
                devs += [prefix + d for d in objective.dropped]
                weights.update(objective.weights)
                stage_cfg = {k: v for k, v in st.items() if k not in ("name", "loss")}
                tcfg = TrainConfig(**{**settings, **stage_cfg, "seed": seed})
                ckpt = ckpt_dir / (f"seed={seed}.pt" if len(plan) == 1
                                   else f"seed={seed}-{st['name']}.pt")
                offset = len(history)
                keep = _snapshot_saver(net, ckpt_dir, seed, offset, snap_steps)
                fitted = fit(net, objective, train_set, None, tcfg, checkpoint=ckpt, resume=True,
                             augment=_augment(augment), progress=progress, on_step=keep,
                             model_spec={"name": model, "kwargs": dict(model_kwargs or {})})
                history += [{**h, "step": h["step"] + offset, "stage": st["name"]}
                            for h in fitted.history]
                net = fitted.model.train()
            fitted.model.eval()
            device = fitted.device

            members = _snapshot_models(fitted.model, ckpt_dir, seed, snap_steps, device)

            def predict_fn(batch, _ms=members):
                outs = [predict(m, batch, device=device) for m in _ms]
                if post is not None:  # LTNet dehazes each snapshot's output, then fuses
                    outs = [post(o) for o in outs]
                if len(outs) == 1:
                    return outs[0]
                from relight_lib.postprocess import snapshot_ensemble

                return snapshot_ensemble(outs, snapshot_weights)

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
