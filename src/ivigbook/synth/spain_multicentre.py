"""SYNTHETIC cohort shaped like the Spanish multicentre IVIG study (78 patients, 18 hospitals).

Source of the targets: a news report on "Immunoglobulins in systemic sclerosis
management. A large multicenter experience" (Autoimmunity Reviews), seed 003;
every printed figure is in ``data/reference/published_spain_multicentre.csv``.
The patient-level data are not public. This module *constructs* a cohort
package (DESIGN §3) on which the book's own pipeline, run with
:data:`ivigbook.data.params.MULTICENTRE` (all treated patients, outcomes of each
indication group at baseline and 3 months after the last round-1 cycle),
reproduces every printed figure at its printed precision.

Construction:

1. **Design by counts** (exact by construction): 18 centres of uneven size,
   sex, subtype, overlap diseases, IVIG indications (see :data:`INDICATION_GROUPS`
   for how 38 + 24 + 17 = 79 memberships and 7 multi-indication patients fit
   78 patients), the multiset of round-1 cycle counts (median 5), the patients
   on each concomitant drug class, adverse events and stop reasons, and who
   misses which follow-up value (:data:`MISSING`).
2. **Seeded draws** for everything else (dates, ages, antibodies, drugs within
   a class, visit schedules, outcome values), then exact calibration: birth
   years are moved one year at a time (:func:`ivigbook.synth.common.integer_search`)
   until the mean age prints as 58.5; outcome values are drawn (CK log-normal)
   and brought to integer sums whose means print as published, separately for
   the patients with and without a follow-up value, so the baseline mean over
   all patients with a baseline *and* over the complete pairs both print as
   published (:func:`ivigbook.synth.common.sums_for_mean`, ``fix_sum``). Draws
   are repeated until the paired t test (and the Stata-style signed-rank test
   for CK and MRC) gives p < 0.05. p-values are never written, only computed.
3. **Visits** are irregular: history before the baseline window, an earlier
   value inside the baseline window (the rule takes the latest), values during
   treatment, decoys inside the follow-up window that the rule must not pick
   (farther from month 3, or as far but earlier), late visits outside the
   window, and one follow-up visit that falls just outside it.

Same seed -> byte-identical files. ``ivigbook synth spain_multicentre --seed 2023``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

from ivigbook.data.cohort import Cohort
from ivigbook.data.params import MULTICENTRE
from ivigbook.data.schema import DRUG_CLASSES, MEASURES, OVERLAP
from ivigbook.data.validate import load_cohort
from ivigbook.derive.context import derive_all
from ivigbook.stats import tests as stats
from ivigbook.stats.printed import round_half_up
from ivigbook.synth import common as C
from ivigbook.synth.common import CalibrationError, Target

NAME = "spain_multicentre"
DEFAULT_SEED = 2023
DEFAULT_OUT = "data/synthetic/spain_multicentre"
N_PATIENTS = 78
N_INCLUDED = 78
CUTOFF = date(2021, 12, 31)  # data collection (IVIG started 2012-2021)
FIRST_START = date(2012, 3, 1)  # earliest first cycle
REFERENCE = "data/reference/published_spain_multicentre.csv"

# ============================================================================ design
#: Patients per centre ("Hospital 01" .. "Hospital 18"), uneven, sums to 78.
CENTRE_SIZES = (12, 9, 8, 7, 6, 5, 5, 4, 4, 3, 3, 3, 2, 2, 2, 1, 1, 1)

#: IVIG indication lists and how many patients have each. Memberships:
#: myositis 32+3+3 = 38, gi 20+3+1 = 24, skin 13+3+1 = 17 (79 in all); 7 patients have
#: exactly two of skin/myositis/gi, so 72 patients have at least one and the other
#: 6 were treated for "other" reasons only (e.g. refractory digital ulcers).
INDICATION_GROUPS = (
    ("myositis", 32),
    ("gi", 20),
    ("skin", 13),
    ("skin;myositis", 3),
    ("myositis;gi", 3),
    ("skin;gi", 1),
    ("other", 6),
)

#: Multiset of round-1 cycle counts (78 values; the 39th and 40th are both 5).
CYCLE_COUNTS = {
    1: 3,
    2: 4,
    3: 8,
    4: 9,
    5: 16,
    6: 10,
    7: 6,
    8: 5,
    9: 3,
    10: 3,
    12: 4,
    14: 2,
    18: 2,
    24: 3,
}

#: Concomitant drug classes: patients on at least one drug of the class during round 1.
CONCOMITANT_N = {"corticosteroids": 54, "immunosuppressants": 52, "biologics": 14}

#: Drug choice within a class (weights by main indication).
IS_WEIGHTS = {  # mycophenolate, methotrexate, azathioprine, cyclophosphamide, leflunomide
    "myositis": (0.42, 0.38, 0.16, 0.02, 0.02),
    "skin": (0.70, 0.12, 0.03, 0.15, 0.00),
    "gi": (0.62, 0.18, 0.14, 0.02, 0.04),
    "other": (0.60, 0.20, 0.10, 0.05, 0.05),
}
IS_DRUGS = ("mycophenolate", "methotrexate", "azathioprine", "cyclophosphamide", "leflunomide")
BIO_WEIGHTS = {  # rituximab, tocilizumab, tnf_inhibitor
    "myositis": (0.75, 0.10, 0.15),
    "skin": (0.40, 0.50, 0.10),
    "gi": (0.50, 0.25, 0.25),
    "other": (0.50, 0.30, 0.20),
}
BIO_DRUGS = ("rituximab", "tocilizumab", "tnf_inhibitor")

#: Adverse events: (role, term, serious, led_to_discontinuation, when). 12 events in
#: 10 patients; D1-D4 stopped IVIG because of an event (D1: the one serious event).
AE_DESIGN = (
    ("D1", "thrombosis", "yes", "yes", "last"),
    ("D2", "infusion_reaction", "no", "yes", "last"),
    ("D3", "rash_pruritus", "no", "yes", "last"),
    ("D4", "headache", "no", "no", "first"),
    ("D4", "hypertension", "no", "yes", "last"),
    ("N1", "headache", "no", "no", "first"),
    ("N1", "fever", "no", "no", "any"),
    ("N2", "headache", "no", "no", "any"),
    ("N3", "infusion_reaction", "no", "no", "first"),
    ("N4", "rash_pruritus", "no", "no", "any"),
    ("N5", "nausea_emesis", "no", "no", "any"),
    ("N6", "fatigue", "no", "no", "any"),
)
AE_DETAIL = {
    "D1": "deep vein thrombosis after a cycle",
    "D2": "infusion reaction",
    "D3": "rash after infusions",
    "D4": "hypertension during infusions",
}

#: Stop reasons of the patients without a designed role (65 = 78 - 4 AE - 2 deaths
#: - 1 moved - 6 ongoing).
STOP_COUNTS = {"improvement": 30, "stable": 17, "progressing": 11, "other": 7}
OTHER_DETAIL = (
    "IVIG supply shortage",
    "patient preference",
    "switched to another therapy",
    "scheduled surgery",
    "venous access problems",
    "patient preference",
    "treating physician decision",
)

#: Missing follow-up values (each measure is windowed on its own dates):
#: myositis group: 2 without any follow-up visit (one died, one moved), 1 without CK at the
#: follow-up visit -> CK pairs 35/38, MRC at month 3 in 36/38;
#: skin group: 1 whose follow-up visit fell 6 months after the last cycle (outside the
#: +/-2-month window) -> mRSS pairs 16/17; gi group: 1 died before follow-up, 1 did not
#: complete the UCLA GIT questionnaire -> UCLA pairs 22/24.
MISSING = {
    "death": ("myositis", "gi"),
    "moved": ("myositis",),
    "no_ck_fu": ("myositis",),
    "late_fu": ("skin",),
    "no_ucla_fu": ("gi",),
}
N_ROUND2 = 8  # patients with a second IVIG round (6 of them ongoing at cut-off)
N_ONGOING = 6
#: MRC at month 3: patients (of those with a value) with grade < 3.
MRC_BELOW3_M3 = 3

#: Published figures (value, decimals) this generator calibrates, from the reference file.
PUBLISHED = {
    "cohort_n": (78, 0),
    "table1_female_n": (64, 0),
    "table1_male_n": (14, 0),
    "table1_age_mean": (58.5, 1),
    "cohort_centers_n": (18, 0),
    "table1_subtype_diffuse_n": (46, 0),
    "table1_subtype_diffuse_pct": (59, 0),
    "table1_subtype_limited_n": (32, 0),
    "table1_subtype_limited_pct": (41, 0),
    "table1_overlap_any_pct": (50, 0),
    "table1_overlap_myositis_pct": (41, 0),
    "table1_overlap_sjogren_pct": (6, 0),
    "table1_indication_myositis_pct": (49, 0),
    "table1_indication_gi_pct": (31, 0),
    "table1_indication_skin_pct": (22, 0),
    "table1_indication_multiple_n": (7, 0),
    "table1_indication_multiple_pct": (9, 0),
    "treat_cycles_median": (5, 0),
    "treat_concomitant_corticosteroids_pct": (69, 0),
    "treat_concomitant_immunosuppressants_pct": (67, 0),
    "treat_concomitant_biologics_pct": (18, 0),
    "method_followup_months_after_last_cycle": (3, 0),
    "method_mrc_grade_max": (5, 0),
    "method_mrc_grade_min": (0, 0),
    "myositis_mrc_3to5_m3_pct": (92, 0),
    "myositis_ck_bl_mean": (1149, 0),
    "myositis_ck_m3_mean": (217, 0),
    "skin_mrss_bl_mean": (15, 0),
    "skin_mrss_m3_mean": (13, 0),
    "skin_mrss_change_m3_mean": (-2, 0),
    "gi_ucla_git_bl_mean": (1.06, 2),
    "gi_ucla_git_m3_mean": (0.78, 2),
    "safety_events_n": (12, 0),
    "safety_patients_any_n": (10, 0),
    "safety_patients_discontinued_n": (4, 0),
    "safety_patients_serious_discontinued_n": (1, 0),
}

#: Decimals of the ``value`` column per measure.
VALUE_DECIMALS = {
    "MRSS": 0,
    "FVC_PCT": 0,
    "DLCO_PCT": 0,
    "HAQ_DI": 3,
    "CK_UL": 0,
    "MRC_STRENGTH": 0,
    "UCLA_GIT_TOTAL": 2,
}

ASSUMPTIONS = [
    "Every figure is computed by the book's pipeline with `params.MULTICENTRE`: all 78 treated "
    "patients form the analysis set; outcomes are analysed in the patients treated for the "
    "matching indication (myositis: CK and MRC; skin: mRSS; gi: UCLA GIT 2.0 total); baseline = "
    "latest value from 3 months before to the month of the first cycle; follow-up = the value "
    "closest to 3 months after the last round-1 cycle within +/-2 months (ties to the later date).",
    "Indications: the report's 49% / 31% / 22% and '7 (9%) with more than one' are read as "
    "38 / 24 / 17 of 78 (79 memberships). The 7 multi-indication patients each have exactly two "
    "of skin/myositis/gi (3 skin+myositis, 3 myositis+gi, 1 skin+gi), so 72 patients have at "
    "least one of the three and the remaining 6 were treated for 'other' indications only. No "
    "patient combines 'other' with skin/myositis/gi, so 'more than one indication' is 7 whether "
    "or not 'other' is counted.",
    "Overlap: 39 patients (50%) have an overlap disease: myositis 32 (41.0% of 78; 30 of them "
    "treated for myositis, 2 for GI involvement), Sjogren 5 (6.4% of 78; 2 together with "
    "myositis), rheumatoid arthritis 2, SLE 1, other 1. Percentages use all 78 as denominator.",
    "Age is taken at the first IVIG cycle (the report does not say), from 1 July of the birth "
    "year as the pipeline does; only the mean (58.5) is published, the spread (drawn with SD 12) "
    "is invented.",
    "Cycles: monthly cycles of 2 g/kg (a few at 1 g/kg) over 2-5 days; a skipped month now and "
    "then keeps a round together; 8 patients have a second round (6 months or more after round 1; "
    "6 of them still on IVIG at the data cut-off, stop reason 'ongoing'). Only round 1 is "
    "analysed, median 5 cycles (range 1-24).",
    "Concomitant = a course overlapping [first cycle, last round-1 cycle]: prednisone 54 (69.2%), "
    "immunosuppressants 52 (66.7%; mycophenolate the most common), biologics 14 (17.9%: "
    "rituximab, tocilizumab, TNF inhibitors). Courses that stopped before IVIG (prior only) and "
    "hydroxychloroquine are added for realism and do not change these counts.",
    "CK: the published means 1149 and 217 are met both over all myositis-indication patients "
    "with a value (38 at baseline, 35 at month 3) and over the 35 complete pairs. Values are "
    "log-normal-like; SDs, medians and the spread are invented.",
    "MRC: integer grades 0-5 (modified MRC, global grade); 33 of the 36 myositis-indication "
    "patients with a month-3 grade have grade 3-5 (91.7%, printed 92%). Baseline grades are "
    "lower (Wilcoxon p < 0.05). The report's denominator is not stated; the myositis group is "
    "assumed.",
    "mRSS: 17 skin-indication patients (all diffuse), 16 with a month-3 score; means 15.0 -> 13.0, "
    "mean change -2.0 (paired t p < 0.05). SDs invented.",
    "UCLA GIT 2.0 total: 24 GI-indication patients, 22 pairs; 1.06 -> 0.78 over the pairs, 1.06 "
    "also over all 24 baselines (paired t p < 0.05). Two decimals. SDs invented.",
    "Patients outside an indication group also carry some of these measures (mRSS in other "
    "diffuse and limited patients, normal CK in some, UCLA GIT in a few): realistic, and a check "
    "that the pipeline restricts each outcome to its indication group.",
    "Missing follow-up (the report gives no Ns): 2 myositis patients have no follow-up visit "
    "(one died about a month after the last cycle, one moved away) and 1 had no CK drawn at the "
    "follow-up visit (CK 35 of 38, MRC 36 of 38 at month 3); 1 skin patient was seen 6 months "
    "after the last cycle, outside the +/-2-month window (16 of 17); 1 GI patient died before "
    "follow-up and 1 did not complete the UCLA GIT questionnaire (22 of 24). Every patient "
    "treated for an indication has a baseline value of its measure.",
    "IVIG started between 2012 and 2021; data cut-off 31 December 2021. Patient identifiers "
    "(ES####) are random pseudonyms.",
    "FVC and DLCO (% predicted) and HAQ-DI are invented for realism, not calibrated.",
    "Adverse events: 12 events in 10 patients; 4 patients stopped IVIG because of an event "
    "(stop reason adverse_event), one of them for the only serious event (thrombosis). Terms are "
    "invented (the report names none). Other stop reasons, physician assessments (blank for "
    "about a third), race (mostly white), autoantibodies (blank = not tested), onset dates and "
    "centre sizes are invented but plausible.",
]


# ============================================================================ helpers
def _rng(seed: int, *stream: int) -> np.random.Generator:
    """Independent seeded stream per component (a change in one leaves the others)."""
    return np.random.default_rng([int(seed), *stream])


def _day(rng, lo: int = 1, hi: int = 28) -> int:
    return int(rng.integers(lo, hi + 1))


def _to_sum(
    x: np.ndarray, total: int, lo: int, hi: int, rng: np.random.Generator, scale: bool = True
) -> np.ndarray:
    """Integers near ``x`` (scaled multiplicatively, or shifted) that sum to ``total``."""
    x = np.asarray(x, dtype=float)
    y = x * (total / x.sum()) if scale else x + (total - x.sum()) / len(x)
    return C.fix_sum(np.clip(np.rint(y), lo, hi).astype(np.int64), int(total), lo, hi, rng)


@dataclass
class Pt:
    """One designed patient (internal)."""

    i: int
    pid: str = ""
    center: str = ""
    indication: str = ""
    main: str = ""  # first of myositis/skin/gi/other (drug weights)
    sex: str = "F"
    race: str = "white"
    subtype: str = "limited"
    overlap: tuple[str, ...] = ()
    roles: set = field(default_factory=set)
    n_cycles: int = 0
    offsets: list[int] = field(default_factory=list)
    round2: list[int] = field(default_factory=list)
    first: date | None = None
    cycle_dates: list[date] = field(default_factory=list)
    r2_dates: list[date] = field(default_factory=list)
    birth_year: int = 0
    onset: date | None = None
    death: date | None = None
    ab: dict = field(default_factory=dict)
    active_skin: str = "no"
    stop: str = ""
    detail: str = ""
    assess: str = ""
    visits: dict = field(default_factory=dict)  # name -> date
    fu_month: int | None = None  # offset from the last cycle of the follow-up visit
    measures: set = field(default_factory=set)

    @property
    def inds(self) -> tuple[str, ...]:
        return tuple(self.indication.split(";"))

    def has(self, ind: str) -> bool:
        return ind in self.inds

    @property
    def last(self) -> date:
        return self.cycle_dates[-1]


class Builder:
    """Builds the cohort for one seed (see the module docstring)."""

    def __init__(self, seed: int = DEFAULT_SEED):
        self.seed = int(seed)
        self.pts = [Pt(i) for i in range(N_PATIENTS)]
        self.infusions: list[dict] = []
        self.measurements: list[dict] = []
        self.medications: list[dict] = []
        self.adverse_events: list[dict] = []
        self.values: dict[str, dict[int, tuple[float, float | None]]] = {}

    def group(self, ind: str) -> list[Pt]:
        return [p for p in self.pts if p.has(ind)]

    # ------------------------------------------------------------------ 1. design by counts
    def design(self) -> None:
        rng = _rng(self.seed, 1)
        inds = [g for g, k in INDICATION_GROUPS for _ in range(k)]
        for p, g in zip(self.pts, rng.permutation(np.array(inds, dtype=object))):
            p.indication = str(g)
            p.main = next(x for x in ("myositis", "skin", "gi", "other") if p.has(x))
        ids = rng.permutation(np.arange(101, 101 + 3 * N_PATIENTS))[:N_PATIENTS]
        centres = [f"Hospital {k + 1:02d}" for k, n in enumerate(CENTRE_SIZES) for _ in range(n)]
        centres = rng.permutation(np.array(centres, dtype=object))
        for p, k, c in zip(self.pts, ids, centres):
            p.pid = f"ES{int(k):04d}"
            p.center = str(c)
        # subtype: every skin-indication patient is diffuse; 29 more diffuse among the rest
        skin = [p for p in self.pts if p.has("skin")]
        rest = [p for p in self.pts if not p.has("skin")]
        for p in skin:
            p.subtype = "diffuse"
        for k in rng.choice(len(rest), 46 - len(skin), replace=False):
            rest[int(k)].subtype = "diffuse"
        # sex: 14 men
        for k in rng.choice(N_PATIENTS, 14, replace=False):
            self.pts[int(k)].sex = "M"
        # race (Spain): mostly white
        races = ["white"] * 73 + ["other"] * 3 + ["black"] + ["unknown"]
        for p, r in zip(self.pts, rng.permutation(np.array(races, dtype=object))):
            p.race = str(r)
        # overlap: myositis 32 (30 treated for myositis, 2 for GI only), Sjogren 5 (2 with
        # myositis), RA 2, SLE 1, other 1 -> 39 with any overlap
        myo = [p for p in self.pts if p.has("myositis")]
        gi_only = [p for p in self.pts if p.indication == "gi"]
        myo_ov = [myo[int(k)] for k in rng.choice(len(myo), 30, replace=False)]
        myo_ov += [gi_only[int(k)] for k in rng.choice(len(gi_only), 2, replace=False)]
        ov = {p.i: ["myositis"] for p in myo_ov}
        for k in rng.choice(len(myo_ov), 2, replace=False):
            ov[myo_ov[int(k)].i].append("sjogren")
        free = [p for p in self.pts if p.i not in ov]
        extra = ["sjogren"] * 3 + ["ra"] * 2 + ["sle", "other"]
        for p, o in zip(
            [free[int(k)] for k in rng.choice(len(free), len(extra), replace=False)], extra
        ):
            ov[p.i] = [o]
        for p in self.pts:
            p.overlap = tuple(o for o in OVERLAP if o in ov.get(p.i, []))

    # ------------------------------------------------------------------ 2. cycles and roles
    def roles(self) -> None:
        rng = _rng(self.seed, 2)
        counts = [k for k, n in CYCLE_COUNTS.items() for _ in range(n)]
        for p, k in zip(self.pts, rng.permutation(counts)):
            p.n_cycles = int(k)
        taken: set[int] = set()

        def pick(pool: list[Pt], role: str) -> Pt:
            pool = [p for p in pool if p.i not in taken]
            if not pool:
                raise CalibrationError(f"no patient eligible for role {role}")
            p = pool[int(rng.integers(len(pool)))]
            p.roles.add(role)
            taken.add(p.i)
            return p

        single = {g: [p for p in self.pts if p.indication == g] for g in ("myositis", "skin", "gi")}
        for role, groups in MISSING.items():
            for g in groups:
                pick([p for p in single[g] if role != "death" or p.n_cycles >= 2], role)
        # second rounds (the first N_ONGOING still on IVIG at the cut-off)
        for k in range(N_ROUND2):
            pick(
                [p for p in self.pts if 3 <= p.n_cycles <= 12],
                "ongoing" if k < N_ONGOING else "round2",
            )
        # adverse events
        for role in sorted({r for r, *_ in AE_DESIGN}):
            lo = 2 if role in ("D4", "N1") else 1
            pick([p for p in self.pts if lo <= p.n_cycles <= (8 if role[0] == "D" else 24)], role)

    # ------------------------------------------------------------------ 3. timeline
    def timeline(self) -> None:
        rng = _rng(self.seed, 3)
        cut = C.month_index(CUTOFF)
        start = C.month_index(FIRST_START)
        for p in self.pts:
            offs = [0]
            skips = 0
            for _ in range(p.n_cycles - 1):
                gap = 2 if (p.n_cycles >= 4 and skips < 2 and rng.random() < 0.12) else 1
                skips += gap == 2
                offs.append(offs[-1] + gap)
            p.offsets = offs
            L = offs[-1]
            if p.roles & {"ongoing", "round2"}:
                g2 = int(rng.integers(6, 15))
                n2 = int(rng.integers(2, 7))
                p.round2 = [L + g2 + k for k in range(n2)]
            if "ongoing" in p.roles:
                first_m = cut - p.round2[-1] - int(rng.integers(0, 2))
            else:
                span = (p.round2[-1] + 2) if p.round2 else (L + 10)
                first_m = int(rng.integers(start, cut - span + 1))
            d0 = _day(rng, 1, 28)
            p.first = C.month_date(date(2000, 1, 1), first_m - C.month_index(date(2000, 1, 1)), d0)
            p.cycle_dates = [p.first] + [
                C.month_date(p.first, o, min(28, max(1, d0 + int(rng.integers(-4, 5)))))
                for o in offs[1:]
            ]
            p.r2_dates = [
                C.month_date(p.first, o, min(28, max(1, d0 + int(rng.integers(-4, 5)))))
                for o in p.round2
            ]
            if "death" in p.roles:
                p.death = p.last + timedelta(days=int(rng.integers(20, 50)))
            usual = int(rng.choice([5, 5, 5, 4, 3, 2, 2]))  # days per cycle at this centre
            for k, d in enumerate(p.cycle_dates + p.r2_dates):
                self.infusions.append(
                    {
                        "patient_id": p.pid,
                        "start_date": d,
                        "dose_g_per_kg": 1.0 if (k > 0 and rng.random() < 0.05) else 2.0,
                        "days": usual if rng.random() < 0.85 else int(rng.integers(2, 6)),
                    }
                )

    # ------------------------------------------------------------------ 4. demographics
    def demographics(self) -> None:
        rng = _rng(self.seed, 4)
        first = np.array([p.first.toordinal() for p in self.pts], dtype=float)
        age0 = rng.normal(0.0, 12.0, N_PATIENTS)
        age0 = np.clip(age0 - age0.mean() + 58.5, 24, 83)
        years = np.array([p.first.year for p in self.pts])
        by0 = np.rint(
            years + (first - np.array([date(y, 7, 1).toordinal() for y in years])) / 365.25 - age0
        ).astype(np.int64)
        mid = {y: date(int(y), 7, 1).toordinal() for y in range(1920, 2000)}

        def ages(by: np.ndarray) -> np.ndarray:
            return (first - np.array([mid[int(b)] for b in by])) / 365.25

        target = Target.printed("mean age at IVIG", lambda by: float(np.mean(ages(by))), 58.5, 1)
        by = C.integer_search(by0, by0 - 5, by0 + 5, [target], rng)
        if C.failing([target], by):
            raise CalibrationError("; ".join(C.failing([target], by)))
        a = ages(by)
        if a.min() < 20 or a.max() > 88:
            raise CalibrationError("ages out of the plausible range")
        for p, b, ag in zip(self.pts, by, a):
            p.birth_year = int(b)
            # onset 1-15 years before the first cycle, at 16 years of age or later
            months = int(rng.integers(12, 181))
            months = min(months, int((ag - 16) * 12))
            p.onset = C.month_date(p.first, -months, _day(rng))
            # autoantibodies (blank = not tested)
            ab = {"ana": "pos" if rng.random() < 0.95 else "neg"}
            if rng.random() < 0.02:
                ab["ana"] = ""
            if p.subtype == "diffuse":
                probs = {"anti_scl70": 0.42, "anti_rnapol3": 0.10, "anti_centromere": 0.05}
            else:
                probs = {"anti_scl70": 0.12, "anti_rnapol3": 0.03, "anti_centromere": 0.48}
            u = rng.random()
            pos = None
            acc = 0.0
            for k, pr in probs.items():
                acc += pr
                if pos is None and u < acc:
                    pos = k
            ab["anti_centromere"] = "pos" if pos == "anti_centromere" else "neg"
            ab["anti_scl70"] = "pos" if pos == "anti_scl70" else "neg"
            tested3 = pos == "anti_rnapol3" or rng.random() < 0.6
            ab["anti_rnapol3"] = ("pos" if pos == "anti_rnapol3" else "neg") if tested3 else ""
            rnp_p = 0.25 if "myositis" in p.overlap or "sle" in p.overlap else 0.05
            ab["anti_rnp"] = (
                ("pos" if rng.random() < rnp_p else "neg") if rng.random() < 0.85 else ""
            )
            p.ab = ab
            p.active_skin = (
                "yes" if p.has("skin") or (p.subtype == "diffuse" and rng.random() < 0.25) else "no"
            )

    # ------------------------------------------------------------------ 5. medications
    def medications_rows(self) -> None:
        rng = _rng(self.seed, 5)
        w_pred = np.array([3.0 if p.has("myositis") else 1.0 for p in self.pts])
        w_is = np.array(
            [2.5 if p.has("myositis") else 1.6 if p.has("skin") else 1.0 for p in self.pts]
        )
        w_bio = np.array([2.0 if p.has("myositis") else 1.0 for p in self.pts])
        on = {}
        for cls_, w in (
            ("corticosteroids", w_pred),
            ("immunosuppressants", w_is),
            ("biologics", w_bio),
        ):
            on[cls_] = {
                int(k)
                for k in rng.choice(N_PATIENTS, CONCOMITANT_N[cls_], replace=False, p=w / w.sum())
            }
        # immunosuppressant of each patient on one; redrawn until mycophenolate is the most common
        on_is = sorted(on["immunosuppressants"])
        for _ in range(100):
            is_drugs = {}
            for i in on_is:
                d1 = str(rng.choice(IS_DRUGS, p=IS_WEIGHTS[self.pts[i].main]))
                # now and then a second immunosuppressant (never mycophenolate)
                d2 = [next(d for d in IS_DRUGS[1:] if d != d1)] if rng.random() < 0.06 else []
                is_drugs[i] = [d1, *d2]
            counts = [sum(x in ds for ds in is_drugs.values()) for x in IS_DRUGS]
            if counts[0] >= max(counts[1:]) + 2:
                break
        else:
            raise CalibrationError("mycophenolate is not the most common immunosuppressant")
        for p in self.pts:
            drugs = []
            if p.i in on["corticosteroids"]:
                drugs.append("prednisone")
            if p.i in on["immunosuppressants"]:
                drugs += is_drugs[p.i]
            if p.i in on["biologics"]:
                drugs.append(str(rng.choice(BIO_DRUGS, p=BIO_WEIGHTS[p.main])))
            if set(p.overlap) & {"sjogren", "sle", "ra"} and rng.random() < 0.7:
                drugs.append("hydroxychloroquine")
            for d in drugs:
                self._concomitant(p, d, rng)
            # prior-only courses (stopped before the first cycle)
            prior_pool = [
                d
                for d in (
                    "methotrexate",
                    "mycophenolate",
                    "azathioprine",
                    "hydroxychloroquine",
                    "prednisone",
                    "cyclophosphamide",
                )
                if d not in drugs
            ]
            for d in prior_pool:
                if rng.random() < 0.10:
                    lo_m = max(3, C.offset_of(p.first, p.onset) - 1)
                    if lo_m <= 3:
                        continue
                    stop = C.month_date(
                        p.first, -int(rng.integers(2, min(lo_m, 24) + 1)), _day(rng)
                    )
                    dur = int(rng.integers(4, 36))
                    start = max(C.add_months(stop, -dur), p.onset)
                    if start < stop < p.first:
                        self.medications.append(
                            {"patient_id": p.pid, "drug": d, "start_date": start, "stop_date": stop}
                        )

    def _concomitant(self, p: Pt, drug: str, rng) -> None:
        """A course overlapping [first cycle, last round-1 cycle]."""
        span = (p.last - p.first).days
        if rng.random() < 0.7 or span < 20:
            before = int(rng.integers(1, 30))  # months before IVIG
            start = max(C.month_date(p.first, -before, _day(rng)), p.onset + timedelta(days=14))
            start = min(start, p.first)
        else:
            start = p.first + timedelta(days=int(rng.integers(0, span + 1)))
        stop: date | None = None
        if p.death is not None:
            stop = p.death
        elif rng.random() < 0.45:
            stop = p.last + timedelta(days=int(rng.integers(0, 400)))
            if stop > CUTOFF:
                stop = None
        self.medications.append(
            {"patient_id": p.pid, "drug": drug, "start_date": start, "stop_date": stop}
        )

    # ------------------------------------------------------------------ 6. outcome values
    def outcomes(self) -> None:
        rng = _rng(self.seed, 6)
        myo = self.group("myositis")
        skin = self.group("skin")
        gi = self.group("gi")
        no_fu = {"death", "moved", "late_fu"}
        ck_pair = [not (p.roles & (no_fu | {"no_ck_fu"})) for p in myo]
        mrc_fu = [not (p.roles & no_fu) for p in myo]
        mrss_pair = [not (p.roles & no_fu) for p in skin]
        ucla_pair = [not (p.roles & (no_fu | {"no_ucla_fu"})) for p in gi]
        self.values["CK_UL"] = self._ck(rng, myo, np.array(ck_pair))
        self.values["MRC_STRENGTH"] = self._mrc(rng, myo, np.array(mrc_fu))
        self.values["MRSS"] = self._paired(
            rng,
            skin,
            np.array(mrss_pair),
            unit=1,
            base=(15, 0),
            follow=(13, 0),
            sd=(6.0, 2.4),
            lo=5,
            hi=38,
            name="mRSS",
        )
        self.values["UCLA_GIT_TOTAL"] = self._paired(
            rng,
            gi,
            np.array(ucla_pair),
            unit=0.01,
            base=(1.06, 2),
            follow=(0.78, 2),
            sd=(0.50, 0.36),
            lo=8,
            hi=290,
            name="UCLA GIT",
        )

    @staticmethod
    def _sums(n_pair: int, n_rest: int, unit: float, value: float, dec: int) -> tuple[int, int]:
        """Integer sums (units) for the pairs and the rest whose means, and the overall mean,
        print as ``value``."""
        for s_pair in C.sums_for_mean(n_pair, unit, value, dec):
            if n_rest == 0:
                return s_pair, 0
            for s_all in C.sums_for_mean(n_pair + n_rest, unit, value, dec):
                s_rest = s_all - s_pair
                if s_rest > 0:
                    return s_pair, s_rest
        raise CalibrationError("no integer sums print as the published mean")

    def _ck(self, rng, pts: list[Pt], pair: np.ndarray) -> dict:
        n, npair = len(pts), int(pair.sum())
        s_pair, s_rest = self._sums(npair, n - npair, 1, 1149, 0)
        s_fu = C.sums_for_mean(npair, 1, 217, 0)[0]
        for _ in range(200):
            base = np.exp(rng.normal(math.log(620), 1.05, n))
            b = np.zeros(n, dtype=np.int64)
            b[pair] = _to_sum(base[pair], s_pair, 60, 12000, rng)
            b[~pair] = _to_sum(base[~pair], s_rest, 60, 12000, rng)
            ratio = np.exp(rng.normal(math.log(0.17), 0.55, npair))
            f0 = 45 + (b[pair] - 45) * ratio * np.exp(rng.normal(0, 0.15, npair))
            f = _to_sum(f0, s_fu, 25, 3000, rng)
            d = (f - b[pair]).astype(float)
            p_t = C.t_p(C.paired_t_stat(d), npair - 1)
            p_w = C.signrank_p(d)
            if p_t < 0.01 and p_w < 0.01 and (d < 0).mean() > 0.85 and np.all(f < b[pair] * 1.5):
                fu = iter(f)
                return {
                    p.i: (float(bv), float(next(fu)) if ok else None)
                    for p, bv, ok in zip(pts, b, pair)
                }
        raise CalibrationError("CK: no draw met the targets")

    def _mrc(self, rng, pts: list[Pt], has_fu: np.ndarray) -> dict:
        nfu = int(has_fu.sum())
        for _ in range(200):
            fu = rng.choice([3, 4, 5], size=nfu, p=[0.30, 0.45, 0.25])
            low = rng.choice(nfu, MRC_BELOW3_M3, replace=False)
            fu[low] = rng.choice([1, 2], size=MRC_BELOW3_M3, p=[0.2, 0.8])
            delta = rng.choice([-1, 0, 1, 2], size=nfu, p=[0.05, 0.35, 0.48, 0.12])
            bl_fu = np.clip(fu - delta, 1, 5)
            bl_nofu = rng.choice([2, 3], size=len(pts) - nfu)
            d = (fu - bl_fu).astype(float)
            if (fu >= 3).sum() != nfu - MRC_BELOW3_M3:
                continue
            if C.signrank_p(d) < 0.01 and bl_fu.mean() < fu.mean() - 0.4:
                it_f, it_b, it_n = iter(fu), iter(bl_fu), iter(bl_nofu)
                out = {}
                for p, ok in zip(pts, has_fu):
                    out[p.i] = (
                        (float(next(it_b)), float(next(it_f))) if ok else (float(next(it_n)), None)
                    )
                return out
        raise CalibrationError("MRC: no draw met the targets")

    def _paired(
        self,
        rng,
        pts: list[Pt],
        pair: np.ndarray,
        *,
        unit: float,
        base: tuple[float, int],
        follow: tuple[float, int],
        sd: tuple[float, float],
        lo: int,
        hi: int,
        name: str,
    ) -> dict:
        """Baseline for all, follow-up for the pairs: means print as published over all
        baselines, over the paired baselines and over the follow-ups; paired t p < 0.05."""
        n, npair = len(pts), int(pair.sum())
        s_pair, s_rest = self._sums(npair, n - npair, unit, *base)
        s_fu = next(
            s
            for s in C.sums_for_mean(npair, unit, *follow)
            if C.prints_as((s - s_pair) * unit / npair, round(follow[0] - base[0], 6), follow[1])
        )
        for _ in range(300):
            b0 = rng.normal(base[0] / unit, sd[0] / unit, n)
            b = np.zeros(n, dtype=np.int64)
            b[pair] = _to_sum(b0[pair], s_pair, lo, hi, rng, scale=False)
            if n > npair:
                b[~pair] = _to_sum(b0[~pair], s_rest, lo, hi, rng, scale=False)
            d0 = rng.normal((follow[0] - base[0]) / unit, sd[1] / unit, npair)
            f = _to_sum(b[pair] + d0, s_fu, 0, hi, rng, scale=False)
            d = (f - b[pair]).astype(float) * unit
            if C.t_p(C.paired_t_stat(d), npair - 1) < 0.02 and (d > 0).sum() <= npair // 4:
                fu = iter(f)
                return {
                    p.i: (float(bv) * unit, float(next(fu)) * unit if ok else None)
                    for p, bv, ok in zip(pts, b, pair)
                }
        raise CalibrationError(f"{name}: no draw met the targets")

    # ------------------------------------------------------------------ 7. visits
    def schedule(self) -> None:
        rng = _rng(self.seed, 7)
        for p in self.pts:
            v: dict[str, date] = {}
            b = int(rng.choice([0, -1, -2, -3], p=[0.30, 0.45, 0.18, 0.07]))
            v["bl"] = (
                C.month_date(p.first, 0, _day(rng, 1, p.first.day))
                if b == 0
                else C.month_date(p.first, b, _day(rng))
            )
            if b > -3 and rng.random() < 0.3:  # earlier value inside the baseline window
                v["bl_early"] = C.month_date(p.first, int(rng.integers(-3, b)), _day(rng))
            pre = C.month_date(p.first, -int(rng.integers(4, 13)), _day(rng))
            if rng.random() < 0.5 and pre > p.onset:  # history before the window
                v["pre"] = pre
            L = p.offsets[-1]
            if L >= 2:
                for k in sorted(
                    rng.choice(np.arange(1, L), min(L - 1, int(rng.integers(1, 3))), replace=False)
                ):
                    v[f"mid{int(k)}"] = C.month_date(p.first, int(k), _day(rng))
            late_from = 7
            if "late_fu" in p.roles:
                v["fu_out"] = C.month_date(p.last, 6, _day(rng))  # just outside the window
                late_from = 10
            elif not p.roles & {"death", "moved"}:
                f = int(rng.choice([3, 2, 4, 1, 5], p=[0.55, 0.15, 0.20, 0.05, 0.05]))
                p.fu_month = f
                v["fu"] = C.month_date(p.last, f, _day(rng))
                decoys = {3: (1, 2, 4, 5), 2: (1, 5), 4: (1, 2, 5), 1: (), 5: (1,)}[f]
                if decoys and rng.random() < 0.3:
                    o = int(rng.choice(decoys))
                    v["fu_decoy"] = C.month_date(p.last, o, _day(rng))
            if not p.roles & {"death", "moved"} and rng.random() < 0.6:
                d = C.month_date(p.last, int(rng.integers(late_from, late_from + 9)), _day(rng))
                if d <= CUTOFF:
                    v["late"] = d
            p.visits = v

    def _check_visits(self, p: Pt) -> None:
        """The window rules must pick the designed visits (guards the construction)."""
        f0, l0 = C.month_index(p.first), C.month_index(p.last)
        base = [(d, k) for k, d in p.visits.items() if -3 <= C.month_index(d) - f0 <= 0]
        if max(base)[1] != "bl":
            raise CalibrationError(f"{p.pid}: baseline visit would not be chosen")
        fu = [
            (abs(C.month_index(d) - l0 - 3), -d.toordinal(), k)
            for k, d in p.visits.items()
            if 1 <= C.month_index(d) - l0 <= 5
        ]
        chosen = min(fu)[2] if fu else None
        if chosen != ("fu" if "fu" in p.visits else None):
            raise CalibrationError(f"{p.pid}: follow-up visit would not be chosen ({chosen})")
        if len({d for d in p.visits.values()}) != len(p.visits):
            raise CalibrationError(f"{p.pid}: two visits on one date")
        if p.death is not None and max(p.visits.values()) > p.death:
            raise CalibrationError(f"{p.pid}: visit after death")

    def measurement_rows(self) -> None:
        rng = _rng(self.seed, 8)
        for p in self.pts:
            self._check_visits(p)
            ms: dict[str, tuple[float, float | None]] = {}
            for m, vals in self.values.items():
                if p.i in vals:
                    ms[m] = vals[p.i]
            self._extra_values(p, ms, rng)
            p.measures = set(ms)
            for m in sorted(ms):
                bl, fu = ms[m]
                for name, d in sorted(p.visits.items(), key=lambda kv: kv[1]):
                    val = self._visit_value(m, name, bl, fu, rng, p)
                    if val is None:
                        continue
                    self.measurements.append(
                        {"patient_id": p.pid, "date": d, "measure": m, "value": val}
                    )

    def _extra_values(self, p: Pt, ms: dict, rng) -> None:
        """Uncalibrated measures (realism): baseline value and 3-month value (or None)."""
        fu_ok = "fu" in p.visits

        def maybe(x):
            return x if fu_ok and rng.random() < 0.85 else None

        if "MRSS" not in ms and rng.random() < (0.5 if p.subtype == "diffuse" else 0.3):
            b = int(
                np.clip(rng.normal(12, 5) if p.subtype == "diffuse" else rng.normal(5, 3), 0, 30)
            )
            ms["MRSS"] = (float(b), maybe(float(max(0, b + int(rng.integers(-2, 2))))))
        if "CK_UL" not in ms and (p.overlap[:1] == ("myositis",) or rng.random() < 0.3):
            b = float(np.clip(np.rint(np.exp(rng.normal(math.log(95), 0.35))), 30, 300))
            if "myositis" in p.overlap:
                b = float(np.clip(np.rint(np.exp(rng.normal(math.log(260), 0.5))), 60, 900))
            ms["CK_UL"] = (
                b,
                maybe(float(np.clip(np.rint(b * np.exp(rng.normal(-0.1, 0.25))), 25, 900))),
            )
        if "MRC_STRENGTH" not in ms and "myositis" in p.overlap:
            b = float(rng.choice([4, 5]))
            ms["MRC_STRENGTH"] = (b, maybe(float(min(5, b + rng.choice([0, 1])))))
        if "UCLA_GIT_TOTAL" not in ms and rng.random() < 0.1:
            b = round(float(np.clip(rng.normal(0.45, 0.25), 0.02, 1.8)), 2)
            ms["UCLA_GIT_TOTAL"] = (
                b,
                maybe(round(float(np.clip(b + rng.normal(0, 0.1), 0, 3)), 2)),
            )
        if rng.random() < 0.7:
            fvc = float(np.clip(np.rint(rng.normal(82, 18)), 35, 130))
            dlco = float(np.clip(np.rint(rng.normal(61, 16)), 20, 110))
            ms["FVC_PCT"] = (fvc, maybe(float(np.clip(np.rint(fvc + rng.normal(0, 4)), 30, 135))))
            ms["DLCO_PCT"] = (
                dlco,
                maybe(float(np.clip(np.rint(dlco + rng.normal(0, 5)), 15, 115))),
            )
        if rng.random() < 0.55:
            mu = 1.4 if p.has("myositis") else 1.0
            b = float(np.clip(np.rint(rng.normal(mu, 0.6) * 8) / 8, 0, 3))
            ms["HAQ_DI"] = (b, maybe(float(np.clip(b - 0.125 * int(rng.integers(-1, 4)), 0, 3))))

    def _visit_value(
        self, m: str, visit: str, bl: float, fu: float | None, rng, p: Pt
    ) -> float | None:
        """Value of measure ``m`` at a visit (None = not measured there)."""
        if visit == "bl":
            return bl
        if visit == "fu":
            return fu
        if visit == "fu_decoy" and fu is None:
            return None  # a measure missing at follow-up has nothing in the window
        prob = {"bl_early": 0.7, "pre": 0.6, "fu_decoy": 0.8, "fu_out": 1.0, "late": 0.6}
        if not visit.startswith("mid") and rng.random() > prob[visit]:
            return None
        if visit.startswith("mid") and rng.random() > (
            0.8 if m in ("CK_UL", "MRC_STRENGTH") else 0.3
        ):
            return None
        ref = bl if visit in ("bl_early", "pre") else (fu if fu is not None else bl)
        if visit.startswith("mid"):
            k = int(visit[3:]) / max(p.offsets[-1], 1)
            ref = bl if fu is None else bl + (fu - bl) * k
        return _jitter(m, ref, rng)

    # ------------------------------------------------------------------ 8. safety and stop
    def adverse_event_rows(self) -> None:
        rng = _rng(self.seed, 9)
        by_role = {r: p for p in self.pts for r in p.roles}
        for role, term, serious, disc, when in AE_DESIGN:
            p = by_role[role]
            if when == "last":
                cyc = p.last
            elif when == "first":
                cyc = p.first
            else:
                cyc = p.cycle_dates[int(rng.integers(len(p.cycle_dates)))]
            onset = cyc + timedelta(days=int(rng.integers(0, 6 if term != "thrombosis" else 12)))
            self.adverse_events.append(
                {
                    "patient_id": p.pid,
                    "onset_date": onset,
                    "term": term,
                    "serious": serious,
                    "led_to_discontinuation": disc,
                }
            )

    def stop_reasons(self) -> None:
        rng = _rng(self.seed, 10)
        rest = []
        for p in self.pts:
            if p.roles & {"D1", "D2", "D3", "D4"}:
                p.stop = "adverse_event"
                p.detail = AE_DETAIL[next(r for r in sorted(p.roles) if r in AE_DETAIL)]
            elif "death" in p.roles:
                p.stop = "death"
                p.detail = "died of scleroderma heart involvement"
            elif "moved" in p.roles:
                p.stop = "moved"
                p.detail = "moved to another region"
            elif "ongoing" in p.roles:
                p.stop = "ongoing"
            else:
                rest.append(p)
        reasons = [r for r, k in STOP_COUNTS.items() for _ in range(k)]
        if len(reasons) != len(rest):
            raise CalibrationError(f"stop reasons: {len(reasons)} for {len(rest)} patients")
        others = iter(OTHER_DETAIL)
        for p, r in zip(rest, rng.permutation(np.array(reasons, dtype=object))):
            p.stop = str(r)
            if p.stop == "other":
                p.detail = next(others)
        for p in self.pts:
            if rng.random() < 0.33:
                p.assess = ""
            elif p.stop == "improvement":
                p.assess = "improved"
            elif p.stop == "stable":
                p.assess = "stable" if rng.random() < 0.8 else "improved"
            elif p.stop in ("progressing", "death"):
                p.assess = "worse"
            else:
                p.assess = str(rng.choice(["improved", "stable", "worse"], p=[0.5, 0.35, 0.15]))

    # ------------------------------------------------------------------ rows and run
    def patient_rows(self) -> list[dict]:
        return [
            {
                "patient_id": p.pid,
                "center": p.center,
                "sex": p.sex,
                "race": p.race,
                "birth_year": p.birth_year,
                "ssc_subtype": p.subtype,
                "onset_date": p.onset,
                "overlap": ";".join(p.overlap),
                **p.ab,
                "ivig_indication": p.indication,
                "active_skin_disease": p.active_skin,
                "stop_reason": p.stop,
                "stop_detail": p.detail,
                "physician_assessment": p.assess,
                "death_date": p.death,
            }
            for p in self.pts
        ]

    def build(self) -> dict[str, str]:
        self.design()
        self.roles()
        self.timeline()
        self.demographics()
        self.medications_rows()
        self.outcomes()
        self.schedule()
        self.measurement_rows()
        self.adverse_event_rows()
        self.stop_reasons()
        return {
            "patients.csv": C.table_text("patients", self.patient_rows()),
            "infusions.csv": C.table_text(
                "infusions", self.infusions, float_decimals={"dose_g_per_kg": 1}
            ),
            "measurements.csv": C.table_text(
                "measurements",
                self.measurements,
                value_decimals=lambda r: VALUE_DECIMALS[r["measure"]],
            ),
            "medications.csv": C.table_text("medications", self.medications),
            "adverse_events.csv": C.table_text("adverse_events", self.adverse_events),
        }


def _jitter(m: str, ref: float, rng) -> float:
    """A plausible other value of measure ``m`` near ``ref`` (within the measure's range)."""
    if m == "CK_UL":
        return float(np.clip(np.rint(ref * np.exp(rng.normal(0, 0.3))), 20, 20000))
    if m == "MRC_STRENGTH":
        return float(np.clip(round(ref) + int(rng.choice([-1, 0, 0, 1])), 0, 5))
    if m == "MRSS":
        return float(np.clip(round(ref) + int(rng.integers(-3, 4)), 0, 51))
    if m == "UCLA_GIT_TOTAL":
        return round(float(np.clip(ref + rng.normal(0, 0.15), 0, 3)), 2)
    if m in ("FVC_PCT", "DLCO_PCT"):
        return float(np.clip(np.rint(ref + rng.normal(0, 4)), 15, 135))
    if m == "HAQ_DI":
        return float(np.clip(np.rint((ref + rng.normal(0, 0.2)) * 8) / 8, 0, 3))
    raise KeyError(m)


# ============================================================================ checking
def achieved(
    adsl: pd.DataFrame, bds: pd.DataFrame, adverse_events: pd.DataFrame, params=None
) -> dict[str, float]:
    """Every published figure (and a few extra checks) recomputed from derived tables.

    ``adsl``/``bds`` are :func:`ivigbook.derive.context.derive_all` outputs with
    ``params.MULTICENTRE``; outcome figures use the patients treated for the matching
    indication (``population_by_indication``).
    """

    params = params or MULTICENTRE
    a = adsl[adsl["included"].astype(bool)].reset_index(drop=True)
    n = len(a)

    def flag(c):
        return a[c].fillna(False).astype(bool)

    out: dict[str, float] = {"cohort_n": n, "cohort_centers_n": int(a["center"].nunique())}
    out["table1_female_n"] = int((a["sex"] == "F").sum())
    out["table1_male_n"] = int((a["sex"] == "M").sum())
    out["table1_age_mean"] = float(a["age_at_ivig"].mean())
    for s in ("diffuse", "limited"):
        k = int((a["ssc_subtype"] == s).sum())
        out[f"table1_subtype_{s}_n"] = k
        out[f"table1_subtype_{s}_pct"] = 100 * k / n
    ov = pd.concat([flag(c) for c in a.columns if c.startswith("overlap_")], axis=1)
    out["table1_overlap_any_n"] = int(ov.any(axis=1).sum())
    out["table1_overlap_any_pct"] = 100 * ov.any(axis=1).sum() / n
    for o in ("myositis", "sjogren"):
        out[f"table1_overlap_{o}_n"] = int(flag(f"overlap_{o}").sum())
        out[f"table1_overlap_{o}_pct"] = 100 * flag(f"overlap_{o}").sum() / n
    organ = 0
    for i in ("myositis", "gi", "skin"):
        k = int(flag(f"indication_{i}").sum())
        organ = organ + flag(f"indication_{i}").astype(int)
        out[f"table1_indication_{i}_n"] = k
        out[f"table1_indication_{i}_pct"] = 100 * k / n
    out["table1_indication_multiple_n"] = int((organ > 1).sum())
    out["table1_indication_multiple_pct"] = 100 * (organ > 1).sum() / n
    out["treat_cycles_median"] = float(a["n_cycles"].astype(float).median())
    for cls_ in ("corticosteroids", "immunosuppressants", "biologics"):
        on = pd.concat([flag(f"concomitant_{d}") for d in DRUG_CLASSES[cls_]], axis=1).any(axis=1)
        out[f"treat_concomitant_{cls_}_n"] = int(on.sum())
        out[f"treat_concomitant_{cls_}_pct"] = 100 * on.sum() / n
    is_counts = {d: int(flag(f"concomitant_{d}").sum()) for d in DRUG_CLASSES["immunosuppressants"]}
    out["treat_mycophenolate_most_common"] = float(
        is_counts["mycophenolate"] == max(is_counts.values())
        and list(is_counts.values()).count(max(is_counts.values())) == 1
    )
    out["method_followup_months_after_last_cycle"] = (
        float(params.followup_months[0]) if params.followup_anchor == "last_cycle" else float("nan")
    )
    out["method_mrc_grade_max"] = MEASURES["MRC_STRENGTH"].hi
    out["method_mrc_grade_min"] = MEASURES["MRC_STRENGTH"].lo

    ids = {i: set(a.loc[flag(f"indication_{i}"), "USUBJID"]) for i in ("myositis", "skin", "gi")}
    b = bds[(bds["ANL01FL"] == "Y").to_numpy(bool)]

    def chosen(code, ind, visit):
        s = b[
            (b["PARAMCD"] == code).to_numpy(bool)
            & (b["AVISITN"] == visit).to_numpy(bool)
            & b["USUBJID"].isin(ids[ind]).to_numpy(bool)
        ]
        return s.set_index("USUBJID")["AVAL"].astype(float)

    for area, code, key in (
        ("myositis", "CK_UL", "ck"),
        ("myositis", "MRC_STRENGTH", "mrc"),
        ("skin", "MRSS", "mrss"),
        ("gi", "UCLA_GIT_TOTAL", "ucla_git"),
    ):
        bl, fu = chosen(code, area, 0), chosen(code, area, 3)
        both = bl.index.intersection(fu.index)
        pre = f"{area}_{key}"
        out[f"{pre}_bl_n"] = len(bl)
        out[f"{pre}_bl_mean"] = float(bl.mean())
        out[f"{pre}_m3_n"] = len(fu)
        out[f"{pre}_m3_mean"] = float(fu.mean())
        out[f"{pre}_pairs_n"] = len(both)
        out[f"{pre}_pairs_bl_mean"] = float(bl[both].mean())
        out[f"{pre}_pairs_m3_mean"] = float(fu[both].mean())
        out[f"{pre}_change_m3_mean"] = float((fu[both] - bl[both]).mean())
        out[f"{pre}_change_m3_t_p"] = stats.paired_t(bl[both].to_numpy(), fu[both].to_numpy()).p
        out[f"{pre}_change_m3_signrank_p"] = stats.signrank(
            bl[both].to_numpy(), fu[both].to_numpy()
        ).p
        if code == "MRC_STRENGTH":
            out["myositis_mrc_3to5_m3_n"] = int((fu >= 3).sum())
            out["myositis_mrc_3to5_m3_pct"] = 100 * (fu >= 3).sum() / len(fu)
    ae = adverse_events[adverse_events["patient_id"].isin(set(a["USUBJID"]))]
    disc = ae[ae["led_to_discontinuation"] == "yes"]
    out["safety_events_n"] = len(ae)
    out["safety_patients_any_n"] = int(ae["patient_id"].nunique())
    out["safety_patients_discontinued_n"] = int(disc["patient_id"].nunique())
    out["safety_patients_serious_discontinued_n"] = int(
        disc.loc[disc["serious"] == "yes", "patient_id"].nunique()
    )
    out["safety_patients_serious_n"] = int(ae.loc[ae["serious"] == "yes", "patient_id"].nunique())
    out["stop_adverse_event_n"] = int((a["stop_reason"] == "adverse_event").sum())
    return out


#: Extra checks beyond the published figures: (key, rule, description).
EXTRA_CHECKS = (
    ("myositis_ck_pairs_bl_mean", ("prints", 1149, 0), "CK baseline mean over the complete pairs"),
    ("skin_mrss_pairs_bl_mean", ("prints", 15, 0), "mRSS baseline mean over the complete pairs"),
    ("gi_ucla_git_pairs_bl_mean", ("prints", 1.06, 2), "UCLA GIT baseline mean over the pairs"),
    ("myositis_ck_change_m3_t_p", ("lt", 0.05), "CK paired t p"),
    ("myositis_ck_change_m3_signrank_p", ("lt", 0.05), "CK Wilcoxon signed-rank p"),
    ("myositis_mrc_change_m3_signrank_p", ("lt", 0.05), "MRC Wilcoxon signed-rank p"),
    (
        "myositis_mrc_pairs_bl_mean",
        ("lt_key", "myositis_mrc_pairs_m3_mean"),
        "MRC baseline lower than at month 3",
    ),
    ("skin_mrss_change_m3_t_p", ("lt", 0.05), "mRSS paired t p"),
    ("gi_ucla_git_change_m3_t_p", ("lt", 0.05), "UCLA GIT paired t p"),
    (
        "treat_mycophenolate_most_common",
        ("eq", 1.0),
        "mycophenolate the most common immunosuppressant",
    ),
    ("safety_patients_serious_n", ("eq", 1), "patients with a serious event"),
    ("stop_adverse_event_n", ("eq", 4), "stop reason adverse_event"),
)


def _round_half_up(x: float, decimals: int) -> float:
    return round_half_up(x, decimals)


def check_rows(values: dict[str, float]) -> list[tuple[str, str, str, bool]]:
    """(figure, target, achieved, ok) for every published figure and extra check."""
    rows = []
    for key, (target, dec) in PUBLISHED.items():
        x = values.get(key)
        ok = (
            x is not None
            and not (isinstance(x, float) and math.isnan(x))
            and _round_half_up(float(x), dec) == round(float(target), dec)
        )
        rows.append((key, f"{target:.{dec}f}", _fmt(x, dec), bool(ok)))
    for key, rule, _ in EXTRA_CHECKS:
        x = values.get(key)
        if rule[0] == "prints":
            ok = _round_half_up(x, rule[2]) == round(rule[1], rule[2])
            rows.append((key, f"{rule[1]:.{rule[2]}f}", _fmt(x, rule[2]), bool(ok)))
        elif rule[0] == "lt":
            rows.append((key, f"<{rule[1]}", f"{x:.2g}", bool(x < rule[1])))
        elif rule[0] == "lt_key":
            y = values[rule[1]]
            rows.append((key, f"<{y:.2f}", f"{x:.2f}", bool(x < y)))
        else:
            rows.append((key, f"{rule[1]:g}", f"{x:g}", bool(x == rule[1])))
    return rows


def _fmt(x, dec: int) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "NA"
    return f"{float(x):.{dec + 2}f}" if dec or (float(x) != round(float(x))) else f"{int(round(x))}"


def _derive(frames: dict[str, pd.DataFrame]):

    cohort = Cohort.from_frames(name=NAME, **frames)
    derived = derive_all(cohort, MULTICENTRE)
    return cohort, derived


def verify(out_dir: str | Path) -> list[tuple[str, str, str, bool]]:
    """Validate the written package, derive it with ``MULTICENTRE`` and check every figure
    (the ``ivigbook synth`` command prints these rows)."""

    cohort = load_cohort(out_dir, name=NAME)
    d = derive_all(cohort, MULTICENTRE)
    return check_rows(achieved(d["adsl"], d["bds"], cohort.adverse_events))


# ============================================================================ README
def readme(seed: int, rows: list[tuple[str, str, str, bool]], b: Builder) -> str:
    published = {k for k in PUBLISHED}
    pub = "\n".join(
        f"| `{k}` | {t} | {x} | {'yes' if ok else 'NO'} |" for k, t, x, ok in rows if k in published
    )
    extra_desc = {k: d for k, _, d in EXTRA_CHECKS}
    ext = "\n".join(
        f"| {extra_desc[k]} (`{k}`) | {t} | {x} | {'yes' if ok else 'NO'} |"
        for k, t, x, ok in rows
        if k not in published
    )
    assumptions = "\n".join(f"- {a}" for a in ASSUMPTIONS)
    n_meas = len(b.measurements)
    return f"""# SYNTHETIC cohort `spain_multicentre` - not patient data

**Every row in this folder is SYNTHETIC.** No real patient, hospital or event is described.
The hospitals are neutral labels ("Hospital 01" to "Hospital 18"). The cohort was constructed
by `ivigbook.synth.spain_multicentre` so that the book's analysis pipeline, run with
`params.MULTICENTRE`, reproduces the figures published about the Spanish multicentre study

> Immunoglobulins in systemic sclerosis management. A large multicenter experience.
> Autoimmunity Reviews (78 patients, 18 Spanish hospitals), as summarised by a news report
> (`../shared/seeds/003_2bb92a0ae2f75e07.txt` in the project workspace).

Only the figures of that news report are known (`data/reference/published_spain_multicentre.csv`);
everything else here is invented but plausible.

## How it was made

```
ivigbook synth spain_multicentre --seed {seed} --out data/synthetic/spain_multicentre
```

Seed **{seed}**. The same seed regenerates byte-identical files (`tests/synth/test_spain_multicentre.py`
checks this). Files: `patients.csv` (78), `infusions.csv` ({len(b.infusions)} cycles),
`measurements.csv` ({n_meas} values), `medications.csv` ({len(b.medications)} courses),
`adverse_events.csv` ({len(b.adverse_events)} events), in the cohort data contract (DESIGN §3).

1. **Counts by design** (exact): centre sizes, sex, subtype, overlap diseases, IVIG
   indications, the multiset of round-1 cycle counts, the patients on each concomitant drug
   class, adverse events, stop reasons, and which patients miss which follow-up value.
2. **Values by seeded draws, then calibration**: birth years are moved one year at a time until
   the mean age at the first cycle prints as 58.5; outcome values are drawn (CK log-normal) and
   brought to integer sums whose means print as published - over all patients with a baseline,
   over the complete pairs, and at month 3 - and draws are repeated until the paired t test
   (and the Stata-style signed-rank test for CK and MRC) gives p < 0.05. No p-value or mean is
   written anywhere; the book computes them.
3. **Irregular visits**: history before the baseline window, an earlier value inside it (the
   rule takes the latest), values during treatment, decoys in the follow-up window that the
   rule must not choose (farther from month 3, or as far but earlier), late visits, and one
   follow-up visit 6 months after the last cycle (outside the +/-2-month window).

## Calibrated vs invented

Calibrated (reproduced by the pipeline at the printed precision): every figure in the table
below - cohort size, centres, sex, mean age, subtype, overlap, indications, median cycles,
concomitant drug classes, the four outcome groups (CK, MRC 3-5, mRSS, UCLA GIT 2.0) and the
safety counts; plus p < 0.05 for every published "significant" decrease.

Invented but plausible (not published): race, autoantibodies (blank = not tested), onset dates,
centre sizes, dates, doses and days per cycle, second rounds, individual drugs within a class,
prior-only courses, hydroxychloroquine, SDs and distributions of every outcome, MRC grades
other than the 3-5 share, FVC, DLCO and HAQ-DI (not calibrated at all), outcomes measured
outside an indication group, adverse-event terms and timing, stop reasons other than the
four adverse-event stops, stop details, physician assessments, death dates.

## Assumptions the report does not pin

{assumptions}

## Published vs recomputed (the book's derivation with `params.MULTICENTRE`)

| figure | published | recomputed | ok |
|---|---|---|---|
{pub}

Additional checks:

| check | target | recomputed | ok |
|---|---|---|---|
{ext}
"""


# ============================================================================ API
def generate_texts(seed: int = DEFAULT_SEED) -> dict[str, str]:
    """The package as file texts ({file name: text}, README.md included) for ``seed``."""
    b = Builder(seed)
    texts = b.build()
    frames = C.frames_from_texts(texts)
    cohort, d = _derive(frames)
    rows = check_rows(achieved(d["adsl"], d["bds"], cohort.adverse_events))
    bad = [r for r in rows if not r[3]]
    if bad:
        raise CalibrationError(
            "targets missed: " + "; ".join(f"{k}={x} (target {t})" for k, t, x, _ in bad)
        )
    texts["README.md"] = readme(seed, rows, b)
    return texts


def generate(seed: int = DEFAULT_SEED) -> dict[str, pd.DataFrame]:
    """The package tables for ``seed`` as string frames ({table name: DataFrame}), exactly the
    cells :func:`write` puts in the CSV files (load them with ``Cohort.from_frames``)."""
    b = Builder(seed)
    return C.frames_from_texts(b.build())


def write(out_dir: str | Path, seed: int = DEFAULT_SEED) -> list[Path]:
    """Generate and write the package (CSV files and README.md) into ``out_dir``."""
    return C.write_package(out_dir, generate_texts(seed))
