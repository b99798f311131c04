"""Training efficiency against the machine (``relight bench --training-flops``).

For each paper model at the quick recipe (batch, image size and precision as the quick rows
train on this machine): the FLOPs of one training step (forward and backward, the paper's loss
included, counted by ``torch.utils.flop_counter.FlopCounterMode``), the seconds per step through
the engine's own step (:func:`relight_lib.library.train.fit`: the model, the paper's loss as
built here, Adam, the in-memory data path), the achieved GFLOP/s, the machine's peak measured in
the same run (a matmul and a convolution microbenchmark, fp32 and bf16) and the fraction of it.
Then where a step's time goes (torch profiler: the top operators by self CPU time; and the
phases data / forward / loss / backward / optimiser, timed by hooks on the real step) and the
levers (channels_last, threads, the OpenMP wait policy, batch size, ``torch.compile``, the
perceptual loss, the normalisation), each measured as a ratio of two arms timed in one run,
arms interleaved (A, B, A, B) so that a change of the machine's load hits both.

Outputs, in ``results/bench/`` (``<machine>`` = :func:`machine_slug`, the CPU or GPU model and
the number of cores this process may use, e.g. ``cpu-amd-epyc-2c``):

- ``<machine>-training-flops.csv``: :data:`FLOPS_COLUMNS`, one row per model;
- ``<machine>-training-profile.csv``: :data:`PROFILE_COLUMNS`, the top operators per model;
- ``<machine>-training-phases.csv``: :data:`PHASE_COLUMNS`, the share of each phase per model;
- ``<machine>-training-levers.csv``: :data:`LEVER_COLUMNS`, one row per lever;
- ``<machine>-training-peak.csv``: :data:`PEAK_COLUMNS`, the microbenchmarks (the peak and a
  width sweep of 3 x 3 convolutions, the same shape as LTNet*'s thinnest layers and wider);
- ``<machine>-training-flops.json``: the run's metadata (load average before and after,
  threads, versions, commit, what each model's loss holds here).

``relight bench --costs`` (:func:`run_costs`) writes what the cost table of the how-to-rerun
page reads besides: ``<machine>-training-omp.csv`` (:data:`OMP_COLUMNS`, the OpenMP wait policy
per model and round), ``<machine>-training-steps.csv`` (:data:`STEP_COLUMNS`, a model's step over
many steps, and the models of :data:`COST_MODELS`) and ``<machine>-training-steps.json``.

Measured on a shared machine the absolute numbers move with the load (recorded); the ratios of
arms timed in one run are what to read. FLOPs count a multiply-add as 2 and only what
``FlopCounterMode`` knows (convolutions, matrix products): element-wise work, normalisation,
padding and the optimiser count nothing, so the achieved GFLOP/s is a lower bound of the
arithmetic done, and a model whose time goes into uncounted work shows a low fraction of peak.
"""

from __future__ import annotations

import contextlib
import csv
import json
import os
import statistics
import subprocess
import sys
import time
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from relight_lib.library.data.imageio import atomic_write

#: Columns of ``<machine>-training-flops.csv`` (issue 27), in order.
FLOPS_COLUMNS: tuple[str, ...] = (
    "model", "precision", "size", "batch", "gflop_per_step", "s_per_step", "gflops_achieved",
    "machine_peak_gflops", "fraction_of_peak")
#: Columns of ``<machine>-training-profile.csv``.
PROFILE_COLUMNS: tuple[str, ...] = ("model", "operator", "self_cpu_share", "self_cpu_ms_per_step",
                                    "calls_per_step")
#: Columns of ``<machine>-training-phases.csv``.
PHASE_COLUMNS: tuple[str, ...] = ("model", "phase", "share", "ms_per_step")
#: Columns of ``<machine>-training-levers.csv``. ``ratio`` = baseline s/step / variant s/step
#: (> 1: the variant is faster); ``gflops_ratio`` = the variant's achieved GFLOP/s over the
#: baseline's (differs from ``ratio`` where the variant changes the work, e.g. the batch).
LEVER_COLUMNS: tuple[str, ...] = ("model", "lever", "baseline", "variant", "s_per_step_baseline",
                                  "s_per_step_variant", "ratio", "gflops_ratio", "note")
#: Columns of ``<machine>-training-peak.csv``.
PEAK_COLUMNS: tuple[str, ...] = ("kernel", "precision", "shape", "gflop", "seconds", "gflops")

#: The models of the table (registry names; ``ltnet_large`` is LTNet† (8,32), Table 5's largest).
MODELS: tuple[str, ...] = ("ltnet", "ltnet_large", "dmshn", "stacked_dmshn", "mbnet",
                           "swapnet_illum")

#: LTNet's sizes of Table 5 by bench name (``(f1, nc)`` labels of
#: :func:`relight_lib.papers.ltnet.recipe.ltnet_row`); the first two are in :data:`MODELS`, the
#: others are timed for the cost table (``relight bench --costs``).
LTNET_SIZES: dict[str, str] = {"ltnet": "2,16", "ltnet_large": "8,32", "ltnet_4_32": "4,32",
                               "ltnet_4_16": "4,16", "ltnet_4_4": "4,4"}
#: Models the cost table times besides :data:`MODELS` (their steps, not their FLOPs).
COST_MODELS: tuple[str, ...] = ("ltnet_4_32", "ltnet_4_16", "ltnet_4_4", "swapnet_envmap")

#: Phases of a training step, in the order they run (see :class:`PhaseClock`).
PHASES: tuple[str, ...] = ("data", "forward", "loss", "backward", "optimiser", "other")


# --------------------------------------------------------------------------------------------
# the machine


def machine_slug(device: torch.device | str = "cpu") -> str:
    """Short name of this machine for file names: the CPU model (or the GPU's name) and the
    number of cores this process may run on (``os.sched_getaffinity``), e.g.
    ``cpu-amd-epyc-2c`` or ``nvidia-h200-16c``. Two machines with the same CPU model but a
    different core count get different files, since the peak scales with the cores."""
    from relight_lib.bench import device_slug

    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not on Linux
        cores = os.cpu_count() or 1
    return f"{device_slug(torch.device(device))}-{cores}c"


def load_average() -> list[float] | None:
    """The 1, 5 and 15 minute load averages (None where the OS has none)."""
    try:
        return [round(v, 2) for v in os.getloadavg()]
    except OSError:  # pragma: no cover
        return None


