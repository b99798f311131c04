import re

import pytest

from relight_lib.papers.ltnet import recipe
from relight_lib.library.models import build_model, count_parameters


def _mentions_lr(text: str) -> bool:
    """Whether ``text`` names the residual loss L_r (not L_rc, Eq. 3's other term)."""
    return re.search(r"\bL_r\b", text) is not None


def _names(row):
    return [(t["name"], t.get("weight"), t.get("on", "output"), t.get("required", True))
            for t in row["loss"]]


def test_ltnet_default_row_is_the_papers_final_setting():
    row = recipe.ltnet_row()
    assert row["model"] == "ltnet" and row["augment"] == "flip_rotate"
    assert row["model_kwargs"]["nc"] == 16 and row["model_kwargs"]["f1"] == 2
    assert row["train"] == {"lr": 1e-4, "betas": (0.9, 0.999), "schedule": "exponential",
                            "final_lr": 1e-6}
    # Table 6 D: L_C + 0.1 LPIPS (left out when unavailable) + L_r on the residual
    assert _names(row) == [("charbonnier", 1.0, "output", True), ("lpips", 0.1, "output", False),
                           ("residual", 1.0, "residual", True)]
    model = build_model(row["model"], **row["model_kwargs"])
    assert abs(count_parameters(model) - 1.07e6) / 1.07e6 < 0.02


@pytest.mark.parametrize("setting, expected", [
    ("A", ["charbonnier"]),
    ("B", ["charbonnier", "lpips"]),
    ("C", ["charbonnier", "residual"]),
    ("D", ["charbonnier", "lpips", "residual"]),
])
def test_table6_settings(setting, expected):
    row = recipe.ltnet_row(loss_setting=setting)
    assert [t["name"] for t in row["loss"]] == expected
    lp = [t for t in row["loss"] if t["name"] == "lpips"]
    if lp:  # B and D are defined by their LPIPS term: required
        assert lp[0]["required"] is True
        assert lp[0]["weight"] == {"B": 0.5, "D": 0.1}[setting]


def test_table3_switches_and_errors():
    no_skip = recipe.ltnet_row(global_residual=False, residual_loss=False)
    assert no_skip["model_kwargs"]["global_residual"] is False
    assert [t["name"] for t in no_skip["loss"]] == ["charbonnier", "lpips"]
    only_lr = recipe.ltnet_row(reconstruction_loss=False)
    assert [t["name"] for t in only_lr["loss"]] == ["residual"]
    with pytest.raises(ValueError, match="global skip"):
        recipe.ltnet_row(global_residual=False, residual_loss=True)
    with pytest.raises(ValueError, match="at least one"):
        recipe.ltnet_row(residual_loss=False, reconstruction_loss=False)
    with pytest.raises(ValueError, match="loss_setting"):
        recipe.ltnet_row(loss_setting="E")
    with pytest.raises(ValueError, match="table5_label"):
        recipe.ltnet_row(table5_label="3,3")


def test_table5_sizes():
    large = recipe.ltnet_row(table5_label="8,32")["model_kwargs"]
    assert (large["nc"], large["f1"]) == (32, 8)


def test_ltnet_snapshot_ensemble_settings():
    assert "snapshots" not in recipe.ltnet_row()
    paper = recipe.ltnet_row(ensemble="paper")
    # the paper profile: epochs 90, 123, 124, 128, 134 of the paper's 300 (not of 134)
    assert paper["snapshots"] == pytest.approx([0.30, 0.41, 124 / 300, 128 / 300, 134 / 300])
    assert paper["snapshot_weights"] is None  # a plain mean, as the paper says
    assert recipe.ltnet_row(ensemble="code")["snapshot_weights"] == (1.0, 1.0, 1.0, 2.0, 1.0)
    assert any("Snapshot ensemble" in d and "the paper's epochs at the paper profile" in d
               for d in paper["deviations"])
    with pytest.raises(ValueError, match="ensemble"):
        recipe.ltnet_row(ensemble="median")
    with pytest.raises(ValueError, match="profile"):
        recipe.ltnet_row(profile="laptop")


