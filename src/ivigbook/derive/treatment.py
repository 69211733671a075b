"""Treatment: IVIG cycles and rounds, the per-patient treatment summary, the anonymous
subject sequence, and prior and concomitant drugs.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ivigbook.data.cohort import Cohort
from ivigbook.data.params import PAPER, AnalysisParams
from ivigbook.data.schema import DRUG
from ivigbook.derive.calendar import _months

#: Offsets (months from the first cycle) that count as "the first 6 months".
FIRST_6M_OFFSETS = (0, 5)


def _group_starts(sorted_codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For rows sorted by group code: first-row flag and, per row, its group's first row."""
    n = len(sorted_codes)
    first = np.ones(n, dtype=bool)
    first[1:] = sorted_codes[1:] != sorted_codes[:-1]
    starts = np.flatnonzero(first)
    sizes = np.diff(np.append(starts, n))
    return first, np.repeat(starts, sizes)


# ---------------------------------------------------------------- IVIG cycles
def _cycles(cohort: Cohort, params: AnalysisParams) -> tuple[pd.DataFrame, np.ndarray, pd.Index]:
    """:func:`ivig_cycles` plus each row's patient code and the sorted patient ids."""
    inf = cohort.infusions
    inf = inf[inf["patient_id"].notna() & inf["start_date"].notna()]
    codes, ids = pd.factorize(inf["patient_id"], sort=True)
    start = np.asarray(inf["start_date"]).astype("datetime64[ns]").astype("int64")
    order = np.lexsort((np.arange(len(inf)), start, codes))
    out = inf.iloc[order].reset_index(drop=True)
    group = codes[order]

    month, _ = _months(out["start_date"])
    first, start_row = _group_starts(group)
    gap = np.diff(month, prepend=month[:1])
    new_round = first | (gap >= params.round_gap_months)
    rounds_so_far = np.cumsum(new_round)

    out["cycle_seq"] = np.arange(len(out)) - start_row + 1
    out["round"] = rounds_so_far - rounds_so_far[start_row] + 1
    out["offset"] = month - month[start_row]
    out["in_round1"] = out["round"].to_numpy() == 1
    return out, group, ids


def ivig_cycles(cohort: Cohort, params: AnalysisParams = PAPER) -> pd.DataFrame:
    """One row per infusion with its sequence, round and month offset.

    Columns: patient_id, start_date, dose_g_per_kg, days, cycle_seq (1..k by
    start date, ties in input order), round (a new round starts where consecutive
    cycle start months differ by >= ``params.round_gap_months``), offset (calendar
    months from the patient's first cycle) and in_round1. Sorted by patient_id,
    cycle_seq.
    """
    return _cycles(cohort, params)[0]


def treatment_summary(cohort: Cohort, params: AnalysisParams = PAPER) -> pd.DataFrame:
    """One row per patient with infusions: the round-1 treatment course.

    Columns: patient_id, first_cycle_date, last_cycle_date (last cycle of round 1),
    n_rounds, n_cycles (round 1), n_cycles_all (all rounds), treatment_months
    (offset of the last round-1 cycle + 1) and cycles_first_6m (round-1 cycles at
    offsets 0-5). Sorted by patient_id.
    """
    return _treatment(*_cycles(cohort, params))


def _treatment(cycles: pd.DataFrame, group: np.ndarray, ids: pd.Index) -> pd.DataFrame:
    """:func:`treatment_summary` from the output of :func:`_cycles`."""
    r1 = cycles["in_round1"].to_numpy()
    offset = cycles["offset"].to_numpy()
    start = cycles["start_date"].to_numpy()
    lo, hi = FIRST_6M_OFFSETS
    out = (
        pd.DataFrame(
            {
                "start": start,
                "r1_start": np.where(r1, start, np.datetime64("NaT")),
                "r1": r1,
                "r1_offset": np.where(r1, offset, -1),
                "first6": r1 & (offset >= lo) & (offset <= hi),
                "round": cycles["round"].to_numpy(),
            }
        )
        .groupby(group, sort=True)
        .agg(
            first_cycle_date=("start", "min"),  # the first cycle always opens round 1
            last_cycle_date=("r1_start", "max"),
            n_rounds=("round", "max"),
            n_cycles=("r1", "sum"),
            n_cycles_all=("r1", "size"),
            treatment_months=("r1_offset", "max"),
            cycles_first_6m=("first6", "sum"),
        )
    )
    out["treatment_months"] += 1
    out.insert(0, "patient_id", ids.take(out.index.to_numpy()).array)
    return out.reset_index(drop=True).astype({c: "int64" for c in out.columns[3:]})


