"""The reproducibility scorecard: every claim of every paper with its verdict, and the code
completeness of each paper's official repository and of this suite.

Claims come from ``notebooks/<paper>/claims.yaml`` and are judged by
:func:`relight_lib.harness.claims.claim_verdict` on the runs of one profile (the same verdicts the
paper chapters show, through :func:`relight_lib.harness.book.claims_view`; the same numbers are
written to ``results/<profile>/claims.csv`` by :func:`relight_lib.harness.claims.write_claims_csv`). The code-completeness facts
are transcribed by hand into ``results/reported/code_completeness.yaml`` (the five items of the
ML Code Completeness Checklist) and only read here.

The page's figures and tables: :func:`forest_plot` (every claim, the paper's difference and ours
with its interval, in units of the paper's difference, grouped by paper), :func:`claims_html`
(each paper's claims with links to the run pages of the rows they compare) and
:func:`lpips_line` (the claims only LPIPS keeps from a verdict, on one line per paper).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from relight_lib.harness.claims import MIN_SEEDS, VERDICTS, chance_verdicts

#: Paper slug -> the name the book uses for it, in the order of the book's chapters.
PAPERS: dict[str, str] = {
    "ltnet": "LTNet",
    "msrnet": "MSR-Net",
    "mbnet": "MBNet",
    "swapnet": "2DSceneRelighting",
    "suite": "This suite",
}

#: The checklist's items (column order) and how the book names them.
CHECKLIST: dict[str, str] = {
    "dependencies": "dependencies",
    "training_code": "training code",
    "evaluation_code": "evaluation code",
    "pretrained_models": "pretrained models",
    "results_commands": "results + exact commands",
}
VALUES = ("yes", "partial", "no")
COMPLETENESS_FILE = Path("results/reported/code_completeness.yaml")


class CompletenessFileError(ValueError):
    """``code_completeness.yaml`` does not follow its schema."""


def claim_papers(notebooks_dir: str | Path = "notebooks") -> list[str]:
    """Papers with a ``claims.yaml``, in the order of :data:`PAPERS` (others after, sorted)."""
    found = {p.parent.name for p in Path(notebooks_dir).glob("*/claims.yaml")}
    return [p for p in PAPERS if p in found] + sorted(found - set(PAPERS))


def all_claims(profile: str | None = None, papers: list[str] | None = None,
               raw: pd.DataFrame | None = None) -> pd.DataFrame:
    """Every claim with its verdict at ``profile``: the columns of
    :func:`relight_lib.harness.book.claims_view` plus ``paper`` (first). ``raw``: the frame of
    :func:`relight_lib.harness.claims.profile_claims` when already computed (its verdicts are
    then formatted, not computed again)."""
    from relight_lib.harness import book

    frames = []
    for paper in papers if papers is not None else claim_papers():
        mine = None if raw is None else raw[raw["paper"] == paper].reset_index(drop=True)
        v = book.claims_view(paper, profile, verdicts=mine)
        v.insert(0, "paper", paper)
        frames.append(v)
    if not frames:
        return pd.DataFrame(columns=["paper", "claim", "metric", "verdict"])
    return pd.concat(frames, ignore_index=True)


def verdict_counts(claims: pd.DataFrame) -> pd.DataFrame:
    """Claims per paper and verdict (columns in :data:`VERDICTS` order, plus ``claims``), with
    an ``all papers`` row at the bottom."""
    t = pd.crosstab(claims["paper"], claims["verdict"]).reindex(columns=list(VERDICTS),
                                                               fill_value=0)
    order = [p for p in PAPERS if p in t.index] + sorted(set(t.index) - set(PAPERS))
    t = t.reindex(order)
    t["claims"] = t.sum(axis=1)
    t.loc["all papers"] = t.sum(axis=0)
    return t.astype(int)


#: What each verdict tells a reader (the scorecard's legend), in :data:`VERDICTS` order.
VERDICT_MEANINGS: dict[str, str] = {
    "supported": "the 95% interval of our difference lies above zero: the paper's direction "
                 "holds here",
    "smaller than reported": "the interval contains zero but lies below the paper's own "
                             "difference: no effect is resolved, and one as large as the "
                             "paper's is ruled out",
    "inconclusive": "the interval contains zero and reaches the paper's difference (or the "
                    "paper gives no number): this design cannot tell; the smallest resolved "
                    "difference says how far it is from telling",
    "contradicted": "the interval lies below zero: the opposite of the paper's direction holds "
                    "here",
    "not testable here": "a row is missing or did not converge, the metric could not be "
                         "computed, or fewer than three seeds ran; the reason is given",
}


def chance_sentence(verdicts: "pd.Series | list[str]", alpha: float = 0.05) -> str:
    """One sentence computed from the verdicts: how many claims got a verdict, how many of them
    are *supported* or *contradicted*, and how many would be by chance at confidence
    ``1 - alpha`` if none of the differences were real
    (:func:`relight_lib.harness.claims.chance_verdicts`).

    >>> chance_sentence(["supported", "inconclusive", "not testable here"] * 20)
    'Of the 40 claims that got a verdict, 20 are supported or contradicted; if none of the differences were real, about 2.0 would be by chance at 95% confidence (5% of 40).'
    """
    verdicts = list(verdicts)
    n = sum(v != "not testable here" for v in verdicts)
    decided = sum(v in ("supported", "contradicted") for v in verdicts)
    level = f"{100 * (1 - alpha):g}%"
    return (f"Of the {n} claims that got a verdict, {decided} are supported or contradicted; if "
            f"none of the differences were real, about {chance_verdicts(n, alpha):.1f} would be "
            f"by chance at {level} confidence ({100 * alpha:g}% of {n}).")


#: Written by ``relight bench --plateau-calibration`` (:mod:`relight_lib.bench_plateau`).
PLATEAU_CALIBRATION_FILE = Path("results/bench/plateau-calibration.csv")


def plateau_false_alarms(path: str | Path = PLATEAU_CALIBRATION_FILE
                         ) -> tuple[pd.DataFrame | None, str]:
    """The plateau test's false alarms as measured (a table, one row per noise level) and one
    sentence read from it; ``(None, why)`` when the bench has not been run.

    >>> table, why = plateau_false_alarms("no/such.csv")
    >>> table is None, why.startswith("The plateau test's false alarms have not been")
    (True, True)
    """
    path = Path(path)
    if not path.is_file():
        return None, ("The plateau test's false alarms have not been measured here (run "
                      "`relight bench --plateau-calibration`).")
    df = pd.read_csv(path)
    table = pd.DataFrame({
        "noise on the curve (dB)": df["sigma_db"],
        "converged seeds called not converged": (100 * df["p_fail"]).round(1).astype(str) + " %",
        "by best - final": df["fail_best_minus_final"],
        "by the last fifth's gain": df["fail_last_fifth_gain"],
        f"{int(df['n_seeds'].iloc[0])}-seed rows that pass": (
            100 * df["p_row_passes"]).round(0).astype(int).astype(str) + " %",
    })
    if "member_p_fail" in df:  # the snapshot-ensemble member check (bench_plateau)
        table["ensembles with a member called off the curve"] = (
            (100 * df["member_p_fail"]).round(1).astype(str) + " %")
    noisy = df[df["sigma_db"] > 0]
    worst = noisy.loc[noisy["p_fail"].idxmax()] if len(noisy) else df.iloc[0]
    sentence = (
        f"On {int(worst['curves']):,} simulated trainings that had stopped improving ("
        f"{int(worst['points'])} validation points, noise {worst['sigma_db']:g} dB), the plateau "
        f"test called {100 * worst['p_fail']:.0f} % of the seeds not converged, so a row of "
        f"{int(worst['n_seeds'])} such seeds passes {100 * worst['p_row_passes']:.0f} % of the "
        f"time (commit {str(worst.get('git_commit', ''))[:7]}).")
    return table, sentence


def load_code_completeness(path: str | Path = COMPLETENESS_FILE) -> list[dict[str, Any]]:
    """The repositories of ``code_completeness.yaml``, checked against the schema: each has
    ``paper``, ``repo``, ``url``, ``checked`` and, for every checklist item, a ``value`` in
    :data:`VALUES` and a non-empty ``evidence``. Raises :class:`CompletenessFileError` naming
    the file and the entry otherwise."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as e:
        raise CompletenessFileError(f"{path}: not valid YAML ({e})") from e
    repos = (data or {}).get("repositories")
    if not isinstance(repos, list) or not repos:
        raise CompletenessFileError(f"{path}: needs a non-empty 'repositories:' list")
    for i, r in enumerate(repos):
        where = f"{path}: repositories[{i}] ({r.get('repo', '?') if isinstance(r, dict) else r})"
        if not isinstance(r, dict):
            raise CompletenessFileError(f"{where}: not a mapping")
        # this suite is the repository the book is built from: it needs no URL
        keys = ("paper", "repo", "checked", "items") + (("url",) if r.get("paper") != "suite"
                                                         else ())
        for key in keys:
            if not r.get(key):
                raise CompletenessFileError(f"{where}: missing {key!r}")
        for item in CHECKLIST:
            it = (r["items"] or {}).get(item)
            if not isinstance(it, dict) or str(it.get("value")) not in VALUES:
                raise CompletenessFileError(f"{where}: item {item!r} needs a value in {VALUES}")
            if not str(it.get("evidence") or "").strip():
                raise CompletenessFileError(f"{where}: item {item!r} has no evidence")
    return repos


