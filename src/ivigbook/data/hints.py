"""Hints for the report: the usual cause of a column's failures, read from its values.

Each function takes the distinct failing cells of one (file, column, rule), in reading
order (:mod:`ivigbook.data.validate` passes the first :data:`SAMPLE`), and returns one
sentence for the report, or None when the cells do not point at one cause. A cause is
named when at least half of the distinct non-blank cells show it.

* :func:`date_hint`: dates written ``DD/MM/YYYY``, ``MM/DD/YYYY`` (or with ``.``/``-``,
  or a two-digit year), ``YYYY/MM/DD``, or ISO dates with a time of day;
* :func:`decimal_comma_hint`: numbers with a decimal comma (``1,5``, ``1.234,5``);
* :func:`label_hint`: a vocabulary column holding the human labels of its codes
  (``Female``, ``Diffuse cutaneous``; :data:`ivigbook.data.schema.LABELS`) or yes/no and
  pos/neg spelled ``1``/``0``, ``TRUE``/``FALSE``, ``positive``/``+``.

Pure functions of their arguments: no I/O, no state.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence

from ivigbook.data.schema import LABELS

#: Distinct failing cells a caller needs to pass (the first, in reading order).
SAMPLE = 1000

_IMPORT = "or use `ivigbook import` with a mapping file"
_DAY_MONTH = re.compile(r"^(\d{1,2})([./-])(\d{1,2})\2(\d{4}|\d{2})$")
_YEAR_FIRST = re.compile(r"^(\d{4})([./])(\d{1,2})\2(\d{1,2})$")
_WITH_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}[ T]\d{1,2}(:\d{2}){0,2}(\.\d+)?(Z|[+-]\d{2}:?\d{2})?$")
_DECIMAL_COMMA = re.compile(r"^[-+]?(\d{1,3}(\.\d{3})+|\d*),\d+$")

#: Other spellings of two-valued vocabularies (casefolded cell -> code).
SPELLINGS: dict[frozenset[str], dict[str, str]] = {
    frozenset({"yes", "no"}): {
        "1": "yes",
        "0": "no",
        "true": "yes",
        "false": "no",
        "y": "yes",
        "n": "no",
        "t": "yes",
        "f": "no",
    },
    frozenset({"pos", "neg"}): {
        "positive": "pos",
        "negative": "neg",
        "+": "pos",
        "-": "neg",
        "1": "pos",
        "0": "neg",
        "true": "pos",
        "false": "neg",
    },
}


def distinct(values: Iterable[str | None]) -> list[str]:
    """The stripped non-blank cells, each once, in order."""
    return list(dict.fromkeys(v.strip() for v in values if v is not None and v.strip()))


def _most(cells: Sequence[str], matching: Sequence) -> bool:
    return bool(matching) and 2 * len(matching) >= len(cells)


def date_hint(values: Iterable[str | None]) -> str | None:
    """How non-ISO dates seem to be written, and how to convert them."""
    cells = distinct(values)
    day_month = [m for m in map(_DAY_MONTH.match, cells) if m]
    year_first = [m for m in map(_YEAR_FIRST.match, cells) if m]
    with_time = [c for c in cells if _WITH_TIME.match(c)]
    if _most(cells, day_month):
        sep = Counter(m[2] for m in day_month).most_common(1)[0][0]
        long_year = sum(len(m[4]) == 4 for m in day_month) * 2 >= len(day_month)
        y, fy = ("YYYY", "%Y") if long_year else ("YY", "%y")
        dmy, mdy = f"DD{sep}MM{sep}{y}", f"MM{sep}DD{sep}{y}"
        f_dmy, f_mdy = f"%d{sep}%m{sep}{fy}", f"%m{sep}%d{sep}{fy}"
        day_first = any(int(m[1]) > 12 for m in day_month)
        month_first = any(int(m[3]) > 12 for m in day_month)
        if day_first and month_first:
            return (
                f"dates look like {dmy} and {mdy} mixed (days above 12 in both places): "
                "convert them to YYYY-MM-DD"
            )
        if day_first or month_first:
            shape, fmt = (dmy, f_dmy) if day_first else (mdy, f_mdy)
            return (
                f"dates look like {shape}: convert them to YYYY-MM-DD, {_IMPORT} "
                f'(date_format = "{fmt}")'
            )
        return (
            f"dates look like {dmy} or {mdy} (no day above 12 tells which): convert them to "
            f'YYYY-MM-DD, {_IMPORT} (date_format = "{f_dmy}" or "{f_mdy}")'
        )
    if _most(cells, year_first):
        sep = year_first[0][2]
        return (
            f"dates look like YYYY{sep}MM{sep}DD: write them YYYY-MM-DD, {_IMPORT} "
            f'(date_format = "%Y{sep}%m{sep}%d")'
        )
    if _most(cells, with_time):
        return f"dates have a time of day ({with_time[0]}): keep only the date, YYYY-MM-DD"
    return None


def decimal_comma_hint(values: Iterable[str | None]) -> str | None:
    """Numbers written with a decimal comma."""
    cells = distinct(values)
    comma = [c for c in cells if _DECIMAL_COMMA.match(c)]
    if not _most(cells, comma):
        return None
    example = comma[0]
    fixed = example.replace(".", "").replace(",", ".")
    return (
        f"numbers have a decimal comma ({example}): write them with a decimal point "
        f'({fixed}), {_IMPORT} (decimal = ",")'
    )


def spellings(codes: Sequence[str], labels: Mapping[str, str] = LABELS) -> dict[str, str]:
    """Casefolded labels and usual spellings of ``codes`` -> code."""
    out = dict(SPELLINGS.get(frozenset(c.lower() for c in codes), {}))
    out.update({labels[c].casefold(): c for c in codes if c in labels})
    return {k: v for k, v in out.items() if k not in {c.casefold() for c in codes}}


def label_hint(
    codes: Sequence[str],
    values: Iterable[str | None],
    *,
    listed: bool = False,
    labels: Mapping[str, str] = LABELS,
) -> str | None:
    """Labels (or other spellings) where the codes ``codes`` belong; ``listed`` for
    ``;``-list columns (each item is looked at)."""
    cells = distinct(values)
    spelled = spellings(codes, labels)
    known = {c.casefold() for c in codes}
    matching, pairs = [], {}
    for cell in cells:
        parts = [p.strip() for p in cell.split(";")] if listed else [cell]
        parts = [p for p in parts if p]
        if not parts or not all(p.casefold() in spelled or p.casefold() in known for p in parts):
            continue
        found = [p for p in parts if p.casefold() in spelled]
        if found:
            matching.append(cell)
            for p in found:
                pairs.setdefault(p.casefold(), f"{p} → {spelled[p.casefold()]}")
    if not _most(cells, matching):
        return None
    shown = list(pairs.values())
    more = ", …" if len(shown) > 4 else ""
    return f"looks like a label export: write the codes ({', '.join(shown[:4])}{more})"
