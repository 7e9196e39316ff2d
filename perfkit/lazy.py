"""Lazy imports for your own code: pay for a heavy module on first use, not at cold start.

::

    from perfkit import lazy

    pd = lazy.module("pandas")                     # like `import pandas as pd`, deferred
    DataFrame = lazy.attr("pandas", "DataFrame")   # like `from pandas import DataFrame`

    def handler(event, context):
        return pd.DataFrame(event["rows"])         # pandas is imported here, once

* ``lazy.module(name)`` returns a module object that imports the real module on
  the first attribute access (reading, setting, deleting, ``dir()``) and then
  forwards every access to it. ``sys.modules`` is not touched: other code that
  imports the module normally is unaffected.
* ``lazy.attr(module, name)`` stands for one object of a module (a class, a
  function, or a submodule). Calling it, reading its attributes, and
  ``isinstance(x, proxy)`` / ``issubclass(c, proxy)`` resolve it;
  ``lazy.resolve(proxy)`` returns the real object (use that where the exact
  object matters, e.g. as a base class or a dict key). ``lazy.loaded(proxy)``
  tells whether the import happened. (These are functions, not methods, so that
  no attribute of the real object is hidden.)
* Tests: with ``PERFKIT_LAZY_EAGER=1`` in the environment, or after
  ``lazy.set_eager(True)``, or inside ``with lazy.eager():``, proxies are resolved
  when they are created, so a missing dependency or a typo fails at import time.
  ``lazy.resolve_all()`` resolves every proxy created so far (a one-line smoke test).
* Thread-safe: the first access from several threads imports once.

On Python 3.15+, PEP 810's ``lazy import pandas`` does this in the language.
"""

from __future__ import annotations

import importlib
import os
import types
import weakref
from _thread import RLock
from typing import Any

__all__ = [
    "attr",
    "eager",
    "is_eager",
    "loaded",
    "module",
    "resolve",
    "resolve_all",
    "set_eager",
]

ENV_EAGER = "PERFKIT_LAZY_EAGER"
_eager_override: bool | None = None
_registry: weakref.WeakSet[Any] = weakref.WeakSet()


def is_eager() -> bool:
    """True when proxies resolve at creation (tests): set_eager() wins over the env var."""
    if _eager_override is not None:
        return _eager_override
    return os.environ.get(ENV_EAGER, "").strip().lower() in ("1", "true", "yes", "on")


def set_eager(flag: bool | None) -> bool | None:
    """Force eager (True) or lazy (False) mode; None defers to ``PERFKIT_LAZY_EAGER``.

    Returns the previous setting so it can be restored.
    """
    global _eager_override
    previous = _eager_override
    _eager_override = flag
    return previous


class eager:
    """Context manager: proxies created inside resolve at once."""

    def __init__(self, flag: bool = True) -> None:
        self._flag = flag
        self._previous: bool | None = None

    def __enter__(self) -> None:
        self._previous = set_eager(self._flag)

    def __exit__(self, *exc: object) -> None:
        set_eager(self._previous)


class LazyModule(types.ModuleType):
    """A stand-in for a module, imported on first attribute access."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        object.__setattr__(self, "_LazyModule__lock", RLock())
        object.__setattr__(self, "_LazyModule__real", None)

    def _perfkit_load(self) -> types.ModuleType:
        real: types.ModuleType | None = object.__getattribute__(self, "_LazyModule__real")
        if real is not None:
            return real
        with object.__getattribute__(self, "_LazyModule__lock"):
            real = object.__getattribute__(self, "_LazyModule__real")
            if real is None:
                real = importlib.import_module(self.__name__)
                object.__setattr__(self, "_LazyModule__real", real)
            return real

    def _perfkit_loaded(self) -> bool:
        return object.__getattribute__(self, "_LazyModule__real") is not None

    def __getattr__(self, name: str) -> Any:
        return getattr(self._perfkit_load(), name)

    def __setattr__(self, name: str, value: Any) -> None:
        setattr(self._perfkit_load(), name, value)

    def __delattr__(self, name: str) -> None:
        delattr(self._perfkit_load(), name)

    def __dir__(self) -> list[str]:
        return dir(self._perfkit_load())

    def __repr__(self) -> str:
        state = "loaded" if self._perfkit_loaded() else "not loaded yet"
        return f"<lazy module {self.__name__!r} ({state})>"


class LazyAttr:
    """A stand-in for ``from <module> import <name>``, resolved on first use."""

    __slots__ = ("__weakref__", "_lock", "_module", "_name", "_value")

    _MISSING: Any = object()

    def __init__(self, module: str, name: str) -> None:
        self._module = module
        self._name = name
        self._lock = RLock()
        self._value: Any = LazyAttr._MISSING

    def _perfkit_resolve(self) -> Any:
        value = self._value
        if value is not LazyAttr._MISSING:
            return value
        with self._lock:
            if self._value is LazyAttr._MISSING:
                mod = importlib.import_module(self._module)
                try:
                    self._value = getattr(mod, self._name)
                except AttributeError:
                    # `from pkg import submodule` works on submodules that are not loaded yet
                    try:
                        self._value = importlib.import_module(f"{self._module}.{self._name}")
                    except ModuleNotFoundError:
                        raise ImportError(
                            f"cannot import name {self._name!r} from {self._module!r}",
                            name=self._module,
                        ) from None
            return self._value

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self._perfkit_resolve()(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._perfkit_resolve(), name)

    def __instancecheck__(self, obj: object) -> bool:
        return isinstance(obj, self._perfkit_resolve())

    def __subclasscheck__(self, cls: type) -> bool:
        return issubclass(cls, self._perfkit_resolve())

    def __repr__(self) -> str:
        if self._value is not LazyAttr._MISSING:
            return f"<lazy {self._module}.{self._name}: {self._value!r}>"
        return f"<lazy {self._module}.{self._name} (not loaded yet)>"


def module(name: str) -> Any:
    """A module imported on first attribute access (at once in eager mode)."""
    proxy = LazyModule(name)
    _registry.add(proxy)
    if is_eager():
        proxy._perfkit_load()
    return proxy


def attr(module: str, name: str) -> Any:
    """``from module import name``, resolved on first use (at once in eager mode)."""
    proxy = LazyAttr(module, name)
    _registry.add(proxy)
    if is_eager():
        proxy._perfkit_resolve()
    return proxy


def resolve(proxy: Any) -> Any:
    """The real module or object behind a proxy (importing it if needed).

    Anything that is not a proxy is returned unchanged.
    """
    if isinstance(proxy, LazyModule):
        return proxy._perfkit_load()
    if type(proxy) is LazyAttr:
        return proxy._perfkit_resolve()
    return proxy


def loaded(proxy: Any) -> bool:
    """Whether the proxy's import has happened (True for anything that is not a proxy)."""
    if isinstance(proxy, LazyModule):
        return proxy._perfkit_loaded()
    if type(proxy) is LazyAttr:
        return proxy._value is not LazyAttr._MISSING
    return True


def resolve_all() -> list[str]:
    """Resolve every live proxy; returns what was resolved. Raises the first import error."""
    done: list[str] = []
    for proxy in list(_registry):
        resolve(proxy)
        if isinstance(proxy, LazyModule):
            done.append(proxy.__name__)
        else:
            done.append(f"{proxy._module}.{proxy._name}")
    return sorted(done)
