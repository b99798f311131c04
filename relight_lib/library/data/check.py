"""``relight check-data ROOT``: is a VIDIT or SynVIDIT folder complete and readable?

:func:`check_data` finds the layouts under a root (any-to-any flat folders, Track 1 input/target
folders, NTIRE 2021 Track 2 validation/test pair folders ``input/`` + ``guide/`` of
``PairNNN.png`` + ``PairNNN.npy`` with their ground truth folder), checks every file and returns a
:class:`Report`; :func:`format_report` turns it into text.
The CLI prints the text and exits 0 when ``report.ok``, 1 otherwise.

Problems found (each names the file, as a path relative to the root):

* ``missing``: an any-to-any scene lacking a condition that other scenes of its folder have, or its
  depth file; a Track 1 input without depth or without target (the test split may have no target
  folder); a Track 2 pair lacking one of its four files (input and guide image and depth), its
  ``guide/`` (or ``input/``) folder, or its target (validation only: test ground truth is private);
  a file listed in ``manifest.json`` that is not there.
* ``extra``: a file whose name does not fit the layout, a depth file or target without images, a
  file not listed in ``manifest.json`` (SynVIDIT).
* ``size``: an image whose size differs from the most common image size; a depth map whose size
  differs from its scene's images; a Track 2 guide or target image whose size differs from its
  pair's input image.
* ``unreadable``: a PNG that cannot be opened or fails its checksums (fully decoded with
  ``decode=True``).
* ``depth``: a depth file that cannot be loaded safely, or contains NaN/inf.
* ``checksum``: sha256 or size differs from ``manifest.json``.
* ``manifest``: ``manifest.json`` is malformed, or a scene sits in a split other than the one
  listed.
* ``layout``: the root is missing or holds no recognisable layout.

Warnings (which do not make the report fail): depth values outside [0, 1]; Track 2 pairs without
target folder whose split cannot be told from the folder names.
"""

from __future__ import annotations

import json
import os
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PIL import Image
from tqdm.auto import tqdm

from relight_lib.library.data.depth import load_depth
from relight_lib.library.data.imageio import DataError, read_rgb, sha256_file
from relight_lib.library.data.layout import (
    ALL_CONDITIONS,
    MANIFEST,
    SPLITS,
    Condition,
    parse_image_name,
    parse_pair_name,
)
from relight_lib.library.data.vidit import (
    _child,
    _find_target_dir,
    _find_track1_target,
    _has_pair_pngs,
    _has_pairs,
    _has_track1_pngs,
    _is_guide_name,
    _is_input_name,
    _is_target_name,
    _split_of_name,
    _walk_dirs,
)

__all__ = ["Problem", "Layout", "Report", "check_data", "format_report", "PROBLEM_KINDS"]

PROBLEM_KINDS = (
    "layout", "missing", "extra", "size", "unreadable", "depth", "checksum", "manifest",
)
#: Files at the root of a SynVIDIT tree that the manifest does not list.
MANIFEST_EXEMPT = (MANIFEST, "contact_sheet.png")
#: Below this many files to check, no progress bar.
PROGRESS_MIN_FILES = 200

_DEPTH_RE = re.compile(r"^(Image\d{3,})\.npy$")
_TRACK1_RE = re.compile(r"^(Image\d{3,})\.(png|npy)$")
_COND_ORDER = {c: i for i, c in enumerate(ALL_CONDITIONS)}


@dataclass(frozen=True)
class Problem:
    """One finding: its kind (:data:`PROBLEM_KINDS`), the file (relative to the root) and why."""

    kind: str
    path: str
    detail: str

    def __str__(self) -> str:
        return f"{self.path}: {self.detail}"


@dataclass
class Layout:
    """One recognised folder: an any-to-any flat folder, a Track 1 input (+ target) folder or a
    Track 2 pair folder (holding ``input/`` and ``guide/``; ``n_scenes`` counts its pairs)."""

    kind: str  # "any2any", "track1" or "track2"
    path: str  # relative to the root
    split: str | None
    n_scenes: int = 0
    conditions: list[str] = field(default_factory=list)  # any2any: union of condition tags
    conditions_per_scene: dict[int, int] = field(default_factory=dict)  # n conditions -> n scenes
    target_path: str | None = None  # track1, track2


