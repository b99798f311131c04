"""Suite-wide test settings and fixtures."""

import hashlib
import os
import shutil
import time
from pathlib import Path

import pytest
import torch
import torchvision


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


@pytest.fixture(scope="session")
def smoke_book(tmp_path_factory, request):
    """The smoke-profile book built end to end (papermill rows -> results -> ``jupyter-book
    build -W``) in a copy of the book sources, once per session: ``(root, html, outcomes)``
    with ``html`` the absolute HTML folder. Used by test_book.py and test_browser.py.

    The working directory is the copy only while building; tests that need it there chdir
    themselves (a session-long chdir would leak into every later test module)."""
    pytest.importorskip("mitsuba")
    from relight_lib.harness import book, reproduce

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
    # (printed past pytest's capture: a fixture's output is otherwise shown only on failure)
    capman = request.config.pluginmanager.getplugin("capturemanager")
    with capman.global_and_fixture_disabled():
        print(f"\nsmoke book: its data and {len(ran)} rows in {t1 - t0:.0f} s (2 at a time; "
              f"{sum(o.seconds for o in ran):.0f} s of row time), the build {t2 - t1:.0f} s; "
              "slowest rows: " + ", ".join(f"{o.row.name} {o.seconds:.0f} s" for o in ran[:8]))
    # The trainings' checkpoints (about 7 GB at smoke: MBNet's three rows are 1.8 GB each, with
    # Adam's state) are only needed while building; no test reads them, so free the disk now.
    shutil.rmtree(root / "_build" / "checkpoints", ignore_errors=True)
    yield root, html, outcomes
