"""Suite-wide test settings and fixtures."""

import hashlib
import os
import shutil
import time
from pathlib import Path

import pytest
import torch
import torchvision


#: Lines for the end of the run's output (where the smoke book's minutes went, the browser
#: check's pages), printed in the terminal summary after the slowest durations.
_SUMMARY_LINES = pytest.StashKey[list]()


def report_line(config: pytest.Config, text: str) -> None:
    """Print ``text`` at the end of the run, past pytest's capture. Under ``pytest -n``
    (``make test``) a worker's output never reaches the terminal, so the worker hands its
    lines to the controller (``workeroutput``), which prints them."""
    if hasattr(config, "workeroutput"):
        config.workeroutput.setdefault("relight_summary", []).append(text)
    else:
        config.stash.setdefault(_SUMMARY_LINES, []).append(text)


@pytest.fixture
def report(request):
    """``report(text)``: :func:`report_line` for the running session."""
    return lambda text: report_line(request.config, text)


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node, error):
    """A ``pytest -n`` worker finished: keep its summary lines (pytest-xdist's hook)."""
    lines = getattr(node, "workeroutput", {}).get("relight_summary", [])
    node.config.stash.setdefault(_SUMMARY_LINES, []).extend(lines)


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    for line in config.stash.get(_SUMMARY_LINES, []):
        terminalreporter.write_line(line)


def pytest_configure(config):
    # A worker of `pytest -n N` gets its share of the cores, here and in the processes it
    # starts (papermill kernels, subprocess tests), unless the user chose: N processes of
    # torch each on every core would oversubscribe the machine, and on our 2-core machines
    # OpenMP's waiting threads then slow small convolutions many times over.
    workers = os.environ.get("PYTEST_XDIST_WORKER_COUNT")
    if workers and "OMP_NUM_THREADS" not in os.environ:
        share = max(1, (os.cpu_count() or 1) // int(workers))
        os.environ["OMP_NUM_THREADS"] = str(share)
        torch.set_num_threads(share)


#: The pytest-xdist group of the tests that read the session's smoke book.
SMOKE_BOOK_GROUP = "smoke_book"


def _in_group(item: pytest.Item, name: str) -> bool:
    return any((m.args[:1] or (m.kwargs.get("name"),))[0] == name
               for m in item.iter_markers("xdist_group"))


@pytest.hookimpl(tryfirst=True)  # before pytest-xdist reads the groups
def pytest_collection_modifyitems(config, items):
    # Under `pytest -n` (--dist loadgroup) the tests that read the session's smoke book run on
    # one worker, which builds it once; every other test goes to whichever worker is free. They
    # come first: the book is the longest piece of the run, so its worker starts on it at once
    # while the other takes the rest.
    for item in items:
        if "smoke_book" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.xdist_group(SMOKE_BOOK_GROUP))
    items.sort(key=lambda item: not _in_group(item, SMOKE_BOOK_GROUP))


@pytest.fixture(autouse=True)
def _offline(monkeypatch):
    # tests never try to download weights, even on a machine that could
    monkeypatch.setenv("RELIGHT_OFFLINE", "1")


@pytest.fixture(scope="session")
def fake_alexnet_file(tmp_path_factory) -> Path:
    """A *random* torchvision AlexNet saved as ``alexnet-owt-<sha256[:8]>.pth``, as torchvision
    names its files (~240 MB, written once per session). Random weights test only the loading
    mechanism, never LPIPS's quality."""
    d = tmp_path_factory.mktemp("alexnet_src")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(7)
        state = torchvision.models.alexnet(weights=None).state_dict()
    raw = d / "alexnet.pth"
    torch.save(state, raw)
    digest = hashlib.sha256(raw.read_bytes()).hexdigest()
    named = d / f"alexnet-owt-{digest[:8]}.pth"
    raw.rename(named)
    return named


def _claim_the_smoke_book(tmp_path_factory) -> None:
    """Under ``pytest -n``, fail when a second worker starts the smoke book: the grouping that
    keeps its tests on one worker has stopped working (a pytest-xdist release that no longer
    groups, or ``--dist`` other than ``loadgroup``), and two builds of ten minutes each would
    share the cores. The workers share the parent of their temporary folders."""
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if worker is None:
        return
    claim = tmp_path_factory.getbasetemp().parent / "smoke-book-worker"
    try:
        fd = os.open(claim, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
    except FileExistsError:
        pytest.fail(f"the smoke book is already being built by worker {claim.read_text()}, and "
                    f"{worker} was asked to build it too: run `make test` (pytest -n 2 --dist "
                    "loadgroup), and check that pytest-xdist keeps the xdist_group mark",
                    pytrace=False)
    with os.fdopen(fd, "w") as f:
        f.write(worker)


@pytest.fixture(scope="session")
def smoke_book(tmp_path_factory, request):
    """The smoke-profile book built end to end (papermill rows -> results -> ``jupyter-book
    build -W``) in a copy of the book sources, once per session: ``(root, html, outcomes)``
    with ``html`` the absolute HTML folder. Used by test_book.py and test_browser.py.

    The working directory is the copy only while building; tests that need it there chdir
    themselves (a session-long chdir would leak into every later test module)."""
    pytest.importorskip("mitsuba")
    from relight_lib.harness import book, reproduce

    _claim_the_smoke_book(tmp_path_factory)
    repo = Path(__file__).resolve().parents[1]
    root = tmp_path_factory.mktemp("bookroot")
    # everything the book's sources need (the config names _static/ and references.bib)
    names = ["_config.yml", "_static", "references.bib", "book", "notebooks", "results/reported",
             "results/bench"]
    for name in names:
        src = repo / name
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (shutil.copytree if src.is_dir() else shutil.copy)(src, root / name)
    old = Path.cwd()
    os.chdir(root)
    try:
        t0 = time.perf_counter()
        outcomes = reproduce.reproduce("smoke", jobs=2, log=lambda *a: None)
        t1 = time.perf_counter()
        failed = [(o.row.name, o.error) for o in outcomes if o.status == "failed"]
        assert not failed, failed
        html = (root / book.build("smoke")).resolve()
        t2 = time.perf_counter()
    finally:
        os.chdir(old)
    # where the fixture's minutes go (it is most of `make test`), in every run's output
    ran = sorted((o for o in outcomes if o.status == "ran"), key=lambda o: -o.seconds)
    report_line(request.config,
                f"smoke book: its data and {len(ran)} rows in {t1 - t0:.0f} s (2 at a time; "
                f"{sum(o.seconds for o in ran):.0f} s of row time), the build {t2 - t1:.0f} s; "
                "slowest rows: " + ", ".join(f"{o.row.name} {o.seconds:.0f} s" for o in ran[:8]))
    # The trainings' checkpoints (about 7 GB at smoke: MBNet's three rows are 1.8 GB each, with
    # Adam's state) are only needed while building; no test reads them, so free the disk now.
    shutil.rmtree(root / "_build" / "checkpoints", ignore_errors=True)
    yield root, html, outcomes