@dataclass
class Report:
    """Result of :func:`check_data`.

    Attributes:
        root: the folder checked.
        problems: everything that is wrong (``ok`` is False if any).
        warnings: doubtful but acceptable findings.
        layouts: the folders recognised.
        scenes_per_split: ``{'any2any': {'train': 300, ...}, 'track1': {...}}``; for
            ``'track2'`` the counts are pairs.
        conditions_per_scene: per any-to-any folder, ``{n_conditions: n_scenes}``.
        image_sizes: ``{(H, W): n_images}`` over all PNGs read.
        n_files: files checked (images + depth files + manifest entries).
        manifest: whether ``manifest.json`` was found and compared.
    """

    root: Path
    problems: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)
    layouts: list[Layout] = field(default_factory=list)
    scenes_per_split: dict[str, dict[str, int]] = field(default_factory=dict)
    conditions_per_scene: dict[str, dict[int, int]] = field(default_factory=dict)
    image_sizes: dict[tuple[int, int], int] = field(default_factory=dict)
    n_files: int = 0
    manifest: bool = False

    @property
    def ok(self) -> bool:
        """True when there are no problems."""
        return not self.problems

    def by_kind(self, kind: str) -> list[Problem]:
        """The problems of one kind."""
        return [p for p in self.problems if p.kind == kind]


