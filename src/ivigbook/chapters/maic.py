"""Matching-adjusted indirect comparison (MAIC) with each historical control (notebook 05).

The historical comparisons of the paper set the IVIG patients' mean change in mRSS
against the published mean change of trial and cohort patients who differed at
baseline (older or younger, earlier disease, lower skin scores). MAIC {Signorovitch et
al. 2010; NICE DSU TSD 18, Phillippo et al. 2016} reweights the IVIG patients so that
their weighted baseline means equal the comparator's published means, then compares the
weighted mean change with the comparator's published mean change.

* **Covariates** (:data:`COVARIATES`): the ones each comparator publishes among mean age,
  mean disease duration, mean baseline mRSS and percentage of women (rows ``age``,
  ``duration``, ``mrss_bl``, ``female`` of ``historical_controls.csv``).
* **Population**: weights are estimated on the IVIG patients of the outcome analysis,
  i.e. the patients the historical chapter compares (:func:`historical.population`: the
  diffuse cutaneous patients of the analysis set) with a baseline and a value at the
  comparator's visit (6 or 12 months) and every covariate, as TSD 18 recommends, so the
  weighted patients are the ones whose outcome is averaged.
* **When a comparison is shown** (analysis parameters): with fewer than ``min_pairs``
  such patients it is not computed (and left out of the tables); when the weights leave
  an effective sample size below ``maic_min_ess`` the weighted difference is not shown
  (the unadjusted one is). Each is said on the page with the rule that applies.
* **Weights** (:func:`mom_weights`): method of moments. With the covariates centred on the
  comparator's means, ``X``, the weights ``w_i = exp(X_i·a)`` minimise ``sum exp(X·a)``
  (convex; Newton's method with step halving on its logarithm). At the minimum the
  weighted means equal the targets exactly. A target outside the range of the IVIG
  patients' values (or, jointly, outside their convex hull) has no solution: the
  comparison is reported as not estimable.
* **Effective sample size**: ``ESS = (sum w)^2 / sum w^2`` (:func:`ess`).
* **Uncertainty** depends on the size of the outcome analysis set, ``n``:

  - ``n <=`` :data:`BOOTSTRAP_MAX_N` (2,000; every reference cohort, 15-60 patients): a
    seeded non-parametric bootstrap (``B`` = 1000) resamples the IVIG
    patients, re-estimates the weights each time and draws the comparator's mean from a
    normal distribution with its published mean and standard error (SD / sqrt(N), N as used
    by the historical chapter, inferred where not published); the 95% CI is the 2.5th-97.5th
    percentile of the differences. Resamples where no weights exist are dropped and counted;
    with 25-30 patients and four covariates that can be a large share, and the interval is
    then conditional on the resamples that could be weighted. When more than
    ``maic_max_failed_share`` of them fail (analysis parameter; its default is
    ``stats.maic.MAX_FAILED``, 0.10), the reported interval is the **robust** one instead:
    the sandwich variance of the weighted mean with the weights treated as known
    (:func:`robust_var`, as Signorovitch et al. 2010; usually conservative) plus the
    comparator's squared standard error, normal approximation. (The M-estimation sandwich
    that accounts for the estimated weights is not used here: with an effective sample
    size of about 10 and four covariates it came out at half the bootstrap standard
    error, a small-sample bias of all HC0 sandwiches.)
    Both intervals are recorded (``_diff_boot_ci_*``, ``_diff_robust_ci_*``); ``_diff_ci_*``
    is the reported one and ``_ci_bootstrap`` says which.
    The unadjusted difference gets the same bootstrap with equal weights, so the two
    bootstrap intervals differ only by the weighting.
  - ``n >`` :data:`BOOTSTRAP_MAX_N` (registries): **no bootstrap** (it costs ``B`` weight
    fits of ``n`` patients and ``B x n`` index and outcome arrays, 0.8 GB each at 100,000
    patients, 2.5 minutes for five comparisons of ~28,000 patients). The interval
    is the normal approximation with the **M-estimation sandwich** variance of the weighted
    mean, which accounts for the estimated weights (:func:`sandwich_var`: the
    method-of-moments equations stacked with the weighted-mean equation; Signorovitch et
    al. 2010, NICE DSU TSD 18), plus the comparator's squared standard error;
    ``ci_method`` is ``"sandwich"``, the prose and the table call it *large-sample*. The
    unadjusted difference gets the normal interval ``sqrt(var(y)/n + se_c^2)``. The same
    keys are recorded: the bootstrap ones (``_boot_failed_n``, ``_diff_boot_ci_*``) are
    NaN, ``_ci_bootstrap`` is false, ``_diff_robust_ci_*`` still holds the weights-known
    interval. Nothing is drawn from the comparison's random generator.

  Why 2,000: the sandwich is accurate when the effective sample size is large relative to
  the number of covariates (at most 4); its small-sample bias is downward and grows as
  the ESS falls. In simulations with these four covariates (outcome linear in them,
  heteroscedastic) and a comparator either close to the IVIG patients (ESS about 0.8 n)
  or far from them (ESS about 0.2 n), the sandwich standard error averaged within 3% of
  that of a 1,000-resample bootstrap for n = 1,000-5,000 (six data sets per setting,
  none beyond 6%). Against the true standard deviation over 1,000 replicate data sets the
  sandwich was at 0.94-1.02 of it for n >= 2,000 and at 0.90 for n = 1,000 with the far
  comparator (ESS about 200), where the bootstrap was just as short. Only at an ESS of
  about 60 (n = 300, far comparator) was the sandwich clearly smaller than the
  bootstrap (by 9%; 16-20% below the truth). So above 2,000 patients the bootstrap adds
  nothing but cost: ``B`` weight fits of ``n`` patients, about 0.35 s per comparison per 1,000
  patients on 2 cores, and ``B x n`` arrays (16 MB at 2,000, 0.8 GB at 100,000). Up to
  2,000 it stays affordable (at most ~3.5 s for five comparisons) and keeps the reference
  analyses as they were. Above it the cost is linear in ``n``: one weight fit and one
  weighted regression per comparison. The ESS and the largest weight are reported with
  every comparison; an ESS of a few hundred or less warns that the large-sample interval
  may be somewhat too narrow.

An unanchored comparison like this one assumes that every prognostic factor and effect
modifier is among the matched covariates; TSD 18 calls that assumption very strong.
"""

