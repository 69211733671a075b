"""When a section applies: the minimum-N rules and the sentences that say why not."""

from __future__ import annotations

from ivigbook.data.params import PAPER, AnalysisParams
from ivigbook.results.applicability import (
    Skip,
    count,
    sentence,
    too_few_events,
    too_few_for_model,
    too_few_pairs,
)


def test_count_reads_right_for_one_and_many():
    assert count(1, "patient") == "1 patient"
    assert count(0, "patient") == "0 patients"
    assert count(2, "analysis", "analyses") == "2 analyses"


def test_pairs_rule_names_the_parameter_and_its_value():
    assert too_few_pairs(3, PAPER) is None
    why = too_few_pairs(2, PAPER)
    assert "2 patients with both values" in why and "at least 3 (rule min_pairs)" in why
    assert too_few_pairs(2, AnalysisParams(min_pairs=2)) is None


def test_events_rule_counts_the_smaller_outcome_group_per_predictor():
    assert too_few_events(10, 1, PAPER) is None
    assert "at least 10 per predictor" in too_few_events(9, 1, PAPER)
    assert too_few_events(0, 1, AnalysisParams(min_events_per_variable=0)) is not None
    assert too_few_events(5, 1, AnalysisParams(min_events_per_variable=5)) is None


def test_mixed_model_rule():
    assert too_few_for_model(10, PAPER) is None
    assert too_few_for_model(1, PAPER).startswith("1 patient has two or more values")


def test_skip_is_empty_and_sentence_capitalises():
    assert Skip("No data.").empty
    assert sentence("no patient had a value") == "No patient had a value."
    assert sentence("") == ""