def _median_time(fn: Callable[[], Any], repeats: int, warmup: int = 1) -> float:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def conv_flops(batch: int, c_in: int, c_out: int, kernel: int, out_h: int, out_w: int,
               backward: bool = False) -> int:
    """FLOPs of a (bias-free) 2-D convolution by the formula: 2 x B x C_out x H_out x W_out x
    C_in x k x k (a multiply-add = 2, as ``FlopCounterMode``); with ``backward`` three times
    that (the forward, the input gradient and the weight gradient each cost the same).

    >>> conv_flops(1, 1, 1, 3, 2, 2)
    72
    """
    f = 2 * batch * c_out * out_h * out_w * c_in * kernel * kernel
    return 3 * f if backward else f


def microbenchmarks(device: torch.device, dtypes: Sequence[str] = ("fp32", "bf16"),
                    repeats: int = 5, widths: Sequence[int] = (16, 32, 64, 128),
                    size: int = 64, batch: int = 8) -> list[dict[str, Any]]:
    """GFLOP/s of a square matmul (1024; 512 in bf16 where it is emulated) and of a wide 3 x 3
    convolution (128 -> 128 channels, batch 8, 32 x 32, forward) in each precision (bf16: autocast), the best of which is the
    machine's peak; and, in fp32, a 3 x 3 convolution's forward + backward at ``size`` px and
    ``batch`` for each width in ``widths`` (C -> C channels): how the rate falls with the width,
    the shape of LTNet*'s 16-channel layers against wider networks'. Median of ``repeats``
    calls after one warm-up. Rows of :data:`PEAK_COLUMNS`."""
    from relight_lib.library.utils import bf16_native

    out = []
    for prec in dtypes:
        dt = torch.float32 if prec == "fp32" else torch.bfloat16
        # emulated bf16 (no native support) runs a 1024 matmul for seconds: a smaller one
        n = 1024 if prec == "fp32" or bf16_native(device) else 512
        a = torch.randn(n, n, device=device, dtype=dt)
        b = torch.randn(n, n, device=device, dtype=dt)
        s = _median_time(lambda: torch.mm(a, b), repeats)
        out.append({"kernel": "matmul", "precision": prec, "shape": f"{n}x{n} @ {n}x{n}",
                    "gflop": 2 * n ** 3 / 1e9, "seconds": s, "gflops": 2 * n ** 3 / s / 1e9})
        conv = nn.Conv2d(128, 128, 3, padding=1, bias=False).to(device)
        x = torch.randn(8, 128, 32, 32, device=device).contiguous(
            memory_format=torch.channels_last)
        conv = conv.to(memory_format=torch.channels_last)

        def run_conv(conv=conv, x=x, dt=dt):
            with torch.no_grad(), torch.autocast(device.type, dtype=torch.bfloat16,
                                                 enabled=dt == torch.bfloat16):
                conv(x)
        s = _median_time(run_conv, repeats)
        f = conv_flops(8, 128, 128, 3, 32, 32)
        out.append({"kernel": "conv3x3", "precision": prec, "shape": "8x128x32x32 -> 128",
                    "gflop": f / 1e9, "seconds": s, "gflops": f / s / 1e9})
    for c in widths:
        conv = nn.Conv2d(c, c, 3, padding=1, bias=False).to(device).to(
            memory_format=torch.channels_last)
        x = torch.randn(batch, c, size, size, device=device).contiguous(
            memory_format=torch.channels_last).requires_grad_()

        def fwd_bwd(conv=conv, x=x):
            conv(x).sum().backward()
        s = _median_time(fwd_bwd, repeats)
        f = conv_flops(batch, c, c, 3, size, size, backward=True)
        out.append({"kernel": f"conv3x3_c{c}_fwd_bwd", "precision": "fp32",
                    "shape": f"{batch}x{c}x{size}x{size} -> {c}", "gflop": f / 1e9,
                    "seconds": s, "gflops": f / s / 1e9})
    return out


def machine_peak(rows: Iterable[Mapping[str, Any]], precision: str) -> float | None:
    """The best GFLOP/s of the matmul and convolution peak kernels in ``precision``."""
    vals = [r["gflops"] for r in rows if r["precision"] == precision
            and r["kernel"] in ("matmul", "conv3x3")]
    return max(vals) if vals else None


# --------------------------------------------------------------------------------------------
# what each model trains with at the quick recipe


@dataclass
class TrainSpec:
    """One model's training step as a quick row trains it on this machine.

    Attributes:
        name: Registry name (the table's ``model``).
        build: ``() -> (module, loss_fn, notes)``: the model (forward takes the batch dict),
            the loss as ``loss_fn(pred, batch)`` and what the loss holds here (dropped terms).
        batch: Batch size.
        size: Image side in px.
        amp: bf16 autocast requested by the profile (used where it runs natively).
        channels_last: channels_last as the row trains.
        lr, betas: Adam's settings (the schedule only scales the rate: constant here).
        make_data: ``(n, size, seed) -> dataset`` of random items with the keys the model and
            the loss read.
        loss_without_perceptual: as ``build``'s loss with the perceptual (VGG) term left out,
            None where the loss has none.
        source: The recipe the spec is read from.
    """

    name: str
    build: Callable[[], tuple[nn.Module, Callable[..., torch.Tensor], list[str]]]
    batch: int
    size: int
    amp: bool
    channels_last: bool
    lr: float
    betas: tuple[float, float] = (0.9, 0.999)
    make_data: Callable[[int, int, int], Any] | None = None
    build_without_perceptual: Callable[[], tuple[nn.Module, Callable[..., torch.Tensor],
                                                 list[str]]] | None = None
    source: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


def random_items(n: int, size: int, needs: Sequence[str] = (), swap: bool = False,
                 seed: int = 0) -> Any:
    """``n`` random training items (``input``, ``target`` and each key of ``needs``, in [0, 1];
    with ``swap`` also ``guide`` and the light labels of the any-to-any pairs), decoded into
    memory (:class:`relight_lib.library.data.memory.InMemoryPairs`): the engine's in-memory path,
    as the quick rows train (their sets fit in memory). The model's arithmetic does not depend
    on the values."""
    from relight_lib.library.data.layout import DIRECTIONS, DIRECTION_ANGLES as ANGLES
    from relight_lib.library.data.memory import InMemoryPairs

    g = torch.Generator().manual_seed(seed)
    items = []
    for _ in range(n):
        it = {"input": torch.rand(3, size, size, generator=g),
              "target": torch.rand(3, size, size, generator=g)}
        for k in needs:
            it[k] = torch.rand(1 if "depth" in k else 3, size, size, generator=g)
        if swap:
            it["guide"] = torch.rand(3, size, size, generator=g)
            for who in ("input", "guide"):
                it[f"{who}_temperature"] = torch.tensor(float(2500 + 1000 * int(
                    torch.randint(0, 5, (1,), generator=g))))
                d = int(torch.randint(0, 8, (1,), generator=g))
                it[f"{who}_angle"] = torch.tensor(float(ANGLES[DIRECTIONS[d]]))
                it[f"{who}_direction"] = DIRECTIONS[d]
        items.append(it)
    return InMemoryPairs(items)


