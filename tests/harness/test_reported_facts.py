"""Facts typed by hand outside the result CSVs: the bibliography and the code-completeness table.

``references.bib`` is what the book cites (sphinxcontrib-bibtex parses it with pybtex), and
``results/reported/code_completeness.yaml`` scores the papers' official repositories and this
suite on the ML Code Completeness Checklist. A missing key, a misspelt checklist item or a value
outside yes/partial/no should fail here rather than as a broken book page.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

pybtex_database = pytest.importorskip("pybtex.database")

ROOT = Path(__file__).resolve().parents[2]
BIB = ROOT / "references.bib"
COMPLETENESS = ROOT / "results" / "reported" / "code_completeness.yaml"

#: Keys the book and the chapters rely on.
REQUIRED_KEYS = {
    # the four reproduced papers
    "zhu2021ltnet", "yang2021mbnet", "das2020msrnet", "dherse2020anytoany",
    # dataset and challenge reports
    "helou2020vidit", "helou2020aim", "helou2021ntire",
    # renderer, metrics, building blocks
    "jakob2022mitsuba3", "zhang2018lpips", "wang2004ssim", "he2016resnet", "simonyan2015vgg",
    "isola2017pix2pix", "zheng2020mbcnn", "pang2020hdfnet",
    # reproducibility guidance and software
    "pwc2020codecompleteness", "jupyterbook", "papermill",
}
CHECKLIST = ["dependencies", "training_code", "evaluation_code", "pretrained_models",
             "results_commands"]
VALUES = {"yes", "partial", "no"}
PAPERS = {"ltnet", "mbnet", "msrnet", "swapnet", "suite"}
#: The official repositories named in spec/papers.md, per paper (MSR-Net has none of its own; the
#: two same-author repositories stand in for it).
EXPECTED_REPOS = {
    ("ltnet", "lchia/relighting_track1_ntire2021"),
    ("mbnet", "weitingchen83/NTIRE2021-Depth-Guided-Image-Relighting-MBNet"),
    ("msrnet", "saikatdutta/Stacked_DMSHN_bokeh"),
    ("msrnet", "diptamath/Nonhomogeneous_Image_Dehazing"),
    ("swapnet", "martin-ev/2DSceneRelighting"),
    ("suite", "this suite"),
}


@pytest.fixture(scope="module")
def bib():
    return pybtex_database.parse_file(str(BIB))


@pytest.fixture(scope="module")
def completeness() -> dict:
    with COMPLETENESS.open(encoding="utf-8") as f:
        return yaml.safe_load(f)


# ---------------------------------------------------------------------------------------------
# references.bib
# ---------------------------------------------------------------------------------------------

def test_bib_has_every_required_key(bib):
    missing = REQUIRED_KEYS - set(bib.entries)
    assert not missing, f"references.bib lacks {sorted(missing)}"


def test_no_stray_at_sign_outside_entries():
    # BibTeX reads any '@' as the start of an entry, so one in a comment line breaks parsing in
    # some tools even when pybtex happens to recover; keep comments free of it.
    for n, line in enumerate(BIB.read_text(encoding="utf-8").splitlines(), 1):
        if line.lstrip().startswith("%"):
            assert "@" not in line, f"references.bib line {n}: '@' in a comment"


@pytest.mark.parametrize("key", sorted(REQUIRED_KEYS))
def test_entry_has_author_title_year(bib, key):
    entry = bib.entries[key]
    assert entry.persons.get("author"), f"{key}: no author"
    assert entry.fields.get("title", "").strip(), f"{key}: no title"
    year = entry.fields.get("year", "")
    assert re.fullmatch(r"(19|20)\d\d", year), f"{key}: year {year!r}"


def test_years_match_the_keys(bib):
    # Keys end in the year (wang2004ssim, simonyan2015vgg, ...); the two software keys have none.
    for key in REQUIRED_KEYS - {"jupyterbook", "papermill"}:
        m = re.search(r"(19|20)\d\d", key)
        assert m, key
        assert bib.entries[key].fields["year"] == m.group(0), key


def test_arxiv_ids_of_the_papers(bib):
    # The arXiv ids spec/papers.md names, and the ones read from the VIDIT / MBNet READMEs.
    expected = {
        "das2020msrnet": "2107.06125",
        "dherse2020anytoany": "2006.02333",
        "yang2021mbnet": "2105.00690",
        "helou2020vidit": "2005.05460",
        "helou2020aim": "2009.12798",
        "helou2021ntire": "2104.13365",
    }
    for key, eprint in expected.items():
        assert bib.entries[key].fields.get("eprint") == eprint, key


def test_first_authors(bib):
    first = {
        "yang2021mbnet": "Yang",
        "das2020msrnet": "Das",
        "dherse2020anytoany": "Dherse",
        "helou2020vidit": "El Helou",
        "helou2020aim": "El Helou",
        "helou2021ntire": "El Helou",
        "jakob2022mitsuba3": "Jakob",
        "zhang2018lpips": "Zhang",
        "wang2004ssim": "Wang",
        "he2016resnet": "He",
        "simonyan2015vgg": "Simonyan",
        "isola2017pix2pix": "Isola",
        "zheng2020mbcnn": "Zheng",
        "pang2020hdfnet": "Pang",
        "zhu2021ltnet": "Zhu",
    }
    for key, surname in first.items():
        person = bib.entries[key].persons["author"][0]
        assert " ".join(person.last_names) == surname, key


def test_software_entries_carry_a_url(bib):
    for key in ("pwc2020codecompleteness", "jupyterbook", "papermill", "jakob2022mitsuba3"):
        assert bib.entries[key].fields.get("url", "").startswith("https://"), key
    assert (bib.entries["pwc2020codecompleteness"].fields["url"]
            == "https://github.com/paperswithcode/releasing-research-code")


def test_bib_renders_with_the_default_style(bib):
    # sphinxcontrib-bibtex formats entries with pybtex styles; a field pybtex cannot format
    # (bad name, unbalanced braces) fails here instead of at book build time.
    from pybtex.backends.plaintext import Backend
    from pybtex.style.formatting.unsrt import Style

    rendered = {e.key: e.text.render(Backend())
                for e in Style().format_entries(bib.entries.values())}
    assert set(rendered) == set(bib.entries)
    assert all(text.strip() for text in rendered.values())


# ---------------------------------------------------------------------------------------------
# results/reported/code_completeness.yaml
# ---------------------------------------------------------------------------------------------

def test_checklist_is_the_five_items_in_order(completeness):
    assert completeness["checklist"] == CHECKLIST


def test_every_repository_scores_every_item(completeness):
    repos = completeness["repositories"]
    assert repos, "no repositories"
    for r in repos:
        where = f"{r.get('paper')}:{r.get('repo')}"
        assert set(r) >= {"paper", "repo", "url", "checked", "items"}, where
        assert r["paper"] in PAPERS, where
        assert list(r["items"]) == CHECKLIST, where
        for item in CHECKLIST:
            cell = r["items"][item]
            assert set(cell) == {"value", "evidence"}, f"{where} {item}"
            assert isinstance(cell["value"], str) and cell["value"] in VALUES, f"{where} {item}"
            assert isinstance(cell["evidence"], str) and len(cell["evidence"].strip()) >= 20, \
                f"{where} {item}: evidence too short"


def test_repositories_are_the_official_ones_and_the_suite(completeness):
    got = {(r["paper"], r["repo"]) for r in completeness["repositories"]}
    assert got == EXPECTED_REPOS
    papers = [r["paper"] for r in completeness["repositories"]]
    assert papers.count("suite") == 1
    assert {"ltnet", "mbnet", "msrnet", "swapnet"} <= set(papers)


def test_urls_and_check_dates(completeness):
    for r in completeness["repositories"]:
        assert r["checked"].startswith("2026-11-28, commit "), r["repo"]
        if r["paper"] == "suite":
            # No public remote yet: null until the suite is published, then its https URL.
            assert r["url"] is None or str(r["url"]).startswith("https://"), r["url"]
            continue
        assert r["url"] == f"https://github.com/{r['repo']}", r["repo"]
        sha = r["checked"].removeprefix("2026-11-28, commit ")
        assert re.fullmatch(r"[0-9a-f]{40}", sha), r["repo"]


def test_suite_entry_matches_this_checkout(completeness):
    suite = next(r for r in completeness["repositories"] if r["paper"] == "suite")
    items = suite["items"]
    # The files its evidence names exist here.
    for path in ("pyproject.toml", "environment.yml", "relight_lib/library/train.py",
                 "relight_lib/library/metrics.py", "relight_lib/library/losses.py"):
        assert (ROOT / path).is_file(), path
        assert path in " ".join(c["evidence"] for c in items.values()), path
    assert list((ROOT / "notebooks").glob("*/runs.yaml")), "no notebooks/*/runs.yaml"
    # No weights are published: checkpoints live under the git-ignored _build/.
    assert items["pretrained_models"]["value"] == "no"
    assert "_build/" in (ROOT / ".gitignore").read_text(encoding="utf-8").split()
    assert "_build/checkpoints" in items["pretrained_models"]["evidence"]
    assert items["training_code"]["value"] == "yes"
    assert items["evaluation_code"]["value"] == "yes"


def test_known_gaps_of_the_official_code(completeness):
    # The facts spec/papers.md states: LTNet and MBNet released test code only.
    by_repo = {r["repo"]: r["items"] for r in completeness["repositories"]}
    assert by_repo["lchia/relighting_track1_ntire2021"]["training_code"]["value"] == "no"
    assert by_repo["weitingchen83/NTIRE2021-Depth-Guided-Image-Relighting-MBNet"][
        "training_code"]["value"] == "no"
    assert by_repo["martin-ev/2DSceneRelighting"]["training_code"]["value"] == "yes"
    # No relighting weights exist for MSR-Net in either stand-in repository.
    for repo in ("saikatdutta/Stacked_DMSHN_bokeh", "diptamath/Nonhomogeneous_Image_Dehazing"):
        assert by_repo[repo]["pretrained_models"]["value"] == "no", repo
