"""One measured step of the benchmarks, run in a fresh Python process by ``run.py``.

``python benchmarks/_step.py STEP --data DIR --cache DIR --out DIR --result FILE``

The parent measures the wall time and the peak RSS of the whole process tree; this
script reports, as JSON in ``--result``, the time of the measured call itself
(``seconds``, ``cpu_seconds``, excluding interpreter start and imports) and the
process's own peak RSS. Steps:

``synth``           ``ivigbook.synth.registry.write`` (the registry package)
``validate``        ``ivigbook.validate.load_cohort``
``prime``           typed cohort + derived tables into the cache (not reported)
``derive``          ``ivigbook.context.derive_all`` (cohort read from the cache first;
                    best of ``--repeat``)
``derive_pair``     ``derive_all`` of two cohorts (``--data`` and ``--data2``, e.g. 10k
                    and 100k) alternately, best of ``--repeat`` each: their time ratio with
                    both sides exposed to the same spells of the machine's other work
``compute``         ``ivigbook.analysis.compute_results`` from the CSVs (validation,
                    derivation and every chapter's results), no cache
``compute_cached``  the same with the cache primed (what each notebook of a run pays)
``book``            ``ivigbook.runner.build_reference_book`` on a copy of the project
                    (``make book`` without touching committed files); per-notebook and
                    Sphinx times from its progress lines
``breakdown``       ``compute_cached`` function by function (each stopped after
                    ``--budget`` seconds): where the analysis time goes
``kernel``          the fixed cost of the notebooks: ``--repeat`` notebooks that only
                    import the chapter modules, executed by the runner ``--jobs`` at a
                    time (worker process, papermill, kernel start, imports, scrubbing)
"""
from __future__ import annotations

import argparse
import json
import os
import re
import resource
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
COMPARATORS = ROOT / "data" / "reference" / "historical_controls.csv"
PARAMS = "{}"


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux: KiB


def _timed(fn):
    t0, c0 = time.perf_counter(), time.process_time()
    value = fn()
    return value, time.perf_counter() - t0, time.process_time() - c0


def step_synth(a) -> dict:
    from ivigbook.synth import registry

    _, sec, cpu = _timed(lambda: registry.write(a.data, a.seed, a.patients))
    return {"seconds": sec, "cpu_seconds": cpu}


def step_validate(a) -> dict:
    from ivigbook.data.validate import load_cohort

    cohort, sec, cpu = _timed(lambda: load_cohort(a.data))
    return {"seconds": sec, "cpu_seconds": cpu,
            "note": f"{len(cohort.patients)} patients, {len(cohort.measurements)} measurements"}


def step_prime(a) -> dict:
    from ivigbook.derive.context import load_context

    _, sec, cpu = _timed(lambda: load_context(a.data, PARAMS, a.cache))
    return {"seconds": sec, "cpu_seconds": cpu}


def step_derive(a) -> dict:
    from ivigbook.derive.context import cached_cohort, derive_all
    from ivigbook.data.params import AnalysisParams

    cohort = cached_cohort(a.data, a.cache)
    params = AnalysisParams.from_mapping(json.loads(PARAMS))
    # best of --repeat: a step of a fraction of a second at 10k is otherwise at the mercy
    # of the machine's other work, and the 100k/10k ratio with it
    runs = [_timed(lambda: derive_all(cohort, params)) for _ in range(max(1, a.repeat))]
    derived, sec, cpu = min(runs, key=lambda r: r[1])
    return {"seconds": sec, "cpu_seconds": cpu,
            "note": f"{len(derived['bds'])} BDS rows; best of {len(runs)}"}


def step_derive_pair(a) -> dict:
    from ivigbook.derive.context import derive_all
    from ivigbook.data.params import AnalysisParams
    from ivigbook.data.validate import load_cohort

    params = AnalysisParams.from_mapping(json.loads(PARAMS))
    small, large = load_cohort(a.data), load_cohort(a.data2)
    times: dict[str, list[float]] = {"small": [], "large": []}
    for _ in range(max(1, a.repeat)):  # alternate, so a busy spell hits both sides
        for key, cohort in (("small", small), ("large", large)):
            times[key].append(_timed(lambda: derive_all(cohort, params))[1])
    best = {k: min(v) for k, v in times.items()}
    return {"seconds": best["large"] / best["small"], "small_seconds": best["small"],
            "large_seconds": best["large"], "all": times}


def step_compute(a) -> dict:
    from ivigbook.chapters.compute import compute_results

    cache = a.cache if a.step == "compute_cached" else None
    res, sec, cpu = _timed(lambda: compute_results(a.data, PARAMS, COMPARATORS, cache))
    return {"seconds": sec, "cpu_seconds": cpu, "note": f"{len(res)} results"}


_DONE = re.compile(r"\[\d+/\d+\] (\S+) \.\.\. done in ([0-9.]+) s")
_BUILT = re.compile(r"book built in ([0-9.]+) s")
_COHORT = re.compile(r"^== (\S+):")
_PREFIX = re.compile(r"^(\S+): \[\d+/\d+\]")


def step_book(a) -> dict:
    """``make book`` on a copy of the project (``--data`` = the copy)."""
    from ivigbook.book.reference import build_reference_book

    events: list[tuple[float, str]] = []
    t0 = time.perf_counter()
    index, sec, cpu = _timed(lambda: build_reference_book(
        jobs=a.jobs, root=a.data, progress=lambda line: events.append((time.perf_counter() - t0, line))))
    notebooks, cohort, sphinx = [], "", None
    for _at, line in events:
        if m := _COHORT.match(line):
            cohort = m.group(1)
        elif m := _DONE.search(line):
            prefix = _PREFIX.match(line)  # cohorts run side by side: "<cohort>: [i/n] ..."
            notebooks.append({"cohort": prefix.group(1) if prefix else cohort,
                              "notebook": m.group(1), "seconds": float(m.group(2))})
        elif m := _BUILT.search(line):
            sphinx = float(m.group(1))
    return {"seconds": sec, "cpu_seconds": cpu, "notebooks": notebooks, "sphinx_seconds": sphinx,
            "index": str(index)}


