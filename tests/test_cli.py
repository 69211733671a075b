"""The ``ivigbook`` command: exit codes, messages, no tracebacks, inputs untouched."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import types
from dataclasses import fields
from pathlib import Path

import pytest
from conftest import SEEDED_ERRORS, SEEDED_WARNINGS
from package_copies import copy_hopkins, read_table, write_table

from ivigbook import cli
from ivigbook.book import run as book_run
from ivigbook.config import DEFAULT_SEED, REFERENCE_COHORTS, project_root
from ivigbook.data.params import AnalysisParams
from ivigbook.data.problems import DataError, Problem, Report


def ivigbook(*args) -> subprocess.CompletedProcess:
    """Run the command as a user would, in a fresh interpreter."""
    return subprocess.run(
        [sys.executable, "-m", "ivigbook.cli", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=120,
    )


def fingerprint(folder: Path) -> dict[str, tuple[str, int]]:
    return {
        f.name: (hashlib.sha256(f.read_bytes()).hexdigest(), f.stat().st_mtime_ns)
        for f in sorted(folder.iterdir())
    }


# ---------------------------------------------------------------- validate
def test_seeded_package_reports_every_problem_in_one_run(seeded_package):
    before = fingerprint(seeded_package)
    result = ivigbook("validate", seeded_package)
    assert result.returncode == 1
    assert "Traceback" not in result.stdout + result.stderr
    lines = result.stdout.splitlines()
    for file, row, column, rule in SEEDED_ERRORS + SEEDED_WARNINGS:
        prefix = f"{file}:{row}:{column}: "
        assert [line for line in lines if line.startswith(prefix) and rule in line], prefix + rule
    assert lines[-1] == f"{len(SEEDED_ERRORS)} errors, {len(SEEDED_WARNINGS)} warnings"
    assert fingerprint(seeded_package) == before


def test_clean_package_exits_0_and_is_untouched(valid_package):
    before = fingerprint(valid_package)
    result = ivigbook("validate", valid_package)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.splitlines()[0] == "0 errors, 0 warnings"
    assert "valid cohort package" in result.stdout
    assert fingerprint(valid_package) == before


def test_warnings_alone_exit_0(valid_package):
    f = valid_package / "patients.csv"
    f.write_bytes(b"\xef\xbb\xbf" + f.read_bytes())
    result = ivigbook("validate", valid_package)
    assert result.returncode == 0
    assert "patients.csv:1:-: - warning: UTF-8 byte-order mark (BOM) removed" in result.stdout
    assert "0 errors, 1 warning" in result.stdout


def test_nonexistent_path_is_a_clear_message(tmp_path):
    result = ivigbook("validate", tmp_path / "no_such_export")
    assert result.returncode == 1
    assert f"{tmp_path / 'no_such_export'}:-:-: - no such file or folder" in result.stdout
    assert "Traceback" not in result.stdout + result.stderr


def test_validate_limit_option(valid_package):
    """--limit N: N lines (distinct values) per file, column and rule; rows all counted."""
    f = valid_package / "measurements.csv"
    values = [99, 99, 98, 97, 99, 96, 97]
    f.write_text(
        f.read_text() + "".join(f"P01,2012-01-{d:02d},MRSS,{v}\n" for d, v in enumerate(values, 1))
    )
    out = ivigbook("validate", valid_package, "--limit", 2).stdout.splitlines()
    assert out == [
        "measurements.csv:11:value: 99 - outside the range of MRSS (0 to 51) (3 rows: 11, 12, 15)",
        "measurements.csv:13:value: 98 - outside the range of MRSS (0 to 51)",
        "measurements.csv:*:value: ... - 2 more values not listed (3 rows): "
        "outside the range of MRSS (0 to 51)",
        "7 errors, 0 warnings",
        "for the full list (one problem per line), add --report FILE",
    ]


def test_validate_report_writes_the_full_list_only_when_asked(valid_package, tmp_path):
    f = valid_package / "patients.csv"
    f.write_text(f.read_text().replace(",F,", ",Female,").replace(",M,", ",Male,"))
    before = fingerprint(valid_package)
    listing = sorted(tmp_path.rglob("*"))
    plain = ivigbook("validate", valid_package)
    assert plain.returncode == 1
    assert plain.stdout.splitlines()[-3:] == [
        "  hint: looks like a label export: write the codes (Female → F, Male → M)",
        "3 errors, 0 warnings",
        "for the full list (one problem per line), add --report FILE",
    ]
    assert sorted(tmp_path.rglob("*")) == listing  # nothing written unasked

    full = tmp_path / "out" / "problems.txt"
    full.parent.mkdir()
    result = ivigbook("validate", valid_package, "--report", full)
    assert result.returncode == 1, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "patients.csv:2:sex: Female - not one of F, M (2 rows: 2, 4)"
    assert lines[-2:] == [
        "3 errors, 0 warnings",
        f"full list (3 problems, one per line) written to {full}",
    ]
    assert full.read_text(encoding="utf-8").splitlines() == [
        "patients.csv:2:sex: Female - not one of F, M",
        "patients.csv:3:sex: Male - not one of F, M",
        "patients.csv:4:sex: Female - not one of F, M",
        "3 errors, 0 warnings",
    ]
    assert full.stat().st_mode & 0o777 == 0o600
    assert fingerprint(valid_package) == before

    # never over a file of the package (its inputs stay untouched)
    refused = ivigbook("validate", valid_package, "--report", valid_package / "patients.csv")
    assert refused.returncode == 2 and "would overwrite a file of the package" in refused.stderr
    assert fingerprint(valid_package) == before


def test_validate_report_of_a_valid_package(valid_package, tmp_path):
    full = tmp_path / "problems.txt"
    result = ivigbook("validate", valid_package, "--report", full)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.splitlines()[:2] == [
        "0 errors, 0 warnings",
        f"full list (0 problems, one per line) written to {full}",
    ]
    assert full.read_text() == "0 errors, 0 warnings\n"


# ---------------------------------------------------------------- template
def test_template_then_filled_validates(tmp_path):
    target = tmp_path / "mine"
    result = ivigbook("template", target)
    assert result.returncode == 0 and "cohort_template.xlsx" in result.stdout
    for name, row in (
        ("patients", "T01,,F,,1970,diffuse" + "," * 13),
        ("infusions", "T01,2021-05-03,2,5"),
        ("measurements", "T01,2021-05-03,MRSS,22"),
    ):
        with open(target / "csv" / f"{name}.csv", "a", encoding="utf-8") as f:
            f.write(row + "\n")
    result = ivigbook("validate", target / "csv")
    assert result.returncode == 0, result.stdout
    again = ivigbook("template", target)
    assert again.returncode == 1 and "would overwrite" in again.stderr
    assert "Traceback" not in again.stderr


# ---------------------------------------------------------------- usage and registry
@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["validate"],
        ["frobnicate"],
        ["run", "data"],
        ["run", "data", "--out", "o", "--set", "no_such_parameter=1"],
        ["run", "data", "--out", "o", "--set", "round_gap_months=three"],
        ["run", "data", "--out", "o", "--set", "followup_anchor=tomorrow"],
        ["run", "data", "--out", "o", "--seed", "-1"],
        ["run", "data", "--out", "o", "--seed", "many"],
        ["book", "--jobs", "0"],
        ["synth", "x", "--patients", "many"],
    ],
)
def test_usage_errors_exit_2(argv, capsys):
    with pytest.raises(SystemExit) as info:
        cli.main(argv)
    assert info.value.code == 2
    assert "usage: ivigbook" in capsys.readouterr().err


def test_arguments_of_the_registered_commands():
    parse = cli.build_parser().parse_args
    run = parse(
        [
            "run",
            "d",
            "--out",
            "o",
            "--set",
            "round_gap_months=4",
            "--set",
            "followup_months=6,12",
            "--set",
            "followup_anchor=last_cycle",
            "--set",
            "responder_mcid=4.5",
            "--jobs",
            "3",
            "--cohort-name",
            "mine",
        ]
    )
    assert (run.data_dir, run.out, run.jobs, run.cohort_name) == ("d", "o", 3, "mine")
    assert run.set == {
        "round_gap_months": 4,
        "followup_months": (6, 12),
        "followup_anchor": "last_cycle",
        "responder_mcid": 4.5,
    }
    assert parse(["run", "d", "--out", "o"]).set == {}
    synth = parse(["synth", "registry", "--seed", "7", "--out", "x", "--patients", "100"])
    assert (synth.name, synth.seed, synth.out, synth.patients) == ("registry", 7, "x", 100)
    book = parse(["book", "--jobs", "2", "--only", "hopkins2015"])
    assert (book.jobs, book.only) == (2, "hopkins2015")
    assert set(cli.COMMANDS) >= {"validate", "template", "synth", "run", "book"}


@pytest.fixture
def registry(monkeypatch):
    """A private copy of the command registry for registering test commands."""
    monkeypatch.setattr(cli, "COMMANDS", dict(cli.COMMANDS))
    return cli.COMMANDS


def _raises(exc):
    def handler(args):
        raise exc

    return handler


def test_data_errors_and_file_errors_are_messages(registry, capsys):
    report = Report([Problem("patients.csv", 3, "sex", "X", "not one of F, M")])
    cli.register("bad-data", "", lambda p: None, _raises(DataError(report, "export")))
    cli.register(
        "bad-file",
        "",
        lambda p: None,
        _raises(PermissionError(13, "Permission denied", "/locked/out")),
    )
    assert cli.main(["bad-data"]) == 1
    err = capsys.readouterr().err
    assert "patients.csv:3:sex: X - not one of F, M" in err and "1 error, 0 warnings" in err
    assert cli.main(["bad-file"]) == 1
    assert "Permission denied: /locked/out" in capsys.readouterr().err


def test_internal_errors_show_a_traceback_only_with_debug(registry, capsys):
    cli.register("boom", "", lambda p: None, _raises(ZeroDivisionError("division by zero")))
    assert cli.main(["boom"]) == 1
    err = capsys.readouterr().err
    assert "internal error (ZeroDivisionError" in err and "--debug" in err
    with pytest.raises(ZeroDivisionError):
        cli.main(["--debug", "boom"])
    with pytest.raises(ZeroDivisionError):
        cli.main(["boom", "--debug"])


def test_handler_status_is_the_exit_status(registry):
    cli.register("three", "", lambda p: None, lambda args: 3)
    cli.register("none", "", lambda p: None, lambda args: None)
    assert (cli.main(["three"]), cli.main(["none"])) == (3, 0)


def test_version_and_help():
    assert ivigbook("--version").stdout.startswith("ivigbook ")
    help_text = ivigbook("--help").stdout
    assert all(name in help_text for name in ("validate", "template", "synth", "run", "book"))


# ---------------------------------------------------------------- adverse-event terms
def _free_text_package(dest: Path) -> Path:
    """The Hopkins package with 7 events of 3 verbatim terms outside the vocabulary."""
    pkg = copy_hopkins(dest)
    header, rows = read_table(pkg / "adverse_events.csv")
    terms = ["Cefalea intensa", "cefalea intensa", "CEFALEA INTENSA ", "cefalea intensa"]
    for row, term in zip(rows, [*terms, "rash cutaneo", "Rash cutaneo", "fiebre"]):
        row[header.index("term")] = term
    write_table(pkg / "adverse_events.csv", header, rows)
    return pkg


def test_validate_warns_about_terms_and_applies_the_terms_map(tmp_path):
    pkg = _free_text_package(tmp_path / "pkg")
    before = fingerprint(pkg)
    plain = ivigbook("validate", pkg)
    assert plain.returncode == 0, plain.stdout + plain.stderr
    warning = (
        "adverse_events.csv:-:term: - warning: 3 terms outside the vocabulary (7 events) will be "
        'counted as "other": "cefalea intensa" (4), "rash cutaneo" (2), "fiebre" (1); '
        "map them with --terms terms.csv (columns term,code)"
    )
    assert plain.stdout.splitlines()[:2] == [warning, "0 errors, 1 warning"]
    ids = {row[0] for row in read_table(pkg / "adverse_events.csv")[1]}
    assert not any(pid in plain.stdout for pid in ids)  # never patient ids

    terms = tmp_path / "terms.csv"
    terms.write_text("term,code\ncefalea intensa,headache\nFiebre,fever\n", encoding="utf-8")
    mapped = ivigbook("validate", pkg, "--terms", terms)
    assert mapped.returncode == 0, mapped.stdout + mapped.stderr
    assert mapped.stdout.splitlines()[:2] == [
        "adverse_events.csv:-:term: - warning: 1 term outside the vocabulary (2 events) will be "
        'counted as "other": "rash cutaneo" (2); add them to the --terms map (columns term,code)',
        "0 errors, 1 warning",
    ]
    terms.write_text(
        "term,code\ncefalea intensa,headache\nrash cutaneo,rash_pruritus\nfiebre,fever\n",
        encoding="utf-8",
    )
    complete = ivigbook("validate", pkg, "--terms", terms)
    assert complete.returncode == 0 and complete.stdout.startswith("0 errors, 0 warnings\n")
    assert fingerprint(pkg) == before


def test_validate_reports_a_bad_terms_map_as_errors(tmp_path):
    pkg = _free_text_package(tmp_path / "pkg")
    terms = tmp_path / "terms.csv"
    terms.write_text("cefalea intensa,headache\ncefalea intensa,fever\nfiebre,fevr\n")
    result = ivigbook("validate", pkg, "--terms", terms)
    assert result.returncode == 1
    assert "Traceback" not in result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == (
        "terms.csv:2:term: cefalea intensa - mapped to fever here and to headache at row 1"
    )
    assert lines[1].startswith("terms.csv:3:code: fevr - not an adverse-event code; allowed: ")
    assert lines[2:] == ["2 errors, 0 warnings"]  # no term warning while anything is wrong
    missing = ivigbook("validate", pkg, "--terms", tmp_path / "nope.csv")
    assert missing.returncode == 1
    assert "nope.csv:-:-: - cannot read the term map (No such file or directory)" in missing.stdout


# ---------------------------------------------------------------- analysis rules and seed
RULE_NAMES = [f.name for f in fields(AnalysisParams)]


def test_rules_lists_every_rule_with_default_and_allowed_values():
    result = ivigbook("rules")
    assert result.returncode == 0, result.stderr
    for name in [*RULE_NAMES, "seed"]:
        assert f"\n{name} = " in result.stdout, name
    assert "min_pairs = 3  (integer)" in result.stdout
    assert "Allowed: one of treated, analysis." in result.stdout
    assert "Peduzzi" in result.stdout and "TSD 18" in result.stdout
    markdown = ivigbook("rules", "--markdown")
    assert markdown.returncode == 0
    assert markdown.stdout.startswith("| Rule | Default | Allowed values | Meaning |")


def test_run_help_ends_with_the_rules():
    result = ivigbook("run", "--help")
    assert result.returncode == 0
    text = result.stdout
    assert "--set name=value" in text and "ivigbook rules" in text and "--seed S" in text
    rules_start = text.index("Analysis rules")
    assert text.index("--cohort-name") < rules_start  # after the options
    for name in [*RULE_NAMES, "seed"]:
        assert f"\n{name} = " in text[rules_start:], name


class _Stop(Exception):
    pass


@pytest.fixture
def captured_run(monkeypatch):
    """``ivigbook run`` up to the notebooks: the parameters they would get and the
    results.json merged before the first one (no notebook is executed)."""
    seen: list[dict] = []

    def fake_execute(notebooks, out_dir, parameters, *args, between=None, **kwargs):
        between()
        results = json.loads((out_dir / "results.json").read_text(encoding="utf-8"))
        seen.append({"parameters": dict(parameters), "results": results})
        raise _Stop

    def fake_validate(path):
        return (types.SimpleNamespace(sha256="0" * 64), types.SimpleNamespace(n_warnings=0))

    monkeypatch.setattr(book_run, "execute_notebooks", fake_execute)
    monkeypatch.setattr(book_run, "load_cohort_with_report", fake_validate)
    return seen


def _run_until_notebooks(data, out, *extra) -> None:
    with pytest.raises(_Stop):
        cli.main(["--debug", "run", str(data), "--out", str(out), *map(str, extra)])
    assert not Path(out).exists()


def test_seed_reaches_the_notebooks_and_results_json(valid_package, tmp_path, captured_run):
    _run_until_notebooks(valid_package, tmp_path / "out", "--seed", 7)
    _run_until_notebooks(valid_package, tmp_path / "out")
    spain = REFERENCE_COHORTS["spain_multicentre"]
    _run_until_notebooks(project_root() / spain["data_dir"], tmp_path / "out")
    seeds = [(c["parameters"]["seed"], c["results"]["seed"]) for c in captured_run]
    assert seeds == [(7, 7), (DEFAULT_SEED, DEFAULT_SEED), (spain["seed"], spain["seed"])]
    assert spain["seed"] != DEFAULT_SEED
    assert set(captured_run[0]["results"]) == {
        "cohort",
        "parameters",
        "data_sha256",
        "results",
        "seed",
    }
