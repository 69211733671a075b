"""Project paths and the reference cohorts of the committed book (the one place for both)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from ivigbook.data.params import MULTICENTRE, PAPER
from ivigbook.data.rules import DEFAULT_SEED as DEFAULT_SEED  # defined with its documentation
from ivigbook.data.rules import PAPER_AS_PUBLISHED
from ivigbook.errors import RunError

#: the cohort's name in a book when none is given (``--cohort-name``): never the package's
#: file or folder name, which may carry a patient's name or record number
DEFAULT_COHORT_NAME = "unnamed cohort"

BOOK_CACHE_DIR = "_build/.cache"  # derived tables of `ivigbook book` (git-ignored)


COMPARATORS_PATH = "data/reference/historical_controls.csv"


SYNTHETIC_DIR = "data/synthetic"


#: Reference cohorts of the committed book (`make book`). Paths relative to the repo.
#: A cohort is built only when its data folder exists.
#: the multicentre rules as overrides of the paper's defaults (params.MULTICENTRE)
_MULTICENTRE_OVERRIDES = {k: v for k, v in MULTICENTRE.to_dict().items() if v != PAPER.to_dict()[k]}


REFERENCE_COHORTS: dict[str, dict[str, Any]] = {
    "hopkins2015": {
        "data_dir": "data/synthetic/hopkins2015",
        # the paper reports adverse events of its 30 analysed patients
        "params": dict(PAPER_AS_PUBLISHED),
        "published": "data/reference/published_poelman2015.csv",
        "title": "Poelman et al. 2015 (Johns Hopkins)",
        # remarks about the paper's own cohort, shown only in this edition (per chapter)
        "notes": {
            "05_historical_comparisons": (
                "**In the paper's cohort.** Poelman et al. 2015 note that the mycophenolate "
                "group were mostly patients who had responded to mycophenolate, whereas IVIG "
                "was typically added for patients who had not; they conclude that the "
                "comparison with mycophenolate alone is biased against IVIG, not for it."
            ),
        },
    },
    "spain_multicentre": {
        "data_dir": "data/synthetic/spain_multicentre",
        "params": _MULTICENTRE_OVERRIDES,
        "published": "data/reference/published_spain_multicentre.csv",
        "comparators": "",  # the dcSSc trial comparators do not apply to this cohort
        "seed": 2023,
        "title": "Spanish multicentre study",
    },
    # ------------------------------------------------------------------------------
}


def project_root(root: str | os.PathLike | None = None) -> Path:
    """The project folder (with ``notebooks/`` and ``_config.yml``).

    ``root`` if given, else ``$IVIGBOOK_ROOT``, else the checkout this module lives in,
    else the current directory or one of its parents.
    """
    if root is not None:
        return Path(root).resolve()
    if os.environ.get("IVIGBOOK_ROOT"):
        return Path(os.environ["IVIGBOOK_ROOT"]).resolve()
    candidates = [Path(__file__).resolve().parents[2], Path.cwd(), *Path.cwd().parents]
    for cand in candidates:
        if (cand / "notebooks").is_dir() and (cand / "_config.yml").is_file():
            return cand.resolve()
    raise RunError(
        "cannot find the ivigbook project folder (the one with notebooks/ and "
        "_config.yml); run from inside it or set IVIGBOOK_ROOT"
    )


def comparators_file(root: Path, entry: dict | None) -> Path | str:
    """The comparator file of a cohort: its registry entry's, else the default ('' = none)."""
    path = (entry or {}).get("comparators", COMPARATORS_PATH)
    return root / path if path else ""
