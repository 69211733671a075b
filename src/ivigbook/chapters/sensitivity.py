"""Sensitivity of the skin analysis to the visit windows (notebook 06).

A window variant is just another window table: the analysis-visit table is
rebuilt with it and the same course analysis runs again. The half-widths analysed are
:data:`DEFAULT_HALFWIDTHS` with the paper's (``PAPER.window_halfwidth_months``) and this
run's own half-width; the labels say which is which (:func:`window_label`).
"""

from __future__ import annotations

import dataclasses

import pandas as pd

from ivigbook.chapters import outcomes
from ivigbook.data.params import PAPER
from ivigbook.derive import bds as windows
from ivigbook.derive.bds import visit_key
from ivigbook.derive.context import Context
from ivigbook.results.applicability import Skip
from ivigbook.results.formatter import fmt_number
from ivigbook.results.table import Table, cell_mean_sd, cell_p

#: Half-widths analysed: exact month, +/-1, the paper's +/-2 and a wider +/-3.
DEFAULT_HALFWIDTHS = (0, 1, 2, 3)
#: the paper's half-width (Poelman et al. 2015), marked "(paper)" wherever it is shown
PAPER_HALFWIDTH = PAPER.window_halfwidth_months
COLUMNS = [
    "halfwidth",
    "window",
    "visit",
    "avisitn",
    "n",
    "estimate",
    "sd",
    "ci_low",
    "ci_high",
    "p",
    "aval_mean",
    "aval_sd",
]


def with_halfwidth(ctx: Context, halfwidth: int, measures=None) -> Context:
    """The same context analysed with another follow-up window half-width (its analysis
    visits rebuilt for ``measures`` only, when given)."""
    params = dataclasses.replace(ctx.params, window_halfwidth_months=int(halfwidth))
    if params == ctx.params:
        return ctx
    bds = windows.analysis_visits(ctx.cohort, params, measures=measures)
    return dataclasses.replace(ctx, params=params, bds=bds)


def analysed_halfwidths(ctx: Context) -> tuple[int, ...]:
    """:data:`DEFAULT_HALFWIDTHS` with the paper's and this run's half-width, sorted."""
    run = int(ctx.params.window_halfwidth_months)
    return tuple(sorted({*DEFAULT_HALFWIDTHS, PAPER_HALFWIDTH, run}))


def window_label(h: int, *, run: int, paper: int = PAPER_HALFWIDTH) -> str:
    """'±2 (paper)' for the paper's half-width, '±1 (this run)' for the run's own when it
    differs from the paper's, else '±3' ('exact month' for 0)."""
    base = "exact month" if h == 0 else f"\u00b1{h}"
    if h == paper:
        return f"{base} (paper)"
    if h == run:
        return f"{base} (this run)"
    return base


def _months(h: int) -> str:
    return "the exact month" if h == 0 else f"\u00b1{h} {'month' if h == 1 else 'months'}"


def by_window(ctx: Context, rec, paramcd: str = "MRSS", halfwidths=None) -> pd.DataFrame:
    """Change from baseline at each visit under each window half-width (one row per
    half-width and visit, N=0 rows included); records ``sens_hw<h>_<measure>_<visit>_n``,
    ``_change_mean`` and ``_p``; glues ``sens_windows_text`` and ``sens_text``."""
    run = int(ctx.params.window_halfwidth_months)
    hws = tuple(halfwidths) if halfwidths is not None else analysed_halfwidths(ctx)
    rec.prose("sens_windows_text", windows_sentence(hws, run))
    if ctx.n == 0:
        rec.prose(
            "sens_text",
            "No patient is in the skin analysis set, so there is no window to compare.",
        )
        return pd.DataFrame(columns=COLUMNS)
    rows = []
    for h in hws:
        variant = with_halfwidth(ctx, h, measures=[paramcd])
        for month in ctx.params.followup_months:
            r = outcomes.compare_visit(variant, paramcd, month)
            v = visit_key(month)
            key = f"sens_hw{h}_{paramcd.lower()}_{v}"
            rec.value(f"{key}_n", r["n"], kind="int")
            rec.value(f"{key}_change_mean", r["chg_mean"], 1)
            rec.value(f"{key}_p", r["p"], kind="p")
            rows.append(
                {
                    "halfwidth": h,
                    "window": window_label(h, run=run),
                    "visit": f"Month {month}",
                    "avisitn": month,
                    "n": r["n"],
                    "estimate": r["chg_mean"],
                    "sd": r["chg_sd"],
                    "ci_low": r["ci_low"],
                    "ci_high": r["ci_high"],
                    "p": r["p"],
                    "aval_mean": r["aval_mean"],
                    "aval_sd": r["aval_sd"],
                }
            )
    out = pd.DataFrame(rows, columns=COLUMNS)
    rec.prose("sens_text", window_sentence(out, ctx))
    return out


def windows_sentence(hws, run: int) -> str:
    """Which window the paper used, which this run uses, and which are analysed."""
    if run == PAPER_HALFWIDTH:
        used = f"{_months(run)} in the paper (Poelman et al. 2015) and in this run"
    else:
        used = (
            f"{_months(PAPER_HALFWIDTH)} in the paper (Poelman et al. 2015), "
            f"{_months(run)} in this run"
        )
    return (
        f"The analysis accepts a follow-up value within a window around the target month: "
        f"{used}. Here the skin analysis is repeated with "
        + outcomes.and_list([_months(h) for h in hws])
        + "."
    )


