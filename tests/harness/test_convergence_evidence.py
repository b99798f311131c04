"""Convergence evidence in the harness: verdicts recomputed from stored curves, the budget-check
rows (``<variant>__x2``) and what the book shows of them."""

from pathlib import Path

import nbformat
import pandas as pd
import pytest
import yaml

from relight_lib.harness import book, reproduce, results
from relight_lib.library import record

REPO = Path(__file__).resolve().parents[2]
PARAMS = ('profile = "smoke"\npaper = ""\ntable = ""\nvariant = ""\nresults_root = ""\n'
          'cache_key = ""\nwidth = 1\nseeds = None\nbudget_scale = 1\n')


def _notebooks(root: Path, budget_checks: str | None) -> Path:
    d = root / "notebooks" / "demo"
    d.mkdir(parents=True)
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell(PARAMS)
    cell.metadata["tags"] = ["parameters"]
    nb.cells = [cell]
    nbformat.write(nb, d / "t.ipynb")
    (d / "runs.yaml").write_text(
        "tables:\n  table1:\n    notebook: t.ipynb\n    reference: a\n    variants:\n"
        "      a: {width: 2}\n      b: {width: 3, only_profiles: [gpu], why: slow}\n")
    if budget_checks is not None:
        (root / "notebooks" / "budget_checks.yaml").write_text(budget_checks)
    return root / "notebooks"


def test_budget_check_rows_double_one_seed_of_the_listed_row(tmp_path):
    nbdir = _notebooks(tmp_path, "scale: 2\nseed: 1\nprofiles: [quick, gpu]\n"
                                 "rows: [demo/table1/a, demo/table1/b]\n")
    assert [r.variant for r in reproduce.load_rows(nbdir)] == ["a", "b"]  # tables: no x2
    rows = reproduce.load_rows(nbdir, budget_checks=True)
    a2, b2 = rows[2:]
    assert (a2.name, a2.params) == ("demo/table1/a__x2",
                                    {"width": 2, "seeds": [1], "budget_scale": 2})
    assert a2.runs_at("quick") and a2.runs_at("gpu") and not a2.runs_at("smoke")
    assert "budget check of demo/table1/a" in a2.why
    assert b2.only_profiles == ("gpu",)  # the row's own profiles still bind
    params = reproduce.resolved_parameters(a2, "quick", Path("results"))
    assert params["variant"] == "a__x2" and params["budget_scale"] == 2
    assert reproduce.budget_check_of("a__x2") == ("a", 2.0)


@pytest.mark.parametrize("text, match", [
    ("rows: [demo/table1/zz]\n", "not a row of notebooks"),
    ("scale: 1\nrows: [demo/table1/a]\n", "scale must be a number > 1"),
    ("seed: -1\nrows: [demo/table1/a]\n", "seed must be an integer"),
    ("profiles: [huge]\nrows: [demo/table1/a]\n", "unknown profiles"),
    ("rows: demo/table1/a\n", "'rows:' list"),
])
def test_budget_check_file_errors_name_the_file(tmp_path, text, match):
    nbdir = _notebooks(tmp_path, text)
    with pytest.raises(reproduce.RunsFileError, match=match) as err:
        reproduce.load_rows(nbdir, budget_checks=True)
    assert "budget_checks.yaml" in str(err.value)


def test_committed_budget_checks_resolve_against_their_notebooks():
    rows = [r for r in reproduce.load_rows(REPO / "notebooks", budget_checks=True)
            if reproduce.budget_check_of(r.variant)]
    tables = {(r.paper, r.table) for r in rows}
    assert len(tables) >= 8
    # a table with several checks pairs claims: each checked row other than the table's
    # reference is a side of a claim of that table whose other side is checked too
    for paper, table in tables:
        runs = yaml.safe_load((REPO / "notebooks" / paper / "runs.yaml").read_text())
        reference = runs["tables"][table].get("reference")
        checked = {reproduce.budget_check_of(r.variant)[0] for r in rows
                   if (r.paper, r.table) == (paper, table)}
        if len(checked) > 1:
            claims = yaml.safe_load((REPO / "notebooks" / paper / "claims.yaml").read_text())
            pairs = [{c["better"], c["worse"]} for c in claims if c["table"] == table]
            assert all(any(v in p and p <= checked for p in pairs)
                       for v in checked - {reference}), table
    for r in rows:
        params = reproduce.resolved_parameters(r, "quick", Path("results"))
        assert params["budget_scale"] == 2 and params["seeds"] == [0]
        assert r.runs_at("quick") and not r.runs_at("paper")


