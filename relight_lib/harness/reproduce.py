"""The runner behind ``relight reproduce``: one papermill run per table row.

Rows live in ``notebooks/<paper>/runs.yaml``::

    tables:
      onetoone:                       # the table key (results/<profile>/<paper>/<table>/...)
        notebook: onetoone.ipynb
        title: One-to-one baselines
        variants:
          identity: {method: identity}          # one row = one papermill run
          colour_lstsq: {method: colour_lstsq}
          big_model: {width: 64, only_profiles: [smoke, gpu, paper], why: "too slow on a CPU"}

``only_profiles`` (with a ``why``) keeps a row out of the other profiles: the runner reports it
as skipped and the book shows it as not run. Every run gets the parameters ``profile``, ``paper``, ``table``, ``variant``, ``results_root``
and ``cache_key`` plus the row's own; a name that the notebook's ``parameters`` cell does not
define is an error (papermill only warns). The executed notebook goes to
``results/<profile>/executed/<paper>/<table>__<variant>.ipynb``, the row's run page: without
stderr and without folders of the machine that ran it
(:func:`relight_lib.harness.run_page.sanitise_notebook`).

Cache: a row is up to date when every committed ``run.json`` of it (one per seed)

1. records the ``cache_key`` computed now: a hash of the notebook's source, the resolved
   parameters and the data's identity (:func:`cache_key`), and
2. lists, under ``library_files``, the sha256 of every ``relight_lib`` file the run imported
   (:func:`relight_lib.harness.results.imported_library_files`), and each of those files still has that
   hash (:func:`library_changes`; the plateau test, which the harness reapplies to the stored
   curves, is left out: :data:`relight_lib.library.record.READING_FILES`).

A row whose ``metrics.csv`` or ``per_image.csv`` no longer has the sha256 its ``run.json``
recorded is never up to date: ``edited by hand: rerun or restore``
(:func:`relight_lib.library.record.verify_run`); the book marks it and no claim uses it. A row
trained in another precision than this machine would use (bf16 autocast only where it runs
natively) is neither stale nor current: ``--list`` says so (:func:`precision_note`) and the
runner leaves it as it is.

``--force`` reruns anyway. So a fresh clone with committed results does nothing, and a change
reruns the rows it can affect: editing ``models/dmshn.py`` reruns the MSR-Net rows, not LTNet's;
editing ``losses.py`` reruns every row that trained with a loss. Rows are never judged fresh
on a file they did not import (the import set is recorded per run, not guessed).
"""

from __future__ import annotations

import ast
import contextlib
import dataclasses
import hashlib
import json
import os
import re
import shutil
import sys
import time
import traceback
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import yaml

from relight_lib import omp
from relight_lib.papers import profiles

KERNEL_NAME = "relight"
NOTEBOOKS_DIR = Path("notebooks")
RESULTS_DIR = Path("results")
#: Parameters the runner passes to every notebook.
RUNNER_PARAMETERS = ("profile", "paper", "table", "variant", "results_root", "cache_key")


@dataclass
class Row:
    """One table row to run."""

    paper: str
    table: str
    variant: str
    notebook: Path
    title: str
    params: dict[str, Any]
    only_profiles: tuple[str, ...] | None = None
    why: str = ""
    #: Parameters that hold at one profile only (``by_profile:`` in runs.yaml), e.g. a longer
    #: budget at the quick profile for a table whose rows had not stopped improving there; the
    #: other profiles keep ``params`` (the paper profile, the paper's own budget).
    by_profile: dict[str, dict[str, Any]] = field(default_factory=dict)

    def runs_at(self, profile: str) -> bool:
        return self.only_profiles is None or profile in self.only_profiles

    def params_at(self, profile: str) -> dict[str, Any]:
        """The row's parameters at ``profile``: ``params`` updated by its ``by_profile`` entry.

        >>> Row("p", "t", "v", Path("n.ipynb"), "", {"steps": None, "lr": 1},
        ...     by_profile={"quick": {"steps": 3200}}).params_at("quick")
        {'steps': 3200, 'lr': 1}
        """
        return {**self.params, **self.by_profile.get(profile, {})}

    def with_params(self, changes: Mapping[str, Any], **fields: Any) -> "Row":
        """A copy with ``changes`` set at every profile (a change a user typed wins over the
        row's ``by_profile`` values), and any other ``fields`` replaced."""
        by_profile = {p: {k: v for k, v in vals.items() if k not in changes}
                      for p, vals in self.by_profile.items()}
        return dataclasses.replace(self, params={**self.params, **changes},
                                   by_profile={p: v for p, v in by_profile.items() if v},
                                   **fields)

    @property
    def name(self) -> str:
        return f"{self.paper}/{self.table}/{self.variant}"

    def executed_path(self, profile: str, results_root: Path = RESULTS_DIR) -> Path:
        return results_root / profile / "executed" / self.paper / f"{self.table}__{self.variant}.ipynb"

    def result_dir(self, profile: str, results_root: Path = RESULTS_DIR) -> Path:
        return results_root / profile / self.paper / self.table / self.variant


class RunsFileError(ValueError):
    """A runs.yaml or notebook does not fit the runner's rules."""


def load_rows(notebooks_dir: Path = NOTEBOOKS_DIR, budget_checks: bool = False) -> list[Row]:
    """All rows of all ``notebooks/*/runs.yaml`` files, in a stable order; with
    ``budget_checks``, followed by the budget-check rows (:func:`budget_check_rows`), which
    the runner runs and plans but the tables leave out."""
    rows = _runs_rows(notebooks_dir)
    return rows + budget_check_rows(rows, notebooks_dir) if budget_checks else rows


#: Lists, per table, the row trained once more at a multiple of its budget (evidence that the
#: budget suffices, spec/evidence.md section 5).
BUDGET_CHECKS = "budget_checks.yaml"
_BUDGET_VARIANT = re.compile(r"^(?P<ref>.+)__x(?P<scale>\d+(?:\.\d+)?)$")


def budget_check_of(variant: str) -> tuple[str, float] | None:
    """``(reference variant, scale)`` of a budget-check row's variant, else None.

    >>> budget_check_of("i_d_v_n__x2"), budget_check_of("i_d_v_n")
    (('i_d_v_n', 2.0), None)
    """
    m = _BUDGET_VARIANT.match(variant)
    return (m["ref"], float(m["scale"])) if m else None


