"""record.finished_run and record.kept_seed: which seeds of a row a rerun may keep instead of
running again."""

import json

import numpy as np
import pandas as pd
import pytest

from relight_lib.library import record

KEY = "k" * 64
WHERE = dict(profile="smoke", paper="demo", table="t1", variant="v", seed=2)


def _write(root, *, trained: bool, key: str = KEY, per_image=None):
    per_image = per_image if per_image is not None else pd.DataFrame(
        {"image": ["007", "010"], "metric": "psnr", "value": [20.0, np.nan]})
    out = record.write_run(root, **WHERE, dataset="SynVIDIT", split="test",
                           per_image=per_image, params={"seeds": [0, 1, 2]}, cache_key=key,
                           extra={"train_steps": 3 if trained else 0})
    if trained:  # what the runners write after write_run
        (out / "history.csv").write_text("step,loss\n1,0.5\n")
        (out / "figures").mkdir()
        (out / "figures" / "examples.png").write_bytes(b"png")
    return out


def test_a_finished_seed_with_the_same_key_is_read_back(tmp_path):
    _write(tmp_path, trained=True)
    got = record.finished_run(tmp_path, **WHERE, cache_key=KEY)
    assert list(got.columns) == list(record.PER_IMAGE_COLUMNS)
    assert got["image"].tolist() == ["007", "010"]  # names stay strings
    assert got["value"].iloc[0] == 20.0 and np.isnan(got["value"].iloc[1])
    summ = record.seed_summary(got, 2)
    assert summ.to_dict("records") == [{"metric": "psnr", "mean": 20.0, "std": pytest.approx(
        np.nan, nan_ok=True), "count": 1, "seed": 2}]


@pytest.mark.parametrize("key", ["", None, "other"])
def test_another_or_no_key_never_matches(tmp_path, key):
    _write(tmp_path, trained=False)
    assert record.finished_run(tmp_path, **WHERE, cache_key=key) is None


def test_no_run_or_a_broken_run_json_is_not_finished(tmp_path):
    assert record.finished_run(tmp_path, **WHERE, cache_key=KEY) is None
    out = _write(tmp_path, trained=False)
    (out / "run.json").write_text("{not json")
    assert record.finished_run(tmp_path, **WHERE, cache_key=KEY) is None


def test_a_run_edited_by_hand_is_run_again(tmp_path):
    out = _write(tmp_path, trained=False)
    assert record.finished_run(tmp_path, **WHERE, cache_key=KEY) is not None
    (out / "metrics.csv").write_text((out / "metrics.csv").read_text().replace("20.0", "21.0"))
    assert record.finished_run(tmp_path, **WHERE, cache_key=KEY) is None


def test_a_changed_or_unrecorded_library_file_means_run_again(tmp_path):
    out = _write(tmp_path, trained=False)
    rec = json.loads((out / "run.json").read_text())
    assert rec["library_files"]  # this test process imported record.py at least
    rel = next(iter(rec["library_files"]))
    (out / "run.json").write_text(json.dumps(
        {**rec, "library_files": {**rec["library_files"], rel: "0" * 64}}))
    assert record.finished_run(tmp_path, **WHERE, cache_key=KEY) is None
    (out / "run.json").write_text(json.dumps({**rec, "library_files": {}}))
    assert record.finished_run(tmp_path, **WHERE, cache_key=KEY) is None
    (out / "run.json").write_text(json.dumps(rec))
    assert record.finished_run(tmp_path, **WHERE, cache_key=KEY) is not None


@pytest.mark.parametrize("lose", ["history.csv", "figures"])
def test_a_trained_run_stopped_before_its_curve_or_figures_is_run_again(tmp_path, lose):
    import shutil

    out = _write(tmp_path, trained=True)
    assert record.finished_run(tmp_path, **WHERE, cache_key=KEY) is not None
    target = out / lose
    shutil.rmtree(target) if target.is_dir() else target.unlink()
    assert record.finished_run(tmp_path, **WHERE, cache_key=KEY) is None


def test_changed_files_names_edited_and_vanished_files_and_honours_skip(tmp_path):
    out = _write(tmp_path, trained=False)
    recorded = json.loads((out / "run.json").read_text())["library_files"]
    assert record.changed_files(recorded) == []
    rel = sorted(recorded)[0]
    edited = {**recorded, rel: "0" * 64, "library/gone.py": "1" * 64}
    assert record.changed_files(edited) == sorted([rel, "library/gone.py"])
    assert record.changed_files(edited, skip=(rel,)) == ["library/gone.py"]


def _companion(root, variant, value):
    per = pd.DataFrame({"image": ["007"], "metric": "light_loss", "value": [value]})
    return record.write_run(root, **{**WHERE, "table": "predicter", "variant": variant},
                            dataset="SynVIDIT", split="test", per_image=per,
                            params={"seeds": [0, 1, 2]}, cache_key=KEY)


def test_kept_seed_needs_every_run_and_summarises_the_first(tmp_path, capsys, monkeypatch):
    where = dict(profile="smoke", paper="demo", seed=2, cache_key=KEY)
    runs = [("t1", "v"), ("predicter", "temperature"), ("predicter", "direction")]
    _write(tmp_path, trained=True)
    _companion(tmp_path, "temperature", 0.3)
    assert record.kept_seed(tmp_path, runs=runs, **where) is None  # direction missing
    assert capsys.readouterr().out == ""
    _companion(tmp_path, "direction", 0.4)
    got = record.kept_seed(tmp_path, runs=runs, **where)
    assert got.to_dict("records") == [{"metric": "psnr", "mean": 20.0, "std": pytest.approx(
        np.nan, nan_ok=True), "count": 1, "seed": 2}]  # the row's own run, not a companion
    said = capsys.readouterr().out
    assert "seed 2: finished by an earlier run" in said and "demo/t1/v/seed=2" in said

    # the check stops at the first missing run: the ones after it are never read
    looked = []
    real = record.finished_run
    monkeypatch.setattr(record, "finished_run",
                        lambda root, **kw: looked.append(kw["variant"]) or (
                            None if kw["variant"] == "v" else real(root, **kw)))
    assert record.kept_seed(tmp_path, runs=runs, **where) is None
    assert looked == ["v"]


def test_kept_seed_without_runs_is_an_error(tmp_path):
    with pytest.raises(ValueError, match="no runs"):
        record.kept_seed(tmp_path, profile="smoke", paper="demo", runs=[], seed=0,
                         cache_key=KEY)


def test_a_changed_plateau_test_keeps_the_finished_seed(tmp_path):
    """As for the runner's staleness: the reading files judge a stored curve, so editing them
    (``library/convergence.py``) keeps the seeds a row finished."""
    out = _write(tmp_path, trained=True)
    rec = json.loads((out / "run.json").read_text())
    files = {**rec["library_files"], **{rel: "0" * 64 for rel in record.READING_FILES}}
    (out / "run.json").write_text(json.dumps({**rec, "library_files": files}))
    assert record.finished_run(tmp_path, **WHERE, cache_key=KEY) is not None
