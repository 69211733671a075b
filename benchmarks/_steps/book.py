"""``book``: ``ivigbook.book.reference.build_reference_book`` on a copy of the project
(``make book`` without touching committed files); per-notebook and Sphinx times from its
progress lines."""

from __future__ import annotations

import re
import time

from ivigbook.book.reference import build_reference_book

from . import timed

_DONE = re.compile(r"\[\d+/\d+\] (\S+) \.\.\. done in ([0-9.]+) s")
_BUILT = re.compile(r"book built in ([0-9.]+) s")
_COHORT = re.compile(r"^== (\S+):")
_PREFIX = re.compile(r"^(\S+): \[\d+/\d+\]")


def run(a) -> dict:
    """``make book`` on a copy of the project (``--data`` = the copy)."""
    events: list[tuple[float, str]] = []
    t0 = time.perf_counter()
    index, sec, cpu = timed(
        lambda: build_reference_book(
            jobs=a.jobs,
            root=a.data,
            progress=lambda line: events.append((time.perf_counter() - t0, line)),
        )
    )
    notebooks, cohort, sphinx = [], "", None
    for _at, line in events:
        if m := _COHORT.match(line):
            cohort = m.group(1)
        elif m := _DONE.search(line):
            prefix = _PREFIX.match(line)  # cohorts run side by side: "<cohort>: [i/n] ..."
            notebooks.append(
                {
                    "cohort": prefix.group(1) if prefix else cohort,
                    "notebook": m.group(1),
                    "seconds": float(m.group(2)),
                }
            )
        elif m := _BUILT.search(line):
            sphinx = float(m.group(1))
    return {
        "seconds": sec,
        "cpu_seconds": cpu,
        "notebooks": notebooks,
        "sphinx_seconds": sphinx,
        "index": str(index),
    }