def _one_to_one_spec(name: str, model: str, model_kwargs: Mapping[str, Any],
                     loss: Sequence[Mapping[str, Any]], budget: Mapping[str, Any],
                     train: Mapping[str, Any], source: str) -> TrainSpec:
    from relight_lib.library.models import build_model
    from relight_lib.papers import profiles
    from relight_lib.papers.onetoone import build_objective

    prof = profiles.PROFILES["quick"]
    allow = prof.allow_random_backbone

    def builder(terms=tuple(loss)):
        def build():
            torch.manual_seed(0)
            net = build_model(model, **dict(model_kwargs))
            obj = build_objective(list(terms), allow)
            return net, obj, list(obj.dropped)
        return build

    has_perc = any(t["name"] == "perceptual" for t in loss)
    no_perc = [t for t in loss if t["name"] != "perceptual"]
    size = round(prof.size * float(budget.get("train_scale", 1.0)))
    return TrainSpec(
        name=name, build=builder(), batch=int(budget.get("batch_size", prof.batch_size)),
        size=size, amp=prof.amp, channels_last=prof.channels_last, lr=float(budget["lr"]),
        betas=tuple(train.get("betas", (0.9, 0.999))),
        build_without_perceptual=builder(tuple(no_perc)) if has_perc else None,
        source=source, extra={"loss": [t["name"] for t in loss]})


def quick_specs(names: Sequence[str] = MODELS) -> list[TrainSpec]:
    """The :class:`TrainSpec` of each model in ``names`` at the quick profile, read from the
    papers' own recipes:

    - ``ltnet``: :func:`relight_lib.papers.ltnet.recipe.ltnet_row` (LTNet* (2,16), all inputs,
      loss D: L_C + 0.1 LPIPS + L_r; LPIPS is left out where its AlexNet weights are missing,
      as the rows do);
    - ``ltnet_large``: the same row at Table 5's (8,32) (LTNet†);
    - ``dmshn``, ``stacked_dmshn``: :func:`relight_lib.papers.msrnet.msrnet_row` with the
      paper's final loss, stage 2 of L_CL (L1 - SSIM + VGG-16 perceptual + TV; stage 1, L2
      alone, is the cheaper half of the budget: see the perceptual lever);
    - ``mbnet``: MBNet's loss (Charbonnier + SSIM + VGG-19 perceptual) and recipe;
    - ``swapnet_illum``: 2DSceneRelighting model A with its predicter and loss A (MSE + L_c +
      L_d), the predicter trained by the same Adam, as the any-to-any loop does.
    """
    from relight_lib.papers import msrnet
    from relight_lib.papers.ltnet import recipe as lt
    from relight_lib.papers import mbnet as mb

    quick = "quick"
    out = []
    for name in names:
        if name in LTNET_SIZES:
            label = LTNET_SIZES[name]
            row = lt.ltnet_row(table5_label=label, profile=quick)
            spec = _one_to_one_spec(name, row["model"], row["model_kwargs"], row["loss"],
                                    {**lt.LTNET_SHORT_BUDGETS[quick]}, row["train"],
                                    f"ltnet_row(table5_label={label})")
        elif name in ("dmshn", "stacked_dmshn"):
            row = msrnet.msrnet_row(name, "cl", profile=quick)
            spec = _one_to_one_spec(name, name, row["model_kwargs"], row["stages"][-1]["loss"],
                                    {**msrnet.MSRNET_SHORT_BUDGETS[quick]}, row["train"],
                                    f"msrnet_row({name!r}, 'cl'), stage 2")
        elif name == "mbnet":
            spec = _one_to_one_spec(
                name, "mbnet", {"residual": True, "pretrained": mb.weights_policy(quick)},
                mb.MBNET_LOSS, {**mb.MBNET_SHORT_BUDGETS[quick]}, mb.MBNET_TRAIN,
                "MBNET_LOSS, MBNET_SHORT_BUDGETS['quick']")
        elif name == "swapnet_illum":
            spec = _swap_a_spec()
        elif name == "swapnet_envmap":
            spec = _swap_b_spec()
        else:
            raise KeyError(f"no training recipe for {name!r}; known: {list(MODELS)}")
        out.append(spec)
    return out


class SwapAStep(nn.Module):
    """Model A and its predicter as one module for the engine: ``forward(batch)`` runs the
    generator's :meth:`outputs` (I, T and G encoded, as the any-to-any loop does for loss A)
    and returns the relit image; the whole output dict is kept for the loss
    (:meth:`loss`), which adds the predicter's L_c and L_d. One Adam over both, as the loop."""

    def __init__(self, net: nn.Module, predicter: nn.Module, objective: Any) -> None:
        super().__init__()
        self.net, self.predicter = net, predicter
        self.objective = objective
        self.last: dict[str, Any] = {}
        self.size_multiple = getattr(net, "size_multiple", 1)

    def forward(self, batch: Mapping[str, Any]) -> torch.Tensor:
        self.last = self.net.outputs(batch, with_target=True)
        return self.last["relit"]

    def loss(self, pred: torch.Tensor, batch: Mapping[str, Any]) -> torch.Tensor:
        return self.objective(self.last, batch, self.predicter)[0]


def _swap_a_spec() -> TrainSpec:
    from relight_lib.papers import profiles
    from relight_lib.papers.swapnet import any2any, objective

    prof = profiles.PROFILES["quick"]
    head = objective.resolve_temperature_head(None, paper_budget=False)

    def build():
        torch.manual_seed(0)
        net = objective.build_swap_model("swapnet_illum")
        pred = net.make_predicter(prof.size, temperature=head)
        step = SwapAStep(net, pred, objective.SwapObjective("A"))
        return step, step.loss, []

    lr = inspect_default(any2any.run_any_to_any, "lr", 1e-3)
    # the any-to-any loop uses neither channels_last nor torch.compile (its deviations say so)
    return TrainSpec(name="swapnet_illum", build=build, batch=prof.batch_size, size=prof.size,
                     amp=prof.amp, channels_last=False, lr=float(lr),
                     make_data=lambda n, size, seed: random_items(n, size, swap=True, seed=seed),
                     source=f"run_any_to_any(loss_setting='A'), temperature head {head!r}",
                     extra={"loss": ["mse", "colour_temperature", "direction"]})


