"""A chapter's one-screen summary (relight_lib/harness/summary.py): every verdict is named, the
counts add up, the reasons are grouped, and the stale rows are listed."""

import re

import pandas as pd
import pytest

from relight_lib.harness import summary
from relight_lib.harness.claims import CLAIM_COLUMNS, VERDICTS

LPIPS = ("lpips not computed: LPIPS unavailable (no random trunk is ever used): weights for "
         "'alexnet' not found")
VALIDATION = ("'skip', 'no_skip' read on the validation split, not on the test split this "
              "profile reads claims on (validation is the split the recipes were tuned on): "
              "rerun the row")


def _claim(i, text, metric, verdict, reason="", table="table2", half_width=float("nan"),
           rows=("table2/a", "table2/b")):
    row = {c: float("nan") for c in CLAIM_COLUMNS}
    row.update(paper="p", id=f"c{i}", text=text, metric=metric, verdict=verdict, reason=reason,
               n_seeds=3, split="test", half_width=half_width)
    return {**row, "table": table, "rows": list(rows)}


def _frame() -> pd.DataFrame:
    return pd.DataFrame([
        _claim(0, "Normal maps raise MPS over image + depth (Table 2)", "mps", "supported",
               half_width=0.004),
        _claim(1, "Normal maps raise SSIM over image + depth (Table 2)", "ssim", "contradicted",
               half_width=0.01),
        _claim(2, "I+D+N is the best input set: it beats I+D on LPIPS (Table 2)", "lpips",
               "not testable here", LPIPS),
        _claim(3, "I+D+N is the best input set: it beats I+D+V on PSNR (Table 2)", "psnr",
               "inconclusive", half_width=0.3),
        _claim(4, "The global skip raises PSNR (Table 3, rows 2 vs 1)", "psnr",
               "not testable here", VALIDATION, table="table3", rows=("table3/skip",)),
        _claim(5, "The global skip raises MPS (Table 3)", "mps", "not testable here",
               "not converged: skip: still rising", table="table3", rows=("table3/skip",)),
        _claim(6, "Larger models score higher (Table 5)", "mps", "not testable here",
               "no results for variant 'f1_8_nc_32' in table5", table="table5",
               rows=("table5/f1_8_nc_32",)),
        _claim(7, "Bigger is better (Table 5)", "psnr", "not testable here",
               "2 seed(s): a verdict needs at least 3; 95% Student-t interval", table="table5",
               rows=("table5/x",)),
        _claim(8, "Something odd (Table 5)", "psnr", "not testable here", "a reason nobody knows",
               table="table5", rows=("table5/y",)),
    ])


def test_verdict_counts_name_every_verdict_and_add_up() -> None:
    frame = _frame()
    counts = summary.verdict_counts(frame)
    assert list(counts) == list(VERDICTS)
    assert counts == {"supported": 1, "smaller than reported": 0, "inconclusive": 1,
                      "contradicted": 1, "not testable here": 6}
    assert sum(counts.values()) == len(frame)
    empty = summary.verdict_counts(frame.iloc[:0])
    assert list(empty) == list(VERDICTS) and set(empty.values()) == {0}


def test_an_unknown_verdict_is_an_error_not_a_dropped_claim() -> None:
    frame = _frame()
    frame.loc[0, "verdict"] = "refuted"
    with pytest.raises(ValueError, match="refuted"):
        summary.verdict_counts(frame)


def test_untestable_reasons_are_grouped_and_add_up() -> None:
    frame = _frame()
    reasons = summary.untestable_reasons(frame)
    assert sum(reasons.values()) == int((frame["verdict"] == "not testable here").sum())
    assert reasons == {
        "wait for the LPIPS (AlexNet) weights": 1,
        "compare a row whose training has not converged": 1,
        "compare rows read on the validation split, not on the split claims are read on "
        "(rerun them)": 1,
        "compare a row not run at this profile": 1,
        "have fewer than 3 seeds on a side": 1,
        summary.OTHER: 1,
    }


