"""Fault injection: kill a real ``ivigbook run`` and check what it leaves.

A :class:`Bench` is a working folder with a small synthetic cohort whose patient ids
are sentinels (``FLTSENTINEL0001``, ...), a private ``TMPDIR`` and ``HOME`` for the
runs, and an OUT that a complete run with the default rules made (the *old* book). A
run with ``responder_mcid=4`` makes the *new* book; both are built once and hashed.

A :meth:`Bench.trial` starts the new run, waits a random time (seeded), kills the
main process, one of its notebook workers or one of its Jupyter kernels with SIGKILL
or SIGTERM, and waits for the run to end. It then checks:

* no process of the run is left (every process seen in the run's tree is gone);
* OUT is the old book or the new one, byte for byte;
* after the next complete run (default rules, so OUT is the old book again, byte for
  byte), no patient-level file is left in the temporary folder, in HOME, beside OUT or
  in OUT: no file holds a sentinel id, and no parquet file exists.

Used by ``tests/book/test_faults.py`` (one kill of each kind, in ``make test``) and by
``tests/faults/sweep.py`` (``make faults``: ten seeds of each kind).
"""

from __future__ import annotations

import hashlib
import os
import random
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
CLI = [sys.executable, "-m", "ivigbook.cli"]
SENTINEL = "FLTSENTINEL"
TARGETS = ("main", "worker", "kernel")
SIGNALS = (signal.SIGKILL, signal.SIGTERM)
KINDS = tuple((sig, target) for target in TARGETS for sig in SIGNALS)
NEW_RULES = ("--set", "responder_mcid=4")


