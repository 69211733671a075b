"""Measures over time: mean trajectory, patient lines, paired change and laboratory course."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.collections import LineCollection
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from ivigbook.report.figures.base import (
    _CI_LABEL,
    GREY,
    MAX_LINES,
    OKABE_ITO,
    PALETTE,
    _ci_line,
    _counts_at,
    _dodge,
    _empty,
    _fail,
    _finish,
    _fmt_plain,
    _frame,
    _log_axis,
    _mean_ci,
    _month_x,
    _n_rows,
    _new_figure,
    _nice_y,
    _numeric,
    _patient_values,
    _ref_line,
    _s,
    _sample,
    _sample_note,
    _segments,
    _styled,
    _subjseq,
    _thin_ticks,
    _title,
    _unique_in_order,
    _yerr,
)
from ivigbook.results.formatter import fmt_estimate


# ------------------------------------------------------------------ mean trajectory
@_styled
def mean_trajectory(
    summary: pd.DataFrame,
    ylabel: str,
    title: str | None = None,
    ref_x: float | None = 0,
    *,
    xlabel: str = "Months since IVIG start",
    synthetic: bool = False,
) -> Figure:
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
    series = df["series"].map(_s) if "series" in df else pd.Series([""] * len(df))
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
        _ci_line(ax, x, y, l, h, offset=offsets[j], j=j, color=color, label=label, lw=1.5)
        rows.append(
            (
                f"N, {name}" if name else "N",
                ticks,
                _counts_at(x, cnt, ticks),
                color if len(names) > 1 else "black",
            )
        )
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
def spaghetti(
    long: pd.DataFrame,
    ylabel: str,
    max_lines: int = MAX_LINES,
    seed: int = 0,
    *,
    min_n: int = 3,
    xlabel: str = "Months since IVIG start",
    ref_x: float | None = 0,
    title: str | None = None,
    synthetic: bool = False,
) -> Figure:
    """Thin grey line per patient (seeded sample of ``max_lines``) and the bold mean of all.

    ``long`` columns: SUBJSEQ, month, value. The mean at each month uses every
    patient with a value that month (not only those drawn) and is drawn only for
    months with at least ``min_n`` patients (the N row shows every tick month).
    With irregular visits, bin the months before calling (as ``trajectory`` does).
    """
    fn = "spaghetti"
    if max_lines < 0:
        raise _fail(fn, "max_lines must be >= 0")
    subj, x, y = _patient_values(long, ["month", "value"], fn, "no values to plot")
    total = len(np.unique(subj))
    shown = _sample(subj, max_lines, seed) if max_lines else np.array([], dtype=np.int64)
    keep = np.isin(subj, shown)

    fig = _new_figure()
    ax = fig.add_subplot()
    if keep.any():
        segs = _segments(subj[keep], x[keep], y[keep])
        ax.add_collection(
            LineCollection(
                segs,
                gid="patients",
                colors=GREY,
                linewidths=0.7,
                alpha=0.55,
                zorder=2,
                label=f"Individual patients ({len(shown):,})",
            )
        )
        ax.scatter(x[keep], y[keep], s=6, c=GREY, alpha=0.55, linewidths=0, zorder=2)
    means = pd.DataFrame({"month": x, "value": y}).groupby("month")["value"].agg(["mean", "size"])
    dense = means[means["size"] >= min_n]
    ax.plot(
        dense.index.to_numpy(),
        dense["mean"].to_numpy(),
        color="black",
        lw=2.4,
        marker="o",
        ms=4,
        zorder=4,
        label=f"Mean of all {total:,} patients"
        + (f" (months with ≥ {min_n})" if len(dense) < len(means) else ""),
    )
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


# ------------------------------------------------------------------ lab course
@_styled
def lab_course(
    long: pd.DataFrame,
    ylabel: str = "CK (U/L)",
    uln: float | None = None,
    *,
    xlabel: str = "Months since IVIG start",
    ref_x: float | None = 0,
    max_lines: int = MAX_LINES,
    seed: int = 0,
    title: str | None = None,
    synthetic: bool = False,
) -> Figure:
    """One line per patient (coloured with a legend up to 8 patients, grey beyond).

    ``long`` columns: SUBJSEQ, month, value. Optional dashed upper limit of normal;
    log y axis when all values are positive and span more than two decades.
    """
    fn = "lab_course"
    subj, x, y = _patient_values(long, ["month", "value"], fn, "no values to plot")
    total = len(np.unique(subj))
    shown = _sample(subj, max_lines, seed)
    keep = np.isin(subj, shown)
    subj, x, y = subj[keep], x[keep], y[keep]
    few = len(shown) <= 8
    colors = (
        {s: PALETTE[i % len(PALETTE)] for i, s in enumerate(shown)}
        if few
        else {s: GREY for s in shown}
    )

    fig = _new_figure()
    ax = fig.add_subplot()
    segs = _segments(subj, x, y)
    seg_ids = np.unique(subj)  # _segments orders by subject
    ax.add_collection(
        LineCollection(
            segs,
            gid="patients",
            colors=[colors[s] for s in seg_ids],
            linewidths=1.3 if few else 0.8,
            alpha=1.0 if few else 0.6,
            zorder=2,
        )
    )
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
        ax.annotate(
            f"ULN\n{_fmt_plain(uln) if uln > 0 else f'{uln:g}'}",
            xy=(1, uln),
            xycoords=("axes fraction", "data"),
            xytext=(4, 0),
            textcoords="offset points",
            ha="left",
            va="center",
            fontsize=8,
            color="#444444",
            parse_math=False,
            annotation_clip=False,
        )
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
        handles = [
            Line2D([], [], color=colors[s], marker="o", ms=4, label=f"Patient {s}") for s in shown
        ]
        ax.legend(handles=handles, loc="best", ncols=2 if len(shown) > 4 else 1)
    note = _sample_note(len(shown), total, seed) or f"N = {total:,} patients"
    _title(ax, title, note)
    return _finish(fig, synthetic)


# ------------------------------------------------------------------ paired change
@_styled
def paired_change(
    df: pd.DataFrame,
    ylabel: str,
    *,
    max_lines: int = MAX_LINES,
    seed: int = 0,
    labels: tuple[str, str] = ("Baseline", "Follow-up"),
    title: str | None = None,
    synthetic: bool = False,
) -> Figure:
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
    segs = np.stack(
        [
            np.column_stack([np.zeros(keep.sum()), b[keep]]),
            np.column_stack([np.ones(keep.sum()), a[keep]]),
        ],
        axis=1,
    )
    ax.add_collection(
        LineCollection(segs, gid="patients", colors=col[keep], linewidths=0.9, alpha=0.7, zorder=2)
    )
    ax.scatter(
        np.concatenate([np.zeros(keep.sum()), np.ones(keep.sum())]),
        np.concatenate([b[keep], a[keep]]),
        s=14,
        c=np.concatenate([col[keep], col[keep]]),
        linewidths=0,
        alpha=0.85,
        zorder=3,
    )
    mb, mb_lo, mb_hi = _mean_ci(b)
    ma, ma_lo, ma_hi = _mean_ci(a)
    mx = np.array([-0.18, 1.18])
    my = np.array([mb, ma])
    ax.errorbar(
        mx,
        my,
        yerr=_yerr(my, np.array([mb_lo, ma_lo]), np.array([mb_hi, ma_hi])),
        fmt="-D",
        color="black",
        ms=6,
        lw=2.2,
        capsize=4,
        elinewidth=1.3,
        zorder=4,
    )
    ax.autoscale_view()
    _nice_y(ax)
    ax.set_xlim(-0.45, 1.45)
    ax.set_xticks([0, 1], labels=[_s(labels[0]), _s(labels[1])], parse_math=False)
    ax.tick_params(axis="x", length=0)
    ax.set_ylabel(_s(ylabel), parse_math=False)
    n_dec, n_inc = int((diff < 0).sum()), int((diff > 0).sum())
    handles = [
        Line2D([], [], color=c_dec, marker="o", ms=4, label=f"Decrease ({n_dec:,})"),
        Line2D([], [], color=c_inc, marker="o", ms=4, label=f"Increase ({n_inc:,})"),
    ]
    if npat - n_dec - n_inc:
        handles.append(
            Line2D(
                [],
                [],
                color=c_same,
                marker="o",
                ms=4,
                label=f"No change ({npat - n_dec - n_inc:,})",
            )
        )
    handles.append(
        Line2D(
            [],
            [],
            color="black",
            marker="D",
            lw=2.2,
            ms=5,
            label=f"Mean ({_CI_LABEL}), all {npat:,}",
        )
    )
    fig.legend(handles=handles, loc="outside right upper", title="Patients (n)", alignment="left")
    dm, dlo, dhi = _mean_ci(diff)
    change = f"mean change {fmt_estimate(dm)}"
    if np.isfinite(dlo):
        change += f" ({_CI_LABEL} {fmt_estimate(dlo)} to {fmt_estimate(dhi)})"
    note = f"N = {npat:,} patients with both values\n{change[0].upper()}{change[1:]}"
    sampled = _sample_note(len(shown), npat, seed)
    if sampled:
        note += f"\n{sampled}"
    _title(ax, title, note)
    return _finish(fig, synthetic)
