"""Shared fixtures: a small clean cohort package (3 patients, all five tables).

``VALID_TABLES`` holds the rows as strings in contract column order;
``write_valid_package(dir)`` writes them as CSV files (plain UTF-8, ``\\n`` line ends),
``valid_package`` is the same as a pytest fixture (a fresh folder per test).
"""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from ivigbook.data.schema import TABLES


def _rows(table: str, *rows: tuple) -> list[dict[str, str]]:
    names = TABLES[table].column_names
    assert all(len(r) == len(names) for r in rows), table
    return [dict(zip(names, r)) for r in rows]


VALID_TABLES: dict[str, list[dict[str, str]]] = {
    "patients": _rows(
        "patients",
        # id, center, sex, race, birth, subtype, onset, overlap, ana, acen, scl70, rnapol3, rnp,
        # indication, active, stop_reason, stop_detail, assessment, death
        (
            "P01",
            "Hopkins",
            "F",
            "white",
            "1962",
            "diffuse",
            "2009-04-15",
            "myositis",
            "pos",
            "neg",
            "pos",
            "",
            "neg",
            "skin;myositis",
            "yes",
            "improvement",
            "",
            "improved",
            "",
        ),
        (
            "P02",
            "Hopkins",
            "M",
            "black",
            "1955",
            "diffuse",
            "2010-01-20",
            "",
            "pos",
            "neg",
            "neg",
            "pos",
            "",
            "skin",
            "yes",
            "insurance",
            "coverage ended",
            "stable",
            "2014-06-30",
        ),
        (
            "P03",
            "Hopkins",
            "F",
            "asian",
            "1971",
            "limited",
            "2008-11-03",
            "sjogren;ra",
            "pos",
            "pos",
            "neg",
            "neg",
            "neg",
            "gi",
            "no",
            "ongoing",
            "",
            "",
            "",
        ),
    ),
    "infusions": _rows(
        "infusions",
        ("P01", "2011-01-10", "2", "5"),
        ("P01", "2011-02-07", "2", "5"),
        ("P01", "2011-03-07", "2", "5"),
        ("P01", "2011-04-04", "2", "4"),
        ("P02", "2012-05-14", "2", "5"),
        ("P02", "2012-06-11", "2", "5"),
        ("P02", "2012-07-09", "1.5", "3"),
        ("P03", "2013-09-02", "2", "5"),
        ("P03", "2013-10-01", "2", "5"),
    ),
    "measurements": _rows(
        "measurements",
        ("P01", "2010-12-20", "MRSS", "30"),
        ("P01", "2011-07-11", "MRSS", "21"),
        ("P01", "2010-12-20", "FVC_PCT", "78.5"),
        ("P01", "2011-07-11", "HAQ_DI", "1.25"),
        ("P02", "2012-05-01", "MRSS", "25"),
        ("P02", "2012-11-20", "MRSS", "24"),
        ("P02", "2012-05-01", "MEDSGER_SKIN", "3"),
        ("P03", "2013-08-15", "MRSS", "8"),
        ("P03", "2013-08-15", "UCLA_GIT_TOTAL", "0.9"),
    ),
    "medications": _rows(
        "medications",
        ("P01", "mycophenolate", "2009-06-01", ""),
        ("P02", "prednisone", "2011-03-01", "2012-08-31"),
        ("P03", "hydroxychloroquine", "2009-01-15", ""),
    ),
    "adverse_events": _rows(
        "adverse_events",
        ("P01", "2011-01-11", "headache", "no", "no"),
        ("P02", "2012-06-12", "fatigue", "no", "no"),
    ),
}


def write_valid_package(directory: str | Path) -> Path:
    """Write the clean 3-patient package as CSV files into ``directory``; return it."""
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    for name, rows in VALID_TABLES.items():
        with open(d / TABLES[name].file, "w", encoding="utf-8", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=TABLES[name].column_names, lineterminator="\n")
            writer.writeheader()
            writer.writerows(rows)
    return d


@pytest.fixture
def valid_package(tmp_path: Path) -> Path:
    """A fresh folder holding the clean CSV package."""
    return write_valid_package(tmp_path / "package")


