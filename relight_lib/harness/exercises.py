"""Exercises for students: ``notebooks/<paper>/exercises.yaml``, checked and shown in the book.

Each exercise changes one or two parameters of one table row and runs it with ``relight try``
(:func:`relight_lib.harness.reproduce.try_row`) at the quick profile, on a laptop CPU, into
``_build/exercises/``: the committed results are never touched. The student predicts the effect
first, then compares the printed metrics with the committed row. A file looks like::

    exercises:
      - id: stage_split                       # unique in the file; letters, digits, '_'
        title: The stage split the paper does not give
        row: msrnet/table2/dmshn_cl           # PAPER/TABLE/VARIANT of notebooks/<paper>/runs.yaml
        set: {stage1_fraction: 0.25}          # parameters of the row's notebook to change
        question: Give stage 1 a quarter of the {steps} ... Predict before you run it.
        compare: PSNR and SSIM against the committed dmshn_cl and dmshn_mse rows.
        hint: What to look at, without the answer.
        expected: The instructor's note - the outcome to expect and why.
        claim: cl_beats_mse_dmshn_psnr        # optional: an id of notebooks/<paper>/claims.yaml
        name: my_name                         # optional: the try's name (default: from `set`)

Nothing in a file is typed that the recipes or the measurements know: the text names a budget
through placeholders (:data:`PLACEHOLDERS`, e.g. ``{steps}``, ``{seeds}``) that
:func:`budget_values` fills from the plan of the row as the try runs it
(:func:`relight_lib.harness.reproduce.plan_row`), and a count of steps, seeds, epochs or
minutes typed into the text is an error. The time of an exercise is measured, not typed
(:func:`exercise_timing`): the seconds one seed of the committed row took in its ``run.json``
(the run that trained, when trainings are shared), times the try's seeds, on the machine that
recorded them; the one-time render of the quick data comes from the render benchmark
(:func:`render_timing`).

:func:`load_exercises` checks every entry (the row exists, every ``set`` key is a parameter of
the row's notebook, the claim exists, the placeholders are known, no typed budget) and names the
file and the entry in its error; :func:`exercises_markdown` renders a paper's exercises for its
chapter and :func:`newcomer_markdown` the first run of a newcomer.
"""

from __future__ import annotations

import functools
import json
import re
import shlex
import string
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from relight_lib.harness import reproduce

FILE_NAME = "exercises.yaml"
PROFILE = "quick"
_REQUIRED = ("id", "title", "row", "set", "question", "compare", "hint", "expected")
_OPTIONAL = ("claim", "name")
_TEXTS = ("title", "question", "compare", "hint", "expected")
_ID = re.compile(r"^[a-z0-9][a-z0-9_]*$")

#: The placeholders an exercise's text may use, filled by :func:`budget_values` from the plans
#: of the try and of the committed row at the quick profile.
PLACEHOLDERS = {
    "steps": "the try's optimiser steps, with the noun ('800 steps')",
    "row_steps": "the committed row's steps ('800 steps')",
    "seeds": "the seeds the try trains ('1 seed', '3 seeds')",
    "row_seeds": "the seeds of the committed row ('3 seeds')",
    "batch_size": "the try's batch size (a number)",
    "lr": "the try's peak learning rate ('0.001')",
}

#: A budget typed into the text instead of a placeholder: a count of steps, seeds, epochs or
#: minutes, in digits or words ("150 steps", "three seeds", "one seed each").
TYPED_BUDGET = re.compile(
    r"\b(?:\d[\d,.]*|one|two|three|four|five|six|seven|eight|nine|ten|a hundred)"
    r"\s+(?:training\s+|optimi[sz]er\s+)?(?:steps?|seeds?|epochs?|minutes?|min|hours?)\b",
    re.IGNORECASE)


class ExerciseError(ValueError):
    """An exercises.yaml that does not fit the rules; the message names the file and entry."""


@dataclass(frozen=True)
class Exercise:
    """One checked exercise; its text fields are templates (:data:`PLACEHOLDERS`)."""

    id: str
    title: str
    row: str
    set: dict[str, Any]
    question: str
    compare: str
    hint: str
    expected: str
    claim: str | None = None
    name: str | None = None
    claim_text: str = field(default="", compare=False)

    @property
    def command(self) -> str:
        """The ``relight try`` command line, as a student types it from the repository root."""
        return try_command(self.row, self.set, self.name)


