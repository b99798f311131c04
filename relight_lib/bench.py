"""Performance benchmark of the registered models and of training (``relight bench``).

For every model in :mod:`relight_lib.library.models`: its parameters, the FLOPs of one forward pass per
image (``torch.utils.flop_counter``), the inference latency (median of repeated runs after
warm-up, synchronised on a GPU) and the peak memory of a forward pass, in fp32 and, on a GPU, in
bf16 autocast with channels_last, eagerly and under ``torch.compile``. From these: the achieved
FLOP/s and the tensor traffic per second, each against the device's datasheet peak where we know
it, and the PSNR between the bf16 and the fp32 outputs (the bf16 fast path is only acceptable at
or above :data:`BF16_MIN_PSNR_DB`). Training: step time, images per second and the share of the
step spent waiting for the data loader, at a profile's size and batch.

The results are one long CSV per device (``results/bench/<device-slug>.csv``, columns
:data:`COLUMNS`): one row per model x size x precision x measure, each with the device, library
versions and git commit. A measurement that fails or is not possible on this device gets a row
with an empty value and the reason in ``note``; no number is ever filled in.

How things are measured, and why:

- **FLOPs** count a multiply-add as 2 FLOPs and only the ops that ``FlopCounterMode`` knows
  (convolutions, matrix products, attention); element-wise ops, norms and resampling are not
  counted, so FLOP/s are a lower bound of the arithmetic done. FLOPs do not depend on precision.
- **Tensor traffic** (``bytes``) sums, for every aten op of the eager forward pass, the sizes of
  its tensor inputs and outputs: the memory traffic an unfused implementation moves, an upper
  bound of what a fused or cached one moves. FLOPs / bytes is the arithmetic intensity; below
  the device's ridge point (peak FLOP/s / peak bandwidth) a model is limited by memory traffic
  and its achieved bandwidth is the number to compare with the device's.
- **Latency** is :func:`time_call`: ``warmup`` untimed calls, then the median of ``repeats``
  timed calls of :func:`relight_lib.library.train.predict` (padding, autocast, crop and clamp included),
  each bracketed by ``torch.cuda.synchronize`` on a GPU. Batch 1, one image.
- **Peak memory** (:class:`PeakMemory`) is the memory a forward pass adds on top of what is
  allocated before it (weights and inputs are excluded; they are the ``weights_mb`` row and
  ``3 * H * W * 4`` bytes). On a GPU: ``torch.cuda.max_memory_allocated`` after
  ``reset_peak_memory_stats`` minus ``memory_allocated`` before. On a CPU under Linux the
  process's resident-set high-water mark ``VmHWM`` is reset by writing ``5`` to
  ``/proc/self/clear_refs`` (Linux >= 4.0), freed heap is returned with ``malloc_trim`` first,
  and the measure is ``VmHWM`` after the call minus ``VmRSS`` before it. Unlike
  ``tracemalloc`` (which does not see torch's C++ allocations) or ``ru_maxrss`` (which never
  goes down, so a second model would read 0) this sees every allocation and starts afresh for
  each measurement. Other threads of the process count too (small here). Where ``clear_refs``
  is missing the row says so.
- **Device peaks** are vendor datasheet numbers (:data:`GPU_PEAKS`). For CPUs we give none: a
  CPU's peak depends on its SIMD width, clocks under load and how many cores torch actually
  gets, none of which we can read reliably on a shared virtual machine; the achieved GFLOP/s
  and GB/s are reported without a ratio.
"""

from __future__ import annotations

import contextlib
import copy
import csv
import ctypes
import dataclasses
import datetime as _dt
import gc
import json
import math
import os
import re
import statistics
import sys
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten
from torch.utils.flop_counter import FlopCounterMode

from relight_lib.harness.bench_results import (  # noqa: F401  (re-exported for callers)
    COLUMNS,
    PAPER_RUNTIME_ROWS,
    compare_with_papers,
    load_bench,
    paper_runtimes,
    reported_hardware,
)
from relight_lib.library.data.imageio import atomic_write

#: The precisions measured: plain fp32; bf16 autocast with channels_last; the same compiled.
PRECISIONS: tuple[str, ...] = ("fp32", "bf16_cl", "bf16_cl_compile")

#: Below this PSNR (dB) between the bf16 and the fp32 outputs, bf16 is not fit to be the default.
BF16_MIN_PSNR_DB = 40.0

