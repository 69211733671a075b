"""Scratch and staging folders of a run, and the sweep of those that dead runs left.

A run keeps its patient-level files (the cached cohort and derived tables, the term
map, the workers' socket folders) in one private scratch folder (mode 0700) in the
system's temporary folder, removed when the run ends, however it ends short of
SIGKILL. The book is staged beside OUT and holds aggregates only. Both names carry the
process id and its start time (``ivigbook-run-<pid>-<ticks>-...``,
``.<OUT>.tmp-<pid>-<ticks>``), so that a later run can tell the leftovers of a dead run
from those of a live one: :func:`sweep` removes the first and names what it removed.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from ivigbook.system.processes import is_alive, start_ticks

SCRATCH_PREFIX = "ivigbook-run-"


#: staging kinds: the new output being built, the old output being replaced, an import
STAGING_KINDS = ("tmp", "old", "import")


_LEFTOVER = re.compile(
    rf"^(?:{SCRATCH_PREFIX}|\.(?P<target>.+)\.(?P<kind>{'|'.join(STAGING_KINDS)})-)"
    r"(?P<pid>\d+)-(?P<ticks>\d+)(?:-.*)?$"
)


def run_tag() -> str:
    """``<pid>-<start ticks>`` of this process: unique among live and dead runs."""
    pid = os.getpid()
    return f"{pid}-{start_ticks(pid) or 0}"


def staging_path(target: Path, kind: str = "tmp") -> Path:
    """The hidden sibling of ``target`` where this run stages its ``kind`` folder."""
    assert kind in STAGING_KINDS
    return target.with_name(f".{target.name}.{kind}-{run_tag()}")


def scratch_root() -> Path:
    """Where scratch folders are made (``$TMPDIR`` or the system default)."""
    return Path(tempfile.gettempdir())


@contextmanager
def run_scratch() -> Iterator[Path]:
    """A private folder (mode 0700) for this run's patient-level files, removed on exit."""
    path = Path(tempfile.mkdtemp(prefix=f"{SCRATCH_PREFIX}{run_tag()}-", dir=scratch_root()))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def sweep(folders: Iterable[Path], emit: Callable[[str], None] = lambda line: None) -> list[Path]:
    """Remove the scratch and staging folders that dead runs left in ``folders``; an old
    output that a dead run had moved aside, with nothing in its place, is put back.
    Returns what was removed or restored; each is also reported through ``emit``."""
    handled = []
    for folder in dict.fromkeys(Path(f) for f in folders):
        try:
            entries = sorted(folder.iterdir())
        except OSError:
            continue
        for entry in entries:
            match = _LEFTOVER.match(entry.name)
            if not match or not entry.is_dir() or entry.is_symlink():
                continue
            if is_alive(int(match["pid"]), int(match["ticks"])):
                continue
            target = folder / match["target"] if match["target"] else None
            if match["kind"] == "old" and target is not None and not target.exists():
                os.rename(entry, target)
                emit(
                    f"note: restored {target}: an interrupted run (pid {match['pid']}) "
                    f"had moved it aside"
                )
                handled.append(entry)
                continue
            shutil.rmtree(entry, ignore_errors=True)
            if not entry.exists():
                what = "scratch" if not match["target"] else f"staging ({match['kind']})"
                emit(
                    f"note: removed the {what} folder {entry} left by an interrupted "
                    f"run (pid {match['pid']})"
                )
                handled.append(entry)
    return handled
