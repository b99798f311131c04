"""pix2pix's PatchGAN discriminator (Isola et al. 2017), as used by 2DSceneRelighting's GAN
experiment (``models/patchGan.py``, papers.md section 6.9).

``NLayerDiscriminator`` with 3 input channels, ndf 64, 3 layers and BatchNorm: 4 x 4 convs with
padding 1, channels 64 (stride 2, no norm), 128 (stride 2), 256 (stride 2), 512 (stride 1),
then 1 (stride 1) raw logits; LeakyReLU 0.2; the convs followed by BatchNorm have no bias.
A 256 x 256 image gives 30 x 30 patch logits, each seeing a 70 x 70 window. 2,765,633
parameters (papers.md: 2.77 M).

This is a discriminator, not a relighting model: it is not a
:class:`~relight_lib.library.models.base.RelightModel` and is not in the model registry. The LSGAN
losses it is trained with are :func:`relight_lib.library.losses.lsgan_discriminator_loss` and
:func:`relight_lib.library.losses.lsgan_generator_loss`.
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["PatchGAN"]


class PatchGAN(nn.Module):
    """Patch discriminator: (B, C, H, W) image in [0, 1] -> (B, 1, h, w) patch logits.

    Args:
        in_channels: Image channels. Paper: 3 (the relit or ground-truth image only; the code
            does not condition on the input image).
        ndf: Width of the first layer. Paper: 64.
        n_layers: Stride-2 layers after the first. Paper: 3.

    Shape:
        - input: (B, in_channels, H, W), H and W at least 32 for the defaults; 256 in the
          paper.
        - output: (B, 1, H/8 - 2, W/8 - 2) for the default (30 x 30 at 256 px).

    Example:
        >>> PatchGAN()(torch.rand(1, 3, 64, 64)).shape
        torch.Size([1, 1, 6, 6])
    """

    def __init__(self, in_channels: int = 3, ndf: int = 64, n_layers: int = 3) -> None:
        super().__init__()
        layers: list[nn.Module] = [nn.Conv2d(in_channels, ndf, 4, stride=2, padding=1),
                                   nn.LeakyReLU(0.2, inplace=True)]
        mult = 1
        for n in range(1, n_layers + 1):
            prev, mult = mult, min(2 ** n, 8)
            stride = 2 if n < n_layers else 1
            layers += [nn.Conv2d(ndf * prev, ndf * mult, 4, stride=stride, padding=1, bias=False),
                       nn.BatchNorm2d(ndf * mult), nn.LeakyReLU(0.2, inplace=True)]
        layers.append(nn.Conv2d(ndf * mult, 1, 4, stride=1, padding=1))
        self.model = nn.Sequential(*layers)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        if image.ndim != 4:
            raise ValueError(f"PatchGAN expects (B, C, H, W), got {tuple(image.shape)}")
        return self.model(image)