def budget_check_rows(rows: list[Row], notebooks_dir: Path = NOTEBOOKS_DIR) -> list[Row]:
    """The rows of ``notebooks/budget_checks.yaml``: for each listed ``paper/table/variant``,
    a row ``<variant>__x<scale>`` of the same table and notebook with the row's parameters plus
    ``seeds: [seed]`` and ``budget_scale: scale``, run only at the listed ``profiles``. None
    when the file does not exist.

    Raises:
        RunsFileError: naming the file: not a mapping, a bad scale, seed or profile, or a
            listed row that no runs.yaml defines.
    """
    path = Path(notebooks_dir) / BUDGET_CHECKS
    if not path.is_file():
        return []
    try:
        spec = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as e:
        raise RunsFileError(f"{path}: not valid YAML ({e})") from e
    if not isinstance(spec, dict) or not isinstance(spec.get("rows"), list):
        raise RunsFileError(f"{path}: needs a mapping with a 'rows:' list")
    scale, seed = spec.get("scale", 2), spec.get("seed", 0)
    if isinstance(scale, bool) or not isinstance(scale, (int, float)) or not scale > 1:
        raise RunsFileError(f"{path}: scale must be a number > 1, got {scale!r}")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise RunsFileError(f"{path}: seed must be an integer >= 0, got {seed!r}")
    where = tuple(spec.get("profiles") or profiles.PROFILES)
    unknown = sorted(set(where) - set(profiles.PROFILES))
    if unknown:
        raise RunsFileError(f"{path}: unknown profiles {unknown} (known: "
                            f"{sorted(profiles.PROFILES)})")
    by_name = {r.name: r for r in rows}
    out = []
    for name in spec["rows"]:
        ref = by_name.get(str(name))
        if ref is None:
            raise RunsFileError(f"{path}: row {name!r} is not a row of notebooks/*/runs.yaml "
                                "(write paper/table/variant)")
        changes: dict[str, Any] = {"seeds": [seed], "budget_scale": scale}
        if ref.params.get("label"):
            changes["label"] = f"{ref.params['label']} ({scale:g} x the budget)"
        only = tuple(p for p in where if ref.runs_at(p))
        # the row's by_profile values hold for its check too (a longer budget is doubled)
        out.append(ref.with_params(
            changes, variant=f"{ref.variant}__x{scale:g}", only_profiles=only,
            why=f"budget check of {name} (seed {seed}, {scale:g} x the budget): run at "
            f"{', '.join(only) or 'no profile'} only"))
    return out


def _runs_rows(notebooks_dir: Path) -> list[Row]:
    rows: list[Row] = []
    for runs in sorted(Path(notebooks_dir).glob("*/runs.yaml")):
        paper = runs.parent.name
        try:
            spec = yaml.safe_load(runs.read_text()) or {}
        except yaml.YAMLError as e:
            raise RunsFileError(f"{runs}: not valid YAML ({e})") from e
        tables = spec.get("tables")
        if not isinstance(tables, dict) or not tables:
            raise RunsFileError(f"{runs}: needs a non-empty 'tables:' mapping")
        for table, tspec in tables.items():
            for key in ("notebook", "variants"):
                if key not in (tspec or {}):
                    raise RunsFileError(f"{runs}: table {table!r} has no {key!r}")
            nb = runs.parent / tspec["notebook"]
            if not nb.exists():
                raise RunsFileError(f"{runs}: table {table!r} names {nb}, which does not exist")
            for variant, params in tspec["variants"].items():
                params = dict(params or {})
                only = params.pop("only_profiles", None)
                why = str(params.pop("why", ""))
                if only is not None and not why:
                    raise RunsFileError(f"{runs}: {table}/{variant} has only_profiles but no "
                                        "'why'")
                by_profile = _by_profile(runs, f"table {table}", tspec.get("by_profile"))
                for prof, vals in _by_profile(runs, f"{table}/{variant}",
                                              params.pop("by_profile", None)).items():
                    by_profile[prof] = {**by_profile.get(prof, {}), **vals}
                clash = sorted((set(params) | {k for v in by_profile.values() for k in v})
                               & set(RUNNER_PARAMETERS))
                if clash:
                    raise RunsFileError(f"{runs}: {table}/{variant} sets runner parameters {clash}")
                rows.append(Row(paper, str(table), str(variant), nb,
                                str(tspec.get("title", table)), params,
                                tuple(only) if only is not None else None, why, by_profile))
    return rows


def _by_profile(runs: Path, where: str, spec: Any) -> dict[str, dict[str, Any]]:
    """A ``by_profile:`` entry of runs.yaml (``{profile: {parameter: value}}``), checked."""
    if spec is None:
        return {}
    if not isinstance(spec, dict) or not all(isinstance(v, dict) for v in spec.values()):
        raise RunsFileError(f"{runs}: {where}: by_profile needs a mapping of profile -> "
                            f"{{parameter: value}}, got {spec!r}")
    unknown = sorted(set(map(str, spec)) - set(profiles.PROFILES))
    if unknown:
        raise RunsFileError(f"{runs}: {where}: by_profile names unknown profiles {unknown} "
                            f"(known: {sorted(profiles.PROFILES)})")
    return {str(p): dict(v) for p, v in spec.items()}


def table_reference(paper: str, table: str, notebooks_dir: Path = NOTEBOOKS_DIR) -> str | None:
    """The row of a table the others are compared with (``reference:`` in runs.yaml), if any:
    the book shows each row's difference to it, the paper's and ours side by side."""
    runs = Path(notebooks_dir) / paper / "runs.yaml"
    try:
        spec = yaml.safe_load(runs.read_text()) or {}
    except (OSError, yaml.YAMLError):
        return None
    ref = ((spec.get("tables") or {}).get(table) or {}).get("reference")
    return str(ref) if ref else None


def select_rows(rows: list[Row], paper: str | None = None, table: str | None = None,
                variant: str | None = None) -> list[Row]:
    out = [r for r in rows if (paper is None or r.paper == paper)
           and (table is None or r.table == table) and (variant is None or r.variant == variant)]
    if not out:
        known = sorted({r.name for r in rows})
        raise RunsFileError(f"no row matches paper={paper} table={table} variant={variant}; "
                            f"known rows: {known}")
    return out


def notebook_parameters(path: Path) -> dict[str, Any]:
    """Names and literal values of the notebook's ``parameters`` cell (exactly one required)."""
    nb = json.loads(Path(path).read_text())
    cells = [c for c in nb["cells"] if "parameters" in c.get("metadata", {}).get("tags", [])]
    if len(cells) != 1:
        raise RunsFileError(f"{path}: needs exactly one cell tagged 'parameters', found {len(cells)}")
    src = "".join(cells[0]["source"])
    out: dict[str, Any] = {}
    for node in ast.parse(src).body:
        if isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for t in targets:
                if not isinstance(t, ast.Name):
                    raise RunsFileError(f"{path}: parameters cell may only assign plain names")
                if t.id.startswith("_"):  # the cell's own bookkeeping (_declared), not a parameter
                    continue
                try:
                    out[t.id] = ast.literal_eval(node.value)
                except ValueError as e:
                    raise RunsFileError(f"{path}: parameter {t.id} is not a literal") from e
    return out


#: The last line of every row notebook's parameters cell: what the cell declared, so that the
#: next cell can tell a name papermill injected without the cell declaring it.
DECLARED_LINE = "_declared = set(globals())  # the parameters above; checked by the next cell"

