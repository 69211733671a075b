"""Window tables and analysis visits: baseline, follow-up windows, ties, anchors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ivigbook.data import lookup
from ivigbook.data.cohort import Cohort
from ivigbook.data.params import MULTICENTRE, PAPER, AnalysisParams
from ivigbook.derive import bds as W

FIRST = "2010-01-15"  # first IVIG cycle of patient "a" (month index 2010*12+1)


def at(offset: int, day: int = 15) -> str:
    """Date in the calendar month ``offset`` months after January 2010."""
    return f"{pd.Period('2010-01', 'M') + offset}-{day:02d}"


def cohort_with(measurements, cycles: int = 6, extra_cycles=(), patients=("a",)) -> Cohort:
    """Patient(s) with ``cycles`` monthly cycles from FIRST; measurements as
    (date, value) for MRSS of patient "a", or (pid, date, measure, value)."""
    inf = [(p, at(k)) for p in patients for k in range(cycles)] + [("a", d) for d in extra_cycles]
    meas = [m if len(m) == 4 else ("a", m[0], "MRSS", m[1]) for m in measurements]
    return Cohort.from_frames(
        patients=pd.DataFrame(
            {
                "patient_id": list(patients),
                "sex": "F",
                "birth_year": "1960",
                "ssc_subtype": "diffuse",
                "active_skin_disease": "yes",
            }
        ),
        infusions=pd.DataFrame(inf, columns=["patient_id", "start_date"]),
        measurements=pd.DataFrame(meas, columns=["patient_id", "date", "measure", "value"]),
    )


def chosen(bds: pd.DataFrame, visit: str, paramcd: str = "MRSS", pid: str = "a") -> pd.DataFrame:
    sel = bds[(bds["USUBJID"] == pid) & (bds["PARAMCD"] == paramcd) & (bds["AVISIT"] == visit)]
    return sel[sel["ANL01FL"] == "Y"]


def chosen_value(bds, visit, **kw) -> float | None:
    sel = chosen(bds, visit, **kw)
    assert len(sel) <= 1
    return None if sel.empty else float(sel["AVAL"].iloc[0])


# ---------------------------------------------------------------- window tables
def test_default_window_table_is_the_paper():
    wt = W.window_table()
    assert list(wt.columns) == list(W.WINDOW_COLUMNS)
    assert wt["AVISIT"].tolist() == ["Baseline", "Month 6", "Month 12", "Month 18", "Month 24"]
    assert wt["AVISITN"].tolist() == [0, 6, 12, 18, 24]
    assert wt["AWTARGET"].tolist() == [0, 6, 12, 18, 24]
    assert wt["AWLO"].tolist() == [-3, 4, 10, 16, 22]
    assert wt["AWHI"].tolist() == [0, 8, 14, 20, 26]
    assert set(wt["ANCHOR"]) == {"ivig_start"}
    pd.testing.assert_frame_equal(W.window_table_from_params(PAPER), wt)


def test_sensitivity_and_last_cycle_tables():
    tight = W.window_table_from_params(PAPER, halfwidth=1)
    assert tight["AWLO"].tolist()[1:] == [5, 11, 17, 23]
    assert W.window_table(halfwidth=0)["AWHI"].tolist()[1:] == [6, 12, 18, 24]
    mc = W.window_table_from_params(MULTICENTRE)
    assert mc["AVISIT"].tolist() == ["Baseline", "Month 3 after last cycle"]
    assert mc["ANCHOR"].tolist() == [
        "ivig_start",
        "last_cycle",
    ]  # baseline always on the first cycle
    assert mc[["AWLO", "AWHI"]].to_numpy().tolist() == [[-3, 0], [1, 5]]


def test_explicit_window_table_is_validated():
    frame = pd.DataFrame(
        {
            "AVISIT": ["Month 6", "Baseline"],
            "AVISITN": [6, 0],
            "AWTARGET": [6, 0],
            "AWLO": [5, -6],
            "AWHI": [8, 0],
        }
    )
    wt = W.as_window_table(frame)
    assert wt["AVISIT"].tolist() == ["Baseline", "Month 6"] and set(wt["ANCHOR"]) == {"ivig_start"}
    bad = [
        frame[frame["AVISIT"] != "Baseline"],  # no baseline
        frame.assign(AWLO=[7, -6]),  # AWLO > AWTARGET
        frame.assign(AVISITN=[0, 0]),  # duplicate AVISITN
        frame.assign(ANCHOR=["somewhere", "ivig_start"]),
        frame.assign(ANCHOR=["ivig_start", "last_cycle"]),  # baseline must be on the first cycle
        frame.assign(AWHI=[8.5, 0]),
        frame.drop(columns="AWTARGET"),
    ]
    for b in bad:
        with pytest.raises(ValueError):
            W.as_window_table(b)


# ---------------------------------------------------------------- follow-up windows
@pytest.mark.parametrize(
    "offset, inside", [(3, False), (4, True), (6, True), (8, True), (9, False)]
)
def test_follow_up_window_is_target_plus_minus_halfwidth(offset, inside):
    bds = W.analysis_visits(cohort_with([(at(-1), 30), (at(offset), 20)]))
    assert chosen_value(bds, "Month 6") == (20 if inside else None)
    month6 = bds[bds["AVISIT"] == "Month 6"]
    assert len(month6) == int(inside)  # a missing visit has no row


def test_day_of_month_is_irrelevant():
    # last day of offset 8 and first day of offset 4 are inside the Month 6 window
    bds = W.analysis_visits(cohort_with([(at(8, day=30), 21)]))
    assert chosen_value(bds, "Month 6") == 21
    assert bds["AOFFSET"].tolist() == [8]
    bds = W.analysis_visits(cohort_with([(at(4, day=1), 22)]))
    assert chosen_value(bds, "Month 6") == 22
    # the first day of offset 9 is outside even if only a few days after offset 8
    assert chosen_value(W.analysis_visits(cohort_with([(at(9, day=1), 23)])), "Month 6") is None


def test_equidistant_visits_go_to_the_later_date():
    bds = W.analysis_visits(cohort_with([(at(5), 25), (at(7), 27)]))
    assert chosen_value(bds, "Month 6") == 27
    month6 = bds[bds["AVISIT"] == "Month 6"]
    assert len(month6) == 2 and month6["ANL01FL"].tolist() == ["", "Y"]  # both candidates shown


def test_same_month_visits_later_date_wins_and_closest_beats_later():
    bds = W.analysis_visits(cohort_with([(at(6, day=2), 26), (at(6, day=20), 24), (at(7, 28), 19)]))
    assert chosen_value(bds, "Month 6") == 24
    assert chosen(bds, "Month 6")["ADT"].iloc[0] == pd.Timestamp(at(6, day=20))


def test_tighter_window_is_just_another_table():
    meas = [(at(0), 30), (at(5), 25)]
    assert chosen_value(W.analysis_visits(cohort_with(meas)), "Month 6") == 25
    tight = W.window_table_from_params(PAPER, halfwidth=0)
    assert chosen_value(W.analysis_visits(cohort_with(meas), windows=tight), "Month 6") is None


def test_overlapping_windows_may_choose_the_same_record_twice():
    wide = W.window_table(followup_months=(6, 12), halfwidth=4)
    bds = W.analysis_visits(cohort_with([(at(0), 30), (at(9), 20)]), windows=wide)
    assert chosen_value(bds, "Month 6") == 20 and chosen_value(bds, "Month 12") == 20


def test_each_measure_is_windowed_on_its_own_dates():
    meas = [
        ("a", at(0), "MRSS", 30),
        ("a", at(5), "MRSS", 25),
        ("a", at(7), "MRSS", 24),
        ("a", at(-2), "FVC_PCT", 80),
        ("a", at(5), "FVC_PCT", 82),
    ]
    bds = W.analysis_visits(cohort_with(meas))
    assert chosen_value(bds, "Month 6") == 24
    assert chosen_value(bds, "Month 6", paramcd="FVC_PCT") == 82
    assert chosen_value(bds, "Baseline", paramcd="FVC_PCT") == 80


# ---------------------------------------------------------------- baseline
@pytest.mark.parametrize(
    "offset, inside", [(-4, False), (-3, True), (-1, True), (0, True), (1, False)]
)
def test_baseline_lookback_edges(offset, inside):
    bds = W.analysis_visits(cohort_with([(at(offset, day=1), 30)]))
    assert chosen_value(bds, "Baseline") == (30 if inside else None)


def test_baseline_in_start_month_after_the_first_infusion_counts_and_latest_wins():
    meas = [
        (at(-3, day=2), 33),
        (at(-1, day=28), 31),
        (at(0, day=10), 30),
        (at(0, day=20), 29),
        (at(6), 22),
    ]
    bds = W.analysis_visits(cohort_with(meas))
    base = bds[bds["AVISIT"] == "Baseline"]
    assert len(base) == 4
    assert base.loc[base["ABLFL"] == "Y", "ADT"].tolist() == [
        pd.Timestamp(at(0, day=20))
    ]  # > FIRST
    assert (bds["BASE"] == 29).all()
    assert base["CHG"].isna().all()  # CHG is missing on baseline rows
    m6 = chosen(bds, "Month 6")
    assert m6["CHG"].tolist() == [22 - 29]


def test_missing_baseline_gives_missing_base_and_change():
    bds = W.analysis_visits(cohort_with([(at(-5), 30), (at(6), 22)]))
    m6 = chosen(bds, "Month 6")
    assert m6["AVAL"].tolist() == [22] and m6["BASE"].isna().all() and m6["CHG"].isna().all()
    assert W.visit_values(bds, "MRSS", "Month 6").empty


# ---------------------------------------------------------------- anchors and rounds
def test_last_cycle_anchor_counts_follow_up_from_the_last_round1_cycle():
    # cycles at offsets 0..5 (last round-1 cycle in June 2010), a round 2 in 2011
    meas = [(at(-1), 30), (at(7), 25), (at(8, day=3), 24), (at(10), 23)]
    cohort = cohort_with(meas, extra_cycles=[at(12), at(13)])
    params = AnalysisParams(followup_anchor="last_cycle", followup_months=(3,))
    bds = W.analysis_visits(cohort, params)
    visit = "Month 3 after last cycle"
    assert chosen_value(bds, visit) == 24  # offset 8 from the first cycle = 3 from the last
    assert chosen(bds, visit)["AOFFSET"].tolist() == [3]
    assert chosen_value(bds, "Baseline") == 30  # baseline still relative to the first cycle
    assert set(bds.loc[bds["AVISIT"] == visit, "AOFFSET"]) == {2, 3, 5}
    assert set(bds["ANCHOR"].astype(str)) == {"ivig_start", "last_cycle"}


def test_round2_cycles_never_move_the_anchor():
    # a round-2 cycle (gap 3 months) must not become the last_cycle anchor
    cohort = cohort_with(
        [(at(0), 30), (at(9), 21), (at(13), 20)], cycles=3, extra_cycles=[at(5), at(6)]
    )
    params = AnalysisParams(followup_anchor="last_cycle", followup_months=(3, 6))
    bds = W.analysis_visits(cohort, params)
    # last round-1 cycle at offset 2: offset 9 -> month 7 (in 6 +/- 2), offset 13 -> not in 3 or 6
    assert chosen_value(bds, "Month 6 after last cycle") == 21
    assert chosen_value(bds, "Month 3 after last cycle") is None


# ---------------------------------------------------------------- table shape and views
def test_bds_shape_sorting_and_one_chosen_record_per_visit():
    meas = [
        ("b", at(-1), "MRSS", 40),
        ("b", at(6), "MRSS", 35),
        ("a", at(0), "FVC_PCT", 70),
        ("a", at(0), "MRSS", 30),
        ("a", at(5), "MRSS", 26),
        ("a", at(6), "MRSS", 25),
        ("c", at(0), "MRSS", 10),
    ]  # c has no IVIG
    cohort = cohort_with(meas, patients=("a", "b"))
    cohort = Cohort.from_frames(
        patients=pd.concat([cohort.patients, cohort.patients.iloc[[0]].assign(patient_id="c")]),
        infusions=cohort.infusions,
        measurements=cohort.measurements,
    )
    bds = W.analysis_visits(cohort)
    assert list(bds.columns) == list(W.BDS_COLUMNS)
    assert set(bds["USUBJID"]) == {"a", "b"}
    assert bds["SUBJSEQ"].is_monotonic_increasing
    assert bds.loc[bds["USUBJID"] == "a", "PARAMCD"].astype(str).tolist()[:1] == ["MRSS"]
    picked = bds[bds["ANL01FL"] == "Y"]
    assert not picked.duplicated(["USUBJID", "PARAMCD", "AVISIT"]).any()
    assert (bds["ABLFL"] == "Y").sum() == 3
    assert bds["AOFFSET"].dtype == np.int64 and bds["ADT"].dtype == "datetime64[ns]"


def test_visit_values_and_wide_change():
    meas = [
        (at(0), 30),
        (at(6), 24),
        (at(12), 20),
        ("b", at(0), "MRSS", 40),
        ("b", at(12), "MRSS", 41),
    ]
    bds = W.analysis_visits(cohort_with(meas, patients=("a", "b")))
    v6 = W.visit_values(bds, "MRSS", "Month 6")
    assert list(v6.columns) == ["USUBJID", "SUBJSEQ", "BASE", "AVAL", "CHG"]
    assert v6["USUBJID"].tolist() == ["a"] and v6["CHG"].tolist() == [-6]
    v12 = W.visit_values(bds, "MRSS", 12)
    assert v12["CHG"].tolist() == [-10, 1]
    assert W.visit_values(bds, "MRSS", 12, subjects=["b"])["USUBJID"].tolist() == ["b"]

    wide = W.wide_change(bds, "MRSS")
    assert list(wide.columns) == [
        "USUBJID",
        "SUBJSEQ",
        "BASE",
        "AVAL_m6",
        "CHG_m6",
        "AVAL_m12",
        "CHG_m12",
        "AVAL_m18",
        "CHG_m18",
        "AVAL_m24",
        "CHG_m24",
    ]
    a, b = wide.set_index("USUBJID").loc["a"], wide.set_index("USUBJID").loc["b"]
    assert (a.BASE, a.CHG_m6, a.CHG_m12) == (30, -6, -10)
    assert np.isnan(b.CHG_m6) and b.CHG_m12 == 1 and np.isnan(a.AVAL_m24)


def test_baseline_is_the_latest_record_even_in_a_window_reaching_past_the_start():
    # an explicit baseline window [-3, +1]: the latest record wins, not the one closest to 0
    table = pd.DataFrame(
        {"AVISIT": ["Baseline"], "AVISITN": [0], "AWTARGET": [0], "AWLO": [-3], "AWHI": [1]}
    )
    bds = W.analysis_visits(cohort_with([(at(0), 30), (at(1), 28)]), windows=table)
    assert chosen_value(bds, "Baseline") == 28


def test_string_membership_by_arrow_equals_pandas_isin():
    values = pd.Series(["P1", None, "P3", "P2", "p1"], dtype="string")
    allowed = pd.Series(["P1", "P2"], dtype="string")
    assert lookup.isin(values, allowed).tolist() == [True, False, False, True, False]
    assert lookup.isin(values, ["P3"]).tolist() == [False, False, True, False, False]
    numbers = pd.Series([1, 2, 3])
    assert lookup.isin(numbers, [3, 1]).tolist() == [True, False, True]


def test_string_codes_by_arrow_equal_the_pandas_factorisation():
    index = pd.Index(["MRSS", "FVC", "DLCO", "HAQ"], dtype="string")
    values = pd.Series(["FVC", None, "OTHER", "MRSS", "HAQ", "FVC"], dtype="string")
    assert lookup.codes(values, index).tolist() == [1, -1, -1, 0, 3, 1]
    as_object = pd.Series(values.astype(object))
    assert lookup.codes(as_object, pd.Index(list(index), dtype=object)).tolist() == [
        1,
        -1,
        -1,
        0,
        3,
        1,
    ]
