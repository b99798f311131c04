"""Image-quality metrics of the suite: PSNR, SSIM, LPIPS, MPS, Score_l2 — conventions stated once.

Conventions (every function and module here):

* **Inputs**: float tensors of shape (B, C, H, W), normally float32 RGB (C = 3) in [0, 1]; the data
  range is 1 (``data_range=1.0``). PSNR and SSIM accept any C; LPIPS needs C = 3.
* **Per image, then averaged**: every metric is computed for each image of the batch and the batch
  value is the mean of those (``reduction='mean'``; ``'none'`` gives the (B,) per-image values,
  ``'sum'`` their sum). This is what evaluation scripts that loop over images report, and it does
  not depend on the batch size. It differs from kornia's ``psnr``, which takes one MSE over the
  whole batch (mean inside the log); see the test ``test_per_image_vs_batch_mse``.
* **PSNR**: ``10 log10(data_range**2 / MSE)`` with the MSE over channels and pixels of one image,
  computed on RGB. Identical images give ``+inf`` for that image, and then the batch mean is
  ``inf`` too: that is the honest value, not a clipped one.
* **SSIM** (Wang et al. 2004): Gaussian window 11 x 11 with sigma 1.5, K1 = 0.01, K2 = 0.03,
  population (not sample) covariances, computed per RGB channel with *valid* filtering (no padding,
  the map is (H - 10) x (W - 10)), then the mean over channels and pixels of each image. This equals
  ``skimage.metrics.structural_similarity(a, b, gaussian_weights=True, sigma=1.5,
  use_sample_covariance=False, data_range=1, channel_axis=-1)`` (whose border crop equals valid
  filtering) and pytorch-msssim's ``ssim(..., data_range=1)``; it is pinned against scikit-image in
  the tests. Not on the Y channel, not downsampled as MATLAB's ``ssim`` does for large images.
* **LPIPS**: v0.1, AlexNet trunk, RGB mapped from [0, 1] to [-1, 1] (the de-facto default; the
  papers do not state it, papers.md section 2.2). The trunk is *never* random and never downloaded:
  without the ImageNet AlexNet file (:mod:`relight_lib.library.weights`) the metric is unavailable and
  returns NaN with a reason (ARCHITECTURE.md section 6).
* **MPS** (NTIRE 2021): ``0.5 * (SSIM + 1 - LPIPS)``; NaN when LPIPS is NaN.
* **Score_l2** (2DSceneRelighting code): ``mean MSE(input, GT) / mean MSE(prediction, GT)``, a
  ratio of means over the images, as their code computes it on a batch; > 1 means better than
  returning the input unchanged (their report's formula prints the reciprocal). This is the one
  metric that is not a mean of per-image values: its per-image values (``reduction='none'``)
  are linearised contributions whose mean is the ratio (see :func:`score_l2`).
  ``score_l2_pairmean`` is the mean of the per-image ratios (heavy-tailed: one pair whose input
  is already close to the ground truth can dominate it).
* **DSSIM** ``(1 - SSIM) / 2``: what kornia <= 0.4 returned as "ssim", hence very likely the
  2DSceneRelighting report's "SSIM" column (papers.md section 6.11); use :func:`dssim` to compare.

Example:
    >>> x = torch.full((2, 3, 16, 16), 0.5)
    >>> psnr(x + 0.1, x).round()
    tensor(20.)
    >>> float(ssim(x, x))
    1.0
"""

from __future__ import annotations

import contextlib
import functools
import io
import math
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import torch
import torch.nn.functional as F
from torch import nn

from relight_lib.library import weights as _weights

__all__ = [
    "METRICS",
    "MSE",
    "PSNR",
    "SSIM",
    "EvalResult",
    "LPIPSMetric",
    "ScoreL2",
    "dssim",
    "evaluate",
    "lpips_distance",
    "lpips_metric",
    "mps",
    "mse",
    "psnr",
    "score_l2",
    "score_l2_pairmean",
    "ssim",
    "ssim_map",
]

Reduction = Literal["mean", "none", "sum"]
_REDUCTIONS = ("mean", "none", "sum")

# Stabilisers of Wang et al. 2004 (and of skimage, pytorch-msssim, kornia).
SSIM_K1 = 0.01
SSIM_K2 = 0.03


# ---------------------------------------------------------------------------------------------
# checks and reductions


def _check_image(x: Any, name: str) -> None:
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
    if x.ndim != 4:
        raise ValueError(f"{name} must have rank 4 (B, C, H, W), got shape {tuple(x.shape)}")
    if not x.is_floating_point():
        raise ValueError(f"{name} must be a floating tensor with values in [0, 1], got {x.dtype}")


def _check_pair(pred: Any, target: Any) -> None:
    _check_image(pred, "pred")
    _check_image(target, "target")
    if pred.shape != target.shape:
        raise ValueError(
            f"shape mismatch: pred {tuple(pred.shape)} vs target {tuple(target.shape)}"
        )


