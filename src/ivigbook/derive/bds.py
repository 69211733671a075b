"""Analysis windows and the analysis-visit table (BDS-like), DESIGN §4.

A *window table* has one row per analysis visit: AVISIT, AVISITN, AWTARGET,
AWLO, AWHI (calendar-month offsets, inclusive) and ANCHOR (``ivig_start`` = the
first cycle, ``last_cycle`` = the last round-1 cycle). The first row is always
the baseline window ("Baseline", anchored on the first cycle). A sensitivity
analysis (tighter or wider windows) is just another window table.

Selection rules, applied per patient and measure (each measure on its own dates):

* offset of a record = month_index(date) - month_index(anchor cycle start);
  the day of the month never matters;
* baseline = the LATEST record with AWLO <= offset <= AWHI (default [-3, 0]; a
  record in the start month counts even if taken after the first infusion);
* follow-up = among records with AWLO <= offset <= AWHI, the smallest
  |offset - AWTARGET|; ties go to the later date (exact duplicates of date and
  measure: the first in input order).

Missing visits: :func:`analysis_visits` has a row for every *candidate* record
(every record inside a window, flagged ``ANL01FL == "Y"`` when chosen), so a
visit without any record in its window simply has no row; the convenience views
(:func:`visit_values`, :func:`wide_change`) turn that into NaN / absence.
Overlapping windows may choose the same record for two visits (allowed).
CHG is missing (NaN) on baseline rows, AVAL - BASE elsewhere (ADaM convention).
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd

from ivigbook.data.cohort import Cohort
from ivigbook.data.lookup import codes, isin
from ivigbook.data.params import ANCHORS, PAPER, AnalysisParams
from ivigbook.data.schema import MEASURES
from ivigbook.derive.calendar import month_index
from ivigbook.derive.treatment import _subject_sequence, treatment_summary

__all__ = [
    "BASELINE",
    "WINDOW_COLUMNS",
    "BDS_COLUMNS",
    "window_table",
    "window_table_from_params",
    "as_window_table",
    "visit_key",
    "analysis_visits",
    "visit_values",
    "wide_change",
]

BASELINE = "Baseline"
WINDOW_COLUMNS = ("AVISIT", "AVISITN", "AWTARGET", "AWLO", "AWHI", "ANCHOR")
BDS_COLUMNS = (
    "USUBJID",
    "SUBJSEQ",
    "PARAMCD",
    "AVISIT",
    "AVISITN",
    "AWTARGET",
    "AWLO",
    "AWHI",
    "ANCHOR",
    "ADT",
    "AOFFSET",
    "AVAL",
    "BASE",
    "CHG",
    "ABLFL",
    "ANL01FL",
)
_INT_COLUMNS = ("AVISITN", "AWTARGET", "AWLO", "AWHI")
_FLAG = ("", "Y")


# ---------------------------------------------------------------- window tables
def _visit_label(month: int, anchor: str) -> str:
    return f"Month {month}" + (" after last cycle" if anchor == "last_cycle" else "")


def window_table(
    followup_months: Iterable[int] = (6, 12, 18, 24),
    halfwidth: int = 2,
    lookback: int = 3,
    anchor: str = "ivig_start",
) -> pd.DataFrame:
    """Baseline window [-lookback, 0] (first cycle) + target ± halfwidth per follow-up month.

    Follow-up rows are "Month <m>" (or "Month <m> after last cycle" when
    ``anchor == "last_cycle"``) with AVISITN = AWTARGET = m.
    """
    rows = [(BASELINE, 0, 0, -int(lookback), 0, "ivig_start")]
    rows += [
        (
            _visit_label(int(m), anchor),
            int(m),
            int(m),
            int(m) - int(halfwidth),
            int(m) + int(halfwidth),
            anchor,
        )
        for m in followup_months
    ]
    return as_window_table(pd.DataFrame(rows, columns=list(WINDOW_COLUMNS)))


def window_table_from_params(
    params: AnalysisParams = PAPER, halfwidth: int | None = None
) -> pd.DataFrame:
    """The window table of the analysis parameters (``halfwidth`` overrides, for sensitivity)."""
    return window_table(
        params.followup_months,
        params.window_halfwidth_months if halfwidth is None else halfwidth,
        params.baseline_lookback_months,
        params.followup_anchor,
    )


def as_window_table(frame: pd.DataFrame) -> pd.DataFrame:
    """Validate and normalise an explicit window table (ValueError listing every problem).

    Needs AVISIT, AVISITN, AWTARGET, AWLO, AWHI (integers, AWLO <= AWTARGET <= AWHI);
    ANCHOR defaults to ``ivig_start``. Exactly one row is "Baseline", anchored on
    ``ivig_start``; AVISIT and AVISITN are unique. Returned baseline first, then by AVISITN.
    """
    missing = [c for c in WINDOW_COLUMNS[:-1] if c not in frame.columns]
    if missing:
        raise ValueError(f"window table lacks columns {missing}")
    wt = frame.copy()
    if "ANCHOR" not in wt.columns:
        wt["ANCHOR"] = "ivig_start"
    wt = wt[list(WINDOW_COLUMNS)].reset_index(drop=True)
    problems = []
    for c in _INT_COLUMNS:
        values = pd.to_numeric(wt[c], errors="coerce")
        if values.isna().any() or (values != values.round()).any():
            problems.append(f"{c} must hold whole months")
        wt[c] = values.fillna(0).round().astype("int64")
    wt["AVISIT"] = wt["AVISIT"].astype("string")
    wt["ANCHOR"] = wt["ANCHOR"].astype("string")
    if not ((wt["AWLO"] <= wt["AWTARGET"]) & (wt["AWTARGET"] <= wt["AWHI"])).all():
        problems.append("every window needs AWLO <= AWTARGET <= AWHI")
    bad_anchor = sorted(set(wt["ANCHOR"].dropna()) - set(ANCHORS)) + (
        ["<blank>"] if wt["ANCHOR"].isna().any() else []
    )
    if bad_anchor:
        problems.append(f"ANCHOR must be one of {ANCHORS}, got {bad_anchor}")
    is_base = (wt["AVISIT"] == BASELINE).fillna(False).to_numpy(dtype=bool)
    if is_base.sum() != 1:
        problems.append(f"exactly one row must be {BASELINE!r}")
    elif (wt.loc[is_base, "ANCHOR"] != "ivig_start").any():
        problems.append("the baseline window is anchored on ivig_start")
    if not (wt["AVISIT"].is_unique and wt["AVISITN"].is_unique):
        problems.append("AVISIT and AVISITN must be unique")
    if problems:
        raise ValueError("invalid window table: " + "; ".join(problems))
    wt["_order"] = np.where(is_base, 0, 1)
    return (
        wt.sort_values(["_order", "AVISITN"], kind="stable")
        .drop(columns="_order")
        .reset_index(drop=True)
    )


def visit_key(avisitn: int) -> str:
    """The one short name of a visit: 'bl' for baseline, 'm6' for month 6. Result keys
    (``skin_mrss_m6_mean``) and the columns of :func:`wide_change` (``CHG_m6``) use it."""
    return "bl" if int(avisitn) == 0 else f"m{int(avisitn)}"


# ---------------------------------------------------------------- analysis visits
def _categorical(codes: np.ndarray, categories) -> pd.Categorical:
    return pd.Categorical.from_codes(codes, categories=pd.Index(list(categories), dtype="string"))


def analysis_visits(
    cohort: Cohort,
    params: AnalysisParams = PAPER,
    windows: pd.DataFrame | None = None,
    measures: Iterable[str] | None = None,
) -> pd.DataFrame:
    """BDS-like analysis-visit table for every patient with IVIG and every measure.

    One row per candidate record (a measurement inside a visit window); the
    chosen record of each (patient, measure, visit) has ANL01FL = "Y" (and
    ABLFL = "Y" for the baseline). Columns: USUBJID (patient_id, internal),
    SUBJSEQ, PARAMCD, AVISIT, AVISITN, AWTARGET, AWLO, AWHI, ANCHOR, ADT, AOFFSET
    (months from the window's anchor cycle), AVAL, BASE (per patient and
    measure; NaN if none), CHG (AVAL - BASE; NaN on baseline rows), ABLFL, ANL01FL.
    PARAMCD, AVISIT, ANCHOR, ABLFL and ANL01FL are categoricals (flags "Y"/"").
    Sorted by SUBJSEQ, measure (schema order), visit, ADT. ``windows`` defaults to
    :func:`window_table_from_params`; ``measures`` restricts the measures.
    """
    wt = window_table_from_params(params) if windows is None else as_window_table(windows)
    return _analysis_visits(
        cohort, wt, _anchors(cohort, treatment_summary(cohort, params)), measures
    )


def _anchors(cohort: Cohort, treat: pd.DataFrame) -> pd.DataFrame:
    """The treatment summary with each treated patient's SUBJSEQ."""
    return treat.merge(_subject_sequence(cohort.patients, treat), on="patient_id")


