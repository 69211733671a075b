"""Read a cohort package into raw string tables (DESIGN §3).

A package is one of

* a folder of CSV files named after the tables (``patients.csv`` ...),
* one ``.xlsx`` workbook with one sheet per table (the path of the workbook, or a
  folder holding exactly one workbook and no table files),
* a folder of Stata ``.dta`` files or of parquet files with the same stems.

Every cell is read as a string: blanks stay ``""`` and nothing is guessed. Typed
cells of xlsx/dta/parquet are rendered as text (dates ``YYYY-MM-DD``, whole floats
``1960`` not ``1960.0``). Each table remembers the row number a person sees:

* CSV: the physical line (header = line 1, first data row = line 2; quoted fields
  spanning several lines are counted correctly);
* xlsx: the worksheet row (header = row 1);
* dta: the Stata observation number ``_n`` (first observation = 1);
* parquet: the 1-based row number.

Problems met while reading (missing files, undecodable bytes, ragged rows, ...)
are returned as :class:`~ivigbook.data.validate.Problem` objects, never raised. Inputs
are opened read-only, read once, and never modified.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import hashlib
import io
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ivigbook.data.problems import MAX_LISTED, Problem
from ivigbook.data.schema import REQUIRED_TABLES, TABLES
from ivigbook.data.sheets import REFERENCE_SHEETS, drop_example

#: File suffixes of the one-file-per-table formats, in order of preference.
TABLE_SUFFIXES = {"csv": (".csv",), "dta": (".dta",), "parquet": (".parquet", ".pq")}
WORKBOOK_SUFFIXES = (".xlsx", ".xlsm")
_SEPARATORS = (",", ";", "\t")
_SEP_NAMES = {";": "semicolon", "\t": "tab"}


@dataclass
class RawTable:
    """One table as read: strings only, contract columns under their contract names."""

    name: str
    file: str  # display name: "patients.csv" or "cohort.xlsx[patients]"
    frame: pd.DataFrame  # string cells, RangeIndex; extra columns removed
    rows: np.ndarray  # row number a person sees, one per frame row
    header_row: int | None = 1  # where the header is (None: dta/parquet)
    extra_columns: tuple[str, ...] = ()

    def __len__(self) -> int:
        return len(self.frame)


@dataclass
class RawPackage:
    """Everything read from a package path, with the problems met on the way."""

    source: str
    format: str  # "csv", "xlsx", "dta", "parquet" or "" when nothing could be read
    tables: dict[str, RawTable] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    omitted: dict[tuple, int] = field(default_factory=dict)  # problems counted, not listed
    files: dict[str, str] = field(default_factory=dict)  # file name -> sha256 of its bytes
    missing: dict[str, str] = field(default_factory=dict)  # absent table -> display name
    displays: dict[str, str] = field(default_factory=dict)  # every table -> display name

    @property
    def name(self) -> str:
        """A default cohort name: the folder name or the workbook stem."""
        p = Path(self.source)
        return p.stem if p.suffix.lower() in WORKBOOK_SUFFIXES else p.name

    @property
    def sha256(self) -> str:
        """Hash of the ``sha256sum``-style manifest of the files read, sorted by name.

        Reproduce with ``sha256sum <files in sorted order> | sha256sum``.
        """
        manifest = "".join(f"{h}  {n}\n" for n, h in sorted(self.files.items()))
        return hashlib.sha256(manifest.encode()).hexdigest()


# ---------------------------------------------------------------- entry point
def read_package(path: str | Path) -> RawPackage:
    """Read the package at ``path``; problems are collected, never raised."""
    p = Path(path)
    pkg = RawPackage(source=str(path), format="")
    if not p.exists():
        pkg.problems.append(_problem(str(path), "no such file or folder"))
    elif p.is_file():
        if p.suffix.lower() in WORKBOOK_SUFFIXES:
            _read_workbook(p, pkg)
        else:
            pkg.problems.append(
                _problem(
                    str(path), "not a package: give a folder of table files or an .xlsx workbook"
                )
            )
    elif p.is_dir():
        try:
            _read_folder(p, pkg)
        except OSError as e:  # e.g. a folder we may not list
            pkg.problems.append(_problem(str(path), f"cannot read the folder ({e.strerror})"))
    else:
        pkg.problems.append(_problem(str(path), "not a regular file or folder"))
    return pkg


def _problem(
    file: str,
    rule: str,
    row: int | None = None,
    column: str | None = None,
    value: str | None = None,
    severity: str = "error",
) -> Problem:
    return Problem(file, row, column, value, rule, severity)


def _read_folder(folder: Path, pkg: RawPackage) -> None:
    """Pick the folder's format and read its tables."""
    visible = sorted(
        f for f in folder.iterdir() if f.is_file() and not f.name.startswith((".", "~$"))
    )
    found: dict[str, dict[str, Path]] = {}
    for fmt, suffixes in TABLE_SUFFIXES.items():
        tables = {
            f.stem.lower(): f
            for f in visible
            if f.suffix.lower() in suffixes and f.stem.lower() in TABLES
        }
        if tables:
            found[fmt] = tables
    workbooks = [f for f in visible if f.suffix.lower() in WORKBOOK_SUFFIXES]
    if len(found) > 1:
        names = ", ".join(
            f"{fmt} ({', '.join(sorted(p.name for p in t.values()))})" for fmt, t in found.items()
        )
        pkg.problems.append(
            _problem(
                str(folder), f"table files of several formats: {names}; keep one format per folder"
            )
        )
        return
    if not found:
        if len(workbooks) == 1:
            _read_workbook(workbooks[0], pkg)
        elif workbooks:
            pkg.problems.append(
                _problem(
                    str(folder),
                    "several workbooks ("
                    + ", ".join(w.name for w in workbooks)
                    + "); give the path of one",
                )
            )
        else:
            pkg.problems.append(
                _problem(
                    str(folder),
                    "no cohort tables found: expected "
                    + ", ".join(TABLES[t].file for t in REQUIRED_TABLES)
                    + " or one .xlsx workbook",
                )
            )
        return
    ((fmt, files),) = found.items()
    pkg.format = fmt
    for wb in workbooks:
        pkg.problems.append(
            _problem(
                wb.name,
                f"workbook ignored: the {fmt} files of this folder are read",
                severity="warning",
            )
        )
    reader = {"csv": _read_csv, "dta": _read_dta, "parquet": _read_parquet}[fmt]
    suffix = TABLE_SUFFIXES[fmt][0]
    for name in TABLES:
        pkg.displays[name] = files[name].name if name in files else f"{name}{suffix}"
        if name not in files:
            _note_missing(pkg, name, pkg.displays[name], "required table missing")
            continue
        data = _read_bytes(files[name], pkg)
        if data is not None:
            reader(name, files[name].name, data, pkg)


