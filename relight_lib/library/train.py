"""Training, evaluation and inference engine shared by every paper notebook.

``fit`` trains any registered model (:mod:`relight_lib.library.models`) with any loss, for a budget in
steps or epochs, with Adam and a step / exponential / cosine schedule, periodic validation, a
history for plots, a progress bar, atomic checkpoints and exact resume. A training that is not
one model on one loss (several networks and optimisers, a GAN's discriminator updated after the
generator) gives fit a :class:`TrainStep` instead of the loss and keeps everything else.

Determinism. The order of the training data is a function of ``(seed, epoch)`` only, and any
random augmentation gets a generator seeded with ``(seed, step)``; the global torch RNG (dropout
and the like) is saved in every checkpoint. So on a CPU a run interrupted and resumed ends with
exactly the same weights as an uninterrupted one (tested). On a GPU, some CUDA kernels stay
non-deterministic even with ``torch.use_deterministic_algorithms``: notably the backward pass of
bilinear upsampling (``upsample_bilinear2d_backward``) and atomics-based scatter/index ops; runs
on a GPU are therefore reproducible only up to float noise, and ``deterministic=True`` on a GPU
uses ``warn_only`` so such ops warn instead of failing.

Several GPUs: ``torchrun --nproc-per-node N -m relight_lib.library.train --config run.json`` runs the
same loop under DistributedDataParallel; each rank takes its share of the same global batch, so
the weights match a single-process run up to float tolerance (tested on CPU with gloo).
:func:`launch_distributed` starts that from a notebook and reads the result back.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import random
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from relight_lib.library.models import build_model, pad_to_multiple
from relight_lib.library.utils import bf16_native, peak_memory_mb, pick_device, seed_everything

CHECKPOINT_FORMAT = "relight-checkpoint-1"
#: ``torch.utils.deterministic.fill_uninitialized_memory`` under ``deterministic=True``.
FILL_UNINITIALIZED = False
SCHEDULES = ("constant", "step", "multistep", "exponential", "cosine", "warmup_cosine")

LossFn = Callable[[torch.Tensor, Mapping[str, Any]], torch.Tensor]
Augment = Callable[[dict[str, Any], torch.Generator], dict[str, Any]]


class StepContext:
    """What a :class:`TrainStep` gets at every step of :func:`fit`: the step (0-based), the
    device, the optimisers by name, bf16 autocast as the run asks it, and :meth:`update`."""

    def __init__(self, step: int, device: torch.device, amp: bool,
                 optimizers: Mapping[str, torch.optim.Optimizer], cfg: TrainConfig) -> None:
        self.step, self.device, self.amp = step, device, amp
        self.optimizers, self.cfg = optimizers, cfg

    def autocast(self):
        """bf16 autocast where the run trains under it (``amp`` and native bf16), else a no-op."""
        return torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.amp)

    def update(self, loss: torch.Tensor, name: str | None = None) -> None:
        """One optimiser step on ``loss``: zero the optimiser's gradients, backward, clip its
        parameters' gradient norm (``grad_clip``), step. ``name``: which optimiser (None: the
        only one)."""
        if name is None:
            if len(self.optimizers) != 1:
                raise ValueError(f"update: name one of the optimisers {sorted(self.optimizers)}")
            name = next(iter(self.optimizers))
        opt = self.optimizers[name]
        opt.zero_grad(set_to_none=True)
        loss.backward()
        if self.cfg.grad_clip is not None:
            params = [p for g in opt.param_groups for p in g["params"]]
            torch.nn.utils.clip_grad_norm_(params, self.cfg.grad_clip)
        opt.step()


class TrainStep:
    """A training step that a plain ``loss_fn(pred, batch)`` does not describe -- several
    networks held in one module (an ``nn.ModuleDict``), several optimisers, a forward pass other
    than ``model(batch)``, a discriminator updated after the generator -- for :func:`fit`, which
    keeps everything else: the data order and in-memory batches, the schedule (every optimiser
    follows it), autocast, validation cadence, checkpoints with exact resume, progress.

    Subclasses define :meth:`__call__`; :meth:`parameter_sets` and :meth:`validate` have
    defaults (one Adam over every trainable parameter; fit's own metrics on ``predict``).
    """

    def parameter_sets(self, model: nn.Module) -> dict[str, list[nn.Parameter]]:
        """The parameters of each optimiser, by name (each gets its own Adam with the config's
        ``lr``, ``betas`` and ``weight_decay``; the first one's rate goes into the history)."""
        return {"model": [p for p in model.parameters() if p.requires_grad]}

    def __call__(self, model: nn.Module, batch: dict[str, Any], ctx: StepContext
                 ) -> Mapping[str, float | torch.Tensor]:
        """Forward, backward and every optimiser's update of one step (:meth:`StepContext.
        update`); returns the history row's values: ``loss`` (required; a non-finite one stops
        the training) and any named parts (scalars)."""
        raise NotImplementedError

    def validate(self, model: nn.Module, val_data, device: torch.device
                 ) -> dict[str, float] | None:
        """The validation row (``{"val_psnr": ...}``) of ``model`` (in eval mode; put back in
        training mode by fit), or None: fit's own ``val_metrics`` on :func:`predict`."""
        return None


class _Optimisers:
    """Optimisers (or schedulers) by name as one object for checkpoints: a single one keeps
    the plain ``state_dict`` (checkpoints of a plain fit read as before)."""

    def __init__(self, items: Mapping[str, Any]) -> None:
        self.items = dict(items)

    def state_dict(self) -> dict[str, Any]:
        if len(self.items) == 1:
            return next(iter(self.items.values())).state_dict()
        return {"by_name": {k: v.state_dict() for k, v in self.items.items()}}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        if len(self.items) == 1:
            next(iter(self.items.values())).load_state_dict(state)
            return
        by_name = state.get("by_name", {})
        if set(by_name) != set(self.items):
            raise ValueError(f"the checkpoint's optimisers are {sorted(by_name)}, not "
                             f"{sorted(self.items)}")
        for k, v in self.items.items():
            v.load_state_dict(by_name[k])


@dataclass
class TrainConfig:
    """Optimisation settings. Paper defaults live in each paper's notebook, not here.

    Attributes:
        steps: Budget in optimiser steps (takes precedence over ``epochs``).
        epochs: Budget in epochs (an epoch is ``len(train) // batch_size`` steps).
        batch_size: Global batch size (split across processes under DDP).
        lr: Initial learning rate.
        betas: Adam betas (MBNet uses (0.5, 0.999), the others PyTorch's (0.9, 0.999)).
        weight_decay: Adam weight decay.
        schedule: ``constant`` | ``step`` (multiply by ``gamma`` every ``step_size`` steps) |
            ``multistep`` (multiply by ``gamma`` once at each step of ``milestones``; MBNet's
            single drop after a quarter of the budget is ``milestones=[total // 4]``) |
            ``exponential`` (smooth decay from ``lr`` to ``final_lr`` over the budget) |
            ``cosine`` (from ``lr`` to ``final_lr``) | ``warmup_cosine`` (linear from
            ``lr * warmup_start`` up to ``lr`` over the first ``warmup`` fraction of the budget,
            then cosine down to ``final_lr``: the short profiles' schedule, a listed deviation).
        warmup: Fraction of the budget spent warming up (``warmup_cosine``).
        warmup_start: Where the warm-up starts, as a fraction of ``lr``.
        schedule_offset: The run is steps ``[offset, offset + steps)`` of a curve over
            ``schedule_total`` steps: how the stages of a multi-stage training (MSR-Net) follow
            one run's learning-rate curve.
        schedule_total: Length of that curve (None: this run's own budget).
        step_size: Steps between decays for ``step``.
        milestones: Steps (0-based scheduler counts) at which ``multistep`` multiplies by
            ``gamma``.
        gamma: Decay factor for ``step``.
        final_lr: Last learning rate for ``exponential`` and ``cosine``.
        val_every: Validate every so many steps (0: only at the end).
        ckpt_every: Checkpoint every so many steps (0: only at the end and on interrupt).
        seed: Seed of weights init (done by the caller), data order and augmentation.
        device: ``auto`` | ``cpu`` | ``cuda``.
        amp: bf16 autocast, where it runs natively (:func:`~relight_lib.library.utils.bf16_native`:
            CUDA, or a CPU with AVX-512 BF16/AMX); ignored elsewhere, where it would be slower.
            The forward pass and the loss run under autocast; weights, optimiser and metrics
            stay fp32.
        channels_last: channels_last memory format (faster convolutions on CUDA and on oneDNN
            CPUs; the same numbers up to summation order).
        compile: ``torch.compile`` the model.
        num_workers: DataLoader workers (0: load in the main process).
        grad_clip: Clip the gradient norm to this value (None: no clipping).
        deterministic: ``torch.use_deterministic_algorithms`` (warn-only on CUDA).
    """

    steps: int | None = None
    epochs: int | None = None
    batch_size: int = 4
    lr: float = 1e-4
    betas: tuple[float, float] = (0.9, 0.999)
    weight_decay: float = 0.0
    schedule: str = "constant"
    step_size: int | None = None
    milestones: tuple[int, ...] | None = None
    warmup: float = 0.05
    warmup_start: float = 0.01
    schedule_offset: int = 0
    schedule_total: int | None = None
    gamma: float = 0.1
    final_lr: float | None = None
    val_every: int = 0
    ckpt_every: int = 0
    seed: int = 0
    device: str = "auto"
    amp: bool = False
    channels_last: bool = False
    compile: bool = False
    num_workers: int = 0
    grad_clip: float | None = None
    deterministic: bool = True

    def __post_init__(self) -> None:
        self.betas = tuple(self.betas)
        if self.schedule not in SCHEDULES:
            raise ValueError(f"schedule {self.schedule!r} is not one of {SCHEDULES}")
        if self.schedule == "step" and not self.step_size:
            raise ValueError("schedule 'step' needs step_size")
        if self.milestones is not None:
            self.milestones = tuple(int(m) for m in self.milestones)
        if self.schedule == "multistep" and not self.milestones:
            raise ValueError("schedule 'multistep' needs milestones")
        if self.schedule in ("exponential", "cosine", "warmup_cosine") and self.final_lr is None:
            raise ValueError(f"schedule {self.schedule!r} needs final_lr")
        if self.batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {self.batch_size}")
        if self.steps is None and self.epochs is None:
            raise ValueError("give a budget: steps or epochs")
        for name in ("steps", "epochs"):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int)
                                      or value < 1):
                raise ValueError(f"{name} must be a positive whole number, got {value!r}")

    def total_steps(self, n_train: int) -> int:
        if self.steps is not None:
            return int(self.steps)
        return int(self.epochs) * steps_per_epoch(n_train, self.batch_size)


