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


def test_absent_race_and_overlap_columns_are_not_recorded_not_no(tmp_path):
    """A package without ``race`` or ``overlap`` (an import that did not map them) must
    not say that nobody was white or had myositis, nor test those shares."""
    import pandas as pd

    from ivigbook.chapters import organ
    from ivigbook.chapters.historical import baseline_columns, load_comparators
    from ivigbook.config import COMPARATORS_PATH, project_root
    from ivigbook.results.applicability import Skip

    shape, _ = cohort_space.NAMED["typical"]
    cohort_space.write(tmp_path / "c", shape, seed=0)
    patients = pd.read_csv(tmp_path / "c" / "patients.csv", dtype=str, keep_default_na=False)
    patients.drop(columns=["race", "overlap"]).to_csv(tmp_path / "c" / "patients.csv", index=False)
    ctx = load_context(tmp_path / "c")
    rec = Recorder("01_cohort")
    rows = {r["key"]: r for r in describe.record_table1(ctx, rec)}
    assert "white" not in rows and "myositis" not in rows
    assert rows["unknown"]["n"] == ctx.n  # the unrecorded race has its own row
    describe.table1(ctx, rec, None)
    assert "white" not in rec.texts["table1_text"] and "myositis" not in rec.texts["table1_text"]
    comparators = load_comparators(project_root() / COMPARATORS_PATH)
    baseline_columns(ctx, rec, list(rows.values()), comparators)
    assert not any("_bl_white_" in k or "_bl_myositis_" in k for k in rec.values)
    skip = organ.myositis(ctx, Recorder("03_organ_outcomes"))
    assert isinstance(skip, Skip) and "not recorded" in skip.reason
