"""One measured step of the benchmarks, run in a fresh Python process by ``run.py``.

``python benchmarks/_step.py STEP --data DIR --cache DIR --out DIR --result FILE``

The parent measures the wall time and the peak RSS of the whole process tree; this
script reports, as JSON in ``--result``, the time of the measured call itself
(``seconds``, ``cpu_seconds``, excluding interpreter start and imports) and the
process's own peak RSS. Each step is a module of ``benchmarks/_steps/`` (its
``ivigbook`` imports at its top); only the module of the step run is imported. Steps:

``synth``           ``ivigbook.synth.registry.write`` (the registry package)
``validate``        ``ivigbook.data.validate.load_cohort``
``prime``           typed cohort + derived tables into the cache (not reported)
``derive``          ``ivigbook.derive.context.derive_all`` (cohort read from the cache first;
                    best of ``--repeat``)
``derive_pair``     ``derive_all`` of two cohorts (``--data`` and ``--data2``, e.g. 10k
                    and 100k) alternately, best of ``--repeat`` each: their time ratio with
                    both sides exposed to the same spells of the machine's other work
``compute``         ``ivigbook.chapters.compute.compute_results`` from the CSVs (validation,
                    derivation and every chapter's results), no cache
``compute_cached``  the same with the cache primed (what each notebook of a run pays)
``book``            ``ivigbook.book.reference.build_reference_book`` on a copy of the project
                    (``make book`` without touching committed files); per-notebook and
                    Sphinx times from its progress lines
``breakdown``       ``compute_cached`` function by function (each stopped after
                    ``--budget`` seconds): where the analysis time goes
``floor``           the book's floor without the project's code: ``--repeat`` bare
                    Jupyter kernels (jupyter_client) ``--jobs`` at a time, each executing
                    ``--code`` (the chapters' third-party imports), + an empty Jupyter
                    Book built with the real book's command
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
from pathlib import Path

from _steps import peak_rss_mb

#: step -> module of benchmarks/_steps
STEPS = {
    "synth": "synth",
    "validate": "validate",
    "prime": "prime",
    "derive": "derive",
    "derive_pair": "derive_pair",
    "compute": "compute",
    "compute_cached": "compute",
    "book": "book",
    "floor": "floor",
    "breakdown": "breakdown",
}


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
    p.add_argument("--code", default="", help="floor: the cell each bare kernel executes")
    p.add_argument("--env", default="{}", help="floor: the kernels' environment (JSON)")
    a = p.parse_args()
    out = importlib.import_module(f"_steps.{STEPS[a.step]}").run(a)
    out["peak_rss_mb_self"] = peak_rss_mb()
    Path(a.result).write_text(json.dumps(out, indent=1), encoding="utf-8")


if __name__ == "__main__":
    sys.exit(main())