def _write(root, variant, seed, psnr, history=None, params=None, extra=None, table="table1",
           more=None, split="validation"):
    """One run whose two images score ``psnr`` -/+ 0.5 (each metric of ``more`` likewise)."""
    per_image = pd.concat(
        [pd.DataFrame({"image": ["x", "y"], "metric": m, "value": [v - 0.5, v + 0.5]})
         for m, v in {"psnr": psnr, **(more or {})}.items()], ignore_index=True)
    out = record.write_run(root, paper="demo", table=table, variant=variant, profile="quick",
                           seed=seed, dataset="SynVIDIT", split=split,
                           per_image=per_image, params=params or {}, extra=extra or {})
    if history is not None:
        pd.DataFrame(history).to_csv(out / "history.csv", index=False)


def _write_three_seeds_of_a_and_b():
    """Rows a and b of demo/table1, seeds 0-2, under ./results: b - a = 0.5, 0.3, 0.6 dB."""
    for seed, (a, b) in enumerate([(19.0, 19.5), (19.2, 19.5), (19.1, 19.7)]):
        _write("results", "a", seed, a)
        _write("results", "b", seed, b)


def _curve(values, steps=range(40, 840, 40)):
    at = dict(zip(steps, values))
    return [{"step": s, "lr": 1e-3 if s <= 560 else 1e-5, "val_psnr": at.get(s)}
            for s in range(1, 801)]


def test_load_convergence_recomputes_the_verdict_from_the_stored_curve(tmp_path):
    root = tmp_path / "results"
    flat = [15 + i * 0.3 for i in range(14)] + [19.0] * 6
    dropped = flat[:-1] + [18.8]  # the scored final weights 0.2 dB under the best
    stale = {"converged": True, "reason": "plateau (old test)", "tail_gain": 0.0,
             "best_step": 760}
    _write(root, "good", 0, 19.0, _curve(flat), extra={"train_steps": 800, "convergence": stale})
    _write(root, "bad", 0, 18.8, _curve(dropped),
           extra={"train_steps": 800, "convergence": stale})
    # ensembles: members not validated (an older run), and members whose values were recorded
    _write(root, "ens", 0, 19.0, _curve(flat), params={"snapshot_steps": [200, 720]},
           extra={"train_steps": 800, "convergence": stale})
    members = {"200": {"val_psnr": 16.2}, "720": {"val_psnr": 18.0}}  # 720: a dip of 1 dB
    _write(root, "ens_new", 0, 19.0, _curve(flat), params={"snapshot_steps": [200, 720]},
           extra={"train_steps": 800, "convergence": stale,
                  "ensemble_validation": {"members": members}})
    _write(root, "nocurve", 0, 19.0, extra={"train_steps": 800, "convergence": stale})
    conv = results.load_convergence(root, "quick", "demo", "table1")
    assert conv["good"]["converged"] is True and conv["good"]["tols"] == [pytest.approx(0.05)]
    assert conv["bad"]["converged"] is False and "worse than the best" in conv["bad"]["reason"]
    assert conv["bad"]["final_drops"] == [pytest.approx(0.2)]
    assert conv["ens"]["converged"] is None
    assert conv["ens"]["reason"].startswith("member 200, PSNR: not validated in this run")
    assert conv["ens_new"]["converged"] is False
    assert conv["ens_new"]["reason"].startswith("member 720, PSNR: its validation value 18.00")
    assert conv["nocurve"]["converged"] is True  # no curve: the stored verdict stands


