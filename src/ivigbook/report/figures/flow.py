"""The inclusion flow diagram (boxes that add up)."""

from __future__ import annotations

import textwrap
import warnings

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.patches import FancyBboxPatch

from ivigbook.report.figures.base import (
    FIG_WIDTH,
    GREY,
    _fail,
    _finish,
    _fmt_int,
    _frame,
    _new_figure,
    _numeric,
    _s,
    _styled,
)


# ------------------------------------------------------------------ flow diagram
@_styled
def flow_diagram(
    flow: pd.DataFrame, *, title: str | None = None, synthetic: bool = False
) -> Figure:
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
    exn = (
        _numeric(df["excluded_n"], "excluded_n", fn)
        if "excluded_n" in df
        else np.full(len(df), np.nan)
    )
    exl = df["excluded_label"].map(_s).tolist() if "excluded_label" in df else [""] * len(df)
    labels = df["label"].map(_s).tolist()
    k = len(df)

    # consistency (draws anyway; the caller's check is the authoritative one)
    for i in range(k - 1):
        expected = n[i] - (0 if np.isnan(exn[i]) else exn[i])
        if expected != n[i + 1]:
            warnings.warn(
                f"flow_diagram: box {i + 1} has n={n[i]:.0f} minus {exn[i]:.0f} "
                f"excluded, but the next box has n={n[i + 1]:.0f}",
                stacklevel=3,
            )

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
        ax.text(
            main_x0, height - 0.2, _s(title), ha="left", va="top", fontsize=10, parse_math=False
        )
    arrow = dict(arrowstyle="-|>", color="black", lw=0.9, shrinkA=0, shrinkB=0, mutation_scale=10)
    y = height - top
    for i in range(k):
        h = main_h[i]
        ax.add_patch(
            FancyBboxPatch(
                (main_x0, y - h),
                main_w,
                h,
                boxstyle="round,pad=0,rounding_size=0.04",
                fc="white",
                ec="black",
                lw=0.9,
            )
        )
        ax.text(
            cx,
            y - h / 2,
            main_txt[i],
            ha="center",
            va="center",
            fontsize=fs_main,
            linespacing=1.3,
            parse_math=False,
        )
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
            ax.add_patch(
                FancyBboxPatch(
                    (side_x0, y_mid - sh / 2),
                    side_w,
                    sh,
                    boxstyle="round,pad=0,rounding_size=0.04",
                    fc="#F2F2F2",
                    ec=GREY,
                    lw=0.8,
                )
            )
            ax.text(
                side_x0 + 0.1,
                y_mid,
                side_txt[i],
                ha="left",
                va="center",
                fontsize=fs_side,
                linespacing=1.3,
                parse_math=False,
            )
        elif i < k - 1:
            ax.annotate("", xy=(cx, y_next), xytext=(cx, y_bottom), arrowprops=arrow)
        y = y_next
    return _finish(fig, synthetic)
