"""Every module, function or file the source's docstrings and the docs point to exists.

A docstring that names ``perfkit.cli._app`` after it was renamed sends the next reader
nowhere; so does README's `perfkit/querylog/parallel.py` after a move. Each dotted
``perfkit.x.y`` reference (``perfkit.x``, :mod:/:func:/:class:/... roles) is imported and
looked up; each ``perfkit/...`` or ``tests/...`` path must exist in the checkout."""

from __future__ import annotations

import importlib
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
_DOTTED = re.compile(
    r"(?:``|:(?:mod|func|class|meth|attr|data|exc|obj):`~?)"
    r"(?P<name>perfkit(?:\.[A-Za-z_]\w*)+)(?:\(\))?`"
)
_PATH = re.compile(
    r"(?<![\w./-])(?P<path>(?:perfkit|tests|benchmarks|sample_configs|docs|tools)/[\w./-]*\w)"
)
_NOT_NAMES = {"perfkit.toml", "perfkit.check.toml"}


def _sources() -> Iterator[Path]:
    yield from sorted((ROOT / "perfkit").rglob("*.py"))


def _docs() -> Iterator[Path]:
    yield ROOT / "README.md"
    yield from sorted((ROOT / "docs").glob("*.md"))


def _dotted() -> list[tuple[str, str]]:
    found = set()
    for path in _sources():
        for match in _DOTTED.finditer(path.read_text(encoding="utf-8")):
            name = match["name"]
            if name not in _NOT_NAMES:
                found.add((str(path.relative_to(ROOT)), name))
    return sorted(found)


def _paths() -> list[tuple[str, str]]:
    found = set()
    for path in [*_docs(), *_sources()]:
        for match in _PATH.finditer(path.read_text(encoding="utf-8")):
            found.add((str(path.relative_to(ROOT)), match["path"].rstrip(".")))
    return sorted(found)


def resolve(name: str) -> bool:
    """Whether ``name`` is a module, or an attribute (chain) of the longest module prefix."""
    parts = name.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj: object = importlib.import_module(".".join(parts[:cut]))
        except ModuleNotFoundError:
            continue
        for attr in parts[cut:]:
            if not hasattr(obj, attr):
                return False
            obj = getattr(obj, attr)
        return True
    return False


@pytest.mark.parametrize(("where", "name"), _dotted())
def test_dotted_reference_exists(where: str, name: str) -> None:
    assert resolve(name), f"{where} names {name}, which does not exist"


@pytest.mark.parametrize(("where", "path"), _paths())
def test_path_reference_exists(where: str, path: str) -> None:
    assert (ROOT / path).exists(), f"{where} points to {path}, which does not exist"


def test_resolve_tells_missing_names() -> None:
    assert resolve("perfkit.errors.PerfkitError")
    assert resolve("perfkit.cli.PerfkitGroup.invoke")
    assert not resolve("perfkit.cli._app")  # what errors.py used to point to
    assert not resolve("perfkit.no_such_module")
