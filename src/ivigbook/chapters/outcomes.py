"""Generic baseline-versus-visit analyses of any measure (used by every outcome chapter).

A measure's scale decides the test (DESIGN §4): continuous measures get the
paired Student t test, ordinal scores (``schema.Measure.ordinal``) the
Wilcoxon signed-rank test as Stata's ``signrank``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ivigbook.data.lookup import isin
from ivigbook.data.schema import MEASURES
from ivigbook.derive.bds import visit_key
from ivigbook.derive.calendar import month_index
from ivigbook.derive.context import Context
from ivigbook.derive.records import per_patient
from ivigbook.results.applicability import Skip, count, sentence, too_few_pairs
from ivigbook.results.formatter import fmt_number, p_text
from ivigbook.results.table import Table, cell_mean_sd, cell_p
from ivigbook.stats import tests as stats


def mean_ci_from_summary(mean: float, sd: float, n: int, conf: float = 0.95) -> tuple[float, float]:
    """t-based confidence interval of a mean from its summary statistics."""
    from scipy import stats as sps

    if n < 2 or not np.isfinite(sd):
        return np.nan, np.nan
    h = sps.t.ppf(0.5 + conf / 2, n - 1) * sd / np.sqrt(n)
    return mean - h, mean + h


def primary_month(ctx: Context) -> int:
    """The visit the paper emphasises: month 12 if scheduled, else the last follow-up."""
    months = ctx.params.followup_months
    return 12 if 12 in months else months[-1]


def baseline(ctx: Context, paramcd: str) -> pd.Series:
    """Baseline values of the analysis set (one per patient, NaN-free)."""
    b = ctx.chosen(paramcd)
    return b.loc[b["AVISITN"] == 0, "AVAL"].astype(float).reset_index(drop=True)


def pairs(ctx: Context, paramcd: str, avisitn: int) -> pd.DataFrame:
    """Patients of the analysis set with both a baseline and a value at the visit."""
    b = ctx.chosen(paramcd)
    b = b[(b["AVISITN"] == avisitn) & b["BASE"].notna() & b["AVAL"].notna()]
    cols = ["USUBJID", "BASE", "AVAL", "CHG"]
    out = b[cols].copy()
    out["CHG"] = out["AVAL"] - out["BASE"]
    out.insert(0, "SUBJSEQ", b["SUBJSEQ"].astype("Int64"))  # the BDS carries ADSL's SUBJSEQ
    return out.sort_values("SUBJSEQ", kind="stable").reset_index(drop=True)


def test_for(paramcd: str) -> str:
    """'signrank' for ordinal scores and skewed lab values, 'paired_t' otherwise."""
    m = MEASURES.get(paramcd)
    return "signrank" if m is not None and (m.ordinal or m.skewed) else "paired_t"


TEST_NAMES = {
    "paired_t": "paired Student t test",
    "signrank": "Wilcoxon signed-rank test (Stata signrank: zeros ranked without sign, "
    "normal approximation, no continuity correction)",
}


def visit_phrase(avisitn: int, anchor: str) -> str:
    """'month 6' or 'month 3 after the last cycle'."""
    return f"month {avisitn}" + (" after the last cycle" if anchor == "last_cycle" else "")


def course_sentence(ctx: Context, c: pd.DataFrame, label: str, decimals: int = 1) -> str:
    """A sentence describing a measure's course; numbers as recorded by record_course."""

    def f(v):
        return fmt_number(v, decimals)

    def spread(mean, sd, n) -> str:
        return f"{f(mean)} (SD {f(sd)}, N={n}" if n > 1 else f"{f(mean)} (N={n}"

    base = c[c["avisitn"] == 0].iloc[0]
    if base["n"] == 0:
        return f"No {label} value was recorded at baseline in the analysis set."
    parts = [
        f"The mean baseline {label} was {spread(base['aval_mean'], base['aval_sd'], base['n'])})."
    ]
    visits, empty = [], []
    for r in c[c["avisitn"] != 0].itertuples():
        where = visit_phrase(r.avisitn, ctx.params.followup_anchor)
        if r.n == 0:
            empty.append(where)
            continue
        test = p_phrase(r.p, ctx.params)
        visits.append(
            f"at {where} it was {spread(r.aval_mean, r.aval_sd, r.n)}; "
            f"change {f(r.chg_mean)}, {test})"
        )
    if visits:
        parts.append(sentence("; ".join(visits)))
    followed = c.loc[c["avisitn"] != 0, "n"].to_numpy()
    if len(followed) > 1 and followed[-1] < followed[0] and (np.diff(followed) <= 0).all():
        parts.append(
            "The number of patients falls at later visits, so each complete-case mean "
            "describes fewer patients."
        )
    if empty:
        parts.append(sentence(f"no patient had a value at {and_list(empty, 'or')}"))
    if np.isfinite(c["p"].to_numpy(dtype=float)).any():
        test = test_for(c.attrs.get("paramcd", "")) if c.attrs.get("paramcd") else "paired_t"
        parts.append(
            f"Each p compares the visit with baseline among the patients with both values "
            f"({TEST_NAMES[test]})."
        )
    return " ".join(parts)


