"""SynVIDIT: VIDIT-format relighting data rendered with Mitsuba 3.

VIDIT (390 Unreal Engine scenes x 40 lightings) cannot be downloaded on our machines, so the suite
renders its own data in VIDIT's exact file layout (see :mod:`relight_lib.library.data.layout`): procedural
scenes (:mod:`relight_lib.library.data.scenes`), one omnidirectional point light at a fixed elevation in
8 directions relative to the camera, 5 black-body colour temperatures
(:mod:`relight_lib.library.data.colour`), no ambient light, depth maps in VIDIT's pickled-dict format.

Rendering choices (all recorded in ``manifest.json``):

* Mitsuba 3 ``scalar_rgb`` on a CPU (``cuda_rgb`` when asked for and available); path tracing
  with ``bounces`` indirect bounces. Default 0, direct light only: shadows are pitch black, as
  many of VIDIT's are, and images are free of the fireflies that caustic paths through the
  metals leave at affordable sample counts (``bounces=1`` adds one bounce of indirect light,
  at the price of noise and about twice the time); box pixel filter; a fixed
  ``block_size`` and per-image seeds, so the same parameters give byte-identical files.
* Exposure: one linear scale per scene, shared by all of its renders, so that brightness
  differences between lightings are real. It is measured on a small probe render (32 px, the 8
  directions at 6500 K), independent of the output size and of which conditions are rendered:
  the 99th percentile of the probe's luminance maps to 0.9. Then clip, sRGB encode, 8-bit PNG.
* Depth: Mitsuba's ``depth`` AOV is the distance along the camera ray; we convert it to planar
  (z-buffer) depth, the usual meaning of a depth map, by multiplying with the cosine between the
  pixel's ray and the optical axis. Pixels that see nothing (sky) get the scene's largest depth.
  ``normalized_depth`` = (z - z_min) / (z_max - z_min) per scene, float32 in [0, 1];
  ``ref_center_dis`` = the planar depth at the image centre in scene units. The depth pass
  takes one sample per pixel (a pixel is a hit or a miss, never a blend of the two).

A scene is the unit of work: all of its conditions are rendered, then its files are written
atomically and recorded with their sha256 in the manifest. An interrupted render resumes by
skipping every scene whose files match the manifest.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field
from multiprocessing import get_context
from pathlib import Path
from typing import Iterable

import numpy as np

from relight_lib.library.data import layout
from relight_lib.library.data.colour import cct_to_linear_srgb, linear_to_srgb, luminance
from relight_lib.library.data.depth import depth_bytes
from relight_lib.library.data.imageio import atomic_write, sha256_file
from relight_lib.library.data.layout import (
    ALL_CONDITIONS,
    ANY2ANY_DIR,
    DIRECTIONS,
    MANIFEST,
    TRACK1_DIR,
    TRACK1_INPUT,
    TRACK1_TARGET,
    Condition,
)
from relight_lib.library.data.scenes import FAMILIES, GENERATOR_VERSION, SceneSpec, make_scene, mesh_arrays

#: Probe used to set a scene's exposure (independent of output size and conditions).
PROBE_SIZE, PROBE_SPP, PROBE_PERCENTILE, PROBE_WHITE = 32, 4, 99.0, 0.9
#: Radiant intensity of the light times 1/r^2 at the orbit centre (arbitrary: exposure rescales).
LIGHT_POWER = 10.0
#: Mitsuba's image block size; fixed so that noise does not depend on the number of threads.
BLOCK_SIZE = 16


class RenderError(RuntimeError):
    """The renderer cannot run or an existing dataset cannot be resumed."""


@dataclass
class RenderConfig:
    """Parameters of one SynVIDIT set. Everything here goes into ``manifest.json``.

    Args:
        n_scenes: Number of scenes; split 300/45/45 like VIDIT (:func:`layout.split_counts`)
            unless ``split_sizes`` is given.
        size: Square image side in pixels (VIDIT: 1024).
        seed: Generator seed; scene ``i`` depends only on ``(seed, i, generator version)``.
        conditions: Lighting conditions to render, as tags (``'6500_N'``).
        spp: Samples per pixel.
        bounces: Indirect bounces (0 = direct light only: pitch-black shadows, no fireflies).
        families: Scene families to draw from (:data:`relight_lib.library.data.scenes.FAMILIES`).
        variant: Mitsuba variant (``scalar_rgb`` on a CPU).
        split_sizes: ``(train, validation, test)`` scene counts summing to ``n_scenes``
            (the per-seed sets: VIDIT's 300 / 45 and a larger test split); None: VIDIT's
            proportions.
    """

    n_scenes: int = 8
    size: int = 64
    seed: int = 0
    conditions: tuple[str, ...] = tuple(c.tag for c in ALL_CONDITIONS)
    spp: int = 32
    bounces: int = 0
    families: tuple[str, ...] = FAMILIES
    variant: str = "scalar_rgb"
    split_sizes: tuple[int, int, int] | None = None

    def __post_init__(self) -> None:
        self.conditions = tuple(self.conditions)
        self.families = tuple(self.families)
        if self.n_scenes < 1:
            raise ValueError(f"n_scenes must be >= 1, got {self.n_scenes}")
        if self.split_sizes is not None:
            self.split_sizes = tuple(int(n) for n in self.split_sizes)
            if len(self.split_sizes) != 3 or min(self.split_sizes) < 0 \
                    or sum(self.split_sizes) != self.n_scenes:
                raise ValueError(f"split_sizes must be (train, validation, test) scene counts "
                                 f"summing to n_scenes={self.n_scenes}, got {self.split_sizes}")
        if not 8 <= self.size <= 4096:
            raise ValueError(f"size must be between 8 and 4096 px, got {self.size}")
        if self.spp < 1 or self.bounces < 0:
            raise ValueError(f"spp must be >= 1 and bounces >= 0, got {self.spp}, {self.bounces}")
        for tag in self.conditions:
            Condition.parse(tag)
        for fam in self.families:
            if fam not in FAMILIES:
                raise ValueError(f"unknown scene family {fam!r}; choose from {FAMILIES}")

    @property
    def condition_list(self) -> list[Condition]:
        return [Condition.parse(t) for t in self.conditions]

    @property
    def writes_track1(self) -> bool:
        return TRACK1_INPUT.tag in self.conditions and TRACK1_TARGET.tag in self.conditions

    def split_counts(self) -> dict[str, int]:
        """Scenes per split: ``split_sizes`` when given, else VIDIT's 300/45/45 proportions
        (:func:`layout.split_counts`)."""
        if self.split_sizes is None:
            return layout.split_counts(self.n_scenes)
        return dict(zip(layout.SPLITS, self.split_sizes))

    def splits(self) -> dict[str, list[int]]:
        """Scene indices per split, numbered consecutively as in VIDIT (train, validation,
        test)."""
        out, start = {}, 0
        for split, n in self.split_counts().items():
            out[split] = list(range(start, start + n))
            start += n
        return out

    def identity(self) -> dict:
        """What must match for an existing set to be resumed (everything but the variant, whose
        output differs only in floating-point detail). ``split_sizes`` appears only when set,
        so sets rendered before it existed keep their identity."""
        d = asdict(self)
        d.pop("variant")
        if self.split_sizes is None:
            d.pop("split_sizes")
        else:
            d["split_sizes"] = list(self.split_sizes)
        d["conditions"], d["families"] = list(self.conditions), list(self.families)
        d["generator_version"] = GENERATOR_VERSION
        return d


#: The fixed (single-draw) sets: output sub-folder of ``data/synvidit`` -> config. The smoke
#: profile reads its set; quick and gpu read them with ``scene_seed="fixed"`` only (by default
#: each seed draws its own sets, :data:`PER_SEED`). Sizes follow the profiles of ARCHITECTURE.md
#: section 4. With direct light only, the noise left is pixel-footprint aliasing, so a few
#: samples per pixel are enough.
PRESETS: dict[str, dict[str, RenderConfig]] = {
    "smoke": {"smoke": RenderConfig(n_scenes=8, size=64, spp=8, seed=0)},
    # VIDIT's own split (300 / 45 / 45 scenes) at 64 px: the draw every quick result before the
    # per-seed sets was computed on (the tables then read its 45 validation scenes)
    "quick": {
        "quick-track1": RenderConfig(n_scenes=390, size=64, spp=8, seed=0,
                                     conditions=tuple(c.tag for c in layout.parse_conditions(
                                         "track1,mbnet"))),
        "quick-any2any": RenderConfig(n_scenes=100, size=64, spp=8, seed=1),
    },
    "gpu": {
        "gpu-track1": RenderConfig(n_scenes=300, size=256, spp=32, seed=0,
                                   conditions=tuple(c.tag for c in layout.parse_conditions(
                                       "track1,mbnet"))),
        "gpu-any2any": RenderConfig(n_scenes=100, size=256, spp=32, seed=1),
    },
}


#: The sets each seed draws at a short profile (ARCHITECTURE.md 5b, spec/evidence.md 1-2):
#: ``{profile: {kind: template}}``, ``kind`` being ``track1`` (one-to-one papers) or
#: ``any2any``; :func:`seed_set` gives a template its seed's scene seed and folder.
#:
#: Track 1 keeps VIDIT's 300 training and 45 validation scenes and renders 150 test scenes.
#: Why 150: the tables and claims are read on test, and the image sampling noise of a row's
#: mean must be small next to the seed noise. Measured on the committed quick rows (fixed data,
#: 45 validation images, 3 seeds), for every pair of rows of a one-to-one table: the sd over
#: images of the per-image PSNR difference between the two rows (within a seed, pooled over
#: seeds) has a median of 0.69 dB; the sd over seeds of the per-seed mean difference (training
#: noise alone: the images are the same for every seed) a median of 0.12 dB. The image noise of a
#: mean over n test images is sd_image / sqrt(n); the n at which it is half a pair's seed sd has
#: a median of 108 over the 30 pairs (quartiles 60 and 294). 150 gives 0.69 / sqrt(150) =
#: 0.056 dB (0.45 x the median seed sd, about a 10 % larger sd of each per-seed difference), at
#: 105 more 4-image scenes per seed. The numbers come from
#: ``per_image.csv`` of results/quick/{ltnet,msrnet}/*/*/seed=*/ (psnr;
#: rows paired on (seed, image); pairs whose seed sd is 0, the deterministic baselines, left
#: out); :func:`relight_lib.harness.noise.noise_sizes` recomputes them.
#:
#: Any-to-any keeps the 76 / 12 training / validation scenes of the fixed set and renders 50
#: test scenes (12 before): its 100 evaluation pairs are then drawn from 50 scenes, each scene
#: in about 4 pairs instead of 17. Measured the same way on results/quick/swapnet/{table1,
#: discriminator} (4 pairs of rows), the per-pair PSNR sd has a median of 2.5 dB and the seed
#: sd of 0.64 dB: 100 pairs give 0.25 dB (0.39 x) for the median pair of rows, but table1's
#: identity against model A (seed sd 0.24 dB) would need about 450 pairs for half its seed sd
#: (the number of pairs is the row's ``n_eval_pairs``, not a property of the set).
_TRACK1_CONDITIONS = tuple(c.tag for c in layout.parse_conditions("track1,mbnet"))
PER_SEED: dict[str, dict[str, RenderConfig]] = {
    "quick": {
        "track1": RenderConfig(n_scenes=495, split_sizes=(300, 45, 150), size=64, spp=8,
                               conditions=_TRACK1_CONDITIONS),
        "any2any": RenderConfig(n_scenes=138, split_sizes=(76, 12, 50), size=64, spp=8),
    },
    "gpu": {
        "track1": RenderConfig(n_scenes=495, split_sizes=(300, 45, 150), size=256, spp=32,
                               conditions=_TRACK1_CONDITIONS),
        "any2any": RenderConfig(n_scenes=138, split_sizes=(76, 12, 50), size=256, spp=32),
    },
}


def scene_seed(profile: str, kind: str, seed: int) -> int:
    """The generator seed of seed ``seed``'s ``kind`` set at ``profile``: the first 4 bytes
    (little endian) of sha256(``"synvidit/<profile>/<kind>/<seed>"``), a uint32. Deterministic
    across machines and Python versions (unlike ``hash()``); distinct per profile, kind and
    seed, so the Track-1 and any-to-any sets of a seed hold different scenes, as the fixed
    presets (seeds 0 and 1) do.

    >>> scene_seed("quick", "track1", 0) == scene_seed("quick", "track1", 0)
    True
    >>> scene_seed("quick", "track1", 0) != scene_seed("quick", "track1", 1)
    True
    """
    h = hashlib.sha256(f"synvidit/{profile}/{kind}/{int(seed)}".encode()).digest()
    return int.from_bytes(h[:4], "little")


def seed_folder(profile: str, kind: str, seed: int) -> str:
    """Sub-folder of ``data/synvidit`` that holds seed ``seed``'s ``kind`` set:
    ``quick-s0-track1``."""
    return f"{profile}-s{int(seed)}-{kind}"


def seed_set(profile: str, kind: str, seed: int) -> tuple[str, RenderConfig]:
    """``(folder, config)`` of seed ``seed``'s ``kind`` set at ``profile``
    (:data:`PER_SEED`'s template with :func:`scene_seed`)."""
    if profile not in PER_SEED or kind not in PER_SEED[profile]:
        raise KeyError(f"no per-seed SynVIDIT set {kind!r} at profile {profile!r}; "
                       f"known: {sorted((p, k) for p in PER_SEED for k in PER_SEED[p])}")
    import dataclasses

    cfg = dataclasses.replace(PER_SEED[profile][kind], seed=scene_seed(profile, kind, seed))
    return seed_folder(profile, kind, seed), cfg


# --------------------------------------------------------------------------------------------
# Mitsuba scene construction


def _import_mitsuba(variant: str):
    try:
        import mitsuba as mi
    except ImportError as e:  # pragma: no cover - exercised only without the extra
        raise RenderError(
            "SynVIDIT needs Mitsuba 3: pip install 'relight_lib[render]' (or `make venv`)"
        ) from e
    try:
        mi.set_variant(variant)
    except (ImportError, AttributeError, ValueError) as e:
        raise RenderError(
            f"Mitsuba variant {variant!r} is not available here ({e}); "
            f"available: {mi.variants()}. On a CPU use 'scalar_rgb' (the LLVM variants need libLLVM)."
        ) from e
    return mi


def _bsdf(mi, mat) -> dict:
    if mat.texture is not None:
        tex = {
            "type": "bitmap",
            "bitmap": mi.Bitmap(mat.texture),
            "raw": True,  # our textures are already linear reflectance
            "filter_type": "bilinear",
            "to_uv": mi.ScalarTransform4f().scale([mat.tile, mat.tile, 1.0]),
        }
    else:
        tex = {"type": "rgb", "value": list(mat.colour)}
    if mat.kind == "diffuse":
        return {"type": "twosided", "bsdf": {"type": "diffuse", "reflectance": tex}}
    if mat.kind == "roughplastic":
        return {"type": "twosided", "bsdf": {"type": "roughplastic", "distribution": "ggx",
                                             "alpha": mat.alpha, "diffuse_reflectance": tex}}
    if mat.kind == "roughconductor":
        return {"type": "roughconductor", "distribution": "ggx", "alpha": mat.alpha,
                "material": mat.conductor}
    raise ValueError(f"unknown material {mat.kind!r}")


def _write_ply(path: Path, verts: np.ndarray, uvs: np.ndarray, faces: np.ndarray) -> None:
    header = (
        "ply\nformat binary_little_endian 1.0\n"
        f"element vertex {len(verts)}\nproperty float x\nproperty float y\nproperty float z\n"
        "property float u\nproperty float v\n"
        f"element face {len(faces)}\nproperty list uchar int vertex_indices\nend_header\n"
    )
    vdata = np.concatenate([verts, uvs], axis=1).astype("<f4").tobytes()
    fdata = np.empty(len(faces), dtype=[("n", "u1"), ("i", "<i4", (3,))])
    fdata["n"], fdata["i"] = 3, faces
    path.write_bytes(header.encode("ascii") + vdata + fdata.tobytes())


def build_mitsuba_scene(spec: SceneSpec, size: int, spp: int, bounces: int, mesh_dir: Path,
                        variant: str = "scalar_rgb"):
    """Turn a :class:`SceneSpec` into a loaded ``mi.Scene`` with two sensors (0: the output
    size, 1: the exposure probe) and one point light named ``light`` (moved per condition)."""
    mi = _import_mitsuba(variant)
    T = mi.ScalarTransform4f

    def sensor(res: int, samples: int) -> dict:
        return {
            "type": "perspective",
            "fov": spec.camera.fov,
            "fov_axis": "x",
            "to_world": T().look_at(origin=spec.camera.origin.tolist(),
                                    target=spec.camera.target.tolist(), up=[0, 1, 0]),
            "film": {"type": "hdrfilm", "width": res, "height": res, "pixel_format": "rgb",
                     "rfilter": {"type": "box"}},
            "sampler": {"type": "independent", "sample_count": samples},
        }

    d: dict = {
        "type": "scene",
        "integrator": {"type": "path", "max_depth": bounces + 2, "block_size": BLOCK_SIZE},
        "sensor_main": sensor(size, spp),
        "sensor_probe": sensor(PROBE_SIZE, PROBE_SPP),
        "light": {"type": "point", "position": [0.0, 5.0, 0.0],
                  "intensity": {"type": "rgb", "value": [1.0, 1.0, 1.0]}},
    }
    meshes: dict[tuple, Path] = {}
    for i, shape in enumerate(spec.shapes):
        entry: dict = {"bsdf": _bsdf(mi, shape.material),
                       "to_world": T(shape.to_world.astype(np.float64).tolist())}
        if shape.kind in ("cube", "sphere", "rectangle"):
            entry["type"] = shape.kind
        else:
            key = (shape.kind, round(shape.minor_radius, 4))
            if key not in meshes:
                meshes[key] = mesh_dir / f"{shape.kind}_{len(meshes)}.ply"
                _write_ply(meshes[key], *mesh_arrays(shape.kind, shape.minor_radius))
            entry["type"] = "ply"
            entry["filename"] = str(meshes[key])
            entry["face_normals"] = shape.kind != "torus"  # flat caps; the torus is smooth
        d[f"shape_{i:03d}"] = entry
    return mi.load_dict(d)


# --------------------------------------------------------------------------------------------
# rendering one scene


@dataclass
class SceneRender:
    """Everything rendered for one scene: 8-bit sRGB images (H, W, 3) per condition tag, the
    normalised planar depth (H, W) float32 in [0, 1], and bookkeeping."""

    images: dict[str, np.ndarray]
    depth: np.ndarray
    ref_center_dis: float
    exposure: float
    family: str
    seconds: float = 0.0


def _image_seed(seed: int, index: int, k: int) -> int:
    # distinct, reproducible sampler seeds per (set, scene, image); Mitsuba takes a uint32
    h = hashlib.sha256(f"{seed}/{index}/{k}".encode()).digest()
    return int.from_bytes(h[:4], "little")


def _planar_depth(distance: np.ndarray, fov_deg: float) -> np.ndarray:
    """Convert distance along the ray (H, W) to planar depth for a square pinhole camera."""
    h, w = distance.shape
    t = math.tan(math.radians(fov_deg) / 2)
    xs = ((np.arange(w) + 0.5) / w * 2 - 1) * t
    ys = ((np.arange(h) + 0.5) / h * 2 - 1) * t
    cos = 1.0 / np.sqrt(1.0 + xs[None, :] ** 2 + ys[:, None] ** 2)
    return distance * cos


def render_scene(spec: SceneSpec, conditions: Iterable[Condition], size: int, spp: int = 32,
                 bounces: int = 0, variant: str = "scalar_rgb") -> SceneRender:
    """Render ``spec`` under each condition; returns :class:`SceneRender` (no files written)."""
    mi = _import_mitsuba(variant)
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="synvidit-mesh-") as tmp:
        scene = build_mitsuba_scene(spec, size, spp, bounces, Path(tmp), variant)
    params = mi.traverse(scene)

    def set_light(cond: Condition) -> None:
        pos = spec.light_position(cond.direction)
        r2 = float(np.sum((pos - spec.light_center) ** 2))
        rgb = cct_to_linear_srgb(cond.temperature) * LIGHT_POWER * r2
        params["light.position"] = mi.ScalarPoint3f(*pos.tolist())
        params["light.intensity.value"] = mi.ScalarColor3f(*rgb.tolist())
        params.update()

    base_seed = spec.seed
    # exposure probe: 8 directions at 6500 K, small and cheap
    probe = []
    for k, direction in enumerate(DIRECTIONS):
        set_light(Condition(6500, direction))
        img = np.asarray(mi.render(scene, sensor=1, seed=_image_seed(base_seed, spec.index,
                                                                     1000 + k)))
        probe.append(luminance(img))
    p = float(np.percentile(np.concatenate([x.ravel() for x in probe]), PROBE_PERCENTILE))
    exposure = PROBE_WHITE / p if p > 0 else 1.0

    images: dict[str, np.ndarray] = {}
    for cond in conditions:
        set_light(cond)
        k = ALL_CONDITIONS.index(cond)
        lin = np.asarray(mi.render(scene, sensor=0, seed=_image_seed(base_seed, spec.index, k)))
        srgb = linear_to_srgb(np.nan_to_num(lin[..., :3] * exposure, nan=0.0))
        images[cond.tag] = np.round(srgb * 255.0).astype(np.uint8)

    aov = mi.load_dict({"type": "aov", "aovs": "dd.y:depth", "block_size": BLOCK_SIZE})
    # one sample per pixel: averaging several would mix the AOV's 0 for a miss (sky) into the
    # depth of silhouette pixels and leave dark speckles along the horizon
    dist = np.asarray(mi.render(scene, sensor=0, integrator=aov, spp=1,
                                seed=_image_seed(base_seed, spec.index, 2000)))[..., 0]
    z = _planar_depth(dist.astype(np.float64), spec.camera.fov)
    hit = dist > 0
    if not hit.any():
        raise RenderError(f"scene {spec.index} (seed {spec.seed}): the camera sees nothing")
    z_min, z_max = float(z[hit].min()), float(z[hit].max())
    z = np.where(hit, z, z_max)
    depth = ((z - z_min) / max(z_max - z_min, 1e-9)).astype(np.float32)
    c = size // 2
    ref = float(z[c - 1:c + 1, c - 1:c + 1].mean())
    return SceneRender(images, depth, ref, exposure, spec.family, time.perf_counter() - t0)


# --------------------------------------------------------------------------------------------
# files, manifest, resume


def _atomic_write_bytes(path: Path, data: bytes) -> None:
    with atomic_write(path) as tmp:
        tmp.write_bytes(data)


def _png_bytes(img: np.ndarray) -> bytes:
    import io

    from PIL import Image

    buf = io.BytesIO()
    # fixed settings -> identical bytes for identical pixels
    Image.fromarray(img, mode="RGB").save(buf, format="PNG", optimize=False, compress_level=6)
    return buf.getvalue()


def scene_files(cfg: RenderConfig, index: int, split: str) -> list[str]:
    """Relative paths (forward slashes) that scene ``index`` contributes to a set."""
    name = layout.scene_name(index)
    out = [f"{ANY2ANY_DIR}/{split}/{layout.image_name(name, c)}" for c in cfg.condition_list]
    out.append(f"{ANY2ANY_DIR}/{split}/{layout.depth_name(name)}")
    if cfg.writes_track1:
        out += [f"{TRACK1_DIR}/{split}/input/{name}.png",
                f"{TRACK1_DIR}/{split}/input/{layout.depth_name(name)}",
                f"{TRACK1_DIR}/{split}/target/{name}.png"]
    return out


def write_scene(root: Path, cfg: RenderConfig, index: int, split: str, r: SceneRender
                ) -> dict[str, dict]:
    """Write one rendered scene in both layouts; returns ``{relpath: {sha256, bytes}}``."""
    name = layout.scene_name(index)
    blobs: dict[str, bytes] = {}
    for tag, img in r.images.items():
        blobs[f"{ANY2ANY_DIR}/{split}/{name}_{tag}.png"] = _png_bytes(img)
    depth = depth_bytes(r.depth, r.ref_center_dis)
    blobs[f"{ANY2ANY_DIR}/{split}/{layout.depth_name(name)}"] = depth
    if cfg.writes_track1:
        blobs[f"{TRACK1_DIR}/{split}/input/{name}.png"] = blobs[
            f"{ANY2ANY_DIR}/{split}/{layout.image_name(name, TRACK1_INPUT)}"]
        blobs[f"{TRACK1_DIR}/{split}/input/{layout.depth_name(name)}"] = depth
        blobs[f"{TRACK1_DIR}/{split}/target/{name}.png"] = blobs[
            f"{ANY2ANY_DIR}/{split}/{layout.image_name(name, TRACK1_TARGET)}"]
    out = {}
    for rel, data in sorted(blobs.items()):
        _atomic_write_bytes(root / rel, data)
        out[rel] = {"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}
    return out


def _render_and_write(args: tuple) -> tuple[int, dict, dict]:
    """Worker: render scene ``index`` and write its files (runs in a separate process)."""
    root, cfg, index, split, threads = args
    mi = _import_mitsuba(cfg.variant)
    if threads:
        import drjit as dr

        dr.set_thread_count(threads)
    del mi
    spec = make_scene(cfg.seed, index, cfg.families)
    r = render_scene(spec, cfg.condition_list, cfg.size, cfg.spp, cfg.bounces, cfg.variant)
    files = write_scene(Path(root), cfg, index, split, r)
    info = {"split": split, "family": r.family, "exposure": r.exposure,
            "ref_center_dis": r.ref_center_dis, "seconds": round(r.seconds, 3)}
    return index, info, files


def load_manifest(root: Path) -> dict | None:
    path = Path(root) / MANIFEST
    if not path.exists():
        return None
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as e:
        raise RenderError(f"{path}: not valid JSON ({e}); delete it to re-render") from e


def _write_manifest(root: Path, manifest: dict) -> None:
    _atomic_write_bytes(Path(root) / MANIFEST,
                        (json.dumps(manifest, indent=1, sort_keys=True) + "\n").encode())


def _scene_complete(root: Path, manifest: dict, cfg: RenderConfig, index: int, split: str) -> bool:
    name = layout.scene_name(index)
    if manifest["scenes"].get(name, {}).get("split") != split:
        return False
    for rel in scene_files(cfg, index, split):
        rec = manifest["files"].get(rel)
        path = root / rel
        if rec is None or not path.exists() or path.stat().st_size != rec["bytes"]:
            return False
        if sha256_file(path) != rec["sha256"]:
            return False
    return True


def _mitsuba_version() -> str:
    try:
        from importlib.metadata import version

        return version("mitsuba")
    except Exception:  # pragma: no cover
        return "unknown"


@dataclass
class RenderSummary:
    root: Path
    rendered: int = 0
    skipped: int = 0
    images: int = 0
    seconds: float = 0.0
    bytes: int = 0
    per_scene_seconds: list[float] = field(default_factory=list)

    @property
    def images_per_second(self) -> float:
        return self.images / self.seconds if self.seconds > 0 else float("nan")


def render_dataset(root: str | os.PathLike, cfg: RenderConfig, jobs: int = 1,
                   progress: bool = True, force: bool = False,
                   scenes: Iterable[int] | None = None) -> RenderSummary:
    """Render (or resume) a SynVIDIT set into ``root``.

    Args:
        root: Output folder; gets ``manifest.json``, ``any2any/`` and (when the Track-1
            conditions are rendered) ``track1/``.
        cfg: The set's parameters.
        jobs: Worker processes (each renders whole scenes, one Mitsuba thread each).
        progress: Show a tqdm progress bar.
        force: Discard an existing manifest with other parameters instead of refusing.
        scenes: Render only these scene indices (the others stay as they are); default all.

    Returns:
        A :class:`RenderSummary` with counts and timing.

    Raises:
        RenderError: ``root`` holds a set rendered with other parameters (and not ``force``).
    """
    from tqdm.auto import tqdm

    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    manifest = load_manifest(root)
    identity = cfg.identity()
    if manifest is not None and manifest.get("params") != identity:
        if not force:
            raise RenderError(
                f"{root / MANIFEST} was written with other parameters "
                f"({_diff(manifest.get('params', {}), identity)}); "
                "use another output folder, or --force to re-render it"
            )
        manifest = None
    if manifest is None:
        manifest = {
            "generator": "synvidit",
            "generator_version": GENERATOR_VERSION,
            "params": identity,
            "mitsuba": {"version": _mitsuba_version(), "variant": cfg.variant},
            "layout": {"any2any": f"{ANY2ANY_DIR}/<split>/ImageNNN_TTTT_D.png + ImageNNN.npy",
                       "track1": (f"{TRACK1_DIR}/<split>/input/ImageNNN.png(+.npy), "
                                  f"{TRACK1_DIR}/<split>/target/ImageNNN.png")
                       if cfg.writes_track1 else None},
            "splits": cfg.splits(),
            "scenes": {},
            "files": {},
        }
    split_of = {i: s for s, idx in manifest["splits"].items() for i in idx}
    wanted = sorted(split_of) if scenes is None else sorted(set(scenes))
    for i in wanted:
        if i not in split_of:
            raise ValueError(f"scene {i} is outside this set (0..{cfg.n_scenes - 1})")

    summary = RenderSummary(root=root)
    todo = [i for i in wanted if not _scene_complete(root, manifest, cfg, i, split_of[i])]
    summary.skipped = len(wanted) - len(todo)
    t0 = time.perf_counter()
    bar = tqdm(total=len(todo) * len(cfg.conditions), unit="img", disable=not progress or not todo,
               desc=f"SynVIDIT {root.name} {cfg.size}px", mininterval=1.0)

    def record(index: int, info: dict, files: dict) -> None:
        name = layout.scene_name(index)
        for rel in [r for r in manifest["files"] if r.split("/")[-1].startswith(name)]:
            if rel not in files:  # an older layout of this scene
                manifest["files"].pop(rel)
        manifest["scenes"][name] = info
        manifest["files"].update(files)
        _write_manifest(root, manifest)  # after every scene: an interruption loses one scene
        summary.rendered += 1
        summary.images += len(cfg.conditions)
        summary.per_scene_seconds.append(info["seconds"])
        bar.update(len(cfg.conditions))

    try:
        if jobs <= 1 or len(todo) <= 1:
            for i in todo:
                record(*_render_and_write((str(root), cfg, i, split_of[i], 0)))
        else:
            # spawn: Mitsuba's thread pool does not survive fork()
            with ProcessPoolExecutor(max_workers=jobs, mp_context=get_context("spawn")) as ex:
                futures = [ex.submit(_render_and_write, (str(root), cfg, i, split_of[i], 1))
                           for i in todo]
                for fut in as_completed(futures):
                    record(*fut.result())
    finally:
        bar.close()
        summary.seconds = time.perf_counter() - t0
        _write_manifest(root, manifest)
    summary.bytes = sum(rec["bytes"] for rec in manifest["files"].values())
    return summary


def _diff(a: dict, b: dict) -> str:
    keys = sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k))
    return ", ".join(f"{k}: {a.get(k)!r} -> {b.get(k)!r}" for k in keys) or "no difference"


