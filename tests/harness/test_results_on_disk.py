"""Results you can trust on disk: a row whose files no longer match the sha256 its run.json
recorded is "edited by hand" in ``--list``, in the book's marks and in the loaders (no verdict
uses it); a row trained in another precision than this machine would use is said so plainly,
neither stale nor current."""

import json
from pathlib import Path

import nbformat
import numpy as np
import pandas as pd
import pytest

from relight_lib import cli
from relight_lib.harness import book, reproduce, results
from relight_lib.library import record, utils

REPO = Path(__file__).resolve().parents[2]
PARAMS = ('profile = "smoke"\npaper = ""\ntable = ""\nvariant = ""\nresults_root = ""\n'
          'cache_key = ""\nmethod = "a"\n')
EDITED_A = ("edited by hand: rerun or restore (seed=1: metrics.csv differs from the sha256 in "
            "its run.json)")
BF16_ON_FP32 = ("trained in bf16; this machine would train in fp32: numbers may differ within "
                "seed noise")


def _per_image(offset: float) -> pd.DataFrame:
    images = [f"img{i:02d}" for i in range(6)]
    return pd.DataFrame({"image": images,
                         "psnr": 20.0 + offset + np.linspace(0, 0.5, len(images))})


@pytest.fixture
def book_root(tmp_path, monkeypatch):
    """A one-table suite in ``tmp_path`` (cwd): rows a and b, three seeds each, all up to date."""
    d = tmp_path / "notebooks" / "demo"
    d.mkdir(parents=True)
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell(PARAMS)
    cell.metadata["tags"] = ["parameters"]
    nb.cells = [cell]
    nbformat.write(nb, d / "t1.ipynb")
    (d / "runs.yaml").write_text("tables:\n  table1:\n    notebook: t1.ipynb\n    variants:\n"
                                 "      a: {method: a}\n      b: {method: b}\n")
    (tmp_path / "book").mkdir()
    (tmp_path / "_config.yml").write_text("title: demo\n")  # a book root for book.*
    monkeypatch.chdir(tmp_path)
    book._row_states.cache_clear()
    write_rows()
    yield tmp_path
    book._row_states.cache_clear()


def write_rows(precision: dict | None = None, params: dict | None = None,
               legacy: bool = False) -> None:
    """Every row's three seeds; ``legacy``: run.json as written before it had ``precision``."""
    for row in reproduce.load_rows():
        key = reproduce.cache_key(row, "smoke",
                                  reproduce.resolved_parameters(row, "smoke", Path("results")))
        for seed in range(3):
            record.write_run("results", paper="demo", table="table1", variant=row.variant,
                             profile="smoke", seed=seed, dataset="SynVIDIT", split="validation",
                             per_image=_per_image(1.0 if row.variant == "a" else 0.0),
                             params=params or {}, cache_key=key, precision=precision)
            if legacy:
                rj = Path("results/smoke/demo/table1", row.variant, f"seed={seed}", "run.json")
                rec = json.loads(rj.read_text())
                del rec["precision"]
                rj.write_text(json.dumps(rec))
        nb = row.executed_path("smoke")
        nb.parent.mkdir(parents=True, exist_ok=True)
        nb.write_text("{}")


def states() -> dict[str, str]:
    return {r.variant: s for r, s in reproduce.row_states("smoke")}


def list_output(capsys) -> str:
    assert cli.main(["reproduce", "--profile", "smoke", "--list"]) == 0
    return capsys.readouterr().out


def edit_metrics(variant: str = "a", seed: int = 1) -> Path:
    path = Path("results/smoke/demo/table1", variant, f"seed={seed}", "metrics.csv")
    df = pd.read_csv(path)
    df.loc[df["metric"] == "psnr", "value"] += 3.0  # a "better" number typed in by hand
    df.to_csv(path, index=False, lineterminator="\n")
    return path


def test_a_hand_edited_metrics_csv_makes_its_row_edited_by_hand(book_root, capsys):
    assert states() == {"a": "up to date", "b": "up to date"}
    assert "2 row(s): 2 up to date" in list_output(capsys)
    edit_metrics("a", 1)
    assert states() == {"a": EDITED_A, "b": "up to date"}
    out = list_output(capsys)
    assert f"demo/table1/a  [{EDITED_A}]" in out and "demo/table1/b  [up to date]" in out
    assert out.strip().splitlines()[-1] == "2 row(s): 1 up to date, 1 edited by hand"
    # the book marks it (and `relight reproduce` would rerun it: it is not up to date)
    assert book.out_of_date("smoke", "demo", "table1", "a", root=book_root) == EDITED_A
    assert book.out_of_date("smoke", "demo", "table1", "b", root=book_root) is None
    (row,) = [r for r in reproduce.load_rows() if r.variant == "a"]
    key = reproduce.cache_key(row, "smoke", reproduce.resolved_parameters(row, "smoke",
                                                                         Path("results")))
    assert reproduce.staleness(row, "smoke", key, Path("results")) == EDITED_A
    # the book's table shows n/a for the row, marks it and says why
    view, notes = book.table_view("demo", "table1", ["psnr"], profile="smoke", split=None)
    assert list(view.index) == ["a ⚠", "b"]
    assert view.loc["a ⚠", "PSNR ours"].startswith("n/a") and view.loc["b", "PSNR ours"] != "n/a"
    assert f"⚠ a: {EDITED_A}; `make reproduce` reruns it" in notes
    # another reason on an earlier seed (its library record changed) does not hide the edit
    rj = Path("results/smoke/demo/table1/a/seed=0/run.json")
    rec = json.loads(rj.read_text())
    rj.write_text(json.dumps({**rec, "library_files": {"library/losses.py": "0" * 64}}))
    assert reproduce.staleness(row, "smoke", key, Path("results")) == EDITED_A


