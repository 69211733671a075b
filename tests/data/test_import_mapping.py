"""Imports through a mapping file: a Spanish per-visit registry and a pharmacy log by MRN.

The export (:func:`ivigbook.synth.exports.spanish_export`) has Spanish labels,
DD/MM/YYYY dates, decimal commas, ``;`` separators, an MRN and a name on every row,
and a pharmacy log with total grams and body weight keyed by MRN. The book's example
mapping must read it into the same cohort as the contract package it was made from
(except the free-text ``stop_detail``, which the mapping lists as an identifier), and
the same results.
"""

from __future__ import annotations

import re
import warnings

import pandas as pd
import pytest
from test_import_redcap import assert_same_cohort, write_tables

from ivigbook.chapters.compute import chapter_results
from ivigbook.chapters.historical import load_comparators
from ivigbook.cli import main
from ivigbook.config import COMPARATORS_PATH, project_root
from ivigbook.data.importing.example import EXAMPLE_MAPPING, starter_mapping
from ivigbook.data.importing.importer import MARK, ImportUsageError, import_export
from ivigbook.data.importing.mapping import build_mapping, parse_mapping
from ivigbook.data.importing.pseudonym import KEY_VARIABLE
from ivigbook.data.problems import DataError
from ivigbook.data.schema import TABLES
from ivigbook.derive.context import load_context
from ivigbook.synth import cohort_space, exports


@pytest.fixture(scope="module")
def cohort(tmp_path_factory):
    tables = cohort_space.generate(cohort_space.NAMED["typical"][0], 5)
    contract = write_tables(tables, tmp_path_factory.mktemp("contract"))
    export = tmp_path_factory.mktemp("export")
    for name, data in exports.spanish_export(tables, seed=5).items():
        (export / name).write_bytes(data)
    mapping = tmp_path_factory.mktemp("mapping") / "map.toml"
    mapping.write_text(EXAMPLE_MAPPING, encoding="utf-8")
    return tables, contract, export, mapping


def _edit(mapping, tmp_path, *pairs) -> str:
    text = mapping.read_text(encoding="utf-8")
    for old, new in pairs:
        assert old in text, old
        text = text.replace(old, new, 1)
    path = tmp_path / "edited.toml"
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_example_mapping_reads_the_spanish_export(cohort, tmp_path):
    tables, contract, export, mapping = cohort
    done = import_export(export, tmp_path / "pkg", mapping)
    assert done.report.ok and not done.report.problems, done.report.format()
    assert_same_cohort(contract, tmp_path / "pkg", drop=["stop_detail"])


def test_example_mapping_gives_the_same_results(cohort, tmp_path):
    tables, contract, export, mapping = cohort
    import_export(export, tmp_path / "pkg", mapping)
    write_tables(tables, tmp_path, drop=["stop_detail"])  # without the free text it drops
    comparators = load_comparators(project_root() / COMPARATORS_PATH)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        direct = chapter_results(load_context(tmp_path, {}), comparators, 11)
        imported = chapter_results(load_context(tmp_path / "pkg", {}), comparators, 11)
    assert direct == imported


def test_identifiers_never_reach_the_package(cohort, tmp_path):
    _, _, export, mapping = cohort
    registro = pd.read_csv(export / "registro.csv", sep=";", dtype=str)
    import_export(export, tmp_path / "pkg", mapping)
    text = "".join(p.read_text(encoding="utf-8") for p in (tmp_path / "pkg").iterdir())
    for mrn in registro["nhc"].unique():
        assert mrn not in text
    assert "Paciente" not in text and "nhc" not in text


