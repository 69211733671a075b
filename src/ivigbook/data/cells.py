"""Cells as text, shared by the package reader (:mod:`ivigbook.data.io`) and the export
reader (:mod:`ivigbook.data.importing.sources`): typed values rendered as text, NUL
bytes found in cells, and long lists of one problem cut to the first ``MAX_LISTED``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import numpy as np
import pandas as pd

from ivigbook.data.problems import MAX_LISTED, Problem

NUL_RULE = "NUL byte (\\x00) in the cell: delete it (the file is damaged or is not plain text)"


def cell_text(v) -> str:
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


def column_text(s: pd.Series) -> pd.Series:
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
        out = s.map(cell_text)
    return out.astype("str").fillna("")


def column_names(header: Sequence, contract: Sequence[str] = ()) -> list[str]:
    """The name of each header cell: its ``contract`` spelling when it matches one
    (ignoring case and surrounding spaces), else its stripped text or
    ``(unnamed column N)``."""
    known = {c.lower(): c for c in contract}
    names = []
    for i, h in enumerate(header):
        text = "" if h is None else str(h).strip()
        names.append(known.get(text.lower(), text or f"(unnamed column {i + 1})"))
    return names


def nul_problems(
    display: str,
    names: Sequence[str],
    header: Sequence[str],
    body: pd.DataFrame,
    rows: np.ndarray,
    header_row: int | None,
) -> list[Problem]:
    """An error for every cell holding a NUL byte: header cells (at ``header_row``) and
    cells of ``body`` (positional columns; ``rows`` as a person sees them)."""
    out = [
        Problem(display, header_row, None, str(h), NUL_RULE)
        for h in header
        if h is not None and "\x00" in str(h)
    ]
    rows = np.asarray(rows)
    for i, name in enumerate(names):
        if i not in body:
            continue
        hit = body[i].str.contains("\x00", regex=False).to_numpy(dtype=bool, na_value=False)
        for k in np.flatnonzero(hit):
            out.append(Problem(display, int(rows[k]), name, body[i].iloc[k], NUL_RULE))
    return out


def capped(
    problems: Sequence[Problem], limit: int = MAX_LISTED
) -> tuple[list[Problem], dict[tuple, int]]:
    """The first ``limit`` problems of each (file, column, rule, severity) and the count
    of the others, under that key (as :attr:`RawPackage.omitted <ivigbook.data.io.RawPackage>`)."""
    listed: list[Problem] = []
    seen: dict[tuple, int] = {}
    for p in problems:
        key = (p.file, p.column, p.rule, p.severity)
        seen[key] = seen.get(key, 0) + 1
        if seen[key] <= limit:
            listed.append(p)
    return listed, {k: n - limit for k, n in seen.items() if n > limit}