def completeness_table(repos: list[dict[str, Any]]) -> pd.DataFrame:
    """One row per repository (paper, repository link, then ✓ / partial / ✗ per item and the
    number of items fully met); text cells, HTML links."""
    mark = {"yes": "✓", "partial": "partial", "no": "✗"}
    rows = []
    for r in repos:
        rec = {"paper": PAPERS.get(r["paper"], r["paper"]),
               "repository": _link(r)}
        for item, label in CHECKLIST.items():
            rec[label] = mark[str(r["items"][item]["value"])]
        rec["complete"] = f'{sum(str(r["items"][i]["value"]) == "yes" for i in CHECKLIST)}/5'
        rows.append(rec)
    return pd.DataFrame(rows)


def _link(r: dict[str, Any]) -> str:
    return f'<a href="{r["url"]}">{r["repo"]}</a>' if r.get("url") else str(r["repo"])


def completeness_evidence(repos: list[dict[str, Any]]) -> str:
    """Markdown: per repository, the evidence for each item."""
    out = []
    for r in repos:
        repo = f"[{r['repo']}]({r['url']})" if r.get("url") else r["repo"]
        out.append(f"**{PAPERS.get(r['paper'], r['paper'])}**: {repo}, "
                   f"checked {r['checked']}.\n")
        for item, label in CHECKLIST.items():
            it = r["items"][item]
            out.append(f"- *{label}*: {it['value']}. {str(it['evidence']).strip()}")
        out.append("")
    return "\n".join(out)


