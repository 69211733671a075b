"""Comparisons with historical controls from published summary statistics (notebook 05).

The comparator file (``data/reference/historical_controls.csv``) holds one row
per comparator and quantity with its published mean/SD or percentage, the N
used for the test and where that N comes from. Tests are Student t tests with
pooled variance from summary statistics, as the paper did (Stata ``ttesti``);
percentages are compared as the t test on 0/1 data.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ivigbook.chapters import outcomes
from ivigbook.derive.bds import visit_key
from ivigbook.derive.context import Context
from ivigbook.results.formatter import fmt_number, p_text
from ivigbook.results.table import Table, cell_est_ci, cell_mean_sd, cell_p
from ivigbook.stats import summary

COMPARATOR_LABELS = {
    "relaxin": "Relaxin",
    "dpen": "D-penicillamine",
    "collagen": "Oral collagen",
    "mmf": "Mycophenolate alone",
}
#: comparator quantity -> Table 1 row key of ivigbook.chapters.describe
BASELINE_QUANTITIES = {
    "age": "age",
    "duration": "duration",
    "female": "female",
    "white": "white",
    "black": "black",
    "other": "other",
    "mrss_bl": "mrss",
    "haq_di_bl": "haq_di",
    "myositis": "myositis",
}
NUMERIC = ("mean", "sd", "pct", "n", "n_repro_lo", "n_repro_hi")


def load_comparators(path: str | Path) -> pd.DataFrame | None:
    """Read the comparator file; None when the path is empty or missing."""
    if not path or not Path(path).exists():
        return None
    df = pd.read_csv(path, dtype=str, keep_default_na=False)
    for col in NUMERIC:
        if col in df:
            df[col] = pd.to_numeric(df[col].replace("", np.nan), errors="coerce")
    return df


def comparator_names(comparators: pd.DataFrame) -> list[str]:
    return list(dict.fromkeys(comparators["comparator"]))


def _ivig_side(row: dict, n_cohort: int):
    """(mean or proportion, sd or None, n) of the IVIG cohort for one Table 1 row."""
    if row["kind"] == "mean_sd":
        return row["mean"], row["sd"], row["n"]
    denom = row["denom"]
    return (row["n"] / denom if denom else np.nan), None, denom


def baseline_columns(
    ctx: Context, rec, rows: list[dict], comparators: pd.DataFrame
) -> dict[str, dict[str, str]]:
    """Comparator columns of Table 1: formatted cells per Table 1 row key, '*' when p < 0.05."""
    by_key = {r["key"]: r for r in rows}
    columns: dict[str, dict[str, str]] = {}
    for comp in comparator_names(comparators):
        c = comparators[comparators["comparator"] == comp]
        n_total = c.loc[c["quantity"] == "n", "n"]
        n_total = int(n_total.iloc[0]) if len(n_total) else int(c["n"].max())
        rec.value(f"hist_{comp}_n", n_total, kind="int")
        cells = {}
        for q in c.itertuples():
            key = BASELINE_QUANTITIES.get(q.quantity)
            if key is None or key not in by_key:
                continue
            mine = by_key[key]
            m1, s1, n1 = _ivig_side(mine, ctx.n)
            stem = f"hist_{comp}_bl_{key}"
            if not np.isnan(q.pct):
                q.pct / 100.0
                r = summary.proportion_ttest_summary(m1 * 100.0, n1, q.pct, q.n)
                rec.value(f"{stem}_pct", q.pct, 1)
                text = fmt_number(q.pct, 1)
            else:
                r = summary.ttest_summary(m1, s1, n1, q.mean, q.sd, q.n)
                rec.value(f"{stem}_mean", q.mean, 1)
                rec.value(f"{stem}_sd", q.sd, 1)
                text = cell_mean_sd(q.mean, q.sd, 2 if key == "haq_di" else 1)
            rec.value(f"{stem}_p", r.p, kind="p")
            cells[key] = text + ("*" if r.p < 0.05 else "")
        columns[f"{COMPARATOR_LABELS.get(comp, comp)} (N={n_total})"] = cells
    return columns


def change_comparisons(
    ctx: Context, rec, comparators: pd.DataFrame | None, paramcd: str = "MRSS"
) -> pd.DataFrame:
    """Mean change in mRSS under IVIG vs each comparator with published change data."""
    rows = []
    if comparators is None:
        rec.prose(
            "hist_change_text", "No comparator file was given, so no historical comparison is made."
        )
        return pd.DataFrame(rows)
    for month in ctx.params.followup_months:
        v = visit_key(month)
        quantity = f"mrss_change_{v}"
        comps = comparators[comparators["quantity"] == quantity]
        if comps.empty:
            continue
        mine = outcomes.compare_visit(ctx, paramcd, month)
        rec.value(f"hist_ivig_{v}_mean", mine["chg_mean"], 1)
        rec.value(f"hist_ivig_{v}_sd", mine["chg_sd"], 1)
        rec.value(f"hist_ivig_{v}_n", mine["n"], kind="int")
        rows.append(
            {
                "visit": f"Month {month}",
                "avisitn": month,
                "comparator": "ivig",
                "label": "IVIG (this cohort)",
                "mean": mine["chg_mean"],
                "sd": mine["chg_sd"],
                "n": mine["n"],
                "n_source": "this cohort",
                "diff": np.nan,
                "diff_low": np.nan,
                "diff_high": np.nan,
                "p": np.nan,
            }
        )
        for q in comps.itertuples():
            r = summary.ttest_summary(
                mine["chg_mean"], mine["chg_sd"], mine["n"], q.mean, q.sd, q.n
            )
            stem = f"hist_{q.comparator}_{v}"
            rec.value(f"{stem}_mean", q.mean, 2)
            rec.value(f"{stem}_sd", q.sd, 2)
            rec.value(f"{stem}_n_used", q.n, kind="int")
            rec.value(f"{stem}_diff", r.diff, 1)
            rec.value(f"{stem}_p", r.p, kind="p")
            rows.append(
                {
                    "visit": f"Month {month}",
                    "avisitn": month,
                    "comparator": q.comparator,
                    "label": COMPARATOR_LABELS.get(q.comparator, q.comparator),
                    "mean": q.mean,
                    "sd": q.sd,
                    "n": int(q.n),
                    "n_source": q.n_source,
                    "diff": r.diff,
                    "diff_low": r.ci_low,
                    "diff_high": r.ci_high,
                    "p": r.p,
                }
            )
    out = pd.DataFrame(rows)
    rec.prose("hist_change_text", change_sentence(out))
    return out


def change_sentence(comp: pd.DataFrame) -> str:
    """One sentence per visit: IVIG change and each comparator's p-value."""

    if comp.empty:
        return (
            "No historical comparator in the comparator file reports a change in mRSS at the "
            "follow-up visits of this cohort, so no comparison is made."
        )
    parts = []
    for visit, g in comp.groupby("avisitn", sort=True):
        mine = g[g["comparator"] == "ivig"].iloc[0]
        others = [
            f"{r.label} {fmt_number(r.mean)} (SD {fmt_number(r.sd)}, N={r.n}; {p_text(r.p)})"
            for r in g[g["comparator"] != "ivig"].itertuples()
        ]
        parts.append(
            f"At month {visit} the mean change under IVIG was {fmt_number(mine['mean'])} "
            f"(SD {fmt_number(mine['sd'])}, N={mine['n']}), against " + "; ".join(others) + "."
        )
    return " ".join(parts)


