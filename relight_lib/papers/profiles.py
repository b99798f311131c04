"""Profiles: one notebook, four scales (ARCHITECTURE.md section 4).

A profile fixes the data (a SynVIDIT preset or a real VIDIT folder), the image size, the training
budget, the seeds and whether a training backbone may start from a random init when its ImageNet
weights are missing. A notebook's ``parameters`` cell names the profile and may override any
value; :func:`resolve` merges the two and the result goes into ``run.json``.

| profile | data | size | budget | seeds | random backbone allowed |
|---|---|---|---|---|---|
| smoke | SynVIDIT ``smoke`` (8 scenes, fixed) | 64 px | a few steps | 1 | yes |
| quick | SynVIDIT drawn per seed, ``quick-s<k>-{track1,any2any}`` (300 / 45 / 150 and 76 / 12 / 50 scenes) | 64 px | per model (each paper's ``*_SHORT_BUDGETS``), to a plateau | 5 (MBNet 3) | yes |
| gpu | SynVIDIT drawn per seed, ``gpu-s<k>-*`` (as quick) | 256 px | about a GPU-hour for the suite | 3 | yes |
| paper | real VIDIT (``data_root`` or ``$RELIGHT_VIDIT``) | 1024 px | the paper's own | 1 | no |

Data and splits (ARCHITECTURE.md 5b, spec/evidence.md 1-2). At quick and gpu each seed ``k``
draws its own SynVIDIT scenes (``scene_seed="per_seed"``): the Track-1 and any-to-any sets of
:func:`relight_lib.library.data.synvidit.seed_set`, rendered from a scene seed derived from
(profile, set, k) into ``data/synvidit/<profile>-s<k>-<set>``; every row of a table uses the
same seeds, so rows of one seed saw the same scenes and claims stay paired by seed.
``scene_seed="fixed"`` reads the single draw every seed shared before (``quick-track1``,
``quick-any2any``), for teaching and for comparing with earlier results; the smoke profile keeps
it (one seed, one tiny set rendered once for CI). The learning curves, the plateau test and
every recipe choice read ``val_split`` (validation); the tables, claims and leaderboard read
``eval_split``: the test split at the SynVIDIT profiles, validation at the paper profile
(VIDIT's test ground truth is private, so the papers report on validation, and so do we).

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
        eval_limit: Evaluate (and validate) on at most this many images (None: the whole
            split).
        eval_split: Split the tables, claims and leaderboard are read on: ``test`` on SynVIDIT;
            ``validation`` at the paper profile (VIDIT's test ground truth is private, so the
            papers report on validation).
        val_split: Split of the learning curves and the plateau test (everything a recipe is
            chosen on): ``validation``.
        scene_seed: ``per_seed`` (each seed renders and reads its own SynVIDIT sets;
            ``track1_root`` and ``any2any_root`` are then folder templates holding ``{seed}``,
            see :func:`for_seed`) or ``fixed`` (every seed reads the same folders).
        allow_random_backbone: Whether a training backbone may fall back to a seeded random init
            when ImageNet weights are missing (never for the LPIPS metric).
        device: ``cpu``, ``cuda`` or ``auto``.
        amp: bf16 autocast during training, where it runs natively (CUDA, or a CPU with
            AVX-512 BF16/AMX: :func:`relight_lib.library.utils.bf16_native`); fp32 elsewhere.
        channels_last: channels_last memory format.
        compile: ``torch.compile`` the model.
        time_1024: Also time inference on a 1024 x 1024 input (the papers' run-time column);
            off for smoke, where it would dominate the run.
        val_points: Validate (PSNR, SSIM on ``val_split``) this many times during
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
    eval_split: str = "test"
    val_split: str = "validation"
    scene_seed: str = "fixed"
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


#: What a per-seed folder template holds in place of the seed.
SEED_FIELD = "{seed}"

#: The fixed (single-draw) SynVIDIT folders of each preset, ``(track1, any2any)``:
#: ``scene_seed="fixed"`` reads them (the data of every result committed before the per-seed
#: draw).
FIXED_FOLDERS: dict[str, tuple[str, str]] = {
    "smoke": ("smoke", "smoke"),
    "quick": ("quick-track1", "quick-any2any"),
    "gpu": ("gpu-track1", "gpu-any2any"),
}

#: Set kind (:data:`relight_lib.library.data.synvidit.PER_SEED`) of each data-root field.
_ROOT_KINDS = {"track1_root": "track1", "any2any_root": "any2any"}


def _seed_template(profile: str, kind: str) -> str:
    return str(DATA_DIR / f"{profile}-s{SEED_FIELD}-{kind}")


PROFILES: dict[str, Profile] = {
    # one seed and one tiny set rendered once for CI: fixed data keeps it fast, and the
    # per-seed path is the same code with another folder (tests cover it on a tiny preset)
    "smoke": Profile(
        name="smoke", render_preset="smoke",
        track1_root=str(DATA_DIR / "smoke"), any2any_root=str(DATA_DIR / "smoke"),
        size=64, train_steps=4, batch_size=2, seeds=(0,), eval_limit=4, time_1024=False,
    ),
    "quick": Profile(
        name="quick", render_preset="quick", scene_seed="per_seed",
        track1_root=_seed_template("quick", "track1"),
        any2any_root=_seed_template("quick", "any2any"),
        size=64, train_steps=400, batch_size=8, seeds=(0, 1, 2, 3, 4), eval_limit=None,
        amp=True, channels_last=True,
    ),
    "gpu": Profile(
        name="gpu", render_preset="gpu", scene_seed="per_seed",
        track1_root=_seed_template("gpu", "track1"), any2any_root=_seed_template("gpu", "any2any"),
        size=256, train_steps=5000, batch_size=8, seeds=(0, 1, 2), eval_limit=None,
        device="cuda", amp=True, channels_last=True,
    ),
    # VIDIT's test ground truth is private: the papers' tables are on validation, and so are
    # ours (validation is then also what the learning curves look at)
    "paper": Profile(
        name="paper", render_preset=None, track1_root=None, any2any_root=None,
        size=1024, train_steps=None, batch_size=1, seeds=(0,), eval_limit=None,
        eval_split="validation", allow_random_backbone=False, device="cuda", amp=False,
        channels_last=True,
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
    drops the SynVIDIT preset (and with it the per-seed draw: real data cannot be drawn
    again). For the ``paper`` profile, ``$RELIGHT_VIDIT`` supplies the data root when none is
    given. ``scene_seed="fixed"`` at a per-seed profile reads the preset's single draw
    (:data:`FIXED_FOLDERS`); a data folder given without ``{seed}`` is fixed data too.

    >>> resolve("smoke").size
    64
    >>> resolve("quick", size=96, seeds=[0, 1]).seeds
    (0, 1)
    >>> resolve("quick", scene_seed="fixed").track1_root
    'data/synvidit/quick-track1'

    Raises:
        KeyError: unknown profile.
        TypeError: unknown override name (a typo must not pass silently).
        ValueError: the paper profile without a data root; an unknown split or
            ``scene_seed``; a per-seed draw without a SynVIDIT preset or a folder template.
    """
    from relight_lib.library.data import layout

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
        overrides.setdefault("scene_seed", "fixed")
    fields = {f.name for f in dataclasses.fields(Profile)}
    unknown = sorted(set(overrides) - fields)
    if unknown:
        raise TypeError(f"unknown profile setting(s) {unknown}; known: {sorted(fields)} "
                        "and data_root")
    if "seeds" in overrides:
        seeds = overrides["seeds"]
        overrides["seeds"] = (int(seeds),) if isinstance(seeds, int) else tuple(
            int(s) for s in seeds)
    given = [overrides[k] for k in _ROOT_KINDS if k in overrides]
    if given and "scene_seed" not in overrides and not any(SEED_FIELD in r for r in given):
        overrides["scene_seed"] = "fixed"  # the folder given is the data, for every seed
    prof = dataclasses.replace(base, **overrides)
    if prof.scene_seed == "fixed" and prof.render_preset in FIXED_FOLDERS:
        # the preset's single draw, unless a folder was given
        fixed = FIXED_FOLDERS[prof.render_preset]
        prof = dataclasses.replace(prof, **{
            k: (getattr(prof, k) if k in overrides and SEED_FIELD not in getattr(prof, k)
                else str(DATA_DIR / sub)) for k, sub in zip(_ROOT_KINDS, fixed)})
    if prof.scene_seed not in ("per_seed", "fixed"):
        raise ValueError(f"scene_seed must be 'per_seed' or 'fixed', got {prof.scene_seed!r}")
    for what in ("eval_split", "val_split"):
        if getattr(prof, what) not in layout.SPLITS:
            raise ValueError(f"{what} must be one of {layout.SPLITS}, got "
                             f"{getattr(prof, what)!r}")
    if prof.scene_seed == "per_seed":
        if prof.render_preset is None:
            raise ValueError(f"profile {name!r}: scene_seed='per_seed' needs a SynVIDIT preset "
                             "(real VIDIT cannot be drawn again); use scene_seed='fixed'")
        for k in _ROOT_KINDS:
            if SEED_FIELD not in str(getattr(prof, k)):
                raise ValueError(f"profile {name!r}: with scene_seed='per_seed', {k} must be a "
                                 f"folder template holding {SEED_FIELD}, got "
                                 f"{getattr(prof, k)!r}")
    if prof.track1_root is None and prof.any2any_root is None:
        raise ValueError(
            f"profile {name!r} needs real VIDIT: pass data_root=... or set $RELIGHT_VIDIT "
            "(see README, 'Using real VIDIT')")
    return prof


