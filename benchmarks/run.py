"""Performance benchmarks of ivigbook (``make bench``; not part of ``make test``).

For each registry size N (default 1,000, 10,000 and 100,000 patients, a synthetic
``ivigbook synth registry`` cohort) it measures, each step in a fresh Python process
so that the peak RSS is the step's own:

* ``validate``        ``ivigbook.data.validate.load_cohort``
* ``derive``          ``ivigbook.derive.context.derive_all`` (best of 5: a step of a fraction of a
                      second at 10k is otherwise at the mercy of the machine's other work)
  The derivation ratio time(100k)/time(10k) is measured once more in one process
  that derives the two cohorts alternately (best of 5 each), so that a busy spell of
  the machine cannot land on one size only; the verdict uses that ratio.
* ``compute``         ``ivigbook.chapters.compute.compute_results`` from the CSVs (validation,
                      derivation and every result of notebooks 01-06, no rendering)
* ``compute_cached``  the same when the run's parquet cache already holds the typed
                      cohort and the derived tables (what each notebook pays in a run)
* ``run``             ``ivigbook run DATA --out TMP --jobs J`` (validation, every notebook
                      with papermill, the Jupyter Book build)

and for the reference book (``make book`` executed on a temporary copy of the project,
never on the committed files): the time of each papermill notebook, of the Sphinx
build, of the whole book, and its floor, measured without the project's code: as many
bare Jupyter kernels as the book has notebooks, ``jobs`` at a time (``jupyter_client``,
each executing ``FLOOR_IMPORTS``, the third-party imports of the chapters' modules),
plus an empty Jupyter Book built with the real book's command (``_steps/floor.py``).

Times: ``wall_s`` = the measured call inside the step's process (``run``/``book``: the
whole command); ``process_wall_s`` = the process from start to exit (interpreter start
and imports included); ``cpu_s`` = CPU seconds of the process tree. ``peak_rss_mb`` =
the largest sum of the resident set sizes of the step's process and all its
descendants (psutil, polled every 50 ms; shared pages count once per process).

How each target is measured, and the rules for changing that, are fixed in
``benchmarks/README.md``; every row a verdict reads carries the tag of its procedure
(``PROCEDURES``, column ``procedure``).

Writes ``benchmarks/results/bench-<date>.csv`` and ``bench-<date>.png`` (git-ignored)
and the compact ``benchmarks/latest.csv`` (committed). The README block shows each
target's previous figure (from the last committed ``latest.csv``) beside the new one.
Usage::

    .venv/bin/python benchmarks/run.py                      # 1k, 10k, 100k + the book
    .venv/bin/python benchmarks/run.py --sizes 1000 --no-book   # quick check
"""

from __future__ import annotations

import argparse
import ast
import csv
import datetime as dt
import io
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import jupytext
import psutil

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
STEP = HERE / "_step.py"
RESULTS = HERE / "results"
LATEST = HERE / "latest.csv"
DEFAULT_SIZES = (1_000, 10_000, 100_000)
DERIVE_REPEAT = 5  #: derivation timed as the best of this many runs
#: targets of issue 8 (2-core machine)
TARGETS = {
    "run_seconds_100k": 120.0,
    "run_rss_mb_100k": 6 * 1024.0,
    "compute_seconds_100k": 30.0,
    "ratio_100k_10k": 12.0,
    "book_over_floor": 1.3,
}
#: The floor's cell: the third-party imports that the chapter notebooks pay for when they
#: import their ivigbook modules (= chapter_imports(); a test keeps the two equal, and a
#: change here is a procedure change of book_over_floor).
FLOOR_IMPORTS = (
    "from IPython.display import Markdown, display",
    "import matplotlib",
    "from matplotlib import ticker",
    "from matplotlib.backends.backend_agg import FigureCanvasAgg",
    "from matplotlib.collections import LineCollection",
    "from matplotlib.figure import Figure",
    "from matplotlib.lines import Line2D",
    "from matplotlib.patches import FancyBboxPatch, Patch",
    "from matplotlib.text import Text",
    "import numpy",
    "from numpy.lib.stride_tricks import sliding_window_view",
    "import pandas",
    "from scipy import stats",
)
#: the environment of the floor's kernels: the one the runner gives the book's kernels
#: (ivigbook.book.execute.KERNEL_ENV, copied here, not imported; a test keeps them equal)
FLOOR_KERNEL_ENV = {
    "PYTHONHASHSEED": "0",
    "MPLBACKEND": "module://matplotlib_inline.backend_inline",
    "SOURCE_DATE_EPOCH": "315532800",
    "TZ": "UTC",
    "PYDEVD_DISABLE_FILE_VALIDATION": "1",
}
#: version of the measurement procedure of each target, as fixed in benchmarks/README.md
#: (section "Procedure history"). Raise one only in a commit of its own that says why.
PROCEDURES = {
    "run_100k": 1,  # 100k ivigbook run: wall time and peak RSS
    "compute_cached_100k": 1,  # 100k compute-only analysis, cached
    "ratio_derive": 4,  # derivation 100k/10k
    "ratio_compute_cached": 1,  # compute-only (cached) 100k/10k
    "book_over_floor": 4,  # make book / floor
}
#: the rows each procedure produces (the rows the verdicts read, and their inputs)
PROCEDURE_ROWS = {
    (100_000, "run"): "run_100k",
    (100_000, "compute_cached"): "compute_cached_100k",
    ("100k/10k", "derive_pair"): "ratio_derive",
    ("100k/10k", "ratio:derive"): "ratio_derive",
    ("100k/10k", "ratio:compute_cached"): "ratio_compute_cached",
    ("reference", "book_total"): "book_over_floor",
    ("reference", "kernel_per_notebook"): "book_over_floor",
    ("reference", "floor_empty_book"): "book_over_floor",
    ("reference", "book_floor"): "book_over_floor",
    ("reference", "book_over_floor"): "book_over_floor",
}
COLUMNS = (
    "date",
    "machine",
    "patients",
    "step",
    "status",
    "wall_s",
    "process_wall_s",
    "cpu_s",
    "peak_rss_mb",
    "note",
    "procedure",
)


