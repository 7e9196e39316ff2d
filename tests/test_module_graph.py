"""perfkit's modules import each other without cycles, and shared types live in leaves.

The graph counts every import that runs (module level and inside functions), not the
ones under ``if TYPE_CHECKING:``. A cycle hidden in a function (``render`` importing
``terminal`` lazily while ``terminal`` imports ``render``) still ties the two modules:
what they share goes to a module both import (``report/cells.py``).
"""

from __future__ import annotations

import ast
import functools

from test_private_names import perfkit_modules

# (importer, imported): edges that are really needed. Keep this tiny and say why.
ALLOWED_EDGES = frozenset(
    {
        # the wrapped formats (docker, CRI, ...) look their inner format up in the
        # registry when they read, which is the package that lists them
        ("perfkit.querylog.readers.formats.wrapped", "perfkit.querylog.readers.formats"),
    }
)


def runtime_imports(tree: ast.Module, known: set[str]) -> set[str]:
    """The perfkit modules ``tree`` imports when it runs (``from pkg import mod`` counts
    ``pkg.mod``)."""
    found: set[str] = set()

    class Visitor(ast.NodeVisitor):
        def visit_If(self, node: ast.If) -> None:
            if isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING":
                for n in node.orelse:
                    self.visit(n)
                return
            self.generic_visit(node)

        def visit_Import(self, node: ast.Import) -> None:
            found.update(a.name for a in node.names if a.name in known)

        def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
            if node.module is None or node.level or node.module not in known:
                return
            found.add(node.module)
            for a in node.names:
                if f"{node.module}.{a.name}" in known:
                    found.add(f"{node.module}.{a.name}")

    Visitor().visit(tree)
    return found


@functools.lru_cache(maxsize=1)
def graph() -> dict[str, set[str]]:
    mods = perfkit_modules()
    known = set(mods)
    return {
        m: {i for i in runtime_imports(t, known) if i != m and (m, i) not in ALLOWED_EDGES}
        for m, t in mods.items()
    }


def cycles(g: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in sorted(g[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(g):
        if v not in index:
            visit(v)
    return out


def test_no_import_cycles_between_perfkit_modules() -> None:
    found = cycles(graph())
    assert not found, "\n".join(" <-> ".join(c) for c in found)


def test_the_cycle_check_sees_imports_inside_functions() -> None:
    g = {
        "perfkit.report.render": {"perfkit.report.terminal"},  # a lazy import in a function
        "perfkit.report.terminal": {"perfkit.report.render"},
        "perfkit.report.cells": set(),
    }
    assert cycles(g) == [["perfkit.report.render", "perfkit.report.terminal"]]
    tree = ast.parse(
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n"
        "    from perfkit.a import X\n"
        "def f() -> None:\n"
        "    from perfkit import b\n"
        "    import perfkit.c\n"
    )
    known = {"perfkit", "perfkit.a", "perfkit.b", "perfkit.c"}
    assert runtime_imports(tree, known) == {"perfkit", "perfkit.b", "perfkit.c"}


def test_shared_result_types_are_in_leaf_modules() -> None:
    g = graph()
    assert not {m for m in g["perfkit.pool.model"] if m.startswith("perfkit.pool")}
    assert g["perfkit.report.cells"] <= {"perfkit.report.model", "perfkit.report"}
    assert "perfkit.report.render" not in g["perfkit.report.terminal"]
