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
  naming the function, so the caller (``book.figure``) can print a sentence
  instead of a figure. Contract violations raise a plain ``ValueError``.
* ``synthetic=True`` adds a discreet grey "Synthetic data" caption in the
  bottom-right corner.

Palette: Okabe & Ito (2008), colour-blind safe; categories also differ by marker.
"""
from __future__ import annotations

import io
import math
import sys
import textwrap
import warnings
from collections.abc import Callable, Sequence
from functools import wraps
from typing import Any

import matplotlib as mpl
import numpy as np
import pandas as pd
from matplotlib import ticker
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import LineCollection
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import FancyBboxPatch, Patch
from matplotlib.text import Text

__all__ = [
    "FIG_WIDTH", "FIG_HEIGHT", "DPI", "MAX_LINES", "MAX_LANES", "MAX_BARS",
    "OKABE_ITO", "PALETTE", "STYLE", "SYNTHETIC_CAPTION", "NoDataError",
    "flow_diagram", "swimmer", "mean_trajectory", "spaghetti", "waterfall", "forest",
    "estimate_by_window", "lab_course", "paired_change", "bar_counts", "to_png_bytes",
]

# ------------------------------------------------------------------ constants
FIG_WIDTH = 7.0          #: inches, every figure
FIG_HEIGHT = 4.0         #: inches, figures whose height does not depend on row count
DPI = 110                #: dots per inch, figure and PNG
MAX_LINES = 60           #: default number of patient lines drawn (seeded sample beyond)
MAX_LANES = 150          #: swimmer: above this, a histogram of treatment length
MAX_BARS = 150           #: waterfall: above this, a sorted area instead of bars
SYNTHETIC_CAPTION = "Synthetic data"

#: Okabe-Ito colour-blind-safe palette.
OKABE_ITO = {
    "black": "#000000", "orange": "#E69F00", "sky_blue": "#56B4E9",
    "bluish_green": "#009E73", "yellow": "#F0E442", "blue": "#0072B2",
    "vermillion": "#D55E00", "reddish_purple": "#CC79A7",
}
#: Order used for series/groups (yellow last: weak on white).
PALETTE = (OKABE_ITO["blue"], OKABE_ITO["orange"], OKABE_ITO["bluish_green"],
           OKABE_ITO["vermillion"], OKABE_ITO["reddish_purple"], OKABE_ITO["sky_blue"],
           OKABE_ITO["black"], OKABE_ITO["yellow"])
MARKERS = ("o", "s", "D", "^", "v", "P", "X", "h")
GREY = "#6E6E6E"
LIGHT_GREY = "#BDBDBD"
_CI_LABEL = "95% CI"

#: House style, applied while each figure is built and saved.
STYLE: dict[str, Any] = {
    "font.family": "sans-serif",
    "font.sans-serif": ["DejaVu Sans"],   # ships with matplotlib: same glyphs everywhere
    "font.size": 9,
    "axes.titlesize": 10,
    "axes.titlelocation": "left",
    "axes.titlepad": 8,
    "axes.labelsize": 9,
    "axes.linewidth": 0.8,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": False,
    "axes.prop_cycle": mpl.cycler(color=list(PALETTE)),
    "axes.formatter.use_mathtext": False,
    "axes.unicode_minus": True,
    "xtick.labelsize": 8,
    "ytick.labelsize": 8,
    "xtick.major.width": 0.8,
    "ytick.major.width": 0.8,
    "legend.fontsize": 8,
    "legend.frameon": False,
    "lines.linewidth": 1.5,
    "text.usetex": False,
    "text.parse_math": False,
    "figure.dpi": DPI,
    "savefig.dpi": DPI,
    "figure.facecolor": "white",
    "axes.facecolor": "white",
    "savefig.facecolor": "white",
    "savefig.bbox": None,
    "svg.hashsalt": "ivigbook",
    "svg.fonttype": "path",
    "pdf.fonttype": 42,
    "ps.fonttype": 42,
}

# N-row geometry below an x axis, in points.
_N_ROW_OFFSET = 22.0
_N_ROW_STEP = 11.0

# Stop-reason colours/markers: vocabulary codes and their human labels (schema.LABELS).
_STOP_STYLE = {
    "improvement": (OKABE_ITO["bluish_green"], "^"),
    "stable": (OKABE_ITO["sky_blue"], "s"),
    "progressing": (OKABE_ITO["vermillion"], "v"),
    "progression": (OKABE_ITO["vermillion"], "v"),
    "adverse_event": (OKABE_ITO["orange"], "D"),
    "insurance": (OKABE_ITO["reddish_purple"], "P"),
    "insurance_denial": (OKABE_ITO["reddish_purple"], "P"),
    "moved": (GREY, "h"),
    "patient_moved": (GREY, "h"),
    "death": (OKABE_ITO["black"], "X"),
    "ongoing": (OKABE_ITO["blue"], ">"),
    "other": (LIGHT_GREY, "o"),
    "not_recorded": ("#DDDDDD", "o"),
}
_NOT_RECORDED = "Not recorded"


class NoDataError(ValueError):
    """Nothing to plot (no rows, or no usable values). A ``ValueError``, so callers
    may catch either; catching this one alone keeps real bugs visible."""


# ------------------------------------------------------------------ helpers
def _styled(func: Callable[..., Figure]) -> Callable[..., Figure]:
    """Build the figure under the house style."""
    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Figure:
        with mpl.rc_context(STYLE):
            return func(*args, **kwargs)
    return wrapper


def _new_figure(height: float = FIG_HEIGHT, width: float = FIG_WIDTH,
                layout: str | None = "constrained") -> Figure:
    fig = Figure(figsize=(width, round(float(height), 2)), dpi=DPI, layout=layout)
    FigureCanvasAgg(fig)
    if layout == "constrained":
        fig.get_layout_engine().set(w_pad=0.06, h_pad=0.06)
    return fig


def _s(value: Any) -> str:
    """Text for a label: NA -> empty string, anything else str()."""
    if value is None:
        return ""
    try:
        if pd.isna(value):
            return ""
    except (TypeError, ValueError):
        pass
    return str(value)


def _finish(fig: Figure, synthetic: bool) -> Figure:
    """Caption, literal text everywhere, ticks instantiated under the house style."""
    if synthetic:
        fig.text(0.995, 0.004, SYNTHETIC_CAPTION, ha="right", va="bottom", fontsize=7,
                 color="#8C8C8C", style="italic", gid="synthetic-caption")
    for ax in fig.axes:
        for axis in (ax.xaxis, ax.yaxis):
            # create the first tick now (under STYLE); later ticks copy its properties
            axis.majorTicks[0]  # noqa: B018
            axis.minorTicks[0]  # noqa: B018
    for text in fig.findobj(Text):
        text.set_parse_math(False)
        text.set_usetex(False)
    return fig


def _fail(fn: str, message: str) -> ValueError:
    """Contract violation (missing column, non-numeric value, identifier)."""
    return ValueError(f"{fn}(): {message}")


def _empty(fn: str, message: str) -> NoDataError:
    return NoDataError(f"{fn}(): {message}")


def _frame(df: Any, columns: Sequence[str], fn: str, *, allow_empty: bool = False,
           optional: Sequence[str] = ()) -> pd.DataFrame:
    """Check the column contract; return a copy holding only the contract columns."""
    if not isinstance(df, pd.DataFrame):
        raise TypeError(f"{fn}(): expected a pandas DataFrame, got {type(df).__name__}")
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise _fail(fn, f"missing column(s) {', '.join(missing)}; "
                        f"expected {', '.join(list(columns) + [f'[{o}]' for o in optional])}")
    if df.empty and not allow_empty:
        raise _empty(fn, "no data to plot (the input has no rows)")
    keep = list(columns) + [c for c in optional if c in df.columns]
    return df.loc[:, keep].reset_index(drop=True)


def _numeric(series: pd.Series, name: str, fn: str) -> np.ndarray:
    """Float array; non-numeric non-missing entries are an error, NA -> NaN."""
    out = pd.to_numeric(series, errors="coerce")
    bad = out.isna() & series.notna()
    if bad.any():
        # the offending value is not echoed: it could be an identifier
        raise _fail(fn, f"column {name} must be numeric (first bad row: "
                        f"{int(np.flatnonzero(bad.to_numpy())[0])})")
    return out.to_numpy(dtype=float, na_value=np.nan)


def _subjseq(series: pd.Series, fn: str) -> np.ndarray:
    """The anonymous integer sequence number; anything else is refused."""
    vals = pd.to_numeric(series, errors="coerce")
    arr = vals.to_numpy(dtype=float, na_value=np.nan)
    if np.isnan(arr).any() or not np.all(arr == np.round(arr)):
        raise _fail(fn, "SUBJSEQ must be the anonymous integer sequence number "
                        "(patient identifiers are never drawn)")
    return arr.astype(np.int64)


def _fmt_int(n: Any) -> str:
    return f"{int(n):,}"


def _plural(n: int, word: str) -> str:
    return f"{n:,} {word}" + ("" if n == 1 else "s")


def _fmt_est(x: float) -> str:
    """Estimate/CI bound: 2 decimals below 10, 1 below 100, else none."""
    if not np.isfinite(x):
        return "∞" if x > 0 else ("−∞" if x < 0 else "NA")
    a = abs(x)
    text = f"{x:.2f}" if a < 10 else (f"{x:.1f}" if a < 100 else f"{x:,.0f}")
    return text.replace("-", "−")


def _fmt_p(p: float) -> str:
    if not np.isfinite(p):
        return ""
    if p < 0.001:
        return "<0.001"
    if p > 0.99:
        return ">0.99"
    if p < 0.01 or 0.045 <= p < 0.05:  # 3 decimals; never round 0.046 up to "0.05"
        return f"{p:.3f}"
    return f"{p:.2f}"


def _fmt_plain(v: float, _pos: Any = None) -> str:
    """Tick label without mathtext (for log axes)."""
    if v <= 0 or not np.isfinite(v):
        return ""
    if v >= 1:
        return f"{v:,.0f}" if abs(v - round(v)) < 1e-9 else f"{v:g}"
    return f"{v:.6f}".rstrip("0").rstrip(".")


def _title(ax: Any, title: str | None, note: str | None = None) -> None:
    parts = [t for t in (_s(title), _s(note)) if t]
    if parts:
        ax.set_title("\n".join(parts), loc="left", parse_math=False)


def _headroom(ax: Any, frac: float = 0.12) -> None:
    """Extend the top of the y axis so a label at the top does not sit on the data."""
    lo, hi = ax.get_ylim()
    if ax.get_yscale() == "log":
        llo, lhi = np.log10(lo), np.log10(hi)
        ax.set_ylim(lo, 10 ** (llo + (lhi - llo) / (1 - frac)))
    else:
        ax.set_ylim(lo, lo + (hi - lo) / (1 - frac))


def _ref_line(ax: Any, ref_x: float | None, label: str = "IVIG start") -> None:
    """Dashed vertical line labelled at the top (call after the y limits are final)."""
    if ref_x is None or not np.isfinite(ref_x):
        return
    lo, hi = ax.get_xlim()
    if not lo <= ref_x <= hi:
        return
    _headroom(ax)
    ax.axvline(ref_x, color=GREY, lw=1.0, ls="--", zorder=1)
    ax.annotate(label, xy=(ref_x, 1.0), xycoords=("data", "axes fraction"),
                xytext=(3, -2), textcoords="offset points", ha="left", va="top",
                fontsize=8, color=GREY, parse_math=False)


def _n_rows(ax: Any, rows: Sequence[tuple[str, np.ndarray, np.ndarray, str]]) -> None:
    """Rows of N under the x axis aligned with x positions (like Figure 1 of the paper).

    rows: (row label, x positions, counts, colour). The x-axis label moves below them.
    """
    xform = ax.get_xaxis_transform()
    for r, (label, xs, ns, color) in enumerate(rows):
        dy = -(_N_ROW_OFFSET + r * _N_ROW_STEP)
        ax.annotate(label, xy=(0, 0), xycoords="axes fraction", xytext=(-8, dy),
                    textcoords="offset points", ha="right", va="top", fontsize=8,
                    color=color, fontweight="bold", parse_math=False)
        for x, n in zip(xs, ns):
            ax.annotate("" if not np.isfinite(n) else _fmt_int(n), xy=(x, 0), xycoords=xform,
                        xytext=(0, dy), textcoords="offset points", ha="center", va="top",
                        fontsize=8, color=color, annotation_clip=False, parse_math=False)
    ax.xaxis.labelpad = 4 + len(rows) * _N_ROW_STEP + 2


def _nice_y(ax: Any) -> None:
    """Ticks on 1-2-5 steps (no 2.5 steps for integer scores such as mRSS)."""
    ax.yaxis.set_major_locator(ticker.MaxNLocator(nbins="auto", steps=[1, 2, 5, 10]))


def _month_x(ax: Any) -> None:
    """Month axis ticks on multiples of 1, 2, 3, 6 or 12."""
    ax.xaxis.set_major_locator(ticker.MaxNLocator(integer=True, steps=[1, 2, 3, 6, 10]))


def _log_ticks(lo: float, hi: float, max_ticks: int = 9) -> np.ndarray:
    """Readable log-axis ticks in [lo, hi]: 1-2-5 sequence, else 1-5, else decades."""
    e0, e1 = math.floor(math.log10(lo)) - 1, math.ceil(math.log10(hi)) + 1
    for mant in ((1, 2, 5), (1, 5), (1,)):
        t = np.array([a * 10.0 ** e for e in range(e0, e1 + 1) for a in mant])
        t = t[(t >= lo * (1 - 1e-9)) & (t <= hi * (1 + 1e-9))]
        if len(t) <= max_ticks:
            return t
    step = math.ceil(len(t) / max_ticks)
    return t[::step]


def _log_axis(axis: Any, lo: float, hi: float) -> None:
    axis.set_major_locator(ticker.FixedLocator(_log_ticks(lo, hi)))
    axis.set_major_formatter(ticker.FuncFormatter(_fmt_plain))
    axis.set_minor_locator(ticker.NullLocator())


def _thin_ticks(values: np.ndarray, min_gap_pt: float = 17.0,
                axis_pt: float = 430.0) -> np.ndarray:
    """Tick months for a row of N: every value if they are at least ``min_gap_pt``
    apart on a ~``axis_pt`` wide axis, else every 2nd/3rd/6th/12th... month counted
    from 0 (so "IVIG start" keeps its tick)."""
    values = np.unique(values)
    if len(values) < 2:
        return values
    span = float(values.max() - values.min()) or 1.0
    pt_per_unit = axis_pt / (span * 1.05)
    anchor = 0.0 if 0 in values else float(values[0])
    t = values
    for k in (1, 2, 3, 6, 12, 24, 60, 120):
        t = values[np.isclose(np.mod(values - anchor, k), 0) | np.isclose(np.mod(values - anchor, k), k)]
        if len(t) <= 1 or float(np.min(np.diff(t))) * pt_per_unit >= min_gap_pt:
            return t
    return t


def _dodge(k: int, width: float) -> np.ndarray:
    return (np.arange(k) - (k - 1) / 2.0) * width


def _unique_in_order(values: pd.Series) -> list[Any]:
    return list(pd.unique(values))


def _sample(ids: np.ndarray, max_lines: int, seed: int) -> np.ndarray:
    """Sorted unique ids, or a seeded sample of ``max_lines`` of them."""
    uniq = np.unique(ids)
    if len(uniq) <= max_lines:
        return uniq
    rng = np.random.default_rng(seed)
    return np.sort(rng.choice(uniq, size=max_lines, replace=False))


def _segments(subj: np.ndarray, x: np.ndarray, y: np.ndarray) -> list[np.ndarray]:
    """One (k, 2) array per subject, points sorted by x (input need not be sorted)."""
    order = np.lexsort((x, subj))
    subj, pts = subj[order], np.column_stack([x[order], y[order]])
    cuts = np.flatnonzero(np.diff(subj)) + 1
    return np.split(pts, cuts)


def _sample_note(shown: int, total: int, seed: int, what: str = "patients") -> str | None:
    if shown >= total:
        return None
    return f"{shown:,} of {total:,} {what} shown (random sample, seed {seed})"


def _mean_ci(values: np.ndarray) -> tuple[float, float, float]:
    values = values[np.isfinite(values)]
    n = len(values)
    if n == 0:
        return (np.nan, np.nan, np.nan)
    mean = float(values.mean())
    if n < 2:
        return (mean, np.nan, np.nan)
    from scipy import stats

    half = float(stats.t.ppf(0.975, n - 1) * values.std(ddof=1) / math.sqrt(n))
    return (mean, mean - half, mean + half)


def _yerr(mean: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Asymmetric error-bar lengths; missing or inverted bounds draw no bar."""
    down = np.where(np.isfinite(lo), mean - lo, 0.0)
    up = np.where(np.isfinite(hi), hi - mean, 0.0)
    return np.vstack([np.clip(np.nan_to_num(down), 0, None), np.clip(np.nan_to_num(up), 0, None)])


