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
