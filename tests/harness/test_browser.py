"""The built HTML book in a real browser (headless Chromium driven by Playwright).

Every page of a build is served from 127.0.0.1 and opened; per page we check that it loads
(HTTP 200) without console errors, uncaught exceptions or failed requests, that it loads nothing
from another host (the book must work offline), that every ``<img>`` decoded, that every
``<table>`` has a body row with cells, and that every internal link resolves (target 200, and a
``#fragment`` names an element ``id``/``name`` on the target page). All problems are collected
and reported together, in one message that names the page and the problem.

Which build: the smoke book of the session (fixture ``smoke_book`` in conftest.py, shared with
test_book.py), or the HTML folder named by ``RELIGHT_BROWSER_HTML`` (e.g.
``RELIGHT_BROWSER_HTML=_build/quick/_build/html`` after ``make book``), which skips the build.

Pages: every ``*.html`` of the build except those under ``_static/`` (the theme's Jinja macro
files, not pages), ``_sources/``, ``_images/`` and ``_downloads/``; ``genindex.html`` is opened
like any page, and ``search.html`` is opened with a query (the longest word of the front page's
heading), which must find something. The root ``index.html`` is Sphinx's redirect page: the
redirect is followed and its target checked.

Tables readers can read: at a 1400 px wide window, the key columns of every table (the header
cells marked ``<th class="key">`` by :func:`relight_lib.harness.book.html_table`: the row, the
metric the table ranks by, seeds, converged; for any other table its first column) must be
visible without scrolling sideways: inside the table's scroll box and the window. The build
must have the pages this is about: a paper chapter, the scorecard and a run page
(:func:`missing_page_kinds`), and the scorecard must link every claim to its run pages and show
the forest plot (:func:`scorecard_problems`, read from the HTML file).

Screenshots (full page, 1400 px wide) of the front page and of a page with a results table
(the baselines chapter, else the first page with a ``<table>``) are written to
``_build/browser/<profile>-front.png`` and ``<profile>-results-table.png`` and their paths
printed.

Needs Debian's ``chromium`` (``apt-get install chromium``) and the ``playwright`` package (the
``test`` extra); Playwright's own browser download is never used.
"""

from __future__ import annotations

import functools
import http.server
import os
import re
import shutil
import sys
import threading
import time
import urllib.error
import urllib.request
from collections import defaultdict
from contextlib import contextmanager
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urldefrag, urljoin, urlsplit

import pytest

REPO = Path(__file__).resolve().parents[2]
SHOTS = REPO / "_build" / "browser"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
# Folders of a Sphinx build that hold no pages: _static/*.html are the theme's Jinja macro
# templates, _sources/ the page sources, _images/ the figures.
NOT_PAGES = {"_static", "_sources", "_images", "_downloads"}
PREFERRED_TABLE_PAGE = "book/baselines/index.html"
VIEWPORT_WIDTH = 1400  # the window the key columns of every table must fit without scrolling
SCORECARD_PAGE = "book/scorecard.html"
FOREST_SECTION = "every-claim-at-a-glance"  # the scorecard's section with the forest plot
MAX_PER_PAGE = 25
COMMON = 3  # a problem on more pages than this is reported once, with its pages
SKIP_SCHEMES = ("mailto", "javascript", "tel", "data", "blob")


# --------------------------------------------------------------------------- requirements

def _chromium() -> str:
    exe = shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(exe).exists():
        pytest.skip("Chromium is not installed (no `chromium` on PATH, no /usr/bin/chromium): "
                    "install Debian's package with `apt-get install chromium` (.ci/run does "
                    "when it runs as root); Playwright's own browser download is not used")
    return exe


def _playwright():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("the Python package `playwright` is not importable: install the test extra "
                    "(`make venv`, or `pip install -e '.[test]'`); do not run `playwright "
                    "install`, the test drives Debian's chromium")
    return sync_playwright


# --------------------------------------------------------------------------- serving

