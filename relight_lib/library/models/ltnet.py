"""LTNet (Light Transfer Network) from Zhu et al., "LTNet: Light Transfer Network for Depth
Guided Image Relighting", CVPR-W / NTIRE 2021 Track 1 (papers.md section 3).

Faithful to:
    * the reduced PyNET encoder-decoder ("pynet3") of the official test code, block by block,
      with the channel plan of papers.md section 3.3 (widths ``nc`` and ``f1``; kernel sizes;
      identity adds; max-pooling; bilinear up-sampling with ``align_corners=True``; reflection
      padding; LeakyReLU 0.2; instance norm on levels 2-5, not on level 1);
    * the 8-channel input RGB + depth + inverse depth (1 - D) + normal map (section 3.2), the
      depth "uniformly normalised to [0, 1]" (paper section 3.1) by a per-image min-max stretch,
      as the official code does, and the input normalisation ``x - 0.5`` of the official code
      ((x*255 - 127.5) / 255);
    * the global residual, prediction = input RGB + predicted residual (section 3.4, Table 3's
      switch "s"), in the normalised domain;
    * the submitted LTNet* (``nc=16, f1=2``) and the Table 5 sizes (:data:`TABLE5_CONFIGS`).

Deviations (all deliberate, all small):
    * RGB channel order. The official code feeds OpenCV BGR images; the suite's convention is
      RGB (ARCHITECTURE.md section 3). A network trained here is consistent with itself; an
      official checkpoint would need the colour channels flipped on the way in and out.
    * The modules whose outputs do not reach the level-0 prediction are not built: ``conv_t0``
      (up-sampling 16 -> 16, run but discarded by the official code) and the side heads
      ``conv_l5_out`` .. ``conv_l2_out`` (only used when PyNET is trained level-wise, which LTNet
      does not describe [?]). They hold 2,320 + 9,516 parameters at ``nc=16``; the spec's
      1.07 M tally counts them (it is the whole official module: 1,071,351), this model has
      1,059,515 (-1.1 %). :func:`official_parameter_count` gives the official number.
    * No uint8 truncation of the input channels (the official test script casts every channel
      to uint8 before normalising); inputs stay float.
    * Output range: the official code clips only at test time. Here the output is clamped to
      [0, 1] with a straight-through estimator: the values are clamped (in training too, so
      every consumer sees an image in range), the gradient is that of the unclamped sum, as in
      unclamped training. ``clamp_output=False`` returns the raw sum. (Listed in the recipe's
      deviations, :data:`relight_lib.papers.ltnet.recipe.LTNET_DEVIATIONS`.)
    * Normal map: built by :func:`relight_lib.library.data.transforms.normal_map`; the default recipe
      is the paper's ("paper", Sobel on grey RGB and depth, averaged); the released code uses
      depth-only central differences (papers.md section 0 item 1, section 10).

Inferred [D]: the channel plan and the parameter counts (read from the code, not stated in the
paper); the reading of Table 5's ambiguous "(n_c, n_f)" labels (see :data:`TABLE5_CONFIGS`).

Reference code consulted for layer sizes only: github.com/lchia/relighting_track1_ntire2021,
``code/model/pynet3.py`` @ 425570d (itself derived from Ignatov's PyNET). Module attribute names
follow that file (``conv_l1_d1``, ``conv_3a``, ``conv2d``, ``instance``, ...) so that its
state-dict keys line up [D, untested: no checkpoint here; load with ``strict=False``].
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import NamedTuple

import torch
from torch import nn
from torch.nn import functional as F

from relight_lib.library.models.base import RelightModel

__all__ = [
    "INPUT_CHANNELS",
    "TABLE5_CONFIGS",
    "ConvLayer",
    "ConvMultiBlock",
    "LTNet",
    "LTNetLarge",
    "Table5Config",
    "UpsampleConvLayer",
    "official_parameter_count",
]

#: Channels contributed by each input, in the paper's concatenation order (section 3.2).
INPUT_CHANNELS: dict[str, int] = {"rgb": 3, "depth": 1, "inverse_depth": 1, "normal": 3}

_SLOPE = 0.2  # LeakyReLU negative slope, everywhere in pynet3


class Table5Config(NamedTuple):
    """One row of LTNet Table 5 (model size ablation) mapped to this model's widths."""

    printed_label: str  # as printed in the paper's "n_c, n_f" column
    nc: int  # encoder width (code flag --n_features)
    f1: int  # level-1 decoder width (code flag --n_features_level_1)
    spec_params_m: float  # papers.md section 3.3 tally of the official module, millions


