"""All visits in one model: a linear mixed model of a measure over time (notebooks 02, 06).

The paper compares baseline with each follow-up visit among the patients who have both
(complete cases). A linear mixed model {Laird and Ware 1982} uses *every* recorded value
of *every* patient instead, and is valid when visits are missing at random (MAR: whether
a value is missing depends only on what was observed before), not only when they are
missing completely at random.

Model (:func:`fit`), fitted by restricted maximum likelihood (REML) with :mod:`ivigbook.stats.lmm`
(the model of ``statsmodels`` ``MixedLM`` and ``lme4``, profiled on per-patient sums so that
a registry of 100,000 patients takes seconds):

* time ``t`` = calendar months from the first IVIG cycle (``cohort.month_index``),
  every recorded value of the analysis set (not only the windowed visits);
* fixed effects: an intercept, a **pre-IVIG slope** ``min(t, 0)`` (only when values
  before IVIG start exist) and the post-IVIG course ``max(t, 0)``; the post-IVIG course
  is a **broken line** with a bend at every scheduled follow-up month (knots at the
  targets that have values beyond them), so that the estimate at each visit is not
  forced onto one straight line. This is pre-specified, not chosen from the data; the
  straight post-IVIG line is fitted alongside and compared by a likelihood-ratio test
  (maximum likelihood fits) so the page can say how badly a straight line fits. With
  ``followup_anchor = last_cycle`` the targets are patient-specific, so the post-IVIG
  course is one straight line;
* random effects: an intercept and a slope on ``t`` per patient (unstructured 2x2
  covariance); if that fit does not converge, a random intercept only (said on the page);
* time enters the design in years (months / 12) for numerical conditioning; slopes are
  reported per month.

Estimand at a visit: the model's mean change from time 0 (IVIG start) to the target,
``L·beta`` with ``L = X(target) - X(0)`` averaged over the patients of the model (for the
``last_cycle`` anchor the target month since IVIG start differs by patient), with a Wald
95% CI from the fixed-effects covariance ``sigma^2 (X' V^-1 X)^-1`` given the variance
components (normal approximation, no Kenward-Roger small-sample correction, so with few
patients the intervals are slightly narrow).

Convergence: a fixed optimizer sequence (bounded L-BFGS, then Powell); a fit counts as
converged when the gradient of the criterion at the solution is close to zero, and any
problem (no convergence, a variance estimated at zero) is said in the prose.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ivigbook.chapters import outcomes
from ivigbook.data.schema import MEASURES
from ivigbook.derive.bds import visit_key
from ivigbook.derive.calendar import month_index
from ivigbook.derive.context import Context
from ivigbook.derive.records import alive_at, measure_records, per_patient
from ivigbook.results.applicability import count, has, too_few_for_model
from ivigbook.results.formatter import fmt_number, p_text
from ivigbook.results.table import Table, cell_est_ci, cell_p
from ivigbook.stats.bentline import (
    OPTIMIZER_NAMES,
    FitInfo,
    _ci_p,
    _contrast_estimate,
    _fits,
    _slopes,
    design,
)

MIN_AFTER_KNOT = 5  #: values (from >= 3 patients) needed beyond a knot to keep it


MIN_PRE_VALUES = 3  #: values (from >= 2 patients) before IVIG start for a pre-IVIG slope


@dataclass
class MixedModel:
    """The fitted model of one measure, with visit estimates next to complete cases."""

    paramcd: str
    anchor: str
    n_patients: int
    n_obs: int
    month_min: int
    month_max: int
    has_pre: bool
    knots: tuple[int, ...]
    fit: FitInfo  # the broken-line model (visit estimates)
    linear: FitInfo | None  # the two-slope model (pre/post slopes)
    slopes: dict  # pre/post/change per month with CI (two-slope model)
    lr: dict  # straight vs broken post-IVIG line (ML fits)
    estimates: pd.DataFrame  # one row per follow-up target
    data: pd.DataFrame = field(repr=False, default=None)


# ----------------------------------------------------------------------------- data
def long_data(ctx: Context, paramcd: str = "MRSS") -> pd.DataFrame:
    """Every recorded value of ``paramcd`` in the analysis set: USUBJID, SUBJSEQ, month
    (calendar months from the first IVIG cycle), value; sorted by SUBJSEQ, month, date."""

    out = measure_records(ctx.analysed, ctx.cohort.measurements, paramcd)
    return out.assign(month=out["month"].astype(float)).drop(columns="date")


def target_months(ctx: Context, month: int, usubjids) -> np.ndarray:
    """Months since IVIG start of a follow-up target, per patient (anchor-aware)."""

    ids = pd.Series(list(usubjids))
    if ctx.params.followup_anchor != "last_cycle":
        return np.full(len(ids), float(month))
    a = ctx.analysed.set_index("USUBJID")
    last = month_index(per_patient(ids, a["last_cycle_date"])) - month_index(
        per_patient(ids, a["first_cycle_date"])
    )
    return last.astype(float).to_numpy(na_value=0.0) + month


def choose_knots(ctx: Context, data: pd.DataFrame) -> tuple[int, ...]:
    """Bends of the post-IVIG line: every target month (ivig_start anchor) with at least
    MIN_AFTER_KNOT values from 3 patients beyond it; none for the last_cycle anchor."""
    if ctx.params.followup_anchor == "last_cycle":
        return ()
    knots = []
    for k in sorted(ctx.params.followup_months):
        beyond = data[data["month"] > k]
        if k > 0 and len(beyond) >= MIN_AFTER_KNOT and beyond["SUBJSEQ"].nunique() >= 3:
            knots.append(int(k))
    return tuple(knots)


def fit(ctx: Context, paramcd: str = "MRSS") -> MixedModel | str:
    """Fit the model; a sentence (str) saying why not when it does not apply."""
    label = MEASURES[paramcd].label if paramcd in MEASURES else paramcd
    data = long_data(ctx, paramcd)
    per_patient_n = data.groupby("SUBJSEQ").size()
    n_two = int((per_patient_n >= 2).sum())
    post_pat = data.loc[data["month"] > 0, "SUBJSEQ"].nunique()
    why = too_few_for_model(n_two, ctx.params)
    if why is None and post_pat < 2:
        why = f"{count(post_pat, 'patient')} {has(post_pat)} values after IVIG start, fewer than 2"
    if why:
        return f"No mixed model of {label} is fitted: {why}."
    pre = data[data["month"] < 0]
    has_pre = len(pre) >= MIN_PRE_VALUES and pre["SUBJSEQ"].nunique() >= 2
    knots = choose_knots(ctx, data)
    fitted = _fits(data, has_pre, knots)
    if fitted is None:
        return (
            f"The mixed model of {label} could not be fitted (every optimizer failed), so "
            "no model-based estimate is shown."
        )
    main, linear, lr = fitted
    rows = []
    patients = data.drop_duplicates("USUBJID")["USUBJID"]
    for month in ctx.params.followup_months:
        t = target_months(ctx, month, patients)
        L = (
            design(t, has_pre, knots).to_numpy()
            - design(np.zeros_like(t), has_pre, knots).to_numpy()
        ).mean(axis=0)
        est, se = _contrast_estimate(main, L)
        lo, hi, p = _ci_p(est, se)
        cc = outcomes.compare_visit(ctx, paramcd, month, test="paired_t")
        rows.append(
            {
                "avisitn": int(month),
                "change": est,
                "se": se,
                "ci_low": lo,
                "ci_high": hi,
                "p": p,
                "cc_n": int(cc["n"]),
                "cc_change": cc["chg_mean"],
                "cc_ci_low": cc["ci_low"],
                "cc_ci_high": cc["ci_high"],
            }
        )
    return MixedModel(
        paramcd=paramcd,
        anchor=ctx.params.followup_anchor,
        n_patients=int(data["SUBJSEQ"].nunique()),
        n_obs=len(data),
        month_min=int(data["month"].min()),
        month_max=int(data["month"].max()),
        has_pre=has_pre,
        knots=knots,
        fit=main,
        linear=linear,
        slopes=_slopes(linear, has_pre),
        lr=lr,
        estimates=pd.DataFrame(rows),
        data=data,
    )


# ----------------------------------------------------------------------------- chapter
def _visit(month: int, ctx: Context) -> str:
    return outcomes.visit_phrase(month, ctx.params.followup_anchor)


def _ci_text(lo: str, hi: str) -> str:
    return f"95% CI {lo} to {hi}"


def mrss_model(ctx: Context, rec, paramcd: str = "MRSS", name: str = "mrss") -> MixedModel | None:
    """Fit the mixed model, record its results under ``lmm_<name>_*`` and glue two
    paragraphs: ``lmm_<name>_text`` (the model and its estimates) and
    ``lmm_<name>_why_text`` (why it differs from the complete-case means)."""
    stem = f"lmm_{name}"
    model = fit(ctx, paramcd)
    if isinstance(model, str):
        rec.prose(f"{stem}_text", model)
        rec.prose(
            f"{stem}_why_text",
            "Without a mixed model there is no second estimate to "
            "compare with the complete-case means.",
        )
        return None

    def f(key, v, d=1):
        return rec.value(f"{stem}_{key}", v, d)

    n_pat = rec.value(f"{stem}_n_patients", model.n_patients, kind="int")
    n_obs = rec.value(f"{stem}_n_obs", model.n_obs, kind="int")
    rec.value(f"{stem}_converged", model.fit.converged and not model.fit.problems)
    rec.value(f"{stem}_random_slope", model.fit.random_slope)
    rec.value(f"{stem}_knots_n", len(model.knots), kind="int")
    lo_m, hi_m = model.month_min, model.month_max
    rec.value(f"{stem}_month_min", lo_m, kind="int")
    rec.value(f"{stem}_month_max", hi_m, kind="int")
    if lo_m < 0:
        span = (
            f"from {fmt_number(-lo_m, 0)} months before to {fmt_number(hi_m, 0)} months "
            "after IVIG start"
        )
    else:
        span = f"from month {fmt_number(lo_m, 0)} to month {fmt_number(hi_m, 0)} after IVIG start"
    parts = [f"The model uses all {n_obs} recorded values of the {n_pat} patients, {span}."]
    s = model.slopes
    for key in ("pre", "post", "change"):
        if key in s:
            f(f"slope_{key}", s[key]["estimate"], 2)
            f(f"slope_{key}_ci_low", s[key]["ci_low"], 2)
            f(f"slope_{key}_ci_high", s[key]["ci_high"], 2)
            rec.value(f"{stem}_slope_{key}_p", s[key]["p"], kind="p")

    def txt(key):
        return fmt_number(s[key]["estimate"], 2)

    def ci(key):
        return _ci_text(fmt_number(s[key]["ci_low"], 2), fmt_number(s[key]["ci_high"], 2))

    if "pre" in s:
        parts.append(
            f"With one straight line before and one after IVIG start, mRSS changed by "
            f"{txt('pre')} points per month before IVIG ({ci('pre')}) and by "
            f"{txt('post')} points per month after ({ci('post')}); the slope changed "
            f"by {txt('change')} points per month ({ci('change')}; {p_text(s['change']['p'])})."
        )
    else:
        parts.append(
            f"No values before IVIG start were available for a pre-IVIG slope; after "
            f"IVIG start mRSS changed by {txt('post')} points per month ({ci('post')})."
        )
    if model.knots:
        knots = ", ".join(fmt_number(k, 0) for k in model.knots)
        lr_p = model.lr.get("p", np.nan)
        rec.value(f"{stem}_linear_lr_p", lr_p, kind="p")
        worse = "worse" if lr_p < 0.05 else "not significantly worse"
        parts.append(
            f"A single straight line after IVIG start fits the course {worse} than a "
            f"line that may bend at months {knots} (likelihood-ratio test, "
            f"{p_text(lr_p)}); the visit estimates below come from the bent line."
        )
    else:
        parts.append(
            "The follow-up visit is timed from each patient's last cycle, so the "
            "post-IVIG course is one straight line."
        )
    visits = []
    for r in model.estimates.itertuples():
        v = visit_key(r.avisitn)
        e = f(f"{v}_change", r.change)
        lo = f(f"{v}_change_ci_low", r.ci_low)
        hi = f(f"{v}_change_ci_high", r.ci_high)
        rec.value(f"{stem}_{v}_change_p", r.p, kind="p")
        visits.append(f"{e} at {_visit(r.avisitn, ctx)} ({_ci_text(lo, hi)})")
    parts.append("Estimated mean change from baseline: " + "; ".join(visits) + ".")
    fit_ = model.fit
    how = OPTIMIZER_NAMES[fit_.optimizer]
    re_text = (
        "a random intercept and slope per patient"
        if fit_.random_slope
        else "a random intercept per patient"
    )
    if fit_.problems:
        parts.append(
            f"The fit ({how}, {re_text}) is flagged: "
            + "; ".join(fit_.problems)
            + ". Read the intervals with care."
        )
    else:
        parts.append(f"The fit converged ({how} optimizer, {re_text}).")
    if not fit_.random_slope:
        why = fit_.slope_dropped_because or "no usable fit was found"
        parts.append(f"A random slope per patient was specified but dropped: {why}.")
    rec.prose(f"{stem}_text", " ".join(parts))
    rec.prose(f"{stem}_why_text", why_sentence(ctx, rec, model, stem))
    return model


def why_sentence(ctx: Context, rec, model: MixedModel, stem: str) -> str:
    """Plain-language reason why the model and the complete-case means differ."""
    est = model.estimates
    incomplete = est[est["cc_n"] < model.n_patients]
    row = (incomplete if len(incomplete) else est).iloc[-1]
    month = int(row["avisitn"])
    v = visit_key(month)
    where = _visit(month, ctx)
    n_cc = rec.value(f"{stem}_{v}_cc_n", int(row["cc_n"]), kind="int")
    cc = rec.value(f"{stem}_{v}_cc_change", row["cc_change"])
    lmm = fmt_number(row["change"])
    ids = pd.Index(sorted(set(model.data["USUBJID"])))
    alive = alive_at(ctx.analysed, ids, target_months(ctx, month, ids))
    died = int((~alive).sum())
    n_pat = fmt_number(int(alive.sum()), 0)
    everyone = f"all {n_pat} patients" if not died else f"the {n_pat} patients alive at that visit"
    parts = [
        f"At {where} the complete-case mean change was {cc} among the {n_cc} patients with "
        f"a value in the visit window; the mixed model estimates {lmm} for {everyone}. The "
        "complete-case mean describes only the patients still seen at that visit. The model "
        "also uses the earlier visits of the patients who were not, and carries their course "
        "forward as it ran in similar patients."
    ]
    if died:
        parts.append(
            f"{count(died, 'patient')} of the model had died before {where}; no value is "
            "estimated for a visit after a patient's death, and they are not counted as missing."
        )
    # who is missing: baseline and early change of living patients without the visit
    base = ctx.chosen(model.paramcd)
    base = base[base["AVISITN"] == 0].set_index("USUBJID")["AVAL"].astype(float)
    have = set(outcomes.pairs(ctx, model.paramcd, month)["USUBJID"])
    seen = ids[ids.isin(list(have))]
    gone = ids[~ids.isin(list(have)) & alive]
    if len(gone) and len(seen):
        b_gone = rec.value(f"{stem}_{v}_missing_base_mean", base.reindex(gone).mean())
        b_seen = rec.value(f"{stem}_{v}_observed_base_mean", base.reindex(seen).mean())
        k_gone = rec.value(f"{stem}_{v}_missing_n", len(gone), kind="int")
        who = "patient" if len(gone) == 1 else "patients"
        parts.append(
            f"The {k_gone} {who} without a value at {where} had a mean baseline "
            f"mRSS of {b_gone}, against {b_seen} in the {n_cc} with one."
        )
        earlier = [m for m in ctx.params.followup_months if m < month]
        if earlier:
            m0 = earlier[0]
            p0 = outcomes.pairs(ctx, model.paramcd, m0).set_index("USUBJID")["CHG"]
            c_gone, c_seen = p0.reindex(gone).dropna(), p0.reindex(seen).dropna()
            if len(c_gone) and len(c_seen):
                v0 = visit_key(m0)
                a = rec.value(f"{stem}_{v}_missing_{v0}_change_mean", c_gone.mean())
                b = rec.value(f"{stem}_{v}_observed_{v0}_change_mean", c_seen.mean())
                parts.append(
                    f"By {_visit(m0, ctx)} their mRSS had changed by {a} on average, against {b}."
                )
    parts.append(
        "The model's estimate is unbiased if whether a visit is missing depends only "
        "on values already observed (missing at random, MAR). If patients stopped "
        "coming because of how their skin was doing at the missed visit itself (for "
        "example, stopped after improving and were not seen again), neither estimate "
        "is unbiased, and the data cannot tell the two situations apart."
    )
    return " ".join(parts)


def figure_args(model: MixedModel | None, ctx: Context) -> dict:
    """Keyword arguments of ``figures.mean_trajectory``: model and complete-case mean
    change with 95% CIs by visit (an empty frame when there is no model)."""
    cols = ["series", "month", "n", "mean", "ci_low", "ci_high"]
    last = ctx.params.followup_anchor == "last_cycle"
    args = {
        "ylabel": "Change in mRSS from baseline (points)",
        "xlabel": (
            "Months after the last IVIG cycle (0 = baseline)" if last else "Months since IVIG start"
        ),
        "ref_x": None if last else 0,
    }
    if model is None:
        return {"summary": pd.DataFrame(columns=cols), **args}
    base_n = int((ctx.chosen(model.paramcd)["AVISITN"] == 0).sum())
    rows = [
        {
            "series": "Complete case (paired)",
            "month": 0,
            "n": base_n,
            "mean": 0.0,
            "ci_low": 0.0,
            "ci_high": 0.0,
        },
        {
            "series": "Mixed model (all visits)",
            "month": 0,
            "n": model.n_patients,
            "mean": 0.0,
            "ci_low": 0.0,
            "ci_high": 0.0,
        },
    ]
    est = list(model.estimates.itertuples())
    rows[1:1] = [
        {
            "series": "Complete case (paired)",
            "month": r.avisitn,
            "n": r.cc_n,
            "mean": r.cc_change,
            "ci_low": r.cc_ci_low,
            "ci_high": r.cc_ci_high,
        }
        for r in est
    ]
    rows += [
        {
            "series": "Mixed model (all visits)",
            "month": r.avisitn,
            "n": model.n_patients,
            "mean": r.change,
            "ci_low": r.ci_low,
            "ci_high": r.ci_high,
        }
        for r in est
    ]
    df = pd.DataFrame(rows, columns=cols)
    return {"summary": df, **args}


TERM_LABELS = {
    "Intercept": "Mean mRSS at IVIG start (points)",
    "pre": "Slope before IVIG (points per month)",
    "post": "Slope after IVIG start (points per month)",
}


def terms_table(model: MixedModel | None, synthetic: bool) -> Table | None:
    """Fixed effects of the fitted (bent-line) model, slopes per month."""
    if model is None:
        return None
    rows = []
    fit_ = model.fit
    se = np.sqrt(np.diag(fit_.cov.to_numpy()))
    for i, (name, b) in enumerate(fit_.params.items()):
        scale = 1.0 if name == "Intercept" else 1.0 / 12.0
        lo, hi, p = _ci_p(b * scale, se[i] * scale)
        if name.startswith("post_k"):
            label = f"Change of slope at month {name[6:]} (points per month)"
        else:
            label = TERM_LABELS[name]
        rows.append(
            {"Term": label, "Estimate (95% CI)": cell_est_ci(b * scale, lo, hi, 2), "p": cell_p(p)}
        )
    notes = [
        f"Linear mixed model (REML) of all {model.n_obs} recorded values of "
        f"{model.n_patients} patients; time in calendar months from the first IVIG cycle; "
        + (
            "random intercept and slope per patient"
            if fit_.random_slope
            else "random intercept per patient"
        )
        + "; Wald 95% CIs and p (normal "
        "approximation)."
    ]
    if model.knots:
        notes.append(
            "The post-IVIG course is a broken line: each 'change of slope' row is the "
            "change of the monthly slope from that month on. The pre- and post-IVIG "
            "slopes quoted in the text come from the simpler model with one straight "
            "line on each side of IVIG start."
        )
    caption = (
        "Mixed model of mRSS"
        + (" (broken post-IVIG line)" if model.knots else "")
        + ": fixed effects"
    )
    return Table(
        pd.DataFrame(rows), caption=caption, table_id="lmm-terms", synthetic=synthetic, notes=notes
    )


# ----------------------------------------------------------------------------- sensitivity
def window_comparison(ctx: Context, rec, win: pd.DataFrame, paramcd: str = "MRSS") -> Table | None:
    """Mean change by visit: complete cases under each window width next to the mixed
    model (which uses every visit and needs no window); records ``sens_lmm_*`` and glues
    ``sens_lmm_text``."""
    model = fit(ctx, paramcd)
    if isinstance(model, str):
        rec.prose("sens_lmm_text", model)
        return None
    rows = []
    for r in model.estimates.itertuples():
        v = visit_key(r.avisitn)
        rec.value(f"sens_lmm_{paramcd.lower()}_{v}_change", r.change)
        rec.value(f"sens_lmm_{paramcd.lower()}_{v}_change_ci_low", r.ci_low)
        rec.value(f"sens_lmm_{paramcd.lower()}_{v}_change_ci_high", r.ci_high)
        row = {"Visit": outcomes.visit_label(r.avisitn)}
        for w in win[win["avisitn"] == r.avisitn].sort_values("halfwidth").itertuples():
            row[f"{w.window}"] = (
                (cell_est_ci(w.estimate, w.ci_low, w.ci_high, 1) + f", N={int(w.n)}")
                if w.n
                else "no data"
            )
        row["Mixed model (all visits)"] = (
            cell_est_ci(r.change, r.ci_low, r.ci_high, 1) + f", N={model.n_patients}"
        )
        rows.append(row)
    month = outcomes.primary_month(ctx)
    prim = model.estimates[model.estimates["avisitn"] == month].iloc[0]
    # every number below is recorded above (sens_lmm_*) or by sensitivity.by_window
    # (sens_hw<h>_*_change_mean, one decimal); a key is glued once per notebook
    text = (
        f"It estimates a mean change of {fmt_number(prim['change'])} ("
        f"{_ci_text(fmt_number(prim['ci_low']), fmt_number(prim['ci_high']))}) at "
        f"{_visit(month, ctx)}"
    )
    d = win[(win["avisitn"] == month) & win["estimate"].notna()]
    if len(d):
        text += (
            f", against complete-case means from {fmt_number(d['estimate'].min())} to "
            f"{fmt_number(d['estimate'].max())} across the window widths"
        )
    rec.prose("sens_lmm_text", text + ".")
    return Table(
        pd.DataFrame(rows),
        caption="Mean change in mRSS (95% CI): complete cases by window width and the mixed model",
        table_id="windows-lmm",
        synthetic=ctx.synthetic,
        notes=[
            "Complete cases: paired mean change among patients with a baseline and a "
            "value in the window (t-based CI). Mixed model: all recorded values, no "
            "window (Wald CI); see the skin chapter for the model."
        ],
    )