def test_ltnet_paper_budget_and_snapshot_epochs():
    from relight_lib.papers.onetoone import snapshot_steps

    row = recipe.ltnet_row(ensemble="paper")
    assert row["paper_budget"] == {"epochs": 300, "batch_size": 2}  # §4.1
    assert recipe.ltnet_row()["paper_budget"] == row["paper_budget"]
    # at the paper profile the fractions land on the paper's epochs (here: 150 steps an epoch,
    # VIDIT's 300 training pairs at batch 2)
    steps = snapshot_steps(300 * 150, row["snapshots"])
    assert steps == [e * 150 for e in (90, 123, 124, 128, 134)]
    # the gpu profile trains on the paper's exponential schedule: the same fractions
    assert recipe.ltnet_row(ensemble="paper", profile="gpu")["snapshots"] == row["snapshots"]


def test_paper_lr_ratios_at_the_snapshot_epochs():
    # 10^(-2 e / 300): 0.25 at epoch 90 down to 0.13 at epoch 134 (spec/evidence.md §6)
    ratios = recipe.paper_lr_ratios()
    assert ratios == pytest.approx([10 ** (-2 * e / 300) for e in (90, 123, 124, 128, 134)])
    assert ratios[0] == pytest.approx(0.2512, abs=1e-4) and ratios[-1] == pytest.approx(0.1278,
                                                                                        abs=1e-4)


@pytest.mark.parametrize("profile", ["quick", "smoke"])
def test_short_profile_snapshots_match_the_papers_lr_ratio(profile):
    from relight_lib.library.train import TrainConfig, lr_at
    from relight_lib.papers.onetoone import snapshot_steps

    row = recipe.ltnet_row(ensemble="paper", profile=profile)
    train, total = recipe.ltnet_schedule(profile)
    steps = snapshot_steps(total, row["snapshots"])  # what run_one_to_one will keep
    assert steps == recipe.ltnet_snapshot_steps(train, total)
    cfg = TrainConfig(steps=total, lr=train["lr"], final_lr=train["final_lr"],
                      schedule=train["schedule"], warmup=train["warmup"])
    peak = max(lr_at(cfg, total, k) for k in range(total))
    ours = [lr_at(cfg, total, s) / peak for s in steps]
    if profile == "quick":
        # 1600 steps: one step moves lr / lr_peak by at most 0.0008 here
        assert ours == pytest.approx(recipe.paper_lr_ratios(), abs=0.002)
        assert steps == [1100, 1224, 1228, 1240, 1258]  # 69-79 % of the budget, not 30-45 %
        assert all(s > round(0.05 * total) for s in steps)  # past the warm-up's peak
    else:  # a 4-step pipeline check: the nearest step past the peak
        assert all(1 <= s <= total for s in steps)
    sentence = [d for d in row["deviations"] if d.startswith("Snapshot ensemble")][0]
    assert ", ".join(str(s) for s in steps) + f" of {total}" in sentence


def test_ltnet_rows_are_dehazed_with_the_authors_constants_by_default():
    from relight_lib.papers.ltnet import dehaze

    # every table's rows (Tables 2, 3, 5, 6 too: the paper's ablation numbers are dehazed)
    for kwargs in ({}, {"inputs": ["rgb", "depth"]}, {"global_residual": False,
                   "residual_loss": False}, {"table5_label": "4,4"}, {"loss_setting": "A"}):
        assert recipe.ltnet_row(**kwargs)["postprocess"] == "dehaze"
    assert dehaze.POSTPROCESSES["dehaze"] is dehaze.get_postprocess("dehaze")
    assert recipe.ltnet_row(postprocess=None)["postprocess"] is None
    he = recipe.ltnet_row(postprocess="dehaze_he")
    assert any("He et al." in d for d in he["deviations"])
    assert not any("He et al." in d for d in recipe.ltnet_row()["deviations"])
    with pytest.raises(ValueError, match="postprocess"):
        recipe.ltnet_row(postprocess="dehaze_paper")