# ---------------------------------------------------------------- seeded errors
#: One package with one error of each kind; the file texts are literal so that the
#: line numbers below are the lines a person sees in an editor.
SEEDED_FILES: dict[str, str] = {
    "patients.csv": (
        "patient_id,center,Sex,race,birth_year,ssc_subtype,onset_date,overlap,ana,"
        "anti_centromere,anti_scl70,anti_rnapol3,anti_rnp,ivig_indication,active_skin_disease,"
        "stop_reason,stop_detail,physician_assessment,death_date,favourite_colour\n"
        "P01,A,F,white,1962,diffuse,2009-04-15,,pos,neg,pos,,neg,skin,yes,improvement,,"
        "improved,,blue\n"
        "P02,A,M,black,1955,diffuse,2010-01-20,,pos,,,,,skin,yes,death,,stable,2014-06-30,red\n"
        "P03,A,,asian,1971,limited,2008-11-03,,,,,,,gi,no,ongoing,,,,\n"
        "P04,A,F,purple,1960.5,diffuse,2008-11-03,,,,,,,skin,yes,ongoing,,,,\n"
        "P05,A,F,white,1960,diffuse,1950-03-01,,,,,,,skin;lungs,yes,ongoing,,,,\n"
        "P06,A,F,white,1960,diffuse,2010-01-01,,,,,,,skin,yes,death,,,2009-01-01,\n"
        "P07,A,F,white,1960,diffuse,2008-01-01,,,,,,,skin,yes,ongoing,,,,\n"
        "P03,A,F,asian,1971,limited,2008-11-03,,,,,,,gi,no,ongoing,,,,\n"
        'P08,A,F,white,1960,diffuse,2008-01-01,,,,,,,skin,yes,moved,"moved away\n'
        'to Ohio",,,\n'
        "P09,A,F,white,2150,diffuse,2008-01-01,,maybe,,,,,skin,yes,ongoing,,,,\n"
    ),
    "infusions.csv": (
        "patient_id,start_date,dose_g_per_kg,days\n"
        "P01,2011-01-10,2,5\n"
        "P01,03/02/2011,2,5\n"
        "P01,2011-03-07,9,5\n"
        "P01,2011-04-04,2,2.5\n"
        "P01,2011-04-04,2,4\n"
        "P99,2011-01-10,2,5\n"
        "P02,2014-08-01,2,5\n"
        "P02,2012-05-14,two,5\n"
        "P03,2012-01-01,2,5\n"
        "P04,2012-01-01,2,5\n"
        "P05,2012-01-01,2,5\n"
        "P06,2008-06-01,2,5\n"
        "P08,2012-01-01,2,5\n"
        "P09,2012-01-01,2,5\n"
    ),
    "measurements.csv": (
        "patient_id,date,measure,value\n"
        "P01,2010-12-20,MRSS,30\n"
        "P01,2021-02-30,MRSS,20\n"
        "P01,2011-07-11,MRSS,60\n"
        "P01,2011-07-11,HAQ_DI,4\n"
        "P01,2011-08-01,MRSS,12.5\n"
        "P01,2011-08-01,MRSSS,12\n"
        "P01,2010-12-20,MRSS,31\n"
        "P01,1950-01-01,FVC_PCT,80\n"
        "P02,2015-01-01,MRSS,20\n"
        "P01,2011-09-01,MEDSGER_SKIN,1.5\n"
        "P01,2011-09-01,TFR,0.5\n"
        "P01,2011-10-01,FVC_PCT,\n"
    ),
    "medications.csv": (
        "patient_id,start_date,stop_date\nP01,2010-01-01,2009-01-01\nP02,2014-09-01,\n"
    ),
    "adverse_events.csv": (
        "patient_id,onset_date,term,serious,led_to_discontinuation\n"
        'P01,2011-01-11,"headache\n'
        'and nausea",no,no\n'
        "P01,2011-02-01,fever,maybe,no\n"
        "P02,2014-07-15,fever,no,no\n"
    ),
}

#: (file, row, column, part of the rule) of every seeded problem.
SEEDED_ERRORS = [
    ("patients.csv", 4, "sex", "required value is blank"),
    ("patients.csv", 5, "race", "not one of"),
    ("patients.csv", 5, "birth_year", "not a whole number"),
    ("patients.csv", 6, "ivig_indication", "(in a ;-list)"),
    ("patients.csv", 6, "onset_date", "before the patient's birth year"),
    ("patients.csv", 7, "death_date", "before onset_date"),
    ("patients.csv", 9, "patient_id", "duplicate patient_id (first at row 4)"),
    ("patients.csv", 12, "birth_year", "outside the range 1900 to 2100"),
    ("patients.csv", 12, "ana", "not one of pos, neg"),
    ("infusions.csv", 3, "start_date", "not a date in YYYY-MM-DD format"),
    ("infusions.csv", 4, "dose_g_per_kg", "outside the range 0 to 5"),
    ("infusions.csv", 5, "days", "not a whole number"),
    ("infusions.csv", 6, "patient_id+start_date", "duplicate patient_id + start_date"),
    ("infusions.csv", 7, "patient_id", "patient_id not in patients.csv"),
    ("infusions.csv", 8, "start_date", "after the patient's death_date"),
    ("infusions.csv", 9, "dose_g_per_kg", "not a number"),
    ("measurements.csv", 3, "date", "impossible date"),
    ("measurements.csv", 4, "value", "outside the range of MRSS (0 to 51)"),
    ("measurements.csv", 5, "value", "outside the range of HAQ_DI (0 to 3)"),
    ("measurements.csv", 6, "value", "MRSS must be a whole number"),
    ("measurements.csv", 7, "measure", "unknown measure code"),
    ("measurements.csv", 8, "patient_id+date+measure", "duplicate"),
    ("measurements.csv", 9, "date", "before the patient's birth year"),
    ("measurements.csv", 10, "date", "after the patient's death_date"),
    ("measurements.csv", 11, "value", "MEDSGER_SKIN must be a whole number"),
    ("measurements.csv", 12, "value", "TFR must be a whole number"),
    ("measurements.csv", 13, "value", "required value is blank"),
    ("medications.csv", 1, "drug", "required column missing"),
    ("medications.csv", 2, "stop_date", "before start_date"),
    ("medications.csv", 3, "start_date", "after the patient's death_date"),
    ("adverse_events.csv", 4, "serious", "not one of yes, no"),
    ("adverse_events.csv", 5, "onset_date", "after the patient's death_date"),
]
SEEDED_WARNINGS = [
    ("patients.csv", 1, "sex", "header read as sex"),
    ("patients.csv", 1, "favourite_colour", "ignored extra column; never rendered"),
    ("patients.csv", 8, "patient_id", "patient has no infusions"),
    ("patients.csv", 7, "onset_date", "after the first IVIG cycle"),
]


def write_seeded_package(directory: str | Path) -> Path:
    """Write the package with one error of each kind into ``directory``; return it."""
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    for name, text in SEEDED_FILES.items():
        (d / name).write_bytes(text.encode("utf-8"))
    return d


@pytest.fixture
def seeded_package(tmp_path: Path) -> Path:
    return write_seeded_package(tmp_path / "seeded")
