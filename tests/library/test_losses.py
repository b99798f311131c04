"""Tests of relight_lib.library.losses (kornia habits: smoke, exceptions, cardinality per reduction,
gradcheck in float64, module == functional, known values), plus the VGG perceptual loss with a
random backbone (no weights here) and the LPIPS loss with and without a (fake) AlexNet file.

Everything runs offline on a CPU: every test that could look for weights points RELIGHT_WEIGHTS
and TORCH_HOME at empty temporary folders and makes torch.hub refuse to download.
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
from collections.abc import Callable
from pathlib import Path

import pytest
import torch
import torchvision
from torch import nn

from relight_lib.library import losses as L
from relight_lib.library import metrics as M
from relight_lib.library import weights as W

REDUCTIONS = [("mean", ()), ("sum", ()), ("none", (2,))]


def _gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _images(b: int = 2, c: int = 3, h: int = 16, w: int = 16, dtype=torch.float32, seed: int = 0):
    g = _gen(seed)
    a = torch.rand(b, c, h, w, generator=g, dtype=dtype)
    t = (a + 0.2 * torch.randn(a.shape, generator=g, dtype=dtype)).clamp(0, 1)
    return a, t


# ---------------------------------------------------------------------------------------------
# The table of cheap losses: name -> (functional, module class, kwargs, input maker).
# An input maker returns the positional tensors of the loss for a batch of 2 in a dtype.


def _pair_images(dtype=torch.float32, size: int = 16):
    return _images(2, 3, size, size, dtype)


def _single_image(dtype=torch.float32, size: int = 16):
    return (_images(2, 3, size, size, dtype)[0],)


def _envmaps(dtype=torch.float32, size: int = 12):
    g = _gen(1)
    return (255 * torch.rand(2, size, generator=g, dtype=dtype),
            255 * torch.rand(2, size, generator=g, dtype=dtype))


def _angles(dtype=torch.float32, size: int = 0):
    g = _gen(2)
    return (360 * torch.rand(2, generator=g, dtype=dtype),
            360 * torch.rand(2, generator=g, dtype=dtype))


def _kelvin(dtype=torch.float32, size: int = 0):
    g = _gen(3)
    return (2500 + 4000 * torch.rand(2, generator=g, dtype=dtype),
            2500 + 4000 * torch.rand(2, generator=g, dtype=dtype))


def _logits_pair(dtype=torch.float32, size: int = 4):
    g = _gen(4)
    return (torch.randn(2, 1, size, size, generator=g, dtype=dtype),
            torch.randn(2, 1, size, size, generator=g, dtype=dtype))


def _logits(dtype=torch.float32, size: int = 4):
    return (_logits_pair(dtype, size)[0],)


@pytest.fixture(scope="module", autouse=True)
def _one_thread():
    """Tiny tensors gain nothing from threads, and on a shared 2-core machine OpenMP's spinning
    threads make each small conv ~100x slower (SSIM gradcheck: 40 s instead of 0.5 s)."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


CASES: dict[str, tuple[Callable, type[nn.Module], dict, Callable]] = {
    "mse": (L.mse_loss, L.MSELoss, {}, _pair_images),
    "l1": (L.l1_loss, L.L1Loss, {}, _pair_images),
    "charbonnier": (L.charbonnier_loss, L.CharbonnierLoss, {}, _pair_images),
    "charbonnier_colour": (L.charbonnier_loss, L.CharbonnierLoss,
                           {"eps": 0.05, "colour": True}, _pair_images),
    "ssim_one_minus": (L.ssim_loss, L.SSIMLoss, {}, _pair_images),
    "ssim_negative": (L.ssim_loss, L.SSIMLoss, {"form": "negative", "window_size": 7,
                                                 "sigma": 1.0}, _pair_images),
    "residual": (L.residual_loss, L.ResidualLoss, {}, _pair_images),
    "tv": (L.tv_loss, L.TVLoss, {}, _single_image),
    "sobel": (L.sobel_loss, L.SobelLoss, {}, _pair_images),
    "combined_sobel": (L.combined_sobel_loss, L.CombinedSobelLoss,
                       {"sobel_weight": 0.5, "l2_weight": 2.0}, _pair_images),
    "envmap_log_l2": (L.envmap_log_l2_loss, L.EnvmapLogL2Loss, {}, _envmaps),
    "cosine_angle": (L.cosine_angle_loss, L.CosineAngleLoss, {"period": 255.0}, _angles),
    "colour_temperature": (L.colour_temperature_loss, L.ColourTemperatureLoss, {}, _kelvin),
    "lsgan_generator": (L.lsgan_generator_loss, L.LSGANGeneratorLoss, {}, _logits),
    "lsgan_discriminator": (L.lsgan_discriminator_loss, L.LSGANDiscriminatorLoss, {},
                            _logits_pair),
}


