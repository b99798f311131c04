"""Image file I/O at the edge of the library: PNG files in, float32 RGB arrays in [0, 1] out.

Everything else in :mod:`relight_lib` works on float32 RGB in [0, 1]; this module is where 8-bit,
16-bit, greyscale and alpha-carrying files are turned into that one convention, and where arrays are
written back as 8-bit RGB PNGs (atomically, so an interrupted run never leaves half a file).

:class:`DataError` is the one exception type of the data modules: a :class:`ValueError` whose
message names the file and says what was wrong with it.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
from PIL import Image

__all__ = ["DataError", "atomic_write", "read_rgb", "write_png_rgb", "to_chw", "to_hwc"]


class DataError(ValueError):
    """A data file or folder is missing, unreadable or not in the expected layout.

    The message always names the file (or the folders that were searched) and the problem.
    """


# 16-bit greyscale comes out of Pillow as one of these modes, depending on the Pillow version and
# the byte order recorded in the file.
_GREY16_MODES = ("I;16", "I;16L", "I;16B", "I;16N")


def sha256_file(path: str | os.PathLike[str]) -> str:
    """Hex sha256 of a file, read in 1 MiB blocks."""
    import hashlib

    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike[str], suffix: str = ".tmp") -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success move it onto ``path`` with ``os.replace``.

    The temporary file lives in the same folder so that the final rename is atomic (same file
    system). If the body raises, the temporary file is removed and ``path`` is left untouched.

    Args:
        path: the file to (re)write.
        suffix: suffix of the temporary file (some writers pick the format from it).

    Yields:
        The temporary path to write to.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=suffix, dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        # mkstemp creates files readable by the owner only; give the usual permissions
        os.chmod(tmp_path, 0o666 & ~_umask())
        os.replace(tmp_path, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp_path.unlink()
        raise


def _to_float01(arr: np.ndarray, path: Path, mode: str) -> np.ndarray:
    """Scale an integer or float pixel array to float32 [0, 1] according to its PIL mode."""
    if mode in _GREY16_MODES:
        return arr.astype(np.float32) / np.float32(65535.0)
    if mode == "I":
        # 32-bit integer mode: Pillow uses it for 16-bit greyscale PNGs (older versions) and for
        # integer TIFFs. Only the 16-bit range has an unambiguous scale.
        if arr.size and (arr.min() < 0 or arr.max() > 65535):
            raise DataError(
                f"{path}: 32-bit integer image with values in [{arr.min()}, {arr.max()}]; only "
                "8-bit and 16-bit images are supported"
            )
        return arr.astype(np.float32) / np.float32(65535.0)
    if mode == "F":
        out = arr.astype(np.float32)
        if not np.isfinite(out).all() or (out.size and (out.min() < 0 or out.max() > 1)):
            raise DataError(f"{path}: float image with values outside [0, 1] or not finite")
        return out
    if arr.dtype != np.uint8:
        raise DataError(f"{path}: unexpected pixel type {arr.dtype} for image mode {mode!r}")
    return arr.astype(np.float32) / np.float32(255.0)


def read_rgb(path: str | os.PathLike[str]) -> np.ndarray:
    """Read an image file as float32 RGB in [0, 1].

    Handles 8-bit RGB, RGBA (alpha dropped, not composited: VIDIT's official loaders slice
    ``[:3]``), greyscale and greyscale + alpha (the grey channel is replicated), palette images,
    and 16-bit greyscale PNGs (scaled by 1/65535). 16-bit RGB(A) PNGs are decoded by Pillow at
    8-bit precision (it keeps the high byte of each sample), within 1/255 of the true value.

    Args:
        path: image file (PNG in the VIDIT layouts; anything Pillow reads works).

    Returns:
        float32 array of shape (H, W, 3) with values in [0, 1].

    Raises:
        DataError: the file is missing, not an image, truncated or corrupt, or of an unsupported
            pixel format. The message names the file.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: image file not found")
    try:
        with Image.open(path) as img:
            img.load()  # decode now, so that truncated data fails here and not later
            mode = img.mode
            if mode in ("RGB",):
                arr = np.asarray(img)
            elif mode in ("RGBA", "RGBa", "RGBX"):
                arr = np.asarray(img)[..., :3]
            elif mode in ("L", "LA", "La", "1"):
                arr = np.asarray(img.convert("L") if mode == "1" else img)
                if arr.ndim == 3:  # LA: drop alpha
                    arr = arr[..., 0]
            elif mode in ("P", "PA"):
                arr = np.asarray(img.convert("RGBA"))[..., :3]
            elif mode in _GREY16_MODES or mode in ("I", "F"):
                arr = np.asarray(img)
            else:
                # CMYK, YCbCr, LAB, HSV: let Pillow do the colour conversion.
                arr = np.asarray(img.convert("RGB"))
    except DataError:
        raise
    except (OSError, SyntaxError, ValueError, EOFError, Image.DecompressionBombError) as exc:
        # Pillow signals corrupt / truncated / unknown files with OSError (UnidentifiedImageError is
        # a subclass), SyntaxError (bad chunks) or ValueError.
        raise DataError(f"{path}: cannot read image ({type(exc).__name__}: {exc})") from exc
    out = _to_float01(np.asarray(arr), path, mode)
    if out.ndim == 2:
        out = np.repeat(out[:, :, None], 3, axis=2)
    if out.ndim != 3 or out.shape[2] != 3:
        raise DataError(f"{path}: expected an RGB or greyscale image, got pixel array {out.shape}")
    return np.ascontiguousarray(out, dtype=np.float32)


