"""Comparisons with historical controls from published summary statistics (notebook 05).

The comparator file (``data/reference/historical_controls.csv``) holds one row
per comparator and quantity with its published mean/SD or percentage, the N
used for the test and where that N comes from. Tests are Student t tests with
pooled variance from summary statistics, as the paper did (Stata ``ttesti``);
percentages are compared as the t test on 0/1 data.

The patients compared (:func:`population`) are those of the analysis set with diffuse
cutaneous disease (and, when outcomes are analysed by indication, treated with IVIG for
skin involvement), because every comparator study enrolled diffuse cutaneous patients
only; a visit where fewer than ``min_pairs`` of them have a baseline and a value is not
compared. Remarks about a reference edition's own cohort come from its ``notes`` entry in
``config.REFERENCE_COHORTS`` (:func:`edition_note`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ivigbook.chapters import outcomes
from ivigbook.config import REFERENCE_COHORTS, project_root
from ivigbook.derive.bds import visit_key
from ivigbook.derive.context import Context
from ivigbook.errors import RunError
from ivigbook.results.applicability import Skip, count, has, sentence
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
#: the cutaneous subtype the comparator studies enrolled: the relaxin, D-penicillamine and
#: oral collagen trials pooled by Amjadi et al. 2009 and the mycophenolate cohort of Le et
#: al. 2011 took patients with diffuse cutaneous SSc only
COMPARATOR_SUBTYPE = "diffuse"
#: how the prose names the patients of the other subtypes (``schema.SSC_SUBTYPE``)
OTHER_SUBTYPES = {"limited": "limited cutaneous disease", "sine": "SSc sine scleroderma"}
CHAPTER = "05_historical_comparisons"
COLUMNS = [
    "visit",
    "avisitn",
    "comparator",
    "label",
    "mean",
    "sd",
    "n",
    "n_source",
    "diff",
    "diff_low",
    "diff_high",
    "p",
]


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


# ------------------------------------------------------------------ who is compared
def _pool(ctx: Context) -> Context:
    """The mRSS population of the skin chapter: the analysis set, or its patients treated
    for skin involvement when outcomes are analysed by indication."""
    return ctx.indication_group("skin")


def population(ctx: Context) -> Context:
    """The patients compared with the comparators: those of :func:`_pool` with diffuse
    cutaneous disease (:data:`COMPARATOR_SUBTYPE`); ``ctx`` itself when that is everyone."""
    pool = _pool(ctx)
    a = pool.analysed
    keep = (a["ssc_subtype"].astype(str) == COMPARATOR_SUBTYPE).to_numpy(dtype=bool)
    if keep.all():
        return pool
    return pool.restrict(a.loc[keep, "USUBJID"])


def _the(n: int) -> str:
    """'the one patient', 'the 7 patients'."""
    return "the one patient" if n == 1 else f"the {n} patients"


def _who(ctx: Context) -> str:
    return (
        "treated with IVIG for skin involvement" if _pool(ctx) is not ctx else "of the analysis set"
    )


def _left_out(pool: Context) -> list[tuple[int, str]]:
    """(number, words) of the patients of ``pool`` whose subtype the comparators lack."""
    counts = pool.analysed["ssc_subtype"].astype(str).value_counts()
    return [(int(counts[k]), w) for k, w in OTHER_SUBTYPES.items() if counts.get(k, 0)]


def population_text(ctx: Context, comparators: pd.DataFrame | None) -> str:
    """The chapter's first sentence: who is compared, and who is not and why."""
    if ctx.n == 0:
        return outcomes.nobody_analysed(ctx)
    if comparators is None:
        return ""
    pool, hctx, who = _pool(ctx), population(ctx), _who(ctx)
    if pool.n == 0:
        return (
            f"No patient of the analysis set ({count(ctx.n, 'patient')}) was treated with IVIG "
            "for skin involvement, so no change in mRSS is compared."
        )
    if hctx.n == pool.n:
        if pool.n == 1:
            return (
                f"The one patient {who} has diffuse cutaneous disease, like every patient of "
                "the comparator studies."
            )
        everyone = "Both patients" if pool.n == 2 else f"All {pool.n} patients"
        return (
            f"{everyone} {who} have diffuse cutaneous disease, like every patient of the "
            "comparator studies."
        )
    trials = "The comparator studies enrolled patients with diffuse cutaneous disease only"
    out = _left_out(pool)
    kinds = outcomes.and_list([f"{k} with {w}" for k, w in out])
    if hctx.n == 0:
        if pool.n == 1:
            return f"{trials}, and {_the(1)} {who} has {out[0][1]}, so no comparison is made."
        return (
            f"{trials}, and none of {_the(pool.n)} {who} has it ({kinds}), so no comparison "
            "is made."
        )
    gone = pool.n - hctx.n
    rest = (
        f"the one patient with {out[0][1]} is left out"
        if gone == 1
        else f"the other {gone} ({kinds}) are left out"
    )
    return (
        f"{trials}, so the comparisons below use {_the(hctx.n)} {who} who {has(hctx.n)} it; {rest}."
    )


