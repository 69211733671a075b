"""Publication figures for the book: pure functions, tidy DataFrame in, ``Figure`` out.

Conventions (every function follows them):

* **No global state.** Figures are ``matplotlib.figure.Figure`` objects built with the
  object API and an Agg canvas, never registered with pyplot: nothing to close,
  no duplicate display in notebooks, works under ``MPLBACKEND=Agg``. The house
  style (:data:`STYLE`) is applied with ``rc_context`` while a figure is built, so a
  notebook's own rcParams do not leak in.
* **Deterministic.** Fixed width (:data:`FIG_WIDTH`) and dpi (:data:`DPI`); heights are
  fixed (:data:`FIG_HEIGHT`) or a deterministic function of the number of rows;
  sampling is seeded; :func:`to_png_bytes` strips the software version from the
  PNG so the bytes are identical run to run.
* **Literal text.** Every string is drawn with ``parse_math=False`` and
  ``usetex=False``: ``$x$`` shows dollar signs, ``<script>`` and ``&`` show as typed
  (PNG has no markup; SVG output is XML-escaped by matplotlib). Numeric tick
  formatters never emit mathtext.
* **No identifiers.** Only the anonymous integer ``SUBJSEQ`` is read; any other
  column (``patient_id``, ``USUBJID``) is ignored, and a non-integer ``SUBJSEQ``
  is refused, so a pseudonymous identifier cannot end up on a figure.
* **Scales to registries.** Patient-level plots draw at most ``max_lines`` seeded
  sampled patients in one ``LineCollection``; waterfall and swimmer plots switch to
  a summarised form above :data:`MAX_BARS` / :data:`MAX_LANES` patients and say so
  in the title. Summaries (means, counts) always use all patients.
* **Empty input** raises :class:`NoDataError` (a ``ValueError``) with a sentence
  naming the function, so the caller (``report.page.figure``) can print a sentence
  instead of a figure. Contract violations raise a plain ``ValueError``.
* ``synthetic=True`` adds a discreet grey "Synthetic data" caption in the
  bottom-right corner.

Palette: Okabe & Ito (2008), colour-blind safe; categories also differ by marker.
"""

from ivigbook.report.figures.base import (
    DPI,
    FIG_HEIGHT,
    FIG_WIDTH,
    MAX_BARS,
    MAX_LANES,
    MAX_LINES,
    OKABE_ITO,
    PALETTE,
    STYLE,
    SYNTHETIC_CAPTION,
    NoDataError,
    to_png_bytes,
)
from ivigbook.report.figures.courses import lab_course, mean_trajectory, paired_change, spaghetti
from ivigbook.report.figures.estimates import bar_counts, estimate_by_window, forest, waterfall
from ivigbook.report.figures.flow import flow_diagram
from ivigbook.report.figures.swimmer import swimmer

__all__ = [
    "FIG_WIDTH",
    "FIG_HEIGHT",
    "DPI",
    "MAX_LINES",
    "MAX_LANES",
    "MAX_BARS",
    "OKABE_ITO",
    "PALETTE",
    "STYLE",
    "SYNTHETIC_CAPTION",
    "NoDataError",
    "flow_diagram",
    "swimmer",
    "mean_trajectory",
    "spaghetti",
    "waterfall",
    "forest",
    "estimate_by_window",
    "lab_course",
    "paired_change",
    "bar_counts",
    "to_png_bytes",
]