from __future__ import annotations

import zlib

import numpy as np
import pandas as pd

from ivigbook.chapters import historical, outcomes
from ivigbook.chapters.historical import COMPARATOR_LABELS, comparator_names
from ivigbook.derive.bds import visit_key
from ivigbook.derive.context import Context
from ivigbook.results.applicability import Skip
from ivigbook.results.formatter import fmt_number
from ivigbook.results.table import Table, cell_est_ci
from ivigbook.stats.maic import B_DEFAULT, BOOTSTRAP_MAX_N, compare_one

#: comparator quantity -> (label, unit of the target: "mean" or "pct")
COVARIATES = {
    "age": ("Age at IVIG start, years", "mean"),
    "duration": ("Disease duration, months", "mean"),
    "female": ("Female, %", "pct"),
    "mrss_bl": ("Baseline mRSS", "mean"),
}


STREAM = 2  #: random stream of the MAIC bootstrap (imputation uses 1)


#: phrase after the interval in ``maic_text``, per ``ci_method``
_CI_TAG = {"bootstrap": "", "robust": ", robust interval", "sandwich": ", large-sample interval"}


#: the table's "CI of the MAIC difference" wording of the large-sample interval
_SANDWICH_CELL = "large-sample (M-estimation sandwich); no bootstrap"


