"""Colour of a black-body light at a given colour temperature, and sRGB transfer functions.

Method (documented choice, ``spec/ecosystem.md`` section 4): the Planckian locus in CIE 1960 (u, v)
from the rational approximation of Krystek (1985), which is also what Unreal Engine, VIDIT's
renderer, uses for its light colour temperature. (u, v) -> (x, y) -> XYZ with luminance Y = 1 ->
linear sRGB (ITU-R BT.709 primaries, D65 white). No chromatic adaptation is applied, so 6500 K
is close to, but not exactly, the sRGB white (the Planckian 6500 K point lies a little off D65).

Because Y = 1 for every temperature, the five temperatures carry the same luminance: differences
in brightness between temperatures in SynVIDIT come from the scene's surface colours only.
"""

from __future__ import annotations

import numpy as np

#: Krystek (1985) is fitted over 1000-15000 K.
CCT_RANGE = (1000.0, 15000.0)

# XYZ (D65) -> linear sRGB, IEC 61966-2-1.
_XYZ_TO_SRGB = np.array(
    [
        [3.2404542, -1.5371385, -0.4985314],
        [-0.9692660, 1.8760108, 0.0415560],
        [0.0556434, -0.2040259, 1.0572252],
    ]
)


def cct_to_uv(temperature: float) -> tuple[float, float]:
    """CIE 1960 (u, v) of a black body at ``temperature`` kelvin (Krystek 1985).

    >>> u, v = cct_to_uv(6500)
    >>> round(u, 4), round(v, 4)
    (0.2005, 0.3103)
    """
    t = float(temperature)
    if not CCT_RANGE[0] <= t <= CCT_RANGE[1]:
        raise ValueError(f"colour temperature {t} K outside the fitted range {CCT_RANGE}")
    u = (0.860117757 + 1.54118254e-4 * t + 1.28641212e-7 * t * t) / (
        1.0 + 8.42420235e-4 * t + 7.08145163e-7 * t * t
    )
    v = (0.317398726 + 4.22806245e-5 * t + 4.20481691e-8 * t * t) / (
        1.0 - 2.89741816e-5 * t + 1.61456053e-7 * t * t
    )
    return u, v


def cct_to_xy(temperature: float) -> tuple[float, float]:
    """CIE 1931 (x, y) chromaticity of a black body (via :func:`cct_to_uv`)."""
    u, v = cct_to_uv(temperature)
    d = 2.0 * u - 8.0 * v + 4.0
    return 3.0 * u / d, 2.0 * v / d


def cct_to_linear_srgb(temperature: float) -> np.ndarray:
    """Linear sRGB colour, shape (3,), of a black-body light with luminance Y = 1.

    Components that fall outside the sRGB gamut (slightly negative blue at very low temperatures)
    are clipped to 0; none of VIDIT's temperatures (2500-6500 K) needs it.

    >>> rgb = cct_to_linear_srgb(2500)
    >>> bool(rgb[0] > rgb[1] > rgb[2] > 0)
    True
    """
    x, y = cct_to_xy(temperature)
    xyz = np.array([x / y, 1.0, (1.0 - x - y) / y])
    return np.clip(_XYZ_TO_SRGB @ xyz, 0.0, None)


def linear_to_srgb(x: np.ndarray) -> np.ndarray:
    """sRGB opto-electronic transfer function (IEC 61966-2-1), for values in [0, 1]."""
    x = np.clip(x, 0.0, 1.0)
    return np.where(x <= 0.0031308, 12.92 * x, 1.055 * np.power(x, 1.0 / 2.4) - 0.055)


def srgb_to_linear(x: np.ndarray) -> np.ndarray:
    """Inverse of :func:`linear_to_srgb`."""
    x = np.clip(x, 0.0, 1.0)
    return np.where(x <= 0.04045, x / 12.92, np.power((x + 0.055) / 1.055, 2.4))


def luminance(rgb: np.ndarray) -> np.ndarray:
    """Relative luminance Y of linear sRGB values, over the last axis."""
    return rgb[..., 0] * 0.2126729 + rgb[..., 1] * 0.7151522 + rgb[..., 2] * 0.0721750
