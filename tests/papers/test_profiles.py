import pytest

from relight_lib.papers import profiles


def test_profiles_follow_the_architecture():
    assert profiles.list_profiles() == ["smoke", "quick", "gpu", "paper"]
    sizes = [profiles.PROFILES[p].size for p in profiles.list_profiles()]
    assert sizes == [64, 64, 256, 1024]
    assert len(profiles.PROFILES["gpu"].seeds) == 3 and len(profiles.PROFILES["quick"].seeds) == 3
    assert profiles.PROFILES["paper"].amp is False  # the papers trained in fp32
    assert profiles.PROFILES["paper"].allow_random_backbone is False
    assert all(profiles.PROFILES[p].allow_random_backbone for p in ("smoke", "quick", "gpu"))


def test_resolve_overrides_and_errors(monkeypatch):
    p = profiles.resolve("quick", size=96, seeds=[1, 2], data_root=None)
    assert (p.size, p.seeds, p.render_preset) == (96, (1, 2), "quick")
    real = profiles.resolve("quick", data_root="/data/vidit")
    assert real.track1_root == real.any2any_root == "/data/vidit" and real.render_preset is None
    with pytest.raises(TypeError, match="sise"):
        profiles.resolve("quick", sise=96)
    with pytest.raises(KeyError, match="huge"):
        profiles.resolve("huge")
    monkeypatch.delenv("RELIGHT_VIDIT", raising=False)
    with pytest.raises(ValueError, match="RELIGHT_VIDIT"):
        profiles.resolve("paper")
    monkeypatch.setenv("RELIGHT_VIDIT", "/vidit")
    assert profiles.resolve("paper").track1_root == "/vidit"


def test_to_dict_is_json_ready():
    import json

    d = profiles.resolve("smoke").to_dict()
    assert json.loads(json.dumps(d))["seeds"] == [0]


def test_data_identity_needs_no_files():
    ident = profiles.data_identity(profiles.resolve("quick"))
    assert set(ident) == {"quick-track1", "quick-any2any"}
    assert ident["quick-track1"]["size"] == 64


def test_gpu_switches_and_timing_flags():
    assert profiles.PROFILES["gpu"].amp and profiles.PROFILES["gpu"].channels_last
    # quick asks for bf16 too (used only where the CPU runs it natively); paper and smoke: fp32
    assert profiles.PROFILES["quick"].amp and not profiles.PROFILES["paper"].amp
    assert not profiles.PROFILES["smoke"].amp
    assert not profiles.PROFILES["smoke"].time_1024 and profiles.PROFILES["quick"].time_1024


def test_data_manifest_hash(tmp_path):
    p = profiles.resolve("quick", data_root=str(tmp_path))
    assert profiles.data_manifest_sha256(p) is None
    (tmp_path / "manifest.json").write_text("{}")
    h = profiles.data_manifest_sha256(p)
    assert h is not None and len(h) == 64
    (tmp_path / "manifest.json").write_text('{"x": 1}')
    assert profiles.data_manifest_sha256(p) != h


def test_ensure_data_renders_and_replaces_outdated_sets(tmp_path, monkeypatch, capsys):
    pytest.importorskip("mitsuba")
    import json

    from relight_lib.library.data import synvidit

    tiny = synvidit.RenderConfig(n_scenes=3, size=16, spp=1, conditions=("6500_N", "4500_E"))
    monkeypatch.setattr(profiles, "DATA_DIR", tmp_path)
    monkeypatch.setitem(synvidit.PRESETS, "smoke", {"tiny": tiny})
    prof = profiles.resolve("smoke", track1_root=str(tmp_path / "tiny"),
                            any2any_root=str(tmp_path / "tiny"))
    profiles.ensure_data(prof, jobs=1, progress=False)
    manifest = tmp_path / "tiny" / "manifest.json"
    m = json.loads(manifest.read_text())
    m["params"]["generator_version"] = -1  # as if rendered by an older generator
    manifest.write_text(json.dumps(m))
    profiles.ensure_data(prof, jobs=1, progress=False)
    assert "rendering it again" in capsys.readouterr().out
    assert json.loads(manifest.read_text())["params"] == tiny.identity()


def test_short_budgets_are_each_papers_own_and_listed():
    from relight_lib.papers import mbnet, msrnet
    from relight_lib.papers.ltnet import recipe

    lt = recipe.ltnet_row()["short_budgets"]
    b = profiles.short_budget("quick", lt)
    assert b["schedule"] == "warmup_cosine" and b["lr"] == 1e-3 and b["steps"] == 800
    assert "train_scale" not in b
    # MSR-Net's two networks share one recipe (rows of one table) and train at the eval size
    dm = profiles.short_budget("quick", msrnet.msrnet_row("dmshn", "mse")["short_budgets"])
    st = profiles.short_budget("quick", msrnet.msrnet_row("stacked_dmshn", "cl")["short_budgets"])
    assert dm == st and dm["lr"] == 3e-4 and dm["train_scale"] == 1.0
    assert "0.5 x" in profiles.train_scale_deviation("quick", "dmshn", 0.5, 1.0)
    assert profiles.short_budget("paper", lt) is None  # the paper keeps its schedule
    assert profiles.short_budget("quick") is None  # no recipe of the paper's: the profile's budget
    assert profiles.short_budget("smoke", lt) == profiles.SMOKE_BUDGET
    # MBNet's short budget is in epochs of each row's own pairs: its steps are the row's
    mb = profiles.short_budget("quick", mbnet.mbnet_row(profile="quick")["short_budgets"])
    assert mb["seeds"] == 1
    dev = profiles.short_budget_deviation("quick", mb)
    assert f"{mb['steps']} steps of batch 8" in dev and "cosine" in dev and "1e-06" in dev
    assert "same schedule for every row" in dev  # not the same steps: MBNet's differ per row


def test_quick_renders_vidits_split_at_64_px():
    from relight_lib.library.data import layout, synvidit

    cfg = synvidit.PRESETS["quick"]["quick-track1"]
    assert cfg.size == 64 and layout.split_counts(cfg.n_scenes) == {
        "train": 300, "validation": 45, "test": 45}