#: Names a Jupyter kernel defines by itself.
_KERNEL_NAMES = frozenset({"In", "Out", "get_ipython", "exit", "quit", "open"})


def check_parameters(namespace: dict[str, Any], declared: set[str]) -> None:
    """Fail at once when a notebook was given a parameter its ``parameters`` cell does not
    declare (``papermill -p NAME VALUE`` only warns, and the run would silently ignore NAME).

    Raises:
        NameError: one line naming the unknown parameter(s) and the notebook's parameters.
    """
    unknown = sorted(k for k in namespace
                     if not k.startswith("_") and k not in declared and k not in _KERNEL_NAMES)
    if unknown:
        known = sorted(k for k in declared if not k.startswith("_") and k not in _KERNEL_NAMES)
        raise NameError(f"unknown notebook parameter(s) {', '.join(unknown)}; this notebook's "
                        f"parameters are: {', '.join(known)}")


def _notebook_source_hash(path: Path) -> str:
    nb = json.loads(Path(path).read_text())
    cells = [(c["cell_type"], "".join(c["source"])) for c in nb["cells"]]
    return hashlib.sha256(json.dumps(cells).encode()).hexdigest()


def library_changes(recorded: dict[str, str] | None) -> list[str]:
    """The recorded library files that changed (or vanished) since the run, except the
    :data:`relight_lib.library.record.READING_FILES`; ``['(not recorded)']`` for a run.json
    without the record (written by an older runner).

    >>> library_changes({"no/such/file.py": "0" * 64})
    ['no/such/file.py']
    >>> library_changes({"library/convergence.py": "0" * 64})
    []
    """
    if not recorded:
        return ["(not recorded)"]
    record = _record()
    return record.changed_files(recorded, skip=record.READING_FILES)


def resolved_parameters(row: Row, profile: str, results_root: Path,
                        data_root: str | None = None) -> dict[str, Any]:
    declared = notebook_parameters(row.notebook)
    params = {"profile": profile, "paper": row.paper, "table": row.table, "variant": row.variant,
              "results_root": str(results_root), **row.params_at(profile)}
    if data_root is not None:
        params["data_root"] = str(data_root)
    unknown = sorted(set(params) - set(declared) - {"cache_key"})
    if unknown:
        raise RunsFileError(f"{row.notebook}: unknown parameter(s) {unknown} for row {row.name}; "
                            f"the parameters cell defines {sorted(declared)}")
    return params


def cache_key(row: Row, profile: str, params: dict[str, Any]) -> str:
    """Hash of what defines a row apart from the library: notebook source, resolved parameters
    (except where results go) and the data's identity."""
    prof = profiles.resolve(profile, data_root=params.get("data_root"))
    payload = {
        "notebook": _notebook_source_hash(row.notebook),
        "params": {k: v for k, v in params.items() if k != "results_root"},
        "data": profiles.data_identity(prof),
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()


def staleness(row: Row, profile: str, key: str, results_root: Path) -> str | None:
    """Why the row must run (a short reason), or None when its committed results are current."""
    if not row.executed_path(profile, results_root).exists():
        return "no executed notebook"
    runs = sorted(row.result_dir(profile, results_root).glob("seed=*/run.json"))
    if not runs:
        return "no results"
    # any seed's files edited by hand come first: no other reason may hide them
    for why in _record().edited_rows([rj.parent for rj in runs]).values():
        return why
    have, want = set(), set()
    for rj in runs:
        try:
            rec = json.loads(rj.read_text())
        except (OSError, json.JSONDecodeError):
            return f"unreadable {rj}"
        if rec.get("cache_key") != key:
            return "notebook, parameters or data changed"
        changed = library_changes(rec.get("library_files"))
        if changed:
            return stale_action(changed, (rec.get("extra") or {}).get("training_files"))
        have.add(rec.get("seed"))
        want.update((rec.get("params") or {}).get("seeds") or ())
    missing = sorted(want - have)
    if missing:
        # a row stopped between seeds: its rerun runs only these
        # (relight_lib.library.record.finished_run)
        return f"seed(s) {', '.join(map(str, missing))} missing"
    return None


def _record():
    """:mod:`relight_lib.library.record`, imported on first use: every row notebook imports this
    module before it trains, and a library module imported here would join the training key's
    files (:func:`relight_lib.library.record.imported_library_files`)."""
    from relight_lib.library import record

    return record


def precision_note(row: Row, profile: str, results_root: Path) -> str | None:
    """When a seed of the row was trained in another precision than this machine would use
    (:func:`relight_lib.library.record.precision_here`), one line saying so; None otherwise
    (and for rows that train nothing). Neither stale nor current: rerunning here would train
    the same recipe in the other precision, whose numbers may differ within seed noise.

    A committed bf16 row on a machine that runs bf16 natively gets None, as does an fp32 row
    on a machine without native bf16.
    """
    for rj in sorted(row.result_dir(profile, results_root).glob("seed=*/run.json")):
        try:
            rec = json.loads(rj.read_text())
        except (OSError, json.JSONDecodeError):
            continue
        entry = _record().run_precision(rec)
        if entry is None:
            continue
        here = _record().precision_here(entry, (rec.get("params") or {}).get("device", "auto"))
        if entry["used"] != here:
            return (f"trained in {entry['used']}; this machine would train in {here}: "
                    "numbers may differ within seed noise")
    return None


def _names(files: list[str]) -> str:
    return ", ".join(files[:4]) + (" ..." if len(files) > 4 else "")


def stale_action(changed: list[str], training_files: dict[str, str] | None) -> str:
    """What a row whose library or paper files changed needs, in words: *retrain* when a file
    its training key hashed changed (or the run recorded none), otherwise *re-evaluate* (the
    stored training is still valid: the rerun reuses its checkpoint when it is on disk).

    >>> stale_action(["library/losses.py"], {"library/losses.py": "0" * 64})
    'retrain: library/losses.py changed'
    >>> stale_action(["papers/ltnet/dehaze.py"], {"library/losses.py": "0" * 64})
    're-evaluate: papers/ltnet/dehaze.py changed (the training is unchanged)'
    """
    if training_files is None:
        return f"retrain: {_names(changed)} changed"
    hit = [f for f in changed if f in training_files or f == "(not recorded)"]
    if hit:
        return f"retrain: {_names(hit)} changed"
    return f"re-evaluate: {_names(changed)} changed (the training is unchanged)"


def row_states(profile: str, paper: str | None = None, table: str | None = None,
               variant: str | None = None, data_root: str | None = None,
               notebooks_dir: Path = NOTEBOOKS_DIR, results_root: Path = RESULTS_DIR
               ) -> list[tuple[Row, str]]:
    """Each selected row and its state at ``profile``: ``up to date``, ``skipped here: ...``,
    ``trained in bf16; this machine would train in fp32: ...`` (:func:`precision_note`),
    ``edited by hand: rerun or restore (...)``, or what it needs (``retrain: ...``,
    ``re-evaluate: ...``, ``rerun: ...``)."""
    out = []
    for row in select_rows(load_rows(notebooks_dir, budget_checks=True), paper, table, variant):
        if not row.runs_at(profile):
            out.append((row, f"skipped here: {row.why}"))
            continue
        try:
            params = resolved_parameters(row, profile, results_root, data_root)
            why = staleness(row, profile, cache_key(row, profile, params), results_root)
        except ValueError as e:  # the paper profile without real VIDIT
            out.append((row, f"cannot tell: {str(e).splitlines()[0]}"))
            continue
        if why is None:
            out.append((row, precision_note(row, profile, results_root) or "up to date"))
        elif why.startswith(("retrain", "re-evaluate", _record().EDITED)):
            out.append((row, why))
        else:
            out.append((row, f"rerun: {why}"))
    return out


#: The kinds of row state, in the order ``--list`` counts them: (prefix, words).
STATE_KINDS = (("up to date", "up to date"),
               ("trained in ", "trained in another precision than this machine would use"),
               ("edited by hand", "edited by hand"),
               ("retrain", "to retrain"), ("re-evaluate", "to re-evaluate"),
               ("rerun", "to rerun"), ("skipped here", "skipped here"),
               ("cannot tell", "cannot tell"))


def state_counts(states: list[str]) -> str:
    """One line counting :func:`row_states`' states by kind.

    >>> state_counts(["up to date", "retrain: library/train.py changed", "up to date"])
    '3 row(s): 2 up to date, 1 to retrain'
    """
    counts = {words: sum(s.startswith(prefix) for s in states) for prefix, words in STATE_KINDS}
    return f"{len(states)} row(s): " + ", ".join(f"{n} {w}" for w, n in counts.items() if n)


def ensure_kernel() -> str:
    """Install a kernel spec named ``relight`` for this interpreter inside its own prefix (the
    notebooks' kernelspec name), so papermill never depends on a user-level kernel."""
    kdir = Path(sys.prefix) / "share" / "jupyter" / "kernels" / KERNEL_NAME
    spec = {
        # log level CRITICAL: the kernel app's own log is about its plumbing (that its local
        # TCP transport is not encrypted; "KeyboardInterrupt caught in kernel" when the
        # client shuts an idle kernel down), not the notebook, whose errors papermill raises
        # from the cell outputs; it would be the only thing a row printed besides its progress
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}",
                 "--IPKernelApp.log_level=CRITICAL"],
        "display_name": "Python (relight)",
        "language": "python",
        # RELIGHT_RUN_PAGE: the notebook runs as a run page (relight_lib.harness.run_page.quiet)
        "env": {"PYTHONWARNINGS": "ignore::DeprecationWarning", "RELIGHT_RUN_PAGE": "1"},
    }
    path = kdir / "kernel.json"
    try:
        current = json.loads(path.read_text())
    except (OSError, ValueError):  # missing, or another process writing it
        current = None
    if current != spec:
        from relight_lib.library.data.imageio import atomic_write

        # written whole or not at all: parallel test workers and rows call this at once
        with atomic_write(path) as tmp:
            tmp.write_text(json.dumps(spec, indent=1))
    return KERNEL_NAME


