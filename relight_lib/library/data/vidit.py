"""Torch datasets over VIDIT and SynVIDIT folders: one-to-one (Track 1) and any-to-any pairs.

The loaders read three packagings (``spec/papers.md`` section 1; layout contract in
:mod:`relight_lib.library.data.layout`):

* **any-to-any flat folders**: ``ImageNNN_TTTT_D.png`` for every rendered condition plus one depth
  file ``ImageNNN.npy`` per scene (full VIDIT, NTIRE 2021 Track 2 training, ``ROOT/any2any/<split>``
  of SynVIDIT);
* **Track 1 folders**: ``input/ImageNNN.png`` (6500 K North) with ``ImageNNN.npy`` beside it, and
  ``target/ImageNNN.png`` (4500 K East) in a separate folder (NTIRE 2021 Track 1 zips,
  ``ROOT/track1/<split>`` of SynVIDIT).
* **Track 2 pair folders** (NTIRE 2021 any-to-any validation/test): ``input/PairNNN.png`` +
  ``PairNNN.npy`` and ``guide/PairNNN.png`` + ``PairNNN.npy``; validation ground truth
  ``PairNNN.png`` in a separate folder (``track2_validation_gt``). Read by
  :class:`PairedAnyToAnyDataset`; lighting conditions are unknown there (None in items).

The exact folder names inside the NTIRE zips were never verified, so discovery is tolerant: split
folders may be called ``train``/``training``/``Train``, ``validation``/``val``/``valid``, ``test``/
``testing`` or end in ``_<split>`` (``track1_train``), and are searched a few levels below the
root; Track 1 targets may sit in ``target``/``targets``/``gt``/``ground_truth``/``val_target``
beside ``input`` or in a separate ``<split>_gt`` / ``track1_validation_gt`` folder; Track 2 pair
folders are found the same way (``track2_validation/{input,guide}`` + ``track2_validation_gt``),
and a folder holding ``PairNNN`` files is never taken for a Track 1 one. Explicit
``input_dir=``/``target_dir=`` override the search. Errors list the folders that were looked at.

Items are dicts of float32 tensors: images (3, H, W) in [0, 1], depth (1, H, W) as stored (VIDIT
and SynVIDIT store it in [0, 1]; it is not renormalised here), plus a string ``key``.
"""

from __future__ import annotations

import os
import re
import warnings
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import Dataset

from relight_lib.library.data.depth import load_depth
from relight_lib.library.data.imageio import DataError, read_rgb, to_chw
from relight_lib.library.data.layout import (
    ALL_CONDITIONS,
    ANY2ANY_DIR,
    SPLITS,
    TRACK1_DIR,
    TRACK1_INPUT,
    TRACK1_TARGET,
    Condition,
    depth_name,
    image_name,
    parse_image_name,
    parse_pair_name,
)

__all__ = [
    "SPLIT_ALIASES",
    "canonical_split",
    "find_split_dirs",
    "find_split_dir",
    "find_any2any_dir",
    "find_track1_dirs",
    "find_pair_dirs",
    "SceneIndex",
    "Pair",
    "Rule",
    "all_of",
    "any_pair",
    "different_scene",
    "same_scene",
    "different_direction",
    "same_direction",
    "different_colour",
    "same_colour",
    "PROTOCOL_2DSCENE",
    "all_pairs",
    "sample_pairs",
    "OneToOneDataset",
    "AnyToAnyDataset",
    "PairedAnyToAnyDataset",
]

# --------------------------------------------------------------------------------------------
# Folder discovery
# --------------------------------------------------------------------------------------------

#: Accepted folder-name spellings per split (compared case-insensitively, as the last
#: ``_``/``-``-separated token of a folder name).
SPLIT_ALIASES: dict[str, tuple[str, ...]] = {
    "train": ("train", "training"),
    "validation": ("validation", "val", "valid", "validate", "validating"),
    "test": ("test", "testing"),
}
_INPUT_TOKENS = ("input", "inputs")
_GUIDE_TOKENS = ("guide", "guides", "guidance")
_TARGET_TOKENS = ("target", "targets", "gt", "groundtruth")
_GT_TOKENS = ("gt", "target", "targets", "groundtruth", "ground")
_SKIP_DIRS = ("__MACOSX",)
_MAX_DEPTH = 3  # root/track1_train/train/input is as deep as the known packagings go


def canonical_split(split: str) -> str:
    """Map a split name or alias to ``'train'``, ``'validation'`` or ``'test'``.

    >>> canonical_split("val"), canonical_split("Training")
    ('validation', 'train')
    """
    s = split.strip().lower()
    for canon, aliases in SPLIT_ALIASES.items():
        if s in aliases:
            return canon
    raise ValueError(f"unknown split {split!r}; expected one of {SPLITS} (or an alias)")


def _tokens(name: str) -> list[str]:
    return [t for t in re.split(r"[\s._-]+", name.lower()) if t]


def _split_of_name(name: str) -> str | None:
    """The split a folder name designates (``track1_train`` -> train), or None."""
    toks = _tokens(name)
    if not toks:
        return None
    for canon, aliases in SPLIT_ALIASES.items():
        if toks[-1] in aliases:
            return canon
    return None


def _is_input_name(name: str) -> bool:
    toks = _tokens(name)
    return bool(toks) and (toks[-1] in _INPUT_TOKENS or name.lower() == "in")


def _is_guide_name(name: str) -> bool:
    toks = _tokens(name)
    return bool(toks) and toks[-1] in _GUIDE_TOKENS


def _is_target_name(name: str) -> bool:
    toks = _tokens(name)
    return bool(toks) and (toks[-1] in _TARGET_TOKENS or toks[-2:] == ["ground", "truth"])


def _is_gt_name(name: str, split: str) -> bool:
    """``track1_validation_gt``, ``val_target``, ``validation_ground_truth``... for ``split``."""
    toks = _tokens(name)
    return any(t in SPLIT_ALIASES[split] for t in toks) and any(t in _GT_TOKENS for t in toks)


def _subdirs(d: Path) -> list[Path]:
    try:
        entries = sorted(os.scandir(d), key=lambda e: e.name)
    except (FileNotFoundError, NotADirectoryError, PermissionError):
        return []
    return [
        Path(e.path)
        for e in entries
        if e.is_dir() and not e.name.startswith(".") and e.name not in _SKIP_DIRS
    ]


def _walk_dirs(root: Path, max_depth: int = _MAX_DEPTH) -> Iterator[tuple[int, Path]]:
    """Breadth-first (depth, folder) pairs below ``root`` (depth 0 = root), sorted by name."""
    level = [root]
    for depth in range(max_depth + 1):
        nxt: list[Path] = []
        for d in level:
            yield depth, d
            if depth < max_depth:
                nxt.extend(_subdirs(d))
        level = nxt


def _pngs(d: Path) -> list[Path]:
    try:
        return sorted(
            Path(e.path)
            for e in os.scandir(d)
            if e.is_file() and e.name.lower().endswith(".png") and not e.name.startswith(".")
        )
    except (FileNotFoundError, NotADirectoryError):
        return []


def _has_any2any_images(d: Path) -> bool:
    try:
        return any(e.is_file() and parse_image_name(e.name) for e in os.scandir(d))
    except (FileNotFoundError, NotADirectoryError):
        return False


