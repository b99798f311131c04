"""Hand-typed numbers in the book's prose: find them, so that the prose cannot go stale.

A number that comes from a result, a recipe or a measurement (dB, SSIM, steps, seeds, sizes,
scene counts, minutes) must reach a page through ``{glue:text}`` from the cell that computes it,
never typed. :func:`hand_typed_numbers` reads a MyST page (or the README) and lists every number
of its prose that looks like such a value:

- every decimal number (``20.12``, ``0.69``), and
- every integer written with a result or recipe unit after it (``800 steps``, ``3 seeds``,
  ``64 px``, ``150 scenes``, ``27 min``, ``85 %``) or after ``batch``.

Not prose, never checked: the front matter, code cells and fenced blocks, directive options,
inline code, math, roles (``{glue:text}`...```, ``{cite}`...```), link targets, HTML comments and
the README's generated blocks (between ``<!-- generated: ... -->`` and ``<!-- end generated -->``).

Allowed without a glue:

- a number the paper reports, or the difference of two of its reported values of one metric,
  as it is rounded on the page (:func:`reported_numbers`; ``results/reported/<paper>.csv``);
- structural numbers: after ``Table``, ``Fig.``, ``Figure``, ``Eq.``, ``§``, ``Section``,
  ``papers.md``, ``arXiv``, version numbers with two dots, years;
- the facts in :data:`ALLOW_FILE` (``book/prose_allow.yml``): each entry is a phrase (the number
  with its words, as typed) and why it is not a result (a fact of the paper or of VIDIT, e.g.
  ``300 epochs`` of the paper's schedule), optionally for one page only.
"""

from __future__ import annotations

import csv
import itertools
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

import yaml

ALLOW_FILE = Path("book/prose_allow.yml")
REPORTED_DIR = Path("results/reported")

#: Words that make an integer a result, a recipe value or a measurement when they follow it.
UNITS = ("dB", "px", "pixel", "pixels", "step", "steps", "seed", "seeds", "scene", "scenes",
         "image", "images", "pair", "pairs", "min", "mins", "minute", "minutes", "s", "sec",
         "second", "seconds", "h", "hour", "hours", "GFLOP", "GFLOP/s", "GB", "MB", "GiB", "MiB",
         "kB", "%", "epoch", "epochs", "×", "x", "claims", "claim", "rows", "verdicts",
         "parameters", "M")
_UNIT = re.compile(r"\s*(?:-\s*)?(" + "|".join(re.escape(u) for u in
                                               sorted(UNITS, key=len, reverse=True)) + r")(?![\w/])")
_NUMBER = re.compile(r"(?<![\w.,/\-])[+\-−±]?\d+(?:,\d{3})*(?:\.\d+)?(?![\w.]*\d)")
_STRUCTURAL = re.compile(
    r"(Table|Tables|Fig\.|Figure|Figures|Eq\.|Eqs\.|§|Section|Sections|papers\.md|evidence\.md|"
    r"arXiv|Track|NTIRE|AIM|version|v|Python|Chapter|item|Item|issue|step|stage|Stage|model|"
    r"level|Level|scale|Scale)[\s ]*\(?$")

_FENCE = re.compile(r"^(```+|~~~+)")
_ROLE = re.compile(r"\{[\w:\-]+\}`[^`]*`")
_CODE = re.compile(r"`[^`]*`")
_MATH = re.compile(r"\$\$.*?\$\$|\$[^$\n]+\$")
_LINK_TARGET = re.compile(r"\]\([^)]*\)")
_URL = re.compile(r"https?://\S+")
_HTML_COMMENT = re.compile(r"<!--.*?-->", re.S)
_GENERATED = re.compile(r"<!-- generated:.*?<!-- end generated -->", re.S)


@dataclass(frozen=True)
class Finding:
    """One hand-typed number: where, which and the line it sits in."""

    path: str
    line: int
    number: str
    text: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: hand-typed number {self.number!r} in: {self.text.strip()}"


