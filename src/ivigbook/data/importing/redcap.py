"""A REDCap project for the contract, and the mapping of its exports.

:func:`dictionary_rows` is the REDCap data dictionary (the CSV of "Data Dictionary"
upload, columns "Variable / Field Name" to "Field Annotation"), generated from
:mod:`ivigbook.data.schema`: instrument ``patient`` (not repeating) and the
repeating instruments ``ivig_cycle``, ``measurement_visit`` (one field per measure),
``medication`` and ``adverse_event``. Choices are coded with the contract's codes,
so a raw export needs no value map; a label export is read through the labels.

:func:`mapping_for_export` recognises an export of that project (raw or label
headers, with or without events, with ``redcap_repeat_instrument``) and returns the
:class:`~.mapping.Mapping` that reads it.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, replace
from pathlib import Path

from ivigbook.data.importing.mapping import Field, Mapping, Source, TableMap
from ivigbook.data.importing.sources import SourceTable, read_source
from ivigbook.data.problems import Problem
from ivigbook.data.schema import AE_TERMS, LABELS, MEASURES, TABLES, Column

DICTIONARY_COLUMNS = (
    "Variable / Field Name",
    "Form Name",
    "Section Header",
    "Field Type",
    "Field Label",
    "Choices, Calculations, OR Slider Labels",
    "Field Note",
    "Text Validation Type OR Show Slider Number",
    "Text Validation Min",
    "Text Validation Max",
    "Identifier?",
    "Branching Logic (Show field only if...)",
    "Required Field?",
    "Custom Alignment",
    "Question Number (surveys only)",
    "Matrix Group Name",
    "Matrix Ranking?",
    "Field Annotation",
)
DICTIONARY_FILE = "ivigbook_redcap_data_dictionary.csv"
REPEATING_FILE = "ivigbook_redcap_repeating_instruments.csv"


@dataclass(frozen=True)
class Form:
    name: str
    label: str
    table: str
    prefix: str
    repeating: bool
    section: str = ""  # the section header of its first field


FORMS = (
    Form("patient", "Patient", "patients", "", False, "One record per patient"),
    Form("ivig_cycle", "IVIG cycle", "infusions", "cycle_", True, "One instance per IVIG cycle"),
    Form(
        "measurement_visit",
        "Measurement visit",
        "measurements",
        "visit_",
        True,
        "One instance per visit: its date and every measure taken that day",
    ),
    Form("medication", "Medication", "medications", "med_", True, "One instance per drug course"),
    Form("adverse_event", "Adverse event", "adverse_events", "ae_", True, "One instance per event"),
)
RECORD_ID = "record_id"
RECORD_LABEL = "Patient ID (pseudonymous)"
OTHER_TERM = "other_term"
UNEXPORTED_TERM = "other (free text not exported)"
STATUS_LABEL = "Complete?"
_CHOICE_LABELS = {"pos": "Positive", "neg": "Negative", "yes": "Yes", "no": "No"}
#: REDCap's own export columns: raw header -> label header.
REDCAP_COLUMNS = {
    "redcap_event_name": "Event Name",
    "redcap_repeat_instrument": "Repeat Instrument",
    "redcap_repeat_instance": "Repeat Instance",
    "redcap_data_access_group": "Data Access Group",
}


def choice_label(code: str) -> str:
    return _CHOICE_LABELS.get(code, LABELS.get(code, code.replace("_", " ").capitalize()))


def _choices(codes) -> str:
    return " | ".join(f"{c}, {choice_label(c)}" for c in codes)


def _label(text: str) -> str:
    """A field label from a contract description (its first clause)."""
    return text.split(" (")[0].split(":")[0].strip()


@dataclass(frozen=True)
class RedcapField:
    """A field of the project and the contract column (or measure) it fills."""

    name: str
    form: Form
    column: str  # contract column
    measure: str | None = None
    label: str = ""


def fields() -> list[RedcapField]:
    """Every field of the project, in dictionary order."""
    out = []
    for form in FORMS:
        table = TABLES[form.table]
        for col in table.columns:
            if col.name == "patient_id":
                if form.name == "patient":
                    out.append(RedcapField(RECORD_ID, form, "patient_id", label=RECORD_LABEL))
                continue
            if form.table == "measurements" and col.name in ("measure", "value"):
                continue
            label = _label(col.description)
            if col.unit and col.unit != "year":
                label += f" ({col.unit})"
            if form.prefix:
                label = f"{form.label}: {label[0].lower()}{label[1:]}"
            out.append(RedcapField(form.prefix + col.name, form, col.name, label=label))
            if form.table == "measurements":
                out += [
                    RedcapField(m.code.lower(), form, "value", m.code, f"{m.label} ({m.unit})")
                    for m in MEASURES.values()
                ]
            if form.table == "adverse_events" and col.name == "term":
                out.append(RedcapField("ae_term_other", form, "term", label="Other term (specify)"))
    return out


def _row(f: RedcapField, section: str) -> dict:
    row = dict.fromkeys(DICTIONARY_COLUMNS, "")
    row |= {
        "Variable / Field Name": f.name,
        "Form Name": f.form.name,
        "Section Header": section,
        "Field Label": f.label,
        "Field Annotation": f"ivigbook: {f.form.table}."
        + (f"value where measure = {f.measure}" if f.measure else f.column),
    }
    if f.name == RECORD_ID:
        row |= {"Field Type": "text", "Field Note": "Never a name or a medical record number"}
        return row
    if f.measure:
        m = MEASURES[f.measure]
        return row | {
            "Field Type": "text",
            "Field Note": m.description,
            "Text Validation Type OR Show Slider Number": "integer" if m.integer else "number",
            "Text Validation Min": f"{m.lo:g}",
            "Text Validation Max": f"{m.hi:g}",
        }
    if f.name == "ae_term_other":
        return row | {
            "Field Type": "text",
            "Field Note": "Free text: counted as Other, never shown in the book",
            "Identifier?": "y",
            "Branching Logic (Show field only if...)": f"[ae_term] = '{OTHER_TERM}'",
            "Required Field?": "y",
        }
    col: Column = TABLES[f.form.table].column(f.column)
    note = col.description.replace(" (`;`-separated list)", "")
    row["Field Note"] = "" if note == f.label else note
    row["Required Field?"] = "y" if col.required and not col.nullable else ""
    if f.column == "term":
        codes = {**AE_TERMS, OTHER_TERM: "Other (specify)"}
        return row | {
            "Field Type": "dropdown",
            "Choices, Calculations, OR Slider Labels": " | ".join(
                f"{k}, {v}" for k, v in codes.items()
            ),
        }
    if col.kind in ("vocab", "vocab_list"):
        kind = "checkbox" if col.kind == "vocab_list" else "dropdown"
        if col.kind == "vocab" and len(col.vocab) <= 5:
            kind = "radio"
        return row | {
            "Field Type": kind,
            "Choices, Calculations, OR Slider Labels": _choices(col.vocab),
        }
    if col.kind == "date":
        return row | {
            "Field Type": "text",
            "Text Validation Type OR Show Slider Number": "date_ymd",
        }
    if col.kind in ("int", "float"):
        return row | {
            "Field Type": "text",
            "Text Validation Type OR Show Slider Number": "integer"
            if col.kind == "int"
            else "number",
            "Text Validation Min": f"{col.lo:g}",
            "Text Validation Max": f"{col.hi:g}",
        }
    if col.free_text:
        return row | {"Field Type": "notes", "Identifier?": "y"}
    return row | {"Field Type": "text"}


def dictionary_rows() -> list[dict]:
    """The data dictionary, one dict per field (keys: :data:`DICTIONARY_COLUMNS`)."""
    rows, seen = [], set()
    for f in fields():
        section = ""
        if f.form.name not in seen:
            seen.add(f.form.name)
            section = f.form.section
        rows.append(_row(f, section))
    return rows


def _csv(rows: list[list[str]]) -> str:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows(rows)
    return buf.getvalue()


def write_project(directory: str | Path) -> list[Path]:
    """Write the data dictionary and the repeating-instruments file into ``directory``."""
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    rows = dictionary_rows()
    dictionary = d / DICTIONARY_FILE
    dictionary.write_text(
        _csv([list(DICTIONARY_COLUMNS)] + [list(r.values()) for r in rows]), encoding="utf-8"
    )
    repeating = d / REPEATING_FILE
    repeating.write_text(
        _csv([["form_name", "custom_form_label"]] + [[f.name, ""] for f in FORMS if f.repeating]),
        encoding="utf-8",
    )
    return [dictionary, repeating]


# ---------------------------------------------------------------- reading exports
def checkbox_columns(f: RedcapField) -> dict[str, str]:
    col = TABLES[f.form.table].column(f.column)
    return {code: f"{f.name}___{code}" for code in col.vocab}


def label_headers() -> dict[str, str]:
    """Label-export header -> raw header, for every column of an export of the project."""
    out = {v: k for k, v in REDCAP_COLUMNS.items()}
    for f in fields():
        col = None if f.measure or f.name == RECORD_ID else TABLES[f.form.table].column(f.column)
        if col is not None and col.kind == "vocab_list":
            for code, name in checkbox_columns(f).items():
                out[f"{f.label} (choice={choice_label(code)})"] = name
        else:
            out[f.label] = f.name
    return out


def _value_labels(col: Column) -> dict[str, str]:
    return {choice_label(c): c for c in col.vocab}


def build_mapping(file: str | None, repeating: bool) -> Mapping:
    """The mapping of an export of the project (raw headers, after :func:`normalise`)."""
    tables = {}
    for form in FORMS:
        mine = [f for f in fields() if f.form is form and f.name != RECORD_ID]
        rows = None
        if repeating:
            rows = ("redcap_repeat_instrument", ("",) + ((form.name,) if form.repeating else ()))
        columns, measures, date = {}, {}, None
        for f in mine:
            if f.measure:
                measures[f.measure] = Field(column=f.name)
                continue
            if f.name == "ae_term_other":
                continue
            col = TABLES[form.table].column(f.column)
            if form.table == "measurements" and f.column == "date":
                date = Field(column=f.name)
            elif col.kind == "vocab_list":
                columns[f.column] = Field(checkboxes=checkbox_columns(f))
            elif col.kind == "vocab":
                columns[f.column] = Field(column=f.name, values=_value_labels(col))
            elif f.column == "term":
                columns[f.column] = Field(column=f.name, values={v: k for k, v in AE_TERMS.items()})
            else:
                columns[f.column] = Field(column=f.name)
        tables[form.table] = TableMap(form.table, "export", columns, date, measures, rows)
    source = Source("export", file, None, RECORD_ID)
    return Mapping({"export": source}, tables, path="REDCap project of ivigbook", kind="redcap")


def normalise(table: SourceTable) -> SourceTable:
    """Raw headers and form names for a label export; the "other" term filled in."""
    frame = table.frame.rename(columns=label_headers())
    if "redcap_repeat_instrument" in frame:
        names = {f.label: f.name for f in FORMS}
        frame["redcap_repeat_instrument"] = (
            frame["redcap_repeat_instrument"].str.strip().map(lambda v: names.get(v, v))
        )
    if "ae_term" in frame:
        other = frame["ae_term"].str.strip().isin([OTHER_TERM, "Other (specify)"])
        if "ae_term_other" in frame:  # blank: the event has no term (an error later)
            frame.loc[other, "ae_term"] = frame.loc[other, "ae_term_other"]
        else:  # a de-identified export: a free-text term, counted as "other"
            frame.loc[other, "ae_term"] = UNEXPORTED_TERM
    return SourceTable(table.display, frame, table.rows)


def status_header(problem: Problem) -> bool:
    """A label export repeats "Complete?", the header of every form's status column."""
    return problem.column == STATUS_LABEL and problem.rule.startswith("repeated column header")


