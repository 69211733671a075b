"""What every figure shares: size, palette, markers, the synthetic-data stamp, argument
checks, axis helpers, and the PNG output.
"""

from __future__ import annotations

import io
import math
import sys
from collections.abc import Callable, Sequence
from functools import wraps
from typing import Any

import matplotlib as mpl
import numpy as np
import pandas as pd
from matplotlib import ticker
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.text import Text

# ------------------------------------------------------------------ constants
FIG_WIDTH = 7.0  #: inches, every figure


FIG_HEIGHT = 4.0  #: inches, figures whose height does not depend on row count


DPI = 110  #: dots per inch, figure and PNG


MAX_LINES = 60  #: default number of patient lines drawn (seeded sample beyond)


MAX_LANES = 150  #: swimmer: above this, a histogram of treatment length


MAX_BARS = 150  #: waterfall: above this, a sorted area instead of bars


SYNTHETIC_CAPTION = "Synthetic data"


#: Okabe-Ito colour-blind-safe palette.
OKABE_ITO = {
    "black": "#000000",
    "orange": "#E69F00",
    "sky_blue": "#56B4E9",
    "bluish_green": "#009E73",
    "yellow": "#F0E442",
    "blue": "#0072B2",
    "vermillion": "#D55E00",
    "reddish_purple": "#CC79A7",
}


#: Order used for series/groups (yellow last: weak on white).
PALETTE = (
    OKABE_ITO["blue"],
    OKABE_ITO["orange"],
    OKABE_ITO["bluish_green"],
    OKABE_ITO["vermillion"],
    OKABE_ITO["reddish_purple"],
    OKABE_ITO["sky_blue"],
    OKABE_ITO["black"],
    OKABE_ITO["yellow"],
)


MARKERS = ("o", "s", "D", "^", "v", "P", "X", "h")


GREY = "#6E6E6E"


LIGHT_GREY = "#BDBDBD"


_CI_LABEL = "95% CI"