@pytest.fixture
def offline(tmp_path, monkeypatch):
    """No weights anywhere (empty RELIGHT_WEIGHTS and TORCH_HOME), no downloads, fresh LPIPS
    cache (restored afterwards, so other tests never see an instance built here)."""
    (tmp_path / "w").mkdir()
    (tmp_path / "th").mkdir()
    monkeypatch.setenv("RELIGHT_WEIGHTS", str(tmp_path / "w"))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "th"))
    monkeypatch.setenv("RELIGHT_OFFLINE", "1")  # weights.fetch_weights must not even try

    def refuse(*args, **kwargs):
        raise AssertionError("network access attempted")

    monkeypatch.setattr(torch.hub, "load_state_dict_from_url", refuse)
    monkeypatch.setattr(torch.hub, "download_url_to_file", refuse)
    M.lpips_metric.cache_clear()
    yield tmp_path
    M.lpips_metric.cache_clear()


# ---------------------------------------------------------------------------------------------
# smoke, cardinality, module == functional


@pytest.mark.parametrize("name", list(CASES))
@pytest.mark.parametrize("reduction,shape", REDUCTIONS)
def test_cardinality(name, reduction, shape):
    fn, _, kw, make = CASES[name]
    out = fn(*make(), **kw, reduction=reduction)
    assert out.shape == shape
    assert out.dtype == torch.float32
    assert torch.isfinite(out).all()


@pytest.mark.parametrize("name", list(CASES))
def test_reductions_agree(name):
    fn, _, kw, make = CASES[name]
    args = make()
    per = fn(*args, **kw, reduction="none")
    torch.testing.assert_close(fn(*args, **kw), per.mean())
    torch.testing.assert_close(fn(*args, **kw, reduction="sum"), per.sum())
    # per-sample values do not depend on the rest of the batch
    first = fn(*(a[:1] for a in args), **kw, reduction="none")
    torch.testing.assert_close(first, per[:1])


@pytest.mark.parametrize("name", list(CASES))
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_module_equals_functional(name, reduction):
    fn, cls, kw, make = CASES[name]
    args = make()
    module = cls(**kw, reduction=reduction)
    assert isinstance(module, nn.Module)
    torch.testing.assert_close(module(*args), fn(*args, **kw, reduction=reduction))


@pytest.mark.parametrize("name", list(CASES))
def test_gradcheck(name):
    fn, _, kw, make = CASES[name]
    size = {"ssim_one_minus": 12, "ssim_negative": 8}.get(name, 5)
    # small inputs: gradcheck perturbs each element twice
    args = tuple(a[:1].clone().requires_grad_(True) for a in make(torch.float64, size))
    for reduction in ("mean", "none"):
        assert torch.autograd.gradcheck(lambda *x, r=reduction: fn(*x, **kw, reduction=r), args)


# ---------------------------------------------------------------------------------------------
# exceptions


@pytest.mark.parametrize("name", list(CASES))
def test_bad_reduction(name):
    fn, cls, kw, make = CASES[name]
    with pytest.raises(ValueError, match="reduction"):
        fn(*make(), **kw, reduction="avg")
    with pytest.raises(ValueError, match="reduction"):
        cls(**kw, reduction="avg")


@pytest.mark.parametrize("name", [n for n in CASES if len(CASES[n][3]()) == 2])
def test_shape_mismatch(name):
    fn, cls, kw, make = CASES[name]
    a, b = make()
    with pytest.raises(ValueError, match="shape mismatch"):
        fn(a, b[:1], **kw)
    with pytest.raises(ValueError, match="shape mismatch"):
        cls(**kw)(a, b[:1])


