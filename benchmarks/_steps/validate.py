"""``validate``: ``ivigbook.data.validate.load_cohort``."""

from __future__ import annotations

from ivigbook.data.validate import load_cohort

from . import timed


def run(a) -> dict:
    cohort, sec, cpu = timed(lambda: load_cohort(a.data))
    return {
        "seconds": sec,
        "cpu_seconds": cpu,
        "note": f"{len(cohort.patients)} patients, {len(cohort.measurements)} measurements",
    }
