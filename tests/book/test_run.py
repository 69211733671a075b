"""Tests of the runner (ivigbook run / ivigbook book) on tiny dummy notebooks.

The real notebooks and data are not needed: each test builds a throw-away project
folder (notebooks/, book/, _config.yml copied from the repo, _toc.yml) in tmp_path.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import types
from pathlib import Path

import nbformat
import pandas as pd
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook
from package_copies import copy_hopkins, read_table, write_table

from ivigbook import cli
from ivigbook.book import execute, outdir, reference, run
from ivigbook.book.execute import execute_notebooks
from ivigbook.book.merge import merge_results, write_results_json
from ivigbook.book.notebook_clean import scrub_notebook
from ivigbook.data import params
from ivigbook.data.params import parse_overrides
from ivigbook.data.problems import DataError
from ivigbook.data.terms import write_term_map
from ivigbook.data.validate import load_cohort
from ivigbook.derive import context
from ivigbook.errors import InvalidDataError, ResultsConflictError, RunError, UsageError

REPO = Path(__file__).resolve().parents[2]

PARAMETERS_CELL = """\
data_dir = "data"
cohort_name = "dummy"
params_json = "{}"
results_dir = "_results"
cache_dir = "_cache"
comparators_path = ""
published_path = ""
synthetic = True
seed = 0"""


# ------------------------------------------------------------------------ fixtures


def dummy_notebook(
    path: Path, key: str, *, fail: bool = False, figure: bool = False, reproduction: bool = False
) -> Path:
    """A notebook following the contract: parameters cell, glue, a partial result."""
    body = [
        "import json, os, pathlib\n"
        "from myst_nb import glue\n"
        "params = json.loads(params_json)\n"
        "n_files = len(list(pathlib.Path(data_dir).glob('*.csv')))",
    ]
    if reproduction:
        body.append(
            "merged = json.loads(pathlib.Path('results.json').read_text())['results']\n"
            f"{key}_value = float(len(merged))\n"
            f"glue('{key}_value', {key}_value)"
        )
    else:
        body.append(
            ("1 / 0\n" if fail else "")
            + f"{key}_value = 1 / 3 + n_files + params.get('responder_mcid', 5.0)\n"
            f"glue('{key}_value', {key}_value)"
        )
    if figure:
        body.append(
            "import matplotlib\n"
            "import matplotlib.pyplot as plt\n"
            "fig, ax = plt.subplots(figsize=(3, 2), dpi=80)\n"
            "ax.plot([0, 1, 2], [1, 3, 2])\n"
            "glue('fig_" + key + "', fig, display=False)\n"
            "fig"
        )
    body.append(
        "out = pathlib.Path(results_dir)\n"
        "out.mkdir(parents=True, exist_ok=True)\n"
        "from ipykernel.connect import get_connection_file\n"
        "transport = json.loads(pathlib.Path(get_connection_file()).read_text())['transport']\n"
        f"(out / '{path.stem}.json').write_text(json.dumps({{'{key}_value': {key}_value, "
        f"'cwd_is_out': os.path.basename(os.getcwd()), 'transport': transport}}))"
    )
    nb = new_notebook(
        cells=[
            new_markdown_cell(f"# Page {key}"),
            new_code_cell(PARAMETERS_CELL, metadata={"tags": ["parameters"]}),
            *[new_code_cell(src) for src in body],
            new_markdown_cell(f"The value is {{glue:text}}`{key}_value:.3f`."),
        ],
        metadata={
            "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}
        },
    )
    for i, cell in enumerate(nb.cells):  # stable ids, as committed sources have
        cell["id"] = f"{key}-{i}"
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)
    return path


def make_project(root: Path, *, fail: bool = False, reproduction: bool = True) -> Path:
    """A minimal project: notebooks/, book/ prose, _config.yml (the repo's), _toc.yml."""
    dummy_notebook(root / "notebooks" / "01_alpha.ipynb", "alpha")
    dummy_notebook(root / "notebooks" / "02_beta.ipynb", "beta", fail=fail)
    if reproduction:
        dummy_notebook(root / "notebooks" / "reproduction.ipynb", "repro", reproduction=True)
    book = root / "book"
    book.mkdir(parents=True, exist_ok=True)
    (book / "intro.md").write_text("# Dummy book\n\nIntro.\n")
    (book / "methods.md").write_text("# Methods\n\nAs in {cite}`poelman2015`.\n")
    (book / "bibliography.md").write_text("# Bibliography\n\n```{bibliography}\n```\n")
    (book / "references.bib").write_text(
        "@article{poelman2015,\n  title = {Intravenous immunoglobulin},\n"
        "  author = {Poelman, C. L.},\n  journal = {J Rheumatol},\n  year = {2015},\n}\n"
    )
    shutil.copy(REPO / "_config.yml", root / "_config.yml")
    shutil.copytree(REPO / "book" / "_static", book / "_static")
    (root / "data" / "reference").mkdir(parents=True, exist_ok=True)
    return root


def make_data(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "patients.csv").write_text("patient_id\nP1\n")
    return folder


class _Report:
    def __init__(self, lines):
        self.lines = lines

    def format(self):
        return "\n".join(self.lines)

    def summary(self):
        return f"{len(self.lines)} errors"


@pytest.fixture
def stub_validate(monkeypatch):
    """A stand-in for validation: a package with a file BAD is invalid."""

    def load_cohort_with_report(path):
        path = Path(path)
        if (path / "BAD").exists():
            raise DataError(_Report([f"{path.name}/patients.csv:2:sex: X - must be F or M"]))
        return (
            types.SimpleNamespace(sha256="0" * 64, name=path.name),
            types.SimpleNamespace(n_warnings=0),
        )

    monkeypatch.setattr(run, "load_cohort_with_report", load_cohort_with_report)
    return load_cohort_with_report


def snapshot(folder: Path) -> dict:
    return {
        p.relative_to(folder).as_posix(): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def contract_parameters(tmp: Path) -> dict:
    return {
        "data_dir": make_data(tmp / "data"),
        "cohort_name": "dummy",
        "params_json": "{}",
        "results_dir": tmp / "out" / "_results",
        "cache_dir": tmp / "cache",
        "comparators_path": "",
        "published_path": "",
        "synthetic": True,
        "seed": 0,
    }


# ------------------------------------------------------------------ fast unit tests


def test_merge_results_detects_conflicts(tmp_path):
    parts = tmp_path / "_results"
    parts.mkdir()
    (parts / "01_a.json").write_text(json.dumps({"skin_mrss_m6_mean": 20.5, "n": 30}))
    (parts / "02_b.json").write_text(json.dumps({"skin_mrss_m6_mean": 21.0, "n": 30}))
    with pytest.raises(ResultsConflictError) as err:
        merge_results(parts, "c", None, "sha")
    msg = str(err.value)
    assert "skin_mrss_m6_mean" in msg and "01_a.json" in msg and "02_b.json" in msg
    assert "20.5" in msg and "21.0" in msg
    assert "\n  n:" not in msg  # equal values defined twice are fine


def test_merge_and_write_results_are_deterministic(tmp_path):
    parts = tmp_path / "_results"
    parts.mkdir()
    (parts / "02_b.json").write_text(
        '{"b_p": NaN, "b_or": 0.1234567890123456789, '
        '"b_inf": Infinity, "b_list": [1.00000000000001, 2]}'
    )
    (parts / "01_a.json").write_text('{"a_n": 30, "a_flag": true, "a_label": "Sj\\u00f6gren"}')
    payload = merge_results(parts, "hopkins2015", params.AnalysisParams(), "abc")
    assert list(payload) == ["cohort", "parameters", "data_sha256", "results"]
    assert payload["results"]["b_p"] is None and payload["results"]["b_inf"] is None
    assert payload["results"]["b_or"] == 0.123456789012
    assert payload["parameters"]["followup_months"] == [6, 12, 18, 24]
    write_results_json(tmp_path / "r1.json", payload)
    write_results_json(tmp_path / "r2.json", json.loads((tmp_path / "r1.json").read_text()))
    text = (tmp_path / "r1.json").read_bytes()
    assert text == (tmp_path / "r2.json").read_bytes()
    assert text.endswith(b"}\n") and not text.endswith(b"\n\n")
    data = json.loads(text)
    assert list(data) == sorted(data) and data["results"]["b_list"] == [1.0, 2]
    assert '\n "cohort": "hopkins2015"' in text.decode()  # indent 1
    assert "Sjögren" in text.decode()


def test_parse_overrides_types_and_unknown_names():
    got = parse_overrides(
        [
            "followup_months=3",
            "responder_mcid=4",
            "min_cycles_6m=1",
            "baseline_measure=",
            "followup_anchor=last_cycle",
        ]
    )
    assert got == {
        "followup_months": (3,),
        "responder_mcid": 4.0,
        "min_cycles_6m": 1,
        "baseline_measure": "",
        "followup_anchor": "last_cycle",
    }
    assert parse_overrides(["followup_months=6,12"]) == {"followup_months": (6, 12)}
    with pytest.raises(UsageError, match="unknown analysis parameter 'mcid'"):
        parse_overrides(["mcid=3"])
    with pytest.raises(UsageError, match="expected an integer"):
        parse_overrides(["min_cycles_6m=three"])
    with pytest.raises(UsageError, match="followup_anchor"):
        parse_overrides(["followup_anchor=sometime"])
    with pytest.raises(UsageError, match="name=value"):
        parse_overrides(["responder_mcid"])


def test_cli_unknown_set_name_exits_2(tmp_path, stub_validate, capsys, monkeypatch):
    root = make_project(tmp_path / "proj")
    monkeypatch.setenv("IVIGBOOK_ROOT", str(root))
    data = make_data(tmp_path / "mine")
    args = argparse.Namespace(
        data_dir=str(data),
        out=str(tmp_path / "out"),
        set=["no_such_rule=1"],
        jobs=1,
        cohort_name=None,
    )
    assert cli.main_run(args) == 2
    err = capsys.readouterr().err
    assert "unknown analysis parameter 'no_such_rule'" in err and "responder_mcid" in err
    assert "Traceback" not in err
    assert not (tmp_path / "out").exists()
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["run", str(data), "--out", str(tmp_path / "out"), "--set", "nope=1"])
    assert exit_info.value.code == 2
    assert "nope=1" in capsys.readouterr().err


def test_invalid_data_exit_1_before_touching_out(tmp_path, stub_validate, capsys, monkeypatch):
    root = make_project(tmp_path / "proj")
    monkeypatch.setenv("IVIGBOOK_ROOT", str(root))
    data = make_data(tmp_path / "mine")
    (data / "BAD").write_text("")
    out = tmp_path / "out"
    out.mkdir()
    (out / "marker.txt").write_text("old book")
    outdir.write_stamp(out)
    before = snapshot(out)
    args = argparse.Namespace(data_dir=str(data), out=str(out), set=None, jobs=1, cohort_name=None)
    assert cli.main_run(args) == 1
    err = capsys.readouterr().err
    assert "mine/patients.csv:2:sex: X - must be F or M" in err
    assert "Traceback" not in err
    assert snapshot(out) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mine", "out", "proj"]


def test_out_must_be_ivigbook_output(tmp_path, stub_validate, monkeypatch):
    root = make_project(tmp_path / "proj")
    data = make_data(tmp_path / "mine")
    foreign = tmp_path / "documents"
    foreign.mkdir()
    (foreign / "thesis.docx").write_text("precious")
    with pytest.raises(UsageError, match="refusing to replace"):
        run.run(data, foreign, root=root, progress=False)
    with pytest.raises(UsageError, match="contain the input data"):
        run.run(data, tmp_path, root=root, progress=False)
    assert (foreign / "thesis.docx").read_text() == "precious"


def test_scrub_removes_run_noise():
    nb = new_notebook(
        cells=[
            new_code_cell(
                "x = 1",
                metadata={
                    "tags": ["injected-parameters"],
                    "papermill": {"duration": 1.0, "status": "completed"},
                    "execution": {"iopub.status.busy": "2025-01-01T00:00:00Z"},
                },
            )
        ]
    )
    nb.cells[0].outputs = [
        nbformat.v4.new_output(
            "execute_result", data={"text/plain": "<Axes at 0x7f3a2b4c5d60>"}, execution_count=1
        )
    ]
    nb.metadata.update(
        {
            "papermill": {
                "start_time": "t",
                "end_time": "t",
                "duration": 1.2,
                "exception": None,
                "input_path": "/abs/notebooks/01_a.ipynb",
                "output_path": "/tmp/x/01_a.ipynb",
                "parameters": {"seed": 1},
                "version": "2.7.0",
                "environment_variables": {},
            },
            "language_info": {"name": "python", "version": "3.11.7"},
            "widgets": {"state": {}},
        }
    )
    scrub_notebook(nb, input_path="notebooks/01_a.ipynb", output_path="01_a.ipynb")
    assert nb.metadata.papermill == {
        "input_path": "notebooks/01_a.ipynb",
        "output_path": "01_a.ipynb",
        "parameters": {"seed": 1},
    }
    assert nb.metadata.language_info == {"name": "python"} and "widgets" not in nb.metadata
    cell = nb.cells[0]
    assert cell.id == "injected-parameters"
    assert set(cell.metadata) == {"tags"}
    assert cell.outputs[0].data["text/plain"] == "<Axes at 0x0>"


# ------------------------------------------------------- notebook execution (slow)


@pytest.mark.slow
def test_parallel_execution_with_progress(tmp_path):
    nbs = [
        dummy_notebook(tmp_path / "src" / f"0{i}_{k}.ipynb", k)
        for i, k in enumerate(["one", "two", "three"], start=1)
    ]
    lines: list[str] = []
    results = execute_notebooks(
        nbs,
        tmp_path / "out",
        contract_parameters(tmp_path),
        jobs=2,
        progress=lines.append,
        source_root=tmp_path,
    )
    assert [r.name for r in results] == ["01_one", "02_two", "03_three"]
    assert all(r.ok for r in results)
    progress = [ln for ln in lines if ln.startswith("[")]
    assert [ln[:5] for ln in progress] == ["[1/3]", "[2/3]", "[3/3]"]
    assert sorted(ln.split()[1] for ln in progress) == ["01_one", "02_two", "03_three"]
    assert all(" ... done in " in ln and ln.endswith(" s") for ln in progress)
    assert "(2 workers)" in lines[0]
    nb = nbformat.read(tmp_path / "out" / "02_two.ipynb", as_version=4)
    injected = nb.metadata.papermill.parameters
    assert injected["data_dir"] == "../data" and injected["results_dir"] == "_results"
    assert injected["cache_dir"] == "../cache"
    assert nb.metadata.papermill.input_path == "src/02_two.ipynb"
    part = json.loads((tmp_path / "out" / "_results" / "02_two.json").read_text())
    assert part["cwd_is_out"] == "out"  # the kernel ran in the output folder
    # kernels talk over Unix sockets: no race for free TCP ports between starting kernels
    assert part["transport"] == ("ipc" if os.name == "posix" else "tcp")
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "01_one.ipynb",
        "02_two.ipynb",
        "03_three.ipynb",
        "_results",
    ]
    assert part["two_value"] == pytest.approx(1 / 3 + 1 + 5)  # data_dir resolved


