"""SYNTHETIC multi-centre registry of any size, for scale tests and benchmarks.

``ivigbook synth registry --patients N --seed S --out DIR`` writes a cohort package
(DESIGN §3, all five tables) shaped like a national scleroderma registry of patients
treated with IVIG. Unlike ``hopkins2015`` and ``spain_multicentre`` it is *not*
calibrated to a publication: it is plausible, valid under the data contract
(``ivigbook validate`` reports zero errors) and big.

Shape (all draws seeded):

* 60 centres of uneven (Zipf-like) size; ~60% diffuse, ~35% limited, ~5% sine
  scleroderma; autoantibodies by subtype (some not tested); overlap diseases;
  IVIG indications (skin, myositis, gi, other, ``;``-lists); stop reasons and the
  physician's assessment follow the patient's course; ~5% die during follow-up.
* IVIG: first cycle between 2008 and 2023 (data cut-off 2024-12-31); round 1 of
  1-24 monthly cycles (some two-monthly), a second round after a gap of 4-12
  months for ~25% of patients and a third for ~8%; ~0.5% of patients have no
  infusion at all (the validator warns; the flow diagram shows them).
* Visits about every 6 months (a few weeks' jitter, some missed) from up to two
  years before the first cycle to the cut-off, death or loss to follow-up, at most
  10 years in all; each visit records several measures (mRSS at almost every
  visit; lung function and HAQ at about half; the nine Medsger scores yearly; CK,
  tendon friction rubs, RVSP, MRC strength and the UCLA GIT score depending on
  the patient's organ involvement). mRSS falls after IVIG by a patient-specific
  amount (about half are responders).
* Medication courses (prior and concomitant) and adverse events after cycles.
* Some patients fail the inclusion rules of the paper (not active diffuse skin
  disease, fewer than 3 cycles in the first 6 months, no baseline mRSS).

Patients are generated in *blocks* of :data:`BLOCK` consecutive patients, each
from its own random stream ``default_rng([seed, block])``; a *chunk* (several
blocks, ``chunk_size`` patients) is generated, formatted and appended to the five
CSV files before the next one, so memory holds one chunk, never the whole
registry. Chunk boundaries fall on block boundaries, so the chunk size never
changes the output: same seed and N -> byte-identical files.
"""

from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np

from ivigbook.data.schema import AE_TERMS, DRUG, MEASURES, STOP_REASON, TABLES
from ivigbook.synth.common import write_text

NAME = "registry"
DEFAULT_SEED = 8
DEFAULT_OUT = "out/registry"
DEFAULT_PATIENTS = 1000
SUPPORTS_PATIENTS = True
#: patients per random stream (fixed: changing it changes the output)
BLOCK = 500
#: patients generated, formatted and written per step
DEFAULT_CHUNK = 10_000

CUTOFF = np.datetime64("2024-12-31", "D")
FIRST_MONTH = (2008 - 1970) * 12  # 2008-01 in months since 1970-01
LAST_MONTH = (2023 - 1970) * 12 + 11  # 2023-12
N_CENTRES = 60
MAX_SPAN_MONTHS = 120  # at most 10 years of visits per patient

TABLE_NAMES = ("patients", "infusions", "measurements", "medications", "adverse_events")