def procedure_tag(patients, step: str) -> str:
    """``"<target> v<N>"`` for a row a verdict reads (see PROCEDURES), else ``""``."""
    key = PROCEDURE_ROWS.get((patients, step))
    return f"{key} v{PROCEDURES[key]}" if key else ""


def chapter_imports(root: Path = ROOT) -> list[str]:
    """The third-party import statements that importing the chapter notebooks' ``ivigbook``
    modules executes: the ``import``/``from`` statements at the top level of every module
    in the import closure of the code cells of ``notebooks/*.md`` (MyST, read with
    jupytext), followed through the package's own top-level imports, its parent packages
    included, and the cells' own imports, without the standard library and the package
    itself; aliases dropped, one statement per module. Read with ``ast`` from the sources:
    nothing is imported (the floor must not pay for, nor depend on, the project's code).
    Imports inside functions are not counted."""
    src = root / "src"

    def module_file(name: str) -> Path | None:
        base = src.joinpath(*name.split("."))
        return next(
            (f for f in (base.with_suffix(".py"), base / "__init__.py") if f.is_file()), None
        )

    def top_level(tree: ast.Module):
        todo = list(tree.body)
        while todo:
            node = todo.pop(0)
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                yield node
            elif isinstance(node, ast.If):
                test = node.test
                typing_only = (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
                    isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
                )
                todo[:0] = node.orelse if typing_only else node.body + node.orelse
            elif isinstance(node, ast.Try):
                todo[:0] = (
                    node.body
                    + [n for h in node.handlers for n in h.body]
                    + node.orelse
                    + node.finalbody
                )

    def targets(node, package: str) -> list[str]:
        """Modules (of any origin) that the statement imports."""
        if isinstance(node, ast.Import):
            return [a.name for a in node.names]
        if node.level:
            parts = package.split(".")
            base = ".".join(parts[: len(parts) - node.level + 1])
            mod = f"{base}.{node.module}" if node.module else base
        else:
            mod = node.module or ""
        return [mod] + [f"{mod}.{a.name}" for a in node.names if module_file(f"{mod}.{a.name}")]

    def own(name: str) -> list[str]:  # the package's modules it executes, parents first
        parts = name.split(".")
        return [
            m for m in (".".join(parts[:i]) for i in range(1, len(parts) + 1)) if module_file(m)
        ]

    plain: set[str] = set()
    names: dict[str, set[str]] = {}
    todo: list[str] = []

    def statements(tree: ast.Module, package: str) -> None:
        for node in top_level(tree):
            if isinstance(node, ast.Import):  # each name on its own
                for a in node.names:
                    if own(a.name):
                        todo.extend(own(a.name))
                    elif a.name.split(".")[0] not in sys.stdlib_module_names:
                        plain.add(a.name)
                continue
            mods = targets(node, package)
            if own(mods[0]) or node.level:  # the package itself: follow it
                todo.extend(m for t in mods for m in own(t))
            elif mods[0].split(".")[0] not in sys.stdlib_module_names:
                names.setdefault(node.module, set()).update(a.name for a in node.names)

    for nb in sorted((root / "notebooks").glob("*.md")):
        for cell in jupytext.read(nb).cells:
            if cell["cell_type"] == "code":
                try:
                    statements(ast.parse("".join(cell["source"])), "")
                except SyntaxError:  # a cell with magics
                    continue
    seen: set[str] = set()
    while todo:
        mod = todo.pop()
        if mod in seen:
            continue
        seen.add(mod)
        path = module_file(mod)
        statements(
            ast.parse(path.read_text(encoding="utf-8")),
            mod if path.name == "__init__.py" else mod.rpartition(".")[0],
        )
    return sorted(
        [f"import {m}" for m in plain]
        + [f"from {m} import {', '.join(sorted(n))}" for m, n in names.items()],
        key=lambda s: (s.split()[1], s.startswith("from"), s),
    )


def floor_imports_drift(root: Path = ROOT) -> str:
    """ "" when FLOOR_IMPORTS still are the chapters' third-party imports, else what changed."""
    now = chapter_imports(root)
    if list(FLOOR_IMPORTS) == now:
        return ""
    added = sorted(set(now) - set(FLOOR_IMPORTS))
    gone = sorted(set(FLOOR_IMPORTS) - set(now))
    return (
        "the chapter modules' third-party imports differ from FLOOR_IMPORTS (a procedure "
        f"change is due): new {added}, gone {gone}"
    )


# --------------------------------------------------------------------------- machine
def machine() -> dict:
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        model = platform.processor()
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        cores = os.cpu_count() or 1
    return {
        "nproc": cores,
        "cpu": model or "unknown",
        "ram_gib": round(psutil.virtual_memory().total / 2**30, 1),
        "python": platform.python_version(),
        "system": f"{platform.system()} {platform.release()}",
        "load_avg_at_start": round(os.getloadavg()[0], 2),
    }


