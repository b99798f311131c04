"""NTIRE 2021 Track 2 validation/test pair packaging: discovery, dataset, check-data."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from relight_lib import cli
from relight_lib.library.data.check import check_data, format_report
from relight_lib.library.data.depth import save_depth
from relight_lib.library.data.imageio import DataError
from relight_lib.library.data.layout import pair_name, parse_pair_name
from relight_lib.library.data.vidit import (
    UNKNOWN_IN_PAIRS,
    AnyToAnyDataset,
    OneToOneDataset,
    PairedAnyToAnyDataset,
    find_pair_dirs,
    find_track1_dirs,
)


def _img(arr: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(arr.transpose(2, 0, 1) / np.float32(255))


def _paths(report, kind):
    return {p.path for p in report.by_kind(kind)}


# ---- names and discovery ---------------------------------------------------------------------


def test_pair_names():
    assert pair_name(7) == "Pair007" and pair_name(1234) == "Pair1234"
    assert parse_pair_name("Pair011.npy") == ("Pair011", "npy")
    assert parse_pair_name("Pair011.jpg") is None and parse_pair_name("Image011.png") is None
    with pytest.raises(ValueError):
        pair_name(-1)


def test_find_pair_dirs_side_by_side(pairs_tree):
    root = pairs_tree.root
    assert find_pair_dirs(root, "val") == (root / "track2_validation/input",
                                           root / "track2_validation/guide",
                                           root / "track2_validation_gt")
    assert find_pair_dirs(root, "test") == (root / "track2_test/input",
                                            root / "track2_test/guide", None)
    # Pointed at the unpacked validation folder itself, nothing outside it is searched: the
    # separate ground truth is then named explicitly.
    val = root / "track2_validation"
    assert find_pair_dirs(val, "validation") == (val / "input", val / "guide", None)
    gt = root / "track2_validation_gt"
    assert find_pair_dirs(val, "validation", target_dir=gt)[2] == gt
    assert len(PairedAnyToAnyDataset(val, target_dir=gt)) == 2
    assert find_pair_dirs(root, "test", input_dir=root / "track2_test/input")[1] == \
        root / "track2_test/guide"


def test_find_pair_dirs_nested_target_beside(tmp_path, tools):
    tree = tools.build_track2_pairs(tmp_path / "d", nested=True)
    base = tree.root / "Track2" / "val"
    assert find_pair_dirs(tree.root, "validation") == (base / "input", base / "guide",
                                                       base / "target")


def test_track1_and_track2_side_by_side_do_not_mix(tmp_path, tools):
    root = tmp_path / "vidit"
    tools.build_vidit(root, size=16)
    tools.build_track2_pairs(root, size=16)
    # Track 1 validation keeps its ImageNNN ground truth; Track 2 never takes it, and vice versa.
    assert find_track1_dirs(root, "validation") == (root / "track1_validation/input",
                                                    root / "track1_validation_gt")
    assert find_pair_dirs(root, "validation")[2] == root / "track2_validation_gt"
    assert len(OneToOneDataset(root, "validation")) == 1
    report = check_data(root)
    assert report.ok, format_report(report)
    kinds = {lay.path: lay.kind for lay in report.layouts}
    assert kinds["track2_validation"] == "track2" and kinds["track1_validation/input"] == "track1"
    assert "track2_validation/input" not in kinds


def test_find_pair_dirs_errors(tmp_path, pairs_tree):
    (tmp_path / "empty" / "validation").mkdir(parents=True)
    with pytest.raises(DataError, match="looked in") as exc:
        find_pair_dirs(tmp_path / "empty", "validation")
    assert "PairNNN.png" in str(exc.value)
    import shutil

    shutil.rmtree(pairs_tree.root / "track2_test" / "guide")
    with pytest.raises(DataError, match=r"track2_test/input has no guide folder"):
        find_pair_dirs(pairs_tree.root, "test")
    with pytest.raises(DataError, match="does not exist"):
        find_pair_dirs(pairs_tree.root, "test", input_dir=tmp_path / "nowhere")


# ---- dataset ---------------------------------------------------------------------------------


def test_pair_items_match_the_files(pairs_tree, synvidit_tree):
    t = pairs_tree
    ds = PairedAnyToAnyDataset(t.root)  # validation by default
    assert len(ds) == 2 and ds.keys == ["Pair000", "Pair001"] and ds.has_target
    item = ds[1]
    # The same keys as the any-to-any dataset, lighting unknown (None), not invented.
    assert set(item) == set(AnyToAnyDataset(synvidit_tree.root, "train")[0])
    assert all(item[k] is None for k in UNKNOWN_IN_PAIRS)
    assert item["key"] == "Pair001"
    for role in ("input", "guide", "target"):
        assert item[role].shape == (3, 8, 8) and item[role].dtype == torch.float32
        assert 0.0 <= float(item[role].min()) and float(item[role].max()) <= 1.0
        torch.testing.assert_close(item[role], _img(t.pixels("validation", "Pair001", role)))
    for role in ("input", "guide"):
        d = item[f"{role}_depth"]
        assert d.shape == (1, 8, 8) and d.dtype == torch.float32
        np.testing.assert_array_equal(d[0].numpy(), t.depth("validation", "Pair001", role))
    assert not torch.equal(item["input_depth"], item["guide_depth"])
    # Workers get a pickled copy; the suite's collate keeps the None lighting as lists.
    assert torch.equal(pickle.loads(pickle.dumps(ds))[1]["target"], item["target"])
    from relight_lib.library.train import collate

    batch = next(iter(DataLoader(ds, batch_size=2, collate_fn=collate)))
    assert batch["input"].shape == (2, 3, 8, 8) and batch["guide_depth"].shape == (2, 1, 8, 8)
    assert batch["guide_temperature"] == [None, None] and batch["key"] == ["Pair000", "Pair001"]


def test_pair_resize_crop_and_limit(pairs_tree):
    ds = PairedAnyToAnyDataset(pairs_tree.root, "validation", size=4, limit=1)
    item = ds[0]
    assert len(ds) == 1
    assert item["target"].shape == (3, 4, 4) and item["guide_depth"].shape == (1, 4, 4)
    crop = PairedAnyToAnyDataset(pairs_tree.root, "validation", crop=(4, 6))[0]
    assert crop["guide"].shape == (3, 4, 6) and crop["input_depth"].shape == (1, 4, 6)


def test_pair_test_split_has_no_target(pairs_tree):
    ds = PairedAnyToAnyDataset(pairs_tree.root, "test")
    assert not ds.has_target and "target" not in ds[0]
    assert ds[0]["input"].shape == (3, 8, 8) and ds[0]["input_temperature"] is None


def test_pair_validation_without_ground_truth(pairs_tree):
    import shutil

    shutil.rmtree(pairs_tree.root / "track2_validation_gt")
    with pytest.raises(DataError, match="track2_validation_gt.zip"):
        PairedAnyToAnyDataset(pairs_tree.root, "validation")
    ds = PairedAnyToAnyDataset(pairs_tree.root, "validation", require_target=False)
    assert not ds.has_target and "target" not in ds[0]


def test_pair_missing_files_named(pairs_tree):
    root = pairs_tree.root
    (root / "track2_validation/guide/Pair001.npy").unlink()
    with pytest.raises(DataError, match=r"track2_validation/guide/Pair001\.npy") as exc:
        PairedAnyToAnyDataset(root, "validation")
    assert "\n" not in str(exc.value)
    (root / "track2_validation_gt/Pair000.png").unlink()
    save_depth(root / "track2_validation/guide/Pair001.npy", np.zeros((8, 8), np.float32))
    with pytest.raises(DataError, match=r"track2_validation_gt/Pair000\.png"):
        PairedAnyToAnyDataset(root, "validation")


def test_pair_size_mismatch_at_access(pairs_tree, tools):
    root = pairs_tree.root
    tools.write_png(root / "track2_validation/guide/Pair000.png", np.zeros((6, 8, 3), np.uint8))
    ds = PairedAnyToAnyDataset(root, "validation")
    ds[1]
    with pytest.raises(DataError) as exc:
        ds[0]
    msg = str(exc.value)
    assert "guide/Pair000.png is 6x8" in msg and "input/Pair000.png is 8x8" in msg
    assert "\n" not in msg


def test_pair_corrupt_or_unsafe_depth(pairs_tree):
    root = pairs_tree.root
    bad = root / "track2_validation/input/Pair001.npy"
    bad.write_bytes(bad.read_bytes()[:60])  # truncated
    ds = PairedAnyToAnyDataset(root, "validation")
    ds[0]
    with pytest.raises(DataError, match=r"input/Pair001\.npy"):
        ds[1]

    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))

    record = np.empty((), dtype=object)
    record[()] = {"normalized_depth": Evil()}
    with open(bad, "wb") as f:
        np.save(f, record, allow_pickle=True)
    with pytest.raises(DataError, match=r"Pair001\.npy: refused to unpickle global builtins"):
        ds[1]


# ---- check-data ------------------------------------------------------------------------------


def test_check_clean_pairs(pairs_tree, capsys):
    report = check_data(pairs_tree.root)
    assert report.ok, format_report(report)
    lay = {lay.path: lay for lay in report.layouts}
    assert lay["track2_validation"].kind == "track2"
    assert lay["track2_validation"].target_path == "track2_validation_gt"
    assert lay["track2_test"].target_path is None and lay["track2_test"].split == "test"
    assert report.scenes_per_split == {"track2": {"validation": 2, "test": 2}}
    # 2 validation pairs x 3 images + 2 test pairs x 2 images, and 8 depth files.
    assert report.image_sizes == {(8, 8): 10} and report.n_files == 18
    text = format_report(report)
    assert "Track 2 pairs (input/ + guide/), split validation, 2 pairs" in text
    assert "Pairs per split (track2): validation 2, test 2" in text
    assert cli.main(["check-data", str(pairs_tree.root)]) == 0
    assert "Result: OK" in capsys.readouterr().out


def test_check_nested_pairs_with_target_beside(tmp_path, tools):
    tree = tools.build_track2_pairs(tmp_path / "d", nested=True)
    report = check_data(tree.root)
    assert report.ok, format_report(report)
    lay = {lay.path: lay for lay in report.layouts}
    assert lay["Track2/val"].target_path == "Track2/val/target"


def test_check_damaged_pairs(pairs_tree, tools, capsys):
    root = pairs_tree.root
    val = root / "track2_validation"
    (val / "guide/Pair001.npy").unlink()                                         # missing depth
    (root / "track2_test/input/Pair000.png").unlink()                            # missing image
    tools.write_png(val / "guide/Pair000.png", np.zeros((6, 8, 3), np.uint8))    # size mismatch
    (root / "track2_test/guide/Pair001.npy").write_bytes(b"\x93NUMPY garbage")   # corrupt npy
    (val / "input/notes.txt").write_text("hi")                                   # extra
    (root / "track2_validation_gt/Pair001.png").rename(root / "track2_validation_gt/Pair005.png")
    report = check_data(root)
    assert not report.ok
    assert {"track2_validation/guide/Pair001.npy", "track2_test/input/Pair000.png",
            "track2_validation_gt/Pair001.png"} <= _paths(report, "missing")
    assert {"track2_validation/input/notes.txt",
            "track2_validation_gt/Pair005.png"} <= _paths(report, "extra")
    size = report.by_kind("size")
    assert [p.path for p in size] == ["track2_validation/guide/Pair000.png"]
    assert "guide image is 6x8" in size[0].detail and "input/Pair000.png is 8x8" in size[0].detail
    assert _paths(report, "depth") == {"track2_test/guide/Pair001.npy"}
    missing = {p.path: p.detail for p in report.problems}
    assert "no guide depth file" in missing["track2_validation/guide/Pair001.npy"]
    assert cli.main(["check-data", str(root)]) == 1
    out = capsys.readouterr().out
    for needle in ("track2_validation/guide/Pair001.npy", "track2_test/guide/Pair001.npy",
                   "guide image is 6x8"):
        assert needle in out


def test_check_pairs_missing_guide_folder_and_ground_truth(pairs_tree):
    import shutil

    root = pairs_tree.root
    shutil.rmtree(root / "track2_test/guide")
    shutil.rmtree(root / "track2_validation_gt")
    report = check_data(root)
    missing = {p.path: p.detail for p in report.by_kind("missing")}
    assert "no guide/ folder" in missing["track2_test/guide"]
    assert "track2_validation_gt" in missing["track2_validation/target"]
    # Test ground truth is private: no problem for the test pairs' target.
    assert "track2_test/target" not in missing


def test_check_pairs_split_unknown_without_target_is_a_warning(tmp_path, tools):
    tree = tools.build_track2_pairs(tmp_path / "d")
    report = check_data(tree.root / "track2_test", progress=False)
    assert report.ok
    (tmp_path / "pairs").mkdir()
    (tree.root / "track2_test").rename(tmp_path / "pairs" / "unpacked")
    report = check_data(tmp_path / "pairs")
    assert report.ok and [w.path for w in report.warnings] == ["unpacked/target"]


def test_pairs_and_one_to_one_share_their_base_and_go_in_memory(pairs_tree, vidit_tree):
    """Both entry datasets read items the same way (one base class), and either decodes into
    memory to exactly the batches the streamed set collates to."""
    from relight_lib.library.data.memory import InMemoryPairs
    from relight_lib.library.data.vidit import _EntryDataset
    from relight_lib.library.train import collate

    pairs = PairedAnyToAnyDataset(pairs_tree.root)
    one = OneToOneDataset(vidit_tree.root, "train")
    for ds in (pairs, one):
        assert isinstance(ds, _EntryDataset) and len(ds) == len(ds.keys)
        with pytest.raises(IndexError, match="out of range"):
            ds[len(ds)]
        assert ds[-1]["key"] == ds.keys[-1]
        mem, how = ds.in_memory()
        assert isinstance(mem, InMemoryPairs) and how.startswith("memory:")
        ref, got = collate([ds[i] for i in (1, 0)]), mem.batch([1, 0])
        assert list(got) == list(ref)
        assert all(torch.equal(got[k], ref[k]) if isinstance(ref[k], torch.Tensor)
                   else list(got[k]) == list(ref[k]) for k in ref)
        same, how = ds.in_memory(limit_bytes=1)
        assert same is ds and how.startswith("stream:")
