"""Skin outcomes (notebook 02): mRSS course, responders, predictors, HAQ, physician, TFR."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd

from ivigbook.chapters import outcomes
from ivigbook.data.lookup import isin
from ivigbook.data.schema import DRUG, LABELS
from ivigbook.derive.bds import visit_key
from ivigbook.derive.context import Context
from ivigbook.derive.records import measure_records
from ivigbook.results.applicability import Skip, count, sentence, too_few_events, too_few_pairs
from ivigbook.results.formatter import fmt_number, p_text
from ivigbook.results.table import Table, cell_est_ci, cell_n_pct, cell_p
from ivigbook.stats import regression


def population(ctx: Context, rec) -> Context:
    """The skin analysis set: everyone analysed, or the patients treated for skin
    involvement when outcomes are analysed by indication; glues a sentence saying which."""
    sctx = ctx.indication_group("skin")
    rec.value("skin_population_n", sctx.n, kind="int")
    if ctx.n == 0:
        text = outcomes.nobody_analysed(ctx)
    elif sctx is ctx:
        text = f"Skin outcomes are analysed in the analysis set ({count(ctx.n, 'patient')})."
    elif sctx.n == 0:
        text = (
            f"No patient of the analysis set ({count(ctx.n, 'patient')}) was treated with IVIG "
            "for skin involvement, so there are no skin outcomes."
        )
    else:
        text = (
            f"Skin outcomes are analysed in the {count(sctx.n, 'patient')} treated with IVIG "
            f"for skin involvement (of {ctx.n} analysed)."
        )
    rec.prose("skin_population_text", text)
    return sctx


def responders(ctx: Context, rec, paramcd: str = "MRSS") -> pd.DataFrame:
    """Responders (fall >= MCID) per follow-up visit among patients with data."""
    rows, phrases, empty = [], [], []
    for month in ctx.params.followup_months:
        p = outcomes.pairs(ctx, paramcd, month)
        where = outcomes.visit_phrase(month, ctx.params.followup_anchor)
        k = int((p["CHG"] <= -ctx.params.responder_mcid).sum())
        v = visit_key(month)
        rec.value(f"skin_responders_{v}_k", k, kind="int")
        rec.value(f"skin_responders_{v}_n", len(p), kind="int")
        rec.value(f"skin_responders_{v}_pct", 100.0 * k / len(p) if len(p) else np.nan, 1)
        if p.empty:
            empty.append(where)
            continue
        rows.append(
            {
                "Visit": outcomes.visit_label(month),
                "Responders": cell_n_pct(k, len(p)),
                "Patients with data": str(len(p)),
            }
        )
        phrases.append(f"{k} of {count(len(p), 'patient')} with data at {where}")
    mcid = fmt_number(ctx.params.responder_mcid, 0)
    if not rows:
        rec.prose("skin_responders_text", "")
        return Skip(
            "No patient has an mRSS at both baseline and a follow-up visit, so there are no "
            "responders to count."
        )
    text = f"A responder's mRSS fell by at least {mcid} points: " + "; ".join(phrases) + "."
    if empty:
        text += " " + sentence(f"no patient had an mRSS at {outcomes.and_list(empty, 'or')}")
    rec.prose("skin_responders_text", text)
    return pd.DataFrame(rows)


def predictors(ctx: Context) -> pd.DataFrame:
    """Candidate predictors of response (one column each, analysis set, keyed by USUBJID)."""
    a = ctx.analysed

    def flag(s):
        return s.fillna(False).astype(bool).astype(float)

    def ab(s):
        return s.map({"pos": 1.0, "neg": 0.0}).astype(float)

    out = pd.DataFrame(
        {
            "USUBJID": a["USUBJID"],
            "age_onset": a["age_at_onset"].astype(float),
            "race_white": (a["race"] == "white").astype(float).where(a["race"].notna()),
            "female": (a["sex"] == "F").astype(float),
            "duration": a["disease_duration_months"].astype(float),
            "cycles": a["n_cycles"].astype(float),
            "treatment_months": a["treatment_months"].astype(float),
            "stop_improved_or_stable": a["stop_reason"]
            .isin(["improvement", "stable"])
            .astype(float)
            .where(a["stop_reason"].notna() & (a["stop_reason"] != "ongoing")),
            "scl70": ab(a["anti_scl70"]),
            "rnapol3": ab(a["anti_rnapol3"]),
        }
    )
    for drug in DRUG:
        col = f"concomitant_{drug}"
        if col in a and a[col].fillna(False).astype(bool).sum() >= 1:
            out[drug] = flag(a[col])
    return out


PREDICTOR_LABELS = {
    "age_onset": "Age at SSc onset (per year)",
    "race_white": "White race",
    "female": "Female sex",
    "duration": "Disease duration (per month)",
    "cycles": "Number of IVIG cycles (per cycle)",
    "treatment_months": "Treatment length (per month)",
    "stop_improved_or_stable": "Stopped for improvement or stability",
    "scl70": "Anti-Scl-70 positive",
    "rnapol3": "Anti-RNA polymerase III positive",
}


def predictor_label(key: str) -> str:
    return PREDICTOR_LABELS.get(key) or f"Concomitant {LABELS.get(key, key).lower()}"


def regressions(ctx: Context, rec, paramcd: str = "MRSS") -> pd.DataFrame:
    """Simple logistic (responder) and linear (change) regression per predictor and visit."""
    preds = predictors(ctx)
    rows = []
    for month in ctx.params.followup_months[:2]:
        v = visit_key(month)
        p = outcomes.pairs(ctx, paramcd, month).merge(preds, on="USUBJID")
        y_resp = (p["CHG"] <= -ctx.params.responder_mcid).astype(float)
        events = int(min(y_resp.sum(), len(y_resp) - y_resp.sum()))
        no_logit = too_few_events(events, 1, ctx.params)
        no_linear = too_few_pairs(len(p), ctx.params, "a linear regression")
        for key in [c for c in preds.columns if c != "USUBJID"]:
            x = p[key]
            lg = regression.logistic_simple(y_resp, x)
            ln = regression.linear_simple(p["CHG"], x)
            if no_logit:
                lg = dataclasses.replace(
                    lg, odds_ratio=np.nan, ci_low=np.nan, ci_high=np.nan, p=np.nan
                )
            if no_linear:
                ln = dataclasses.replace(ln, slope=np.nan, ci_low=np.nan, ci_high=np.nan, p=np.nan)
            rec.value(f"logit_{key}_{v}_or", lg.odds_ratio, 3)
            rec.value(f"logit_{key}_{v}_ci_low", lg.ci_low, 3)
            rec.value(f"logit_{key}_{v}_ci_high", lg.ci_high, 3)
            rec.value(f"logit_{key}_{v}_p", lg.p, kind="p")
            rec.value(f"linreg_{key}_{v}_slope", ln.slope, 2)
            rec.value(f"linreg_{key}_{v}_p", ln.p, kind="p")
            rows.append(
                {
                    "visit": outcomes.visit_label(month),
                    "key": key,
                    "label": predictor_label(key),
                    "n": lg.n,
                    "or": lg.odds_ratio,
                    "or_low": lg.ci_low,
                    "or_high": lg.ci_high,
                    "or_p": lg.p,
                    "coef": ln.slope,
                    "coef_low": ln.ci_low,
                    "coef_high": ln.ci_high,
                    "coef_p": ln.p,
                    "note": getattr(lg, "note", "") or "",
                    "suppressed": no_logit or "",
                    "linear_suppressed": no_linear or "",
                }
            )
    out = pd.DataFrame(rows)
    rec.prose("skin_predictors_text", predictors_sentence(out, ctx.params))
    return out


def predictors_sentence(reg: pd.DataFrame, params) -> str:
    """Which predictors reached p < 0.05, the strongest association per visit, which visits
    had too few patients, and how many p-values below 0.05 chance alone would give."""
    if reg.empty:
        return "No patient had both a baseline and a follow-up mRSS, so no predictor was examined."
    parts = []
    for visit, g in reg.groupby("visit", sort=False):
        why = g["suppressed"].iloc[0]
        if why:
            parts.append(f"At {visit.lower()}, the logistic regressions are {why}.")
        if g["linear_suppressed"].iloc[0]:
            parts.append(
                f"At {visit.lower()}, the linear regressions are {g['linear_suppressed'].iloc[0]}."
            )
        g = g.dropna(subset=["or_p"])
        if g.empty:
            continue
        best = g.sort_values(["or_p", "label"]).iloc[0]
        parts.append(
            f"At {visit.lower()}, the strongest association with response was "
            f"{best['label'].lower()} (OR {fmt_number(best['or'], 2)}; 95% CI "
            f"{fmt_number(best['or_low'], 3)} to {fmt_number(best['or_high'], 3)}; "
            f"{p_text(best['or_p'])})."
        )
    tests = int(reg["or_p"].notna().sum() + reg["coef_p"].notna().sum())
    if tests == 0:
        return " ".join(parts)
    sig = reg[(reg["or_p"] < 0.05) | (reg["coef_p"] < 0.05)]
    listed = "; ".join(f"{r.label.lower()} at {r.visit.lower()}" for r in sig.itertuples())
    parts.append("Predictors with p < 0.05 in any model: " + (listed if listed else "none") + ".")
    parts.append(
        f"With {count(tests, 'p-value')} computed, about {fmt_number(0.05 * tests)} below 0.05 "
        "are expected by chance alone even if no predictor mattered."
    )
    return " ".join(parts)


def regression_table(reg: pd.DataFrame, synthetic: bool) -> Table | Skip:
    """The regressions of the estimable visits; the prose says why the others are not shown."""
    if not reg.empty:
        reg = reg[reg["or"].notna() | reg["coef"].notna()]
    if reg.empty:
        return Skip("No regression could be estimated for this cohort.", quiet=True)
    rows = [
        {
            "group": r["visit"],
            "Predictor": r["label"],
            "N": str(r["n"]),
            "OR for response (95% CI)": cell_est_ci(r["or"], r["or_low"], r["or_high"], 2),
            "p (logistic)": cell_p(r["or_p"]),
            "Change in mRSS, slope (95% CI)": cell_est_ci(
                r["coef"], r["coef_low"], r["coef_high"], 2
            ),
            "p (linear)": cell_p(r["coef_p"]),
        }
        for r in reg.to_dict("records")
    ]
    return Table(
        pd.DataFrame(rows),
        caption="Simple regressions of response and of mRSS change",
        table_id="predictors",
        group_col="group",
        synthetic=synthetic,
        notes=[
            "One model per predictor (intercept + predictor). Logistic: odds ratio with "
            "95% Wald CI and Wald p. Linear: slope of the change in mRSS. 'not estimable' "
            "marks perfect separation (no responder or no non-responder in a group)."
        ],
    )


def forest_rows(reg: pd.DataFrame) -> pd.DataFrame | Skip:
    """Odds ratios for the forest plot (estimable ones only)."""
    if reg.empty or reg["or"].notna().sum() == 0:
        return Skip("No odds ratio could be estimated for this cohort.", quiet=True)
    reg = reg[reg["or"].notna()]
    return pd.DataFrame(
        {
            "label": reg["label"],
            "estimate": reg["or"],
            "ci_low": reg["or_low"],
            "ci_high": reg["or_high"],
            "group": reg["visit"],
            "p": reg["or_p"],
        }
    )


def physician(ctx: Context, rec) -> pd.DataFrame | Skip:
    """The treating physician's global assessment (improved / stable / worse / not recorded)."""
    a = ctx.analysed
    n = ctx.n
    rows = []
    recorded = int(a["physician_assessment"].notna().sum())
    for level in ("improved", "stable", "worse"):
        k = int((a["physician_assessment"] == level).sum())
        rec.value(f"skin_physician_{level}_n", k, kind="int")
        rec.value(f"skin_physician_{level}_pct", 100.0 * k / n if n else np.nan, 1)
        rows.append({"Physician assessment": LABELS[level], f"N={n}": cell_n_pct(k, n)})
    k = int(a["physician_assessment"].isna().sum())
    rec.value("skin_physician_missing_n", k, kind="int")
    rows.append({"Physician assessment": "Not recorded", f"N={n}": cell_n_pct(k, n)})
    if recorded == 0:
        rec.prose(
            "skin_physician_text",
            "The physician's global assessment is not recorded for any patient of the analysis set."
            if n
            else "",
        )
        return Skip("", quiet=True)
    improved, stable = (
        int((a["physician_assessment"] == lv).sum()) for lv in ("improved", "stable")
    )
    text = (
        f"The treating physician judged {count(improved, 'patient')} "
        f"({fmt_number(100.0 * improved / n)}%) improved and {stable} "
        f"({fmt_number(100.0 * stable / n)}%) stable, of {n} analysed"
    )
    rec.prose("skin_physician_text", text + (f"; {k} not recorded." if k else "."))
    return pd.DataFrame(rows)