def try_command(row: str, changes: dict[str, Any], name: str | None = None) -> str:
    """``.venv/bin/relight try ROW --set KEY=VALUE ...`` (values quoted for a POSIX shell).

    >>> try_command("msrnet/table2/dmshn_mse", {"seeds": [0]})
    ".venv/bin/relight try msrnet/table2/dmshn_mse --set 'seeds=[0]'"
    """
    parts = [".venv/bin/relight", "try", row]
    for key, value in changes.items():
        parts += ["--set", shlex.quote(f"{key}={value_text(value)}")]
    if name:
        parts += ["--name", name]
    return " ".join(parts)


def value_text(value: Any) -> str:
    """A value as ``--set`` reads it back (a YAML flow literal).

    >>> [value_text(v) for v in (0.25, True, None, ["rgb", "depth"], "4,32", "code")]
    ['0.25', 'true', 'null', '[rgb, depth]', '4,32', 'code']
    """
    text = yaml.safe_dump(value, default_flow_style=True, width=10_000).strip()
    return text.removesuffix("\n...").removesuffix("...").strip()


def exercises_path(paper: str, notebooks_dir: Path = reproduce.NOTEBOOKS_DIR) -> Path:
    return Path(notebooks_dir) / paper / FILE_NAME


def _claims(paper: str, notebooks_dir: Path) -> dict[str, str]:
    path = Path(notebooks_dir) / paper / "claims.yaml"
    if not path.exists():
        return {}
    return {str(c["id"]): str(c.get("text", "")) for c in yaml.safe_load(path.read_text()) or []
            if isinstance(c, dict) and "id" in c}


def check_text(text: str) -> list[str]:
    """The problems of one text field: unknown placeholders, a typed budget, a brace that is
    not a placeholder (empty list: fine).

    >>> check_text("after {steps}, with {seeds}")
    []
    >>> check_text("after the same 150 steps, three seeds instead of {nseeds}")
    ['unknown placeholder {nseeds}', "typed budget '150 steps'", "typed budget 'three seeds'"]
    """
    problems = []
    try:
        names = [f for _, f, _, _ in string.Formatter().parse(text) if f is not None]
    except ValueError as e:
        return [f"braces that are not a placeholder ({e})"]
    problems += [f"unknown placeholder {{{n}}}" for n in names if n not in PLACEHOLDERS]
    problems += [f"typed budget {m.group(0)!r}" for m in TYPED_BUDGET.finditer(text)]
    return problems