def targets(comparators: pd.DataFrame, comparator: str) -> dict[str, float]:
    """Published covariate means of one comparator (percentages as proportions)."""
    c = comparators[comparators["comparator"] == comparator]
    out = {}
    for q in COVARIATES:
        row = c[c["quantity"] == q]
        if row.empty:
            continue
        r = row.iloc[0]
        value = r["pct"] / 100.0 if COVARIATES[q][1] == "pct" else r["mean"]
        if np.isfinite(value):
            out[q] = float(value)
    return out


def outcome_data(ctx: Context, month: int, quantities, paramcd: str = "MRSS") -> pd.DataFrame:
    """IVIG patients with a baseline and a value at ``month`` and every covariate:
    SUBJSEQ, CHG and one column per covariate quantity (female as 0/1)."""
    p = outcomes.pairs(ctx, paramcd, month)
    a = ctx.analysed.set_index("USUBJID")
    cols = {
        "age": a["age_at_ivig"].astype(float),
        "duration": pd.to_numeric(a["disease_duration_months"], errors="coerce").astype(float),
        "female": (a["sex"] == "F").astype(float).where(a["sex"].notna()),
    }
    out = pd.DataFrame(
        {"SUBJSEQ": p["SUBJSEQ"].astype(int).to_numpy(), "CHG": p["CHG"].to_numpy(float)}
    )
    for q in quantities:
        out[q] = (
            p["BASE"].to_numpy(float)
            if q == "mrss_bl"
            else p["USUBJID"].map(cols[q]).to_numpy(float)
        )
    return out.dropna().reset_index(drop=True)


def _rng(seed: int, comparator: str, visit: str) -> np.random.Generator:
    key = zlib.crc32(f"{comparator}_{visit}".encode())
    return np.random.default_rng(np.random.SeedSequence([int(seed), STREAM, key]))


def _apply_rules(r: dict, params, B: int) -> dict:
    """The analysis rules on one comparison of :func:`compare_one`: ``status`` is
    ``shown``, ``not_estimable`` (no weights), ``too_few`` (fewer than ``min_pairs``
    patients, rule min_pairs) or ``low_ess`` (ESS below ``maic_min_ess``); and the
    bootstrap interval is reported only when at most ``maic_max_failed_share`` of the
    resamples failed (else the robust one)."""
    r = dict(r)
    if r.get("ci_method") in ("bootstrap", "robust"):
        use_boot = r["boot_failed"] <= params.maic_max_failed_share * B and np.isfinite(
            r["boot_ci_low"]
        )
        kind = "boot" if use_boot else "robust"
        r["ci_method"] = "bootstrap" if use_boot else "robust"
        r["ci_low"], r["ci_high"] = r[f"{kind}_ci_low"], r[f"{kind}_ci_high"]
    if r["n"] < params.min_pairs:
        r["status"] = "too_few"
    elif not r["estimable"]:
        r["status"] = "not_estimable"
    elif r["ess"] < params.maic_min_ess:
        r["status"] = "low_ess"
    else:
        r["status"] = "shown"
    return r


def _too_few_text(out: pd.DataFrame, params) -> str:
    """One sentence for the comparisons with fewer than ``min_pairs`` patients."""
    few = out[out["status"] == "too_few"]
    rule = (
        f"needs at least {params.min_pairs} patients with a baseline, a value at the visit "
        "and every covariate (rule min_pairs)."
    )
    anchor = params.followup_anchor
    if len(few) == len(out):
        visits = few.drop_duplicates("avisitn")
        where = outcomes.and_list(
            [
                f"{outcomes.visit_phrase(int(r.avisitn), anchor)} (N={r.n})"
                for r in visits.itertuples()
            ]
        )
        return f"No matching-adjusted comparison is made at {where}: it {rule}"
    which = outcomes.and_list(
        [
            f"{r.label} at {outcomes.visit_phrase(int(r.avisitn), anchor)} (N={r.n})"
            for r in few.itertuples()
        ]
    )
    verb = "is" if len(few) == 1 else "are"
    return f"{which} {verb} not compared: a matching-adjusted comparison {rule}"