@pytest.mark.parametrize("method", ["sequence", "hash"])
def test_patient_id_from_the_mrn_is_pseudonymous(cohort, tmp_path, method):
    _, _, export, mapping = cohort
    edited = _edit(
        mapping,
        tmp_path,
        ('patient_id = "copy"', f'patient_id = "{method}"'),
        (
            'file = "registro.csv"      # one row per patient visit\npatient = "record_id"',
            'file = "registro.csv"\npatient = "nhc"',
        ),
        ('patient = "nhc"\nlink = { source = "registro", column = "nhc" }', 'patient = "nhc"'),
    )
    env = {KEY_VARIABLE: "a secret key of the centre, 32 chars"}
    with pytest.raises(ImportUsageError):  # the table of ids never goes inside the package
        import_export(export, tmp_path / "pkg", edited, tmp_path / "pkg" / "ids.csv", env=env)
    # the other tables still use record_id, which no longer names the patient: unknown ids
    with pytest.raises(DataError) as e:
        import_export(export, tmp_path / "pkg", edited, env=env)
    report = e.value.report.format()
    assert re.search(
        r"tratamientos\.csv:2:record_id: \(value hidden: identifier column\) - "
        r"patient_id not in patients\.csv",
        report,
    ), report
    for table in ("tratamientos", "efectos"):
        edited = _edit(
            type(mapping)(edited),
            tmp_path,
            (
                f'file = "{table}.csv"\npatient = "record_id"',
                f'file = "{table}.csv"\npatient = "record_id"\n'
                'link = { source = "registro", column = "record_id" }',
            ),
        )
    if method == "hash":
        with pytest.raises(ImportUsageError, match=KEY_VARIABLE):
            import_export(export, tmp_path / "pkg", edited, env={})
    done = import_export(export, tmp_path / "pkg", edited, tmp_path / "ids.csv", env=env)
    ids = pd.read_csv(tmp_path / "ids.csv", dtype=str)
    patients = pd.read_csv(tmp_path / "pkg" / "patients.csv", dtype=str)
    assert sorted(ids["patient_id"]) == sorted(patients["patient_id"])
    pattern = r"P\d{3}" if method == "sequence" else r"P-[0-9a-f]{16}"
    assert patients["patient_id"].str.fullmatch(pattern).all()
    assert done.link_table == (tmp_path / "ids.csv").resolve()
    assert (tmp_path / "ids.csv").stat().st_mode & 0o077 == 0


def test_every_problem_is_reported_at_once_and_nothing_is_written(cohort, tmp_path, capsys):
    _, _, export, mapping = cohort
    bad_export = tmp_path / "export"
    bad_export.mkdir()
    for f in export.iterdir():
        (bad_export / f.name).write_bytes(f.read_bytes())
    lines = (bad_export / "registro.csv").read_text(encoding="utf-8").split("\n")
    header = lines[0].split(";")
    first = lines[1].split(";")
    first[header.index("fecha_visita")] = "2015-31-01"  # neither DD/MM/YYYY nor ISO
    lines[1] = ";".join(first)
    lines.insert(3, lines[2])  # one visit twice
    (bad_export / "registro.csv").write_text("\n".join(lines), encoding="utf-8")
    edited = _edit(
        mapping,
        tmp_path,
        ('Hombre = "M"', 'Hombre = "H"'),  # outside the vocabulary
        ('subtipo"', 'subtype"'),  # no such column
        ('file = "efectos.csv"', 'file = "efectos_2024.csv"'),  # no such file
    )
    pkg = tmp_path / "pkg"
    status = main(["import", str(bad_export), "--out", str(pkg), "--mapping", edited])
    err = capsys.readouterr().err
    assert status == 1
    assert "values.Hombre: H - not a code of sex" in err
    assert "ssc_subtype: subtype - no such column in registro.csv" in err
    assert "efectos_2024.csv" in err and "source file not found" in err
    assert re.search(r"registro\.csv:2:fecha_visita: 2015-31-01 - not a date in the format", err)
    assert re.search(r"rows 3, 4 make the same measurements row", err), err
    assert "sexo:" not in err  # the wrong value map is said once, not again at every row
    assert "nothing was written" in err
    assert not pkg.exists()
    assert not list(tmp_path.glob(".pkg.import-*"))


def test_unknown_keys_and_identifiers_mapped_are_errors(cohort, tmp_path):
    _, _, _, mapping = cohort
    edited = _edit(
        mapping,
        tmp_path,
        ("[tables.patients]\n", "[tables.patient]\nsource = 1\n[tables.patients]\n"),
        ('date_format = "%d/%m/%Y"', 'date_fromat = "%d/%m/%Y"'),
        ('center = "centro"', 'center = "nombre"'),
    )
    _, problems = parse_mapping(edited)
    text = "\n".join(map(str, problems))
    assert "tables.patient: - not a table of the contract" in text
    assert "defaults.date_fromat: - unknown key" in text
    assert "an identifier column never reaches the package" in text


def test_a_failed_import_keeps_the_old_package(cohort, tmp_path):
    _, _, export, mapping = cohort
    pkg = tmp_path / "pkg"
    import_export(export, pkg, mapping)
    before = {p.name: p.read_bytes() for p in pkg.iterdir()}
    edited = _edit(mapping, tmp_path, ('sex = "sexo"', 'sex = "sexo_x"'))
    with pytest.raises(DataError):
        import_export(export, pkg, edited)
    assert {p.name: p.read_bytes() for p in pkg.iterdir()} == before
    import_export(export, pkg, mapping)  # a successful import replaces it
    assert (pkg / MARK).is_file()


def test_a_folder_not_written_by_import_is_refused(cohort, tmp_path, capsys):
    _, _, export, mapping = cohort
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "my_notes.txt").write_text("keep me", encoding="utf-8")
    assert main(["import", str(export), "--out", str(mine), "--mapping", str(mapping)]) == 2
    assert "my_notes.txt" in capsys.readouterr().err
    assert (mine / "my_notes.txt").read_text(encoding="utf-8") == "keep me"


