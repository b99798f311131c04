"""The README's generated blocks (relight_lib/harness/readme.py): the committed ones follow
the results, unknown blocks are kept, and the rest of the README types no result."""

import csv
import json
from pathlib import Path

import pytest

from relight_lib import cli
from relight_lib.harness import prose, readme

REPO = Path(__file__).resolve().parents[2]


def test_committed_readme_blocks_are_up_to_date(monkeypatch):
    monkeypatch.chdir(REPO)
    text = readme.README.read_text()
    for name in readme.BLOCKS:
        assert f"<!-- generated: {name} -->" in text, name
    assert readme.stale_blocks() == [], ("README.md's generated blocks are stale: run "
                                         "`relight book` or python -c 'from relight_lib.harness "
                                         "import readme; readme.refresh_readme()'")


def test_readme_prose_types_no_result():
    assert [str(f) for f in prose.check_pages([REPO / "README.md"])] == []


def test_render_rewrites_known_blocks_and_keeps_the_others(tmp_path):
    page = tmp_path / "README.md"
    page.write_text("a\n<!-- generated: numbers -->\nold\n<!-- end generated -->\nb\n"
                    "<!-- generated: costs -->\ntheirs\n<!-- end generated -->\n")
    blocks = {"numbers": lambda: "new\n"}
    assert readme.render(page.read_text(), blocks) == (
        "a\n<!-- generated: numbers -->\nnew\n<!-- end generated -->\nb\n"
        "<!-- generated: costs -->\ntheirs\n<!-- end generated -->\n")
    monkeypatch = pytest.MonkeyPatch()
    monkeypatch.setattr(readme, "BLOCKS", blocks)
    try:
        assert readme.stale_blocks(page) == ["numbers"]
        assert readme.refresh_readme(page) and readme.stale_blocks(page) == []
        assert not readme.refresh_readme(page)  # nothing left to change
    finally:
        monkeypatch.undo()


def _claims(path: Path, verdicts: list[tuple[str, str]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as f:
        w = csv.DictWriter(f, ["paper", "id", "verdict"])
        w.writeheader()
        for k, (paper, verdict) in enumerate(verdicts):
            w.writerow({"paper": paper, "id": f"c{k}", "verdict": verdict})


def test_numbers_block_counts_verdicts_seeds_and_split(tmp_path):
    root = tmp_path / "results"
    _claims(root / "quick" / "claims.csv", [("ltnet", "supported"), ("ltnet", "inconclusive"),
                                            ("msrnet", "supported")])
    for seed in (0, 1):
        d = root / "quick" / "msrnet" / "table2" / "dmshn_cl" / f"seed={seed}"
        d.mkdir(parents=True)
        (d / "run.json").write_text(json.dumps({"seed": seed, "split": "test"}))
    md = readme.numbers_block(root, REPO / "notebooks")
    assert "| LTNet | 2 | 1 | 0 | 0 | 1 | 0 |" in md
    assert "| MSR-Net | 1 | 1 | 0 | 0 | 0 | 0 |" in md
    assert "| **all** | 3 | 2 | 0 | 0 | 1 | 0 |" in md
    assert "2 seeds for 1 row" in md and "test split (1 row)" in md
    assert "out of date with the code" in md  # no executed notebooks in this results folder


def test_reproduce_and_book_refresh_the_readme_only_for_the_committed_profile(monkeypatch):
    calls = []
    monkeypatch.setattr(readme, "refresh_readme", lambda: calls.append(1) or True)
    cli._refresh_readme("smoke")
    assert calls == []
    cli._refresh_readme("quick")
    assert calls == [1]
