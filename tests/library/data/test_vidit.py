from __future__ import annotations

import pickle
import shutil
from itertools import product

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from relight_lib.library.data import vidit
from relight_lib.library.data.depth import save_depth
from relight_lib.library.data.imageio import DataError
from relight_lib.library.data.layout import DIRECTION_ANGLES, Condition
from relight_lib.library.data.vidit import (
    PROTOCOL_2DSCENE,
    AnyToAnyDataset,
    OneToOneDataset,
    Pair,
    SceneIndex,
    all_pairs,
    different_direction,
    different_scene,
    find_any2any_dir,
    find_split_dir,
    find_track1_dirs,
    same_colour,
    same_direction,
    sample_pairs,
)


def _img(tree, scene, tag):
    return torch.from_numpy(tree.pixels(scene, tag).transpose(2, 0, 1) / np.float32(255))


# ---- discovery -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "folder, split",
    [("Training", "train"), ("val", "validation"), ("valid", "validation"), ("testing", "test"),
     ("track1/train", "train"), ("any2any/validate", "val"), ("track1_test", "test")],
)
def test_find_split_dir_aliases(tmp_path, folder, split):
    (tmp_path / "root" / folder).mkdir(parents=True)
    assert find_split_dir(tmp_path / "root", split) == tmp_path / "root" / folder


def test_find_split_dir_prefers_and_errors(tmp_path):
    root = tmp_path / "root"
    for d in ("track1/train", "any2any/train", "other"):
        (root / d).mkdir(parents=True)
    assert find_split_dir(root, "train", prefer="any2any") == root / "any2any" / "train"
    assert find_split_dir(root, "train", prefer="track1") == root / "track1" / "train"
    with pytest.raises(DataError) as exc:
        find_split_dir(root, "test")
    msg = str(exc.value)
    assert "'test'" in msg and str(root / "other") in msg and str(root / "track1") in msg
    with pytest.raises(DataError, match="does not exist"):
        find_split_dir(tmp_path / "absent", "train")


def test_find_track1_dirs_synvidit(synvidit_tree):
    root = synvidit_tree.root
    for split in ("train", "validation", "test"):
        assert find_track1_dirs(root, split) == (root / "track1" / split / "input",
                                                 root / "track1" / split / "target")


def test_find_track1_dirs_real_packaging(vidit_tree):
    root = vidit_tree.root
    assert find_track1_dirs(root, "train") == (root / "track1_train/train/input",
                                               root / "track1_train/train/target")
    assert find_track1_dirs(root, "val") == (root / "track1_validation/input",
                                             root / "track1_validation_gt")
    assert find_track1_dirs(root, "test") == (root / "track1_test/test/input", None)
    assert find_any2any_dir(root, "train") == root / "track2_train/train"


@pytest.mark.parametrize("gt_layout", ["val_target", "GT", "ground_truth", "nested_gt"])
def test_find_track1_target_name_variants(tmp_path, tools, gt_layout):
    root = tmp_path / "root"
    split_dir = root / "validation"
    tools.write_png(split_dir / "Input" / "Image300.png", np.zeros((2, 2, 3), np.uint8))
    if gt_layout == "nested_gt":  # track1_validation_gt.zip unpacked into its own folder
        expect = root / "track1_validation_gt" / "validation"
    else:
        expect = split_dir / gt_layout
    tools.write_png(expect / "Image300.png", np.zeros((2, 2, 3), np.uint8))
    assert find_track1_dirs(root, "validation") == (split_dir / "Input", expect)


def test_find_track1_dirs_explicit_and_errors(vidit_tree, tmp_path):
    root = vidit_tree.root
    in_dir, t_dir = root / "track1_train/train/input", root / "track1_validation_gt"
    assert find_track1_dirs(root, "train", input_dir=in_dir, target_dir=t_dir) == (in_dir, t_dir)
    with pytest.raises(DataError, match="nowhere"):
        find_track1_dirs(root, "train", input_dir=tmp_path / "nowhere")
    (tmp_path / "empty" / "train").mkdir(parents=True)
    with pytest.raises(DataError) as exc:
        find_track1_dirs(tmp_path / "empty", "train")
    assert "input" in str(exc.value) and str(tmp_path / "empty" / "train") in str(exc.value)


# ---- one-to-one ------------------------------------------------------------------------------


