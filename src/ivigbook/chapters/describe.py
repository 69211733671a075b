"""Cohort description (notebook 01): inclusion flow, Table 1, Table 2, swimmer data."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd

from ivigbook.chapters import historical, outcomes, safety
from ivigbook.chapters.safety import stop_label_per_patient
from ivigbook.data.lookup import isin
from ivigbook.data.schema import (
    DRUG,
    DRUG_CLASSES,
    INDICATION,
    LABELS,
    MEASURES,
    OVERLAP,
    SSC_SUBTYPE,
)
from ivigbook.derive import adsl as derive
from ivigbook.derive.context import Context
from ivigbook.derive.records import per_patient
from ivigbook.results.applicability import Skip, count, sentence, were
from ivigbook.results.formatter import fmt_number
from ivigbook.results.table import Table, cell_mean_sd, cell_n_pct

ANTIBODIES = {
    "ana": "Anti-nuclear antibody (ANA)",
    "anti_centromere": "Anti-centromere",
    "anti_scl70": "Anti-topoisomerase I (Scl-70)",
    "anti_rnapol3": "Anti-RNA polymerase III",
    "anti_rnp": "Anti-ribonucleoprotein (RNP)",
}
#: Baseline measures shown in Table 1 (code -> key and decimals).
TABLE1_MEASURES = {
    "MRSS": ("mrss", 1),
    "HAQ_DI": ("haq_di", 2),
    "CK_UL": ("ck", 1),
    "FVC_PCT": ("fvc", 1),
    "DLCO_PCT": ("dlco", 1),
    "RVSP_MMHG": ("rvsp", 1),
}
#: Binary baseline measures shown as n (%).
TABLE1_FLAGS = {"TFR": "tfr", "RENAL_CRISIS": "renal_crisis"}


def flow(ctx: Context, rec) -> pd.DataFrame:
    """The inclusion flow as boxes that add up; records flow_* keys."""
    table = derive.flow_table(ctx.inclusion)
    rec.value("flow_total_n", len(ctx.inclusion), kind="int")
    rec.value("flow_included_n", int(ctx.inclusion["included"].sum()), kind="int")
    for reason, n in (
        ctx.inclusion.loc[~ctx.inclusion["included"], "reason"]
        .astype(str)
        .value_counts()
        .sort_index()
        .items()
    ):
        rec.value(f"flow_excluded_{reason}_n", int(n), kind="int")
    rec.value("flow_excluded_n", int((~ctx.inclusion["included"]).sum()), kind="int")
    rec.prose("flow_text", flow_sentence(ctx, table))
    return table


def flow_sentence(ctx: Context, table: pd.DataFrame) -> str:
    """The flow in words: patients, treated, included, and the exclusions by reason."""
    n = len(ctx.inclusion)
    untreated = int((ctx.inclusion["reason"].astype("string") == "no_ivig").sum())
    included = int(ctx.inclusion["included"].sum())
    treated = f"{n - untreated} treated with IVIG" if untreated else "all treated with IVIG"
    text = (
        f"The package holds {count(n, 'patient')}, {treated}. Under the inclusion rule "
        f"inclusion={ctx.params.inclusion}, "
        + (f"{included} {were(included)}" if included else "no patient was")
        + " included in the analysis"
    )
    excluded = table[(table["kind"] == "excluded") & (table["n_excluded"] > 0)]
    if len(excluded):
        reasons = outcomes.and_list(
            [f"{int(r.n_excluded)} {r.box[0].lower() + r.box[1:]}" for r in excluded.itertuples()]
        )
        text += f" and {n - included} excluded, each for the first criterion they failed: {reasons}"
    text += "."
    if included == 0:
        text += " " + outcomes.nobody_analysed(ctx).replace(", so this chapter has no results", "")
    return text


def flow_boxes(table: pd.DataFrame) -> pd.DataFrame:
    """The flow table as diagram boxes: each main box with the exclusions that follow it."""
    boxes = []
    for r in table.itertuples():
        if r.kind == "excluded":
            boxes[-1]["excluded_n"] = int(r.n_excluded)
            boxes[-1]["excluded_label"] = r.box
            boxes.append(
                {
                    "box": len(boxes),
                    "label": "Remaining",
                    "n": int(r.n_remaining),
                    "excluded_n": pd.NA,
                    "excluded_label": pd.NA,
                }
            )
        else:
            label = r.box
            if boxes and r.kind == "included":
                boxes[-1]["label"] = label
                continue
            boxes.append(
                {
                    "box": len(boxes),
                    "label": label,
                    "n": int(r.n_remaining),
                    "excluded_n": pd.NA,
                    "excluded_label": pd.NA,
                }
            )
    return pd.DataFrame(boxes)


def _race_groups(race: pd.Series) -> pd.Series:
    """White / black / other (asian, other) / unknown (blank or 'unknown')."""
    r = race.fillna("unknown")
    return r.where(r.isin(["white", "black", "unknown"]), "other")


def _overlap_rows(a: pd.DataFrame, n: int, cat, rows: list[dict]) -> None:
    """Any overlap disease, concomitant myositis (always) and the other overlaps present."""
    overlaps = a[[f"overlap_{o}" for o in OVERLAP]].fillna(False).astype(bool)
    cat(
        "overlap_any", "Any overlap disease", overlaps.any(axis=1).sum(), n, group="Overlap disease"
    )
    for o in OVERLAP:
        k = overlaps[f"overlap_{o}"].sum()
        if o == "myositis":
            cat("myositis", "Concomitant myositis", k, n, group="Overlap disease")
            rows.append({**rows[-1], "key": "overlap_myositis", "hidden": True})
        elif k:
            cat(f"overlap_{o}", LABELS[o], k, n, group="Overlap disease")


def table1_values(ctx: Context) -> list[dict]:
    """Rows of Table 1 for the analysis set: key, label, group, n, denom, mean, sd, kind."""
    a = ctx.analysed
    n = len(a)
    rows: list[dict] = []

    def cont(key, label, s, group="", decimals=1, show_n=False):
        s = pd.to_numeric(s, errors="coerce").dropna()
        rows.append(
            {
                "key": key,
                "label": label,
                "group": group,
                "kind": "mean_sd",
                "n": int(s.size),
                "mean": s.mean() if s.size else np.nan,
                "sd": s.std(ddof=1) if s.size > 1 else np.nan,
                "decimals": decimals,
                "show_n": show_n or s.size != n,
            }
        )

    def cat(key, label, k, denom, group=""):
        rows.append(
            {
                "key": key,
                "label": label,
                "group": group,
                "kind": "n_pct",
                "n": int(k),
                "denom": int(denom),
            }
        )

    cont("age", "Age at IVIG start, years", a["age_at_ivig"])
    cont("duration", "Disease duration at IVIG start, months", a["disease_duration_months"])
    cat("female", "Female sex", (a["sex"] == "F").sum(), a["sex"].notna().sum())
    rows.append(
        {
            "key": "male",
            "label": "Male sex",
            "group": "",
            "kind": "n_pct",
            "hidden": True,
            "n": int((a["sex"] == "M").sum()),
            "denom": int(a["sex"].notna().sum()),
        }
    )
    if a["ssc_subtype"].nunique() > 1:
        for sub in SSC_SUBTYPE:
            cat(f"subtype_{sub}", LABELS[sub], (a["ssc_subtype"] == sub).sum(), n, group="Subtype")
    race = _race_groups(a["race"])
    known = ctx.cohort.recorded("patients", "race") and (race != "unknown").any()
    for r in ("white", "black", "other", "unknown"):
        if r == "unknown" and not (race == "unknown").any() or r != "unknown" and not known:
            continue  # nobody's race recorded: no share of white, black or other to show
        cat(r, LABELS[r], (race == r).sum(), n, group="Race")
    for code, (key, dec) in TABLE1_MEASURES.items():
        if code == "MRSS" or a[f"BASE_{code}"].notna().any():
            m = MEASURES[code]
            cont(key, f"{m.label}, {m.unit}", a[f"BASE_{code}"], decimals=dec)
    if ctx.cohort.recorded("patients", "overlap"):  # absent: not counted (blank is not no)
        _overlap_rows(a, n, cat, rows)
    ind = a[[f"indication_{i}" for i in INDICATION]].fillna(False).astype(bool)
    if ind.to_numpy().any():
        for i in INDICATION:
            if ind[f"indication_{i}"].any():
                cat(
                    f"indication_{i}",
                    LABELS[i],
                    ind[f"indication_{i}"].sum(),
                    n,
                    group="IVIG indication",
                )
        organ = ind[["indication_skin", "indication_myositis", "indication_gi"]].sum(axis=1)
        cat(
            "indication_multiple",
            "More than one of skin, myositis, GI",
            (organ > 1).sum(),
            n,
            group="IVIG indication",
        )
    for code, key in TABLE1_FLAGS.items():
        s = a[f"BASE_{code}"]
        if s.notna().any():
            cat(key, MEASURES[code].label, (s == 1).sum(), s.notna().sum())
    for drug in DRUG:
        col = f"prior_{drug}"
        if col in a and a[col].fillna(False).astype(bool).any():
            cat(
                f"prior_{drug}",
                LABELS.get(drug, drug.capitalize()),
                a[col].fillna(False).astype(bool).sum(),
                n,
                group="Medications before IVIG",
            )
    for col, label in ANTIBODIES.items():
        s = a[col]
        if s.notna().any():
            cat(col, label, (s == "pos").sum(), s.notna().sum(), group="Autoantibodies")
    return rows


def record_table1(ctx: Context, rec) -> list[dict]:
    """Record every Table 1 value under table1_* keys."""
    rows = table1_values(ctx)
    rec.value("table1_n", ctx.n, kind="int")
    a = ctx.analysed
    prior = [c for c in a.columns if c.startswith("prior_")]
    any_prior = (
        a[prior].fillna(False).astype(bool).any(axis=1)
        if prior
        else pd.Series(False, index=a.index)
    )
    rec.value("table1_prior_any_n", int(any_prior.sum()), kind="int")
    rec.value("table1_prior_any_pct", 100.0 * any_prior.mean() if len(a) else np.nan, 1)
    rec.value("cohort_first_line_n", int((~any_prior).sum()), kind="int")
    years = a["first_cycle_date"].dt.year
    rec.value("cohort_ivig_start_year_min", years.min(), kind="int")
    rec.value("cohort_ivig_start_year_max", years.max(), kind="int")
    for r in rows:
        k = f"table1_{r['key']}"
        if r["kind"] == "mean_sd":
            rec.value(f"{k}_mean", r["mean"], r["decimals"])
            rec.value(f"{k}_sd", r["sd"], r["decimals"])
            rec.value(f"{k}_n", r["n"], kind="int")
        else:
            rec.value(f"{k}_n", r["n"], kind="int")
            rec.value(f"{k}_pct", 100.0 * r["n"] / r["denom"] if r["denom"] else np.nan, 1)
            rec.value(f"{k}_tested_n", r["denom"], kind="int")
    return rows


def table1(ctx: Context, rec, comparators: pd.DataFrame | None = None) -> Table:
    """Table 1 (DMT01 shape): the IVIG column plus comparator columns with p markers."""

    rows = record_table1(ctx, rec)
    n = ctx.n
    rec.prose("table1_text", table1_sentence(ctx, rows))
    if n == 0:
        return Skip("No patient is in the analysis set, so there is no Table 1.", quiet=True)
    body = []
    comp_cols = (
        historical.baseline_columns(ctx, rec, rows, comparators) if comparators is not None else {}
    )
    for r in rows:
        if r.get("hidden"):
            continue
        label = r["label"]
        if r["kind"] == "mean_sd":
            if r.get("show_n"):
                label = f"{label} (N={r['n']})"
            cell = cell_mean_sd(r["mean"], r["sd"], r["decimals"])
        else:
            if r["denom"] != n:
                label = f"{label} (N={r['denom']})"
            cell = cell_n_pct(r["n"], r["denom"])
        line = {"group": r["group"], "Characteristic": label, f"IVIG (N={n})": cell}
        for col, cells in comp_cols.items():
            line[col] = cells.get(r["key"], "")
        body.append(line)
    notes = [
        "Mean (SD) for continuous variables; n (%) for categories. N is shown where "
        "fewer patients than the cohort had the value; missing values are excluded from "
        "the denominator."
    ]
    if comp_cols:
        notes.append(
            "* p < 0.05 for the comparison with the IVIG cohort: Student t test "
            "(pooled variance) from summary statistics, as in the paper; percentages "
            "compared as the t test on 0/1 data."
        )
    return Table(
        pd.DataFrame(body),
        caption="Table 1. Baseline characteristics",
        table_id="table1",
        notes=notes,
        group_col="group",
        synthetic=ctx.synthetic,
    )


def table1_sentence(ctx: Context, rows: list[dict]) -> str:
    """Table 1 in words, for the characteristics this cohort recorded."""
    if ctx.n == 0:
        return "No patient is in the analysis set, so there are no baseline characteristics."
    r = {row["key"]: row for row in rows}

    def share(key: str, what: str) -> str | None:
        row = r.get(key)
        if row is None or not row["denom"]:
            return None
        return f"{row['n']} ({fmt_number(100.0 * row['n'] / row['denom'])}%) {what}"

    def mean(key: str, what: str, unit: str) -> str | None:
        row = r.get(key)
        if row is None or not row["n"]:
            return None
        extra = [f"SD {fmt_number(row['sd'])}"] if row["n"] > 1 else []
        extra += [f"N={row['n']}"] if row["n"] != ctx.n else []
        spread = f" ({', '.join(extra)})" if extra else ""
        return f"the mean {what} was {fmt_number(row['mean'])}{unit}{spread}"

    parts = [p for p in (share("female", "were women"), share("white", "were white")) if p]
    text = f"Of the {count(ctx.n, 'patient')} analysed"
    text += ", " + outcomes.and_list(parts) + "." if parts else "."
    means = [
        m
        for m in (
            mean("age", "age at IVIG start", " years"),
            mean("duration", "disease duration", " months"),
            mean("mrss", "baseline mRSS", ""),
        )
        if m
    ]
    if means:
        text += " " + sentence("; ".join(means))
    myo = share("myositis", "had overlap myositis")
    if myo:
        text += " " + sentence(myo)
    return text


def _analysis_set_safety(ctx: Context) -> Context:
    """``ctx`` with the safety counts taken over the analysis set: Table 2 and the swimmer
    plot describe the analysed patients, whatever the safety chapter's population."""
    params = dataclasses.replace(ctx.params, safety_population="analysis")
    return dataclasses.replace(ctx, params=params)


