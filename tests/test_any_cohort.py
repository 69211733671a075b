"""The book runs, and reads true, on every cohort that validates (property tests).

Cohorts are drawn from the cohort space (:mod:`ivigbook.synth.cohort_space`) and the
analysis rules from their allowed values. On every drawn cohort the compute-only analysis
of every chapter (the calls the notebooks make) must finish without an exception, every
recorded value must be JSON-safe (a number, a string, a boolean or null, never NaN), and
every glued sentence must be well formed (:mod:`prose_checks`). Hypothesis runs
derandomized, so the same examples run every time, and without shrinking (each example
runs the whole analysis).
"""

from __future__ import annotations

import json
import math
import tempfile
import warnings
from pathlib import Path

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from prose_checks import problems

from ivigbook.chapters.compute import chapter_results
from ivigbook.chapters.historical import load_comparators
from ivigbook.config import COMPARATORS_PATH, project_root
from ivigbook.data.problems import DataError
from ivigbook.data.schema import MEASURES
from ivigbook.derive.context import load_context
from ivigbook.synth import cohort_space
from ivigbook.synth.cohort_space import Shape

COLUMNS = sorted(cohort_space.COLUMN_GROUPS)
TABLES = ["medications", "adverse_events"]


@st.composite
def shapes(draw) -> Shape:
    """A cohort shape: every knob of the cohort space (a table absent, empty or present)."""
    absent = draw(st.frozensets(st.sampled_from(TABLES)))
    return Shape(
        patients=draw(st.sampled_from([1, 2, 5, 12, 30])),
        subtypes=draw(st.sampled_from(["mixed", "diffuse", "limited"])),
        centres=draw(st.sampled_from([0, 1, 3])),
        absent_tables=absent,
        empty_tables=draw(st.frozensets(st.sampled_from(TABLES))) - absent,
        absent_measures=draw(st.frozensets(st.sampled_from(sorted(MEASURES)), max_size=6)),
        absent_columns=draw(st.frozensets(st.sampled_from(COLUMNS), max_size=3)),
        blank_activity_share=draw(st.sampled_from([0.0, 0.3, 1.0])),
        no_indication=draw(st.frozensets(st.sampled_from(["skin", "myositis", "gi"]))),
        responders=draw(st.sampled_from(["natural", "none", "all"])),
        early_death_share=draw(st.sampled_from([0.0, 0.2])),
        later_rounds=draw(st.booleans()),
        followup=draw(st.sampled_from(["natural", "pre_only", "one", "none"])),
        outside_windows=draw(st.booleans()),
        date_ties=draw(st.booleans()),
        long_followup=draw(st.booleans()),
    )


rules = st.fixed_dictionaries(
    {},
    optional={
        "inclusion": st.sampled_from(["active_diffuse_skin", "all_treated"]),
        "window_halfwidth_months": st.integers(0, 3),
        "followup_anchor": st.sampled_from(["ivig_start", "last_cycle"]),
        "population_by_indication": st.booleans(),
        "safety_population": st.sampled_from(["treated", "analysis"]),
        "responder_mcid": st.sampled_from([3.0, 5.0]),
        "min_cycles_6m": st.integers(1, 3),
    },
)


@pytest.fixture(scope="module")
def comparators():
    return load_comparators(project_root() / COMPARATORS_PATH)


def _analyse(shape: Shape, seed: int, overrides: dict, comparators) -> tuple[dict, dict] | None:
    """Results and glued texts per chapter of one drawn cohort (None: refused by validate)."""
    with tempfile.TemporaryDirectory() as tmp:
        cohort_space.write(Path(tmp) / "cohort", shape, seed)
        try:
            ctx = load_context(Path(tmp) / "cohort", overrides)
        except DataError:
            return None
        texts: dict = {}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            values = chapter_results(ctx, comparators, seed, texts=texts)
    return values, texts


def _check(values: dict, texts: dict) -> None:
    for stem, recorded in values.items():
        for key, v in recorded.items():
            assert v is None or isinstance(v, (bool, int, float, str)), (stem, key, v)
            assert not (isinstance(v, float) and not math.isfinite(v)), (stem, key, v)
        json.dumps(recorded, allow_nan=False)
    bad = {
        f"{stem}/{key}": (problems(text), text)
        for stem, glued in texts.items()
        for key, text in glued.items()
        if problems(text)
    }
    assert not bad, json.dumps(bad, indent=1, ensure_ascii=False)


@settings(
    max_examples=30,
    deadline=None,
    derandomize=True,
    database=None,
    # no shrinking: each example runs the whole analysis, so shrinking takes minutes; the
    # failing example is printed as drawn
    phases=(Phase.explicit, Phase.generate),
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(shape=shapes(), seed=st.integers(0, 2**16), overrides=rules)
def test_every_chapter_runs_and_reads_well(shape, seed, overrides, comparators):
    out = _analyse(shape, seed, overrides, comparators)
    if out is None:  # refused by validate with a report: allowed, never a crash
        return
    _check(*out)


@pytest.mark.parametrize("name", sorted(cohort_space.NAMED))
def test_named_shapes_run_and_read_well(name, comparators):
    shape, overrides = cohort_space.NAMED[name]
    if shape.patients > 500:
        pytest.skip("the large shape runs in the full-run test")
    out = _analyse(shape, 0, overrides, comparators)
    assert out is not None, f"{name} does not validate"
    _check(*out)