def for_seed(prof: Profile, seed: int) -> Profile:
    """The profile as seed ``seed`` runs it: its own data folders when the data is drawn per
    seed (the ``{seed}`` of the folder templates filled in), and ``seeds=(seed,)``. With fixed
    data only the seeds change. Runners resolve their data through this, once per seed.

    >>> for_seed(resolve("quick"), 2).track1_root
    'data/synvidit/quick-s2-track1'
    >>> for_seed(resolve("quick", scene_seed="fixed"), 2).track1_root
    'data/synvidit/quick-track1'
    """
    roots = {}
    if prof.scene_seed == "per_seed":
        roots = {k: str(getattr(prof, k)).replace(SEED_FIELD, str(int(seed)))
                 for k in _ROOT_KINDS if getattr(prof, k) is not None}
    return dataclasses.replace(prof, seeds=(int(seed),), **roots)


def data_sets(prof: Profile) -> dict[str, Any]:
    """The SynVIDIT sets ``prof`` reads, every seed's: ``{folder: RenderConfig}`` (empty for
    real VIDIT). Per-seed profiles: :func:`~relight_lib.library.data.synvidit.seed_set` of
    each seed and kind; fixed data: the preset's folders that the profile points at."""
    if prof.render_preset is None:
        return {}
    from relight_lib.library.data import synvidit

    out: dict[str, Any] = {}
    if prof.scene_seed == "per_seed":
        for seed in prof.seeds:
            one = for_seed(prof, seed)
            for k, kind in _ROOT_KINDS.items():
                out[str(getattr(one, k))] = synvidit.seed_set(prof.render_preset, kind, seed)[1]
        return out
    for sub, cfg in synvidit.PRESETS[prof.render_preset].items():
        root = str(DATA_DIR / sub)
        if root in (prof.track1_root, prof.any2any_root):
            out[root] = cfg
    return out


