"""Reading results back; comparison tables and claim verdicts.

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
    claims = load_claims("claims.yaml", paper="ltnet")
    verdicts = claims_table(claims, load_per_image("../../results", "quick", "ltnet", "table2"),
                            notes=ours)
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from relight_lib.library.record import (  # noqa: F401  (write_run & co. re-exported)
    _SLUG,
    _SPLITS,
    _STRING_COLUMNS,
    _TABLE,
    PER_IMAGE_COLUMNS,
    SCHEMA,
    _check_component,
    imported_library_files,
    provenance,
    run_dir,
    write_run,
)

__all__ = [
    "LOWER_IS_BETTER",
    "PER_IMAGE_COLUMNS",
    "SCHEMA",
    "VERDICTS",
    "Claim",
    "claim_verdict",
    "claims_table",
    "compare_table",
    "format_mean_sd",
    "load_claims",
    "load_convergence",
    "load_per_image",
    "load_reported",
    "load_results",
    "load_run_json",
    "provenance",
    "reported_difference",
    "run_dir",
    "validate_long",
    "write_run",
]

#: Metrics for which a smaller number is better.
LOWER_IS_BETTER: frozenset[str] = frozenset({"lpips", "mse", "runtime_s", "dssim",
                                              "light_loss"})

#: The four verdicts a claim can get.
VERDICTS: tuple[str, ...] = ("supported", "not supported", "contradicted", "not testable here")

#: Fewest values (paired differences, or values per side) :func:`claim_verdict` bootstraps.
MIN_VALUES = 2

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
        frame with these columns when nothing was found.
    """
    frames = []
    for path in _glob_runs(results_root, profile, paper, table):
        csv_path = path / "metrics.csv"
        if csv_path.is_file():
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
    """Per-image scores of every run of one table, with ``paper, table, variant, seed`` added.

    Args:
        results_root: the ``results/`` folder.
        profile: which profile's runs to read.
        paper: paper key.
        table: table name (``"table2"`` or ``2``).
        variant: restrict to one row.

    Returns:
        Columns ``paper, table, variant, seed, image, metric, value`` (empty frame with these
        columns when nothing was found).
    """
    columns = ["paper", "table", "variant", "seed", "image", "metric", "value"]
    frames = []
    for path in _glob_runs(results_root, profile, paper, table, variant):
        csv_path = path / "per_image.csv"
        if not csv_path.is_file():
            continue
        df = pd.read_csv(csv_path, dtype={"image": str, "metric": str})
        df.insert(0, "seed", _seed_of(path))
        df.insert(0, "variant", path.parent.name)
        df.insert(0, "table", path.parent.parent.name)
        df.insert(0, "paper", path.parent.parent.parent.name)
        frames.append(df.loc[:, columns])
    if not frames:
        return pd.DataFrame({c: pd.Series(dtype=float if c == "value" else object)
                             for c in columns})
    out = pd.concat(frames, ignore_index=True)
    out["value"] = pd.to_numeric(out["value"], errors="coerce").astype("float64")
    out["seed"] = out["seed"].astype(int)
    return out


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


