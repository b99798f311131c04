"""Progress of a row's run: fit's status file, the line on a terminal, one line per finished
seed elsewhere, ``try --params`` and the budget parameters ``--set`` reaches."""

import io
import json
import os

import pytest
import torch

from relight_lib import cli
from relight_lib.harness import progress, reproduce
from relight_lib.library import train
from relight_lib.library.models import build_model

# --------------------------------------------------------------------------------------------
# the status file


def test_status_is_written_atomically_and_read_back(tmp_path):
    path = tmp_path / "status.json"
    status = train.ProgressStatus(path, interval=3600)
    assert train.read_progress(path) is None  # nothing yet
    assert status.update(seed=2, step=0, total=10)  # the first write is never held back
    assert not status.update(step=1)  # within the interval: kept, not written
    assert train.read_progress(path)["step"] == 0
    assert status.update(force=True, step=5, val_psnr=18.5)
    got = train.read_progress(path)
    assert {k: got[k] for k in ("seed", "step", "total", "val_psnr")} == \
        {"seed": 2, "step": 5, "total": 10, "val_psnr": 18.5}
    assert isinstance(got["time"], float)
    assert [p.name for p in tmp_path.iterdir()] == ["status.json"]  # no temp file left


def test_a_half_written_or_missing_status_reads_as_none(tmp_path):
    (tmp_path / "half.json").write_text('{"seed": 0, "st')
    (tmp_path / "list.json").write_text("[1, 2]")
    for name in ("half.json", "list.json", "missing.json"):
        assert train.read_progress(tmp_path / name) is None


def test_a_status_that_cannot_be_written_does_not_stop_training(tmp_path):
    status = train.ProgressStatus(tmp_path / "gone" / "status.json")
    assert status.update(force=True, step=1) is False


def _pairs(n=4, size=16):
    g = torch.Generator().manual_seed(0)
    return [{"input": torch.rand(3, size, size, generator=g),
             "target": torch.rand(3, size, size, generator=g)} for _ in range(n)]


def _l1(pred, batch):
    return (pred - batch["target"]).abs().mean()


def test_fit_writes_its_progress_where_the_environment_says(tmp_path, monkeypatch):
    path = tmp_path / "status.json"
    monkeypatch.setenv(train.PROGRESS_ENV, str(path))
    torch.manual_seed(0)
    cfg = train.TrainConfig(steps=4, batch_size=2, lr=1e-3, device="cpu", seed=7, val_every=2,
                            schedule_offset=4, schedule_total=8)
    res = train.fit(build_model("tiny_unet", width=4), _l1, _pairs(), _pairs(2), cfg,
                    progress=False, progress_info={"stage": "stage2"})
    got = train.read_progress(path)
    # the second stage of an 8-step curve: steps 5..8 of 8
    assert {k: got[k] for k in ("seed", "stage", "step", "total", "fit_start_step", "phase")} \
        == {"seed": 7, "stage": "stage2", "step": 8, "total": 8, "fit_start_step": 4,
            "phase": "trained"}
    last_val = [h["val_psnr"] for h in res.history if "val_psnr" in h][-1]
    assert got["val_psnr"] == pytest.approx(last_val)
    assert got["fit_elapsed_s"] > 0


def test_fit_writes_no_status_without_the_environment(tmp_path, monkeypatch):
    monkeypatch.delenv(train.PROGRESS_ENV, raising=False)
    monkeypatch.chdir(tmp_path)
    cfg = train.TrainConfig(steps=1, batch_size=2, device="cpu")
    train.fit(build_model("tiny_unet", width=4), _l1, _pairs(), None, cfg, progress=False)
    assert list(tmp_path.iterdir()) == []


# --------------------------------------------------------------------------------------------
# the line


def test_durations_and_eta():
    assert [progress.format_duration(s) for s in (0.4, 59.4, 60, 125, 7260)] == \
        ["0s", "59s", "1m00s", "2m05s", "2h01m"]
    status = {"step": 300, "total": 800, "fit_start_step": 0, "fit_elapsed_s": 120.0,
              "time": 5000.0}
    assert progress.eta_seconds(status) == pytest.approx(200.0)  # 0.4 s/step, 500 left
    assert progress.eta_seconds(status, now=5050.0) == pytest.approx(150.0)  # counts down
    assert progress.eta_seconds(status, now=9999.0) == 0.0  # never below zero
    assert progress.eta_seconds({"step": 3, "total": 8}) is None  # no rate yet


