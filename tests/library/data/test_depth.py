from __future__ import annotations

import os
import pickle

import numpy as np
import pytest

from relight_lib.library.data.depth import load_depth, load_depth_record, save_depth
from relight_lib.library.data.imageio import DataError


def _object_npy(path, payload: bytes) -> None:
    """A valid .npy header for a 0-d object array followed by an arbitrary pickle."""
    with open(path, "wb") as f:
        header = {"descr": "|O", "fortran_order": False, "shape": ()}
        np.lib.format.write_array_header_1_0(f, header)
        f.write(payload)


def test_round_trip(tmp_path):
    d = np.random.default_rng(1).random((5, 7), dtype=np.float32)
    p = tmp_path / "Image000.npy"
    save_depth(p, d, ref_center_dis=12.5)
    out = load_depth(p)
    assert out.dtype == np.float32 and out.shape == (5, 7)
    np.testing.assert_array_equal(out, d)
    rec = load_depth_record(p)
    assert rec["ref_center_dis"] == 12.5 and isinstance(rec["ref_center_dis"], float)
    assert [f.name for f in tmp_path.iterdir()] == ["Image000.npy"]  # no temp file left


def test_ours_reads_like_vidit(tmp_path):
    """VIDIT's users read with np.load(allow_pickle=True).item(): our files must work that way."""
    d = np.linspace(0, 1, 12, dtype=np.float32).reshape(3, 4)
    p = tmp_path / "Image001.npy"
    save_depth(p, d, 3.0)
    rec = np.load(p, allow_pickle=True).item()
    assert set(rec) == {"normalized_depth", "ref_center_dis"}
    assert rec["normalized_depth"].dtype == np.float32
    np.testing.assert_array_equal(rec["normalized_depth"], d)
    assert rec["ref_center_dis"] == 3.0


def test_reads_files_written_by_numpy_directly(tmp_path):
    """A dict saved the way VIDIT's were (np.save wraps it as an object array), numpy scalar ref."""
    d = np.random.default_rng(2).random((4, 4), dtype=np.float32)
    p = tmp_path / "Image002.npy"
    np.save(p, {"normalized_depth": d, "ref_center_dis": np.float64(7.25), "extra": [1, "a"]})
    rec = load_depth_record(p)
    np.testing.assert_array_equal(rec["normalized_depth"], d)
    assert rec["ref_center_dis"] == 7.25 and rec["extra"] == [1, "a"]


def test_reads_protocol2_pickle(tmp_path):
    """Python-2 era pickles spell bytes via _codecs.encode; that global is admitted."""
    d = np.arange(6, dtype=np.float32).reshape(2, 3) / 6
    obj = np.empty((), dtype=object)
    obj[()] = {"normalized_depth": d, "ref_center_dis": 1.0}
    p = tmp_path / "p2.npy"
    _object_npy(p, pickle.dumps(obj, protocol=2))
    np.testing.assert_array_equal(load_depth(p), d)


def test_plain_array_accepted_fortran_too(tmp_path):
    d = np.random.default_rng(3).random((3, 5)).astype(np.float32)
    np.save(tmp_path / "plain.npy", np.asfortranarray(d))
    np.testing.assert_array_equal(load_depth(tmp_path / "plain.npy"), d)
    assert load_depth_record(tmp_path / "plain.npy")["ref_center_dis"] is None
    np.save(tmp_path / "three.npy", np.zeros((1, 3, 5), np.float32))
    with pytest.raises(DataError, match=r"three\.npy.*2-D"):
        load_depth(tmp_path / "three.npy")


class _Evil:
    def __init__(self, cmd: str) -> None:
        self.cmd = cmd

    def __reduce__(self):
        return (os.system, (self.cmd,))


def test_malicious_pickle_refused_without_side_effect(tmp_path):
    marker = tmp_path / "PWNED"
    p = tmp_path / "Image666.npy"
    _object_npy(p, pickle.dumps(_Evil(f"touch {marker}"), protocol=3))
    with pytest.raises(DataError) as exc:
        load_depth(p)
    msg = str(exc.value)
    assert "Image666.npy" in msg and "system" in msg and "refused" in msg
    assert not marker.exists()
    # The payload is live: the unrestricted reader runs it. So the refusal above is what saved us.
    try:
        np.load(p, allow_pickle=True)
    except Exception:
        pass
    assert marker.exists()


def test_malicious_global_nested_in_dict_refused(tmp_path):
    marker = tmp_path / "PWNED2"
    obj = np.empty((), dtype=object)
    obj[()] = {"normalized_depth": np.zeros((2, 2), np.float32), "x": _Evil(f"touch {marker}")}
    p = tmp_path / "nested.npy"
    _object_npy(p, pickle.dumps(obj, protocol=4))
    with pytest.raises(DataError, match=r"nested\.npy.*refused.*system"):
        load_depth(p)
    assert not marker.exists()


def test_nan_depth_refused(tmp_path):
    d = np.zeros((3, 3), np.float32)
    d[1, 1] = np.nan
    p = tmp_path / "Image010.npy"
    np.save(p, {"normalized_depth": d, "ref_center_dis": 1.0})
    with pytest.raises(DataError, match=r"Image010\.npy.*NaN"):
        load_depth(p)
    with pytest.raises(ValueError, match="NaN"):
        save_depth(tmp_path / "out.npy", d)
    assert not (tmp_path / "out.npy").exists()


def test_wrong_key_refused(tmp_path):
    p = tmp_path / "Image011.npy"
    np.save(p, {"depth": np.zeros((2, 2), np.float32)})
    with pytest.raises(DataError, match=r"Image011\.npy.*normalized_depth.*keys: \['depth'\]"):
        load_depth(p)


@pytest.mark.parametrize("kind", ["dict", "plain"])
def test_truncated_file_refused(tmp_path, kind):
    p = tmp_path / "Image012.npy"
    d = np.random.default_rng(4).random((16, 16), dtype=np.float32)
    if kind == "dict":
        save_depth(p, d, 1.0)
    else:
        np.save(p, d)
    data = p.read_bytes()
    p.write_bytes(data[: len(data) - 100])
    with pytest.raises(DataError, match=r"Image012\.npy"):
        load_depth(p)


def test_not_npy_and_missing_refused(tmp_path):
    (tmp_path / "junk.npy").write_bytes(b"hello, not numpy")
    with pytest.raises(DataError, match=r"junk\.npy"):
        load_depth(tmp_path / "junk.npy")
    with pytest.raises(DataError, match=r"absent\.npy.*not found"):
        load_depth(tmp_path / "absent.npy")
