"""Helpers shared by the trust tests (bad input, privacy, escaping, atomic runs).

Every modified package is generated from the committed synthetic cohort
``data/synthetic/hopkins2015``: copied into a temporary folder, then edited as CSV
text (``read_table`` / ``write_table`` keep every cell a string, so nothing is
reformatted). Files are compared before and after a command by SHA-256.
"""

from __future__ import annotations

import csv
import hashlib
import io
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
HOPKINS = REPO / "data" / "synthetic" / "hopkins2015"
CLI = [sys.executable, "-m", "ivigbook.cli"]
#: Environment of the CLI subprocesses: no colour codes, UTF-8 output.
CLI_ENV = {**os.environ, "PYTHONIOENCODING": "utf-8", "NO_COLOR": "1"}


def copy_hopkins(dest: Path) -> Path:
    """A fresh copy of the synthetic Hopkins package (CSV files only, no README)."""
    dest.mkdir(parents=True)
    for f in sorted(HOPKINS.glob("*.csv")):
        shutil.copy2(f, dest / f.name)
    return dest


def read_table(path: Path) -> tuple[list[str], list[list[str]]]:
    """Header and rows of a CSV file, every cell a string."""
    with open(path, encoding="utf-8", newline="") as fh:
        rows = list(csv.reader(fh))
    return rows[0], rows[1:]


def write_table(path: Path, header: list[str], rows: list[list[str]]) -> None:
    """Write a CSV file with ``\\n`` line ends (header = line 1, row i = line i + 2)."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    path.write_bytes(buf.getvalue().encode("utf-8"))


def tree_hashes(folder: Path) -> dict[str, str]:
    """``relative path -> sha256`` of every file below ``folder`` (hidden files too)."""
    folder = Path(folder)
    if not folder.exists():
        return {}
    if folder.is_file():
        return {folder.name: hashlib.sha256(folder.read_bytes()).hexdigest()}
    return {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def make_previous_out(out: Path) -> Path:
    """An existing output folder as a previous ``ivigbook run`` leaves it (with the stamp)."""
    from ivigbook.book.outdir import write_stamp

    (out / "_build" / "html").mkdir(parents=True)
    (out / "results.json").write_text(
        '{"cohort": "previous", "results": {"x_n": 1}}\n', encoding="utf-8"
    )
    (out / "01_cohort.ipynb").write_text('{"cells": [], "previous": true}\n', encoding="utf-8")
    (out / "_build" / "html" / "index.html").write_text(
        "<html>previous book</html>\n", encoding="utf-8"
    )
    write_stamp(out, "ivigbook run")
    return out


def cli(
    *args: str, cwd: Path = REPO, timeout: float = 600
) -> tuple[subprocess.CompletedProcess, float]:
    """Run ``python -m ivigbook.cli ARGS``; return the process and its wall time."""
    t0 = time.monotonic()
    proc = subprocess.run(
        [*CLI, *map(str, args)],
        cwd=cwd,
        capture_output=True,
        text=True,
        encoding="utf-8",
        errors="replace",
        env=CLI_ENV,
        timeout=timeout,
    )
    return proc, time.monotonic() - t0
