"""A real ``ivigbook run`` killed once in each way (issue 16): SIGKILL and SIGTERM, each of
the main process, a notebook worker and a Jupyter kernel.

After each kill no process of the run is left, OUT is the old book or the new one byte
for byte, and after the next run no patient-level file is left anywhere the run wrote
(``tests/faults/harness.py``). ``make faults`` runs the same checks with ten seeds.
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "faults"))

from harness import KINDS, Bench

pytestmark = pytest.mark.slow

SEED = 0


@pytest.fixture(scope="module")
def bench(tmp_path_factory):
    return Bench(tmp_path_factory.mktemp("faults"))


def test_two_complete_runs_differ_only_by_their_rule(bench):
    assert bench.old_hash != bench.new_hash  # else "old or new" could not tell them apart
    assert not bench.patient_level_files()


@pytest.mark.parametrize(("sig", "target"), KINDS, ids=[f"{s.name}-{t}" for s, t in KINDS])
def test_a_killed_run_leaves_no_process_no_patient_file_and_an_intact_out(bench, sig, target):
    t = bench.trial(SEED, sig, target, within=(0.1, 0.6))
    detail = f"{t}\n{t.stderr[-3000:]}"
    assert t.killed, detail  # the seed's delay falls inside the run
    assert not t.survivors, detail
    assert t.out_state in ("old", "new"), detail
    assert not t.leftovers, detail
    if t.out_state == "new":  # the kill came after the new book was in place
        return
    if target == "main" and sig == signal.SIGTERM:
        assert t.returncode == 128 + signal.SIGTERM, detail
        assert "stopped by SIGTERM; its scratch files were removed" in t.stderr, detail
    elif target == "main":
        assert t.returncode == -signal.SIGKILL, detail
    else:
        assert t.returncode == 1 and "was left unchanged" in t.stderr, detail
    assert "Traceback (most recent call last)" not in t.stderr.split("traceback (last lines)")[0]


def test_the_same_input_gives_the_same_out_byte_for_byte_wherever_out_lies(bench):
    from harness import tree_hash

    elsewhere = bench.base / "deeper" / "folder" / "book"
    proc = subprocess.run(
        bench.command((), elsewhere),
        cwd=bench.base,
        env=bench.env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert tree_hash(elsewhere) == bench.old_hash
    assert not (elsewhere / "_build" / ".doctrees").exists()
    shutil.rmtree(bench.base / "deeper")
