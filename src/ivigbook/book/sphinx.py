"""The Jupyter Book (Sphinx) build of executed notebooks, and the table-of-contents check."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from ivigbook.book.bookconfig import toc_files
from ivigbook.book.execute import _ANSI, _emitter
from ivigbook.errors import RunError
from ivigbook.system.processes import lifeline


def _jupyter_book_cmd() -> list[str]:
    exe = Path(sys.executable).with_name("jupyter-book")
    if exe.exists():
        return [str(exe)]
    found = shutil.which("jupyter-book")
    if found:
        return [found]
    return [sys.executable, "-c", "from jupyter_book.cli.main import main; main()"]


def build_book(book_dir: str | os.PathLike, progress: bool | Callable[[str], None] = True) -> Path:
    """``jupyter-book build --all -W -n --keep-going BOOK_DIR`` -> ``_build/html``.

    Any Sphinx warning fails the build: :class:`RunError` lists the warnings. Sphinx's
    cache (``_build/.doctrees``, which records the build folder's path) is removed after
    the build, so the same pages built in two places give the same files.
    """
    emit = _emitter(progress)
    book_dir = Path(book_dir).resolve()
    start = time.monotonic()
    emit("building the book (jupyter-book build --all -W -n --keep-going)")
    # no SOURCE_DATE_EPOCH here: Sphinx would rewrite the copyright year with it
    env = {**os.environ, "PYTHONHASHSEED": "0", "TZ": "UTC"}
    env.pop("SOURCE_DATE_EPOCH", None)
    proc = subprocess.run(
        lifeline(
            [*_jupyter_book_cmd(), "build", "--all", "-W", "-n", "--keep-going", str(book_dir)]
        ),
        cwd=book_dir,
        env=env,
        capture_output=True,
        text=True,
    )
    output = _ANSI.sub("", (proc.stdout or "") + "\n" + (proc.stderr or ""))
    index = book_dir / "_build" / "html" / "index.html"
    if proc.returncode != 0 or not index.is_file():
        problems = [
            ln
            for ln in output.splitlines()
            if re.search(r"\b(WARNING|ERROR|CRITICAL|Error|Exception)\b", ln)
        ]
        detail = "\n  ".join(problems[:60] or output.strip().splitlines()[-30:])
        raise RunError(
            f"the Jupyter Book build failed (exit {proc.returncode}); every Sphinx "
            f"warning is an error:\n  {detail}"
        )
    shutil.rmtree(book_dir / "_build" / ".doctrees", ignore_errors=True)
    emit(f"book built in {time.monotonic() - start:.1f} s")  # the caller says where it lands
    return index


def _check_toc(root: Path, cohorts: list[str], notebooks: list[Path]) -> None:

    listed = toc_files(root / "_toc.yml")
    missing = [
        f"book/{c}/{nb.stem}"
        for c in cohorts
        for nb in notebooks
        if f"book/{c}/{nb.stem}" not in listed
    ]
    if missing:
        raise RunError(
            "these executed notebooks are not in _toc.yml (they would be silently "
            "left out of the book): " + ", ".join(missing)
        )
