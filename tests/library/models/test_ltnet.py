"""LTNet (relight_lib/library/models/ltnet.py): sizes against papers.md section 3.3, shapes, the global
residual switch, the straight-through clamp, instance-norm placement, inputs -> channels."""

import sys
import types

import pytest
import torch

from relight_lib.library.models.base import count_parameters
from relight_lib.library.models.ltnet import (
    TABLE5_CONFIGS,
    ConvMultiBlock,
    LTNet,
    LTNetLarge,
    official_parameter_count,
)

RD = ("rgb", "depth")  # inputs that need no relight_lib.library.data.transforms


def _batch(b=1, h=64, w=64, seed=0):
    g = torch.Generator().manual_seed(seed)
    return {"input": torch.rand(b, 3, h, w, generator=g),
            "depth": torch.rand(b, 1, h, w, generator=g)}


def _zero_head(model):
    torch.nn.init.zeros_(model.conv_l0_d1.conv2d.weight)
    torch.nn.init.zeros_(model.conv_l0_d1.conv2d.bias)


# ---- sizes ---------------------------------------------------------------------------------

# exact trainable counts of this model (8 input channels), per corrected Table 5 label
EXACT = {"8,32": 6_757_575, "4,32": 4_223_807, "4,16": 1_693_903, "2,16": 1_059_515,
         "4,4": 682_507}


@pytest.mark.parametrize("label", list(TABLE5_CONFIGS))
def test_parameter_counts_match_spec(label):
    cfg = TABLE5_CONFIGS[label]
    model = LTNet.from_table5(label)
    n = count_parameters(model)
    assert n == EXACT[label]
    spec = cfg.spec_params_m * 1e6
    assert abs(n - spec) / spec < 0.02
    # the spec's tally is the whole official module (conv_t0 and side heads included)
    assert round(official_parameter_count(model) / 1e6, 2) == cfg.spec_params_m


def test_submitted_and_large_configs():
    star = LTNet()
    assert (star.nc, star.f1, star.in_channels) == (16, 2, 8)
    assert count_parameters(star) == 1_059_515
    assert official_parameter_count(star) == 1_071_351
    large = LTNetLarge()
    assert (large.nc, large.f1) == (32, 8) and count_parameters(large) == 6_757_575
    assert TABLE5_CONFIGS["2,16"].printed_label == "4,16"  # the baseline's typo [D]
    with pytest.raises(KeyError, match="Table 5"):
        LTNet.from_table5("16,4")


def test_fewer_inputs_only_change_the_first_conv():
    # 9 * nc weights per input channel in conv_l1_d1.conv_3a
    assert count_parameters(LTNet()) - count_parameters(LTNet(inputs=RD)) == (8 - 4) * 9 * 16


# ---- inputs --------------------------------------------------------------------------------

@pytest.mark.parametrize("inputs, channels, needs", [
    (("rgb",), 3, ()),
    (("rgb", "depth"), 4, ("depth",)),                                   # Table 2 I,D
    (("rgb", "depth", "inverse_depth"), 5, ("depth",)),                  # I,D,V
    (("rgb", "depth", "normal"), 7, ("depth",)),                         # I,D,N
    (("rgb", "depth", "inverse_depth", "normal"), 8, ("depth",)),        # I,D,V,N (default)
    (("normal", "rgb", "depth"), 7, ("depth",)),                         # any order accepted
])
def test_in_channels_follow_inputs(inputs, channels, needs):
    model = LTNet(inputs=inputs, nc=4, f1=1)
    assert model.in_channels == channels
    assert model.conv_l1_d1.conv_3a.conv2d.in_channels == channels
    assert model.needs == needs
    assert model.inputs[0] == "rgb"
    assert LTNet(inputs=inputs, nc=4, f1=1, in_channels=channels).in_channels == channels


