"""The papermill runner: runs.yaml rules, parameter checks, cache keys, output cleaning."""

import json
from pathlib import Path

import nbformat
import pytest

from relight_lib.harness import reproduce

REPO = Path(__file__).resolve().parents[2]


def _notebook(path: Path, params_src: str) -> None:
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell(params_src)
    cell.metadata["tags"] = ["parameters"]
    nb.cells = [cell, nbformat.v4.new_code_cell("x = 1")]
    nbformat.write(nb, path)


def _runs(tmp_path: Path, yaml_text: str, params_src: str = 'profile = "smoke"\npaper = ""\n'
          'table = ""\nvariant = ""\nresults_root = ""\ncache_key = ""\nmethod = "a"\n') -> Path:
    d = tmp_path / "notebooks" / "demo"
    d.mkdir(parents=True)
    _notebook(d / "t.ipynb", params_src)
    (d / "runs.yaml").write_text(yaml_text)
    return tmp_path / "notebooks"


def test_committed_runs_files_are_valid():
    rows = reproduce.load_rows(REPO / "notebooks")
    assert {r.name for r in rows} >= {"baselines/onetoone/identity",
                                      "baselines/onetoone/colour_lstsq"}
    for r in rows:
        params = reproduce.resolved_parameters(r, "smoke", Path("results"))
        assert params["variant"] == r.variant


def test_unknown_parameter_is_an_error(tmp_path):
    nbdir = _runs(tmp_path, "tables:\n  t1:\n    notebook: t.ipynb\n    variants:\n"
                            "      a: {method: a, lr: 0.1}\n")
    (row,) = reproduce.load_rows(nbdir)
    with pytest.raises(reproduce.RunsFileError, match=r"unknown parameter\(s\) \['lr'\]"):
        reproduce.resolved_parameters(row, "smoke", Path("results"))


@pytest.mark.parametrize("text, match", [
    ("tables: {}\n", "non-empty"),
    ("tables:\n  t1: {notebook: t.ipynb}\n", "no 'variants'"),
    ("tables:\n  t1: {notebook: missing.ipynb, variants: {a: {}}}\n", "does not exist"),
    ("tables:\n  t1: {notebook: t.ipynb, variants: {a: {profile: gpu}}}\n", "runner parameters"),
    ("tables: [\n", "not valid YAML"),
    ("tables:\n  t1: {notebook: t.ipynb, by_profile: {huge: {method: b}}, variants: {a: {}}}\n",
     "unknown profiles"),
    ("tables:\n  t1: {notebook: t.ipynb, variants: {a: {by_profile: {quick: 3}}}}\n",
     "mapping of profile"),
    ("tables:\n  t1: {notebook: t.ipynb, by_profile: {quick: {paper: x}}, variants: {a: {}}}\n",
     "runner parameters"),
])
def test_runs_file_errors(tmp_path, text, match):
    nbdir = _runs(tmp_path, text)
    with pytest.raises(reproduce.RunsFileError, match=match):
        reproduce.load_rows(nbdir)


def test_by_profile_parameters_hold_at_their_profile_only(tmp_path):
    """A table's longer budget at the quick profile: the paper profile keeps the paper's; a
    variant's own by_profile entry wins over the table's; a budget check inherits them; a
    change typed with --set wins at every profile."""
    nbdir = _runs(tmp_path, "tables:\n  t1:\n    notebook: t.ipynb\n"
                            "    by_profile: {quick: {method: q}}\n    variants:\n"
                            "      a: {}\n      b: {by_profile: {quick: {method: r}}}\n",
                  params_src='profile = "smoke"\npaper = ""\ntable = ""\nvariant = ""\n'
                  'results_root = ""\ncache_key = ""\nmethod = "a"\nseeds = None\n'
                  'budget_scale = 1\n')
    (nbdir / "budget_checks.yaml").write_text("rows: [demo/t1/a]\n")
    a, b, a2 = reproduce.load_rows(nbdir, budget_checks=True)
    assert reproduce.resolved_parameters(a, "quick", Path("r"))["method"] == "q"
    assert "method" not in reproduce.resolved_parameters(a, "paper", Path("r"))  # the default
    assert reproduce.resolved_parameters(b, "quick", Path("r"))["method"] == "r"
    assert a2.params_at("quick") == {"method": "q", "seeds": [0], "budget_scale": 2}
    # the cache key follows the profile's value: the quick row reruns, the smoke row does not
    keys = {p: reproduce.cache_key(a, p, reproduce.resolved_parameters(a, p, Path("r")))
            for p in ("quick", "smoke")}
    plain = reproduce.dataclasses.replace(a, by_profile={})
    assert keys["smoke"] == reproduce.cache_key(
        plain, "smoke", reproduce.resolved_parameters(plain, "smoke", Path("r")))
    assert keys["quick"] != reproduce.cache_key(
        plain, "quick", reproduce.resolved_parameters(plain, "quick", Path("r")))
    changed = a.with_params({"method": "z"}, variant="a__try")
    assert (changed.variant, changed.params_at("quick"), changed.by_profile) == (
        "a__try", {"method": "z"}, {})
    listing = {n: (v, src) for n, v, src, _ in reproduce.parameter_listing(a, profile="quick")}
    assert listing["method"] == ("q", "runs.yaml, quick")
    assert {n: (v, src) for n, v, src, _ in reproduce.parameter_listing(a)}["method"] == (
        "a", "notebook")