# --------------------------------------------------------------------------------------------
# contact sheet


def contact_sheet(images: dict[str, np.ndarray], label: str = "", scale: int = 1) -> np.ndarray:
    """Compose a contact sheet: row 1 the 8 directions at 6500 K, row 2 the 5 temperatures at
    direction E (missing tiles left grey). ``images`` maps condition tags to (H, W, 3) uint8.

    Returns an (H', W', 3) uint8 image with a text label over each tile.
    """
    from PIL import Image, ImageDraw

    any_img = next(iter(images.values()))
    h, w = any_img.shape[:2]
    h, w = h * scale, w * scale
    pad, text_h = 4, 14
    rows = [[f"6500_{d}" for d in DIRECTIONS], [f"{t}_E" for t in layout.TEMPERATURES]]
    cols = max(len(r) for r in rows)
    title_h = 18 if label else 0
    sheet = Image.new("RGB", (cols * (w + pad) + pad, title_h + len(rows) * (h + text_h + pad) + pad),
                      (235, 235, 235))
    draw = ImageDraw.Draw(sheet)
    if label:
        draw.text((pad, 3), label, fill=(0, 0, 0))
    for r, tags in enumerate(rows):
        for c, tag in enumerate(tags):
            x = pad + c * (w + pad)
            y = title_h + pad + r * (h + text_h + pad)
            draw.text((x + 2, y), tag.replace("_", " K "), fill=(0, 0, 0))
            if tag in images:
                tile = Image.fromarray(images[tag]).resize((w, h), Image.NEAREST)
                sheet.paste(tile, (x, y + text_h))
            else:
                draw.rectangle([x, y + text_h, x + w - 1, y + text_h + h - 1], fill=(180, 180, 180))
    return np.asarray(sheet)