def _stop_key(label: str) -> str:
    return "".join(ch if ch.isalnum() else "_" for ch in label.strip().lower()).strip("_")


# ------------------------------------------------------------------ flow diagram
@_styled
def flow_diagram(flow: pd.DataFrame, *, title: str | None = None,
                 synthetic: bool = False) -> Figure:
    """CONSORT-like flow: boxes top to bottom, exclusions in side boxes.

    ``flow`` columns: ``box`` (order), ``label``, ``n`` (patients at this box),
    optional ``excluded_n`` and ``excluded_label`` (NA = no side box). A side box
    hangs off the arrow below its box. Warns when ``n`` minus the exclusions of a
    box differs from the ``n`` of the next box.
    """
    fn = "flow_diagram"
    df = _frame(flow, ["box", "label", "n"], fn, optional=["excluded_n", "excluded_label"])
    df = df.assign(_box=_numeric(df["box"], "box", fn)).sort_values("_box", kind="stable")
    n = _numeric(df["n"], "n", fn)
    if np.isnan(n).any():
        raise _fail(fn, "every box needs a patient count n")
    exn = (_numeric(df["excluded_n"], "excluded_n", fn) if "excluded_n" in df
           else np.full(len(df), np.nan))
    exl = (df["excluded_label"].map(_s).tolist() if "excluded_label" in df
           else [""] * len(df))
    labels = df["label"].map(_s).tolist()
    k = len(df)

    # consistency (draws anyway; the caller's check is the authoritative one)
    for i in range(k - 1):
        expected = n[i] - (0 if np.isnan(exn[i]) else exn[i])
        if expected != n[i + 1]:
            warnings.warn(f"flow_diagram: box {i + 1} has n={n[i]:.0f} minus {exn[i]:.0f} "
                          f"excluded, but the next box has n={n[i + 1]:.0f}", stacklevel=3)

    # geometry in inches (axes spans the whole figure, 1 data unit = 1 inch)
    fs_main, fs_side = 9.0, 8.0
    lh_main, lh_side = fs_main * 1.3 / 72, fs_side * 1.3 / 72
    pad = 0.11
    main_x0, main_w = 0.45, 3.55
    side_x0, side_w = 4.45, 2.4
    cx = main_x0 + main_w / 2

    def wrap(text: str, width: int) -> list[str]:
        return textwrap.wrap(text, width, break_long_words=True, break_on_hyphens=False) or [""]

    main_txt, side_txt, main_h, side_h = [], [], [], []
    for i in range(k):
        lines = wrap(labels[i], 46) + [f"n = {_fmt_int(n[i])}"]
        main_txt.append("\n".join(lines))
        main_h.append(len(lines) * lh_main + 2 * pad)
        has_side = not np.isnan(exn[i]) or bool(exl[i])
        if has_side:
            head = f"Excluded (n = {_fmt_int(exn[i])})" if not np.isnan(exn[i]) else "Excluded"
            slines = [head] + (wrap(exl[i], 34) if exl[i] else [])
            side_txt.append("\n".join(slines))
            side_h.append(len(slines) * lh_side + 2 * pad)
        else:
            side_txt.append(None)
            side_h.append(0.0)
    gaps = []
    for i in range(k):
        if side_txt[i] is not None:
            gaps.append(max(0.5, side_h[i] + 0.3))
        else:
            gaps.append(0.42 if i < k - 1 else 0.0)
    top = 0.25 + (0.35 if title else 0.0)
    bottom = 0.25
    height = top + sum(main_h) + sum(gaps) + bottom

    fig = _new_figure(height, layout=None)
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_xlim(0, FIG_WIDTH)
    ax.set_ylim(0, height)
    ax.set_axis_off()
    if title:
        ax.text(main_x0, height - 0.2, _s(title), ha="left", va="top", fontsize=10,
                parse_math=False)
    arrow = dict(arrowstyle="-|>", color="black", lw=0.9, shrinkA=0, shrinkB=0,
                 mutation_scale=10)
    y = height - top
    for i in range(k):
        h = main_h[i]
        ax.add_patch(FancyBboxPatch((main_x0, y - h), main_w, h,
                                    boxstyle="round,pad=0,rounding_size=0.04",
                                    fc="white", ec="black", lw=0.9))
        ax.text(cx, y - h / 2, main_txt[i], ha="center", va="center", fontsize=fs_main,
                linespacing=1.3, parse_math=False)
        y_bottom = y - h
        y_next = y_bottom - gaps[i]
        if side_txt[i] is not None:
            y_mid = y_bottom - gaps[i] / 2
            if i < k - 1:
                ax.annotate("", xy=(cx, y_next), xytext=(cx, y_bottom), arrowprops=arrow)
            else:
                ax.plot([cx, cx], [y_bottom, y_mid], color="black", lw=0.9)
            ax.annotate("", xy=(side_x0, y_mid), xytext=(cx, y_mid), arrowprops=arrow)
            sh = side_h[i]
            ax.add_patch(FancyBboxPatch((side_x0, y_mid - sh / 2), side_w, sh,
                                        boxstyle="round,pad=0,rounding_size=0.04",
                                        fc="#F2F2F2", ec=GREY, lw=0.8))
            ax.text(side_x0 + 0.1, y_mid, side_txt[i], ha="left", va="center",
                    fontsize=fs_side, linespacing=1.3, parse_math=False)
        elif i < k - 1:
            ax.annotate("", xy=(cx, y_next), xytext=(cx, y_bottom), arrowprops=arrow)
        y = y_next
    return _finish(fig, synthetic)