def window_sentence(df: pd.DataFrame, ctx: Context) -> str:
    """How N and the mean change at the primary visit move with the window width."""

    month = outcomes.primary_month(ctx)
    where = outcomes.visit_phrase(month, ctx.params.followup_anchor)
    d = df[df["avisitn"] == month].sort_values("halfwidth")
    if not (d["n"] > 0).any():
        return (
            f"No patient has a baseline and a value at {where} under any window width "
            f"(from {_months(int(d['halfwidth'].min()))} to {_months(int(d['halfwidth'].max()))})."
        )
    bits = [
        f"{r.window}: N={r.n}, mean change {fmt_number(r.estimate)}" if r.n else f"{r.window}: N=0"
        for r in d.itertuples()
    ]
    text = f"At {where}, by window half-width — " + "; ".join(bits) + "."
    ns = d["n"].astype(int)
    if ns.nunique() == 1:
        text += f" N is the same ({ns.iloc[0]}) under every width."
    elif ns.is_monotonic_increasing:
        text += f" Narrower windows keep fewer patients (N={ns.min()} to {ns.max()})."
    else:
        text += f" N ranges from {ns.min()} to {ns.max()} across the widths."
    est = d.loc[d["n"] > 0, "estimate"]
    low, high = fmt_number(est.min()), fmt_number(est.max())
    if len(est) > 1 and low == high:
        text += f" The mean change is {low} under every width with data."
    elif len(est) > 1:
        text += (
            f" The mean change ranges from {low} to {high} across the widths; a stable "
            "estimate means the result does not hinge on which visit was picked."
        )
    return text


def _population_note(ctx: Context) -> str:
    if ctx.params.population_by_indication:
        return f"Patients treated with IVIG for skin involvement, N={ctx.n}"
    return outcomes.population_phrase(ctx)


def window_table(df: pd.DataFrame, ctx: Context) -> Table | Skip:
    """N, mRSS and change per window and visit; rows without any patient are left out."""
    if ctx.n == 0:
        return Skip("No patient is in the skin analysis set.", quiet=True)
    kept = df[df["n"] > 0]
    if kept.empty:
        return Skip("No patient has a baseline and a follow-up mRSS under any window width.")
    rows = [
        {
            "group": r.window,
            "Visit": r.visit,
            "N": str(r.n),
            "mRSS, mean (SD)": cell_mean_sd(r.aval_mean, r.aval_sd),
            "Change, mean (SD)": cell_mean_sd(r.estimate, r.sd),
            "p": cell_p(r.p),
        }
        for r in kept.itertuples()
    ]
    run = int(ctx.params.window_halfwidth_months)
    marks = (
        f'"(paper)" marks the half-width of Poelman et al. 2015 (\u00b1{PAPER_HALFWIDTH} months)'
    )
    if run != PAPER_HALFWIDTH:
        marks += f'; "(this run)" the half-width set for this run (window_halfwidth_months={run})'
    notes = [
        f"{_population_note(ctx)}. Each block re-derives the analysis visits with the stated "
        "half-width around the target month; the baseline rule is unchanged. p: paired t "
        f"test. {marks}."
    ]
    if (kept["p"].isna()).any():
        notes.append(
            f"\u2014: no p-value with fewer than {ctx.params.min_pairs} patients with both "
            "values (rule min_pairs)."
        )
    empty = _empty_rows_note(df)
    if empty:
        notes.append(empty)
    return Table(
        pd.DataFrame(rows),
        caption="mRSS under different visit windows",
        table_id="windows",
        group_col="group",
        synthetic=ctx.synthetic,
        notes=notes,
    )


def _empty_rows_note(df: pd.DataFrame) -> str:
    """Which visits had no patient under which widths (the rows left out), '' if none."""
    empty = df[df["n"] == 0]
    if empty.empty:
        return ""
    widths = df["halfwidth"].nunique()
    per_visit = empty.groupby("avisitn")["halfwidth"].nunique()
    everywhere = [m for m, k in per_visit.items() if k == widths]
    parts = []
    if everywhere:
        visits = outcomes.and_list([f"month {m}" for m in everywhere])
        parts.append(f"at {visits} under any window")
    rest = empty[~empty["avisitn"].isin(everywhere)]
    for h, g in rest.groupby("halfwidth", sort=True):
        visits = outcomes.and_list([f"month {m}" for m in g["avisitn"]])
        parts.append(f"at {visits} with {_months(int(h))}" + (" only" if h == 0 else ""))
    return f"No patient had a value {', or '.join(parts)}; these rows are left out."


def plot_rows(df: pd.DataFrame, ctx: Context) -> pd.DataFrame | Skip:
    """The rows of :func:`by_window` with at least ``min_pairs`` patients (the figure)."""
    if ctx.n == 0:
        return Skip("No patient is in the skin analysis set.", quiet=True)
    kept = df[df["n"] >= ctx.params.min_pairs]
    if kept.empty:
        return Skip(
            f"No window and visit has the {ctx.params.min_pairs} patients with both values "
            "that a mean change with its interval needs (rule min_pairs), so there is no "
            "figure."
        )
    return kept.reset_index(drop=True)


def model_or_skip(table: Table | Skip | None) -> Table | Skip:
    """The mixed-model window comparison, or a quiet :class:`Skip` when no model was fitted
    (``sens_lmm_text`` already says why)."""
    if table is None:
        return Skip("No mixed model: sens_lmm_text says why.", quiet=True)
    return table