IMAGE_LOSSES = [n for n, c in CASES.items() if c[3] in (_pair_images, _single_image)]


@pytest.mark.parametrize("name", IMAGE_LOSSES)
def test_image_losses_need_rank_4(name):
    fn, _, kw, make = CASES[name]
    args = make()
    with pytest.raises(ValueError, match="rank 4"):
        fn(*(a[0] for a in args), **kw)  # (3, H, W): one item without its batch dimension
    with pytest.raises(ValueError, match="rank 4"):
        fn(*(a.unsqueeze(0) for a in args), **kw)


@pytest.mark.parametrize("name", [n for n in CASES if n not in IMAGE_LOSSES])
def test_vector_losses_reject_scalars(name):
    fn, _, kw, make = CASES[name]
    with pytest.raises(ValueError, match="rank"):
        fn(*(a.flatten()[0] for a in make()), **kw)


def test_type_and_dtype_errors():
    x = torch.rand(1, 3, 8, 8)
    with pytest.raises(TypeError, match="torch.Tensor"):
        L.charbonnier_loss(x.numpy(), x)
    with pytest.raises(ValueError, match="floating"):
        L.residual_loss((x * 255).to(torch.uint8), (x * 255).to(torch.uint8))


def test_argument_errors():
    x = torch.rand(1, 3, 12, 12)
    with pytest.raises(ValueError, match="eps"):
        L.charbonnier_loss(x, x, eps=-1.0)
    with pytest.raises(ValueError, match="eps"):
        L.CharbonnierLoss(eps=-1.0)
    with pytest.raises(ValueError, match="form"):
        L.ssim_loss(x, x, form="dssim")
    with pytest.raises(ValueError, match="form"):
        L.SSIMLoss(form="dssim")
    with pytest.raises(ValueError, match="window"):
        L.ssim_loss(x[..., :8, :8], x[..., :8, :8])  # smaller than the 11 x 11 window
    with pytest.raises(ValueError, match="H, W >= 2"):
        L.tv_loss(x[..., :1, :])
    with pytest.raises(ValueError, match="H, W >= 3"):
        L.sobel_loss(x[..., :2, :], x[..., :2, :])
    with pytest.raises(ValueError, match="period"):
        L.cosine_angle_loss(torch.zeros(2), torch.zeros(2), period=0)
    with pytest.raises(ValueError, match="scale"):
        L.ColourTemperatureLoss(scale=-1)
    with pytest.raises(ValueError, match="<= -1"):
        L.envmap_log_l2_loss(torch.full((2, 4), -1.0), torch.zeros(2, 4))
    with pytest.raises(ValueError, match="distance"):
        L.perceptual_loss(x, x, nn.Identity(), distance="l3")
    with pytest.raises(ValueError, match="RGB"):
        L.perceptual_loss(x[:, :1], x[:, :1], nn.Identity())


# ---------------------------------------------------------------------------------------------
# known values


def test_charbonnier_is_eps_at_identity():
    """sqrt(0 + eps**2) = eps exactly per element (not 0: nothing is subtracted)."""
    x = torch.rand(2, 3, 8, 8, dtype=torch.float64, generator=_gen())
    for colour in (False, True):
        per_element = L.charbonnier_loss(x[:1, :1, :1, :1], x[:1, :1, :1, :1], colour=colour)
        assert per_element.item() == 1e-3
        # a mean of equal values may round in the last bit; eps = 0.25 (a power of 2) does not
        assert L.charbonnier_loss(x, x, colour=colour).item() == pytest.approx(1e-3, rel=1e-14)
        assert L.charbonnier_loss(x, x, eps=0.25, colour=colour).item() == 0.25
        assert L.CharbonnierLoss(eps=0.25, colour=colour)(x, x).item() == 0.25
    assert L.charbonnier_loss(x, x, eps=0.0).item() == 0.0
    torch.testing.assert_close(L.charbonnier_loss(x.float(), x.float()),
                               torch.tensor(1e-3), rtol=1e-6, atol=0)


