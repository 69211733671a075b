"""A real browser over a built book: a local HTTP server and Debian's chromium.

Python playwright (a pinned dependency) drives ``/usr/bin/chromium`` from Debian; the
browsers ``playwright install`` downloads are never used. ``.ci/run`` installs chromium
on a fresh machine.
"""

from __future__ import annotations

import contextlib
import functools
import re
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


#: Console errors and uncaught page errors that are not ours, each with the reason.
#: Each message is checked as ``"<text> [<url of its source>]"``; everything else a page
#: logs at level "error" (or throws) fails the browser tests.
ALLOWED_CONSOLE_ERRORS: list[tuple[re.Pattern, str]] = [
    (
        re.compile(r"^Identifier 'THEBE_JS_URL' has already been declared"),
        "sphinx-thebe (pulled in by Jupyter Book 1.x) puts its inline "
        "`const THEBE_JS_URL = ...` configuration snippet twice into every page's <head>; "
        "the second copy throws a SyntaxError in that one inline script. Thebe is disabled "
        "in _config.yml (launch_buttons.thebe: false), so nothing depends on the snippet; "
        "a fix belongs in sphinx-thebe / Jupyter Book.",
    ),
    (
        re.compile(
            r"^Got invalid theme mode: \. Resetting to auto\. "
            r"\[[^\]]*/_static/scripts/pydata-sphinx-theme\.js"
        ),
        "pydata-sphinx-theme logs this with console.error on the first visit of a browser "
        "profile (no 'mode' in localStorage yet: the empty mode), then falls back to 'auto'; "
        "a fresh headless profile always hits it on its first page.",
    ),
    (
        re.compile(
            r"^Failed to load resource: the server responded with a status of 404 .*"
            r"\[https?://[^/]+/favicon\.ico\]$"
        ),
        "the browser asks for /favicon.ico on its own; the book sets no favicon "
        "(html.favicon in _config.yml), so the local server answers 404.",
    ),
]


def unexpected_errors(messages: list[str]) -> list[str]:
    """The console/page errors (``"text [url]"``) not on the allow-list."""
    return [m for m in messages if not any(rx.search(m) for rx, _ in ALLOWED_CONSOLE_ERRORS)]


def record_errors(page, into: list[str]) -> None:
    """Collect ``"text [url]"`` of every console error and uncaught exception of ``page``."""
    page.on(
        "console",
        lambda m: (
            m.type == "error" and into.append(f"{m.text} [{(m.location or {}).get('url', '')}]")
        ),
    )
    page.on("pageerror", lambda e: into.append(f"{e} [{page.url}]"))


def require_chromium() -> None:
    """Skip the calling test when Debian's chromium is not installed."""
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium; .ci/run does it)")


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format, *args):
        pass


@contextlib.contextmanager
def serve(folder: Path):
    """Serve ``folder`` on 127.0.0.1 (a free port) in a thread; yields the base URL."""
    handler = functools.partial(_QuietHandler, directory=str(folder))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, name="book-http", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


@contextlib.contextmanager
def chromium():
    """A headless chromium browser (playwright, sync API)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield browser
        finally:
            browser.close()


def goto(page, url: str, attempts: int = 3):
    """``page.goto`` that tolerates the theme re-navigating to the same URL on first load
    (playwright: 'Navigation ... is interrupted by another navigation'), then waits for load."""
    from playwright.sync_api import Error

    for attempt in range(attempts):
        try:
            return page.goto(url, wait_until="load")
        except Error as exc:
            if "interrupted by another navigation" not in str(exc) or attempt == attempts - 1:
                raise
            page.wait_for_load_state("load")
    return None  # pragma: no cover