def steps_per_epoch(n: int, batch_size: int) -> int:
    """Full batches per epoch (the last partial batch is dropped); at least 1."""
    return max(1, n // batch_size)


def epoch_order(n: int, seed: int, epoch: int) -> torch.Tensor:
    """The permutation of ``n`` items used in ``epoch``: a function of (seed, epoch) only."""
    g = torch.Generator().manual_seed(int(seed) * 1_000_003 + int(epoch))
    return torch.randperm(n, generator=g)


def batch_indices(n: int, batch_size: int, seed: int, step: int) -> list[int]:
    """Dataset indices of the global batch at ``step``."""
    spe = steps_per_epoch(n, batch_size)
    epoch, i = divmod(step, spe)
    order = epoch_order(n, seed, epoch)
    return order[i * batch_size:(i + 1) * batch_size].tolist()


def collate(items: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Stack tensors of equal shape; keep everything else as a list."""
    out: dict[str, Any] = {}
    for k in items[0]:
        vals = [it[k] for it in items]
        if isinstance(vals[0], torch.Tensor) and all(v.shape == vals[0].shape for v in vals):
            out[k] = torch.stack(vals)
        elif isinstance(vals[0], (int, float)) and not isinstance(vals[0], bool):
            out[k] = torch.tensor(vals)
        else:
            out[k] = vals
    return out


def to_device(batch: Mapping[str, Any], device: torch.device, channels_last: bool = False
              ) -> dict[str, Any]:
    out = {}
    for k, v in batch.items():
        if isinstance(v, torch.Tensor):
            v = v.to(device, non_blocking=True)
            if channels_last and v.dim() == 4:
                v = v.contiguous(memory_format=torch.channels_last)
        out[k] = v
    return out


def make_optimizer(model: nn.Module, cfg: TrainConfig) -> torch.optim.Optimizer:
    return torch.optim.Adam((p for p in model.parameters() if p.requires_grad), lr=cfg.lr,
                            betas=cfg.betas, weight_decay=cfg.weight_decay)


def make_scheduler(opt: torch.optim.Optimizer, cfg: TrainConfig, total: int
                   ) -> torch.optim.lr_scheduler.LRScheduler:
    """A per-step schedule (``scheduler.step()`` after every optimiser step) following
    :func:`lr_at`, the one definition of every schedule (plans print the same numbers)."""
    base = float(cfg.lr)
    return torch.optim.lr_scheduler.LambdaLR(opt, lambda s: lr_at(cfg, total, s) / base)


def lr_at(cfg: TrainConfig, total: int, step: int) -> float:
    """The learning rate of (0-based) optimiser step ``step`` of a ``total``-step run, in closed
    form (no scheduler stepped through a paper-size budget of hundreds of thousands of steps).
    With ``schedule_offset`` / ``schedule_total`` the run is a slice of a longer curve.
    """
    import math

    step = step + cfg.schedule_offset
    total = cfg.schedule_total or total
    if cfg.schedule == "constant":
        return float(cfg.lr)
    if cfg.schedule == "step":
        return float(cfg.lr * cfg.gamma ** (step // cfg.step_size))
    if cfg.schedule == "multistep":
        return float(cfg.lr * cfg.gamma ** sum(1 for m in cfg.milestones if m <= step))
    span = max(1, total - 1)
    if cfg.schedule == "exponential":
        return float(cfg.lr * (cfg.final_lr / cfg.lr) ** (step / span))
    start = 0
    if cfg.schedule == "warmup_cosine":
        start = round(cfg.warmup * total)
        if step < start:
            frac = step / max(1, start)
            return float(cfg.lr * (cfg.warmup_start + (1 - cfg.warmup_start) * frac))
    t = min(step - start, max(1, span - start))
    return float(cfg.final_lr + (cfg.lr - cfg.final_lr)
                 * (1 + math.cos(math.pi * t / max(1, span - start))) / 2)


def lr_schedule_points(cfg: TrainConfig, total: int, samples: int = 5) -> list[tuple[int, float]]:
    """The learning-rate schedule of a ``total``-step run as ``(step, lr)`` pairs, for plans.

    Piecewise-constant schedules (constant, step, multistep) give their first step and every
    step at which the rate drops, so the number of distinct rates is visible; smooth ones
    (exponential, cosine) give ``samples`` evenly spaced steps, the first and the last included.

    >>> cfg = TrainConfig(steps=200, lr=1e-4, schedule="multistep", milestones=[50])
    >>> lr_schedule_points(cfg, 200)
    [(0, 0.0001), (50, 1e-05)]
    """
    if total < 1:
        raise ValueError(f"a schedule needs at least one step, got {total}")
    end = total
    if cfg.schedule == "constant":
        steps = [0]
    elif cfg.schedule == "step":
        steps = [s - cfg.schedule_offset for s in range(0, cfg.schedule_offset + end,
                                                        cfg.step_size)]
        steps = [0] + [s for s in steps if 0 < s < end]
    elif cfg.schedule == "multistep":
        steps = [0] + sorted({m - cfg.schedule_offset for m in cfg.milestones
                              if 0 < m - cfg.schedule_offset < end})
    else:
        n = max(2, min(samples, total))
        steps = sorted({round(i * (total - 1) / (n - 1)) for i in range(n)})
        if cfg.schedule == "warmup_cosine":  # the peak, where the warm-up ends
            peak = round(cfg.warmup * (cfg.schedule_total or total)) - cfg.schedule_offset
            if 0 < peak < total:
                steps = sorted(set(steps) | {peak})
    return [(s, lr_at(cfg, total, s)) for s in steps]


#: Library files a training imports that never decide its weights: ``record.py`` writes the
#: results a training reports on (the runners import it at the top), and ``convergence.py`` judges
#: a finished learning curve (the harness judges every committed curve again with today's test).
#: Editing either must not throw away finished trainings.
UNKEYED_FILES = ("library/record.py", "library/convergence.py")


def training_key(*, unkeyed: Sequence[str] = (), **what: Any) -> tuple[str, dict[str, str]]:
    """Name of the checkpoint folder of one training, and the source files it depends on.

    The key hashes what decides the trained weights: the caller's ``what`` (model and its
    arguments, losses, budget, schedule, data identity, seed, ...) and the library and paper
    files imported when it is called (:func:`relight_lib.library.record.imported_library_files`:
    the model's file, the losses, the data pipeline, this engine, the paper's recipe), so call it
    after the model, the loss and the datasets are built; the :data:`UNKEYED_FILES` are left
    out, and so are the caller's ``unkeyed`` files (a paper runner's scoring and writing
    modules, which a second seed finds imported by the first). Harness files (results,
    claims, book) and other papers' files are not imported by a run and never change the key:
    editing them never retrains. Rows that train the same network
    with the same settings share a key, so the second row reuses a finished training.

    Returns:
        ``(key, files)``: 16 hex digits, and ``{path: sha256}`` of the files hashed (recorded in
        ``run.json`` as ``training_files``, so the runner can tell a retrain from a
        re-evaluation).
    """
    import hashlib

    from relight_lib.library.record import imported_library_files

    skip = {*UNKEYED_FILES, *unkeyed}
    files = {k: v for k, v in imported_library_files().items() if k not in skip}
    h = hashlib.sha256(json.dumps(what, sort_keys=True, default=str).encode())
    h.update(json.dumps(files, sort_keys=True).encode())
    return h.hexdigest()[:16], files


# --------------------------------------------------------------------------------------------
# checkpoints


def _rng_state() -> dict[str, Any]:
    np_state = np.random.get_state()
    state = {
        "torch": torch.get_rng_state(),
        "numpy": [np_state[0], torch.from_numpy(np_state[1].astype(np.int64)), int(np_state[2]),
                  int(np_state[3]), float(np_state[4])],
        "python": random.getstate(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _set_rng_state(state: Mapping[str, Any]) -> None:
    # torch wants CPU byte tensors; a checkpoint loaded with map_location="cuda" holds CUDA ones
    torch.set_rng_state(state["torch"].cpu())
    n = state["numpy"]
    np.random.set_state((n[0], n[1].cpu().numpy().astype(np.uint32), n[2], n[3], n[4]))
    py = state["python"]
    random.setstate((py[0], tuple(py[1]), py[2]))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all([s.cpu() for s in state["cuda"]])


def _unwrap(model: nn.Module) -> nn.Module:
    model = getattr(model, "module", model)  # DDP
    return getattr(model, "_orig_mod", model)  # torch.compile


def save_checkpoint(path: str | os.PathLike, model: nn.Module, optimizer=None, scheduler=None,
                    step: int = 0, history: list | None = None,
                    model_spec: Mapping[str, Any] | None = None,
                    config: Mapping[str, Any] | None = None) -> Path:
    """Write a checkpoint atomically (temp file + rename): a crash never leaves half a file.

    Besides the weights it records the ``relight_lib`` modules imported so far (``modules``):
    a run that later resumes a *finished* training runs no training step, so modules imported
    lazily inside the loop would otherwise be missing from its provenance (and from the files
    whose changes make it stale)."""
    from relight_lib.library.data.imageio import atomic_write

    state = {
        "modules": sorted(m for m in sys.modules if m == "relight_lib"
                          or m.startswith("relight_lib.")),
        "format": CHECKPOINT_FORMAT,
        "model": _unwrap(model).state_dict(),
        "model_spec": dict(model_spec or {}),
        "optimizer": optimizer.state_dict() if optimizer is not None else None,
        "scheduler": scheduler.state_dict() if scheduler is not None else None,
        "step": int(step),
        "rng": _rng_state(),
        "history": list(history or []),
        "config": dict(config or {}),
    }
    path = Path(path)
    with atomic_write(path, suffix=".pt") as tmp:
        torch.save(state, tmp)
    return path


def load_checkpoint(path: str | os.PathLike, map_location: str | torch.device = "cpu"
                    ) -> dict[str, Any]:
    """Load a checkpoint with ``weights_only=True`` (no arbitrary code from pickles)."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"checkpoint {path} does not exist")
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as e:
        raise ValueError(f"{path}: not a loadable checkpoint ({type(e).__name__}: {e})") from e
    if not isinstance(state, dict) or state.get("format") != CHECKPOINT_FORMAT:
        raise ValueError(f"{path}: not a relight checkpoint (format {CHECKPOINT_FORMAT!r})")
    return state