# ------------------------------------------------------------------ swimmer
@_styled
def swimmer(cycles: pd.DataFrame, stop: pd.DataFrame, *, max_lanes: int = MAX_LANES,
            xlabel: str = "Months since first IVIG cycle", title: str | None = None,
            synthetic: bool = False) -> Figure:
    """One lane per patient (longest round-1 treatment on top), a marker per cycle.

    ``cycles``: SUBJSEQ, offset (calendar month from the first cycle), round.
    ``stop``: SUBJSEQ, stop_label. A cycle in month m is drawn in the middle of
    month m; a lane spans month 0 to the month after the patient's last cycle, so
    for round 1 its length is the treatment length. Round-1 cycles are filled,
    later rounds hollow; the lane end carries the stop reason (colour and shape).
    Above ``max_lanes`` patients: stacked histogram of round-1 treatment length by
    stop reason.
    """
    fn = "swimmer"
    c = _frame(cycles, ["SUBJSEQ", "offset", "round"], fn)
    s = _frame(stop, ["SUBJSEQ", "stop_label"], fn, allow_empty=True)
    subj = _subjseq(c["SUBJSEQ"], fn)
    off = _numeric(c["offset"], "offset", fn)
    rnd = _numeric(c["round"], "round", fn)
    ok = np.isfinite(off) & np.isfinite(rnd)
    subj, off, rnd = subj[ok], off[ok], rnd[ok]
    if len(subj) == 0:
        raise _empty(fn, "no IVIG cycles to plot")
    cyc = pd.DataFrame({"SUBJSEQ": subj, "offset": off, "round": rnd})
    per = cyc.groupby("SUBJSEQ").agg(span=("offset", "max"))
    per["length1"] = cyc[cyc["round"] == 1].groupby("SUBJSEQ")["offset"].max()
    per["span"] += 1
    per["length1"] = (per["length1"] + 1).fillna(0)
    per["later"] = cyc[cyc["round"] > 1].groupby("SUBJSEQ").size()
    per["later"] = per["later"].fillna(0)
    stop_map = (pd.Series(s["stop_label"].map(_s).to_numpy(),
                          index=_subjseq(s["SUBJSEQ"], fn))
                if len(s) else pd.Series(dtype=object))
    stop_map = stop_map[~stop_map.index.duplicated(keep="first")]
    per["stop"] = stop_map.reindex(per.index).fillna("").replace("", _NOT_RECORDED).to_numpy()
    per = per.reset_index().sort_values(["length1", "span", "SUBJSEQ"],
                                        ascending=[False, False, True], kind="stable",
                                        ignore_index=True)
    npat = len(per)

    counts = per["stop"].value_counts()
    reasons = sorted(counts.index, key=lambda r: (r == _NOT_RECORDED, -counts[r], r))
    spare = iter(p for p in PALETTE if p not in {v[0] for v in _STOP_STYLE.values()})
    spare_markers = iter(m for m in ("p", "*", "d", "8", "H", "<") * 10)
    style: dict[str, tuple[str, str]] = {}
    for r in reasons:
        key = _stop_key(r)
        if key in _STOP_STYLE:
            style[r] = _STOP_STYLE[key]
        else:
            style[r] = (next(spare, GREY), next(spare_markers))

    if npat > max_lanes:
        return _swimmer_summary(per, reasons, style, counts, title, synthetic)

    height = float(np.clip(1.3 + 0.17 * npat, 3.0, 9.0))
    fig = _new_figure(height)
    ax = fig.add_subplot()
    ypos = pd.Series(np.arange(npat), index=per["SUBJSEQ"].to_numpy())
    lane_pt = (height - 1.3) * 72 / max(npat, 1)
    ms = float(np.clip(0.55 * lane_pt, 2.0, 6.0))

    ax.barh(np.arange(npat), per["span"].to_numpy(), left=0, height=0.5,
            color="#E4E4E4", edgecolor="none", zorder=1)
    yy = ypos.reindex(cyc["SUBJSEQ"].to_numpy()).to_numpy()
    first = cyc["round"].to_numpy() == 1
    xx = cyc["offset"].to_numpy() + 0.5
    ax.scatter(xx[first], yy[first], s=ms ** 2, marker="o", c="#333333",
               linewidths=0, zorder=3)
    if (~first).any():
        ax.scatter(xx[~first], yy[~first], s=ms ** 2, marker="o", facecolors="white",
                   edgecolors="#333333", linewidths=0.9, zorder=3)
    end_x = per["span"].to_numpy() + 0.35
    handles: list[Any] = [
        Line2D([], [], ls="none", marker="o", color="#333333", ms=5, label="Round 1 cycle"),
    ]
    if (~first).any():
        handles.append(Line2D([], [], ls="none", marker="o", mfc="white", mec="#333333",
                              ms=5, label="Later-round cycle"))
    for r in reasons:
        mask = (per["stop"] == r).to_numpy()
        color, marker = style[r]
        ax.scatter(end_x[mask], np.arange(npat)[mask], s=(ms * 1.35) ** 2, marker=marker,
                   c=color, edgecolors="black" if color in (LIGHT_GREY, "#DDDDDD") else "none",
                   linewidths=0.5, zorder=4)
        handles.append(Line2D([], [], ls="none", marker=marker, color=color, ms=6,
                              mec="black" if color in (LIGHT_GREY, "#DDDDDD") else color,
                              mew=0.5, label=f"{r} ({_fmt_int(counts[r])})"))
    ax.set_ylim(npat - 0.4, -0.6)
    ax.set_xlim(0, float(per["span"].max()) + 1.2)
    ax.xaxis.set_major_locator(ticker.MaxNLocator(integer=True, steps=[1, 2, 3, 6, 10]))
    ax.set_xlabel(_s(xlabel), parse_math=False)
    if npat <= 40:
        ax.set_yticks(np.arange(npat), labels=[str(v) for v in per["SUBJSEQ"]],
                      parse_math=False)
        ax.tick_params(axis="y", length=0, labelsize=7 if npat > 25 else 8)
        ax.set_ylabel("Patient (sequence number)", parse_math=False)
    else:
        ax.set_yticks([])
        ax.set_ylabel(f"Patients (N = {npat:,})", parse_math=False)
    ax.spines["left"].set_visible(False)
    leg = fig.legend(handles=handles, loc="outside right upper", title="Stop reason (n)",
                     alignment="left", handletextpad=0.4)
    leg.get_title().set_fontsize(8)
    _title(ax, title, f"N = {npat:,} patients, sorted by round-1 treatment length")
    return _finish(fig, synthetic)


