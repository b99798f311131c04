"""Relighting a user's own images: ``relight predict``.

Loads a trained checkpoint (:func:`relight_lib.library.train.model_from_checkpoint`), the user's image and
whatever else the model needs (a depth map, a guide image), and writes the relit PNG. Sides that
the model cannot take are padded (reflection) and cropped back. Images too large for memory are
processed in overlapping tiles blended with linear ramps, either on request (``tile=``) or
automatically after an out-of-memory error. Tiling is exact for models whose receptive field is
smaller than the overlap and an approximation otherwise (models with global context, such as the
any-to-any models' latent codes, see only one tile at a time).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch
from torch import nn

from relight_lib.library.data.depth import load_depth
from relight_lib.library.data.imageio import DataError, read_rgb, to_chw, write_png_rgb
from relight_lib.library.models.base import RelightModel
from relight_lib.library.train import model_from_checkpoint, predict


def load_image(path: str | os.PathLike) -> torch.Tensor:
    """A user's image as (1, 3, H, W) float32 in [0, 1] (RGBA, grey and 16-bit PNGs accepted)."""
    return torch.from_numpy(to_chw(read_rgb(path))).unsqueeze(0)


def load_depth_map(path: str | os.PathLike, size: tuple[int, int]) -> torch.Tensor:
    """A depth map as (1, 1, H, W): a VIDIT ``.npy`` (pickled dict or plain array, read safely)
    or a greyscale image; normalised to [0, 1] by its min and max, like VIDIT's depth."""
    path = Path(path)
    if path.suffix.lower() == ".npy":
        d = load_depth(path)
    else:
        d = read_rgb(path).mean(axis=2)
    if d.shape != tuple(size):
        raise DataError(f"{path}: depth is {d.shape[0]}x{d.shape[1]} but the image is "
                        f"{size[0]}x{size[1]}; give a depth map of the image's size")
    lo, hi = float(d.min()), float(d.max())
    d = (d - lo) / (hi - lo) if hi > lo else np.zeros_like(d)
    return torch.from_numpy(d.astype(np.float32))[None, None]


def _ramp(n: int, overlap: int, at_start: bool, at_end: bool) -> torch.Tensor:
    w = torch.ones(n)
    r = torch.linspace(0, 1, overlap + 2)[1:-1] if overlap > 0 else torch.ones(0)
    if not at_start and overlap:
        w[:overlap] = r
    if not at_end and overlap:
        w[-overlap:] = r.flip(0)
    return w


def _starts(size: int, tile: int, overlap: int) -> list[int]:
    if size <= tile:
        return [0]
    step = tile - overlap
    starts = list(range(0, size - tile, step)) + [size - tile]
    return sorted(set(starts))


def tiled_predict(model: nn.Module, batch: dict[str, torch.Tensor], tile: int, overlap: int = 32,
                  device: str | torch.device = "cpu") -> torch.Tensor:
    """Predict in overlapping ``tile`` x ``tile`` windows and blend them (linear ramps over the
    overlap). All (B, C, H, W) tensors of the batch are cut the same way."""
    if overlap * 2 >= tile:
        raise ValueError(f"overlap {overlap} must be less than half the tile size {tile}")
    src = batch["input"]
    b, _, h, w = src.shape
    out = torch.zeros(b, 3, h, w)
    weight = torch.zeros(1, 1, h, w)
    ys, xs = _starts(h, tile, overlap), _starts(w, tile, overlap)
    for y in ys:
        for x in xs:
            sub = {k: (v[..., y:y + tile, x:x + tile] if isinstance(v, torch.Tensor) and v.dim() == 4
                       else v) for k, v in batch.items()}
            pred = predict(model, sub, device=device).cpu()
            th, tw = pred.shape[-2:]
            wy = _ramp(th, overlap, y == 0, y + th >= h)
            wx = _ramp(tw, overlap, x == 0, x + tw >= w)
            wgt = (wy[:, None] * wx[None, :])[None, None]
            out[..., y:y + th, x:x + tw] += pred * wgt
            weight[..., y:y + th, x:x + tw] += wgt
    return out / weight.clamp_min(1e-8)


def _is_oom(e: BaseException) -> bool:
    return isinstance(e, torch.cuda.OutOfMemoryError) or "out of memory" in str(e).lower() or (
        isinstance(e, MemoryError))


def relight(model: RelightModel, image: torch.Tensor, depth: torch.Tensor | None = None,
            guide: torch.Tensor | None = None, guide_depth: torch.Tensor | None = None,
            tile: int | str | None = "auto", overlap: int = 32,
            device: str | torch.device = "cpu") -> tuple[torch.Tensor, str]:
    """Relight ``image`` (1, 3, H, W); returns the prediction and how it was computed
    (``'whole image'`` or ``'tiles of N px'``).

    Raises:
        ValueError: the model needs a depth map or a guide image that was not given.
    """
    needs = set(getattr(model, "needs", ()))
    batch: dict[str, torch.Tensor] = {"input": image}
    for key, val, flag in (("depth", depth, "--depth D.npy"), ("guide", guide, "--guide G.png"),
                           ("guide_depth", guide_depth, "--guide-depth GD.npy")):
        if key in needs and val is None:
            raise ValueError(f"this model needs a {key.replace('_', ' ')}: pass {flag}")
        if val is not None:
            batch[key] = val
    model = model.to(device).eval()
    if tile not in (None, "auto"):
        return tiled_predict(model, batch, int(tile), overlap, device), f"tiles of {tile} px"
    try:
        return predict(model, batch, device=device).cpu(), "whole image"
    except (RuntimeError, MemoryError) as e:
        if tile != "auto" or not _is_oom(e):
            raise
        if torch.cuda.is_available():
            torch.cuda.empty_cache()
    for t in (512, 256, 128):
        try:
            return tiled_predict(model, batch, t, min(overlap, t // 4), device), f"tiles of {t} px"
        except (RuntimeError, MemoryError) as e:
            if not _is_oom(e):
                raise
    raise MemoryError("the image does not fit in memory even in 128 px tiles")


def predict_file(model_name: str | None, checkpoint: str | os.PathLike, image: str | os.PathLike,
                 out: str | os.PathLike, depth: str | os.PathLike | None = None,
                 guide: str | os.PathLike | None = None,
                 guide_depth: str | os.PathLike | None = None, tile: int | str | None = "auto",
                 overlap: int = 32, device: str = "cpu") -> str:
    """The whole ``relight predict`` path: files in, PNG out; returns a one-line summary."""
    model = model_from_checkpoint(checkpoint, name=model_name)
    img = load_image(image)
    hw = tuple(img.shape[-2:])
    d = load_depth_map(depth, hw) if depth else None
    g = load_image(guide) if guide else None
    if g is not None and tuple(g.shape[-2:]) != hw:
        raise DataError(f"{guide}: the guide is {g.shape[-2]}x{g.shape[-1]} but the image is "
                        f"{hw[0]}x{hw[1]}")
    gd = load_depth_map(guide_depth, hw) if guide_depth else None
    pred, how = relight(model, img, d, g, gd, tile=tile, overlap=overlap, device=device)
    write_png_rgb(out, pred[0].numpy())
    return f"{out}: {hw[1]}x{hw[0]} px, {how}"