def compare(
    ctx: Context,
    rec,
    comparators: pd.DataFrame | None,
    seed: int,
    paramcd: str = "MRSS",
    B: int = B_DEFAULT,
    max_boot_n: int = BOOTSTRAP_MAX_N,
) -> pd.DataFrame | None:
    """MAIC against every comparator with a published change at a visit of this cohort,
    in the patients the historical chapter compares (:func:`historical.population`).

    Records ``maic_b`` and, per comparator and visit, ``maic_<c>_<visit>_n``, ``_ess``,
    ``_max_weight_pct``, ``_weighted_mean``, ``_diff`` (+ ``_ci_low``/``_ci_high``),
    ``_unadj_diff`` (+ CI), ``_boot_failed_n``, ``_diff_boot_ci_*``, ``_diff_robust_ci_*``,
    ``_ci_bootstrap``, ``_estimable`` and ``_reported`` (the difference is shown: enough
    patients, rule min_pairs, and effective sample size, rule maic_min_ess); glues
    ``maic_text``. The same keys in both regimes (see :data:`BOOTSTRAP_MAX_N`): above the
    threshold the bootstrap ones are NaN (``None`` in results.json) and ``_ci_bootstrap``
    is false; the frame's ``ci_method`` (``bootstrap``, ``robust`` or ``sandwich``) says
    which interval is reported and ``status`` (:func:`_apply_rules`) whether it is shown."""
    why = historical.not_compared(ctx, comparators, "matching-adjusted comparison")
    if why:
        rec.prose("maic_text", why)
        return None
    hctx = historical.population(ctx)
    params = ctx.params
    rows = []
    data: dict[tuple, pd.DataFrame] = {}  # comparators publishing the same covariates share it
    for month in params.followup_months:
        v = visit_key(month)
        comps = comparators[comparators["quantity"] == f"mrss_change_{v}"]
        for q in comps.itertuples():
            tgt = targets(comparators, q.comparator)
            if not tgt:
                continue
            key = (month, tuple(tgt))
            if key not in data:
                data[key] = outcome_data(hctx, month, list(tgt), paramcd)
            d = data[key]
            r = compare_one(
                d, tgt, q.mean, q.sd, int(q.n), _rng(seed, q.comparator, v), B, max_boot_n
            )
            rows.append(
                {
                    "comparator": q.comparator,
                    "label": COMPARATOR_LABELS.get(q.comparator, q.comparator),
                    "avisitn": month,
                    "visit": v,
                    "comp_mean": q.mean,
                    "comp_sd": q.sd,
                    "comp_n": int(q.n),
                    "max_boot_n": max_boot_n,
                    **_apply_rules(r, params, B),
                }
            )
    if not rows:
        rec.prose(
            "maic_text",
            "No historical comparator in the comparator file reports a change "
            "in mRSS at the follow-up visits of this cohort, so no "
            "matching-adjusted comparison is made.",
        )
        return None
    out = pd.DataFrame(rows)
    order = {c: i for i, c in enumerate(comparator_names(comparators))}
    out = out.sort_values(
        ["avisitn", "comparator"],
        key=lambda s: s.map(order) if s.name == "comparator" else s,
        kind="stable",
    ).reset_index(drop=True)
    out.attrs.update(
        B=B,
        min_pairs=params.min_pairs,
        min_ess=params.maic_min_ess,
        max_failed_share=params.maic_max_failed_share,
        population=historical.population_label(ctx),
    )
    rec.value("maic_b", B, kind="int")
    parts = []
    for r in out.to_dict("records"):
        stem = f"maic_{r['comparator']}_{r['visit']}"
        status = r["status"]
        n = rec.value(f"{stem}_n", r["n"], kind="int")
        rec.value(f"{stem}_estimable", bool(r["estimable"]) and status != "too_few")
        rec.value(f"{stem}_reported", status == "shown")
        few = status == "too_few"
        ud = rec.value(f"{stem}_unadj_diff", np.nan if few else r["unadj_diff"])
        rec.value(f"{stem}_unadj_diff_ci_low", np.nan if few else r.get("unadj_ci_low", np.nan))
        rec.value(f"{stem}_unadj_diff_ci_high", np.nan if few else r.get("unadj_ci_high", np.nan))
        where = f"{r['label']} at month {r['avisitn']}"
        if status in ("too_few", "not_estimable", "low_ess"):
            if status == "low_ess":
                e = rec.value(f"{stem}_ess", r["ess"])
                rec.value(f"{stem}_max_weight_pct", r["max_weight_pct"])
            for key in (
                *(() if status == "low_ess" else ("ess",)),
                "diff",
                "diff_ci_low",
                "diff_ci_high",
                "diff_boot_ci_low",
                "diff_boot_ci_high",
                "diff_robust_ci_low",
                "diff_robust_ci_high",
            ):
                rec.value(f"{stem}_{key}", np.nan)
            if status == "not_estimable":
                parts.append(f"{where} not estimable, because {r['reason']} (unadjusted {ud})")
            elif status == "low_ess":
                parts.append(
                    f"{where} not shown: the weights leave an effective sample size of {e} of "
                    f"{n}, below the minimum of {params.maic_min_ess:g} (rule maic_min_ess; "
                    f"unadjusted {ud})"
                )
            continue
        e = rec.value(f"{stem}_ess", r["ess"])
        rec.value(f"{stem}_max_weight_pct", r["max_weight_pct"])
        rec.value(f"{stem}_weighted_mean", r["weighted_mean"])
        diff = rec.value(f"{stem}_diff", r["diff"])
        lo = rec.value(f"{stem}_diff_ci_low", r["ci_low"])
        hi = rec.value(f"{stem}_diff_ci_high", r["ci_high"])
        failed = r["boot_failed"]
        rec.value(
            f"{stem}_boot_failed_n", int(failed) if np.isfinite(failed) else np.nan, kind="int"
        )
        for kind in ("boot", "robust"):
            rec.value(f"{stem}_diff_{kind}_ci_low", r[f"{kind}_ci_low"])
            rec.value(f"{stem}_diff_{kind}_ci_high", r[f"{kind}_ci_high"])
        rec.value(f"{stem}_ci_bootstrap", r["ci_method"] == "bootstrap")
        parts.append(
            f"{where} {diff} (95% CI {lo} to {hi}{_CI_TAG[r['ci_method']]}; effective "
            f"sample size {e} of {n}; unadjusted {ud})"
        )
    text = (
        (
            "Difference in mean change, IVIG \u2212 comparator, after weighting (negative: a "
            "larger fall in mRSS under IVIG): " + "; ".join(parts) + "."
        )
        if parts
        else ""
    )
    if (out["status"] == "too_few").any():
        text = (text + " " + _too_few_text(out, params)).strip()
    shown = out[out["status"] == "shown"]
    if (shown.get("ci_method", pd.Series(dtype=object)) == "robust").any():
        text += (
            f" Where more than {params.maic_max_failed_share:.0%} of the bootstrap resamples "
            "could not be weighted, the interval shown is the conservative robust one (see "
            "the table; rule maic_max_failed_share)."
        )
    if (shown["n"] > shown["max_boot_n"]).any():
        text += (
            f" With more than {max_boot_n:,} IVIG patients in a comparison, no bootstrap is "
            "run: the intervals (marked large-sample) are normal approximations whose "
            "standard error allows for the estimation of the weights (M-estimation "
            "sandwich) and for the comparator's standard error, and the unadjusted "
            "interval uses the standard error of the mean."
        )
    rec.prose("maic_text", text)
    return out


