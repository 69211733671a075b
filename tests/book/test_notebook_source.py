"""The chapter notebooks are MyST Markdown sources (jupytext) in notebooks/ (issue 13).

* every ``notebooks/NN_name.md`` parses with jupytext and is in jupytext's own form;
* the shared boilerplate (parameters cell, start cell, finish cell) is the same in
  every notebook, up to the notebook's stem and its import list;
* the parameters' defaults run a notebook in place from notebooks/ on the bundled
  cohort, and the runner injects every parameter, so the defaults never change what
  the book computes;
* the runner executes ``.md`` sources into deterministic ``<stem>.ipynb`` files and
  writes nothing next to the sources;
* (slow) ``02_skin_outcomes.md`` runs in place, as a reader would run it in JupyterLab.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import jupytext
import nbformat
import pytest

from ivigbook import config
from ivigbook.book import execute, merge, notebook_source, reference, run
from ivigbook.book.execute import CONTRACT_PARAMETERS
from ivigbook.chapters import catalog
from ivigbook.chapters.compute import compute_results
from ivigbook.config import REFERENCE_COHORTS

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = ROOT / "notebooks"
SOURCES = sorted(NOTEBOOKS.glob("[0-9][0-9]_*.md"))
PATH_PARAMETERS = ("data_dir", "results_dir", "cache_dir", "comparators_path", "published_path")
START = re.compile(
    r"(?P<chapters>from ivigbook\.chapters import \w+(?:, \w+)*\n)?"
    r"from ivigbook\.report import (?P<report>\w+(?:, \w+)*)\n"
    r'ctx, rec = page\.start\("(?P<stem>\w+)", data_dir, params_json, '
    r"results_dir, cache_dir, synthetic, cohort_name\)"
)


def _nb(path: Path) -> nbformat.NotebookNode:
    return notebook_source.read(path)


def _defaults(nb) -> dict:
    cell = next(c for c in nb.cells if "parameters" in c.metadata.get("tags", []))
    namespace: dict = {}
    exec(cell.source, {}, namespace)
    return namespace


def test_the_sources_are_markdown_only():
    assert tuple(p.stem for p in SOURCES) == catalog.STEMS
    tracked = subprocess.run(
        ["git", "ls-files", "notebooks"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    assert tracked == [f"notebooks/{p.name}" for p in SOURCES], (
        "notebooks/ holds only the .md sources (no .ipynb, no generator script)"
    )
    assert execute.discover_notebooks(NOTEBOOKS) == SOURCES
    assert [p.stem for p in execute.discover_notebooks(NOTEBOOKS) if execute.is_late(p)] == [
        c.stem for c in catalog.CHAPTERS if c.late
    ]


@pytest.mark.parametrize("chapter", catalog.CHAPTERS, ids=lambda c: c.stem)
def test_every_notebook_makes_the_calls_of_its_chapter_steps(chapter):
    """The one chapter list (what the compute-only analysis runs) is what each notebook calls,
    in the same order."""
    code = "\n".join(
        c.source for c in _nb(NOTEBOOKS / f"{chapter.stem}.md").cells if c.cell_type == "code"
    )
    at = 0
    for step in chapter.steps:
        found = code.find(step.call + "(", at)
        assert found >= 0, f"{chapter.stem}: no call of {step.call} after position {at}"
        at = found


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: p.stem)
def test_every_source_parses_with_jupytext(path):
    text = path.read_text(encoding="utf-8")
    nb = jupytext.reads(text)  # format taken from the YAML header
    header = nb.metadata["jupytext"]["text_representation"]
    assert header["format_name"] == "myst" and header["extension"] == ".md"
    assert nb.metadata["kernelspec"]["name"] == "python3"
    assert nb.cells and all(not c.get("outputs") for c in nb.cells if c.cell_type == "code")
    assert "```{code-cell} ipython3" in text
    # the file is exactly what jupytext writes for it (apart from the jupytext release)
    again = notebook_source.writes_myst(_nb(path))
    strip = re.compile(r"(?m)^\s*jupytext_version: .*\n")
    assert strip.sub("", again) == strip.sub("", text), (
        f"{path.name} is not in jupytext's MyST form: open and save it with jupytext"
    )


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: p.stem)
def test_cell_ids_are_stable(path):
    first, second = _nb(path), _nb(path)
    ids = [c.id for c in first.cells]
    assert ids == [c.id for c in second.cells]
    assert ids == [f"{path.stem[:2]}-{i:02d}" for i in range(len(ids))]


def test_shared_boilerplate_is_identical_in_every_notebook():
    parameters, starts, finishes = set(), set(), set()
    for path in SOURCES:
        cells = _nb(path).cells
        assert cells[0].cell_type == "markdown" and cells[0].source.startswith("# "), path.name
        param, start, last = cells[1], cells[2], cells[-1]
        assert param.metadata.get("tags") == ["parameters", "hide-input"], path.name
        parameters.add(param.source)
        assert start.metadata.get("tags") == ["hide-input"], path.name
        match = START.fullmatch(start.source)
        assert match, f"{path.name}: start cell does not follow the pattern:\n{start.source}"
        assert match["stem"] == path.stem, path.name
        chapters = (match["chapters"] or "").strip().removeprefix("from ivigbook.chapters import ")
        report = match["report"].split(", ")
        for imports in (chapters.split(", ") if chapters else [], report):
            assert imports == sorted(set(imports)), path.name
        assert "page" in report, path.name
        starts.add(start.source.splitlines()[-1].replace(f'"{path.stem}"', '"<stem>"'))
        assert last.cell_type == "code" and last.source == "page.finish(rec)", path.name
        assert last.metadata.get("tags") == ["hide-input"], path.name
        finishes.add(last.source)
        # the boilerplate appears once
        body = [c.source for c in cells[3:-1]]
        assert not any("page.start(" in s or "page.finish(" in s for s in body), path.name
        assert sum("parameters" in c.metadata.get("tags", []) for c in cells) == 1
    assert len(parameters) == 1, "the parameters cells differ between notebooks"
    assert len(starts) == 1 and len(finishes) == 1


def test_defaults_point_from_notebooks_to_the_bundled_cohort():
    defaults = _defaults(_nb(SOURCES[0]))
    assert set(defaults) == set(CONTRACT_PARAMETERS)
    ref = REFERENCE_COHORTS["hopkins2015"]
    assert (NOTEBOOKS / defaults["data_dir"]).resolve() == (ROOT / ref["data_dir"]).resolve()
    assert (NOTEBOOKS / defaults["published_path"]).resolve() == (ROOT / ref["published"]).resolve()
    assert (NOTEBOOKS / defaults["comparators_path"]).resolve() == (
        ROOT / config.COMPARATORS_PATH
    ).resolve()
    assert defaults["cohort_name"] == "hopkins2015" and defaults["synthetic"] is True
    # run in place, a notebook writes nothing: no partial results, no cache
    assert defaults["results_dir"] == "" and defaults["cache_dir"] == ""


def test_papermill_reads_every_parameter():
    """papermill's own parser of the parameters cell (a second '=' on a line, e.g. in a
    comment, makes it skip the line with a warning in every run's log)."""
    from papermill.translators import PythonTranslator

    cell = next(c for c in _nb(SOURCES[0]).cells if "parameters" in c.metadata.get("tags", []))
    assert sorted(p.name for p in PythonTranslator.inspect(cell)) == sorted(CONTRACT_PARAMETERS)


