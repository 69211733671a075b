"""``ivigbook template DIR``: an empty cohort package, generated from the contract.

Writes two alternatives; fill in one of them:

* ``DIR/csv/``: one CSV per table, header line only;
* ``DIR/xlsx/cohort_template.xlsx``: a ``read_me`` sheet, one sheet per table (headers
  with their description as a comment, an example row 2 for patient ``EXAMPLE`` that
  the reader ignores, drop-down lists of the codes, date-formatted date columns, number
  ranges), one ``vocab_*`` sheet per vocabulary, the ``dictionary``
  (:func:`~ivigbook.data.schema.dictionary_rows`) and the ``measures``
  (:func:`~ivigbook.data.schema.measure_rows`). The workbook's bytes are the same at
  every run.

With ``--redcap``: ``DIR/redcap/``, the REDCap data dictionary of the contract and its
repeating instruments (:mod:`ivigbook.data.importing.redcap`). With ``--mapping``:
``DIR/mapping.toml``, a starter mapping file for ``ivigbook import``.
"""

from __future__ import annotations

import datetime as dt
import errno
import io
import zipfile
from pathlib import Path

from ivigbook.data.importing import redcap
from ivigbook.data.importing.example import starter_mapping
from ivigbook.data.schema import (
    AE_TERMS,
    OPTIONAL_TABLES,
    TABLES,
    dictionary_rows,
    measure_rows,
)
from ivigbook.data.sheets import (
    AE_TERM_COLUMN,
    DICTIONARY,
    EXAMPLE_ID,
    MEASURES_SHEET,
    READ_ME,
    column_sheets,
    vocabularies,
)

CSV_DIR, XLSX_DIR = "csv", "xlsx"
WORKBOOK = "cohort_template.xlsx"
REDCAP_DIR = "redcap"
MAPPING_FILE = "mapping.toml"
KINDS = ("csv", "xlsx", "redcap", "mapping")
DEFAULT_KINDS = ("csv", "xlsx")
#: Rows 2 to ``LAST_ROW`` of the table sheets get the drop-down lists and number checks.
LAST_ROW = 5000
DATE_FORMAT = "yyyy-mm-dd"
#: Timestamp of the workbook's document properties and zip entries (reproducible bytes).
FIXED_TIME = dt.datetime(2020, 1, 1)

#: Values of the example patient's rows; other coded columns take their first code,
#: ``;``-lists their first two, the patient id is :data:`EXAMPLE_ID`, the rest is blank.
_EXAMPLE = {
    "patients": {
        "center": "Centre A",
        "birth_year": 1965,
        "onset_date": dt.date(2018, 3, 1),
        "anti_centromere": "neg",
        "anti_rnapol3": "neg",
        "anti_rnp": "neg",
        "stop_reason": "ongoing",
    },
    "infusions": {"start_date": dt.date(2020, 1, 6), "dose_g_per_kg": 2, "days": 5},
    "measurements": {"date": dt.date(2020, 1, 6), "value": 24},
    "medications": {"start_date": dt.date(2019, 6, 1)},
    "adverse_events": {
        "onset_date": dt.date(2020, 1, 7),
        "term": next(iter(AE_TERMS)),
        "serious": "no",
        "led_to_discontinuation": "no",
    },
}


def template_folders(directory: str | Path) -> dict[str, Path]:
    """The folders of the template: format -> folder."""
    d = Path(directory)
    return {"csv": d / CSV_DIR, "xlsx": d / XLSX_DIR, "redcap": d / REDCAP_DIR, "mapping": d}


def template_files(directory: str | Path, kinds: tuple[str, ...] = DEFAULT_KINDS) -> list[Path]:
    """The files :func:`write_template` writes under ``directory`` for these ``kinds``."""
    folders = template_folders(directory)
    files = {
        "csv": [folders["csv"] / t.file for t in TABLES.values()],
        "xlsx": [folders["xlsx"] / WORKBOOK],
        "redcap": [
            folders["redcap"] / redcap.DICTIONARY_FILE,
            folders["redcap"] / redcap.REPEATING_FILE,
        ],
        "mapping": [folders["mapping"] / MAPPING_FILE],
    }
    return [f for k in KINDS if k in kinds for f in files[k]]