def load_convergence(
    results_root: str | os.PathLike[str], profile: str, paper: str, table: str
) -> dict[str, dict[str, Any]]:
    """The plateau test (:mod:`relight_lib.library.convergence`) of every trained row of a
    table, over its seeds: ``variant -> {"converged", "reason", "seeds", "steps", "best_step",
    "tail_gains", "tail_gain", "final_drops", "tols"}``.

    Each seed's test is recomputed from its stored learning curve (``history.csv``, with the
    run's snapshot steps, read checkpoint, model A's L_c and recorded member values), so a run
    committed before the test changed gets today's verdict without retraining; without a curve,
    the verdict stored in ``run.json`` is used. A row converged when every seed did; it did not
    when one did not; ``None`` when a seed cannot tell. ``reason`` is the first seed's that
    decided the verdict; ``best_step``, ``tail_gains`` (final - start of the last fifth),
    ``final_drops`` (best - final) and ``tols`` have one entry per seed (None where unknown),
    all on validation PSNR of the scored weights; ``tail_gain`` is the largest gain. Rows that
    train nothing (baselines, rows not run here) are absent.
    """
    from relight_lib.library.convergence import from_history

    out: dict[str, dict[str, Any]] = {}
    folder = Path(results_root) / profile / paper / table
    for vdir in sorted(p for p in folder.glob("*") if p.is_dir()):
        tests = []
        for rj in sorted(vdir.glob("seed=*/run.json")):
            try:
                run = json.loads(rj.read_text())
            except (OSError, json.JSONDecodeError):
                continue
            extra, params = run.get("extra") or {}, run.get("params") or {}
            curve = rj.with_name("history.csv")
            if curve.is_file() and (extra.get("convergence") or extra.get("train_steps")):
                hist = pd.read_csv(curve).to_dict("records")
                members = (extra.get("ensemble_validation") or {}).get("members")
                test = from_history(
                    hist, members=params.get("snapshot_steps") or (),
                    member_values=members, read_step=extra.get("read_step"),
                    metrics=("val_psnr", "val_lc") if params.get("loss_setting") == "A"
                    else None).to_dict()
                tests.append((test, extra.get("train_steps")))
            elif extra.get("convergence"):
                tests.append((extra["convergence"], extra.get("train_steps")))
            elif extra.get("train_steps"):  # trained before validation curves were kept
                tests.append(({"converged": None, "reason": "no validation curve recorded "
                               "(trained before the plateau test)", "tail_gain": None,
                               "best_step": None}, extra.get("train_steps")))
        if not tests:
            continue
        flags = [t["converged"] for t, _ in tests]
        converged = False if False in flags else (None if None in flags else True)
        worst = next((t for t, _ in tests if t["converged"] is converged), tests[0][0])
        gains = [t.get("tail_gain") for t, _ in tests]
        known = [g for g in gains if g is not None]
        out[vdir.name] = {
            "converged": converged, "reason": worst["reason"], "seeds": len(tests),
            "steps": max((n or 0) for _, n in tests),
            "best_step": [t.get("best_step") for t, _ in tests],
            "tail_gains": gains, "tail_gain": max(known) if known else None,
            "final_drops": [t.get("final_drop") for t, _ in tests],
            "tols": [t.get("tol") for t, _ in tests]}
    return out


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