def _analysis_visits(
    cohort: Cohort, wt: pd.DataFrame, anchors: pd.DataFrame, measures: Iterable[str] | None = None
) -> pd.DataFrame:
    """:func:`analysis_visits` for a validated window table and :func:`_anchors`."""
    rec = _records(cohort.measurements, anchors, measures)
    n_measures = len(rec["measure_order"])

    # candidate rows: loop over the few windows, never over patients
    hits, win, off = [], [], []
    for w, (lo, hi, anchor) in enumerate(zip(wt["AWLO"], wt["AWHI"], wt["ANCHOR"])):
        o = rec["offset_" + anchor]
        hit = np.flatnonzero((o >= lo) & (o <= hi))
        hits.append(hit)
        win.append(np.full(len(hit), w))
        off.append(o[hit])
    hit, win, off = (np.concatenate(a).astype("int64", copy=False) for a in (hits, win, off))
    subj, mcode, date_ns = rec["subj"][hit], rec["mcode"][hit], rec["date_ns"][hit]
    aval = rec["value"][hit]

    is_base = (wt["AVISIT"] == BASELINE).to_numpy(dtype=bool)[win]
    distance = np.where(is_base, 0, np.abs(off - wt["AWTARGET"].to_numpy()[win]))
    subject_measure = subj * n_measures + mcode
    date_rank = _date_rank(date_ns)
    chosen = _first_in_group(subject_measure * len(wt) + win, distance, date_rank)
    base_of = np.full(len(anchors) * n_measures, np.nan)
    base_of[subject_measure[chosen & is_base]] = aval[chosen & is_base]

    seq_of = anchors["SUBJSEQ"].to_numpy("int64")
    show = _sort_order((seq_of[subj] * n_measures + mcode) * len(wt) + win, date_rank)
    # gather each per-row array once in display order (random access is what costs on
    # millions of rows); subject, measure, visit and baseline follow from those
    sm_s, win_s = subject_measure[show], win[show]
    subj_s, mcode_s = np.divmod(sm_s, n_measures)
    flags_s = (chosen.astype("int8") * (1 + is_base))[show]  # 1 chosen, 2 chosen baseline
    aval_s, base_s = aval[show], base_of[sm_s]
    base_win = (wt["AVISIT"] == BASELINE).to_numpy(dtype=bool)
    anchor_codes = pd.Categorical(wt["ANCHOR"], categories=ANCHORS).codes
    out = pd.DataFrame(
        {
            "USUBJID": anchors["patient_id"].array.take(subj_s),
            "SUBJSEQ": seq_of[subj_s],
            "PARAMCD": _categorical(mcode_s, rec["measure_order"]),
            "AVISIT": _categorical(win_s, wt["AVISIT"]),
            **{c: wt[c].to_numpy()[win_s] for c in _INT_COLUMNS},
            "ANCHOR": _categorical(anchor_codes[win_s], ANCHORS),
            "ADT": date_ns[show].view("datetime64[ns]"),
            "AOFFSET": off[show],
            "AVAL": aval_s,
            "BASE": base_s,
            "CHG": np.where(base_win[win_s], np.nan, aval_s - base_s),
            "ABLFL": _categorical((flags_s == 2).astype("int8"), _FLAG),
            "ANL01FL": _categorical((flags_s > 0).astype("int8"), _FLAG),
        },
        copy=False,
    )  # no block consolidation: each column stays its own array
    # plain records (a DataFrame in attrs breaks pandas' attrs comparisons)
    out.attrs["windows"] = [
        {k: (int(v) if k in _INT_COLUMNS else str(v)) for k, v in r.items()}
        for r in wt.to_dict("records")
    ]
    return out