def _read_bytes(path: Path, pkg: RawPackage) -> bytes | None:
    """The file's bytes (recorded for the package hash), or None with a problem."""
    try:
        data = path.read_bytes()
    except OSError as e:
        pkg.problems.append(_problem(path.name, f"cannot read the file ({e.strerror})"))
        return None
    pkg.files[path.name] = hashlib.sha256(data).hexdigest()
    return data


def _note_missing(pkg: RawPackage, name: str, display: str, rule: str) -> None:
    pkg.missing[name] = display
    if name in REQUIRED_TABLES:
        pkg.problems.append(_problem(display, rule))


# ---------------------------------------------------------------- headers
def _assemble(
    name: str,
    display: str,
    header: list[str],
    body: pd.DataFrame,
    rows: np.ndarray,
    header_row: int | None,
    pkg: RawPackage,
) -> None:
    """Map header names to the contract, drop blank rows, register the table.

    ``body`` has positional columns aligned with ``header``.
    """
    contract = {c.lower(): c for c in TABLES[name].column_names}
    keep: dict[int, str] = {}
    extras: list[str] = []
    for i, raw in enumerate(header):
        text = "" if raw is None else str(raw)
        canonical = contract.get(text.strip().lower())
        if canonical is None:
            if text.strip() == "" and not (body[i].str.strip() != "").any():
                continue  # an empty column without a header: spreadsheet residue
            extras.append(text.strip() or f"(unnamed column {i + 1})")
        elif canonical in keep.values():
            pkg.problems.append(
                _problem(
                    display,
                    "duplicate column header; this copy is ignored",
                    header_row,
                    canonical,
                    text,
                )
            )
        else:
            if text != canonical:
                pkg.problems.append(
                    _problem(
                        display,
                        f"header read as {canonical}",
                        header_row,
                        canonical,
                        text,
                        severity="warning",
                    )
                )
            keep[i] = canonical
    frame = (
        body[list(keep)].set_axis(list(keep.values()), axis=1)
        if keep
        else pd.DataFrame(index=body.index)
    )
    if len(frame):
        filled = (body.apply(lambda s: s.str.strip() != "")).any(axis=1).to_numpy()
        if not filled.all():  # blank rows carry no data
            frame, rows = frame[filled], rows[filled]
    pkg.tables[name] = RawTable(
        name,
        display,
        frame.reset_index(drop=True),
        np.asarray(rows, dtype=np.int64),
        header_row,
        tuple(extras),
    )