# --------------------------------------------------------------------------------------------
# Claims
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Claim:
    """One claim a paper makes: ``better`` beats ``worse`` on ``metric`` in ``table``.

    Attributes:
        id: short unique name, e.g. ``"ltnet_normals_raise_mps"``.
        text: the claim in words, as the book shows it.
        table: the table the two rows belong to (``"table2"``).
        metric: ``psnr``, ``ssim``, ``lpips``, ``mps``, ...
        better: variant slug the paper says is better: a row of ``table`` of ``paper``, or
            ``"paper/table/variant"`` for a row of another paper's table (LTNet's "better than
            MSR-Net" compares with our MSR-Net run, ``"msrnet/table1/stacked_dmshn"``); its
            reported value then comes from that paper's reported CSV.
        worse: variant slug the paper says is worse (same two forms).
        higher_is_better: ``None`` (the default) means ``False`` for lpips, mse and runtime_s and
            ``True`` otherwise.
        reported_difference: the paper's difference, oriented so that positive supports the
            claim; filled from the reported CSV by :func:`load_claims` when left out.
        note: anything the book should say next to the verdict.
        paper: paper key (needed only to look the reported difference up).
        split: which split, for tables reported on several (MBNet Table 3).
        trained_by: rows whose training produced a side's numbers when that side is not itself
            a trained row (the any-to-any ``subsets`` and ``predicter`` tables are evaluations
            of ``table1``'s trainings), in the same two forms as ``better``; a claim is not
            testable while one of them is not converged, as when a side is not.

    Example:
        >>> Claim("c", "normals lower LPIPS", "table2", "lpips", "i_d_n", "i_d").higher_is_better
        False
    """

    id: str
    text: str
    table: str
    metric: str
    better: str
    worse: str
    higher_is_better: bool | None = None
    reported_difference: float | None = None
    note: str = ""
    paper: str | None = None
    split: str | None = None
    trained_by: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if isinstance(self.trained_by, str):
            object.__setattr__(self, "trained_by", (self.trained_by,))
        else:
            object.__setattr__(self, "trained_by", tuple(self.trained_by))
        if self.higher_is_better is None:
            object.__setattr__(self, "higher_is_better", self.metric not in LOWER_IS_BETTER)
        if self.reported_difference is not None:
            object.__setattr__(self, "reported_difference", float(self.reported_difference))

    @property
    def sign(self) -> float:
        """+1 when higher is better, -1 otherwise."""
        return 1.0 if self.higher_is_better else -1.0

    def ref(self, variant: str) -> tuple[str | None, str, str]:
        """(paper, table, variant) of one side: ``better`` or ``worse`` resolved against the
        claim's own paper and table unless it names them (``"paper/table/variant"``).

        >>> Claim("c", "", "table1", "psnr", "ltnet_small", "msrnet/table1/stacked_dmshn",
        ...       paper="ltnet").sides
        (('ltnet', 'table1', 'ltnet_small'), ('msrnet', 'table1', 'stacked_dmshn'))
        """
        parts = variant.split("/")
        if len(parts) == 1:
            return self.paper, self.table, variant
        if len(parts) != 3 or not all(parts):
            raise ValueError(f"claim {self.id!r}: {variant!r} is neither a variant slug nor "
                             "'paper/table/variant'")
        return parts[0], _table_name(parts[1]), parts[2]

    @property
    def sides(self) -> tuple[tuple[str | None, str, str], tuple[str | None, str, str]]:
        """(paper, table, variant) of ``better`` and of ``worse`` (:meth:`ref`)."""
        return self.ref(self.better), self.ref(self.worse)

    @property
    def trained_rows(self) -> tuple[tuple[str | None, str, str], ...]:
        """(paper, table, variant) of the sides and of the ``trained_by`` rows: the rows whose
        convergence decides whether the claim is testable.

        >>> Claim("c", "", "subsets", "score_l2", "a_full", "identity_full", paper="swapnet",
        ...       trained_by=["table1/a"]).trained_rows[-1]
        ('swapnet', 'table1', 'a')
        """
        extra = []
        for row in self.trained_by:
            parts = row.split("/")
            if len(parts) == 2 and all(parts):  # table/variant of the claim's own paper
                extra.append((self.paper, _table_name(parts[0]), parts[1]))
            else:
                extra.append(self.ref(row))
        return tuple(dict.fromkeys(self.sides + tuple(extra)))  # a row named twice counts once


_CLAIM_FIELDS = {f.name: f for f in dataclasses.fields(Claim)}
_CLAIM_REQUIRED = ("id", "text", "table", "metric", "better", "worse")


def reported_difference(claim: Claim, reported: pd.DataFrame) -> float | None:
    """The paper's ``better - worse`` on the claim's metric, oriented like the claim.

    Returns ``None`` when either row (or the metric) is not in ``reported``. A side naming
    another paper's row (``"paper/table/variant"``) is looked up in that paper's rows of
    ``reported`` (its ``paper`` column), so pass the reported rows of both papers.

    Example:
        >>> rep = pd.DataFrame({"table": "table2", "variant": ["a", "b"], "split": "validation",
        ...                     "metric": "lpips", "value": [0.2780, 0.2795]})
        >>> round(reported_difference(Claim("c", "", "table2", "lpips", "a", "b"), rep), 4)
        0.0015
    """
    sel = reported["metric"] == claim.metric
    if claim.split is not None and "split" in reported.columns:
        sel &= reported["split"] == claim.split
    rows = reported[sel]
    values = []
    for paper, table, variant in claim.sides:
        mine = (rows["table"] == table) & (rows["variant"] == variant)
        if paper is not None and "paper" in rows.columns:
            mine &= rows["paper"] == paper
        vals = rows.loc[mine, "value"].to_numpy(dtype=float)
        if vals.size != 1 or not np.isfinite(vals[0]):
            return None
        values.append(float(vals[0]))
    return claim.sign * (values[0] - values[1])