def _check_reduction(reduction: str) -> None:
    if reduction not in _REDUCTIONS:
        raise ValueError(f"reduction must be 'mean', 'none' or 'sum', got {reduction!r}")


def _check_range(data_range: float) -> None:
    if not isinstance(data_range, (int, float)) or not data_range > 0:
        raise ValueError(f"data_range must be a positive number, got {data_range!r}")


def _reduce(values: torch.Tensor, reduction: str) -> torch.Tensor:
    """(B,) per-image values -> (B,) | scalar."""
    if reduction == "none":
        return values
    if reduction == "sum":
        return values.sum()
    return values.mean()


# ---------------------------------------------------------------------------------------------
# MSE, PSNR, Score_l2


def mse(pred: torch.Tensor, target: torch.Tensor, reduction: Reduction = "mean") -> torch.Tensor:
    """Mean squared error per image (over channels and pixels).

    Args:
        pred: (B, C, H, W) float.
        target: same shape as ``pred``.
        reduction: ``'mean'`` (default) over images | ``'none'`` -> (B,) | ``'sum'``.

    Returns:
        Scalar, or (B,) for ``'none'``.

    Example:
        >>> mse(torch.zeros(2, 3, 4, 4), torch.ones(2, 3, 4, 4), reduction="none")
        tensor([1., 1.])
    """
    _check_pair(pred, target)
    _check_reduction(reduction)
    values = (pred - target).pow(2).flatten(1).mean(1)
    return _reduce(values, reduction)


class MSE(nn.Module):
    """Module form of :func:`mse` (same arguments)."""

    def __init__(self, reduction: Reduction = "mean") -> None:
        super().__init__()
        _check_reduction(reduction)
        self.reduction = reduction

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return mse(pred, target, self.reduction)


def psnr(
    pred: torch.Tensor,
    target: torch.Tensor,
    data_range: float = 1.0,
    reduction: Reduction = "mean",
) -> torch.Tensor:
    """Peak signal-to-noise ratio in dB, per image, then reduced.

    ``10 * log10(data_range**2 / MSE)`` with the MSE of each image over channels and pixels.

    Args:
        pred: (B, C, H, W) float, values in [0, data_range].
        target: same shape as ``pred``.
        data_range: peak value; default 1.0 (images in [0, 1]).
        reduction: ``'mean'`` (default) over images | ``'none'`` -> (B,) | ``'sum'``.

    Returns:
        Scalar, or (B,) for ``'none'``. An image identical to its target gives ``+inf``; the mean
        of a batch containing one is then ``inf``.

    Raises:
        ValueError: rank other than 4, shape mismatch, unknown reduction, data_range <= 0.

    Example:
        >>> t = torch.full((1, 3, 8, 8), 0.5)
        >>> psnr(t + 0.01, t, reduction="none").round()
        tensor([40.])
        >>> psnr(t, t)
        tensor(inf)
    """
    _check_pair(pred, target)
    _check_reduction(reduction)
    _check_range(data_range)
    err = (pred - target).pow(2).flatten(1).mean(1)
    # data_range**2 / 0 = inf -> log10 = inf: identical images are +inf, on purpose.
    values = 10.0 * torch.log10(data_range**2 / err)
    return _reduce(values, reduction)


class PSNR(nn.Module):
    """Module form of :func:`psnr` (same arguments)."""

    def __init__(self, data_range: float = 1.0, reduction: Reduction = "mean") -> None:
        super().__init__()
        _check_range(data_range)
        _check_reduction(reduction)
        self.data_range = data_range
        self.reduction = reduction

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return psnr(pred, target, self.data_range, self.reduction)