def clean_notebook(path: Path) -> None:
    """Make an executed notebook read well in the book: progress-bar redraws ('\\r') collapse to
    their final state, widget state is dropped."""
    nb = json.loads(path.read_text())
    nb.get("metadata", {}).pop("widgets", None)
    for cell in nb["cells"]:
        for out in cell.get("outputs", []):
            if out.get("output_type") == "stream":
                text = "".join(out["text"]) if isinstance(out["text"], list) else out["text"]
                lines = [line.rsplit("\r", 1)[-1] for line in text.split("\n")]
                out["text"] = "\n".join(lines)
            data = out.get("data", {})
            if "application/vnd.jupyter.widget-view+json" in data:
                data.pop("application/vnd.jupyter.widget-view+json")
                data.setdefault("text/plain", "")
    path.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n")


@dataclass
class Outcome:
    row: Row
    status: str  # ran | cached | failed | skipped
    seconds: float = 0.0
    error: str = ""
    failed_notebook: Path | None = None


@contextlib.contextmanager
def _compacted_histories(folder: Path):
    """Round every seed's ``history.csv`` under ``folder`` to the digits kept
    (:func:`relight_lib.harness.results.compact_history`) when the row's notebook ends, finished
    or not, and seal it (:func:`relight_lib.harness.results.seal_history`): a row stopped
    between seeds leaves its finished seeds compact and sealed too."""
    try:
        yield
    finally:
        from relight_lib.harness.results import compact_history, seal_history

        for curve in sorted(folder.glob("seed=*/history.csv")):
            try:
                compact_history(curve)
            except ValueError:  # a seed stopped while writing it: its rerun redoes it
                continue
            seal_history(curve.parent)


def run_row(row: Row, profile: str, results_root: Path, force: bool, log=print,
            data_root: str | None = None, live: bool | None = None,
            status_env: bool = True) -> Outcome:
    """Run one row's notebook with papermill (unless up to date and not ``force``), showing its
    progress (:class:`relight_lib.harness.progress.RowWatch`): ``live`` redraws one line in
    place (default: on a terminal), and every finished seed gets a line; ``status_env=False``
    (rows run in parallel) watches the results folder only."""
    from relight_lib.harness.progress import RowWatch

    params = resolved_parameters(row, profile, results_root, data_root)
    key = cache_key(row, profile, params)
    out_nb = row.executed_path(profile, results_root)
    if not force and staleness(row, profile, key, results_root) is None:
        return Outcome(row, "cached")
    import papermill as pm

    params["cache_key"] = key
    # the kernel inherits this process's environment: its OpenMP runtime starts with the
    # suite's defaults unless the user set them (relight_lib.omp)
    omp.apply_defaults()
    tmp_nb = out_nb.with_name(f".{out_nb.stem}.running.ipynb")
    tmp_nb.parent.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    log(f"[run] {row.name} ({profile})")
    try:
        row_dir = row.result_dir(profile, results_root)
        with _compacted_histories(row_dir), RowWatch(row.name, row_dir, live=live,
                                                     status_env=status_env):
            pm.execute_notebook(str(row.notebook), str(tmp_nb), parameters=params,
                                kernel_name=ensure_kernel(), cwd=str(Path.cwd()),
                                progress_bar=False, log_output=False,
                                report_mode=False)
    except Exception as e:  # papermill raises its own types; keep the failed notebook
        failed = Path("_build") / "failed" / profile / f"{row.paper}__{row.table}__{row.variant}.ipynb"
        failed.parent.mkdir(parents=True, exist_ok=True)
        if tmp_nb.exists():
            shutil.move(str(tmp_nb), failed)
        msg = str(e).strip().splitlines()
        return Outcome(row, "failed", time.perf_counter() - t0,
                       "\n".join(msg[-12:]) or traceback.format_exc(limit=2),
                       failed if failed.exists() else None)
    clean_notebook(tmp_nb)
    from relight_lib.harness.run_page import sanitise_notebook

    # the page shows no stderr and no folder of this machine; what was dropped is said here
    dropped = sanitise_notebook(tmp_nb)
    if dropped:
        log(f"[run] {row.name}: {len(dropped)} stderr line(s) left off its page, the first: "
            f"{dropped[0][:160]}")
    os.replace(tmp_nb, out_nb)
    return Outcome(row, "ran", time.perf_counter() - t0)