#: Table 5 rows in the paper's order, keyed by the corrected label "f1,nc" [D].
#:
#: The paper calls the pair (n_c, n_f) = (base channels of level 1, channels of the other
#: levels), yet the baseline row that recurs in every ablation table is printed "4,16" while the
#: text says the chosen setting is n_f = 16, n_f1 = 2. The spec's most plausible reading
#: (papers.md section 3.3, [D]) is label = (f1, nc), the baseline's label being a typo for
#: "2,16"; LTNet-dagger (the larger model) is the "8,32" row, whose numbers equal Table 1's
#: LTNet-dagger with dehaze. The rows of ``notebooks/ltnet/runs.yaml`` are named by the same
#: reading in the code's names: ``f1_<f1>_nc_<nc>`` (``f1_8_nc_32`` is "8,32": f1=8, nc=32).
TABLE5_CONFIGS: dict[str, Table5Config] = {
    "8,32": Table5Config("8,32", nc=32, f1=8, spec_params_m=6.78),  # LTNet-dagger
    "4,32": Table5Config("4,32", nc=32, f1=4, spec_params_m=4.25),
    "4,16": Table5Config("4,16", nc=16, f1=4, spec_params_m=1.71),
    "2,16": Table5Config("4,16", nc=16, f1=2, spec_params_m=1.07),  # LTNet*, printed "4,16"
    "4,4": Table5Config("4,4", nc=4, f1=4, spec_params_m=0.69),
}


def _reflect(x: torch.Tensor, pad: int) -> torch.Tensor:
    return F.pad(x, (pad, pad, pad, pad), mode="reflect") if pad else x


