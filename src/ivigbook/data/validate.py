"""Validate a cohort package: every problem at once, as ``file:row:column: value - rule``.

Problem string convention (``str(problem)``)::

    patients.csv:7:sex: X - not one of F, M
    patients.csv:1:favourite_colour: - warning: ignored extra column; never rendered
    patients.csv:-:-: - required table missing

* ``file``: the display name of :mod:`ivigbook.data.io` (``patients.csv``,
  ``cohort.xlsx[patients]``) or the package path for folder-level problems;
* ``row``: the line/row a person sees (header = 1 in CSV/xlsx; see :mod:`ivigbook.data.io`),
  ``-`` when the problem concerns a whole file or table;
* ``column``: a contract column (or ``a+b`` for a key of several columns), ``-`` when
  none; ``value``: the cell as read (an empty cell shows as ``""``), left out when the
  problem is not about one value; ``rule``: what is wrong, prefixed ``warning:`` for
  warnings.

The report (:meth:`Report.format <ivigbook.data.problems.Report.format>`) prints one
line per (file, column, rule, value). A problem met once is the line above; one met in
several rows names its first row and appends the count and the first five rows. With
``--limit 2``::

    patients.csv:2:sex: Female - not one of F, M (38 rows: 2, 3, 5, 8, 9, …)
    patients.csv:4:sex: Male - not one of F, M (3 rows: 4, 6, 7)
      hint: looks like a label export: write the codes (Female → F, Male → M)
    patients.csv:12:birth_year: 1850 - outside the range 1900 to 2100 (year)
    measurements.csv:3:value: 1,5 - not a number (2 rows: 3, 9)
    measurements.csv:5:value: 2,25 - not a number
    measurements.csv:*:value: ... - 12 more values not listed (40 rows): not a number
      hint: numbers have a decimal comma (1,5): write them with a decimal point (1.5), …
    85 errors, 0 warnings
    for the full list (one problem per line), add --report FILE

Problems without a value repeat per (file, column, rule) the same way (``(3 times)`` for
file-level ones). Lines follow the files in package order, then the first row; at most
``limit`` values (``--limit``) are listed per (file, column, rule), the others counted
on one ``file:*:column: ...`` line. A hint (:mod:`ivigbook.data.hints`: dates written
DD/MM/YYYY, decimal commas, labels instead of codes) follows the last line it concerns,
once. The summary counts problems (rows), listed or not. Every failing row is kept:
:meth:`Report.write_full <ivigbook.data.problems.Report.write_full>` (``validate
--report FILE``) writes them all ungrouped, one per line, and only when asked (the last
line above says so when the report groups or leaves out problems).

Column rules run through pandera schemas generated from :mod:`ivigbook.data.schema`;
rules across columns and tables are vectorised (pandas, numpy, pyarrow), and so is the
grouping of failing rows by value.

:func:`load_cohort` raises :class:`DataError` (with the full report) on any error;
warnings do not stop it. :func:`load_cohort_with_report` also returns the report,
for callers that show the warnings.
"""

from __future__ import annotations

import datetime
import functools
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from ivigbook.data import hints
from ivigbook.data.cohort import Cohort
from ivigbook.data.io import RawPackage, RawTable, read_package
from ivigbook.data.problems import MAX_LISTED, DataError, Problem, Report, Unlisted
from ivigbook.data.schema import MEASURES, REQUIRED_TABLES, TABLES, Column

_YEARS = (
    int(TABLES["patients"].column("birth_year").lo),
    int(TABLES["patients"].column("birth_year").hi),
)


# ---------------------------------------------------------------- column rules (pandera)
def _canon(column: str, s: pd.Series) -> pd.Series:
    """Case of vocabulary codes as :func:`ivigbook.data.cohort.coerce_table` stores them."""
    return s.str.upper() if column in ("sex", "measure") else s.str.lower()


_NUMBER = r"^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$"


_ISO_DATE = r"^\d{4}-\d{2}-\d{2}$"


_DAYS_IN_MONTH = np.array([31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31])

_BLANK, _NOT_A_DATE, _NOT_A_NUMBER = (
    "required value is blank",
    "not a date in YYYY-MM-DD format",
    "not a number",
)


