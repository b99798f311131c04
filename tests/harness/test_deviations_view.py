"""relight_lib/harness/deviations_view.py: a chapter states each deviation once."""

import json
from pathlib import Path

import pytest

from relight_lib.harness import deviations_view as dv


def _write(root: Path, table: str, variant: str, devs, seed: int = 0) -> None:
    p = root / "quick" / "p" / table / variant / f"seed={seed}"
    p.mkdir(parents=True)
    (p / "run.json").write_text(json.dumps({"deviations": devs}))


def test_common_sentences_are_stated_once_and_the_rest_with_their_rows(tmp_path: Path) -> None:
    _write(tmp_path, "t1", "a", ["data", "amp", "only a"])
    _write(tmp_path, "t1", "b", ["data", "amp", "b and c"])
    _write(tmp_path, "t2", "c", ["amp", "data", "b and c"])
    md = dv.deviations_markdown("p", "quick", results_root=tmp_path)
    assert md.count("- data") == 1 and md.count("- amp") == 1
    assert "- only a *(t1: `a`)*" in md
    assert "- b and c *(t1: `b`; t2: `c`)*" in md
    common, specific = dv.group_deviations(dv.collect_deviations("p", "quick",
                                                                 results_root=tmp_path))
    assert common == ["data", "amp"] and [s for s, _ in specific] == ["only a", "b and c"]


def test_rows_select_and_order_and_missing_runs_are_left_out(tmp_path: Path) -> None:
    _write(tmp_path, "t1", "a", ["x"])
    _write(tmp_path, "t1", "b", ["y"])
    got = dv.collect_deviations("p", "quick", results_root=tmp_path,
                                rows=[("t1", "b"), ("t1", "missing"), ("t1", "a")])
    assert list(got) == [("t1", "b"), ("t1", "a")]
    assert "No row" in dv.deviations_markdown("p", "quick", seed=3, results_root=tmp_path)


def test_a_broken_run_json_names_the_file(tmp_path: Path) -> None:
    p = tmp_path / "quick" / "p" / "t" / "v" / "seed=0"
    p.mkdir(parents=True)
    (p / "run.json").write_text("{not json")
    with pytest.raises(ValueError, match="run.json"):
        dv.collect_deviations("p", "quick", results_root=tmp_path)