def _capture(monkeypatch) -> tuple[list[dict], type]:
    """Replace the runner's execution by a recorder of the injected parameters."""
    seen: list[dict] = []

    class Stop(Exception):
        pass

    def fake(sources, out_dir, parameters, *args, **kwargs):
        seen.append(dict(parameters))
        raise Stop

    for module in (run, reference):
        monkeypatch.setattr(module, "execute_notebooks", fake)
        monkeypatch.setattr(module, "_prime", lambda *a, **k: False)
    return seen, Stop


def _check_injected(parameters: dict) -> None:
    assert set(parameters) == set(CONTRACT_PARAMETERS)
    for name in PATH_PARAMETERS:
        value = parameters[name]
        # a Path (made relative to the executed notebook) or an explicit "" (none)
        assert isinstance(value, Path) or value == "", (name, value)
    for name in ("data_dir", "results_dir", "cache_dir"):
        assert isinstance(parameters[name], Path), name


def test_run_injects_every_parameter(monkeypatch, tmp_path):
    seen, stop = _capture(monkeypatch)
    with pytest.raises(stop):
        run.run(
            ROOT / "data" / "synthetic" / "hopkins2015",
            tmp_path / "out",
            progress=False,
            build=False,
        )
    assert len(seen) == 1
    _check_injected(seen[0])
    assert not (tmp_path / "out").exists()


def test_reference_book_injects_every_parameter(monkeypatch, tmp_path):
    root = tmp_path / "project"
    shutil.copytree(NOTEBOOKS, root / "notebooks")
    for name in ("_config.yml", "_toc.yml"):
        shutil.copy2(ROOT / name, root / name)
    (root / "book").mkdir()
    (root / "data").symlink_to(ROOT / "data", target_is_directory=True)
    seen, stop = _capture(monkeypatch)
    with pytest.raises(stop):
        reference.build_reference_book(1, root=root, progress=False, build=False)
    assert len(seen) == len(REFERENCE_COHORTS)
    for parameters in seen:
        _check_injected(parameters)
    assert sorted(p.name for p in (root / "notebooks").iterdir()) == [p.name for p in SOURCES]


