"""Query caching: the shared engine (``core``) used by ``analyze``'s replay and the executor."""

from perfkit.cache.core import ALL_TABLES, CacheEntry, CacheStats, QueryCache

__all__ = ["ALL_TABLES", "CacheEntry", "CacheStats", "QueryCache"]

# The executors import perfkit.querylog.classify, which imports perfkit.cache.core:
# loaded lazily to keep that import cycle-free.
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from perfkit.cache.async_executor import AsyncCachedExecutor as AsyncCachedExecutor
    from perfkit.cache.executor import CachedExecutor as CachedExecutor
    from perfkit.cache.executor import ExecResult as ExecResult
    from perfkit.cache.executor import ExecutorStats as ExecutorStats
    from perfkit.cache.executor import SlowStatement as SlowStatement
    from perfkit.cache.store import ResultCache as ResultCache

_LAZY = {
    "AsyncCachedExecutor": "perfkit.cache.async_executor",
    "CachedExecutor": "perfkit.cache.executor",
    "ExecResult": "perfkit.cache.executor",
    "ExecutorStats": "perfkit.cache.executor",
    "SlowStatement": "perfkit.cache.executor",
    "ResultCache": "perfkit.cache.store",
}
__all__ += list(_LAZY)


def __getattr__(name: str) -> object:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(name)
