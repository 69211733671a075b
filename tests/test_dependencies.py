"""Declared runtime dependencies are exactly what the package imports (plus two programs)."""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
#: declared dependencies the package runs as programs rather than imports
PROGRAMS = {
    "jupyter-book": "the Sphinx build (`jupyter-book build`)",
    "ipykernel": "the kernel every chapter notebook runs in",
}


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _declared() -> set[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return {_norm(re.split(r"[<>=!~ \[;]", d, maxsplit=1)[0]) for d in project["dependencies"]}


def _imported() -> set[str]:
    """Distributions of the third-party top-level modules imported under src/ivigbook."""
    names: set[str] = set()
    for path in (ROOT / "src" / "ivigbook").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names.update(a.name.split(".")[0] for a in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module.split(".")[0])
    names -= set(sys.stdlib_module_names) | {"ivigbook", "__future__"}
    dists = packages_distributions()
    missing = sorted(n for n in names if n not in dists)
    assert not missing, f"imported but not installed: {missing}"
    return {_norm(dists[n][0]) for n in names}


def test_every_import_is_declared():
    undeclared = sorted(_imported() - _declared())
    assert not undeclared, f"imported by the package but not declared: {undeclared}"


def test_every_declared_dependency_is_used():
    unused = sorted(_declared() - _imported() - set(PROGRAMS))
    assert not unused, f"declared but never imported by the package: {unused}"