@pytest.mark.slow
def test_reexecution_is_byte_identical(tmp_path):
    src = dummy_notebook(tmp_path / "src" / "01_fig.ipynb", "fig", figure=True)
    params = contract_parameters(tmp_path)
    execute_notebooks([src], tmp_path / "out", params, progress=False)
    first = (tmp_path / "out" / "01_fig.ipynb").read_bytes()
    execute_notebooks([src], tmp_path / "out", params, progress=False)
    second = (tmp_path / "out" / "01_fig.ipynb").read_bytes()
    assert first == second
    text = first.decode()
    for noise in ("start_time", "end_time", "duration", "iopub", '"version": "3.'):
        assert noise not in text
    assert "image/png" in text and text.endswith("}\n")


@pytest.mark.slow
def test_failed_run_names_notebook_cell_and_error_and_keeps_out(
    tmp_path, stub_validate, capsys, monkeypatch
):
    root = make_project(tmp_path / "proj", fail=True)
    monkeypatch.setenv("IVIGBOOK_ROOT", str(root))
    data = make_data(tmp_path / "mine")
    out = tmp_path / "out"
    out.mkdir()
    (out / "marker.txt").write_text("previous book, must survive")
    (out / "sub").mkdir()
    (out / "sub" / "page.html").write_bytes(b"<html>old</html>\n")
    outdir.write_stamp(out)
    before = snapshot(out)
    args = argparse.Namespace(
        data_dir=str(data), out=str(out), set=None, jobs=2, cohort_name="mine"
    )
    assert cli.main_run(args) == 1
    err = capsys.readouterr().err
    assert "02_beta.ipynb failed at cell 4 (In [4])" in err  # cell 4 of the source
    assert "1 / 0" in err and "ZeroDivisionError: division by zero" in err
    assert (
        "left unchanged" in err
        and "Traceback (most recent call last)" not in err.split("traceback (last lines)")[0]
    )
    assert snapshot(out) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mine", "out", "proj"]