def read_export(
    source: Path,
) -> tuple[Mapping | None, str, SourceTable | None, list[Problem]]:
    """A REDCap export of the project: the mapping that reads it, its kind, the export
    (raw headers, after :func:`normalise`) and what to say about it: problems of reading,
    fields of the project it lacks (an error when required, else a warning: a
    de-identified export leaves free text out), and the rows and fields it has beyond the
    project (ignored, with a warning)."""
    if source.is_dir():
        files = sorted(p for p in source.iterdir() if p.suffix.lower() == ".csv")
        if len(files) != 1:
            return None, "", None, [_not_redcap(source, "give the export's CSV file")]
        source = files[0]
    if source.suffix.lower() != ".csv":
        return None, "", None, [_not_redcap(source, "a REDCap export is a CSV file")]
    table, problems = read_source(source)
    if table is None:
        return None, "", None, problems
    headers = set(table.frame.columns)
    if RECORD_ID in headers:
        kind = "REDCap export (raw headers)"
    elif RECORD_LABEL in headers:
        kind = "REDCap export (label headers)"
    else:
        return None, "", None, [_not_redcap(source, f"no {RECORD_ID} column")]
    table = normalise(table)
    columns = set(table.frame.columns)
    repeating = "redcap_repeat_instrument" in columns
    mapping = build_mapping(source.name, repeating)
    problems = [p for p in problems if not status_header(p)] + _export_notes(table, mapping)
    return _present_part(mapping, columns), kind, table, problems


