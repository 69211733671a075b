"""Readers: every format round-trips the clean package; reading problems are Problems."""

from __future__ import annotations

import codecs
import datetime as dt
import io
import os
from pathlib import Path

import numpy as np
import openpyxl
import pandas as pd
import pytest
from conftest import VALID_TABLES, write_valid_package

from ivigbook.data.io import _column_text, read_package
from ivigbook.data.schema import TABLES
from ivigbook.data.validate import validate_package


# ---------------------------------------------------------------- writers of each format
def _typed(name: str) -> pd.DataFrame:
    """The clean table with real types (dates, numbers), as a statistician would export it."""
    df = pd.DataFrame(VALID_TABLES[name], columns=TABLES[name].column_names)
    for col in TABLES[name].columns:
        if col.kind == "date":
            df[col.name] = pd.to_datetime(df[col.name].replace("", None))
        elif col.kind in ("int", "float", "measure"):
            df[col.name] = pd.to_numeric(df[col.name].replace("", None)).astype("float64")
    return df


def _write_csv_variant(d: Path, *, bom: bool = False, sep: str = ",", crlf: bool = False) -> Path:
    """The clean package as another program would export it (Excel: BOM, ``;``, CRLF)."""
    d.mkdir(parents=True, exist_ok=True)
    for name in VALID_TABLES:
        buffer = io.StringIO()
        _expected(name).to_csv(
            buffer, sep=sep, index=False, lineterminator="\r\n" if crlf else "\n"
        )
        data = buffer.getvalue().encode("utf-8")
        (d / TABLES[name].file).write_bytes((codecs.BOM_UTF8 if bom else b"") + data)
    return d


