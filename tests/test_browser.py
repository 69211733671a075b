"""The rendered book in a real browser (chromium via playwright; issue 7).

The repository's book (both reference cohorts' committed notebooks plus the prose
pages) is built in a temporary copy of the repository with the same command as
``make book`` (``jupyter-book build --all -W -n --keep-going``, via
``runner.build_book``) -- faster than executing notebooks and it covers every page.
It is served over HTTP on 127.0.0.1 and every page of ``_toc.yml`` is visited once:

* it loads with HTTP 200;
* every ``<img>`` has decoded (``naturalWidth > 0``);
* every ``<table>`` has a header row (``thead th`` or ``tr th``);
* its visible text has no ``???``, no literal ``{glue`` and, outside tables, no result
  key standing alone (an unresolved glue reference, e.g. ``skin_mrss_m6_mean``);
* no console error or uncaught exception other than the documented allow-list
  (``browser_support.ALLOWED_CONSOLE_ERRORS``);
* a full-page screenshot is saved (pytest's tmp folder, copied to /tmp/ivig_screens).

The search page must find "mRSS".
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
import yaml
from browser_support import (
    ALLOWED_CONSOLE_ERRORS,
    chromium,
    goto,
    record_errors,
    require_chromium,
    serve,
    unexpected_errors,
)
from package_copies import REPO

from ivigbook.book.sphinx import build_book
from ivigbook.config import REFERENCE_COHORTS

pytestmark = pytest.mark.slow

SCREENS_COPY = Path("/tmp/ivig_screens")
VIEWPORT = {"width": 1280, "height": 900}


def toc_pages(toc_path: Path) -> list[str]:
    """Documents of a ``_toc.yml`` in reading order (root first), without suffix."""
    toc = yaml.safe_load(toc_path.read_text(encoding="utf-8"))
    pages = [toc["root"]]

    def walk(node):
        if isinstance(node, dict):
            if isinstance(node.get("file"), str):
                pages.append(re.sub(r"\.(md|ipynb|rst)$", "", node["file"]))
            for key in ("parts", "chapters", "sections"):
                for child in node.get(key, []) or []:
                    walk(child)

    walk(toc)
    return pages


def result_keys() -> set[str]:
    keys: set[str] = set()
    for name in REFERENCE_COHORTS:
        path = REPO / "book" / name / "results.json"
        if path.is_file():
            keys |= set(json.loads(path.read_text(encoding="utf-8"))["results"])
    return keys


_PAGE_FACTS = """() => {
  const imgs = Array.from(document.images).map(i => ({
      src: i.getAttribute('src') || '', width: i.naturalWidth, complete: i.complete}));
  const tables = Array.from(document.querySelectorAll('table')).map(t => ({
      where: (t.closest('[id]') || {}).id || '', rows: t.rows.length,
      header: !!t.querySelector('thead th, tr th')}));
  const main = document.querySelector('main') || document.body;
  const narrative = main.cloneNode(true);
  narrative.querySelectorAll('table, pre, script, style').forEach(e => e.remove());
  document.body.appendChild(narrative);            // innerText needs a rendered node
  narrative.style.position = 'absolute'; narrative.style.left = '-10000px';
  const prose = narrative.innerText;
  narrative.remove();
  return {imgs, tables, text: document.body.innerText, prose, title: document.title};
}"""


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    """The repository's book built in a temporary copy (committed files never touched)."""
    require_chromium()
    root = tmp_path_factory.mktemp("repo-copy")
    for name in ("_config.yml", "_toc.yml"):
        shutil.copy2(REPO / name, root / name)
    shutil.copytree(
        REPO / "book", root / "book", ignore=shutil.ignore_patterns(".*tmp-*", ".*old-*", "_build")
    )
    index = build_book(root, progress=False)
    assert index.is_file()
    return root