def treatment_sentence(ctx: Context, tv: dict) -> str:
    """Cycles and treatment length of round 1 in words."""
    if ctx.n == 0:
        return "No patient is in the analysis set, so there is no treatment summary."
    cycles, months = tv["cycles"], tv["length_months"]
    if ctx.n == 1:
        return (
            f"The one patient analysed received {count(int(cycles.iloc[0]), 'IVIG cycle')} in "
            f"round 1 over {count(int(months.iloc[0]), 'month')}."
        )
    return (
        f"Patients received a mean of {fmt_number(cycles.mean())} IVIG cycles in round 1 (SD "
        f"{fmt_number(cycles.std(ddof=1))}, range {fmt_number(cycles.min(), 0)} to "
        f"{fmt_number(cycles.max(), 0)}) over a mean treatment length of "
        f"{fmt_number(months.mean())} months (SD {fmt_number(months.std(ddof=1))})."
    )


def treatment_values(ctx: Context) -> dict:
    a = ctx.analysed
    return {
        "length_months": a["treatment_months"].astype(float),
        "cycles": a["n_cycles"].astype(float),
    }


def table2(ctx: Context, rec) -> Table | Skip:
    """Table 2: treatment length, cycles, concomitant drugs (adverse events and stop
    reasons are tabulated in the safety chapter and summarised here)."""

    a = ctx.analysed
    n = ctx.n
    body = []
    tv = treatment_values(ctx)
    rec.prose("treat_text", treatment_sentence(ctx, tv))
    if n == 0:
        return Skip("", quiet=True)
    for key, label in (
        ("length_months", "Treatment length (months)"),
        ("cycles", "IVIG cycles (round 1)"),
    ):
        s = tv[key]
        rec.value(f"treat_{key}_mean", s.mean(), 1)
        rec.value(f"treat_{key}_sd", s.std(ddof=1), 1)
        rec.value(f"treat_{key}_min", s.min(), kind="int")
        rec.value(f"treat_{key}_max", s.max(), kind="int")
        rec.value(f"treat_{key}_median", s.median(), 1)
        body.append(
            {
                "group": "",
                "Variable": f"{label}, mean (SD)",
                f"N={n}": cell_mean_sd(s.mean(), s.std(ddof=1)),
            }
        )
        body.append(
            {
                "group": "",
                "Variable": f"{label}, median [range]",
                f"N={n}": f"{s.median():g} [{s.min():g}\u2013{s.max():g}]",
            }
        )
    cyc = ctx.cycles[
        ctx.cycles["in_round1"].astype(bool) & isin(ctx.cycles["patient_id"], a["USUBJID"])
    ]
    rec.value("method_dose_g_per_kg_month", cyc["dose_g_per_kg"].median(), 1)
    rec.value("method_cycle_days_min", cyc["days"].min(), kind="int")
    rec.value("method_cycle_days_max", cyc["days"].max(), kind="int")
    none = []
    for drug in DRUG:
        col = f"concomitant_{drug}"
        k = int(a[col].fillna(False).astype(bool).sum()) if col in a else 0
        if k:
            rec.value(f"treat_concomitant_{drug}_n", k, kind="int")
            rec.value(f"treat_concomitant_{drug}_pct", 100.0 * k / n, 1)
            body.append(
                {
                    "group": "Concomitant medications",
                    "Variable": LABELS.get(drug, drug),
                    f"N={n}": cell_n_pct(k, n),
                }
            )
        else:
            rec.value(f"treat_concomitant_{drug}_n", 0, kind="int")
            none.append(LABELS.get(drug, drug))
    for cls, drugs in DRUG_CLASSES.items():
        cols = [f"concomitant_{d}" for d in drugs if f"concomitant_{d}" in a]
        k = int(a[cols].fillna(False).astype(bool).any(axis=1).sum()) if cols else 0
        rec.value(f"treat_concomitant_{cls}_n", k, kind="int")
        rec.value(f"treat_concomitant_{cls}_pct", 100.0 * k / n if n else np.nan, 1)
        if k:
            body.append(
                {
                    "group": "Concomitant drug classes",
                    "Variable": cls.replace("_", " ").capitalize(),
                    f"N={n}": cell_n_pct(k, n),
                }
            )
    if ctx.cohort.has("adverse_events"):
        ae = safety.ae_by_term(_analysis_set_safety(ctx))
        for r in ae.itertuples():
            body.append(
                {
                    "group": "Side effects (patients)",
                    "Variable": r.label,
                    f"N={n}": cell_n_pct(r.n, n),
                }
            )
    for r in safety.stop_reasons(_analysis_set_safety(ctx)).itertuples():
        body.append(
            {"group": "Reason IVIG stopped", "Variable": r.label, f"N={n}": cell_n_pct(r.n, n)}
        )
    notes = [f"{outcomes.population_phrase(ctx)}."]
    if none and ctx.cohort.has("medications"):
        notes.append("No patient was on concomitant " + ", ".join(none) + ".")
    if not ctx.cohort.has("medications"):
        notes.append("No medication table was provided, so medications are not reported.")
    notes.append(
        "Concomitant = a course overlapping the period from the first to the last "
        "IVIG cycle of round 1; treatment length = months from the first to the last "
        "cycle of round 1, inclusive."
    )
    return Table(
        pd.DataFrame(body),
        caption="Table 2. Treatment details",
        table_id="table2",
        notes=notes,
        group_col="group",
        synthetic=ctx.synthetic,
    )


