import numpy as np
import pytest

from relight_lib.library.data import colour
from relight_lib.library.data.layout import TEMPERATURES


def test_krystek_matches_planckian_locus():
    # Planckian locus at 6500 K: (x, y) = (0.3135, 0.3237) (spec/ecosystem.md section 4)
    x, y = colour.cct_to_xy(6500)
    assert x == pytest.approx(0.3135, abs=5e-4)
    assert y == pytest.approx(0.3237, abs=5e-4)
    # 2856 K is CIE illuminant A: (0.4476, 0.4074)
    x, y = colour.cct_to_xy(2856)
    assert x == pytest.approx(0.4476, abs=1e-3)
    assert y == pytest.approx(0.4074, abs=1e-3)


def test_warmer_is_redder_and_luminance_is_one():
    rgbs = [colour.cct_to_linear_srgb(t) for t in TEMPERATURES]
    ratios = [r[2] / r[0] for r in rgbs]  # blue / red rises with temperature
    assert all(a < b for a, b in zip(ratios, ratios[1:]))
    for t, rgb in zip(TEMPERATURES, rgbs):
        assert rgb.min() > 0
        assert colour.luminance(rgb) == pytest.approx(1.0, abs=1e-3), t
    # 6500 K is nearly neutral (within 6 % per channel)
    assert np.allclose(rgbs[-1], 1.0, atol=0.06)


def test_out_of_range_temperature():
    with pytest.raises(ValueError, match="outside"):
        colour.cct_to_uv(500)


def test_srgb_round_trip():
    x = np.linspace(0, 1, 101)
    assert np.allclose(colour.srgb_to_linear(colour.linear_to_srgb(x)), x, atol=1e-9)
    assert colour.linear_to_srgb(np.array([0.0, 1.0, 2.0])).tolist() == pytest.approx([0, 1, 1])
