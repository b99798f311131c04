"""What an any-to-any row trains (2DSceneRelighting): the swap models, the loss settings and
their losses, model A's temperature head, the PatchGAN modes and the predicter's chance levels.

Loss settings (papers.md 6.7):

* ``"A"``: ``MSE(G_hat, G) + L_c + L_d``, with L_c (colour temperature, MSE / 2000**2) and L_d
  (1 - cos of the direction error) each the mean over the predicter's outputs on the light
  latents of I, T and G; the predicter is trained with the generator by one Adam optimiser.
  Its temperature head (``temperature_head``, :data:`TEMPERATURE_HEADS`) outputs raw kelvin at
  the report's budget, as the code; below it a normalised temperature (L_c still on kelvin).
* ``"B"``: ``L1(G_hat, G) + logL2(envmap(I)) + logL2(envmap(T))`` against the ground-truth RGB
  envmaps of :mod:`relight_lib.papers.swapnet.envmap` (the code's HSV recipe by default, ``envmap_recipe``).
* ``"C"``: ``LPIPS(G_hat, G) + HSV(I) + HSV(T)`` where HSV = cos loss on the hue (0-255 scale)
  + MSE on the saturation + logL2 on the 512 brightness values. The LPIPS term follows the
  code by default (``lpips_form="code"``: AlexNet LPIPS v0.1 on the [0, 1] images fed without
  the [-1, 1] mapping, *summed* over the batch); ``"mean"`` is the batch mean on [-1, 1]
  inputs. LPIPS needs the ImageNet AlexNet weights; without them the row is written as *not
  run here* (never trained with a substitute).

The discriminator (:data:`DISCRIMINATORS`): ``"pix2pix"`` (or ``True``) adds the LSGAN generator
term ``MSE(D(G_hat), 1)`` with weight 1 (the pix2pix reading of the code's "WithGAN"
configuration); ``"code"`` trains the PatchGAN as the official ``train.py`` does, whose
generator loss never includes that term. Either way the PatchGAN is trained with
``MSE(D(G), 1) + MSE(D(G_hat), 0)`` by its own Adam, after each generator step, on a second
generator pass (as the code does; in training mode, so BatchNorm statistics move twice per step).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from relight_lib.library import metrics
from relight_lib.library.models.swapnet import TEMPERATURE_MEAN as T_MEAN
from relight_lib.library.models.swapnet import TEMPERATURE_SCALE as T_SCALE

__all__ = ["DISCRIMINATORS", "LIGHT_KIND", "LOSS_SETTINGS", "LPIPS_FORMS", "NotRunnable",
           "SWAP_MODELS", "SwapObjective", "TEMPERATURE_HEADS", "build_swap_model",
           "chance_losses", "describe_loss", "discriminator_mode", "hsv_envmap_loss",
           "resolve_temperature_head"]

LOSS_SETTINGS: dict[str, str] = {
    "A": "MSE + colour-temperature loss + cosine direction loss (predicter on I, T, G)",
    "B": "L1 + log-L2 RGB envmap losses on I and T",
    "C": "LPIPS + HSV envmap losses on I and T",
}
LIGHT_KIND = {"A": "channels", "B": "envmap_rgb", "C": "envmap_hsv"}
#: The swap models by registry name (built from here, so a row does not depend on the
#: registry's other entries).
SWAP_MODELS = {"swapnet_illum": "SwapNetIllum", "swapnet_envmap": "SwapNetEnvmap",
               "swapnet_envmap_scene": "SwapNetEnvmapScene"}


#: Values of ``run_any_to_any(discriminator=...)``.
DISCRIMINATORS: dict[str, str] = {
    "none": "no discriminator",
    "pix2pix": "PatchGAN trained alongside and the LSGAN term MSE(D(relit), 1) (weight 1) added "
               "to the generator loss: the pix2pix reading of the code's WithGAN configuration",
    "code": "PatchGAN trained alongside but no adversarial term in the generator loss, as the "
            "official train.py's WithGAN run (it builds that loss and never adds it)",
}
#: Values of ``temperature_head`` (model A's predicter, :class:`~relight_lib.library.models.
#: swapnet.IlluminationPredicter`); None picks ``"kelvin"`` at the report's budget and
#: ``"normalised"`` below it: from raw kelvin a freshly initialised MLP (outputs near 0 K) needs
#: far more than a few hundred Adam steps to reach VIDIT's 2500-6500 K, so L_c stays above
#: chance for a reason that has nothing to do with the light latent.
TEMPERATURE_HEADS: dict[str, str] = {
    "kelvin": "the predicter outputs the temperature in kelvin (the report and the code)",
    "normalised": f"the predicter outputs a normalised temperature z = (T - {T_MEAN:.0f} K) / "
                  f"{T_SCALE:.0f} K (mean and sd of VIDIT's five temperatures), read back in "
                  "kelvin",
}


def resolve_temperature_head(head: str | None, paper_budget: bool) -> str:
    """Model A's temperature head: ``head``, or by default ``"kelvin"`` at the report's budget
    and ``"normalised"`` at the short budgets.

    >>> resolve_temperature_head(None, True), resolve_temperature_head(None, False)
    ('kelvin', 'normalised')
    """
    if head is None:
        return "kelvin" if paper_budget else "normalised"
    if head not in TEMPERATURE_HEADS:
        raise ValueError(f"temperature_head must be one of {sorted(TEMPERATURE_HEADS)} or None, "
                         f"got {head!r}")
    return head


#: Values of ``lpips_form`` (model C's LPIPS reconstruction term).
LPIPS_FORMS: dict[str, str] = {
    "code": "LPIPS v0.1 (AlexNet) on the [0, 1] images fed without the [-1, 1] mapping, summed "
            "over the batch (the official code's lpips_pytorch call)",
    "mean": "LPIPS v0.1 (AlexNet) on images mapped to [-1, 1], mean over the batch",
}


def build_swap_model(name: str, **kwargs: Any) -> nn.Module:
    """A swap model by its registry name (``swapnet_illum``, ``swapnet_envmap``,
    ``swapnet_envmap_scene``); other names go to :func:`relight_lib.library.models.build_model`."""
    if name in SWAP_MODELS:
        from relight_lib.library.models import swapnet

        return getattr(swapnet, SWAP_MODELS[name])(**kwargs)
    from relight_lib.library.models import build_model

    return build_model(name, **kwargs)


class NotRunnable(RuntimeError):
    """A row cannot be run faithfully on this machine (the reason says why)."""


def hsv_envmap_loss(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Model C's envmap loss on (B, 514) vectors (hue, saturation, 512 brightness values, all on
    a 0-255 scale): cosine loss on the hue (a full turn = 255) + MSE on the saturation +
    log-L2 on the brightness values (papers.md 6.7)."""
    from relight_lib.library.losses import cosine_angle_loss, envmap_log_l2_loss

    hue = cosine_angle_loss(pred[:, 0], target[:, 0], period=255.0)
    sat = torch.mean((pred[:, 1] - target[:, 1]) ** 2)
    return hue + sat + envmap_log_l2_loss(pred[:, 2:], target[:, 2:])