def load_claims(
    path: str | os.PathLike[str],
    *,
    paper: str | None = None,
    reported: pd.DataFrame | None = None,
) -> list[Claim]:
    """Read claims from a YAML list of mappings (the keys are :class:`Claim`'s fields).

    A claim without ``reported_difference`` gets it from ``reported`` (or, when that is not
    given, from ``load_reported`` of the claim's paper, and of the other paper a side names as
    ``"paper/table/variant"``), when both rows exist.

    Args:
        path: the YAML file.
        paper: default paper key for claims that do not name one.
        reported: reported rows to compute reported differences from.

    Returns:
        The claims, in file order.

    Raises:
        FileNotFoundError: no such file.
        ValueError: naming the file and the entry: not a list, an entry that is not a mapping,
            unknown keys, missing keys, wrong types, or duplicate ids.
    """
    import yaml

    path = Path(path)
    with open(path, encoding="utf-8") as f:
        try:
            data = yaml.safe_load(f)
        except yaml.YAMLError as err:
            raise ValueError(f"{path}: not valid YAML: {err}") from err
    if data is None:
        return []
    if not isinstance(data, list):
        raise ValueError(f"{path}: expected a YAML list of claims, got {type(data).__name__}")
    claims: list[Claim] = []
    seen: set[str] = set()
    reported_cache: dict[str, pd.DataFrame] = {}
    for i, entry in enumerate(data):
        where = f"{path}: claim #{i + 1}"
        if not isinstance(entry, dict):
            raise ValueError(f"{where} is not a mapping: {entry!r}")
        if "id" in entry:
            where += f" ({entry['id']!r})"
        unknown = sorted(str(k) for k in entry if k not in _CLAIM_FIELDS)
        if unknown:
            raise ValueError(f"{where}: unknown keys {unknown} (allowed: {sorted(_CLAIM_FIELDS)})")
        missing = [k for k in _CLAIM_REQUIRED if entry.get(k) in (None, "")]
        if missing:
            raise ValueError(f"{where}: missing keys {missing}")
        for key in ("id", "text", "table", "metric", "better", "worse", "note", "paper", "split"):
            if key in entry and entry[key] is not None and not isinstance(entry[key], str):
                raise ValueError(f"{where}: {key} must be a string, got {entry[key]!r}")
        tb = entry.get("trained_by")
        if tb is not None and not (isinstance(tb, str) or (
                isinstance(tb, list) and all(isinstance(t, str) and t for t in tb))):
            raise ValueError(f"{where}: trained_by must be a row or a list of rows "
                             f"('table/variant' or 'paper/table/variant'), got {tb!r}")
        hib = entry.get("higher_is_better")
        if hib is not None and not isinstance(hib, bool):
            raise ValueError(f"{where}: higher_is_better must be true or false, got {hib!r}")
        rd = entry.get("reported_difference")
        if rd is not None and (isinstance(rd, bool) or not isinstance(rd, (int, float))):
            raise ValueError(f"{where}: reported_difference must be a number, got {rd!r}")
        if entry["id"] in seen:
            raise ValueError(f"{where}: duplicate id {entry['id']!r}")
        seen.add(entry["id"])
        kwargs = dict(entry)
        kwargs.setdefault("paper", paper)
        kwargs["table"] = _table_name(kwargs["table"])
        if kwargs.get("note") is None:
            kwargs["note"] = ""
        if kwargs.get("trained_by") is None:
            kwargs.pop("trained_by", None)
        claim = Claim(**kwargs)
        try:
            sides = claim.sides
            claim.trained_rows  # noqa: B018 -- validates the trained_by rows
        except ValueError as err:
            raise ValueError(f"{where}: {err}") from None
        if sides[0] == sides[1]:
            raise ValueError(f"{where}: better and worse are the same variant {entry['better']!r}")
        if any(p is None for p, _, _ in sides) and "/" in entry["better"] + entry["worse"]:
            raise ValueError(f"{where}: a side names another paper's row but the claim's own "
                             "paper is not known (give paper=)")
        if claim.reported_difference is None:
            source = reported
            papers = list(dict.fromkeys(p for p, _, _ in sides if p is not None))
            if source is None and papers:
                for p in papers:
                    if p not in reported_cache:
                        reported_cache[p] = load_reported(p)
                source = pd.concat([reported_cache[p] for p in papers], ignore_index=True)
            if source is not None:
                claim = dataclasses.replace(
                    claim, reported_difference=reported_difference(claim, source)
                )
        claims.append(claim)
    return claims


