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
        minutes: 2                            # measured at the quick profile on a 2-core CPU
        question: Predict ... before you run it.
        compare: PSNR and SSIM against the committed dmshn_cl and dmshn_mse rows.
        hint: What to look at, without the answer.
        claim: cl_beats_mse_dmshn_psnr        # optional: an id of notebooks/<paper>/claims.yaml
        name: my_name                         # optional: the try's name (default: from `set`)

:func:`load_exercises` checks every entry (the row exists, every ``set`` key is a parameter of
the row's notebook, the claim exists) and names the file and the entry in its error;
:func:`exercises_markdown` renders a paper's exercises for its chapter.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from relight_lib.harness import reproduce

FILE_NAME = "exercises.yaml"
PROFILE = "quick"
_REQUIRED = ("id", "title", "row", "set", "minutes", "question", "compare", "hint")
_OPTIONAL = ("claim", "name")
_ID = re.compile(r"^[a-z0-9][a-z0-9_]*$")


class ExerciseError(ValueError):
    """An exercises.yaml that does not fit the rules; the message names the file and entry."""


@dataclass(frozen=True)
class Exercise:
    id: str
    title: str
    row: str
    set: dict[str, Any]
    minutes: float
    question: str
    compare: str
    hint: str
    claim: str | None = None
    name: str | None = None
    claim_text: str = field(default="", compare=False)

    @property
    def command(self) -> str:
        """The ``relight try`` command line, as a student types it from the repository root."""
        parts = [".venv/bin/relight", "try", self.row]
        for key, value in self.set.items():
            parts += ["--set", shlex.quote(f"{key}={value_text(value)}")]
        if self.name:
            parts += ["--name", self.name]
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


def load_exercises(paper: str, notebooks_dir: Path = reproduce.NOTEBOOKS_DIR) -> list[Exercise]:
    """The checked exercises of ``paper`` (an empty list when it has no exercises.yaml).

    Raises:
        ExerciseError: naming the file and the entry: not valid YAML, a missing or unknown
            field, a row that does not exist, a ``set`` key that is not a parameter of the
            row's notebook, an unknown claim, a duplicate id.
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
            raise ExerciseError(f"{where}: " + "; ".join(
                ([f"missing field(s) {missing}"] if missing else [])
                + ([f"unknown field(s) {unknown}"] if unknown else []))
                + f" (fields: {list(_REQUIRED)}, optional {list(_OPTIONAL)})")
        ex_id = str(entry["id"])
        if not _ID.match(ex_id):
            raise ExerciseError(f"{where}: id must be lower-case letters, digits and '_'")
        if any(e.id == ex_id for e in out):
            raise ExerciseError(f"{where}: duplicate id {ex_id!r}")
        for f in ("title", "question", "compare", "hint"):
            if not isinstance(entry[f], str) or not entry[f].strip():
                raise ExerciseError(f"{where}: {f!r} must be non-empty text")
        minutes = entry["minutes"]
        if isinstance(minutes, bool) or not isinstance(minutes, (int, float)) or minutes <= 0:
            raise ExerciseError(f"{where}: 'minutes' must be a positive number, got {minutes!r}")
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
        out.append(Exercise(ex_id, entry["title"].strip(), row_name, dict(changes),
                            float(minutes), entry["question"].strip(), entry["compare"].strip(),
                            entry["hint"].strip(), str(claim) if claim is not None else None,
                            str(name) if name is not None else None,
                            claims.get(str(claim), "") if claim is not None else ""))
    return out


def papers_with_exercises(notebooks_dir: Path = reproduce.NOTEBOOKS_DIR) -> list[str]:
    return sorted(p.parent.name for p in Path(notebooks_dir).glob(f"*/{FILE_NAME}"))


def _minutes(m: float) -> str:
    if m < 1:
        return f"under a minute ({m * 60:.0f} s)"
    return f"about {m:g} minute{'s' if m != 1 else ''}"


def exercises_markdown(paper: str, notebooks_dir: Path = reproduce.NOTEBOOKS_DIR) -> str:
    """The exercises of ``paper`` as Markdown for its chapter (plain CommonMark: bold titles,
    fenced commands, no headings, which a notebook output cannot add to the page's outline)."""
    exercises = load_exercises(paper, notebooks_dir)
    if not exercises:
        return f"*No exercises for {paper} yet.*"
    lines = [
        "Each exercise reruns one row of a table with a parameter changed, at the quick profile, "
        "with `relight try` from the repository root. The run goes to `_build/exercises/`, never "
        "to `results/`, and the command ends by printing each metric of the committed row next to "
        "the new run's and their difference. **Write down your prediction before you run it.** "
        "The times were measured on a 2-core CPU with nothing else running. Trainings are "
        "shared: a change that does not alter the training (a post-process, the evaluation) "
        "reuses an earlier run's checkpoint when there is one, and running the same command "
        "twice only prints the comparison again.",
        "",
    ]
    for k, ex in enumerate(exercises, 1):
        lines += [f"**{k}. {ex.title}** ({_minutes(ex.minutes)})", "", ex.question, "",
                  "```bash", ex.command, "```", "", f"*Compare:* {ex.compare}"]
        if ex.claim:
            lines[-1] += f" The claim at stake: \"{ex.claim_text}\" (`{ex.claim}`)."
        lines += ["", f"*What to look for:* {ex.hint}", ""]
    return "\n".join(lines).rstrip() + "\n"