def _visit_label(r) -> str:
    return f"{r['label']}, month {r['avisitn']}"


def _presented(res: pd.DataFrame | None, what: str) -> pd.DataFrame | Skip:
    """The comparisons a table or figure shows (all but those with too few patients), or
    a quiet :class:`Skip` (``maic_text`` says why there are none)."""
    if res is None or res.empty or not (res["status"] != "too_few").any():
        return Skip(f"No {what}: the chapter's prose says why.", quiet=True)
    return res[res["status"] != "too_few"]


def _left_out_note(res: pd.DataFrame) -> list[str]:
    few = res[res["status"] == "too_few"]
    if few.empty:
        return []
    which = outcomes.and_list([_visit_label(r) for r in few.to_dict("records")])
    return [
        f"Not compared, with fewer than {res.attrs.get('min_pairs', 3)} patients with a "
        f"baseline, a value at the visit and every covariate (rule min_pairs): {which}."
    ]


def _ess_head(r: dict, min_ess: float) -> str:
    if r["status"] == "low_ess":
        return f" (ESS {fmt_number(r['ess'])} of {r['n']}, below the minimum {min_ess:g})"
    if r["estimable"]:
        return f" (ESS {fmt_number(r['ess'])} of {r['n']})"
    return f" (not estimable, N={r['n']})"


