"""Any-to-any relighting by latent swapping, from Dherse, Everaert and Gwizdała, "Scene
relighting with illumination estimation in the latent space on an encoder-decoder scheme"
(EPFL CS-413 report, arXiv:2006.02333; spec/papers.md section 6).

One encoder is shared by the image to relight I and the guide T (the image whose lighting we
want). Each latent is split into a *light* part and a *scene* part; the decoder receives the
scene part of I with the light part of T, plus U-Net skips from I's encoder pass, and renders
I's scene under T's lighting (the ground truth G).

Faithful to (papers.md 6.2-6.6, read from ``models/swapModels.py`` @ f80d030):
    * encoder: 7 x 7 conv 3 -> 29 concatenated with the input (32 channels), then four stride-2
      3 x 3 convs (64, 128, 256, 512 channels) with a 3 x 3 conv before each of the last three,
      then three 512 -> 512 convs that are **one module applied three times** (the code builds
      a list of the same instance); every conv is followed by BatchNorm and a one-parameter
      PReLU; 10 skip tensors;
    * decoder: 11 convs; the skips are consumed in reverse order and concatenated before each
      conv; bilinear x2 up-sampling (``align_corners=True``) *after* the concatenation and
      before the conv, in the four up-sampling layers; a sigmoid output;
    * the three latent variants of Table 1: :class:`SwapNetIllum` (model A, light = first 3 of
      512 channels), :class:`SwapNetEnvmap` (model B, a 16 x 32 RGB environment map obtained by
      weighted pooling, no scene latent) and :class:`SwapNetEnvmapScene` (model C, 1024 scene
      channels + an HSV envmap of 514 values);
    * the 20-10-2 illumination predicter (:class:`IlluminationPredicter`), a separate module as
      in the code (it does not take part in relighting, so it is trained alongside the
      generator with one optimiser, see :mod:`relight_lib.papers.swapnet.any2any`).

Notes and deviations:
    * The report's latent "2028 x 16 x 16 split into four 512 x 16 x 16 tensors" is a typo for
      2048 (papers.md section 0 item 5); we use 2048, as the code does.
    * Resolution: the paper works at 256 px, where the latent is 16 x 16. At other sizes the
      latent is (H/16) x (W/16); the weighted pooling then sums over fewer positions (no
      normalisation, as in the code), and the envmap assembler tiles to the latent's own size.
      The illumination predicter's input size is ``3 * (H/16) * (W/16)`` (768 at 256 px).
    * Only the default skip setting is built (all skips from I); the code's options to disable
      skips or take some from T are not.

Parameter counts (trainable, independent of the input size; papers.md section 8 derives 18.84 M,
35.36 M and 35.39 M): shared encoder + decoder (model A) 18,837,556; model B 35,360,309; model C
35,387,969; the predicter 15,614 at 256 px. See :func:`parameter_report`.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import nn
from torch.nn import functional as F

from relight_lib.library.data.layout import TEMPERATURES
from relight_lib.library.models.base import RelightModel

__all__ = [
    "ENVMAP_HW",
    "Encoder",
    "Decoder",
    "IlluminationPredicter",
    "TEMPERATURE_HEADS",
    "PatchSplit",
    "SwapNet",
    "SwapNetEnvmap",
    "SwapNetEnvmapScene",
    "SwapNetIllum",
    "WeightedPooling",
]

#: Height and width of the environment maps (Sun et al.'s 16 x 32 latitude-longitude map).
ENVMAP_HW: tuple[int, int] = (16, 32)
LATENT_CHANNELS = 512


def conv_bn_prelu(c_in: int, c_out: int, k: int = 3, stride: int = 1) -> nn.Sequential:
    """k x k conv (bias, 'same' padding) -> BatchNorm -> PReLU (one shared slope)."""
    return nn.Sequential(nn.Conv2d(c_in, c_out, k, stride=stride, padding=k // 2),
                         nn.BatchNorm2d(c_out), nn.PReLU())


class _Up(nn.Module):
    """Bilinear x2 (``align_corners=True``) then conv-BN-PReLU: the decoder's up layers."""

    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__()
        self.conv = conv_bn_prelu(c_in, c_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=True))


