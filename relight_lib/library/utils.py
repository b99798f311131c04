"""Small helpers every notebook needs: seeding, device choice, bf16 support, peak memory."""

from __future__ import annotations

import os
import random
import resource
import sys

import numpy as np
import torch


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch (CPU and CUDA) RNGs."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    os.environ.setdefault("PYTHONHASHSEED", str(seed))


def pick_device(device: str = "auto") -> torch.device:
    """``'auto'`` -> CUDA when available, else CPU; ``'cuda'`` without a GPU falls back to CPU
    with a message (a profile meant for a GPU still runs, slowly, on a laptop)."""
    if device == "auto" or (device == "cuda" and not torch.cuda.is_available()):
        if device == "cuda":
            print("CUDA requested but not available: running on the CPU", file=sys.stderr)
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def bf16_native(device: torch.device | str) -> bool:
    """Whether bf16 autocast runs natively (faster than fp32) on ``device``: always on CUDA; on
    a CPU only with AVX-512 BF16 or AMX instructions. Elsewhere bf16 is emulated and slower than
    fp32, so the engine then trains in fp32 even when a profile asks for bf16.

    >>> bf16_native("cuda")
    True
    """
    if torch.device(device).type == "cuda":
        return True
    cpu = getattr(torch, "cpu", None)
    checks = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
    return any(bool(getattr(cpu, c, lambda: False)()) for c in checks)


def peak_memory_mb(device: torch.device | str | None = None) -> float:
    """Peak memory in MiB: the CUDA allocator's peak on a GPU, else the process's peak resident
    set size (Linux reports ``ru_maxrss`` in KiB, macOS in bytes)."""
    if device is not None and torch.device(device).type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss / 2**20 if sys.platform == "darwin" else rss / 2**10
