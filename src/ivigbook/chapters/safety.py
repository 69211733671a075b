"""Safety (notebook 04): the safety population, adverse events in the AET02 shape, deaths,
later rounds of IVIG and reasons for stopping.

The safety population is chosen by the rule ``safety_population``: every patient with at
least one IVIG cycle (``treated``, the default) or the analysis set (``analysis``, what
Poelman et al. 2015 reported). Every count and denominator of the chapter is over it.
Terms outside the known list (``schema.AE_TERMS``) are free text: they are counted under
"Other (free text)" and never echoed (the page gives their number only). The population,
deaths and later rounds live in :mod:`ivigbook.chapters.safety_course` and are re-exported
here, so the notebook and the chapter list call them as ``safety.<name>``.
"""

from __future__ import annotations

import pandas as pd

from ivigbook.chapters.safety_course import (
    all_of,
    among,
    population_label,
    population_note,
    safety_set,
    share,
)
from ivigbook.chapters.safety_course import deaths as deaths
from ivigbook.chapters.safety_course import figure_title as figure_title
from ivigbook.chapters.safety_course import later_rounds as later_rounds
from ivigbook.chapters.safety_course import population as population
from ivigbook.data.lookup import isin
from ivigbook.data.schema import AE_TERMS, LABELS, STOP_REASON
from ivigbook.data.terms import unknown_terms
from ivigbook.derive.calendar import month_index
from ivigbook.derive.context import Context
from ivigbook.derive.records import per_patient
from ivigbook.results.applicability import Skip, count
from ivigbook.results.table import Table, cell_n_pct

OTHER_TERM = "other_free_text"
OTHER_LABEL = "Other (free text, not shown)"
NO_AE_TABLE = "No adverse-event table was provided, so adverse events are not reported."


# ---------------------------------------------------------------- adverse events
def events(ctx: Context) -> pd.DataFrame:
    """Adverse events of the safety population with a safe term code and label."""
    ae = ctx.cohort.adverse_events
    ae = ae[isin(ae["patient_id"], safety_set(ctx)["USUBJID"])].copy()
    code = ae["term"].str.strip().str.lower()
    known = code.isin(list(AE_TERMS))
    ae["term_code"] = code.where(known, OTHER_TERM)
    ae["term_label"] = ae["term_code"].map(AE_TERMS).fillna(OTHER_LABEL)
    return ae


def ae_by_term(ctx: Context) -> pd.DataFrame:
    """Patients (and events) per term, by descending patient count then label."""
    ae = events(ctx)
    n = len(safety_set(ctx))
    g = ae.groupby(["term_code", "term_label"], observed=True)
    out = pd.DataFrame({"n": g["patient_id"].nunique(), "events": g.size()}).reset_index()
    out = out.rename(columns={"term_code": "code", "term_label": "label"})
    out["pct"] = 100.0 * out["n"] / max(n, 1)
    out["_other"] = out["code"] == OTHER_TERM
    return (
        out.sort_values(["_other", "n", "label"], ascending=[True, False, True])
        .drop(columns="_other")
        .reset_index(drop=True)
    )


def term_counts(ctx: Context) -> pd.DataFrame | Skip:
    """:func:`ae_by_term` for the figure; a quiet :class:`Skip` (the prose says why) when
    there is no adverse-event table, no patient or no event."""
    if not ctx.cohort.has("adverse_events") or safety_set(ctx).empty:
        return Skip("no adverse events", quiet=True)
    table = ae_by_term(ctx)
    return Skip("no adverse events", quiet=True) if table.empty else table


def record_safety(ctx: Context, rec) -> dict:
    """Record safety_* keys; return the overall counts."""
    ae = events(ctx)
    n = len(safety_set(ctx))
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
    unknown = unknown_terms(ae)
    overall["unknown_terms"] = len(unknown)
    overall["unknown_events"] = int(unknown["events"].sum())
    overall["serious_blank"] = int(ae["serious"].isna().sum())
    rec.value("safety_unknown_terms_n", overall["unknown_terms"], kind="int")
    rec.value("safety_unknown_terms_events_n", overall["unknown_events"], kind="int")
    return overall