def test_bad_inputs_rejected():
    with pytest.raises(ValueError, match="unknown"):
        LTNet(inputs=("rgb", "albedo"))
    with pytest.raises(ValueError, match="rgb"):
        LTNet(inputs=("depth",))
    with pytest.raises(ValueError, match="duplicate"):
        LTNet(inputs=("rgb", "depth", "depth"))
    with pytest.raises(ValueError, match="in_channels"):
        LTNet(inputs=RD, in_channels=8)


def test_bad_sizes_rejected():
    model = LTNet(inputs=RD, nc=4, f1=1)
    with pytest.raises(ValueError, match="multiples of 16"):
        model(_batch(h=48, w=40))
    with pytest.raises(ValueError, match="at least 32"):
        model(_batch(h=16, w=32))
    with pytest.raises(KeyError):
        model({"input": torch.rand(1, 3, 32, 32)})  # depth missing


# ---- forward -------------------------------------------------------------------------------

@pytest.mark.parametrize("hw", [(64, 64), (64, 96)])
def test_output_shape_and_range(hw):
    torch.manual_seed(0)
    model = LTNet(inputs=RD)
    out, res = model(_batch(2, *hw), return_residual=True)
    assert out.shape == res.shape == (2, 3, *hw)
    assert torch.isfinite(out).all() and out.min() >= 0 and out.max() <= 1


def test_global_residual_switch():
    torch.manual_seed(0)
    batch = _batch(2, 32, 48)
    on = LTNet(inputs=RD, nc=4, f1=1)
    off = LTNet(inputs=RD, nc=4, f1=1, global_residual=False)
    for m in (on, off):
        _zero_head(m)
    # zero residual: identity with the skip, mid grey (0 in the normalised domain) without
    assert torch.allclose(on(batch), batch["input"], atol=1e-6)
    assert torch.allclose(off(batch), torch.full_like(batch["input"], 0.5))
    # in general: prediction = clamp(input + residual)
    torch.manual_seed(1)
    m = LTNet(inputs=RD, nc=4, f1=1)
    out, res = m(batch, return_residual=True)
    assert torch.allclose(out, (batch["input"] + res).clamp(0, 1), atol=1e-6)
    raw = LTNet(inputs=RD, nc=4, f1=1, global_residual=False, clamp_output=False)
    out, res = raw(batch, return_residual=True)
    assert torch.allclose(out, res + 0.5)


def test_input_is_normalised_to_minus_half_plus_half():
    model = LTNet(inputs=RD, nc=4, f1=1)
    batch = _batch(1, 32, 32)
    batch["depth"][0, 0, 0, 0], batch["depth"][0, 0, 0, 1] = 0.0, 1.0  # already spans [0, 1]
    x = model._network_input(batch)
    assert torch.allclose(x, torch.cat([batch["input"], batch["depth"]], 1) - 0.5)


def test_depth_is_stretched_to_0_1_per_image():
    # paper section 3.1: depth "uniformly normalized to [0, 1]" (the official code: min-max)
    model = LTNet(inputs=RD, nc=4, f1=1)
    batch = _batch(3, 32, 32)
    batch["depth"][0] = batch["depth"][0] * 0.2 + 0.4  # a narrow range: [0.4, 0.6)
    batch["depth"][1] = batch["depth"][1] * 50.0 + 10.0  # metres, far outside [0, 1]
    batch["depth"][2] = 0.7  # constant: no range to stretch
    d = model._network_input(batch)[:, 3] + 0.5
    for k in (0, 1):
        assert float(d[k].min()) == 0.0 and float(d[k].max()) == pytest.approx(1.0)
        raw = batch["depth"][k, 0]
        assert torch.allclose(d[k], (raw - raw.min()) / (raw.max() - raw.min()), atol=1e-6)
    assert torch.equal(d[2], torch.zeros(32, 32))  # guarded: no division by zero
    assert torch.isfinite(model(batch)).all()
    # scale and offset of the stored depth no longer matter
    shifted = {**batch, "depth": batch["depth"] * 3.0 + 1.0}
    assert torch.allclose(model._network_input(shifted), model._network_input(batch), atol=1e-5)
    # the stretch can be switched off (depth then used as stored)
    off = LTNet(inputs=RD, nc=4, f1=1, normalize_depth=False)
    assert torch.equal(off._network_input(batch)[:, 3:] + 0.5, batch["depth"])


