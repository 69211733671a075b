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

A table has one source: two files (or sheets) whose names differ only in case or
surrounding spaces are an error naming both, and so is a hidden sheet named like a
table (hidden sheets are never read). Files and sheets that are no table are ignored
with a warning (the reference sheets of the template silently). Merged cells and
formulas without a saved value are errors (:mod:`ivigbook.data.workbook`), as are NUL
bytes in a cell and UTF-16/32 text (:mod:`ivigbook.data.textfile`). Every cell is read
in Unicode NFC, with a warning where that makes two spellings of an id one.

Problems met while reading (missing files, undecodable bytes, ragged rows, ...)
are returned as :class:`~ivigbook.data.validate.Problem` objects, never raised. Inputs
are opened read-only, read once, and never modified.
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ivigbook.data.cells import capped, column_names, column_text, nul_problems
from ivigbook.data.problems import MAX_LISTED, Problem
from ivigbook.data.schema import REQUIRED_TABLES, TABLES
from ivigbook.data.sheets import REFERENCE_SHEETS, drop_example
from ivigbook.data.textfile import decode, parse_csv
from ivigbook.data.workbook import HIDDEN_RULES, Sheet, Workbook, reported_cells, sheet_problems

#: File suffixes of the one-file-per-table formats, in order of preference.
TABLE_SUFFIXES = {"csv": (".csv",), "dta": (".dta",), "parquet": (".parquet", ".pq")}
WORKBOOK_SUFFIXES = (".xlsx", ".xlsm")
_SEPARATORS = (",", ";", "\t")
_SEP_NAMES = {";": "semicolon", "\t": "tab"}
#: Columns naming a patient or a row: two spellings read as one deserve a warning.
_KEYS = {c.name for t in TABLES.values() for c in t.columns if c.kind == "id"} | {
    c for t in TABLES.values() for c in t.unique
}
_column_text = column_text  # the name tests/data/test_io.py imports


@dataclass
class RawTable:
    """One table as read: strings only, contract columns under their contract names."""

    name: str
    file: str  # display name: "patients.csv" or "cohort.xlsx[patients]"
    frame: pd.DataFrame  # string cells, RangeIndex; extra columns removed
    rows: np.ndarray  # row number a person sees, one per frame row
    header_row: int | None = 1  # where the header is (None: dta/parquet)
    extra_columns: tuple[str, ...] = ()
    #: column -> rows whose cells were already reported as unreadable (merged cells,
    #: unsaved formulas); validation adds nothing about them
    reported: dict[str, list[int]] = field(default_factory=dict)

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
    _normalise(pkg)
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


def _key(name: str) -> str:
    """How file stems and sheet names are matched to tables."""
    return name.strip().lower()


def _two_sources(display: str, kind: str, table: str, names: list[str]) -> Problem:
    return _problem(
        display,
        f"{len(names)} {kind}s hold the {table} table: {', '.join(names)}; {kind} names are "
        "compared ignoring case and surrounding spaces: keep one, delete or rename the others",
    )


def _read_folder(folder: Path, pkg: RawPackage) -> None:
    """Pick the folder's format and read its tables."""
    visible = sorted(
        f for f in folder.iterdir() if f.is_file() and not f.name.startswith((".", "~$"))
    )
    found: dict[str, dict[str, list[Path]]] = {}
    for fmt, suffixes in TABLE_SUFFIXES.items():
        for f in visible:
            if f.suffix.lower() not in suffixes:
                continue
            if _key(f.stem) in TABLES:
                found.setdefault(fmt, {}).setdefault(_key(f.stem), []).append(f)
            else:
                tables = ", ".join(f"{t}{f.suffix}" for t in TABLES)
                rule = f"file ignored: not a table of the contract ({tables})"
                pkg.problems.append(_problem(f.name, rule, severity="warning"))
    workbooks = [f for f in visible if f.suffix.lower() in WORKBOOK_SUFFIXES]
    if len(found) > 1:
        names = ", ".join(
            f"{fmt} ({', '.join(sorted(p.name for ps in t.values() for p in ps))})"
            for fmt, t in found.items()
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
        paths = files.get(name, [])
        pkg.displays[name] = paths[0].name if paths else f"{name}{suffix}"
        if not paths:
            _note_missing(pkg, name, pkg.displays[name], "required table missing")
        elif len(paths) > 1:
            names = [f'"{p.name}"' for p in paths]
            pkg.problems.append(_two_sources(pkg.displays[name], "file", name, names))
        elif (data := _read_bytes(paths[0], pkg)) is not None:
            reader(name, paths[0].name, data, pkg)


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
    nul: bool = True,
) -> None:
    """Map header names to the contract, drop blank rows, register the table.

    ``body`` has positional columns aligned with ``header``; ``nul``: may cells hold
    NUL bytes (each is an error)?
    """
    contract = set(TABLES[name].column_names)
    names = column_names(header, TABLES[name].column_names)
    if nul:
        listed, omitted = capped(nul_problems(display, names, header, body, rows, header_row))
        pkg.problems += listed
        pkg.omitted.update(omitted)
    keep: dict[int, str] = {}
    extras: list[str] = []
    for i, raw in enumerate(header):
        text = "" if raw is None else str(raw)
        canonical = names[i] if names[i] in contract else None
        if canonical is None:
            if text.strip() == "" and not (body[i].str.strip() != "").any():
                continue  # an empty column without a header: spreadsheet residue
            extras.append(names[i])
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
    text, problems = decode(display, data)
    pkg.problems += problems
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
    header, body, lines, ragged = parse_csv(data, text, sep)
    rule = f"wrong number of fields (the header has {len(header)})"
    for line, n in ragged[:MAX_LISTED]:
        pkg.problems.append(_problem(display, rule, int(line), value=f"{n} fields"))
    if len(ragged) > MAX_LISTED:
        pkg.omitted[(display, None, rule, "error")] = len(ragged) - MAX_LISTED
    _assemble(name, display, header, body, lines, 1, pkg, nul="\x00" in text)


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


