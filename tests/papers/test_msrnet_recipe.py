"""MSR-Net's recipe (relight_lib/papers/msrnet.py): the rows of Tables 1-2 as run_one_to_one
arguments, their loss terms (papers.md 5.5-5.6) and values, stages and lr curve (5.7), and the
link between notebooks/msrnet/runs.yaml, the recipe and results/reported/msrnet.csv."""

import inspect
import re
from pathlib import Path

import pytest
import torch
import yaml

from relight_lib.papers import onetoone, msrnet
from relight_lib.library.losses import PERCEPTUAL_PRESETS
from relight_lib.papers.msrnet import msrnet_row

RUNS = Path(__file__).resolve().parents[2] / "notebooks" / "msrnet" / "runs.yaml"


def _terms(terms):
    return [(t["name"], t["weight"]) for t in terms]


def test_default_row_is_the_submitted_model_two_stages():
    row = msrnet_row()
    assert row["model"] == "stacked_dmshn" and row["loss"] is None
    assert row["train"] == {"lr": 2e-3, "final_lr": 5e-5, "schedule": "exponential",
                            "betas": (0.9, 0.999)}
    assert row["train_scale"] == 0.5 and row["augment"] is None
    s1, s2 = row["stages"]
    assert (s1["name"], s1["fraction"], s2["fraction"]) == ("stage1_l2", 0.5, 0.5)
    assert s1["loss"] == [{"name": "mse", "weight": 1.0}]
    # L_CL: 1 L1 - 5e-3 SSIM + 0.006 perceptual + 2e-8 TV
    assert _terms(s2["loss"]) == [("l1", 1.0), ("ssim", 5e-3), ("perceptual", 0.006),
                                  ("tv", 2e-8)]
    ssim = s2["loss"][1]
    assert ssim["kwargs"] == {"form": "negative"}
    assert s2["loss"][2]["kwargs"] == PERCEPTUAL_PRESETS["msrnet"]
    assert s2["loss"][3]["on"] == "prediction"  # TV regularises the output alone
    assert any("50% / 50%" in d for d in row["deviations"])
    assert row["label"] == "Stacked DMSHN, Combined Loss (L_CL)"


@pytest.mark.parametrize("loss, terms", [
    ("mse", [{"name": "mse", "weight": 1.0}]),
    ("csl", [{"name": "combined_sobel", "weight": 1.0,
              "kwargs": {"sobel_weight": 1.0, "l2_weight": 1.0}}]),
])
def test_single_stage_rows(loss, terms):
    row = msrnet_row("dmshn", loss)
    assert row["stages"] is None and row["model"] == "dmshn"
    assert row["loss"] == terms
    assert not any("stages" in d.lower() for d in row["deviations"])
    assert any("weights" in d for d in row["deviations"]) == (loss == "csl")


def test_errors():
    with pytest.raises(ValueError, match="model"):
        msrnet_row("ltnet")
    with pytest.raises(ValueError, match="loss"):
        msrnet_row("dmshn", "l1")
    with pytest.raises(ValueError, match="stage1_fraction"):
        msrnet_row("dmshn", "cl", stage1_fraction=1.0)
    with pytest.raises(ValueError, match="loss"):
        msrnet.loss_deviations("sobel")


def test_stage_fraction_reaches_stages_and_deviations():
    row = msrnet_row("dmshn", "cl", stage1_fraction=0.25)
    assert [st["fraction"] for st in row["stages"]] == [0.25, 0.75]
    assert any("25% / 75%" in d for d in row["deviations"])
    assert not any("50% / 50%" in d for d in row["deviations"])


def test_stages_follow_one_lr_curve_from_2e3_to_5e5():
    from relight_lib.library.train import TrainConfig, lr_at

    row = msrnet_row()
    plan = onetoone.plan_stages(1000, row["loss"], row["stages"], row["train"])
    assert [p["steps"] for p in plan] == [500, 500]
    whole = TrainConfig(steps=1000, **row["train"])
    lrs = []
    for st in plan:
        cfg = TrainConfig(**{k: v for k, v in st.items() if k not in ("name", "loss")})
        lrs += [lr_at(cfg, st["steps"], s) for s in range(st["steps"])]
    # one exponential curve across the boundary, from 2e-3 down to 5e-5
    assert lrs == pytest.approx([lr_at(whole, 1000, s) for s in range(1000)], rel=1e-12)
    assert lrs[0] == pytest.approx(2e-3) and lrs[-1] == pytest.approx(5e-5)
    assert lrs[500] == pytest.approx((2e-3 * 5e-5) ** 0.5, rel=0.01)


