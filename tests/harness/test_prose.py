"""The book's prose states no result, recipe value or measurement by hand (issue: the book stays
true by construction): relight_lib/harness/prose.py."""

from pathlib import Path

import pytest

from relight_lib.harness import prose

PAGE = """---
kernelspec:
  name: relight
---
# Title 800 steps in a heading are prose too

```{code-cell} python
x = 20.12  # code is not prose
```

We trained for 800 steps and got 20.12 dB. The paper's 17.89 dB is quoted.
Table 2 and §3.2 and papers.md 3.8 are structural; so is `0.5` in code and $0.5$ in math.
Glued: {glue:text}`psnr:.2f` dB. A year: 2021. Three seeds, 45 images at 1024 px.

:::{note}
Inside a note 64 px is still prose.
:::
"""


def _numbers(text: str, allowed=frozenset({"17.89"}), allow=()) -> list[str]:
    return [f.number for f in prose.hand_typed_numbers(Path("page.md"), text=text,
                                                       allowed=set(allowed), allow=list(allow))]


def test_finds_typed_results_and_skips_code_math_roles_and_structure() -> None:
    assert _numbers(PAGE) == ["800", "800", "20.12", "45", "1024", "64"]


def test_allow_phrases_and_reported_numbers() -> None:
    allow = [{"phrase": "1024 px", "why": "VIDIT's size"}, {"phrase": "45 images", "why": "x",
                                                            "page": "other.md"}]
    found = _numbers(PAGE, allow=allow)
    assert "1024" not in found and "45" in found  # the second entry is for another page


def test_decimals_are_results_but_bare_integers_are_not() -> None:
    assert _numbers("It has 3 levels and 0.35 of them.", allowed=set()) == ["0.35"]
    assert _numbers("at batch 16 it is faster", allowed=set()) == ["16"]
    assert _numbers("a version 0.4.1 of kornia", allowed=set()) == []


def test_reported_numbers_include_the_papers_differences(tmp_path: Path) -> None:
    (tmp_path / "p.csv").write_text("paper,metric,value\np,psnr,17.89\np,psnr,16.88\np,ssim,0.5\n")
    allowed = prose.reported_numbers(tmp_path)
    assert {"17.89", "16.88", "1.01", "1.0", "0.5"} <= allowed
    assert "17.39" not in allowed  # a PSNR minus an SSIM is no paper difference


def test_generated_blocks_and_comments_are_skipped() -> None:
    text = "<!-- generated: x -->\n20.12 dB\n<!-- end generated -->\n<!-- 3.5 dB -->\nok\n"
    assert _numbers(text, allowed=set()) == []


def test_malformed_allow_file_names_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "allow.yml"
    bad.write_text("allow:\n  - phrase: '64 px'\n")
    with pytest.raises(ValueError, match=r"allow\.yml: entry 0 needs a 'phrase' and a 'why'"):
        prose.load_allow(bad)


def test_no_page_of_the_book_types_a_result_by_hand() -> None:
    findings = prose.check_pages(prose.book_pages(Path(".")))
    assert not findings, "\n".join(map(str, findings[:40])) + (
        f"\n... and {len(findings) - 40} more" if len(findings) > 40 else "")
