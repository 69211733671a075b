"""The run's processes: children that die with their parent, process trees killed on the
way out, and SIGTERM/SIGHUP turned into an exception so that clean-up code runs.

Workers (notebook executors) and the Sphinx build are started through :func:`lifeline`:
on Linux the child asks the kernel for SIGKILL when its parent dies
(``PR_SET_PDEATHSIG``), so a ``kill -9`` of ``ivigbook`` takes its workers with it.
Jupyter kernels watch their own parent, the worker (ipykernel's parent poller, about
once a second), so they follow. On the way out of a run that is interrupted by a signal
or an error, :func:`kill_tree` kills every live descendant (kernels start sessions of
their own, so process groups do not reach them; the ``/proc`` parent links do).
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

#: run by ``python -c`` before ``exec`` of the real command: die with the parent (whose
#: pid is argv[1]; when it is already gone, exit at once)
_LIFELINE = (
    "import ctypes, os, signal, sys\n"
    "try:\n"
    "    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)\n"
    "except (AttributeError, OSError):\n"
    "    pass\n"
    "if os.getppid() != int(sys.argv[1]):\n"
    "    sys.exit(137)\n"
    "os.execv(sys.argv[2], sys.argv[2:])\n"
)


def lifeline(cmd: list[str]) -> list[str]:
    """``cmd`` wrapped so that the process is killed when this process dies (Linux; on
    other systems the wrapper only executes ``cmd``)."""
    if not sys.platform.startswith("linux"):
        return list(cmd)
    return [sys.executable, "-c", _LIFELINE, str(os.getpid()), *cmd]


def start_ticks(pid: int) -> int | None:
    """When process ``pid`` started (clock ticks since boot), None when it does not exist.

    A pid together with its start time names one process for good: pids are reused."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (OSError, ValueError):
        if sys.platform.startswith("linux"):
            return None
        try:  # no /proc: existence only
            os.kill(pid, 0)
        except ProcessLookupError:
            return None
        except PermissionError:
            return 0
        return 0
    return int(stat.rsplit(")", 1)[1].split()[19])


def is_alive(pid: int, ticks: int) -> bool:
    """Is the process that started as (``pid``, ``ticks``) still running?"""
    now = start_ticks(pid)
    return now is not None and (now == ticks or now == 0)


def descendants(pid: int) -> list[int]:
    """Every live descendant of ``pid`` (children first), from the ``/proc`` parent links."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").glob("[0-9]*/stat") if Path("/proc").is_dir() else ():
        try:
            fields = entry.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        children.setdefault(int(fields[1]), []).append(int(entry.parent.name))
    found, todo = [], list(children.get(pid, []))
    while todo:
        child = todo.pop(0)
        found.append(child)
        todo.extend(children.get(child, []))
    return found


def kill_tree(pids: list[int], wait: float = 10.0) -> None:
    """SIGKILL ``pids`` and all their descendants; wait (at most ``wait`` s) until they
    are gone."""
    targets = []
    for pid in pids:
        targets += [pid, *descendants(pid)]
    ticks = {pid: start_ticks(pid) for pid in targets}
    for pid in targets:
        try:
            os.kill(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
    deadline = time.monotonic() + wait
    for pid, started in ticks.items():
        while started is not None and time.monotonic() < deadline:
            try:  # reap our own children; others are reaped by their parent
                if os.waitpid(pid, os.WNOHANG)[0]:
                    break
            except ChildProcessError:
                pass
            state = _state(pid)
            if start_ticks(pid) != started or state in ("Z", "X", None):
                break
            time.sleep(0.02)


def _state(pid: int) -> str | None:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return None


class Terminated(KeyboardInterrupt):
    """The run received SIGTERM or SIGHUP (``timeout``, systemd, ``docker stop``,
    SLURM, a closed terminal). A :class:`KeyboardInterrupt`, so every clean-up that
    handles Ctrl-C handles it too."""

    def __init__(self, signum: int):
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


@contextmanager
def signals_raise() -> Iterator[None]:
    """Within the block, SIGTERM and SIGHUP raise :class:`Terminated` in the main thread
    (SIGINT raises KeyboardInterrupt as always); a signal that was ignored before (SIGHUP
    under ``nohup``) stays ignored. After the first signal, further ones are ignored, so
    that the clean-up it started is not cut short. Outside the main thread this does
    nothing."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught = signal.SIGTERM, signal.SIGHUP, signal.SIGINT
    before = {s: signal.getsignal(s) for s in caught}

    def handler(signum, frame):
        for s in caught:
            signal.signal(s, signal.SIG_IGN)
        if signum == signal.SIGINT:
            raise KeyboardInterrupt
        raise Terminated(signum)

    for s in (signal.SIGTERM, signal.SIGHUP):
        if before[s] is not signal.SIG_IGN:
            signal.signal(s, handler)
    if before[signal.SIGINT] is signal.default_int_handler:
        signal.signal(signal.SIGINT, handler)
    try:
        yield
    finally:
        for s, h in before.items():
            signal.signal(s, h)


@contextmanager
def signals_held() -> Iterator[None]:
    """Within the block, SIGTERM, SIGHUP and SIGINT wait (the clean-up it does is never cut
    short); one that arrived is delivered when the block ends (POSIX; elsewhere nothing is
    held)."""
    held = {signal.SIGTERM, signal.SIGHUP, signal.SIGINT}
    if not hasattr(signal, "pthread_sigmask"):
        yield
        return
    before = signal.pthread_sigmask(signal.SIG_BLOCK, held)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, before)
