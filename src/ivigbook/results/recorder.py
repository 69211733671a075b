"""The results recorder: one call glues a value for the page and stores it.

Every number a page shows goes through :meth:`Recorder.value`, which checks the
key against the naming scheme of DESIGN §5, formats the value for prose, glues
the formatted text for myst-nb (through the ``glue`` callable it is given,
:mod:`ivigbook.report.glue` in a notebook; markdown cells paste it with
``{glue:text}`key```) and stores the raw value. At the end of a notebook,
:meth:`Recorder.save` writes ``<results_dir>/<notebook>.json``; the runner merges the
partials into ``results.json``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from IPython.display import Markdown

from ivigbook.results.formatter import clean_value, fmt_number, fmt_p

KEY_PATTERN = re.compile(r"^[a-z][a-z0-9_]*$")


class _Text(str):
    """A string whose text/plain repr is itself (so glued prose has no quotes)."""

    def __repr__(self) -> str:  # pragma: no cover - trivial
        return str(self)


class Recorder:
    """Glue-and-store for one notebook run."""

    def __init__(
        self,
        notebook: str,
        results_dir: str | Path | None = None,
        glue: Callable[[str, Any], None] | None = None,
    ):
        """``glue(key, value)`` sends a glued value to the page (``ivigbook.report.glue.glue``
        in a notebook); without it values are only stored (compute-only analysis, tests)."""
        self.notebook = notebook
        self.results_dir = Path(results_dir) if results_dir else None
        self.values: dict[str, Any] = {}
        self.texts: dict[str, str] = {}
        self._sink = glue

    def _glue(self, key: str, text: Any) -> None:
        if self._sink is not None:
            self._sink(key, text)

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
        self._glue(key, Markdown(text))
        return text

    def many(self, values: dict[str, Any], decimals: int = 1) -> None:
        """Record several numbers with the same formatting; keys ending in _p as p-values,
        _n/_k as integers."""
        for key, v in values.items():
            kind = (
                "p" if key.endswith("_p") else ("int" if re.search(r"_(n|k)$", key) else "number")
            )
            self.value(key, v, decimals=decimals, kind=kind)

    def save(self) -> Path | None:
        """Write the partial results of this notebook (sorted keys)."""
        if self.results_dir is None:
            return None
        self.results_dir.mkdir(parents=True, exist_ok=True)
        path = self.results_dir / f"{self.notebook}.json"
        path.write_text(json.dumps(self.values, sort_keys=True, indent=1) + "\n", encoding="utf-8")
        return path
