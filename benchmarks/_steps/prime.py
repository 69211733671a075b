"""``prime``: typed cohort + derived tables into the cache (not reported)."""

from __future__ import annotations

from ivigbook.derive.context import load_context

from . import PARAMS, timed


def run(a) -> dict:
    _, sec, cpu = timed(lambda: load_context(a.data, PARAMS, a.cache))
    return {"seconds": sec, "cpu_seconds": cpu}