def test_charbonnier_known_values():
    t = torch.zeros(1, 3, 2, 2, dtype=torch.float64)
    # element form: sqrt(0.3**2 + 0.4**2) = 0.5 everywhere
    assert L.charbonnier_loss(t + 0.3, t, eps=0.4).item() == pytest.approx(0.5, abs=1e-12)
    # difference 0.6 on the red channel only, eps 0.2
    p = t.clone()
    p[:, 0] = 0.6
    elem = (math.sqrt(0.36 + 0.04) + 2 * 0.2) / 3
    assert L.charbonnier_loss(p, t, eps=0.2).item() == pytest.approx(elem, abs=1e-12)
    # colour form (LTNet): sqrt(mean_c(d**2) + eps**2) = sqrt(0.12 + 0.04) = 0.4
    assert L.charbonnier_loss(p, t, eps=0.2, colour=True).item() == pytest.approx(0.4, abs=1e-12)
    # eps = 0 reduces to L1
    a, b = _images(dtype=torch.float64)
    torch.testing.assert_close(L.charbonnier_loss(a, b, eps=0.0), (a - b).abs().mean())


def test_ssim_loss_values():
    a, b = _images()
    s = M.ssim(a, b, reduction="none")
    torch.testing.assert_close(L.ssim_loss(a, b, reduction="none"), 1 - s)
    torch.testing.assert_close(L.ssim_loss(a, b, form="negative", reduction="none"), -s)
    torch.testing.assert_close(L.ssim_loss(a, a, reduction="none"), torch.zeros(2))
    torch.testing.assert_close(L.ssim_loss(a, a, form="negative"), torch.tensor(-1.0))
    # constant images: SSIM = (2xy + C1) / (x**2 + y**2 + C1) (the contrast term is C2 / C2)
    c1 = (0.01 * 1.0) ** 2
    x = torch.full((1, 3, 11, 11), 0.5, dtype=torch.float64)
    y = torch.full((1, 3, 11, 11), 0.25, dtype=torch.float64)
    expected = 1 - (2 * 0.5 * 0.25 + c1) / (0.5**2 + 0.25**2 + c1)
    assert L.ssim_loss(x, y).item() == pytest.approx(expected, abs=1e-12)


def test_ssim_forms_have_equal_gradients():
    a, b = _images(dtype=torch.float64)
    grads = []
    for form in ("one_minus", "negative"):
        p = a.clone().requires_grad_(True)
        L.ssim_loss(p, b, form=form).backward()
        grads.append(p.grad)
    torch.testing.assert_close(grads[0], grads[1])


def test_residual_loss_known_values():
    t = torch.zeros(2, 3, 4, 4)
    p = t.clone()
    p[1] = 0.5  # d = -0.5 for the second sample: 0.5 + 0.25
    torch.testing.assert_close(L.residual_loss(p, t, reduction="none"), torch.tensor([0.0, 0.75]))
    assert L.residual_loss(t, t + 2).item() == pytest.approx(6.0)  # 2 + 4
    a, b = _images(dtype=torch.float64)
    torch.testing.assert_close(L.residual_loss(a, b),
                               nn.functional.l1_loss(a, b) + nn.functional.mse_loss(a, b))


def test_tv_known_values():
    assert L.tv_loss(torch.full((2, 3, 5, 6), 0.7)).item() == 0.0
    cols = torch.arange(6, dtype=torch.float64).mul(0.1).expand(1, 3, 5, 6)  # dh = 0.1
    rows = torch.arange(5, dtype=torch.float64).mul(0.2).view(5, 1).expand(1, 3, 5, 6)  # dv = 0.2
    assert L.tv_loss(cols).item() == pytest.approx(2 * 0.01, abs=1e-12)
    assert L.tv_loss(rows).item() == pytest.approx(2 * 0.04, abs=1e-12)
    assert L.tv_loss(cols + rows).item() == pytest.approx(2 * (0.01 + 0.04), abs=1e-12)
    # the dehazing code's formula: 2 * (h_tv / count_h + w_tv / count_w) / B
    x = _images(dtype=torch.float64)[0]
    b, c, h, w = x.shape
    h_tv = (x[:, :, 1:, :] - x[:, :, :-1, :]).pow(2).sum()
    w_tv = (x[:, :, :, 1:] - x[:, :, :, :-1]).pow(2).sum()
    ref = 2 * (h_tv / (c * (h - 1) * w) + w_tv / (c * h * (w - 1))) / b
    torch.testing.assert_close(L.tv_loss(x), ref)


