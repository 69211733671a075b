"""Published vs recomputed: the reproduction page and the reproducibility appendix.

The analysis never reads published values; this module only compares the
recorded results with a published-figures file (``data/reference/published_*.csv``).
"""

from __future__ import annotations

import json
import math
import platform
from importlib import metadata
from pathlib import Path

import pandas as pd

from ivigbook.derive.context import Context
from ivigbook.results.table import Table

STATUS_MATCH = "match"
STATUS_SIDE = "same side of 0.05"
STATUS_DIFF = "differs"
STATUS_MISSING = "not computed"
STATUS_NA = "not reproducible"
STATUS_INPUT = "input"
NOT_JUDGED = (STATUS_NA, STATUS_INPUT)

PACKAGES = (
    "ivigbook",
    "pandas",
    "numpy",
    "scipy",
    "statsmodels",
    "pandera",
    "matplotlib",
    "papermill",
    "myst-nb",
    "jupyter-book",
    "sphinx",
)
SELF = "07_reproduction"


def collect_results(results_dir: str | Path, exclude: str = SELF) -> dict:
    """Merge the partial results of the chapter notebooks (not this page's own)."""
    out: dict = {}
    for path in sorted(Path(results_dir).glob("*.json")):
        if path.stem == exclude:
            continue
        out.update(json.loads(path.read_text(encoding="utf-8")))
    return out


def _as_float(v) -> float | None:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(f) else f


def _rounds_to(value: float, printed: str, decimals: int) -> bool:
    target = _as_float(printed)
    if target is None:
        return False
    text = f"{value:.{decimals}f}"
    return abs(float(text) - target) < 1e-9


def judge(row: dict, recomputed) -> str:
    """Status of one published number against its recomputed value."""
    kind = str(row.get("comparison") or "rounded")
    if kind == "not_reproducible":
        return STATUS_NA
    value = _as_float(recomputed)
    if value is None:
        return STATUS_INPUT if kind in ("parameter", "reference_input") else STATUS_MISSING
    decimals = int(_as_float(row.get("decimals")) or 0)
    printed = str(row["value"]).strip()
    relation = str(row.get("relation") or "=").strip()
    if kind == "exact":
        target = _as_float(printed)
        return STATUS_MATCH if target is not None and abs(value - target) < 1e-9 else STATUS_DIFF
    if kind in ("p_value", "summary_stat_test"):
        target = _as_float(printed)
        if relation == "<":
            ok = value < target
        else:
            ok = _rounds_to(value, printed, decimals)
        if ok:
            return STATUS_MATCH
        if target is not None and (value < 0.05) == (target < 0.05 if relation == "=" else True):
            return STATUS_SIDE
        return STATUS_DIFF
    return STATUS_MATCH if _rounds_to(value, printed, decimals) else STATUS_DIFF


def comparison(results_dir: str | Path, published_path: str | Path) -> pd.DataFrame:
    """One row per published number: key, printed value, recomputed value, status."""
    published = pd.read_csv(published_path, dtype=str, keep_default_na=False)
    results = collect_results(results_dir)
    rows = []
    for row in published.to_dict("records"):
        rec = results.get(row["key"])
        if rec is None and row["key"].endswith("_abstract"):
            rec = results.get(row["key"].removesuffix("_abstract"))
        status = judge(row, rec)
        decimals = int(_as_float(row.get("decimals")) or 0)
        shown = "" if _as_float(rec) is None else f"{float(rec):.{max(decimals, 0)}f}"
        if row.get("comparison") in ("p_value", "summary_stat_test") and _as_float(rec) is not None:
            shown = f"{float(rec):.4f}" if float(rec) >= 0.0001 else "<0.0001"
        rows.append(
            {
                "key": row["key"],
                "published": ("<" if row.get("relation") == "<" else "") + row["value"],
                "recomputed": shown,
                "status": status,
                "comparison": row.get("comparison", ""),
                "population": row.get("population", ""),
                "source": row.get("source", ""),
                "note": row.get("note", ""),
            }
        )
    return pd.DataFrame(rows)


def summary_table(table: pd.DataFrame, rec, synthetic: bool) -> Table:
    """Counts per status; records repro_* keys."""
    counts = table["status"].value_counts()
    judged = table[~table["status"].isin(NOT_JUDGED)]
    match = int((judged["status"] == STATUS_MATCH).sum())
    rec.value("repro_rows_n", len(judged), kind="int")
    rec.value("repro_match_n", match, kind="int")
    rec.value("repro_match_pct", 100.0 * match / len(judged) if len(judged) else float("nan"), 1)
    rows = [
        {"Status": s, "Published numbers": str(int(counts.get(s, 0)))}
        for s in (STATUS_MATCH, STATUS_SIDE, STATUS_DIFF, STATUS_MISSING, STATUS_NA, STATUS_INPUT)
    ]
    return Table(
        pd.DataFrame(rows),
        caption="Reproduction summary",
        table_id="repro-summary",
        synthetic=synthetic,
        notes=[
            "match: equal at the printed precision (counts and Ns exactly); same side of "
            "0.05: a p-value the published summaries cannot pin down but whose conclusion "
            "agrees; not reproducible: numbers that only the original patient data determine; "
            "input: "
            "analysis rules and comparator summaries the analysis takes as given."
        ],
    )


def differences_table(table: pd.DataFrame, synthetic: bool) -> Table:
    """The published numbers not matched exactly, with the reason recorded for each."""
    d = table[~table["status"].isin([STATUS_MATCH, STATUS_INPUT])]
    cols = {
        "key": "Key",
        "published": "Published",
        "recomputed": "Recomputed",
        "status": "Status",
        "note": "Why",
    }
    return Table(
        d[list(cols)].rename(columns=cols),
        caption="Numbers not matched exactly",
        table_id="repro-differences",
        synthetic=synthetic,
        notes=[
            "Tests against historical controls are computed from summary statistics: "
            "the paper used its rounded summaries and a comparator N with follow-up data "
            "that it does not report (chapter 5 shows how the p-value depends on that N), "
            "so only the side of 0.05 can be required of them."
        ],
    )


def detail_table(table: pd.DataFrame, synthetic: bool) -> Table:
    cols = {
        "key": "Key",
        "published": "Published",
        "recomputed": "Recomputed",
        "status": "Status",
        "source": "Where published",
    }
    return Table(
        table[list(cols)].rename(columns=cols),
        caption="Every published number",
        table_id="repro-detail",
        synthetic=synthetic,
    )


def environment_table(ctx: Context) -> Table:
    """Package versions, analysis parameters and the data hash of this run."""
    rows = [
        {"Item": "Cohort", "Value": ctx.name},
        {"Item": "Data SHA-256", "Value": ctx.cohort.sha256},
        {"Item": "Python", "Value": platform.python_version()},
    ]
    for name, value in ctx.params.to_dict().items():
        rows.append({"Item": f"Parameter {name}", "Value": json.dumps(value)})
    for pkg in PACKAGES:
        try:
            version = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            version = "not installed"
        rows.append({"Item": f"Package {pkg}", "Value": version})
    return Table(
        pd.DataFrame(rows),
        caption="Reproducibility",
        table_id="environment",
        synthetic=ctx.synthetic,
    )