def _needed(mapping: Mapping) -> dict[str, tuple[str, bool]]:
    """Source column -> (contract table.column, required) of every field of the mapping."""
    out = {}
    for name, t in mapping.tables.items():
        parts = [(c, f) for c, f in t.fields.items()] + [("value", f) for f in t.measures.values()]
        parts += [("date", t.date)] if t.date else []
        for column, f in parts:
            required = TABLES[name].column(column).required
            for c in f.source_columns:
                out[c] = (f"{name}.{column}", required)
    return out


def _present_part(mapping: Mapping, columns: set[str]) -> Mapping:
    """The mapping without the fields the export does not have."""
    tables = {}
    for name, t in mapping.tables.items():
        keep = {c: f for c, f in t.fields.items() if all(s in columns for s in f.source_columns)}
        measures = {c: f for c, f in t.measures.items() if f.column in columns}
        date = t.date if t.date and t.date.column in columns else None
        tables[name] = replace(t, fields=keep, measures=measures if date else {}, date=date)
    return replace(mapping, tables=tables)


def _export_notes(table: SourceTable, mapping: Mapping) -> list[Problem]:
    display, frame = table.display, table.frame
    needed = _needed(mapping)
    notes = []
    missing = [c for c in needed if c not in frame.columns]
    required = [c for c in missing if needed[c][1]]
    for c in required:
        notes.append(
            Problem(display, 1, c, None, f"required field of the project missing ({needed[c][0]})")
        )
    optional = [c for c in missing if not needed[c][1]]
    if "ae_term" in frame and "ae_term_other" not in frame:
        optional.append("ae_term_other")
    if optional:
        notes.append(
            Problem(
                display,
                1,
                None,
                None,
                "fields of the project not in the export, read as not recorded: "
                + ", ".join(optional),
                "warning",
            )
        )
    own = set(needed) | {RECORD_ID, "ae_term_other"} | set(REDCAP_COLUMNS)
    extra = [
        c
        for c in frame.columns
        if c not in own
        and not c.endswith("_complete")
        and not c.startswith(STATUS_LABEL)
        and not c.startswith("redcap_")
    ]
    if extra:
        notes.append(
            Problem(
                display,
                1,
                None,
                None,
                "fields outside the ivigbook project, ignored: " + ", ".join(extra),
                "warning",
            )
        )
    if "redcap_repeat_instrument" in frame:
        instrument = frame["redcap_repeat_instrument"].str.strip()
        forms = {f.name for f in FORMS}
        for name in dict.fromkeys(instrument[(instrument != "") & ~instrument.isin(forms)]):
            rows = table.rows[(instrument == name).to_numpy()]
            notes.append(
                Problem(
                    display,
                    int(rows[0]),
                    "redcap_repeat_instrument",
                    name,
                    "rows of an instrument outside the ivigbook project, ignored",
                    "warning",
                    len(rows),
                    rows,
                )
            )
    return notes


def in_export_terms(problems: list[Problem], labels: bool) -> list[Problem]:
    """Problems as a REDCap user reads them: label headers in a label export, and a
    record without its patient form said so."""
    to_label = {raw: label for label, raw in label_headers().items()} if labels else {}
    out = []
    for p in problems:
        column = to_label.get(p.column, p.column) if p.column else p.column
        rule = p.rule
        if rule.startswith("patient_id not in patients.csv"):
            rule = "this record has no patient form (sex, year of birth, subtype are needed)"
        out.append(replace(p, column=column, rule=rule))
    return out


def _not_redcap(source: Path, why: str) -> Problem:
    return Problem(
        str(source),
        None,
        None,
        None,
        f"not a REDCap export of the ivigbook project ({why}): build the project from "
        "`ivigbook template DIR --redcap`, or describe your export with --mapping MAP.toml "
        "(`ivigbook template DIR --mapping` writes a starter)",
    )
