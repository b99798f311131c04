"""A training is keyed by what decides its weights: editing a harness file or another paper's
model never retrains a row; editing the row's own model does. Each check trains one step of
DMSHN in a fresh interpreter (as a notebook kernel would) on a copy of the package."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parents[2] / "relight_lib"

SCRIPT = """
import json, sys
from relight_lib.papers import msrnet, onetoone
row = msrnet.msrnet_row(model="dmshn", loss="mse")
onetoone.run_one_to_one(paper="demo", table="t", variant="v", profile="smoke",
                        results_root="results", data_root=sys.argv[1], steps=1, seeds=[0, 1],
                        **row)
# the second seed's key: made after the first seed was scored and written, so every module
# the scoring imported is loaded by then
rec = json.load(open("results/smoke/demo/t/v/seed=1/run.json"))
print(json.dumps({"key": rec["extra"]["training_key"], "files": rec["extra"]["training_files"]}))
"""


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    pytest.importorskip("mitsuba")
    from relight_lib.library.data import synvidit

    root = tmp_path_factory.mktemp("key") / "set"
    synvidit.render_dataset(root, synvidit.RenderConfig(
        n_scenes=4, size=16, spp=1, seed=2, conditions=("6500_N", "4500_E")), progress=False)
    return root


def _key(tmp_path: Path, data: Path, *edits: str) -> dict:
    work = tmp_path / ("+".join(edits) or "clean").replace("/", "_")
    shutil.copytree(PKG, work / "relight_lib", ignore=shutil.ignore_patterns("__pycache__"))
    for edit in edits:
        with open(work / "relight_lib" / edit, "a") as f:
            f.write("\n# an edit that changes the file's bytes\n")
    env = {**os.environ, "PYTHONPATH": str(work), "RELIGHT_OFFLINE": "1"}
    out = subprocess.run([sys.executable, "-c", SCRIPT, str(data)], cwd=work, env=env,
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_only_the_files_a_training_uses_decide_its_key(tmp_path, tiny):
    clean = _key(tmp_path, tiny)
    files = set(clean["files"])
    assert {"library/models/dmshn.py", "library/losses.py", "library/train.py",
            "papers/msrnet.py"} <= files
    assert not any(f.startswith("harness/") for f in files)
    assert "papers/onetoone_eval.py" not in files and "library/record.py" not in files
    assert "library/models/ltnet.py" not in files and "papers/mbnet.py" not in files
    # the harness (results, claims, book), another paper's model, the plateau test and the
    # row's scoring and writing, edited together: the same training (one interpreter for all, as each ~8 s run is the test's cost;
    # had any file counted, the key would differ)
    assert _key(tmp_path, tiny, "harness/results.py", "library/models/ltnet.py",
                "library/convergence.py", "papers/onetoone_eval.py")["key"] == clean["key"]
    # the row's own model: a new training
    assert _key(tmp_path, tiny, "library/models/dmshn.py")["key"] != clean["key"]