def _check_root(root: str | os.PathLike[str]) -> Path:
    root = Path(root).expanduser()
    if not root.exists():
        raise DataError(f"data root {root} does not exist")
    if not root.is_dir():
        raise DataError(f"data root {root} is not a folder")
    return root


def _looked(paths: Iterable[Path], limit: int = 25) -> str:
    paths = list(dict.fromkeys(paths))
    shown = "\n  ".join(str(p) for p in paths[:limit])
    more = f"\n  ... and {len(paths) - limit} more" if len(paths) > limit else ""
    return f"\n  {shown}{more}" if paths else " (nothing)"


def find_split_dirs(
    root: str | os.PathLike[str], split: str, prefer: str | None = None
) -> list[Path]:
    """All folders up to three levels below ``root`` (root included) named like ``split``.

    Args:
        root: where to search.
        split: ``'train'``, ``'validation'``, ``'test'`` or an alias (``'val'``...).
        prefer: if given, folders whose path below ``root`` contains this string (case-insensitive,
            e.g. ``'any2any'``) come first.

    Returns:
        Matching folders, shallowest first (then by name); possibly empty.
    """
    root = _check_root(root)
    canon = canonical_split(split)
    found = [d for _, d in _walk_dirs(root) if _split_of_name(d.name) == canon]
    if prefer:
        p = prefer.lower()

        def rank(d: Path) -> int:
            rel = d.relative_to(root).as_posix().lower() if d != root else ""
            return 0 if p in rel else 1

        found.sort(key=rank)  # stable: keeps breadth-first order within each group
    return found


def find_split_dir(
    root: str | os.PathLike[str], split: str, prefer: str | None = None
) -> Path:
    """The folder holding ``split`` below ``root`` (see :func:`find_split_dirs`).

    Searches ``root/<split>``, ``root/*/<split>`` (``root/track1/train``, ``root/any2any/val``) and
    one level deeper (``root/track1_train/train``); names are matched case-insensitively against
    :data:`SPLIT_ALIASES`, also as the last ``_``-separated token (``track1_train``).

    Raises:
        DataError: nothing matched; the message lists the folders that were searched.
    """
    found = find_split_dirs(root, split, prefer)
    if not found:
        root = Path(root)
        raise DataError(
            f"no folder for split {split!r} under {root} (accepted names: "
            f"{', '.join(SPLIT_ALIASES[canonical_split(split)])}); looked in:"
            + _looked(d for _, d in _walk_dirs(root))
        )
    return found[0]


def find_any2any_dir(root: str | os.PathLike[str], split: str) -> Path:
    """The flat any-to-any folder (``ImageNNN_TTTT_D.png``) of ``split`` below ``root``.

    ``root`` itself is used when it directly holds such images. Otherwise the split folders of
    :func:`find_split_dirs` are tried, those below an ``any2any`` folder first.

    Raises:
        DataError: none of the folders holds any-to-any images; lists the folders looked at.
    """
    root = _check_root(root)
    canon = canonical_split(split)
    looked = [root]
    if _split_of_name(root.name) in (None, canon) and _has_any2any_images(root):
        return root
    for d in find_split_dirs(root, canon, prefer=ANY2ANY_DIR):
        looked.append(d)
        if _has_any2any_images(d):
            return d
    raise DataError(
        f"no any-to-any images (ImageNNN_TTTT_D.png) for split {canon!r} under {root}; looked in:"
        + _looked(looked)
    )


def _has_pairs(d: Path) -> bool:
    """Whether ``d`` holds Track 2 pair files (``PairNNN.png`` / ``PairNNN.npy``)."""
    try:
        return any(e.is_file() and parse_pair_name(e.name) for e in os.scandir(d))
    except (FileNotFoundError, NotADirectoryError, PermissionError):
        return False


def _pair_files(d: Path, ext: str) -> dict[str, Path]:
    """``{'Pair000': d/'Pair000.<ext>', ...}`` for the pair files of one kind in ``d``."""
    out: dict[str, Path] = {}
    try:
        for e in os.scandir(d):
            parsed = parse_pair_name(e.name)
            if parsed and parsed[1] == ext and e.is_file():
                out[parsed[0]] = Path(e.path)
    except (FileNotFoundError, NotADirectoryError, PermissionError):
        pass
    return dict(sorted(out.items()))


def _has_pair_pngs(d: Path) -> bool:
    return bool(_pair_files(d, "png"))


def _has_track1_pngs(d: Path) -> bool:
    """PNGs of the Track 1 kind: any PNG, in a folder that is not a Track 2 pair folder."""
    return bool(_pngs(d)) and not _has_pairs(d)


def _child(
    d: Path, pred: Callable[[str], bool], content: Callable[[Path], bool] | None = _has_track1_pngs
) -> Path | None:
    """The first subfolder of ``d`` whose name satisfies ``pred`` and whose files ``content``."""
    for sub in _subdirs(d):
        if pred(sub.name) and (content is None or content(sub)):
            return sub
    return None


def _resolve_gt_dir(
    d: Path, split: str, content: Callable[[Path], bool] = _has_track1_pngs
) -> Path | None:
    """A ground-truth folder as unzipped: images directly, or in a target/split subfolder."""
    if content(d):
        return d
    for sub in _subdirs(d):
        if _is_target_name(sub.name) or _split_of_name(sub.name) == split:
            if content(sub):
                return sub
            inner = _child(sub, _is_target_name, content)
            if inner is not None:
                return inner
    return None


def _find_target_dir(
    root: Path, split_dir: Path, split: str, exclude: Sequence[Path],
    content: Callable[[Path], bool],
) -> tuple[Path | None, list[Path]]:
    """A target folder beside the inputs (``target``, ``gt``...) or a separate ``*_<split>_gt``
    folder (a ground-truth zip unpacked next to the inputs), whose files satisfy ``content``."""
    looked = [split_dir]
    t = _child(split_dir, _is_target_name, content)
    if t is not None and t not in exclude:
        return t, looked
    bases = [root] + ([split_dir.parent] if split_dir != root else [])
    for base in dict.fromkeys(bases):
        for _, d in _walk_dirs(base, 2):
            if d in exclude or d == split_dir or not _is_gt_name(d.name, split):
                continue
            looked.append(d)
            r = _resolve_gt_dir(d, split, content)
            if r is not None and r not in exclude:
                return r, looked
    return None, looked


def _find_track1_target(
    root: Path, split_dir: Path, split: str, input_dir: Path
) -> tuple[Path | None, list[Path]]:
    """Track 1 target folder for ``split``: beside ``input`` or a separate ``*_gt`` folder."""
    return _find_target_dir(root, split_dir, split, (input_dir,), _has_track1_pngs)


