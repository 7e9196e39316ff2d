"""The thread-safe result store behind :class:`~perfkit.cache.executor.CachedExecutor`.

:class:`ResultCache` wraps the pure :class:`~perfkit.cache.core.QueryCache` engine (the
one ``analyze``'s simulation uses) with a lock, wall-clock time, per-call TTLs and the
"time saved" account. Several executors (one per connection, as ``perfkit replay``
does) may share one ``ResultCache``, like several service instances sharing a cache.

Per-call TTLs: the engine has one TTL per instance (expiry order is insertion order),
so each distinct TTL gets its own engine; bounds (entries, bytes) apply to each of
them. At most :data:`MAX_TTLS` distinct TTLs are allowed.

A read that ran while a write invalidated one of its tables is not stored: its result
may predate the write (see :meth:`ResultCache.epoch` / ``put(..., since=)``). Such
refused stores are counted (``stats.refused_stores``).

Ordered invalidation (replays): when every call carries its position in a log
(``order=``), a store is refused exactly when an invalidation of one of its tables
that comes *later* in the log was already applied (versioned invalidation per table),
whatever the wall-clock timing of the threads; an invalidation earlier in the log
never refuses it. This is the order ``analyze``'s simulation applies them in.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable, Hashable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple

from perfkit.cache.core import ALL_TABLES, CacheStats, QueryCache
from perfkit.querylog.classify import table_key

__all__ = ["MAX_TTLS", "CacheSnapshot", "ResultCache", "Stored", "estimate_size", "freeze_params"]

MAX_TTLS = 16
DEFAULT_MAX_ENTRIES = 10_000
DEFAULT_MAX_BYTES = 64 * 1024 * 1024


class Stored(NamedTuple):
    """One cached result: the rows and what it cost to get them. (A tuple of immutable
    values, so the garbage collector stops tracking it: big caches stay cheap to scan.)"""

    rows: tuple[Any, ...]
    columns: tuple[str, ...]
    rowcount: int
    status: str | None
    execution_ms: float


@dataclass(frozen=True, slots=True)
class CacheSnapshot(CacheStats):
    """Counters of a :class:`ResultCache` (all TTLs together), and the time it saved."""

    saved_ms: float
    #: results not stored because a write invalidated one of their tables meanwhile
    refused_stores: int = 0


class _Unhashable(TypeError):
    pass


_SCALARS = frozenset({int, float, bool, bytes})


def _freeze_value(v: Any) -> Hashable:
    t = type(v)
    if t is str or v is None:
        return v  # type: ignore[no-any-return]
    if t in _SCALARS:
        # 1, 1.0 and True are equal as dict keys but are different SQL values.
        return (t, v)
    if isinstance(v, (list, tuple)):
        return (type(v).__name__, tuple(_freeze_value(x) for x in v))
    if isinstance(v, Mapping):
        return ("dict", tuple(sorted((str(k), _freeze_value(x)) for k, x in v.items())))
    if isinstance(v, (bytearray, memoryview)):
        return ("bytes", bytes(v))
    try:
        hash(v)
    except TypeError:
        raise _Unhashable(type(v).__name__) from None
    # 1, 1.0 and True are equal as dict keys but are different SQL values.
    return (v.__class__, v)


def freeze_params(params: Any) -> Hashable:
    """A hashable, type-exact form of query parameters (sequence or mapping).

    Raises ``TypeError`` for values that cannot be frozen (their results are not cached).
    """
    if params is None:
        return None
    if type(params) is tuple:
        fv = _freeze_value
        return tuple([fv(v) for v in params])
    if isinstance(params, Mapping):
        return ("dict", tuple(sorted((str(k), _freeze_value(v)) for k, v in params.items())))
    return tuple(_freeze_value(v) for v in params)


def estimate_size(rows: Iterable[Any]) -> int:
    """Approximate memory of ``rows`` (Python object sizes of rows and their values)."""
    getsizeof = sys.getsizeof
    total = 64
    for r in rows:
        total += getsizeof(r)
        values: Iterable[Any]
        if isinstance(r, (tuple, list)):
            values = r
        elif isinstance(r, dict):
            values = r.values()
        else:
            values = getattr(r, "__dict__", {}).values()
        for v in values:
            total += getsizeof(v)
    return total


class ResultCache:
    """Thread-safe TTL + LRU store of query results with table invalidation.

    ``clock`` gives "now" in seconds (``time.monotonic`` by default); every method
    also takes an explicit ``now`` so a replay can run the cache on the log's clock.
    """

    def __init__(
        self,
        ttl: float = 60.0,
        *,
        max_entries: int | None = DEFAULT_MAX_ENTRIES,
        max_bytes: int | None = DEFAULT_MAX_BYTES,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if ttl <= 0:
            raise ValueError("ttl must be positive")
        self.ttl = float(ttl)
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self.clock = clock
        self._lock = threading.Lock()
        self._caches: dict[float, QueryCache] = {}
        self._saved_ms = 0.0
        # bumped by every invalidation of a table (and "*" for all of them)
        self._epochs: dict[str, int] = {}
        self._epoch_all = 0
        # the latest log position (``order``) that invalidated each table ("*": all)
        self._orders: dict[str, int] = {}
        self._order_all: int | None = None
        self._refused = 0
        self._engine(self.ttl)

    def _engine(self, ttl: float) -> QueryCache:
        eng = self._caches.get(ttl)
        if eng is None:
            if len(self._caches) >= MAX_TTLS:
                raise ValueError(f"at most {MAX_TTLS} distinct TTLs per cache")
            eng = self._caches[ttl] = QueryCache(
                ttl, max_entries=self.max_entries, max_bytes=self.max_bytes
            )
        return eng

    def get(
        self, key: Hashable, ttl: float | None = None, now: float | None = None
    ) -> Stored | None:
        """The fresh result stored under ``key``, or None (a miss)."""
        t = self.ttl if ttl is None else float(ttl)
        with self._lock:
            entry = self._engine(t).get(key, self.clock() if now is None else now)
            if entry is None:
                return None
            stored: Stored = entry.value
            self._saved_ms += stored.execution_ms
            return stored

    def epoch(self, tables: Iterable[str]) -> int:
        """A token for :meth:`put`'s ``since``: changes when any of ``tables`` is invalidated."""
        with self._lock:
            return self._epoch_all + sum(self._epochs.get(table_key(t), 0) for t in tables)

    def put(
        self,
        key: Hashable,
        stored: Stored,
        tables: Iterable[str],
        *,
        ttl: float | None = None,
        now: float | None = None,
        since: int | None = None,
        order: int | None = None,
    ) -> bool:
        """Store a result that read ``tables``; returns whether it was stored.

        With ``order`` (the read's position in a log), the result is refused when an
        invalidation of one of ``tables`` later in the log was already applied.
        Otherwise, with ``since`` (from :meth:`epoch` taken before the query ran), a
        result raced by any invalidation is refused. Refusals are counted."""
        t = self.ttl if ttl is None else float(ttl)
        tabs = frozenset(tables)
        size = estimate_size(stored.rows) + sum(len(c) for c in stored.columns)
        with self._lock:
            if order is not None:
                if self._invalidated_after(tabs, order):
                    self._refused += 1
                    return False
            elif since is not None:
                current = self._epoch_all + sum(self._epochs.get(table_key(x), 0) for x in tabs)
                if current != since:
                    self._refused += 1
                    return False
            self._engine(t).put(key, stored, tabs, size, self.clock() if now is None else now)
            return True

    def _invalidated_after(self, tables: frozenset[str], order: int) -> bool:
        latest = self._order_all
        if latest is not None and latest > order:
            return True
        orders = self._orders
        return any(orders.get(table_key(x), order) > order for x in tables)

    def invalidate(
        self, tables: Iterable[str], now: float | None = None, *, order: int | None = None
    ) -> int:
        """Drop every entry that read any of ``tables`` ("*" = all); returns how many.
        ``order``: the write's position in a log (see :meth:`put`)."""
        tabs = list(tables)
        if not tabs:
            return 0
        with self._lock:
            n = self.clock() if now is None else now
            orders = self._orders
            for t in tabs:
                if t == ALL_TABLES:
                    self._epoch_all += 1
                    if order is not None and (self._order_all is None or self._order_all < order):
                        self._order_all = order
                else:
                    k = table_key(t)
                    self._epochs[k] = self._epochs.get(k, 0) + 1
                    if order is not None and orders.get(k, -1) < order:
                        orders[k] = order
            return sum(eng.invalidate(tabs, n) for eng in self._caches.values())

    def clear(self) -> None:
        with self._lock:
            n = self.clock()
            for eng in self._caches.values():
                eng.clear(n)
            self._epoch_all += 1

    @property
    def stats(self) -> CacheSnapshot:
        with self._lock:
            snaps = [eng.stats for eng in self._caches.values()]
            saved = self._saved_ms
            refused = self._refused
        return CacheSnapshot(
            hits=sum(s.hits for s in snaps),
            misses=sum(s.misses for s in snaps),
            evictions=sum(s.evictions for s in snaps),
            invalidations=sum(s.invalidations for s in snaps),
            expirations=sum(s.expirations for s in snaps),
            rejected=sum(s.rejected for s in snaps),
            entries=sum(s.entries for s in snaps),
            bytes=sum(s.bytes for s in snaps),
            saved_ms=saved,
            refused_stores=refused,
        )