#: summary swimmer: at most this many stop reasons in the legend (a registry has many)
MAX_LEGEND = 10
_OTHER_REASONS = "Other reasons"


def _fewer_reasons(per: pd.DataFrame, reasons: list[str],
                   style: dict[str, tuple[str, str]]) -> tuple[pd.DataFrame, list[str], dict, pd.Series]:
    """At most :data:`MAX_LEGEND` stop reasons: detailed labels ("Adverse event:
    Headache") fold into their reason ("Adverse event"), then the rarest reasons
    into "Other reasons"."""
    stop = per["stop"].astype(str)
    if len(reasons) > MAX_LEGEND:
        stop = stop.str.split(": ", n=1).str[0]
    counts = stop.value_counts()
    order = sorted(counts.index, key=lambda r: (r == _NOT_RECORDED, -counts[r], r))
    if len(order) > MAX_LEGEND:
        keep = [r for r in order if r != _NOT_RECORDED][:MAX_LEGEND - 2]
        keep += [_NOT_RECORDED] if _NOT_RECORDED in counts.index else []
        stop = stop.where(stop.isin(keep), _OTHER_REASONS)
        counts = stop.value_counts()
        order = sorted(counts.index, key=lambda r: (r == _NOT_RECORDED, r == _OTHER_REASONS,
                                                    -counts[r], r))
    new_style = {}
    for r in order:
        key = _stop_key(r)
        new_style[r] = style.get(r) or _STOP_STYLE.get(key) or (
            LIGHT_GREY if r == _OTHER_REASONS else GREY, "o")
    return per.assign(stop=stop.to_numpy()), order, new_style, counts


def _swimmer_summary(per: pd.DataFrame, reasons: list[str],
                     style: dict[str, tuple[str, str]], counts: pd.Series,
                     title: str | None, synthetic: bool) -> Figure:
    npat = len(per)
    if len(reasons) > MAX_LEGEND:
        per, reasons, style, counts = _fewer_reasons(per, reasons, style)
    fig = _new_figure()
    ax = fig.add_subplot()
    length = per["length1"].to_numpy().astype(int)
    top = int(length.max())
    bins = np.arange(0, top + 2) - 0.5
    bottom = np.zeros(len(bins) - 1)
    for r in reasons:
        h, _ = np.histogram(length[(per["stop"] == r).to_numpy()], bins=bins)
        color, _m = style[r]
        ax.bar(bins[:-1] + 0.5, h, bottom=bottom, width=0.85, color=color, edgecolor="none",
               label=f"{r} ({_fmt_int(counts[r])})")
        bottom += h
    ax.set_xlabel("Round-1 treatment length (months)", parse_math=False)
    ax.set_ylabel("Patients, n", parse_math=False)
    ax.xaxis.set_major_locator(ticker.MaxNLocator(integer=True))
    ax.yaxis.set_major_formatter(ticker.FuncFormatter(lambda v, _p: f"{v:,.0f}"))
    ax.set_xlim(max(int(length.min()) - 0.6, -0.6), top + 0.6)
    fig.legend(loc="outside right upper", title="Stop reason (n)", alignment="left",
               reverse=True)  # same order as the stack, top to bottom
    later = int((per["later"] > 0).sum())
    note = (f"N = {npat:,} patients (too many for one lane each):\n"
            f"round-1 treatment length by stop reason")
    if later:
        note += f"\n(later rounds of {_plural(later, 'patient')} not shown)"
    _title(ax, title, note)
    return _finish(fig, synthetic)