def balance_table(res: pd.DataFrame | None, synthetic: bool) -> Table | Skip:
    """Covariates before and after weighting, next to the comparator's published means."""
    shown = _presented(res, "covariate balance to show")
    if isinstance(shown, Skip):
        return shown
    min_ess = res.attrs.get("min_ess", 0.0)
    rows = []
    for r in shown.to_dict("records"):
        head = _visit_label(r) + _ess_head(r, min_ess)
        for i, q in enumerate(r["quantities"]):
            label, unit = COVARIATES[q]
            k = 100.0 if unit == "pct" else 1.0
            rows.append(
                {
                    "group": head,
                    "Covariate": label,
                    "Comparator (published)": fmt_number(r["targets"][i] * k),
                    "IVIG, unweighted": fmt_number(r["before"][i] * k),
                    "IVIG, MAIC-weighted": fmt_number(r["after"][i] * k)
                    if r["estimable"]
                    else "not estimable",
                }
            )
    return Table(
        pd.DataFrame(rows),
        caption="Baseline covariates before and after matching-adjusted weighting",
        table_id="maic-balance",
        group_col="group",
        synthetic=synthetic,
        notes=[
            f"IVIG: {res.attrs.get('population', 'analysis set')}; the patients with a "
            "baseline and a value at the comparator's visit. "
            "Method-of-moments weights (Signorovitch et al. 2010); "
            "ESS = (\u03a3w)\u00b2/\u03a3w\u00b2.",
            *_left_out_note(res),
        ],
    )


def _maic_cell(r: dict, min_ess: float) -> str:
    if r["status"] == "low_ess":
        return f"not shown: ESS below {min_ess:g} (rule maic_min_ess)"
    if r["status"] == "not_estimable":
        return "not estimable"
    return cell_est_ci(r["diff"], r["ci_low"], r["ci_high"], 1)


