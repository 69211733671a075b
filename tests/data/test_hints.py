"""Hints: the usual causes of a column's failures, read from the failing values."""

from __future__ import annotations

import pytest

from ivigbook.data.hints import (
    date_hint,
    decimal_comma_hint,
    distinct,
    label_hint,
    spellings,
)
from ivigbook.data.schema import TABLES

IMPORT = "or use `ivigbook import` with a mapping file"


def test_distinct_cells_are_stripped_unique_and_in_order():
    assert distinct([" b", "a", "", "b ", None, "  ", "a"]) == ["b", "a"]


# ---------------------------------------------------------------- dates
@pytest.mark.parametrize(
    "values, shape, fmt",
    [
        (["13/09/2012", "01/02/2012"], "DD/MM/YYYY", "%d/%m/%Y"),
        (["09/13/2012", "2/1/2012"], "MM/DD/YYYY", "%m/%d/%Y"),
        (["13.09.2012", "31.1.2013"], "DD.MM.YYYY", "%d.%m.%Y"),
        (["13-09-2012"], "DD-MM-YYYY", "%d-%m-%Y"),
        (["13/09/12", "14/09/12"], "DD/MM/YY", "%d/%m/%y"),
    ],
)
def test_day_month_dates(values, shape, fmt):
    assert date_hint(values) == (
        f'dates look like {shape}: convert them to YYYY-MM-DD, {IMPORT} (date_format = "{fmt}")'
    )


def test_the_brief_date_hint_reads_as_specified():
    assert date_hint(["13/09/2012"]) == (
        "dates look like DD/MM/YYYY: convert them to YYYY-MM-DD, or use `ivigbook import` "
        'with a mapping file (date_format = "%d/%m/%Y")'
    )


def test_ambiguous_and_mixed_day_month_dates():
    assert date_hint(["01/02/2012", "03/04/2012"]) == (
        "dates look like DD/MM/YYYY or MM/DD/YYYY (no day above 12 tells which): convert them "
        f'to YYYY-MM-DD, {IMPORT} (date_format = "%d/%m/%Y" or "%m/%d/%Y")'
    )
    assert date_hint(["13/01/2012", "01/13/2012"]).startswith(
        "dates look like DD/MM/YYYY and MM/DD/YYYY mixed"
    )


def test_year_first_and_timed_dates():
    assert date_hint(["2012/09/13"]) == (
        f'dates look like YYYY/MM/DD: write them YYYY-MM-DD, {IMPORT} (date_format = "%Y/%m/%d")'
    )
    assert date_hint(["2012-09-13 00:00:00", "2012-10-01T08:30"]) == (
        "dates have a time of day (2012-09-13 00:00:00): keep only the date, YYYY-MM-DD"
    )


@pytest.mark.parametrize(
    "values", [[], ["", " "], ["unknown", "n/a", "13/09/2012"], ["41163"], ["2012-13-09"]]
)
def test_no_date_hint_without_a_clear_cause(values):
    assert date_hint(values) is None


def test_a_date_hint_needs_half_of_the_distinct_values():
    assert date_hint(["13/09/2012", "unknown"]) is not None
    assert date_hint(["13/09/2012", "unknown", "?"]) is None


# ---------------------------------------------------------------- decimal comma
@pytest.mark.parametrize(
    "values, example, fixed",
    [
        (["1,5", "2,25"], "1,5", "1.5"),
        ([" 0,375"], "0,375", "0.375"),
        (["1.234,5"], "1.234,5", "1234.5"),
        ([",5"], ",5", ".5"),
    ],
)
def test_decimal_comma(values, example, fixed):
    assert decimal_comma_hint(values) == (
        f"numbers have a decimal comma ({example}): write them with a decimal point "
        f'({fixed}), {IMPORT} (decimal = ",")'
    )


@pytest.mark.parametrize("values", [["high", "low"], ["1 000"], ["1,2,3"], ["2;3"], []])
def test_no_decimal_comma_hint(values):
    assert decimal_comma_hint(values) is None


# ---------------------------------------------------------------- labels
def _codes(table: str, column: str) -> tuple[str, ...]:
    return TABLES[table].column(column).vocab


def test_labels_of_codes():
    assert label_hint(_codes("patients", "sex"), ["Female", "Male", "female"]) == (
        "looks like a label export: write the codes (Female → F, Male → M)"
    )
    assert label_hint(_codes("patients", "ssc_subtype"), ["Diffuse cutaneous"]) == (
        "looks like a label export: write the codes (Diffuse cutaneous → diffuse)"
    )


@pytest.mark.parametrize(
    "values, shown",
    [
        (["Yes", "1", "0"], "1 → yes, 0 → no"),
        (["TRUE", "FALSE"], "TRUE → yes, FALSE → no"),
        (["Y", "n"], "Y → yes, n → no"),
    ],
)
def test_yes_no_spelled_otherwise(values, shown):
    codes = _codes("patients", "active_skin_disease")
    assert label_hint(codes, values) == f"looks like a label export: write the codes ({shown})"


def test_pos_neg_spelled_otherwise():
    assert label_hint(_codes("patients", "ana"), ["Positive", "negative", "+"]) == (
        "looks like a label export: write the codes (Positive → pos, negative → neg, + → pos)"
    )


def test_labels_in_a_list_column():
    codes = _codes("patients", "overlap")
    assert label_hint(
        codes, ["Myositis;Sjögren syndrome", "sle; Rheumatoid arthritis"], listed=True
    ) == (
        "looks like a label export: write the codes (Sjögren syndrome → sjogren, "
        "Rheumatoid arthritis → ra)"
    )
    assert label_hint(codes, ["Myositis;lupus"], listed=True) is None


def test_many_labels_are_cut_after_four():
    codes = tuple("abcde")
    labels = {c: f"Label {c}" for c in codes}
    hint = label_hint(codes, [f"Label {c}" for c in codes], labels=labels)
    assert hint == (
        "looks like a label export: write the codes (Label a → a, Label b → b, Label c → c, "
        "Label d → d, …)"
    )


@pytest.mark.parametrize("values", [["Hombre", "Mujer"], ["X"], [], ["Female", "H", "W"]])
def test_no_label_hint_for_other_values(values):
    assert label_hint(_codes("patients", "sex"), values) is None


def test_spellings_never_shadow_a_code():
    assert "f" not in spellings(("F", "M"))
    assert spellings(("yes", "no"))["true"] == "yes"
    assert spellings(("a", "b"), labels={"a": "Alpha"}) == {"alpha": "a"}