def render_data(prof: profiles.Profile, log=print) -> list[dict[str, Any]]:
    """Render the SynVIDIT sets ``prof`` reads that are missing (:func:`profiles.ensure_data`),
    saying first, in one line, how many and about how long in all; each set is announced again
    as its render starts. Nothing is said when every set is complete."""
    from relight_lib.library.data import synvidit

    sets = [s for s in profiles.ensure_data(prof, dry_run=True, log=lambda *a: None)
            if s["state"] != "complete"]
    if not sets:
        return []
    known = [s["estimate_s"] for s in sets if s["estimate_s"] is not None]
    when = ("time not measured on any machine for these sets" if not known else
            f"about {sum(known) / 60:.1f} min" + ("" if len(known) == len(sets) else
                                                 f" for the {len(known)} measured"))
    log(f"[data] the {prof.name} profile needs {len(sets)} SynVIDIT set(s) rendered before "
        f"its rows run ({when}, from the render timings in "
        f"{synvidit.RENDER_BENCH_CSV})")
    return profiles.ensure_data(prof, progress=True, log=log)


def reproduce(profile: str, paper: str | None = None, table: str | None = None,
              variant: str | None = None, jobs: int = 1, force: bool = False,
              results_root: Path = RESULTS_DIR, notebooks_dir: Path = NOTEBOOKS_DIR,
              render: bool = True, data_root: str | None = None, log=print) -> list[Outcome]:
    """Bring the selected rows of ``profile`` up to date; returns one outcome per row.

    Rows that fail do not stop the others. The profile's SynVIDIT set is rendered first when a
    row actually needs to run and the data is missing. ``data_root`` (a real VIDIT folder) is
    passed to every row as its ``data_root`` parameter.
    """
    prof = profiles.resolve(profile, data_root=data_root)
    rows = select_rows(load_rows(notebooks_dir, budget_checks=True), paper, table, variant)
    # decide what must run before rendering anything: a cached book needs no data
    todo = []
    outcomes: dict[str, Outcome] = {}
    for row in rows:
        params = resolved_parameters(row, profile, results_root, data_root)  # validates names
        if not row.runs_at(profile):
            outcomes[row.name] = Outcome(row, "skipped", error=f"not run at the {profile} "
                                         f"profile: {row.why}")
            continue
        why = staleness(row, profile, cache_key(row, profile, params), results_root)
        if why is None and not force:
            outcomes[row.name] = Outcome(row, "cached")
        else:
            todo.append(row)
            log(f"[stale] {row.name}: {'--force' if why is None else why}")
    if todo and render:
        render_data(prof, log)
    if todo and jobs > 1:
        # each kernel gets its share of the cores: torch's default of one thread per core in
        # every kernel oversubscribes the machine and slows small convolutions by orders of
        # magnitude (seen on our 2-core machines)
        share = str(max(1, (os.cpu_count() or 1) // jobs))
        for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
            os.environ[var] = share
    if todo:
        # parallel rows share this process's environment and the terminal: they print their
        # finished seeds only (the kernels are not told where to write a progress status)
        alone = jobs <= 1
        with ThreadPoolExecutor(max_workers=max(1, jobs)) as ex:
            futs = {r.name: ex.submit(run_row, r, profile, results_root, True, log, data_root,
                                      None if alone else False, alone)
                    for r in todo}
            for name, fut in futs.items():
                outcomes[name] = fut.result()
    return [outcomes[r.name] for r in rows]


# --------------------------------------------------------------------------------------------
# plans: what a row would do, without doing it (relight reproduce --dry-run)

#: Parameter every row notebook declares: True makes its runner call return the row's plan.
DRY_RUN_PARAMETER = "dry_run"


class PlanError(RuntimeError):
    """A row cannot be planned (the message says why, in one line)."""


def _notebook_code_cells(path: Path) -> tuple[str, list[str]]:
    nb = json.loads(Path(path).read_text())
    params, rest, seen = None, [], False
    for c in nb["cells"]:
        if c["cell_type"] != "code":
            continue
        src = "".join(c["source"])
        if "parameters" in c.get("metadata", {}).get("tags", []):
            params, seen = src, True
        elif seen:
            rest.append(src)
    if params is None:
        raise RunsFileError(f"{path}: needs exactly one cell tagged 'parameters'")
    return params, rest


def plan_row(row: Row, profile: str, data_root: str | None = None,
             results_root: Path = RESULTS_DIR) -> dict[str, Any]:
    """The plan of one row at ``profile``: the dict its notebook's runner call returns with
    ``dry_run=True`` (:func:`relight_lib.papers.onetoone.plan_dict` lists the keys).

    The notebook itself is the recipe, so it is what gets planned: its ``parameters`` cell runs,
    then the row's values as papermill would inject them (plus ``dry_run=True`` and
    ``data_root``), then its code cells statement by statement until ``summary`` holds a dict
    (the plan). Nothing is trained, written or displayed.

    Raises:
        PlanError: the row cannot be planned (unknown parameter, no data, no budget, ...).
    """
    params = resolved_parameters(row, profile, results_root, data_root)
    if DRY_RUN_PARAMETER not in notebook_parameters(row.notebook):
        raise PlanError(f"{row.notebook} declares no '{DRY_RUN_PARAMETER}' parameter")
    params[DRY_RUN_PARAMETER] = True
    param_src, cells = _notebook_code_cells(row.notebook)
    ns: dict[str, Any] = {"__name__": "__relight_plan__"}
    try:
        exec(compile(param_src, str(row.notebook), "exec"), ns)
        ns.update(params)
        for src in cells:
            for stmt in ast.parse(src).body:
                exec(compile(ast.Module([stmt], type_ignores=[]), str(row.notebook), "exec"), ns)
                if isinstance(ns.get("summary"), dict):
                    return ns["summary"]
    except Exception as e:  # whatever the recipe raises, the plan names the row and the reason
        msg = str(e).strip().splitlines()
        raise PlanError(f"{type(e).__name__}: {msg[0] if msg else ''}") from e
    raise PlanError(f"{row.notebook}: no cell returned a plan (its runner call needs "
                    f"{DRY_RUN_PARAMETER}={DRY_RUN_PARAMETER})")


def _fmt_int(n: Any) -> str:
    return f"{n:,}" if isinstance(n, int) else str(n)


def _fmt_seed_data(d: dict[str, Any]) -> str:
    """One seed's data in a plan (:func:`relight_lib.papers.profiles.seed_data_plan`)."""
    text = f"seed {d['seed']}: {d['folder']}"
    if d.get("scene_seed") is not None:
        text += f" (scene seed {d['scene_seed']}, {d['draw'].replace('_', ' ')})"
    if d.get("splits"):
        text += ("; scenes " + " / ".join(f"{_fmt_int(n)} {s}" for s, n in d["splits"].items()))
    text += f"; {d['rendered']}"
    if d.get("render_s") is not None:
        text += f", about {d['render_s'] / 60:.1f} min to render"
    return text


def format_plan(row: Row, profile: str, plan: dict[str, Any]) -> str:
    """A plan as an indented block of text (one row)."""
    kw = ", ".join(f"{k}={v}" for k, v in plan.get("model_kwargs", {}).items())
    lines = [f"{row.name}  [{profile}]  {plan.get('row', '')}",
             f"  model        {plan['model']}({kw}): {_fmt_int(plan['parameters'])} parameters"]
    train = f"{_fmt_int(plan['n_train'])} training pairs"
    if plan.get("train_pairs"):
        train += f" ({plan['train_pairs']})"
    lines.append(f"  data         {train}; trained at {plan['train_size']} px, evaluated at "
                 f"{plan['image_size']} px" + (f"; augment {plan['augment']}"
                                               if plan.get("augment") else ""))
    if plan["steps"]:
        budget = f"{_fmt_int(plan['steps'])} steps of batch {plan['batch_size']}"
        if plan.get("epochs") is not None:
            budget = f"{plan['epochs']:g} epochs = " + budget
        lines.append(f"  budget       {budget}, {plan['precision']}")
    else:
        lines.append("  budget       no training")
    lines.append(f"  optimiser    {plan['optimizer']}")
    if plan["lr_schedule"]:
        lines.append("  lr           " + ", ".join(f"step {_fmt_int(int(st))}: {lr:.3g}"
                                                   for st, lr in plan["lr_schedule"]))
    for i, term in enumerate(plan["loss"] or ["-"]):
        lines.append(("  loss         " if i == 0 else "               ") + term)
    for i, ev in enumerate(plan["eval"]):
        split = f" [{ev['split']} split]" if ev.get("split") and ev["split"] != ev["name"] else ""
        lines.append(("  evaluation   " if i == 0 else "               ")
                     + f"{ev['name']}{split}: {_fmt_int(ev['n'])} pairs ({ev['definition']})")
    if plan.get("validation"):
        v = plan["validation"]
        lines.append(f"  validation   {v['split']} split: {_fmt_int(v['n'])} pairs (learning "
                     "curves, plateau test)")
    for i, d in enumerate(plan.get("data") or []):
        lines.append(("  seed data    " if i == 0 else "               ") + _fmt_seed_data(d))
    post = plan.get("postprocess") or "none"
    if plan.get("snapshots") and len(plan["snapshots"]) == 1:
        # one checkpoint read before the end (the any-to-any report's epoch-8 / epoch-6 models)
        post += f"; evaluated weights: step {_fmt_int(plan['snapshots'][0])}"
    elif plan.get("snapshots"):
        post += (f"; ensemble of the weights at steps {plan['snapshots']}"
                 + (f" weighted {plan['snapshot_weights']}" if plan.get("snapshot_weights")
                    else " (plain mean)"))
    lines.append(f"  postprocess  {post}")
    for title, key in (("deviations", "deviations"), ("notes", "notes")):
        for i, d in enumerate(plan.get(key) or []):
            lines.append((f"  {title:<13}" if i == 0 else " " * 15) + "- " + d)
    return "\n".join(lines)


def plan_rows(profile: str, paper: str | None = None, table: str | None = None,
              variant: str | None = None, data_root: str | None = None,
              notebooks_dir: Path = NOTEBOOKS_DIR, results_root: Path = RESULTS_DIR,
              log=print) -> tuple[dict[str, dict[str, Any]], dict[str, str]]:
    """Plan every selected row at ``profile`` (rows kept out of it by ``only_profiles`` are
    reported as skipped). Returns ``(plans, failures)``, both keyed by row name; each plan is
    printed with :func:`format_plan` through ``log``."""
    if profile not in profiles.PROFILES:
        raise KeyError(f"unknown profile {profile!r}; choose from {profiles.list_profiles()}")
    rows = select_rows(load_rows(notebooks_dir, budget_checks=True), paper, table, variant)
    plans, failures = {}, {}
    for row in rows:
        if not row.runs_at(profile):
            log(f"{row.name}  [{profile}]  skipped at this profile: {row.why}\n")
            continue
        try:
            plans[row.name] = plan_row(row, profile, data_root, results_root)
        except (PlanError, RunsFileError) as e:
            failures[row.name] = str(e).splitlines()[0]
            log(f"{row.name}  [{profile}]  CANNOT PLAN: {failures[row.name]}\n")
            continue
        log(format_plan(row, profile, plans[row.name]) + "\n")
    return plans, failures


def summary(outcomes: list[Outcome]) -> str:
    lines = []
    for o in outcomes:
        extra = f" in {o.seconds:.1f} s" if o.status == "ran" else ""
        lines.append(f"  {o.status:<7} {o.row.name}{extra}")
        if o.status == "skipped":
            lines.append("          " + o.error)
        if o.status == "failed":
            lines += ["          " + line for line in o.error.splitlines()]
            if o.failed_notebook:
                lines.append(f"          failed notebook kept at {o.failed_notebook}")
    counts = {s: sum(o.status == s for o in outcomes)
              for s in ("ran", "cached", "failed", "skipped")}
    lines.append(f"{counts['ran']} ran, {counts['cached']} cached, {counts['failed']} failed, "
                 f"{counts['skipped']} skipped")
    return "\n".join(lines)


# --------------------------------------------------------------------------------------------
# relight try: one row with changed parameters, into a scratch results folder
# --------------------------------------------------------------------------------------------

#: Where ``relight try`` writes (git-ignored): never the committed ``results/``.
EXERCISES_DIR = Path("_build/exercises")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.+-]*$")
_FLOAT = re.compile(r"^[-+]?(\d+\.?\d*|\.\d+)[eE][-+]?\d+$")


def parse_set(items: list[str] | tuple[str, ...]) -> dict[str, Any]:
    """``KEY=VALUE`` strings to a dict; each VALUE is read as a YAML literal.

    >>> parse_set(["stage1_fraction=0.25", "residual=true", "postprocess=null"])
    {'stage1_fraction': 0.25, 'residual': True, 'postprocess': None}
    >>> parse_set(["inputs=[rgb, depth]", "table5_label=4,16"])
    {'inputs': ['rgb', 'depth'], 'table5_label': '4,16'}

    A number in exponent notation is a number (YAML 1.1 would read ``1e-3`` as text):

    >>> parse_set(["lr=1e-3", "steps=400"])
    {'lr': 0.001, 'steps': 400}
    """
    out: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or not key.isidentifier():
            raise RunsFileError(f"--set {item!r}: expected KEY=VALUE, e.g. stage1_fraction=0.25")
        try:
            out[key] = yaml.safe_load(value)
            if isinstance(out[key], str) and _FLOAT.match(out[key].strip()):
                out[key] = float(out[key])
        except yaml.YAMLError as e:
            raise RunsFileError(f"--set {item!r}: the value is not a YAML literal ({e})") from e
    return out


def settable_parameters(row: Row) -> list[str]:
    """The parameters of the row's notebook that ``--set`` may change (all but the runner's and
    ``dry_run``, which would make the run write nothing)."""
    return sorted(set(notebook_parameters(row.notebook)) - set(RUNNER_PARAMETERS)
                  - {DRY_RUN_PARAMETER})


def parameter_comments(path: Path) -> dict[str, str]:
    """The comment at the end of each assignment of the notebook's ``parameters`` cell, by
    parameter name (what the value means, its choices)."""
    import io
    import tokenize

    src, _ = _notebook_code_cells(path)
    by_line: dict[int, str] = {}
    try:
        for tok in tokenize.generate_tokens(io.StringIO(src).readline):
            if tok.type == tokenize.COMMENT:
                by_line[tok.start[0]] = tok.string.lstrip("#").strip()
    except (tokenize.TokenError, SyntaxError):
        return {}
    out = {}
    for node in ast.parse(src).body:
        if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name):
            text = by_line.get(node.end_lineno or node.lineno, "")
            if text:
                out[node.targets[0].id] = text
    return out


