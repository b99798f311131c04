"""Tests of relight_lib.library.metrics (kornia habits: smoke, cardinality, exceptions, gradcheck,
module == functional, known values), SSIM pinned against scikit-image, LPIPS loading offline,
and ``evaluate`` on a tiny in-memory dataset."""

from __future__ import annotations

import contextlib
import dataclasses
import io
import math
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from skimage.metrics import structural_similarity

from relight_lib.library import metrics as M
from relight_lib.library import weights as W

# ---------------------------------------------------------------------------------------------
# fixtures


@pytest.fixture
def pair():
    g = torch.Generator().manual_seed(0)
    a = torch.rand(2, 3, 16, 20, generator=g)
    b = (a + 0.1 * torch.randn(a.shape, generator=g)).clamp(0, 1)
    return a, b


@pytest.fixture
def no_weights(tmp_path, monkeypatch):
    """RELIGHT_WEIGHTS and TORCH_HOME point at empty folders: no AlexNet anywhere."""
    (tmp_path / "w").mkdir()
    (tmp_path / "th").mkdir()
    monkeypatch.setenv("RELIGHT_WEIGHTS", str(tmp_path / "w"))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "th"))
    return tmp_path


@pytest.fixture
def with_weights(no_weights, monkeypatch, fake_alexnet_file):
    """The fake AlexNet in RELIGHT_WEIGHTS, and the registry entry pointed at its name."""
    (no_weights / "w" / fake_alexnet_file.name).symlink_to(fake_alexnet_file)
    spec = dataclasses.replace(W.REGISTRY["alexnet"], files=(fake_alexnet_file.name,))
    monkeypatch.setitem(W.REGISTRY, "alexnet", spec)

    def refuse(*args, **kwargs):
        raise AssertionError("network access attempted")

    monkeypatch.setattr(torch.hub, "load_state_dict_from_url", refuse)
    monkeypatch.setattr(torch.hub, "download_url_to_file", refuse)
    return fake_alexnet_file


# ---------------------------------------------------------------------------------------------
# PSNR / MSE / Score_l2 / SSIM: smoke, cardinality, known values


@pytest.mark.parametrize("fn", [M.psnr, M.ssim, M.mse])
@pytest.mark.parametrize("reduction,shape", [("mean", ()), ("sum", ()), ("none", (2,))])
def test_cardinality(pair, fn, reduction, shape):
    a, b = pair
    out = fn(a, b, reduction=reduction)
    assert out.shape == shape
    assert out.dtype == torch.float32


@pytest.mark.parametrize("reduction,shape", [("mean", ()), ("sum", ()), ("none", (2,))])
def test_score_l2_cardinality(pair, reduction, shape):
    a, b = pair
    assert M.score_l2(a, (a + b) / 2, b, reduction=reduction).shape == shape


def test_reductions_consistent(pair):
    a, b = pair
    for fn in (M.psnr, M.ssim, M.mse):
        per = fn(a, b, reduction="none")
        torch.testing.assert_close(fn(a, b), per.mean())
        torch.testing.assert_close(fn(a, b, reduction="sum"), per.sum())


def test_psnr_constant_offset_is_20db():
    t = torch.full((3, 3, 10, 14), 0.4, dtype=torch.float64)
    out = M.psnr(t + 0.1, t, reduction="none")
    torch.testing.assert_close(out, torch.full((3,), 20.0, dtype=torch.float64))
    # float32 too, to float precision
    assert abs(float(M.psnr(t.float() + 0.1, t.float())) - 20.0) < 1e-4


def test_psnr_data_range():
    t = torch.rand(2, 3, 8, 8)
    p = (t + 0.05).clamp(0, 1)
    torch.testing.assert_close(M.psnr(p * 255, t * 255, data_range=255.0), M.psnr(p, t))