# vocabularies and weights ------------------------------------------------------
_RACE = ("white", "black", "asian", "other", "unknown", "")
_RACE_P = (0.70, 0.12, 0.08, 0.05, 0.03, 0.02)
_SUBTYPE = ("diffuse", "limited", "sine")
_SUBTYPE_P = (0.60, 0.35, 0.05)
_OVERLAP = ("myositis", "sjogren", "ra", "sle", "other")
_OVERLAP_P = (0.14, 0.08, 0.04, 0.03, 0.02)
_INDICATION = ("skin", "myositis", "gi", "other")
_STOP = (*STOP_REASON, "")  # "" = not recorded
_STOP_DETAIL = (
    "patient preference",
    "pregnancy planned",
    "venous access difficult",
    "travel distance",
    "switched to another treatment",
)
_ASSESS = ("improved", "stable", "worse", "")
#: drugs (DRUG order) and the chance that a course is of that drug
_DRUG_P = dict(
    zip(
        DRUG,
        (
            0.22,
            0.09,
            0.04,
            0.24,
            0.10,
            0.04,
            0.01,
            0.01,
            0.01,
            0.02,
            0.02,
            0.01,
            0.01,
            0.04,
            0.02,
            0.12,
        ),
    )
)
#: adverse event terms (a few free-text ones too) and their weights
_AE_TERMS = (
    "headache",
    "fatigue",
    "fever",
    "nausea_emesis",
    "rash_pruritus",
    "arthralgia_myalgia",
    "hypertension",
    "infusion_reaction",
    "aseptic_meningitis",
    "thrombosis",
    "acute_kidney_injury",
    "dyspnea",
    "chest_discomfort",
    "leukopenia",
    "lightheadedness",
    "infection",
    "hemolytic_anemia",
    "flushing",
)
_AE_P = (
    0.28,
    0.14,
    0.07,
    0.08,
    0.06,
    0.06,
    0.04,
    0.06,
    0.02,
    0.01,
    0.01,
    0.03,
    0.02,
    0.02,
    0.03,
    0.03,
    0.01,
    0.03,
)
_AE_SERIOUS = {"aseptic_meningitis", "thrombosis", "acute_kidney_injury", "hemolytic_anemia"}
assert set(_AE_TERMS) - {"flushing"} <= set(AE_TERMS)  # "flushing": free text

_MEDSGER = ("GENERAL", "VASCULAR", "SKIN", "JOINT", "MUSCLE", "GI", "LUNG", "HEART", "KIDNEY")
#: measures in output order (alphabetical: the rows of a visit are sorted by code)
_MEASURE_ORDER = tuple(sorted(MEASURES))
#: decimals written per measure
_DECIMALS = {
    "MRSS": 0,
    "FVC_PCT": 1,
    "DLCO_PCT": 1,
    "HAQ_DI": 3,
    "HAQ_VAS_SEVERITY": 2,
    "CK_UL": 0,
    "RVSP_MMHG": 0,
    "TFR": 0,
    "MRC_STRENGTH": 0,
    "UCLA_GIT_TOTAL": 2,
    "RENAL_CRISIS": 0,
    **{f"MEDSGER_{k}": 0 for k in _MEDSGER},
}


# ---------------------------------------------------------------------- helpers
def _choice(rng: np.random.Generator, values, p, size) -> np.ndarray:
    p = np.asarray(p, dtype=float)
    return np.asarray(values, dtype=object)[rng.choice(len(values), size=size, p=p / p.sum())]


