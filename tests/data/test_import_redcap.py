"""The REDCap project of the contract, and imports of its exports with no mapping.

The exports are built from a cohort-space package by :mod:`ivigbook.synth.exports` in
the four forms REDCap's Data Export gives (raw or label CSV; classic with repeating
instruments, or longitudinal with the measurement visits as events). Each import must
give the same tables as the package, and the same results in every chapter.
"""

from __future__ import annotations

import csv
import io
import re
import warnings

import pandas as pd
import pytest

from ivigbook.chapters.compute import chapter_results
from ivigbook.chapters.historical import load_comparators
from ivigbook.config import COMPARATORS_PATH, project_root
from ivigbook.data.importing import redcap
from ivigbook.data.importing.importer import MARK, import_export
from ivigbook.data.problems import DataError
from ivigbook.data.schema import AE_TERMS, MEASURES, TABLES
from ivigbook.data.validate import load_cohort
from ivigbook.derive.context import load_context
from ivigbook.synth import cohort_space, exports

FORMS = [(False, False), (False, True), (True, False), (True, True)]


def write_tables(tables: dict[str, pd.DataFrame], folder, drop=()):
    """Write contract tables as a CSV package in ``folder`` (created); return it."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, frame in tables.items():
        frame.drop(columns=list(drop), errors="ignore").to_csv(
            folder / TABLES[name].file, index=False
        )
    return folder


@pytest.fixture(scope="module")
def cohort(tmp_path_factory):
    """The contract package (typical shape: free-text AE terms, centres, all tables)."""
    tables = cohort_space.generate(cohort_space.NAMED["typical"][0], 3)
    return tables, write_tables(tables, tmp_path_factory.mktemp("contract"))


def _sorted(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.sort_values(list(frame.columns)).reset_index(drop=True)


def assert_same_cohort(a_path, b_path, drop=()) -> None:
    a, b = load_cohort(a_path), load_cohort(b_path)
    for name in TABLES:
        x, y = getattr(a, name), getattr(b, name)
        assert (x is None) == (y is None), name
        if x is None:
            continue
        x, y = (
            x.drop(columns=list(drop), errors="ignore"),
            y.drop(columns=list(drop), errors="ignore"),
        )
        pd.testing.assert_frame_equal(_sorted(x), _sorted(y), check_dtype=False, obj=name)


# ---------------------------------------------------------------- the dictionary
def test_dictionary_has_redcaps_columns_and_valid_names():
    rows = redcap.dictionary_rows()
    assert list(rows[0]) == list(redcap.DICTIONARY_COLUMNS)
    assert len(redcap.DICTIONARY_COLUMNS) == 18
    assert rows[0]["Variable / Field Name"] == "record_id"  # REDCap's record id comes first
    names = [r["Variable / Field Name"] for r in rows]
    assert len(names) == len(set(names))
    for name in names + [f.name for f in redcap.FORMS]:
        assert re.fullmatch(r"[a-z][a-z0-9_]*", name) and len(name) <= 26, name
    labels = list(redcap.label_headers())
    assert len(labels) == len(set(labels)), "label exports need distinct labels"
    types = {"text", "notes", "radio", "dropdown", "checkbox"}
    assert {r["Field Type"] for r in rows} <= types


def test_dictionary_covers_the_contract():
    rows = {r["Variable / Field Name"]: r for r in redcap.dictionary_rows()}
    notes = " ".join(r["Field Annotation"] for r in rows.values())
    for t in TABLES.values():
        for c in t.columns:
            if (
                c.name == "patient_id"
                and t.name != "patients"
                or (t.name == "measurements" and c.name in ("measure", "value"))
            ):
                continue
            assert f"ivigbook: {t.name}.{c.name}" in notes, (t.name, c.name)
    for code, m in MEASURES.items():
        r = rows[code.lower()]
        assert (r["Text Validation Min"], r["Text Validation Max"]) == (f"{m.lo:g}", f"{m.hi:g}")
        assert r["Text Validation Type OR Show Slider Number"] == (
            "integer" if m.integer else "number"
        )
    assert rows["sex"]["Choices, Calculations, OR Slider Labels"] == "F, Female | M, Male"
    assert rows["sex"]["Required Field?"] == "y"
    assert rows["race"]["Required Field?"] == ""
    assert rows["cycle_start_date"]["Text Validation Type OR Show Slider Number"] == "date_ymd"
    assert (
        rows["birth_year"]["Text Validation Min"],
        rows["birth_year"]["Text Validation Max"],
    ) == (
        "1900",
        "2100",
    )
    assert rows["overlap"]["Field Type"] == "checkbox"
    assert rows["stop_detail"]["Identifier?"] == "y"  # free text
    codes = rows["ae_term"]["Choices, Calculations, OR Slider Labels"]
    assert all(f"{k}, " in codes for k in AE_TERMS) and redcap.OTHER_TERM in codes
    assert rows["ae_term_other"]["Branching Logic (Show field only if...)"]
    forms = [r["Form Name"] for r in rows.values()]
    assert list(dict.fromkeys(forms)) == [f.name for f in redcap.FORMS]


def test_project_files_are_written(tmp_path):
    dictionary, repeating = redcap.write_project(tmp_path)
    read = list(csv.reader(io.StringIO(dictionary.read_text(encoding="utf-8"))))
    assert tuple(read[0]) == redcap.DICTIONARY_COLUMNS
    assert len(read) == len(redcap.dictionary_rows()) + 1
    rep = list(csv.reader(io.StringIO(repeating.read_text(encoding="utf-8"))))
    assert rep[0] == ["form_name", "custom_form_label"]
    assert [r[0] for r in rep[1:]] == [f.name for f in redcap.FORMS if f.repeating]


# ---------------------------------------------------------------- imports
@pytest.mark.parametrize("labels,events", FORMS)
def test_redcap_export_imports_to_the_same_cohort(cohort, tmp_path, labels, events):
    tables, contract = cohort
    export = tmp_path / "export.csv"
    export.write_bytes(exports.redcap_export(tables, labels=labels, events=events))
    done = import_export(export, tmp_path / "pkg")
    assert done.report.ok and not done.report.problems, done.report.format()
    assert ("label" in done.kind) == labels
    assert_same_cohort(contract, tmp_path / "pkg")
    assert (tmp_path / "pkg" / MARK).is_file()


def test_imported_redcap_export_gives_the_same_results(cohort, tmp_path):
    tables, contract = cohort
    export = tmp_path / "export.csv"
    export.write_bytes(exports.redcap_export(tables, labels=True, events=True))
    import_export(export, tmp_path / "pkg")
    comparators = load_comparators(project_root() / COMPARATORS_PATH)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        direct = chapter_results(load_context(contract, {}), comparators, 7)
        imported = chapter_results(load_context(tmp_path / "pkg", {}), comparators, 7)
    assert direct == imported


def test_not_a_redcap_export_says_what_to_do(tmp_path):
    other = tmp_path / "export.csv"
    other.write_text("id,sexo\n1,Hombre\n", encoding="utf-8")
    with pytest.raises(DataError) as e:
        import_export(other, tmp_path / "pkg")
    text = e.value.report.format()
    assert "not a REDCap export" in text and "--mapping" in text and "--redcap" in text
    assert not (tmp_path / "pkg").exists()


def test_bad_values_of_a_redcap_export_are_reported_at_the_export_row(cohort, tmp_path):
    tables, _ = cohort
    text = exports.redcap_export(tables).decode()
    lines = text.split("\n")
    header = lines[0].split(",")
    row = lines[1].split(",")
    row[header.index("sex")] = "X"
    row[header.index("birth_year")] = "1850"
    lines[1] = ",".join(row)
    export = tmp_path / "export.csv"
    export.write_text("\n".join(lines), encoding="utf-8")
    with pytest.raises(DataError) as e:
        import_export(export, tmp_path / "pkg")
    report = e.value.report.format()
    assert "export.csv:2:sex: X - not a choice of sex (F, M, or their labels)" in report
    assert "[values" not in report and "mapping" not in report  # no mapping in sight
    # a range problem found by the package validator, moved back to the export's row
    assert re.search(r"export\.csv:2:birth_year: 1850 - .*\[patients\.birth_year\]", report), report
    assert not (tmp_path / "pkg").exists()


@pytest.mark.parametrize(
    "name",
    [n for n, (s, _) in sorted(cohort_space.NAMED.items()) if 0 < s.patients <= 500],
)
def test_every_cohort_shape_survives_a_redcap_round_trip(name, tmp_path):
    """Absent tables and columns, empty tables, one patient, deaths, ties: all come back."""
    tables = cohort_space.generate(cohort_space.NAMED[name][0], 1)
    contract = write_tables(tables, tmp_path / "contract")
    export = tmp_path / "export.csv"
    export.write_bytes(exports.redcap_export(tables, labels=True, events=True))
    import_export(export, tmp_path / "pkg")
    a, b = load_cohort(contract), load_cohort(tmp_path / "pkg")
    for table in TABLES:
        x, y = getattr(a, table), getattr(b, table)
        if x is None or x.empty:  # an absent table comes back empty: REDCap has the form
            assert y is None or y.empty, table
            continue
        pd.testing.assert_frame_equal(_sorted(x), _sorted(y), check_dtype=False, obj=table)


def _export_frame(tables, **kw) -> pd.DataFrame:
    return pd.read_csv(
        io.BytesIO(exports.redcap_export(tables, **kw)), dtype=str, keep_default_na=False
    )


def test_a_de_identified_export_imports_with_a_warning(cohort, tmp_path):
    tables, contract = cohort
    frame = _export_frame(tables).drop(columns=["stop_detail", "ae_term_other"])
    frame.to_csv(tmp_path / "export.csv", index=False)
    done = import_export(tmp_path / "export.csv", tmp_path / "pkg")
    text = done.report.format()
    assert "not in the export, read as not recorded: stop_detail, ae_term_other" in text
    events = pd.read_csv(tmp_path / "pkg" / "adverse_events.csv", dtype=str)
    free = set(tables["adverse_events"]["term"]) - set(AE_TERMS)
    assert free and redcap.UNEXPORTED_TERM in set(events["term"])  # counted, never shown
    assert "stop_detail" not in pd.read_csv(tmp_path / "pkg" / "patients.csv").columns


def test_rows_and_fields_outside_the_project_are_ignored_with_a_warning(cohort, tmp_path):
    tables, _ = cohort
    frame = _export_frame(tables)
    frame["local_lab_value"] = ""
    cycle = frame.index[frame["redcap_repeat_instrument"] == "ivig_cycle"][0]
    frame.loc[cycle, "redcap_repeat_instrument"] = "lab_result"
    frame.to_csv(tmp_path / "export.csv", index=False)
    done = import_export(tmp_path / "export.csv", tmp_path / "pkg")
    text = done.report.format()
    assert (
        f"export.csv:{cycle + 2}:redcap_repeat_instrument: lab_result - warning: rows of an "
        in text
    )
    assert "fields outside the ivigbook project, ignored: local_lab_value" in text
    assert done.rows["infusions"] == len(tables["infusions"]) - 1


def test_a_record_without_its_patient_form_is_named_in_the_exports_terms(cohort, tmp_path):
    tables, _ = cohort
    frame = _export_frame(tables, labels=True)
    first = frame.iloc[0][RECORD_HEADER]
    frame = frame[~((frame[RECORD_HEADER] == first) & (frame["Repeat Instrument"] == ""))]
    frame.to_csv(tmp_path / "export.csv", index=False)
    with pytest.raises(DataError) as e:
        import_export(tmp_path / "export.csv", tmp_path / "pkg")
    text = e.value.report.format()
    assert f"{RECORD_HEADER}: {first} - this record has no patient form" in text
    assert "patients.csv" not in text


RECORD_HEADER = redcap.RECORD_LABEL


def test_reimport_keeps_the_users_own_files(cohort, tmp_path, capsys):
    from ivigbook.cli import main

    tables, _ = cohort
    export = tmp_path / "export.csv"
    export.write_bytes(exports.redcap_export(tables))
    import_export(export, tmp_path / "pkg")
    (tmp_path / "pkg" / "my_notes.txt").write_text("mine", encoding="utf-8")
    assert main(["import", str(export), "--out", str(tmp_path / "pkg")]) == 2
    assert "my_notes.txt" in capsys.readouterr().err
    assert (tmp_path / "pkg" / "my_notes.txt").read_text(encoding="utf-8") == "mine"


def test_a_dead_imports_staged_package_is_removed_and_said(cohort, tmp_path):
    import subprocess
    import sys

    from ivigbook.system.processes import start_ticks
    from ivigbook.system.scratch import MARKER, _host_tag

    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    ticks = start_ticks(proc.pid)
    proc.wait()
    staged = tmp_path / f".pkg.import-{_host_tag()}-{proc.pid}-{ticks}"
    staged.mkdir()
    (staged / MARKER).write_text("")
    (staged / "patients.csv").write_text("patient_id\nP1\n", encoding="utf-8")
    tables, _ = cohort
    export = tmp_path / "export.csv"
    export.write_bytes(exports.redcap_export(tables))
    lines = []
    import_export(export, tmp_path / "pkg", emit=lines.append)
    assert not staged.exists() and any("left by an interrupted run" in ln for ln in lines)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["export.csv", "pkg"]
    assert (tmp_path / "pkg").stat().st_mode & 0o777 == 0o755