def event_timing(ctx: Context, ae: pd.DataFrame | None = None) -> pd.DataFrame:
    """Per known term, the median calendar months from the last round-1 cycle to onset
    (negative = during treatment); also records nothing, callers decide."""

    ae = events(ctx) if ae is None else ae
    last = safety_set(ctx).set_index("USUBJID")["last_cycle_date"]
    after = month_index(ae["onset_date"]) - month_index(per_patient(ae["patient_id"], last))
    d = pd.DataFrame(
        {"code": ae["term_code"].to_numpy(), "after": after.astype("Float64").to_numpy()}
    )
    d = d[d["code"] != OTHER_TERM].dropna()
    return d.groupby("code")["after"].median().rename("months_after_stop").to_frame()


def _none_or(k: int) -> str:
    return "none" if k == 0 else str(k)


def _ae_sentence(n: int, o: dict) -> str:
    """The summary sentence of the adverse events of ``n`` patients (``o``: record_safety)."""
    k, e = o["patients_any"], o["events"]
    if e == 0:
        return f"No adverse event was recorded {among(n)}."
    if n == 1:
        s = o["events_serious"]
        if e == 1:
            text = "The patient had 1 adverse event, " + ("a serious one" if s else "not serious")
        else:
            text = f"The patient had {e} adverse events, {_none_or(s)} of them serious"
        text += (
            "; IVIG was "
            + ("" if o["patients_discontinued"] else "not ")
            + "stopped because of an adverse event."
        )
    else:
        text = (
            f"{share(k, n)} had at least one "
            f"adverse event, with {count(e, 'event')} in total; "
            f"{_none_or(o['patients_serious'])} had a serious event and "
            f"{_none_or(o['patients_discontinued'])} stopped IVIG because of an adverse event."
        )
    if o["serious_blank"]:
        b = o["serious_blank"]
        text += f" Whether the event was serious is not recorded for {count(b, 'event')}."
    if o["unknown_events"]:
        u, t = o["unknown_events"], o["unknown_terms"]
        one = u == 1
        text += (
            f" {count(u, 'event')} ({count(t, 'distinct term')}) {'has' if one else 'have'} a "
            f"term outside the adverse-event vocabulary and {'is' if one else 'are'} counted as "
            f'"{OTHER_LABEL}"; a term map (`ivigbook run --terms term_map.csv`) codes such '
            "terms."
        )
    return text


def aet02(ctx: Context, rec) -> Table | Skip:
    """Adverse events table in the AET02 shape, or a quiet :class:`Skip` (the sentence
    ``safety_text`` says why) when the package has no AE table, the population no patient
    or no event."""
    n = len(safety_set(ctx))
    if not ctx.cohort.has("adverse_events"):
        rec.prose("safety_text", NO_AE_TABLE)
        return Skip(NO_AE_TABLE, quiet=True)
    if n == 0:
        text = "No patient is in the safety population, so adverse events are not reported."
        rec.prose("safety_text", text)
        return Skip(text, quiet=True)
    overall = record_safety(ctx, rec)
    text = _ae_sentence(n, overall)
    rec.prose("safety_text", text)
    if overall["events"] == 0:
        return Skip(text, quiet=True)
    col = population_label(ctx)
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
            f"{population_note(ctx)} Percentages use "
            + all_of(n)
            + " as the denominator. A patient with several events of one term is counted once "
            "for that term. Every recorded event of these patients is counted, in any round of "
            "IVIG.",
        ],
    )


def serious_events(ctx: Context) -> Table | Skip:
    """Serious events and events that led to stopping, by term (a quiet :class:`Skip`
    without an AE table or patients, where the sentence above says why)."""
    if not ctx.cohort.has("adverse_events") or safety_set(ctx).empty:
        return Skip("no adverse events", quiet=True)
    ae = events(ctx)
    ae = ae[(ae["serious"] == "yes") | (ae["led_to_discontinuation"] == "yes")]
    if ae.empty:
        return Skip("No event was serious or led to stopping IVIG.")
    g = ae.groupby("term_label", observed=True)
    frame = (
        pd.DataFrame(
            {
                "Serious events": g["serious"].apply(lambda s: str(int((s == "yes").sum()))),
                "Events that led to stopping": g["led_to_discontinuation"].apply(
                    lambda s: str(int((s == "yes").sum()))
                ),
            }
        )
        .reset_index()
        .rename(columns={"term_label": "Event"})
    )
    return Table(
        frame,
        caption="Serious events and events that led to stopping IVIG",
        table_id="serious-events",
        synthetic=ctx.synthetic,
        notes=[f"{population_note(ctx)} Numbers of events, by term."],
    )