def render_contact_sheet(out: str | os.PathLike, seed: int = 0, index: int = 0, size: int = 128,
                         spp: int = 32, bounces: int = 0, variant: str = "scalar_rgb",
                         families: tuple[str, ...] = FAMILIES) -> Path:
    """Render scene ``index`` of set ``seed`` under the 13 conditions of :func:`contact_sheet`
    and save the sheet as a PNG at ``out``."""
    spec = make_scene(seed, index, families)
    tags = {f"6500_{d}" for d in DIRECTIONS} | {f"{t}_E" for t in layout.TEMPERATURES}
    conds = [c for c in ALL_CONDITIONS if c.tag in tags]
    r = render_scene(spec, conds, size, spp, bounces, variant)
    sheet = contact_sheet(r.images, label=f"SynVIDIT seed {seed}, scene {layout.scene_name(index)}"
                          f" ({spec.family}); top: 8 directions at 6500 K; bottom: 5 temperatures, E")
    out = Path(out)
    _atomic_write_bytes(out, _png_bytes(sheet))
    return out


# --------------------------------------------------------------------------------------------
# variant choice and speed benchmark


def resolve_variant(variant: str = "scalar_rgb") -> str:
    """``'auto'`` -> ``'cuda_rgb'`` when Mitsuba can use a GPU here, else ``'scalar_rgb'``;
    any other name is checked and returned."""
    import mitsuba as mi

    if variant != "auto":
        _import_mitsuba(variant)
        return variant
    if "cuda_rgb" in mi.variants():
        try:
            mi.set_variant("cuda_rgb")
            return "cuda_rgb"
        except Exception:  # no CUDA driver or device: the CPU variant works everywhere
            pass
    mi.set_variant("scalar_rgb")
    return "scalar_rgb"