# ---------------------------------------------------------------- collecting
class _Collector:
    """Turns failing rows into Problems: one per value of a (file, column, rule), for at
    most ``limit`` values; the rows of the others are counted and kept for the full list.
    ``today``: the day of validation (dates after it are warned about)."""

    def __init__(self, limit: int, today: datetime.date | None = None):
        self.limit = limit
        self.today = np.datetime64(today or datetime.date.today(), "D")
        self.report = Report()

    def add(self, problem: Problem) -> None:
        self.report.problems.append(problem)

    def rows(
        self,
        table: RawTable,
        failing,
        column: str | None,
        rule: str,
        *,
        values=None,
        details=None,
        note: str | None = None,
        severity: str = "error",
    ) -> list[str | None]:
        """Report rows ``failing`` (boolean mask or sorted positions) of ``table``.

        ``values`` (one per failing row) default to the cells of ``column``; ``details``
        (one per failing row) fill ``note`` (``"first at row {}"``), appended to the rule
        in brackets. Rows with the same value and detail are one Problem; the values
        come in the order of their first row. Returns the distinct values (at most
        :data:`hints.SAMPLE`), for hints.
        """
        failing = np.asarray(failing)
        positions = np.flatnonzero(failing) if failing.dtype == bool else failing
        said = table.reported.get(column) if column else None
        if said:  # cells already reported as unreadable (merged, unsaved formula)
            keep = ~np.isin(np.asarray(table.rows)[positions], said)
            positions = positions[keep]
            values = None if values is None else np.asarray(values, dtype=object)[keep]
            details = None if details is None else np.asarray(details)[keep]
        if not positions.size:
            return []
        cells = table.frame[column].iloc[positions] if values is None else values
        if not isinstance(cells, pd.Series):
            cells = pd.Series(np.asarray(cells, dtype=object))
        codes = pd.factorize(cells, use_na_sentinel=False)[0]
        if details is not None:
            details = np.asarray(details)
            other = pd.factorize(details, use_na_sentinel=False)[0]
            codes = pd.factorize(codes * (int(other.max()) + 1) + other)[0]
        # codes number the values in order of first appearance: a new one raises the max
        top = np.maximum.accumulate(codes)
        first = np.flatnonzero(np.r_[True, top[1:] > top[:-1]])
        texts = [None if v is None else str(v) for v in cells.iloc[first].tolist()]
        notes = None if details is None else details[first]
        counts = np.bincount(codes, minlength=len(first))
        shown = min(len(first), self.limit)
        rows = np.asarray(table.rows)[positions]
        listed = codes < shown
        order = np.flatnonzero(listed)
        if shown > 1:  # the rows of each listed value together, in reading order
            order = order[np.argsort(codes[order], kind="stable")]
        for g, group in enumerate(np.split(rows[order], np.cumsum(counts[:shown])[:-1])):
            text = rule if note is None else f"{rule} ({note.format(notes[g])})"
            n = int(counts[g])
            first_row, every = int(group[0]), group if n > 1 else None
            self.add(Problem(table.file, first_row, column, texts[g], text, severity, n, every))
        if len(first) > shown:
            rest = ~listed
            key = (table.file, column, rule, severity)
            omitted, values_omitted = self.report.omitted, self.report.omitted_values
            omitted[key] = omitted.get(key, 0) + int(rest.sum())
            values_omitted[key] = values_omitted.get(key, 0) + len(first) - shown
            left = (rows[rest], codes[rest] - shown, texts[shown:])
            later = None if notes is None else notes[shown:]
            self.report.unlisted.append(
                Unlisted(table.file, column, rule, severity, *left, note, later)
            )
        return texts[: hints.SAMPLE]


def _arrow(s: pd.Series):
    import pyarrow as pa

    return pa.array(s, type=pa.large_string())