def centres(ctx: Context, rec) -> Table | Skip:
    """Per-centre breakdown (patients, indications, follow-up data); None for one centre."""
    a = ctx.analysed
    centre = a["center"].fillna("Not recorded").astype(str)
    rec.value("cohort_centers_n", int(centre.nunique()), kind="int")
    if centre.nunique() < 2:
        rec.prose(
            "cohort_centers_text",
            "All analysed patients come from one centre, so there is no per-centre breakdown."
            if len(a)
            else "",
        )
        return Skip("", quiet=True)  # the prose says why
    followup = ctx.bds[(ctx.bds["ANL01FL"] == "Y") & (ctx.bds["AVISITN"] != 0)]["USUBJID"].unique()
    df = pd.DataFrame({"centre": centre, "fu": isin(a["USUBJID"], followup)})
    for i in INDICATION:
        df[i] = a[f"indication_{i}"].fillna(False).astype(bool).to_numpy()
    g = df.groupby("centre", sort=True)
    rows = []
    for name, grp in g:
        row = {"Centre": name, "Patients": str(len(grp))}
        for i in INDICATION:
            row[f"Indication: {LABELS[i].lower()}"] = str(int(grp[i].sum()))
        row["With follow-up data"] = cell_n_pct(int(grp["fu"].sum()), len(grp))
        rows.append(row)
    sizes = centre.value_counts()
    rec.value("cohort_center_size_min", int(sizes.min()), kind="int")
    rec.value("cohort_center_size_max", int(sizes.max()), kind="int")
    each = (
        f"{count(int(sizes.min()), 'patient')} each"
        if sizes.min() == sizes.max()
        else f"{int(sizes.min())} to {int(sizes.max())} patients each"
    )
    rec.prose(
        "cohort_centers_text",
        f"The {len(a)} analysed patients come from {centre.nunique()} centres ({each}).",
    )
    return Table(
        pd.DataFrame(rows),
        caption="Patients by centre",
        table_id="centres",
        synthetic=ctx.synthetic,
        notes=["Centre names are shown as recorded in the package."],
    )


def swimmer_data(ctx: Context) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Cycles (SUBJSEQ, offset, round) and stop labels (SUBJSEQ, stop_label) of the analysis set."""

    seq = ctx.analysed.set_index("USUBJID")["SUBJSEQ"]
    c = ctx.cycles[isin(ctx.cycles["patient_id"], pd.Series(seq.index))]
    cycles = pd.DataFrame(
        {
            "SUBJSEQ": per_patient(c["patient_id"], seq).to_numpy(dtype=np.int64),
            "offset": c["offset"].astype(int).to_numpy(),
            "round": c["round"].astype(int).to_numpy(),
        }
    )
    stops = stop_label_per_patient(_analysis_set_safety(ctx))
    return cycles, stops
