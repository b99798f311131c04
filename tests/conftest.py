"""Suite-wide test settings."""

import pytest


@pytest.fixture(autouse=True)
def _offline(monkeypatch):
    # tests never try to download weights, even on a machine that could
    monkeypatch.setenv("RELIGHT_OFFLINE", "1")