def test_depth_stretch_matches_the_data_layer():
    transforms = pytest.importorskip("relight_lib.library.data.transforms")
    from relight_lib.library.models.ltnet import _minmax

    d = torch.rand(4, 1, 16, 16) * 7 - 2
    d[3] = 1.5
    assert torch.allclose(_minmax(d), transforms.normalize_depth(d))


def test_straight_through_clamp():
    batch = _batch(1, 32, 32)
    model = LTNet(inputs=RD, nc=4, f1=1)
    _zero_head(model)
    with torch.no_grad():
        model.conv_l0_d1.conv2d.bias.fill_(2.0)  # push every pixel above 1
    out = model(batch)
    assert torch.equal(out, torch.ones_like(out))
    out.sum().backward()
    # a hard clamp would give a zero gradient here; straight-through passes it on
    assert torch.allclose(model.conv_l0_d1.conv2d.bias.grad, torch.full((3,), 32.0 * 32.0))
    raw = LTNet(inputs=RD, nc=4, f1=1, clamp_output=False)
    _zero_head(raw)
    with torch.no_grad():
        raw.conv_l0_d1.conv2d.bias.fill_(2.0)
    assert torch.allclose(raw(batch), batch["input"] + 2.0)


def test_backward_gives_finite_grads_everywhere():
    torch.manual_seed(0)
    model = LTNet(inputs=RD)
    out, res = model(_batch(2, 32, 32), return_residual=True)
    (out.mean() + res.abs().mean()).backward()
    for name, p in model.named_parameters():
        assert p.grad is not None, name
        assert torch.isfinite(p.grad).all(), name


def test_eval_is_deterministic():
    model = LTNet(inputs=RD, nc=4, f1=1).eval()
    batch = _batch(1, 32, 32)
    with torch.no_grad():
        assert torch.equal(model(batch), model(batch))


# ---- structure -----------------------------------------------------------------------------

def _blocks(model):
    return {name: m for name, m in model.named_modules() if isinstance(m, ConvMultiBlock)}


def _has_norm(module):
    return any(isinstance(m, torch.nn.InstanceNorm2d) for m in module.modules())


def test_instance_norm_on_levels_2_to_5_only():
    blocks = _blocks(LTNet(inputs=RD, nc=4, f1=1))
    assert len(blocks) == 4 + 4 + 5 + 5 + 7 + 9  # encoder, l5, l4, l3, l2, l1 decoder
    for name, block in blocks.items():
        assert _has_norm(block) == (not name.startswith("conv_l1_")), name
    for m in (LTNet(inputs=RD, nc=4, f1=1).modules()):
        if isinstance(m, torch.nn.InstanceNorm2d):
            assert m.affine and not m.track_running_stats
    # heads and up-sampling layers never normalise
    model = LTNet(inputs=RD, nc=4, f1=1)
    for name in ("conv_l1_out", "conv_l0_d1", "conv_t4a", "conv_t1b"):
        assert not _has_norm(getattr(model, name)), name
    # --with_in off: no norm anywhere
    assert not _has_norm(LTNet(inputs=RD, nc=4, f1=1, instance_norm=False))
    # the official instance_norm_level_1 option spares l1_d1, l1_d3 and l1_d14
    lvl1 = _blocks(LTNet(inputs=RD, nc=4, f1=1, instance_norm_level_1=True))
    for name, block in lvl1.items():
        expected = name not in ("conv_l1_d1", "conv_l1_d3", "conv_l1_d14")
        assert _has_norm(block) == expected, name