@pytest.mark.slow
def test_successful_run_replaces_out_atomically(tmp_path, stub_validate, capsys, monkeypatch):
    root = make_project(tmp_path / "proj")
    monkeypatch.setenv("IVIGBOOK_ROOT", str(root))
    if shutil.which("git"):
        subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    data = make_data(tmp_path / "mine")
    out = tmp_path / "out"
    out.mkdir()
    (out / "marker.txt").write_text("previous book")
    outdir.write_stamp(out)
    assert (
        cli.main(
            [
                "run",
                str(data),
                "--out",
                str(out),
                "--set",
                "responder_mcid=4",
                "--set",
                "followup_months=6,12",
                "--jobs",
                "2",
            ]
        )
        == 0
    )
    captured = capsys.readouterr()
    assert not (out / "marker.txt").exists()
    assert (out / "01_alpha.ipynb").is_file() and (out / "02_beta.ipynb").is_file()
    assert not (out / "reproduction.ipynb").exists()  # no published results for "mine"
    assert not (out / run.RUN_CACHE_DIRNAME).exists()
    index = out / "_build" / "html" / "index.html"
    assert index.is_file() and (out / "_build" / "html" / "search.html").is_file()
    assert (out / "_build" / "html" / "searchindex.js").is_file()
    html = (out / "_build" / "html" / "01_alpha.html").read_text()
    assert "The value is" in html and "5.333" in html  # glue rendered, override applied
    results = json.loads((out / "results.json").read_text())
    # the package's folder name ("mine") is never the cohort's name
    assert results["cohort"] == run.DEFAULT_COHORT_NAME and results["data_sha256"] == "0" * 64
    assert results["parameters"]["responder_mcid"] == 4.0
    assert results["parameters"]["followup_months"] == [6, 12]
    assert results["results"]["alpha_value"] == pytest.approx(4 + 1 / 3 + 1, rel=1e-11)
    assert str(index) in captured.out
    assert "[1/2]" in captured.err and "[2/2]" in captured.err
    if shutil.which("git"):
        assert "never commit it" in captured.err  # OUT in a work tree, data not synthetic
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) in ([], [".git"])


