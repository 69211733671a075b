"""Analysis rules (DESIGN §4) as one parameter object with the paper's defaults.

Every field is also a papermill parameter of the notebooks and can be set with
``ivigbook run ... --set name=value``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

from ivigbook.errors import UsageError

ANCHORS = ("ivig_start", "last_cycle")
INCLUSION_RULES = ("active_diffuse_skin", "all_treated")
SAFETY_POPULATIONS = ("treated", "analysis")


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
        object.__setattr__(self, "followup_months", tuple(int(m) for m in self.followup_months))
        problems = []
        if self.followup_anchor not in ANCHORS:
            problems.append(
                f"followup_anchor must be one of {ANCHORS}, got {self.followup_anchor!r}"
            )
        if self.inclusion not in INCLUSION_RULES:
            problems.append(f"inclusion must be one of {INCLUSION_RULES}, got {self.inclusion!r}")
        if self.safety_population not in SAFETY_POPULATIONS:
            problems.append(
                f"safety_population must be one of {SAFETY_POPULATIONS}, "
                f"got {self.safety_population!r}"
            )
        for name in (
            "round_gap_months",
            "min_cycles_6m",
            "baseline_lookback_months",
            "window_halfwidth_months",
            "min_mixed_model_patients",
        ):
            if int(getattr(self, name)) < 0:
                problems.append(f"{name} must be >= 0")
        if int(self.min_pairs) < 2:
            problems.append("min_pairs must be >= 2 (a paired test needs two pairs at least)")
        for name in ("min_events_per_variable", "maic_min_ess"):
            if float(getattr(self, name)) < 0:
                problems.append(f"{name} must be >= 0")
        if not 0 <= float(self.maic_max_failed_share) <= 1:
            problems.append("maic_max_failed_share must be between 0 and 1")
        if not self.followup_months:
            problems.append("followup_months must name at least one target month")
        if problems:
            raise ValueError("; ".join(problems))

    def to_dict(self) -> dict:
        d = asdict(self)
        d["followup_months"] = list(self.followup_months)
        return d

    @classmethod
    def from_mapping(cls, values: dict) -> AnalysisParams:
        """Build from typed values (what :func:`parse_overrides` returns); unknown keys are
        ignored."""
        names = {f.name for f in fields(cls)}
        kept = {k: v for k, v in values.items() if k in names and v is not None}
        return replace(cls(), **kept)


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


def _convert(name: str, raw: str, default: Any) -> Any:
    raw = raw.strip()
    try:
        if isinstance(default, bool):
            low = raw.lower()
            if low in ("1", "true", "yes", "on"):
                return True
            if low in ("0", "false", "no", "off"):
                return False
            raise ValueError
        if isinstance(default, int):
            return int(raw)
        if isinstance(default, float):
            return float(raw)
        if isinstance(default, tuple):
            items = raw.strip("[]()").replace(";", ",").split(",")
            return tuple(int(x) for x in items if x.strip())
    except ValueError:
        kind = {
            bool: "yes/no",
            int: "an integer",
            float: "a number",
            tuple: "a comma-separated list of integers",
        }[type(default)]
        raise UsageError(f"--set {name}={raw}: expected {kind}") from None
    return raw


def parse_overrides(items: Iterable[str] | dict | None) -> dict:
    """``--set`` values -> ``{name: typed value}`` checked against :class:`AnalysisParams`.

    ``items``: ``["name=value", ...]`` strings, or a ``{name: value}`` dict (what the CLI's
    ``--set`` action produces; values already typed or strings). Lists of months come
    back as tuples. Raises :class:`UsageError` (exit 2) on unknown names or bad values.
    """
    known = {f.name: f.default for f in fields(AnalysisParams)}
    pairs: list[tuple[str, Any, str]] = []
    if isinstance(items, dict):
        pairs = [(str(k).strip(), v, f"{k}={v}") for k, v in items.items()]
    else:
        for item in items or []:
            if "=" not in item:
                raise UsageError(f"--set expects name=value, got {item!r}")
            name, raw = item.split("=", 1)
            pairs.append((name.strip(), raw, item))
    out: dict[str, Any] = {}
    for name, value, item in pairs:
        if name not in known:
            raise UsageError(
                f"--set {item}: unknown analysis parameter {name!r}; known "
                f"parameters: {', '.join(sorted(known))}"
            )
        if isinstance(value, str):
            value = _convert(name, value, known[name])
        elif isinstance(value, (tuple, list)):
            value = tuple(int(v) for v in value)
        out[name] = value
    try:
        AnalysisParams.from_mapping(out)
    except (TypeError, ValueError) as exc:
        raise UsageError(f"invalid --set value: {exc}") from None
    return out
