"""Faulty sources: ambiguous tables, hidden and unknown sheets or files, merged cells,
formulas without a saved value, UTF-16/32 text, NUL bytes, control characters and
ids in two Unicode forms. Each is a clear problem naming file, row and column."""

from __future__ import annotations

import codecs
import unicodedata
import zipfile
from pathlib import Path

import openpyxl
import pytest
from conftest import VALID_TABLES, write_valid_package

from ivigbook.cli import main
from ivigbook.data.importing.sources import read_source
from ivigbook.data.io import read_package
from ivigbook.data.problems import Problem, Report
from ivigbook.data.schema import TABLES
from ivigbook.data.template import write_workbook_template
from ivigbook.data.validate import validate_package


# ---------------------------------------------------------------- helpers
def _workbook(path: Path, edit=None) -> Path:
    """The clean package as a workbook (text cells), edited by ``edit(wb)``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    wb = openpyxl.Workbook()
    wb.remove(wb.active)
    for name, rows in VALID_TABLES.items():
        ws = wb.create_sheet(name)
        ws.append(TABLES[name].column_names)
        for r in rows:
            ws.append([v or None for v in r.values()])
    if edit is not None:
        edit(wb)
    wb.save(path)
    return path


def _errors(raw) -> list[Problem]:
    return [p for p in raw.problems if p.severity == "error"]


def _warnings(raw) -> list[Problem]:
    return [p for p in raw.problems if p.severity == "warning"]


def _rewrite_member(path: Path, member: str, old: bytes, new: bytes) -> None:
    """Replace ``old`` by ``new`` once in one member of the zip at ``path``."""
    with zipfile.ZipFile(path) as z:
        items = [(i, z.read(i)) for i in z.infolist()]
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for info, data in items:
            if info.filename == member:
                assert old in data, data[:400]
                data = data.replace(old, new, 1)
            z.writestr(info, data)


def _case_sensitive(folder: Path) -> bool:
    (folder / "probe").write_text("")
    sensitive = not (folder / "PROBE").exists()
    (folder / "probe").unlink()
    return sensitive


# ---------------------------------------------------------------- 1. which sheet, which file
def test_a_hidden_sheet_named_like_a_table_is_an_error_naming_both(tmp_path):
    def hidden_twin(wb):
        ws = wb.create_sheet("Patients ")
        ws.append(TABLES["patients"].column_names)
        ws.append(["X9", "Other"])
        ws.sheet_state = "hidden"

    raw = read_package(_workbook(tmp_path / "cohort.xlsx", hidden_twin))
    texts = [str(p) for p in _errors(raw)]
    assert any('"patients"' in t and '"Patients "' in t and "2 sheets" in t for t in texts), texts
    assert any(
        p.file == "cohort.xlsx[Patients ]" and "hidden sheet" in p.rule for p in _errors(raw)
    ), texts
    assert not validate_package(raw).ok


@pytest.mark.parametrize("state", ["hidden", "veryHidden"])
def test_a_hidden_table_sheet_is_an_error_naming_the_sheet(tmp_path, state):
    def hide(wb):
        wb["infusions"].sheet_state = state

    raw = read_package(_workbook(tmp_path / "cohort.xlsx", hide))
    [error] = _errors(raw)
    assert error.file == "cohort.xlsx[infusions]" and "hidden sheet" in error.rule
    assert "delete it" in error.rule and "never read" in error.rule


def test_unknown_sheets_warn_but_reference_sheets_of_the_template_do_not(tmp_path):
    raw = read_package(_workbook(tmp_path / "cohort.xlsx", lambda wb: wb.create_sheet("scratch")))
    assert [(p.file, p.severity) for p in raw.problems] == [("cohort.xlsx[scratch]", "warning")]
    write_workbook_template(tmp_path / "template.xlsx")
    raw = read_package(tmp_path / "template.xlsx")
    assert not [p for p in raw.problems if "sheet ignored" in p.rule], raw.problems


@pytest.mark.parametrize("twin", ["PATIENTS.CSV", "patients .csv", "Patients.csv"])
def test_two_files_for_one_table_are_an_error_naming_both(valid_package, twin):
    if twin != "patients .csv" and not _case_sensitive(valid_package):
        pytest.skip("case-insensitive file system")
    (valid_package / twin).write_bytes((valid_package / "patients.csv").read_bytes())
    raw = read_package(valid_package)
    [error] = _errors(raw)
    assert twin in error.rule and "patients.csv" in error.rule and "2 files" in error.rule
    assert not validate_package(raw).ok


def test_two_parquet_files_for_one_table_are_an_error(tmp_path):
    import pandas as pd

    folder = tmp_path / "pkg"
    folder.mkdir()
    for name, rows in VALID_TABLES.items():
        pd.DataFrame(rows, columns=TABLES[name].column_names).to_parquet(folder / f"{name}.parquet")
    (folder / "patients.pq").write_bytes((folder / "patients.parquet").read_bytes())
    [error] = _errors(read_package(folder))
    assert "patients.pq" in error.rule and "patients.parquet" in error.rule


def test_unknown_table_files_are_warned(valid_package):
    (valid_package / "notes.csv").write_text("a,b\n1,2\n", encoding="utf-8")
    (valid_package / "README.md").write_text("# my cohort\n", encoding="utf-8")
    raw = read_package(valid_package)
    [warning] = raw.problems
    assert warning.file == "notes.csv" and warning.severity == "warning"
    assert "not a table" in warning.rule and "patients.csv" in warning.rule


# ---------------------------------------------------------------- 2. merged cells, formulas
def test_merged_cells_are_an_error_naming_the_range(tmp_path):
    def merge(wb):
        wb["patients"].merge_cells("B2:B4")

    raw = read_package(_workbook(tmp_path / "cohort.xlsx", merge))
    merged = [p for p in _errors(raw) if "merged" in p.rule]
    assert [(p.file, p.row, p.column) for p in merged] == [("cohort.xlsx[patients]", 2, "center")]
    assert "B2:B4" in merged[0].rule and "unmerge" in merged[0].rule


def test_merged_cells_in_a_required_column_are_said_once(tmp_path):
    def merge(wb):
        wb["patients"].merge_cells("A2:A3")  # patient_id: required and unique

    report = validate_package(read_package(_workbook(tmp_path / "cohort.xlsx", merge)))
    about = [p for p in report.problems if p.file == "cohort.xlsx[patients]"]
    assert [("merged" in p.rule, p.row) for p in about] == [(True, 2)], report.format()


def test_a_formula_without_a_saved_value_is_an_error_naming_the_cell(tmp_path):
    def formula(wb):
        wb["patients"]["E3"] = "=1900+55"  # openpyxl saves formulas without a value

    raw = read_package(_workbook(tmp_path / "cohort.xlsx", formula))
    report = validate_package(raw)
    at_e3 = [p for p in report.errors if p.row == 3 and p.column == "birth_year"]
    [problem] = at_e3  # nothing more of the cell: no "blank", no "not a number"
    assert problem.file == "cohort.xlsx[patients]" and "cell E3" in problem.rule
    assert "save it again" in problem.rule and "values" in problem.rule


def test_a_formula_with_a_saved_value_is_read_as_its_value(tmp_path):
    def formula(wb):
        wb["patients"]["E3"] = "=1900+55"

    path = _workbook(tmp_path / "cohort.xlsx", formula)
    _rewrite_member(
        path, "xl/worksheets/sheet1.xml", b"<f>1900+55</f><v />", b"<f>1900+55</f><v>1955</v>"
    )
    raw = read_package(path)
    assert raw.problems == []
    assert raw.tables["patients"].frame.loc[1, "birth_year"] == "1955"


def test_rows_beyond_a_wrong_dimension_are_read(tmp_path):
    path = _workbook(tmp_path / "cohort.xlsx")
    _rewrite_member(
        path, "xl/worksheets/sheet1.xml", b'<dimension ref="A1:S4" />', b'<dimension ref="A1:B2" />'
    )
    raw = read_package(path)
    assert len(raw.tables["patients"]) == 3
    assert raw.tables["patients"].frame.loc[2, "death_date"] == ""
    assert raw.tables["patients"].frame.loc[1, "death_date"] == "2014-06-30"


def test_the_importer_reports_merged_cells_and_formulas_of_its_sheet(tmp_path):
    path = tmp_path / "export.xlsx"
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Visitas"
    ws.append(["nhc", "centro", "nacimiento"])
    ws.append(["1", "Clínic", "=1900+60"])
    ws.append(["2", None, 1961])
    ws.merge_cells("B2:B3")
    wb.save(path)
    table, problems = read_source(path, "Visitas")
    texts = [str(p) for p in problems]
    assert any(p.row == 2 and p.column == "centro" and "B2:B3" in p.rule for p in problems), texts
    assert any(p.row == 2 and p.column == "nacimiento" and "formula" in p.rule for p in problems), (
        texts
    )
    assert all(p.file == "export.xlsx[Visitas]" and p.severity == "error" for p in problems)


# ---------------------------------------------------------------- 3. text
@pytest.mark.parametrize(
    "encoding, name",
    [
        ("utf-16-le", "UTF-16"),
        ("utf-16-be", "UTF-16"),
        ("utf-32-le", "UTF-32"),
        ("utf-32-be", "UTF-32"),
        ("utf-32", "UTF-32"),  # with a byte-order mark
    ],
)
def test_utf16_and_utf32_are_errors_with_the_advice_to_save_as_utf8(valid_package, encoding, name):
    f = valid_package / "infusions.csv"
    f.write_bytes(f.read_text(encoding="utf-8").encode(encoding))
    [problem] = read_package(valid_package).problems
    assert problem.file == "infusions.csv" and problem.severity == "error"
    assert name in problem.rule and "save it as CSV UTF-8" in problem.rule
    table, [problem] = read_source(f)
    assert table is None and name in problem.rule


def test_a_nul_byte_in_a_cell_is_an_error_naming_row_and_column(valid_package):
    f = valid_package / "patients.csv"
    f.write_bytes(f.read_bytes().replace(b"P02,Hopkins", b"P02,Hop\x00kins"))
    raw = read_package(valid_package)
    [problem] = _errors(raw)
    assert (problem.file, problem.row, problem.column) == ("patients.csv", 3, "center")
    assert "NUL" in problem.rule
    assert len(raw.tables["patients"]) == 3 and list(raw.tables["patients"].rows) == [2, 3, 4]
    assert "\x00" not in Report(raw.problems).format()
    table, [problem] = read_source(f)
    assert (problem.row, problem.column) == (3, "center") and "NUL" in problem.rule


def _escape_package(folder: Path) -> Path:
    write_valid_package(folder)
    f = folder / "patients.csv"
    text = f.read_text(encoding="utf-8")
    text = text.replace("death_date", "death_date,fav\x1b[31mcolour", 1)
    text = "\n".join(line + ",x" if i else line for i, line in enumerate(text.splitlines()))
    text = text.replace("P02,Hopkins,M", "P02,Hopkins,\x1b[2J\x9b", 1)
    f.write_text(text + "\n", encoding="utf-8")
    (folder / "notes\x07\x1b[1m.csv").write_text("a\n1\n", encoding="utf-8")
    return folder


def test_control_characters_are_escaped_in_every_message(tmp_path, capsys):
    folder = _escape_package(tmp_path / "pkg")
    report = validate_package(read_package(folder))
    text = report.format()
    assert "\\x1b[31m" in text and "\\x1b[2J" in text and "\\x07" in text, text
    assert not any(c in text for c in "\x1b\x07\x9b"), text
    full = tmp_path / "full.txt"
    report.write_full(full)
    assert not any(c in full.read_text(encoding="utf-8") for c in "\x1b\x07\x9b")
    assert main(["validate", str(folder)]) == 1
    out = capsys.readouterr()
    assert "\\x1b" in out.out and not any(c in out.out + out.err for c in "\x1b\x07\x9b")


def test_control_characters_in_source_headers_are_escaped(tmp_path):
    f = tmp_path / "export.csv"
    f.write_text("nhc,centro\x1b[0m,centro\x1b[0m\n1,2,A\n", encoding="utf-8")
    _, problems = read_source(f)
    text = Report(problems).format()
    assert "centro\\x1b[0m" in text and "\x1b" not in text


def test_ids_are_read_in_nfc_with_a_warning_when_two_forms_merge(valid_package):
    nfc = unicodedata.normalize("NFC", "José")
    nfd = unicodedata.normalize("NFD", "José")
    for name in VALID_TABLES:
        f = valid_package / TABLES[name].file
        text = f.read_text(encoding="utf-8").replace("P01", nfd if name == "infusions" else nfc)
        f.write_text(text.replace("Hopkins", unicodedata.normalize("NFD", "Clínic")))
    raw = read_package(valid_package)
    assert raw.tables["infusions"].frame.loc[0, "patient_id"] == nfc
    assert raw.tables["patients"].frame.loc[0, "center"] == unicodedata.normalize("NFC", "Clínic")
    report = validate_package(raw)
    assert report.ok, report.format()  # the infusions of José are his
    [warning] = report.warnings
    assert (warning.file, warning.row, warning.column) == ("infusions.csv", 2, "patient_id")
    assert warning.count == 4 and "Unicode" in warning.rule and "patients.csv" in warning.rule


def test_two_patients_differing_only_in_unicode_form_are_one_id(valid_package):
    f = valid_package / "patients.csv"
    text = f.read_text(encoding="utf-8")
    text = text.replace("P01", unicodedata.normalize("NFC", "José"), 1)
    text = text.replace("P02", unicodedata.normalize("NFD", "José"), 1)
    f.write_text(text, encoding="utf-8")
    report = validate_package(read_package(valid_package))
    assert any("duplicate patient_id" in p.rule and p.row == 3 for p in report.errors)
    assert any(
        p.row == 3 and p.column == "patient_id" and "Unicode" in p.rule for p in report.warnings
    ), report.format()


def test_nothing_crashes_on_faulty_text(tmp_path):
    folder = write_valid_package(tmp_path / "pkg")
    (folder / "patients.csv").write_bytes(codecs.BOM_UTF8 + b"\x00\x00\xff\xfe" * 3)
    (folder / "infusions.csv").write_bytes(b"\x00" * 64)
    report = validate_package(read_package(folder))
    assert not report.ok and "\x00" not in report.format()


def test_the_import_command_escapes_names_and_values(tmp_path, capsys):
    import argparse

    from ivigbook.data.importing.command import handler

    source = tmp_path / "export.csv"
    source.write_bytes(b"record_id,na\x1bme\x1b[2J,x\x00y\n1,2,3\n")
    args = argparse.Namespace(
        source=str(source), out=str(tmp_path / "out"), mapping=None, ids=None, report=None
    )
    assert handler(args) == 1
    err = capsys.readouterr().err
    assert "na\\x1bme\\x1b[2J" in err and "NUL byte" in err
    assert not any(c in err for c in "\x1b\x00")


def test_formula_cells_are_found_in_prefixed_and_shared_xml():
    from ivigbook.data.workbook import _unsaved_formulas

    xml = (
        b'<x:sheetData><x:row r="2"><x:c r="B2"><x:f>A2*2</x:f></x:c>'
        b'<x:c r="C2" t="str"><x:f>IF(A2,"","x")</x:f><x:v></x:v></x:c>'
        b'<x:c r="D2"><x:f t="shared" ref="D2:D3" si="0">A2+1</x:f><x:v>3</x:v></x:c></x:row>'
        b'<x:row r="3"><x:c r="D3"><x:f t="shared" si="0"/><x:v/></x:c>'
        b'<x:c r="E3"><x:f>A3&amp;"&lt;"</x:f><x:v>1&lt;</x:v></x:c></x:row></x:sheetData>'
    )
    assert _unsaved_formulas(xml) == [(2, 2, "A2*2"), (3, 4, "A2+1")]
