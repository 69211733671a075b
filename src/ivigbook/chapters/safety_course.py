"""The safety chapter's population, deaths and rounds of IVIG (notebook 04, with
:mod:`ivigbook.chapters.safety`, which re-exports these functions).

The safety population is chosen by the rule ``safety_population``: every patient with at
least one IVIG cycle (``treated``, the default) or the analysis set (``analysis``, what
Poelman et al. 2015 reported). A death is a recorded death date or death as the reason for
stopping IVIG. Only round 1 of IVIG is analysed in the book; this module counts the later
rounds of the safety population so that the page can say how many there were.
"""

from __future__ import annotations

import pandas as pd

from ivigbook.data.lookup import isin
from ivigbook.derive.calendar import month_index
from ivigbook.derive.context import Context
from ivigbook.results.applicability import Skip, count
from ivigbook.results.formatter import fmt_number
from ivigbook.results.table import Table, cell_n_pct


# ---------------------------------------------------------------- the safety population
def safety_set(ctx: Context) -> pd.DataFrame:
    """ADSL rows of the safety population (rule ``safety_population``): every patient with a
    first IVIG cycle (``treated``) or the analysis set (``analysis``)."""
    if ctx.params.safety_population == "analysis":
        return ctx.analysed
    a = ctx.adsl
    return a[a["first_cycle_date"].notna().to_numpy(dtype=bool)].reset_index(drop=True)


def _treated_n(ctx: Context) -> int:
    return int(ctx.adsl["first_cycle_date"].notna().sum())


def population_label(ctx: Context) -> str:
    """The population as a table column names it: 'Treated (N=45)', 'Analysis set (N=30)'."""
    short = "Analysis set" if ctx.params.safety_population == "analysis" else "Treated"
    return f"{short} (N={len(safety_set(ctx))})"


def figure_title(ctx: Context) -> str:
    """The title of the adverse-event figure, naming the population."""
    return f"Patients with each adverse event; safety population: {population_label(ctx)}"


def population_note(ctx: Context) -> str:
    """The population and its N for a table note (one sentence)."""
    n = len(safety_set(ctx))
    if ctx.params.safety_population == "analysis":
        return f"Safety population: the analysis set ({count(n, 'patient')})."
    return f"Safety population: {all_of(n)} with at least one IVIG cycle."


def among(n: int) -> str:
    """'among the 45 patients', 'for the one patient'."""
    return "for the patient" if n == 1 else f"among the {n} patients"


def population(ctx: Context, rec) -> None:
    """Record safety_population_n and the sentence naming the population
    (``safety_population_text``)."""
    s = safety_set(ctx)
    n, treated = len(s), _treated_n(ctx)
    rec.value("safety_population_n", n, kind="int")
    rule = f"rule safety_population={ctx.params.safety_population}"
    if ctx.params.safety_population == "analysis":
        if n == 0:
            text = (
                f"Safety population: the analysis set ({rule}), which has no patient, so this "
                "chapter has no results."
            )
        else:
            text = f"Safety population: the analysis set ({count(n, 'patient')}; {rule})."
        if treated != n:
            text += (
                f" With safety_population=treated it would be the {count(treated, 'patient')} "
                "with at least one IVIG cycle."
            )
    elif n == 0:
        text = (
            "No patient of this cohort has an IVIG cycle, so the safety population is empty "
            "and this chapter has no results."
        )
    else:
        text = f"Safety population: {all_of(n)} with at least one IVIG cycle ({rule})."
        k = int(s["included"].astype(bool).sum())
        if k == n:
            same = "this patient" if n == 1 else "the same patients"
            text += f" The analysis set of the efficacy chapters is {same}."
        elif k == 0:
            text += " The analysis set of the efficacy chapters has no patient."
        else:
            text += (
                f" {k} of them {'is' if k == 1 else 'are'} in the analysis set of the efficacy "
                "chapters."
            )
    rec.prose("safety_population_text", text)


def share(k: int, n: int) -> str:
    """'3 of the 30 patients (10.0%)', 'All 30 patients', 'Both patients', 'No patient of
    the 30', 'The patient' (``n`` > 0), to start a sentence."""
    if n == 1:
        return "The patient"
    if k == n:
        return "Both patients" if n == 2 else f"All {n} patients"
    if k == 0:
        return f"No patient of the {n}"
    return f"{k} of the {n} patients ({fmt_number(100.0 * k / n)}%)"


def all_of(n: int) -> str:
    """'all 30 patients', 'both patients', 'the one patient' (``n`` > 0)."""
    return "the one patient" if n == 1 else ("both patients" if n == 2 else f"all {n} patients")


def _months(x: float) -> str:
    """Months for prose: '16', '24.5'."""
    return fmt_number(x, 0 if float(x).is_integer() else 1)


