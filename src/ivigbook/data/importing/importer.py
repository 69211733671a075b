"""``ivigbook import SOURCE --out PKG``: convert, validate, then write PKG atomically.

SOURCE is a REDCap export of the project written by ``ivigbook template --redcap``
(read with no mapping), or any export described by a mapping file. The package is
built in a private folder beside PKG, validated there, and moved into place only
when it has no error; problems found in the package are reported at the source
file, row and column they came from. An existing PKG is replaced only when it is
empty or was written by ``ivigbook import`` (it holds :data:`MARK`).
"""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

from ivigbook import __version__
from ivigbook.data.importing import redcap
from ivigbook.data.importing.convert import HIDDEN, Converted, convert
from ivigbook.data.importing.mapping import (
    Mapping,
    check_against_sources,
    parse_mapping,
    usable_part,
)
from ivigbook.data.importing.pseudonym import PseudonymError, pseudonyms, write_link_table
from ivigbook.data.importing.sources import SourceTable, read_source
from ivigbook.data.io import RawPackage, read_package
from ivigbook.data.problems import DataError, Problem, Report
from ivigbook.data.schema import REQUIRED_TABLES, TABLES
from ivigbook.data.validate import validate_package
from ivigbook.system.replace import remove_entry, replace_entry
from ivigbook.system.scratch import make_marked, staging_path, sweep, unmark

#: The file that marks a package written by ``ivigbook import`` (no patient data).
MARK = ".ivigbook-import.json"


class ImportUsageError(Exception):
    """The import cannot start (PKG not ours, ids table inside PKG ...): exit 2."""


@dataclass
class Imported:
    package: Path
    report: Report  # warnings (no errors)
    rows: dict[str, int] = field(default_factory=dict)
    kind: str = ""  # "REDCap export (raw headers)", "export read through map.toml" ...
    link_table: Path | None = None


def _check_out(out: Path) -> None:
    if out.exists() and not out.is_dir():
        raise ImportUsageError(f"{out} exists and is not a folder")
    if not out.is_dir():
        return
    ours = {MARK} | {t.file for t in TABLES.values()}
    if any(out.iterdir()) and not (out / MARK).exists():
        names = ", ".join(sorted(p.name for p in out.iterdir())[:5])
        raise ImportUsageError(
            f"{out} is not empty and was not written by ivigbook import ({names}): "
            "choose a new or empty folder"
        )
    foreign = sorted(p.name for p in out.iterdir() if p.name not in ours)
    if foreign:
        raise ImportUsageError(
            f"{out} holds files that ivigbook import did not write ({', '.join(foreign[:5])}): "
            "move them elsewhere, or choose a new folder; nothing was replaced"
        )


def _sources(source: Path, m: Mapping) -> tuple[dict[str, SourceTable], list[Problem]]:
    tables, problems = {}, []
    for s in m.sources.values():
        if source.is_dir():
            if s.file is None:
                problems.append(
                    Problem(m.path, None, f"sources.{s.name}.file", None, "give the file")
                )
                continue
            path = source / s.file
        else:
            path = source if s.file in (None, source.name) else source.parent / s.file
        table, found = read_source(path, s.sheet)
        problems += found
        if table is not None:
            tables[s.name] = table
    return tables, problems


def _write(frames: dict, folder: Path) -> None:
    for name in TABLES:
        if name in frames:
            frames[name].to_csv(folder / TABLES[name].file, index=False, lineterminator="\n")


def _traced(
    report: Report, conv: Converted, raw: RawPackage, keys: dict[str, str], dropped: set
) -> Report:
    """The package's problems, moved to the source file, row and column they came from
    (a ``patient_id`` shown as the source's own key, ``keys``: id -> key or hidden).
    Columns ``dropped`` from the mapping (already reported) are not reported again.
    Counts of problems not listed stay with the package's file names."""
    position = {  # table -> package line -> row of the converted table
        name: {line: i for i, line in enumerate(t.rows.tolist())} for name, t in raw.tables.items()
    }
    out = Report(
        omitted=dict(report.omitted),
        omitted_values=dict(report.omitted_values),
        unlisted=list(report.unlisted),
    )
    moved: dict[tuple, tuple] = {}
    for p in report.problems:
        table = next((t for t in TABLES.values() if t.file == p.file), None)
        if table is not None and (table.name, p.column) in dropped:
            continue
        if table is None or p.row is None or table.name not in conv.origin:
            out.problems.append(p)
            continue
        at_line = position[table.name]
        label = conv.columns[table.name].get(p.column or "", p.column or "")
        value = keys.get(p.value, p.value) if p.column == "patient_id" else p.value
        rule = f"{p.rule} [{table.name}.{p.column}]"
        for row in p.every_row():
            if row not in at_line:  # the header row
                out.problems.append(replace(p, count=1, rows=None, row=row))
                continue
            origin = conv.origin[table.name].iloc[at_line[row]]
            display, at = str(origin["display"]), int(origin["row"])
            if conv.reported(display, at, label):
                continue  # the conversion said it already (the cell was left blank)
            if table.name in conv.duplicated and p.column == "+".join(table.unique):
                continue
            out.problems.append(Problem(display, at, label, value, rule, p.severity))
            moved[(p.file, p.column, p.rule)] = (display, label, rule)
    out.hints = {moved.get(k, k): v for k, v in report.hints.items()}
    return out


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _in_users_terms(report: Report, kind: str) -> Report:
    """A REDCap user's report speaks of the export's own headers and forms."""
    if kind.startswith("REDCap"):
        report.problems = redcap.in_export_terms(report.problems, "label" in kind)
    return report


