"""Training an any-to-any row (2DSceneRelighting), one seed at a time: the models of the row,
its training key (the checkpoint cache) and the generator (+ PatchGAN) step.

The row trains through the engine's :func:`~relight_lib.library.train.fit`, like the
one-to-one rows: :class:`SwapStep` is its step (the generator and model A's predicter under one
Adam, then the PatchGAN under its own, both following the schedule), and fit brings the rest:
the training pairs decoded once into memory (on the training device when they fit,
:mod:`relight_lib.library.data.memory`), bf16 autocast and channels_last where the profile asks
them, the data order of :func:`~relight_lib.library.train.batch_indices`, checkpoints with exact
resume (the RNG state included; Ctrl-C keeps the steps done), and the runner's progress status.

Validation PSNR and SSIM (fp32, eval mode; model A also its L_c as ``val_lc``) on up to
:data:`~relight_lib.papers.swapnet.budget.VAL_PAIRS` protocol pairs of the profile's
``val_split``, the profile's ``val_points`` times evenly over the training, go into the history
(:func:`~relight_lib.papers.swapnet.evaluate.validate`); they change neither the weights nor the
training key.
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from relight_lib.library import utils
from relight_lib.library.data.memory import to_memory
# imported at the top, before the training key is made, so that every seed's key hashes the
# same files
from relight_lib.library.losses import lsgan_discriminator_loss, lsgan_generator_loss
from relight_lib.library.models.patchgan import PatchGAN
from relight_lib.library.train import StepContext, TrainStep, training_key
from relight_lib.papers import profiles
from relight_lib.papers.swapnet.budget import train_config
from relight_lib.papers.swapnet.evaluate import validate
from relight_lib.papers.swapnet.objective import NotRunnable, SwapObjective, build_swap_model
from relight_lib.papers.swapnet.plan import AnyToAnyPlan

#: The files that validate, score, draw and write a row (validation and the tables read the
#: weights, never change them), and the runner that calls them: left out of the training key,
#: so that changing them re-evaluates the rows instead of retraining them (the training itself
#: is decided by this file, ``plan.py``, ``budget.py``, ``objective.py``, the models and the
#: losses).
EVAL_FILES = ("papers/swapnet/any2any.py", "papers/swapnet/evaluate.py",
              "papers/swapnet/figures.py")

__all__ = ["CHECKPOINT_DIR", "SwapStep", "TrainedSeed", "train_loop", "train_seed"]

CHECKPOINT_DIR = Path("_build/checkpoints")


@dataclasses.dataclass
class TrainedSeed:
    """One seed of a row after training: its models (None for the identity, or when the row
    cannot run here: ``reason``), history, weights provenance and run.json ``extra``."""

    seed: int
    t0: float  # when the seed started (run.json's wall time)
    net: nn.Module | None = None
    predicter: nn.Module | None = None
    disc: nn.Module | None = None
    objective: SwapObjective | None = None
    reason: str | None = None  # "not run here: ..." (model C without the LPIPS weights)
    history: list[dict] = dataclasses.field(default_factory=list)
    weights: dict[str, Any] = dataclasses.field(default_factory=dict)
    extra: dict[str, Any] = dataclasses.field(default_factory=dict)


def train_seed(plan: AnyToAnyPlan, seed: int, device: torch.device, val_set=None,
               progress: bool = False) -> TrainedSeed:
    """Build the row's models for ``seed`` and train them (or resume / reuse the cached
    checkpoint of the same training key); the identity row trains nothing.

    The key hashes what decides the weights (not the evaluation sets, not the notebook's
    prose), so rows that train the same network share the checkpoint under
    :data:`CHECKPOINT_DIR`.
    """
    cfg, b, size = plan.cfg, plan.budget, plan.size
    out = TrainedSeed(seed=seed, t0=time.perf_counter())
    utils.seed_everything(seed)
    extra = out.extra
    if plan.identity:
        return out
    out.net = build_swap_model(plan.model, **plan.model_kwargs)
    if plan.loss_setting == "A":
        out.predicter = out.net.make_predicter(size, temperature=plan.temperature_head)
    if plan.discriminator != "none":
        out.disc = PatchGAN()
    extra["parameters"] = plan.parameters["model"]
    extra["parameters_predicter"] = plan.parameters.get("predicter", 0)
    extra["parameters_discriminator"] = plan.parameters.get("discriminator", 0)
    try:
        out.objective = SwapObjective(plan.loss_setting, plan.envmap_recipe, device,
                                      plan.lpips_form)
    except NotRunnable as e:
        out.reason = f"not run here: {e}"
        return out
    out.weights.update(out.objective.weights)
    train_set = plan.train_sets[seed]
    schedule = train_config(b, plan.lr)
    key, training_files = training_key(
        model=plan.model, model_kwargs=dict(plan.model_kwargs),
        loss_setting=plan.loss_setting, discriminator=plan.discriminator, lr=plan.lr,
        envmap_recipe=plan.envmap_recipe, lpips_form=plan.lpips_form,
        train_pairs=plan.train_pairs, size=size, steps=b.steps, batch_size=b.batch_size,
        read_step=b.read_step, amp=plan.amp, channels_last=cfg.channels_last,
        schedule=schedule.schedule, seed=seed,
        data=profiles.data_key(cfg, cfg.any2any_root),
        # model A's predicter head decides its weights (B and C have no predicter)
        **({"temperature_head": plan.temperature_head} if plan.temperature_head else {}),
        unkeyed=EVAL_FILES)
    extra["training_key"], extra["training_files"] = key, training_files
    ckpt = CHECKPOINT_DIR / cfg.name / key / f"seed={seed}.pt"
    t_train = time.perf_counter()
    # decoded once, in memory on the training device when it fits (the same batches as
    # streaming from disk: the data order and the weights do not depend on it)
    data, extra["training_data"] = to_memory(train_set, device, int(cfg.in_memory_gb * 2**30),
                                             progress=progress)
    out.history, step_times = train_loop(
        out.net, out.predicter, out.disc, out.objective, data, steps=b.steps,
        batch_size=b.batch_size, seed=seed, device=device, lr=plan.lr, ckpt=ckpt,
        ckpt_every=max(50, b.steps // 50), progress=progress, gan=plan.discriminator,
        amp=plan.amp, read_step=b.read_step, val_set=val_set, val_every=plan.val_every,
        schedule=schedule, channels_last=cfg.channels_last)
    extra["n_train_pairs"] = len(train_set)
    extra["read_step"] = b.read_step
    extra["timing"] = {
        "device": str(device), "train_s": time.perf_counter() - t_train,
        "train_step_s_mean": float(np.mean(step_times)) if step_times else None,
        "train_step_s_median": float(np.median(step_times)) if step_times else None}
    return out


class SwapStep(TrainStep):
    """One step of an any-to-any row for :func:`~relight_lib.library.train.fit`: the generator
    (the swap model and model A's predicter, one Adam) on the row's objective, then the
    PatchGAN (its own Adam), on the modules of an ``nn.ModuleDict`` (``net``, ``predicter``,
    ``disc``).

    Args:
        objective: the row's :class:`~relight_lib.papers.swapnet.objective.SwapObjective`.
        gan: the discriminator mode (:data:`~relight_lib.papers.swapnet.objective.
            DISCRIMINATORS`): ``"pix2pix"`` adds the LSGAN generator term.
    """

    def __init__(self, objective: SwapObjective, gan: str = "none") -> None:
        self.objective, self.gan = objective, gan
        # the code encodes G only where its loss needs G's light latent (model A's predicter)
        self.encode_target = objective.setting == "A"

    def parameter_sets(self, model: nn.ModuleDict) -> dict[str, list[nn.Parameter]]:
        sets = {"g": list(model["net"].parameters())
                + (list(model["predicter"].parameters()) if "predicter" in model else [])}
        if "disc" in model:
            sets["d"] = list(model["disc"].parameters())
        return sets

    def __call__(self, model: nn.ModuleDict, batch: dict[str, Any], ctx: StepContext
                 ) -> dict[str, float | torch.Tensor]:
        t0 = time.perf_counter()
        net = model["net"]
        predicter = model["predicter"] if "predicter" in model else None
        disc = model["disc"] if "disc" in model else None
        with ctx.autocast():
            out = net.outputs(batch, with_target=self.encode_target)
            loss, parts = self.objective(out, batch, predicter)
            if self.gan == "pix2pix":
                fool = lsgan_generator_loss(disc(out["relit"]).float())
                loss = loss + fool
                parts["gan_generator"] = float(fool.detach())
        ctx.update(loss, "g")
        if disc is not None:
            # as the official train.py: the fake images come from a second generator pass after
            # the generator's step (in training mode, so BatchNorm statistics move again)
            with ctx.autocast():
                with torch.no_grad():
                    fake = net.outputs(batch, with_target=self.encode_target)["relit"]
                d_loss = lsgan_discriminator_loss(disc(batch["target"]).float(),
                                                  disc(fake).float())
            ctx.update(d_loss, "d")
            parts["d_loss"] = float(d_loss.detach())
        # the step's own seconds (the batch fetch excluded), as history.csv's ``seconds``
        return {"loss": loss, **parts, "seconds": time.perf_counter() - t0}

    def validate(self, model: nn.ModuleDict, val_data, device: torch.device) -> dict[str, float]:
        t_val = time.perf_counter()
        rec = validate(model["net"], val_data, device,
                       model["predicter"] if "predicter" in model else None, self.objective)
        return {**rec, "val_seconds": time.perf_counter() - t_val}


def train_loop(net, predicter, disc, objective, train_set, *, steps, batch_size, seed, device,
               lr, ckpt: Path, ckpt_every: int, progress: bool, gan: str = "none",
               amp: bool = False, read_step: int | None = None, val_set=None,
               val_every: int = 0, schedule=None, channels_last: bool = False,
               on_step=None):
    """Train for ``steps`` steps with :func:`~relight_lib.library.train.fit` and
    :class:`SwapStep` (resuming ``ckpt``: exact resume, the in-memory batches of an
    :class:`~relight_lib.library.data.memory.InMemoryPairs` ``train_set``, the runner's
    progress status); with ``read_step``, also keep that step's weights and load them back at
    the end (the checkpoint Table 1 evaluates).

    ``schedule`` (a :class:`~relight_lib.library.train.TrainConfig`, :func:`train_config`)
    sets both optimisers' rate at every step from its closed form (so a resumed run follows the
    same curve); None: the constant ``lr``.

    With ``val_set`` and ``val_every`` > 0, every ``val_every`` steps and at the last step the
    history row also gets ``val_psnr``, ``val_ssim`` (:func:`validate`, in eval mode: the
    weights, BatchNorm statistics and the data order do not change, so neither does the
    training key) and ``val_seconds``.

    ``on_step(step, loss)`` is called after every step (fit's hook; tests interrupt with it).

    Returns:
        (history, step_times): one dict per step (``step``, ``loss``, ``lr``, the loss parts,
        ``seconds``, ...) and the seconds of each step trained here (validation excluded).
    """
    from relight_lib.library.train import (TrainConfig, fit, load_cached_checkpoint,
                                           load_checkpoint, save_checkpoint)

    modules = nn.ModuleDict({"net": net})
    if predicter is not None:
        modules["predicter"] = predicter
    if disc is not None:
        modules["disc"] = disc
    base = schedule if schedule is not None else TrainConfig(steps=steps, batch_size=batch_size,
                                                             lr=lr)
    cfg = dataclasses.replace(base, steps=steps, epochs=None, batch_size=batch_size, lr=lr,
                              seed=seed, device=str(device), amp=bool(amp),
                              channels_last=channels_last, compile=False,
                              ckpt_every=ckpt_every, val_every=val_every if val_set else 0)
    snapshot = ckpt.with_name(f"{ckpt.stem}-step{read_step}.pt") if read_step else None
    resume = True
    if snapshot is not None and ckpt.exists():
        # the snapshot is saved only on the way: a checkpoint past it whose snapshot cannot be
        # loaded trains again (an unloadable checkpoint is fit's own cache miss, said once)
        state = load_cached_checkpoint(ckpt, modules, device, log=lambda _: None)
        if (state is not None and int(state["step"]) >= read_step
                and load_cached_checkpoint(snapshot, modules, device) is None):
            resume = False

    def keep(step: int, loss: float) -> None:
        if snapshot is not None and step == read_step:
            save_checkpoint(snapshot, modules, None, step=step)
        if on_step is not None:
            on_step(step, loss)

    fitted = fit(modules, SwapStep(objective, gan), train_set,
                 val_set if val_every else None, cfg, checkpoint=ckpt, resume=resume,
                 progress=progress, on_step=keep)
    history = fitted.history
    if snapshot is not None:
        modules.load_state_dict(load_checkpoint(snapshot, map_location=device)["model"])
    modules.eval()
    return history, fitted.step_times