def load_exercises(paper: str, notebooks_dir: Path = reproduce.NOTEBOOKS_DIR) -> list[Exercise]:
    """The checked exercises of ``paper`` (an empty list when it has no exercises.yaml).

    Raises:
        ExerciseError: naming the file and the entry: not valid YAML, a missing or unknown
            field, a row that does not exist, a ``set`` key that is not a parameter of the
            row's notebook, an unknown claim, a duplicate id, an unknown placeholder or a
            budget typed into the text.
    """
    path = exercises_path(paper, notebooks_dir)
    if not path.exists():
        return []
    try:
        spec = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as e:
        raise ExerciseError(f"{path}: not valid YAML ({e})") from e
    entries = spec.get("exercises") if isinstance(spec, dict) else None
    if not isinstance(entries, list) or not entries:
        raise ExerciseError(f"{path}: needs a non-empty 'exercises:' list")
    rows = reproduce.load_rows(notebooks_dir)
    claims = _claims(paper, notebooks_dir)
    out: list[Exercise] = []
    for k, entry in enumerate(entries, 1):
        where = f"{path}: exercise {k}" + (f" ({entry.get('id')!r})"
                                           if isinstance(entry, dict) and "id" in entry else "")
        if not isinstance(entry, dict):
            raise ExerciseError(f"{where}: must be a mapping with the fields {list(_REQUIRED)}")
        missing = [f for f in _REQUIRED if f not in entry]
        unknown = sorted(set(entry) - set(_REQUIRED) - set(_OPTIONAL))
        if missing or unknown:
            hint = (" ('minutes' is gone: the time is measured, see exercises.exercise_timing)"
                    if "minutes" in unknown else "")
            raise ExerciseError(f"{where}: " + "; ".join(
                ([f"missing field(s) {missing}"] if missing else [])
                + ([f"unknown field(s) {unknown}"] if unknown else []))
                + f" (fields: {list(_REQUIRED)}, optional {list(_OPTIONAL)}){hint}")
        ex_id = str(entry["id"])
        if not _ID.match(ex_id):
            raise ExerciseError(f"{where}: id must be lower-case letters, digits and '_'")
        if any(e.id == ex_id for e in out):
            raise ExerciseError(f"{where}: duplicate id {ex_id!r}")
        for f in _TEXTS:
            if not isinstance(entry[f], str) or not entry[f].strip():
                raise ExerciseError(f"{where}: {f!r} must be non-empty text")
            problems = check_text(entry[f])
            if problems:
                raise ExerciseError(
                    f"{where}: {f!r}: {'; '.join(problems)} (name a budget with a placeholder, "
                    f"one of {', '.join('{' + n + '}' for n in PLACEHOLDERS)}: they are filled "
                    "from the row's recipe)")
        changes = entry["set"]
        if not isinstance(changes, dict) or not changes:
            raise ExerciseError(f"{where}: 'set' must map notebook parameters to new values")
        row_name = str(entry["row"])
        parts = row_name.split("/")
        if len(parts) != 3 or parts[0] != paper:
            raise ExerciseError(f"{where}: row {row_name!r} must be {paper}/TABLE/VARIANT")
        matches = [r for r in rows if r.name == row_name]
        if not matches:
            known = sorted(r.name for r in rows if r.paper == paper)
            raise ExerciseError(f"{where}: no row {row_name!r} in "
                                f"{Path(notebooks_dir) / paper / 'runs.yaml'}; rows: {known}")
        try:
            reproduce.check_changes(matches[0], changes)
        except reproduce.RunsFileError as e:
            raise ExerciseError(f"{where}: {e}") from e
        for key, value in changes.items():
            if reproduce.parse_set([f"{key}={value_text(value)}"])[key] != value:
                raise ExerciseError(f"{where}: the value of {key!r} does not survive the "
                                    "command line; use a number, true/false, null, text or a list")
        claim = entry.get("claim")
        if claim is not None and str(claim) not in claims:
            raise ExerciseError(f"{where}: claim {claim!r} is not an id of "
                                f"{Path(notebooks_dir) / paper / 'claims.yaml'}")
        name = entry.get("name")
        if name is not None and not reproduce._NAME.match(str(name)):
            raise ExerciseError(f"{where}: name {name!r}: use letters, digits, '_', '-', '.' "
                                "or '+'")
        out.append(Exercise(ex_id, *(entry[f].strip() for f in ("title",)), row_name,
                            dict(changes), *(entry[f].strip() for f in _TEXTS[1:]),
                            str(claim) if claim is not None else None,
                            str(name) if name is not None else None,
                            claims.get(str(claim), "") if claim is not None else ""))
    return out


def papers_with_exercises(notebooks_dir: Path = reproduce.NOTEBOOKS_DIR) -> list[str]:
    return sorted(p.parent.name for p in Path(notebooks_dir).glob(f"*/{FILE_NAME}"))


# --------------------------------------------------------------------------------------------
# budgets from the recipes

def _count(n: int, noun: str) -> str:
    return f"{n:,} {noun}{'' if n == 1 else 's'}"


@functools.lru_cache(maxsize=256)
def _plan(row_name: str, changes_json: str, notebooks_dir: str) -> dict[str, Any]:
    (row,) = [r for r in reproduce.load_rows(Path(notebooks_dir)) if r.name == row_name]
    changed = row.with_params(json.loads(changes_json))
    return reproduce.plan_row(changed, PROFILE)


def plan_of(row: str, changes: dict[str, Any] | None = None,
            notebooks_dir: Path = reproduce.NOTEBOOKS_DIR) -> dict[str, Any]:
    """The plan of ``row`` with ``changes`` at the quick profile (cached; nothing runs)."""
    return _plan(row, json.dumps(changes or {}, sort_keys=True), str(notebooks_dir))


