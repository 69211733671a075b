"""The typed, validated cohort that every analysis step receives."""
from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from .schema import TABLES

_SPLIT_LIST = {"overlap", "ivig_indication"}


def empty_table(name: str) -> pd.DataFrame:
    """An empty, correctly typed frame for table ``name``."""
    return coerce_table(name, pd.DataFrame({c: pd.Series(dtype="string") for c in TABLES[name].column_names}))


def coerce_table(name: str, frame: pd.DataFrame) -> pd.DataFrame:
    """Types of the contract for one table of *valid* data (blank strings become NA).

    Dates become ``datetime64[ns]``, ints ``Int64``, floats and measure values
    ``float64``, everything else pandas ``string``. Columns of the contract that
    are absent are added as all-missing; extra columns are dropped (never rendered).
    """
    table = TABLES[name]
    out = {}
    n = len(frame)
    for col in table.columns:
        if col.name in frame.columns:
            s = frame[col.name]
            if s.dtype == object or pd.api.types.is_string_dtype(s):
                s = s.astype("string").str.strip().replace("", pd.NA)
        else:
            s = pd.Series([pd.NA] * n, index=frame.index, dtype="string")
        if col.kind == "date":
            s = pd.to_datetime(s, format="%Y-%m-%d", errors="coerce") if s.dtype != "datetime64[ns]" else s
            s = s.astype("datetime64[ns]")
        elif col.kind == "int":
            s = pd.to_numeric(s, errors="coerce").round().astype("Int64")
        elif col.kind in ("float", "measure"):
            s = pd.to_numeric(s, errors="coerce").astype("float64")
        else:
            s = s.astype("string")
            if col.kind in ("vocab", "vocab_list") and col.name != "sex" and col.name != "measure":
                s = s.str.lower()
            if col.name == "measure":
                s = s.str.upper()
            if col.name == "sex":
                s = s.str.upper()
        out[col.name] = s.reset_index(drop=True)
    return pd.DataFrame(out, columns=table.column_names)


@dataclass
class Cohort:
    """A validated cohort package: one typed frame per table of the contract."""

    patients: pd.DataFrame
    infusions: pd.DataFrame
    measurements: pd.DataFrame
    medications: pd.DataFrame
    adverse_events: pd.DataFrame
    present: frozenset = field(default_factory=frozenset)  # tables the package really had
    name: str = "cohort"
    source: str = ""
    sha256: str = ""

    @classmethod
    def from_frames(cls, name: str = "cohort", source: str = "", sha256: str = "",
                    **frames: pd.DataFrame | None) -> "Cohort":
        """Build from raw or typed frames keyed by table name (absent tables allowed)."""
        unknown = set(frames) - set(TABLES)
        if unknown:
            raise TypeError(f"unknown tables: {sorted(unknown)}")
        present = frozenset(k for k, v in frames.items() if v is not None)
        typed = {t: coerce_table(t, frames[t]) if frames.get(t) is not None else empty_table(t)
                 for t in TABLES}
        return cls(**typed, present=present, name=name, source=source, sha256=sha256)

    def has(self, table: str) -> bool:
        """Did the package contain ``table`` (even with zero rows)?"""
        return table in self.present

    def list_column(self, column: str) -> pd.DataFrame:
        """Explode a `;`-list column of patients into (patient_id, value) rows."""
        s = self.patients.set_index("patient_id")[column].dropna().str.split(";").explode()
        s = s.str.strip()
        s = s[s != ""]
        return s.rename("value").reset_index()
