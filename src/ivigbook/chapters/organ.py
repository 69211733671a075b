"""Pulmonary and organ outcomes (notebook 03): FVC, DLCO, Medsger scores, CK in myositis."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ivigbook.chapters import outcomes
from ivigbook.data.schema import MEASURES
from ivigbook.derive.bds import visit_key
from ivigbook.derive.context import Context
from ivigbook.derive.records import measure_records
from ivigbook.results.applicability import Skip, count, too_few_pairs
from ivigbook.results.formatter import fmt_number
from ivigbook.results.table import Table, cell_mean_sd, cell_p
from ivigbook.stats import tests as stats

#: Upper limit of normal for creatine kinase used to call a value "normal" (U/L).
CK_ULN = 200.0
MEDSGER = [code for code in MEASURES if code.startswith("MEDSGER_")]


def pulmonary(ctx: Context, rec, measures: dict[str, str] | None = None) -> Table | None:
    """Baseline vs the primary visit for lung function (paired t); glues organ_pulmonary_text."""
    measures = measures or {"FVC_PCT": "fvc", "DLCO_PCT": "dlco", "RVSP_MMHG": "rvsp"}
    month = outcomes.primary_month(ctx)
    visit_key(month)
    where = outcomes.visit_phrase(month, ctx.params.followup_anchor)
    rows, phrases = [], []
    for code, name in measures.items():
        if not ctx.measure_present(code):
            continue
        c = outcomes.record_course(ctx, rec, "organ", code, name)
        r = c[c["avisitn"] == month].iloc[0]
        m = MEASURES[code]
        if not r["n"]:
            continue
        rows.append(
            {
                "Measure": f"{m.label} ({m.unit})",
                "N (pairs)": str(int(r["n"])),
                "Baseline": cell_mean_sd(r["base_mean"], r["base_sd"]),
                f"Month {month}": cell_mean_sd(r["aval_mean"], r["aval_sd"]),
                "Change": cell_mean_sd(r["chg_mean"], r["chg_sd"]),
                "p": cell_p(r["p"]),
            }
        )
        if r["n"]:
            phrases.append(
                f"mean {m.label} went from {fmt_number(r['base_mean'])} to "
                f"{fmt_number(r['aval_mean'])} {m.unit} (N={int(r['n'])}, "
                f"{outcomes.p_phrase(r['p'], ctx.params)})"
            )
    if not rows:
        rec.prose("organ_pulmonary_text", "")
        if ctx.n == 0:
            return Skip("No patient is in the analysis set, so there is no lung function.")
        if any(ctx.measure_present(code) for code in measures):
            return Skip(
                f"No patient of the analysis set has lung function or RVSP values at both "
                f"baseline and {where}."
            )
        return Skip("No lung function or RVSP values are recorded for the analysis set.")
    text = f"Between baseline and {where}, " + "; ".join(phrases) + "."
    rec.prose(
        "organ_pulmonary_text",
        text + " Baseline means here are those of the patients with "
        "both values, so they can differ from Table 1.",
    )
    return Table(
        pd.DataFrame(rows),
        caption="Pulmonary function and RVSP",
        table_id="paired-organ",
        synthetic=ctx.synthetic,
        notes=[
            f"{outcomes.population_phrase(ctx)}. Mean (SD) among patients with both a baseline "
            f"and a follow-up value; p: paired Student t test (none with fewer than "
            f"{ctx.params.min_pairs} pairs, rule min_pairs)."
        ],
    )


def _muscle_population(ctx: Context) -> tuple[Context, str]:
    """Patients treated for myositis (by indication) or with overlap myositis (the paper)."""
    if ctx.params.population_by_indication:
        return ctx.indication_group("myositis"), "treated with IVIG for myositis"
    a = ctx.analysed
    return ctx.restrict(
        a.loc[a["overlap_myositis"].fillna(False).astype(bool), "USUBJID"]
    ), "with overlap myositis"


def _no_muscle_group(ctx: Context, who: str) -> str:
    if ctx.n == 0:
        return "No patient is in the analysis set, so there are no muscle outcomes."
    verb = "was" if who.startswith("treated") else "has"
    phrase = who.removeprefix("with ")
    return f"No patient of the analysis set {verb} {phrase}, so there are no muscle outcomes."


def myositis(ctx: Context, rec) -> Table | Skip:
    """Muscle outcomes: CK and MRC strength in the myositis group (Wilcoxon for skewed CK)."""
    mctx, who = _muscle_population(ctx)
    rec.value("myositis_patients_n", mctx.n, kind="int")
    if not ctx.params.population_by_indication and not ctx.cohort.recorded("patients", "overlap"):
        rec.prose("organ_myositis_text", "")
        return Skip(
            "Overlap diseases are not recorded in this cohort's data (no overlap column), so "
            "the patients with overlap myositis are not known and there are no muscle outcomes."
        )
    if mctx.n == 0:
        rec.prose("organ_myositis_text", "")
        return Skip(_no_muscle_group(ctx, who))
    rows, phrases = [], []
    for code, name in (("CK_UL", "ck"), ("MRC_STRENGTH", "mrc")):
        if not mctx.measure_present(code):
            continue
        c = outcomes.record_course(mctx, rec, "myositis", code, name)
        m = MEASURES[code]
        for r in c.to_dict("records"):
            first = r["avisitn"] == 0
            if not r["n"]:
                continue
            rows.append(
                {
                    "group": f"{m.label} ({m.unit})",
                    "Visit": outcomes.visit_label(r["avisitn"]),
                    "N": str(r["n"]),
                    "Mean (SD)": cell_mean_sd(r["aval_mean"], r["aval_sd"]),
                    "Median": ""
                    if first
                    else fmt_number(r.get("aval_median"), 0 if code == "CK_UL" else 1),
                    "p": "" if first else cell_p(r["p"]),
                }
            )
            if not first and r["n"]:
                d = 0 if code == "CK_UL" else 1
                phrases.append(
                    f"mean {m.label} {fmt_number(r['base_mean'], d)} to "
                    f"{fmt_number(r['aval_mean'], d)} {m.unit} at "
                    f"{outcomes.visit_phrase(r['avisitn'], ctx.params.followup_anchor)} "
                    f"(N={r['n']}, {outcomes.p_phrase(r['p'], ctx.params)}, "
                    f"{outcomes.test_for(code).replace('_', ' ')})"
                )
    mrc = mctx.chosen("MRC_STRENGTH")
    for month in ctx.params.followup_months:
        at = mrc[mrc["AVISITN"] == month]["AVAL"]
        if len(at):
            k = int((at >= 3).sum())
            v = visit_key(month)
            rec.value(f"myositis_mrc_3to5_{v}_n", k, kind="int")
            rec.value(f"myositis_mrc_3to5_{v}_pct", 100.0 * k / len(at), 1)
            phrases.append(
                f"{k} of {len(at)} ({fmt_number(100.0 * k / len(at))}%) had MRC grade 3-5 at "
                f"{outcomes.visit_phrase(month, ctx.params.followup_anchor)}"
            )
    if not rows:
        rec.prose("organ_myositis_text", "")
        return Skip(f"No CK or MRC values are recorded for the {count(mctx.n, 'patient')} {who}.")
    rec.prose(
        "organ_myositis_text",
        f"Among the {count(mctx.n, 'patient')} {who}: " + "; ".join(phrases) + "."
        if phrases
        else f"The {count(mctx.n, 'patient')} {who} have no muscle values after IVIG start.",
    )
    return Table(
        pd.DataFrame(rows),
        caption=f"Muscle outcomes in patients {who}",
        table_id="myositis",
        group_col="group",
        synthetic=ctx.synthetic,
        notes=[
            "CK is right-skewed, so it is compared with the Wilcoxon signed-rank test; MRC "
            "grades are ordinal (Wilcoxon). Mean (SD) over all patients with a value at the "
            "visit; p over patients with both baseline and visit values."
        ],
    )


def gastrointestinal(ctx: Context, rec) -> Table | None:
    """UCLA GIT 2.0 in the GI group (paired t)."""
    gctx = ctx.indication_group("gi")
    if not gctx.measure_present("UCLA_GIT_TOTAL"):
        rec.prose("organ_gi_text", "")
        if gctx.n == 0:
            who = "treated for gastrointestinal involvement" if gctx is not ctx else "analysed"
            return Skip(f"No patient is {who}, so there are no UCLA GIT 2.0 scores.")
        return Skip("No UCLA GIT 2.0 scores are recorded for these patients.")
    who = "treated for gastrointestinal involvement" if gctx is not ctx else "of the analysis set"
    table = outcomes.course_table(
        gctx,
        rec,
        "UCLA_GIT_TOTAL",
        "ucla_git",
        area="gi",
        decimals=2,
        caption=f"UCLA GIT 2.0 total score, patients {who}",
    )
    rec.prose("organ_gi_text", rec.texts["gi_ucla_git_text"])
    return table


def medsger(ctx: Context, rec) -> Table | None:
    """Medsger severity by organ, baseline vs primary visit, Wilcoxon signed-rank (Stata)."""

    month = outcomes.primary_month(ctx)
    v = visit_key(month)
    rows = []
    for code in MEDSGER:
        p = outcomes.pairs(ctx, code, month)
        if p.empty:
            continue
        organ = code.removeprefix("MEDSGER_").lower()
        r = stats.signrank(p["BASE"], p["AVAL"])
        pval = np.nan if too_few_pairs(len(p), ctx.params) else r.p
        changed = int((p["CHG"] != 0).sum())
        better = int((p["CHG"] < 0).sum())
        worse = int((p["CHG"] > 0).sum())
        key = f"organ_medsger_{organ}_{v}"
        rec.value(f"{key}_n", len(p), kind="int")
        rec.value(f"{key}_p", pval, kind="p")
        rec.value(f"{key}_improved_n", better, kind="int")
        rec.value(f"{key}_worse_n", worse, kind="int")
        rec.value(f"{key}_changed_n", changed, kind="int")
        rows.append(
            {
                "Organ (Medsger)": MEASURES[code].label.removeprefix("Medsger ").capitalize(),
                "N (pairs)": str(len(p)),
                "Baseline, median": f"{p['BASE'].median():g}",
                f"Month {month}, median": f"{p['AVAL'].median():g}",
                "Improved / unchanged / worse": f"{better} / {len(p) - changed} / {worse}",
                "p": cell_p(pval) if changed else "no change",
            }
        )
    if not rows:
        if ctx.n == 0:
            return Skip("No patient is in the analysis set, so there are no Medsger scores.")
        return Skip(
            f"No patient of the analysis set has a Medsger score at both baseline and "
            f"{outcomes.visit_phrase(month, ctx.params.followup_anchor)}."
        )
    return Table(
        pd.DataFrame(rows),
        caption=f"Medsger severity scores, baseline vs month {month}",
        table_id="medsger",
        synthetic=ctx.synthetic,
        notes=[
            f"{outcomes.population_phrase(ctx)}; organs with no pair are left out. \u2014: no "
            f"test with fewer than {ctx.params.min_pairs} pairs (rule min_pairs). "
            "Wilcoxon signed-rank test as Stata's signrank: zero differences are kept in "
            "the ranking and carry no sign (Pratt), ties get average ranks, normal "
            "approximation without continuity correction."
        ],
    )


def ck_course(ctx: Context, rec) -> pd.DataFrame | Skip:
    """CK values over time in the myositis group (long: SUBJSEQ, month, value); records
    how many had serial values and how many ended below the upper limit of normal."""

    mctx, who = _muscle_population(ctx)
    group = mctx.analysed
    long = measure_records(group, ctx.cohort.measurements, "CK_UL")
    counts = long.groupby("SUBJSEQ").size()
    serial = counts[counts >= 2].index
    last = long.groupby("SUBJSEQ")["value"].last()
    normalised = int((last.loc[serial] < CK_ULN).sum()) if len(serial) else 0
    rec.value("organ_ck_myositis_n", len(group), kind="int")
    rec.value("organ_ck_serial_n", len(serial), kind="int")
    rec.value("organ_ck_normalised_n", normalised, kind="int")
    if not len(group):  # the muscle section already says why
        rec.prose("organ_ck_text", "")
        return Skip(_no_muscle_group(ctx, who), quiet=True)
    if long.empty:
        rec.prose("organ_ck_text", "")
        return Skip(f"No CK values are recorded for the {count(len(group), 'patient')} {who}.")
    rec.prose(
        "organ_ck_text",
        f"Of the {count(len(group), 'patient')} {who}, {len(serial)} had serial CK "
        f"values; in {normalised} of them the last value was below the upper limit of normal "
        f"({fmt_number(CK_ULN, 0)} U/L).",
    )
    return long[["SUBJSEQ", "month", "value"]]
