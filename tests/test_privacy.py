"""Patient privacy: nothing that identifies a patient reaches the book (issue 7).

A copy of the synthetic Hopkins cohort gets sentinel strings wherever a real export
carries identifying text: extra identifier columns (name, MRN, date of birth), the
patient ids themselves (rewritten consistently across all tables), the free-text
``stop_detail`` and adverse-event terms outside the known list, the package's own folder
name and the name of the folder the export lives in. The full ``ivigbook run`` on that
copy must succeed, and no file of OUT (notebooks, HTML, JSON, the search index, the page
sources) may contain any sentinel.

The copy's ``patients.csv`` is also what Excel writes as "CSV UTF-8" in a European
locale (BOM, ``;`` separator, CRLF line ends): the run must accept it with warnings.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
import shutil
import subprocess
from pathlib import Path

import pytest
from package_copies import REPO, cli, copy_hopkins, read_table, write_table

from ivigbook.book.outdir import _privacy_warning
from ivigbook.config import SYNTHETIC_DIR

PID = "SENTINEL-PID-{:03d}"
FREE_TEXT = "SENTINEL-FREETEXT-rash at Dr Smith's"
EXTRA_COLUMNS = {  # header -> value template (i = patient number)
    "name": "SENTINEL-NAME-Jane Doe {i}",
    "MRN": "SENTINEL-MRN-{mrn}",
    "date_of_birth": "SENTINEL-DOB-1961-02-{day:02d}",
}
PATH_SENTINEL = "SENTINEL-PATH-smith_jane_export"
PACKAGE_SENTINEL = "SENTINEL-PKG-Smith_Jane_MRN4711"


def _git_available() -> bool:
    return shutil.which("git") is not None


def make_private_copy(base: Path) -> tuple[Path, list[str]]:
    """The sentinel-bearing package; returns its path and every sentinel put in it."""
    pkg = copy_hopkins(base / PATH_SENTINEL / PACKAGE_SENTINEL)
    header, rows = read_table(pkg / "patients.csv")
    ids = {r[0]: PID.format(i) for i, r in enumerate(rows, 1)}
    sentinels = [PATH_SENTINEL, PACKAGE_SENTINEL, *ids.values()]
    for table in ("infusions", "measurements", "medications", "adverse_events"):
        h, rr = read_table(pkg / f"{table}.csv")
        for r in rr:
            r[0] = ids[r[0]]
        if table == "adverse_events":
            for k in (0, 5, 9):  # free text where a coded term is expected
                rr[k][h.index("term")] = f"{FREE_TEXT} #{k}"
                sentinels.append(f"{FREE_TEXT} #{k}")
        write_table(pkg / f"{table}.csv", h, rr)
    detail = header.index("stop_detail")
    for i, r in enumerate(rows, 1):
        r[0] = ids[r[0]]
        r[detail] = f"SENTINEL-STOPDETAIL-{i}: stopped after a call with Dr Smith"
        extra = [t.format(i=i, mrn=900000 + i, day=i % 28 + 1) for t in EXTRA_COLUMNS.values()]
        r += extra
        sentinels += [r[detail], *extra]
    buf = io.StringIO()
    csv.writer(buf, delimiter=";", lineterminator="\r\n").writerows(
        [header + list(EXTRA_COLUMNS), *rows]
    )
    (pkg / "patients.csv").write_bytes(codecs.BOM_UTF8 + buf.getvalue().encode("utf-8"))
    return pkg, sentinels


@pytest.fixture(scope="module")
def private_run(tmp_path_factory):
    """The full `ivigbook run` on the sentinel copy, OUT inside a (fresh) git work tree."""
    base = tmp_path_factory.mktemp("privacy")
    pkg, sentinels = make_private_copy(base)
    worktree = base / "analysis-repo"
    worktree.mkdir()
    if _git_available():
        subprocess.run(["git", "init", "-q", str(worktree)], check=True)
    out = worktree / "book"
    proc, seconds = cli("run", pkg, "--out", out, "--jobs", "2", timeout=1200)
    return {
        "pkg": pkg,
        "out": out,
        "worktree": worktree,
        "proc": proc,
        "seconds": seconds,
        "sentinels": sentinels,
    }


@pytest.mark.slow
def test_run_accepts_a_european_excel_export_with_warnings(private_run):
    proc, pkg = private_run["proc"], private_run["pkg"]
    assert proc.returncode == 0, proc.stderr[-5000:]
    assert "Traceback" not in proc.stderr
    assert f"the cohort package {pkg} is valid, with warnings:" in proc.stderr
    for line in (
        "patients.csv:1:-: - warning: UTF-8 byte-order mark (BOM) removed",
        "patients.csv:1:-: - warning: semicolon-separated file read with ';' as separator",
        *(
            f"patients.csv:1:{c}: - warning: ignored extra column; never rendered"
            for c in EXTRA_COLUMNS
        ),
    ):
        assert line in proc.stderr, line
    html = private_run["out"] / "_build" / "html"
    assert (html / "index.html").is_file()
    # the free-text events are in the analysis: counted on the page, their text hidden
    assert "Other (free text, not shown)" in (html / "04_safety.html").read_text(encoding="utf-8")


@pytest.mark.slow
def test_no_sentinel_in_any_file_of_out(private_run):
    out, sentinels = private_run["out"], private_run["sentinels"]
    assert private_run["proc"].returncode == 0, private_run["proc"].stderr[-5000:]
    files = [p for p in out.rglob("*") if p.is_file()]
    # the scan covers every kind of file a reader or a crawler gets
    kinds = {p.suffix for p in files}
    assert {".html", ".ipynb", ".json", ".js", ".md", ".png"} <= kinds, kinds
    assert (out / "_build" / "html" / "searchindex.js").is_file()
    assert any(p.parent.name == "_sources" for p in files)
    assert not (out / "_cache").exists(), "derived patient-level tables left in OUT"

    # positive control: the scanner finds every sentinel in the input it was put in
    needles = {s.encode() for s in sentinels} | {b"SENTINEL", b"Dr Smith"}
    raw = b"".join(p.read_bytes() for p in private_run["pkg"].iterdir())
    missing = [
        s for s in sentinels if s.encode() not in raw and s not in (PATH_SENTINEL, PACKAGE_SENTINEL)
    ]
    assert not missing, f"sentinels not in the input: {missing[:3]}"

    leaks = {}
    for path in files:
        data = path.read_bytes().upper()  # any case
        found = sorted(n.decode() for n in needles if n.upper() in data)
        if found:
            leaks[path.relative_to(out).as_posix()] = found[:5]
    assert not leaks, f"identifying text in the book: {leaks}"


@pytest.mark.slow
def test_executed_notebooks_do_not_record_where_the_export_lives(private_run):
    out = private_run["out"]
    nb = json.loads((out / "01_cohort.ipynb").read_text(encoding="utf-8"))
    recorded = nb["metadata"]["papermill"]["parameters"]["data_dir"]
    assert recorded == "<not recorded: path of the cohort package>"
    injected = [c for c in nb["cells"] if c["id"] == "injected-parameters"]
    assert len(injected) == 1
    assert 'data_dir = "<not recorded: path of the cohort package>"' in "".join(
        injected[0]["source"]
    )


@pytest.mark.slow
def test_run_warns_when_out_is_inside_a_git_work_tree(private_run):
    if not _git_available():
        pytest.skip("git is not installed")
    out, pkg, worktree = private_run["out"], private_run["pkg"], private_run["worktree"]
    assert (
        f"warning: {out} lies inside the git work tree {worktree} and the data ({pkg}) "
        f"are not under {SYNTHETIC_DIR}/."
    ) in private_run["proc"].stderr
    assert "It is NOT ignored by git" in private_run["proc"].stderr


def test_privacy_warning_rules(tmp_path):
    """Where the warning applies: OUT in the repository with data outside data/synthetic/."""
    if not _git_available() or not (REPO / ".git").exists():
        pytest.skip("needs git and a git checkout of the repository")
    private = tmp_path / "export"
    private.mkdir()
    synthetic = REPO / SYNTHETIC_DIR / "hopkins2015"
    inside = REPO / "my-book-out"  # need not exist
    assert not inside.exists()
    text = _privacy_warning(inside, private, REPO)
    assert text is not None and f"lies inside the git work tree {REPO}" in text
    assert "It is NOT ignored by git" in text
    ignored = _privacy_warning(REPO / "data" / "private" / "book", private, REPO)
    assert ignored is not None and "(It is ignored by git.)" in ignored
    assert _privacy_warning(inside, synthetic, REPO) is None  # synthetic data: no warning
    assert _privacy_warning(tmp_path / "out", private, REPO) is None  # not in a work tree


def test_data_private_is_git_ignored():
    if _git_available() and (REPO / ".git").exists():
        for path in ("data/private/patients.csv", "data/private/site_a/cohort.xlsx"):
            check = subprocess.run(["git", "check-ignore", "-q", path], cwd=REPO)
            assert check.returncode == 0, f"{path} is not ignored by git"
        control = subprocess.run(
            ["git", "check-ignore", "-q", "data/synthetic/hopkins2015/patients.csv"], cwd=REPO
        )
        assert control.returncode == 1, "the committed synthetic data must not be ignored"
    else:  # a source tarball without .git: the rule must still be there
        lines = (REPO / ".gitignore").read_text().splitlines()
        assert "data/private/" in lines or "/data/private/" in lines


def test_scrub_redacts_a_parameter_in_metadata_and_injected_cell():
    import ast

    import nbformat
    from nbformat.v4 import new_code_cell, new_notebook

    from ivigbook.book.notebook_clean import scrub_notebook

    secret = '../exports/Smith "Jane" \\ MRN 4711/cohort'
    nb = new_notebook(
        cells=[
            new_code_cell('data_dir = "x"', metadata={"tags": ["parameters"]}),
            new_code_cell(
                f'# Parameters\ndata_dir = {json.dumps(secret)}\ncohort_name = "c"\n',
                metadata={"tags": ["injected-parameters"]},
            ),
        ],
        metadata={"papermill": {"parameters": {"data_dir": secret, "cohort_name": "c"}}},
    )
    placeholder = "<not recorded: path of the cohort package>"
    scrub_notebook(nb, redact={"data_dir": placeholder})
    text = nbformat.writes(nb)
    assert "Smith" not in text and "4711" not in text
    assert nb.metadata.papermill.parameters == {"data_dir": placeholder, "cohort_name": "c"}
    injected = nb.cells[1].source
    values = {n.targets[0].id: n.value.value for n in ast.parse(injected).body}
    assert values == {"data_dir": placeholder, "cohort_name": "c"}
    assert nb.cells[0].source == 'data_dir = "x"'  # the notebook's own defaults stay
