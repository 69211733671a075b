"""``ivigbook template DIR``: an empty cohort package, generated from the contract.

Writes one CSV per table (header line only) and ``cohort_template.xlsx`` with one
sheet per table (headers, a comment on each header with its description), a
``dictionary`` sheet (:func:`ivigbook.data.schema.dictionary_rows`) and a ``measures``
sheet (:func:`ivigbook.data.schema.measure_rows`). Fill either the CSVs or the workbook.
"""

from __future__ import annotations

import errno
from pathlib import Path

from ivigbook.data.io import REFERENCE_SHEETS
from ivigbook.data.schema import TABLES, dictionary_rows, measure_rows

WORKBOOK = "cohort_template.xlsx"


def template_files(directory: str | Path) -> list[Path]:
    """The files :func:`write_template` writes into ``directory``."""
    d = Path(directory)
    return [d / t.file for t in TABLES.values()] + [d / WORKBOOK]


def write_template(directory: str | Path, overwrite: bool = False) -> list[Path]:
    """Write the template into ``directory`` (created if needed); return the files.

    Refuses (``FileExistsError``) to replace existing files unless ``overwrite``.
    """
    d = Path(directory)
    files = template_files(d)
    existing = [f for f in files if f.exists()]
    if existing and not overwrite:
        raise FileExistsError(
            errno.EEXIST,
            "would overwrite an existing file (choose an empty folder or use --force)",
            str(existing[0]),
        )
    d.mkdir(parents=True, exist_ok=True)
    for t in TABLES.values():
        (d / t.file).write_text(",".join(t.column_names) + "\n", encoding="utf-8", newline="")
    _write_workbook(d / WORKBOOK)
    return files


def _write_workbook(path: Path) -> None:
    from openpyxl import Workbook
    from openpyxl.comments import Comment

    wb = Workbook()
    wb.remove(wb.active)
    for t in TABLES.values():
        ws = wb.create_sheet(t.name)
        ws.append(t.column_names)
        for cell, col in zip(ws[1], t.columns):
            cell.comment = Comment(col.description, "ivigbook")
        _style(ws)
    dictionary, measures = REFERENCE_SHEETS
    for title, rows in ((dictionary, dictionary_rows()), (measures, measure_rows())):
        ws = wb.create_sheet(title)
        ws.append(list(rows[0]))
        for row in rows:
            ws.append(list(row.values()))
        _style(ws)
    wb.save(path)


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
