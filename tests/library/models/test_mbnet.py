"""MBNet (relight_lib/library/models/mbnet.py): size, shapes, range, residual switch, DDPM, weights.

One full model is built per module (about 4 s, 0.6 GB) and reused; the DDPM tests use small
standalone modules.
"""

import pytest
import torch
from torch.nn import functional as F

from relight_lib.library import weights
from relight_lib.library.models.base import count_parameters
from relight_lib.library.models.mbnet import (
    DDPM,
    DILATIONS,
    DenseLayer,
    DenseTransLayer,
    DynamicDilatedBranch,
    MBNet,
    resnet50_stages,
)


@pytest.fixture(scope="module")
def net():
    torch.manual_seed(0)
    return MBNet()


def _batch(b=2, h=64, w=64, seed=0):
    g = torch.Generator().manual_seed(seed)
    return {"input": torch.rand(b, 3, h, w, generator=g),
            "depth": torch.rand(b, 1, h, w, generator=g)}


def test_parameter_count_matches_the_spec(net):
    n = count_parameters(net)
    assert abs(n - 153.2e6) / 153.2e6 < 0.02
    assert n == 153_192_067
    # the two streams: torchvision ResNet-50 minus fc; the depth conv1 has 1 input channel
    rgb = sum(count_parameters(getattr(net, f"encoder{s}")) for s in (2, 4, 8, 16, 32))
    dep = sum(count_parameters(getattr(net, f"depth_encoder{s}")) for s in (2, 4, 8, 16, 32))
    assert rgb == 23_508_032 and rgb - dep == 2 * 64 * 7 * 7
    assert net.depth_encoder2[0].in_channels == 1 and net.encoder2[0].in_channels == 3
    assert count_parameters(net.depth_trans32) == 78_365_376


def test_defaults_need_no_weights_and_say_so(net):
    assert net.needs == ("depth",) and net.size_multiple == 32
    assert net.residual is True and net.pretrained == "none"
    for stream in ("rgb", "depth"):
        info = net.weights_info[stream]
        assert info["source"] == "random" and info["path"] is None
        assert "pretrained='none'" in info["reason"]
    assert "1-channel" in net.weights_info["depth"]["note"]


def test_forward_shape_range_and_backward(net):
    net.train()
    batch = _batch(2, 32, 64)  # the /32 maps are 1 x 2: batch norm still sees 4 values
    out, raw = net(batch, return_residual=True)
    assert out.shape == (2, 3, 32, 64) and raw.shape == (2, 3, 32, 64)
    assert torch.isfinite(out).all() and out.min() >= 0 and out.max() <= 1
    out.mean().backward()
    for name in ("encoder2.0.weight", "depth_encoder2.0.weight", "depth_trans32.fuse_main."
                 "basicconv.0.weight", "selfdc_8.branch_5.gernerate_kernel.2.weight",
                 "classifier.bias"):
        g = dict(net.named_parameters())[name].grad
        assert g is not None and torch.isfinite(g).all() and g.abs().sum() > 0, name
    net.zero_grad(set_to_none=True)


def test_residual_switch(net):
    net.eval()
    batch = _batch(1, 32, 32, seed=3)
    try:
        with torch.no_grad():
            net.residual = True
            out_res, raw = net(batch, return_residual=True)
            net.residual = False
            out_direct, raw2 = net(batch, return_residual=True)
    finally:
        net.residual = True
    torch.testing.assert_close(raw, raw2)  # the switch changes the head only
    torch.testing.assert_close(out_res, F.relu(batch["input"] + raw).clamp(0, 1))
    torch.testing.assert_close(out_direct, raw.clamp(0, 1))
    assert not torch.allclose(out_res, out_direct)


def test_clamp_is_straight_through(net):
    """Values are clamped to [0, 1], yet the gradient is that of the unclamped output."""
    net.eval()
    bias = net.classifier.bias
    saved = bias.detach().clone()
    try:
        with torch.no_grad():
            bias.fill_(5.0)  # every output far above 1
        out = net(_batch(1, 32, 32))
        assert torch.equal(out, torch.ones_like(out))
        out.sum().backward()
        # d out / d bias_c = number of pixels (H * W) for each colour channel (batch of one)
        torch.testing.assert_close(bias.grad, torch.full((3,), 32.0 * 32.0))
        net.clamp_output = False
        with torch.no_grad():
            assert net(_batch(1, 32, 32)).min() > 1  # unclamped: the raw output
    finally:
        net.clamp_output = True
        with torch.no_grad():
            bias.copy_(saved)
        net.zero_grad(set_to_none=True)


def test_input_errors(net):
    b = _batch(1, 64, 64)
    with pytest.raises(ValueError, match="depth"):
        net({"input": b["input"]})
    with pytest.raises(ValueError, match="multiples of 32"):
        net(_batch(1, 48, 64))
    with pytest.raises(ValueError, match=r"\(B, 3, H, W\)"):
        net({"input": torch.rand(1, 4, 64, 64), "depth": b["depth"]})
    with pytest.raises(ValueError, match="depth"):
        net({"input": b["input"], "depth": torch.rand(1, 1, 32, 64)})
    with pytest.raises(ValueError, match="pretrained"):
        MBNet(pretrained="imagenet")