def not_compared(
    ctx: Context, comparators: pd.DataFrame | None, what: str = "historical comparison"
) -> str | None:
    """Why no comparison is made at all (one sentence for each section), else None."""
    if comparators is None:
        return f"No comparator file was given, so no {what} is made."
    if ctx.n == 0:
        return f"No patient is in the analysis set, so no {what} is made."
    if _pool(ctx).n == 0:
        return (
            "No patient of the analysis set was treated with IVIG for skin involvement, so no "
            f"{what} is made."
        )
    if population(ctx).n == 0:
        return f"No patient {_who(ctx)} has diffuse cutaneous disease, so no {what} is made."
    return None


def population_label(ctx: Context) -> str:
    """'Analysis set, N=30' or which patients of it are compared (a table's population)."""
    pool, hctx = _pool(ctx), population(ctx)
    if hctx is ctx:
        return outcomes.population_phrase(ctx)
    base = "Analysis set" if pool is ctx else "Patients treated with IVIG for skin involvement"
    if hctx is pool:
        return f"{base}, N={pool.n}"
    return f"{base}, those with diffuse cutaneous disease, N={hctx.n} (of {pool.n})"


# ------------------------------------------------------------------ what the page says of them
def reference_entry(ctx: Context) -> dict | None:
    """The ``config.REFERENCE_COHORTS`` entry whose registered data this cohort is."""
    if not ctx.cohort.source:
        return None
    try:
        root = project_root(None)
    except RunError:  # outside a checkout: no registry
        return None
    here = Path(ctx.cohort.source).resolve()
    for entry in REFERENCE_COHORTS.values():
        if (root / entry["data_dir"]).resolve() == here:
            return entry
    return None


def edition_note(ctx: Context, chapter: str = CHAPTER) -> str:
    """The note of a reference edition about its paper's own cohort, for ``chapter``
    (``notes`` of its registry entry); '' for any other cohort."""
    return str(((reference_entry(ctx) or {}).get("notes") or {}).get(chapter, ""))


def prior_mycophenolate_text(ctx: Context, mmf_compared: bool) -> str:
    """How many of the patients compared had mycophenolate before IVIG (what the data
    show; why IVIG was added is not recorded)."""
    hctx = population(ctx)
    flag = hctx.analysed["prior_mycophenolate"]
    known = flag.notna().to_numpy(dtype=bool)
    n = int(known.sum())
    k = int(flag[known].astype(bool).sum())
    if n == 0:
        return (
            "The cohort has no medication records, so whether the patients compared had "
            "mycophenolate before IVIG is not known."
        )
    unknown = hctx.n - n
    if k == 0:
        text = (
            "The one patient compared had no mycophenolate course before the first IVIG cycle"
            if n == 1
            else f"No patient of the {n} compared had a mycophenolate course before the "
            "first IVIG cycle"
        )
    else:
        who = (
            "The one patient compared"
            if n == 1
            else f"{k} of the {n} patients compared ({fmt_number(100.0 * k / n)}%)"
        )
        text = (
            f"{who} had a mycophenolate course that started before the first IVIG cycle. "
            "The data record when mycophenolate was given, not whether it had worked, so "
            "they do not show whether IVIG was added because it had failed"
        )
    if k and mmf_compared:
        text += (
            "; if it was, these patients were selected for a poor response to mycophenolate, "
            "and the comparison with mycophenolate alone would be biased against IVIG"
        )
    if unknown:
        text += f". It is not recorded for {count(unknown, 'patient')} more"
    return text + "."


