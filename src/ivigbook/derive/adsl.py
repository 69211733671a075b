"""Subject level (ADSL-like): baseline values, the inclusion flow and its reasons, and the
one-row-per-patient table every chapter reads.

Time is counted in calendar months (DESIGN §4): the month index of a date is
``year*12 + month`` and the offset of a date is its month index minus that of an
anchor cycle, so the day of the month never matters.

Every function is vectorised (sorts, cumulative sums, merges on whole columns):
a registry of 100,000 patients derives in seconds. Patients are keyed by
``patient_id`` internally; ``subject_level`` also gives the anonymous ``SUBJSEQ``
that tables and figures show instead.

Conventions chosen here (only birth year and month-resolution offsets exist):

* age = (date - 1 July of the birth year) / 365.25 days, a float in years
  (mid-year birth assumption; unbiased when only the birth year is known);
* disease duration = calendar-month offset of the first cycle from onset,
  ``month_index(first cycle) - month_index(onset_date)`` (an integer);
* a medication is *prior* if it starts before the first cycle start date and
  *concomitant* if [start, stop] overlaps the closed interval
  [first cycle start, last round-1 cycle start]; a blank stop date means ongoing,
  a stop on the first-cycle day overlaps, a stop the day before does not.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ivigbook.data.cohort import Cohort
from ivigbook.data.params import PAPER, AnalysisParams
from ivigbook.data.schema import INDICATION, MEASURES, OVERLAP
from ivigbook.derive import bds as windows
from ivigbook.derive.calendar import _mid_year, _years_between, month_index
from ivigbook.derive.treatment import (
    _drug_exposure,
    _flag_table,
    _with_treatment,
    treatment_summary,
)


# ---------------------------------------------------------------- baseline
def baseline_values(cohort: Cohort, params: AnalysisParams = PAPER) -> pd.DataFrame:
    """One row per patient with infusions: BASE_<MEASURE> for every schema measure.

    The baseline rule lives in :mod:`ivigbook.derive.bds` (the baseline row of the
    window table); this is its wide, one-row-per-patient view. NaN = no baseline.
    """

    table = windows.window_table(followup_months=(), lookback=params.baseline_lookback_months)
    bds = windows.analysis_visits(cohort, params, windows=table)
    return _baseline_wide(bds, treatment_summary(cohort, params)["patient_id"])


def _baseline_wide(bds: pd.DataFrame, patient_ids: pd.Series) -> pd.DataFrame:
    """:func:`baseline_values` from any analysis-visit table holding the baseline window
    of the parameters (its ABLFL rows), for ``patient_ids`` (the treated patients)."""
    chosen = bds[(bds["ABLFL"] == "Y").to_numpy(bool)]
    wide = chosen.pivot(index="USUBJID", columns="PARAMCD", values="AVAL")
    wide = wide.reindex(index=pd.Index(patient_ids.array), columns=list(MEASURES))
    wide.columns = [f"BASE_{m}" for m in wide.columns]
    return wide.rename_axis("patient_id").reset_index()


# ---------------------------------------------------------------- inclusion flow
_REASON_LABELS = {
    "no_ivig": "No IVIG infusion recorded",
    "activity_not_recorded": "Diffuse, skin activity not recorded",
    "not_active_diffuse_skin": "No active diffuse cutaneous disease",
    "fewer_cycles_6m": "Fewer than {min_cycles_6m} IVIG cycles in the first 6 months",
}


_REASON_ORDER = (
    "no_ivig",
    "activity_not_recorded",
    "not_active_diffuse_skin",
    "fewer_cycles_6m",
    "no_baseline_",
)


_BASELINE_PREFIX = "no_baseline_"


def reason_label(code: str, params: AnalysisParams | None = None) -> str:
    """Human label of an exclusion reason code (numbers filled in when params are given)."""
    if code.startswith(_BASELINE_PREFIX):
        measure = code[len(_BASELINE_PREFIX) :].upper()
        label = MEASURES[measure].label if measure in MEASURES else measure
        when = (
            f" (from {params.baseline_lookback_months} months before to the month of the "
            "first cycle)"
            if params is not None
            else ""
        )
        return f"No baseline {label}{when}"
    if code == "fewer_cycles_6m" and params is None:
        return "Too few IVIG cycles in the first 6 months"
    template = _REASON_LABELS.get(code)
    if template is None:
        return code
    return template.format(**(params.to_dict() if params is not None else {}))


def _exclusion_checks(
    patients: pd.DataFrame, treat: pd.DataFrame, base: pd.DataFrame, params: AnalysisParams
) -> list[tuple[str, np.ndarray]]:
    """The inclusion checks in order, each (reason code, failed mask aligned to patients)."""
    t = treat.set_index("patient_id").reindex(patients["patient_id"])
    checks = [("no_ivig", t["first_cycle_date"].isna().to_numpy())]
    if params.inclusion == "active_diffuse_skin":
        # blank is not "no": a diffuse patient whose activity was not recorded has a box of
        # their own, so the analyst sees them (and the way out, inclusion=all_treated)
        diffuse = (patients["ssc_subtype"] == "diffuse").fillna(False).to_numpy(dtype=bool)
        activity = patients["active_skin_disease"]
        blank = activity.isna().to_numpy(dtype=bool)
        active = (activity == "yes").fillna(False).to_numpy(dtype=bool)
        checks.append(("activity_not_recorded", diffuse & blank))
        checks.append(("not_active_diffuse_skin", ~(diffuse & active)))
    cycles = t["cycles_first_6m"].fillna(0).to_numpy()
    checks.append(("fewer_cycles_6m", cycles < params.min_cycles_6m))
    measure = params.baseline_measure
    if measure:
        if measure not in MEASURES:
            raise ValueError(f"baseline_measure {measure!r} is not a measure code")
        b = base.set_index("patient_id").reindex(patients["patient_id"])[f"BASE_{measure}"]
        checks.append((_BASELINE_PREFIX + measure.lower(), b.isna().to_numpy()))
    return checks


def _inclusion(
    patients: pd.DataFrame, treat: pd.DataFrame, base: pd.DataFrame, params: AnalysisParams
) -> pd.DataFrame:
    checks = _exclusion_checks(patients, treat, base, params)
    codes = np.full(len(patients), -1)
    for i, (_, failed) in enumerate(checks):
        codes[(codes == -1) & failed] = i  # the first failed check names the reason
    reason = pd.Categorical.from_codes(codes, categories=[c for c, _ in checks], ordered=True)
    out = pd.DataFrame(
        {"patient_id": patients["patient_id"].array, "included": codes == -1, "reason": reason}
    )
    flow_table(out)  # checks the invariants
    return out


def inclusion(cohort: Cohort, params: AnalysisParams = PAPER) -> pd.DataFrame:
    """One row per patient of ``patients``: patient_id, included (bool), reason.

    Checks run in order and the first failure names the reason. ``reason`` is an
    ordered categorical whose categories are the checks applied, in order (so a
    flow diagram shows empty boxes too); NA for included patients.

    * ``active_diffuse_skin`` (the paper): no_ivig, not_active_diffuse_skin
      (not active_skin_disease == yes and ssc_subtype == diffuse),
      fewer_cycles_6m (< min_cycles_6m round-1 cycles at offsets 0-5),
      no_baseline_<measure> (no baseline of ``baseline_measure``).
    * ``all_treated``: no_ivig, fewer_cycles_6m, then no_baseline_<measure> only
      when ``baseline_measure`` is non-empty.
    """
    return _inclusion(
        cohort.patients, treatment_summary(cohort, params), baseline_values(cohort, params), params
    )


def _check(condition: bool, message: str) -> None:
    if not condition:  # not `assert`: must hold under python -O too
        raise AssertionError(message)


def _reason_order(reason: pd.Series) -> list[str]:
    if isinstance(reason.dtype, pd.CategoricalDtype):
        return [str(c) for c in reason.cat.categories]
    seen = set(reason.dropna().astype(str))
    rank = {p: i for i, p in enumerate(_REASON_ORDER)}

    def key(code: str) -> tuple[int, str]:
        prefix = next((p for p in _REASON_ORDER if code.startswith(p)), None)
        return (rank.get(prefix, len(rank)), code)

    return sorted(seen, key=key)


def flow_table(inclusion_df: pd.DataFrame, params: AnalysisParams | None = None) -> pd.DataFrame:
    """Ordered boxes of a CONSORT-like flow diagram from :func:`inclusion`.

    Rows: "Patients in the package" (n_remaining = N), one row per exclusion
    reason in check order (n_excluded, n_remaining after it, reason code and
    label) and "Included in the analysis". Raises AssertionError unless every
    patient lands in exactly one box and the boxes add up.
    """
    df = inclusion_df
    reason, included = df["reason"], df["included"].astype(bool)
    _check(df["patient_id"].is_unique, "flow: patient_id is not unique")
    _check(
        bool((included == reason.isna()).all()),
        "flow: every patient must be either included or excluded for one reason",
    )
    n = len(df)
    counts = reason.astype("string").value_counts()
    order = _reason_order(reason)
    _check(set(counts.index) <= set(order), "flow: unknown exclusion reasons")

    rows = [("start", "Patients in the package", pd.NA, pd.NA, n)]
    remaining = n
    for code in order:
        k = int(counts.get(code, 0))
        remaining -= k
        rows.append(("excluded", reason_label(code, params), code, k, remaining))
    rows.append(("included", "Included in the analysis", pd.NA, pd.NA, int(included.sum())))
    out = pd.DataFrame(rows, columns=["kind", "box", "reason", "n_excluded", "n_remaining"])
    out.insert(0, "step", np.arange(len(out)))
    out = out.astype({"reason": "string", "n_excluded": "Int64", "n_remaining": "int64"})
    _check(
        remaining == int(included.sum()),
        f"flow: boxes do not add up ({n} - exclusions = {remaining}, "
        f"included {int(included.sum())})",
    )
    _check(
        int(out["n_excluded"].sum()) + int(included.sum()) == n,
        "flow: excluded + included != patients",
    )
    return out


# ---------------------------------------------------------------- subject level
_PATIENT_COLUMNS = ("center", "sex", "race", "ssc_subtype")


_ANTIBODIES = ("ana", "anti_centromere", "anti_scl70", "anti_rnapol3", "anti_rnp")


_CLINICAL = ("active_skin_disease", "stop_reason", "physician_assessment", "death_date")


_TREATMENT = (
    "first_cycle_date",
    "last_cycle_date",
    "n_rounds",
    "n_cycles",
    "n_cycles_all",
    "treatment_months",
    "cycles_first_6m",
)


def subject_level(cohort: Cohort, params: AnalysisParams = PAPER) -> pd.DataFrame:
    """ADSL-like table, one row per patient of ``patients``, sorted by SUBJSEQ.

    USUBJID (= patient_id; internal, never rendered), SUBJSEQ (anonymous 1..N by
    first cycle date then patient_id; patients without IVIG last), demographics,
    age_at_ivig / age_at_onset (years from 1 July of the birth year, /365.25),
    disease_duration_months (calendar-month offset of the first cycle from onset),
    antibodies, overlap_<x> and indication_<x> flags, clinical columns, the
    treatment summary (NA without IVIG), included and exclusion_reason,
    prior_/concomitant_<drug> flags and BASE_<MEASURE> for every measure.
    """
    return _subject_level(
        cohort, params, treatment_summary(cohort, params), baseline_values(cohort, params)
    )


def _subject_level(
    cohort: Cohort,
    params: AnalysisParams,
    treat: pd.DataFrame,
    base: pd.DataFrame,
    incl: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """:func:`subject_level` from the treatment summary, the baseline values and
    (optionally) the inclusion table already derived."""
    patients = cohort.patients
    adsl = _with_treatment(patients, treat)
    for c in _TREATMENT[2:]:
        adsl[c] = adsl[c].astype("Int64")

    mid_year = _mid_year(patients["birth_year"])
    first = adsl["first_cycle_date"]
    adsl["age_at_ivig"] = _years_between(mid_year, first)
    adsl["age_at_onset"] = _years_between(mid_year, patients["onset_date"])
    adsl["disease_duration_months"] = month_index(first) - month_index(patients["onset_date"])
    lists = [
        _flag_table(cohort.list_column(column), patients["patient_id"], vocab, prefix, "value")
        for column, vocab, prefix in (
            ("overlap", OVERLAP, "overlap_"),
            ("ivig_indication", INDICATION, "indication_"),
        )
    ]
    if incl is None:
        incl = _inclusion(patients, treat, base, params)
    drugs = _drug_exposure(cohort.medications, treat, cohort.has("medications"))

    out = pd.concat(
        [
            adsl[["patient_id", "SUBJSEQ"]].rename(columns={"patient_id": "USUBJID"}),
            patients[list(_PATIENT_COLUMNS)].reset_index(drop=True),
            adsl[["age_at_ivig", "age_at_onset", "disease_duration_months"]],
            patients[list(_ANTIBODIES)].reset_index(drop=True),
            *lists,
            patients[list(_CLINICAL)].reset_index(drop=True),
            adsl[list(_TREATMENT)],
            incl[["included"]].assign(exclusion_reason=incl["reason"]),
        ],
        axis=1,
    )
    out = out.merge(drugs.rename(columns={"patient_id": "USUBJID"}), on="USUBJID", how="left")
    out = out.merge(base.rename(columns={"patient_id": "USUBJID"}), on="USUBJID", how="left")
    drug_columns = [c for c in drugs.columns if c != "patient_id"]
    out[drug_columns] = out[drug_columns].astype("boolean")
    return out.sort_values("SUBJSEQ", ignore_index=True)


# ---------------------------------------------------------------- inclusion, for the analyst
def inclusion_report(
    patients: pd.DataFrame, inclusion_df: pd.DataFrame, params: AnalysisParams
) -> tuple[list[str], list[str]]:
    """What ``validate`` and ``run`` print before anything executes: the flow counts (lines)
    and warnings about patients the inclusion rule excludes because a value it needs is
    blank, each with the way out. Counts only, never patient ids."""
    table = flow_table(inclusion_df, params)
    lines = [f"inclusion flow (inclusion={params.inclusion}):"]
    for r in table.itertuples():
        if r.kind == "excluded":
            lines.append(f"  - excluded: {r.box}: {int(r.n_excluded)}")
        else:
            lines.append(f"  {r.box}: {int(r.n_remaining)}")
    warnings = []
    reason = inclusion_df["reason"].astype("string")
    blank = int((reason == "activity_not_recorded").sum())
    if blank:
        absent = bool(patients["active_skin_disease"].isna().all())
        what = (
            "the package has no active_skin_disease values"
            if absent
            else f"{blank} diffuse patient{'s' if blank != 1 else ''} "
            f"{'have' if blank != 1 else 'has'} no active_skin_disease"
        )
        warnings.append(
            f"{what}: the paper's rule (inclusion=active_diffuse_skin) excludes "
            f"{'them' if blank != 1 else 'this patient'} ({blank} in the flow box "
            "'Diffuse, skin activity not recorded'); --set inclusion=all_treated includes all "
            "treated patients"
        )
    if int(inclusion_df["included"].sum()) == 0 and len(inclusion_df):
        warnings.append(
            "no patient meets the inclusion criteria: the book is still built (cohort flow "
            "and safety), the efficacy chapters say nobody met the criteria; "
            + (
                "--set inclusion=all_treated includes all treated patients"
                if params.inclusion != "all_treated"
                else f"lower min_cycles_6m (now {params.min_cycles_6m}) or "
                "set baseline_measure= (empty) to include more patients"
            )
        )
    return lines, warnings
