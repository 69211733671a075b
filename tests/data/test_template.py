"""The template is generated from the contract and, once filled, validates."""

from __future__ import annotations

import csv
import datetime as dt
import zipfile

import openpyxl
import pytest

from ivigbook import cli
from ivigbook.data import template
from ivigbook.data.io import REFERENCE_SHEETS, read_package
from ivigbook.data.schema import AE_TERMS, LABELS, MEASURES, TABLES, dictionary_rows, measure_rows
from ivigbook.data.sheets import EXAMPLE_ID, EXAMPLE_RULE, column_sheets, vocabularies
from ivigbook.data.template import (
    DATE_FORMAT,
    FIXED_TIME,
    LAST_ROW,
    WORKBOOK,
    example_rows,
    template_files,
    write_template,
)
from ivigbook.data.validate import validate_package

PATIENT = {
    "patient_id": "T01",
    "sex": "F",
    "birth_year": "1966",
    "ssc_subtype": "diffuse",
    "active_skin_disease": "yes",
}
INFUSIONS = [
    {"patient_id": "T01", "start_date": f"2020-0{m}-03", "dose_g_per_kg": "2", "days": "5"}
    for m in (1, 2, 3)
]
MRSS = {"patient_id": "T01", "date": "2019-12-20", "measure": "MRSS", "value": "28"}
FILL = {"patients": [PATIENT], "infusions": INFUSIONS, "measurements": [MRSS]}
REQUIRED = ("patients", "infusions", "measurements")


def _fill_csv(d):
    for name, rows in FILL.items():
        with open(d / TABLES[name].file, "a", encoding="utf-8", newline="") as f:
            csv.DictWriter(f, TABLES[name].column_names, lineterminator="\n").writerows(rows)


def _fill_workbook(path):
    wb = openpyxl.load_workbook(path)
    for name, rows in FILL.items():
        for row in rows:
            wb[name].append([row.get(c) for c in TABLES[name].column_names])
    wb.save(path)


@pytest.fixture
def workbook(tmp_path):
    write_template(tmp_path)
    return openpyxl.load_workbook(tmp_path / "xlsx" / WORKBOOK)


# ---------------------------------------------------------------- files and folders
def test_template_files_follow_the_contract(tmp_path):
    files = write_template(tmp_path / "t")
    assert files == template_files(tmp_path / "t")
    assert files == [tmp_path / "t" / "csv" / t.file for t in TABLES.values()] + [
        tmp_path / "t" / "xlsx" / WORKBOOK
    ]
    assert sorted(p.name for p in (tmp_path / "t").iterdir()) == ["csv", "xlsx"]
    assert sorted(p.name for p in (tmp_path / "t" / "xlsx").iterdir()) == [WORKBOOK]
    for t in TABLES.values():
        assert (tmp_path / "t" / "csv" / t.file).read_text("utf-8") == ",".join(
            t.column_names
        ) + "\n"


def test_workbook_sheets(workbook):
    vocab = list(vocabularies())
    assert workbook.sheetnames == ["read_me", *TABLES, *vocab, "dictionary", "measures"]
    assert {s.lower() for s in workbook.sheetnames} - set(TABLES) == set(REFERENCE_SHEETS)
    for t in TABLES.values():
        assert [c.value for c in workbook[t.name][1]] == t.column_names
        assert all(c.comment is not None for c in workbook[t.name][1])
    for sheet, rows in (("dictionary", dictionary_rows()), ("measures", measure_rows())):
        values = list(workbook[sheet].iter_rows(values_only=True))
        assert list(values[0]) == list(rows[0])
        assert [list(v) for v in values[1:]] == [list(r.values()) for r in rows]
    # every coded column of the contract has its codes on a sheet, labels from the schema
    for (table, column), sheet in column_sheets().items():
        codes = [r[0] for r in workbook[sheet].iter_rows(min_row=2, values_only=True)]
        expected = TABLES[table].column(column).vocab or tuple(AE_TERMS)
        assert codes == list(expected), (table, column)
    sex = list(workbook["vocab_sex"].iter_rows(values_only=True))
    assert sex == [
        ("code", "label"),
        *((c, LABELS[c]) for c in TABLES["patients"].column("sex").vocab),
    ]
    assert list(workbook["vocab_ae_terms"].iter_rows(min_row=2, values_only=True)) == list(
        AE_TERMS.items()
    )


