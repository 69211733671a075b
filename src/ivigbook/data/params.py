"""Analysis rules (DESIGN §4) as one parameter object with the paper's defaults.

Every field is also a papermill parameter of the notebooks and can be set with
``ivigbook run ... --set name=value``. One function converts and checks every value,
whether it comes as text (``--set``, ``make run SET=...``) or typed (papermill's
``params_json``, a dict in code): :func:`parse_overrides`; :meth:`AnalysisParams.from_mapping`
and the dataclass itself go through the same per-value check.
"""

from __future__ import annotations

import math
import numbers
import re
from collections.abc import Iterable
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

from ivigbook.data.schema import MEASURES
from ivigbook.errors import UsageError

ANCHORS = ("ivig_start", "last_cycle")
INCLUSION_RULES = ("active_diffuse_skin", "all_treated")
SAFETY_POPULATIONS = ("treated", "analysis")
#: the measure codes of the contract, or "" for no baseline requirement
BASELINE_MEASURES = ("", *MEASURES)
_TRUE, _FALSE = ("true", "yes", "1", "on"), ("false", "no", "0", "off")


@dataclass(frozen=True)
class AnalysisParams:
    """The analysis rules; defaults reproduce Poelman et al. 2015."""

    round_gap_months: int = 3
    min_cycles_6m: int = 3
    baseline_lookback_months: int = 3
    followup_months: tuple[int, ...] = (6, 12, 18, 24)
    window_halfwidth_months: int = 2
    followup_anchor: str = "ivig_start"
    responder_mcid: float = 5.0
    inclusion: str = "active_diffuse_skin"
    baseline_measure: str = "MRSS"  # inclusion needs a baseline of this measure ("" = none)
    #: analyse each organ outcome in the patients treated for that indication (skin: mRSS,
    #: myositis: MRC and CK, gi: UCLA GIT) instead of in the whole analysis set
    population_by_indication: bool = False
    #: the safety chapter's patients: every patient with an IVIG cycle, or the analysis set
    safety_population: str = "treated"
    #: minimum numbers for inference (below them a number is not computed, and the page
    #: says which rule suppressed it)
    min_pairs: int = 3
    min_events_per_variable: float = 10.0
    min_mixed_model_patients: int = 10
    maic_min_ess: float = 5.0
    maic_max_failed_share: float = 0.10

    def __post_init__(self):
        problems = []
        for f in fields(self):
            try:
                object.__setattr__(self, f.name, convert(f.name, getattr(self, f.name)))
            except ValueError as exc:
                problems.append(str(exc))
        if problems:
            raise ValueError("; ".join(problems))

    def to_dict(self) -> dict:
        d = asdict(self)
        d["followup_months"] = list(self.followup_months)
        return d

    @classmethod
    def from_mapping(cls, values: dict) -> AnalysisParams:
        """The defaults with ``values`` (text or typed) applied, checked by
        :func:`parse_overrides`; ``None`` values keep the default. Raises
        :class:`UsageError` naming every unknown name and bad value."""
        return replace(cls(), **parse_overrides(values))


@dataclass(frozen=True)
class Bounds:
    """The allowed range of a number (of each month of a list): ``minimum``/``maximum``
    included, ``above`` a strict lower bound."""

    minimum: float | None = None
    maximum: float | None = None
    above: float | None = None

    def holds(self, x: float) -> bool:
        return not (
            (self.minimum is not None and x < self.minimum)
            or (self.maximum is not None and x > self.maximum)
            or (self.above is not None and x <= self.above)
        )

    def text(self) -> str:
        """``>= 0``, ``from 0 to 1``, ``> 0 and <= 51``."""
        if self.minimum is not None and self.maximum is not None:
            return f"from {self.minimum:g} to {self.maximum:g}"
        parts = [
            f"{sign} {x:g}"
            for sign, x in ((">=", self.minimum), (">", self.above), ("<=", self.maximum))
            if x is not None
        ]
        return " and ".join(parts)


#: the ranges of the numeric rules (for followup_months: of each month)
BOUNDS: dict[str, Bounds] = {
    "round_gap_months": Bounds(0),
    "min_cycles_6m": Bounds(0),
    "baseline_lookback_months": Bounds(0),
    "followup_months": Bounds(1),
    "window_halfwidth_months": Bounds(0),
    "responder_mcid": Bounds(above=0, maximum=MEASURES["MRSS"].hi),  # a fall of mRSS points
    "min_pairs": Bounds(2),  # a paired test needs two pairs at least
    "min_events_per_variable": Bounds(0),
    "min_mixed_model_patients": Bounds(0),
    "maic_min_ess": Bounds(0),
    "maic_max_failed_share": Bounds(0, 1),
}
#: the closed lists of the text rules
CHOICES: dict[str, tuple[str, ...]] = {
    "followup_anchor": ANCHORS,
    "inclusion": INCLUSION_RULES,
    "baseline_measure": BASELINE_MEASURES,
    "safety_population": SAFETY_POPULATIONS,
}
_DEFAULTS: dict[str, Any] = {f.name: f.default for f in fields(AnalysisParams)}


