"""Tests of relight_lib.papers.ltnet.dehaze: box and guided filters, the dark-channel-prior dehazer
(He et al.'s constants, the LTNet authors' constants, the released code's airlight and windows),
the windows scaled with the image, the row post-processes by name, and the snapshot ensemble."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy import ndimage

from relight_lib.papers.ltnet import dehaze as P


def _gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _psnr(a: torch.Tensor, b: torch.Tensor) -> float:
    return float(10 * torch.log10(1 / ((a.double() - b.double()) ** 2).mean()))


def _dark_prior_texture(b: int, h: int, w: int, seed: int = 0) -> torch.Tensor:
    """Random RGB where every pixel has one channel at 0: dark channel 0 everywhere, while the
    mean colour has all channels > 0."""
    g = _gen(seed)
    img = torch.rand(b, 3, h, w, generator=g)
    zero = torch.randint(0, 3, (b, 1, h, w), generator=g)
    return img.scatter(1, zero, 0.0)


def _brute_box_mean(x: np.ndarray, before: int, after: int) -> np.ndarray:
    h, w = x.shape
    out = np.empty_like(x)
    for r in range(h):
        for c in range(w):
            out[r, c] = x[max(r - before, 0):r + after + 1, max(c - before, 0):c + after + 1].mean()
    return out


# ---- box and guided filters --------------------------------------------------------------------

@pytest.mark.parametrize("size", [1, 3, 4, 7, 60])
def test_box_mean_matches_brute_force_with_clipped_borders(size):
    x = torch.rand(1, 1, 9, 11, generator=_gen(), dtype=torch.float64)
    before, after = size // 2, size - 1 - size // 2  # OpenCV anchor for even sizes
    expected = _brute_box_mean(x[0, 0].numpy(), before, after)
    assert np.allclose(P._box_mean(x, size)[0, 0].numpy(), expected)
    if size % 2:
        assert torch.allclose(P.box_filter(x, size // 2), P._box_mean(x, size))


def test_box_filter_constant_shapes_and_errors():
    c = torch.full((2, 3, 8, 5), 0.4, dtype=torch.float64)
    assert torch.allclose(P.box_filter(c, 3), c)  # exactly constant up to the borders
    assert P.box_filter(torch.rand(3, 8, 5), 2).shape == (3, 8, 5)
    with pytest.raises(ValueError):
        P.box_filter(c, -1)


def test_guided_filter_of_a_constant_is_the_constant():
    guide = torch.rand(2, 1, 24, 20, generator=_gen())
    for value in (0.0, 0.37, 1.0):
        p = torch.full((2, 1, 24, 20), value)
        for radius, quirk in ((0, False), (3, False), (60, False), (60, True)):
            q = P.guided_filter(guide, p, radius=radius, eps=1e-4, window_quirk=quirk)
            assert q.dtype == torch.float32
            assert torch.allclose(q, p, atol=1e-6), (value, radius, quirk)


def test_guided_filter_limits_and_window_quirk():
    g = _gen(1)
    guide = torch.rand(1, 1, 16, 16, generator=g, dtype=torch.float64)
    p = torch.rand(1, 1, 16, 16, generator=g, dtype=torch.float64)
    # huge eps: a -> 0, the output is the box mean of the box mean of p
    smooth = P.guided_filter(guide, p, radius=2, eps=1e9)
    assert torch.allclose(smooth, P.box_filter(P.box_filter(p, 2), 2), atol=1e-6)
    # guide == source with tiny eps: every window fits p exactly, the filter is the identity
    assert torch.allclose(P.guided_filter(p, p, radius=2, eps=1e-12), p, atol=1e-5)
    # the code's quirk reads "radius" as the window size: size 5 == radius 2
    assert torch.allclose(P.guided_filter(guide, p, radius=5, eps=1e-3, window_quirk=True),
                          P.guided_filter(guide, p, radius=2, eps=1e-3))
    # unbatched, and several source channels share the grey guide
    q = P.guided_filter(guide[0], p[0].expand(3, 16, 16), radius=2)
    assert q.shape == (3, 16, 16)
    with pytest.raises(ValueError, match="same batch"):
        P.guided_filter(guide, p[..., :8], radius=2)


# ---- dark channel, airlight, transmission ------------------------------------------------------

@pytest.mark.parametrize("patch", [1, 3, 15])
def test_dark_channel_matches_scipy_erosion(patch):
    img = torch.rand(2, 3, 20, 23, generator=_gen(2))
    ours = P.dark_channel(img, patch)
    assert ours.shape == (2, 1, 20, 23)
    for k in range(2):
        # mode='nearest' repeats edge pixels, which never lowers a minimum: same as clipping
        ref = ndimage.minimum_filter(img[k].amin(0).numpy(), size=patch, mode="nearest")
        assert np.array_equal(ours[k, 0].numpy(), ref)
    assert P.dark_channel(img[0], patch).shape == (1, 20, 23)


def _airlight_image(h: int, w: int, colours: list[tuple[float, float, float]]):
    """An image whose dark channel ranks ``colours`` first, second, ... (pixels 0, 1, ...)."""
    img = torch.full((3, h, w), 0.05)
    dark = torch.linspace(0.0, 0.5, h * w).flip(0).view(1, h, w) * 0.1  # all below 0.06
    for k, col in enumerate(colours):
        img[:, 0, k] = torch.tensor(col)
        dark[0, 0, k] = 0.9 - 0.1 * k  # pixel 0 has the largest dark value
    return img, dark


def test_airlight_brightest_mean():
    c1, c2, c3 = (0.9, 0.8, 0.7), (0.6, 0.5, 0.4), (0.3, 0.2, 0.1)
    # 40 x 50 = 2000 pixels -> numpx = 2: the mean of the two brightest dark values' colours
    img, dark = _airlight_image(40, 50, [c1, c2, c3])
    assert torch.allclose(P.atmospheric_light(img, dark), (torch.tensor(c1) + torch.tensor(c2)) / 2)
    # 60 x 50 = 3000 pixels -> numpx = 3
    img, dark = _airlight_image(60, 50, [c1, c2, c3])
    assert torch.allclose(P.atmospheric_light(img, dark), torch.tensor([c1, c2, c3]).mean(0))
    # under 2000 pixels numpx = 1: the brightest pixel's colour
    img, dark = _airlight_image(30, 30, [c1])
    assert torch.allclose(P.atmospheric_light(img, dark), torch.tensor(c1))
    # batched: one airlight per image
    both = P.atmospheric_light(torch.stack([img, img * 0.5]), torch.stack([dark, dark]))
    assert both.shape == (2, 3) and torch.allclose(both[1], both[0] * 0.5)
    with pytest.raises(ValueError, match="airlight"):
        P.atmospheric_light(img, dark, "mean")


def test_released_sort_runs_along_a_length_one_axis():
    # the released AtmLight sorts dark.reshape(H W, 1) along its last axis: every index is 0
    dark = np.random.default_rng(0).random((40 * 50, 1))
    assert (dark.argsort() == 0).all()


def test_released_airlight_is_the_top_left_pixel_hand_computed():
    c1, tl = (0.9, 0.8, 0.7), torch.tensor([0.6, 0.4, 0.2])
    for (h, w), numpx in (((40, 50), 2), ((60, 50), 3), ((64, 64), 4)):
        img, dark = _airlight_image(h, w, [c1])  # the brightest dark value is not top-left...
        img[:, 0, 0] = tl                        # ...the top-left pixel is what counts
        a = P.atmospheric_light(img, dark, "released_top_left")
        assert torch.allclose(a, tl * (numpx - 1) / numpx), (h, w)
    # 40 x 50, numpx 2: (0.6, 0.4, 0.2) / 2
    img, dark = _airlight_image(40, 50, [c1])
    img[:, 0, 0] = tl
    assert torch.allclose(P.atmospheric_light(img, dark, "released_top_left"),
                          torch.tensor([0.3, 0.2, 0.1]))
    # under 2000 pixels numpx = 1: the sum is empty, A = 0 whatever the pixel
    img, dark = _airlight_image(30, 30, [c1])
    assert torch.equal(P.atmospheric_light(img, dark, "released_top_left"), torch.zeros(3))


def test_transmission_formula():
    img = torch.rand(1, 3, 10, 10, generator=_gen(3)) * 0.5 + 0.25
    a = torch.tensor([[0.8, 0.9, 1.0]])
    t = P.transmission(img, a, omega=0.9, patch=3)
    expected = 1 - 0.9 * P.dark_channel(img / a.view(1, 3, 1, 1), 3)
    assert torch.allclose(t, expected)
    assert torch.isfinite(P.transmission(img, torch.zeros(1, 3))).all()  # A = 0 does not NaN


# ---- dehaze ------------------------------------------------------------------------------------

def test_code_and_he_parameter_sets():
    assert P.DEHAZE_CODE == {"omega": 0.9, "t0": 0.7, "patch": 15, "radius": 60, "eps": 1e-4,
                             "airlight": "released_top_left", "window_quirk": True,
                             "windows": "fixed"}
    assert P.DEHAZE_HE["omega"] == 0.95 and P.DEHAZE_HE["t0"] == 0.1 and P.DEHAZE_HE["patch"] == 15
    x = torch.rand(1, 3, 24, 24, generator=_gen())
    assert torch.equal(P.dehaze(x), P.dehaze(x, **P.DEHAZE_HE))  # defaults = He et al.


def test_ltnet_default_is_the_authors_constants_and_the_papers_airlight():
    # the authors' pipeline produced the paper's "with dehaze" numbers (papers.md §0 item 3)
    assert P.DEHAZE_LTNET == {**P.DEHAZE_CODE, "airlight": "brightest", "windows": "scaled"}
    assert (P.DEHAZE_LTNET["omega"], P.DEHAZE_LTNET["t0"]) == (0.9, 0.7)
    assert P.DEHAZE_LTNET["window_quirk"] is True  # the code's box windows, scaled
    assert P.POSTPROCESS_PARAMS["dehaze"] is P.DEHAZE_LTNET


def test_postprocess_names():
    assert set(P.POSTPROCESSES) == {"dehaze", "dehaze_1024px", "dehaze_released_airlight",
                                    "dehaze_code", "dehaze_he"}
    _, hazy, _ = _hazy_scene()
    expected = {"dehaze": P.DEHAZE_LTNET, "dehaze_code": P.DEHAZE_CODE,
                "dehaze_he": {**P.DEHAZE_HE, "windows": "scaled"},
                "dehaze_1024px": {**P.DEHAZE_LTNET, "windows": "fixed"},
                "dehaze_released_airlight": {**P.DEHAZE_LTNET, "airlight": "released_top_left"}}
    for name, params in expected.items():
        assert torch.equal(P.get_postprocess(name)(hazy), P.dehaze(hazy, **params)), name
    # they are different post-processes
    outs = [P.get_postprocess(n)(hazy) for n in expected]
    for k in range(1, len(outs)):
        assert not torch.allclose(outs[0], outs[k]), list(expected)[k]
    assert P.get_postprocess(None) is None
    with pytest.raises(ValueError, match="dehaze_he"):
        P.get_postprocess("dehaze_paper")


@pytest.mark.parametrize("params", [P.DEHAZE_HE, P.DEHAZE_LTNET,
                                    {**P.DEHAZE_LTNET, "windows": "fixed"}],
                         ids=["he", "ltnet", "ltnet_1024px"])
def test_haze_free_image_is_unchanged(params):
    # dark channel 0 -> raw transmission 1 -> the guided filter keeps 1 -> J = I
    j = _dark_prior_texture(2, 32, 40)
    assert torch.allclose(P.dehaze(j, **params), j, atol=1e-6)


def test_released_black_top_left_pixel_is_a_uniform_gain():
    # A = 0: the released code's transmission is NaN, cv2.max(NaN, 0.7) = 0.7, J = I / 0.7
    x = torch.rand(2, 3, 64, 64, generator=_gen(7))
    x[:, :, 0, 0] = 0.0
    for params in (P.DEHAZE_CODE, P.POSTPROCESS_PARAMS["dehaze_released_airlight"]):
        out = P.dehaze(x, **params)
        assert torch.isfinite(out).all()
        assert torch.allclose(out, (x / 0.7).clamp(0, 1), atol=1e-6)
    # a haze-free image too (the paper's airlight leaves it alone, test above)
    j = _dark_prior_texture(1, 32, 40)
    j[:, :, 0, 0] = 0.0
    assert torch.allclose(P.dehaze(j, **P.DEHAZE_CODE), (j / 0.7).clamp(0, 1), atol=1e-6)
    # under 2000 pixels the released airlight is always 0: the same gain
    small = torch.rand(1, 3, 40, 40, generator=_gen(8)) * 0.5 + 0.25
    assert torch.allclose(P.dehaze(small, **P.DEHAZE_CODE), (small / 0.7).clamp(0, 1), atol=1e-6)


def test_released_airlight_on_a_constant_image_hand_computed():
    # 64 x 64 of colour c: numpx = 4, A = 0.75 c; I / A = 4/3, t_raw = 1 - 0.9 * 4/3 = -0.2,
    # constant through the guided filter, raised to t0 = 0.7: J = 0.25 c / 0.7 + 0.75 c
    c = torch.tensor([0.4, 0.5, 0.6]).view(3, 1, 1)
    img = c.expand(3, 64, 64).clone()
    out = P.dehaze(img, **P.DEHAZE_CODE)
    assert torch.allclose(out[:, 10, 10], c.flatten() * (0.25 / 0.7 + 0.75), atol=1e-6)
    assert torch.allclose(out[:, 10, 10], torch.tensor([0.442857, 0.553571, 0.664286]), atol=1e-6)
    # the paper's airlight is c itself: t_raw = 0.1 -> t0, J = c
    assert torch.allclose(P.dehaze(img, **P.DEHAZE_LTNET), img, atol=1e-6)
    # one zero channel in A: the NaN path (t = t0 everywhere) with the other channels' A kept
    img[0, 0, 0] = 0.0
    a = torch.tensor([0.0, 0.375, 0.45]).view(3, 1, 1)
    assert torch.allclose(P.dehaze(img, **P.DEHAZE_CODE),
                          ((img - a) / 0.7 + a).clamp(0, 1), atol=1e-6)


def test_scaled_windows():
    assert P.scaled_windows(1024) == (15, 60)  # the authors' windows at their size
    assert P.scaled_windows(512) == (7, 30)
    assert P.scaled_windows(256) == (3, 15)
    assert P.scaled_windows(64) == (3, 4)      # 0.94 -> 3 (at least 3), 3.75 -> 4
    assert P.scaled_windows(16) == (3, 2)      # the floors
    assert P.scaled_windows(2048) == (31, 120)
    with pytest.raises(ValueError):
        P.scaled_windows(0)
    # windows="scaled" is the fixed windows of scaled_windows(shorter side)
    x = torch.rand(1, 3, 64, 80, generator=_gen(9))
    assert torch.equal(P.dehaze(x, **P.DEHAZE_LTNET),
                       P.dehaze(x, **{**P.DEHAZE_LTNET, "windows": "fixed", "patch": 3,
                                      "radius": 4}))
    with pytest.raises(ValueError, match="windows"):
        P.dehaze(x, windows="adaptive")
    with pytest.raises(ValueError, match="airlight"):
        P.dehaze(x, airlight="top_left")


def test_describe_postprocess_names_the_windows_used():
    assert P.describe_postprocess(None, 64) is None
    d = P.describe_postprocess("dehaze", 64)
    assert "paper's airlight" in d and "patch 3, guided filter 4 x 4 boxes" in d
    d = P.describe_postprocess("dehaze_1024px", 64)
    assert "patch 15, guided filter 60 x 60 boxes" in d and "set for 1024 px" in d
    assert "released code's airlight" in P.describe_postprocess("dehaze_code", 64)
    assert "He et al." in P.describe_postprocess("dehaze_he", 64)
    assert "patch 15, guided filter 60 x 60" in P.describe_postprocess("dehaze", 1024)
    with pytest.raises(ValueError, match="postprocess"):
        P.describe_postprocess("dehaze_paper", 64)


def _hazy_scene(t: float = 0.6):
    """A textured scene obeying the dark-channel prior, with a sky band of colour A on top,
    hazed with I = J t + A (1 - t) (the sky is its own airlight: I = A there)."""
    a = torch.tensor([0.85, 0.9, 0.95]).view(1, 3, 1, 1)
    j = _dark_prior_texture(1, 64, 64, seed=4)
    j[:, :, :16] = a.expand(1, 3, 16, 64)
    return j, j * t + a * (1 - t), a


def test_synthetic_haze_is_mostly_removed():
    j, hazy, a = _hazy_scene()
    # the estimated airlight is the true one: the sky pixels have the brightest dark channel
    est = P.atmospheric_light(hazy, P.dark_channel(hazy, 15))
    assert torch.allclose(est, a.view(1, 3))
    out = P.dehaze(hazy)
    assert out.min() >= 0 and out.max() <= 1
    before, after = _psnr(hazy, j), _psnr(out, j)
    assert after > before + 10, (before, after)  # about 12.9 dB -> 26.5 dB
    # the authors' t0 = 0.7 caps the correction, but it still goes the right way
    authors = _psnr(P.dehaze(hazy, **{**P.DEHAZE_LTNET, "windows": "fixed"}), j)
    assert before + 2 < authors < after, (before, authors, after)
    scaled = _psnr(P.dehaze(hazy, **P.DEHAZE_LTNET), j)
    assert before + 2 < scaled < after, (before, scaled, after)


def test_released_airlight_changes_the_result():
    _, hazy, _ = _hazy_scene()
    assert not torch.allclose(P.dehaze(hazy, airlight="released_top_left"), P.dehaze(hazy))


def test_dehaze_shapes_dtype_and_batching():
    g = _gen(5)
    x = torch.rand(2, 3, 20, 24, generator=g)
    out = P.dehaze(x, **P.DEHAZE_CODE)
    assert out.shape == x.shape and out.dtype == torch.float32
    for k in range(2):  # each image is dehazed on its own (own airlight)
        assert torch.allclose(P.dehaze(x[k], **P.DEHAZE_CODE), out[k], atol=1e-6)
    assert P.dehaze(x.double()).dtype == torch.float64
    black = P.dehaze(torch.zeros(1, 3, 16, 16))
    assert torch.isfinite(black).all() and torch.equal(black, torch.zeros(1, 3, 16, 16))


def test_dehaze_rejects_bad_input():
    with pytest.raises(TypeError, match="torch"):
        P.dehaze(np.zeros((3, 8, 8), dtype=np.float32))
    with pytest.raises(ValueError, match="3 channels"):
        P.dehaze(torch.rand(1, 4, 8, 8))
    with pytest.raises(TypeError, match="float"):
        P.dehaze(torch.zeros(3, 8, 8, dtype=torch.uint8))
    with pytest.raises(ValueError, match="t0"):
        P.dehaze(torch.rand(3, 8, 8), t0=0.0)
    with pytest.raises(ValueError, match="omega"):
        P.dehaze(torch.rand(3, 8, 8), omega=1.5)


# ---- snapshot ensemble -------------------------------------------------------------------------

def _snapshots(n: int = 5) -> list[torch.Tensor]:
    g = _gen(6)
    return [torch.rand(2, 3, 4, 4, generator=g) for _ in range(n)]


def test_ensemble_default_is_the_plain_mean():
    xs = _snapshots()
    assert torch.allclose(P.snapshot_ensemble(xs), torch.stack(xs).mean(0))
    assert torch.equal(P.snapshot_ensemble(xs[:1]), xs[0])


def test_ensemble_weighted_and_normalised():
    xs = _snapshots()
    assert P.ENSEMBLE_EPOCHS == tuple(P.CODE_ENSEMBLE_WEIGHTS) == (90, 123, 124, 128, 134)
    assert sum(P.CODE_ENSEMBLE_WEIGHTS.values()) == pytest.approx(1.0)
    code = (xs[0] + xs[1] + xs[2] + 2 * xs[3] + xs[4]) / 6  # fuse.py: epoch 128 twice
    assert torch.allclose(P.snapshot_ensemble(xs, P.CODE_ENSEMBLE_WEIGHTS), code, atol=1e-6)
    assert torch.allclose(P.snapshot_ensemble(xs, [1, 1, 1, 2, 1]), code, atol=1e-6)
    assert torch.allclose(P.snapshot_ensemble(xs, [3, 3, 3, 3, 3]), P.snapshot_ensemble(xs))
    assert torch.allclose(P.snapshot_ensemble(xs, [0, 0, 1, 0, 0]), xs[2])


def test_ensemble_errors():
    xs = _snapshots()
    with pytest.raises(ValueError, match="4 weights for 5"):
        P.snapshot_ensemble(xs, [1, 1, 1, 1])
    with pytest.raises(ValueError, match="at least one"):
        P.snapshot_ensemble([])
    with pytest.raises(ValueError, match="shape"):
        P.snapshot_ensemble([xs[0], xs[1][:1]])
    with pytest.raises(ValueError, match="non-negative"):
        P.snapshot_ensemble(xs, [1, 1, 1, -1, 1])
    with pytest.raises(ValueError, match="zero"):
        P.snapshot_ensemble(xs, [0, 0, 0, 0, 0])
