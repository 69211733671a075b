"""Safety (notebook 04): adverse events in the AET02 shape and reasons for stopping.

Denominators are patients of the analysis set. Terms outside the known list
(``schema.AE_TERMS``) are free text: they are counted under "Other (free text)"
and never echoed.
"""

from __future__ import annotations

import pandas as pd

from ivigbook.data.lookup import isin
from ivigbook.data.schema import AE_TERMS, LABELS, STOP_REASON
from ivigbook.derive.calendar import month_index
from ivigbook.derive.context import Context
from ivigbook.derive.records import per_patient
from ivigbook.results.formatter import fmt_number
from ivigbook.results.table import Table, cell_n_pct

OTHER_TERM = "other_free_text"
OTHER_LABEL = "Other (free text, not shown)"


def events(ctx: Context) -> pd.DataFrame:
    """Adverse events of the analysis set with a safe term code and label."""
    ae = ctx.cohort.adverse_events
    ae = ae[isin(ae["patient_id"], ctx.analysed["USUBJID"])].copy()
    code = ae["term"].str.strip().str.lower()
    known = code.isin(list(AE_TERMS))
    ae["term_code"] = code.where(known, OTHER_TERM)
    ae["term_label"] = ae["term_code"].map(AE_TERMS).fillna(OTHER_LABEL)
    return ae


def ae_by_term(ctx: Context) -> pd.DataFrame:
    """Patients (and events) per term, by descending patient count then label."""
    ae = events(ctx)
    g = ae.groupby(["term_code", "term_label"], observed=True)
    out = pd.DataFrame({"n": g["patient_id"].nunique(), "events": g.size()}).reset_index()
    out = out.rename(columns={"term_code": "code", "term_label": "label"})
    out["pct"] = 100.0 * out["n"] / max(ctx.n, 1)
    out["_other"] = out["code"] == OTHER_TERM
    return (
        out.sort_values(["_other", "n", "label"], ascending=[True, False, True])
        .drop(columns="_other")
        .reset_index(drop=True)
    )


def record_safety(ctx: Context, rec) -> dict:
    """Record safety_* keys; return the overall counts."""
    ae = events(ctx)
    n = ctx.n
    overall = {
        "patients_any": ae["patient_id"].nunique(),
        "events": len(ae),
        "patients_serious": ae.loc[ae["serious"] == "yes", "patient_id"].nunique(),
        "events_serious": int((ae["serious"] == "yes").sum()),
        "patients_discontinued": ae.loc[
            ae["led_to_discontinuation"] == "yes", "patient_id"
        ].nunique(),
        "patients_serious_discontinued": ae.loc[
            (ae["led_to_discontinuation"] == "yes") & (ae["serious"] == "yes"), "patient_id"
        ].nunique(),
    }
    for k, v in overall.items():
        rec.value(f"safety_{k}_n", v, kind="int")
        if k.startswith("patients"):
            rec.value(f"safety_{k}_pct", 100.0 * v / n if n else float("nan"), 1)
    timing = event_timing(ctx, ae)
    for r in ae_by_term(ctx).itertuples():
        if r.code in timing.index:
            rec.value(
                f"safety_{r.code}_months_after_stop", timing.loc[r.code, "months_after_stop"], 1
            )
        rec.value(f"safety_{r.code}_n", r.n, kind="int")
        rec.value(f"safety_{r.code}_pct", r.pct, 1)
        rec.value(f"safety_{r.code}_events_n", r.events, kind="int")
    return overall


def event_timing(ctx: Context, ae: pd.DataFrame | None = None) -> pd.DataFrame:
    """Per known term, the median calendar months from the last round-1 cycle to onset
    (negative = during treatment); also records nothing, callers decide."""

    ae = events(ctx) if ae is None else ae
    last = ctx.analysed.set_index("USUBJID")["last_cycle_date"]
    after = month_index(ae["onset_date"]) - month_index(per_patient(ae["patient_id"], last))
    d = pd.DataFrame(
        {"code": ae["term_code"].to_numpy(), "after": after.astype("Float64").to_numpy()}
    )
    d = d[d["code"] != OTHER_TERM].dropna()
    return d.groupby("code")["after"].median().rename("months_after_stop").to_frame()


def record_deaths(ctx: Context, rec) -> None:
    """Deaths and months from the first cycle to death."""

    a = ctx.analysed
    dead = a[a["death_date"].notna()]
    rec.value("safety_deaths_n", len(dead), kind="int")
    if len(dead):
        months = month_index(dead["death_date"]) - month_index(dead["first_cycle_date"])
        rec.value("safety_death_months_from_start", float(months.astype(float).median()), 1)