def test_budget_check_view_shows_the_change_next_to_the_half_widths(tmp_path, monkeypatch):
    _notebooks(tmp_path, "rows: [demo/table1/a]\nprofiles: [quick]\n")
    (tmp_path / "notebooks" / "demo" / "claims.yaml").write_text(
        "- {id: b_beats_a, table: table1, metric: psnr, better: b, worse: a, text: t}\n")
    monkeypatch.chdir(tmp_path)
    _write_three_seeds_of_a_and_b()
    view = book.budget_check_view("demo", profile="quick")
    assert view.loc[0, "at 2 x"] == "not run yet" and view.loc[0, "change"] == "—"
    # differences 0.5, 0.3, 0.6: sd 0.1528, t(0.975, 2) = 4.303 -> half-width 0.38
    assert view.loc[0, "claims' half-widths"] == "±0.38 (b_beats_a)"
    _write("results", "a__x2", 0, 19.1)
    view = book.budget_check_view("demo", profile="quick")
    assert view.loc[0, "at the budget"] == "19.00" and view.loc[0, "at 2 x"] == "19.10"
    assert view.loc[0, "change"] == "+0.10" and view.loc[0, "change < smallest half-width"] == "yes"
    # a metric recorded before the post-processing too follows its metric, without claims
    _write("results", "a", 0, 19.0, more={"psnr_no_postprocess": 21.0})
    _write("results", "a__x2", 0, 19.1, more={"psnr_no_postprocess": 21.4})
    view = book.budget_check_view("demo", profile="quick")
    assert list(view["metric"]) == ["PSNR", "PSNR (before post-processing)"]
    assert view.loc[1, "at the budget"] == "21.00" and view.loc[1, "change"] == "+0.40"
    assert view.loc[1, "claims' half-widths"] == "—"
    assert view.loc[1, "change < smallest half-width"] == "—"
    assert view.loc[0, "change"] == "+0.10"
    # the longer row is not a row of the table
    monkeypatch.setattr(book, "out_of_date", lambda *a: None)
    table, _ = book.table_view("demo", "table1", ["psnr"], profile="quick")
    assert not any("x2" in str(i) for i in table.index)


def test_budget_check_view_compares_only_on_the_longer_runs_split(tmp_path, monkeypatch):
    """A row not rerun yet (its old validation numbers) is no baseline for a check read on the
    test split: "—", not a change across splits."""
    _notebooks(tmp_path, "rows: [demo/table1/a]\nprofiles: [quick]\n")
    monkeypatch.chdir(tmp_path)
    _write("results", "a", 0, 20.0)  # validation
    _write("results", "a__x2", 0, 17.0, split="test")
    row = book.budget_check_view("demo", profile="quick").iloc[0]
    assert (row["at the budget"], row["at 2 x"], row["change"]) == ("—", "17.00", "—")
    _write("results", "a", 0, 16.8, split="test")  # rerun on the test split
    row = book.budget_check_view("demo", profile="quick").iloc[0]
    assert (row["at the budget"], row["change"]) == ("16.80", "+0.20")


def test_claim_half_widths_never_mix_splits(tmp_path, monkeypatch):
    nbdir = _notebooks(tmp_path, "rows: [demo/table1/a]\nprofiles: [quick]\n")
    (nbdir / "demo" / "claims.yaml").write_text(
        "- {id: b_beats_a, table: table1, metric: psnr, better: b, worse: a, text: t}\n")
    monkeypatch.chdir(tmp_path)
    _write_three_seeds_of_a_and_b()  # both rows on validation: one shared split
    assert book.claim_half_widths("demo", "table1", "quick")["psnr"][0][0] == "b_beats_a"
    for seed in range(3):  # b rerun on the test split, a not yet: no half-width
        _write("results", "b", seed, 19.5, split="test")
    assert book.claim_half_widths("demo", "table1", "quick") == {}


def test_paired_budget_check_view_shows_the_change_of_the_claims_difference(tmp_path, monkeypatch):
    nbdir = _notebooks(tmp_path, "rows: [demo/table1/a, demo/table1/b]\nprofiles: [quick]\n")
    (nbdir / "demo" / "runs.yaml").write_text(  # b runs at quick here, so its check does too
        "tables:\n  table1:\n    notebook: t.ipynb\n    reference: a\n    variants:\n"
        "      a: {width: 2}\n      b: {width: 3}\n      c: {width: 4}\n")
    (nbdir / "demo" / "claims.yaml").write_text(
        "- {id: b_beats_a, table: table1, metric: psnr, better: b, worse: a, text: t}\n"
        "- {id: b_beats_a_lpips, table: table1, metric: lpips, better: b, worse: a, text: t}\n"
        "- {id: c_beats_a, table: table1, metric: psnr, better: c, worse: a, text: t}\n")
    monkeypatch.chdir(tmp_path)
    _write_three_seeds_of_a_and_b()
    view = book.paired_budget_check_view("demo", profile="quick")
    # c has no budget check, and no side records LPIPS: b_beats_a alone
    assert list(view["claim"]) == ["b_beats_a"]
    assert view.loc[0, "difference at the budget"] == "+0.500"
    assert view.loc[0, "at 2 x"] == "not run yet" and view.loc[0, "change"] == "—"
    assert view.loc[0, "claim's half-width"] == "±0.379"  # 4.303 x 0.1528 / sqrt(3)
    _write("results", "a__x2", 0, 19.1)
    _write("results", "b__x2", 0, 19.9)  # both rows gained; the difference by 0.3
    view = book.paired_budget_check_view("demo", profile="quick")
    assert view.loc[0, "at 2 x"] == "+0.800" and view.loc[0, "change"] == "+0.300"
    assert view.loc[0, "change < half-width"] == "yes"
    _write("results", "b__x2", 0, 20.1)  # the difference moved by more than the half-width
    view = book.paired_budget_check_view("demo", profile="quick")
    assert view.loc[0, "change"] == "+0.500"
    assert view.loc[0, "change < half-width"] == "no: verdict withheld"


