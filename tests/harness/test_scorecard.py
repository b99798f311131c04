"""The scorecard: all claims with verdicts, counts, and the code-completeness facts."""

import pandas as pd
import pytest
import yaml

from relight_lib.harness import scorecard
from relight_lib.harness.claims import VERDICTS


def test_claim_papers_in_book_order():
    assert scorecard.claim_papers() == ["ltnet", "msrnet", "mbnet", "swapnet"]


def test_all_claims_equal_the_chapters_claims():
    from relight_lib.harness import book

    claims = scorecard.all_claims("quick")
    for paper in scorecard.claim_papers():
        mine = claims[claims["paper"] == paper].drop(columns=["paper"]).reset_index(drop=True)
        pd.testing.assert_frame_equal(mine, book.claims_view(paper, "quick"))
    assert set(claims["verdict"]) <= set(VERDICTS)


def test_verdict_counts_add_up():
    claims = pd.DataFrame({"paper": ["msrnet", "ltnet", "ltnet", "ltnet"],
                           "verdict": ["supported", "contradicted", "supported",
                                       "not testable here"]})
    t = scorecard.verdict_counts(claims)
    assert list(t.index) == ["ltnet", "msrnet", "all papers"]
    assert list(t.columns) == [*VERDICTS, "claims"]
    assert list(t.columns)[:5] == ["supported", "smaller than reported", "inconclusive",
                                   "contradicted", "not testable here"]
    assert t.loc["ltnet"].tolist() == [1, 0, 0, 1, 1, 3]
    assert t.loc["all papers"].tolist() == [2, 0, 0, 1, 1, 4]


def test_every_verdict_has_its_meaning():
    assert list(scorecard.VERDICT_MEANINGS) == list(VERDICTS)
    assert all(text.strip() for text in scorecard.VERDICT_MEANINGS.values())


def test_chance_sentence_is_computed_from_the_verdicts():
    verdicts = ["supported"] * 7 + ["inconclusive"] * 13 + ["not testable here"] * 9
    text = scorecard.chance_sentence(verdicts)
    assert text.startswith("Of the 20 claims that got a verdict, 7 are supported or "
                           "contradicted; if none of the differences were real, about 1.0 ")
    assert "(5% of 20)" in text
    assert "about 1.5" in scorecard.chance_sentence(["contradicted"] * 30)
    assert "about 3.0" in scorecard.chance_sentence(["contradicted"] * 30, alpha=0.1)
    assert "Of the 0 claims" in scorecard.chance_sentence(["not testable here"])


def _entry(**over):
    items = {k: {"value": "yes", "evidence": "a file"} for k in scorecard.CHECKLIST}
    return {"paper": "ltnet", "repo": "o/r", "url": "https://github.com/o/r",
            "checked": "today", "items": items, **over}


def test_completeness_file_loads_and_renders():
    repos = scorecard.load_code_completeness()
    t = scorecard.completeness_table(repos)
    assert "This suite" in set(t["paper"])
    assert set(t.columns) >= set(scorecard.CHECKLIST.values())
    assert all(c.endswith("/5") for c in t["complete"])
    assert scorecard.completeness_evidence(repos).count("**") == 2 * len(repos)


@pytest.mark.parametrize("bad, says", [
    ({"items": {}}, "missing 'items'"),
    ({"items": {"dependencies": {"value": "yes", "evidence": "x"}}}, "training_code"),
    ({"url": None}, "missing 'url'"),
    ({"items": {k: {"value": "maybe", "evidence": "x"} for k in scorecard.CHECKLIST}},
     "needs a value in"),
    ({"items": {k: {"value": "no", "evidence": " "} for k in scorecard.CHECKLIST}},
     "has no evidence"),
])
def test_completeness_file_errors_name_the_file_and_entry(tmp_path, bad, says):
    path = tmp_path / "cc.yaml"
    path.write_text(yaml.safe_dump({"repositories": [_entry(**bad)]}))
    with pytest.raises(scorecard.CompletenessFileError, match=says) as e:
        scorecard.load_code_completeness(path)
    assert str(path) in str(e.value) and "o/r" in str(e.value)


def test_the_suite_needs_no_url(tmp_path):
    path = tmp_path / "cc.yaml"
    path.write_text(yaml.safe_dump({"repositories": [_entry(paper="suite", url=None)]}))
    (r,) = scorecard.load_code_completeness(path)
    assert scorecard.completeness_table([r])["repository"].iloc[0] == "o/r"


def _synthetic_claims():
    """Four claims of two papers: one supported, one with no difference of ours (LPIPS), one
    "no difference" claim with its margin, one where the paper's table goes against the claim."""
    nan = float("nan")
    return pd.DataFrame([
        dict(paper="msrnet", id="a", text="Stacking raises PSNR", metric="psnr",
             reported_difference=0.5, our_difference=1.0, ci_low=0.25, ci_high=1.75,
             verdict="supported", margin=nan, reason="95% Student-t interval"),
        dict(paper="ltnet", id="b", text="Normals lower LPIPS", metric="lpips",
             reported_difference=0.01, our_difference=nan, ci_low=nan, ci_high=nan,
             verdict="not testable here", margin=nan,
             reason="lpips not computed: LPIPS unavailable: no alexnet weights"),
        dict(paper="swapnet", id="c", text="B and C do not differ", metric="psnr",
             reported_difference=0.2, our_difference=0.1, ci_low=-0.3, ci_high=0.5,
             verdict="inconclusive", margin=0.4, reason="no difference if inside ±0.4"),
        dict(paper="ltnet", id="d", text="LTNet* beats MSR-Net on PSNR", metric="psnr",
             reported_difference=-1.0, our_difference=-0.5, ci_low=-2.0, ci_high=1.0,
             verdict="not testable here", margin=nan, reason="not converged: x"),
    ])


