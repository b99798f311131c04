"""Tests of relight_lib.library.data.transforms: depth maps, LTNet normal maps (paper and code recipes),
the LTNet input tensor, paired flip/rotation augmentation and MBNet's flipped pairs."""

from __future__ import annotations

import itertools
import math

import pytest
import torch

from relight_lib.library.data import layout
from relight_lib.library.data import transforms as T


def _gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def random_flip_rotate_seeded(batch: dict, seed: int) -> dict:
    return T.random_flip_rotate(batch, _gen(seed))


def _unit_vectors(mapped: torch.Tensor) -> torch.Tensor:
    return (mapped - 0.5) * 2.0


def _x_ramp(b: int, c: int, h: int, w: int, slope: float) -> torch.Tensor:
    """Values rising by ``slope`` per column (to the right)."""
    return (torch.arange(w, dtype=torch.float32) * slope).expand(b, c, h, w).clone()


# ---- depth --------------------------------------------------------------------------------------

def test_normalize_depth_per_image_min_max():
    d = torch.stack([torch.linspace(2, 4, 16).view(1, 4, 4), torch.linspace(-1, 0, 16).view(1, 4, 4)])
    n = T.normalize_depth(d)
    assert n.shape == d.shape and n.dtype == torch.float32
    for k in range(2):  # each image spans [0, 1] on its own
        assert float(n[k].min()) == 0.0 and float(n[k].max()) == pytest.approx(1.0)
    assert torch.allclose(n[0], n[1], atol=1e-6)  # same shape of ramp, different ranges


def test_normalize_depth_constant_and_unbatched():
    assert torch.equal(T.normalize_depth(torch.full((1, 1, 3, 3), 0.7)), torch.zeros(1, 1, 3, 3))
    d = torch.rand(1, 5, 6, generator=_gen())
    assert T.normalize_depth(d).shape == (1, 5, 6)
    assert torch.allclose(T.normalize_depth(d), T.normalize_depth(d[None])[0])
    with pytest.raises(ValueError):
        T.normalize_depth(torch.rand(5, 6))


def test_inverse_depth_is_one_minus_depth():
    d = torch.rand(2, 1, 4, 4, generator=_gen())
    assert torch.equal(T.inverse_depth(d), 1 - d)
    assert torch.equal(T.inverse_depth(torch.tensor([0.0, 1.0])), torch.tensor([1.0, 0.0]))


def test_grey_weights_sum_to_one_and_sobel_scale():
    assert sum(T.GREY_WEIGHTS) == pytest.approx(1.0)
    g = T.sobel(_x_ramp(1, 1, 5, 6, 0.5))
    assert torch.allclose(g[0, 0, :, 1:-1], torch.tensor(4.0))  # 8 * slope inside
    assert torch.allclose(g[0, 0, :, [0, -1]], torch.tensor(2.0))  # replicated edge: half
    assert torch.equal(g[0, 1], torch.zeros(5, 6))  # nothing changes downwards


# ---- normal map: paper recipe ------------------------------------------------------------------

def test_paper_flat_gives_straight_up_normal():
    # (0, 0, z = 0.1) scaled to unit length is (0, 0, 1) -> (0.5, 0.5, 1.0) whatever z is
    n = T.normal_map(torch.full((2, 3, 6, 7), 0.3), torch.full((2, 1, 6, 7), 0.6))
    assert n.shape == (2, 3, 6, 7) and n.dtype == torch.float32
    assert torch.allclose(n, torch.tensor([0.5, 0.5, 1.0]).view(1, 3, 1, 1).expand_as(n))


@pytest.mark.parametrize("where", ["depth", "image"])
def test_paper_ramp_in_x_tilts_left_by_half_the_angle(where):
    # slope s with 8 s = z = 0.1: that map's normal is 45 degrees from vertical, towards -x;
    # the other map is flat (0 degrees); their unit average is at 22.5 degrees
    ramp = _x_ramp(1, 1, 6, 8, T.PAPER_NORMAL_Z / 8)
    flat_depth, flat_rgb = torch.zeros(1, 1, 6, 8), torch.zeros(1, 3, 6, 8)
    rgb, depth = (flat_rgb, ramp) if where == "depth" else (ramp.expand(1, 3, 6, 8), flat_depth)
    v = _unit_vectors(T.normal_map(rgb, depth, recipe="paper"))[0, :, :, 1:-1]
    assert torch.allclose(v[0], torch.tensor(-math.sin(math.pi / 8)), atol=1e-6)  # n_x < 0
    assert torch.allclose(v[1], torch.tensor(0.0), atol=1e-6)
    assert torch.allclose(v[2], torch.tensor(math.cos(math.pi / 8)), atol=1e-6)


