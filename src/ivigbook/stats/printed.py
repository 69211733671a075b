"""Numbers as papers print them: rounding half up, the decimals of a printed value, and
whether a recomputed value matches a printed one.
"""

from __future__ import annotations

import math
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

import pandas as pd


# ================================================================ formatting
def _is_missing(x) -> bool:
    try:
        return x is None or x is pd.NA or math.isnan(float(x))
    except (TypeError, ValueError):
        return True


def round_half_up(x: float, decimals: int) -> float:
    """Round half away from zero on the shortest decimal representation of ``x``.

    ``round_half_up(2.675, 2) == 2.68`` (Python's ``round`` gives 2.67 because
    of binary representation); this is how a person rounds printed digits.
    """
    if _is_missing(x):
        return float("nan")
    q = Decimal(1).scaleb(-int(decimals))
    return float(Decimal(repr(float(x))).quantize(q, rounding=ROUND_HALF_UP))


def decimals_of(printed: str) -> int:
    """Number of decimals of a printed number: ``"0.0011" -> 4``, ``"-8" -> 0``."""
    s = str(printed).strip().lstrip("<>=").strip()
    if "e" in s.lower():
        try:
            return max(0, -Decimal(s).normalize().as_tuple().exponent)  # type: ignore[operator]
        except InvalidOperation:
            return 0
    return len(s.split(".", 1)[1]) if "." in s else 0


def matches_printed(value: float, printed: str, relation: str = "=") -> bool:
    """Does a recomputed ``value`` reproduce a printed number?

    ``relation="="``: ``value`` rounded half-up to the printed number of
    decimals equals the printed number (``0.7369`` matches ``"0.74"``).
    ``relation="<"``: ``value`` is below the printed bound (``"<0.0001"``).
    A printed ``"<x"`` is accepted in place of ``relation="<"``.
    """
    if _is_missing(value):
        return False
    s = str(printed).strip()
    if s.startswith("<"):
        relation, s = "<", s[1:].strip()
    if relation == "<":
        return float(value) < float(s)
    if relation != "=":
        raise ValueError(f"relation must be '=' or '<', got {relation!r}")
    return round_half_up(value, decimals_of(s)) == float(Decimal(s))