#: Dense (no sparsity) peak throughput in TFLOP/s and memory bandwidth in TB/s, SXM boards.
#: Sources: NVIDIA H100 Tensor Core GPU datasheet (H100 SXM: FP32 67, TF32 989 and BF16 1,979
#: "with sparsity", i.e. 494.5 and 989.5 dense; HBM3 3.35 TB/s); NVIDIA H200 Tensor Core GPU
#: datasheet (H200 SXM: the same compute as H100 SXM; HBM3e 4.8 TB/s); NVIDIA A100 Tensor Core
#: GPU datasheet (A100 SXM: FP32 19.5, TF32 156, BF16 312 dense; 80 GB 2,039 GB/s, 40 GB
#: 1,555 GB/s). Matched against ``torch.cuda.get_device_name`` in order; PCIe/NVL boards have
#: other numbers and are deliberately not matched.
GPU_PEAKS: tuple[tuple[str, dict[str, float]], ...] = (
    ("H200", {"fp32": 67.0, "tf32": 494.5, "bf16": 989.5, "bandwidth_tbs": 4.8}),
    ("H100 80GB HBM3", {"fp32": 67.0, "tf32": 494.5, "bf16": 989.5, "bandwidth_tbs": 3.35}),
    ("H100 SXM", {"fp32": 67.0, "tf32": 494.5, "bf16": 989.5, "bandwidth_tbs": 3.35}),
    ("A100-SXM4-80GB", {"fp32": 19.5, "tf32": 156.0, "bf16": 312.0, "bandwidth_tbs": 2.039}),
    ("A100-SXM4-40GB", {"fp32": 19.5, "tf32": 156.0, "bf16": 312.0, "bandwidth_tbs": 1.555}),
)

NOT_ON_CPU = ("not measured: CPU (bf16 autocast, channels_last and torch.compile are measured "
              "on a GPU)")
NO_CPU_PEAK = ("no peak for CPUs: it depends on SIMD width, clocks under load and the cores torch "
               "gets on a shared machine; not invented")


# --------------------------------------------------------------------------------------------
# device, provenance, rows


def slug(text: str) -> str:
    """Lower-case ``text`` with runs of other characters turned into single hyphens.

    >>> slug("NVIDIA H100 80GB HBM3")
    'nvidia-h100-80gb-hbm3'
    """
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "unknown"


def device_name(device: torch.device) -> str:
    """The GPU's name, or the CPU's model name from ``/proc/cpuinfo``."""
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    from relight_lib.library.record import cpu_name

    return cpu_name() or "unknown CPU"


def device_slug(device: torch.device) -> str:
    """File stem for a device: ``cpu-<cpu model>`` or the GPU's name (``nvidia-h200``)."""
    name = device_name(device)
    return slug(name) if device.type == "cuda" else "cpu-" + slug(name)


def gpu_peak(name: str) -> dict[str, float] | None:
    """Datasheet peaks (:data:`GPU_PEAKS`) of the GPU called ``name``, or None if not listed."""
    for key, peaks in GPU_PEAKS:
        if key.lower() in name.lower():
            return peaks
    return None


def run_context(device: torch.device, setting: str, profile: str = "") -> dict[str, Any]:
    """Columns shared by every row of a run: device, versions, commit, load, time."""
    from relight_lib import __version__
    from relight_lib.harness.results import provenance

    prov = provenance()
    try:
        load = round(os.getloadavg()[0], 2)
    except OSError:  # pragma: no cover - not on Linux/macOS
        load = ""
    return {
        "device": device.type, "device_name": device_name(device),
        "threads": torch.get_num_threads(), "load_1min": load, "torch": torch.__version__,
        "relight_lib": __version__, "python": sys.version.split()[0],
        "git_commit": prov.get("git_commit") or "", "git_dirty": prov.get("git_dirty"),
        "setting": setting, "profile": profile,
        "timestamp_utc": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
    }


def row(section: str, model: str, measure: str, value: float | None = None, unit: str = "",
        note: str = "", size: int | str = "", precision: str = "", **extra: Any
        ) -> dict[str, Any]:
    """One result row (the run's shared columns are added by :func:`write_csv`). A value that
    is None or not finite is written empty: the ``note`` says why."""
    if value is not None and not (isinstance(value, (int, float)) and math.isfinite(value)):
        value = None
    return {"section": section, "model": model, "size": size, "precision": precision,
            "measure": measure, "value": "" if value is None else value, "unit": unit,
            "note": note, **extra}