def benchmark_render(sizes: list[int], spps: list[int], n_scenes: int = 2, jobs: int = 1,
                     variant: str = "scalar_rgb", conditions: str = "all") -> list[dict]:
    """Render ``n_scenes`` scenes at each size into a temporary folder and time it.

    Returns one row per size with ``images_per_second`` and the context (CPU count, jobs,
    variant, Mitsuba version, host), ready for :func:`append_csv`.
    """
    import platform
    import shutil

    rows = []
    for size, spp in zip(sizes, spps):
        load_before = round(os.getloadavg()[0], 2) if hasattr(os, "getloadavg") else ""
        tmp = Path(tempfile.mkdtemp(prefix="synvidit-bench-"))
        try:
            cfg = RenderConfig(n_scenes=n_scenes, size=size, spp=spp, seed=12345,
                               conditions=tuple(c.tag for c in layout.parse_conditions(conditions)),
                               variant=variant)
            s = render_dataset(tmp, cfg, jobs=jobs, progress=False)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        rows.append({
            "benchmark": "synvidit_render", "size": size, "spp": spp, "bounces": cfg.bounces,
            "scenes": n_scenes, "images": s.images, "seconds": round(s.seconds, 3),
            "images_per_second": round(s.images_per_second, 3),
            "bytes_per_image": round(s.bytes / max(s.images, 1)),
            "jobs": jobs, "cpus": os.cpu_count(), "variant": variant,
            "mitsuba": _mitsuba_version(), "host": platform.node(),
            "machine": platform.machine(), "date": time.strftime("%Y-%m-%dT%H:%M:%S"),
            "generator_version": GENERATOR_VERSION,
            # the cost of one scene depends on how many conditions it renders (plus a fixed
            # exposure probe and depth pass), and on whatever else shares the cores
            "conditions": conditions, "conditions_per_scene": len(cfg.conditions),
            "seconds_per_scene": round(s.seconds / max(n_scenes, 1), 4),
            "cpu_model": _cpu_model(), "load_1min_before": load_before,
        })
    return rows