def test_sobel_kernels():
    k = L.SOBEL_KERNELS
    assert k.shape == (4, 3, 3)
    assert torch.all(k.sum((1, 2)) == 0)  # no response to a constant
    # vertical = transposed horizontal; the diagonals are the 45-degree rotations
    torch.testing.assert_close(k[1], k[0].T)
    torch.testing.assert_close(k[3], k[2].flip(1))


def test_sobel_known_values():
    x = torch.rand(2, 3, 6, 7, generator=_gen())
    assert L.sobel_loss(x, x).item() == 0.0
    assert L.sobel_loss(x + 0.3, x).item() == pytest.approx(0.0, abs=1e-6)  # offset: no edges
    # a ramp of slope a along x: responses 8a, 0, 6a, -6a -> mean |.| = 5a
    ramp = torch.arange(7, dtype=torch.float64).mul(0.1).expand(1, 3, 6, 7)
    zero = torch.zeros_like(ramp)
    assert L.sobel_loss(ramp, zero).item() == pytest.approx(0.5, abs=1e-12)
    assert L.sobel_loss(ramp.transpose(-1, -2), zero.transpose(-1, -2)).item() == pytest.approx(
        0.5, abs=1e-12)
    # a sum over the four directions would be 4x: we average (stated in the docstring)
    expected = 2.0 * ramp.pow(2).mean().item() + 0.25 * 0.5
    got = L.combined_sobel_loss(ramp, zero, sobel_weight=0.25, l2_weight=2.0).item()
    assert got == pytest.approx(expected, abs=1e-12)
    assert L.combined_sobel_loss(x, x).item() == 0.0


def test_envmap_log_l2_known_values():
    t = torch.zeros(2, 3, 4, 8, dtype=torch.float64)
    torch.testing.assert_close(L.envmap_log_l2_loss(t + math.e - 1, t, reduction="none"),
                               torch.ones(2, dtype=torch.float64))
    e = 255 * torch.rand(2, 1536, generator=_gen())
    assert L.envmap_log_l2_loss(e, e).item() == 0.0
    # 2DSceneRelighting's log_l2_loss: sum over all elements / number of elements
    p = 255 * torch.rand(2, 1536, generator=_gen(1))
    ref = (torch.log1p(p) - torch.log1p(e)).pow(2).sum() / p.numel()
    torch.testing.assert_close(L.envmap_log_l2_loss(p, e), ref)


def test_cosine_angle_known_values():
    z = torch.zeros(4, dtype=torch.float64)
    d = torch.tensor([0.0, 60.0, 90.0, 180.0], dtype=torch.float64)
    torch.testing.assert_close(L.cosine_angle_loss(d, z, reduction="none"),
                               torch.tensor([0.0, 0.5, 1.0, 2.0], dtype=torch.float64))
    # periodic: 350 and 10 degrees are 20 degrees apart
    assert L.cosine_angle_loss(torch.tensor([350.0]), torch.tensor([10.0])).item() == pytest.approx(
        1 - math.cos(math.radians(20)), abs=1e-6)
    # hue on a 0-255 scale (model C): half a turn is 127.5
    assert L.cosine_angle_loss(torch.tensor([127.5]), torch.tensor([0.0]),
                               period=255).item() == pytest.approx(2.0)
    # 2DSceneRelighting's cos_loss
    a, b = _angles(torch.float64)
    ref = torch.mean(1.0 - torch.cos((a - b) / 180.0 * math.pi))
    torch.testing.assert_close(L.cosine_angle_loss(a, b), ref)


def test_colour_temperature_known_values():
    assert L.colour_temperature_loss(torch.tensor([6500.0]), torch.tensor([4500.0])).item() == 1.0
    k = torch.tensor([2500.0, 3500.0, 4500.0])
    assert L.colour_temperature_loss(k, k).item() == 0.0
    torch.testing.assert_close(
        L.colour_temperature_loss(k, k + 1000, reduction="none"), torch.full((3,), 0.25))
    a, b = _kelvin(torch.float64)
    torch.testing.assert_close(L.colour_temperature_loss(a, b),
                               nn.functional.mse_loss(a, b) * (1 / 2000) ** 2)