def find_track1_dirs(
    root: str | os.PathLike[str],
    split: str,
    input_dir: str | os.PathLike[str] | None = None,
    target_dir: str | os.PathLike[str] | None = None,
) -> tuple[Path, Path | None]:
    """Track 1 input and target folders of ``split`` below ``root``.

    The input folder is a subfolder named ``input``/``inputs``/``Input`` (or ending in ``_input``)
    holding PNGs, inside ``root`` or one of its split folders (``track1`` ones first). The target
    folder is a sibling named ``target``/``targets``/``gt``/``GT``/``ground_truth``/``val_target``,
    or a separate folder whose name mentions the split and ``gt``/``target``
    (``track1_validation_gt``), holding the PNGs directly or in a ``target``/split subfolder.

    Args:
        root: data root.
        split: split name or alias.
        input_dir: explicit input folder (skips the search).
        target_dir: explicit target folder (skips the search).

    Returns:
        ``(input_dir, target_dir)``; ``target_dir`` is None when no target folder exists (normal
        for the test split, whose ground truth VIDIT keeps private).

    Raises:
        DataError: no input folder found (the message lists the folders looked at), or an explicit
            folder does not exist.
    """
    root = _check_root(root)
    canon = canonical_split(split)
    if input_dir is not None:
        in_dir = Path(input_dir)
        if not in_dir.is_dir():
            raise DataError(f"input folder {in_dir} does not exist")
        split_dir = in_dir.parent
    else:
        looked: list[Path] = []
        cands = []
        if _split_of_name(root.name) in (None, canon):
            cands.append(root)
        cands += find_split_dirs(root, canon, prefer=TRACK1_DIR)
        in_dir = None
        for cand in cands:
            looked.append(cand)
            sub = _child(cand, _is_input_name)
            if sub is not None:
                in_dir, split_dir = sub, cand
                break
        if in_dir is None:
            raise DataError(
                f"no Track 1 input folder (input/ with ImageNNN.png) for split {canon!r} under "
                f"{root}; looked in:" + _looked(looked)
            )
    if target_dir is not None:
        t_dir: Path | None = Path(target_dir)
        if not t_dir.is_dir():
            raise DataError(f"target folder {t_dir} does not exist")
    else:
        t_dir, _ = _find_track1_target(root, split_dir, canon, in_dir)
    return in_dir, t_dir


def _pair_split_dir(cand: Path) -> tuple[Path | None, Path | None]:
    """The ``input``-like and ``guide``-like subfolders of ``cand`` that hold ``PairNNN.png``."""
    return (_child(cand, _is_input_name, _has_pair_pngs),
            _child(cand, _is_guide_name, _has_pair_pngs))


def find_pair_dirs(
    root: str | os.PathLike[str],
    split: str,
    input_dir: str | os.PathLike[str] | None = None,
    guide_dir: str | os.PathLike[str] | None = None,
    target_dir: str | os.PathLike[str] | None = None,
) -> tuple[Path, Path, Path | None]:
    """Input, guide and target folders of an NTIRE 2021 Track 2 validation/test pair set.

    The pair folders are subfolders named ``input`` and ``guide`` (also ``inputs``, ``guides``,
    ``*_input``...) that hold ``PairNNN.png``, side by side in ``root`` or in one of its split
    folders (``track2_validation``, ``Track2/val``...; ``track2`` ones first). The target folder
    (validation ground truth, a separate archive) is a sibling named ``target``/``gt``/... or a
    separate folder whose name mentions the split and ``gt``/``target`` (``track2_validation_gt``),
    holding ``PairNNN.png`` directly or in a ``target``/split subfolder. Folders without ``PairNNN``
    files (Track 1 ground truth, ``ImageNNN.png``) are never taken for it.

    Args:
        root: data root.
        split: split name or alias (``'validation'`` or ``'test'`` in the NTIRE packaging).
        input_dir / guide_dir / target_dir: explicit folders (skip the search); with only
            ``input_dir`` the guide folder is looked for beside it.

    Returns:
        ``(input_dir, guide_dir, target_dir)``; ``target_dir`` is None when there is no target
        folder (normal for the test split, and for validation before its ground truth is added).

    Raises:
        DataError: no input/guide pair folders (the message lists where it looked), or an
            explicit folder does not exist.
    """
    root = _check_root(root)
    canon = canonical_split(split)
    for name, d in (("input", input_dir), ("guide", guide_dir), ("target", target_dir)):
        if d is not None and not Path(d).is_dir():
            raise DataError(f"{name} folder {d} does not exist")
    if input_dir is not None:
        in_dir = Path(input_dir)
        split_dir = in_dir.parent
        g_dir = Path(guide_dir) if guide_dir is not None else _pair_split_dir(split_dir)[1]
        if g_dir is None:
            raise DataError(f"no guide folder (guide/ with PairNNN.png) beside {in_dir}; pass "
                            "guide_dir=...")
    else:
        cands: list[Path] = []
        if _split_of_name(root.name) in (None, canon):
            cands.append(root)
        cands += find_split_dirs(root, canon, prefer="track2")
        found = None
        half: list[str] = []
        for cand in cands:
            i_dir, gd = _pair_split_dir(cand)
            if i_dir is not None and gd is not None:
                found = (cand, i_dir, gd)
                break
            if i_dir is not None or gd is not None:
                half.append(f"{i_dir or gd} has no {'guide' if gd is None else 'input'} folder "
                            "beside it")
        if found is None:
            extra = ("; " + "; ".join(half)) if half else ""
            raise DataError(
                f"no Track 2 pair folders (input/ and guide/ with PairNNN.png) for split {canon!r} "
                f"under {root}{extra}; looked in:" + _looked(cands)
            )
        split_dir, in_dir, g_dir = found
        if guide_dir is not None:
            g_dir = Path(guide_dir)
    if target_dir is not None:
        t_dir: Path | None = Path(target_dir)
    else:
        t_dir = _find_target_dir(root, split_dir, canon, (in_dir, g_dir), _has_pair_pngs)[0]
    return in_dir, g_dir, t_dir


# --------------------------------------------------------------------------------------------
# Scene index and pair rules (any-to-any)
# --------------------------------------------------------------------------------------------


class Pair(NamedTuple):
    """An any-to-any sample: relight ``input`` (scene, condition) to the guide's condition.

    The ground truth is the input scene under the guide's condition.
    """

    input_scene: str
    input_condition: Condition
    guide_scene: str
    guide_condition: Condition

    @property
    def target(self) -> tuple[str, Condition]:
        """(scene, condition) of the ground truth: the input scene under the guide's lighting."""
        return self.input_scene, self.guide_condition

    @property
    def key(self) -> str:
        """``Image000_6500_N__Image003_4500_E``: a file-name-safe identifier."""
        return (
            f"{self.input_scene}_{self.input_condition.tag}__"
            f"{self.guide_scene}_{self.guide_condition.tag}"
        )


_COND_ORDER = {c: i for i, c in enumerate(ALL_CONDITIONS)}