def _write_xlsx(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    wb = openpyxl.Workbook()
    wb.remove(wb.active)
    for name in VALID_TABLES:
        ws = wb.create_sheet(name.upper() if name == "patients" else name)  # sheet names: any case
        df = _typed(name)
        ws.append(list(df.columns))
        for row in df.itertuples(index=False):
            ws.append(
                [
                    None
                    if pd.isna(v) or v == ""
                    else (v.to_pydatetime() if isinstance(v, pd.Timestamp) else v)
                    for v in row
                ]
            )
    wb.create_sheet("notes").append(["anything"])
    wb.save(path)
    return path


def _write_dta(d: Path) -> Path:
    d.mkdir(parents=True, exist_ok=True)
    for name in VALID_TABLES:
        df = _typed(name)
        if name == "patients":  # a labelled numeric variable, as Stata users store codes
            df["sex"] = pd.Categorical(df["sex"], categories=["F", "M"])
        dates = {c.name: "td" for c in TABLES[name].columns if c.kind == "date"}
        df.to_stata(d / f"{name}.dta", write_index=False, convert_dates=dates)
    return d


def _write_parquet(d: Path) -> Path:
    d.mkdir(parents=True, exist_ok=True)
    for name in VALID_TABLES:
        df = _typed(name)
        for c in TABLES[name].columns:  # parquet date32: python dates
            if c.kind == "date":
                df[c.name] = [None if pd.isna(v) else v.date() for v in df[c.name]]
        df.to_parquet(d / f"{name}.parquet", index=False)
    return d


FORMATS = {
    "csv": lambda d: write_valid_package(d),
    "csv_bom": lambda d: _write_csv_variant(d, bom=True),
    "csv_semicolon": lambda d: _write_csv_variant(d, sep=";"),
    "csv_tab_crlf": lambda d: _write_csv_variant(d, sep="\t", crlf=True),
    "xlsx": lambda d: _write_xlsx(d / "cohort.xlsx"),
    "xlsx_in_folder": lambda d: _write_xlsx(d / "cohort.xlsx").parent,
    "dta": _write_dta,
    "parquet": _write_parquet,
}


def _expected(name: str) -> pd.DataFrame:
    return pd.DataFrame(VALID_TABLES[name], columns=TABLES[name].column_names, dtype="str")


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_format_round_trips_the_clean_package(tmp_path, fmt):
    path = FORMATS[fmt](tmp_path / "pkg")
    raw = read_package(path)
    assert not [p for p in raw.problems if p.severity == "error"], raw.problems
    assert set(raw.tables) == set(VALID_TABLES)
    for name in VALID_TABLES:
        got = raw.tables[name].frame
        assert list(got.columns) == TABLES[name].column_names
        assert all(pd.api.types.is_string_dtype(got[c]) for c in got.columns)
        pd.testing.assert_frame_equal(got, _expected(name), check_dtype=False)
    report = validate_package(raw)
    assert report.ok, report.format()


@pytest.mark.parametrize(
    "fmt, first_row, header_row, display",
    [
        ("csv", 2, 1, "patients.csv"),
        ("xlsx", 2, 1, "cohort.xlsx[PATIENTS]"),
        ("dta", 1, None, "patients.dta"),
        ("parquet", 1, None, "patients.parquet"),
    ],
)
def test_rows_are_numbered_as_a_person_sees_them(tmp_path, fmt, first_row, header_row, display):
    raw = read_package(FORMATS[fmt](tmp_path / "pkg"))
    patients = raw.tables["patients"]
    assert patients.file == display
    assert patients.header_row == header_row
    assert list(patients.rows) == [first_row, first_row + 1, first_row + 2]
    assert raw.format == fmt


def test_bom_and_separator_are_reported_as_warnings_naming_the_file(tmp_path):
    bom = read_package(_write_csv_variant(tmp_path / "bom", bom=True))
    assert {(p.file, p.severity) for p in bom.problems} == {
        (TABLES[t].file, "warning") for t in VALID_TABLES
    }
    assert all("byte-order mark" in p.rule for p in bom.problems)
    semi = read_package(_write_csv_variant(tmp_path / "semi", sep=";"))
    assert len(semi.problems) == len(VALID_TABLES)
    assert all(
        p.severity == "warning" and "semicolon-separated" in p.rule and p.row == 1
        for p in semi.problems
    )


def test_a_comma_file_with_semicolon_lists_stays_comma_separated(valid_package):
    raw = read_package(valid_package)  # patients has "skin;myositis" in a comma file
    assert raw.problems == []
    assert raw.tables["patients"].frame.loc[0, "ivig_indication"] == "skin;myositis"


def test_multiline_quoted_fields_keep_true_line_numbers(valid_package):
    f = valid_package / "patients.csv"
    lines = f.read_text().splitlines()
    lines[1] = lines[1].replace("Hopkins", '"Johns\nHopkins, Baltimore"', 1)
    f.write_text("\n".join(lines) + "\n")
    patients = read_package(valid_package).tables["patients"]
    assert list(patients.rows) == [2, 4, 5]
    assert patients.frame.loc[0, "center"] == "Johns\nHopkins, Baltimore"


def test_blank_lines_are_skipped_and_later_lines_keep_their_numbers(valid_package):
    f = valid_package / "infusions.csv"
    lines = f.read_text().splitlines()
    f.write_text("\n".join(lines[:3] + ["", ",,,", "  "] + lines[3:]) + "\n\n")
    infusions = read_package(valid_package).tables["infusions"]
    assert len(infusions) == len(VALID_TABLES["infusions"])
    assert list(infusions.rows[:4]) == [2, 3, 7, 8]


@pytest.mark.parametrize("quoted", [False, True], ids=["fast-parser", "exact-parser"])
def test_ragged_rows_are_errors_with_their_line(valid_package, quoted):
    f = valid_package / "infusions.csv"
    lines = f.read_text().splitlines()
    lines[2] = lines[2] + ",extra"
    lines[4] = "P01,2011-09-01"
    if quoted:
        lines[5] = lines[5].replace("P01", '"P01"')
    f.write_text("\n".join(lines) + "\n")
    raw = read_package(valid_package)
    rule = "wrong number of fields (the header has 4)"
    assert [(p.file, p.row, p.value, p.rule) for p in raw.problems] == [
        ("infusions.csv", 3, "5 fields", rule),
        ("infusions.csv", 5, "2 fields", rule),
    ]
    assert 3 not in raw.tables["infusions"].rows and 5 not in raw.tables["infusions"].rows
    assert len(raw.tables["infusions"]) == len(VALID_TABLES["infusions"]) - 2


def test_crlf_line_ends_read_like_lf(tmp_path):
    raw = read_package(_write_csv_variant(tmp_path / "crlf", crlf=True))
    assert raw.problems == []
    pd.testing.assert_frame_equal(
        raw.tables["patients"].frame, _expected("patients"), check_dtype=False
    )


def test_latin1_bytes_are_rejected_with_line_and_offset(valid_package):
    f = valid_package / "patients.csv"
    data = f.read_bytes()
    at = data.index(b"Hopkins", data.index(b"P02"))
    f.write_bytes(data[:at] + "Sant Pau Hospital Clínic".encode("latin-1") + data[at + 7 :])
    raw = read_package(valid_package)
    [problem] = [p for p in raw.problems if p.severity == "error"]
    offset = f.read_bytes().index(b"\xed")
    assert (problem.file, problem.row) == ("patients.csv", 3)
    assert problem.value == f"byte 0xED at offset {offset}"
    assert "not UTF-8" in problem.rule
    assert "patients" not in raw.tables


def test_header_must_be_on_line_1(valid_package):
    f = valid_package / "patients.csv"
    f.write_text("\n" + f.read_text())
    [problem] = read_package(valid_package).problems
    assert (problem.file, problem.row, problem.rule) == (
        "patients.csv",
        1,
        "line 1 must hold the column headers",
    )


def test_utf16_is_rejected(valid_package):
    f = valid_package / "measurements.csv"
    f.write_bytes(f.read_text().encode("utf-16"))
    [problem] = read_package(valid_package).problems
    assert problem.file == "measurements.csv" and "UTF-16" in problem.rule


def test_empty_files(valid_package):
    (valid_package / "patients.csv").write_bytes(b"")
    (valid_package / "medications.csv").write_bytes(b"\n")
    raw = read_package(valid_package)
    by_file = {p.file: p for p in raw.problems}
    assert by_file["patients.csv"].severity == "error"
    assert "empty file" in by_file["patients.csv"].rule
    assert by_file["medications.csv"].severity == "warning"
    assert "patients" not in raw.tables and len(raw.tables["medications"]) == 0


def test_headers_match_case_insensitively_extras_are_kept_aside(valid_package):
    f = valid_package / "patients.csv"
    header, rest = f.read_text().split("\n", 1)
    header = header.replace("patient_id", " Patient_ID ").replace("sex", "SEX")
    lines = rest.splitlines()
    f.write_text(header + ",notes,\n" + "\n".join(line + ",secret," for line in lines) + "\n")
    raw = read_package(valid_package)
    patients = raw.tables["patients"]
    assert list(patients.frame.columns) == TABLES["patients"].column_names
    assert patients.extra_columns == ("notes",)  # the blank trailing column is dropped
    assert "secret" not in patients.frame.to_numpy()
    renamed = {(p.row, p.column, p.value, p.severity) for p in raw.problems}
    assert renamed == {(1, "patient_id", " Patient_ID ", "warning"), (1, "sex", "SEX", "warning")}


def test_duplicate_header_is_an_error(valid_package):
    f = valid_package / "infusions.csv"
    text = f.read_text().splitlines()
    f.write_text("\n".join(line + "," + line.split(",")[1] for line in text) + "\n")
    [problem] = read_package(valid_package).problems
    assert (problem.file, problem.row, problem.column, problem.severity) == (
        "infusions.csv",
        1,
        "start_date",
        "error",
    )


@pytest.mark.parametrize(
    "setup, file, rule",
    [
        (lambda d: d / "nowhere", "nowhere", "no such file or folder"),
        (
            lambda d: (d / "notes.txt").write_text("x") and d / "notes.txt",
            "notes.txt",
            "not a package",
        ),
        (lambda d: d, "", "no cohort tables found"),
    ],
)
def test_unreadable_paths_become_problems(tmp_path, setup, file, rule):
    path = setup(tmp_path)
    raw = read_package(path)
    [problem] = raw.problems
    assert problem.file == str(tmp_path / file).rstrip("/") and rule in problem.rule
    assert raw.tables == {}


def test_missing_tables_and_sheets(valid_package, tmp_path):
    (valid_package / "infusions.csv").unlink()
    (valid_package / "medications.csv").unlink()  # optional: no problem
    raw = read_package(valid_package)
    assert [(p.file, p.rule) for p in raw.problems] == [("infusions.csv", "required table missing")]
    assert "medications" in raw.missing and "medications" not in raw.tables

    wb = _write_xlsx(tmp_path / "x" / "cohort.xlsx")
    book = openpyxl.load_workbook(wb)
    del book["measurements"]
    book.save(wb)
    raw = read_package(wb)
    errors = [(p.file, p.rule) for p in raw.problems if p.severity == "error"]
    assert errors == [("cohort.xlsx[measurements]", "required sheet missing")]
    assert ("cohort.xlsx[notes]", "warning") in {(p.file, p.severity) for p in raw.problems}


def test_unreadable_workbook(tmp_path):
    bad = tmp_path / "cohort.xlsx"
    bad.write_bytes(b"PK\x03\x04 this is not a workbook")
    [problem] = read_package(bad).problems
    assert problem.file == "cohort.xlsx" and "cannot read the workbook" in problem.rule


def test_folder_format_choice(valid_package, tmp_path):
    _write_xlsx(valid_package / "cohort_template.xlsx")
    raw = read_package(valid_package)  # CSVs win; the workbook is named in a warning
    assert raw.format == "csv"
    assert [(p.file, p.severity) for p in raw.problems] == [("cohort_template.xlsx", "warning")]
    _write_dta(valid_package)
    [problem] = read_package(valid_package).problems
    assert "several formats" in problem.rule
    two = tmp_path / "two"
    _write_xlsx(two / "a.xlsx"), _write_xlsx(two / "b.xlsx")
    [problem] = read_package(two).problems
    assert "several workbooks" in problem.rule


def test_sha256_is_deterministic_and_tracks_content(valid_package):
    first = read_package(valid_package).sha256
    assert first == read_package(valid_package).sha256 and len(first) == 64
    f = valid_package / "measurements.csv"
    f.write_text(f.read_text().replace("30", "31", 1))
    assert read_package(valid_package).sha256 != first


def test_reading_never_writes(valid_package):
    for f in valid_package.iterdir():
        f.chmod(0o444)
    before = {f.name: (f.read_bytes(), f.stat().st_mtime_ns) for f in valid_package.iterdir()}
    assert read_package(valid_package).problems == []
    assert before == {
        f.name: (f.read_bytes(), f.stat().st_mtime_ns) for f in valid_package.iterdir()
    }
    for f in valid_package.iterdir():
        os.chmod(f, 0o644)


def test_typed_columns_render_as_text():
    cases = {
        "float": (pd.Series([1960.0, 0.4, np.nan, -2.0]), ["1960", "0.4", "", "-2"]),
        "int": (pd.Series([1, None], dtype="Int64"), ["1", ""]),
        "datetime": (pd.Series(pd.to_datetime(["2020-01-02", None])), ["2020-01-02", ""]),
        "with time": (pd.Series(pd.to_datetime(["2020-01-02 10:30"])), ["2020-01-02 10:30:00"]),
        "object": (
            pd.Series([dt.date(2020, 1, 2), None, "x", 3.0], dtype=object),
            ["2020-01-02", "", "x", "3"],
        ),
        "category": (pd.Series(pd.Categorical(["F", None])), ["F", ""]),
    }
    for label, (series, expected) in cases.items():
        assert _column_text(series).tolist() == expected, label


def test_unreadable_file_is_a_problem(valid_package, monkeypatch):
    read_bytes = Path.read_bytes

    def locked(self):
        if self.name == "infusions.csv":
            raise PermissionError(13, "Permission denied", str(self))
        return read_bytes(self)

    monkeypatch.setattr(Path, "read_bytes", locked)
    problems = read_package(valid_package).problems
    assert [(p.file, p.rule) for p in problems] == [
        ("infusions.csv", "cannot read the file (Permission denied)")
    ]


def test_many_ragged_rows_are_counted_not_all_listed(valid_package):
    f = valid_package / "measurements.csv"
    f.write_text(f.read_text() + "P01,2012-01-01,MRSS,1,x\n" * 80)
    raw = read_package(valid_package)
    assert len(raw.problems) == 50 and raw.problems[0].row == 11
    report = validate_package(raw)
    assert report.n_errors == 80
    assert (
        "measurements.csv:*:-: ... - 30 more not listed: wrong number of fields"
        " (the header has 4)" in report.format()
    )
