"""Find ImageNet / LPIPS backbone weights offline, and fetch them only where the network allows.

Our machines cannot reach the internet, so pretrained torchvision checkpoints are first *looked
up* (ARCHITECTURE.md section 6). A checkpoint is searched for under its torchvision file name, in
this order:

1. the directory named by the environment variable ``RELIGHT_WEIGHTS`` (if set and non-empty);
2. torch's own cache, ``torch.hub.get_dir()/checkpoints``, i.e. ``$TORCH_HOME/hub/checkpoints``
   (``~/.cache/torch/hub/checkpoints`` by default), where torchvision stores what it downloads on
   an online machine, so a user who has ever used these models already has the files.

torchvision names its files ``<arch>-<hash>.pth`` where ``<hash>`` is the first 8 (or more) hex
digits of the file's SHA-256; a found file is checked against that prefix and a mismatch is an
error (:class:`WeightsHashMismatch`), never a silent fallback.

When no file is found, :func:`fetch_weights` tries torchvision's own download address once per
process, with a short timeout and a warning on the ``relight_lib.library.weights`` logger (never
silently: stderr unless logging is configured otherwise; a run page collects it, and the failure
joins the not-found reason that goes into ``run.json``), into the torch cache;
``RELIGHT_OFFLINE=1`` turns that off. On a user's online machine this is torchvision's usual
download; on ours it fails at once (no DNS) and the lookup result stands.

Policy per profile (:func:`policy_for`): ``require`` (paper profile: a missing file is an error
naming the file to place and where) or ``allow_random`` (smoke, quick, gpu: a seeded random init,
a :class:`RandomInitWarning`, and ``source='random'`` in run.json and on the book page).

Only *training* backbones may fall back to a seeded random init, and only where the caller allows it
(:func:`backbone` with ``allow_random=True``; the smoke/quick/gpu profiles do, the paper profile
does not). The LPIPS metric never uses a random trunk (see :mod:`relight_lib.library.metrics`). Every
outcome is described by a :class:`WeightsInfo` that goes into ``run.json``.

Example:
    >>> sorted(REGISTRY)
    ['alexnet', 'resnet50', 'vgg16', 'vgg19']
    >>> REGISTRY['alexnet'].files[0]
    'alexnet-owt-7be5be79.pth'
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import torch
from torch import nn

__all__ = [
    "DOWNLOAD_URL",
    "ENV_VAR",
    "POLICIES",
    "RandomInitWarning",
    "fetch_weights",
    "policy_for",
    "REGISTRY",
    "WeightsHashMismatch",
    "WeightsInfo",
    "WeightsNotFound",
    "WeightsSpec",
    "backbone",
    "display_path",
    "file_sha256",
    "find_weights",
    "load_backbone_state",
    "search_dirs",
]

ENV_VAR = "RELIGHT_WEIGHTS"
#: torchvision's download address for its checkpoint files.
DOWNLOAD_URL = "https://download.pytorch.org/models/{file}"
_log = logging.getLogger(__name__)

#: What a profile does when a training backbone's weights are missing.
POLICIES = ("require", "allow_random")

#: torchvision's ImageNet statistics (RGB, inputs in [0, 1]): what the ImageNet weights expect.
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def imagenet_normalize(x: torch.Tensor) -> torch.Tensor:
    """(B, 3, H, W) RGB in [0, 1] -> ImageNet-normalised (kornia's ``normalize``)."""
    from kornia.enhance import normalize

    return normalize(x, x.new_tensor(IMAGENET_MEAN), x.new_tensor(IMAGENET_STD))


def display_path(path: str | os.PathLike[str]) -> str:
    """``path`` as run records and messages show it: relative to the working directory (the
    repository root when the runner runs) when inside it, ``~/...`` when inside the home folder,
    else as given. A record written on one machine then names no folder of that machine.

    >>> display_path(Path.home() / ".cache" / "torch")
    '~/.cache/torch'
    >>> display_path(Path.cwd() / "data" / "w.pth")
    'data/w.pth'
    """
    p = Path(path).expanduser().absolute()
    for base, prefix in ((Path.cwd(), ""), (Path.home(), "~/")):
        for a, b in ((p, base.absolute()), (p.resolve(), base.resolve())):  # as given, resolved
            try:
                rel = a.relative_to(b)
            except ValueError:
                continue
            return prefix + rel.as_posix() if rel.parts else (prefix.rstrip("/") or ".")
    return str(path)


class RandomInitWarning(UserWarning):
    """A training backbone starts from a random init because its ImageNet weights are missing."""


def policy_for(allow_random: bool) -> str:
    """The weights policy of a profile (``Profile.allow_random_backbone``).

    >>> policy_for(False), policy_for(True)
    ('require', 'allow_random')
    """
    return "allow_random" if allow_random else "require"


_FETCH_FAILED: dict[str, str] = {}


def fetch_weights(name: str, timeout: float = 10.0) -> Path | None:
    """Try to download a registered checkpoint into the torch cache (once per process).

    Returns the verified file, or None when downloads are off (``RELIGHT_OFFLINE=1``) or the
    network does not allow it (the reason is kept for :func:`fetch_failure` and joins the
    not-found reason of the run). A warning goes to this module's logger before any download:
    nothing is fetched silently.
    """
    import socket
    import urllib.request

    if os.environ.get("RELIGHT_OFFLINE", "") not in ("", "0"):
        return None
    if name in _FETCH_FAILED:
        return None
    spec = _spec(name)
    dest_dir = Path(torch.hub.get_dir()) / "checkpoints"
    dest = dest_dir / spec.files[0]
    url = DOWNLOAD_URL.format(file=spec.files[0])
    _log.warning("relight: %s not found locally; trying %s (timeout %g s)", spec.files[0], url,
                 timeout)
    try:
        dest_dir.mkdir(parents=True, exist_ok=True)
        tmp = dest.with_suffix(".part")
        with urllib.request.urlopen(url, timeout=timeout) as r, open(tmp, "wb") as f:
            while chunk := r.read(1 << 20):
                f.write(chunk)
        os.replace(tmp, dest)
        _verify(dest)
    except (OSError, socket.timeout, WeightsHashMismatch) as e:
        _FETCH_FAILED[name] = f"download from {url} failed ({type(e).__name__}: {e})"
        _log.warning("relight: %s", _FETCH_FAILED[name])
        if dest.exists():
            try:
                _verify(dest)
            except WeightsHashMismatch:
                dest.unlink()
        return None
    return dest


def fetch_failure(name: str) -> str | None:
    """Why the last download of ``name`` failed in this process (None if not tried)."""
    return _FETCH_FAILED.get(name)


@dataclass(frozen=True)
class WeightsSpec:
    """One backbone checkpoint the suite knows about.

    Attributes:
        name: registry key (``'alexnet'``...).
        arch: torchvision builder in ``torchvision.models`` (called with ``weights=None``).
        files: accepted torchvision file names, preferred first. Each carries a SHA-256 prefix
            after its last ``'-'``.
        note: what the checkpoint is and who uses it.
    """

    name: str
    arch: str
    files: tuple[str, ...]
    note: str = ""


# A literal registry: reviewers see every file the suite may read. Tests swap an entry with
# ``monkeypatch.setitem(REGISTRY, 'alexnet', ...)`` to point it at a fake, hash-named file.
REGISTRY: dict[str, WeightsSpec] = {
    "alexnet": WeightsSpec(
        name="alexnet",
        arch="alexnet",
        # 4df8aa71 is the same ImageNet weights as saved by older torchvision (legacy format).
        files=("alexnet-owt-7be5be79.pth", "alexnet-owt-4df8aa71.pth"),
        note="torchvision AlexNet IMAGENET1K_V1; the LPIPS v0.1 trunk",
    ),
    "vgg16": WeightsSpec(
        name="vgg16",
        arch="vgg16",
        files=("vgg16-397923af.pth",),
        note="torchvision VGG-16 IMAGENET1K_V1; perceptual losses",
    ),
    "vgg19": WeightsSpec(
        name="vgg19",
        arch="vgg19",
        files=("vgg19-dcbb9e9d.pth",),
        note="torchvision VGG-19 IMAGENET1K_V1; perceptual losses",
    ),
    "resnet50": WeightsSpec(
        name="resnet50",
        arch="resnet50",
        files=("resnet50-0676ba61.pth", "resnet50-11ad3fa6.pth"),
        note="torchvision ResNet-50 IMAGENET1K_V1 (V2 also accepted); MBNet encoders",
    ),
}

# torch.hub's own rule for the hash in a file name (torch/hub.py HASH_REGEX), anchored at the end.
_HASH_IN_NAME = re.compile(r"-([a-f0-9]{8,})\.[^.]+$")

# path -> (size, mtime_ns, sha256): VGG files are ~0.5 GB, so hash each file once per process.
_HASH_CACHE: dict[str, tuple[int, int, str]] = {}


class WeightsNotFound(FileNotFoundError):
    """No checkpoint file for a registered backbone in any searched folder."""


class WeightsHashMismatch(ValueError):
    """A checkpoint file's SHA-256 does not start with the prefix in its name (corrupt/partial)."""


@dataclass
class WeightsInfo:
    """Where a backbone's weights came from; recorded in ``run.json``.

    Attributes:
        name: registry key.
        source: ``'file'`` (loaded from ``path``) or ``'random'`` (seeded random init).
        path: the file loaded, or None.
        sha256: full hex SHA-256 of that file, or None.
        reason: one human sentence (where it was loaded from, or why it is random).
    """

    name: str
    source: Literal["file", "random"]
    path: str | None
    sha256: str | None
    reason: str

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready dict (all values str or None)."""
        return {
            "name": self.name,
            "source": self.source,
            "path": self.path,
            "sha256": self.sha256,
            "reason": self.reason,
        }


def _spec(name: str) -> WeightsSpec:
    try:
        return REGISTRY[name]
    except KeyError:
        raise KeyError(f"unknown backbone {name!r}; known: {sorted(REGISTRY)}") from None


def search_dirs() -> list[Path]:
    """Folders searched for checkpoint files, in order.

    ``$RELIGHT_WEIGHTS`` (if set and non-empty), then ``torch.hub.get_dir()/checkpoints``. Both are
    read at call time, so changing the environment takes effect immediately.

    Returns:
        List of paths (they need not exist).
    """
    dirs: list[Path] = []
    env = os.environ.get(ENV_VAR, "").strip()
    if env:
        dirs.append(Path(env).expanduser())
    # get_dir() honours torch.hub.set_dir() and $TORCH_HOME / $XDG_CACHE_HOME.
    hub = Path(torch.hub.get_dir()).expanduser() / "checkpoints"
    if hub not in dirs:
        dirs.append(hub)
    return dirs


def file_sha256(path: str | os.PathLike[str]) -> str:
    """Full hex SHA-256 of a file, cached per (path, size, mtime).

    Args:
        path: the file.

    Returns:
        64 lowercase hex digits.
    """
    p = Path(path)
    st = p.stat()
    key = str(p.resolve())
    hit = _HASH_CACHE.get(key)
    if hit is not None and hit[:2] == (st.st_size, st.st_mtime_ns):
        return hit[2]
    h = hashlib.sha256()
    with open(p, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    digest = h.hexdigest()
    _HASH_CACHE[key] = (st.st_size, st.st_mtime_ns, digest)
    return digest


def _verify(path: Path) -> str:
    """Check the SHA-256 prefix in ``path``'s name; return the full digest."""
    m = _HASH_IN_NAME.search(path.name)
    if m is None:
        raise WeightsHashMismatch(
            f"{path}: file name carries no SHA-256 prefix ('<arch>-<hex>.pth'); cannot verify it"
        )
    expected = m.group(1)
    digest = file_sha256(path)
    if not digest.startswith(expected):
        raise WeightsHashMismatch(
            f"{path}: SHA-256 mismatch: name says {expected}, content is "
            f"{digest[:len(expected)]} (corrupt or partial download? replace the file)"
        )
    return digest


def find_weights(name: str) -> Path | None:
    """Locate and verify the checkpoint file of a registered backbone.

    Args:
        name: registry key, one of :data:`REGISTRY` (``'alexnet'``, ``'vgg16'``, ``'vgg19'``,
            ``'resnet50'``).

    Returns:
        Path of the first accepted file found (folders in :func:`search_dirs` order, then file
        names in registry order), or None if there is none.

    Raises:
        KeyError: unknown name.
        WeightsHashMismatch: a file was found but its content does not match its name. A corrupt
            file is reported rather than skipped, so the user can replace it.

    Example:
        >>> p = find_weights("alexnet")  # None offline, unless the file was supplied
        >>> p is None or p.name.startswith("alexnet-owt-")
        True
    """
    spec = _spec(name)
    for d in search_dirs():
        for fname in spec.files:
            p = d / fname
            if p.is_file():
                _verify(p)
                return p
    return None


def _fetch_note(name: str) -> str:
    why = fetch_failure(name)
    return f" ({why})" if why else ""


def _not_found_message(spec: WeightsSpec) -> str:
    dirs = search_dirs()
    listing = "\n".join(f"  - {display_path(d)}" for d in dirs)
    names = " or ".join(spec.files)
    return (
        f"weights for {spec.name!r} ({spec.note}) not found: no file {names} in\n{listing}\n"
        f"To supply them, copy the torchvision checkpoint {spec.files[0]} (from an online "
        f"machine's ~/.cache/torch/hub/checkpoints) into one of these folders, or set "
        f"{ENV_VAR}=/path/to/folder.{_fetch_note(spec.name)}"
    )


def load_backbone_state(name: str) -> dict[str, torch.Tensor]:
    """Load a registered backbone's state dict from disk (CPU tensors, ``weights_only=True``).

    Args:
        name: registry key.

    Returns:
        The torchvision state dict (``'features.0.weight'``... as torchvision names them).

    Raises:
        WeightsNotFound: no file; the message names the file, every folder searched and how to
            supply it.
        WeightsHashMismatch: see :func:`find_weights`.
    """
    spec = _spec(name)
    path = find_weights(name) or fetch_weights(name)
    if path is None:
        raise WeightsNotFound(_not_found_message(spec))
    # weights_only: a checkpoint is data, never code (ARCHITECTURE.md section 7).
    return torch.load(path, map_location="cpu", weights_only=True)


def backbone(name: str, allow_random: bool | None = None, seed: int = 0,
             policy: str | None = None) -> tuple[nn.Module, WeightsInfo]:
    """Build a torchvision backbone with ImageNet weights from disk, or a seeded random init.

    The model is always built with ``weights=None`` (torchvision never downloads), then the state
    dict found by :func:`find_weights` is loaded strictly.

    Args:
        name: registry key (``'alexnet'``, ``'vgg16'``, ``'vgg19'``, ``'resnet50'``).
        allow_random: if the file is missing, return a randomly initialised model (True) or raise
            (False). Profiles smoke/quick/gpu allow it; the paper profile does not.
        seed: seed of the random init (used in both cases, so construction never consumes the
            global RNG). Default 0.
        policy: ``'require'`` or ``'allow_random'`` (:data:`POLICIES`), an alternative to
            ``allow_random``; give one of the two.

    Returns:
        ``(model, info)``: the full torchvision model (classifier included; callers slice what they
        need) in train mode, and a :class:`WeightsInfo` for ``run.json``.

    Raises:
        WeightsNotFound: no file and ``allow_random`` is False.
        WeightsHashMismatch: a corrupt file (never replaced by a random init).
    """
    import torchvision  # heavy import, only when a model is built

    if policy is not None:
        if policy not in POLICIES:
            raise ValueError(f"weights policy {policy!r} is not one of {POLICIES}")
        if allow_random is not None and allow_random != (policy == "allow_random"):
            raise ValueError(f"allow_random={allow_random} contradicts policy {policy!r}")
        allow_random = policy == "allow_random"
    if allow_random is None:
        raise TypeError("backbone() needs allow_random=... or policy=...")
    spec = _spec(name)
    # Look up (and verify) first: a corrupt file fails before a large model is built.
    path = find_weights(name) or fetch_weights(name)
    if path is None and not allow_random:
        raise WeightsNotFound(_not_found_message(spec))
    # fork_rng: a seeded init that leaves the caller's RNG stream untouched.
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model: nn.Module = getattr(torchvision.models, spec.arch)(weights=None)
    if path is not None:
        state = torch.load(path, map_location="cpu", weights_only=True)
        model.load_state_dict(state, strict=True)
        return model, WeightsInfo(
            name=name, source="file", path=display_path(path), sha256=file_sha256(path),
            reason=f"ImageNet weights loaded from {display_path(path)}",
        )
    import warnings

    dirs = ", ".join(display_path(d) for d in search_dirs())
    warnings.warn(f"{name}: ImageNet weights not found ({spec.files[0]}); using a random init "
                  f"with seed {seed}, as this profile allows", RandomInitWarning, stacklevel=2)
    return model, WeightsInfo(
        name=name, source="random", path=None, sha256=None,
        reason=(
            f"{spec.files[0]} not found in {dirs}{_fetch_note(name)}; random init with seed "
            f"{seed} (allowed by this profile; results are not comparable to "
            "ImageNet-initialised runs)"
        ),
    )