def _state_mismatch(model: nn.Module, saved: Any) -> str | None:
    """Why the saved ``state_dict`` does not fit ``model`` (other parameters or shapes), or None."""
    if not isinstance(saved, Mapping):
        return "its weights are not a state dict"
    own = _unwrap(model).state_dict()
    extra, missing = sorted(set(saved) - set(own)), sorted(set(own) - set(saved))
    if extra or missing:
        return (f"its weights are not this model's ({len(missing)} missing, {len(extra)} "
                f"unexpected, e.g. {(missing or extra)[0]!r})")
    for k, v in own.items():
        if not isinstance(saved[k], torch.Tensor) or tuple(saved[k].shape) != tuple(v.shape):
            return f"its {k!r} has another shape than this model's"
    return None


#: Entries a checkpoint must hold to resume a training (:func:`fit`).
RESUME_KEYS = ("model", "step", "history", "rng", "config", "optimizer", "scheduler")


def load_cached_checkpoint(path: str | os.PathLike, model: nn.Module | None = None,
                           map_location: str | torch.device = "cpu",
                           needs: Sequence[str] = ("model",), log: Callable[[str], Any] = print
                           ) -> dict[str, Any] | None:
    """A cached checkpoint to reuse or resume, or None for a cache miss.

    A file that cannot be used -- truncated, not a torch file, a foreign torch file, a relight
    checkpoint of another model (``model``'s parameter names and shapes differ) or one without
    the entries ``needs`` -- is a cache miss like a missing file: one line through ``log``
    naming the file and why, then the caller trains afresh (and overwrites it atomically).
    Nothing is loaded into ``model`` here.

    Returns:
        The checkpoint's dict (:func:`load_checkpoint`), or None (no file, or unusable).
    """
    path = Path(path)
    if not path.exists():
        return None
    try:
        state = load_checkpoint(path, map_location)
        lacking = [k for k in needs if k not in state]
        if lacking:
            raise ValueError(f"{path}: it has no {', '.join(lacking)}")
        why = _state_mismatch(model, state["model"]) if model is not None else None
        if why:
            raise ValueError(f"{path}: {why}")
    except ValueError as e:
        reason = str(e).split(": ", 1)[-1].splitlines()[0]
        log(f"cache miss: checkpoint {path} cannot be loaded ({reason}); training afresh")
        return None
    return state