_IMPORTS = ("from ivigbook import book, describe, figures, historical, outcomes, skin, organ, "
            "safety, sensitivity, longitudinal, imputation, maic, reproduce\n"
            "import matplotlib.pyplot")


def step_kernel(a) -> dict:
    """``--repeat`` import-only notebooks through the runner, ``--jobs`` at a time (as the
    book runs its notebooks); ``seconds`` = the wall time of them all."""
    import nbformat
    from nbformat.v4 import new_code_cell, new_notebook

    from ivigbook.book.execute import CONTRACT_PARAMETERS, execute_notebooks

    work = Path(a.out)
    work.mkdir(parents=True, exist_ok=True)
    params_cell = new_code_cell("\n".join(f"{p} = None" for p in CONTRACT_PARAMETERS))
    params_cell.metadata["tags"] = ["parameters"]
    nb = new_notebook(cells=[params_cell, new_code_cell(_IMPORTS)])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    sources = []
    for i in range(a.repeat):
        src = work / "src" / f"{i + 1:02d}_imports.ipynb"
        src.parent.mkdir(exist_ok=True)
        nbformat.write(nb, src)
        sources.append(src)
    params = {p: "" for p in CONTRACT_PARAMETERS}
    res, sec, cpu = _timed(lambda: execute_notebooks(sources, work / "out", params, jobs=a.jobs,
                                                     progress=False))
    return {"seconds": sec, "cpu_seconds": cpu, "per_notebook": sec * a.jobs / a.repeat,
            "all": [r.seconds for r in res]}


class _Budget(Exception):
    pass


def step_breakdown(a) -> dict:
    """``compute_cached`` call by call: every chapter function timed, each stopped after
    ``--budget`` seconds (SIGALRM; its results are then missing, the others still run)."""
    import signal

    from ivigbook.chapters import compute as analysis
    from ivigbook.chapters import describe
    from ivigbook.chapters import historical
    from ivigbook.chapters import longitudinal
    from ivigbook.chapters import organ
    from ivigbook.chapters import safety
    from ivigbook.chapters import sensitivity
    from ivigbook.chapters import skin
    from ivigbook.chapters import outcomes
    from ivigbook.chapters import imputation
    from ivigbook.chapters import maic
    from ivigbook.derive.context import load_context

    calls: list[dict] = []

    def on_alarm(signum, frame):
        raise _Budget()

    signal.signal(signal.SIGALRM, on_alarm)

    def wrap(owner, attr, label):
        real = getattr(owner, attr)

        def timed(*args, **kwargs):
            t0 = time.perf_counter()
            signal.alarm(int(a.budget))
            try:
                value, status = real(*args, **kwargs), "ok"
            except _Budget:
                value, status = None, f"stopped after {a.budget} s"
            finally:
                signal.alarm(0)
            calls.append({"name": label, "seconds": time.perf_counter() - t0, "status": status})
            return value
        setattr(owner, attr, timed)

    wrap(outcomes, "course_table", "outcomes.course_table")
    for mod in (describe, skin, organ, safety, historical, maic, sensitivity, longitudinal,
                imputation):
        for attr in ("flow", "table1", "centres", "table2", "population", "responders",
                     "regressions", "physician", "tfr_resolution", "mrss_model", "mrss_change",
                     "pulmonary", "medsger", "myositis", "ck_course", "gastrointestinal", "aet02",
                     "record_stop_reasons", "change_comparisons", "compare", "by_window",
                     "window_comparison"):
            if attr in vars(mod) and callable(vars(mod)[attr]):
                wrap(mod, attr, f"{mod.__name__.split('.')[-1]}.{attr}")
    t0 = time.perf_counter()
    ctx = load_context(a.data, PARAMS, a.cache)
    load = time.perf_counter() - t0
    _, sec, cpu = _timed(lambda: analysis.chapter_results(ctx, historical.load_comparators(COMPARATORS)))
    merged: dict[str, dict] = {}
    for c in calls:
        m = merged.setdefault(c["name"], {"name": c["name"], "seconds": 0.0, "calls": 0,
                                          "status": "ok"})
        m["seconds"] += c["seconds"]
        m["calls"] += 1
        if c["status"] != "ok":
            m["status"] = c["status"]
    return {"seconds": sec, "cpu_seconds": cpu, "load_context_seconds": load,
            "calls": sorted(merged.values(), key=lambda c: -c["seconds"])}


STEPS = {"synth": step_synth, "validate": step_validate, "prime": step_prime,
         "derive": step_derive, "derive_pair": step_derive_pair, "compute": step_compute,
         "compute_cached": step_compute, "book": step_book, "kernel": step_kernel,
         "breakdown": step_breakdown}


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("step", choices=sorted(STEPS))
    p.add_argument("--data", default="")
    p.add_argument("--data2", default="")
    p.add_argument("--cache", default="")
    p.add_argument("--out", default="")
    p.add_argument("--result", required=True)
    p.add_argument("--seed", type=int, default=8)
    p.add_argument("--patients", type=int, default=1000)
    p.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--budget", type=int, default=300)
    a = p.parse_args()
    out = STEPS[a.step](a)
    out["peak_rss_mb_self"] = _peak_rss_mb()
    Path(a.result).write_text(json.dumps(out, indent=1), encoding="utf-8")


if __name__ == "__main__":
    sys.exit(main())