# ---------------------------------------------------------------- CSV
def _read_csv(name: str, display: str, data: bytes, pkg: RawPackage) -> None:
    text = _decode(display, data, pkg)
    if text is None:
        return
    if not text.strip():
        _empty(name, display, pkg)
        return
    newline = text.find("\n")
    header_line = text if newline < 0 else text[:newline]
    if not header_line.strip():
        pkg.problems.append(_problem(display, "line 1 must hold the column headers", 1))
        return
    sep = _detect_separator(name, header_line)
    if sep != ",":
        pkg.problems.append(
            _problem(
                display,
                f"{_SEP_NAMES[sep]}-separated file read with '{sep}' as separator"
                + (
                    " (numbers with a decimal comma will not be read as numbers)"
                    if sep == ";"
                    else ""
                ),
                1,
                severity="warning",
            )
        )
    parsed = _parse_fast(data.removeprefix(codecs.BOM_UTF8), text, sep) if '"' not in text else None
    if parsed is None:
        parsed = _parse_exact(text, sep)
    header, body, lines, ragged = parsed
    rule = f"wrong number of fields (the header has {len(header)})"
    for line, n in ragged[:MAX_LISTED]:
        pkg.problems.append(_problem(display, rule, int(line), value=f"{n} fields"))
    if len(ragged) > MAX_LISTED:
        pkg.omitted[(display, None, rule, "error")] = len(ragged) - MAX_LISTED
    _assemble(name, display, header, body, lines, 1, pkg)


def _decode(display: str, data: bytes, pkg: RawPackage) -> str | None:
    """UTF-8 text of ``data`` (BOM removed with a warning) or None with an error."""
    offset = 0
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        pkg.problems.append(_problem(display, "file is UTF-16 encoded; save it as CSV UTF-8", 1))
        return None
    if data.startswith(codecs.BOM_UTF8):
        offset = len(codecs.BOM_UTF8)
        pkg.problems.append(
            _problem(display, "UTF-8 byte-order mark (BOM) removed", 1, severity="warning")
        )
    try:
        return data[offset:].decode("utf-8")
    except UnicodeDecodeError as e:
        at = offset + e.start
        line = data.count(b"\n", 0, at) + 1
        pkg.problems.append(
            _problem(
                display,
                "file is not UTF-8 text (save it as CSV UTF-8)",
                line,
                value=f"byte 0x{data[at]:02X} at offset {at}",
            )
        )
        return None


def _empty(name: str, display: str, pkg: RawPackage) -> None:
    if name in REQUIRED_TABLES:
        pkg.problems.append(_problem(display, "empty file (no header row)"))
        return
    pkg.problems.append(
        _problem(display, "empty file (no header row); read as an empty table", severity="warning")
    )
    empty = pd.DataFrame({c: pd.Series(dtype="str") for c in TABLES[name].column_names})
    pkg.tables[name] = RawTable(name, display, empty, np.zeros(0, dtype=np.int64), None)


def _detect_separator(name: str, first_line: str) -> str:
    """The separator whose split of the header names most contract columns (ties: ',')."""
    known = {c.lower() for c in TABLES[name].column_names}

    def hits(sep: str) -> int:
        return sum(f.strip().strip('"').strip().lower() in known for f in first_line.split(sep))

    best = max(_SEPARATORS, key=hits)  # max keeps the first of equals: ","
    return best if hits(best) > hits(",") and hits(best) >= 2 else ","


_Parsed = tuple[list[str], pd.DataFrame, np.ndarray, list[tuple[int, int]]]