def _seeds_of(plan: dict[str, Any]) -> int:
    from relight_lib.papers import profiles

    data = plan.get("data") or []
    return len(data) if data else len(profiles.resolve(PROFILE).seeds)


def budget_values(ex: Exercise, notebooks_dir: Path = reproduce.NOTEBOOKS_DIR) -> dict[str, str]:
    """The values of :data:`PLACEHOLDERS` for ``ex``, from the plans of the try (the row with
    ``ex.set``) and of the committed row at the quick profile."""
    tried = plan_of(ex.row, ex.set, notebooks_dir)
    base = plan_of(ex.row, {}, notebooks_dir)
    peak = max((lr for _, lr in tried.get("lr_schedule") or []), default=None)
    return {"steps": _count(int(tried.get("steps") or 0), "step"),
            "row_steps": _count(int(base.get("steps") or 0), "step"),
            "seeds": _count(_seeds_of(tried), "seed"),
            "row_seeds": _count(_seeds_of(base), "seed"),
            "batch_size": str(tried.get("batch_size")),
            "lr": f"{peak:.3g}" if peak is not None else "n/a"}


def fill(text: str, values: dict[str, str]) -> str:
    """``text`` with its placeholders filled."""
    return text.format_map(values)


# --------------------------------------------------------------------------------------------
# times from measurements

@dataclass(frozen=True)
class Timing:
    """How long a try takes, from measurements (never typed).

    ``seconds_per_seed`` is the mean over the committed row's seeds of the wall time of the
    run that trained it (``run.json``'s ``wall_time_s``; when rows share a training the one
    that trained took longest), scaled by the try's steps over the committed row's.
    """

    seconds_per_seed: float
    seeds: int
    machine: str
    source: str

    @property
    def seconds(self) -> float:
        return self.seconds_per_seed * self.seeds


def _run_jsons(results_root: Path, paper: str) -> list[dict[str, Any]]:
    out = []
    for f in sorted(Path(results_root, PROFILE, paper).glob("*/*/seed=*/run.json")):
        try:
            out.append(json.loads(f.read_text()))
        except (OSError, json.JSONDecodeError):
            continue
    return out


def _machine(run: dict[str, Any]) -> str:
    prov = run.get("provenance") or {}
    name = prov.get("device_name") or prov.get("device") or "an unnamed machine"
    cores = prov.get("cpu_count")
    return f"{name}, {cores} cores" if cores and prov.get("device") == "cpu" else str(name)


def row_seconds_per_seed(row: str, results_root: Path = reproduce.RESULTS_DIR
                         ) -> tuple[float, int, str] | None:
    """``(seconds per seed, steps, machine)`` of a fresh run of the committed ``row`` at the
    quick profile, from its ``run.json`` files; None when it has none with a wall time.

    Rows that share a training (same ``extra.training_key`` and seed) record only their own
    evaluation when another row trained first, so each seed counts the longest run of its
    training: the one that trained.
    """
    paper, table, variant = reproduce.parse_row_spec(row)
    runs = _run_jsons(Path(results_root), paper)
    own = [r for r in runs if r.get("table") == table and r.get("variant") == variant
           and isinstance(r.get("wall_time_s"), (int, float)) and r["wall_time_s"] >= 0]
    if not own:
        return None
    per_seed = []
    for r in own:
        key = (r.get("extra") or {}).get("training_key")
        same = [o["wall_time_s"] for o in runs
                if key and (o.get("extra") or {}).get("training_key") == key
                and o.get("seed") == r.get("seed")
                and isinstance(o.get("wall_time_s"), (int, float))]
        per_seed.append(max([r["wall_time_s"], *same]))
    steps = (own[0].get("extra") or {}).get("train_steps") or \
        (own[0].get("params") or {}).get("train_steps") or 0
    return sum(per_seed) / len(per_seed), int(steps), _machine(own[0])