def test_parameters_cell_rules(tmp_path):
    p = tmp_path / "n.ipynb"
    _notebook(p, "a = 1\nb = [1, 'x']\nc = None\n")
    assert reproduce.notebook_parameters(p) == {"a": 1, "b": [1, "x"], "c": None}
    _notebook(p, "a = len('x')\n")
    with pytest.raises(reproduce.RunsFileError, match="not a literal"):
        reproduce.notebook_parameters(p)
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("a = 1")]
    nbformat.write(nb, p)
    with pytest.raises(reproduce.RunsFileError, match="exactly one cell tagged"):
        reproduce.notebook_parameters(p)


def test_select_rows(tmp_path):
    nbdir = _runs(tmp_path, "tables:\n  t1:\n    notebook: t.ipynb\n    variants:\n"
                            "      a: {method: a}\n      b: {method: b}\n")
    rows = reproduce.load_rows(nbdir)
    assert [r.variant for r in reproduce.select_rows(rows, variant="b")] == ["b"]
    with pytest.raises(reproduce.RunsFileError, match="known rows"):
        reproduce.select_rows(rows, table="t9")


def test_cache_key_changes_with_what_matters(tmp_path):
    nbdir = _runs(tmp_path, "tables:\n  t1:\n    notebook: t.ipynb\n    variants:\n"
                            "      a: {method: a}\n      b: {method: b}\n")
    a, b = reproduce.load_rows(nbdir)
    pa = reproduce.resolved_parameters(a, "smoke", Path("results"))
    pb = reproduce.resolved_parameters(b, "smoke", Path("results"))
    k = reproduce.cache_key(a, "smoke", pa)
    assert k == reproduce.cache_key(a, "smoke", pa)  # stable
    assert k != reproduce.cache_key(b, "smoke", pb)  # parameters
    pq = reproduce.resolved_parameters(a, "quick", Path("results"))
    assert k != reproduce.cache_key(a, "quick", pq)  # profile and data
    # the results folder is where a run is written, not what it computes
    pr = reproduce.resolved_parameters(a, "smoke", Path("elsewhere"))
    assert k == reproduce.cache_key(a, "smoke", pr)
    nb = nbformat.read(a.notebook, as_version=4)
    nb.cells[1].source = "x = 2"
    nbformat.write(nb, a.notebook)
    assert k != reproduce.cache_key(a, "smoke", pa)  # notebook source


def test_run_json_records_the_library_files_a_run_imported():
    import relight_lib.library.models.ltnet  # noqa: F401  (imported: must be listed)
    from relight_lib.harness import results

    files = results.imported_library_files()
    assert "library/models/ltnet.py" in files and "library/record.py" in files
    assert "library/models/__init__.py" not in files  # the registry is a name table
    # the harness only reports on runs: editing it never makes a row stale
    assert not any(f.startswith("harness/") for f in files) and "harness/results.py" not in files
    assert all(len(v) == 64 for v in files.values())
    assert reproduce.library_changes(files) == []


def test_library_changes_name_the_changed_files(tmp_path, monkeypatch):
    import relight_lib

    pkg = tmp_path / "relight_lib"
    (pkg / "models").mkdir(parents=True)
    (pkg / "a.py").write_text("x = 1\n")
    (pkg / "models" / "m.py").write_text("y = 1\n")
    monkeypatch.setattr(relight_lib, "__file__", str(pkg / "__init__.py"))
    from relight_lib.library.data.imageio import sha256_file

    rec = {"a.py": sha256_file(pkg / "a.py"), "models/m.py": sha256_file(pkg / "models" / "m.py")}
    assert reproduce.library_changes(rec) == []
    (pkg / "models" / "m.py").write_text("y = 2\n")
    assert reproduce.library_changes(rec) == ["models/m.py"]
    (pkg / "a.py").unlink()
    assert reproduce.library_changes(rec) == ["a.py", "models/m.py"]
    assert reproduce.library_changes(None) == ["(not recorded)"]


