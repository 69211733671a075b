"""Adverse-event terms outside the vocabulary: counting, the term map, the warning."""

from __future__ import annotations

import pandas as pd
import pytest
from package_copies import copy_hopkins, read_table, write_table

from ivigbook.data.problems import DataError
from ivigbook.data.schema import AE_TERMS
from ivigbook.data.terms import (
    adverse_events_file,
    apply_term_map,
    read_term_map,
    term_warning,
    unknown_terms,
    write_term_map,
)
from ivigbook.data.validate import load_cohort

#: verbatim terms put into the Hopkins copy (rows 1-7 of adverse_events.csv)
FREE_TEXT = [
    "Cefalea intensa",
    " cefalea intensa",
    "CEFALEA INTENSA ",
    "cefalea intensa",
    "rash cutaneo",
    "Rash Cutaneo",
    "fiebre",
]
WARNING = (
    "adverse_events.csv:-:term: - warning: 3 terms outside the vocabulary (7 events) will be "
    'counted as "other": "cefalea intensa" (4), "rash cutaneo" (2), "fiebre" (1); '
    "map them with --terms terms.csv (columns term,code)"
)


def _events(*terms: str) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "patient_id": [f"SECRET-{i}" for i in range(len(terms))],
            "term": pd.Series(terms, dtype="string"),
        }
    )


def free_text_copy(dest):
    """The Hopkins package with the verbatim terms of ``FREE_TEXT`` in its first rows."""
    pkg = copy_hopkins(dest)
    header, rows = read_table(pkg / "adverse_events.csv")
    for row, term in zip(rows, FREE_TEXT):
        row[header.index("term")] = term
    write_table(pkg / "adverse_events.csv", header, rows)
    return pkg


# ---------------------------------------------------------------- unknown_terms
def test_unknown_terms_are_normalised_counted_and_sorted():
    got = unknown_terms(
        _events("Fiebre", "headache", " HEADACHE ", "zzz", "fiebre ", "aaa", "zzz", "fiebre")
    )
    assert list(got.columns) == ["term", "events"]
    assert got.to_dict("records") == [
        {"term": "fiebre", "events": 3},
        {"term": "zzz", "events": 2},
        {"term": "aaa", "events": 1},
    ]
    assert unknown_terms(_events(*AE_TERMS)).empty
    assert unknown_terms(_events()).empty
    assert list(unknown_terms(_events()).columns) == ["term", "events"]


def test_unknown_terms_never_carry_patient_ids():
    got = unknown_terms(_events("fiebre", "fiebre"))
    assert "patient_id" not in got and "SECRET" not in got.to_string()


# ---------------------------------------------------------------- read_term_map
def test_read_term_map_normalises_terms_and_codes(tmp_path):
    path = tmp_path / "terms.csv"
    path.write_text(
        "term,code\n Cefalea Intensa ,Headache\nfiebre,fever\n\ncefalea intensa,headache\n",
        encoding="utf-8",
    )
    assert read_term_map(path) == {"cefalea intensa": "headache", "fiebre": "fever"}
    path.write_bytes("\ufeffrash cutáneo;rash_pruritus\n".encode())  # no header, BOM, ;
    assert read_term_map(path) == {"rash cutáneo": "rash_pruritus"}


def test_read_term_map_reports_every_problem_at_once(tmp_path):
    path = tmp_path / "terms.csv"
    path.write_text(
        "term,code\n"
        "cefalea intensa,headache\n"  # 2: fine
        "fiebre,fevr\n"  # 3: unknown code
        ",fever\n"  # 4: blank term
        "rash cutaneo,\n"  # 5: blank code
        "Cefalea intensa,fever\n"  # 6: a second code for row 2's term
        "a,b,c\n"  # 7: three columns
        "headache,fever\n",  # 8: a code of the vocabulary re-coded
        encoding="utf-8",
    )
    with pytest.raises(DataError) as info:
        read_term_map(path)
    report = info.value.report
    assert report.n_errors == 6 and report.n_warnings == 0
    got = [(p.file, p.row, p.column, p.value) for p in report.problems]
    assert got == [
        ("terms.csv", 3, "code", "fevr"),
        ("terms.csv", 4, "term", ""),
        ("terms.csv", 5, "code", ""),
        ("terms.csv", 6, "term", "Cefalea intensa"),
        ("terms.csv", 7, None, None),
        ("terms.csv", 8, "term", "headache"),
    ]
    text = report.format()
    assert "terms.csv:3:code: fevr - not an adverse-event code; allowed: headache, " in text
    assert all(code in text for code in AE_TERMS)
    assert 'terms.csv:4:term: "" - required value is blank' in text
    assert 'terms.csv:5:code: "" - required value is blank' in text
    assert (
        "terms.csv:6:term: Cefalea intensa - mapped to fever here and to headache at row 2" in text
    )
    assert "terms.csv:7:-: - expected 2 columns (term,code), found 3" in text