def tfr_resolution(ctx: Context, rec, month: int | None = None) -> pd.DataFrame:
    """Among patients with tendon friction rubs at baseline: resolved / persisting / no data."""
    month = month or ctx.params.followup_months[0]
    a = ctx.analysed
    with_tfr = a.loc[a["BASE_TFR"] == 1, "USUBJID"]
    b = ctx.chosen("TFR")
    at = b[(b["AVISITN"] == month) & isin(b["USUBJID"], with_tfr)].set_index("USUBJID")["AVAL"]
    resolved = int((at == 0).sum())
    persisting = int((at == 1).sum())
    missing = len(with_tfr) - resolved - persisting
    v = visit_key(month)
    where = outcomes.visit_phrase(month, ctx.params.followup_anchor)
    if not len(with_tfr):
        text = (
            "Tendon friction rubs are not recorded in this cohort."
            if not (ctx.cohort.measurements["measure"] == "TFR").any()
            else "No patient of the analysis set had tendon friction rubs at baseline."
        )
    else:
        text = (
            f"Of the {count(len(with_tfr), 'patient')} with tendon friction rubs at baseline, "
            f"{resolved} had none at {where}, {persisting} still had them and "
            f"{missing} had no assessment in the window."
        )
    rec.prose("skin_tfr_text", text if ctx.n else "")
    rec.value("skin_tfr_bl_n", len(with_tfr), kind="int")
    rec.value(f"skin_tfr_{v}_resolved_n", resolved, kind="int")
    rec.value(f"skin_tfr_{v}_persisting_n", persisting, kind="int")
    rec.value(f"skin_tfr_{v}_missing_n", missing, kind="int")
    if not len(with_tfr):
        return Skip(text, quiet=True)
    return pd.DataFrame(
        [
            {
                "Tendon friction rubs at baseline": str(len(with_tfr)),
                f"Resolved at {outcomes.visit_label(month).lower()}": str(resolved),
                "Persisting": str(persisting),
                "No data in the window": str(missing),
            }
        ]
    )


def waterfall_data(ctx: Context, month: int | None = None) -> pd.DataFrame:
    """Change in mRSS at the primary visit (month 12 in the paper), one bar per patient."""
    month = month or outcomes.primary_month(ctx)
    return outcomes.pairs(ctx, "MRSS", month)[["SUBJSEQ", "CHG"]]


def spaghetti_data(ctx: Context, paramcd: str = "MRSS") -> pd.DataFrame:
    """Every recorded value of the analysis set by calendar month from IVIG start."""

    long = measure_records(ctx.analysed, ctx.cohort.measurements, paramcd)
    return long[["SUBJSEQ", "month", "value"]]