def test_channel_plan_of_submitted_config():
    model = LTNet()
    plan = {  # block: (input channels, kmax, output channels), papers.md section 3.3
        "conv_l1_d1": (8, 3, 16), "conv_l5_d1": (128, 3, 32), "conv_l5_d4": (32, 3, 128),
        "conv_l4_d3": (144, 3, 16), "conv_l4_d8": (32, 3, 128), "conv_l3_d3": (72, 5, 16),
        "conv_l3_d8": (88, 3, 64), "conv_l2_d5": (40, 7, 12), "conv_l2_d10": (44, 5, 8),
        "conv_l2_d12": (12, 3, 32), "conv_l1_d3": (18, 5, 4), "conv_l1_d6": (6, 9, 8),
        "conv_l1_d10": (8, 7, 6), "conv_l1_d12": (22, 5, 4), "conv_l1_d14": (22, 3, 16),
    }
    for name, (cin, kmax, cout) in plan.items():
        block = getattr(model, name)
        assert block.conv_3a.conv2d.in_channels == cin, name
        assert max(block.kernels) == kmax, name
        assert block.out_channels == cout, name
    assert not hasattr(model, "conv_t0") and not hasattr(model, "conv_l5_out")


# ---- normal map path (needs relight_lib.library.data.transforms) -------------------------------------

def test_default_inputs_use_transforms():
    transforms = pytest.importorskip("relight_lib.library.data.transforms")
    torch.manual_seed(0)
    model = LTNet(nc=4, f1=1)
    batch = _batch(1, 32, 48)
    batch["depth"] = batch["depth"] * 0.5 + 0.25  # stored in [0.25, 0.75): stretched first
    x = model._network_input(batch)
    assert x.shape == (1, 8, 32, 48)
    rgb, depth = batch["input"], transforms.normalize_depth(batch["depth"])
    assert torch.allclose(x[:, 3:4] + 0.5, depth, atol=1e-6)
    assert torch.allclose(x[:, 4:5] + 0.5, transforms.inverse_depth(depth), atol=1e-6)
    assert torch.allclose(x[:, 5:] + 0.5, transforms.normal_map(rgb, depth, recipe="paper"),
                          atol=1e-5)
    # the code recipe differentiates the depth as stored, as the official code does
    code = LTNet(nc=4, f1=1, normal_recipe="code")._network_input(batch)
    assert torch.allclose(code[:, 5:] + 0.5,
                          transforms.normal_map(None, batch["depth"], recipe="code"), atol=1e-6)
    out = model(batch)
    assert out.shape == (1, 3, 32, 48) and torch.isfinite(out).all()


def test_precomputed_maps_are_used_as_given():
    model = LTNet(nc=4, f1=1)
    batch = _batch(1, 32, 32)
    batch["inverse_depth"] = torch.zeros(1, 1, 32, 32)
    batch["normal"] = torch.ones(1, 3, 32, 32)
    x = model._network_input(batch)
    assert torch.equal(x[:, 4:5], torch.full((1, 1, 32, 32), -0.5))
    assert torch.equal(x[:, 5:], torch.full((1, 3, 32, 32), 0.5))


def test_derived_maps_are_requested_from_transforms(monkeypatch):
    # a stand-in module records the calls, so this runs whether or not the real one exists
    calls = []
    stub = types.ModuleType("relight_lib.library.data.transforms")
    stub.inverse_depth = lambda d: (calls.append("inverse_depth"), 1 - d)[1]
    stub.normal_map = lambda rgb, d, recipe="paper": (
        calls.append(("normal", recipe)), torch.full_like(rgb, 0.25))[1]
    monkeypatch.setitem(sys.modules, "relight_lib.library.data.transforms", stub)
    model = LTNet(nc=4, f1=1, normal_recipe="code")
    batch = _batch(1, 32, 32)
    x = model._network_input(batch)
    assert calls == ["inverse_depth", ("normal", "code")]
    d = batch["depth"]
    d = (d - d.min()) / (d.max() - d.min())  # stretched to [0, 1] first
    assert torch.allclose(x[:, 4:5], 0.5 - d, atol=1e-6)  # (1 - D) - 0.5
    assert torch.allclose(x[:, 5:], torch.full((1, 3, 32, 32), -0.25))
    assert model(batch).shape == (1, 3, 32, 32)