@pytest.mark.slow
def test_reference_book_build(tmp_path, stub_validate):
    root = make_project(tmp_path / "proj")
    make_data(root / "data" / "synthetic" / "dummy")
    (root / "data" / "reference" / "published_dummy.csv").write_text("key,value\n")
    registry = {
        "dummy": {
            "data_dir": "data/synthetic/dummy",
            "params": {"min_cycles_6m": 1},
            "published": "data/reference/published_dummy.csv",
            "title": "Dummy reference cohort",
        },
        "absent": {
            "data_dir": "data/synthetic/absent",
            "params": {},
            "published": "",
            "title": "Not there",
        },
    }
    toc = (
        "format: jb-book\nroot: book/intro\nparts:\n  - caption: Dummy\n    chapters:\n"
        "      - file: book/dummy/01_alpha\n      - file: book/dummy/02_beta\n"
        "  - caption: Methods and data\n    chapters:\n      - file: book/methods\n"
        "      - file: book/bibliography\n"
    )
    (root / "_toc.yml").write_text(toc)
    with pytest.raises(RunError, match="book/dummy/reproduction"):  # not in the toc
        reference.build_reference_book(1, root=root, registry=registry, progress=False)
    (root / "_toc.yml").write_text(
        toc.replace(
            "      - file: book/dummy/02_beta\n",
            "      - file: book/dummy/02_beta\n      - file: book/dummy/reproduction\n",
        )
    )
    lines: list[str] = []
    index = reference.build_reference_book(2, root=root, registry=registry, progress=lines.append)
    assert index == root / "_build" / "html" / "index.html" and index.is_file()
    assert any("skipping reference cohort absent" in ln for ln in lines)
    done = [ln.removeprefix("dummy: ") for ln in lines if ln.startswith("dummy: [")]
    assert [ln[:5] for ln in done] == ["[1/3]", "[2/3]", "[3/3]"]  # lines name the cohort
    assert done[-1].split()[1] == "reproduction"
    cohort = root / "book" / "dummy"
    results = json.loads((cohort / "results.json").read_text())
    assert results["parameters"]["min_cycles_6m"] == 1
    # the reproduction notebook saw the merged results of the two others
    assert results["results"]["repro_value"] == 4.0  # alpha, beta, cwd_is_out, transport
    nb = nbformat.read(cohort / "reproduction.ipynb", as_version=4)
    injected = nb.metadata.papermill.parameters
    assert injected["data_dir"] == "../../data/synthetic/dummy"
    assert injected["published_path"] == "../../data/reference/published_dummy.csv"
    assert injected["cache_dir"] == "../../_build/.cache/dummy" and injected["synthetic"]
    assert (root / "_build" / "html" / "book" / "dummy" / "reproduction.html").is_file()
    assert not list((root / "book").glob(".*tmp*"))
    # re-running on unchanged code and data leaves the committed files byte-identical
    before = snapshot(cohort)
    reference.build_reference_book(2, root=root, registry=registry, progress=False, build=False)
    assert snapshot(cohort) == before


