"""The safety chapter (ivigbook.chapters.safety) on the reference cohort and edited copies:
the population switch, deaths, absent vs empty adverse-event table, later rounds,
out-of-vocabulary terms, blank stop reasons and an empty population."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from prose_checks import problems

from ivigbook.chapters import safety
from ivigbook.derive.context import load_context
from ivigbook.results.applicability import Skip
from ivigbook.results.recorder import Recorder
from ivigbook.results.table import Table

ROOT = Path(__file__).resolve().parents[2]
HOPKINS = ROOT / "data" / "synthetic" / "hopkins2015"
ANALYSIS = json.dumps({"safety_population": "analysis"})


def _package(folder: Path, edit=None) -> Path:
    """A copy of the Hopkins package under ``folder``, its tables (all cells strings)
    edited in place by ``edit(tables)``; a table removed from the dict is not written."""
    folder.mkdir(parents=True)
    tables = {
        f.stem: pd.read_csv(f, dtype=str, keep_default_na=False) for f in HOPKINS.glob("*.csv")
    }
    if edit is not None:
        edit(tables)
    for name, frame in tables.items():
        frame.to_csv(folder / f"{name}.csv", index=False, lineterminator="\n")
    return folder


def _run(ctx) -> tuple[Recorder, dict]:
    """Every recording step of the chapter, as the notebook calls them; their outputs."""
    rec = Recorder("04_safety")
    safety.population(ctx, rec)
    out = {"aet02": safety.aet02(ctx, rec)}
    safety.deaths(ctx, rec)
    out["rounds"] = safety.later_rounds(ctx, rec)
    out["stops"] = safety.record_stop_reasons(ctx, rec)
    out["serious"] = safety.serious_events(ctx)
    out["terms"] = safety.term_counts(ctx)
    return rec, out


def _well_formed(rec: Recorder) -> None:
    for key, text in rec.texts.items():
        assert not problems(text), (key, text, problems(text))
    assert all(v is None or v == v for v in rec.values.values())  # never NaN


@pytest.fixture(scope="module")
def reference():
    return load_context(HOPKINS, ANALYSIS)


@pytest.fixture(scope="module")
def treated():
    return load_context(HOPKINS)


# ---------------------------------------------------------------- population switch
def test_the_rule_selects_the_population(reference, treated):
    assert len(safety.safety_set(reference)) == reference.n == 30
    assert (
        len(safety.safety_set(treated)) == 35 == int(treated.adsl["first_cycle_date"].notna().sum())
    )
    ref, ref_out = _run(reference)
    trt, trt_out = _run(treated)
    assert ref.values["safety_population_n"] == 30 and trt.values["safety_population_n"] == 35
    # the reference edition keeps the paper's numbers (30 analysed patients)
    assert ref.values["safety_patients_any_n"] == 26 and ref.values["safety_events_n"] == 72
    assert ref.values["safety_headache_n"] == 12
    assert ref.values["safety_headache_pct"] == pytest.approx(40.0)
    assert trt.values["safety_events_n"] == 73
    # the prose and every table name the population and its N
    assert "Safety population: the analysis set (30 patients" in ref.texts["safety_population_text"]
    assert "all 35 patients with at least one IVIG cycle" in trt.texts["safety_population_text"]
    assert "30 of them are in the analysis set" in trt.texts["safety_population_text"]
    for name in ("aet02", "rounds", "stops", "serious"):
        for out, label, note in (
            (ref_out, "Analysis set (N=30)", "the analysis set (30 patients)"),
            (trt_out, "Treated (N=35)", "all 35 patients with at least one IVIG cycle"),
        ):
            table = out[name]
            assert isinstance(table, Table), name
            assert note in table.notes[0], (name, table.notes)
            if name != "serious":
                assert any(label in c for c in table.frame.columns), (name, table.frame.columns)
    _well_formed(ref)
    _well_formed(trt)


def test_an_empty_analysis_set_gives_sentences_not_tables(tmp_path):
    def nobody(t):
        t["patients"]["ssc_subtype"] = "limited"

    data = _package(tmp_path / "zero", nobody)
    ctx = load_context(data, ANALYSIS)
    rec, out = _run(ctx)
    assert all(isinstance(v, Skip) for v in out.values()), out
    assert rec.values["safety_population_n"] == 0
    assert "which has no patient" in rec.texts["safety_population_text"]
    assert "it would be the 35 patients" in rec.texts["safety_population_text"]
    assert rec.values["safety_deaths_pct"] is None and rec.values["stop_death_pct"] is None
    _well_formed(rec)
    # the default population still describes every treated patient
    rec, out = _run(load_context(data))
    assert rec.values["safety_population_n"] == 35 and isinstance(out["aet02"], Table)
    assert (
        "The analysis set of the efficacy chapters has no patient"
        in (rec.texts["safety_population_text"])
    )
    _well_formed(rec)


def test_one_patient_reads_in_the_singular(tmp_path):
    def one(t):
        i = t["infusions"]
        first = i["patient_id"].iloc[0]
        t["infusions"] = i[i["patient_id"] == first]

    rec, out = _run(load_context(_package(tmp_path / "one", one)))
    assert rec.values["safety_population_n"] == 1
    assert rec.texts["safety_population_text"].startswith("Safety population: the one patient")
    assert "the one patient as the denominator" in out["aet02"].notes[0]
    assert rec.texts["safety_deaths_text"] == "No death was recorded for the patient."
    _well_formed(rec)


# ---------------------------------------------------------------- deaths
def _die_after_records(t: dict, row: int) -> None:
    """Give patient ``row`` a death date 60 days after their last record."""
    p = t["patients"]
    pid = p.loc[p.index[row], "patient_id"]
    dates = [
        pd.to_datetime(t[name].loc[t[name]["patient_id"] == pid, col]).max()
        for name, col in (
            ("measurements", "date"),
            ("infusions", "start_date"),
            ("adverse_events", "onset_date"),
            ("medications", "start_date"),
        )
    ]
    last = max(d for d in dates if pd.notna(d))
    p.loc[p.index[row], "death_date"] = (last + pd.Timedelta(days=60)).strftime("%Y-%m-%d")


def test_deaths_have_their_own_line(tmp_path, treated):
    rec, _ = _run(treated)
    assert rec.values["safety_deaths_n"] == 1 and rec.values["safety_deaths_dated_n"] == 1
    assert rec.values["safety_death_months_from_start"] == 16
    assert rec.texts["safety_deaths_text"].startswith(
        "1 of the 35 patients (2.9%) died, 16 months after the first IVIG cycle."
    )

    def more(t):
        _die_after_records(t, 3)  # a second death with a date
        p = t["patients"]
        alive = p.index[(p["death_date"] == "") & (p["stop_reason"] != "death")]
        p.loc[alive[0], "stop_reason"] = "death"  # a third, recorded only as the stop reason

    rec, _ = _run(load_context(_package(tmp_path / "deaths", more)))
    v = rec.values
    assert (v["safety_deaths_n"], v["safety_deaths_dated_n"]) == (3, 2)
    assert v["safety_death_months_from_start_min"] <= v["safety_death_months_from_start"]
    assert v["safety_death_months_from_start"] <= v["safety_death_months_from_start_max"]
    text = rec.texts["safety_deaths_text"]
    assert text.startswith("3 of the 35 patients (8.6%) died, a median of ")
    assert "2 deaths with a date" in text and "1 death has no date" in text
    _well_formed(rec)

    def nobody_died(t):
        p = t["patients"]
        p.loc[p["stop_reason"] == "death", "stop_reason"] = "other"
        p["death_date"] = ""

    rec, _ = _run(load_context(_package(tmp_path / "alive", nobody_died)))
    assert rec.values["safety_deaths_n"] == 0
    assert "safety_death_months_from_start" not in rec.values
    assert rec.texts["safety_deaths_text"] == "No death was recorded among the 35 patients."


# ---------------------------------------------------------------- absent vs empty AE table
def test_absent_and_empty_adverse_event_tables_say_different_things(tmp_path):
    def absent(t):
        del t["adverse_events"]

    def empty(t):
        t["adverse_events"] = t["adverse_events"].iloc[0:0]

    rec, out = _run(load_context(_package(tmp_path / "absent", absent)))
    assert isinstance(out["aet02"], Skip) and isinstance(out["terms"], Skip)
    assert rec.texts["safety_text"] == safety.NO_AE_TABLE
    assert "safety_events_n" not in rec.values
    assert "no adverse-event table" in out["stops"].notes[0]  # stops not named by event
    _well_formed(rec)

    rec, out = _run(load_context(_package(tmp_path / "empty", empty)))
    assert isinstance(out["aet02"], Skip) and isinstance(out["terms"], Skip)
    assert rec.texts["safety_text"] == "No adverse event was recorded among the 35 patients."
    assert rec.values["safety_events_n"] == 0 and rec.values["safety_patients_any_n"] == 0
    assert isinstance(out["serious"], Skip) and not out["serious"].quiet
    _well_formed(rec)


def test_terms_outside_the_vocabulary_are_counted_not_shown(tmp_path):
    def free_text(t):
        a = t["adverse_events"]
        a.loc[a.index[:3], "term"] = "Cefalea INTENSA"
        a.loc[a.index[3], "term"] = "  cefalea intensa "
        a.loc[a.index[4], "term"] = "mareo"

    rec, out = _run(load_context(_package(tmp_path / "terms", free_text)))
    assert rec.values["safety_unknown_terms_n"] == 2
    assert rec.values["safety_unknown_terms_events_n"] == 5
    assert rec.values["safety_other_free_text_events_n"] == 5
    text = rec.texts["safety_text"]
    assert "5 events (2 distinct terms) have a term outside the adverse-event vocabulary" in text
    assert "--terms" in text
    page = text + out["aet02"].to_html()
    assert "cefalea" not in page.lower() and "mareo" not in page.lower()
    assert safety.OTHER_LABEL in out["aet02"].to_html()
    _well_formed(rec)


# ---------------------------------------------------------------- later rounds
def test_later_rounds_are_counted_and_only_round_1_is_analysed(reference, treated):
    rec, out = _run(treated)
    v = rec.values
    n_later = int((treated.adsl["n_rounds"] >= 2).sum())
    assert v["treat_rounds_2plus_n"] == n_later == 4
    assert v["treat_rounds_max"] == 2
    total = int(treated.adsl["n_cycles_all"].sum())
    assert v["treat_round1_cycles_n"] + v["treat_later_rounds_cycles_n"] == total
    assert v["treat_round1_cycles_n"] == int(treated.adsl["n_cycles"].sum())
    assert v["treat_round2_patients_n"] == 4
    text = rec.texts["treat_rounds_text"]
    assert text.startswith("4 of the 35 patients (11.4%) had a second or later round")
    assert "Only round 1 is analysed" in text
    rounds = out["rounds"].frame
    assert list(rounds["Round"]) == ["Round 1 (analysed)", "Round 2"]
    assert _run(reference)[0].values["treat_rounds_2plus_n"] == 3  # within the analysis set


def test_one_round_only_is_a_sentence(tmp_path):
    ctx = load_context(HOPKINS, json.dumps({"round_gap_months": 1000}))
    rec, out = _run(ctx)
    assert rec.values["treat_rounds_2plus_n"] == 0 and isinstance(out["rounds"], Skip)
    assert rec.texts["treat_rounds_text"].startswith("All 35 patients had one round of IVIG")
    assert "Only round 1 is analysed" in rec.texts["treat_rounds_text"]


# ---------------------------------------------------------------- reasons for stopping
def test_blank_stop_reasons_are_a_sentence(tmp_path):
    def blank(t):
        t["patients"]["stop_reason"] = ""

    rec, out = _run(load_context(_package(tmp_path / "blank", blank)))
    assert isinstance(out["stops"], Skip)
    assert rec.texts["stop_text"] == (
        "The reason for stopping IVIG is not recorded for any of the 35 patients."
    )
    assert rec.values["stop_not_recorded_n"] == 35
    _well_formed(rec)


def test_some_blank_stop_reasons_are_counted(tmp_path):
    def some(t):
        p = t["patients"]
        p.loc[p.index[:2], "stop_reason"] = ""

    rec, out = _run(load_context(_package(tmp_path / "some", some)))
    assert isinstance(out["stops"], Table)
    assert "Not recorded" in set(out["stops"].frame.iloc[:, 0])
    assert "The reason is not recorded for 2 patients." in rec.texts["stop_text"]
