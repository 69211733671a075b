"""Compute-only analysis: every result of the chapter notebooks, without rendering.

Runs the same chapter functions, in the same order, as notebooks 01-06 with a
recorder that does not glue. Used by the reproduction test, by the benchmarks and
as a consistency check of the executed notebooks (their merged ``results.json``
must equal this).
"""
from __future__ import annotations

import json
from pathlib import Path

from . import describe, historical, imputation, longitudinal, maic, organ, safety, sensitivity, skin
from .context import Context, load_context
from .outcomes import course_table
from .results import Recorder, clean_value


#: the notebooks' default ``seed`` parameter (``runner.DEFAULT_SEED``)
DEFAULT_SEED = 2015


def chapter_results(ctx: Context, comparators_path: str | Path | None = None,
                    seed: int = DEFAULT_SEED) -> dict[str, dict]:
    """Results per chapter notebook stem (as the notebooks record them with this ``seed``)."""
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
    longitudinal.mrss_model(sctx, rec)
    imputation.mrss_change(sctx, rec, seed)

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
    maic.compare(ctx, rec, comparators, seed)

    rec = new("06_sensitivity_windows")
    sctx = skin.population(ctx, rec)
    win = sensitivity.by_window(sctx, rec)
    longitudinal.window_comparison(sctx, rec, win)
    return out


def registered_seed(data_dir: str | Path) -> int:
    """The ``seed`` the committed book uses for ``data_dir``: the registered seed of a
    reference cohort (``runner.REFERENCE_COHORTS``), else :data:`DEFAULT_SEED`."""
    from .runner import REFERENCE_COHORTS, RunError, project_root

    try:
        root = project_root(None)
    except RunError:  # outside a checkout: no registry
        return DEFAULT_SEED
    here = Path(data_dir).resolve()
    for entry in REFERENCE_COHORTS.values():
        if (Path(root) / entry["data_dir"]).resolve() == here:
            return int(entry.get("seed", DEFAULT_SEED))
    return DEFAULT_SEED


def compute_results(data_dir: str | Path, params_json: str | dict = "{}",
                    comparators_path: str | Path | None = None, cache_dir: str | Path | None = None,
                    seed: int | None = None) -> dict:
    """All results of notebooks 01-06 for one cohort package, merged. ``seed`` defaults to
    the seed the committed book uses for this package (:func:`registered_seed`)."""
    ctx = load_context(data_dir, params_json, cache_dir)
    seed = registered_seed(data_dir) if seed is None else int(seed)
    merged: dict = {}
    for values in chapter_results(ctx, comparators_path, seed).values():
        merged.update(values)
    return {k: clean_value(v) for k, v in sorted(merged.items())}


def main() -> None:  # pragma: no cover - convenience for analysts
    import sys

    print(json.dumps(compute_results(*sys.argv[1:2]), indent=1, sort_keys=True))