def _parse_fast(data: bytes, text: str, sep: str) -> _Parsed | None:
    """Quote-free CSV: pandas C parser; records = physical lines, counted with numpy.

    ``data`` are the UTF-8 bytes of ``text``. Returns None when pandas and the line
    count disagree (e.g. lone CR line ends); the caller then uses the exact parser.
    """
    buf = np.frombuffer(data, dtype=np.uint8)
    starts = np.concatenate(([0], np.flatnonzero(buf == 10) + 1))
    starts = starts[starts < buf.size]  # line i = bytes starts[i]:starts[i+1], line end included
    bounds = np.append(starts, buf.size)
    fields = np.diff(np.searchsorted(np.flatnonzero(buf == ord(sep)), bounds)) + 1
    width = int(fields[0])
    odd = np.flatnonzero(fields != width)  # few: check them one by one for blank lines
    junk = (" \t\r\n" + sep).encode()
    odd = odd[[bool(data[bounds[i] : bounds[i + 1]].strip(junk)) for i in odd]]
    too_long = np.zeros(len(starts), dtype=bool)
    too_long[odd[fields[odd] > width]] = True
    short = np.zeros(len(starts), dtype=bool)
    short[odd[fields[odd] < width]] = True
    lines = np.arange(1, len(starts) + 1)
    try:
        table = pd.read_csv(
            io.StringIO(text),
            sep=sep,
            header=None,
            dtype=str,
            na_filter=False,
            skip_blank_lines=False,
            index_col=False,
            quoting=csv.QUOTE_NONE,
            on_bad_lines="skip",
            engine="c",
        )
    except (pd.errors.ParserError, ValueError):
        return None
    kept = ~too_long
    if len(table) != kept.sum() or table.shape[1] != width:
        return None
    ok = ~short[kept][1:]
    body = table.iloc[1:][ok].reset_index(drop=True)
    body.columns = range(width)
    ragged = [(int(lines[i]), int(fields[i])) for i in np.flatnonzero(too_long | short)]
    return [str(h) for h in table.iloc[0]], body, lines[kept][1:][ok], ragged