def write_template(
    directory: str | Path, overwrite: bool = False, kinds: tuple[str, ...] = DEFAULT_KINDS
) -> list[Path]:
    """Write the template under ``directory`` (created if needed); return the files.

    ``kinds``: ``csv`` (one CSV per table), ``xlsx`` (the workbook), ``redcap`` (the
    REDCap data dictionary and repeating instruments), ``mapping`` (a starter mapping
    file for ``ivigbook import``). Refuses (``FileExistsError``) to replace existing
    files unless ``overwrite``.
    """
    files = template_files(directory, kinds)
    existing = [f for f in files if f.exists()]
    if existing and not overwrite:
        raise FileExistsError(
            errno.EEXIST,
            "would overwrite an existing file (choose an empty folder or use --force)",
            str(existing[0]),
        )
    folders = template_folders(directory)
    if "csv" in kinds:
        write_csv_template(folders["csv"])
    if "xlsx" in kinds:
        write_workbook_template(folders["xlsx"] / WORKBOOK)
    if "redcap" in kinds:
        redcap.write_project(folders["redcap"])
    if "mapping" in kinds:
        folders["mapping"].mkdir(parents=True, exist_ok=True)
        (folders["mapping"] / MAPPING_FILE).write_text(starter_mapping(), encoding="utf-8")
    return files


def write_csv_template(folder: Path) -> None:
    """One CSV per table in ``folder``, header line only."""
    folder.mkdir(parents=True, exist_ok=True)
    for t in TABLES.values():
        (folder / t.file).write_text(",".join(t.column_names) + "\n", encoding="utf-8", newline="")


def example_rows() -> dict[str, list]:
    """Table -> the cells of its example row (one patient, consistent across tables)."""
    out = {}
    for t in TABLES.values():
        given = _EXAMPLE[t.name]
        row = []
        for c in t.columns:
            if c.name in given:
                row.append(given[c.name])
            elif c.kind == "id":
                row.append(EXAMPLE_ID)
            elif c.kind in ("vocab", "vocab_list"):
                row.append(";".join(c.vocab[: 2 if c.kind == "vocab_list" else 1]))
            else:
                row.append(None)
        out[t.name] = row
    return out


def write_workbook_template(path: Path) -> None:
    """The template workbook at ``path`` (folder created if needed)."""
    from openpyxl import Workbook

    wb = Workbook()
    wb.remove(wb.active)
    _read_me(wb.create_sheet(READ_ME))
    examples = example_rows()
    for t in TABLES.values():
        _table_sheet(wb.create_sheet(t.name), t, examples[t.name])
    sheets = [
        (s, [("code", "label"), *((code, label or None) for code, label in rows)])
        for s, rows in vocabularies().items()
    ]
    for title, rows in [
        *sheets,
        (DICTIONARY, _records(dictionary_rows())),
        (MEASURES_SHEET, _records(measure_rows())),
    ]:
        ws = wb.create_sheet(title)
        for row in rows:
            ws.append(list(row))
        _style(ws)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(_reproducible_bytes(wb))


def _records(rows: list[dict]) -> list[list]:
    return [list(rows[0]), *(list(r.values()) for r in rows)]


def _table_sheet(ws, table, example: list) -> None:
    """Header with comments, the example row, validations and date formats."""
    from openpyxl.comments import Comment
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    ws.append(table.column_names)
    ws.append(example)
    for cell, col in zip(ws[1], table.columns):
        cell.comment = Comment(col.description, "ivigbook")
    grey = Font(italic=True, color="808080")
    for cell in ws[2]:
        cell.font = grey
    ws["A2"].comment = Comment(
        f"Example row: overwrite it or delete it. Rows of patient {EXAMPLE_ID} are ignored.",
        "ivigbook",
    )
    _style(ws)
    for i, col in enumerate(table.columns, start=1):
        letter = get_column_letter(i)
        if col.kind == "date":  # the column's style: cells typed in later get it too
            ws.column_dimensions[letter].number_format = DATE_FORMAT
            ws.cell(2, i).number_format = DATE_FORMAT
        dv = _validation(table, col)
        if dv is not None:
            dv.add(f"{letter}2:{letter}{LAST_ROW}")
            ws.add_data_validation(dv)