def test_the_line_shows_seed_stage_step_elapsed_eta_and_val_psnr():
    status = {"seed": 2, "stage": "stage1_l2", "step": 300, "total": 800,
              "fit_start_step": 0, "fit_elapsed_s": 120.0, "val_psnr": 18.4249,
              "phase": "train"}
    line = progress.format_line("msrnet/table2/dmshn_cl", status, 130)
    assert line == ("msrnet/table2/dmshn_cl  seed 2  stage1_l2  step 300/800  elapsed 2m10s  "
                    "ETA 3m20s  val PSNR 18.42 dB")
    done = {**status, "step": 800, "phase": "trained"}
    assert "evaluating" in progress.format_line("r", done, 1)
    assert "ETA" not in progress.format_line("r", done, 1)
    # between the stages of one training: not yet evaluating
    between = {**status, "step": 400, "phase": "trained"}
    assert "ETA" in progress.format_line("r", between, 1)


# --------------------------------------------------------------------------------------------
# the watcher


class _Tty(io.StringIO):
    def isatty(self):
        return True


def _write_run(result_dir, seed):
    d = result_dir / f"seed={seed}"
    d.mkdir(parents=True, exist_ok=True)
    (d / "run.json").write_text(json.dumps({"seed": seed}))
    # a rerun within the same second must still look new
    os.utime(d / "run.json", (os.path.getmtime(d / "run.json") + seed + 1,) * 2)


def test_without_a_terminal_one_line_per_finished_seed(tmp_path, monkeypatch):
    monkeypatch.setattr(progress, "POLL_S", 3600)  # polled by hand only
    result_dir = tmp_path / "row"
    _write_run(result_dir, 0)  # from an earlier run: not news
    out = io.StringIO()
    with progress.RowWatch("a/b/c", result_dir, stream=out) as watch:
        assert os.environ[train.PROGRESS_ENV] == str(watch.status_path)
        train.ProgressStatus(watch.status_path).update(seed=0, step=4, total=4,
                                                       val_psnr=17.25, phase="trained")
        assert watch.poll() == []
        _write_run(result_dir, 0)  # rewritten by this run (--force)
        assert len(watch.poll()) == 1
        assert watch.poll() == []  # said once
        _write_run(result_dir, 1)
    assert train.PROGRESS_ENV not in os.environ
    assert not watch.status_path.exists()  # the status folder is removed
    lines = out.getvalue().splitlines()
    assert len(lines) == 2 and "\r" not in out.getvalue()
    assert lines[0].startswith("a/b/c  seed 0 done in ")
    assert lines[0].endswith("(4 steps, last val PSNR 17.25 dB)")
    assert lines[1].startswith("a/b/c  seed 1 done in ")  # found by the poll on exit


def test_on_a_terminal_one_line_redrawn_in_place(tmp_path, monkeypatch):
    monkeypatch.setattr(progress, "POLL_S", 3600)
    out = _Tty()
    with progress.RowWatch("a/b/c", tmp_path / "row", stream=out) as watch:
        assert watch.live
        watch.poll()
        status = train.ProgressStatus(watch.status_path)
        status.update(seed=0, step=2, total=4, fit_start_step=0, fit_elapsed_s=1.0)
        watch.poll()
        status.update(force=True, step=4, phase="trained")
        watch.poll()
        _write_run(tmp_path / "row", 0)
        watch.poll()
        # the finished seed's status is over until the next seed writes its own
        assert out.getvalue().endswith("\ra/b/c  1 seed(s) done  elapsed 0s  (next seed, or "
                                       "the notebook's last cells)")
        status.update(force=True, seed=1, step=4, total=4, phase="trained")
        watch.poll()
        assert out.getvalue().rstrip().endswith(
            "\ra/b/c  seed 1  train  step 4/4  elapsed 0s  evaluating")
    text = out.getvalue()
    assert "\ra/b/c  running, no training status yet" in text
    assert "\ra/b/c  seed 0  train  step 2/4" in text
    assert "\ra/b/c  seed 0  train  step 4/4" in text and "evaluating" in text
    assert "\na/b/c  seed 0 done in" not in text  # the seed's line starts on a wiped line
    assert "a/b/c  seed 0 done in" in text and text.count("\n") == 1
    assert text.endswith("\r")  # the live line is wiped at the end


def test_parallel_rows_leave_the_environment_alone(tmp_path, monkeypatch):
    monkeypatch.setattr(progress, "POLL_S", 3600)
    monkeypatch.delenv(train.PROGRESS_ENV, raising=False)
    with progress.RowWatch("a/b/c", tmp_path, stream=io.StringIO(), status_env=False) as w:
        assert train.PROGRESS_ENV not in os.environ and w.status_path is None


# --------------------------------------------------------------------------------------------
# the runner: no kernel noise, the data render announced