# ------------------------------------------------------------------ mean trajectory
@_styled
def mean_trajectory(summary: pd.DataFrame, ylabel: str, title: str | None = None,
                    ref_x: float | None = 0, *, xlabel: str = "Months since IVIG start",
                    synthetic: bool = False) -> Figure:
    """Mean with 95% CI by month, a dashed "IVIG start" line and a row of N under the axis.

    ``summary`` columns: month, n, mean, ci_low, ci_high, optional ``series`` (one
    line each, dodged slightly, one N row each).
    """
    fn = "mean_trajectory"
    df = _frame(summary, ["month", "n", "mean", "ci_low", "ci_high"], fn, optional=["series"])
    month = _numeric(df["month"], "month", fn)
    nn = _numeric(df["n"], "n", fn)
    mean = _numeric(df["mean"], "mean", fn)
    lo = _numeric(df["ci_low"], "ci_low", fn)
    hi = _numeric(df["ci_high"], "ci_high", fn)
    if not np.isfinite(mean).any() or not np.isfinite(month).any():
        raise _empty(fn, "no mean to plot")
    series = (df["series"].map(_s) if "series" in df else pd.Series([""] * len(df)))
    names = _unique_in_order(series)
    months = np.unique(month[np.isfinite(month)])
    step = float(np.min(np.diff(months))) if len(months) > 1 else 1.0
    offsets = _dodge(len(names), 0.12 * step) if len(names) > 1 else np.zeros(1)
    ticks = _thin_ticks(months)

    fig = _new_figure()
    ax = fig.add_subplot()
    rows = []
    for j, name in enumerate(names):
        m = (series == name).to_numpy() & np.isfinite(month)
        order = np.argsort(month[m], kind="stable")
        x, y = month[m][order], mean[m][order]
        l, h, cnt = lo[m][order], hi[m][order], nn[m][order]
        color = PALETTE[j % len(PALETTE)] if len(names) > 1 else "black"
        label = f"{name}: mean ({_CI_LABEL})" if name else f"Mean ({_CI_LABEL})"
        fin = np.isfinite(y)
        ax.errorbar(x[fin] + offsets[j], y[fin], yerr=_yerr(y[fin], l[fin], h[fin]),
                    fmt="-", marker=MARKERS[j % len(MARKERS)], ms=5, color=color, lw=1.5,
                    capsize=3, elinewidth=1.0, label=label, zorder=3)
        by_month = dict(zip(x, cnt))
        rows.append((f"N, {name}" if name else "N", ticks,
                     np.array([by_month.get(t, np.nan) for t in ticks]),
                     color if len(names) > 1 else "black"))
    ax.set_xticks(ticks)
    ax.set_xlim(months.min() - 0.5 * step, months.max() + 0.5 * step)
    _nice_y(ax)
    _ref_line(ax, ref_x)
    ax.set_ylabel(_s(ylabel), parse_math=False)
    ax.set_xlabel(_s(xlabel), parse_math=False)
    _n_rows(ax, rows)
    ax.legend(loc="best", handlelength=2.2)
    _title(ax, title)
    return _finish(fig, synthetic)


# ------------------------------------------------------------------ spaghetti
@_styled
def spaghetti(long: pd.DataFrame, ylabel: str, max_lines: int = MAX_LINES, seed: int = 0, *,
              min_n: int = 3, xlabel: str = "Months since IVIG start",
              ref_x: float | None = 0, title: str | None = None,
              synthetic: bool = False) -> Figure:
    """Thin grey line per patient (seeded sample of ``max_lines``) and the bold mean of all.

    ``long`` columns: SUBJSEQ, month, value. The mean at each month uses every
    patient with a value that month (not only those drawn) and is drawn only for
    months with at least ``min_n`` patients (the N row shows every tick month).
    With irregular visits, bin the months before calling (as ``trajectory`` does).
    """
    fn = "spaghetti"
    if max_lines < 0:
        raise _fail(fn, "max_lines must be >= 0")
    df = _frame(long, ["SUBJSEQ", "month", "value"], fn)
    subj = _subjseq(df["SUBJSEQ"], fn)
    x = _numeric(df["month"], "month", fn)
    y = _numeric(df["value"], "value", fn)
    ok = np.isfinite(x) & np.isfinite(y)
    subj, x, y = subj[ok], x[ok], y[ok]
    if len(subj) == 0:
        raise _empty(fn, "no values to plot")
    total = len(np.unique(subj))
    shown = _sample(subj, max_lines, seed) if max_lines else np.array([], dtype=np.int64)
    keep = np.isin(subj, shown)

    fig = _new_figure()
    ax = fig.add_subplot()
    if keep.any():
        segs = _segments(subj[keep], x[keep], y[keep])
        ax.add_collection(LineCollection(segs, gid="patients", colors=GREY, linewidths=0.7,
                                         alpha=0.55, zorder=2,
                                         label=f"Individual patients ({len(shown):,})"))
        ax.scatter(x[keep], y[keep], s=6, c=GREY, alpha=0.55, linewidths=0, zorder=2)
    means = pd.DataFrame({"month": x, "value": y}).groupby("month")["value"].agg(["mean", "size"])
    dense = means[means["size"] >= min_n]
    ax.plot(dense.index.to_numpy(), dense["mean"].to_numpy(), color="black", lw=2.4,
            marker="o", ms=4, zorder=4,
            label=f"Mean of all {total:,} patients" + (f" (months with ≥ {min_n})"
                                                        if len(dense) < len(means) else ""))
    ax.autoscale_view()
    _nice_y(ax)
    months = means.index.to_numpy()
    ticks = _thin_ticks(months)
    if len(ticks) >= 2:
        ax.set_xticks(ticks)
        _n_rows(ax, [("N", ticks, means["size"].reindex(ticks).to_numpy(dtype=float), "black")])
    else:
        _month_x(ax)
    _ref_line(ax, ref_x)
    ax.set_ylabel(_s(ylabel), parse_math=False)
    ax.set_xlabel(_s(xlabel), parse_math=False)
    ax.legend(loc="best")
    note = _sample_note(len(shown), total, seed) or f"All {total:,} patients shown"
    _title(ax, title, note)
    return _finish(fig, synthetic)


