"""``make faults``: the fault-injection sweep (not part of ``make test``).

For each seed (default 1-10) and each kind of kill (SIGKILL and SIGTERM, each of the
main process, a notebook worker and a Jupyter kernel), a real ``ivigbook run`` on a small
synthetic cohort is killed at a random point and checked (``tests/faults/harness.py``).
Prints one line per kill and a summary; exits 1 when any kill left a process, a
patient-level file, or an OUT that is neither the old book nor the new one.

Usage: ``python tests/faults/sweep.py [--seeds 1-10] [--base DIR]``
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import KINDS, Bench


def _seeds(text: str) -> list[int]:
    first, _, last = text.partition("-")
    return list(range(int(first), int(last or first) + 1))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="1-10", help="seeds, e.g. 1-10 or 3")
    parser.add_argument("--base", default=None, help="working folder (default: a temporary one)")
    args = parser.parse_args(argv)
    t0 = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="ivigbook-faults-") as tmp:
        bench = Bench(Path(args.base or tmp) / "bench")
        print(f"a complete run takes {bench.duration:.1f} s; old and new books built", flush=True)
        print(
            f"{'seed':>4} {'signal':<8} {'target':<7} {'delay_s':>7} {'killed':<6} "
            f"{'exit':>5} {'run_s':>6} {'OUT':<5} result",
            flush=True,
        )
        trials = []
        for seed in _seeds(args.seeds):
            for sig, target in KINDS:
                t = bench.trial(seed, sig, target)
                trials.append(t)
                problems = "; ".join(t.survivors + t.leftovers)
                if t.out_state == "other":
                    problems = "OUT is neither the old nor the new book; " + problems
                print(
                    f"{t.seed:>4} {t.signal:<8} {t.target:<7} {t.delay:>7.2f} "
                    f"{'yes' if t.killed else 'no':<6} {t.returncode:>5} {t.seconds:>6.1f} "
                    f"{t.out_state:<5} {'ok' if t.ok else 'FAIL: ' + problems}",
                    flush=True,
                )
    failed = [t for t in trials if not t.ok]
    killed = sum(t.killed for t in trials)
    print(
        f"\n{len(trials)} runs, {killed} killed ({len(trials) - killed} ended before the "
        f"kill), {len(failed)} failed checks, in {time.monotonic() - t0:.0f} s"
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