def claim_sources(claims: Iterable[Claim]) -> list[tuple[str | None, str]]:
    """The (paper, table) pairs whose runs the claims compare, sorted: what to load with
    :func:`load_per_image` / :func:`load_results` before :func:`claims_table` (a side may name
    another paper's row).

    >>> claim_sources([Claim("c", "", "table1", "psnr", "a", "msrnet/table1/b", paper="ltnet")])
    [('ltnet', 'table1'), ('msrnet', 'table1')]
    """
    return _sorted_tables(side for c in claims for side in c.sides)


def convergence_sources(claims: Iterable[Claim]) -> list[tuple[str | None, str]]:
    """The (paper, table) pairs whose convergence the claims depend on: their sides' tables
    and those of their ``trained_by`` rows, sorted (what to read with :func:`load_convergence`
    for :func:`claims_table`'s ``not_converged``).

    >>> convergence_sources([Claim("c", "", "subsets", "score_l2", "a_full", "b_full",
    ...                            paper="swapnet", trained_by="table1/a")])
    [('swapnet', 'subsets'), ('swapnet', 'table1')]
    """
    return _sorted_tables(row for c in claims for row in c.trained_rows)


def _sorted_tables(rows: Iterable[tuple[str | None, str, str]]) -> list[tuple[str | None, str]]:
    """The distinct (paper, table) pairs of (paper, table, variant) rows, sorted with a
    missing paper first."""
    pairs = {(paper, table) for paper, table, _ in rows}
    return sorted(pairs, key=lambda pt: (pt[0] or "", pt[1]))


def _side_name(claim: Claim, side: tuple[str | None, str, str]) -> str:
    """How a reason names a side: the slug for the claim's own table, else paper/table/slug."""
    paper, table, variant = side
    return variant if (paper, table) == (claim.paper, claim.table) else \
        f"{paper}/{table}/{variant}"


def _notes_for(notes: Any, claim: Claim, side: tuple[str | None, str, str]) -> str:
    """The recorded reason a metric is missing for one side (paper, table, variant), or ''."""
    paper, table, variant = side
    if notes is None:
        return ""
    if isinstance(notes, pd.DataFrame):
        if notes.empty or "note" not in notes.columns:
            return ""
        sel = (notes["variant"] == variant) & (notes["metric"] == claim.metric)
        if "table" in notes.columns:
            sel &= notes["table"] == table
        if paper is not None and "paper" in notes.columns:
            sel &= notes["paper"] == paper
        if "source" in notes.columns:
            sel &= notes["source"] != "reported"
        texts = [str(t) for t in notes.loc[sel, "note"] if isinstance(t, str) and t]
        return "; ".join(dict.fromkeys(texts))
    if isinstance(notes, Mapping):
        value = notes.get(variant)
        if isinstance(value, Mapping):
            return str(value.get(claim.metric, "") or "")
        value = notes.get(claim.metric)
        return str(value) if isinstance(value, str) else ""
    raise TypeError(f"notes must be a DataFrame or a mapping, got {type(notes).__name__}")


def _side(df: pd.DataFrame) -> dict[int, pd.Series]:
    """All values (NaN included) per seed: {seed: Series indexed by image}."""
    return {int(seed): group.set_index("image")["value"].astype(float)
            for seed, group in df.groupby("seed", sort=True)}


def _finite(side: dict[int, pd.Series]) -> dict[int, pd.Series]:
    """The finite values per seed, seeds without any dropped."""
    out = {}
    for seed, values in side.items():
        values = values[np.isfinite(values.to_numpy())]
        if len(values):
            out[seed] = values
    return out