def aet02(ctx: Context, rec) -> Table | None:
    """Adverse events table in the AET02 shape (None when the package has no AE table)."""
    if not ctx.cohort.has("adverse_events"):
        rec.prose(
            "safety_text",
            "This cohort package has no adverse-event table, so adverse events are not summarised.",
        )
        return None
    overall = record_safety(ctx, rec)

    n_ = ctx.n
    any_pct = fmt_number(100.0 * overall["patients_any"] / n_ if n_ else float("nan"))
    rec.prose(
        "safety_text",
        (
            f"{overall['patients_any']} of {n_} patients ({any_pct}%) "
            f"had at least one adverse event, with {overall['events']} events in total; "
            f"{overall['patients_serious']} had a serious event and "
            f"{overall['patients_discontinued']} "
            "stopped IVIG because of an adverse event."
        ),
    )
    record_deaths(ctx, rec)
    n = ctx.n
    col = f"IVIG (N={n})"
    rows = [
        {
            "group": "",
            "Adverse events": "Patients with at least one adverse event",
            col: cell_n_pct(overall["patients_any"], n),
            "Events": "",
        },
        {
            "group": "",
            "Adverse events": "Total number of events",
            col: "",
            "Events": str(overall["events"]),
        },
        {
            "group": "",
            "Adverse events": "Patients with a serious adverse event",
            col: cell_n_pct(overall["patients_serious"], n),
            "Events": str(overall["events_serious"]),
        },
        {
            "group": "",
            "Adverse events": "Patients who stopped IVIG because of an adverse event",
            col: cell_n_pct(overall["patients_discontinued"], n),
            "Events": "",
        },
    ]
    for r in ae_by_term(ctx).itertuples():
        rows.append(
            {
                "group": "Patients with the event (descending frequency)",
                "Adverse events": r.label,
                col: cell_n_pct(r.n, n),
                "Events": str(r.events),
            }
        )
    return Table(
        pd.DataFrame(rows),
        caption="Adverse events (AET02 layout)",
        table_id="aet02",
        group_col="group",
        synthetic=ctx.synthetic,
        notes=[
            "Percentages use all patients of the analysis set as the denominator. "
            "A patient with several events of one term is counted once for that term."
        ],
    )


def serious_events(ctx: Context) -> pd.DataFrame:
    """Serious events and events that led to stopping, by term."""
    ae = events(ctx)
    ae = ae[(ae["serious"] == "yes") | (ae["led_to_discontinuation"] == "yes")]
    g = ae.groupby("term_label", observed=True)
    return (
        pd.DataFrame(
            {
                "serious": g["serious"].apply(lambda s: int((s == "yes").sum())),
                "led to stopping": g["led_to_discontinuation"].apply(
                    lambda s: int((s == "yes").sum())
                ),
            }
        )
        .reset_index()
        .rename(columns={"term_label": "Event"})
    )


def stop_label_per_patient(ctx: Context) -> pd.DataFrame:
    """SUBJSEQ and a display label of why IVIG stopped (adverse events named by their term)."""
    a = ctx.analysed[["USUBJID", "SUBJSEQ", "stop_reason"]].copy()
    ae = events(ctx)
    disc = (
        ae[ae["led_to_discontinuation"] == "yes"]
        .sort_values(["patient_id", "onset_date"])
        .drop_duplicates("patient_id")
        .set_index("patient_id")["term_label"]
    )
    reason = a["stop_reason"].astype(object)
    label = reason.map(
        lambda r: LABELS.get(r, str(r).capitalize()) if isinstance(r, str) else "Not recorded"
    )
    named = a["USUBJID"].astype(object).map(disc.astype(object).to_dict())
    use = (reason == "adverse_event").to_numpy() & named.notna().to_numpy()
    label = label.astype(object)
    label[use] = "Adverse event: " + named[use].astype(str)
    return pd.DataFrame(
        {
            "SUBJSEQ": a["SUBJSEQ"].astype(int),
            "stop_label": label.astype(str),
            "stop_reason": a["stop_reason"].fillna("not_recorded").astype(str),
        }
    )


def stop_reasons(ctx: Context) -> pd.DataFrame:
    """Reasons for stopping, by descending frequency (ongoing last)."""
    s = stop_label_per_patient(ctx)
    g = s.groupby(["stop_label", "stop_reason"]).size().rename("n").reset_index()
    order = {r: i for i, r in enumerate(STOP_REASON)}
    g["_ongoing"] = g["stop_reason"].isin(["ongoing", "not_recorded"])
    g["_order"] = g["stop_reason"].map(order).fillna(len(order))
    g = g.sort_values(
        ["_ongoing", "n", "_order", "stop_label"], ascending=[True, False, True, True]
    )
    g["pct"] = 100.0 * g["n"] / max(ctx.n, 1)
    return g.rename(columns={"stop_label": "label"})[
        ["label", "stop_reason", "n", "pct"]
    ].reset_index(drop=True)


def record_stop_reasons(ctx: Context, rec) -> Table:
    """Record stop_* keys and return the stop-reason table."""
    s = stop_label_per_patient(ctx)
    n = ctx.n
    by_reason = s.groupby("stop_reason").size()
    for reason in STOP_REASON:
        k = int(by_reason.get(reason, 0))
        rec.value(f"stop_{reason}_n", k, kind="int")
        rec.value(f"stop_{reason}_pct", 100.0 * k / n if n else float("nan"), 1)
    good = int(by_reason.get("improvement", 0) + by_reason.get("stable", 0))
    rec.value("stop_improvement_or_stable_n", good, kind="int")
    rec.value("stop_improvement_or_stable_pct", 100.0 * good / n if n else float("nan"), 1)
    ae = events(ctx)
    disc = ae[ae["led_to_discontinuation"] == "yes"].drop_duplicates(["patient_id", "term_code"])
    for code, k in disc.groupby("term_code").size().items():
        rec.value(f"stop_adverse_event_{code}_n", int(k), kind="int")
        rec.value(f"stop_adverse_event_{code}_pct", 100.0 * k / n if n else float("nan"), 1)
    table = stop_reasons(ctx)
    rows = [
        {"Reason IVIG was stopped": r.label, f"N={n}": cell_n_pct(r.n, n)}
        for r in table.itertuples()
    ]
    return Table(
        pd.DataFrame(rows),
        caption="Reasons for stopping IVIG",
        table_id="stop-reasons",
        synthetic=ctx.synthetic,
        notes=[
            "Improvement, stability and progression are the treating physician's judgement. "
            "Adverse events are named by the event recorded as leading to discontinuation."
        ],
    )
