"""Students' exercises (notebooks/<paper>/exercises.yaml): every file validates, every command
runs a real row with real parameters, a broken file names itself and the bad entry."""

import shlex
import shutil
from pathlib import Path

import pytest

from relight_lib import cli
from relight_lib.harness import exercises, reproduce

REPO = Path(__file__).resolve().parents[2]
NOTEBOOKS = REPO / "notebooks"
PAPERS = ("ltnet", "msrnet", "mbnet", "swapnet")


def test_every_paper_has_two_or_three_exercises():
    have = exercises.papers_with_exercises(NOTEBOOKS)
    assert set(PAPERS) <= set(have)
    for paper in PAPERS:
        assert 2 <= len(exercises.load_exercises(paper, NOTEBOOKS)) <= 3, paper


@pytest.mark.parametrize("paper", exercises.papers_with_exercises(NOTEBOOKS))
def test_every_exercise_runs_a_real_row_with_real_parameters(paper):
    rows = {r.name: r for r in reproduce.load_rows(NOTEBOOKS)}
    for ex in exercises.load_exercises(paper, NOTEBOOKS):
        row = rows[ex.row]
        assert row.runs_at(exercises.PROFILE), f"{ex.id}: nothing committed to compare with"
        declared = reproduce.notebook_parameters(row.notebook)
        assert set(ex.set) <= set(declared) - set(reproduce.RUNNER_PARAMETERS), ex.id
        assert 0 < ex.minutes <= 10, f"{ex.id}: exercises should take minutes on a laptop CPU"
        # the command a student copies parses back to the same row and changes
        argv = shlex.split(ex.command)
        assert argv[:2] == [".venv/bin/relight", "try"]
        args = cli.build_parser().parse_args(argv[1:])
        assert args.row == ex.row and args.profile == "quick"
        assert reproduce.parse_set(args.changes) == ex.set


def test_markdown_shows_every_exercise_without_headings():
    for paper in PAPERS:
        md = exercises.exercises_markdown(paper, NOTEBOOKS)
        for ex in exercises.load_exercises(paper, NOTEBOOKS):
            assert ex.title in md and ex.command in md and ex.hint.split()[0] in md
        in_code = False
        for line in md.splitlines():
            in_code ^= line.startswith("```")
            assert in_code or not line.startswith("#"), line
    assert "No exercises" in exercises.exercises_markdown("nobody", NOTEBOOKS)


@pytest.mark.parametrize("paper", ["baselines", *PAPERS])
def test_chapter_ends_with_the_exercises_cell(paper):
    text = (REPO / "book" / paper / "index.md").read_text().rstrip()
    assert text.endswith(f'Markdown(exercises.exercises_markdown("{paper}"))\n```')
    assert ":tags: [remove-input]" in text.rsplit("```{code-cell}", 1)[1]


GOOD = """exercises:
  - id: split
    title: A split
    row: msrnet/table2/dmshn_cl
    set: {stage1_fraction: 0.25}
    minutes: 1.5
    question: Predict it.
    compare: PSNR.
    hint: Look.
    claim: cl_beats_mse_dmshn_psnr
"""


@pytest.fixture
def msrnet_copy(tmp_path):
    d = tmp_path / "notebooks" / "msrnet"
    d.mkdir(parents=True)
    for f in ("runs.yaml", "claims.yaml", "table1.ipynb", "table2.ipynb"):
        shutil.copy(NOTEBOOKS / "msrnet" / f, d / f)
    return tmp_path / "notebooks"


def test_a_good_copy_loads(msrnet_copy):
    (msrnet_copy / "msrnet" / "exercises.yaml").write_text(GOOD)
    (ex,) = exercises.load_exercises("msrnet", msrnet_copy)
    assert ex.command == (".venv/bin/relight try msrnet/table2/dmshn_cl "
                          "--set stage1_fraction=0.25")
    assert ex.claim_text.startswith("Two-stage training")


@pytest.mark.parametrize("old, new, match", [
    ("{stage1_fraction: 0.25}", "{stage1_fractoin: 0.25}",
     r"exercise 1 \('split'\): \S*notebooks/msrnet/table2.ipynb has no parameter "
     r"'stage1_fractoin'.*valid: batch_size, budget_scale, data_root, init, loss, lr, "
     r"model, seeds, stage1_fraction, steps"),
    ("{stage1_fraction: 0.25}", "{variant: x}", "variant is set by the runner"),
    ("{stage1_fraction: 0.25}", "{}", "'set' must map"),
    ("row: msrnet/table2/dmshn_cl", "row: msrnet/table2/nope", "no row 'msrnet/table2/nope'"),
    ("row: msrnet/table2/dmshn_cl", "row: ltnet/table2/i_d", "must be msrnet/TABLE/VARIANT"),
    ("claim: cl_beats_mse_dmshn_psnr", "claim: made_up", "claim 'made_up' is not an id"),
    ("    hint: Look.\n", "", r"missing field\(s\) \['hint'\]"),
    ("    hint: Look.\n", "    hint: Look.\n    answer: 42\n", r"unknown field\(s\) \['answer'\]"),
    ("minutes: 1.5", "minutes: soon", "'minutes' must be a positive number"),
    ("id: split", "id: Split me", "id must be"),
    ("exercises:", "exercise:", "non-empty 'exercises:' list"),
    ("{stage1_fraction: 0.25}", "{stage1_fraction: [0.25", "not valid YAML"),
])
def test_a_broken_file_names_itself_and_the_entry(msrnet_copy, old, new, match):
    assert old in GOOD
    path = msrnet_copy / "msrnet" / "exercises.yaml"
    path.write_text(GOOD.replace(old, new))
    with pytest.raises(exercises.ExerciseError, match=match) as e:
        exercises.load_exercises("msrnet", msrnet_copy)
    assert str(path) in str(e.value)


def test_duplicate_ids_are_an_error(msrnet_copy):
    path = msrnet_copy / "msrnet" / "exercises.yaml"
    path.write_text(GOOD + GOOD.split("\n", 1)[1])
    with pytest.raises(exercises.ExerciseError, match=r"exercise 2 \('split'\): duplicate id"):
        exercises.load_exercises("msrnet", msrnet_copy)
