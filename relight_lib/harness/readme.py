"""The README's generated blocks: numbers that come from results, recipes and measurements.

The README types no result, budget or measured time (the prose check,
:mod:`relight_lib.harness.prose`, skips only these blocks). Each block sits between
``<!-- generated: NAME -->`` and ``<!-- end generated -->`` and is rewritten from its source by
:func:`refresh_readme`, which ``relight reproduce`` (after it refreshes ``_toc.yml``) and
``relight book`` call; a test fails when a committed block differs from what its source gives
now (:func:`stale_blocks`). Blocks this module does not know (another module's, e.g. a cost
table) are left as they are.

Blocks:

- ``numbers``: where the committed quick results stand: rows up to date or out of date
  (:func:`relight_lib.harness.reproduce.row_states`), seeds per row and the split they were read
  on (their ``run.json``), and the claims' verdicts per paper (``results/quick/claims.csv``);
- ``first-run``: a newcomer's first run (:func:`relight_lib.harness.exercises.newcomer_markdown`);
- ``presets``: the SynVIDIT presets' folders, scene counts per split, conditions and sizes
  (:mod:`relight_lib.library.data.synvidit`);
- ``render-speed``: the latest all-conditions render timings of
  ``results/bench/synvidit_render.csv`` per size.
"""

from __future__ import annotations

import csv
import json
import re
from collections import Counter
from collections.abc import Callable
from typing import Any
from pathlib import Path

from relight_lib.harness import reproduce

README = Path("README.md")
PROFILE = "quick"
_BLOCK = re.compile(r"(<!-- generated: ([\w-]+) -->\n)(.*?)(<!-- end generated -->)", re.S)

#: The verdicts of claims.csv, in the order the README counts them.
VERDICTS = ("supported", "contradicted", "smaller than reported", "inconclusive",
            "not testable here")
PAPER_NAMES = {"ltnet": "LTNet", "mbnet": "MBNet", "msrnet": "MSR-Net",
               "swapnet": "2DSceneRelighting", "baselines": "baselines"}


def _runs(results_root: Path) -> dict[str, list[dict]]:
    """Committed ``run.json`` files of the quick profile, per row name."""
    out: dict[str, list[dict]] = {}
    for f in sorted(Path(results_root, PROFILE).glob("*/*/*/seed=*/run.json")):
        try:
            rec = json.loads(f.read_text())
        except (OSError, json.JSONDecodeError):
            continue
        out.setdefault("/".join(f.parts[-5:-2]), []).append(rec)
    return out


def _range(values: list[int]) -> str:
    lo, hi = min(values), max(values)
    return f"{lo}" if lo == hi else f"{lo}-{hi}"