class _Collector:
    """Accumulates problems, de-duplicated on (kind, path): a file can fail two ways at once
    (e.g. an unexpected name that the manifest does not list either) but is reported once."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.problems: list[Problem] = []
        self.warnings: list[Problem] = []
        self._seen: set[tuple[str, str]] = set()

    def rel(self, p: Path | str) -> str:
        p = Path(p)
        if p == self.root:
            return str(p)
        try:
            return p.relative_to(self.root).as_posix()
        except ValueError:
            return str(p)

    def add(self, kind: str, path: Path | str, detail: str) -> None:
        r = self.rel(path)
        if (kind, r) not in self._seen:
            self._seen.add((kind, r))
            self.problems.append(Problem(kind, r, detail))

    def warn(self, kind: str, path: Path | str, detail: str) -> None:
        self.warnings.append(Problem(kind, self.rel(path), detail))


def _files(d: Path) -> list[os.DirEntry]:
    return sorted((e for e in os.scandir(d) if e.is_file()), key=lambda e: e.name)


def _split_from_path(path: Path, root: Path) -> str | None:
    """The split a folder belongs to: the nearest folder name (going up) that names one."""
    for part in [path, *path.parents]:
        s = _split_of_name(part.name)
        if s is not None:
            return s
        if part == root:
            break
    return None


def _image_size(path: Path, decode: bool) -> tuple[int, int]:
    """(H, W) of a PNG after checking its chunk CRCs (PIL's verify) and, if asked, decoding it."""
    if decode:
        # A full decode catches broken compressed data; verify below still runs, because Pillow
        # decodes a file whose tail (last CRC, IEND) is cut off without complaint.
        read_rgb(path)
    try:
        with Image.open(path) as img:
            img.verify()  # reads every chunk and checks its CRC without decoding pixels
        with Image.open(path) as img:
            w, h = img.size
    except (OSError, SyntaxError, ValueError, EOFError, Image.DecompressionBombError) as exc:
        raise DataError(f"{path}: cannot read image ({type(exc).__name__}: {exc})") from exc
    return h, w


def check_data(
    root: str | os.PathLike[str], *, decode: bool = False, progress: bool | None = None
) -> Report:
    """Check a VIDIT / SynVIDIT folder: layout, completeness, readability, sizes, manifest.

    Args:
        root: the data root (SynVIDIT ``ROOT``, an unzipped VIDIT folder, or a split folder).
        decode: fully decode every PNG (slower) instead of checking its chunk checksums.
        progress: show a tqdm bar; default: only when more than ~200 files are checked.

    Returns:
        A :class:`Report`; ``report.ok`` is True when no problem was found.
    """
    root = Path(root).expanduser()
    col = _Collector(root)
    report = Report(root=root)
    if not root.is_dir():
        col.add("layout", root, "data root does not exist or is not a folder")
        report.problems = col.problems
        return report

    image_tasks: list[tuple[Path, str]] = []  # (png, group key of its scene)
    depth_tasks: list[tuple[Path, str]] = []  # (npy, group key of its scene)
    scenes_per_split: dict[str, Counter] = {
        "any2any": Counter(), "track1": Counter(), "track2": Counter()}
    dirs = [d for _, d in _walk_dirs(root, 4)]

    # ---- any-to-any flat folders -------------------------------------------------------------
    for d in dirs:
        entries = _files(d)
        if not any(parse_image_name(e.name) for e in entries):
            continue
        split = _split_from_path(d, root)
        conds: dict[str, set[Condition]] = {}
        depth: set[str] = set()
        for e in entries:
            parsed = parse_image_name(e.name)
            m = _DEPTH_RE.match(e.name)
            if parsed:
                conds.setdefault(parsed[0], set()).add(parsed[1])
                image_tasks.append((Path(e.path), f"{d}/{parsed[0]}"))
            elif m:
                depth.add(m.group(1))
                depth_tasks.append((Path(e.path), f"{d}/{m.group(1)}"))
            else:
                col.add("extra", e.path, "name does not fit the any-to-any layout "
                        "(ImageNNN_TTTT_D.png or ImageNNN.npy)")
        union = sorted(set().union(*conds.values()), key=_COND_ORDER.get)
        for scene in sorted(conds):
            for c in union:
                if c not in conds[scene]:
                    col.add("missing", d / f"{scene}_{c.tag}.png",
                            f"scene {scene} lacks condition {c.tag} (other scenes here have it)")
            if scene not in depth:
                col.add("missing", d / f"{scene}.npy", f"depth file of scene {scene} is missing")
        for scene in sorted(depth - set(conds)):
            col.add("extra", d / f"{scene}.npy", f"depth file without any image of {scene}")
        hist = Counter(len(cs) for cs in conds.values())
        lay = Layout("any2any", col.rel(d) or ".", split, len(conds), [c.tag for c in union],
                     dict(sorted(hist.items())))
        report.layouts.append(lay)
        report.conditions_per_scene[lay.path] = lay.conditions_per_scene
        scenes_per_split["any2any"][split or lay.path] += len(conds)

    # ---- Track 2 pair folders: input/ + guide/ of PairNNN.png + PairNNN.npy ------------------
    pair_dirs: set[Path] = set()
    pair_images: list[tuple[Path, str, str]] = []  # (png, group, role) for the per-pair size check
    for d in dirs:
        folders = {"input": _child(d, _is_input_name, _has_pairs),
                   "guide": _child(d, _is_guide_name, _has_pairs)}
        if folders["input"] is None and folders["guide"] is None:
            continue
        split = _split_from_path(d, root)
        found: dict[tuple[str, str], dict[str, Path]] = {}
        for role, f in folders.items():
            if f is None:
                other = folders["guide" if role == "input" else "input"]
                col.add("missing", d / role, f"no {role}/ folder with PairNNN files beside "
                        f"{col.rel(other)} (Track 2 pairs need both input/ and guide/)")
                continue
            pair_dirs.add(f)
            for e in _files(f):
                parsed = parse_pair_name(e.name)
                if parsed is None:
                    col.add("extra", e.path, "name does not fit the Track 2 pair layout "
                            "(PairNNN.png, PairNNN.npy)")
                else:
                    found.setdefault((role, parsed[1]), {})[parsed[0]] = Path(e.path)
        stems = sorted(set().union(*(v.keys() for v in found.values())))
        what = {"png": "image", "npy": "depth file"}
        for stem in stems:
            for role, f in folders.items():
                if f is None:
                    continue
                for ext in ("png", "npy"):
                    path = found.get((role, ext), {}).get(stem)
                    if path is None:
                        col.add("missing", f / f"{stem}.{ext}",
                                f"pair {stem} has no {role} {what[ext]} ({stem}.{ext})")
                    elif ext == "png":
                        image_tasks.append((path, f"{d}/{stem}"))
                        pair_images.append((path, f"{d}/{stem}", role))
                    else:
                        depth_tasks.append((path, f"{d}/{stem}"))
        exclude = tuple(f for f in folders.values() if f is not None)
        if split is not None:
            t_dir = _find_target_dir(root, d, split, exclude, _has_pair_pngs)[0]
        else:  # no split in the path: only a target folder beside the pairs can be trusted
            t_dir = _child(d, _is_target_name, _has_pair_pngs)
        lay = Layout("track2", col.rel(d) if d != root else ".", split, len(stems),
                     target_path=col.rel(t_dir) if t_dir else None)
        report.layouts.append(lay)
        scenes_per_split["track2"][split or lay.path] += len(stems)
        if t_dir is None:
            why = (f"no target folder (PairNNN.png ground truth, e.g. track2_validation_gt) for "
                   f"the Track 2 pairs in {lay.path}")
            if split == "validation":
                col.add("missing", d / "target", why)
            elif split is None:
                col.warn("missing", d / "target", why + " (fine for test pairs)")
            continue
        t_stems = set()
        for e in _files(t_dir):
            parsed = parse_pair_name(e.name)
            if parsed and parsed[1] == "png":
                t_stems.add(parsed[0])
                image_tasks.append((Path(e.path), f"{d}/{parsed[0]}"))
                pair_images.append((Path(e.path), f"{d}/{parsed[0]}", "target"))
            else:
                col.add("extra", e.path, "name does not fit the Track 2 target layout "
                        "(PairNNN.png)")
        for stem in stems:
            if stem not in t_stems:
                col.add("missing", t_dir / f"{stem}.png", f"pair {stem} has no target")
        for stem in sorted(t_stems - set(stems)):
            col.add("extra", t_dir / f"{stem}.png", "target without input and guide")

    # ---- Track 1 input / target folders -------------------------------------------------------
    for d in dirs:
        if d == root or d in pair_dirs or not _is_input_name(d.name) or not _has_track1_pngs(d):
            continue
        split_dir = d.parent
        split = _split_from_path(split_dir, root)
        entries = _files(d)
        stems_png, stems_npy = set(), set()
        for e in entries:
            m = _TRACK1_RE.match(e.name)
            if not m:
                col.add("extra", e.path, "name does not fit the Track 1 layout (ImageNNN.png, "
                        "ImageNNN.npy)")
            elif m.group(2) == "png":
                stems_png.add(m.group(1))
                image_tasks.append((Path(e.path), f"{d}/{m.group(1)}"))
            else:
                stems_npy.add(m.group(1))
                depth_tasks.append((Path(e.path), f"{d}/{m.group(1)}"))
        for s in sorted(stems_png - stems_npy):
            col.add("missing", d / f"{s}.npy", f"Track 1 input {s}.png has no depth file")
        for s in sorted(stems_npy - stems_png):
            col.add("extra", d / f"{s}.npy", "depth file without input image")
        if split is not None:
            t_dir = _find_track1_target(root, split_dir, split, d)[0]
        else:  # no split in the path: only a target folder beside the inputs can be trusted
            t_dir = _child(split_dir, _is_target_name)
        lay = Layout("track1", col.rel(d), split, len(stems_png),
                     target_path=col.rel(t_dir) if t_dir else None)
        report.layouts.append(lay)
        scenes_per_split["track1"][split or lay.path] += len(stems_png)
        if t_dir is None:
            if split != "test":
                col.add("missing", split_dir / "target",
                        f"no target folder for the Track 1 inputs in {col.rel(d)}")
            continue
        t_stems = set()
        for e in _files(t_dir):
            m = _TRACK1_RE.match(e.name)
            if m and m.group(2) == "png":
                t_stems.add(m.group(1))
                # Group with the input so the size check compares like with like.
                image_tasks.append((Path(e.path), f"{d}/{m.group(1)}"))
            else:
                col.add("extra", e.path, "name does not fit the Track 1 target layout "
                        "(ImageNNN.png)")
        for s in sorted(stems_png - t_stems):
            col.add("missing", t_dir / f"{s}.png", f"Track 1 input {s}.png has no target")
        for s in sorted(t_stems - stems_png):
            col.add("extra", t_dir / f"{s}.png", "target without input image")

    if not report.layouts:
        col.add("layout", root, "no VIDIT layout found (looked for ImageNNN_TTTT_D.png flat "
                "folders, Track 1 input/ folders and Track 2 input/ + guide/ PairNNN folders up "
                "to 4 levels deep)")

    # ---- manifest ------------------------------------------------------------------------------
    manifest_files: dict[str, Any] = {}
    manifest_scenes: dict[str, Any] = {}
    mpath = root / MANIFEST
    if mpath.is_file():
        report.manifest = True
        try:
            m = json.loads(mpath.read_text(encoding="utf8"))
            manifest_files = m["files"]
            manifest_scenes = m.get("scenes", {})
            if not isinstance(manifest_files, dict) or not isinstance(manifest_scenes, dict):
                raise TypeError("'files' and 'scenes' must be objects")
        except (OSError, ValueError, KeyError, TypeError) as exc:
            col.add("manifest", mpath, f"malformed manifest ({type(exc).__name__}: {exc})")
            manifest_files, manifest_scenes = {}, {}

    # ---- per-file checks (the slow part) -------------------------------------------------------
    n_tasks = len(image_tasks) + len(depth_tasks) + len(manifest_files)
    report.n_files = n_tasks
    show = progress if progress is not None else n_tasks >= PROGRESS_MIN_FILES
    bar = tqdm(total=n_tasks, desc="check-data", unit="file", disable=not show)
    sizes: dict[Path, tuple[int, int]] = {}
    group_size: dict[str, tuple[int, int]] = {}
    try:
        for p, group in image_tasks:
            try:
                sizes[p] = _image_size(p, decode)
                group_size.setdefault(group, sizes[p])
            except DataError as exc:
                col.add("unreadable", p, str(exc).removeprefix(f"{p}: "))
            bar.update()
        for p, group in depth_tasks:
            try:
                dep = load_depth(p)
            except DataError as exc:
                col.add("depth", p, str(exc).removeprefix(f"{p}: "))
            else:
                if dep.size and (dep.min() < 0 or dep.max() > 1):
                    col.warn("depth-range", p, f"depth values in [{dep.min():.3g}, "
                             f"{dep.max():.3g}], outside [0, 1]")
                if group in group_size and dep.shape != group_size[group]:
                    h, w = group_size[group]
                    col.add("size", p, f"depth is {dep.shape[0]}x{dep.shape[1]} (HxW), the "
                            f"images of {group.rsplit('/', 1)[1]} are {h}x{w}")
            bar.update()
        for rel, meta in sorted(manifest_files.items()):
            f = root / rel
            if not f.is_file():
                col.add("missing", f, "listed in manifest.json but missing")
            elif isinstance(meta, dict):
                n_bytes = f.stat().st_size
                if "bytes" in meta and meta["bytes"] != n_bytes:
                    col.add("checksum", f, f"{n_bytes} bytes, manifest.json says {meta['bytes']}")
                elif "sha256" in meta and sha256_file(f) != str(meta["sha256"]).lower():
                    col.add("checksum", f, "sha256 differs from manifest.json")
            bar.update()
    finally:
        bar.close()

    # ---- sizes ---------------------------------------------------------------------------------
    # Track 2: the guide and target of a pair must match its input image.
    pair_input = {g: p for p, g, role in pair_images if role == "input" and p in sizes}
    for p, group, role in pair_images:
        ref = pair_input.get(group)
        if role != "input" and ref is not None and p in sizes and sizes[p] != sizes[ref]:
            (h, w), (rh, rw) = sizes[p], sizes[ref]
            col.add("size", p, f"{role} image is {h}x{w} (HxW), the pair's input {col.rel(ref)} "
                    f"is {rh}x{rw}")
    counts = Counter(sizes.values())
    report.image_sizes = dict(counts.most_common())
    if counts:
        (mh, mw), _ = counts.most_common(1)[0]
        for p, (h, w) in sizes.items():
            if (h, w) != (mh, mw):
                col.add("size", p, f"image is {h}x{w} (HxW), most images are {mh}x{mw}")

    # ---- files not in the manifest, scenes in the wrong split ----------------------------------
    if report.manifest:
        listed = set(manifest_files)
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames.sort()
            for name in sorted(filenames):
                f = Path(dirpath) / name
                rel = col.rel(f)
                if rel in MANIFEST_EXEMPT or rel in listed:
                    continue
                col.add("extra", f, "not listed in manifest.json")
        split_of_dir = {root / lay.path: lay.split for lay in report.layouts
                        if lay.kind == "any2any" and lay.split is not None}
        for p, group in image_tasks:
            split = split_of_dir.get(p.parent)
            scene = group.rsplit("/", 1)[1]
            info = manifest_scenes.get(scene)
            if split and isinstance(info, dict) and info.get("split") not in (None, split):
                col.add("manifest", p, f"scene {scene} is in split {split!r}, "
                        f"manifest.json says {info.get('split')!r}")

    report.problems = col.problems
    report.warnings = col.warnings
    order = {s: i for i, s in enumerate(SPLITS)}  # train, validation, test; then folder names
    report.scenes_per_split = {
        k: dict(sorted(v.items(), key=lambda kv: (order.get(kv[0], len(order)), kv[0])))
        for k, v in scenes_per_split.items() if v
    }
    return report


def format_report(report: Report, max_per_kind: int = 20) -> str:
    """Human-readable text of a :class:`Report` (what ``relight check-data`` prints).

    Args:
        report: from :func:`check_data`.
        max_per_kind: list at most this many problems of each kind, then a count of the rest.
    """
    lines = [f"Data check of {report.root}"]
    if report.layouts:
        lines.append("Layouts found:")
        for lay in report.layouts:
            if lay.kind == "any2any":
                hist = ", ".join(f"{k} conditions: {v} scenes"
                                 for k, v in sorted(lay.conditions_per_scene.items(), reverse=True))
                lines.append(f"  {lay.path}  any-to-any, split {lay.split}, {lay.n_scenes} scenes "
                             f"({hist})")
            elif lay.kind == "track2":
                tgt = lay.target_path or "none"
                lines.append(f"  {lay.path}  Track 2 pairs (input/ + guide/), split {lay.split}, "
                             f"{lay.n_scenes} pairs, targets: {tgt}")
            else:
                tgt = lay.target_path or "none"
                lines.append(f"  {lay.path}  Track 1 inputs, split {lay.split}, "
                             f"{lay.n_scenes} scenes, targets: {tgt}")
    for kind, per in report.scenes_per_split.items():
        lines.append(f"{'Pairs' if kind == 'track2' else 'Scenes'} per split ({kind}): "
                     + ", ".join(f"{s} {n}" for s, n in per.items()))
    if report.image_sizes:
        lines.append("Image sizes (HxW): " + ", ".join(
            f"{h}x{w}: {n}" for (h, w), n in report.image_sizes.items()))
    lines.append(f"Files checked: {report.n_files}; manifest.json: "
                 + ("compared" if report.manifest else "not present"))
    for title, items in (("Problems", report.problems), ("Warnings", report.warnings)):
        if not items:
            continue
        lines.append(f"{title} ({len(items)}):")
        kinds = list(dict.fromkeys(p.kind for p in items))
        for kind in kinds:
            these = [p for p in items if p.kind == kind]
            lines.append(f"  {kind} ({len(these)}):")
            lines.extend(f"    {p}" for p in these[:max_per_kind])
            if len(these) > max_per_kind:
                lines.append(f"    ... and {len(these) - max_per_kind} more")
    lines.append("Result: OK" if report.ok else f"Result: {len(report.problems)} problem(s)")
    return "\n".join(lines)
