"""Scrub executed notebooks so that re-running unchanged code on unchanged data
gives byte-identical files (DESIGN §6: ``make book`` twice leaves ``git status``
clean).

What papermill / nbclient add that changes on every run, and what we do:

* ``metadata.papermill``: ``start_time``, ``end_time``, ``duration``, ``exception``,
  ``environment_variables`` and ``version`` are removed; ``input_path`` and
  ``output_path`` (absolute, or inside a temporary build folder) are replaced by the
  repo-relative source and the notebook's file name. ``parameters`` and
  ``default_parameters`` are kept: they document how the page was made.
* cell metadata ``papermill`` (timings, status), ``execution`` (iopub timestamps),
  ``ExecuteTime`` (the classic extension) are removed.
* ``metadata.language_info.version`` (the patch level of the kernel's Python) and
  ``metadata.widgets`` (widget state with random model ids) are removed.
* cell ids: papermill gives the injected parameters cell a random id; it becomes
  ``injected-parameters``. Missing or duplicate ids become ``cell-<index>``.
* outputs: widget ``model_id`` values are renumbered in order of appearance and
  ``at 0x7f...`` memory addresses in ``text/plain`` reprs become ``at 0x0``.
* writing: nbformat's JSON writer (sorted keys, indent 1, ``ensure_ascii=False``),
  LF line endings and exactly one trailing newline.
* ``redact={name: text}`` (``ivigbook run`` on non-synthetic data): the value of each
  named parameter is replaced by ``text`` in ``metadata.papermill.parameters`` and in
  the injected-parameters cell, so the location of a patient-data export (whose folder
  names may carry names or record numbers) is not published with the book.

Outputs themselves (numbers, tables, PNG figures) must be deterministic at the
source: seeds from parameters, explicit sort orders, fixed figure size and dpi.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import nbformat

__all__ = ["scrub_notebook", "write_notebook", "scrub_file", "stderr_outputs", "NB_VERSION"]

NB_VERSION = 4

_PAPERMILL_VOLATILE = (
    "start_time",
    "end_time",
    "duration",
    "exception",
    "environment_variables",
    "version",
)
_CELL_VOLATILE = ("papermill", "execution", "ExecuteTime")
_ADDRESS = re.compile(r"\bat 0x[0-9a-fA-F]{6,16}\b")
_WIDGET_MIME = "application/vnd.jupyter.widget-view+json"
INJECTED_TAG = "injected-parameters"


def scrub_notebook(
    nb: nbformat.NotebookNode,
    *,
    input_path: str | None = None,
    output_path: str | None = None,
    redact: dict[str, str] | None = None,
) -> nbformat.NotebookNode:
    """Remove run-dependent noise from an executed notebook (in place; also returned).

    ``input_path`` / ``output_path``: what to record in ``metadata.papermill``
    instead of the paths papermill saw (pass repo-relative / bare file names).
    ``redact``: parameters whose recorded value is replaced (see the module notes).
    """
    md = nb.setdefault("metadata", nbformat.NotebookNode())
    pm = md.get("papermill")
    if pm is not None:
        for key in _PAPERMILL_VOLATILE:
            pm.pop(key, None)
        if input_path is not None:
            pm["input_path"] = input_path
        if output_path is not None:
            pm["output_path"] = output_path
        for name, text in (redact or {}).items():
            if name in pm.get("parameters", {}):
                pm["parameters"][name] = text
    md.pop("widgets", None)
    lang = md.get("language_info")
    if lang is not None:
        lang.pop("version", None)

    seen_ids: set[str] = set()
    widget_ids: dict[str, str] = {}
    for index, cell in enumerate(nb.get("cells", [])):
        cmd = cell.setdefault("metadata", nbformat.NotebookNode())
        for key in _CELL_VOLATILE:
            cmd.pop(key, None)
        # parameter cells are listed on the reproducibility page, not shown in chapters
        tags = cmd.get("tags", [])
        if (INJECTED_TAG in tags or "parameters" in tags) and "remove-cell" not in tags:
            cmd["tags"] = list(tags) + ["remove-cell"]
        if redact and INJECTED_TAG in cmd.get("tags", []):
            cell["source"] = _redact_source(cell.get("source", ""), redact)
        # ids
        if INJECTED_TAG in cmd.get("tags", []):
            cid = INJECTED_TAG
        else:
            cid = cell.get("id")
        if not cid or cid in seen_ids:
            cid = f"cell-{index}"
        while cid in seen_ids:  # pragma: no cover - pathological duplicate names
            cid = cid + "-"
        seen_ids.add(cid)
        cell["id"] = cid
        # outputs
        for out in cell.get("outputs", []) if cell.get("cell_type") == "code" else []:
            data = out.get("data")
            if not data:
                continue
            text = data.get("text/plain")
            if isinstance(text, list):
                text = "".join(text)
            if isinstance(text, str) and _ADDRESS.search(text):
                data["text/plain"] = _ADDRESS.sub("at 0x0", text)
            widget = data.get(_WIDGET_MIME)
            if isinstance(widget, dict) and "model_id" in widget:
                mid = widget["model_id"]
                widget["model_id"] = widget_ids.setdefault(mid, f"widget-{len(widget_ids)}")
    # ids are part of nbformat 4.5
    if nb.get("nbformat") == 4 and nb.get("nbformat_minor", 0) < 5:
        nb["nbformat_minor"] = 5
    return nb


def _redact_source(source, redact: dict[str, str]) -> str:
    """The injected-parameters cell with ``name = <anything>`` lines set to the redaction."""
    text = "".join(source) if isinstance(source, list) else source
    for name, value in redact.items():
        text = re.sub(
            rf"(?m)^{re.escape(name)}\s*=.*$",
            lambda _m, n=name, v=value: f"{n} = {json.dumps(v, ensure_ascii=False)}",
            text,
        )
    return text


def write_notebook(nb: nbformat.NotebookNode, path: str | os.PathLike) -> None:
    """Write ``nb`` deterministically (nbformat JSON, LF, one trailing newline), atomically."""
    path = Path(path)
    text = nbformat.writes(nb, version=NB_VERSION)
    text = text.rstrip("\n") + "\n"
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    with open(tmp, "w", encoding="utf-8", newline="\n") as fh:
        fh.write(text)
    os.replace(tmp, path)


def scrub_file(
    path: str | os.PathLike,
    *,
    input_path: str | None = None,
    output_path: str | None = None,
    redact: dict[str, str] | None = None,
) -> nbformat.NotebookNode:
    """Read, scrub and rewrite one executed notebook; returns the scrubbed notebook."""
    path = Path(path)
    nb = nbformat.read(path, as_version=NB_VERSION)
    scrub_notebook(
        nb,
        input_path=input_path,
        output_path=path.name if output_path is None else output_path,
        redact=redact,
    )
    write_notebook(nb, path)
    return nb


def stderr_outputs(nb: nbformat.NotebookNode) -> list[tuple[int | None, str]]:
    """``(execution_count, text)`` of every stderr stream output (warnings leak here).

    Such text often contains absolute paths of the machine that ran the notebook, which
    makes committed notebooks differ between clones; the runner reports them.
    """
    found = []
    for cell in nb.get("cells", []):
        if cell.get("cell_type") != "code":
            continue
        for out in cell.get("outputs", []):
            if out.get("output_type") == "stream" and out.get("name") == "stderr":
                text = out.get("text", "")
                found.append(
                    (cell.get("execution_count"), "".join(text) if isinstance(text, list) else text)
                )
    return found
