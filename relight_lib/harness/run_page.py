"""What a run page shows, and how the runner cleans it.

A run page is the executed notebook of one table row,
``results/<profile>/executed/<paper>/<table>__<variant>.ipynb``, rendered by the book as it is.
The thin notebooks (``notebooks/<paper>/<table>.ipynb``) call this module so that every page

* prints nothing to stderr: the weights messages and :class:`RandomInitWarning` of a run go to
  its ``run.json`` (the weights' ``reason``, the metrics' ``notes``), so :func:`quiet` collects
  them instead of printing them; what else reaches stderr is dropped by :func:`sanitise_notebook`
  after papermill (the runner says how many lines it dropped);
* names no folder of the machine that built it (:func:`sanitise_notebook`);
* shows its metrics as one formatted table (:func:`metrics_table`): one row per metric that has
  a value, one column per seed, a fixed number of digits per metric, and a line naming the
  metrics that were not computed instead of rows of NaN;
* shows each figure once, from its PNG under ``seed=<k>/figures/`` (linked relative to the page,
  never embedded: the file is the only copy in the repository), with its caption under it
  (:func:`show_figures`).

Nothing here imports a library module at import time: the notebooks import this module before
they train, and the library files a run imports are part of its record
(:func:`relight_lib.library.record.imported_library_files`).
"""

from __future__ import annotations

import json
import logging
import math
import os
import re
import warnings
from pathlib import Path
from typing import Any

__all__ = ["CAPTIONS", "DIGITS", "collected", "figure_markdown", "metrics_table", "quiet",
           "machine_paths", "row_dir", "sanitise_notebook", "show_figures", "show_metrics",
           "stage_table", "timing_table"]

#: Warning classes (by name) whose content every run records in run.json: never printed.
RECORDED_WARNINGS = ("RandomInitWarning",)
#: Decimal places per metric on a run page (others: :data:`DEFAULT_DIGITS`).
DIGITS = {"psnr": 2, "ssim": 4, "lpips": 4, "mps": 4, "score_l2": 3, "mse": 5,
          "runtime_s": 4}
DEFAULT_DIGITS = 4
#: The caption under each figure a row writes (``figures/<name>.png``), after "Seed k: ".
CAPTIONS = {
    "loss": "training loss and, where the row validates, validation PSNR against the step.",
    "examples": "input, prediction and target for the first evaluation images.",
    "latents": "distribution of the latent distances between the two images of a pair.",
    "envmaps": "predicted and ground-truth environment maps of the guide images.",
}

_collected: list[str] = []


