"""Cohort chapter on cohorts unlike the references: Table 2 describes the analysis set."""

from __future__ import annotations

import re

from ivigbook.chapters import describe
from ivigbook.derive.context import load_context
from ivigbook.results.recorder import Recorder
from ivigbook.synth import cohort_space


def test_table2_counts_the_analysis_set_whatever_the_safety_population(tmp_path):
    shape, _ = cohort_space.NAMED["blank_activity"]  # few analysed among many treated
    cohort_space.write(tmp_path / "c", shape, seed=0)
    ctx = load_context(tmp_path / "c")
    assert 0 < ctx.n < len(ctx.adsl)
    table = describe.table2(ctx, Recorder("01_cohort"))
    shares = [
        float(m.group(1))
        for cell in table.frame[f"N={ctx.n}"]
        if (m := re.search(r"\(([\d.]+)\)$", cell))
    ]
    assert shares and max(shares) <= 100.0


def test_nobody_analysed_gives_one_sentence_and_no_table(tmp_path):
    shape, _ = cohort_space.NAMED["zero_eligible"]
    cohort_space.write(tmp_path / "c", shape, seed=0)
    ctx = load_context(tmp_path / "c")
    rec = Recorder("01_cohort")
    describe.flow(ctx, rec)
    assert describe.table1(ctx, rec, None).empty
    assert describe.table2(ctx, rec).empty
    assert "--set inclusion=all_treated" in rec.texts["flow_text"]
    assert rec.texts["table1_text"].startswith("No patient is in the analysis set")