def test_lsgan_known_values():
    ones, zeros = torch.ones(2, 1, 30, 30), torch.zeros(2, 1, 30, 30)
    assert L.lsgan_generator_loss(ones).item() == 0.0
    assert L.lsgan_generator_loss(zeros).item() == 1.0
    assert L.lsgan_discriminator_loss(ones, zeros).item() == 0.0  # perfect D
    assert L.lsgan_discriminator_loss(zeros, ones).item() == 2.0  # fooled D, no 0.5 factor
    torch.testing.assert_close(L.lsgan_discriminator_loss(ones * 0.5, ones * 0.5),
                               torch.tensor(0.5))
    # 2DSceneRelighting's GANLoss / FoolGANLoss
    r, f = _logits_pair()
    mse = nn.functional.mse_loss
    torch.testing.assert_close(L.lsgan_discriminator_loss(r, f),
                               mse(f, torch.zeros_like(f)) + mse(r, torch.ones_like(r)))
    torch.testing.assert_close(L.lsgan_generator_loss(f), mse(f, torch.ones_like(f)))


# ---------------------------------------------------------------------------------------------
# VGG perceptual loss (random backbones: no ImageNet weights on the test machines)


def test_vgg_layer_index_matches_torchvision():
    from torchvision.models.vgg import cfgs, make_layers

    for arch, cfg in (("vgg16", "D"), ("vgg19", "E")):
        feats = make_layers(cfgs[cfg])  # features only: cheap, same layout as vggNN().features
        names = L.VGG_LAYERS[arch]
        assert len(names) == len(feats)
        for name, i in names.items():
            kind = {"conv": nn.Conv2d, "relu": nn.ReLU, "pool": nn.MaxPool2d}[name[:4]]
            assert isinstance(feats[i], kind), (arch, name, i)
    assert L.VGG_LAYERS["vgg19"]["relu3_3"] == 15  # features[:16], papers.md section 10
    assert L.VGG_LAYERS["vgg19"]["conv3_3"] == 14
    assert L.VGG_LAYERS["vgg16"]["pool5"] == 30  # features[:31], papers.md section 5.5


@pytest.fixture(scope="module")
def vgg_losses(tmp_path_factory):
    """MBNet's and MSR-Net's perceptual losses, built once with random VGGs (offline)."""
    d = tmp_path_factory.mktemp("no_vgg")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("RELIGHT_WEIGHTS", str(d))
        mp.setenv("TORCH_HOME", str(d))
        mp.setenv("RELIGHT_OFFLINE", "1")
        # the random fallback is never silent
        with pytest.warns(W.RandomInitWarning, match="vgg19"):
            mbnet = L.PerceptualLoss(**L.PERCEPTUAL_PRESETS["mbnet"], allow_random=True)
        with pytest.warns(W.RandomInitWarning, match="vgg16"):
            msrnet = L.PerceptualLoss(**L.PERCEPTUAL_PRESETS["msrnet"], allow_random=True,
                                      seed=3, reduction="none")
    return mbnet, msrnet


def test_perceptual_defaults_are_mbnet():
    assert L.PERCEPTUAL_PRESETS["mbnet"] == {
        "arch": "vgg19", "layer": "relu3_3", "distance": "l1", "normalize": True}
    import inspect

    sig = inspect.signature(L.PerceptualLoss)
    for k, v in L.PERCEPTUAL_PRESETS["mbnet"].items():
        assert sig.parameters[k].default == v
    assert sig.parameters["allow_random"].default is False


def test_perceptual_random_backbone(vgg_losses):
    mbnet, msrnet = vgg_losses
    for loss, arch, n in ((mbnet, "vgg19", 16), (msrnet, "vgg16", 31)):
        assert isinstance(loss.weights_info, W.WeightsInfo)
        assert loss.weights_info.source == "random" and loss.weights_info.name == arch
        assert "random init" in loss.weights_info.reason
        assert len(loss.features) == n
        assert not any(p.requires_grad for p in loss.parameters())
        assert not loss.features.training
    mbnet.train()
    assert mbnet.training and not mbnet.features.training  # the extractor stays in eval mode
    mbnet.eval()
    assert "weights='random'" in repr(mbnet)