def test_read_me_explains_the_workbook(workbook):
    text = "\n".join(str(r[0]) for r in workbook["read_me"].iter_rows(values_only=True) if r[0])
    assert workbook.sheetnames[0] == "read_me"
    for needed in (
        "YYYY-MM-DD",
        EXAMPLE_ID,
        "blank",
        "ivigbook validate FILE",
        "ivigbook run FILE --out OUT",
        "never be committed to git",
        *(t.description for t in TABLES.values()),
        *vocabularies(),
    ):
        assert needed in text, needed


def test_example_rows_are_one_patient(workbook):
    rows = example_rows()
    for t in TABLES.values():
        ws = workbook[t.name]
        assert ws.max_row == 2
        cells = ws[2]
        assert cells[0].value == EXAMPLE_ID
        assert all(c.font.italic and c.font.color.rgb.endswith("808080") for c in cells)
        assert "delete" in cells[0].comment.text and "overwrite" in cells[0].comment.text
        assert [c.value for c in cells] == [
            dt.datetime.combine(v, dt.time()) if isinstance(v, dt.date) else v for v in rows[t.name]
        ]


def test_example_row_would_be_valid_data(tmp_path):
    """The example shows valid values: renamed to a real id, it validates cleanly."""
    for name, given in template._EXAMPLE.items():  # no value for a renamed column
        assert set(given) <= set(TABLES[name].column_names), name
    write_template(tmp_path)
    path = tmp_path / "xlsx" / WORKBOOK
    wb = openpyxl.load_workbook(path)
    for name in TABLES:
        wb[name]["A2"] = "X01"
    wb.save(path)
    report = validate_package(read_package(path))
    assert report.problems == [], report.format()


def test_every_coded_column_has_a_validation(workbook):
    for t in TABLES.values():
        ws = workbook[t.name]
        by_column = {}
        for dv in ws.data_validations.dataValidation:
            for rng in dv.sqref.ranges:
                assert (rng.min_row, rng.max_row) == (2, LAST_ROW)
                assert rng.min_col == rng.max_col
                by_column[t.columns[rng.min_col - 1].name] = dv
        for c in t.columns:
            sheet = column_sheets().get((t.name, c.name))
            if c.kind == "vocab":
                dv = by_column[c.name]
                n = len(c.vocab)
                assert dv.type == "list" and dv.formula1 == f"'{sheet}'!$A$2:$A${n + 1}"
                assert dv.errorStyle == "stop" and dv.showErrorMessage
            elif c.kind == "vocab_list":  # lists like myositis;sjogren must stay possible
                dv = by_column[c.name]
                assert dv.type is None and not dv.showErrorMessage and dv.showInputMessage
                assert all(code in dv.prompt for code in c.vocab)
            elif c.kind in ("int", "float"):
                dv = by_column[c.name]
                assert dv.type == ("whole" if c.kind == "int" else "decimal")
                assert (float(dv.formula1), float(dv.formula2)) == (c.lo, c.hi)
    measure = {
        str(dv.sqref): dv for dv in workbook["measurements"].data_validations.dataValidation
    }["C2:C5000"]
    assert measure.formula1 == f"'measures'!$A$2:$A${len(MEASURES) + 1}"
    [term] = [
        dv
        for dv in workbook["adverse_events"].data_validations.dataValidation
        if str(dv.sqref) == "C2:C5000"
    ]
    assert term.type == "list" and term.formula1 == f"'vocab_ae_terms'!$A$2:$A${len(AE_TERMS) + 1}"
    assert term.errorStyle == "information"  # free-text terms are allowed


def test_date_columns_are_date_formatted(workbook):
    for t in TABLES.values():
        ws = workbook[t.name]
        for i, c in enumerate(t.columns, start=1):
            letter = openpyxl.utils.get_column_letter(i)
            is_date = ws.column_dimensions[letter].number_format == DATE_FORMAT
            assert is_date == (c.kind == "date"), (t.name, c.name)
            assert (ws.cell(2, i).number_format == DATE_FORMAT) == (c.kind == "date")


def test_workbook_bytes_are_reproducible(tmp_path):
    write_template(tmp_path / "a")
    write_template(tmp_path / "b")
    a, b = (tmp_path / d / "xlsx" / WORKBOOK for d in "ab")
    assert a.read_bytes() == b.read_bytes()
    with zipfile.ZipFile(a) as z:
        assert {i.date_time for i in z.infolist()} == {FIXED_TIME.timetuple()[:6]}
    props = openpyxl.load_workbook(a).properties
    assert props.created == props.modified == FIXED_TIME


