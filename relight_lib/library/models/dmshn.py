"""DMSHN and Stacked DMSHN (MSR-Net) from Das, Shah, Dutta, "MSR-Net: Multi-Scale Relighting
Network for One-to-One Relighting", NeurIPS 2020 workshop, AIM 2020 Track 1 (arXiv 2107.06125;
papers.md section 5).

MSR-Net relights a whole image with a three-level image pyramid (Deep Multi-Scale Hierarchical
Network, DMSHN): the coarsest level sees the image at a quarter of its size, and each finer level
receives the coarser level's decoded output (added to its own input image) and its encoder
features (added to its own encoder features). The submitted model, Stacked DMSHN, runs two
independent DMSHNs one after the other.

Faithful to (papers.md section in brackets):
    * one level = encoder (3x3 convs, two stride-2 convs, six residual blocks conv-ReLU-conv +
      identity, widths 32 / 64 / 128) and decoder (six residual blocks, two 4x4 stride-2
      transposed convs, a last 3x3 conv to RGB), bias everywhere, no normalisation (5.1);
    * the pyramid wiring: I2 = bilinear x0.5 of I1, I3 = bilinear x0.5 of I2; the decoded output
      of level L+1 is up-sampled (bilinear x2) and added to the input image of level L, and its
      encoder features are up-sampled and added to level L's encoder features before decoding;
      the level-1 decoder output is the relit image itself, not added to the input (5.2);
    * stacking two DMSHNs in series, Out = DMSHN_b(DMSHN_a(I)) (5.3);
    * sizes: 1,808,131 parameters per level (encoder 868,288 + decoder 939,843), 5,424,393 per
      DMSHN (5.42 M), 10,848,786 for the stack (10.85 M) (5.1, 8).

Inferred [D] / chosen where the paper is silent (also on the book page, book/msrnet/index.md):
    * The layer specification is reconstructed from the same authors' DMSHN code for dehazing
      (diptamath/Nonhomogeneous_Image_Dehazing) and bokeh rendering
      (saikatdutta/Stacked_DMSHN_bokeh); no MSR-Net code was released. The two agree layer for
      layer, and the layout gives exactly the model sizes the authors quote [D].
    * Value range: plain [0, 1] in and out, no -0.5 shift (the bokeh code's convention; the
      dehazing code shifts by 0.5; papers.md 5.4 and section 10).
    * Interpolation: ``F.interpolate(..., mode='bilinear', align_corners=False)`` by a factor
      0.5 / 2, as in both author codes (no antialiasing on the down-sampling).
    * Output range: the authors' code does not bound the output. Here the final output is
      clamped to [0, 1] with a straight-through estimator (values clamped in training too, the
      gradient that of the unclamped output), as LTNet does in this suite; ``clamp_output=False``
      returns the raw output. Inside the stack the first DMSHN's output reaches the second one
      unclamped (the author code has no clamp anywhere).
    * Input sides: the three levels and the two stride-2 convolutions per level need sides that
      are multiples of 16. Other sizes are reflection-padded to the next multiple of 16 and the
      output is cropped back (:func:`~relight_lib.library.models.base.pad_to_multiple`), never rejected.
    * Weight init: PyTorch's default (the bokeh code's). The dehazing code's
      N(0, (0.5 sqrt(2 / n))^2) conv init with zero bias, n = k * k * out_channels (papers.md
      5.7), is available as ``init='dehazing'``.
    * Only the final output is supervised; the per-level images ``I_L + R_L`` that the author
      code computes (and leaves unused) are exposed by :meth:`DMSHN.pyramid` for figures.

Module attribute names follow the author code's numbering (``layer1`` .. ``layer24``,
``encoder_lv1`` .. ``decoder_lv3``) so that a state dict of theirs lines up [D, untested: no
MSR-Net checkpoint exists publicly].
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import torch
from torch import nn
from torch.nn import functional as F

from relight_lib.library.models.base import RelightModel, pad_to_multiple

__all__ = ["DMSHN", "DMSHNDecoder", "DMSHNEncoder", "ResBlock", "StackedDMSHN",
           "LEVEL_PARAMETERS", "DMSHN_PARAMETERS", "STACKED_DMSHN_PARAMETERS"]

#: Parameter counts of this layout (papers.md 5.1 and 8; checked by the tests).
ENCODER_PARAMETERS = 868_288
DECODER_PARAMETERS = 939_843
LEVEL_PARAMETERS = ENCODER_PARAMETERS + DECODER_PARAMETERS  # 1,808,131
DMSHN_PARAMETERS = 3 * LEVEL_PARAMETERS  # 5,424,393 (5.42 M)
STACKED_DMSHN_PARAMETERS = 2 * DMSHN_PARAMETERS  # 10,848,786 (10.85 M)

_INITS = ("default", "dehazing")


def _conv(cin: int, cout: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, kernel_size=3, stride=stride, padding=1)


class ResBlock(nn.Module):
    """conv 3x3 -> ReLU -> conv 3x3, plus the identity (no activation after the sum).

    Shape: (B, C, H, W) -> (B, C, H, W).
    """

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.body = nn.Sequential(_conv(channels, channels), nn.ReLU(), _conv(channels, channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x) + x


class DMSHNEncoder(nn.Module):
    """Encoder of one pyramid level (papers.md 5.1): E1 conv 3->32, E2-E3 residual blocks (32),
    E5 conv 32->64 stride 2, E6-E7 (64), E9 conv 64->128 stride 2, E10-E11 (128). 868,288
    parameters.

    Shape: (B, 3, H, W) -> (B, 128, H/4, W/4) for H, W multiples of 4.
    """

    def __init__(self) -> None:
        super().__init__()
        self.layer1 = _conv(3, 32)
        self.layer2, self.layer3 = ResBlock(32), ResBlock(32)
        self.layer5 = _conv(32, 64, stride=2)
        self.layer6, self.layer7 = ResBlock(64), ResBlock(64)
        self.layer9 = _conv(64, 128, stride=2)
        self.layer10, self.layer11 = ResBlock(128), ResBlock(128)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.layer3(self.layer2(self.layer1(x)))
        x = self.layer7(self.layer6(self.layer5(x)))
        return self.layer11(self.layer10(self.layer9(x)))


class DMSHNDecoder(nn.Module):
    """Decoder of one pyramid level (papers.md 5.1): D13-D14 residual blocks (128), D16
    transposed conv 4x4 stride 2 128->64, D17-D18 (64), D20 transposed conv 64->32, D21-D22
    (32), D24 conv 32->3 (no activation). 939,843 parameters.

    Shape: (B, 128, h, w) -> (B, 3, 4h, 4w); the output is unbounded.
    """

    def __init__(self) -> None:
        super().__init__()
        self.layer13, self.layer14 = ResBlock(128), ResBlock(128)
        self.layer16 = nn.ConvTranspose2d(128, 64, kernel_size=4, stride=2, padding=1)
        self.layer17, self.layer18 = ResBlock(64), ResBlock(64)
        self.layer20 = nn.ConvTranspose2d(64, 32, kernel_size=4, stride=2, padding=1)
        self.layer21, self.layer22 = ResBlock(32), ResBlock(32)
        self.layer24 = _conv(32, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.layer16(self.layer14(self.layer13(x)))
        x = self.layer20(self.layer18(self.layer17(x)))
        return self.layer24(self.layer22(self.layer21(x)))


def _half(x: torch.Tensor) -> torch.Tensor:
    return F.interpolate(x, scale_factor=0.5, mode="bilinear", align_corners=False)


def _double(x: torch.Tensor) -> torch.Tensor:
    return F.interpolate(x, scale_factor=2.0, mode="bilinear", align_corners=False)


def _dehazing_init(module: nn.Module) -> None:
    """The dehazing code's init (papers.md 5.7): conv and transposed-conv weights ~ N(0, std^2)
    with std = 0.5 * sqrt(2 / n), n = k * k * out_channels; biases zero."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
            n = m.kernel_size[0] * m.kernel_size[1] * m.out_channels
            nn.init.normal_(m.weight, 0.0, 0.5 * math.sqrt(2.0 / n))
            if m.bias is not None:
                nn.init.zeros_(m.bias)