def test_a_changed_plateau_test_makes_no_row_stale_and_is_reapplied(tmp_path):
    """The plateau test reads stored curves: a change of it makes no row out of date (no
    retraining), and the tables judge the committed curve with the test as it is now."""
    import json

    import pandas as pd

    import relight_lib.library.convergence  # noqa: F401  (every trained row imports it)
    from relight_lib.harness import results

    real = results.imported_library_files()
    assert "library/convergence.py" in real  # still recorded with the run
    old = {**real, "library/convergence.py": "0" * 64}  # as if the test changed since the run
    assert reproduce.library_changes(old) == []
    assert reproduce.library_changes({**old, "library/losses.py": "1" * 64}) == [
        "library/losses.py"]
    # a run.json whose stored verdict disagrees with its curve: the curve decides
    seed = tmp_path / "quick" / "p" / "t" / "v" / "seed=0"
    seed.mkdir(parents=True)
    steps = list(range(40, 801, 40))
    pd.DataFrame({"step": steps, "loss": 0.1, "lr": 1e-6,
                  "val_psnr": [10 + s / 100 for s in steps]}).to_csv(seed / "history.csv",
                                                                     index=False)
    (seed / "run.json").write_text(json.dumps({"params": {}, "extra": {
        "train_steps": 800, "convergence": {"converged": True, "reason": "stored"}}}))
    conv = results.load_convergence(tmp_path, "quick", "p", "t")["v"]
    assert conv["converged"] is False and "still improving" in conv["reason"]


def test_clean_notebook_collapses_progress_bars(tmp_path):
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("pass")
    cell.outputs = [nbformat.v4.new_output("stream", name="stderr",
                                           text="a  0%|\r a 50%|\r a 100%|\nsecond line\n")]
    nb.cells = [cell]
    nb.metadata["widgets"] = {"state": {}}
    p = tmp_path / "x.ipynb"
    nbformat.write(nb, p)
    reproduce.clean_notebook(p)
    out = json.loads(p.read_text())
    assert "widgets" not in out["metadata"]
    assert out["cells"][0]["outputs"][0]["text"] == " a 100%|\nsecond line\n"


def test_kernel_spec_points_at_this_interpreter():
    import sys

    name = reproduce.ensure_kernel()
    spec = json.loads((Path(sys.prefix) / "share/jupyter/kernels" / name / "kernel.json")
                      .read_text())
    assert spec["argv"][0] == sys.executable


def test_only_profiles_rows_are_skipped_elsewhere(tmp_path, monkeypatch):
    nbdir = _runs(tmp_path, "tables:\n  t1:\n    notebook: t.ipynb\n    variants:\n"
                            "      big: {method: a, only_profiles: [gpu], why: too slow}\n")
    (row,) = reproduce.load_rows(nbdir)
    assert row.params == {"method": "a"} and not row.runs_at("quick") and row.runs_at("gpu")
    monkeypatch.chdir(tmp_path)
    (out,) = reproduce.reproduce("smoke", notebooks_dir=nbdir, results_root=tmp_path / "r",
                                 render=False, log=lambda *a: None)
    assert out.status == "skipped" and "too slow" in out.error
    assert "1 skipped" in reproduce.summary([out])
    bad = _runs(tmp_path / "b", "tables:\n  t1:\n    notebook: t.ipynb\n    variants:\n"
                                "      big: {only_profiles: [gpu]}\n")
    with pytest.raises(reproduce.RunsFileError, match="why"):
        reproduce.load_rows(bad)


