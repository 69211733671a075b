"""Text from the data is shown as text, never as live markup (issue 7).

A copy of the synthetic Hopkins cohort has centre names with ``<script>``, ``&``, ``<``
and quotes, adverse-event terms outside the known list with the same characters (free
text: counted as "Other (free text, not shown)", never echoed), lives in a folder named
``<img src=x onerror=alert(5)>`` and is run with a ``--cohort-name`` holding a script
tag. The HTML must show the centre names escaped, as text, and contain none of these
strings as live markup; a real browser opening every page must see no dialog.
Figures draw every string literally (no mathtext, no markup), checked through the
figure functions directly.
"""

from __future__ import annotations

import io
import re
from html.parser import HTMLParser
from pathlib import Path

import matplotlib as mpl
import pandas as pd
import pytest
from browser_support import (
    chromium,
    goto,
    record_errors,
    require_chromium,
    serve,
    unexpected_errors,
)
from package_copies import cli, copy_hopkins, read_table, write_table

from ivigbook.report import figures as F

SCRIPT_CENTRE = "<script>alert(1)</script>"
AMP_CENTRE = 'St Mary\'s & <Clinic> "North"'
FREE_TERMS = [
    "FREETEXTTOKEN itch & <b>rash</b> \"severe\" 'arm'",
    "FREETEXTTOKEN <img src=y onerror=alert(6)>",
]
FOLDER = "<img src=x onerror=alert(5)>"
COHORT_NAME = '<script>alert(3)</script> & "q"'
#: what must never appear in an HTML file: each string above as live markup
LIVE = ["<script>alert(", "onerror=alert", "<img src=x", "<img src=y", "<b>rash</b>", "<Clinic>"]


@pytest.fixture(scope="module")
def hostile_book(tmp_path_factory):
    base = tmp_path_factory.mktemp("escaping")
    pkg = copy_hopkins(base / FOLDER)
    header, rows = read_table(pkg / "patients.csv")
    for i, r in enumerate(rows):
        r[header.index("center")] = SCRIPT_CENTRE if i % 2 == 0 else AMP_CENTRE
    write_table(pkg / "patients.csv", header, rows)
    header, rows = read_table(pkg / "adverse_events.csv")
    for k, term in zip((0, 3), FREE_TERMS):
        rows[k][header.index("term")] = term
    write_table(pkg / "adverse_events.csv", header, rows)
    out = base / "out"
    proc, _ = cli(
        "run", pkg, "--out", out, "--jobs", "2", "--cohort-name", COHORT_NAME, timeout=1200
    )
    assert proc.returncode == 0, proc.stderr[-5000:]
    return {"out": out, "html": out / "_build" / "html", "proc": proc}


class _TableText(HTMLParser):
    """Text of the header cells of the first column of ``<div id=TABLE_ID>``."""

    def __init__(self, table_id: str):
        super().__init__(convert_charrefs=True)
        self.table_id, self.inside, self.depth, self.cell = table_id, False, 0, None
        self.rows: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag == "div" and dict(attrs).get("id") == self.table_id:
            self.inside, self.depth = True, 0
        if self.inside:
            self.depth += tag == "div"
            if tag == "th" and dict(attrs).get("scope") == "row":
                self.cell = ""

    def handle_endtag(self, tag):
        if not self.inside:
            return
        if tag == "th" and self.cell is not None:
            self.rows.append(self.cell)
            self.cell = None
        if tag == "div":
            self.depth -= 1
            self.inside = self.depth > 0

    def handle_data(self, data):
        if self.cell is not None:
            self.cell += data


def _html_files(book, pages_only: bool = False) -> list[Path]:
    """Every HTML file of the site; ``pages_only``: without the theme's template
    fragments in ``_static/`` (Jinja macros, not pages)."""
    files = sorted(
        p
        for p in book["html"].rglob("*.html")
        if not (pages_only and "_static" in p.relative_to(book["html"]).parts)
    )
    assert len(files) >= 8
    return files


@pytest.mark.slow
def test_no_data_string_is_live_markup_in_any_html_file(hostile_book):
    bad = {}
    for path in _html_files(hostile_book):
        text = path.read_text(encoding="utf-8")
        found = [s for s in LIVE if s in text]
        if found:
            bad[path.name] = found
    assert not bad, f"live markup from the data: {bad}"