@dataclass
class SceneIndex:
    """Which conditions (and depth files) exist per scene in one flat any-to-any folder.

    Scenes may lack conditions (a SynVIDIT set may render only some); pairs only use images that
    exist.

    Attributes:
        folder: the flat folder (``Path('.')`` for an index built from a dict).
        conditions: scene -> set of conditions with a PNG.
        depth: scenes that have ``ImageNNN.npy``.
    """

    folder: Path
    conditions: dict[str, frozenset[Condition]]
    depth: frozenset[str] = frozenset()
    _images: list[tuple[str, Condition]] = field(default_factory=list, repr=False)
    _with: dict[Condition, list[str]] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self.conditions = {s: frozenset(c) for s, c in sorted(self.conditions.items())}
        self._images = [
            (s, c) for s, cs in self.conditions.items() for c in sorted(cs, key=_COND_ORDER.get)
        ]
        self._with = {}
        for s, c in self._images:
            self._with.setdefault(c, []).append(s)

    @classmethod
    def from_folder(cls, folder: str | os.PathLike[str]) -> "SceneIndex":
        """Index a flat folder by listing it once (no image is opened)."""
        folder = Path(folder)
        conds: dict[str, set[Condition]] = {}
        depth: set[str] = set()
        try:
            entries = list(os.scandir(folder))
        except FileNotFoundError:
            raise DataError(f"any-to-any folder {folder} does not exist") from None
        for e in entries:
            if not e.is_file():
                continue
            parsed = parse_image_name(e.name)
            if parsed:
                conds.setdefault(parsed[0], set()).add(parsed[1])
            elif re.fullmatch(r"Image\d{3,}\.npy", e.name):
                depth.add(e.name[:-4])
        return cls(folder, {s: frozenset(c) for s, c in conds.items()}, frozenset(depth))

    @classmethod
    def from_dict(
        cls, conditions: dict[str, Iterable[Condition | str]], depth: Iterable[str] | None = None
    ) -> "SceneIndex":
        """An index without files (for planning and tests); depth defaults to every scene.

        >>> idx = SceneIndex.from_dict({"Image000": ["6500_N", "4500_E"], "Image001": ["6500_N"]})
        >>> idx.n_images, idx.has("Image001", Condition(4500, "E"))
        (3, False)
        """
        conds = {
            s: frozenset(c if isinstance(c, Condition) else Condition.parse(c) for c in cs)
            for s, cs in conditions.items()
        }
        return cls(Path("."), conds, frozenset(conds if depth is None else depth))

    @property
    def scenes(self) -> list[str]:
        """Scene names, sorted."""
        return list(self.conditions)

    @property
    def n_images(self) -> int:
        return len(self._images)

    def images(self) -> list[tuple[str, Condition]]:
        """Every existing (scene, condition), sorted by scene then VIDIT's condition order."""
        return list(self._images)

    def has(self, scene: str, cond: Condition) -> bool:
        return cond in self.conditions.get(scene, ())

    def scenes_with(self, cond: Condition) -> list[str]:
        """Scenes that have an image under ``cond``."""
        return list(self._with.get(cond, ()))

    def path(self, scene: str, cond: Condition) -> Path:
        return self.folder / image_name(scene, cond)

    def depth_path(self, scene: str) -> Path:
        return self.folder / depth_name(scene)


def _always(p: Pair) -> bool:
    return True


def _different_scene(p: Pair) -> bool:
    return p.input_scene != p.guide_scene


def _same_scene(p: Pair) -> bool:
    return p.input_scene == p.guide_scene


def _different_direction(p: Pair) -> bool:
    return p.input_condition.direction != p.guide_condition.direction


def _same_direction(p: Pair) -> bool:
    return p.input_condition.direction == p.guide_condition.direction


def _different_colour(p: Pair) -> bool:
    return p.input_condition.temperature != p.guide_condition.temperature


def _same_colour(p: Pair) -> bool:
    return p.input_condition.temperature == p.guide_condition.temperature


@dataclass(frozen=True)
class Rule:
    """A predicate on :class:`Pair`, composable with ``&``, ``|`` and ``~`` (and picklable).

    >>> p = Pair("Image000", Condition(6500, "N"), "Image001", Condition(4500, "E"))
    >>> (different_scene & different_direction)(p), (same_colour | same_direction)(p)
    (True, False)
    >>> str(~same_colour & different_scene)
    '(~same_colour & different_scene)'
    """

    name: str
    fn: Callable[[Pair], bool] | None = None
    op: str = "leaf"
    parts: tuple["Rule", ...] = ()

    def __call__(self, pair: Pair) -> bool:
        if self.op == "leaf":
            return bool(self.fn(pair))  # type: ignore[misc]
        if self.op == "and":
            return all(r(pair) for r in self.parts)
        if self.op == "or":
            return any(r(pair) for r in self.parts)
        return not self.parts[0](pair)  # "not"

    def __and__(self, other: "Rule") -> "Rule":
        return all_of(self, other)

    def __or__(self, other: "Rule") -> "Rule":
        return Rule(f"({self.name} | {other.name})", None, "or", (self, other))

    def __invert__(self) -> "Rule":
        return Rule(f"~{self.name}", None, "not", (self,))

    def __str__(self) -> str:
        return self.name


def all_of(*rules: Rule) -> Rule:
    """A rule that holds when every one of ``rules`` holds."""
    if len(rules) == 1:
        return rules[0]
    return Rule("(" + " & ".join(r.name for r in rules) + ")", None, "and", tuple(rules))


any_pair = Rule("any_pair", _always)
different_scene = Rule("different_scene", _different_scene)
same_scene = Rule("same_scene", _same_scene)
different_direction = Rule("different_direction", _different_direction)
same_direction = Rule("same_direction", _same_direction)
different_colour = Rule("different_colour", _different_colour)
same_colour = Rule("same_colour", _same_colour)

#: 2DSceneRelighting's training/evaluation restriction (``DifferentScene`` and
#: ``DifferentLightDirection``, spec/papers.md 6.10).
PROTOCOL_2DSCENE = different_scene & different_direction


def all_pairs(
    index: SceneIndex, rule: Rule | None = None, *, max_candidates: int = 5_000_000
) -> list[Pair]:
    """Every (input image, guide image) whose ground truth exists, filtered by ``rule``.

    The raw set includes same-scene pairs and the identity pair (guide == input), as in
    2DSceneRelighting's "all (I, T) combinations"; restrict it with rules. Enumeration is only
    meant for small sets: use :func:`sample_pairs` on the index for large ones.

    Args:
        index: the scenes and their conditions.
        rule: keep only pairs for which ``rule(pair)`` holds (all pairs if None).
        max_candidates: refuse when more than this many candidate pairs would be visited.

    Returns:
        Pairs ordered by input image, then guide image.

    Raises:
        ValueError: the set is too large to enumerate.
    """
    n_cand = sum(
        len(index.scenes_with(c)) * len(cs) for _, cs in index.conditions.items() for c in cs
    )
    if n_cand > max_candidates:
        raise ValueError(
            f"{n_cand} candidate pairs in {index.folder}: too many to enumerate; draw a sample "
            "with sample_pairs(index, n, seed, rule) (or AnyToAnyDataset(n_pairs=...))"
        )
    out: list[Pair] = []
    for s_in, c_in in index.images():
        for c_g in sorted(index.conditions[s_in], key=_COND_ORDER.get):
            for s_g in index.scenes_with(c_g):
                p = Pair(s_in, c_in, s_g, c_g)
                if rule is None or rule(p):
                    out.append(p)
    out.sort(key=lambda p: (p.input_scene, _COND_ORDER[p.input_condition], p.guide_scene,
                            _COND_ORDER[p.guide_condition]))
    return out


