"""The mapping file: how a centre's export becomes the contract (TOML, format 1).

A mapping names its sources, the patient key of each, and for every contract table
the source it comes from and how each contract column is made::

    format = 1

    [defaults]
    date_format = "%d/%m/%Y"      # dates of every source (ISO dates are always read)
    decimal = ","                 # decimal comma
    list_separator = ";"          # items of list columns (overlap, ivig_indication)

    [identifiers]
    columns = ["nhc", "nombre"]   # direct identifiers: never copied into the package
    patient_id = "sequence"       # copy | sequence | hash (keyed: IVIGBOOK_ID_KEY)

    [sources.registro]
    file = "registro.csv"         # relative to SOURCE; sheet = "..." in a workbook
    patient = "record_id"         # the column that says whose row it is

    [sources.farmacia]
    file = "farmacia.csv"
    patient = "nhc"
    link = { source = "registro", column = "nhc" }   # nhc -> registro's record_id

    [tables.patients]
    source = "registro"
    columns.sex = "sexo"
    columns.center = { constant = "Hospital A" }
    columns.birth_year = { year_of = "fecha_nacimiento" }

    [tables.measurements]
    source = "registro"
    date = "fecha_visita"
    measures.MRSS = "mrss"        # wide to long: one column per measure

    [tables.infusions]
    source = "farmacia"
    columns.start_date = "fecha"
    columns.dose_g_per_kg = { divide = ["gramos", "peso_kg"] }

    [values.sex]                  # source value -> contract code ("" = blank)
    Hombre = "M"

A column is made from one source ``column`` (with optional ``values``,
``date_format``, ``decimal``, ``separator``, ``multiply``), a ``constant``, the
``year_of`` a date, a quotient ``divide = [numerator, denominator]``, or, for list
columns, ``checkboxes = { code = "source column" }`` (ticked = 1, yes, true, x,
checked, sí).

:func:`parse_mapping` checks the file itself (keys, tables, columns, codes);
:func:`check_against_sources` checks it against the sources' headers. Both return
every problem at once.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path

from ivigbook.data.problems import Problem
from ivigbook.data.schema import MEASURES, TABLES

FORMAT = 1
PATIENT_ID_METHODS = ("copy", "sequence", "hash")
#: Checkbox cells that mean "ticked" (compared case-insensitively).
TICKED = ("1", "yes", "y", "true", "x", "checked", "sí", "si", "oui", "ja")
_FIELD_KEYS = {
    "column",
    "constant",
    "values",
    "date_format",
    "decimal",
    "separator",
    "multiply",
    "divide",
    "year_of",
    "checkboxes",
}


@dataclass(frozen=True)
class Field:
    """How one contract column (or one measure) is made."""

    column: str | None = None
    constant: str | None = None
    values: dict[str, str] = field(default_factory=dict)
    date_format: str | None = None
    decimal: str | None = None
    separator: str | None = None
    multiply: float | None = None
    divide: tuple[str, str] | None = None
    year_of: str | None = None
    checkboxes: dict[str, str] = field(default_factory=dict)
    reported: frozenset = frozenset()  # source values whose value map is wrong (reported)

    @property
    def source_columns(self) -> list[str]:
        """The source columns this field reads."""
        cols = [self.column, self.year_of, *(self.divide or ()), *self.checkboxes.values()]
        return [c for c in cols if c]

    @property
    def label(self) -> str:
        """The source column(s) as shown in problems."""
        return "+".join(self.source_columns) or "(constant)"


@dataclass(frozen=True)
class Source:
    name: str
    file: str | None
    sheet: str | None
    patient: str
    link: tuple[str, str] | None = None  # (source, column holding this source's key)
    rows: tuple[str, tuple[str, ...]] | None = None  # keep rows whose column is one of


@dataclass(frozen=True)
class TableMap:
    table: str
    source: str
    fields: dict[str, Field]
    date: Field | None = None  # measurements: the visit date of the measures
    measures: dict[str, Field] = field(default_factory=dict)
    rows: tuple[str, tuple[str, ...]] | None = None


@dataclass(frozen=True)
class Mapping:
    sources: dict[str, Source]
    tables: dict[str, TableMap]
    identifiers: tuple[str, ...] = ()
    patient_id: str = "copy"
    date_format: str = "%Y-%m-%d"
    decimal: str = "."
    list_separator: str = ";"
    path: str = "mapping"
    kind: str = "mapping"  # or "redcap": the built-in mapping of the REDCap project

    def source_of(self, table: str) -> Source:
        return self.sources[self.tables[table].source]


class _Reader:
    """Reads a TOML document into a :class:`Mapping`, collecting problems by key path."""

    def __init__(self, display: str):
        self.display = display
        self.problems: list[Problem] = []

    def bad(self, where: str, rule: str, value=None) -> None:
        shown = None if value is None else str(value)
        self.problems.append(Problem(self.display, None, where, shown, rule))

    def table(self, doc, where: str) -> dict:
        if not isinstance(doc, dict):
            self.bad(where, "must be a table ([...] or { ... })", doc)
            return {}
        return doc

    def text(self, doc: dict, key: str, where: str, required: bool = False) -> str | None:
        if key not in doc:
            if required:
                self.bad(f"{where}.{key}", "required key missing")
            return None
        value = doc[key]
        if not isinstance(value, str | int | float) or isinstance(value, bool):
            self.bad(f"{where}.{key}", "must be text", value)
            return None
        return str(value)

    def unknown(self, doc: dict, allowed: set[str], where: str) -> None:
        for key in doc:
            if key not in allowed:
                self.bad(
                    f"{where}.{key}", "unknown key (allowed: " + ", ".join(sorted(allowed)) + ")"
                )

    def rows(self, doc: dict, where: str):
        if "rows" not in doc:
            return None
        spec = self.table(doc["rows"], f"{where}.rows")
        self.unknown(spec, {"column", "equals"}, f"{where}.rows")
        column = self.text(spec, "column", f"{where}.rows", required=True)
        equals = spec.get("equals")
        values = equals if isinstance(equals, list) else [equals]
        if equals is None or not all(isinstance(v, str | int) for v in values):
            self.bad(f"{where}.rows.equals", "give a value or a list of values", equals)
            return None
        return (column, tuple(str(v) for v in values)) if column else None

    def field(self, spec, where: str) -> Field | None:
        if isinstance(spec, str):
            return Field(column=spec)
        spec = self.table(spec, where)
        self.unknown(spec, _FIELD_KEYS, where)
        kinds = [k for k in ("column", "constant", "divide", "year_of", "checkboxes") if k in spec]
        if len(kinds) != 1:
            self.bad(where, "give exactly one of column, constant, divide, year_of, checkboxes")
            return None
        values = self.values(spec.get("values", {}), f"{where}.values")
        divide = spec.get("divide")
        if divide is not None and not (
            isinstance(divide, list)
            and len(divide) == 2
            and all(isinstance(c, str) for c in divide)
        ):
            self.bad(f"{where}.divide", "give two columns: [numerator, denominator]", divide)
            divide = None
        multiply = spec.get("multiply")
        if multiply is not None and (
            isinstance(multiply, bool) or not isinstance(multiply, int | float)
        ):
            self.bad(f"{where}.multiply", "must be a number", multiply)
            multiply = None
        boxes = self.table(spec.get("checkboxes", {}), f"{where}.checkboxes")
        return Field(
            column=self.text(spec, "column", where),
            constant=self.text(spec, "constant", where),
            values=values,
            date_format=self.text(spec, "date_format", where),
            decimal=self.text(spec, "decimal", where),
            separator=self.text(spec, "separator", where),
            multiply=None if multiply is None else float(multiply),
            divide=None if divide is None else (divide[0], divide[1]),
            year_of=self.text(spec, "year_of", where),
            checkboxes={str(k): str(v) for k, v in boxes.items()},
        )

    def values(self, doc, where: str) -> dict[str, str]:
        doc = self.table(doc, where)
        out = {}
        for k, v in doc.items():
            if isinstance(v, bool) or not isinstance(v, str | int | float):
                self.bad(f"{where}.{k}", "must map to a code (text)", v)
            else:
                out[str(k)] = str(v)
        return out


def parse_mapping(path: str | Path) -> tuple[Mapping | None, list[Problem]]:
    """The mapping in ``path`` and every problem of the file itself."""
    p = Path(path)
    display = p.name
    try:
        doc = tomllib.loads(p.read_text(encoding="utf-8"))
    except OSError as e:
        return None, [Problem(str(p), None, None, None, f"cannot read the mapping ({e.strerror})")]
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        return None, [Problem(display, None, None, None, f"not a valid TOML file ({e})")]
    return build_mapping(doc, display)


def build_mapping(doc: dict, display: str = "mapping") -> tuple[Mapping | None, list[Problem]]:
    """A :class:`Mapping` from a parsed TOML document, with every problem of it."""
    r = _Reader(display)
    r.unknown(doc, {"format", "defaults", "identifiers", "sources", "tables", "values"}, "")
    if doc.get("format", FORMAT) != FORMAT:
        r.bad("format", f"unknown mapping format (this version reads {FORMAT})", doc["format"])
    defaults = r.table(doc.get("defaults", {}), "defaults")
    r.unknown(defaults, {"date_format", "decimal", "list_separator"}, "defaults")
    ids = r.table(doc.get("identifiers", {}), "identifiers")
    r.unknown(ids, {"columns", "patient_id"}, "identifiers")
    identifiers = ids.get("columns", [])
    if not isinstance(identifiers, list) or not all(isinstance(c, str) for c in identifiers):
        r.bad("identifiers.columns", "give a list of column names", identifiers)
        identifiers = []
    method = r.text(ids, "patient_id", "identifiers") or "copy"
    if method not in PATIENT_ID_METHODS:
        r.bad("identifiers.patient_id", "not one of " + ", ".join(PATIENT_ID_METHODS), method)
    sources = {}
    for name, spec in r.table(doc.get("sources", {}), "sources").items():
        where = f"sources.{name}"
        spec = r.table(spec, where)
        r.unknown(spec, {"file", "sheet", "patient", "link", "rows"}, where)
        link = None
        if "link" in spec:
            lk = r.table(spec["link"], f"{where}.link")
            r.unknown(lk, {"source", "column"}, f"{where}.link")
            a, b = r.text(lk, "source", f"{where}.link", True), r.text(lk, "column", where, True)
            link = (a, b) if a and b else None
        sources[name] = Source(
            name,
            r.text(spec, "file", where),
            r.text(spec, "sheet", where),
            r.text(spec, "patient", where, required=True) or "",
            link,
            r.rows(spec, where),
        )
    if not sources:
        r.bad("sources", "no source defined: add a [sources.NAME] table")
    global_values = {}
    for column, vmap in r.table(doc.get("values", {}), "values").items():
        if not any(column in t.column_names for t in TABLES.values()):
            r.bad(f"values.{column}", "not a column of the contract")
        global_values[column] = r.values(vmap, f"values.{column}")
    tables = {}
    for name, spec in r.table(doc.get("tables", {}), "tables").items():
        where = f"tables.{name}"
        if name not in TABLES:
            r.bad(where, "not a table of the contract (" + ", ".join(TABLES) + ")")
            continue
        spec = r.table(spec, where)
        allowed = {"source", "columns", "rows"} | (
            {"date", "measures"} if name == "measurements" else set()
        )
        r.unknown(spec, allowed, where)
        source = r.text(spec, "source", where, required=True)
        if source and source not in sources:
            r.bad(f"{where}.source", "no such source (sources: " + ", ".join(sources) + ")", source)
        fields = {}
        for column, fspec in r.table(spec.get("columns", {}), f"{where}.columns").items():
            if column not in TABLES[name].column_names:
                r.bad(f"{where}.columns.{column}", f"not a column of {name}")
                continue
            if column == "patient_id":
                r.bad(f"{where}.columns.patient_id", "patient_id comes from the source's patient")
                continue
            f = r.field(fspec, f"{where}.columns.{column}")
            if f is not None:
                merged = {**global_values.get(column, {}), **f.values}
                fields[column] = replace(f, values=merged)
        date = measures = None
        if name == "measurements":
            date = r.field(spec["date"], f"{where}.date") if "date" in spec else None
            measures = {}
            for code, mspec in r.table(spec.get("measures", {}), f"{where}.measures").items():
                if code.upper() not in MEASURES:
                    r.bad(f"{where}.measures.{code}", "not a measure code (see the dictionary)")
                    continue
                f = r.field(mspec, f"{where}.measures.{code}")
                if f is not None:
                    measures[code.upper()] = f
            if measures and date is None:
                r.bad(f"{where}.date", "the measures need a visit date column")
        tables[name] = TableMap(
            name, source or "", fields, date, measures or {}, r.rows(spec, where)
        )
    for name in ("patients", "infusions", "measurements"):
        if name not in tables:
            r.bad(f"tables.{name}", "required table not mapped")
    mapping = Mapping(
        sources,
        tables,
        tuple(identifiers),
        method,
        r.text(defaults, "date_format", "defaults") or "%Y-%m-%d",
        r.text(defaults, "decimal", "defaults") or ".",
        r.text(defaults, "list_separator", "defaults") or ";",
        display,
    )
    r.problems += check_contract(mapping)
    return mapping, r.problems


def check_contract(m: Mapping) -> list[Problem]:
    """Required columns mapped, value maps into the vocabulary, identifiers not copied."""
    out = []

    def bad(where, rule, value=None):
        out.append(Problem(m.path, None, where, value, rule))

    for name, t in m.tables.items():
        contract = TABLES[name]
        made = set(t.fields) | {"patient_id"}
        if name == "measurements" and t.measures:
            made |= {"date", "measure", "value"}
        for col in contract.required_columns:
            if col not in made:
                bad(f"tables.{name}.columns.{col}", f"required column of {name} not mapped")
        for col, f in t.fields.items():
            spec = contract.column(col)
            where = f"tables.{name}.columns.{col}"
            if spec.kind in ("vocab", "vocab_list"):
                for src, code in f.values.items():
                    if code != "" and code.lower() not in {v.lower() for v in spec.vocab}:
                        bad(
                            f"{where}.values.{src}",
                            f"not a code of {col}: {', '.join(spec.vocab)}",
                            code,
                        )
                for code in f.checkboxes:
                    if code not in spec.vocab:
                        bad(f"{where}.checkboxes.{code}", f"not a code of {col}", code)
            if f.checkboxes and spec.kind != "vocab_list":
                bad(where, f"checkboxes make a list column; {col} is not one")
            for c in f.source_columns:
                if c in m.identifiers:
                    bad(where, "an identifier column never reaches the package", c)
    for s in m.sources.values():
        if s.patient in m.identifiers and s.link is None and m.patient_id == "copy":
            bad(
                f"sources.{s.name}.patient",
                "an identifier cannot be copied into patient_id: set identifiers.patient_id = "
                '"sequence" or "hash"',
                s.patient,
            )
        if s.link is not None and s.link[0] not in m.sources:
            bad(f"sources.{s.name}.link.source", "no such source", s.link[0])
    return out


def check_against_sources(m: Mapping, headers: dict[str, tuple[str, list[str]]]) -> list[Problem]:
    """Every source column the mapping names exists (``headers``: source -> display, names)."""
    out = []

    def need(source: str, column: str | None, where: str) -> None:
        if column is None or source not in headers:
            return
        display, names = headers[source]
        if column not in names:
            close = [n for n in names if n.lower() == column.lower()]
            hint = f" (did you mean {close[0]}?)" if close else ""
            out.append(Problem(m.path, None, where, column, f"no such column in {display}{hint}"))

    for s in m.sources.values():
        need(s.name, s.patient, f"sources.{s.name}.patient")
        if s.rows:
            need(s.name, s.rows[0], f"sources.{s.name}.rows")
        if s.link and s.link[0] in m.sources:
            need(s.link[0], s.link[1], f"sources.{s.name}.link.column")
    for name, t in m.tables.items():
        if t.rows:
            need(t.source, t.rows[0], f"tables.{name}.rows")
        parts = [(f"columns.{c}", f) for c, f in t.fields.items()]
        parts += [(f"measures.{c}", f) for c, f in t.measures.items()]
        parts += [("date", t.date)] if t.date else []
        for where, f in parts:
            for c in f.source_columns:
                need(t.source, c, f"tables.{name}.{where}")
    return out


def usable_part(m: Mapping, headers: dict[str, tuple[str, list[str]]]) -> Mapping:
    """The part of ``m`` that can run on these sources (the rest is already reported), so
    that one report also lists the problems of the data."""

    def ok(source: str, cols) -> bool:
        return source in headers and all(c in headers[source][1] for c in cols if c)

    sources = {}
    for name, s in m.sources.items():
        if not ok(name, [s.patient, s.rows[0] if s.rows else None]):
            continue
        if s.link and not (
            s.link[0] in m.sources and ok(s.link[0], [s.link[1], m.sources[s.link[0]].patient])
        ):
            continue
        sources[name] = s
    tables = {}
    for name, t in m.tables.items():
        if t.source not in sources or not ok(t.source, [t.rows[0] if t.rows else None]):
            continue
        contract = TABLES[name]
        fields = {}
        for col, f in t.fields.items():
            if not ok(t.source, f.source_columns):
                continue
            vocab = {v.lower() for v in contract.column(col).vocab}
            if vocab:  # a target outside the vocabulary is reported: its cells left blank
                bad = {k for k, v in f.values.items() if v != "" and v.lower() not in vocab}
                f = replace(
                    f,
                    values={k: "" if k in bad else v for k, v in f.values.items()},
                    reported=frozenset(bad),
                )
            fields[col] = f
        measures = {c: f for c, f in t.measures.items() if ok(t.source, f.source_columns)}
        date = t.date if t.date and ok(t.source, t.date.source_columns) else None
        tables[name] = replace(t, fields=fields, measures=measures if date else {}, date=date)
    return replace(m, sources=sources, tables=tables)