@pytest.mark.slow
def test_centre_names_are_escaped_text(hostile_book):
    page = (hostile_book["html"] / "01_cohort.html").read_text(encoding="utf-8")
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "St Mary&#x27;s &amp; &lt;Clinic&gt; &quot;North&quot;" in page
    parser = _TableText("centres")
    parser.feed(page)
    assert parser.rows == [SCRIPT_CENTRE, AMP_CENTRE], parser.rows  # shown as typed


@pytest.mark.slow
def test_free_text_terms_are_counted_but_never_echoed(hostile_book):
    page = (hostile_book["html"] / "04_safety.html").read_text(encoding="utf-8")
    assert "Other (free text, not shown)" in page
    for path in hostile_book["out"].rglob("*"):
        if path.is_file():
            assert b"FREETEXTTOKEN" not in path.read_bytes(), path


@pytest.mark.slow
def test_cohort_and_folder_names_are_made_plain(hostile_book):
    html = hostile_book["html"]
    intro = (html / "intro.html").read_text(encoding="utf-8")
    shown = "_script_alert(3)__script_ _ _q_"
    assert "cohort <code" in intro and shown in intro
    assert "note: the cohort name" in hostile_book["proc"].stderr
    # the footer (raw HTML in the theme) never names the package folder
    assert "Computed by ivigbook from a cohort package (SHA-256" in intro
    assert "onerror_alert(5)" not in intro and "onerror=alert(5)" not in intro
    assert re.search(r"<title>[^<]*_script_alert\(3\)__script_", intro)


@pytest.mark.slow
def test_no_script_from_the_data_runs_in_a_browser(hostile_book):
    """Open every page in chromium: no alert() dialog, no script error."""
    require_chromium()
    dialogs, errors = [], []
    with serve(hostile_book["html"]) as url, chromium() as browser:
        page = browser.new_page()
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        record_errors(page, errors)
        for path in _html_files(hostile_book, pages_only=True):
            rel = path.relative_to(hostile_book["html"]).as_posix()
            response = goto(page, f"{url}/{rel}")
            assert response is not None and response.status == 200, rel
            page.wait_for_timeout(50)
    assert not dialogs, f"a script from the data ran: {dialogs}"
    assert not unexpected_errors(errors), errors


# ------------------------------------------------------------------ figures
NASTY = f'{SCRIPT_CENTRE} & <b>x</b> $x^2$ "q"'


def _svg(fig) -> str:
    """SVG with text kept as text (``svg.fonttype: none``), as a browser would get it."""
    buf = io.StringIO()
    with mpl.rc_context({**F.STYLE, "svg.fonttype": "none"}):
        fig.savefig(buf, format="svg")
    return buf.getvalue()


@pytest.mark.parametrize("make", ["bar_counts", "forest", "flow_diagram"])
def test_figure_text_is_literal_and_escaped(make):
    if make == "bar_counts":
        fig = F.bar_counts(
            pd.DataFrame({"label": [NASTY, "Headache"], "n": [3, 2], "pct": [10.0, 6.7]}),
            title=NASTY,
        )
    elif make == "forest":
        fig = F.forest(
            pd.DataFrame(
                {
                    "label": [NASTY, "Age"],
                    "estimate": [1.5, 0.8],
                    "ci_low": [0.5, 0.4],
                    "ci_high": [4.0, 1.6],
                }
            ),
            title=NASTY,
        )
    else:
        fig = F.flow_diagram(
            pd.DataFrame(
                {
                    "box": [0, 1],
                    "label": [NASTY, "Analysed"],
                    "n": [30, 25],
                    "excluded_n": [5, None],
                    "excluded_label": [NASTY, None],
                }
            ),
            title=NASTY,
        )
    texts = [t for t in fig.findobj(mpl.text.Text) if t.get_text() == NASTY]
    texts += [t for ax in fig.axes for t in ax.get_yticklabels() if t.get_text() == NASTY]
    assert texts, "the label was not drawn as given"
    assert all(not t.get_parse_math() and not t.get_usetex() for t in texts)
    svg = _svg(fig)
    assert "<script>" not in svg and "<b>" not in svg
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; &lt;b&gt;x&lt;/b&gt; $x^2$" in svg
    assert F.to_png_bytes(fig).startswith(b"\x89PNG")  # mathtext would fail or rewrite $x^2$
