"""Sheet names and the example row of the template workbook, shared by the writer
(:mod:`ivigbook.data.template`) and the reader (:mod:`ivigbook.data.io`).

Everything is derived from :mod:`ivigbook.data.schema`. This module imports only the
schema and :class:`~ivigbook.data.problems.Problem`, so both sides may import it.
"""

from __future__ import annotations

from ivigbook.data import schema
from ivigbook.data.problems import Problem
from ivigbook.data.schema import AE_TERMS, LABELS, MEASURES, TABLES

#: ``patient_id`` of the example row (row 2) of each table sheet; the reader drops it.
EXAMPLE_ID = "EXAMPLE"
EXAMPLE_RULE = "the template's example row is ignored"
READ_ME, DICTIONARY, MEASURES_SHEET = "read_me", "dictionary", "measures"
#: The adverse-event column whose known codes are :data:`~ivigbook.data.schema.AE_TERMS`.
AE_TERM_COLUMN = ("adverse_events", "term")


def _sheet_name(codes) -> str:
    """``vocab_<name>`` after the schema constant holding ``codes`` (``vocab_sex``)."""
    name = next(
        (k for k, v in vars(schema).items() if k.isupper() and v is codes),
        None,
    )
    return f"vocab_{(name or 'codes').lower()}"[:31]  # Excel caps sheet names at 31


def column_sheets() -> dict[tuple[str, str], str]:
    """(table, column) -> the sheet listing its codes, for every coded column."""
    out = {}
    for t in TABLES.values():
        for c in t.columns:
            if c.kind in ("vocab", "vocab_list"):
                measure = c.vocab == tuple(MEASURES)
                out[(t.name, c.name)] = MEASURES_SHEET if measure else _sheet_name(c.vocab)
    out[AE_TERM_COLUMN] = _sheet_name(AE_TERMS)
    return out


def vocabularies() -> dict[str, list[tuple[str, str]]]:
    """Vocabulary sheet -> its (code, label) rows (labels from the schema, else blank);
    the measures have their own sheet (:func:`~ivigbook.data.schema.measure_rows`)."""
    out: dict[str, list[tuple[str, str]]] = {}
    for (table, column), sheet in column_sheets().items():
        if sheet == MEASURES_SHEET or sheet in out:
            continue
        if (table, column) == AE_TERM_COLUMN:
            out[sheet] = list(AE_TERMS.items())
        else:
            codes = TABLES[table].column(column).vocab
            out[sheet] = [(code, LABELS.get(code, "")) for code in codes]
    return out


#: Sheets of the template workbook that hold documentation, not data (lower case).
REFERENCE_SHEETS = (READ_ME, *vocabularies(), DICTIONARY, MEASURES_SHEET)


def drop_example(table, problems: list[Problem]) -> None:
    """Remove the rows of a workbook sheet's ``table`` (a ``RawTable``) whose
    ``patient_id`` is exactly :data:`EXAMPLE_ID`, with one warning for the sheet."""
    if "patient_id" not in table.frame:
        return
    example = (table.frame["patient_id"] == EXAMPLE_ID).to_numpy()
    if example.any():
        row = int(table.rows[example][0])
        problems.append(Problem(table.file, row, "patient_id", EXAMPLE_ID, EXAMPLE_RULE, "warning"))
        table.frame = table.frame[~example].reset_index(drop=True)
        table.rows = table.rows[~example]
