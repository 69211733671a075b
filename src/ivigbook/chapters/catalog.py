"""The one ordered list of chapters and the steps that record their results.

Each chapter is one notebook ``notebooks/<stem>.md``; its steps are the chapter
functions the notebook calls, in the notebook's order, that record results. The list
drives the runner (which notebooks, and which runs last), the compute-only analysis
(:mod:`ivigbook.chapters.compute`) and the calibration check of the synthetic cohorts
(``paper`` steps only). A test checks that every notebook makes its steps' calls.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

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
from ivigbook.derive.context import Context


@dataclass
class Env:
    """What a step works on: the analysis context, the chapter's recorder, the published
    comparators (or None), the seed, and what earlier steps of the chapter left."""

    ctx: Context
    rec: Any
    comparators: pd.DataFrame | None
    seed: int
    state: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Step:
    """One recording call of a chapter. ``call`` is the function as the notebook names it;
    ``paper`` marks the paper's own analyses (the rest go beyond the paper)."""

    label: str
    call: str
    run: Callable[[Env], Any]
    paper: bool = True


@dataclass(frozen=True)
class Chapter:
    """A chapter notebook. ``late``: it runs after the others, on their merged results."""

    stem: str
    steps: tuple[Step, ...] = ()
    late: bool = False


def _skin_population(env: Env) -> None:
    env.state["sctx"] = skin.population(env.ctx, env.rec)


def _skin(module: Any, name: str, *args, **kwargs) -> Callable[[Env], Any]:
    """``module.name(skin population, rec, *args)``, looked up when the step runs."""
    return lambda env: getattr(module, name)(env.state["sctx"], env.rec, *args, **kwargs)


def _by_window(env: Env) -> None:
    env.state["win"] = sensitivity.by_window(env.state["sctx"], env.rec)


CHAPTERS: tuple[Chapter, ...] = (
    Chapter(
        "01_cohort",
        (
            Step("flow", "describe.flow", lambda e: describe.flow(e.ctx, e.rec)),
            Step(
                "table1", "describe.table1", lambda e: describe.table1(e.ctx, e.rec, e.comparators)
            ),
            Step("centres", "describe.centres", lambda e: describe.centres(e.ctx, e.rec)),
            Step("table2", "describe.table2", lambda e: describe.table2(e.ctx, e.rec)),
        ),
    ),
    Chapter(
        "02_skin_outcomes",
        (
            Step("population", "skin.population", _skin_population),
            Step("mrss", "outcomes.course_table", _skin(outcomes, "course_table")),
            Step("responders", "skin.responders", _skin(skin, "responders")),
            Step("regressions", "skin.regressions", _skin(skin, "regressions")),
            Step(
                "haq_di",
                "outcomes.course_table",
                _skin(outcomes, "course_table", "HAQ_DI", "haq_di", decimals=2),
            ),
            Step(
                "haq_vas",
                "outcomes.course_table",
                _skin(outcomes, "course_table", "HAQ_VAS_SEVERITY", "haq_vas", decimals=2),
            ),
            Step("physician", "skin.physician", _skin(skin, "physician")),
            Step("tfr", "skin.tfr_resolution", _skin(skin, "tfr_resolution")),
            Step(
                "mixed_model",
                "longitudinal.mrss_model",
                _skin(longitudinal, "mrss_model"),
                paper=False,
            ),
            Step(
                "imputation",
                "imputation.mrss_change",
                lambda e: imputation.mrss_change(e.state["sctx"], e.rec, e.seed),
                paper=False,
            ),
        ),
    ),
    Chapter(
        "03_organ_outcomes",
        (
            Step("pulmonary", "organ.pulmonary", lambda e: organ.pulmonary(e.ctx, e.rec)),
            Step("medsger", "organ.medsger", lambda e: organ.medsger(e.ctx, e.rec)),
            Step("myositis", "organ.myositis", lambda e: organ.myositis(e.ctx, e.rec)),
            Step("ck", "organ.ck_course", lambda e: organ.ck_course(e.ctx, e.rec)),
            Step("gi", "organ.gastrointestinal", lambda e: organ.gastrointestinal(e.ctx, e.rec)),
        ),
    ),
    Chapter(
        "04_safety",
        (
            Step(
                "population",
                "safety.population",
                lambda e: safety.population(e.ctx, e.rec),
                paper=False,
            ),
            Step("aet02", "safety.aet02", lambda e: safety.aet02(e.ctx, e.rec)),
            Step("deaths", "safety.deaths", lambda e: safety.deaths(e.ctx, e.rec)),
            Step(
                "rounds",
                "safety.later_rounds",
                lambda e: safety.later_rounds(e.ctx, e.rec),
                paper=False,
            ),
            Step(
                "stops",
                "safety.record_stop_reasons",
                lambda e: safety.record_stop_reasons(e.ctx, e.rec),
            ),
        ),
    ),
    Chapter(
        "05_historical_comparisons",
        (
            Step(
                "change",
                "historical.change_comparisons",
                lambda e: historical.change_comparisons(e.ctx, e.rec, e.comparators),
            ),
            Step(
                "maic",
                "maic.compare",
                lambda e: maic.compare(e.ctx, e.rec, e.comparators, e.seed),
                paper=False,
            ),
        ),
    ),
    Chapter(
        "06_sensitivity_windows",
        (
            Step("population", "skin.population", _skin_population, paper=False),
            Step("by_window", "sensitivity.by_window", _by_window, paper=False),
            Step(
                "window_model",
                "longitudinal.window_comparison",
                lambda e: longitudinal.window_comparison(e.state["sctx"], e.rec, e.state["win"]),
                paper=False,
            ),
        ),
    ),
    Chapter("07_reproduction", late=True),
)

STEMS: tuple[str, ...] = tuple(c.stem for c in CHAPTERS)


def chapter(stem: str) -> Chapter:
    """The chapter of a notebook stem."""
    for c in CHAPTERS:
        if c.stem == stem:
            return c
    raise KeyError(f"no chapter {stem!r}; chapters: {', '.join(STEMS)}")
