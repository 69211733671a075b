"""Adverse-event terms outside the vocabulary (``schema.AE_TERMS``) and the map that codes them.

A term is matched after strip + lower-case, as :mod:`ivigbook.chapters.safety` does;
terms still outside the vocabulary are counted there as "Other (free text)".

The term map (``--terms FILE``) is a CSV file of two columns, verbatim term then code,
one mapping a line; the header line ``term,code`` is optional. ``,``, ``;`` or tab
separated, UTF-8 (a byte-order mark is ignored). Example::

    term,code
    cefalea intensa,headache
    Rash cutaneo,rash_pruritus
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
from pathlib import Path

import pandas as pd

from ivigbook.data.cohort import Cohort
from ivigbook.data.io import TABLE_SUFFIXES, WORKBOOK_SUFFIXES
from ivigbook.data.problems import MAX_LISTED, DataError, Problem, Report
from ivigbook.data.schema import AE_TERMS, TABLES

_HEADER = ("term", "code")
_WIDTH = 40  # characters of a term shown in the warning


def _normal(terms: pd.Series) -> pd.Series:
    """Terms as they are matched: stripped and lower-case."""
    return terms.astype("string").str.strip().str.lower()


def unknown_terms(adverse_events: pd.DataFrame) -> pd.DataFrame:
    """Distinct terms outside the vocabulary (normalised) with their event counts.

    Columns ``term``, ``events``; by descending count, then term. Blank terms are left
    out; nothing but the term and its count is returned (never patient ids).
    """
    terms = _normal(adverse_events.get("term", pd.Series([], dtype="string")))
    terms = terms[terms.notna() & (terms != "")]
    terms = terms[~terms.isin(list(AE_TERMS))]
    counts = terms.value_counts()
    out = pd.DataFrame({"term": counts.index.astype(str), "events": counts.to_numpy(dtype="int64")})
    return out.sort_values(["events", "term"], ascending=[False, True]).reset_index(drop=True)


# ---------------------------------------------------------------- the term map
def read_term_map(path: str | Path) -> dict[str, str]:
    """The term map at ``path`` as ``{normalised verbatim term: code}``.

    Every problem is reported at once (:class:`DataError`): an unreadable file, a line
    without exactly two columns, a blank term or code, a code outside the vocabulary
    (the allowed codes are listed), a term that is itself a code mapped to another
    code, and a term mapped to two different codes.
    """
    path = Path(path)
    problems: list[Problem] = []

    def add(line: int | None, column: str | None, value: str | None, rule: str) -> None:
        problems.append(Problem(path.name, line, column, value, rule))

    try:
        rows = _rows(path.read_bytes().decode("utf-8-sig"))
    except (OSError, UnicodeDecodeError, csv.Error) as e:
        utf8 = isinstance(e, UnicodeDecodeError)
        reason = "not UTF-8 text" if utf8 else getattr(e, "strerror", None) or str(e)
        add(None, None, None, f"cannot read the term map ({reason})")
        raise DataError(Report(problems), str(path)) from None
    found: dict[str, tuple[str, int]] = {}  # term -> (code, row of its first mapping)
    for i, (line, cells) in enumerate(rows):
        if i == 0 and tuple(c.strip().lower() for c in cells) == _HEADER:
            continue
        while len(cells) > 2 and not cells[-1].strip():  # trailing separators
            cells = cells[:-1]
        if len(cells) != 2:
            add(line, None, None, f"expected 2 columns (term,code), found {len(cells)}")
            continue
        (term, raw_code), before = cells, len(problems)
        key, code = term.strip().lower(), raw_code.strip().lower()
        if not key:
            add(line, "term", term, "required value is blank")
        if not code:
            add(line, "code", raw_code, "required value is blank")
        elif code not in AE_TERMS:
            add(
                line, "code", raw_code, "not an adverse-event code; allowed: " + ", ".join(AE_TERMS)
            )
        elif key in AE_TERMS and code != key:
            add(line, "term", term, "already a code of the vocabulary; cannot be mapped to another")
        elif key in found and found[key][0] != code:
            add(
                line,
                "term",
                term,
                f"mapped to {code} here and to {found[key][0]} at row {found[key][1]}",
            )
        if key and len(problems) == before:
            found.setdefault(key, (code, line))
    if problems:
        raise DataError(Report(problems), str(path))
    return {key: code for key, (code, _) in found.items()}


def _rows(text: str) -> list[tuple[int, list[str]]]:
    """``(line of the row's start, cells)`` of each non-blank row of a CSV text."""
    lines = text.splitlines()
    head = next((ln for ln in lines if ln.strip()), "")
    sep = max((",", ";", "\t"), key=head.count) if head else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=sep, strict=True)
    out, start = [], 1
    for cells in reader:
        if any(c.strip() for c in cells):
            out.append((start, cells))
        start = reader.line_num + 1
    return out


