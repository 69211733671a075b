"""One analysis context per run: the validated cohort plus its derived tables.

Derivation happens once per run and is cached as parquet, keyed by the data
hash and the analysis parameters, so the six notebooks do not repeat it.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from . import cohort as derive
from . import windows
from .data import Cohort
from .params import AnalysisParams

_DERIVED = ("adsl", "bds", "cycles", "inclusion")


@dataclass
class Context:
    """Everything a notebook needs: cohort, rules and derived tables."""

    cohort: Cohort
    params: AnalysisParams
    adsl: pd.DataFrame  # one row per patient (all patients; `included` flags the analysis set)
    bds: pd.DataFrame  # analysis visits of every measure, all treated patients
    cycles: pd.DataFrame  # one row per IVIG cycle with round and offset
    inclusion: pd.DataFrame  # patient_id, included, reason
    synthetic: bool = False

    @property
    def name(self) -> str:
        return self.cohort.name

    @property
    def analysed(self) -> pd.DataFrame:
        """Subject-level rows of the analysis set."""
        return self.adsl[self.adsl["included"]].reset_index(drop=True)

    @property
    def n(self) -> int:
        return int(self.adsl["included"].sum())

    def record_basics(self, rec) -> None:
        """Record what every chapter states: patient counts and the analysis rules."""
        rec.value("cohort_patients_n", len(self.adsl), kind="int")
        rec.value("cohort_analysed_n", self.n, kind="int")
        rec.value("cohort_n", self.n, kind="int")
        for name in ("round_gap_months", "min_cycles_6m", "baseline_lookback_months",
                     "window_halfwidth_months", "responder_mcid"):
            rec.value(f"method_{name}", getattr(self.params, name), kind="int")

    def restrict(self, usubjids) -> "Context":
        """The same context with the analysis set narrowed to ``usubjids``."""
        import dataclasses

        adsl = self.adsl.copy()
        adsl["included"] = adsl["included"].astype(bool) & adsl["USUBJID"].isin(list(usubjids))
        return dataclasses.replace(self, adsl=adsl)

    def indication_group(self, indication: str) -> "Context":
        """Patients treated for ``indication`` when outcomes are analysed by indication;
        the whole analysis set otherwise."""
        col = f"indication_{indication}"
        if not self.params.population_by_indication or col not in self.adsl:
            return self
        return self.restrict(self.adsl.loc[self.adsl[col].fillna(False).astype(bool), "USUBJID"])

    def chosen(self, paramcd: str, included_only: bool = True) -> pd.DataFrame:
        """Analysis-flagged records (ANL01FL == 'Y') of one measure."""
        b = self.bds
        b = b[(b["PARAMCD"] == paramcd) & (b["ANL01FL"] == "Y")]
        if included_only:
            b = b[b["USUBJID"].isin(self.analysed["USUBJID"])]
        return b.reset_index(drop=True)

    def measure_present(self, paramcd: str) -> bool:
        """Does the analysis set have at least one value of this measure?"""
        return not self.chosen(paramcd).empty


def params_key(sha256: str, params: AnalysisParams) -> str:
    """Cache key of the derived tables."""
    blob = json.dumps({"data": sha256, "params": params.to_dict()}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def derive_all(cohort: Cohort, params: AnalysisParams) -> dict[str, pd.DataFrame]:
    """Run the whole derivation (no caching)."""
    return {
        "adsl": derive.subject_level(cohort, params),
        "bds": windows.analysis_visits(cohort, params),
        "cycles": derive.ivig_cycles(cohort, params),
        "inclusion": derive.inclusion(cohort, params),
    }


def load_context(data_dir: str | Path, params_json: str | dict = "{}",
                 cache_dir: str | Path | None = None, synthetic: bool = False,
                 cohort_name: str | None = None) -> Context:
    """Validate and load a cohort package, derive (or read cached) tables."""
    from .validate import load_cohort

    overrides = json.loads(params_json) if isinstance(params_json, str) else dict(params_json)
    params = AnalysisParams.from_mapping(overrides)
    cohort = load_cohort(data_dir, name=cohort_name)
    derived = None
    folder = None
    if cache_dir:
        folder = Path(cache_dir) / params_key(cohort.sha256, params)
        if all((folder / f"{name}.parquet").exists() for name in _DERIVED):
            derived = {name: pd.read_parquet(folder / f"{name}.parquet") for name in _DERIVED}
    if derived is None:
        derived = derive_all(cohort, params)
        if folder is not None:
            folder.mkdir(parents=True, exist_ok=True)
            for name, frame in derived.items():
                tmp = folder / f".{name}.parquet.tmp"
                frame.to_parquet(tmp, index=False)
                tmp.replace(folder / f"{name}.parquet")
    return Context(cohort=cohort, params=params, synthetic=synthetic, **derived)