def _boot_means(rng: np.random.Generator, groups: list[np.ndarray], n_boot: int) -> np.ndarray:
    """Two-level bootstrap of the mean over groups (seeds) of per-group means (images).

    Each replicate draws len(groups) groups with replacement and, for every draw, resamples that
    group's values with replacement.
    """
    k = len(groups)
    seed_draws = rng.integers(0, k, size=(n_boot, k))
    total = np.zeros(n_boot)
    for slot in range(k):
        slot_means = np.empty(n_boot)
        for g, values in enumerate(groups):
            rows = np.flatnonzero(seed_draws[:, slot] == g)
            if rows.size == 0:
                continue
            n = values.size
            chunk = max(1, 2_000_000 // max(n, 1))
            for start in range(0, rows.size, chunk):
                part = rows[start:start + chunk]
                idx = rng.integers(0, n, size=(part.size, n))
                slot_means[part] = values[idx].mean(axis=1)
        total += slot_means
    return total / k


def claim_verdict(
    claim: Claim,
    per_image: pd.DataFrame,
    n_boot: int = 2000,
    seed: int = 0,
    alpha: float = 0.05,
    notes: pd.DataFrame | Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Check one claim on our per-image scores, with a bootstrap interval.

    ``our_difference`` is mean(better) - mean(worse) (each the mean over seeds of per-seed
    image means), multiplied by -1 for lower-is-better metrics, so that positive always agrees
    with the paper. The ``1 - alpha`` percentile interval comes from a two-level bootstrap:
    seeds are resampled with replacement and, within each drawn seed, images with replacement.
    When both variants were evaluated on exactly the same ``(seed, image)`` keys, the paired
    differences are resampled (a pair with a NaN on either side is dropped); otherwise each
    side is resampled independently.

    Verdicts: ``supported`` (interval above 0), ``contradicted`` (below 0), ``not supported``
    (contains 0), ``not testable here`` (a row is missing, the metric is NaN for every image --
    the reason says which, quoting the run's note -- or fewer than :data:`MIN_VALUES` values).

    Args:
        claim: the claim.
        per_image: rows of :func:`load_per_image` (``variant, seed, image, metric, value``;
            ``paper`` and ``table`` are used to filter when present).
        n_boot: bootstrap replicates.
        seed: seed of the numpy Generator (deterministic).
        alpha: 1 - confidence level.
        notes: why metrics are missing: the :func:`load_results` frame (its ``note`` column), a
            mapping metric -> reason, or a mapping variant -> {metric -> reason}.

    Returns:
        A dict with keys ``id, text, metric, reported_difference, our_difference, ci_low,
        ci_high, n_images, n_seeds, verdict, reason``.
    """
    result: dict[str, Any] = {
        "id": claim.id, "text": claim.text, "metric": claim.metric,
        "reported_difference": claim.reported_difference,
        "our_difference": float("nan"), "ci_low": float("nan"), "ci_high": float("nan"),
        "n_images": 0, "n_seeds": 0, "verdict": "not testable here", "reason": "",
    }
    df = per_image
    if "seed" not in df.columns:
        df = df.assign(seed=0)

    def rows_of(side: tuple[str | None, str, str]) -> pd.DataFrame:
        paper, table, variant = side
        sel = df["variant"] == variant
        if "table" in df.columns:
            sel &= df["table"] == table
        if paper is not None and "paper" in df.columns:
            sel &= df["paper"] == paper
        return df[sel]

    refs = dict(zip((claim.better, claim.worse), claim.sides))
    frames = {v: rows_of(ref) for v, ref in refs.items()}
    missing_rows = [v for v, f in frames.items() if f.empty]
    if missing_rows:
        # a row written as "not run here" has no per-image values but says why in its notes
        why = [(v, _notes_for(notes, claim, refs[v])) for v in missing_rows]
        result["reason"] = "; ".join(
            f"variant {_side_name(claim, refs[v])!r}: {r}" if r
            else f"no results for variant {refs[v][2]!r} in {refs[v][1]}"
            + ("" if refs[v][:2] == (claim.paper, claim.table) else f" of {refs[v][0]}")
            for v, r in why)
        return result

    sides = {}
    empty = []
    for variant, f in frames.items():
        side = _side(f[f["metric"] == claim.metric])
        if not _finite(side):
            empty.append(variant)
        sides[variant] = side
    if empty:
        reasons = {v: _notes_for(notes, claim, refs[v]) for v in empty}
        texts = list(dict.fromkeys(r for r in reasons.values() if r))
        if not texts:
            detail = "no reason recorded"
        elif len(texts) == 1 and all(reasons.values()):
            detail = texts[0]
        else:
            detail = "; ".join(f"{v}: {r or 'no reason recorded'}" for v, r in reasons.items())
        which = "" if len(empty) == 2 else f" for {empty[0]!r}"
        result["reason"] = f"{claim.metric} not computed{which}: {detail}"
        return result

    raw_better, raw_worse = sides[claim.better], sides[claim.worse]
    rng = np.random.default_rng(seed)
    # paired when both rows were evaluated on the same (seed, image) keys; a pair with a
    # non-finite value on either side is dropped
    paired = (set(raw_better) == set(raw_worse)
              and all(set(raw_better[s].index) == set(raw_worse[s].index) for s in raw_better))
    diffs = {}
    if paired:
        for s in sorted(raw_better):
            d = raw_better[s] - raw_worse[s].reindex(raw_better[s].index)
            d = d[np.isfinite(d.to_numpy())]
            if len(d):
                diffs[s] = d
        if not diffs:
            result["reason"] = (f"no image has a finite {claim.metric} for both "
                                f"{claim.better!r} and {claim.worse!r}")
            return result
    better, worse = _finite(raw_better), _finite(raw_worse)
    counts = ([sum(len(d) for d in diffs.values())] if paired
              else [sum(len(v) for v in better.values()), sum(len(v) for v in worse.values())])
    if min(counts) < MIN_VALUES:
        result["reason"] = (f"too few images for an interval: {min(counts)} finite "
                            f"{'paired difference' if paired else 'value'}(s), "
                            f"need at least {MIN_VALUES}")
        return result
    if paired:
        groups = [diffs[s].to_numpy() for s in sorted(diffs)]
        point = float(np.mean([g.mean() for g in groups]))
        boot = _boot_means(rng, groups, n_boot)
        n_images = len(set().union(*(set(d.index) for d in diffs.values())))
        n_seeds = len(diffs)
        how = f"paired bootstrap over {n_seeds} seed(s) x {n_images} image(s)"
    else:
        gb = [better[s].to_numpy() for s in sorted(better)]
        gw = [worse[s].to_numpy() for s in sorted(worse)]
        point = float(np.mean([g.mean() for g in gb]) - np.mean([g.mean() for g in gw]))
        boot = _boot_means(rng, gb, n_boot) - _boot_means(rng, gw, n_boot)
        images = set().union(*(set(v.index) for v in better.values()),
                             *(set(v.index) for v in worse.values()))
        n_images = len(images)
        n_seeds = min(len(better), len(worse))
        how = (f"unpaired bootstrap ({claim.better}: {len(better)} seed(s), "
               f"{claim.worse}: {len(worse)} seed(s); {n_images} image(s))")
    boot = claim.sign * boot
    point = claim.sign * point
    lo, hi = (float(q) for q in np.quantile(boot, [alpha / 2, 1 - alpha / 2]))
    if lo > 0:
        verdict = "supported"
    elif hi < 0:
        verdict = "contradicted"
    else:
        verdict = "not supported"
    level = f"{100 * (1 - alpha):g}%"
    result.update(
        our_difference=point, ci_low=lo, ci_high=hi, n_images=int(n_images),
        n_seeds=int(n_seeds), verdict=verdict,
        reason=f"{level} interval from a {how}, {n_boot} resamples",
    )
    return result


def claims_table(
    claims: Iterable[Claim],
    per_image: pd.DataFrame,
    notes: pd.DataFrame | Mapping[str, Any] | None = None,
    *,
    n_boot: int = 2000,
    seed: int = 0,
    alpha: float = 0.05,
    not_converged: Mapping[tuple[str | None, str, str], str] | None = None,
) -> pd.DataFrame:
    """:func:`claim_verdict` for each claim, as a DataFrame (one row per claim).

    Every claim uses the same bootstrap ``seed``, so a claim's numbers do not depend on the
    others. ``not_converged`` maps ``(paper, table, variant)`` of rows whose training did not
    pass the plateau test to the reason: a claim comparing such a row, or evaluating one of its
    ``trained_by`` rows' trainings, is *not testable here*
    (a verdict on an unfinished model would say nothing about the paper); its difference is
    still shown.
    """
    columns = ["id", "text", "metric", "reported_difference", "our_difference", "ci_low",
               "ci_high", "n_images", "n_seeds", "verdict", "reason"]
    rows = []
    for c in claims:
        r = claim_verdict(c, per_image, n_boot=n_boot, seed=seed, alpha=alpha, notes=notes)
        unfinished = [f"{side[2]}: {not_converged[side]}" for side in c.trained_rows
                      if not_converged and side in not_converged]
        if unfinished and r["verdict"] != "not testable here":
            r = {**r, "verdict": "not testable here",
                 "reason": "not converged: " + "; ".join(unfinished)}
        rows.append(r)
    return pd.DataFrame(rows, columns=columns)
