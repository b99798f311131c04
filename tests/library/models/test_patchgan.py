"""pix2pix PatchGAN (papers.md section 6.9): size, output grid, no bias before BatchNorm."""

import torch

from relight_lib.library.models import RelightModel, count_parameters, list_models
from relight_lib.library.models.patchgan import PatchGAN


def test_parameter_count():
    n = count_parameters(PatchGAN())
    assert n == 2_765_633
    assert abs(n - 2.77e6) / 2.77e6 < 0.02


def test_patch_grid():
    d = PatchGAN()
    assert d(torch.rand(2, 3, 256, 256)).shape == (2, 1, 30, 30)
    assert d(torch.rand(1, 3, 128, 64)).shape == (1, 1, 14, 6)


def test_structure():
    d = PatchGAN()
    convs = [m for m in d.modules() if isinstance(m, torch.nn.Conv2d)]
    assert [c.out_channels for c in convs] == [64, 128, 256, 512, 1]
    assert [c.stride[0] for c in convs] == [2, 2, 2, 1, 1]
    assert [c.bias is not None for c in convs] == [True, False, False, False, True]
    assert not isinstance(d, RelightModel)
    assert "patchgan" not in list_models()
