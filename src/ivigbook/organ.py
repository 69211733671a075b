"""Pulmonary and organ outcomes (notebook 03): FVC, DLCO, Medsger scores, CK in myositis."""
from __future__ import annotations

import numpy as np
import pandas as pd

from . import outcomes
from .context import Context
from .schema import MEASURES
from .tables import Table, cell_mean_sd, cell_p

#: Upper limit of normal for creatine kinase used to call a value "normal" (U/L).
CK_ULN = 200.0
MEDSGER = [code for code in MEASURES if code.startswith("MEDSGER_")]


def primary_month(ctx: Context) -> int:
    """The visit the paper analyses for organ outcomes: month 12 if scheduled, else the last."""
    months = ctx.params.followup_months
    return 12 if 12 in months else months[-1]


def paired_table(ctx: Context, rec, measures: dict[str, str], area: str = "organ",
                 caption: str = "Pulmonary function") -> Table | None:
    """Baseline vs primary visit for continuous measures (paired t)."""
    month = primary_month(ctx)
    v = outcomes.visit_key(month)
    rows = []
    for code, name in measures.items():
        if not ctx.measure_present(code):
            continue
        c = outcomes.record_course(ctx, rec, area, code, name)
        r = c[c["avisitn"] == month].iloc[0]
        m = MEASURES[code]
        rows.append({"Measure": f"{m.label} ({m.unit})", "N (pairs)": str(int(r["n"])),
                     "Baseline": cell_mean_sd(r["base_mean"], r["base_sd"]),
                     f"Month {month}": cell_mean_sd(r["aval_mean"], r["aval_sd"]),
                     "Change": cell_mean_sd(r["chg_mean"], r["chg_sd"]), "p": cell_p(r["p"])})
        rec.value(f"{area}_{name}_{v}_pairs_n", int(r["n"]), kind="int")
    if not rows:
        return None
    return Table(pd.DataFrame(rows), caption=caption, table_id=f"paired-{area}", synthetic=ctx.synthetic,
                 notes=["Mean (SD) among patients with both a baseline and a month "
                        f"{month} value; p: paired Student t test."])


def medsger(ctx: Context, rec) -> Table | None:
    """Medsger severity by organ, baseline vs primary visit, Wilcoxon signed-rank (Stata)."""
    from . import stats

    month = primary_month(ctx)
    v = outcomes.visit_key(month)
    rows = []
    for code in MEDSGER:
        p = outcomes.pairs(ctx, code, month)
        if p.empty:
            continue
        organ = code.removeprefix("MEDSGER_").lower()
        r = stats.signrank(p["BASE"], p["AVAL"])
        changed = int((p["CHG"] != 0).sum())
        better = int((p["CHG"] < 0).sum())
        worse = int((p["CHG"] > 0).sum())
        key = f"organ_medsger_{organ}_{v}"
        rec.value(f"{key}_n", len(p), kind="int")
        rec.value(f"{key}_p", r.p, kind="p")
        rec.value(f"{key}_improved_n", better, kind="int")
        rec.value(f"{key}_worse_n", worse, kind="int")
        rec.value(f"{key}_changed_n", changed, kind="int")
        rows.append({"Organ (Medsger)": MEASURES[code].label.removeprefix("Medsger ").capitalize(),
                     "N (pairs)": str(len(p)),
                     "Baseline, median": f"{p['BASE'].median():g}",
                     f"Month {month}, median": f"{p['AVAL'].median():g}",
                     "Improved / unchanged / worse": f"{better} / {len(p) - changed} / {worse}",
                     "p": cell_p(r.p) if changed else "no change"})
    if not rows:
        return None
    return Table(pd.DataFrame(rows), caption=f"Medsger severity scores, baseline vs month {month}",
                 table_id="medsger", synthetic=ctx.synthetic,
                 notes=["Wilcoxon signed-rank test as Stata's signrank: zero differences are kept in "
                        "the ranking and carry no sign (Pratt), ties get average ranks, normal "
                        "approximation without continuity correction."])


def ck_course(ctx: Context, rec) -> pd.DataFrame:
    """CK values over time in patients with overlap myositis (long: SUBJSEQ, month, value)."""
    from .cohort import month_index

    a = ctx.analysed
    myo = a[a["overlap_myositis"].fillna(False).astype(bool)].set_index("USUBJID")
    m = ctx.cohort.measurements
    m = m[(m["measure"] == "CK_UL") & m["patient_id"].isin(myo.index)]
    month = month_index(m["date"]) - month_index(m["patient_id"].map(myo["first_cycle_date"]))
    long = pd.DataFrame({"SUBJSEQ": m["patient_id"].map(myo["SUBJSEQ"]).astype(int).to_numpy(),
                         "month": month.astype(int).to_numpy(), "value": m["value"].to_numpy(),
                         "date": m["date"].to_numpy()}).sort_values(["SUBJSEQ", "date"])
    counts = long.groupby("SUBJSEQ").size()
    serial = counts[counts >= 2].index
    last = long.groupby("SUBJSEQ")["value"].last()
    normalised = int((last.loc[serial] < CK_ULN).sum()) if len(serial) else 0
    rec.value("organ_ck_myositis_n", len(myo), kind="int")
    rec.value("organ_ck_serial_n", len(serial), kind="int")
    rec.value("organ_ck_normalised_n", normalised, kind="int")
    return long.drop(columns="date")