def test_row_binds_to_run_one_to_one():
    sig = inspect.signature(onetoone.run_one_to_one)
    for loss in msrnet.MSRNET_LOSSES:
        sig.bind(paper="msrnet", table="table2", variant="v", profile="smoke",
                 **msrnet_row("dmshn", loss))


def test_loss_values_known_inputs():
    g = torch.Generator().manual_seed(0)
    pred, target = torch.rand(2, 3, 32, 32, generator=g), torch.rand(2, 3, 32, 32, generator=g)
    batch = {"input": pred, "target": target}
    mse = onetoone.build_objective(msrnet.mse_terms(), allow_random=True)
    torch.testing.assert_close(mse(pred, batch), torch.nn.functional.mse_loss(pred, target))
    # L_CSL on a constant offset: MSE 0.25, no edges
    csl = onetoone.build_objective(msrnet.csl_terms(), allow_random=True)
    flat = torch.zeros(1, 3, 16, 16)
    assert float(csl(flat + 0.5, {"input": flat, "target": flat})) == pytest.approx(0.25)
    # L_CL at a perfect prediction: L1 0, -5e-3 * SSIM(=1), perceptual 0, + 2e-8 * TV(target)
    cl = onetoone.build_objective(msrnet.cl_terms(), allow_random=True)
    assert len(cl.terms) == 4  # nothing left out; a random VGG (no ImageNet file) is recorded
    assert all("seeded random vgg16" in d for d in cl.dropped) and len(cl.dropped) <= 1
    value = float(cl(target, {"input": pred, "target": target}))
    tv = float(2 * ((target[:, :, 1:] - target[:, :, :-1]).pow(2).mean()
                    + (target[..., 1:] - target[..., :-1]).pow(2).mean()))
    assert value == pytest.approx(-5e-3 + 2e-8 * tv, abs=1e-9)
    # a constant image: TV 0, so exactly -5e-3
    flat3 = torch.full((1, 3, 32, 32), 0.3)  # VGG to pool5 needs >= 32 px
    assert float(cl(flat3, {"input": flat3, "target": flat3})) == pytest.approx(-5e-3, abs=1e-9)
    # away from it, L1 dominates: within the perceptual + SSIM terms of mean |d|
    l1 = float((pred - target).abs().mean())
    assert abs(float(cl(pred, batch)) - l1) < 0.05


def test_runs_yaml_rows_match_reported_labels():
    from relight_lib.harness.results import load_reported

    runs = yaml.safe_load(RUNS.read_text())["tables"]
    assert set(runs) == {"table1", "table2"}
    for table, spec in runs.items():
        reported = load_reported("msrnet", table)
        labels = dict(zip(reported["variant"], reported["label"]))
        for variant, params in spec["variants"].items():
            assert variant in labels, f"{table}/{variant} is not in results/reported/msrnet.csv"
            row = msrnet_row(**{k: v for k, v in params.items()
                                if k in ("model", "loss", "stage1_fraction", "init")})
            if table == "table2":  # Table 2's labels name the model and the loss
                assert row["label"] == labels[variant]
            else:  # Table 1's rows are the L_CL models
                assert params["loss"] == "cl" and row["stages"] is not None
    # Table 1's other methods are reported only
    assert {"dense_gridnet", "srn", "drn"} <= set(load_reported("msrnet", "table1")["variant"])
    assert not {"dense_gridnet", "srn", "drn"} & set(runs["table1"]["variants"])


# --- deviation sentences written from each row's settings ------------------------------------

def test_schedule_sentence_follows_the_profile():
    quick = " ".join(msrnet_row("dmshn", "mse", profile="quick")["deviations"])
    paper = " ".join(msrnet_row("dmshn", "mse", profile="paper")["deviations"])
    # quick trains with its own warm-up + cosine recipe (its sentence comes from the run)
    assert "exponential" not in quick and "exponential" in paper and "0.002" in paper
    assert "Images: trained at 64 px and evaluated at 64 px" in quick
    assert "Images" not in paper  # 512 / 1024 px: the paper's own
    # the data sentence is the runner's alone (profiles.data_deviation), never a second one here
    assert "Data:" not in quick and "SynVIDIT" not in paper
    gpu = " ".join(msrnet_row("dmshn", "mse", profile="gpu")["deviations"])
    assert "5,000 steps of batch 8" in gpu and "exponential" in gpu
    with pytest.raises(KeyError, match="profile"):
        msrnet_row(profile="laptop")


@pytest.mark.parametrize("init, words", [("default", "PyTorch's default"),
                                         ("dehazing", "dehazing-code init")])