def _temps(batch: Mapping[str, Any], key: str, device: torch.device) -> torch.Tensor:
    v = batch[key]
    v = v if isinstance(v, torch.Tensor) else torch.tensor(list(v))
    return v.to(device=device, dtype=torch.float32)


def _dirs(batch: Mapping[str, Any], key: str) -> list[str]:
    return list(batch[key])


class SwapObjective:
    """The generator loss of one loss setting; ``__call__(out, batch, predicter)`` returns the
    total and its named parts (floats, for the history).

    Args:
        setting: ``"A"``, ``"B"`` or ``"C"``.
        envmap_recipe: ground-truth envmaps of B and C (:data:`relight_lib.papers.swapnet.envmap.RECIPES`).
        lpips_device: where model C's LPIPS network lives.
        lpips_form: model C's LPIPS term (:data:`LPIPS_FORMS`).

    Raises:
        NotRunnable: setting C without the LPIPS weights.
    """

    def __init__(self, setting: str, envmap_recipe: str = "code",
                 lpips_device: str | torch.device = "cpu", lpips_form: str = "code") -> None:
        from relight_lib.papers.swapnet.envmap import RECIPES

        if setting not in LOSS_SETTINGS:
            raise ValueError(f"loss_setting must be one of {sorted(LOSS_SETTINGS)}, "
                             f"got {setting!r}")
        if envmap_recipe not in RECIPES:
            raise ValueError(f"envmap_recipe must be one of {RECIPES}, got {envmap_recipe!r}")
        if lpips_form not in LPIPS_FORMS:
            raise ValueError(f"lpips_form must be one of {sorted(LPIPS_FORMS)}, "
                             f"got {lpips_form!r}")
        self.setting, self.envmap_recipe, self.lpips_form = setting, envmap_recipe, lpips_form
        self.lpips: nn.Module | None = None
        self.weights: dict[str, Any] = {}
        if setting == "C":
            lp = metrics.lpips_metric(device=lpips_device)
            if not lp.available or lp.model is None:
                raise NotRunnable("loss setting C is defined by its LPIPS reconstruction "
                                  f"loss, which is unavailable: {lp.reason.splitlines()[0]}")
            self.lpips = lp.model
            if lp.weights is not None:
                self.weights["lpips"] = lp.weights.to_dict()

    def lpips_term(self, relit: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Model C's reconstruction term (:data:`LPIPS_FORMS`)."""
        if self.lpips is None:
            raise RuntimeError("the LPIPS term belongs to loss setting C")
        if self.lpips_form == "code":  # [0, 1] images as they are, summed over the batch
            return self.lpips(relit, target, normalize=False).flatten().sum()
        return self.lpips(relit, target, normalize=True).flatten().mean()

    def envmap_targets(self, batch: Mapping[str, Any], who: str, device) -> torch.Tensor:
        from relight_lib.papers.swapnet.envmap import envmap_batch

        mode = "rgb" if self.setting == "B" else "hsv"
        return envmap_batch(_temps(batch, f"{who}_temperature", device).long(),
                            _dirs(batch, f"{who}_direction"), recipe=self.envmap_recipe,
                            mode=mode, device=device)

    def predicter_losses(self, out, batch, predicter) -> tuple[torch.Tensor, torch.Tensor, dict]:
        """Mean L_c and L_d over the predictions on I, T (and G when encoded), plus the
        per-pair values of each (for evaluation)."""
        from relight_lib.library.losses import colour_temperature_loss, cosine_angle_loss

        dev = out["relit"].device
        truth = {"input": ("input_temperature", "input_angle"),
                 "guide": ("guide_temperature", "guide_angle"),
                 "target": ("guide_temperature", "guide_angle")}  # G has T's light
        lc, ld, per = [], [], {"lc": [], "ld": [], "temp_err": [], "dir_err": []}
        for who, (tk, ak) in truth.items():
            light = out.get(f"light_{who}")
            if light is None:
                continue
            pred = predicter(light).float()
            t, a = _temps(batch, tk, dev), _temps(batch, ak, dev)
            lc.append(colour_temperature_loss(pred[:, 0], t))
            ld.append(cosine_angle_loss(pred[:, 1], a))
            per["lc"].append(colour_temperature_loss(pred[:, 0], t, reduction="none"))
            per["ld"].append(cosine_angle_loss(pred[:, 1], a, reduction="none"))
            per["temp_err"].append((pred[:, 0] - t).abs())
            diff = torch.remainder(pred[:, 1] - a + 180.0, 360.0) - 180.0
            per["dir_err"].append(diff.abs())
        per = {k: torch.stack(v).mean(0) for k, v in per.items()}
        return torch.stack(lc).mean(), torch.stack(ld).mean(), per

    def __call__(self, out, batch, predicter=None) -> tuple[torch.Tensor, dict[str, float]]:
        from relight_lib.library.losses import envmap_log_l2_loss

        relit, target = out["relit"], batch["target"]
        parts: dict[str, torch.Tensor] = {}
        if self.setting == "A":
            parts["mse"] = torch.mean((relit.float() - target) ** 2)
            parts["colour_temperature"], parts["direction"], _ = self.predicter_losses(
                out, batch, predicter)
        elif self.setting == "B":
            parts["l1"] = torch.mean((relit.float() - target).abs())
            for who in ("input", "guide"):
                gt = self.envmap_targets(batch, who, relit.device)
                parts[f"envmap_{who}"] = envmap_log_l2_loss(out[f"light_{who}"].float(), gt)
        else:
            parts["lpips"] = self.lpips_term(relit.float(), target)
            for who in ("input", "guide"):
                gt = self.envmap_targets(batch, who, relit.device)
                parts[f"envmap_{who}"] = hsv_envmap_loss(out[f"light_{who}"].float(), gt)
        total = sum(parts.values())
        return total, {k: float(v.detach()) for k, v in parts.items()}

    def describe(self) -> list[str]:
        """The loss terms as ``"<weight> x <name>"`` strings (for plans)."""
        return describe_loss(self.setting, self.envmap_recipe, self.lpips_form)


def describe_loss(setting: str, envmap_recipe: str = "code", lpips_form: str = "code",
                  temperature_head: str = "kelvin") -> list[str]:
    """The generator loss terms of a loss setting as ``"<weight> x <name>"`` strings.

    >>> describe_loss("B")[0]
    '1.0 x l1'
    """
    if setting == "A":
        return ["1.0 x mse", "1.0 x colour_temperature (L_c = MSE / 2000^2 on kelvin, mean over "
                f"the predicter on I, T, G; {temperature_head} head: "
                f"{TEMPERATURE_HEADS[temperature_head]})", "1.0 x direction (L_d = 1 - cos, "
                "mean over the predicter on I, T, G)"]
    if setting == "B":
        return ["1.0 x l1", f"1.0 x envmap_log_l2 (RGB envmap of I, {envmap_recipe} recipe)",
                f"1.0 x envmap_log_l2 (RGB envmap of T, {envmap_recipe} recipe)"]
    if setting == "C":
        return [f"1.0 x lpips ({lpips_form}: {LPIPS_FORMS[lpips_form]})",
                f"1.0 x hsv_envmap (envmap of I, {envmap_recipe} recipe)",
                f"1.0 x hsv_envmap (envmap of T, {envmap_recipe} recipe)"]
    raise ValueError(f"loss_setting must be one of {sorted(LOSS_SETTINGS)}, got {setting!r}")


def chance_losses(prior: Sequence[Any], pairs: Sequence[Any]) -> dict[str, np.ndarray]:
    """Per-pair L_c and L_d of a predicter that knows nothing but the training prior.

    It answers, for every image, the mean colour temperature of the training images (the
    constant that minimises the squared error) and their circular-mean direction (the constant
    that minimises 1 - cos; with uniformly distributed directions every constant is as good,
    and 0 degrees is used). As model A's losses, each pair's value is the mean over I, T and G
    (G has T's light).

    Args:
        prior: the training images' :class:`~relight_lib.library.data.layout.Condition` (one per image).
        pairs: the evaluation :class:`~relight_lib.library.data.vidit.Pair` list.

    Returns:
        ``{"temperature": (N,), "direction": (N,)}`` in model A's loss units.

    Example:
        >>> from relight_lib.library.data.layout import ALL_CONDITIONS, Condition
        >>> from relight_lib.library.data.vidit import Pair
        >>> p = Pair("a", Condition(2500, "N"), "b", Condition(6500, "S"))
        >>> {k: v.round(3).tolist() for k, v in chance_losses(ALL_CONDITIONS, [p]).items()}
        {'temperature': [1.0], 'direction': [0.667]}
    """
    from relight_lib.library.losses import colour_temperature_loss, cosine_angle_loss

    temps = np.array([c.temperature for c in prior], dtype=float)
    angles = np.deg2rad([c.angle for c in prior])
    if not len(temps):
        raise ValueError("the training prior is empty")
    t0 = float(temps.mean())
    s, c = float(np.sin(angles).mean()), float(np.cos(angles).mean())
    d0 = 0.0 if math.hypot(s, c) < 1e-9 else math.degrees(math.atan2(s, c)) % 360.0
    who = [(p.input_condition, p.guide_condition, p.guide_condition) for p in pairs]
    t = torch.tensor([[x.temperature for x in w] for w in who], dtype=torch.float64)
    a = torch.tensor([[x.angle for x in w] for w in who], dtype=torch.float64)
    # reduction="none" averages each pair's row of three (I, T, G)
    lc = colour_temperature_loss(torch.full_like(t, t0), t, reduction="none")
    ld = cosine_angle_loss(torch.full_like(a, d0), a, reduction="none")
    return {"temperature": lc.numpy(), "direction": ld.numpy()}


def discriminator_mode(discriminator: bool | str | None) -> str:
    if discriminator in (None, False, "none"):
        return "none"
    if discriminator is True:
        return "pix2pix"
    if discriminator in DISCRIMINATORS:
        return str(discriminator)
    raise ValueError(f"discriminator must be False, True or one of {sorted(DISCRIMINATORS)}, "
                     f"got {discriminator!r}")