def _numbers(s: pd.Series) -> np.ndarray:
    """The number in each (stripped) cell; NaN for blanks and non-numbers (e.g. ``1,5``)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    cells = _arrow(s)
    plain = pc.match_substring_regex(cells, _NUMBER)
    return pc.cast(pc.if_else(plain, cells, None), pa.float64()).to_numpy(zero_copy_only=False)


def _iso(s: pd.Series) -> np.ndarray:
    """Cells shaped ``YYYY-MM-DD`` (not necessarily a real date)."""
    import pyarrow.compute as pc

    return pc.match_substring_regex(_arrow(s), _ISO_DATE).to_numpy(zero_copy_only=False)


def _iso_digits(cells, iso: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Year, month and day written in the ``YYYY-MM-DD`` cells (``iso`` True), read as
    digits straight from the Arrow buffers (0 elsewhere)."""
    cells = cells.combine_chunks() if hasattr(cells, "combine_chunks") else cells
    _validity, offsets, data = cells.buffers()[:3]
    start = np.frombuffer(offsets, dtype=np.int64)[cells.offset : cells.offset + len(cells)]
    chars = np.frombuffer(data, dtype=np.uint8) if data is not None else np.zeros(0, np.uint8)
    if len(chars) < 10:
        chars = np.concatenate([chars, np.zeros(10, np.uint8)])
    start = np.where(iso, start, 0)
    ends = start[-1] + 10 if len(start) else 0
    if len(start) and iso.all() and np.array_equal(start, start[0] + 10 * np.arange(len(start))):
        block = chars[start[0] : ends].reshape(-1, 10)  # every cell a date, back to back
    else:
        block = chars[start[:, None] + np.arange(10)]
    digits = block.astype(np.int32) - 48

    def number(first: int, width: int) -> np.ndarray:
        out = digits[:, first].copy()
        for k in range(first + 1, first + width):
            out = out * 10 + digits[:, k]
        return np.where(iso, out, 0).astype(np.int64)

    return number(0, 4), number(5, 2), number(8, 2)


def _dates(s: pd.Series) -> np.ndarray:
    """``datetime64[D]`` of real ISO dates within the plausible years; NaT otherwise."""
    cells = _arrow(s)
    iso = _iso(s)
    y, m, d = _iso_digits(cells, iso)
    leap = (y % 4 == 0) & ((y % 100 != 0) | (y % 400 == 0))
    last = _DAYS_IN_MONTH[np.clip(m - 1, 0, 11)] + (leap & (m == 2))
    real = iso & (m >= 1) & (m <= 12) & (d >= 1) & (d <= last) & (y >= _YEARS[0]) & (y <= _YEARS[1])
    # first day of each month of the plausible years: one calendar conversion per month
    firsts = np.arange(
        np.datetime64(f"{_YEARS[0]:04d}-01"),
        np.datetime64(f"{_YEARS[1] + 1:04d}-01"),
        dtype="datetime64[M]",
    ).astype("datetime64[D]")
    month = np.clip((y - _YEARS[0]) * 12 + (m - 1), 0, len(firsts) - 1)
    out = firsts[month] + np.where(real, d - 1, 0)
    return np.where(real, out, np.datetime64("NaT", "D"))


def _years(dates: np.ndarray) -> np.ndarray:
    """Calendar year of each date, NaN for NaT."""
    years = dates.astype("datetime64[Y]").astype(np.int64) + 1970.0
    return np.where(np.isnat(dates), np.nan, years)


def _allowed(col: Column) -> str:
    if col.name == "measure":
        return "unknown measure code (see the measures table)"
    if len(col.vocab) <= 10:
        return "not one of " + ", ".join(col.vocab)
    return f"not a known {col.name} code (see the data dictionary)"


Rule = tuple[str, Callable[[pd.Series], pd.Series]]


def column_rules(col: Column) -> list[Rule]:
    """The (rule, check) pairs of one contract column.

    Each check takes the stripped cells and returns True where the cell is fine.
    Blank cells fail only the blank rule; a cell fails at most one rule.
    """
    rules: list[Rule] = []
    if not col.nullable:
        rules.append((_BLANK, lambda s: s != ""))
    if col.kind == "vocab":
        allowed = set(_canon(col.name, pd.Series(col.vocab, dtype="str")))
        rules.append((_allowed(col), lambda s: (s == "") | _canon(col.name, s).isin(allowed)))
    elif col.kind == "vocab_list":
        allowed = set(col.vocab)

        def each_known(s: pd.Series) -> pd.Series:
            parts = s.str.lower().str.split(";").explode().str.strip()
            bad = (parts != "") & ~parts.isin(allowed)
            return ~bad.groupby(level=0).any().reindex(s.index, fill_value=False)

        rules.append((f"{_allowed(col)} (in a ;-list)", each_known))
    elif col.kind == "date":
        rules.append((_NOT_A_DATE, lambda s: (s == "") | _iso(s)))
        rules.append(
            (
                f"impossible date (or year outside {_YEARS[0]}-{_YEARS[1]})",
                lambda s: pd.Series(~_iso(s) | ~np.isnat(_dates(s)), s.index),
            )
        )
    elif col.kind in ("int", "float", "measure"):
        rules.append((_NOT_A_NUMBER, lambda s: (s == "") | ~np.isnan(_numbers(s))))
        if col.kind == "int":
            rules.append(
                ("not a whole number", lambda s: pd.Series(~_fraction(_numbers(s)), s.index))
            )
        if col.lo is not None:
            unit = f" ({col.unit})" if col.unit else ""
            rules.append(
                (
                    f"outside the range {col.lo:g} to {col.hi:g}{unit}",
                    lambda s: pd.Series(~_outside(_numbers(s), col.lo, col.hi), s.index),
                )
            )
    return rules


