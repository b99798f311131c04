"""Ground-truth environment maps from a colour temperature and a light direction
(2DSceneRelighting, spec/papers.md section 6.8).

2DSceneRelighting's envmap models (B and C) are supervised with a synthetic 16 x 32
latitude-longitude environment map per lighting condition: one light blob whose colour comes
from the colour temperature and whose horizontal position comes from the direction. The report
and the official code describe two different recipes; both are here:

``recipe="code"`` (default; the official ``utils/envmap.py``, reproduced bit-exactly)
    ``V = int(exp(-d / (2 sigma**2)) * 255)``, an exponential of the *unsquared* distance,
    ``sigma = min(H, W) / 10 = 1.6``, in **HSV** space with H and S constant over the map.
    ``hue_quirk=True`` also reproduces the code's HSV -> RGB conversion, which passed a hue in
    [0, 1] to kornia <= 0.4's ``hsv_to_rgb`` that expects radians, collapsing hues towards red.
``recipe="report"`` (our HSL reading of the report's section 3.4)
    A Gaussian ``exp(-d**2 / (2 sigma**2))`` of the pixel distance ``d`` to the light centre,
    ``sigma`` = 10 % of the map height (1.6 px), applied in **HSL** space: hue and saturation are
    the light colour's, the lightness is the colour's own lightness times the Gaussian (so the
    centre pixel is exactly the light colour and the map fades to black). How the Gaussian
    enters HSL is not spelled out in the report: this is our reading [D]. Its flaw: every light
    colour, normalised to a maximum channel of 1, has HSL saturation 1, so the saturation value
    of model C's target is 255 at all five temperatures and carries no information. That is why
    the code's recipe is the default (an exception to "the paper's version by default").

Common to both (from the code): the colour is CCT -> CIE xy (the CIE daylight-locus formula
that colour-science's ``CCT_to_xy`` uses by default; outside its 4000-25000 K domain for 2500
and 3500 K, as colour-science warns) -> XYZ (Y = 1) -> linear sRGB (no gamma, no adaptation)
-> HSV with values clipped to [0, 1] and put on a 0-255 integer scale; this reproduces the
spec's table exactly (2500 K -> (14, 231, 255), ..., 6500 K -> (54, 0, 255)). The light centre is
at column 16, row 8 for North, and a direction shifts the map circularly along the width by
``int(16 r)`` columns with r = 0 (N), 0.25 (NE), 0.5 (E), 0.75 (SE), 1 (S), -0.75 (SW), -0.5
(W), -0.25 (NW).

Outputs, on the 0-255 scale the losses expect:
    * ``mode="rgb"``: (3, 16, 32) RGB map, flattened to 1536 values by :func:`envmap_vector`
      (model B's target);
    * ``mode="hsv"``: 514 values, hue, saturation and the 512 brightness values (V for the
      code's recipe, HSL lightness for the report's), model C's target.
"""

from __future__ import annotations

import colorsys
import functools
import math
from collections.abc import Sequence

import numpy as np
import torch

__all__ = [
    "DEFAULT_RECIPE",
    "DIRECTION_SHIFT",
    "ENVMAP_HW",
    "RECIPES",
    "cct_to_hsv255",
    "cct_to_linear_srgb",
    "envmap",
    "envmap_batch",
    "envmap_vector",
]

ENVMAP_HW: tuple[int, int] = (16, 32)
RECIPES: tuple[str, ...] = ("code", "report")
#: The default recipe (see the module docstring for why it is the code's).
DEFAULT_RECIPE = "code"

#: Fraction of the map width a direction shifts the light by (the code's table).
DIRECTION_SHIFT: dict[str, float] = {
    "N": 0.0, "NE": 0.25, "E": 0.5, "SE": 0.75, "S": 1.0, "SW": -0.75, "W": -0.5, "NW": -0.25,
}

# colour-science's sRGB XYZ -> RGB matrix (computed from the sRGB primaries and D65)
_XYZ_TO_SRGB = np.array([[3.24100326, -1.53739899, -0.49861587],
                         [-0.96922426, 1.87592999, 0.04155422],
                         [0.05563942, -0.20401120, 1.05714897]])


def cct_to_linear_srgb(temperature: float) -> np.ndarray:
    """Linear sRGB (unclipped, Y = 1) of a CIE daylight illuminant of ``temperature`` kelvin.

    >>> cct_to_linear_srgb(6500).round(3)
    array([1.   , 1.   , 0.999])
    """
    t = float(temperature)
    if t <= 7000:
        x = -4.6070e9 / t**3 + 2.9678e6 / t**2 + 0.09911e3 / t + 0.244063
    else:
        x = -2.0064e9 / t**3 + 1.9018e6 / t**2 + 0.24748e3 / t + 0.237040
    y = -3.0 * x * x + 2.87 * x - 0.275
    xyz = np.array([x / y, 1.0, (1.0 - x - y) / y])
    return _XYZ_TO_SRGB @ xyz


# colorsys, not kornia.color.rgb_to_hsv: kornia adds 1e-8 to the maximum, which can flip the int()
# truncation of the official code's 0-255 values.
def cct_to_hsv255(temperature: float) -> tuple[int, int, int]:
    """The light colour as the code stores it: HSV on a 0-255 integer scale.

    >>> [cct_to_hsv255(t) for t in (2500, 4500, 6500)]
    [(14, 231, 255), (22, 132, 255), (54, 0, 255)]
    """
    hsv = colorsys.rgb_to_hsv(*cct_to_linear_srgb(temperature))
    return tuple(int(np.clip(v * 255, 0, 255)) for v in hsv)  # type: ignore[return-value]