class Encoder(nn.Module):
    """The shared 11-layer encoder (papers.md 6.2).

    ``forward(image)`` returns ``(latent, skips)``: latent (B, 512, H/16, W/16) and the list of
    10 skip tensors in the order they were recorded.
    """

    def __init__(self) -> None:
        super().__init__()
        self.stem = conv_bn_prelu(3, 29, k=7)  # concatenated with the 3 input channels -> 32
        self.down0 = conv_bn_prelu(32, 64, stride=2)
        self.mid = nn.ModuleList([conv_bn_prelu(c, c) for c in (64, 128, 256)])
        self.down = nn.ModuleList([conv_bn_prelu(c, 2 * c, stride=2) for c in (64, 128, 256)])
        # layers 9-11: the same module three times (the code repeats one instance)
        self.bottleneck = conv_bn_prelu(512, 512)
        self.bottleneck_repeats = 3

    def forward(self, image: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        enc = torch.cat([self.stem(image), image], dim=1)
        skips = [enc]
        x = self.down0(enc)
        for mid, down in zip(self.mid, self.down):
            skips.append(x)
            x = mid(x)
            skips.append(x)
            x = down(x)
        for _ in range(self.bottleneck_repeats):
            skips.append(x)
            x = self.bottleneck(x)
        return x, skips


class Decoder(nn.Module):
    """The 11-layer decoder with skips (papers.md 6.3): ``forward(latent, skips)`` -> image in
    [0, 1] (sigmoid). ``skips`` is the encoder's list; it is not modified."""

    def __init__(self) -> None:
        super().__init__()
        self.entry = conv_bn_prelu(512, 256)
        self.b1 = conv_bn_prelu(256 + 512, 512)
        self.b2 = conv_bn_prelu(512 + 512, 512)
        self.b3 = _Up(512 + 512, 256)
        self.convs = nn.ModuleList()
        self.ups = nn.ModuleList()
        for c in (256, 128, 64):
            self.convs.append(conv_bn_prelu(2 * c, c))
            self.ups.append(_Up(2 * c, c // 2))
        self.out = nn.Conv2d(64, 3, 3, padding=1)

    def forward(self, latent: torch.Tensor, skips: list[torch.Tensor]) -> torch.Tensor:
        s = list(skips)
        x = self.entry(latent)
        x = self.b1(torch.cat([x, s.pop()], 1))
        x = self.b2(torch.cat([x, s.pop()], 1))
        x = self.b3(torch.cat([x, s.pop()], 1))
        for conv, up in zip(self.convs, self.ups):
            x = conv(torch.cat([x, s.pop()], 1))
            x = up(torch.cat([x, s.pop()], 1))
        return torch.sigmoid(self.out(torch.cat([x, s.pop()], 1)))


class WeightedPooling(nn.Module):
    """Sun et al.'s confidence-weighted pooling (papers.md 6.5).

    A 3 x 3 conv + BN + Softplus makes ``(k + 1) * w`` positive channels; the last ``w`` are
    confidences, the first ``k * w`` values; value channel ``j`` is multiplied by confidence
    channel ``j mod w`` and summed over all positions (no normalisation). Output (B, k * w).
    """

    def __init__(self, in_channels: int, values: int, confidences: int) -> None:
        super().__init__()
        if values % confidences:
            raise ValueError(f"values ({values}) must be a multiple of confidences "
                             f"({confidences})")
        self.values, self.confidences = values, confidences
        self.conv = nn.Sequential(nn.Conv2d(in_channels, values + confidences, 3, padding=1),
                                  nn.BatchNorm2d(values + confidences), nn.Softplus())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pool(self.conv(x))

    def pool(self, y: torch.Tensor) -> torch.Tensor:
        """Pool already-activated channels (B, values + confidences, h, w) -> (B, values)."""
        vals, conf = y[:, :self.values], y[:, self.values:]
        reps = self.values // self.confidences
        return (vals * conf.repeat(1, reps, 1, 1)).sum(dim=(2, 3))


class PatchSplit(nn.Module):
    """Tile a pooled light vector (B, n) over the latent grid and map it (optionally with a
    scene latent) back to 512 channels: 3 x 3 conv + BN + PReLU (the code's ``Tiling``)."""

    def __init__(self, in_channels: int) -> None:
        super().__init__()
        self.encode = conv_bn_prelu(in_channels, LATENT_CHANNELS)

    def forward(self, light: torch.Tensor, hw: tuple[int, int],
                scene: torch.Tensor | None = None) -> torch.Tensor:
        tiled = light[:, :, None, None].expand(-1, -1, *hw)
        x = tiled if scene is None else torch.cat([scene, tiled], 1)
        return self.encode(x)


#: The normalised temperature head's offset and scale: the mean and (population) standard
#: deviation of VIDIT's five colour temperatures (papers.md 1.1), 4500 K and about 1414 K.
TEMPERATURE_MEAN = sum(TEMPERATURES) / len(TEMPERATURES)
TEMPERATURE_SCALE = (sum((t - TEMPERATURE_MEAN) ** 2 for t in TEMPERATURES)
                     / len(TEMPERATURES)) ** 0.5

#: Values of ``IlluminationPredicter(temperature=...)``: what the MLP's first output means.
TEMPERATURE_HEADS: dict[str, str] = {
    "kelvin": "the temperature in kelvin, a raw linear output (the report and the code)",
    "normalised": "a normalised temperature z, read as TEMPERATURE_MEAN + TEMPERATURE_SCALE * z "
                  "kelvin (z = (T - mean) / sd over VIDIT's five temperatures)",
}


class IlluminationPredicter(nn.Module):
    """The 20-10-2 MLP of model A (papers.md 6.6): flattened light latent -> (colour
    temperature in kelvin, direction in degrees), raw linear outputs as in the code.

    The code's temperature output is raw kelvin (2500-6500), which a freshly initialised MLP
    (outputs near 0) reaches only after many steps: Adam moves each weight by about the
    learning rate per step. ``temperature='normalised'`` makes the first output a normalised
    temperature z and returns ``TEMPERATURE_MEAN + TEMPERATURE_SCALE * z`` kelvin: the same
    quantity in the same unit (so L_c = MSE / 2000**2 on kelvin is unchanged), a fixed affine
    map with no parameter, starting at VIDIT's mean temperature.

    Args:
        in_features: Size of the flattened light latent: ``3 * (H/16) * (W/16)``, 768 at
            256 px (see :meth:`SwapNetIllum.light_features`).
        temperature: ``'kelvin'`` (default, the code) or ``'normalised'``
            (:data:`TEMPERATURE_HEADS`).

    Shapes: ``forward`` maps a light latent (B, ...) with ``in_features`` values per sample to
    (B, 2): kelvin, degrees.

    Example:
        >>> _ = torch.manual_seed(0)
        >>> p = IlluminationPredicter(12, temperature="normalised")
        >>> with torch.no_grad():
        ...     kelvin = float(p(torch.zeros(1, 12))[0, 0])
        >>> abs(kelvin - TEMPERATURE_MEAN) < TEMPERATURE_SCALE  # starts near VIDIT's mean
        True
    """

    def __init__(self, in_features: int = 768, temperature: str = "kelvin") -> None:
        super().__init__()
        if temperature not in TEMPERATURE_HEADS:
            raise ValueError(f"temperature must be one of {sorted(TEMPERATURE_HEADS)}, "
                             f"got {temperature!r}")
        self.in_features = in_features
        self.temperature = temperature
        self.fc = nn.Sequential(nn.Linear(in_features, 20), nn.PReLU(), nn.Linear(20, 10),
                                nn.PReLU(), nn.Linear(10, 2))

    def forward(self, light: torch.Tensor) -> torch.Tensor:
        x = light.reshape(light.shape[0], -1)
        if x.shape[1] != self.in_features:
            raise ValueError(f"IlluminationPredicter built for {self.in_features} inputs got "
                             f"{x.shape[1]} (the light latent depends on the image size)")
        y = self.fc(x)
        if self.temperature == "normalised":
            kelvin = TEMPERATURE_MEAN + TEMPERATURE_SCALE * y[:, :1]
            y = torch.cat([kelvin, y[:, 1:]], dim=1)
        return y


class SwapNet(RelightModel):
    """Shared encoder/decoder; subclasses define how a latent splits and reassembles.

    ``forward(batch)`` relights ``batch['input']`` with the lighting of ``batch['guide']``
    (both (B, 3, H, W) in [0, 1], H and W multiples of 16) and returns (B, 3, H, W) in [0, 1].
    :meth:`outputs` returns everything the losses and diagnostics need.
    """

    needs = ("guide",)
    size_multiple = 16
    #: What the light latent is: "channels" (model A), "envmap_rgb" (B), "envmap_hsv" (C).
    light_kind = "channels"

    def __init__(self) -> None:
        super().__init__()
        self.encode = Encoder()
        self.decode = Decoder()

    # -- to be defined by the variants --
    def split(self, latent: torch.Tensor) -> tuple[torch.Tensor | None, torch.Tensor]:
        raise NotImplementedError

    def assemble(self, scene: torch.Tensor | None, light: torch.Tensor,
                 hw: tuple[int, int]) -> torch.Tensor:
        raise NotImplementedError

    def _check(self, x: torch.Tensor, name: str) -> None:
        if x.ndim != 4 or x.shape[1] != 3:
            raise ValueError(f"batch[{name!r}] must be (B, 3, H, W), got {tuple(x.shape)}")
        h, w = x.shape[-2:]
        if h % 16 or w % 16:
            raise ValueError(f"SwapNet needs H and W multiples of 16, got {h}x{w} "
                             "(pad with models.pad_to_multiple)")

    def outputs(self, batch: Mapping[str, torch.Tensor],
                with_target: bool = True) -> dict[str, torch.Tensor | None]:
        """Relight and return every intermediate the losses need.

        Args:
            batch: ``input`` (I) and ``guide`` (T), optionally ``target`` (G): (B, 3, H, W).
            with_target: also encode ``batch['target']`` when present (its latents feed the
                model-A predicter loss and the latent diagnostics).

        Returns:
            dict with ``relit`` (B, 3, H, W) and, for ``x`` in ``input``, ``guide``,
            ``target`` (the last only when encoded): ``scene_<x>`` (None for model B) and
            ``light_<x>`` (model A: (B, 3, h, w) latent channels; model B: (B, 1536) RGB
            envmap; model C: (B, 514) HSV envmap).
        """
        inp, guide = batch["input"], batch["guide"]
        self._check(inp, "input")
        self._check(guide, "guide")
        lat_i, skips = self.encode(inp)
        lat_g, _ = self.encode(guide)
        out: dict[str, torch.Tensor | None] = {}
        out["scene_input"], out["light_input"] = self.split(lat_i)
        out["scene_guide"], out["light_guide"] = self.split(lat_g)
        target = batch.get("target") if with_target else None
        if isinstance(target, torch.Tensor):
            lat_t, _ = self.encode(target)
            out["scene_target"], out["light_target"] = self.split(lat_t)
        swapped = self.assemble(out["scene_input"], out["light_guide"], lat_i.shape[-2:])
        out["relit"] = self.decode(swapped, skips)
        return out

    def forward(self, batch: Mapping[str, torch.Tensor]) -> torch.Tensor:
        return self.outputs(batch, with_target=False)["relit"]


class SwapNetIllum(SwapNet):
    """Model A, "IlluminationPredicter" (the code's ``AnOtherSwapNet``): the light latent is
    the first 3 of the 512 latent channels, the scene latent the other 509; the decoder gets
    ``cat(light of T, scene of I)``. No extra parameters: 18.84 M (the predicter, 15.6 k at
    256 px, is a separate :class:`IlluminationPredicter`).

    Example:
        >>> net = SwapNetIllum()
        >>> x = {"input": torch.rand(1, 3, 32, 32), "guide": torch.rand(1, 3, 32, 32)}
        >>> net.eval()(x).shape, SwapNetIllum.light_features(256)
        (torch.Size([1, 3, 32, 32]), 768)
    """

    light_kind = "channels"
    light_channels = 3

    def split(self, latent):
        return latent[:, self.light_channels:], latent[:, :self.light_channels]

    def assemble(self, scene, light, hw):
        return torch.cat([light, scene], 1)

    @classmethod
    def light_features(cls, height: int, width: int | None = None) -> int:
        """Flattened light-latent size for an input of ``height`` x ``width`` pixels."""
        width = height if width is None else width
        return cls.light_channels * (height // 16) * (width // 16)

    def make_predicter(self, height: int, width: int | None = None,
                       temperature: str = "kelvin") -> IlluminationPredicter:
        """The 20-10-2 predicter sized for this input resolution, with the ``temperature``
        head of :data:`TEMPERATURE_HEADS` (default: the code's raw kelvin)."""
        return IlluminationPredicter(self.light_features(height, width), temperature)


class SwapNetEnvmap(SwapNet):
    """Model B, "Envmap" (``SinglePortraitEnvmapNetSplitter/Assembler``): the latent becomes a
    16 x 32 RGB envmap (1536 values, positive, on the 0-255 scale of the ground truth) by
    weighted pooling over a 512 -> 2048 conv; the decoder gets it tiled and mapped back to 512
    channels (3 x 3 conv 1536 -> 512). No scene latent: the scene reaches the decoder through
    the skips only. 35.36 M parameters.
    """

    light_kind = "envmap_rgb"

    def __init__(self) -> None:
        super().__init__()
        n = ENVMAP_HW[0] * ENVMAP_HW[1]
        self.pool = WeightedPooling(LATENT_CHANNELS, 3 * n, n)
        self.tile = PatchSplit(3 * n)

    def split(self, latent):
        return None, self.pool(latent)

    def assemble(self, scene, light, hw):
        return self.tile(light, tuple(hw))


class SwapNetEnvmapScene(SwapNet):
    """Model C, "Envmap + scene" (``SceneEnvmapNetSplitter(scene_latent_channels=1024)``): a
    512 -> 2052 conv (+ BN + Softplus) whose first 1024 channels are the scene latent and the
    other 1028 pool into an HSV envmap of 514 values (hue, saturation and 512 brightness
    values; 514 value channels weighted by 514 confidences); the decoder gets
    ``conv(cat(scene of I, tiled envmap of T))`` (1538 -> 512). 35.39 M parameters.

    Note: the softplus also makes the scene latent positive, as in the code.
    """

    light_kind = "envmap_hsv"
    scene_channels = 1024
    envmap_values = 2 + ENVMAP_HW[0] * ENVMAP_HW[1]  # 514

    def __init__(self) -> None:
        super().__init__()
        n = self.envmap_values
        c = self.scene_channels + 2 * n  # 2052 = 1024 + 1028 (papers.md 6.4 C)
        self.conv = nn.Sequential(nn.Conv2d(LATENT_CHANNELS, c, 3, padding=1),
                                  nn.BatchNorm2d(c), nn.Softplus())
        self.tile = PatchSplit(self.scene_channels + n)

    def split(self, latent):
        y = self.conv(latent)
        scene, light = y[:, :self.scene_channels], y[:, self.scene_channels:]
        vals, conf = light[:, :self.envmap_values], light[:, self.envmap_values:]
        return scene, (vals * conf).sum(dim=(2, 3))

    def assemble(self, scene, light, hw):
        return self.tile(light, tuple(hw), scene=scene)


def parameter_report() -> dict[str, int]:
    """Trainable parameters of the shared network and of each variant (papers.md section 8)."""
    from relight_lib.library.models.base import count_parameters

    return {"shared": count_parameters(SwapNetIllum()),
            "envmap": count_parameters(SwapNetEnvmap()),
            "envmap_scene": count_parameters(SwapNetEnvmapScene()),
            "predicter_256px": count_parameters(IlluminationPredicter(768))}
