from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from relight_lib.library.data.imageio import DataError, read_rgb, to_chw, write_png_rgb


def test_read_rgb_8bit_exact(tmp_path, tools):
    arr = tools.pixels("Image000", "6500_N", 5, 7)
    p = tools.write_png(tmp_path / "a.png", arr)
    out = read_rgb(p)
    assert out.dtype == np.float32 and out.shape == (5, 7, 3)
    np.testing.assert_array_equal(out, arr.astype(np.float32) / 255)


def test_read_rgba_drops_alpha(tmp_path, tools):
    rgb = tools.pixels("Image001", "4500_E", 4, 4)
    # Not opaque: the alpha must be dropped, not composited.
    alpha = np.arange(16, dtype=np.uint8).reshape(4, 4, 1) * 16
    p = tools.write_png(tmp_path / "rgba.png", np.concatenate([rgb, alpha], axis=2))
    assert Image.open(p).mode == "RGBA"
    np.testing.assert_array_equal(read_rgb(p), rgb / np.float32(255))


def test_read_grey_and_grey_alpha_replicated(tmp_path, tools):
    grey = np.arange(12, dtype=np.uint8).reshape(3, 4) * 20
    p = tools.write_png(tmp_path / "l.png", grey)
    out = read_rgb(p)
    assert out.shape == (3, 4, 3)
    for c in range(3):
        np.testing.assert_array_equal(out[..., c], grey / np.float32(255))
    la = Image.fromarray(np.stack([grey, np.full_like(grey, 7)], axis=2), mode="LA")
    la.save(tmp_path / "la.png")
    np.testing.assert_array_equal(read_rgb(tmp_path / "la.png"), out)


def test_read_palette(tmp_path, tools):
    rgb = tools.pixels("Image002", "6500_N", 4, 4)
    Image.fromarray(rgb).quantize(colors=256).save(tmp_path / "p.png")
    expect = np.asarray(Image.open(tmp_path / "p.png").convert("RGB")) / np.float32(255)
    out = read_rgb(tmp_path / "p.png")
    assert out.shape == (4, 4, 3)
    np.testing.assert_array_equal(out, expect)


def test_read_16bit_grey_full_precision(tmp_path):
    vals = np.array([[0, 1000, 40000, 65535]], dtype=np.uint16)
    Image.fromarray(vals).save(tmp_path / "g16.png")
    assert Image.open(tmp_path / "g16.png").mode.startswith("I")
    out = read_rgb(tmp_path / "g16.png")
    assert out.dtype == np.float32 and out.shape == (1, 4, 3)
    # 1000/65535 = 0.015259; at 8-bit precision it would be 4/255 = 0.015686.
    np.testing.assert_allclose(out[..., 1], vals / 65535.0, atol=1e-7)


def test_read_16bit_rgb_within_one_level(tmp_path, tools):
    rng = np.random.default_rng(0)
    vals = rng.integers(0, 65536, size=(3, 5, 3), dtype=np.uint16)
    vals[0, 0] = (0, 65535, 32768)
    p = tools.write_png16_rgb(tmp_path / "rgb16.png", vals)
    out = read_rgb(p)
    assert out.shape == (3, 5, 3) and out.min() >= 0 and out.max() <= 1
    np.testing.assert_allclose(out, vals / 65535.0, atol=1 / 255 + 1e-6)
    assert out[0, 0, 0] == 0 and out[0, 0, 1] == 1


@pytest.mark.parametrize("content", [b"", b"not a png at all", b"\x89PNG\r\n\x1a\n\x00\x00"])
def test_corrupt_file_is_data_error_naming_path(tmp_path, content):
    p = tmp_path / "Image007_6500_N.png"
    p.write_bytes(content)
    with pytest.raises(DataError, match="Image007_6500_N.png"):
        read_rgb(p)


def test_truncated_png_is_data_error(tmp_path, tools):
    p = tools.write_png(tmp_path / "t.png", tools.pixels("Image000", "x", 32, 32))
    data = p.read_bytes()
    p.write_bytes(data[: len(data) // 2])
    with pytest.raises(DataError, match=r"t\.png.*cannot read"):
        read_rgb(p)


def test_missing_file_is_data_error(tmp_path):
    with pytest.raises(DataError, match="nope.png.*not found"):
        read_rgb(tmp_path / "nope.png")
    assert issubclass(DataError, ValueError)


def test_write_rounds_and_clips(tmp_path):
    arr = np.array([[[-0.5, 0.0, 1.5], [0.5, 1 / 255 * 0.49, 1 / 255 * 0.51]]], np.float32)
    p = tmp_path / "sub" / "w.png"
    write_png_rgb(p, arr)
    img = Image.open(p)
    assert img.mode == "RGB"
    np.testing.assert_array_equal(np.asarray(img), [[[0, 0, 255], [128, 0, 1]]])


def test_write_accepts_chw_and_roundtrips(tmp_path, tools):
    hwc = tools.pixels("Image003", "4500_W", 4, 6) / np.float32(255)
    write_png_rgb(tmp_path / "c.png", to_chw(hwc))
    np.testing.assert_array_equal(read_rgb(tmp_path / "c.png"), hwc)


def test_write_is_atomic_and_leaves_no_temp(tmp_path):
    p = tmp_path / "x.png"
    write_png_rgb(p, np.zeros((2, 2, 3), np.float32))
    before = p.read_bytes()
    with pytest.raises(ValueError, match="NaN"):
        write_png_rgb(p, np.full((2, 2, 3), np.nan, np.float32))
    with pytest.raises(ValueError, match="shape"):
        write_png_rgb(p, np.zeros((2, 2), np.float32))
    assert p.read_bytes() == before  # a failed write leaves the old file intact
    write_png_rgb(p, np.ones((2, 2, 3), np.float32))
    assert read_rgb(p).min() == 1.0
    assert sorted(f.name for f in tmp_path.iterdir()) == ["x.png"]


def test_atomic_write_gives_usual_permissions(tmp_path):
    import os
    import stat

    from relight_lib.library.data.imageio import atomic_write

    with atomic_write(tmp_path / "f.bin") as tmp:
        tmp.write_bytes(b"x")
    mode = stat.S_IMODE(os.stat(tmp_path / "f.bin").st_mode)
    mask = os.umask(0)
    os.umask(mask)
    assert mode == 0o666 & ~mask
