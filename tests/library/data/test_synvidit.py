"""SynVIDIT renderer: layout, manifest, determinism, resume, and the physics that makes the data
useful (shadows move with the light, E is image-right, colour follows temperature)."""

import json
import shutil

import numpy as np
import pytest
from PIL import Image

from relight_lib.library.data import layout, synvidit
from relight_lib.library.data.layout import ALL_CONDITIONS, Condition
from relight_lib.library.data.scenes import make_scene

pytest.importorskip("mitsuba")
pytestmark = pytest.mark.render

SMALL = dict(size=24, spp=2)


def _cfg(**kw) -> synvidit.RenderConfig:
    base = dict(n_scenes=3, seed=7, **SMALL)
    base.update(kw)
    return synvidit.RenderConfig(**base)


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    root = tmp_path_factory.mktemp("synvidit") / "set"
    cfg = _cfg()
    summary = synvidit.render_dataset(root, cfg, jobs=1, progress=False)
    return root, cfg, summary


def _bytes(root):
    return {p.relative_to(root).as_posix(): p.read_bytes()
            for p in sorted(root.rglob("*")) if p.is_file() and p.name != "manifest.json"}


def test_layout_and_names(rendered):
    root, cfg, summary = rendered
    assert summary.rendered == 3 and summary.images == 3 * 40
    splits = layout.split_of_scenes(3)
    for split, idx in splits.items():
        for i in idx:
            name = layout.scene_name(i)
            for c in ALL_CONDITIONS:
                assert (root / "any2any" / split / f"{name}_{c.tag}.png").is_file()
            assert (root / "any2any" / split / f"{name}.npy").is_file()
            assert (root / "track1" / split / "input" / f"{name}.png").is_file()
            assert (root / "track1" / split / "input" / f"{name}.npy").is_file()
            assert (root / "track1" / split / "target" / f"{name}.png").is_file()
            # the Track-1 files are the 6500 K N input and the 4500 K E target
            assert (root / "track1" / split / "input" / f"{name}.png").read_bytes() == (
                root / "any2any" / split / f"{name}_6500_N.png").read_bytes()
            assert (root / "track1" / split / "target" / f"{name}.png").read_bytes() == (
                root / "any2any" / split / f"{name}_4500_E.png").read_bytes()
    img = Image.open(root / "any2any" / "train" / "Image000_6500_N.png")
    assert img.mode == "RGB" and img.size == (24, 24)


def test_manifest_lists_every_file_with_its_hash(rendered):
    import hashlib

    root, cfg, _ = rendered
    m = json.loads((root / "manifest.json").read_text())
    assert m["generator"] == "synvidit" and m["params"] == cfg.identity()
    on_disk = set(_bytes(root))
    assert set(m["files"]) == on_disk
    for rel, rec in m["files"].items():
        data = (root / rel).read_bytes()
        assert rec["sha256"] == hashlib.sha256(data).hexdigest() and rec["bytes"] == len(data)
    assert set(m["scenes"]) == {"Image000", "Image001", "Image002"}


def test_depth_in_vidit_format(rendered):
    root, _, _ = rendered
    rec = np.load(root / "any2any" / "train" / "Image000.npy", allow_pickle=True).item()
    assert set(rec) == {"normalized_depth", "ref_center_dis"}
    d = rec["normalized_depth"]
    assert d.dtype == np.float32 and d.shape == (24, 24)
    assert d.min() == pytest.approx(0.0) and d.max() == pytest.approx(1.0)
    assert isinstance(rec["ref_center_dis"], float) and rec["ref_center_dis"] > 0


def test_byte_identical_rerender_and_jobs_independent(rendered, tmp_path):
    root, cfg, _ = rendered
    again = tmp_path / "again"
    synvidit.render_dataset(again, _cfg(), jobs=2, progress=False)
    assert _bytes(again) == _bytes(root)


def test_resume_skips_verified_scenes_and_repairs_damage(rendered, tmp_path):
    root, cfg, _ = rendered
    copy = tmp_path / "copy"
    shutil.copytree(root, copy)
    (copy / "any2any" / "train" / "Image000_2500_S.png").unlink()
    (copy / "track1" / "validation" / "input" / "Image001.npy").write_bytes(b"corrupt")
    s = synvidit.render_dataset(copy, _cfg(), jobs=1, progress=False)
    assert (s.rendered, s.skipped) == (2, 1)
    assert _bytes(copy) == _bytes(root)


def test_interrupted_render_resumes(tmp_path):
    root = tmp_path / "set"
    s1 = synvidit.render_dataset(root, _cfg(conditions=("6500_N", "4500_E")), progress=False,
                                 scenes=[0])
    assert s1.rendered == 1
    s2 = synvidit.render_dataset(root, _cfg(conditions=("6500_N", "4500_E")), progress=False)
    assert (s2.rendered, s2.skipped) == (2, 1)


def test_other_parameters_refused_unless_forced(rendered, tmp_path):
    root, _, _ = rendered
    copy = tmp_path / "copy"
    shutil.copytree(root, copy)
    with pytest.raises(synvidit.RenderError, match="spp"):
        synvidit.render_dataset(copy, _cfg(spp=3), progress=False)
    s = synvidit.render_dataset(copy, _cfg(spp=3, conditions=("6500_N",)), progress=False,
                                force=True)
    assert s.rendered == 3


def test_exposure_does_not_depend_on_rendered_conditions(rendered, tmp_path):
    # one tone mapping per scene: a subset render gives the same bytes as the full set
    root, _, _ = rendered
    sub = tmp_path / "sub"
    synvidit.render_dataset(sub, _cfg(conditions=("2500_W", "6500_N")), progress=False)
    for name in ("Image000_2500_W.png", "Image000_6500_N.png", "Image000.npy"):
        assert (sub / "any2any/train" / name).read_bytes() == (root / "any2any/train" / name
                                                                ).read_bytes()
    assert not (sub / "track1").exists()  # no 4500_E target, so no Track-1 packaging