def _fraction(x: np.ndarray) -> np.ndarray:
    """Finite numbers that are not whole."""
    return np.isfinite(x) & (x != np.round(x))


def _outside(x: np.ndarray, lo, hi) -> np.ndarray:
    return (x < lo) | (x > hi)


@functools.cache
def pandera_schema(table: str):
    """The pandera schema of one table, generated from the contract.

    Returns ``(schema, rules)`` where ``rules[(column, check_number)]`` is the rule text.
    """
    import pandera.pandas as pa

    columns, rules = {}, {}
    for col in TABLES[table].columns:
        checks = []
        for i, (rule, fn) in enumerate(column_rules(col)):
            checks.append(pa.Check(fn, name=f"{col.name}#{i}", error=rule))
            rules[(col.name, i)] = rule
        columns[col.name] = pa.Column(None, checks=checks, required=col.required, nullable=True)
    return pa.DataFrameSchema(columns, strict=False, name=table), rules


def _pandera_problems(table: RawTable, clean: pd.DataFrame, out: _Collector) -> None:
    """Run the table's pandera schema lazily; failure cases become Problems."""
    import pandera.pandas as pa

    schema, rules = pandera_schema(table.name)
    try:
        schema.validate(clean, lazy=True, inplace=True)
        return
    except pa.errors.SchemaErrors as e:
        cases = e.failure_cases
    for _, case in cases[cases["check"] == "column_in_dataframe"].iterrows():
        out.add(
            Problem(
                table.file,
                table.header_row,
                str(case["failure_case"]),
                None,
                "required column missing",
            )
        )
    cases = cases[cases["check"] != "column_in_dataframe"]
    for (column, number), group in cases.groupby(["column", "check_number"], sort=False):
        rule = rules.get((column, int(number)), str(group["check"].iloc[0]))
        index = pd.to_numeric(group["index"], errors="coerce")
        if index.isna().any():  # a check that crashed: not a problem of the data
            raise RuntimeError(
                f"{table.file}: check {rule!r} failed: {group['failure_case'].iloc[0]}"
            )
        failing = out.rows(table, np.sort(index.to_numpy(dtype=np.int64)), column, rule)
        hint = _hint(TABLES[table.name].column(column), rule, failing)
        if hint is not None:
            out.report.hints[(table.file, column, rule)] = hint


def _hint(col: Column, rule: str, failing: list) -> str | None:
    """The usual cause of ``col`` failing ``rule``, from its failing values (:mod:`hints`)."""
    if col.kind == "date" and rule == _NOT_A_DATE:
        return hints.date_hint(failing)
    if col.kind in ("int", "float", "measure") and rule == _NOT_A_NUMBER:
        return hints.decimal_comma_hint(failing)
    if col.kind in ("vocab", "vocab_list") and rule != _BLANK:
        return hints.label_hint(col.vocab, failing, listed=col.kind == "vocab_list")
    return None


# ---------------------------------------------------------------- validation
def validate_package(
    raw: RawPackage, limit: int = MAX_LISTED, today: datetime.date | None = None
) -> Report:
    """Every problem of ``raw``: reading, columns (pandera), keys and cross-table rules.
    ``today`` (default: the system date) is the date that no date should follow."""
    out = _Collector(limit, today)
    for p in raw.problems:
        out.add(p)
    out.report.omitted.update(raw.omitted)
    clean = {}
    for name, table in raw.tables.items():
        clean[name] = table.frame.apply(lambda s: s.str.strip())
        for extra in table.extra_columns:
            rule = "ignored extra column; never rendered"
            out.add(Problem(table.file, table.header_row, extra, None, rule, "warning"))
        if name in REQUIRED_TABLES and len(table) == 0:
            out.add(Problem(table.file, None, None, None, "no data rows"))
        _pandera_problems(table, clean[name], out)
        _unique_problems(table, clean[name], out)
    _cross_problems(raw, clean, out)
    rank = {display: i for i, display in enumerate(raw.displays.values())}
    out.report.problems.sort(key=lambda p: rank.get(p.file, -1))  # stable: tables in order
    return out.report


