"""Students' exercises (notebooks/<paper>/exercises.yaml): every file validates, every command
runs a real row with real parameters, no text states a budget the recipes do not use, every
time is measured, a broken file names itself and the bad entry."""

import json
import re
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
        timing = exercises.exercise_timing(ex.row, ex.set, NOTEBOOKS, REPO / "results")
        assert timing is not None and timing.seconds > 0, f"{ex.id}: no measured time"
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


@pytest.mark.parametrize("paper", exercises.papers_with_exercises(NOTEBOOKS))
def test_no_exercise_states_a_budget_the_recipe_does_not_use(paper):
    """Every count of steps or seeds in the rendered text is one of the plans' (the try's or
    the committed row's), and the raw files type none (they use placeholders)."""
    raw = exercises.exercises_path(paper, NOTEBOOKS).read_text()
    for line in raw.splitlines():
        if not line.lstrip().startswith("#"):
            assert not exercises.TYPED_BUDGET.search(line), line
    md = exercises.exercises_markdown(paper, NOTEBOOKS, REPO / "results")
    allowed = {"step": set(), "seed": set()}
    for ex in exercises.load_exercises(paper, NOTEBOOKS):
        for changes in (ex.set, {}):
            plan = exercises.plan_of(ex.row, changes, NOTEBOOKS)
            allowed["step"].add(int(plan["steps"] or 0))
            allowed["seed"].add(len(plan.get("data") or []) or 3)
        assert "{" not in exercises.fill(ex.question, exercises.budget_values(ex, NOTEBOOKS))
    prose = re.sub(r"```.*?```", "", md, flags=re.S)
    for n, noun in re.findall(r"(\d[\d,]*) (step|seed)s?\b", prose):
        assert int(n.replace(",", "")) in allowed[noun], f"{paper}: '{n} {noun}' not a recipe's"
    assert "150 steps" not in md and "instead of one" not in md


def test_times_come_from_the_committed_run_json(tmp_path):
    """The time of a try is the committed seconds per seed (the run that trained, when a
    training is shared) times the try's seeds, on the machine the run.json names."""
    root = tmp_path / "results"
    base = root / "quick" / "msrnet" / "table2"
    for variant, seconds in (("dmshn_cl", 5.0), ("dmshn_csl", 100.0)):
        for seed in (0, 1, 2):
            d = base / variant / f"seed={seed}"
            d.mkdir(parents=True)
            (d / "run.json").write_text(json.dumps({
                "table": "table2", "variant": variant, "seed": seed,
                "wall_time_s": seconds + seed, "params": {"train_steps": 800},
                "extra": {"training_key": f"k{seed}" if variant == "dmshn_cl" or seed else "x",
                          "train_steps": 800},
                "provenance": {"device": "cpu", "device_name": "Test CPU", "cpu_count": 4}}))
    per_seed, steps, machine = exercises.row_seconds_per_seed("msrnet/table2/dmshn_cl", root)
    # seed 0 trained itself (5 s); seeds 1 and 2 shared the csl row's training (101, 102 s)
    assert per_seed == pytest.approx((5 + 101 + 102) / 3) and steps == 800
    assert machine == "Test CPU, 4 cores"
    t = exercises.exercise_timing("msrnet/table2/dmshn_cl", {"seeds": [0]}, NOTEBOOKS, root)
    assert t.seeds == 1 and t.seconds == pytest.approx(per_seed)
    assert exercises.row_seconds_per_seed("msrnet/table2/dmshn_mse", root) is None


def test_newcomer_recipe_is_a_one_seed_try_of_the_fastest_trained_row():
    fr = exercises.first_run(NOTEBOOKS, REPO / "results")
    assert fr is not None and fr.timing.seeds == 1
    argv = shlex.split(fr.command)
    args = cli.build_parser().parse_args(argv[1:])
    assert args.row == fr.row and reproduce.parse_set(args.changes) == {"seeds": [0]}
    md = exercises.newcomer_markdown(NOTEBOOKS, REPO / "results")
    assert fr.command in md and fr.timing.machine in md


@pytest.mark.parametrize("text, problem", [
    ("after the same 150 steps", "typed budget '150 steps'"),
    ("three seeds instead of one", "typed budget 'three seeds'"),
    ("about 8.5 minutes", "typed budget '8.5 minutes'"),
    ("one seed each", "typed budget 'one seed'"),
    ("after {stpes}", "unknown placeholder {stpes}"),
])
def test_check_text_finds_typed_budgets(text, problem):
    assert problem in exercises.check_text(text)
    assert exercises.check_text("after {steps}, with {seeds}; seed 1 of {row_seeds}") == []


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
    question: Predict it after {steps}.
    compare: PSNR.
    hint: Look.
    expected: It moves.
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
    ("    expected: It moves.\n", "    expected: It moves.\n    minutes: 1.5\n",
     r"unknown field\(s\) \['minutes'\].*the time is measured"),
    ("Predict it after {steps}.", "Predict it after 150 steps.", "typed budget '150 steps'"),
    ("Predict it after {steps}.", "Predict it after {step}.", r"unknown placeholder \{step\}"),
    ("    expected: It moves.\n", "", r"missing field\(s\) \['expected'\]"),
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


def test_a_one_seed_try_renders_only_its_seeds_data(monkeypatch, tmp_path):
    """The newcomer's one-seed try announces and renders one seed's SynVIDIT sets, not the
    profile's every seed (whose render time the recipe would otherwise understate)."""
    seen = []

    class Stop(Exception):
        pass

    def fake_render(prof, log=print):
        seen.append(prof.seeds)
        raise Stop

    monkeypatch.setattr(reproduce, "render_data", fake_render)
    with pytest.raises(Stop):
        reproduce.try_row("msrnet", "table2", "dmshn_mse", {"seeds": [0]}, profile="quick",
                          results_root=tmp_path / "ex", notebooks_dir=NOTEBOOKS)
    assert seen == [(0,)]
    render = exercises.render_timing([0])
    assert render is None or render.sets == 2  # one seed: its Track-1 and any-to-any sets