def _cpu_model() -> str:
    """The CPU's model name (``/proc/cpuinfo``), or the platform's processor string."""
    import platform

    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


#: Where ``relight bench-render`` writes its measurements (and the estimates read them).
RENDER_BENCH_CSV = Path("results/bench/synvidit_render.csv")


def estimate_render_seconds(cfg: RenderConfig, bench_csv: str | os.PathLike = RENDER_BENCH_CSV
                            ) -> dict | None:
    """Estimated wall time to render the set ``cfg`` from the measurements in ``bench_csv``
    (``relight bench-render``): seconds per scene of the latest measurement at the same size,
    samples per pixel and number of conditions per scene (else per image at the same size and
    spp, scaled to ``cfg``'s conditions), times ``cfg.n_scenes``.

    Returns:
        ``{"seconds", "seconds_per_scene", "measured"}`` (``measured``: which measurement, in
        words: machine, cores, jobs, date), or None when nothing was measured at that size and
        spp (or the CSV is missing).
    """
    import csv

    path = Path(bench_csv)
    if not path.exists():
        return None
    with path.open(newline="") as f:
        rows = [r for r in csv.DictReader(f) if r.get("benchmark") == "synvidit_render"
                and int(r["size"]) == cfg.size and int(r["spp"]) == cfg.spp]
    if not rows:
        return None
    n_cond = len(cfg.conditions)
    # images / scenes: the conditions per scene, also of rows written before that column
    same = [r for r in rows if int(r["images"]) == n_cond * int(r["scenes"])]
    r = (same or rows)[-1]
    if same:
        per_scene = float(r["seconds"]) / int(r["scenes"])
    else:  # per image, scaled: an upper-ish guess (the probe's share is fixed per scene)
        per_scene = float(r["seconds"]) / int(r["images"]) * n_cond
    where = (f"{r.get('cpu_model') or r.get('machine', '?')}, {r.get('cpus', '?')} cores, "
             f"{r.get('jobs', '?')} job(s), {r.get('date', '?')}")
    if r.get("load_1min_before"):
        where += f", load {float(r['load_1min_before']):.1f} before"
    return {"seconds": per_scene * cfg.n_scenes, "seconds_per_scene": per_scene,
            "measured": where + ("" if same else "; scaled from another number of conditions")}


def append_csv(path: str | os.PathLike, rows: list[dict]) -> Path:
    """Append rows to a CSV (header from the first row), atomically (read, extend, replace)."""
    import csv
    import io

    path = Path(path)
    old: list[dict] = []
    if path.exists():
        with path.open(newline="") as f:
            old = list(csv.DictReader(f))
    allrows = old + rows
    fields: list[str] = []
    for r in allrows:
        fields += [k for k in r if k not in fields]
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=fields, lineterminator="\n")
    w.writeheader()
    w.writerows(allrows)
    _atomic_write_bytes(path, buf.getvalue().encode())
    return path