def test_one_to_one_track1_synvidit(synvidit_tree):
    tree = synvidit_tree
    ds = OneToOneDataset(tree.root, "train")
    assert ds.source == "track1" and ds.has_target and len(ds) == 3
    assert ds.keys == ["Image000", "Image001", "Image002"]
    item = ds[1]
    assert set(item) == {"input", "target", "depth", "key"} and item["key"] == "Image001"
    for k, shape in (("input", (3, 8, 8)), ("target", (3, 8, 8)), ("depth", (1, 8, 8))):
        assert item[k].dtype == torch.float32 and tuple(item[k].shape) == shape
        assert 0 <= item[k].min() and item[k].max() <= 1
    torch.testing.assert_close(item["input"], _img(tree, "Image001", "6500_N"), rtol=0, atol=0)
    torch.testing.assert_close(item["target"], _img(tree, "Image001", "4500_E"), rtol=0, atol=0)
    np.testing.assert_array_equal(item["depth"][0].numpy(), tree.depth("Image001"))


def test_one_to_one_any2any_mbnet_pairs(synvidit_tree):
    tree = synvidit_tree
    ds = OneToOneDataset(tree.root, "train", input_condition="6500_NE", target_condition="4500_W")
    assert ds.source == "any2any" and len(ds) == 3
    item = ds[2]
    assert item["key"] == "Image002"
    torch.testing.assert_close(item["input"], _img(tree, "Image002", "6500_NE"), rtol=0, atol=0)
    torch.testing.assert_close(item["target"], _img(tree, "Image002", "4500_W"), rtol=0, atol=0)
    np.testing.assert_array_equal(item["depth"][0].numpy(), tree.depth("Image002"))


def test_auto_falls_back_to_any2any_without_track1(synvidit_tree):
    shutil.rmtree(synvidit_tree.root / "track1")
    ds = OneToOneDataset(synvidit_tree.root, "validation")
    assert ds.source == "any2any" and ds.keys == ["Image003"]
    torch.testing.assert_close(ds[0]["target"], _img(synvidit_tree, "Image003", "4500_E"))
    with pytest.raises(DataError, match="input folder"):
        OneToOneDataset(synvidit_tree.root, "validation", source="track1")


def test_one_to_one_real_packaging(vidit_tree):
    tree = vidit_tree
    train = OneToOneDataset(tree.root, "train")
    assert train.source == "track1" and len(train) == 3
    torch.testing.assert_close(train[0]["target"], _img(tree, "Image000", "4500_E"))
    val = OneToOneDataset(tree.root, "validation")
    assert val.keys == ["Image300"] and val.target_dir == tree.root / "track1_validation_gt"
    torch.testing.assert_close(val[0]["target"], _img(tree, "Image300", "4500_E"))
    flat = OneToOneDataset(tree.root, "train", source="any2any", limit=2)
    assert flat.source == "any2any" and flat.keys == ["Image000", "Image001"]
    torch.testing.assert_close(flat[1]["input"], train[1]["input"], rtol=0, atol=0)


def test_test_split_without_targets_omits_target(vidit_tree):
    ds = OneToOneDataset(vidit_tree.root, "test")
    assert not ds.has_target and ds.target_dir is None
    item = ds[0]
    assert set(item) == {"input", "depth", "key"} and item["key"] == "Image345"
    batch = next(iter(DataLoader(ds, batch_size=1)))
    assert "target" not in batch and batch["input"].shape == (1, 3, 16, 16)


def test_train_split_without_targets_is_an_error(vidit_tree):
    shutil.rmtree(vidit_tree.root / "track1_train/train/target")
    with pytest.raises(DataError) as exc:
        OneToOneDataset(vidit_tree.root, "train", source="track1")
    assert "target" in str(exc.value) and "track1_train" in str(exc.value)
    ds = OneToOneDataset(vidit_tree.root, "train", source="track1", require_target=False)
    assert not ds.has_target and "target" not in ds[0]


def test_missing_single_target_named(vidit_tree):
    (vidit_tree.root / "track1_train/train/target/Image001.png").unlink()
    with pytest.raises(DataError, match=r"target/Image001\.png"):
        OneToOneDataset(vidit_tree.root, "train")


def test_resize(synvidit_tree, tools):
    root = synvidit_tree.root
    # A constant image must stay constant through bicubic resizing (and in range).
    tools.write_png(root / "track1/train/input/Image000.png", np.full((8, 8, 3), 200, np.uint8))
    ds = OneToOneDataset(root, "train", size=4)
    item = ds[0]
    assert item["input"].shape == (3, 4, 4) and item["target"].shape == (3, 4, 4)
    assert item["depth"].shape == (1, 4, 4)
    torch.testing.assert_close(item["input"], torch.full((3, 4, 4), 200 / 255))
    assert 0 <= item["target"].min() and item["target"].max() <= 1
    d = synvidit_tree.depth("Image000")
    assert abs(float(item["depth"].mean()) - float(d.mean())) < 0.05
    up = OneToOneDataset(root, "train", size=(12, 16))[1]
    assert up["input"].shape == (3, 12, 16) and 0 <= up["input"].min() and up["input"].max() <= 1