def model_from_checkpoint(path: str | os.PathLike, name: str | None = None,
                          map_location: str | torch.device = "cpu") -> nn.Module:
    """Rebuild the model saved in a checkpoint (its registry name and keyword arguments are
    stored in it; ``name`` must agree when given)."""
    state = load_checkpoint(path, map_location)
    spec = state.get("model_spec") or {}
    saved = spec.get("name")
    if name is not None and saved is not None and name != saved:
        raise ValueError(f"{path} holds a {saved!r} model, not {name!r}")
    if (name or saved) is None:
        raise ValueError(f"{path} does not record its model: pass the model name")
    model = build_model(name or saved, **spec.get("kwargs", {}))
    model.load_state_dict(state["model"])
    return model.eval()


# --------------------------------------------------------------------------------------------
# progress status for a watcher outside the process (relight reproduce / try)

#: Environment variable naming the JSON file :func:`fit` keeps its progress in (set by the runner
#: for the kernel it starts; unset: no file is written).
PROGRESS_ENV = "RELIGHT_PROGRESS"


class ProgressStatus:
    """The progress of a training, kept in a small JSON file for a process that watches it.

    Every :meth:`update` merges its fields into the status; the file is rewritten atomically
    (temp file + rename: a reader never sees half a file) at most every ``interval`` seconds,
    unless ``force``. Fields written by :func:`fit`: ``seed``, ``stage``, ``step`` and ``total``
    (optimiser steps of the whole training, across stages: ``schedule_offset`` /
    ``schedule_total``), ``fit_start_step`` and ``fit_elapsed_s`` (steps and seconds of this
    ``fit`` call, for a rate), ``val_psnr`` (the last validation PSNR in dB, or None), ``phase``
    (``train`` | ``trained``), and ``time`` (Unix seconds of the write).

    Args:
        path: The JSON file.
        interval: Least seconds between two writes.
    """

    def __init__(self, path: str | os.PathLike, interval: float = 1.0) -> None:
        self.path = Path(path)
        self.interval = float(interval)
        self.fields: dict[str, Any] = {}
        self._last = float("-inf")

    @classmethod
    def from_env(cls) -> ProgressStatus | None:
        """The status named by ``$RELIGHT_PROGRESS``, or None when it is unset or empty."""
        target = os.environ.get(PROGRESS_ENV, "").strip()
        return cls(target) if target else None

    def update(self, force: bool = False, **fields: Any) -> bool:
        """Merge ``fields``; write when ``force`` or ``interval`` has passed. Returns whether
        it wrote. A failed write (a full disk, a removed folder) is skipped: progress must never
        stop a training."""
        self.fields.update(fields)
        now = time.monotonic()
        if not force and now - self._last < self.interval:
            return False
        self._last = now
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        try:
            tmp.write_text(json.dumps({**self.fields, "time": time.time()}))
            os.replace(tmp, self.path)
        except OSError:
            return False
        return True