def numbers_block(results_root: Path = reproduce.RESULTS_DIR,
                  notebooks_dir: Path = reproduce.NOTEBOOKS_DIR) -> str:
    """Markdown: where the committed quick numbers stand (rows, seeds, split, verdicts)."""
    states = reproduce.row_states(PROFILE, notebooks_dir=notebooks_dir, results_root=results_root)
    kinds = Counter()
    for _, state in states:
        if state.startswith(("up to date", "trained in ")):  # a precision note is not stale
            kinds["up to date"] += 1
        elif state.startswith("skipped here"):
            kinds["not run at this profile"] += 1
        elif state.startswith("edited by hand"):
            kinds["edited by hand"] += 1
        else:
            kinds["out of date with the code"] += 1
    runs = _runs(results_root)
    seeds = {name: len({r.get("seed") for r in recs}) for name, recs in runs.items()}
    splits = Counter(str(recs[0].get("split")) for recs in runs.values())
    lines = [
        f"The committed `{PROFILE}` results, as `relight reproduce` and `relight book` last "
        "found them (they rewrite this block):",
        "",
        f"- **Rows**: {len(states)} at the {PROFILE} profile: "
        + ", ".join(f"{n} {k}" for k, n in sorted(kinds.items(), key=lambda kv: -kv[1]))
        + ". `relight reproduce --profile quick --list` says why, row by row; the book marks a "
        "row that is out of date with ⚠ in its paper's table, with the reason under it.",
    ]
    if seeds:
        per = Counter(seeds.values())
        lines.append(
            f"- **Seeds**: {len(seeds)} rows have results, with "
            + ", ".join(f"{n} seed{'s' if n != 1 else ''} for {c} row{'s' if c != 1 else ''}"
                        for n, c in sorted(per.items(), reverse=True))
            + "; they were read on the "
            + " and ".join(f"{s} split ({c} row{'s' if c != 1 else ''})"
                           for s, c in splits.most_common()) + ".")
    claims_csv = Path(results_root, PROFILE, "claims.csv")
    if claims_csv.exists():
        with claims_csv.open(newline="") as f:
            rows = list(csv.DictReader(f))
        lines += ["- **Claims** (`results/quick/claims.csv`, regenerated with the rows):", "",
                  "| paper | claims | " + " | ".join(VERDICTS) + " |",
                  "|---|---|" + "---|" * len(VERDICTS)]
        papers = sorted({r["paper"] for r in rows}, key=lambda p: list(PAPER_NAMES).index(p)
                        if p in PAPER_NAMES else len(PAPER_NAMES))
        for paper in papers + ["all"]:
            mine = rows if paper == "all" else [r for r in rows if r["paper"] == paper]
            c = Counter(r["verdict"] for r in mine)
            name = "**all**" if paper == "all" else PAPER_NAMES.get(paper, paper)
            lines.append(f"| {name} | {len(mine)} | " + " | ".join(str(c.get(v, 0))
                                                                 for v in VERDICTS) + " |")
    else:
        lines.append(f"- **Claims**: no `{claims_csv}` yet (`relight reproduce` writes it).")
    return "\n".join(lines) + "\n"


def first_run_block() -> str:
    from relight_lib.harness import exercises

    return exercises.newcomer_markdown()


def presets_block() -> str:
    """Markdown table of the SynVIDIT presets: folders, scenes per split, conditions, size."""
    from relight_lib.library.data import layout, synvidit

    def scenes(cfg) -> str:
        c = cfg.split_counts()
        return f"{cfg.n_scenes} ({' / '.join(str(c[s]) for s in layout.SPLITS)})"

    def conditions(cfg) -> str:
        n = len(cfg.conditions)
        return f"all {n}" if n == len(layout.parse_conditions("all")) else \
            f"{n}: {', '.join(cfg.conditions)}"

    lines = ["| preset | folder(s) under `data/synvidit/` | scenes (train / val / test) | "
             "conditions | size |", "|---|---|---|---|---|"]
    for preset in synvidit.PRESETS:
        first = True
        for kind, cfg in synvidit.PER_SEED.get(preset, {}).items():
            lines.append(f"| {'`' + preset + '`' if first else ''} | `{preset}-s<k>-{kind}`, "
                         f"one per seed | {scenes(cfg)} | {conditions(cfg)} | {cfg.size} px |")
            first = False
        for folder, cfg in synvidit.PRESETS[preset].items():
            draw = "fixed draw" if preset in synvidit.PER_SEED else "fixed"
            lines.append(f"| {'`' + preset + '`' if first else ''} | `{folder}` ({draw}) | "
                         f"{scenes(cfg)} | {conditions(cfg)} | {cfg.size} px |")
            first = False
    return "\n".join(lines) + "\n"


def render_speed_block(bench_csv: Path | None = None) -> str:
    """Markdown table: images per second of the latest all-40-conditions render per size."""
    from relight_lib.library.data import layout, synvidit

    path = Path(bench_csv or synvidit.RENDER_BENCH_CSV)
    if not path.exists():
        return f"*No render timings yet (`relight bench-render` writes `{path}`).*\n"
    n_all = len(layout.parse_conditions("all"))
    latest: dict[int, dict] = {}
    with path.open(newline="") as f:
        for r in csv.DictReader(f):
            if r.get("benchmark") == "synvidit_render" and \
                    int(r["images"]) == n_all * int(r["scenes"]):
                latest[int(r["size"])] = r
    lines = ["| size | spp | images/s | measured on |", "|---|---|---|---|"]
    for size, r in sorted(latest.items()):
        where = r.get("cpu_model") or r.get("host") or "?"
        lines.append(f"| {size} px | {r['spp']} | {float(r['images_per_second']):.3g} | "
                     f"{where}, {r.get('cpus', '?')} cores, {r.get('jobs', '?')} jobs, "
                     f"{str(r.get('date', '?'))[:10]} |")
    return "\n".join(lines) + "\n"


