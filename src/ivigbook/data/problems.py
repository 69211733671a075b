"""Problems found in a cohort package: each as ``file:row:column: value - rule``, the
report that lists them and the error that carries the report.

The printed report (:meth:`Report.format`) gives one line per (file, column, rule,
value): a problem met in several rows is one line naming the first row, with the count
and the first rows appended, ``patients.csv:2:sex: Hombre - not one of F, M (38 rows:
2, 3, 5, 8, 9, …)``. At most ``MAX_LISTED`` values are listed per (file, column, rule);
the others are counted on one line. Hints (usual causes of a rule's failures) follow
the lines they concern. :meth:`Report.write_full` writes every problem on its own line
to a file, for the person who fixes the export; it is only ever written when asked
(the full list names patients by their ids).

Every name and value a line shows passes through :func:`escape` (values through
``_show``): control characters, invisible format characters and lone surrogates are
written as escapes (``\\x1b``), so no message can move the cursor or recolour a terminal.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

#: Values (lines) listed per (file, column, rule); the rest are counted.
MAX_LISTED = 50
#: Rows named on the line of a repeated problem.
SHOWN_ROWS = 5

Key = tuple[str, "str | None", str, str]  # (file, column, rule, severity)

#: C0 and C1 controls, zero-width and bidirectional marks, line separators, BOM, surrogates.
_UNSAFE = re.compile(
    "[\x00-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff\ufff9-\ufffb\ud800-\udfff]"
)
_NAMED = {"\t": "\\t", "\n": "\\n", "\r": "\\r"}


def escape(text: str) -> str:
    """``text`` with unsafe characters written as escapes: ``\\x1b``, ``\\n``, ``\\u202e``."""
    return _UNSAFE.sub(_escaped, text)


def _escaped(m: re.Match) -> str:
    c = m.group()
    return _NAMED.get(c) or (f"\\x{ord(c):02x}" if ord(c) < 0x100 else f"\\u{ord(c):04x}")


# ---------------------------------------------------------------- problems
@dataclass(frozen=True)
class Problem:
    """One problem of a package; ``str()`` gives ``file:row:column: value - rule``.

    A problem met in ``count`` rows (same file, column, value and rule) is one Problem:
    ``row`` is the first of them, ``rows`` all of them (in reading order), and ``str()``
    appends ``(count rows: first rows, …)``.
    """

    file: str
    row: int | None
    column: str | None
    value: str | None
    rule: str
    severity: str = "error"  # "error" or "warning"
    count: int = 1
    rows: Sequence[int] | None = field(default=None, compare=False, repr=False)

    def __str__(self) -> str:
        text = _line(self.file, self.row, self.column, self.value, self.rule, self.severity)
        if self.count <= 1:
            return text
        if self.row is None:
            return f"{text} ({self.count} times)"
        rows = self.every_row()
        shown = ", ".join(str(int(r)) for r in rows[:SHOWN_ROWS])
        return f"{text} ({self.count} rows: {shown}{', …' if self.count > SHOWN_ROWS else ''})"

    def every_row(self) -> Sequence[int | None]:
        """The rows of every occurrence, in reading order."""
        if self.rows is None:
            return [self.row] * self.count
        return self.rows

    def key(self) -> tuple:
        """What makes two problems one line: file, column, value, rule and severity."""
        return (self.file, self.column, self.value, self.rule, self.severity)


def _line(
    file: str, row: int | None, column: str | None, value: str | None, rule: str, severity: str
) -> str:
    head = f"{escape(file)}:{'-' if row is None else row}:{_column(column)}:"
    return head + _tail(value, rule, severity)


def _column(column: str | None) -> str:
    return escape(column) if column else "-"


def _tail(value: str | None, rule: str, severity: str) -> str:
    """What follows ``column:`` in a problem line."""
    rule = escape(rule if severity == "error" else f"warning: {rule}")
    return f" - {rule}" if value is None else f" {_show(value)} - {rule}"


def _show(value: str, width: int = 60) -> str:
    """A cell as text: quoted when empty, padded or multi-line; long values cut."""
    text = value if len(value) <= width else value[: width - 1] + "…"
    if text == "" or text != text.strip() or not text.isprintable():
        return '"' + text.encode("unicode_escape").decode("ascii").replace('"', '\\"') + '"'
    return text


def _merged(problems: Sequence[Problem]) -> list[Problem]:
    """One Problem per (file, column, value, rule, severity), at its first occurrence."""
    groups: dict[tuple, list[Problem]] = {}
    for p in problems:
        groups.setdefault(p.key(), []).append(p)
    out = []
    for same in groups.values():
        if len(same) == 1:
            out.append(same[0])
            continue
        rows = [r for p in same for r in p.every_row()]
        if any(r is None for r in rows):
            first, every = None, None
        else:
            every = np.sort(np.asarray(rows, dtype=np.int64), kind="stable")
            first = int(every[0])
        p = same[0]
        n = sum(q.count for q in same)
        out.append(Problem(p.file, first, p.column, p.value, p.rule, p.severity, n, every))
    return out


def _row_key(p: Problem) -> int:
    return -1 if p.row is None else p.row


@dataclass(frozen=True, eq=False)
class Unlisted:
    """The problems of one (file, column, rule) beyond its ``MAX_LISTED`` listed values,
    kept for :meth:`Report.write_full`: row ``rows[i]`` holds ``values[codes[i]]``, and
    the rule of that row is ``rule`` or, with a ``note``, ``rule (note.format(details[codes[i]]))``.
    """

    file: str
    column: str | None
    rule: str
    severity: str
    rows: np.ndarray
    codes: np.ndarray
    values: Sequence[str | None]
    note: str | None = None
    details: Sequence | None = None

    def tails(self) -> list[str]:
        """What follows ``file:row`` on the line of each value (``:column: value - rule``)."""
        out = []
        for k, value in enumerate(self.values):
            rule = self.rule
            if self.note is not None and self.details is not None:
                rule = f"{rule} ({self.note.format(self.details[k])})"
            tail = _tail(None if value is None else str(value), rule, self.severity)
            out.append(f":{_column(self.column)}:{tail}")
        return out


# ---------------------------------------------------------------- reports
@dataclass
class Report:
    """All problems of a package.

    ``problems`` are the listed ones (one per line, a repeated problem carrying its
    count); ``omitted`` counts the problems not listed per (file, column, rule,
    severity), ``omitted_values`` how many distinct values they are, and ``unlisted``
    keeps them for the full list. ``hints`` are printed under the lines of their
    (file, column, rule).
    """

    problems: list[Problem] = field(default_factory=list)
    omitted: dict[Key, int] = field(default_factory=dict)
    omitted_values: dict[Key, int] = field(default_factory=dict)
    unlisted: list[Unlisted] = field(default_factory=list)
    hints: dict[tuple[str, str | None, str], str] = field(default_factory=dict)

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "warning"]

    def _count(self, severity: str) -> int:
        listed = sum(p.count for p in self.problems if p.severity == severity)
        return listed + sum(n for k, n in self.omitted.items() if k[3] == severity)

    @property
    def n_errors(self) -> int:
        """Errors (rows with an error), listed or not."""
        return self._count("error")

    @property
    def n_warnings(self) -> int:
        """Warnings, listed or not."""
        return self._count("warning")

    @property
    def ok(self) -> bool:
        return self.n_errors == 0

    @property
    def abbreviated(self) -> bool:
        """Does the printed report leave problems out (grouped on one line, or not listed)?"""
        return bool(self.omitted) or any(p.count > 1 for p in _merged(self.problems))

    def summary(self) -> str:
        """``2 errors, 1 warning``."""
        e, w = self.n_errors, self.n_warnings
        return f"{e} error{'s' * (e != 1)}, {w} warning{'s' * (w != 1)}"

    def format(self, full_list: str | None = None) -> str:
        """One line per (file, column, rule, value), grouped by file in reading order
        (by first row), the values not listed counted per (file, column, rule), each
        hint under the last line it concerns, then the summary.

        ``full_list`` names the option that writes the full list (``--report FILE``):
        when given and the report leaves problems out, a last line says how to get it.
        """
        merged = _merged(self.problems)
        files = list(dict.fromkeys([p.file for p in merged] + [k[0] for k in self.omitted]))
        lines, hinted = [], set()
        for f in files:
            block = [
                ((p.file, p.column, p.rule), str(p))
                for p in sorted((p for p in merged if p.file == f), key=_row_key)
            ]
            block += [
                ((ff, col, rule), self._omitted_line(ff, col, rule, sev, n))
                for (ff, col, rule, sev), n in self.omitted.items()
                if ff == f
            ]
            last = {key: i for i, (key, _) in enumerate(block)}
            for i, (key, text) in enumerate(block):
                lines.append(text)
                hint = self.hints.get(key)
                if hint and last[key] == i and hint not in hinted:
                    hinted.add(hint)
                    lines.append(f"  hint: {escape(hint)}")
        lines.append(self.summary())
        if full_list and self.abbreviated:
            lines.append(f"for the full list (one problem per line), add {full_list}")
        return "\n".join(lines)

    __str__ = format

    def _omitted_line(self, file: str, column: str | None, rule: str, sev: str, n: int) -> str:
        values = self.omitted_values.get((file, column, rule, sev))
        rule = escape(rule if sev == "error" else f"warning: {rule}")
        head = f"{escape(file)}:*:{_column(column)}: ..."
        if values is None:
            return f"{head} - {n} more not listed: {rule}"
        return (
            f"{head} - {values} more value{'s' * (values != 1)} "
            f"not listed ({n} row{'s' * (n != 1)}): {rule}"
        )

    def write_full(self, path: str | os.PathLike) -> int:
        """Write every problem, ungrouped, one per line (files in the report's order,
        rows in reading order), then the summary, to ``path``, created with mode 0600
        (it names patients). Returns the number of problem lines written.

        Problems only counted by the reader (``omitted`` without ``unlisted`` rows, e.g.
        ragged CSV rows beyond the first ``MAX_LISTED``) are written as their count line.
        """
        merged = _merged(self.problems)
        files = list(
            dict.fromkeys(
                [p.file for p in merged]
                + [u.file for u in self.unlisted]
                + [k[0] for k in self.omitted]
            )
        )
        kept = {(u.file, u.column, u.rule, u.severity) for u in self.unlisted}
        # per file: the row of every problem (-1: none), the index of its line's tail
        rows: dict[str, list[np.ndarray]] = {f: [] for f in files}
        which: dict[str, list[np.ndarray]] = {f: [] for f in files}
        tails: dict[str, list[str]] = {f: [] for f in files}
        for p in merged:
            every = (
                np.full(p.count, -1, dtype=np.int64)
                if p.row is None
                else np.asarray(p.every_row(), dtype=np.int64)
            )
            rows[p.file].append(every)
            which[p.file].append(np.full(len(every), len(tails[p.file]), dtype=np.int64))
            tails[p.file].append(f":{_column(p.column)}:{_tail(p.value, p.rule, p.severity)}")
        for u in self.unlisted:
            rows[u.file].append(np.asarray(u.rows, dtype=np.int64))
            which[u.file].append(np.asarray(u.codes, dtype=np.int64) + len(tails[u.file]))
            tails[u.file] += u.tails()
        path = Path(path)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        written = 0
        try:
            with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as out:
                os.fchmod(out.fileno(), 0o600)  # also when the file was already there
                for f in files:
                    name = escape(f)
                    at = np.concatenate(rows[f] or [np.zeros(0, dtype=np.int64)])
                    line = np.concatenate(which[f] or [np.zeros(0, dtype=np.int64)])
                    order = np.argsort(at, kind="stable")  # reading order, whole-file first
                    for start in range(0, len(order), 100_000):
                        chunk = order[start : start + 100_000]
                        out.write(
                            "".join(
                                f"{name}:{'-' if r < 0 else r}{tails[f][k]}\n"
                                for r, k in zip(at[chunk].tolist(), line[chunk].tolist())
                            )
                        )
                    written += len(order)
                    for (ff, col, rule, sev), n in self.omitted.items():
                        if ff == f and (ff, col, rule, sev) not in kept:
                            out.write(self._omitted_line(ff, col, rule, sev, n) + "\n")
                out.write(self.summary() + "\n")
        except BaseException:
            path.unlink(missing_ok=True)  # no partial list of patient ids left behind
            raise
        return written


class DataError(Exception):
    """The package has errors; ``report`` holds them all."""

    def __init__(self, report: Report, source: str = ""):
        self.report = report
        self.source = source
        where = f"{escape(source)}: " if source else ""
        super().__init__(f"{where}the cohort package has {report.summary()}")
