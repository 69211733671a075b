"""The results recorder: one call glues a value for the page and stores it.

Every number a page shows goes through :meth:`Recorder.value`, which checks the
key against the naming scheme of DESIGN §5, formats the value for prose, glues
the formatted text for myst-nb (:mod:`ivigbook.glue`; markdown cells paste it with
``{glue:text}`key```) and stores the raw value. At the end of a notebook,
:meth:`Recorder.save` writes ``<results_dir>/<notebook>.json``; the runner
merges the partials into ``results.json``.
"""
from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any

import numpy as np

KEY_PATTERN = re.compile(r"^[a-z][a-z0-9_]*$")


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
    try:
        import pandas as pd
        if value is pd.NA or value is pd.NaT:
            return None
    except ImportError:  # pragma: no cover
        pass
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
    """p-value in journal style (``stats.format_p``): '<0.0001', 4 decimals below 0.01,
    3 otherwise, never rounded up to 0.050."""
    from .stats import format_p

    return format_p(clean_value(p))


def p_text(p: Any) -> str:
    """'p=0.0011' or 'p<0.0001' for prose."""
    from .stats import format_p

    return format_p(clean_value(p), prefix=True)


class _Text(str):
    """A string whose text/plain repr is itself (so glued prose has no quotes)."""

    def __repr__(self) -> str:  # pragma: no cover - trivial
        return str(self)


class Recorder:
    """Glue-and-store for one notebook run."""

    def __init__(self, notebook: str, results_dir: str | Path | None = None,
                 glue: bool = True):
        self.notebook = notebook
        self.results_dir = Path(results_dir) if results_dir else None
        self.values: dict[str, Any] = {}
        self.texts: dict[str, str] = {}
        self._glue_enabled = glue

    def _glue(self, key: str, text: str) -> None:
        if self._glue_enabled:
            from .glue import glue

            glue(key, text)

    @staticmethod
    def _check_key(key: str) -> None:
        if not KEY_PATTERN.match(key):
            raise ValueError(f"result key {key!r} does not follow <area>_<measure>_<visit>_<stat>")

    def value(self, key: str, value: Any, decimals: int = 1, kind: str = "number") -> str:
        """Store ``value`` under ``key`` and glue its prose form; return the prose form.

        ``kind`` is ``number`` (fixed decimals), ``int`` or ``p`` (journal-style p-value).
        """
        self._check_key(key)
        raw = clean_value(value)
        again = key in self.values
        if again and self.values[key] != raw:
            raise ValueError(f"result {key!r} recorded twice with different values")
        self.values[key] = raw
        if kind == "p":
            text = fmt_p(raw)
        elif kind == "int":
            text = fmt_number(raw, 0)
        else:
            text = fmt_number(raw, decimals)
        if not again:  # a key is glued once per page (myst-nb warns on duplicates)
            self._glue(key, text)
        return text

    def text(self, key: str, text: str) -> str:
        """Glue a computed phrase (e.g. 'decreased significantly'); not stored as a result."""
        self._check_key(key)
        self.texts[key] = text
        self._glue(key, _Text(text))
        return text

    def prose(self, key: str, text: str) -> str:
        """Glue a computed Markdown sentence for ``{glue:md}`key``` (not stored as a result).

        Use it for sentences whose content depends on the cohort (which visits exist,
        which sections have data); every number inside comes from recorded values.
        """
        self._check_key(key)
        if key in self.texts:
            if self.texts[key] != text:
                raise ValueError(f"prose {key!r} glued twice with different texts")
            return text
        self.texts[key] = text
        if self._glue_enabled:
            from IPython.display import Markdown

            from .glue import glue

            glue(key, Markdown(text))
        return text

    def many(self, values: dict[str, Any], decimals: int = 1) -> None:
        """Record several numbers with the same formatting; keys ending in _p as p-values,
        _n/_k as integers."""
        for key, v in values.items():
            kind = "p" if key.endswith("_p") else ("int" if re.search(r"_(n|k)$", key) else "number")
            self.value(key, v, decimals=decimals, kind=kind)

    def save(self) -> Path | None:
        """Write the partial results of this notebook (sorted keys)."""
        if self.results_dir is None:
            return None
        self.results_dir.mkdir(parents=True, exist_ok=True)
        path = self.results_dir / f"{self.notebook}.json"
        path.write_text(json.dumps(self.values, sort_keys=True, indent=1) + "\n", encoding="utf-8")
        return path
