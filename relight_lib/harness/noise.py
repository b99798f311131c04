"""Image noise against seed noise, from committed per-image results.

The test split of the short profiles is sized so that the image sampling noise of a row's mean
is small next to the noise between seeds (spec/evidence.md section 2). This module measures
both on any profile's ``per_image.csv`` files, so the choice can be checked again after a
rerun (:data:`relight_lib.library.data.synvidit.PER_SEED` gives the numbers it was made with).
"""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pandas as pd


def per_image_values(results_root: str | Path, profile: str, metric: str = "psnr",
                     papers: list[str] | None = None) -> pd.DataFrame:
    """Every finite per-image value of ``metric`` at ``profile``: columns ``paper, table,
    variant, seed, image, value`` (from ``<root>/<profile>/<paper>/<table>/<variant>/seed=<s>/
    per_image.csv``)."""
    frames = []
    for f in sorted(Path(results_root, profile).glob("*/*/*/seed=*/per_image.csv")):
        paper, table, variant, seed_dir = f.parts[-5:-1]
        if papers is not None and paper not in papers:
            continue
        d = pd.read_csv(f)
        d = d[(d["metric"] == metric) & np.isfinite(pd.to_numeric(d["value"], errors="coerce"))]
        frames.append(d.assign(paper=paper, table=table, variant=variant,
                               seed=int(seed_dir.split("=", 1)[1]))[
            ["paper", "table", "variant", "seed", "image", "value"]])
    cols = ["paper", "table", "variant", "seed", "image", "value"]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=cols)


def noise_sizes(values: pd.DataFrame, min_seeds: int = 3) -> pd.DataFrame:
    """For every pair of rows (variants) of one table that share at least ``min_seeds`` seeds:
    ``sd_image``, the sd over images of the per-image difference between the two rows (paired on
    seed and image; the within-seed variances pooled over seeds), ``sd_seed``, the sd over seeds
    of the per-seed mean difference, ``n_images`` (median per seed), ``se_image`` =
    ``sd_image / sqrt(n_images)`` and ``n_for_half``, the number of images at which the image
    noise of the mean would be half the seed sd. Pairs with ``sd_seed`` = 0 (deterministic
    rows) are left out.

    ``values``: the frame of :func:`per_image_values`.
    """
    out = []
    for (paper, table), g in values.groupby(["paper", "table"]):
        for a, b in itertools.combinations(sorted(g["variant"].unique()), 2):
            sa = g[g["variant"] == a].set_index(["seed", "image"])["value"]
            sb = g[g["variant"] == b].set_index(["seed", "image"])["value"]
            j = pd.concat([sa, sb], axis=1, keys=["a", "b"], join="inner").dropna()
            if j.empty:
                continue
            per = (j["a"] - j["b"]).groupby(level=0).agg(["mean", "var", "count"])
            if len(per) < min_seeds:
                continue
            sd_seed = float(per["mean"].std(ddof=1))
            if not sd_seed > 0:
                continue
            sd_image = float(np.sqrt(per["var"].mean()))
            n = float(per["count"].median())
            out.append({"paper": paper, "table": table, "a": a, "b": b, "seeds": len(per),
                        "n_images": n, "sd_image": sd_image, "sd_seed": sd_seed,
                        "se_image": sd_image / np.sqrt(n),
                        "n_for_half": (sd_image / (0.5 * sd_seed)) ** 2})
    cols = ["paper", "table", "a", "b", "seeds", "n_images", "sd_image", "sd_seed", "se_image",
            "n_for_half"]
    return pd.DataFrame(out, columns=cols)