def _expand(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rows of a one-to-many table: owner index and position 0..k-1 within the owner."""
    counts = np.asarray(counts, dtype=np.int64)
    owner = np.repeat(np.arange(len(counts)), counts)
    starts = np.cumsum(counts) - counts
    return owner, np.arange(len(owner)) - starts[owner]


def _month_date(month0: np.ndarray, day: np.ndarray) -> np.ndarray:
    """Date of ``day`` (1-28) in month ``month0`` (months since 1970-01), datetime64[D]."""
    return np.asarray(month0, dtype=np.int64).astype("datetime64[M]").astype("datetime64[D]") + (
        np.asarray(day, dtype=np.int64) - 1
    )


def _iso(d: np.ndarray) -> np.ndarray:
    """ISO text of datetime64[D] values; '' for NaT."""
    text = np.datetime_as_string(d, unit="D")
    return np.where(np.isnat(d), "", text)


def _numbers(values: np.ndarray, decimals: np.ndarray) -> np.ndarray:
    """Text of each value rounded to its own number of decimals (shortest form)."""
    import pyarrow as pa

    out = np.empty(len(values), dtype=object)
    for d in np.unique(decimals):
        at = decimals == d
        v = np.round(values[at], int(d))
        v = np.where(v == 0, 0.0, v)  # no "-0"
        if d == 0:
            out[at] = v.astype(np.int64).astype(str)
        else:
            out[at] = np.asarray(pa.array(v).cast(pa.string()).to_numpy(zero_copy_only=False))
    return out


def _csv_block(columns: list[np.ndarray]) -> bytes:
    """CSV bytes of string columns ('\\n' line ends, never quoted: no separators in values)."""
    import pyarrow as pa
    import pyarrow.csv as pcsv

    if len(columns[0]) == 0:
        return b""
    table = pa.table(
        {
            str(i): pa.array(np.asarray(c, dtype=object), type=pa.string())
            for i, c in enumerate(columns)
        }
    )
    buf = io.BytesIO()
    pcsv.write_csv(table, buf, pcsv.WriteOptions(include_header=False, quoting_style="none"))
    return buf.getvalue()


def _patient_ids(first: int, n: int, width: int) -> np.ndarray:
    return np.char.add("R", np.char.zfill(np.arange(first + 1, first + n + 1).astype(str), width))


# ---------------------------------------------------------------------- one block
def generate_block(seed: int, block: int, size: int, width: int) -> dict[str, list[np.ndarray]]:
    """The rows of patients ``block*BLOCK .. block*BLOCK+size-1`` as string columns per
    table (contract column order, rows sorted as the files are)."""
    rng = np.random.default_rng([int(seed), int(block)])
    n = int(size)
    first_index = block * BLOCK
    pid = _patient_ids(first_index, n, width)

    # ---- patients -------------------------------------------------------------
    zipf = 1.0 / np.arange(1, N_CENTRES + 1) ** 0.8
    centre = rng.choice(N_CENTRES, size=n, p=zipf / zipf.sum()) + 1
    centre_txt = np.char.add("Centre ", np.char.zfill(centre.astype(str), 2))
    sex = np.where(rng.random(n) < 0.83, "F", "M")
    race = _choice(rng, _RACE, _RACE_P, n)
    subtype = rng.choice(3, size=n, p=_SUBTYPE_P)  # 0 diffuse, 1 limited, 2 sine
    diffuse = subtype == 0
    first_month = rng.integers(FIRST_MONTH, LAST_MONTH + 1, size=n)
    first_date = _month_date(first_month, rng.integers(1, 29, size=n))
    age = np.clip(rng.normal(52, 12, n), 18, 85)
    first_year = first_date.astype("datetime64[Y]").astype(np.int64) + 1970
    birth_year = (first_year - np.floor(age)).astype(np.int64)
    duration = np.where(
        diffuse, rng.lognormal(np.log(26), 0.8, n), rng.lognormal(np.log(70), 0.8, n)
    )
    duration = np.clip(np.rint(duration), 1, (first_year - birth_year - 12) * 12).astype(np.int64)
    onset = _month_date(first_month - duration, rng.integers(1, 29, size=n))
    onset = np.where(rng.random(n) < 0.03, np.datetime64("NaT"), onset)  # not recorded

    overlap_bits = np.zeros(n, dtype=np.int64)
    for k, p in enumerate(_OVERLAP_P):
        overlap_bits |= (rng.random(n) < p).astype(np.int64) << k
    myositis = (overlap_bits & 1).astype(bool)
    overlap_txt = np.array(
        [";".join(o for k, o in enumerate(_OVERLAP) if m >> k & 1) for m in range(32)], dtype=object
    )[overlap_bits]

    def antibody(p_pos, p_tested):
        pos = rng.random(n) < p_pos
        tested = rng.random(n) < p_tested
        return np.where(tested, np.where(pos, "pos", "neg"), "")

    ana = antibody(0.92, 0.95)
    acen = antibody(np.where(diffuse, 0.06, 0.42), 0.85)
    scl70 = antibody(np.where(diffuse, 0.38, 0.14), 0.85)
    rnap = antibody(np.where(diffuse, 0.16, 0.03), 0.65)
    rnp = antibody(np.where(myositis, 0.35, 0.07), 0.75)

    active = np.where(
        diffuse, rng.random(n) < 0.86, np.where(subtype == 1, rng.random(n) < 0.15, False)
    )
    active_txt = np.where(rng.random(n) < 0.03, "", np.where(active, "yes", "no"))
    gi = rng.random(n) < 0.13
    ind_bits = (
        (active & (rng.random(n) < 0.93)).astype(np.int64)
        | ((myositis & (rng.random(n) < 0.85)).astype(np.int64) << 1)
        | (gi.astype(np.int64) << 2)
    )
    ind_bits |= ((ind_bits == 0) | (rng.random(n) < 0.04)).astype(np.int64) << 3
    indication_txt = np.array(
        [";".join(o for k, o in enumerate(_INDICATION) if m >> k & 1) for m in range(16)],
        dtype=object,
    )[ind_bits]

    # observation period: history before the first cycle, follow-up after it
    pre_months = rng.integers(0, 25, size=n)
    # jitter moves the first and last visits by at most 2 months and some days: stay within 10 years
    follow = np.clip(rng.gamma(2.0, 26.0, n), 3, MAX_SPAN_MONTHS - 4 - pre_months).astype(np.int64)
    end = np.minimum(_month_date(first_month + follow, rng.integers(1, 29, size=n)), CUTOFF)
    dies = rng.random(n) < 0.05
    death = np.where(dies, end + rng.integers(0, 60, size=n), np.datetime64("NaT"))
    death = np.where(death > CUTOFF, CUTOFF, death)
    end = np.where(dies, np.minimum(end, death - 3), end)
    end = np.maximum(end, first_date)  # IVIG started inside the observation period

    # ---- infusions ------------------------------------------------------------
    no_ivig = rng.random(n) < 0.005
    n1 = np.where(
        rng.random(n) < 0.10, rng.integers(1, 3, size=n), np.clip(rng.poisson(7, n), 3, 24)
    )
    n2 = np.where(rng.random(n) < 0.25, rng.integers(2, 9, size=n), 0)
    n3 = np.where(rng.random(n) < 0.08, rng.integers(2, 7, size=n), 0)
    n3 = np.where(n2 > 0, n3, 0)
    total = np.where(no_ivig, 0, n1 + n2 + n3)
    owner, pos = _expand(total)
    k = len(owner)
    bimonthly = rng.random(n) < 0.12  # some patients are infused every two months
    interval = np.where(
        bimonthly[owner], rng.integers(55, 59, size=k), rng.integers(28, 36, size=k)
    )
    new_round = (pos == n1[owner]) | (pos == (n1 + n2)[owner])
    interval = np.where(new_round, rng.integers(125, 366, size=k), interval)
    interval[pos == 0] = 0
    csum = np.cumsum(interval)
    starts = np.cumsum(total) - total
    offset_days = csum - (csum[starts[owner]] - interval[starts[owner]])
    cycle_date = first_date[owner] + offset_days
    keep = (pos == 0) | (cycle_date <= end[owner])
    owner, pos, cycle_date = owner[keep], pos[keep], cycle_date[keep]
    np.bincount(owner, minlength=n)
    last_cycle = np.full(n, np.datetime64("NaT"), dtype="datetime64[D]")
    last_cycle[owner] = cycle_date  # rows are in date order: the last write wins
    r1_given = np.bincount(owner[pos < n1[owner]], minlength=n)
    dose = np.where(
        rng.random(len(owner)) < 0.85,
        2.0,
        _choice(rng, (1.0, 1.5, 0.4), (0.3, 0.5, 0.2), len(owner)).astype(float),
    )
    days = np.where(
        dose >= 2.0,
        rng.choice((4, 5), size=len(owner), p=(0.3, 0.7)),
        rng.choice((1, 2, 3), size=len(owner)),
    )
    dose_txt = np.where(rng.random(len(owner)) < 0.02, "", _numbers(dose, np.ones(len(dose), int)))
    infusions = [pid[owner], _iso(cycle_date), dose_txt, days.astype(str)]

    # ---- outcome course per patient ---------------------------------------------
    base_mrss = np.where(
        diffuse,
        rng.normal(24, 8, n),
        np.where(subtype == 1, rng.normal(8, 4, n), rng.normal(1, 1, n)),
    )
    base_mrss = np.clip(base_mrss, 0, 48)
    effect = np.where(active & (r1_given >= 3), rng.normal(6.5, 6.0, n), rng.normal(0.5, 2.0, n))
    effect = np.minimum(effect, base_mrss * 0.8)
    pre_slope = np.where(active, rng.normal(0.25, 0.15, n), 0.0)  # mRSS rising before IVIG

    # ---- visits ---------------------------------------------------------------
    n_pre = pre_months // 6
    has_base = rng.random(n) < 0.90
    n_follow = follow // 6
    n_visits = n_pre + has_base + n_follow
    vown, vpos = _expand(n_visits)
    nv = len(vown)
    j = vpos - n_pre[vown]  # <0 before, 0 baseline (if any), >0 follow-up
    j = np.where(has_base[vown], j, j + (j >= 0))  # no baseline visit: follow-ups start at 1
    jitter = rng.choice((-2, -1, 0, 1, 2), size=nv, p=(0.05, 0.2, 0.5, 0.2, 0.05))
    offset = np.where(
        j == 0,
        -rng.choice((0, 1, 2), size=nv, p=(0.5, 0.3, 0.2)),
        6 * j + np.where(j < 0, np.clip(jitter, -1, 1), jitter),
    )
    visit_date = _month_date(first_month[vown] + offset, rng.integers(1, 29, size=nv))
    kept = (visit_date <= end[vown]) & (
        visit_date.astype("datetime64[Y]").astype(np.int64) + 1970 >= birth_year[vown] + 10
    )
    kept &= (j == 0) | (rng.random(nv) >= np.where(j < 0, 0.3, 0.12))  # missed visits
    vown, offset, visit_date = vown[kept], offset[kept], visit_date[kept]
    nv = len(vown)
    t = (visit_date - first_date[vown]).astype(np.int64) / 30.44  # months from the first cycle
    baseline_visit = offset <= 0

    # which measures each visit records (columns in _MEASURE_ORDER)
    present = np.zeros((nv, len(_MEASURE_ORDER)), dtype=bool)
    col = {m: i for i, m in enumerate(_MEASURE_ORDER)}
    u = rng.random((nv, 4))
    pft = u[:, 0] < np.where(baseline_visit, 0.7, 0.5)
    yearly = u[:, 1] < 0.45
    present[:, col["MRSS"]] = rng.random(nv) < np.where(baseline_visit & (offset > -3), 0.95, 0.9)
    present[:, col["FVC_PCT"]] = pft
    present[:, col["DLCO_PCT"]] = pft & (rng.random(nv) < 0.9)
    haq = u[:, 2] < 0.55
    present[:, col["HAQ_DI"]] = haq
    present[:, col["HAQ_VAS_SEVERITY"]] = haq & (rng.random(nv) < 0.85)
    for dom in _MEDSGER:
        present[:, col[f"MEDSGER_{dom}"]] = yearly
    myo_v = myositis[vown]
    gi_v = gi[vown]
    present[:, col["CK_UL"]] = rng.random(nv) < np.where(myo_v, 0.85, 0.3)
    present[:, col["MRC_STRENGTH"]] = myo_v & (rng.random(nv) < 0.7)
    present[:, col["UCLA_GIT_TOTAL"]] = rng.random(nv) < np.where(gi_v, 0.6, 0.12)
    present[:, col["TFR"]] = rng.random(nv) < np.where(diffuse[vown], 0.5, 0.15)
    present[:, col["RVSP_MMHG"]] = u[:, 3] < 0.15
    present[:, col["RENAL_CRISIS"]] = rng.random(nv) < 0.02
    row_visit, row_measure = np.nonzero(present)  # rows sorted by visit, then measure code
    m_own = vown[row_visit]
    tt = t[row_visit]
    after = np.clip(tt, 0, None)
    value = np.zeros(len(row_visit))

    mrss = (
        base_mrss[vown]
        + np.where(t < 0, pre_slope[vown] * t, 0.0)
        - effect[vown] * (1 - np.exp(-np.clip(t, 0, None) / 9.0))
        + rng.normal(0, 2.0, nv)
    )
    mrss = np.clip(np.rint(mrss), 0, 51)

    def fill(code, v):
        at = row_measure == col[code]
        value[at] = v(at)

    fvc0 = np.clip(rng.normal(80, 16, n), 30, 140)
    dlco0 = np.clip(rng.normal(62, 16, n), 20, 120)
    haq0 = np.clip(rng.normal(1.2, 0.7, n), 0, 3)
    ck0 = np.where(myositis, rng.lognormal(np.log(700), 0.9, n), rng.lognormal(np.log(95), 0.5, n))
    mrc0 = np.where(myositis, rng.choice((2, 3, 4, 5), size=n, p=(0.1, 0.3, 0.45, 0.15)), 5)
    ucla0 = np.clip(np.where(gi, rng.normal(1.0, 0.5, n), rng.normal(0.35, 0.3, n)), 0, 3)
    rvsp0 = np.clip(rng.normal(33, 10, n), 15, 110)
    tfr_p = np.where(diffuse, 0.35, 0.05)
    medsger0 = np.clip(rng.poisson(np.where(diffuse, 1.4, 0.8)[:, None], (n, len(_MEDSGER))), 0, 4)
    gain = 1 - np.exp(-after / 9.0)
    fill("MRSS", lambda at: mrss[row_visit[at]])
    fill(
        "FVC_PCT",
        lambda at: np.clip(fvc0[m_own[at]] - 0.04 * tt[at] + rng.normal(0, 3.5, at.sum()), 10, 200),
    )
    fill(
        "DLCO_PCT",
        lambda at: np.clip(dlco0[m_own[at]] - 0.06 * tt[at] + rng.normal(0, 4.5, at.sum()), 5, 200),
    )
    fill(
        "HAQ_DI",
        lambda at: np.clip(
            np.rint((haq0[m_own[at]] - 0.25 * gain[at] + rng.normal(0, 0.2, at.sum())) * 8) / 8,
            0,
            3,
        ),
    )
    fill(
        "HAQ_VAS_SEVERITY",
        lambda at: np.clip(
            haq0[m_own[at]] * 1.1 - 0.3 * gain[at] + rng.normal(0, 0.35, at.sum()), 0, 3
        ),
    )
    fill(
        "CK_UL",
        lambda at: np.clip(
            ck0[m_own[at]]
            * np.where(myositis[m_own[at]], 1 - 0.6 * gain[at], 1.0)
            * rng.lognormal(0, 0.25, at.sum()),
            10,
            100000,
        ),
    )
    fill(
        "MRC_STRENGTH",
        lambda at: np.clip(
            mrc0[m_own[at]] + (gain[at] > rng.random(at.sum())) - (rng.random(at.sum()) < 0.05),
            0,
            5,
        ),
    )
    fill(
        "UCLA_GIT_TOTAL",
        lambda at: np.clip(
            ucla0[m_own[at]] - 0.2 * gain[at] * gi[m_own[at]] + rng.normal(0, 0.15, at.sum()), 0, 3
        ),
    )
    fill("TFR", lambda at: rng.random(at.sum()) < tfr_p[m_own[at]] * (1 - 0.5 * gain[at]))
    fill(
        "RVSP_MMHG",
        lambda at: np.clip(rvsp0[m_own[at]] + 0.05 * tt[at] + rng.normal(0, 4, at.sum()), 0, 150),
    )
    fill("RENAL_CRISIS", lambda at: rng.random(at.sum()) < 0.01)
    skin_grade = np.digitize(mrss, (1, 15, 25, 40))  # Medsger skin from the mRSS
    for d, dom in enumerate(_MEDSGER):
        if dom == "SKIN":
            fill("MEDSGER_SKIN", lambda at: skin_grade[row_visit[at]])
        else:
            fill(
                f"MEDSGER_{dom}",
                lambda at, d=d: np.clip(
                    medsger0[m_own[at], d]
                    + rng.choice((-1, 0, 1), size=at.sum(), p=(0.12, 0.76, 0.12))
                    - (gain[at] > 0.5) * (rng.random(at.sum()) < 0.15),
                    0,
                    4,
                ),
            )
    decimals = np.array([_DECIMALS[m] for m in _MEASURE_ORDER])[row_measure]
    measurements = [
        pid[m_own],
        _iso(visit_date[row_visit]),
        np.asarray(_MEASURE_ORDER, dtype=object)[row_measure],
        _numbers(value, decimals),
    ]

    # ---- adverse events (a few per 100 cycles, within days of a cycle) ------------
    ae_n = rng.poisson(0.07, len(owner))  # adverse events per cycle
    ae_owner_cycle = np.repeat(np.arange(len(owner)), ae_n)
    a_own = owner[ae_owner_cycle]
    onset_ae = cycle_date[ae_owner_cycle] + rng.integers(0, 3, size=len(a_own))
    keep = onset_ae <= np.where(dies, death, CUTOFF)[a_own]
    a_own, onset_ae = a_own[keep], onset_ae[keep]
    term = _choice(rng, _AE_TERMS, _AE_P, len(a_own))
    severe = np.isin(term, list(_AE_SERIOUS))
    serious = rng.random(len(a_own)) < np.where(severe, 0.6, 0.03)
    led = rng.random(len(a_own)) < np.where(severe, 0.5, 0.03)
    stopped_for_ae = np.bincount(a_own[led], minlength=n) > 0
    yn = np.array(["no", "yes"], dtype=object)
    blank = rng.random((len(a_own), 2)) < 0.03
    ae_rows = [
        pid[a_own],
        _iso(onset_ae),
        term,
        np.where(blank[:, 0], "", yn[serious.astype(int)]),
        np.where(blank[:, 1], "", yn[led.astype(int)]),
    ]

    # ---- stop reason and physician's assessment follow the course -----------------
    ongoing = ~no_ivig & ((CUTOFF - last_cycle).astype(np.int64) < 100) & ~dies
    other_p = np.array([0.30, 0.16, 0.14, 0.0, 0.12, 0.06, 0.0, 0.0, 0.07, 0.05])
    stop = _choice(rng, _STOP, other_p, n)
    stop = np.where(effect > 6, np.where(rng.random(n) < 0.6, "improvement", stop), stop)
    stop = np.where(stopped_for_ae, "adverse_event", stop)
    stop = np.where(dies, "death", stop)
    stop = np.where(ongoing, "ongoing", stop)
    stop = np.where(no_ivig, "", stop)
    detail = np.where(
        stop == "other", _choice(rng, _STOP_DETAIL, np.ones(len(_STOP_DETAIL)), n), ""
    )
    assess = np.where(effect > 5, "improved", np.where(effect < -1, "worse", "stable"))
    assess = np.where((rng.random(n) < 0.15) | no_ivig, "", assess)
    # order rows of an AE table like the file: patient, onset, term
    order = np.lexsort((term.astype(str), onset_ae, a_own))
    ae_rows = [c[order] for c in ae_rows]

    patients = [
        pid,
        centre_txt,
        sex,
        race,
        birth_year.astype(str),
        np.asarray(_SUBTYPE, object)[subtype],
        _iso(onset),
        overlap_txt,
        ana,
        acen,
        scl70,
        rnap,
        rnp,
        indication_txt,
        active_txt,
        stop,
        detail,
        assess,
        _iso(death),
    ]

    # ---- medications ------------------------------------------------------------
    n_med = np.clip(rng.poisson(1.8, n), 0, 6)
    mown, _ = _expand(n_med)
    nm = len(mown)
    start = first_date[mown] + np.rint(rng.uniform(-72, 18, nm) * 30.44).astype(np.int64)
    earliest = ((birth_year[mown] + 16 - 1970).astype("datetime64[Y]")).astype("datetime64[D]")
    start = np.clip(start, earliest, end[mown])
    stop_d = start + np.rint(rng.uniform(1, 60, nm) * 30.44).astype(np.int64)
    open_ = (rng.random(nm) < 0.35) | (stop_d > CUTOFF)
    stop_d = np.where(dies[mown], np.minimum(stop_d, death[mown]), stop_d)
    stop_d = np.where(open_ & ~dies[mown], np.datetime64("NaT"), stop_d)
    stop_d = np.where(np.isnat(stop_d) | (stop_d >= start), stop_d, start)
    names = tuple(_DRUG_P)
    alpha = {d: r for r, d in enumerate(sorted(names))}  # rows sort by the drug's text
    rank_of = np.array([alpha[d] for d in names], dtype=np.int64)
    drug_i = rng.choice(
        len(names), size=nm, p=np.array(list(_DRUG_P.values())) / sum(_DRUG_P.values())
    )
    drug = np.asarray(names, dtype=object)[drug_i]
    rank = rank_of[drug_i]
    stop_key = np.where(np.isnat(stop_d), np.iinfo(np.int64).min, stop_d.astype(np.int64))
    order = np.lexsort((stop_key, start.astype(np.int64), rank, mown))
    medications = [pid[mown][order], drug[order], _iso(start)[order], _iso(stop_d)[order]]

    return {
        "patients": patients,
        "infusions": infusions,
        "measurements": measurements,
        "medications": medications,
        "adverse_events": ae_rows,
    }


# ---------------------------------------------------------------------- writing
def _blocks(patients: int) -> list[tuple[int, int]]:
    return [(b, min(BLOCK, patients - b * BLOCK)) for b in range((patients + BLOCK - 1) // BLOCK)]


def write(
    out_dir: str | os.PathLike,
    seed: int = DEFAULT_SEED,
    patients: int = DEFAULT_PATIENTS,
    chunk_size: int = DEFAULT_CHUNK,
) -> list[Path]:
    """Write a registry of ``patients`` patients into ``out_dir`` (five CSVs + README.md).

    Chunks of ``chunk_size`` patients (rounded up to whole blocks of :data:`BLOCK`) are
    generated and appended in turn. The files are written under temporary names and
    renamed when complete. Returns the paths, sorted by name.
    """
    patients = int(patients)
    if patients < 1:
        raise ValueError("patients must be at least 1")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    width = max(7, len(str(patients)))
    per_chunk = max(1, -(-int(chunk_size) // BLOCK))
    blocks = _blocks(patients)
    tmp = {t: out / f".{t}.csv.tmp-{os.getpid()}" for t in TABLE_NAMES}
    handles = {t: open(p, "wb") for t, p in tmp.items()}
    try:
        for t, fh in handles.items():
            fh.write((",".join(TABLES[t].column_names) + "\n").encode())
        for c in range(0, len(blocks), per_chunk):
            parts = [generate_block(seed, b, size, width) for b, size in blocks[c : c + per_chunk]]
            for t in TABLE_NAMES:
                columns = [
                    np.concatenate([p[t][i] for p in parts]) for i in range(len(parts[0][t]))
                ]
                handles[t].write(_csv_block(columns))
            del parts
    except BaseException:
        for fh in handles.values():
            fh.close()
        for p in tmp.values():
            p.unlink(missing_ok=True)
        raise
    for fh in handles.values():
        fh.close()
    paths = []
    for t, p in tmp.items():
        final = out / f"{t}.csv"
        p.replace(final)
        paths.append(final)
    readme = out / "README.md"
    write_text(readme, _README.format(patients=patients, seed=seed))
    paths.append(readme)
    return sorted(paths, key=lambda p: p.name)


_README = """# SYNTHETIC registry cohort ({patients} patients, seed {seed})

Generated by `ivigbook synth registry --patients {patients} --seed {seed}`.
Not patient data: every row is drawn at random (see `ivigbook.synth.registry`).
A multi-centre registry shape for scale tests and benchmarks; not calibrated to any
publication.
"""