_NS_PER_DAY = 86_400 * 10**9


def _date_rank(date_ns: np.ndarray) -> np.ndarray:
    """Non-negative integers ordered as the dates (ties equal), small when possible.

    Dates of a validated package are midnights: their day numbers (minus the
    first) already rank them, without the sort that ``np.unique`` needs."""
    if len(date_ns) == 0:
        return np.zeros(0, dtype="int64")
    days, rest = np.divmod(date_ns, _NS_PER_DAY)
    if not rest.any():
        return days - days.min()
    return np.unique(date_ns, return_inverse=True)[1].reshape(-1)


def _records(
    meas: pd.DataFrame, anchors: pd.DataFrame, measures: Iterable[str] | None
) -> dict[str, np.ndarray | list[str]]:
    """Measurements of patients with IVIG as arrays, with month offsets from both anchors."""
    present = pd.Index(pd.unique(meas["measure"].dropna()))
    wanted = list(MEASURES) + sorted(set(present) - set(MEASURES))
    if measures is not None:
        selected = set(measures)
        wanted = [m for m in wanted if m in selected]
    mcode = codes(meas["measure"], pd.Index(wanted))
    value = meas["value"].to_numpy("float64")
    date = np.asarray(meas["date"]).astype("datetime64[ns]", copy=False)
    rows = np.flatnonzero((mcode >= 0) & ~np.isnat(date) & ~np.isnan(value))
    if len(rows) < len(meas):  # look patients up only where the measure is wanted
        subj = codes(meas["patient_id"].take(rows), pd.Index(anchors["patient_id"]))
    else:
        subj = codes(meas["patient_id"], pd.Index(anchors["patient_id"]))
    rows, subj = rows[subj >= 0], subj[subj >= 0]
    month = month_index(pd.Series(date[rows])).to_numpy("int64")
    out = {
        "subj": subj,
        "mcode": mcode[rows],
        "value": value[rows],
        "date_ns": date[rows].astype("int64"),
        "measure_order": wanted,
    }
    for anchor, column in (("ivig_start", "first_cycle_date"), ("last_cycle", "last_cycle_date")):
        out["offset_" + anchor] = month - month_index(anchors[column]).to_numpy("int64")[subj]
    return out


