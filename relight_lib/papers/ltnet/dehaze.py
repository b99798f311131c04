"""Test-time post-processing of LTNet: dark-channel-prior dehazing and the snapshot ensemble.

* :func:`dehaze` (``spec/papers.md`` §3.7): He et al.'s dark-channel prior (CVPR 2009 /
  TPAMI 2011) with the transmission refined by a guided filter (He et al., ECCV 2010), the step
  the official LTNet test code runs on every network output. The function's defaults are He et
  al.'s constants (omega 0.95, t0 0.1, patch 15). Named parameter sets:

  - :data:`DEHAZE_LTNET`, the row post-process ``"dehaze"`` (the suite's default): the authors'
    constants (omega 0.9, t0 0.7, the code's box windows), the airlight the paper describes
    (the mean colour of the 0.1 % pixels with the brightest dark channel), and windows scaled
    with the image side (patch 15 and 60 x 60 boxes at 1024 px; :func:`scaled_windows`);
  - :data:`DEHAZE_CODE`, ``"dehaze_code"``: the arithmetic of the released ``test.py`` (below);
  - :data:`DEHAZE_HE`, He et al.'s constants (``"dehaze_he"``, with scaled windows).

  :data:`POSTPROCESSES` also names the single changes: ``"dehaze_1024px"`` (the default with
  the 1024-px windows at every size) and ``"dehaze_released_airlight"`` (the default with the
  released code's airlight).
* :func:`snapshot_ensemble` (§3.8): the per-pixel mean of the outputs of several checkpoints
  (paper), or a weighted mean (the code counts epoch 128 twice, :data:`CODE_ENSEMBLE_WEIGHTS`).

**The released airlight is not the paper's.** The paper (and He et al.) take the airlight from
the 0.1 % pixels with the brightest dark channel. The authors' ``AtmLight`` sorts the dark
channel reshaped to an (H W, 1) array along its last axis, which has length 1, so every sorted
index is 0 and every "brightest" pixel is pixel 0, the top-left one; its loop then adds that
pixel numpx - 1 times and divides by numpx. The released airlight is therefore the top-left
pixel times (numpx - 1) / numpx (``airlight="released_top_left"``), and 0 when that pixel is
black or the image has fewer than 2000 pixels (numpx = 1). With A = 0 the code divides by zero:
the raw transmission is inf or NaN, the guided filter's box sums turn it NaN everywhere,
``cv2.max(NaN, 0.7)`` returns 0.7, and the "dehazing" is a uniform gain J = I / 0.7, clipped on
writing. :func:`dehaze` reproduces that path: when the released airlight has a zero channel,
the transmission is taken as t0 everywhere. (Exact when all three channels are zero, as for a
black top-left pixel; with one or two zero channels the released output depends on OpenCV's
handling of NaN in ``min``, ``erode`` and ``boxFilter``, which is not reproduced.)

What ``DEHAZE_CODE`` reproduces of the released ``dehaze`` (``code/train/test.py``), and what
not: it reproduces the constants (omega 0.9, t0 0.7, patch 15, eps 1e-4), the airlight (top-left
pixel times (numpx - 1) / numpx, and the uniform gain I / 0.7 when it is 0), and the guided
filter's 60 x 60 box windows (``r`` handed to ``cv2.boxFilter`` as the window size). It does not
reproduce, so results differ by a few grey levels (more near the borders):

* the input: the code dehazes the uint8 output (quantised by truncation) and builds the guide
  with OpenCV's rounded uint8 grey conversion; here the input is the float prediction and the
  guide its float BT.601 grey;
* borders: the box filters average over the part of the window inside the image (He et al.'s
  reference implementation); OpenCV's ``boxFilter`` mirrors the image instead (reflect-101), so
  the refined transmission differs within one window of the border. The dark channel's erosion
  ignores pixels outside the image in both (OpenCV's default erosion border);
* the output is clipped to [0, 1]; the code's ``cv2.imwrite`` saturates to [0, 255] and rounds.

The brightest-pixel airlight (``airlight="brightest"``) breaks ties among the brightest
dark-channel pixels with ``torch.topk``.

Everything works on torch tensors (CPU or GPU): RGB in [0, 1], (B, 3, H, W) or one unbatched
(3, H, W) image; NumPy arrays are not accepted (convert with ``torch.from_numpy``). The dehazing
arithmetic runs in float64 (as the official NumPy code does; the guided filter's variance is a
difference of nearly equal box means) and the result comes back in the input's dtype.

Example:
    >>> x = torch.rand(3, 32, 32)
    >>> dehaze(x).shape, dehaze(x, **DEHAZE_LTNET).shape
    (torch.Size([3, 32, 32]), torch.Size([3, 32, 32]))
    >>> snapshot_ensemble([torch.zeros(1), torch.ones(1)])
    tensor([0.5000])
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import torch
import torch.nn.functional as F

from relight_lib.library.data.transforms import as_batched, rgb_to_grey

__all__ = [
    "AIRLIGHTS",
    "CODE_ENSEMBLE_WEIGHTS",
    "DEHAZE_CODE",
    "DEHAZE_HE",
    "DEHAZE_LTNET",
    "ENSEMBLE_EPOCHS",
    "PAPER_EPOCHS",
    "POSTPROCESSES",
    "POSTPROCESS_PARAMS",
    "WINDOWS",
    "WINDOW_REFERENCE_SIDE",
    "atmospheric_light",
    "box_filter",
    "dark_channel",
    "dehaze",
    "describe_postprocess",
    "get_postprocess",
    "guided_filter",
    "scaled_windows",
    "snapshot_ensemble",
    "transmission",
]

#: Airlight estimates (:func:`atmospheric_light`): ``brightest``, the paper's and He et al.'s
#: (mean colour of the 0.1 % pixels with the brightest dark channel), and
#: ``released_top_left``, what the authors' released code computes (module docstring).
AIRLIGHTS = ("brightest", "released_top_left")

#: Window modes of :func:`dehaze`: ``fixed`` (``patch`` and ``radius`` as given: with 15 and 60,
#: the windows the authors ran on 1024 px images) and ``scaled`` (:func:`scaled_windows`).
WINDOWS = ("fixed", "scaled")

#: The image side the LTNet windows (patch 15, 60 x 60 boxes) were set for: VIDIT's 1024 px.
WINDOW_REFERENCE_SIDE = 1024

#: He et al. 2011's constants (omega, t0, patch); the guided-filter radius and eps are the
#: official code's values, since He et al. 2011 refine with soft matting, not a guided filter.
DEHAZE_HE: dict[str, Any] = {
    "omega": 0.95, "t0": 0.1, "patch": 15, "radius": 60, "eps": 1e-4,
    "airlight": "brightest", "window_quirk": False, "windows": "fixed",
}

#: The arithmetic of the authors' released ``dehaze`` (papers.md §3.7; what it does and does not
#: reproduce: the module docstring): omega 0.9, t0 0.7, patch 15, eps 1e-4, the airlight of the
#: released code (the top-left pixel times (numpx - 1) / numpx, the uniform gain I / 0.7 when it
#: is 0), and ``r = 60`` handed to ``cv2.boxFilter`` as the window *size* (``window_quirk``:
#: 60 x 60 windows instead of the guided filter's (2r + 1) x (2r + 1)), at every image size.
DEHAZE_CODE: dict[str, Any] = {
    "omega": 0.9, "t0": 0.7, "patch": 15, "radius": 60, "eps": 1e-4,
    "airlight": "released_top_left", "window_quirk": True, "windows": "fixed",
}

#: The suite's LTNet post-process (``"dehaze"``): the authors' constants and box windows (their
#: pipeline produced the paper's "with dehaze" rows), the airlight the paper describes (the
#: released one is a sorting slip, module docstring), and the windows scaled with the image
#: side, so that at 64 px they cover the same part of the scene as 15 and 60 px do at 1024 px
#: (at 1024 px they are the authors' windows).
DEHAZE_LTNET: dict[str, Any] = {**DEHAZE_CODE, "airlight": "brightest", "windows": "scaled"}

#: The LTNet paper's training length (§4.1: 300 epochs at batch 2).
PAPER_EPOCHS = 300

#: The five snapshot epochs of the submitted LTNet ensemble, out of :data:`PAPER_EPOCHS`
#: (papers.md §3.8).
ENSEMBLE_EPOCHS: tuple[int, ...] = (90, 123, 124, 128, 134)

#: The official ``fuse.py`` weights, epoch -> weight: (e90 + e123 + e124 + 2 e128 + e134) / 6.
#: The paper says a plain mean (papers.md §0 item 2, §3.8).
CODE_ENSEMBLE_WEIGHTS: dict[int, float] = {90: 1 / 6, 123: 1 / 6, 124: 1 / 6, 128: 2 / 6, 134: 1 / 6}

# Floor for the airlight in I / A: with the brightest-pixel airlight only a black image gives
# A = 0, and the floor keeps it black (t = 1); the released airlight's A = 0 is handled apart
# (:func:`dehaze`: its NaN path).
_A_FLOOR = 1e-6


# ---- shape helpers -----------------------------------------------------------------------------

def _extent(size: int) -> tuple[int, int]:
    """Pixels before and after the centre covered by a window of ``size`` (OpenCV's anchor).

    Odd sizes are centred; an even size reaches one pixel further up/left than down/right
    (OpenCV's default anchor ``size // 2``): size 60 covers offsets -30 .. +29.
    """
    if size < 1:
        raise ValueError(f"window size must be >= 1, got {size}")
    return size // 2, size - 1 - size // 2


# ---- box filter, guided filter -----------------------------------------------------------------

def _box_sum_1d(
    x: torch.Tensor, dim: int, before: int, after: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Sums over [i - before, i + after] clipped to the axis, and the clipped window lengths."""
    dim = dim % x.dim()
    n = x.shape[dim]
    zero = torch.zeros(x.shape[:dim] + (1,) + x.shape[dim + 1:], dtype=x.dtype, device=x.device)
    c = torch.cat([zero, x.cumsum(dim)], dim=dim)  # c[k] = sum of the first k entries
    idx = torch.arange(n, device=x.device)
    lo = (idx - before).clamp(0, n)
    hi = (idx + after + 1).clamp(0, n)
    return c.index_select(dim, hi) - c.index_select(dim, lo), (hi - lo).to(x.dtype)


def _box_mean(x: torch.Tensor, size: int) -> torch.Tensor:
    before, after = _extent(size)
    s, nh = _box_sum_1d(x, -2, before, after)
    s, nw = _box_sum_1d(s, -1, before, after)
    # the clipped window is a rectangle: its pixel count is the product of the two lengths
    return s / (nh.view(-1, 1) * nw.view(1, -1))


# Not kornia.filters.box_blur: at the border He et al. average over the clipped window; kornia
# pads (reflect/replicate), which differs by 0.04-0.1 there.
def box_filter(x: torch.Tensor, radius: int) -> torch.Tensor:
    """Mean over the (2r + 1) x (2r + 1) window around each pixel, O(1) per pixel.

    Computed with cumulative sums along rows and columns, so the cost does not grow with the
    radius. At the borders the window is clipped to the image and the mean is taken over the
    pixels inside it (the normalisation of He et al.'s reference guided filter; equivalent to
    ``avg_pool2d(..., count_include_pad=False)`` with zero padding). A constant image therefore
    stays exactly constant, also near the border.

    Args:
        x: (B, C, H, W) float tensor (float64 recommended for large windows: cumulative sums).
        radius: r >= 0; the window is (2r + 1) pixels on a side.

    Returns:
        (B, C, H, W) box means, same dtype.

    Example:
        >>> box_filter(torch.tensor([[[[0.0, 3.0, 6.0, 9.0]]]]), 1)
        tensor([[[[1.5000, 3.0000, 6.0000, 7.5000]]]])
    """
    if radius < 0:
        raise ValueError(f"radius must be >= 0, got {radius}")
    x, unbatched = as_batched(x, "x")
    out = _box_mean(x, 2 * radius + 1)
    return out.squeeze(0) if unbatched else out


# Not kornia.filters.guided_blur: the same algorithm in the interior, but its reflect-padded border
# is OpenCV's, not He et al.'s clipped windows, and an even window is anchored one pixel apart.
def guided_filter(
    guide: torch.Tensor,
    src: torch.Tensor,
    radius: int = 60,
    eps: float = 1e-4,
    window_quirk: bool = False,
) -> torch.Tensor:
    """Grey-guide guided filter (He, Sun, Tang, ECCV 2010), box filters as in :func:`box_filter`.

    In every window w_k the output is the linear model ``a_k I + b_k`` of the guide I fitted to
    the source p by ridge regression (``a_k = cov_k(I, p) / (var_k(I) + eps)``,
    ``b_k = mean_k(p) - a_k mean_k(I)``); each pixel averages the models of the windows that
    contain it. Edges of the guide are kept, flat regions of the guide are smoothed. A constant
    source comes back unchanged (cov = 0, so a = 0 and b = the constant).

    Args:
        guide: (B, 1, H, W) or (1, H, W) guide image (the dehazer passes the grey image).
        src: (B, C, H, W) or (C, H, W) image to filter, same batch and size as ``guide``.
        radius: window radius r (default 60: the official code's value): windows of
            (2r + 1) x (2r + 1), clipped at the borders.
        eps: regularisation (default 1e-4, the code's value); larger = smoother.
        window_quirk: use ``radius`` as the window *size* (radius x radius), as the official code
            does by handing r to ``cv2.boxFilter``; even sizes are placed as OpenCV's anchor
            (size 60: offsets -30 .. +29).

    Returns:
        Filtered ``src``, same shape and dtype as ``src``.

    Example:
        >>> g = torch.rand(1, 1, 20, 20)
        >>> p = torch.full((1, 1, 20, 20), 0.3)
        >>> bool(torch.allclose(guided_filter(g, p, radius=4), p))
        True
    """
    if radius < (1 if window_quirk else 0):
        raise ValueError(f"radius must be >= {1 if window_quirk else 0}, got {radius}")
    i, unbatched = as_batched(guide, "guide", 1)
    p, src_unbatched = as_batched(src, "src")
    if src_unbatched != unbatched or i.shape[0] != p.shape[0] or i.shape[-2:] != p.shape[-2:]:
        raise ValueError(f"guide {tuple(guide.shape)} and src {tuple(src.shape)} must have the "
                         "same batch size and height/width")
    out_dtype = p.dtype
    i, p = i.double(), p.double()
    size = radius if window_quirk else 2 * radius + 1
    mean_i, mean_p = _box_mean(i, size), _box_mean(p, size)
    cov_ip = _box_mean(i * p, size) - mean_i * mean_p
    var_i = _box_mean(i * i, size) - mean_i * mean_i
    a = cov_ip / (var_i + eps)
    b = mean_p - a * mean_i
    q = _box_mean(a, size) * i + _box_mean(b, size)
    q = q.to(out_dtype)
    return q.squeeze(0) if unbatched else q


# ---- dark channel prior ------------------------------------------------------------------------

# kornia.morphology.erosion gives the same minimum but materialises patch^2 copies of the image
# (1.9 GB at 1024 px); max_pool2d on the negated image does not.
def dark_channel(img: torch.Tensor, patch: int = 15) -> torch.Tensor:
    """Dark channel: the minimum over colour channels and over a patch x patch window.

    The per-pixel channel minimum is eroded with a square window (He et al.: 15 x 15, as the
    official code). Pixels outside the image are ignored (the window is clipped), which is what
    OpenCV's ``erode`` does with its default border. Even patch sizes are placed as OpenCV does.

    Args:
        img: (B, C, H, W) or (C, H, W) float image.
        patch: window side (default 15).

    Returns:
        (B, 1, H, W) (or (1, H, W)) dark channel.

    Example:
        >>> img = torch.ones(1, 3, 5, 5)
        >>> img[0, 1, 2, 2] = 0.0  # one dark pixel darkens its 3 x 3 neighbourhood
        >>> dark_channel(img, patch=3)[0, 0]
        tensor([[1., 1., 1., 1., 1.],
                [1., 0., 0., 0., 1.],
                [1., 0., 0., 0., 1.],
                [1., 0., 0., 0., 1.],
                [1., 1., 1., 1., 1.]])
    """
    x, unbatched = as_batched(img, "img")
    before, after = _extent(patch)
    m = x.amin(dim=1, keepdim=True)
    # erosion = -dilation(-x); padding with -inf keeps outside pixels out of every maximum
    neg = F.pad(-m, (before, after, before, after), value=-math.inf)
    out = -F.max_pool2d(neg, kernel_size=patch, stride=1)
    return out.squeeze(0) if unbatched else out


def atmospheric_light(img: torch.Tensor, dark: torch.Tensor,
                      method: str = "brightest") -> torch.Tensor:
    """Airlight A per image, by the paper's estimate or by the released code's.

    ``numpx = max(floor(H W / 1000), 1)`` (0.1 % of the pixels) in both:

    * ``brightest`` (LTNet §3.4 via He et al., the default): the mean colour of the ``numpx``
      pixels with the largest dark-channel values (He et al. 2011 pick the single brightest
      input pixel among them; the paper and the code's intent average them);
    * ``released_top_left``: what the released ``AtmLight`` computes (module docstring): its sort
      runs along a length-1 axis, so all ``numpx`` selected indices are 0 and the loop, which
      starts at 1, adds the top-left pixel ``numpx - 1`` times before dividing by ``numpx``:
      ``A = I[:, 0, 0] * (numpx - 1) / numpx`` (0 when numpx = 1, images under 2000 pixels).

    Args:
        img: (B, 3, H, W) or (3, H, W) image in [0, 1].
        dark: its dark channel, (B, 1, H, W) or (1, H, W) (:func:`dark_channel`); unused by
            ``released_top_left`` (as in the code) but checked.
        method: one of :data:`AIRLIGHTS`.

    Returns:
        (B, 3) airlight per image ((3,) for unbatched input), same dtype as ``img``.

    Example:
        >>> img = torch.stack([torch.linspace(0, 1, 2000).view(40, 50)] * 3)
        >>> atmospheric_light(img, img[:1])  # numpx = 2: mean of the two brightest
        tensor([0.9997, 0.9997, 0.9997])
        >>> img[:, 0, 0] = 0.8  # numpx = 2: the top-left pixel, halved
        >>> atmospheric_light(img, img[:1], "released_top_left")
        tensor([0.4000, 0.4000, 0.4000])
    """
    if method not in AIRLIGHTS:
        raise ValueError(f"airlight {method!r} is not one of {AIRLIGHTS}")
    x, unbatched = as_batched(img, "img")
    d, _ = as_batched(dark, "dark", 1)
    b, c, h, w = x.shape
    if d.shape[0] != b or d.shape[-2:] != (h, w):
        raise ValueError(f"dark {tuple(dark.shape)} does not match img {tuple(img.shape)}")
    numpx = max((h * w) // 1000, 1)
    if method == "released_top_left":
        a = x[:, :, 0, 0] * (numpx - 1) / numpx
    else:
        top = d.reshape(b, h * w).topk(numpx, dim=1, largest=True, sorted=False).indices
        a = x.reshape(b, c, h * w).gather(2, top.unsqueeze(1).expand(b, c, numpx)).mean(dim=2)
    return a.squeeze(0) if unbatched else a


def scaled_windows(side: int, patch: int = 15, radius: int = 60,
                   reference: int = WINDOW_REFERENCE_SIDE) -> tuple[int, int]:
    """The dark-channel patch and the guided-filter window for an image of ``side`` pixels,
    scaled from the ones set for ``reference`` px (``spec/evidence.md`` §6).

    ``patch`` becomes the odd size nearest to ``patch * side / reference``, at least 3 (odd so
    that the window stays centred); ``radius`` (a radius, or with the code's ``window_quirk`` a
    box size) becomes ``round(radius * side / reference)``, at least 2. At ``reference`` px
    both are unchanged.

    >>> scaled_windows(1024), scaled_windows(256), scaled_windows(64)
    ((15, 60), (3, 15), (3, 4))
    """
    if side < 1 or reference < 1:
        raise ValueError(f"side and reference must be >= 1, got {side} and {reference}")
    p = patch * side / reference
    return max(3, 2 * math.floor(p / 2) + 1), max(2, round(radius * side / reference))


def transmission(img: torch.Tensor, airlight: torch.Tensor, omega: float = 0.95,
                 patch: int = 15) -> torch.Tensor:
    """Raw transmission ``t = 1 - omega * dark_channel(I / A)`` (before refinement).

    Args:
        img: (B, 3, H, W) image in [0, 1].
        airlight: (B, 3) airlight (:func:`atmospheric_light`); values below 1e-6 are raised to
            1e-6 for the division (A = 0 would give NaN).
        omega: fraction of haze removed (He et al. 0.95; official code 0.9).
        patch: dark-channel window (15).

    Returns:
        (B, 1, H, W) raw transmission, <= 1 (it is not clipped below: the floor t0 comes later).

    Example:
        >>> img = torch.full((1, 3, 4, 4), 0.5)
        >>> transmission(img, torch.ones(1, 3), omega=0.9)[0, 0, 0, 0]
        tensor(0.5500)
    """
    x, _ = as_batched(img, "img", 3)
    a = airlight.to(x.dtype).reshape(x.shape[0], 3, 1, 1).clamp_min(_A_FLOOR)
    return 1.0 - omega * dark_channel(x / a, patch)


def dehaze(
    img: torch.Tensor,
    omega: float = 0.95,
    t0: float = 0.1,
    patch: int = 15,
    radius: int = 60,
    eps: float = 1e-4,
    airlight: str = "brightest",
    window_quirk: bool = False,
    windows: str = "fixed",
) -> torch.Tensor:
    """Dark-channel-prior dehazing with guided-filter refinement (papers.md §3.7).

    The haze model is ``I = J t + A (1 - t)``. Steps (each as in the official LTNet code):

    1. dark channel of I (channel minimum, then ``patch`` x ``patch`` erosion);
    2. airlight A (:func:`atmospheric_light`: ``brightest``, the paper's, or
       ``released_top_left``, the released code's);
    3. raw transmission ``1 - omega * dark_channel(I / A)``;
    4. refinement with a guided filter (:func:`guided_filter`), guide = BT.601 grey of I, radius
       ``radius``, regularisation ``eps``;
    5. recovery ``J = (I - A) / max(t, t0) + A`` per channel, clipped to [0, 1].

    With the released airlight, an image whose A has a zero channel takes the released code's
    NaN path (module docstring): t = t0 everywhere, so J = I / t0 (clipped) when A = 0.

    Defaults are He et al. 2011's omega 0.95, t0 0.1, patch 15 (their refinement was soft
    matting; the guided filter's radius 60 / eps 1e-4 are the code's). ``**DEHAZE_LTNET`` gives
    the suite's LTNet post-process (the authors' omega 0.9, t0 0.7 and box windows, the paper's
    airlight, windows scaled to the image; with t0 = 0.7 the effect is mild: at most a 1 / 0.7
    contrast stretch around A); ``**DEHAZE_CODE`` the released code's arithmetic.

    Args:
        img: (B, 3, H, W) or (3, H, W) RGB in [0, 1] (float tensor, any device).
        omega: haze kept = 1 - omega (He: 0.95; code: 0.9).
        t0: lower bound of the transmission (He: 0.1; code: 0.7).
        patch: dark-channel window (15 in both, for 1024 px images in the code).
        radius: guided-filter radius (60; see ``window_quirk``).
        eps: guided-filter regularisation (1e-4).
        airlight: one of :data:`AIRLIGHTS`.
        window_quirk: the code's box windows of ``radius`` x ``radius`` instead of
            (2 radius + 1)^2.
        windows: ``fixed`` (``patch`` and ``radius`` as given) or ``scaled``
            (:func:`scaled_windows` of the image's shorter side: ``patch`` and ``radius`` are
            read as the windows of a 1024 px image).

    Returns:
        Dehazed image, same shape and dtype as ``img``, clipped to [0, 1].

    Example:
        >>> J = torch.zeros(3, 16, 16)  # dark channel 0 everywhere: nothing to remove
        >>> J[0] = torch.rand(16, 16)
        >>> bool(torch.allclose(dehaze(J), J))
        True
        >>> I = torch.full((3, 64, 64), 0.35)
        >>> I[:, 0, 0] = 0.0  # a black top-left pixel: the released airlight is 0
        >>> dehaze(I, **DEHAZE_CODE)[:, 1, 1]  # a uniform gain 1 / 0.7
        tensor([0.5000, 0.5000, 0.5000])
    """
    x, unbatched = as_batched(img, "img", 3)
    if not x.is_floating_point():
        raise TypeError(f"img must be a float tensor in [0, 1], got dtype {x.dtype}")
    if not 0.0 <= omega <= 1.0:
        raise ValueError(f"omega must be in [0, 1], got {omega}")
    if not 0.0 < t0 <= 1.0:
        raise ValueError(f"t0 must be in (0, 1], got {t0}")
    if windows not in WINDOWS:
        raise ValueError(f"windows {windows!r} is not one of {WINDOWS}")
    if windows == "scaled":
        patch, radius = scaled_windows(min(x.shape[-2:]), patch, radius)
    out_dtype = x.dtype
    i = x.double()  # as the official NumPy code; see the module docstring
    a = atmospheric_light(i, dark_channel(i, patch), method=airlight)
    t_raw = transmission(i, a, omega=omega, patch=patch)
    t = guided_filter(rgb_to_grey(i), t_raw, radius=radius, eps=eps, window_quirk=window_quirk)
    if airlight == "released_top_left":
        # the released code divides by A = 0: t is NaN and cv2.max(NaN, t0) gives t0
        nan_path = (a == 0).any(dim=1).view(-1, 1, 1, 1)
        t = torch.where(nan_path, torch.full_like(t, t0), t)
    a4 = a.view(-1, 3, 1, 1)
    j = (i - a4) / t.clamp_min(t0) + a4
    out = j.clamp_(0.0, 1.0).to(out_dtype)
    return out.squeeze(0) if unbatched else out


# ---- snapshot ensemble -------------------------------------------------------------------------

def snapshot_ensemble(
    outputs: Sequence[torch.Tensor],
    weights: Sequence[float] | Mapping[Any, float] | None = None,
) -> torch.Tensor:
    """Per-pixel (weighted) mean of the outputs of several checkpoints (papers.md §3.8).

    LTNet averages the predictions of 5 snapshots (epochs 90, 123, 124, 128, 134); the paper says
    a plain mean (the default here), the official ``fuse.py`` counts epoch 128 twice
    (:data:`CODE_ENSEMBLE_WEIGHTS`). Weights are normalised to sum to 1, so (1, 1, 1, 2, 1) and
    (1, 1, 1, 2, 1) / 6 give the same result. The code fuses dehazed 8-bit PNGs; quantise the
    inputs first if that matters.

    Args:
        outputs: non-empty list of tensors of one shape (e.g. (B, 3, H, W) images in [0, 1]).
        weights: None (plain mean), a sequence of one non-negative weight per output, or a
            mapping whose values are used in its order (``CODE_ENSEMBLE_WEIGHTS`` with the
            outputs ordered by epoch 90, 123, 124, 128, 134).

    Returns:
        Tensor of the outputs' shape: ``sum_k w_k x_k / sum_k w_k``.

    Raises:
        ValueError: no outputs, shapes differ, the number of weights differs from the number of
            outputs, a negative weight or a zero sum.

    Example:
        >>> xs = [torch.full((1,), float(e)) for e in ENSEMBLE_EPOCHS]
        >>> snapshot_ensemble(xs)
        tensor([119.8000])
        >>> snapshot_ensemble(xs, CODE_ENSEMBLE_WEIGHTS)  # (90+123+124+2*128+134)/6
        tensor([121.1667])
    """
    outs = list(outputs)
    if not outs:
        raise ValueError("snapshot_ensemble needs at least one output")
    for k, o in enumerate(outs):
        if not isinstance(o, torch.Tensor):
            raise TypeError(f"outputs[{k}] is a {type(o).__name__}, not a tensor")
        if o.shape != outs[0].shape:
            raise ValueError(f"outputs must share one shape: outputs[0] is {tuple(outs[0].shape)}"
                             f", outputs[{k}] is {tuple(o.shape)}")
    stack = torch.stack(outs)
    if not stack.is_floating_point():
        stack = stack.float()
    if weights is None:
        return stack.mean(dim=0)
    w_list = list(weights.values()) if isinstance(weights, Mapping) else list(weights)
    if len(w_list) != len(outs):
        raise ValueError(f"{len(w_list)} weights for {len(outs)} outputs")
    w = torch.tensor(w_list, dtype=torch.float64)
    if (w < 0).any() or not torch.isfinite(w).all():
        raise ValueError(f"weights must be finite and non-negative, got {w_list}")
    if w.sum() <= 0:
        raise ValueError(f"weights sum to zero: {w_list}")
    w = (w / w.sum()).to(dtype=stack.dtype, device=stack.device)
    return (stack * w.view(-1, *([1] * (stack.dim() - 1)))).sum(dim=0)


#: The dehazing parameters of each post-process a one-to-one row can name
#: (``run_one_to_one(postprocess=...)``; the name is what runs.yaml, run.json and the plan
#: show). ``dehaze`` is LTNet's default (Tables 1-6: the paper's ablation rows are dehazed too,
#: see :func:`relight_lib.papers.ltnet.recipe.ltnet_row`); each other name changes one thing,
#: except ``dehaze_code``, the released code's arithmetic.
POSTPROCESS_PARAMS: dict[str, dict[str, Any]] = {
    "dehaze": DEHAZE_LTNET,
    "dehaze_1024px": {**DEHAZE_LTNET, "windows": "fixed"},
    "dehaze_released_airlight": {**DEHAZE_LTNET, "airlight": "released_top_left"},
    "dehaze_code": DEHAZE_CODE,
    "dehaze_he": {**DEHAZE_HE, "windows": "scaled"},
}

POSTPROCESSES: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    name: functools.partial(dehaze, **params) for name, params in POSTPROCESS_PARAMS.items()}


def get_postprocess(name: str | None) -> Callable[[torch.Tensor], torch.Tensor] | None:
    """The post-process called ``name`` (None: none).

    Raises:
        ValueError: an unknown name (the message lists the known ones).
    """
    if name is None:
        return None
    if name not in POSTPROCESSES:
        raise ValueError(f"postprocess {name!r} is not one of {sorted(POSTPROCESSES)}")
    return POSTPROCESSES[name]


def describe_postprocess(name: str | None, side: int) -> str | None:
    """One sentence saying what the post-process ``name`` does to ``side`` px images: its
    constants, its airlight and the windows it uses there (a row's deviation; None for none).

    >>> "dark-channel patch 3, guided filter 4 x 4 boxes" in describe_postprocess("dehaze", 64)
    True
    """
    if name is None:
        return None
    get_postprocess(name)  # the one error message for unknown names
    p = POSTPROCESS_PARAMS[name]
    consts = ("the authors' constants (omega 0.9, t0 0.7)" if (p["omega"], p["t0"]) == (0.9, 0.7)
              else f"He et al.'s constants (omega {p['omega']:g}, t0 {p['t0']:g}), not the "
                   "authors' (omega 0.9, t0 0.7) that produced the paper's dehazed numbers")
    if p["airlight"] == "brightest":
        air = ("the paper's airlight (the mean colour of the 0.1 % pixels with the brightest dark "
               "channel; the authors' released code takes the top-left pixel instead)")
    else:
        air = ("the released code's airlight (the top-left pixel times (numpx - 1) / numpx, "
               f"numpx = 0.1 % of the pixels; a uniform gain I / {p['t0']:g} where that pixel "
               "is black), not the paper's brightest 0.1 %")
    patch, radius = ((p["patch"], p["radius"]) if p["windows"] == "fixed"
                     else scaled_windows(side, p["patch"], p["radius"]))
    box = f"{radius} x {radius} boxes" if p["window_quirk"] else f"radius {radius}"
    if side == WINDOW_REFERENCE_SIDE:
        win = f"the windows of 1024 px images (dark-channel patch {patch}, guided filter {box})"
    elif p["windows"] == "fixed":
        win = (f"the windows set for 1024 px images at {side} px (dark-channel patch {patch}, "
               f"guided filter {box}), which cover a larger part of the scene than at 1024 px")
    else:
        win = (f"windows scaled with the image side to {side} px (dark-channel patch {patch}, "
               f"guided filter {box}; {p['patch']} and {p['radius']} at 1024 px)")
    return f"Dehazed (post-process {name}) with {consts}: {air}; {win}."
