"""The reproducibility scorecard: every claim of every paper with its verdict, and the code
completeness of each paper's official repository and of this suite.

Claims come from ``notebooks/<paper>/claims.yaml`` and are judged by
:func:`relight_lib.harness.claims.claim_verdict` on the runs of one profile (the same verdicts the
paper chapters show, through :func:`relight_lib.harness.book.claims_view`; the same numbers are
written to ``results/<profile>/claims.csv`` by :func:`relight_lib.harness.claims.write_claims_csv`). The code-completeness facts
are transcribed by hand into ``results/reported/code_completeness.yaml`` (the five items of the
ML Code Completeness Checklist) and only read here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from relight_lib.harness.claims import VERDICTS, chance_verdicts

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


def all_claims(profile: str | None = None, papers: list[str] | None = None) -> pd.DataFrame:
    """Every claim with its verdict at ``profile``: the columns of
    :func:`relight_lib.harness.book.claims_view` plus ``paper`` (first)."""
    from relight_lib.harness import book

    frames = []
    for paper in papers if papers is not None else claim_papers():
        v = book.claims_view(paper, profile)
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