def _parse_exact(text: str, sep: str) -> _Parsed:
    """Any CSV, with Python's csv module: exact start lines of multi-line records."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=sep, strict=False)
    header: list[str] | None = None
    records: list[list[str]] = []
    lines: list[int] = []
    ragged: list[tuple[int, int]] = []
    previous = 0
    for record in reader:
        start, previous = previous + 1, reader.line_num
        if header is None:
            header = record
        elif not any(f.strip() for f in record):
            continue  # blank line
        elif len(record) != len(header):
            ragged.append((start, len(record)))
        else:
            records.append(record)
            lines.append(start)
    header = header or [""]
    body = (
        pd.DataFrame(records, columns=range(len(header)), dtype="str")
        if records
        else pd.DataFrame({i: pd.Series(dtype="str") for i in range(len(header))})
    )
    return header, body, np.asarray(lines, dtype=np.int64), ragged


# ---------------------------------------------------------------- xlsx
def _read_workbook(path: Path, pkg: RawPackage) -> None:
    """One sheet per table; sheet names match table names case-insensitively."""
    pkg.format = "xlsx"
    data = _read_bytes(path, pkg)
    if data is None:
        return
    try:
        sheets = _sheet_values(data)
    except Exception as e:  # noqa: BLE001 - any failure means an unreadable workbook
        pkg.problems.append(
            _problem(
                path.name,
                f"cannot read the workbook ({type(e).__name__}); "
                "save it again as an Excel .xlsx workbook",
            )
        )
        return
    by_name = {title.strip().lower(): title for title in sheets}
    for key, title in by_name.items():
        if key not in TABLES and key not in REFERENCE_SHEETS:
            pkg.problems.append(
                _problem(
                    f"{path.name}[{title}]",
                    "sheet ignored: not a table of the contract",
                    severity="warning",
                )
            )
    for name in TABLES:
        pkg.displays[name] = f"{path.name}[{by_name.get(name, name)}]"
        if name not in by_name:
            _note_missing(pkg, name, pkg.displays[name], "required sheet missing")
        else:
            _read_sheet(name, pkg.displays[name], sheets[by_name[name]], pkg)


def _sheet_values(data: bytes) -> dict[str, list[list[str]] | None]:
    """Cell texts of the table sheets (None for the other sheets, which are not read)."""
    import openpyxl

    wb = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    try:
        return {
            ws.title: [
                [_cell_text(v) for v in row] for row in ws.iter_rows(min_row=1, values_only=True)
            ]
            if ws.title.strip().lower() in TABLES
            else None
            for ws in wb.worksheets
        }
    finally:
        wb.close()


def _read_sheet(name: str, display: str, values: list[list[str]], pkg: RawPackage) -> None:
    """Row 1 is the header; data rows keep their worksheet row numbers."""
    if not values or not any(v.strip() for v in values[0]):
        if any(any(v.strip() for v in row) for row in values):
            pkg.problems.append(_problem(display, "row 1 must hold the column headers", 1))
        else:
            _empty(name, display, pkg)
        return
    width = max(len(r) for r in values)
    values = [r + [""] * (width - len(r)) for r in values]
    body = (
        pd.DataFrame(values[1:], columns=range(width), dtype="str")
        if len(values) > 1
        else pd.DataFrame({i: pd.Series(dtype="str") for i in range(width)})
    )
    _assemble(name, display, values[0], body, np.arange(2, len(values) + 1), 1, pkg)
    drop_example(pkg.tables[name], pkg.problems)  # rows of the template's EXAMPLE patient


def _cell_text(v) -> str:
    """The text of one typed cell (xlsx or object columns of dta/parquet)."""
    if v is None or (isinstance(v, float) and np.isnan(v)) or v is pd.NaT:
        return ""
    if isinstance(v, str):
        return v
    if isinstance(v, bool):
        return "TRUE" if v else "FALSE"
    if isinstance(v, float):
        return str(int(v)) if v.is_integer() else repr(v)
    if isinstance(v, dt.datetime):
        return v.date().isoformat() if v.time() == dt.time() else v.isoformat(sep=" ")
    if isinstance(v, dt.date):
        return v.isoformat()
    return str(v)


# ---------------------------------------------------------------- dta / parquet
def _read_dta(name: str, display: str, data: bytes, pkg: RawPackage) -> None:
    _read_typed(name, display, lambda: pd.read_stata(io.BytesIO(data)), "Stata", pkg)


def _read_parquet(name: str, display: str, data: bytes, pkg: RawPackage) -> None:
    _read_typed(name, display, lambda: pd.read_parquet(io.BytesIO(data)), "parquet", pkg)


def _read_typed(name: str, display: str, load, kind: str, pkg: RawPackage) -> None:
    """Typed one-table files: render each column as text, rows numbered from 1."""
    try:
        frame = load()
    except Exception as e:  # noqa: BLE001 - any reader failure is a problem of the file
        pkg.problems.append(_problem(display, f"cannot read the {kind} file ({e})"))
        return
    if any(n is not None for n in frame.index.names):
        frame = frame.reset_index()  # a named index is data (e.g. patient_id)
    body = pd.DataFrame(
        {i: _column_text(frame.iloc[:, i]) for i in range(frame.shape[1])},
        index=pd.RangeIndex(len(frame)),
    )
    _assemble(
        name,
        display,
        [str(c) for c in frame.columns],
        body,
        np.arange(1, len(frame) + 1),
        None,
        pkg,
    )


def _column_text(s: pd.Series) -> pd.Series:
    """Vectorised text rendering of a typed column (dates ISO, whole floats as integers)."""
    s = s.reset_index(drop=True)
    if isinstance(s.dtype, pd.CategoricalDtype):
        s = s.astype(object)
    if pd.api.types.is_datetime64_any_dtype(s):
        has_time = (s.dropna() != s.dropna().dt.normalize()).any()
        out = s.dt.strftime("%Y-%m-%d %H:%M:%S" if has_time else "%Y-%m-%d")
    elif pd.api.types.is_bool_dtype(s):
        out = s.map({True: "TRUE", False: "FALSE"})
    elif pd.api.types.is_integer_dtype(s):
        out = s.astype("string")
    elif pd.api.types.is_float_dtype(s):
        f = s.astype("float64")
        whole = np.isfinite(f) & (f == np.round(f)) & (f.abs() < 2**53)
        out = f.astype(str).where(~whole, f.where(whole, 0).astype("int64").astype(str))
        out = out.where(f.notna(), "")
    elif pd.api.types.is_string_dtype(s) and not s.dtype == object:
        out = s
    else:
        out = s.map(_cell_text)
    return out.astype("str").fillna("")