def test_the_kernel_spec_silences_the_kernel_apps_warnings():
    import sys
    from pathlib import Path

    spec = json.loads((Path(sys.prefix) / "share/jupyter/kernels" / reproduce.ensure_kernel()
                       / "kernel.json").read_text())
    assert "--IPKernelApp.log_level=CRITICAL" in spec["argv"]


def test_a_render_is_announced_with_its_estimated_time(monkeypatch):
    calls = []

    def fake(prof, dry_run=False, log=print, **kw):
        calls.append(dry_run)
        if not dry_run:
            log("data/synvidit/x: missing; rendering: 10 scenes")
        return [{"folder": "x", "state": "missing", "estimate_s": 90.0},
                {"folder": "y", "state": "complete", "estimate_s": 30.0},
                {"folder": "z", "state": "incomplete", "estimate_s": 30.0}]

    monkeypatch.setattr(reproduce.profiles, "ensure_data", fake)
    said = []
    reproduce.render_data(reproduce.profiles.resolve("smoke"), said.append)
    assert calls == [True, False]  # asked first, then rendered
    assert said[0].startswith("[data] the smoke profile needs 2 SynVIDIT set(s) rendered")
    assert "about 2.0 min" in said[0]
    assert said[1].startswith("data/synvidit/x: missing")


def test_nothing_is_announced_when_the_data_is_there(monkeypatch):
    monkeypatch.setattr(reproduce.profiles, "ensure_data",
                        lambda prof, **kw: [{"folder": "x", "state": "complete",
                                             "estimate_s": 1.0}])
    said = []
    assert reproduce.render_data(reproduce.profiles.resolve("smoke"), said.append) == []
    assert said == []


# --------------------------------------------------------------------------------------------
# try --params and the budget parameters


def test_set_reads_exponent_numbers_as_numbers():
    assert reproduce.parse_set(["lr=1e-3", "lr2=2.5E+2", "name=1e3x"]) == \
        {"lr": 1e-3, "lr2": 250.0, "name": "1e3x"}


def test_try_params_lists_every_parameter_with_its_value(capsys):
    assert cli.main(["try", "msrnet/table2/dmshn_mse", "--params", "--profile", "smoke",
                     "--set", "lr=2e-3"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("msrnet/table2/dmshn_mse: parameters of notebooks/msrnet/table2")
    rows = {line.split()[0]: line for line in out[1:]}
    (row,) = reproduce.select_rows(reproduce.load_rows(), "msrnet", "table2", "dmshn_mse")
    assert set(rows) == set(reproduce.settable_parameters(row))
    assert {"steps", "lr", "batch_size"} <= set(rows)
    assert rows["model"].split()[1:3] == ["dmshn", "[runs.yaml]"]
    assert rows["lr"].split()[1:3] == ["0.002", "[--set]"]
    assert rows["steps"].split()[1:4] == ["null", "(smoke:", "4)"]  # the smoke budget
    assert "[notebook]" in rows["stage1_fraction"] and "0.5" in rows["stage1_fraction"]


def test_every_training_notebook_takes_steps_and_lr():
    for row in reproduce.load_rows():
        names = set(reproduce.settable_parameters(row))
        if row.paper != "baselines":  # the baselines train nothing
            assert {"steps", "lr"} <= names, row.name
        if row.paper not in ("baselines", "swapnet"):  # run_any_to_any has no batch size yet
            assert "batch_size" in names, row.name


def test_set_lr_steps_and_batch_size_reach_a_one_to_one_rows_plan():
    _, tried = reproduce.try_row_for("msrnet/table2/dmshn_mse",
                                     {"lr": 2e-3, "steps": 6, "batch_size": 3})
    params = reproduce.resolved_parameters(tried, "smoke", reproduce.EXERCISES_DIR)
    assert {k: params[k] for k in ("lr", "steps", "batch_size")} == \
        {"lr": 2e-3, "steps": 6, "batch_size": 3}
    plan = reproduce.plan_row(tried, "smoke")
    assert plan["steps"] == 6 and plan["batch_size"] == 3
    assert max(lr for _, lr in plan["lr_schedule"]) == pytest.approx(2e-3)
    # the smoke recipe's schedule keeps its shape: lr 1e-3 -> 1e-5 becomes 2e-3 -> 2e-5
    assert min(lr for _, lr in plan["lr_schedule"]) >= 2e-5 * (1 - 1e-9)
    assert any("6 steps of batch 3" in d and "to 0.002" in d for d in plan["deviations"])
    committed, _ = reproduce.try_row_for("msrnet/table2/dmshn_mse", {})
    assert reproduce.effective_budget(committed, "smoke") == \
        {"steps": 4, "batch_size": 2, "lr": 1e-3}