def test_the_same_mapping_twice_is_fine(tmp_path):
    path = tmp_path / "terms.csv"
    path.write_text("fiebre,fever\nFIEBRE,fever,\nfever,fever\n", encoding="utf-8")
    assert read_term_map(path) == {"fiebre": "fever", "fever": "fever"}


@pytest.mark.parametrize(
    "make, reason",
    [
        (lambda p: None, "No such file or directory"),
        (lambda p: p.mkdir(), "Is a directory"),
        (lambda p: p.write_bytes(b"\xff\xfe\x00fiebre"), "not UTF-8 text"),
    ],
    ids=["missing", "folder", "not-utf8"],
)
def test_an_unreadable_map_is_one_error(tmp_path, make, reason):
    path = tmp_path / "terms.csv"
    make(path)
    with pytest.raises(DataError) as info:
        read_term_map(path)
    assert [str(p) for p in info.value.report.problems] == [
        f"terms.csv:-:-: - cannot read the term map ({reason})"
    ]


def test_write_term_map_reads_back(tmp_path):
    mapping = {"fiebre": "fever", "cefalea, intensa": "headache", 'dolor "agudo"': "headache"}
    path = write_term_map(mapping, tmp_path / "ae_terms.csv")
    assert path.read_text(encoding="utf-8").startswith("term,code\n")
    assert read_term_map(path) == mapping


# ---------------------------------------------------------------- apply_term_map
def test_apply_term_map_returns_a_mapped_copy(tmp_path):
    cohort = load_cohort(free_text_copy(tmp_path / "pkg"))
    before = cohort.adverse_events.copy()
    mapped = apply_term_map(cohort, {"cefalea intensa": "headache", "fiebre": "fever"})
    pd.testing.assert_frame_equal(cohort.adverse_events, before)  # input untouched
    assert mapped is not cohort and mapped.adverse_events is not cohort.adverse_events
    terms = mapped.adverse_events["term"]
    assert terms.dtype == before["term"].dtype
    assert list(terms[:7]) == ["headache"] * 4 + ["rash cutaneo", "Rash Cutaneo", "fever"]
    assert (terms[7:] == before["term"][7:]).all()  # other rows as they were
    assert unknown_terms(mapped.adverse_events)["term"].tolist() == ["rash cutaneo"]
    assert (mapped.sha256, mapped.name, mapped.present) == (
        cohort.sha256,
        cohort.name,
        cohort.present,
    )
    for table in ("patients", "infusions", "measurements", "medications"):
        assert getattr(mapped, table) is getattr(cohort, table)
    assert apply_term_map(cohort, {}).adverse_events.equals(before)


# ---------------------------------------------------------------- the warning
def test_warning_lists_terms_with_counts_and_no_patient_ids(tmp_path):
    pkg = free_text_copy(tmp_path / "pkg")
    cohort = load_cohort(pkg)
    warning = term_warning(cohort.adverse_events, adverse_events_file(pkg))
    assert warning.severity == "warning"
    assert str(warning) == WARNING
    ids = set(cohort.adverse_events["patient_id"])
    assert not any(pid in str(warning) for pid in ids)
    assert term_warning(load_cohort(copy_hopkins(tmp_path / "clean")).adverse_events, "x") is None


def test_warning_after_a_map_names_only_the_terms_left():
    events = _events("fiebre", "rash", "rash", "headache")
    text = str(term_warning(events, "adverse_events.csv", {"fiebre": "fever"}))
    assert text == (
        "adverse_events.csv:-:term: - warning: 1 term outside the vocabulary (2 events) will be "
        'counted as "other": "rash" (2); add them to the --terms map (columns term,code)'
    )
    assert term_warning(events, "f", {"fiebre": "fever", "rash": "rash_pruritus"}) is None


def test_warning_escapes_cuts_and_limits_terms():
    long = "x" * 80
    events = _events(long, "a\nb", long, 'say "ah"', *[f"t{i:02d}" for i in range(10)])
    text = str(term_warning(events, "f", limit=3))
    assert '"' + "x" * 39 + '…" (2), "a\\nb" (1), "say \\"ah\\"" (1), and 10 more;' in text
    assert long not in text and "t00" not in text
    assert "13 terms outside the vocabulary (14 events)" in text
    assert "\n" not in text


def test_adverse_events_file_is_the_name_validation_shows(tmp_path):
    pkg = copy_hopkins(tmp_path / "pkg")
    assert adverse_events_file(pkg) == "adverse_events.csv"
    (pkg / "adverse_events.csv").rename(pkg / "Adverse_Events.CSV")
    assert adverse_events_file(pkg) == "Adverse_Events.CSV"
    book = tmp_path / "cohort.xlsx"
    book.write_bytes(b"")
    assert adverse_events_file(book) == "cohort.xlsx[adverse_events]"