def _sort_order(*keys: np.ndarray) -> np.ndarray:
    """Stable argsort by non-negative integer keys, most significant first.

    The keys are packed into one int64 when they fit (one sort instead of a
    slower multi-key ``np.lexsort``)."""
    packed = np.zeros(len(keys[0]), dtype="int64")
    span = 1
    for key in reversed(keys):
        size = int(key.max(initial=0)) + 1
        if span * size >= 2**62:
            return np.lexsort(keys[::-1])
        packed += key * span
        span *= size
    return np.argsort(packed, kind="stable")


def _first_in_group(group: np.ndarray, distance: np.ndarray, date_rank: np.ndarray) -> np.ndarray:
    """Flag the chosen row of each group: smallest distance, then latest date, then input order."""
    order = _sort_order(group, distance, date_rank.max(initial=0) - date_rank)
    g = group[order]
    first = np.ones(len(order), dtype=bool)
    first[1:] = g[1:] != g[:-1]
    chosen = np.zeros(len(order), dtype=bool)
    chosen[order[first]] = True
    return chosen


# ---------------------------------------------------------------- analysis views
def _chosen(bds: pd.DataFrame, paramcd: str, subjects: Iterable[str] | None) -> pd.DataFrame:
    sel = bds[(bds["PARAMCD"] == paramcd).to_numpy(bool) & (bds["ANL01FL"] == "Y").to_numpy(bool)]
    if subjects is not None:
        sel = sel[isin(sel["USUBJID"], list(subjects))]
    return sel


def visit_values(
    bds: pd.DataFrame, paramcd: str, avisit: str | int, subjects: Iterable[str] | None = None
) -> pd.DataFrame:
    """Chosen records of one measure and visit with both BASE and AVAL (paired analyses).

    ``avisit`` is an AVISIT label ("Month 6") or an AVISITN (6); ``subjects``
    optionally restricts to USUBJIDs (e.g. the included patients). Columns:
    USUBJID, SUBJSEQ, BASE, AVAL, CHG; sorted by SUBJSEQ.
    """
    sel = _chosen(bds, paramcd, subjects)
    column = "AVISIT" if isinstance(avisit, str) else "AVISITN"
    sel = sel[
        (sel[column] == avisit).to_numpy(bool)
        & sel["BASE"].notna().to_numpy()
        & sel["AVAL"].notna().to_numpy()
    ]
    return sel[["USUBJID", "SUBJSEQ", "BASE", "AVAL", "CHG"]].sort_values(
        "SUBJSEQ", ignore_index=True
    )


def wide_change(
    bds: pd.DataFrame, paramcd: str, subjects: Iterable[str] | None = None
) -> pd.DataFrame:
    """One row per subject with a chosen record of ``paramcd``: BASE, AVAL_<key>, CHG_<key>.

    ``<key>`` is :func:`visit_key` of each follow-up AVISITN ("m6"); a visit with no
    chosen record is NaN. Visits come from the window table the BDS was built
    with (when still attached) and the visits present. Sorted by SUBJSEQ.
    """
    sel = _chosen(bds, paramcd, subjects)
    subjects_ = sel.groupby("USUBJID", observed=True, sort=False).agg(
        SUBJSEQ=("SUBJSEQ", "first"), BASE=("BASE", "first")
    )
    followup = sel[(sel["AVISIT"] != BASELINE).to_numpy(bool)]
    visits = set(followup["AVISITN"])
    visits |= {w["AVISITN"] for w in bds.attrs.get("windows", []) if w["AVISIT"] != BASELINE}
    out = subjects_
    for value in ("AVAL", "CHG"):
        wide = followup.pivot(index="USUBJID", columns="AVISITN", values=value)
        wide = wide.reindex(index=out.index, columns=sorted(visits))
        out = out.join(wide.rename(columns=lambda n: f"{value}_{visit_key(n)}"))
    ordered = ["SUBJSEQ", "BASE"] + [
        f"{v}_{visit_key(n)}" for n in sorted(visits) for v in ("AVAL", "CHG")
    ]
    return out[ordered].reset_index().sort_values("SUBJSEQ", ignore_index=True)
