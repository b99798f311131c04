"""Image noise against seed noise (the measurement that sizes the test split)."""

import numpy as np
import pandas as pd
import pytest

from relight_lib.harness import noise


def _values(diffs: dict[int, list[float]], base: float = 20.0) -> pd.DataFrame:
    """Rows a and b of one table; b is a plus the given per-image differences per seed."""
    rows = []
    for seed, ds in diffs.items():
        for i, d in enumerate(ds):
            rows += [("p", "t", "a", seed, f"Image{i:03d}", base),
                     ("p", "t", "b", seed, f"Image{i:03d}", base + d)]
    return pd.DataFrame(rows, columns=["paper", "table", "variant", "seed", "image", "value"])


def test_noise_sizes_known_values():
    # per-seed differences: means 0, 1, 2 (sd over seeds 1); within each seed sd 2
    v = _values({0: [-2, 2, -2, 2], 1: [-1, 3, -1, 3], 2: [0, 4, 0, 4]})
    (row,) = noise.noise_sizes(v).to_dict("records")
    assert (row["a"], row["b"], row["seeds"], row["n_images"]) == ("a", "b", 3, 4)
    assert row["sd_seed"] == pytest.approx(1.0)
    assert row["sd_image"] == pytest.approx(np.std([-2, 2, -2, 2], ddof=1))
    assert row["se_image"] == pytest.approx(row["sd_image"] / 2)
    assert row["n_for_half"] == pytest.approx((row["sd_image"] / 0.5) ** 2)


def test_noise_sizes_leaves_out_too_few_seeds_and_deterministic_pairs():
    assert noise.noise_sizes(_values({0: [1, 2], 1: [1, 3]})).empty  # 2 seeds < 3
    assert noise.noise_sizes(_values({0: [1, 2], 1: [1, 2], 2: [2, 1]})).empty  # sd_seed 0


def test_per_image_values_reads_the_results_layout(tmp_path):
    for variant, value in (("a", 20.0), ("b", 21.0)):
        d = tmp_path / "quick" / "p" / "t" / variant / "seed=1"
        d.mkdir(parents=True)
        pd.DataFrame({"image": ["Image000", "Image000"], "metric": ["psnr", "ssim"],
                      "value": [value, float("nan")]}).to_csv(d / "per_image.csv", index=False)
    v = noise.per_image_values(tmp_path, "quick")
    assert sorted(v["variant"]) == ["a", "b"] and set(v["seed"]) == {1}
    assert noise.per_image_values(tmp_path, "quick", metric="ssim").empty  # NaN dropped
    assert noise.per_image_values(tmp_path, "quick", papers=["other"]).empty
