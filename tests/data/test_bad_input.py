"""Bad input gets a clear error and nothing is lost (DESIGN §3, issue 7).

Every malformed package below is generated from the synthetic cohort
``data/synthetic/hopkins2015`` (copied to a temporary folder, then broken in one way).
For each one, ``ivigbook validate`` and ``ivigbook run`` (the command line in this process;
a sample of cases, one or two of every kind, also as real subprocesses, :data:`SUBPROCESS_CASES`):

* exit non-zero and print the expected ``file:row:column: value - rule`` line(s)
  (file, row and column named wherever the problem has them);
* print no ``Traceback``;
* leave the input files and an existing output folder byte-identical, and write
  nothing anywhere else (no temporary folder left next to OUT);
* ``run`` stops at validation: it never starts executing notebooks.

A BOM and a ``;``-separated export are *accepted* with a warning (tested at the end),
and an OUT that cannot be written fails cleanly.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import io
import os
import subprocess
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from package_copies import (
    cli,
    copy_hopkins,
    make_previous_out,
    read_table,
    tree_hashes,
    write_table,
)

from ivigbook.book import run as book_run
from ivigbook.cli import main as cli_main
from ivigbook.data.schema import REQUIRED_TABLES, TABLES

#: cases also run as real subprocesses (`python -m ivigbook.cli`), so the installed command
#: line is exercised end to end; one or two of every kind of fault
SUBPROCESS_CASES = {
    "missing-table-patients",
    "repeated-labels-and-day-month-dates",
    "wrong-type-date-format",
    "duplicate-patient-id",
    "utf16-file",
    "ragged-row",
    "xlsx-not-a-workbook",
    "dta-dates-as-numbers",
    "path-does-not-exist",
}


# ------------------------------------------------------------------ editing helpers
def set_cell(pkg: Path, table: str, index: int, column: str, value: str) -> int:
    """Set one cell of ``table`` (data row ``index``, 0-based); return its CSV line."""
    header, rows = read_table(pkg / f"{table}.csv")
    rows[index][header.index(column)] = value
    write_table(pkg / f"{table}.csv", header, rows)
    return index + 2


def find_row(pkg: Path, table: str, **where: str) -> int:
    """Index of the first data row whose cells equal ``where``."""
    header, rows = read_table(pkg / f"{table}.csv")
    return next(
        i for i, r in enumerate(rows) if all(r[header.index(k)] == v for k, v in where.items())
    )


def cell(pkg: Path, table: str, index: int, column: str) -> str:
    header, rows = read_table(pkg / f"{table}.csv")
    return rows[index][header.index(column)]


def drop_column(pkg: Path, table: str, column: str) -> None:
    header, rows = read_table(pkg / f"{table}.csv")
    i = header.index(column)
    write_table(
        pkg / f"{table}.csv", header[:i] + header[i + 1 :], [r[:i] + r[i + 1 :] for r in rows]
    )


def append_copy(pkg: Path, table: str, index: int) -> int:
    """Append a copy of data row ``index``; return the line of the copy."""
    header, rows = read_table(pkg / f"{table}.csv")
    rows.append(list(rows[index]))
    write_table(pkg / f"{table}.csv", header, rows)
    return len(rows) + 1


def csv_package(base: Path) -> Path:
    return copy_hopkins(base / "cohort")


def write_workbook(
    path: Path, pkg: Path, *, skip: str | None = None, rename: tuple[str, str, str] | None = None
) -> Path:
    """The CSV package ``pkg`` as one ``.xlsx`` workbook (one sheet per table, text cells)."""
    import openpyxl

    wb = openpyxl.Workbook(write_only=True)
    for name in TABLES:
        if name == skip or not (pkg / f"{name}.csv").exists():
            continue
        header, rows = read_table(pkg / f"{name}.csv")
        if rename and rename[0] == name:
            header = [rename[2] if h == rename[1] else h for h in header]
        ws = wb.create_sheet(name)
        ws.append(header)
        for r in rows:
            ws.append(r)
    wb.save(path)
    return path


def write_dta(folder: Path, pkg: Path, convert: Callable | None = None) -> Path:
    """The CSV package ``pkg`` as Stata ``.dta`` files (string columns unless ``convert``)."""
    import pandas as pd

    folder.mkdir(parents=True)
    for name in REQUIRED_TABLES:
        frame = pd.read_csv(pkg / f"{name}.csv", dtype=str, keep_default_na=False)
        if convert is not None:
            frame = convert(name, frame)
        frame.to_stata(folder / f"{name}.dta", write_index=False, version=118)
    return folder


# ------------------------------------------------------------------ the cases
@dataclass
class Case:
    """One malformed package: ``build(base)`` writes it under ``base`` and returns the
    path given to the CLI plus the lines (prefixes) the report must contain."""

    id: str
    build: Callable[[Path], tuple[Path, list[str]]]
    run_expect: list[str] | None = None  # what `run` prints instead (default: the same)
    validate_exit: int = 1
    run_exit: int = 1
    tags: set = field(default_factory=set)


CASES: list[Case] = []


def case(id: str, **kw):
    def register(fn):
        CASES.append(Case(id, fn, **kw))
        return fn

    return register


# -- missing required tables and columns (generated from the schema)
for _table in REQUIRED_TABLES:

    def _missing_table(base, t=_table):
        pkg = csv_package(base)
        (pkg / f"{t}.csv").unlink()
        return pkg, [f"{t}.csv:-:-: - required table missing"]

    CASES.append(Case(f"missing-table-{_table}", _missing_table))

for _table, _spec in TABLES.items():
    for _column in _spec.required_columns:

        def _missing_column(base, t=_table, c=_column):
            pkg = csv_package(base)
            drop_column(pkg, t, c)
            return pkg, [f"{t}.csv:1:{c}: - required column missing"]

        CASES.append(Case(f"missing-column-{_table}.{_column}", _missing_column))


# -- one cell edited (wrong types, blanks, out of range, non-integer scores, unknown
#    vocabulary, orphan ids, impossible dates and date orders): (case, table, row index or
#    {column: value} of the row, column, new value, the report after "<table>.csv:<line>:")
CELL_EDITS = [
    (
        "wrong-type-birth-year-text",
        "patients",
        2,
        "birth_year",
        "nineteen-sixty",
        "birth_year: nineteen-sixty - not a number",
    ),
    (
        "wrong-type-decimal-comma-dose",
        "infusions",
        0,
        "dose_g_per_kg",
        "2,0",
        "dose_g_per_kg: 2,0 - not a number",
    ),
    (
        "wrong-type-date-format",
        "infusions",
        5,
        "start_date",
        "13/09/2012",
        "start_date: 13/09/2012 - not a date in YYYY-MM-DD format",
    ),
    (
        "wrong-type-measurement-text",
        "measurements",
        {"measure": "MRSS"},
        "value",
        "high",
        "value: high - not a number",
    ),
    ("blank-required-value-sex", "patients", 4, "sex", "", 'sex: "" - required value is blank'),
    (
        "out-of-range-mrss",
        "measurements",
        {"measure": "MRSS"},
        "value",
        "60",
        "value: 60 - outside the range of MRSS (0 to 51)",
    ),
    (
        "out-of-range-fvc",
        "measurements",
        {"measure": "FVC_PCT"},
        "value",
        "250",
        "value: 250 - outside the range of FVC_PCT (10 to 200)",
    ),
    (
        "out-of-range-days",
        "infusions",
        3,
        "days",
        "0",
        "days: 0 - outside the range 1 to 10 (days)",
    ),
    (
        "out-of-range-birth-year",
        "patients",
        0,
        "birth_year",
        "1850",
        "birth_year: 1850 - outside the range 1900 to 2100 (year)",
    ),
    (
        "non-integer-mrss",
        "measurements",
        {"measure": "MRSS"},
        "value",
        "12.5",
        "value: 12.5 - MRSS must be a whole number",
    ),
    (
        "non-integer-medsger",
        "measurements",
        {"measure": "MEDSGER_SKIN"},
        "value",
        "2.5",
        "value: 2.5 - MEDSGER_SKIN must be a whole number",
    ),
    ("non-integer-days", "infusions", 1, "days", "4.5", "days: 4.5 - not a whole number"),
    ("unknown-sex", "patients", 1, "sex", "X", "sex: X - not one of F, M"),
    (
        "unknown-measure",
        "measurements",
        7,
        "measure",
        "MRSS_TOTAL",
        "measure: MRSS_TOTAL - unknown measure code (see the measures table)",
    ),
    (
        "unknown-drug",
        "medications",
        0,
        "drug",
        "aspirin",
        "drug: aspirin - not a known drug code (see the data dictionary)",
    ),
    (
        "unknown-overlap-in-list",
        "patients",
        3,
        "overlap",
        "myositis;lupus",
        "overlap: myositis;lupus - not one of myositis, sjogren, ra, sle, other (in a ;-list)",
    ),
    (
        "unknown-serious-flag",
        "adverse_events",
        2,
        "serious",
        "maybe",
        "serious: maybe - not one of yes, no",
    ),
    (
        "orphan-infusion",
        "infusions",
        10,
        "patient_id",
        "JH9999",
        "patient_id: JH9999 - patient_id not in patients.csv",
    ),
    (
        "orphan-adverse-event",
        "adverse_events",
        0,
        "patient_id",
        "XX0001",
        "patient_id: XX0001 - patient_id not in patients.csv",
    ),
    (
        "impossible-date",
        "measurements",
        0,
        "date",
        "2013-02-30",
        "date: 2013-02-30 - impossible date (or year outside 1900-2100)",
    ),
    (
        "death-before-onset",
        "patients",
        1,
        "death_date",
        "2001-01-01",
        "death_date: 2001-01-01 - before onset_date",
    ),
    (
        "medication-stop-before-start",
        "medications",
        1,
        "stop_date",
        "2001-01-01",
        "stop_date: 2001-01-01 - before start_date",
    ),
    (
        "measurement-before-birth",
        "measurements",
        0,
        "date",
        "1950-01-01",
        "date: 1950-01-01 - before the patient's birth year",
    ),
]


def _cell_edit(table: str, row, column: str, value: str, expected: str):
    def make(base):
        pkg = csv_package(base)
        index = find_row(pkg, table, **row) if isinstance(row, dict) else row
        line = set_cell(pkg, table, index, column, value)
        return pkg, [f"{table}.csv:{line}:{expected}"]

    return make


for _id, *_edit in CELL_EDITS:
    CASES.append(Case(_id, _cell_edit(*_edit)))


# -- duplicate ids
@case("duplicate-patient-id")
def _(base):
    pkg = csv_package(base)
    line = append_copy(pkg, "patients", 0)
    pid = cell(pkg, "patients", 0, "patient_id")
    return pkg, [f"patients.csv:{line}:patient_id: {pid} - duplicate patient_id (first at row 2)"]


@case("duplicate-infusion")
def _(base):
    pkg = csv_package(base)
    line = append_copy(pkg, "infusions", 0)
    pid, start = cell(pkg, "infusions", 0, "patient_id"), cell(pkg, "infusions", 0, "start_date")
    return pkg, [
        f"infusions.csv:{line}:patient_id+start_date: {pid} {start} - duplicate "
        "patient_id + start_date (first at row 2)"
    ]


@case("duplicate-measurement")
def _(base):
    pkg = csv_package(base)
    line = append_copy(pkg, "measurements", 2)
    header, rows = read_table(pkg / "measurements.csv")
    pid, date, measure, _ = rows[2]
    return pkg, [
        f"measurements.csv:{line}:patient_id+date+measure: {pid} {date} {measure} - "
        "duplicate patient_id + date + measure (first at row 4)"
    ]


# -- a half-converted export: the same wrong value in many rows is one line per value
FULL_LIST_NOTE = "for the full list (one problem per line), add --report FILE"


def _labels_and_day_month_dates(base):
    """Sex exported as its labels, infusion dates as DD/MM/YYYY: one line per value, with
    the count and the first rows, a hint under each column's lines, and (``validate``
    only) how to get the full list."""
    pkg = csv_package(base)
    header, rows = read_table(pkg / "patients.csv")
    i = header.index("sex")
    first, count, label = {}, {}, {"F": "Female", "M": "Male"}
    for n, r in enumerate(rows):
        first.setdefault(r[i], n + 2)
        count[r[i]] = count.get(r[i], 0) + 1
        r[i] = label[r[i]]
    write_table(pkg / "patients.csv", header, rows)
    header, rows = read_table(pkg / "infusions.csv")
    j = header.index("start_date")
    for r in rows:
        y, m, d = r[j].split("-")
        r[j] = f"{d}/{m}/{y}"
    write_table(pkg / "infusions.csv", header, rows)
    return pkg, [
        f"patients.csv:{first['F']}:sex: Female - not one of F, M ({count['F']} rows: ",
        f"patients.csv:{first['M']}:sex: Male - not one of F, M ({count['M']} rows: ",
        "  hint: looks like a label export: write the codes ("
        + ", ".join(f"{label[c]} → {c}" for c in sorted(first, key=first.get))
        + ")",
        f"infusions.csv:2:start_date: {rows[0][j]} - not a date in YYYY-MM-DD format",
        "infusions.csv:*:start_date: ... - ",
        "  hint: dates look like DD/MM/YYYY: convert them to YYYY-MM-DD",
        FULL_LIST_NOTE,
    ]


CASES.append(Case("repeated-labels-and-day-month-dates", _labels_and_day_month_dates))


# -- impossible dates and date orders
@case("infusion-after-death")
def _(base):
    pkg = csv_package(base)
    set_cell(pkg, "patients", 0, "death_date", "2012-01-01")  # JH1305: cycles from 2012-09
    start = cell(pkg, "infusions", 0, "start_date")
    return pkg, [f"infusions.csv:2:start_date: {start} - after the patient's death_date"]


# -- empty, header-only, badly encoded or ragged files
@case("empty-patients-file")
def _(base):
    pkg = csv_package(base)
    (pkg / "patients.csv").write_bytes(b"")
    return pkg, ["patients.csv:-:-: - empty file (no header row)"]


@case("empty-measurements-file")
def _(base):
    pkg = csv_package(base)
    (pkg / "measurements.csv").write_bytes(b"")
    return pkg, ["measurements.csv:-:-: - empty file (no header row)"]


@case("header-only-infusions")
def _(base):
    pkg = csv_package(base)
    header, _ = read_table(pkg / "infusions.csv")
    write_table(pkg / "infusions.csv", header, [])
    return pkg, ["infusions.csv:-:-: - no data rows"]


@case("header-only-patients")
def _(base):
    pkg = csv_package(base)
    header, _ = read_table(pkg / "patients.csv")
    write_table(pkg / "patients.csv", header, [])
    pid = cell(pkg, "infusions", 0, "patient_id")
    return pkg, [
        "patients.csv:-:-: - no data rows",
        f"infusions.csv:2:patient_id: {pid} - patient_id not in patients.csv",
    ]


@case("utf16-file")
def _(base):
    pkg = csv_package(base)
    text = (pkg / "patients.csv").read_text(encoding="utf-8")
    (pkg / "patients.csv").write_bytes(text.encode("utf-16"))
    return pkg, ["patients.csv:1:-: - file is UTF-16 encoded; save it as CSV UTF-8"]


@case("latin1-file")
def _(base):
    pkg = csv_package(base)
    line = set_cell(pkg, "patients", 5, "center", "Hôpital Cochin")
    data = (pkg / "patients.csv").read_text(encoding="utf-8").encode("latin-1")
    (pkg / "patients.csv").write_bytes(data)
    at = data.index("ô".encode("latin-1"))
    return pkg, [
        f"patients.csv:{line}:-: byte 0xF4 at offset {at} - file is not UTF-8 text"
        " (save it as CSV UTF-8)"
    ]


@case("ragged-row")
def _(base):
    pkg = csv_package(base)
    path = pkg / "infusions.csv"
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    lines[6] = lines[6].rstrip("\n") + ",extra\n"
    path.write_text("".join(lines), encoding="utf-8")
    return pkg, ["infusions.csv:7:-: 5 fields - wrong number of fields (the header has 4)"]


# -- workbooks and Stata files
@case("xlsx-missing-sheet")
def _(base):
    pkg = csv_package(base / "csv")
    book = write_workbook(base / "cohort.xlsx", pkg, skip="measurements")
    return book, ["cohort.xlsx[measurements]:-:-: - required sheet missing"]


@case("xlsx-renamed-header")
def _(base):
    pkg = csv_package(base / "csv")
    book = write_workbook(
        base / "cohort.xlsx", pkg, rename=("patients", "birth_year", "year of birth")
    )
    return book, [
        "cohort.xlsx[patients]:1:birth_year: - required column missing",
        "cohort.xlsx[patients]:1:year of birth: - warning: ignored extra column; never rendered",
    ]


@case("xlsx-text-in-number-cell")
def _(base):
    pkg = csv_package(base / "csv")
    i = find_row(pkg, "measurements", measure="MRSS")
    line = set_cell(pkg, "measurements", i, "value", "high")
    book = write_workbook(base / "cohort.xlsx", pkg)
    return book, [f"cohort.xlsx[measurements]:{line}:value: high - not a number"]


@case("xlsx-not-a-workbook")
def _(base):
    book = base / "cohort.xlsx"
    book.write_bytes(b"patient_id,center\nJH1305,johns_hopkins\n")
    return book, [
        "cohort.xlsx:-:-: - cannot read the workbook (BadZipFile); save it again as "
        "an Excel .xlsx workbook"
    ]


def _numeric_dates(name, frame):
    """Dates stored as Stata day numbers without a %td format (a common export slip)."""
    import pandas as pd

    if name == "infusions":
        days = (pd.to_datetime(frame["start_date"]) - pd.Timestamp("1960-01-01")).dt.days
        frame["start_date"] = days.astype("int32")
    return frame


@case("dta-dates-as-numbers")
def _(base):
    import pandas as pd

    pkg = csv_package(base / "csv")
    folder = write_dta(base / "stata", pkg, _numeric_dates)
    first = (
        pd.Timestamp(cell(pkg, "infusions", 0, "start_date")) - pd.Timestamp("1960-01-01")
    ).days
    return folder, [f"infusions.dta:1:start_date: {first} - not a date in YYYY-MM-DD format"]


def _sex_as_codes(name, frame):
    if name == "patients":
        frame["sex"] = frame["sex"].map({"F": 2, "M": 1}).astype("int8")
    return frame


@case("dta-sex-as-numbers")
def _(base):
    pkg = csv_package(base / "csv")
    folder = write_dta(base / "stata", pkg, _sex_as_codes)
    code = {"F": 2, "M": 1}[cell(pkg, "patients", 0, "sex")]
    return folder, [f"patients.dta:1:sex: {code} - not one of F, M"]


# -- paths
@case(
    "path-does-not-exist",
    run_expect=["ivigbook run: error: the cohort package {path} does not exist"],
    run_exit=2,
)
def _(base):
    path = base / "no-such-export"
    return path, [f"{path}:-:-: - no such file or folder"]


@case("path-is-a-single-csv")
def _(base):
    pkg = csv_package(base)
    path = pkg / "patients.csv"
    return path, [f"{path}:-:-: - not a package: give a folder of table files or an .xlsx workbook"]


@case("mixed-formats-in-one-folder")
def _(base):
    pkg = csv_package(base)
    write_dta(base / "stata", pkg)
    os.replace(base / "stata" / "patients.dta", pkg / "patients.dta")
    return pkg, [f"{pkg}:-:-: - table files of several formats: csv ("]


# ------------------------------------------------------------------ the test
#: Cases `ivigbook run` is also tried on: one or two of every kind (all 60+ would double
#: the runtime; `run` validates with the same code as `validate`, see runner.run).
RUN_CASES = {
    "missing-table-patients",
    "repeated-labels-and-day-month-dates",
    "missing-column-measurements.value",
    "missing-column-patients.patient_id",
    "wrong-type-date-format",
    "wrong-type-decimal-comma-dose",
    "out-of-range-mrss",
    "non-integer-medsger",
    "unknown-sex",
    "unknown-overlap-in-list",
    "duplicate-patient-id",
    "orphan-infusion",
    "infusion-after-death",
    "death-before-onset",
    "empty-patients-file",
    "header-only-infusions",
    "utf16-file",
    "ragged-row",
    "xlsx-missing-sheet",
    "xlsx-renamed-header",
    "xlsx-not-a-workbook",
    "dta-dates-as-numbers",
    "dta-sex-as-numbers",
    "path-does-not-exist",
    "mixed-formats-in-one-folder",
}


@dataclass
class Outcome:
    path: Path
    expected: list[str]
    validate: subprocess.CompletedProcess
    run: subprocess.CompletedProcess | None
    validate_subprocess: subprocess.CompletedProcess | None
    run_subprocess: subprocess.CompletedProcess | None
    changed_inputs: list[str]
    changed_out: list[str]
    left_behind: list[str]


def _listing(folder: Path) -> list[str]:
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*"))


def _diff(before: dict, after: dict) -> list[str]:
    return sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k))


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory) -> dict[str, Outcome]:
    """Build every case, then run `validate` and `run` on each: in this process (with the
    notebook execution replaced by a failure, so a `run` that got past validation shows),
    and, for :data:`SUBPROCESS_CASES`, also as subprocesses, two at a time."""
    prepared = {}
    for c in CASES:
        root = tmp_path_factory.mktemp(c.id)
        base = root / "input"
        base.mkdir()
        path, expected = c.build(base)
        out = make_previous_out(root / "out")
        prepared[c.id] = (
            root,
            base,
            out,
            path,
            expected,
            tree_hashes(base),
            tree_hashes(out),
            _listing(root),
        )
    jobs = [
        (cid, cmd)
        for cid in prepared
        for cmd in ("validate", "run")
        if cmd == "validate" or cid in RUN_CASES
    ]

    def args(cid, cmd):
        _, _, out, path, *_ = prepared[cid]
        return (
            ("validate", path) if cmd == "validate" else ("run", path, "--out", out, "--jobs", "1")
        )

    def in_process(cid, cmd):
        out, err = io.StringIO(), io.StringIO()
        argv = [str(a) for a in args(cid, cmd)]
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = cli_main(argv)
            except SystemExit as e:  # argparse usage errors
                code = e.code
        return subprocess.CompletedProcess(argv, code, out.getvalue(), err.getvalue())

    def never_executed(*a, **k):
        raise AssertionError("ivigbook run started executing notebooks on bad data")

    done = {}
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(book_run, "execute_notebooks", never_executed)
        for cid, cmd in jobs:
            done[(cid, cmd)] = in_process(cid, cmd)
    sub_jobs = [job for job in jobs if job[0] in SUBPROCESS_CASES]
    with ThreadPoolExecutor(max_workers=2) as pool:
        for job, (proc, _) in zip(
            sub_jobs, pool.map(lambda j: cli(*args(*j), timeout=300), sub_jobs)
        ):
            done[("subprocess", *job)] = proc
    results = {}
    for cid, (root, base, out, path, expected, inputs, previous, listing) in prepared.items():
        validate, run = done[(cid, "validate")], done.get((cid, "run"))
        results[cid] = Outcome(
            path,
            expected,
            validate,
            run,
            done.get(("subprocess", cid, "validate")),
            done.get(("subprocess", cid, "run")),
            _diff(inputs, tree_hashes(base)),
            _diff(previous, tree_hashes(out)),
            sorted(set(_listing(root)) ^ set(listing)),
        )
    return results


def _lines(text: str) -> list[str]:
    return [ln.rstrip() for ln in text.splitlines()]


def _assert_reported(output: str, expected: list[str], what: str) -> None:
    lines = _lines(output)
    for exp in expected:
        assert any(ln.startswith(exp) for ln in lines), (
            f"{what}: expected a line starting with\n  {exp}\ngot:\n{output[-3000:]}"
        )
    assert "Traceback" not in output, f"{what} printed a traceback:\n{output[-3000:]}"


def test_at_least_30_distinct_cases():
    ids = [c.id for c in CASES]
    assert len(ids) == len(set(ids)) and len(ids) >= 30, len(ids)
    assert RUN_CASES <= set(ids) and SUBPROCESS_CASES <= RUN_CASES


@pytest.mark.parametrize("case", [c for c in CASES if c.id in SUBPROCESS_CASES], ids=lambda c: c.id)
def test_the_installed_command_reports_the_same(case: Case, outcomes):
    """The real subprocess prints what the in-process command line printed."""
    o = outcomes[case.id]
    for inproc, sub in ((o.validate, o.validate_subprocess), (o.run, o.run_subprocess)):
        assert sub.returncode == inproc.returncode, sub.stdout + sub.stderr
        assert sub.stdout == inproc.stdout
        assert sub.stderr == inproc.stderr


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_validate_rejects_and_names_file_row_column(case: Case, outcomes):
    o = outcomes[case.id]
    v = o.validate
    assert v.returncode == case.validate_exit, v.stdout + v.stderr
    _assert_reported(v.stdout + v.stderr, o.expected, "ivigbook validate")
    assert "valid cohort package" not in v.stdout


@pytest.mark.parametrize("case", [c for c in CASES if c.id in RUN_CASES], ids=lambda c: c.id)
def test_run_rejects_before_executing_anything(case: Case, outcomes):
    o = outcomes[case.id]
    r = o.run
    assert r.returncode == case.run_exit, r.stdout + r.stderr
    if case.run_expect:
        expected = [e.format(path=o.path) for e in case.run_expect]
    else:  # the same report, without the pointer to an option `run` does not have
        expected = [e for e in o.expected if e != FULL_LIST_NOTE]
    _assert_reported(r.stdout + r.stderr, expected, "ivigbook run")
    assert FULL_LIST_NOTE not in r.stdout + r.stderr
    assert "executing" not in r.stderr, "run started executing notebooks on bad data"
    if case.run_exit == 1:
        assert "ivigbook run: nothing was written" in r.stderr


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_inputs_and_previous_out_are_byte_identical(case: Case, outcomes):
    o = outcomes[case.id]
    assert not o.changed_inputs, f"input files modified: {o.changed_inputs}"
    assert not o.changed_out, f"the existing OUT was modified: {o.changed_out}"
    assert not o.left_behind, f"files created or removed: {o.left_behind}"


# ------------------------------------------------------------------ accepted with a warning
def _bom(pkg: Path) -> list[str]:
    path = pkg / "patients.csv"
    path.write_bytes(codecs.BOM_UTF8 + path.read_bytes())
    return ["patients.csv:1:-: - warning: UTF-8 byte-order mark (BOM) removed"]


def _csv_text(path: Path, sep: str, newline: str) -> str:
    header, rows = read_table(path)
    buf = io.StringIO()
    csv.writer(buf, delimiter=sep, lineterminator=newline).writerows([header, *rows])
    return buf.getvalue()


def _semicolon(pkg: Path) -> list[str]:
    for table in ("measurements", "adverse_events"):
        path = pkg / f"{table}.csv"
        path.write_bytes(_csv_text(path, ";", "\n").encode("utf-8"))
    return [
        f"{t}.csv:1:-: - warning: semicolon-separated file read with ';' as separator"
        for t in ("measurements", "adverse_events")
    ]


def _bom_and_semicolon(pkg: Path) -> list[str]:
    """What Excel's "CSV UTF-8" gives in a European locale: both at once."""
    path = pkg / "patients.csv"
    path.write_bytes(codecs.BOM_UTF8 + _csv_text(path, ";", "\r\n").encode("utf-8"))
    return [
        "patients.csv:1:-: - warning: UTF-8 byte-order mark (BOM) removed",
        "patients.csv:1:-: - warning: semicolon-separated file read with ';' as separator",
    ]


