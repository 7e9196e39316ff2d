"""perfkit uses its dependencies' public names only (``typer._click`` moved once already).

An import of a dependency's private module or name (``typer._click``, ``from rich._x``,
``from click.core import _helper``) is a crash waiting for the dependency's next release.
Imports under ``if TYPE_CHECKING:`` never run and are allowed (the type checker then
says when they move).
"""

from __future__ import annotations

import ast
import importlib.util
import sys
from pathlib import Path
from typing import Any

import pytest
import typer

from perfkit.cli import clicklib

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

ROOT = Path(__file__).resolve().parent.parent
SOURCES = ("perfkit", "tests", "benchmarks", "tools")


def _is_type_checking(test: ast.expr) -> bool:
    name = test.id if isinstance(test, ast.Name) else getattr(test, "attr", None)
    return name == "TYPE_CHECKING"


def runtime_imports(tree: ast.Module) -> list[tuple[int, str, list[str]]]:
    """``(line, module, names)`` of every import that runs (not under TYPE_CHECKING)."""
    out: list[tuple[int, str, list[str]]] = []

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            for stmt in node.orelse:
                visit(stmt)
            return
        if isinstance(node, ast.Import):
            out.extend((node.lineno, a.name, []) for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            out.append((node.lineno, node.module, [a.name for a in node.names]))
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return out


def private_uses(source: str) -> list[str]:
    """What ``source`` imports from a third-party package's private parts."""
    found = []
    for line, module, names in runtime_imports(ast.parse(source)):
        top = module.split(".")[0]
        if top == "perfkit" or top in sys.stdlib_module_names or top == "__future__":
            continue
        parts = module.split(".")
        bad = [p for p in parts if p.startswith("_")]
        bad += [n for n in names if n.startswith("_") and not n.startswith("__")]
        if bad:
            found.append(f"line {line}: {module} ({', '.join(bad)})")
    return found


def test_the_rule_finds_private_imports() -> None:
    assert private_uses("from typer._click.core import Context") == [
        "line 1: typer._click.core (_click)"
    ]
    assert private_uses("import rich._log_render") == ["line 1: rich._log_render (_log_render)"]
    assert private_uses("from rich.progress import _TrackThread") == [
        "line 1: rich.progress (_TrackThread)"
    ]
    assert private_uses("def f():\n    from click._compat import x\n") == [
        "line 2: click._compat (_compat)"
    ]
    # never run: allowed; stdlib and perfkit's own modules are not this rule's business
    assert private_uses("if TYPE_CHECKING:\n    from typer._click.core import Context\n") == []
    assert private_uses("import _thread\nfrom collections import abc\n") == []
    assert private_uses("from typing import TYPE_CHECKING\nimport typer\n") == []


def test_no_module_imports_a_private_module_of_a_dependency() -> None:
    offenders = []
    for folder in SOURCES:
        for path in sorted((ROOT / folder).rglob("*.py")):
            if any(part.startswith(".") for part in path.relative_to(ROOT).parts):
                continue
            for use in private_uses(path.read_text(encoding="utf-8")):
                offenders.append(f"{path.relative_to(ROOT)}: {use}")
    assert offenders == []


def test_clicklib_gives_the_classes_typer_really_raises() -> None:
    # the click that typer's public classes come from, whatever its module is named
    assert issubclass(typer.BadParameter, clicklib.UsageError)
    assert issubclass(clicklib.UsageError, clicklib.ClickException)
    assert issubclass(clicklib.NoSuchOption, clicklib.UsageError)
    assert issubclass(clicklib.MissingParameter, clicklib.BadParameter)
    assert issubclass(typer.Context, clicklib.Context)
    assert clicklib.BadParameter is typer.BadParameter
    assert {s.name for s in clicklib.ParameterSource} >= {"COMMANDLINE", "DEFAULT", "DEFAULT_MAP"}
    assert clicklib.get_current_context(silent=True) is None


def _min_versions() -> Any:
    spec = importlib.util.spec_from_file_location(
        "min_versions", ROOT / "tools" / "min_versions.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_dependency_declares_a_floor_the_min_versions_job_can_pin() -> None:
    tool = _min_versions()
    data = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    deps = data["project"]["dependencies"]
    pins = tool.pins()
    assert len(pins) == len(deps)
    assert "typer==0.29" in pins  # typer._click and the parameter descriptors start there
    assert all("==" in p and "[" not in p for p in pins)  # constraints take no extras


def test_a_dependency_without_a_floor_is_refused(tmp_path: Path) -> None:
    tool = _min_versions()
    bad = tmp_path / "pyproject.toml"
    bad.write_text('[project]\ndependencies = ["rich>=13.8", "typer"]\n')
    with pytest.raises(tool.FloorError, match="'typer' declares no floor"):
        tool.pins(bad)
    ok = tmp_path / "ok.toml"
    ok.write_text(
        '[project]\ndependencies = ["psycopg[binary]>=3.2", "tomli>=2.0; python_version < \'3.11\'"]\n'
    )
    assert tool.pins(ok) == ["psycopg==3.2", "tomli==2.0 ; python_version < '3.11'"]
