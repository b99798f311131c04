"""One table row of a one-to-one (Track 1) paper: train, evaluate, write results.

Paper notebooks stay thin: their ``parameters`` cell names the model, the loss terms and the
training settings of the row, and one call to :func:`run_one_to_one` does the rest for every seed
of the profile, writing ``results/<profile>/<paper>/<table>/<variant>/seed=<k>/`` with full
provenance (:func:`relight_lib.library.record.write_run`), the training history and figures.

A row runs in three steps per seed after one resolution, as an any-to-any row
(:func:`relight_lib.papers.swapnet.any2any.run_any_to_any`): :func:`resolve_one_to_one` gives the
:class:`OneToOnePlan` (``dry_run=True`` returns its :meth:`~OneToOnePlan.to_dict`), then for
each seed :func:`load_seed_data`, :func:`train_seed`, then
:func:`~relight_lib.papers.onetoone_eval.evaluate_seed` and
:func:`~relight_lib.papers.onetoone_eval.record_seed` (:mod:`relight_lib.papers.onetoone_eval`:
the scoring and writing, which the training key leaves out). A seed that an earlier run of the
row finished is read back, not run again (:func:`relight_lib.library.record.kept_seed`).

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

Rows whose weights would be identical share one training: the checkpoint under
:data:`CHECKPOINT_DIR` is keyed by the effective recipe (:func:`training_recipe`: the loss as
trained, without the terms left out here), not by what the row evaluates or keeps on the way,
and ``extra.steps_trained_here`` in run.json says whether the row trained or reused it.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import torch

from relight_lib.library import metrics, utils
from relight_lib.papers import profiles
from relight_lib.library.data import transforms  # noqa: F401  (training augments and mirrors)
from relight_lib.library.train import TrainConfig, fit, training_key

EVAL_METRICS = ("psnr", "ssim", "lpips", "mps", "score_l2")
CHECKPOINT_DIR = Path("_build/checkpoints")
#: The files that score and write a trained seed (:mod:`relight_lib.papers.onetoone_eval`):
#: left out of the training key, so that changing them re-evaluates rows instead of retraining.
EVAL_FILES = ("papers/onetoone_eval.py",)


class NotRunnable(RuntimeError):
    """A row cannot be run faithfully on this machine (the reason says why)."""


@dataclass
class Objective:
    """The training loss of a row, and what had to be left out."""

    terms: list[tuple[float, str, torch.nn.Module]]
    dropped: list[str] = field(default_factory=list)  # deviations: terms left out or random
    weights: dict[str, Any] = field(default_factory=dict)
    # the terms actually trained (:func:`trained_term`), each with its backbone's identity:
    # what the training key hashes, so rows whose losses differ only in terms left out here
    # share one training
    trained: list[dict[str, Any]] = field(default_factory=list)

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


def trained_term(term: Mapping[str, Any]) -> dict[str, Any]:
    """A loss term as it decides the weights: name, weight, what it compares and its arguments,
    with the defaults written out (``{"name": "l1"}`` and ``{"name": "l1", "weight": 1.0}``
    train alike) and without ``required``, which only says what to do when the term's weights
    are missing.

    >>> trained_term({"name": "lpips", "weight": 0.1, "required": False})
    {'name': 'lpips', 'weight': 0.1, 'on': 'output', 'kwargs': {}}
    """
    return {"name": term["name"], "weight": float(term.get("weight", 1.0)),
            "on": term.get("on", "output"), "kwargs": dict(term.get("kwargs") or {})}


def weights_identity(info: Any) -> Any:
    """What of a backbone's weights record (:meth:`~relight_lib.library.weights.WeightsInfo.
    to_dict`, or MBNet's per-stream dict of them) decides the trained weights: the file's
    sha256 or a seeded random init, not where the file lies or the sentence saying so.

    >>> weights_identity({"name": "vgg19", "source": "file", "path": "/x", "sha256": "ab",
    ...                   "reason": "found"})
    {'name': 'vgg19', 'sha256': 'ab', 'source': 'file'}
    """
    if isinstance(info, Mapping):
        return {k: weights_identity(v) for k, v in sorted(info.items())
                if k not in ("path", "reason")}
    return info


def build_objective(spec: Sequence[Mapping[str, Any]], allow_random: bool) -> Objective:
    """Build the weighted loss terms of ``spec`` (see the module docstring).

    Raises:
        NotRunnable: a required term cannot be built here (its reason is in the message).
        ValueError: a malformed term.
    """
    from relight_lib.library.losses import LOSSES, LPIPSUnavailable, build_loss
    from relight_lib.library.weights import WeightsNotFound

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
        trained = trained_term(term)
        if info is not None:
            obj.weights[term["name"]] = info.to_dict()
            trained["backbone"] = weights_identity(info.to_dict())
            if info.source == "random":  # e.g. MSR-Net's L_CL or MBNet's loss without ImageNet
                obj.dropped.append(f"{term['name']} term (weight {term.get('weight', 1.0)}) "
                                   f"computed with a seeded random {info.name}, not ImageNet "
                                   f"weights: {info.reason}")
        obj.terms.append((float(term.get("weight", 1.0)), on, module))
        obj.trained.append(trained)
    if not obj.terms:
        raise NotRunnable("no loss term can be built here: " + "; ".join(obj.dropped))
    return obj


def _augment(name: str | None):
    if name is None:
        return None
    from relight_lib.library.data import transforms

    table = {"flip_rotate": transforms.random_flip_rotate}
    if name not in table:
        raise ValueError(f"augment {name!r} is not one of {sorted(table)}")
    return table[name]


def _postprocess(name: str | None):
    if name is None:
        return None
    from relight_lib.papers.ltnet import dehaze

    return dehaze.get_postprocess(name)


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
        from relight_lib.library.data.transforms import hflip_pair

        item = dict(self.base[i])
        item["key"] = f"{item['key']}_mirrored"
        return hflip_pair(item)


def training_pairs(root: str, size: int, pairs: str = "track1"):
    """The training set of a one-to-one row at ``size`` px (see :data:`TRAIN_PAIRS`).

    Raises:
        ValueError: unknown ``pairs``.
        DataError: the extra conditions (6500_NE, 4500_W) are missing from the data.
    """
    from relight_lib.library.data.vidit import OneToOneDataset

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


def _limited(n: int, limit: int | None) -> int:
    return n if limit is None else min(n, limit)


def track1_sets(cfg: profiles.Profile, train_size: int, train_pairs: str = "track1"):
    """``(train, validation, evaluation)`` sets of one seed's profile (:func:`profiles.for_seed`):
    the training pairs at ``train_size`` px, the ``val_split`` pairs that the learning curves and
    the plateau test read, and the ``eval_split`` pairs that the tables read (one object when
    the two splits are the same, as at the paper profile), both at the profile's size and
    capped at its ``eval_limit``."""
    from relight_lib.library.data.vidit import OneToOneDataset

    train = training_pairs(cfg.track1_root, train_size, train_pairs)
    ev = OneToOneDataset(cfg.track1_root, split=cfg.eval_split, size=cfg.size,
                         limit=cfg.eval_limit)
    val = ev if cfg.val_split == cfg.eval_split else OneToOneDataset(
        cfg.track1_root, split=cfg.val_split, size=cfg.size, limit=cfg.eval_limit)
    return train, val, ev


def _data_record(cfg: profiles.Profile, root: str, n_eval: int) -> dict[str, Any]:
    """What run.json records of one seed's data: folder, draw, scene seed, splits and size."""
    key = profiles.data_key(cfg, root)
    return {"root": root, "draw": key["draw"], "scene_seed": key["scene_seed"],
            "eval_split": cfg.eval_split, "n_eval": n_eval, "val_split": cfg.val_split}


def plan_stages(total_steps: int, loss: Sequence[Mapping[str, Any]] | None,
                stages: Sequence[Mapping[str, Any]] | None, train: Mapping[str, Any]
                ) -> list[dict[str, Any]]:
    """Split the budget into training stages, each with its loss and its slice of the lr curve.

    A single-loss row is one stage. With ``stages``, stage k gets ``round(fraction_k * total)``
    steps (the last takes the remainder) and runs steps ``[start, start + n)`` of the one
    learning-rate curve over the whole budget (``schedule_offset`` / ``schedule_total`` of
    :class:`~relight_lib.library.train.TrainConfig`), so the stages follow exactly the curve
    one run would, whatever the schedule.

    >>> [(s["name"], s["steps"], s["schedule_offset"], s["schedule_total"])
    ...  for s in plan_stages(3, None, [{"name": "a", "loss": [], "fraction": 2 / 3},
    ...                                 {"name": "b", "loss": [], "fraction": 1 / 3}],
    ...                       {"lr": 1e-2, "final_lr": 1e-4, "schedule": "exponential"})]
    [('a', 2, 0, 3), ('b', 1, 2, 3)]
    """
    if (loss is None) == (stages is None):
        raise ValueError("give exactly one of loss (one stage) and stages")
    if stages is None:
        return [{"name": "train", "loss": list(loss), "steps": total_steps, **dict(train)}]
    fracs = [float(st.get("fraction", 0)) for st in stages]
    if not stages or any(f <= 0 for f in fracs) or abs(sum(fracs) - 1) > 1e-6:
        raise ValueError(f"stage fractions must be positive and sum to 1, got {fracs}")
    out, start = [], 0
    for k, (st, f) in enumerate(zip(stages, fracs)):
        unknown = set(st) - {"name", "loss", "fraction"}
        if unknown or "loss" not in st:
            raise ValueError(f"stage {st!r}: needs 'loss'; unknown keys {sorted(unknown)}")
        n = total_steps - start if k == len(stages) - 1 else max(1, round(f * total_steps))
        out.append({"name": st.get("name", f"stage{k + 1}"), "loss": list(st["loss"]),
                    "steps": n, **dict(train), "schedule_offset": start,
                    "schedule_total": total_steps})
        start += n
    return out


#: The deviation of a row trained under bf16 autocast (the profile's ``amp``, where it is native).
BF16_DEVIATION = ("Trained under bf16 autocast (the forward pass and the loss; weights, optimiser "
                  "and every metric in fp32); the paper trained in fp32.")


def resolve_budget(cfg: profiles.Profile, train: Mapping[str, Any] | None,
                   paper_budget: Mapping[str, Any] | None, n_train: int
                   ) -> tuple[dict[str, Any], float | None]:
    """The training settings of a row at profile ``cfg``, and its budget in epochs (None when
    the budget is a number of steps).

    The profile's ``train_steps`` and ``batch_size`` rule where the profile has them (smoke,
    quick, gpu: a profile may shorten training); the paper profile has none and takes the
    recipe's ``paper_budget``: epochs over the row's ``n_train`` training pairs (full batches,
    :func:`relight_lib.library.train.steps_per_epoch`) or steps. ``drop_fractions`` in ``train``
    becomes a ``multistep`` schedule with one drop at each fraction of the budget.

    >>> cfg = profiles.resolve("paper", data_root="VIDIT")
    >>> settings, epochs = resolve_budget(cfg, {"lr": 1e-4, "drop_fractions": [0.25]},
    ...                                   {"epochs": 200, "batch_size": 3}, 300)
    >>> settings["steps"], settings["batch_size"], epochs, settings["milestones"]
    (20000, 3, 200, [5000])

    Raises:
        ValueError: no budget at this profile (the recipe gives no ``paper_budget``), or a
            malformed one.
    """
    from relight_lib.library.train import steps_per_epoch

    settings = {"steps": cfg.train_steps, "batch_size": cfg.batch_size, "device": cfg.device,
                "amp": cfg.amp, "channels_last": cfg.channels_last, "compile": cfg.compile,
                **dict(train or {})}
    epochs = None
    if settings["steps"] is None:  # the paper profile: the paper's own budget
        budget = dict(paper_budget or {})
        unknown = set(budget) - {"epochs", "steps", "batch_size"}
        if unknown or ("epochs" in budget) == ("steps" in budget):
            raise ValueError(
                f"profile {cfg.name!r} has no step budget, and the row's paper_budget "
                f"{budget or None!r} does not give one: it needs exactly one of 'epochs' and "
                "'steps' (and may give 'batch_size')")
        settings["batch_size"] = int(budget.get("batch_size", settings["batch_size"]))
        if "epochs" in budget:
            epochs = budget["epochs"]
            settings["steps"] = int(epochs) * steps_per_epoch(n_train, settings["batch_size"])
        else:
            settings["steps"] = int(budget["steps"])
    drops = settings.pop("drop_fractions", None)
    if drops is not None:
        if any(not 0 < float(f) < 1 for f in drops):
            raise ValueError(f"drop_fractions must lie in (0, 1), got {list(drops)}")
        settings["schedule"] = "multistep"
        settings["milestones"] = [max(1, round(float(f) * settings["steps"])) for f in drops]
    return settings, epochs


def scale_budget(settings: dict[str, Any], epochs: float | None, scale: float
                 ) -> tuple[dict[str, Any], float | None, str | None]:
    """A budget check's training (``spec/evidence.md`` section 5): ``settings`` with ``scale``
    times the steps (and every step-valued milestone), the epochs scaled alike, and the
    deviation sentence saying so (None when ``scale`` is 1). Fractions of the budget (warm-up,
    snapshots, validation points) follow the new length.

    >>> s, e, dev = scale_budget({"steps": 800, "milestones": [200]}, None, 2)
    >>> s["steps"], s["milestones"]
    (1600, [400])
    >>> dev.startswith("Budget check: trained for 2 x the row's budget (800 -> 1,600 steps")
    True
    """
    if scale == 1:
        return settings, epochs, None
    if not scale > 0:
        raise ValueError(f"budget_scale must be > 0, got {scale}")
    base = int(settings["steps"])
    out = {**settings, "steps": max(1, round(base * scale))}
    if out.get("milestones"):
        out["milestones"] = [max(1, round(m * scale)) for m in out["milestones"]]
    return out, (epochs * scale if epochs is not None else None), (
        f"Budget check: trained for {scale:g} x the row's budget ({base:,} -> {out['steps']:,} "
        "steps, its schedule stretched alike) to show whether that budget suffices; not a row "
        "of the paper's table. The other sentences describe the row's own recipe: every step "
        f"count in them (budget, warm-up, snapshots) is {scale:g} x here.")


def _loss_lines(terms: Sequence[Mapping[str, Any]]) -> list[str]:
    """``'0.1 x lpips (on residual)'`` for each loss term of a spec."""
    out = []
    for t in terms:
        on = t.get("on", "output")
        extra = "" if on == "output" else f" (on {on})"
        opt = "" if t.get("required", True) else ", optional"
        kw = t.get("kwargs") or {}
        args = ", ".join(f"{k}={v}" for k, v in kw.items())
        out.append(f"{t.get('weight', 1.0):g} x {t['name']}" + (f"({args})" if args else "")
                   + extra + (f" [{opt[2:]}]" if opt else ""))
    return out


#: The ImageNet file each loss term needs, and how the suite names it in weights.py.
_TERM_WEIGHTS = {"perceptual": lambda kw: kw.get("arch", "vgg19"),
                 "lpips": lambda kw: {"alex": "alexnet", "vgg": "vgg16"}.get(
                     kw.get("net", "alex"), "alexnet")}


def _weights_notes(terms: Sequence[Mapping[str, Any]], allow_random: bool) -> list[str]:
    """What would happen here to loss terms whose backbone weights are missing (without building
    the networks: a plan must be cheap)."""
    from relight_lib.library.weights import find_weights

    notes = []
    for t in terms:
        which = _TERM_WEIGHTS.get(t["name"])
        if which is None:
            continue
        name = which(dict(t.get("kwargs") or {}))
        if find_weights(name) is not None:
            continue
        if t["name"] == "perceptual" and allow_random:
            notes.append(f"{name} ImageNet weights not found here: the perceptual loss would use "
                         "a seeded random VGG (recorded as a deviation)")
        elif not t.get("required", True):
            notes.append(f"{name} weights not found here: the {t['name']} term "
                         f"(weight {t.get('weight', 1.0)}) would be left out of the loss")
        else:
            notes.append(f"{name} weights not found here: the row would be written as not run "
                         f"({t['name']} loss unavailable)")
    return notes


def count_parameters_cheaply(model: str, model_kwargs: Mapping[str, Any] | None) -> int:
    """Trainable parameters of a registered model, built on PyTorch's ``meta`` device (no memory,
    no init, no weights looked up: MBNet's two ResNet-50 streams are counted without their
    ImageNet files)."""
    from relight_lib.library.models import build_model, count_parameters

    kwargs = dict(model_kwargs or {})
    if "pretrained" in kwargs:
        kwargs["pretrained"] = "none"
    try:
        with torch.device("meta"):
            return count_parameters(build_model(model, **kwargs))
    except (RuntimeError, NotImplementedError):  # an init that reads values (MBNet's .item())
        return count_parameters(build_model(model, **kwargs))


def plan_dict(*, cfg: profiles.Profile, label: str, model: str,
              model_kwargs: Mapping[str, Any] | None, plan: Sequence[Mapping[str, Any]],
              settings: Mapping[str, Any], epochs: float | None, n_train: int, train_size: int,
              train_pairs: str, augment: str | None, eval_set, postprocess: str | None,
              snap_steps: Sequence[int], snapshot_weights: Sequence[float] | None,
              deviations: Sequence[str], n_val: int | None = None) -> dict[str, Any]:
    """What a one-to-one row would do, without doing it (``relight reproduce --dry-run``).

    Keys (shared with :func:`relight_lib.papers.swapnet.any2any.run_any_to_any`'s plan): ``row``, ``model``,
    ``model_kwargs``, ``parameters``, ``image_size``, ``train_size``, ``batch_size``,
    ``steps``, ``epochs``, ``n_train``, ``precision``, ``optimizer``, ``lr_schedule``
    (``[step, lr]`` at the start and at every drop, or sampled for a smooth curve), ``loss``,
    ``eval`` (name, split, n, definition: what the tables read), ``validation`` (split, n: what
    the learning curves and the plateau test read), ``data`` (per seed: folder, draw, scene
    seed, scenes per split, rendered, estimated render time;
    :func:`relight_lib.papers.profiles.seed_data_plan`), ``postprocess``, ``snapshots``,
    ``deviations``, ``notes``.
    """
    from relight_lib.library.train import TrainConfig, lr_schedule_points

    total = int(settings["steps"])
    lr_points: list[list[float]] = []
    loss_lines: list[str] = []
    notes: list[str] = []
    start = 0
    for st in plan:
        stage_cfg = {k: v for k, v in st.items() if k not in ("name", "loss")}
        tcfg = TrainConfig(**{**settings, **stage_cfg})
        n = int(st["steps"])
        pts = lr_schedule_points(tcfg, n)
        lr_points += [[start + s, lr] for s, lr in pts if not lr_points or start + s > 0]
        prefix = f"{st['name']} (steps {start}-{start + n - 1}): " if len(plan) > 1 else ""
        loss_lines += [prefix + line for line in _loss_lines(st["loss"])]
        notes += [prefix + n_ for n_ in _weights_notes(st["loss"], cfg.allow_random_backbone)]
        start += n
    if "pretrained" in (model_kwargs or {}):
        from relight_lib.library.weights import find_weights

        if find_weights("resnet50") is None:
            notes.append("resnet50 ImageNet weights not found here: " + (
                "the backbone would start from a seeded random init"
                if (model_kwargs or {}).get("pretrained") == "allow_random"
                else "the row would stop (the profile requires them)"))
    betas = tuple(settings.get("betas", (0.9, 0.999)))
    return {
        "row": label, "model": model, "model_kwargs": dict(model_kwargs or {}),
        "parameters": count_parameters_cheaply(model, model_kwargs),
        "image_size": cfg.size, "train_size": train_size,
        "batch_size": int(settings["batch_size"]), "steps": total, "epochs": epochs,
        "n_train": n_train, "train_pairs": train_pairs, "augment": augment,
        "precision": "bf16" if settings.get("amp") else "fp32",
        "optimizer": f"Adam(lr={settings.get('lr', 1e-4):g}, betas={betas}, "
                     f"weight_decay={settings.get('weight_decay', 0.0):g})",
        "lr_schedule": lr_points, "loss": loss_lines,
        "eval": [{"name": cfg.eval_split, "split": cfg.eval_split, "n": len(eval_set),
                  "definition": f"Track 1 pairs (6500 K N -> 4500 K E) of the {cfg.eval_split} "
                                f"split at {cfg.size} px"
                                + (f", first {cfg.eval_limit}" if cfg.eval_limit else "")}],
        "validation": {"split": cfg.val_split, "n": len(eval_set) if n_val is None else n_val},
        "data": profiles.seed_data_plan(cfg, "track1"),
        "postprocess": postprocess,
        "snapshots": list(snap_steps) or None,
        "snapshot_weights": list(snapshot_weights) if snapshot_weights else None,
        "deviations": list(deviations), "notes": notes,
    }


def trained_plan(plan: Sequence[Mapping[str, Any]], objectives: Sequence[Objective]
                 ) -> list[dict[str, Any]]:
    """The stage plan as it decides the weights: each stage's loss is the terms actually trained
    (:attr:`Objective.trained`), so a term left out because its weights are missing here is
    not part of the recipe. LTNet's Table 6 A (L_C) then shares Table 3's ``skip`` (L_C + an
    optional 0.1 LPIPS) and C (L_C + L_r) shares LTNet* wherever the AlexNet weights of LPIPS
    are missing, and each trains on its own where they are found."""
    return [{**{k: v for k, v in st.items() if k != "loss"}, "loss": list(obj.trained)}
            for st, obj in zip(plan, objectives)]


def training_recipe(plan: OneToOnePlan, seed: int, data_cfg: profiles.Profile, net,
                    objectives: Sequence[Objective]) -> dict[str, Any]:
    """Everything that decides one seed's trained weights, which :func:`train_seed` hashes into
    the training key (with the source files, :func:`~relight_lib.library.train.training_key`):
    the model, its arguments and its pretrained weights' identity, the trained loss of each
    stage with the identity of each loss network (:func:`trained_plan`), the resolved training
    settings (budget, batch, schedule, optimiser, precision), the training size, pairs and
    augmentation, the seed and the data's identity.

    Left out, as they do not change the weights: the post-process, the evaluation, the
    validation points (validation draws no random number), which snapshots are kept on the way
    (saving one copies the weights) and the deviation sentences. Rows with equal recipes share
    one training; rows whose weights differ never do.
    """
    model_weights = getattr(net, "weights_info", None)
    return {"model": plan.model, "model_kwargs": dict(plan.model_kwargs),
            "model_weights": weights_identity(model_weights) if model_weights else None,
            "plan": trained_plan(plan.stage_plan, objectives), "settings": plan.settings,
            "train_size": plan.train_size, "train_pairs": plan.train_pairs,
            "augment": plan.augment, "seed": seed,
            "data": profiles.data_key(data_cfg, data_cfg.track1_root)}


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
    from relight_lib.library.train import save_checkpoint

    if not steps:
        return None

    def keep(step: int, loss: float) -> None:
        if offset + step in steps:
            save_checkpoint(_snapshot_path(ckpt_dir, seed, offset + step), net, step=offset + step)

    return keep


def _seed_checkpoints(ckpt_dir: Path, seed: int, stage_plan: Sequence[Mapping[str, Any]]
                      ) -> list[tuple[Path, int]]:
    """Each stage checkpoint of the seed, with the step of the whole training where its stage
    starts."""
    if len(stage_plan) == 1:
        return [(ckpt_dir / f"seed={seed}.pt", 0)]
    return [(ckpt_dir / f"seed={seed}-{st['name']}.pt", int(st.get("schedule_offset", 0)))
            for st in stage_plan]


def _check_snapshots(ckpt_dir: Path, seed: int, steps: Sequence[int],
                     stage_plan: Sequence[Mapping[str, Any]] = ({"name": "train"},),
                     log=print) -> None:
    """Make sure the seed's checkpoints can give the ensemble members at ``steps``.

    Snapshots are saved only on the way, so the seed's training (every stage) is a cache miss
    and runs afresh -- its checkpoints removed, one line saying why -- when a snapshot it needs
    cannot be loaded (truncated, foreign; the line comes from the loader) or is missing while
    the saved training has already passed its step (a training made by a row that did not
    keep it: no earlier state is left to resume from). A training that has not reached the
    step yet resumes and saves it on the way.
    """
    from relight_lib.library.train import load_cached_checkpoint

    if not steps:
        return
    ckpts = _seed_checkpoints(ckpt_dir, seed, stage_plan)
    spoilt = [p for p in (_snapshot_path(ckpt_dir, seed, st) for st in sorted(set(steps)))
              if p.exists() and load_cached_checkpoint(p, log=log) is None]
    missing = [st for st in sorted(set(steps))
               if not _snapshot_path(ckpt_dir, seed, st).exists()]
    if missing and not spoilt and any(p.exists() for p, _ in ckpts):
        done = 0
        for p, offset in ckpts:
            state = load_cached_checkpoint(p, needs=("model", "step"), log=lambda _: None)
            if state is not None:
                done = max(done, offset + int(state["step"]))
        passed = [st for st in missing if st <= done]
        if passed:
            log(f"cache miss: the training in {ckpt_dir} ({done} steps done) kept no snapshot "
                f"at step(s) {', '.join(map(str, passed))}, which this row's ensemble needs; "
                "training afresh")
            spoilt = passed
    if spoilt:
        for f in [ckpt_dir / f"seed={seed}.pt", *ckpt_dir.glob(f"seed={seed}-*.pt")]:
            f.unlink(missing_ok=True)


def _snapshot_models(final, ckpt_dir: Path, seed: int, steps: Sequence[int], device: str):
    """The ensemble members: the final model alone, or one model per saved snapshot."""
    import copy

    from relight_lib.library.train import load_checkpoint

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
                   keep_snapshots: Sequence[float] | None = None,
                   data_root: str | None = None, seeds: Sequence[int] | None = None,
                   steps: int | None = None, paper_budget: Mapping[str, Any] | None = None,
                   short_budgets: Mapping[str, Mapping[str, Any]] | None = None,
                   amp: bool | None = None, label: str | None = None,
                   deviations: Sequence[str] = (), progress: bool = False,
                   budget_scale: float = 1, dry_run: bool = False
                   ) -> pd.DataFrame | dict[str, Any]:
    """Train ``model`` for each seed of the profile, evaluate it, write the results.

    Args:
        paper, table, variant, profile, results_root, cache_key: Where the row goes (the
            runner passes these).
        model: Registered model name; ``model_kwargs`` its constructor arguments.
        loss: Loss terms (see the module docstring); or ``stages`` for several training
            stages with their own losses (:func:`plan_stages`).
        train: :class:`~relight_lib.library.train.TrainConfig` overrides (lr, betas, schedule,
            final_lr, ...); budget, batch size, seed and device come from the profile. A
            ``drop_fractions`` entry turns into a ``multistep`` schedule dropping the rate
            (by ``gamma``) once at each of those fractions of the budget (MBNet: ``[0.25]``,
            lr / 10 once, after 50 of 200 epochs).
        train_scale: Train at ``round(size * train_scale)`` px, evaluate at the profile's size.
        train_pairs: ``'track1'`` or ``'mbnet_extra'`` (:func:`training_pairs`).
        augment: ``'flip_rotate'`` (LTNet) or None.
        postprocess: A name of :data:`relight_lib.papers.ltnet.dehaze.POSTPROCESSES` (``'dehaze'``: the
            LTNet authors' constants, the paper's airlight, windows scaled with the image;
            ``'dehaze_1024px'``, ``'dehaze_released_airlight'``, ``'dehaze_he'``: one change
            each; ``'dehaze_code'``: the released code's arithmetic, see that module) or None,
            applied to the predictions before evaluation.
        snapshots: Snapshot ensemble (LTNet §3.4, papers.md 3.8): fractions of the budget in
            (0, 1] at whose steps the weights are kept; the evaluated prediction is the mean of
            the snapshots' (post-processed) outputs. None: the final weights only.
        snapshot_weights: One weight per snapshot (the official code counts one twice); None:
            a plain mean, as the paper says.
        keep_snapshots: Fractions of the budget whose weights the training keeps on the way
            whether or not this row's ensemble uses them (LTNet: the ensemble's, for every
            row), so that a snapshot-ensemble row and the single-model rows of the same recipe
            share one training, whichever runs first. They are not part of the training key.
        data_root: Real VIDIT folder (None: the profile's SynVIDIT set).
        seeds, steps: Override the profile's seeds and training steps.
        paper_budget: The paper's own budget, used where the profile has none (``paper``):
            ``{"epochs": E, "batch_size": B}`` (E epochs over the row's training pairs) or
            ``{"steps": N, "batch_size": B}``.
        short_budgets: The paper's own recipe per short profile (``{profile: {steps, lr,
            ...}}``, see :func:`relight_lib.papers.profiles.short_budget`): it replaces the
            profile's budget and the paper's schedule there, as a listed deviation.
        amp: Override the profile's bf16 autocast (the paper profile trains in fp32, as the
            papers did; ``amp=True`` is the bf16 option).
        label: Human label of the row for the tables.
        deviations: Known deviations from the paper for this row (go to run.json and the page).
        progress: Progress bars (off in papermill runs: they would clutter the book).
        budget_scale: Train for this many times the resolved budget (:func:`scale_budget`; a
            budget check row ``<variant>__x2`` of ``notebooks/budget_checks.yaml``).
        dry_run: Resolve the row and return its plan (:func:`plan_dict`) without training or
            writing anything.

    When a ``postprocess`` is set, the post-processed metrics go under the usual names and the
    bare network's (or bare ensemble's) under ``<metric>_no_postprocess``: LTNet's ablation
    tables are dehazed in the paper, and the undehazed numbers cost one more evaluation pass.
    The run-time column times the whole prediction path (ensemble members, post-process).

    Returns:
        The per-seed summary: one row per (seed, metric) with mean, sd and n_images; with
        ``dry_run`` the plan dict.
    """
    plan = resolve_one_to_one(
        variant=variant, profile=profile, model=model, model_kwargs=model_kwargs,
        loss=loss, stages=stages, train=train, train_scale=train_scale,
        train_pairs=train_pairs, augment=augment, postprocess=postprocess,
        snapshots=snapshots, snapshot_weights=snapshot_weights, keep_snapshots=keep_snapshots,
        data_root=data_root,
        seeds=seeds, steps=steps, paper_budget=paper_budget, short_budgets=short_budgets,
        amp=amp, label=label, deviations=deviations, budget_scale=budget_scale,
        plan_only=dry_run)
    if dry_run:
        return plan.to_dict()
    from relight_lib.library import record  # writing only: not part of the training key
    from relight_lib.papers import onetoone_eval as scoring  # likewise (EVAL_FILES)

    post = _postprocess(postprocess)
    params = plan.run_params()
    summaries = []
    data = None
    for seed in plan.cfg.seeds:
        # a seed finished by an earlier run of the row (even on another machine, whose
        # checkpoints are gone) is read back, not trained again
        done = record.kept_seed(results_root, profile=plan.cfg.name, paper=paper,
                                runs=[(table, variant)], seed=seed, cache_key=cache_key)
        if done is not None:
            summaries.append(done)
            continue
        data = load_seed_data(plan, seed, data, progress)
        trained = train_seed(plan, seed, data, progress)
        evaluated = scoring.evaluate_seed(plan, trained, post, progress)
        summaries.append(scoring.record_seed(plan, trained, evaluated, post, paper=paper,
                                             table=table,
                                     variant=variant, results_root=results_root,
                                     cache_key=cache_key, params=params))
    return pd.concat(summaries, ignore_index=True)


@dataclass
class OneToOnePlan:
    """A one-to-one row resolved before anything trains (:func:`resolve_one_to_one`): what
    ``dry_run`` returns (:meth:`to_dict`) and what the run executes, seed by seed.

    ``train_set``, ``val_set`` and ``eval_set`` are the first seed's sets (a plan of a preset
    not rendered yet holds ``range`` placeholders of the right lengths); ``stage_plan`` is
    :func:`plan_stages`' list; ``settings`` the resolved :class:`TrainConfig` fields (``amp``
    after the native-bf16 check, ``amp_requested`` before it).
    """

    cfg: profiles.Profile
    label: str
    model: str
    model_kwargs: dict[str, Any]
    loss: Sequence[Mapping[str, Any]] | None
    stages: Sequence[Mapping[str, Any]] | None
    paper_budget: Mapping[str, Any] | None
    train_size: int
    train_pairs: str
    augment: str | None
    postprocess: str | None
    snapshots: Sequence[float] | None
    snapshot_weights: Sequence[float] | None
    snap_steps: list[int]
    kept_steps: list[int]  # the snapshots the training saves: the ensemble's and keep_snapshots'
    settings: dict[str, Any]
    epochs: float | None
    amp_requested: bool
    stage_plan: list[dict[str, Any]]
    deviations: list[str]
    train_set: Any
    val_set: Any
    eval_set: Any
    device: Any  # where the row trains (utils.pick_device of the profile's device)

    @property
    def val_every(self) -> int:
        """Steps between validation points (the profile's ``val_points`` over the budget); 0:
        no validation."""
        if not self.cfg.val_points:
            return 0
        return max(1, round(int(self.settings["steps"]) / self.cfg.val_points))

    def to_dict(self) -> dict[str, Any]:
        """The plan (:func:`plan_dict`): what ``relight reproduce --dry-run`` prints."""
        return plan_dict(
            cfg=self.cfg, label=self.label, model=self.model, model_kwargs=self.model_kwargs,
            plan=self.stage_plan, settings=self.settings, epochs=self.epochs,
            n_train=len(self.train_set), train_size=self.train_size,
            train_pairs=self.train_pairs, augment=self.augment, eval_set=self.eval_set,
            postprocess=self.postprocess, snap_steps=self.snap_steps,
            snapshot_weights=self.snapshot_weights, deviations=self.deviations,
            n_val=len(self.val_set))

    def run_params(self) -> dict[str, Any]:
        """The row's ``params`` in run.json."""
        snapshots, weights = self.snapshots, self.snapshot_weights
        return {**self.cfg.to_dict(), "model": self.model,
                "model_kwargs": dict(self.model_kwargs),
                "loss": [dict(t) for t in self.loss] if self.loss is not None else None,
                "stages": [dict(st) for st in self.stages] if self.stages is not None else None,
                "train": self.settings, "epochs": self.epochs,
                "paper_budget": dict(self.paper_budget or {}) or None,
                "train_size": self.train_size, "train_pairs": self.train_pairs,
                "n_train_pairs": len(self.train_set), "augment": self.augment,
                "postprocess": self.postprocess,
                "snapshots": list(snapshots) if snapshots is not None else None,
                "snapshot_steps": self.snap_steps or None,
                "snapshot_weights": list(weights) if weights else None}


def resolve_one_to_one(*, variant: str, profile: str, model: str,
                       model_kwargs: Mapping[str, Any] | None = None,
                       loss: Sequence[Mapping[str, Any]] | None = None,
                       stages: Sequence[Mapping[str, Any]] | None = None,
                       train: Mapping[str, Any] | None = None, train_scale: float = 1.0,
                       train_pairs: str = "track1", augment: str | None = None,
                       postprocess: str | None = None,
                       snapshots: Sequence[float] | None = None,
                       snapshot_weights: Sequence[float] | None = None,
                       keep_snapshots: Sequence[float] | None = None,
                       data_root: str | None = None, seeds: Sequence[int] | None = None,
                       steps: int | None = None,
                       paper_budget: Mapping[str, Any] | None = None,
                       short_budgets: Mapping[str, Mapping[str, Any]] | None = None,
                       amp: bool | None = None, label: str | None = None,
                       deviations: Sequence[str] = (), budget_scale: float = 1,
                       plan_only: bool = False) -> OneToOnePlan:
    """Resolve a row (the arguments of :func:`run_one_to_one`): profile and its short budget,
    training size, data sets of the first seed, budget and its scale, precision, snapshot steps,
    stages, deviations. ``plan_only``: a SynVIDIT preset not rendered yet is planned from its
    split sizes (nothing is rendered or read)."""
    cfg = profiles.resolve(profile, data_root=data_root, seeds=seeds, train_steps=steps, amp=amp)
    short = profiles.short_budget(cfg.name, short_budgets)
    if short is not None:
        # the paper's own recipe at this short profile: budget, batch and schedule
        n_seeds = short.pop("seeds", None)
        if n_seeds and seeds is None:
            cfg = dataclasses.replace(cfg, seeds=cfg.seeds[:n_seeds])
        if steps is not None:
            short["steps"] = steps
        short_deviation = profiles.short_budget_deviation(cfg.name, short)
        cfg = dataclasses.replace(cfg, train_steps=short.pop("steps"),
                                  batch_size=short.pop("batch_size"))
        profile_scale = short.pop("train_scale", None)
        if profile_scale is not None and profile_scale != train_scale:
            deviations = [*deviations, profiles.train_scale_deviation(
                cfg.name, model, train_scale, profile_scale)]
            train_scale = profile_scale
        if "augment" in short and short["augment"] != augment:
            deviations = [*deviations, profiles.augment_deviation(
                cfg.name, model, augment, short["augment"])]
        augment = short.pop("augment", augment)
        train = {k: v for k, v in dict(train or {}).items()
                 if k not in ("schedule", "final_lr", "drop_fractions", "step_size", "gamma",
                              "milestones")}
        train.update(short)
        deviations = [*deviations, short_deviation]
    if not 0 < train_scale <= 1:
        raise ValueError(f"train_scale must be in (0, 1], got {train_scale}")
    data_deviation = profiles.data_deviation(cfg)
    deviations = [*deviations, data_deviation] if data_deviation else list(deviations)
    train_size = max(8, round(cfg.size * train_scale))
    # every seed's data has the same sizes (per-seed sets differ in their scenes only): the
    # budget and the plan are resolved on the first seed's
    first = profiles.for_seed(cfg, cfg.seeds[0])
    counts = profiles.preset_split_counts(first, first.track1_root)
    if plan_only and counts is not None and not Path(first.track1_root).exists():
        # a plan needs only the sizes, which the preset fixes: no need to render it first
        pairs_per_scene = 3 if train_pairs == "mbnet_extra" else 1
        train_set = range(counts["train"] * pairs_per_scene)
        eval_set = range(_limited(counts[cfg.eval_split], cfg.eval_limit))
        val_set = range(_limited(counts[cfg.val_split], cfg.eval_limit))
    else:
        train_set, val_set, eval_set = track1_sets(first, train_size, train_pairs)
    settings, epochs = resolve_budget(cfg, train, paper_budget, len(train_set))
    settings, epochs, scaled = scale_budget(settings, epochs, budget_scale)
    if scaled:
        deviations = [*deviations, scaled]
    # bf16 where it runs natively only (utils.bf16_native): the key and run.json say which
    where = utils.pick_device(cfg.device)
    amp_requested = bool(settings.get("amp"))
    settings["amp"] = amp_requested and utils.bf16_native(where)
    if settings["amp"]:
        deviations = [*deviations, BF16_DEVIATION]
    snap_steps = snapshot_steps(int(settings["steps"]), snapshots)
    kept_steps = sorted(set(snap_steps) | set(snapshot_steps(int(settings["steps"]),
                                                             keep_snapshots)))
    plan = plan_stages(int(settings["steps"]), loss, stages, {
        k: settings[k] for k in ("lr", "final_lr", "schedule", "warmup", "warmup_start",
                                 "milestones", "step_size", "gamma") if k in settings})
    return OneToOnePlan(
        cfg=cfg, label=label or variant, model=model, model_kwargs=dict(model_kwargs or {}),
        loss=loss, stages=stages, paper_budget=paper_budget, train_size=train_size,
        train_pairs=train_pairs, augment=augment, postprocess=postprocess, snapshots=snapshots,
        snapshot_weights=snapshot_weights, snap_steps=snap_steps, kept_steps=kept_steps,
        settings=settings,
        epochs=epochs, amp_requested=amp_requested, stage_plan=plan, deviations=deviations,
        train_set=train_set, val_set=val_set, eval_set=eval_set, device=where)


@dataclass
class SeedData:
    """One seed's data, decoded once for every stage (in memory on the training device when it
    fits): its profile (:func:`relight_lib.papers.profiles.for_seed`), the sets, where the
    training set lives (``training_data`` in run.json) and the manifest's sha256."""

    cfg: profiles.Profile
    train_set: Any
    val_set: Any
    eval_set: Any
    data_path: Any
    manifest_sha: str | None


def load_seed_data(plan: OneToOnePlan, seed: int, previous: SeedData | None = None,
                   progress: bool = False) -> SeedData:
    """The data of ``seed``: the plan's sets for the first seed; at a profile that draws its
    scenes per seed, each seed's own (``previous`` is reused while the folder is the same)."""
    from relight_lib.library.data.memory import to_memory

    scfg = profiles.for_seed(plan.cfg, seed)
    if previous is not None and scfg.track1_root == previous.cfg.track1_root:
        return dataclasses.replace(previous, cfg=scfg)  # fixed: loaded once
    if previous is None:
        train_set, val_set, eval_set = plan.train_set, plan.val_set, plan.eval_set
    else:  # drawn per seed: this seed's scenes
        train_set, val_set, eval_set = track1_sets(scfg, plan.train_size, plan.train_pairs)
    where, limit = plan.device, int(plan.cfg.in_memory_gb * 2**30)
    train_set, data_path = to_memory(train_set, where, limit, progress=progress)
    same = val_set is eval_set
    eval_set, _ = to_memory(eval_set, where, limit, progress=progress)
    val_set = eval_set if same else to_memory(val_set, where, limit, progress=progress)[0]
    return SeedData(scfg, train_set, val_set, eval_set, data_path,
                    profiles.data_manifest_sha256(scfg))


@dataclass
class TrainedSeed:
    """One seed of a row after training (or not: ``reason`` says why it cannot run here)."""

    seed: int
    data: SeedData
    t0: float  # when the seed started (run.json's wall time)
    net: torch.nn.Module  # the trained model (in eval mode), or the untrained one when not run
    deviations: list[str]
    weights: dict[str, Any]
    history: list[dict] = field(default_factory=list)
    key: str | None = None
    training_files: dict[str, str] = field(default_factory=dict)
    ckpt_dir: Path | None = None
    device: Any = None
    train_s: float = 0.0  # training time (its validation points included)
    steps_trained: int = 0  # optimiser steps run here (0: a finished training was reused)
    reason: str | None = None


def train_seed(plan: OneToOnePlan, seed: int, data: SeedData,
               progress: bool = False) -> TrainedSeed:
    """Train the row's model for ``seed``, stage by stage (resuming, or reusing the finished
    checkpoint of the same training key under :data:`CHECKPOINT_DIR`); a loss whose weights
    are required and missing leaves the seed not run (``reason``)."""
    from relight_lib.library.models import build_model

    cfg, settings, snap_steps = plan.cfg, plan.settings, plan.snap_steps
    t0 = time.perf_counter()
    utils.seed_everything(seed)
    net = build_model(plan.model, **plan.model_kwargs)
    out = TrainedSeed(seed=seed, data=data, t0=t0, net=net, deviations=list(plan.deviations),
                      weights={})
    try:
        objectives = [build_objective(st["loss"], cfg.allow_random_backbone)
                      for st in plan.stage_plan]
    except NotRunnable as e:
        out.reason = f"not run here: {e}"
        return out
    model_weights = getattr(net, "weights_info", None)
    if model_weights:
        out.weights["model"] = model_weights
    # one key for every stage of this seed's training (it hashes the library files): rows of
    # the same recipe share it, whatever they evaluate or keep on the way
    out.key, out.training_files = training_key(
        **training_recipe(plan, seed, data.cfg, net, objectives), unkeyed=EVAL_FILES)
    ckpt_dir = out.ckpt_dir = CHECKPOINT_DIR / cfg.name / out.key
    _check_snapshots(ckpt_dir, seed, snap_steps, plan.stage_plan)
    val_every = plan.val_every
    for st, objective in zip(plan.stage_plan, objectives):
        prefix = f"{st['name']}: " if len(plan.stage_plan) > 1 else ""
        out.deviations += [prefix + d for d in objective.dropped]
        out.weights.update(objective.weights)
        stage_cfg = {k: v for k, v in st.items() if k not in ("name", "loss")}
        tcfg = TrainConfig(**{**settings, **stage_cfg, "seed": seed, "val_every": val_every})
        ckpt = ckpt_dir / (f"seed={seed}.pt" if len(plan.stage_plan) == 1
                           else f"seed={seed}-{st['name']}.pt")
        offset = len(out.history)
        keep = _snapshot_saver(net, ckpt_dir, seed, offset, plan.kept_steps)
        fitted = fit(net, objective, data.train_set, data.val_set if val_every else None, tcfg,
                     checkpoint=ckpt, resume=True, augment=_augment(plan.augment),
                     progress=progress, on_step=keep,
                     model_spec={"name": plan.model, "kwargs": dict(plan.model_kwargs)},
                     progress_info={"stage": st["name"]})  # the runner's progress line
        out.train_s += fitted.wall_time_s
        out.steps_trained += fitted.steps - fitted.resumed_from
        out.history += [{**h, "step": h["step"] + offset, "stage": st["name"]}
                        for h in fitted.history]
        net = fitted.model.train()
    out.net = fitted.model.eval()
    out.device = fitted.device
    return out


#: Fitted parameters of each floor baseline (for plans and tables).
_BASELINE_PARAMETERS = {"identity": 0, "colour_lstsq": 12}


def run_baseline(*, paper: str, table: str, variant: str, profile: str, method: str,
                 results_root: str = "results", cache_key: str = "",
                 data_root: str | None = None, seeds: Sequence[int] | None = None,
                 dry_run: bool = False) -> pd.DataFrame | dict[str, Any]:
    """Fit a floor baseline (:mod:`relight_lib.library.baselines`) on the Track 1 training pairs of the
    profile, evaluate it and write the row, for every seed (the baselines are deterministic; the
    seeds only repeat the row so that it lines up with the trained ones).

    Returns:
        The summary of the first seed (metric, mean, sd, n); with ``dry_run`` the row's plan
        (the keys of :func:`plan_dict`; nothing is fitted or written).
    """
    from relight_lib.library import baselines, record
    from relight_lib.papers.onetoone_eval import example_figure

    if method not in baselines.BASELINES:
        raise ValueError(f"method {method!r} is not one of {sorted(baselines.BASELINES)}")
    cfg = profiles.resolve(profile, data_root=data_root, seeds=seeds)
    seed0 = profiles.for_seed(cfg, cfg.seeds[0])  # every seed's data has the same sizes
    counts = profiles.preset_split_counts(seed0, seed0.track1_root)
    if dry_run and counts is not None and not Path(seed0.track1_root).exists():
        n_train = counts["train"]  # the preset fixes them
        n_eval = _limited(counts[cfg.eval_split], cfg.eval_limit)
    else:
        train_set, _, eval_set = track1_sets(seed0, cfg.size)
        n_train, n_eval = len(train_set), len(eval_set)
    deviations = [d for d in [profiles.data_deviation(cfg, trained=False)] if d]
    if dry_run:
        fit = ("nothing to fit" if method == "identity"
               else "closed-form least squares over every training pixel")
        return {
            "row": variant, "model": method, "model_kwargs": {},
            "parameters": _BASELINE_PARAMETERS.get(method, 0), "image_size": cfg.size,
            "train_size": cfg.size, "batch_size": None, "steps": 0, "epochs": None,
            "n_train": n_train, "train_pairs": "track1", "augment": None,
            "precision": "fp64 fit" if method != "identity" else "-", "optimizer": fit,
            "lr_schedule": [], "loss": ["squared error (least squares)"]
            if method != "identity" else [],
            "eval": [{"name": cfg.eval_split, "split": cfg.eval_split, "n": n_eval,
                      "definition": f"Track 1 pairs (6500 K N -> 4500 K E) of the "
                                    f"{cfg.eval_split} split at {cfg.size} px"}],
            "validation": None, "data": profiles.seed_data_plan(cfg, "track1"),
            "postprocess": None, "snapshots": None, "snapshot_weights": None,
            "deviations": deviations, "notes": []}
    first = None
    for seed in cfg.seeds:
        scfg = profiles.for_seed(cfg, seed)
        if scfg.track1_root != seed0.track1_root:  # drawn per seed: this seed's own data
            train_set, _, eval_set = track1_sets(scfg, cfg.size)
        utils.seed_everything(seed)
        t0 = time.perf_counter()
        model = baselines.build_baseline(method).fit(train_set[i] for i in range(len(train_set)))
        res = metrics.evaluate(model.predict, eval_set, metrics=EVAL_METRICS, progress=False)
        out = record.write_run(
            results_root, paper=paper, table=table, variant=variant, profile=cfg.name,
            seed=seed, dataset="SynVIDIT" if cfg.render_preset else "VIDIT",
            split=cfg.eval_split, per_image=res.rows, notes=res.notes,
            params={**cfg.to_dict(), "method": method}, deviations=deviations,
            extra={"model_state": model.state(),
                   "data": _data_record(scfg, scfg.track1_root, len(eval_set))},
            wall_time_s=time.perf_counter() - t0, peak_memory_mb=utils.peak_memory_mb(),
            cache_key=cache_key, data_manifest_sha256=profiles.data_manifest_sha256(scfg))
        if seed == cfg.seeds[0]:  # the one a page shows
            example_figure(out, eval_set, model.predict, method)
        first = res if first is None else first
    return first.summary()
