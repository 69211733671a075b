"""``compute`` / ``compute_cached``: ``ivigbook.chapters.compute.compute_results`` from the CSVs
(validation, derivation and every chapter's results), without / with the primed cache."""

from __future__ import annotations

from ivigbook.chapters.compute import compute_results

from . import COMPARATORS, PARAMS, timed


def run(a) -> dict:
    cache = a.cache if a.step == "compute_cached" else None
    res, sec, cpu = timed(lambda: compute_results(a.data, PARAMS, COMPARATORS, cache))
    return {"seconds": sec, "cpu_seconds": cpu, "note": f"{len(res)} results"}