def score_l2(
    inp: torch.Tensor,
    pred: torch.Tensor,
    target: torch.Tensor,
    reduction: Reduction = "mean",
) -> torch.Tensor:
    """2DSceneRelighting's Score_l2, the way its numbers were computed: a ratio of mean MSEs,
    ``R = mean_i MSE(I_i, G_i) / mean_i MSE(Ĝ_i, G_i)``.

    Orientation of their code (papers.md section 0 item 6, 6.11): > 1 means the predictions are
    closer to the ground truth than the unchanged inputs, 1 means no better than doing nothing.
    Their training script logs ``mse_loss(I, G) / mse_loss(Ĝ, G)`` with each MSE the mean over a
    batch (8 pairs for model A) and averages that over 5 evaluation batches; over a whole
    evaluation set the ratio of the set's means is the value that averaging tends to. For the
    mean of the per-pair ratios see :func:`score_l2_pairmean`.

    A ratio of means is not a mean of per-image values. So that per-image tables, seed means
    and bootstrap intervals still work, ``reduction='none'`` returns the per-image
    *linearised contributions* (influence values) ``v_i = R + (a_i - R b_i) / mean(b)`` with
    ``a_i = MSE(I_i, G_i)``, ``b_i = MSE(Ĝ_i, G_i)``: their mean is exactly ``R``, their spread
    gives the delta-method standard error of ``R``, a single image's value is its own ratio,
    and an image equal to its input gives exactly 1. They are not scores of the single image (they
    can be negative).

    Args:
        inp: (B, C, H, W) the network input (the image to relight).
        pred: same shape, the prediction.
        target: same shape, the ground truth.
        reduction: ``'mean'`` (default) -> ``R``; ``'none'`` -> (B,) contributions;
            ``'sum'`` -> their sum (``B * R``).

    Returns:
        Scalar, or (B,) for ``'none'``. Perfect predictions give ``inf`` (``nan`` if the inputs
        also equal the targets).

    Example:
        >>> g = torch.full((1, 3, 4, 4), 0.5)
        >>> round(float(score_l2(g + 0.2, g + 0.1, g)), 4)  # twice the error -> 4x the MSE
        4.0
        >>> i = torch.cat([g + 0.1, g + 0.3]); p = torch.cat([g + 0.1, g + 0.1])
        >>> round(float(score_l2(i, p, torch.cat([g, g]))), 4)  # (0.01 + 0.09) / 2 / 0.01
        5.0
        >>> round(float(score_l2_pairmean(i, p, torch.cat([g, g]))), 4)  # (1 + 9) / 2
        5.0
    """
    _check_pair(pred, target)
    _check_pair(inp, target)
    _check_reduction(reduction)
    a = mse(inp, target, "none")
    b = mse(pred, target, "none")
    ratio = a.mean() / b.mean()
    if reduction == "mean":
        return ratio
    b_mean = b.mean()
    if bool(b_mean > 0) and bool(torch.isfinite(ratio)):
        values = ratio + (a - ratio * b) / b_mean
    else:  # perfect predictions: every contribution is the (infinite or undefined) ratio
        values = ratio.expand_as(a).clone()
    return _reduce(values, reduction)


def score_l2_pairmean(
    inp: torch.Tensor,
    pred: torch.Tensor,
    target: torch.Tensor,
    reduction: Reduction = "mean",
) -> torch.Tensor:
    """Score_l2 per image, ``MSE(I_i, G_i) / MSE(Ĝ_i, G_i)``, then averaged (the suite's first
    reading; not how the report's numbers were computed, see :func:`score_l2`).

    Heavy-tailed: a pair whose input is already close to its ground truth (same scene, same
    direction) has a tiny numerator or denominator and can dominate the mean.

    Args:
        inp, pred, target: (B, C, H, W), as in :func:`score_l2`.
        reduction: ``'mean'`` (default) over images | ``'none'`` -> (B,) | ``'sum'``.

    Returns:
        Scalar, or (B,) for ``'none'``. A perfect prediction gives ``inf`` for that image
        (``nan`` if its input also equals its target).

    Example:
        >>> g = torch.full((1, 3, 4, 4), 0.5)
        >>> round(float(score_l2_pairmean(g + 0.2, g + 0.1, g)), 4)
        4.0
    """
    _check_pair(pred, target)
    _check_pair(inp, target)
    _check_reduction(reduction)
    values = mse(inp, target, "none") / mse(pred, target, "none")
    return _reduce(values, reduction)


class ScoreL2(nn.Module):
    """Module form of :func:`score_l2` (same arguments); ``forward(inp, pred, target)``."""

    def __init__(self, reduction: Reduction = "mean") -> None:
        super().__init__()
        _check_reduction(reduction)
        self.reduction = reduction

    def forward(
        self, inp: torch.Tensor, pred: torch.Tensor, target: torch.Tensor
    ) -> torch.Tensor:
        return score_l2(inp, pred, target, self.reduction)


# ---------------------------------------------------------------------------------------------
# SSIM


def _gaussian_1d(window_size: int, sigma: float, dtype: torch.dtype, device: torch.device):
    x = torch.arange(window_size, dtype=torch.float64) - (window_size - 1) / 2
    g = torch.exp(-(x**2) / (2 * sigma**2))
    return (g / g.sum()).to(dtype=dtype, device=device)