def p_phrase(p: float, params) -> str:
    """'p=0.012' for prose, or why there is no test (rule min_pairs)."""
    if np.isfinite(p):
        return p_text(p)
    return f"no test with fewer than {params.min_pairs} pairs"


def and_list(items: list[str], conj: str = "and") -> str:
    """'a', 'a and b', 'a, b and c' (``conj="or"`` after a negation: 'a, b or c')."""
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + f" {conj} " + items[-1]


def compare_visit(ctx: Context, paramcd: str, avisitn: int, test: str | None = None) -> dict:
    """Baseline vs visit for one measure: n, means/SDs over complete pairs, change, p."""
    p = pairs(ctx, paramcd, avisitn)
    test = test or test_for(paramcd)
    suppressed = too_few_pairs(len(p), ctx.params)
    row = {"paramcd": paramcd, "avisitn": int(avisitn), "test": test, "n": len(p)}
    row["suppressed"] = suppressed or ""
    if len(p) == 0:
        return row | {
            k: np.nan
            for k in (
                "base_mean",
                "base_sd",
                "aval_mean",
                "aval_sd",
                "chg_mean",
                "chg_sd",
                "ci_low",
                "ci_high",
                "p",
            )
        }
    if suppressed:
        ci_low = ci_high = pval = np.nan
    elif test == "paired_t":
        r = stats.paired_t(p["BASE"], p["AVAL"])
        ci_low, ci_high, pval = r.ci_low, r.ci_high, r.p
    else:
        r = stats.signrank(p["BASE"], p["AVAL"])
        ci_low = ci_high = np.nan
        pval = r.p
    return row | {
        "base_mean": p["BASE"].mean(),
        "base_sd": p["BASE"].std(ddof=1),
        "aval_mean": p["AVAL"].mean(),
        "aval_sd": p["AVAL"].std(ddof=1),
        "aval_median": p["AVAL"].median(),
        "base_median": p["BASE"].median(),
        "chg_mean": p["CHG"].mean(),
        "chg_sd": p["CHG"].std(ddof=1),
        "ci_low": ci_low,
        "ci_high": ci_high,
        "p": pval,
    }


def course(ctx: Context, paramcd: str) -> pd.DataFrame:
    """Baseline and every follow-up visit of one measure (one row per visit).

    Each follow-up row compares the visit with baseline among patients who
    have both (complete pairs), as the paper does.
    """
    b = ctx.chosen(paramcd)
    base = b[b["AVISITN"] == 0]["AVAL"].astype(float)
    rows = [
        {
            "avisitn": 0,
            "n": int(base.size),
            "aval_mean": base.mean(),
            "aval_sd": base.std(ddof=1) if base.size > 1 else np.nan,
        }
    ]
    for month in ctx.params.followup_months:
        rows.append(compare_visit(ctx, paramcd, month))
    out = pd.DataFrame(rows)
    out.attrs["paramcd"] = paramcd
    return out


def record_course(
    ctx: Context, rec, area: str, paramcd: str, name: str, decimals: int = 1
) -> pd.DataFrame:
    """Record a measure's course under ``<area>_<name>_<visit>_<stat>`` keys."""
    c = course(ctx, paramcd)
    for r in c.to_dict("records"):
        v = visit_key(r["avisitn"])
        rec.value(f"{area}_{name}_{v}_n", r["n"], kind="int")
        rec.value(f"{area}_{name}_{v}_mean", r["aval_mean"], decimals)
        rec.value(f"{area}_{name}_{v}_sd", r["aval_sd"], decimals)
        if r["avisitn"] != 0:
            rec.value(f"{area}_{name}_{v}_p", r["p"], kind="p")
            rec.value(f"{area}_{name}_{v}_base_mean", r["base_mean"], decimals)
            rec.value(f"{area}_{name}_{v}_base_sd", r["base_sd"], decimals)
            rec.value(f"{area}_{name}_change_{v}_n", r["n"], kind="int")
            rec.value(f"{area}_{name}_change_{v}_mean", r["chg_mean"], decimals)
            rec.value(f"{area}_{name}_change_{v}_sd", r["chg_sd"], decimals)
            rec.value(f"{area}_{name}_change_{v}_p", r["p"], kind="p")
            if not np.isnan(r.get("ci_low", np.nan)):
                rec.value(f"{area}_{name}_change_{v}_ci_low", r["ci_low"], decimals)
                rec.value(f"{area}_{name}_change_{v}_ci_high", r["ci_high"], decimals)
    return c


