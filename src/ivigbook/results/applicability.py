"""When a section, table or number applies to a cohort, and the sentence that says why not.

A chapter function returns a :class:`Skip` instead of a table or figure when its section
cannot be computed for the cohort (no patients, no values, fewer than the minimum N of a
statistic); the page shows its reason, one plain sentence, instead of an empty table.
The minimum Ns are analysis parameters (``ivigbook rules`` lists them with their sources);
each rule below returns ``None`` when the statistic may be computed, else the reason,
naming the parameter that suppressed it.
"""

from __future__ import annotations

from dataclasses import dataclass

from ivigbook.data.params import AnalysisParams


@dataclass(frozen=True)
class Skip:
    """A section that does not apply to this cohort; ``reason`` is one plain sentence."""

    reason: str
    #: the page's prose already says why: show nothing more
    quiet: bool = False

    @property
    def empty(self) -> bool:  # what page.show asks of tables and frames
        return True


def count(n: int, singular: str, plural: str | None = None) -> str:
    """'1 patient', '2 patients', 'no patient' is left to the caller."""
    n = int(n)
    word = singular if n == 1 else (plural or f"{singular}s")
    return f"{n} {word}"


def has(n: int) -> str:
    """'has' for one, 'have' otherwise."""
    return "has" if int(n) == 1 else "have"


def were(n: int) -> str:
    """'was' for one, 'were' otherwise."""
    return "was" if int(n) == 1 else "were"


def too_few_pairs(n: int, params: AnalysisParams, what: str = "a paired test") -> str | None:
    """None when ``n`` pairs are enough for ``what``, else the reason (rule ``min_pairs``)."""
    if n >= params.min_pairs:
        return None
    return (
        f"not computed: {count(n, 'patient')} with both values; {what} needs at least "
        f"{params.min_pairs} (rule min_pairs)"
    )


def too_few_events(events: int, variables: int, params: AnalysisParams) -> str | None:
    """None when a logistic model with ``variables`` predictors has enough events (the
    smaller outcome class) per variable, else the reason (rule min_events_per_variable)."""
    needed = params.min_events_per_variable * max(1, variables)
    if events >= needed and events > 0:
        return None
    return (
        f"not estimated: the smaller outcome group has {count(events, 'patient')}; a logistic "
        f"regression needs at least {needed:g} per predictor (rule min_events_per_variable)"
    )


def too_few_for_model(n_two_visits: int, params: AnalysisParams) -> str | None:
    """None when enough patients have two or more values for a mixed model, else why
    (rule min_mixed_model_patients)."""
    if n_two_visits >= params.min_mixed_model_patients and n_two_visits > 0:
        return None
    return (
        f"{count(n_two_visits, 'patient')} {has(n_two_visits)} two or more values, and the "
        f"mixed model needs at least {params.min_mixed_model_patients} "
        "(rule min_mixed_model_patients)"
    )


def sentence(text: str) -> str:
    """``text`` with a capital first letter and a final full stop."""
    text = text.strip()
    if not text:
        return text
    text = text[0].upper() + text[1:]
    return text if text.endswith((".", "!", "?")) else text + "."