def test_ltnet_short_recipe_drops_the_augmentation_at_quick_only():
    from relight_lib.papers import profiles

    own = recipe.ltnet_row()["short_budgets"]
    assert profiles.short_budget("quick", own)["augment"] is None
    assert "augment" not in profiles.short_budget("smoke", own)  # smoke checks the paper's path
    assert profiles.short_budget("gpu", own) is None and profiles.short_budget("paper", own) is None


@pytest.mark.parametrize("found", [True, False])
def test_ltnet_deviations_follow_the_row(monkeypatch, found):
    monkeypatch.setattr(recipe, "_lpips_found", lambda: found)
    devs = " ".join(recipe.ltnet_row()["deviations"])
    assert "clamped to [0, 1] in training" in devs  # the straight-through output clamp
    assert "Eq. 3 contradicts itself" in devs and "L_o" in devs  # the reading of Table 3
    if found:
        assert "L_C + 0.1 LPIPS on the output + L_r on the residual (Table 6 setting D)." in devs
        assert "left out" not in devs
    else:  # the LPIPS term dropped: said, with what the row trains instead
        assert "L_C on the output + L_r on the residual (Table 6 setting C): the paper's 0.1 " \
               "LPIPS term is left out" in devs
    # Table 3's row without L_r never mentions L_r, nor setting D
    no_lr = " ".join(recipe.ltnet_row(global_residual=False, residual_loss=False,
                                      profile="quick")["deviations"])
    assert not _mentions_lr(no_lr) and "setting D" not in no_lr
    expected = ("L_C + 0.1 LPIPS on the output." if found else
                "L_C on the output (Table 6 setting A): the paper's 0.1 LPIPS term is left out")
    assert expected in no_lr
    # L_r alone (Table 3 row 3)
    only_lr = recipe.ltnet_row(reconstruction_loss=False)["deviations"]
    assert "Loss as trained here: L_r on the residual." in only_lr
    assert any("this row trains without it" in d for d in only_lr)
    # Table 6: each setting trains its own terms; B and D, defined by LPIPS, are not run without
    for setting, formula in [("A", "L_C on the output"), ("B", "L_C + 0.5 LPIPS on the output"),
                             ("C", "L_C on the output + L_r on the residual"),
                             ("D", "L_C + 0.1 LPIPS on the output + L_r on the residual")]:
        devs = recipe.ltnet_row(loss_setting=setting)["deviations"]
        loss = [d for d in devs if d.startswith("Loss")]
        assert len(loss) == 1 and f"{formula} (Table 6 setting {setting})" in loss[0]
        assert not any("Eq. 3" in d for d in devs)
        assert ("not run here" in loss[0]) == (setting in "BD" and not found), setting
        if setting == "A":
            assert not _mentions_lr(" ".join(devs))


def test_ltnet_schedule_sentence_follows_the_profile():
    for profile in ("smoke", "quick"):  # the short profiles' cosine (run_one_to_one's sentence)
        devs = " ".join(recipe.ltnet_row(profile=profile)["deviations"])
        assert "Exponential" not in devs and "exponential" not in devs
        assert f"Profile {profile}: SynVIDIT scenes at 64 px" in devs
    paper = " ".join(recipe.ltnet_row(profile="paper")["deviations"])
    assert "Exponential lr decay from 1e-4 to 1e-6" in paper and "SynVIDIT" not in paper
    gpu = " ".join(recipe.ltnet_row(profile="gpu")["deviations"])
    assert "Exponential lr decay" in gpu and "5000 steps of batch 8" in gpu


def test_ltnet_dehazing_sentence_names_the_windows():
    def post(**kw):
        return [d for d in recipe.ltnet_row(**kw)["deviations"] if d.startswith("Dehazed")]

    assert "patch 3, guided filter 4 x 4 boxes" in post(profile="quick")[0]
    assert "patch 15, guided filter 60 x 60 boxes" in post(profile="quick",
                                                           postprocess="dehaze_1024px")[0]
    assert "patch 3, guided filter 15 x 15 boxes" in post(profile="gpu")[0]
    assert "patch 15, guided filter 60 x 60 boxes" in post(profile="paper")[0]
    assert "released code's airlight" in post(profile="quick",
                                              postprocess="dehaze_released_airlight")[0]
    assert post(postprocess=None) == []