# ---------------------------------------------------------------- reasons for stopping
def stop_label_per_patient(ctx: Context) -> pd.DataFrame:
    """SUBJSEQ and a display label of why IVIG stopped (adverse events named by their term)."""
    a = safety_set(ctx)[["USUBJID", "SUBJSEQ", "stop_reason"]].copy()
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
    g["pct"] = 100.0 * g["n"] / max(len(s), 1)
    return g.rename(columns={"stop_label": "label"})[
        ["label", "stop_reason", "n", "pct"]
    ].reset_index(drop=True)


def _stop_sentence(n: int, good: int, blank: int) -> str:
    if n == 0:
        return "No patient is in the safety population, so no reason for stopping is reported."
    if blank == n:
        return "The reason for stopping IVIG is not recorded " + (
            "for the patient." if n == 1 else f"for any of the {n} patients."
        )
    if n == 1:
        text = (
            "The patient stopped because of improvement or stability, as judged by the treating "
            "physician."
            if good
            else "The patient did not stop because of improvement or stability."
        )
    else:
        text = (
            f"{share(good, n)} stopped because of "
            "improvement or stability, as judged by the treating physician."
        )
    if blank:
        text += f" The reason is not recorded for {count(blank, 'patient')}."
    return text


def record_stop_reasons(ctx: Context, rec) -> Table | Skip:
    """Record stop_* keys and return the stop-reason table (a quiet :class:`Skip` when there
    is no patient or no reason recorded: the sentence ``stop_text`` says so)."""
    s = stop_label_per_patient(ctx)
    n = len(s)
    by_reason = s.groupby("stop_reason").size()
    for reason in STOP_REASON:
        k = int(by_reason.get(reason, 0))
        rec.value(f"stop_{reason}_n", k, kind="int")
        rec.value(f"stop_{reason}_pct", 100.0 * k / n if n else float("nan"), 1)
    good = int(by_reason.get("improvement", 0) + by_reason.get("stable", 0))
    rec.value("stop_improvement_or_stable_n", good, kind="int")
    rec.value("stop_improvement_or_stable_pct", 100.0 * good / n if n else float("nan"), 1)
    blank = int(by_reason.get("not_recorded", 0))
    rec.value("stop_not_recorded_n", blank, kind="int")
    ae = events(ctx)
    disc = ae[ae["led_to_discontinuation"] == "yes"].drop_duplicates(["patient_id", "term_code"])
    for code, k in disc.groupby("term_code").size().items():
        rec.value(f"stop_adverse_event_{code}_n", int(k), kind="int")
        rec.value(f"stop_adverse_event_{code}_pct", 100.0 * k / n if n else float("nan"), 1)
    text = _stop_sentence(n, good, blank)
    rec.prose("stop_text", text)
    if n == 0 or blank == n:
        return Skip(text, quiet=True)
    table = stop_reasons(ctx)
    col = population_label(ctx)
    rows = [
        {"Reason IVIG was stopped": r.label, col: cell_n_pct(r.n, n)} for r in table.itertuples()
    ]
    named = (
        "Adverse events are named by the event recorded as leading to discontinuation."
        if ctx.cohort.has("adverse_events")
        else "With no adverse-event table, stops for an adverse event are not named by event."
    )
    return Table(
        pd.DataFrame(rows),
        caption="Reasons for stopping IVIG",
        table_id="stop-reasons",
        synthetic=ctx.synthetic,
        notes=[
            f"{population_note(ctx)} Improvement, stability and progression are the treating "
            f"physician's judgement. {named}"
        ],
    )
