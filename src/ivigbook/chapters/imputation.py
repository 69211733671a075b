"""Multiple imputation of missing follow-up visits (notebook 02, second missing-data
sensitivity analysis).

The paper's change from baseline at each visit is a complete-case mean. Here the missing
visit values are imputed by **chained equations with predictive mean matching**
{van Buuren 2018, ch. 3.4 and 4.5}, ``m`` times, and each completed data set's mean change
is pooled with **Rubin's rules** {Rubin 1987} and the Barnard-Rubin small-sample degrees
of freedom {Barnard and Rubin 1999}.

* **Data** (:func:`wide_table`): one row per analysed patient with a baseline value;
  columns = baseline, the windowed value at each follow-up visit (the same values as the
  complete-case analysis), age at IVIG start, disease duration, number of IVIG cycles and
  concomitant prednisone / mycophenolate (0/1). Constant or all-missing columns are dropped.
* **Chained equations** (:func:`chained_pmm`): missing entries start as random draws of the
  observed values of their column; then, ``n_iter`` times, each incomplete column in turn
  (left to right) is regressed on all other columns (OLS on its observed rows, ridge
  1e-5), the coefficients are drawn from their posterior (``sigma^2`` from a scaled
  inverse chi-square, ``beta`` from a normal), and each missing entry takes the observed
  value of one of the ``donors`` (5) observed rows whose fitted value (``beta-hat``) is
  closest to the missing row's predicted value (drawn ``beta``), chosen at random with
  equal probability (type 1 matching). Ties in distance go to the observed row that comes
  first (lower position in the table); the search is exact and vectorised (one sort of the
  fitted values per step, :func:`_donors`). Imputed values are therefore always values that
  occur in the data. Each imputation is an independent chain with its own random stream
  spawned from the seed; chains run on a few threads, which does not change the numbers.
* **Analysis**: mean of (visit − baseline) over all patients; its variance s²/n.
* **Pooling** (:func:`rubin`).

Imputation assumes the visits are missing at random given the variables of the table.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ivigbook.chapters import outcomes
from ivigbook.chapters.longitudinal import target_months
from ivigbook.derive.bds import visit_key
from ivigbook.derive.context import Context
from ivigbook.derive.records import alive_at
from ivigbook.results.formatter import fmt_number
from ivigbook.results.table import Table, cell_est_ci
from ivigbook.stats.mi import M_DEFAULT, chained_pmm, rubin

MIN_PATIENTS = 5


MIN_OBSERVED = 3  #: observed values needed to impute a visit


COVARIATES = {
    "age": "age_at_ivig",
    "duration": "disease_duration_months",
    "cycles": "n_cycles",
    "prednisone": "concomitant_prednisone",
    "mycophenolate": "concomitant_mycophenolate",
}


# ----------------------------------------------------------------------------- data
def wide_table(ctx: Context, paramcd: str = "MRSS") -> pd.DataFrame:
    """One row per analysed patient with a baseline: ``base``, ``m<visit>`` per follow-up
    visit (windowed values, NaN = missing) and the covariates of :data:`COVARIATES`,
    indexed by SUBJSEQ. Constant and all-missing covariates are dropped."""
    b = ctx.chosen(paramcd)
    a = ctx.analysed.set_index("USUBJID")
    base = b[b["AVISITN"] == 0].set_index("USUBJID")["AVAL"].astype(float)
    keep = a.index.isin(base.index)
    keep[keep] = np.isfinite(base.reindex(a.index[keep]).to_numpy())
    ids = a.index[keep]
    out = pd.DataFrame({"base": base.reindex(ids).to_numpy()}, index=pd.Index(ids, name="USUBJID"))
    for month in ctx.params.followup_months:
        v = b[b["AVISITN"] == month].set_index("USUBJID")["AVAL"].astype(float)
        out[visit_key(month)] = v.reindex(ids).to_numpy()
    for name, col in COVARIATES.items():
        if col not in a:
            continue
        values = pd.array(a[col].reindex(ids), dtype="Float64").to_numpy(
            dtype=float, na_value=np.nan
        )
        obs = values[np.isfinite(values)]
        if obs.size == 0 or np.unique(obs).size < 2:
            continue
        out[name] = values
    out.index = a.loc[keep, "SUBJSEQ"].astype(int).to_numpy()
    out.index.name = "SUBJSEQ"
    out = out.sort_index()
    out.attrs["usubjid"] = dict(zip(a.loc[keep, "SUBJSEQ"].astype(int), ids, strict=True))
    return out


# ----------------------------------------------------------------------------- chapter
def analyse(
    ctx: Context, seed: int, paramcd: str = "MRSS", m: int = M_DEFAULT
) -> pd.DataFrame | str:
    """Pooled mean change from baseline at each visit (one row per visit), or a sentence
    saying why multiple imputation does not apply."""
    wide = wide_table(ctx, paramcd)
    visits = [visit_key(mo) for mo in ctx.params.followup_months]
    if len(wide) < MIN_PATIENTS:
        return (
            f"Multiple imputation needs at least {MIN_PATIENTS} patients with a baseline "
            f"value; this cohort has {len(wide)}, so none is done."
        )
    usable = [v for v in visits if wide[v].notna().sum() >= MIN_OBSERVED]
    if not usable:
        return (
            f"No follow-up visit has at least {MIN_OBSERVED} observed values to impute "
            "from, so no multiple imputation is done."
        )
    cols = ["base"] + usable + [c for c in wide.columns if c not in ["base"] + visits]
    data = wide[cols]
    completed = chained_pmm(data, m, seed)
    n = len(data)
    rows = []
    for mo in ctx.params.followup_months:
        v = visit_key(mo)
        if v not in usable:
            rows.append(
                {"avisitn": mo, "visit": v, "n": n, "n_observed": int(wide[v].notna().sum())}
            )
            continue
        # no value is imputed for a visit after the patient's death
        ids = [wide.attrs["usubjid"][s] for s in data.index]
        alive = alive_at(ctx.analysed, ids, target_months(ctx, mo, ids))
        n_alive = int(alive.sum())
        chg = [(d[v].to_numpy() - d["base"].to_numpy())[alive] for d in completed]
        r = rubin([c.mean() for c in chg], [c.var(ddof=1) / n_alive for c in chg], n_alive)
        rows.append(
            {
                "avisitn": mo,
                "visit": v,
                "n": n_alive,
                "n_died": n - n_alive,
                "n_observed": int(wide[v].notna().sum()),
                "estimate": r.estimate,
                "ci_low": r.ci_low,
                "ci_high": r.ci_high,
                "p": r.p,
                "fmi": r.fmi,
                "df": r.df,
                "se": r.se,
                "m": r.m,
            }
        )
    out = pd.DataFrame(rows)
    out.attrs["covariates"] = [c for c in cols if c not in ["base"] + usable]
    out.attrs["m"] = m
    out.attrs["n"] = n
    return out


COVARIATE_LABELS = {
    "age": "age",
    "duration": "disease duration",
    "cycles": "number of cycles",
    "prednisone": "concomitant prednisone",
    "mycophenolate": "concomitant mycophenolate",
}


def mrss_change(
    ctx: Context, rec, seed: int, paramcd: str = "MRSS", name: str = "mrss", m: int = M_DEFAULT
) -> pd.DataFrame | None:
    """Multiple imputation of the change at each visit; records ``mi_<name>_<visit>_*`` and
    ``mi_m``, glues ``mi_<name>_text``."""
    stem = f"mi_{name}"
    res = analyse(ctx, seed, paramcd, m)
    if isinstance(res, str):
        rec.prose(f"{stem}_text", res)
        return None
    m_text = rec.value("mi_m", int(res.attrs["m"]), kind="int")
    n_text = rec.value(f"{stem}_n", int(res.attrs["n"]), kind="int")
    sources = ["the baseline"] + (["the other visits"] if len(res) > 1 else [])
    sources += [COVARIATE_LABELS[c] for c in res.attrs["covariates"]]
    listed = sources[0] if len(sources) == 1 else ", ".join(sources[:-1]) + " and " + sources[-1]
    parts = [
        f"The missing follow-up values of the {n_text} patients with a baseline were "
        f"imputed {m_text} times from {listed}."
    ]
    visits, fmis = [], []
    for r in res.to_dict("records"):
        v = r["visit"]
        where = outcomes.visit_phrase(r["avisitn"], ctx.params.followup_anchor)
        obs = rec.value(f"{stem}_{v}_observed_n", r["n_observed"], kind="int")
        if not np.isfinite(r.get("estimate", np.nan)):
            visits.append(f"at {where} too few values were observed to impute ({obs})")
            continue
        e = rec.value(f"{stem}_{v}_change", r["estimate"])
        lo = rec.value(f"{stem}_{v}_change_ci_low", r["ci_low"])
        hi = rec.value(f"{stem}_{v}_change_ci_high", r["ci_high"])
        rec.value(f"{stem}_{v}_change_p", r["p"], kind="p")
        fmis.append((r["fmi"], rec.value(f"{stem}_{v}_fmi", r["fmi"], 2), where))
        died = int(r.get("n_died", 0) or 0)
        dead = f"; {died} who had died before it not imputed" if died else ""
        visits.append(
            f"{e} at {where} (95% CI {lo} to {hi}; {obs} of {int(r['n'])} observed{dead})"
        )
    parts.append("Pooled mean change from baseline: " + "; ".join(visits) + ".")
    if len(fmis) == 1:
        parts.append(f"The fraction of missing information was {fmis[0][1]}.")
    elif fmis:
        low, high = min(fmis), max(fmis)
        parts.append(
            f"The fraction of missing information ranged from {low[1]} ({low[2]}) to "
            f"{high[1]} ({high[2]})."
        )
    rec.prose(f"{stem}_text", " ".join(parts))
    return res


def comparison_table(ctx: Context, lmm, mi: pd.DataFrame | None) -> Table | None:
    """Change from baseline by visit: complete cases, the mixed model and multiple imputation."""
    if lmm is None and mi is None:
        return None
    rows = []
    est = lmm.estimates.set_index("avisitn") if lmm is not None else None
    mis = mi.set_index("avisitn") if mi is not None else None
    for month in ctx.params.followup_months:
        cc = outcomes.compare_visit(ctx, "MRSS", month, test="paired_t")
        row = {
            "Visit": outcomes.visit_label(month),
            "Complete case: N": str(int(cc["n"])),
            "Complete case: change (95% CI)": cell_est_ci(
                cc["chg_mean"], cc["ci_low"], cc["ci_high"], 1
            ),
        }
        if est is not None:
            r = est.loc[month]
            row["Mixed model: change (95% CI)"] = cell_est_ci(
                r["change"], r["ci_low"], r["ci_high"], 1
            )
        if mis is not None:
            r = mis.loc[month]
            row["Multiple imputation: change (95% CI)"] = cell_est_ci(
                r.get("estimate", np.nan), r.get("ci_low", np.nan), r.get("ci_high", np.nan), 1
            )
            row["Fraction of missing information"] = fmt_number(r.get("fmi", np.nan), 2)
        rows.append(row)
    notes = [
        "Complete case: patients with a baseline and a value in the visit window (paired "
        "t-based CI)."
    ]
    if lmm is not None:
        notes.append(
            f"Mixed model: all {lmm.n_obs} recorded values of {lmm.n_patients} patients (Wald CI)."
        )
    if mi is not None:
        notes.append(
            f"Multiple imputation: chained equations with predictive mean matching, "
            f"m = {mi.attrs['m']}, pooled by Rubin's rules (Barnard-Rubin degrees of "
            f"freedom), {int(mi['n'].iloc[0])} patients with a baseline. Fraction of "
            "missing information as van Buuren (2018, eq. 2.24); with few patients its "
            "small-sample term makes it exceed the share of missing values."
        )
    return Table(
        pd.DataFrame(rows),
        caption="Change in mRSS from baseline under three ways of handling missing visits",
        table_id="missing-data",
        synthetic=ctx.synthetic,
        notes=notes,
    )