def results_table(res: pd.DataFrame | None, synthetic: bool) -> Table | Skip:
    """Mean change under IVIG (unweighted and weighted) and the difference from each comparator."""
    shown = _presented(res, "matching-adjusted comparison to show")
    if isinstance(shown, Skip):
        return shown
    rows = []
    b = int(res.attrs.get("B", B_DEFAULT))
    min_ess = res.attrs.get("min_ess", 0.0)
    share = res.attrs.get("max_failed_share", 0.10)
    for r in shown.to_dict("records"):
        rows.append(
            {
                "Comparison": _visit_label(r),
                "Comparator change, mean (SD), N": f"{fmt_number(r['comp_mean'], 2)} "
                f"({fmt_number(r['comp_sd'], 2)}), {r['comp_n']}",
                "IVIG N / ESS": f"{r['n']} / {fmt_number(r['ess'])}"
                if r["estimable"]
                else f"{r['n']} / \u2014",
                "Unadjusted difference (95% CI)": cell_est_ci(
                    r["unadj_diff"], r.get("unadj_ci_low"), r.get("unadj_ci_high"), 1
                ),
                "MAIC difference (95% CI)": _maic_cell(r, min_ess),
                "CI of the MAIC difference": _ci_cell(r, b) if r["status"] == "shown" else "\u2014",
            }
        )
    notes = [
        f"IVIG: {res.attrs.get('population', 'analysis set')}. Difference = IVIG \u2212 "
        "comparator mean change."
    ]
    large = shown["n"] > shown["max_boot_n"]
    if (~large).any():
        notes[0] += (
            " 95% CI: 2.5th-97.5th percentiles "
            "of a seeded bootstrap of the IVIG patients (weights re-estimated each time) "
            "with the comparator's mean drawn from a normal distribution with its "
            "published mean and standard error; the comparator N is the one used in the "
            "historical comparison (inferred where not published). Resamples in "
            "which no weights exist are dropped; when they are more than "
            f"{share:.0%} (rule maic_max_failed_share) the bootstrap interval is conditional "
            "on the others and the robust interval is shown instead: sandwich variance of "
            "the weighted mean with the weights treated as known (usually conservative) plus "
            "the comparator's squared standard error, normal approximation."
        )
    if large.any():
        m = int(shown["max_boot_n"].iloc[0])
        notes.append(
            f"Comparisons with more than {m:,} IVIG patients (marked large-sample): no bootstrap; "
            "95% CI = difference \u00b1 1.96 standard errors, where the squared standard "
            "error is the M-estimation sandwich variance of the weighted mean, which "
            "allows for the estimation of the weights (Signorovitch et al. 2010; NICE DSU "
            "TSD 18), plus the comparator's squared standard error (SD/\u221aN). The "
            "unadjusted CI of these comparisons is likewise normal: difference \u00b1 1.96 "
            "\u221a(var(IVIG change)/n + comparator SE\u00b2)."
        )
    if (shown["status"] == "low_ess").any():
        notes.append(
            f"A weighted difference resting on an effective sample size below {min_ess:g} "
            "is not shown (rule maic_min_ess)."
        )
    notes += _left_out_note(res)
    return Table(
        pd.DataFrame(rows),
        caption="Matching-adjusted indirect comparison of the change in mRSS",
        table_id="maic",
        synthetic=synthetic,
        notes=notes,
    )


def _ci_cell(r: dict, b: int) -> str:
    if r["ci_method"] == "sandwich":
        return _SANDWICH_CELL
    return f"{r['ci_method']}; {int(r['boot_failed'])} of {b} resamples without weights"


def forest_rows(res: pd.DataFrame | None) -> pd.DataFrame | Skip:
    """Unadjusted and MAIC differences per comparison (``figures.forest`` with groups);
    a MAIC row only where the weighted difference may be shown or is not estimable."""
    cols = ["label", "estimate", "ci_low", "ci_high", "group"]
    shown = _presented(res, "matching-adjusted comparison to plot")
    if isinstance(shown, Skip):
        return shown
    rows = []
    for r in shown.to_dict("records"):
        rows.append(
            {
                "label": _visit_label(r),
                "estimate": r["unadj_diff"],
                "ci_low": r.get("unadj_ci_low"),
                "ci_high": r.get("unadj_ci_high"),
                "group": "Unadjusted",
            }
        )
        if r["status"] == "low_ess":
            continue
        ok = r["status"] == "shown"
        rows.append(
            {
                "label": _visit_label(r),
                "estimate": r["diff"] if ok else np.nan,
                "ci_low": r["ci_low"] if ok else np.nan,
                "ci_high": r["ci_high"] if ok else np.nan,
                "group": "MAIC",
            }
        )
    return pd.DataFrame(rows, columns=cols)
