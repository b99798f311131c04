"""One row of an any-to-any table (2DSceneRelighting): train, evaluate, write results.

The any-to-any analogue of :mod:`relight_lib.papers.onetoone`. A row names a swap model
(``swapnet_illum`` = model A, ``swapnet_envmap`` = B, ``swapnet_envmap_scene`` = C, or
``identity``, which returns the input unchanged and is not trained), its loss setting and
whether a PatchGAN discriminator is trained alongside; :func:`run_any_to_any` does the rest for
every seed of the profile, or only plans it (``dry_run=True``).

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

Budgets: the smoke, quick and gpu profiles train ``train_steps`` steps of ``batch_size`` pairs;
the paper profile trains the report's own (:data:`PAPER_BUDGET`: model A 60,000 iterations of
batch 8; models B and C 20 epochs of batch 25 over 400,000 sampled pairs) at the report's 256
px and evaluates 10,000 pairs per set. Table 1 reads model B at its epoch-8 and model C at its
epoch-6 checkpoint (``evaluate.py``); at every profile we read the same fraction of the budget
(8/20 and 6/20, :data:`READ_FRACTION`); training still runs to the end of the budget so that
the learning curve is complete. Validation PSNR and SSIM (fp32, eval mode; model A also its
L_c as ``val_lc``) on up to :data:`VAL_PAIRS` protocol pairs of the profile's ``val_split``
(validation; at the paper profile, where the tables are read on validation too, of the main
evaluation set), the profile's ``val_points`` times evenly over the training, go into
history.csv; run.json's ``extra["convergence"]`` is the plateau test
(:mod:`relight_lib.library.convergence`) of the weights the row scores (models B and C: the
read checkpoint), on PSNR and, for model A, L_c.

Data: at a profile that draws its SynVIDIT scenes per seed (quick, gpu) each seed reads its own
any-to-any set (:func:`relight_lib.papers.profiles.for_seed`), and the row is resolved and run
seed by seed.

Evaluation (papers.md 6.11): Table 1's pairs have a different scene and a different light
direction (``PROTOCOL_2DSCENE``), drawn from the profile's ``eval_split`` (test on SynVIDIT,
validation on real VIDIT) with a fixed seed (the same pairs for every row of a seed's data, so
differences are paired); PSNR, SSIM and DSSIM = (1 - SSIM)/2
(what the report's "SSIM" column very likely is), LPIPS (NaN with the reason when its weights are
missing), MSE, Score_l2 (:func:`relight_lib.library.metrics.score_l2`: mean MSE(I, G) / mean MSE(G_hat,
G), > 1 beats the identity, the report's way) and score_l2_pairmean (the mean of per-pair
ratios); for model A the predicter's losses and errors; latent distances. ``extra_tables=True``
also writes

* ``subsets/<variant>_{full,same_colour,same_direction}``: the report's evaluation sets of
  section 3.5 (:data:`EVAL_SUBSETS`, ``eval_subsets="report"``): Eval = every validation
  pair, Eval_{c_I = c_T} = same colour temperature, Eval_{d_I = d_T} = same direction, nothing
  else constrained; ``eval_subsets="protocol"`` gives the suite's earlier reading (the protocol
  set, protocol and same colour, different scene and same direction);
* ``predicter/{temperature,direction}`` (model A): the per-pair L_c and L_d as one metric
  ``light_loss``, and ``predicter/{temperature,direction}_chance``: the same losses for a
  predicter that knows nothing but the training prior (it always answers the mean training
  temperature and the circular-mean training direction), on the same pairs: the chance levels
  model A's predictions are claimed against.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import nn

from relight_lib.library import metrics, record, utils
from relight_lib.library.models.swapnet import TEMPERATURE_MEAN as T_MEAN
from relight_lib.library.models.swapnet import TEMPERATURE_SCALE as T_SCALE
from relight_lib.library.train import training_key
from relight_lib.papers import profiles

__all__ = ["DISCRIMINATORS", "EVAL_METRICS", "EVAL_SUBSETS", "LOSS_SETTINGS", "LPIPS_FORMS",
           "NotRunnable", "PAPER_BUDGET", "READ_FRACTION", "SwapObjective", "TEMPERATURE_HEADS",
           "chance_losses", "eval_rules", "hsv_envmap_loss", "resolve_temperature_head",
           "run_any_to_any"]

EVAL_METRICS = ("psnr", "ssim", "dssim", "lpips", "mse", "score_l2", "score_l2_pairmean")
SUBSET_METRICS = ("psnr", "ssim", "mse", "score_l2", "score_l2_pairmean")
CHECKPOINT_DIR = Path("_build/checkpoints")
LOSS_SETTINGS: dict[str, str] = {
    "A": "MSE + colour-temperature loss + cosine direction loss (predicter on I, T, G)",
    "B": "L1 + log-L2 RGB envmap losses on I and T",
    "C": "LPIPS + HSV envmap losses on I and T",
}
_LIGHT_KIND = {"A": "channels", "B": "envmap_rgb", "C": "envmap_hsv"}
#: The swap models by registry name (built from here, so a row does not depend on the
#: registry's other entries).
SWAP_MODELS = {"swapnet_illum": "SwapNetIllum", "swapnet_envmap": "SwapNetEnvmap",
               "swapnet_envmap_scene": "SwapNetEnvmapScene"}

#: The report's own training budgets (papers.md 6.12), used at the paper profile: model A
#: (``train.py``, config ``...IlluminationPerdicterNoGAN``) 60,000 iterations of batch 8 over
#: every pair, shuffled; models B and C (``trainWithGeneratedEnvmaps.py``) 20 epochs of batch 25
#: over 400,000 randomly drawn pairs (different scene, different direction).
PAPER_BUDGET: dict[str, dict[str, Any]] = {
    "A": {"batch_size": 8, "steps": 60_000, "epochs": None},
    "B": {"batch_size": 25, "epochs": 20, "n_train": 400_000},
    "C": {"batch_size": 25, "epochs": 20, "n_train": 400_000},
}
#: Which checkpoint Table 1 reads, as a fraction of the budget: model B's epoch 8 and model C's
#: epoch 6 of 20 (``evaluate.py``); model A its last.
READ_FRACTION: dict[str, tuple[int, int]] = {"B": (8, 20), "C": (6, 20)}
#: The report's image size (``Resize(256)``) and evaluation set size (Table 1).
PAPER_SIZE = 256
PAPER_EVAL_PAIRS = 10_000
#: Evaluation pairs per set below the paper profile (capped by the profile's ``eval_limit``).
DEFAULT_EVAL_PAIRS = 100
#: Validation during training (the learning curve and the plateau test of
#: :mod:`relight_lib.library.convergence`) scores at most this many pairs of the main evaluation
#: set, spread evenly over it: a point costs a forward pass per pair (``val_points`` of them a
#: run), which on 2 CPU cores must stay a small share of the training whatever the set's size
#: (10,000 pairs at the paper profile). The pairs are fixed, so the curve moves with the weights
#: only.
VAL_PAIRS = 200
#: What validation measures (fp32, the relit image against the ground truth).
VAL_METRICS = ("psnr", "ssim")

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
#: Values of ``eval_subsets``: how the ``subsets`` table's three sets are defined.
EVAL_SUBSETS: dict[str, str] = {
    "report": "the report's section 3.5: Eval = every validation pair, Eval_{c_I=c_T} = same "
              "colour temperature, Eval_{d_I=d_T} = same direction (nothing else constrained)",
    "protocol": "the suite's earlier reading: Table 1's protocol set (different scene and "
                "direction), protocol and same colour, different scene and same direction",
}


def eval_rules(eval_subsets: str = "report") -> dict[str, tuple[Any, str]]:
    """The pair rules of the ``subsets`` table's sets (``full``, ``same_colour``,
    ``same_direction``) with a one-line definition each.

    >>> {k: str(r) for k, (r, _) in eval_rules("report").items()}
    {'full': 'any_pair', 'same_colour': 'same_colour', 'same_direction': 'same_direction'}
    """
    from relight_lib.library.data import vidit

    if eval_subsets == "report":
        return {
            "full": (vidit.any_pair, "Eval: every validation pair (I, T), same scene and "
                                     "identical lighting included (report section 3.5)"),
            "same_colour": (vidit.same_colour, "Eval_{c_I=c_T}: I and T have the same colour "
                                               "temperature, nothing else constrained"),
            "same_direction": (vidit.same_direction, "Eval_{d_I=d_T}: I and T have the same "
                                                     "light direction, nothing else constrained"),
        }
    if eval_subsets == "protocol":
        return {
            "full": (vidit.PROTOCOL_2DSCENE, "different scene and different direction "
                                             "(Table 1's protocol)"),
            "same_colour": (vidit.PROTOCOL_2DSCENE & vidit.same_colour,
                            "different scene, different direction, same colour temperature"),
            "same_direction": (vidit.different_scene & vidit.same_direction,
                               "different scene, same direction"),
        }
    raise ValueError(f"eval_subsets must be one of {sorted(EVAL_SUBSETS)}, got {eval_subsets!r}")


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


class _Optimisers:
    """Generator and discriminator optimisers as one object for save_checkpoint."""

    def __init__(self, g: torch.optim.Optimizer, d: torch.optim.Optimizer | None) -> None:
        self.g, self.d = g, d

    def state_dict(self) -> dict[str, Any]:
        return {"g": self.g.state_dict(), "d": self.d.state_dict() if self.d else None}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.g.load_state_dict(state["g"])
        if self.d is not None and state.get("d") is not None:
            self.d.load_state_dict(state["d"])


# ---------------------------------------------------------------------------------------------
# resolving a row: data, budget, evaluation sets


def _eval_rule(index, rule, name: str, devs: list[str]):
    """The evaluation rule, without ``different_scene`` when the split has a single scene
    (the smoke data's validation split): recorded as a deviation."""
    from relight_lib.library.data import vidit

    def leaves(r):
        return [x for p in r.parts for x in leaves(p)] if r.op == "and" else [r]

    if len(index.scenes) >= 2 or vidit.different_scene not in leaves(rule):
        return rule
    kept = [r for r in leaves(rule) if r is not vidit.different_scene]
    devs.append(f"evaluation set {name!r}: the split has one scene, so pairs share the scene "
                "(different_scene dropped from the rule)")
    return vidit.all_of(*kept) if kept else vidit.any_pair


#: Enumerate a pair set below this many candidate pairs; sample lazily above.
_ENUMERATE_BELOW = 200_000


class _PlannedPairs:
    """The pairs of a set whose images are not on disk yet (a plan of an unrendered SynVIDIT
    preset): what a dataset would hold, without its files."""

    def __init__(self, pairs, rule=None) -> None:
        self.pairs, self.rule = list(pairs), rule

    def __len__(self) -> int:
        return len(self.pairs)


def _enumerate(index, rule):
    """Every pair of a small set (None when there are too many candidates to list)."""
    from relight_lib.library.data.vidit import all_pairs

    try:
        return all_pairs(index, rule, max_candidates=_ENUMERATE_BELOW)
    except ValueError:
        return None


def _train_set(root, index, rule, size, n, seed, devs, planned=False):
    """``n`` training pairs following ``rule``, drawn with ``seed`` (all of them, with a
    deviation, when fewer exist). ``planned``: the pairs only (the images are not on disk)."""
    from relight_lib.library.data.vidit import AnyToAnyDataset, sample_pairs

    pairs = _enumerate(index, rule)
    if pairs is not None and len(pairs) < n:
        if not pairs:
            raise ValueError(f"no training pair satisfies {rule} in {index.folder}")
        devs.append(f"Training pairs: only {len(pairs):,} pairs satisfy {rule} in the training "
                    f"split (the budget asks for {n:,}): all of them are used, in epochs.")
        return _PlannedPairs(pairs) if planned else AnyToAnyDataset(root, "train", pairs,
                                                                    size=size)
    if planned:
        return _PlannedPairs(sample_pairs(index, n, seed, rule), rule)
    return AnyToAnyDataset(root, "train", rule, size=size, n_pairs=n, seed=seed)


def _eval_set(root, split, index, size, rule, n, name, devs, planned=False):
    """An evaluation set drawn with seed 0, so that every row and seed sees the same pairs.
    ``planned``: the pairs only (the images are not on disk)."""
    from relight_lib.library.data.vidit import AnyToAnyDataset, sample_pairs

    rule = _eval_rule(index, rule, name, devs)
    pairs = _enumerate(index, rule)
    if pairs is None:  # too many to enumerate: draw lazily
        if planned:
            return _PlannedPairs(sample_pairs(index, n, 0, rule), rule)
        return AnyToAnyDataset(root, split, rule, size=size, n_pairs=n, seed=0)
    if len(pairs) > n:
        rng = np.random.default_rng(0)
        pairs = [pairs[i] for i in sorted(rng.choice(len(pairs), n, replace=False))]
    elif len(pairs) < n:
        devs.append(f"evaluation set {name!r}: only {len(pairs)} pairs satisfy {rule} in the "
                    f"{split} split (asked for {n}): all of them are used")
    if not pairs:
        raise ValueError(f"evaluation set {name!r}: no pair satisfies {rule} in {index.folder}")
    return _PlannedPairs(pairs) if planned else AnyToAnyDataset(root, split, pairs, size=size)


@dataclasses.dataclass
class _Budget:
    """The training budget of one row (steps of ``batch_size`` pairs)."""

    steps: int
    batch_size: int
    n_wanted: int            # training pairs to draw
    epochs: float | None     # where the report counts epochs (B, C)
    read_step: int | None    # the checkpoint Table 1 reads (None: the last)
    paper: bool              # the report's own budget


def _budget(cfg, setting: str, steps: int | None) -> _Budget:
    """Steps, batch and training pairs of a loss setting at a profile; the number of epochs is
    fixed once the training pairs are known (:func:`_finish_budget`)."""
    paper = cfg.name == "paper" or cfg.train_steps is None
    if paper:
        pb = PAPER_BUDGET[setting]
        batch = pb["batch_size"]
        if setting == "A":
            n_steps = int(steps or pb["steps"])
            n_wanted = n_steps * batch
        else:
            n_steps = int(steps) if steps else 0  # 0: from the epochs, once the pairs are known
            n_wanted = pb["n_train"]
        return _Budget(n_steps, batch, n_wanted, None, None, steps is None)
    n_steps, batch = int(cfg.train_steps), int(cfg.batch_size)
    return _Budget(n_steps, batch, n_steps * batch, None, None, False)


def _finish_budget(b: _Budget, setting: str, n_train: int, read_at: float | None) -> _Budget:
    from relight_lib.library.train import steps_per_epoch

    spe = steps_per_epoch(n_train, b.batch_size)
    if b.steps == 0:  # the report's epochs
        b.steps = PAPER_BUDGET[setting]["epochs"] * spe
    if setting in READ_FRACTION:
        b.epochs = b.steps / spe
    if read_at is None and setting in READ_FRACTION:
        num, den = READ_FRACTION[setting]
        read_at = num / den
    if read_at is not None:
        if not 0 < read_at <= 1:
            raise ValueError(f"read_at must be in (0, 1], got {read_at}")
        if read_at < 1:
            b.read_step = min(b.steps, max(1, round(b.steps * read_at)))
    return b


def _val_every(cfg, b: _Budget | None) -> int:
    """Steps between validation points: the profile's ``val_points`` spread over the training
    (at least 1); 0 when ``val_points`` is 0 or the row does not train."""
    if b is None or not cfg.val_points:
        return 0
    return max(1, round(b.steps / cfg.val_points))


def _val_set(eval_set, n: int):
    """At most ``n`` pairs of ``eval_set`` (the run asks :data:`VAL_PAIRS`), evenly spaced: an
    enumerated set is ordered input scene by input scene, so its first ``n`` pairs would cover
    few scenes. Deterministic, so every seed and row that shares the set validates on the same
    pairs."""
    if len(eval_set) <= n:
        return eval_set
    idx = np.linspace(0, len(eval_set) - 1, n).round().astype(int).tolist()
    return torch.utils.data.Subset(eval_set, idx)


def _train_config(b: _Budget, lr: float):
    """The learning-rate schedule of a row as a :class:`~relight_lib.library.train.TrainConfig`
    (only its schedule fields matter): the code's constant Adam rate at the paper budget; below
    it the short profiles' warm-up and cosine decay to 1 % of ``lr`` (as the one-to-one rows'
    :func:`relight_lib.papers.profiles.short_budget`): at a few hundred steps a constant rate
    ends while the weights still jump around the minimum."""
    from relight_lib.library.train import TrainConfig

    if b.paper:
        return TrainConfig(steps=b.steps, batch_size=b.batch_size, lr=lr, schedule="constant")
    return TrainConfig(steps=b.steps, batch_size=b.batch_size, lr=lr, final_lr=lr / 100,
                       schedule="warmup_cosine", warmup=0.05)


def _index(root, split):
    from relight_lib.library.data.vidit import SceneIndex, find_any2any_dir

    return SceneIndex.from_folder(find_any2any_dir(root, split))


def _planned_index(cfg, split: str):
    """The scene index a SynVIDIT preset folder will have once rendered, from the preset's
    parameters (plans do not render); None for real VIDIT or a folder that already exists."""
    from relight_lib.library.data import layout
    from relight_lib.library.data.vidit import SceneIndex, canonical_split

    if cfg.render_preset is None or Path(cfg.any2any_root).exists():
        return None
    rc = profiles.preset_config(cfg, cfg.any2any_root)
    if rc is None:
        return None
    ids = rc.splits()[canonical_split(split)]
    return SceneIndex.from_dict({layout.scene_name(i): rc.conditions for i in ids})


@dataclasses.dataclass
class _Row:
    """Everything a row resolves to before training (shared by the run and the plan)."""

    cfg: Any
    identity: bool
    size: int
    budget: _Budget | None
    discriminator: str
    amp: bool
    n_eval: int
    eval_sets: dict[str, Any]
    eval_defs: dict[str, str]
    eval_index: Any
    planned: bool
    train_index: Any
    train_rule: Any
    train_sets: dict[int, Any]
    parameters: dict[str, int]
    deviations: list[str]
    notes: list[str]
    lpips_reason: str | None
    temperature_head: str | None = None  # model A's predicter (None: no predicter)
    amp_requested: bool = False  # the profile's or row's amp, before the native-bf16 check
    #: pairs of the validation split (learning curves, plateau test); None: the tables' split
    val_pairs: Any = None
    #: per seed, the data the row reads (profiles.seed_data_plan)
    data_plan: list = dataclasses.field(default_factory=list)


def _discriminator_mode(discriminator: bool | str | None) -> str:
    if discriminator in (None, False, "none"):
        return "none"
    if discriminator is True:
        return "pix2pix"
    if discriminator in DISCRIMINATORS:
        return str(discriminator)
    raise ValueError(f"discriminator must be False, True or one of {sorted(DISCRIMINATORS)}, "
                     f"got {discriminator!r}")


def _count_parameters(model: str, model_kwargs: Mapping[str, Any], setting: str | None,
                      disc: str, size: int) -> tuple[dict[str, int], str | None]:
    """Parameter counts (built on the meta device: nothing is allocated) and the light kind."""
    from relight_lib.library.models import count_parameters
    from relight_lib.library.models.patchgan import PatchGAN

    with torch.device("meta"):
        net = build_swap_model(model, **dict(model_kwargs))
        counts = {"model": count_parameters(net)}
        if setting == "A" and hasattr(net, "make_predicter"):
            counts["predicter"] = count_parameters(net.make_predicter(size))
        if disc != "none":
            counts["discriminator"] = count_parameters(PatchGAN())
    return counts, getattr(net, "light_kind", None)


def _resolve(*, profile, data_root, seeds, steps, model, model_kwargs, loss_setting,
             discriminator, envmap_recipe, lpips_form, train_pairs, n_eval_pairs, eval_subsets,
             read_at, amp, extra_tables, lr, table, deviations, plan_only,
             temperature_head=None) -> _Row:
    from relight_lib.library.data import vidit
    from relight_lib.papers.swapnet.envmap import RECIPES

    cfg = profiles.resolve(profile, data_root=data_root, seeds=seeds, train_steps=steps)
    data_plan = profiles.seed_data_plan(cfg, "any2any")
    if cfg.scene_seed == "per_seed":  # one seed's scenes (run_any_to_any runs seed by seed)
        cfg = profiles.for_seed(cfg, cfg.seeds[0])
    identity = model == "identity"
    disc = _discriminator_mode(discriminator)
    if envmap_recipe not in RECIPES:
        raise ValueError(f"envmap_recipe must be one of {RECIPES}, got {envmap_recipe!r}")
    if lpips_form not in LPIPS_FORMS:
        raise ValueError(f"lpips_form must be one of {sorted(LPIPS_FORMS)}, got {lpips_form!r}")
    if eval_subsets not in EVAL_SUBSETS:
        raise ValueError(f"eval_subsets must be one of {sorted(EVAL_SUBSETS)}, "
                         f"got {eval_subsets!r}")
    if train_pairs not in (None, "all", "protocol"):
        raise ValueError(f"train_pairs must be 'all', 'protocol' or None, got {train_pairs!r}")
    paper = cfg.name == "paper" or cfg.train_steps is None
    size = PAPER_SIZE if paper else int(cfg.size)
    devs: list[str] = list(deviations)
    notes: list[str] = []
    parameters: dict[str, int] = {}
    if identity:
        if disc != "none":
            raise ValueError("the identity row has no generator to train against a "
                             "discriminator")
    else:
        if loss_setting not in LOSS_SETTINGS:
            raise ValueError(f"loss_setting must be one of {sorted(LOSS_SETTINGS)}, "
                             f"got {loss_setting!r}")
        parameters, kind = _count_parameters(model, dict(model_kwargs or {}), loss_setting,
                                             disc, size)
        if kind != _LIGHT_KIND[loss_setting]:
            raise ValueError(f"loss setting {loss_setting} needs a {_LIGHT_KIND[loss_setting]} "
                             f"light latent; {model} has {kind}")
    amp_on = bool(cfg.amp) if amp is None else bool(amp)
    if amp is None and paper:
        amp_on = False  # the report trained in fp32
    # bf16 only where it runs natively (CUDA, or a CPU with AVX-512 BF16 / AMX)
    amp_requested = amp_on
    amp_on = amp_on and utils.bf16_native(utils.pick_device(cfg.device))

    # evaluation sets (the same pairs for every seed and row)
    if n_eval_pairs is None:
        n_eval = PAPER_EVAL_PAIRS if paper else DEFAULT_EVAL_PAIRS
    else:
        n_eval = int(n_eval_pairs)
    if n_eval < 1:
        raise ValueError(f"n_eval_pairs must be >= 1, got {n_eval}")
    if cfg.eval_limit is not None:
        n_eval = min(n_eval, cfg.eval_limit)
    root = cfg.any2any_root
    eval_index = _planned_index(cfg, cfg.eval_split) if plan_only else None
    planned = eval_index is not None
    if eval_index is None:
        eval_index = _index(root, cfg.eval_split)
    eval_sets = {table: _eval_set(root, cfg.eval_split, eval_index, size, vidit.PROTOCOL_2DSCENE,
                                  n_eval, table, devs, planned)}
    eval_defs = {table: "Table 1's protocol: different scene and different light direction "
                        "(evaluate.py: DifferentScene + DifferentLightDirection), drawn once "
                        "with seed 0"}
    if extra_tables:
        for name, (rule, definition) in eval_rules(eval_subsets).items():
            eval_sets[f"subsets/{name}"] = _eval_set(root, cfg.eval_split, eval_index, size, rule,
                                                     n_eval, name, devs, planned)
            eval_defs[f"subsets/{name}"] = definition
    # the learning curves read the validation split (protocol pairs, drawn with seed 0); the
    # tables the evaluation split
    val_pairs = None
    if cfg.val_split != cfg.eval_split and not identity:
        val_index = _planned_index(cfg, cfg.val_split) if planned else _index(root, cfg.val_split)
        val_pairs = _eval_set(root, cfg.val_split, val_index, size, vidit.PROTOCOL_2DSCENE,
                              VAL_PAIRS, cfg.val_split, [], planned)

    # training pairs and budget
    budget = None
    train_index = train_rule = None
    train_sets: dict[int, Any] = {}
    if not identity:
        default_pairs = "all" if loss_setting == "A" else "protocol"
        train_pairs = train_pairs or default_pairs
        train_rule = vidit.any_pair if train_pairs == "all" else vidit.PROTOCOL_2DSCENE
        budget = _budget(cfg, loss_setting, steps)
        train_index = _planned_index(cfg, "train") if planned else _index(root, "train")
        train_devs: list[str] = []
        for seed in (cfg.seeds[:1] if plan_only else cfg.seeds):
            train_sets[seed] = _train_set(root, train_index, train_rule, size,
                                          budget.n_wanted, seed, train_devs, planned)
        devs += list(dict.fromkeys(train_devs))
        budget = _finish_budget(budget, loss_setting, len(next(iter(train_sets.values()))),
                                read_at)
        if train_pairs != default_pairs:
            devs.append(f"Training pairs: {train_pairs!r} instead of the code's "
                        f"{default_pairs!r} for loss setting {loss_setting}.")

    # what is missing on this machine (a plan only looks on disk: it never downloads)
    lpips_reason = _lpips_missing(look_only=plan_only)
    row = _Row(cfg, identity, size, budget, disc, amp_on, n_eval, eval_sets, eval_defs,
               eval_index, planned, train_index, train_rule, train_sets, parameters, devs, notes,
               lpips_reason, amp_requested=amp_requested, val_pairs=val_pairs,
               data_plan=data_plan)
    if loss_setting == "A" and budget is not None:
        row.temperature_head = resolve_temperature_head(temperature_head, budget.paper)
    elif temperature_head is not None:
        resolve_temperature_head(temperature_head, False)  # still reject a typo
    row.deviations += _deviations(row, model=model, setting=loss_setting,
                                  envmap_recipe=envmap_recipe, lpips_form=lpips_form,
                                  eval_subsets=eval_subsets, extra_tables=extra_tables,
                                  train_pairs=train_pairs, read_at=read_at)
    row.notes += _notes(row, setting=loss_setting, lr=lr, table=table)
    return row


def _lpips_missing(look_only: bool) -> str | None:
    """Why LPIPS (metric and model C's loss) is unavailable here, on one line; None if it is
    available. ``look_only``: search the disk only (no download attempt, nothing loaded)."""
    from relight_lib.library import weights

    if look_only:
        if weights.find_weights("alexnet") is not None:
            return None
        dirs = ", ".join(str(d) for d in weights.search_dirs())
        files = " or ".join(weights.REGISTRY["alexnet"].files)
        return (f"no {files} in {dirs} (an online machine would try torchvision's download "
                "at run time)")
    lp = metrics.lpips_metric(device="cpu")
    return None if lp.available else " ".join(lp.reason.split())


def _report_read_step(b: _Budget, setting: str) -> int | None:
    if setting not in READ_FRACTION:
        return None
    num, den = READ_FRACTION[setting]
    return min(b.steps, max(1, round(b.steps * num / den)))


def _deviations(row: _Row, *, model, setting, envmap_recipe, lpips_form, eval_subsets,
                extra_tables, train_pairs, read_at) -> list[str]:
    """The row's departures from the report and its code (run.json and the chapter list them)."""
    cfg, b = row.cfg, row.budget
    out: list[str] = []
    ti, ei = row.train_index, row.eval_index
    scenes = (f"{len(ti.scenes)} training scenes ({ti.n_images} images), " if ti is not None
              else "") + f"{len(ei.scenes)} {cfg.eval_split} scenes ({ei.n_images} images)"
    if cfg.render_preset:
        drawn = ("drawn per seed" if cfg.scene_seed == "per_seed"
                 else "one draw shared by every seed")
        out.append(f"Data: SynVIDIT (the suite's rendered stand-in for VIDIT, preset "
                   f"{cfg.render_preset!r}, {drawn}: {scenes}), not the report's pre-release "
                   "VIDIT (12,120 training images in 9 locations, 1,880 validation images in 3).")
    else:
        out.append(f"Data: the VIDIT folder given ({scenes}), not the report's pre-release "
                   "version (12,120 training images in 9 locations, 1,880 validation images "
                   "in 3 locations; papers.md 6.10).")
    if row.size != PAPER_SIZE:
        lat = row.size // 16
        what = {"A": f"the predicter reads {3 * lat * lat} values instead of 768",
                "B": "the weighted pooling sums over fewer positions",
                "C": "the weighted pooling sums over fewer positions"}
        out.append(f"Images at {row.size} px instead of the report's {PAPER_SIZE}" + (
            "." if row.identity else f": the latent is {lat} x {lat} instead of 16 x 16, so "
                                     f"{what[setting]}."))
    if b is not None:
        if setting == "A":
            report = "60,000 iterations of batch 8 over every pair, shuffled"
        else:
            report = ("20 epochs of batch 25 over 400,000 randomly drawn pairs (16,000 steps an "
                      f"epoch), Table 1 reading epoch {READ_FRACTION[setting][0]}")
        if not b.paper:
            if b.read_step and setting in READ_FRACTION:
                read = (f"; Table 1 reads the checkpoint of step {b.read_step}, the same "
                        f"fraction ({READ_FRACTION[setting][0]}/20) of this budget")
            elif b.read_step:
                read = f"; the checkpoint of step {b.read_step} is evaluated (read_at)"
            else:
                read = ""
            seen = b.steps * b.batch_size / max(1, _n_train(row))
            out.append(f"Training budget: {b.steps} steps of batch {b.batch_size} (each pair "
                       f"seen about {seen:.2g} time{'' if round(seen, 1) == 1 else 's'}) "
                       f"instead of the report's {report}{read}.")
            tc = _train_config(b, 1.0)
            out.append(f"Profile {cfg.name}: Adam warmed up over the first {tc.warmup:.0%} of "
                       f"the steps to the row's rate, then a {tc.schedule.split('_')[-1]} decay "
                       f"to {tc.final_lr / tc.lr:.0%} of it (the code: a constant rate): at a "
                       "few hundred steps a constant rate stops before a plateau.")
        elif read_at is not None and b.read_step != _report_read_step(b, setting):
            out.append(f"Evaluated checkpoint: step {b.read_step or b.steps} (read_at={read_at}) "
                       "instead of the report's " + (f"epoch {READ_FRACTION[setting][0]} of 20"
                                                     if setting in READ_FRACTION else "last")
                       + ".")
        if setting in ("B", "C") and _n_train(row) >= b.n_wanted:
            out.append(f"Training pairs: {_n_train(row):,} distinct pairs drawn once per seed; "
                       "the code draws 400,000 random indices and keeps the distinct ones "
                       "(slightly fewer).")
    if row.temperature_head == "normalised":
        out.append("Model A's predicter outputs a normalised temperature (temperature_head="
                   f"'normalised': z = (T - {T_MEAN:.0f} K) / {T_SCALE:.0f} K over VIDIT's five "
                   "temperatures, read back in kelvin, so L_c = MSE / 2000^2 on kelvin is "
                   "unchanged) instead of the code's raw kelvin: a raw-kelvin head starts near "
                   "0 K, and a short budget can end before it reaches VIDIT's 2500-6500 K.")
    if row.n_eval < PAPER_EVAL_PAIRS:
        out.append(f"Evaluation on up to {row.n_eval} pairs per set instead of the report's "
                   f"{PAPER_EVAL_PAIRS:,}.")
    if row.amp:
        out.append("Training under bf16 autocast (the profile's amp, where it runs natively); "
                   "the report trained in fp32.")
    if setting in ("B", "C"):
        if envmap_recipe == "code":
            out.append("Ground-truth envmaps: the official code's HSV recipe (exp(-d / (2 "
                       "sigma^2)) of the unsquared distance, sigma 1.6), not the report's "
                       "description (a Gaussian, sigma = 10% of the height, in HSL): our HSL "
                       "reading gives saturation 255 at every temperature, so model C's "
                       "saturation target would carry no information (envmap_recipe='report' "
                       "is that reading).")
        else:
            out.append("Ground-truth envmaps: our HSL reading of the report's section 3.4 "
                       "(envmap_recipe='report'), not the code's HSV recipe; its saturation is "
                       "255 at every temperature.")
    if setting == "B" and envmap_recipe == "code":
        out.append("Model B's RGB envmaps convert HSV to RGB as intended; the code passed a hue "
                   "in [0, 1] to kornia <= 0.4's hsv_to_rgb, which reads radians, so its hues "
                   "collapse towards red (envmap.envmap(..., hue_quirk=True) reproduces it).")
    if setting == "C":
        if lpips_form == "code":
            out.append("Model C's LPIPS reconstruction term follows the code (the report gives "
                       "no formula): AlexNet LPIPS v0.1 on [0, 1] images fed without the "
                       "[-1, 1] mapping, summed over the batch (x25 at batch 25); "
                       "lpips_form='mean' is the batch mean on [-1, 1] inputs.")
        else:
            out.append("Model C's LPIPS reconstruction term is the batch mean on images mapped "
                       "to [-1, 1] (lpips_form='mean'); the code sums over the batch on [0, 1] "
                       "images fed unmapped (x25 at batch 25).")
    if row.discriminator == "pix2pix":
        out.append("With the PatchGAN the generator loss includes the LSGAN term MSE(D(relit), "
                   "1) with weight 1, the pix2pix reading of the 'WithGAN' configuration; the "
                   "official train.py builds that loss but never adds it "
                   "(discriminator='code' is the code's version).")
    elif row.discriminator == "code":
        out.append("Discriminator as in the code's 'WithGAN' run: the PatchGAN is trained but "
                   "the generator loss has no adversarial term, so the discriminator cannot "
                   "act on the generator (only the second generator pass of each step, which "
                   "updates BatchNorm statistics, differs from training without it).")
    if extra_tables and eval_subsets == "protocol":
        out.append("Evaluation subsets: the suite's protocol reading (" + EVAL_SUBSETS["protocol"]
                   + "), not the report's section 3.5 definitions (eval_subsets='report').")
    out.append("LPIPS metric: images mapped to [-1, 1] (the standard use); the report's Table 1 "
               "fed [0, 1] images unmapped, so its LPIPS column is on another scale.")
    out.append("SSIM: the standard SSIM (Gaussian window 11, sigma 1.5); the report's 'SSIM' "
               "column is very likely kornia <= 0.4's DSSIM = mean(clamp(1 - SSIM map, 0, 1) / "
               "2), compared here with our DSSIM = (1 - SSIM) / 2 (no per-pixel clamp).")
    out.append("Score_l2 in the code's orientation, MSE(I, G) / MSE(relit, G) (> 1 beats the "
               "identity; the report's formula prints the reciprocal), as the ratio of the "
               "mean MSEs over the whole evaluation set; the report's logs average that ratio "
               "over 5 batches of 8 pairs. score_l2_pairmean is the mean of per-pair ratios.")
    if row.lpips_reason is not None:
        what = ("the row is written as not run here (model C is defined by its LPIPS loss)"
                if setting == "C" else "the LPIPS column is n/a")
        out.append(f"ImageNet AlexNet weights for LPIPS not found: {what}.")
    return out


def _n_train(row: _Row) -> int:
    return len(next(iter(row.train_sets.values()))) if row.train_sets else 0


def _notes(row: _Row, *, setting, lr, table) -> list[str]:
    """What would happen at run time on this machine (for plans)."""
    cfg, b = row.cfg, row.budget
    out = []
    if row.planned:
        out.append(f"the SynVIDIT preset {cfg.render_preset!r} is not rendered yet "
                   f"({cfg.any2any_root}): planned from its parameters (scenes, conditions); "
                   "the run renders it first")
    if cfg.name == "paper" and cfg.size != row.size:
        out.append(f"the paper profile's {cfg.size} px is replaced by the report's {row.size} px "
                   "(Resize(256)) for training and evaluation")
    if row.lpips_reason is not None:
        out.append(f"LPIPS weights missing ({row.lpips_reason}): "
                   + ("the row would be written as not run here"
                      if setting == "C" else "the lpips metric would be written as n/a"))
    if cfg.device == "cuda" and not torch.cuda.is_available():
        out.append("the profile asks for CUDA, which is not available here: the row would run "
                   "on the CPU" + (" (in bf16: this CPU runs it natively)" if row.amp
                                   else ""))
    if cfg.channels_last or cfg.compile:
        out.append("the profile's channels_last / torch.compile settings are not used by "
                   "any-to-any rows")
    if b is not None:
        if b.read_step is not None:
            out.append(f"training runs all {b.steps:,} steps (the learning curve); the "
                       f"evaluated weights are those of step {b.read_step:,}")
        out.append("training pairs are drawn per seed (seed-dependent sample); the plan shows "
                   f"seed {cfg.seeds[0]}'s")
        val_every = _val_every(cfg, b)
        if val_every:
            src = row.eval_sets[table] if row.val_pairs is None else row.val_pairs
            n_val = min(VAL_PAIRS, len(src))
            where = (f"of the {table} pairs" if row.val_pairs is None else
                     f"protocol pairs of the {cfg.val_split} split")
            out.append(f"validation (PSNR, SSIM in fp32) every {val_every:,} steps and at the "
                       f"last on {n_val} {where}: the learning curve and the plateau test")
        if row.discriminator != "none":
            out.append("the PatchGAN is updated after each generator step on a second "
                       "generator pass (as the code), one extra forward pass per step")
    return out


# ---------------------------------------------------------------------------------------------
# plan


def _plan(row: _Row, *, label, model, model_kwargs, setting, lr, envmap_recipe, lpips_form,
          table) -> dict[str, Any]:
    from relight_lib.library.train import lr_schedule_points

    b = row.budget
    if b is None:
        steps = batch = n_train = 0
        schedule: list[list[float]] = []
        optimizer = "none (not trained)"
        loss: list[str] = []
    else:
        steps, batch, n_train = b.steps, b.batch_size, _n_train(row)
        tc = _train_config(b, lr)
        schedule = [[int(s), float(v)] for s, v in lr_schedule_points(tc, steps)]
        optimizer = f"Adam(lr={lr}, betas=(0.9, 0.999))"
        if setting == "A":
            optimizer += " over the generator and the predicter"
        loss = describe_loss(setting, envmap_recipe, lpips_form,
                             row.temperature_head or "kelvin")
        if row.discriminator == "pix2pix":
            loss.append("1.0 x lsgan_generator (MSE(D(relit), 1), pix2pix reading)")
        if row.discriminator != "none":
            optimizer += f"; PatchGAN: Adam(lr={lr}, betas=(0.9, 0.999))"
            loss.append("discriminator: 1.0 x lsgan_discriminator (MSE(D(G), 1) + "
                        "MSE(D(relit), 0))" + ("; no adversarial term in the generator loss "
                                               "(the code's WithGAN)"
                                               if row.discriminator == "code" else ""))
    return {
        "row": label,
        "model": model,
        "model_kwargs": dict(model_kwargs or {}),
        "parameters": int(row.parameters.get("model", 0)),
        "image_size": int(row.size),
        "train_size": int(row.size),
        "batch_size": int(batch),
        "steps": int(steps),
        "epochs": None if b is None or b.epochs is None else float(b.epochs),
        "n_train": int(n_train),
        "precision": "bf16" if row.amp else "fp32",
        "optimizer": optimizer,
        "lr_schedule": schedule,
        "loss": loss,
        "eval": [{"name": name, "split": row.cfg.eval_split, "n": len(ds),
                  "definition": row.eval_defs[name]} for name, ds in row.eval_sets.items()],
        "validation": None if b is None else {
            "split": row.cfg.val_split if row.val_pairs is not None else row.cfg.eval_split,
            "n": min(VAL_PAIRS, len(row.val_pairs if row.val_pairs is not None
                                    else row.eval_sets[table]))},
        "data": list(row.data_plan),
        "postprocess": None,
        "snapshots": [int(b.read_step)] if b is not None and b.read_step is not None else None,
        "deviations": list(row.deviations),
        "notes": list(row.notes) + [f"{k} parameters: {v:,}" for k, v in row.parameters.items()
                                    if k != "model"],
    }


# ---------------------------------------------------------------------------------------------
# training and evaluation


def _not_run_rows(metric_names: Sequence[str], reason: str, dataset):
    """NaN for every pair and metric, with the reason: claims on this row then say why they
    cannot be tested (rather than "no results")."""
    keys = [p.key for p in dataset.pairs]
    rows = pd.DataFrame([(k, m, float("nan")) for k in keys for m in metric_names],
                        columns=["image", "metric", "value"])
    return rows, {m: reason for m in metric_names}


def _evaluate(net, predicter, objective, dataset, device, want_metrics, progress,
              diagnostics: bool = True):
    """metrics.evaluate plus the swap-specific per-pair diagnostics; ``diagnostics=False``
    scores the relit image only (validation during training: G is not encoded)."""
    extra: list[dict[str, np.ndarray]] = []
    keys: list[str] = []

    def predict_fn(batch):
        if net is None:  # identity
            return batch["input"]
        # (B, 3, H, W), unclamped: metrics.evaluate clamps to [0, 1] before scoring
        out = net.outputs(batch, with_target=diagnostics)
        if not diagnostics:
            return out["relit"]
        keys.extend(batch["key"])
        row: dict[str, np.ndarray] = {}

        def mse_lat(a, b):
            return ((a - b) ** 2).flatten(1).mean(1).cpu().numpy()

        if out.get("scene_input") is not None:
            row["scene_latent_mse_same_scene"] = mse_lat(out["scene_input"], out["scene_target"])
            row["scene_latent_mse_diff_scene"] = mse_lat(out["scene_input"], out["scene_guide"])
        row["light_latent_mse_same_light"] = mse_lat(out["light_guide"], out["light_target"])
        row["light_latent_mse_diff_light"] = mse_lat(out["light_input"], out["light_target"])
        if predicter is not None:
            _, _, per = objective.predicter_losses(out, batch, predicter)
            row["temperature_loss"] = per["lc"].cpu().numpy()
            row["direction_loss"] = per["ld"].cpu().numpy()
            row["temperature_error_k"] = per["temp_err"].cpu().numpy()
            row["direction_error_deg"] = per["dir_err"].cpu().numpy()
        if objective is not None and objective.setting in ("B", "C"):
            from relight_lib.library.losses import envmap_log_l2_loss

            gt = objective.envmap_targets(batch, "guide", out["relit"].device)
            pred = out["light_guide"]
            if objective.setting == "C":
                gt, pred = gt[:, 2:], pred[:, 2:]
            row["envmap_log_l2_guide"] = envmap_log_l2_loss(
                pred, gt, reduction="none").cpu().numpy()
        extra.append(row)
        return out["relit"]

    res = metrics.evaluate(predict_fn, dataset, metrics=want_metrics, batch_size=4,
                           device=device, progress=progress)
    rows = res.rows
    if extra:
        cols = {k: np.concatenate([r[k] for r in extra]) for k in extra[0]}
        add = pd.DataFrame([(k, m, float(v[i])) for i, k in enumerate(keys)
                            for m, v in cols.items()], columns=["image", "metric", "value"])
        rows = pd.concat([rows, add], ignore_index=True)
    return rows, res.notes, res.lpips_weights


def _validate(net: nn.Module, val_set, device: torch.device, predicter=None,
              objective=None) -> dict[str, float]:
    """Mean PSNR and SSIM (:data:`VAL_METRICS`) of the relit images over ``val_set``, as
    ``{"val_psnr": ..., "val_ssim": ...}``; with model A's ``predicter`` also its mean
    colour-temperature loss L_c as ``val_lc`` (the plateau test judges it: the temperature
    claim reads it). In fp32 (the caller's autocast does not reach here) and under inference
    mode; the caller puts the modules in eval mode."""
    rows, _, _ = _evaluate(net, predicter, objective, val_set, device, VAL_METRICS,
                           progress=False, diagnostics=predicter is not None)
    mean = rows.groupby("metric")["value"].mean()
    out = {f"val_{m}": float(mean.get(m, float("nan"))) for m in VAL_METRICS}
    if predicter is not None:
        out["val_lc"] = float(mean.get("temperature_loss", float("nan")))
    return out


def _train(net, predicter, disc, objective, train_set, *, steps, batch_size, seed, device, lr,
           ckpt: Path, ckpt_every: int, progress: bool, gan: str = "none", amp: bool = False,
           read_step: int | None = None, val_set=None, val_every: int = 0, schedule=None):
    """Train for ``steps`` steps (resuming ``ckpt``); with ``read_step``, also keep that step's
    weights and load them back at the end (the checkpoint Table 1 evaluates).

    ``schedule`` (a :class:`~relight_lib.library.train.TrainConfig`, :func:`_train_config`)
    sets both optimisers' rate at every step from its closed form (so a resumed run follows the
    same curve); None: the constant ``lr``.

    With ``val_set`` and ``val_every`` > 0, every ``val_every`` steps and at the last step the
    history row also gets ``val_psnr``, ``val_ssim`` (:func:`_validate`, in eval mode: the
    weights, BatchNorm statistics and the data order do not change, so neither does the
    training key) and ``val_seconds``.

    Returns:
        (history, step_times): one dict per step (``step``, ``loss``, the loss parts, ...) and
        the seconds of each step trained here (validation excluded).
    """
    from tqdm.auto import tqdm

    from relight_lib.library.losses import lsgan_discriminator_loss, lsgan_generator_loss
    from relight_lib.library.train import (batch_indices, collate, load_cached_checkpoint,
                                           load_checkpoint, lr_at, save_checkpoint, to_device)

    modules = nn.ModuleDict({"net": net})
    if predicter is not None:
        modules["predicter"] = predicter
    if disc is not None:
        modules["disc"] = disc
    modules.to(device)
    g_params = list(net.parameters()) + (list(predicter.parameters()) if predicter else [])
    opts = _Optimisers(torch.optim.Adam(g_params, lr=lr),
                       torch.optim.Adam(disc.parameters(), lr=lr) if disc is not None else None)
    # the code encodes G only where its loss needs G's light latent (model A's predicter)
    encode_target = objective.setting == "A"
    use_amp = bool(amp) and utils.bf16_native(device)
    snapshot = ckpt.with_name(f"{ckpt.stem}-step{read_step}.pt") if read_step else None
    history: list[dict[str, float]] = []
    start = 0
    # an unloadable checkpoint (truncated, foreign) or read-step snapshot is a cache miss
    state = load_cached_checkpoint(ckpt, modules, device, needs=("model", "optimizer",
                                                                 "history", "step"))
    if (state is not None and snapshot is not None and int(state["step"]) >= read_step
            and load_cached_checkpoint(snapshot, modules, device) is None):
        state = None  # the snapshot is saved only on the way: train again to keep it
    if state is not None:
        modules.load_state_dict(state["model"])
        opts.load_state_dict(state["optimizer"])
        history, start = list(state["history"]), int(state["step"])
    modules.train()
    step_times = []
    for step in tqdm(range(start, steps), desc="train", disable=not progress,
                     initial=start, total=steps):
        t0 = time.perf_counter()
        rate = lr_at(schedule, steps, step) if schedule is not None else lr
        for opt in (opts.g, opts.d):
            for group in (opt.param_groups if opt is not None else ()):
                group["lr"] = rate
        idx = batch_indices(len(train_set), batch_size, seed, step)
        batch = to_device(collate([train_set[i] for i in idx]), device)
        with torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=use_amp):
            out = net.outputs(batch, with_target=encode_target)
            loss, parts = objective(out, batch, predicter)
            if gan == "pix2pix":
                fool = lsgan_generator_loss(disc(out["relit"]).float())
                loss = loss + fool
                parts["gan_generator"] = float(fool.detach())
        rec: dict[str, float] = {}
        opts.g.zero_grad(set_to_none=True)
        loss.backward()
        opts.g.step()
        if disc is not None:
            # as the official train.py: the fake images come from a second generator pass after
            # the generator's step (in training mode, so BatchNorm statistics move again)
            with torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=use_amp):
                with torch.no_grad():
                    fake = net.outputs(batch, with_target=encode_target)["relit"]
                d_loss = lsgan_discriminator_loss(disc(batch["target"]).float(),
                                                  disc(fake).float())
            opts.d.zero_grad(set_to_none=True)
            d_loss.backward()
            opts.d.step()
            rec["d_loss"] = float(d_loss.detach())
        dt = time.perf_counter() - t0
        step_times.append(dt)
        if val_set is not None and val_every and ((step + 1) % val_every == 0
                                                  or step + 1 == steps):
            t_val = time.perf_counter()
            modules.eval()
            rec.update(_validate(net, val_set, device, predicter, objective))
            modules.train()
            rec["val_seconds"] = time.perf_counter() - t_val
        history.append({"step": step + 1, "loss": float(loss.detach()), "lr": rate, **parts,
                        **rec, "seconds": dt})
        if not np.isfinite(history[-1]["loss"]):
            raise FloatingPointError(f"training loss is {history[-1]['loss']} at step {step + 1}")
        if snapshot is not None and step + 1 == read_step:
            save_checkpoint(snapshot, modules, None, step=step + 1)
        if ckpt_every and (step + 1) % ckpt_every == 0 and step + 1 < steps:
            save_checkpoint(ckpt, modules, opts, step=step + 1, history=history)
    if steps > start:
        save_checkpoint(ckpt, modules, opts, step=steps, history=history)
    if snapshot is not None:
        modules.load_state_dict(load_checkpoint(snapshot, map_location=device)["model"])
    modules.eval()
    return history, step_times