def write_term_map(mapping: dict[str, str], path: str | Path) -> Path:
    """Write ``mapping`` as a term map (header ``term,code``, sorted by term)."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(_HEADER)
    writer.writerows(sorted(mapping.items()))
    path = Path(path)
    path.write_text(buf.getvalue(), encoding="utf-8")
    return path


def _mapped(adverse_events: pd.DataFrame, mapping: dict[str, str]) -> pd.DataFrame:
    """A copy of ``adverse_events`` with mapped terms replaced by their codes."""
    out = adverse_events.copy()
    if mapping and "term" in out:
        code = _normal(out["term"]).map(mapping)
        known = code.notna()
        out.loc[known, "term"] = code[known]
    return out


def apply_term_map(cohort: Cohort, mapping: dict[str, str]) -> Cohort:
    """A copy of ``cohort`` whose mapped adverse-event terms are their codes.

    Other terms, the other tables and ``sha256`` (the package's hash) are unchanged;
    ``cohort`` itself is never modified.
    """
    return dataclasses.replace(cohort, adverse_events=_mapped(cohort.adverse_events, mapping))


# ---------------------------------------------------------------- the warning
def term_warning(
    adverse_events: pd.DataFrame,
    file: str,
    mapping: dict[str, str] | None = None,
    limit: int = MAX_LISTED,
) -> Problem | None:
    """One warning listing the terms (after ``mapping``) outside the vocabulary, with their
    event counts (at most ``limit`` terms named); None when every term is known."""
    unknown = unknown_terms(_mapped(adverse_events, mapping or {}))
    if unknown.empty:
        return None
    n, events = len(unknown), int(unknown["events"].sum())
    shown = [f"{_quoted(t)} ({k})" for t, k in unknown.head(limit).itertuples(index=False)]
    if n > limit:
        shown.append(f"and {n - limit} more")
    rule = (
        f"{n} term{'s' * (n != 1)} outside the vocabulary ({events} event{'s' * (events != 1)}) "
        f'will be counted as "other": {", ".join(shown)}; '
        + ("add them to the --terms map" if mapping else "map them with --terms terms.csv")
        + " (columns term,code)"
    )
    return Problem(file, None, "term", None, rule, "warning")


def _quoted(term: str) -> str:
    """A term in double quotes, control characters escaped, cut to ``_WIDTH``."""
    text = term if len(term) <= _WIDTH else term[: _WIDTH - 1] + "…"
    return json.dumps(text, ensure_ascii=False)


def adverse_events_file(source: str | Path) -> str:
    """The name :func:`ivigbook.data.io.read_package` shows for the adverse-event table of
    the package at ``source`` (``adverse_events.csv``, ``cohort.xlsx[adverse_events]``)."""
    path = Path(source)
    name = "adverse_events"
    if path.is_file():
        return f"{path.name}[{name}]"
    suffixes = {s for group in TABLE_SUFFIXES.values() for s in group}
    files = sorted(path.iterdir()) if path.is_dir() else []
    tables = [f for f in files if f.stem.lower() in TABLES and f.suffix.lower() in suffixes]
    mine = [f.name for f in tables if f.stem.lower() == name]
    if mine:
        return mine[0]
    books = [
        f
        for f in files
        if f.suffix.lower() in WORKBOOK_SUFFIXES and not f.name.startswith((".", "~$"))
    ]
    if not tables and len(books) == 1:
        return f"{books[0].name}[{name}]"
    return TABLES[name].file
