"""One analysis context per run: the validated cohort plus its derived tables.

Validation and derivation happen once per run and are cached as parquet in the
run's cache folder: the typed cohort keyed by the bytes of the package, the
derived tables by the data hash and the analysis parameters. The notebooks of a
run (executed in parallel) take a lock on the folder, so the first one does the
work and the others read its tables.

The adverse-event term map of a run (``ivigbook run --terms``) reaches the notebooks
through the cache folder: the runner writes the validated map there as
:data:`TERM_MAP_FILE`, and every cohort read from that folder gets it applied
(:func:`ivigbook.data.terms.apply_term_map`) after loading. The cached cohort stays the
package as validated (keyed by its bytes); the derived tables' key also covers the map.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from ivigbook.data.cohort import Cohort
from ivigbook.data.io import RawPackage
from ivigbook.data.lookup import isin
from ivigbook.data.params import AnalysisParams
from ivigbook.data.terms import apply_term_map, read_term_map
from ivigbook.data.validate import load_cohort
from ivigbook.derive import adsl, treatment
from ivigbook.derive import bds as windows

_DERIVED = ("adsl", "bds", "cycles", "inclusion")
#: The run's adverse-event term map in its cache folder (written by ``ivigbook run``).
TERM_MAP_FILE = "ae_terms.csv"


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
        for name in (
            "round_gap_months",
            "min_cycles_6m",
            "baseline_lookback_months",
            "window_halfwidth_months",
            "responder_mcid",
        ):
            rec.value(f"method_{name}", getattr(self.params, name), kind="int")

    def restrict(self, usubjids) -> Context:
        """The same context with the analysis set narrowed to ``usubjids``."""
        import dataclasses

        adsl = self.adsl.copy()
        keep = usubjids if isinstance(usubjids, pd.Series) else pd.Series(list(usubjids))
        adsl["included"] = adsl["included"].astype(bool) & isin(adsl["USUBJID"], keep)
        out = dataclasses.replace(self, adsl=adsl)
        if "_chosen_cache" in self.__dict__:  # same bds: share the per-measure rows
            out.__dict__["_chosen_cache"] = self.__dict__["_chosen_cache"]
        return out

    def indication_group(self, indication: str) -> Context:
        """Patients treated for ``indication`` when outcomes are analysed by indication;
        the whole analysis set otherwise."""
        col = f"indication_{indication}"
        if not self.params.population_by_indication or col not in self.adsl:
            return self
        return self.restrict(self.adsl.loc[self.adsl[col].fillna(False).astype(bool), "USUBJID"])

    def chosen(self, paramcd: str, included_only: bool = True) -> pd.DataFrame:
        """Analysis-flagged records (ANL01FL == 'Y') of one measure."""
        b = self._chosen_rows(paramcd)
        if included_only:
            included = self.adsl["included"].to_numpy(dtype=bool)
            b = b[isin(b["USUBJID"], self.adsl["USUBJID"][included])]
        return b.reset_index(drop=True)

    def _chosen_rows(self, paramcd: str) -> pd.DataFrame:
        """ANL01FL rows of one measure (all subjects), computed once per bds and measure.

        Chapters ask for the same measure many times; the cache lives on the instance
        and is dropped when ``bds`` is replaced (it remembers which frame it came from).
        """
        bds = self.bds
        cache = self.__dict__.get("_chosen_cache")
        if cache is None or cache[0] is not bds:
            anl = (bds["ANL01FL"] == "Y").to_numpy(dtype=bool)
            cache = (bds, anl, {})
            self.__dict__["_chosen_cache"] = cache
        _, anl, by_param = cache
        if paramcd not in by_param:
            by_param[paramcd] = bds[(bds["PARAMCD"] == paramcd).to_numpy(dtype=bool) & anl]
        return by_param[paramcd]

    def measure_present(self, paramcd: str) -> bool:
        """Does the analysis set have at least one value of this measure?"""
        return not self.chosen(paramcd).empty


def inclusion_lines(
    cohort: Cohort, params: AnalysisParams, derived: dict | None = None
) -> list[str]:
    """The inclusion flow counts and its warnings, as ``validate`` and ``run`` print them
    before anything executes (``derived``: tables already derived, else derived here)."""
    derived = derived if derived is not None else derive_all(cohort, params)
    lines, warnings = adsl.inclusion_report(cohort.patients, derived["inclusion"], params)
    return lines + [f"warning: {w}" for w in warnings]


def params_key(sha256: str, params: AnalysisParams, terms: dict[str, str] | None = None) -> str:
    """Cache key of the derived tables (and of the term map applied, when there is one)."""
    key = {"data": sha256, "params": params.to_dict()}
    if terms:
        key["terms"] = terms
    blob = json.dumps(key, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def derive_all(cohort: Cohort, params: AnalysisParams) -> dict[str, pd.DataFrame]:
    """Run the whole derivation (no caching).

    Same tables as ``subject_level``, ``analysis_visits``, ``ivig_cycles`` and
    ``inclusion`` called one by one, but each intermediate (cycles, treatment
    summary, SUBJSEQ, analysis visits, baselines) is computed once: the baseline
    values are the ABLFL rows of the analysis-visit table itself.
    """
    cycles, group, ids = treatment._cycles(cohort, params)
    treat = treatment._treatment(cycles, group, ids)
    bds = windows._analysis_visits(
        cohort, windows.window_table_from_params(params), windows._anchors(cohort, treat)
    )
    base = adsl._baseline_wide(bds, treat["patient_id"])
    inclusion = adsl._inclusion(cohort.patients, treat, base, params)
    return {
        "adsl": adsl._subject_level(cohort, params, treat, base, inclusion),
        "bds": bds,
        "cycles": cycles,
        "inclusion": inclusion,
    }


def load_context(
    data_dir: str | Path,
    params_json: str | dict = "{}",
    cache_dir: str | Path | None = None,
    synthetic: bool = False,
    cohort_name: str | None = None,
) -> Context:
    """Validate and load a cohort package, derive (or read cached) tables.

    With ``cache_dir`` (what ``ivigbook run`` passes to every notebook) the work is
    done once per run: the first caller validates and types the package
    (:func:`cached_cohort`) and derives the tables (:func:`cached_derived`), both
    stored as parquet; callers running at the same time wait on a lock in
    ``cache_dir`` and then read the stored tables instead of repeating the work. A term
    map in ``cache_dir`` (:data:`TERM_MAP_FILE`) is applied to the cohort.
    """
    overrides = json.loads(params_json) if isinstance(params_json, str) else dict(params_json)
    params = AnalysisParams.from_mapping(overrides)  # the one parser: text or typed values
    if not cache_dir:
        cohort = load_cohort(data_dir, name=cohort_name)
        return Context(
            cohort=cohort, params=params, synthetic=synthetic, **derive_all(cohort, params)
        )
    cache = Path(cache_dir)
    cache.mkdir(parents=True, exist_ok=True)
    with _locked(cache / ".lock"):
        cohort, terms = _with_term_map(cached_cohort(data_dir, cache, cohort_name), cache)
        derived = cached_derived(cohort, params, cache, terms)
    return Context(cohort=cohort, params=params, synthetic=synthetic, **derived)


# ---------------------------------------------------------------- parquet cache
_COHORT_META = "cohort.json"
_CACHE_VERSION = 1


def package_key(path: str | Path) -> str:
    """Hash of a package's bytes: every non-hidden file of the folder (or the file),
    with its name. Any edit, added or removed file gives another key."""
    path = Path(path)
    files = (
        [path]
        if path.is_file()
        else sorted(f for f in path.iterdir() if f.is_file() and not f.name.startswith((".", "~$")))
    )
    digest = hashlib.sha256(f"ivigbook-cohort-cache {_CACHE_VERSION}\n".encode())
    for f in files:
        with open(f, "rb") as fh:
            content = hashlib.file_digest(fh, "sha256").hexdigest()
        digest.update(f"{f.name}\0{content}\n".encode())
    return digest.hexdigest()[:16]


def _default_name(data_dir: str | Path) -> str:

    return RawPackage(source=str(data_dir), format="").name


def cached_cohort(data_dir: str | Path, cache_dir: str | Path, name: str | None = None) -> Cohort:
    """:func:`ivigbook.data.validate.load_cohort`, stored in ``cache_dir`` as parquet.

    The typed tables are keyed by :func:`package_key` (the bytes of the package), so
    a package is read and validated once; later calls read the typed tables back
    (identical frames). Raises :class:`~ivigbook.data.validate.DataError` like
    ``load_cohort`` on invalid data (nothing is stored then).
    """

    folder = Path(cache_dir) / f"cohort-{package_key(data_dir)}"
    if (folder / _COHORT_META).is_file():
        try:
            meta = json.loads((folder / _COHORT_META).read_text(encoding="utf-8"))
            frames = {t: pd.read_parquet(folder / f"{t}.parquet") for t in meta["tables"]}
            return Cohort(
                **frames,
                present=frozenset(meta["present"]),
                columns=frozenset(tuple(c) for c in meta["columns"])
                if meta.get("columns") is not None
                else None,
                name=name or _default_name(data_dir),
                source=str(data_dir),
                sha256=meta["sha256"],
            )
        except (OSError, ValueError, KeyError, TypeError):
            pass  # unreadable cache: load again below and replace it
    cohort = load_cohort(data_dir, name=name)
    _store_cohort(folder, cohort)
    return cohort


def _store_cohort(folder: Path, cohort: Cohort) -> None:
    tables = {t: getattr(cohort, t) for t in _COHORT_TABLES}
    meta = {
        "sha256": cohort.sha256,
        "present": sorted(cohort.present),
        "columns": None if cohort.columns is None else sorted(cohort.columns),
        "tables": list(tables),
    }
    _store(folder, tables, {_COHORT_META: json.dumps(meta, sort_keys=True)})


def prime_cache(
    cohort: Cohort, data_dir: str | Path, params: AnalysisParams, cache_dir: str | Path
) -> dict[str, pd.DataFrame]:
    """Store a cohort already loaded with ``load_cohort(data_dir)`` and its derived tables
    in ``cache_dir``, so that every :func:`load_context` of a run reads them instead of
    validating and deriving again (for a caller that validated the package first, as
    ``ivigbook run`` does). Returns the derived tables."""
    cache = Path(cache_dir)
    cache.mkdir(parents=True, exist_ok=True)
    with _locked(cache / ".lock"):
        folder = cache / f"cohort-{package_key(data_dir)}"
        if not (folder / _COHORT_META).is_file():
            _store_cohort(folder, cohort)
        mapped, terms = _with_term_map(cohort, cache)
        derived = cached_derived(mapped, params, cache, terms)
    return derived


def _with_term_map(cohort: Cohort, cache: Path) -> tuple[Cohort, dict[str, str]]:
    """``cohort`` with the term map of the cache folder applied, and that map (``{}``
    when the folder has none)."""
    path = cache / TERM_MAP_FILE
    if not path.is_file():
        return cohort, {}
    terms = read_term_map(path)
    return apply_term_map(cohort, terms), terms


def cached_derived(
    cohort: Cohort,
    params: AnalysisParams,
    cache_dir: str | Path,
    terms: dict[str, str] | None = None,
) -> dict[str, pd.DataFrame]:
    """:func:`derive_all`, stored in ``cache_dir`` as parquet keyed by :func:`params_key`
    (``terms``: the term map applied to ``cohort``, part of the key)."""
    folder = Path(cache_dir) / params_key(cohort.sha256, params, terms)
    if all((folder / f"{name}.parquet").exists() for name in _DERIVED):
        try:
            return {name: pd.read_parquet(folder / f"{name}.parquet") for name in _DERIVED}
        except (OSError, ValueError):
            pass
    derived = derive_all(cohort, params)
    _store(folder, derived)
    return derived


_COHORT_TABLES = ("patients", "infusions", "measurements", "medications", "adverse_events")


def _store(
    folder: Path, frames: dict[str, pd.DataFrame], texts: dict[str, str] | None = None
) -> None:
    """Write ``frames`` (parquet) and ``texts`` into ``folder`` via a temporary sibling
    renamed into place, so a reader never sees a half-written folder."""
    import os
    import shutil

    tmp = folder.with_name(f".{folder.name}.tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        for name, frame in frames.items():
            frame.to_parquet(tmp / f"{name}.parquet", index=False)
        for name, text in (texts or {}).items():
            (tmp / name).write_text(text, encoding="utf-8")
        shutil.rmtree(folder, ignore_errors=True)
        tmp.replace(folder)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


class _locked:
    """Exclusive advisory lock on ``path`` (``fcntl.flock``; no-op where unavailable).

    Only an optimisation: every writer stores through a temporary folder renamed into
    place, so without the lock concurrent callers repeat work but never read half a cache.
    """

    def __init__(self, path: Path):
        self.path = path
        self.fh = None

    def __enter__(self):
        try:
            import fcntl
        except ImportError:  # pragma: no cover - Windows: no lock, work may be repeated
            return self
        try:
            self.fh = open(self.path, "a+b")
            fcntl.flock(self.fh.fileno(), fcntl.LOCK_EX)
        except OSError:  # a file system without locks: work may be repeated, never wrong
            if self.fh is not None:
                self.fh.close()
            self.fh = None
        return self

    def __exit__(self, *exc):
        if self.fh is not None:
            import fcntl

            fcntl.flock(self.fh.fileno(), fcntl.LOCK_UN)
            self.fh.close()
        return False
