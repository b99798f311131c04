"""The committed results stay lean and clean (results/README.md, "Size budget"):

* ``results/<profile>/`` holds at most :data:`BUDGET_PER_ROW` bytes per run page on average, and
  no committed file is over :data:`MAX_FILE` bytes;
* every figure is stored once: a PNG under ``seed=<k>/figures/`` that the run page links (run
  pages embed no images, every link resolves, every committed figure is shown by a page);
* no run page, record or book page names a folder of the machine that built it.
"""

import functools
import json
import re
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
RESULTS = REPO / "results"
#: Average bytes per run page (table row) of a profile's folder: results/README.md.
BUDGET_PER_ROW = 600_000
#: No single committed file under results/ may be larger.
MAX_FILE = 1_000_000
#: An absolute folder of a build machine (home folders, checkouts, caches), as text shows it.
MACHINE_PATH = re.compile(r"(?:^|[\s\"'(=:\[,])(?:/(?:root|home|Users|work|private|mnt|opt|"
                          r"srv|scratch|var/folders)/|[A-Za-z]:\\\\Users\\\\)")
_IMAGE_LINK = re.compile(r"!\[[^\]]*\]\(([^)\s]+)\)")


def _committed(root: Path) -> list[Path]:
    """The files git tracks under ``root`` (what a clone has), or every file without git."""
    try:
        out = subprocess.run(["git", "ls-files", "-z", str(root.relative_to(REPO))], cwd=REPO,
                             capture_output=True, check=True, text=True).stdout
        files = [REPO / f for f in out.split("\0") if f]
    except (OSError, subprocess.CalledProcessError):
        files = [p for p in root.rglob("*") if p.is_file()]
    return [f for f in files if f.is_file()]


FILES = _committed(RESULTS)
PAGES = [f for f in FILES if f.suffix == ".ipynb" and "executed" in f.relative_to(RESULTS).parts]


def test_each_profile_stays_within_its_budget_per_row():
    profiles = sorted({f.relative_to(RESULTS).parts[0] for f in PAGES})
    assert profiles, "no committed run pages to measure"
    for profile in profiles:
        rows = [p for p in PAGES if p.relative_to(RESULTS).parts[0] == profile]
        size = sum(f.stat().st_size for f in FILES if f.relative_to(RESULTS).parts[0] == profile)
        assert size / len(rows) <= BUDGET_PER_ROW, (
            f"results/{profile}: {size / len(rows) / 1e3:.0f} kB per row over {len(rows)} rows; "
            f"the budget is {BUDGET_PER_ROW / 1e3:.0f} kB (results/README.md)")
    big = [f"{f.relative_to(REPO)} ({f.stat().st_size / 1e6:.1f} MB)" for f in FILES
           if f.stat().st_size > MAX_FILE]
    assert not big, f"files over {MAX_FILE / 1e6:g} MB: {big}"


def _outputs(page: Path):
    for cell in json.loads(page.read_text(encoding="utf-8"))["cells"]:
        yield from cell.get("outputs", [])


def test_run_pages_embed_no_image_and_link_existing_figures():
    for page in PAGES:
        for out in _outputs(page):
            data = out.get("data", {})
            embedded = [k for k in data if k.startswith("image/")]
            assert not embedded, f"{page.relative_to(REPO)} embeds {embedded}: link the PNG"
            md = data.get("text/markdown", "")
            for link in _IMAGE_LINK.findall("".join(md) if isinstance(md, list) else md):
                target = (page.parent / link).resolve()
                assert target.is_file(), f"{page.relative_to(REPO)} links missing {link}"
                assert RESULTS.resolve() in target.parents, f"{link} is outside results/"


@functools.cache  # reading every row's state takes seconds; the tests below ask twice
def _row_states(profile: str, results_root: Path = RESULTS) -> dict[tuple[str, str, str], str]:
    """(paper, table, variant) -> the row's state as ``--list`` shows it."""
    from relight_lib.harness import reproduce

    return {(row.paper, row.table, row.variant): state for row, state in
            reproduce.row_states(profile, notebooks_dir=REPO / "notebooks",
                                 results_root=results_root)}


def _rows_in_progress(profile: str, results_root: Path = RESULTS) -> set[tuple[str, str, str]]:
    """The rows of ``profile`` that ``--list`` does not call up to date: a row stopped between
    seeds, whose finished seeds are committed and whose run page is rewritten only when the row
    ends."""
    return {key for key, state in _row_states(profile, results_root).items()
            if not state.startswith("up to date")}


def test_every_figure_is_a_file_that_a_page_or_chapter_shows():
    """Each committed PNG is linked by a run page (the one copy of the figure; rows that share
    one training write byte-identical files, which git stores as one blob), so nothing is kept
    that no page shows. The one exception is a row in progress (stopped between seeds): its
    new seeds' figures wait for the run page its end writes, and ``--list`` shows the row as
    not up to date until then."""
    linked = set()
    for page in PAGES:
        for out in _outputs(page):
            md = out.get("data", {}).get("text/markdown", "")
            for link in _IMAGE_LINK.findall("".join(md) if isinstance(md, list) else md):
                linked.add((page.parent / link).resolve())
    pngs = [f for f in FILES if f.suffix == ".png" and "figures" in f.parts]
    unshown = [f.relative_to(RESULTS) for f in pngs if f.resolve() not in linked]
    in_progress = {profile: _rows_in_progress(profile) for profile in {f.parts[0] for f in unshown}}
    # results/<profile>/<paper>/<table>/<variant>/seed=<k>/figures/<name>.png
    orphans = [f"results/{f}" for f in unshown
               if tuple(f.parts[1:4]) not in in_progress[f.parts[0]]]
    assert not orphans, f"{len(orphans)} figure(s) no run page shows: {orphans[:5]}"


def test_a_row_in_progress_is_one_whose_run_page_is_not_current(tmp_path):
    """The exception above can fail: the rows ``--list`` calls up to date are not in progress,
    and the same rows without their committed results are."""
    current = {key for key, state in _row_states("quick").items()
               if state.startswith("up to date")}
    assert current, "no quick row is up to date"
    assert not current & _rows_in_progress("quick")
    assert current <= _rows_in_progress("quick", tmp_path)


def test_every_committed_learning_curve_keeps_six_digits():
    """``history.csv`` is half of a seed's files at full float precision; the runner rounds it
    when a row ends (:func:`relight_lib.harness.results.compact_history`), and so must anything
    else that commits one."""
    from relight_lib.harness.results import compacted_history_text

    curves = [f for f in FILES if f.name == "history.csv"]
    assert curves
    loose = [str(f.relative_to(REPO)) for f in curves
             if len(compacted_history_text(text := f.read_text(encoding="utf-8"))) < len(text)]
    assert not loose, (f"{len(loose)} history.csv with more than 6 significant digits: "
                       f"{loose[:3]}")


@pytest.mark.parametrize("where", ["results", "book"])
def test_no_page_or_record_names_a_build_machine_folder(where):
    files = FILES if where == "results" else _committed(REPO / "book")
    text_files = [f for f in files if f.suffix in (".ipynb", ".json", ".csv", ".md", ".yaml",
                                                   ".txt")]
    assert text_files
    bad = [f"{f.relative_to(REPO)}: {m.group(0).strip()}..." for f in text_files
           for m in [MACHINE_PATH.search(f.read_text(encoding="utf-8", errors="replace"))] if m]
    assert not bad, f"machine folders in {len(bad)} file(s): {bad[:5]}"
