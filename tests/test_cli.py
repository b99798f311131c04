"""The ``relight`` command, run in-process through ``main(argv)`` and once as a real console
script."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from relight_lib import cli


@pytest.fixture(scope="module")
def small_set(tmp_path_factory):
    pytest.importorskip("mitsuba")
    root = tmp_path_factory.mktemp("cli") / "set"
    rc = cli.main(["render", str(root), "--scenes", "3", "--size", "16", "--spp", "1",
                   "--conditions", "track1,mbnet", "--jobs", "1", "--no-progress"])
    assert rc == 0
    return root


@pytest.mark.render
def test_render_custom_set(small_set, capsys):
    m = json.loads((small_set / "manifest.json").read_text())
    assert m["params"]["conditions"] == ["4500_E", "4500_W", "6500_N", "6500_NE"]
    assert len(m["files"]) == 3 * (4 + 1 + 3)
    # a second run finds everything complete
    rc = cli.main(["render", str(small_set), "--scenes", "3", "--size", "16", "--spp", "1",
                   "--conditions", "track1,mbnet", "--jobs", "1", "--no-progress"])
    assert rc == 0
    assert "0 scenes rendered, 3 already complete" in capsys.readouterr().out


@pytest.mark.render
def test_render_refuses_other_parameters(small_set, capsys):
    rc = cli.main(["render", str(small_set), "--scenes", "3", "--size", "20", "--spp", "1",
                   "--conditions", "track1,mbnet", "--no-progress"])
    assert rc == 2
    err = capsys.readouterr().err
    assert "manifest.json" in err and "size" in err and "--force" in err


@pytest.mark.render
def test_check_data_clean_and_damaged(small_set, tmp_path, capsys):
    assert cli.main(["check-data", str(small_set)]) == 0
    damaged = tmp_path / "damaged"
    shutil.copytree(small_set, damaged)
    victim = damaged / "any2any" / "train" / "Image000_6500_NE.png"
    victim.write_bytes(b"not a png")
    capsys.readouterr()
    assert cli.main(["check-data", str(damaged)]) == 1
    assert "Image000_6500_NE.png" in capsys.readouterr().out


def test_usage_errors(capsys):
    with pytest.raises(SystemExit, match="output folder or --preset"):
        cli.main(["render"])
    with pytest.raises(SystemExit):
        cli.main(["render", "--preset", "huge"])
    assert cli.main(["render", "/tmp/x", "--conditions", "sunset", "--no-progress"]) == 2
    assert "sunset" in capsys.readouterr().err


def test_render_preset_dry_run_lists_each_seeds_sets(tmp_path, capsys, monkeypatch):
    from relight_lib.library.data import synvidit

    monkeypatch.setattr(synvidit, "render_dataset",
                        lambda *a, **k: pytest.fail("a dry run rendered"))
    rc = cli.main(["render", "--preset", "quick", "--seeds", "0,4", "--data-dir",
                   str(tmp_path), "--dry-run"])
    out = capsys.readouterr().out.splitlines()
    assert rc == 0 and len(out) == 4
    assert out[0].startswith(f"{tmp_path / 'quick-s0-track1'}: missing; 495 scenes "
                             "(300 / 45 / 150 train / validation / test), scene seed "
                             f"{synvidit.scene_seed('quick', 'track1', 0)}")
    assert str(tmp_path / "quick-s4-any2any") in out[3]
    rc = cli.main(["render", "--preset", "quick", "--scene-seed", "fixed", "--data-dir",
                   str(tmp_path), "--dry-run"])
    out = capsys.readouterr().out
    assert str(tmp_path / "quick-track1") in out and "scene seed 0," in out
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(SystemExit, match="--seeds"):
        cli.main(["render", "--preset", "quick", "--seeds", "0,x", "--dry-run"])
    with pytest.raises(SystemExit, match="go with --preset"):
        cli.main(["render", str(tmp_path / "x"), "--seeds", "1"])


def test_console_script_installed():
    exe = Path(sys.executable).with_name("relight")
    out = subprocess.run([str(exe), "--help"], capture_output=True, text=True, check=True).stdout
    for command in ("render", "check-data", "contact-sheet", "bench-render"):
        assert command in out


@pytest.mark.parametrize("command, says", [
    ("bench", "the rows measured so far are written"),
    ("render", "finished scenes are kept"),
    ("check-data", None),
])
def test_interrupt_message_names_what_is_kept(monkeypatch, capsys, command, says):
    def interrupted(args):
        raise KeyboardInterrupt

    monkeypatch.setitem(cli.COMMANDS, command, interrupted)
    argv = {"bench": ["bench"], "render": ["render", "--preset", "smoke"],
            "check-data": ["check-data", "somewhere"]}[command]
    assert cli.main(argv) == 130
    err = capsys.readouterr().err
    assert err.startswith(f"relight {command}: interrupted")
    if says:
        assert says in err
    else:
        assert err.strip() == f"relight {command}: interrupted"


def test_bench_setting_label_reaches_every_row(tmp_path):
    out = tmp_path / "b.csv"
    rc = cli.main(["bench", "--models", "tiny_unet", "--sizes", "32", "--repeats", "1",
                   "--warmup", "1", "--train-steps", "0", "--setting", "compile-check",
                   "--device", "cpu", "--out", str(out), "--no-progress"])
    assert rc == 0
    import csv

    rows = list(csv.DictReader(out.open()))
    assert rows and {r["setting"] for r in rows} == {"compile-check"}


@pytest.mark.parametrize("argv", [["reproduce", "--profile", "laptop", "--list"],
                                  ["reproduce", "--profile", "laptop", "--dry-run"],
                                  ["reproduce", "--profile", "laptop"]])
def test_an_unknown_profile_is_an_error_everywhere(argv, capsys):
    assert cli.main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err == ("relight reproduce: error: unknown profile 'laptop'; choose from smoke, "
                   "quick, gpu, paper")


def test_predict_checks_the_output_path_before_running(tmp_path, capsys):
    base = ["predict", "--checkpoint", str(tmp_path / "missing.pt"), "--image",
            str(tmp_path / "in.png")]
    assert cli.main(base + ["--out", str(tmp_path / "nowhere" / "out.png")]) == 2
    err = capsys.readouterr().err
    assert "--out" in err and "nowhere" in err and "does not exist" in err
    assert len(err.strip().splitlines()) == 1
    assert cli.main(base + ["--out", str(tmp_path)]) == 2
    assert "is a folder" in capsys.readouterr().err
