"""DMSHN / Stacked DMSHN (relight_lib/library/models/dmshn.py): sizes against papers.md 5.1/5.3/8, the
pyramid wiring of 5.2, padding of odd sizes, the [0, 1] output with a straight-through clamp,
stacking, init options and input errors."""

import math

import pytest
import torch
from torch.nn import functional as F

from relight_lib.library.models.base import count_parameters, pad_to_multiple
from relight_lib.library.models.dmshn import (
    DMSHN,
    DMSHN_PARAMETERS,
    STACKED_DMSHN_PARAMETERS,
    DMSHNDecoder,
    DMSHNEncoder,
    StackedDMSHN,
)


def _x(b=1, h=32, w=32, seed=0):
    return torch.rand(b, 3, h, w, generator=torch.Generator().manual_seed(seed))


@pytest.fixture(scope="module")
def net():
    torch.manual_seed(0)
    return DMSHN().eval()


@pytest.fixture(scope="module")
def stacked():
    torch.manual_seed(1)
    return StackedDMSHN().eval()


# ---- sizes ---------------------------------------------------------------------------------


def test_parameter_counts_match_papers_md(net, stacked):
    assert count_parameters(DMSHNEncoder()) == 868_288
    assert count_parameters(DMSHNDecoder()) == 939_843
    n, s = count_parameters(net), count_parameters(stacked)
    assert n == DMSHN_PARAMETERS == 5_424_393
    assert s == STACKED_DMSHN_PARAMETERS == 10_848_786
    assert abs(n - 5.42e6) / 5.42e6 < 0.01
    assert abs(s - 10.85e6) / 10.85e6 < 0.01
    # ~21.7 MB of float32, the dehazing README's figure
    assert round(n * 4 / 1e6, 1) == 21.7


def test_levels_do_not_share_weights(net, stacked):
    assert net.encoder_lv1.layer1.weight is not net.encoder_lv2.layer1.weight
    assert not torch.equal(net.encoder_lv1.layer1.weight, net.encoder_lv3.layer1.weight)
    assert not torch.equal(stacked.dmshn1.decoder_lv1.layer24.weight,
                           stacked.dmshn2.decoder_lv1.layer24.weight)


# ---- shapes, padding, range ----------------------------------------------------------------


@pytest.mark.parametrize("hw", [(32, 32), (16, 48), (20, 36), (17, 5), (8, 4), (1, 1)])
def test_any_size_in_same_size_out_in_unit_range(net, hw):
    x = _x(2, *hw)
    with torch.no_grad():
        y = net({"input": x})
    assert y.shape == x.shape
    assert float(y.min()) >= 0.0 and float(y.max()) <= 1.0


def test_odd_sizes_are_reflection_padded_and_cropped(net):
    x = _x(1, 20, 36)
    padded, (h, w) = pad_to_multiple(x, 16)
    assert padded.shape[-2:] == (32, 48)
    with torch.no_grad():
        direct = net.pyramid(padded)["output"][..., :h, :w]
        got = net.relight(x)
    torch.testing.assert_close(got, direct)


def test_multiples_of_16_are_not_padded(net):
    x = _x(1, 32, 48)
    with torch.no_grad():
        torch.testing.assert_close(net.relight(x), net.pyramid(x)["output"])


def test_pyramid_rejects_sides_not_multiple_of_16(net):
    with pytest.raises(ValueError, match="multiples of 16"):
        net.pyramid(_x(1, 24, 32))


@pytest.mark.parametrize("bad", [torch.rand(1, 1, 32, 32), torch.rand(3, 32, 32)])
def test_wrong_input_layout_raises(net, stacked, bad):
    with pytest.raises(ValueError, match=r"\(B, 3, H, W\)"):
        net({"input": bad})
    with pytest.raises(ValueError, match=r"\(B, 3, H, W\)"):
        stacked({"input": bad})


def test_pyramid_level_shapes(net):
    with torch.no_grad():
        p = net.pyramid(_x(2, 64, 32))
    assert p["image_lv2"].shape == (2, 3, 32, 16) and p["image_lv3"].shape == (2, 3, 16, 8)
    assert p["feature_lv1"].shape == (2, 128, 16, 8)
    assert p["feature_lv2"].shape == (2, 128, 8, 4)
    assert p["feature_lv3"].shape == (2, 128, 4, 2)
    assert p["residual_lv3"].shape == p["out_lv3"].shape == (2, 3, 16, 8)
    assert p["residual_lv2"].shape == (2, 3, 32, 16)
    assert p["output"].shape == (2, 3, 64, 32)
    torch.testing.assert_close(p["out_lv2"], p["image_lv2"] + p["residual_lv2"])


# ---- wiring (papers.md 5.2) ----------------------------------------------------------------