def test_real_validate_is_used_when_available(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(InvalidDataError):
        run._load_and_validate(empty)


@pytest.mark.parametrize(
    "overrides",
    [{}, {"responder_mcid": "4", "followup_months": "6,12"}, {"followup_anchor": "last_cycle"}],
)
def test_primed_cache_key_is_the_one_the_notebooks_compute(overrides):
    """The runner primes the derived tables under the parameters it holds; each notebook
    looks them up from ``params_json``: both must give the same cache key."""
    import json as _json

    from ivigbook.data.params import AnalysisParams
    from ivigbook.derive.context import params_key

    params, params_json = run._cohort_params({}, parse_overrides(overrides))
    in_notebook = AnalysisParams.from_mapping(_json.loads(_json.dumps(params_json, sort_keys=True)))
    assert params_key("a" * 64, in_notebook) == params_key("a" * 64, params)


def test_concurrent_runs_never_exceed_the_shared_slots(tmp_path, monkeypatch):
    """Two cohorts executed side by side with one semaphore of 2 slots: at most 2
    notebooks run at any time, although each call alone would run 2."""
    import threading
    import time as _time

    running, peak, lock = [0], [0], threading.Lock()

    def fake_execute_one(task, active, scratch):
        with lock:
            running[0] += 1
            peak[0] = max(peak[0], running[0])
        _time.sleep(0.15)
        with lock:
            running[0] -= 1
        return {"ok": True, "seconds": 0.15, "stderr": [], "log": [], "error": None}

    monkeypatch.setattr(execute, "_execute_one", fake_execute_one)
    monkeypatch.setattr(execute, "_check_contract", lambda *a, **k: None)
    slots = threading.Semaphore(2)
    calls = []
    for cohort in ("a", "b"):
        sources = [
            dummy_notebook(tmp_path / cohort / f"0{i}_n{i}.ipynb", f"k{i}") for i in range(1, 4)
        ]
        calls.append(
            threading.Thread(
                target=execute.execute_notebooks,
                args=(sources, tmp_path / f"out-{cohort}", {}, 2, False),
                kwargs={"slots": slots},
            )
        )
    for t in calls:
        t.start()
    for t in calls:
        t.join()
    assert peak[0] == 2


# ------------------------------------------------------------------ adverse-event term map
TERMS_NOTEBOOK = """\
import json, pathlib
from ivigbook.data.schema import AE_TERMS
from ivigbook.derive.context import load_context
terms = load_context(data_dir, params_json, cache_dir).cohort.adverse_events["term"]
out = pathlib.Path(results_dir)
out.mkdir(parents=True, exist_ok=True)
(out / "01_terms.json").write_text(json.dumps({
    "terms_headache_n": int((terms == "headache").sum()),
    "terms_other_n": int((~terms.isin(list(AE_TERMS))).sum())}))"""


def free_text_package(dest: Path) -> Path:
    """The Hopkins package with 7 events of 3 verbatim terms outside the vocabulary."""
    pkg = copy_hopkins(dest)
    header, rows = read_table(pkg / "adverse_events.csv")
    verbatim = ["Cefalea intensa"] * 4 + ["rash cutaneo", "Rash cutaneo", "fiebre"]
    for row, term in zip(rows, verbatim):
        row[header.index("term")] = term
    write_table(pkg / "adverse_events.csv", header, rows)
    return pkg


def test_run_warns_about_unmapped_terms_and_rejects_a_bad_map(tmp_path, capsys):
    pkg = free_text_package(tmp_path / "pkg")
    lines: list[str] = []
    run._load_and_validate(pkg, lines.append, {"cefalea intensa": "headache"})
    assert len(lines) == 1 and lines[0].startswith(f"the cohort package {pkg} is valid, with")
    assert (
        "adverse_events.csv:-:term: - warning: 2 terms outside the vocabulary (3 events) "
        'will be counted as "other": "rash cutaneo" (2), "fiebre" (1);'
    ) in lines[0]
    bad = tmp_path / "terms.csv"
    bad.write_text("fiebre,fevr\n")
    with pytest.raises(InvalidDataError, match="the term map .*terms.csv is not valid"):
        run._read_terms(bad)
    out = tmp_path / "out"
    assert cli.main(["run", str(pkg), "--out", str(out), "--terms", str(bad)]) == 1
    err = capsys.readouterr().err
    assert "terms.csv:1:code: fevr - not an adverse-event code" in err
    assert "nothing was written" in err and not out.exists()


def test_primed_cache_applies_the_run_term_map(tmp_path, monkeypatch):
    """What the notebooks see: the cohort of the cache with ``ae_terms.csv`` applied, and
    derived tables under a key of their own (the cohort cache stays the package's)."""
    pkg = free_text_package(tmp_path / "pkg")
    cohort = load_cohort(pkg)
    terms = {"cefalea intensa": "headache", "fiebre": "fever"}
    cache = tmp_path / "cache"
    cache.mkdir()
    write_term_map(terms, cache / context.TERM_MAP_FILE)
    params_ = params.AnalysisParams()
    context.prime_cache(cohort, pkg, params_, cache)
    key = context.params_key(cohort.sha256, params_, terms)
    assert key != context.params_key(cohort.sha256, params_)
    assert (cache / key / "adsl.parquet").is_file()

    def no_validation(*a, **k):
        raise AssertionError("load_context validated or derived again")

    monkeypatch.setattr(context, "load_cohort", no_validation)
    monkeypatch.setattr(context, "derive_all", no_validation)
    ctx = context.load_context(pkg, "{}", cache)
    got = ctx.cohort.adverse_events["term"]
    assert list(got[:7]) == ["headache"] * 4 + ["rash cutaneo", "Rash cutaneo", "fever"]
    assert ctx.cohort.sha256 == cohort.sha256
    assert cohort.adverse_events["term"][0] == "Cefalea intensa"  # the input is not modified
    stored = cache / f"cohort-{context.package_key(pkg)}" / "adverse_events.parquet"
    assert pd.read_parquet(stored)["term"][0] == "Cefalea intensa"  # the package as validated


@pytest.mark.slow
def test_run_with_terms_gives_every_notebook_the_mapped_cohort(tmp_path, capsys):
    root = make_project(tmp_path / "proj", reproduction=False)
    for nb in (root / "notebooks").iterdir():
        nb.unlink()
    nb = new_notebook(
        cells=[
            new_code_cell(PARAMETERS_CELL, metadata={"tags": ["parameters"]}),
            new_code_cell(TERMS_NOTEBOOK),
        ],
        metadata={
            "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}
        },
    )
    for i, cell in enumerate(nb.cells):
        cell["id"] = f"terms-{i}"
    nbformat.write(nb, root / "notebooks" / "01_terms.ipynb")
    pkg = free_text_package(tmp_path / "pkg")
    terms = tmp_path / "terms.csv"
    terms.write_text("term,code\ncefalea intensa,headache\nfiebre,fever\n")
    before = terms.read_bytes()
    headache = sum(
        r.split(",")[2] == "headache" for r in (pkg / "adverse_events.csv").read_text().splitlines()
    )
    out = tmp_path / "out"
    run.run(pkg, out, jobs=1, root=root, build=False, terms=terms)
    results = json.loads((out / "results.json").read_text())["results"]
    assert results["terms_headache_n"] == headache + 4
    assert results["terms_other_n"] == 2  # "rash cutaneo" is not in the map
    assert '"rash cutaneo" (2); add them to the --terms map' in capsys.readouterr().err
    assert not (out / run.RUN_CACHE_DIRNAME).exists()  # the map (free text) is not kept
    assert not list(out.rglob(context.TERM_MAP_FILE))
    assert terms.read_bytes() == before
