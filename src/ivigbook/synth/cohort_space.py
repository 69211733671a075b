"""SYNTHETIC cohort packages of any *shape*: the space of cohorts the book must run on.

``ivigbook synth cohort_space --shape NAME --seed S --out DIR`` writes one of the fixed
shapes of :data:`NAMED`; :func:`generate` / :func:`write` take any :class:`Shape`.
Patients come from the registry generator (:mod:`ivigbook.synth.registry`, blocks of
its seed, so a shape of 30 patients is a prefix of the same shape with 300); the
shape's knobs are then applied as table transformations, each knob drawing from its
own random stream ``default_rng([seed, 0xC5, knob])``. Same shape and seed ->
byte-identical files. Every package with at least one patient validates with zero
errors (warnings allowed); ``patients=0`` writes header-only tables, which the
validator rejects ("no data rows").

Knobs of :class:`Shape` (applied in this order):

* ``patients``: N (0 allowed); ``subtypes``: ``mixed`` as drawn, or only ``diffuse`` /
  only ``limited`` patients (the registry's patients of that subtype);
* ``long_followup``: every treated patient's dates move back by whole years (birth
  year too) so the first cycle is before 2015, then visits every 6 months continue to
  month 120 after the first cycle (values near the patient's last ones);
* ``centres``: 0 = as drawn (60 centres), k = k centres (each used when N >= k);
* ``no_indication``: nobody has these ``ivig_indication`` codes (an emptied list
  becomes ``other``); ``myositis`` also removes overlap myositis;
* ``blank_activity_share``: exactly round(share * N) patients have a blank
  ``active_skin_disease`` (the registry's own blanks are filled first, so 0 = none);
* ``later_rounds=False``: cycles after a gap of >= 3 calendar months are dropped
  (with their adverse events);
* ``early_death_share``: round(share * N) treated patients die 2-13 weeks after the
  first cycle (before any follow-up visit); rows after death are dropped, medications
  stop at death, ``stop_reason`` is ``death``;
* ``followup``: ``natural``; ``pre_only`` (measurements dated on or before the first
  cycle); ``one`` (one follow-up value per patient and measure, drawn); ``none``
  (nothing after the calendar month of the first cycle);
* ``outside_windows``: follow-up visit j (about month 6j) moves to month 6j - 3 (3, 9,
  15, 21, 27, ...): outside every +-2 month window around a multiple of 6 months
  (windows anchored on the first cycle);
* ``date_ties``: some visits get a copy (all measures, values a little off) earlier in
  the same month; some baseline visits move onto the first-cycle day; some follow-up
  values at month 6j +- 1 get a twin at 6j -+ 1 (equal distance to the target). With
  another ``followup`` or ``outside_windows`` only what keeps those knobs true;
* ``absent_measures``: no row of these measure codes;
* ``absent_columns``: optional patient columns left out of the file (groups of
  :data:`COLUMN_GROUPS`);
* ``eligible``: exactly k patients meet the paper's inclusion rule (``PAPER``: active
  diffuse disease, >= 3 round-1 cycles in months 0-5, a baseline mRSS), judged on the
  final tables: others are made to fail one rule each (in turn: inactive, limited (mixed
  subtypes only), one or two cycles only, no baseline mRSS) or, if too few, treated
  patients with a recorded activity are made eligible; ``None`` = as drawn. A shape
  that cannot have k eligible patients (all limited, no mRSS, no activity column, too
  few candidates) raises ``ValueError``;
* ``responders``: ``none`` / ``all``: every mRSS after the month of the first cycle
  falls by less than 5 / by at least 5 points from the patient's last mRSS up to that
  month (the baseline when it lies in the baseline window), by moving values (low
  baselines are raised for ``all``); Medsger skin follows the mRSS of its visit;
* ``empty_tables`` / ``absent_tables``: medications and adverse events written with
  their header only / not written.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, fields, replace
from pathlib import Path

import numpy as np
import pandas as pd

from ivigbook.data.cohort import Cohort
from ivigbook.data.params import PAPER
from ivigbook.data.schema import MEASURES, OPTIONAL_TABLES, TABLES
from ivigbook.derive.adsl import inclusion
from ivigbook.synth import registry
from ivigbook.synth.common import write_text

NAME = "cohort_space"
DEFAULT_SEED = 0
DEFAULT_OUT = "out/cohort_space"
DEFAULT_SHAPE = "typical"
SUPPORTS_PATIENTS = True  # --patients overrides the shape's number of patients

TABLE_NAMES = registry.TABLE_NAMES
#: optional patient columns that ``absent_columns`` may leave out, by group name
COLUMN_GROUPS = {
    "active_skin_disease": ("active_skin_disease",),
    "overlap": ("overlap",),
    "autoantibodies": ("ana", "anti_centromere", "anti_scl70", "anti_rnapol3", "anti_rnp"),
    "stop_reason": ("stop_reason", "stop_detail"),
    "physician_assessment": ("physician_assessment",),
    "death_date": ("death_date",),
}
INDICATIONS = ("skin", "myositis", "gi")
SUBTYPES = ("mixed", "diffuse", "limited")
RESPONDERS = ("natural", "none", "all")
FOLLOWUP = ("natural", "pre_only", "one", "none")
CUTOFF = registry.CUTOFF
LONG_MONTHS = 120  # long_followup: visits to month 120 after the first cycle
_MCID = int(PAPER.responder_mcid)
_LOOKBACK = PAPER.baseline_lookback_months
_KEYS = {
    "patients": ["patient_id"],
    "infusions": ["patient_id", "start_date"],
    "measurements": ["patient_id", "date", "measure"],
    "medications": ["patient_id", "drug", "start_date", "stop_date"],
    "adverse_events": ["patient_id", "onset_date", "term"],
}
_NAT = np.datetime64("NaT", "D")


def _frozen(value) -> frozenset:
    return frozenset((value,) if isinstance(value, str) else value)


@dataclass(frozen=True)
class Shape:
    """A cohort shape: the knobs of the module docstring (defaults: a typical cohort)."""

    patients: int = 30
    subtypes: str = "mixed"
    centres: int = 0
    absent_tables: frozenset[str] = frozenset()
    empty_tables: frozenset[str] = frozenset()
    absent_measures: frozenset[str] = frozenset()
    absent_columns: frozenset[str] = frozenset()
    blank_activity_share: float = 0.0
    no_indication: frozenset[str] = frozenset()
    responders: str = "natural"
    early_death_share: float = 0.0
    later_rounds: bool = True
    followup: str = "natural"
    outside_windows: bool = False
    date_ties: bool = False
    long_followup: bool = False
    eligible: int | None = None

    def __post_init__(self):
        for f in fields(self):
            if f.type == "frozenset[str]":
                object.__setattr__(self, f.name, _frozen(getattr(self, f.name)))
        problems = []

        def check(ok: bool, message: str) -> None:
            if not ok:
                problems.append(message)

        check(int(self.patients) >= 0, "patients must be >= 0")
        check(self.subtypes in SUBTYPES, f"subtypes must be one of {SUBTYPES}")
        check(int(self.centres) >= 0, "centres must be >= 0")
        for name, allowed in (
            ("absent_tables", OPTIONAL_TABLES),
            ("empty_tables", OPTIONAL_TABLES),
            ("absent_measures", tuple(MEASURES)),
            ("absent_columns", tuple(COLUMN_GROUPS)),
            ("no_indication", INDICATIONS),
        ):
            unknown = sorted(getattr(self, name) - set(allowed))
            check(not unknown, f"{name}: unknown {unknown}; allowed {list(allowed)}")
        check(not self.absent_tables & self.empty_tables, "a table cannot be absent and empty")
        check(
            self.absent_measures != frozenset(MEASURES),
            "absent_measures: at least one measure must remain",
        )
        for name in ("blank_activity_share", "early_death_share"):
            check(0.0 <= float(getattr(self, name)) <= 1.0, f"{name} must be between 0 and 1")
        check(self.responders in RESPONDERS, f"responders must be one of {RESPONDERS}")
        check(self.followup in FOLLOWUP, f"followup must be one of {FOLLOWUP}")
        if self.eligible is not None:
            check(0 <= int(self.eligible) <= int(self.patients), "eligible must be in 0..patients")
        if problems:
            raise ValueError("invalid Shape: " + "; ".join(problems))

    def knobs(self) -> dict:
        """The knobs that differ from the defaults (patients always), sets as sorted lists."""
        out = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name == "patients" or value != f.default:
                out[f.name] = sorted(value) if isinstance(value, frozenset) else value
        return out


# ---------------------------------------------------------------------- helpers
def _rng(seed: int, knob: int) -> np.random.Generator:
    return np.random.default_rng([int(seed), 0xC5, knob])


def _d(s: pd.Series) -> np.ndarray:
    """ISO text -> datetime64[D] ('' -> NaT)."""
    return np.asarray(s.to_numpy(dtype=object), dtype="datetime64[D]")


def _iso(d: np.ndarray) -> np.ndarray:
    return registry._iso(np.asarray(d, dtype="datetime64[D]")).astype(object)


def _month(d: np.ndarray) -> np.ndarray:
    """Months since 1970-01 (garbage for NaT: mask it)."""
    return np.asarray(d, dtype="datetime64[D]").astype("datetime64[M]").astype(np.int64)


def _shift_months(d: np.ndarray, k) -> np.ndarray:
    """Dates moved by ``k`` calendar months, day clamped to the month's length."""
    d = np.asarray(d, dtype="datetime64[D]")
    m = d.astype("datetime64[M]")
    day = (d - m.astype("datetime64[D]")).astype(np.int64)
    new = m + np.asarray(k, dtype=np.int64)
    length = ((new + 1).astype("datetime64[D]") - new.astype("datetime64[D]")).astype(np.int64)
    out = new.astype("datetime64[D]") + np.minimum(day, length - 1)
    return np.where(np.isnat(d), _NAT, out)


