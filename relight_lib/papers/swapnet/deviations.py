"""What an any-to-any row (2DSceneRelighting) says about itself: its departures from the report
and its code (run.json and the chapter list them), generated from the row's resolved settings,
and the notes of its plan (what would happen on this machine)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch

from relight_lib.library.models.swapnet import TEMPERATURE_MEAN as T_MEAN
from relight_lib.library.models.swapnet import TEMPERATURE_SCALE as T_SCALE
from relight_lib.papers.swapnet.budget import (PAPER_EVAL_PAIRS, PAPER_SIZE, READ_FRACTION,
                                               VAL_PAIRS, report_read_step, train_config,
                                               validation_interval)
from relight_lib.papers.swapnet.pairs import EVAL_SUBSETS

if TYPE_CHECKING:
    from relight_lib.papers.swapnet.plan import AnyToAnyPlan

__all__ = ["row_deviations", "row_notes"]


def row_deviations(row: AnyToAnyPlan, *, model, setting, envmap_recipe, lpips_form,
                   eval_subsets, extra_tables, train_pairs, read_at) -> list[str]:
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
            seen = b.steps * b.batch_size / max(1, row.n_train)
            out.append(f"Training budget: {b.steps} steps of batch {b.batch_size} (each pair "
                       f"seen about {seen:.2g} time{'' if round(seen, 1) == 1 else 's'}) "
                       f"instead of the report's {report}{read}.")
            tc = train_config(b, 1.0)
            out.append(f"Profile {cfg.name}: Adam warmed up over the first {tc.warmup:.0%} of "
                       f"the steps to the row's rate, then a {tc.schedule.split('_')[-1]} decay "
                       f"to {tc.final_lr / tc.lr:.0%} of it (the code: a constant rate): at a "
                       "few hundred steps a constant rate stops before a plateau.")
        elif read_at is not None and b.read_step != report_read_step(b, setting):
            out.append(f"Evaluated checkpoint: step {b.read_step or b.steps} (read_at={read_at}) "
                       "instead of the report's " + (f"epoch {READ_FRACTION[setting][0]} of 20"
                                                     if setting in READ_FRACTION else "last")
                       + ".")
        if setting in ("B", "C") and row.n_train >= b.n_wanted:
            out.append(f"Training pairs: {row.n_train:,} distinct pairs drawn once per seed; "
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


def row_notes(row: AnyToAnyPlan, *, setting, lr, table) -> list[str]:
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
    if cfg.compile:
        out.append("the profile's torch.compile setting is not used by any-to-any rows (a "
                   "step runs the swap model's own passes and the PatchGAN's, not one forward)")
    if b is not None:
        if b.read_step is not None:
            out.append(f"training runs all {b.steps:,} steps (the learning curve); the "
                       f"evaluated weights are those of step {b.read_step:,}")
        out.append("training pairs are drawn per seed (seed-dependent sample); the plan shows "
                   f"seed {cfg.seeds[0]}'s")
        val_every = validation_interval(cfg, b)
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
