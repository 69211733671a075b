"""Problems found in a cohort package: each as ``file:row:column: value - rule``, the
report that lists them (at most ``MAX_LISTED`` per file, column and rule; all counted),
and the error that carries the report.
"""

from __future__ import annotations

from dataclasses import dataclass, field

#: Problems listed per (file, column, rule); the rest are counted.
MAX_LISTED = 50


# ---------------------------------------------------------------- problems and reports
@dataclass(frozen=True)
class Problem:
    """One problem of a package; ``str()`` gives ``file:row:column: value - rule``."""

    file: str
    row: int | None
    column: str | None
    value: str | None
    rule: str
    severity: str = "error"  # "error" or "warning"

    def __str__(self) -> str:
        head = f"{self.file}:{'-' if self.row is None else self.row}:{self.column or '-'}:"
        rule = self.rule if self.severity == "error" else f"warning: {self.rule}"
        if self.value is None:
            return f"{head} - {rule}"
        return f"{head} {_show(self.value)} - {rule}"


def _show(value: str, width: int = 60) -> str:
    """A cell as text: quoted when empty, padded or multi-line; long values cut."""
    text = value if len(value) <= width else value[: width - 1] + "…"
    if text == "" or text != text.strip() or not text.isprintable():
        return '"' + text.encode("unicode_escape").decode("ascii").replace('"', '\\"') + '"'
    return text


@dataclass
class Report:
    """All problems of a package; ``omitted`` counts the problems not listed."""

    problems: list[Problem] = field(default_factory=list)
    omitted: dict[tuple[str, str | None, str, str], int] = field(default_factory=dict)

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "warning"]

    def _count(self, severity: str) -> int:
        listed = sum(p.severity == severity for p in self.problems)
        return listed + sum(n for k, n in self.omitted.items() if k[3] == severity)

    @property
    def n_errors(self) -> int:
        """Errors, listed or not."""
        return self._count("error")

    @property
    def n_warnings(self) -> int:
        """Warnings, listed or not."""
        return self._count("warning")

    @property
    def ok(self) -> bool:
        return self.n_errors == 0

    def summary(self) -> str:
        """``2 errors, 1 warning``."""
        e, w = self.n_errors, self.n_warnings
        return f"{e} error{'s' * (e != 1)}, {w} warning{'s' * (w != 1)}"

    def format(self) -> str:
        """One line per problem, grouped by file in reading order, then the summary."""
        files = list(dict.fromkeys([p.file for p in self.problems] + [k[0] for k in self.omitted]))
        lines = []
        for f in files:
            mine = [p for p in self.problems if p.file == f]
            lines += [str(p) for p in sorted(mine, key=lambda p: -1 if p.row is None else p.row)]
            lines += [
                f"{f}:*:{col or '-'}: ... - {n} more not listed: "
                + (rule if sev == "error" else f"warning: {rule}")
                for (ff, col, rule, sev), n in self.omitted.items()
                if ff == f
            ]
        return "\n".join(lines + [self.summary()])

    __str__ = format


class DataError(Exception):
    """The package has errors; ``report`` holds them all."""

    def __init__(self, report: Report, source: str = ""):
        self.report = report
        self.source = source
        where = f"{source}: " if source else ""
        super().__init__(f"{where}the cohort package has {report.summary()}")
