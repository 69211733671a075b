"""The measured steps of ``benchmarks/_step.py``, one module per step.

Each module has its ``ivigbook`` imports at its top, one ``from ivigbook.X import Y``
per line, and a ``run(args) -> dict``. ``_step.py`` imports only the module of the
step it runs, so a step's process imports what that step needs and nothing more (its
peak RSS stays its own). This package itself imports nothing from ``ivigbook``.
"""

from __future__ import annotations

import resource
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
COMPARATORS = ROOT / "data" / "reference" / "historical_controls.csv"
PARAMS = "{}"


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux: KiB


def timed(fn):
    t0, c0 = time.perf_counter(), time.process_time()
    value = fn()
    return value, time.perf_counter() - t0, time.process_time() - c0
