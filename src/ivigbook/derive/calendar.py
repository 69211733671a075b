"""Calendar months: the month index of a date, ages and durations in years.

Time in the book is counted in calendar months from the first IVIG cycle
(DESIGN section 4): ``(year*12 + month) - (year*12 + month of the first cycle)``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

_MONTH_OF_EPOCH = 1970 * 12 + 1  # month index of 1970-01


_DAYS_PER_YEAR = 365.25


# ---------------------------------------------------------------- calendar months
def _months(dates) -> tuple[np.ndarray, np.ndarray]:
    """Month indices (int64, 0 where missing) and the missing mask of datetime-like values."""
    values = np.asarray(pd.to_datetime(dates))
    missing = np.isnat(values)
    if len(values) > _LOOKUP_MIN_ROWS:
        months = _months_by_lookup(values, missing)
        if months is not None:
            return months, missing
    months = values.astype("datetime64[M]").astype("int64") + _MONTH_OF_EPOCH
    months[missing] = 0
    return months, missing


_LOOKUP_MIN_ROWS = 50_000


_LOOKUP_MAX_DAYS = 200 * 366


def _months_by_lookup(values: np.ndarray, missing: np.ndarray) -> np.ndarray | None:
    """:func:`_months` for many dates: the calendar conversion is done once per distinct
    day of the span (a table), not once per row (3x faster on millions of rows)."""
    days = values.astype("datetime64[D]").astype("int64")  # floors, as the month cast does
    known = days[~missing]
    if len(known) == 0:
        return None
    lo, hi = int(known.min()), int(known.max())
    if hi - lo > _LOOKUP_MAX_DAYS:
        return None
    table = np.arange(lo, hi + 1).astype("datetime64[D]").astype("datetime64[M]").astype("int64")
    months = table[np.where(missing, lo, days) - lo] + _MONTH_OF_EPOCH
    months[missing] = 0
    return months


def month_index(dates) -> pd.Series:
    """Calendar month index ``year*12 + month`` of dates (``Int64``, NA where missing)."""
    s = dates if isinstance(dates, pd.Series) else pd.Series(dates)
    months, missing = _months(s)
    return pd.Series(pd.arrays.IntegerArray(months, missing), index=s.index, name=s.name)


def _mid_year(birth_year: pd.Series) -> np.ndarray:
    """1 July of each birth year as datetime64[ns] (NaT where missing)."""
    years = pd.to_numeric(birth_year).astype("Float64")
    missing = years.isna().to_numpy()
    y = years.fillna(1970).to_numpy("int64")
    out = ((y - 1970).astype("datetime64[Y]").astype("datetime64[M]") + 6).astype("datetime64[ns]")
    out[missing] = np.datetime64("NaT")
    return out


def _years_between(start: np.ndarray, end: pd.Series) -> np.ndarray:
    """(end - start) in years of 365.25 days (NaN where either is missing)."""
    delta = np.asarray(pd.to_datetime(end)).astype("datetime64[ns]") - start
    return delta / np.timedelta64(1, "D") / _DAYS_PER_YEAR