class _Collect(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        _collected.append(record.getMessage())


#: Set (to "1") in the environment of the runner's kernel (``reproduce.ensure_kernel``).
RUN_PAGE_ENV = "RELIGHT_RUN_PAGE"


def quiet() -> None:
    """In a run under the runner (``$RELIGHT_RUN_PAGE`` is ``1``), collect instead of printing
    what the run records in its ``run.json`` anyway: the ``relight_lib`` loggers (the weights
    download attempt and its failure) and the warnings named in :data:`RECORDED_WARNINGS`.
    Other warnings still print. Elsewhere (a notebook opened by hand, ``relight reproduce
    --plan``, which runs the notebook's cells in its own process) nothing changes. Idempotent."""
    if os.environ.get(RUN_PAGE_ENV) != "1":
        return
    log = logging.getLogger("relight_lib")
    if not any(isinstance(h, _Collect) for h in log.handlers):
        log.addHandler(_Collect())
        log.propagate = False
    show = warnings.showwarning
    if getattr(show, "_relight_quiet", False):
        return

    def showwarning(message, category, filename, lineno, file=None, line=None):
        if category.__name__ in RECORDED_WARNINGS:
            _collected.append(f"{category.__name__}: {message}")
        else:
            show(message, category, filename, lineno, file, line)

    showwarning._relight_quiet = True  # type: ignore[attr-defined]
    warnings.showwarning = showwarning


def collected() -> list[str]:
    """What :func:`quiet` kept from the output of this process, oldest first."""
    return list(_collected)


def row_dir(results_root: str | os.PathLike[str], profile: str, paper: str, table: str,
            variant: str) -> Path:
    """The row's results folder, ``<results_root>/<profile>/<paper>/<table>/<variant>``."""
    return Path(results_root, profile, paper, table, variant)


def _seeds(row: Path, pattern: str) -> list[tuple[int, Path]]:
    """``(seed, file)`` for each file matching ``seed=<k>/<pattern>`` under ``row``, by seed."""
    found = []
    for f in Path(row).glob(f"seed=*/{pattern}"):
        m = re.fullmatch(r"seed=(\d+)", f.relative_to(row).parts[0])
        if m:
            found.append((int(m[1]), f))
    return sorted(found)


def _one_line(note: str, limit: int = 320) -> str:
    """A note on one line (its line breaks and list marks folded), cut at ``limit`` characters."""
    text = " ".join(note.replace("\n  - ", " ").split())
    return text if len(text) <= limit else text[:limit].rsplit(" ", 1)[0] + " …"


def _fmt(value: float, digits: int) -> str:
    return "–" if value is None or not math.isfinite(value) else f"{value:.{digits}f}"


def metrics_table(row: str | os.PathLike[str]):
    """The row's metrics as a table of strings: one row per metric with a value in some seed,
    columns ``images`` (evaluated images with a finite value), ``seed k`` (the seed's mean) and,
    with several seeds, ``mean ± sd`` over the seeds. Metrics without a value in any seed are
    left out and named in the returned object's ``attrs["not computed"]`` with their note on
    one line (shown under the table by :func:`show_metrics`). Digits: :data:`DIGITS`.

    Returns:
        A pandas DataFrame indexed by metric (empty when the row wrote nothing).
    """
    import pandas as pd

    frames = [pd.read_csv(f) for _, f in _seeds(Path(row), "metrics.csv")]
    if not frames:
        return pd.DataFrame()
    m = pd.concat(frames, ignore_index=True)
    m["seed"] = m["seed"].astype(int)
    table, missing = {}, {}
    for metric, g in m.groupby("metric", sort=False):
        vals = g.set_index("seed")["value"].astype(float)
        finite = vals[vals.apply(math.isfinite)]
        if finite.empty:
            notes = [str(n) for n in g["note"] if isinstance(n, str) and n.strip()]
            missing[metric] = _one_line(notes[0]) if notes else "no value recorded"
            continue
        d = DIGITS.get(metric, DEFAULT_DIGITS)
        r = {"images": "/".join(sorted({str(int(n)) for n in g["n_images"] if n == n}))}
        r.update({f"seed {s}": _fmt(v, d) for s, v in vals.sort_index().items()})
        if len(vals) > 1:
            sd = finite.std(ddof=1) if len(finite) > 1 else float("nan")
            r["mean ± sd"] = _fmt(finite.mean(), d) + (f" ± {_fmt(sd, d)}" if sd == sd else "")
        table[metric] = r
    out = pd.DataFrame.from_dict(table, orient="index")
    out.index.name = "metric"
    out.attrs["not computed"] = missing
    return out


def show_metrics(row: str | os.PathLike[str]) -> None:
    """Display :func:`metrics_table` and, under it, one line per metric not computed."""
    from IPython.display import Markdown, display

    t = metrics_table(row)
    missing = t.attrs.get("not computed") or {}
    if t.empty:
        # an empty table is a header with no rows: say it in words instead
        display(Markdown("*No metrics were written for this row.*" if not missing else
                         "*No metric could be computed for this row:*"))
    else:
        display(t)
    if missing:
        display(Markdown("\n".join(f"- **{k}** not computed: {why}" for k, why in missing.items())))


def figure_markdown(png: Path, page_dir: Path, seed: int) -> str:
    """Markdown of one figure with its caption under it: the image linked relative to the page's
    folder (the book copies it next to the page), then ``Seed k: <caption>``."""
    link = Path(os.path.relpath(Path(png).resolve(), Path(page_dir).resolve())).as_posix()
    caption = CAPTIONS.get(png.stem, png.stem.replace("_", " ") + ".")
    return f"![seed {seed}: {png.stem}]({link})\n\n*Seed {seed}: {caption}*"


def show_figures(results_root: str | os.PathLike[str], profile: str, paper: str, table: str,
                 variant: str) -> None:
    """Display every figure of the row, seed by seed, each with its caption under it, linked
    from the executed notebook's folder (``<results_root>/<profile>/executed/<paper>``)."""
    from IPython.display import Markdown, display

    page_dir = Path(results_root, profile, "executed", paper)
    order = list(CAPTIONS)
    row = row_dir(results_root, profile, paper, table, variant)
    pngs = _seeds(row, "figures/*.png")
    if not pngs:
        display(Markdown("*This row wrote no figures.*"))
    key = lambda sp: (sp[0], order.index(sp[1].stem) if sp[1].stem in order else len(order),
                      sp[1].stem)
    for seed, png in sorted(pngs, key=key):
        display(Markdown(figure_markdown(png, page_dir, seed)))


def timing_table(row: str | os.PathLike[str]):
    """Per seed, the run-time record of ``run.json`` (``extra.timing``), seconds to 4 significant
    digits."""
    import pandas as pd

    rows = []
    for seed, f in _seeds(Path(row), "run.json"):
        timing = json.loads(f.read_text()).get("extra", {}).get("timing", {})
        rows.append({"seed": seed, **{k: (f"{v:.4g}" if isinstance(v, float) else v)
                                      for k, v in timing.items()}})
    return pd.DataFrame(rows).set_index("seed") if rows else pd.DataFrame()


def stage_table(row: str | os.PathLike[str]):
    """Per seed and training stage (``history.csv``'s ``stage`` column): steps, first and last
    training loss (4 significant digits). None (nothing shown) for one-stage rows."""
    import pandas as pd

    parts = []
    for seed, f in _seeds(Path(row), "history.csv"):
        h = pd.read_csv(f)
        if "stage" not in h.columns:
            continue
        g = h.groupby("stage", sort=False)["loss"].agg(["count", "first", "last"])
        g = g.rename(columns={"count": "steps", "first": "first loss", "last": "last loss"})
        for c in ("first loss", "last loss"):
            g[c] = g[c].map(lambda v: f"{v:.4g}")
        g.insert(0, "seed", seed)
        parts.append(g.reset_index())
    return pd.concat(parts, ignore_index=True).set_index(["seed", "stage"]) if parts else None


# ---------------------------------------------------------------------------------------------
# After papermill: no stderr, no machine folders
# ---------------------------------------------------------------------------------------------

def machine_paths(repo_root: str | os.PathLike[str] | None = None) -> dict[str, str]:
    """The replacements that make text name no folder of this machine: the repository root
    (``repo_root``, default the working directory) becomes a relative path, the home folder
    ``~``; both as given and resolved, longest first (a checkout inside the home folder becomes
    relative, not ``~/...``)."""
    root, home = Path(repo_root or Path.cwd()), Path.home()
    pairs = {}
    for p in {root, root.resolve()}:
        pairs[f"{p}/"] = ""
    for p in {home, home.resolve()}:
        pairs.setdefault(f"{p}/", "~/")
    return dict(sorted(pairs.items(), key=lambda kv: -len(kv[0])))


def _replace(obj: Any, pairs: dict[str, str]) -> Any:
    if isinstance(obj, str):
        for old, new in pairs.items():
            obj = obj.replace(old, new)
        return obj
    if isinstance(obj, list):
        return [_replace(v, pairs) for v in obj]
    if isinstance(obj, dict):
        return {k: _replace(v, pairs) for k, v in obj.items()}
    return obj


def sanitise_notebook(path: str | os.PathLike[str],
                      repo_root: str | os.PathLike[str] | None = None,
                      pairs: dict[str, str] | None = None) -> list[str]:
    """Rewrite an executed notebook for the book: stderr outputs removed, the repository root
    and the home folder replaced in every output and in the metadata (:func:`machine_paths`, or
    the given ``pairs`` of old and new text).

    Returns:
        The stderr lines removed (the runner reports how many, so nothing vanishes unseen).
    """
    path = Path(path)
    nb = json.loads(path.read_text(encoding="utf-8"))
    pairs = machine_paths(repo_root) if pairs is None else pairs
    dropped: list[str] = []
    for cell in nb.get("cells", []):
        kept = []
        for out in cell.get("outputs", []):
            if out.get("output_type") == "stream" and out.get("name") == "stderr":
                text = out.get("text", "")
                dropped += _replace("".join(text) if isinstance(text, list) else text,
                                    pairs).splitlines()
                continue
            kept.append(_replace(out, pairs))
        if "outputs" in cell:
            cell["outputs"] = kept
    nb["metadata"] = _replace(nb.get("metadata", {}), pairs)
    path.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return [line for line in dropped if line.strip()]