@pytest.mark.parametrize("fmt", ["xlsx", "dta"])
def test_workbook_and_stata_sources(cohort, tmp_path, fmt):
    tables, contract, export, mapping = cohort
    source = tmp_path / "export"
    source.mkdir()
    for f in export.iterdir():
        frame = pd.read_csv(f, sep=";", dtype=str, keep_default_na=False)
        if f.name == "registro.csv" and fmt == "xlsx":
            with pd.ExcelWriter(source / "registro.xlsx") as xl:
                pd.DataFrame({"nota": ["otra hoja"]}).to_excel(xl, sheet_name="Notas", index=False)
                frame.to_excel(xl, sheet_name="Visitas", index=False)
        elif f.name == "registro.csv":
            frame.to_stata(source / "registro.dta", write_index=False, version=118)
        else:
            (source / f.name).write_bytes(f.read_bytes())
    new = 'file = "registro.xlsx"\nsheet = "Visitas"' if fmt == "xlsx" else 'file = "registro.dta"'
    edited = _edit(mapping, tmp_path, ('file = "registro.csv"', new))
    import_export(source, tmp_path / "pkg", edited)
    assert_same_cohort(contract, tmp_path / "pkg", drop=["stop_detail"])


def test_starter_mapping_is_a_valid_mapping():
    import tomllib

    _, problems = build_mapping(tomllib.loads(starter_mapping()))
    assert problems == []
    assert all(
        f"{t.name}.{c.name}" in starter_mapping() for t in TABLES.values() for c in t.columns
    )


def test_the_guide_documents_every_key_and_shows_the_example():
    from ivigbook.data.importing.guide import FIELD_KEYS, import_markdown
    from ivigbook.data.importing.mapping import _FIELD_KEYS

    assert set(FIELD_KEYS) == _FIELD_KEYS
    page = import_markdown()
    assert EXAMPLE_MAPPING.rstrip() in page
    for form in ("patient", "ivig_cycle", "measurement_visit", "medication", "adverse_event"):
        assert f"`{form}`" in page


@pytest.mark.parametrize(
    "shape", ["spanish_registry", "redcap_raw", "redcap_labels", "redcap_events"]
)
def test_the_readmes_commands_import_the_synthetic_exports(tmp_path, capsys, shape):
    demo = tmp_path / "demo"
    assert main(["synth", "exports", "--shape", shape, "--out", str(demo)]) == 0
    assert "SYNTHETIC" in (demo / "README.md").read_text(encoding="utf-8")
    if shape == "spanish_registry":
        args = [str(demo), "--mapping", str(demo / "mapping.toml")]
    else:
        args = [str(demo / "redcap_export.csv")]
    assert main(["import", *args, "--out", str(tmp_path / "pkg")]) == 0
    out = capsys.readouterr().out
    assert "30 patients" in out and f"ivigbook run {tmp_path / 'pkg'} --out OUT" in out
    assert main(["validate", str(tmp_path / "pkg")]) == 0


def test_checkboxes_that_disagree_between_visits_are_an_error(tmp_path):
    rows = [
        "id;sex;year;subtype;myo;fecha;mrss",
        "1;F;1960;diffuse;Yes;2015-01-10;20",
        "1;F;1960;diffuse;No;2015-07-10;15",
    ]
    (tmp_path / "visits.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    (tmp_path / "cycles.csv").write_text("id;start\n1;2015-01-12\n", encoding="utf-8")
    (tmp_path / "map.toml").write_text(
        """
[sources.v]
file = "visits.csv"
patient = "id"
[sources.c]
file = "cycles.csv"
patient = "id"
[tables.patients]
source = "v"
columns.sex = "sex"
columns.birth_year = "year"
columns.ssc_subtype = "subtype"
columns.overlap = { checkboxes = { myositis = "myo" } }
[tables.infusions]
source = "c"
columns = { start_date = "start" }
[tables.measurements]
source = "v"
date = "fecha"
measures = { MRSS = "mrss" }
""",
        encoding="utf-8",
    )
    with pytest.raises(DataError) as e:
        import_export(tmp_path, tmp_path / "pkg", tmp_path / "map.toml")
    # the values as the export writes them, so that the user can find them
    assert "visits.csv:2:myo: Yes, No - different values for one patient" in str(e.value.report)
    rows[2] = rows[2].replace(";No;", ";Yes;")
    (tmp_path / "visits.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    import_export(tmp_path, tmp_path / "pkg", tmp_path / "map.toml")
    assert pd.read_csv(tmp_path / "pkg" / "patients.csv")["overlap"].tolist() == ["myositis"]
