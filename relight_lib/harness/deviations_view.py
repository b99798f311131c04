"""A chapter's deviations, each sentence stated once: what every row shares, then what only some
rows do (with the rows it applies to).

Every run writes its deviations from the paper into ``run.json["deviations"]`` (a list of
sentences, written from the row's own settings). A chapter that printed that list row by row
repeated the sentences every row shares (data, metrics, precision, evaluation size) once per
row. :func:`group_deviations` splits them instead, and :func:`deviations_markdown` renders the
result for a book page (meant for a cell tagged ``hide-output``, i.e. a dropdown).
"""

from __future__ import annotations

import json
from pathlib import Path

__all__ = ["collect_deviations", "deviations_markdown", "group_deviations"]


def collect_deviations(paper: str, profile: str, seed: int = 0,
                       results_root: Path | str = "results",
                       rows: list[tuple[str, str]] | None = None
                       ) -> dict[tuple[str, str], list[str]]:
    """``{(table, variant): deviations}`` of every run of ``paper`` at ``profile`` for ``seed``
    (``results/<profile>/<paper>/<table>/<variant>/seed=<seed>/run.json``), or of ``rows`` only
    (in that order; a row without a run.json is left out). A run.json that is not JSON raises a
    ``ValueError`` naming the file."""
    base = Path(results_root, profile, paper)
    if rows is None:
        paths = sorted(base.glob(f"*/*/seed={seed}/run.json"))
    else:
        paths = [base / t / v / f"seed={seed}" / "run.json" for t, v in rows]
    out: dict[tuple[str, str], list[str]] = {}
    for p in paths:
        if not p.is_file():
            continue
        try:
            devs = json.loads(p.read_text()).get("deviations") or []
        except json.JSONDecodeError as e:
            raise ValueError(f"{p}: not valid JSON ({e})") from e
        out[(p.parent.parent.parent.name, p.parent.parent.name)] = [str(d) for d in devs]
    return out


def group_deviations(by_row: dict[tuple[str, str], list[str]]
                     ) -> tuple[list[str], list[tuple[str, list[tuple[str, str]]]]]:
    """``(common, specific)``: the sentences every row lists (in first-seen order), and each
    other sentence once with the rows that list it (first-seen order, rows in ``by_row``'s
    order).

    >>> common, specific = group_deviations({("t", "a"): ["x", "y"], ("t", "b"): ["x", "z"]})
    >>> common, specific
    (['x'], [('y', [('t', 'a')]), ('z', [('t', 'b')])])
    """
    order: list[str] = []
    rows_of: dict[str, list[tuple[str, str]]] = {}
    for row, devs in by_row.items():
        for d in dict.fromkeys(devs):  # a sentence listed twice by one row counts once
            if d not in rows_of:
                order.append(d)
                rows_of[d] = []
            rows_of[d].append(row)
    n = len(by_row)
    common = [d for d in order if len(rows_of[d]) == n]
    specific = [(d, rows_of[d]) for d in order if len(rows_of[d]) < n]
    return common, specific


def _rows_words(rows: list[tuple[str, str]]) -> str:
    """``table1: a, b; subsets: c`` (tables in first-seen order)."""
    tables: dict[str, list[str]] = {}
    for t, v in rows:
        tables.setdefault(t, []).append(v)
    return "; ".join(f"{t}: " + ", ".join(f"`{v}`" for v in vs) for t, vs in tables.items())


def deviations_markdown(paper: str, profile: str, seed: int = 0,
                        results_root: Path | str = "results",
                        rows: list[tuple[str, str]] | None = None) -> str:
    """Markdown of the deviations of ``paper``'s runs at ``profile`` (seed ``seed``): those of
    every row once, then each other sentence once with the rows it applies to."""
    by_row = collect_deviations(paper, profile, seed, results_root, rows)
    if not by_row:
        return f"No row of this paper has been run at the {profile} profile."
    common, specific = group_deviations(by_row)
    parts = [f"From each row's `run.json` (seed {seed}, {len(by_row)} rows)."]
    if common:
        parts.append("**Every row:**\n\n" + "\n".join(f"- {d}" for d in common))
    if specific:
        parts.append("**Some rows only** (the rows in italics):\n\n"
                     + "\n".join(f"- {d} *({_rows_words(r)})*" for d, r in specific))
    return "\n\n".join(parts)
