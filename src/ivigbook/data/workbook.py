"""Sheets of an ``.xlsx`` workbook as text cells, with what the values alone hide:
whether a sheet is hidden, its merged ranges, and formulas without a saved value.

Values come from openpyxl in read-only mode (saved values of formulas, the sheet's
stated dimension ignored, since some writers state it wrong). Merged ranges and formula
cells are not exposed there, so they are found in the sheet's XML with a regular
expression (only when the XML holds a formula or a merged range at all). A formula
without a saved value (written by a script, never opened in a spreadsheet) reads as
``=`` and its formula, never as a blank.
"""

from __future__ import annotations

import html
import io
import re
import zipfile
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

from ivigbook.data.cells import cell_text
from ivigbook.data.problems import MAX_LISTED, Problem

_NS = rb"(?:[A-Za-z_][\w.-]*:)?"  # an optional namespace prefix (x:c)
_MERGED = re.compile(rb"<" + _NS + rb"mergeCell\b[^>]*?\bref=\"([A-Za-z]+\d+(?::[A-Za-z]+\d+)?)\"")
#: a formula element and what follows it: an empty <v>, the end of the cell, or a value
_FORMULA = re.compile(
    rb"<" + _NS + rb"f\b([^>]*?)(?:/>|>([^<]*)</" + _NS + rb"f>)\s*"
    rb"(?:(<" + _NS + rb"v\s*/>|<" + _NS + rb"v>\s*</" + _NS + rb"v>)|(</" + _NS + rb"c>))?"
)
_REF = re.compile(rb"\br=\"([A-Za-z]+)(\d+)\"")
_TYPE = re.compile(rb"\bt=\"(\w+)\"")
_SHARED = re.compile(rb"\bsi=\"(\d+)\"")
_CELL = re.compile(r"([A-Za-z]+)(\d+)")

HIDDEN_RULES = {
    "hidden": "hidden sheet: unhide it (right-click a sheet tab > Unhide) and check it, "
    "or delete it; a hidden sheet is never read",
    "veryHidden": "very hidden sheet (only the VBA editor shows it): make it visible and "
    "check it, or delete it; a hidden sheet is never read",
}


def _column_index(letters: str) -> int:
    """1 for ``A``; openpyxl is imported only when a workbook is read."""
    from openpyxl.utils.cell import column_index_from_string

    return column_index_from_string(letters)


def _column_letter(index: int) -> str:
    """``A`` for 1."""
    from openpyxl.utils.cell import get_column_letter

    return get_column_letter(index)


@dataclass
class Sheet:
    """One worksheet read: rows of text cells (row 1 first) and its hidden faults."""

    title: str
    values: list[list[str]]
    merged: list[str] = field(default_factory=list)  # ranges such as "B2:B21"
    formulas: list[tuple[int, int]] = field(default_factory=list)  # (row, column), 1-based


class Workbook:
    """An open workbook: ``states`` (title -> visible/hidden/veryHidden) and :meth:`read`."""

    def __init__(self, data: bytes):
        import openpyxl

        self._wb = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
        self._zip = zipfile.ZipFile(io.BytesIO(data))
        self.states = {ws.title: ws.sheet_state for ws in self._wb.worksheets}

    def __enter__(self) -> Workbook:
        return self

    def __exit__(self, *exc) -> None:
        self._wb.close()
        self._zip.close()

    def read(self, title: str) -> Sheet:
        """The cells of sheet ``title``, its merged ranges and its unsaved formulas."""
        ws = self._wb[title]
        ws.reset_dimensions()  # a wrong <dimension> must not cut rows or columns
        values = [[cell_text(v) for v in row] for row in ws.iter_rows(min_row=1, values_only=True)]
        sheet = Sheet(title, values)
        xml = self._zip.read(ws._worksheet_path)  # the path openpyxl read the sheet from
        if b"mergeCell" in xml:
            sheet.merged = [m.group(1).decode().upper() for m in _MERGED.finditer(xml)]
        if b"<f" in xml or b":f>" in xml or b":f " in xml:  # any formula (x:f when prefixed)
            for row, col, formula in _unsaved_formulas(xml):
                sheet.formulas.append((row, col))
                if 0 < row <= len(values):
                    cells = values[row - 1]
                    cells += [""] * (col - len(cells))
                    cells[col - 1] = f"={formula}"
        return sheet


