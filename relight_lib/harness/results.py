"""Reading results back, and comparison tables (the claims and their verdicts are in
:mod:`relight_lib.harness.claims`).

Runs are written by :func:`relight_lib.library.record.write_run` (re-exported here).

This module is the contract between the run notebooks and the book (ARCHITECTURE.md sections 2 and
5). One evaluated row of a paper table, at one profile and one seed, lives in::

    results/<profile>/<paper>/<table>/<variant>/seed=<k>/
        per_image.csv   image,metric,value        one row per image and metric (NaN allowed)
        metrics.csv     the tidy long schema       one row per metric, source=ours
        run.json        parameters and provenance  (git commit, versions, device, timings, ...)
        figures/        optional, written by the notebook after :func:`write_run`

The papers' own numbers live in ``results/reported/<paper>.csv`` in the same long schema with
``source=reported`` (typed by hand from the papers, see ``results/README.md``).

The long schema (:data:`SCHEMA`), one row per number:

``paper, table, variant, label, profile, dataset, split, seed, metric, value, n_images, source,
where, note``

Typical use in a run notebook::

    run = write_run(results_root, paper="ltnet", table="table2", variant="i_d_n", profile="quick",
                    seed=0, dataset="SynVIDIT", split="validation", per_image=df, params=params,
                    notes={"lpips": "AlexNet weights not available", "mps": "needs lpips"})

and in a book page::

    ours = load_results("../../results", "quick", paper="ltnet", table="table2")
    reported = load_reported("ltnet", "table2", root="../../results/reported")
    table = compare_table(ours, reported, ["psnr", "ssim", "lpips", "mps"])
"""

from __future__ import annotations

import io
import json
import math
import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from relight_lib.library.record import (  # noqa: F401  (write_run & co. re-exported)
    EDITED,
    _SLUG,
    _SPLITS,
    _STRING_COLUMNS,
    _TABLE,
    PER_IMAGE_COLUMNS,
    SCHEMA,
    _check_component,
    edited_rows,
    imported_library_files,
    provenance,
    run_dir,
    write_run,
)

__all__ = [
    "CONVERGED_WORDS",
    "LOWER_IS_BETTER",
    "PER_IMAGE_COLUMNS",
    "SCHEMA",
    "compare_table",
    "format_mean_sd",
    "load_convergence",
    "load_per_image",
    "load_reported",
    "load_results",
    "load_run_json",
    "provenance",
    "run_dir",
    "validate_long",
    "write_run",
]

#: Metrics for which a smaller number is better.
LOWER_IS_BETTER: frozenset[str] = frozenset({"lpips", "mse", "runtime_s", "dssim",
                                              "light_loss"})

#: Metric names that may appear in a reported CSV.
KNOWN_METRICS: frozenset[str] = frozenset({"psnr", "ssim", "lpips", "mps", "mse", "runtime_s"})

# --------------------------------------------------------------------------------------------
# Reading runs back
# --------------------------------------------------------------------------------------------


def _coerce_long(df: pd.DataFrame) -> pd.DataFrame:
    """Give a long-schema frame its dtypes: strings ('' for empty), float value, Int64 counts."""
    df = df.copy()
    for col in _STRING_COLUMNS:
        if col in df.columns:
            df[col] = df[col].fillna("").astype(str)
    if "value" in df.columns:
        df["value"] = pd.to_numeric(df["value"], errors="coerce").astype("float64")
    for col in ("seed", "n_images"):
        if col in df.columns:
            df[col] = pd.to_numeric(df[col], errors="coerce").round().astype("Int64")
    return df


def _empty_long() -> pd.DataFrame:
    return _coerce_long(pd.DataFrame({c: pd.Series(dtype=object) for c in SCHEMA}))


def _glob_runs(
    results_root: str | os.PathLike[str],
    profile: str,
    paper: str | None,
    table: str | None,
    variant: str | None = None,
) -> list[Path]:
    """Run directories under ``<root>/<profile>`` (temporary and aside copies skipped), sorted."""
    base = Path(results_root) / _check_component("profile", profile)
    pattern = "/".join([
        _check_component("paper", paper) if paper else "*",
        _check_component("table", _table_name(table)) if table else "*",
        _check_component("variant", variant) if variant else "*",
        "seed=*",
    ])
    runs = []
    for path in sorted(base.glob(pattern)):
        rel = path.relative_to(base).parts
        if path.is_dir() and all(not p.startswith(".") for p in rel):
            runs.append(path)
    return runs