def test_paper_ramp_in_y_tilts_up():
    depth = _x_ramp(1, 1, 6, 6, 0.05).transpose(-1, -2)  # rising downwards
    n = T.normal_map(torch.zeros(1, 3, 6, 6), depth)
    assert (n[:, 1] < 0.5).all() and torch.allclose(n[:, 0], torch.tensor(0.5))


def test_paper_range_and_unit_length_on_random_input():
    g = _gen(1)
    n = T.normal_map(torch.rand(3, 3, 17, 13, generator=g), torch.rand(3, 1, 17, 13, generator=g))
    assert n.min() >= 0 and n.max() <= 1 and torch.isfinite(n).all()
    length = torch.linalg.vector_norm(_unit_vectors(n), dim=1)
    assert torch.allclose(length, torch.ones_like(length), atol=1e-5)
    assert (n[:, 2] > 0.5).all()  # both maps point towards the camera, so does their average


def test_paper_batched_matches_unbatched_and_samples_are_independent():
    g = _gen(2)
    rgb, depth = torch.rand(2, 3, 9, 9, generator=g), torch.rand(2, 1, 9, 9, generator=g)
    batched = T.normal_map(rgb, depth)
    for k in range(2):
        assert torch.allclose(batched[k], T.normal_map(rgb[k], depth[k]), atol=1e-6)
    assert T.normal_map(rgb[0], depth[0]).shape == (3, 9, 9)


def test_paper_recipe_errors():
    with pytest.raises(ValueError, match="RGB"):
        T.normal_map(None, torch.rand(1, 1, 4, 4))
    with pytest.raises(ValueError, match="same batch"):
        T.normal_map(torch.rand(1, 3, 4, 4), torch.rand(1, 1, 4, 5))
    with pytest.raises(ValueError, match="channel"):
        T.normal_map(torch.rand(1, 3, 4, 4), torch.rand(1, 2, 4, 4))
    with pytest.raises(ValueError, match="recipe"):
        T.normal_map(torch.rand(1, 3, 4, 4), torch.rand(1, 1, 4, 4), recipe="sobel")


# ---- normal map: code recipe -------------------------------------------------------------------

def test_code_recipe_hand_computed_example():
    # depth x 10000 = D; interior pixels (1,1), (1,2), (2,1), (2,2) by hand:
    #   (1,1): g_r = (4 - 0)/2 = 2, g_c = (2 - 0)/2 = 1  -> (-2, -1, 1) / sqrt 6
    #   (1,2): g_r = (0 - 0)/2 = 0, g_c = (0 - 0)/2 = 0  -> (0, 0, 1)
    #   (2,1): g_r = (0 - 0)/2 = 0, g_c = (0 - 0)/2 = 0  -> (0, 0, 1)
    #   (2,2): g_r = (0 - 2)/2 = -1, g_c = (0 - 4)/2 = -2 -> (1, 2, 1) / sqrt 6
    D = torch.tensor([[0, 0, 0, 0], [0, 0, 2, 0], [0, 4, 0, 0], [0, 0, 0, 0]], dtype=torch.float32)
    n = T.normal_map(None, (D / T.CODE_DEPTH_SCALE)[None, None], recipe="code")[0]
    s6 = math.sqrt(6.0)
    expected = torch.zeros(3, 4, 4)  # border pixels stay 0 in all channels
    expected[:, 1, 1] = torch.tensor([-2 / s6, -1 / s6, 1 / s6]) * 0.5 + 0.5
    expected[:, 1, 2] = torch.tensor([0.5, 0.5, 1.0])
    expected[:, 2, 1] = torch.tensor([0.5, 0.5, 1.0])
    expected[:, 2, 2] = torch.tensor([1 / s6, 2 / s6, 1 / s6]) * 0.5 + 0.5
    assert torch.allclose(n, expected, atol=1e-5)


def test_code_recipe_ramp_axes_signs_and_borders():
    # a column ramp tilts the code's *second* channel (its axis order is rows, columns, z)
    n = T.normal_map(None, _x_ramp(2, 1, 5, 6, 1e-4), recipe="code")
    inner = _unit_vectors(n[:, :, 1:-1, 1:-1])
    assert torch.allclose(inner[:, 0], torch.tensor(0.0), atol=1e-6)
    assert torch.allclose(inner[:, 1], torch.tensor(-1 / math.sqrt(2)), atol=1e-5)  # g_c = 1
    assert torch.equal(n[:, :, 0], torch.zeros(2, 3, 6)) and torch.equal(n[:, :, :, -1],
                                                                        torch.zeros(2, 3, 5))
    assert n.min() >= 0 and n.max() <= 1