# ---------------------------------------------------------------- deaths
def deaths(ctx: Context, rec) -> None:
    """Deaths in the safety population (a death date, or death as the reason for stopping)
    and the calendar months from the first cycle to death; the sentence
    ``safety_deaths_text``."""
    s = safety_set(ctx)
    n = len(s)
    dead = s[(s["death_date"].notna() | (s["stop_reason"] == "death").fillna(False)).to_numpy()]
    d = len(dead)
    stopped_by_death = bool((dead["stop_reason"] == "death").fillna(False).any())
    rec.value("safety_deaths_n", d, kind="int")
    rec.value("safety_deaths_pct", 100.0 * d / n if n else float("nan"), 1)
    dated = dead[dead["death_date"].notna().to_numpy()]
    rec.value("safety_deaths_dated_n", len(dated), kind="int")
    months = (month_index(dated["death_date"]) - month_index(dated["first_cycle_date"])).dropna()
    months = months.astype(float)
    if len(months):
        rec.value("safety_death_months_from_start", float(months.median()), 1)
        rec.value("safety_death_months_from_start_min", float(months.min()), 0)
        rec.value("safety_death_months_from_start_max", float(months.max()), 0)
    if n == 0:
        text = "No patient is in the safety population, so no death is reported."
    elif d == 0:
        text = f"No death was recorded {among(n)}."
    else:
        text = f"{share(d, n)} died"
        m = len(months)
        if m == 1:
            text += f", {count(int(months.iloc[0]), 'month')} after the first IVIG cycle"
            if d > 1:
                text += " (the one death with a date)"
        elif m > 1:
            text += (
                f", a median of {_months(months.median())} "
                f"month{'' if months.median() == 1 else 's'} after the first IVIG cycle "
                f"(range {_months(months.min())} to {_months(months.max())}; "
                f"{m} deaths with a date)"
            )
        text += "."
        undated = d - m
        if undated == d:
            what = "The date of death is not" if d == 1 else "No date of death is"
            text += f" {what} recorded; death is the recorded reason for stopping IVIG."
        elif undated:
            text += (
                f" {count(undated, 'death')} {'has' if undated == 1 else 'have'} no date "
                "(recorded only as the reason for stopping IVIG)."
            )
        if stopped_by_death:
            text += " Death as the reason for stopping is also listed among the reasons below."
    rec.prose("safety_deaths_text", text)


# ---------------------------------------------------------------- later rounds
def later_rounds(ctx: Context, rec) -> Table | Skip:
    """Rounds of IVIG in the safety population: how many patients had a second or later
    round and the cycles of each round (only round 1 is analysed); the sentence
    ``treat_rounds_text``. A table when some patient had a later round, else a quiet
    :class:`Skip`."""
    s = safety_set(ctx)
    n = len(s)
    cyc = ctx.cycles[isin(ctx.cycles["patient_id"], s["USUBJID"])]
    later = int((s["n_rounds"].fillna(1) >= 2).sum()) if n else 0
    rec.value("treat_rounds_2plus_n", later, kind="int")
    rec.value("treat_rounds_2plus_pct", 100.0 * later / n if n else float("nan"), 1)
    rec.value("treat_rounds_max", int(cyc["round"].max()) if len(cyc) else None, kind="int")
    r1 = int((cyc["round"] == 1).sum())
    rec.value("treat_round1_cycles_n", r1, kind="int")
    rec.value("treat_later_rounds_cycles_n", len(cyc) - r1, kind="int")
    gap = ctx.params.round_gap_months
    rule = (
        f"a new round starts after a gap of {count(gap, 'month')} or more between cycles, "
        "rule round_gap_months"
    )
    if n == 0:
        text = "No patient is in the safety population, so no round of IVIG is reported."
        rec.prose("treat_rounds_text", text)
        return Skip(text, quiet=True)
    only = (
        " Only round 1 is analysed in this book: the treatment length and cycle counts of the "
        "other chapters are those of round 1; the adverse-event counts above include events "
        "of every round."
    )
    if later == 0:
        text = f"{share(n, n)} had one round of IVIG ({rule}).{only}"
        rec.prose("treat_rounds_text", text)
        return Skip(text, quiet=True)
    if n == 1:
        text = f"The patient had {count(int(s['n_rounds'].iloc[0]), 'round')} of IVIG ({rule})."
    else:
        text = (
            f"{share(later, n)} had a second or "
            f"later round of IVIG ({rule}), with {count(len(cyc) - r1, 'cycle')} after round 1."
        )
    rec.prose("treat_rounds_text", text + only)
    col = population_label(ctx)
    rows = []
    for rnd, g in cyc.groupby("round", sort=True):
        per = g.groupby("patient_id").size()
        rec.value(f"treat_round{int(rnd)}_patients_n", len(per), kind="int")
        if rnd != 1:  # round 1 recorded above
            rec.value(f"treat_round{int(rnd)}_cycles_n", len(g), kind="int")
        spread = fmt_number(float(per.median()), 1 if per.median() % 1 else 0) + (
            f" ({per.min()} to {per.max()})" if len(per) > 1 else ""
        )
        rows.append(
            {
                "Round": f"Round {int(rnd)}" + (" (analysed)" if rnd == 1 else ""),
                f"Patients, {col}": cell_n_pct(len(per), n),
                "Cycles": str(len(g)),
                "Cycles per patient, median (range)": spread,
            }
        )
    return Table(
        pd.DataFrame(rows),
        caption="Rounds of IVIG",
        table_id="ivig-rounds",
        synthetic=ctx.synthetic,
        notes=[
            f"{population_note(ctx)} A new round starts after a gap of "
            f"{count(gap, 'month')} or more between cycles (rule round_gap_months). Only "
            "round 1 is analysed."
        ],
    )