def sample_pairs(
    pairs: SceneIndex | Sequence[Pair],
    n: int,
    seed: int = 0,
    rule: Rule | None = None,
    *,
    max_draws: int | None = None,
) -> list[Pair]:
    """Draw ``n`` distinct pairs, deterministically for a given seed (numpy ``Generator``).

    Given a :class:`SceneIndex`, pairs are drawn lazily without building the pair set: draw
    (input image, guide image) index pairs uniformly, reject those whose ground truth is missing,
    that fail ``rule`` or that were drawn before. This samples uniformly from the valid pairs and
    costs about ``n`` draws when most pairs are valid (VIDIT's 12,000 training images give 144 M raw
    pairs). Given a sequence of pairs, ``n`` of them are chosen without replacement.

    Args:
        pairs: a scene index or an explicit sequence of pairs.
        n: number of pairs wanted.
        seed: seed of ``np.random.default_rng``.
        rule: filter (index input only; filter a sequence yourself).
        max_draws: give up after this many draws (default ``max(100_000, 200 * n)``).

    Returns:
        ``n`` distinct pairs in draw order.

    Raises:
        ValueError: fewer than ``n`` pairs are available (or found within ``max_draws``).
    """
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    rng = np.random.default_rng(seed)
    if not isinstance(pairs, SceneIndex):
        seq = list(pairs)
        if rule is not None:
            seq = [p for p in seq if rule(p)]
        if n > len(seq):
            raise ValueError(f"asked for {n} pairs, only {len(seq)} available")
        return [seq[i] for i in rng.choice(len(seq), size=n, replace=False)]
    index = pairs
    images = index.images()
    n_img = len(images)
    if n and not n_img:
        raise ValueError(f"no images in index of {index.folder}")
    budget = max_draws if max_draws is not None else max(100_000, 200 * n)
    chosen: dict[Pair, None] = {}
    draws = 0
    batch = max(256, min(2 * n, 65536))
    while len(chosen) < n:
        if draws >= budget:
            raise ValueError(
                f"found only {len(chosen)} distinct valid pairs (rule {rule}) after {draws} random "
                f"draws; fewer than {n} pairs may exist: use all_pairs() for small sets"
            )
        for i, t in rng.integers(0, n_img, size=(batch, 2)).tolist():
            draws += 1
            s_in, c_in = images[i]
            s_g, c_g = images[t]
            if not index.has(s_in, c_g):
                continue
            p = Pair(s_in, c_in, s_g, c_g)
            if (rule is None or rule(p)) and p not in chosen:
                chosen[p] = None
                if len(chosen) == n:
                    break
            if draws >= budget:
                break
    return list(chosen)


# --------------------------------------------------------------------------------------------
# Datasets
# --------------------------------------------------------------------------------------------


def _as_hw(v: int | Sequence[int] | None, what: str) -> tuple[int, int] | None:
    if v is None:
        return None
    if isinstance(v, int):
        h = w = v
    else:
        h, w = (int(x) for x in v)
    if h < 1 or w < 1:
        raise ValueError(f"{what} must be positive, got {v}")
    return h, w


def _as_condition(c: Condition | str) -> Condition:
    return c if isinstance(c, Condition) else Condition.parse(c)


