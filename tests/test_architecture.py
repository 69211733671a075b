"""The package's layout: stages whose imports flow one way, no cycles, small modules."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "ivigbook"
#: stages in import order: a module imports only from its own stage or earlier ones
STAGES = (
    "errors",
    "system",
    "data",
    "config",
    "derive",
    "stats",
    "results",
    "chapters",
    "report",
    "book",
    "synth",
    "cli",
    "__main__",
)
MAX_LINES = 600  # per module; the calibrated synthetic cohorts are exempt


def _module(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _stage(module: str) -> int | None:
    parts = module.split(".")
    return STAGES.index(parts[1]) if len(parts) > 1 else None


def _imports(path: Path) -> list[tuple[str, int, bool]]:
    """(imported ivigbook module, line, at module level?) for every import in ``path``."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    top = {id(n) for n in tree.body}
    out = []
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.ImportFrom)
            and node.level == 0
            and node.module
            and node.module.startswith("ivigbook")
        ):
            base = node.module
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                name = (
                    sub
                    if (PACKAGE.parent / (sub.replace(".", "/") + ".py")).exists()
                    or (PACKAGE.parent / sub.replace(".", "/")).is_dir()
                    else base
                )
                out.append((name, node.lineno, id(node) in top))
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("ivigbook"):
                    out.append((alias.name, node.lineno, id(node) in top))
    return out


MODULES = {_module(p): p for p in sorted(PACKAGE.rglob("*.py"))}


@pytest.mark.parametrize("name", sorted(MODULES))
def test_imports_flow_one_way_and_are_at_the_top(name):
    path = MODULES[name]
    mine = _stage(name)
    for target, line, top in _imports(path):
        if target == "ivigbook":  # the package's version only
            continue
        if name == "ivigbook.cli" and target == "ivigbook.cli":  # `python -m ivigbook.cli`
            continue
        assert top, f"{path.name}:{line}: import of {target} inside a function or block"
        theirs = _stage(target)
        assert mine is None or theirs is None or theirs <= mine, (
            f"{name} (stage {STAGES[mine]}) imports {target} "
            f"(stage {STAGES[theirs]}), a later stage"
        )


def test_no_import_cycles():
    graph = {
        name: {t for t, _, _ in _imports(p) if t in MODULES and t != name}
        for name, p in MODULES.items()
    }
    state: dict[str, int] = {}

    def visit(node, trail):
        state[node] = 1
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                raise AssertionError("import cycle: " + " -> ".join(trail + [node, nxt]))
            if nxt not in state:
                visit(nxt, trail + [node])
        state[node] = 2

    for name in sorted(graph):
        if name not in state:
            visit(name, [])


@pytest.mark.parametrize("name", sorted(n for n in MODULES if ".synth." not in n))
def test_modules_stay_small(name):
    lines = MODULES[name].read_text(encoding="utf-8").count("\n")
    assert lines <= MAX_LINES, f"{name} has {lines} lines (limit {MAX_LINES})"


def test_every_stage_is_a_package_or_module():
    for stage in STAGES:
        assert (PACKAGE / stage).is_dir() or (PACKAGE / f"{stage}.py").is_file(), stage