def _seed_of(path: Path) -> int:
    return int(path.name.split("=", 1)[1])


def load_results(
    results_root: str | os.PathLike[str],
    profile: str,
    paper: str | None = None,
    table: str | int | None = None,
) -> pd.DataFrame:
    """All ``metrics.csv`` rows under ``<root>/<profile>`` (optionally one paper / table).

    Args:
        results_root: the ``results/`` folder.
        profile: which profile's runs to read.
        paper: restrict to one paper.
        table: restrict to one table (``"table2"`` or ``2``).

    Returns:
        The long schema (:data:`SCHEMA`), one row per run and metric; ``value`` float,
        ``seed`` and ``n_images`` nullable integers, text columns ``''`` when empty. An empty
        frame with these columns when nothing was found. A row whose files no longer match
        the sha256 its run.json recorded (:func:`~relight_lib.library.record.verify_run`) is
        not read: each of its metrics is NaN with the note ``edited by hand: rerun or restore
        (...)``, so tables show n/a and claims give the reason.
    """
    frames = []
    runs = _glob_runs(results_root, profile, paper, table)
    edited = edited_rows(runs)
    for path in runs:
        csv_path = path / "metrics.csv"
        if path.parent in edited:
            frames.append(_edited_metrics(path, edited[path.parent]))
        elif csv_path.is_file():
            frames.append(pd.read_csv(csv_path, dtype=str, keep_default_na=False))
    if not frames:
        return _empty_long()
    df = pd.concat(frames, ignore_index=True)
    missing = [c for c in SCHEMA if c not in df.columns]
    if missing:
        raise ValueError(f"metrics.csv under {results_root}/{profile} lacks columns {missing}")
    return _coerce_long(df.loc[:, list(SCHEMA)])


def load_per_image(
    results_root: str | os.PathLike[str],
    profile: str,
    paper: str,
    table: str | int,
    variant: str | None = None,
) -> pd.DataFrame:
    """Per-image scores of every run of one table, with ``paper, table, variant, seed, split``.

    Args:
        results_root: the ``results/`` folder.
        profile: which profile's runs to read.
        paper: paper key.
        table: table name (``"table2"`` or ``2``).
        variant: restrict to one row.

    Returns:
        Columns ``paper, table, variant, seed, split, image, metric, value`` (empty frame with
        these columns when nothing was found). ``split`` is the evaluation split of each value:
        the ``split`` column of ``per_image.csv`` when it has one, else the run's split as
        ``metrics.csv`` records it (``''`` when that file is missing or names several).
        Rows edited by hand (files that no longer match their recorded sha256) are left out,
        every seed of them: ``attrs["excluded"]`` maps each left-out
        ``(paper, table, variant)`` to the reason, and :func:`load_results` gives the same
        reason as the row's note.
    """
    columns = ["paper", "table", "variant", "seed", "split", "image", "metric", "value"]
    frames = []
    runs = _glob_runs(results_root, profile, paper, table, variant)
    edited = edited_rows(runs)
    for path in runs:
        csv_path = path / "per_image.csv"
        if path.parent in edited or not csv_path.is_file():
            continue
        df = pd.read_csv(csv_path, dtype={"image": str, "metric": str, "split": str})
        if "split" not in df.columns:
            df["split"] = _run_split(path)
        df.insert(0, "seed", _seed_of(path))
        df.insert(0, "variant", path.parent.name)
        df.insert(0, "table", path.parent.parent.name)
        df.insert(0, "paper", path.parent.parent.parent.name)
        frames.append(df.loc[:, columns])
    if not frames:
        out = pd.DataFrame({c: pd.Series(dtype=float if c == "value" else object)
                            for c in columns})
    else:
        out = pd.concat(frames, ignore_index=True)
        out["value"] = pd.to_numeric(out["value"], errors="coerce").astype("float64")
        out["seed"] = out["seed"].astype(int)
        out["split"] = out["split"].fillna("").astype(str)
    out.attrs["excluded"] = {(d.parent.parent.name, d.parent.name, d.name): why
                             for d, why in edited.items()}
    return out