def test_budget_check_views_leave_out_a_check_older_than_its_rows_budget(tmp_path, monkeypatch):
    """Row a now trained for as many steps as its check: the check says nothing about it."""
    nbdir = _notebooks(tmp_path, "rows: [demo/table1/a, demo/table1/b]\nprofiles: [quick]\n")
    (nbdir / "demo" / "runs.yaml").write_text(
        "tables:\n  table1:\n    notebook: t.ipynb\n    reference: a\n    variants:\n"
        "      a: {width: 2}\n      b: {width: 3}\n")
    (nbdir / "demo" / "claims.yaml").write_text(
        "- {id: b_beats_a, table: table1, metric: psnr, better: b, worse: a, text: t}\n")
    monkeypatch.chdir(tmp_path)
    for seed, (a, b) in enumerate([(19.0, 19.5), (19.2, 19.5), (19.1, 19.7)]):
        _write("results", "a", seed, a, extra={"train_steps": 1600})
        _write("results", "b", seed, b, extra={"train_steps": 1600})
    _write("results", "a__x2", 0, 19.1, extra={"train_steps": 3200})
    _write("results", "b__x2", 0, 19.9, extra={"train_steps": 3200})
    assert results.load_convergence("results", "quick", "demo", "table1")["a"]["seed_steps"] \
        == {0: 1600, 1: 1600, 2: 1600}
    assert book.paired_budget_check_view("demo", profile="quick").loc[0, "change"] == "+0.300"
    assert book.budget_check_view("demo", profile="quick").loc[0, "change"] == "+0.10"
    _write("results", "a", 0, 19.0, extra={"train_steps": 3200})  # a's new budget, seed 0
    paired = book.paired_budget_check_view("demo", profile="quick").iloc[0]
    assert (paired["at 2 x"], paired["change"]) == (book.OLDER_BUDGET, "—")
    level = book.budget_check_view("demo", profile="quick")
    assert list(level["at 2 x"]) == [book.OLDER_BUDGET, "19.90"]  # b's check still stands


def test_load_convergence_judges_each_claim_metric_on_its_own_curve(tmp_path):
    """spec/evidence.md section 5: "for every metric a claim uses". A run whose PSNR has
    stopped while its SSIM still climbs passes for PSNR claims and fails for SSIM claims; the
    row's own verdict (the tables') stays PSNR's."""
    root = tmp_path / "results"
    flat = [15 + i * 0.3 for i in range(14)] + [19.0] * 6
    climbing = [0.5 + 0.01 * i for i in range(20)]  # 0.05 over the last fifth, noiseless
    hist = [{**h, "val_ssim": climbing[h["step"] // 40 - 1] if h["val_psnr"] else None}
            for h in _curve(flat)]
    _write(root, "ssim_climbs", 0, 19.0, hist, extra={"train_steps": 800})
    _write(root, "no_ssim", 0, 19.0, _curve(flat), extra={"train_steps": 800})
    conv = results.load_convergence(root, "quick", "demo", "table1")
    row = conv["ssim_climbs"]
    assert row["converged"] is True
    assert row["by_metric"]["psnr"]["converged"] is True
    assert row["by_metric"]["ssim"]["converged"] is False
    assert row["by_metric"]["ssim"]["reason"].startswith("final weights, SSIM: still improving")
    # a curve recorded without SSIM cannot tell for SSIM claims
    assert conv["no_ssim"]["by_metric"]["ssim"]["converged"] is None
    assert "SSIM is not on the validation curve" in conv["no_ssim"]["by_metric"]["ssim"]["reason"]
    # a seed without its curve: no per-metric test, the claims take the row's verdict
    _write(root, "no_ssim", 1, 19.0, extra={"train_steps": 800, "convergence": {
        "converged": True, "reason": "plateau", "tail_gain": 0.0, "best_step": 760}})
    assert results.load_convergence(root, "quick", "demo", "table1")["no_ssim"]["by_metric"] == {}
