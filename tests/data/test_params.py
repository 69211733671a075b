"""The one parser of analysis-rule overrides (command line, make, papermill's params_json)."""

from __future__ import annotations

import json
import subprocess
import sys
import time
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
    with pytest.raises(UsageError, match="expected yes or no"):
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


# ---------------------------------------------------------------- every value checked
@pytest.mark.parametrize("text", ["false", "FALSE", "no", "No", "0", "off"])
def test_text_booleans_given_as_a_mapping_are_converted(text):
    """papermill's params_json and any dict used to keep 'false' (a truthy string)."""
    params = AnalysisParams.from_mapping({"population_by_indication": text})
    assert params.population_by_indication is False
    assert AnalysisParams.from_mapping({"population_by_indication": 1}).population_by_indication


@pytest.mark.parametrize("value", ["maybe", "y", "2", 2, 2.5, "", [True]])
def test_booleans_reject_anything_else(value):
    with pytest.raises(UsageError, match="population_by_indication=.*expected yes or no"):
        AnalysisParams.from_mapping({"population_by_indication": value})


@pytest.mark.parametrize(
    "item",
    [
        "responder_mcid=nan",
        "responder_mcid=inf",
        "responder_mcid=-inf",
        "responder_mcid=0",
        "responder_mcid=52",
        "min_events_per_variable=nan",
        "maic_min_ess=1e999",
        "maic_max_failed_share=1.5",
        "window_halfwidth_months=-1",
        "round_gap_months=2.5",
        "min_pairs=1",
    ],
)
def test_numbers_must_be_finite_and_in_range(item):
    name = item.split("=")[0]
    with pytest.raises(UsageError, match=f"{name}=.*: expected (a number|an integer)"):
        parse_overrides([item])


@pytest.mark.parametrize("value", [float("nan"), float("inf"), 0, -1.0, True, "five"])
def test_typed_numbers_are_checked_as_text_is(value):
    with pytest.raises(UsageError, match="responder_mcid=.*expected a number > 0 and <= 51"):
        AnalysisParams.from_mapping({"responder_mcid": value})


@pytest.mark.parametrize("value", ["6", 6, 6.0, "6.0", " 6 ", "6e0"])
def test_whole_numbers_may_be_written_as_such(value):
    assert parse_overrides({"min_cycles_6m": value}) == {"min_cycles_6m": 6}


@pytest.mark.parametrize("value", [2.5, "2.5", "6_0", "0x6", True])
def test_integers_reject_fractions_and_odd_spellings(value):
    with pytest.raises(UsageError, match="min_cycles_6m=.*expected an integer >= 0"):
        parse_overrides({"min_cycles_6m": value})


@pytest.mark.parametrize(
    "value", ["-6,12", "0", "6,6", "12,6", "", ",", "6,x", "6,12.5", [6, 6], [], (0,), [-6, 12]]
)
def test_followup_months_are_distinct_increasing_positive_months(value):
    """Downstream takes the last month as the last visit and the first two as the
    regressions' visits: the months must come in increasing order, each once."""
    with pytest.raises(UsageError, match="distinct whole months >= 1, in increasing order"):
        parse_overrides({"followup_months": value})


@pytest.mark.parametrize("value", ["6,12", "[6, 12]", "6;12", [6, 12], (6.0, 12), ["6", "12"]])
def test_followup_months_accepted_spellings(value):
    assert parse_overrides({"followup_months": value}) == {"followup_months": (6, 12)}
    assert parse_overrides({"followup_months": 3}) == {"followup_months": (3,)}


def test_baseline_measure_is_a_measure_of_the_contract_or_none():
    with pytest.raises(
        UsageError, match='baseline_measure=FOO: expected one of "" \\(none\\), MRSS'
    ):
        parse_overrides(["baseline_measure=FOO"])
    assert parse_overrides(["baseline_measure="]) == {"baseline_measure": ""}
    assert parse_overrides(["baseline_measure=fvc_pct"]) == {"baseline_measure": "FVC_PCT"}