def parameter_listing(row: Row, changes: dict[str, Any] | None = None,
                      profile: str | None = None) -> list[tuple[str, Any, str, str]]:
    """Every parameter ``relight try`` may change for ``row``, as ``(name, value, source,
    comment)``: the value the run would use, where it comes from (``--set``, ``runs.yaml``,
    ``runs.yaml, <profile>`` for a ``by_profile`` value at ``profile``, or the notebook's
    default) and the parameters cell's comment on it."""
    changes = dict(changes or {})
    check_changes(row, changes)
    defaults = notebook_parameters(row.notebook)
    comments = parameter_comments(row.notebook)
    at_profile = row.by_profile.get(profile, {}) if profile is not None else {}
    out = []
    for name in settable_parameters(row):
        if name in changes:
            value, source = changes[name], "--set"
        elif name in at_profile:
            value, source = at_profile[name], f"runs.yaml, {profile}"
        elif name in row.params:
            value, source = row.params[name], "runs.yaml"
        else:
            value, source = defaults[name], "notebook"
        out.append((name, value, source, comments.get(name, "")))
    return out


#: Parameters whose None means "the profile's" (or the recipe's): ``--params`` shows the
#: value the row's plan resolves them to.
BUDGET_PARAMETERS = ("steps", "lr", "batch_size")