def test_a_run_without_a_readable_run_json_is_edited():
    assert record.verify_run(Path("no/such/run")).startswith(record.EDITED)


def test_verify_run_names_each_file(tmp_path):
    run = record.write_run(tmp_path, paper="demo", table="table1", variant="a", profile="smoke",
                           seed=0, dataset="SynVIDIT", split="validation",
                           per_image=_per_image(0), params={})
    assert record.verify_run(run) is None
    (run / "per_image.csv").write_text("image,metric,value\n")
    assert record.verify_run(run) == ("edited by hand: rerun or restore (seed=0: per_image.csv "
                                      "differs from the sha256 in its run.json)")
    (run / "metrics.csv").unlink()
    assert record.verify_run(run) == (
        "edited by hand: rerun or restore (seed=0: per_image.csv differs from the sha256 in its "
        "run.json; metrics.csv is missing)")
    # a run.json from before the hashes were recorded has nothing to check
    rec = json.loads((run / "run.json").read_text())
    del rec["sha256"]
    (run / "run.json").write_text(json.dumps(rec))
    assert record.verify_run(run) is None


def test_loaders_leave_an_edited_row_out_and_say_why(book_root):
    edit_metrics("a", 1)
    per_image = results.load_per_image("results", "smoke", "demo", "table1")
    # every seed of the edited row is left out (a claim must not lose its pairing silently)
    assert set(per_image["variant"]) == {"b"} and sorted(per_image["seed"].unique()) == [0, 1, 2]
    assert per_image.attrs["excluded"] == {("demo", "table1", "a"): EDITED_A}
    ours = results.load_results("results", "smoke", paper="demo", table="table1")
    a, b = ours[ours["variant"] == "a"], ours[ours["variant"] == "b"]
    assert len(a) == 3 and a["value"].isna().all() and (a["note"] == EDITED_A).all()
    assert (a["n_images"] == 0).all() and list(a["seed"]) == [0, 1, 2]
    assert len(b) == 3 and np.allclose(b["value"], 20.25)
    # no verdict uses it: the claim is not testable, and says why
    try:
        from relight_lib.harness.claims import Claim, claim_verdict
    except ImportError:  # the claims still live in results.py
        from relight_lib.harness.results import Claim, claim_verdict
    claim = Claim("a_beats_b", "a beats b", "table1", "psnr", "a", "b", paper="demo")
    verdict = claim_verdict(claim, per_image, notes=ours)
    assert verdict["verdict"] == "not testable here"
    assert EDITED_A in verdict["reason"]
    # restoring the file restores the row
    edit = Path("results/smoke/demo/table1/a/seed=1/metrics.csv")
    df = pd.read_csv(edit)
    df.loc[df["metric"] == "psnr", "value"] -= 3.0
    df.to_csv(edit, index=False, lineterminator="\n")
    assert states()["a"] == "up to date"


def test_committed_results_match_their_recorded_hashes():
    runs = sorted(p.parent for p in (REPO / "results").glob("*/*/*/*/seed=*/run.json"))
    assert runs
    assert record.edited_rows(runs) == {}


@pytest.mark.parametrize("native, used, requested, state", [
    (True, "bf16", "bf16", "up to date"),  # a committed bf16 row on the bf16 machine
    (False, "bf16", "bf16", BF16_ON_FP32),
    (True, "fp32", "bf16", "trained in fp32; this machine would train in bf16: numbers may "
                           "differ within seed noise"),
    (False, "fp32", "bf16", "up to date"),
    (True, "fp32", "fp32", "up to date"),  # fp32 asked for (the paper profile): fp32 anywhere
    (False, "fp32", "fp32", "up to date"),
])
def test_a_row_trained_in_another_precision_is_said_so(book_root, monkeypatch, capsys, native,
                                                      used, requested, state):
    write_rows(precision={"requested": requested, "used": used})
    monkeypatch.setattr(utils, "bf16_native", lambda device: native)
    assert states() == {"a": state, "b": state}
    out = list_output(capsys)
    assert f"demo/table1/a  [{state}]" in out
    # neither stale nor current: the runner leaves it, the book does not mark it
    assert book.out_of_date("smoke", "demo", "table1", "a", root=book_root) is None
    outcomes = reproduce.reproduce("smoke", render=False, log=lambda *a: None)
    assert {o.status for o in outcomes} == {"cached"}