def _distance(hw: tuple[int, int], shift: int) -> np.ndarray:
    h, w = hw
    yy, xx = np.mgrid[0:h, 0:w]
    d = np.sqrt((xx - w // 2) ** 2 + (yy - h // 2) ** 2)
    return np.roll(d, shift, axis=1)


@functools.lru_cache(maxsize=256)
def _envmap(temperature: int, direction: str, recipe: str, mode: str, hue_quirk: bool,
            hw: tuple[int, int]) -> np.ndarray:
    if recipe not in RECIPES:
        raise ValueError(f"recipe must be one of {RECIPES}, got {recipe!r}")
    if mode not in ("rgb", "hsv"):
        raise ValueError(f"mode must be 'rgb' or 'hsv', got {mode!r}")
    if direction not in DIRECTION_SHIFT:
        raise ValueError(f"unknown direction {direction!r}; known: {list(DIRECTION_SHIFT)}")
    h, w = hw
    shift = int(w // 2 * DIRECTION_SHIFT[direction])
    d = _distance(hw, shift)
    hue, sat, val = cct_to_hsv255(temperature)
    if recipe == "code":
        sigma = min(h, w) / 10
        bright = (np.exp(-d / (2 * sigma**2)) * 255).astype(np.int64).astype(np.float64)
        s_chan = float(sat)
        if mode == "hsv":
            return np.concatenate([[hue, sat], bright.ravel()]).astype(np.float32)
        hsv = np.stack([np.full(hw, hue / 255), np.full(hw, s_chan / 255), bright / 255])
        if hue_quirk:
            hsv[0] = hsv[0] / (2 * math.pi)  # kornia <= 0.4 read the hue as radians
        rgb = np.array([colorsys.hsv_to_rgb(*hsv[:, i, j]) for i in range(h) for j in range(w)])
        return (255 * rgb.T.reshape(3, h, w)).astype(np.float32)
    # report: Gaussian in HSL space
    sigma = 0.1 * h
    g = np.exp(-(d**2) / (2 * sigma**2))
    rgb_light = np.clip(cct_to_linear_srgb(temperature), 0, None)
    rgb_light = rgb_light / rgb_light.max()
    hh, ll, ss = colorsys.rgb_to_hls(*rgb_light)
    light = ll * g
    if mode == "hsv":
        return np.concatenate([[255 * hh, 255 * ss], 255 * light.ravel()]).astype(np.float32)
    rgb = np.array([colorsys.hls_to_rgb(hh, li, ss) for li in light.ravel()])
    return (255 * rgb.T.reshape(3, h, w)).astype(np.float32)


def envmap(temperature: int, direction: str, recipe: str = DEFAULT_RECIPE, mode: str = "rgb",
           hue_quirk: bool = False, hw: tuple[int, int] = ENVMAP_HW) -> np.ndarray:
    """The ground-truth envmap of one lighting condition, on the 0-255 scale.

    Args:
        temperature: Colour temperature in kelvin (VIDIT: 2500-6500).
        direction: ``N``, ``NE``, ... (VIDIT's names).
        recipe: ``"code"`` (default) or ``"report"`` (see the module docstring).
        mode: ``"rgb"`` -> (3, H, W) float32; ``"hsv"`` -> (2 + H*W,) float32 (hue,
            saturation, brightness values).
        hue_quirk: Code recipe only: reproduce the kornia radians/[0, 1] hue mix-up.
        hw: Map size; the papers' 16 x 32.

    Example:
        >>> m = envmap(4500, "E", recipe="code")
        >>> m.shape, envmap(4500, "E", recipe="code", mode="hsv").shape
        ((3, 16, 32), (514,))
    """
    if hue_quirk and recipe != "code":
        raise ValueError("hue_quirk applies to the code's recipe only")
    return _envmap(int(temperature), str(direction), recipe, mode, bool(hue_quirk),
                   tuple(hw)).copy()


def envmap_vector(temperature: int, direction: str, recipe: str = DEFAULT_RECIPE,
                  mode: str = "rgb", hue_quirk: bool = False) -> np.ndarray:
    """:func:`envmap` flattened as the networks predict it: 1536 values (rgb) or 514 (hsv)."""
    return envmap(temperature, direction, recipe, mode, hue_quirk).reshape(-1)


def envmap_batch(temperatures: Sequence[int] | torch.Tensor, directions: Sequence[str],
                 recipe: str = DEFAULT_RECIPE, mode: str = "rgb", hue_quirk: bool = False,
                 device: torch.device | str | None = None) -> torch.Tensor:
    """Stacked :func:`envmap_vector` for a batch: (B, 1536) or (B, 514) float32."""
    if isinstance(temperatures, torch.Tensor):
        temperatures = temperatures.tolist()
    if len(temperatures) != len(directions):
        raise ValueError(f"{len(temperatures)} temperatures but {len(directions)} directions")
    rows = [envmap_vector(int(t), d, recipe, mode, hue_quirk)
            for t, d in zip(temperatures, directions)]
    return torch.from_numpy(np.stack(rows)).to(device or "cpu")
