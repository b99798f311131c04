"""The figures of an any-to-any row (2DSceneRelighting), under ``figures/`` of each seed."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import torch

__all__ = ["write_figures"]


def write_figures(out: Path, history, net, eval_set, objective, device, rows,
                  examples: bool = True) -> None:
    """Learning curves (training loss and, when validated, validation PSNR) and latent
    distances under figures/; with ``examples`` (the profile's first seed: the only one a page
    shows), also the relit examples and (models B/C) the envmaps. Saved compact
    (:func:`relight_lib.library.record.save_figure`)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from relight_lib.library import record
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
    record.save_figure(fig, figs / "loss.png")

    lat = rows[rows["metric"].str.startswith(("scene_latent", "light_latent"))]
    if len(lat):
        fig, ax = plt.subplots(figsize=(5, 2.8))
        for m, g in lat.groupby("metric"):
            ax.hist(np.log10(g["value"].clip(lower=1e-12)), bins=20, alpha=0.5, label=m)
        ax.set_xlabel("log10 latent MSE between two images of a pair")
        ax.legend(fontsize=6)
        fig.tight_layout()
        record.save_figure(fig, figs / "latents.png")
    if not examples:
        return

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
    record.save_figure(fig, figs / "examples.png")

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
        record.save_figure(fig, figs / "envmaps.png")
