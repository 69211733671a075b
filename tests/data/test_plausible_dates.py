"""Implausible dates are warned about: dates after today, onset after the first IVIG
cycle, an age at the first cycle under 16 or over 100; events after death stay errors."""

from __future__ import annotations

import datetime
from pathlib import Path

import pytest
from conftest import write_valid_package

from ivigbook import config
from ivigbook.data.io import read_package
from ivigbook.data.validate import load_cohort_with_report, validate_package

ROOT = Path(__file__).resolve().parents[2]
TODAY = datetime.date(2020, 1, 1)
FUTURE = "warning: after today (a date in the future)"
FIRST = "the first IVIG cycle (infusions.csv start_date)"


def _lines(path: Path, today=TODAY) -> list[str]:
    return validate_package(read_package(path), today=today).format().splitlines()


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))


@pytest.fixture
def package(tmp_path) -> Path:
    return write_valid_package(tmp_path / "pkg")


def test_a_clean_package_has_no_date_warning(package):
    assert _lines(package) == ["0 errors, 0 warnings"]
    assert _lines(package, today=None) == ["0 errors, 0 warnings"]  # the system date


def test_dates_after_today_are_warnings_grouped_by_value(package):
    measurements = package / "measurements.csv"
    for old in ("P01,2011-07-11,MRSS", "P01,2011-07-11,HAQ_DI", "P03,2013-08-15,UCLA"):
        _edit(measurements, old, old.replace(old.split(",")[1], "2099-01-03"))
    _edit(package / "patients.csv", "improved,", "improved,2099-12-31")
    lines = _lines(package)
    assert f"patients.csv:2:death_date: 2099-12-31 - {FUTURE}" in lines
    assert f"measurements.csv:3:date: 2099-01-03 - {FUTURE} (3 rows: 3, 5, 10)" in lines
    assert lines[-1] == "0 errors, 4 warnings"
    assert _lines(package, today=datetime.date(2100, 1, 1)) == ["0 errors, 0 warnings"]
    cohort, report = load_cohort_with_report(package)  # warnings do not stop loading
    assert report.n_warnings == 4 and len(cohort.patients) == 3


def test_the_warning_text_does_not_depend_on_the_day(package):
    _edit(package / "measurements.csv", "P03,2013-08-15,MRSS", "P03,2099-08-15,MRSS")
    assert _lines(package, datetime.date(2020, 1, 1)) == _lines(package, datetime.date(2031, 7, 9))


def test_a_future_event_after_death_is_an_error_and_a_warning(package):
    _edit(package / "adverse_events.csv", "P02,2012-06-12", "P02,2098-06-12")
    lines = _lines(package)
    assert "adverse_events.csv:3:onset_date: 2098-06-12 - after the patient's death_date" in lines
    assert f"adverse_events.csv:3:onset_date: 2098-06-12 - {FUTURE}" in lines
    assert lines[-1] == "1 error, 1 warning"


def test_onset_after_the_first_ivig_cycle_is_a_warning(package):
    patients = package / "patients.csv"
    _edit(patients, "2009-04-15", "2011-01-11")  # P01: first cycle 2011-01-10
    _edit(patients, "2010-01-20", "2012-05-14")  # P02: onset on the day of the first cycle
    lines = _lines(package)
    assert lines == [f"patients.csv:2:onset_date: 2011-01-11 - warning: after {FIRST}", lines[-1]]
    assert lines[-1] == "0 errors, 1 warning"


def test_onset_is_compared_with_the_earliest_cycle_whatever_the_row_order(package):
    infusions = package / "infusions.csv"
    _edit(infusions, "P03,2013-09-02", "P03,2008-01-02")  # before onset 2008-11-03
    rows = infusions.read_text().splitlines()
    infusions.write_text("\n".join([rows[0], *reversed(rows[1:])]) + "\n")
    assert f"patients.csv:4:onset_date: 2008-11-03 - warning: after {FIRST}" in _lines(package)


def test_age_at_the_first_ivig_cycle_under_16_or_over_100_is_a_warning(package):
    patients = package / "patients.csv"
    _edit(patients, "F,white,1962", "F,white,1996")  # P01: first cycle in 2011, age 15
    _edit(patients, "F,asian,1971", "F,asian,1912")  # P03: first cycle in 2013, age 101
    lines = _lines(package)
    assert f"patients.csv:2:birth_year: 1996 - warning: age under 16 at {FIRST}" in lines
    assert f"patients.csv:4:birth_year: 1912 - warning: age over 100 at {FIRST}" in lines
    assert lines[-1] == "0 errors, 2 warnings"
    _edit(patients, "1996", "1995")  # 16
    _edit(patients, "1912", "1913")  # 100
    assert _lines(package) == ["0 errors, 0 warnings"]


def test_repeated_ages_are_one_line_with_their_rows(tmp_path):
    package = write_valid_package(tmp_path / "pkg")
    text = (package / "patients.csv").read_text()
    for year in ("1962", "1955", "1971"):
        text = text.replace(f",{year},", ",2000,", 1)
    (package / "patients.csv").write_text(text)
    rule = f"birth_year: 2000 - warning: age under 16 at {FIRST} (3 rows: 2, 3, 4)"
    assert f"patients.csv:2:{rule}" in _lines(package)


def test_patients_without_dated_cycles_get_no_first_cycle_warning(package):
    infusions = package / "infusions.csv"
    infusions.write_text(infusions.read_text().splitlines()[0] + "\n")
    _edit(package / "patients.csv", "F,white,1962", "F,white,2010")
    lines = _lines(package)
    assert not [line for line in lines if FIRST in line]


@pytest.mark.parametrize("name", sorted(config.REFERENCE_COHORTS))
def test_the_reference_cohorts_have_no_warning(name):
    path = ROOT / config.REFERENCE_COHORTS[name]["data_dir"]
    report = validate_package(read_package(path))
    assert (report.n_errors, report.n_warnings) == (0, 0), report.format()