def change_table(comp: pd.DataFrame, synthetic: bool) -> Table | None:
    if comp.empty:
        return None
    rows = [
        {
            "group": r.visit,
            "Group": r.label,
            "N": str(r.n),
            "Change in mRSS, mean (SD)": cell_mean_sd(r.mean, r.sd),
            "Difference IVIG \u2212 comparator (95% CI)": ""
            if r.comparator == "ivig"
            else cell_est_ci(r.diff, r.diff_low, r.diff_high, 1),
            "p": "" if r.comparator == "ivig" else cell_p(r.p),
        }
        for r in comp.itertuples()
    ]
    return Table(
        pd.DataFrame(rows),
        caption="Change in mRSS: IVIG vs historical controls",
        table_id="historical",
        group_col="group",
        synthetic=synthetic,
        notes=[
            "Student t test with pooled variance from summary statistics. The comparator N "
            "with follow-up data is not published; the N used is the one that reproduces "
            "the paper's p-value from its printed summaries (see data/reference/README.md)."
        ],
    )


def forest_rows(comp: pd.DataFrame) -> pd.DataFrame:
    """Mean change with its 95% CI for IVIG and each comparator, grouped by visit."""
    if comp.empty:
        return pd.DataFrame(columns=["label", "estimate", "ci_low", "ci_high", "group"])
    ci = [outcomes.mean_ci_from_summary(r.mean, r.sd, r.n) for r in comp.itertuples()]
    return pd.DataFrame(
        {
            "label": comp["label"],
            "estimate": comp["mean"],
            "ci_low": [c[0] for c in ci],
            "ci_high": [c[1] for c in ci],
            "group": comp["visit"],
        }
    )


def n_sensitivity(
    ctx: Context, comparators: pd.DataFrame | None, paramcd: str = "MRSS"
) -> Table | None:
    """p-value of each change comparison over a range of comparator Ns."""
    if comparators is None:
        return None
    rows = []
    for month in ctx.params.followup_months:
        v = visit_key(month)
        comps = comparators[comparators["quantity"] == f"mrss_change_{v}"]
        if comps.empty:
            continue
        mine = outcomes.compare_visit(ctx, paramcd, month)
        for q in comps.itertuples():
            total = comparators[
                (comparators["comparator"] == q.comparator) & (comparators["quantity"] == "n")
            ]["n"]
            grid = {25, 50, int(q.n)}
            if len(total):
                grid.add(int(total.iloc[0]))
            for extra in (q.n_repro_lo, q.n_repro_hi):
                if not np.isnan(extra):
                    grid.add(int(extra))
            cells = {
                f"N={n}": cell_p(
                    summary.ttest_summary(
                        mine["chg_mean"], mine["chg_sd"], mine["n"], q.mean, q.sd, n
                    ).p
                )
                for n in sorted(grid)
            }
            rows.append(
                {
                    "group": f"Month {month}",
                    "Comparator": COMPARATOR_LABELS.get(q.comparator, q.comparator),
                    "N used": str(int(q.n)),
                    "p over comparator N": "; ".join(f"{k}: {p}" for k, p in cells.items()),
                }
            )
    if not rows:
        return None
    return Table(
        pd.DataFrame(rows),
        caption="Dependence of the p-value on the comparator's N",
        table_id="historical-n",
        group_col="group",
        synthetic=ctx.synthetic,
        notes=[
            "The grid includes the comparator's baseline N, the N used, and the range of "
            "Ns that reproduce the published p-value from the printed summaries."
        ],
    )