def _sequence(patient_ids: pd.Series, first_cycle: pd.Series) -> pd.Series:
    """SUBJSEQ 1..N by first cycle date then patient_id; patients without IVIG last."""
    frame = pd.DataFrame(
        {"patient_id": patient_ids.to_numpy(), "first": pd.to_datetime(first_cycle).to_numpy()}
    )
    order = frame.sort_values(["first", "patient_id"], na_position="last", kind="stable").index
    seq = np.empty(len(frame), dtype="int64")
    seq[order.to_numpy()] = np.arange(1, len(frame) + 1)
    return pd.Series(seq, index=patient_ids.index, name="SUBJSEQ")


def _with_treatment(patients: pd.DataFrame, treat: pd.DataFrame) -> pd.DataFrame:
    """patients (patient_id only) left-joined to the treatment summary, plus SUBJSEQ."""
    out = patients[["patient_id"]].merge(treat, on="patient_id", how="left")
    out.insert(1, "SUBJSEQ", _sequence(out["patient_id"], out["first_cycle_date"]))
    return out


def subject_sequence(cohort: Cohort) -> pd.DataFrame:
    """patient_id -> anonymous SUBJSEQ (sorted by first cycle date then patient_id,
    patients without IVIG last), for every patient of ``patients``."""
    first = cohort.infusions.groupby("patient_id").agg(first_cycle_date=("start_date", "min"))
    return _subject_sequence(cohort.patients, first.reset_index())


def _subject_sequence(patients: pd.DataFrame, first: pd.DataFrame) -> pd.DataFrame:
    """:func:`subject_sequence` from (patient_id, first_cycle_date) rows, e.g. the
    treatment summary (patients without a row have no IVIG)."""
    out = _with_treatment(patients, first[["patient_id", "first_cycle_date"]])
    return out[["patient_id", "SUBJSEQ"]].sort_values("SUBJSEQ", ignore_index=True)


# ---------------------------------------------------------------- medications
def _flag_table(
    pairs: pd.DataFrame, patients: pd.Series, values: tuple[str, ...], prefix: str, column: str
) -> pd.DataFrame:
    """Boolean wide table (one column ``prefix + value``) from (patient_id, value) pairs."""
    wide = (
        pairs[["patient_id", column]]
        .drop_duplicates()
        .assign(_flag=True)
        .pivot(index="patient_id", columns=column, values="_flag")
        .reindex(index=pd.Index(patients.array), columns=list(values))
        .notna()
    )
    wide.columns = [f"{prefix}{v}" for v in values]
    return wide.reset_index(drop=True)


def _drug_exposure(meds: pd.DataFrame, treat: pd.DataFrame, known: bool) -> pd.DataFrame:
    patients = treat["patient_id"]
    m = meds.merge(
        treat[["patient_id", "first_cycle_date", "last_cycle_date"]], on="patient_id", how="inner"
    )
    prior = m["start_date"] < m["first_cycle_date"]
    concomitant = (m["start_date"] <= m["last_cycle_date"]) & (
        m["stop_date"].isna() | (m["stop_date"] >= m["first_cycle_date"])
    )
    flags = pd.concat(
        [
            _flag_table(m[prior], patients, DRUG, "prior_", "drug"),
            _flag_table(m[concomitant], patients, DRUG, "concomitant_", "drug"),
        ],
        axis=1,
    ).astype("boolean")
    if not known:
        flags[:] = pd.NA
    flags.insert(0, "patient_id", patients.array)
    return flags


def drug_exposure(cohort: Cohort, params: AnalysisParams = PAPER) -> pd.DataFrame:
    """One row per patient with infusions: prior_<drug> and concomitant_<drug> for every drug.

    prior = a record starting before the first cycle start date; concomitant = a
    record whose [start_date, stop_date] overlaps the closed interval
    [first cycle start, last round-1 cycle start] (blank stop = ongoing). A record
    can be both. Nullable booleans: all NA when the package has no medications table.
    """
    return _drug_exposure(
        cohort.medications, treatment_summary(cohort, params), cohort.has("medications")
    )
