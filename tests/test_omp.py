"""The suite's OpenMP defaults: set in the processes it starts, never over a user's setting."""

import os
import subprocess
import sys
from pathlib import Path

import nbformat

from relight_lib import omp
from relight_lib.harness import reproduce

REPO = Path(__file__).resolve().parents[1]


def test_apply_defaults_sets_missing_and_keeps_explicit():
    env = {}
    assert omp.apply_defaults(env) == {"OMP_WAIT_POLICY": "PASSIVE"}
    assert env == {"OMP_WAIT_POLICY": "PASSIVE"}
    mine = {"OMP_WAIT_POLICY": "ACTIVE"}
    assert omp.apply_defaults(mine) == {} and mine == {"OMP_WAIT_POLICY": "ACTIVE"}
    empty = {"OMP_WAIT_POLICY": ""}  # an explicit empty value is a setting too
    assert omp.apply_defaults(empty) == {} and empty["OMP_WAIT_POLICY"] == ""


def _policy_after_cli_import(value):
    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    if value is not None:
        env["OMP_WAIT_POLICY"] = value
    out = subprocess.run([sys.executable, "-c", "import os, sys, relight_lib.cli; "
                          "print(os.environ.get('OMP_WAIT_POLICY'), 'torch' in sys.modules)"],
                         capture_output=True, text=True, env=env, cwd=REPO, check=True)
    return out.stdout.split()


def test_cli_sets_the_policy_before_torch_is_imported():
    assert _policy_after_cli_import(None) == ["PASSIVE", "False"]
    assert _policy_after_cli_import("ACTIVE")[0] == "ACTIVE"


def test_the_row_kernel_starts_with_the_policy(tmp_path, monkeypatch):
    """A row's papermill kernel sees OMP_WAIT_POLICY=PASSIVE when the user set nothing."""
    d = tmp_path / "notebooks" / "demo"
    d.mkdir(parents=True)
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": reproduce.KERNEL_NAME, "language": "python",
                                 "display_name": "Python (relight)"}
    nb.metadata["language_info"] = {"name": "python"}
    params = nbformat.v4.new_code_cell('profile = "smoke"\npaper = ""\ntable = ""\n'
                                       'variant = ""\nresults_root = ""\ncache_key = ""\n')
    params.metadata["tags"] = ["parameters"]
    nb.cells = [params, nbformat.v4.new_code_cell(
        "import os, pathlib\npathlib.Path(results_root, 'omp.txt').write_text("
        "os.environ.get('OMP_WAIT_POLICY', 'unset'))")]
    nbformat.write(nb, d / "t.ipynb")
    (d / "runs.yaml").write_text("tables:\n  t1:\n    notebook: t.ipynb\n    variants:\n"
                                 "      a: {}\n")
    (row,) = reproduce.load_rows(tmp_path / "notebooks")
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("OMP_WAIT_POLICY", raising=False)
    root = tmp_path / "results"
    root.mkdir()
    out = reproduce.run_row(row, "smoke", root, force=True, log=lambda *a: None, live=False)
    assert out.status == "ran", out.error
    assert (root / "omp.txt").read_text() == "PASSIVE"
