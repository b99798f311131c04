"""Small fake VIDIT / SynVIDIT trees in tmp_path, with the pixel values they were written from.

Image contents are a deterministic function of (scene, condition tag) so that tests can compare
what a loader returns with what was written, independently of the reader under test.
"""

from __future__ import annotations

import hashlib
import json
import struct
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from PIL import Image

from relight_lib.library.data.depth import save_depth


def pixels(scene: str, tag: str, h: int, w: int) -> np.ndarray:
    """uint8 (h, w, 3) content of image (scene, tag): random but reproducible."""
    rng = np.random.default_rng(zlib.crc32(f"{scene}/{tag}".encode()))
    return rng.integers(0, 256, size=(h, w, 3), dtype=np.uint8)


def depth_values(scene: str, h: int, w: int) -> np.ndarray:
    """float32 (h, w) depth in [0, 1] of a scene."""
    rng = np.random.default_rng(zlib.crc32(f"{scene}/depth".encode()))
    return rng.random((h, w), dtype=np.float32)


def write_png(path: Path, arr: np.ndarray) -> Path:
    """Write uint8 (H, W, 3) / (H, W, 4) / (H, W) as PNG with PIL (independent of our writer)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(arr).save(path)
    return path


def write_png16_rgb(path: Path, arr: np.ndarray) -> Path:
    """A 16-bit RGB PNG built by hand (PIL cannot write one): uint16 (H, W, 3)."""
    h, w, _ = arr.shape
    raw = b"".join(b"\x00" + row.astype(">u2").tobytes() for row in arr)

    def chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data))

    png = (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 16, 2, 0, 0, 0))
           + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(png)
    return path


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def write_manifest(root: Path, scenes: dict[str, str]) -> None:
    """SynVIDIT manifest.json listing every file under root (but itself and the contact sheet)."""
    files = {}
    for p in sorted(root.rglob("*")):
        rel = p.relative_to(root).as_posix()
        if p.is_file() and rel not in ("manifest.json", "contact_sheet.png"):
            files[rel] = {"sha256": sha256(p), "bytes": p.stat().st_size}
    m = {
        "generator": "synvidit",
        "generator_version": "test",
        "params": {"size": 8},
        "scenes": {s: {"split": sp, "family": "boxes"} for s, sp in scenes.items()},
        "files": files,
    }
    (root / "manifest.json").write_text(json.dumps(m, indent=1))


@dataclass
class Tree:
    root: Path
    size: int
    splits: dict[str, list[str]]  # split -> scenes
    conditions: list[str] = field(default_factory=list)  # any2any tags

    def pixels(self, scene: str, tag: str) -> np.ndarray:
        return pixels(scene, tag, self.size, self.size)

    def depth(self, scene: str) -> np.ndarray:
        return depth_values(scene, self.size, self.size)


SYN_CONDITIONS = ["6500_N", "4500_E", "6500_NE", "4500_W"]


def build_synvidit(root: Path, size: int = 8) -> Tree:
    """ROOT/{any2any,track1}/{train,validation,test} as written by `relight render`, + manifest."""
    splits = {"train": ["Image000", "Image001", "Image002"], "validation": ["Image003"],
              "test": ["Image004"]}
    for split, scenes in splits.items():
        for s in scenes:
            flat = root / "any2any" / split
            for tag in SYN_CONDITIONS:
                write_png(flat / f"{s}_{tag}.png", pixels(s, tag, size, size))
            save_depth(flat / f"{s}.npy", depth_values(s, size, size), 3.5)
            t1 = root / "track1" / split
            write_png(t1 / "input" / f"{s}.png", pixels(s, "6500_N", size, size))
            save_depth(t1 / "input" / f"{s}.npy", depth_values(s, size, size), 3.5)
            write_png(t1 / "target" / f"{s}.png", pixels(s, "4500_E", size, size))
    write_png(root / "contact_sheet.png", np.zeros((4, 4, 3), np.uint8))
    write_manifest(root, {s: sp for sp, ss in splits.items() for s in ss})
    return Tree(root, size, splits, list(SYN_CONDITIONS))


REAL_CONDITIONS = ["6500_N", "4500_E", "6500_NE"]


def build_vidit(root: Path, size: int = 16) -> Tree:
    """Real-VIDIT naming: NTIRE Track 1 zips unpacked side by side, plus a flat any-to-any folder.

    track1_train/train/{input,target}/, track1_validation/input/ + track1_validation_gt/,
    track1_test/test/input/ (no targets), track2_train/train/ImageNNN_TTTT_D.png + ImageNNN.npy.
    """
    splits = {"train": ["Image000", "Image001", "Image002"], "validation": ["Image300"],
              "test": ["Image345"]}
    inputs = {"train": root / "track1_train" / "train" / "input",
              "validation": root / "track1_validation" / "input",
              "test": root / "track1_test" / "test" / "input"}
    targets = {"train": root / "track1_train" / "train" / "target",
               "validation": root / "track1_validation_gt"}
    for split, scenes in splits.items():
        for s in scenes:
            write_png(inputs[split] / f"{s}.png", pixels(s, "6500_N", size, size))
            save_depth(inputs[split] / f"{s}.npy", depth_values(s, size, size), 2.0)
            if split in targets:
                write_png(targets[split] / f"{s}.png", pixels(s, "4500_E", size, size))
    for s in splits["train"]:
        flat = root / "track2_train" / "train"
        for tag in REAL_CONDITIONS:
            write_png(flat / f"{s}_{tag}.png", pixels(s, tag, size, size))
        save_depth(flat / f"{s}.npy", depth_values(s, size, size), 2.0)
    return Tree(root, size, splits, list(REAL_CONDITIONS))


@dataclass
class PairTree:
    root: Path
    size: int
    pairs: dict[str, list[str]]  # split -> pair names
    dirs: dict[str, dict[str, Path]]  # split -> role (input, guide, target) -> folder

    def pixels(self, split: str, pair: str, role: str) -> np.ndarray:
        return pixels(f"{split}/{pair}", role, self.size, self.size)

    def depth(self, split: str, pair: str, role: str) -> np.ndarray:
        return depth_values(f"{split}/{pair}/{role}", self.size, self.size)


def build_track2_pairs(root: Path, size: int = 8, nested: bool = False) -> PairTree:
    """NTIRE 2021 Track 2 validation/test pair packaging.

    Default (archives unpacked side by side): track2_validation/{input,guide}/PairNNN.{png,npy},
    track2_validation_gt/PairNNN.png, track2_test/{input,guide}/ (no ground truth).
    ``nested=True``: Track2/val/{input,guide,target}/ and Track2/test/{input,guide}/.
    """
    pairs = {"validation": ["Pair000", "Pair001"], "test": ["Pair000", "Pair001"]}
    if nested:
        base = {"validation": root / "Track2" / "val", "test": root / "Track2" / "test"}
        target = base["validation"] / "target"
    else:
        base = {"validation": root / "track2_validation", "test": root / "track2_test"}
        target = root / "track2_validation_gt"
    dirs: dict[str, dict[str, Path]] = {}
    for split, names in pairs.items():
        dirs[split] = {"input": base[split] / "input", "guide": base[split] / "guide"}
        if split == "validation":
            dirs[split]["target"] = target
        for name in names:
            key = f"{split}/{name}"
            for role in ("input", "guide"):
                write_png(dirs[split][role] / f"{name}.png", pixels(key, role, size, size))
                save_depth(dirs[split][role] / f"{name}.npy",
                           depth_values(f"{key}/{role}", size, size), 2.5)
            if split == "validation":
                write_png(target / f"{name}.png", pixels(key, "target", size, size))
    return PairTree(root, size, pairs, dirs)


@pytest.fixture
def pairs_tree(tmp_path: Path) -> PairTree:
    return build_track2_pairs(tmp_path / "vidit")


@pytest.fixture
def synvidit_tree(tmp_path: Path) -> Tree:
    return build_synvidit(tmp_path / "synvidit")


@pytest.fixture
def vidit_tree(tmp_path: Path) -> Tree:
    return build_vidit(tmp_path / "vidit")


@pytest.fixture
def tools() -> SimpleNamespace:
    """Helper functions for tests (conftest modules are not importable by name)."""
    return SimpleNamespace(
        pixels=pixels, depth_values=depth_values, write_png=write_png,
        write_png16_rgb=write_png16_rgb, write_manifest=write_manifest, sha256=sha256,
        build_synvidit=build_synvidit, build_vidit=build_vidit,
        build_track2_pairs=build_track2_pairs,
    )
