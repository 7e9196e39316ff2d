"""perfkit.lazy: module and attribute proxies that import on first use."""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from perfkit import lazy

MODULE = """\
import time
import builtins

builtins.__dict__.setdefault("_pk_lazy_loads", []).append(__name__)
time.sleep(0.05)


class Thing:
    pass


def make():
    return Thing()


VALUE = 41
"""


@pytest.fixture
def mods(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Fresh modules lzmod_a/lzmod_b/lzpkg.sub that record each time they are executed."""
    for name in ("lzmod_a", "lzmod_b"):
        (tmp_path / f"{name}.py").write_text(MODULE)
    (tmp_path / "lzpkg").mkdir()
    (tmp_path / "lzpkg" / "__init__.py").write_text("")
    (tmp_path / "lzpkg" / "sub.py").write_text(MODULE)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delenv(lazy.ENV_EAGER, raising=False)
    import builtins

    loads: list[str] = []
    builtins._pk_lazy_loads = loads  # type: ignore[attr-defined]
    previous = lazy.set_eager(None)
    yield loads
    lazy.set_eager(previous)
    del builtins._pk_lazy_loads  # type: ignore[attr-defined]
    for name in ("lzmod_a", "lzmod_b", "lzpkg", "lzpkg.sub"):
        sys.modules.pop(name, None)


def test_module_is_imported_on_first_attribute_access(mods: list[str]) -> None:
    m = lazy.module("lzmod_a")
    assert mods == [] and "lzmod_a" not in sys.modules
    assert not lazy.loaded(m)
    assert repr(m) == "<lazy module 'lzmod_a' (not loaded yet)>"
    assert m.__name__ == "lzmod_a" and mods == []  # the name needs no import
    assert m.VALUE == 41
    assert m.make().__class__ is m.Thing
    assert mods == ["lzmod_a"] and lazy.loaded(m)
    assert lazy.resolve(m) is sys.modules["lzmod_a"]
    assert "make" in dir(m)
    m.VALUE = 42  # writes go to the real module
    assert sys.modules["lzmod_a"].VALUE == 42
    assert mods == ["lzmod_a"]


def test_attr_stands_for_from_import(mods: list[str]) -> None:
    make = lazy.attr("lzmod_b", "make")
    thing_cls = lazy.attr("lzmod_b", "Thing")
    sub = lazy.attr("lzpkg", "sub")  # a submodule, like `from lzpkg import sub`
    assert mods == []
    obj = make()
    assert isinstance(obj, thing_cls)
    assert issubclass(type(obj), thing_cls)
    assert lazy.resolve(thing_cls) is sys.modules["lzmod_b"].Thing
    assert sub.VALUE == 41
    assert mods == ["lzmod_b", "lzpkg.sub"]
    missing = lazy.attr("lzmod_b", "nope")
    with pytest.raises(ImportError, match="cannot import name 'nope' from 'lzmod_b'"):
        missing()


def test_missing_module_fails_on_first_use_or_at_once_in_eager_mode(
    mods: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    m = lazy.module("lzmod_missing")
    with pytest.raises(ModuleNotFoundError):
        _ = m.anything
    monkeypatch.setenv(lazy.ENV_EAGER, "1")
    assert lazy.is_eager()
    with pytest.raises(ModuleNotFoundError):
        lazy.module("lzmod_missing")


def test_eager_switches(mods: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    with lazy.eager():
        lazy.module("lzmod_a")
    assert mods == ["lzmod_a"]
    lazy.set_eager(True)
    lazy.attr("lzmod_b", "VALUE")
    assert mods == ["lzmod_a", "lzmod_b"]
    # set_eager wins over the environment
    monkeypatch.setenv(lazy.ENV_EAGER, "1")
    lazy.set_eager(False)
    assert not lazy.is_eager()
    lazy.set_eager(None)
    assert lazy.is_eager()


def test_resolve_all_is_a_smoke_test_for_every_proxy(mods: list[str]) -> None:
    keep = [lazy.module("lzmod_a"), lazy.attr("lzpkg", "sub")]
    assert mods == []
    assert set(lazy.resolve_all()) >= {"lzmod_a", "lzpkg.sub"}
    assert sorted(mods) == ["lzmod_a", "lzpkg.sub"]
    assert all(lazy.loaded(p) for p in keep)


def test_concurrent_first_use_imports_once(mods: list[str]) -> None:
    m = lazy.module("lzmod_a")
    make = lazy.attr("lzmod_b", "make")
    barrier = threading.Barrier(8)
    seen: list[object] = []

    def worker() -> None:
        barrier.wait()
        seen.append(m.Thing)
        seen.append(type(make()))

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(mods) == ["lzmod_a", "lzmod_b"]
    assert len({id(x) for x in seen}) == 2


def test_importing_perfkit_lazy_is_cheap() -> None:
    import subprocess

    out = subprocess.run(
        [sys.executable, "-c", "import sys, perfkit.lazy; print(sorted(sys.modules))"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    # no third-party or heavy stdlib modules come with it
    for heavy in ("typer", "rich", "pandas", "asyncio", "perfkit.coldstart", "perfkit.cli"):
        assert f"'{heavy}'" not in out