def to_chw(image: np.ndarray) -> np.ndarray:
    """(H, W, C) -> (C, H, W), contiguous.

    >>> to_chw(np.zeros((4, 5, 3), np.float32)).shape
    (3, 4, 5)
    """
    return np.ascontiguousarray(np.moveaxis(image, -1, 0))


def to_hwc(image: np.ndarray) -> np.ndarray:
    """(C, H, W) -> (H, W, C), contiguous.

    >>> to_hwc(np.zeros((3, 4, 5), np.float32)).shape
    (4, 5, 3)
    """
    return np.ascontiguousarray(np.moveaxis(image, 0, -1))


def write_png_rgb(path: str | os.PathLike[str], array: np.ndarray) -> None:
    """Write an RGB image as an 8-bit PNG, atomically (temp file in the same folder, then
    ``os.replace``).

    Args:
        path: destination ``.png`` file; parent folders are created.
        array: float RGB in [0, 1] of shape (H, W, 3), or (3, H, W) (detected when the last axis is
            not 3); values are clipped to [0, 1] and rounded to the nearest of 256 levels. A
            ``uint8`` array is written as it is. A CPU torch tensor works too (via ``np.asarray``).

    Raises:
        ValueError: wrong shape, or non-finite values.

    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as d:
    ...     write_png_rgb(Path(d) / "x.png", np.full((2, 3, 3), 0.5, np.float32))
    ...     print(round(float(read_rgb(Path(d) / "x.png")[0, 0, 0]) * 255))
    128
    """
    arr = np.asarray(array)
    if arr.ndim == 3 and arr.shape[-1] != 3 and arr.shape[0] == 3:
        arr = to_hwc(arr)
    if arr.ndim != 3 or arr.shape[-1] != 3:
        raise ValueError(
            f"{path}: expected an image of shape (H, W, 3) or (3, H, W), got {arr.shape}"
        )
    if arr.dtype == np.uint8:
        out = arr
    else:
        arr = arr.astype(np.float32)
        if not np.isfinite(arr).all():
            raise ValueError(f"{path}: image to write contains NaN or infinite values")
        out = np.rint(np.clip(arr, 0.0, 1.0) * 255.0).astype(np.uint8)
    with atomic_write(path, suffix=".png") as tmp:
        Image.fromarray(np.ascontiguousarray(out)).save(tmp, format="PNG")
