"""A failed or interrupted `ivigbook run` leaves the previous OUT as it was (issue 7).

``tests/book/test_run.py`` checks this with dummy notebooks; here the *real* chapter
notebooks run on the synthetic Hopkins cohort, in a throw-away project folder
(``IVIGBOOK_ROOT``) whose reference file of historical controls is damaged (its
``comparator`` column renamed), so two real notebooks fail inside the library with
their own error while a third succeeds. Nothing in the notebooks is edited.

A second test interrupts a run (Ctrl-C to its process group) while the notebooks run.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import threading
import time
from pathlib import Path

import pytest
from package_copies import (
    CLI,
    CLI_ENV,
    REPO,
    copy_hopkins,
    make_previous_out,
    read_table,
    tree_hashes,
    write_table,
)

from ivigbook.book import notebook_source

pytestmark = pytest.mark.slow

#: real notebooks used: 01 and 05 read the comparators, 04 does not
NOTEBOOKS = ("01_cohort", "04_safety", "05_historical_comparisons")


def project_copy(root: Path, *, damage: bool) -> Path:
    """A project folder with the real notebooks, prose pages and reference data."""
    (root / "notebooks").mkdir(parents=True)
    for stem in NOTEBOOKS:
        shutil.copy2(REPO / "notebooks" / f"{stem}.md", root / "notebooks")
    shutil.copy2(REPO / "_config.yml", root)
    shutil.copytree(
        REPO / "book",
        root / "book",
        ignore=shutil.ignore_patterns("hopkins2015", "spain_multicentre", ".*"),
    )
    shutil.copytree(REPO / "data" / "reference", root / "data" / "reference")
    if damage:
        path = root / "data" / "reference" / "historical_controls.csv"
        header, rows = read_table(path)
        write_table(path, ["arm" if h == "comparator" else h for h in header], rows)
    return root


def cell_number(stem: str, text: str) -> int:
    """1-based number of the first cell of the source notebook containing ``text``."""
    nb = notebook_source.read(REPO / "notebooks" / f"{stem}.md")
    return next(i for i, c in enumerate(nb.cells, 1) if text in c.source)


def _listing(folder: Path) -> list[str]:
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*"))


def test_failed_real_notebook_keeps_previous_out_and_names_notebook_cell_error(tmp_path):
    root = project_copy(tmp_path / "project", damage=True)
    data = copy_hopkins(tmp_path / "cohort")
    out = make_previous_out(tmp_path / "out")
    previous, inputs, listing = tree_hashes(out), tree_hashes(data), _listing(tmp_path)

    proc = subprocess.run(
        [*CLI, "run", str(data), "--out", str(out), "--jobs", "2"],
        cwd=tmp_path,
        env={**CLI_ENV, "IVIGBOOK_ROOT": str(root)},
        capture_output=True,
        text=True,
        timeout=900,
    )
    err = proc.stderr
    assert proc.returncode == 1, err[-4000:]
    assert "executing 3 notebooks" in err  # it did get as far as running them
    # both failing notebooks, the cell (numbered as in the source notebook) and the
    # notebook's own error; the cell's code is quoted
    for stem in ("01_cohort", "05_historical_comparisons"):
        assert f"{stem} ... FAILED" in err
        assert f"notebook {stem}.md failed at cell " in err
    n = cell_number("01_cohort", "historical.load_comparators(comparators_path)")
    assert f"notebook 01_cohort.md failed at cell {n} (In [" in err
    assert "    | comparators = historical.load_comparators(comparators_path)" in err
    assert "  KeyError: 'comparator'" in err
    assert "04_safety ... done" in err
    assert f"ivigbook run: {out} was left unchanged" in err
    # the notebook's own traceback is quoted (indented); the runner itself did not crash
    assert not [ln for ln in err.splitlines() if ln.startswith("Traceback")]

    assert tree_hashes(out) == previous, "the previous OUT was modified"
    assert tree_hashes(data) == inputs
    assert _listing(tmp_path) == listing, "a temporary folder was left next to OUT"


def _sigint_default() -> None:
    """Ctrl-C reaches the run even when the tests themselves were started in the
    background of a shell, which starts its jobs with SIGINT ignored (and Python keeps
    an ignored SIGINT ignored)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def test_interrupted_run_keeps_previous_out(tmp_path):
    root = project_copy(tmp_path / "project", damage=False)
    data = copy_hopkins(tmp_path / "cohort")
    out = make_previous_out(tmp_path / "out")
    previous, listing = tree_hashes(out), _listing(tmp_path)

    proc = subprocess.Popen(
        [*CLI, "run", str(data), "--out", str(out), "--jobs", "2"],
        cwd=tmp_path,
        env={**CLI_ENV, "IVIGBOOK_ROOT": str(root)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own process group, like a terminal
        preexec_fn=_sigint_default,
    )
    lines: list[str] = []
    started = threading.Event()

    def read():
        for line in proc.stderr:
            lines.append(line)
            if line.startswith("executing"):
                started.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    assert started.wait(120), "".join(lines)
    time.sleep(4)  # the kernels are running the first cells
    assert list(tmp_path.glob(f".out.tmp-*-{proc.pid}-*"))  # the run writes next to OUT
    os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C
    proc.wait(timeout=300)  # a hang guard, not a speed check
    reader.join(timeout=30)
    err = "".join(lines)
    assert proc.returncode == 130, err[-3000:]
    assert f"ivigbook run: interrupted; {out} was left unchanged" in err
    assert "Traceback" not in err
    assert tree_hashes(out) == previous
    assert _listing(tmp_path) == listing, "a temporary folder was left next to OUT"