def _frame(table: str, columns) -> pd.DataFrame:
    return pd.DataFrame(
        {c: np.asarray(v, dtype=object) for c, v in zip(TABLES[table].column_names, columns)}
    )


def _per_row(pids: pd.Series, per_patient: pd.Series, fill):
    """Per-patient values (a Series indexed by patient_id) looked up for each row."""
    return pids.map(per_patient).fillna(fill).to_numpy() if len(pids) else np.array([])


def _first_cycle(t: dict) -> pd.Series:
    """patient_id -> first cycle date (datetime64[D]), treated patients only."""
    inf = t["infusions"]
    first = inf.groupby("patient_id", sort=True)["start_date"].min()
    return pd.Series(_d(first), index=first.index)


def _offsets(t: dict, table: str = "measurements", column: str = "date"):
    """Calendar-month offset of each row from its patient's first cycle, the treated
    mask (offset 0 where untreated) and the first cycle date of each row."""
    frame = t[table]
    first = _first_cycle(t)
    f = np.asarray(frame["patient_id"].map(first), dtype="datetime64[D]")
    treated = ~np.isnat(f)
    off = np.where(treated, _month(_d(frame[column])) - _month(np.where(treated, f, CUTOFF)), 0)
    return off, treated, f


def _numbers(values: np.ndarray, measures: np.ndarray) -> np.ndarray:
    """Measure values clipped to range, rounded and written as the registry writes them."""
    lo = np.array([MEASURES[m].lo for m in measures], dtype=float)
    hi = np.array([MEASURES[m].hi for m in measures], dtype=float)
    decimals = np.array([registry._DECIMALS[m] for m in measures], dtype=np.int64)
    return registry._numbers(np.clip(values, lo, hi), decimals).astype(object)


