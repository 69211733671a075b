"""SYNTHETIC cohort calibrated to Poelman et al., J Rheumatol 2015 (Johns Hopkins, 30 patients).

The patient-level data of the paper are not public. This module *constructs* a
cohort package (DESIGN §3) whose analysis by the book's own pipeline
(DESIGN §4 rules: calendar-month offsets, IVIG rounds, inclusion, baseline and
±2-month windows, paired t, Stata ``signrank``, simple logistic/linear
regression) reproduces every figure the paper prints, at the printed precision.

Construction, not hope:

1. **Design** (fixed, :data:`ROSTER`): who stopped why, who has data in which
   follow-up window (the window *pattern*), who was on concomitant prednisone,
   who was a cutaneous responder at 6 and 12 months, who had tendon friction
   rubs, myositis, which drug courses were prior/concomitant. These are chosen
   by hand so that the published counts, Ns and the prednisone 2x2 table
   (9 on prednisone with 3 responders vs 16 without and 12 responders at 12
   months: OR 0.167, 95% CI 0.028-0.997, p 0.0497) hold by construction.
2. **Numbers** (seeded): start dates, cycles, ages, disease durations, skin
   scores, HAQ, lung function, CK, RVSP, Medsger scores... are drawn from a
   seeded generator and then nudged one unit at a time by a deterministic local
   search (:func:`ivigbook.synth.common.integer_search`) until every targeted
   statistic rounds to its printed value, p-values included (they are computed
   from the data, never written). Medsger differences are chosen among the
   small integer tables whose signed-rank p prints as published.
3. **Visits**: irregular dates, pre-IVIG history, visits between and beyond the
   windows, decoy visits inside windows that the window rule must *not* pick
   (farther from the target, or as far but earlier), and visits deliberately
   just outside windows so that the published Ns arise from the window rules.
4. **Excluded patients** (5, added for a non-trivial inclusion flow; the paper
   reports only its 30 included patients).

Same seed -> byte-identical files. ``python -m ivigbook.cli synth hopkins2015``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import numpy as np

from ivigbook.chapters import historical
from ivigbook.chapters.compute import chapter_results
from ivigbook.chapters.reproduction import STATUS_MATCH, judge
from ivigbook.data.rules import PAPER_AS_PUBLISHED
from ivigbook.derive.context import load_context
from ivigbook.synth import common as C
from ivigbook.synth.common import CalibrationError, Target

NAME = "hopkins2015"
DEFAULT_SEED = 2015
DEFAULT_OUT = "data/synthetic/hopkins2015"
N_INCLUDED = 30
CUTOFF = date(2013, 12, 31)  # data collection (paper submitted 2014)
CENTER = "johns_hopkins"
FOLLOWUP = (6, 12, 18, 24)
ATTEMPTS = 25  # fresh seeded draws tried by each calibration step before giving up

# ============================================================================ design
#: Which follow-up windows (6, 12, 18, 24 months) hold an mRSS value, per pattern.
PATTERNS = {
    "A": (6, 12, 18, 24),  # complete follow-up
    "B": (6, 12, 18),  # started in 2012 (data cut-off) or visits at 21/27 months only
    "C": (6, 12, 24),  # visits at 15 and 21 months: none in the 18-month window
    "D": (6, 18, 24),  # visits at 9 and 15 months: none in the 12-month window
    "E": (12, 18, 24),  # visits at 3 and 9 months: none in the 6-month window
    "F": (6, 12),  # died at 16 months / ongoing / started mid-2012
    "G": (6, 18),  # visits at 9, 15, 21 and 28 months
    "H": (6,),  # moved / lost after stopping / visits at 9, 15, 21, 27 months
}


@dataclass
class Pt:
    """One designed patient (internal; the key never leaves the generator)."""

    key: str
    stop: str
    assess: str | None
    pattern: str
    pred: bool  # concomitant prednisone
    r6: int | None  # responder at 6 months (None = no 6-month value)
    r12: int | None
    tfr: str  # "" none; R resolved at 6 m; P persisting; M TFR without 6-month data
    myositis: bool
    included: bool = True
    # filled by the generator
    pid: str = ""
    first: date | None = None
    offsets: list[int] = field(default_factory=list)  # round-1 cycle offsets
    round2: list[int] = field(default_factory=list)  # later cycles (not analysed)
    cycle_dates: list[date] = field(default_factory=list)
    duration: int = 0
    birth_year: int = 0
    onset: date | None = None
    sex: str = "F"
    race: str = "white"
    ab: dict = field(default_factory=dict)
    base: int = 0
    fu: dict = field(default_factory=dict)  # month -> designed mRSS
    visits: list = field(default_factory=list)
    death: date | None = None

    @property
    def windows(self) -> tuple[int, ...]:
        return PATTERNS[self.pattern]

    @property
    def n_cycles(self) -> int:
        return len(self.offsets)

    @property
    def months(self) -> int:
        return self.offsets[-1] + 1

    @property
    def last(self) -> date:
        return self.cycle_dates[len(self.offsets) - 1]


#: key, stop reason, physician assessment, pattern, prednisone, r6, r12, TFR, myositis
ROSTER = [
    ("I01", "improvement", "improved", "A", 0, 1, 1, "R", 0),
    ("I02", "improvement", "improved", "A", 0, 1, 1, "", 0),
    ("I03", "improvement", "improved", "A", 0, 0, 1, "R", 0),
    ("I04", "improvement", "improved", "A", 0, 1, 1, "", 1),
    ("I05", "improvement", "improved", "A", 0, 0, 1, "", 0),
    ("I06", "improvement", "improved", "A", 0, 1, 1, "", 0),
    ("I07", "improvement", "improved", "A", 1, 1, 1, "R", 1),
    ("I08", "improvement", "improved", "A", 1, 0, 1, "", 0),
    ("I09", "improvement", "improved", "A", 1, 0, 0, "P", 0),
    ("I10", "improvement", "improved", "A", 0, 1, 0, "", 0),
    ("I11", "improvement", "improved", "A", 1, 1, 0, "R", 1),
    ("I12", "improvement", "improved", "B", 0, 0, 0, "", 0),
    ("I13", "improvement", "improved", "B", 0, 1, 1, "R", 0),
    ("I14", "improvement", "improved", "B", 1, 0, 0, "", 0),
    ("I15", "improvement", "improved", "B", 0, 1, 1, "", 0),
    ("I16", "improvement", "improved", "E", 0, None, 1, "M", 1),
    ("I17", "improvement", "improved", "D", 0, 1, None, "", 0),
    ("I18", "improvement", "improved", "G", 1, 1, None, "", 0),
    ("S1", "stable", "stable", "F", 0, 0, 1, "", 0),
    ("S2", "stable", "stable", "C", 1, 0, 0, "R", 1),
    ("S3", "stable", "stable", "B", 0, 1, 0, "", 0),
    ("S4", "stable", "stable", "A", 0, 1, 1, "", 0),
    ("TIA", "adverse_event", None, "B", 0, 1, 1, "R", 0),
    ("N2", "insurance", None, "B", 1, 0, 0, "", 0),
    ("P1", "progressing", "worse", "B", 1, 0, 0, "P", 0),
    ("DT", "death", None, "F", 0, 0, 0, "", 0),
    ("OG", "ongoing", None, "F", 1, 1, 1, "", 0),
    ("N1", "insurance", "worse", "H", 0, 0, None, "", 0),
    ("AM", "adverse_event", None, "H", 0, 1, None, "", 0),
    ("MV", "moved", None, "H", 0, 0, None, "", 0),
]

#: Roles of particular designed patients.
#: The three first-line patients have no medication record before IVIG (the book counts a
#: patient with any prior course as pre-treated: 27/30 = 90%).
FIRST_LINE_MONO = "I13"  # IVIG monotherapy: recent malignancy
FIRST_LINE_CYC = "I02"  # IVIG + cyclophosphamide (the paper's 2-week mycophenolate course
#                              before IVIG is not recorded, see ASSUMPTIONS)
FIRST_LINE_MMF = "I04"  # mycophenolate started with IVIG (myositis overlap)
AKI_PATIENT = "I01"  # acute kidney injury 15 months after stopping for improvement
LONGEST = "I06"  # 24 round-1 cycles
EARLIEST = "S4"  # starts IVIG in 2004
ABSTRACTED_12M = "I10"  # 12-month skin score abstracted from the chart: no HAQ/Medsger
NO_BASELINE_HAQ = ("MV", "I17")
NO_BASELINE_PFT = "MV"
NO_12M_PFT = "N1"
NO_DLCO = "P1"
NO_12M_DLCO = ("I05", "DT")
SECOND_ROUND = ("I03", "I08", "S4")
LATE_2012 = {
    "I12": (2012, 1, 2),
    "I13": (2012, 2, 3),
    "S3": (2012, 3, 4),
    "S1": (2012, 6, 7),
    "OG": (2012, 9, 9),
}  # key: (year, first month, last month)
#: Fixed round-1 courses: key -> (cycles, skipped months)
FIXED_COURSES = {
    "AM": (3, 0),
    "N1": (4, 0),
    "N2": (4, 1),
    "TIA": (5, 0),
    "MV": (5, 1),
    "P1": (6, 0),
    "DT": (14, 2),
    "OG": (16, 0),
    LONGEST: (24, 6),
}

#: Drug courses relative to IVIG: "pc" prior and concomitant (started before, still
#: running at the first cycle), "new" started during round 1 (concomitant only),
#: "prior" stopped before IVIG (prior only). Table 1 / Table 2 counts by construction.
_ALL = [r[0] for r in ROSTER]
DRUGS = {
    "prednisone": {
        "pc": ["I07", "I08", "I09", "I11", "I14", "S2", "N2", "P1", "OG"],
        "new": ["I18"],
        "prior": ["I01", "I03", "I05", "I06", "I10", "I12", "S1", "S3", "TIA", "DT"],
    },
    "methotrexate": {"pc": ["I05", "I10", "MV"], "prior": ["I01", "I03", "S4", "DT", "I15"]},
    "azathioprine": {"prior": ["I06", "S1", "P1"]},
    "cyclophosphamide": {
        "pc": ["I09", "P1", "DT", "I06"],
        "new": ["I02", "I17"],
        "prior": ["I01", "N1", "AM", "I12"],
    },
    "d_penicillamine": {"prior": ["I03", "I10", "S4"]},
    "hydroxychloroquine": {"pc": ["I15"], "prior": ["I05", "I08", "I11", "S2", "TIA", "N2", "I16"]},
    "minocycline": {"prior": ["I06"]},
    "colchicine": {"prior": ["S1"]},
    "tnf_inhibitor": {"prior": ["N2", "I14"]},
    "leflunomide": {"prior": ["N2"]},
    "imatinib": {"pc": ["I08"], "prior": ["S1"]},
    "rapamycin": {"prior": ["I03"]},
    "other": {"prior": ["N2", "I01", "S4", "S3"]},  # gold, alefacept, cetuximab, docetaxel
    "mycophenolate": {
        "pc": [
            k
            for k in _ALL
            if k not in ("I13", "I04", "P1", "I17", "OG", "I02", "I09", "DT", "S3", "I14")
        ],
        "new": [FIRST_LINE_MMF],
        "prior": ["I17", "I09", "DT", "S3", "I14"],
    },
}
#: Drugs started after round 1 (never prior or concomitant; realism only).
AFTER_IVIG = {"P1": "rituximab"}

#: Adverse events: term -> number of included patients (Table 2).
AE_COUNTS = {
    "headache": 12,
    "fatigue": 7,
    "nausea_emesis": 4,
    "fever": 3,
    "arthralgia_myalgia": 3,
    "rash_pruritus": 3,
    "generalized_weakness": 3,
    "hypertension": 2,
    "chest_discomfort": 2,
    "leukopenia": 2,
    "transient_ischemic_attack": 1,
    "dyspnea": 1,
    "diarrhea": 1,
    "decreased_appetite": 1,
    "palpitations": 1,
    "fluid_retention": 1,
    "lightheadedness": 1,
    "aura_flashing_lights": 1,
    "increased_raynaud": 1,
    "acute_kidney_injury": 1,
    "hyperkalemia": 1,
    "hypokalemia": 1,
    "transaminitis": 1,
}

STOP_DETAIL = {
    "improvement": "skin improved",
    "stable": "skin stable",
    "progressing": "skin progressing",
    "insurance": "insurance denied coverage",
    "moved": "moved out of the country",
    "death": "sudden cardiac arrest (pre-existing cardiomyopathy)",
    "ongoing": "",
}

# ============================================================================ targets
#: Every published figure the cohort is calibrated to (name -> printed value, decimals).
#: p-values marked "<" are upper bounds ("<0.0001").
PUBLISHED = {
    "n_included": (30, 0),
    "age_mean": (46.6, 1),
    "age_sd": (12.3, 1),
    "duration_mean": (24.6, 1),
    "duration_sd": (19.9, 1),
    "female_n": (24, 0),
    "white_n": (26, 0),
    "black_n": (1, 0),
    "other_race_n": (3, 0),
    "mrss_bl_mean": (29.6, 1),
    "mrss_bl_sd": (7.2, 1),
    "mrss_bl_n": (30, 0),
    "haq_bl_n": (28, 0),
    "haq_bl_mean": (1.29, 2),
    "haq_bl_sd": (0.70, 2),
    "myositis_n": (5, 0),
    "tfr_bl_n": (10, 0),
    "ck_bl_n": (18, 0),
    "ck_bl_mean": (265.8, 1),
    "ck_bl_sd": (440.6, 1),
    "renal_crisis_n": (0, 0),
    "fvc_bl_n": (29, 0),
    "fvc_bl_mean": (83.1, 1),
    "fvc_bl_sd": (19.2, 1),
    "dlco_bl_n": (28, 0),
    "dlco_bl_mean": (76.8, 1),
    "dlco_bl_sd": (20.2, 1),
    "rvsp_bl_n": (19, 0),
    "rvsp_bl_mean": (32.1, 1),
    "rvsp_bl_sd": (6.5, 1),
    "treatment_months_mean": (9.4, 1),
    "treatment_months_sd": (6.9, 1),
    "cycles_mean": (8.5, 1),
    "cycles_sd": (5.3, 1),
    "cycles_min": (3, 0),
    "cycles_max": (24, 0),
    "mrss_m6_n": (29, 0),
    "mrss_m6_mean": (24.1, 1),
    "mrss_m6_sd": (9.6, 1),
    "mrss_m6_p": (0.0011, 4),
    "mrss_change_m6_mean": (-5.3, 1),
    "mrss_change_m6_sd": (7.9, 1),
    "mrss_m12_n": (25, 0),
    "mrss_m12_mean": (22.5, 1),
    "mrss_m12_sd": (10.0, 1),
    "mrss_m12_p": (0.0001, 4),
    "mrss_change_m12_mean": (-8.0, 1),
    "mrss_change_m12_sd": (8.3, 1),
    "mrss_m18_n": (23, 0),
    "mrss_m18_mean": (20.6, 1),
    "mrss_m18_sd": (11.8, 1),
    "mrss_m18_p": (0.0001, 4),
    "mrss_m24_n": (15, 0),
    "mrss_m24_mean": (15.3, 1),
    "mrss_m24_sd": (6.4, 1),
    "mrss_m24_p": ("<", 0.0001),
    "responders_m6_k": (16, 0),
    "responders_m12_k": (15, 0),
    "logit_prednisone_m12_or": (0.17, 2),
    "logit_prednisone_m12_ci_low": (0.028, 3),
    "logit_prednisone_m12_ci_high": (0.997, 3),
    "logit_prednisone_m12_p": (0.05, 2),
    "haq_m12_mean": (1.21, 2),
    "haq_m12_sd": (0.75, 2),
    "haq_m12_p": (0.436, 3),
    "vas_bl_mean": (1.63, 2),
    "vas_bl_sd": (0.72, 2),
    "vas_m12_mean": (1.07, 2),
    "vas_m12_sd": (0.76, 2),
    "vas_m12_p": (0.001, 3),
    "fvc_m12_n": (28, 0),
    "fvc_m12_base_mean": (83.0, 1),
    "fvc_m12_base_sd": (19.6, 1),
    "fvc_m12_mean": (83.8, 1),
    "fvc_m12_sd": (16.8, 1),
    "fvc_m12_p": (0.678, 3),
    "dlco_m12_n": (25, 0),
    "dlco_m12_base_mean": (76.3, 1),
    "dlco_m12_base_sd": (21.0, 1),
    "dlco_m12_mean": (79.9, 1),
    "dlco_m12_sd": (23.1, 1),
    "dlco_m12_p": (0.331, 3),
    "medsger_vascular_p": (0.527, 3),
    "medsger_general_p": (0.711, 3),
    "medsger_heart_p": (1.0, 1),
    "medsger_lung_p": (0.905, 3),
    "medsger_gi_p": (0.182, 3),
    "medsger_muscle_p": (0.054, 3),
    "tfr_m6_resolved": (7, 0),
    "tfr_m6_persisting": (2, 0),
    "tfr_m6_missing": (1, 0),
    "physician_improved": (18, 0),
    "physician_stable": (4, 0),
    "ck_serial_n": (4, 0),
    "ck_normalised_n": (4, 0),
}

#: Comparator summaries (data/reference/historical_controls.csv): mean, SD, N used,
#: published p (None = "<0.0001"), decimals. The book tests them against this
#: cohort's summaries with Student's t (pooled), so the cohort is calibrated to them.
HIST_BASELINE_MRSS = {
    "relaxin": (27.3, 6.9, 231, 0.09, 2),
    "dpen": (21.0, 8.0, 134, None, 4),
    "collagen": (26.1, 7.8, 168, 0.023, 3),
    # MMF (24.5, 9.5, N=87, published 0.009) is left out: with N=87 no baseline whose mean
    # and SD print as 29.6 (7.2) gives both Collagen 0.023 and MMF 0.009 (it gives 0.0084)
}
HIST_BASELINE_DURATION = {
    "dpen": (9.5, 4.1, 134, None, 4),
    "collagen": (41.8, 31.9, 168, 0.005, 3),
}
HIST_CHANGE = {
    # 6 months: Relaxin (-4.83, 6.99, N=196) p=0.74 and MMF (-3.4, 7.4, N=71) p=0.256 are not
    # reachable: 29 integer changes average -5.276, -5.310 or -5.345, never -5.3 (see README)
    12: {
        "dpen": (-2.47, 8.6, 89, 0.005, 3),
        "collagen": (-3.4, 7.12, 119, 0.005, 3),
        "mmf": (-7.1, 9.0, 53, 0.674, 3),
    },
}

#: Assumptions the paper does not pin (also written into the package README).
ASSUMPTIONS = [
    "Paired N for HAQ-DI and the HAQ severity VAS at 12 months is 24 (the 25 patients with a "
    "12-month skin score minus one whose 12-month score was abstracted from the chart without "
    "questionnaires). The baseline mean (SD) of these 24 pairs is calibrated to the published "
    "1.29 (0.70) and 1.63 (0.72) as well as over all 28 (HAQ-DI) patients with a baseline, so "
    "both readings of the paper hold.",
    "HAQ severity VAS (0-100 mm) is stored on the 0-3 scale in steps of 0.03; HAQ-DI in steps "
    "of 0.125.",
    "Medsger severity scores: paired N = 24 for every organ (same visits as the HAQ); the kidney "
    "score does not change in anyone (p reported as 1 by the book's signrank); heart: one patient "
    "better and one worse by one grade (z = 0, p = 1.0).",
    "Aseptic meningitis: the patient has a headache record (counted among the 12 headache "
    "patients, not serious) and a separate `aseptic_meningitis` record that is serious and led to "
    "discontinuation; the transient ischemic attack record likewise led to discontinuation. The "
    "adverse-event table therefore shows an extra 'Aseptic meningitis' row (1 patient) that the "
    "paper folds into the headache row.",
    "The acute kidney injury is recorded as serious, 15 calendar months after the last round-1 "
    "cycle of a patient who stopped for improvement. Headache, fatigue and nausea recur with "
    "several cycles in some patients (several records of one term count once per patient).",
    "Medsger skin severity is derived from the mRSS of the same visit (0; 1-14; 15-29; 30-39; "
    ">=40); joint severity follows tendon friction rubs; the other organs are drawn, and their "
    "baseline-to-12-month differences are the smallest integer tables whose signed-rank p prints "
    "as published.",
    "Three published comparisons with historical controls cannot be reproduced by any cohort "
    "consistent with the rest of the paper, given the comparator N recorded in "
    "data/reference/historical_controls.csv: at 6 months Relaxin (N=196, p 0.74) and MMF "
    "(N=71, p 0.256) need an IVIG mean change of exactly -5.3, but 29 integer changes average "
    "-5.276 or -5.310 (and -5.276 makes the 6-month paired p 0.0012, not 0.0011); at baseline, "
    "MMF (N=87, p 0.009) and Collagen (p 0.023) cannot both hold for a mean and SD that print "
    "29.6 (7.2). This cohort gives {hist}; the conclusions (not significant / significant) are "
    "unchanged.",
    "Physician assessment: 'improved' for the 18 who stopped for improvement, 'stable' for the 4 "
    "who stopped as stable, 'worse' for the patient stopped for progression and one stopped by "
    "insurance, blank for the other 6.",
    "Ages are computed by the book from the birth year (mid-year birth) and the first cycle "
    "date; disease duration is the calendar-month offset of the first cycle from onset.",
    "Mean change in mRSS at 12 months is calibrated to exactly -8.0 (the paper prints '-8'); its "
    "paired t p is {p12:.1e}, which Stata prints as 0.0001 (as the paper) and the book's p "
    "format as '<0.0001'; no mean that prints -8.0 with an SD that prints 8.3 gives p >= 0.0001. "
    "At 18 months p is calibrated to [0.0001, 0.00015) so that both print 0.0001.",
    "First-line IVIG (3 patients): none of them has a medication record before the first "
    "cycle, because the book counts any prior course as pre-treatment (27/30 = 90%). The paper's "
    "first-line patient who had 2 weeks of mycophenolate before IVIG plus cyclophosphamide "
    "therefore has no prior mycophenolate record; the 25 prior mycophenolate users of Table 1 are "
    "other patients, and the 4 'other' prior drugs (gold, alefacept, cetuximab, docetaxel) belong "
    "to pre-treated patients (the malignancy patient's cancer therapy is not recorded).",
    "Three included patients received a second round of IVIG (>= 3 months after round 1); only "
    "round 1 is analysed, as in the paper.",
    "Five EXCLUDED patients are additions for a non-trivial inclusion flow (the paper reports only "
    "its 30 included patients): myositis without active skin disease, limited cutaneous disease "
    "(GI indication), 2 cycles then an infusion reaction, 2 cycles then a second round after a "
    "4-month gap (round 1 has 2 cycles), and no mRSS in the baseline window.",
    "Data cut-off 2013-12-31; IVIG started 2004-2012.",
]


# ============================================================================ helpers
def _rng(seed: int, *stream: int) -> np.random.Generator:
    """Independent seeded stream per component (a change in one leaves the others)."""
    return np.random.default_rng([int(seed), *stream])


def _mean(v) -> float:
    return float(np.mean(v))


def _sd(v) -> float:
    return float(np.std(v, ddof=1))


def _day(rng, lo=1, hi=28) -> int:
    return int(rng.integers(lo, hi + 1))


class Builder:
    """Builds the cohort for one seed (see the module docstring)."""

    def __init__(self, seed: int = DEFAULT_SEED, attempt: int = 0):
        self.seed = int(seed)
        self.attempt = int(attempt)
        self.pts = [
            Pt(*r[:4], pred=bool(r[4]), r6=r[5], r12=r[6], tfr=r[7], myositis=bool(r[8]))
            for r in ROSTER
        ]
        self.by = {p.key: p for p in self.pts}
        self.achieved: dict[str, float] = {}
        self.measurements: list[dict] = []
        self.medications: list[dict] = []
        self.adverse_events: list[dict] = []
        self.infusions: list[dict] = []
        self.excluded: list[Pt] = []

    # ------------------------------------------------------------------ helpers
    def _rng(self, stream: int) -> np.random.Generator:
        """Seeded stream of one component (the build attempt joins the key after the first)."""
        if self.attempt == 0:
            return _rng(self.seed, stream)
        return _rng(self.seed, 100 + self.attempt, stream)

    def idx(self, keys) -> np.ndarray:
        order = {p.key: i for i, p in enumerate(self.pts)}
        return np.array([order[k] for k in keys], dtype=np.int64)

    # ------------------------------------------------------------------ 1. identifiers
    def identifiers(self) -> None:
        rng = self._rng(1)
        n = len(self.pts) + 5
        numbers = rng.choice(np.arange(1000, 10000), size=n, replace=False)
        for p, num in zip(self.pts, numbers[: len(self.pts)]):
            p.pid = f"JH{int(num):04d}"
        self._excluded_ids = [f"JH{int(num):04d}" for num in numbers[len(self.pts) :]]

    # ------------------------------------------------------------------ 2. start dates
    def start_dates(self) -> None:
        rng = self._rng(2)
        for p in self.pts:
            if p.key in LATE_2012:
                y, m0, m1 = LATE_2012[p.key]
                month = int(rng.integers(m0, m1 + 1))
            else:
                # 2004-2011, more in later years; latest mid-2011 so that every
                # designed visit (up to ~28 months) precedes the data cut-off
                y = int(
                    rng.choice(np.arange(2004, 2012), p=np.array([4, 5, 6, 8, 10, 12, 12, 9]) / 66)
                )
                last_month = 6 if y == 2011 else 12
                if p.key in (AKI_PATIENT, LONGEST) and y > 2009:
                    y = 2009
                if p.key == EARLIEST:
                    y = 2004  # the paper's patients started IVIG between 2004 and 2012
                month = int(rng.integers(1, last_month + 1))
            p.first = date(y, month, _day(rng, 2, 26))

    # ------------------------------------------------------------------ 3. treatment
    def treatment(self) -> None:
        rng = self._rng(3)
        free = [p for p in self.pts if p.key not in FIXED_COURSES]
        nf = len(free)
        fixed_c = np.array([FIXED_COURSES[k][0] for k in FIXED_COURSES])
        fixed_l = np.array([sum(FIXED_COURSES[k]) for k in FIXED_COURSES])
        hi_len = []
        for p in free:
            if p.key in LATE_2012:  # must finish before the data cut-off
                hi_len.append(10 if p.key != "S1" else 8)
            else:
                hi_len.append(22)
        hi_len = np.array(hi_len)
        r6 = np.array(
            [np.nan if p.r6 is None else p.r6 for p in free]
            + [np.nan if self.by[k].r6 is None else self.by[k].r6 for k in FIXED_COURSES]
        )
        r12 = np.array(
            [np.nan if p.r12 is None else p.r12 for p in free]
            + [np.nan if self.by[k].r12 is None else self.by[k].r12 for k in FIXED_COURSES]
        )

        def cyc(x):
            return np.concatenate([x[:nf], fixed_c])

        def lens(x):
            return np.concatenate([x[:nf] + x[nf:], fixed_l])

        def resp_t(values, r):
            m = ~np.isnan(r)
            return abs(C.corr_t(values[m].astype(float), r[m]))

        t6 = C.t_for_p(0.3, 27)
        t12 = C.t_for_p(0.3, 23)
        targets = [
            Target.printed("cycles mean", lambda x: _mean(cyc(x)), 8.5, 1),
            Target.printed("cycles sd", lambda x: _sd(cyc(x)), 5.3, 1),
            Target.printed("months mean", lambda x: _mean(lens(x)), 9.4, 1),
            Target.printed("months sd", lambda x: _sd(lens(x)), 6.9, 1),
            Target.at_most("cycles~r6", lambda x: resp_t(cyc(x), r6), t6, 0.1),
            Target.at_most("cycles~r12", lambda x: resp_t(cyc(x), r12), t12, 0.1),
            Target.at_most("months~r6", lambda x: resp_t(lens(x), r6), t6, 0.1),
            Target.at_most("months~r12", lambda x: resp_t(lens(x), r12), t12, 0.1),
        ]

        def realism(x):
            c, s = x[:nf], x[nf:]
            too_long = np.maximum(c + s - hi_len, 0)
            many_skips = np.maximum(s - np.maximum((c - 3) // 3, 0), 0)
            return 0.01 * float(np.sum((c - 6.0) ** 2)) / nf + 5.0 * float(
                np.sum(too_long) + np.sum(many_skips)
            )

        lo = np.concatenate([np.full(nf, 3), np.zeros(nf, dtype=int)])
        hi = np.concatenate([np.full(nf, 18), np.full(nf, 4)])
        for _attempt in range(ATTEMPTS):
            # initial: the standard 6 monthly cycles, some shorter and some longer courses
            c0 = np.array([int(rng.choice([3, 4, 5, 6, 6, 6, 6, 7, 8, 10, 12, 14])) for _ in free])
            s0 = np.array([int(rng.random() < 0.3) for _ in free])
            x = C.integer_search(np.concatenate([c0, s0]), lo, hi, targets, rng, extra_cost=realism)
            bad = C.failing(targets, x) + (["realism"] if realism(x) >= 5.0 else [])
            if not bad:
                break
        else:
            raise CalibrationError("treatment: " + "; ".join(bad))
        courses = {p.key: (int(x[i]), int(x[nf + i])) for i, p in enumerate(free)}
        courses.update(FIXED_COURSES)
        for p in self.pts:
            n, skips = courses[p.key]
            # skipped months fall after the third cycle (>= 3 cycles in months 0-5)
            gaps = [1] * (n - 1)
            slots = list(range(2, n - 1)) if n > 3 else list(range(n - 1))
            if p.key == "N2":
                slots = [1]
            for g in rng.choice(slots, size=skips, replace=False) if skips else []:
                gaps[int(g)] = 2
            p.offsets = [0] + list(np.cumsum(gaps).astype(int))
            assert sum(o <= 5 for o in p.offsets) >= 3
        for k in SECOND_ROUND:
            p = self.by[k]
            gap = int(rng.integers(4, 9))
            n2 = int(rng.integers(3, 7))
            p.round2 = [p.offsets[-1] + gap + i for i in range(n2)]
        self.achieved.update(
            {
                "cycles_mean": _mean([p.n_cycles for p in self.pts]),
                "cycles_sd": _sd([p.n_cycles for p in self.pts]),
                "cycles_min": min(p.n_cycles for p in self.pts),
                "cycles_max": max(p.n_cycles for p in self.pts),
                "treatment_months_mean": _mean([p.months for p in self.pts]),
                "treatment_months_sd": _sd([p.months for p in self.pts]),
            }
        )

    def cycle_dates(self) -> None:
        rng = self._rng(4)
        for p in self.pts:
            dates = [p.first]
            for o in p.offsets[1:] + p.round2:
                day = int(np.clip(p.first.day + rng.integers(-4, 5), 1, 28))
                dates.append(C.month_date(p.first, o, day))
            p.cycle_dates = dates
            last_all = dates[-1]
            if p.key != "OG" and last_all > CUTOFF:
                raise CalibrationError(f"{p.key}: cycles after the data cut-off")
            if p.key == "OG" and C.offset_of(CUTOFF, p.first) != p.offsets[-1]:
                raise CalibrationError("ongoing patient must be treated up to the cut-off")
        dt = self.by["DT"]
        dt.death = C.month_date(dt.first, 16, _day(rng, 5, 25))

    # ------------------------------------------------------------------ 4. demographics
    def demographics(self) -> None:
        """Disease duration, ages, sex, race and antibodies (none predicts response)."""
        rng = self._rng(5)
        n = len(self.pts)
        r6 = np.array([np.nan if p.r6 is None else p.r6 for p in self.pts], dtype=float)
        r12 = np.array([np.nan if p.r12 is None else p.r12 for p in self.pts], dtype=float)

        def resp_t(values, r):
            m = ~np.isnan(r)
            return abs(C.corr_t(np.asarray(values, float)[m], r[m]))

        # disease duration in calendar months (onset to first cycle); Table 1 comparators:
        # Student t vs D-pen (<0.0001) and Collagen (0.005) from summary statistics
        tp = C.t_for_p(0.3, 25)
        hist = [
            Target.at_most(
                f"duration vs {c} p",
                lambda v, m2=m2, s2=s2, n2=n2: C.pooled_t_p(_mean(v), _sd(v), n, m2, s2, n2),
                0.00004,
                1e-5,
            )
            if pp is None
            else Target.printed(
                f"duration vs {c} p",
                lambda v, m2=m2, s2=s2, n2=n2: C.pooled_t_p(_mean(v), _sd(v), n, m2, s2, n2),
                pp,
                dec,
            )
            for c, (m2, s2, n2, pp, dec) in HIST_BASELINE_DURATION.items()
        ]
        for attempt in range(ATTEMPTS):
            init = np.clip(np.rint(np.exp(rng.normal(2.95, 0.7, n))), 4, 90)
            try:
                dur = C.solve_mean_sd(
                    rng,
                    n,
                    24.6,
                    19.9,
                    1,
                    4,
                    96,
                    init=init,
                    what="disease duration",
                    extra=[
                        Target.at_most("dur~r6", lambda v: resp_t(v, r6), tp, 0.1),
                        Target.at_most("dur~r12", lambda v: resp_t(v, r12), tp, 0.1),
                        *hist,
                    ],
                )
                break
            except CalibrationError:
                if attempt == ATTEMPTS - 1:
                    raise
        for p, d in zip(self.pts, dur):
            p.duration = int(d)
            p.onset = C.month_date(p.first, -int(d), _day(rng))

        # birth years: the book's age = (first cycle - 1 July of birth year) / 365.25
        def age_at(by, when):
            return ((when - date(int(by), 7, 1)).days) / 365.25

        firsts = [p.first for p in self.pts]
        onsets = [p.onset for p in self.pts]

        def ages(v):
            return np.array([age_at(b, f) for b, f in zip(v, firsts)])

        def onset_ages(v):
            return np.array([age_at(b, o) for b, o in zip(v, onsets)])

        lo = np.array([f.year - 75 for f in firsts])
        hi = np.array([o.year - 20 for o in onsets])  # adult onset
        targets = [
            Target.printed("age mean", lambda v: _mean(ages(v)), 46.6, 1),
            Target.printed("age sd", lambda v: _sd(ages(v)), 12.3, 1),
            Target.at_most("onset age~r6", lambda v: resp_t(onset_ages(v), r6), tp, 0.1),
            Target.at_most("onset age~r12", lambda v: resp_t(onset_ages(v), r12), tp, 0.1),
        ]
        for _attempt in range(ATTEMPTS):
            a0 = np.clip(rng.normal(46.6, 12.3, n), 20, 72)
            by0 = np.clip(np.array([f.year - round(a) for f, a in zip(firsts, a0)]), lo, hi)
            by = C.integer_search(by0, lo, hi, targets, rng)
            bad = C.failing(targets, by)
            if not bad:
                break
        else:
            raise CalibrationError("ages: " + "; ".join(bad))
        for p, b in zip(self.pts, by):
            p.birth_year = int(b)
        self.achieved.update(
            {
                "age_mean": _mean(ages(by)),
                "age_sd": _sd(ages(by)),
                "duration_mean": _mean(dur),
                "duration_sd": _sd(dur),
            }
        )

        # binary characteristics: random assignment, redrawn until no predictor is
        # associated with response (simple logistic p >= 0.1 at 6 and 12 months)
        for _attempt in range(200):
            sex = np.array(["F"] * 24 + ["M"] * 6)[rng.permutation(n)]
            race = np.array(["white"] * 26 + ["black"] + ["other"] * 3)[rng.permutation(n)]
            scl70 = np.zeros(n, dtype=int)
            scl70[rng.choice(n, 5, replace=False)] = 1
            neg_scl = np.flatnonzero(scl70 == 0)
            rna = np.full(n, -1)  # -1 untested
            tested = np.concatenate(
                [np.flatnonzero(scl70 == 1)[:3], rng.choice(neg_scl, 20, replace=False)]
            )
            rna[tested] = 0
            rna[rng.choice(np.setdiff1d(tested, np.flatnonzero(scl70 == 1)), 14, replace=False)] = 1
            ok = True
            for x in (
                (sex == "F").astype(float),
                (race == "white").astype(float),
                scl70.astype(float),
                np.where(rna < 0, np.nan, rna).astype(float),
            ):
                for r in (r6, r12):
                    m = ~np.isnan(r) & ~np.isnan(x)
                    _, pv = C.logit_wald(r[m], x[m])
                    if not np.isnan(pv) and pv < 0.1:
                        ok = False
            if ok:
                break
        else:
            raise CalibrationError("no assignment of sex/race/antibodies without association")
        ana_neg = int(rng.choice(np.flatnonzero((scl70 == 0) & (rna <= 0))))
        rnp_pos = rng.choice(np.setdiff1d(np.arange(n), [ana_neg]), 2, replace=False)
        rnp_blank = int(rng.choice(np.setdiff1d(np.arange(n), np.append(rnp_pos, ana_neg))))
        for i, p in enumerate(self.pts):
            p.sex, p.race = str(sex[i]), str(race[i])
            p.ab = {
                "ana": "neg" if i == ana_neg else "pos",
                "anti_centromere": "neg",
                "anti_scl70": "pos" if scl70[i] else "neg",
                "anti_rnapol3": {-1: "", 0: "neg", 1: "pos"}[int(rna[i])],
                "anti_rnp": "" if i == rnp_blank else ("pos" if i in rnp_pos else "neg"),
            }
        self.check_logistic()

    # ------------------------------------------------------------------ predictors
    def predictor_matrix(self) -> dict[str, np.ndarray]:
        """The book's candidate predictors of response (skin.predictors), per patient."""

        def flag(drug):
            spec = DRUGS.get(drug, {})
            on = set(spec.get("pc", [])) | set(spec.get("new", []))
            return np.array([float(p.key in on) for p in self.pts])

        def age_onset(p):
            return (p.onset - date(p.birth_year, 7, 1)).days / 365.25

        out = {
            "age_onset": np.array([age_onset(p) for p in self.pts]),
            "race_white": np.array([float(p.race == "white") for p in self.pts]),
            "female": np.array([float(p.sex == "F") for p in self.pts]),
            "duration": np.array([float(p.duration) for p in self.pts]),
            "cycles": np.array([float(p.n_cycles) for p in self.pts]),
            "treatment_months": np.array([float(p.months) for p in self.pts]),
            "stop_improved_or_stable": np.array(
                [
                    np.nan if p.stop == "ongoing" else float(p.stop in ("improvement", "stable"))
                    for p in self.pts
                ]
            ),
            "scl70": np.array([float(p.ab["anti_scl70"] == "pos") for p in self.pts]),
            "rnapol3": np.array(
                [
                    np.nan if not p.ab["anti_rnapol3"] else float(p.ab["anti_rnapol3"] == "pos")
                    for p in self.pts
                ]
            ),
        }
        for drug in (
            "prednisone",
            "methotrexate",
            "cyclophosphamide",
            "hydroxychloroquine",
            "mycophenolate",
            "imatinib",
        ):
            out[drug] = flag(drug)
        return out

    def check_logistic(self) -> None:
        """Simple logistic regressions of responder status: only prednisone at 12 months
        may be (borderline) significant."""
        X = self.predictor_matrix()
        for month, attr in ((6, "r6"), (12, "r12")):
            r = np.array(
                [np.nan if getattr(p, attr) is None else getattr(p, attr) for p in self.pts],
                dtype=float,
            )
            for name, x in X.items():
                m = ~np.isnan(r) & ~np.isnan(x)
                orr, pv = C.logit_wald(r[m], x[m])
                self.achieved[f"logit_{name}_m{month}_p"] = pv
                if name == "prednisone" and month == 12:
                    continue
                if not np.isnan(pv) and pv < 0.05:
                    raise CalibrationError(
                        f"{name} predicts response at {month} months (p={pv:.3f})"
                    )

    # ------------------------------------------------------------------ 5. skin scores
    def skin(self) -> None:
        rng = self._rng(6)
        pts = self.pts
        n = len(pts)
        X = self.predictor_matrix()

        # ---- baseline: the means are fixed through exact sums. V6 = B + D6 must print
        # 24.1 while D6 prints -5.3, and V12 22.5 while D12 prints -8(.0): that pins the
        # baseline sums of the 29 and 25 patients with those visits. Cells: in both,
        # only in the 6-month set, only in the 12-month set.
        in6 = np.array([6 in p.windows for p in pts])
        in12 = np.array([12 in p.windows for p in pts])
        self.change_sums = {6: _closest_sum(29, -5.3), 12: _closest_sum(25, -8.0)}
        total = C.sums_for_mean(n, 1.0, 29.6, 1)[0]
        cells = {
            "both": np.flatnonzero(in6 & in12),
            "6": np.flatnonzero(in6 & ~in12),
            "12": np.flatnonzero(~in6 & in12),
            "none": np.flatnonzero(~in6 & ~in12),
        }
        plan = None
        for v6 in C.sums_for_mean(int(in6.sum()), 1.0, 24.1, 1):
            for v12 in C.sums_for_mean(int(in12.sum()), 1.0, 22.5, 1):
                s6, s12 = v6 - self.change_sums[6], v12 - self.change_sums[12]
                # cell sums: both + only6 = s6; both + only12 = s12; all = total
                only12 = total - s6 - (0 if not len(cells["none"]) else 0)
                both = s12 - only12
                only6 = s6 - both
                if (
                    len(cells["12"]) * 15 <= only12 <= len(cells["12"]) * 48
                    and len(cells["6"]) * 15 <= only6 <= len(cells["6"]) * 48
                    and len(cells["both"]) * 15 <= both <= len(cells["both"]) * 48
                    and not len(cells["none"])
                ):
                    plan = {"both": both, "6": only6, "12": only12}
                    break
            if plan:
                break
        if plan is None:
            raise CalibrationError("baseline mRSS: no cell sums fit the published means")
        b0 = np.clip(np.rint(rng.normal(29.6, 7.2, n)), 16, 46).astype(np.int64)
        for cell, target in plan.items():
            b0[cells[cell]] = C.fix_sum(b0[cells[cell]], target, 15, 48, rng)
        targets = [Target.printed("baseline sd", lambda v: _sd(v), 7.2, 1)]
        # Table 1 comparator columns: Student t from summary statistics (historical_controls.csv)
        for comp, (m2, s2, n2, printed, dec) in HIST_BASELINE_MRSS.items():

            def fn(v, m2=m2, s2=s2, n2=n2):
                return C.pooled_t_p(_mean(v), _sd(v), n, m2, s2, n2)

            if printed is None:
                targets.append(Target.at_most(f"baseline mRSS vs {comp} p", fn, 0.00004, 1e-5))
            else:
                targets.append(Target.printed(f"baseline mRSS vs {comp} p", fn, printed, dec))
        base = C.integer_search(
            b0,
            np.full(n, 15),
            np.full(n, 48),
            targets,
            rng,
            singles=False,
            pair_blocks=[c for c in cells.values() if len(c) > 1],
        )
        bad = C.failing(targets, base)
        if bad:
            raise CalibrationError("baseline mRSS: " + "; ".join(bad))
        for p, b in zip(pts, base):
            p.base = int(b)

        # ---- latent course: responders fall, others drift; coherent across visits
        slope = {}
        for p in pts:
            if p.stop == "progressing":
                slope[p.key] = 0.45
            elif (p.r12 == 1) or (p.r12 is None and p.r6 == 1):
                slope[p.key] = -rng.uniform(0.7, 1.6)
            elif p.r6 == 1:
                slope[p.key] = -rng.uniform(0.5, 1.0)
            else:
                slope[p.key] = -rng.uniform(0.0, 0.4)
        prev: dict[str, float] = {}
        for month in FOLLOWUP:
            members = [p for p in pts if month in p.windows]
            idx = self.idx([p.key for p in members])
            B = base[idx].astype(float)
            for _attempt in range(ATTEMPTS):
                init, lo, hi = [], [], []
                for p in members:
                    centre = slope[p.key] * min(month, 14) + (
                        slope[p.key] * 0.3 * (month - 14) if month > 14 else 0
                    )
                    if p.key in prev:
                        centre = 0.5 * centre + 0.5 * (prev[p.key] + slope[p.key] * 2)
                    d = centre + rng.normal(0, 2.0)
                    flag = p.r6 if month == 6 else p.r12 if month == 12 else None
                    l, h = -30, 14
                    if flag == 1:
                        h = -5
                    elif flag == 0:
                        l = -4
                    if p.stop == "progressing":
                        l = 2
                    l = max(l, 3 - p.base)
                    h = min(h, 51 - p.base)
                    init.append(int(np.clip(round(d), l, h)))
                    lo.append(l)
                    hi.append(h)
                init, lo, hi = map(np.array, (init, lo, hi))
                nm = len(members)
                key = f"m{month}"
                # exact sum of the changes: from the published mean change (6, 12 months) or
                # from the published visit mean (18, 24 months)
                if month in self.change_sums:
                    dsum = self.change_sums[month]
                else:
                    dsum = C.sums_for_mean(nm, 1.0, PUBLISHED[f"mrss_{key}_mean"][0], 1)[0] - int(
                        B.sum()
                    )
                init = _fix_sum_bounded(init, dsum, lo, hi, rng)
                tg: list[Target] = [
                    Target.printed(
                        f"mRSS {key} mean",
                        lambda d, B=B: _mean(B + d),
                        *PUBLISHED[f"mrss_{key}_mean"],
                    ),
                    Target.printed(
                        f"mRSS {key} sd", lambda d, B=B: _sd(B + d), *PUBLISHED[f"mrss_{key}_sd"]
                    ),
                ]
                if month in (6, 12):
                    tg += [
                        Target.printed(
                            f"change {key} mean",
                            lambda d: _mean(d),
                            *PUBLISHED[f"mrss_change_{key}_mean"],
                            pull=0.05,
                        ),
                        Target.printed(
                            f"change {key} sd",
                            lambda d: _sd(d),
                            *PUBLISHED[f"mrss_change_{key}_sd"],
                            pull=0.02,
                        ),
                    ]
                plo, phi = {
                    6: (0.00105, 0.00115),
                    12: (0.00005, 0.00015),
                    18: (0.000102, 0.000145),
                    24: (1e-12, 0.00004),
                }[month]
                tlo, thi = C.t_for_p(phi, nm - 1), C.t_for_p(plo, nm - 1)
                tg.append(
                    Target(
                        f"paired t {key}",
                        lambda d: -C.paired_t_stat(d.astype(float)),
                        tlo,
                        thi,
                        centre=(tlo + thi) / 2,
                        scale=0.01,
                    )
                )
                for comp, (m2, s2, n2, printed, dec) in HIST_CHANGE.get(month, {}).items():
                    tg.append(
                        Target.printed(
                            f"change {key} vs {comp} p",
                            lambda d, m2=m2, s2=s2, n2=n2, nm=nm: C.pooled_t_p(
                                _mean(d), _sd(d), nm, m2, s2, n2
                            ),
                            printed,
                            dec,
                        )
                    )
                if month in (6, 12):
                    # no covariate predicts the change (simple linear regression p >= 0.08)
                    for name, x in X.items():
                        xs = x[idx]
                        m = ~np.isnan(xs)
                        if np.unique(xs[m]).size < 2:
                            continue
                        tcrit = C.t_for_p(0.08, int(m.sum()) - 2)
                        tg.append(
                            Target.at_most(
                                f"linreg {name} {key}",
                                lambda d, xs=xs[m], m=m: abs(C.corr_t(xs, d[m].astype(float))),
                                tcrit,
                                0.05,
                            )
                        )
                ref = init.astype(float)

                def realism(d, ref=ref):
                    return 0.002 * float(np.sum((d - ref) ** 2))

                d = C.integer_search(
                    init,
                    lo,
                    hi,
                    tg,
                    rng,
                    extra_cost=realism,
                    singles=False,
                    pair_blocks=[np.arange(nm)],
                )
                bad = C.failing(tg, d)
                if not bad:
                    break
            else:
                raise CalibrationError(f"mRSS month {month}: " + "; ".join(bad))
            for p, v in zip(members, d):
                p.fu[month] = int(p.base + v)
                prev[p.key] = float(v)
            V = B + d
            self.achieved.update(
                {
                    f"mrss_{key}_n": nm,
                    f"mrss_{key}_mean": _mean(V),
                    f"mrss_{key}_sd": _sd(V),
                    f"mrss_{key}_p": C.t_p(C.paired_t_stat(d.astype(float)), nm - 1),
                }
            )
            if month in (6, 12):
                self.achieved[f"mrss_change_{key}_mean"] = _mean(d)
                self.achieved[f"mrss_change_{key}_sd"] = _sd(d)
                self.achieved[f"responders_{key}_k"] = int(np.sum(d <= -5))
        self.achieved.update({"mrss_bl_n": n, "mrss_bl_mean": _mean(base), "mrss_bl_sd": _sd(base)})
        # the comparisons no cohort can reproduce with the comparator Ns on file (README)
        d6m, d6s = self.achieved["mrss_change_m6_mean"], self.achieved["mrss_change_m6_sd"]
        self.achieved.update(
            {
                "hist_relaxin_m6_p": C.pooled_t_p(d6m, d6s, 29, -4.83, 6.99, 196),
                "hist_mmf_m6_p": C.pooled_t_p(d6m, d6s, 29, -3.4, 7.4, 71),
                "hist_mmf_bl_mrss_p": C.pooled_t_p(_mean(base), _sd(base), n, 24.5, 9.5, 87),
            }
        )

    # ------------------------------------------------------------------ 6. visit schedule
    def schedule(self) -> None:
        """Visit offsets and dates per patient; designated values sit where the window
        rules will find them, everything else where they will not."""
        rng = self._rng(7)
        jitter_p = np.array([0.07, 0.2, 0.46, 0.2, 0.07])
        for p in self.pts:
            limit = C.offset_of(CUTOFF, p.first)
            if p.death is not None:
                limit = min(limit, C.offset_of(p.death, p.first) - 1)
            visits = []  # dicts: offset, role, month (target), day_hint
            bo = int(rng.choice([0, -1, -2, -3], p=[0.55, 0.3, 0.1, 0.05]))
            visits.append({"offset": bo, "role": "base"})
            if rng.random() < 0.2:
                options = [o for o in range(-3, bo)] or [bo]
                visits.append(
                    {"offset": int(rng.choice(options)), "role": "base_decoy", "before": bo}
                )
            # pre-IVIG history (rising skin scores)
            if rng.random() < 0.87:
                k = int(rng.integers(1, 4))
                cands = sorted(rng.choice(np.arange(-24, -3), size=k, replace=False))
                kept = []
                for o in cands:
                    if all(abs(o - q) >= 3 for q in kept):
                        kept.append(int(o))
                visits += [{"offset": o, "role": "pre"} for o in kept]
            # designated follow-up values
            used = {bo}
            for t in p.windows:
                j = int(rng.choice([-2, -1, 0, 1, 2], p=jitter_p))
                o = t + j
                if p.key == "S1" and t == 12:
                    o = min(o, 13)
                o = min(o, limit)
                if abs(o - t) > 2:
                    raise CalibrationError(f"{p.key}: no room for the {t}-month visit")
                visits.append({"offset": o, "role": "fu", "month": t})
                used.add(o)
                if rng.random() < 0.15:
                    visits.append(self._decoy(rng, o, t))
            # visits between windows (never inside one)
            gaps = {
                "C": [15, 21],
                "D": [9, 15],
                "E": [3, 9],
                "G": [9, 15, 21, 28],
            }.get(p.pattern, [])
            if p.key == "N1":
                gaps = [9]
            elif p.key == "AM":
                gaps = [9, 15, 21, 27]
            elif p.key in ("DT", "S1"):
                gaps = [15]
            elif p.key in ("TIA", "I14", "I15"):
                gaps = [21, int(rng.choice([27, 28]))]
            elif p.pattern == "A":
                gaps = [g for g in (3, 9, 15, 21) if rng.random() < 0.25]
            elif p.key == "OG":
                gaps = [g for g in (3, 9) if rng.random() < 0.5]
            visits += [{"offset": g, "role": "gap"} for g in gaps if g <= limit]
            # long-term follow-up
            if p.pattern in ("A", "C", "D", "E", "G") or p.key in ("TIA", "I14", "I15", "AM"):
                o = max(v["offset"] for v in visits)
                for _ in range(int(rng.integers(0, 7))):
                    o += int(rng.integers(5, 8))
                    if o > limit or o > 84:
                        break
                    if 22 <= o <= 26:
                        o = 27 + int(rng.integers(0, 2))
                    visits.append({"offset": o, "role": "post"})
            # dates: one visit per month except decoys sharing the month on an earlier day
            offs = [v["offset"] for v in visits if v["role"] != "fu_decoy_same"]
            if len(offs) != len(set(offs)):
                # drop colliding extras (keep designated ones)
                seen, keep = set(), []
                for v in sorted(visits, key=lambda v: (v["role"] not in ("base", "fu"),)):
                    if v["role"] == "fu_decoy_same" or v["offset"] not in seen:
                        keep.append(v)
                        seen.add(v["offset"])
                visits = keep
            for v in visits:
                if v["role"] == "fu_decoy_same":
                    continue
                v["date"] = C.month_date(p.first, v["offset"], _day(rng, 2, 28))
                if v["role"] == "fu" and any(
                    w["role"] == "fu_decoy_same" and w["of"] == v["month"] for w in visits
                ):
                    v["date"] = C.month_date(p.first, v["offset"], _day(rng, 12, 28))
            for v in visits:
                if v["role"] == "fu_decoy_same":
                    host = next(w for w in visits if w["role"] == "fu" and w["month"] == v["of"])
                    v["date"] = host["date"] - timedelta(days=int(rng.integers(3, 10)))
            for v in visits:
                if v["date"] > CUTOFF or (p.death is not None and v["date"] >= p.death):
                    raise CalibrationError(f"{p.key}: visit after cut-off/death")
            p.visits = sorted(visits, key=lambda v: v["date"])
            self._check_windows(p)

    @staticmethod
    def _decoy(rng, o: int, t: int) -> dict:
        """An extra mRSS inside the window that the rule must not choose."""
        dist = abs(o - t)
        options = [q for q in range(t - 2, t + 3) if abs(q - t) > dist]
        if o > t:
            options.append(2 * t - o)  # as far from the target but earlier: the later one wins
        if options and rng.random() < 0.75:
            return {"offset": int(rng.choice(options)), "role": "fu_decoy", "of": t}
        return {"offset": o, "role": "fu_decoy_same", "of": t}

    def _check_windows(self, p: Pt) -> None:
        """Re-derive, with the DESIGN §4 rules, which visit each window picks."""
        mr = [v for v in p.visits]
        base = [v for v in mr if -3 <= v["offset"] <= 0]
        chosen = max(base, key=lambda v: v["date"])
        if chosen["role"] != "base":
            raise CalibrationError(f"{p.key}: baseline window would pick a {chosen['role']}")
        for t in FOLLOWUP:
            inwin = [v for v in mr if abs(v["offset"] - t) <= 2]
            if not inwin:
                if t in p.windows:
                    raise CalibrationError(f"{p.key}: no visit in the {t}-month window")
                continue
            best = min(inwin, key=lambda v: (abs(v["offset"] - t), -v["date"].toordinal()))
            if t not in p.windows or best["role"] != "fu" or best["month"] != t:
                raise CalibrationError(f"{p.key}: {t}-month window picks the wrong visit")

    # ------------------------------------------------------------------ 7. other scores
    def visit_values(self) -> None:
        """mRSS at every visit, then the questionnaires, TFR and Medsger at research visits."""
        rng = self._rng(8)
        for p in self.pts:
            anchors = sorted([(0, p.base)] + [(m, v) for m, v in p.fu.items()])
            rise = rng.uniform(0.15, 0.6)
            last_val = anchors[-1][1]
            drift = 0.0
            for v in p.visits:
                o, role = v["offset"], v["role"]
                if role == "base":
                    val = p.base
                elif role == "fu":
                    val = p.fu[v["month"]]
                    if not 0 <= val <= 51:
                        raise CalibrationError(f"{p.key}: designed mRSS {val} out of range")
                    v["MRSS"] = int(val)
                    continue
                elif role == "pre":
                    val = max(p.base - rise * (-o) + rng.normal(0, 1.5), 6)
                elif role == "base_decoy":
                    val = p.base + rng.choice([-3, -2, 2, 3])
                elif role in ("fu_decoy", "fu_decoy_same"):
                    val = p.fu[v["of"]] + rng.choice([-4, -3, -2, 2, 3, 4])
                elif role == "post":
                    drift += rng.normal(-0.6, 1.8)
                    val = last_val + drift
                else:  # gap: interpolate between the designed values around it
                    val = float(np.interp(o, [a for a, _ in anchors], [b for _, b in anchors]))
                    if o > anchors[-1][0]:
                        val = last_val + rng.normal(-1.0, 1.5)
                    val += rng.normal(0, 1.5)
                v["MRSS"] = int(np.clip(round(val), 2, 51))

    # ------------------------------------------------------------------ 8. HAQ
    def haq(self) -> None:
        rng = self._rng(9)
        pts = self.pts
        has_base = [p for p in pts if p.key not in NO_BASELINE_HAQ]
        paired = [p for p in has_base if 12 in p.windows and p.key != ABSTRACTED_12M]
        if len(has_base) != 28 or len(paired) != 24:
            raise CalibrationError("HAQ design: expected 28 baselines and 24 pairs")
        nb = len(has_base)
        pair_idx = np.array([has_base.index(p) for p in paired])

        def solve(unit, hi, bl, bl_sd, m12, m12_sd, p_band, what):
            return C.solve_paired(
                rng,
                n_base=nb,
                pair_idx=pair_idx,
                unit=unit,
                lo=0,
                hi=hi,
                decimals=2,
                base=(bl, bl_sd),
                paired_base=(bl, bl_sd),
                follow=(m12, m12_sd),
                p_band=p_band,
                what=what,
                change_sd=0.55,
            )

        hb, hf = solve(0.125, 24, 1.29, 0.70, 1.21, 0.75, (0.43555, 0.43645), "HAQ-DI")
        vb, vf = solve(0.03, 100, 1.63, 0.72, 1.07, 0.76, (0.00101, 0.00145), "HAQ VAS")
        self.haq_values = {}
        for i, p in enumerate(has_base):
            self.haq_values[p.key] = {"bl": (hb[i], vb[i])}
        for j, p in enumerate(paired):
            self.haq_values[p.key]["m12"] = (hf[j], vf[j])
        for p in pts:
            self.haq_values.setdefault(p.key, {})
        pb = hb[pair_idx] * 0.125
        self.achieved.update(
            {
                "haq_bl_n": nb,
                "haq_bl_mean": _mean(hb * 0.125),
                "haq_bl_sd": _sd(hb * 0.125),
                "haq_m12_n": len(paired),
                "haq_m12_base_mean": _mean(pb),
                "haq_m12_base_sd": _sd(pb),
                "haq_m12_mean": _mean(hf * 0.125),
                "haq_m12_sd": _sd(hf * 0.125),
                "haq_m12_p": C.t_p(C.paired_t_stat(hf * 0.125 - pb), len(paired) - 1),
                "vas_bl_mean": _mean(vb[pair_idx] * 0.03),
                "vas_bl_sd": _sd(vb[pair_idx] * 0.03),
                "vas_bl_all_mean": _mean(vb * 0.03),
                "vas_bl_all_sd": _sd(vb * 0.03),
                "vas_m12_mean": _mean(vf * 0.03),
                "vas_m12_sd": _sd(vf * 0.03),
                "vas_m12_p": C.t_p(C.paired_t_stat((vf - vb[pair_idx]) * 0.03), len(paired) - 1),
            }
        )

    # ------------------------------------------------------------------ 9. Medsger
    MEDSGER_TARGETS = {
        "VASCULAR": 0.527,
        "GENERAL": 0.711,
        "LUNG": 0.905,
        "GI": 0.182,
        "MUSCLE": 0.054,
    }

    def medsger(self) -> None:
        rng = self._rng(10)
        pts = self.pts
        paired = [p for p in pts if 12 in p.windows and p.key != ABSTRACTED_12M]
        n = len(paired)
        base = {}
        for p in pts:
            tfr1 = p.tfr != ""
            base[p.key] = {
                "GENERAL": int(rng.choice([0, 1, 2], p=[0.45, 0.4, 0.15])),
                "VASCULAR": int(rng.choice([1, 2, 3], p=[0.45, 0.4, 0.15])),
                "JOINT": int(rng.choice([2, 3]) if tfr1 else rng.choice([1, 2], p=[0.6, 0.4])),
                "MUSCLE": int(
                    rng.choice([2, 3]) if p.myositis else rng.choice([0, 1], p=[0.6, 0.4])
                ),
                "GI": int(rng.choice([1, 2], p=[0.6, 0.4])),
                "LUNG": int(rng.choice([0, 1, 2], p=[0.35, 0.45, 0.2])),
                "HEART": 2 if p.key == "DT" else int(rng.choice([0, 1], p=[0.8, 0.2])),
                "KIDNEY": 0,
            }
        for k in rng.choice([p.key for p in pts], 2, replace=False):
            base[str(k)]["KIDNEY"] = 1
        change = {p.key: {} for p in paired}
        for organ, target in self.MEDSGER_TARGETS.items():
            designs = C.signrank_designs(n, target, 3, max_abs=2)
            if not designs:
                raise CalibrationError(f"no signed-rank design for Medsger {organ}")
            top = designs[: min(3, len(designs))]
            design = top[int(rng.integers(len(top)))]
            if organ == "MUSCLE":  # improvement: more falls than rises
                if sum(c for d, c in design.items() if d < 0) < sum(
                    c for d, c in design.items() if d > 0
                ):
                    design = {-d: c for d, c in design.items()}
            diffs = []
            for d in sorted(design):
                diffs += [d] * design[d]
            diffs += [0] * (n - len(diffs))
            order = list(rng.permutation(n))
            if organ == "MUSCLE":  # falls go to the myositis patients first
                myo = [i for i in order if paired[i].myositis]
                order = myo + [i for i in order if not paired[i].myositis]
                diffs = sorted(diffs)  # most negative first
            for i, d in zip(order, diffs):
                key = paired[i].key
                b = base[key][organ]
                b = max(b, -d) if d < 0 else min(b, 4 - d) if d > 0 else b
                base[key][organ] = b
                change[key][organ] = d
        heart_moves = rng.choice(n, 2, replace=False)
        for i, d in zip(heart_moves, (1, -1)):
            key = paired[int(i)].key
            b = base[key]["HEART"]
            base[key]["HEART"] = max(b, 1) if d < 0 else min(b, 3)
            change[key]["HEART"] = d
        self.medsger_base = base
        self.medsger_m12 = {
            k: {o: base[k][o] + change[k].get(o, 0) for o in base[k]} for k in change
        }
        for organ in ("VASCULAR", "GENERAL", "LUNG", "GI", "MUSCLE", "HEART", "KIDNEY"):
            d = np.array([self.medsger_m12[p.key][organ] - base[p.key][organ] for p in paired])
            self.achieved[f"medsger_{organ.lower()}_p"] = C.signrank_p(d)
            self.achieved[f"medsger_{organ.lower()}_n"] = n

    # ------------------------------------------------------------------ 10. lung, CK, RVSP
    def lung(self) -> None:
        rng = self._rng(11)
        pts = self.pts
        fvc_b = [p for p in pts if p.key != NO_BASELINE_PFT]
        fvc_pair = [p for p in fvc_b if p.key != NO_12M_PFT]
        dl_b = [p for p in fvc_b if p.key != NO_DLCO]
        dl_pair = [p for p in fvc_pair if p.key != NO_DLCO and p.key not in NO_12M_DLCO]
        assert (len(fvc_b), len(fvc_pair), len(dl_b), len(dl_pair)) == (29, 28, 28, 25)

        def solve(group_b, group_p, bl, bl_sd, pb, pb_sd, m12, m12_sd, p_val, lo, hi, what, init_b):
            pidx = np.array([group_b.index(p) for p in group_p])
            b, f = C.solve_paired(
                rng,
                n_base=len(group_b),
                pair_idx=pidx,
                unit=1.0,
                lo=lo,
                hi=hi,
                decimals=1,
                base=(bl, bl_sd),
                paired_base=(pb, pb_sd),
                follow=(m12, m12_sd),
                p_band=(p_val - 0.00045, p_val + 0.00045),
                what=what,
                base_init=init_b,
                change_sd=10.0,
            )
            b, f = b.astype(float), f.astype(float)
            return (
                {p.key: int(b[i]) for i, p in enumerate(group_b)},
                {p.key: int(f[j]) for j, p in enumerate(group_p)},
                (b, f, pidx),
            )

        fb, ff, (b, f, pidx) = solve(
            fvc_b,
            fvc_pair,
            83.1,
            19.2,
            83.0,
            19.6,
            83.8,
            16.8,
            0.678,
            35,
            130,
            "FVC",
            rng.normal(83.1, 19.2, len(fvc_b)),
        )
        self.achieved.update(
            {
                "fvc_bl_n": len(b),
                "fvc_bl_mean": _mean(b),
                "fvc_bl_sd": _sd(b),
                "fvc_m12_n": len(f),
                "fvc_m12_base_mean": _mean(b[pidx]),
                "fvc_m12_base_sd": _sd(b[pidx]),
                "fvc_m12_mean": _mean(f),
                "fvc_m12_sd": _sd(f),
                "fvc_m12_p": C.t_p(C.paired_t_stat(f - b[pidx]), len(f) - 1),
            }
        )
        init = np.array([0.9 * fb[p.key] + rng.normal(0, 12) for p in dl_b])
        init = 76.8 + (init - init.mean()) / init.std() * 20.2
        db, df, (b, f, pidx) = solve(
            dl_b, dl_pair, 76.8, 20.2, 76.3, 21.0, 79.9, 23.1, 0.331, 22, 135, "DLCO", init
        )
        self.achieved.update(
            {
                "dlco_bl_n": len(b),
                "dlco_bl_mean": _mean(b),
                "dlco_bl_sd": _sd(b),
                "dlco_m12_n": len(f),
                "dlco_m12_base_mean": _mean(b[pidx]),
                "dlco_m12_base_sd": _sd(b[pidx]),
                "dlco_m12_mean": _mean(f),
                "dlco_m12_sd": _sd(f),
                "dlco_m12_p": C.t_p(C.paired_t_stat(f - b[pidx]), len(f) - 1),
            }
        )
        self.pft = {"FVC_PCT": (fb, ff), "DLCO_PCT": (db, df)}

    def ck_rvsp(self) -> None:
        rng = self._rng(12)
        pts = self.pts
        myo = [p for p in pts if p.myositis]
        others = [p.key for p in pts if not p.myositis]
        ck_keys = [p.key for p in myo] + sorted(rng.choice(others, 13, replace=False).tolist())
        lo = np.array([400] * 5 + [35] * 13)
        hi = np.array([4000] * 5 + [195] * 13)
        for _attempt in range(ATTEMPTS):
            myo0 = np.array([2100, 800, 560, 420, 350]) * rng.uniform(0.85, 1.15, 5)
            init = np.concatenate([myo0, rng.normal(105, 40, 13)])
            ck = C.integer_search(
                np.rint(init),
                lo,
                hi,
                [
                    Target.printed("CK mean", lambda v: _mean(v), 265.8, 1),
                    Target.printed("CK sd", lambda v: _sd(v), 440.6, 1),
                ],
                rng,
            )
            if C.prints_as(_mean(ck), 265.8, 1) and C.prints_as(_sd(ck), 440.6, 1):
                break
        else:
            raise CalibrationError("baseline CK")
        self.ck_base = {k: int(v) for k, v in zip(ck_keys, ck)}
        rv_keys = sorted(rng.choice([p.key for p in pts], 19, replace=False).tolist())
        for attempt in range(ATTEMPTS):
            try:
                rv = C.solve_mean_sd(rng, 19, 32.1, 6.5, 1, 20, 60, what="RVSP")
                break
            except CalibrationError:
                if attempt == ATTEMPTS - 1:
                    raise
        self.rvsp_base = {k: int(v) for k, v in zip(rv_keys, rv)}
        self.achieved.update(
            {
                "ck_bl_n": len(ck),
                "ck_bl_mean": _mean(ck),
                "ck_bl_sd": _sd(ck),
                "rvsp_bl_n": 19,
                "rvsp_bl_mean": _mean(rv),
                "rvsp_bl_sd": _sd(rv),
            }
        )

    # ------------------------------------------------------------------ 11. measurement rows
    def measurement_rows(self) -> None:
        rng = self._rng(13)
        rows = self.measurements

        def add(p, d, measure, value):
            rows.append({"patient_id": p.pid, "date": d, "measure": measure, "value": value})

        for p in self.pts:
            hv = self.haq_values[p.key]
            research = [v for v in p.visits if v["role"] in ("pre", "base", "fu", "gap", "post")]
            # questionnaire trajectory: baseline / 12-month designed values, others around them
            hb = hv.get("bl")
            h12 = hv.get("m12")
            for v in p.visits:
                add(p, v["date"], "MRSS", float(v["MRSS"]))
            for v in research:
                o = v["offset"]
                role = v["role"]
                is_base = role == "base"
                is_12 = role == "fu" and v["month"] == 12
                # TFR
                if p.tfr:
                    if o < 4:
                        tfr = 1
                    elif o <= 8:
                        tfr = 1 if p.tfr == "P" else 0
                    elif o <= 12:
                        tfr = 1 if (p.tfr == "P" and p.key == "P1") else 0
                    else:
                        tfr = 0
                else:
                    tfr = 0
                if not (is_12 and p.key == ABSTRACTED_12M):
                    add(p, v["date"], "TFR", float(tfr))
                # HAQ-DI and VAS
                if is_base:
                    if hb is not None:
                        add(p, v["date"], "HAQ_DI", hb[0] * 0.125)
                        add(p, v["date"], "HAQ_VAS_SEVERITY", round(hb[1] * 0.03, 2))
                elif is_12:
                    if h12 is not None:
                        add(p, v["date"], "HAQ_DI", h12[0] * 0.125)
                        add(p, v["date"], "HAQ_VAS_SEVERITY", round(h12[1] * 0.03, 2))
                elif not (p.key in NO_BASELINE_HAQ and role == "pre"):
                    ref = hb if hb is not None else (12, 50)
                    tgt = h12 if h12 is not None else ref
                    w = min(max(o, 0), 12) / 12.0
                    h = (1 - w) * ref[0] + w * tgt[0] + rng.normal(0, 1.5)
                    s = (1 - w) * ref[1] + w * tgt[1] + rng.normal(0, 6)
                    if role == "pre":
                        h, s = ref[0] + rng.normal(-1, 1.5), ref[1] + rng.normal(-4, 6)
                    add(p, v["date"], "HAQ_DI", int(np.clip(round(h), 0, 24)) * 0.125)
                    add(
                        p,
                        v["date"],
                        "HAQ_VAS_SEVERITY",
                        round(int(np.clip(round(s), 0, 100)) * 0.03, 2),
                    )
                # Medsger (research visits from baseline on)
                if role != "pre" and not (is_12 and p.key == ABSTRACTED_12M):
                    mb = self.medsger_base[p.key]
                    m12 = self.medsger_m12.get(p.key)
                    for organ in (
                        "GENERAL",
                        "VASCULAR",
                        "SKIN",
                        "JOINT",
                        "MUSCLE",
                        "GI",
                        "LUNG",
                        "HEART",
                        "KIDNEY",
                    ):
                        if organ == "SKIN":
                            val = _medsger_skin(v["MRSS"])
                        elif is_base or m12 is None or o < 10:
                            val = (
                                mb[organ]
                                if (is_base or m12 is None or o < 5 or rng.random() < 0.5)
                                else m12[organ]
                            )
                        else:
                            val = m12[organ]
                        add(p, v["date"], f"MEDSGER_{organ}", float(val))
            base_visit = next(v for v in p.visits if v["role"] == "base")
            add(p, base_visit["date"], "RENAL_CRISIS", 0.0)
            # CK: baseline at the baseline visit; serial values in 4 myositis patients
            if p.key in self.ck_base:
                add(p, base_visit["date"], "CK_UL", float(self.ck_base[p.key]))
                if p.myositis and p.pattern != "E":
                    c0 = self.ck_base[p.key]
                    for o, frac in ((2, 0.55), (4, 0.3), (7, 0.15), (12, 0.08)):
                        val = max(c0 * frac + rng.normal(0, 15), 60.0)
                        if o >= 7:
                            val = min(val, 185.0)
                        add(p, C.month_date(p.first, o, _day(rng)), "CK_UL", float(round(val)))
            # echocardiography
            if p.key in self.rvsp_base:
                add(
                    p,
                    C.month_date(p.first, int(rng.integers(-3, 1)), _day(rng)),
                    "RVSP_MMHG",
                    float(self.rvsp_base[p.key]),
                )
                if rng.random() < 0.5 and C.offset_of(CUTOFF, p.first) >= 14 and p.key != "DT":
                    add(
                        p,
                        C.month_date(p.first, int(rng.integers(11, 15)), _day(rng)),
                        "RVSP_MMHG",
                        float(self.rvsp_base[p.key] + int(rng.integers(-4, 5))),
                    )
            elif rng.random() < 0.4:
                add(
                    p,
                    C.month_date(p.first, int(rng.integers(-10, -4)), _day(rng)),
                    "RVSP_MMHG",
                    float(int(rng.integers(24, 40))),
                )
            # pulmonary function tests (own dates)
            fb, ff = self.pft["FVC_PCT"]
            db, dfu = self.pft["DLCO_PCT"]
            limit = C.offset_of(CUTOFF, p.first)
            if p.death is not None:
                limit = C.offset_of(p.death, p.first) - 1
            pfts = []
            if p.key in fb:
                pfts.append((int(rng.integers(-3, 1)), fb[p.key], db.get(p.key)))
            else:
                pfts.append((-6, 80 + int(rng.integers(-10, 10)), 70 + int(rng.integers(-10, 10))))
            if p.key in ff:
                o12 = 12 + int(rng.choice([-2, -1, 0, 1, 2], p=[0.1, 0.2, 0.4, 0.2, 0.1]))
                o12 = min(o12, limit)
                if abs(o12 - 12) > 2:
                    raise CalibrationError(f"{p.key}: no room for a 12-month PFT")
                pfts.append((o12, ff[p.key], dfu.get(p.key)))
            ref = fb.get(p.key, 80)
            if rng.random() < 0.5:
                pfts.append(
                    (
                        int(rng.integers(-16, -6)),
                        ref + int(rng.integers(-6, 7)),
                        None if p.key == NO_DLCO else db.get(p.key, 70) + int(rng.integers(-6, 7)),
                    )
                )
            if rng.random() < 0.35 and limit >= 8 and p.key != NO_BASELINE_PFT:
                pfts.append(
                    (
                        int(rng.integers(5, 8)),
                        ref + int(rng.integers(-5, 6)),
                        None if p.key == NO_DLCO else db.get(p.key, 70) + int(rng.integers(-5, 6)),
                    )
                )
            if limit >= 26 and p.key in ff and rng.random() < 0.6:
                pfts.append(
                    (
                        int(rng.integers(22, 27)),
                        ff[p.key] + int(rng.integers(-5, 6)),
                        None
                        if p.key == NO_DLCO
                        else dfu.get(p.key, db.get(p.key, 70)) + int(rng.integers(-5, 6)),
                    )
                )
            for o, fvc, dl in pfts:
                d = C.month_date(p.first, o, _day(rng))
                add(p, d, "FVC_PCT", float(np.clip(fvc, 20, 140)))
                if dl is not None and p.key != NO_DLCO:
                    add(p, d, "DLCO_PCT", float(np.clip(dl, 15, 140)))

    # ------------------------------------------------------------------ 12. infusions, drugs, AEs
    def infusion_rows(self) -> None:
        rng = self._rng(14)
        for p in self.pts:
            days = int(rng.choice([3, 4, 5], p=[0.15, 0.45, 0.4]))
            reduced_from = None  # a few patients continue on a reduced dose
            if rng.random() < 0.1 and len(p.cycle_dates) > 4:
                reduced_from = int(rng.integers(3, len(p.cycle_dates)))
            for i, d in enumerate(p.cycle_dates):
                dose = 2.0 if reduced_from is None or i < reduced_from else 1.5
                self.infusions.append(
                    {"patient_id": p.pid, "start_date": d, "dose_g_per_kg": dose, "days": days}
                )

    def medication_rows(self) -> None:
        rng = self._rng(15)
        for drug in sorted(DRUGS):
            spec = DRUGS[drug]
            for kind in ("pc", "new", "prior"):
                for key in spec.get(kind, []):
                    p = self.by[key]
                    first, last = p.first, p.last
                    if kind == "prior":
                        stop = first - timedelta(days=int(rng.integers(20, 200)))
                        start = stop - timedelta(days=int(rng.integers(60, 1400)))
                    elif kind == "pc":
                        start = first - timedelta(days=int(rng.integers(45, 1100)))
                        if rng.random() < 0.55 or p.stop == "ongoing":
                            stop = None
                        else:
                            span = max((last - first).days, 1)
                            stop = first + timedelta(
                                days=int(rng.integers(span // 2 + 1, span + 400))
                            )
                            stop = min(stop, CUTOFF)
                    else:  # new during round 1
                        span = (last - first).days
                        if key == FIRST_LINE_CYC or key == FIRST_LINE_MMF:
                            start = first + timedelta(days=int(rng.integers(1, 4)))
                        else:
                            start = first + timedelta(days=int(rng.integers(5, max(span - 5, 6))))
                        stop = (
                            None
                            if rng.random() < 0.6
                            else min(last + timedelta(days=int(rng.integers(30, 300))), CUTOFF)
                        )
                    self.medications.append(
                        {"patient_id": p.pid, "drug": drug, "start_date": start, "stop_date": stop}
                    )
        for key, drug in AFTER_IVIG.items():
            p = self.by[key]
            self.medications.append(
                {
                    "patient_id": p.pid,
                    "drug": drug,
                    "start_date": p.last + timedelta(days=int(rng.integers(60, 120))),
                    "stop_date": None,
                }
            )
        for key in ("I05", "S3"):  # an earlier, second prednisone course (still "prior")
            p = self.by[key]
            if key in DRUGS["prednisone"]["prior"]:
                stop = p.first - timedelta(days=int(rng.integers(500, 900)))
                self.medications.append(
                    {
                        "patient_id": p.pid,
                        "drug": "prednisone",
                        "start_date": stop - timedelta(days=120),
                        "stop_date": stop,
                    }
                )

    def adverse_event_rows(self) -> None:
        rng = self._rng(16)
        keys = [p.key for p in self.pts]
        holders: dict[str, list[str]] = {}
        for term in AE_COUNTS:
            k = AE_COUNTS[term]
            if term == "transient_ischemic_attack":
                chosen = ["TIA"]
            elif term == "acute_kidney_injury":
                chosen = [AKI_PATIENT]
            elif term == "headache":
                chosen = ["AM"] + sorted(
                    rng.choice([x for x in keys if x != "AM"], k - 1, replace=False).tolist()
                )
            elif term == "leukopenia":
                pool = sorted(
                    set(DRUGS["cyclophosphamide"]["pc"] + DRUGS["cyclophosphamide"]["new"])
                )
                chosen = sorted(rng.choice(pool, k, replace=False).tolist())
            else:
                chosen = sorted(rng.choice(keys, k, replace=False).tolist())
            holders[term] = chosen
        for term in AE_COUNTS:
            for key in holders[term]:
                p = self.by[key]
                if term == "acute_kidney_injury":
                    onset = C.month_date(p.last, 15, _day(rng))
                    self._ae(p, onset, term, "yes", "no")
                    continue
                if term == "transient_ischemic_attack":
                    self._ae(
                        p,
                        p.cycle_dates[p.n_cycles - 1] + timedelta(days=int(rng.integers(2, 12))),
                        term,
                        "yes",
                        "yes",
                    )
                    continue
                n_rec = 1
                if term in ("headache", "fatigue", "nausea_emesis") and p.n_cycles >= 3:
                    n_rec = int(rng.choice([1, 1, 2, 3]))
                cyc = sorted(rng.choice(p.n_cycles, size=min(n_rec, p.n_cycles), replace=False))
                if key == "AM" and term == "headache":
                    cyc = [0, 2]
                for c in cyc:
                    onset = p.cycle_dates[int(c)] + timedelta(days=int(rng.integers(0, 4)))
                    self._ae(p, onset, term, "no", "no")
        am = self.by["AM"]
        self._ae(am, am.cycle_dates[2] + timedelta(days=2), "aseptic_meningitis", "yes", "yes")
        # one patient with the same term twice on one day is not allowed to collide
        seen = set()
        unique = []
        for r in self.adverse_events:
            k = (r["patient_id"], r["onset_date"], r["term"])
            if k not in seen:
                seen.add(k)
                unique.append(r)
        self.adverse_events[:] = unique
        for r in self.adverse_events:
            if r["onset_date"] > CUTOFF:
                raise CalibrationError("adverse event after the data cut-off")

    def _ae(self, p, onset, term, serious, disc):
        self.adverse_events.append(
            {
                "patient_id": p.pid,
                "onset_date": onset,
                "term": term,
                "serious": serious,
                "led_to_discontinuation": disc,
            }
        )

    # ------------------------------------------------------------------ 13. excluded
    def excluded_patients(self) -> list[dict]:
        """Five excluded patients (flow diagram only)."""
        rng = self._rng(17)
        specs = [
            # key, subtype, active skin, indication, overlap, offsets, stop, reason
            ("X_MYO", "diffuse", "no", "myositis", "myositis", [0, 1, 2, 3, 4, 5], "improvement"),
            ("X_LIM", "limited", "no", "gi", "", [0, 1, 2, 4, 5], "stable"),
            ("X_FEW", "diffuse", "yes", "skin", "", [0, 1], "adverse_event"),
            ("X_ROUND", "diffuse", "yes", "skin", "", [0, 1, 5, 6, 7, 8], "stable"),
            ("X_NOBASE", "diffuse", "yes", "skin", "", [0, 1, 2, 3, 4, 5], "improvement"),
        ]
        rows = []
        for (key, sub, active, ind, ov, offs, stop), pid in zip(specs, self._excluded_ids):
            y = int(rng.integers(2005, 2012))
            first = date(y, int(rng.integers(1, 13)), _day(rng, 2, 26))
            days = int(rng.choice([4, 5]))
            for o in offs:
                d = (
                    first
                    if o == 0
                    else C.month_date(
                        first, o, int(np.clip(first.day + rng.integers(-3, 4), 1, 28))
                    )
                )
                self.infusions.append(
                    {"patient_id": pid, "start_date": d, "dose_g_per_kg": 2.0, "days": days}
                )
            dur = int(rng.integers(8, 60))
            onset = C.month_date(first, -dur, _day(rng))
            by = first.year - int(rng.integers(30, 65))
            base_mrss = 12 if key in ("X_MYO", "X_LIM") else int(rng.integers(22, 36))
            if key == "X_NOBASE":
                plan = [
                    (-6, base_mrss),
                    (2, base_mrss - 1),
                    (7, base_mrss - 5),
                    (13, base_mrss - 8),
                ]
            else:
                plan = [
                    (int(rng.integers(-2, 1)), base_mrss),
                    (6, base_mrss - 3),
                    (12, base_mrss - 5),
                ]
            for o, val in plan:
                d = C.month_date(first, o, _day(rng))
                for m, v in (
                    ("MRSS", float(max(val, 2))),
                    ("TFR", 0.0),
                    ("HAQ_DI", float(int(rng.integers(4, 16)) * 0.125)),
                ):
                    self.measurements.append(
                        {"patient_id": pid, "date": d, "measure": m, "value": v}
                    )
            if key == "X_MYO":
                for o, ck in ((0, 3400), (3, 900), (6, 240), (12, 150)):
                    self.measurements.append(
                        {
                            "patient_id": pid,
                            "measure": "CK_UL",
                            "value": float(ck),
                            "date": C.month_date(first, o, _day(rng)),
                        }
                    )
            if key == "X_FEW":
                self.adverse_events.append(
                    {
                        "patient_id": pid,
                        "term": "infusion_reaction",
                        "onset_date": C.month_date(first, 1, _day(rng)),
                        "serious": "no",
                        "led_to_discontinuation": "yes",
                    }
                )
            self.medications.append(
                {
                    "patient_id": pid,
                    "drug": "mycophenolate",
                    "start_date": first - timedelta(days=int(rng.integers(90, 700))),
                    "stop_date": None,
                }
            )
            rows.append(
                {
                    "patient_id": pid,
                    "center": CENTER,
                    "sex": str(rng.choice(["F", "F", "M"])),
                    "race": "white",
                    "birth_year": by,
                    "ssc_subtype": sub,
                    "onset_date": onset,
                    "overlap": ov,
                    "ana": "pos",
                    "anti_centromere": "pos" if sub == "limited" else "neg",
                    "anti_scl70": "neg",
                    "anti_rnapol3": "",
                    "anti_rnp": "neg",
                    "ivig_indication": ind,
                    "active_skin_disease": active,
                    "stop_reason": stop,
                    "stop_detail": {
                        "X_MYO": "myositis improved",
                        "X_LIM": "gastrointestinal symptoms stable",
                        "X_FEW": "infusion reaction",
                    }.get(key, STOP_DETAIL.get(stop, "")),
                    "physician_assessment": "",
                    "death_date": None,
                }
            )
        return rows

    # ------------------------------------------------------------------ 14. patients
    def patient_rows(self) -> list[dict]:
        rows = []
        for p in self.pts:
            overlap = "myositis" if p.myositis else ("ra" if p.key == "N2" else "")
            detail = STOP_DETAIL.get(p.stop, "")
            if p.key == "AM":
                detail = "aseptic meningitis"
            elif p.key == "TIA":
                detail = "transient ischemic attack"
            assess = p.assess
            if p.key == "N1":
                assess = "worse"
            rows.append(
                {
                    "patient_id": p.pid,
                    "center": CENTER,
                    "sex": p.sex,
                    "race": p.race,
                    "birth_year": p.birth_year,
                    "ssc_subtype": "diffuse",
                    "onset_date": p.onset,
                    "overlap": overlap,
                    **p.ab,
                    "ivig_indication": "skin;myositis" if p.myositis else "skin",
                    "active_skin_disease": "yes",
                    "stop_reason": p.stop,
                    "stop_detail": detail,
                    "physician_assessment": assess or "",
                    "death_date": p.death,
                }
            )
        return rows

    # ------------------------------------------------------------------ run
    def build(self) -> dict[str, str]:
        self.identifiers()
        self.start_dates()
        self.treatment()
        self.cycle_dates()
        self.demographics()
        self.skin()
        self.schedule()
        self.visit_values()
        self.haq()
        self.medsger()
        self.lung()
        self.ck_rvsp()
        self.measurement_rows()
        self.infusion_rows()
        self.medication_rows()
        self.adverse_event_rows()
        patients = self.patient_rows() + self.excluded_patients()
        self.achieved.update(
            {
                "n_included": len(self.pts),
                "female_n": sum(p.sex == "F" for p in self.pts),
                "white_n": sum(p.race == "white" for p in self.pts),
                "black_n": sum(p.race == "black" for p in self.pts),
                "other_race_n": sum(p.race == "other" for p in self.pts),
                "myositis_n": sum(p.myositis for p in self.pts),
                "tfr_bl_n": sum(p.tfr != "" for p in self.pts),
                "renal_crisis_n": 0,
                "tfr_m6_resolved": sum(p.tfr == "R" for p in self.pts),
                "tfr_m6_persisting": sum(p.tfr == "P" for p in self.pts),
                "tfr_m6_missing": sum(p.tfr == "M" for p in self.pts),
                "physician_improved": sum(p.assess == "improved" for p in self.pts),
                "physician_stable": sum(p.assess == "stable" for p in self.pts),
                "ck_serial_n": sum(p.myositis and p.pattern != "E" for p in self.pts),
                "ck_normalised_n": sum(p.myositis and p.pattern != "E" for p in self.pts),
            }
        )
        orr = (3 / 6) / (12 / 4)
        se = math.sqrt(1 / 3 + 1 / 6 + 1 / 12 + 1 / 4)
        self.achieved.update(
            {
                "logit_prednisone_m12_or": orr,
                "logit_prednisone_m12_ci_low": math.exp(math.log(orr) - 1.959963984540054 * se),
                "logit_prednisone_m12_ci_high": math.exp(math.log(orr) + 1.959963984540054 * se),
            }
        )
        texts = {
            "patients.csv": C.table_text("patients", patients),
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
        texts["README.md"] = readme(self)
        return texts


def _closest_sum(n: int, mean: float) -> int:
    """Integer sum of n integers whose mean is closest to ``mean``."""
    return int(round(mean * n))


def _fix_sum_bounded(
    x: np.ndarray, total: int, lo: np.ndarray, hi: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """Like :func:`common.fix_sum` with per-element bounds."""
    x = np.clip(np.asarray(x, dtype=np.int64), lo, hi)
    if not (lo.sum() <= total <= hi.sum()):
        raise CalibrationError(f"sum {total} outside the bounds of the values")
    while x.sum() != total:
        s = 1 if x.sum() < total else -1
        i = int(rng.integers(len(x)))
        if lo[i] <= x[i] + s <= hi[i]:
            x[i] += s
    return x


def _medsger_skin(mrss: int) -> int:
    """Medsger skin severity from the mRSS (0: 0; 1: 1-14; 2: 15-29; 3: 30-39; 4: >= 40)."""
    return 0 if mrss == 0 else 1 if mrss < 15 else 2 if mrss < 30 else 3 if mrss < 40 else 4


#: Decimals of the ``value`` column per measure.
VALUE_DECIMALS = {"HAQ_DI": 3, "HAQ_VAS_SEVERITY": 2}
for _m in (
    "MRSS",
    "FVC_PCT",
    "DLCO_PCT",
    "CK_UL",
    "RVSP_MMHG",
    "TFR",
    "RENAL_CRISIS",
    "MRC_STRENGTH",
    "UCLA_GIT_TOTAL",
) + tuple(
    f"MEDSGER_{o}"
    for o in ("GENERAL", "VASCULAR", "SKIN", "JOINT", "MUSCLE", "GI", "LUNG", "HEART", "KIDNEY")
):
    VALUE_DECIMALS.setdefault(_m, 0)


# ============================================================================ README
def _fmt_target(name: str) -> str:
    v = PUBLISHED[name]
    if v[0] == "<":
        return f"<{v[1]}"
    value, dec = v
    return f"{value:.{dec}f}" if dec else f"{value}"


def _fmt_achieved(name: str, x) -> str:
    v = PUBLISHED[name]
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "NA"
    if v[0] == "<":
        return f"{x:.2e}"
    dec = v[1]
    if name.endswith("_p"):
        return f"{x:.{max(dec + 1, 4)}f}"
    return f"{x:.{dec + 2}f}" if dec else f"{int(round(x))}"


def readme(b: Builder) -> str:
    rows = []
    for name in PUBLISHED:
        rows.append(
            f"| {name} | {_fmt_target(name)} | {_fmt_achieved(name, b.achieved.get(name))} |"
        )
    table = "\n".join(rows)
    hist = ", ".join(
        f"{b.achieved[k]:.{d}f}"
        for k, d in (("hist_relaxin_m6_p", 3), ("hist_mmf_m6_p", 3), ("hist_mmf_bl_mrss_p", 4))
    )
    assumptions = "\n".join(
        f"- {a}".replace("{p12:.1e}", f"{b.achieved['mrss_m12_p']:.1e}").replace("{hist}", hist)
        for a in ASSUMPTIONS
    )
    return f"""# SYNTHETIC cohort `hopkins2015` - not patient data

**Every row in this folder is SYNTHETIC.** No real patient is described. The cohort was
constructed by `ivigbook.synth.hopkins2015` so that the book's analysis pipeline reproduces
the published summaries of

> Poelman CL, Hummers LK, Wigley FM, Anderson C, Boin F, Shah AA. Intravenous immunoglobulin
> may be an effective therapy for refractory, active diffuse cutaneous systemic sclerosis.
> J Rheumatol 2015;42(2):236-242. doi:10.3899/jrheum.140833

The paper's patient-level data are not public; this package only mimics their published
summaries (Table 1, Table 2 and the text) at the printed precision.

## How it was made

```
ivigbook synth hopkins2015 --seed {b.seed} --out data/synthetic/hopkins2015
```

Seed **{b.seed}**{"" if b.attempt == 0 else f" (build attempt {b.attempt})"}. The same seed regenerates
byte-identical files (the test suite checks this).

1. A fixed *design* chooses, per patient, the reason IVIG stopped, the follow-up windows with
   skin-score data (29/25/23/15 patients at 6/12/18/24 months), concomitant prednisone, the
   cutaneous responders (16/29 at 6 and 15/25 at 12 months; at 12 months 3 of 9 patients on
   concomitant prednisone and 12 of 16 without responded, giving OR 0.167, 95% CI 0.028-0.997,
   p 0.0497), tendon friction rubs, myositis and every prior/concomitant drug course (Table 1
   and Table 2 counts by construction).
2. Numbers (dates, cycles, ages, disease durations, skin scores, HAQ, FVC, DLCO, CK, RVSP,
   Medsger scores) are drawn from the seeded generator and then moved one unit at a time by a
   deterministic local search until every statistic rounds to its published value. p-values
   are never written: they are computed from these data by the book (paired t, Stata-style
   signed-rank test, simple logistic and linear regression), and the data were calibrated so
   that they print as published. Covariates (age at onset, race, sex, disease duration, cycles,
   treatment length, stop reason, concomitant drugs, Scl-70, RNA polymerase III) were kept
   unassociated with response (p >= 0.05), except concomitant prednisone at 12 months.
3. Visits are irregular: pre-IVIG skin scores (for the figure of mRSS before and after IVIG),
   visits between and after the analysis windows, extra scores inside a window that the rule
   must not pick (farther from the target month, or as far but earlier), and visits placed just
   outside the +/-2-month windows, so that the published Ns arise from the window rules.
4. Five excluded patients are ADDED for a non-trivial inclusion flow (see below). Every
   Table 1/Table 2 figure is about the 30 included patients.

Files: `patients.csv`, `infusions.csv`, `measurements.csv`, `medications.csv`,
`adverse_events.csv` (the cohort data contract of the book, DESIGN §3).

## Assumptions the paper does not pin

{assumptions}

## Published vs constructed (generator's own check; the book recomputes all of these)

| figure | published | constructed |
|---|---|---|
{table}
"""


# ============================================================================ API
def generate(seed: int = DEFAULT_SEED) -> tuple[dict[str, str], Builder]:
    """Build the package texts ({file name: text}) for ``seed``; also return the builder.

    Every calibration step restarts from fresh seeded draws when it misses a target; if
    a whole build still fails, the build is repeated on the next sub-stream of the seed
    (recorded in the README), so any seed yields a cohort, deterministically.
    """
    last: Exception | None = None
    for attempt in range(5):
        b = Builder(seed, attempt)
        try:
            return b.build(), b
        except CalibrationError as e:
            last = e
    raise CalibrationError(f"seed {seed}: no calibrated cohort after 5 builds ({last})")


def write(out_dir: str | Path, seed: int = DEFAULT_SEED) -> list[Path]:
    """Generate and write the package into ``out_dir`` (other files there are left alone)."""
    texts, _ = generate(seed)
    return C.write_package(out_dir, texts)


# ============================================================================ pipeline check
#: Published numbers the book cannot reproduce from ANY cohort consistent with the rest of
#: the paper, because of the comparator N recorded in data/reference/historical_controls.csv
#: (see the package README and the report). Shown, but not counted as failures.
KNOWN_UNREACHABLE = {
    "hist_relaxin_m6_p": "Relaxin N=196 needs an IVIG mean change of exactly -5.3; 29 integer changes "
    "give -5.310 (p 0.7345) or -5.276 (p 0.753)",
    "hist_mmf_m6_p": "MMF N=71 needs an IVIG mean change of exactly -5.3 (gives 0.2525-0.2544 at "
    "-5.310, 0.261-0.263 at -5.276)",
    "hist_mmf_m6_p_abstract": "as hist_mmf_m6_p",
    "hist_mmf_bl_mrss_p": "MMF N=87: a baseline printing 29.6 (7.2) gives 0.0083-0.0089; 0.009 "
    "needs sum 887, which makes Collagen 0.024 instead of 0.023",
}

#: Rows of published_poelman2015.csv that are not results of the cohort data.
_NOT_DATA = ("not_reproducible", "parameter", "reference_input")


def _reference_dir() -> Path | None:
    here = Path(__file__).resolve()
    for up in here.parents:
        cand = up / "data" / "reference"
        if (cand / "published_poelman2015.csv").exists():
            return cand
    return None


def pipeline_results(path: str | Path) -> tuple[dict, list[str]]:
    """The paper's analyses of the one chapter list (:mod:`ivigbook.chapters.catalog`), as
    the notebooks run them, on the package at ``path``; return (merged recorded results,
    errors). Never raises for one failing step."""
    ctx = load_context(str(path), dict(PAPER_AS_PUBLISHED), synthetic=True, cohort_name=NAME)
    ref = _reference_dir()
    comparators = historical.load_comparators(ref / "historical_controls.csv") if ref else None
    errors: list[str] = []
    merged: dict = {}
    for values in chapter_results(ctx, comparators, paper_only=True, errors=errors).values():
        merged.update(values)
    return merged, errors


def verify(path: str | Path) -> list[tuple[str, str, str, bool]]:
    """Published vs recomputed through the book's pipeline, for every number of
    ``data/reference/published_poelman2015.csv`` that the cohort data determine, plus the
    checks the paper states in words (no other predictor of response, kidney unchanged).

    Rows: (key, published, recomputed, ok); ``ok`` is True for matches and for the few
    numbers listed in :data:`KNOWN_UNREACHABLE` (their recomputed value is suffixed "*").
    """
    import pandas as pd

    results, errors = pipeline_results(path)
    rows: list[tuple[str, str, str, bool]] = []
    ref = _reference_dir()
    if ref is not None:
        pub = pd.read_csv(ref / "published_poelman2015.csv", dtype=str, keep_default_na=False)
        for r in pub.to_dict("records"):
            if r.get("comparison") in _NOT_DATA:
                continue
            v = results.get(r["key"])
            if v is None and r["key"].endswith("_abstract"):
                # the abstract's rounding of a result the book records once
                v = results.get(r["key"][: -len("_abstract")])
            status = judge(r, v)
            shown = "NA" if v is None else (f"{v:.6g}" if isinstance(v, float) else str(v))
            printed = ("<" if r.get("relation") == "<" else "") + r["value"]
            if r["key"] in KNOWN_UNREACHABLE and status != STATUS_MATCH:
                rows.append((r["key"], printed, shown + "*", True))
            else:
                rows.append((r["key"], printed, shown, status == STATUS_MATCH))
    # stated in words: no other predictor is associated with response or change
    ps = {
        k: v
        for k, v in results.items()
        if (k.startswith("logit_") or k.startswith("linreg_")) and k.endswith("_p")
    }
    others = {k: v for k, v in ps.items() if k != "logit_prednisone_m12_p" and v is not None}
    worst = min(others.items(), key=lambda kv: kv[1]) if others else ("none", float("nan"))
    rows.append(
        (
            "no_other_predictor_min_p",
            ">=0.05",
            f"{worst[1]:.4f} ({worst[0]})",
            bool(others) and worst[1] >= 0.05,
        )
    )
    pr6 = results.get("logit_prednisone_m6_p")
    rows.append(
        (
            "logit_prednisone_m6_p",
            ">=0.05",
            "NA" if pr6 is None else f"{pr6:.4f}",
            pr6 is not None and pr6 >= 0.05,
        )
    )
    for e in errors:
        rows.append(("pipeline_error", "", e[:60], False))
    return rows
