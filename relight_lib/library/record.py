"""Writing one evaluated run to disk, atomically and with its provenance.

One evaluated row of a paper table, at one profile and one seed, lives in::

    results/<profile>/<paper>/<table>/<variant>/seed=<k>/
        per_image.csv   image,metric,value        one row per image and metric (NaN allowed)
        metrics.csv     the tidy long schema       one row per metric, source=ours
        run.json        parameters and provenance  (git commit, versions, device, timings, ...)
        figures/        optional, saved by the runner after :func:`write_run`

The long schema (:data:`SCHEMA`), one row per number:

``paper, table, variant, label, profile, dataset, split, seed, metric, value, n_images, source,
where, note``

The paper runners (:mod:`relight_lib.papers`) write with :func:`write_run`; the harness
(:mod:`relight_lib.harness.results`) reads, compares and judges what was written.

    run = write_run(results_root, paper="ltnet", table="table2", variant="i_d_n", profile="quick",
                    seed=0, dataset="SynVIDIT", split="validation", per_image=df, params=params,
                    notes={"lpips": "AlexNet weights not available", "mps": "needs lpips"})
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import enum
import importlib.metadata
import json
import math
import os
import platform
import re
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Collection, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from relight_lib.library.data.imageio import atomic_write, sha256_file


__all__ = [
    "EDITED",
    "PER_IMAGE_COLUMNS",
    "READING_FILES",
    "SCHEMA",
    "changed_files",
    "edited_rows",
    "finished_run",
    "imported_library_files",
    "kept_seed",
    "precision_entry",
    "precision_here",
    "provenance",
    "relocate_paths",
    "run_dir",
    "run_precision",
    "save_figure",
    "seed_summary",
    "verify_run",
    "write_run",
]

#: Columns of ``metrics.csv`` and ``results/reported/<paper>.csv``, in this order.
SCHEMA: tuple[str, ...] = (
    "paper", "table", "variant", "label", "profile", "dataset", "split", "seed",
    "metric", "value", "n_images", "source", "where", "note",
)

#: Columns of ``per_image.csv``.
PER_IMAGE_COLUMNS: tuple[str, ...] = ("image", "metric", "value")





_SPLITS = frozenset({"train", "validation", "test"})
_COMPONENT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.+-]*$")
_SLUG = re.compile(r"^[a-z0-9][a-z0-9_]*$")
_TABLE = re.compile(r"^table[0-9]+$")
_STRING_COLUMNS = tuple(c for c in SCHEMA if c not in ("seed", "value", "n_images"))
#: The files that decide a run's numbers, for ``git_dirty`` (git pathspecs from the top of the
#: checkout): the library and paper layers (:data:`RUN_LAYERS`), the row notebooks and their
#: runs.yaml, and the package's pins. The suite's own outputs (``results/``, ``data/``,
#: ``_build/``, the generated ``_toc.yml``, executed notebooks) and what only reports on runs
#: (README, ``book/``, tests, the harness, claims.yaml, exercises.yaml) never make a run dirty:
#: they change while rows run, and committed rows recorded a dirty tree for files they never read.
DIRTY_SOURCES = ("relight_lib/library", "relight_lib/papers", "notebooks/**/*.ipynb",
                 "notebooks/**/runs.yaml", "pyproject.toml")
_VERSION_PACKAGES = (
    "torch", "torchvision", "numpy", "relight_lib", "mitsuba", "lpips", "pandas", "kornia",
)

# --------------------------------------------------------------------------------------------
# Paths
# --------------------------------------------------------------------------------------------


def _check_component(name: str, value: object) -> str:
    text = str(value)
    if not _COMPONENT.match(text):
        raise ValueError(
            f"{name}={value!r} cannot be a results path component: use letters, digits, '_', "
            "'-', '.' or '+', not starting with '.' or a separator"
        )
    return text


def _check_seed(seed: object) -> int:
    if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, (int, np.integer)):
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    if int(seed) < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    return int(seed)


def run_dir(
    results_root: str | os.PathLike[str],
    profile: str,
    paper: str,
    table: str,
    variant: str,
    seed: int,
) -> Path:
    """The directory of one run: ``<root>/<profile>/<paper>/<table>/<variant>/seed=<k>``.

    Args:
        results_root: the ``results/`` folder (or a temporary folder in tests and smoke runs).
        profile: ``smoke``, ``quick``, ``gpu`` or ``paper``.
        paper: paper key (``ltnet``, ``mbnet``, ``msrnet``, ``swapnet``).
        table: ``table1``, ``table2``, ...
        variant: the row's slug.
        seed: the training seed (non-negative integer).

    Returns:
        The path (not created).

    Raises:
        ValueError: a component that is not a safe single path component, or a bad seed.

    Example:
        >>> run_dir("results", "quick", "ltnet", "table2", "i_d_n", 0).as_posix()
        'results/quick/ltnet/table2/i_d_n/seed=0'
    """
    parts = [
        _check_component("profile", profile),
        _check_component("paper", paper),
        _check_component("table", table),
        _check_component("variant", variant),
        f"seed={_check_seed(seed)}",
    ]
    return Path(results_root).joinpath(*parts)


# --------------------------------------------------------------------------------------------
# Provenance
# --------------------------------------------------------------------------------------------


def _git(args: Sequence[str], cwd: Path) -> str | None:
    try:
        proc = subprocess.run(
            ["git", *args], cwd=cwd, capture_output=True, text=True, timeout=20, check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    if proc.returncode != 0:
        return None
    return proc.stdout


def dirty_source_files(repo_dir: str | os.PathLike[str]) -> list[str] | None:
    """The source files (:data:`DIRTY_SOURCES`) of the checkout holding ``repo_dir`` that differ
    from its commit: modified, staged, deleted or new and not ignored. ``None`` outside a git
    repository (or without git).

    Paths are relative to the checkout's top level, as ``git status --porcelain`` gives them.
    """
    top = _git(["rev-parse", "--show-toplevel"], Path(repo_dir))
    if top is None:
        return None
    # anchored at the top level ('**' matches any folders); a missing path matches nothing
    specs = [f":(top,glob){p}" for p in DIRTY_SOURCES]
    status = _git(["status", "--porcelain", "--untracked-files=all", "--", *specs],
                  Path(top.strip()))
    if status is None:
        return None
    return sorted(line[3:].strip() for line in status.splitlines() if line.strip())


def _git_state(repo_dir: Path) -> tuple[str | None, bool | None, list[str]]:
    top = _git(["rev-parse", "--show-toplevel"], repo_dir)
    if top is None:
        return None, None, []
    commit = _git(["rev-parse", "HEAD"], Path(top.strip()))
    files = dirty_source_files(top.strip())
    dirty = None if files is None else bool(files)
    return (commit.strip() if commit else None), dirty, (files or [])


def _versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for name in _VERSION_PACKAGES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
    return versions


def cpu_name() -> str | None:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or None


def _device() -> dict[str, Any]:
    info: dict[str, Any] = {"device": "cpu", "device_name": cpu_name()}
    try:
        import torch
    except ImportError:  # pragma: no cover - torch is a dependency
        return info
    info["cuda_version"] = torch.version.cuda
    try:
        if torch.cuda.is_available():
            info["device"] = "cuda"
            info["device_name"] = torch.cuda.get_device_name(torch.cuda.current_device())
            info["cuda_device_count"] = torch.cuda.device_count()
    except Exception:  # noqa: BLE001 - a broken driver must not stop a run from being recorded
        pass
    return info


#: Library files left out of :func:`imported_library_files`: the model registry is a name table
#: (``name -> "module:Class"``); a model's behaviour lives in its own file, which is recorded.
#: Without this, registering one paper's model would make every other paper's results stale.
#: Files that never make a run stale: the model registry (a literal dict of names) and the
#: layers' empty ``__init__`` files.
LIBRARY_FILES_IGNORED = ("library/models/__init__.py", "library/__init__.py",
                         "papers/__init__.py", "papers/ltnet/__init__.py",
                         "papers/swapnet/__init__.py", "library/data/__init__.py")

#: The layers whose files decide a run's numbers. The harness (runner, results, claims, book)
#: and the commands on top only report on a run: editing them never makes a row stale.
RUN_LAYERS = ("library/", "papers/")


def imported_library_files() -> dict[str, str]:
    """sha256 of every library and paper source file (:data:`RUN_LAYERS`) imported in this
    process.

    Keys are paths relative to the package folder (``'library/losses.py'``,
    ``'library/models/ltnet.py'``, ``'papers/mbnet.py'``). Recorded in ``run.json`` so that the
    runner reruns a row exactly when a file that the run actually used has changed
    (:mod:`relight_lib.harness.reproduce`), not on any edit of the package; called when the key
    of a training is made, the same set names the files the trained weights depend on.
    """
    import sys

    from relight_lib.library.data.imageio import sha256_file

    root = Path(__file__).resolve().parents[1]
    out: dict[str, str] = {}
    for mod in list(sys.modules.values()):
        f = getattr(mod, "__file__", None)
        if not f or not getattr(mod, "__name__", "").startswith("relight_lib"):
            continue
        p = Path(f).resolve()
        try:
            rel = p.relative_to(root).as_posix()
        except ValueError:  # a relight_lib imported from another checkout
            continue
        if (rel.endswith(".py") and rel.startswith(RUN_LAYERS)
                and rel not in LIBRARY_FILES_IGNORED):
            out[rel] = sha256_file(p)
    return dict(sorted(out.items()))


#: Library files that only *read* a finished run. The plateau test
#: (``library/convergence.py``) judges a stored learning curve, and the harness judges every
#: committed curve again with today's test whenever it makes a table or a claim
#: (:func:`relight_lib.harness.results.load_convergence`). Changing it changes no weight and no
#: number in ``metrics.csv``, so it makes no row out of date (it would otherwise make every
#: trained row stale at once: :func:`relight_lib.harness.reproduce.library_changes`), and a
#: rerun keeps the seeds it finished (:func:`finished_run`). What a run page prints, and the
#: title of its learning-curve figure, stay the verdict of the test the row ran with.
READING_FILES: tuple[str, ...] = ("library/convergence.py",)


def changed_files(recorded: Mapping[str, str], skip: Collection[str] = ()) -> list[str]:
    """The files of a run's recorded ``library_files`` (:func:`imported_library_files`: paths
    relative to the package folder, sha256) that changed or vanished since, sorted, leaving out
    ``skip``.

    >>> changed_files({"no/such/file.py": "0" * 64})
    ['no/such/file.py']
    >>> changed_files({"no/such/file.py": "0" * 64}, skip=("no/such/file.py",))
    []
    """
    import relight_lib

    root = Path(relight_lib.__file__).resolve().parent
    changed = []
    for rel, digest in sorted(recorded.items()):
        if rel in skip:
            continue
        p = root / rel
        if not p.is_file() or sha256_file(p) != digest:
            changed.append(rel)
    return changed


def provenance(repo_dir: str | os.PathLike[str] | None = None) -> dict[str, Any]:
    """Where and with what a result was produced.

    Args:
        repo_dir: a directory inside the git checkout to describe; by default the checkout that
            holds this package (falls back to the current directory when the package is installed
            outside a checkout).

    Returns:
        A JSON-safe dict with keys ``git_commit`` (``None`` outside a repository), ``git_dirty``
        (``True`` when a source file that decides a run's numbers, :data:`DIRTY_SOURCES`,
        differs from the commit; the suite's own outputs and the prose never count; ``None``
        outside a repository), ``git_dirty_files`` (the first 20 of them), ``versions`` (python and those of torch,
        torchvision, numpy, relight_lib, mitsuba, lpips, pandas that are installed), ``platform``,
        ``cpu_count``, ``device``, ``device_name``, ``cuda_version``, ``hostname`` and
        ``timestamp_utc`` (ISO 8601).
    """
    if repo_dir is None:
        commit, dirty, files = _git_state(Path(__file__).resolve().parent)
        if commit is None:
            commit, dirty, files = _git_state(Path.cwd())
    else:
        commit, dirty, files = _git_state(Path(repo_dir))
    info: dict[str, Any] = {
        "git_commit": commit,
        "git_dirty": dirty,
        "git_dirty_files": files[:20],
        "versions": _versions(),
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
    }
    info.update(_device())
    info["hostname"] = socket.gethostname()
    info["timestamp_utc"] = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
    return info


# --------------------------------------------------------------------------------------------
# Writing one run
# --------------------------------------------------------------------------------------------


def _json_safe(obj: Any) -> Any:
    """Convert numpy values, paths, sets, dataclasses, ... into JSON-safe values.

    NaN becomes ``None``; infinities become the strings ``"inf"`` / ``"-inf"``.

    Example:
        >>> _json_safe({"lr": np.float32(0.5), "size": (np.int64(64), 64), "x": float("nan")})
        {'lr': 0.5, 'size': [64, 64], 'x': None}
    """
    if obj is None or isinstance(obj, (bool, str)):
        return obj
    if isinstance(obj, np.generic):
        return _json_safe(obj.item())
    if isinstance(obj, int):
        return int(obj)
    if isinstance(obj, float):
        if math.isnan(obj):
            return None
        if math.isinf(obj):
            return "inf" if obj > 0 else "-inf"
        return float(obj)
    if isinstance(obj, os.PathLike):
        return os.fspath(obj)
    if isinstance(obj, np.ndarray):
        return _json_safe(obj.tolist())
    if isinstance(obj, enum.Enum):
        return _json_safe(obj.value)
    if isinstance(obj, (_dt.datetime, _dt.date)):
        return obj.isoformat()
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return _json_safe(dataclasses.asdict(obj))
    if isinstance(obj, Mapping):
        return {str(k): _json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (set, frozenset)):
        return sorted((_json_safe(v) for v in obj), key=repr)
    if isinstance(obj, (list, tuple)):
        return [_json_safe(v) for v in obj]
    if hasattr(obj, "tolist"):  # torch tensors and similar
        try:
            return _json_safe(obj.tolist())
        except Exception:  # noqa: BLE001
            pass
    return str(obj)


def _write_csv(df: pd.DataFrame, path: Path) -> None:
    df.to_csv(path, index=False, lineterminator="\n")


def _write_json(obj: Any, path: Path) -> None:
    with open(path, "w", encoding="utf-8") as f:
        json.dump(obj, f, indent=2, sort_keys=False, allow_nan=False)
        f.write("\n")


def _normalise_per_image(per_image: pd.DataFrame) -> pd.DataFrame:
    """Return per-image scores in long form ``image, metric, value`` (float values)."""
    if not isinstance(per_image, pd.DataFrame):
        raise TypeError(f"per_image must be a pandas DataFrame, got {type(per_image).__name__}")
    df = per_image
    if "image" not in df.columns:
        raise ValueError(f"per_image needs an 'image' column; it has {list(df.columns)}")
    if not {"metric", "value"} <= set(df.columns):
        # wide form: image plus one column per metric
        df = df.melt(id_vars=["image"], var_name="metric", value_name="value")
    df = df.loc[:, list(PER_IMAGE_COLUMNS)].copy()
    df["image"] = df["image"].astype(str)
    df["metric"] = df["metric"].astype(str)
    values = pd.to_numeric(df["value"], errors="coerce")
    bad = values.isna() & df["value"].notna()
    if bad.any():
        row = df.loc[bad].iloc[0]
        raise ValueError(
            f"per_image has a non-numeric value {row['value']!r} "
            f"(image {row['image']!r}, metric {row['metric']!r})"
        )
    df["value"] = values.astype("float64")
    dup = df.duplicated(["image", "metric"], keep=False)
    if dup.any():
        row = df.loc[dup].iloc[0]
        raise ValueError(
            f"per_image has several values for image {row['image']!r}, metric {row['metric']!r}"
        )
    return df.reset_index(drop=True)


def _summarise(
    per_image: pd.DataFrame, notes: Mapping[str, str]
) -> list[tuple[str, float, int, str]]:
    """(metric, mean over finite values, count used, note) for each metric."""
    rows = []
    metrics = list(dict.fromkeys(per_image["metric"]))
    metrics += [m for m in notes if m not in metrics]
    for metric in metrics:
        values = per_image.loc[per_image["metric"] == metric, "value"].to_numpy(dtype=float)
        finite = values[np.isfinite(values)]
        note_parts = []
        if finite.size == 0:
            value = float("nan")
            if metric not in notes:
                note_parts.append(
                    "no finite value for any image (no reason recorded)" if values.size
                    else "not computed (no reason recorded)"
                )
        else:
            value = float(finite.mean())
            if finite.size < values.size:
                note_parts.append(
                    f"{values.size - finite.size} of {values.size} images have no finite value; "
                    f"mean over the other {finite.size}"
                )
        if notes.get(metric):
            note_parts.insert(0, str(notes[metric]))
        rows.append((metric, value, int(finite.size), "; ".join(note_parts)))
    return rows


def write_run(
    results_root: str | os.PathLike[str],
    *,
    paper: str,
    table: str,
    variant: str,
    profile: str,
    seed: int,
    dataset: str,
    split: str,
    per_image: pd.DataFrame,
    params: dict,
    notes: dict[str, str] | None = None,
    label: str | None = None,
    weights: dict | None = None,
    deviations: list[str] | None = None,
    wall_time_s: float | None = None,
    peak_memory_mb: float | None = None,
    cache_key: str | None = None,
    data_manifest_sha256: str | None = None,
    extra: dict | None = None,
    precision: Mapping[str, str] | None = None,
) -> Path:
    """Write one run (``per_image.csv``, ``metrics.csv``, ``run.json``) atomically.

    Everything is written into a temporary sibling directory which is then renamed into place.
    An existing result is first renamed aside and deleted only after the swap, so a crash never
    leaves half a result and never destroys the previous one. Stale ``figures/`` of a previous
    run are replaced too: save figures into ``run_dir / "figures"`` after this call.

    Args:
        results_root: the ``results/`` folder (a temporary folder for smoke runs and tests).
        paper: paper key, e.g. ``"ltnet"``.
        table: ``"table2"`` etc.
        variant: the row's slug, as in ``results/reported/<paper>.csv``.
        profile: ``smoke``, ``quick``, ``gpu`` or ``paper``.
        seed: training seed.
        dataset: e.g. ``"SynVIDIT quick"`` or ``"VIDIT (NTIRE 2021 Track 1)"``.
        split: ``validation`` or ``test`` (or ``train``).
        per_image: per-image scores, long (``image, metric, value``) or wide (``image`` plus one
            column per metric). NaN marks a metric that could not be computed for an image.
        params: every parameter of the run (papermill parameters, resolved profile values).
        notes: metric -> reason, for metrics that are missing or partly missing (for example
            ``{"lpips": "AlexNet weights not available"}``). A metric named here but absent from
            ``per_image`` still gets a ``metrics.csv`` row (NaN, ``n_images`` 0).
        label: human-readable row label (defaults to ``variant``).
        weights: which pretrained weights were used (or that a random init stood in).
        deviations: departures from the paper's settings, one sentence each.
        wall_time_s: wall-clock seconds of the run.
        peak_memory_mb: peak memory in MiB.
        cache_key: the runner's key of the row (hash of notebook, parameters and data identity);
            ``run.json`` also records the sha256 of every library file the run imported
            (:func:`imported_library_files`), the other half of the runner's cache check.
        data_manifest_sha256: sha256 of the data manifest the run read.
        extra: anything else JSON-safe worth keeping.
        precision: for a row that trains, the precision asked for and the one actually used
            (:func:`precision_entry`); ``None`` for a row that trains nothing. ``relight
            reproduce --list`` compares it with what this machine would use.

    Returns:
        The run directory.

    Raises:
        ValueError: bad path components, seed, split, or per-image table.
    """
    final = run_dir(results_root, profile, paper, table, variant, seed)
    seed = _check_seed(seed)
    if split not in _SPLITS:
        raise ValueError(f"split must be one of {sorted(_SPLITS)}, got {split!r}")
    notes = {str(k): str(v) for k, v in (notes or {}).items()}
    long = _normalise_per_image(per_image)
    if long.empty and not notes:
        raise ValueError("per_image is empty and no notes explain the missing metrics")

    rel = final.relative_to(Path(results_root)).as_posix()
    summary = _summarise(long, notes)
    metrics = pd.DataFrame(
        [
            {
                "paper": paper, "table": table, "variant": variant,
                "label": label if label is not None else variant, "profile": profile,
                "dataset": dataset, "split": split, "seed": seed, "metric": metric,
                "value": value, "n_images": n, "source": "ours", "where": rel, "note": note,
            }
            for metric, value, n, note in summary
        ],
        columns=list(SCHEMA),
    )

    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.tmp-", dir=final.parent))
    try:
        _write_csv(long, tmp / "per_image.csv")
        _write_csv(metrics, tmp / "metrics.csv")
        record = {
            "schema_version": 1,
            "paper": paper, "table": table, "variant": variant,
            "label": label if label is not None else variant,
            "profile": profile, "seed": seed, "dataset": dataset, "split": split,
            "params": _json_safe(params),
            "metrics": {m: _json_safe(v) for m, v, _, _ in summary},
            "n_images": {m: n for m, _, n, _ in summary},
            "notes": notes,
            "weights": _json_safe(weights or {}),
            "deviations": [str(d) for d in (deviations or [])],
            "wall_time_s": _json_safe(wall_time_s),
            "peak_memory_mb": _json_safe(peak_memory_mb),
            "cache_key": cache_key,
            "library_files": imported_library_files(),
            "data_manifest_sha256": data_manifest_sha256,
            "precision": dict(precision) if precision else None,
            "provenance": provenance(),
            "extra": _json_safe(extra or {}),
            "files": ["metrics.csv", "per_image.csv", "run.json"],
            "sha256": {
                "metrics.csv": sha256_file(tmp / "metrics.csv"),
                "per_image.csv": sha256_file(tmp / "per_image.csv"),
            },
        }
        _write_json(record, tmp / "run.json")
        _swap_into_place(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return final


def _swap_into_place(tmp: Path, final: Path) -> None:
    """Rename ``tmp`` to ``final``; an existing ``final`` is moved aside and removed afterwards."""
    if not final.exists():
        os.replace(tmp, final)
        return
    aside = final.with_name(f".{final.name}.old-{uuid.uuid4().hex[:8]}")
    os.replace(final, aside)
    try:
        os.replace(tmp, final)
    except BaseException:
        os.replace(aside, final)
        raise
    shutil.rmtree(aside, ignore_errors=True)


# --------------------------------------------------------------------------------------------
# Checking a run on disk: its files against their recorded hashes, its precision
# --------------------------------------------------------------------------------------------

#: What ``relight reproduce --list``, the book and the claims say of a run whose files no
#: longer have the sha256 its ``run.json`` recorded.
EDITED = "edited by hand: rerun or restore"


def verify_run(path: str | os.PathLike[str]) -> str | None:
    """Check one run directory's files against the sha256 its ``run.json`` recorded.

    Args:
        path: a run directory (``.../<variant>/seed=<k>``).

    Returns:
        None when every hashed file (``metrics.csv``, ``per_image.csv``) still has its recorded
        hash, or when the run recorded none (nothing to check); otherwise one line starting with
        :data:`EDITED`, naming the seed and the file(s), e.g.
        ``'edited by hand: rerun or restore (seed=1: metrics.csv differs from the sha256 in
        its run.json)'``.
    """
    path = Path(path)
    try:
        rec = json.loads((path / "run.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return f"{EDITED} ({path.name}: run.json is missing or not valid JSON)"
    recorded = rec.get("sha256") if isinstance(rec, dict) else None
    if not isinstance(recorded, dict):
        return None
    changed, missing = [], []
    for name, digest in sorted(recorded.items()):
        f = path / name
        if not f.is_file():
            missing.append(name)
        elif sha256_file(f) != digest:
            changed.append(name)
    if not changed and not missing:
        return None
    parts = []
    if changed:
        parts.append(f"{' and '.join(changed)} "
                     f"differ{'s' if len(changed) == 1 else ''} from the sha256 in its run.json")
    if missing:
        parts.append(f"{' and '.join(missing)} {'is' if len(missing) == 1 else 'are'} missing")
    return f"{EDITED} ({path.name}: {'; '.join(parts)})"


def finished_run(
    results_root: str | os.PathLike[str],
    *,
    profile: str,
    paper: str,
    table: str,
    variant: str,
    seed: int,
    cache_key: str | None,
) -> pd.DataFrame | None:
    """The per-image scores of a seed that this row already finished, or None when it must run.

    A row's runner asks this before each seed: a rerun of an interrupted row (in this session,
    or in an earlier one whose training checkpoints are gone but whose finished seeds were kept
    in ``results/``) then trains only the seeds still missing. A seed counts as finished when
    its ``run.json`` records this ``cache_key`` (the same notebook, parameters and data), every
    library file it recorded still has its sha256 (:func:`imported_library_files`; the
    :data:`READING_FILES` aside, as for the runner's staleness), its
    ``metrics.csv`` and ``per_image.csv`` are as written (:func:`verify_run`), and, for a run
    that trained, the files the runner writes after :func:`write_run` are there
    (``history.csv`` and a non-empty ``figures/``: a run stopped between the two is redone).

    Args:
        results_root, profile, paper, table, variant, seed: where the run is
            (:func:`run_dir`).
        cache_key: the runner's key of the row; an empty or missing key never matches (a
            notebook run by hand, outside the runner, always runs every seed).

    Returns:
        ``per_image.csv`` in long form (``image, metric, value``), or None.
    """
    if not cache_key:
        return None
    d = run_dir(results_root, profile, paper, table, variant, seed)
    try:
        rec = json.loads((d / "run.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(rec, dict) or rec.get("cache_key") != cache_key:
        return None
    if verify_run(d) is not None:
        return None
    recorded = rec.get("library_files")
    if (not isinstance(recorded, dict) or not recorded
            or changed_files(recorded, skip=READING_FILES)):
        return None
    if (rec.get("extra") or {}).get("train_steps"):
        figures = d / "figures"
        if not (d / "history.csv").is_file() or not (
                figures.is_dir() and any(figures.iterdir())):
            return None
    try:
        return _normalise_per_image(pd.read_csv(d / "per_image.csv",
                                                dtype={"image": str, "metric": str}))
    except (OSError, ValueError):
        return None


def kept_seed(
    results_root: str | os.PathLike[str],
    *,
    profile: str,
    paper: str,
    runs: Sequence[tuple[str, str]],
    seed: int,
    cache_key: str | None,
) -> pd.DataFrame | None:
    """The summary (:func:`seed_summary`) of a seed that a row's runner may keep instead of
    running it again, saying so in one line; None when the seed must run.

    The seed is kept when every run it writes is finished (:func:`finished_run`): ``runs`` are
    the ``(table, variant)`` of those runs, the row's own run first (its scores are the summary),
    then the companion runs the same seed writes beside it (model A's subsets and predicter
    tables). The check stops at the first run that is missing.
    """
    if not runs:
        raise ValueError("kept_seed: no runs to look for")
    first = None
    for table, variant in runs:
        found = finished_run(results_root, profile=profile, paper=paper, table=table,
                             variant=variant, seed=seed, cache_key=cache_key)
        if found is None:
            return None
        first = found if first is None else first
    where = run_dir(results_root, profile, paper, runs[0][0], runs[0][1], seed)
    print(f"seed {seed}: finished by an earlier run of this row with the same notebook, "
          f"parameters, data and library files ({where.as_posix()}); not run again")
    return seed_summary(first, seed)


def seed_summary(per_image: pd.DataFrame, seed: int) -> pd.DataFrame:
    """What a row's runner returns for one seed: per metric of ``per_image`` (long form,
    ``image, metric, value``), the mean, sd and count of its finite values, and the seed.

    >>> seed_summary(pd.DataFrame({"image": ["a", "b"], "metric": "psnr",
    ...                            "value": [20.0, 22.0]}), 3).to_dict("records")
    [{'metric': 'psnr', 'mean': 21.0, 'std': 1.4142135623730951, 'count': 2, 'seed': 3}]
    """
    summ = per_image.groupby("metric")["value"].agg(["mean", "std", "count"]) \
        if len(per_image) else pd.DataFrame(columns=["mean", "std", "count"])
    summ["seed"] = seed
    return summ.reset_index()


#: The text files of a run that :func:`relocate_paths` may rewrite (figures are images).
_TEXT_FILES = ("run.json", "metrics.csv", "per_image.csv", "history.csv")


def relocate_paths(path: str | os.PathLike[str], replacements: Mapping[str, str]) -> list[str]:
    """Replace machine folders in the text of one run's files (``run.json``, ``metrics.csv``,
    ``per_image.csv``, ``history.csv``), e.g. ``{"/root/.cache": "~/.cache"}``, and record the
    new sha256 of the hashed files in ``run.json``, so that :func:`verify_run` still holds.

    Only text changes: every number of the CSVs and every value of ``run.json`` that is not a
    string must come out identical, or nothing is written. A run that does not verify first
    (edited by hand) is refused: rehashing it would launder the edit.

    Returns:
        The names of the files rewritten (empty when no replacement applied).

    Raises:
        ValueError: the run does not verify, or a replacement would change a number.
    """
    import io

    path = Path(path)
    why = verify_run(path)
    if why is not None:
        raise ValueError(f"{path}: {why}; not rewriting it")

    def sub(text: str) -> str:
        for old, new in replacements.items():
            text = text.replace(old, new)
        return text

    def strings(obj: Any) -> Any:
        if isinstance(obj, str):
            return sub(obj)
        if isinstance(obj, dict):
            return {sub(k): strings(v) for k, v in obj.items()}
        if isinstance(obj, list):
            return [strings(v) for v in obj]
        return obj

    new_text: dict[str, str] = {}
    for name in _TEXT_FILES:
        f = path / name
        if not f.is_file():
            continue
        old = f.read_text(encoding="utf-8")
        if name == "run.json":
            text = json.dumps(strings(json.loads(old)), indent=2, allow_nan=False) + "\n"
        else:
            text = sub(old)
            before, after = pd.read_csv(io.StringIO(old)), pd.read_csv(io.StringIO(text))
            numeric = before.select_dtypes(include="number").columns
            if list(before.columns) != list(after.columns) or not before[numeric].equals(
                    after[numeric]):
                raise ValueError(f"{f}: the replacements would change its numbers")
        if text != old:
            new_text[name] = text
    if not new_text:
        return []
    for name, text in new_text.items():
        if name != "run.json":
            with atomic_write(path / name) as tmp:
                tmp.write_text(text, encoding="utf-8")
    rec = json.loads(new_text.get("run.json") or (path / "run.json").read_text(encoding="utf-8"))
    if isinstance(rec.get("sha256"), dict):
        for name in rec["sha256"]:
            rec["sha256"][name] = sha256_file(path / name)
    with atomic_write(path / "run.json") as tmp:
        _write_json(rec, tmp)
    return sorted(set(new_text) | {"run.json"})


def save_figure(fig: Any, path: str | os.PathLike[str], dpi: int = 80,
                colours: int | None = 256) -> Path:
    """Save a matplotlib figure as a compact PNG, close it and return the path.

    The figure is rendered at ``dpi`` (80: a 6-inch figure is 480 px, about what it gets of the
    book's text column), reduced to a palette of ``colours`` (256 by default, dithered: plots
    lose nothing visible, photographs little; None keeps full RGB) and written with the PNG
    optimiser. A run's figures are stored once, here; the run page shows them from this file.
    """
    import io

    import matplotlib.pyplot as plt
    from PIL import Image

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    plt.close(fig)
    buf.seek(0)
    img = Image.open(buf).convert("RGB")
    if colours is not None:
        img = img.quantize(colors=colours, method=Image.Quantize.MEDIANCUT,
                           dither=Image.Dither.FLOYDSTEINBERG)
    with atomic_write(path, suffix=".png") as tmp:
        img.save(tmp, format="PNG", optimize=True)
    return Path(path)


def edited_rows(run_dirs: Sequence[str | os.PathLike[str]]) -> dict[Path, str]:
    """The rows (variant directories) with at least one edited run among ``run_dirs``.

    A row is judged as a whole: one seed edited by hand makes every seed of the row untrusted
    for tables and claims (a claim would otherwise silently lose its pairing on that seed).

    Returns:
        ``{variant directory: reason}``, the reason of the first edited seed (:func:`verify_run`).
    """
    out: dict[Path, str] = {}
    for d in run_dirs:
        d = Path(d)
        if d.parent in out:
            continue
        why = verify_run(d)
        if why is not None:
            out[d.parent] = why
    return out


def precision_entry(requested_amp: bool, used_amp: bool) -> dict[str, str]:
    """The ``precision`` record of a trained row: what was asked for (the profile's or row's
    ``amp``) and what was used (bf16 autocast only where it runs natively,
    :func:`relight_lib.library.utils.bf16_native`).

    >>> precision_entry(True, False)
    {'requested': 'bf16', 'used': 'fp32'}
    """
    return {"requested": "bf16" if requested_amp else "fp32",
            "used": "bf16" if used_amp and requested_amp else "fp32"}


#: Sentences a run's deviations carried for bf16 training before run.json recorded its precision.
_BF16_DEVIATIONS = ("Trained under bf16 autocast", "Training under bf16 autocast")


def run_precision(rec: Mapping[str, Any]) -> dict[str, str] | None:
    """The precision a recorded run trained in (``{"requested": ..., "used": ...}``), or None
    for a run that trained nothing.

    Runs written before ``run.json`` had a ``precision`` record are read from what they did
    record: the one-to-one runner's ``params.train.amp`` (the value actually used), or, for the
    any-to-any runner, a ``training_key`` with the bf16 deviation sentence; a row that trained
    no step (``extra.train_steps == 0``: "not run here") has none. For those, bf16 used
    means bf16 requested; fp32 used is taken as fp32 requested (the request was not recorded).
    """
    entry = rec.get("precision")
    if isinstance(entry, Mapping) and entry.get("used") in ("bf16", "fp32"):
        return {"requested": str(entry.get("requested") or entry["used"]),
                "used": str(entry["used"])}
    train = (rec.get("params") or {}).get("train")
    extra = rec.get("extra") or {}
    if "precision" in rec or extra.get("train_steps") == 0:
        return None  # recorded as none, or a row "not run here" (no step was trained)
    if isinstance(train, Mapping) and "amp" in train:
        used = bool(train["amp"])
    elif extra.get("training_key"):
        used = any(str(d).startswith(_BF16_DEVIATIONS) for d in rec.get("deviations") or ())
    else:
        return None
    return precision_entry(used, used)


def precision_here(entry: Mapping[str, str], device: str = "auto") -> str:
    """The precision this machine would train a run in: the run's requested precision, with
    bf16 only where it runs natively on ``device`` (``'auto'``: CUDA when available, else the
    CPU), as the runners decide (:func:`relight_lib.library.utils.bf16_native`)."""
    if entry.get("requested") != "bf16":
        return "fp32"
    import torch

    from relight_lib.library import utils

    if device in ("auto", None) or (device == "cuda" and not torch.cuda.is_available()):
        device = "cuda" if torch.cuda.is_available() else "cpu"
    return "bf16" if utils.bf16_native(device) else "fp32"