def _render(index, conds, size=48, family=None, seed=0):
    spec = make_scene(seed, index, (family,) if family else
                      ("open_ground", "room_corner", "street", "table_top"))
    return synvidit.render_scene(spec, conds, size=size, spp=4)


def test_light_from_east_lights_the_right_half():
    e, w = Condition(6500, "E"), Condition(6500, "W")
    diffs = []
    for i in range(4):
        r = _render(i, [e, w], family="open_ground")
        lum = {t: img.astype(float).mean(axis=2) for t, img in r.images.items()}
        half = lum["6500_E"].shape[1] // 2
        diffs.append((lum["6500_E"][:, half:].mean() - lum["6500_E"][:, :half].mean())
                     - (lum["6500_W"][:, half:].mean() - lum["6500_W"][:, :half].mean()))
    assert np.mean(diffs) > 5 and sum(d > 0 for d in diffs) >= 3


def test_shadows_move_and_are_black():
    conds = [Condition(6500, d) for d in layout.DIRECTIONS]
    r = _render(0, conds, family="open_ground")
    black = {t: (img.max(axis=2) == 0) for t, img in r.images.items()}
    # pitch-black pixels exist (no ambient) and their pattern changes with the direction
    assert all(b.mean() > 0.01 for b in black.values())
    assert (black["6500_E"] != black["6500_W"]).mean() > 0.02
    assert r.exposure > 0


def test_colour_follows_temperature():
    r = _render(1, [Condition(2500, "S"), Condition(6500, "S")], family="room_corner")
    ratio = {t: img[..., 0].astype(float).sum() / max(img[..., 2].astype(float).sum(), 1)
             for t, img in r.images.items()}
    assert ratio["2500_S"] > 1.3 * ratio["6500_S"]


def test_planar_depth_conversion():
    dist = np.ones((4, 4))
    z = synvidit._planar_depth(dist, 90.0)
    assert z.max() < 1 and np.allclose(z, z.T)
    assert z[0, 0] < z[1, 1]  # corners are furthest from the optical axis


def test_contact_sheet(tmp_path):
    out = synvidit.render_contact_sheet(tmp_path / "sheet.png", seed=0, index=2, size=16, spp=1)
    img = Image.open(out)
    assert img.mode == "RGB" and img.size[0] > 8 * 16 and img.size[1] > 2 * 16


def test_config_validation():
    with pytest.raises(ValueError, match="n_scenes"):
        synvidit.RenderConfig(n_scenes=0)
    with pytest.raises(ValueError, match="size"):
        synvidit.RenderConfig(size=4)
    with pytest.raises(ValueError, match="cannot parse"):
        synvidit.RenderConfig(conditions=("daylight",))
    with pytest.raises(ValueError, match="castle"):
        synvidit.RenderConfig(families=("castle",))
    with pytest.raises(synvidit.RenderError, match="variant"):
        synvidit.resolve_variant("nonexistent_rgb")
    with pytest.raises(ValueError, match="split_sizes"):
        synvidit.RenderConfig(n_scenes=5, split_sizes=(3, 1, 2))  # sums to 6
    with pytest.raises(ValueError, match="split_sizes"):
        synvidit.RenderConfig(n_scenes=3, split_sizes=(4, -1, 0))


def test_split_sizes_choose_the_splits(tmp_path):
    cfg = _cfg(n_scenes=4, split_sizes=(1, 1, 2), conditions=("6500_N", "4500_E"))
    assert cfg.split_counts() == {"train": 1, "validation": 1, "test": 2}
    root = tmp_path / "set"
    synvidit.render_dataset(root, cfg, jobs=1, progress=False)
    m = json.loads((root / "manifest.json").read_text())
    assert m["splits"] == {"train": [0], "validation": [1], "test": [2, 3]}
    assert m["params"]["split_sizes"] == [1, 1, 2]
    assert (root / "track1" / "test" / "target" / "Image003.png").is_file()
    # without split_sizes the identity is what it was before the option existed, so sets
    # rendered then still resume
    assert "split_sizes" not in _cfg().identity()
    assert _cfg(n_scenes=390).splits() == layout.split_of_scenes(390)


def test_per_seed_sets_are_deterministic_and_differ_between_seeds():
    f0, c0 = synvidit.seed_set("quick", "track1", 0)
    f1, c1 = synvidit.seed_set("quick", "track1", 1)
    assert (f0, f1) == ("quick-s0-track1", "quick-s1-track1")
    assert synvidit.seed_set("quick", "track1", 0)[1].identity() == c0.identity()
    assert c0.seed != c1.seed and c0.identity() != c1.identity()
    # another scene seed draws other scenes (the generator is a function of seed and index)
    a, b = make_scene(c0.seed, 0), make_scene(c1.seed, 0)
    assert not np.allclose(a.camera.origin, b.camera.origin)


def test_benchmark_rows_and_csv(tmp_path):
    rows = synvidit.benchmark_render([16], [1], n_scenes=1, jobs=1, conditions="track1")
    assert rows[0]["images"] == 2 and rows[0]["images_per_second"] > 0
    assert rows[0]["conditions_per_scene"] == 2 and rows[0]["seconds_per_scene"] > 0
    assert rows[0]["cpu_model"]
    path = synvidit.append_csv(tmp_path / "b.csv", rows)
    synvidit.append_csv(path, rows)
    lines = path.read_text().splitlines()
    assert len(lines) == 3 and lines[0].startswith("benchmark,size,spp")
