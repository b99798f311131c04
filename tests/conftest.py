"""Suite-wide test settings and fixtures."""

import hashlib
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