@pytest.mark.parametrize("name", ["hopkins2015", "spain_multicentre"])
def test_committed_notebooks_record_every_injected_parameter(name):
    for path in sorted((ROOT / "book" / name).glob("0*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        assert set(nb.metadata.papermill.parameters) == set(CONTRACT_PARAMETERS), path.name


def test_discovery_prefers_the_markdown_of_a_paired_notebook(tmp_path):
    folder = tmp_path / "notebooks"
    shutil.copytree(NOTEBOOKS, folder)
    nbformat.write(_nb(SOURCES[0]), folder / f"{SOURCES[0].stem}.ipynb")  # JupyterLab pair
    (folder / ".01_cohort.md").write_text("hidden\n")
    found = execute.discover_notebooks(folder)
    assert [p.name for p in found] == [p.name for p in SOURCES]
    assert notebook_source.executed_name(found[0]) == "01_cohort.ipynb"


# ------------------------------------------------------------------------- execution


def _markdown_dummy(folder: Path, stem: str) -> Path:
    """The runner tests' dummy notebook, saved as a MyST source."""
    from test_run import dummy_notebook

    tmp = dummy_notebook(folder / ".scratch" / f"{stem}.ipynb", "md", figure=True)
    path = folder / f"{stem}.md"
    path.write_text(notebook_source.writes_myst(nbformat.read(tmp, as_version=4)), encoding="utf-8")
    shutil.rmtree(tmp.parent)
    return path


@pytest.mark.slow
def test_markdown_source_executes_deterministically(tmp_path):
    from test_run import contract_parameters

    src = _markdown_dummy(tmp_path / "src", "01_md")
    params = contract_parameters(tmp_path)
    runs = []
    for _ in range(2):
        [res] = execute.execute_notebooks(
            [src], tmp_path / "out", params, progress=False, source_root=tmp_path
        )
        assert res.ok and res.output == tmp_path / "out" / "01_md.ipynb"
        runs.append(res.output.read_bytes())
    assert runs[0] == runs[1], "re-executing a .md source is not byte-identical"
    assert sorted(p.name for p in (tmp_path / "src").iterdir()) == ["01_md.md"]
    nb = nbformat.reads(runs[0].decode(), as_version=4)
    assert nb.metadata.papermill.input_path == "src/01_md.md"
    assert "jupytext" not in nb.metadata
    ids = [c.id for c in nb.cells]
    assert ids[:3] == ["01-00", "01-01", "injected-parameters"] and ids[3] == "01-02"
    assert json.loads((tmp_path / "out" / "_results" / "01_md.json").read_text())["md_value"]


def _status(*paths: str) -> str:
    return subprocess.run(
        ["git", "status", "--porcelain", "--ignored", "--untracked-files=all", "--", *paths],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout


@pytest.mark.slow
def test_skin_chapter_runs_in_place_from_notebooks():
    """What a reader does: open notebooks/02_skin_outcomes.md in JupyterLab (jupytext
    turns it into a notebook, as ``jupytext --to ipynb`` does) and run all cells, in
    notebooks/, with the defaults. It works, writes nothing into the repository and
    computes the numbers of the reference edition."""
    from nbclient import NotebookClient

    nb = jupytext.read(NOTEBOOKS / "02_skin_outcomes.md")
    nb.cells.append(
        nbformat.v4.new_code_cell("import json\nprint(json.dumps(rec.values, sort_keys=True))")
    )
    before = (_status("notebooks", "data"), sorted(p.name for p in ROOT.iterdir()))
    NotebookClient(
        nb, timeout=900, kernel_name="python3", resources={"metadata": {"path": str(NOTEBOOKS)}}
    ).execute()
    assert (_status("notebooks", "data"), sorted(p.name for p in ROOT.iterdir())) == before
    outputs = json.dumps([c.get("outputs", []) for c in nb.cells])
    assert "Synthetic data" in outputs and '"ename"' not in outputs
    in_place = merge._normalize(json.loads(nb.cells[-1].outputs[0]["text"]))
    assert len(in_place) > 20
    # the numbers the book computes for this cohort (compute-only path, as test_book
    # compares with the committed results.json)
    ref = REFERENCE_COHORTS["hopkins2015"]
    book_values = compute_results(
        ROOT / ref["data_dir"], json.dumps(ref["params"]), ROOT / config.COMPARATORS_PATH
    )
    differ = {
        k: (v, book_values.get(k)) for k, v in in_place.items() if book_values.get(k, object()) != v
    }
    assert not differ, f"run in place, 02 computes other numbers: {list(differ.items())[:5]}"
