"""Ground-truth environment maps (papers.md 6.8)."""

import numpy as np
import pytest
import torch

from relight_lib.papers.swapnet import envmap as em

SPEC_HSV = {2500: (14, 231, 255), 3500: (19, 192, 255), 4500: (22, 132, 255),
            5500: (24, 65, 255), 6500: (54, 0, 255)}


@pytest.mark.parametrize("t", sorted(SPEC_HSV))
def test_colour_table_matches_the_code(t):
    assert em.cct_to_hsv255(t) == SPEC_HSV[t]


def test_code_recipe_values():
    v = em.envmap(4500, "N", recipe="code", mode="hsv")
    assert v.shape == (514,) and tuple(v[:2]) == (22, 132)
    bright = v[2:].reshape(16, 32)
    assert bright[8, 16] == 255  # light centre for North
    # exp(-d / (2 sigma^2)), sigma = 1.6, d = 1 -> int(255 * exp(-1 / 5.12))
    assert bright[8, 17] == int(255 * np.exp(-1 / 5.12))
    assert bright.max() == 255 and np.argmax(bright) == 8 * 32 + 16


def test_report_recipe_is_a_gaussian():
    v = em.envmap(4500, "N", recipe="report", mode="hsv")[2:].reshape(16, 32)
    peak = v[8, 16]
    assert np.isclose(v[8, 17] / peak, np.exp(-1 / (2 * 1.6**2)), rtol=1e-5)
    assert np.isclose(v[8, 18] / peak, np.exp(-4 / (2 * 1.6**2)), rtol=1e-5)
    rgb = em.envmap(2500, "N", recipe="report")
    assert rgb.shape == (3, 16, 32)
    r, g, b = rgb[:, 8, 16]
    assert r > g > b  # warm light
    assert rgb[:, 0, 0].max() < 1  # fades to black far from the light


@pytest.mark.parametrize("recipe", em.RECIPES)
@pytest.mark.parametrize("direction, shift", [("E", 8), ("S", 16), ("W", -8), ("NW", -4)])
def test_directions_shift_the_map(recipe, direction, shift):
    north = em.envmap(5500, "N", recipe=recipe)
    moved = em.envmap(5500, direction, recipe=recipe)
    assert np.array_equal(np.roll(north, shift, axis=2), moved)


def test_colours_differ_and_hue_quirk():
    warm = em.envmap(2500, "E", recipe="code")
    cold = em.envmap(6500, "E", recipe="code")
    assert not np.allclose(warm, cold)
    quirk = em.envmap(4500, "E", recipe="code", hue_quirk=True)
    assert not np.allclose(quirk, em.envmap(4500, "E", recipe="code"))
    with pytest.raises(ValueError):
        em.envmap(4500, "E", recipe="report", hue_quirk=True)
    with pytest.raises(ValueError):
        em.envmap(4500, "X")


def test_batch():
    b = em.envmap_batch(torch.tensor([2500, 6500]), ["N", "S"], mode="rgb")
    assert b.shape == (2, 1536) and b.dtype == torch.float32
    assert torch.equal(b[1], torch.from_numpy(em.envmap_vector(6500, "S")))
    assert em.envmap_batch([4500], ["E"], mode="hsv").shape == (1, 514)
    with pytest.raises(ValueError):
        em.envmap_batch([4500, 2500], ["E"])


def test_default_recipe_is_the_codes():
    """The code's HSV recipe is the default: the HSL reading of the report gives saturation 255
    at every temperature, so model C's saturation target would carry no information."""
    assert em.DEFAULT_RECIPE == "code"
    for t in SPEC_HSV:
        assert np.array_equal(em.envmap(t, "E"), em.envmap(t, "E", recipe="code"))
        assert np.array_equal(em.envmap_vector(t, "E", mode="hsv"),
                              em.envmap_vector(t, "E", recipe="code", mode="hsv"))
    code_sat = {t: em.envmap(t, "N", mode="hsv")[1] for t in SPEC_HSV}
    report_sat = {t: em.envmap(t, "N", recipe="report", mode="hsv")[1] for t in SPEC_HSV}
    assert len(set(code_sat.values())) == 5 and code_sat == {t: v[1] for t, v in SPEC_HSV.items()}
    assert set(report_sat.values()) == {255.0}
    torch.testing.assert_close(em.envmap_batch([2500], ["N"], mode="hsv"),
                               em.envmap_batch([2500], ["N"], recipe="code", mode="hsv"))
