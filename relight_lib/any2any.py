"""One row of an any-to-any table (2DSceneRelighting): train, evaluate, write results.

The any-to-any analogue of :mod:`relight_lib.experiment`. A row names a swap model
(``swapnet_illum`` = model A, ``swapnet_envmap`` = B, ``swapnet_envmap_scene`` = C, or
``identity``, which returns the input unchanged and is not trained), its loss setting and
whether a PatchGAN discriminator is trained alongside; :func:`run_any_to_any` does the rest for
every seed of the profile.

Loss settings (papers.md 6.7):

* ``"A"``: ``MSE(G_hat, G) + L_c + L_d``, with L_c (colour temperature, MSE / 2000**2) and L_d
  (1 - cos of the direction error) each the mean over the predicter's outputs on the light
  latents of I, T and G; the predicter is trained with the generator by one Adam optimiser.
* ``"B"``: ``L1(G_hat, G) + logL2(envmap(I)) + logL2(envmap(T))`` against the ground-truth RGB
  envmaps of :mod:`relight_lib.envmap`.
* ``"C"``: ``LPIPS(G_hat, G) + HSV(I) + HSV(T)`` where HSV = cos loss on the hue (0-255 scale)
  + MSE on the saturation + logL2 on the 512 brightness values. LPIPS needs the ImageNet AlexNet
  weights; without them the row is written as *not run here* (never trained with a substitute).
* ``discriminator=True`` adds the LSGAN generator term ``MSE(D(G_hat), 1)`` (weight 1) and
  trains the PatchGAN with ``MSE(D(G), 1) + MSE(D(G_hat), 0)`` by its own Adam.

Evaluation (papers.md 6.11): pairs with a different scene and a different light direction
(``PROTOCOL_2DSCENE``), drawn from the evaluation split with a fixed seed (the same pairs for
every seed and row, so differences are paired); PSNR, SSIM and DSSIM = (1 - SSIM)/2 (what the
report's "SSIM" column very likely is), LPIPS (NaN with the reason when its weights are
missing), MSE and Score_l2 = MSE(I, G) / MSE(G_hat, G) (> 1 beats the identity); for model A the
predicter's losses and errors; latent distances. ``extra_tables=True`` also writes

* ``subsets/<variant>_{full,same_colour,same_direction}``: the full protocol set and the
  report's Eval_{c_I = c_T} (protocol and same colour) and Eval_{d_I = d_T} (different scene,
  same direction) subsets;
* ``predicter/{temperature,direction}`` (model A): the per-pair L_c and L_d as one metric
  ``light_loss``, so that "colour temperature is predicted better than direction" can be
  checked as a claim.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import nn

from relight_lib import metrics, profiles, results, utils

__all__ = ["EVAL_METRICS", "LOSS_SETTINGS", "NotRunnable", "SwapObjective",
           "hsv_envmap_loss", "run_any_to_any"]

EVAL_METRICS = ("psnr", "ssim", "dssim", "lpips", "mse", "score_l2")
SUBSET_METRICS = ("psnr", "ssim", "mse", "score_l2")
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


def build_swap_model(name: str, **kwargs: Any) -> nn.Module:
    """A swap model by its registry name (``swapnet_illum``, ``swapnet_envmap``,
    ``swapnet_envmap_scene``); other names go to :func:`relight_lib.models.build_model`."""
    if name in SWAP_MODELS:
        from relight_lib.models import swapnet

        return getattr(swapnet, SWAP_MODELS[name])(**kwargs)
    from relight_lib.models import build_model

    return build_model(name, **kwargs)


class NotRunnable(RuntimeError):
    """A row cannot be run faithfully on this machine (the reason says why)."""


def hsv_envmap_loss(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Model C's envmap loss on (B, 514) vectors (hue, saturation, 512 brightness values, all on
    a 0-255 scale): cosine loss on the hue (a full turn = 255) + MSE on the saturation +
    log-L2 on the brightness values (papers.md 6.7)."""
    from relight_lib.losses import cosine_angle_loss, envmap_log_l2_loss

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
    total and its named parts (floats, for the history)."""

    def __init__(self, setting: str, envmap_recipe: str = "report",
                 lpips_device: str | torch.device = "cpu") -> None:
        from relight_lib.losses import LPIPSUnavailable, build_loss

        if setting not in LOSS_SETTINGS:
            raise ValueError(f"loss_setting must be one of {sorted(LOSS_SETTINGS)}, "
                             f"got {setting!r}")
        self.setting, self.envmap_recipe = setting, envmap_recipe
        self.lpips = None
        self.weights: dict[str, Any] = {}
        if setting == "C":
            try:
                self.lpips = build_loss("lpips").to(lpips_device)
            except LPIPSUnavailable as e:
                raise NotRunnable("loss setting C is defined by its LPIPS reconstruction "
                                  f"loss, which is unavailable: {str(e).splitlines()[0]}") from e
            info = getattr(self.lpips, "weights_info", None)
            if info is not None:
                self.weights["lpips"] = info.to_dict()

    def envmap_targets(self, batch: Mapping[str, Any], who: str, device) -> torch.Tensor:
        from relight_lib.envmap import envmap_batch

        mode = "rgb" if self.setting == "B" else "hsv"
        return envmap_batch(_temps(batch, f"{who}_temperature", device).long(),
                            _dirs(batch, f"{who}_direction"), recipe=self.envmap_recipe,
                            mode=mode, device=device)

    def predicter_losses(self, out, batch, predicter) -> tuple[torch.Tensor, torch.Tensor, dict]:
        """Mean L_c and L_d over the predictions on I, T (and G when encoded), plus the
        per-pair values of each (for evaluation)."""
        from relight_lib.losses import colour_temperature_loss, cosine_angle_loss

        dev = out["relit"].device
        truth = {"input": ("input_temperature", "input_angle"),
                 "guide": ("guide_temperature", "guide_angle"),
                 "target": ("guide_temperature", "guide_angle")}  # G has T's light
        lc, ld, per = [], [], {"lc": [], "ld": [], "temp_err": [], "dir_err": []}
        for who, (tk, ak) in truth.items():
            light = out.get(f"light_{who}")
            if light is None:
                continue
            pred = predicter(light)
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
        from relight_lib.losses import envmap_log_l2_loss

        relit, target = out["relit"], batch["target"]
        parts: dict[str, torch.Tensor] = {}
        if self.setting == "A":
            parts["mse"] = torch.mean((relit - target) ** 2)
            parts["colour_temperature"], parts["direction"], _ = self.predicter_losses(
                out, batch, predicter)
        elif self.setting == "B":
            parts["l1"] = torch.mean((relit - target).abs())
            for who in ("input", "guide"):
                gt = self.envmap_targets(batch, who, relit.device)
                parts[f"envmap_{who}"] = envmap_log_l2_loss(out[f"light_{who}"], gt)
        else:
            parts["lpips"] = self.lpips(relit, target)
            for who in ("input", "guide"):
                gt = self.envmap_targets(batch, who, relit.device)
                parts[f"envmap_{who}"] = hsv_envmap_loss(out[f"light_{who}"], gt)
        total = sum(parts.values())
        return total, {k: float(v.detach()) for k, v in parts.items()}


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


def _eval_rule(index, rule, name: str, devs: list[str]):
    """The evaluation rule, without ``different_scene`` when the split has a single scene
    (the smoke data's validation split): recorded as a deviation."""
    from relight_lib.data import vidit

    if len(index.scenes) >= 2:
        return rule
    def leaves(r):
        return [x for p in r.parts for x in leaves(p)] if r.op == "and" else [r]

    kept = [r for r in leaves(rule) if r is not vidit.different_scene]
    devs.append(f"evaluation set {name!r}: the split has one scene, so pairs share the scene "
                "(different_scene dropped from the rule)")
    return vidit.all_of(*kept) if kept else vidit.any_pair


def _eval_set(root, split, size, rule, n, name, devs):
    from relight_lib.data.vidit import AnyToAnyDataset, SceneIndex, all_pairs, find_any2any_dir

    index = SceneIndex.from_folder(find_any2any_dir(root, split))
    rule = _eval_rule(index, rule, name, devs)
    try:
        pairs = all_pairs(index, rule, max_candidates=200_000)
        if len(pairs) > n:
            rng = np.random.default_rng(0)
            pairs = [pairs[i] for i in sorted(rng.choice(len(pairs), n, replace=False))]
    except ValueError:  # too many to enumerate: draw lazily
        return AnyToAnyDataset(root, split, rule, size=size, n_pairs=n, seed=0)
    return AnyToAnyDataset(root, split, pairs, size=size)


def _not_run_rows(metric_names: Sequence[str], reason: str, dataset):
    """NaN for every pair and metric, with the reason: claims on this row then say why they
    cannot be tested (rather than "no results")."""
    keys = [p.key for p in dataset.pairs]
    rows = pd.DataFrame([(k, m, float("nan")) for k in keys for m in metric_names],
                        columns=["image", "metric", "value"])
    return rows, {m: reason for m in metric_names}


def _evaluate(net, predicter, objective, dataset, device, want_metrics, progress):
    """metrics.evaluate plus the swap-specific per-pair diagnostics."""
    extra: list[dict[str, np.ndarray]] = []
    keys: list[str] = []

    def predict_fn(batch):
        if net is None:  # identity
            return batch["input"]
        out = net.outputs(batch)
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
            from relight_lib.losses import envmap_log_l2_loss

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


def _train(net, predicter, disc, objective, train_set, *, steps, batch_size, seed, device, lr,
           ckpt: Path, ckpt_every: int, progress: bool):
    from tqdm.auto import tqdm

    from relight_lib.losses import lsgan_discriminator_loss, lsgan_generator_loss
    from relight_lib.train import (batch_indices, collate, load_checkpoint, save_checkpoint,
                                   to_device)

    modules = nn.ModuleDict({"net": net})
    if predicter is not None:
        modules["predicter"] = predicter
    if disc is not None:
        modules["disc"] = disc
    modules.to(device)
    g_params = list(net.parameters()) + (list(predicter.parameters()) if predicter else [])
    opts = _Optimisers(torch.optim.Adam(g_params, lr=lr),
                       torch.optim.Adam(disc.parameters(), lr=lr) if disc is not None else None)
    history: list[dict[str, float]] = []
    start = 0
    if ckpt.exists():
        state = load_checkpoint(ckpt, map_location=device)
        modules.load_state_dict(state["model"])
        opts.load_state_dict(state["optimizer"])
        history, start = list(state["history"]), int(state["step"])
    modules.train()
    step_times = []
    for step in tqdm(range(start, steps), desc="train", disable=not progress,
                     initial=start, total=steps):
        t0 = time.perf_counter()
        idx = batch_indices(len(train_set), batch_size, seed, step)
        batch = to_device(collate([train_set[i] for i in idx]), device)
        out = net.outputs(batch)
        loss, parts = objective(out, batch, predicter)
        rec: dict[str, float] = {}
        if disc is not None:
            fool = lsgan_generator_loss(disc(out["relit"]))
            loss = loss + fool
            parts["gan_generator"] = float(fool.detach())
        opts.g.zero_grad(set_to_none=True)
        loss.backward()
        opts.g.step()
        if disc is not None:
            d_loss = lsgan_discriminator_loss(disc(batch["target"]), disc(out["relit"].detach()))
            opts.d.zero_grad(set_to_none=True)
            d_loss.backward()
            opts.d.step()
            rec["d_loss"] = float(d_loss.detach())
        dt = time.perf_counter() - t0
        step_times.append(dt)
        history.append({"step": step + 1, "loss": float(loss.detach()), **parts, **rec,
                        "seconds": dt})
        if not np.isfinite(history[-1]["loss"]):
            raise FloatingPointError(f"training loss is {history[-1]['loss']} at step {step + 1}")
        if ckpt_every and (step + 1) % ckpt_every == 0 and step + 1 < steps:
            save_checkpoint(ckpt, modules, opts, step=step + 1, history=history)
    if steps > start:
        save_checkpoint(ckpt, modules, opts, step=steps, history=history)
    modules.eval()
    return history, step_times


def run_any_to_any(*, paper: str, table: str, variant: str, profile: str,
                   results_root: str = "results", cache_key: str = "", model: str,
                   model_kwargs: Mapping[str, Any] | None = None,
                   loss_setting: str | None = None, discriminator: bool = False,
                   data_root: str | None = None, seeds: Sequence[int] | None = None,
                   steps: int | None = None, lr: float = 1e-3, envmap_recipe: str = "report",
                   train_pairs: str | None = None, n_eval_pairs: int = 200,
                   extra_tables: bool = True, label: str | None = None,
                   deviations: Sequence[str] = (), progress: bool = False) -> pd.DataFrame:
    """Train ``model`` for each seed of the profile, evaluate it, write the results.

    Args:
        paper, table, variant, profile, results_root, cache_key: Where the row goes.
        model: ``swapnet_illum`` | ``swapnet_envmap`` | ``swapnet_envmap_scene`` (registered
            names) or ``identity`` (no network: the input is the prediction).
        model_kwargs: Constructor arguments of the model.
        loss_setting: ``"A"``, ``"B"`` or ``"C"`` (see the module docstring); must match the
            model's latent (A: illum, B: envmap, C: envmap_scene).
        discriminator: Train a PatchGAN alongside (LSGAN, weight 1).
        data_root: Real VIDIT folder (None: the profile's SynVIDIT any-to-any set).
        seeds, steps: Override the profile's seeds and training steps.
        lr: Adam learning rate (the code uses PyTorch's default 1e-3, betas (0.9, 0.999)).
        envmap_recipe: ``"report"`` (default) or ``"code"`` ground-truth envmaps.
        train_pairs: ``"all"`` (model A's code: every pair) or ``"protocol"`` (different scene
            and direction, models B and C); default by loss setting.
        n_eval_pairs: Pairs per evaluation set (the paper: 10,000), capped by the profile's
            ``eval_limit``.
        extra_tables: Also write the ``subsets`` and ``predicter`` tables.
        label: Human label of the row.
        deviations: Known deviations for this row (to run.json and the page).
        progress: Progress bars (off in papermill runs).

    Returns:
        Per-seed summary of the main table: one row per (seed, metric) with mean, std, count.
    """
    from relight_lib.data import vidit
    from relight_lib.data.vidit import AnyToAnyDataset
    from relight_lib.models import count_parameters
    from relight_lib.models.patchgan import PatchGAN

    cfg = profiles.resolve(profile, data_root=data_root, seeds=seeds, train_steps=steps)
    identity = model == "identity"
    if not identity:
        if loss_setting not in LOSS_SETTINGS:
            raise ValueError(f"loss_setting must be one of {sorted(LOSS_SETTINGS)}")
        kind = getattr(build_swap_model(model, **dict(model_kwargs or {})), "light_kind", None)
        if kind != _LIGHT_KIND[loss_setting]:
            raise ValueError(f"loss setting {loss_setting} needs a {_LIGHT_KIND[loss_setting]} "
                             f"light latent; {model} has {kind}")
    train_pairs = train_pairs or ("all" if loss_setting == "A" else "protocol")
    n_eval = n_eval_pairs if cfg.eval_limit is None else min(n_eval_pairs, cfg.eval_limit)
    root = cfg.any2any_root
    size = cfg.size
    devs_data: list[str] = []
    eval_sets = {
        "full": _eval_set(root, cfg.eval_split, size, vidit.PROTOCOL_2DSCENE, n_eval, "full",
                          devs_data),
    }
    if extra_tables:
        eval_sets["same_colour"] = _eval_set(
            root, cfg.eval_split, size, vidit.PROTOCOL_2DSCENE & vidit.same_colour, n_eval,
            "same_colour", devs_data)
        eval_sets["same_direction"] = _eval_set(
            root, cfg.eval_split, size, vidit.different_scene & vidit.same_direction, n_eval,
            "same_direction", devs_data)
    manifest_sha = profiles.data_manifest_sha256(cfg)
    params = {**cfg.to_dict(), "model": model, "model_kwargs": dict(model_kwargs or {}),
              "loss_setting": loss_setting, "discriminator": discriminator, "lr": lr,
              "betas": [0.9, 0.999], "envmap_recipe": envmap_recipe, "train_pairs": train_pairs,
              "n_eval_pairs": {k: len(v) for k, v in eval_sets.items()}}
    dataset = "SynVIDIT" if cfg.render_preset else "VIDIT"
    device = utils.pick_device(cfg.device)
    summaries = []
    for seed in cfg.seeds:
        t0 = time.perf_counter()
        utils.seed_everything(seed)
        devs = list(deviations) + devs_data
        weights: dict[str, Any] = {}
        history: list[dict] = []
        extra: dict[str, Any] = {}
        net = predicter = disc = objective = None
        reason = None
        if not identity:
            net = build_swap_model(model, **dict(model_kwargs or {}))
            if loss_setting == "A":
                predicter = net.make_predicter(size)
            if discriminator:
                disc = PatchGAN()
            extra["parameters"] = count_parameters(net)
            extra["parameters_predicter"] = count_parameters(predicter) if predicter else 0
            extra["parameters_discriminator"] = count_parameters(disc) if disc else 0
            try:
                objective = SwapObjective(loss_setting, envmap_recipe, device)
            except NotRunnable as e:
                reason = f"not run here: {e}"
        if reason is None and not identity:
            weights.update(objective.weights)
            rule = vidit.any_pair if train_pairs == "all" else vidit.PROTOCOL_2DSCENE
            n_train = cfg.train_steps * cfg.batch_size
            train_set = AnyToAnyDataset(root, "train", rule, size=size, n_pairs=n_train,
                                        seed=seed)
            tag = cache_key[:12] or "adhoc-" + hashlib.sha256(json.dumps(
                params, sort_keys=True, default=str).encode()).hexdigest()[:12]
            ckpt = CHECKPOINT_DIR / tag / cfg.name / paper / table / variant / f"seed={seed}.pt"
            t_train = time.perf_counter()
            history, step_times = _train(
                net, predicter, disc, objective, train_set, steps=cfg.train_steps,
                batch_size=cfg.batch_size, seed=seed, device=device, lr=lr, ckpt=ckpt,
                ckpt_every=50, progress=progress)
            extra["timing"] = {
                "device": str(device), "train_s": time.perf_counter() - t_train,
                "train_step_s_mean": float(np.mean(step_times)) if step_times else None,
                "train_step_s_median": float(np.median(step_times)) if step_times else None}
        # evaluate every set
        evals: dict[str, tuple[pd.DataFrame, dict[str, str]]] = {}
        for name, ds in eval_sets.items():
            want = EVAL_METRICS if name == "full" else SUBSET_METRICS
            if reason is not None:
                evals[name] = _not_run_rows(want, reason, ds)
                continue
            t_eval = time.perf_counter()
            rows, notes, lp_weights = _evaluate(net, predicter, objective, ds, device, want,
                                                progress)
            if name == "full":
                extra.setdefault("timing", {})["eval_s_per_pair"] = \
                    (time.perf_counter() - t_eval) / max(1, len(ds))
                if net is not None and getattr(net, "light_kind", "") == "envmap_rgb":
                    notes.setdefault("scene_latent_mse_same_scene",
                                     "model B has no scene latent (the scene reaches the decoder "
                                     "through the skips only)")
            if lp_weights:
                weights["lpips_metric"] = lp_weights
            evals[name] = (rows, notes)
        common = dict(profile=cfg.name, seed=seed, dataset=dataset, split=cfg.eval_split,
                      params=params, weights=weights, deviations=devs,
                      peak_memory_mb=utils.peak_memory_mb(), cache_key=cache_key,
                      data_manifest_sha256=manifest_sha)
        rows, notes = evals["full"]
        out = results.write_run(results_root, paper=paper, table=table, variant=variant,
                                per_image=rows, notes=notes, label=label or variant,
                                wall_time_s=time.perf_counter() - t0,
                                extra={**extra, "train_steps": len(history)}, **common)
        if extra_tables:
            for name in ("full", "same_colour", "same_direction"):
                r, n = evals[name]
                r = r[r["metric"].isin(SUBSET_METRICS)] if len(r) else r
                results.write_run(results_root, paper=paper, table="subsets",
                                  variant=f"{variant}_{name}", per_image=r,
                                  notes={k: v for k, v in n.items() if k in SUBSET_METRICS},
                                  label=f"{label or variant} ({name.replace('_', ' ')})",
                                  **common)
            if loss_setting == "A" and not identity:
                r, n = evals["full"]
                for which, metric in (("temperature", "temperature_loss"),
                                      ("direction", "direction_loss")):
                    sel = r[r["metric"] == metric].assign(metric="light_loss") if len(r) \
                        else r
                    results.write_run(results_root, paper=paper, table="predicter",
                                      variant=which, per_image=sel,
                                      notes={"light_loss": n[metric]} if metric in n else
                                      ({"light_loss": reason} if reason else None),
                                      label=f"{which} ({label or variant})", **common)
        if history:
            pd.DataFrame(history).to_csv(out / "history.csv", index=False)
        if net is not None and reason is None:
            _figures(out, history, net, eval_sets["full"], objective, device, rows)
        full = rows
        summ = full.groupby("metric")["value"].agg(["mean", "std", "count"]) \
            if len(full) else pd.DataFrame(columns=["mean", "std", "count"])
        summ["seed"] = seed
        summaries.append(summ.reset_index())
    return pd.concat(summaries, ignore_index=True)


def _figures(out: Path, history, net, eval_set, objective, device, rows) -> None:
    """Loss curve, relit examples, latent distances and (models B/C) envmaps under figures/."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from relight_lib.train import collate, to_device

    figs = out / "figures"
    figs.mkdir(exist_ok=True)
    h = pd.DataFrame(history)
    fig, ax = plt.subplots(figsize=(4, 2.5))
    ax.plot(h["step"], h["loss"], lw=1)
    ax.set_xlabel("step")
    ax.set_ylabel("training loss")
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