def _jitter(values: np.ndarray, measures: np.ndarray, rng) -> np.ndarray:
    """Values a little off (one unit of the last decimal or a few %), binary ones kept."""
    step = np.array([10.0 ** -registry._DECIMALS[m] for m in measures])
    binary = np.array([MEASURES[m].integer and MEASURES[m].hi == 1 for m in measures], bool)
    noise = rng.choice((-1.0, 0.0, 1.0), size=len(values)) * np.maximum(step, 0.03 * values)
    return np.where(binary, values, values + noise)


def _drop_after_death(t: dict) -> None:
    """Rows whose required date follows the patient's death: dropped (validity sweep)."""
    p = t["patients"]
    death = pd.Series(_d(p["death_date"]), index=p["patient_id"].to_numpy())
    for table, column in (
        ("infusions", "start_date"),
        ("measurements", "date"),
        ("medications", "start_date"),
        ("adverse_events", "onset_date"),
    ):
        frame = t[table]
        d = np.asarray(frame["patient_id"].map(death), dtype="datetime64[D]")
        t[table] = frame[~(_d(frame[column]) > d)].reset_index(drop=True)
    med = t["medications"]
    d = np.asarray(med["patient_id"].map(death), dtype="datetime64[D]")
    stop = _d(med["stop_date"])
    late = ~np.isnat(d) & (np.isnat(stop) | (stop > d))
    med.loc[late, "stop_date"] = _iso(d[late])


# ---------------------------------------------------------------------- patients
def _pool(shape: Shape, seed: int) -> dict:
    """The shape's N patients from the registry blocks of ``seed`` (ids renumbered);
    at least one of them has IVIG."""
    want = int(shape.patients)
    parts: list[dict] = []
    matched: list[str] = []
    treated: set[str] = set()
    chosen: list[str] = []
    block = 0
    while True:
        raw = registry.generate_block(seed, block, registry.BLOCK, 7)
        part = {name: _frame(name, raw[name]) for name in TABLE_NAMES}
        parts.append(part)
        p = part["patients"]
        ok = (
            np.ones(len(p), bool)
            if shape.subtypes == "mixed"
            else p["ssc_subtype"] == shape.subtypes
        )
        matched += list(p["patient_id"][ok])
        treated |= set(part["infusions"]["patient_id"])
        if len(matched) >= want:
            chosen = matched[:want]
            if any(c in treated for c in chosen):
                break
            extra = [c for c in matched[want:] if c in treated]
            if extra:
                chosen = chosen[:-1] + extra[:1]
                break
        block += 1
    width = max(4, len(str(want)))
    ids = pd.Series([f"S{i + 1:0{width}d}" for i in range(want)], index=chosen)
    t = {}
    for name in TABLE_NAMES:
        frame = pd.concat([part[name] for part in parts], ignore_index=True)
        frame = frame[frame["patient_id"].isin(ids.index)].reset_index(drop=True)
        frame["patient_id"] = frame["patient_id"].map(ids).astype(object)
        t[name] = frame
    return t


def _centres(t: dict, k: int, rng) -> None:
    p = t["patients"]
    n = len(p)
    zipf = 1.0 / np.arange(1, k + 1) ** 0.8
    centre = rng.choice(k, size=n, p=zipf / zipf.sum())
    order = rng.permutation(n)
    centre[order[: min(n, k)]] = np.arange(min(n, k))  # every centre has a patient
    width = max(2, len(str(k)))
    p["center"] = [f"Centre {c + 1:0{width}d}" for c in centre]


def _drop_codes(cells: pd.Series, codes: set[str], empty: str) -> list[str]:
    out = []
    for cell in cells:
        kept = [c for c in cell.split(";") if c and c not in codes]
        out.append(";".join(kept) if kept else (empty if cell else ""))
    return out


def _no_indication(t: dict, codes: frozenset[str]) -> None:
    p = t["patients"]
    p["ivig_indication"] = _drop_codes(p["ivig_indication"], set(codes), "other")
    if "myositis" in codes:
        p["overlap"] = _drop_codes(p["overlap"], {"myositis"}, "")


