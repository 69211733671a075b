"""The cohort data contract (DESIGN §3): one source of truth.

Validation rules, the book's data-dictionary page and ``ivigbook template`` are
all generated from the objects defined here; nothing else lists columns,
vocabularies or ranges.
"""

from __future__ import annotations

from dataclasses import dataclass

# ---------------------------------------------------------------- vocabularies
SEX = ("F", "M")
RACE = ("white", "black", "asian", "other", "unknown")
SSC_SUBTYPE = ("diffuse", "limited", "sine")
OVERLAP = ("myositis", "sjogren", "ra", "sle", "other")
ANTIBODY = ("pos", "neg")
INDICATION = ("skin", "myositis", "gi", "other")
YES_NO = ("yes", "no")
STOP_REASON = (
    "improvement",
    "stable",
    "progressing",
    "adverse_event",
    "insurance",
    "moved",
    "death",
    "ongoing",
    "other",
)
PHYSICIAN_ASSESSMENT = ("improved", "stable", "worse")
DRUG = (
    "mycophenolate",
    "methotrexate",
    "cyclophosphamide",
    "prednisone",
    "hydroxychloroquine",
    "azathioprine",
    "d_penicillamine",
    "minocycline",
    "colchicine",
    "tnf_inhibitor",
    "leflunomide",
    "imatinib",
    "rapamycin",
    "rituximab",
    "tocilizumab",
    "other",
)

#: Drug classes used in summaries (a drug may be in one class only).
DRUG_CLASSES = {
    "corticosteroids": ("prednisone",),
    "immunosuppressants": (
        "mycophenolate",
        "methotrexate",
        "cyclophosphamide",
        "azathioprine",
        "leflunomide",
        "rapamycin",
    ),
    "antimalarials": ("hydroxychloroquine",),
    "biologics": ("tnf_inhibitor", "rituximab", "tocilizumab"),
    "antifibrotic_other": ("d_penicillamine", "minocycline", "colchicine", "imatinib", "other"),
}

#: Human labels for vocabulary codes used in tables and figures.
LABELS = {
    "F": "Female",
    "M": "Male",
    "white": "White",
    "black": "Black",
    "asian": "Asian",
    "other": "Other",
    "unknown": "Unknown",
    "diffuse": "Diffuse cutaneous",
    "limited": "Limited cutaneous",
    "sine": "Sine scleroderma",
    "myositis": "Myositis",
    "sjogren": "Sjögren syndrome",
    "ra": "Rheumatoid arthritis",
    "sle": "Systemic lupus erythematosus",
    "skin": "Skin",
    "gi": "Gastrointestinal",
    "improvement": "Improvement",
    "stable": "Stable",
    "progressing": "Progressing",
    "adverse_event": "Adverse event",
    "insurance": "Insurance denial",
    "moved": "Patient moved",
    "death": "Death",
    "ongoing": "Ongoing",
    "improved": "Improved",
    "worse": "Worse",
    "mycophenolate": "Mycophenolate mofetil",
    "methotrexate": "Methotrexate",
    "cyclophosphamide": "Cyclophosphamide",
    "prednisone": "Prednisone",
    "hydroxychloroquine": "Hydroxychloroquine",
    "azathioprine": "Azathioprine",
    "d_penicillamine": "D-penicillamine",
    "minocycline": "Minocycline",
    "colchicine": "Colchicine",
    "tnf_inhibitor": "TNF inhibitor",
    "leflunomide": "Leflunomide",
    "imatinib": "Imatinib",
    "rapamycin": "Rapamycin",
    "rituximab": "Rituximab",
    "tocilizumab": "Tocilizumab",
}

