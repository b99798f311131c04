"""The book: TOC and glue checks, and an end-to-end smoke build (papermill rows -> results ->
jupyter-book build -W) in a copy of the book sources, so the repository is left untouched (the
session-scoped fixture ``smoke_book`` is in conftest.py, shared with test_browser.py)."""

import os
from pathlib import Path

import pytest

from relight_lib.harness import book, reproduce

REPO = Path(__file__).resolve().parents[2]


def test_committed_toc_matches_the_quick_results():
    os.chdir(REPO)
    toc = book.make_toc("quick")
    assert (REPO / "_toc.yml").read_text() == book.toc_text(toc, "quick"), (
        "_toc.yml is stale: run `relight book --toc-only`")
    assert book.check_toc(toc, "quick", REPO) == []


def test_refresh_committed_toc_rewrites_only_a_stale_toc(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    toc = {"format": "jb-book", "root": "book/intro", "chapters": [{"file": "book/a"}]}
    (tmp_path / "_toc.yml").write_text("stale\n")
    assert book.refresh_committed_toc(toc) is True
    assert (tmp_path / "_toc.yml").read_text() == book.toc_text(toc, "quick")
    assert book.refresh_committed_toc(toc) is False


def test_run_notebooks_have_distinct_human_sidebar_titles():
    os.chdir(REPO)
    toc = book.make_toc("quick")
    for chapter in toc["chapters"]:
        titles = [s["title"] for s in chapter.get("sections", [])]
        assert len(titles) == len(set(titles)), chapter["file"]
        for s in chapter.get("sections", []):
            paper = s["file"].split("/")[3]
            table, variant = s["file"].rsplit("/", 1)[1].split("__", 1)
            assert s["title"].endswith(f" · {book.row_title(paper, table, variant)}"), s
            # a name, not the slug (nor the slug with spaces, row_title's fallback)
            name = s["title"].split(" · ", 1)[1]
            assert name not in (variant, variant.replace("_", " ")), s


def test_every_row_has_a_title_and_titles_name_rows():
    """``row_titles`` of runs.yaml: one per row, none for a row that does not exist."""
    import yaml

    for runs in sorted((REPO / "notebooks").glob("*/runs.yaml")):
        for table, spec in yaml.safe_load(runs.read_text())["tables"].items():
            titles = spec.get("row_titles") or {}
            assert set(titles) <= set(spec["variants"]), (runs, table)
            assert set(spec["variants"]) <= set(titles), (runs, table, "rows without a title")
            assert len(set(titles.values())) == len(titles), (runs, table, "titles repeat")
    assert book.row_title("ltnet", "table2", "i_d", REPO / "notebooks") == "image + depth"
    assert book.row_title("ltnet", "table2", "i_d__x2", REPO / "notebooks") == (
        "image + depth (2 x the budget)")
    assert book.row_title("nopaper", "t", "some_row", REPO / "notebooks") == "some row"


def test_run_page_links_are_relative_to_the_page(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    nb = tmp_path / "results" / "quick" / "executed" / "ltnet" / "table2__i_d.ipynb"
    nb.parent.mkdir(parents=True)
    nb.write_text("{}")
    href = book.run_page_href("ltnet", "table2", "i_d", "quick", from_dir="book/ltnet")
    assert href == "../../results/quick/executed/ltnet/table2__i_d.html"
    assert book.run_page_href("ltnet", "table2", "i_d", "quick", from_dir="book") == (
        "../results/quick/executed/ltnet/table2__i_d.html")
    # the page in the built book and the run page it names: the link resolves
    page = tmp_path / "book" / "ltnet" / "index.html"
    assert (page.parent / href).resolve() == nb.with_suffix(".html").resolve()
    assert book.run_page_href("ltnet", "table2", "gone", "quick", from_dir="book") is None


def test_html_table_marks_key_columns_links_rows_and_escapes():
    import pandas as pd

    df = pd.DataFrame({"PSNR ours": ["1 < 2"], "other": ["x"], "Δ": ["+1"],
                       "raw": ['<a href="r.html">r</a>']}, index=pd.Index(["row a"]))
    df.attrs.update(key_columns=["PSNR ours"], row_links={"row a": "../run.html"},
                    column_notes={"Δ": "positive = better"}, html_columns=["raw"])
    out = book.html_table(df)
    assert '<th class="key"></th><th class="key">PSNR ours</th><th>other</th>' in out
    assert '<th title="positive = better">Δ</th>' in out
    assert '<td><a href="../run.html" title="the run page of this row">row a</a></td>' in out
    assert "<td>1 &lt; 2</td>" in out and '<td><a href="r.html">r</a></td>' in out
    # one link per row by position, in a named column (convergence_view: slugs may repeat)
    conv = pd.DataFrame({"table": ["t1", "t2"], "row": ["a", "a"]})
    conv.attrs.update(row_links=[None, "t2.html"], link_column="row")
    out = book.html_table(conv)
    assert "<td>t1</td><td>a</td>" in out and '<td>t2</td><td><a href="t2.html"' in out


def test_table_view_key_columns_first_and_differences_signed_better_positive():
    """Swapnet's any-to-any table: Score_l2 (its ranking metric) next to the row, then seeds
    and converged; Δ of a lower-is-better metric (MSE) is the reference minus the row."""
    import pandas as pd

    from relight_lib.harness import results

    os.chdir(REPO)
    metrics = ["psnr", "mse", "score_l2"]
    view, _ = book.table_view("swapnet", "table1", metrics, "quick")
    assert list(view.columns[:4]) == ["SCORE_L2 paper", "SCORE_L2 ours", "seeds", "converged"]
    assert view.attrs["key_columns"] == list(view.columns[:4])
    ours = results.load_results("results", "quick", paper="swapnet", table="table1")
    means = ours.groupby(["variant", "metric"])["value"].mean()
    ref = reproduce.table_reference("swapnet", "table1")
    cmp = results.compare_table(ours, results.load_reported("swapnet", "table1"), metrics)
    checked = 0
    for label, variant in zip(view.index, cmp["variant"]):
        if variant == ref or pd.isna(means.get((variant, "mse"), float("nan"))):
            continue
        want = -(means[(variant, "mse")] - means[(ref, "mse")])
        assert view.loc[label, "ΔMSE ours"] == f"{want:+.4f}", label
        want = means[(variant, "psnr")] - means[(ref, "psnr")]
        assert view.loc[label, "ΔPSNR ours"] == f"{want:+.2f}", label
        assert view.attrs["row_links"][label].endswith(f"table1__{variant}.html")
        checked += 1
    assert checked >= 1
    assert pd.notna(view.loc[view.index[0], "seeds"])


def test_every_glue_key_used_is_glued():
    assert book.check_glue(sorted((REPO / "book").rglob("*.md"))) == []


def test_check_glue_finds_a_missing_key(tmp_path):
    page = tmp_path / "p.md"
    page.write_text('```{code-cell}\nglue("a", 1)\n```\n{glue:text}`a` and {glue}`b`\n')
    (problem,) = book.check_glue([page])
    assert "'b'" in problem


def test_check_glue_reads_keys_glued_from_an_f_string(tmp_path):
    page = tmp_path / "p.md"
    page.write_text('```{code-cell}\nfor k in ("x", "y"):\n    glue(f"cost_{k}", 1)\n```\n'
                    '{glue:text}`cost_x` {glue:text}`cost_y:.1f` {glue:text}`costs`\n')
    (problem,) = book.check_glue([page])
    assert "'costs'" in problem


def test_check_toc_finds_missing_and_unlisted(tmp_path):
    (tmp_path / "book").mkdir()
    (tmp_path / "book" / "intro.md").write_text("# x\n")
    nb = tmp_path / "results" / "smoke" / "executed" / "p" / "t__v.ipynb"
    nb.parent.mkdir(parents=True)
    nb.write_text("{}")
    toc = {"format": "jb-book", "root": "book/intro", "chapters": [{"file": "book/gone"}]}
    problems = book.check_toc(toc, "smoke", tmp_path)
    assert any("book/gone" in p for p in problems)
    assert any("t__v.ipynb is not in the TOC" in p for p in problems)


@pytest.mark.slow
def test_smoke_book_builds_with_results_and_provenance(smoke_book):
    root, html, outcomes = smoke_book
    # every row runs at smoke except the budget checks (<variant>__x2: quick and gpu only)
    assert {o.status for o in outcomes if not o.row.variant.endswith("__x2")} == {"ran"}
    assert {o.status for o in outcomes if o.row.variant.endswith("__x2")} == {"skipped"}
    page = (html / "book" / "baselines" / "index.html").read_text()
    assert "profile <strong>smoke</strong>" in page
    assert "colour_lstsq" in page and "identity" in page
    for variant in ("identity", "colour_lstsq"):
        assert (html / "results" / "smoke" / "executed" / "baselines"
                / f"onetoone__{variant}.html").exists()
        assert (root / "results" / "smoke" / "baselines" / "onetoone" / variant / "seed=0"
                / "run.json").exists()
    assert (html / "book" / "data.html").exists() and (html / "book" / "metrics.html").exists()


@pytest.mark.slow
def test_rerun_is_cached_and_one_row_can_be_forced(smoke_book):
    root, _, _ = smoke_book
    old = Path.cwd()
    os.chdir(root)
    try:
        again = reproduce.reproduce("smoke", log=lambda *a: None)
        assert {o.status for o in again if not o.row.variant.endswith("__x2")} == {"cached"}
        one = reproduce.reproduce("smoke", paper="baselines", table="onetoone",
                                  variant="identity", force=True, log=lambda *a: None)
        assert [(o.row.variant, o.status) for o in one] == [("identity", "ran")]
    finally:
        os.chdir(old)


def test_short_reasons():
    assert "AlexNet" in book.short_reason("lpips", "LPIPS unavailable (no random trunk): ...")
    r = book.short_reason("psnr", "not run here: lpips loss unavailable: cannot use LPIPS")
    assert r.startswith("rows marked n/a") and "LPIPS" in r
    assert book.short_reason("ssim", "3 of 14 images gave NaN\nmore") == "SSIM: 3 of 14 images gave NaN"


@pytest.mark.slow
def test_paper_pages_show_reported_and_ours(smoke_book):
    root, html, _ = smoke_book
    old = Path.cwd()
    os.chdir(root)
    try:
        view, reasons = book.table_view("ltnet", "table2", ["psnr", "ssim", "mps"], "smoke")
        assert list(view.index) == ["I,D", "I,D,V", "I,D,N", "I,D,V,N"]
        assert view.loc["I,D", "PSNR paper"] == "16.85"
        assert view["PSNR ours"].str.match(r"^\d+\.\d\d$").all()  # one seed: no ± part
        assert view["MPS ours"].eq("n/a").all() and any("AlexNet" in r for r in reasons)
        claims = book.claims_view("ltnet", "smoke")
        from relight_lib.harness.claims import VERDICTS

        assert set(claims["verdict"]) <= set(VERDICTS)
        # one smoke seed: no claim gets a verdict, and the reason gives the count
        assert set(claims["verdict"]) == {"not testable here"}
        assert list(claims.columns) == ["claim", "metric", "verdict", "paper's difference",
                                        "our difference [95% CI]", "seeds",
                                        "smallest resolved difference", "split", "runs",
                                        "why"]
        assert claims["runs"].str.contains("table2__i_d_n.html").any()
        assert len(claims) == len(results_claims(root))
    finally:
        os.chdir(old)
    page = (html / "book" / "ltnet" / "index.html").read_text()
    assert "Table 2: augmented inputs" in page and "16.85" in page


def results_claims(root):
    from relight_lib.harness import claims

    return claims.load_claims(root / "notebooks" / "ltnet" / "claims.yaml", paper="ltnet")


def test_html_table_drops_row_numbers_and_index_name_rows():
    import pandas as pd

    plain = book.html_table(pd.DataFrame({"a": [1, 2]}))
    assert "<th>a</th>" in plain and plain.count("<th>") == 1 and "<td>2</td>" in plain
    named = book.html_table(pd.DataFrame({"a": [1]}, index=pd.Index(["x"], name="profile")))
    # the index name is the first column's header, not a header row of its own
    assert named.count("<tr") == 2 and "<th>profile</th>" in named and "<td>x</td>" in named
    multi = book.html_table(pd.DataFrame({"v": [1]}, index=pd.MultiIndex.from_tuples(
        [("m", 256)], names=["model", None])))
    assert "<th>model</th>" in multi and "<td>256</td>" in multi


def test_build_rebuilds_every_page_after_a_toc_change(tmp_path, monkeypatch):
    """Sphinx does not rebuild pages whose sidebar changed; build() passes --all then."""
    import subprocess
    from types import SimpleNamespace

    calls = []
    toc = {"format": "jb-book", "root": "book/intro", "chapters": []}
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(book, "make_toc", lambda profile: toc)
    monkeypatch.setattr(book, "check_toc", lambda *a: [])
    monkeypatch.setattr(book, "check_glue", lambda *a: [])
    monkeypatch.setattr(book.reproduce, "ensure_kernel", lambda: None)
    monkeypatch.setattr(subprocess, "run", lambda cmd, **kw: (
        calls.append(cmd), SimpleNamespace(returncode=0, stdout="", stderr=""))[1])
    book.build("smoke")
    book.build("smoke")
    toc["chapters"] = [{"file": "book/data", "sections": [{"file": "x", "title": "T · v"}]}]
    book.build("smoke")
    assert ["--all" in c for c in calls] == [True, False, True]
    # a new result (or a changed harness) empties MyST-NB's cache and rebuilds every page
    cache = tmp_path / "_build" / "smoke" / "_build" / ".jupyter_cache"
    cache.mkdir(parents=True)
    book.build("smoke")
    assert "--all" not in calls[-1] and cache.exists()
    run = tmp_path / "results" / "smoke" / "p" / "t" / "v" / "seed=0"
    run.mkdir(parents=True)
    (run / "metrics.csv").write_text("metric,value\npsnr,20\n")
    book.build("smoke")
    assert "--all" in calls[-1] and not cache.exists()
    book.build("smoke")
    assert "--all" not in calls[-1]
    monkeypatch.setattr(subprocess, "run", lambda cmd, **kw: (
        calls.append(cmd), SimpleNamespace(returncode=1, stdout="boom", stderr=""))[1])
    with pytest.raises(RuntimeError, match="boom"):
        book.build("smoke")
    assert not (tmp_path / "_build" / "smoke" / ".toc-of-last-html-build.yml").exists()


def _demo_rows(root: Path, parameters: str, variants: tuple[str, ...]) -> None:
    """A paper ``demo`` under ``root``: one notebook (a parameters cell of ``parameters``) and
    a runs.yaml with ``variants`` as the rows of its ``table1``."""
    import nbformat

    nbdir = root / "notebooks" / "demo"
    nbdir.mkdir(parents=True)
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell(parameters)
    cell.metadata["tags"] = ["parameters"]
    nb.cells = [cell]
    nbformat.write(nb, nbdir / "t.ipynb")
    (nbdir / "runs.yaml").write_text("tables:\n  table1:\n    notebook: t.ipynb\n    variants:\n"
                                     + "".join(f"      {v}: {{}}\n" for v in variants))


def test_rows_out_of_date_are_marked_not_rerun(tmp_path, monkeypatch):
    """The book never trains: a committed row whose inputs changed is marked, with the reason,
    in its table and under its run notebook's title."""
    import json

    from relight_lib.harness import sphinx_provenance

    (tmp_path / "_config.yml").write_text("title: t\n")
    (tmp_path / "book").mkdir()
    _demo_rows(tmp_path, 'profile = "smoke"\npaper = ""\ntable = ""\nvariant = ""\n'
                         'results_root = ""\ncache_key = ""\n', ("a", "b"))
    monkeypatch.chdir(tmp_path)
    book._row_states.cache_clear()
    rows = {r.variant: r for r in reproduce.load_rows()}
    from relight_lib.library.record import imported_library_files

    files = imported_library_files()
    for v, key in (("a", "an old key"), ("b", None)):
        row = rows[v]
        row.executed_path("smoke").parent.mkdir(parents=True, exist_ok=True)
        row.executed_path("smoke").write_text("{}")
        params = reproduce.resolved_parameters(row, "smoke", Path("results"))
        rj = row.result_dir("smoke") / "seed=0" / "run.json"
        rj.parent.mkdir(parents=True)
        rj.write_text(json.dumps({"cache_key": key or reproduce.cache_key(row, "smoke", params),
                                  "library_files": files}))
    why = book.out_of_date("smoke", "demo", "table1", "a")
    assert why == "rerun: notebook, parameters or data changed"
    assert book.out_of_date("smoke", "demo", "table1", "b") is None
    note = sphinx_provenance.out_of_date_note(tmp_path, "smoke", "demo", "table1", "a")
    assert "Out of date with the code now (rerun: notebook" in note and "make reproduce" in note
    assert sphinx_provenance.out_of_date_note(tmp_path, "smoke", "demo", "table1", "b") == ""
    book._row_states.cache_clear()


def test_convergence_view_gives_each_trained_row_its_verdict_and_the_colour_gap(
        tmp_path, monkeypatch):
    """Seeds of a row agree or the row is not converged; its mean PSNR is set against the
    colour transform's (the row every trained one-to-one row has to beat)."""
    import pandas as pd

    from relight_lib.library import convergence, record

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(book, "out_of_date", lambda *a: None)  # every row up to date first

    def run(paper, table, variant, seed, psnr, history=None):
        per_image = pd.DataFrame({"image": ["a", "b"], "metric": ["psnr", "psnr"],
                                  "value": [psnr - 1, psnr + 1]})
        extra = {}
        if history is not None:
            extra = {"train_steps": history[-1]["step"],
                     "convergence": convergence.from_history(history).to_dict()}
        out = record.write_run("results", paper=paper, table=table, variant=variant,
                               profile="quick", seed=seed, dataset="SynVIDIT",
                               split="validation", per_image=per_image, params={}, extra=extra)
        if history is not None and seed == 0:  # seed 1 keeps only the verdict it ran with
            pd.DataFrame(history).to_csv(out / "history.csv", index=False)

    flat = [{"step": 10 * i, "val_psnr": 18.0 + min(i, 5) * 0.5} for i in range(1, 21)]
    climbing = [{"step": 10 * i, "val_psnr": 10.0 + i} for i in range(1, 21)]
    run(*book.COLOUR_BASELINE, 0, 15.0)
    run("demo", "t1", "good", 0, 19.0, flat)
    run("demo", "t1", "good", 1, 21.0, flat)
    run("demo", "t1", "late", 0, 14.0, flat)
    run("demo", "t1", "late", 1, 14.5, climbing)
    view = book.convergence_view("demo", profile="quick").set_index("row")
    assert view.loc["good", "converged"] == "yes" and view.loc["good", "seeds"] == 2
    assert view.loc["good", "PSNR (dB)"] == "20.00"
    assert view.loc["good", "vs colour lstsq (dB)"] == "+5.00"
    assert view.loc["late", "converged"] == "no"  # one seed still climbing decides
    # seed 1 without its curve: SSIM claims take the row's verdict ("—" here)
    assert view.loc["good", "SSIM claims"] == "—"
    assert "for SSIM claims" not in view.loc["good", "why"]
    # one gain per seed, in seed order, so the column and the verdict read alike
    assert view.loc["late", "last-fifth gain (dB)"] == "+0.00, +4.00"
    assert view.loc["late", "why"] == ("final weights, PSNR: still improving: the last fifth "
                                       "gained 4.00 dB (> tol 0.05 dB)")
    # best - final and the noise tolerance (flat tails: the 0.05 dB floor), one per seed
    assert view.loc["late", "best − final (dB)"] == "0.00, 0.00"
    assert view.loc["late", "tol (dB)"] == "0.05, 0.05"
    assert view.loc["late", "vs colour lstsq (dB)"] == "-0.75"
    # a row whose every seed has its curve: SSIM claims are judged on its SSIM curve
    ssim_curve = [{**h, "val_ssim": 0.5 + 0.01 * i} for i, h in enumerate(flat)]  # climbing
    run("demo", "t1", "ssim", 0, 19.0, ssim_curve)
    row = book.convergence_view("demo", profile="quick").set_index("row").loc["ssim"]
    assert (row["converged"], row["SSIM claims"]) == ("yes", "no")
    assert "; for SSIM claims: final weights, SSIM: still improving" in row["why"]
    bare = book.convergence_view("demo", profile="quick", versus=None)
    assert "vs colour lstsq (dB)" not in bare.columns and len(bare) == 3
    monkeypatch.setattr(book, "out_of_date", lambda profile, paper, table, variant:
                        "retrain: library/train.py changed" if variant == "late" else None)
    marked = book.convergence_view("demo", profile="quick")["row"].tolist()
    assert marked == ["good", f"late {book.STALE_MARK}", "ssim"]


def test_run_costs_add_up_only_the_rows_up_to_date(tmp_path, monkeypatch):
    import json

    _demo_rows(tmp_path, 'profile = "quick"\n', ("a", "b", "c", "d"))
    monkeypatch.chdir(tmp_path)
    for v, seconds in (("a", 120.0), ("b", 240.0), ("c", 6000.0)):  # d: never run
        path = tmp_path / "results" / "quick" / "executed" / "demo" / f"table1__{v}.ipynb"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"metadata": {"papermill": {"duration": seconds}}}))
    monkeypatch.setattr(book, "out_of_date", lambda profile, paper, table, variant:
                        "retrain: library/train.py changed" if variant == "c" else None)
    costs = book.run_costs("quick", results_root=Path("results"))
    row = costs.loc["demo"]
    assert row["rows up to date"] == 2 and row["rows out of date"] == 1
    assert row["total (min)"] == 6.0 and row["longest row (min)"] == 4.0
    assert costs.loc["all papers", "total (min)"] == 6.0
