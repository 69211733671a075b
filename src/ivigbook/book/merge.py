"""``results.json``: the notebooks' partial results merged, with the cohort, parameters and
data hash; JSON written deterministically.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

from ivigbook.data.params import AnalysisParams
from ivigbook.errors import ResultsConflictError, RunError

RESULTS_DIRNAME = "_results"  # partial results, inside the output folder


RESULTS_FILENAME = "results.json"


def _normalize(value: Any, where: str = "") -> Any:
    """JSON-ready value: floats to 12 significant digits, NaN/inf -> None."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if type(value).__name__ in ("NAType", "NaTType"):
        return None
    if not isinstance(value, (int, float, dict, list, tuple)) and hasattr(value, "item"):
        value = value.item()  # numpy scalar
        if value is None or isinstance(value, (bool, str)):
            return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            return None
        rounded = float(f"{value:.12g}")
        return 0.0 if rounded == 0 else rounded
    if isinstance(value, dict):
        return {str(k): _normalize(v, f"{where}.{k}") for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_normalize(v, where) for v in value]
    raise TypeError(f"result {where or ''} is not JSON-serialisable: {value!r}")


def dump_json(path: str | os.PathLike, obj: Any) -> None:
    """Write ``obj`` deterministically: normalised values, sorted keys, indent 1, LF,
    trailing newline; atomically (a temporary file renamed into place)."""
    path = Path(path)
    text = (
        json.dumps(_normalize(obj), sort_keys=True, indent=1, ensure_ascii=False, allow_nan=False)
        + "\n"
    )
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    with open(tmp, "w", encoding="utf-8", newline="\n") as fh:
        fh.write(text)
    os.replace(tmp, path)


def _params_dict(params: AnalysisParams | dict | None) -> dict:
    if params is None:
        return AnalysisParams().to_dict()
    if isinstance(params, AnalysisParams):
        return params.to_dict()
    return dict(params)


def merge_results(
    results_dir: str | os.PathLike,
    cohort_name: str,
    params: AnalysisParams | dict | None,
    data_sha256: str,
) -> dict:
    """Merge every partial ``results_dir/*.json`` (each ``{key: value}``) into the
    ``results.json`` payload ``{"cohort", "parameters", "data_sha256", "results"}``.

    A key defined by two partials with different values (after normalisation) raises
    :class:`ResultsConflictError` naming the key, both files and both values.
    """
    results_dir = Path(results_dir)
    merged: dict[str, Any] = {}
    origin: dict[str, str] = {}
    conflicts = []
    files = (
        sorted(p for p in results_dir.glob("*.json") if not p.name.startswith("."))
        if results_dir.is_dir()
        else []
    )
    for path in files:
        try:
            with open(path, encoding="utf-8") as fh:
                part = json.load(fh)
        except (OSError, ValueError) as exc:
            raise RunError(f"cannot read partial results {path}: {exc}") from None
        if not isinstance(part, dict):
            raise RunError(f"partial results {path} must be a JSON object {{key: value}}")
        for key, value in part.items():
            value = _normalize(value, key)
            if key in merged and merged[key] != value:
                conflicts.append(
                    f"  {key}: {origin[key]} has {json.dumps(merged[key])}, "
                    f"{path.name} has {json.dumps(value)}"
                )
                continue
            if key not in merged:
                merged[key] = value
                origin[key] = path.name
    if conflicts:
        raise ResultsConflictError(
            "result keys defined twice with different values:\n" + "\n".join(conflicts)
        )
    return {
        "cohort": cohort_name,
        "parameters": _normalize(_params_dict(params)),
        "data_sha256": data_sha256,
        "results": dict(sorted(merged.items())),
    }


def write_results_json(path: str | os.PathLike, payload: dict) -> None:
    """Write a ``results.json`` payload deterministically (see :func:`dump_json`)."""
    missing = {"cohort", "parameters", "data_sha256", "results"} - set(payload)
    if missing:
        raise ValueError(f"results payload lacks {sorted(missing)}")
    dump_json(path, payload)