class _ImageItemDataset(Dataset):
    """Shared reading, size checks, resizing and cropping of one item's images and depths."""

    def __init__(
        self,
        size: int | Sequence[int] | None,
        crop: int | Sequence[int] | None,
        random_crop: bool,
        crop_seed: int | None,
        antialias: bool,
    ) -> None:
        self.size = _as_hw(size, "size")
        self.crop = _as_hw(crop, "crop")
        self.random_crop = random_crop
        self.crop_seed = crop_seed
        self.antialias = antialias
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Change the random crops of a seeded dataset (they depend on seed, epoch and index)."""
        self.epoch = int(epoch)

    def _load(
        self, images: dict[str, Path], depths: dict[str, Path], key: str, item: int
    ) -> dict[str, Any]:
        """Read files, check that all have one size, resize and crop with one window.

        Returns a dict of name -> float32 tensor: images (3, H, W), depths (1, H, W).
        """
        arrays: dict[str, np.ndarray] = {n: to_chw(read_rgb(p)) for n, p in images.items()}
        arrays.update({n: load_depth(p)[None] for n, p in depths.items()})
        files = {**images, **depths}
        sizes = {n: a.shape[1:] for n, a in arrays.items()}
        if len(set(sizes.values())) > 1:
            listing = ", ".join(f"{files[n]} is {h}x{w}" for n, (h, w) in sizes.items())
            raise DataError(f"item {key}: files of different sizes (HxW): {listing}")
        out = {n: torch.from_numpy(a) for n, a in arrays.items()}
        if self.size is not None and tuple(next(iter(sizes.values()))) != self.size:
            for n, t in out.items():
                if n in images:
                    # Bicubic as AIM 2020 did (cv2 INTER_CUBIC, same a = -0.75 kernel); with
                    # antialias=True the kernel widens when shrinking, avoiding aliasing at 8x.
                    r = F.interpolate(t[None], size=self.size, mode="bicubic",
                                      align_corners=False, antialias=self.antialias)
                    out[n] = r[0].clamp_(0.0, 1.0)  # bicubic overshoots at edges
                else:
                    r = F.interpolate(t[None], size=self.size, mode="bilinear",
                                      align_corners=False, antialias=self.antialias)
                    out[n] = r[0]
        if self.crop is not None:
            h, w = next(iter(out.values())).shape[1:]
            ch, cw = self.crop
            if ch > h or cw > w:
                raise DataError(f"item {key}: crop {ch}x{cw} is larger than the image {h}x{w}")
            top, left = self._crop_origin(h, w, ch, cw, item)
            out = {n: t[:, top:top + ch, left:left + cw].contiguous() for n, t in out.items()}
        return out

    def _crop_origin(self, h: int, w: int, ch: int, cw: int, item: int) -> tuple[int, int]:
        if not self.random_crop:
            return (h - ch) // 2, (w - cw) // 2
        if self.crop_seed is None:
            # torch's global RNG: DataLoader seeds it per worker, torch.manual_seed fixes it.
            return int(torch.randint(0, h - ch + 1, ()).item()), int(
                torch.randint(0, w - cw + 1, ()).item()
            )
        # Seeded: a function of (seed, epoch, item), so workers and reruns agree.
        rng = np.random.default_rng([self.crop_seed, self.epoch, item])
        return int(rng.integers(0, h - ch + 1)), int(rng.integers(0, w - cw + 1))


class _EntryDataset(_ImageItemDataset):
    """A fixed list of items, each a key and its files (:class:`OneToOneDataset`,
    :class:`PairedAnyToAnyDataset`): length, keys, ``limit``, index checks, the optional
    target, reading an item, and decoding the whole set into memory.

    Subclasses fill ``entries`` (frozen dataclasses with ``key`` and ``target``, plus the fields
    :attr:`IMAGES` and :attr:`DEPTHS` name) and ``has_target``; :meth:`_extra` adds per-item
    values that are not files.
    """

    #: Entry fields read as RGB images (the target follows them when the entry has one).
    IMAGES: tuple[str, ...] = ("input",)
    #: Item names of the depth maps -> entry fields.
    DEPTHS: dict[str, str] = {"depth": "depth"}

    entries: list[Any]
    has_target: bool

    def _require_target(self, require_target: bool | None) -> bool:
        """Targets are required except for the test split (whose ground truth is private)."""
        return self.split != "test" if require_target is None else bool(require_target)

    def _settle_targets(self, t_dir: Path | None, missing: Sequence[Path], found: bool,
                        stacklevel: int = 3) -> None:
        """Targets that are not required: every item carries one, or none does (a warning when
        some exist), so batches collate uniformly."""
        if not self.require_target and missing and found:
            warnings.warn(f"{len(missing)} targets missing in {t_dir}; items carry no target",
                          stacklevel=stacklevel + 1)
        self.has_target = t_dir is not None and not missing

    def _keep(self, limit: int | None) -> None:
        if limit is not None:
            self.entries = self.entries[: max(0, int(limit))]

    def __len__(self) -> int:
        return len(self.entries)

    @property
    def keys(self) -> list[str]:
        return [e.key for e in self.entries]

    def _extra(self, entry: Any) -> dict[str, Any]:
        return {}

    def __getitem__(self, i: int) -> dict[str, Any]:
        if not -len(self) <= i < len(self):
            raise IndexError(f"index {i} out of range for {len(self)} items")
        i %= len(self)
        e = self.entries[i]
        images = {n: getattr(e, n) for n in self.IMAGES}
        if e.target is not None:
            images["target"] = e.target
        out = self._load(images, {n: getattr(e, f) for n, f in self.DEPTHS.items()}, e.key, i)
        out.update(self._extra(e))
        out["key"] = e.key
        return out

    def in_memory(self, device: str | torch.device = "cpu", limit_bytes: int = 4 << 30,
                  progress: bool = False):
        """The set decoded once into memory when it fits under ``limit_bytes``, else itself
        (:func:`relight_lib.library.data.memory.to_memory`; ``(data, how)``). Random crops are
        then fixed at their epoch-0 windows."""
        from relight_lib.library.data.memory import to_memory

        return to_memory(self, device, limit_bytes, progress=progress)


@dataclass(frozen=True)
class _OneToOneEntry:
    key: str
    input: Path
    depth: Path
    target: Path | None


class OneToOneDataset(_EntryDataset):
    """One-to-one relighting pairs (NTIRE 2021 Track 1 by default): input, target and depth.

    Reads the Track 1 packaging (``input/ImageNNN.png`` + ``ImageNNN.npy``, ``target/ImageNNN.png``)
    or a flat any-to-any folder (``ImageNNN_<input_condition>.png`` ->
    ``ImageNNN_<target_condition>.png`` with ``ImageNNN.npy``), e.g. MBNet's extra pairs
    6500_NE -> 4500_E.

    Items: ``input`` (3, H, W) and ``target`` (3, H, W) float32 in [0, 1], ``depth`` (1, H, W)
    float32 (as stored, nominally [0, 1]), ``key`` (``'Image000'``).

    Targets: required for ``train`` and ``validation`` (a missing target folder or file is a
    :class:`DataError` at construction). For ``test`` (whose ground truth VIDIT keeps private) or
    ``require_target=False`` items carry ``target`` only if every item has one; otherwise the key is
    absent from every item (``has_target`` says which), so batches collate uniformly.

    In an any-to-any folder, scenes lacking the input condition (or, when targets are required,
    the target condition) are skipped and listed in ``skipped``.

    Args:
        root: data root (SynVIDIT ``ROOT``, an unzipped NTIRE folder, or a split folder itself).
        split: ``'train'``, ``'validation'``, ``'test'`` or an alias.
        size: resize every image to (H, W) (an int for square): bicubic for images (clamped to
            [0, 1]), bilinear for depth. Applied before ``crop``.
        crop: crop (H, W) out of every image, the same window for input, target and depth:
            centred, or random with ``random_crop=True``.
        input_condition / target_condition: lighting conditions (``Condition`` or ``'6500_N'``).
        source: ``'track1'``, ``'any2any'`` or ``'auto'`` (Track 1 folders when the conditions are
            Track 1's and such folders exist, else the flat folder).
        limit: keep only the first ``limit`` items (sorted by key).
        input_dir / target_dir: explicit Track 1 folders (imply ``source='track1'``).
        require_target: default True except for the test split.
        random_crop: random crop windows instead of centred ones.
        crop_seed: if set, random windows are a function of (seed, epoch, index) (see
            :meth:`set_epoch`); if None they come from torch's global RNG.
        antialias: antialiased resizing (True); False matches OpenCV ``INTER_CUBIC`` as AIM used.

    Raises:
        DataError: missing root, no images found (the message lists where it looked), an input
            without its depth file or target; at item access: unreadable files, sizes that differ.
    """

    def __init__(
        self,
        root: str | os.PathLike[str],
        split: str = "train",
        size: int | Sequence[int] | None = None,
        crop: int | Sequence[int] | None = None,
        input_condition: Condition | str = TRACK1_INPUT,
        target_condition: Condition | str = TRACK1_TARGET,
        source: str = "auto",
        limit: int | None = None,
        *,
        input_dir: str | os.PathLike[str] | None = None,
        target_dir: str | os.PathLike[str] | None = None,
        require_target: bool | None = None,
        random_crop: bool = False,
        crop_seed: int | None = None,
        antialias: bool = True,
    ) -> None:
        super().__init__(size, crop, random_crop, crop_seed, antialias)
        self.root = _check_root(root)
        self.split = canonical_split(split)
        self.input_condition = _as_condition(input_condition)
        self.target_condition = _as_condition(target_condition)
        self.require_target = self._require_target(require_target)
        self.skipped: list[str] = []
        is_track1 = (self.input_condition, self.target_condition) == (TRACK1_INPUT, TRACK1_TARGET)
        if source not in ("auto", "track1", "any2any"):
            raise ValueError(f"source must be 'auto', 'track1' or 'any2any', got {source!r}")
        if input_dir is not None or target_dir is not None:
            source = "track1"
        if source == "track1" and not is_track1:
            raise ValueError(
                f"Track 1 folders hold {TRACK1_INPUT.tag} -> {TRACK1_TARGET.tag} only; for "
                f"{self.input_condition.tag} -> {self.target_condition.tag} use source='any2any'"
            )
        if source == "auto":
            # Track 1 folders win when they exist; if they exist but are broken, say so rather
            # than silently reading the flat folder instead.
            source = "any2any"
            if is_track1:
                try:
                    find_track1_dirs(self.root, self.split)
                    source = "track1"
                except DataError as e1:
                    try:
                        find_any2any_dir(self.root, self.split)
                    except DataError as e2:
                        raise DataError(f"{e1}\nand {e2}") from None
        if source == "track1":
            self._init_track1(input_dir, target_dir)
        else:
            self._init_any2any()
        self.source = source
        self._keep(limit)

    def _init_track1(self, input_dir: Any, target_dir: Any) -> None:
        in_dir, t_dir = find_track1_dirs(self.root, self.split, input_dir, target_dir)
        inputs = _pngs(in_dir)
        if not inputs:
            raise DataError(f"no PNG images in Track 1 input folder {in_dir}")
        no_depth = [p.with_suffix(".npy") for p in inputs if not p.with_suffix(".npy").is_file()]
        if no_depth:
            raise DataError(
                f"{len(no_depth)} Track 1 input(s) in {in_dir} without depth file, e.g. "
                + ", ".join(str(p) for p in no_depth[:5])
            )
        targets: dict[str, Path] = {}
        missing: list[Path] = []
        if t_dir is not None:
            for p in inputs:
                # Targets are ImageNNN.png; also accept ImageNNN_4500_E.png.
                for cand in (t_dir / p.name, t_dir / image_name(p.stem, TRACK1_TARGET)):
                    if cand.is_file():
                        targets[p.stem] = cand
                        break
                else:
                    missing.append(t_dir / p.name)
        if self.require_target:
            if t_dir is None:
                _, looked = _find_track1_target(self.root, in_dir.parent, self.split, in_dir)
                raise DataError(
                    f"no Track 1 target folder for split {self.split!r} (inputs in {in_dir}); "
                    "looked in:" + _looked(looked) + "\n(pass target_dir=..., or "
                    "require_target=False to load inputs only)"
                )
            if missing:
                raise DataError(
                    f"{len(missing)} Track 1 target(s) missing in {t_dir}, e.g. "
                    + ", ".join(str(p) for p in missing[:5])
                )
        self._settle_targets(t_dir, missing, bool(targets), stacklevel=3)
        self.input_dir, self.target_dir, self.folder = in_dir, t_dir, None
        self.entries = [
            _OneToOneEntry(p.stem, p, p.with_suffix(".npy"),
                           targets.get(p.stem) if self.has_target else None)
            for p in inputs
        ]

    def _init_any2any(self) -> None:
        folder = find_any2any_dir(self.root, self.split)
        index = SceneIndex.from_folder(folder)
        ci, ct = self.input_condition, self.target_condition
        with_input = [s for s in index.scenes if index.has(s, ci)]
        if not with_input:
            present = sorted({c for cs in index.conditions.values() for c in cs},
                             key=_COND_ORDER.get)
            raise DataError(
                f"no {image_name('ImageNNN', ci)} images in {folder}; conditions present: "
                + ", ".join(c.tag for c in present)
            )
        if self.require_target:
            scenes = [s for s in with_input if index.has(s, ct)]
            self.skipped = [s for s in index.scenes if s not in scenes]
            if not scenes:
                raise DataError(
                    f"no scene in {folder} has both {image_name('ImageNNN', ci)} and "
                    f"{image_name('ImageNNN', ct)}"
                )
            self.has_target = True
        else:
            scenes = with_input
            self.skipped = [s for s in index.scenes if s not in scenes]
            self.has_target = all(index.has(s, ct) for s in scenes)
        no_depth = [index.depth_path(s) for s in scenes if s not in index.depth]
        if no_depth:
            raise DataError(
                f"{len(no_depth)} scene(s) in {folder} without depth file, e.g. "
                + ", ".join(str(p) for p in no_depth[:5])
            )
        self.input_dir = self.target_dir = None
        self.folder = folder
        self.index = index
        self.entries = [
            _OneToOneEntry(s, index.path(s, ci), index.depth_path(s),
                           index.path(s, ct) if self.has_target else None)
            for s in scenes
        ]

    def __repr__(self) -> str:
        where = self.folder if self.source == "any2any" else self.input_dir
        return (
            f"OneToOneDataset(split={self.split!r}, source={self.source!r}, "
            f"{self.input_condition.tag}->{self.target_condition.tag}, n={len(self)}, "
            f"targets={self.has_target}, from={where})"
        )


class AnyToAnyDataset(_ImageItemDataset):
    """Any-to-any relighting samples from a flat folder: input, guide and ground truth.

    The ground truth ``target`` is the input scene under the guide's lighting (2DSceneRelighting's
    (I, T, G) with G = (scene of I, light of T)); the guide may come from another scene or the same.

    Items: ``input``, ``guide``, ``target`` (3, H, W) float32 in [0, 1]; ``input_depth``,
    ``guide_depth`` (1, H, W) float32 as stored; ``input_temperature``, ``guide_temperature`` (K,
    int); ``input_direction``, ``guide_direction`` (``'NE'``...); ``input_angle``, ``guide_angle``
    (degrees, :data:`~relight_lib.library.data.layout.DIRECTION_ANGLES`); ``key``
    (``Image000_6500_N__Image003_4500_E``).

    Args:
        root: data root or the flat folder itself.
        split: split name or alias.
        pairs: which pairs: a :class:`Rule` (default :data:`PROTOCOL_2DSCENE`, i.e. different scene
            and different direction), or an explicit sequence of :class:`Pair`.
        n_pairs: with a rule, draw this many pairs lazily with :func:`sample_pairs` (needed for
            large sets); None enumerates every pair (:func:`all_pairs`, small sets only).
        seed: seed of the pair sample.
        size, crop, random_crop, crop_seed, antialias: as in :class:`OneToOneDataset`; one window
            for all five arrays of an item.

    Raises:
        DataError: missing root or folder, no images, a pair whose image or ground truth is
            missing, a used scene without depth; at item access: unreadable files or sizes that
            differ.

    The NTIRE 2021 Track 2 validation/test packaging (``input/`` + ``guide/`` folders of
    ``PairNNN.png``) is read by :class:`PairedAnyToAnyDataset`, with the same item keys.
    """

    def __init__(
        self,
        root: str | os.PathLike[str],
        split: str = "train",
        pairs: Rule | Sequence[Pair] | None = None,
        size: int | Sequence[int] | None = None,
        crop: int | Sequence[int] | None = None,
        *,
        n_pairs: int | None = None,
        seed: int = 0,
        random_crop: bool = False,
        crop_seed: int | None = None,
        antialias: bool = True,
    ) -> None:
        super().__init__(size, crop, random_crop, crop_seed, antialias)
        self.root = _check_root(root)
        self.split = canonical_split(split)
        self.folder = find_any2any_dir(self.root, self.split)
        self.index = SceneIndex.from_folder(self.folder)
        if pairs is None or isinstance(pairs, Rule):
            self.rule: Rule | None = PROTOCOL_2DSCENE if pairs is None else pairs
            if n_pairs is None:
                self.pairs = all_pairs(self.index, self.rule)
            else:
                self.pairs = sample_pairs(self.index, n_pairs, seed, self.rule)
        else:
            self.rule = None
            self.pairs = [
                Pair(p[0], _as_condition(p[1]), p[2], _as_condition(p[3])) for p in pairs
            ]
            for p in self.pairs:
                for s, c in ((p.input_scene, p.input_condition), (p.guide_scene, p.guide_condition),
                             p.target):
                    if not self.index.has(s, c):
                        raise DataError(f"pair {p.key}: {self.index.path(s, c)} does not exist")
        if not self.pairs:
            raise DataError(f"no pairs in {self.folder} satisfy {self.rule}")
        used = sorted({p.input_scene for p in self.pairs} | {p.guide_scene for p in self.pairs})
        no_depth = [self.index.depth_path(s) for s in used if s not in self.index.depth]
        if no_depth:
            raise DataError(
                f"{len(no_depth)} scene(s) in {self.folder} without depth file, e.g. "
                + ", ".join(str(p) for p in no_depth[:5])
            )

    def __len__(self) -> int:
        return len(self.pairs)

    def __getitem__(self, i: int) -> dict[str, Any]:
        if not -len(self) <= i < len(self):
            raise IndexError(f"index {i} out of range for {len(self)} items")
        i %= len(self)
        p = self.pairs[i]
        idx = self.index
        images = {
            "input": idx.path(p.input_scene, p.input_condition),
            "guide": idx.path(p.guide_scene, p.guide_condition),
            "target": idx.path(*p.target),
        }
        depths = {
            "input_depth": idx.depth_path(p.input_scene),
            "guide_depth": idx.depth_path(p.guide_scene),
        }
        out = self._load(images, depths, p.key, i)
        ci, cg = p.input_condition, p.guide_condition
        out.update(
            input_temperature=ci.temperature, guide_temperature=cg.temperature,
            input_direction=ci.direction, guide_direction=cg.direction,
            input_angle=ci.angle, guide_angle=cg.angle, key=p.key,
        )
        return out

    def __repr__(self) -> str:
        return (
            f"AnyToAnyDataset(split={self.split!r}, n={len(self)}, rule={self.rule}, "
            f"scenes={len(self.index.scenes)}, from={self.folder})"
        )


@dataclass(frozen=True)
class _PairEntry:
    key: str
    input: Path
    input_depth: Path
    guide: Path
    guide_depth: Path
    target: Path | None


#: Item keys of :class:`AnyToAnyDataset` that the Track 2 pair packaging cannot fill: it names
#: pairs ``PairNNN`` and gives neither scenes nor lighting conditions.
UNKNOWN_IN_PAIRS = (
    "input_temperature", "guide_temperature", "input_direction", "guide_direction",
    "input_angle", "guide_angle",
)


class PairedAnyToAnyDataset(_EntryDataset):
    """NTIRE 2021 Track 2 (any-to-any) validation/test pairs: ``input/`` + ``guide/`` folders.

    Pair ``PairNNN`` relights ``input/PairNNN.png`` (depth ``input/PairNNN.npy``) to the lighting of
    ``guide/PairNNN.png`` (depth ``guide/PairNNN.npy``); its ground truth ``PairNNN.png`` sits in a
    separate target folder (validation ground truth archive; none for test). Folders are found by
    :func:`find_pair_dirs`.

    Items have the keys of :class:`AnyToAnyDataset`: ``input``, ``guide``, ``target`` (3, H, W)
    float32 in [0, 1]; ``input_depth``, ``guide_depth`` (1, H, W) float32 as stored; ``key``
    (``'Pair000'``). The lighting keys (:data:`UNKNOWN_IN_PAIRS`: ``input_temperature`` ...
    ``guide_angle``) are present and **None**: this packaging does not say which conditions the
    images were rendered under. Batch items with :func:`relight_lib.library.train.collate` (it keeps None
    as a list); torch's default collate refuses None.

    Targets: required for ``validation`` (a missing target folder or file is a :class:`DataError`
    at construction) unless ``require_target=False``; for ``test`` (ground truth private) or
    ``require_target=False``, items carry ``target`` only if every pair has one, otherwise the key
    is absent from every item (``has_target`` says which).

    Args:
        root: data root (an unzipped ``track2_validation`` folder, a folder holding it, ...).
        split: ``'validation'`` (default) or ``'test'`` (or an alias).
        size, crop, random_crop, crop_seed, antialias: as in :class:`OneToOneDataset`; one window
            for all five arrays of an item.
        input_dir / guide_dir / target_dir: explicit folders (skip the search).
        require_target: default True except for the test split.
        limit: keep only the first ``limit`` pairs (sorted by name).

    Raises:
        DataError: missing root, no pair folders (the message lists where it looked), a pair
            lacking its input depth, guide image or guide depth, a missing target folder or target;
            at item access: unreadable files, a depth file that is not a safe VIDIT depth dict, or
            files of one pair whose sizes differ (the message names them).
    """

    def __init__(
        self,
        root: str | os.PathLike[str],
        split: str = "validation",
        size: int | Sequence[int] | None = None,
        crop: int | Sequence[int] | None = None,
        *,
        input_dir: str | os.PathLike[str] | None = None,
        guide_dir: str | os.PathLike[str] | None = None,
        target_dir: str | os.PathLike[str] | None = None,
        require_target: bool | None = None,
        limit: int | None = None,
        random_crop: bool = False,
        crop_seed: int | None = None,
        antialias: bool = True,
    ) -> None:
        super().__init__(size, crop, random_crop, crop_seed, antialias)
        self.root = _check_root(root)
        self.split = canonical_split(split)
        self.require_target = self._require_target(require_target)
        in_dir, g_dir, t_dir = find_pair_dirs(self.root, self.split, input_dir, guide_dir,
                                              target_dir)
        inputs = _pair_files(in_dir, "png")
        if not inputs:
            raise DataError(f"no PairNNN.png images in Track 2 input folder {in_dir}")
        in_npy = _pair_files(in_dir, "npy")
        guides, g_npy = _pair_files(g_dir, "png"), _pair_files(g_dir, "npy")
        missing = [
            folder / f"{stem}.{ext}"
            for stem in inputs
            for folder, ext, have in ((in_dir, "npy", in_npy), (g_dir, "png", guides),
                                      (g_dir, "npy", g_npy))
            if stem not in have
        ]
        if missing:
            raise DataError(
                f"{len(missing)} file(s) of the Track 2 pairs in {in_dir} missing: "
                + ", ".join(str(p) for p in missing[:5]) + (" ..." if len(missing) > 5 else "")
            )
        targets = _pair_files(t_dir, "png") if t_dir is not None else {}
        no_target = [t_dir / f"{s}.png" for s in inputs if s not in targets] if t_dir else []
        if self.require_target:
            if t_dir is None:
                _, looked = _find_target_dir(self.root, in_dir.parent, self.split,
                                             (in_dir, g_dir), _has_pair_pngs)
                raise DataError(
                    f"no Track 2 target folder (PairNNN.png ground truth) for split "
                    f"{self.split!r} (inputs in {in_dir}); looked in:" + _looked(looked)
                    + "\n(unpack track2_validation_gt.zip beside the inputs, pass "
                    "target_dir=..., or require_target=False to load input and guide only)"
                )
            if no_target:
                raise DataError(
                    f"{len(no_target)} Track 2 target(s) missing in {t_dir}: "
                    + ", ".join(str(p) for p in no_target[:5])
                    + (" ..." if len(no_target) > 5 else "")
                )
        self._settle_targets(t_dir, no_target, bool(targets), stacklevel=2)
        self.input_dir, self.guide_dir = in_dir, g_dir
        self.target_dir = t_dir if self.has_target else None
        self.entries = [
            _PairEntry(s, p, in_npy[s], guides[s], g_npy[s],
                       targets[s] if self.has_target else None)
            for s, p in inputs.items()
        ]
        self._keep(limit)

    IMAGES = ("input", "guide")
    DEPTHS = {"input_depth": "input_depth", "guide_depth": "guide_depth"}

    def _extra(self, entry: _PairEntry) -> dict[str, Any]:
        return dict.fromkeys(UNKNOWN_IN_PAIRS)  # this packaging does not name the lighting

    def __repr__(self) -> str:
        return (
            f"PairedAnyToAnyDataset(split={self.split!r}, n={len(self)}, "
            f"targets={self.has_target}, from={self.input_dir.parent})"
        )