def trajectory(
    ctx: Context, paramcd: str, months=range(-24, 37), by: str = "ivig_start"
) -> pd.DataFrame:
    """Mean value with a t-based 95% CI per calendar-month offset from IVIG start,
    using every recorded value of the analysis set (not only windowed ones).

    Values are grouped into 3-month bins centred on multiples of 3 so that each
    point has enough patients; a patient contributes at most one value per bin
    (their latest).
    """

    m = ctx.cohort.measurements
    m = m[
        (m["measure"] == paramcd).to_numpy(dtype=bool)
        & isin(m["patient_id"], ctx.analysed["USUBJID"])
    ]
    first = ctx.analysed.set_index("USUBJID")["first_cycle_date"]
    off = (month_index(m["date"]) - month_index(per_patient(m["patient_id"], first))).astype(
        "Int64"
    )
    d = pd.DataFrame(
        {
            "pid": m["patient_id"].to_numpy(),
            "date": m["date"].to_numpy(),
            "off": off.to_numpy(),
            "value": m["value"].to_numpy(),
        }
    )
    d = d.dropna(subset=["off"])
    d["bin"] = (np.round(d["off"].astype(float) / 3.0) * 3).astype(int)
    d = d[d["bin"].between(min(months), max(months))]
    d = d.sort_values(["pid", "bin", "date"]).drop_duplicates(["pid", "bin"], keep="last")
    g = d.groupby("bin")["value"]
    out = pd.DataFrame({"n": g.size(), "mean": g.mean(), "sd": g.std(ddof=1)})
    out = out[out["n"] >= 2].reset_index().rename(columns={"bin": "month"})
    ci = [mean_ci_from_summary(r.mean, r.sd, int(r.n)) for r in out.itertuples()]
    out["ci_low"] = [c[0] for c in ci]
    out["ci_high"] = [c[1] for c in ci]
    return out


def visit_label(avisitn: int) -> str:
    return "Baseline" if avisitn == 0 else f"Month {avisitn}"


def course_table(
    ctx: Context,
    rec,
    paramcd: str = "MRSS",
    name: str = "mrss",
    area: str = "skin",
    decimals: int = 1,
    caption: str | None = None,
) -> Table:
    """A measure at baseline and each visit: N, mean (SD), change and p vs baseline."""
    c = record_course(ctx, rec, area, paramcd, name, decimals)
    label = MEASURES[paramcd].label
    if int(c["n"].sum()) == 0:
        rec.prose(f"{area}_{name}_text", "")
        return Skip(no_values_reason(ctx, paramcd))
    rec.prose(f"{area}_{name}_text", course_sentence(ctx, c, label, decimals))
    test = test_for(paramcd)
    rows = []
    empty = [
        visit_label(m) for m in c["avisitn"] if m != 0 and not c.loc[c["avisitn"] == m, "n"].iloc[0]
    ]
    for r in c.to_dict("records"):
        first = r["avisitn"] == 0
        if not first and r["n"] == 0:
            continue
        rows.append(
            {
                "Visit": visit_label(r["avisitn"]),
                "N": str(r["n"]),
                "Mean (SD)": cell_mean_sd(r["aval_mean"], r["aval_sd"], decimals),
                "Baseline of the same patients": ""
                if first
                else cell_mean_sd(r["base_mean"], r["base_sd"], decimals),
                "Change, mean (SD)": ""
                if first
                else cell_mean_sd(r["chg_mean"], r["chg_sd"], decimals),
                "p": "" if first else cell_p(r["p"]),
            }
        )
    test_name = TEST_NAMES[test]
    notes = [
        f"{population_phrase(ctx)}. p: {test_name}, baseline vs visit among patients with both "
        f"values. Visit windows: target month \u00b1{ctx.params.window_halfwidth_months}; "
        f"baseline: latest value from {ctx.params.baseline_lookback_months} months "
        "before to the month of the first cycle."
    ]
    if (c["suppressed"].fillna("") != "").any():
        notes.append(
            f"\u2014: no p-value with fewer than {ctx.params.min_pairs} patients with both "
            "values (rule min_pairs)."
        )
    if empty:
        notes.append(
            f"No patient had a value at {and_list(empty, 'or').lower()}, so these rows are left "
            "out."
        )
    return Table(
        pd.DataFrame(rows),
        caption=caption or f"{name.upper()} over time",
        table_id=f"course-{name}",
        synthetic=ctx.synthetic,
        notes=notes,
    )


def nobody_analysed(ctx: Context) -> str:
    """Why the analysis set is empty, and which rule to change (zero eligible is a result)."""
    rule = ctx.params.inclusion
    way = (
        " To include every treated patient, run with --set inclusion=all_treated."
        if rule != "all_treated"
        else ""
    )
    return (
        f"No patient met the inclusion criteria (rule inclusion={rule}; see the inclusion "
        f"flow in the cohort chapter for the reason of each exclusion), so this chapter has "
        f"no results.{way}"
    )


def population_phrase(ctx: Context) -> str:
    """'Analysis set, N=30' (the patients a table describes)."""
    return f"Analysis set, N={ctx.n}"


def no_values_reason(ctx: Context, paramcd: str) -> str:
    """Why a measure's section is empty: not recorded at all, or not in the analysis set."""
    label = MEASURES[paramcd].label
    if ctx.n == 0:
        return f"No patient is in the analysis set, so there is no {label} course."
    recorded = bool((ctx.cohort.measurements["measure"] == paramcd).any())
    if not recorded:
        return f"No {label} value is recorded in this cohort, so there is no {label} course."
    return (
        f"No patient of the analysis set ({count(ctx.n, 'patient')}) has a {label} value at "
        "baseline or follow-up, so there is no course."
    )