def _edited_metrics(path: Path, reason: str) -> pd.DataFrame:
    """The metrics.csv rows of an edited run, rebuilt from its run.json: every value NaN, the
    note ``reason`` (:data:`~relight_lib.library.record.EDITED`)."""
    try:
        rec = json.loads((path / "run.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        rec = {}
    where = "/".join(path.parts[-5:])
    rows = [{"paper": path.parent.parent.parent.name, "table": path.parent.parent.name,
             "variant": path.parent.name, "label": rec.get("label", path.parent.name),
             "profile": path.parent.parent.parent.parent.name, "dataset": rec.get("dataset", ""),
             "split": rec.get("split", ""), "seed": str(_seed_of(path)), "metric": metric,
             "value": "", "n_images": "0", "source": "ours", "where": where, "note": reason}
            for metric in (rec.get("metrics") or {})]
    return pd.DataFrame(rows, columns=list(SCHEMA), dtype=str)


def _run_split(path: Path) -> str:
    """The one split a run's ``metrics.csv`` records, or ``''``."""
    csv_path = path / "metrics.csv"
    if not csv_path.is_file():
        return ""
    splits = set(pd.read_csv(csv_path, dtype=str, keep_default_na=False,
                             usecols=["split"])["split"])
    return splits.pop() if len(splits) == 1 else ""


def load_run_json(
    results_root: str | os.PathLike[str],
    profile: str,
    paper: str,
    table: str,
    variant: str,
    seed: int,
) -> dict[str, Any]:
    """The ``run.json`` of one run.

    Raises:
        FileNotFoundError: when the run has not been written.
    """
    path = run_dir(results_root, profile, paper, table, variant, seed) / "run.json"
    if not path.is_file():
        raise FileNotFoundError(f"no run.json at {path}: has this row been run at this profile?")
    with open(path, encoding="utf-8") as f:
        return json.load(f)


#: A plateau verdict (:func:`load_convergence`'s ``converged``) in the word the tables show.
CONVERGED_WORDS: dict[bool | None, str] = {True: "yes", False: "no", None: "can't tell"}


def load_convergence(
    results_root: str | os.PathLike[str], profile: str, paper: str, table: str
) -> dict[str, dict[str, Any]]:
    """The plateau test (:mod:`relight_lib.library.convergence`) of every trained row of a
    table, over its seeds: ``variant -> {"converged", "reason", "seeds", "steps", "seed_steps",
    "best_step", "tail_gains", "tail_gain", "final_drops", "tols"}`` (``seed_steps``: each
    seed's trained steps, None where ``run.json`` does not say).

    Each seed's test is recomputed from its stored learning curve (``history.csv``, with the
    run's snapshot steps, read checkpoint, model A's L_c and recorded member values), so a run
    committed before the test changed gets today's verdict without retraining; without a curve,
    the verdict stored in ``run.json`` is used. A row converged when every seed did; it did not
    when one did not; ``None`` when a seed cannot tell. ``reason`` is the first seed's that
    decided the verdict; ``best_step``, ``tail_gains`` (final - start of the last fifth),
    ``final_drops`` (best - final) and ``tols`` have one entry per seed (None where unknown),
    all on validation PSNR of the scored weights; ``tail_gain`` is the largest gain. Rows that
    train nothing (baselines, rows not run here) are absent.

    ``by_metric`` holds, when every seed has its curve, the same test for the claims on each
    metric a curve validates (``{"psnr": {"converged", "reason"}, "ssim": ...}``:
    :func:`relight_lib.library.convergence.claim_columns`): the scored weights judged on that
    metric's curve alone, so an SSIM claim needs the SSIM curve to have stopped, and a PSNR
    claim on model A does not wait on L_c.
    """
    from relight_lib.library.convergence import METRICS, claim_columns, from_history

    claim_metrics = sorted({spec.scores for spec in METRICS.values() if spec.scores})
    out: dict[str, dict[str, Any]] = {}
    folder = Path(results_root) / profile / paper / table
    for vdir in sorted(p for p in folder.glob("*") if p.is_dir()):
        tests = []
        seed_steps: dict[int, int | None] = {}
        by_metric: dict[str, list[dict[str, Any]]] | None = {m: [] for m in claim_metrics}
        for rj in sorted(vdir.glob("seed=*/run.json")):
            try:
                run = json.loads(rj.read_text())
            except (OSError, json.JSONDecodeError):
                continue
            extra, params = run.get("extra") or {}, run.get("params") or {}
            seed_steps[_seed_of(rj.parent)] = extra.get("train_steps")
            curve = rj.with_name("history.csv")
            if curve.is_file() and (extra.get("convergence") or extra.get("train_steps")):
                hist = pd.read_csv(curve).to_dict("records")
                where = dict(members=params.get("snapshot_steps") or (),
                             member_values=(extra.get("ensemble_validation") or {}).get("members"),
                             read_step=extra.get("read_step"))
                test = from_history(
                    hist, **where, metrics=("val_psnr", "val_lc")
                    if params.get("loss_setting") == "A" else None).to_dict()
                tests.append((test, extra.get("train_steps")))
                for m in claim_metrics if by_metric is not None else ():
                    by_metric[m].append(from_history(
                        hist, **where, metrics=claim_columns(m)).to_dict())
                continue
            by_metric = None  # a seed without its curve: its claims take the row's verdict
            if extra.get("convergence"):
                tests.append((extra["convergence"], extra.get("train_steps")))
            elif extra.get("train_steps"):  # trained before validation curves were kept
                tests.append(({"converged": None, "reason": "no validation curve recorded "
                               "(trained before the plateau test)", "tail_gain": None,
                               "best_step": None}, extra.get("train_steps")))
        if not tests:
            continue
        converged, reason = _over_seeds([t for t, _ in tests])
        gains = [t.get("tail_gain") for t, _ in tests]
        known = [g for g in gains if g is not None]
        out[vdir.name] = {
            "converged": converged, "reason": reason, "seeds": len(tests),
            "steps": max((n or 0) for _, n in tests), "seed_steps": seed_steps,
            "best_step": [t.get("best_step") for t, _ in tests],
            "tail_gains": gains, "tail_gain": max(known) if known else None,
            "final_drops": [t.get("final_drop") for t, _ in tests],
            "tols": [t.get("tol") for t, _ in tests],
            "by_metric": {m: dict(zip(("converged", "reason"), _over_seeds(seeds)))
                          for m, seeds in (by_metric or {}).items() if seeds}}
    return out


#: Significant digits of the numbers a committed ``history.csv`` keeps (:func:`compact_history`).
HISTORY_DIGITS = 6


def compacted_history_text(text: str, digits: int = HISTORY_DIGITS) -> str:
    """The text of a ``history.csv`` with its floats rounded to ``digits`` significant digits
    (integers, text and empty cells as they were). Raises what :func:`pandas.read_csv` raises."""
    frame = pd.read_csv(io.StringIO(text))
    return frame.to_csv(index=False, float_format=f"%.{digits}g", lineterminator="\n")


def compact_history(path: str | os.PathLike[str], digits: int = HISTORY_DIGITS) -> int:
    """Round the floats of one ``history.csv`` to ``digits`` significant digits, in place
    (:func:`compacted_history_text`); returns the bytes saved (0 when it was already compact).

    Why: a learning curve of 1600 steps written with every digit of a float is about 88 kB,
    half of a seed's committed files; at 6 digits it is about 55 kB (results/README.md, "Size
    budget"). What reads it loses nothing: validation PSNR keeps 1e-4 dB and SSIM 1e-6, far
    below the plateau test's smallest tolerance (0.05 dB, 0.002). Rounding twice gives the same
    text, so the runner may call this on every seed after each row; it then seals the compact
    file (:func:`seal_history`).

    Raises:
        ValueError: ``path`` is not a readable CSV (the message names it).
    """
    from relight_lib.library.data.imageio import atomic_write

    path = Path(path)
    try:
        old = path.read_text(encoding="utf-8")
        new = compacted_history_text(old, digits)
    except (OSError, UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as e:
        raise ValueError(f"{path}: not a readable history.csv ({type(e).__name__}: {e})") from None
    saved = len(old.encode()) - len(new.encode())
    if saved <= 0:
        return 0
    with atomic_write(path) as tmp:
        tmp.write_text(new, encoding="utf-8")
    return saved


def seal_history(path: str | os.PathLike[str]) -> bool:
    """Add the sha256 of a run's ``history.csv`` to the hashed files of its ``run.json``, so
    that an edit of the learning curve, which decides the plateau test and with it whether a
    claim gets a verdict, marks the run as edited by hand
    (:func:`relight_lib.library.record.verify_run`) as an edit of its scores does.

    The curve is written after the run's scores and rounded when its row ends
    (:func:`compact_history`), so it is sealed then, by the runner. A run that does not
    verify is left as it is (sealing it would launder the edit), and so is one without a
    ``run.json``, a ``history.csv`` or a ``sha256`` record.

    Args:
        path: a run directory (``.../<variant>/seed=<k>``).

    Returns:
        True when ``run.json`` now records the file's current hash (written only if it
        changed), False when the run was left as it is.
    """
    from relight_lib.library.data.imageio import atomic_write, sha256_file
    from relight_lib.library.record import _write_json, verify_run

    path = Path(path)
    curve, rj = path / "history.csv", path / "run.json"
    if not curve.is_file() or not rj.is_file() or verify_run(path) is not None:
        return False
    rec = json.loads(rj.read_text(encoding="utf-8"))
    if not isinstance(rec.get("sha256"), dict):
        return False
    digest = sha256_file(curve)
    if rec["sha256"].get("history.csv") != digest:
        rec["sha256"]["history.csv"] = digest
        with atomic_write(rj) as tmp:  # as record.write_run wrote it
            _write_json(rec, tmp)
    return True


def _over_seeds(tests: list[dict[str, Any]]) -> tuple[bool | None, str]:
    """A row's verdict from its seeds' plateau tests: False when one failed, else None when
    one cannot tell, else True; the reason of the first seed with that verdict."""
    flags = [t["converged"] for t in tests]
    converged = False if False in flags else (None if None in flags else True)
    worst = next((t for t in tests if t["converged"] is converged), tests[0])
    return converged, worst["reason"]


# --------------------------------------------------------------------------------------------
# Reported numbers
# --------------------------------------------------------------------------------------------


def _table_name(table: str | int) -> str:
    return f"table{table}" if isinstance(table, (int, np.integer)) else str(table)


def _resolve_reported_root(root: str | os.PathLike[str]) -> Path:
    root = Path(root)
    if root.is_absolute() or root.exists():
        return root
    # relative default used from somewhere else (a book page, a notebook folder): try the
    # checkout that holds this package
    candidate = Path(__file__).resolve().parent.parent / root
    return candidate if candidate.exists() else root


def validate_long(df: pd.DataFrame, *, source: str, name: str = "<frame>") -> pd.DataFrame:
    """Check a long-schema frame read as text and return it with proper dtypes.

    Args:
        df: the frame, all columns as strings (``pd.read_csv(..., dtype=str,
            keep_default_na=False)``).
        source: the required ``source`` value (``"reported"`` or ``"ours"``).
        name: the file name used in error messages.

    Returns:
        The coerced frame (see :func:`load_results` for dtypes).

    Raises:
        ValueError: naming ``name`` and the problem: missing or unexpected columns, a bad table
            name, variant slug, split or metric, a non-numeric value (NaN is allowed only for
            ``source="ours"``), a bad ``n_images``, a wrong ``source``, or a duplicate
            ``(table, variant, split, metric)`` (per seed for ours).
    """
    missing = [c for c in SCHEMA if c not in df.columns]
    if missing:
        raise ValueError(f"{name}: missing columns {missing} (expected {list(SCHEMA)})")
    unexpected = [c for c in df.columns if c not in SCHEMA]
    if unexpected:
        raise ValueError(f"{name}: unexpected columns {unexpected} (expected {list(SCHEMA)})")
    if df.empty:
        raise ValueError(f"{name}: no rows")

    def fail(i: int, problem: str) -> None:
        # line numbers as in the file: header is line 1
        raise ValueError(f"{name}, line {i + 2}: {problem}")

    for i, row in df.reset_index(drop=True).iterrows():
        if row["source"] != source:
            fail(i, f"source is {row['source']!r}, expected {source!r}")
        if not _TABLE.match(row["table"]):
            fail(i, f"table {row['table']!r} is not 'table<N>'")
        if not _SLUG.match(row["variant"]):
            fail(i, f"variant {row['variant']!r} is not a lowercase ascii slug")
        if row["split"] not in _SPLITS:
            fail(i, f"split {row['split']!r} is not one of {sorted(_SPLITS)}")
        if source == "reported" and row["metric"] not in KNOWN_METRICS:
            fail(i, f"metric {row['metric']!r} is not one of {sorted(KNOWN_METRICS)}")
        text = row["value"].strip()
        try:
            value = float(text)
        except ValueError:
            fail(i, f"value {row['value']!r} is not a number")
        if source == "reported" and not math.isfinite(value):
            fail(i, f"value {row['value']!r} is not a finite number")
        n = row["n_images"].strip()
        if n and not (n.isdigit()):
            fail(i, f"n_images {row['n_images']!r} is not empty or a non-negative integer")
        seed = row["seed"].strip()
        if source == "reported" and seed:
            fail(i, f"seed {row['seed']!r} must be empty for reported numbers")
    keys = ["table", "variant", "split", "metric"] + (["seed"] if source != "reported" else [])
    dup = df.duplicated(keys, keep=False)
    if dup.any():
        first = df.loc[dup, keys].iloc[0].to_dict()
        lines = [int(i) + 2 for i in df.index[dup & (df[keys] == pd.Series(first)).all(axis=1)]]
        raise ValueError(f"{name}: duplicate ({', '.join(keys)}) {first} on lines {lines}")
    return _coerce_long(df)


def load_reported(
    paper: str,
    table: str | int | None = None,
    root: str | os.PathLike[str] = "results/reported",
    *,
    printed: bool = False,
) -> pd.DataFrame:
    """The paper's own numbers from ``<root>/<paper>.csv``, validated.

    Args:
        paper: paper key (``ltnet``, ``mbnet``, ``msrnet``, ``swapnet``).
        table: restrict to one table (``"table2"`` or ``2``).
        root: folder of the reported CSVs. A relative path that does not exist from the current
            directory is also tried relative to the checkout that holds this package.
        printed: add a column ``value_printed`` with the number exactly as printed (keeps
            trailing zeros such as ``0.0300``).

    Returns:
        The long schema with ``source == "reported"``, in the papers' row order.

    Raises:
        FileNotFoundError: no such paper file.
        ValueError: the file breaks the schema (see :func:`validate_long`), or ``table`` is not
            in it.
    """
    path = _resolve_reported_root(root) / f"{_check_component('paper', paper)}.csv"
    if not path.is_file():
        raise FileNotFoundError(f"no reported numbers for paper {paper!r}: {path} does not exist")
    raw = pd.read_csv(path, dtype=str, keep_default_na=False)
    df = validate_long(raw, source="reported", name=str(path))
    wrong_paper = df["paper"] != paper
    if wrong_paper.any():
        i = int(np.flatnonzero(wrong_paper.to_numpy())[0])
        raise ValueError(
            f"{path}, line {i + 2}: paper is {df['paper'].iloc[i]!r}, expected {paper!r}"
        )
    if printed:
        df["value_printed"] = raw["value"].str.strip()
    if table is not None:
        name = _table_name(table)
        if name not in set(df["table"]):
            raise ValueError(f"{path}: no table {name!r} (has {sorted(set(df['table']))})")
        df = df[df["table"] == name].reset_index(drop=True)
    return df


# --------------------------------------------------------------------------------------------
# Comparison tables
# --------------------------------------------------------------------------------------------


def compare_table(
    ours: pd.DataFrame,
    reported: pd.DataFrame,
    metrics: list[str],
    *,
    by_split: bool | None = None,
) -> pd.DataFrame:
    """Reported numbers next to ours (mean and sd over seeds), one row per variant.

    Rows are matched by ``variant`` (and by ``split`` as well when ``by_split``; by default that
    happens only when a variant appears with several splits, as in MBNet Table 3). Rows present
    on one side only are kept, with NaN on the other; reported rows come first, in the paper's
    order.

    Args:
        ours: rows of :func:`load_results` for one table (one value per seed and metric).
        reported: rows of :func:`load_reported` for the same table.
        metrics: which metrics to show, e.g. ``["psnr", "ssim", "lpips", "mps"]``.
        by_split: match on ``(variant, split)``; ``None`` decides as above.

    Returns:
        Columns ``variant, label, split`` and, for each metric ``m``: ``m_reported``, ``m_mean``
        (mean over seeds of our per-seed values), ``m_sd`` (sample sd over seeds, NaN for one
        seed), ``m_n_seeds`` (seeds with a finite value) and ``m_diff`` (ours - reported).

    Example:
        >>> rep = pd.DataFrame({"variant": ["a", "b"], "label": ["A", "B"], "split": "validation",
        ...                     "metric": "psnr", "value": [17.0, 18.0], "source": "reported"})
        >>> ours = pd.DataFrame({"variant": ["a", "a"], "label": "a", "split": "validation",
        ...                      "seed": [0, 1], "metric": "psnr", "value": [16.0, 17.0],
        ...                      "source": "ours"})
        >>> t = compare_table(ours, rep, ["psnr"])
        >>> t[["variant", "psnr_reported", "psnr_mean", "psnr_n_seeds", "psnr_diff"]]
          variant  psnr_reported  psnr_mean  psnr_n_seeds  psnr_diff
        0       a           17.0       16.5             2       -0.5
        1       b           18.0        NaN             0        NaN
    """
    if "source" in ours.columns:
        ours = ours[ours["source"] != "reported"]
    if "source" in reported.columns:
        reported = reported[reported["source"] == "reported"]
    ours = ours[ours["metric"].isin(metrics)].copy()
    reported = reported[reported["metric"].isin(metrics)].copy()
    for frame in (ours, reported):
        if "split" not in frame.columns:
            frame["split"] = ""
        if "label" not in frame.columns:
            frame["label"] = frame["variant"]
    if by_split is None:
        by_split = bool(
            (reported.groupby(["variant", "metric"])["split"].nunique() > 1).any()
            if not reported.empty else False
        ) or bool(
            (ours.groupby(["variant", "metric"])["split"].nunique() > 1).any()
            if not ours.empty else False
        )
    keys = ["variant", "split"] if by_split else ["variant"]

    order: list[tuple] = []
    labels: dict[tuple, str] = {}
    splits: dict[tuple, str] = {}
    for frame in (reported, ours):
        for _, row in frame.iterrows():
            key = tuple(row[k] for k in keys)
            if key not in labels:
                order.append(key)
                labels[key] = str(row["label"]) if str(row["label"]) else str(row["variant"])
                splits[key] = str(row["split"])

    out: dict[str, list] = {"variant": [k[0] for k in order], "label": [labels[k] for k in order],
                            "split": [splits[k] for k in order]}
    for metric in metrics:
        rep_m = reported[reported["metric"] == metric]
        our_m = ours[ours["metric"] == metric]
        rep_val, means, sds, ns = [], [], [], []
        for key in order:
            sel = np.ones(len(rep_m), dtype=bool)
            for k, v in zip(keys, key):
                sel &= (rep_m[k] == v).to_numpy()
            vals = rep_m.loc[sel, "value"].to_numpy(dtype=float)
            rep_val.append(float(vals[0]) if vals.size else float("nan"))
            sel = np.ones(len(our_m), dtype=bool)
            for k, v in zip(keys, key):
                sel &= (our_m[k] == v).to_numpy()
            vals = our_m.loc[sel, "value"].to_numpy(dtype=float)
            vals = vals[np.isfinite(vals)]
            ns.append(int(vals.size))
            means.append(float(vals.mean()) if vals.size else float("nan"))
            sds.append(float(vals.std(ddof=1)) if vals.size > 1 else float("nan"))
        out[f"{metric}_reported"] = rep_val
        out[f"{metric}_mean"] = means
        out[f"{metric}_sd"] = sds
        out[f"{metric}_n_seeds"] = ns
        out[f"{metric}_diff"] = [m - r for m, r in zip(means, rep_val)]
    return pd.DataFrame(out)


def format_mean_sd(mean: float | None, sd: float | None = None, digits: int = 2) -> str:
    """``"17.20 ± 0.31"``; just the mean when the sd is missing; ``"n/a"`` when the mean is.

    Example:
        >>> format_mean_sd(17.2049, 0.3112, 2)
        '17.20 ± 0.31'
        >>> format_mean_sd(0.68281, float("nan"), 4)
        '0.6828'
        >>> format_mean_sd(float("nan"), 0.1)
        'n/a'
    """
    if mean is None or not np.isfinite(mean):
        return "n/a"
    if sd is None or not np.isfinite(sd):
        return f"{mean:.{digits}f}"
    return f"{mean:.{digits}f} ± {sd:.{digits}f}"