# ---------------------------------------------------------------- reading the template back
def test_empty_template_reports_missing_rows_only(tmp_path):
    write_template(tmp_path)
    report = validate_package(read_package(tmp_path / "csv"))
    assert [(p.file, p.rule) for p in report.errors] == [
        (f"{name}.csv", "no data rows") for name in REQUIRED
    ]
    assert report.warnings == []
    report = validate_package(read_package(tmp_path / "xlsx"))
    assert [(p.file, p.rule) for p in report.errors] == [
        (f"{WORKBOOK}[{name}]", "no data rows") for name in REQUIRED
    ]
    assert [(p.file, p.row, p.rule) for p in report.warnings] == [
        (f"{WORKBOOK}[{name}]", 2, EXAMPLE_RULE) for name in TABLES
    ]


def test_filled_csv_template_validates(tmp_path):
    write_template(tmp_path)
    _fill_csv(tmp_path / "csv")
    report = validate_package(read_package(tmp_path / "csv"))
    assert report.ok and report.problems == [], report.format()


@pytest.mark.parametrize("target", ["xlsx", f"xlsx/{WORKBOOK}"])
def test_filled_workbook_validates_without_the_example(tmp_path, target):
    write_template(tmp_path)
    _fill_workbook(tmp_path / "xlsx" / WORKBOOK)  # row 2, the example, stays in place
    raw = read_package(tmp_path / target)
    report = validate_package(raw)
    assert raw.format == "xlsx" and report.errors == [], report.format()
    assert [(p.file, p.rule, p.severity) for p in report.warnings] == [
        (f"{WORKBOOK}[{name}]", EXAMPLE_RULE, "warning") for name in TABLES
    ]
    for name, table in raw.tables.items():
        assert EXAMPLE_ID not in set(table.frame["patient_id"]), name
        assert list(table.rows) == list(range(3, 3 + len(FILL.get(name, []))))
    assert raw.tables["patients"].frame.loc[0, "patient_id"] == "T01"


def test_example_row_dropped_only_when_exact(tmp_path):
    """Only patient_id exactly EXAMPLE is the example; 'example' is data (and an error)."""
    write_template(tmp_path)
    path = tmp_path / "xlsx" / WORKBOOK
    _fill_workbook(path)
    wb = openpyxl.load_workbook(path)
    wb["infusions"]["A2"] = "example"
    wb.save(path)
    raw = read_package(path)
    assert "example" in set(raw.tables["infusions"].frame["patient_id"])
    rules = [(p.file, p.rule) for p in validate_package(raw).problems]
    assert (f"{WORKBOOK}[infusions]", EXAMPLE_RULE) not in rules
    assert (f"{WORKBOOK}[patients]", EXAMPLE_RULE) in rules


def test_template_never_overwrites_unless_asked(tmp_path):
    write_template(tmp_path)
    _fill_csv(tmp_path / "csv")
    patients = tmp_path / "csv" / "patients.csv"
    filled = patients.read_bytes()
    with pytest.raises(FileExistsError):
        write_template(tmp_path)
    assert patients.read_bytes() == filled
    write_template(tmp_path, overwrite=True)
    assert patients.read_bytes() != filled


def test_template_refuses_when_only_the_workbook_exists(tmp_path):
    (tmp_path / "xlsx").mkdir()
    (tmp_path / "xlsx" / WORKBOOK).write_bytes(b"mine")
    with pytest.raises(FileExistsError):
        write_template(tmp_path)
    assert (tmp_path / "xlsx" / WORKBOOK).read_bytes() == b"mine"
    assert not (tmp_path / "csv").exists()


# ---------------------------------------------------------------- command line
def test_cli_template_writes_both_folders(tmp_path, capsys):
    target = tmp_path / "mine"
    assert cli.main(["template", str(target)]) == 0
    out = capsys.readouterr().out
    assert all(f.exists() for f in template_files(target))
    for folder in ("csv", "xlsx"):
        assert f"ivigbook validate {target / folder}" in out
    assert WORKBOOK in out and "patients.csv" in out and "one of the two" in out
    assert cli.main(["template", str(target)]) == 1
    assert "would overwrite" in capsys.readouterr().err
    assert cli.main(["template", str(target), "--force"]) == 0
