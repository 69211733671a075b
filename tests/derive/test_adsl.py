"""Cohort derivations: rounds, treatment summary, inclusion flow, drugs, ADSL."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ivigbook.data.cohort import Cohort
from ivigbook.data.params import MULTICENTRE, PAPER, AnalysisParams
from ivigbook.data.schema import DRUG, INDICATION, MEASURES, OVERLAP
from ivigbook.derive import adsl as derive_adsl
from ivigbook.derive import bds as W
from ivigbook.derive import calendar, treatment

PATIENT = {"sex": "F", "birth_year": 1960, "ssc_subtype": "diffuse", "active_skin_disease": "yes"}


def monthly(pid: str, first: str, n: int, day: int = 15) -> list[tuple[str, str]]:
    """n monthly cycles starting in the month of ``first`` on ``day``."""
    start = pd.Period(first, "M")
    return [(pid, f"{start + k}-{day:02d}") for k in range(n)]


def make_cohort(patients, infusions=(), measurements=(), medications=None) -> Cohort:
    """patients: ids or dicts (defaults: active diffuse, born 1960); rows as tuples."""
    rows = [{**PATIENT, **({"patient_id": p} if isinstance(p, str) else p)} for p in patients]
    frames = {
        "patients": pd.DataFrame(rows).astype({"birth_year": "string"}),
        "infusions": pd.DataFrame(list(infusions), columns=["patient_id", "start_date"]),
        "measurements": pd.DataFrame(
            list(measurements), columns=["patient_id", "date", "measure", "value"]
        ),
    }
    if medications is not None:
        frames["medications"] = pd.DataFrame(
            list(medications), columns=["patient_id", "drug", "start_date", "stop_date"]
        )
    return Cohort.from_frames(**frames)


def row(frame: pd.DataFrame, pid: str, key: str = "patient_id") -> pd.Series:
    return frame.set_index(key).loc[pid]


# ---------------------------------------------------------------- calendar months
def test_month_index_is_year_times_12_plus_month_and_na_safe():
    s = pd.Series(pd.to_datetime(["2010-01-01", "2010-12-31", None, "1999-07-15"]))
    got = calendar.month_index(s)
    assert str(got.dtype) == "Int64"
    assert got.tolist()[:2] == [2010 * 12 + 1, 2010 * 12 + 12]
    assert got.isna().tolist() == [False, False, True, False]
    assert got.iloc[3] == 1999 * 12 + 7


def test_month_lookup_for_many_rows_equals_the_direct_conversion():
    rng = np.random.default_rng(7)
    ns = rng.integers(-2_000_000_000_000_000_000, 2_000_000_000_000_000_000, 60_000)
    dates = pd.Series(ns.astype("datetime64[ns]"))
    dates[rng.random(len(dates)) < 0.05] = pd.NaT  # missing dates stay 0 and flagged
    dates[:3] = [
        pd.Timestamp("1969-12-31 23:59:59"),
        pd.Timestamp("1970-01-01"),
        pd.Timestamp("2000-02-29 12:00"),
    ]
    assert len(dates) > calendar._LOOKUP_MIN_ROWS
    months, missing = calendar._months(dates)
    direct = np.asarray(dates).astype("datetime64[M]").astype("int64") + calendar._MONTH_OF_EPOCH
    assert missing.tolist() == dates.isna().tolist()
    assert (months[~missing] == direct[~missing]).all() and (months[missing] == 0).all()
    assert months[:3].tolist() == [1969 * 12 + 12, 1970 * 12 + 1, 2000 * 12 + 2]


# ---------------------------------------------------------------- rounds
def test_gap_of_exactly_round_gap_months_starts_a_new_round():
    # Jan, Feb, Mar, then Jun: Mar -> Jun is 3 months -> round 2
    c = make_cohort(["a"], monthly("a", "2010-01", 3) + [("a", "2010-06-15")])
    cyc = treatment.ivig_cycles(c)
    assert cyc["round"].tolist() == [1, 1, 1, 2]
    assert cyc["in_round1"].tolist() == [True, True, True, False]
    assert cyc["offset"].tolist() == [0, 1, 2, 5]
    s = row(treatment.treatment_summary(c), "a")
    assert (s.n_rounds, s.n_cycles, s.n_cycles_all, s.treatment_months) == (2, 3, 4, 3)
    assert s.last_cycle_date == pd.Timestamp("2010-03-15")


def test_gap_of_two_months_stays_in_the_round_and_day_of_month_is_irrelevant():
    # 31 Jan -> 1 Mar is 2 calendar months (same round); 1 Mar -> 30 Jun is 3 (new round)
    c = make_cohort(["a"], [("a", "2010-01-31"), ("a", "2010-03-01"), ("a", "2010-06-30")])
    assert treatment.ivig_cycles(c)["round"].tolist() == [1, 1, 2]
    # a larger round_gap_months keeps them all in round 1
    assert treatment.ivig_cycles(c, AnalysisParams(round_gap_months=4))["round"].tolist() == [
        1,
        1,
        1,
    ]


def test_cycles_are_sorted_by_date_and_numbered_per_patient():
    inf = [("b", "2011-03-01"), ("a", "2010-02-10"), ("b", "2011-01-01"), ("a", "2010-01-10")]
    cyc = treatment.ivig_cycles(make_cohort(["a", "b"], inf))
    assert cyc["patient_id"].tolist() == ["a", "a", "b", "b"]
    assert cyc["start_date"].dt.strftime("%Y-%m-%d").tolist() == [
        "2010-01-10",
        "2010-02-10",
        "2011-01-01",
        "2011-03-01",
    ]
    assert cyc["cycle_seq"].tolist() == [1, 2, 1, 2]


def test_round2_cycles_do_not_count_and_treatment_months_counts_months_not_cycles():
    # round 1 at offsets 0, 1, 2, 4, 6, 7 (every gap < 3 months), round 2 in 2011
    dates = [
        ("a", d)
        for d in (
            "2010-01-05",
            "2010-02-05",
            "2010-03-05",
            "2010-05-05",
            "2010-07-05",
            "2010-08-05",
            "2011-01-05",
            "2011-02-05",
        )
    ]
    s = row(treatment.treatment_summary(make_cohort(["a"], dates)), "a")
    assert s.n_cycles == 6  # the 2011 cycles are round 2
    assert s.n_rounds == 2
    assert s.cycles_first_6m == 4  # offsets 0, 1, 2, 4 (6 and 7 are after month 5)
    assert s.treatment_months == 8  # last round-1 cycle at offset 7
    assert s.first_cycle_date == pd.Timestamp("2010-01-05")
    assert s.last_cycle_date == pd.Timestamp("2010-08-05")


def test_treatment_summary_has_only_patients_with_infusions():
    ts = treatment.treatment_summary(make_cohort(["a", "b"], monthly("b", "2010-01", 2)))
    assert ts["patient_id"].tolist() == ["b"]
    assert list(ts.columns) == [
        "patient_id",
        "first_cycle_date",
        "last_cycle_date",
        "n_rounds",
        "n_cycles",
        "n_cycles_all",
        "treatment_months",
        "cycles_first_6m",
    ]


# ---------------------------------------------------------------- inclusion
def _mrss(pid: str, date: str, value: float = 30) -> tuple:
    return (pid, date, "MRSS", value)


@pytest.fixture
def flow_cohort() -> Cohort:
    patients = [
        "ok",
        "none",  # no infusions
        {"patient_id": "inactive", "active_skin_disease": "no"},
        {"patient_id": "limited", "ssc_subtype": "limited"},
        {"patient_id": "unknown_activity", "active_skin_disease": None},
        "two_cycles",
        "late_cycles",  # cycles at offsets 0, 6, 7 -> 1 in the first 6 months
        "no_base",
        {"patient_id": "inactive_no_base", "active_skin_disease": "no"},
    ]
    inf = []
    for pid in ("ok", "inactive", "limited", "unknown_activity", "no_base", "inactive_no_base"):
        inf += monthly(pid, "2010-01", 3)
    inf += monthly("two_cycles", "2010-01", 2)
    inf += [
        ("late_cycles", "2010-01-15"),
        ("late_cycles", "2010-07-15"),
        ("late_cycles", "2010-08-15"),
    ]
    meas = [
        _mrss(p, "2009-12-01")
        for p in ("ok", "inactive", "limited", "unknown_activity", "two_cycles", "late_cycles")
    ]
    meas.append(_mrss("no_base", "2009-09-30"))  # offset -4: outside the lookback
    return make_cohort(patients, inf, meas)


def test_inclusion_reasons_first_failure_wins(flow_cohort):
    incl = derive_adsl.inclusion(flow_cohort, PAPER).set_index("patient_id")
    expected = {
        "ok": None,
        "none": "no_ivig",
        "inactive": "not_active_diffuse_skin",
        "limited": "not_active_diffuse_skin",
        "unknown_activity": "activity_not_recorded",  # blank is not "no"
        "two_cycles": "fewer_cycles_6m",
        "late_cycles": "fewer_cycles_6m",
        "no_base": "no_baseline_mrss",
        "inactive_no_base": "not_active_diffuse_skin",
    }
    for pid, reason in expected.items():
        got = incl.loc[pid, "reason"]
        assert pd.isna(got) if reason is None else got == reason, pid
        assert bool(incl.loc[pid, "included"]) == (reason is None), pid
    assert list(incl["reason"].cat.categories) == [
        "no_ivig",
        "activity_not_recorded",
        "not_active_diffuse_skin",
        "fewer_cycles_6m",
        "no_baseline_mrss",
    ]


def test_all_treated_rule_skips_skin_checks_and_baseline_when_not_required(flow_cohort):
    incl = derive_adsl.inclusion(flow_cohort, MULTICENTRE).set_index("patient_id")
    assert list(incl["reason"].cat.categories) == ["no_ivig", "fewer_cycles_6m"]
    assert incl.loc["none", "reason"] == "no_ivig"
    assert incl["included"].sum() == len(incl) - 1  # min_cycles_6m = 1: every treated patient
    with_base = AnalysisParams(inclusion="all_treated", baseline_measure="MRSS")
    incl = derive_adsl.inclusion(flow_cohort, with_base).set_index("patient_id")
    assert incl.loc["limited", "included"]
    assert incl.loc["two_cycles", "reason"] == "fewer_cycles_6m"
    assert incl.loc["no_base", "reason"] == "no_baseline_mrss"


def test_flow_boxes_add_up_and_each_patient_is_in_exactly_one_box(flow_cohort):
    incl = derive_adsl.inclusion(flow_cohort, PAPER)
    flow = derive_adsl.flow_table(incl, PAPER)
    assert flow["box"].iloc[0] == "Patients in the package"
    assert flow["box"].iloc[-1] == "Included in the analysis"
    assert flow["n_remaining"].iloc[0] == len(incl) == 9
    excl = flow[flow["kind"] == "excluded"]
    assert excl["reason"].tolist() == [
        "no_ivig",
        "activity_not_recorded",
        "not_active_diffuse_skin",
        "fewer_cycles_6m",
        "no_baseline_mrss",
    ]
    assert excl["n_excluded"].tolist() == [1, 1, 3, 2, 1]
    assert excl["n_remaining"].tolist() == [8, 7, 4, 2, 1]
    assert flow["n_remaining"].iloc[-1] == 1
    assert excl["n_excluded"].sum() + flow["n_remaining"].iloc[-1] == len(incl)
    # every patient lands in exactly one box
    boxes = incl["reason"].astype("string").fillna("included")
    assert boxes.value_counts().sum() == len(incl)
    assert (incl["included"] == incl["reason"].isna()).all()
    assert "Fewer than 3 IVIG cycles" in excl["box"].iloc[3]
    assert "mRSS" in excl["box"].iloc[4]
    assert excl["box"].iloc[1] == "Diffuse, skin activity not recorded"


def test_flow_shows_empty_boxes_and_rejects_inconsistent_input(flow_cohort):
    incl = derive_adsl.inclusion(flow_cohort, PAPER)
    only_ok = incl[incl["patient_id"] == "ok"]
    flow = derive_adsl.flow_table(only_ok)
    assert flow["n_excluded"].dropna().tolist() == [0, 0, 0, 0, 0]
    broken = incl.copy()
    broken.loc[broken["patient_id"] == "none", "included"] = True
    with pytest.raises(AssertionError):
        derive_adsl.flow_table(broken)


def test_inclusion_report_prints_counts_and_the_way_out_for_blank_activity(flow_cohort):
    incl = derive_adsl.inclusion(flow_cohort, PAPER)
    lines, warnings = derive_adsl.inclusion_report(flow_cohort.patients, incl, PAPER)
    assert lines[0] == "inclusion flow (inclusion=active_diffuse_skin):"
    assert "  - excluded: Diffuse, skin activity not recorded: 1" in lines
    assert lines[-1] == "  Included in the analysis: 1"
    assert len(warnings) == 1
    assert warnings[0].startswith("1 diffuse patient has no active_skin_disease")
    assert "--set inclusion=all_treated" in warnings[0]
    assert not any("unknown_activity" in w for w in lines + warnings)  # never patient ids


def test_inclusion_report_when_nobody_is_eligible(flow_cohort):
    incl = derive_adsl.inclusion(flow_cohort, PAPER)
    nobody = incl.assign(included=False, reason=incl["reason"].fillna("no_ivig"))
    _, warnings = derive_adsl.inclusion_report(flow_cohort.patients, nobody, PAPER)
    assert any(w.startswith("no patient meets the inclusion criteria") for w in warnings)


def test_flow_from_plain_strings_orders_known_reasons():
    incl = pd.DataFrame(
        {
            "patient_id": ["a", "b", "c", "d"],
            "included": [False, False, True, False],
            "reason": ["no_baseline_mrss", "no_ivig", None, "fewer_cycles_6m"],
        }
    )
    flow = derive_adsl.flow_table(incl)
    assert flow["reason"].dropna().tolist() == ["no_ivig", "fewer_cycles_6m", "no_baseline_mrss"]
    assert flow["n_remaining"].tolist() == [4, 3, 2, 1, 1]


# ---------------------------------------------------------------- medications
def test_prior_and_concomitant_drug_edges():
    first, last = "2010-01-15", "2010-03-15"
    meds = [
        ("a", "prednisone", "2009-01-01", "2010-01-14"),  # stops the day before: prior only
        ("a", "methotrexate", "2009-01-01", first),  # stops on the first-cycle day: both
        ("a", "mycophenolate", "2009-06-01", None),  # ongoing: both
        ("a", "cyclophosphamide", first, "2010-02-01"),  # starts on the first day: concomitant
        ("a", "imatinib", last, None),  # starts on the last round-1 cycle day: concomitant
        ("a", "rituximab", "2010-03-16", None),  # after the last round-1 cycle: neither
        ("a", "tocilizumab", "2011-01-01", None),  # during round 2: neither
    ]
    inf = monthly("a", "2010-01", 3) + [("a", "2011-01-15")]
    drugs = row(treatment.drug_exposure(make_cohort(["a"], inf, medications=meds)), "a")
    expected = {
        "prednisone": (True, False),
        "methotrexate": (True, True),
        "mycophenolate": (True, True),
        "cyclophosphamide": (False, True),
        "imatinib": (False, True),
        "rituximab": (False, False),
        "tocilizumab": (False, False),
        "azathioprine": (False, False),
    }
    for drug, (prior, conc) in expected.items():
        assert (drugs[f"prior_{drug}"], drugs[f"concomitant_{drug}"]) == (prior, conc), drug
    assert [c for c in drugs.index if c.startswith("prior_")] == [f"prior_{d}" for d in DRUG]


def test_drug_flags_are_unknown_without_a_medications_table():
    drugs = treatment.drug_exposure(make_cohort(["a"], monthly("a", "2010-01", 3)))
    assert drugs.drop(columns="patient_id").isna().all().all()


# ---------------------------------------------------------------- subject level
@pytest.fixture
def adsl_cohort() -> Cohort:
    patients = [
        {
            "patient_id": "z",
            "birth_year": 1960,
            "onset_date": "2008-03-31",
            "overlap": "myositis;sjogren",
            "ivig_indication": "skin;myositis",
            "center": "X",
        },
        {"patient_id": "y", "birth_year": 1970, "onset_date": "2009-01-01"},
        {"patient_id": "x", "birth_year": 1980},  # no IVIG
        {"patient_id": "w", "birth_year": 1975},  # same first cycle date as y
    ]
    inf = (
        monthly("z", "2010-07", 3, day=1)
        + monthly("y", "2010-02", 3, day=1)
        + monthly("w", "2010-02", 3, day=1)
    )
    meas = [
        _mrss("z", "2010-05-10", 28),
        ("z", "2010-06-01", "FVC_PCT", 80.5),
        _mrss("y", "2010-02-20", 31),
    ]
    return make_cohort(patients, inf, meas)


def test_subject_level_rows_sequence_and_columns(adsl_cohort):
    adsl = derive_adsl.subject_level(adsl_cohort)
    assert adsl["USUBJID"].tolist() == ["w", "y", "z", "x"]  # by first cycle, then id; no IVIG last
    assert adsl["SUBJSEQ"].tolist() == [1, 2, 3, 4]
    for col in [
        "center",
        "sex",
        "race",
        "ssc_subtype",
        "age_at_ivig",
        "age_at_onset",
        "disease_duration_months",
        "ana",
        "anti_scl70",
        "anti_rnapol3",
        "active_skin_disease",
        "stop_reason",
        "physician_assessment",
        "death_date",
        "first_cycle_date",
        "last_cycle_date",
        "n_rounds",
        "n_cycles",
        "treatment_months",
        "cycles_first_6m",
        "included",
        "exclusion_reason",
    ]:
        assert col in adsl.columns, col
    assert {f"overlap_{v}" for v in OVERLAP} | {f"indication_{v}" for v in INDICATION} <= set(
        adsl.columns
    )
    assert {f"BASE_{m}" for m in MEASURES} <= set(adsl.columns)
    assert {f"prior_{d}" for d in DRUG} | {f"concomitant_{d}" for d in DRUG} <= set(adsl.columns)
    assert "stop_detail" not in adsl.columns and "patient_id" not in adsl.columns
    assert treatment.subject_sequence(adsl_cohort)["patient_id"].tolist() == ["w", "y", "z", "x"]


def test_age_and_disease_duration_rules(adsl_cohort):
    z = row(derive_adsl.subject_level(adsl_cohort), "z", "USUBJID")
    ivig_days = (pd.Timestamp("2010-07-01") - pd.Timestamp("1960-07-01")).days  # 50 years
    assert z.age_at_ivig == pytest.approx(ivig_days / 365.25) and round(z.age_at_ivig) == 50
    onset_days = (pd.Timestamp("2008-03-31") - pd.Timestamp("1960-07-01")).days
    assert z.age_at_onset == pytest.approx(onset_days / 365.25)
    assert z.disease_duration_months == (2010 * 12 + 7) - (2008 * 12 + 3)
    x = row(derive_adsl.subject_level(adsl_cohort), "x", "USUBJID")
    assert pd.isna(x.age_at_ivig) and pd.isna(x.disease_duration_months)
    assert pd.isna(x.n_cycles) and x.exclusion_reason == "no_ivig"


def test_subject_level_flags_baselines_and_inclusion(adsl_cohort):
    adsl = derive_adsl.subject_level(adsl_cohort).set_index("USUBJID")
    assert adsl.loc["z", "overlap_myositis"] and adsl.loc["z", "overlap_sjogren"]
    assert not adsl.loc["z", "overlap_ra"] and not adsl.loc["y", "overlap_myositis"]
    assert adsl.loc["z", "indication_skin"] and not adsl.loc["z", "indication_gi"]
    assert adsl.loc["z", "BASE_MRSS"] == 28 and adsl.loc["z", "BASE_FVC_PCT"] == 80.5
    assert adsl.loc["y", "BASE_MRSS"] == 31  # start month, after the first infusion
    assert np.isnan(adsl.loc["w", "BASE_MRSS"])
    assert adsl["included"].tolist() == [False, True, True, False]
    assert adsl.loc["w", "exclusion_reason"] == "no_baseline_mrss"
    incl = derive_adsl.inclusion(adsl_cohort).set_index("patient_id")
    assert (incl.loc[adsl.index, "included"].to_numpy() == adsl["included"].to_numpy()).all()


# ---------------------------------------------------------------- scale
def synthetic_registry(n: int, seed: int = 2015) -> Cohort:
    """n patients, ~12 cycles (some with a later round) and ~35 measurements each."""
    rng = np.random.default_rng(seed)
    ids = np.array([f"P{i:06d}" for i in range(n)])
    first = np.datetime64("2005-01") + rng.integers(0, 120, n)  # month of the first cycle
    patients = pd.DataFrame(
        {
            "patient_id": ids,
            "sex": rng.choice(["F", "M"], n),
            "birth_year": rng.integers(1940, 1990, n),
            "ssc_subtype": rng.choice(["diffuse", "limited"], n, p=[0.8, 0.2]),
            "active_skin_disease": rng.choice(["yes", "no"], n, p=[0.9, 0.1]),
            "onset_date": (first - rng.integers(1, 60, n)).astype("datetime64[ns]"),
            "overlap": rng.choice(["", "myositis", "ra;sle"], n),
        }
    )

    k = rng.integers(0, 25, n)  # cycles per patient; 0 = never treated
    pid = np.repeat(np.arange(n), k)
    step = rng.choice([1, 1, 1, 1, 2, 4], len(pid))  # months between cycles (4 = new round)
    step[np.r_[0, np.cumsum(k)[:-1]][k > 0]] = 0
    csum = np.cumsum(step)
    month = first[pid] + (csum - np.repeat(csum[np.r_[0, np.cumsum(k)[:-1]][k > 0]], k[k > 0]))
    infusions = pd.DataFrame(
        {
            "patient_id": ids[pid],
            "start_date": (month.astype("datetime64[D]") + rng.integers(0, 28, len(pid))).astype(
                "datetime64[ns]"
            ),
        }
    )

    m = rng.integers(5, 60, n)
    mid = np.repeat(np.arange(n), m)
    mdate = (first[mid] + rng.integers(-6, 30, len(mid))).astype("datetime64[D]") + rng.integers(
        0, 28, len(mid)
    )
    measurements = pd.DataFrame(
        {
            "patient_id": ids[mid],
            "date": mdate.astype("datetime64[ns]"),
            "measure": rng.choice(list(MEASURES), len(mid)),
            "value": rng.integers(0, 4, len(mid)).astype(float),
        }
    ).drop_duplicates(["patient_id", "date", "measure"])
    d = rng.integers(0, 5, n)
    did = np.repeat(np.arange(n), d)
    start = first[did].astype("datetime64[D]") + rng.integers(-900, 300, len(did))
    stop = start + rng.integers(10, 900, len(did))
    medications = pd.DataFrame(
        {
            "patient_id": ids[did],
            "drug": rng.choice(list(DRUG), len(did)),
            "start_date": start.astype("datetime64[ns]"),
            "stop_date": np.where(rng.random(len(did)) < 0.3, np.datetime64("NaT"), stop).astype(
                "datetime64[ns]"
            ),
        }
    )
    return Cohort.from_frames(
        patients=patients, infusions=infusions, measurements=measurements, medications=medications
    )


def test_vectorised_derivation_of_20000_patients():
    cohort = synthetic_registry(20_000)
    adsl = derive_adsl.subject_level(cohort)
    bds = W.analysis_visits(cohort)
    flow = derive_adsl.flow_table(derive_adsl.inclusion(cohort))
    assert len(adsl) == 20_000 and adsl["SUBJSEQ"].is_unique
    assert flow["n_remaining"].iloc[-1] == adsl["included"].sum()
    chosen = bds[bds["ANL01FL"] == "Y"]
    assert not chosen.duplicated(["USUBJID", "PARAMCD", "AVISIT"]).any()
