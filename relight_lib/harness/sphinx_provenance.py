"""A small Sphinx extension for the book: a provenance line at the top of every executed run
notebook, a word on its two parameter cells, and a work-around for a Sphinx 7 bug that writes
some inline scripts twice.

The book's own pages state their provenance in their first cell (:func:`relight_lib.harness.book.page_setup`).
The executed papermill notebooks under ``results/<profile>/executed/`` are rendered as they are,
never re-executed, so they cannot: adding a cell to the source notebooks would change every
row's cache key and rerun every result. Instead this extension inserts, under the title of each
such page, a paragraph built from the row's ``run.json`` files (library version, git commit and
profile of the run, device, date) and the commit the book itself was built from; it adds the
row's name (:func:`relight_lib.harness.book.row_title`) to the heading, which every row of a
table shares. It also labels the notebook's default ``parameters`` cell, which papermill keeps
above the row's injected values.

The work-around: Sphinx 7.x (which Jupyter Book 1 requires) registers an inline script added
with ``filename=None`` and again with ``filename=''`` as two scripts, so the thebe and
togglebutton set-up code is written into every page twice and the browser stops with
"Identifier 'THEBE_JS_URL' has already been declared" (fixed upstream in Sphinx 8,
sphinx-doc/sphinx#13402). :func:`setup` makes the HTML builder treat both as the same.

Enabled in ``_config.yml`` under ``sphinx: extra_extensions``.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from docutils import nodes

_EXECUTED = re.compile(r"^results/(?P<profile>[^/]+)/executed/(?P<paper>[^/]+)/"
                       r"(?P<table>[^/]+?)__(?P<variant>[^/]+)$")


def run_provenance(root: Path, profile: str, paper: str, table: str, variant: str
                   ) -> str:
    """One sentence on where the results of a row come from, read from its ``run.json`` files
    (one per seed): library version, commit ('+' when the run's tree had uncommitted
    changes), profile, seeds, device and the date of the latest run."""
    runs = []
    for rj in sorted((root / "results" / profile / paper / table / variant).glob("seed=*/run.json")):
        try:
            runs.append(json.loads(rj.read_text()))
        except (OSError, json.JSONDecodeError):
            continue
    if not runs:
        return (f"Profile {profile}. This row wrote no run.json (it was not run at this profile "
                "or it failed before writing results).")
    commits, versions, devices, dates, seeds = set(), set(), set(), [], []
    for r in runs:
        prov = r.get("provenance") or {}
        c = prov.get("git_commit")
        commits.add((c[:10] if c else "unknown") + ("+" if prov.get("git_dirty") else ""))
        versions.add(str((prov.get("versions") or {}).get("relight_lib", "?")))
        dev = prov.get("device_name") or prov.get("device") or "?"
        if prov.get("device") == "cpu" and prov.get("cpu_count"):
            dev += f" ({prov['cpu_count']} cores)"
        devices.add(dev)
        if prov.get("timestamp_utc"):
            dates.append(str(prov["timestamp_utc"])[:10])
        seeds.append(str(r.get("seed", "?")))
    plus = (" ('+': the run's code had uncommitted changes on top of the commit)"
            if any(c.endswith("+") for c in commits) else "")
    return (f"Executed with relight_lib {', '.join(sorted(versions))} at commit "
            f"{', '.join(sorted(commits))}{plus}, profile {profile}, "
            f"seed(s) {', '.join(seeds)}, on "
            f"{', '.join(sorted(devices))}" + (f", {max(dates)}" if dates else "") + ".")


def out_of_date_note(root: Path, profile: str, paper: str, table: str, variant: str) -> str:
    """' Out of date with the code now (why): ...' for a row whose committed results no longer
    match the library (:func:`relight_lib.harness.book.out_of_date`), '' otherwise."""
    from relight_lib.harness import book, reproduce

    try:
        why = book.out_of_date(profile, paper, table, variant, root=root)
    except reproduce.RunsFileError:  # a broken runs.yaml: the runner says so, not this line
        return ""
    if why is None:
        return ""
    words = book.stale_words(why)
    return (f" {words[0].upper()}{words[1:]}: these are the numbers of the run above; "
            "`make reproduce` reruns it.")


def _book_commit(root: Path) -> str:
    from relight_lib.harness.results import provenance

    prov = provenance(root)
    commit = (prov.get("git_commit") or "unknown")[:10]
    return commit + (" (with uncommitted changes)" if prov.get("git_dirty") else "")


def _on_doctree_read(app: Any, doctree: nodes.document) -> None:
    m = _EXECUTED.match(app.env.docname)
    if not m:
        return
    root = Path(app.srcdir)
    text = (run_provenance(root, **m.groupdict())
            + f" Rendered as executed in the book built at commit {_book_commit(root)}."
            + out_of_date_note(root, **m.groupdict()))
    para = nodes.paragraph(text, text, classes=["relight-provenance"])
    section = next(iter(doctree.findall(nodes.section)), None)
    if section is None:
        doctree.insert(0, para)
    else:
        titles = [i for i, child in enumerate(section.children)
                  if isinstance(child, nodes.title)]
        section.insert(titles[0] + 1 if titles else 0, para)
        if titles:
            _name_the_row(app, section[titles[0]], root, m["paper"], m["table"], m["variant"])
    _label_parameter_cells(doctree)


def _name_the_row(app: Any, title: nodes.title, root: Path, paper: str, table: str,
                  variant: str) -> None:
    """Add the row's name to a run page's heading ("Table 2: losses and training stages ·
    DMSHN, L2 loss only"): the notebook's heading is its table's, shared by every row of the
    table, so the pages (and the browser's tab) would otherwise all read alike. The page
    title Sphinx already collected from the heading is updated too."""
    from relight_lib.harness.book import row_title

    name = row_title(paper, table, variant, root / "notebooks")
    heading = title.astext()
    if name in heading:
        return
    text = f"{heading} · {name}"
    title.children = []
    title += nodes.Text(text)
    env = getattr(app, "env", None)
    for store in ("titles", "longtitles"):
        collected = getattr(env, store, None)
        if isinstance(collected, dict) and getattr(env, "docname", None) in collected:
            collected[env.docname] = nodes.title(text, text)


#: Put before a run notebook's ``parameters`` cell when papermill injected the row's values.
DEFAULTS_NOTE = ("The notebook's default parameters. This row's own values are in the next "
                 "cell, which papermill injected and which overrides these.")


def _label_parameter_cells(doctree: nodes.document) -> None:
    """Say which of the two parameter cells a reader should trust: papermill keeps the
    template's ``parameters`` cell and adds the row's values in an ``injected-parameters`` cell
    after it, so without a word the page shows two different settings one above the other."""
    cells = [n for n in doctree.findall(nodes.container) if "cell" in n["classes"]]
    if not any("tag_injected-parameters" in c["classes"] for c in cells):
        return
    for cell in cells:
        if "tag_parameters" in cell["classes"] and cell.parent is not None:
            note = nodes.paragraph(DEFAULTS_NOTE, DEFAULTS_NOTE, classes=["relight-defaults"])
            cell.parent.insert(cell.parent.index(cell), note)


def _dedupe_inline_scripts() -> None:
    from sphinx.builders.html import StandaloneHTMLBuilder

    original = StandaloneHTMLBuilder.add_js_file
    if getattr(original, "_relight_dedupe", False):
        return

    def add_js_file(self: Any, filename: str | None, **kwargs: Any) -> None:
        # None and '' both mean "inline": one key, so the same body is added once
        return original(self, filename or "", **kwargs)

    add_js_file._relight_dedupe = True  # type: ignore[attr-defined]
    StandaloneHTMLBuilder.add_js_file = add_js_file  # type: ignore[method-assign]


def setup(app: Any) -> dict[str, Any]:
    _dedupe_inline_scripts()
    app.connect("doctree-read", _on_doctree_read)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