# --------------------------------------------------------------------------------------------
# every claim at one glance: the forest plot, and the claims LPIPS keeps from a verdict

#: Colour of each verdict in the scorecard's figures and tables (colour-blind-safe pairs).
VERDICT_COLOURS: dict[str, str] = {
    "supported": "#3b8a5a", "smaller than reported": "#6b8fb3", "inconclusive": "#a8902a",
    "contradicted": "#c8553d", "not testable here": "#8a8a8a"}


def lpips_only(claims: pd.DataFrame) -> pd.Series:
    """Mask of the claims with no verdict only because LPIPS could not be computed here (its
    AlexNet weights are missing): the reason says LPIPS is unavailable, or the claim's metric is
    LPIPS or MPS (which needs LPIPS) and the reason says the metric was not computed. Works on
    the raw frame of :func:`relight_lib.harness.claims.profile_claims` (column ``reason``) and on
    the book's view (column ``why``)."""
    why = claims["reason"] if "reason" in claims.columns else claims["why"]
    metric = claims["metric"].astype(str).str.lower()
    text = why.fillna("").astype(str)
    lpips_reason = text.str.contains("LPIPS unavailable|AlexNet weights|alexnet", case=False,
                                     regex=True)
    not_computed = text.str.contains("not computed|n/a because", regex=True)
    return ((claims["verdict"] == "not testable here")
            & (lpips_reason | (metric.isin(["lpips", "mps"]) & not_computed)))


def missing_reason(reason: Any) -> str:
    """A few words for why a claim has no difference of ours (the forest plot's grey note),
    from its full reason.

    >>> missing_reason("'a', 'b' read on the validation split, not on the test split ...")
    'rows read on another split'
    >>> missing_reason("lpips not computed: LPIPS unavailable: no alexnet weights")
    'needs LPIPS (no AlexNet weights here)'
    """
    text = str(reason or "")
    if "LPIPS unavailable" in text or "alexnet" in text.lower():
        return "needs LPIPS (no AlexNet weights here)"
    if text.startswith("not converged"):
        return "a row did not converge"
    if "split" in text:
        return "rows read on another split"
    if "seed(s)" in text:
        return f"fewer than {MIN_SEEDS} seeds"
    if "not computed" in text or "not run" in text or "no results" in text or "missing" in text:
        return "a row was not run or not scored"
    return "no difference computed"