def _unsaved_formulas(xml: bytes) -> list[tuple[int, int, str]]:
    """(row, column, formula) of the cells holding a formula but no saved value (row and
    column 0 when the cell does not say where it is). An empty saved text is a value."""
    out = []
    shared: dict[bytes, str] = {}
    for m in _FORMULA.finditer(xml):
        attrs, text, empty_v, end = m.groups()
        formula = html.unescape(text.decode("utf-8")) if text else ""
        si = _SHARED.search(attrs)
        if si and formula:
            shared[si.group(1)] = formula  # the first cell of a shared formula holds it
        if empty_v is None and end is None:
            continue  # a saved value follows
        cell = xml[xml.rfind(b"<", 0, m.start()) : m.start()]  # <c ...> opens every formula
        kind = _TYPE.search(cell)
        if empty_v is not None and kind and kind.group(1) == b"str":
            continue  # a formula whose saved result is the empty text
        ref = _REF.search(cell)
        row, col = (
            (int(ref.group(2)), _column_index(ref.group(1).decode().upper())) if ref else (0, 0)
        )
        out.append((row, col, formula or (shared.get(si.group(1), "") if si else "")))
    return out


def reported_cells(sheet: Sheet, names: Sequence[str]) -> dict[str, list[int]]:
    """Column name -> worksheet rows of the cells that :func:`sheet_problems` reports
    (unsaved formulas, and merged cells but the first of each range): validation says
    nothing more of them."""
    cells = list(sheet.formulas)
    for ref in sheet.merged:
        corners = [(int(r), _column_index(c)) for c, r in _CELL.findall(ref)]
        (r0, c0), (r1, c1) = corners[0], corners[-1]
        cells += [(r, c) for r in range(r0, r1 + 1) for c in range(c0, c1 + 1)][1:]
    out: dict[str, list[int]] = defaultdict(list)
    for row, col in cells:
        if 0 < col <= len(names):
            out[names[col - 1]].append(row)
    return dict(out)


def sheet_problems(display: str, sheet: Sheet, names: Sequence[str]) -> list[Problem]:
    """Errors for the merged ranges (one per range, the first ``MAX_LISTED``) and the
    unsaved formulas (one per column) of ``sheet``; ``names``: column names by position."""

    def name(col: int) -> str:
        return names[col - 1] if 0 < col <= len(names) else _column_letter(col)

    unmerge = (
        "unmerge and fill in every cell (a merged range holds its value in its first cell only)"
    )
    out = []
    ranges = [[(int(r), _column_index(c)) for c, r in _CELL.findall(ref)] for ref in sheet.merged]
    for ref, cells in sorted(zip(sheet.merged, ranges), key=lambda m: m[1])[:MAX_LISTED]:
        cols = {c for _, c in cells}
        what = f"cells {ref} are merged" if ":" in ref else f"cell {ref} is merged"
        column = name(cols.pop()) if len(cols) == 1 else None
        out.append(Problem(display, cells[0][0], column, None, f"{what}: {unmerge}"))
    if len(sheet.merged) > MAX_LISTED:
        more = f"{len(sheet.merged) - MAX_LISTED} more merged ranges not listed: {unmerge}"
        out.append(Problem(display, None, None, None, more))
    by_column: dict[int, list[int]] = defaultdict(list)
    for row, col in sheet.formulas:
        by_column[col].append(row)
    for col, rows in by_column.items():
        rows.sort()
        if not col:
            where = "cells of unknown position"
        elif len(rows) == 1:
            where = f"cell {_column_letter(col)}{rows[0]}"
        elif rows[-1] - rows[0] == len(rows) - 1:
            where = f"cells {_column_letter(col)}{rows[0]}:{_column_letter(col)}{rows[-1]}"
        else:
            where = f"column {_column_letter(col)}"
        out.append(
            Problem(
                display,
                rows[0] or None,
                name(col) if col else None,
                None,
                f"formula without a saved value in {where}: open the workbook in Excel or "
                "LibreOffice and save it again, or replace the formulas by their values "
                "(copy, then Paste Special > Values)",
                count=len(rows),
                rows=rows if len(rows) > 1 and rows[0] else None,
            )
        )
    return out