def test_pyramid_wiring_matches_spec(net):
    """Capture what each encoder / decoder receives and rebuild it from the spec's equations."""
    seen = {}
    hooks = [getattr(net, name).register_forward_pre_hook(
        lambda _m, args, _n=name: seen.__setitem__(_n, args[0].clone()))
        for name in ("encoder_lv1", "encoder_lv2", "encoder_lv3",
                     "decoder_lv1", "decoder_lv2", "decoder_lv3")]
    x = _x(1, 32, 64)
    try:
        with torch.no_grad():
            p = net.pyramid(x)
    finally:
        for h in hooks:
            h.remove()

    def down(t):
        return F.interpolate(t, scale_factor=0.5, mode="bilinear", align_corners=False)

    def up(t):
        return F.interpolate(t, scale_factor=2.0, mode="bilinear", align_corners=False)

    i2, i3 = down(x), down(down(x))
    torch.testing.assert_close(seen["encoder_lv3"], i3)
    torch.testing.assert_close(seen["decoder_lv3"], p["feature_lv3"])
    torch.testing.assert_close(seen["encoder_lv2"], i2 + up(p["residual_lv3"]))
    torch.testing.assert_close(seen["decoder_lv2"], p["feature_lv2"] + up(p["feature_lv3"]))
    torch.testing.assert_close(seen["encoder_lv1"], x + up(p["residual_lv2"]))
    torch.testing.assert_close(seen["decoder_lv1"], p["feature_lv1"] + up(p["feature_lv2"]))


def test_output_is_the_level1_decoder_output_without_input_skip():
    torch.manual_seed(0)
    net = DMSHN(clamp_output=False).eval()
    torch.nn.init.zeros_(net.decoder_lv1.layer24.weight)
    torch.nn.init.zeros_(net.decoder_lv1.layer24.bias)
    with torch.no_grad():
        y = net({"input": _x(1, 32, 32)})
    assert torch.count_nonzero(y) == 0  # no "+ input": a zero last layer gives a black image


def test_every_parameter_gets_a_gradient():
    torch.manual_seed(0)
    for model in (DMSHN(), StackedDMSHN()):
        x = _x(2, 32, 32).requires_grad_(True)
        model({"input": x}).sub(0.5).pow(2).mean().backward()
        missing = [n for n, p in model.named_parameters()
                   if p.grad is None or not torch.any(p.grad != 0)]
        assert missing == []
        assert x.grad is not None and torch.isfinite(x.grad).all()


# ---- output range: straight-through clamp --------------------------------------------------


def test_clamp_is_straight_through():
    torch.manual_seed(0)
    net = DMSHN()
    with torch.no_grad():
        net.decoder_lv1.layer24.bias.fill_(5.0)  # every raw output far above 1
    y = net({"input": _x(1, 16, 16)})
    assert torch.equal(y, torch.ones_like(y))
    y.sum().backward()
    # a plain clamp would give exactly zero gradient here; straight-through passes d/dy = 1
    torch.testing.assert_close(net.decoder_lv1.layer24.bias.grad, torch.full((3,), 256.0))


def test_clamp_output_false_returns_the_raw_output():
    torch.manual_seed(0)
    net = DMSHN(clamp_output=False).eval()
    with torch.no_grad():
        net.decoder_lv1.layer24.bias.fill_(5.0)
        y = net({"input": _x(1, 16, 16)})
    assert float(y.min()) > 1.0


# ---- stacking (papers.md 5.3) --------------------------------------------------------------


def test_stack_is_two_dmshns_in_series(stacked):
    x = _x(1, 32, 32)
    with torch.no_grad():
        out, mid = stacked.relight(x, return_intermediate=True)
        torch.testing.assert_close(mid, stacked.dmshn1.relight(x))
        torch.testing.assert_close(out, stacked.dmshn2.relight(mid))
        torch.testing.assert_close(stacked({"input": x}), out.clamp(0, 1))
    assert stacked.dmshn1.clamp_output is False and stacked.dmshn2.clamp_output is False


def test_stack_pads_once_and_crops_back(stacked):
    x = _x(1, 20, 24)
    with torch.no_grad():
        out, mid = stacked.relight(x, return_intermediate=True)
        padded, _ = pad_to_multiple(x, 16)
        ref_mid = stacked.dmshn1.pyramid(padded)["output"]
        ref_out = stacked.dmshn2.pyramid(ref_mid)["output"]
    assert out.shape == mid.shape == x.shape
    torch.testing.assert_close(out, ref_out[..., :20, :24])


# ---- init ----------------------------------------------------------------------------------


def test_dehazing_init_and_unknown_init():
    torch.manual_seed(0)
    net = DMSHN(init="dehazing")
    conv = net.encoder_lv2.layer10.body[0]  # 128 -> 128, n = 3 * 3 * 128
    expected = 0.5 * math.sqrt(2.0 / (9 * 128))
    assert abs(float(conv.weight.detach().std()) - expected) / expected < 0.05
    assert torch.count_nonzero(conv.bias) == 0
    deconv = net.decoder_lv3.layer16  # ConvTranspose 128 -> 64, n = 4 * 4 * 64
    expected = 0.5 * math.sqrt(2.0 / (16 * 64))
    assert abs(float(deconv.weight.detach().std()) - expected) / expected < 0.05
    assert StackedDMSHN(init="dehazing").dmshn2.init == "dehazing"
    with pytest.raises(ValueError, match="init"):
        DMSHN(init="xavier")


def test_class_attributes():
    assert DMSHN.size_multiple == StackedDMSHN.size_multiple == 16
    assert DMSHN.needs == StackedDMSHN.needs == ()  # RGB only: MSR-Net uses no depth