def describe(default: Any, bounds: Bounds | None = None, choices: tuple | None = None) -> str:
    """The allowed values in words, for the documentation and for error messages."""
    if choices:
        shown = ", ".join('"" (none)' if c == "" else str(c) for c in choices)
        return "one of " + shown
    if isinstance(default, bool):
        return "yes or no (or true/false, 1/0, on/off)"
    within = f" {bounds.text()}" if bounds else ""
    if isinstance(default, tuple):
        return (
            f"one or more distinct whole months{within}, in increasing order, "
            "comma-separated (e.g. 6,12)"
        )
    kind = "an integer" if isinstance(default, int) else "a number"
    return kind + within


def allowed(name: str) -> str:
    """The allowed values of the rule ``name`` in words."""
    return describe(_DEFAULTS[name], BOUNDS.get(name), CHOICES.get(name))


_NUMBER = re.compile(r"[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?")


def _number(value: Any, whole: bool, bounds: Bounds | None) -> float | int:
    """A finite number (a whole one when ``whole``) within ``bounds``; ValueError otherwise."""
    if isinstance(value, str):
        if not _NUMBER.fullmatch(value.strip()):
            raise ValueError
        value = float(value)
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError
    x = float(value)
    if not math.isfinite(x) or (whole and x != round(x)):
        raise ValueError
    if bounds is not None and not bounds.holds(x):
        raise ValueError
    return int(round(x)) if whole else x


def _months(value: Any, bounds: Bounds | None) -> tuple[int, ...]:
    if isinstance(value, str):
        value = [v for v in value.strip().strip("[]()").replace(";", ",").split(",") if v.strip()]
    elif not isinstance(value, (list, tuple)):
        value = [value]
    months = tuple(_number(v, True, bounds) for v in value)
    if not months or list(months) != sorted(set(months)):
        raise ValueError  # none, repeated or out of order
    return months


def _yes_no(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = value.strip().lower() if isinstance(value, str) else value
    if text in _TRUE or text == 1:
        return True
    if text in _FALSE or text == 0:
        return False
    raise ValueError


def _choice(value: Any, choices: tuple[str, ...]) -> str:
    if isinstance(value, str):
        text = value.strip().lower()
        for choice in choices:
            if choice.lower() == text:
                return choice
    raise ValueError


def convert(name: str, value: Any) -> Any:
    """The value of rule ``name`` from text or a typed value, checked against its type and
    allowed values (:func:`allowed`); ValueError ``name=value: expected ...`` otherwise."""
    default = _DEFAULTS[name]
    try:
        if name in CHOICES:
            return _choice(value, CHOICES[name])
        if isinstance(default, bool):
            return _yes_no(value)
        if isinstance(default, tuple):
            return _months(value, BOUNDS.get(name))
        if isinstance(default, (int, float)):
            return _number(value, isinstance(default, int), BOUNDS.get(name))
        raise ValueError
    except (ValueError, TypeError, OverflowError):
        shown = (value.strip() or '""') if isinstance(value, str) else repr(value)
        raise ValueError(f"{name}={shown}: expected {allowed(name)}") from None


PAPER = AnalysisParams()
#: The multicentre study: all treated patients, follow-up 3 months after the last cycle.
MULTICENTRE = AnalysisParams(
    followup_anchor="last_cycle",
    followup_months=(3,),
    inclusion="all_treated",
    baseline_measure="",
    min_cycles_6m=1,
    population_by_indication=True,
)


def parse_overrides(items: Iterable[str] | dict | None) -> dict:
    """Analysis-rule overrides -> ``{name: typed value}``, each converted and checked by
    :func:`convert`.

    ``items``: ``["name=value", ...]`` strings (``--set``), or a ``{name: value}`` dict
    (papermill's ``params_json``, code; values typed or text, ``None`` = not set). Lists
    of months come back as tuples. Raises :class:`UsageError` (exit 2) listing every
    malformed item, unknown name and bad value at once.
    """
    if isinstance(items, dict):
        pairs = [(str(k).strip(), v, f"{k}={v}") for k, v in items.items() if v is not None]
    else:
        pairs = [
            (*item.split("=", 1), item) if "=" in item else ("", None, item) for item in items or []
        ]
    out: dict[str, Any] = {}
    problems: list[str] = []
    for name, value, item in pairs:
        name = name.strip()
        if value is None:
            problems.append(f"{item}: expected name=value")
        elif name not in _DEFAULTS:
            problems.append(
                f"{item}: unknown analysis parameter {name!r}; known parameters: "
                + ", ".join(_DEFAULTS)
            )
        else:
            try:
                out[name] = convert(name, value)
            except ValueError as exc:
                problems.append(str(exc))
    if len(problems) == 1:
        raise UsageError(f"bad analysis parameter {problems[0]}")
    if problems:
        lines = "".join(f"\n  {p}" for p in problems)
        raise UsageError(f"{len(problems)} bad analysis parameters:{lines}")
    return out