def test_imagenet_normalize_applies_to_the_rgb_stream_only(net):
    net.eval()
    batch = _batch(1, 32, 32, seed=5)
    seen = {}
    hooks = [net.encoder2.register_forward_pre_hook(lambda m, a: seen.__setitem__("rgb", a[0])),
             net.depth_encoder2.register_forward_pre_hook(
                 lambda m, a: seen.__setitem__("depth", a[0]))]
    try:
        with torch.no_grad():
            net(batch)
            assert torch.equal(seen["rgb"], batch["input"])  # default: raw [0, 1], as the demo
            net.imagenet_normalize = True
            net(batch)
    finally:
        net.imagenet_normalize = False
        for h in hooks:
            h.remove()
    mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
    torch.testing.assert_close(seen["rgb"], (batch["input"] - mean) / std)
    assert torch.equal(seen["depth"], batch["depth"])


# ---- DDPM -----------------------------------------------------------------------------------


def test_ddpm_kernel_generation_shapes():
    torch.manual_seed(0)
    ddpm = DDPM(64, 64, 64)
    assert ddpm.dilations == DILATIONS == (1, 3, 5)
    x, y = torch.rand(2, 64, 12, 10), torch.rand(2, 64, 12, 10)
    for branch, d in zip(ddpm.branches(), DILATIONS):
        assert branch.dilation == d and branch.unfold.dilation == d
        dense = branch.gernerate_kernel[1]
        assert isinstance(dense, DenseLayer) and len(dense.denseblock) == 4
        # the i-th dense conv sees i * 16 channels (densely connected)
        assert [blk.basicconv[0].in_channels for blk in dense.denseblock] == [16, 32, 48, 64]
        k = branch.kernels(y)
        assert k.shape == (2, 16, 9, 12, 10)  # per pixel, per channel, 3x3 taps
    assert ddpm(x, y).shape == (2, 64, 12, 10)
    assert count_parameters(ddpm) == 395_104


@pytest.mark.parametrize("dilation", DILATIONS)
def test_kernel_transformation_is_a_dilated_depthwise_filter(dilation):
    """With kernels constant over the image, the unfold-based dynamic filter equals a depthwise
    convolution with the same 3x3 taps at the same dilation (zero padding)."""
    torch.manual_seed(dilation)
    c = 4
    branch = DynamicDilatedBranch(c, 8, c, dilation)
    taps = torch.randn(c, 9)
    last = branch.gernerate_kernel[2]
    with torch.no_grad():
        last.weight.zero_()
        last.bias.copy_(taps.reshape(-1))  # kernels independent of y and of the pixel
    x, y = torch.rand(1, c, 13, 11), torch.rand(1, 8, 13, 11)
    with torch.no_grad():
        got = branch(x, y)
        ref = F.conv2d(x, taps.view(c, 1, 3, 3), padding=dilation, dilation=dilation, groups=c)
        want = branch.fuse(ref)
    torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-5)
    with pytest.raises(ValueError, match="share H, W"):
        branch(x, torch.rand(1, 8, 12, 11))


def test_fusion_sums_streams_and_checks_shapes():
    torch.manual_seed(0)
    fuse = DenseTransLayer(128, 64).eval()
    a, b = torch.rand(1, 128, 6, 6), torch.rand(1, 128, 6, 6)
    with torch.no_grad():
        out = fuse(a, b)
        swapped = fuse(b, a)  # element-wise sum first: symmetric in the two streams
    assert out.shape == (1, 64, 6, 6)
    torch.testing.assert_close(out, swapped)
    assert fuse.res_main.down.out_channels == 64  # down factor in/out = 2 -> 64 mid channels
    with pytest.raises(ValueError, match="equal"):
        fuse(a, torch.rand(1, 128, 3, 3))


# ---- weights policy ------------------------------------------------------------------------


def test_require_policy_fails_without_weights(monkeypatch, tmp_path):
    monkeypatch.setenv("RELIGHT_WEIGHTS", str(tmp_path))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    with pytest.raises(weights.WeightsNotFound, match="resnet50"):
        resnet50_stages(3, "require")
    with pytest.raises(ValueError, match="pretrained"):
        resnet50_stages(3, "yes")


def test_allow_random_policy_records_random_init_and_is_seeded(monkeypatch, tmp_path):
    monkeypatch.setenv("RELIGHT_WEIGHTS", str(tmp_path))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    stages, info = resnet50_stages(1, "allow_random", seed=3)
    assert info["source"] == "random" and info["name"] == "resnet50"
    assert "not found" in info["reason"] and "1-channel" in info["note"]
    assert stages[0][0].in_channels == 1 and len(stages) == 5
    again, _ = resnet50_stages(1, "none", seed=3)
    # same seed -> same random init, whichever route led to it
    torch.testing.assert_close(stages[4][0].conv1.weight, again[4][0].conv1.weight)
    torch.testing.assert_close(stages[0][0].weight, again[0][0].weight)