def effective_budget(row: Row, profile: str) -> dict[str, Any]:
    """The steps, batch size and (peak) learning rate ``row`` would train with at
    ``profile``, from its plan (:func:`plan_row`); empty when it cannot be planned or trains
    nothing.

    Raises:
        PlanError: the row cannot be planned there (a bad value, no data, ...).
    """
    plan = plan_row(row, profile)
    out = {k: plan[k] for k in ("steps", "batch_size") if plan.get(k)}
    if plan.get("lr_schedule"):  # the peak: the warm-up's end, else the first step's rate
        out["lr"] = float(f"{max(lr for _, lr in plan['lr_schedule']):.6g}")
    return out


def format_parameters(row: Row, changes: dict[str, Any] | None = None,
                      profile: str | None = None) -> str:
    """:func:`parameter_listing` as text (``relight try ROW --params``); with ``profile``, a
    budget parameter left at None also shows what it resolves to there
    (:func:`effective_budget`)."""
    def text(v: Any) -> str:  # as --set reads it back (a YAML literal)
        return yaml.safe_dump(v, default_flow_style=True, width=10_000).strip() \
            .removesuffix("...").strip()

    listing = parameter_listing(row, changes, profile)
    resolved: dict[str, Any] = {}
    note = ""
    if profile is not None and any(n in BUDGET_PARAMETERS for n, *_ in listing):
        changed = row.with_params(dict(changes or {}))
        try:
            resolved = effective_budget(changed, profile)
        except (PlanError, RunsFileError) as e:
            note = f"(cannot plan the row at the {profile} profile: {str(e).splitlines()[0]})"
    items = []
    for n, v, src, c in listing:
        shown = text(v)
        if v is None and n in resolved:
            shown += f" ({profile}: {text(resolved[n])})"
        items.append((n, shown, src, c))
    wn = max(len(n) for n, *_ in items)
    wv = min(28, max(len(v) for _, v, *_ in items))
    lines = [f"{row.name}: parameters of {row.notebook} (change with --set KEY=VALUE)"]
    for n, v, src, c in items:
        lines.append(f"  {n:<{wn}}  {v:<{wv}}  {'[' + src + ']':<11}  {c}".rstrip())
    return "\n".join(lines + ([note] if note else []))


def check_changes(row: Row, changes: dict[str, Any]) -> None:
    """Raise :class:`RunsFileError` naming the notebook and the valid names when ``changes``
    sets a name its ``parameters`` cell does not define (or one the runner sets)."""
    valid = settable_parameters(row)
    bad = sorted(set(changes) - set(valid))
    if bad:
        runner = sorted(set(bad) & set(RUNNER_PARAMETERS))
        hint = (f" ({', '.join(runner)} {'is' if len(runner) == 1 else 'are'} set by the runner;"
                " use --profile / the row name)") if runner else ""
        raise RunsFileError(f"{row.notebook} has no parameter {', '.join(map(repr, bad))} for "
                            f"row {row.name}{hint}; valid: {', '.join(valid)}")


def changes_slug(changes: dict[str, Any], limit: int = 48) -> str:
    """A short, path-safe name for a set of changes.

    >>> changes_slug({"stage1_fraction": 0.25})
    'stage1_fraction-0.25'
    >>> changes_slug({"inputs": ["rgb", "depth"], "postprocess": None})
    'inputs-rgb-depth_postprocess-none'
    >>> changes_slug({})
    'rerun'
    """
    if not changes:
        return "rerun"

    def text(v: Any) -> str:
        if isinstance(v, (list, tuple)):
            return "-".join(text(x) for x in v)
        return "none" if v is None else str(v).lower() if isinstance(v, bool) else str(v)

    slug = "_".join(f"{k}-{text(v)}" for k, v in changes.items())
    slug = re.sub(r"[^A-Za-z0-9_.+-]+", "-", slug).strip("-._") or "changes"
    if len(slug) > limit:
        digest = hashlib.sha256(json.dumps(changes, sort_keys=True, default=str).encode())
        slug = slug[:limit - 9].rstrip("-._") + "-" + digest.hexdigest()[:8]
    return slug