def test_staleness_reasons(tmp_path):
    """A row is current only when its notebook ran, every seed's run.json has today's key, and
    none of the library files its run imported changed since."""
    from relight_lib.harness import results

    nbdir = _runs(tmp_path, "tables:\n  t1:\n    notebook: t.ipynb\n    variants:\n"
                            "      a: {method: a}\n")
    (row,) = reproduce.load_rows(nbdir)
    root = tmp_path / "results"
    key = reproduce.cache_key(row, "smoke", reproduce.resolved_parameters(row, "smoke", root))
    assert reproduce.staleness(row, "smoke", key, root) == "no executed notebook"
    nb = row.executed_path("smoke", root)
    nb.parent.mkdir(parents=True)
    nb.write_text("{}")
    assert reproduce.staleness(row, "smoke", key, root) == "no results"
    rj = row.result_dir("smoke", root) / "seed=0" / "run.json"
    rj.parent.mkdir(parents=True)
    files = results.imported_library_files()
    rj.write_text(json.dumps({"cache_key": key, "library_files": files}))
    assert reproduce.staleness(row, "smoke", key, root) is None
    rj.write_text(json.dumps({"cache_key": "other", "library_files": files}))
    assert "parameters" in reproduce.staleness(row, "smoke", key, root)
    changed = {**files, "library/losses.py": "0"}
    rj.write_text(json.dumps({"cache_key": key, "library_files": changed}))
    assert reproduce.staleness(row, "smoke", key, root) == "retrain: library/losses.py changed"
    # a changed file the training did not hash: the stored training is still good
    rj.write_text(json.dumps({"cache_key": key, "library_files": changed,
                              "extra": {"training_files": {"library/models/ltnet.py": "x"}}}))
    assert reproduce.staleness(row, "smoke", key, root) == (
        "re-evaluate: library/losses.py changed (the training is unchanged)")
    rj.write_text(json.dumps({"cache_key": key}))
    assert "(not recorded)" in reproduce.staleness(row, "smoke", key, root)
    # a row stopped between seeds: current seeds, but not all the row's seeds are there
    rj.write_text(json.dumps({"cache_key": key, "library_files": files, "seed": 0,
                              "params": {"seeds": [0, 1, 2]}}))
    assert reproduce.staleness(row, "smoke", key, root) == "seed(s) 1, 2 missing"
    for k in (1, 2):
        other = rj.parent.parent / f"seed={k}" / "run.json"
        other.parent.mkdir()
        other.write_text(json.dumps({"cache_key": key, "library_files": files, "seed": k,
                                     "params": {"seeds": [0, 1, 2]}}))
    assert reproduce.staleness(row, "smoke", key, root) is None


def test_check_parameters_names_an_injected_unknown_parameter():
    declared = {"profile", "seeds", "In", "__name__"}
    reproduce.check_parameters({"profile": "quick", "seeds": None, "_x": 1, "In": []}, declared)
    with pytest.raises(NameError, match=r"unknown notebook parameter\(s\) seedz; this notebook's "
                                        r"parameters are: profile, seeds"):
        reproduce.check_parameters({"profile": "quick", "seedz": [1]}, declared)


def test_every_row_notebook_checks_what_papermill_injected():
    for nb in sorted((REPO / "notebooks").glob("*/*.ipynb")):
        cells = [c for c in json.loads(nb.read_text())["cells"] if c["cell_type"] == "code"]
        params = next(i for i, c in enumerate(cells) if "parameters" in c["metadata"].get("tags", []))
        assert "".join(cells[params]["source"]).rstrip().endswith(reproduce.DECLARED_LINE), nb
        assert "check_parameters(globals(), _declared)" in "".join(cells[params + 1]["source"]), nb


def test_papermill_with_an_unknown_parameter_fails_at_once(tmp_path):
    import papermill as pm

    with pytest.raises(pm.PapermillExecutionError, match="unknown notebook parameter.*bogus"):
        pm.execute_notebook(str(REPO / "notebooks" / "baselines" / "onetoone.ipynb"),
                            str(tmp_path / "out.ipynb"), parameters={"bogus": 1},
                            kernel_name=reproduce.ensure_kernel(), cwd=str(tmp_path),
                            progress_bar=False)


def test_table_references_name_rows_of_their_table():
    import yaml

    found = 0
    for runs in sorted((REPO / "notebooks").glob("*/runs.yaml")):
        for table, spec in yaml.safe_load(runs.read_text())["tables"].items():
            ref = reproduce.table_reference(runs.parent.name, table, REPO / "notebooks")
            if ref is not None:
                found += 1
                assert ref in spec["variants"], (runs, table, ref)
    assert found >= 6
    assert reproduce.table_reference("ltnet", "table2", REPO / "notebooks") == "i_d_v_n"
    assert reproduce.table_reference("nopaper", "table1", REPO / "notebooks") is None


def test_the_runner_compacts_each_seeds_curve_when_the_row_ends_finished_or_not(tmp_path):
    row_dir = tmp_path / "row"
    curves = [row_dir / f"seed={k}" / "history.csv" for k in (0, 1)]
    for f in curves:
        f.parent.mkdir(parents=True)
        f.write_text("step,loss\n1,0.13873909413814545\n")
    with reproduce._compacted_histories(row_dir):
        pass
    assert [f.read_text() for f in curves] == ["step,loss\n1,0.138739\n"] * 2
    (row_dir / "seed=2").mkdir()
    (row_dir / "seed=2" / "history.csv").write_text("step,loss\n1,0.123456789\n")
    with pytest.raises(KeyboardInterrupt), reproduce._compacted_histories(row_dir):
        raise KeyboardInterrupt  # a row stopped between seeds
    assert (row_dir / "seed=2" / "history.csv").read_text() == "step,loss\n1,0.123457\n"
