"""run.json's git_dirty means "a file that decides a run's numbers differs from the commit":
the suite's own outputs (results/, data/, _build/, the generated _toc.yml, executed notebooks)
and the prose never make a run dirty."""

import shutil
import subprocess
from pathlib import Path

import pytest

from relight_lib.library import record

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="needs git")


def _git(repo: Path, *args: str) -> None:
    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@example.org",
                    "-c", "commit.gpgsign=false", *args], cwd=repo, check=True,
                   capture_output=True)


@pytest.fixture
def repo(tmp_path):
    files = {
        "relight_lib/library/losses.py": "L = 1\n",
        "relight_lib/papers/msrnet.py": "M = 1\n",
        "relight_lib/harness/book.py": "B = 1\n",
        "notebooks/msrnet/table1.ipynb": "{}\n",
        "notebooks/msrnet/runs.yaml": "tables: {}\n",
        "notebooks/msrnet/claims.yaml": "claims: []\n",
        "pyproject.toml": "[project]\n",
        "README.md": "text\n",
        "book/msrnet/index.md": "prose\n",
        "_toc.yml": "root: intro\n",
        "results/quick/msrnet/table1/dmshn/seed=0/metrics.csv": "a\n",
        "results/quick/executed/msrnet/table1__dmshn.ipynb": "{}\n",
        "tests/test_x.py": "",
        ".gitignore": "/data/\n_build/\n",
    }
    for rel, text in files.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(text)
    _git(tmp_path, "init", "-q")
    _git(tmp_path, "add", "-A")
    _git(tmp_path, "commit", "-q", "-m", "init")
    return tmp_path


def _state(repo: Path, where: str = ".") -> tuple[bool, list[str]]:
    info = record.provenance(repo / where)
    assert len(info["git_commit"]) == 40
    return info["git_dirty"], info["git_dirty_files"]


def test_a_clean_tree_is_clean_while_the_runner_writes_its_outputs(repo):
    assert _state(repo) == (False, [])
    # what rows, the book build and `relight reproduce` write while rows run
    (repo / "results/quick/msrnet/table1/dmshn/seed=0/metrics.csv").write_text("b\n")
    (repo / "results/quick/msrnet/table1/dmshn/seed=1").mkdir()
    (repo / "results/quick/msrnet/table1/dmshn/seed=1/run.json").write_text("{}")
    (repo / "results/quick/executed/msrnet/table1__dmshn.ipynb").write_text("{ }\n")
    (repo / "_toc.yml").write_text("root: intro\nchapters: []\n")
    (repo / "data/synvidit").mkdir(parents=True)
    (repo / "data/synvidit/manifest.json").write_text("{}")
    (repo / "_build/checkpoints").mkdir(parents=True)
    (repo / "_build/checkpoints/seed=0.pt").write_bytes(b"x")
    # prose, tests and the harness (which only reports on runs) being edited meanwhile
    (repo / "README.md").write_text("more text\n")
    (repo / "book/msrnet/index.md").write_text("more prose\n")
    (repo / "tests/test_x.py").write_text("x = 1\n")
    (repo / "relight_lib/harness/book.py").write_text("B = 2\n")
    (repo / "notebooks/msrnet/claims.yaml").write_text("claims: [x]\n")
    assert _state(repo) == (False, [])
    assert _state(repo, "book/msrnet") == (False, [])  # asked from a sub-folder


@pytest.mark.parametrize("edit, name", [
    (lambda r: (r / "relight_lib/library/losses.py").write_text("L = 2\n"),
     "relight_lib/library/losses.py"),
    (lambda r: (r / "relight_lib/papers/ltnet.py").write_text("new = 1\n"),
     "relight_lib/papers/ltnet.py"),  # a new, untracked source file
    (lambda r: (r / "notebooks/msrnet/runs.yaml").write_text("tables: {t: {}}\n"),
     "notebooks/msrnet/runs.yaml"),
    (lambda r: (r / "notebooks/msrnet/table1.ipynb").unlink(), "notebooks/msrnet/table1.ipynb"),
    (lambda r: (r / "notebooks/msrnet/table3.ipynb").write_text("{}"),
     "notebooks/msrnet/table3.ipynb"),
    (lambda r: (r / "relight_lib/library/models").mkdir() or
     (r / "relight_lib/library/models/new.py").write_text(""),
     "relight_lib/library/models/new.py"),  # deeper folders count too
    (lambda r: (r / "pyproject.toml").write_text("[project]\nname = 'x'\n"), "pyproject.toml"),
])
def test_a_changed_source_file_makes_the_tree_dirty_and_is_named(repo, edit, name):
    edit(repo)
    assert _state(repo) == (True, [name])
    assert record.dirty_source_files(repo / "results") == [name]


def test_outside_a_repository_nothing_is_known(tmp_path):
    assert record.dirty_source_files(tmp_path) is None
    info = record.provenance(tmp_path)
    if info["git_commit"] is None:  # tmp_path may sit inside a checkout on some machines
        assert info["git_dirty"] is None and info["git_dirty_files"] == []
