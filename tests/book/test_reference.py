"""The book: notebook sources, committed executed notebooks, results, reproduction.

The reproduction tests recompute every result from the synthetic cohort packages
(compute-only, no rendering) and compare each row of the published-figures file.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

from ivigbook.book import notebook_source
from ivigbook.book.execute import CONTRACT_PARAMETERS
from ivigbook.chapters.compute import compute_results
from ivigbook.chapters.reproduction import STATUS_INPUT, STATUS_MATCH, STATUS_NA, STATUS_SIDE, judge
from ivigbook.config import REFERENCE_COHORTS
from ivigbook.data.dictionary import data_pages

ROOT = Path(__file__).resolve().parents[2]
SOURCES = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.md"))
COHORTS = [name for name, c in REFERENCE_COHORTS.items() if (ROOT / c["data_dir"]).exists()]


def _params(name: str) -> str:
    return json.dumps(REFERENCE_COHORTS[name]["params"])


def _comparators(name: str):
    path = REFERENCE_COHORTS[name].get("comparators", "data/reference/historical_controls.csv")
    return ROOT / path if path else None


@pytest.fixture(scope="module")
def recomputed() -> dict[str, dict]:
    return {
        name: compute_results(
            ROOT / REFERENCE_COHORTS[name]["data_dir"], _params(name), _comparators(name)
        )
        for name in COHORTS
    }


def test_both_reference_cohorts_exist():
    assert COHORTS == ["hopkins2015", "spain_multicentre"]


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: p.stem)
def test_notebook_sources_are_thin_stripped_and_parameterised(path):
    nb = notebook_source.read(path)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(not c.get("outputs") and c.get("execution_count") is None for c in code), (
        "outputs not stripped"
    )
    params = [c for c in code if "parameters" in c.metadata.get("tags", [])]
    assert len(params) == 1
    for name in CONTRACT_PARAMETERS:
        assert re.search(rf"^{name} = ", params[0].source, re.M), name
    for c in code:
        assert not re.search(r"^\s*(def|class) ", c.source, re.M), "logic belongs in src/ivigbook"
        assert len(c.source.splitlines()) <= 12


def test_toc_lists_every_executed_notebook():
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files = {ch["file"] for part in toc["parts"] for ch in part["chapters"]}
    for name in COHORTS:
        for src in SOURCES:
            assert f"book/{name}/{src.stem}" in files
            assert (ROOT / "book" / name / notebook_source.executed_name(src)).exists(), (
                "run `make book` and commit book/"
            )


def test_data_pages_follow_the_schema():
    for page, text in data_pages().items():
        assert (ROOT / page).read_text(encoding="utf-8") == text, (
            f"{page} is stale: run `make book`"
        )


@pytest.mark.parametrize("name", COHORTS)
def test_executed_notebooks_say_synthetic_and_hide_identifiers(name):
    ids = pd.read_csv(ROOT / REFERENCE_COHORTS[name]["data_dir"] / "patients.csv", dtype=str)[
        "patient_id"
    ]
    pattern = re.compile("|".join(re.escape(i) for i in ids))
    for path in sorted((ROOT / "book" / name).glob("*.ipynb")):
        text = path.read_text(encoding="utf-8")
        assert "Synthetic data" in text, f"{path.name} does not say the data are synthetic"
        outputs = json.dumps([c.get("outputs", []) for c in json.loads(text)["cells"]])
        assert not pattern.search(outputs), f"a patient_id appears in the outputs of {path.name}"
    results = (ROOT / "book" / name / "results.json").read_text()
    assert not pattern.search(results)


@pytest.mark.parametrize("name", COHORTS)
def test_committed_results_equal_a_fresh_computation(name, recomputed):
    """The executed notebooks and the compute-only path give the same numbers."""
    payload = json.loads((ROOT / "book" / name / "results.json").read_text())
    assert set(payload) == {"cohort", "parameters", "data_sha256", "results"}
    committed = {k: v for k, v in payload["results"].items() if not k.startswith("repro_")}
    fresh = recomputed[name]
    assert sorted(committed) == sorted(fresh)
    diff = {k: (committed[k], fresh[k]) for k in fresh if committed[k] != fresh[k]}
    assert not diff, f"results.json is stale (run `make book`): {list(diff.items())[:5]}"


@pytest.mark.parametrize("name", COHORTS)
def test_reproduction_of_every_published_number(name, recomputed):
    published = pd.read_csv(
        ROOT / REFERENCE_COHORTS[name]["published"], dtype=str, keep_default_na=False
    )
    results = recomputed[name]
    rows = []
    for row in published.to_dict("records"):
        value = results.get(row["key"], results.get(row["key"].removesuffix("_abstract")))
        rows.append((row["key"], row["value"], value, row["comparison"], judge(row, value)))
    judged = [r for r in rows if r[4] not in (STATUS_NA, STATUS_INPUT)]
    matched = [r for r in judged if r[4] == STATUS_MATCH]
    print(
        f"\n{name}: {len(matched)}/{len(judged)} published numbers reproduced exactly "
        f"({100 * len(matched) / len(judged):.1f}%); "
        f"{sum(r[4] == STATUS_SIDE for r in judged)} on the same side of 0.05; "
        f"{sum(r[4] == STATUS_NA for r in rows)} not reproducible from data; "
        f"{sum(r[4] == STATUS_INPUT for r in rows)} inputs"
    )
    # Only tests computed from published summary statistics may miss the printed value:
    # the paper used rounded summaries and an unreported comparator N (see
    # data/reference/README.md); for those the conclusion (side of 0.05) must agree.
    bad = [
        r
        for r in judged
        if r[4] != STATUS_MATCH and not (r[4] == STATUS_SIDE and r[3] == "summary_stat_test")
    ]
    assert not bad, bad
    assert len(matched) / len(judged) >= 0.98


@pytest.mark.slow
def test_nbval_over_committed_notebooks():
    """Re-execute the committed notebooks and compare their outputs (nbval)."""
    paths = [str(p) for name in COHORTS for p in sorted((ROOT / "book" / name).glob("0*.ipynb"))]
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "--nbval",
            "-q",
            "-p",
            "no:cacheprovider",
            "--nbval-sanitize-with",
            str(ROOT / "tests" / "nbval_sanitize.cfg"),
            *paths,
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=1800,
    )
    print(proc.stdout[-3000:])
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-2000:]


@pytest.mark.slow
def test_run_on_a_copy_with_tighter_windows_and_on_a_broken_copy(tmp_path):
    data = tmp_path / "cohort"
    shutil.copytree(ROOT / "data" / "synthetic" / "hopkins2015", data)
    out = tmp_path / "out"
    ok = subprocess.run(
        [
            sys.executable,
            "-m",
            "ivigbook.cli",
            "run",
            str(data),
            "--out",
            str(out),
            "--set",
            "window_halfwidth_months=1",
            "--jobs",
            "2",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=1200,
    )
    assert ok.returncode == 0, ok.stderr[-4000:]
    results = json.loads((out / "results.json").read_text())
    assert results["parameters"]["window_halfwidth_months"] == 1
    assert results["results"]["method_window_halfwidth_months"] == 1
    assert (out / "_build" / "html" / "index.html").exists()
    assert len(list(out.glob("0*.ipynb"))) == len(SOURCES) - 1  # no reproduction page off-registry
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}

    broken = tmp_path / "broken"
    shutil.copytree(data, broken)
    infusions = broken / "infusions.csv"
    infusions.write_text(infusions.read_text().replace("-0", "-x", 1))
    bad = subprocess.run(
        [sys.executable, "-m", "ivigbook.cli", "run", str(broken), "--out", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert bad.returncode != 0
    assert (
        "infusions.csv:" in bad.stdout + bad.stderr and "Traceback" not in bad.stdout + bad.stderr
    )
    after = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    assert before == after, "a failed run changed the existing OUT"


@pytest.mark.slow
def test_notebooks_state_absent_tables_and_single_centre(tmp_path):
    """A multicentre package without the optional tables, and a single-centre one."""

    def _run_cli(data, out, overrides):
        return subprocess.run(
            [sys.executable, "-m", "ivigbook.cli", "run", str(data), "--out", str(out)]
            + ["--jobs", "2", *overrides],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=1200,
        )

    data = tmp_path / "no_optional"
    shutil.copytree(ROOT / "data" / "synthetic" / "spain_multicentre", data)
    (data / "medications.csv").unlink()
    (data / "adverse_events.csv").unlink()
    out = tmp_path / "out"
    overrides = [
        a
        for k, v in REFERENCE_COHORTS["spain_multicentre"]["params"].items()
        for a in ("--set", f"{k}={','.join(map(str, v)) if isinstance(v, list) else v}")
    ]
    proc = _run_cli(data, out, overrides)
    assert proc.returncode == 0, proc.stderr[-4000:]
    html = (out / "_build" / "html" / "04_safety.html").read_text(encoding="utf-8")
    assert "no adverse-event table" in html
    assert "Traceback" not in html
    cohort = (out / "_build" / "html" / "01_cohort.html").read_text(encoding="utf-8")
    assert "Patients by centre" in cohort  # multicentre: per-centre breakdown

    single = tmp_path / "single"
    shutil.copytree(ROOT / "data" / "synthetic" / "spain_multicentre", single)
    patients = pd.read_csv(single / "patients.csv", dtype=str, keep_default_na=False)
    patients["center"] = "Hospital 01"
    patients.to_csv(single / "patients.csv", index=False, lineterminator="\n")
    out2 = tmp_path / "out2"
    proc = _run_cli(single, out2, overrides)
    assert proc.returncode == 0, proc.stderr[-4000:]
    cohort = (out2 / "_build" / "html" / "01_cohort.html").read_text(encoding="utf-8")
    assert "come from one centre" in cohort and "Patients by centre" not in cohort
