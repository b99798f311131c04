import numpy as np
import pytest

from relight_lib.library.data import scenes
from relight_lib.library.data.layout import DIRECTIONS


def _same(a: scenes.SceneSpec, b: scenes.SceneSpec) -> bool:
    if a.family != b.family or len(a.shapes) != len(b.shapes):
        return False
    if not np.array_equal(a.camera.origin, b.camera.origin):
        return False
    for sa, sb in zip(a.shapes, b.shapes):
        if sa.kind != sb.kind or not np.array_equal(sa.to_world, sb.to_world):
            return False
        ta, tb = sa.material.texture, sb.material.texture
        if (ta is None) != (tb is None) or (ta is not None and not np.array_equal(ta, tb)):
            return False
    return True


def test_deterministic_and_distinct():
    assert _same(scenes.make_scene(0, 5), scenes.make_scene(0, 5))
    assert not _same(scenes.make_scene(0, 5), scenes.make_scene(0, 6))
    assert not _same(scenes.make_scene(0, 5), scenes.make_scene(1, 5))


def test_all_families_objects_materials_textures_occur():
    specs = [scenes.make_scene(0, i) for i in range(40)]
    assert {s.family for s in specs} == set(scenes.FAMILIES)
    kinds = {sh.kind for s in specs for sh in s.shapes}
    assert set(scenes.OBJECT_KINDS) <= kinds
    mats = {sh.material.kind for s in specs for sh in s.shapes}
    assert mats == set(scenes.MATERIAL_KINDS)
    texs = {sh.material.texture_kind for s in specs for sh in s.shapes} - {None}
    assert texs == set(scenes.TEXTURE_KINDS)


def test_family_restriction_and_unknown_family():
    assert all(scenes.make_scene(3, i, ("street",)).family == "street" for i in range(5))
    with pytest.raises(ValueError, match="castle"):
        scenes.make_scene(0, 0, ("castle",))


def test_camera_jitter():
    origins = np.array([scenes.make_scene(0, i, ("open_ground",)).camera.origin for i in range(6)])
    assert np.ptp(origins, axis=0).min() > 0.01


@pytest.mark.parametrize("index", range(8))
def test_light_directions_relative_to_camera(index):
    spec = scenes.make_scene(0, index)
    forward, right = scenes.camera_frame(spec.camera)
    pos = {d: spec.light_position(d) for d in DIRECTIONS}
    c = spec.light_center
    # E is image-right, W image-left, N beyond the scene, S towards the camera
    assert np.dot(pos["E"] - c, right) > 0 > np.dot(pos["W"] - c, right)
    assert np.dot(pos["N"] - c, forward) > 0 > np.dot(pos["S"] - c, forward)
    assert np.dot(pos["NE"] - c, right) > 0 and np.dot(pos["NE"] - c, forward) > 0
    # same elevation and distance for every direction
    heights = [p[1] for p in pos.values()]
    assert np.ptp(heights) < 1e-9
    dists = [np.linalg.norm(p - c) for p in pos.values()]
    assert np.allclose(dists, spec.light_radius)
    assert heights[0] > c[1]


@pytest.mark.parametrize("kind", scenes.TEXTURE_KINDS)
def test_textures(kind):
    rng = np.random.default_rng(0)
    tex = scenes.make_texture(kind, rng, size=32)
    assert tex.shape == (32, 32, 3) and tex.dtype == np.float32
    assert 0.02 <= tex.min() and tex.max() <= 0.9
    assert tex.std() > 0.01  # a pattern, not a flat colour
    with pytest.raises(ValueError):
        scenes.make_texture("plaid", rng)


@pytest.mark.parametrize("kind", ["cylinder", "cone", "torus"])
def test_meshes_are_outward_facing(kind):
    v, uv, f = scenes.mesh_arrays(kind, segments=16)
    assert f.min() >= 0 and f.max() < len(v) and len(uv) == len(v)
    assert 0 <= uv.min() and uv.max() <= 1
    tri = v[f]
    normal = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    centroid = tri.mean(axis=1)
    if kind == "torus":
        # outward = away from the tube's core circle (radius 1 in the xz-plane)
        radial = centroid * np.array([1, 0, 1])
        core = radial / np.linalg.norm(radial, axis=1, keepdims=True)
        out = centroid - core
    else:
        out = centroid - np.array([0, 0.5, 0])
    area = np.linalg.norm(normal, axis=1)
    keep = area > 1e-9
    assert (np.einsum("ij,ij->i", normal[keep], out[keep]) > 0).all()
    with pytest.raises(ValueError):
        scenes.mesh_arrays("teapot")