def test_code_recipe_ignores_rgb_unbatched_and_tiny_images():
    d = torch.rand(1, 6, 6, generator=_gen(3)) * 1e-3
    assert torch.equal(T.normal_map(None, d, recipe="code"),
                       T.normal_map(torch.rand(3, 6, 6), d, recipe="code"))
    assert T.normal_map(None, d, recipe="code").shape == (3, 6, 6)
    assert torch.equal(T.normal_map(None, torch.rand(1, 1, 2, 5), recipe="code"),
                       torch.zeros(1, 3, 2, 5))  # no interior pixel, as the code's loops


# ---- LTNet inputs -------------------------------------------------------------------------------

def _batch(b: int = 2, h: int = 6, w: int = 6, seed: int = 0) -> dict:
    g = _gen(seed)
    return {"input": torch.rand(b, 3, h, w, generator=g),
            "depth": 0.2 + 0.5 * torch.rand(b, 1, h, w, generator=g),
            "key": [f"Image{k:03d}" for k in range(b)]}


def test_make_inputs_channel_order_and_contents():
    b = _batch()
    x = T.make_inputs(b)
    assert x.shape == (2, 8, 6, 6) and T.input_channels() == 8
    assert torch.equal(x[:, :3], b["input"])
    assert torch.equal(x[:, 3:4], b["depth"])
    assert torch.equal(x[:, 4:5], 1 - b["depth"])
    assert torch.equal(x[:, 5:], T.normal_map(b["input"], b["depth"], recipe="paper"))


def test_make_inputs_order_is_ltnets_whatever_the_request_order():
    b = _batch()
    x = T.make_inputs(b, inputs=("normal", "inverse_depth", "rgb"))
    assert x.shape[1] == 7 == T.input_channels(("normal", "inverse_depth", "rgb"))
    assert torch.equal(x[:, :3], b["input"]) and torch.equal(x[:, 3:4], 1 - b["depth"])
    assert torch.equal(T.make_inputs(b, inputs=("rgb", "depth")), torch.cat([b["input"],
                                                                            b["depth"]], 1))


def test_make_inputs_normalize_and_code_recipe_uses_raw_depth():
    b = _batch()
    x = T.make_inputs(b, normal_recipe="code", normalize=True)
    d = T.normalize_depth(b["depth"])
    assert torch.allclose(x[:, 3:4], d) and torch.allclose(x[:, 4:5], 1 - d)
    assert torch.equal(x[:, 5:], T.normal_map(None, b["depth"], recipe="code"))
    y = T.make_inputs(b, normalize=True)  # the paper recipe uses the depth channel's depth
    assert torch.equal(y[:, 5:], T.normal_map(b["input"], d, recipe="paper"))


def test_make_inputs_unbatched_and_rgb_only_needs_no_depth():
    b = _batch(1)
    item = {"input": b["input"][0], "depth": b["depth"][0]}
    assert torch.equal(T.make_inputs(item), T.make_inputs(b)[0])
    assert torch.equal(T.make_inputs({"input": b["input"]}, inputs=("rgb",)), b["input"])


def test_make_inputs_errors_name_the_problem():
    b = _batch()
    del b["depth"]
    with pytest.raises(ValueError, match="'depth'"):
        T.make_inputs(b)
    with pytest.raises(ValueError, match="'inverse_depth'"):
        T.make_inputs(b, inputs=("rgb", "inverse_depth"))
    with pytest.raises(ValueError, match="'input'"):
        T.make_inputs({"depth": torch.rand(1, 1, 4, 4)})
    with pytest.raises(ValueError, match="unknown"):
        T.make_inputs(_batch(), inputs=("rgb", "albedo"))
    with pytest.raises(ValueError, match="twice"):
        T.make_inputs(_batch(), inputs=("rgb", "depth", "depth"))
    with pytest.raises(ValueError, match="rgb"):
        T.make_inputs(_batch(), inputs=("depth",))
    with pytest.raises(ValueError, match="recipe"):
        T.make_inputs(_batch(), inputs=("rgb",), normal_recipe="sobel")
    bad = _batch()
    bad["depth"] = torch.rand(2, 1, 5, 6)
    with pytest.raises(ValueError, match="match"):
        T.make_inputs(bad)


# ---- paired augmentation -----------------------------------------------------------------------

def _dihedral_images(x: torch.Tensor) -> list[torch.Tensor]:
    return [T.apply_dihedral(x, *bits) for bits in itertools.product([False, True], repeat=3)]


def test_apply_dihedral_gives_the_eight_symmetries():
    x = torch.arange(9).view(3, 3)
    images = _dihedral_images(x)
    assert len({tuple(im.flatten().tolist()) for im in images}) == 8
    assert torch.equal(T.apply_dihedral(x, vflip=True, transpose=True), torch.rot90(x, -1))
    assert T.apply_dihedral(x) is not x and torch.equal(T.apply_dihedral(x), x)


