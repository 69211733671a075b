"""Every recorded value of a measure for a group of patients, by month from the first cycle.

The windowed analysis visits live in :mod:`ivigbook.derive.bds`; courses, spaghetti plots
and the mixed model use every recorded value instead. Both helpers work on groups of any
size, none included.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ivigbook.data.lookup import isin
from ivigbook.derive.calendar import month_index


def per_patient(ids: pd.Series, values: pd.Series) -> pd.Series:
    """``values`` (indexed by patient id) for each of ``ids``, aligned with ``ids``; missing
    where a patient has none (also when ``values`` is empty, unlike ``Series.map``)."""
    looked_up = values.reindex(pd.Index(ids.to_numpy())).to_numpy()
    return pd.Series(looked_up, index=ids.index, name=values.name, dtype=values.dtype)


def measure_records(group: pd.DataFrame, measurements: pd.DataFrame, paramcd: str) -> pd.DataFrame:
    """Recorded values of ``paramcd`` for the subject-level rows ``group`` (USUBJID, SUBJSEQ,
    first_cycle_date): USUBJID, SUBJSEQ, month (calendar months from the first cycle, int),
    date, value (float); rows without a value or date dropped, sorted by SUBJSEQ, date."""
    g = group.set_index("USUBJID")
    m = measurements
    keep = (m["measure"] == paramcd).to_numpy(dtype=bool) & isin(
        m["patient_id"], pd.Series(g.index)
    )
    m = m[keep]
    m = m[(m["value"].notna() & m["date"].notna()).to_numpy(dtype=bool)]
    ids = m["patient_id"]
    month = month_index(m["date"]) - month_index(per_patient(ids, g["first_cycle_date"]))
    out = pd.DataFrame(
        {
            "USUBJID": ids.to_numpy(),
            "SUBJSEQ": per_patient(ids, g["SUBJSEQ"]).to_numpy(dtype=np.int64),
            "month": month.to_numpy(dtype=np.int64),
            "date": m["date"].to_numpy(),
            "value": m["value"].to_numpy(dtype=float),
        }
    )
    return out.sort_values(["SUBJSEQ", "date"], kind="stable").reset_index(drop=True)


def months_to_death(group: pd.DataFrame) -> pd.Series:
    """Calendar months from the first cycle to death for the subject-level rows ``group``
    (indexed by USUBJID; NaN for patients with no death date)."""
    g = group.set_index("USUBJID")
    months = month_index(g["death_date"]) - month_index(g["first_cycle_date"])
    return pd.Series(months.to_numpy(dtype=float, na_value=np.nan), index=g.index)


def alive_at(group: pd.DataFrame, usubjids, months) -> np.ndarray:
    """For each patient of ``usubjids`` (rows of ``group``), whether they were alive at
    ``months`` from the first cycle (a number, or one per patient): no model imputes or
    estimates a visit after a patient's death."""
    death = months_to_death(group).reindex(pd.Index(list(usubjids))).to_numpy()
    return ~(np.isfinite(death) & (death < np.asarray(months, dtype=float)))