def _blank_activity(t: dict, share: float, rng) -> None:
    p = t["patients"]
    n = len(p)
    subtype = p["ssc_subtype"].to_numpy()
    p_yes = np.where(subtype == "diffuse", 0.86, np.where(subtype == "limited", 0.15, 0.0))
    drawn = np.where(rng.random(n) < p_yes, "yes", "no")
    active = np.where(p["active_skin_disease"] == "", drawn, p["active_skin_disease"])
    blank = rng.choice(n, size=int(round(share * n)), replace=False)
    active[blank] = ""
    p["active_skin_disease"] = active.astype(object)


def _stop_ongoing(t: dict) -> None:
    """``ongoing`` only for patients whose last cycle is within 100 days of the cut-off."""
    inf, p = t["infusions"], t["patients"]
    last = inf.groupby("patient_id")["start_date"].max()
    last = np.asarray(p["patient_id"].map(last).fillna(""), dtype=object)
    old = np.isnat(_d(pd.Series(last))) | ((CUTOFF - _d(pd.Series(last))).astype(np.int64) >= 100)
    p.loc[(p["stop_reason"] == "ongoing").to_numpy() & old, "stop_reason"] = "stable"


# ---------------------------------------------------------------------- follow-up
def _long_followup(t: dict, rng) -> None:
    """Dates back by whole years (first cycle before 2015), then visits to month 120."""
    first = _first_cycle(t)
    year = first.to_numpy().astype("datetime64[Y]").astype(np.int64) + 1970
    back = pd.Series(
        np.maximum(0, year - 2014) + rng.integers(0, 3, size=len(first)), index=first.index
    )
    p = t["patients"]
    k = p["patient_id"].map(back).fillna(0).astype(np.int64).to_numpy()
    p["birth_year"] = (p["birth_year"].astype(np.int64) - k).astype(str).astype(object)
    for table in TABLE_NAMES:
        frame = t[table]
        shift = -12 * _per_row(frame["patient_id"], back, 0).astype(np.int64)
        for c in TABLES[table].columns:
            if c.kind == "date":
                frame[c.name] = _iso(_shift_months(_d(frame[c.name]), shift))
    _stop_ongoing(t)

    m = t["measurements"]
    off, treated, _ = _offsets(t)
    first = _first_cycle(t)
    last_off = pd.Series(off[treated], index=m["patient_id"][treated]).groupby(level=0).max()
    last_off = last_off.reindex(first.index, fill_value=0)
    start_j = -(-(last_off.to_numpy() + 2) // 6)
    n_new = np.maximum(0, LONG_MONTHS // 6 + 1 - start_j)
    own, pos = registry._expand(n_new)
    visit_off = 6 * (start_j[own] + pos)
    visit_day = rng.integers(1, 29, size=len(own))
    visit_date = _shift_months(
        first.to_numpy()[own].astype("datetime64[M]").astype("datetime64[D]"), visit_off
    )
    visits = pd.DataFrame(
        {"patient_id": first.index[own], "date": _iso(visit_date + (visit_day - 1))}
    )
    # each new visit records the measures of the patient's last visit, near their values
    last_date = m.groupby("patient_id")["date"].transform("max")
    last = m[(m["date"] == last_date).to_numpy()][["patient_id", "measure", "value"]]
    rows = visits.merge(last, on="patient_id", how="inner")
    rows = rows.sort_values(["patient_id", "date", "measure"], kind="stable")
    codes = rows["measure"].to_numpy()
    value = rows["value"].astype(float).to_numpy()
    spread = m.assign(v=m["value"].astype(float)).groupby("measure")["v"].std().fillna(0)
    sd = 0.25 * rows["measure"].map(spread).fillna(0).to_numpy()
    binary = np.array([MEASURES[c].integer and MEASURES[c].hi == 1 for c in codes], bool)
    skewed = np.array([MEASURES[c].skewed for c in codes], bool)
    noise = rng.normal(0, 1, len(value))
    value = np.where(skewed, value * np.exp(0.25 * noise), value + noise * sd)
    value = np.where(binary, value * (rng.random(len(value)) < 0.9), value)
    value = np.where(codes == "RENAL_CRISIS", 0.0, value)
    rows = rows.assign(value=_numbers(value, codes))[TABLES["measurements"].column_names]
    t["measurements"] = pd.concat([m, rows], ignore_index=True)
    # natural deaths follow the last visit
    newest = rows.groupby("patient_id")["date"].max()
    died = p["death_date"] != ""
    after = np.asarray(p["patient_id"].map(newest).fillna(""), dtype=object)
    late = _d(pd.Series(after)) + rng.integers(3, 60, size=len(p))
    old = _d(p["death_date"])
    death = np.where(np.isnat(late) | (old >= late), old, np.minimum(late, CUTOFF))
    p.loc[died, "death_date"] = _iso(death[died.to_numpy()])


def _first_round_only(t: dict) -> None:
    inf = t["infusions"].sort_values(["patient_id", "start_date"], kind="stable")
    month = _month(_d(inf["start_date"]))
    pid = inf["patient_id"].to_numpy()
    new_patient = np.r_[True, pid[1:] != pid[:-1]]
    gap = np.r_[0, np.diff(month)]
    new_round = ~new_patient & (gap >= PAPER.round_gap_months)
    later = pd.Series(new_round).groupby(pid).cumsum().to_numpy() > 0
    t["infusions"] = inf[~later].reset_index(drop=True)
    last = pd.Series(_d(t["infusions"]["start_date"]), index=t["infusions"]["patient_id"])
    last = last.groupby(level=0).max()
    ae = t["adverse_events"]
    limit = np.asarray(ae["patient_id"].map(last), dtype="datetime64[D]") + 7
    t["adverse_events"] = ae[~(_d(ae["onset_date"]) > limit)].reset_index(drop=True)
    _stop_ongoing(t)


def _early_deaths(t: dict, share: float, rng) -> None:
    first = _first_cycle(t)
    k = min(len(first), int(round(share * len(t["patients"]))))
    if not k:
        return
    chosen = np.sort(rng.choice(len(first), size=k, replace=False))
    death = first.iloc[chosen] + rng.integers(14, 92, size=k).astype("timedelta64[D]")
    p = t["patients"]
    at = p["patient_id"].isin(death.index).to_numpy()
    p.loc[at, "death_date"] = _iso(p["patient_id"][at].map(death).to_numpy())
    p.loc[at, "stop_reason"] = "death"
    p.loc[at, ["stop_detail", "physician_assessment"]] = ""
    _drop_after_death(t)


def _followup(t: dict, mode: str, rng) -> None:
    m = t["measurements"]
    off, treated, first = _offsets(t)
    if mode == "pre_only":
        keep = ~treated | (_d(m["date"]) <= first)
    elif mode == "none":
        keep = ~treated | (off <= 0)
    else:  # one follow-up value per patient and measure
        later = treated & (off >= 1)
        draw = pd.Series(rng.random(len(m)))
        key = m["patient_id"] + "|" + m["measure"]
        pick = draw[later].groupby(key[later].to_numpy()).idxmax()
        keep = ~later
        keep[pick.to_numpy()] = True
    t["measurements"] = m[keep].reset_index(drop=True)


def _outside_windows(t: dict) -> None:
    m = t["measurements"]
    off, treated, _ = _offsets(t)
    j = (off + 3) // 6
    target = np.where(treated & (off >= 1) & (j >= 1), 6 * j - 3, off)
    m["date"] = _iso(_shift_months(_d(m["date"]), target - off))
    t["measurements"] = m.drop_duplicates(_KEYS["measurements"]).reset_index(drop=True)


def _date_ties(t: dict, followup: str, outside: bool, rng) -> None:
    m = t["measurements"]
    off, treated, first = _offsets(t)
    date = _d(m["date"])
    # (1) baseline visits of some patients move onto the first-cycle day
    pre = treated & (off <= 0)
    latest = pd.Series(date[pre], index=m["patient_id"][pre]).groupby(level=0).max()
    moving = latest.index[rng.random(len(latest)) < 0.3]
    on_latest = pre & (date == np.asarray(m["patient_id"].map(latest), dtype="datetime64[D]"))
    move = on_latest & m["patient_id"].isin(moving).to_numpy()
    date = np.where(move, first, date)
    # (2) copies of some visits earlier in the same month
    day = (date - date.astype("datetime64[M]").astype("datetime64[D]")).astype(np.int64) + 1
    visit = pd.Series(m["patient_id"].to_numpy() + "|" + _iso(date))
    codes, uniques = pd.factorize(visit)
    copy_visit = rng.random(len(uniques)) < 0.3
    allowed = (day > 1) & ((followup == "natural") | ~treated | (off <= 0))
    copy = copy_visit[codes] & allowed
    back = np.zeros(len(m), np.int64)
    back[copy] = rng.integers(1, np.maximum(day[copy], 2))
    new_dates = [date - back]
    chosen = [copy]
    # (3) twins at equal distance from a follow-up target (6j-1 <-> 6j+1)
    if followup == "natural" and not outside:
        near = treated & (off >= 1) & np.isin(off % 6, (1, 5)) & (rng.random(len(m)) < 0.3)
        shift = np.where(off % 6 == 5, 2, -2)
        twin = _shift_months(date, shift)
        p = t["patients"]
        deaths = pd.Series(_d(p["death_date"]), index=p["patient_id"].to_numpy())
        death = np.asarray(m["patient_id"].map(deaths), dtype="datetime64[D]")
        near &= (twin <= CUTOFF) & ~(twin > death)
        new_dates.append(twin)
        chosen.append(near)
    base = m.assign(date=_iso(date))
    extra = []
    for d, mask in zip(new_dates, chosen):
        rows = base[mask].copy()
        rows["date"] = _iso(d[mask])
        codes_m = rows["measure"].to_numpy()
        rows["value"] = _numbers(
            _jitter(rows["value"].astype(float).to_numpy(), codes_m, rng), codes_m
        )
        extra.append(rows)
    out = pd.concat([base, *extra], ignore_index=True)
    t["measurements"] = out.drop_duplicates(_KEYS["measurements"]).reset_index(drop=True)


def _ensure_measurements(t: dict, absent: frozenset[str]) -> None:
    """A package needs a measurement row: the first treated patient's first remaining
    measure on their first cycle day (only when every row was removed)."""
    if len(t["measurements"]) or not len(t["patients"]):
        return
    first = _first_cycle(t)
    code = next(m for m in MEASURES if m not in absent)
    value = _numbers(np.array([MEASURES[code].lo]), np.array([code]))
    t["measurements"] = _frame(
        "measurements", [[first.index[0]], _iso(first.to_numpy()[:1]), [code], value]
    )


# ---------------------------------------------------------------------- inclusion
def _included(t: dict) -> pd.Series:
    flags = inclusion(Cohort.from_frames(**t), PAPER)
    return pd.Series(flags["included"].to_numpy(bool), index=flags["patient_id"].to_numpy())


def _eligible(t: dict, shape: Shape, rng) -> None:
    """Exactly ``shape.eligible`` patients meet the paper's inclusion rule."""
    want = int(shape.eligible)
    ok = _included(t)
    now = ok.index[ok.to_numpy()]
    if len(now) > want:
        keep = rng.choice(len(now), size=want, replace=False)
        out = np.delete(now.to_numpy(), keep)
        modes = ["inactive"] + (["limited"] if shape.subtypes == "mixed" else [])
        modes += ["few_cycles", "no_baseline"]
        for k, mode in enumerate(modes):
            _demote(t, set(out[k :: len(modes)]), mode, rng)
    elif len(now) < want:
        _promote(t, shape, ok, want - len(now), rng)
    got = int(_included(t).sum())
    if got != want:
        raise RuntimeError(f"cohort_space: {got} eligible patients, wanted {want}")


def _demote(t: dict, pids: set, mode: str, rng) -> None:
    """Make the patients ``pids`` fail one inclusion rule (``mode``)."""
    p, inf, m = t["patients"], t["infusions"], t["measurements"]
    if mode == "inactive":
        p.loc[p["patient_id"].isin(pids), "active_skin_disease"] = "no"
    elif mode == "limited":
        p.loc[p["patient_id"].isin(pids), "ssc_subtype"] = "limited"
    elif mode == "few_cycles":  # keep the first one or two cycles
        inf = inf.sort_values(["patient_id", "start_date"], kind="stable", ignore_index=True)
        rank = inf.groupby("patient_id").cumcount().to_numpy()
        kept = pd.Series(rng.integers(1, 3, size=len(pids)), index=sorted(pids))
        limit = _per_row(inf["patient_id"], kept, np.inf)
        t["infusions"] = inf[rank < limit].reset_index(drop=True)
    else:  # no baseline mRSS
        off, _, _ = _offsets(t)
        gone = m["patient_id"].isin(pids).to_numpy() & (m["measure"] == "MRSS").to_numpy()
        gone &= (off >= -_LOOKBACK) & (off <= 0)
        t["measurements"] = m[~gone].reset_index(drop=True)


def _promote(t: dict, shape: Shape, ok: pd.Series, count: int, rng) -> None:
    """Make ``count`` more patients eligible (diffuse, active, 3 cycles, baseline mRSS)."""
    p = t["patients"]
    if (
        shape.subtypes == "limited"
        or "active_skin_disease" not in p
        or "MRSS" in shape.absent_measures
    ):
        raise ValueError("cohort_space: this shape cannot have eligible patients")
    first = _first_cycle(t)
    active = p.set_index("patient_id")["active_skin_disease"].reindex(first.index) != ""
    fits = np.flatnonzero(active.to_numpy() & ~ok.reindex(first.index).to_numpy(bool))
    if len(fits) < count:
        raise ValueError(f"cohort_space: cannot make {count} more patients eligible")
    chosen = first.iloc[np.sort(rng.choice(fits, size=count, replace=False))]
    f = chosen.to_numpy().astype("datetime64[D]")
    at = p["patient_id"].isin(chosen.index).to_numpy()
    p.loc[at, ["ssc_subtype", "active_skin_disease"]] = ["diffuse", "yes"]
    if "death_date" in p:  # an early death moves to after the third cycle (still < month 3)
        death = _d(p["death_date"])
        soon = p["patient_id"].map(pd.Series(f + 61, index=chosen.index))
        soon = np.asarray(soon, dtype="datetime64[D]")
        late = at & (death < soon)
        p.loc[late, "death_date"] = _iso(soon[late])
    # round 1 restarts with (at least) three cycles 30 days apart
    inf = t["infusions"]
    off, _, _ = _offsets(t, "infusions", "start_date")
    early = inf["patient_id"].isin(chosen.index).to_numpy() & (off <= 5)
    n = pd.Series(early).groupby(inf["patient_id"].to_numpy()).sum()
    n = np.maximum(3, n.reindex(chosen.index, fill_value=0).to_numpy())
    own, pos = registry._expand(n)
    template = inf.groupby("patient_id").first().reindex(chosen.index)
    new = template.iloc[own].reset_index()
    new["start_date"] = _iso(f[own] + 30 * pos)
    t["infusions"] = pd.concat([inf[~early], new[inf.columns]], ignore_index=True)
    # a baseline mRSS on the first-cycle day where there is none
    m = t["measurements"]
    off, _, _ = _offsets(t)
    base = (m["measure"] == "MRSS").to_numpy() & (off >= -_LOOKBACK) & (off <= 0)
    lacking = ~chosen.index.isin(m["patient_id"][base])
    value = np.clip(rng.normal(24, 8, size=int(lacking.sum())), 0, 51).astype(int).astype(str)
    rows = _frame(
        "measurements", [chosen.index[lacking], _iso(f[lacking]), ["MRSS"] * len(value), value]
    )
    t["measurements"] = pd.concat([m, rows], ignore_index=True)
    if "death_date" in p:
        _drop_after_death(t)


# ---------------------------------------------------------------------- outcomes
def _responders(t: dict, mode: str) -> None:
    """Follow-up mRSS above (``none``) or >= 5 below (``all``) the last value up to the
    first cycle's month."""
    m = t["measurements"]
    off, treated, _ = _offsets(t)
    mrss = treated & (m["measure"] == "MRSS").to_numpy()
    value = np.where(mrss, pd.to_numeric(m["value"], errors="coerce"), np.nan)
    pre = mrss & (off <= 0)
    rows = pd.DataFrame({"pid": m["patient_id"][pre], "date": m["date"][pre], "v": value[pre]})
    ref = rows.sort_values(["pid", "date"], kind="stable").groupby("pid")["v"].last()
    if mode == "all":
        lift = np.maximum(0, _MCID + 1 - ref)
        up = _per_row(m["patient_id"], lift, 0.0)
        value = np.where(pre, np.minimum(value + up, 51), value)
        ref = ref + lift
    r = _per_row(m["patient_id"], ref, np.nan).astype(float)
    follow = mrss & (off >= 1) & ~np.isnan(r)
    if mode == "none":
        value = np.where(follow, np.maximum(value, r - (_MCID - 1)), value)
    else:
        value = np.where(follow, np.minimum(value, r - _MCID), value)
    changed = mrss & ~np.isnan(value)
    m.loc[changed, "value"] = _numbers(value[changed], m["measure"].to_numpy()[changed])
    if "physician_assessment" in t["patients"]:
        p = t["patients"]
        wrong = "improved" if mode == "none" else "worse"
        p.loc[p["physician_assessment"] == wrong, "physician_assessment"] = "stable"


def _medsger_skin(t: dict) -> None:
    """Medsger skin of a visit from its mRSS (the registry's grading)."""
    m = t["measurements"]
    key = m["patient_id"] + "|" + m["date"]
    mrss = pd.Series(
        m["value"][m["measure"] == "MRSS"].astype(float).to_numpy(),
        index=key[m["measure"] == "MRSS"].to_numpy(),
    )
    skin = (m["measure"] == "MEDSGER_SKIN").to_numpy() & key.isin(mrss.index).to_numpy()
    grade = np.digitize(key[skin].map(mrss).to_numpy(), (1, 15, 25, 40))
    m.loc[skin, "value"] = grade.astype(str).astype(object)


# ---------------------------------------------------------------------- generate
def _apply(t: dict, shape: Shape, seed: int) -> None:
    """The shape's knobs, in the order of the module docstring."""
    if shape.long_followup:
        _long_followup(t, _rng(seed, 1))
    if shape.centres:
        _centres(t, int(shape.centres), _rng(seed, 2))
    if shape.no_indication:
        _no_indication(t, shape.no_indication)
    _blank_activity(t, float(shape.blank_activity_share), _rng(seed, 3))
    if not shape.later_rounds:
        _first_round_only(t)
    if shape.early_death_share:
        _early_deaths(t, float(shape.early_death_share), _rng(seed, 4))
    if shape.followup != "natural":
        _followup(t, shape.followup, _rng(seed, 5))
    if shape.outside_windows:
        _outside_windows(t)
    if shape.date_ties:
        _date_ties(t, shape.followup, shape.outside_windows, _rng(seed, 6))
        _drop_after_death(t)
    m = t["measurements"]
    t["measurements"] = m[~m["measure"].isin(shape.absent_measures)].reset_index(drop=True)
    _ensure_measurements(t, shape.absent_measures)
    for group in sorted(shape.absent_columns):
        t["patients"] = t["patients"].drop(columns=list(COLUMN_GROUPS[group]))
    if shape.eligible is not None:
        _eligible(t, shape, _rng(seed, 7))
    if shape.responders != "natural":
        _responders(t, shape.responders)
    _medsger_skin(t)


def generate(shape: Shape, seed: int = 0) -> dict[str, pd.DataFrame]:
    """The shape's tables (name -> string frame, contract columns minus the absent ones;
    absent tables left out)."""
    if shape.patients:
        t = _pool(shape, seed)
        _apply(t, shape, seed)
    else:
        t = {name: _frame(name, [[]] * len(TABLES[name].columns)) for name in TABLE_NAMES}
        for group in sorted(shape.absent_columns):
            t["patients"] = t["patients"].drop(columns=list(COLUMN_GROUPS[group]))
    out = {}
    for name in TABLE_NAMES:
        if name in shape.absent_tables:
            continue
        frame = t[name].iloc[:0] if name in shape.empty_tables else t[name]
        frame = frame.sort_values(_KEYS[name], kind="stable").reset_index(drop=True)
        out[name] = frame.astype(str)
    return out


# ---------------------------------------------------------------------- writing
def _csv(frame: pd.DataFrame) -> bytes:
    header = (",".join(frame.columns) + "\n").encode()
    return header + registry._csv_block([frame[c].to_numpy(dtype=object) for c in frame.columns])


def write(
    out_dir: str | os.PathLike,
    shape: Shape | str = DEFAULT_SHAPE,
    seed: int = DEFAULT_SEED,
    patients: int | None = None,
) -> list[Path]:
    """Write the shape's package (CSV files + README.md) into ``out_dir``.

    ``shape`` is a :class:`Shape` or a name of :data:`NAMED`; ``patients`` overrides
    its number of patients. Files of absent tables are removed. Returns the paths
    written, sorted by name.
    """
    name = shape if isinstance(shape, str) else None
    overrides: dict = {}
    if name is not None:
        if name not in NAMED:
            raise ValueError(f"unknown shape {name!r}; choose one of {', '.join(sorted(NAMED))}")
        shape, overrides = NAMED[name]
    if patients is not None:
        shape = _with(shape, int(patients))
    tables = generate(shape, seed)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for table in TABLE_NAMES:
        final = out / TABLES[table].file
        if table not in tables:
            final.unlink(missing_ok=True)
            continue
        tmp = out / f".{final.name}.tmp-{os.getpid()}"
        tmp.write_bytes(_csv(tables[table]))
        tmp.replace(final)
        paths.append(final)
    readme = out / "README.md"
    write_text(readme, _readme(shape, seed, name, overrides, patients))
    paths.append(readme)
    return sorted(paths, key=lambda p: p.name)


def _with(shape: Shape, patients: int) -> Shape:
    eligible = None if shape.eligible is None else min(shape.eligible, patients)
    return replace(shape, patients=patients, eligible=eligible)


def _readme(
    shape: Shape, seed: int, name: str | None, overrides: dict, patients: int | None
) -> str:
    knobs = "\n".join(f"- `{k}`: {v}" for k, v in shape.knobs().items())
    more = "" if patients is None else f" --patients {patients}"
    command = (
        f"`ivigbook synth cohort_space --shape {name}{more} --seed {seed}`"
        if name
        else f"`ivigbook.synth.cohort_space.write(out, shape, seed={seed})`"
    )
    sets = " ".join(f"--set {k}={v}" for k, v in overrides.items())
    run = f"\nRun the book on it with `ivigbook run ... {sets}`.\n" if sets else ""
    return _README.format(
        title=f"shape {name}" if name else "a custom shape",
        seed=seed,
        command=command,
        knobs=knobs,
        run=run,
    )


_README = """# SYNTHETIC cohort of the cohort space: {title} (seed {seed})

Generated by {command}.
Not patient data: every row is drawn at random (patients of the SYNTHETIC registry
generator, `ivigbook.synth.registry`, transformed by the shape's knobs; see
`ivigbook.synth.cohort_space`). For tests that the book runs on every valid cohort.

Shape (knobs that differ from the defaults):

{knobs}
{run}"""


# ---------------------------------------------------------------------- named shapes
_ALL_COLUMNS = frozenset(COLUMN_GROUPS)
#: fixed shapes for full runs: name -> (shape, analysis-parameter overrides for ``--set``)
NAMED: dict[str, tuple[Shape, dict]] = {
    "typical": (Shape(), {}),
    "zero_eligible": (Shape(subtypes="limited"), {}),
    "one_eligible": (Shape(eligible=1), {}),
    "no_myositis": (Shape(no_indication=frozenset({"myositis"})), {}),
    "no_ck": (Shape(absent_measures=frozenset({"CK_UL"})), {}),
    "no_haq": (Shape(absent_measures=frozenset({"HAQ_DI", "HAQ_VAS_SEVERITY"})), {}),
    "no_adverse_events": (Shape(absent_tables=frozenset({"adverse_events"})), {}),
    "all_limited_all_treated": (Shape(subtypes="limited"), {"inclusion": "all_treated"}),
    "single_centre": (Shape(centres=1), {}),
    "large": (Shape(patients=3000), {}),
    "two_patients": (Shape(patients=2, eligible=2), {}),
    "one_patient": (Shape(patients=1, eligible=1), {}),
    "no_activity_column": (
        Shape(absent_columns=frozenset({"active_skin_disease"})),
        {"inclusion": "all_treated"},
    ),
    "minimal_columns": (Shape(absent_columns=_ALL_COLUMNS), {"inclusion": "all_treated"}),
    "blank_activity": (Shape(blank_activity_share=0.5), {}),
    "early_deaths": (Shape(early_death_share=0.3), {}),
    "pre_only": (Shape(followup="pre_only"), {}),
    "no_followup": (Shape(followup="none"), {}),
    "one_followup": (Shape(followup="one"), {}),
    "outside_windows": (Shape(outside_windows=True), {}),
    "date_ties": (Shape(date_ties=True), {}),
    "long_followup": (Shape(long_followup=True), {}),
    "first_round_only": (Shape(later_rounds=False), {}),
    "no_responders": (Shape(responders="none"), {}),
    "all_responders": (Shape(responders="all"), {}),
    "no_optional_tables": (Shape(absent_tables=frozenset(OPTIONAL_TABLES)), {}),
    "empty_optional_tables": (Shape(empty_tables=frozenset(OPTIONAL_TABLES)), {}),
    "only_mrss": (Shape(absent_measures=frozenset(MEASURES) - {"MRSS"}), {}),
    "no_mrss": (Shape(absent_measures=frozenset({"MRSS"})), {"baseline_measure": ""}),
    "multicentre_rules": (
        Shape(patients=60, centres=6),
        {
            "followup_anchor": "last_cycle",
            "followup_months": "3",
            "inclusion": "all_treated",
            "baseline_measure": "",
            "min_cycles_6m": 1,
            "population_by_indication": True,
        },
    ),
}
