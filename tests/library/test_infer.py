"""``relight predict``: a user's image in, a relit PNG out; tiling; clear errors."""

import numpy as np
import pytest
import torch
from PIL import Image

from relight_lib import cli
from relight_lib.library import infer, train
from relight_lib.library.data.depth import save_depth
from relight_lib.library.models import build_model


@pytest.fixture()
def checkpoint(tmp_path):
    torch.manual_seed(0)
    model = build_model("tiny_unet", width=4, use_depth=True)
    torch.nn.init.normal_(model.head.weight, std=0.05)  # not the identity: context matters
    return train.save_checkpoint(tmp_path / "m.pt", model, model_spec={
        "name": "tiny_unet", "kwargs": {"width": 4, "use_depth": True}}), model


def _png(path, h, w, mode="RGB"):
    rng = np.random.default_rng(0)
    arr = (rng.random((h, w, 4 if mode == "RGBA" else 3)) * 255).astype(np.uint8)
    Image.fromarray(arr, mode=mode).save(path)
    return path


def test_predict_command_end_to_end(checkpoint, tmp_path, capsys):
    ckpt, model = checkpoint
    img = _png(tmp_path / "in.png", 30, 45, "RGBA")  # odd sides and an alpha channel
    save_depth(tmp_path / "d.npy", np.random.default_rng(1).random((30, 45)), 2.0)
    rc = cli.main(["predict", "--checkpoint", str(ckpt), "--image", str(img), "--depth",
                   str(tmp_path / "d.npy"), "--out", str(tmp_path / "out.png"), "--device", "cpu"])
    assert rc == 0
    assert "45x30 px, whole image" in capsys.readouterr().out
    out = np.asarray(Image.open(tmp_path / "out.png"))
    assert out.shape == (30, 45, 3)
    # the file equals what the model computes in memory (up to 8-bit rounding)
    x = infer.load_image(img)
    d = infer.load_depth_map(tmp_path / "d.npy", (30, 45))
    ref = train.predict(model.eval(), {"input": x, "depth": d})[0].permute(1, 2, 0).numpy()
    assert np.abs(out / 255.0 - ref).max() <= 0.5 / 255 + 1e-6


def test_missing_depth_and_wrong_sizes_are_clear_errors(checkpoint, tmp_path, capsys):
    ckpt, _ = checkpoint
    img = _png(tmp_path / "in.png", 16, 16)
    rc = cli.main(["predict", "--checkpoint", str(ckpt), "--image", str(img),
                   "--out", str(tmp_path / "o.png")])
    assert rc == 2 and "needs a depth: pass --depth" in capsys.readouterr().err
    save_depth(tmp_path / "d.npy", np.zeros((8, 8)), 1.0)
    rc = cli.main(["predict", "--checkpoint", str(ckpt), "--image", str(img), "--depth",
                   str(tmp_path / "d.npy"), "--out", str(tmp_path / "o.png")])
    err = capsys.readouterr().err
    assert rc == 2 and "d.npy" in err and "8x8" in err and "16x16" in err
    rc = cli.main(["predict", "--model", "other", "--checkpoint", str(ckpt), "--image", str(img),
                   "--out", str(tmp_path / "o.png")])
    assert rc == 2 and "holds a 'tiny_unet'" in capsys.readouterr().err


def test_tiles_match_the_whole_image(checkpoint):
    _, model = checkpoint
    torch.manual_seed(1)
    batch = {"input": torch.rand(1, 3, 70, 90), "depth": torch.rand(1, 1, 70, 90)}
    whole = train.predict(model.eval(), batch)
    tiled = infer.tiled_predict(model, batch, tile=48, overlap=16)
    assert tiled.shape == whole.shape
    # blending hides the seams: within 8-bit precision almost everywhere
    assert (tiled - whole).abs().mean() < 2e-3
    with pytest.raises(ValueError, match="overlap"):
        infer.tiled_predict(model, batch, tile=32, overlap=16)


def test_out_of_memory_falls_back_to_tiles(checkpoint, monkeypatch):
    _, model = checkpoint
    calls = []
    real = train.predict

    def fake_predict(m, b, device=None, amp=False):
        calls.append(b["input"].shape[-1])
        if b["input"].shape[-1] > 512:
            raise RuntimeError("CUDA out of memory. Tried to allocate 4 GiB")
        return real(m, b, device=device)

    monkeypatch.setattr(infer, "predict", fake_predict)
    x = {"input": torch.rand(1, 3, 40, 600), "depth": torch.rand(1, 1, 40, 600)}
    out, how = infer.relight(model, x["input"], x["depth"])
    assert how == "tiles of 512 px" and out.shape == (1, 3, 40, 600)
    assert calls[0] == 600 and max(calls[1:]) <= 512