def test_rows_written_before_the_precision_record_are_read_from_what_they_recorded(
        book_root, monkeypatch):
    # the one-to-one runner recorded the amp it used in params.train
    write_rows(params={"device": "auto", "train": {"amp": True, "steps": 10}}, legacy=True)
    for native, state in ((True, "up to date"), (False, BF16_ON_FP32)):
        monkeypatch.setattr(utils, "bf16_native", lambda device, n=native: n)
        assert states() == {"a": state, "b": state}
    # rows that train nothing have no precision to compare
    write_rows(params={"device": "auto"}, legacy=True)
    assert states() == {"a": "up to date", "b": "up to date"}


def test_committed_bf16_rows_stay_up_to_date_on_a_bf16_machine(monkeypatch):
    """Every committed trained row asked for bf16: the older quick rows trained under bf16
    autocast on an AMX CPU, the newer ones in fp32 on a CPU without native bf16. A machine
    decides from what was asked: bf16 where it runs natively, fp32 elsewhere, for every row."""
    recs = [json.loads(p.read_text()) for p in (REPO / "results/quick").glob("*/*/*/seed=*/run.json")]
    trained = [(r, record.run_precision(r)) for r in recs if record.run_precision(r) is not None]
    assert trained and all(p["requested"] == "bf16" for _, p in trained)
    assert {p["used"] for _, p in trained} <= {"bf16", "fp32"}
    for native, here in ((True, "bf16"), (False, "fp32")):
        monkeypatch.setattr(utils, "bf16_native", lambda device, n=native: n)
        assert {record.precision_here(p, r["params"].get("device", "auto"))
                for r, p in trained} == {here}
    # untrained rows (identity, colour fits) have no precision
    assert any(record.run_precision(r) is None for r in recs if r["paper"] == "baselines")


@pytest.mark.parametrize("name", ["ltnet/table2/i_d", "swapnet/table1/illumination_predicter"])
def test_both_runners_train_in_the_precision_this_machine_runs(monkeypatch, name):
    """The value each runner gates (bf16 only where native) is the one its training key hashes
    (one-to-one: ``settings["amp"]``; any-to-any: ``amp=row.amp``) and its plan shows: the
    same row gets another key, so another checkpoint, on the other kind of machine."""
    monkeypatch.chdir(REPO)
    (row,) = [r for r in reproduce.load_rows() if r.name == name]
    for native, precision in ((True, "bf16"), (False, "fp32")):
        monkeypatch.setattr(utils, "bf16_native", lambda device, n=native: n)
        assert reproduce.plan_row(row, "quick")["precision"] == precision


def test_a_row_not_run_here_has_no_precision():
    """LTNet Table 6's LPIPS rows are "not run here" on a machine without AlexNet weights: their
    run.json carries the profile's training settings but no step was trained."""
    rec = {"params": {"train": {"amp": True}}, "extra": {"train_steps": 0, "training_key": None}}
    assert record.run_precision(rec) is None
    assert record.run_precision({**rec, "extra": {"train_steps": 400}}) == {
        "requested": "bf16", "used": "bf16"}
    assert record.run_precision({**rec, "precision": None, "extra": {"train_steps": 400}}) is None


def test_relocate_paths_rewrites_text_keeps_numbers_and_rehashes(tmp_path):
    home_note = {"lpips": "weights not found in /home/someone/.cache/torch/hub/checkpoints"}
    run = record.write_run(tmp_path, paper="demo", table="table1", variant="a", profile="smoke",
                           seed=0, dataset="SynVIDIT", split="validation",
                           per_image=_per_image(0), params={"data": "/home/someone/repo/data"},
                           notes=home_note)
    before = pd.read_csv(run / "metrics.csv")
    changed = record.relocate_paths(run, {"/home/someone/repo/": "", "/home/someone/": "~/"})
    assert "run.json" in changed
    for name in ("run.json", "metrics.csv"):
        assert "/home/someone" not in (run / name).read_text()
    rec = json.loads((run / "run.json").read_text())
    assert rec["params"]["data"] == "data"
    assert "~/.cache/torch/hub/checkpoints" in rec["notes"]["lpips"]
    assert record.verify_run(run) is None  # the hashes were recorded again
    after = pd.read_csv(run / "metrics.csv")
    pd.testing.assert_series_equal(before["value"], after["value"])
    assert record.relocate_paths(run, {"/home/someone/": "~/"}) == []  # nothing left to do


def test_relocate_paths_refuses_an_edited_run_and_a_change_of_numbers(tmp_path):
    run = record.write_run(tmp_path, paper="demo", table="table1", variant="a", profile="smoke",
                           seed=0, dataset="SynVIDIT", split="validation",
                           per_image=_per_image(0), params={})
    value = str(pd.read_csv(run / "metrics.csv")["value"].iloc[0])
    with pytest.raises(ValueError, match="would change its numbers"):
        record.relocate_paths(run, {value: "1"})
    assert record.verify_run(run) is None  # nothing was written
    (run / "per_image.csv").write_text("image,metric,value\n")
    with pytest.raises(ValueError, match="edited by hand"):
        record.relocate_paths(run, {"x": "y"})
