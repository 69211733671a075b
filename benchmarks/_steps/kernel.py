"""``kernel``: the fixed cost of the notebooks: ``--repeat`` notebooks that only import the
chapter modules, executed by the runner ``--jobs`` at a time (worker process, papermill,
kernel start, imports, scrubbing)."""
from __future__ import annotations

from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_notebook

from ivigbook.runner import CONTRACT_PARAMETERS
from ivigbook.runner import execute_notebooks

from . import timed

_IMPORTS = ("from ivigbook import book, describe, figures, historical, outcomes, skin, organ, "
            "safety, sensitivity, longitudinal, imputation, maic, reproduce\n"
            "import matplotlib.pyplot")


def run(a) -> dict:
    """``--repeat`` import-only notebooks through the runner, ``--jobs`` at a time (as the
    book runs its notebooks); ``seconds`` = the wall time of them all."""
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
    res, sec, cpu = timed(lambda: execute_notebooks(sources, work / "out", params, jobs=a.jobs,
                                                    progress=False))
    return {"seconds": sec, "cpu_seconds": cpu, "per_notebook": sec * a.jobs / a.repeat,
            "all": [r.seconds for r in res]}