@pytest.mark.parametrize(
    "edit", [_bom, _semicolon, _bom_and_semicolon], ids=["bom", "semicolon", "bom+semicolon"]
)
def test_bom_and_semicolon_exports_are_accepted_with_a_warning(edit, tmp_path: Path):
    pkg = copy_hopkins(tmp_path / "cohort")
    warnings = edit(pkg)
    inputs = tree_hashes(pkg)

    proc, _ = cli("validate", pkg)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    _assert_reported(proc.stdout, warnings, "ivigbook validate")
    assert (
        f"{pkg}: valid cohort package (csv: 35 patients, 290 infusions, 3113 measurements, "
        "98 medications, 73 adverse_events;" in proc.stdout
    )
    assert tree_hashes(pkg) == inputs
    # `ivigbook run` on such a package, end to end (warnings shown, book built): the
    # privacy test's package is a BOM + `;` + CRLF export (tests/test_privacy.py).


# ------------------------------------------------------------------ OUT cannot be written
def test_out_that_cannot_be_written_fails_cleanly(tmp_path: Path):
    """OUT below a regular file. (CI runs as root, for whom ``chmod a-w`` stops nothing and
    a read-only bind mount needs privileges; no user, root included, can create a folder
    inside a regular file: mkdir fails with ENOTDIR.)"""
    pkg = copy_hopkins(tmp_path / "cohort")
    blocker = tmp_path / "report.txt"
    blocker.write_text("an ordinary file\n")
    inputs = tree_hashes(tmp_path)
    everything = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*"))

    proc, _ = cli("run", pkg, "--out", blocker / "sub" / "book")
    assert proc.returncode == 2
    assert (
        f"ivigbook run: error: --out {blocker / 'sub' / 'book'} cannot be created: "
        f"{blocker} is a file, not a folder"
    ) in proc.stderr
    assert "Traceback" not in proc.stdout + proc.stderr
    assert "executing" not in proc.stderr and "valid" not in proc.stderr  # checked first
    assert tree_hashes(tmp_path) == inputs
    assert sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*")) == everything

    # OUT itself an existing file: a usage error (exit 2), the file untouched
    proc, _ = cli("run", pkg, "--out", blocker)
    assert proc.returncode == 2
    assert f"ivigbook run: error: --out {blocker} exists and is not a folder" in proc.stderr
    assert tree_hashes(tmp_path) == inputs
