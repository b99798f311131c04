"""Floor baselines for one-to-one relighting: every paper's method must beat these.

* ``identity``: the prediction is the input image (Score_l2 = 1 by definition).
* ``colour_lstsq``: one global affine colour transform, a 3x3 matrix plus a bias, fitted by least
  squares on all pixels of the training pairs (input RGB -> target RGB). It can model the change
  of colour temperature and overall brightness, but nothing spatial (shadows, direction).

Both take and return float32 RGB in [0, 1], shape (B, 3, H, W).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import torch


class IdentityBaseline:
    """Output = input."""

    name = "identity"

    def fit(self, pairs: Iterable[Mapping[str, torch.Tensor]]) -> "IdentityBaseline":
        return self

    def predict(self, batch: Mapping[str, torch.Tensor]) -> torch.Tensor:
        return batch["input"].clone()

    def state(self) -> dict:
        return {}


class ColourTransformBaseline:
    """Global affine colour map ``target ~= M @ input + b``, fitted by least squares.

    The normal equations are accumulated over the training items (sums of outer products), so
    fitting streams over a dataset without holding all pixels in memory.
    """

    name = "colour_lstsq"

    def __init__(self) -> None:
        self.matrix: torch.Tensor | None = None  # (3, 3)
        self.bias: torch.Tensor | None = None  # (3,)

    def fit(self, pairs: Iterable[Mapping[str, torch.Tensor]]) -> "ColourTransformBaseline":
        """Fit on items with ``input`` and ``target`` of shape (3, H, W) or (B, 3, H, W)."""
        xtx = torch.zeros(4, 4, dtype=torch.float64)
        xty = torch.zeros(4, 3, dtype=torch.float64)
        n = 0
        for item in pairs:
            x = _pixels(item["input"])
            y = _pixels(item["target"])
            xa = torch.cat([x, torch.ones(len(x), 1, dtype=x.dtype)], dim=1)
            xtx += xa.T @ xa
            xty += xa.T @ y
            n += len(x)
        if n == 0:
            raise ValueError("colour_lstsq: no training pairs to fit on")
        # lstsq rather than solve: a degenerate training set (e.g. grey images) stays finite
        sol = torch.linalg.lstsq(xtx, xty).solution  # (4, 3)
        self.matrix = sol[:3].T.float().contiguous()
        self.bias = sol[3].float().contiguous()
        return self

    def predict(self, batch: Mapping[str, torch.Tensor]) -> torch.Tensor:
        if self.matrix is None:
            raise RuntimeError("colour_lstsq: call fit() before predict()")
        x = batch["input"]
        out = torch.einsum("ij,bjhw->bihw", self.matrix.to(x), x) + self.bias.to(x)[None, :, None,
                                                                                    None]
        return out.clamp(0.0, 1.0)

    def state(self) -> dict:
        return {"matrix": self.matrix.tolist() if self.matrix is not None else None,
                "bias": self.bias.tolist() if self.bias is not None else None}


def _pixels(img: torch.Tensor) -> torch.Tensor:
    """(3, H, W) or (B, 3, H, W) -> (N, 3) float64."""
    if img.dim() == 3:
        img = img[None]
    if img.dim() != 4 or img.shape[1] != 3:
        raise ValueError(f"expected (B, 3, H, W) or (3, H, W) images, got {tuple(img.shape)}")
    return img.permute(0, 2, 3, 1).reshape(-1, 3).double()


BASELINES = {
    "identity": IdentityBaseline,
    "colour_lstsq": ColourTransformBaseline,
}


def build_baseline(name: str):
    """A fresh baseline by name (see :data:`BASELINES`)."""
    if name not in BASELINES:
        raise KeyError(f"unknown baseline {name!r}; choose from {sorted(BASELINES)}")
    return BASELINES[name]()
