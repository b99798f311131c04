"""Training an any-to-any row (2DSceneRelighting), one seed at a time: the models of the row,
its training key (the checkpoint cache) and the generator (+ PatchGAN) loop.

Validation PSNR and SSIM (fp32, eval mode; model A also its L_c as ``val_lc``) on up to
:data:`~relight_lib.papers.swapnet.budget.VAL_PAIRS` protocol pairs of the profile's
``val_split``, the profile's ``val_points`` times evenly over the training, go into the history
(:func:`~relight_lib.papers.swapnet.evaluate.validate`); they change neither the weights nor the
training key.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

# imported before the training key is made, so that every seed's key hashes the same files
# (the losses are otherwise first imported inside train_loop, after the first seed's key)
import relight_lib.library.losses  # noqa: F401
from relight_lib.library import utils
from relight_lib.library.models.patchgan import PatchGAN
from relight_lib.library.train import ProgressStatus, training_key
from relight_lib.papers import profiles
from relight_lib.papers.swapnet.budget import train_config
from relight_lib.papers.swapnet.evaluate import validate
from relight_lib.papers.swapnet.objective import NotRunnable, SwapObjective, build_swap_model
from relight_lib.papers.swapnet.plan import AnyToAnyPlan

__all__ = ["CHECKPOINT_DIR", "Optimisers", "TrainedSeed", "train_loop", "train_seed"]

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
        read_step=b.read_step, amp=plan.amp, schedule=schedule.schedule, seed=seed,
        data=profiles.data_key(cfg, cfg.any2any_root),
        # model A's predicter head decides its weights (B and C have no predicter)
        **({"temperature_head": plan.temperature_head} if plan.temperature_head else {}))
    extra["training_key"], extra["training_files"] = key, training_files
    ckpt = CHECKPOINT_DIR / cfg.name / key / f"seed={seed}.pt"
    t_train = time.perf_counter()
    out.history, step_times = train_loop(
        out.net, out.predicter, out.disc, out.objective, train_set, steps=b.steps,
        batch_size=b.batch_size, seed=seed, device=device, lr=plan.lr, ckpt=ckpt,
        ckpt_every=max(50, b.steps // 50), progress=progress, gan=plan.discriminator,
        amp=plan.amp, read_step=b.read_step, val_set=val_set, val_every=plan.val_every,
        schedule=schedule)
    extra["n_train_pairs"] = len(train_set)
    extra["read_step"] = b.read_step
    extra["timing"] = {
        "device": str(device), "train_s": time.perf_counter() - t_train,
        "train_step_s_mean": float(np.mean(step_times)) if step_times else None,
        "train_step_s_median": float(np.median(step_times)) if step_times else None}
    return out


class Optimisers:
    """Generator and discriminator optimisers as one object for save_checkpoint."""

    def __init__(self, g: torch.optim.Optimizer, d: torch.optim.Optimizer | None) -> None:
        self.g, self.d = g, d

    def state_dict(self) -> dict[str, Any]:
        return {"g": self.g.state_dict(), "d": self.d.state_dict() if self.d else None}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.g.load_state_dict(state["g"])
        if self.d is not None and state.get("d") is not None:
            self.d.load_state_dict(state["d"])


def train_loop(net, predicter, disc, objective, train_set, *, steps, batch_size, seed, device,
               lr, ckpt: Path, ckpt_every: int, progress: bool, gan: str = "none",
               amp: bool = False, read_step: int | None = None, val_set=None,
               val_every: int = 0, schedule=None):
    """Train for ``steps`` steps (resuming ``ckpt``); with ``read_step``, also keep that step's
    weights and load them back at the end (the checkpoint Table 1 evaluates).

    ``schedule`` (a :class:`~relight_lib.library.train.TrainConfig`, :func:`train_config`)
    sets both optimisers' rate at every step from its closed form (so a resumed run follows the
    same curve); None: the constant ``lr``.

    With ``val_set`` and ``val_every`` > 0, every ``val_every`` steps and at the last step the
    history row also gets ``val_psnr``, ``val_ssim`` (:func:`validate`, in eval mode: the
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
    opts = Optimisers(torch.optim.Adam(g_params, lr=lr),
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
    # the runner's progress line (relight_lib.library.train.ProgressStatus; None outside a run)
    status = ProgressStatus.from_env()
    t_start = time.perf_counter()
    if status is not None:
        last_val = next((h["val_psnr"] for h in reversed(history) if "val_psnr" in h), None)
        status.update(force=True, stage="train", seed=seed, step=start, total=steps,
                      fit_start_step=start, fit_elapsed_s=0.0, val_psnr=last_val, phase="train")
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
            rec.update(validate(net, val_set, device, predicter, objective))
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
        if status is not None:
            extra = {"val_psnr": rec["val_psnr"]} if "val_psnr" in rec else {}
            status.update(force=bool(extra), step=step + 1,
                          fit_elapsed_s=time.perf_counter() - t_start, **extra)
    if steps > start:
        save_checkpoint(ckpt, modules, opts, step=steps, history=history)
    if status is not None:
        status.update(force=True, step=steps, fit_elapsed_s=time.perf_counter() - t_start,
                      phase="trained")
    if snapshot is not None:
        modules.load_state_dict(load_checkpoint(snapshot, map_location=device)["model"])
    modules.eval()
    return history, step_times