#: House style, applied while each figure is built and saved.
STYLE: dict[str, Any] = {
    "font.family": "sans-serif",
    "font.sans-serif": ["DejaVu Sans"],  # ships with matplotlib: same glyphs everywhere
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


def _new_figure(
    height: float = FIG_HEIGHT, width: float = FIG_WIDTH, layout: str | None = "constrained"
) -> Figure:
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
        fig.text(
            0.995,
            0.004,
            SYNTHETIC_CAPTION,
            ha="right",
            va="bottom",
            fontsize=7,
            color="#8C8C8C",
            style="italic",
            gid="synthetic-caption",
        )
    for ax in fig.axes:
        for axis in (ax.xaxis, ax.yaxis):
            # create the first tick now (under STYLE); later ticks copy its properties
            axis.majorTicks[0]
            axis.minorTicks[0]
    for text in fig.findobj(Text):
        text.set_parse_math(False)
        text.set_usetex(False)
    return fig


def _fail(fn: str, message: str) -> ValueError:
    """Contract violation (missing column, non-numeric value, identifier)."""
    return ValueError(f"{fn}(): {message}")


def _empty(fn: str, message: str) -> NoDataError:
    return NoDataError(f"{fn}(): {message}")


def _frame(
    df: Any,
    columns: Sequence[str],
    fn: str,
    *,
    allow_empty: bool = False,
    optional: Sequence[str] = (),
) -> pd.DataFrame:
    """Check the column contract; return a copy holding only the contract columns."""
    if not isinstance(df, pd.DataFrame):
        raise TypeError(f"{fn}(): expected a pandas DataFrame, got {type(df).__name__}")
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise _fail(
            fn,
            f"missing column(s) {', '.join(missing)}; "
            f"expected {', '.join(list(columns) + [f'[{o}]' for o in optional])}",
        )
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
        raise _fail(
            fn,
            f"column {name} must be numeric (first bad row: "
            f"{int(np.flatnonzero(bad.to_numpy())[0])})",
        )
    return out.to_numpy(dtype=float, na_value=np.nan)


def _subjseq(series: pd.Series, fn: str) -> np.ndarray:
    """The anonymous integer sequence number; anything else is refused."""
    vals = pd.to_numeric(series, errors="coerce")
    arr = vals.to_numpy(dtype=float, na_value=np.nan)
    if np.isnan(arr).any() or not np.all(arr == np.round(arr)):
        raise _fail(
            fn,
            "SUBJSEQ must be the anonymous integer sequence number "
            "(patient identifiers are never drawn)",
        )
    return arr.astype(np.int64)


def _patient_values(df: Any, columns: Sequence[str], fn: str, empty: str) -> tuple[np.ndarray, ...]:
    """``SUBJSEQ`` and the numeric ``columns`` of ``df``, keeping rows where every value is
    finite; :class:`NoDataError` with ``empty`` when none is left."""
    frame = _frame(df, ["SUBJSEQ", *columns], fn)
    subj = _subjseq(frame["SUBJSEQ"], fn)
    values = [_numeric(frame[c], c, fn) for c in columns]
    ok = np.logical_and.reduce([np.isfinite(v) for v in values])
    if not ok.any():
        raise _empty(fn, empty)
    return (subj[ok], *(v[ok] for v in values))


def _ci_line(
    ax: Any,
    x: np.ndarray,
    y: np.ndarray,
    lo: np.ndarray,
    hi: np.ndarray,
    *,
    offset: float,
    j: int,
    color: str,
    label: str,
    lw: float,
) -> None:
    """Series ``j`` of estimates with their error bars (non-finite estimates left out)."""
    fin = np.isfinite(y)
    ax.errorbar(
        x[fin] + offset,
        y[fin],
        yerr=_yerr(y[fin], lo[fin], hi[fin]),
        fmt="-",
        marker=MARKERS[j % len(MARKERS)],
        ms=5,
        color=color,
        lw=lw,
        capsize=3,
        elinewidth=1.0,
        label=label,
        zorder=3,
    )


def _counts_at(x: np.ndarray, counts: np.ndarray, at: np.ndarray) -> np.ndarray:
    """The count of each position of ``at`` (NaN where ``x`` has none)."""
    by_x = dict(zip(x, counts))
    return np.array([by_x.get(t, np.nan) for t in at])


def _fmt_int(n: Any) -> str:
    return f"{int(n):,}"


def _plural(n: int, word: str) -> str:
    return f"{n:,} {word}" + ("" if n == 1 else "s")


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
    ax.annotate(
        label,
        xy=(ref_x, 1.0),
        xycoords=("data", "axes fraction"),
        xytext=(3, -2),
        textcoords="offset points",
        ha="left",
        va="top",
        fontsize=8,
        color=GREY,
        parse_math=False,
    )


def _n_rows(ax: Any, rows: Sequence[tuple[str, np.ndarray, np.ndarray, str]]) -> None:
    """Rows of N under the x axis aligned with x positions (like Figure 1 of the paper).

    rows: (row label, x positions, counts, colour). The x-axis label moves below them.
    """
    xform = ax.get_xaxis_transform()
    for r, (label, xs, ns, color) in enumerate(rows):
        dy = -(_N_ROW_OFFSET + r * _N_ROW_STEP)
        ax.annotate(
            label,
            xy=(0, 0),
            xycoords="axes fraction",
            xytext=(-8, dy),
            textcoords="offset points",
            ha="right",
            va="top",
            fontsize=8,
            color=color,
            fontweight="bold",
            parse_math=False,
        )
        for x, n in zip(xs, ns):
            ax.annotate(
                "" if not np.isfinite(n) else _fmt_int(n),
                xy=(x, 0),
                xycoords=xform,
                xytext=(0, dy),
                textcoords="offset points",
                ha="center",
                va="top",
                fontsize=8,
                color=color,
                annotation_clip=False,
                parse_math=False,
            )
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
        t = np.array([a * 10.0**e for e in range(e0, e1 + 1) for a in mant])
        t = t[(t >= lo * (1 - 1e-9)) & (t <= hi * (1 + 1e-9))]
        if len(t) <= max_ticks:
            return t
    step = math.ceil(len(t) / max_ticks)
    return t[::step]


def _log_axis(axis: Any, lo: float, hi: float) -> None:
    axis.set_major_locator(ticker.FixedLocator(_log_ticks(lo, hi)))
    axis.set_major_formatter(ticker.FuncFormatter(_fmt_plain))
    axis.set_minor_locator(ticker.NullLocator())


def _thin_ticks(values: np.ndarray, min_gap_pt: float = 17.0, axis_pt: float = 430.0) -> np.ndarray:
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
        t = values[
            np.isclose(np.mod(values - anchor, k), 0) | np.isclose(np.mod(values - anchor, k), k)
        ]
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


# ------------------------------------------------------------------ output
def to_png_bytes(fig: Figure, dpi: int = DPI) -> bytes:
    """PNG bytes, identical run to run (fixed dpi, no software/version metadata).

    The figure is closed in pyplot if pyplot manages it (figures from this module
    are not managed and need no closing).
    """
    buf = io.BytesIO()
    with mpl.rc_context(STYLE):
        fig.savefig(buf, format="png", dpi=dpi, facecolor="white", metadata={"Software": None})
    plt = sys.modules.get("matplotlib.pyplot")
    if plt is not None:
        plt.close(fig)
    return buf.getvalue()