def test_perceptual_values_and_gradients(vgg_losses):
    mbnet, msrnet = vgg_losses
    a, b = _images(2, 3, 32, 32)
    assert mbnet(a, a).item() == 0.0
    assert msrnet(a, a).shape == (2,) and torch.all(msrnet(a, a) == 0)
    for loss in (mbnet, msrnet):
        p = a.clone().requires_grad_(True)
        out = loss(p, b)
        assert torch.all(out > 0)
        out.sum().backward()
        assert p.grad is not None and torch.isfinite(p.grad).all() and p.grad.abs().sum() > 0
    # module == functional, and the functional on the extractor by hand
    torch.testing.assert_close(mbnet(a, b), L.perceptual_loss(a, b, mbnet.features))
    with torch.no_grad():
        fa = mbnet.features(L._imagenet_normalize(a))
        fb = mbnet.features(L._imagenet_normalize(b))
        torch.testing.assert_close(mbnet(a, b), (fa - fb).abs().mean())
        ref = (msrnet.features(a) - msrnet.features(b)).pow(2).flatten(1).mean(1)
        torch.testing.assert_close(msrnet(a, b), ref)


@pytest.mark.parametrize("reduction,shape", REDUCTIONS)
def test_perceptual_cardinality(vgg_losses, reduction, shape):
    a, b = _images(2, 3, 32, 32)
    out = L.perceptual_loss(a, b, vgg_losses[0].features, reduction=reduction)
    assert out.shape == shape


def test_perceptual_functional_known_values():
    t = torch.zeros(1, 3, 4, 4, dtype=torch.float64)
    ident = nn.Identity()
    assert L.perceptual_loss(t + 0.1, t, ident, "l1", normalize=False).item() == pytest.approx(0.1)
    # ImageNet normalisation divides each channel's difference by its std
    expected = sum(0.1 / s for s in L.IMAGENET_STD) / 3
    assert L.perceptual_loss(t + 0.1, t, ident).item() == pytest.approx(expected)
    assert L.perceptual_loss(t + 0.5, t, ident, "mse", normalize=False).item() == pytest.approx(0.25)


def test_perceptual_without_weights_refuses(offline):
    with pytest.raises(W.WeightsNotFound, match="vgg19"):
        L.PerceptualLoss(allow_random=False)
    with pytest.raises(W.WeightsNotFound, match="vgg16"):
        L.vgg_features("vgg16", "pool5", allow_random=False)
    with pytest.raises(ValueError, match="conv9_9"):
        L.vgg_features("vgg19", "conv9_9", allow_random=True)
    with pytest.raises(ValueError, match="arch"):
        L.vgg_features("vgg11", "relu3_3", allow_random=True)


# ---------------------------------------------------------------------------------------------
# LPIPS loss


def test_lpips_unavailable_raises(offline):
    with pytest.raises(L.LPIPSUnavailable, match="alexnet") as e:
        L.LPIPSLoss()
    assert str(offline / "w") in str(e.value)  # the metric's reason: where it looked
    x = torch.rand(1, 3, 32, 32)
    with pytest.raises(L.LPIPSUnavailable, match="LPIPS"):
        L.lpips_loss(x, x)
    with pytest.raises(L.LPIPSUnavailable):
        L.build_loss("lpips")


@pytest.fixture(scope="module")
def fake_alexnet_features(tmp_path_factory) -> Path:
    """A random AlexNet's ``features.*`` tensors, named like a torchvision file
    (``alexnet-owt-<sha256[:8]>.pth``). Same keys and shapes as the real checkpoint for
    everything the LPIPS trunk loads (strictly); the classifier (96 % of the 233 MB) is left out,
    since LPIPS never reads it, which keeps this fixture fast. Tests the mechanism, not LPIPS."""
    d = tmp_path_factory.mktemp("alexnet_src")
    with torch.random.fork_rng():
        torch.manual_seed(11)
        state = torchvision.models.alexnet(weights=None).state_dict()
    raw = d / "alexnet.pth"
    torch.save({k: v for k, v in state.items() if k.startswith("features.")}, raw)
    digest = hashlib.sha256(raw.read_bytes()).hexdigest()
    named = d / f"alexnet-owt-{digest[:8]}.pth"
    raw.rename(named)
    return named


