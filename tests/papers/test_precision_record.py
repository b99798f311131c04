"""A trained one-to-one row records the precision it asked for and the one it used (bf16 only
where native); a row that trains nothing records none. ``relight reproduce --list`` compares
the record with this machine (tests/harness/test_results_on_disk.py)."""

import json

import pytest

from relight_lib.library import utils
from relight_lib.library.data import synvidit
from relight_lib.papers import onetoone


@pytest.fixture(scope="module")
def data_root(tmp_path_factory):
    pytest.importorskip("mitsuba")
    root = tmp_path_factory.mktemp("prec") / "set"
    synvidit.render_dataset(root, synvidit.RenderConfig(
        n_scenes=4, size=16, spp=1, seed=2, conditions=("6500_N", "4500_E")), progress=False)
    return root


@pytest.mark.parametrize("native, amp, want", [
    (False, True, {"requested": "bf16", "used": "fp32"}),
    (True, True, {"requested": "bf16", "used": "bf16"}),
    (True, False, {"requested": "fp32", "used": "fp32"}),
])
def test_a_trained_row_records_its_precision(tmp_path, data_root, monkeypatch, native, amp, want):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(utils, "bf16_native", lambda device: native)
    onetoone.run_one_to_one(paper="demo", table="t1", variant="v", profile="smoke",
                            results_root="results", model="tiny_unet",
                            model_kwargs={"width": 4}, loss=[{"name": "l1"}],
                            data_root=str(data_root), steps=1, amp=amp)
    rec = json.loads((tmp_path / "results/smoke/demo/t1/v/seed=0/run.json").read_text())
    assert rec["precision"] == want
    assert rec["params"]["train"]["amp"] == (want["used"] == "bf16")


def test_a_row_that_trains_nothing_records_no_precision(tmp_path, data_root, monkeypatch):
    monkeypatch.chdir(tmp_path)
    onetoone.run_baseline(paper="demo", table="t1", variant="id", profile="smoke",
                          results_root="results", method="identity", data_root=str(data_root))
    rec = json.loads((tmp_path / "results/smoke/demo/t1/id/seed=0/run.json").read_text())
    assert rec["precision"] is None