def test_centre_crop_same_window(synvidit_tree):
    tree = synvidit_tree
    item = OneToOneDataset(tree.root, "train", crop=(4, 6))[0]
    assert item["input"].shape == (3, 4, 6) and item["depth"].shape == (1, 4, 6)
    torch.testing.assert_close(item["input"], _img(tree, "Image000", "6500_N")[:, 2:6, 1:7])
    torch.testing.assert_close(item["target"], _img(tree, "Image000", "4500_E")[:, 2:6, 1:7])
    np.testing.assert_array_equal(item["depth"][0].numpy(), tree.depth("Image000")[2:6, 1:7])


def _find_window(full: torch.Tensor, crop: torch.Tensor) -> tuple[int, int]:
    h, w = crop.shape[1:]
    hits = [(t, l) for t in range(full.shape[1] - h + 1) for l in range(full.shape[2] - w + 1)
            if torch.equal(full[:, t:t + h, l:l + w], crop)]
    assert len(hits) == 1
    return hits[0]


def test_random_crop_seeded(synvidit_tree):
    tree = synvidit_tree
    ds = OneToOneDataset(tree.root, "train", crop=3, random_crop=True, crop_seed=5)
    a, b = ds[0], ds[0]
    assert torch.equal(a["input"], b["input"])  # deterministic per (seed, epoch, index)
    win = _find_window(_img(tree, "Image000", "6500_N"), a["input"])
    assert _find_window(_img(tree, "Image000", "4500_E"), a["target"]) == win
    d = torch.from_numpy(tree.depth("Image000"))[None]
    assert _find_window(d, a["depth"]) == win
    windows = set()
    for epoch in range(8):
        ds.set_epoch(epoch)
        windows.add(_find_window(_img(tree, "Image000", "6500_N"), ds[0]["input"]))
    assert len(windows) > 1
    other = OneToOneDataset(tree.root, "train", crop=3, random_crop=True, crop_seed=5)
    assert torch.equal(other[0]["input"], a["input"])
    with pytest.raises(DataError, match="larger than"):
        OneToOneDataset(tree.root, "train", crop=9)[0]


def test_rgba_and_16bit_inputs(synvidit_tree, tools):
    tree = synvidit_tree
    rgb = tree.pixels("Image000", "6500_N")
    alpha = np.full((8, 8, 1), 10, np.uint8)
    tools.write_png(tree.root / "track1/train/input/Image000.png", np.concatenate([rgb, alpha], 2))
    rgb16 = rgb.astype(np.uint16) * 257  # exact 8-bit values in 16 bits
    tools.write_png16_rgb(tree.root / "track1/train/target/Image001.png", rgb16)
    ds = OneToOneDataset(tree.root, "train")
    torch.testing.assert_close(ds[0]["input"], _img(tree, "Image000", "6500_N"))
    torch.testing.assert_close(ds[1]["target"], _img(tree, "Image000", "6500_N"))


