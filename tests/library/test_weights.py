"""Tests of relight_lib.library.weights: offline lookup, hash check, clear errors, no downloads.

The "weights" here are a randomly initialised torchvision AlexNet saved under a file name whose
hash prefix matches its real SHA-256, exactly as torchvision names its files. Random weights test
only the lookup/verification/loading mechanism, never the quality of any model.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import socket
from pathlib import Path

import pytest
import torch
import torchvision

from relight_lib.library import weights as W


@pytest.fixture
def no_network(monkeypatch):
    """Make any download attempt fail loudly."""

    def refuse(*args, **kwargs):
        raise AssertionError(f"network access attempted: {args[:1]}")

    monkeypatch.setattr(torch.hub, "load_state_dict_from_url", refuse)
    monkeypatch.setattr(torch.hub, "download_url_to_file", refuse)
    import torchvision.models._api as tv_api

    monkeypatch.setattr(tv_api, "load_state_dict_from_url", refuse, raising=False)
    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


@pytest.fixture
def empty_dirs(tmp_path, monkeypatch):
    """RELIGHT_WEIGHTS and TORCH_HOME point at empty folders; returns (weights_dir, hub_dir)."""
    wdir = tmp_path / "relight_weights"
    home = tmp_path / "torch_home"
    wdir.mkdir()
    home.mkdir()
    monkeypatch.setenv("RELIGHT_WEIGHTS", str(wdir))
    monkeypatch.setenv("TORCH_HOME", str(home))
    return wdir, home / "hub" / "checkpoints"


@pytest.fixture
def registry_points_at(monkeypatch, fake_alexnet_file):
    """Swap the alexnet registry entry's file name for the fake's (the documented test hook)."""
    spec = dataclasses.replace(W.REGISTRY["alexnet"], files=(fake_alexnet_file.name,))
    monkeypatch.setitem(W.REGISTRY, "alexnet", spec)
    return fake_alexnet_file


def _link(src: Path, folder: Path) -> Path:
    """Place ``src`` in ``folder`` without copying 240 MB (a symlink, as users often do)."""
    dst = folder / src.name
    dst.symlink_to(src)
    return dst


def test_registry_literal():
    assert W.REGISTRY["alexnet"].files[0] == "alexnet-owt-7be5be79.pth"
    assert W.REGISTRY["vgg16"].files == ("vgg16-397923af.pth",)
    assert W.REGISTRY["vgg19"].files == ("vgg19-dcbb9e9d.pth",)
    assert W.REGISTRY["resnet50"].files == ("resnet50-0676ba61.pth", "resnet50-11ad3fa6.pth")
    for spec in W.REGISTRY.values():
        assert hasattr(torchvision.models, spec.arch)
        for f in spec.files:
            assert W._HASH_IN_NAME.search(f), f


def test_search_order(empty_dirs):
    wdir, hub = empty_dirs
    assert W.search_dirs() == [wdir, hub]


def test_search_without_env(monkeypatch, tmp_path):
    monkeypatch.delenv("RELIGHT_WEIGHTS", raising=False)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    assert W.search_dirs() == [tmp_path / "hub" / "checkpoints"]


def test_found_via_relight_weights(empty_dirs, registry_points_at, no_network):
    wdir, _ = empty_dirs
    _link(registry_points_at, wdir)
    assert W.find_weights("alexnet") == wdir / registry_points_at.name


def test_found_via_torch_home(empty_dirs, registry_points_at, no_network):
    _, hub = empty_dirs
    hub.mkdir(parents=True)
    _link(registry_points_at, hub)
    assert W.find_weights("alexnet") == hub / registry_points_at.name


def test_relight_weights_wins(empty_dirs, registry_points_at):
    wdir, hub = empty_dirs
    hub.mkdir(parents=True)
    _link(registry_points_at, hub)
    _link(registry_points_at, wdir)
    assert W.find_weights("alexnet").parent == wdir


def test_wrong_hash_refused(empty_dirs, monkeypatch):
    wdir, _ = empty_dirs
    bad = wdir / "vgg16-397923af.pth"  # the real name, wrong content
    torch.save({"x": torch.zeros(3)}, bad)
    actual = hashlib.sha256(bad.read_bytes()).hexdigest()[:8]
    with pytest.raises(W.WeightsHashMismatch) as e:
        W.find_weights("vgg16")
    msg = str(e.value)
    assert "vgg16-397923af.pth" in msg and "397923af" in msg and actual in msg
    # a corrupt file is never replaced by a random init
    with pytest.raises(W.WeightsHashMismatch):
        W.backbone("vgg16", allow_random=True)


def test_missing_returns_none_and_raises(empty_dirs, no_network):
    wdir, hub = empty_dirs
    assert W.find_weights("alexnet") is None
    with pytest.raises(W.WeightsNotFound) as e:
        W.load_backbone_state("alexnet")
    assert isinstance(e.value, FileNotFoundError)
    msg = str(e.value)
    assert "alexnet-owt-7be5be79.pth" in msg
    assert str(wdir) in msg and str(hub) in msg
    assert "RELIGHT_WEIGHTS" in msg


def test_unknown_name():
    with pytest.raises(KeyError, match="unknown backbone"):
        W.find_weights("inception")


def test_load_backbone_state(empty_dirs, registry_points_at, no_network):
    wdir, _ = empty_dirs
    _link(registry_points_at, wdir)
    state = W.load_backbone_state("alexnet")
    ref = torch.load(registry_points_at, weights_only=True)
    assert state.keys() == ref.keys()
    torch.testing.assert_close(state["features.0.weight"], ref["features.0.weight"])


def test_backbone_from_file(empty_dirs, registry_points_at, no_network):
    wdir, _ = empty_dirs
    _link(registry_points_at, wdir)
    model, info = W.backbone("alexnet", allow_random=False)
    assert isinstance(model, torchvision.models.AlexNet)
    ref = torch.load(registry_points_at, weights_only=True)
    torch.testing.assert_close(model.features[3].weight, ref["features.3.weight"])
    assert info.source == "file"
    assert info.path == str(wdir / registry_points_at.name)
    assert info.sha256 == hashlib.sha256(registry_points_at.read_bytes()).hexdigest()
    d = info.to_dict()
    assert json.loads(json.dumps(d)) == d
    assert set(d) == {"name", "source", "path", "sha256", "reason"}


def test_backbone_random_allowed(empty_dirs, no_network):
    rng_before = torch.get_rng_state()
    with pytest.warns(W.RandomInitWarning):
        model, info = W.backbone("alexnet", allow_random=True, seed=3)
    assert torch.equal(torch.get_rng_state(), rng_before)  # caller's RNG untouched
    assert isinstance(model, torchvision.models.AlexNet)
    assert info.source == "random" and info.path is None and info.sha256 is None
    assert "seed 3" in info.reason and "alexnet-owt-7be5be79.pth" in info.reason
    with pytest.warns(W.RandomInitWarning):
        again, _ = W.backbone("alexnet", allow_random=True, seed=3)
        other, _ = W.backbone("alexnet", allow_random=True, seed=4)
    assert torch.equal(model.features[0].weight, again.features[0].weight)
    assert not torch.equal(model.features[0].weight, other.features[0].weight)
    out = model.eval()(torch.rand(1, 3, 64, 64))
    assert out.shape == (1, 1000)


def test_backbone_random_refused(empty_dirs, no_network):
    with pytest.raises(W.WeightsNotFound, match="RELIGHT_WEIGHTS"):
        W.backbone("resnet50", allow_random=False)


def test_hash_cache(tmp_path):
    f = tmp_path / "x.bin"
    f.write_bytes(b"abc")
    assert W.file_sha256(f) == hashlib.sha256(b"abc").hexdigest()
    f.write_bytes(b"abcd")  # size changes -> recomputed
    assert W.file_sha256(f) == hashlib.sha256(b"abcd").hexdigest()


# --- download where the network allows, policies, the random-init warning -------------------


class _Response:
    def __init__(self, data: bytes) -> None:
        import io

        self._buf = io.BytesIO(data)

    def read(self, n=-1):
        return self._buf.read(n)

    def __enter__(self):
        return self

    def __exit__(self, *a):
        return False


def _fake_spec(monkeypatch, data: bytes) -> str:
    import dataclasses
    import hashlib

    name = f"alexnet-owt-{hashlib.sha256(data).hexdigest()[:8]}.pth"
    spec = W.REGISTRY["alexnet"]
    monkeypatch.setitem(W.REGISTRY, "alexnet", dataclasses.replace(spec, files=(name,)))
    monkeypatch.setattr(W, "_FETCH_FAILED", {})
    return name


def test_fetch_downloads_verifies_and_announces(monkeypatch, tmp_path, caplog):
    import urllib.request

    monkeypatch.delenv("RELIGHT_OFFLINE", raising=False)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "th"))
    name = _fake_spec(monkeypatch, b"weights")
    seen = []
    monkeypatch.setattr(urllib.request, "urlopen",
                        lambda url, timeout: seen.append((url, timeout)) or _Response(b"weights"))
    path = W.fetch_weights("alexnet", timeout=3)
    assert path is not None and path.name == name and path.read_bytes() == b"weights"
    assert seen == [(W.DOWNLOAD_URL.format(file=name), 3)]
    # announced on the module's logger (stderr by default; a run page collects it)
    assert "trying https://download.pytorch.org/models/" in caplog.text


def test_fetch_failure_is_remembered_and_bad_content_removed(monkeypatch, tmp_path):
    import urllib.request

    monkeypatch.delenv("RELIGHT_OFFLINE", raising=False)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "th"))
    _fake_spec(monkeypatch, b"weights")
    calls = []
    monkeypatch.setattr(urllib.request, "urlopen",
                        lambda url, timeout: calls.append(url) or _Response(b"tampered"))
    assert W.fetch_weights("alexnet") is None
    assert "mismatch" in W.fetch_failure("alexnet")
    assert not list((tmp_path / "th").rglob("*.pth"))
    assert W.fetch_weights("alexnet") is None and len(calls) == 1  # tried once


def test_offline_means_no_attempt(monkeypatch):
    import urllib.request

    monkeypatch.setenv("RELIGHT_OFFLINE", "1")
    monkeypatch.setattr(urllib.request, "urlopen", lambda *a, **k: pytest.fail("no download"))
    monkeypatch.setattr(W, "_FETCH_FAILED", {})
    assert W.fetch_weights("vgg16") is None


def test_policies_and_random_init_warning(monkeypatch, tmp_path):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "empty"))
    monkeypatch.delenv("RELIGHT_WEIGHTS", raising=False)
    assert W.policy_for(False) == "require"
    with pytest.raises(W.WeightsNotFound, match="alexnet-owt-7be5be79.pth"):
        W.backbone("alexnet", policy="require")
    with pytest.warns(W.RandomInitWarning, match="random init"):
        _, info = W.backbone("alexnet", policy="allow_random")
    assert info.source == "random"
    with pytest.raises(ValueError, match="not one of"):
        W.backbone("alexnet", policy="maybe")
    with pytest.raises(ValueError, match="contradicts"):
        W.backbone("alexnet", allow_random=True, policy="require")


def test_display_path_names_no_machine_folder(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    assert W.display_path(tmp_path / "results" / "x.png") == "results/x.png"
    assert W.display_path(Path.home() / ".cache" / "torch" / "hub") == "~/.cache/torch/hub"
    assert W.display_path("/elsewhere/w.pth") == "/elsewhere/w.pth"


def test_not_found_message_has_no_absolute_home_and_names_the_failed_download(monkeypatch):
    monkeypatch.delenv(W.ENV_VAR, raising=False)
    monkeypatch.setattr(W, "_FETCH_FAILED", {"alexnet": "download from X failed (URLError: no)"})
    msg = W._not_found_message(W.REGISTRY["alexnet"])
    assert str(Path.home()) + "/" not in msg and "download from X failed" in msg
