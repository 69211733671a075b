"""The one formatter: numbers, p-values and intervals as prose, tables and figures print them.

* :func:`fmt_number` - fixed decimals, a real minus sign, ``NA`` for missing (prose, tables);
* :func:`format_p` / :func:`fmt_p` / :func:`p_text` - p-values in journal style (one rule
  for prose, tables and figures: ``0.0497`` is never printed as ``0.050``);
* :func:`fmt_estimate` - an estimate or interval bound whose size sets its decimals (figures);
* :func:`clean_value` - the JSON-safe, platform-stable form of a recorded value.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from ivigbook.stats.printed import _is_missing, round_half_up
from ivigbook.stats.tests import ALPHA


def clean_value(value: Any) -> Any:
    """A JSON-safe, platform-stable version of ``value`` (NaN -> None, 12 significant digits)."""
    if value is None:
        return None
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        v = float(value)
        if math.isnan(v) or math.isinf(v):
            return None
        return float(f"{v:.12g}")
    if isinstance(value, str):
        return value
    if value is pd.NA or value is pd.NaT:
        return None
    raise TypeError(f"cannot record a value of type {type(value).__name__}")


def fmt_number(value: Any, decimals: int = 1) -> str:
    """Prose formatting: fixed decimals, a real minus sign, 'NA' for missing."""
    v = clean_value(value)
    if v is None:
        return "NA"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, str):
        return v
    text = f"{v:.{decimals}f}" if not (isinstance(v, int) and decimals == 0) else str(v)
    if text.startswith("-") and float(text) == 0:
        text = text[1:]
    return text.replace("-", "\u2212")


def fmt_p(p: Any) -> str:
    """p-value in journal style (:func:`format_p`): '<0.0001', 4 decimals below 0.01,
    3 otherwise, never rounded up to 0.050."""
    return format_p(clean_value(p))


def p_text(p: Any) -> str:
    """'p=0.0011' or 'p<0.0001' for prose."""
    return format_p(clean_value(p), prefix=True)


def _half_up(x: float, decimals: int = 1, missing: str = "NA") -> str:
    """Round half up to ``decimals`` and print (never ``-0.0``); used for p-values."""
    if _is_missing(x):
        return missing
    r = round_half_up(x, decimals)
    if r == 0:
        r = 0.0
    return f"{r:.{int(decimals)}f}"


def format_p(p: float, *, prefix: bool = False, missing: str = "NA") -> str:
    """Format a p-value the way the paper (and most clinical journals) print them.

    Rule (documented on the methods page):

    * ``p < 0.0001``         -> ``"<0.0001"``
    * ``0.0001 <= p < 0.01`` -> 4 decimals (two significant digits: ``"0.0011"``)
    * ``p >= 0.01``          -> 3 decimals (``"0.256"``, ``"0.674"``, ``"1.000"``)
    * never round a p below 0.05 up to ``"0.050"``: more decimals are shown
      (``0.0497 -> "0.0497"``; the paper printed this one as "0.05").

    The paper itself is not uniform (it also prints 0.74, 0.26, 0.09 and
    0.005); ``matches_printed`` compares at the paper's own precision.
    ``prefix=True`` gives ``"p=0.256"`` / ``"p<0.0001"``.
    """
    if _is_missing(p):
        return missing
    p = float(p)
    if p < 0 or p > 1 + 1e-12:
        raise ValueError(f"not a probability: {p}")
    if p < 0.0001:
        s = "<0.0001"
    else:
        dec = 4 if p < 0.01 else 3
        s = _half_up(p, dec)
        while p < ALPHA and float(s) >= ALPHA and dec < 8:
            dec += 1
            s = _half_up(p, dec)
    if prefix:
        return "p" + (s if s.startswith("<") else "=" + s)
    return s


def fmt_estimate(x: float) -> str:
    """Estimate or CI bound on a figure: 2 decimals below 10, 1 below 100, else none."""
    if not np.isfinite(x):
        return "\u221e" if x > 0 else ("\u2212\u221e" if x < 0 else "NA")
    a = abs(x)
    text = f"{x:.2f}" if a < 10 else (f"{x:.1f}" if a < 100 else f"{x:,.0f}")
    return text.replace("-", "\u2212")