# ------------------------------------------------------------------ waterfall
@_styled
def waterfall(changes: pd.DataFrame, mcid: float = 5.0, ylabel: str = "Change in mRSS", *,
              max_bars: int = MAX_BARS, title: str | None = None,
              synthetic: bool = False) -> Figure:
    """Change per patient, largest increase left to largest decrease right.

    Responders (``CHG <= -mcid``) in blue, others in orange; dashed line at −mcid.
    Above ``max_bars`` patients the sorted changes are drawn as an area over the
    percentage of patients.
    """
    fn = "waterfall"
    df = _frame(changes, ["SUBJSEQ", "CHG"], fn)
    subj = _subjseq(df["SUBJSEQ"], fn)
    chg = _numeric(df["CHG"], "CHG", fn)
    ok = np.isfinite(chg)
    subj, chg = subj[ok], chg[ok]
    if len(chg) == 0:
        raise _empty(fn, "no changes to plot")
    order = np.lexsort((subj, -chg))
    chg = chg[order]
    npat = len(chg)
    resp = chg <= -mcid
    k = int(resp.sum())
    c_resp, c_non = OKABE_ITO["blue"], OKABE_ITO["orange"]
    handles = [
        Patch(color=c_resp, label=f"Responder (fall ≥ {mcid:g} points): {k:,} "
                                  f"({100 * k / npat:.0f}%)"),
        Patch(color=c_non, label=f"Non-responder: {npat - k:,} ({100 * (npat - k) / npat:.0f}%)"),
    ]

    fig = _new_figure()
    ax = fig.add_subplot()
    if npat <= max_bars:
        colors = np.where(resp, c_resp, c_non)
        ax.bar(np.arange(npat), chg, width=0.8, color=colors, edgecolor="none", zorder=2)
        zero = chg == 0  # a zero-height bar is invisible: mark it on the axis
        if zero.any():
            ax.scatter(np.flatnonzero(zero), np.zeros(zero.sum()), marker="_", s=40,
                       c=colors[zero], linewidths=2.5, zorder=4)
        ax.set_xlim(-0.8, npat - 0.2)
        ax.set_xticks([])
        ax.set_xlabel(f"Patients (N = {npat:,}), sorted from largest increase to largest decrease",
                      parse_math=False)
        note = None
    else:
        idx = np.unique(np.linspace(0, npat - 1, min(npat, 2000)).round().astype(int))
        xs = 100.0 * (idx + 0.5) / npat
        ys = chg[idx]
        r = resp[idx]
        j = int(np.argmax(r)) if r.any() else len(idx)
        if j > 0:
            ax.fill_between(xs[: j + 1], ys[: j + 1], 0, color=c_non, lw=0, zorder=2)
        if j < len(idx):
            ax.fill_between(xs[j:], ys[j:], 0, color=c_resp, lw=0, zorder=2)
        ax.set_xlim(0, 100)
        ax.set_xlabel("Patients (%), sorted from largest increase to largest decrease",
                      parse_math=False)
        note = (f"N = {npat:,} patients (too many for one bar each):\n"
                f"sorted changes drawn as an area")
    ax.axhline(0, color="black", lw=0.8, zorder=3)
    ax.axhline(-mcid, color="#444444", lw=1.0, ls="--", zorder=3)
    ax.annotate(f"MCID (−{mcid:g})", xy=(0, -mcid), xycoords=("axes fraction", "data"),
                xytext=(4, -2), textcoords="offset points", ha="left", va="top",
                fontsize=8, color="#444444", parse_math=False)
    lo, hi = float(min(chg.min(), -mcid)), float(max(chg.max(), 0))
    span = hi - lo or 1.0
    ax.set_ylim(lo - 0.06 * span, hi + 0.06 * span)
    ax.spines["bottom"].set_visible(False)
    _nice_y(ax)
    ax.set_ylabel(_s(ylabel), parse_math=False)
    ax.legend(handles=handles, loc="upper right")
    _title(ax, title, note)
    return _finish(fig, synthetic)


# ------------------------------------------------------------------ forest
@_styled
def forest(rows: pd.DataFrame, null: float = 1.0, log: bool = True,
           xlabel: str = "Odds ratio (95% CI)", *, header: str = "Estimate (95% CI)",
           title: str | None = None, synthetic: bool = False) -> Figure:
    """Forest plot: one row per label, groups offset within a row, a text column on the right.

    ``rows`` columns: label, estimate, ci_low, ci_high, optional ``group`` and ``p``.
    A missing estimate (e.g. separation; on a log axis also an estimate <= 0) is
    written "not estimable"; a CI bound that is infinite, <= 0 on a log axis or
    beyond the axis (at most 3 decades either side of ``null``) ends in an arrow at
    the axis edge. The text column shows the values as given.
    """
    fn = "forest"
    df = _frame(rows, ["label", "estimate", "ci_low", "ci_high"], fn, optional=["group", "p"])
    est = _numeric(df["estimate"], "estimate", fn)
    lo = _numeric(df["ci_low"], "ci_low", fn)
    hi = _numeric(df["ci_high"], "ci_high", fn)
    pv = _numeric(df["p"], "p", fn) if "p" in df else np.full(len(df), np.nan)
    labels = df["label"].map(_s)
    groups = df["group"].map(_s) if "group" in df else pd.Series([""] * len(df))
    lo_txt, hi_txt = lo.copy(), hi.copy()
    if log:
        est = np.where(est > 0, est, np.nan)
        lo = np.where(lo > 0, lo, np.where(np.isnan(lo), np.nan, -np.inf))  # off the left edge
    label_order = _unique_in_order(labels)
    group_order = _unique_in_order(groups)
    ng, nl = len(group_order), len(label_order)
    lab_idx = labels.map({v: i for i, v in enumerate(label_order)}).to_numpy()
    grp_idx = groups.map({v: i for i, v in enumerate(group_order)}).to_numpy()
    slot = min(0.8 / ng, 0.3) if ng > 1 else 0.0
    ypos = lab_idx + _dodge(ng, slot)[grp_idx]

    finite = np.concatenate([v[np.isfinite(v)] for v in (est, lo, hi)] + [np.array([null])])
    if log:
        finite = finite[finite > 0]
        xmin = max(finite.min(), null * 1e-3) / 1.25
        xmax = min(finite.max(), null * 1e3) * 1.25
    else:
        span = (finite.max() - finite.min()) or 1.0
        xmin, xmax = finite.min() - 0.06 * span, finite.max() + 0.06 * span

    height = max(2.4, 1.35 + nl * (0.12 + 0.2 * ng) + (0.3 if ng > 1 else 0))
    fig = _new_figure(height)
    ax = fig.add_subplot()
    ax.axvline(null, color="#444444", lw=0.9, zorder=1)
    handles = []
    for g, gname in enumerate(group_order):
        m = grp_idx == g
        color = PALETTE[g % len(PALETTE)] if ng > 1 else "black"
        marker = "s" if ng == 1 else MARKERS[g % len(MARKERS)]
        e, l, h, yy = est[m], lo[m], hi[m], ypos[m]
        ok = np.isfinite(e)
        l_draw = np.where(np.isnan(l), e, np.clip(l, xmin, xmax))
        h_draw = np.where(np.isnan(h), e, np.clip(h, xmin, xmax))
        ax.hlines(yy[ok], l_draw[ok], h_draw[ok], color=color, lw=1.2, zorder=2)
        ax.scatter(e[ok], yy[ok], marker=marker, s=30, c=color, zorder=3, linewidths=0)
        left = ok & (l < xmin)
        right = ok & (h > xmax)
        ax.scatter(np.full(left.sum(), xmin), yy[left], marker="<", s=25, c=color, zorder=3,
                   linewidths=0, clip_on=False)
        ax.scatter(np.full(right.sum(), xmax), yy[right], marker=">", s=25, c=color, zorder=3,
                   linewidths=0, clip_on=False)
        for y_ in yy[~ok]:
            ax.text(null, y_, "not estimable", ha="center", va="center", fontsize=7.5,
                    style="italic", color=GREY, zorder=4, parse_math=False,
                    bbox=dict(fc="white", ec="none", pad=0.5))
        if ng > 1:
            handles.append(Line2D([], [], ls="-", marker=marker, color=color, ms=6,
                                  label=gname or "(no group)"))
    if log:
        ax.set_xscale("log")
        _log_axis(ax.xaxis, xmin, xmax)
    ax.set_xlim(xmin, xmax)
    ax.set_ylim(nl - 0.5, -0.5 - (0.1 if ng > 1 else 0))
    ax.set_yticks(np.arange(nl), labels=label_order, parse_math=False)
    ax.tick_params(axis="y", length=0)
    ax.spines["left"].set_visible(False)
    ax.set_xlabel(_s(xlabel), parse_math=False)

    # right-hand text columns
    has_p = np.isfinite(pv).any()
    est_dx, p_dx = 10, 128
    header_xform = ax.transAxes
    ax.annotate(_s(header), xy=(1, 1), xycoords=header_xform, xytext=(est_dx, 2),
                textcoords="offset points", ha="left", va="bottom", fontsize=8,
                fontweight="bold", parse_math=False)
    if has_p:
        ax.annotate("p", xy=(1, 1), xycoords=header_xform, xytext=(p_dx, 2),
                    textcoords="offset points", ha="left", va="bottom", fontsize=8,
                    fontweight="bold", style="italic", parse_math=False)
    for i in range(len(df)):
        color = PALETTE[grp_idx[i] % len(PALETTE)] if ng > 1 else "black"
        if np.isfinite(est[i]):
            vals = (est[i], lo_txt[i], hi_txt[i])
            sep = " to " if any(v < 0 for v in vals if not np.isnan(v)) else "–"
            text = _fmt_est(est[i])
            if not (np.isnan(lo_txt[i]) and np.isnan(hi_txt[i])):
                text += f" ({_fmt_est(lo_txt[i])}{sep}{_fmt_est(hi_txt[i])})"
        else:
            text = "not estimable"
        ax.annotate(text, xy=(1, ypos[i]), xycoords=("axes fraction", "data"),
                    xytext=(est_dx, 0), textcoords="offset points", ha="left", va="center",
                    fontsize=8, color=color, parse_math=False, annotation_clip=False)
        if has_p and np.isfinite(pv[i]):
            ax.annotate(_fmt_p(pv[i]), xy=(1, ypos[i]), xycoords=("axes fraction", "data"),
                        xytext=(p_dx, 0), textcoords="offset points", ha="left",
                        va="center", fontsize=8, color=color, parse_math=False,
                        annotation_clip=False)
    if ng > 1:
        fig.legend(handles=handles, loc="outside lower center", ncols=min(ng, 4))
    _title(ax, title)
    return _finish(fig, synthetic)


