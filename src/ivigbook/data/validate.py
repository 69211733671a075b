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

Column rules run through pandera schemas generated from :mod:`ivigbook.data.schema`;
rules across columns and tables are vectorised (pandas, numpy, pyarrow). Problems
are formatted only for the first ``limit`` failing rows of each (file, column,
rule); the others are counted in ``Report.omitted`` and in the summary line.

:func:`load_cohort` raises :class:`DataError` (with the full report) on any error;
warnings do not stop it. :func:`load_cohort_with_report` also returns the report,
for callers that show the warnings.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from ivigbook.data.cohort import Cohort
from ivigbook.data.io import RawPackage, RawTable, read_package
from ivigbook.data.problems import MAX_LISTED, DataError, Problem, Report
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


# ---------------------------------------------------------------- collecting
class _Collector:
    """Turns failing rows into Problems, listing at most ``limit`` per rule."""

    def __init__(self, limit: int):
        self.limit = limit
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
        severity: str = "error",
    ) -> None:
        """Report rows ``failing`` (boolean mask or sorted positions) of ``table``.

        ``values`` default to the cells of ``column``; ``details`` (per failing row)
        are appended to the rule in brackets.
        """
        failing = np.asarray(failing)
        positions = np.flatnonzero(failing) if failing.dtype == bool else failing
        if not positions.size:
            return
        shown = positions[: self.limit]
        if values is None:
            cells = table.frame[column].iloc[shown].to_numpy(dtype=object)
        else:
            cells = np.asarray(values, dtype=object)[: self.limit]
        notes = [None] * shown.size if details is None else list(details)[: self.limit]
        for pos, cell, note in zip(shown, cells, notes):
            text = rule if note is None else f"{rule} ({note})"
            self.add(
                Problem(
                    table.file,
                    int(table.rows[pos]),
                    column,
                    None if cell is None else str(cell),
                    text,
                    severity,
                )
            )
        if positions.size > shown.size:
            key = (table.file, column, rule, severity)
            self.report.omitted[key] = self.report.omitted.get(key, 0) + positions.size - shown.size


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
        rules.append(("required value is blank", lambda s: s != ""))
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
        rules.append(("not a date in YYYY-MM-DD format", lambda s: (s == "") | _iso(s)))
        rules.append(
            (
                f"impossible date (or year outside {_YEARS[0]}-{_YEARS[1]})",
                lambda s: pd.Series(~_iso(s) | ~np.isnat(_dates(s)), s.index),
            )
        )
    elif col.kind in ("int", "float", "measure"):
        rules.append(("not a number", lambda s: (s == "") | ~np.isnan(_numbers(s))))
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
        out.rows(table, np.sort(index.to_numpy(dtype=np.int64)), column, rule)


# ---------------------------------------------------------------- validation
def validate_package(raw: RawPackage, limit: int = MAX_LISTED) -> Report:
    """Every problem of ``raw``: reading, columns (pandera), keys and cross-table rules."""
    out = _Collector(limit)
    for p in raw.problems:
        out.add(p)
    out.report.omitted.update(raw.omitted)
    clean = {}
    for name, table in raw.tables.items():
        clean[name] = table.frame.apply(lambda s: s.str.strip())
        for extra in table.extra_columns:
            out.add(
                Problem(
                    table.file,
                    table.header_row,
                    extra,
                    None,
                    "ignored extra column; never rendered",
                    "warning",
                )
            )
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
    where = np.flatnonzero(repeat)[: out.limit]
    out.rows(
        table,
        repeat,
        "+".join(key),
        f"duplicate {' + '.join(key)}",
        values=[" ".join(row) for row in clean.loc[where, list(key)].to_numpy()],
        details=[f"first at row {table.rows[first_of_code[code[i]]]}" for i in where],
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