def read_progress(path: str | os.PathLike) -> dict[str, Any] | None:
    """The status a :class:`ProgressStatus` wrote at ``path``, or None when there is none yet
    (or it cannot be read)."""
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


# --------------------------------------------------------------------------------------------
# the training loop


@dataclass
class FitResult:
    model: nn.Module
    history: list[dict[str, float]]
    steps: int
    wall_time_s: float
    peak_memory_mb: float
    checkpoint: Path | None
    device: str
    resumed_from: int = 0
    extra: dict[str, Any] = field(default_factory=dict)
    #: Seconds of each step trained in this call (batch, forward, backward, updates;
    #: validation and checkpoints excluded).
    step_times: list[float] = field(default_factory=list)

    def history_frame(self):
        import pandas as pd

        return pd.DataFrame(self.history)


def _distributed() -> tuple[int, int]:
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        return torch.distributed.get_rank(), torch.distributed.get_world_size()
    return 0, 1


def fit(model: nn.Module, loss_fn: LossFn | TrainStep, train_data, val_data=None,
        config: TrainConfig | None = None, *, checkpoint: str | os.PathLike | None = None,
        resume: bool = False, augment: Augment | None = None,
        val_metrics: Sequence[str] = ("psnr", "ssim"), val_limit: int | None = None,
        model_spec: Mapping[str, Any] | None = None, progress: bool = True,
        on_step: Callable[[int, float], None] | None = None,
        progress_info: Mapping[str, Any] | None = None) -> FitResult:
    """Train ``model`` on ``train_data`` (a map-style dataset of dict items).

    Args:
        model: A :class:`~relight_lib.library.models.RelightModel` (forward takes the batch dict),
            or with a :class:`TrainStep` whatever module it trains (e.g. an ``nn.ModuleDict``
            of a generator and a discriminator).
        loss_fn: ``loss_fn(pred, batch) -> scalar`` (the batch holds ``target``, ``input``...),
            or a :class:`TrainStep` that runs the whole step (its optimisers, its validation).
            A TrainStep runs on the model itself: not under DDP or ``compile``.
        train_data: Training dataset.
        val_data: Validation dataset (None: no validation).
        config: :class:`TrainConfig`.
        checkpoint: File to save checkpoints to (every ``ckpt_every`` steps, at the end, and when
            interrupted by Ctrl-C).
        resume: Continue from ``checkpoint`` if it exists (same config required). A file there
            that cannot be loaded (truncated, foreign, another model's) is a cache miss: one
            line says so (:func:`load_cached_checkpoint`) and the training starts afresh.
        augment: ``augment(batch, generator) -> batch``, applied to each global batch with a
            generator seeded by (seed, step), so augmentation survives resume.
        val_metrics: Metrics of :mod:`relight_lib.library.metrics` computed at validation.
        val_limit: Validate on at most this many images.
        model_spec: ``{'name': registry name, 'kwargs': {...}}`` stored in checkpoints so that
            ``relight predict`` can rebuild the model.
        progress: Show a tqdm progress bar.
        on_step: Called as ``on_step(step, loss)`` after every step (snapshots; tests use it to
            simulate an interruption).
        progress_info: Fields added to the progress status (:class:`ProgressStatus`, written
            when ``$RELIGHT_PROGRESS`` names a file), e.g. ``{"stage": "stage2_combined"}``;
            without a ``stage`` the status says ``train``.

    Returns:
        :class:`FitResult` with the trained model (unwrapped), the history (one dict per logged
        step: ``step``, ``loss``, ``lr`` and ``val_<metric>`` at validation steps), timings and
        peak memory.
    """
    from tqdm.auto import tqdm

    cfg = config or TrainConfig(steps=1)
    rank, world = _distributed()
    device = pick_device(cfg.device)
    if world > 1 and device.type == "cuda":
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)))
    if cfg.deterministic:
        torch.use_deterministic_algorithms(True, warn_only=device.type == "cuda")
        # deterministic mode also fills every new tensor with NaN to expose reads of
        # uninitialised memory, which no op of ours makes; on a CPU the fill was 13 % of
        # MBNet's profiled step (results/bench/*-training-levers.csv: deterministic_fill)
        torch.utils.deterministic.fill_uninitialized_memory = FILL_UNINITIALIZED
        if device.type == "cuda":
            os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
            torch.backends.cudnn.benchmark = False
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    n = len(train_data)
    if n == 0:
        raise ValueError("fit: the training dataset is empty")
    total = cfg.total_steps(n)
    if cfg.batch_size % world:
        raise ValueError(f"batch_size {cfg.batch_size} is not divisible by {world} processes")
    custom = isinstance(loss_fn, TrainStep)
    if custom and (world > 1 or cfg.compile):
        raise ValueError("fit: a TrainStep runs its own forward pass on the model; DDP and "
                         "compile wrap a plain model's forward only")

    model = model.to(device)
    if cfg.channels_last:
        model = model.to(memory_format=torch.channels_last)
    use_amp = cfg.amp and bf16_native(device)
    if custom:
        opts = {k: torch.optim.Adam(ps, lr=cfg.lr, betas=cfg.betas,
                                    weight_decay=cfg.weight_decay)
                for k, ps in loss_fn.parameter_sets(model).items()}
    else:
        opts = {"model": make_optimizer(model, cfg)}
    scheds = {k: make_scheduler(o, cfg, total) for k, o in opts.items()}
    opt = next(iter(opts.values()))  # whose rate the history reports
    opt_all, sched_all = _Optimisers(opts), _Optimisers(scheds)
    history: list[dict[str, float]] = []
    start = 0
    ckpt_path = Path(checkpoint) if checkpoint is not None else None
    cfg_dict = asdict(cfg)
    # a checkpoint that cannot be loaded (truncated, foreign) is a cache miss: train afresh
    state = (load_cached_checkpoint(ckpt_path, model, device, needs=RESUME_KEYS)
             if resume and ckpt_path is not None else None)
    if state is not None:
        # how often to validate or checkpoint, and where, do not change the weights
        free = ("device", "val_every", "ckpt_every", "num_workers")
        saved_cfg = {k: v for k, v in state["config"].items() if k not in free}
        now_cfg = {k: (list(v) if isinstance(v, tuple) else v) for k, v in cfg_dict.items()
                   if k not in free}
        saved_cfg = {k: (list(v) if isinstance(v, tuple) else v) for k, v in saved_cfg.items()}
        if saved_cfg != now_cfg:
            diff = sorted(k for k in set(saved_cfg) | set(now_cfg)
                          if saved_cfg.get(k) != now_cfg.get(k))
            raise ValueError(f"{ckpt_path}: cannot resume with a different configuration "
                             f"({', '.join(diff)}); start a new checkpoint")
        _unwrap(model).load_state_dict(state["model"])
        start = int(state["step"])
        if start < total:
            if state["optimizer"] is None:
                raise ValueError(f"{ckpt_path}: an unfinished checkpoint without optimiser "
                                 "state cannot be resumed; delete it to train afresh")
            opt_all.load_state_dict(state["optimizer"])
            sched_all.load_state_dict(state["scheduler"])
        for name in state.get("modules", ()):  # what the training used, for provenance
            if name not in sys.modules:
                importlib.import_module(name)
        _set_rng_state(state["rng"])
        history = list(state["history"])
    else:
        seed_everything(cfg.seed)  # data order and augmentation are seeded separately
    train_model: nn.Module = model
    if world > 1:
        train_model = nn.parallel.DistributedDataParallel(
            model, device_ids=[device.index] if device.type == "cuda" else None)
    if cfg.compile:
        train_model = torch.compile(train_model)

    def save(step: int) -> None:
        if ckpt_path is not None and rank == 0:
            # a finished training keeps only its weights: Adam's two moments would double or
            # triple the file (MBNet: 1.8 GB) and nothing resumes from them
            done = step >= total
            save_checkpoint(ckpt_path, model, None if done else opt_all,
                            None if done else sched_all, step, history, model_spec, cfg_dict)

    def validate(step: int) -> dict[str, float]:
        from relight_lib.library import metrics

        model.eval()
        own = loss_fn.validate(model, val_data, device) if custom else None
        if own is not None:
            model.train()
            return dict(own)
        # validated in fp32, as the final evaluation is: the curve and the table agree
        res = metrics.evaluate(lambda b: predict(model, b, device=device),
                               val_data, metrics=tuple(val_metrics), progress=False,
                               limit=val_limit, batch_size=max(1, cfg.batch_size // world))
        model.train()
        summ = res.summary().set_index("metric")["mean"]
        return {f"val_{m}": float(summ.get(m, float("nan"))) for m in val_metrics}

    t0 = time.perf_counter()
    bar = tqdm(total=total, initial=start, disable=not progress or rank != 0, unit="step",
               desc="train", mininterval=2.0)
    status = ProgressStatus.from_env() if rank == 0 else None
    if status is not None:  # the whole training's position, across the stages of one curve
        last_val = next((h["val_psnr"] for h in reversed(history) if "val_psnr" in h), None)
        status.update(force=True, **{"stage": "train", **dict(progress_info or {})},
                      seed=cfg.seed, step=start + cfg.schedule_offset,
                      total=cfg.schedule_total or total, fit_start_step=start + cfg.schedule_offset,
                      fit_elapsed_s=0.0, val_psnr=last_val, phase="train")
    model.train()
    completed = start  # optimiser steps whose update is in the weights
    loader = _Loader(train_data, cfg, world, rank)
    step_times: list[float] = []
    try:
        for step in range(start, total):
            t_step = time.perf_counter()
            batch = loader.get(step)
            if augment is not None:
                g = torch.Generator().manual_seed(cfg.seed * 1_000_003 + step)
                batch = augment(batch, g)
            batch = to_device(batch, device, cfg.channels_last)
            if custom:
                parts = {k: float(v.detach()) if isinstance(v, torch.Tensor) else float(v)
                         for k, v in loss_fn(model, batch, StepContext(step, device, use_amp,
                                                                       opts, cfg)).items()}
                if "loss" not in parts:
                    raise ValueError("fit: a TrainStep must return the step's 'loss'")
                if not np.isfinite(parts["loss"]):
                    raise FloatingPointError(f"loss is {parts['loss']} at step {step}; stopping "
                                             "(check the learning rate and the loss inputs)")
            else:
                with torch.autocast(device.type, dtype=torch.bfloat16, enabled=use_amp):
                    pred = train_model(batch)
                    loss = loss_fn(pred.float(), batch)
                if not torch.isfinite(loss):
                    raise FloatingPointError(f"loss is {loss.item()} at step {step}; stopping "
                                             "(check the learning rate and the loss inputs)")
                opt.zero_grad(set_to_none=True)
                loss.backward()
                if cfg.grad_clip is not None:
                    torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
                opt.step()
                parts = {"loss": float(loss.detach())}
            lr = opt.param_groups[0]["lr"]
            for sched in scheds.values():
                sched.step()
            done = completed = step + 1
            step_times.append(time.perf_counter() - t_step)
            rec = {"step": done, "loss": parts.pop("loss"), "lr": lr, **parts}
            if val_data is not None and ((cfg.val_every and done % cfg.val_every == 0)
                                         or done == total):
                rec.update(validate(done))
            history.append(rec)
            bar.update(1)
            if done % 10 == 0 or done == total:
                bar.set_postfix(loss=f"{rec['loss']:.4f}")
            if cfg.ckpt_every and done % cfg.ckpt_every == 0 and done != total:
                save(done)
            if on_step is not None:
                on_step(done, rec["loss"])
            if status is not None:
                extra = {"val_psnr": rec["val_psnr"]} if "val_psnr" in rec else {}
                status.update(force=bool(extra), step=done + cfg.schedule_offset,
                              fit_elapsed_s=time.perf_counter() - t0, **extra)
    except KeyboardInterrupt:
        save(completed)  # Ctrl-C keeps the work done so far; resume=True continues from here
        bar.close()
        raise
    bar.close()
    if start < total:  # a reused finished checkpoint is not written again
        save(total)
    if status is not None:
        status.update(force=True, step=total + cfg.schedule_offset,
                      fit_elapsed_s=time.perf_counter() - t0, phase="trained")
    return FitResult(model=_unwrap(model).eval(), history=history, steps=total,
                     wall_time_s=time.perf_counter() - t0, peak_memory_mb=peak_memory_mb(device),
                     checkpoint=ckpt_path, device=str(device), resumed_from=start,
                     step_times=step_times)


class _Loader:
    """Fetches the local share of the global batch for a step; with workers, a DataLoader over
    the remaining steps of the epoch (prefetching, pinned memory on CUDA)."""

    def __init__(self, data, cfg: TrainConfig, world: int, rank: int) -> None:
        self.data, self.cfg, self.world, self.rank = data, cfg, world, rank
        self.n = len(data)
        self._iter = None
        self._next_step = None

    def _local(self, step: int) -> list[int]:
        idx = batch_indices(self.n, self.cfg.batch_size, self.cfg.seed, step)
        return idx[self.rank::self.world]

    def get(self, step: int) -> dict[str, Any]:
        if hasattr(self.data, "batch"):  # in memory (data/memory.py): index stacked tensors
            return self.data.batch(self._local(step))
        if self.cfg.num_workers <= 0:
            return collate([self.data[i] for i in self._local(step)])
        if self._iter is None or self._next_step != step:
            spe = steps_per_epoch(self.n, self.cfg.batch_size)
            end = (step // spe + 1) * spe
            total = self.cfg.total_steps(self.n)
            sampler = [self._local(s) for s in range(step, min(end, total))]
            self._iter = iter(torch.utils.data.DataLoader(
                self.data, batch_sampler=sampler, num_workers=self.cfg.num_workers,
                collate_fn=collate, pin_memory=torch.cuda.is_available(),
                persistent_workers=False))
        self._next_step = step + 1
        try:
            return next(self._iter)
        except StopIteration:
            self._iter = None
            return self.get(step)


# --------------------------------------------------------------------------------------------
# evaluation and inference


@torch.inference_mode()
def predict(model: nn.Module, batch: Mapping[str, Any], device: str | torch.device | None = None,
            amp: bool = False) -> torch.Tensor:
    """Run ``model`` on a batch, padding the inputs to the model's ``size_multiple`` (reflection)
    and cropping the output back; returns (B, 3, H, W) in [0, 1] on the batch's device."""
    inner = _unwrap(model)
    device = torch.device(device) if device is not None else next(inner.parameters()).device
    mult = getattr(inner, "size_multiple", 1)
    src = batch["input"]
    padded = {}
    hw = src.shape[-2:]
    for k, v in batch.items():
        if isinstance(v, torch.Tensor) and v.dim() == 4:
            v, hw = pad_to_multiple(v.to(device), mult)
        padded[k] = v
    with torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp and bf16_native(device)):
        out = model(padded)
    return out.float()[..., :hw[0], :hw[1]].clamp(0, 1).to(src.device)


def time_inference(model: nn.Module, size: int, device: str | torch.device = "cpu",
                   repeats: int = 3, amp: bool = False,
                   fn: Callable[[dict[str, Any]], torch.Tensor] | None = None) -> float:
    """Median seconds to relight one ``size`` x ``size`` image (after one warm-up run,
    synchronised on CUDA), with random inputs for everything the model ``needs``.

    ``fn`` times a whole prediction path instead of the bare network (``batch -> image``, e.g.
    a snapshot ensemble followed by dehazing, which is what LTNet's run-time column measures);
    ``model`` then only says which inputs to make."""
    import statistics

    device = torch.device(device)
    inner = _unwrap(model).to(device).eval()
    g = torch.Generator().manual_seed(0)
    batch = {"input": torch.rand(1, 3, size, size, generator=g)}
    for key in getattr(inner, "needs", ()):
        ch = 1 if "depth" in key else 3
        batch[key] = torch.rand(1, ch, size, size, generator=g)
    batch = to_device(batch, device)
    times = []
    for i in range(repeats + 1):
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        t0 = time.perf_counter()
        if fn is None:
            predict(inner, batch, device=device, amp=amp)
        else:
            fn(batch)
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        if i:  # the first run is the warm-up
            times.append(time.perf_counter() - t0)
    return statistics.median(times)


def evaluate(model: nn.Module, dataset, metrics: Sequence[str] = ("psnr", "ssim", "lpips", "mps",
                                                                   "score_l2"),
             device: str = "auto", batch_size: int = 4, limit: int | None = None,
             progress: bool = True):
    """Per-image metric rows of ``model`` on ``dataset`` (:class:`relight_lib.library.metrics.EvalResult`)."""
    from relight_lib.library import metrics as M

    dev = pick_device(device)
    model = model.to(dev).eval()
    return M.evaluate(lambda b: predict(model, b, device=dev), dataset, metrics=tuple(metrics),
                      batch_size=batch_size, progress=progress, limit=limit)


# --------------------------------------------------------------------------------------------
# config-driven entry point (torchrun / DDP)


def build_dataset(spec: Mapping[str, Any]):
    """A dataset from a JSON-able spec: ``{'type': 'one_to_one' | 'any_to_any', 'root': ...,
    'split': ..., 'size': ..., ...}`` (the remaining keys go to the dataset class)."""
    from relight_lib.library.data.vidit import AnyToAnyDataset, OneToOneDataset

    spec = dict(spec)
    kind = spec.pop("type", "one_to_one")
    classes = {"one_to_one": OneToOneDataset, "any_to_any": AnyToAnyDataset}
    if kind not in classes:
        raise ValueError(f"dataset type {kind!r} is not one of {sorted(classes)}")
    return classes[kind](**spec)


def build_loss_fn(spec: Sequence[Mapping[str, Any]]) -> LossFn:
    """``[{'name': 'charbonnier', 'weight': 1.0, 'kwargs': {...}}, ...]`` -> weighted sum of
    ``loss(pred, batch['target'])`` terms from :mod:`relight_lib.library.losses`."""
    from relight_lib.library.losses import build_loss

    terms = [(float(t.get("weight", 1.0)), build_loss(t["name"], **t.get("kwargs", {})))
             for t in spec]

    def loss_fn(pred: torch.Tensor, batch: Mapping[str, Any]) -> torch.Tensor:
        # loss networks (VGG) are built on the CPU; follow the prediction's device
        return sum(w * term.to(pred.device)(pred, batch["target"]) for w, term in terms)

    return loss_fn


def run_config(config: Mapping[str, Any]) -> FitResult:
    """Train from a JSON-able run config (what ``--config run.json`` holds)::

        {"model": {"name": "tiny_unet", "kwargs": {}},
         "loss": [{"name": "charbonnier", "weight": 1.0}],
         "train_data": {"type": "one_to_one", "root": ..., "split": "train", "size": 64},
         "val_data": null,
         "train": {TrainConfig fields},
         "checkpoint": "out/model.pt", "history": "out/history.json", "resume": false}
    """
    tcfg = TrainConfig(**config["train"])
    seed_everything(tcfg.seed)  # identical initial weights on every rank
    spec = config["model"]
    model = build_model(spec["name"], **spec.get("kwargs", {}))
    train = build_dataset(config["train_data"])
    val = build_dataset(config["val_data"]) if config.get("val_data") else None
    res = fit(model, build_loss_fn(config["loss"]), train, val, tcfg,
              checkpoint=config.get("checkpoint"), resume=bool(config.get("resume")),
              model_spec=spec, progress=bool(config.get("progress", True)))
    rank, world = _distributed()
    if rank == 0 and config.get("history"):
        from relight_lib.library.data.imageio import atomic_write

        out = {"history": res.history, "steps": res.steps, "wall_time_s": res.wall_time_s,
               "peak_memory_mb": res.peak_memory_mb, "device": res.device, "world_size": world}
        with atomic_write(config["history"], suffix=".json") as tmp:
            tmp.write_text(json.dumps(out, indent=1))
    return res


def launch_distributed(config: Mapping[str, Any], devices: int, workdir: str | os.PathLike,
                       timeout: float | None = None) -> dict[str, Any]:
    """Run :func:`run_config` under ``torchrun`` with ``devices`` processes (a notebook calls
    this when ``devices > 1``) and read the history back. The model is in the checkpoint."""
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    config = dict(config)
    config.setdefault("checkpoint", str(workdir / "model.pt"))
    config.setdefault("history", str(workdir / "history.json"))
    cfg_path = workdir / "run.json"
    cfg_path.write_text(json.dumps(config, indent=1))
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone",
           f"--nproc-per-node={devices}", "-m", "relight_lib.library.train", "--config", str(cfg_path)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    if proc.returncode != 0:
        raise RuntimeError(f"torchrun failed (exit {proc.returncode}):\n{proc.stderr[-4000:]}")
    return json.loads(Path(config["history"]).read_text())


class ConfigError(ValueError):
    """A run config that cannot be trained (the message names the file and the key)."""


#: The keys of a run config (:func:`run_config`).
CONFIG_KEYS = ("model", "loss", "train_data", "val_data", "train", "checkpoint", "history",
               "resume", "progress")


def check_config(config: Any, where: str = "run config") -> None:
    """Check a run config before anything is built, so that a typo is one clear line.

    Raises:
        ConfigError: naming ``where``, the key and the allowed values.
    """
    from dataclasses import fields

    from relight_lib.library.losses import LOSSES
    from relight_lib.library.models import list_models

    def fail(key: str, problem: str) -> None:
        raise ConfigError(f"{where}: {key}: {problem}")

    if not isinstance(config, Mapping):
        fail("(top level)", f"must be a JSON object, got {type(config).__name__}")
    for key in config:
        if key not in CONFIG_KEYS:
            fail(key, f"unknown key; allowed: {', '.join(CONFIG_KEYS)}")
    for key in ("model", "loss", "train_data", "train"):
        if key not in config:
            fail(key, "missing")
    model = config["model"]
    if not isinstance(model, Mapping) or model.get("name") not in list_models():
        name = model.get("name") if isinstance(model, Mapping) else model
        fail("model.name", f"{name!r} is not a registered model; allowed: "
             f"{', '.join(list_models())}")
    if not isinstance(config["loss"], list) or not config["loss"]:
        fail("loss", "must be a non-empty list of {name, weight, kwargs} terms")
    for i, term in enumerate(config["loss"]):
        if not isinstance(term, Mapping) or term.get("name") not in LOSSES:
            name = term.get("name") if isinstance(term, Mapping) else term
            fail(f"loss[{i}].name", f"{name!r} is not a loss; allowed: {', '.join(sorted(LOSSES))}")
    known = {f.name for f in fields(TrainConfig)}
    train = config["train"]
    if not isinstance(train, Mapping):
        fail("train", "must be an object of training settings")
    for key in train:
        if key not in known:
            fail(f"train.{key}", f"unknown setting; allowed: {', '.join(sorted(known))}")
    try:
        TrainConfig(**train)
    except (TypeError, ValueError) as e:
        fail("train", str(e))
    for key in ("train_data", "val_data"):
        spec = config.get(key)
        if spec is None and key == "val_data":
            continue
        if not isinstance(spec, Mapping) or "root" not in spec:
            fail(key, "must be an object with a 'root' folder")
        if not Path(spec["root"]).is_dir():
            fail(f"{key}.root", f"{spec['root']} is not a folder")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m relight_lib.library.train",
                                description="Train from a run config; under torchrun with DDP.")
    p.add_argument("--config", required=True, type=Path)
    args = p.parse_args(argv)
    try:
        config = json.loads(args.config.read_text())
        check_config(config, str(args.config))
    except (OSError, json.JSONDecodeError, ConfigError) as e:
        msg = (f"{args.config}: not valid JSON ({e})" if isinstance(e, json.JSONDecodeError)
               else f"{args.config}: {e.strerror}" if isinstance(e, OSError) else str(e))
        print(f"error: {msg}", file=sys.stderr)
        return 2
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world > 1:
        backend = "nccl" if torch.cuda.is_available() else "gloo"
        torch.distributed.init_process_group(backend=backend)
    try:
        run_config(config)
    finally:
        if world > 1:
            torch.distributed.destroy_process_group()
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