@pytest.mark.parametrize(
    "name, allowed",
    [
        ("followup_anchor", "ivig_start, last_cycle"),
        ("inclusion", "active_diffuse_skin, all_treated"),
        ("safety_population", "treated, analysis"),
    ],
)
def test_closed_lists_name_their_values(name, allowed):
    with pytest.raises(UsageError, match=f"{name}=sometime: expected one of {allowed}"):
        parse_overrides([f"{name}=sometime"])
    with pytest.raises(UsageError, match=f"{name}=5: expected one of"):
        parse_overrides({name: 5})


def test_every_bad_value_is_reported_at_once():
    with pytest.raises(UsageError) as info:
        parse_overrides(
            ["responder_mcid=nan", "followup_months=-6,12", "nope=1", "min_pairs", "inclusion=x"]
        )
    text = str(info.value)
    assert text.startswith("5 bad analysis parameters:")
    for part in (
        "responder_mcid=nan: expected a number > 0 and <= 51",
        "followup_months=-6,12: expected one or more distinct whole months >= 1",
        "nope=1: unknown analysis parameter 'nope'",
        "min_pairs: expected name=value",
        "inclusion=x: expected one of active_diffuse_skin, all_treated",
    ):
        assert f"\n  {part}" in text, part
    with pytest.raises(UsageError, match="2 bad analysis parameters"):
        AnalysisParams.from_mapping({"population_by_indication": "false!", "min_pairs": 0})


def test_construction_in_code_raises_value_error_naming_every_bad_field():
    with pytest.raises(ValueError, match="followup_months=\\(6, 6\\): .*; responder_mcid=0: "):
        AnalysisParams(responder_mcid=0, followup_months=(6, 6))
    assert AnalysisParams(followup_months=[6, 12], responder_mcid=4).responder_mcid == 4.0
    assert AnalysisParams.from_mapping({"responder_mcid": None}) == PAPER  # None: not set


def test_the_parameters_round_trip_through_json():
    for params in (PAPER, AnalysisParams(followup_months=(3,), baseline_measure="")):
        assert AnalysisParams.from_mapping(json.loads(json.dumps(params.to_dict()))) == params


def test_params_json_false_is_false_in_the_notebooks():
    ctx = load_context(ROOT / "data/synthetic/hopkins2015", '{"population_by_indication": "false"}')
    assert ctx.params.population_by_indication is False
    with pytest.raises(UsageError, match="responder_mcid=nan"):
        load_context(ROOT / "data/synthetic/hopkins2015", '{"responder_mcid": NaN}')


# ---------------------------------------------------------------- the command line
def _ivigbook(*args) -> tuple[subprocess.CompletedProcess, float]:
    t0 = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "ivigbook.cli", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    return done, time.monotonic() - t0


def test_a_bad_set_value_stops_the_run_before_anything_runs(tmp_path):
    out = tmp_path / "out"
    data = ROOT / "data/synthetic/hopkins2015"
    done, _ = _ivigbook("run", data, "--out", out, "--set", "followup_months=-6,12")
    assert done.returncode == 2, done.stderr
    assert "usage: ivigbook run" in done.stderr and "Traceback" not in done.stderr
    assert "followup_months=-6,12: expected one or more distinct whole months >= 1" in done.stderr
    # refused before validation, before any notebook and before OUT is touched
    assert "is valid" not in done.stderr and "executing" not in done.stdout + done.stderr
    assert not out.exists()


def test_several_bad_set_values_are_reported_together(tmp_path):
    done, _ = _ivigbook(
        "validate",
        ROOT / "data/synthetic/hopkins2015",
        "--set",
        "responder_mcid=nan",
        "--set",
        "baseline_measure=FOO",
        "--set",
        "population_by_indication=false",
    )
    assert done.returncode == 2, done.stdout + done.stderr
    assert "2 bad analysis parameters:" in done.stderr
    assert "responder_mcid=nan: expected a number > 0 and <= 51" in done.stderr
    assert "baseline_measure=FOO: expected one of" in done.stderr
    assert done.stdout == ""  # nothing validated


def test_the_parsed_command_line_holds_typed_values():
    from ivigbook import cli

    args = cli.build_parser().parse_args(
        ["run", "d", "--out", "o", "--set", "population_by_indication=off", "--set", "min_pairs=4"]
    )
    assert args.set == {"population_by_indication": False, "min_pairs": 4}