# ---------------------------------------------------------------- xlsx
def _read_workbook(path: Path, pkg: RawPackage) -> None:
    """One visible sheet per table; sheet names match table names ignoring case and
    surrounding spaces."""
    pkg.format = "xlsx"
    data = _read_bytes(path, pkg)
    if data is None:
        return
    try:
        with Workbook(data) as wb:
            states = wb.states
            titles: dict[str, list[str]] = {}
            for title in states:
                titles.setdefault(_key(title), []).append(title)
            sheets = {
                key: wb.read(ts[0])
                for key, ts in titles.items()
                if key in TABLES and len(ts) == 1 and states[ts[0]] == "visible"
            }
    except Exception as e:  # noqa: BLE001 - any failure means an unreadable workbook
        pkg.problems.append(
            _problem(
                path.name,
                f"cannot read the workbook ({type(e).__name__}); "
                "save it again as an Excel .xlsx workbook",
            )
        )
        return
    for key, ts in titles.items():
        if key not in TABLES and key not in REFERENCE_SHEETS:
            for title in ts:
                rule = "sheet ignored: not a table of the contract"
                pkg.problems.append(_problem(f"{path.name}[{title}]", rule, severity="warning"))
    for name in TABLES:
        ts = titles.get(name, [])
        pkg.displays[name] = f"{path.name}[{ts[0] if ts else name}]"
        if not ts:
            _note_missing(pkg, name, pkg.displays[name], "required sheet missing")
        if len(ts) > 1:
            shown = [f'"{t}"' + ("" if states[t] == "visible" else " (hidden)") for t in ts]
            pkg.problems.append(_two_sources(pkg.displays[name], "sheet", name, shown))
        for t in ts:
            if states[t] != "visible":
                rule = HIDDEN_RULES.get(states[t], HIDDEN_RULES["hidden"])
                pkg.problems.append(_problem(f"{path.name}[{t}]", rule))
        if name in sheets:
            _read_sheet(name, pkg.displays[name], sheets[name], pkg)


def _read_sheet(name: str, display: str, sheet: Sheet, pkg: RawPackage) -> None:
    """Row 1 is the header; data rows keep their worksheet row numbers."""
    values = sheet.values
    header = values[0] if values else []
    pkg.problems += sheet_problems(display, sheet, column_names(header, TABLES[name].column_names))
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
    _assemble(name, display, values[0], body, np.arange(2, len(values) + 1), 1, pkg, nul=False)
    if name in pkg.tables:
        names = column_names(header, TABLES[name].column_names)
        pkg.tables[name].reported = reported_cells(sheet, names)
    drop_example(pkg.tables[name], pkg.problems)  # rows of the template's EXAMPLE patient


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
        {i: column_text(frame.iloc[:, i]) for i in range(frame.shape[1])},
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


# ---------------------------------------------------------------- Unicode
def _normalise(pkg: RawPackage) -> None:
    """Every cell in Unicode NFC; a warning where that makes two spellings of a key one."""
    forms = []  # the non-ASCII cells of key columns, in reading order
    for table in pkg.tables.values():
        for column in table.frame.columns:
            s = table.frame[column]
            wide = ~s.str.isascii().to_numpy(dtype=bool, na_value=True)
            if not wide.any():
                continue
            nfc = s[wide].str.normalize("NFC")
            if column in _KEYS:
                raw = s[wide].to_numpy()
                where = {"file": table.file, "row": table.rows[wide], "column": column}
                forms.append(pd.DataFrame({**where, "raw": raw, "nfc": nfc.to_numpy()}))
            table.frame.loc[wide, column] = nfc
    if not forms:
        return
    cells = pd.concat(forms, ignore_index=True)
    cells = cells[cells.groupby(["column", "nfc"])["raw"].transform("nunique") > 1]
    for (column, _), same in cells.groupby(["column", "nfc"], sort=False):
        first = same.iloc[0]
        rule = (
            f"the same {column} as {first.file} row {first.row}, written in another Unicode "
            f"form (accents composed or decomposed): both are read as one {column} "
            "(if they are not the same, make them differ in letters)"
        )
        others = same[same["raw"] != first.raw]
        for (file, raw), rows in others.groupby(["file", "raw"], sort=False)["row"]:
            rows = np.sort(rows.to_numpy())
            several = rows if len(rows) > 1 else None
            problem = Problem(file, int(rows[0]), column, raw, rule, "warning", len(rows), several)
            pkg.problems.append(problem)