def _swap_b_spec() -> TrainSpec:
    """Any-to-any model B ("Envmap") with loss B (L1 + the log-L2 of the RGB envmaps of I
    and T), as the any-to-any loop trains it (no predicter)."""
    from relight_lib.papers import profiles
    from relight_lib.papers.swapnet import any2any, objective

    prof = profiles.PROFILES["quick"]

    def build():
        torch.manual_seed(0)
        net = objective.build_swap_model("swapnet_envmap")
        step = SwapAStep(net, None, objective.SwapObjective("B"))
        return step, step.loss, []

    lr = inspect_default(any2any.run_any_to_any, "lr", 1e-3)
    return TrainSpec(name="swapnet_envmap", build=build, batch=prof.batch_size, size=prof.size,
                     amp=prof.amp, channels_last=False, lr=float(lr),
                     make_data=lambda n, size, seed: random_items(n, size, swap=True, seed=seed),
                     source="run_any_to_any(loss_setting='B')",
                     extra={"loss": ["l1", "envmap_log_l2", "envmap_log_l2"]})


def inspect_default(fn: Callable[..., Any], name: str, fallback: Any) -> Any:
    """The default value of ``fn``'s parameter ``name`` (``fallback`` where it has none)."""
    import inspect

    p = inspect.signature(fn).parameters.get(name)
    return fallback if p is None or p.default is inspect.Parameter.empty else p.default


# --------------------------------------------------------------------------------------------
# one training step, through the engine


class PhaseClock:
    """Stamps the phases of the engine's training steps with hooks, no profiler: the model's
    forward pre- and post-hooks, a wrapper around the loss, the optimiser's global step pre- and
    post-hooks and ``fit``'s ``on_step``. Per step: ``data`` (fetching the batch and moving
    it, up to the forward), ``forward``, ``loss`` (the loss's own forward, e.g. the VGG pass;
    its backward counts as backward), ``backward`` (with ``zero_grad``), ``optimiser`` and
    ``other`` (scheduler, history). On a CPU every op is synchronous, so the stamps are exact;
    on a GPU they would only time the queueing (not used there)."""

    def __init__(self) -> None:
        self.steps: list[dict[str, float]] = []
        self._t: dict[str, float] = {}
        self._last = time.perf_counter()
        self._handles: list[Any] = []

    def attach(self, model: nn.Module, loss_fn: Callable[..., torch.Tensor]
               ) -> Callable[..., torch.Tensor]:
        from torch.optim.optimizer import (register_optimizer_step_post_hook,
                                           register_optimizer_step_pre_hook)

        def pre(mod, args):
            self._t.setdefault("forward_start", time.perf_counter())

        def post(mod, args, out):
            self._t["forward_end"] = time.perf_counter()

        self._handles += [model.register_forward_pre_hook(pre),
                          model.register_forward_hook(post),
                          register_optimizer_step_pre_hook(
                              lambda *a: self._t.__setitem__("opt_start", time.perf_counter())),
                          register_optimizer_step_post_hook(
                              lambda *a: self._t.__setitem__("opt_end", time.perf_counter()))]

        def timed_loss(pred, batch):
            self._t["loss_start"] = time.perf_counter()
            value = loss_fn(pred, batch)
            self._t["loss_end"] = time.perf_counter()
            return value

        return timed_loss

    def on_step(self, step: int, loss: float) -> None:
        now = time.perf_counter()
        t = self._t
        if all(k in t for k in ("forward_start", "forward_end", "loss_start", "loss_end",
                                "opt_start", "opt_end")):
            self.steps.append({
                "data": t["forward_start"] - self._last,
                "forward": t["forward_end"] - t["forward_start"],
                "loss": t["loss_end"] - t["loss_start"],
                "backward": t["opt_start"] - t["loss_end"],
                "optimiser": t["opt_end"] - t["opt_start"],
                "other": now - t["opt_end"],
                "total": now - self._last})
        self._t = {}
        self._last = now

    def detach(self) -> None:
        for h in self._handles:
            h.remove()
        self._handles = []


def _fit_steps(spec: TrainSpec, steps: int, *, channels_last: bool | None = None,
               batch: int | None = None, compile: bool = False, without_perceptual: bool = False,
               norm: str | None = None, fill_uninitialized: bool | None = None,
               device: str = "cpu", seed: int = 0,
               hooks: Callable[[nn.Module], Any] | None = None,
               wrap: Callable[[Callable[[], Any]], Any] | None = None,
               on_step: Callable[[int, float], None] | None = None) -> PhaseClock:
    """Train ``spec`` for ``steps`` steps through :func:`relight_lib.library.train.fit` on
    random in-memory data and return the :class:`PhaseClock` of the steps. The keyword
    arguments are the levers' arms (None: as the spec trains)."""
    from relight_lib.library.train import TrainConfig, fit

    build = spec.build_without_perceptual if without_perceptual else spec.build
    if build is None:
        raise ValueError(f"{spec.name}: its loss has no perceptual term")
    net, loss_fn, _ = build()
    if norm is not None:
        swap_instance_norm(net, norm)
    bs = batch or spec.batch
    needs = tuple(getattr(net, "needs", ()))
    data = (spec.make_data(2 * bs, spec.size, seed) if spec.make_data is not None
            else random_items(2 * bs, spec.size, needs, seed=seed))
    cfg = TrainConfig(steps=steps, batch_size=bs, lr=spec.lr, betas=spec.betas, device=device,
                      amp=spec.amp, compile=compile, seed=seed,
                      channels_last=spec.channels_last if channels_last is None
                      else channels_last)
    clock = PhaseClock()
    timed_loss = clock.attach(net, loss_fn)

    def step_hook(step: int, value: float) -> None:
        clock.on_step(step, value)
        if on_step is not None:
            on_step(step, value)

    def go():
        return fit(net, timed_loss, data, None, cfg, progress=False, on_step=step_hook)

    from relight_lib.library import train

    saved = train.FILL_UNINITIALIZED
    if fill_uninitialized is not None:
        train.FILL_UNINITIALIZED = fill_uninitialized
    try:
        (wrap(go) if wrap is not None else go())
    finally:
        clock.detach()
        train.FILL_UNINITIALIZED = saved
    return clock


