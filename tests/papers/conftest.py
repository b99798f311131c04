"""Fixtures shared by the papers' tests."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def tiny_vidit(tmp_path_factory):
    """A 6-scene, 16 px SynVIDIT set standing in for real VIDIT at the paper profile (the
    deviation tests plan every row there; rendered once per session, about a second)."""
    pytest.importorskip("mitsuba")
    from relight_lib.library.data import synvidit

    root = tmp_path_factory.mktemp("paper_plan") / "vidit"
    synvidit.render_dataset(root, synvidit.RenderConfig(n_scenes=6, size=16, spp=1, seed=3),
                            progress=False)
    return root
