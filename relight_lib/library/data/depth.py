"""VIDIT depth files, read safely.

A VIDIT (NTIRE 2021) depth file ``ImageNNN.npy`` is a NumPy ``.npy`` file holding a 0-d object
array whose item is a pickled dict (``spec/papers.md`` section 1.4)::

    {'normalized_depth': float32 array (H, W), nominally in [0, 1], 'ref_center_dis': float}

Its users read it with ``np.load(path, allow_pickle=True).item()``, which runs whatever the pickle
says: a crafted file can execute code. Here the ``.npy`` header is parsed by hand and the pickle is
read with a restricted unpickler that only admits the few NumPy globals needed to rebuild arrays,
dtypes and scalars (plain containers need no globals at all). Anything else is refused with a
:class:`~relight_lib.library.data.imageio.DataError` that names the file and the refused global.

A plain (non-pickled) float ``.npy`` array of shape (H, W) is accepted as depth too.
"""

from __future__ import annotations

import ast
import io
import os
import pickle
import struct
from pathlib import Path
from typing import Any

import numpy as np

from relight_lib.library.data.imageio import DataError, atomic_write

__all__ = ["DEPTH_KEY", "REF_KEY", "load_depth", "load_depth_record", "save_depth"]

DEPTH_KEY = "normalized_depth"
REF_KEY = "ref_center_dis"


def _numpy_globals() -> dict[tuple[str, str], Any]:
    """Globals a NumPy pickle of arrays/dtypes/scalars refers to, mapped to this NumPy's objects.

    NumPy 1.x writes ``numpy.core.multiarray``, NumPy 2.x ``numpy._core.multiarray``; both spellings
    map to the functions of the installed NumPy (taken from ``__reduce__`` so that no deprecated
    module has to be imported).
    """
    reconstruct = np.ndarray.__reduce__(np.zeros(1))[0]
    scalar = np.float64(0).__reduce__()[0]
    out: dict[tuple[str, str], Any] = {
        ("numpy", "ndarray"): np.ndarray,
        ("numpy", "dtype"): np.dtype,
    }
    for mod in ("numpy.core.multiarray", "numpy._core.multiarray"):
        out[(mod, "_reconstruct")] = reconstruct
        out[(mod, "scalar")] = scalar
    # Protocol-2 pickles (Python 2 era) spell bytes as _codecs.encode(str, 'latin1'); encoding a
    # string has no side effects. Only latin1 is admitted (see _SafeUnpickler.find_class).
    out[("_codecs", "encode")] = _latin1_encode
    return out


def _latin1_encode(obj: str, encoding: str = "latin1") -> bytes:
    if encoding not in ("latin1", "latin-1", "iso-8859-1"):
        raise pickle.UnpicklingError(f"refused _codecs.encode with encoding {encoding!r}")
    return obj.encode("latin1")


_ALLOWED = _numpy_globals()


class _SafeUnpickler(pickle.Unpickler):
    """Unpickler that resolves only NumPy's array/dtype/scalar constructors."""

    def __init__(self, file: io.BufferedIOBase, path: Path) -> None:
        super().__init__(file, encoding="latin1")  # latin1: Python-2 pickled arrays stay readable
        self._path = path

    def find_class(self, module: str, name: str) -> Any:
        try:
            return _ALLOWED[(module, name)]
        except KeyError:
            raise DataError(
                f"{self._path}: refused to unpickle global {module}.{name}; a depth file may only "
                "contain NumPy arrays, scalars and plain containers"
            ) from None

    def persistent_load(self, pid: Any) -> Any:
        raise DataError(f"{self._path}: refused persistent id in pickle")


def _read_header(f: io.BufferedIOBase, path: Path) -> tuple[tuple[int, ...], bool, np.dtype]:
    """Parse the ``.npy`` magic and header; return (shape, fortran_order, dtype)."""
    version = np.lib.format.read_magic(f)
    if version == (1, 0):
        return np.lib.format.read_array_header_1_0(f)
    if version == (2, 0):
        return np.lib.format.read_array_header_2_0(f)
    if version == (3, 0):
        # Version 3 is version 2 with a UTF-8 header; NumPy has no public reader for it.
        (hlen,) = struct.unpack("<I", f.read(4))
        header = f.read(hlen)
        if len(header) != hlen:
            raise DataError(f"{path}: truncated .npy header")
        d = ast.literal_eval(header.decode("utf8"))
        if not isinstance(d, dict) or not {"descr", "fortran_order", "shape"} <= set(d):
            raise DataError(f"{path}: malformed .npy header {header[:80]!r}")
        return tuple(d["shape"]), bool(d["fortran_order"]), np.lib.format.descr_to_dtype(d["descr"])
    raise DataError(f"{path}: unsupported .npy format version {version}")