def swap_instance_norm(model: nn.Module, to: str = "instance") -> int:
    """Replace every affine instance norm of ``model`` by ``nn.InstanceNorm2d`` (``to=
    'instance'``, how LTNet computed it before) or by
    :class:`~relight_lib.library.models.ltnet.GroupInstanceNorm` (``'group'``, its default now):
    the same function and parameters, the arms of the normalisation lever. Returns how many
    were replaced."""
    from relight_lib.library.models.ltnet import GroupInstanceNorm

    if to not in ("instance", "group"):
        raise ValueError(f"to must be 'instance' or 'group', got {to!r}")
    n = 0
    for mod in list(model.modules()):
        for child_name, child in list(mod.named_children()):
            if not (isinstance(child, nn.InstanceNorm2d) and child.affine
                    and not child.track_running_stats):
                continue
            if (to == "group") == isinstance(child, GroupInstanceNorm):
                continue
            new = (GroupInstanceNorm(child.num_features, eps=child.eps) if to == "group"
                   else nn.InstanceNorm2d(child.num_features, eps=child.eps, affine=True))
            new.load_state_dict(child.state_dict())
            setattr(mod, child_name, new)
            n += 1
    return n


def count_step(spec: TrainSpec, device: str = "cpu") -> tuple[int, int]:
    """FLOPs and eager tensor traffic (bytes) of one training step of ``spec`` through the
    engine (the first step; a step's work is the same every step)."""
    from relight_lib.bench import TensorTraffic

    def wrap(go):
        with FlopCounterMode(display=False) as fc, TensorTraffic() as tt:
            go()
        wrap.result = (int(fc.get_total_flops()), int(tt.bytes))

    _fit_steps(spec, 1, device=device, wrap=wrap)
    return wrap.result


def time_spec(spec: TrainSpec, steps: int = 3, warmup: int = 1, **arms: Any
              ) -> dict[str, Any]:
    """Median seconds per step of ``spec`` over ``steps`` steps after ``warmup`` untimed ones,
    and the mean seconds of each phase over the same steps (``arms``: see :func:`_fit_steps`)."""
    clock = _fit_steps(spec, warmup + steps, **arms)
    timed = clock.steps[warmup:] if len(clock.steps) > warmup else clock.steps
    totals = [s["total"] for s in timed]
    return {"s_per_step": statistics.median(totals), "times": totals,
            "phases": {p: statistics.fmean(s[p] for s in timed) for p in PHASES}}


def profile_spec(spec: TrainSpec, top: int = 10, warmup: int = 1) -> list[dict[str, Any]]:
    """The ``top`` operators by self CPU time of one training step (after ``warmup`` unprofiled
    steps), with their share of the step's total self CPU time. Rows of
    :data:`PROFILE_COLUMNS`; a last row ``(other operators)`` holds the rest."""
    from torch.profiler import ProfilerActivity, profile, schedule

    holder: dict[str, Any] = {}

    def ready(prof):  # the active step's events, kept before the profiler clears them
        holder["events"] = list(prof.key_averages())

    def wrap(go):
        with warnings.catch_warnings():
            # "the profiler clears events at the end of each cycle": ``ready`` has kept them
            warnings.filterwarnings("ignore", message="Warning: Profiler clears events")
            with profile(activities=[ProfilerActivity.CPU], on_trace_ready=ready,
                         schedule=schedule(wait=0, warmup=warmup, active=1)) as prof:
                holder["prof"] = prof
                go()

    _fit_steps(spec, warmup + 1, wrap=wrap, on_step=lambda s, v: holder["prof"].step())
    events = [e for e in holder.get("events", []) if e.self_cpu_time_total > 0
              and not e.key.startswith("ProfilerStep")]
    total = sum(e.self_cpu_time_total for e in events)
    events.sort(key=lambda e: e.self_cpu_time_total, reverse=True)
    rows = [{"model": spec.name, "operator": e.key,
             "self_cpu_share": e.self_cpu_time_total / total,
             "self_cpu_ms_per_step": e.self_cpu_time_total / 1e3, "calls_per_step": e.count}
            for e in events[:top]]
    rest = events[top:]
    if rest:
        rows.append({"model": spec.name, "operator": "(other operators)",
                     "self_cpu_share": sum(e.self_cpu_time_total for e in rest) / total,
                     "self_cpu_ms_per_step": sum(e.self_cpu_time_total for e in rest) / 1e3,
                     "calls_per_step": sum(e.count for e in rest)})
    return rows


# --------------------------------------------------------------------------------------------
# levers: two arms, interleaved


def interleaved(a: Callable[[], dict[str, Any]], b: Callable[[], dict[str, Any]], rounds: int = 2
                ) -> tuple[float, float]:
    """Median seconds per step of two arms run A, B, A, B, ... (``rounds`` times each), so that
    a change of the machine's load during the run falls on both."""
    ta, tb = [], []
    for _ in range(rounds):
        ta += a()["times"]
        tb += b()["times"]
    return statistics.median(ta), statistics.median(tb)


@contextlib.contextmanager
def num_threads(n: int):
    """``torch.set_num_threads(n)`` inside the block; the previous count restored after."""
    old = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(old)


_SUBPROCESS_SNIPPET = """
import json, sys
from relight_lib import bench_flops as b
spec = b.quick_specs([sys.argv[1]])[0]
arms = {"without_perceptual": True} if sys.argv[4:] == ["without_perceptual"] else {}
r = b.time_spec(spec, steps=int(sys.argv[2]), warmup=1, compile=sys.argv[3] == "compile",
                **arms)
print("RESULT " + json.dumps(r["times"]))
"""


def time_in_subprocess(name: str, steps: int, env: Mapping[str, str | None] | None = None,
                       timeout: float = 300, compile: bool = False,
                       without_perceptual: bool = False) -> list[float]:
    """Step times of ``name`` (after one untimed step) measured in a fresh Python process with
    ``env`` applied to the environment (a None value unsets the variable): for settings read once when the OpenMP runtime starts
    (``OMP_WAIT_POLICY``), and for ``torch.compile``, whose compilation can then be cut off by
    ``timeout`` (``subprocess.TimeoutExpired``). ``without_perceptual`` times the loss without
    its VGG term (:func:`_fit_steps`)."""
    full = dict(os.environ)
    for k, v in dict(env or {}).items():
        if v is None:
            full.pop(k, None)
        else:
            full[k] = v
    proc = subprocess.run([sys.executable, "-c", _SUBPROCESS_SNIPPET, name, str(steps),
                           "compile" if compile else "eager"]
                          + (["without_perceptual"] if without_perceptual else []),
                          capture_output=True, text=True, timeout=timeout, env=full,
                          cwd=Path(__file__).resolve().parents[1])
    for line in proc.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[7:])
    raise RuntimeError(f"subprocess failed (exit {proc.returncode}): "
                       f"{(proc.stderr.strip().splitlines() or [''])[-1][:200]}")