def exercise_timing(row: str, changes: dict[str, Any], notebooks_dir: Path =
                    reproduce.NOTEBOOKS_DIR, results_root: Path = reproduce.RESULTS_DIR
                    ) -> Timing | None:
    """The measured time of ``relight try row --set changes`` (without the data render), or
    None when the committed row has no timed run."""
    measured = row_seconds_per_seed(row, results_root)
    if measured is None:
        return None
    per_seed, steps, machine = measured
    tried = plan_of(row, changes, notebooks_dir)
    base_steps = int(plan_of(row, {}, notebooks_dir).get("steps") or 0)
    if base_steps and tried.get("steps") and tried["steps"] != base_steps:
        per_seed *= tried["steps"] / base_steps  # training dominates; it scales with steps
    return Timing(per_seed, _seeds_of(tried), machine,
                  f"{Path(results_root) / PROFILE / row}/seed=*/run.json")


@dataclass(frozen=True)
class RenderTiming:
    """The one-time render of the quick profile's SynVIDIT sets (those ``seeds`` read)."""

    seconds: float
    sets: int
    missing: int
    measured: str


def render_timing(seeds: list[int] | None = None) -> RenderTiming | None:
    """Estimated render time of the quick data from the render benchmark
    (:func:`relight_lib.library.data.synvidit.estimate_render_seconds`, which names the machine
    that measured it); None when a set's time was never measured."""
    from relight_lib.library.data import synvidit
    from relight_lib.papers import profiles

    prof = profiles.resolve(PROFILE, seeds=seeds)
    sets = profiles.ensure_data(prof, dry_run=True, log=lambda *a: None)
    if not sets or any(s["estimate_s"] is None for s in sets):
        return None
    cfgs = profiles.data_sets(prof)
    est = synvidit.estimate_render_seconds(next(iter(cfgs.values())))
    return RenderTiming(sum(s["estimate_s"] for s in sets), len(sets),
                        sum(s["state"] != "complete" for s in sets),
                        est["measured"] if est else "?")


def _minutes(seconds: float) -> str:
    m = seconds / 60
    if m < 1:
        return f"under a minute ({seconds:.0f} s)"
    return f"about {m:.0f} min" if m >= 10 else f"about {m:.1f} min"


# --------------------------------------------------------------------------------------------
# Markdown for the book

def _time_text(t: Timing | None, render: RenderTiming | None) -> str:
    text = ("time not measured: the committed row has no timed run" if t is None else
            f"{_minutes(t.seconds)} for {_count(t.seeds, 'seed')}"
            + (f" of {_minutes(t.seconds_per_seed)} each" if t.seeds > 1 else "")
            + f", measured on {t.machine}")
    if render is not None:
        text += (f"; plus {_minutes(render.seconds)} the first time, to render the data of its "
                 "seeds")
    return text


def _render_sentence(r: RenderTiming | None) -> str:
    if r is None:
        return ("The first try also renders the quick profile's SynVIDIT data once (its time "
                "is not measured on any machine yet).")
    return ("A try first renders the SynVIDIT data of its seeds when they are missing (each "
            "seed draws its own scenes); `relight try` says so, with the time, before it starts, "
            "and later tries reuse the data. The render times come from the render benchmark "
            f"(`results/bench/synvidit_render.csv`, measured on {r.measured}).")


def exercises_markdown(paper: str, notebooks_dir: Path = reproduce.NOTEBOOKS_DIR,
                       results_root: Path = reproduce.RESULTS_DIR) -> str:
    """The exercises of ``paper`` as Markdown for its chapter (plain CommonMark: bold titles,
    fenced commands, no headings, which a notebook output cannot add to the page's outline).
    Budgets come from the recipes, times from the committed ``run.json`` files and the
    render benchmark; each exercise ends with a folded instructor's note."""
    exercises = load_exercises(paper, notebooks_dir)
    if not exercises:
        return f"*No exercises for {paper} yet.*"
    lines = [
        "Each exercise reruns one row of a table with a parameter changed, at the quick profile, "
        "with `relight try` from the repository root. The run goes to `_build/exercises/`, never "
        "to `results/`, and the command ends by printing each metric of the committed row next to "
        "the new run's and their difference. **Write down your prediction before you run it.** "
        "Each time below is measured, not estimated by hand: the committed row's seconds per "
        "seed (its `run.json`, on the machine named) times the seeds the try trains. "
        + _render_sentence(render_timing()) + " Trainings are shared: a change that does not "
        "alter the training (a post-process, the evaluation) reuses an earlier run's checkpoint "
        "when there is one, and running the same command twice only prints the comparison again.",
        "",
    ]
    for k, ex in enumerate(exercises, 1):
        values = budget_values(ex, notebooks_dir)
        timing = exercise_timing(ex.row, ex.set, notebooks_dir, results_root)
        seeds = ex.set.get("seeds")
        render = render_timing(list(seeds) if isinstance(seeds, list) else None)
        lines += [f"**{k}. {fill(ex.title, values)}** ({_time_text(timing, render)})", "",
                  fill(ex.question, values), "", "```bash", ex.command, "```", "",
                  f"*Compare:* {fill(ex.compare, values)}"]
        if ex.claim:
            lines[-1] += f" The claim at stake: \"{ex.claim_text}\" (`{ex.claim}`)."
        lines += ["", f"*What to look for:* {fill(ex.hint, values)}", "",
                  "<details><summary>Instructor's note: what to expect</summary>", "",
                  fill(ex.expected, values), "", "</details>", ""]
    return "\n".join(lines).rstrip() + "\n"


