"""MBNet (Multi-modal Bifurcated Network) from Yang, Chen, Luo, Kuo, "Multi-modal Bifurcated
Network for Depth Guided Image Relighting", CVPR-W / NTIRE 2021 Track 1, winner (papers.md
section 4).

MBNet is HDFNet (Pang et al., ECCV 2020), an RGB-D salient-object network, turned into a
relighting network: two ResNet-50 encoders (one for the image, one for the depth map), a dense
fusion of their deepest three stages, three dynamic dilated pyramid modules (DDPM) that filter the
decoder features with per-pixel kernels generated from the fused features, and a light decoder
that predicts a 3-channel residual added to the input.

Faithful to (papers.md 4.1-4.5, layer by layer):
    * two un-shared torchvision ResNet-50 streams split at /2, /4, /8, /16, /32; the depth
      stream's first convolution takes 1 channel and is always freshly initialised;
    * :class:`DenseTransLayer` fusion at /8, /16, /32 (sum of the two streams, a densely connected
      layer of 4 convolutions, output 64 channels);
    * :class:`DDPM` with its kernel generation unit (3x3 conv, a 4-layer densely connected layer,
      1x1 conv to 16 x 9 kernel taps per pixel) and its kernel transformation at dilations 1, 3,
      5, implemented with ``unfold`` as a per-pixel, per-channel (depthwise) dynamic filter;
    * the decoder (lateral 1x1 convolutions, bilinear up-sample-and-add, BasicConv blocks, a last
      x2 bilinear up-sampling with ``align_corners=True``) and ``ReLU(input + residual)``;
    * input as in the official demo: RGB in [0, 1] without ImageNet mean/std, depth as stored
      (``imagenet_normalize=True`` is an option, papers.md 9 item 4 marks the training-time
      normalisation as unknown).

Choices where the paper is silent, and deviations:
    * ``residual=False`` (Table 1's first two rows, "without residual learning"): the 3-channel
      convolution output is the prediction itself, with no ReLU; the paper does not say how the
      non-residual network ended [?].
    * Output range: the official code relies on ``save_image`` to clamp at test time. Here the
      output is clamped to [0, 1] in training too, with a straight-through estimator: the values
      are clamped, the gradient is that of the unclamped output (so a prediction above 1 still
      gets the loss's gradient). ``clamp_output=False`` returns the raw output.
    * ImageNet weights (``pretrained``): loaded from disk when present (``relight_lib.library.weights``);
      on our offline machines the profiles smoke/quick/gpu start both streams from a seeded
      random init, the paper profile refuses. :attr:`MBNet.weights_info` records which.
    * Batch norm everywhere as in the code (the paper trains with batch 3); at small profile
      sizes the /32 maps are tiny (2 x 2 at 64 px), which BN tolerates in training only with
      more than one value per channel: inputs must be at least 32 px and batches of one image
      need at least 64 px.

Parameter count: 153,192,067 (about 153.2 M, the spec's tally [D]): RGB ResNet-50 without its
pooling head and classifier 23,508,032, depth ResNet-50 23,501,760, fusion 104,570,944 (the /32
block alone 78,365,376), three DDPMs 1,185,312, laterals and decoder 0.43 M.

Reference code consulted for layer sizes only: github.com/weitingchen83/NTIRE2021-Depth-Guided-
Image-Relighting-MBNet ``code/hdfnet.py`` (class ``HDFNet_Res50``), ``code/ResNet.py`` @ 0666991,
and github.com/lartpang/HDFNet ``module/MyModules.py``, ``module/BaseBlocks.py`` @ a67f40e.
Module attribute names follow those files (``encoder2`` .. ``encoder32``, ``depth_trans32``,
``selfdc_32``, ``upconv32``, ``classifier``; inside blocks ``basicconv``, ``down``,
``denseblock``, ``fuse``, ``gernerate_kernel`` (sic)) so that an official state dict lines up
[D, untested: no checkpoint here].
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from relight_lib.library.models.base import RelightModel

__all__ = [
    "DILATIONS",
    "PRETRAINED_MODES",
    "BasicConv2d",
    "DDPM",
    "DenseLayer",
    "DenseTransLayer",
    "DynamicDilatedBranch",
    "MBNet",
    "resnet50_stages",
]

#: Dilations of the DDPM's three branches (3x3, 7x7 and 11x11 neighbourhoods).
DILATIONS: tuple[int, ...] = (1, 3, 5)

#: Values of ``MBNet(pretrained=...)``:
#: ``'none'``: seeded random init, no lookup at all (the default: tests, offline use);
#: ``'allow_random'``: ImageNet weights if found, else a seeded random init with a warning
#: (profiles smoke, quick, gpu); ``'require'``: ImageNet weights or an error (paper profile).
PRETRAINED_MODES: tuple[str, ...] = ("none", "allow_random", "require")


class BasicConv2d(nn.Module):
    """Convolution without bias, BatchNorm, ReLU (HDFNet's basic block)."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int = 3) -> None:
        super().__init__()
        self.basicconv = nn.Sequential(
            nn.Conv2d(in_channels, out_channels, kernel_size, padding=kernel_size // 2,
                      bias=False),
            nn.BatchNorm2d(out_channels),
            nn.ReLU(inplace=True),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.basicconv(x)


class DenseLayer(nn.Module):
    """A densely connected layer: a 1x1 reduction to ``mid = out_channels // down_factor``
    channels, ``k`` 3x3 BasicConvs where the i-th sees the reduction and the i-1 earlier outputs
    (``i * mid`` channels), then a 3x3 BasicConv on the block input concatenated with the *last*
    of those outputs (``in + mid -> out``)."""

    def __init__(self, in_channels: int, out_channels: int, down_factor: int = 4,
                 k: int = 4) -> None:
        super().__init__()
        if k < 1:
            raise ValueError(f"DenseLayer needs k >= 1 layers, got {k}")
        mid = out_channels // down_factor
        self.k = k
        self.down = nn.Conv2d(in_channels, mid, 1)
        self.denseblock = nn.ModuleList(BasicConv2d(mid * i, mid, 3) for i in range(1, k + 1))
        self.fuse = BasicConv2d(in_channels + mid, out_channels, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        reduced = self.down(x)
        outs: list[torch.Tensor] = []
        for layer in self.denseblock:
            outs.append(layer(torch.cat([*outs, reduced], dim=1)))
        return self.fuse(torch.cat([x, outs[-1]], dim=1))


class DenseTransLayer(nn.Module):
    """Cross-modal fusion of one encoder stage (papers.md 4.3): the RGB and depth features are
    summed, refined by a BasicConv and a :class:`DenseLayer` with a skip, and reduced to
    ``out_channels`` (64)."""

    def __init__(self, in_channels: int, out_channels: int = 64) -> None:
        super().__init__()
        self.fuse_down_mul = BasicConv2d(in_channels, in_channels, 3)
        self.res_main = DenseLayer(in_channels, in_channels,
                                   down_factor=in_channels // out_channels)
        self.fuse_main = BasicConv2d(in_channels, out_channels, 3)

    def forward(self, rgb: torch.Tensor, depth: torch.Tensor) -> torch.Tensor:
        if rgb.shape != depth.shape:
            raise ValueError(f"fusion needs equal RGB and depth feature shapes, got "
                             f"{tuple(rgb.shape)} and {tuple(depth.shape)}")
        f = self.fuse_down_mul(rgb + depth)
        return self.fuse_main(self.res_main(f) + f)


class DynamicDilatedBranch(nn.Module):
    """One DDPM branch: kernel generation unit (KGU) + kernel transformation unit (KTU).

    The KGU turns the guidance ``y`` (the fused RGB-D feature) into a 3x3 kernel per pixel and
    per channel of ``x``; the KTU applies those taps at ``dilation`` (a zero-inserted, dilated
    kernel: ``unfold`` gathers the 9 neighbours ``dilation`` pixels apart), a depthwise dynamic
    filter; a 3x3 convolution follows.

    Args:
        x_channels: channels of the filtered feature (16 in MBNet).
        y_channels: channels of the guidance feature (64).
        out_channels: output channels (16).
        dilation: 1, 3 or 5 in MBNet.
        dense_layers: layers of the KGU's densely connected block (4 in MBNet).
    """

    kernel_size = 3

    def __init__(self, x_channels: int, y_channels: int, out_channels: int, dilation: int,
                 dense_layers: int = 4) -> None:
        super().__init__()
        self.x_channels = x_channels
        self.dilation = dilation
        taps = self.kernel_size ** 2
        self.gernerate_kernel = nn.Sequential(  # the official spelling, for state-dict keys
            nn.Conv2d(y_channels, y_channels, 3, padding=1),
            DenseLayer(y_channels, y_channels, down_factor=4, k=dense_layers),
            nn.Conv2d(y_channels, x_channels * taps, 1),
        )
        self.unfold = nn.Unfold(kernel_size=self.kernel_size, dilation=dilation,
                                padding=dilation, stride=1)
        self.fuse = nn.Conv2d(x_channels, out_channels, 3, padding=1)

    def kernels(self, y: torch.Tensor) -> torch.Tensor:
        """KGU: per-pixel kernels (N, x_channels, 9, H, W) from the guidance (N, y_ch, H, W)."""
        n, _, h, w = y.shape
        return self.gernerate_kernel(y).reshape(n, self.x_channels, self.kernel_size ** 2, h, w)

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        if x.shape[-2:] != y.shape[-2:]:
            raise ValueError(f"DDPM inputs must share H, W: x {tuple(x.shape)}, y {tuple(y.shape)}")
        n, c, h, w = x.shape
        neighbours = self.unfold(x).reshape(n, c, self.kernel_size ** 2, h, w)  # KTU
        return self.fuse((neighbours * self.kernels(y)).sum(2))


class DDPM(nn.Module):
    """Dynamic dilated pyramid module (papers.md 4.4): reduce the decoder feature ``x`` to
    ``out_channels // 4`` channels, filter it in three :class:`DynamicDilatedBranch` es
    (dilations 1, 3, 5) with kernels generated from the fused feature ``y``, and fuse the reduced
    feature and the three results with a 3x3 BasicConv."""

    def __init__(self, x_channels: int = 64, y_channels: int = 64, out_channels: int = 64,
                 dilations: tuple[int, ...] = DILATIONS, dense_layers: int = 4) -> None:
        super().__init__()
        mid = out_channels // 4
        self.dilations = tuple(dilations)
        self.down_input = nn.Conv2d(x_channels, mid, 1)
        for d in self.dilations:
            setattr(self, f"branch_{d}", DynamicDilatedBranch(mid, y_channels, mid, d,
                                                              dense_layers))
        self.fuse = BasicConv2d((len(self.dilations) + 1) * mid, out_channels, 3)

    def branches(self) -> list[DynamicDilatedBranch]:
        return [getattr(self, f"branch_{d}") for d in self.dilations]

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        x = self.down_input(x)
        return self.fuse(torch.cat([x, *(b(x, y) for b in self.branches())], dim=1))


def _upsample_add(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Resize ``x`` to ``y``'s size (bilinear, ``align_corners=False``) and add ``y``."""
    return y + F.interpolate(x, size=y.shape[-2:], mode="bilinear", align_corners=False)


def resnet50_stages(in_channels: int = 3, pretrained: str = "none", seed: int = 0
                    ) -> tuple[nn.Sequential, dict[str, Any]]:
    """A torchvision ResNet-50 cut into MBNet's five stages, without pooling head and classifier.

    Stages: ``[0]`` conv1+bn1+relu (64 ch, /2), ``[1]`` maxpool+layer1 (256, /4), ``[2]`` layer2
    (512, /8), ``[3]`` layer3 (1024, /16), ``[4]`` layer4 (2048, /32).

    Args:
        in_channels: 3 (RGB stream) or 1 (depth stream: ``conv1`` replaced by a fresh 1-channel
            7x7 stride-2 convolution, as in the official code, whatever the weights).
        pretrained: one of :data:`PRETRAINED_MODES`.
        seed: seed of the random init (all of it, including the fresh depth ``conv1``); the
            caller's RNG is left untouched.

    Returns:
        ``(stages, info)``: an ``nn.Sequential`` of the 5 stages and a JSON-ready dict saying
        where the weights came from (``relight_lib.library.weights.WeightsInfo.to_dict`` plus notes).
    """
    import torchvision

    if pretrained not in PRETRAINED_MODES:
        raise ValueError(f"pretrained must be one of {PRETRAINED_MODES}, got {pretrained!r}")
    if in_channels not in (1, 3):
        raise ValueError(f"in_channels must be 1 or 3, got {in_channels}")
    if pretrained == "none":
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            net = torchvision.models.resnet50(weights=None)
        info = {"name": "resnet50", "source": "random", "path": None, "sha256": None,
                "reason": f"random init with seed {seed} (pretrained='none': no weights looked up)"}
    else:
        from relight_lib.library import weights

        with warnings.catch_warnings():
            # one warning per model (MBNet emits it), not one per stream
            warnings.simplefilter("ignore", weights.RandomInitWarning)
            net, winfo = weights.backbone("resnet50", policy=pretrained, seed=seed)
        info = winfo.to_dict()
    if in_channels == 1:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed + 7919)
            net.conv1 = nn.Conv2d(1, 64, kernel_size=7, stride=2, padding=3, bias=False)
        info["note"] = "conv1 replaced by a freshly initialised 1-channel convolution"
    stages = nn.Sequential(
        nn.Sequential(net.conv1, net.bn1, net.relu),
        nn.Sequential(net.maxpool, net.layer1),
        net.layer2,
        net.layer3,
        net.layer4,
    )
    return stages, info


class MBNet(RelightModel):
    """MBNet: RGB and depth ResNet-50 streams, dense fusion, DDPMs and a residual decoder.

    Args:
        residual: Residual learning (Table 1's last switch): the output is
            ``ReLU(input + predicted residual)``, as in the official code; False: the network's
            3-channel output is the prediction itself. Paper default True.
        pretrained: ImageNet weights for both ResNet-50 streams, one of
            :data:`PRETRAINED_MODES`: ``'none'`` (default; no lookup, never touches the disk or
            network), ``'allow_random'`` or ``'require'`` (see :mod:`relight_lib.library.weights`). The
            recipe passes the profile's policy.
        seed: Seed of the random parts of the streams (RGB stream ``seed``, depth stream
            ``seed + 1``). None (default): drawn from the global torch RNG, so a run seeded by
            the caller gets a different, reproducible init per seed. The fusion and decoder
            layers always use the global RNG, like any module.
        imagenet_normalize: Feed the RGB stream ImageNet-normalised input. Default False, as the
            official demo (raw [0, 1]); papers.md 9 item 4.
        clamp_output: Clamp the prediction to [0, 1] with a straight-through gradient (see the
            module docstring). Default True.
        dense_layers: Layers of each DDPM kernel generation unit's dense block (paper: 4).

    Attributes:
        weights_info: JSON-ready dict ``{'rgb': {...}, 'depth': {...}}`` saying, per stream,
            where its weights came from (``source`` ``'file'`` or ``'random'``, path, sha256,
            reason), for ``run.json``.

    Shape:
        - ``batch['input']``: (B, 3, H, W) RGB in [0, 1]; H, W multiples of 32, at least 32.
        - ``batch['depth']``: (B, 1, H, W), as stored (VIDIT ``normalized_depth``).
        - returns: (B, 3, H, W) in [0, 1] (``clamp_output``); with ``return_residual=True`` also
          the raw 3-channel network output (the residual when ``residual`` is on).

    Example:
        >>> net = MBNet()
        >>> batch = {"input": torch.rand(1, 3, 64, 64), "depth": torch.rand(1, 1, 64, 64)}
        >>> _ = net.eval()
        >>> with torch.no_grad():
        ...     out = net(batch)
        >>> tuple(out.shape), net.needs, net.weights_info["rgb"]["source"]
        ((1, 3, 64, 64), ('depth',), 'random')
    """

    needs = ("depth",)
    size_multiple = 32

    def __init__(
        self,
        residual: bool = True,
        pretrained: str = "none",
        seed: int | None = None,
        imagenet_normalize: bool = False,
        clamp_output: bool = True,
        dense_layers: int = 4,
    ) -> None:
        super().__init__()
        if pretrained not in PRETRAINED_MODES:
            raise ValueError(f"pretrained must be one of {PRETRAINED_MODES}, got {pretrained!r}")
        self.residual = residual
        self.pretrained = pretrained
        self.imagenet_normalize = imagenet_normalize
        self.clamp_output = clamp_output
        if seed is None:
            seed = int(torch.randint(0, 2**31 - 2, (1,)).item())
        self.seed = seed

        rgb, rgb_info = resnet50_stages(3, pretrained, seed)
        depth, depth_info = resnet50_stages(1, pretrained, seed + 1)
        self.weights_info: dict[str, dict[str, Any]] = {"rgb": rgb_info, "depth": depth_info}
        if pretrained == "allow_random" and rgb_info["source"] == "random":
            from relight_lib.library.weights import RandomInitWarning

            warnings.warn("MBNet: ResNet-50 ImageNet weights not found; both streams start from "
                          f"a random init (seeds {seed}, {seed + 1}), as this profile allows",
                          RandomInitWarning, stacklevel=2)
        self.encoder2, self.encoder4, self.encoder8, self.encoder16, self.encoder32 = rgb
        (self.depth_encoder2, self.depth_encoder4, self.depth_encoder8, self.depth_encoder16,
         self.depth_encoder32) = depth

        # lateral 1x1 convolutions to 64 channels
        self.trans32 = nn.Conv2d(2048, 64, 1)
        self.trans16 = nn.Conv2d(1024, 64, 1)
        self.trans8 = nn.Conv2d(512, 64, 1)
        self.trans4 = nn.Conv2d(256, 64, 1)
        self.trans2 = nn.Conv2d(64, 64, 1)
        # cross-modal fusion of conv3, conv4, conv5 (= /8, /16, /32)
        self.depth_trans32 = DenseTransLayer(2048, 64)
        self.depth_trans16 = DenseTransLayer(1024, 64)
        self.depth_trans8 = DenseTransLayer(512, 64)
        # decoder
        self.upconv32 = BasicConv2d(64, 64, 3)
        self.upconv16 = BasicConv2d(64, 64, 3)
        self.upconv8 = BasicConv2d(64, 64, 3)
        self.upconv4 = BasicConv2d(64, 64, 3)
        self.upconv2 = BasicConv2d(64, 32, 3)
        self.upconv1 = BasicConv2d(32, 32, 3)
        self.selfdc_32 = DDPM(64, 64, 64, DILATIONS, dense_layers)
        self.selfdc_16 = DDPM(64, 64, 64, DILATIONS, dense_layers)
        self.selfdc_8 = DDPM(64, 64, 64, DILATIONS, dense_layers)
        self.classifier = nn.Conv2d(32, 3, 1)

    def ddpms(self) -> list[DDPM]:
        """The three DDPMs, deepest first (/32, /16, /8)."""
        return [self.selfdc_32, self.selfdc_16, self.selfdc_8]

    def _check(self, batch: Mapping[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        if "depth" not in batch:
            raise ValueError("MBNet needs batch['depth'] (B, 1, H, W) besides batch['input']")
        rgb, depth = batch["input"], batch["depth"]
        if rgb.ndim != 4 or rgb.shape[1] != 3:
            raise ValueError(f"MBNet expects batch['input'] of shape (B, 3, H, W), got "
                             f"{tuple(rgb.shape)}")
        if depth.ndim != 4 or depth.shape[1] != 1 or depth.shape[0] != rgb.shape[0] \
                or depth.shape[-2:] != rgb.shape[-2:]:
            raise ValueError(f"MBNet expects batch['depth'] of shape (B, 1, H, W) matching the "
                             f"input {tuple(rgb.shape)}, got {tuple(depth.shape)}")
        h, w = rgb.shape[-2:]
        if h % self.size_multiple or w % self.size_multiple:
            raise ValueError(f"MBNet needs H and W multiples of {self.size_multiple}, got "
                             f"{h}x{w} (pad with models.pad_to_multiple)")
        return rgb, depth.to(rgb.dtype)

    def forward(
        self, batch: Mapping[str, torch.Tensor], return_residual: bool = False
    ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        rgb, depth = self._check(batch)
        x = rgb
        if self.imagenet_normalize:
            from relight_lib.library.weights import imagenet_normalize

            x = imagenet_normalize(rgb)

        f2 = self.encoder2(x)
        d = self.depth_encoder2(depth)
        f4 = self.encoder4(f2)
        d = self.depth_encoder4(d)
        f8 = self.encoder8(f4)
        d8 = self.depth_encoder8(d)
        f16 = self.encoder16(f8)
        d16 = self.depth_encoder16(d8)
        f32 = self.encoder32(f16)
        d32 = self.depth_encoder32(d16)

        aux8 = self.depth_trans8(f8, d8)
        del d8
        aux16 = self.depth_trans16(f16, d16)
        del d16
        aux32 = self.depth_trans32(f32, d32)
        del d32

        o = self.upconv32(self.trans32(f32))
        o = self.upconv16(_upsample_add(self.selfdc_32(o, aux32), self.trans16(f16)))
        o = self.upconv8(_upsample_add(self.selfdc_16(o, aux16), self.trans8(f8)))
        o = self.upconv4(_upsample_add(self.selfdc_8(o, aux8), self.trans4(f4)))
        o = self.upconv2(_upsample_add(o, self.trans2(f2)))
        o = F.interpolate(o, scale_factor=2, mode="bilinear", align_corners=True)
        raw = self.classifier(self.upconv1(o))
        # MBNet's residual learning: ReLU(input + residual); without it, the raw prediction
        out = F.relu(rgb + raw) if self.residual else raw
        if self.clamp_output:
            # straight-through: clamped values, gradient of the unclamped output
            out = out + (out.clamp(0.0, 1.0) - out).detach()
        return (out, raw) if return_residual else out