def _filter_valid(x: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
    """Separable depthwise Gaussian filter without padding: (B, C, H, W) -> (B, C, H-k+1, W-k+1)."""
    c = x.shape[1]
    k = g.numel()
    x = F.conv2d(x, g.view(1, 1, k, 1).expand(c, 1, k, 1), groups=c)
    return F.conv2d(x, g.view(1, 1, 1, k).expand(c, 1, 1, k), groups=c)


def _check_window(window_size: int, sigma: float, h: int, w: int) -> None:
    if not isinstance(window_size, int) or window_size < 1 or window_size % 2 == 0:
        raise ValueError(f"window_size must be a positive odd int, got {window_size!r}")
    if not sigma > 0:
        raise ValueError(f"sigma must be positive, got {sigma!r}")
    if h < window_size or w < window_size:
        raise ValueError(
            f"images of {h}x{w} are smaller than the SSIM window {window_size}x{window_size} "
            "(valid filtering needs H, W >= window_size)"
        )


def ssim_map(
    pred: torch.Tensor,
    target: torch.Tensor,
    window_size: int = 11,
    sigma: float = 1.5,
    data_range: float = 1.0,
) -> torch.Tensor:
    """Local SSIM map per channel, with valid (unpadded) Gaussian filtering.

    Args:
        pred: (B, C, H, W) float, values in [0, data_range]; H, W >= ``window_size``.
        target: same shape as ``pred``.
        window_size: odd side of the Gaussian window; default 11.
        sigma: its standard deviation in pixels; default 1.5.
        data_range: peak value; default 1.0.

    Returns:
        (B, C, H - window_size + 1, W - window_size + 1) SSIM values in [-1, 1].

    Example:
        >>> ssim_map(torch.rand(1, 3, 32, 48), torch.rand(1, 3, 32, 48)).shape
        torch.Size([1, 3, 22, 38])
    """
    _check_pair(pred, target)
    _check_range(data_range)
    _check_window(window_size, sigma, pred.shape[-2], pred.shape[-1])
    if sigma == 1.5:
        # kornia's map is this one exactly with 'valid' padding and no eps (its Gaussian is
        # fixed at sigma 1.5; other sigmas fall through to the same formula below)
        from kornia.metrics import ssim as kornia_ssim

        return kornia_ssim(pred, target, window_size, max_val=float(data_range), eps=0.0,
                           padding="valid")
    return _ssim_map_separable(pred, target, window_size, sigma, data_range)


def _ssim_map_separable(pred: torch.Tensor, target: torch.Tensor, window_size: int, sigma: float,
                        data_range: float) -> torch.Tensor:
    """Wang et al.'s SSIM map with a separable Gaussian of any sigma, valid filtering (the
    formula kornia implements for sigma 1.5; tests hold the two equal)."""
    g = _gaussian_1d(window_size, sigma, pred.dtype, pred.device)
    c1 = (SSIM_K1 * data_range) ** 2
    c2 = (SSIM_K2 * data_range) ** 2
    # One filter call on the five stacked moments: fewer kernel launches than five calls.
    c = pred.shape[1]
    moments = torch.cat([pred, target, pred * pred, target * target, pred * target], dim=1)
    mu_x, mu_y, e_xx, e_yy, e_xy = _filter_valid(moments, g).split(c, dim=1)
    # Population covariances (skimage's use_sample_covariance=False), as in Wang et al.
    var_x = e_xx - mu_x * mu_x
    var_y = e_yy - mu_y * mu_y
    cov_xy = e_xy - mu_x * mu_y
    num = (2 * mu_x * mu_y + c1) * (2 * cov_xy + c2)
    den = (mu_x * mu_x + mu_y * mu_y + c1) * (var_x + var_y + c2)
    return num / den


def ssim(
    pred: torch.Tensor,
    target: torch.Tensor,
    window_size: int = 11,
    sigma: float = 1.5,
    data_range: float = 1.0,
    reduction: Reduction = "mean",
) -> torch.Tensor:
    """Structural similarity per image (mean of :func:`ssim_map` over channels and pixels).

    Gaussian window 11, sigma 1.5, K1 = 0.01, K2 = 0.03, valid filtering, per RGB channel; equal to
    scikit-image's ``structural_similarity(..., gaussian_weights=True, sigma=1.5,
    use_sample_covariance=False, data_range=1, channel_axis=-1)``.

    Args:
        pred: (B, C, H, W) float, values in [0, data_range]; H, W >= ``window_size``.
        target: same shape as ``pred``.
        window_size: odd side of the Gaussian window; default 11.
        sigma: its standard deviation in pixels; default 1.5.
        data_range: peak value; default 1.0.
        reduction: ``'mean'`` (default) over images | ``'none'`` -> (B,) | ``'sum'``.

    Returns:
        Scalar, or (B,) for ``'none'``; 1 for identical images.

    Raises:
        ValueError: rank other than 4, shape mismatch, images smaller than the window, even
            window, unknown reduction.

    Example:
        >>> x = torch.rand(2, 3, 16, 16)
        >>> ssim(x, x, reduction="none")
        tensor([1., 1.])
    """
    _check_reduction(reduction)
    values = ssim_map(pred, target, window_size, sigma, data_range).flatten(1).mean(1)
    return _reduce(values, reduction)


class SSIM(nn.Module):
    """Module form of :func:`ssim` (same arguments)."""

    def __init__(
        self,
        window_size: int = 11,
        sigma: float = 1.5,
        data_range: float = 1.0,
        reduction: Reduction = "mean",
    ) -> None:
        super().__init__()
        _check_reduction(reduction)
        _check_range(data_range)
        self.window_size = window_size
        self.sigma = sigma
        self.data_range = data_range
        self.reduction = reduction

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return ssim(pred, target, self.window_size, self.sigma, self.data_range, self.reduction)


def dssim(ssim_value: float | torch.Tensor) -> float | torch.Tensor:
    """Structural dissimilarity ``(1 - SSIM) / 2``, in [0, 1].

    kornia 0.2-0.4 returned this from ``kornia.losses.ssim`` (with a per-pixel clamp), so the
    2DSceneRelighting report's "SSIM" column is very likely DSSIM (papers.md section 6.11).

    Args:
        ssim_value: SSIM as float or tensor (any shape).

    Returns:
        Same type and shape.

    Example:
        >>> dssim(0.6)
        0.2
    """
    return (1 - ssim_value) / 2


def mps(
    ssim_value: float | torch.Tensor, lpips_value: float | torch.Tensor | None
) -> float | torch.Tensor:
    """NTIRE 2021 Mean Perceptual Score ``0.5 * (SSIM + 1 - LPIPS)`` (higher is better).

    Linear, so the MPS of dataset means equals the mean of per-image MPS (papers.md section 2.1).

    Args:
        ssim_value: SSIM, float or tensor.
        lpips_value: LPIPS, float or tensor broadcastable with ``ssim_value``; None or NaN (LPIPS
            unavailable) gives NaN.

    Returns:
        Float or tensor; NaN where LPIPS is NaN.

    Example:
        >>> mps(0.8, 0.2)
        0.8
        >>> mps(0.8, float("nan"))
        nan
    """
    if lpips_value is None:
        lpips_value = math.nan
    return 0.5 * (ssim_value + 1 - lpips_value)


# ---------------------------------------------------------------------------------------------
# LPIPS

_LPIPS_TRUNKS = {"alex": "alexnet", "vgg": "vgg16"}


@contextlib.contextmanager
def _quiet_lpips():
    """Silence what lpips 0.1.4 prints and torchvision's deprecation warnings it triggers.

    lpips prints "Setting up [LPIPS]..." to stdout and calls ``torchvision.models.alexnet(
    pretrained=...)``, which warns twice (PerceptualSimilarity #108, fix PRs unmerged); both would
    break ``jupyter-book build -W`` and clutter notebooks.
    """
    with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r".*'pretrained' is deprecated")
        warnings.filterwarnings("ignore", message=r"Arguments other than a weight enum")
        warnings.filterwarnings("ignore", message=r".*torch\.load.*weights_only")
        yield