def _glue_texts(ctx: Context, rec, comparators, comp: pd.DataFrame, why: str | None) -> None:
    """The prose of the chapter that depends on whether and whom it compares."""
    rec.prose("hist_population_text", population_text(ctx, comparators))
    rec.prose("hist_edition_note", edition_note(ctx))
    if why or comp.empty:
        rec.prose("hist_n_text", "No comparison is made, so no p-value is recomputed.")
        rec.prose("hist_baseline_text", "")
        rec.prose("hist_prior_mmf_text", "It does not apply here: no comparison is made.")
        return
    rec.prose(
        "hist_n_text",
        "The published summaries do not say how many comparator patients had follow-up "
        "data. The table recomputes each p-value over a range of plausible comparator Ns.",
    )
    whose = (
        "the analysis set"
        if population(ctx) is ctx
        else f"the whole analysis set ({count(ctx.n, 'patient')}, not only those compared)"
    )
    rec.prose(
        "hist_baseline_text",
        f"Table 1 (chapter 1) sets the baseline mRSS of {whose} beside each comparator's.",
    )
    mmf = bool((comp["comparator"] == "mmf").any())
    rec.prose("hist_prior_mmf_text", prior_mycophenolate_text(ctx, mmf))


# ------------------------------------------------------------------ change in mRSS
def change_comparisons(
    ctx: Context, rec, comparators: pd.DataFrame | None, paramcd: str = "MRSS"
) -> pd.DataFrame:
    """Mean change in mRSS under IVIG vs each comparator with published change data.

    The IVIG side is :func:`population`; a visit with fewer than ``min_pairs`` of its
    patients with a baseline and a value is not compared. Records ``hist_compared_n``,
    ``hist_ivig_<visit>_mean``/``_sd``/``_n`` at each visit a comparator reports and, at
    the visits compared, ``hist_<comparator>_<visit>_mean``/``_sd``/``_n_used``/``_diff``/
    ``_p``. Glues ``hist_change_text`` and the chapter's other cohort-dependent prose
    (:func:`_glue_texts`)."""
    why = not_compared(ctx, comparators)
    if why:
        _glue_texts(ctx, rec, comparators, pd.DataFrame(columns=COLUMNS), why)
        rec.prose("hist_change_text", why)
        return pd.DataFrame(columns=COLUMNS)
    hctx = population(ctx)
    rec.value("hist_compared_n", hctx.n, kind="int")
    rows, short = [], []
    for month in ctx.params.followup_months:
        v = visit_key(month)
        quantity = f"mrss_change_{v}"
        comps = comparators[comparators["quantity"] == quantity]
        if comps.empty:
            continue
        mine = outcomes.compare_visit(hctx, paramcd, month)
        rec.value(f"hist_ivig_{v}_mean", mine["chg_mean"], 1)
        rec.value(f"hist_ivig_{v}_sd", mine["chg_sd"], 1)
        rec.value(f"hist_ivig_{v}_n", mine["n"], kind="int")
        if mine["n"] < ctx.params.min_pairs:
            short.append((month, int(mine["n"])))
            continue
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
    out = pd.DataFrame(rows, columns=COLUMNS)
    out.attrs.update(
        population=population_label(ctx),
        short=short,
        min_pairs=ctx.params.min_pairs,
        anchor=ctx.params.followup_anchor,
    )
    _glue_texts(ctx, rec, comparators, out, None)
    rec.prose("hist_change_text", change_sentence(out))
    return out