#: Known adverse-event terms (code -> label). Terms outside this list are
#: free text: counted, but rendered as "Other (free text)" and never echoed.
AE_TERMS = {
    "headache": "Headache",
    "aseptic_meningitis": "Aseptic meningitis",
    "fatigue": "Fatigue",
    "nausea_emesis": "Nausea and/or emesis",
    "fever": "Fever",
    "arthralgia_myalgia": "Arthralgias and/or myalgias",
    "rash_pruritus": "Rash and/or pruritus",
    "generalized_weakness": "Generalized weakness",
    "hypertension": "Hypertension",
    "chest_discomfort": "Chest discomfort",
    "leukopenia": "Leukopenia",
    "transient_ischemic_attack": "Transient ischemic attack",
    "dyspnea": "Dyspnea",
    "diarrhea": "Diarrhea",
    "decreased_appetite": "Decreased appetite",
    "palpitations": "Palpitations",
    "fluid_retention": "Fluid retention",
    "lightheadedness": "Lightheadedness",
    "aura_flashing_lights": "Aura/flashing lights",
    "increased_raynaud": "Increased Raynaud's activity",
    "acute_kidney_injury": "Acute kidney injury",
    "hyperkalemia": "Hyperkalemia",
    "hypokalemia": "Hypokalemia",
    "transaminitis": "Transaminitis",
    "thrombosis": "Thrombosis",
    "infusion_reaction": "Infusion reaction",
    "hemolytic_anemia": "Hemolytic anaemia",
    "infection": "Infection",
}


# ---------------------------------------------------------------- measures
@dataclass(frozen=True)
class Measure:
    """A measure of the long ``measurements`` table."""

    code: str
    label: str
    unit: str
    lo: float
    hi: float
    integer: bool = False
    ordinal: bool = False  # analysed with the Wilcoxon signed-rank test
    skewed: bool = False  # right-skewed lab value: Wilcoxon signed-rank, medians shown
    description: str = ""


_MEDSGER_ORGANS = {
    "GENERAL": "general",
    "VASCULAR": "peripheral vascular (Raynaud)",
    "SKIN": "skin",
    "JOINT": "joint/tendon",
    "MUSCLE": "muscle",
    "GI": "gastrointestinal",
    "LUNG": "lung",
    "HEART": "heart",
    "KIDNEY": "kidney",
}

MEASURES: dict[str, Measure] = {
    m.code: m
    for m in [
        Measure(
            "MRSS", "mRSS", "points", 0, 51, integer=True, description="Modified Rodnan skin score"
        ),
        Measure("FVC_PCT", "FVC", "% predicted", 10, 200, description="Forced vital capacity"),
        Measure(
            "DLCO_PCT",
            "DLCO",
            "% predicted",
            5,
            200,
            description="Diffusing capacity for carbon monoxide",
        ),
        Measure(
            "HAQ_DI",
            "HAQ-DI",
            "points",
            0,
            3,
            description="Health Assessment Questionnaire disability index",
        ),
        Measure(
            "HAQ_VAS_SEVERITY",
            "Patient global severity (HAQ VAS)",
            "points",
            0,
            3,
            description="Patient's rating of disease severity on the HAQ visual analogue scale",
        ),
        Measure("CK_UL", "CK", "U/L", 0, 100000, skewed=True, description="Creatine kinase"),
        Measure(
            "RVSP_MMHG",
            "RVSP",
            "mmHg",
            0,
            150,
            description="Right ventricular systolic pressure (echocardiography)",
        ),
        Measure(
            "TFR",
            "Tendon friction rubs",
            "0/1",
            0,
            1,
            integer=True,
            description="Tendon friction rubs present (1) or absent (0)",
        ),
        *[
            Measure(
                f"MEDSGER_{k}",
                f"Medsger {v}",
                "grade 0-4",
                0,
                4,
                integer=True,
                ordinal=True,
                description=f"Medsger severity scale, {v} domain",
            )
            for k, v in _MEDSGER_ORGANS.items()
        ],
        Measure(
            "MRC_STRENGTH",
            "MRC muscle strength",
            "grade 0-5",
            0,
            5,
            ordinal=True,
            description="Medical Research Council muscle strength grade",
        ),
        Measure(
            "UCLA_GIT_TOTAL",
            "UCLA GIT 2.0 total",
            "points",
            0,
            3,
            description="UCLA SCTC gastrointestinal tract 2.0 total score",
        ),
        Measure(
            "RENAL_CRISIS",
            "Renal crisis",
            "0/1",
            0,
            1,
            integer=True,
            description="Scleroderma renal crisis (1) or none (0)",
        ),
    ]
}


