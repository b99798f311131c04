"""Procedural SynVIDIT scenes: a pure-numpy description, independent of the renderer.

A scene is fully determined by ``(seed, scene index)`` and :data:`SCENE_STREAM`: :func:`make_scene`
draws everything from ``numpy.random.default_rng([SCENE_STREAM, seed, index])``, so any
scene can be regenerated alone (resume, parallel workers) and tests need no renderer.

Four families imitate kinds of VIDIT locations:

* ``open_ground`` - a large textured ground with scattered objects;
* ``room_corner`` - a floor and two walls meeting in a corner, objects in front;
* ``street``      - two rows of tall blocks along the view direction, small objects between;
* ``table_top``   - small objects on a table, seen from close.

Objects are boxes, spheres, capped cylinders, cones and tori, with diffuse, rough plastic or rough
conductor materials, plain or with procedural bitmap textures (checker, noise, bricks, stripes).

World frame: y is up, the ground is y = 0. The camera looks roughly along -z at ``camera.target``.
The light orbit (see :func:`light_position`) is expressed in the camera's frame, so that ``E`` is
image-right whatever the camera jitter (``relight_lib/library/data/layout.py``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from relight_lib.library.data.layout import DIRECTIONS

#: Bump when a change alters any generated scene; it is part of the rng seed and the manifest.
GENERATOR_VERSION = 2  # 2: depth from one sample per pixel (no sky blending at silhouettes)
#: Version of the scene random stream. Bump only when the *scenes* must change; version 2 of the
#: generator changed the depth pass, not the scenes, so it keeps stream 1.
SCENE_STREAM = 1

FAMILIES: tuple[str, ...] = ("open_ground", "room_corner", "street", "table_top")
OBJECT_KINDS: tuple[str, ...] = ("cube", "sphere", "cylinder", "cone", "torus")
MATERIAL_KINDS: tuple[str, ...] = ("diffuse", "roughplastic", "roughconductor")
TEXTURE_KINDS: tuple[str, ...] = ("checker", "noise", "bricks", "stripes")
CONDUCTORS: tuple[str, ...] = ("Al", "Au", "Cu", "Cr", "Ag")

#: Elevation of the point light above the horizontal plane through the orbit centre, degrees.
LIGHT_ELEVATION_DEG = 35.0

#: Clockwise compass angle from N (straight ahead) towards E (image-right), degrees.
_COMPASS = {d: 45.0 * i for i, d in enumerate(DIRECTIONS)}  # N=0, NE=45, E=90, ... NW=315


@dataclass
class Material:
    """A BSDF: ``kind`` in :data:`MATERIAL_KINDS`; ``colour`` is linear RGB reflectance in [0, 1],
    ``texture`` an optional (H, W, 3) float32 linear reflectance image replacing ``colour``,
    ``tile`` how often the texture repeats, ``alpha`` the GGX roughness, ``conductor`` a Mitsuba
    conductor preset name."""

    kind: str
    colour: tuple[float, float, float] = (0.5, 0.5, 0.5)
    texture: np.ndarray | None = None
    texture_kind: str | None = None
    tile: float = 1.0
    alpha: float = 0.2
    conductor: str = "Al"


@dataclass
class Shape:
    """One object: ``kind`` in :data:`OBJECT_KINDS` or ``'rectangle'``; ``to_world`` a 4x4
    transform of the unit primitive (cube [-1,1]^3, sphere of radius 1 at the origin, cylinder and
    cone of radius 1 from y=0 to y=1, torus in the xz-plane with major radius 1, rectangle
    [-1,1]^2 in the xy-plane facing +z)."""

    kind: str
    to_world: np.ndarray
    material: Material
    minor_radius: float = 0.3  # torus only, relative to the major radius


@dataclass
class Camera:
    origin: np.ndarray
    target: np.ndarray
    fov: float  # degrees, horizontal (images are square)


@dataclass
class SceneSpec:
    """A complete procedural scene. ``light_center`` and ``light_radius`` define the light orbit."""

    seed: int
    index: int
    family: str
    camera: Camera
    shapes: list[Shape] = field(default_factory=list)
    light_center: np.ndarray = field(default_factory=lambda: np.zeros(3))
    light_radius: float = 4.0

    def light_position(self, direction: str) -> np.ndarray:
        return light_position(self.camera, self.light_center, self.light_radius, direction)


# --------------------------------------------------------------------------------------------
# transforms


def translate(t) -> np.ndarray:
    m = np.eye(4)
    m[:3, 3] = t
    return m


def scale(s) -> np.ndarray:
    return np.diag([*np.broadcast_to(np.asarray(s, float), (3,)), 1.0])


def rotate_y(deg: float) -> np.ndarray:
    a = math.radians(deg)
    c, s = math.cos(a), math.sin(a)
    m = np.eye(4)
    m[0, 0], m[0, 2], m[2, 0], m[2, 2] = c, s, -s, c
    return m


def rotate_x(deg: float) -> np.ndarray:
    a = math.radians(deg)
    c, s = math.cos(a), math.sin(a)
    m = np.eye(4)
    m[1, 1], m[1, 2], m[2, 1], m[2, 2] = c, -s, s, c
    return m


def camera_frame(camera: Camera) -> tuple[np.ndarray, np.ndarray]:
    """Horizontal unit vectors (forward, right) of the camera: forward is the view direction
    projected on the ground plane, right = forward x up (image-right)."""
    f = np.asarray(camera.target, float) - np.asarray(camera.origin, float)
    f[1] = 0.0
    f /= np.linalg.norm(f)
    right = np.cross(f, [0.0, 1.0, 0.0])
    return f, right / np.linalg.norm(right)


def light_position(camera: Camera, center, radius: float, direction: str,
                   elevation_deg: float = LIGHT_ELEVATION_DEG) -> np.ndarray:
    """Point-light position for a VIDIT direction name, relative to the camera: ``N`` beyond the
    scene (facing the camera), ``E`` image-right, ``S`` behind the camera, ``W`` image-left."""
    forward, right = camera_frame(camera)
    phi = math.radians(_COMPASS[direction])
    el = math.radians(elevation_deg)
    horiz = math.cos(phi) * forward + math.sin(phi) * right
    return np.asarray(center, float) + radius * (
        math.cos(el) * horiz + math.sin(el) * np.array([0.0, 1.0, 0.0])
    )


# --------------------------------------------------------------------------------------------
# textures (linear reflectance, float32, values kept in [0.02, 0.9] so nothing is a perfect
# mirror or a perfect absorber)


def _random_colour(rng: np.random.Generator, lo: float = 0.08, hi: float = 0.8) -> np.ndarray:
    hue = rng.uniform(0, 1)
    sat = rng.uniform(0.1, 0.8)
    val = rng.uniform(lo, hi)
    # HSV -> RGB
    i = int(hue * 6) % 6
    f = hue * 6 - int(hue * 6)
    p, q, t = val * (1 - sat), val * (1 - f * sat), val * (1 - (1 - f) * sat)
    rgb = [(val, t, p), (q, val, p), (p, val, t), (p, q, val), (t, p, val), (val, p, q)][i]
    return np.array(rgb, dtype=np.float32)


def make_texture(kind: str, rng: np.random.Generator, size: int = 64) -> np.ndarray:
    """A procedural (size, size, 3) float32 texture of ``kind`` in :data:`TEXTURE_KINDS`."""
    a, b = _random_colour(rng), _random_colour(rng)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / size
    if kind == "checker":
        n = int(rng.integers(2, 9))
        mask = ((np.floor(xx * n) + np.floor(yy * n)) % 2).astype(np.float32)
    elif kind == "stripes":
        n = int(rng.integers(3, 12))
        ang = rng.uniform(0, math.pi)
        u = xx * math.cos(ang) + yy * math.sin(ang)
        mask = ((np.floor(u * n * 2)) % 2).astype(np.float32)
    elif kind == "bricks":
        rows = int(rng.integers(4, 10))
        cols = max(2, rows // 2)
        r = np.floor(yy * rows)
        shifted = xx * cols + 0.5 * (r % 2)
        mortar = 0.08
        in_row = (yy * rows) % 1.0
        in_col = shifted % 1.0
        mask = ((in_row > mortar) & (in_col > mortar * rows / cols)).astype(np.float32)
        b = np.array([0.6, 0.6, 0.58], np.float32) * rng.uniform(0.5, 1.2)  # mortar
        a, b = b, a  # bricks take the random colour
        # a little per-brick variation makes the wall read as bricks
        brick_id = (r * 97 + np.floor(shifted)).astype(np.int64) % 17
        mask = mask * (0.85 + 0.3 * (brick_id / 16.0))
    elif kind == "noise":
        # value noise: bilinear upsampling of a coarse random grid, two octaves
        mask = np.zeros((size, size), np.float32)
        for cells, w in ((4, 0.65), (16, 0.35)):
            grid = rng.uniform(0, 1, (cells + 1, cells + 1)).astype(np.float32)
            gx, gy = xx * cells, yy * cells
            x0, y0 = np.floor(gx).astype(int), np.floor(gy).astype(int)
            fx, fy = gx - x0, gy - y0
            v = (grid[y0, x0] * (1 - fx) * (1 - fy) + grid[y0, x0 + 1] * fx * (1 - fy)
                 + grid[y0 + 1, x0] * (1 - fx) * fy + grid[y0 + 1, x0 + 1] * fx * fy)
            mask += w * v
    else:
        raise ValueError(f"unknown texture kind {kind!r}; choose from {TEXTURE_KINDS}")
    mask = np.clip(mask, 0.0, 1.3)[..., None]
    tex = a * (1 - np.clip(mask, 0, 1)) + b * mask
    return np.clip(tex, 0.02, 0.9).astype(np.float32)


def make_material(rng: np.random.Generator, textured_prob: float = 0.5,
                  kinds: tuple[str, ...] = MATERIAL_KINDS,
                  weights: tuple[float, ...] = (0.5, 0.3, 0.2)) -> Material:
    kind = str(rng.choice(kinds, p=np.asarray(weights) / sum(weights)))
    colour = tuple(float(c) for c in _random_colour(rng))
    mat = Material(kind=kind, colour=colour, alpha=float(rng.uniform(0.08, 0.4)))
    if kind == "roughconductor":
        mat.conductor = str(rng.choice(CONDUCTORS))
    elif rng.uniform() < textured_prob:
        mat.texture_kind = str(rng.choice(TEXTURE_KINDS))
        mat.texture = make_texture(mat.texture_kind, rng)
        mat.tile = float(rng.integers(1, 4))
    return mat


# --------------------------------------------------------------------------------------------
# objects and families


def _object(rng: np.random.Generator, x: float, z: float, size: float, ground: float = 0.0,
            kinds: tuple[str, ...] = OBJECT_KINDS) -> Shape:
    kind = str(rng.choice(kinds))
    yaw = rng.uniform(0, 360)
    mat = make_material(rng)
    if kind == "cube":
        sx, sy, sz = size * rng.uniform(0.5, 1.0, 3) / 2
        m = translate([x, ground + sy, z]) @ rotate_y(yaw) @ scale([sx, sy, sz])
        return Shape(kind, m, mat)
    if kind == "sphere":
        r = size / 2
        return Shape(kind, translate([x, ground + r, z]) @ scale(r), mat)
    if kind in ("cylinder", "cone"):
        r = size / 2 * rng.uniform(0.5, 1.0)
        h = size * rng.uniform(0.7, 1.8)
        return Shape(kind, translate([x, ground, z]) @ rotate_y(yaw) @ scale([r, h, r]), mat)
    # torus: lying flat or standing up
    R = size / 2 * 0.75
    minor = float(rng.uniform(0.2, 0.4))
    if rng.uniform() < 0.5:
        m = translate([x, ground + R * minor, z]) @ rotate_y(yaw) @ scale(R)
    else:
        m = translate([x, ground + R * (1 + minor), z]) @ rotate_y(yaw) @ rotate_x(90) @ scale(R)
    return Shape(kind, m, mat, minor_radius=minor)


def _scatter(rng: np.random.Generator, n: int, half_x: float, z_lo: float, z_hi: float,
             size_lo: float, size_hi: float, ground: float = 0.0, avoid=()) -> list[Shape]:
    """Place up to ``n`` objects without overlaps (rejection sampling on footprint circles)."""
    placed: list[tuple[float, float, float]] = list(avoid)
    shapes = []
    for _ in range(n * 20):
        if len(shapes) == n:
            break
        size = rng.uniform(size_lo, size_hi)
        x, z = rng.uniform(-half_x, half_x), rng.uniform(z_lo, z_hi)
        if all((x - px) ** 2 + (z - pz) ** 2 > (0.6 * (size + ps)) ** 2 for px, pz, ps in placed):
            placed.append((x, z, size))
            shapes.append(_object(rng, x, z, size, ground))
    return shapes


def _ground(rng: np.random.Generator, half: float, y: float = 0.0) -> Shape:
    mat = make_material(rng, textured_prob=0.8, kinds=("diffuse", "roughplastic"),
                        weights=(0.8, 0.2))
    mat.tile = float(rng.integers(3, 10))
    m = translate([0, y, 0]) @ rotate_x(-90) @ scale([half, half, 1])
    return Shape("rectangle", m, mat)


def _wall(rng: np.random.Generator, center, yaw: float, half_w: float, half_h: float) -> Shape:
    mat = make_material(rng, textured_prob=0.7, kinds=("diffuse", "roughplastic"),
                        weights=(0.85, 0.15))
    mat.tile = float(rng.integers(2, 6))
    m = translate(center) @ rotate_y(yaw) @ scale([half_w, half_h, 1])
    return Shape("rectangle", m, mat)


def _camera(rng: np.random.Generator, dist: float, height: float, target_y: float,
            fov: tuple[float, float] = (40, 55)) -> Camera:
    """Camera on the +z side looking at the origin, with jitter in azimuth, distance, height,
    target and field of view."""
    az = math.radians(rng.uniform(-12, 12))
    d = dist * rng.uniform(0.9, 1.1)
    origin = np.array([d * math.sin(az), height * rng.uniform(0.85, 1.15), d * math.cos(az)])
    target = np.array([rng.uniform(-0.2, 0.2), target_y, rng.uniform(-0.3, 0.3)])
    return Camera(origin, target, float(rng.uniform(*fov)))


def _open_ground(rng, spec: SceneSpec) -> None:
    spec.shapes.append(_ground(rng, 40.0))
    spec.shapes += _scatter(rng, int(rng.integers(4, 9)), 2.6, -2.5, 1.5, 0.5, 1.3)
    spec.camera = _camera(rng, 6.5, 2.6, 0.4)
    spec.light_center, spec.light_radius = np.array([0.0, 0.0, -0.5]), 5.0


def _room_corner(rng, spec: SceneSpec) -> None:
    spec.shapes.append(_ground(rng, 6.0))
    spec.shapes.append(_wall(rng, [0, 3, -3], 0, 6, 3))  # back wall, facing +z
    side = 1 if rng.uniform() < 0.5 else -1
    spec.shapes.append(_wall(rng, [-3 * side, 3, 0], 90 * side, 6, 3))  # side wall facing inwards
    spec.shapes += _scatter(rng, int(rng.integers(3, 7)), 2.0, -2.3, 1.2, 0.4, 1.1)
    spec.camera = _camera(rng, 5.5, 2.2, 0.7)
    # the orbit stays inside the room so that no direction is hidden behind a wall
    spec.light_center, spec.light_radius = np.array([0.0, 0.3, -0.3]), 2.4


def _street(rng, spec: SceneSpec) -> None:
    spec.shapes.append(_ground(rng, 40.0))
    width = rng.uniform(1.4, 2.2)
    for sx in (-1, 1):
        z = 2.5
        while z > -14:
            depth = rng.uniform(1.5, 3.5)
            w = rng.uniform(1.0, 2.5)
            h = rng.uniform(2.0, 6.0)
            mat = make_material(rng, textured_prob=0.8, kinds=("diffuse", "roughplastic"),
                                weights=(0.7, 0.3))
            mat.tile = float(rng.integers(1, 4))
            cx = sx * (width + w)
            m = translate([cx, h, z - depth]) @ scale([w, h, depth * 0.95])
            spec.shapes.append(Shape("cube", m, mat))
            z -= 2 * depth + rng.uniform(0.0, 0.6)
    spec.shapes += _scatter(rng, int(rng.integers(2, 6)), width * 0.7, -6, 1.0, 0.3, 0.9)
    spec.camera = _camera(rng, 6.0, 1.8, 0.8, fov=(45, 60))
    # the orbit stays inside the street canyon (radius * cos(elevation) < street half-width), or
    # every direction but N and S would be hidden behind the blocks
    spec.light_center, spec.light_radius = np.array([0.0, 0.0, -1.5]), 1.1 * width


def _table_top(rng, spec: SceneSpec) -> None:
    spec.shapes.append(_ground(rng, 8.0))
    top_h, half_w, half_d = 0.75, rng.uniform(0.9, 1.3), rng.uniform(0.6, 0.8)
    wood = make_material(rng, textured_prob=0.9, kinds=("diffuse", "roughplastic"),
                         weights=(0.5, 0.5))
    spec.shapes.append(Shape("cube", translate([0, top_h - 0.03, 0]) @ scale([half_w, 0.03, half_d]),
                             wood))
    for lx in (-1, 1):
        for lz in (-1, 1):
            m = translate([lx * (half_w - 0.08), (top_h - 0.06) / 2, lz * (half_d - 0.08)]) @ scale(
                [0.04, (top_h - 0.06) / 2, 0.04])
            spec.shapes.append(Shape("cube", m, wood))
    spec.shapes += _scatter(rng, int(rng.integers(3, 7)), half_w * 0.75, -half_d * 0.75,
                            half_d * 0.75, 0.12, 0.35, ground=top_h)
    spec.camera = _camera(rng, 2.3, 1.75, top_h + 0.05, fov=(38, 50))
    spec.light_center, spec.light_radius = np.array([0.0, top_h, 0.0]), 1.6


_BUILDERS = {
    "open_ground": _open_ground,
    "room_corner": _room_corner,
    "street": _street,
    "table_top": _table_top,
}


def make_scene(seed: int, index: int, families: tuple[str, ...] = FAMILIES) -> SceneSpec:
    """The scene ``index`` of the SynVIDIT set with ``seed``; deterministic.

    The family is drawn at random from ``families`` (the whole scene comes from one rng seeded
    with ``(SCENE_STREAM, seed, index)``).
    """
    for fam in families:
        if fam not in _BUILDERS:
            raise ValueError(f"unknown scene family {fam!r}; choose from {FAMILIES}")
    rng = np.random.default_rng([SCENE_STREAM, seed, index])
    family = str(families[int(rng.integers(len(families)))])
    spec = SceneSpec(seed=seed, index=index, family=family, camera=Camera(np.zeros(3),
                     np.array([0.0, 0.0, -1.0]), 45.0))
    _BUILDERS[family](rng, spec)
    return spec


# --------------------------------------------------------------------------------------------
# meshes for the primitives Mitsuba does not have (capped cylinder, cone, torus)


def mesh_arrays(kind: str, minor_radius: float = 0.3, segments: int = 32
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Vertices (V, 3), texture coordinates (V, 2) and triangles (F, 3) of a unit primitive
    (see :class:`Shape` for the unit sizes). Triangles wind counter-clockwise seen from outside.

    >>> v, uv, f = mesh_arrays("cone", segments=8)
    >>> v.shape[1], uv.shape[1], f.shape[1], int(f.max()) < len(v)
    (3, 2, 3, True)
    """
    n = segments
    ang = np.linspace(0, 2 * math.pi, n + 1)  # seam vertex duplicated for clean uvs
    verts: list = []
    uvs: list = []
    faces: list = []

    def add(v, uv):
        verts.append(v)
        uvs.append(uv)
        return len(verts) - 1

    if kind in ("cylinder", "cone"):
        top_r = 1.0 if kind == "cylinder" else 0.0
        # side: rings at y=0 and y=1
        bottom = [add((math.cos(a), 0.0, math.sin(a)), (i / n, 0.0)) for i, a in enumerate(ang)]
        top = [add((top_r * math.cos(a), 1.0, top_r * math.sin(a)), (i / n, 1.0))
               for i, a in enumerate(ang)]
        for i in range(n):
            a0, a1, b0, b1 = bottom[i], bottom[i + 1], top[i], top[i + 1]
            faces += [(a0, b0, a1), (a1, b0, b1)]
        # caps (flat, separate vertices for sharp edges)
        caps = [(0.0, 1.0, -1)] + ([(1.0, 1.0, 1)] if kind == "cylinder" else [])
        for y, r, sgn in caps:
            c = add((0.0, y, 0.0), (0.5, 0.5))
            ring = [add((r * math.cos(a), y, r * math.sin(a)),
                        (0.5 + 0.5 * math.cos(a), 0.5 + 0.5 * math.sin(a))) for a in ang]
            for i in range(n):
                faces.append((c, ring[i], ring[i + 1]) if sgn < 0 else (c, ring[i + 1], ring[i]))
    elif kind == "torus":
        m = max(8, n // 2)
        grid = np.empty((n + 1, m + 1), dtype=np.int64)
        for i, a in enumerate(ang):
            for j, b in enumerate(np.linspace(0, 2 * math.pi, m + 1)):
                r = 1.0 + minor_radius * math.cos(b)
                grid[i, j] = add((r * math.cos(a), minor_radius * math.sin(b), r * math.sin(a)),
                                 (i / n, j / m))
        for i in range(n):
            for j in range(m):
                a, b, c, d = grid[i, j], grid[i + 1, j], grid[i, j + 1], grid[i + 1, j + 1]
                faces += [(a, c, b), (b, c, d)]
    else:
        raise ValueError(f"no mesh for {kind!r}")
    return (np.asarray(verts, np.float32), np.asarray(uvs, np.float32),
            np.asarray(faces, np.int32))
