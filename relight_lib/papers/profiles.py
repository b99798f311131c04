"""Profiles: one notebook, four scales (ARCHITECTURE.md section 4).

A profile fixes the data (a SynVIDIT preset or a real VIDIT folder), the image size, the training
budget, the seeds and whether a training backbone may start from a random init when its ImageNet
weights are missing. A notebook's ``parameters`` cell names the profile and may override any
value; :func:`resolve` merges the two and the result goes into ``run.json``.

| profile | data | size | budget | seeds | random backbone allowed |
|---|---|---|---|---|---|
| smoke | SynVIDIT ``smoke`` (8 scenes) | 64 px | a few steps | 1 | yes |
| quick | SynVIDIT ``quick-*`` (390 + 100 scenes) | 64 px | per model (each paper's ``*_SHORT_BUDGETS``): 300-600 steps of batch 8, to a plateau | 3 | yes |
| gpu | SynVIDIT ``gpu-*`` (300 + 100 scenes) | 256 px | about a GPU-hour for the suite | 3 | yes |
| paper | real VIDIT (``data_root`` or ``$RELIGHT_VIDIT``) | 1024 px | the paper's own | 1 | no |

The paper profile has no budget of its own: each row takes its recipe's ``paper_budget`` (the
paper's epochs and batch; :func:`relight_lib.papers.onetoone.resolve_budget`) and trains in fp32 as
the papers did (``amp=True`` is the bf16 option). The gpu profile trains in bf16, and so does the
quick one on a CPU that runs bf16 natively (AVX-512 BF16 or AMX: 1.6-2.2x faster per step on our
CPU for LTNet and the DMSHNs); on any other CPU it trains in fp32, and the row's training key
and ``run.json`` say which.

Model widths are never shrunk by a profile: a profile shortens training and lowers resolution
only; any architectural change is a named variant.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

#: Where SynVIDIT presets are rendered (relative to the repository root).
DATA_DIR = Path("data/synvidit")


@dataclass(frozen=True)
class Profile:
    """Resolved settings of one profile (all JSON-serialisable through :meth:`to_dict`).

    Attributes:
        name: ``smoke`` | ``quick`` | ``gpu`` | ``paper``.
        render_preset: SynVIDIT preset that provides the data (None for real VIDIT).
        track1_root: Folder with the one-to-one (Track 1) data.
        any2any_root: Folder with the any-to-any data (all 40 conditions).
        size: Image side in pixels for training and evaluation.
        train_steps: Optimiser steps per training run (None: each row's paper budget).
        batch_size: Training batch size (the paper profile's rows take the paper's).
        seeds: Seeds to run; tables show mean and sd over them.
        eval_limit: Evaluate on at most this many images (None: the whole split).
        eval_split: Split the tables are computed on (VIDIT's test ground truth is private, so
            the papers report on validation).
        allow_random_backbone: Whether a training backbone may fall back to a seeded random init
            when ImageNet weights are missing (never for the LPIPS metric).
        device: ``cpu``, ``cuda`` or ``auto``.
        amp: bf16 autocast during training, where it runs natively (CUDA, or a CPU with
            AVX-512 BF16/AMX: :func:`relight_lib.library.utils.bf16_native`); fp32 elsewhere.
        channels_last: channels_last memory format.
        compile: ``torch.compile`` the model.
        time_1024: Also time inference on a 1024 x 1024 input (the papers' run-time column);
            off for smoke, where it would dominate the run.
        val_points: Validate (PSNR, SSIM on the evaluation split) this many times during
            training, evenly spaced: the learning curves and the plateau test
            (:mod:`relight_lib.library.convergence`). 0: only at the end.
        in_memory_gb: Decode the training and validation sets into memory (on the training
            device) when they fit under this many GiB (:mod:`relight_lib.library.data.memory`);
            larger sets stream from disk.
    """

    name: str
    render_preset: str | None
    track1_root: str | None
    any2any_root: str | None
    size: int
    train_steps: int | None
    batch_size: int
    seeds: tuple[int, ...]
    eval_limit: int | None
    eval_split: str = "validation"
    allow_random_backbone: bool = True
    device: str = "auto"
    amp: bool = False
    channels_last: bool = False
    compile: bool = False
    time_1024: bool = True
    val_points: int = 20
    in_memory_gb: float = 4.0
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["seeds"] = list(self.seeds)
        return d


PROFILES: dict[str, Profile] = {
    "smoke": Profile(
        name="smoke", render_preset="smoke",
        track1_root=str(DATA_DIR / "smoke"), any2any_root=str(DATA_DIR / "smoke"),
        size=64, train_steps=4, batch_size=2, seeds=(0,), eval_limit=4, time_1024=False,
    ),
    "quick": Profile(
        name="quick", render_preset="quick",
        track1_root=str(DATA_DIR / "quick-track1"), any2any_root=str(DATA_DIR / "quick-any2any"),
        size=64, train_steps=400, batch_size=8, seeds=(0, 1, 2), eval_limit=None,
        amp=True, channels_last=True,
    ),
    "gpu": Profile(
        name="gpu", render_preset="gpu",
        track1_root=str(DATA_DIR / "gpu-track1"), any2any_root=str(DATA_DIR / "gpu-any2any"),
        size=256, train_steps=5000, batch_size=8, seeds=(0, 1, 2), eval_limit=None,
        device="cuda", amp=True, channels_last=True,
    ),
    "paper": Profile(
        name="paper", render_preset=None, track1_root=None, any2any_root=None,
        size=1024, train_steps=None, batch_size=1, seeds=(0,), eval_limit=None,
        allow_random_backbone=False, device="cuda", amp=False, channels_last=True,
    ),
}


#: The short profiles' recipes are each paper's own (its module's ``*_SHORT_BUDGETS``, passed to
#: ``run_one_to_one`` as ``short_budgets``), so tuning one paper's budget leaves the other
#: papers' results up to date. What they share: at a few hundred steps the papers' learning
#: rates stop long before a plateau, so a short profile warms up linearly over the first 5 % of
#: the budget to a peak rate, then decays it along a cosine to 1 % of it; one recipe per model
#: and profile, the same for every row of a table, so comparisons within a table stay fair
#: (a listed deviation of every row). Keys of a recipe: ``steps``, ``batch_size``, ``lr``,
#: ``final_lr``, ``schedule``, ``warmup``; optionally ``train_scale`` (train at another
#: fraction of the evaluation size than the paper), ``augment`` (another augmentation than the
#: paper's, None for none) and ``seeds`` (rows whose one seed costs more than 10 minutes here
#: run fewer seeds); each of these is a listed deviation of the row too.
COSINE: dict[str, Any] = {"batch_size": 8, "schedule": "warmup_cosine", "warmup": 0.05}

#: The smoke profile's recipe of the papers' models (a pipeline check, not a result).
SMOKE_BUDGET: dict[str, Any] = {"steps": 4, "batch_size": 2, "lr": 1e-3, "final_lr": 1e-5,
                                "schedule": "warmup_cosine", "warmup": 0.05}


def short_budget(profile: str, own: Mapping[str, Mapping[str, Any]] | None = None
                 ) -> dict[str, Any] | None:
    """The paper's own training recipe at a short ``profile`` (``own``, e.g.
    :data:`relight_lib.papers.msrnet.MSRNET_SHORT_BUDGETS`), or None: the paper profile, and
    rows without a recipe of their own (they take the profile's budget and the paper's schedule).

    >>> short_budget("quick", {"quick": {"steps": 600}})
    {'steps': 600}
    >>> short_budget("paper", {"quick": {"steps": 600}}) is None
    True
    """
    if own and profile in own:
        return dict(own[profile])
    return None


def short_budget_deviation(profile: str, budget: Mapping[str, Any]) -> str:
    """The deviation sentence of a row trained with a short profile's ``budget``."""
    b = budget
    return (f"Profile {profile}: {b['steps']} steps of batch {b['batch_size']}, Adam warmed up "
            f"over the first {b['warmup']:.0%} of the steps to {b['lr']:g}, then a cosine decay "
            f"to {b['final_lr']:g} (the same schedule for every row of the table), instead of "
            "the paper's schedule and budget: at a few hundred steps the paper's learning rate "
            "stops long before a plateau.")


def train_scale_deviation(profile: str, model: str, paper_scale: float, scale: float) -> str:
    """The deviation sentence of a profile that trains ``model`` at another fraction of the
    evaluation size than the recipe (a short budget's ``train_scale``)."""
    return (f"Profile {profile}: {model} trains at {scale:g} x the evaluation size instead of the "
            f"paper's {paper_scale:g} x (see the profile's recipe for why).")


def augment_deviation(profile: str, model: str, paper_augment: str | None,
                      augment: str | None) -> str:
    """The deviation sentence of a profile that trains ``model`` with another augmentation than
    the paper (a short budget's ``augment``)."""
    what = f"with augmentation {augment!r}" if augment else "without augmentation"
    return (f"Profile {profile}: {model} trains {what} instead of the paper's "
            f"{paper_augment!r} (the paper's chapter says why).")


def list_profiles() -> list[str]:
    return list(PROFILES)


def resolve(name: str, **overrides: Any) -> Profile:
    """The profile ``name`` with ``overrides`` applied; overrides that are None are ignored.

    ``data_root`` is accepted as a shortcut that points both ``track1_root`` and
    ``any2any_root`` at one real-VIDIT folder (the loaders find the packagings inside it) and
    drops the SynVIDIT preset. For the ``paper`` profile, ``$RELIGHT_VIDIT`` supplies the data
    root when none is given.

    >>> resolve("smoke").size
    64
    >>> resolve("quick", size=96, seeds=[0, 1]).seeds
    (0, 1)

    Raises:
        KeyError: unknown profile.
        TypeError: unknown override name (a typo must not pass silently).
        ValueError: the paper profile without a data root.
    """
    if name not in PROFILES:
        raise KeyError(f"unknown profile {name!r}; choose from {list_profiles()}")
    base = PROFILES[name]
    overrides = {k: v for k, v in overrides.items() if v is not None}
    data_root = overrides.pop("data_root", None)
    if data_root is None and name == "paper":
        data_root = os.environ.get("RELIGHT_VIDIT")
    if data_root is not None:
        overrides.update(track1_root=str(data_root), any2any_root=str(data_root),
                         render_preset=None)
    fields = {f.name for f in dataclasses.fields(Profile)}
    unknown = sorted(set(overrides) - fields)
    if unknown:
        raise TypeError(f"unknown profile setting(s) {unknown}; known: {sorted(fields)} "
                        "and data_root")
    if "seeds" in overrides:
        seeds = overrides["seeds"]
        overrides["seeds"] = (int(seeds),) if isinstance(seeds, int) else tuple(
            int(s) for s in seeds)
    prof = dataclasses.replace(base, **overrides)
    if prof.track1_root is None and prof.any2any_root is None:
        raise ValueError(
            f"profile {name!r} needs real VIDIT: pass data_root=... or set $RELIGHT_VIDIT "
            "(see README, 'Using real VIDIT')")
    return prof


def ensure_data(prof: Profile, jobs: int | None = None, progress: bool = True) -> None:
    """Render the profile's SynVIDIT preset if it is missing or incomplete (resumes; a complete
    set costs a checksum pass). A preset folder rendered with other parameters (an older
    generator version) is rendered again: the preset folders belong to the suite. Real-VIDIT
    profiles are left alone."""
    if prof.render_preset is None:
        return
    from relight_lib.library.data import synvidit

    for sub, cfg in synvidit.PRESETS[prof.render_preset].items():
        root = DATA_DIR / sub
        if str(root) not in (prof.track1_root, prof.any2any_root):
            continue
        old = synvidit.load_manifest(root)
        if old is not None and old.get("params") != cfg.identity():
            print(f"{root}: rendered with other parameters (an older generator?); rendering it "
                  "again")
        synvidit.render_dataset(root, cfg, jobs=jobs or os.cpu_count() or 1, progress=progress,
                                force=True)


def data_manifest_sha256(prof: Profile) -> str | None:
    """sha256 over the manifest.json files of the profile's data (None for real VIDIT or when
    the data is not rendered): identifies the exact data copy a run used."""
    import hashlib

    h = hashlib.sha256()
    found = False
    for root in sorted({prof.track1_root, prof.any2any_root} - {None}):
        m = Path(root) / "manifest.json"
        if m.exists():
            h.update(m.read_bytes())
            found = True
    return h.hexdigest() if found else None


def data_identity(prof: Profile) -> dict[str, Any]:
    """What identifies the profile's data without reading it: the SynVIDIT render parameters
    (the files are a deterministic function of them), or the real-VIDIT folder paths."""
    if prof.render_preset is None:
        return {"track1_root": prof.track1_root, "any2any_root": prof.any2any_root}
    from relight_lib.library.data import synvidit

    return {sub: cfg.identity() for sub, cfg in synvidit.PRESETS[prof.render_preset].items()}


def preset_split_counts(prof: Profile, root: str | None) -> dict[str, int] | None:
    """Scenes per split of the SynVIDIT preset folder ``root`` of ``prof``, known from the
    preset's parameters without the data being rendered (plans use it); None for real VIDIT or
    a folder that is not one of the profile's preset folders."""
    if prof.render_preset is None or root is None:
        return None
    from relight_lib.library.data import layout, synvidit

    for sub, cfg in synvidit.PRESETS[prof.render_preset].items():
        if str(DATA_DIR / sub) == str(root):
            return layout.split_counts(cfg.n_scenes)
    return None
