"""Notebook-facing helpers: start a chapter, show tables and figures, state absences.

Each chapter notebook starts with one call::

    ctx, rec = page.start("02_skin_outcomes", data_dir, params_json, results_dir,
                          cache_dir, synthetic, cohort_name)

and ends with ``page.finish(rec)``.
"""

from __future__ import annotations

import os

from IPython.display import Markdown, display

from ivigbook.config import DEFAULT_COHORT_NAME
from ivigbook.derive.context import Context, load_context
from ivigbook.report.figures import NoDataError, to_png_bytes
from ivigbook.report.glue import flush, glue
from ivigbook.results.applicability import Skip
from ivigbook.results.recorder import Recorder
from ivigbook.results.table import Table

SYNTHETIC_NOTE = (
    "**Synthetic data.** The numbers on this page come from a synthetic cohort that this "
    "project generates and calibrates to the published summaries of the study. They are "
    "not patient data; individual rows do not describe real people."
)


def _display(obj) -> None:
    flush()  # the values glued so far come before what is shown
    display(obj)


def _markdown(text: str) -> None:
    _display(Markdown(text))


def start(
    notebook: str,
    data_dir: str,
    params_json: str = "{}",
    results_dir: str = "",
    cache_dir: str = "",
    synthetic: bool = False,
    cohort_name: str = "",
) -> tuple[Context, Recorder]:
    """Load the cohort (validated, derived once and cached), open the recorder, show the banner."""
    os.environ.setdefault("MPLBACKEND", "Agg")
    ctx = load_context(
        data_dir,
        params_json,
        cache_dir or None,
        synthetic=synthetic,
        cohort_name=cohort_name or DEFAULT_COHORT_NAME,
    )
    rec = Recorder(notebook, results_dir or None, glue=glue)
    ctx.record_basics(rec)
    if synthetic:
        _markdown(f"```{{admonition}} Synthetic data\n:class: warning\n{SYNTHETIC_NOTE}\n```")
    return ctx, rec


def show(obj, absent: str = "No data for this section in this cohort.") -> None:
    """Display a table/figure, or one short sentence when the section has no data: the
    reason of a :class:`~ivigbook.results.applicability.Skip`, else ``absent``."""
    if isinstance(obj, Skip):
        if not obj.quiet:
            _markdown(f"*{obj.reason}*")
        return
    if (
        obj is None
        or (hasattr(obj, "frame") and obj.frame.empty)
        or (hasattr(obj, "empty") and obj.empty)
    ):
        _markdown(f"*{absent}*")
        return
    from matplotlib.figure import Figure

    if isinstance(obj, Figure):
        from IPython.display import Image

        _display(Image(data=to_png_bytes(obj), format="png"))
        return
    import pandas as pd

    if isinstance(obj, pd.DataFrame):
        import hashlib

        digest = hashlib.sha1("|".join(map(str, obj.columns)).encode()).hexdigest()[:8]
        obj = Table(obj.astype(str), table_id=f"table-{digest}")
    _display(obj)


def figure(make, *args, absent: str = "No data to plot in this cohort.", **kwargs) -> None:
    """Build a figure with ``make(*args, **kwargs)`` and show it; a sentence if no data."""

    skip = next((a for a in args if isinstance(a, Skip)), None)
    if skip is not None:
        show(skip)
        return
    try:
        fig = make(*args, **kwargs)
    except NoDataError:
        _markdown(f"*{absent}*")
        return
    show(fig)


def finish(rec: Recorder) -> None:
    """Write this notebook's results."""
    rec.save()
