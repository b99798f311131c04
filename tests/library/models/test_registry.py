"""Every registered model: builds, runs forward on a small batch, keeps shape and range,
back-propagates (timm-style parametrised test over list_models())."""

import pytest
import torch

from relight_lib.library import models


@pytest.mark.parametrize("name", models.list_models())
def test_forward_backward(name):
    torch.manual_seed(0)
    model = models.build_model(name)
    m = max(model.size_multiple, 1)
    h, w = 8 * m, 4 * m
    batch = {"input": torch.rand(2, 3, h, w), "depth": torch.rand(2, 1, h, w),
             "guide": torch.rand(2, 3, h, w)}
    out = model(batch)
    assert out.shape == (2, 3, h, w)
    assert torch.isfinite(out).all() and out.min() >= 0 and out.max() <= 1
    out.mean().backward()
    grads = [p.grad for p in model.parameters() if p.requires_grad]
    assert grads and all(g is not None and torch.isfinite(g).all() for g in grads)


def test_unknown_model():
    with pytest.raises(KeyError, match="registered"):
        models.build_model("pix2pix")


def test_tiny_unet_starts_as_identity_and_declares_depth():
    x = torch.rand(1, 3, 16, 16)
    assert torch.equal(models.build_model("tiny_unet")({"input": x}), x)
    m = models.build_model("tiny_unet", use_depth=True)
    assert m.needs == ("depth",)
    with pytest.raises(KeyError):
        m({"input": x})


def test_pad_to_multiple_small_inputs():
    y, hw = models.pad_to_multiple(torch.rand(1, 3, 2, 3), 8)
    assert y.shape[-2:] == (8, 8) and hw == (2, 3)
    assert models.count_parameters(models.build_model("tiny_unet", width=4)) > 0