#: Block name -> the function that writes it.
BLOCKS: dict[str, Callable[[], str]] = {
    "numbers": numbers_block,
    "first-run": first_run_block,
    "presets": presets_block,
    "render-speed": render_speed_block,
    "costs": lambda: _costs().readme_text(),
}


def _costs():
    # imported when the block is written: the cost table plans every row (seconds)
    from relight_lib.harness import costs

    return costs


def render(text: str, blocks: dict[str, Callable[[], str]] | None = None) -> str:
    """``text`` with every known generated block rewritten (unknown ones kept)."""
    blocks = BLOCKS if blocks is None else blocks
    cache: dict[str, str] = {}

    def sub(m: re.Match) -> str:
        name = m.group(2)
        if name not in blocks:
            return m.group(0)
        if name not in cache:
            cache[name] = blocks[name]()
        return f"{m.group(1)}{cache[name]}{m.group(4)}"

    return _BLOCK.sub(sub, text)


def stale_blocks(path: Path = README) -> list[str]:
    """Names of the known blocks of ``path`` whose content differs from their source now."""
    text = Path(path).read_text()
    new = {m.group(2): m.group(3) for m in _BLOCK.finditer(render(text))}
    return [m.group(2) for m in _BLOCK.finditer(text)
            if m.group(2) in BLOCKS and new.get(m.group(2)) != m.group(3)]


def refresh_readme(path: Path = README) -> bool:
    """Rewrite the generated blocks of ``path`` (the README) from their sources; True when the
    file changed. A missing file is left alone (False)."""
    path = Path(path)
    if not path.exists():
        return False
    text = path.read_text()
    new = render(text)
    if new == text:
        return False
    path.write_text(new)
    return True


# --------------------------------------------------------------------------------------------
# the profiles table of the book's landing page

def _short_budgets() -> dict[str, dict[str, dict]]:
    """Each paper's own short-profile recipes (``*_SHORT_BUDGETS``), by paper name."""
    from relight_lib.papers import mbnet, msrnet
    from relight_lib.papers.ltnet import recipe

    return {"LTNet": recipe.LTNET_SHORT_BUDGETS, "MSR-Net": msrnet.MSRNET_SHORT_BUDGETS,
            "MBNet": mbnet.MBNET_SHORT_BUDGETS}


def profiles_table() -> "Any":
    """One row per profile (data, split, size, training budget, seeds, random backbone), from
    :data:`relight_lib.papers.profiles.PROFILES` and the papers' own short-profile recipes: a
    paper's recipe replaces the profile's step budget (and, for MBNet at quick, its seeds), so
    the budget column names each one. Returns a DataFrame indexed by profile."""
    import pandas as pd

    from relight_lib.papers import profiles

    def budget_of(b: dict) -> str:
        return (f"{b['steps']} steps" if b.get("steps") else
                f"{b['epochs']} epoch{'s' if b['epochs'] != 1 else ''}")

    rows = []
    for name, p in profiles.PROFILES.items():
        own = {paper: b[name] for paper, b in _short_budgets().items() if name in b}
        default = f"{p.train_steps} steps" if p.train_steps is not None else "the paper's"
        # the papers without a recipe of their own (the any-to-any report) train the profile's
        budget = default if not own else "; ".join(
            [f"{paper}: {budget_of(b)}" for paper, b in own.items()]
            + [f"the others: {default}"])
        seeds = f"{len(p.seeds)}" + "".join(f" ({paper}: {b['seeds']})" for paper, b in own.items()
                                            if b.get("seeds"))
        rows.append({
            "profile": name,
            "data set": (f"SynVIDIT '{p.render_preset}', "
                     + ("drawn per seed" if p.scene_seed == "per_seed" else "one fixed set")
                     if p.render_preset else "real VIDIT (data_root)"),
            "tables read on": p.eval_split,
            "size (px)": p.size,
            "training budget": budget,
            "seeds": seeds,
            "random backbone allowed": "yes" if p.allow_random_backbone else "no",
        })
    return pd.DataFrame(rows).set_index("profile")