def parse_row_spec(spec: str) -> tuple[str, str, str]:
    """``'paper/table/variant'`` to its three parts.

    >>> parse_row_spec("msrnet/table2/dmshn_cl/")
    ('msrnet', 'table2', 'dmshn_cl')
    """
    parts = spec.strip("/").split("/")
    if len(parts) != 3:
        raise RunsFileError(f"{spec!r}: name a row as PAPER/TABLE/VARIANT, e.g. "
                            "msrnet/table2/dmshn_cl (relight reproduce --list shows them)")
    return parts[0], parts[1], parts[2]


def try_row_for(spec: str, changes: dict[str, Any], name: str | None = None,
                notebooks_dir: Path = NOTEBOOKS_DIR) -> tuple[Row, Row]:
    """The committed row ``paper/table/variant`` and the changed copy ``try`` runs (its variant
    ``<variant>__<name or slug>``, its parameters updated); the changes are checked here."""
    (row,) = select_rows(load_rows(notebooks_dir), *parse_row_spec(spec))
    check_changes(row, changes)
    suffix = name if name is not None else changes_slug(changes)
    if not _NAME.match(suffix):
        raise RunsFileError(f"--name {suffix!r}: use letters, digits, '_', '-', '.' or '+'")
    new = row.with_params(changes, variant=f"{row.variant}__{suffix}")
    return row, new


def _means(root: Path, profile: str, row: Row) -> tuple[dict[str, float], int]:
    """Mean over seeds of each metric of one row's results (and how many seeds)."""
    import pandas as pd

    from relight_lib.harness import results

    if not row.result_dir(profile, root).is_dir():
        return {}, 0
    df = results.load_results(root, profile, row.paper, row.table)
    df = df[df["variant"] == row.variant]
    if df.empty:
        return {}, 0
    values = pd.to_numeric(df["value"], errors="coerce")
    means = values.groupby(df["metric"], sort=False).mean()
    return {m: float(v) for m, v in means.items()}, int(df["seed"].nunique())


@dataclass
class TryResult:
    """What :func:`try_row` did (``outcome``) and how the try compares with the committed row."""

    outcome: Outcome
    committed: Row
    tried: Row
    profile: str
    results_root: Path
    committed_root: Path = RESULTS_DIR
    note: str = ""
    #: Why the committed row is out of date with the code now (None: up to date, or absent).
    committed_stale: str | None = None

    def comparison(self) -> list[tuple[str, float | None, float | None, float | None]]:
        """(metric, committed mean, try mean, try - committed) for every metric of either."""
        return self._compare(_means(self.committed_root, self.profile, self.committed)[0],
                             _means(self.results_root, self.profile, self.tried)[0])

    @staticmethod
    def _compare(old: dict[str, float], new: dict[str, float]
                 ) -> list[tuple[str, float | None, float | None, float | None]]:
        rows = []
        for m in list(new) + [m for m in old if m not in new]:
            a, b = old.get(m), new.get(m)
            a = None if a is None or a != a else a  # NaN: not measured
            b = None if b is None or b != b else b
            d = b - a if a is not None and b is not None else None
            if d is not None and abs(d) <= 1e-12 * max(1.0, abs(a), abs(b)):
                d = 0.0  # rounding noise of equal means, not a difference
            rows.append((m, a, b, d))
        return rows

    def report(self) -> str:
        """The comparison as a small text table, with where both runs are."""
        # each side's results are read once, for both the table and the seed counts
        old, n_old = _means(self.committed_root, self.profile, self.committed)
        new, n_new = _means(self.results_root, self.profile, self.tried)

        def fmt(v: float | None, sign: str = "") -> str:
            return "n/a" if v is None else f"{v:{sign}.4g}"

        head = ("metric", f"committed {self.committed.variant}",
                f"try {self.tried.variant.split('__', 1)[1]}", "difference")
        body = [(m, fmt(a), fmt(b), fmt(d, "+")) for m, a, b, d in self._compare(old, new)]
        widths = [max(len(r[i]) for r in [head, *body]) for i in range(4)]
        lines = ["  ".join(c.ljust(w) if i == 0 else c.rjust(w)
                           for i, (c, w) in enumerate(zip(r, widths))) for r in [head, *body]]
        old_dir = self.committed.result_dir(self.profile, self.committed_root)
        lines.insert(1, "-" * len(lines[0]))
        lines.append(f"(means over seeds: committed {n_old}, try {n_new}; n/a: not measured)")
        if not n_old:
            lines.append(f"no committed results at {old_dir} (profile {self.profile})")
        elif self.committed_stale:
            lines.append(f"note: the committed row is not up to date ({self.committed_stale}), "
                         "so the difference mixes two versions; refresh it with: relight "
                         f"reproduce --profile {self.profile} --paper {self.committed.paper} "
                         f"--table {self.committed.table} --variant {self.committed.variant}")
        lines.append(f"committed: {old_dir}")
        lines.append(f"try:       {self.tried.result_dir(self.profile, self.results_root)}")
        lines.append(f"notebook:  {self.tried.executed_path(self.profile, self.results_root)}")
        return "\n".join(lines)


def try_row(paper: str, table: str, variant: str, changes: dict[str, Any],
            profile: str = "quick", name: str | None = None,
            results_root: Path = EXERCISES_DIR, force: bool = False,
            committed_root: Path = RESULTS_DIR, notebooks_dir: Path = NOTEBOOKS_DIR,
            log=print) -> TryResult:
    """Run one table row with ``changes`` to its parameters into ``results_root`` (never the
    committed results), through the same papermill runner as ``relight reproduce``.

    The run is named ``<variant>__<name or a slug of the changes>``; a run with the same name,
    changes and code is cached (``force`` reruns it). Trainings are shared with other rows as
    usual (:func:`relight_lib.papers.onetoone.training_key`): a change that does not touch the
    training (a post-process, the evaluation) reuses the training's checkpoint when it exists.
    """
    committed, tried = try_row_for(f"{paper}/{table}/{variant}", changes, name, notebooks_dir)
    note = ""
    if not committed.runs_at(profile):
        note = (f"note: {committed.name} is not run at the {profile} profile in the book "
                f"({committed.why}); there is nothing committed to compare with")
        log(note)
    results_root = Path(results_root)
    params = resolved_parameters(tried, profile, results_root)
    if force or staleness(tried, profile, cache_key(tried, profile, params), results_root):
        # only the sets of the seeds the try trains (a one-seed try renders one seed's data)
        render_data(profiles.resolve(profile, data_root=tried.params.get("data_root"),
                                     seeds=tried.params.get("seeds")), log)
    outcome = run_row(tried, profile, results_root, force, log)
    stale = None
    if any(committed.result_dir(profile, Path(committed_root)).glob("seed=*/run.json")):
        cparams = resolved_parameters(committed, profile, Path(committed_root))
        stale = staleness(committed, profile, cache_key(committed, profile, cparams),
                          Path(committed_root))
    return TryResult(outcome, committed, tried, profile, results_root, Path(committed_root),
                     note, stale)