@pytest.fixture(scope="module")
def visits(site, tmp_path_factory) -> dict:
    """Visit every page of the TOC once; collect facts, console errors and screenshots."""
    html = site / "_build" / "html"
    pages = toc_pages(site / "_toc.yml")
    screens = tmp_path_factory.mktemp("screenshots")
    facts: dict[str, dict] = {}
    with serve(html) as url, chromium() as browser:
        context = browser.new_context(viewport=VIEWPORT)  # one profile, like a reader's
        for doc in pages:
            errors: list[str] = []
            page = context.new_page()  # a page per document: its own error listeners
            record_errors(page, errors)
            response = goto(page, f"{url}/{doc}.html")
            page.wait_for_function(
                "Array.from(document.images).every(i => i.complete)", timeout=20_000
            )
            info = page.evaluate(_PAGE_FACTS)
            shot = screens / (doc.replace("/", "__") + ".png")
            page.screenshot(path=str(shot), full_page=True)
            info.update(
                status=response.status if response else None, errors=errors, screenshot=shot
            )
            facts[doc] = info
            page.close()
        search = context.new_page()
        search_errors: list[str] = []
        record_errors(search, search_errors)
        goto(search, f"{url}/search.html?q=mRSS")
        search.wait_for_selector("#search-results ul.search li", timeout=30_000)
        # the results come in one by one; the summary line ends the search (reading
        # it earlier raced with the last results)
        search.wait_for_function(
            "() => /found \\d+ page/.test(document.querySelector('#search-results').innerText)",
            timeout=30_000,
        )
        found = search.locator("#search-results ul.search li a").evaluate_all(
            "links => links.map(a => a.getAttribute('href'))"
        )
        summary = search.locator("#search-results").inner_text()
        search.screenshot(path=str(screens / "search_mRSS.png"), full_page=False)
    if SCREENS_COPY.exists():
        shutil.rmtree(SCREENS_COPY)
    shutil.copytree(screens, SCREENS_COPY)
    return {
        "pages": facts,
        "screens": screens,
        "search": {"links": found, "summary": summary, "errors": search_errors},
    }


def test_every_toc_page_is_visited(site, visits):
    pages = toc_pages(site / "_toc.yml")
    assert len(pages) >= 17  # intro + 2 cohorts x 7 chapters + methods, dictionary, references
    assert set(visits["pages"]) == set(pages)


def test_pages_load_with_http_200(visits):
    bad = {doc: f["status"] for doc, f in visits["pages"].items() if f["status"] != 200}
    assert not bad, bad


def test_every_image_is_decoded(site, visits):
    n_images = sum(len(f["imgs"]) for f in visits["pages"].values())
    assert n_images >= 15, "the chapters should show their figures"
    for doc, f in visits["pages"].items():  # the browser saw every <img> of the file
        source = (site / "_build" / "html" / f"{doc}.html").read_text(encoding="utf-8")
        assert len(f["imgs"]) == source.count("<img "), doc
    broken = {
        doc: [i["src"] for i in f["imgs"] if not i["complete"] or i["width"] <= 0]
        for doc, f in visits["pages"].items()
    }
    assert not {d: b for d, b in broken.items() if b}, broken


def test_every_table_has_a_header_row(visits):
    n_tables = sum(len(f["tables"]) for f in visits["pages"].values())
    assert n_tables >= 30
    headless = {
        doc: [t["where"] for t in f["tables"] if not t["header"]]
        for doc, f in visits["pages"].items()
    }
    assert not {d: h for d, h in headless.items() if h}, headless


def test_no_unresolved_text(visits):
    keys = result_keys()
    assert len(keys) > 100
    key_rx = re.compile(
        r"(?<![\w.-])("
        + "|".join(map(re.escape, sorted(keys, key=len, reverse=True)))
        + r")(?![\w-])"
    )
    problems = {}
    for doc, f in visits["pages"].items():
        found = [s for s in ("???", "{glue", "{glue:") if s in f["text"]]
        found += sorted(set(key_rx.findall(f["prose"])))
        if found:
            problems[doc] = found[:10]
    assert not problems, f"unresolved glue or placeholders in visible text: {problems}"
    # the check can fire: result keys are visible in the reproduction tables, on purpose
    repro = [f for d, f in visits["pages"].items() if d.endswith("07_reproduction")]
    assert repro and any(key_rx.search(f["text"]) for f in repro)


def test_no_console_errors_beyond_the_allow_list(visits):
    assert all(reason for _, reason in ALLOWED_CONSOLE_ERRORS)
    errors = {doc: unexpected_errors(f["errors"]) for doc, f in visits["pages"].items()}
    errors["search.html"] = unexpected_errors(visits["search"]["errors"])
    assert not {d: e for d, e in errors.items() if e}, errors


def test_search_finds_mrss(visits):
    links = visits["search"]["links"]
    assert len(links) >= 4, visits["search"]["summary"]
    assert any("02_skin_outcomes" in link for link in links), links
    assert re.search(r"found \d+ page", visits["search"]["summary"])


def test_a_screenshot_of_every_chapter(visits):
    for doc, f in visits["pages"].items():
        shot = f["screenshot"]
        assert shot.is_file() and shot.read_bytes().startswith(b"\x89PNG"), doc
        assert shot.stat().st_size > 10_000, f"{doc}: screenshot looks empty"
        assert (SCREENS_COPY / shot.name).is_file()