def lever_row(model: str, lever: str, baseline: str, variant: str, s_base: float | None,
              s_var: float | None, work_ratio: float = 1.0, note: str = "") -> dict[str, Any]:
    """One row of :data:`LEVER_COLUMNS`; ``work_ratio`` = the variant's FLOPs per step over the
    baseline's (2 for a doubled batch)."""
    ok = s_base is not None and s_var is not None and s_base > 0 and s_var > 0
    return {"model": model, "lever": lever, "baseline": baseline, "variant": variant,
            "s_per_step_baseline": s_base if ok else "", "s_per_step_variant": s_var if ok else "",
            "ratio": s_base / s_var if ok else "",
            "gflops_ratio": work_ratio * s_base / s_var if ok else "", "note": note}


def measure_levers(specs: Mapping[str, TrainSpec], steps: int = 1, rounds: int = 2,
                   compile_budget_s: float = 60.0, log: Callable[[str], Any] = print
                   ) -> list[dict[str, Any]]:
    """Each lever of issue 27 as before/after ratios, arms interleaved (:func:`interleaved`).
    Levers on LTNet* (the model to raise): channels_last vs contiguous (fp32), the instance
    norm as ``InstanceNorm2d`` vs ``group_norm``, deterministic mode's NaN fill of new tensors
    on vs off (MBNet too), batch 16 vs 8, 1 vs 2 threads, the OpenMP wait policy (passive vs the default,
    in fresh processes, one round), ``torch.compile`` (in a fresh process: skipped, with the
    reason, when compiling takes more than ``compile_budget_s``); the perceptual loss with vs
    without its VGG term for each model whose loss has one (one round: the longest steps);
    1 vs 2 threads for DMSHN too."""
    rows: list[dict[str, Any]] = []

    def arm(spec, **kw):
        return lambda: time_spec(spec, steps=steps, warmup=1, **kw)

    lt = specs.get("ltnet")
    if lt is not None:
        log("lever: channels_last")
        a, b = interleaved(arm(lt, channels_last=False), arm(lt, channels_last=True), rounds)
        rows.append(lever_row("ltnet", "channels_last", "contiguous", "channels_last", a, b,
                              note="fp32; the quick profile trains channels_last already"))
        log("lever: norm")
        a, b = interleaved(arm(lt, norm="instance"), arm(lt, norm="group"), rounds)
        rows.append(lever_row("ltnet", "norm", "InstanceNorm2d", "group_norm (C groups)", a, b,
                              note="the same function: one group per channel; group_norm is "
                                   "LTNet's default now"))
        rows.append(fill_lever(lt, steps, rounds, log))
        log("lever: batch")
        a, b = interleaved(arm(lt), arm(lt, batch=2 * lt.batch), rounds)
        rows.append(lever_row("ltnet", "batch", f"batch {lt.batch}", f"batch {2 * lt.batch}",
                              a, b, work_ratio=2.0,
                              note="gflops_ratio: per-image throughput; a larger batch needs a "
                                   "matched learning rate and fewer steps"))
    for name in ("ltnet", "dmshn"):
        spec = specs.get(name)
        if spec is None:
            continue
        log(f"lever: threads ({name})")

        def one_thread(spec=spec):
            with num_threads(1):
                return time_spec(spec, steps=steps, warmup=1)
        a, b = interleaved(arm(spec), one_thread, rounds)
        rows.append(lever_row(name, "threads", f"{torch.get_num_threads()} threads",
                              "1 thread", a, b,
                              note="on a shared machine the answer depends on the load"))
    if lt is not None:
        log("lever: OMP_WAIT_POLICY")
        try:
            ta, tb = [], []
            for _ in range(1):  # one round: the default policy's steps are long under load
                ta += time_in_subprocess("ltnet", steps, {"OMP_WAIT_POLICY": None})
                tb += time_in_subprocess("ltnet", steps, {"OMP_WAIT_POLICY": "PASSIVE"})
            rows.append(lever_row("ltnet", "omp_wait_policy", "default (active spinning)",
                                  "OMP_WAIT_POLICY=PASSIVE", statistics.median(ta),
                                  statistics.median(tb),
                                  note="fresh processes; waiting OpenMP threads sleep instead "
                                       "of spinning on cores another process needs"))
        except (RuntimeError, subprocess.TimeoutExpired) as e:
            rows.append(lever_row("ltnet", "omp_wait_policy", "default", "PASSIVE", None, None,
                                  note=f"not measured: {str(e)[:200]}"))
        log("lever: torch.compile")
        rows.append(_compile_lever(lt, steps, compile_budget_s))
    if "mbnet" in specs:  # its Adam states and activations are the largest new tensors
        rows.append(fill_lever(specs["mbnet"], steps, rounds, log))
    for name, spec in specs.items():
        if spec.build_without_perceptual is None:
            continue
        log(f"lever: perceptual loss ({name})")
        # one round: these models' steps are the longest, and the VGG term's share is large
        a, b = interleaved(arm(spec), arm(spec, without_perceptual=True), 1)
        rows.append(lever_row(name, "perceptual_loss", "loss as trained",
                              "without the VGG term", a, b,
                              note="1 - 1/ratio = the VGG term's share of the step (forward and "
                                   "backward)"))
    return rows


def fill_lever(spec: TrainSpec, steps: int = 1, rounds: int = 2,
               log: Callable[[str], Any] = print) -> dict[str, Any]:
    """Deterministic mode's NaN fill of every new tensor on vs off for ``spec``, interleaved."""
    log(f"lever: deterministic fill ({spec.name})")
    a, b = interleaved(lambda: time_spec(spec, steps=steps, warmup=1, fill_uninitialized=True),
                       lambda: time_spec(spec, steps=steps, warmup=1), rounds)
    return lever_row(spec.name, "deterministic_fill", "NaN fill of new tensors", "no fill",
                     a, b, note="torch.utils.deterministic.fill_uninitialized_memory under "
                                "deterministic algorithms; no fill is fit's default now")


def _compile_lever(spec: TrainSpec, steps: int, budget_s: float) -> dict[str, Any]:
    """``torch.compile`` (inductor) vs eager for ``spec``, each in a fresh process (the same
    environment): skipped, with the reason, when the compiled process (its first step compiles
    the forward and the backward) does not finish within ``budget_s``."""
    try:
        compiled = time_in_subprocess(spec.name, steps, timeout=budget_s, compile=True)
        eager = time_in_subprocess(spec.name, steps, timeout=budget_s)
    except subprocess.TimeoutExpired:
        return lever_row(spec.name, "torch_compile", "eager", "torch.compile (inductor)", None,
                         None, note=f"skipped: compiling the training step (forward and "
                                    f"backward) did not finish within {budget_s:.0f} s here")
    except RuntimeError as e:  # a compiler that fails here is the answer
        return lever_row(spec.name, "torch_compile", "eager", "torch.compile (inductor)", None,
                         None, note=f"skipped: {str(e)[:200]}")
    return lever_row(spec.name, "torch_compile", "eager", "torch.compile (inductor)",
                     statistics.median(eager), statistics.median(compiled),
                     note="fresh processes; the compiling first step untimed")