def _unique_problems(table: RawTable, clean: pd.DataFrame, out: _Collector) -> None:
    """Repeated keys of the contract (``Table.unique``): each repeat names the first row."""
    contract = TABLES[table.name]
    key = contract.unique
    if not key or not set(key) <= set(clean.columns) or not len(clean):
        return
    parts = [_canon(c, clean[c]) if contract.column(c).kind == "vocab" else clean[c] for c in key]
    combined = np.zeros(len(clean), dtype=np.int64)
    for part in parts:  # one integer code per distinct key, without joining strings
        codes, uniques = pd.factorize(part)
        combined = pd.factorize(combined * (len(uniques) + 1) + codes)[0]
    complete = np.logical_and.reduce([(p != "").to_numpy() for p in parts])
    repeat = pd.Series(combined).duplicated().to_numpy() & complete
    if not repeat.any():
        return
    _, first_of_code, code = np.unique(combined, return_index=True, return_inverse=True)
    where = np.flatnonzero(repeat)
    values = clean[key[0]].iloc[where]
    if len(key) > 1:  # the key's cells joined by spaces, in one pyarrow call
        import pyarrow as pa
        import pyarrow.compute as pc

        cells = [_arrow(clean[c].iloc[where]) for c in key]
        joined = pc.binary_join_element_wise(*cells, pa.scalar(" ", pa.large_string()))
        values = pd.Series(joined, dtype="str")
    out.rows(
        table,
        where,
        "+".join(key),
        f"duplicate {' + '.join(key)}",
        values=values,
        details=np.asarray(table.rows)[first_of_code[code[where]]],
        note="first at row {}",
    )