def forest_data(claims: pd.DataFrame) -> pd.DataFrame:
    """The numbers of :func:`forest_plot`, one row per claim, from the raw claims frame
    (:func:`relight_lib.harness.claims.profile_claims`: ``paper``, ``id``, ``text``, ``metric``,
    ``reported_difference``, ``our_difference``, ``ci_low``, ``ci_high``, ``verdict``, and
    ``margin`` when present).

    Differences are in different units (dB, SSIM points), so each claim is drawn in units of
    its own scale: the paper's difference (or, for a "no difference" claim, its margin). Then
    the paper's difference sits at +1 and zero is "no effect" on every row. Columns: ``paper``,
    ``id``, ``label`` (the claim's text and metric), ``scale``, ``paper_x`` (1.0; NaN without a
    scale), ``ours_x``, ``low_x``, ``high_x`` (NaN where we computed no difference),
    ``verdict``, ``why_missing`` ("" when ours is drawn, else why not: :func:`missing_reason`)."""
    out = []
    for r in claims.itertuples(index=False):
        rd = getattr(r, "reported_difference", float("nan"))
        margin = getattr(r, "margin", float("nan"))
        scale = abs(margin) if pd.notna(margin) else abs(rd) if pd.notna(rd) and rd != 0 \
            else float("nan")
        ok = pd.notna(scale) and scale > 0
        ours = r.our_difference
        why = ""
        if not ok:
            why = "the paper gives no number to scale by"
        elif pd.isna(ours):
            why = f"not drawn: {missing_reason(getattr(r, 'reason', ''))}"
        out.append({
            "paper": r.paper, "id": r.id, "label": f"{r.text} [{str(r.metric).upper()}]",
            "scale": scale if ok else float("nan"),
            "paper_x": rd / scale if ok and pd.notna(rd) else float("nan"),
            "margin_x": 1.0 if ok and pd.notna(margin) else float("nan"),
            "ours_x": ours / scale if ok and pd.notna(ours) else float("nan"),
            "low_x": r.ci_low / scale if ok and pd.notna(r.ci_low) else float("nan"),
            "high_x": r.ci_high / scale if ok and pd.notna(r.ci_high) else float("nan"),
            "verdict": r.verdict, "why_missing": why})
    return pd.DataFrame(out, columns=["paper", "id", "label", "scale", "paper_x", "margin_x",
                                      "ours_x", "low_x", "high_x", "verdict", "why_missing"])


#: The forest plot's few words for each :func:`forest_data` ``why_missing``.
_SHORT_MISSING: dict[str, str] = {
    "the paper gives no number to scale by": "no paper number",
    "not drawn: needs LPIPS (no AlexNet weights here)": "needs LPIPS",
    "not drawn: a row did not converge": "not converged",
    "not drawn: rows read on another split": "other split",
    f"not drawn: fewer than {MIN_SEEDS} seeds": f"< {MIN_SEEDS} seeds",
    "not drawn: a row was not run or not scored": "not run",
    "not drawn: no difference computed": "not computed",
}