def _short_text(comp: pd.DataFrame) -> str:
    """The visits not compared for want of ``min_pairs`` patients ('' when none)."""
    short = comp.attrs.get("short") or []
    if not short:
        return ""
    anchor = comp.attrs.get("anchor", "ivig_start")
    where = outcomes.and_list([f"{outcomes.visit_phrase(m, anchor)} (N={n})" for m, n in short])
    return (
        f"No comparison is made at {where}: a comparison needs at least "
        f"{comp.attrs['min_pairs']} patients with a baseline and a value at the visit "
        "(rule min_pairs)."
    )


def change_sentence(comp: pd.DataFrame) -> str:
    """One sentence per visit compared (IVIG change and each comparator's p-value), and
    one for the visits with too few IVIG patients."""
    if comp.empty and not comp.attrs.get("short"):
        return (
            "No historical comparator in the comparator file reports a change in mRSS at the "
            "follow-up visits of this cohort, so no comparison is made."
        )
    anchor = comp.attrs.get("anchor", "ivig_start")
    parts = []
    for visit, g in comp.groupby("avisitn", sort=True):
        mine = g[g["comparator"] == "ivig"].iloc[0]
        others = [
            f"{r.label} {fmt_number(r.mean)} (SD {fmt_number(r.sd)}, N={r.n}; {p_text(r.p)})"
            for r in g[g["comparator"] != "ivig"].itertuples()
        ]
        parts.append(
            f"At {outcomes.visit_phrase(int(visit), anchor)} the mean change under IVIG was "
            f"{fmt_number(mine['mean'])} (SD {fmt_number(mine['sd'])}, N={mine['n']}), against "
            + "; ".join(others)
            + "."
        )
    short = _short_text(comp)
    return " ".join(parts + ([short] if short else []))


def _quiet(what: str) -> Skip:
    return Skip(sentence(f"no {what}: the chapter's prose says why"), quiet=True)


def change_table(comp: pd.DataFrame, synthetic: bool) -> Table | Skip:
    if comp.empty:
        return _quiet("comparison table")
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
    notes = [
        f"IVIG: {comp.attrs.get('population', 'analysis set')}; the patients with a baseline "
        "and a value at the visit.",
        "Student t test with pooled variance from summary statistics. The comparator N "
        "with follow-up data is not published; the N used is the one that reproduces "
        "the paper's p-value from its printed summaries (see data/reference/README.md).",
    ]
    short = _short_text(comp)
    if short:
        notes.append(short)
    return Table(
        pd.DataFrame(rows),
        caption="Change in mRSS: IVIG vs historical controls",
        table_id="historical",
        group_col="group",
        synthetic=synthetic,
        notes=notes,
    )


def forest_rows(comp: pd.DataFrame) -> pd.DataFrame | Skip:
    """Mean change with its 95% CI for IVIG and each comparator, grouped by visit."""
    if comp.empty:
        return _quiet("comparison to plot")
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
) -> Table | Skip:
    """p-value of each change comparison over a range of comparator Ns (the visits
    :func:`change_comparisons` compares)."""
    if not_compared(ctx, comparators):
        return _quiet("p-value to recompute")
    hctx = population(ctx)
    rows = []
    for month in ctx.params.followup_months:
        v = visit_key(month)
        comps = comparators[comparators["quantity"] == f"mrss_change_{v}"]
        if comps.empty:
            continue
        mine = outcomes.compare_visit(hctx, paramcd, month)
        if mine["n"] < ctx.params.min_pairs:
            continue
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
        return _quiet("p-value to recompute")
    return Table(
        pd.DataFrame(rows),
        caption="Dependence of the p-value on the comparator's N",
        table_id="historical-n",
        group_col="group",
        synthetic=ctx.synthetic,
        notes=[
            f"IVIG: {population_label(ctx)}; the patients with a baseline and a value at the "
            "visit.",
            "The grid includes the comparator's baseline N, the N used, and the range of "
            "Ns that reproduce the published p-value from the printed summaries.",
        ],
    )
