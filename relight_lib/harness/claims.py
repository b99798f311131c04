"""Claims: what a paper says its tables show, and the verdict our runs give it.

A claim (:class:`Claim`, read from ``notebooks/<paper>/claims.yaml`` by :func:`load_claims`) is
one comparison of two rows on one metric: "row B beats row W on PSNR". Its verdict
(:func:`claim_verdict`) follows the protocol of ARCHITECTURE.md section 5b:

1. **The unit of replication is the seed.** Per seed ``s`` the difference of image means,
   ``d_s = mean_i m(B, s, i) - mean_i m(W, s, i)``, paired on the ``(seed, image)`` keys both
   rows were evaluated on (a pair with a non-finite value on either side is dropped on both).
   The sign is turned so that a positive difference agrees with the paper's direction.
2. **A Student-t interval over seeds**: ``mean(d_s) ± t_{0.975, n-1} · sd(d_s) / sqrt(n)``.
   When the rows share no seeds (or no images), Welch's interval on the per-seed means of each
   side. ``half_width`` (``t · se``) is the smallest difference this design resolves.
3. **A verdict needs at least** :data:`MIN_SEEDS` **seeds on each side**; with fewer the claim
   is *not testable here* and the reason starts with the count ("2 seed(s): ...").
4. **Four verdicts** (:data:`VERDICTS`), with ``r`` the paper's own difference in the claim's
   direction and ``[lo, hi]`` the interval:

   - *supported*: ``lo > 0``, the direction holds here;
   - *contradicted*: ``hi < 0``, the opposite holds here;
   - *smaller than reported*: ``lo <= 0 <= hi`` and ``hi < r``: no effect resolved, and one as
     large as the paper's is ruled out;
   - *inconclusive*: ``lo <= 0 <= hi`` and ``hi >= r`` (or no reported number): this design
     cannot tell;

   plus *not testable here* with its one-line reason (a row missing or not converged, the
   metric not computed, fewer than :data:`MIN_SEEDS` seeds, rows evaluated on different splits).
5. **"No significant difference" claims** (``expect: no_difference`` with a ``margin`` in the
   metric's unit): *supported* when the whole interval lies inside ``(-margin, +margin)``,
   otherwise *contradicted* when the interval excludes 0, otherwise *inconclusive*.

Claims never mix splits: the per-image frame's ``split`` column (see
:func:`relight_lib.harness.results.load_per_image`) decides which values are compared (the test
split when both rows have it, else the one split they share) and every result says which.

The interval is calibrated: ``tests/harness/test_claims.py`` passes simulated claims with no
true difference through :func:`claim_verdict` and checks that about 5 % get a verdict.

Typical use (what :func:`paper_claims` does for a book page)::

    claims = load_claims("notebooks/ltnet/claims.yaml", paper="ltnet")
    per_image = load_per_image("results", "quick", "ltnet", "table2")
    table = claims_table(claims, per_image, notes=load_results("results", "quick", "ltnet"))

and :func:`write_claims_csv` writes ``results/<profile>/claims.csv`` (:data:`CSV_COLUMNS`), the
machine-readable scorecard.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from relight_lib.harness.results import (
    LOWER_IS_BETTER,
    _table_name,
    load_convergence,
    load_per_image,
    load_reported,
    load_results,
)
from relight_lib.library.data.imageio import atomic_write

__all__ = [
    "CLAIM_COLUMNS",
    "CSV_COLUMNS",
    "EXPECTS",
    "MIN_SEEDS",
    "VERDICTS",
    "BUDGET_CHECK_RULE",
    "CURVE_OF",
    "Claim",
    "budget_check_change",
    "chance_verdicts",
    "claim_sources",
    "claim_verdict",
    "claims_table",
    "convergence_sources",
    "load_claims",
    "paper_claims",
    "profile_claims",
    "reported_difference",
    "seed_difference",
    "t_interval",
    "verdict_of",
    "welch_interval",
    "write_claims_csv",
]

#: The answers a claim can get, in the order the book lists them.
VERDICTS: tuple[str, ...] = ("supported", "smaller than reported", "inconclusive",
                             "contradicted", "not testable here")

#: What a claim can state: a difference in the paper's direction, or none (within a margin).
EXPECTS: tuple[str, ...] = ("difference", "no_difference")

#: Fewest seeds on each side for a verdict (with two, t_{0.975, 1} = 12.7: no useful interval).
MIN_SEEDS = 3

#: When a claim's paired budget check withholds its verdict (:func:`claims_table`), in words.
BUDGET_CHECK_RULE = (
    "a claim whose two rows were both trained once more at a multiple of their budget (the same "
    "seed) gets no verdict when that seed's difference moved by at least the claim's half-width: "
    "the rows had not stopped improving for this claim, whatever their curves say")

#: Columns of ``results/<profile>/claims.csv``, in order.
CSV_COLUMNS: tuple[str, ...] = (
    "paper", "id", "text", "metric", "reported_difference", "our_difference", "ci_low",
    "ci_high", "half_width", "n_seeds", "split", "verdict", "reason")

#: Columns of :func:`claims_table`: those of the CSV, then the number of images and the margin
#: of a no-difference claim (NaN for the others).
CLAIM_COLUMNS: tuple[str, ...] = (*CSV_COLUMNS, "n_images", "margin")

# --------------------------------------------------------------------------------------------
# Claims and where they come from
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
        split: which split of the paper's table the reported difference is read from, for
            tables reported on several (LTNet Table 1, MBNet Table 3). Our values' split is
            chosen by :func:`claim_verdict` (the test split when both rows have it).
        trained_by: rows whose training produced a side's numbers when that side is not itself
            a trained row (the any-to-any ``subsets`` and ``predicter`` tables are evaluations
            of ``table1``'s trainings), in the same two forms as ``better``; a claim is not
            testable while one of them is not converged, as when a side is not.
        expect: ``"difference"`` (the default: ``better`` beats ``worse``) or
            ``"no_difference"`` for a claim the paper states as "the two do not differ
            significantly"; such a claim needs a ``margin``.
        margin: for ``expect="no_difference"``, the largest difference (in the metric's unit)
            that still counts as "no difference"; the claim's ``note`` says why this value.

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
    expect: str = "difference"
    margin: float | None = None

    def __post_init__(self) -> None:
        if self.expect not in EXPECTS:
            raise ValueError(f"claim {self.id!r}: expect must be one of {list(EXPECTS)}, "
                             f"got {self.expect!r}")
        if self.expect == "no_difference":
            if (self.margin is None or isinstance(self.margin, bool)
                    or not isinstance(self.margin, (int, float))
                    or not math.isfinite(self.margin) or self.margin <= 0):
                raise ValueError(f"claim {self.id!r}: expect: no_difference needs a positive "
                                 f"margin (in the metric's unit), got {self.margin!r}")
            object.__setattr__(self, "margin", float(self.margin))
        elif self.margin is not None:
            raise ValueError(f"claim {self.id!r}: a margin belongs to expect: no_difference "
                             "claims only")
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
            unknown keys, missing keys, wrong types, a no_difference claim without a
            positive margin (or a margin on another claim), or duplicate ids.
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
        for key in ("id", "text", "table", "metric", "better", "worse", "note", "paper", "split",
                    "expect"):
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
        try:
            claim = Claim(**kwargs)
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
        sel = _our_rows(notes, side) & (notes["metric"] == claim.metric)
        texts = [str(t) for t in notes.loc[sel, "note"] if isinstance(t, str) and t]
        return "; ".join(dict.fromkeys(texts))
    if isinstance(notes, Mapping):
        value = notes.get(variant)
        if isinstance(value, Mapping):
            return str(value.get(claim.metric, "") or "")
        value = notes.get(claim.metric)
        return str(value) if isinstance(value, str) else ""
    raise TypeError(f"notes must be a DataFrame or a mapping, got {type(notes).__name__}")




# --------------------------------------------------------------------------------------------
# Intervals and verdicts
# --------------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=256)
def _t_quantile(q: float, df: float) -> float:
    return float(stats.t.ppf(q, df))


def t_interval(values: Iterable[float], alpha: float = 0.05) -> tuple[float, float, float, float]:
    """Student-t interval of the mean of ``values`` (one per seed).

    Args:
        values: the per-seed differences, finite.
        alpha: 1 - confidence level.

    Returns:
        ``(mean, low, high, half_width)`` with ``half_width = t_{1-alpha/2, n-1} · sd / sqrt(n)``
        (sample sd); the interval is NaN for fewer than two values.

    Example:
        >>> m, lo, hi, hw = t_interval([0.032, 0.012, 0.026])
        >>> round(m, 4), round(lo, 4), round(hi, 4)
        (0.0233, -0.0022, 0.0488)
    """
    x = np.asarray(list(values), dtype=float)
    mean = float(x.mean()) if x.size else float("nan")
    if x.size < 2:
        return mean, float("nan"), float("nan"), float("nan")
    half = _t_quantile(1 - alpha / 2, x.size - 1) * float(x.std(ddof=1)) / math.sqrt(x.size)
    return mean, mean - half, mean + half, half


def welch_interval(
    a: Iterable[float], b: Iterable[float], alpha: float = 0.05
) -> tuple[float, float, float, float, float]:
    """Welch interval of ``mean(a) - mean(b)`` (one value per seed on each side).

    Returns:
        ``(difference, low, high, half_width, df)`` with Welch-Satterthwaite degrees of freedom
        (``len(a) + len(b) - 2`` when both sides have no spread); NaN interval when a side has
        fewer than two values.

    Example:
        >>> d, lo, hi, hw, df = welch_interval([1.0, 1.2, 1.1], [0.5, 0.9, 0.7, 0.6])
        >>> round(d, 3), round(df, 2)
        (0.425, 4.85)
    """
    x = np.asarray(list(a), dtype=float)
    y = np.asarray(list(b), dtype=float)
    diff = float(x.mean() - y.mean()) if x.size and y.size else float("nan")
    if x.size < 2 or y.size < 2:
        return diff, float("nan"), float("nan"), float("nan"), float("nan")
    va, vb = x.var(ddof=1) / x.size, y.var(ddof=1) / y.size
    if va + vb == 0:
        df = float(x.size + y.size - 2)
    else:
        df = float((va + vb) ** 2 / (va ** 2 / (x.size - 1) + vb ** 2 / (y.size - 1)))
    half = _t_quantile(1 - alpha / 2, df) * math.sqrt(va + vb)
    return diff, diff - half, diff + half, half, df


def verdict_of(
    low: float,
    high: float,
    reported: float | None = None,
    *,
    expect: str = "difference",
    margin: float | None = None,
) -> str:
    """The verdict of an interval ``[low, high]`` oriented like the claim (positive agrees).

    ``reported`` is the paper's own difference in the claim's direction; ``expect`` and
    ``margin`` as in :class:`Claim`. See the module docstring for the rules.

    Example:
        >>> verdict_of(0.1, 0.4), verdict_of(-0.4, -0.1)
        ('supported', 'contradicted')
        >>> verdict_of(-0.2, 0.3, 0.5), verdict_of(-0.2, 0.3, 0.2), verdict_of(-0.2, 0.3)
        ('smaller than reported', 'inconclusive', 'inconclusive')
        >>> verdict_of(-0.2, 0.3, expect="no_difference", margin=0.5)
        'supported'
    """
    if not (math.isfinite(low) and math.isfinite(high)):
        raise ValueError(f"verdict_of needs a finite interval, got [{low}, {high}]")
    if expect == "no_difference":
        if margin is None:
            raise ValueError("a no_difference verdict needs a margin")
        if -margin < low and high < margin:
            return "supported"
        return "contradicted" if (low > 0 or high < 0) else "inconclusive"
    if low > 0:
        return "supported"
    if high < 0:
        return "contradicted"
    if reported is not None and math.isfinite(reported) and high < reported:
        return "smaller than reported"
    return "inconclusive"


def chance_verdicts(n_claims: int, alpha: float = 0.05) -> float:
    """How many of ``n_claims`` tested claims would be *supported* or *contradicted* by chance
    at confidence ``1 - alpha`` if none of the differences were real: ``alpha · n``.

    >>> chance_verdicts(40)
    2.0
    """
    return alpha * n_claims


def _select_split(
    splits: dict[str, set[str]], wanted: str | None
) -> tuple[str | None, str]:
    """The split to read a claim on: ``wanted`` when given, else the test split when both rows
    have it, else the one split they share. Returns ``(split, '')`` or ``(None, reason)``."""
    (vb, sb), (vw, sw) = splits.items()
    if wanted is not None:
        lacking = [v for v, s in splits.items() if wanted not in s]
        if lacking:
            read = sorted(set().union(*(splits[v] for v in lacking)))
            return None, (f"{', '.join(repr(v) for v in lacking)} read on the "
                          f"{'/'.join(read)} split, not on the {wanted} split this profile reads "
                          "claims on" + (" (validation is the split the recipes were tuned on)"
                                         if "validation" in read else "") + ": rerun the row")
        return wanted, ""
    common = sb & sw
    if "test" in common:
        return "test", ""
    if len(common) == 1:
        return next(iter(common)), ""
    if not common:
        return None, (f"the rows were evaluated on different splits ({vb!r}: "
                      f"{', '.join(sorted(sb))}; {vw!r}: {', '.join(sorted(sw))})")
    return None, f"the rows share several splits ({', '.join(sorted(common))}): name one"


def _notes_split(notes: Any, side: tuple[str | None, str, str]) -> set[str]:
    """The split(s) a row's metrics.csv records (from the :func:`load_results` frame)."""
    if not isinstance(notes, pd.DataFrame) or notes.empty or "split" not in notes.columns:
        return set()
    sel = _our_rows(notes, side)
    return {str(s) for s in notes.loc[sel, "split"] if str(s)}


