"""The package's import graph has no cycle, counting imports inside functions too.

An import inside a function hides a cycle from Python (it runs late) but not from a reader: two
modules that import each other are one module in two files. This test parses every module of
``cxr_core`` and the paper packages with :mod:`ast`, takes every ``import`` statement wherever it
stands (module level, functions, methods; not ``if TYPE_CHECKING:`` blocks, which never run), and
fails on any cycle, naming its modules in order.

Edges: ``import a.b.c`` and ``from a.b import c`` (``c`` a module) point at ``a.b.c``; ``from a.b
import name`` (a function or class) points at ``a.b``. A package's ``__init__`` executing on the way
to its submodule is not an edge: every package imports its own submodules, and that order is fixed.

Also: no module in ``cxr_core`` is longer than :data:`MAX_LINES` lines (docs/DESIGN.md §2).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGES = ("cxr_core", "coronet_tf", "cvrnet_tf", "coronanet_tf")
MAX_LINES = 450
#: Modules still over MAX_LINES, each being split by another change; empty when all are done.
LONG_MODULES_IN_PROGRESS: frozenset[str] = frozenset()


def module_files() -> dict[str, Path]:
    """``{"cxr_core.data.tables.readers": path, "cxr_core": path/__init__.py, ...}`` for every package module."""
    found = {}
    for package in PACKAGES:
        for path in sorted((REPO / package).rglob("*.py")):
            parts = list(path.relative_to(REPO).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            found[".".join(parts)] = path
    return found


def _is_type_checking(node: ast.AST) -> bool:
    test = getattr(node, "test", None)
    return isinstance(node, ast.If) and (
        (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING")
        or (isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")
    )


def _imports(tree: ast.AST):
    """Every Import / ImportFrom node, at any depth, outside ``if TYPE_CHECKING:`` blocks."""
    stack = [tree]
    while stack:
        node = stack.pop()
        if _is_type_checking(node):
            stack.extend(node.orelse)
            continue
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node
        stack.extend(ast.iter_child_nodes(node))


def import_graph(modules: dict[str, Path]) -> dict[str, set[str]]:
    """Module -> the package modules it imports (see the module docstring for what counts)."""
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        is_package = path.name == "__init__.py"
        targets: set[str] = set()
        for node in _imports(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.Import):
                targets.update(alias.name for alias in node.names)
                continue
            base = node.module or ""
            if node.level:
                anchor = name.split(".") if is_package else name.split(".")[:-1]
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join(anchor + ([base] if base else []))
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                targets.add(sub if sub in modules else base)
        graph[name] = {t for t in targets if t in modules and t != name}
    return graph


def find_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One cycle (``[a, b, ..., a]``) per strongly connected component with more than one module."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    components: list[list[str]] = []
    counter = [0]

    def visit(v: str) -> None:  # Tarjan; the graph has a few hundred nodes, recursion is fine
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                components.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    cycles, seen = [], set()
    for component in components:
        for start in component:  # a shortest cycle through each member, each cycle once
            cycle = _cycle_through(graph, set(component), start)
            key = frozenset(zip(cycle, cycle[1:]))
            if key not in seen:
                seen.add(key)
                cycles.append(cycle)
    return cycles


def _cycle_through(graph: dict[str, set[str]], component: set[str], start: str) -> list[str]:
    """A shortest cycle from ``start`` back to it inside ``component`` (breadth-first)."""
    parents = {start: None}
    queue = [start]
    while queue:
        v = queue.pop(0)
        for w in sorted(graph[v] & component):
            if w == start:
                path, node = [], v
                while node is not None:
                    path.append(node)
                    node = parents[node]
                return path[::-1] + [start]
            if w not in parents:
                parents[w] = v
                queue.append(w)
    raise AssertionError(f"no cycle through {start} in {sorted(component)}")


def test_the_checker_finds_cycles_inside_functions(tmp_path):
    """The checker itself: a cycle hidden in a function, and one through ``from pkg import mod``."""
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("import os\n\ndef f():\n    from pkg.b import g\n    return g\n")
    (pkg / "b.py").write_text("from pkg import c\n")
    (pkg / "c.py").write_text("from . import a\n")
    (pkg / "d.py").write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from pkg import a\n")
    modules = {"pkg": pkg / "__init__.py", **{f"pkg.{m}": pkg / f"{m}.py" for m in "abcd"}}
    graph = import_graph(modules)
    assert graph["pkg.a"] == {"pkg.b"} and graph["pkg.b"] == {"pkg.c"} and graph["pkg.c"] == {"pkg.a"}
    assert graph["pkg.d"] == set(), "TYPE_CHECKING imports never run"
    assert find_cycles(graph) == [["pkg.a", "pkg.b", "pkg.c", "pkg.a"]]


def test_no_import_cycles():
    graph = import_graph(module_files())
    assert len(graph) > 30, "the packages were not found"
    cycles = find_cycles(graph)
    assert not cycles, "import cycles (imports inside functions included):\n" + "\n".join(
        " -> ".join(c) for c in cycles
    )


def test_core_modules_are_small():
    too_long = {}
    for name, path in module_files().items():
        if name.split(".")[0] != "cxr_core" or name in LONG_MODULES_IN_PROGRESS:
            continue
        n = len(path.read_text().splitlines())
        if n > MAX_LINES:
            too_long[name] = n
    assert not too_long, f"cxr_core modules over {MAX_LINES} lines (a module that outgrows this becomes a folder named after its job, not a split with re-exports): {too_long}"


@pytest.mark.parametrize("module", ["coronanet_tf.training", "coronet_tf", "cvrnet_tf", "coronanet_tf"])
def test_paper_packages_do_not_import_the_orchestrator(module):
    """A family's fit gets its model variants through arguments, never from ``cxr_core.protocol.run``."""
    graph = import_graph(module_files())
    assert "cxr_core.protocol.run" not in graph[module]


def test_no_facade_re_exports():
    """Every name a cxr_core module lists in ``__all__`` is defined there, and no import is kept only to be
    re-exported (``noqa: F401``): each name has one home, imported from it."""
    offenders = []
    for name, path in module_files().items():
        if name.split(".")[0] != "cxr_core" or path.name == "__init__.py":
            continue
        source = path.read_text(encoding="utf-8")
        tree = ast.parse(source)
        defined = {n.name for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))}
        for node in tree.body:
            if isinstance(node, (ast.Assign, ast.AnnAssign)):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                defined |= {t.id for t in targets if isinstance(t, ast.Name)}
        for node in tree.body:
            if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets):
                offenders += [f"{name}.{e.value}" for e in node.value.elts if e.value not in defined]
        offenders += [f"{name}: line {i}" for i, line in enumerate(source.splitlines(), 1)
                      if line.lstrip().startswith("from cxr_core") and "noqa: F401" in line]
    assert not offenders, f"re-exported names (import them from their own module): {offenders}"