def _trunk_state_from_torchvision(
    trunk: nn.Module, tv_state: dict[str, torch.Tensor]
) -> dict[str, torch.Tensor]:
    """Map torchvision ``features.N.*`` keys onto lpips's ``sliceK.N.*`` trunk keys.

    lpips (``pretrained_networks.alexnet``/``vgg16``) copies ``torchvision...features[N]`` into
    ``sliceK`` under the child name ``str(N)``, so the module index N is kept; we read the slicing
    from the trunk itself instead of hard-coding it.
    """
    mapped: dict[str, torch.Tensor] = {}
    for key in trunk.state_dict():
        rest = key.split(".", 1)[1]  # 'slice2.3.weight' -> '3.weight'
        tv_key = f"features.{rest}"
        if tv_key not in tv_state:
            raise KeyError(f"checkpoint has no {tv_key!r} (needed for the LPIPS trunk {key!r})")
        mapped[key] = tv_state[tv_key]
    return mapped


class LPIPSMetric(nn.Module):
    """LPIPS v0.1 distance per image, with an ImageNet trunk from disk or not at all.

    Wraps ``lpips.LPIPS(net=net, version='0.1')``. The linear heads ship inside the lpips wheel;
    the trunk (AlexNet by default) is built random with ``pnet_rand=True`` (so lpips downloads
    nothing) and then overwritten with the torchvision checkpoint found by
    :func:`relight_lib.library.weights.find_weights`. If that file is missing the metric is *unavailable*:
    :attr:`available` is False, :attr:`reason` says which file and where it was searched, and
    calling the module returns NaN per image. A random trunk is never used for the metric.

    Inputs are [0, 1] images (mapped to [-1, 1] inside, as LPIPS expects); values outside
    [0, 1] raise, since feeding [-1, 1] images again (or [0, 1] images unmapped, as
    2DSceneRelighting did) silently changes the scale.

    Args:
        net: ``'alex'`` (default, the usual meaning of "LPIPS") or ``'vgg'``.
        reduction: ``'none'`` (default here: per-image values) | ``'mean'`` | ``'sum'``.

    Attributes:
        available: whether the trunk weights were found and loaded.
        reason: empty when available; otherwise why not.
        weights: :class:`~relight_lib.library.weights.WeightsInfo` of the trunk (for ``run.json``), or
            None when unavailable.

    Shape:
        pred, target: (B, 3, H, W) with H, W >= 32 (AlexNet's pooling needs that much);
        output (B,) for ``'none'``, scalar otherwise. Lower is more similar; 0 for identical images.
    """

    MIN_SIZE = 32

    def __init__(self, net: Literal["alex", "vgg"] = "alex", reduction: Reduction = "none") -> None:
        super().__init__()
        if net not in _LPIPS_TRUNKS:
            raise ValueError(f"net must be one of {sorted(_LPIPS_TRUNKS)}, got {net!r}")
        _check_reduction(reduction)
        self.net = net
        self.reduction = reduction
        self.version = "0.1"
        self.model: nn.Module | None = None
        self.weights: _weights.WeightsInfo | None = None
        self.available = False
        self.reason = ""
        trunk_name = _LPIPS_TRUNKS[net]
        try:
            tv_state = _weights.load_backbone_state(trunk_name)
        except (_weights.WeightsNotFound, _weights.WeightsHashMismatch) as e:
            self.reason = f"LPIPS unavailable (no random trunk is ever used): {e}"
            return
        path = _weights.find_weights(trunk_name)
        try:
            import lpips  # heavy import, only when the weights exist
        except ImportError as e:
            self.reason = f"LPIPS unavailable: the lpips package cannot be imported ({e})"
            return

        with _quiet_lpips():
            # pretrained=False: we load the heads ourselves below with weights_only=True.
            model = lpips.LPIPS(net=net, version=self.version, pretrained=False,
                                pnet_rand=True, verbose=False)
        heads = Path(lpips.__file__).parent / "weights" / f"v{self.version}" / f"{net}.pth"
        head_state = torch.load(heads, map_location="cpu", weights_only=True)
        missing = [k for k in model.state_dict() if k.startswith("lin") and k not in head_state]
        # 'lins.N' are aliases of 'linN' in lpips; only the 'linN' names are stored in the file.
        missing = [k for k in missing if not k.startswith("lins.")]
        if missing:
            raise RuntimeError(f"{heads} lacks LPIPS head weights {missing}")
        model.load_state_dict(head_state, strict=False)
        model.net.load_state_dict(_trunk_state_from_torchvision(model.net, tv_state), strict=True)
        model.eval().requires_grad_(False)
        self.model = model
        self.available = True
        self.weights = _weights.WeightsInfo(
            name=trunk_name, source="file", path=_weights.display_path(path),
            sha256=_weights.file_sha256(path),
            reason=(f"LPIPS v{self.version} {net} trunk loaded from {_weights.display_path(path)}; "
                    f"heads from the lpips package's weights/v{self.version}/{net}.pth"),
        )

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        _check_pair(pred, target)
        if pred.shape[1] != 3:
            raise ValueError(f"LPIPS needs RGB images (B, 3, H, W), got shape {tuple(pred.shape)}")
        h, w = pred.shape[-2:]
        if h < self.MIN_SIZE or w < self.MIN_SIZE:
            raise ValueError(f"LPIPS needs H, W >= {self.MIN_SIZE}, got {h}x{w}")
        for name, x in (("pred", pred), ("target", target)):
            lo, hi = float(x.min()), float(x.max())
            if lo < -1e-6 or hi > 1 + 1e-6:
                raise ValueError(
                    f"{name} values must be in [0, 1] (they are mapped to [-1, 1] inside), "
                    f"got [{lo:.4g}, {hi:.4g}]"
                )
        if self.model is None:
            values = torch.full((pred.shape[0],), math.nan, dtype=pred.dtype, device=pred.device)
        else:
            values = self.model(pred, target, normalize=True).flatten()
        return _reduce(values, self.reduction)

    def extra_repr(self) -> str:
        state = "available" if self.available else "unavailable"
        return f"net={self.net!r}, version={self.version!r}, {state}"