class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        # the browser drops connections it no longer needs (a page navigated away): not news
        if not isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            super().handle_error(request, client_address)


@contextmanager
def _serve(html_dir: Path):
    """Base URL of a static server for ``html_dir`` on a free port of 127.0.0.1."""
    server = _Server(("127.0.0.1", 0),
                     functools.partial(_QuietHandler, directory=str(html_dir)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


# --------------------------------------------------------------------------- helpers

def _pages(html_dir: Path) -> list[str]:
    """Every page of the build, relative to the HTML folder, the front page first."""
    pages = sorted(p.relative_to(html_dir).as_posix() for p in html_dir.rglob("*.html")
                   if not NOT_PAGES & set(p.relative_to(html_dir).parts[:-1]))
    pages.sort(key=lambda p: p != "index.html")
    return pages


def _meta_refresh(path: Path) -> str | None:
    """The target of a ``<meta http-equiv="refresh">`` redirect page (Sphinx's root
    index.html is one), else None."""
    m = re.search(r"""<meta\s+http-equiv=["']?refresh["']?\s+content=["']?\s*\d+\s*;\s*"""
                  r"""url=([^"'>\s]+)""", path.read_text(errors="replace")[:4000], re.I)
    return m.group(1) if m else None


class _Anchors(HTMLParser):
    """ids and <a name> of a static HTML file (for link targets the browser did not open)."""

    def __init__(self):
        super().__init__()
        self.names: set[str] = set()

    def handle_starttag(self, tag, attrs):
        for key, value in attrs:
            if value and (key == "id" or (key == "name" and tag == "a")):
                self.names.add(value)


def _page_key(url: str) -> str:
    """A URL without query and fragment; a folder stands for its index.html."""
    parts = urlsplit(url)
    path = parts.path + ("index.html" if parts.path.endswith("/") else "")
    return f"{parts.scheme}://{parts.netloc}{path}"


def _short(text, n: int = 300) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= n else text[: n - 3] + "..."


def _label(html_dir: Path) -> str:
    """'quick' for .../_build/quick/_build/html (how `relight book` lays a build out)."""
    if html_dir.name == "html" and html_dir.parent.name == "_build":
        return html_dir.parents[1].name
    return html_dir.name or "book"


# Run in the page once it has loaded: lazily loaded images are made eager and awaited (at
# most 10 s), then images, tables, links and element ids are reported.
_INSPECT = """
async () => {
  const imgs = Array.from(document.images);
  imgs.forEach(i => { if (i.loading === 'lazy') i.loading = 'eager'; });
  await Promise.race([
    Promise.all(imgs.filter(i => !i.complete).map(i => new Promise(r => {
      i.addEventListener('load', r); i.addEventListener('error', r); }))),
    new Promise(r => setTimeout(r, 10000))]);
  const clean = s => s.replace(/[#\\u00b6]/g, '').replace(/\\s+/g, ' ').trim().slice(0, 60);
  const label = t => {
    const cap = t.querySelector('caption');
    if (cap && clean(cap.textContent)) return 'caption ' + JSON.stringify(clean(cap.textContent));
    let h = t, n = 0;
    while (h && n++ < 200) {
      h = h.previousElementSibling || h.parentElement;
      if (h && /^H[1-6]$/.test(h.tagName)) return 'after heading ' + JSON.stringify(clean(h.textContent));
      const inner = h && h.querySelectorAll ? h.querySelectorAll('h1,h2,h3,h4,h5,h6') : [];
      if (inner.length && !h.contains(t)) return 'after heading ' + JSON.stringify(clean(inner[inner.length - 1].textContent));
    }
    return 'first cell ' + JSON.stringify(clean((t.querySelector('th,td') || {textContent: ''}).textContent));
  };
  // the part of the window a table's cells show in without scrolling sideways: the window,
  // narrowed by every ancestor that clips or scrolls horizontally (scrolled to its left end)
  const viewWidth = document.documentElement.clientWidth;
  const visibleBox = el => {
    let left = 0, right = viewWidth;
    for (let a = el.parentElement; a && a !== document.documentElement; a = a.parentElement) {
      if (/(auto|scroll|hidden|clip)/.test(getComputedStyle(a).overflowX)) {
        const r = a.getBoundingClientRect();
        left = Math.max(left, r.left);
        right = Math.min(right, r.left + a.clientLeft + a.clientWidth);
      }
    }
    return [left, right];
  };
  const hiddenKeys = t => {
    let cells = Array.from(new Set(t.querySelectorAll('th.key')));
    if (!cells.length && t.rows.length && t.rows[0].cells.length) cells = [t.rows[0].cells[0]];
    const [left, right] = visibleBox(t);
    return cells.map(c => ({name: clean(c.textContent) || '(row label)',
                            box: c.getBoundingClientRect()}))
      .filter(c => c.box.width > 0 && (c.box.right > right + 1 || c.box.left < left - 1))
      .map(c => ({name: c.name, left: Math.round(c.box.left), right: Math.round(c.box.right),
                  from: Math.round(left), to: Math.round(right)}));
  };
  window.scrollTo(0, 0);
  const tables = Array.from(document.querySelectorAll('table')).map((t, k) => {
    const body = Array.from(t.rows).filter(r => r.parentElement.tagName !== 'THEAD'
      && r.parentElement.tagName !== 'TFOOT' && r.cells.length > 0);
    return {index: k + 1, label: label(t), bodyRows: body.length, rows: t.rows.length,
            hiddenKeys: hiddenKeys(t)};
  });
  return {
    images: imgs.map(i => ({src: i.currentSrc || i.src || i.getAttribute('src') || '',
                            complete: i.complete, width: i.naturalWidth})),
    tables: tables,
    links: Array.from(document.querySelectorAll('a[href]')).map(a => ({
      href: a.href, raw: a.getAttribute('href')})),
    ids: Array.from(document.querySelectorAll('[id]')).map(e => e.id).concat(
      Array.from(document.querySelectorAll('a[name]')).map(e => e.getAttribute('name'))),
    title: document.title,
    heading: (document.querySelector('main h1, h1') || {textContent: ''}).textContent,
  };
}
"""


# --------------------------------------------------------------------------- the check

@dataclass
class Findings:
    pages: list[str]
    problems: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    shots: list[Path] = field(default_factory=list)
    internal_links: int = 0
    external_links: int = 0
    seconds: float = 0.0

    def report(self, base: str, html_dir: Path) -> str:
        """One message for all problems: a problem found on more than COMMON pages is listed
        once with the pages it is on, the rest page by page."""
        per_page = {p: [_short(m.replace(base, "/")) for m in dict.fromkeys(v)]
                    for p, v in self.problems.items() if v}
        on_pages: dict[str, list[str]] = defaultdict(list)
        for p, msgs in per_page.items():
            for m in msgs:
                on_pages[m].append(p)
        common = {m: ps for m, ps in on_pages.items() if len(ps) > COMMON}
        lines = [f"on {len(ps)} pages ({', '.join(sorted(ps)[:3])}, ...): {m}"
                 for m, ps in common.items()]
        for p in sorted(per_page):
            own = [m for m in per_page[p] if m not in common]
            lines += [f"{p}: {m}" for m in own[:MAX_PER_PAGE]]
            if len(own) > MAX_PER_PAGE:
                lines.append(f"{p}: ... and {len(own) - MAX_PER_PAGE} more")
        total = sum(len(v) for v in per_page.values())
        return (f"{total} problem(s) on {len(per_page)} of {len(self.pages)} pages of "
                f"{html_dir}:\n  " + "\n  ".join(lines))


def check_site(html_dir: Path, base: str, shots_dir: Path | None = None) -> Findings:
    """Open every page of ``html_dir`` (served at ``base``) in headless Chromium."""
    chromium = _chromium()
    sync_playwright = _playwright()
    host = urlsplit(base).netloc
    found = Findings(pages=_pages(html_dir))
    problems = found.problems
    ids_by_page: dict[str, set[str]] = {}   # _page_key(URL) -> ids/names in the DOM
    links: list[tuple[str, str, str]] = []  # (page, href as written, absolute URL)
    external_links: set[str] = set()
    table_page: str | None = None
    search_word: str | None = None
    current = {"page": "(before the first page)"}
    settled: set[str] = set()  # the run-page kinds already waited on (_settles)
    t0 = time.monotonic()

    def shoot(page, name: str) -> None:
        if shots_dir is not None:
            shots_dir.mkdir(parents=True, exist_ok=True)
            shot = shots_dir / f"{_label(html_dir)}-{name}.png"
            page.screenshot(path=str(shot), full_page=True)
            found.shots.append(shot)

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, headless=True, args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(viewport={"width": VIEWPORT_WIDTH, "height": 900})

            def route(r):
                # nothing leaves 127.0.0.1: an external load is recorded and aborted, so the
                # test means the same on a machine with internet (routing also turns the HTTP
                # cache off, so every load is a fresh 200)
                url = r.request.url
                if urlsplit(url).scheme in ("http", "https", "ws", "wss") and \
                        urlsplit(url).netloc != host:
                    problems[current["page"]].append(
                        f"loads an external resource ({r.request.resource_type}): {url}")
                    r.abort()
                else:
                    r.continue_()

            def on_console(msg):
                if msg.type == "error":
                    loc = msg.location or {}
                    where = (f" [{loc['url']}:{loc.get('lineNumber', '')}]" if loc.get("url")
                             else "")
                    problems[current["page"]].append(f"console error: {msg.text}{where}")

            def on_request_failed(req):
                if urlsplit(req.url).netloc == host:  # external ones are reported by route()
                    problems[current["page"]].append(
                        f"request failed ({req.failure}): {req.url}")

            def on_response(resp):
                if resp.status >= 400:
                    problems[current["page"]].append(f"HTTP {resp.status}: {resp.url}")

            context.route("**/*", route)
            page = context.new_page()
            page.on("console", on_console)
            page.on("pageerror", lambda err: problems[current["page"]].append(
                f"uncaught page error: {err}"))
            page.on("requestfailed", on_request_failed)
            page.on("response", on_response)

            for rel in found.pages:
                redirect = _meta_refresh(html_dir / rel)
                current["page"] = f"{rel} (redirects to {redirect})" if redirect else rel
                name = current["page"]
                url = urljoin(base, rel)
                if rel == "search.html" and search_word:
                    url += f"?q={search_word}"  # run a search, not just load the form
                try:
                    resp = page.goto(url, wait_until="load", timeout=30_000)
                    if redirect:
                        target = urljoin(url, redirect)
                        links.append((name, redirect, target))
                        page.wait_for_url(_page_key(target) + "*", wait_until="load",
                                          timeout=15_000)
                    if _settles(rel, settled):
                        try:
                            page.wait_for_load_state("networkidle", timeout=5_000)
                        except Exception:
                            pass  # a page that keeps polling is not a failure by itself
                except Exception as err:  # noqa: BLE001 - any navigation failure is a finding
                    problems[name].append(f"did not load: {_short(err)}")
                    continue
                if resp is None or resp.status != 200:
                    problems[name].append(f"HTTP {resp.status if resp else 'no response'}")
                if rel == "search.html" and search_word:
                    try:
                        page.wait_for_selector("#search-results ul.search li", timeout=10_000)
                    except Exception:
                        problems[name].append(f"the search for {search_word!r} (a word of the "
                                              "front page's heading) found nothing in 10 s")
                info = page.evaluate(_INSPECT)
                ids_by_page[_page_key(page.url)] = set(info["ids"])
                if rel == "index.html":
                    words = re.findall(r"[A-Za-z]{4,}", info["heading"] or info["title"])
                    search_word = max(words, key=len, default=None)

                for img in info["images"]:
                    if not (img["complete"] and img["width"] > 0):
                        problems[name].append(f"image did not load: {img['src']}")
                for t in info["tables"]:
                    if t["bodyRows"] == 0:
                        problems[name].append(
                            f"table {t['index']} ({t['label']}) has no body row with cells "
                            f"({t['rows']} row(s), all in <thead>/<tfoot> or empty)")
                    for k in t["hiddenKeys"]:
                        problems[name].append(
                            f"table {t['index']} ({t['label']}): key column {k['name']!r} is "
                            f"not visible without scrolling sideways at {VIEWPORT_WIDTH} px "
                            f"(it spans {k['left']}-{k['right']} px, the table shows "
                            f"{k['from']}-{k['to']} px)")
                if info["tables"] and table_page is None:
                    table_page = page.url  # after a redirect, the page it led to
                for link in info["links"]:
                    href = link["href"]
                    scheme = urlsplit(href).scheme
                    if scheme in SKIP_SCHEMES:
                        continue
                    if scheme in ("http", "https") and urlsplit(href).netloc != host:
                        external_links.add(href)  # not followed: the book may cite the web
                        continue
                    links.append((name, link["raw"], href))

                if rel == "index.html":
                    shoot(page, "front")
                elif rel == PREFERRED_TABLE_PAGE:
                    shoot(page, "results-table")

            if shots_dir and PREFERRED_TABLE_PAGE not in found.pages and table_page:
                current["page"] = table_page.replace(base, "")
                page.goto(table_page, wait_until="load", timeout=30_000)
                shoot(page, "results-table")
        finally:
            browser.close()

    # internal links: the target answers 200, and a fragment names an element on it
    status: dict[str, int | str] = {}
    static_ids: dict[str, set[str]] = {}
    for name, raw, href in links:
        target, fragment = urldefrag(href)
        key = _page_key(target)
        if key not in status:
            try:
                with urllib.request.urlopen(target, timeout=10) as r:
                    status[key] = r.status
                    if key not in ids_by_page and "html" in r.headers.get("Content-Type", ""):
                        parser = _Anchors()
                        parser.feed(r.read().decode("utf-8", "replace"))
                        static_ids[key] = parser.names
            except urllib.error.HTTPError as err:
                status[key] = err.code
            except OSError as err:
                status[key] = f"error {err}"
        if status[key] != 200:
            problems[name].append(f"broken link {raw!r}: {target} -> {status[key]}")
            continue
        fragment = unquote(fragment)
        if fragment and fragment not in ids_by_page.get(key, static_ids.get(key, set())):
            problems[name].append(f"link {raw!r}: no element with id or name {fragment!r} on "
                                  f"{target.replace(base, '/')}")

    found.internal_links = len({h for _, _, h in links})
    found.external_links = len(external_links)
    found.seconds = time.monotonic() - t0
    return found


# --------------------------------------------------------------------------- the book's pages

_RUN_PAGE_OF_PAPER = re.compile(r"results/[^/]+/executed/([^/]+)/[^/]+__[^/]+\.html")


def _settles(rel: str, settled: set[str]) -> bool:
    """Whether the check waits for the network to go quiet on page ``rel`` (at least 0.5 s a
    page, so a late request is seen on the page that made it): every page, except that of the
    run pages only the first of each paper. The run pages of a paper share one template and
    the same kinds of output, and they are most of the book's pages (one per row)."""
    m = _RUN_PAGE_OF_PAPER.fullmatch(rel)
    if m is None:
        return True
    if m.group(1) in settled:
        return False
    settled.add(m.group(1))
    return True


def missing_page_kinds(pages: list[str]) -> list[str]:
    """The kinds of page the browser check must cover that a build lacks: a paper chapter
    (``book/<paper>/index.html``), the scorecard, a run page
    (``results/<profile>/executed/<paper>/<table>__<variant>.html``)."""
    kinds = {
        "a paper chapter (book/<paper>/index.html)":
            lambda p: re.fullmatch(r"book/[^/]+/index\.html", p) is not None,
        f"the scorecard ({SCORECARD_PAGE})": lambda p: p == SCORECARD_PAGE,
        "a run page (results/<profile>/executed/<paper>/<table>__<variant>.html)":
            lambda p: re.fullmatch(r"results/[^/]+/executed/[^/]+/[^/]+__[^/]+\.html", p)
            is not None,
    }
    return [kind for kind, match in kinds.items() if not any(match(p) for p in pages)]


#: What a claims row records for its ``span.no-run-page``: none of its rows ran at the profile,
#: which the row says instead of linking.
NO_RUN_PAGE = "(no run page)"


class _Claims(HTMLParser):
    """The scorecard's claims: for each body row of a ``table.claims`` and each
    ``p.lpips-only`` paragraph, the hrefs it links; and the images in the forest plot's
    section."""

    def __init__(self):
        super().__init__()
        self.rows: list[list[str]] = []
        self.lpips: list[list[str]] = []
        self.forest_images = 0
        self._table = self._body = self._row = self._para = False
        self._section_depth = 0  # > 0 inside the forest plot's <section>

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        classes = (a.get("class") or "").split()
        if tag == "section":
            if self._section_depth:
                self._section_depth += 1
            elif a.get("id") == FOREST_SECTION:
                self._section_depth = 1
        elif tag == "img" and self._section_depth:
            self.forest_images += 1
        elif tag == "table" and "claims" in classes:
            self._table = True
        elif tag == "tbody" and self._table:
            self._body = True
        elif tag == "tr" and self._body:
            self._row = True
            self.rows.append([])
        elif tag == "p" and "lpips-only" in classes:
            self._para = True
            self.lpips.append([])
        elif tag == "span" and "no-run-page" in classes and self._row:
            self.rows[-1].append(NO_RUN_PAGE)  # the claim's rows did not run at this profile
        elif tag == "a" and a.get("href"):
            if self._row:
                self.rows[-1].append(a["href"])
            elif self._para:
                self.lpips[-1].append(a["href"])

    def handle_endtag(self, tag):
        if tag == "section" and self._section_depth:
            self._section_depth -= 1
        elif tag == "table":
            self._table = self._body = self._row = False
        elif tag == "tbody":
            self._body = False
        elif tag == "tr":
            self._row = False
        elif tag == "p":
            self._para = False


_RUN_PAGE = re.compile(r"(^|/)results/[^/]+/executed/[^/]+/[^/]+__[^/#]+\.html(#.*)?$")


def scorecard_problems(html: str) -> list[str]:
    """What the built scorecard lacks: a claim (a body row of a ``table.claims``) or a group of
    LPIPS-only claims (``p.lpips-only``) without a link to a run page
    (``results/<profile>/executed/<paper>/<table>__<variant>.html``), any claim at all, or an
    image (the forest plot) in its section ``#every-claim-at-a-glance``. That the links resolve
    is the browser check's part."""
    parser = _Claims()
    parser.feed(html)
    problems = []
    if not parser.rows and not parser.lpips:
        problems.append("no claims: no body row of a table.claims, no p.lpips-only paragraph")
    for i, hrefs in enumerate(parser.rows, 1):
        if not any(_RUN_PAGE.search(h) or h == NO_RUN_PAGE for h in hrefs):
            problems.append(f"claims row {i}: no link to a run page (links: {hrefs})")
    for i, hrefs in enumerate(parser.lpips, 1):
        if not any(_RUN_PAGE.search(h) for h in hrefs):
            problems.append(f"LPIPS-only paragraph {i}: no link to a run page")
    if parser.forest_images == 0:
        problems.append(f"no image in section #{FOREST_SECTION} (the forest plot)")
    return problems


# --------------------------------------------------------------------------- tests

@pytest.fixture
def html_dir(request) -> Path:
    """The HTML folder under test: $RELIGHT_BROWSER_HTML, or the session's smoke book."""
    _chromium()
    _playwright()  # skip before building a book nobody can look at
    env = os.environ.get("RELIGHT_BROWSER_HTML")
    if env:
        path = Path(env).expanduser()
        if not path.is_absolute() and not path.exists():
            path = REPO / path
        path = path.resolve()
        if not (path / "index.html").is_file():
            pytest.fail(f"RELIGHT_BROWSER_HTML={env}: no index.html in {path}")
        return path
    _, html, _ = request.getfixturevalue("smoke_book")
    return Path(html).resolve()


@pytest.mark.slow
@pytest.mark.xdist_group("smoke_book")  # html_dir asks for the smoke book at run time
def test_every_page_of_the_book_works_in_a_browser(html_dir, report):
    with _serve(html_dir) as base:
        found = check_site(html_dir, base, shots_dir=SHOTS)
    assert "index.html" in found.pages, f"no index.html in {html_dir}"
    missing = missing_page_kinds(found.pages)
    assert not missing, f"the build at {html_dir} has no {', no '.join(missing)}"
    card = scorecard_problems((html_dir / SCORECARD_PAGE).read_text(errors="replace"))
    assert not card, f"{SCORECARD_PAGE}:\n  " + "\n  ".join(card)
    report(f"browser: {len(found.pages)} pages of {html_dir} in {found.seconds:.1f} s; "
           f"{found.internal_links} internal links checked, {found.external_links} external "
           "links not followed")
    for shot in found.shots:
        report(f"browser: screenshot {shot}")
    if any(found.problems.values()):
        pytest.fail(found.report(base, html_dir), pytrace=False)


def test_the_browser_check_finds_each_kind_of_problem(tmp_path):
    """The checker itself, on a three-page site with one of each problem (a few seconds)."""
    site = tmp_path / "site"
    (site / "sub").mkdir(parents=True)
    (site / "_static").mkdir()
    (site / "_static" / "macros.html").write_text("{% macro x() %}{% endmacro %}")  # not a page
    png = (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00"
           b"\x00\x00\x1f\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\xff\xff?\x00\x05\xfe\x02\xfe"
           b"\xa75\x81\x84\x00\x00\x00\x00IEND\xaeB`\x82")
    (site / "ok.png").write_bytes(png)
    (site / "index.html").write_text(
        '<meta http-equiv="Refresh" content="0; url=good.html" />')
    (site / "good.html").write_text(
        "<html><head><title>Good</title></head><body><h1 id='top'>Good page</h1>"
        "<img src='ok.png'><table><thead><tr><th>a</th></tr></thead>"
        "<tbody><tr><td>1</td></tr></tbody></table>"
        "<div style='overflow-x:auto;width:500px'><table><thead><tr>"
        "<th class='key'>row</th><th class='key'>PSNR</th>" + "<th>wide column</th>" * 30
        + "</tr></thead><tbody><tr><td>a</td><td>1</td>" + "<td>some value</td>" * 30
        + "</tr></tbody></table></div>"
        "<a href='sub/bad.html#here'>ok</a> <a href='#top'>top</a> <a href='#'>x</a>"
        "<a href='mailto:a@b.c'>mail</a> <a href='https://example.org/'>web</a></body></html>")
    (site / "sub" / "bad.html").write_text(
        "<html><head><title>Bad</title><script src='https://cdn.example.org/x.js'></script>"
        "</head><body><h2 id='here'>Bad</h2><img src='missing.png'>"
        "<table><thead><tr><th>only a head</th></tr></thead><tbody></tbody></table>"
        "<div style='overflow-x:auto;width:400px'><table><thead><tr><th>row</th>"
        + "<th>wide column</th>" * 30 + "<th class='key'>Score_l2</th></tr></thead><tbody><tr>"
        + "<td>a</td>" + "<td>some value</td>" * 30 + "<td>1.5</td></tr></tbody></table></div>"
        "<a href='../nowhere.html'>gone</a> <a href='../good.html#nope'>no such id</a>"
        "<script>console.error('boom'); undefinedFunction();</script></body></html>")
    with _serve(site) as base:
        found = check_site(site, base)
    assert found.pages == ["index.html", "good.html", "sub/bad.html"]
    assert not found.problems.get("good.html") and not found.problems.get(
        "index.html (redirects to good.html)"), dict(found.problems)
    bad = "\n".join(found.problems["sub/bad.html"])
    for expected in ("loads an external resource (script): https://cdn.example.org/x.js",
                     "image did not load", "missing.png", "HTTP 404",
                     "table 1 (after heading \"Bad\") has no body row",
                     "broken link '../nowhere.html'", "-> 404",
                     "no element with id or name 'nope'", "console error: boom",
                     "uncaught page error", "undefinedFunction",
                     "table 2 (after heading \"Bad\"): key column 'Score_l2' is not visible "
                     "without scrolling sideways at 1400 px"):
        assert expected in bad, f"{expected!r} not reported:\n{bad}"
    assert found.external_links == 1 and "sub/bad.html:" in found.report(base, site)
    # the first column of a table without key marks is its key column, and it is visible
    assert "key column 'row'" not in bad


def test_the_pages_the_browser_check_must_cover():
    pages = ["index.html", "book/intro.html", "book/ltnet/index.html", "book/scorecard.html",
             "results/smoke/executed/ltnet/table2__i_d.html"]
    assert missing_page_kinds(pages) == []
    missing = missing_page_kinds(["index.html", "book/intro.html"])
    assert len(missing) == 3 and "the scorecard" in missing[1]
    assert missing_page_kinds(pages[:2] + pages[3:]) == [
        "a paper chapter (book/<paper>/index.html)"]


def test_scorecard_problems_finds_unlinked_claims_and_a_missing_forest_plot():
    run = "../results/smoke/executed/ltnet/table2__i_d.html"
    good = (f"<section id='{FOREST_SECTION}'><h2>x</h2><img src='f.png'></section>"
            "<section id='every-claim'><table class='dataframe relight-table claims'><thead>"
            "<tr><th class='key'>claim</th><th>runs</th></tr></thead><tbody>"
            f"<tr><td>c1</td><td><a href='{run}'>a</a> vs <a href='{run}'>b</a></td></tr>"
            "</tbody></table>"
            f"<p class='lpips-only'>2 more: x (<a href='{run}'>a</a>)</p></section>")
    assert scorecard_problems(good) == []
    bad = (good.replace("<img src='f.png'>", "")
           .replace("</tbody>", "<tr><td>c2</td><td><a href='ltnet/index.html'>ch</a></td></tr>"
                                "</tbody>")
           .replace(f"(<a href='{run}'>a</a>)", "(a)"))
    problems = scorecard_problems(bad)
    assert problems[0].startswith("claims row 2: no link to a run page")
    assert problems[1] == "LPIPS-only paragraph 1: no link to a run page"
    assert problems[2].startswith(f"no image in section #{FOREST_SECTION}")
    assert scorecard_problems("<p>nothing</p>")[0].startswith("no claims")
    # a claim whose rows did not run at the profile says so instead of linking
    not_run = good.replace("</tbody>", "<tr><td>c3</td><td>a vs b <span class='no-run-page'>"
                                       "(no run page: not run at the quick profile)</span>"
                                       "</td></tr></tbody>")
    assert scorecard_problems(not_run) == []


def test_the_check_waits_for_a_quiet_network_once_per_papers_run_pages():
    settled: set[str] = set()
    pages = ["index.html", "results/smoke/executed/ltnet/table1__a.html",
             "results/smoke/executed/ltnet/table2__b.html", "book/ltnet/index.html",
             "results/smoke/executed/msrnet/table1__a.html", "book/scorecard.html",
             "results/smoke/executed/msrnet/table2__c.html"]
    assert [p for p in pages if _settles(p, settled)] == [
        "index.html", "results/smoke/executed/ltnet/table1__a.html", "book/ltnet/index.html",
        "results/smoke/executed/msrnet/table1__a.html", "book/scorecard.html"]
