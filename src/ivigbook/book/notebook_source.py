"""Chapter notebook sources: MyST Markdown notebooks paired with jupytext.

The chapters live in ``notebooks/NN_name.md``: a jupytext YAML header
(``format_name: myst``, the ``python3`` kernelspec), Markdown cells as Markdown
(consecutive ones separated by ``+++``) and code cells as ``{code-cell} ipython3``
blocks with ``:tags:`` options. They are committed without outputs, read well in a
diff, and open as notebooks in JupyterLab with the jupytext extension.

The runner never executes the Markdown itself: :func:`executable` converts a source
into a temporary ``.ipynb`` in the worker's scratch folder (or an in-memory notebook)
which papermill executes into ``<out>/NN_name.ipynb`` (:func:`executed_name`).
Nothing is ever written next to the sources. Plain ``.ipynb`` sources (the runner's
tests use them) are read and executed as they are.

Cell ids: the MyST format has no place for them, and jupytext gives every cell of a
text notebook a random id on each read. :func:`read` therefore numbers the cells
``<NN>-<index>`` (``02-00``, ``02-01``, ...), the ids the former generated
``.ipynb`` sources had, so executed notebooks stay byte-identical from run to run.
An id names a cell's position: inserting a cell renumbers the cells after it.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import jupytext
import nbformat

__all__ = [
    "SOURCE_SUFFIXES",
    "FORMAT",
    "NUMBERED",
    "is_source",
    "sources_in",
    "executed_name",
    "read",
    "cell_id",
    "executable",
    "writes_myst",
]

#: suffixes of notebook sources, in order of preference when both exist for one stem
#: (a ``.ipynb`` next to a ``.md`` is the copy jupytext pairs with it in JupyterLab)
SOURCE_SUFFIXES = (".md", ".ipynb")
#: jupytext format of the Markdown sources
FORMAT = "md:myst"
#: file name of a numbered chapter source
NUMBERED = re.compile(r"^\d\d_[A-Za-z0-9_]+\.(?:md|ipynb)$")


def is_source(path: str | os.PathLike) -> bool:
    """Is ``path`` a notebook source by its name (``.md`` or ``.ipynb``, not hidden)?"""
    path = Path(path)
    return path.suffix in SOURCE_SUFFIXES and not path.name.startswith(".")


def sources_in(folder: str | os.PathLike) -> list[Path]:
    """The notebook sources of ``folder`` (unsorted); of a ``.md`` and a ``.ipynb`` with
    the same stem only the ``.md`` is returned."""
    found: dict[str, Path] = {}
    for path in Path(folder).iterdir():
        if not (path.is_file() and is_source(path)):
            continue
        known = found.get(path.stem)
        if known is None or (
            SOURCE_SUFFIXES.index(path.suffix) < SOURCE_SUFFIXES.index(known.suffix)
        ):
            found[path.stem] = path
    return list(found.values())


def executed_name(source: str | os.PathLike) -> str:
    """File name of the executed notebook of ``source``: always ``<stem>.ipynb``."""
    return Path(source).stem + ".ipynb"


def cell_id(stem: str, index: int) -> str:
    """Stable id of cell ``index`` of the notebook ``stem`` (``02_skin`` -> ``02-05``)."""
    prefix = stem[:2] if stem[:2].isdigit() else stem
    return f"{prefix}-{index:02d}"


def read(source: str | os.PathLike) -> nbformat.NotebookNode:
    """The notebook of ``source`` (nbformat 4.5).

    ``.md``: parsed by jupytext as MyST; the ``jupytext`` header metadata (format and
    jupytext version) is dropped, so the executed notebook does not change with the
    jupytext release, and the cells get the ids of :func:`cell_id`. ``.ipynb``: read
    as it is.
    """
    source = Path(source)
    if source.suffix != ".md":
        return nbformat.read(source, as_version=4)

    nb = jupytext.read(source, fmt=FORMAT)
    nb.metadata.pop("jupytext", None)
    for index, cell in enumerate(nb.cells):
        cell["id"] = cell_id(source.stem, index)
    nb.nbformat, nb.nbformat_minor = 4, max(5, nb.get("nbformat_minor", 0))
    return nb


def executable(
    source: str | os.PathLike, folder: str | os.PathLike | None = None
) -> str | nbformat.NotebookNode:
    """What to hand papermill for ``source``: a ``.ipynb`` source's own path; for a
    ``.md`` source the path of a converted ``<folder>/<stem>.ipynb`` (``folder``: the
    worker's scratch folder, deleted after the run), or with no ``folder`` the
    converted notebook itself."""
    source = Path(source)
    if source.suffix != ".md":
        return str(source)
    nb = read(source)
    if folder is None:
        return nb
    path = Path(folder) / executed_name(source)
    nbformat.write(nb, path)
    return str(path)


def writes_myst(nb: nbformat.NotebookNode) -> str:
    """``nb`` as the text of a MyST Markdown source (jupytext; outputs are not kept)."""

    nb = nbformat.from_dict(nb)
    lang = nb.metadata.setdefault("language_info", {})
    lang.setdefault("name", "python")
    lang.setdefault("pygments_lexer", "ipython3")  # -> ```{code-cell} ipython3
    return jupytext.writes(nb, fmt=FORMAT)
