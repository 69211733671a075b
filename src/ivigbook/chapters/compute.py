"""Compute-only analysis: every result of the chapter notebooks, without rendering.

Runs the steps of the one chapter list (:mod:`ivigbook.chapters.catalog`), the
calls the notebooks make, in their order, with a recorder that does not glue. Used by
the reproduction test, by the benchmarks and as a consistency check of the executed
notebooks (their merged ``results.json`` must equal this).
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from ivigbook.chapters.catalog import CHAPTERS, Env
from ivigbook.chapters.historical import load_comparators
from ivigbook.config import DEFAULT_SEED, REFERENCE_COHORTS, project_root
from ivigbook.derive.context import Context, load_context
from ivigbook.errors import RunError
from ivigbook.results.formatter import clean_value
from ivigbook.results.recorder import Recorder


def chapter_results(
    ctx: Context,
    comparators: pd.DataFrame | None = None,
    seed: int = DEFAULT_SEED,
    *,
    paper_only: bool = False,
    errors: list[str] | None = None,
    texts: dict[str, dict] | None = None,
) -> dict[str, dict]:
    """Results per chapter notebook stem, as the notebooks record them with this ``seed``.

    ``paper_only``: only the paper's own analyses (the calibration check of the synthetic
    cohorts). ``errors``: collect each failing step there as ``stem/label: error`` and go
    on; without it a failing step raises. ``texts``: filled with the glued phrases and
    sentences of each chapter (``{stem: {key: text}}``).
    """
    out: dict[str, dict] = {}
    for chap in CHAPTERS:
        steps = [s for s in chap.steps if s.paper or not paper_only]
        if chap.late or not steps:
            continue
        rec = Recorder(chap.stem)
        ctx.record_basics(rec)
        out[chap.stem] = rec.values
        if texts is not None:
            texts[chap.stem] = rec.texts
        env = Env(ctx, rec, comparators, seed)
        for step in steps:
            if errors is None:
                step.run(env)
                continue
            try:
                step.run(env)
            except Exception as e:  # noqa: BLE001 - reported, the other steps still run
                errors.append(f"{chap.stem}/{step.label}: {type(e).__name__}: {e}")
    return out


def registered_seed(data_dir: str | Path) -> int:
    """The ``seed`` the committed book uses for ``data_dir``: the registered seed of a
    reference cohort (``config.REFERENCE_COHORTS``), else :data:`DEFAULT_SEED`."""

    try:
        root = project_root(None)
    except RunError:  # outside a checkout: no registry
        return DEFAULT_SEED
    here = Path(data_dir).resolve()
    for entry in REFERENCE_COHORTS.values():
        if (Path(root) / entry["data_dir"]).resolve() == here:
            return int(entry.get("seed", DEFAULT_SEED))
    return DEFAULT_SEED


def compute_results(
    data_dir: str | Path,
    params_json: str | dict = "{}",
    comparators_path: str | Path | None = None,
    cache_dir: str | Path | None = None,
    seed: int | None = None,
) -> dict:
    """All results of notebooks 01-06 for one cohort package, merged. ``seed`` defaults to
    the seed the committed book uses for this package (:func:`registered_seed`)."""
    ctx = load_context(data_dir, params_json, cache_dir)
    seed = registered_seed(data_dir) if seed is None else int(seed)
    merged: dict = {}
    comparators = load_comparators(comparators_path) if comparators_path else None
    for values in chapter_results(ctx, comparators, seed).values():
        merged.update(values)
    return {k: clean_value(v) for k, v in sorted(merged.items())}


def main() -> None:  # pragma: no cover - convenience for analysts
    import sys

    print(json.dumps(compute_results(*sys.argv[1:2]), indent=1, sort_keys=True))