# ------------------------------------------------------------------ window sensitivity
@_styled
def estimate_by_window(df: pd.DataFrame, ylabel: str = "Mean change in mRSS", *,
                       xlabel: str = "Visit window (± months around the target)",
                       null: float | None = 0.0, title: str | None = None,
                       synthetic: bool = False) -> Figure:
    """Estimate with 95% CI against visit-window width, one line per visit, N rows below.

    ``df`` columns: window (tick label), halfwidth (x position), visit, estimate,
    ci_low, ci_high, n. A dashed line marks ``null`` (no change) unless None.
    """
    fn = "estimate_by_window"
    d = _frame(df, ["window", "halfwidth", "visit", "estimate", "ci_low", "ci_high", "n"], fn)
    hw = _numeric(d["halfwidth"], "halfwidth", fn)
    est = _numeric(d["estimate"], "estimate", fn)
    lo = _numeric(d["ci_low"], "ci_low", fn)
    hi = _numeric(d["ci_high"], "ci_high", fn)
    nn = _numeric(d["n"], "n", fn)
    if not (np.isfinite(hw) & np.isfinite(est)).any():
        raise _empty(fn, "no estimate to plot")
    visits = _unique_in_order(d["visit"].map(_s))
    vcol = d["visit"].map(_s).to_numpy()
    xs = np.unique(hw[np.isfinite(hw)])
    tick_labels = []
    for x in xs:
        first = d["window"][hw == x].map(_s)
        tick_labels.append(first.iloc[0] if len(first) else _fmt_plain(x))
    step = float(np.min(np.diff(xs))) if len(xs) > 1 else 1.0
    offsets = _dodge(len(visits), 0.1 * step)

    fig = _new_figure()
    ax = fig.add_subplot()
    if null is not None:
        ax.axhline(null, color=GREY, lw=0.9, ls="--", zorder=1)
    rows = []
    for j, v in enumerate(visits):
        m = (vcol == v) & np.isfinite(hw)
        order = np.argsort(hw[m], kind="stable")
        x, y, l, h, cnt = (a[m][order] for a in (hw, est, lo, hi, nn))
        fin = np.isfinite(y)
        color = PALETTE[j % len(PALETTE)]
        ax.errorbar(x[fin] + offsets[j], y[fin], yerr=_yerr(y[fin], l[fin], h[fin]), fmt="-",
                    marker=MARKERS[j % len(MARKERS)], ms=5, color=color, capsize=3,
                    elinewidth=1.0, lw=1.3, label=v or "Estimate", zorder=3)
        by_x = dict(zip(x, cnt))
        rows.append((f"N, {v}" if v else "N", xs, np.array([by_x.get(t, np.nan) for t in xs]),
                     color))
    ax.set_xticks(xs, labels=tick_labels, parse_math=False)
    ax.set_xlim(xs.min() - 0.5 * step, xs.max() + 0.5 * step)
    ax.set_ylabel(_s(ylabel), parse_math=False)
    ax.set_xlabel(_s(xlabel), parse_math=False)
    _nice_y(ax)
    _n_rows(ax, rows)
    fig.legend(loc="outside right upper", title=f"Visit\n(mean, {_CI_LABEL})", alignment="left")
    _title(ax, title)
    return _finish(fig, synthetic)


# ------------------------------------------------------------------ lab course
@_styled
def lab_course(long: pd.DataFrame, ylabel: str = "CK (U/L)", uln: float | None = None, *,
               xlabel: str = "Months since IVIG start", ref_x: float | None = 0,
               max_lines: int = MAX_LINES, seed: int = 0, title: str | None = None,
               synthetic: bool = False) -> Figure:
    """One line per patient (coloured with a legend up to 8 patients, grey beyond).

    ``long`` columns: SUBJSEQ, month, value. Optional dashed upper limit of normal;
    log y axis when all values are positive and span more than two decades.
    """
    fn = "lab_course"
    df = _frame(long, ["SUBJSEQ", "month", "value"], fn)
    subj = _subjseq(df["SUBJSEQ"], fn)
    x = _numeric(df["month"], "month", fn)
    y = _numeric(df["value"], "value", fn)
    ok = np.isfinite(x) & np.isfinite(y)
    subj, x, y = subj[ok], x[ok], y[ok]
    if len(subj) == 0:
        raise _empty(fn, "no values to plot")
    total = len(np.unique(subj))
    shown = _sample(subj, max_lines, seed)
    keep = np.isin(subj, shown)
    subj, x, y = subj[keep], x[keep], y[keep]
    few = len(shown) <= 8
    colors = ({s: PALETTE[i % len(PALETTE)] for i, s in enumerate(shown)} if few
              else {s: GREY for s in shown})

    fig = _new_figure()
    ax = fig.add_subplot()
    segs = _segments(subj, x, y)
    seg_ids = np.unique(subj)  # _segments orders by subject
    ax.add_collection(LineCollection(segs, gid="patients", colors=[colors[s] for s in seg_ids],
                                     linewidths=1.3 if few else 0.8, alpha=1.0 if few else 0.6,
                                     zorder=2))
    ax.scatter(x, y, s=16 if few else 6, c=[colors[s] for s in subj], linewidths=0, zorder=3)
    ax.autoscale_view()
    vals = y if uln is None else np.append(y, uln)
    if vals.min() > 0 and vals.max() / vals.min() > 100:
        ax.set_yscale("log")
        lo_, hi_ = vals.min() / 1.3, vals.max() * 1.3
        ax.set_ylim(lo_, hi_)
        _log_axis(ax.yaxis, lo_, hi_)
    if uln is not None and np.isfinite(uln):
        ax.axhline(uln, color="#444444", lw=1.0, ls="--", zorder=1)
        ax.annotate(f"ULN\n{_fmt_plain(uln) if uln > 0 else f'{uln:g}'}", xy=(1, uln),
                    xycoords=("axes fraction", "data"), xytext=(4, 0),
                    textcoords="offset points", ha="left", va="center", fontsize=8,
                    color="#444444", parse_math=False, annotation_clip=False)
        if ax.get_yscale() != "log":
            lo_, hi_ = ax.get_ylim()
            pad = 0.05 * (hi_ - lo_)
            ax.set_ylim(min(lo_, uln - pad), max(hi_, uln + pad))
    if ax.get_yscale() != "log":
        _nice_y(ax)
    _month_x(ax)
    _ref_line(ax, ref_x)
    ax.set_ylabel(_s(ylabel), parse_math=False)
    ax.set_xlabel(_s(xlabel), parse_math=False)
    if few:
        handles = [Line2D([], [], color=colors[s], marker="o", ms=4, label=f"Patient {s}")
                   for s in shown]
        ax.legend(handles=handles, loc="best", ncols=2 if len(shown) > 4 else 1)
    note = _sample_note(len(shown), total, seed) or f"N = {total:,} patients"
    _title(ax, title, note)
    return _finish(fig, synthetic)