def tree_hash(folder: Path) -> str:
    """One SHA-256 of every file's path and bytes below ``folder`` (hidden ones too)."""
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        digest.update(path.relative_to(folder).as_posix().encode() + b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def _argv(pid: int) -> list[str]:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return []
    return [a.decode(errors="replace") for a in raw.split(b"\0") if a]


def kind_of(argv: list[str]) -> str | None:
    """``worker``, ``kernel``, ``wrapper`` (a process about to become one) or None."""
    if len(argv) > 2 and argv[1] == "-c" and "prctl" in argv[2]:
        return "wrapper"
    if any("_worker_main" in a for a in argv[1:3]):
        return "worker"
    if "ipykernel_launcher" in argv[:4]:
        return "kernel"
    return None


@dataclass
class Trial:
    """What one kill did."""

    seed: int
    signal: str
    target: str
    delay: float
    killed: bool = False
    returncode: int | None = None
    seconds: float = 0.0
    out_state: str = ""  # "old", "new" or "other"
    survivors: list[str] = field(default_factory=list)
    leftovers: list[str] = field(default_factory=list)
    stderr: str = ""

    @property
    def ok(self) -> bool:
        return self.out_state in ("old", "new") and not self.survivors and not self.leftovers


class Bench:
    """The working folder of a fault-injection session (see the module notes)."""

    def __init__(self, base: Path, shape: str = "single_centre", seed: int = 0):
        from ivigbook.synth import cohort_space

        self.base = Path(base)
        self.pkg, self.out = self.base / "export", self.base / "out"
        self.tmp, self.home = self.base / "tmp", self.base / "home"
        for folder in (self.tmp, self.home):
            folder.mkdir(parents=True, exist_ok=True)
        spec, self.overrides = cohort_space.NAMED[shape]
        cohort_space.write(self.pkg, spec, seed=seed)
        self._sentinel_ids()
        self.env = {
            **os.environ,
            "TMPDIR": str(self.tmp),
            "HOME": str(self.home),
            "PYTHONIOENCODING": "utf-8",
            "NO_COLOR": "1",
        }
        self.new_hash, self.duration = self._complete_run(NEW_RULES)
        self.old_hash, _ = self._complete_run(())

    def _sentinel_ids(self) -> None:
        import csv

        ids: dict[str, str] = {}
        for path in sorted(self.pkg.glob("*.csv")):
            with open(path, encoding="utf-8", newline="") as fh:
                rows = list(csv.reader(fh))
            col = rows[0].index("patient_id")
            for row in rows[1:]:
                row[col] = ids.setdefault(row[col], f"{SENTINEL}{len(ids) + 1:04d}")
            with open(path, "w", encoding="utf-8", newline="") as fh:
                csv.writer(fh, lineterminator="\n").writerows(rows)

    def command(self, rules: tuple[str, ...], out: Path | None = None) -> list[str]:
        """``ivigbook run`` of the export into ``out`` (default: the bench's OUT)."""
        overrides = [a for k, v in self.overrides.items() for a in ("--set", f"{k}={v}")]
        target = str(out or self.out)
        return [*CLI, "run", str(self.pkg), "--out", target, "--jobs", "2", *overrides, *rules]

    def _complete_run(self, rules: tuple[str, ...]) -> tuple[str, float]:
        t0 = time.monotonic()
        proc = subprocess.run(
            self.command(rules),
            cwd=self.base,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=900,
        )
        if proc.returncode != 0:
            raise AssertionError(f"a complete run failed:\n{proc.stderr[-4000:]}")
        return tree_hash(self.out), time.monotonic() - t0

    def trial(
        self, seed: int, sig: signal.Signals, target: str, within: tuple[float, float] = (0, 1)
    ) -> Trial:
        """Kill the new run's ``target`` with ``sig`` after a seeded random delay (a share
        ``within`` of a complete run's time; for a worker or a kernel, the first one that
        runs after it); then run once more to completion and look for what is left."""
        rng = random.Random(f"{seed}:{sig.name}:{target}")
        low, high = within
        high = min(high, 1.0 if target == "main" else 0.8)
        t = Trial(seed, sig.name, target, round(rng.uniform(low, high) * self.duration, 2))
        from ivigbook.system.processes import descendants, is_alive, start_ticks

        t0 = time.monotonic()
        proc = subprocess.Popen(
            self.command(NEW_RULES),
            cwd=self.base,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        seen: dict[int, tuple[int, str]] = {proc.pid: (start_ticks(proc.pid) or 0, "main")}
        while proc.poll() is None:
            current = {}
            for pid in descendants(proc.pid):
                kind = kind_of(_argv(pid))
                ticks = start_ticks(pid)
                if ticks is not None:
                    seen.setdefault(pid, (ticks, kind or "other"))
                    current[pid] = kind
            if not t.killed and time.monotonic() - t0 >= t.delay:
                if target == "main":
                    victims = [proc.pid]
                else:
                    victims = sorted(p for p, k in current.items() if k == target)
                if victims:
                    try:
                        os.kill(rng.choice(victims), sig)
                        t.killed = True
                    except ProcessLookupError:
                        pass
            time.sleep(0.05)
        _, t.stderr = proc.communicate(timeout=600)
        t.returncode, t.seconds = proc.returncode, round(time.monotonic() - t0, 1)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            alive = [pid for pid, (ticks, _) in seen.items() if is_alive(pid, ticks)]
            if not alive:
                break
            time.sleep(0.1)
        t.survivors = [f"{pid} ({seen[pid][1]})" for pid in alive]
        state = tree_hash(self.out) if self.out.exists() else "missing"
        t.out_state = {self.old_hash: "old", self.new_hash: "new"}.get(state, "other")
        after, _ = self._complete_run(())
        if after != self.old_hash:
            t.leftovers.append("OUT after the next run is not the old book byte for byte")
        t.leftovers += self.patient_level_files()
        return t

    def patient_level_files(self) -> list[str]:
        """Files holding patient-level data anywhere a run writes, except the export."""
        needle = SENTINEL.encode()
        found = []
        for path in sorted(self.base.rglob("*")):
            if path.is_relative_to(self.pkg) or not path.is_file():
                continue
            rel = path.relative_to(self.base).as_posix()
            if path.suffix == ".parquet":
                found.append(f"{rel} (parquet)")
            elif needle in path.read_bytes():
                found.append(f"{rel} (holds a patient id)")
        stray = [
            p.name for p in self.base.iterdir() if p.name not in ("export", "out", "tmp", "home")
        ]
        stray += [p.name for p in self.tmp.iterdir()]
        stray += [str(p) for p in _dead_scratch(Path("/tmp"))]  # sockets of a deep TMPDIR
        return found + [f"{name} (left behind)" for name in stray]


def _dead_scratch(folder: Path) -> list[Path]:
    """Scratch folders of dead runs in ``folder`` (what the next sweep would remove)."""
    from ivigbook.system.scratch import _LEFTOVER, SCRATCH_PREFIX, _swept

    paths = sorted(folder.glob(f"{SCRATCH_PREFIX}*"))
    return [p for p in paths if (m := _LEFTOVER.match(p.name)) and _swept(p, m)]