def _ltnet_rows():
    """Every LTNet row of notebooks/ltnet/runs.yaml as the notebook builds it: its parameters
    cell's defaults overridden by the row, passed to recipe.ltnet_row."""
    import inspect

    from relight_lib.harness import reproduce

    accepted = set(inspect.signature(recipe.ltnet_row).parameters)
    out = {}
    for row in reproduce.load_rows():
        if row.paper != "ltnet":
            continue
        params = {**reproduce.notebook_parameters(row.notebook), **row.params}
        out[f"{row.table}/{row.variant}"] = recipe.ltnet_row(
            **{k: v for k, v in params.items() if k in accepted})
    return out


def _training(row):
    """What decides a row's weights (experiment.training_key's recipe-side inputs)."""
    return (row["model"], row["model_kwargs"], row["loss"], row["train"], row["augment"],
            row["paper_budget"], row.get("snapshots"))


def test_ltnet_runs_yaml_rows():
    rows = _ltnet_rows()
    undehazed = {"table1/ltnet_small_no_dehaze", "table1/ltnet_large_no_dehaze"}
    readings = {"table1/ltnet_small_dehaze_1024px": "dehaze_1024px",
                "table1/ltnet_small_dehaze_released_airlight": "dehaze_released_airlight",
                "table3/skip_dehaze_1024px": "dehaze_1024px",
                "table3/no_skip_dehaze_1024px": "dehaze_1024px"}
    for name, row in rows.items():  # item 2: Tables 2, 3, 5, 6 are dehazed like the paper's
        assert row["postprocess"] == (None if name in undehazed else
                                      readings.get(name, "dehaze")), name
    # the other readings of the dehazing only change the post-process: no training of their own
    for name in readings:
        base = name.replace("_dehaze_1024px", "").replace("_dehaze_released_airlight", "")
        assert _training(rows[name]) == _training(rows[base]), name
    # Table 5: slug f1_<f1>_nc_<nc> = the model's f1 and nc
    t5 = {n.split("/")[1]: r["model_kwargs"] for n, r in rows.items() if n.startswith("table5/")}
    assert set(t5) == {"f1_8_nc_32", "f1_4_nc_32", "f1_4_nc_16", "f1_2_nc_16", "f1_4_nc_4"}
    for slug, kw in t5.items():
        assert slug == f"f1_{kw['f1']}_nc_{kw['nc']}"
    # the rows runs.yaml says share one training do share it (a post-process does not retrain)
    star = ["table1/ltnet_small", "table1/ltnet_small_no_dehaze", "table2/i_d_v_n",
            "table3/skip_lr_lrc", "table5/f1_2_nc_16"]
    dagger = ["table1/ltnet_large_dehaze", "table1/ltnet_large_no_dehaze", "table5/f1_8_nc_32"]
    for group in (star, dagger):
        assert len({repr(_training(rows[n])) for n in group}) == 1, group
    assert _training(rows[star[0]]) != _training(rows[dagger[0]])
    # the ensemble row keeps five snapshots: its own training
    ens = rows["table1/ltnet_small_ensemble"]
    assert ens["snapshots"] and _training(ens) != _training(rows[star[0]])
    assert _training(ens)[:6] == _training(rows[star[0]])[:6]
    # nothing else trains like LTNet* (Table 6 D needs LPIPS: required, so a different loss)
    star += ["table1/ltnet_small_dehaze_1024px", "table1/ltnet_small_dehaze_released_airlight"]
    others = set(rows) - set(star) - set(dagger) - {"table1/ltnet_small_ensemble"}
    assert all(_training(rows[n]) != _training(rows[star[0]]) for n in others)