class GroupInstanceNorm(nn.InstanceNorm2d):
    """Affine instance norm (``nn.InstanceNorm2d(C, affine=True)``: the same parameters, state
    dict and function, up to float rounding) computed by ``F.group_norm`` with one group per
    channel. ``InstanceNorm2d`` runs as a batch norm over a (1, B*C, H, W) view, which copies
    a channels_last tensor to contiguous and back; ``group_norm`` is one native kernel that
    keeps channels_last: faster LTNet* training steps on a CPU (the ``norm`` lever of
    ``results/bench/*-training-levers.csv``)."""

    def __init__(self, num_features: int, eps: float = 1e-5) -> None:
        super().__init__(num_features, eps=eps, affine=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.group_norm(x, self.num_features, self.weight, self.bias, self.eps)


class ConvLayer(nn.Module):
    """Reflection pad k//2, k x k convolution (stride 1, bias), optional affine instance norm
    (:class:`GroupInstanceNorm`), optional LeakyReLU(0.2). Keeps the spatial size."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int,
                 instance_norm: bool = False, activation: bool = True) -> None:
        super().__init__()
        self.pad = kernel_size // 2
        self.conv2d = nn.Conv2d(in_channels, out_channels, kernel_size)
        self.instance = GroupInstanceNorm(out_channels) if instance_norm else None
        self.activation = activation

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.conv2d(_reflect(x, self.pad))
        if self.instance is not None:
            y = self.instance(y)
        return F.leaky_relu(y, _SLOPE) if self.activation else y


class ConvMultiBlock(nn.Module):
    """Parallel branches of kernel size 3, 5, 7, 9 (those <= ``max_kernel``), each two
    :class:`ConvLayer` (in -> out -> out); the branch outputs are concatenated in that order, so
    the block returns ``out_channels * n_branches`` channels (1, 2, 3, 4 for kmax 3, 5, 7, 9)."""

    def __init__(self, in_channels: int, out_channels: int, max_kernel: int,
                 instance_norm: bool) -> None:
        super().__init__()
        self.kernels = tuple(k for k in (3, 5, 7, 9) if k <= max_kernel)
        for k in self.kernels:
            setattr(self, f"conv_{k}a", ConvLayer(in_channels, out_channels, k, instance_norm))
            setattr(self, f"conv_{k}b", ConvLayer(out_channels, out_channels, k, instance_norm))
        self.out_channels = out_channels * len(self.kernels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        outs = [getattr(self, f"conv_{k}b")(getattr(self, f"conv_{k}a")(x)) for k in self.kernels]
        return outs[0] if len(outs) == 1 else torch.cat(outs, dim=1)


class UpsampleConvLayer(nn.Module):
    """Bilinear x2 (``align_corners=True``), reflection pad 1, 3 x 3 conv, LeakyReLU(0.2)."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.conv2d = nn.Conv2d(in_channels, out_channels, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=True)
        return F.leaky_relu(self.conv2d(_reflect(x, 1)), _SLOPE)


def _canonical_inputs(inputs: Sequence[str]) -> tuple[str, ...]:
    if isinstance(inputs, str):
        inputs = (inputs,)
    unknown = [name for name in inputs if name not in INPUT_CHANNELS]
    if unknown:
        raise ValueError(f"unknown LTNet inputs {unknown}; choose from {list(INPUT_CHANNELS)}")
    if len(set(inputs)) != len(tuple(inputs)):
        raise ValueError(f"duplicate LTNet inputs in {tuple(inputs)}")
    if "rgb" not in inputs:
        raise ValueError("LTNet inputs must include 'rgb' (the global residual adds to it)")
    return tuple(name for name in INPUT_CHANNELS if name in inputs)  # paper order


def _transforms():
    """``relight_lib.library.data.transforms``, imported on first use: building a model, counting its
    parameters or running it on RGB + depth does not need it."""
    import importlib

    return importlib.import_module("relight_lib.library.data.transforms")


def _minmax(depth: torch.Tensor) -> torch.Tensor:
    """Each depth map stretched to [0, 1]: ``(d - min) / (max - min)`` per sample (paper section
    3.1; the official code's step). A constant map (max == min) becomes zeros instead of the
    code's division by zero. Same as :func:`relight_lib.library.data.transforms.normalize_depth`, kept
    here so that a model on RGB + depth does not import the data layer.

    >>> _minmax(torch.tensor([[[[2.0, 4.0], [3.0, 6.0]]], [[[5.0, 5.0], [5.0, 5.0]]]]))[:, 0]
    tensor([[[0.0000, 0.5000],
             [0.2500, 1.0000]],
    <BLANKLINE>
            [[0.0000, 0.0000],
             [0.0000, 0.0000]]])
    """
    lo = depth.amin(dim=(1, 2, 3), keepdim=True)
    span = depth.amax(dim=(1, 2, 3), keepdim=True) - lo
    return (depth - lo) / torch.where(span > 0, span, torch.ones_like(span))


def _unused_official_parameters(nc: int) -> int:
    """Parameters of the official modules this model leaves out (conv_t0 and the side heads
    conv_l5_out .. conv_l2_out); they depend on ``nc`` only."""
    t0 = nc * 16 * 9 + 16
    heads = sum(c * 3 * 9 + 3 for c in (8 * nc, 8 * nc, 4 * nc, 2 * nc))
    return t0 + heads


def official_parameter_count(model: LTNet) -> int:
    """Trainable parameters the official pynet3 module would hold for ``model``'s widths:
    this model's own plus the unused ``conv_t0`` and side heads. This is the count the spec's
    Table 5 tally (papers.md section 3.3) refers to.

    >>> official_parameter_count(LTNet())
    1071351
    """
    own = sum(p.numel() for p in model.parameters() if p.requires_grad)
    return own + _unused_official_parameters(model.nc)


class LTNet(RelightModel):
    """LTNet: reduced PyNET encoder-decoder predicting a residual added to the input image.

    Args:
        inputs: Which maps form the network input, concatenated in the paper's order
            (``rgb``, ``depth``, ``inverse_depth``, ``normal``) whatever order is given; must
            contain ``rgb``. Paper default: all four, 8 channels (section 3.1-3.2). Table 2's
            ablations: I+D = ``("rgb", "depth")`` (4 ch), I+D+V (5 ch), I+D+N (7 ch),
            I+D+V+N (8 ch).
        nc: Encoder width (code flag ``--n_features``): levels 1-4 have nc, 2nc, 4nc, 8nc
            channels. Paper/submitted: 16 (section 4.3.4 "n_f = 16").
        f1: Level-1 decoder width (``--n_features_level_1``): level L uses f1 * 2**(L-1).
            Paper/submitted: 2 ("n_f1 = 2").
        global_residual: Add the input RGB to the prediction (Table 3's "s"). Default True.
        instance_norm: Affine instance norm in the level 2-5 blocks (``--with_in``, used by the
            submission). Default True.
        instance_norm_level_1: Also in level-1 blocks l1_d5 .. l1_d12 (the official option of
            the same name, default False; l1_d1, l1_d3 and l1_d14 never have it).
        normal_recipe: Passed to :func:`relight_lib.library.data.transforms.normal_map`. "paper" by
            default (section 3.2); the released checkpoints expect the code's depth-only recipe.
        normalize_depth: Stretch each depth map to [0, 1] (min-max per image, paper section
            3.1 "we uniformly normalize it to [0, 1]"; the official code does the same) before
            it becomes the depth, inverse-depth and (paper recipe) normal inputs. A constant
            map becomes zeros. The code recipe's normal map uses the depth as stored, as the
            official code does. Default True.
        clamp_output: Clamp the prediction to [0, 1] with a straight-through gradient (see the
            module docstring). Default True.
        in_channels: Optional check: if given, must equal the channel count implied by
            ``inputs`` (available afterwards as the attribute ``in_channels``).

    Model sizes (trainable parameters of this model; in brackets the official module's count,
    which adds the unused ``conv_t0`` (2,320) and side heads (9,516) at nc=16):
        * LTNet* (nc 16, f1 2): 1,059,515 (1,071,351 ~ 1.07 M).
        * Table 5 by label (f1, nc) [D]: "8,32" 6,757,575 (6.78 M, LTNet-dagger, see
          :class:`LTNetLarge`); "4,32" 4,223,807 (4.25 M); "4,16" 1,693,903 (1.71 M);
          "2,16" (printed "4,16") = LTNet*; "4,4" 682,507 (0.69 M). See
          :data:`TABLE5_CONFIGS` and :meth:`from_table5`.
        With fewer inputs, subtract 9 * nc per missing channel.

    Shape:
        - ``batch['input']``: (B, 3, H, W) float RGB in [0, 1]; H and W multiples of 16 and at
          least 32 (four 2x poolings; the level-5 reflection pad needs 2 pixels).
        - ``batch['depth']``: (B, 1, H, W), any range, if any depth-derived input is used; the
          model stretches each map to [0, 1] itself (``normalize_depth``).
        - ``batch['inverse_depth']`` / ``batch['normal']``: optional precomputed maps
          ((B, 1, H, W) / (B, 3, H, W) in [0, 1]); when present they are used as given,
          otherwise they are computed from ``depth`` (and ``input``) with
          :mod:`relight_lib.library.data.transforms`.
        - returns: (B, 3, H, W) relit RGB, in [0, 1] when ``clamp_output``; with
          ``return_residual=True`` also the residual (B, 3, H, W), unclamped, in image units:
          prediction = input + residual, so its target is GT - input (LTNet's L_r, section 3.4).
          Without the global residual the second tensor is the raw network output (the
          prediction minus 0.5).

    Example:
        >>> net = LTNet(inputs=("rgb", "depth"), nc=4, f1=1)
        >>> batch = {"input": torch.rand(1, 3, 32, 48), "depth": torch.rand(1, 1, 32, 48)}
        >>> out, res = net(batch, return_residual=True)
        >>> out.shape, res.shape, net.in_channels, net.needs
        (torch.Size([1, 3, 32, 48]), torch.Size([1, 3, 32, 48]), 4, ('depth',))
    """

    size_multiple = 16

    #: What the default configuration reads besides the RGB input (an instance built with
    #: ``inputs`` of RGB alone needs nothing else: see ``__init__``).
    needs: tuple[str, ...] = ("depth",)

    def __init__(
        self,
        inputs: Sequence[str] = ("rgb", "depth", "inverse_depth", "normal"),
        nc: int = 16,
        f1: int = 2,
        global_residual: bool = True,
        instance_norm: bool = True,
        instance_norm_level_1: bool = False,
        normal_recipe: str = "paper",
        clamp_output: bool = True,
        in_channels: int | None = None,
        normalize_depth: bool = True,
    ) -> None:
        super().__init__()
        self.inputs = _canonical_inputs(inputs)
        self.in_channels = sum(INPUT_CHANNELS[name] for name in self.inputs)
        if in_channels is not None and in_channels != self.in_channels:
            raise ValueError(f"in_channels={in_channels} but inputs {self.inputs} give "
                             f"{self.in_channels} channels")
        self.needs = ("depth",) if len(self.inputs) > 1 else ()
        self.nc, self.f1 = nc, f1
        self.global_residual = global_residual
        self.normal_recipe = normal_recipe
        self.clamp_output = clamp_output
        self.normalize_depth = normalize_depth

        n = instance_norm
        n1 = instance_norm_level_1
        fl = [0, f1, 2 * f1, 4 * f1, 8 * f1, 16 * f1]  # decoder width per level, fl[L]

        block = ConvMultiBlock  # (in, out, kmax, instance_norm)

        # encoder (level 1 at full resolution, no norm there)
        self.conv_l1_d1 = block(self.in_channels, nc, 3, False)
        self.conv_l2_d1 = block(nc, 2 * nc, 3, n)
        self.conv_l3_d1 = block(2 * nc, 4 * nc, 3, n)
        self.conv_l4_d1 = block(4 * nc, 8 * nc, 3, n)
        # level 5 (1/16 resolution)
        self.conv_l5_d1 = block(8 * nc, fl[5], 3, n)
        self.conv_l5_d2 = block(fl[5], fl[5], 3, n)
        self.conv_l5_d3 = block(fl[5], fl[5], 3, n)
        self.conv_l5_d4 = block(fl[5], 8 * nc, 3, n)
        self.conv_t4a = UpsampleConvLayer(8 * nc, fl[4])
        self.conv_t4b = UpsampleConvLayer(8 * nc, fl[4])
        # level 4: single-branch blocks, widths fl[4]
        self.conv_l4_d3 = block(8 * nc + fl[4], fl[4], 3, n)
        self.conv_l4_d4 = block(fl[4], fl[4], 3, n)
        self.conv_l4_d5 = block(fl[4], fl[4], 3, n)
        self.conv_l4_d6 = block(fl[4], fl[4], 3, n)
        self.conv_l4_d8 = block(2 * fl[4], 8 * nc, 3, n)
        self.conv_t3a = UpsampleConvLayer(8 * nc, fl[3])
        self.conv_t3b = UpsampleConvLayer(8 * nc, fl[3])
        # level 3: kmax 5 blocks return 2 * fl[3] channels
        self.conv_l3_d3 = block(4 * nc + fl[3], fl[3], 5, n)
        self.conv_l3_d4 = block(2 * fl[3], fl[3], 5, n)
        self.conv_l3_d5 = block(2 * fl[3], fl[3], 5, n)
        self.conv_l3_d6 = block(2 * fl[3], fl[3], 5, n)
        self.conv_l3_d8 = block(2 * fl[3] + 4 * nc + fl[3], 4 * nc, 3, n)
        self.conv_t2a = UpsampleConvLayer(4 * nc, fl[2])
        self.conv_t2b = UpsampleConvLayer(4 * nc, fl[2])
        # level 2
        self.conv_l2_d3 = block(2 * nc + fl[2], fl[2], 5, n)
        self.conv_l2_d5 = block(2 * nc + 2 * fl[2], fl[2], 7, n)
        self.conv_l2_d6 = block(3 * fl[2], fl[2], 7, n)
        self.conv_l2_d7 = block(3 * fl[2], fl[2], 7, n)
        self.conv_l2_d8 = block(3 * fl[2], fl[2], 7, n)
        self.conv_l2_d10 = block(2 * nc + 3 * fl[2], fl[2], 5, n)
        self.conv_l2_d12 = block(3 * fl[2], 2 * nc, 3, n)
        self.conv_t1a = UpsampleConvLayer(2 * nc, fl[1])
        self.conv_t1b = UpsampleConvLayer(2 * nc, fl[1])
        # level 1 (full resolution)
        self.conv_l1_d3 = block(nc + fl[1], fl[1], 5, False)
        self.conv_l1_d5 = block(nc + 2 * fl[1], fl[1], 7, n1)
        self.conv_l1_d6 = block(3 * fl[1], fl[1], 9, n1)
        self.conv_l1_d7 = block(4 * fl[1], fl[1], 9, n1)
        self.conv_l1_d8 = block(4 * fl[1], fl[1], 9, n1)
        self.conv_l1_d9 = block(4 * fl[1], fl[1], 9, n1)
        self.conv_l1_d10 = block(4 * fl[1], fl[1], 7, n1)
        self.conv_l1_d12 = block(nc + 3 * fl[1], fl[1], 5, n1)
        self.conv_l1_d14 = block(3 * fl[1] + nc, nc, 3, False)
        self.conv_l1_out = ConvLayer(nc, 3, 3, activation=False)
        # level 0: a 3 -> 3 conv on the level-1 output gives the residual
        self.conv_l0_d1 = ConvLayer(3, 3, 3, activation=False)

    # ---- alternative constructors --------------------------------------------------------

    @classmethod
    def from_table5(cls, label: str, **kwargs) -> LTNet:
        """Build a Table 5 configuration by its corrected "f1,nc" label (keys of
        :data:`TABLE5_CONFIGS`: "8,32", "4,32", "4,16", "2,16", "4,4")."""
        if label not in TABLE5_CONFIGS:
            raise KeyError(f"unknown Table 5 label {label!r}; known: {list(TABLE5_CONFIGS)}")
        cfg = TABLE5_CONFIGS[label]
        return cls(nc=cfg.nc, f1=cfg.f1, **kwargs)

    # ---- forward --------------------------------------------------------------------------

    def _network_input(self, batch: Mapping[str, torch.Tensor]) -> torch.Tensor:
        rgb = batch["input"]
        maps = [rgb]
        if len(self.inputs) > 1:
            raw = batch["depth"]
            depth = _minmax(raw) if self.normalize_depth else raw
            for name in self.inputs[1:]:
                if name == "depth":
                    maps.append(depth)
                elif name in batch:  # a precomputed map wins
                    maps.append(batch[name])
                elif name == "inverse_depth":
                    maps.append(_transforms().inverse_depth(depth))
                else:  # normal: the code recipe differentiates the stored depth, as the code
                    src = raw if self.normal_recipe == "code" else depth
                    maps.append(_transforms().normal_map(rgb, src, recipe=self.normal_recipe))
        x = torch.cat(maps, dim=1) if len(maps) > 1 else rgb
        # the official (x * 255 - 127.5) / 255, on every channel
        return x - 0.5

    def _residual(self, x: torch.Tensor) -> torch.Tensor:
        """The network proper: normalised input (B, C_in, H, W) -> level-0 output (B, 3, H, W)."""
        l1 = self.conv_l1_d1(x)
        l2 = self.conv_l2_d1(F.max_pool2d(l1, 2))
        l3 = self.conv_l3_d1(F.max_pool2d(l2, 2))
        l4 = self.conv_l4_d1(F.max_pool2d(l3, 2))

        # level 5: two blocks with identity adds
        y = self.conv_l5_d1(F.max_pool2d(l4, 2))
        y = self.conv_l5_d2(y) + y
        y = self.conv_l5_d3(y) + y
        y = self.conv_l5_d4(y)
        ta, tb = self.conv_t4a(y), self.conv_t4b(y)

        # level 4
        y = self.conv_l4_d3(torch.cat([l4, ta], 1))
        y = self.conv_l4_d4(y) + y
        y = self.conv_l4_d5(y) + y
        y = self.conv_l4_d6(y)
        y = self.conv_l4_d8(torch.cat([y, tb], 1))
        ta, tb = self.conv_t3a(y), self.conv_t3b(y)

        # level 3
        y = self.conv_l3_d3(torch.cat([l3, ta], 1))
        y = self.conv_l3_d4(y) + y
        y = self.conv_l3_d5(y) + y
        y = self.conv_l3_d6(y)
        y = self.conv_l3_d8(torch.cat([y, l3, tb], 1))
        ta, tb = self.conv_t2a(y), self.conv_t2b(y)

        # level 2
        y = self.conv_l2_d3(torch.cat([l2, ta], 1))
        y = self.conv_l2_d5(torch.cat([y, l2], 1))
        y = self.conv_l2_d6(y) + y
        y = self.conv_l2_d7(y) + y
        y = self.conv_l2_d8(y)
        y = self.conv_l2_d10(torch.cat([y, l2], 1))
        y = self.conv_l2_d12(torch.cat([y, tb], 1))
        ta, tb = self.conv_t1a(y), self.conv_t1b(y)

        # level 1
        y = self.conv_l1_d3(torch.cat([l1, ta], 1))
        y = self.conv_l1_d5(torch.cat([y, l1], 1))
        y = self.conv_l1_d6(y)
        y = self.conv_l1_d7(y) + y
        y = self.conv_l1_d8(y) + y
        y = self.conv_l1_d9(y) + y
        y = self.conv_l1_d10(y)
        y = self.conv_l1_d12(torch.cat([y, l1], 1))
        y = self.conv_l1_d14(torch.cat([y, tb, l1], 1))
        return self.conv_l0_d1(self.conv_l1_out(y))

    def forward(
        self, batch: Mapping[str, torch.Tensor], return_residual: bool = False
    ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        rgb = batch["input"]
        if rgb.ndim != 4 or rgb.shape[1] != 3:
            raise ValueError(f"LTNet expects batch['input'] of shape (B, 3, H, W), got "
                             f"{tuple(rgb.shape)}")
        h, w = rgb.shape[-2:]
        if h % self.size_multiple or w % self.size_multiple or min(h, w) < 32:
            raise ValueError(f"LTNet needs H and W multiples of {self.size_multiple} and at "
                             f"least 32, got {h}x{w} (pad with models.pad_to_multiple)")
        residual = self._residual(self._network_input(batch))
        # In the normalised domain: (rgb - 0.5) + residual, then + 0.5 back, i.e. rgb + residual.
        # Without the skip the network output itself is the normalised prediction.
        out = rgb + residual if self.global_residual else residual + 0.5
        if self.clamp_output:
            # straight-through: clamped values, gradient of the unclamped sum
            out = out + (out.clamp(0.0, 1.0) - out).detach()
        return (out, residual) if return_residual else out


class LTNetLarge(LTNet):
    """LTNet-dagger, the paper's "larger version" (Table 1; Table 5 row "8,32" [D]): ``nc=32,
    f1=8``, 6,757,575 parameters (official module 6,781,219 ~ 6.78 M). Other arguments as
    :class:`LTNet`."""

    def __init__(self, *, nc: int = 32, f1: int = 8, **kwargs) -> None:
        super().__init__(nc=nc, f1=f1, **kwargs)