# ---------------------------------------------------------------- tables
@dataclass(frozen=True)
class Column:
    """A column of the input contract."""

    name: str
    kind: str  # "id", "str", "date", "int", "float", "vocab", "vocab_list", "measure"
    required: bool
    description: str
    vocab: tuple[str, ...] = ()
    lo: float | None = None
    hi: float | None = None
    unit: str = ""
    nullable: bool = True  # may a cell be blank?
    free_text: bool = False  # never rendered verbatim


@dataclass(frozen=True)
class Table:
    """A table of the cohort package (one CSV file or one workbook sheet)."""

    name: str
    description: str
    columns: tuple[Column, ...]
    unique: tuple[str, ...] = ()  # columns whose combination is unique
    child: bool = True  # rows must reference a known patient

    @property
    def file(self) -> str:
        return f"{self.name}.csv"

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    @property
    def required_columns(self) -> list[str]:
        return [c.name for c in self.columns if c.required]

    def column(self, name: str) -> Column:
        return next(c for c in self.columns if c.name == name)


_PID = Column(
    "patient_id", "id", True, "Pseudonymous patient identifier (never rendered)", nullable=False
)
_ANTIBODY_DOC = "pos/neg; blank = not tested"

TABLES: dict[str, Table] = {
    t.name: t
    for t in [
        Table(
            "patients",
            "One row per patient.",
            (
                _PID,
                Column("center", "str", False, "Centre (hospital) name or code"),
                Column("sex", "vocab", True, "Sex", SEX, nullable=False),
                Column("race", "vocab", False, "Race", RACE),
                Column(
                    "birth_year",
                    "int",
                    True,
                    "Year of birth",
                    lo=1900,
                    hi=2100,
                    unit="year",
                    nullable=False,
                ),
                Column(
                    "ssc_subtype", "vocab", True, "Cutaneous subtype", SSC_SUBTYPE, nullable=False
                ),
                Column("onset_date", "date", False, "Date of the first non-Raynaud symptom"),
                Column(
                    "overlap", "vocab_list", False, "Overlap diseases (`;`-separated list)", OVERLAP
                ),
                Column("ana", "vocab", False, "Anti-nuclear antibody: " + _ANTIBODY_DOC, ANTIBODY),
                Column(
                    "anti_centromere", "vocab", False, "Anti-centromere: " + _ANTIBODY_DOC, ANTIBODY
                ),
                Column(
                    "anti_scl70",
                    "vocab",
                    False,
                    "Anti-topoisomerase I (Scl-70): " + _ANTIBODY_DOC,
                    ANTIBODY,
                ),
                Column(
                    "anti_rnapol3",
                    "vocab",
                    False,
                    "Anti-RNA polymerase III: " + _ANTIBODY_DOC,
                    ANTIBODY,
                ),
                Column(
                    "anti_rnp", "vocab", False, "Anti-ribonucleoprotein: " + _ANTIBODY_DOC, ANTIBODY
                ),
                Column(
                    "ivig_indication",
                    "vocab_list",
                    False,
                    "Indications for IVIG (`;`-separated list)",
                    INDICATION,
                ),
                Column(
                    "active_skin_disease",
                    "vocab",
                    False,
                    "Active skin disease at IVIG start (physician judgement)",
                    YES_NO,
                ),
                Column("stop_reason", "vocab", False, "Why IVIG was stopped", STOP_REASON),
                Column(
                    "stop_detail",
                    "str",
                    False,
                    "Free-text detail of the stop reason (never rendered)",
                    free_text=True,
                ),
                Column(
                    "physician_assessment",
                    "vocab",
                    False,
                    "Treating physician's assessment of the skin course",
                    PHYSICIAN_ASSESSMENT,
                ),
                Column("death_date", "date", False, "Date of death"),
            ),
            unique=("patient_id",),
            child=False,
        ),
        Table(
            "infusions",
            "One row per IVIG cycle.",
            (
                _PID,
                Column("start_date", "date", True, "First day of the cycle", nullable=False),
                Column(
                    "dose_g_per_kg",
                    "float",
                    False,
                    "Total dose of the cycle",
                    lo=0,
                    hi=5,
                    unit="g/kg",
                ),
                Column(
                    "days",
                    "int",
                    False,
                    "Number of infusion days in the cycle",
                    lo=1,
                    hi=10,
                    unit="days",
                ),
            ),
            unique=("patient_id", "start_date"),
        ),
        Table(
            "measurements",
            "Long format: one row per patient, date and measure.",
            (
                _PID,
                Column("date", "date", True, "Date of the assessment", nullable=False),
                Column(
                    "measure",
                    "vocab",
                    True,
                    "Measure code (see the measures table)",
                    tuple(MEASURES),
                    nullable=False,
                ),
                Column(
                    "value",
                    "measure",
                    True,
                    "Value, in the unit and range of its measure",
                    nullable=False,
                ),
            ),
            unique=("patient_id", "date", "measure"),
        ),
        Table(
            "medications",
            "One row per course of a drug.",
            (
                _PID,
                Column("drug", "vocab", True, "Drug", DRUG, nullable=False),
                Column("start_date", "date", True, "Start of the course", nullable=False),
                Column("stop_date", "date", False, "End of the course (blank = ongoing)"),
            ),
        ),
        Table(
            "adverse_events",
            "One row per adverse event.",
            (
                _PID,
                Column("onset_date", "date", True, "Onset date", nullable=False),
                Column(
                    "term",
                    "str",
                    True,
                    "Event term: a known code (see the adverse-event terms) or free text",
                    nullable=False,
                    free_text=True,
                ),
                Column("serious", "vocab", False, "Serious adverse event", YES_NO),
                Column("led_to_discontinuation", "vocab", False, "Led to stopping IVIG", YES_NO),
            ),
        ),
    ]
}

