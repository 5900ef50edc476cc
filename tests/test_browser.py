"""Open every built page in headless Chromium with no network; fail on anything broken.

Run after the book is built (``tests/test_notebooks.py`` builds it under profile ci).
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
    skip = {"genindex.html", "search.html"}
    return sorted(str(p.relative_to(HTML)) for p in HTML.rglob("*.html")
                  if p.name not in skip and "_static" not in p.parts)


@pytest.fixture(scope="module")
def server():
    if not (HTML / "index.html").is_file():
        pytest.fail(f"{HTML / 'index.html'} missing: build the book first (make test does)")
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


def test_pages_exist():
    assert "book/_generated/01_data.html" in pages()
    assert "book/intro.html" in pages()


@pytest.mark.parametrize("page", pages() or ["<no pages built>"])
def test_page_renders_offline(page, server, browser):
    ctx = browser.new_context()
    tab = ctx.new_page()
    problems: list[str] = []
    tab.on("console", lambda m: m.type == "error" and problems.append(f"console: {m.text}"))
    tab.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    tab.on("requestfailed", lambda r: problems.append(f"failed request: {r.url}"))

    def route(r):
        url = r.request.url
        if url.startswith(server) or url.startswith(("data:", "blob:")):
            r.continue_()
        else:
            problems.append(f"external request: {url}")
            r.abort()

    tab.route("**/*", route)
    resp = tab.goto(f"{server}/{page}", wait_until="load")
    assert resp is not None and resp.ok, f"{page}: HTTP {resp and resp.status}"
    tab.wait_for_load_state("networkidle")
    n_plots = tab.locator(".plotly-graph-div").count()
    if n_plots:
        tab.wait_for_function(
            "() => [...document.querySelectorAll('.plotly-graph-div')]"
            ".every(d => d.querySelector('.main-svg'))", timeout=30000)
    n_widgets = tab.locator('script[type="application/vnd.jupyter.widget-view+json"]').count()
    if n_widgets:
        tab.wait_for_selector(".jupyter-widgets.widget-tab, .widget-tab", timeout=30000)
        rendered = tab.locator(".jupyter-widgets").count()
        assert rendered >= n_widgets, f"{page}: {n_widgets} widget views, {rendered} rendered"
    if tab.locator("div.math, span.math").count():
        tab.wait_for_selector("mjx-container", timeout=30000)
    ctx.close()
    assert not problems, f"{page}:\n" + "\n".join(problems)