# --------------------------------------------------------------------------------------------
# the table and the files


def efficiency_row(spec: TrainSpec, precision: str, flops: int, s_per_step: float,
                   peak: float | None) -> dict[str, Any]:
    """One row of :data:`FLOPS_COLUMNS`."""
    gflop = flops / 1e9
    achieved = gflop / s_per_step
    return {"model": spec.name, "precision": precision, "size": spec.size, "batch": spec.batch,
            "gflop_per_step": gflop, "s_per_step": s_per_step, "gflops_achieved": achieved,
            "machine_peak_gflops": peak if peak else "",
            "fraction_of_peak": achieved / peak if peak else ""}


def bench_model(spec: TrainSpec, peak_rows: Sequence[Mapping[str, Any]], steps: int = 3,
                warmup: int = 1, top: int = 10, device: str = "cpu") -> dict[str, Any]:
    """Everything measured for one model: the efficiency row, the top operators, the phases and
    the details for the metadata (FLOPs, tensor traffic, step times, what the loss holds)."""
    from relight_lib.library.utils import bf16_native

    amp = spec.amp and bf16_native(device)
    precision = ("bf16" if amp else "fp32") + ("_cl" if spec.channels_last else "")
    flops, traffic = count_step(spec, device)
    t = time_spec(spec, steps=steps, warmup=warmup, device=device)
    row = efficiency_row(spec, precision, flops, t["s_per_step"],
                         machine_peak(peak_rows, "bf16" if amp else "fp32"))
    total = sum(t["phases"].values())
    phases = [{"model": spec.name, "phase": p, "share": v / total, "ms_per_step": 1e3 * v}
              for p, v in t["phases"].items()]
    prof = profile_spec(spec, top=top)
    _, _, dropped = spec.build()
    detail = {"gflop_per_step": flops / 1e9, "tensor_gb_per_step": traffic / 1e9,
              "flop_per_byte": flops / traffic if traffic else None,
              "achieved_gb_per_s": traffic / 1e9 / t["s_per_step"], "step_times_s": t["times"],
              "loss_terms": spec.extra.get("loss"), "loss_dropped_here": dropped,
              "recipe": spec.source, "lr": spec.lr, "betas": list(spec.betas)}
    return {"row": row, "phases": phases, "profile": prof, "detail": detail}


def write_table(path: str | os.PathLike[str], rows: Iterable[Mapping[str, Any]],
                columns: Sequence[str]) -> Path:
    """Write ``rows`` with exactly ``columns`` (in that order) to ``path`` atomically (a
    temporary file in the same folder, then ``os.replace``). Floats keep 6 significant digits.

    Raises:
        ValueError: a row with a key not in ``columns`` (the file's schema is fixed).
    """
    path = Path(path)
    with atomic_write(path) as tmp, open(tmp, "w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=list(columns), extrasaction="raise")
        w.writeheader()
        for r in rows:
            w.writerow({k: (f"{v:.6g}" if isinstance(v, float) else v) for k, v in r.items()})
    return path


def run(models: Sequence[str] = MODELS, out_dir: str | os.PathLike[str] = "results/bench",
        steps: int = 2, lever_steps: int = 1, levers: bool = True, device: str = "cpu",
        compile_budget_s: float = 60.0, log: Callable[[str], Any] = print) -> dict[str, Path]:
    """Measure every model in ``models`` (``steps`` timed steps after one warm-up) and the
    levers (``lever_steps`` per arm and round), and write the files of the module docstring.
    Returns ``{kind: path}``."""
    from relight_lib.bench import run_context

    dev = torch.device(device)
    t_start = time.perf_counter()
    load_before = load_average()
    log(f"load average before: {load_before}")
    peak_rows = microbenchmarks(dev)
    for r in peak_rows:
        log(f"peak {r['kernel']:>22} {r['precision']}: {r['gflops']:.1f} GFLOP/s")
    specs = {s.name: s for s in quick_specs(models)}
    rows, phases, prof, details = [], [], [], {}
    for name, spec in specs.items():
        log(f"model {name}")
        try:
            got = bench_model(spec, peak_rows, steps=steps, device=device)
        except Exception as e:  # noqa: BLE001 - one failing model must not stop the others
            log(f"  failed: {type(e).__name__}: {e}")
            details[name] = {"error": f"{type(e).__name__}: {str(e)[:300]}"}
            continue
        rows.append(got["row"])
        phases += got["phases"]
        prof += got["profile"]
        details[name] = got["detail"]
        r = got["row"]
        log(f"  {r['gflop_per_step']:.1f} GFLOP/step, {r['s_per_step']:.3f} s/step, "
            f"{r['gflops_achieved']:.1f} GFLOP/s ({r['fraction_of_peak']:.1%} of peak)")
    lever_rows = (measure_levers(specs, steps=lever_steps, compile_budget_s=compile_budget_s,
                                 log=log) if levers else [])
    for r in lever_rows:
        log(f"lever {r['model']} {r['lever']}: ratio {r['ratio']}")
    slug = machine_slug(dev)
    out = Path(out_dir)
    paths = {
        "flops": write_table(out / f"{slug}-training-flops.csv", rows, FLOPS_COLUMNS),
        "profile": write_table(out / f"{slug}-training-profile.csv", prof, PROFILE_COLUMNS),
        "phases": write_table(out / f"{slug}-training-phases.csv", phases, PHASE_COLUMNS),
        "peak": write_table(out / f"{slug}-training-peak.csv", peak_rows, PEAK_COLUMNS),
    }
    if levers:
        paths["levers"] = write_table(out / f"{slug}-training-levers.csv", lever_rows,
                                      LEVER_COLUMNS)
    meta = {**run_context(dev, "training-flops", "quick"), "machine": slug,
            "load_average_before": load_before, "load_average_after": load_average(),
            "wall_s": round(time.perf_counter() - t_start, 1), "steps": steps,
            "lever_steps": lever_steps, "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY"),
            "data": "random tensors in memory (the engine's in-memory path; the arithmetic "
                    "does not depend on the values)",
            "schedule": "constant learning rate at the recipe's peak (the schedule only scales "
                        "the rate)", "models": details}
    meta_path = out / f"{slug}-training-flops.json"
    meta_path.write_text(json.dumps(meta, indent=1, default=str) + "\n")
    paths["meta"] = meta_path
    return paths