def test_init_sentence_follows_the_init(init, words):
    devs = " ".join(msrnet_row("dmshn", "mse", init=init)["deviations"])
    assert words in devs
    other = {"default": "dehazing-code init", "dehazing": "PyTorch's default"}[init]
    assert other not in devs
    with pytest.raises(ValueError, match="init"):
        msrnet_row(init="xavier")


def schedule_kind(points):
    """The lr curve of a plan's ``lr_schedule`` points (both stages of a two-stage row)."""
    lrs = [lr for _, lr in points]
    if len(lrs) == 1:
        return "constant"
    if lrs[0] < max(lrs):
        return "warmup_cosine"
    if len(set(lrs)) == 2 and len(lrs) == 2:
        return "multistep"
    return "exponential"


def check_against_plan(plan, devs):
    """What every MSR-Net deviation sentence must agree with in its row's plan."""
    text = " ".join(devs)
    kind = schedule_kind(plan["lr_schedule"])
    assert ("cosine" in text) == (kind == "warmup_cosine"), (kind, devs)
    assert ("exponential" in text) == (kind == "exponential"), (kind, devs)
    assert "divided by" not in text
    if kind == "exponential":
        lrs = [lr for _, lr in plan["lr_schedule"]]
        assert lrs[0] == pytest.approx(2e-3) and lrs[-1] == pytest.approx(5e-5)
    for steps, batch in re.findall(r"([\d,]+) steps of batch (\d+)", text):
        assert (int(steps.replace(",", "")), int(batch)) == (plan["steps"], plan["batch_size"])
    for train, ev in re.findall(r"trained at (\d+) px and evaluated at (\d+) px", text):
        assert (int(train), int(ev)) == (plan["train_size"], plan["image_size"])
    # the loss sentences name the terms the row trains, stage by stage
    two_stage = any(line.startswith("stage2_combined") for line in plan["loss"])
    assert ("Two stages" in text) == two_stage
    if two_stage:
        stage1 = [line for line in plan["loss"] if line.startswith("stage1_l2")]
        assert stage1 == [line for line in stage1 if line.endswith("1 x mse")]
        n1 = int(re.search(r"steps 0-(\d+)", stage1[0]).group(1)) + 1
        share = re.search(r"Two stages split (\d+)% / (\d+)%", text)
        assert n1 / plan["steps"] == pytest.approx(int(share.group(1)) / 100, abs=0.01)
    csl = any("combined_sobel" in line for line in plan["loss"])
    assert ("L_CSL" in text) == csl


@pytest.mark.parametrize("profile", ["quick", "paper"])
def test_every_rows_deviations_match_its_plan(profile, request, monkeypatch):
    from relight_lib.harness import reproduce

    monkeypatch.chdir(RUNS.parents[2])  # the presets and notebooks are relative to the repo
    root = str(request.getfixturevalue("tiny_vidit")) if profile == "paper" else None
    plans, failures = reproduce.plan_rows(profile, paper="msrnet", data_root=root,
                                          log=lambda *a: None)
    runs = yaml.safe_load(RUNS.read_text())["tables"]
    assert failures == {}
    checks = {n: p for n, p in plans.items() if n.endswith("__x2")}
    assert len(plans) - len(checks) == sum(len(t["variants"]) for t in runs.values())
    assert len(checks) == (len(runs) if profile == "quick" else 0)  # one per table at quick
    for name, plan in plans.items():
        if name in checks:
            _check_budget_check_row(plan)
        else:
            check_against_plan(plan, plan["deviations"])


def _check_budget_check_row(plan):
    """A budget-check row (``<variant>__x2``) says it trains twice its recipe's steps."""
    text = " ".join(plan["deviations"])
    base = plan["steps"] // 2
    assert f"Budget check: trained for 2 x the row's budget ({base:,} -> {plan['steps']:,} " \
        "steps" in text, text


def test_the_check_catches_a_contradiction():
    """The old fixed 'exponential decay' sentence next to a cosine plan must be rejected."""
    plan = {"lr_schedule": [[0, 3e-6], [40, 3e-4], [799, 3e-6]], "steps": 800, "batch_size": 8,
            "train_size": 64, "image_size": 64, "loss": ["1 x mse"]}
    check_against_plan(plan, ["Profile quick: 800 steps of batch 8, then a cosine decay"])
    with pytest.raises(AssertionError):
        check_against_plan(plan, ["Learning rate: exponential decay from 2e-3 to 5e-5",
                                  "Profile quick: 800 steps of batch 8, then a cosine decay"])