@pytest.fixture
def with_alexnet(offline, monkeypatch, fake_alexnet_features):
    (offline / "w" / fake_alexnet_features.name).symlink_to(fake_alexnet_features)
    spec = dataclasses.replace(W.REGISTRY["alexnet"], files=(fake_alexnet_features.name,))
    monkeypatch.setitem(W.REGISTRY, "alexnet", spec)
    M.lpips_metric.cache_clear()
    return fake_alexnet_features


def test_lpips_loss_available(with_alexnet):
    loss = L.LPIPSLoss()
    assert loss.weights_info is not None and loss.weights_info.source == "file"
    assert loss.weights_info.path.endswith(with_alexnet.name)
    assert list(loss.parameters()) == []  # the shared frozen metric is not a submodule
    metric = M.lpips_metric()
    assert metric.available, metric.reason
    state = torch.load(with_alexnet, weights_only=True)
    torch.testing.assert_close(metric.model.net.slice1[0].weight, state["features.0.weight"])

    a, b = _images(2, 3, 32, 32)
    torch.testing.assert_close(loss(a, a), torch.tensor(0.0))
    # the same numbers as the suite's LPIPS metric
    torch.testing.assert_close(L.lpips_loss(a, b, reduction="none"), metric(a, b))
    for reduction, shape in REDUCTIONS:
        out = L.LPIPSLoss(reduction=reduction)(a, b)
        assert out.shape == shape
        torch.testing.assert_close(out, L.lpips_loss(a, b, reduction=reduction))
    # gradients reach the input and are finite
    p = a.clone().requires_grad_(True)
    loss(p, b).backward()
    assert p.grad is not None and torch.isfinite(p.grad).all() and p.grad.abs().sum() > 0
    # an unclamped network output slightly outside [0, 1] is accepted (the metric refuses it)
    assert torch.isfinite(loss(a * 1.1 - 0.05, b))
    with pytest.raises(ValueError):
        metric(a * 1.1 - 0.05, b)


def test_lpips_loss_input_errors(with_alexnet):
    x = torch.rand(1, 3, 32, 32)
    with pytest.raises(ValueError, match="RGB"):
        L.lpips_loss(x[:, :1], x[:, :1])
    with pytest.raises(ValueError, match=">= 32"):
        L.lpips_loss(x[..., :16, :16], x[..., :16, :16])
    with pytest.raises(ValueError, match="shape mismatch"):
        L.lpips_loss(x, x[..., :31])
    with pytest.raises(ValueError, match="reduction"):
        L.LPIPSLoss(reduction="avg")


# ---------------------------------------------------------------------------------------------
# registry


def test_registry():
    assert set(L.LOSSES) == set(L.list_losses())
    assert L.list_losses() == sorted(L.LOSSES)
    for name, cls in L.LOSSES.items():
        assert issubclass(cls, nn.Module), name
        assert cls.__name__ in L.__all__
    cheap = {n for n in L.LOSSES if n not in ("perceptual", "lpips")}
    for name in cheap:
        assert isinstance(L.build_loss(name), L.LOSSES[name])
    loss = L.build_loss("ssim", form="negative", reduction="none")
    assert loss.form == "negative" and loss.reduction == "none"
    with pytest.raises(KeyError, match="charbonnier"):
        L.build_loss("l3")


def test_every_case_is_registered():
    """Every module in the table above is in LOSSES (nothing untested, nothing unregistered)."""
    tested = {c[1] for c in CASES.values()} | {L.PerceptualLoss, L.LPIPSLoss}
    assert tested == set(L.LOSSES.values())


def test_mse_and_l1_known_values_and_per_image_reduction():
    t = torch.zeros(2, 3, 4, 4)
    p = t.clone()
    p[1] = 0.5  # only the second image is off
    assert L.mse_loss(p, t, "none").tolist() == [0.0, 0.25]
    assert L.l1_loss(p, t, "none").tolist() == [0.0, 0.5]
    assert float(L.mse_loss(p, t, "sum")) == 0.25
    with pytest.raises(ValueError):
        L.l1_loss(p, t[:, :2])
