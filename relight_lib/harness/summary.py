"""A chapter's one-screen summary, generated from the results: what the paper claims, what held,
how sure we are, and which rows are out of date.

Every number in it comes from the source of truth at build time (the claims of
``notebooks/<paper>/claims.yaml`` and their verdicts,
:func:`relight_lib.harness.claims.paper_claims`; the runs' ``metrics.csv``; the rows' states,
:func:`relight_lib.harness.book.row_states`), so the summary cannot go stale the way hand-typed
prose does. Each chapter shows it as its first cell
after ``book.page_setup``::

    from relight_lib.harness import summary
    summary.chapter_summary("ltnet")

The parts are pure functions of a claims frame (the columns of
:data:`relight_lib.harness.claims.CLAIM_COLUMNS`, plus an optional ``table``), so they are tested
on synthetic frames (``tests/harness/test_summary.py``):

- :func:`verdict_counts`: every verdict of :data:`~relight_lib.harness.claims.VERDICTS`, named
  even when none has it;
- :func:`untestable_reasons`: the *not testable here* claims grouped by why (:data:`REASONS`);
- :func:`claim_statements`: the claims' texts, one statement per table for the claims that say
  the same thing on several metrics;
- :func:`render_summary`: the Markdown.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from relight_lib.harness.claims import MIN_SEEDS, VERDICTS

__all__ = [
    "REASONS",
    "chapter_summary",
    "OTHER",
    "claim_statements",
    "claims_on_stale",
    "half_width_medians",
    "reason_group",
    "render_summary",
    "untestable_reasons",
    "verdict_counts",
]

#: Why a claim is *not testable here*, as the summary groups it: (what the claims do, said after
#: their count, and a test on the reason text of
#: :func:`relight_lib.harness.claims.claim_verdict`), first match wins; a reason that none
#: matches is grouped under :data:`OTHER`.
REASONS: tuple[tuple[str, Any], ...] = (
    ("wait for the LPIPS (AlexNet) weights",
     lambda r: "lpips" in r.lower() and ("unavailable" in r.lower() or "alexnet" in r.lower())),
    ("compare a row whose training has not converged", lambda r: r.startswith("not converged")),
    ("compare rows whose difference moved by at least its half-width when trained twice as long "
     "(budget-sensitive)", lambda r: r.startswith("budget-sensitive")),
    ("compare rows read on the validation split, not on the split claims are read on "
     "(rerun them)", lambda r: "read on the" in r and "split this profile reads claims on" in r),
    ("compare a row not run at this profile",
     lambda r: r.startswith("no results for variant") or "not run here" in r),
    (f"have fewer than {MIN_SEEDS} seeds on a side",
     lambda r: bool(re.match(r"\d+ seed\(s\): a verdict", r))),
    ("compare rows evaluated on different splits", lambda r: "different splits" in r),
    ("compare a row part-way through a rerun at a new budget (its seeds trained for different "
     "numbers of steps)", lambda r: r.startswith("seeds trained at different budgets")),
    ("need a metric that was not computed", lambda r: " not computed" in r),
)
#: The group of a reason that no test of :data:`REASONS` matches.
OTHER = "for another reason (the claims table says which)"

#: Units of a metric's difference, as the summary prints a half-width.
_UNITS = {"psnr": " dB"}
#: Decimals of a metric's difference (as the claims table shows it).
_DIGITS = {"psnr": 2, "ssim": 4, "lpips": 4, "mps": 4, "score_l2": 3, "mse": 4, "runtime_s": 4}


def reason_group(reason: str) -> str:
    """The group of a *not testable here* reason (a label of :data:`REASONS`, or :data:`OTHER`).

    >>> reason_group("no results for variant 'envmap' in table1")
    'compare a row not run at this profile'
    >>> reason_group("2 seed(s): a verdict needs at least 3; 95% Student-t interval ...")
    'have fewer than 3 seeds on a side'
    """
    text = str(reason or "")
    for label, test in REASONS:
        if test(text):
            return label
    return OTHER


def verdict_counts(claims: pd.DataFrame) -> dict[str, int]:
    """``verdict -> number of claims`` for every verdict of :data:`VERDICTS`, in that order,
    zero included. A verdict outside :data:`VERDICTS` raises ``ValueError``: the summary must
    not drop a claim silently."""
    seen = Counter(str(v) for v in claims["verdict"]) if len(claims) else Counter()
    unknown = sorted(set(seen) - set(VERDICTS))
    if unknown:
        raise ValueError(f"claims frame: unknown verdict(s) {unknown}; expected one of "
                         f"{list(VERDICTS)}")
    return {v: int(seen.get(v, 0)) for v in VERDICTS}


def untestable_reasons(claims: pd.DataFrame) -> dict[str, int]:
    """``reason group -> number of claims`` of the *not testable here* claims (most first);
    the counts add up to the number of such claims."""
    if not len(claims):
        return {}
    reasons = claims.loc[claims["verdict"] == "not testable here", "reason"]
    counts = Counter(reason_group("" if pd.isna(r) else str(r)) for r in reasons)
    return dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))


def _statement(text: str, metric: str) -> str:
    """A claim's statement without its metric, its trailing reference and its detail: the
    part that claims on several metrics share ("Normal maps raise {m} over image + depth")."""
    s = re.sub(r"\s*\([^()]*(?:\([^()]*\)[^()]*)*\)\s*$", "", str(text).strip())
    s = s.split(": ", 1)[0]
    name = str(metric).upper()
    return re.sub(rf"\b{re.escape(name)}\b", "{m}", s) if name else s


def claim_statements(claims: pd.DataFrame) -> list[tuple[str, list[tuple[str, int]]]]:
    """The claims' texts grouped per table (in the order of first appearance): for each table,
    ``(statement, number of claims)`` where claims that state the same thing on several
    metrics are one statement naming those metrics ("Normal maps raise MPS/SSIM over image +
    depth"). Without a ``table`` column every claim is under ``""``. The counts add up to the
    number of claims."""
    out: dict[str, dict[str, list[str]]] = {}
    tables = claims["table"] if "table" in claims.columns else [""] * len(claims)
    for table, text, metric in zip(tables, claims["text"], claims["metric"]):
        key = _statement(text, metric)
        out.setdefault(str(table), {}).setdefault(key, []).append(str(metric).upper())
    result = []
    for table, statements in sorted(out.items(), key=lambda kv: _table_order(kv[0])):
        items = []
        for key, metrics in statements.items():
            names = "/".join(dict.fromkeys(metrics))
            items.append((key.replace("{m}", names), len(metrics)))
        result.append((table, items))
    return result


def half_width_medians(claims: pd.DataFrame) -> dict[str, float]:
    """``metric -> median half-width`` (the smallest difference a claim resolves) over the
    claims that have an interval, per metric (half-widths of different metrics do not mix)."""
    if not len(claims) or "half_width" not in claims.columns:
        return {}
    hw = pd.to_numeric(claims["half_width"], errors="coerce")
    ok = hw.notna() & hw.map(math.isfinite)
    return {str(m): float(g.median()) for m, g in hw[ok].groupby(claims.loc[ok, "metric"])}


def claims_on_stale(claims: pd.DataFrame, stale: Mapping[str, str]) -> int:
    """How many claims compare (or evaluate the training of) a row in ``stale``: the claims
    frame's optional ``rows`` column lists each claim's rows as ``"table/variant"``."""
    if "rows" not in claims.columns or not stale:
        return 0
    return int(sum(any(r in stale for r in rows) for rows in claims["rows"]))


def _table_order(table: str) -> tuple[int, int]:
    """Sort key: numbered tables first, by number; other tables after, as they came (stable)."""
    m = re.fullmatch(r"table(\d+)", table)
    return (0, int(m.group(1))) if m else (1, 0)


#: The verb a :data:`REASONS` label starts with, for one claim.
_SINGULAR = {"wait": "waits", "compare": "compares", "have": "has", "need": "needs"}


def _count_label(count: int, label: str) -> str:
    """``"3 compare rows ..."``, ``"1 compares a row ..."``."""
    if count == 1:
        verb, _, rest = label.partition(" ")
        label = f"{_SINGULAR.get(verb, verb)} {rest}"
    return f"{count} {label}"


def _table_label(table: str) -> str:
    m = re.fullmatch(r"table(\d+)", table)
    return f"Table {m.group(1)}" if m else (table or "claims")


def _plural(n: int, word: str, plural: str | None = None) -> str:
    return f"{n} {word if n == 1 else (plural or word + 's')}"


def render_summary(
    paper: str,
    profile: str,
    claims: pd.DataFrame,
    *,
    split: str | None = None,
    row_seeds: Mapping[str, int] | None = None,
    row_splits: Mapping[str, str] | None = None,
    stale: Mapping[str, str] | None = None,
    claims_file: str | None = None,
) -> str:
    """The summary as Markdown (plain CommonMark: a Markdown output of a code cell).

    Args:
        paper: the paper key, named in the text.
        profile: the profile the results were read at.
        claims: the claims and their verdicts (columns of
            :data:`~relight_lib.harness.claims.CLAIM_COLUMNS`, optionally ``table``); empty for
            a chapter without claims.
        split: the split claims are read on at this profile (None: not known).
        row_seeds: ``"table/variant" -> seeds run`` of each of the chapter's rows.
        row_splits: ``"table/variant" -> split(s) its results were evaluated on``.
        stale: ``"table/variant" -> why it is out of date`` for rows run with older code.
        claims_file: where the claims come from, named in the text.
    """
    row_seeds, row_splits, stale = row_seeds or {}, row_splits or {}, stale or {}
    lines = [f"**Summary** at the {profile} profile (generated from the results when the book "
             "was built)."]
    n = len(claims)
    if n:
        src = f" (`{claims_file}`)" if claims_file else ""
        lines.append(f"- **What the paper claims**: {_plural(n, 'claim')}{src}, each one "
                     "metric on one pair of rows:")
        for table, items in claim_statements(claims):
            k = sum(c for _, c in items)
            said = "; ".join(s + (f" ({c} claims)" if c > 1 else "") for s, c in items)
            lines.append(f"  - {_table_label(table)} ({k}): {said}")
        counts = verdict_counts(claims)
        lines.append(f"- **What held** at the {profile} profile: "
                     + ", ".join(f"{c} *{v}*" for v, c in counts.items()) + f" (of {n}).")
        reasons = untestable_reasons(claims)
        if reasons:
            lines.append("  - Not testable here: " + "; ".join(
                _count_label(c, label) for label, c in reasons.items()) + ".")
        for verdict in ("contradicted", "smaller than reported"):
            texts = claims.loc[claims["verdict"] == verdict, "text"].tolist()
            if texts:
                lines.append(f"  - *{verdict.capitalize()}*: " + "; ".join(texts) + ".")
    else:
        lines.append(f"- **What the paper claims**: this chapter tests no claim of a paper "
                     "(no claims file); its rows are references for the other chapters.")
    # how sure we are
    sure = []
    if row_seeds:
        by_n = Counter(row_seeds.values())
        sure.append("seeds per row: " + ", ".join(
            f"{s} ({_plural(c, 'row')})" for s, c in sorted(by_n.items(), reverse=True))
            + f"; a verdict needs {MIN_SEEDS}")
    else:
        sure.append(f"no row of this chapter has been run at the {profile} profile")
    if split:
        read = Counter(row_splits.values())
        where = ", ".join(f"{s} ({_plural(c, 'row')})" for s, c in sorted(read.items()))
        sure.append(f"tables and claims are read on the {split} split" + (
            f"; the rows here were evaluated on: {where}" if read and set(read) != {split}
            else ""))
    medians = half_width_medians(claims) if n else {}
    if medians:
        sure.append("median smallest resolved difference (half-width of the 95% interval): "
                    + ", ".join(f"{m.upper()} ±{v:.{_DIGITS.get(m, 3)}f}{_UNITS.get(m, '')}"
                                for m, v in sorted(medians.items())))
    elif n:
        sure.append("no claim has an interval yet")
    lines.append("- **How sure we are**: " + "; ".join(sure) + ".")
    # out of date
    if stale:
        by_why: dict[str, list[str]] = {}
        for row, why in stale.items():
            by_why.setdefault(why, []).append(row)
        parts = []
        for why, rows in by_why.items():
            per_table: dict[str, list[str]] = {}
            for r in rows:
                t, v = r.split("/", 1)
                per_table.setdefault(t, []).append(v)
            parts.append(f"{why} ({len(rows)}): " + "; ".join(
                f"{_table_label(t)}: " + ", ".join(f"`{v}`" for v in vs)
                for t, vs in sorted(per_table.items(), key=lambda kv: _table_order(kv[0]))))
        total = len(row_seeds) or len(stale)
        lines.append(f"- **Out of date**: {len(stale)} of {_plural(total, 'run row')} were run "
                     "with older code or data, " + "; ".join(parts)
                     + (f"; {_plural(claims_on_stale(claims, stale), 'claim')} compare one of "
                        "them" if n else "") + ".")
    else:
        lines.append("- **Out of date**: no row of this chapter"
                     + (" (none has been run here)" if not row_seeds else "") + ".")
    return "\n".join(lines)


def chapter_summary(paper: str, profile: str | None = None,
                    results_root: str | Path = "results",
                    notebooks_dir: str | Path = "notebooks") -> Any:
    """The one-screen summary of a chapter at ``profile`` (default: the book's), as Markdown.

    Reads the claims and their verdicts (:func:`relight_lib.harness.claims.paper_claims`, the
    same frame as the chapter's claims table), the paper's runs (seeds and split of each row)
    and the rows' states (:func:`relight_lib.harness.book.out_of_date`). Run from the repository
    root (``book.page_setup`` moves there)."""
    from IPython.display import Markdown

    from relight_lib.harness import book, claims as C
    from relight_lib.harness import results as R

    profile = profile or book.current_profile()
    claims_path = Path(notebooks_dir, paper, "claims.yaml")
    if claims_path.is_file():
        frame = C.paper_claims(paper, profile, results_root, notebooks_dir)
        loaded = C.load_claims(claims_path, paper=paper)
        rows = {c.id: [f"{t}/{v}" for p, t, v in c.trained_rows if p in (None, paper)]
                for c in loaded}
        frame = frame.assign(table=frame["id"].map({c.id: c.table for c in loaded}),
                             rows=frame["id"].map(rows))
    else:
        frame = pd.DataFrame(columns=[*C.CLAIM_COLUMNS, "table"])
    ours = R.load_results(results_root, profile, paper=paper)
    if len(ours):
        ours = ours[ours["source"] != "reported"]
    row_seeds: dict[str, int] = {}
    row_splits: dict[str, str] = {}
    for (table, variant), g in (ours.groupby(["table", "variant"], sort=False) if len(ours)
                                else []):
        row = f"{table}/{variant}"
        row_seeds[row] = int(g["seed"].nunique())
        row_splits[row] = "/".join(sorted({str(s) for s in g["split"] if str(s)})) or "unknown"
    stale = {}
    for (p, table, variant) in book.row_states(profile):
        if p != paper:
            continue
        why = book.out_of_date(profile, p, table, variant)
        if why:
            stale[f"{table}/{variant}"] = why
    return Markdown(render_summary(
        paper, profile, frame, split=C._profile_split(profile), row_seeds=row_seeds,
        row_splits=row_splits, stale=stale, claims_file=str(claims_path)))
