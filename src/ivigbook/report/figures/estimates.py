"""Changes and estimates: waterfall of changes, forest plot, estimates by window, counts."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib import ticker
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from ivigbook.report.figures.base import (
    _CI_LABEL,
    GREY,
    MARKERS,
    MAX_BARS,
    OKABE_ITO,
    PALETTE,
    _ci_line,
    _counts_at,
    _dodge,
    _empty,
    _finish,
    _fmt_int,
    _fmt_plain,
    _frame,
    _log_axis,
    _n_rows,
    _new_figure,
    _nice_y,
    _numeric,
    _patient_values,
    _s,
    _styled,
    _title,
    _unique_in_order,
)
from ivigbook.results.formatter import fmt_estimate, fmt_p


# ------------------------------------------------------------------ waterfall
@_styled
def waterfall(
    changes: pd.DataFrame,
    mcid: float = 5.0,
    ylabel: str = "Change in mRSS",
    *,
    max_bars: int = MAX_BARS,
    title: str | None = None,
    synthetic: bool = False,
) -> Figure:
    """Change per patient, largest increase left to largest decrease right.

    Responders (``CHG <= -mcid``) in blue, others in orange; dashed line at −mcid.
    Above ``max_bars`` patients the sorted changes are drawn as an area over the
    percentage of patients.
    """
    fn = "waterfall"
    subj, chg = _patient_values(changes, ["CHG"], fn, "no changes to plot")
    order = np.lexsort((subj, -chg))
    chg = chg[order]
    npat = len(chg)
    resp = chg <= -mcid
    k = int(resp.sum())
    c_resp, c_non = OKABE_ITO["blue"], OKABE_ITO["orange"]
    handles = [
        Patch(
            color=c_resp, label=f"Responder (fall ≥ {mcid:g} points): {k:,} ({100 * k / npat:.0f}%)"
        ),
        Patch(color=c_non, label=f"Non-responder: {npat - k:,} ({100 * (npat - k) / npat:.0f}%)"),
    ]

    fig = _new_figure()
    ax = fig.add_subplot()
    if npat <= max_bars:
        colors = np.where(resp, c_resp, c_non)
        ax.bar(np.arange(npat), chg, width=0.8, color=colors, edgecolor="none", zorder=2)
        zero = chg == 0  # a zero-height bar is invisible: mark it on the axis
        if zero.any():
            ax.scatter(
                np.flatnonzero(zero),
                np.zeros(zero.sum()),
                marker="_",
                s=40,
                c=colors[zero],
                linewidths=2.5,
                zorder=4,
            )
        ax.set_xlim(-0.8, npat - 0.2)
        ax.set_xticks([])
        ax.set_xlabel(
            f"Patients (N = {npat:,}), sorted from largest increase to largest decrease",
            parse_math=False,
        )
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
        ax.set_xlabel(
            "Patients (%), sorted from largest increase to largest decrease", parse_math=False
        )
        note = (
            f"N = {npat:,} patients (too many for one bar each):\nsorted changes drawn as an area"
        )
    ax.axhline(0, color="black", lw=0.8, zorder=3)
    ax.axhline(-mcid, color="#444444", lw=1.0, ls="--", zorder=3)
    ax.annotate(
        f"MCID (−{mcid:g})",
        xy=(0, -mcid),
        xycoords=("axes fraction", "data"),
        xytext=(4, -2),
        textcoords="offset points",
        ha="left",
        va="top",
        fontsize=8,
        color="#444444",
        parse_math=False,
    )
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
def forest(
    rows: pd.DataFrame,
    null: float = 1.0,
    log: bool = True,
    xlabel: str = "Odds ratio (95% CI)",
    *,
    header: str = "Estimate (95% CI)",
    title: str | None = None,
    synthetic: bool = False,
) -> Figure:
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
        ax.scatter(
            np.full(left.sum(), xmin),
            yy[left],
            marker="<",
            s=25,
            c=color,
            zorder=3,
            linewidths=0,
            clip_on=False,
        )
        ax.scatter(
            np.full(right.sum(), xmax),
            yy[right],
            marker=">",
            s=25,
            c=color,
            zorder=3,
            linewidths=0,
            clip_on=False,
        )
        for y_ in yy[~ok]:
            ax.text(
                null,
                y_,
                "not estimable",
                ha="center",
                va="center",
                fontsize=7.5,
                style="italic",
                color=GREY,
                zorder=4,
                parse_math=False,
                bbox=dict(fc="white", ec="none", pad=0.5),
            )
        if ng > 1:
            handles.append(
                Line2D(
                    [], [], ls="-", marker=marker, color=color, ms=6, label=gname or "(no group)"
                )
            )
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
    ax.annotate(
        _s(header),
        xy=(1, 1),
        xycoords=header_xform,
        xytext=(est_dx, 2),
        textcoords="offset points",
        ha="left",
        va="bottom",
        fontsize=8,
        fontweight="bold",
        parse_math=False,
    )
    if has_p:
        ax.annotate(
            "p",
            xy=(1, 1),
            xycoords=header_xform,
            xytext=(p_dx, 2),
            textcoords="offset points",
            ha="left",
            va="bottom",
            fontsize=8,
            fontweight="bold",
            style="italic",
            parse_math=False,
        )
    for i in range(len(df)):
        color = PALETTE[grp_idx[i] % len(PALETTE)] if ng > 1 else "black"
        if np.isfinite(est[i]):
            vals = (est[i], lo_txt[i], hi_txt[i])
            sep = " to " if any(v < 0 for v in vals if not np.isnan(v)) else "–"
            text = fmt_estimate(est[i])
            if not (np.isnan(lo_txt[i]) and np.isnan(hi_txt[i])):
                text += f" ({fmt_estimate(lo_txt[i])}{sep}{fmt_estimate(hi_txt[i])})"
        else:
            text = "not estimable"
        ax.annotate(
            text,
            xy=(1, ypos[i]),
            xycoords=("axes fraction", "data"),
            xytext=(est_dx, 0),
            textcoords="offset points",
            ha="left",
            va="center",
            fontsize=8,
            color=color,
            parse_math=False,
            annotation_clip=False,
        )
        if has_p and np.isfinite(pv[i]):
            ax.annotate(
                fmt_p(pv[i]),
                xy=(1, ypos[i]),
                xycoords=("axes fraction", "data"),
                xytext=(p_dx, 0),
                textcoords="offset points",
                ha="left",
                va="center",
                fontsize=8,
                color=color,
                parse_math=False,
                annotation_clip=False,
            )
    if ng > 1:
        fig.legend(handles=handles, loc="outside lower center", ncols=min(ng, 4))
    _title(ax, title)
    return _finish(fig, synthetic)


# ------------------------------------------------------------------ window sensitivity
@_styled
def estimate_by_window(
    df: pd.DataFrame,
    ylabel: str = "Mean change in mRSS",
    *,
    xlabel: str = "Visit window (± months around the target)",
    null: float | None = 0.0,
    title: str | None = None,
    synthetic: bool = False,
) -> Figure:
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
        color = PALETTE[j % len(PALETTE)]
        _ci_line(ax, x, y, l, h, offset=offsets[j], j=j, color=color, label=v or "Estimate", lw=1.3)
        rows.append((f"N, {v}" if v else "N", xs, _counts_at(x, cnt, xs), color))
    ax.set_xticks(xs, labels=tick_labels, parse_math=False)
    ax.set_xlim(xs.min() - 0.5 * step, xs.max() + 0.5 * step)
    ax.set_ylabel(_s(ylabel), parse_math=False)
    ax.set_xlabel(_s(xlabel), parse_math=False)
    _nice_y(ax)
    _n_rows(ax, rows)
    fig.legend(loc="outside right upper", title=f"Visit\n(mean, {_CI_LABEL})", alignment="left")
    _title(ax, title)
    return _finish(fig, synthetic)


# ------------------------------------------------------------------ counts
@_styled
def bar_counts(
    df: pd.DataFrame,
    xlabel: str = "Patients, n",
    *,
    title: str | None = None,
    sort: bool = True,
    pct_decimals: int = 0,
    color: str = OKABE_ITO["blue"],
    synthetic: bool = False,
) -> Figure:
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
        ax.annotate(
            text,
            xy=(nv, yv),
            xytext=(3, 0),
            textcoords="offset points",
            ha="left",
            va="center",
            fontsize=8,
            parse_math=False,
            annotation_clip=False,
        )
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