def test_forest_data_scales_each_claim_by_the_papers_difference():
    f = scorecard.forest_data(_synthetic_claims()).set_index("id")
    a = f.loc["a"]  # ours twice the paper's, interval [0.5, 3.5] of it
    assert (a["paper_x"], a["ours_x"], a["low_x"], a["high_x"]) == (1.0, 2.0, 0.5, 3.5)
    assert a["why_missing"] == ""
    b = f.loc["b"]  # the paper's difference is drawn, ours is missing and says why
    assert b["paper_x"] == 1.0 and pd.isna(b["ours_x"])
    assert b["why_missing"] == "not drawn: needs LPIPS (no AlexNet weights here)"
    c = f.loc["c"]  # a no-difference claim: scaled by its margin, the band is ±1
    assert c["margin_x"] == 1.0 and c["paper_x"] == pytest.approx(0.5)
    assert (c["low_x"], c["high_x"]) == pytest.approx((-0.75, 1.25))
    d = f.loc["d"]  # the paper's own table against its claim: -1, honestly
    assert d["paper_x"] == -1.0 and d["ours_x"] == pytest.approx(-0.5)


def test_forest_plot_draws_every_claim_grouped_by_paper():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig = scorecard.forest_plot(_synthetic_claims())
    ax = fig.axes[0]
    labels = [t.get_text() for t in ax.get_yticklabels()]
    # papers in the book's order, each followed by its claims
    assert labels[0] == "LTNet" and labels[3] == "MSR-Net" and labels[5] == "2DSceneRelighting"
    assert labels[1].startswith("Normals lower LPIPS [LPIPS]")
    notes = [t.get_text() for t in ax.texts]
    assert notes == ["needs LPIPS"]  # the one claim without a difference of ours says why
    crosses = [ln for ln in ax.lines if ln.get_marker() == "x"]
    assert len(crosses) == 1 and list(crosses[0].get_xdata()) == [0]
    # the paper's diamonds: one per claim with a number (the no-difference claim's too)
    diamonds = [ln for ln in ax.lines if ln.get_marker() == "D"]
    assert len(diamonds) == 4
    plt.close(fig)


def test_lpips_only_claims_are_grouped_on_one_line():
    raw = _synthetic_claims()
    assert scorecard.lpips_only(raw).tolist() == [False, True, False, False]
    view = pd.DataFrame({"claim": raw["text"], "metric": raw["metric"].str.upper(),
                         "verdict": raw["verdict"],
                         "why": ["", "LPIPS: n/a because the AlexNet weights that LPIPS needs "
                                 "are not on this machine", "", "not converged"]})
    assert scorecard.lpips_only(view).tolist() == [False, True, False, False]
    line = scorecard.lpips_line(view.assign(runs=["", '<a href="r.html">r</a>', "", ""]))
    assert line.startswith('<p class="lpips-only"><strong>1 more claim(s)')
    assert 'Normals lower LPIPS (LPIPS: <a href="r.html">r</a>)' in line
    assert scorecard.lpips_line(view[~scorecard.lpips_only(view)]) == ""


def test_claims_html_links_runs_and_puts_key_columns_first():
    from relight_lib.harness import book

    view = book.claims_view("msrnet", "quick")
    out = scorecard.claims_html(view.assign(paper="msrnet"))
    head = out.split("</thead>")[0]
    for col in book.CLAIM_KEY_COLUMNS:
        assert f'<th class="key">{col.replace(chr(39), "&#x27;")}</th>' in head, col
    assert "<th>runs</th>" in head and "paper</th>" not in head.replace("difference", "")
    assert 'href="' in out and "table1__stacked_dmshn.html" in out
    assert 'font-weight:600">not testable here</span>' in out or "supported" in out


def test_a_claim_whose_rows_did_not_run_says_so_instead_of_linking():
    from relight_lib.harness import book

    # LTNet's dehazing claims on LTNet† (table1 ltnet_large_*) are not run at quick
    ids = ["dehaze_lowers_psnr", "dehaze_lowers_psnr_small"]
    not_run, run = book.claim_run_links("ltnet", ids, "quick")
    assert 'class="no-run-page"' in not_run and "not run at the quick profile" in not_run
    assert "href=" not in not_run
    assert 'class="no-run-page"' not in run and "table1__ltnet_small.html" in run


def test_the_plateau_false_alarms_are_read_from_the_bench(tmp_path):
    from relight_lib import bench_plateau

    out = bench_plateau.run(sigmas=(0.0, 0.06), n=40, out=tmp_path / "cal.csv",
                            log=lambda *a: None)
    raw = pd.read_csv(out)
    table, sentence = scorecard.plateau_false_alarms(out)
    assert len(table) == 2 and list(table.iloc[:, 0]) == [0.0, 0.06]
    noisy = raw.iloc[1]
    # the sentence reports the measured rates of the level with the most alarms, not typed ones
    assert f"called {100 * noisy['p_fail']:.0f} % of the seeds" in sentence
    assert f"passes {100 * noisy['p_row_passes']:.0f} % of the time" in sentence
    assert "40 simulated trainings" in sentence and "noise 0.06 dB" in sentence
    members = table["ensembles with a member called off the curve"]
    assert list(members) == [f"{100 * p:.1f} %" for p in raw["member_p_fail"]]