def machine_label(m: dict) -> str:
    return f"{m['nproc']} cores {m['cpu']}, {m['ram_gib']} GiB, Python {m['python']}"


# ------------------------------------------------------------------------ measuring
def _tree_rss(proc: psutil.Process) -> int:
    total = 0
    try:
        procs = [proc] + proc.children(recursive=True)
    except psutil.Error:
        return 0
    for p in procs:
        try:
            total += p.memory_info().rss
        except psutil.Error:
            pass
    return total


def _kill_tree(proc: psutil.Process) -> None:
    try:
        procs = proc.children(recursive=True) + [proc]
    except psutil.Error:
        procs = [proc]
    for p in procs:
        try:
            p.kill()
        except psutil.Error:
            pass


def measure(
    cmd: list[str], timeout: float, env: dict | None = None, cwd: str | Path | None = None
) -> dict:
    """Run ``cmd``; wall time, CPU of the tree (waited descendants), peak tree RSS."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    popen = subprocess.Popen(
        cmd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=env,
        cwd=cwd,
        start_new_session=True,
    )
    proc = psutil.Process(popen.pid)
    peak, status = 0, "ok"
    output: list[bytes] = []
    import threading

    reader = threading.Thread(target=lambda: output.append(popen.stdout.read()), daemon=True)
    reader.start()
    while popen.poll() is None:
        peak = max(peak, _tree_rss(proc))
        if time.perf_counter() - t0 > timeout:
            _kill_tree(proc)
            status = "timeout"
            break
        time.sleep(0.05)
    popen.wait()
    reader.join(5)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if status == "ok" and popen.returncode != 0:
        status = f"exit {popen.returncode}"
    text = b"".join(output).decode("utf-8", "replace")
    return {
        "status": status,
        "process_wall_s": wall,
        "cpu_s": cpu,
        "peak_rss_mb": peak / 2**20,
        "output": text,
    }


def run_step(step: str, timeout: float, **kw) -> dict:
    with tempfile.TemporaryDirectory(prefix="ivigbook-bench-") as tmp:
        result = Path(tmp) / "result.json"
        cmd = [sys.executable, str(STEP), step, "--result", str(result)]
        for k, v in kw.items():
            cmd += [f"--{k}", str(v)]
        m = measure(cmd, timeout)
        inner = json.loads(result.read_text()) if result.is_file() else {}
    if m["status"] != "ok" and m["status"] != "timeout":
        tail = "\n".join(m["output"].strip().splitlines()[-8:])
        print(f"      {step} failed:\n{tail}", file=sys.stderr)
    m.update(inner)
    m.setdefault("seconds", float("nan"))
    return m


# ------------------------------------------------------------------------- the steps
def registry_dir(work: Path, n: int, seed: int, timeout: float, rows: list, label: str) -> Path:
    """Generate (or reuse) the registry of ``n`` patients."""
    data = work / f"registry-{n}-seed{seed}"
    stamp = data / ".complete"
    if not stamp.is_file():
        shutil.rmtree(data, ignore_errors=True)
        m = run_step("synth", timeout, data=data, patients=n, seed=seed)
        rows.append(row(label, n, "synth", m))
        if m["status"] != "ok":
            raise SystemExit(f"could not generate the registry of {n} patients")
        stamp.write_text("ok\n")
    return data


def row(label: str, n: int | str, step: str, m: dict, note: str = "") -> dict:
    def num(x, digits=2):
        return "" if x is None or x != x else round(float(x), digits)

    wall = m.get("seconds", m.get("process_wall_s"))
    if m.get("status") == "timeout":  # stopped: the time so far is a lower bound
        wall = m.get("process_wall_s")
        note = note or f"stopped after {wall:.0f} s: wall_s is a lower bound"
    return {
        "date": dt.date.today().isoformat(),
        "machine": label,
        "patients": n,
        "step": step,
        "status": m.get("status", "ok"),
        "wall_s": num(wall),
        "process_wall_s": num(m.get("process_wall_s")),
        "cpu_s": num(m.get("cpu_s")),
        "peak_rss_mb": num(m.get("peak_rss_mb"), 0),
        "note": note or m.get("note", ""),
        "procedure": procedure_tag(n, step),
    }


def bench_size(
    n: int,
    work: Path,
    seed: int,
    jobs: int,
    timeout: float,
    label: str,
    rows: list,
    steps: set[str],
    budget: float = 300,
) -> None:
    print(f"== {n:,} patients", flush=True)
    data = registry_dir(work, n, seed, timeout, rows, label)
    cache = work / f"cache-{n}"
    shutil.rmtree(cache, ignore_errors=True)

    def report(step: str, m: dict) -> None:
        r = row(label, n, step, m)
        rows.append(r)
        print(
            f"   {step:<15} {r['status']:<8} {r['wall_s']:>9} s  (process {r['process_wall_s']} s, "
            f"cpu {r['cpu_s']} s)  peak RSS {r['peak_rss_mb']:>7} MB  {r['note']}",
            flush=True,
        )

    if "validate" in steps:
        report("validate", run_step("validate", timeout, data=data))
    if steps & {"derive", "compute_cached", "breakdown"}:
        prime = run_step("prime", timeout, data=data, cache=cache)
        if prime["status"] != "ok":
            print("   (could not prime the cache)", file=sys.stderr)
    if "derive" in steps:
        report("derive", run_step("derive", timeout, data=data, cache=cache, repeat=DERIVE_REPEAT))
    if "compute" in steps:
        report("compute", run_step("compute", timeout, data=data))
    if "compute_cached" in steps:
        report("compute_cached", run_step("compute_cached", timeout, data=data, cache=cache))
    if "breakdown" in steps:
        b = run_step("breakdown", timeout, data=data, cache=cache, budget=int(budget))
        report("breakdown", b | {"note": f"load_context {b.get('load_context_seconds', 0):.1f} s"})
        for c in b.get("calls", []):
            r = row(
                label,
                n,
                f"breakdown:{c['name']}",
                {"seconds": c["seconds"], "status": c["status"]},
                note=f"{c['calls']} call(s)",
            )
            rows.append(r)
            print(f"      {c['name']:<34} {c['seconds']:8.2f} s  {c['status']}")
    shutil.rmtree(cache, ignore_errors=True)
    if "run" in steps:
        out = work / f"run-{n}"
        shutil.rmtree(out, ignore_errors=True)
        exe = Path(sys.executable).with_name("ivigbook")
        cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "ivigbook.cli"]
        m = measure(
            cmd + ["run", str(data), "--out", str(out), "--jobs", str(jobs)], timeout, cwd=work
        )
        m["seconds"] = m["process_wall_s"]
        ok = m["status"] == "ok" and (out / "results.json").is_file()
        if m["status"] == "ok" and not ok:
            m["status"] = "no results.json"
        if m["status"] != "ok":
            print("\n".join(m["output"].strip().splitlines()[-12:]), file=sys.stderr)
        report("run", m | {"note": f"--jobs {jobs}"})
        shutil.rmtree(out, ignore_errors=True)


def bench_book(
    work: Path, jobs: int, timeout: float, label: str, rows: list, repeat: int = 2
) -> None:
    """``make book`` on a copy of the project, and its floor measured without the project's
    code (bare kernels + an empty Jupyter Book, ``_steps/floor.py``); each measured
    ``repeat`` times, alternating (book, floor, book, floor), and the fastest of each kept
    (so that a busy spell of the machine does not land on one side of the ratio only)."""
    print("== reference book (make book on a temporary copy)", flush=True)
    drift = floor_imports_drift()
    if drift:
        print(f"   WARNING: {drift}", file=sys.stderr)
    copy = work / "project-copy"
    shutil.rmtree(copy, ignore_errors=True)
    shutil.copytree(
        ROOT,
        copy,
        ignore=shutil.ignore_patterns(
            ".git",
            ".venv",
            "_build",
            "out",
            "tmp",
            "results",
            "__pycache__",
            ".pytest_cache",
            "*.egg-info",
        ),
    )
    books, floors = [], []
    n_nb = 0
    for i in range(max(1, repeat)):
        m = run_step("book", timeout, data=copy, jobs=jobs)
        books.append(m)
        print(f"   make book run {i + 1}: {m['seconds']:.1f} s [{m['status']}]", flush=True)
        n_nb = len(m.get("notebooks", [])) or n_nb
        if not n_nb:
            break
        f = run_step(
            "floor",
            timeout,
            out=work / "floor",
            repeat=n_nb,
            jobs=jobs,
            code="\n".join(FLOOR_IMPORTS),
            env=json.dumps(FLOOR_KERNEL_ENV),
        )
        shutil.rmtree(work / "floor", ignore_errors=True)
        floors.append(f)
        print(
            f"   floor run {i + 1}: {f['seconds']:.1f} s = {n_nb} bare kernels "
            f"{f.get('kernels_seconds', float('nan')):.1f} s "
            f"({f.get('per_notebook', float('nan')):.2f} s per notebook) + empty book "
            f"{f.get('empty_book_seconds', float('nan')):.1f} s [{f['status']}]",
            flush=True,
        )
    shutil.rmtree(copy, ignore_errors=True)
    ok_books = [b for b in books if b["status"] == "ok"] or books
    m = min(ok_books, key=lambda b: b["seconds"])
    for nb in m.get("notebooks", []):
        rows.append(
            row(label, nb["cohort"], f"book_notebook:{nb['notebook']}", {"seconds": nb["seconds"]})
        )
        print(f"   {nb['cohort']:<18} {nb['notebook']:<28} {nb['seconds']:6.1f} s")
    sphinx = m.get("sphinx_seconds")
    rows.append(row(label, "reference", "book_sphinx", {"seconds": sphinx}))
    rows.append(
        row(
            label,
            "reference",
            "book_total",
            m,
            note=f"--jobs {jobs}; fastest of {len(books)}: "
            + ", ".join(f"{b['seconds']:.1f}" for b in books)
            + " s",
        )
    )
    print(
        f"   Sphinx build {sphinx} s; make book total {m['seconds']:.1f} s "
        f"(process {m['process_wall_s']:.1f} s, peak RSS {m['peak_rss_mb']:.0f} MB) [{m['status']}]"
    )
    if not n_nb or not floors:
        print("   (the book did not run: no floor)", file=sys.stderr)
        rows.append(
            row(
                label,
                "reference",
                "book_over_floor",  # a MISS, not "not measured"
                {"seconds": None, "status": f"book {m['status']}, no floor"},
            )
        )
        return
    ok_floors = [f for f in floors if f["status"] == "ok"]
    f = min(ok_floors or floors, key=lambda f: f["seconds"])
    fastest = (
        f"fastest of {len(floors)}: " + ", ".join(f"{x['seconds']:.1f}" for x in floors) + " s"
    )
    rows.append(
        row(
            label,
            "reference",
            "kernel_per_notebook",
            {**f, "seconds": f.get("per_notebook")},
            note=f"{n_nb} bare kernels (jupyter_client, the chapters' third-party "
            f"imports, no ivigbook), {jobs} at a time: "
            f"{f.get('kernels_seconds', float('nan')):.1f} s wall x {jobs} / {n_nb}",
        )
    )
    rows.append(
        row(
            label,
            "reference",
            "floor_empty_book",
            {"seconds": f.get("empty_book_seconds"), "status": f["status"]},
            note="empty Jupyter Book (one page), jupyter-book build --all -W -n --keep-going",
        )
    )
    if not ok_floors:
        rows.append(
            row(
                label,
                "reference",
                "book_over_floor",
                {"seconds": None, "status": f"floor {f['status']}"},
            )
        )
        return
    floor = f["seconds"]
    rows.append(
        row(
            label,
            "reference",
            "book_floor",
            {"seconds": floor},
            note=f"{n_nb} bare kernels, {jobs} at a time, "
            f"{f['kernels_seconds']:.1f} s + empty book {f['empty_book_seconds']:.1f} s; "
            f"{fastest}" + (f"; {drift}" if drift else ""),
        )
    )
    rows.append(
        row(
            label,
            "reference",
            "book_over_floor",
            {"seconds": m["seconds"] / floor, "status": m["status"]},
            note=f"make book / floor (target <= {TARGETS['book_over_floor']})",
        )
    )
    print(
        f"   bare kernel + imports per notebook {f['per_notebook']:.2f} s; floor {floor:.1f} s; "
        f"make book / floor = {m['seconds'] / floor:.2f}"
    )


def bench_derive_pair(work: Path, seed: int, timeout: float, label: str, rows: list) -> None:
    """time(100k)/time(10k) of the derivation, both derived alternately in one process."""
    small, large = (work / f"registry-{n}-seed{seed}" for n in (10_000, 100_000))
    if not ((small / ".complete").is_file() and (large / ".complete").is_file()):
        return
    print("== derivation, 10,000 and 100,000 patients alternately", flush=True)
    m = run_step("derive_pair", timeout, data=small, data2=large, repeat=DERIVE_REPEAT)
    note = (
        f"one process, alternately, best of {DERIVE_REPEAT} each: "
        f"10k {m.get('small_seconds', 0):.2f} s, "
        f"100k {m.get('large_seconds', 0):.2f} s"
    )
    rows.append(row(label, "100k/10k", "derive_pair", m, note=note))
    print(f"   ratio {m['seconds']:.2f} ({note}) [{m['status']}]", flush=True)


# ---------------------------------------------------------------------------- output
RATIO_NOTE = "time(100k)/time(10k) (target <= 12 for derive, compute)"


def ratios(rows: list, label: str) -> list[dict]:
    """time(100k)/time(10k) per step, from the per-size rows. The derivation's verdict
    row ``ratio:derive`` comes only from the alternating measurement (``derive_pair``):
    a failed pair gives a ``ratio:derive`` without a figure (a MISS), never the per-size
    ratio, which is always ``ratio:derive_separate`` (separate processes, minutes apart)."""
    out = []
    by = {(r["patients"], r["step"]): r for r in rows}
    pair = by.get(("100k/10k", "derive_pair"))
    for step in ("validate", "derive", "compute", "compute_cached", "run"):
        a, b = by.get((100_000, step)), by.get((10_000, step))
        name = "derive_separate" if step == "derive" else step
        if step == "derive" and pair:
            ok = pair["status"] == "ok" and pair["wall_s"] != ""
            out.append(
                row(
                    label,
                    "100k/10k",
                    "ratio:derive",
                    {
                        "seconds": float(pair["wall_s"]) if ok else None,
                        "status": "ok" if ok else f"derive_pair {pair['status']}",
                    },
                    note=f"{RATIO_NOTE}; {pair['note']}",
                )
                | {"date": pair["date"]}
            )
        if a and b and a["status"] == "ok" and b["status"] == "ok" and b["wall_s"]:
            out.append(
                row(
                    label,
                    "100k/10k",
                    f"ratio:{name}",
                    {"seconds": a["wall_s"] / b["wall_s"]},
                    note=RATIO_NOTE + ("; separate processes" if name != step else ""),
                )
                | {"date": max(a["date"], b["date"])}
            )  # when its inputs were measured
    return out


def parse_csv(text: str) -> list[dict]:
    rows = list(csv.DictReader(io.StringIO(text)))
    for r in rows:
        r.setdefault("procedure", "")  # files written before the column existed
        r["procedure"] = r["procedure"] or ""
        if r["patients"].isdigit():
            r["patients"] = int(r["patients"])
        for k in ("wall_s", "process_wall_s", "cpu_s", "peak_rss_mb"):
            if r[k] != "":
                r[k] = float(r[k])
    return rows


def read_csv(path: Path) -> list[dict]:
    return parse_csv(path.read_text(encoding="utf-8"))


def committed_latest(root: Path = ROOT) -> tuple[list[dict], str]:
    """The rows of ``benchmarks/latest.csv`` as last committed (``git show HEAD:...``) and
    where they come from; the file on disk when there is no git, none when neither."""
    rel = LATEST.relative_to(ROOT).as_posix()
    try:
        proc = subprocess.run(
            ["git", "-C", str(root), "show", f"HEAD:{rel}"],
            capture_output=True,
            text=True,
            check=True,
        )
        commit = subprocess.run(
            ["git", "-C", str(root), "log", "-1", "--format=%h", "HEAD", "--", rel],
            capture_output=True,
            text=True,
        ).stdout.strip()
        return parse_csv(proc.stdout), f"`{rel}` as committed in {commit or 'HEAD'}"
    except (OSError, subprocess.CalledProcessError):
        pass
    path = root / rel
    if path.is_file():
        return read_csv(path), f"`{rel}` before this run"
    return [], ""


def merge_rows(old: list[dict], new: list[dict], label: str) -> list[dict]:
    """``old`` with every (patients, step) measured in ``new`` replaced; ratios redone."""
    fresh = {(r["patients"], r["step"]): r for r in new if not r["step"].startswith("ratio:")}
    out = [
        fresh.pop((r["patients"], r["step"]), r) for r in old if not r["step"].startswith("ratio:")
    ]
    out += list(fresh.values())
    return out + ratios(out, label)


def _value(rows: list, patients, step: str):
    for r in rows:
        if r["patients"] == patients and r["step"] == step and r["wall_s"] != "":
            return r
    return None


def _row(rows: list, patients, step: str):
    """The row of (patients, step) with a figure, else one without (a failed step)."""
    return _value(rows, patients, step) or next(
        (r for r in rows if r["patients"] == patients and r["step"] == step), None
    )


def _targets(rows: list) -> list[tuple[str, dict | None, str, float, object]]:
    def sec(v):
        return f"{v:.1f} s"

    def mb(v):
        return f"{v / 1024:.2f} GiB"

    def x(v):
        return f"{v:.2f}"

    run = _row(rows, 100_000, "run")
    return [
        ("100k: full ivigbook run, wall time", run, "wall_s", TARGETS["run_seconds_100k"], sec),
        ("100k: full ivigbook run, peak RSS", run, "peak_rss_mb", TARGETS["run_rss_mb_100k"], mb),
        (
            "100k: compute-only analysis (cached cohort and derived tables)",
            _row(rows, 100_000, "compute_cached"),
            "wall_s",
            TARGETS["compute_seconds_100k"],
            sec,
        ),
        (
            "time(100k)/time(10k), derivation",
            _row(rows, "100k/10k", "ratio:derive"),
            "wall_s",
            TARGETS["ratio_100k_10k"],
            x,
        ),
        (
            "time(100k)/time(10k), compute-only (cached)",
            _row(rows, "100k/10k", "ratio:compute_cached"),
            "wall_s",
            TARGETS["ratio_100k_10k"],
            x,
        ),
        (
            "reference book: make book / floor",
            _row(rows, "reference", "book_over_floor"),
            "wall_s",
            TARGETS["book_over_floor"],
            x,
        ),
    ]


def verdict(rows: list) -> list[tuple[str, str, str, str]]:
    """(target, limit, measured, PASS/MISS/not measured) for every target of issue 8.

    PASS only for a figure measured to the end (status ok) within the limit; a figure
    over the limit, a stopped step (its figure a lower bound) and a failed measurement
    (no figure) are MISS; "not measured" only when the run did not include the step."""

    def check(name, r, key, limit, fmt):
        if r is None:
            return (name, fmt(limit), "", "not measured")
        if r[key] == "" or r[key] is None:
            return (name, fmt(limit), f"no figure ({r['status']})", "MISS")
        v = float(r[key])
        ok = r["status"] == "ok" and v <= limit
        shown = fmt(v) + ("" if r["status"] == "ok" else f" ({r['status']}: lower bound)")
        return (name, fmt(limit), shown, "PASS" if ok else "MISS")

    return [check(*t) for t in _targets(rows)]


def previous_figures(rows: list, previous: list) -> list[str]:
    """For each target of :func:`verdict`, its figure in ``previous`` (the last committed
    latest.csv) with the procedure and the date it was measured with, or ``""``."""
    out = []
    for (_name, _r, key, _limit, fmt), (_, old, _k, _l, _f) in zip(
        _targets(rows), _targets(previous)
    ):
        if old is None or old[key] in ("", None):
            out.append("")
            continue
        status = "" if old["status"] == "ok" else f", {old['status']}"
        out.append(
            f"{fmt(float(old[key]))} ({old.get('procedure') or 'untagged'}, {old['date']}{status})"
        )
    return out


README_START = "<!-- benchmarks:start (written by benchmarks/run.py from latest.csv) -->"
README_END = "<!-- benchmarks:end -->"


def _dates(rows: list) -> list[str]:
    return sorted({r["date"] for r in rows if r.get("date") and r["step"] != "machine"})


def readme_block(rows: list, previous: list | None = None, previous_source: str = "") -> str:
    """The README's figures: machine, per-size steps, the book, and the targets with the
    previous figure of each (``previous``: the rows of the last committed latest.csv)."""
    machine_row = next((r for r in rows if r["step"] == "machine"), None)
    dates = _dates(rows) or [machine_row["date"] if machine_row else ""]
    when = (
        dates[0]
        if len(dates) == 1
        else f"on {', '.join(dates)} (a partial run merged into the earlier figures with "
        "`--merge-latest`; each row's date is in `benchmarks/latest.csv`)"
    )
    lines = [
        README_START,
        "",
        f"Measured {when} by `make bench` on "
        f"{machine_row['machine'] if machine_row else '?'} (figures in "
        "`benchmarks/latest.csv`, plot `benchmarks/latest.png`; how each target is "
        "measured: [benchmarks/README.md](benchmarks/README.md)).",
        "",
        "| Patients | Step | Wall time (s) | Peak RSS (MB) | Note |",
        "|---:|---|---:|---:|---|",
    ]
    for r in rows:
        if isinstance(r["patients"], int) and r["step"] in (
            "validate",
            "derive",
            "compute",
            "compute_cached",
            "run",
        ):
            rss = "" if r["peak_rss_mb"] == "" else f"{float(r['peak_rss_mb']):.0f}"
            wall = "" if r["wall_s"] == "" else f"{float(r['wall_s']):.1f}"
            status = "" if r["status"] == "ok" else f" ({r['status']})"
            lines.append(
                f"| {r['patients']:,} | {r['step']}{status} | {wall} | {rss} | {r['note']} |"
            )
    book = {r["step"]: r for r in rows if r["patients"] == "reference" and r["wall_s"] != ""}
    if "book_total" in book and "book_floor" in book and "book_over_floor" in book:
        n_nb = sum(1 for r in rows if r["step"].startswith("book_notebook:"))
        lines += [
            "",
            f"Reference book (`make book`, both cohorts, {n_nb} notebooks + Sphinx): "
            f"{float(book['book_total']['wall_s']):.1f} s; floor "
            f"{float(book['book_floor']['wall_s']):.1f} s "
            f"({book['book_floor']['note']}); ratio "
            f"{float(book['book_over_floor']['wall_s']):.2f} "
            f"({book['book_over_floor'].get('procedure') or 'untagged'}).",
        ]
        old = _value(previous or [], "reference", "book_floor")
        if old is not None:
            lines[-1] += (
                f" Previous floor {float(old['wall_s']):.1f} s "
                f"({old.get('procedure') or 'untagged'}, {old['date']}: {old['note']})."
            )
    pair = _value(rows, "100k/10k", "derive_pair")
    if pair is not None and pair["status"] == "ok":  # what ratios() then uses
        lines += [
            "",
            f"The derivation ratio comes from {pair['note']} (the per-size rows "
            "above are separate processes, minutes apart).",
        ]
    results = verdict(rows)
    before = previous_figures(rows, previous or [])
    lines += [
        "",
        "| Target (issue 8) | Limit | Previous | Measured | Procedure, date | |",
        "|---|---:|---:|---:|---|---|",
    ]
    for (name, limit, measured, status), old, (_n, r, *_rest) in zip(
        results, before, _targets(rows)
    ):
        tag = f"{r.get('procedure') or 'untagged'}, {r['date']}" if r is not None else ""
        lines.append(f"| {name} | {limit} | {old} | {measured} | {tag} | {status} |")
    misses = [name for name, _l, _m, status in results if status == "MISS"]
    lines += [
        "",
        f"{sum(s == 'PASS' for *_x, s in results)} of {len(results)} targets PASS"
        + (f"; MISS: {'; '.join(misses)}" if misses else "")
        + ". *Previous* is the "
        f"figure in {previous_source or 'the last committed `benchmarks/latest.csv`'}"
        " (procedure and date in brackets); a procedure of a different version "
        "measured a different thing (see the procedure history in "
        "[benchmarks/README.md](benchmarks/README.md)).",
    ]
    lines += [
        "",
        "*Compute-only* is the analysis itself (every result of notebooks 01-06 from the "
        "validated cohort and its derived tables, read from the run's parquet cache as "
        "each notebook reads them); validation and derivation are the separate rows "
        "above.",
    ]
    csv_row = _value(rows, 100_000, "compute")
    if csv_row is not None:
        lines[-1] += (
            f" From the CSVs, validation + derivation + analysis of 100,000 patients "
            f"take {float(csv_row['wall_s']):.1f} s in one process, most of it "
            f"validation."
        )
    return "\n".join(lines + ["", README_END])


def update_readme(
    path: Path, rows: list, previous: list | None = None, previous_source: str = ""
) -> bool:
    """Replace the benchmark block of the README (between the markers) by ``rows``."""
    text = path.read_text(encoding="utf-8")
    if README_START not in text or README_END not in text:
        return False
    head, rest = text.split(README_START, 1)
    tail = rest.split(README_END, 1)[1]
    path.write_text(head + readme_block(rows, previous, previous_source) + tail, encoding="utf-8")
    return True


def write_csv(path: Path, rows: list) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=COLUMNS, lineterminator="\n")
        w.writeheader()
        w.writerows(rows)


def plot(path: Path, rows: list, label: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    steps = ("validate", "derive", "compute", "compute_cached", "run")
    if not any(r["step"] in steps and isinstance(r["patients"], int) for r in rows):
        return
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 4), dpi=110)
    for step in steps:
        pts = sorted(
            (r["patients"], r["wall_s"], r["peak_rss_mb"], r["status"])
            for r in rows
            if r["step"] == step and isinstance(r["patients"], int) and r["wall_s"] != ""
        )
        if not pts:
            continue
        xs = [p[0] for p in pts]
        (line,) = ax1.plot(xs, [p[1] for p in pts], marker="o", label=step)
        for x, y, _m, st in pts:
            if st != "ok":
                ax1.annotate(f"{st} (>= {y:.0f} s)", (x, y), fontsize=7, color=line.get_color())
        ax2.plot(xs, [p[2] for p in pts], marker="o", label=step)
    ax1.axhline(TARGETS["run_seconds_100k"], ls=":", color="grey")
    ax1.text(1e3, TARGETS["run_seconds_100k"] * 1.1, "run target 120 s", fontsize=7, color="grey")
    ax2.axhline(TARGETS["run_rss_mb_100k"], ls=":", color="grey")
    ax2.text(1e3, TARGETS["run_rss_mb_100k"] * 1.05, "6 GiB", fontsize=7, color="grey")
    for ax, what in ((ax1, "wall time (s)"), (ax2, "peak RSS of the process tree (MB)")):
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("patients")
        ax.set_ylabel(what)
        ax.grid(True, which="both", alpha=0.3)
    ax1.legend(fontsize=8)
    fig.suptitle(f"ivigbook benchmarks, {dt.date.today().isoformat()} ({label})", fontsize=9)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument(
        "--sizes",
        default=",".join(map(str, DEFAULT_SIZES)),
        help="comma-separated registry sizes (default %(default)s)",
    )
    p.add_argument(
        "--steps",
        default="validate,derive,compute,compute_cached,run",
        help="steps per size (default %(default)s; also: breakdown = the cached "
        "analysis function by function)",
    )
    p.add_argument(
        "--budget",
        type=float,
        default=300.0,
        help="breakdown: seconds before one chapter function is stopped",
    )
    p.add_argument("--seed", type=int, default=8, help="registry seed (default %(default)s)")
    p.add_argument("--jobs", type=int, default=None, help="notebooks in parallel (default: cores)")
    p.add_argument(
        "--timeout",
        type=float,
        default=900.0,
        help="seconds before a step is stopped and reported as 'timeout' (default %(default)s)",
    )
    p.add_argument("--no-book", action="store_true", help="skip the reference book")
    p.add_argument(
        "--workdir",
        default=None,
        help="where registries and outputs go (default: a temporary folder)",
    )
    p.add_argument("--keep", action="store_true", help="keep the work folder")
    p.add_argument(
        "--latest",
        action="store_true",
        help="write benchmarks/latest.csv even for a partial run (by default only a "
        "run of every default size and the book writes it)",
    )
    p.add_argument(
        "--merge-latest",
        action="store_true",
        help="replace in benchmarks/latest.csv only the rows measured by this run "
        "(e.g. after optimising one step) and recompute the ratios",
    )
    a = p.parse_args(argv)
    sizes = [int(s.replace("_", "")) for s in a.sizes.split(",") if s.strip()]
    steps = {s.strip() for s in a.steps.split(",") if s.strip()}
    m = machine()
    jobs = a.jobs or m["nproc"]
    label = machine_label(m)
    print(f"machine: {label}; load average {m['load_avg_at_start']} at start", flush=True)
    work = Path(a.workdir) if a.workdir else Path(tempfile.mkdtemp(prefix="ivigbook-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    rows: list[dict] = [
        row(label, "", "machine", {"seconds": None}, note=json.dumps(m, sort_keys=True))
    ]
    stamp = dt.datetime.now().strftime("%Y-%m-%d")
    try:
        for n in sizes:
            bench_size(n, work, a.seed, jobs, a.timeout, label, rows, steps, a.budget)
        if "derive" in steps and {10_000, 100_000} <= set(sizes):
            bench_derive_pair(work, a.seed, a.timeout, label, rows)
        if not a.no_book:
            bench_book(work, jobs, a.timeout, label, rows)
    finally:
        rows += ratios(rows, label)
        out_csv = RESULTS / f"bench-{stamp}.csv"
        k = 2
        while out_csv.exists():  # another run today: keep it
            out_csv = RESULTS / f"bench-{stamp}-{k}.csv"
            k += 1
        write_csv(out_csv, rows)
        plot(out_csv.with_suffix(".png"), rows, label)
        summary = [r for r in rows if r["step"] not in ("synth",)]
        write_latest = (
            a.latest or a.merge_latest or (set(DEFAULT_SIZES) <= set(sizes) and not a.no_book)
        )
        if a.merge_latest and LATEST.is_file():
            summary = merge_rows(read_csv(LATEST), summary, label)
        if write_latest:
            previous, source = committed_latest()  # read before latest.csv is rewritten
            write_csv(LATEST, summary)
            plot(LATEST.with_suffix(".png"), summary, label)
            if update_readme(ROOT / "README.md", summary, previous, source):
                print("updated the benchmark figures in README.md")
        if not (a.keep or a.workdir):
            shutil.rmtree(work, ignore_errors=True)
        print(
            f"wrote {out_csv}, {out_csv.with_suffix('.png')}"
            + (f" and {LATEST}" if write_latest else "")
        )
    for r in rows:
        if r["step"].startswith("ratio:"):
            print(f"   {r['step']:<22} {r['wall_s']}")
    print("targets (issue 8), this run:")
    results = verdict(rows)
    for name, limit, measured, status in results:
        print(f"   {status:<12} {name}: {measured or '-'} (limit {limit})")
    misses = [name for name, _l, _m, status in results if status == "MISS"]
    print(f"   {len(misses)} MISS" + (": " + "; ".join(misses) if misses else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