@functools.lru_cache(maxsize=8)
def _cached_lpips(net: str, dirs: tuple[str, ...], device: str) -> LPIPSMetric:
    return LPIPSMetric(net=net).to(device)  # type: ignore[arg-type]


def lpips_metric(
    net: Literal["alex", "vgg"] = "alex", device: str | torch.device = "cpu"
) -> LPIPSMetric:
    """Shared, cached :class:`LPIPSMetric` (``reduction='none'``) for ``net`` on ``device``.

    The cache key includes the folders searched for weights, so changing ``RELIGHT_WEIGHTS`` or
    ``TORCH_HOME`` gives a fresh instance; after copying a weights file into an already-searched
    folder, call ``lpips_metric.cache_clear()``.

    Args:
        net: ``'alex'`` (default) or ``'vgg'``.
        device: where its parameters live; default ``'cpu'``.

    Returns:
        The shared metric; check ``.available`` / ``.reason``.
    """
    dirs = tuple(str(d) for d in _weights.search_dirs())
    return _cached_lpips(net, dirs, str(torch.device(device)))


lpips_metric.cache_clear = _cached_lpips.cache_clear  # type: ignore[attr-defined]


def lpips_distance(
    pred: torch.Tensor,
    target: torch.Tensor,
    metric: LPIPSMetric | None = None,
    reduction: Reduction = "mean",
) -> torch.Tensor:
    """LPIPS v0.1 (AlexNet) distance per image, then reduced; NaN if the trunk weights are missing.

    Args:
        pred: (B, 3, H, W) float in [0, 1], H, W >= 32.
        target: same shape.
        metric: the :class:`LPIPSMetric` to use; default the cached :func:`lpips_metric` on
            ``pred``'s device.
        reduction: ``'mean'`` (default) | ``'none'`` -> (B,) | ``'sum'``.

    Returns:
        Scalar, or (B,) for ``'none'``; NaN when ``metric.available`` is False.
    """
    _check_reduction(reduction)
    if metric is None:
        metric = lpips_metric(device=pred.device)
    values = metric(pred, target)
    if values.ndim != 1:  # the metric already reduced: we cannot reduce again correctly
        raise ValueError("pass an LPIPSMetric with reduction='none' (the default)")
    return _reduce(values, reduction)


