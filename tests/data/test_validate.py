"""Validation: every problem at once, with the row a person sees; loading a Cohort."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import SEEDED_ERRORS, SEEDED_WARNINGS, VALID_TABLES, write_valid_package

from ivigbook.data.cohort import Cohort
from ivigbook.data.io import read_package
from ivigbook.data.problems import DataError, Problem, Report
from ivigbook.data.schema import REQUIRED_TABLES, TABLES
from ivigbook.data.validate import (
    _dates,
    _numbers,
    load_cohort,
    load_cohort_with_report,
    pandera_schema,
    validate_package,
)


def _validate(path, **kw) -> Report:
    return validate_package(read_package(path), **kw)


def _where(report: Report, severity: str) -> list[tuple]:
    return [(p.file, p.row, p.column, p.rule) for p in report.problems if p.severity == severity]


def _edit(path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))


# ---------------------------------------------------------------- problems and reports
def test_problem_string_convention():
    assert (
        str(Problem("patients.csv", 7, "sex", "X", "not one of F, M"))
        == "patients.csv:7:sex: X - not one of F, M"
    )
    assert (
        str(Problem("patients.csv", None, None, None, "required table missing"))
        == "patients.csv:-:-: - required table missing"
    )
    assert (
        str(Problem("patients.csv", 4, "sex", "", "required value is blank"))
        == 'patients.csv:4:sex: "" - required value is blank'
    )
    assert (
        str(Problem("a.csv", 1, "x", None, "ignored extra column; never rendered", "warning"))
        == "a.csv:1:x: - warning: ignored extra column; never rendered"
    )
    assert str(Problem("a.csv", 2, "x", " 1\n", "r")) == 'a.csv:2:x: " 1\\n" - r'
    assert str(Problem("a.csv", 2, "x", "y" * 100, "r")) == f"a.csv:2:x: {'y' * 59}… - r"


def test_report_counts_and_format():
    report = Report(
        [
            Problem("b.csv", 3, "c", "1", "bad"),
            Problem("b.csv", None, None, None, "no data rows"),
            Problem("a.csv", 1, "x", None, "extra", "warning"),
        ],
        {("b.csv", "c", "bad", "error"): 5},
    )
    assert (report.n_errors, report.n_warnings, report.ok) == (7, 1, False)
    assert len(report.errors) == 2 and len(report.warnings) == 1
    assert report.format().splitlines() == [
        "b.csv:-:-: - no data rows",
        "b.csv:3:c: 1 - bad",
        "b.csv:*:c: ... - 5 more not listed: bad",
        "a.csv:1:x: - warning: extra",
        "7 errors, 1 warning",
    ]
    assert Report().format() == "0 errors, 0 warnings" and Report().ok


# ---------------------------------------------------------------- the contract drives pandera
@pytest.mark.parametrize("table", TABLES)
def test_pandera_schemas_are_generated_from_the_contract(table):
    schema, rules = pandera_schema(table)
    assert list(schema.columns) == TABLES[table].column_names
    for col in TABLES[table].columns:
        assert schema.columns[col.name].required == col.required
        has_blank_rule = "required value is blank" in [
            r for (c, _), r in rules.items() if c == col.name
        ]
        assert has_blank_rule == (not col.nullable)


@pytest.mark.parametrize(
    "table, column", [(t.name, c) for t in TABLES.values() for c in t.required_columns]
)
def test_every_required_column_is_enforced(valid_package, table, column):
    f = valid_package / TABLES[table].file
    df = pd.read_csv(f, dtype=str, keep_default_na=False).drop(columns=column)
    df.to_csv(f, index=False)
    errors = _where(_validate(valid_package), "error")
    assert (TABLES[table].file, 1, column, "required column missing") in errors
    assert len(errors) == 1 or column == "patient_id"


# ---------------------------------------------------------------- clean and seeded packages
def test_clean_package_has_no_problem(valid_package):
    report = _validate(valid_package)
    assert report.problems == [] and report.ok
    assert report.format() == "0 errors, 0 warnings"


def test_seeded_package_reports_every_problem_once(seeded_package):
    report = _validate(seeded_package)
    errors = _where(report, "error")
    for file, row, column, rule in SEEDED_ERRORS:
        hits = [e for e in errors if e[:3] == (file, row, column) and rule in e[3]]
        assert len(hits) == 1, (file, row, column, rule, errors)
    assert len(errors) == len(SEEDED_ERRORS), "unexpected extra errors"
    # P06 (row 7) also has its onset after its first IVIG cycle: a warning (until
    # conftest's SEEDED_WARNINGS lists it)
    onset = ("patients.csv", 7, "onset_date", "after the first IVIG cycle")
    expected = sorted({w[:3] for w in [*SEEDED_WARNINGS, onset]}, key=lambda w: w[1:])
    assert sorted((w[:3] for w in _where(report, "warning")), key=lambda w: w[1:]) == expected


def test_header_only_required_tables(valid_package):
    for name in TABLES:
        f = valid_package / TABLES[name].file
        f.write_text(f.read_text().split("\n", 1)[0] + "\n")
    errors = _where(_validate(valid_package), "error")
    assert errors == [(TABLES[n].file, None, None, "no data rows") for n in REQUIRED_TABLES]


def test_optional_tables_may_be_absent_or_empty(valid_package):
    (valid_package / "medications.csv").unlink()
    f = valid_package / "adverse_events.csv"
    f.write_text(f.read_text().split("\n", 1)[0] + "\n")
    assert _validate(valid_package).problems == []


def test_codes_are_case_insensitive_and_cells_are_stripped(valid_package):
    _edit(
        valid_package / "patients.csv",
        "P01,Hopkins,F,white,1962,diffuse",
        "P01,Hopkins, f ,White,1962 ,Diffuse",
    )
    _edit(valid_package / "measurements.csv", "P01,2010-12-20,MRSS,30", "P01, 2010-12-20 ,mrss, 30")
    assert _validate(valid_package).problems == []
    cohort = load_cohort(valid_package)
    coded = cohort.patients.loc[0, ["sex", "race", "ssc_subtype"]].tolist()
    assert coded == ["F", "white", "diffuse"]
    assert cohort.measurements.loc[0, "measure"] == "MRSS"


def test_decimal_comma_and_odd_numbers():
    cells = pd.Series(
        ["1,5", " ", "", "1e3", "+2", ".5", "5.", "inf", "nan", "0x10", "1 000"], dtype="str"
    )
    got = _numbers(cells.str.strip())
    expected = [np.nan, np.nan, np.nan, 1000, 2, 0.5, 5, np.nan, np.nan, np.nan, np.nan]
    np.testing.assert_array_equal(got, np.array(expected, dtype=float))


def test_date_parsing_is_strict():
    cells = [
        "2020-02-29",
        "2021-02-29",
        "2021-02-30",
        "1900-01-01",
        "1899-12-31",
        "2020-13-01",
        "2020-1-01",
        "2020-04-31",
        "2000-02-29",
        "2100-02-29",
        "",
        "01/02/2020",
    ]
    got = _dates(pd.Series(cells, dtype="str"))
    valid = [c for c, d in zip(cells, got) if not np.isnat(d)]
    assert valid == ["2020-02-29", "1900-01-01", "2000-02-29"]
    assert str(got[0]) == "2020-02-29"


def test_measure_ranges_come_from_the_measures_table(valid_package):
    f = valid_package / "measurements.csv"
    f.write_text(
        f.read_text() + "P03,2013-08-15,MEDSGER_GI,4\nP03,2013-08-15,MRC_STRENGTH,5\n"
        "P03,2013-08-15,MEDSGER_LUNG,5\nP03,2013-08-15,RENAL_CRISIS,1\n"
    )
    assert _where(_validate(valid_package), "error") == [
        ("measurements.csv", 13, "value", "outside the range of MEDSGER_LUNG (0 to 4)")
    ]


def test_many_problems_are_capped_but_all_counted(valid_package):
    f = valid_package / "measurements.csv"
    extra = "".join(
        f"P01,2012-{1 + i // 28:02d}-{1 + i % 28:02d},MRSS,{60 + i}\n" for i in range(120)
    )
    f.write_text(f.read_text() + extra)
    report = _validate(valid_package, limit=50)
    assert report.n_errors == 120 and len(report.errors) == 50
    assert [p.row for p in report.errors] == list(range(11, 61))
    lines = report.format().splitlines()
    assert (
        "measurements.csv:*:value: ... - 70 more values not listed (70 rows): "
        "outside the range of MRSS (0 to 51)" in lines
    )
    assert lines[-1] == "120 errors, 0 warnings"


def test_large_table_is_validated_vectorised(tmp_path):
    """200,000 measurement rows, every one wrong twice: seconds, and only the cap is listed
    (200,000 distinct bad dates, one value out of range in every row)."""
    d = write_valid_package(tmp_path / "big")
    n = 200_000
    rows = pd.DataFrame(
        {
            "patient_id": "P01",
            "date": pd.date_range("2000-01-01", periods=n, freq="h").strftime("%Y-%m-%d %H"),
            "measure": "MRSS",
            "value": "99",
        }
    )
    rows.to_csv(d / "measurements.csv", index=False)
    report = _validate(d)
    assert report.n_errors == 2 * n
    assert len(report.problems) == 50 + 1
    (repeated,) = [p for p in report.problems if p.column == "value"]
    assert (repeated.count, repeated.row, len(repeated.rows)) == (n, 2, n)
    assert str(repeated) == (
        "measurements.csv:2:value: 99 - outside the range of MRSS (0 to 51) "
        f"({n} rows: 2, 3, 4, 5, 6, …)"
    )
    assert report.omitted_values == {
        ("measurements.csv", "date", "not a date in YYYY-MM-DD format", "error"): n - 50
    }


# ---------------------------------------------------------------- grouped repeats
def _set_column(path, column: str, values: list[str]) -> None:
    """Set ``column`` of the CSV file ``path`` row by row (cycling through ``values``)."""
    df = pd.read_csv(path, dtype=str, keep_default_na=False)
    df[column] = [values[i % len(values)] for i in range(len(df))]
    df.to_csv(path, index=False)


def _many_patients(path, n: int = 40) -> None:
    """``n`` patients, copies of the clean ones (ids P01..; from P04 on without infusions)."""
    df = pd.read_csv(path / "patients.csv", dtype=str, keep_default_na=False)
    df = pd.concat([df] * (n // len(df) + 1), ignore_index=True).head(n)
    df["patient_id"] = [f"P{i + 1:02d}" for i in range(n)]
    df.to_csv(path / "patients.csv", index=False)


def test_a_problem_met_once_keeps_its_line_and_repeats_are_one_line():
    once = Problem("patients.csv", 7, "sex", "X", "not one of F, M")
    many = Problem(
        "patients.csv",
        2,
        "sex",
        "Hombre",
        "not one of F, M",
        count=38,
        rows=np.array([2, 3, 5, 8, 9] + list(range(10, 43))),
    )
    few = Problem("patients.csv", 4, "sex", "", "required value is blank", count=2, rows=[4, 6])
    assert str(once) == "patients.csv:7:sex: X - not one of F, M"
    assert str(many) == "patients.csv:2:sex: Hombre - not one of F, M (38 rows: 2, 3, 5, 8, 9, …)"
    assert str(few) == 'patients.csv:4:sex: "" - required value is blank (2 rows: 4, 6)'
    twice = Problem("x.csv", None, None, None, "required table missing", count=2)
    assert str(twice) == "x.csv:-:-: - required table missing (2 times)"
    report = Report([many, once, few])
    assert (report.n_errors, len(report.errors), report.abbreviated) == (41, 3, True)
    assert report.format("--report FILE").splitlines() == [
        str(many),
        str(few),
        str(once),
        "41 errors, 0 warnings",
        "for the full list (one problem per line), add --report FILE",
    ]
    assert Report([once]).format("--report FILE").splitlines()[-1] == "1 error, 0 warnings"


def test_problems_added_one_by_one_are_grouped_when_they_repeat():
    """Readers add problems one by one (ragged rows, ...): the report groups them too,
    with or without a value, and keeps the files in order."""
    ragged = [Problem("b.csv", r, None, "5 fields", "wrong number of fields") for r in (9, 3, 4)]
    blank = [Problem("b.csv", r, None, None, "blank line") for r in (6, 2)]
    report = Report([*ragged, Problem("a.csv", 5, "x", "1", "bad"), *blank])
    assert report.format().splitlines() == [
        "b.csv:2:-: - blank line (2 rows: 2, 6)",
        "b.csv:3:-: 5 fields - wrong number of fields (3 rows: 3, 4, 9)",
        "a.csv:5:x: 1 - bad",
        "6 errors, 0 warnings",
    ]


def test_validate_groups_repeats_by_value_in_order_of_first_row(valid_package):
    _many_patients(valid_package, 12)
    sexes = [
        "F",
        "Hombre",
        "Mujer",
        "Hombre",
        "Hombre",
        "M",
        "Hombre",
        "Hombre",
        "mujer",
        "F",
        "Hombre",
        "X",
    ]
    _set_column(valid_package / "patients.csv", "sex", sexes)
    report = _validate(valid_package)
    lines = [ln for ln in report.format().splitlines() if ":sex:" in ln]
    assert lines == [
        "patients.csv:3:sex: Hombre - not one of F, M (6 rows: 3, 5, 6, 8, 9, …)",
        "patients.csv:4:sex: Mujer - not one of F, M",
        "patients.csv:10:sex: mujer - not one of F, M",
        "patients.csv:13:sex: X - not one of F, M",
    ]
    (hombre,) = [p for p in report.problems if p.value == "Hombre"]
    assert list(hombre.rows) == [3, 5, 6, 8, 9, 12] and hombre.count == 6
    assert report.n_errors == 9  # rows, not lines
    assert report.format().splitlines()[-1] == "9 errors, 9 warnings"  # 9 with no infusions


def test_limit_counts_lines_per_column_and_rule(valid_package):
    f = valid_package / "measurements.csv"
    values = [99, 98, 99, 97, 96, 99, 95, 96]
    f.write_text(
        f.read_text() + "".join(f"P01,2012-01-{d + 1:02d},MRSS,{v}\n" for d, v in enumerate(values))
    )
    report = _validate(valid_package, limit=2)
    assert report.format().splitlines() == [
        "measurements.csv:11:value: 99 - outside the range of MRSS (0 to 51) (3 rows: 11, 13, 16)",
        "measurements.csv:12:value: 98 - outside the range of MRSS (0 to 51)",
        "measurements.csv:*:value: ... - 3 more values not listed (4 rows): "
        "outside the range of MRSS (0 to 51)",
        "8 errors, 0 warnings",
    ]
    assert report.abbreviated


def test_repeated_duplicates_name_their_first_row(valid_package):
    f = valid_package / "infusions.csv"
    text = f.read_text()
    first = text.splitlines()[1]
    f.write_text(text + f"{first}\n{first}\n")
    report = _validate(valid_package)
    assert report.format().splitlines()[0] == (
        "infusions.csv:11:patient_id+start_date: P01 2011-01-10 - duplicate patient_id + "
        "start_date (first at row 2) (2 rows: 11, 12)"
    )


def test_full_list_has_every_problem_ungrouped(valid_package, tmp_path):
    _many_patients(valid_package, 30)
    _set_column(valid_package / "patients.csv", "sex", ["Hombre", "Mujer", "F"])
    _set_column(
        valid_package / "patients.csv", "birth_year", [str(1901 + i) for i in range(30)] + ["x"]
    )
    f = valid_package / "measurements.csv"
    f.write_text(f.read_text() + "P01,2012-01-01,MRSS,99\n" * 3)
    report = _validate(valid_package, limit=1)
    out = tmp_path / "full.txt"
    out.write_text("old\n")
    out.chmod(0o644)
    written = report.write_full(out)
    lines = out.read_text(encoding="utf-8").splitlines()
    assert written == report.n_errors + report.n_warnings == len(lines) - 1
    assert (out.stat().st_mode & 0o777) == 0o600
    assert lines[-1] == report.summary()
    sex = [ln for ln in lines if ":sex:" in ln]
    assert sex[:3] == [
        "patients.csv:2:sex: Hombre - not one of F, M",
        "patients.csv:3:sex: Mujer - not one of F, M",
        "patients.csv:5:sex: Hombre - not one of F, M",
    ]
    assert len(sex) == 20 and len({ln.split(":")[1] for ln in sex}) == 20
    assert lines.index(sex[0]) < lines.index(
        "measurements.csv:11:value: 99 - outside the range of MRSS (0 to 51)"
    )
    rows = [int(ln.split(":")[1]) for ln in lines if ln.startswith("patients.csv")]
    assert rows == sorted(rows)
    fresh = tmp_path / "new.txt"
    Report([Problem("a.csv", 2, "x", "1", "bad")]).write_full(fresh)
    assert fresh.read_text().splitlines() == ["a.csv:2:x: 1 - bad", "1 error, 0 warnings"]
    assert (fresh.stat().st_mode & 0o777) == 0o600


def test_full_list_writes_what_the_reader_only_counted_as_its_count_line(tmp_path):
    key = ("m.csv", None, "wrong number of fields", "error")
    report = Report(
        [Problem("m.csv", r, None, "5 fields", key[2]) for r in (3, 2)]
        + [Problem("m.csv", None, None, None, "no data rows")],
        {key: 30},
    )
    assert report.write_full(tmp_path / "full.txt") == 3
    assert (tmp_path / "full.txt").read_text().splitlines() == [
        "m.csv:-:-: - no data rows",
        "m.csv:2:-: 5 fields - wrong number of fields",
        "m.csv:3:-: 5 fields - wrong number of fields",
        "m.csv:*:-: ... - 30 more not listed: wrong number of fields",
        "33 errors, 0 warnings",
    ]


def test_hints_follow_the_lines_they_concern_once(valid_package):
    _many_patients(valid_package, 6)
    _set_column(valid_package / "patients.csv", "sex", ["Female", "Male"])
    _set_column(valid_package / "patients.csv", "onset_date", ["15/04/2009", "20/01/2010"])
    for name, column in (("infusions", "start_date"), ("medications", "start_date")):
        path = valid_package / f"{name}.csv"
        df = pd.read_csv(path, dtype=str, keep_default_na=False)
        df[column] = pd.to_datetime(df[column]).dt.strftime("%d/%m/%Y")
        df.to_csv(path, index=False)
    _set_column(valid_package / "measurements.csv", "value", ["1,5", "2,25", "30"])
    lines = _validate(valid_package).format().splitlines()
    hints = [ln for ln in lines if ln.startswith("  hint: ")]
    date_hint = (
        "  hint: dates look like DD/MM/YYYY: convert them to YYYY-MM-DD, or use "
        '`ivigbook import` with a mapping file (date_format = "%d/%m/%Y")'
    )
    assert hints == [
        "  hint: looks like a label export: write the codes (Female → F, Male → M)",
        date_hint,
        "  hint: numbers have a decimal comma (1,5): write them with a decimal point (1.5), "
        'or use `ivigbook import` with a mapping file (decimal = ",")',
    ]
    at = lines.index(date_hint)
    assert ":onset_date:" in lines[at - 1]  # under the last line of patients' onset dates
    sex = [i for i, ln in enumerate(lines) if ":sex:" in ln]
    assert lines[sex[-1] + 1] == hints[0]


# ---------------------------------------------------------------- loading
def test_load_cohort_types_the_clean_package(valid_package):
    cohort, report = load_cohort_with_report(valid_package, name="demo")
    assert isinstance(cohort, Cohort) and report.ok
    assert (cohort.name, cohort.source) == ("demo", str(valid_package))
    assert cohort.sha256 == read_package(valid_package).sha256
    assert cohort.present == frozenset(TABLES)
    assert len(cohort.patients) == 3
    assert len(cohort.measurements) == len(VALID_TABLES["measurements"])
    assert cohort.patients["birth_year"].tolist() == [1962, 1955, 1971]
    assert cohort.patients["overlap"].isna().tolist() == [False, True, False]
    assert str(cohort.infusions["start_date"].dtype).startswith("datetime64")
    assert load_cohort(valid_package).name == valid_package.name


def test_load_cohort_keeps_warnings_and_absent_tables(valid_package):
    (valid_package / "adverse_events.csv").unlink()
    f = valid_package / "patients.csv"
    f.write_bytes(b"\xef\xbb\xbf" + f.read_bytes())
    cohort, report = load_cohort_with_report(valid_package)
    assert not cohort.has("adverse_events") and cohort.has("medications")
    assert len(cohort.adverse_events) == 0
    assert [p.rule for p in report.warnings] == ["UTF-8 byte-order mark (BOM) removed"]


def test_load_cohort_raises_data_error_with_the_whole_report(seeded_package):
    with pytest.raises(DataError) as info:
        load_cohort(seeded_package)
    assert info.value.report.n_errors == len(SEEDED_ERRORS)
    assert f"{len(SEEDED_ERRORS)} errors" in str(info.value)


def test_load_cohort_of_a_missing_path_raises_data_error(tmp_path):
    with pytest.raises(DataError) as info:
        load_cohort(tmp_path / "nope")
    assert info.value.report.problems[0].rule == "no such file or folder"


def test_date_cells_are_real_iso_dates_within_the_plausible_years():
    from ivigbook.data import validate as V

    cells = [
        "2020-02-29",
        "2019-02-29",
        "2020-02-30",
        "2020-04-31",
        "1900-02-29",
        "2000-02-29",
        "2020-13-01",
        "2020-00-10",
        "2020-01-00",
        "2020-1-05",
        " 2020-01-05",
        "",
        "ñ",
        "1899-12-31",
        "1900-01-01",
        "2100-12-31",
        "2101-01-01",
        "2020-01-05T00:00",
    ]
    got = [str(d) for d in V._dates(pd.Series(cells, dtype="string[pyarrow]"))]
    assert got == [
        "2020-02-29",
        "NaT",
        "NaT",
        "NaT",
        "NaT",
        "2000-02-29",
        "NaT",
        "NaT",
        "NaT",
        "NaT",
        "NaT",
        "NaT",
        "NaT",
        "NaT",
        "1900-01-01",
        "2100-12-31",
        "NaT",
        "NaT",
    ]
    # cells that are all dates, back to back in the buffer, and a slice of them
    dense = pd.Series(["2011-05-22", "1999-12-31", "2024-02-29"] * 4, dtype="string[pyarrow]")
    assert [str(d) for d in V._dates(dense)][:3] == ["2011-05-22", "1999-12-31", "2024-02-29"]
    assert [str(d) for d in V._dates(dense.iloc[1:3])] == ["1999-12-31", "2024-02-29"]
