"""The one parser of analysis-rule overrides (command line, make, papermill's params_json)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from ivigbook.data.params import PAPER, AnalysisParams, parse_overrides
from ivigbook.derive.context import load_context
from ivigbook.errors import UsageError

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    "text, value",
    [("true", True), ("yes", True), ("1", True), ("false", False), ("no", False), ("0", False)],
)
def test_booleans_read_as_people_write_them(text, value):
    assert parse_overrides([f"population_by_indication={text}"]) == {
        "population_by_indication": value
    }


def test_strings_and_typed_values_give_the_same_parameters():
    from_cli = parse_overrides(["followup_months=6,12", "responder_mcid=4", "round_gap_months=3"])
    from_json = parse_overrides(
        json.loads('{"followup_months": [6, 12], "responder_mcid": 4.0, "round_gap_months": 3}')
    )
    assert AnalysisParams.from_mapping(from_cli) == AnalysisParams.from_mapping(from_json)
    assert from_cli["followup_months"] == (6, 12)


def test_unknown_names_and_bad_values_are_usage_errors():
    with pytest.raises(UsageError, match="unknown analysis parameter 'nope'"):
        parse_overrides(["nope=1"])
    with pytest.raises(UsageError, match="expected yes/no"):
        parse_overrides(["population_by_indication=maybe"])
    with pytest.raises(UsageError, match="unknown analysis parameter"):
        load_context(ROOT / "data/synthetic/hopkins2015", '{"window_halfwidht_months": 1}')


def test_papermill_params_json_goes_through_the_parser():
    ctx = load_context(ROOT / "data/synthetic/hopkins2015", '{"population_by_indication": "no"}')
    assert ctx.params.population_by_indication is False
    assert ctx.params.followup_months == PAPER.followup_months


def test_make_run_passes_every_set_override():
    dry = subprocess.run(
        [
            "make",
            "-n",
            "-s",
            "run",
            "DATA=d",
            "OUT=o",
            "SET=window_halfwidth_months=1 responder_mcid=4",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    line = next(ln for ln in dry.splitlines() if "ivigbook run" in ln)
    assert "--set window_halfwidth_months=1 --set responder_mcid=4" in line
