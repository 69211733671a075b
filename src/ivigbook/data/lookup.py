"""Fast membership and position lookups of (Arrow-backed) string columns.

pandas' ``isin`` and ``factorize`` of Arrow strings loop in Python over the allowed
values; on registry-sized tables one pyarrow hash lookup is many times faster. Both
functions fall back to pandas for anything that is not plain strings.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def isin(values: pd.Series, allowed) -> np.ndarray:
    """``values.isin(allowed)`` as a boolean array; strings through one pyarrow hash
    lookup (pandas' ``isin`` of Arrow-backed strings loops in Python)."""
    allowed = allowed if isinstance(allowed, pd.Series) else pd.Series(list(allowed))
    if pd.api.types.is_string_dtype(values.dtype) and pd.api.types.is_string_dtype(allowed.dtype):
        import pyarrow as pa
        import pyarrow.compute as pc

        try:
            a = pa.array(values, from_pandas=True).cast(pa.large_string())
            v = pa.array(allowed, from_pandas=True).cast(pa.large_string())
        except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError):
            pass  # mixed objects: pandas below
        else:
            return pc.is_in(a, value_set=v).fill_null(False).to_numpy(zero_copy_only=False)
    return values.isin(allowed).to_numpy(dtype=bool)


def codes(values: pd.Series, index: pd.Index) -> np.ndarray:
    """Positions of ``values`` in ``index`` (-1 if absent), hashing each distinct value once.

    ``index`` holds unique values. Strings go through one pyarrow hash lookup (several
    times faster than factorising millions of measurement rows in pandas)."""
    if (
        pd.api.types.is_string_dtype(values.dtype)
        and pd.api.types.is_string_dtype(index.dtype)
        and index.is_unique
    ):
        import pyarrow as pa
        import pyarrow.compute as pc

        try:
            keys = pa.array(values, from_pandas=True).cast(pa.large_string())
            known = pa.array(index, from_pandas=True).cast(pa.large_string())
        except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError):
            pass
        else:
            found = pc.index_in(keys, value_set=known).fill_null(-1)
            return found.to_numpy(zero_copy_only=False).astype("int64", copy=False)
    codes, uniques = pd.factorize(values)
    positions = np.append(index.get_indexer(uniques), -1)  # code -1 (missing) -> -1
    return positions[codes]
