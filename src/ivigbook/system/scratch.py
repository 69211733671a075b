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

import hashlib
import os
import re
import shutil
import socket
import tempfile
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path

from ivigbook.system.processes import is_alive, signals_held, start_ticks

SCRATCH_PREFIX = "ivigbook-run-"


#: staging kinds: the new output being built, the old output being replaced, an import
STAGING_KINDS = ("tmp", "old", "import")


#: written into every scratch and staging folder: only folders holding it (or an old
#: output's stamp, or an imported package's mark) are ever swept
MARKER = ".ivigbook-scratch"
SWEPT_MARKERS = (MARKER, ".ivigbook-output", ".ivigbook-import.json")


_LEFTOVER = re.compile(
    rf"^(?:{SCRATCH_PREFIX}|\.(?P<target>.+)\.(?P<kind>{'|'.join(STAGING_KINDS)})-)"
    r"(?P<host>[0-9a-f]{8})-(?P<pid>\d+)-(?P<ticks>\d+)(?P<random>-[a-z0-9_]{8})?$"
)


def _host_tag() -> str:
    """8 hex digits naming this machine, boot and pid namespace: a pid is only
    meaningful there, so another host's (or container's) leftovers are never judged."""
    parts = [socket.gethostname()]
    for source in ("/proc/sys/kernel/random/boot_id", "/proc/self/ns/pid"):
        try:
            parts.append(
                os.readlink(source) if source.endswith("ns/pid") else Path(source).read_text()
            )
        except OSError:
            parts.append("")
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:8]


def run_tag() -> str:
    """``<host>-<pid>-<start ticks>`` of this process: unique among live and dead runs."""
    pid = os.getpid()
    return f"{_host_tag()}-{pid}-{start_ticks(pid) or 0}"


def staging_path(target: Path, kind: str = "tmp") -> Path:
    """The hidden sibling of ``target`` where this run stages its ``kind`` folder."""
    assert kind in STAGING_KINDS
    return target.with_name(f".{target.name}.{kind}-{run_tag()}")


def make_marked(path: Path, mode: int = 0o755) -> Path:
    """Create the folder ``path`` with the :data:`MARKER` that lets a later run sweep it."""
    path.mkdir(mode=mode)
    return _mark(path)


def _mark(path: Path) -> Path:
    (path / MARKER).write_text(f"ivigbook scratch of run {run_tag()}\n", encoding="utf-8")
    return path


def unmark(path: Path) -> None:
    """Remove the :data:`MARKER` (before the folder becomes an output)."""
    (path / MARKER).unlink(missing_ok=True)


def scratch_root() -> Path:
    """Where scratch folders are made (``$TMPDIR`` or the system default)."""
    return Path(tempfile.gettempdir())


#: a Unix socket's path holds at most about 100 bytes; the kernels' sockets lie
#: ``nb-xxxxxxxx/kernel-N`` below their folder
_SOCKET_ROOM = 100 - len("/nb-xxxxxxxx/kernel-NN")


def socket_folder(scratch: Path):
    """A context giving the folder for the kernels' sockets: ``scratch`` itself, or, when
    its path is too long for a socket (a deep ``$TMPDIR``), a scratch folder of its own
    in ``/tmp`` (the sockets hold no data)."""
    if len(os.fsencode(scratch)) <= _SOCKET_ROOM or not os.access("/tmp", os.W_OK):
        return nullcontext(scratch)
    return run_scratch(Path("/tmp"))


def scratch_roots() -> list[Path]:
    """Every folder where scratch folders may lie (swept by each run)."""
    return list(dict.fromkeys([scratch_root(), Path("/tmp")]))


@contextmanager
def run_scratch(root: Path | None = None) -> Iterator[Path]:
    """A private folder (mode 0700) for this run's patient-level files, removed on exit;
    in ``root`` (default :func:`scratch_root`)."""
    path = Path(
        tempfile.mkdtemp(prefix=f"{SCRATCH_PREFIX}{run_tag()}-", dir=root or scratch_root())
    )
    (path / MARKER).write_text(f"ivigbook scratch of run {run_tag()}\n", encoding="utf-8")
    try:
        yield path
    finally:
        with signals_held():  # a signal now would leave patient-level files behind
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
            if not match or not _swept(entry, match):
                continue
            target = folder / match["target"] if match["target"] else None
            if match["kind"] == "old" and target is not None and not target.exists():
                try:
                    os.rename(entry, target)
                except OSError as exc:
                    emit(f"warning: could not restore {target} from {entry}: {exc}")
                    continue
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


def _swept(entry: Path, match: re.Match) -> bool:
    """Is ``entry`` a leftover of a dead run of this host, this user's, and marked?"""
    if match["host"] != _host_tag() or not entry.is_dir() or entry.is_symlink():
        return False
    if hasattr(os, "getuid") and entry.stat().st_uid != os.getuid():
        return False
    if not any((entry / name).is_file() for name in SWEPT_MARKERS):
        return False
    if bool(match["random"]) != (not match["target"]):  # scratch only has the suffix
        return False
    return not is_alive(int(match["pid"]), int(match["ticks"]))