def test_errors_missing_root_and_no_images(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        OneToOneDataset(tmp_path / "absent")
    (tmp_path / "empty" / "train").mkdir(parents=True)
    with pytest.raises(DataError) as exc:
        OneToOneDataset(tmp_path / "empty", "train")
    assert "looked in" in str(exc.value) and str(tmp_path / "empty" / "train") in str(exc.value)
    with pytest.raises(DataError, match="looked in"):
        AnyToAnyDataset(tmp_path / "empty", "train")


def test_error_input_without_depth(synvidit_tree):
    (synvidit_tree.root / "track1/train/input/Image002.npy").unlink()
    with pytest.raises(DataError, match=r"input/Image002\.npy"):
        OneToOneDataset(synvidit_tree.root, "train")
    (synvidit_tree.root / "any2any/train/Image001.npy").unlink()
    with pytest.raises(DataError, match=r"any2any/train/Image001\.npy"):
        OneToOneDataset(synvidit_tree.root, "train", source="any2any")
    with pytest.raises(DataError, match=r"Image001\.npy"):
        AnyToAnyDataset(synvidit_tree.root, "train")


def test_error_unreadable_png_at_access(synvidit_tree):
    (synvidit_tree.root / "track1/train/target/Image001.png").write_bytes(b"garbage")
    ds = OneToOneDataset(synvidit_tree.root, "train")  # structure is fine
    ds[0]
    with pytest.raises(DataError, match=r"target/Image001\.png"):
        ds[1]


def test_error_mismatched_sizes_at_access(synvidit_tree, tools):
    root = synvidit_tree.root
    tools.write_png(root / "track1/train/target/Image000.png", np.zeros((6, 8, 3), np.uint8))
    ds = OneToOneDataset(root, "train")
    with pytest.raises(DataError) as exc:
        ds[0]
    msg = str(exc.value)
    assert "target/Image000.png is 6x8" in msg and "input/Image000.png is 8x8" in msg
    save_depth(root / "track1/train/input/Image001.npy", np.zeros((4, 4), np.float32))
    with pytest.raises(DataError, match=r"Image001\.npy is 4x4"):
        ds[1]


# ---- pair rules ------------------------------------------------------------------------------

TINY = {"A": ["6500_N", "4500_E"], "B": ["6500_N", "4500_E", "4500_N"], "C": ["6500_N"]}


def _brute(index, rule=None):
    imgs = index.images()
    return sorted(
        (Pair(si, ci, sg, cg) for (si, ci), (sg, cg) in product(imgs, imgs)
         if index.has(si, cg) and (rule is None or rule(Pair(si, ci, sg, cg)))),
        key=lambda p: p.key,
    )


@pytest.mark.parametrize(
    "rule, expected",
    # Counted by hand for TINY (the raw count is worked out in the test body).
    [(None, 31), (PROTOCOL_2DSCENE, 7), (same_colour, 17), (same_direction, 18),
     (different_scene & different_direction, 7), (~same_direction, 13)],
)
def test_pair_counts_by_hand(rule, expected):
    # Raw: an input in A may take guides under A's conditions: 6500_N (3 scenes) + 4500_E (2)
    # = 5, two inputs -> 10; B: 3 + 2 + 1 = 6, three inputs -> 18; C: 3. Total 31.
    index = SceneIndex.from_dict(TINY)
    pairs = all_pairs(index, rule)
    assert len(pairs) == expected
    assert sorted(pairs, key=lambda p: p.key) == _brute(index, rule)
    assert all(index.has(*p.target) for p in pairs)


def test_rules_semantics():
    n, e = Condition(6500, "N"), Condition(4500, "E")
    p_same_scene = Pair("A", n, "A", e)
    p = Pair("A", n, "B", Condition(6500, "E"))
    assert not different_scene(p_same_scene) and different_scene(p)
    assert different_direction(p) and same_colour(p) and not same_direction(p)
    assert not PROTOCOL_2DSCENE(p_same_scene) and PROTOCOL_2DSCENE(p)
    assert (same_colour | same_direction)(p) and not (~same_colour)(p)


def test_sample_pairs_deterministic_and_valid():
    index = SceneIndex.from_dict(TINY)
    a = sample_pairs(index, 5, seed=3, rule=different_scene)
    assert a == sample_pairs(index, 5, seed=3, rule=different_scene)
    assert len(set(a)) == 5 and all(different_scene(p) and index.has(*p.target) for p in a)
    seeds = {tuple(sample_pairs(index, 5, seed=s, rule=different_scene)) for s in range(6)}
    assert len(seeds) > 1
    everything = sample_pairs(index, 7, seed=0, rule=PROTOCOL_2DSCENE)
    assert sorted(everything) == sorted(all_pairs(index, PROTOCOL_2DSCENE))
    with pytest.raises(ValueError, match="fewer than 8"):
        sample_pairs(index, 8, seed=0, rule=PROTOCOL_2DSCENE, max_draws=5000)
    listed = all_pairs(index)
    b = sample_pairs(listed, 4, seed=1)
    assert b == sample_pairs(listed, 4, seed=1) and len(set(b)) == 4 and set(b) <= set(listed)


def test_lazy_sampling_does_not_enumerate(monkeypatch):
    # 300 scenes x 40 conditions: 144 M raw pairs; enumeration would be refused or take minutes.
    from relight_lib.library.data.layout import ALL_CONDITIONS

    index = SceneIndex.from_dict({f"Image{i:03d}": ALL_CONDITIONS for i in range(300)})
    with pytest.raises(ValueError, match="too many"):
        all_pairs(index)

    def boom(*a, **k):
        raise AssertionError("all_pairs must not be called")

    monkeypatch.setattr(vidit, "all_pairs", boom)
    pairs = sample_pairs(index, 2000, seed=0, rule=PROTOCOL_2DSCENE)
    assert len(set(pairs)) == 2000 and all(PROTOCOL_2DSCENE(p) for p in pairs)


def test_index_allows_missing_conditions(synvidit_tree):
    root = synvidit_tree.root
    (root / "any2any/train/Image001_4500_W.png").unlink()
    index = SceneIndex.from_folder(root / "any2any/train")
    assert index.n_images == 11 and not index.has("Image001", Condition(4500, "W"))
    pairs = all_pairs(index)
    # Nothing may use the missing image, neither as input, guide nor ground truth.
    w = Condition(4500, "W")
    assert not any((p.input_scene, p.input_condition) == ("Image001", w) or p.target ==
                   ("Image001", w) for p in pairs)


# ---- any-to-any dataset ----------------------------------------------------------------------


def test_any_to_any_items(synvidit_tree):
    tree = synvidit_tree
    ds = AnyToAnyDataset(tree.root, "train")
    # 3 scenes x 4 conditions; guide from another scene (2 choices) with another direction:
    # directions N, E, NE, W each have one condition -> 3 other conditions -> 12 * 2 * 3 = 72.
    assert len(ds) == 72
    p = ds.pairs[5]
    item = ds[5]
    assert item["key"] == p.key
    torch.testing.assert_close(item["input"], _img(tree, p.input_scene, p.input_condition.tag))
    torch.testing.assert_close(item["guide"], _img(tree, p.guide_scene, p.guide_condition.tag))
    torch.testing.assert_close(item["target"], _img(tree, p.input_scene, p.guide_condition.tag))
    np.testing.assert_array_equal(item["input_depth"][0].numpy(), tree.depth(p.input_scene))
    np.testing.assert_array_equal(item["guide_depth"][0].numpy(), tree.depth(p.guide_scene))
    assert item["input_temperature"] == p.input_condition.temperature
    assert item["guide_direction"] == p.guide_condition.direction
    assert item["guide_angle"] == DIRECTION_ANGLES[p.guide_condition.direction]
    assert item["input_angle"] == DIRECTION_ANGLES[p.input_condition.direction]
    # DataLoader workers receive a pickled copy: it must load the same item.
    copy = pickle.loads(pickle.dumps(ds))
    assert torch.equal(copy[5]["target"], item["target"]) and copy.rule == ds.rule
    batch = next(iter(DataLoader(ds, batch_size=4)))
    assert batch["input"].shape == (4, 3, 8, 8) and batch["guide_depth"].shape == (4, 1, 8, 8)
    assert batch["guide_temperature"].dtype == torch.int64 and len(batch["key"]) == 4


def test_any_to_any_explicit_pairs_sampling_and_options(synvidit_tree):
    root = synvidit_tree.root
    ds = AnyToAnyDataset(root, "train", pairs=[("Image000", "6500_N", "Image001", "4500_E")],
                         size=4)
    item = ds[0]
    assert item["key"] == "Image000_6500_N__Image001_4500_E"
    assert item["target"].shape == (3, 4, 4) and item["input_depth"].shape == (1, 4, 4)
    s = AnyToAnyDataset(root, "train", pairs=same_colour, n_pairs=6, seed=2)
    assert len(s) == 6 and all(p.input_condition.temperature == p.guide_condition.temperature
                               for p in s.pairs)
    assert s.pairs == AnyToAnyDataset(root, "train", pairs=same_colour, n_pairs=6, seed=2).pairs
    with pytest.raises(DataError, match=r"Image009_6500_N\.png"):
        AnyToAnyDataset(root, "train", pairs=[("Image009", "6500_N", "Image001", "4500_E")])


def test_any_to_any_missing_ground_truth_and_sizes(synvidit_tree, tools):
    root = synvidit_tree.root
    (root / "any2any/train/Image000_4500_E.png").unlink()
    with pytest.raises(DataError, match=r"Image000_4500_E\.png"):
        AnyToAnyDataset(root, "train", pairs=[("Image000", "6500_N", "Image001", "4500_E")])
    tools.write_png(root / "any2any/train/Image001_4500_W.png", np.zeros((8, 9, 3), np.uint8))
    ds = AnyToAnyDataset(root, "train", pairs=[("Image002", "6500_N", "Image001", "4500_W")])
    with pytest.raises(DataError, match=r"Image001_4500_W\.png is 8x9"):
        ds[0]
