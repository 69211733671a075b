"""``derive_pair``: ``derive_all`` of two cohorts (``--data`` and ``--data2``, e.g. 10k and
100k) alternately, best of ``--repeat`` each: their time ratio with both sides exposed to
the same spells of the machine's other work."""

from __future__ import annotations

import json

from ivigbook.data.params import AnalysisParams
from ivigbook.data.validate import load_cohort
from ivigbook.derive.context import derive_all

from . import PARAMS, timed


def run(a) -> dict:
    params = AnalysisParams.from_mapping(json.loads(PARAMS))
    small, large = load_cohort(a.data), load_cohort(a.data2)
    times: dict[str, list[float]] = {"small": [], "large": []}
    for _ in range(max(1, a.repeat)):  # alternate, so a busy spell hits both sides
        for key, cohort in (("small", small), ("large", large)):
            times[key].append(timed(lambda: derive_all(cohort, params))[1])
    best = {k: min(v) for k, v in times.items()}
    return {
        "seconds": best["large"] / best["small"],
        "small_seconds": best["small"],
        "large_seconds": best["large"],
        "all": times,
    }