def run_any_to_any(*, paper: str, table: str, variant: str, profile: str,
                   results_root: str = "results", cache_key: str = "", model: str,
                   model_kwargs: Mapping[str, Any] | None = None,
                   loss_setting: str | None = None, discriminator: bool | str = False,
                   data_root: str | None = None, seeds: Sequence[int] | None = None,
                   steps: int | None = None, lr: float = 1e-3, envmap_recipe: str = "code",
                   lpips_form: str = "code", train_pairs: str | None = None,
                   n_eval_pairs: int | None = None, eval_subsets: str = "report",
                   read_at: float | None = None, amp: bool | None = None,
                   extra_tables: bool = True, label: str | None = None,
                   deviations: Sequence[str] = (), progress: bool = False,
                   budget_scale: float = 1, dry_run: bool = False,
                   temperature_head: str | None = None
                   ) -> pd.DataFrame | dict[str, Any]:
    """Train ``model`` for each seed of the profile, evaluate it, write the results.

    Args:
        paper, table, variant, profile, results_root, cache_key: Where the row goes.
        model: ``swapnet_illum`` | ``swapnet_envmap`` | ``swapnet_envmap_scene`` (registered
            names) or ``identity`` (no network: the input is the prediction).
        model_kwargs: Constructor arguments of the model.
        loss_setting: ``"A"``, ``"B"`` or ``"C"`` (see the module docstring); must match the
            model's latent (A: illum, B: envmap, C: envmap_scene).
        discriminator: False (none), ``"pix2pix"`` (or True: the LSGAN generator term is added)
            or ``"code"`` (a PatchGAN trained alongside, no adversarial term), see
            :data:`DISCRIMINATORS`.
        data_root: Real VIDIT folder (None: the profile's SynVIDIT any-to-any set).
        seeds: Override the profile's seeds.
        steps: Override the budget's steps (at the paper profile, with the report's batch).
        lr: Adam learning rate (the code uses PyTorch's default 1e-3, betas (0.9, 0.999)).
        envmap_recipe: ``"code"`` (default) or ``"report"`` ground-truth envmaps.
        lpips_form: Model C's LPIPS term, ``"code"`` (default) or ``"mean"``
            (:data:`LPIPS_FORMS`).
        train_pairs: ``"all"`` (model A's code: every pair) or ``"protocol"`` (different scene
            and direction, models B and C); default by loss setting.
        n_eval_pairs: Pairs per evaluation set; None: the report's 10,000 at the paper profile,
            100 otherwise; capped by the profile's ``eval_limit``.
        eval_subsets: Definitions of the ``subsets`` table's sets, ``"report"`` (default) or
            ``"protocol"`` (:data:`EVAL_SUBSETS`).
        read_at: Fraction of the budget whose checkpoint is evaluated; None: the report's
            (model B 8/20, model C 6/20, model A the last); 1: the last.
        amp: bf16 autocast, where it runs natively (CUDA, a CPU with AVX-512 BF16 or AMX);
            None: the profile's, except fp32 at the paper profile (as the report).
        extra_tables: Also write the ``subsets`` and ``predicter`` tables.
        label: Human label of the row.
        deviations: Known deviations for this row (to run.json and the page), before the ones
            the row itself adds.
        progress: Progress bars (off in papermill runs).
        budget_scale: Train for this many times the budget's steps (a budget check row
            ``<variant>__x2`` of ``notebooks/budget_checks.yaml``; a read checkpoint stays at
            its fraction of the longer budget).
        dry_run: Resolve everything (profile, data, model, losses, budget, evaluation sets) and
            return the plan dict without training or writing anything.
        temperature_head: Model A's predicter temperature output, ``"kelvin"`` (the code) or
            ``"normalised"`` (:data:`TEMPERATURE_HEADS`); None: kelvin at the report's budget,
            normalised below it (a listed deviation).

    Returns:
        Per-seed summary of the main table: one row per (seed, metric) with mean, std, count;
        with ``dry_run``, the plan: ``row, model, model_kwargs, parameters, image_size,
        train_size, batch_size, steps, epochs, n_train, precision, optimizer, lr_schedule, loss,
        eval, postprocess, snapshots, deviations, notes``.

    Raises:
        ValueError: a setting that cannot be planned (the message says which).
    """
    call = dict(locals())  # the arguments, to run seed by seed
    # each seed its own scenes: the row is resolved (data, pairs, evaluation sets) and run
    # once per seed; rows of one seed share the seed's data, so claims stay paired
    prof = profiles.resolve(profile, data_root=data_root, seeds=seeds)
    if not dry_run and prof.scene_seed == "per_seed" and len(prof.seeds) > 1:
        return pd.concat([run_any_to_any(**{**call, "seeds": [s]}) for s in prof.seeds],
                         ignore_index=True)
    # imported before the training key is made, so that every seed's key hashes the same files
    # (the losses are otherwise first imported inside _train, after the first seed's key)
    import relight_lib.library.losses  # noqa: F401
    from relight_lib.library.convergence import from_history
    from relight_lib.library.models.patchgan import PatchGAN

    if budget_scale != 1:  # a budget check (spec/evidence.md section 5)
        base = steps or profiles.resolve(profile, data_root=data_root).train_steps
        if base is None or not budget_scale > 0:
            raise ValueError(f"budget_scale={budget_scale} needs a positive scale and a step "
                             "budget (give steps= at the paper profile)")
        steps = max(1, round(int(base) * budget_scale))
        deviations = [*deviations, f"Budget check: trained for {budget_scale:g} x the row's "
                      f"budget ({int(base):,} -> {steps:,} steps, its schedule stretched alike) "
                      "to show whether that budget suffices; not a row of the paper's table."]
    row = _resolve(profile=profile, data_root=data_root, seeds=seeds, steps=steps, model=model,
                   model_kwargs=model_kwargs, loss_setting=loss_setting,
                   discriminator=discriminator, envmap_recipe=envmap_recipe,
                   lpips_form=lpips_form, train_pairs=train_pairs, n_eval_pairs=n_eval_pairs,
                   eval_subsets=eval_subsets, read_at=read_at, amp=amp,
                   extra_tables=extra_tables, lr=lr, table=table, deviations=deviations,
                   plan_only=dry_run, temperature_head=temperature_head)
    if dry_run:
        return _plan(row, label=label or variant, model=model, model_kwargs=model_kwargs,
                     setting=loss_setting, lr=lr, envmap_recipe=envmap_recipe,
                     lpips_form=lpips_form, table=table)
    cfg, b, size = row.cfg, row.budget, row.size
    identity = row.identity
    train_pairs = train_pairs or ("all" if loss_setting == "A" else "protocol")
    manifest_sha = profiles.data_manifest_sha256(cfg)
    # the learning curve: validation on a fixed share of the validation split's pairs (of the
    # main evaluation set where the two splits are one, as at the paper profile)
    val_every = _val_every(cfg, b)
    val_set = _val_set(row.eval_sets[table] if row.val_pairs is None else row.val_pairs,
                       VAL_PAIRS) if val_every else None
    params = {**cfg.to_dict(), "size": size, "model": model,
              "model_kwargs": dict(model_kwargs or {}), "loss_setting": loss_setting,
              "discriminator": row.discriminator, "lr": lr, "betas": [0.9, 0.999],
              "lr_schedule": _train_config(b, lr).schedule if b is not None else None,
              "envmap_recipe": envmap_recipe, "lpips_form": lpips_form,
              "train_pairs": None if identity else train_pairs, "eval_subsets": eval_subsets,
              "amp": row.amp, "temperature_head": row.temperature_head,
              "budget": dataclasses.asdict(b) if b is not None else None,
              "n_eval_pairs": {k: len(v) for k, v in row.eval_sets.items()},
              "eval_sets": row.eval_defs, "val_every": val_every,
              "n_val_pairs": len(val_set) if val_set is not None else 0}
    dataset = "SynVIDIT" if cfg.render_preset else "VIDIT"
    device = utils.pick_device(cfg.device)
    chance = None
    if loss_setting == "A" and extra_tables:
        chance = chance_losses([c for _, c in row.train_index.images()],
                               row.eval_sets[table].pairs)
    summaries = []
    for seed in cfg.seeds:
        t0 = time.perf_counter()
        utils.seed_everything(seed)
        devs = list(row.deviations)
        weights: dict[str, Any] = {}
        history: list[dict] = []
        extra: dict[str, Any] = {}
        net = predicter = disc = objective = None
        reason = None
        if not identity:
            net = build_swap_model(model, **dict(model_kwargs or {}))
            if loss_setting == "A":
                predicter = net.make_predicter(size, temperature=row.temperature_head)
            if row.discriminator != "none":
                disc = PatchGAN()
            extra["parameters"] = row.parameters["model"]
            extra["parameters_predicter"] = row.parameters.get("predicter", 0)
            extra["parameters_discriminator"] = row.parameters.get("discriminator", 0)
            try:
                objective = SwapObjective(loss_setting, envmap_recipe, device, lpips_form)
            except NotRunnable as e:
                reason = f"not run here: {e}"
        if reason is None and not identity:
            weights.update(objective.weights)
            train_set = row.train_sets[seed]
            schedule = _train_config(b, lr)
            # what decides the weights (not the evaluation sets, not the notebook's prose):
            # rows that train the same network share the checkpoint
            key, training_files = training_key(
                model=model, model_kwargs=dict(model_kwargs or {}), loss_setting=loss_setting,
                discriminator=row.discriminator, lr=lr, envmap_recipe=envmap_recipe,
                lpips_form=lpips_form, train_pairs=params.get("train_pairs"), size=size,
                steps=b.steps, batch_size=b.batch_size, read_step=b.read_step, amp=row.amp,
                schedule=schedule.schedule, seed=seed,
                data=profiles.data_key(cfg, cfg.any2any_root),
                # model A's predicter head decides its weights (B and C have no predicter)
                **({"temperature_head": row.temperature_head} if row.temperature_head else {}))
            extra["training_key"], extra["training_files"] = key, training_files
            ckpt = CHECKPOINT_DIR / cfg.name / key / f"seed={seed}.pt"
            t_train = time.perf_counter()
            history, step_times = _train(
                net, predicter, disc, objective, train_set, steps=b.steps,
                batch_size=b.batch_size, seed=seed, device=device, lr=lr, ckpt=ckpt,
                ckpt_every=max(50, b.steps // 50), progress=progress, gan=row.discriminator,
                amp=row.amp, read_step=b.read_step, val_set=val_set, val_every=val_every,
                schedule=schedule)
            extra["n_train_pairs"] = len(train_set)
            extra["read_step"] = b.read_step
            extra["timing"] = {
                "device": str(device), "train_s": time.perf_counter() - t_train,
                "train_step_s_mean": float(np.mean(step_times)) if step_times else None,
                "train_step_s_median": float(np.median(step_times)) if step_times else None}
        # evaluate every set
        evals: dict[str, tuple[pd.DataFrame, dict[str, str]]] = {}
        for name, ds in row.eval_sets.items():
            want = EVAL_METRICS if name == table else SUBSET_METRICS
            if reason is not None:
                evals[name] = _not_run_rows(want, reason, ds)
                continue
            t_eval = time.perf_counter()
            rows, notes, lp_weights = _evaluate(net, predicter, objective, ds, device, want,
                                                progress)
            if name == table:
                extra.setdefault("timing", {})["eval_s_per_pair"] = \
                    (time.perf_counter() - t_eval) / max(1, len(ds))
                if net is not None and getattr(net, "light_kind", "") == "envmap_rgb":
                    notes.setdefault("scene_latent_mse_same_scene",
                                     "model B has no scene latent (the scene reaches the decoder "
                                     "through the skips only)")
            if lp_weights:
                weights["lpips_metric"] = lp_weights
            evals[name] = (rows, notes)
        extra["data"] = {**{k: v for k, v in profiles.data_key(cfg, cfg.any2any_root).items()
                            if k in ("root", "draw", "scene_seed")},
                         "eval_split": cfg.eval_split, "val_split": cfg.val_split}
        common = dict(profile=cfg.name, seed=seed, dataset=dataset, split=cfg.eval_split,
                      params=params, weights=weights, deviations=devs,
                      peak_memory_mb=utils.peak_memory_mb(), cache_key=cache_key,
                      data_manifest_sha256=manifest_sha,
                      precision=record.precision_entry(row.amp_requested, row.amp)
                      if history else None)
        rows, notes = evals[table]
        out = record.write_run(results_root, paper=paper, table=table, variant=variant,
                               per_image=rows, notes=notes, label=label or variant,
                               wall_time_s=time.perf_counter() - t0,
                               extra={**extra, "train_steps": len(history),
                                      # the scored weights (model C: its read checkpoint)
                                      # on PSNR, and on L_c for model A
                                      "convergence": from_history(
                                          history, read_step=b.read_step,
                                          metrics=("val_psnr", "val_lc")
                                          if loss_setting == "A" else None).to_dict()
                                      if history else None}, **common)
        if extra_tables:
            for name in ("full", "same_colour", "same_direction"):
                r, n = evals[f"subsets/{name}"]
                r = r[r["metric"].isin(SUBSET_METRICS)] if len(r) else r
                record.write_run(results_root, paper=paper, table="subsets",
                                 variant=f"{variant}_{name}", per_image=r,
                                 notes={k: v for k, v in n.items() if k in SUBSET_METRICS},
                                 label=f"{label or variant} ({name.replace('_', ' ')})",
                                 **common)
            if loss_setting == "A" and not identity:
                _write_predicter(results_root, paper, evals[table], reason, chance,
                                 row.eval_sets[table], label or variant, common)
        if history:
            pd.DataFrame(history).to_csv(out / "history.csv", index=False)
        if net is not None and reason is None:
            _figures(out, history, net, row.eval_sets[table], objective, device, rows)
        summ = rows.groupby("metric")["value"].agg(["mean", "std", "count"]) \
            if len(rows) else pd.DataFrame(columns=["mean", "std", "count"])
        summ["seed"] = seed
        summaries.append(summ.reset_index())
    return pd.concat(summaries, ignore_index=True)


def _write_predicter(results_root, paper, evaluated, reason, chance, eval_set, label, common):
    """The ``predicter`` table: model A's per-pair L_c and L_d (``temperature``, ``direction``)
    and the chance levels on the same pairs (``temperature_chance``, ``direction_chance``), all
    as the metric ``light_loss``."""
    r, n = evaluated
    for which, metric in (("temperature", "temperature_loss"), ("direction", "direction_loss")):
        sel = r[r["metric"] == metric].assign(metric="light_loss") if len(r) else r
        record.write_run(results_root, paper=paper, table="predicter", variant=which,
                         per_image=sel,
                         notes={"light_loss": n[metric]} if metric in n else
                         ({"light_loss": reason} if reason else None),
                         label=f"{which} ({label})", **common)
        if chance is not None:
            keys = [p.key for p in eval_set.pairs]
            per = pd.DataFrame({"image": keys, "metric": "light_loss",
                                "value": chance[which].astype(float)})
            record.write_run(results_root, paper=paper, table="predicter",
                             variant=f"{which}_chance", per_image=per,
                             notes={"light_loss": "chance level: a predicter that always "
                                                  "answers the training prior (mean "
                                                  "temperature, circular-mean direction)"},
                             label=f"{which}: chance level (training prior)", **common)


def _figures(out: Path, history, net, eval_set, objective, device, rows) -> None:
    """Learning curves (training loss and, when validated, validation PSNR), relit examples,
    latent distances and (models B/C) envmaps under figures/."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from relight_lib.library.train import collate, to_device

    figs = out / "figures"
    figs.mkdir(exist_ok=True)
    # (not onetoone.learning_curves: a relight_lib module first imported here, after the
    # training key is made, would join the key of the next seed trained in this process)
    h = pd.DataFrame(history)
    val = h[h["val_psnr"].notna()] if "val_psnr" in h else h.iloc[:0]
    fig, axes = plt.subplots(1, 2 if len(val) else 1, figsize=(7 if len(val) else 4, 2.5),
                             squeeze=False)
    axes[0][0].plot(h["step"], h["loss"], lw=1)
    axes[0][0].set_ylabel("training loss")
    if len(val):
        axes[0][1].plot(val["step"], val["val_psnr"], marker=".", lw=1)
        axes[0][1].set_ylabel("validation PSNR (dB)")
    for ax in axes[0]:
        ax.set_xlabel("step")
    fig.tight_layout()
    fig.savefig(figs / "loss.png", dpi=80)
    plt.close(fig)

    n = min(3, len(eval_set))
    batch = to_device(collate([eval_set[i] for i in range(n)]), device)
    with torch.inference_mode():
        res = net.outputs(batch)
    fig, axes = plt.subplots(n, 4, figsize=(8, 2 * n), squeeze=False)
    for r in range(n):
        for c, (img, title) in enumerate([(batch["input"][r], "input I"),
                                          (batch["guide"][r], "guide T"),
                                          (res["relit"][r], "relit"),
                                          (batch["target"][r], "ground truth G")]):
            axes[r][c].imshow(img.permute(1, 2, 0).clamp(0, 1).cpu().numpy())
            axes[r][c].set_axis_off()
            if r == 0:
                axes[r][c].set_title(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(figs / "examples.png", dpi=80)
    plt.close(fig)

    lat = rows[rows["metric"].str.startswith(("scene_latent", "light_latent"))]
    if len(lat):
        fig, ax = plt.subplots(figsize=(5, 2.8))
        for m, g in lat.groupby("metric"):
            ax.hist(np.log10(g["value"].clip(lower=1e-12)), bins=20, alpha=0.5, label=m)
        ax.set_xlabel("log10 latent MSE between two images of a pair")
        ax.legend(fontsize=6)
        fig.tight_layout()
        fig.savefig(figs / "latents.png", dpi=80)
        plt.close(fig)

    if objective is not None and objective.setting in ("B", "C"):
        gt = objective.envmap_targets(batch, "guide", device)
        pred = res["light_guide"]
        fig, axes = plt.subplots(n, 2, figsize=(5, 1.4 * n), squeeze=False)
        for r in range(n):
            for c, (v, title) in enumerate([(pred[r], "predicted"), (gt[r], "ground truth")]):
                img = (v.reshape(3, 16, 32).permute(1, 2, 0) / 255 if objective.setting == "B"
                       else v[2:].reshape(16, 32) / 255)
                axes[r][c].imshow(img.clamp(0, 1).cpu().numpy(), cmap="gray")
                axes[r][c].set_axis_off()
                if r == 0:
                    axes[r][c].set_title(f"envmap of T, {title}", fontsize=8)
        fig.tight_layout()
        fig.savefig(figs / "envmaps.png", dpi=80)
        plt.close(fig)
