"""IVIG cycles per patient: a swimmer plot, or a summary when there are many patients."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from matplotlib import ticker
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from ivigbook.report.figures.base import (
    _NOT_RECORDED,
    _STOP_STYLE,
    GREY,
    LIGHT_GREY,
    MAX_LANES,
    PALETTE,
    _finish,
    _fmt_int,
    _frame,
    _new_figure,
    _patient_values,
    _plural,
    _s,
    _stop_key,
    _styled,
    _subjseq,
    _title,
)


# ------------------------------------------------------------------ swimmer
@_styled
def swimmer(
    cycles: pd.DataFrame,
    stop: pd.DataFrame,
    *,
    max_lanes: int = MAX_LANES,
    xlabel: str = "Months since first IVIG cycle",
    title: str | None = None,
    synthetic: bool = False,
) -> Figure:
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
    subj, off, rnd = _patient_values(cycles, ["offset", "round"], fn, "no IVIG cycles to plot")
    s = _frame(stop, ["SUBJSEQ", "stop_label"], fn, allow_empty=True)
    cyc = pd.DataFrame({"SUBJSEQ": subj, "offset": off, "round": rnd})
    per = cyc.groupby("SUBJSEQ").agg(span=("offset", "max"))
    per["length1"] = cyc[cyc["round"] == 1].groupby("SUBJSEQ")["offset"].max()
    per["span"] += 1
    per["length1"] = (per["length1"] + 1).fillna(0)
    per["later"] = cyc[cyc["round"] > 1].groupby("SUBJSEQ").size()
    per["later"] = per["later"].fillna(0)
    stop_map = (
        pd.Series(s["stop_label"].map(_s).to_numpy(), index=_subjseq(s["SUBJSEQ"], fn))
        if len(s)
        else pd.Series(dtype=object)
    )
    stop_map = stop_map[~stop_map.index.duplicated(keep="first")]
    per["stop"] = stop_map.reindex(per.index).fillna("").replace("", _NOT_RECORDED).to_numpy()
    per = per.reset_index().sort_values(
        ["length1", "span", "SUBJSEQ"],
        ascending=[False, False, True],
        kind="stable",
        ignore_index=True,
    )
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

    ax.barh(
        np.arange(npat),
        per["span"].to_numpy(),
        left=0,
        height=0.5,
        color="#E4E4E4",
        edgecolor="none",
        zorder=1,
    )
    yy = ypos.reindex(cyc["SUBJSEQ"].to_numpy()).to_numpy()
    first = cyc["round"].to_numpy() == 1
    xx = cyc["offset"].to_numpy() + 0.5
    ax.scatter(xx[first], yy[first], s=ms**2, marker="o", c="#333333", linewidths=0, zorder=3)
    if (~first).any():
        ax.scatter(
            xx[~first],
            yy[~first],
            s=ms**2,
            marker="o",
            facecolors="white",
            edgecolors="#333333",
            linewidths=0.9,
            zorder=3,
        )
    end_x = per["span"].to_numpy() + 0.35
    handles: list[Any] = [
        Line2D([], [], ls="none", marker="o", color="#333333", ms=5, label="Round 1 cycle"),
    ]
    if (~first).any():
        handles.append(
            Line2D(
                [],
                [],
                ls="none",
                marker="o",
                mfc="white",
                mec="#333333",
                ms=5,
                label="Later-round cycle",
            )
        )
    for r in reasons:
        mask = (per["stop"] == r).to_numpy()
        color, marker = style[r]
        ax.scatter(
            end_x[mask],
            np.arange(npat)[mask],
            s=(ms * 1.35) ** 2,
            marker=marker,
            c=color,
            edgecolors="black" if color in (LIGHT_GREY, "#DDDDDD") else "none",
            linewidths=0.5,
            zorder=4,
        )
        handles.append(
            Line2D(
                [],
                [],
                ls="none",
                marker=marker,
                color=color,
                ms=6,
                mec="black" if color in (LIGHT_GREY, "#DDDDDD") else color,
                mew=0.5,
                label=f"{r} ({_fmt_int(counts[r])})",
            )
        )
    ax.set_ylim(npat - 0.4, -0.6)
    ax.set_xlim(0, float(per["span"].max()) + 1.2)
    ax.xaxis.set_major_locator(ticker.MaxNLocator(integer=True, steps=[1, 2, 3, 6, 10]))
    ax.set_xlabel(_s(xlabel), parse_math=False)
    if npat <= 40:
        ax.set_yticks(np.arange(npat), labels=[str(v) for v in per["SUBJSEQ"]], parse_math=False)
        ax.tick_params(axis="y", length=0, labelsize=7 if npat > 25 else 8)
        ax.set_ylabel("Patient (sequence number)", parse_math=False)
    else:
        ax.set_yticks([])
        ax.set_ylabel(f"Patients (N = {npat:,})", parse_math=False)
    ax.spines["left"].set_visible(False)
    leg = fig.legend(
        handles=handles,
        loc="outside right upper",
        title="Stop reason (n)",
        alignment="left",
        handletextpad=0.4,
    )
    leg.get_title().set_fontsize(8)
    _title(ax, title, f"N = {npat:,} patients, sorted by round-1 treatment length")
    return _finish(fig, synthetic)


#: summary swimmer: at most this many stop reasons in the legend (a registry has many)
MAX_LEGEND = 10


_OTHER_REASONS = "Other reasons"


def _fewer_reasons(
    per: pd.DataFrame, reasons: list[str], style: dict[str, tuple[str, str]]
) -> tuple[pd.DataFrame, list[str], dict, pd.Series]:
    """At most :data:`MAX_LEGEND` stop reasons: detailed labels ("Adverse event:
    Headache") fold into their reason ("Adverse event"), then the rarest reasons
    into "Other reasons"."""
    stop = per["stop"].astype(str)
    if len(reasons) > MAX_LEGEND:
        stop = stop.str.split(": ", n=1).str[0]
    counts = stop.value_counts()
    order = sorted(counts.index, key=lambda r: (r == _NOT_RECORDED, -counts[r], r))
    if len(order) > MAX_LEGEND:
        keep = [r for r in order if r != _NOT_RECORDED][: MAX_LEGEND - 2]
        keep += [_NOT_RECORDED] if _NOT_RECORDED in counts.index else []
        stop = stop.where(stop.isin(keep), _OTHER_REASONS)
        counts = stop.value_counts()
        order = sorted(
            counts.index, key=lambda r: (r == _NOT_RECORDED, r == _OTHER_REASONS, -counts[r], r)
        )
    new_style = {}
    for r in order:
        key = _stop_key(r)
        new_style[r] = (
            style.get(r)
            or _STOP_STYLE.get(key)
            or (LIGHT_GREY if r == _OTHER_REASONS else GREY, "o")
        )
    return per.assign(stop=stop.to_numpy()), order, new_style, counts


def _swimmer_summary(
    per: pd.DataFrame,
    reasons: list[str],
    style: dict[str, tuple[str, str]],
    counts: pd.Series,
    title: str | None,
    synthetic: bool,
) -> Figure:
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
        ax.bar(
            bins[:-1] + 0.5,
            h,
            bottom=bottom,
            width=0.85,
            color=color,
            edgecolor="none",
            label=f"{r} ({_fmt_int(counts[r])})",
        )
        bottom += h
    ax.set_xlabel("Round-1 treatment length (months)", parse_math=False)
    ax.set_ylabel("Patients, n", parse_math=False)
    ax.xaxis.set_major_locator(ticker.MaxNLocator(integer=True))
    ax.yaxis.set_major_formatter(ticker.FuncFormatter(lambda v, _p: f"{v:,.0f}"))
    ax.set_xlim(max(int(length.min()) - 0.6, -0.6), top + 0.6)
    fig.legend(
        loc="outside right upper", title="Stop reason (n)", alignment="left", reverse=True
    )  # same order as the stack, top to bottom
    later = int((per["later"] > 0).sum())
    note = (
        f"N = {npat:,} patients (too many for one lane each):\n"
        f"round-1 treatment length by stop reason"
    )
    if later:
        note += f"\n(later rounds of {_plural(later, 'patient')} not shown)"
    _title(ax, title, note)
    return _finish(fig, synthetic)