# ------------------------------------------------------------------ paired change
@_styled
def paired_change(df: pd.DataFrame, ylabel: str, *, max_lines: int = MAX_LINES, seed: int = 0,
                  labels: tuple[str, str] = ("Baseline", "Follow-up"),
                  title: str | None = None, synthetic: bool = False) -> Figure:
    """Before/after dots joined per patient (blue = decrease, orange = increase) and means.

    ``df`` columns: SUBJSEQ, BASE, AVAL; patients with both values are drawn (a
    seeded sample of ``max_lines`` beyond that); means with 95% t-intervals use all.
    """
    fn = "paired_change"
    d = _frame(df, ["SUBJSEQ", "BASE", "AVAL"], fn)
    subj = _subjseq(d["SUBJSEQ"], fn)
    b = _numeric(d["BASE"], "BASE", fn)
    a = _numeric(d["AVAL"], "AVAL", fn)
    ok = np.isfinite(b) & np.isfinite(a)
    subj, b, a = subj[ok], b[ok], a[ok]
    if len(subj) == 0:
        raise _empty(fn, "no patient has both values")
    npat = len(subj)
    shown = _sample(subj, max_lines, seed)
    keep = np.isin(subj, shown)
    diff = a - b
    c_dec, c_inc, c_same = OKABE_ITO["blue"], OKABE_ITO["orange"], GREY
    col = np.where(diff < 0, c_dec, np.where(diff > 0, c_inc, c_same))

    fig = _new_figure()
    ax = fig.add_subplot()
    segs = np.stack([np.column_stack([np.zeros(keep.sum()), b[keep]]),
                     np.column_stack([np.ones(keep.sum()), a[keep]])], axis=1)
    ax.add_collection(LineCollection(segs, gid="patients", colors=col[keep], linewidths=0.9,
                                     alpha=0.7, zorder=2))
    ax.scatter(np.concatenate([np.zeros(keep.sum()), np.ones(keep.sum())]),
               np.concatenate([b[keep], a[keep]]), s=14,
               c=np.concatenate([col[keep], col[keep]]), linewidths=0, alpha=0.85, zorder=3)
    mb, mb_lo, mb_hi = _mean_ci(b)
    ma, ma_lo, ma_hi = _mean_ci(a)
    mx = np.array([-0.18, 1.18])
    my = np.array([mb, ma])
    ax.errorbar(mx, my, yerr=_yerr(my, np.array([mb_lo, ma_lo]), np.array([mb_hi, ma_hi])),
                fmt="-D", color="black", ms=6, lw=2.2, capsize=4, elinewidth=1.3, zorder=4)
    ax.autoscale_view()
    _nice_y(ax)
    ax.set_xlim(-0.45, 1.45)
    ax.set_xticks([0, 1], labels=[_s(labels[0]), _s(labels[1])], parse_math=False)
    ax.tick_params(axis="x", length=0)
    ax.set_ylabel(_s(ylabel), parse_math=False)
    n_dec, n_inc = int((diff < 0).sum()), int((diff > 0).sum())
    handles = [Line2D([], [], color=c_dec, marker="o", ms=4, label=f"Decrease ({n_dec:,})"),
               Line2D([], [], color=c_inc, marker="o", ms=4, label=f"Increase ({n_inc:,})")]
    if npat - n_dec - n_inc:
        handles.append(Line2D([], [], color=c_same, marker="o", ms=4,
                              label=f"No change ({npat - n_dec - n_inc:,})"))
    handles.append(Line2D([], [], color="black", marker="D", lw=2.2, ms=5,
                          label=f"Mean ({_CI_LABEL}), all {npat:,}"))
    fig.legend(handles=handles, loc="outside right upper", title="Patients (n)",
               alignment="left")
    dm, dlo, dhi = _mean_ci(diff)
    change = f"mean change {_fmt_est(dm)}"
    if np.isfinite(dlo):
        change += f" ({_CI_LABEL} {_fmt_est(dlo)} to {_fmt_est(dhi)})"
    note = f"N = {npat:,} patients with both values\n{change[0].upper()}{change[1:]}"
    sampled = _sample_note(len(shown), npat, seed)
    if sampled:
        note += f"\n{sampled}"
    _title(ax, title, note)
    return _finish(fig, synthetic)


# ------------------------------------------------------------------ counts
@_styled
def bar_counts(df: pd.DataFrame, xlabel: str = "Patients, n", *, title: str | None = None,
               sort: bool = True, pct_decimals: int = 0, color: str = OKABE_ITO["blue"],
               synthetic: bool = False) -> Figure:
    """Horizontal bars, largest on top, each annotated "n (pct%)".

    ``df`` columns: label, n, pct (percent, may be NA). Used for adverse events and
    stop reasons. ``sort=False`` keeps the input order top to bottom (e.g. an AET02
    order with "Other" last).
    """
    fn = "bar_counts"
    d = _frame(df, ["label", "n", "pct"], fn)
    n = _numeric(d["n"], "n", fn)
    pct = _numeric(d["pct"], "pct", fn)
    labels = d["label"].map(_s).to_numpy()
    ok = np.isfinite(n)
    if not ok.any():
        raise _empty(fn, "no counts to plot")
    n, pct, labels = n[ok], pct[ok], labels[ok]
    if sort:
        order = np.lexsort((labels, -n))
        n, pct, labels = n[order], pct[order], labels[order]
    k = len(n)
    height = max(2.0, 0.9 + 0.27 * k)
    fig = _new_figure(height)
    ax = fig.add_subplot()
    ypos = np.arange(k)
    ax.barh(ypos, n, height=0.65, color=color, edgecolor="none", zorder=2)
    for yv, nv, pv in zip(ypos, n, pct):
        text = _fmt_int(nv) + (f" ({pv:.{pct_decimals}f}%)" if np.isfinite(pv) else "")
        ax.annotate(text, xy=(nv, yv), xytext=(3, 0), textcoords="offset points",
                    ha="left", va="center", fontsize=8, parse_math=False,
                    annotation_clip=False)
    ax.set_yticks(ypos, labels=list(labels), parse_math=False)
    ax.set_ylim(k - 0.5, -0.5)
    ax.tick_params(axis="y", length=0)
    ax.spines["left"].set_visible(False)
    top = float(n.max()) if n.max() > 0 else 1.0
    ax.set_xlim(0, top * 1.22)
    ax.xaxis.set_major_locator(ticker.MaxNLocator(integer=True))
    ax.xaxis.set_major_formatter(ticker.FuncFormatter(lambda v, _p: f"{v:,.0f}"))
    ax.set_xlabel(_s(xlabel), parse_math=False)
    _title(ax, title)
    return _finish(fig, synthetic)


# ------------------------------------------------------------------ output
def to_png_bytes(fig: Figure, dpi: int = DPI) -> bytes:
    """PNG bytes, identical run to run (fixed dpi, no software/version metadata).

    The figure is closed in pyplot if pyplot manages it (figures from this module
    are not managed and need no closing).
    """
    buf = io.BytesIO()
    with mpl.rc_context(STYLE):
        fig.savefig(buf, format="png", dpi=dpi, facecolor="white",
                    metadata={"Software": None})
    plt = sys.modules.get("matplotlib.pyplot")
    if plt is not None:
        plt.close(fig)
    return buf.getvalue()