def _read_npy(path: Path) -> Any:
    """Read a ``.npy`` file without ever running untrusted pickle code.

    Returns the plain array, or for object arrays the unpickled (restricted) object.
    """
    if not path.is_file():
        raise DataError(f"{path}: depth file not found")
    try:
        with open(path, "rb") as f:
            shape, fortran, dtype = _read_header(f, path)
            if dtype.hasobject:
                obj = _SafeUnpickler(f, path).load()
                if isinstance(obj, np.ndarray) and obj.dtype.hasobject and obj.shape == ():
                    return obj.item()
                if isinstance(obj, np.ndarray) and obj.dtype.hasobject and obj.size == 1:
                    return obj.reshape(()).item()
                return obj
            # Plain numeric array: read exactly the bytes the header promises.
            count = int(np.prod(shape, dtype=np.int64))
            data = f.read(count * dtype.itemsize)
            if len(data) != count * dtype.itemsize:
                raise DataError(
                    f"{path}: truncated .npy file: header promises {count * dtype.itemsize} bytes "
                    f"of data, found {len(data)}"
                )
            arr = np.frombuffer(data, dtype=dtype, count=count)
            return arr.reshape(shape, order="F" if fortran else "C").copy()
    except DataError:
        raise
    except (ValueError, OSError, EOFError, pickle.UnpicklingError, struct.error, TypeError,
            AttributeError, IndexError, KeyError, SyntaxError, MemoryError) as exc:
        # Truncated or malformed headers and pickles surface as any of these.
        raise DataError(f"{path}: cannot read depth file ({type(exc).__name__}: {exc})") from exc


def _check_depth_array(arr: Any, path: Path, where: str) -> np.ndarray:
    if not isinstance(arr, np.ndarray) or arr.dtype.kind not in "fiu":
        raise DataError(f"{path}: {where} is not a numeric array (got {type(arr).__name__})")
    if arr.ndim != 2:
        raise DataError(f"{path}: {where} must be 2-D (H, W), got shape {arr.shape}")
    out = arr.astype(np.float32)
    if not np.isfinite(out).all():
        n_bad = int((~np.isfinite(out)).sum())
        raise DataError(f"{path}: {where} contains {n_bad} NaN or infinite values")
    return np.ascontiguousarray(out)


def load_depth_record(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a depth file into a dict, safely.

    Args:
        path: a VIDIT ``ImageNNN.npy`` (pickled dict) or a plain float ``.npy`` array (H, W).

    Returns:
        ``{'normalized_depth': float32 (H, W), 'ref_center_dis': float | None, ...}``; other keys of
        the file are passed through; ``ref_center_dis`` is None for a plain array.

    Raises:
        DataError: missing, truncated or malformed file; a pickle referring to anything but NumPy
            arrays/dtypes/scalars; no ``normalized_depth`` key; not 2-D; NaN or infinite values.
    """
    path = Path(path)
    obj = _read_npy(path)
    if isinstance(obj, np.ndarray):
        return {DEPTH_KEY: _check_depth_array(obj, path, "depth array"), REF_KEY: None}
    if not isinstance(obj, dict):
        raise DataError(f"{path}: expected a dict with {DEPTH_KEY!r}, found {type(obj).__name__}")
    if DEPTH_KEY not in obj:
        keys = sorted(map(str, obj))
        raise DataError(f"{path}: no {DEPTH_KEY!r} key in depth dict (keys: {keys})")
    rec = dict(obj)
    rec[DEPTH_KEY] = _check_depth_array(obj[DEPTH_KEY], path, repr(DEPTH_KEY))
    ref = obj.get(REF_KEY)
    if ref is not None:
        try:
            rec[REF_KEY] = float(ref)
        except (TypeError, ValueError):
            raise DataError(f"{path}: {REF_KEY!r} is not a number: {ref!r}") from None
    else:
        rec[REF_KEY] = None
    return rec


def load_depth(path: str | os.PathLike[str]) -> np.ndarray:
    """Read the depth map of a depth file, safely (see :func:`load_depth_record`).

    Returns:
        float32 array (H, W), finite; VIDIT stores it nominally in [0, 1] (not clipped here).

    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as d:
    ...     save_depth(Path(d) / "Image000.npy", np.full((2, 3), 0.25, np.float32), 4.0)
    ...     depth = load_depth(Path(d) / "Image000.npy")
    >>> depth.shape, depth.dtype, float(depth[0, 0])
    ((2, 3), dtype('float32'), 0.25)
    """
    return load_depth_record(path)[DEPTH_KEY]


def depth_bytes(depth: np.ndarray, ref_center_dis: float = 0.0, name: str = "depth") -> bytes:
    """The bytes of a depth file in VIDIT's format (a .npy holding a pickled dict).

    Args:
        depth: (H, W) depth, finite, stored as float32 (nominally in [0, 1]).
        ref_center_dis: the camera-to-scene-centre reference distance stored beside it.
        name: used in error messages (the destination file).

    Raises:
        ValueError: depth is not 2-D or not finite.
    """
    arr = np.asarray(depth, dtype=np.float32)
    if arr.ndim != 2:
        raise ValueError(f"{name}: depth must be 2-D (H, W), got shape {arr.shape}")
    if not np.isfinite(arr).all():
        raise ValueError(f"{name}: depth to write contains NaN or infinite values")
    record = np.empty((), dtype=object)
    record[()] = {DEPTH_KEY: np.ascontiguousarray(arr), REF_KEY: float(ref_center_dis)}
    buf = io.BytesIO()
    np.save(buf, record, allow_pickle=True)
    return buf.getvalue()


def save_depth(
    path: str | os.PathLike[str], depth: np.ndarray, ref_center_dis: float = 0.0
) -> None:
    """Write a depth file in VIDIT's format (:func:`depth_bytes`), atomically.

    The result reads back with ``np.load(path, allow_pickle=True).item()`` (as VIDIT's users do)
    and with :func:`load_depth`.

    Raises:
        ValueError: depth is not 2-D or not finite.
    """
    data = depth_bytes(depth, ref_center_dis, name=str(path))
    with atomic_write(path, suffix=".npy") as tmp:
        tmp.write_bytes(data)