# --------------------------------------------------------------------------------------------
# what the cost table reads (``relight bench --costs``): the OpenMP wait policy and a row's steps

#: Columns of ``<machine>-training-omp.csv``: one line per model and round, the two policies
#: timed in fresh processes one after the other; ``ratio`` = default s/step / passive s/step
#: (> 1: PASSIVE is faster).
OMP_COLUMNS: tuple[str, ...] = ("model", "round", "steps", "threads", "s_per_step_default",
                                "s_per_step_passive", "ratio", "load_1min_before",
                                "load_1min_after")
#: Columns of ``<machine>-training-steps.csv``: a model's training step at the quick recipe
#: timed over many steps (the cost table's fp32 measurement of a row); ``arm`` is the loss as
#: the bench spec trains it or without its VGG term.
STEP_COLUMNS: tuple[str, ...] = ("model", "arm", "precision", "threads", "steps",
                                 "s_per_step_median", "s_per_step_mean", "omp_wait_policy",
                                 "load_1min_before", "load_1min_after", "timestamp_utc")


def _load1() -> float | None:
    la = load_average()
    return la[0] if la else None


def measure_omp_wait_policy(models: Sequence[str] = ("ltnet", "dmshn"), steps: int = 2,
                            rounds: int = 3, threads: int = 2,
                            log: Callable[[str], Any] = print) -> list[dict[str, Any]]:
    """The OpenMP wait policy: for each model and round, ``steps`` steps (after one untimed
    step) in a fresh process with ``OMP_WAIT_POLICY`` unset (the runtime's default: waiting
    threads spin), then in one with ``PASSIVE`` (they sleep); rounds alternate the order so
    that a change of load falls on both. Rows of :data:`OMP_COLUMNS`."""
    rows = []
    for name in models:
        for k in range(rounds):
            before = _load1()
            env_d = {"OMP_WAIT_POLICY": None, "OMP_NUM_THREADS": str(threads)}
            env_p = {"OMP_WAIT_POLICY": "PASSIVE", "OMP_NUM_THREADS": str(threads)}
            if k % 2 == 0:
                td = time_in_subprocess(name, steps, env_d, timeout=900)
                tp = time_in_subprocess(name, steps, env_p, timeout=900)
            else:
                tp = time_in_subprocess(name, steps, env_p, timeout=900)
                td = time_in_subprocess(name, steps, env_d, timeout=900)
            d, p = statistics.median(td), statistics.median(tp)
            rows.append({"model": name, "round": k, "steps": steps, "threads": threads,
                         "s_per_step_default": d, "s_per_step_passive": p, "ratio": d / p,
                         "load_1min_before": before, "load_1min_after": _load1()})
            log(f"omp {name} round {k}: default {d:.3f} s/step, passive {p:.3f} s/step "
                f"(x{d / p:.2f})")
    return rows


def measure_steps(name: str = "dmshn", steps: int = 20, threads: int = 2,
                  wait_policy: str | None = "PASSIVE", log: Callable[[str], Any] = print
                  ) -> list[dict[str, Any]]:
    """``steps`` training steps of ``name`` at the quick recipe through
    :func:`relight_lib.library.train.fit` (after one untimed step) in a fresh process with
    ``threads`` threads and ``OMP_WAIT_POLICY=wait_policy``, with the loss as the spec trains
    it and, where it has one, without its VGG term (e.g. MSR-Net's stage 1 is L2 alone). The
    precision is the quick profile's on this machine. Rows of :data:`STEP_COLUMNS`."""
    from datetime import datetime, timezone

    from relight_lib.library.utils import bf16_native

    spec = quick_specs([name])[0]
    arms = [("loss as trained", False)]
    if spec.build_without_perceptual is not None:
        arms.append(("without the VGG term", True))
    env = {"OMP_WAIT_POLICY": wait_policy, "OMP_NUM_THREADS": str(threads)}
    rows = []
    for arm, no_vgg in arms:
        before = _load1()
        times = time_in_subprocess(name, steps, env, timeout=1800, without_perceptual=no_vgg)
        rows.append({"model": name, "arm": arm,
                     "precision": "bf16" if spec.amp and bf16_native("cpu") else "fp32",
                     "threads": threads, "steps": len(times),
                     "s_per_step_median": statistics.median(times),
                     "s_per_step_mean": statistics.fmean(times),
                     "omp_wait_policy": wait_policy or "default",
                     "load_1min_before": before, "load_1min_after": _load1(),
                     "timestamp_utc": datetime.now(timezone.utc).isoformat(timespec="seconds")})
        log(f"steps {name} ({arm}): {rows[-1]['s_per_step_median']:.3f} s/step")
    return rows


def run_costs(out_dir: str | os.PathLike[str] = "results/bench", step_model: str = "dmshn",
              steps: int = 20, omp_models: Sequence[str] = ("ltnet", "dmshn"),
              omp_steps: int = 2, omp_rounds: int = 3,
              extra_models: Sequence[str] = COST_MODELS, extra_steps: int = 3,
              log: Callable[[str], Any] = print) -> dict[str, Path]:
    """Write ``<machine>-training-omp.csv`` (:func:`measure_omp_wait_policy`),
    ``<machine>-training-steps.csv`` (:func:`measure_steps`: ``steps`` steps of
    ``step_model``, then ``extra_steps`` of each of ``extra_models``, the models the cost table
    needs that ``--training-flops`` does not time) and their sidecar
    ``<machine>-training-steps.json`` (load average before and after, versions, commit)."""
    from relight_lib.bench import run_context

    slug = machine_slug("cpu")
    out = Path(out_dir)
    t0, before = time.perf_counter(), load_average()
    omp = measure_omp_wait_policy(omp_models, omp_steps, omp_rounds, log=log)
    stp = measure_steps(step_model, steps, log=log)
    for name in extra_models:
        stp += measure_steps(name, extra_steps, log=log)[:1]
    paths = {"omp": write_table(out / f"{slug}-training-omp.csv", omp, OMP_COLUMNS),
             "steps": write_table(out / f"{slug}-training-steps.csv", stp, STEP_COLUMNS)}
    meta = {**run_context(torch.device("cpu"), "training-costs", "quick"), "machine": slug,
            "load_average_before": before, "load_average_after": load_average(),
            "wall_s": round(time.perf_counter() - t0, 1),
            "data": "random tensors in memory (the engine's in-memory path)",
            "note": "fresh processes; other processes shared the machine (see the load)"}
    meta_path = out / f"{slug}-training-steps.json"
    meta_path.write_text(json.dumps(meta, indent=1, default=str) + "\n")
    paths["meta"] = meta_path
    return paths
