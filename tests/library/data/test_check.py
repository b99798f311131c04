from __future__ import annotations

import json

import numpy as np
import pytest

from relight_lib.library.data import check as check_mod
from relight_lib.library.data.check import Report, check_data, format_report
from relight_lib.library.data.depth import save_depth


def _paths(report: Report, kind: str) -> set[str]:
    return {p.path for p in report.by_kind(kind)}


def test_clean_synvidit_tree(synvidit_tree):
    report = check_data(synvidit_tree.root)
    assert report.ok, format_report(report)
    assert report.problems == [] and report.manifest
    assert report.scenes_per_split == {
        "any2any": {"train": 3, "validation": 1, "test": 1},
        "track1": {"train": 3, "validation": 1, "test": 1},
    }
    assert report.conditions_per_scene["any2any/train"] == {4: 3}
    # 5 scenes x 4 conditions + 5 track1 inputs + 5 targets, all 8x8.
    assert report.image_sizes == {(8, 8): 30}
    text = format_report(report)
    assert "Result: OK" in text and "any2any/train" in text and "manifest.json: compared" in text


def test_clean_real_tree_test_split_needs_no_targets(vidit_tree):
    report = check_data(vidit_tree.root)
    assert report.ok, format_report(report)
    assert not report.manifest
    assert report.scenes_per_split["track1"] == {"train": 3, "validation": 1, "test": 1}
    assert report.scenes_per_split["any2any"] == {"train": 3}
    lay = {lay.path: lay for lay in report.layouts}
    assert lay["track1_validation/input"].target_path == "track1_validation_gt"
    assert lay["track1_test/test/input"].target_path is None


def test_damaged_synvidit_tree(synvidit_tree, tools):
    root = synvidit_tree.root
    flat = root / "any2any" / "train"
    (flat / "Image001_6500_NE.png").unlink()                                 # missing
    (flat / "notes.txt").write_text("hello")                                  # extra
    tools.write_png(flat / "Image002_4500_W.png", np.zeros((6, 8, 3), np.uint8))  # wrong size
    (flat / "Image000_4500_E.png").write_bytes(b"\x89PNG\r\n\x1a\n garbage")   # corrupt
    nan = np.zeros((8, 8), np.float32)
    nan[0, 0] = np.nan
    np.save(root / "any2any/validation/Image003.npy", {"normalized_depth": nan})  # NaN depth
    # Same size, valid PNG, different pixels: only the manifest can tell.
    tools.write_png(root / "any2any/test/Image004_6500_N.png", np.ones((8, 8, 3), np.uint8))
    (root / "track1/train/input/Image002.npy").unlink()                       # input w/o depth
    (root / "track1/validation/target/Image003.png").unlink()                 # input w/o target

    report = check_data(root)
    assert not report.ok
    assert {"any2any/train/Image001_6500_NE.png", "track1/train/input/Image002.npy",
            "track1/validation/target/Image003.png"} <= _paths(report, "missing")
    assert "any2any/train/notes.txt" in _paths(report, "extra")
    assert _paths(report, "size") == {"any2any/train/Image002_4500_W.png"}
    assert _paths(report, "unreadable") == {"any2any/train/Image000_4500_E.png"}
    depth = report.by_kind("depth")
    assert [p.path for p in depth] == ["any2any/validation/Image003.npy"]
    assert "NaN" in depth[0].detail
    assert "any2any/test/Image004_6500_N.png" in _paths(report, "checksum")
    assert report.conditions_per_scene["any2any/train"] == {4: 2, 3: 1}
    text = format_report(report)
    for needle in ("missing (", "extra (", "any2any/train/notes.txt", "image is 6x8 (HxW)",
                   "unreadable (", "depth (", "checksum ("):
        assert needle in text
    assert text.rstrip().endswith(f"{len(report.problems)} problem(s)")