def preset_config(prof: Profile, root: str | None) -> Any:
    """The :class:`~relight_lib.library.data.synvidit.RenderConfig` of the SynVIDIT folder
    ``root`` of ``prof`` (a per-seed template stands for each seed's set: they differ in the
    scene seed only); None for real VIDIT or a folder that is not one of the profile's."""
    if prof.render_preset is None or root is None:
        return None
    if SEED_FIELD in str(root):
        kind = next((v for k, v in _ROOT_KINDS.items() if getattr(prof, k) == root), None)
        if kind is None:
            return None
        from relight_lib.library.data import synvidit

        return synvidit.seed_set(prof.render_preset, kind, prof.seeds[0])[1]
    return data_sets(prof).get(str(root))


def ensure_data(prof: Profile, jobs: int | None = None, progress: bool = True,
                dry_run: bool = False, log=print) -> list[dict[str, Any]]:
    """Render the profile's SynVIDIT sets (every seed's, when drawn per seed) that are missing
    or incomplete; each one it renders is announced first (folder, scene seed, scenes, the
    estimated time). Rendering resumes (a complete set costs a checksum pass). A preset folder
    rendered with other parameters (an older generator version) is rendered again: the preset
    folders belong to the suite. Real-VIDIT profiles are left alone.

    Args:
        dry_run: Only say what would be rendered; nothing is written.

    Returns:
        One dict per set: ``folder``, ``scene_seed``, ``scenes``, ``state`` (``complete``,
        ``missing``, ``incomplete`` or ``other parameters``), ``estimate_s`` (None when not
        measured).
    """
    from relight_lib.library.data import synvidit

    out = []
    for root, cfg in data_sets(prof).items():
        state = set_state(root, cfg)
        est = synvidit.estimate_render_seconds(cfg)
        out.append({"folder": root, "scene_seed": cfg.seed, "scenes": cfg.n_scenes,
                    "state": state, "estimate_s": est["seconds"] if est else None})
        if state == "complete":
            continue
        when = f", about {est['seconds'] / 60:.1f} min" if est else ""
        what = {"other parameters": "rendered with other parameters (an older generator?)",
                "incomplete": "incomplete (resumed)"}.get(state, state)
        verb = "would render it" if dry_run else ("rendering it again"
                                                  if state == "other parameters" else "rendering")
        log(f"{root}: {what}; {verb}: {cfg.n_scenes} scenes (scene seed {cfg.seed}, "
            f"{cfg.size} px, {len(cfg.conditions)} conditions{when})")
        if dry_run:
            continue
        synvidit.render_dataset(root, cfg, jobs=jobs or os.cpu_count() or 1, progress=progress,
                                force=True)
    return out


