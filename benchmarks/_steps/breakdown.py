"""``breakdown``: ``compute_cached`` function by function (each stopped after ``--budget``
seconds): where the analysis time goes."""

from __future__ import annotations

import signal
import time

from ivigbook.chapters import compute as analysis
from ivigbook.chapters import (
    describe,
    historical,
    imputation,
    longitudinal,
    maic,
    organ,
    outcomes,
    safety,
    sensitivity,
    skin,
)
from ivigbook.derive.context import load_context

from . import COMPARATORS, PARAMS, timed


class _Budget(Exception):
    pass


def run(a) -> dict:
    """``compute_cached`` call by call: every chapter function timed, each stopped after
    ``--budget`` seconds (SIGALRM; its results are then missing, the others still run)."""
    calls: list[dict] = []

    def on_alarm(signum, frame):
        raise _Budget()

    signal.signal(signal.SIGALRM, on_alarm)

    def wrap(owner, attr, label):
        real = getattr(owner, attr)

        def timed_call(*args, **kwargs):
            t0 = time.perf_counter()
            signal.alarm(int(a.budget))
            try:
                value, status = real(*args, **kwargs), "ok"
            except _Budget:
                value, status = None, f"stopped after {a.budget} s"
            finally:
                signal.alarm(0)
            calls.append({"name": label, "seconds": time.perf_counter() - t0, "status": status})
            return value

        setattr(owner, attr, timed_call)

    for mod in (
        describe,
        skin,
        organ,
        safety,
        historical,
        maic,
        sensitivity,
        longitudinal,
        imputation,
    ):
        for attr in (
            "flow",
            "table1",
            "centres",
            "table2",
            "population",
            "responders",
            "regressions",
            "physician",
            "tfr_resolution",
            "mrss_model",
            "mrss_change",
            "pulmonary",
            "medsger",
            "myositis",
            "ck_course",
            "gastrointestinal",
            "aet02",
            "record_stop_reasons",
            "change_comparisons",
            "compare",
            "by_window",
            "window_comparison",
        ):
            if attr in vars(mod) and callable(vars(mod)[attr]):
                wrap(mod, attr, f"{mod.__name__.split('.')[-1]}.{attr}")
    wrap(outcomes, "course_table", "outcomes.course_table")
    t0 = time.perf_counter()
    ctx = load_context(a.data, PARAMS, a.cache)
    load = time.perf_counter() - t0
    _, sec, cpu = timed(
        lambda: analysis.chapter_results(ctx, historical.load_comparators(COMPARATORS))
    )
    merged: dict[str, dict] = {}
    for c in calls:
        m = merged.setdefault(
            c["name"], {"name": c["name"], "seconds": 0.0, "calls": 0, "status": "ok"}
        )
        m["seconds"] += c["seconds"]
        m["calls"] += 1
        if c["status"] != "ok":
            m["status"] = c["status"]
    return {
        "seconds": sec,
        "cpu_seconds": cpu,
        "load_context_seconds": load,
        "calls": sorted(merged.values(), key=lambda c: -c["seconds"]),
    }