# ---------------------------------------------------------------------------------------------
# evaluation over a dataset

#: Metrics :func:`evaluate` knows, with their direction.
METRICS: dict[str, str] = {
    "psnr": "dB, higher is better",
    "ssim": "higher is better",
    "lpips": "lower is better",
    "mps": "higher is better",
    "score_l2": "ratio of mean MSEs, > 1 is better than the input",
    "score_l2_pairmean": "mean of per-image MSE ratios, > 1 is better than the input",
    "mse": "lower is better",
    "dssim": "lower is better",
}


@dataclass
class EvalResult:
    """Per-image metric values of one evaluation.

    Attributes:
        rows: long DataFrame with columns ``image`` (item key), ``metric``, ``value``; one row per
            image and metric, in dataset order.
        notes: metric -> reason, for metrics that are NaN on some or all images (for example
            ``'lpips'`` when the AlexNet weights are missing, and then ``'mps'``).
        metrics: the metric names, in the requested order.
        lpips_weights: the LPIPS trunk's ``WeightsInfo.to_dict()`` (for ``run.json``), or None.
    """

    rows: Any  # pandas.DataFrame; pandas is imported lazily
    notes: dict[str, str] = field(default_factory=dict)
    metrics: tuple[str, ...] = ()
    lpips_weights: dict[str, Any] | None = None

    def summary(self) -> Any:
        """Per-metric summary: DataFrame with columns ``metric, mean, sd, n_images``.

        ``mean`` and ``sd`` (ddof 1; NaN for one image) are over the images whose value is not NaN,
        and ``n_images`` counts those (0 when the metric is unavailable; :attr:`notes` says why).
        ``inf`` values (a perfect PSNR) are kept, so the mean is ``inf`` then.
        """
        import numpy as np
        import pandas as pd

        out = []
        for m in self.metrics or tuple(dict.fromkeys(self.rows["metric"])):
            v = self.rows.loc[self.rows["metric"] == m, "value"].dropna().to_numpy(float)
            # sd of values containing inf is undefined: NaN, without numpy's RuntimeWarning
            finite = bool(np.isfinite(v).all())
            out.append({
                "metric": m,
                "mean": float(v.mean()) if len(v) else math.nan,
                "sd": float(v.std(ddof=1)) if len(v) > 1 and finite else math.nan,
                "n_images": len(v),
            })
        return pd.DataFrame(out, columns=["metric", "mean", "sd", "n_images"])

    def wide(self) -> Any:
        """Per-image table: one row per image, one column per metric."""
        return self.rows.pivot(index="image", columns="metric", values="value")[list(self.metrics)]


def _collate(items: list[dict[str, Any]]) -> dict[str, Any]:
    """Stack tensors of equal shape; keep anything else as a list (keys, None, strings)."""
    out: dict[str, Any] = {}
    for k in items[0]:
        vals = [it.get(k) for it in items]
        if all(isinstance(v, torch.Tensor) for v in vals) and len({v.shape for v in vals}) == 1:
            out[k] = torch.stack(vals)
        else:
            out[k] = vals
    return out


def _score_l2_contributions(parts: tuple[list[torch.Tensor], list[torch.Tensor]]) -> list[float]:
    """Per-image contributions of :func:`score_l2` over a whole evaluation set, from the per-image
    MSEs of the inputs (``parts[0]``) and of the predictions (``parts[1]``), batch by batch."""
    a, b = torch.cat(parts[0]), torch.cat(parts[1])
    ratio = a.mean() / b.mean()
    if bool(b.mean() > 0) and bool(torch.isfinite(ratio)):
        return (ratio + (a - ratio * b) / b.mean()).tolist()
    return [float(ratio)] * len(a)