def set_state(root: str | Path, cfg: Any) -> str:
    """``complete`` (every scene in the manifest with the same parameters), ``missing``,
    ``incomplete`` or ``other parameters``, from ``manifest.json`` alone (no checksums: the
    render's own resume verifies the files)."""
    from relight_lib.library.data import layout, synvidit

    m = synvidit.load_manifest(Path(root))
    if m is None:
        return "missing"
    if m.get("params") != cfg.identity():
        return "other parameters"
    wanted = {layout.scene_name(i) for idx in cfg.splits().values() for i in idx}
    return "complete" if wanted <= set(m.get("scenes", {})) else "incomplete"


def data_roots(prof: Profile) -> list[str]:
    """Every data folder ``prof`` reads (each seed's, when drawn per seed), sorted."""
    if prof.scene_seed == "per_seed":
        return sorted({str(getattr(for_seed(prof, s), k)) for s in prof.seeds
                       for k in _ROOT_KINDS} - {"None"})
    return sorted({prof.track1_root, prof.any2any_root} - {None})


def data_manifest_sha256(prof: Profile) -> str | None:
    """sha256 over the manifest.json files of the profile's data (None for real VIDIT or when
    the data is not rendered): identifies the exact data copy a run used. Give it
    :func:`for_seed`'s profile for one seed's data."""
    import hashlib

    h = hashlib.sha256()
    found = False
    for root in data_roots(prof):
        m = Path(root) / "manifest.json"
        if m.exists():
            h.update(m.read_bytes())
            found = True
    return h.hexdigest() if found else None


def data_key(prof: Profile, root: str | None) -> dict[str, Any]:
    """What identifies the data folder ``root`` of one seed's profile in a training key: the
    folder, its manifest's sha256, how it was drawn and its scene seed (None for real VIDIT),
    so that a per-seed training is never reused for fixed data or another seed's scenes."""
    import hashlib

    cfg = preset_config(prof, root)
    m = Path(root) / "manifest.json" if root else None
    return {"root": root, "draw": prof.scene_seed,
            "scene_seed": cfg.seed if cfg is not None else None,
            "manifest_sha256": hashlib.sha256(m.read_bytes()).hexdigest()
            if m is not None and m.exists() else None}


def data_identity(prof: Profile) -> dict[str, Any]:
    """What identifies the profile's data without reading it: the SynVIDIT render parameters
    of every set it reads (the files are a deterministic function of them; per seed, each
    seed's), or the real-VIDIT folder paths."""
    if prof.render_preset is None:
        return {"track1_root": prof.track1_root, "any2any_root": prof.any2any_root}
    return {Path(root).name: cfg.identity() for root, cfg in data_sets(prof).items()}


def preset_split_counts(prof: Profile, root: str | None) -> dict[str, int] | None:
    """Scenes per split of the SynVIDIT folder ``root`` of ``prof``, known from the set's
    parameters without the data being rendered (plans use it); None for real VIDIT or a folder
    that is not one of the profile's."""
    cfg = preset_config(prof, root)
    return None if cfg is None else cfg.split_counts()