def _our_rows(notes: pd.DataFrame, side: tuple[str | None, str, str]) -> pd.Series:
    """Mask of the :func:`load_results` rows of one side (paper, table, variant), ours only."""
    paper, table, variant = side
    sel = notes["variant"] == variant
    if "table" in notes.columns:
        sel &= notes["table"] == table
    if paper is not None and "paper" in notes.columns:
        sel &= notes["paper"] == paper
    if "source" in notes.columns:
        sel &= notes["source"] != "reported"
    return sel


def _seed_means(seeds: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per seed the mean of the finite values: (seeds, means), seeds without any left out."""
    ok = np.isfinite(values)
    u, inv = np.unique(seeds[ok], return_inverse=True)
    if not u.size:
        return u, np.zeros(0)
    return u, np.bincount(inv, weights=values[ok]) / np.bincount(inv)


def _pairs(b: dict[str, np.ndarray], w: dict[str, np.ndarray]
           ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(seed, image, better - worse) on the (seed, image) keys both sides have."""
    if (b["seed"].size == w["seed"].size and np.array_equal(b["seed"], w["seed"])
            and np.array_equal(b["image"], w["image"])):
        # the usual case: both rows written the same way, in the same order
        return b["seed"], b["image"], b["value"] - w["value"]
    m = pd.DataFrame(b).merge(pd.DataFrame(w), on=["seed", "image"], suffixes=("_b", "_w"))
    return (m["seed"].to_numpy(), m["image"].to_numpy(),
            m["value_b"].to_numpy(float) - m["value_w"].to_numpy(float))


def claim_verdict(
    claim: Claim,
    per_image: pd.DataFrame,
    *,
    alpha: float = 0.05,
    notes: pd.DataFrame | Mapping[str, Any] | None = None,
    split: str | None = None,
) -> dict[str, Any]:
    """Check one claim on our per-image scores (the protocol of the module docstring).

    ``our_difference`` is the mean over seeds of the per-seed differences better - worse,
    multiplied by -1 for lower-is-better metrics, so that positive always agrees with the
    paper. Paired (Student-t over seeds) on the ``(seed, image)`` keys both rows have, when
    they share at least as many seeds as a verdict needs (or as the smaller side has); else
    unpaired (Welch on per-seed means).

    Args:
        claim: the claim.
        per_image: rows of :func:`~relight_lib.harness.results.load_per_image` (``variant,
            seed, image, metric, value``; ``paper`` and ``table`` filter when present, and
            ``split`` decides which values are compared).
        alpha: 1 - confidence level.
        notes: why metrics are missing: the
            :func:`~relight_lib.harness.results.load_results` frame (its ``note`` column; its
            ``split`` column names the split when ``per_image`` has none), a mapping metric ->
            reason, or a mapping variant -> {metric -> reason}.
        split: read the claim on this split (default: the test split when both rows have it,
            else the one split they share).

    Returns:
        A dict with the keys of :data:`CLAIM_COLUMNS`.
    """
    result: dict[str, Any] = {
        "paper": claim.paper or "", "id": claim.id, "text": claim.text, "metric": claim.metric,
        "reported_difference": claim.reported_difference,
        "our_difference": float("nan"), "ci_low": float("nan"), "ci_high": float("nan"),
        "half_width": float("nan"), "n_seeds": 0, "split": "",
        "verdict": "not testable here", "reason": "", "n_images": 0,
        "margin": claim.margin if claim.margin is not None else float("nan"),
    }
    # plain arrays: this runs once per claim, and thousands of times in the calibration test
    df = per_image
    arr = {c: df[c].to_numpy() for c in ("paper", "table", "variant", "split", "metric", "seed",
                                          "image", "value") if c in df.columns}
    if "seed" not in arr:
        arr["seed"] = np.zeros(len(df), dtype=int)

    def rows_of(side: tuple[str | None, str, str]) -> np.ndarray:
        paper, table, variant = side
        sel = arr["variant"] == variant
        if "table" in arr:
            sel &= arr["table"] == table
        if paper is not None and "paper" in arr:
            sel &= arr["paper"] == paper
        return sel

    refs = dict(zip((claim.better, claim.worse), claim.sides))
    masks = {v: rows_of(ref) for v, ref in refs.items()}
    missing_rows = [v for v, m in masks.items() if not m.any()]
    if missing_rows:
        # a row written as "not run here" has no per-image values but says why in its notes
        why = [(v, _notes_for(notes, claim, refs[v])) for v in missing_rows]
        result["reason"] = "; ".join(
            f"variant {_side_name(claim, refs[v])!r}: {r}" if r
            else f"no results for variant {refs[v][2]!r} in {refs[v][1]}"
            + ("" if refs[v][:2] == (claim.paper, claim.table) else f" of {refs[v][0]}")
            for v, r in why)
        return result

    # one split, never a mix: the per-image frame's split column, else the runs' metrics.csv
    if "split" in arr:
        splits = {v: {str(s) for s in arr["split"][m]} for v, m in masks.items()}
    else:
        splits = {v: _notes_split(notes, refs[v]) for v in masks}
    if all(splits.values()):
        chosen, why = _select_split(splits, split)
        if chosen is None:
            result["reason"] = why
            return result
        result["split"] = chosen
        if "split" in arr:
            masks = {v: m & (arr["split"] == chosen) for v, m in masks.items()}

    of_metric = arr["metric"] == claim.metric
    masks = {v: m & of_metric for v, m in masks.items()}
    sides = {v: {"seed": arr["seed"][m], "image": arr["image"][m],
                 "value": arr["value"][m].astype(float)} for v, m in masks.items()}
    empty = [v for v, f in sides.items() if not np.isfinite(f["value"]).any()]
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

    b, w = sides[claim.better], sides[claim.worse]
    seeds_b, means_b = _seed_means(b["seed"], b["value"])
    seeds_w, means_w = _seed_means(w["seed"], w["value"])
    p_seed, p_image, p_diff = _pairs(b, w)
    finite = np.isfinite(p_diff)
    paired_seeds, d = _seed_means(p_seed, p_diff)
    level = f"{100 * (1 - alpha):g}%"
    if paired_seeds.size and paired_seeds.size >= min(MIN_SEEDS, seeds_b.size, seeds_w.size):
        n = int(paired_seeds.size)
        point, lo, hi, half = t_interval(d, alpha)
        n_images = len(set(p_image[finite]))
        how = (f"{level} Student-t interval over {n} seed(s) (df {n - 1}) of per-seed paired "
               f"differences, {int(finite.sum())} image pair(s)")
        left_out = sorted(set(seeds_b.tolist()) ^ set(seeds_w.tolist()))
        if left_out:
            how += f"; seed(s) {left_out} of one row only left out"
        if n < MIN_SEEDS:
            how = f"{n} seed(s): a verdict needs at least {MIN_SEEDS}; " + how
    else:
        n = int(min(seeds_b.size, seeds_w.size))
        point, lo, hi, half, dof = welch_interval(means_b, means_w, alpha)
        n_images = len(set(b["image"][np.isfinite(b["value"])])
                       | set(w["image"][np.isfinite(w["value"])]))
        how = (f"{level} Welch interval on per-seed means (unpaired: {claim.better!r} "
               f"{seeds_b.size} seed(s), {claim.worse!r} {seeds_w.size} seed(s)"
               + (f", df {dof:.1f})" if math.isfinite(dof) else ")"))
        if n < MIN_SEEDS:
            how = f"{n} seed(s): a verdict needs at least {MIN_SEEDS} on each side; " + how
    point, lo, hi = claim.sign * point, claim.sign * lo, claim.sign * hi
    lo, hi = min(lo, hi), max(lo, hi)
    result.update(our_difference=point, ci_low=lo, ci_high=hi, half_width=half,
                  n_images=int(n_images), n_seeds=n, reason=how)
    if n < MIN_SEEDS:
        return result
    result["verdict"] = verdict_of(lo, hi, claim.reported_difference, expect=claim.expect,
                                   margin=claim.margin)
    if claim.expect == "no_difference":
        result["reason"] = f"no difference if inside ±{claim.margin:g}; " + how
    return result


def seed_difference(
    claim: Claim, per_image: pd.DataFrame, seed: int,
    variants: tuple[str, str] | None = None, split: str | None = None,
) -> float | None:
    """One seed's difference of image means ``better - worse`` on the claim's metric, as
    measured (not turned by the claim's direction); None where a side has no finite value for
    that seed. ``variants`` names other rows of the sides' tables to compare instead (a budget
    check's ``<variant>__x2``); ``split`` reads only that split.

    >>> df = pd.DataFrame({"variant": ["b", "w", "b__x2"], "seed": 0, "image": "i",
    ...                    "metric": "psnr", "value": [20.0, 19.0, 20.5]})
    >>> c = Claim("c", "", "t", "psnr", "b", "w")
    >>> seed_difference(c, df, 0), seed_difference(c, df, 0, ("b__x2", "w__x2"))
    (1.0, None)
    """
    means = []
    for side, variant in zip(claim.sides, variants or (claim.sides[0][2], claim.sides[1][2])):
        sel = ((per_image["variant"] == variant) & (per_image["metric"] == claim.metric)
               & (per_image["seed"] == seed))
        if "table" in per_image.columns:
            sel &= per_image["table"] == side[1]
        if side[0] is not None and "paper" in per_image.columns:
            sel &= per_image["paper"] == side[0]
        if split is not None and "split" in per_image.columns:
            sel &= per_image["split"] == split
        values = per_image.loc[sel, "value"].astype(float)
        values = values[np.isfinite(values)]
        if values.empty:
            return None
        means.append(float(values.mean()))
    return means[0] - means[1]


def budget_check_change(
    claim: Claim, per_image: pd.DataFrame, split: str | None = None,
    budgets: Mapping[tuple, Mapping[int, int | None]] | None = None,
) -> dict[str, Any] | None:
    """The claim's paired budget check: what training both its rows longer did to its difference.

    A budget-check row ``<variant>__x<scale>`` (``notebooks/budget_checks.yaml``) trains one
    seed of ``variant`` at ``scale`` times its budget. When ``per_image`` holds one for both
    sides of ``claim`` at the same scale, and the check's seed has results in all four rows,
    this returns that seed's :func:`seed_difference` at the rows' budget (``at_budget``) and at
    the longer one (``longer``), their ``change``, ``seed`` and ``scale``; else None. The change
    is compared with a half-width, so its sign does not matter.

    ``budgets`` (``(paper, table, variant) -> {seed: trained steps}``): a check whose steps
    are known and are not ``scale`` times its row's (trained before the row's budget changed)
    is not used.

    >>> df = pd.DataFrame({"variant": ["b", "w", "b__x2", "w__x2"], "seed": 0, "image": "i",
    ...                    "metric": "psnr", "value": [20.0, 19.0, 20.5, 20.0]})
    >>> budget_check_change(Claim("c", "", "t", "psnr", "b", "w"), df)["change"]
    -0.5
    """
    from relight_lib.harness.reproduce import budget_check_of

    def scales(side: tuple[str | None, str, str]) -> set[float]:
        """the scales of the side's budget checks, from the variants of its table"""
        sel = per_image["variant"].astype(str).str.startswith(f"{side[2]}__x")
        if "table" in per_image.columns:
            sel &= per_image["table"] == side[1]
        found = (budget_check_of(v) for v in per_image.loc[sel, "variant"].unique())
        return {scale for ref, scale in filter(None, found) if ref == side[2]}

    b_side, w_side = claim.sides
    for scale in sorted(scales(b_side) & scales(w_side)):
        longer_rows = (f"{b_side[2]}__x{scale:g}", f"{w_side[2]}__x{scale:g}")
        seeds = sorted(set(per_image.loc[per_image["variant"] == longer_rows[0], "seed"]))
        for seed in seeds:
            if not all(check_at_scale(side, longer, int(seed), scale, budgets)
                       for side, longer in zip((b_side, w_side), longer_rows)):
                continue
            at_budget = seed_difference(claim, per_image, seed, split=split)
            longer = seed_difference(claim, per_image, seed, longer_rows, split=split)
            if at_budget is not None and longer is not None:
                return {"seed": int(seed), "scale": float(scale), "at_budget": at_budget,
                        "longer": longer, "change": longer - at_budget}
    return None


def check_at_scale(side: tuple, longer: str, seed: int, scale: float,
                   budgets: Mapping[tuple, Mapping[int, int | None]] | None) -> bool:
    """Whether budget check ``longer`` (a variant of ``side``'s table) trained ``seed`` for
    ``scale`` times the steps of ``side``'s run of that seed, as ``budgets`` (``(paper, table,
    variant) -> {seed: steps}``) records them; True where either count is unknown. False for a
    check trained before its row's budget changed, which measures nothing about the row now.

    >>> b = {("p", "t", "a"): {0: 3200}, ("p", "t", "a__x2"): {0: 3200}}
    >>> check_at_scale(("p", "t", "a"), "a__x2", 0, 2, b)
    False
    """
    at = (budgets or {}).get(side, {}).get(seed)
    check = (budgets or {}).get((*side[:2], longer), {}).get(seed)
    return at is None or check is None or int(check) == max(1, round(int(at) * scale))


def claims_table(
    claims: Iterable[Claim],
    per_image: pd.DataFrame,
    notes: pd.DataFrame | Mapping[str, Any] | None = None,
    *,
    alpha: float = 0.05,
    not_converged: Mapping[tuple, str | None] | None = None,
    split: str | None = None,
    budgets: Mapping[tuple, Mapping[int, int | None]] | None = None,
) -> pd.DataFrame:
    """:func:`claim_verdict` for each claim, as a DataFrame (columns :data:`CLAIM_COLUMNS`).

    ``not_converged`` maps ``(paper, table, variant)`` of rows whose training did not pass the
    plateau test to the reason: a claim comparing such a row, or evaluating one of its
    ``trained_by`` rows' trainings, is *not testable here* (a verdict on an unfinished model
    would say nothing about the paper); its difference and interval are still shown. A key
    ``(paper, table, variant, metric)`` gives the row's test on the claim's own metric
    (``None``: it passed) and then decides for the claims on that metric instead
    (:func:`relight_lib.harness.results.load_convergence`'s ``by_metric``).

    The paired budget check (:func:`budget_check_change`, rule :data:`BUDGET_CHECK_RULE`): a
    claim that would get a verdict gets none when both its rows were trained longer on one seed
    and that seed's difference moved by at least the claim's half-width, the smallest difference
    the design resolves. The plateau test cannot see this (a decaying schedule flattens every
    curve at its end), and a change that large could turn the verdict. The rule only withholds
    verdicts, so it cannot raise the rate of verdicts on claims with no true difference.

    ``budgets`` maps ``(paper, table, variant)`` to each seed's trained steps
    (:func:`relight_lib.harness.results.load_convergence`'s ``seed_steps``). With it, a claim
    whose rows hold seeds trained for different numbers of steps (a row part-way through a
    rerun at a new budget) gets no verdict: its interval would mix two budgets. It also keeps
    a budget check that is not ``scale`` times its row's budget (one trained before the row's
    budget changed) out of the rule.
    """
    rows = []
    for c in claims:
        r = claim_verdict(c, per_image, alpha=alpha, notes=notes, split=split)
        unfinished = [f"{side[2]}: {why}" for side in c.trained_rows
                      if (why := _unconverged(not_converged, side, c.metric))]
        if unfinished and r["verdict"] != "not testable here":
            r = {**r, "verdict": "not testable here",
                 "reason": "not converged: " + "; ".join(unfinished)}
        mixed = [m for side in c.trained_rows if (m := _mixed_budgets(side, budgets))]
        if mixed and r["verdict"] != "not testable here":
            r = {**r, "verdict": "not testable here",
                 "reason": "seeds trained at different budgets: " + "; ".join(mixed)
                 + " (rerun the row at one budget)"}
        if r["verdict"] != "not testable here":
            check = budget_check_change(c, per_image, split=r["split"] or split,
                                        budgets=budgets)
            if check is not None and not abs(check["change"]) < r["half_width"]:
                r = {**r, "verdict": "not testable here",
                     "reason": _budget_sensitive(c, check, r["half_width"])}
        rows.append(r)
    return pd.DataFrame(rows, columns=list(CLAIM_COLUMNS))


def _mixed_budgets(side: tuple, budgets: Mapping[tuple, Mapping[int, int | None]] | None
                   ) -> str | None:
    """``'a_lc: 1,600 steps (seeds 1, 2), 3,200 steps (seed 0)'`` when the seeds of ``side``
    were trained for different numbers of steps, else None (unknown counts are left out).

    >>> _mixed_budgets(("p", "t", "a"), {("p", "t", "a"): {0: 3200, 1: 1600, 2: 1600}})
    'a: 1,600 steps (seeds 1, 2), 3,200 steps (seed 0)'
    >>> _mixed_budgets(("p", "t", "a"), {("p", "t", "a"): {0: 3200, 1: None}}) is None
    True
    """
    by_steps: dict[int, list[int]] = {}
    for seed, steps in sorted((budgets or {}).get(side, {}).items()):
        if steps is not None:
            by_steps.setdefault(int(steps), []).append(int(seed))
    if len(by_steps) < 2:
        return None
    parts = [f"{n:,} steps (seed{'s' if len(ss) > 1 else ''} {', '.join(map(str, ss))})"
             for n, ss in sorted(by_steps.items())]
    return f"{side[2]}: " + ", ".join(parts)


def _budget_sensitive(claim: Claim, check: Mapping[str, Any], half_width: float) -> str:
    """The one-line reason of a verdict withheld by the paired budget check."""
    return (f"budget-sensitive: trained {check['scale']:g} times as long, seed {check['seed']}'s "
            f"difference {claim.better} - {claim.worse} moved from {check['at_budget']:+.4g} "
            f"to {check['longer']:+.4g} ({check['change']:+.4g}; the claim's half-width is "
            f"±{half_width:.4g}): the rows had not stopped improving for this claim")


#: Claim metrics that no learning curve records, and the curve that follows the same quantity:
#: the any-to-any Score (``score_l2``, ``score_l2_pairmean``) is MSE(I, G) / MSE(relit, G), and
#: the identity's MSE does not train, so the score moves with the relit images' error alone,
#: which the validation PSNR curve (-10 log10 of that error per image) follows. Model A's L_c
#: curve says nothing about it (its predicter is a separate head). A claim on such a metric is
#: judged on that curve (:func:`claims_table`), as a PSNR claim is.
CURVE_OF: dict[str, str] = {"score_l2": "psnr", "score_l2_pairmean": "psnr", "mse": "psnr"}


def _unconverged(not_converged: Mapping[tuple, str | None] | None, side: tuple, metric: str
                 ) -> str | None:
    """Why ``side``'s training is not converged for a claim on ``metric``, or None: its test
    on that metric's curve where known (:data:`CURVE_OF` for a metric no curve records), else
    the row's own."""
    if not not_converged:
        return None
    curve = CURVE_OF.get(metric, metric)
    if (*side, curve) in not_converged:
        return not_converged[(*side, curve)]
    return not_converged.get(side)


# --------------------------------------------------------------------------------------------
# A profile's claims, and results/<profile>/claims.csv
# --------------------------------------------------------------------------------------------


def paper_claims(
    paper: str,
    profile: str,
    results_root: str | os.PathLike[str] = "results",
    notebooks_dir: str | os.PathLike[str] = "notebooks",
) -> pd.DataFrame:
    """The verdict of every claim of ``<notebooks_dir>/<paper>/claims.yaml`` on the runs of
    ``profile`` (:func:`claims_table`, with the runs' notes and the plateau test of every row a
    claim depends on)."""
    claims = load_claims(Path(notebooks_dir, paper, "claims.yaml"), paper=paper)
    frames, notes = [], []
    # a claim may compare with another paper's row (LTNet vs our MSR-Net): load both tables
    for src_paper, table in claim_sources(claims):
        if Path(results_root, profile, src_paper, table).exists():
            frames.append(load_per_image(results_root, profile, src_paper, table))
            notes.append(load_results(results_root, profile, paper=src_paper, table=table))
    per_image = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(
        columns=["paper", "table", "variant", "seed", "split", "image", "metric", "value"])
    note_frame = pd.concat(notes, ignore_index=True) if notes else None
    unfinished: dict[tuple, str | None] = {}
    budgets: dict[tuple, dict[int, int | None]] = {}
    for src_paper, table in convergence_sources(claims):
        for variant, c in load_convergence(results_root, profile, src_paper, table).items():
            side = (src_paper, table, variant)
            budgets[side] = c.get("seed_steps", {})
            if c["converged"] is not True:
                unfinished[side] = str(c["reason"])
            # a claim on a metric the curves validate (PSNR, SSIM) is judged on its own curve
            for metric, m in c.get("by_metric", {}).items():
                unfinished[(*side, metric)] = None if m["converged"] is True else str(m["reason"])
    # read every claim on the profile's table split (test at the SynVIDIT profiles): a row
    # read on another split (validation, which the recipes were tuned on) gives no verdict
    return claims_table(claims, per_image, note_frame, not_converged=unfinished,
                        split=_profile_split(profile), budgets=budgets)


def _profile_split(profile: str) -> str | None:
    """The split a known profile reads its tables and claims on (None: a profile not known)."""
    from relight_lib.papers import profiles

    known = profiles.PROFILES.get(profile)
    return known.eval_split if known is not None else None


def profile_claims(
    profile: str,
    results_root: str | os.PathLike[str] = "results",
    notebooks_dir: str | os.PathLike[str] = "notebooks",
    papers: Iterable[str] | None = None,
) -> pd.DataFrame:
    """:func:`paper_claims` of every paper with a ``claims.yaml`` (in the book's order), one
    frame."""
    if papers is None:
        from relight_lib.harness.scorecard import claim_papers

        papers = claim_papers(notebooks_dir)
    frames = [paper_claims(p, profile, results_root, notebooks_dir) for p in papers]
    if not frames:
        return pd.DataFrame(columns=list(CLAIM_COLUMNS))
    return pd.concat(frames, ignore_index=True)


def write_claims_csv(
    profile: str,
    results_root: str | os.PathLike[str] = "results",
    notebooks_dir: str | os.PathLike[str] = "notebooks",
    papers: Iterable[str] | None = None,
) -> Path:
    """Write ``<results_root>/<profile>/claims.csv``: one row per claim of every paper, columns
    :data:`CSV_COLUMNS`, one line each (a multi-line reason is joined; numbers to 6
    significant digits, so that a diff shows verdicts that changed, not float noise). Atomic: a temporary file in the same folder, then a rename.

    Returns:
        The path written.
    """
    table = profile_claims(profile, results_root, notebooks_dir, papers).loc[:, list(CSV_COLUMNS)]
    # one line per claim: a run's multi-line note (where the weights were looked for) is joined
    table["reason"] = [" ".join(str(r).split()) for r in table["reason"]]
    out = Path(results_root, profile, "claims.csv")
    with atomic_write(out, suffix=".csv.tmp") as tmp:
        table.to_csv(tmp, index=False, float_format="%.6g", lineterminator="\n")
    return out