def evaluate(
    predict_fn: Callable[[dict[str, Any]], torch.Tensor],
    dataset: Sequence[dict[str, Any]],
    metrics: Sequence[str] = ("psnr", "ssim", "lpips", "mps", "score_l2"),
    batch_size: int = 4,
    device: str | torch.device = "cpu",
    progress: bool = True,
    limit: int | None = None,
    lpips_model: LPIPSMetric | None = None,
) -> EvalResult:
    """Run ``predict_fn`` over a dataset and compute per-image metrics.

    Items are dicts with ``input`` (3, H, W), ``target`` (3, H, W) float32 in [0, 1] and ``key``
    (str), plus anything else (``depth``...). Items are batched in order (tensors stacked, other
    values as lists), tensors moved to ``device``, and the whole batch dict is passed to
    ``predict_fn``. Predictions are clamped to [0, 1] (as saving to 8-bit PNG would) before scoring.
    Runs under ``torch.inference_mode``; put your model in ``eval()`` mode yourself.

    Args:
        predict_fn: ``batch -> pred`` with pred (B, 3, H, W), the shape of ``batch['target']``.
        dataset: map-style dataset (``len`` and integer indexing), e.g. a list of dicts.
        metrics: names from :data:`METRICS`; default psnr, ssim, lpips, mps, score_l2.
        batch_size: images per call of ``predict_fn``; default 4.
        device: where tensors go; default ``'cpu'``.
        progress: show a tqdm progress bar; default True.
        limit: evaluate only the first ``limit`` items; default all.
        lpips_model: the LPIPS metric to use; default the cached :func:`lpips_metric`.

    Returns:
        :class:`EvalResult` (``.rows``, ``.summary()``, ``.notes``).

    Raises:
        ValueError: unknown metric, items without ``target``, prediction of the wrong shape.
    """
    import pandas as pd
    from tqdm.auto import tqdm

    metrics = tuple(metrics)
    unknown = [m for m in metrics if m not in METRICS]
    if unknown:
        raise ValueError(f"unknown metrics {unknown}; known: {list(METRICS)}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    n = len(dataset) if limit is None else min(int(limit), len(dataset))
    device = torch.device(device)
    need_lpips = "lpips" in metrics or "mps" in metrics
    lp = None
    if need_lpips:
        lp = lpips_model if lpips_model is not None else lpips_metric(device=device)
    if lp is not None and lp.reduction != "none":
        raise ValueError("lpips_model must have reduction='none'")

    keys: list[str] = []
    values: dict[str, list[float]] = {m: [] for m in metrics}
    score_parts: tuple[list[torch.Tensor], list[torch.Tensor]] = ([], [])
    with torch.inference_mode(), tqdm(total=n, desc="evaluate", unit="img",
                                      disable=not progress) as bar:
        for start in range(0, n, batch_size):
            idx = range(start, min(start + batch_size, n))
            batch = _collate([dataset[i] for i in idx])
            if "target" not in batch or not isinstance(batch["target"], torch.Tensor):
                raise ValueError("dataset items need a 'target' tensor (3, H, W) to be evaluated")
            batch = {k: v.to(device) if isinstance(v, torch.Tensor) else v
                     for k, v in batch.items()}
            target = batch["target"]
            pred = predict_fn(batch)
            if not isinstance(pred, torch.Tensor) or pred.shape != target.shape:
                shape = tuple(pred.shape) if isinstance(pred, torch.Tensor) else type(pred).__name__
                raise ValueError(
                    f"predict_fn must return a tensor shaped like batch['target'] "
                    f"{tuple(target.shape)}, got {shape}"
                )
            pred = pred.to(device=device, dtype=target.dtype).clamp(0.0, 1.0)
            got: dict[str, torch.Tensor] = {}
            if "psnr" in metrics:
                got["psnr"] = psnr(pred, target, reduction="none")
            if "mse" in metrics:
                got["mse"] = mse(pred, target, reduction="none")
            if {"ssim", "mps", "dssim"} & set(metrics):
                s = ssim(pred, target, reduction="none")
                got["ssim"], got["dssim"] = s, dssim(s)
            if lp is not None:
                got["lpips"] = lp(pred, target)
                if "mps" in metrics:
                    got["mps"] = mps(got["ssim"], got["lpips"])
            if "score_l2" in metrics:  # a ratio of means: finished after the loop
                score_parts[0].append(mse(batch["input"], target, "none").double().cpu())
                score_parts[1].append(mse(pred, target, "none").double().cpu())
            if "score_l2_pairmean" in metrics:
                got["score_l2_pairmean"] = score_l2_pairmean(batch["input"], pred, target,
                                                             reduction="none")
            ks = batch.get("key", [str(i) for i in idx])
            keys.extend(str(k) for k in ks)
            for m in metrics:
                if m != "score_l2":
                    values[m].extend(got[m].double().cpu().tolist())
            bar.update(len(idx))
    if "score_l2" in metrics:
        values["score_l2"] = _score_l2_contributions(score_parts) if score_parts[0] else []

    # image-major order: all metrics of the first image, then the second...
    rows = pd.DataFrame(
        [(k, m, values[m][i]) for i, k in enumerate(keys) for m in metrics],
        columns=["image", "metric", "value"],
    )

    notes: dict[str, str] = {}
    for m in metrics:
        vals = values[m]
        n_nan = sum(math.isnan(v) for v in vals)
        if not n_nan:
            continue
        if m in ("lpips", "mps") and lp is not None and not lp.available:
            notes[m] = (lp.reason if m == "lpips"
                        else f"MPS needs LPIPS, which is unavailable: {lp.reason}")
        else:
            notes[m] = f"{n_nan} of {len(vals)} images gave NaN"
            if m in ("score_l2", "score_l2_pairmean"):
                notes[m] += " (input equal to target and a perfect prediction: 0/0)"
    return EvalResult(rows=rows, notes=notes, metrics=metrics,
                      lpips_weights=lp.weights.to_dict() if lp is not None and lp.weights else None)