# --------------------------------------------------------------------------------------------
# a newcomer's first run

@dataclass(frozen=True)
class FirstRun:
    """The cheapest one-to-one row to rerun with one seed, from measurements."""

    row: str
    command: str
    timing: Timing
    render: RenderTiming | None

    @property
    def seconds(self) -> float:
        return self.timing.seconds + (self.render.seconds if self.render else 0.0)


def first_run(notebooks_dir: Path = reproduce.NOTEBOOKS_DIR,
              results_root: Path = reproduce.RESULTS_DIR) -> FirstRun | None:
    """The trained one-to-one row (Track-1 pairs, a network) whose one seed took the least
    time in the committed results, as a one-seed ``relight try``; None when nothing is timed."""
    rows = {r.name: r for r in reproduce.load_rows(notebooks_dir)}
    best: tuple[float, str] | None = None
    for paper in sorted({r.paper for r in rows.values()}):
        for run in _run_jsons(Path(results_root), paper):
            name = f"{paper}/{run.get('table')}/{run.get('variant')}"
            # a network that trained (a row whose loss is unavailable records 0 steps)
            trained = (run.get("extra") or {}).get("parameters") and \
                (run.get("extra") or {}).get("train_steps")
            if (name not in rows or not trained or not rows[name].runs_at(PROFILE)
                    or (run.get("params") or {}).get("train_pairs") != "track1"):
                continue
            measured = row_seconds_per_seed(name, results_root)
            if measured and (best is None or measured[0] < best[0]):
                best = (measured[0], name)
    if best is None:
        return None
    changes = {"seeds": [0]}
    timing = exercise_timing(best[1], changes, notebooks_dir, results_root)
    assert timing is not None
    return FirstRun(best[1], try_command(best[1], changes), timing, render_timing([0]))


def newcomer_markdown(notebooks_dir: Path = reproduce.NOTEBOOKS_DIR,
                      results_root: Path = reproduce.RESULTS_DIR) -> str:
    """A newcomer's first run as Markdown: rerun one row with one seed and compare."""
    fr = first_run(notebooks_dir, results_root)
    if fr is None:
        return "*No committed row has a timed run yet: run `relight reproduce` first.*"
    render = (f"; rendering that seed's SynVIDIT data the first time adds "
              f"{_minutes(fr.render.seconds)} ({_count(fr.render.sets, 'set')}, from the render "
              f"benchmark on {fr.render.measured}), {_minutes(fr.seconds)} in all"
              if fr.render else "")
    return "\n".join([
        f"Rerun one row with one seed: `{fr.row}`, the one-to-one row whose seed trained "
        f"fastest in the committed results. One seed took {_minutes(fr.timing.seconds_per_seed)}"
        f" on {fr.timing.machine}{render}. From the repository root:",
        "", "```bash", fr.command, "```", "",
        "The try renders the data first when it is missing, shows its progress while it trains, "
        "and ends by printing each metric of the committed row (the mean of its seeds) next to "
        "your seed's. A difference of the size of the spread between the committed seeds "
        "(`seed=<k>/metrics.csv` in the row's folder) is a seed's luck, not a change.",
    ]) + "\n"