def _positions(keys: pd.Series, values: pd.Series) -> np.ndarray:
    """Position of each key among ``values``, -1 when absent (a pyarrow hash lookup)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    found = pc.index_in(
        pa.array(keys, type=pa.large_string()), value_set=pa.array(values, type=pa.large_string())
    )
    return found.fill_null(-1).to_numpy()


def _cross_problems(raw: RawPackage, clean: dict[str, pd.DataFrame], out: _Collector) -> None:
    """Rules across columns and tables: ids, birth, onset, death, stop dates, measures."""
    if "measurements" in raw.tables:
        _measure_problems(raw.tables["measurements"], clean["measurements"], out)
    patients = raw.tables.get("patients")
    if patients is None or "patient_id" not in clean["patients"]:
        return
    pc = clean["patients"]
    ids = pc["patient_id"]
    birth = _numbers(pc["birth_year"]) if "birth_year" in pc else np.full(len(pc), np.nan)
    birth = np.where(_fraction(birth) | _outside(birth, *_YEARS), np.nan, birth)
    death = (
        _dates(pc["death_date"])
        if "death_date" in pc
        else np.full(len(pc), np.datetime64("NaT", "D"))
    )
    _date_problems(patients, pc, birth, death, out)
    _first_cycle_problems(raw, clean, birth, out)
    first = np.flatnonzero((~ids.duplicated() & (ids != "")).to_numpy())
    # one sentinel (unknown patient) at the end: position -1 picks it
    birth_of = np.append(birth[first], np.nan)
    death_of = np.append(death[first], np.datetime64("NaT", "D"))
    for name, table in raw.tables.items():
        tc = clean[name]
        if not TABLES[name].child or "patient_id" not in tc:
            continue
        at = _positions(tc["patient_id"], ids.iloc[first])
        out.rows(
            table,
            (at < 0) & (tc["patient_id"] != "").to_numpy(),
            "patient_id",
            f"patient_id not in {patients.file}",
        )
        _date_problems(table, tc, birth_of[at], death_of[at], out)
    infusions = clean.get("infusions")
    if infusions is not None and "patient_id" in infusions:
        out.rows(
            patients,
            (ids != "").to_numpy() & (_positions(ids, infusions["patient_id"]) < 0),
            "patient_id",
            "patient has no infusions",
            severity="warning",
        )


def _date_problems(
    table: RawTable, tc: pd.DataFrame, birth: np.ndarray, death: np.ndarray, out: _Collector
) -> None:
    """Dates of ``table`` against the patient's birth year and death date (row by row).

    Every date must not precede the birth year. Patients: death not before onset.
    Child tables: the required dates (cycle/course start, assessment, AE onset) must
    not follow death; a stop date must not precede its start date.
    """
    contract = TABLES[table.name]
    dates = {
        c.name: _dates(tc[c.name]) for c in contract.columns if c.kind == "date" and c.name in tc
    }
    for name, d in dates.items():
        out.rows(table, _years(d) < birth, name, "before the patient's birth year")
        out.rows(table, d > out.today, name, _FUTURE, severity="warning")
    if not contract.child:
        if {"onset_date", "death_date"} <= set(dates):
            out.rows(
                table, dates["death_date"] < dates["onset_date"], "death_date", "before onset_date"
            )
        return
    for c in contract.columns:
        if c.name in dates and c.required:
            out.rows(table, dates[c.name] > death, c.name, "after the patient's death_date")
    if {"start_date", "stop_date"} <= set(dates):
        out.rows(table, dates["stop_date"] < dates["start_date"], "stop_date", "before start_date")


_FUTURE = "after today (a date in the future)"


def _first_cycle_problems(
    raw: RawPackage, clean: dict[str, pd.DataFrame], birth: np.ndarray, out: _Collector
) -> None:
    """Warnings against each patient's first IVIG cycle (earliest infusion start_date):
    disease onset after it, an age at it (calendar years since birth_year) under 16 or
    over 100."""
    pc, infusions = clean["patients"], clean.get("infusions")
    if infusions is None or not {"patient_id", "start_date"} <= set(infusions):
        return
    starts = pd.Series(_dates(infusions["start_date"]))
    first = starts.groupby(infusions["patient_id"].to_numpy()).min()
    first = first.reindex(pc["patient_id"].to_numpy()).to_numpy()  # NaT: no dated cycle
    where = f"the first IVIG cycle ({raw.tables['infusions'].file} start_date)"
    patients = raw.tables["patients"]
    if "onset_date" in pc:
        onset = _dates(pc["onset_date"])
        out.rows(patients, onset > first, "onset_date", f"after {where}", severity="warning")
    age = _years(first) - birth
    for mask, rule in ((age < 16, "age under 16"), (age > 100, "age over 100")):
        out.rows(patients, mask, "birth_year", f"{rule} at {where}", severity="warning")


def _measure_problems(table: RawTable, tc: pd.DataFrame, out: _Collector) -> None:
    """Values against the range and scale of their own measure (``schema.MEASURES``)."""
    if not {"measure", "value"} <= set(tc.columns):
        return
    codes, uniques = pd.factorize(_canon("measure", tc["measure"]))
    known = [MEASURES.get(u) for u in uniques] + [None]  # codes == -1 pick the None
    value = _numbers(tc["value"])
    lo = np.array([m.lo if m else np.nan for m in known])[codes]
    hi = np.array([m.hi if m else np.nan for m in known])[codes]
    whole = np.array([bool(m and m.integer) for m in known])[codes]
    outside = _outside(value, lo, hi)
    fraction = whole & _fraction(value) & ~outside
    for mask, rule in (
        (outside, "outside the range of {m.code} ({m.lo:g} to {m.hi:g})"),
        (fraction, "{m.code} must be a whole number"),
    ):
        for k in np.unique(codes[mask]):
            out.rows(table, mask & (codes == k), "value", rule.format(m=known[k]))


# ---------------------------------------------------------------- loading
def load_cohort_with_report(
    path: str | Path, name: str | None = None, limit: int = MAX_LISTED
) -> tuple[Cohort, Report]:
    """Read, validate and type the package at ``path``; also return its report (warnings).

    Raises :class:`DataError` (carrying the full report) when there is any error.
    """

    raw = read_package(path)
    report = validate_package(raw, limit)
    if not report.ok:
        raise DataError(report, str(path))
    frames = {t: raw.tables[t].frame.astype("string") for t in raw.tables}
    cohort = Cohort.from_frames(
        name=name or raw.name, source=str(path), sha256=raw.sha256, **frames
    )
    return cohort, report


def load_cohort(path: str | Path, name: str | None = None) -> Cohort:
    """Read, validate and type a package; raise :class:`DataError` on any error.

    Warnings do not stop loading; use :func:`load_cohort_with_report` to see them.
    """
    return load_cohort_with_report(path, name)[0]
