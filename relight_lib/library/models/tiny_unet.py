"""TinyUNet: a small U-Net of the suite's own, not from any of the four papers.

It exists so the engine, the runner and ``relight predict`` can be tested and taught end to end in
seconds on a CPU: two down-sampling levels, skip connections, and a global residual (the output is
the input plus a predicted correction, clamped to [0, 1]). With ``use_depth`` it also reads the
depth map as a fourth input channel.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import nn

from relight_lib.library.models.base import RelightModel


def _block(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1), nn.ReLU(inplace=True),
                         nn.Conv2d(cout, cout, 3, padding=1), nn.ReLU(inplace=True))


class TinyUNet(RelightModel):
    """Args:
        width: Channels of the first level (doubled at each level). Default 16 (about 0.12 M
            parameters).
        use_depth: Read ``batch['depth']`` as a fourth input channel.
    """

    size_multiple = 4

    def __init__(self, width: int = 16, use_depth: bool = False) -> None:
        super().__init__()
        self.use_depth = use_depth
        self.needs = ("depth",) if use_depth else ()
        cin = 4 if use_depth else 3
        self.enc1 = _block(cin, width)
        self.enc2 = _block(width, 2 * width)
        self.mid = _block(2 * width, 4 * width)
        self.up2 = nn.ConvTranspose2d(4 * width, 2 * width, 2, stride=2)
        self.dec2 = _block(4 * width, 2 * width)
        self.up1 = nn.ConvTranspose2d(2 * width, width, 2, stride=2)
        self.dec1 = _block(2 * width, width)
        self.head = nn.Conv2d(width, 3, 1)
        nn.init.zeros_(self.head.weight)  # start as the identity mapping
        nn.init.zeros_(self.head.bias)

    def forward(self, batch: Mapping[str, torch.Tensor]) -> torch.Tensor:
        rgb = batch["input"]
        x = torch.cat([rgb, batch["depth"]], dim=1) if self.use_depth else rgb
        e1 = self.enc1(x)
        e2 = self.enc2(nn.functional.max_pool2d(e1, 2))
        m = self.mid(nn.functional.max_pool2d(e2, 2))
        d2 = self.dec2(torch.cat([self.up2(m), e2], dim=1))
        d1 = self.dec1(torch.cat([self.up1(d2), e1], dim=1))
        return (rgb + self.head(d1)).clamp(0.0, 1.0)