def forest_plot(claims: pd.DataFrame, clip: float = 4.0, wrap: int = 70) -> Any:
    """A forest plot of every claim, grouped by paper (in :data:`PAPERS` order): per claim the
    paper's difference (a black diamond at +1; for a "no difference" claim, the band of its
    margin) and ours with its 95% interval (a dot and a bar in the verdict's colour), both in
    units of the paper's difference (:func:`forest_data`). A claim for which we computed no
    difference has a grey cross on zero and why in a word or two at the right (the table
    under the plot has the full reason); an interval reaching past ±``clip`` is cut there with
    an arrow. Returns the matplotlib Figure."""
    import textwrap

    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D

    data = forest_data(claims)
    order = [p for p in PAPERS if p in set(data["paper"])]
    order += sorted(set(data["paper"]) - set(order))
    rows: list[tuple[str, Any]] = []  # ("paper", name) or ("claim", record)
    for p in order:
        rows.append(("paper", PAPERS.get(p, p)))
        rows += [("claim", r) for r in data[data["paper"] == p].itertuples(index=False)]
    height = 0.24 * len(rows) + 1.4
    fig, ax = plt.subplots(figsize=(8.6, max(height, 2.5)))
    labels = []
    for y, (kind, r) in enumerate(rows):
        if kind == "paper":
            labels.append(r)
            ax.axhspan(y - 0.5, y + 0.5, color="#eeeeee", zorder=0)
            continue
        labels.append(textwrap.shorten(r.label, wrap, placeholder="…"))
        if pd.notna(r.margin_x):
            ax.plot([-r.margin_x, r.margin_x], [y, y], color="black", lw=5, alpha=0.18,
                    solid_capstyle="butt", zorder=1)
        if pd.notna(r.paper_x):
            ax.plot(min(max(r.paper_x, -clip), clip), y, marker="D", color="black", ms=4.5,
                    zorder=3)
        colour = VERDICT_COLOURS.get(r.verdict, "#8a8a8a")
        if pd.notna(r.ours_x):
            lo, hi = r.low_x, r.high_x
            if pd.notna(lo) and pd.notna(hi):
                ax.plot([max(lo, -clip), min(hi, clip)], [y, y], color=colour, lw=1.8, zorder=2)
                for end, side in ((lo, -1), (hi, 1)):
                    if abs(end) > clip and np.sign(end) == side:
                        ax.annotate("", (side * clip, y), (side * (clip - 0.35), y),
                                    arrowprops={"arrowstyle": "->", "color": colour})
            ax.plot(min(max(r.ours_x, -clip), clip), y, marker="o", color=colour, ms=5,
                    zorder=4, mfc=colour if r.verdict != "not testable here" else "white")
        else:  # a grey cross on zero, and the reason in a word or two at the right
            ax.plot(0, y, marker="x", color="#8a8a8a", ms=4, zorder=4)
            ax.text(clip * 1.03, y, _SHORT_MISSING.get(r.why_missing, r.why_missing[:18]),
                    va="center", ha="left", fontsize=6.5, color="#777777", clip_on=False)
    ax.axvline(0, color="#444444", lw=0.8, zorder=1)
    ax.axvline(1, color="#444444", lw=0.6, ls=":", zorder=1)
    ax.set_xlim(-clip, clip)
    ax.set_ylim(len(rows) - 0.5, -0.5)
    ax.set_yticks(range(len(rows)), labels, fontsize=7)
    for tick, (kind, _) in zip(ax.get_yticklabels(), rows):
        if kind == "paper":
            tick.set_fontweight("bold")
            tick.set_fontsize(8.5)
    ax.set_xlabel("difference in units of the paper's own (0: no effect, 1: the paper's; "
                  "positive agrees with the paper)", fontsize=8)
    ax.grid(axis="y", visible=False)
    handles = [Line2D([], [], marker="D", color="black", lw=0, label="paper"),
               Line2D([], [], color="black", lw=5, alpha=0.18, label="paper: no difference "
                      "within the margin")]
    handles += [Line2D([], [], marker="o", color=VERDICT_COLOURS[v], lw=1.8,
                       mfc=VERDICT_COLOURS[v] if v != "not testable here" else "white",
                       label=f"ours: {v}") for v in VERDICTS]
    handles.append(Line2D([], [], marker="x", color="#8a8a8a", lw=0,
                          label="ours: no difference computed"))
    ax.legend(handles=handles, fontsize=7, ncol=3, loc="lower center",
              bbox_to_anchor=(0.5, 1.0), frameon=False)
    fig.tight_layout()
    return fig


def claims_html(view: pd.DataFrame) -> str:
    """One paper's claims (rows of :func:`all_claims`) as the scorecard shows them: the book's
    table (:func:`relight_lib.harness.book.html_table`: key columns first, the run pages
    linked), the verdict in its colour, without the ``paper`` column."""
    import html

    from relight_lib.harness import book

    table = view.drop(columns=["paper"], errors="ignore").copy()
    # a groupby or concat may drop attrs: the claims view's key and HTML columns, restated
    table.attrs = {"key_columns": list(book.CLAIM_KEY_COLUMNS), "html_columns": ["runs"]}
    table["verdict"] = [f'<span style="color:{VERDICT_COLOURS[v]};font-weight:600">'
                        f"{html.escape(v)}</span>" if v in VERDICT_COLOURS else html.escape(str(v))
                        for v in table["verdict"]]
    table.attrs["html_columns"] = [*table.attrs.get("html_columns", []), "verdict"]
    return book.html_table(table).replace('class="dataframe relight-table"',
                                          'class="dataframe relight-table claims"', 1)


def lpips_line(view: pd.DataFrame) -> str:
    """One paragraph (HTML, ``<p class="lpips-only">``) for a paper's claims that only LPIPS
    keeps from a verdict (:func:`lpips_only`): how many, why, and which, each with the links to
    its run pages from the view's ``runs`` column ("" when there are none)."""
    import html

    group = view[lpips_only(view)]
    if group.empty:
        return ""
    runs = group["runs"] if "runs" in group.columns else [""] * len(group)
    names = "; ".join(f"{html.escape(str(t))} ({html.escape(str(m))}" + (f": {r})" if r else ")")
                      for t, m, r in zip(group["claim"], group["metric"], runs))
    return (f'<p class="lpips-only"><strong>{len(group)} more claim(s) not testable here for one '
            "reason</strong>: they compare LPIPS, or MPS (which contains LPIPS), and LPIPS needs "
            "AlexNet weights that are not on the machine that ran these rows (see the Metrics "
            f"chapter). They are: {names}.</p>")
