"""Export files as string tables, whatever their layout (no contract yet).

A source is a CSV file (UTF-8; ``,``, ``;`` or tab separated), one sheet of an
``.xlsx`` workbook, or a Stata ``.dta`` file. Every cell is text, as in
:mod:`ivigbook.data.io`; each row keeps the number a person sees (CSV line, worksheet
row, Stata ``_n``). The faults :mod:`ivigbook.data.io` reports are reported here too:
UTF-16/32 text, NUL bytes in cells, merged cells and formulas without a saved value in
the sheet read. Problems are collected, never raised.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ivigbook.data.cells import capped, column_names, column_text, nul_problems
from ivigbook.data.io import WORKBOOK_SUFFIXES
from ivigbook.data.problems import Problem
from ivigbook.data.textfile import decode, parse_csv
from ivigbook.data.workbook import Workbook, sheet_problems

SOURCE_SUFFIXES = (".csv", ".txt", ".dta", *WORKBOOK_SUFFIXES)


@dataclass
class SourceTable:
    """One source table: text cells under the source's own headers."""

    display: str  # "registro.csv" or "export.xlsx[Visitas]"
    frame: pd.DataFrame  # string cells; columns = stripped header names
    rows: np.ndarray  # row number a person sees, one per frame row

    def __len__(self) -> int:
        return len(self.frame)


@dataclass
class _Sink:
    """The problems met reading one source."""

    problems: list[Problem] = field(default_factory=list)


def read_source(path: Path, sheet: str | None = None) -> tuple[SourceTable | None, list[Problem]]:
    """The table in ``path`` (a sheet of a workbook), or None with the problems met."""
    sink = _Sink()
    name = path.name
    if not path.is_file():
        return None, [Problem(str(path), None, None, None, "source file not found")]
    suffix = path.suffix.lower()
    try:
        data = path.read_bytes()
    except OSError as e:
        return None, [Problem(name, None, None, None, f"cannot read the file ({e.strerror})")]
    if suffix in WORKBOOK_SUFFIXES:
        table = _read_sheet(name, data, sheet, sink)
    elif suffix == ".dta":
        table = _read_dta(name, data, sink)
    else:
        table = _read_csv(name, data, sink)
    return table, sink.problems


def _separator(header_line: str) -> str:
    """The separator that splits the header into the most fields (ties: ``,``)."""
    return max((",", ";", "\t"), key=lambda s: header_line.count(s))


def _read_csv(name: str, data: bytes, sink: _Sink) -> SourceTable | None:
    text, problems = decode(name, data)
    sink.problems += problems
    if text is None:
        return None
    if not text.strip():
        sink.problems.append(Problem(name, None, None, None, "empty file (no header row)"))
        return None
    first = text.split("\n", 1)[0]
    sep = _separator(first)
    header, body, lines, ragged = parse_csv(data, text, sep)
    for line, n in ragged:
        sink.problems.append(
            Problem(name, int(line), None, f"{n} fields", f"wrong number of fields ({len(header)})")
        )
    return _table(name, header, body, lines, sink)


def _read_sheet(name: str, data: bytes, sheet: str | None, sink: _Sink) -> SourceTable | None:
    try:
        with Workbook(data) as wb:
            titles = list(wb.states)
            chosen = titles[0] if sheet is None and len(titles) == 1 else sheet
            read = wb.read(chosen) if chosen in titles else None
    except Exception as e:  # noqa: BLE001 - any failure means an unreadable workbook
        sink.problems.append(
            Problem(name, None, None, None, f"cannot read the workbook ({type(e).__name__})")
        )
        return None
    if sheet is None and len(titles) != 1:
        sink.problems.append(
            Problem(
                name,
                None,
                None,
                None,
                "the workbook has several sheets: name one with sheet = ... (sheets: "
                + ", ".join(titles)
                + ")",
            )
        )
        return None
    if read is None:
        sink.problems.append(
            Problem(name, None, None, sheet, "no such sheet (sheets: " + ", ".join(titles) + ")")
        )
        return None
    display = f"{name}[{read.title}]"
    values = read.values
    if not values:
        sink.problems.append(Problem(display, None, None, None, "empty sheet (no header row)"))
        return None
    sink.problems += sheet_problems(display, read, column_names(values[0]))
    width = max(len(r) for r in values)
    values = [r + [""] * (width - len(r)) for r in values]
    body = pd.DataFrame(values[1:], columns=range(width), dtype="str")
    return _table(display, values[0], body, np.arange(2, len(values) + 1), sink)


def _read_dta(name: str, data: bytes, sink: _Sink) -> SourceTable | None:
    try:
        frame = pd.read_stata(io.BytesIO(data))
    except Exception as e:  # noqa: BLE001 - any reader failure is a problem of the file
        sink.problems.append(Problem(name, None, None, None, f"cannot read the Stata file ({e})"))
        return None
    body = pd.DataFrame({i: column_text(frame.iloc[:, i]) for i in range(frame.shape[1])})
    header = [str(c) for c in frame.columns]
    return _table(name, header, body, np.arange(1, len(frame) + 1), sink, header_row=None)


def _table(
    display: str,
    header: list,
    body: pd.DataFrame,
    rows: np.ndarray,
    sink: _Sink,
    header_row: int | None = 1,
) -> SourceTable:
    """Name the columns by their stripped headers; drop blank rows; flag repeated headers
    and NUL bytes."""
    body = body.copy()
    found = nul_problems(display, column_names(header), header, body, rows, header_row)
    listed, omitted = capped(found)
    sink.problems += listed
    for (file, column, rule, severity), n in omitted.items():
        more = f"{rule} ({n} more cells not listed)"
        sink.problems.append(Problem(file, None, column, None, more, severity))
    names: list[str] = []
    for i, h in enumerate(header):
        text = "" if h is None else str(h).strip()
        if text in names:
            sink.problems.append(
                Problem(
                    display,
                    1,
                    text,
                    None,
                    f"repeated column header; this copy is read as {text} ({i + 1})",
                    "warning",
                )
            )
            text = f"{text} ({i + 1})"
        names.append(text or f"(unnamed column {i + 1})")
    body.columns = names
    body = body.fillna("").astype(str)
    if len(body):
        filled = body.apply(lambda s: s.str.strip() != "").any(axis=1).to_numpy()
        body, rows = body[filled], np.asarray(rows)[filled]
    return SourceTable(display, body.reset_index(drop=True), np.asarray(rows, dtype=np.int64))