def _validation(table, col):
    """The Excel data validation of one column, or None."""
    from openpyxl.utils import quote_sheetname
    from openpyxl.worksheet.datavalidation import DataValidation

    sheet = column_sheets().get((table.name, col.name))
    if col.kind == "vocab_list":  # a drop-down would forbid lists: a hint only
        return DataValidation(
            showInputMessage=True,
            promptTitle=col.name[:32],
            prompt=f"One or more of: {', '.join(col.vocab)}; separate them with ; "
            f"(e.g. {';'.join(col.vocab[:2])}). Blank = none.",
        )
    if sheet is not None:
        n = len(col.vocab) if col.vocab else len(vocabularies()[sheet])
        free = (table.name, col.name) == AE_TERM_COLUMN  # known codes or free text
        return DataValidation(
            type="list",
            formula1=f"{quote_sheetname(sheet)}!$A$2:$A${n + 1}",
            allow_blank=True,
            showErrorMessage=True,
            errorStyle="information" if free else "stop",
            errorTitle=col.name[:32],
            error=(
                f"Not a known code of the {sheet} sheet: kept as free text."
                if free
                else f"Choose a code of the {sheet} sheet (or leave blank)."
            ),
        )
    if col.kind in ("int", "float") and col.lo is not None:
        unit = f" {col.unit}" if col.unit else ""
        whole = col.kind == "int"
        return DataValidation(
            type="whole" if whole else "decimal",
            operator="between",
            formula1=f"{col.lo:g}",
            formula2=f"{col.hi:g}",
            allow_blank=True,
            showErrorMessage=True,
            errorTitle=col.name[:32],
            error=f"{'A whole number' if whole else 'A number'} from {col.lo:g} to "
            f"{col.hi:g}{unit}.",
        )
    return None


def _read_me(ws) -> None:
    """What to fill in and how to check it, generated from the contract."""
    from openpyxl.styles import Alignment, Font

    sheets = column_sheets()
    coded: dict[str, list[str]] = {}
    for (table, column), sheet in sheets.items():
        coded.setdefault(sheet, []).append(f"{table}.{column}")
    lists = [
        f"{t.name}.{c.name}" for t in TABLES.values() for c in t.columns if c.kind == "vocab_list"
    ]
    dates = [f"{t.name}.{c.name}" for t in TABLES.values() for c in t.columns if c.kind == "date"]
    lines = [
        "Cohort template of ivigbook (the input contract: one sheet per table)",
        "",
        "Fill in one sheet per table. Row 1 holds the column names: do not rename or delete "
        "them. Hover over a column name for its description; the dictionary sheet lists "
        "every column, its type and allowed values. One row is:",
        *(
            f"  {t.name}: {t.description}"
            + (" Optional: leave it empty if not collected." if t.name in OPTIONAL_TABLES else "")
            for t in TABLES.values()
        ),
        "",
        f"Row 2 of each table sheet is an example (patient {EXAMPLE_ID}, grey italic): "
        f"overwrite it or delete it. Rows whose patient_id is {EXAMPLE_ID} are ignored "
        "(with a warning).",
        "A blank cell means not recorded (an antibody not tested, a drug still taken, ...).",
        f"Dates are ISO YYYY-MM-DD (e.g. 2020-01-06): {', '.join(dates)}.",
        "Coded columns have a drop-down list (;-lists a hint instead); the codes and their "
        "labels are on these sheets:",
        *(f"  {sheet}: {', '.join(cols)}" for sheet, cols in coded.items()),
        f"Lists ({', '.join(lists)}): several codes separated by ;",
        "An adverse-event term is a known code or free text (counted, never shown in the book).",
        "",
        "Check the filled workbook:  ivigbook validate FILE  (every problem: sheet, row, "
        "column, value, rule)",
        "Render the book:  ivigbook run FILE --out OUT",
        "Real patient data must never be committed to git: keep the filled workbook under "
        "data/private/ (git-ignored) or outside the repository, with pseudonymous "
        "patient_id only.",
    ]
    for line in lines:
        ws.append([line])
    ws["A1"].font = Font(bold=True, size=13)
    ws.column_dimensions["A"].width = 110
    for (cell,) in ws.iter_rows():
        cell.alignment = Alignment(wrap_text=True, vertical="top")


def _style(ws) -> None:
    """Bold frozen header, columns wide enough for their longest text (capped)."""
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    for cell in ws[1]:
        cell.font = Font(bold=True)
    ws.freeze_panes = "A2"
    for i, column in enumerate(ws.iter_cols(values_only=True), start=1):
        ws.column_dimensions[get_column_letter(i)].width = min(
            60, max(len(str(v)) for v in column if v is not None) + 2
        )


def _reproducible_bytes(wb) -> bytes:
    """The workbook's bytes with fixed document and zip-entry timestamps."""
    from openpyxl.writer.excel import ExcelWriter

    wb.properties.creator = wb.properties.lastModifiedBy = "ivigbook"
    wb.properties.created = wb.properties.modified = FIXED_TIME
    raw = io.BytesIO()
    ExcelWriter(wb, zipfile.ZipFile(raw, "w", zipfile.ZIP_DEFLATED)).save()  # keeps .modified
    out = io.BytesIO()
    with zipfile.ZipFile(raw) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            entry = zipfile.ZipInfo(info.filename, FIXED_TIME.timetuple()[:6])
            entry.external_attr = info.external_attr
            dst.writestr(entry, src.read(info), compress_type=zipfile.ZIP_DEFLATED)
    return out.getvalue()