def _straight_through_clamp(x: torch.Tensor) -> torch.Tensor:
    """Values of ``x.clamp(0, 1)`` exactly, gradient of ``x`` (identity): ``x - x.detach()`` is
    exactly zero, so no rounding can push a value out of [0, 1]."""
    return x.detach().clamp(0.0, 1.0) + (x - x.detach())


def _check_input(x: torch.Tensor, name: str) -> None:
    if x.ndim != 4 or x.shape[1] != 3:
        raise ValueError(f"{name} expects batch['input'] of shape (B, 3, H, W), got "
                         f"{tuple(x.shape)}")


class DMSHN(RelightModel):
    """Deep Multi-Scale Hierarchical Network: three encoder-decoder levels, coarse to fine.

    Args:
        clamp_output: Clamp the output to [0, 1] with a straight-through gradient (see the
            module docstring). Default True.
        init: ``'default'`` (PyTorch's init, the bokeh code) or ``'dehazing'`` (the dehazing
            code's Gaussian init, papers.md 5.7). MSR-Net does not say.

    Parameters: 5,424,393 (papers.md 5.1: 5.42 M), i.e. :data:`DMSHN_PARAMETERS`.

    Shape:
        - ``batch['input']``: (B, 3, H, W) float RGB in [0, 1] (papers.md 10), any H, W >= 1;
          sides that are not multiples of 16 are reflection-padded (replicate for tiny inputs)
          and the output cropped back.
        - returns: (B, 3, H, W), in [0, 1] when ``clamp_output`` (else unbounded).

    The paper trains at 512 px and evaluates at 1024 px (papers.md 5.7); the network is fully
    convolutional, so the same weights run at both sizes.

    Example:
        >>> net = DMSHN()
        >>> out = net({"input": torch.rand(1, 3, 20, 36)})
        >>> tuple(out.shape), bool(out.min() >= 0) and bool(out.max() <= 1)
        ((1, 3, 20, 36), True)
    """

    size_multiple = 16

    def __init__(self, clamp_output: bool = True, init: str = "default") -> None:
        super().__init__()
        if init not in _INITS:
            raise ValueError(f"init must be one of {_INITS}, got {init!r}")
        self.clamp_output = clamp_output
        self.init = init
        self.encoder_lv1, self.encoder_lv2, self.encoder_lv3 = (
            DMSHNEncoder(), DMSHNEncoder(), DMSHNEncoder())
        self.decoder_lv1, self.decoder_lv2, self.decoder_lv3 = (
            DMSHNDecoder(), DMSHNDecoder(), DMSHNDecoder())
        if init == "dehazing":
            _dehazing_init(self)

    def pyramid(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """Run the pyramid on an image whose sides are multiples of 16 and return every level.

        Args:
            x: (B, 3, H, W) float RGB in [0, 1], H and W multiples of 16.

        Returns:
            A dict of tensors: ``image_lv1..3`` (the input pyramid, (B, 3, H/2^(L-1), ...)),
            ``residual_lv3``, ``residual_lv2`` (decoder outputs of the coarse levels),
            ``out_lv3``, ``out_lv2`` (``image_lvL + residual_lvL``, the per-level images the
            author code computes but does not use), ``feature_lv1..3`` (encoder outputs,
            (B, 128, H/2^(L+1), ...)) and ``output`` (the level-1 decoder output, unclamped).

        Raises:
            ValueError: a side that is not a multiple of 16.
        """
        h, w = x.shape[-2:]
        if h % self.size_multiple or w % self.size_multiple:
            raise ValueError(f"DMSHN.pyramid needs sides that are multiples of "
                             f"{self.size_multiple}, got {h}x{w} (forward pads for you)")
        i1 = x
        i2 = _half(i1)
        i3 = _half(i2)
        # level 3 (quarter resolution)
        f3 = self.encoder_lv3(i3)
        r3 = self.decoder_lv3(f3)
        # level 2: coarse decoded output added to the input image, coarse features to the
        # level's own features before decoding (papers.md 5.2)
        f2 = self.encoder_lv2(i2 + _double(r3))
        r2 = self.decoder_lv2(f2 + _double(f3))
        # level 1: its decoder output is the relit image (no skip to the input)
        f1 = self.encoder_lv1(i1 + _double(r2))
        out = self.decoder_lv1(f1 + _double(f2))
        return {"image_lv1": i1, "image_lv2": i2, "image_lv3": i3,
                "feature_lv1": f1, "feature_lv2": f2, "feature_lv3": f3,
                "residual_lv3": r3, "residual_lv2": r2,
                "out_lv3": i3 + r3, "out_lv2": i2 + r2, "output": out}

    def relight(self, x: torch.Tensor) -> torch.Tensor:
        """Image in, image out, without the clamp: (B, 3, H, W) -> (B, 3, H, W), any H, W
        (padded to multiples of 16 and cropped back)."""
        _check_input(x, type(self).__name__)
        padded, (h, w) = pad_to_multiple(x, self.size_multiple)
        return self.pyramid(padded)["output"][..., :h, :w]

    def forward(self, batch: Mapping[str, torch.Tensor]) -> torch.Tensor:
        out = self.relight(batch["input"])
        return _straight_through_clamp(out) if self.clamp_output else out


class StackedDMSHN(RelightModel):
    """Stacked DMSHN (the MSR-Net submission): two independent DMSHNs in series (papers.md 5.3),
    Out = DMSHN_b(DMSHN_a(I)). The first network's output is passed on unclamped; only the final
    output is clamped (``clamp_output``) and supervised.

    Args:
        clamp_output: As :class:`DMSHN`. Default True.
        init: As :class:`DMSHN`, applied to both networks. Default ``'default'``.

    Parameters: 10,848,786 (papers.md 5.3, 8: 10.85 M), :data:`STACKED_DMSHN_PARAMETERS`.

    Shape:
        - ``batch['input']``: (B, 3, H, W) float RGB in [0, 1], any H, W (padded to multiples
          of 16 once, cropped back at the end).
        - returns: (B, 3, H, W), in [0, 1] when ``clamp_output``.

    Example:
        >>> net = StackedDMSHN()
        >>> tuple(net({"input": torch.rand(1, 3, 32, 16)}).shape)
        (1, 3, 32, 16)
    """

    size_multiple = 16

    def __init__(self, clamp_output: bool = True, init: str = "default") -> None:
        super().__init__()
        self.clamp_output = clamp_output
        self.dmshn1 = DMSHN(clamp_output=False, init=init)
        self.dmshn2 = DMSHN(clamp_output=False, init=init)

    def relight(self, x: torch.Tensor, return_intermediate: bool = False
                ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        """Both networks on an image, unclamped: (B, 3, H, W) -> (B, 3, H, W); with
        ``return_intermediate`` also the first network's output (same shape)."""
        _check_input(x, type(self).__name__)
        padded, (h, w) = pad_to_multiple(x, self.size_multiple)
        mid = self.dmshn1.pyramid(padded)["output"]
        out = self.dmshn2.pyramid(mid)["output"]
        out, mid = out[..., :h, :w], mid[..., :h, :w]
        return (out, mid) if return_intermediate else out

    def forward(self, batch: Mapping[str, torch.Tensor]) -> torch.Tensor:
        out = self.relight(batch["input"])
        return _straight_through_clamp(out) if self.clamp_output else out
