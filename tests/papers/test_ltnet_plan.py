"""``relight reproduce --dry-run --profile quick --paper ltnet``: every row's deviation sentences
agree with the settings the same plan prints for it (schedule, loss terms, post-process,
snapshots), so no row carries a sentence written for another one."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from relight_lib.papers.ltnet import recipe

ROOT = Path(__file__).resolve().parents[2]


def _blocks(text: str) -> dict[str, dict[str, list[str]]]:
    """The printed plans, row name -> section ('lr', 'loss', 'deviations', ...) -> lines."""
    rows: dict[str, dict[str, list[str]]] = {}
    current: dict[str, list[str]] | None = None
    section = ""
    for line in text.splitlines():
        head = re.match(r"^(ltnet/\S+)  \[quick\]  (.*)$", line)
        if head:
            current = None if "skipped at this profile" in head.group(2) else {}
            if current is not None:
                rows[head.group(1)] = current
            continue
        if current is None or not line.startswith("  "):
            continue
        label, rest = line[2:15].strip(), line[15:]
        section = label or section
        item = rest[2:] if rest.startswith("- ") else rest
        if section in current and not label and not rest.startswith("- ") and \
                section in ("deviations", "notes"):
            current[section][-1] += " " + item.strip()  # a wrapped line (none today)
        else:
            current.setdefault(section, []).append(item.strip())
    return rows


@pytest.fixture(scope="module")
def plans() -> dict[str, dict[str, list[str]]]:
    out = subprocess.run(
        [sys.executable, "-m", "relight_lib.cli", "reproduce", "--dry-run", "--profile", "quick",
         "--paper", "ltnet"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
    rows = _blocks(out.stdout)
    assert len(rows) >= 20, out.stdout[-2000:]
    return rows


def _mentions_lr(text: str) -> bool:
    return re.search(r"\bL_r\b", text) is not None


def test_every_quick_row_states_its_cosine_schedule_and_no_exponential_decay(plans):
    from relight_lib.harness import reproduce

    # the quick budget: the recipe's 1,600 steps, or the table's own (by_profile in runs.yaml)
    budget = {r.name: int(r.params_at("quick").get("steps") or 1600)
              for r in reproduce.load_rows(ROOT / "notebooks") if r.paper == "ltnet"}
    assert set(budget.values()) == {1600, 3200}  # Tables 2, 3 and 6 train twice as long
    for name, p in plans.items():
        devs = " ".join(p["deviations"])
        assert not any(d.startswith("Exponential") for d in p["deviations"]), name
        # the exponential decay is mentioned only as the paper's (the snapshots' sentence)
        assert all("paper's" in d for d in p["deviations"] if "xponential" in d), name
        assert "then a cosine decay to 1e-05" in devs, name
        if name.endswith("__x2"):  # a budget check: the row's steps, doubled, and said so
            steps = budget[name.removesuffix("__x2")]
            assert p["lr"][0].endswith(f"step {2 * steps - 1:,}: 1e-05"), name
            assert (f"Budget check: trained for 2 x the row's budget ({steps:,} -> "
                    f"{2 * steps:,} steps") in devs, name
        else:  # what the plan trains with
            assert p["lr"][0].endswith(f"step {budget[name] - 1:,}: 1e-05"), name


def test_every_quick_row_states_the_loss_it_trains(plans):
    for name, p in plans.items():
        terms = {t.split(" x ")[1].split("(")[0].split(" ")[0] for t in p["loss"]}
        lpips_missing = any("lpips term" in n and "left out" in n for n in p.get("notes", []))
        loss = [d for d in p["deviations"] if d.startswith("Loss")]
        assert len(loss) == 1, name
        devs = " ".join(p["deviations"])
        if "residual" not in terms:  # e.g. the L_C-alone rows: L_r is never mentioned
            assert not _mentions_lr(devs), name
        else:
            assert "L_r on the residual" in loss[0], name
        assert ("L_C" in loss[0]) == ("charbonnier" in terms), name
        optional_lpips = any("lpips [optional]" in t for t in p["loss"])
        if optional_lpips and lpips_missing:  # dropped here: said, and not trained
            assert "LPIPS on the output" not in loss[0].split(":")[1], name
            assert "LPIPS term is left out" in loss[0], name
        elif "lpips" in terms and not lpips_missing:
            assert "LPIPS on the output" in loss[0], name
    # the rows the issue names: L_C alone never says L_r or setting D
    for name in ("ltnet/table6/a_lc", "ltnet/table3/no_skip", "ltnet/table3/skip"):
        devs = " ".join(plans[name]["deviations"])
        assert not _mentions_lr(devs) and "setting D" not in devs, name
    assert "Loss as trained here: L_r on the residual." in \
        plans["ltnet/table3/skip_lr_no_lrc"]["deviations"]


def test_every_quick_row_states_its_dehazing_windows(plans):
    for name, p in plans.items():
        post = p["postprocess"][0].split(";")[0]
        dehazed = [d for d in p["deviations"] if d.startswith("Dehazed")]
        if post == "none":
            assert dehazed == [], name
            continue
        assert len(dehazed) == 1 and f"(post-process {post})" in dehazed[0], name
        windows = ("patch 15, guided filter 60 x 60 boxes" if post == "dehaze_1024px"
                   else "patch 3, guided filter 4 x 4 boxes")
        assert windows in dehazed[0], name
    assert plans["ltnet/table3/no_skip_dehaze_1024px"]["postprocess"] == ["dehaze_1024px"]


def test_the_ensemble_row_plans_the_computed_snapshot_steps(plans):
    p = plans["ltnet/table1/ltnet_small_ensemble"]
    train, total = recipe.ltnet_schedule("quick")
    steps = recipe.ltnet_snapshot_steps(train, total)
    assert f"ensemble of the weights at steps {steps}" in p["postprocess"][0]
    sentence = [d for d in p["deviations"] if d.startswith("Snapshot ensemble")]
    assert len(sentence) == 1 and ", ".join(map(str, steps)) + f" of {total}" in sentence[0]
