"""The provenance line the book adds under the title of each executed run notebook."""

import json
from types import SimpleNamespace

from docutils import nodes
from docutils.frontend import get_default_settings
from docutils.parsers.rst import Parser
from docutils.utils import new_document

from relight_lib.harness import sphinx_provenance as sp


def _run(root, seed, commit, dirty=False, device="cpu"):
    d = root / "results" / "quick" / "msrnet" / "table2" / "dmshn_mse" / f"seed={seed}"
    d.mkdir(parents=True)
    (d / "run.json").write_text(json.dumps({"seed": seed, "provenance": {
        "git_commit": commit, "git_dirty": dirty, "versions": {"relight_lib": "0.1.0"},
        "device": device, "device_name": "AMD EPYC", "cpu_count": 2,
        "timestamp_utc": f"2026-11-2{seed}T10:00:00+00:00"}}))


def test_run_provenance_reads_every_seed(tmp_path):
    _run(tmp_path, 0, "a" * 40)
    _run(tmp_path, 1, "b" * 40, dirty=True)
    text = sp.run_provenance(tmp_path, "quick", "msrnet", "table2", "dmshn_mse")
    assert "relight_lib 0.1.0" in text and "profile quick" in text
    assert "aaaaaaaaaa, bbbbbbbbbb+" in text and "seed(s) 0, 1" in text
    assert "'+': the run's code had uncommitted changes" in text
    assert "AMD EPYC (2 cores)" in text and text.endswith("2026-11-21.")


def test_run_provenance_without_runs_says_so(tmp_path):
    text = sp.run_provenance(tmp_path, "gpu", "ltnet", "table5", "f1_8_nc_32")
    assert "no run.json" in text and "gpu" in text


def _doc(rst):
    doc = new_document("x", get_default_settings(Parser))
    Parser().parse(rst, doc)
    return doc


def test_paragraph_goes_under_the_title_of_executed_notebooks_only(tmp_path):
    _run(tmp_path, 0, "c" * 40)
    doc = _doc("Title\n=====\n\nBody.\n")
    app = SimpleNamespace(srcdir=str(tmp_path), env=SimpleNamespace(
        docname="results/quick/executed/msrnet/table2__dmshn_mse"))
    sp._on_doctree_read(app, doc)
    section = next(iter(doc.findall(nodes.section)))
    assert isinstance(section[0], nodes.title)
    assert "relight-provenance" in section[1]["classes"]
    assert "cccccccccc" in section[1].astext() and "book built at commit" in section[1].astext()
    other = _doc("Title\n=====\n\nBody.\n")
    app.env.docname = "book/intro"
    sp._on_doctree_read(app, other)
    assert not any("relight-provenance" in n["classes"] for n in other.findall(nodes.paragraph))


def test_run_pages_headings_and_page_titles_name_the_row(tmp_path):
    _run(tmp_path, 0, "c" * 40)
    (tmp_path / "notebooks" / "msrnet").mkdir(parents=True)
    (tmp_path / "notebooks" / "msrnet" / "runs.yaml").write_text(
        "tables:\n  table2:\n    notebook: t.ipynb\n"
        "    row_titles: {dmshn_mse: \"DMSHN, L2 only\"}\n"
        "    variants: {dmshn_mse: {}}\n")
    doc = _doc("Table 2: losses\n===============\n\nBody.\n")
    docname = "results/quick/executed/msrnet/table2__dmshn_mse"
    env = SimpleNamespace(docname=docname, titles={docname: nodes.title("x", "x")},
                          longtitles={docname: nodes.title("x", "x")})
    sp._on_doctree_read(SimpleNamespace(srcdir=str(tmp_path), env=env), doc)
    title = next(iter(doc.findall(nodes.title)))
    assert title.astext() == "Table 2: losses · DMSHN, L2 only"
    assert env.titles[docname].astext() == env.longtitles[docname].astext() == title.astext()


def _cell(tag):
    cell = nodes.container(classes=["cell", f"tag_{tag}"] if tag else ["cell"])
    cell += nodes.literal_block("x = 1", "x = 1")
    return cell


def test_default_parameters_cell_is_labelled_when_papermill_injected_values(tmp_path):
    _run(tmp_path, 0, "d" * 40)
    app = SimpleNamespace(srcdir=str(tmp_path), env=SimpleNamespace(
        docname="results/quick/executed/msrnet/table2__dmshn_mse"))
    doc = _doc("Title\n=====\n\nBody.\n")
    section = next(iter(doc.findall(nodes.section)))
    section += [_cell("parameters"), _cell("injected-parameters"), _cell(None)]
    sp._on_doctree_read(app, doc)
    kids = list(section.children)
    labels = [i for i, k in enumerate(kids) if "relight-defaults" in k.get("classes", [])]
    assert len(labels) == 1 and "tag_parameters" in kids[labels[0] + 1]["classes"]
    # a notebook run with its defaults (no injected cell) is left as it is
    plain = _doc("Title\n=====\n\nBody.\n")
    next(iter(plain.findall(nodes.section))).append(_cell("parameters"))
    sp._on_doctree_read(app, plain)
    assert not any("relight-defaults" in n["classes"] for n in plain.findall(nodes.paragraph))