def test_random_flip_rotate_keeps_pairs_aligned_and_is_a_symmetry():
    g = _gen(5)
    b = {"input": torch.rand(16, 3, 5, 5, generator=g), "key": [str(k) for k in range(16)],
         "label": torch.arange(16)}
    b["target"] = b["input"].flip(1) * 0.5  # pixelwise function of the input
    b["depth"] = b["input"][:, :1] + 1.0
    before = {k: (v.clone() if isinstance(v, torch.Tensor) else v) for k, v in b.items()}
    out = random_flip_rotate_seeded(b, 7)
    assert torch.equal(out["target"], out["input"].flip(1) * 0.5)
    assert torch.equal(out["depth"], out["input"][:, :1] + 1.0)
    assert out["key"] is b["key"] and torch.equal(out["label"], torch.arange(16))
    for k in ("input", "target", "depth"):  # batch itself untouched
        assert torch.equal(b[k], before[k])
    used = set()
    for i in range(16):  # each sample went through one of the 8 symmetries
        matches = [j for j, im in enumerate(_dihedral_images(b["input"][i])) if
                   torch.equal(im, out["input"][i])]
        assert matches
        used.add(matches[0])
    assert len(used) > 2  # samples get independent transforms


def test_random_flip_rotate_is_seeded_and_covers_all_eight():
    x = torch.arange(9.0).view(1, 1, 3, 3).expand(64, 1, 3, 3).contiguous()
    a, b = random_flip_rotate_seeded({"input": x}, 1), random_flip_rotate_seeded({"input": x}, 1)
    assert torch.equal(a["input"], b["input"])
    c = random_flip_rotate_seeded({"input": x}, 2)
    assert not torch.equal(a["input"], c["input"])
    assert len({tuple(im.flatten().tolist()) for im in a["input"]}) == 8


def test_random_flip_rotate_non_square_keeps_shape_and_checks_shapes():
    b = {"input": torch.rand(8, 3, 4, 6, generator=_gen()), "depth": torch.rand(8, 1, 4, 6)}
    out = random_flip_rotate_seeded(b, 0)
    assert out["input"].shape == (8, 3, 4, 6) and out["depth"].shape == (8, 1, 4, 6)
    with pytest.raises(ValueError, match="share"):
        random_flip_rotate_seeded({"input": torch.rand(2, 3, 4, 4),
                                   "envmap": torch.rand(2, 3, 16, 32)}, 0)
    # keys= picks the image-like entries and leaves the rest alone
    env = torch.rand(2, 3, 16, 32)
    out = T.random_flip_rotate({"input": torch.rand(2, 3, 4, 4), "envmap": env}, _gen(),
                               keys=["input"])
    assert out["envmap"] is env
    with pytest.raises(ValueError, match="4-D"):
        T.random_flip_rotate({"input": torch.rand(3, 4, 4)}, _gen(), keys=["input"])
    assert T.random_flip_rotate({"key": ["a"]}, _gen()) == {"key": ["a"]}


# ---- MBNet flipped pairs -----------------------------------------------------------------------

def test_hflip_pair_flips_input_target_depth_only():
    g = _gen(4)
    item = {"input": torch.rand(3, 4, 5, generator=g), "target": torch.rand(3, 4, 5, generator=g),
            "depth": torch.rand(1, 4, 5, generator=g), "key": "Image007",
            "guide": torch.rand(3, 4, 5, generator=g)}
    out = T.hflip_pair(item)
    for k in ("input", "target", "depth"):
        assert torch.equal(out[k][..., 0], item[k][..., -1])
        assert torch.equal(T.hflip_pair(out)[k], item[k])  # an involution
    assert out["guide"] is item["guide"] and out["key"] == "Image007"
    batched = T.hflip_pair({k: v[None] for k, v in item.items() if k != "key"})
    assert torch.equal(batched["input"][0], out["input"])
    assert T.hflip_pair({"input": item["input"]}).keys() == {"input"}  # absent keys skipped


def test_hflip_pair_direction_convention_and_errors():
    # the caller picks the 4500-W target; after the flip it is a 4500-E (Track 1) target,
    # and the 6500-N input stays North
    assert layout.FLIP_DIRECTION["W"] == layout.TRACK1_TARGET.direction == "E"
    assert layout.FLIP_DIRECTION[layout.TRACK1_INPUT.direction] == "N"
    with pytest.raises(ValueError, match="input"):
        T.hflip_pair({"target": torch.rand(3, 2, 2)})
