"""Any-to-any rows (2DSceneRelighting): every row's deviation sentences agree with its plan
(schedule, loss terms, sizes, steps, model A's temperature head) at the quick and paper
profiles, planned without rendering anything (the quick preset is planned from its
parameters; a tiny SynVIDIT render stands in for real VIDIT at the paper profile)."""

import re
from pathlib import Path

import pytest
import yaml

from relight_lib.papers.swapnet import any2any
from relight_lib.papers.swapnet.objective import resolve_temperature_head

REPO = Path(__file__).resolve().parents[2]
RUNS = REPO / "notebooks" / "swapnet" / "runs.yaml"


def schedule_kind(points):
    """The lr curve of a plan's ``lr_schedule`` points ('none' for a row without training)."""
    lrs = [lr for _, lr in points]
    if not lrs:
        return "none"
    if len(lrs) == 1:
        return "constant"
    return "warmup_cosine" if lrs[0] < max(lrs) else "decay"


def check_against_plan(plan, devs, profile):
    """What the deviation sentences of an any-to-any row must agree with in its plan."""
    text = " ".join(devs)
    kind = schedule_kind(plan["lr_schedule"])
    assert ("cosine" in text) == (kind == "warmup_cosine"), (kind, devs)
    if profile == "paper":
        assert kind in ("constant", "none")  # the code's constant Adam rate
    for steps, batch in re.findall(r"([\d,]+) steps of batch (\d+)", text):
        assert (int(steps.replace(",", "")), int(batch)) == (plan["steps"], plan["batch_size"])
    for size in re.findall(r"Images at (\d+) px", text):
        assert int(size) == plan["image_size"]
    model = plan["model"]
    assert ("weighted pooling" in text) == (model in ("swapnet_envmap", "swapnet_envmap_scene")
                                            and plan["image_size"] != 256)
    assert ("predicter reads" in text) <= (model == "swapnet_illum")
    # loss terms actually trained
    loss = " ".join(plan["loss"])
    assert ("LPIPS reconstruction term" in text) == ("x lpips" in loss)
    assert ("RGB envmaps" in text) == ("RGB envmap of" in loss)
    assert ("PatchGAN" in text) == ("lsgan_discriminator" in loss)
    # model A's temperature head: the plan's loss line and the deviation say the same
    if model == "swapnet_illum":
        normalised = "normalised head" in loss
        assert normalised != ("kelvin head" in loss)
        assert ("normalised temperature" in text) == normalised
        assert normalised == (profile != "paper")  # the default: raw kelvin at the paper
    else:
        assert "normalised temperature" not in text and "head" not in loss


def _plans(profile, root):
    from relight_lib.harness import reproduce

    plans, failures = reproduce.plan_rows(profile, paper="swapnet", data_root=root,
                                          log=lambda *a: None)
    assert failures == {}
    return plans


@pytest.mark.parametrize("profile", ["quick", "paper"])
def test_every_rows_deviations_match_its_plan(profile, request, monkeypatch):
    monkeypatch.chdir(REPO)  # the presets and notebooks are relative to the repository
    root = str(request.getfixturevalue("tiny_vidit")) if profile == "paper" else None
    plans = _plans(profile, root)
    runs = yaml.safe_load(RUNS.read_text())["tables"]
    want = {f"swapnet/{t}/{v}" for t, spec in runs.items() for v, p in spec["variants"].items()
            if profile in p.get("only_profiles", [profile])}
    checks = {n for n in plans if n.endswith("__x2")}  # budget checks: one per table at quick
    assert set(plans) - checks == want
    assert len(checks) == (len(runs) if profile == "quick" else 0)
    for plan in plans.values():
        check_against_plan(plan, plan["deviations"], profile)


def test_temperature_head_option(monkeypatch):
    monkeypatch.chdir(REPO)
    common = dict(paper="swapnet", table="table1", variant="a", profile="quick",
                  model="swapnet_illum", loss_setting="A", extra_tables=False, dry_run=True)
    kelvin = any2any.run_any_to_any(temperature_head="kelvin", **common)
    default = any2any.run_any_to_any(**common)
    assert not any("normalised" in d for d in kelvin["deviations"])
    assert any("temperature_head='normalised'" in d for d in default["deviations"])
    assert "kelvin head" in " ".join(kelvin["loss"])
    with pytest.raises(ValueError, match="temperature_head"):
        any2any.run_any_to_any(temperature_head="celsius", **common)
    assert resolve_temperature_head(None, paper_budget=True) == "kelvin"


def test_the_check_catches_a_contradiction():
    """A cosine sentence on the paper's constant rate, or a weighted-pooling sentence on model
    A, must be rejected."""
    plan = {"lr_schedule": [[0, 1e-3]], "steps": 60_000, "batch_size": 8, "image_size": 256,
            "model": "swapnet_illum", "loss": ["1.0 x mse", "L_c ... kelvin head: ..."]}
    check_against_plan(plan, ["Training budget: 60,000 steps of batch 8"], "paper")
    with pytest.raises(AssertionError):
        check_against_plan(plan, ["then a cosine decay to 1% of it"], "paper")
    with pytest.raises(AssertionError):
        check_against_plan(plan, ["so the weighted pooling sums over fewer positions"], "paper")