def write_csv(path: str | os.PathLike[str], rows: Iterable[Mapping[str, Any]],
              context: Mapping[str, Any]) -> Path:
    """Write ``rows`` (plus the shared ``context`` columns) to ``path`` atomically: a temporary
    file in the same folder, then ``os.replace``; an interrupted write never leaves half a file."""
    path = Path(path)
    with atomic_write(path) as tmp, open(tmp, "w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=list(COLUMNS), extrasaction="raise")
        w.writeheader()
        for r in rows:
            w.writerow({**{k: "" for k in COLUMNS}, **context,
                        **{k: v for k, v in r.items() if v != "" or k not in context}})
    return path


def error_text(exc: BaseException) -> str:
    """``'error: <Type>: <first line of the message>'`` (at most 300 characters)."""
    msg = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"error: {type(exc).__name__}: {msg}"[:300]


# --------------------------------------------------------------------------------------------
# measuring one call


@dataclass
class Timing:
    """Seconds of the timed calls (warm-up calls excluded) and their median."""

    times: list[float]
    warmup: int
    requested: int = 0

    @property
    def median(self) -> float:
        return statistics.median(self.times)

    def describe(self) -> str:
        cut = (f" (of {self.requested} requested: the time budget)"
               if self.requested > len(self.times) else "")
        return (f"median of {len(self.times)}{cut} after {self.warmup} warm-up; "
                f"min {min(self.times):.4g} s, max {max(self.times):.4g} s")


def time_call(fn: Callable[[], Any], repeats: int = 3, warmup: int = 1,
              sync: Callable[[], None] | None = None,
              clock: Callable[[], float] = time.perf_counter,
              on_warmup: Callable[[int, Callable[[], Any]], Any] | None = None,
              budget_s: float | None = None) -> Timing:
    """Call ``fn`` ``warmup`` times untimed, then ``repeats`` times timed.

    Args:
        fn: The work, with no arguments.
        repeats: Timed calls (>= 1).
        warmup: Untimed calls first (compilation, allocator and kernel caches warm up).
        sync: Called before starting and before stopping the clock (``torch.cuda.synchronize``
            on a GPU, where calls only queue work).
        clock: Seconds clock (tests pass a fake one).
        on_warmup: If given, warm-up call ``i`` is made as ``on_warmup(i, fn)`` instead of
            ``fn()``, so that counters and memory probes wrap an untimed call.
        budget_s: If given, make only as many timed calls (at least one) as fit in this many
            seconds at the duration of the last warm-up call; :meth:`Timing.describe` says so.

    Returns:
        :class:`Timing` of the timed calls.
    """
    if repeats < 1:
        raise ValueError(f"repeats must be >= 1, got {repeats}")
    sync = sync or (lambda: None)
    requested = repeats
    for i in range(warmup):
        sync()
        t0 = clock()
        on_warmup(i, fn) if on_warmup is not None else fn()
        sync()
        last = clock() - t0
        if budget_s is not None and i == warmup - 1 and last > 0:
            repeats = max(1, min(repeats, int(budget_s // last)))
    times = []
    for _ in range(repeats):
        sync()
        t0 = clock()
        fn()
        sync()
        times.append(clock() - t0)
    return Timing(times, warmup, requested)


class TensorTraffic(TorchDispatchMode):
    """Counts the bytes of every tensor input and output of the aten ops run inside it: the
    memory traffic of an unfused (eager) implementation.

    >>> with TensorTraffic() as t:
    ...     _ = torch.zeros(4, 4) + 1
    >>> t.bytes  # zeros writes 64 B; add reads 64 B and writes 64 B
    192
    """

    def __init__(self) -> None:
        super().__init__()
        self.bytes = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        for t in tree_flatten((args, kwargs or {}, out))[0]:
            if isinstance(t, torch.Tensor):
                self.bytes += t.numel() * t.element_size()
        return out


def count_flops_bytes(fn: Callable[[], Any]) -> tuple[Any, int, int]:
    """Run ``fn()`` once under ``FlopCounterMode`` and :class:`TensorTraffic`; returns its
    result, the FLOPs (a multiply-add = 2) and the bytes of tensor traffic."""
    with FlopCounterMode(display=False) as fc, TensorTraffic() as tt:
        out = fn()
    return out, int(fc.get_total_flops()), int(tt.bytes)


def _proc_status_kib(field_name: str) -> int | None:
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith(field_name + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def _malloc_trim() -> None:
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)


class PeakMemory:
    """Context manager: memory (MiB) added at the peak of the block over what was allocated
    when it started; ``mb`` is None and ``reason`` says why when it cannot be measured.

    GPU: ``max_memory_allocated - memory_allocated`` (caching allocator, after a reset).
    CPU (Linux): ``VmHWM`` after minus ``VmRSS`` before, with ``VmHWM`` reset through
    ``/proc/self/clear_refs`` (see the module docstring for why this and not tracemalloc).
    """

    def __init__(self, device: torch.device) -> None:
        self.device = device
        self.mb: float | None = None
        self.reason = ""
        self._base = 0

    def __enter__(self) -> PeakMemory:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
            torch.cuda.reset_peak_memory_stats(self.device)
            self._base = torch.cuda.memory_allocated(self.device)
            return self
        gc.collect()
        _malloc_trim()
        try:
            with open("/proc/self/clear_refs", "w", encoding="ascii") as f:
                f.write("5")  # reset the peak RSS (VmHWM) to the current RSS
        except OSError as e:
            self.reason = f"not measured: cannot reset the peak RSS ({e.__class__.__name__})"
            self._base = -1
            return self
        self._base = _proc_status_kib("VmRSS") or -1
        return self

    def __exit__(self, *exc: Any) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
            self.mb = (torch.cuda.max_memory_allocated(self.device) - self._base) / 2**20
            return
        hwm = _proc_status_kib("VmHWM")
        if self._base < 0 or hwm is None:
            self.reason = self.reason or "not measured: no /proc/self/status"
            return
        self.mb = max(0, hwm - self._base) / 1024


def psnr_db(a: torch.Tensor, b: torch.Tensor) -> float:
    """PSNR (dB) between two images in [0, 1], over all elements; inf when they are equal."""
    mse = torch.mean((a.float() - b.float()) ** 2).item()
    return float("inf") if mse == 0 else 10.0 * math.log10(1.0 / mse)


# --------------------------------------------------------------------------------------------
# inference


def make_batch(needs: Sequence[str], size: int, device: torch.device, channels_last: bool = False,
               batch: int = 1, seed: int = 0) -> dict[str, torch.Tensor]:
    """Random inputs for a model: ``input`` and every key in ``needs`` (1 channel for depth-like
    keys, 3 for the rest), in [0, 1], on ``device``."""
    g = torch.Generator().manual_seed(seed)
    out = {"input": torch.rand(batch, 3, size, size, generator=g)}
    for key in needs:
        out[key] = torch.rand(batch, 1 if "depth" in key else 3, size, size, generator=g)
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    return {k: v.to(device).contiguous(memory_format=fmt) for k, v in out.items()}


def _prepare(model: nn.Module, precision: str, device: torch.device) -> nn.Module:
    model = model.to(device).eval()
    if precision.startswith("bf16_cl"):
        model = model.to(memory_format=torch.channels_last)
    if precision.endswith("compile"):
        model = torch.compile(model)
    return model


def throughput_rows(model: str, size: int, precision: str, flops: int | None,
                    traffic: int | None, seconds: float, device: torch.device,
                    name: str) -> list[dict[str, Any]]:
    """Achieved TFLOP/s and GB/s of one latency, each against the device's peak where known.

    The ratio to compare is the one for what limits the model: arithmetic intensity
    ``flops / bytes`` below the device's ridge point (peak FLOP/s / peak bandwidth) means
    memory traffic, else compute; the ``bound`` row says which (1 memory, 0 compute).
    """
    out = []
    peaks = gpu_peak(name) if device.type == "cuda" else None
    if device.type == "cuda" and peaks is None:
        no_peak = f"no datasheet peak listed for {name} (bench.GPU_PEAKS)"
    else:
        no_peak = NO_CPU_PEAK
    peak_flops = None
    peak_note = ""
    if peaks is not None:
        if precision.startswith("bf16"):
            peak_flops, peak_note = peaks["bf16"], "against the dense BF16 tensor-core peak"
        elif torch.backends.cudnn.allow_tf32:
            # cuDNN runs fp32 convolutions on TF32 tensor cores unless told not to
            peak_flops, peak_note = peaks["tf32"], "against the dense TF32 peak (cudnn.allow_tf32)"
        else:
            peak_flops, peak_note = peaks["fp32"], "against the FP32 peak"
    kw = dict(size=size, precision=precision)
    if flops:
        tflops = flops / seconds / 1e12
        out.append(row("inference", model, "achieved_tflops", tflops, "TFLOP/s",
                       "counted FLOPs / median latency", **kw))
        out.append(row("inference", model, "tflops_ratio",
                       tflops / peak_flops if peak_flops else None, "fraction of peak",
                       peak_note if peak_flops else no_peak, **kw))
    if traffic:
        gbs = traffic / seconds / 1e9
        out.append(row("inference", model, "achieved_gbps", gbs, "GB/s",
                       "eager tensor traffic / median latency (upper bound of DRAM traffic)",
                       **kw))
        bw = peaks["bandwidth_tbs"] * 1e3 if peaks else None
        out.append(row("inference", model, "bandwidth_ratio", gbs / bw if bw else None,
                       "fraction of peak", "against the HBM datasheet bandwidth" if bw
                       else no_peak, **kw))
        if flops and peaks is not None and peak_flops:
            ridge = peak_flops * 1e12 / (peaks["bandwidth_tbs"] * 1e12)
            intensity = flops / traffic
            out.append(row("inference", model, "memory_bound", float(intensity < ridge), "0/1",
                           f"intensity {intensity:.1f} FLOP/B vs ridge {ridge:.1f} FLOP/B", **kw))
    return out


def bench_inference(name: str, net: nn.Module, sizes: Sequence[int], device: torch.device,
                    precisions: Sequence[str], repeats: int = 3, warmup: int = 1,
                    tick: Callable[[str], None] | None = None,
                    budget_s: float | None = None) -> list[dict[str, Any]]:
    """All inference rows of one built model (see the module docstring for the measures).

    FLOPs and tensor traffic are counted, and peak memory is taken, on the last warm-up call of
    each eager precision (untimed); under ``torch.compile`` the eager counts of the same
    precision are reused, and memory is taken on the second warm-up call (the first compiles).
    """
    from relight_lib.library.train import predict

    tick = tick or (lambda s: None)
    rows: list[dict[str, Any]] = []
    needs = tuple(getattr(net, "needs", ()))
    dev_name = device_name(device)
    sync = (lambda: torch.cuda.synchronize(device)) if device.type == "cuda" else None
    for size in sizes:
        ref: torch.Tensor | None = None
        counts: dict[str, tuple[int, int]] = {}
        for precision in PRECISIONS:
            kw = dict(size=size, precision=precision)
            tick(f"{name} {size}px {precision}")
            if precision not in precisions:
                reason = NOT_ON_CPU if device.type == "cpu" else "not measured: not requested"
                rows.append(row("inference", name, "latency_s", None, "s", reason, **kw))
                continue
            try:
                amp = precision.startswith("bf16")
                compiled = precision.endswith("compile")
                model = _prepare(copy.deepcopy(net) if precision != "fp32" else net,
                                 precision, device)
                batch = make_batch(needs, size, device, channels_last=amp)
                state: dict[str, Any] = {}

                def call(model=model, batch=batch, amp=amp):
                    return predict(model, batch, device=device, amp=amp)

                last = (2 if compiled else 1) + max(0, warmup - 1) - 1

                def on_warmup(i: int, fn, state=state, last=last, compiled=compiled):
                    if i != last:
                        return fn()
                    with PeakMemory(device) as mem:
                        if compiled:
                            state["out"] = fn()
                        else:
                            state["out"], state["flops"], state["bytes"] = count_flops_bytes(fn)
                    state["mem"] = mem
                    return state["out"]

                timing = time_call(call, repeats, last + 1, sync, on_warmup=on_warmup,
                                   budget_s=budget_s)
                key = "bf16" if amp else "fp32"
                if not compiled:
                    counts[key] = (state["flops"], state["bytes"])
                flops, traffic = counts.get(key, counts.get("fp32", (None, None)))
                mem: PeakMemory = state["mem"]
                if precision == "fp32":
                    ref = state["out"]
                    rows.append(row("inference", name, "flops", flops, "FLOP",
                                    "per image, multiply-add = 2 (torch.utils.flop_counter)",
                                    size=size, precision=""))
                rows.append(row("inference", name, "tensor_bytes", traffic, "B",
                                "eager tensor traffic per image" + (
                                    " (eager count reused for the compiled model)"
                                    if compiled else ""), **kw))
                rows.append(row("inference", name, "latency_s", timing.median, "s",
                                timing.describe(), **kw))
                rows.append(row("inference", name, "peak_mem_mb", mem.mb, "MiB",
                                mem.reason or "added by the forward pass over weights and input",
                                **kw))
                rows += throughput_rows(name, size, precision, flops, traffic, timing.median,
                                        device, dev_name)
                if amp:
                    if ref is None:
                        rows.append(row("inference", name, "psnr_vs_fp32_db", None, "dB",
                                        "not measured: no fp32 output to compare with", **kw))
                    else:
                        p = psnr_db(state["out"], ref)
                        rows.append(row("inference", name, "psnr_vs_fp32_db",
                                        min(p, 999.0), "dB",
                                        f"same random input and weights; >= {BF16_MIN_PSNR_DB} "
                                        "dB required for the fast path", **kw))
                        rows.append(row("inference", name, "fast_path_ok",
                                        float(p >= BF16_MIN_PSNR_DB), "0/1",
                                        f"PSNR {p:.1f} dB vs {BF16_MIN_PSNR_DB} dB", **kw))
                del model, batch, state
            except Exception as e:  # noqa: BLE001 - one failing measurement must not stop the rest
                rows.append(row("inference", name, "latency_s", None, "s", error_text(e), **kw))
            finally:
                if device.type == "cuda":
                    torch.cuda.empty_cache()
                if precision.endswith("compile"):
                    torch._dynamo.reset()
    return rows


# --------------------------------------------------------------------------------------------
# training


class _RandomPairs(torch.utils.data.Dataset):
    """Synthetic items (random images) for when no rendered data is available."""

    def __init__(self, needs: Sequence[str], size: int, n: int = 64) -> None:
        self.needs, self.size, self.n = tuple(needs), size, n

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        b = make_batch(self.needs, self.size, torch.device("cpu"), seed=i)
        item = {k: v[0] for k, v in b.items()}
        item["target"] = torch.rand(3, self.size, self.size,
                                    generator=torch.Generator().manual_seed(10_000 + i))
        return item


def training_dataset(needs: Sequence[str], profile: Any) -> tuple[Any, str]:
    """The profile's training data for a model that reads ``needs``: Track 1 pairs, or
    any-to-any samples when it needs a ``guide``. Falls back to random tensors when the data
    is not rendered; the second value says which."""
    from relight_lib.library.data.vidit import AnyToAnyDataset, OneToOneDataset
    from relight_lib.papers import profiles

    profile = profiles.for_seed(profile, profile.seeds[0])  # seed 0's set, when drawn per seed
    try:
        if "guide" in needs:
            ds = AnyToAnyDataset(profile.any2any_root, "train", size=profile.size, n_pairs=256)
            return ds, f"SynVIDIT any-to-any at {profile.any2any_root}"
        ds = OneToOneDataset(profile.track1_root, "train", size=profile.size)
        return ds, f"SynVIDIT Track 1 at {profile.track1_root}"
    except Exception as e:  # noqa: BLE001 - e.g. not rendered yet
        return _RandomPairs(needs, profile.size), f"random tensors ({error_text(e)})"


def bench_training(name: str, net: nn.Module, profile: Any, device: torch.device,
                   steps: int = 3, warmup: int = 1, workers: int | None = None
                   ) -> list[dict[str, Any]]:
    """Step time, images per second and the data-wait share of training ``net``.

    One Adam step on an L1 loss per batch of the profile's size and batch size (the papers'
    perceptual and LPIPS terms are left out: they add a fixed VGG/AlexNet pass and are not the
    model's cost). On a GPU with the profile's bf16 autocast and channels_last. The loader is a
    ``DataLoader`` with ``workers`` processes (default: none on a CPU, where workers would take
    the cores the step needs; up to 8 on a GPU), prefetching 2 batches each and pinned memory on
    a GPU. ``data_wait_share`` is the time blocked in ``next(loader)`` over the whole step time.
    """
    from relight_lib.library.train import collate, to_device

    needs = tuple(getattr(net, "needs", ()))
    ds, source = training_dataset(needs, profile)
    if workers is None:
        workers = 0 if device.type == "cpu" else min(8, max(1, (os.cpu_count() or 2) - 1))
    bs = profile.batch_size
    amp = device.type == "cuda" and profile.amp
    cl = device.type == "cuda" and profile.channels_last
    precision = "bf16_cl" if amp and cl else ("bf16" if amp else "fp32")
    loader = torch.utils.data.DataLoader(
        ds, batch_size=bs, shuffle=True, num_workers=workers, collate_fn=collate, drop_last=True,
        pin_memory=device.type == "cuda", prefetch_factor=2 if workers else None,
        persistent_workers=bool(workers), generator=torch.Generator().manual_seed(0))
    model = net.to(device).train()
    if cl:
        model = model.to(memory_format=torch.channels_last)
    opt = torch.optim.Adam(model.parameters(), lr=1e-4)
    it = iter(loader)
    waits, totals = [], []
    sync = (lambda: torch.cuda.synchronize(device)) if device.type == "cuda" else (lambda: None)
    for step in range(warmup + steps):
        sync()
        t0 = time.perf_counter()
        try:
            batch = next(it)
        except StopIteration:
            it = iter(loader)
            batch = next(it)
        t1 = time.perf_counter()
        batch = to_device(batch, device, cl)
        if "depth" in needs and "depth" not in batch and "input_depth" in batch:
            batch["depth"] = batch["input_depth"]
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp):
            pred = model(batch)
        loss = torch.nn.functional.l1_loss(pred.float(), batch["target"])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sync()
        t2 = time.perf_counter()
        if step >= warmup:
            waits.append(t1 - t0)
            totals.append(t2 - t0)
    del it, loader
    step_s = statistics.median(totals)
    note = (f"batch {bs} at {profile.size} px, median of {steps} steps after {warmup} warm-up; "
            f"L1 loss, Adam; {workers} loader worker(s); data: {source}")
    kw = dict(size=profile.size, precision=precision, profile=profile.name)
    wait_note = ("time blocked on the loader / step time"
                 + ("" if not source.startswith("random") else
                    "; synthetic data, so this is not the real loader's cost"))
    return [row("training", name, "step_s", step_s, "s", note, **kw),
            row("training", name, "images_per_s", bs / step_s, "images/s", note, **kw),
            row("training", name, "data_wait_share",
                None if source.startswith("random") else sum(waits) / sum(totals),
                "fraction", wait_note if not source.startswith("random")
                else "not measured: no rendered data (run `relight render --preset "
                f"{profile.name}`)", **kw)]


# --------------------------------------------------------------------------------------------
# the suite's own timings


def suite_rows(path: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """Rows for ``make test`` / ``make book`` wall times measured by hand and kept in a JSON
    file: ``{"make_test_s": 812.0, "make_book_s": {"quick": 95.0, "smoke": 40.0}}`` (a number,
    or a profile -> number mapping; an optional ``"note"`` string is copied to every row)."""
    data = json.loads(Path(path).read_text())
    note = str(data.pop("note", f"measured by hand, from {Path(path).name}"))
    out = []
    for measure, value in data.items():
        items = value.items() if isinstance(value, Mapping) else [("", value)]
        for profile, v in items:
            out.append(row("suite", "", measure, float(v), "s", note, profile=profile))
    return out


# --------------------------------------------------------------------------------------------
# the whole benchmark


@dataclass
class BenchConfig:
    """What ``relight bench`` measures.

    Attributes:
        models: Registered names (default: all).
        sizes: Square image sides for FLOPs, latency and memory.
        repeats: Timed inference calls per measurement (the median is kept).
        warmup: Untimed calls before them.
        train_steps: Timed training steps per model (0: no training rows).
        train_profile: Profile whose data, size and batch the training rows use (default:
            ``quick`` on a CPU, ``gpu`` on a GPU).
        device: ``auto`` | ``cpu`` | ``cuda``.
        compile: Include the ``torch.compile`` precision on a GPU.
        workers: Loader workers for training (None: automatic, see :func:`bench_training`).
        suite_times: JSON file of ``make test`` / ``make book`` times (:func:`suite_rows`).
        budget_s: Seconds of timed inference calls per measurement: fewer than ``repeats`` when
            one call is long (at least one; see :func:`time_call`). None: always ``repeats``.
        setting: Label written to every row (``full`` or ``quick``).
    """

    models: Sequence[str] | None = None
    sizes: Sequence[int] = (256, 1024)
    repeats: int = 3
    warmup: int = 1
    train_steps: int = 3
    train_profile: str | None = None
    device: str = "auto"
    compile: bool = True
    workers: int | None = None
    suite_times: str | None = None
    budget_s: float | None = None
    setting: str = "full"
    extra: dict[str, Any] = field(default_factory=dict)


QUICK = dict(sizes=(256,), repeats=2, train_steps=2, train_profile="smoke", setting="quick")


def run(config: BenchConfig, out: str | os.PathLike[str] | None = None, progress: bool = True,
        builder: Callable[[str], nn.Module] | None = None) -> tuple[Path, list[dict[str, Any]]]:
    """Run the benchmark and write the CSV (atomically, also when interrupted by Ctrl-C, with
    a row saying so). Returns the CSV path and the rows.

    Args:
        config: :class:`BenchConfig`.
        out: CSV path (default ``results/bench/<device-slug>.csv``, ``-quick`` appended for the
            quick setting).
        progress: tqdm progress bar.
        builder: ``name -> model`` (default :func:`relight_lib.library.models.build_model`; tests pass
            one that fails).
    """
    from tqdm.auto import tqdm

    from relight_lib.papers import profiles
    from relight_lib.library.models import build_model, count_parameters, list_models
    from relight_lib.library.utils import pick_device

    device = pick_device(config.device)
    names = list(config.models or list_models())
    builder = builder or build_model
    prof = profiles.resolve(config.train_profile or ("gpu" if device.type == "cuda" else "quick"))
    if out is None:
        stem = device_slug(device) + ("-quick" if config.setting == "quick" else "")
        out = Path("results/bench") / f"{stem}.csv"
    precisions = ["fp32"]
    if device.type == "cuda":
        precisions += ["bf16_cl"] + (["bf16_cl_compile"] if config.compile else [])
    context = run_context(device, config.setting)
    rows: list[dict[str, Any]] = []
    per_model = len(config.sizes) * len(PRECISIONS) + (1 if config.train_steps else 0) + 1
    bar = tqdm(total=len(names) * per_model, disable=not progress, unit="step", desc="bench")
    t_start = time.perf_counter()

    def tick(label: str) -> None:
        bar.set_postfix_str(label, refresh=False)
        bar.update(1)

    try:
        for name in names:
            tick(f"{name} build")
            try:
                torch.manual_seed(0)
                net = builder(name)
            except Exception as e:  # noqa: BLE001 - record and go on with the next model
                rows.append(row("model", name, "error", None, "", "build failed: "
                                + error_text(e)))
                bar.update(per_model - 1)
                continue
            n_params = count_parameters(net)
            rows.append(row("model", name, "params", n_params, "count", "trainable parameters"))
            rows.append(row("model", name, "weights_mb",
                            sum(p.numel() * p.element_size() for p in net.parameters()) / 2**20,
                            "MiB", "fp32 weights"))
            rows += bench_inference(name, net, config.sizes, device, precisions,
                                    config.repeats, config.warmup, tick, config.budget_s)
            if config.train_steps:
                tick(f"{name} train")
                try:
                    rows += bench_training(name, net, prof, device, config.train_steps,
                                           workers=config.workers)
                except Exception as e:  # noqa: BLE001
                    rows.append(row("training", name, "step_s", None, "s", error_text(e),
                                    size=prof.size, profile=prof.name))
            del net
            gc.collect()
    except KeyboardInterrupt:
        rows.append(row("run", "", "interrupted", None, "", "interrupted by the user: rows for "
                        "the remaining models are missing"))
        bar.close()
        write_csv(out, rows, context)
        raise
    bar.close()
    if config.suite_times:
        rows += suite_rows(config.suite_times)
    rows.append(row("run", "", "wall_s", time.perf_counter() - t_start, "s",
                    f"models {','.join(names)}; sizes {','.join(map(str, config.sizes))}; "
                    f"repeats {config.repeats}; time budget {config.budget_s} s; "
                    f"train steps {config.train_steps}"))
    return write_csv(out, rows, context), rows


# --------------------------------------------------------------------------------------------
# the training data path: streamed from disk against decoded once into memory


def bench_data_path(name: str, profile: Any, device: torch.device, steps: int = 10,
                    warmup: int = 2, limit_bytes: int = 4 << 30) -> list[dict[str, Any]]:
    """Seconds per step and images per second of training ``name`` through the engine's real
    path (:func:`relight_lib.library.train.fit`, L1 loss, the profile's batch and size), with
    the training set streamed from disk (decoded at every step) and decoded once into memory
    (:mod:`relight_lib.library.data.memory`), in one run so that the ratio is fair on a shared
    machine. Both paths train identical weights (tested); only the time differs.

    Both are timed in fp32. Where the profile trains in bf16 autocast with channels_last and
    the device runs bf16 natively (:func:`relight_lib.library.utils.bf16_native`), the memory
    path is timed a third time that way (precision ``bf16_cl``: the rows' actual training
    path), with its speed-up over fp32 (``speedup_precision``) from the same run."""
    import copy

    from relight_lib.library.data.memory import to_memory
    from relight_lib.library.models import build_model
    from relight_lib.library.train import TrainConfig, fit
    from relight_lib.library.utils import bf16_native

    net = build_model(name)
    needs = tuple(getattr(net, "needs", ()))
    data, source = training_dataset(needs, profile)
    if source.startswith("random"):
        return [row("training_path", name, "error", None, "", f"not measured: {source}",
                    size=profile.size, profile=profile.name)]
    mem, how = to_memory(data, device, limit_bytes)
    cfg = TrainConfig(steps=warmup + steps, batch_size=profile.batch_size, lr=1e-4,
                      device=str(device), deterministic=False)

    def loss(pred, batch):
        return torch.nn.functional.l1_loss(pred, batch["target"])

    paths = [("stream", data, "fp32"), ("memory", mem, "fp32")]
    if profile.amp and profile.channels_last and bf16_native(device):
        paths.append(("memory", mem, "bf16_cl"))
    out, step_s = [], {}
    for path, ds, precision in paths:
        stamps: list[float] = []
        sync = (lambda: torch.cuda.synchronize(device)) if device.type == "cuda" else (
            lambda: None)

        def on_step(step: int, value: float) -> None:
            sync()
            stamps.append(time.perf_counter())

        stamps.append(time.perf_counter())
        bf16 = precision == "bf16_cl"
        run_cfg = dataclasses.replace(cfg, amp=bf16, channels_last=bf16)
        fit(copy.deepcopy(net), loss, ds, None, run_cfg, progress=False, on_step=on_step)
        per = [b - a for a, b in zip(stamps[warmup:], stamps[warmup + 1:])]
        step = statistics.median(per)
        step_s[(path, precision)] = step
        note = (f"{path}: batch {profile.batch_size} at {profile.size} px, median of {steps} "
                f"steps after {warmup} warm-up, through fit() with an L1 loss"
                + (", bf16 autocast and channels_last" if bf16 else "") + f"; data: {source}"
                + (f"; {how}" if path == "memory" else ""))
        kw = dict(size=profile.size, precision=precision, profile=profile.name)
        out += [row("training_path", name, f"step_s_{path}", step, "s", note, **kw),
                row("training_path", name, f"images_per_s_{path}",
                    profile.batch_size / step, "images/s", note, **kw)]
    fp32 = step_s[("memory", "fp32")]
    out.append(row("training_path", name, "speedup_memory", step_s[("stream", "fp32")] / fp32,
                   "x", "stream step time / memory step time, measured in one run",
                   size=profile.size, precision="fp32", profile=profile.name))
    if ("memory", "bf16_cl") in step_s:
        out.append(row("training_path", name, "speedup_precision",
                       fp32 / step_s[("memory", "bf16_cl")], "x",
                       "fp32 step time / bf16 + channels_last step time (both in memory), "
                       "measured in one run", size=profile.size, precision="bf16_cl",
                       profile=profile.name))
    return out
