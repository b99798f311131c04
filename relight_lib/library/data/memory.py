"""A training set decoded once into tensors held in memory (on the GPU when training there).

Decoding PNGs and resizing them at every step costs more than a small network's forward and
backward pass on a CPU; at the quick and gpu profiles the whole training set fits in memory
(300 pairs of 64 px RGB + depth: about 40 MB; 256 px: about 0.6 GB). :class:`InMemoryPairs`
reads every item of a map-style dataset once and serves global batches by indexing stacked
tensors; its batches are exactly what :func:`relight_lib.library.train.collate` makes of the
same items, so training on it gives the same weights as streaming (tested) and exact resume
keeps working. Flips and rotations still happen per step on the batch (the engine's
``augment``), now on tensors already in memory.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

__all__ = ["InMemoryPairs", "estimate_bytes", "to_memory"]


class InMemoryPairs:
    """The items of ``dataset``, decoded once: tensors of one shape are stacked (B, ...), other
    values (keys, lighting names) kept as lists.

    Args:
        dataset: a map-style dataset of dict items (``len`` and integer indexing).
        device: where the tensors live (``'cuda'``: the data is already on the GPU).
        progress: a progress bar while decoding.

    Raises:
        ValueError: an empty dataset, or items whose keys or tensor shapes differ (those stay
            on the streaming path).
    """

    def __init__(self, dataset, device: str | torch.device = "cpu", progress: bool = False
                 ) -> None:
        from tqdm.auto import tqdm

        n = len(dataset)
        if n == 0:
            raise ValueError("InMemoryPairs: the dataset is empty")
        items = [dataset[i] for i in tqdm(range(n), disable=not progress, desc="decode",
                                          unit="item", mininterval=2.0)]
        keys = list(items[0])
        if any(list(it) != keys for it in items):
            raise ValueError("InMemoryPairs: items have different keys")
        self.tensors: dict[str, torch.Tensor] = {}
        self.lists: dict[str, list[Any]] = {}
        for k in keys:
            vals = [it[k] for it in items]
            if all(isinstance(v, torch.Tensor) for v in vals):
                if len({tuple(v.shape) for v in vals}) != 1:
                    raise ValueError(f"InMemoryPairs: '{k}' has items of different shapes")
                self.tensors[k] = torch.stack(vals).to(device)
            else:
                self.lists[k] = vals
        self.keys = keys
        self.n = n

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i: int) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for k in self.keys:
            out[k] = self.tensors[k][i] if k in self.tensors else self.lists[k][i]
        return out

    def batch(self, indices: Sequence[int]) -> dict[str, Any]:
        """The items at ``indices`` as one batch (tensors (B, ...), the rest as lists)."""
        idx = torch.as_tensor(list(indices), dtype=torch.long)
        out: dict[str, Any] = {}
        for k in self.keys:
            if k in self.tensors:
                t = self.tensors[k]
                out[k] = t.index_select(0, idx.to(t.device))
            else:
                out[k] = [self.lists[k][i] for i in indices]
        return out

    def nbytes(self) -> int:
        return sum(t.numel() * t.element_size() for t in self.tensors.values())


def estimate_bytes(dataset) -> int:
    """Bytes the tensors of ``dataset`` would take in memory, from its first item."""
    if len(dataset) == 0:
        return 0
    first = dataset[0]
    per = sum(v.numel() * v.element_size() for v in first.values() if isinstance(v, torch.Tensor))
    return per * len(dataset)


def to_memory(dataset, device: str | torch.device = "cpu", limit_bytes: int = 4 << 30,
              progress: bool = False):
    """``dataset`` in memory when it fits under ``limit_bytes`` (default 4 GiB), else the
    dataset itself (streamed from disk: the paper profile at 1024 px on a small machine).

    Returns:
        ``(data, how)``: the dataset to train on and ``'memory'`` or ``'stream'`` with the
        reason, for ``run.json``.
    """
    need = estimate_bytes(dataset)
    if need > limit_bytes:
        return dataset, (f"stream: {need / 2**30:.1f} GiB would not fit under the "
                         f"{limit_bytes / 2**30:.1f} GiB in-memory limit")
    try:
        data = InMemoryPairs(dataset, device=device, progress=progress)
    except ValueError as e:
        return dataset, f"stream: {e}"
    return data, f"memory: {data.nbytes() / 2**20:.1f} MiB on {device}"