#: Tables a package must contain; the others may be absent (sections then say so).
REQUIRED_TABLES = ("patients", "infusions", "measurements")
OPTIONAL_TABLES = ("medications", "adverse_events")


def dictionary_rows() -> list[dict]:
    """Flat rows (table, column, type, required, allowed, description) for docs and templates."""
    rows = []
    for t in TABLES.values():
        for c in t.columns:
            if c.kind in ("vocab", "vocab_list") and c.name != "measure":
                allowed = ", ".join(c.vocab) + (" (`;`-list)" if c.kind == "vocab_list" else "")
            elif c.kind == "measure":
                allowed = "range of the measure (see measures)"
            elif c.name == "measure":
                allowed = "a measure code (see measures)"
            elif c.kind == "date":
                allowed = "YYYY-MM-DD"
            elif c.lo is not None:
                allowed = f"{c.lo:g} to {c.hi:g}" + (f" {c.unit}" if c.unit else "")
            else:
                allowed = "text"
            rows.append(
                {
                    "table": t.file,
                    "column": c.name,
                    "type": c.kind,
                    "required": "yes" if c.required else "no",
                    "blank allowed": "yes" if c.nullable else "no",
                    "allowed values": allowed,
                    "description": c.description,
                }
            )
    return rows


def measure_rows() -> list[dict]:
    """Rows describing every measure (code, label, unit, range, scale)."""
    return [
        {
            "measure": m.code,
            "label": m.label,
            "unit": m.unit,
            "range": f"{m.lo:g} to {m.hi:g}",
            "integer": "yes" if m.integer else "no",
            "analysed as": (
                "ordinal (Wilcoxon)"
                if m.ordinal
                else "skewed (Wilcoxon)"
                if m.skewed
                else "binary (counts)"
                if (m.integer and m.lo == 0 and m.hi == 1)
                else "continuous (paired t)"
            ),
            "description": m.description,
        }
        for m in MEASURES.values()
    ]