def seed_data_plan(prof: Profile, kind: str) -> list[dict[str, Any]]:
    """Per seed, the data a row of ``kind`` (``track1`` or ``any2any``) reads, for plans:
    ``seed``, ``folder``, ``draw`` (per_seed / fixed), ``scene_seed``, ``splits`` (scenes per
    split, None for real VIDIT), ``rendered`` (the state of the folder) and ``render_s`` (the
    estimated render time of the set when it is not complete; None when not measured)."""
    from relight_lib.library.data import synvidit

    field_ = {v: k for k, v in _ROOT_KINDS.items()}[kind]
    out = []
    for seed in prof.seeds:
        one = for_seed(prof, seed)
        root = getattr(one, field_)
        cfg = preset_config(one, root)
        state = set_state(root, cfg) if cfg is not None else (
            "given" if root and Path(root).exists() else "missing")
        est = synvidit.estimate_render_seconds(cfg) if cfg is not None else None
        out.append({"seed": seed, "folder": root, "draw": prof.scene_seed,
                    "scene_seed": cfg.seed if cfg is not None else None,
                    "splits": cfg.split_counts() if cfg is not None else None,
                    "rendered": state,
                    "render_s": est["seconds"] if est and state != "complete" else None})
    return out


def render_cost(prof: Profile) -> dict[str, Any]:
    """Estimated time to render the SynVIDIT data of ``prof`` (for the cost table and plans):
    ``per_seed_s`` (one seed's sets; the whole data when it is fixed), ``total_s`` (every set
    the profile reads), ``measured`` (which measurement of results/bench/synvidit_render.csv
    the estimate scales; None when a set's size was never measured, and then the times are
    None too)."""
    from relight_lib.library.data import synvidit

    sets = data_sets(prof)
    ests = {root: synvidit.estimate_render_seconds(cfg) for root, cfg in sets.items()}
    if not sets or any(e is None for e in ests.values()):
        return {"per_seed_s": None, "total_s": None, "measured": None}
    total = sum(e["seconds"] for e in ests.values())
    if prof.scene_seed == "per_seed":
        one = set(data_roots(for_seed(prof, prof.seeds[0])))
        per_seed = sum(e["seconds"] for r, e in ests.items() if r in one)
    else:
        per_seed = total
    return {"per_seed_s": per_seed, "total_s": total,
            "measured": "; ".join(dict.fromkeys(e["measured"] for e in ests.values()))}


def data_deviation(prof: Profile, kind: str = "track1", trained: bool = True) -> str | None:
    """The deviation sentence of a row's data at ``prof`` (None for real VIDIT, where the data
    is the paper's): SynVIDIT, how it is drawn, each seed's folder, its splits and which split
    the tables and (``trained`` rows) the learning curves read, from the profile's actual
    settings.

    >>> print(data_deviation(resolve("quick", seeds=[0])))  # doctest: +NORMALIZE_WHITESPACE
    Data: SynVIDIT, the suite's rendered stand-in for VIDIT, drawn per seed (seed k reads
    data/synvidit/quick-s<k>-track1, its own scenes: 300 training, 45 validation and 150 test
    scenes at 64 px); the tables are read on the test split and the learning curves on the
    validation split, where the paper reports on VIDIT's validation scenes (its test ground
    truth is private).
    """
    if prof.render_preset is None:
        return None
    field_ = {v: k for k, v in _ROOT_KINDS.items()}[kind]
    root = str(getattr(prof, field_))
    cfg = preset_config(prof, root)
    if prof.scene_seed == "per_seed":
        how = (f"drawn per seed (seed k reads {root.replace(SEED_FIELD, '<k>')}, its own "
               "scenes")
    else:
        how = f"one draw shared by every seed ({root}"
    if cfg is not None:
        c = cfg.split_counts()
        how += (f": {c['train']} training, {c['validation']} validation and {c['test']} test "
                f"scenes at {cfg.size} px")
    curves = f" and the learning curves on the {prof.val_split} split" if trained else ""
    return (f"Data: SynVIDIT, the suite's rendered stand-in for VIDIT, {how}); the tables are "
            f"read on the {prof.eval_split} split{curves}, where the paper reports on VIDIT's "
            "validation scenes (its test ground truth is private).")
