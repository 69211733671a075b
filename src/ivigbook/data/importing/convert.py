"""Apply a :class:`~.mapping.Mapping` to source tables: contract tables of text cells.

Every cell is converted by the rule of its contract column (dates, numbers, codes,
lists); what cannot be converted is reported once per (source, column, rule,
value) with its count and first rows, and left blank. Each output row remembers the
source row it came from (:attr:`Converted.origin`), so that problems found later in
the package are reported where the user can fix them.

Patient rows of a per-visit source are collapsed to one per patient; two different
non-blank values for one patient are an error. Two source rows that would make one
contract row are an error. Values of identifier columns are never shown.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ivigbook.data.importing.mapping import TICKED, Field, Mapping, TableMap
from ivigbook.data.importing.sources import SourceTable
from ivigbook.data.problems import MAX_LISTED, Problem
from ivigbook.data.schema import LABELS, TABLES, Column

#: Date layouts tried, to say which one the failing dates have.
DATE_LAYOUTS = ("%d/%m/%Y", "%m/%d/%Y", "%d.%m.%Y", "%d-%m-%Y", "%Y/%m/%d", "%d/%m/%y", "%Y-%m-%d")
_UNTICKED = ("", "0", "no", "n", "false", "unchecked")
HIDDEN = "(value hidden: identifier column)"
#: A list made of checkboxes that are all unticked: "none", until patients are collapsed.
NONE_TICKED = "(none ticked)"


@dataclass
class Converted:
    """Contract tables (text cells; ``patient_id`` still holds the patient key)."""

    frames: dict[str, pd.DataFrame] = field(default_factory=dict)
    origin: dict[str, pd.DataFrame] = field(default_factory=dict)  # display, row per row
    columns: dict[str, dict[str, str]] = field(default_factory=dict)  # column -> source label
    problems: list[Problem] = field(default_factory=list)
    key_order: list[str] = field(default_factory=list)  # patient keys, first seen first
    flagged: set[tuple[str, int, str]] = field(default_factory=set)  # (display, row, column)
    duplicated: set[str] = field(default_factory=set)  # tables with repeated keys
    hints: dict[tuple[str, str | None, str], str] = field(default_factory=dict)
    omitted: dict[tuple, int] = field(default_factory=dict)  # rows of values not listed
    omitted_values: dict[tuple, int] = field(default_factory=dict)

    def reported(self, display: str, row: int, label: str) -> bool:
        """Was a problem of this cell (any source column of ``label``) reported already?"""
        return any((display, row, c) in self.flagged for c in label.split("+"))


class _Context:
    """One source table being converted; problems, flagged cells, hints and counts of
    values not listed go to ``out``."""

    def __init__(self, mapping: Mapping, source: SourceTable, frame: pd.DataFrame, rows, out):
        self.m = mapping
        self.source = source
        self.frame = frame
        self.rows = rows
        self.problems: list[Problem] = []
        self.flagged: set[tuple[str, int, str]] = set()
        self.out: Converted = out

    def report(
        self, mask, column: str, rule: str, values=None, severity="error", hint=None
    ) -> None:
        """One problem per distinct failing value of ``column`` (count and first rows), at
        most ``MAX_LISTED`` values (the others counted); ``hint`` is said once under them."""
        mask = np.asarray(mask, dtype=bool)
        if not mask.any():
            return
        cells = (self.frame[column] if values is None else values)[mask].astype(str)
        hide = column in self.m.identifiers
        rows = self.rows[mask]
        display = self.source.display
        if severity == "error":
            self.flagged |= {(display, int(r), column) for r in rows}
        distinct = list(dict.fromkeys(cells.tolist()))
        for value in distinct[:MAX_LISTED]:
            at = rows[(cells == value).to_numpy()]
            self.problems.append(_grouped(display, column, value, rule, at, hide, severity))
        if len(distinct) > MAX_LISTED:
            key = (display, column, rule, severity)
            rest = ~cells.isin(distinct[:MAX_LISTED]).to_numpy()
            self.out.omitted[key] = self.out.omitted.get(key, 0) + int(rest.sum())
            self.out.omitted_values[key] = (
                self.out.omitted_values.get(key, 0) + len(distinct) - MAX_LISTED
            )
        if hint:
            self.out.hints[(display, column, rule)] = hint


def _grouped(display, column, value, rule, rows, hide=False, severity="error") -> Problem:
    """One problem for every row in ``rows`` (the report shows the count and first rows)."""
    rows = np.sort(np.asarray(rows, dtype=np.int64), kind="stable")
    shown = HIDDEN if hide else value
    return Problem(display, int(rows[0]), column, shown, rule, severity, len(rows), rows)


def _blank(s: pd.Series) -> np.ndarray:
    return (s == "").to_numpy()


# ---------------------------------------------------------------- cells by kind
def _mapped(s: pd.Series, values: dict[str, str]) -> tuple[pd.Series, np.ndarray]:
    """Apply a value map (exact, then case-insensitive); also say which cells it mapped."""
    if not values:
        return s, np.zeros(len(s), dtype=bool)
    lower = {k.strip().lower(): v for k, v in values.items()}
    uniq = {v: values.get(v, lower.get(v.lower())) for v in s.unique()}
    hit = s.map(lambda v: uniq[v] is not None).to_numpy(dtype=bool)
    return s.map(lambda v: v if uniq[v] is None else uniq[v]), hit


def _dates(ctx, s, col_label, f: Field) -> pd.Series:
    fmt = f.date_format or ctx.m.date_format
    parsed = pd.to_datetime(s, format=fmt, errors="coerce")
    iso = pd.to_datetime(s, format="%Y-%m-%d", errors="coerce")
    parsed = parsed.where(parsed.notna(), iso)
    bad = ~_blank(s) & parsed.isna().to_numpy()
    if bad.any():
        guess = [
            lay
            for lay in DATE_LAYOUTS
            if lay != fmt and pd.to_datetime(s[bad], format=lay, errors="coerce").notna().all()
        ]
        hint = None
        if guess and ctx.m.kind == "redcap":
            hint = (
                f"dates read as {guess[0]}, but REDCap exports YYYY-MM-DD: was the export "
                "opened and saved again in a spreadsheet? Export it again from REDCap"
            )
        elif guess:
            hint = f'dates read as {guess[0]}: set date_format = "{guess[0]}" in the mapping'
        ctx.report(bad, col_label, f"not a date in the format {fmt}", values=s, hint=hint)
    return parsed.dt.strftime("%Y-%m-%d").fillna("")


def _numbers(ctx, s: pd.Series, col_label: str, f: Field) -> tuple[pd.Series, np.ndarray]:
    """Float values (NaN for blank or bad), with bad cells reported."""
    decimal = f.decimal or ctx.m.decimal
    text = s.str.replace(",", ".", regex=False) if decimal == "," else s
    x = pd.to_numeric(text.str.replace(" ", "", regex=False), errors="coerce")
    bad = ~_blank(s) & x.isna().to_numpy()
    if bad.any():
        hint = None
        if decimal != "," and s[bad].str.fullmatch(r"[-+]?\d*,\d+").all():
            hint = (
                "decimal commas, but REDCap exports a decimal point: was the export saved "
                "again in a spreadsheet? Export it again from REDCap"
                if ctx.m.kind == "redcap"
                else 'decimal commas: set decimal = "," in the mapping'
            )
        ctx.report(bad, col_label, "not a number", values=s, hint=hint)
    return x.to_numpy(dtype=float), bad


def _number_text(x: np.ndarray) -> pd.Series:
    return pd.Series(["" if np.isnan(v) else f"{v:.12g}" for v in x], dtype=object)


def _codes(ctx, s, col_label, spec: Column, hit: np.ndarray) -> pd.Series:
    """Contract codes (case as in the vocabulary); unknown values reported."""
    codes = {v.lower(): v for v in spec.vocab}
    out = s.map(lambda v: codes.get(v.lower(), v if v == "" else None))
    bad = out.isna().to_numpy()
    if bad.any():
        codes = ", ".join(spec.vocab)
        if ctx.m.kind == "redcap":
            rule = f"not a choice of {spec.name} ({codes}, or their labels)"
        else:
            rule = f"not a code of {spec.name} ({codes}) and not in [values.{spec.name}]"
        labels = {LABELS.get(c, "").lower(): c for c in spec.vocab if c in LABELS}
        hint = None
        if ctx.m.kind != "redcap" and s[bad].str.lower().isin(labels).all():
            hint = f"labels of the codes of {spec.name}: map them in [values.{spec.name}]"
        ctx.report(bad, col_label, rule, values=s, hint=hint)
    return out.fillna("")


def _field(ctx: _Context, name: str, f: Field, spec: Column) -> pd.Series:
    """The text cells of contract column ``spec`` made by field ``f``."""
    frame = ctx.frame
    if f.constant is not None:
        s = pd.Series([f.constant] * len(frame), dtype=object)
    elif f.checkboxes:
        return _checkboxes(ctx, f, spec)
    elif f.divide:
        num, nx = _numbers(ctx, frame[f.divide[0]], f.divide[0], f)
        den, dx = _numbers(ctx, frame[f.divide[1]], f.divide[1], f)
        zero = den == 0
        ctx.report(zero, f.divide[1], "division by zero")
        no_weight = ~np.isnan(num) & np.isnan(den) & ~dx
        ctx.report(no_weight, f.divide[1], f"blank: {name} left blank", severity="warning")
        with np.errstate(divide="ignore", invalid="ignore"):
            return _number_text(np.where(zero, np.nan, num / den) * (f.multiply or 1.0))
    elif f.year_of:
        dates = _dates(ctx, frame[f.year_of], f.year_of, f)
        return dates.str[:4]
    else:
        s = frame[f.column]
    label = f.label
    s = s.astype(str).str.strip()
    if f.reported:  # their value map is wrong, and said so: the cells are not reported again
        wrong = s.isin(f.reported).to_numpy()
        ctx.flagged |= {(ctx.source.display, int(r), label) for r in ctx.rows[wrong]}
    s, hit = _mapped(s, f.values)
    if spec.kind == "date":
        return _dates(ctx, s, label, f)
    if spec.kind in ("int", "float", "measure"):
        x, _ = _numbers(ctx, s, label, f)
        return _number_text(x * (f.multiply or 1.0))
    if spec.kind == "vocab":
        return _codes(ctx, s, label, spec, hit)
    if spec.kind == "vocab_list":
        sep = f.separator or ctx.m.list_separator
        items = s.str.split(sep, regex=False).explode().str.strip()
        items, _ = _mapped(items, f.values)
        codes = _codes(ctx, items, label, spec, hit) if len(items) else items
        joined = codes[codes != ""].groupby(level=0).agg(";".join)
        return joined.reindex(range(len(s)), fill_value="")
    return s


def _checkboxes(ctx: _Context, f: Field, spec: Column) -> pd.Series:
    """The ticked codes as a list; in a mapped export, a row whose boxes are all unticked
    (not blank) says "none", so that another row of the patient that ticks one is a
    conflict, not a silent merge. (A REDCap export writes 0 in every row of a record.)"""
    ticked, answered = [], np.zeros(len(ctx.frame), dtype=bool)
    for code, column in f.checkboxes.items():
        cell = ctx.frame[column].str.strip().str.lower()
        yes = cell.isin(TICKED).to_numpy()
        ctx.report(
            ~yes & ~cell.isin(_UNTICKED).to_numpy(),
            column,
            "not a checkbox value (ticked: 1, yes, checked; not: 0, no, blank)",
        )
        ticked.append(np.where(yes, code, ""))
        answered |= (cell != "").to_numpy()
    cells = [";".join(c for c in row if c) for row in zip(*ticked)]
    out = pd.Series(cells, dtype=object)
    if ctx.m.kind != "redcap":
        out = out.where((out != "") | ~answered, NONE_TICKED)
    return out


# ---------------------------------------------------------------- tables
def _select(table: SourceTable, *filters) -> tuple[pd.DataFrame, np.ndarray]:
    """The rows of ``table`` that pass every ``rows`` filter (column, allowed values)."""
    frame, rows = table.frame.astype(str), table.rows
    for spec in filters:
        if spec is not None:
            keep = frame[spec[0]].str.strip().isin(spec[1]).to_numpy()
            frame, rows = frame[keep], rows[keep]
    return frame.reset_index(drop=True), rows


def _keys(m: Mapping, name: str, sources: dict[str, SourceTable], out: Converted, ctx) -> pd.Series:
    """The patient key of each row (through the link to another source if any)."""
    src = m.sources[name]
    keys = ctx.frame[src.patient].str.strip()
    ctx.report(_blank(keys), src.patient, "blank patient key: this row belongs to nobody")
    if src.link is None:
        return keys
    other, column = src.link
    lookup = sources[other].frame
    ref = pd.DataFrame(
        {"k": lookup[column].str.strip(), "v": lookup[m.sources[other].patient].str.strip()}
    )
    ref = ref[(ref.k != "") & (ref.v != "")].drop_duplicates()
    twice = ref.k.duplicated(keep=False)
    if twice.any():
        out.problems.append(
            Problem(
                sources[other].display,
                None,
                column,
                HIDDEN if column in m.identifiers else None,
                f"one {column} belongs to several patients ({int(twice.sum())} rows)",
            )
        )
    linked = keys.map(ref.drop_duplicates("k").set_index("k").v)
    missing = linked.isna().to_numpy() & ~_blank(keys)
    ctx.report(missing, src.patient, f"no row of {sources[other].display} has this {column}")
    return linked.fillna("")


def _convert_table(m: Mapping, t: TableMap, sources: dict[str, SourceTable], out: Converted):
    src = m.sources[t.source]
    frame, rows = _select(sources[t.source], src.rows, t.rows)
    ctx = _Context(m, sources[t.source], frame, rows, out)
    keys = _keys(m, t.source, sources, out, ctx)
    contract = TABLES[t.table]
    cells = {"patient_id": keys.reset_index(drop=True)}
    labels = {"patient_id": src.patient}
    for col, f in t.fields.items():
        cells[col] = _field(ctx, col, f, contract.column(col)).reset_index(drop=True)
        labels[col] = f.label
    if t.table == "measurements" and t.measures:
        table, origin = _long(ctx, t, cells, rows)
        labels |= {"date": t.date.label, "measure": "(column)", "value": "(measure columns)"}
    else:
        table = pd.DataFrame(cells)
        origin = pd.DataFrame({"display": ctx.source.display, "row": rows})
        data = [c for c, f in t.fields.items() if f.constant is None]
        if t.table != "patients" and data:
            filled = (table[data] != "").any(axis=1).to_numpy()
            table, origin = table[filled], origin[filled]
        if t.table == "patients":
            out.key_order = list(dict.fromkeys(table["patient_id"][table["patient_id"] != ""]))
            table, origin = _collapse(ctx, table, origin, labels)
    table = table.replace(NONE_TICKED, "")
    out.problems += ctx.problems
    out.flagged |= ctx.flagged
    table = table.reindex(columns=[c for c in contract.column_names if c in table.columns])
    out.frames[t.table] = table.reset_index(drop=True)
    out.origin[t.table] = origin.reset_index(drop=True)
    out.columns[t.table] = labels
    _unique(out, t.table, labels)


def _long(ctx, t: TableMap, cells: dict, rows) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Wide visit rows to one row per patient, date and measure."""
    spec = TABLES["measurements"]
    visit = _field(ctx, "date", t.date, spec.column("date")).reset_index(drop=True)
    undated = (visit == "").to_numpy().copy()
    if t.date.column:
        undated &= _blank(ctx.frame[t.date.column].str.strip())
    parts, origins = [], []
    for code, f in t.measures.items():
        value = _field(ctx, code, f, spec.column("value")).reset_index(drop=True)
        has = (value != "").to_numpy()
        ctx.report(has & undated, f.label, "a value without a visit date")
        has = has & (visit != "").to_numpy()
        parts.append(
            pd.DataFrame(
                {
                    "patient_id": cells["patient_id"][has],
                    "date": visit[has],
                    "measure": code,
                    "value": value[has],
                }
            )
        )
        origins.append(pd.DataFrame({"display": ctx.source.display, "row": rows[has]}))
    table = pd.concat(parts, ignore_index=True)
    origin = pd.concat(origins, ignore_index=True)
    order = np.lexsort((np.arange(len(table)), origin["row"].to_numpy()))
    return table.iloc[order], origin.iloc[order]


