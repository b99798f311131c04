"""The interface every registered model follows, so one engine trains and runs them all."""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import nn


class RelightModel(nn.Module):
    """Base class of the suite's models.

    A model takes the whole batch dict of a dataset item (``input`` (B, 3, H, W) RGB in [0, 1],
    and whatever else it declares in :attr:`needs`, e.g. ``depth`` (B, 1, H, W) or ``guide``)
    and returns the relit image (B, 3, H, W), nominally in [0, 1].

    Class attributes:
        needs: Batch keys the model reads besides ``input``; ``relight predict`` refuses to run
            without them (with a clear error).
        size_multiple: Input sides must be multiples of this (pyramids, poolings); inference
            pads with reflection and crops back, see :func:`pad_to_multiple`.
    """

    needs: tuple[str, ...] = ()
    size_multiple: int = 1

    def forward(self, batch: Mapping[str, torch.Tensor]) -> torch.Tensor:  # pragma: no cover
        raise NotImplementedError


def pad_to_multiple(x: torch.Tensor, multiple: int) -> tuple[torch.Tensor, tuple[int, int]]:
    """Reflect-pad the last two dims of ``x`` up to multiples of ``multiple``.

    Returns the padded tensor and the original (H, W) to crop back to.

    >>> y, hw = pad_to_multiple(torch.zeros(1, 3, 30, 33), 16)
    >>> tuple(y.shape), hw
    ((1, 3, 32, 48), (30, 33))
    """
    h, w = x.shape[-2:]
    ph, pw = (-h) % multiple, (-w) % multiple
    if ph or pw:
        # reflection needs pad < size; fall back to replicate for tiny inputs
        mode = "reflect" if ph < h and pw < w else "replicate"
        x = torch.nn.functional.pad(x, (0, pw, 0, ph), mode=mode)
    return x, (h, w)


def count_parameters(model: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