def test_identical_images():
    x = torch.rand(2, 3, 16, 16)
    assert torch.isinf(M.psnr(x, x, reduction="none")).all()
    assert M.psnr(x, x).item() == math.inf  # the mean of +inf values is documented as inf
    torch.testing.assert_close(M.ssim(x, x, reduction="none"), torch.ones(2))
    torch.testing.assert_close(M.ssim_map(x, x), torch.ones(2, 3, 6, 6))
    assert M.mse(x, x).item() == 0.0
    # a constant image: variances are 0, SSIM is still exactly 1 thanks to C1, C2
    c = torch.full((1, 3, 12, 12), 0.3)
    torch.testing.assert_close(M.ssim(c, c), torch.tensor(1.0))


def test_one_perfect_image_makes_mean_inf():
    t = torch.rand(2, 3, 8, 8)
    p = t.clone()
    p[1] += 0.01
    per = M.psnr(p, t, reduction="none")
    assert per[0].item() == math.inf and math.isfinite(per[1].item())
    assert M.psnr(p, t).item() == math.inf


def test_score_l2_orientation():
    g = torch.full((2, 3, 8, 8), 0.5)
    inp = g + 0.2
    # doing nothing -> exactly 1
    torch.testing.assert_close(M.score_l2(inp, inp, g, reduction="none"), torch.ones(2))
    # half the error -> 4x better
    torch.testing.assert_close(M.score_l2(inp, g + 0.1, g), torch.tensor(4.0), atol=1e-4, rtol=0)
    # worse than the input -> < 1
    assert M.score_l2(inp, g + 0.4, g).item() < 1
    # perfect prediction -> inf
    assert M.score_l2(inp, g, g).item() == math.inf
    assert M.score_l2_pairmean(inp, g, g).item() == math.inf
    assert (M.score_l2(inp, g, g, reduction="none") == math.inf).all()