@pytest.mark.parametrize("reason,group", [
    ("variant 'd_l1c_lpips_lr': not run here: lpips loss unavailable: cannot use the LPIPS "
     "loss: LPIPS unavailable (no random trunk is ever used)",
     "wait for the LPIPS (AlexNet) weights"),
    ("the rows were evaluated on different splits ('a': test; 'b': validation)",
     "compare rows evaluated on different splits"),
    ("psnr not computed: no reason recorded", "need a metric that was not computed"),
    ("variant 'x': not run here: too slow", "compare a row not run at this profile"),
    ("budget-sensitive: trained 2 times as long, seed 0's difference a - c moved from -0.09 to "
     "+0.07 (+0.17; the claim's half-width is ±0.05): the rows had not stopped improving",
     "compare rows whose difference moved by at least its half-width when trained twice as "
     "long (budget-sensitive)"),
    ("seeds trained at different budgets: a_lc: 1,600 steps (seeds 1, 2), 3,200 steps (seed 0) "
     "(rerun the row at one budget)",
     "compare a row part-way through a rerun at a new budget (its seeds trained for different "
     "numbers of steps)"),
])
def test_reason_groups(reason: str, group: str) -> None:
    assert summary.reason_group(reason) == group


def test_statements_merge_metrics_and_count_every_claim() -> None:
    frame = _frame()
    statements = summary.claim_statements(frame)
    assert [t for t, _ in statements] == ["table2", "table3", "table5"]
    assert sum(c for _, items in statements for _, c in items) == len(frame)
    table2 = dict(statements[0][1])
    assert table2 == {"Normal maps raise MPS/SSIM over image + depth": 2,
                      "I+D+N is the best input set": 2}
    assert dict(statements[1][1]) == {"The global skip raises PSNR/MPS": 2}


def test_half_width_medians_are_per_metric() -> None:
    frame = _frame()
    frame.loc[4, "half_width"] = 0.5  # a second psnr interval
    assert summary.half_width_medians(frame) == pytest.approx(
        {"mps": 0.004, "ssim": 0.01, "psnr": 0.4})


def test_rendered_summary_names_every_verdict_reason_and_stale_row() -> None:
    frame = _frame()
    stale = {"table3/skip": "rerun: notebook, parameters or data changed"}
    text = summary.render_summary(
        "p", "quick", frame, split="test", row_seeds={"table2/a": 3, "table3/skip": 1},
        row_splits={"table2/a": "test", "table3/skip": "validation"}, stale=stale,
        claims_file="notebooks/p/claims.yaml")
    for verdict in VERDICTS:
        assert f"*{verdict}*" in text
    assert "0 *smaller than reported*" in text and "6 *not testable here* (of 9)" in text
    assert "1 waits for the LPIPS (AlexNet) weights" in text
    assert "1 compares a row whose training has not converged" in text
    assert "*Contradicted*: Normal maps raise SSIM over image + depth (Table 2)." in text
    assert "9 claims (`notebooks/p/claims.yaml`)" in text
    assert "seeds per row: 3 (1 row), 1 (1 row)" in text
    assert "the rows here were evaluated on: test (1 row), validation (1 row)" in text
    assert "MPS ±0.0040" in text and "PSNR ±0.30 dB" in text
    assert "Table 3: `skip`" in text and "2 claims compare one of them" in text
    # the counts the text states add up to the number of claims
    held = re.search(r"What held\*\*[^:]*: (.*) \(of (\d+)\)", text)
    assert sum(int(x) for x in re.findall(r"(\d+) \*", held.group(1))) == int(held.group(2))


def test_rendered_summary_without_claims_or_runs() -> None:
    empty = pd.DataFrame(columns=[*CLAIM_COLUMNS, "table"])
    text = summary.render_summary("baselines", "quick", empty, split="test")
    assert "tests no claim" in text
    assert "no row of this chapter has been run at the quick profile" in text
    assert "**Out of date**: no row of this chapter (none has been run here)." in text
    assert "What held" not in text


def test_chapter_summary_reads_the_papers_claims_file() -> None:
    """On the repository's own claims (at the smoke profile, whose results are not committed):
    every claim of the file is counted and every verdict named."""
    from relight_lib.harness.claims import load_claims

    n = len(load_claims("notebooks/mbnet/claims.yaml", paper="mbnet"))
    text = summary.chapter_summary("mbnet", "smoke").data
    assert f"{n} claims (`notebooks/mbnet/claims.yaml`)" in text
    assert f"{n} *not testable here* (of {n})" in text
    assert all(f"*{v}*" in text for v in VERDICTS)
    assert "tests no claim" in summary.chapter_summary("baselines", "smoke").data