def _converted(source: Path, mapping: str | Path | None):
    """The mapping (its usable part), what kind of export, the converted tables, every
    problem so far and the contract columns left out of the mapping (already reported)."""
    if mapping is not None:
        m, problems = parse_mapping(mapping)
        kind = f"export read through {Path(mapping).name}"
        if m is not None:
            tables, found = _sources(source, m)
            problems += found
    else:
        m, kind, export, problems = redcap.read_export(source)
        tables = {name: export for name in (m.sources if m else ())}
    if m is None:
        raise DataError(Report(problems), str(mapping or source))
    headers = {k: (t.display, list(t.frame.columns)) for k, t in tables.items()}
    problems += check_against_sources(m, headers)
    usable = usable_part(m, headers)
    dropped = {
        (t, c)
        for t, tm in m.tables.items()
        for c in tm.fields
        if t not in usable.tables or c not in usable.tables[t].fields
    }
    conv = convert(usable, tables)
    problems += conv.problems
    if any(t not in conv.frames for t in REQUIRED_TABLES):
        report = Report(problems, conv.omitted, conv.omitted_values, hints=conv.hints)
        raise DataError(_in_users_terms(report, kind), str(source))
    return usable, kind, conv, problems, dropped


def import_export(
    source: str | Path,
    out: str | Path,
    mapping: str | Path | None = None,
    link_table: str | Path | None = None,
    env: dict | None = None,
    emit: Callable[[str], None] = lambda line: None,
) -> Imported:
    """Import ``source`` into the package folder ``out``; raise :class:`DataError` with
    every problem (nothing written) or :class:`ImportUsageError`. What an interrupted
    import left beside ``out`` is removed first, and said through ``emit``."""
    source, out = Path(source), Path(out)
    sweep([out.parent], emit)
    _check_out(out)
    if link_table is not None:
        target = Path(link_table).resolve()
        if target == out.resolve() or out.resolve() in target.parents:
            raise ImportUsageError("the identifier table may not be written inside the package")
    if not source.exists():
        raise ImportUsageError(f"{source}: no such file or folder")
    m, kind, conv, problems, dropped = _converted(source, mapping)
    keys = conv.key_order + [k for f in conv.frames.values() for k in f["patient_id"]]
    try:
        ids = pseudonyms(m.patient_id, keys, env)
    except PseudonymError as e:
        raise ImportUsageError(str(e)) from None
    for frame in conv.frames.values():
        frame["patient_id"] = frame["patient_id"].map(ids).fillna("")
    out.parent.mkdir(parents=True, exist_ok=True)
    work = staging_path(out, "import")  # a dead import's is removed by the next (sweep)
    remove_entry(work)
    make_marked(work, 0o700)
    try:
        _write(conv.frames, work)
        shown = {v: HIDDEN if m.patient_id != "copy" else k for k, v in ids.items()}
        raw = read_package(work)
        report = _traced(validate_package(raw), conv, raw, shown, dropped)
        report.problems = problems + report.problems
        report.hints |= conv.hints
        for k, v in conv.omitted.items():
            report.omitted[k] = report.omitted.get(k, 0) + v
        for k, v in conv.omitted_values.items():
            report.omitted_values[k] = report.omitted_values.get(k, 0) + v
        report = _in_users_terms(report, kind)
        if not report.ok:
            raise DataError(report, str(source))
        files = [source] if source.is_file() else [source / s.file for s in m.sources.values()]
        mark = {
            "written_by": f"ivigbook {__version__} import",
            "kind": kind,
            "sources": {f.name: _digest(f) for f in sorted(set(files))},
            "mapping": None if mapping is None else _digest(Path(mapping)),
            "rows": {k: len(v) for k, v in conv.frames.items()},
        }
        (work / MARK).write_text(json.dumps(mark, indent=2) + "\n", encoding="utf-8")
        work.chmod(0o755)
        unmark(work)
        replace_entry(work, out)  # an old PKG is removed only once the new one is there
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    written = None
    if link_table is not None and m.patient_id != "copy":
        written = write_link_table(link_table, ids, out)
    return Imported(out, report, mark["rows"], kind, written)
