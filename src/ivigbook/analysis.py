"""Compute-only analysis: every result of the chapter notebooks, without rendering.

Runs the same chapter functions, in the same order, as notebooks 01-06 with a
recorder that does not glue. Used by the reproduction test, by the benchmarks and
as a consistency check of the executed notebooks (their merged ``results.json``
must equal this).
"""
from __future__ import annotations

import json
from pathlib import Path

from . import describe, historical, organ, safety, sensitivity, skin
from .context import Context, load_context
from .outcomes import course_table
from .results import Recorder, clean_value


def chapter_results(ctx: Context, comparators_path: str | Path | None = None) -> dict[str, dict]:
    """Results per chapter notebook stem (as the notebooks record them)."""
    comparators = historical.load_comparators(comparators_path) if comparators_path else None
    out: dict[str, dict] = {}

    def new(stem: str) -> Recorder:
        rec = Recorder(stem, None, glue=False)
        ctx.record_basics(rec)
        out[stem] = rec.values
        return rec

    rec = new("01_cohort")
    describe.flow(ctx, rec)
    describe.table1(ctx, rec, comparators)
    describe.centres(ctx, rec)
    describe.table2(ctx, rec)

    rec = new("02_skin_outcomes")
    sctx = skin.population(ctx, rec)
    course_table(sctx, rec)
    skin.responders(sctx, rec)
    skin.regressions(sctx, rec)
    course_table(sctx, rec, "HAQ_DI", "haq_di", decimals=2)
    course_table(sctx, rec, "HAQ_VAS_SEVERITY", "haq_vas", decimals=2)
    skin.physician(sctx, rec)
    skin.tfr_resolution(sctx, rec)

    rec = new("03_organ_outcomes")
    organ.pulmonary(ctx, rec)
    organ.medsger(ctx, rec)
    organ.myositis(ctx, rec)
    organ.ck_course(ctx, rec)
    organ.gastrointestinal(ctx, rec)

    rec = new("04_safety")
    safety.aet02(ctx, rec)
    safety.record_stop_reasons(ctx, rec)

    rec = new("05_historical_comparisons")
    historical.change_comparisons(ctx, rec, comparators)

    rec = new("06_sensitivity_windows")
    sensitivity.by_window(skin.population(ctx, rec), rec)
    return out


def compute_results(data_dir: str | Path, params_json: str | dict = "{}",
                    comparators_path: str | Path | None = None, cache_dir: str | Path | None = None) -> dict:
    """All results of notebooks 01-06 for one cohort package, merged."""
    ctx = load_context(data_dir, params_json, cache_dir)
    merged: dict = {}
    for values in chapter_results(ctx, comparators_path).values():
        merged.update(values)
    return {k: clean_value(v) for k, v in sorted(merged.items())}


def main() -> None:  # pragma: no cover - convenience for analysts
    import sys

    print(json.dumps(compute_results(*sys.argv[1:2]), indent=1, sort_keys=True))