def test_score_l2_is_a_ratio_of_means():
    """The report's Score_l2 (their code: MSE(I, G) / MSE(G_hat, G) with batch-mean MSEs) is a
    ratio of means; score_l2_pairmean averages per-pair ratios, which a pair whose input is
    already close to the ground truth can dominate."""
    g = torch.full((3, 3, 4, 4), 0.5)
    inp = g + torch.tensor([0.3, 0.3, 0.1])[:, None, None, None]
    pred = g + torch.tensor([0.1, 0.1, 0.01])[:, None, None, None]
    a = torch.tensor([0.09, 0.09, 0.01])
    b = torch.tensor([0.01, 0.01, 0.0001])  # the third pair's ratio, 100, dominates a pair mean
    ratio = a.mean() / b.mean()
    torch.testing.assert_close(M.score_l2(inp, pred, g), ratio, rtol=1e-4, atol=0)
    torch.testing.assert_close(M.score_l2_pairmean(inp, pred, g), (a / b).mean(), rtol=1e-4,
                               atol=0)
    assert M.score_l2(inp, pred, g) < 10 < 30 < M.score_l2_pairmean(inp, pred, g)
    # per-image values: linearised contributions whose mean is the ratio
    v = M.score_l2(inp, pred, g, reduction="none")
    torch.testing.assert_close(v.mean(), ratio, rtol=1e-4, atol=0)
    torch.testing.assert_close(v, ratio + (a - ratio * b) / b.mean(), rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(M.score_l2(inp, pred, g, reduction="sum"), 3 * ratio, rtol=1e-4,
                               atol=0)
    # one image: its own ratio, both ways
    torch.testing.assert_close(M.score_l2(inp[:1], pred[:1], g[:1], reduction="none"),
                               (a / b)[:1], rtol=1e-4, atol=0)


def test_evaluate_score_l2_over_the_whole_set(no_weights):
    """In evaluate, Score_l2 is the ratio of means over the whole set, whatever the batch size;
    its per-image rows average to it."""
    data = _dataset(n=5)

    def predict(batch):
        return (0.5 * batch["input"] + 0.5 * batch["target"])

    inp = torch.stack([d["input"] for d in data])
    tgt = torch.stack([d["target"] for d in data])
    expected = float(M.score_l2(inp, predict({"input": inp, "target": tgt}), tgt))
    for bs in (1, 2, 5):
        res = M.evaluate(predict, data, metrics=("score_l2", "score_l2_pairmean"), batch_size=bs,
                         progress=False)
        s = res.summary().set_index("metric")
        assert s.loc["score_l2", "mean"] == pytest.approx(expected, rel=1e-6)
        assert s.loc["score_l2_pairmean", "n_images"] == 5


def test_ssim_lower_for_more_noise():
    g = torch.Generator().manual_seed(1)
    x = torch.rand(1, 3, 32, 32, generator=g)
    n = torch.randn(x.shape, generator=g)
    s1 = M.ssim((x + 0.05 * n).clamp(0, 1), x)
    s2 = M.ssim((x + 0.3 * n).clamp(0, 1), x)
    assert 1 > s1 > s2


def test_ssim_map_shape():
    a = torch.rand(2, 3, 32, 48)
    assert M.ssim_map(a, a).shape == (2, 3, 22, 38)
    assert M.ssim_map(a, a, window_size=7, sigma=1.0).shape == (2, 3, 26, 42)
    # any channel count
    assert M.ssim(torch.rand(1, 1, 16, 16), torch.rand(1, 1, 16, 16)).shape == ()


def test_dssim_mps():
    assert M.dssim(1.0) == 0.0
    assert M.dssim(-1.0) == 1.0
    assert M.dssim(0.6) == pytest.approx(0.2)
    torch.testing.assert_close(M.dssim(torch.tensor([1.0, 0.0])), torch.tensor([0.0, 0.5]))
    assert M.mps(0.8, 0.2) == pytest.approx(0.8)
    assert M.mps(1.0, 0.0) == 1.0
    assert math.isnan(M.mps(0.8, math.nan))
    assert math.isnan(M.mps(0.8, None))
    out = M.mps(torch.tensor([0.8, 0.9]), torch.tensor([0.2, math.nan]))
    assert out[0].item() == pytest.approx(0.8) and math.isnan(out[1].item())
    # LTNet Table 1 style row: MPS recomputed from printed SSIM and LPIPS (papers.md 2.1)
    assert M.mps(0.6860, 0.2710) == pytest.approx(0.7075, abs=1e-4)


# ---------------------------------------------------------------------------------------------
# per-image averaging


def test_per_image_vs_batch_mse():
    """Our PSNR is the mean of per-image PSNRs, not kornia's PSNR of the batch-mean MSE.

    Crafted batch: image 0 has MSE 1e-4 (40 dB), image 1 has MSE 1e-2 (20 dB). Per-image mean:
    30 dB. One MSE over the batch (kornia.metrics.psnr) gives 10 log10(1 / 5.05e-3) = 22.97 dB,
    dominated by the worse image, and it would change with how images are grouped into batches.
    Evaluation scripts that loop over images (and the papers' tables) average per image.
    """
    t = torch.zeros(2, 3, 8, 8, dtype=torch.float64)
    p = t.clone()
    p[0] += 0.01
    p[1] += 0.1
    ours = M.psnr(p, t)
    batch_mse = 10 * torch.log10(1.0 / ((p - t) ** 2).mean())
    torch.testing.assert_close(ours, torch.tensor(30.0, dtype=torch.float64))
    assert abs(batch_mse.item() - 22.967) < 1e-3
    # batch-size invariant: the same as scoring each image alone
    alone = torch.stack([M.psnr(p[i : i + 1], t[i : i + 1]) for i in range(2)]).mean()
    torch.testing.assert_close(ours, alone)


# ---------------------------------------------------------------------------------------------
# SSIM pinned against scikit-image


def _skimage_ssim(a: torch.Tensor, b: torch.Tensor, **kw) -> float:
    return float(structural_similarity(
        a.permute(1, 2, 0).double().numpy(), b.permute(1, 2, 0).double().numpy(),
        gaussian_weights=True, sigma=kw.get("sigma", 1.5), use_sample_covariance=False,
        data_range=1, channel_axis=-1,
    ))


def _structured(h: int, w: int) -> tuple[torch.Tensor, torch.Tensor]:
    yy, xx = torch.meshgrid(torch.linspace(0, 1, h), torch.linspace(0, 1, w), indexing="ij")
    checker = ((torch.arange(h)[:, None] // 4 + torch.arange(w)[None] // 4) % 2).float()
    a = torch.stack([xx, yy, 0.5 * checker + 0.25])
    # b: relit-like change: gain, a shifted copy, a dark "shadow" box
    b = (0.8 * a + 0.1).roll(shifts=(1, 2), dims=(1, 2))
    b[:, h // 4 : h // 2, w // 3 : w // 2] *= 0.2
    return a, b.clamp(0, 1)


def _random(h: int, w: int, seed: int, noise: float) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    a = torch.rand(3, h, w, generator=g)
    b = (a + noise * torch.randn(a.shape, generator=g)).clamp(0, 1)
    return a, b


@pytest.mark.parametrize(
    "a,b",
    [
        _random(32, 48, 0, 0.1),
        _random(32, 48, 1, 0.5),
        _random(11, 11, 2, 0.2),
        _random(40, 23, 3, 0.05),
        _structured(32, 48),
        _structured(64, 40),
        (torch.rand(3, 24, 24), torch.rand(3, 24, 24)),  # unrelated images, SSIM near 0
    ],
    ids=["rand32x48-lo", "rand32x48-hi", "rand11x11", "rand40x23", "struct32x48", "struct64x40",
         "unrelated"],
)
def test_ssim_matches_skimage(a, b):
    ref = _skimage_ssim(a, b)
    ours = M.ssim(a[None], b[None]).item()
    assert abs(ours - ref) < 1e-4, (ours, ref)
    # float64 agrees far more tightly: the formula is the same, only rounding differs
    ours64 = M.ssim(a[None].double(), b[None].double()).item()
    assert abs(ours64 - ref) < 1e-10


def test_ssim_matches_skimage_other_sigma():
    """skimage's window for sigma=1.0 (truncate 3.5) is 9: the same valid filter with window 9."""
    a, b = _random(30, 30, 5, 0.2)
    ref = _skimage_ssim(a, b, sigma=1.0)
    ours = M.ssim(a[None].double(), b[None].double(), window_size=9, sigma=1.0).item()
    assert abs(ours - ref) < 1e-10


def test_ssim_batch_equals_per_image_skimage():
    a = torch.stack([_random(32, 48, s, 0.2)[0] for s in range(3)])
    b = torch.stack([_random(32, 48, s, 0.2)[1] for s in range(3)])
    ref = torch.tensor([_skimage_ssim(a[i], b[i]) for i in range(3)], dtype=torch.float32)
    torch.testing.assert_close(M.ssim(a, b, reduction="none"), ref, atol=1e-4, rtol=0)


# ---------------------------------------------------------------------------------------------
# exceptions


@pytest.mark.parametrize("fn", [M.psnr, M.ssim, M.mse])
def test_errors(fn):
    a = torch.rand(1, 3, 16, 16)
    with pytest.raises(ValueError, match="shape mismatch"):
        fn(a, torch.rand(1, 3, 16, 15))
    with pytest.raises(ValueError, match="rank 4"):
        fn(a[0], a[0])
    with pytest.raises(ValueError, match="reduction"):
        fn(a, a, reduction="avg")
    with pytest.raises(TypeError):
        fn(a.numpy(), a)
    with pytest.raises(ValueError, match="floating"):
        fn((a * 255).to(torch.uint8), (a * 255).to(torch.uint8))


def test_ssim_errors():
    a = torch.rand(1, 3, 10, 16)
    with pytest.raises(ValueError, match="smaller than the SSIM window"):
        M.ssim(a, a)
    with pytest.raises(ValueError, match="odd"):
        M.ssim(a, a, window_size=4)
    with pytest.raises(ValueError, match="data_range"):
        M.ssim(a, a, window_size=3, data_range=0)
    with pytest.raises(ValueError, match="data_range"):
        M.psnr(a, a, data_range=-1.0)
    with pytest.raises(ValueError, match="rank 4"):
        M.score_l2(a[0], a, a)


# ---------------------------------------------------------------------------------------------
# gradients (float64)


def test_gradcheck_psnr():
    g = torch.Generator().manual_seed(0)
    p = torch.rand(2, 3, 5, 6, generator=g, dtype=torch.float64, requires_grad=True)
    t = torch.rand(2, 3, 5, 6, generator=g, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(M.psnr, (p, t))
    assert torch.autograd.gradcheck(lambda x, y: M.psnr(x, y, reduction="none"), (p, t))


def test_gradcheck_ssim():
    g = torch.Generator().manual_seed(0)
    p = torch.rand(1, 3, 12, 12, generator=g, dtype=torch.float64, requires_grad=True)
    t = torch.rand(1, 3, 12, 12, generator=g, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(M.ssim, (p, t))


def test_gradcheck_score_l2():
    g = torch.Generator().manual_seed(0)
    i, p, t = (torch.rand(1, 3, 4, 4, generator=g, dtype=torch.float64, requires_grad=True)
               for _ in range(3))
    assert torch.autograd.gradcheck(M.score_l2, (i, p, t))


# ---------------------------------------------------------------------------------------------
# module == functional


@pytest.mark.parametrize("reduction", ["mean", "none", "sum"])
def test_module_equals_functional(pair, reduction):
    a, b = pair
    torch.testing.assert_close(M.PSNR(reduction=reduction)(a, b), M.psnr(a, b, reduction=reduction))
    torch.testing.assert_close(M.SSIM(reduction=reduction)(a, b), M.ssim(a, b, reduction=reduction))
    torch.testing.assert_close(M.MSE(reduction=reduction)(a, b), M.mse(a, b, reduction=reduction))
    m = (a + b) / 2
    torch.testing.assert_close(M.ScoreL2(reduction)(a, m, b), M.score_l2(a, m, b, reduction))
    torch.testing.assert_close(
        M.SSIM(window_size=7, sigma=1.0, data_range=2.0, reduction=reduction)(a, b),
        M.ssim(a, b, 7, 1.0, 2.0, reduction),
    )


def test_module_rejects_bad_args():
    with pytest.raises(ValueError):
        M.PSNR(reduction="avg")
    with pytest.raises(ValueError):
        M.SSIM(data_range=0)


# ---------------------------------------------------------------------------------------------
# LPIPS


def test_lpips_unavailable_without_weights(no_weights):
    m = M.LPIPSMetric()
    assert m.available is False
    assert "alexnet" in m.reason
    assert str(no_weights / "w") in m.reason and "RELIGHT_WEIGHTS" in m.reason
    assert m.weights is None
    x = torch.rand(2, 3, 32, 32)
    out = m(x, x)
    assert out.shape == (2,) and torch.isnan(out).all()
    assert math.isnan(M.lpips_distance(x, x, metric=m).item())
    # the cached factory sees the same (empty) folders
    shared = M.lpips_metric()
    assert shared is M.lpips_metric() and not shared.available
    assert math.isnan(M.lpips_distance(x, x).item())


def _build_quietly() -> tuple[M.LPIPSMetric, list[warnings.WarningMessage], str]:
    out = io.StringIO()
    with warnings.catch_warnings(record=True) as rec, contextlib.redirect_stdout(out):
        warnings.simplefilter("always")
        m = M.LPIPSMetric()
    return m, rec, out.getvalue()


def test_lpips_loads_trunk_from_file(with_weights):
    """Random AlexNet weights only test the mechanism: the trunk is exactly the file's tensors,
    the heads are the wheel's, values behave like a distance. They say nothing about LPIPS."""
    m, rec, printed = _build_quietly()
    assert m.available, m.reason
    assert m.reason == ""
    assert printed == ""  # lpips's "Setting up [LPIPS]..." is silenced
    bad = [w for w in rec if issubclass(w.category, (UserWarning, DeprecationWarning))]
    assert not bad, [str(w.message) for w in bad]
    assert not any("pretrained" in str(w.message) for w in rec)

    state = torch.load(with_weights, weights_only=True)
    trunk = m.model.net
    for k, sl in [(0, trunk.slice1), (3, trunk.slice2), (6, trunk.slice3), (8, trunk.slice4),
                  (10, trunk.slice5)]:
        torch.testing.assert_close(getattr(sl, str(k)).weight, state[f"features.{k}.weight"])
        torch.testing.assert_close(getattr(sl, str(k)).bias, state[f"features.{k}.bias"])
    import lpips

    heads = torch.load(Path(lpips.__file__).parent / "weights/v0.1/alex.pth",
                       map_location="cpu", weights_only=True)
    torch.testing.assert_close(m.model.lin2.model[1].weight, heads["lin2.model.1.weight"])
    assert m.weights.source == "file"
    assert m.weights.sha256.startswith(with_weights.name.split("-")[-1][:8])
    assert not any(p.requires_grad for p in m.parameters())


def test_lpips_values(with_weights):
    m = M.LPIPSMetric()
    g = torch.Generator().manual_seed(0)
    x = torch.rand(2, 3, 48, 48, generator=g)
    n = torch.randn(x.shape, generator=g)
    near, far = (x + 0.05 * n).clamp(0, 1), (x + 0.4 * n).clamp(0, 1)
    d_same = m(x, x)
    d_near, d_far = m(near, x), m(far, x)
    assert torch.isfinite(d_near).all() and torch.isfinite(d_far).all()
    torch.testing.assert_close(d_same, torch.zeros(2), atol=1e-6, rtol=0)
    torch.testing.assert_close(m(x, near), d_near, atol=1e-5, rtol=1e-4)  # symmetric
    assert (d_far > d_near).all() and (d_near > 0).all()
    # functional form and reductions
    torch.testing.assert_close(M.lpips_distance(near, x, metric=m), d_near.mean())
    torch.testing.assert_close(M.LPIPSMetric(reduction="sum")(near, x), d_near.sum())


def test_lpips_input_checks(no_weights):
    m = M.LPIPSMetric()
    x = torch.rand(1, 3, 32, 32)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        m(x * 2 - 1, x)  # [-1, 1] images: the classic scale mistake
    with pytest.raises(ValueError, match="RGB"):
        m(x[:, :1], x[:, :1])
    with pytest.raises(ValueError, match="32"):
        m(x[..., :16, :16], x[..., :16, :16])
    with pytest.raises(ValueError, match="shape mismatch"):
        m(x, x[..., :31])
    with pytest.raises(ValueError, match="net"):
        M.LPIPSMetric(net="squeeze")


# ---------------------------------------------------------------------------------------------
# evaluate


def _dataset(n: int = 5, h: int = 32, w: int = 32) -> list[dict]:
    g = torch.Generator().manual_seed(3)
    items = []
    for i in range(n):
        t = torch.rand(3, h, w, generator=g)
        inp = (0.7 * t + 0.1 * torch.rand(3, h, w, generator=g)).clamp(0, 1)
        items.append({"input": inp, "target": t, "depth": torch.rand(1, h, w, generator=g),
                      "key": f"Image{i:03d}"})
    return items


def test_evaluate_identity(no_weights):
    data = _dataset()
    seen = []

    def identity(batch):
        seen.append(set(batch))
        return batch["input"]

    res = M.evaluate(identity, data, batch_size=2, progress=False)
    assert seen[0] == {"input", "target", "depth", "key"} and len(seen) == 3
    assert list(res.rows.columns) == ["image", "metric", "value"]
    assert len(res.rows) == 5 * 5
    assert list(res.rows["image"][:5]) == ["Image000"] * 5  # image-major
    w = res.wide()
    assert (w["score_l2"] == 1.0).all()  # exactly: the prediction *is* the input
    inp = torch.stack([d["input"] for d in data])
    tgt = torch.stack([d["target"] for d in data])
    np.testing.assert_allclose(w["psnr"].to_numpy(), M.psnr(inp, tgt, reduction="none").numpy(),
                               rtol=1e-6)
    np.testing.assert_allclose(w["ssim"].to_numpy(), M.ssim(inp, tgt, reduction="none").numpy(),
                               rtol=1e-6)
    # LPIPS is unavailable here: NaN, and MPS with it, with reasons
    assert w["lpips"].isna().all() and w["mps"].isna().all()
    assert "alexnet" in res.notes["lpips"] and "LPIPS" in res.notes["mps"]
    assert set(res.notes) == {"lpips", "mps"}
    s = res.summary().set_index("metric")
    assert list(s.columns) == ["mean", "sd", "n_images"]
    assert list(s.index) == ["psnr", "ssim", "lpips", "mps", "score_l2"]
    assert s.loc["psnr", "n_images"] == 5 and s.loc["lpips", "n_images"] == 0
    assert math.isnan(s.loc["lpips", "mean"])
    assert s.loc["score_l2", "mean"] == 1.0 and s.loc["score_l2", "sd"] == 0.0
    assert s.loc["psnr", "mean"] == pytest.approx(w["psnr"].mean())


def test_evaluate_perfect_and_limit(no_weights):
    data = _dataset()
    res = M.evaluate(lambda b: b["target"].clone(), data, metrics=("psnr", "ssim", "mse"),
                     batch_size=4, progress=False, limit=3)
    w = res.wide()
    assert list(w.index) == ["Image000", "Image001", "Image002"]
    assert np.isinf(w["psnr"]).all()
    np.testing.assert_allclose(w["ssim"], 1.0, atol=1e-6)
    assert (w["mse"] == 0).all()
    assert res.notes == {}
    assert res.summary().set_index("metric").loc["psnr", "mean"] == math.inf


def test_evaluate_clamps_predictions(no_weights):
    data = _dataset(2)
    res = M.evaluate(lambda b: b["target"] + 5.0, data, metrics=("mse",), progress=False)
    tgt = torch.stack([d["target"] for d in data])
    expected = M.mse(torch.ones_like(tgt), tgt, reduction="none").double().numpy()
    np.testing.assert_allclose(res.wide()["mse"].to_numpy(), expected, rtol=1e-6)


def test_evaluate_with_lpips(with_weights):
    data = _dataset(3)
    res = M.evaluate(lambda b: b["input"], data, progress=False)
    w = res.wide()
    assert np.isfinite(w["lpips"]).all() and np.isfinite(w["mps"]).all()
    np.testing.assert_allclose(w["mps"], 0.5 * (w["ssim"] + 1 - w["lpips"]), rtol=1e-6)
    assert res.notes == {}
    assert res.lpips_weights["source"] == "file"


def test_evaluate_errors(no_weights):
    data = _dataset(2)
    with pytest.raises(ValueError, match="unknown metrics"):
        M.evaluate(lambda b: b["input"], data, metrics=("psnr", "fid"), progress=False)
    with pytest.raises(ValueError, match="shaped like"):
        M.evaluate(lambda b: b["input"][:, :, :16], data, metrics=("psnr",), progress=False)
    with pytest.raises(ValueError, match="target"):
        M.evaluate(lambda b: b["input"], [{"input": torch.rand(3, 32, 32), "key": "a"}],
                   metrics=("psnr",), progress=False)


@pytest.mark.parametrize("dtype, tol", [(torch.float64, 1e-12), (torch.float32, 1e-5)])
def test_ssim_map_from_kornia_equals_the_separable_formula(dtype, tol):
    g = torch.Generator().manual_seed(3)
    a, b = torch.rand(2, 3, 40, 33, generator=g, dtype=dtype), torch.rand(2, 3, 40, 33,
                                                                          generator=g, dtype=dtype)
    ours = M._ssim_map_separable(a, b, 11, 1.5, 1.0)
    torch.testing.assert_close(M.ssim_map(a, b), ours, atol=tol, rtol=0)
    # another sigma keeps the separable formula (kornia's Gaussian is fixed at 1.5)
    torch.testing.assert_close(M.ssim_map(a, b, sigma=2.0),
                               M._ssim_map_separable(a, b, 11, 2.0, 1.0), atol=0, rtol=0)
