"""Open every built page in headless Chromium with no network; fail on anything broken:
a console error, a failed or external request, a plotly figure, widget or formula that did
not render. The book is executed (profile ci) and built first by the ``built_book`` fixture.
"""

from __future__ import annotations

import functools
import http.server
import shutil
import threading
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
HTML = ROOT / "_build" / "html"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]

pytestmark = [pytest.mark.browser]


def pages() -> list[str]:
    """Every built page (the search and index pages have no figures)."""
    skip = {"genindex.html", "search.html"}
    return sorted(str(p.relative_to(HTML)) for p in HTML.rglob("*.html")
                  if p.name not in skip and "_static" not in p.parts)


@pytest.fixture(scope="module")
def server(built_book):
    handler = functools.partial(_Quiet, directory=str(HTML))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    t = threading.Thread(target=httpd.serve_forever, daemon=True)
    t.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    if CHROMIUM is None:
        pytest.fail("Debian's chromium is not installed (make test installs it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
        yield b
        b.close()


def test_every_page_renders_offline(server, browser):
    found = pages()
    assert "book/_generated/01_data.html" in found and "book/intro.html" in found
    failures = [msg for page in found for msg in _check_page(page, server, browser)]
    assert not failures, "\n".join(failures)


def _check_page(page: str, server: str, browser) -> list[str]:
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    ctx = browser.new_context()
    tab = ctx.new_page()
    problems: list[str] = []
    tab.on("console", lambda m: m.type == "error" and problems.append(f"console: {m.text}"))
    tab.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    tab.on("requestfailed", lambda r: problems.append(f"failed request: {r.url}"))
    tab.on("response", lambda r: r.status >= 400 and problems.append(f"HTTP {r.status}: {r.url}"))

    def route(r):
        url = r.request.url
        if url.startswith(server) or url.startswith(("data:", "blob:")):
            r.continue_()
        else:
            problems.append(f"external request: {url}")
            r.abort()

    tab.route("**/*", route)
    resp = tab.goto(f"{server}/{page}", wait_until="load")
    if resp is None or not resp.ok:
        return [f"{page}: HTTP {resp and resp.status}"]
    checks = [
        (".plotly-graph-div", "() => [...document.querySelectorAll('.plotly-graph-div')]"
                              ".every(d => d.querySelector('.main-svg'))",
         "a plotly figure did not render"),
        ('script[type="application/vnd.jupyter.widget-view+json"]',
         "() => document.querySelectorAll('.jupyter-widgets').length >= document"
         ".querySelectorAll('script[type=\"application/vnd.jupyter.widget-view+json\"]').length",
         "a saved widget did not render"),
        ("div.math, span.math", "() => document.querySelector('mjx-container') !== null",
         "math was not typeset (MathJax)"),
    ]
    for selector, ready, what in checks:
        if tab.locator(selector).count():
            try:
                tab.wait_for_function(ready, timeout=30000)
            except PlaywrightTimeout:
                problems.append(what)
    tab.wait_for_timeout(1000)  # late errors (fonts, favicon) still reach the handlers
    ctx.close()
    return [f"{page}: {p}" for p in problems]


def _offline_tab(browser, server, **context):
    """A new context and page that may load nothing but the book's own server."""
    ctx = browser.new_context(**context)
    tab = ctx.new_page()
    tab.route("**/*", lambda r: r.continue_() if r.request.url.startswith(server) else r.abort())
    return ctx, tab


def test_bibliography_renders_and_figures_are_numbered(server, browser):
    ctx, tab = _offline_tab(browser, server)
    tab.goto(f"{server}/book/references.html", wait_until="load")
    entries = tab.locator("div.citation, dl.citation > dt").count()
    text = tab.inner_text("main")
    assert entries >= 10, f"{entries} bibliography entries"
    assert "a deep learning perspective on the origin of facial expressions" in text.lower()
    tab.goto(f"{server}/book/intro.html", wait_until="load")
    assert tab.locator("main a[href*='references.html#']").count() >= 5
    assert "Breuer" in tab.locator("main .bibtex-citation").first.inner_text()  # the paper
    for name, least in (("01_data", 3), ("02_training", 3), ("03_visualization", 3),
                        ("04_facs_correlation", 3), ("05_transfer", 3),
                        ("06_micro_expressions", 4), ("07_apply", 2)):
        tab.goto(f"{server}/book/_generated/{name}.html", wait_until="load")
        captions = tab.locator("figure figcaption").all_inner_texts()
        assert len(captions) >= least, name
        assert all(c.strip().startswith("Fig.") for c in captions), captions
    ctx.close()


#: Code, output and table blocks the reader sees cut: content wider than a box that hides its
#: overflow, or a block reaching past the article's column without a scrolling box around it.
_CLIPPED = """() => {
  const col = document.querySelector('.bd-article-container') || document.querySelector('main');
  const right = col.getBoundingClientRect().right + 1;
  const scrolls = e => ['auto', 'scroll'].includes(getComputedStyle(e).overflowX);
  const out = [];
  for (const el of col.querySelectorAll('pre, table, .output, .cell_output > *')) {
    const box = el.getBoundingClientRect();
    if (box.width === 0) continue;
    const hides = ['hidden', 'clip'].includes(getComputedStyle(el).overflowX);
    let scroller = scrolls(el);
    for (let p = el.parentElement; p && p !== col && !scroller; p = p.parentElement) {
      scroller = scrolls(p);
    }
    if ((hides && el.scrollWidth > el.clientWidth + 1) || (box.right > right && !scroller)) {
      out.push(el.tagName + ': ' + (el.innerText || '').slice(0, 60).replace(/\\n/g, ' '));
    }
  }
  return out;
}"""
#: A block the check must flag (it runs on the first chapter before the real check).
_PLANT = """() => {
  const pre = document.createElement('pre');
  pre.style.overflowX = 'hidden'; pre.style.whiteSpace = 'pre'; pre.textContent = 'x'.repeat(900);
  (document.querySelector('.bd-article-container') || document.body).appendChild(pre);
}"""


def test_no_page_clips_a_block_at_1280px(server, browser):
    ctx, tab = _offline_tab(browser, server, viewport={"width": 1280, "height": 900})
    tab.goto(f"{server}/book/_generated/01_data.html", wait_until="load")
    tab.evaluate(_PLANT)
    assert any("xxxx" in c for c in tab.evaluate(_CLIPPED)), "the check misses a cut block"
    clipped = []
    for page in pages():
        if 'http-equiv="Refresh"' in (HTML / page).read_text():
            continue  # index.html only redirects to the introduction
        tab.goto(f"{server}/{page}", wait_until="load")
        clipped += [f"{page}: {c}" for c in tab.evaluate(_CLIPPED)]
    ctx.close()
    assert not clipped, "\n".join(clipped)


def test_results_page_lists_every_chapter(server, browser):
    import json

    from fer_helpers.book import toc_chapters

    ctx, tab = _offline_tab(browser, server)
    tab.goto(f"{server}/book/_generated/results.html", wait_until="load")
    headings = tab.locator("main h2").all_inner_texts()
    ctx.close()
    for name in toc_chapters(ROOT):
        nb = json.loads((ROOT / "notebooks" / f"{name}.ipynb").read_text())
        title = "".join(nb["cells"][0]["source"]).splitlines()[0].lstrip("# ").strip()
        plain = [h.replace("\u2019", "'") for h in headings]  # Sphinx curls apostrophes
        assert any(title in h for h in plain), f"{name} ({title!r}) not in {headings}"