def test_manifest_missing_and_unlisted(synvidit_tree):
    root = synvidit_tree.root
    m = json.loads((root / "manifest.json").read_text())
    # A file the manifest lists that is gone, a file it does not list, a wrong size entry.
    m["files"]["any2any/train/Image099_6500_N.png"] = {"sha256": "0" * 64, "bytes": 10}
    del m["files"]["track1/test/target/Image004.png"]
    m["files"]["any2any/train/Image000.npy"]["bytes"] += 1
    (root / "manifest.json").write_text(json.dumps(m))
    report = check_data(root)
    assert "any2any/train/Image099_6500_N.png" in _paths(report, "missing")
    assert _paths(report, "extra") == {"track1/test/target/Image004.png"}
    assert _paths(report, "checksum") == {"any2any/train/Image000.npy"}
    # The root's contact sheet and the manifest itself are not "unlisted".
    assert "contact_sheet.png" not in _paths(report, "extra")


def test_manifest_split_mismatch_and_malformed(synvidit_tree):
    root = synvidit_tree.root
    m = json.loads((root / "manifest.json").read_text())
    m["scenes"]["Image003"]["split"] = "train"
    (root / "manifest.json").write_text(json.dumps(m))
    report = check_data(root)
    assert {p.path for p in report.by_kind("manifest")} >= {
        "any2any/validation/Image003_6500_N.png"}
    (root / "manifest.json").write_text("{not json")
    report = check_data(root)
    assert _paths(report, "manifest") == {"manifest.json"}


def test_depth_size_differs_from_images(vidit_tree):
    save_depth(vidit_tree.root / "track2_train/train/Image001.npy", np.zeros((8, 8), np.float32))
    report = check_data(vidit_tree.root)
    problems = report.by_kind("size")
    assert [p.path for p in problems] == ["track2_train/train/Image001.npy"]
    assert "8x8" in problems[0].detail and "16x16" in problems[0].detail


def test_real_tree_missing_track1_target_and_orphans(vidit_tree, tools):
    root = vidit_tree.root
    (root / "track1_validation_gt/Image300.png").rename(root / "track1_validation_gt/Image301.png")
    (root / "track2_train/train/Image000_4500_E.png").unlink()
    report = check_data(root)
    assert "track1_validation_gt/Image300.png" in _paths(report, "missing")
    assert "track1_validation_gt/Image301.png" in _paths(report, "extra")
    assert "track2_train/train/Image000_4500_E.png" in _paths(report, "missing")


def test_train_without_any_target_folder(vidit_tree):
    import shutil

    shutil.rmtree(vidit_tree.root / "track1_train/train/target")
    report = check_data(vidit_tree.root)
    assert "track1_train/train/target" in _paths(report, "missing")


def test_depth_out_of_range_is_a_warning_only(vidit_tree):
    save_depth(vidit_tree.root / "track2_train/train/Image002.npy",
               np.full((16, 16), 3.0, np.float32))
    report = check_data(vidit_tree.root)
    assert report.ok and [w.path for w in report.warnings] == ["track2_train/train/Image002.npy"]
    assert "Warnings (1)" in format_report(report)


def test_missing_root_and_empty_root(tmp_path):
    report = check_data(tmp_path / "absent")
    assert not report.ok and report.problems[0].kind == "layout"
    (tmp_path / "empty").mkdir()
    report = check_data(tmp_path / "empty")
    assert not report.ok and "no VIDIT layout" in format_report(report)


def test_progress_bar_only_for_many_files(synvidit_tree, monkeypatch):
    seen = []

    class FakeBar:
        def __init__(self, total, disable, **kw):
            seen.append((total, disable))

        def update(self, n=1):
            pass

        def close(self):
            pass

    monkeypatch.setattr(check_mod, "tqdm", FakeBar)
    check_data(synvidit_tree.root)
    assert seen[-1] == (80, True)  # 30 images + 10 depth files + 40 manifest entries
    monkeypatch.setattr(check_mod, "PROGRESS_MIN_FILES", 50)
    check_data(synvidit_tree.root)
    assert seen[-1] == (80, False)


@pytest.mark.parametrize("decode", [False, True])
def test_truncated_png_detected(synvidit_tree, decode):
    p = synvidit_tree.root / "track1/train/target/Image001.png"
    data = p.read_bytes()
    p.write_bytes(data[:-20])
    report = check_data(synvidit_tree.root, decode=decode)
    assert "track1/train/target/Image001.png" in _paths(report, "unreadable")
