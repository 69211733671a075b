"""The template is generated from the contract and, once filled, validates."""

from __future__ import annotations

import csv

import openpyxl
import pytest

from ivigbook.data.io import read_package
from ivigbook.data.schema import TABLES, dictionary_rows, measure_rows
from ivigbook.data.template import WORKBOOK, write_template
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


def _fill_csv(d):
    for name, rows in FILL.items():
        with open(d / TABLES[name].file, "a", encoding="utf-8", newline="") as f:
            csv.DictWriter(f, TABLES[name].column_names, lineterminator="\n").writerows(rows)


def test_template_files_follow_the_contract(tmp_path):
    files = write_template(tmp_path / "t")
    assert sorted(f.name for f in files) == sorted([t.file for t in TABLES.values()] + [WORKBOOK])
    for t in TABLES.values():
        assert (tmp_path / "t" / t.file).read_text("utf-8") == ",".join(t.column_names) + "\n"
    wb = openpyxl.load_workbook(tmp_path / "t" / WORKBOOK)
    assert wb.sheetnames == [*TABLES, "dictionary", "measures"]
    for t in TABLES.values():
        assert [c.value for c in wb[t.name][1]] == t.column_names
        assert wb[t.name].max_row == 1
    for sheet, rows in (("dictionary", dictionary_rows()), ("measures", measure_rows())):
        values = list(wb[sheet].iter_rows(values_only=True))
        assert list(values[0]) == list(rows[0])
        assert [list(v) for v in values[1:]] == [list(r.values()) for r in rows]


def test_empty_template_reports_missing_rows_only(tmp_path):
    write_template(tmp_path)
    report = validate_package(read_package(tmp_path))
    assert [(p.file, p.rule) for p in report.errors] == [
        ("patients.csv", "no data rows"),
        ("infusions.csv", "no data rows"),
        ("measurements.csv", "no data rows"),
    ]
    assert [(p.file, p.severity) for p in report.warnings] == [(WORKBOOK, "warning")]


def test_filled_csv_template_validates(tmp_path):
    write_template(tmp_path)
    _fill_csv(tmp_path)
    report = validate_package(read_package(tmp_path))
    assert report.ok, report.format()


def test_filled_workbook_validates(tmp_path):
    write_template(tmp_path)
    wb = openpyxl.load_workbook(tmp_path / WORKBOOK)
    for name, rows in FILL.items():
        for row in rows:
            wb[name].append([row.get(c) for c in TABLES[name].column_names])
    wb.save(tmp_path / WORKBOOK)
    raw = read_package(tmp_path / WORKBOOK)
    assert raw.format == "xlsx" and validate_package(raw).problems == []
    assert raw.tables["patients"].frame.loc[0, "patient_id"] == "T01"


def test_template_never_overwrites_unless_asked(tmp_path):
    write_template(tmp_path)
    _fill_csv(tmp_path)
    filled = (tmp_path / "patients.csv").read_bytes()
    with pytest.raises(FileExistsError):
        write_template(tmp_path)
    assert (tmp_path / "patients.csv").read_bytes() == filled
    write_template(tmp_path, overwrite=True)
    assert (tmp_path / "patients.csv").read_bytes() != filled