def prose_lines(text: str) -> list[tuple[int, str]]:
    """``(line number, prose)`` of a MyST page: code, math, roles, link targets and comments
    removed (blanked, so that the line numbers stay those of the file)."""
    text = _GENERATED.sub(lambda m: "\n" * m.group(0).count("\n"), text)
    text = _HTML_COMMENT.sub(lambda m: "\n" * m.group(0).count("\n"), text)
    text = re.sub(r"\$\$.*?\$\$", lambda m: "\n" * m.group(0).count("\n"), text, flags=re.S)
    lines = text.splitlines()
    out: list[tuple[int, str]] = []
    fence: str | None = None
    front = bool(lines) and lines[0].strip() == "---"
    for i, line in enumerate(lines, start=1):
        if front:
            if i > 1 and line.strip() == "---":
                front = False
            continue
        m = _FENCE.match(line.strip())
        if fence is None and m:
            # a directive whose body is prose (note, dropdown, admonition) stays checked;
            # code cells, code blocks, figures' options and tables of data are not prose
            head = line.strip()[len(m.group(1)):].strip()
            if head.startswith("{") and not head.startswith(("{code-cell}", "{code-block}",
                                                           "{code}", "{glue", "{math}")):
                continue
            fence = m.group(1)
            continue
        if fence is not None:
            if line.strip().startswith(fence) and line.strip().strip(fence[0]) == "":
                fence = None
            continue
        if line.lstrip().startswith(":") and re.match(r"\s*:[\w\-]+:", line):
            continue  # a directive's option
        if re.match(r"\s*(```|~~~)", line):
            continue
        for pat in (_ROLE, _CODE, _MATH, _LINK_TARGET, _URL):
            line = pat.sub(" ", line)
        out.append((i, line))
    return out


def _decimals(s: str) -> int:
    return len(s.split(".")[1]) if "." in s else 0


def reported_numbers(reported_dir: Path = REPORTED_DIR) -> set[str]:
    """The numbers a page may quote from the papers, as strings at every rounding from 0 to 4
    decimals: each reported value and each absolute difference of two reported values of the
    same paper and metric (the paper's own differences)."""
    allowed: set[str] = set()
    for path in sorted(Path(reported_dir).glob("*.csv")):
        by_metric: dict[tuple[str, str], list[float]] = {}
        with path.open(newline="") as f:
            for row in csv.DictReader(f):
                try:
                    value = float(row["value"])
                except (KeyError, ValueError):
                    continue
                by_metric.setdefault((row.get("paper", ""), row.get("metric", "")), []).append(value)
        for values in by_metric.values():
            diffs = [abs(a - b) for a, b in itertools.combinations(values, 2)]
            for v in itertools.chain(values, diffs):
                for digits in range(5):
                    allowed.add(f"{v:.{digits}f}")
    return allowed


def load_allow(path: Path = ALLOW_FILE) -> list[dict[str, str]]:
    """The allow-list entries (``phrase``, ``why``, optional ``page``); a malformed file raises
    a ``ValueError`` naming the file and the entry."""
    if not Path(path).exists():
        return []
    data = yaml.safe_load(Path(path).read_text()) or {}
    entries = data.get("allow", []) if isinstance(data, dict) else None
    if not isinstance(entries, list):
        raise ValueError(f"{path}: expected a mapping with an 'allow' list")
    for k, e in enumerate(entries):
        if not isinstance(e, dict) or not e.get("phrase") or not e.get("why"):
            raise ValueError(f"{path}: entry {k} needs a 'phrase' and a 'why' (got {e!r})")
    return entries


def _normalise(number: str) -> str:
    return number.replace("−", "-").replace(",", "").lstrip("+-±")


def hand_typed_numbers(path: Path, text: str | None = None, allowed: set[str] | None = None,
                       allow: list[dict[str, str]] | None = None) -> list[Finding]:
    """The hand-typed result numbers of one page (see the module docstring for the rules)."""
    path = Path(path)
    text = path.read_text() if text is None else text
    allowed = reported_numbers() if allowed is None else allowed
    allow = load_allow() if allow is None else allow
    phrases = [e["phrase"] for e in allow if not e.get("page") or Path(e["page"]) == path]
    found: list[Finding] = []
    for lineno, line in prose_lines(text):
        masked = line
        for phrase in phrases:
            masked = masked.replace(phrase, " " * len(phrase))
        for m in _NUMBER.finditer(masked):
            number = m.group(0)
            plain = _normalise(number)
            before = masked[:m.start()]
            after = masked[m.end():]
            if _STRUCTURAL.search(before):
                continue
            if re.fullmatch(r"(19|20)\d\d", plain):
                continue  # a year
            unit = _UNIT.match(after)
            batch = re.search(r"batch(?: size)?(?: of)?\s*$", before)
            if "." not in plain and not unit and not batch:
                continue  # a bare integer: a count in words, an index, a layer size
            if plain in allowed:
                continue  # the paper's own number
            found.append(Finding(str(path), lineno, number, line))
    return found


def book_pages(root: Path = Path(".")) -> list[Path]:
    """The hand-written pages the check covers: every ``book/**/*.md`` and the README."""
    pages = sorted(p for p in (root / "book").rglob("*.md") if not p.name.startswith("_"))
    return pages + [root / "README.md"]


def check_pages(pages: Iterable[Path]) -> list[Finding]:
    """Every hand-typed number of ``pages``."""
    allowed, allow = reported_numbers(), load_allow()
    return [f for p in pages for f in hand_typed_numbers(p, allowed=allowed, allow=allow)]