def _as_written(ctx, label: str, positions, codes: pd.Series) -> str:
    """The values of a conflict as the source writes them (the codes when made of
    several columns), so that the user can find them."""
    if label in ctx.frame.columns:
        cells = ctx.frame[label].iloc[positions].str.strip()
        return ", ".join(dict.fromkeys(c for c in cells if c))
    return ", ".join(codes)


def _collapse(
    ctx, table: pd.DataFrame, origin: pd.DataFrame, labels
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """One row per patient: each column's non-blank value; two different ones are an error."""
    table = table.reset_index(drop=True)
    origin = origin.reset_index(drop=True)
    key = table["patient_id"]
    first = ~key.duplicated().to_numpy() & (key != "").to_numpy()
    result = table[first].set_index("patient_id", drop=False)
    for col in table.columns.drop("patient_id"):
        filled = table[(table[col] != "") & (key != "")]
        distinct = filled.drop_duplicates(["patient_id", col])
        clash = distinct["patient_id"].duplicated(keep=False)
        for pid in dict.fromkeys(distinct["patient_id"][clash]):
            mine = filled.index[(filled["patient_id"] == pid).to_numpy()]
            ctx.problems.append(
                _grouped(
                    ctx.source.display,
                    labels[col],
                    _as_written(
                        ctx, labels[col], mine, distinct[col][distinct["patient_id"] == pid]
                    ),
                    "different values for one patient",
                    origin["row"].to_numpy()[mine],
                    hide=labels[col] in ctx.m.identifiers,
                )
            )
        value = filled.drop_duplicates("patient_id").set_index("patient_id")[col]
        mapped = result["patient_id"].map(value).astype(object)
        result[col] = mapped.where(mapped.notna(), "")
    return result.reset_index(drop=True), origin[first].reset_index(drop=True)


def _unique(out: Converted, table: str, labels: dict[str, str]) -> None:
    """Two source rows that make one contract row (its unique key) are an error, said
    once per set of rows (with the measures concerned, for wide visit rows)."""
    key = [c for c in TABLES[table].unique if c in out.frames[table].columns]
    frame, origin = out.frames[table], out.origin[table]
    if table == "patients" or not key or frame.empty:
        return
    filled = (frame[key] != "").all(axis=1).to_numpy()  # a blank key cell is reported already
    dup = frame.duplicated(key, keep=False).to_numpy() & filled
    if not dup.any():
        return
    out.duplicated.add(table)
    clashes: dict[tuple, list[str]] = {}
    for labels_ in frame[dup].groupby(key, sort=False).groups.values():
        idx = np.asarray(labels_)  # RangeIndex: labels are positions
        where = tuple(zip(origin["display"].iloc[idx], origin["row"].iloc[idx]))
        clashes.setdefault(where, []).append(
            str(frame["measure"].iloc[idx[0]]) if table == "measurements" else ""
        )
    columns = "+".join(labels.get(c, c) for c in key if c not in ("measure", "value"))
    for where, measures in clashes.items():
        rows = ", ".join(str(r) for _, r in where)
        more = ", …" if len(measures) > 5 else ""
        what = f" ({len(measures)} measures: {', '.join(measures[:5])}{more})"
        what = what if table == "measurements" else ""
        out.problems.append(
            Problem(
                where[0][0],
                int(where[0][1]),
                columns,
                None,
                f"rows {rows} make the same {table} row{what}: keep one of them",
            )
        )


def convert(m: Mapping, sources: dict[str, SourceTable]) -> Converted:
    """Every mapped contract table, with the problems met."""
    out = Converted()
    order = [t for t in TABLES if t in m.tables]
    for name in order:
        _convert_table(m, m.tables[name], sources, out)
    return out
