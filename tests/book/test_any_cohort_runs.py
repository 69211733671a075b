"""``ivigbook run`` (notebooks and book) on a fixed set of cohort shapes unlike the references.

Each shape of :data:`SHAPES` is written by the cohort-space generator and run end to end
as an analyst would. The run must succeed, every notebook must execute without an error
output, the book must build, and no page may print a missing statistic as ``NA (NA)`` or
``nan``. The property tests (``tests/test_any_cohort.py``) cover many more shapes on the
compute-only analysis; these runs cover the notebooks, the glue and Sphinx.
"""

from __future__ import annotations

import json
import re

import pytest

from ivigbook.book.run import run
from ivigbook.synth import cohort_space

SHAPES = (
    "zero_eligible",
    "one_eligible",
    "no_myositis",
    "no_ck",
    "no_haq",
    "no_adverse_events",
    "all_limited_all_treated",
    "single_centre",
    "blank_activity",
    "early_deaths",
    "multicentre_rules",
    "large",
)

_BAD_TEXT = re.compile(r"NA \(NA\)|>nan<|\bnan\b \[|\(SD NA")


@pytest.mark.slow
@pytest.mark.parametrize("name", SHAPES)
def test_run_builds_a_book_on_the_shape(name, tmp_path):
    shape, overrides = cohort_space.NAMED[name]
    data = tmp_path / name
    cohort_space.write(data, shape, seed=0)
    out = tmp_path / "out"
    summary = run(data, out, overrides, jobs=2, progress=False)
    assert summary.html_index and (out / "_build" / "html" / "index.html").is_file()
    results = json.loads((out / "results.json").read_text(encoding="utf-8"))
    assert results["results"]["flow_total_n"] == shape.patients
    for nb in sorted(out.glob("0*.ipynb")):
        cells = json.loads(nb.read_text(encoding="utf-8"))["cells"]
        errors = [o for c in cells for o in c.get("outputs", []) if o["output_type"] == "error"]
        assert not errors, (nb.name, errors[:1])
    bad = {}
    for page in sorted((out / "_build" / "html").glob("0*.html")):
        found = _BAD_TEXT.findall(page.read_text(encoding="utf-8"))
        if found:
            bad[page.name] = sorted(set(found))
    assert not bad, bad
