"""The query-cache engine shared by ``analyze``'s replay and the live ``CachedExecutor``.

API
---
``QueryCache(ttl_s, max_entries=None, max_bytes=None)`` — a TTL + LRU cache of query
results. It is pure: every call takes ``now`` (seconds, any clock) so the simulator can
drive it with log time and the executor with ``time.monotonic()``. It is not thread-safe;
callers that share it between threads hold a lock around each call.

* ``get(key, now) -> CacheEntry | None`` — a hit returns the entry (and refreshes its LRU
  position); a missing or expired entry is a miss (expired entries are dropped).
  Entries are fresh while ``now - stored_at < ttl_s``.
* ``put(key, value, tables, size, now)`` — store (or replace) a result that read
  ``tables``; evicts least-recently-used entries beyond ``max_entries``/``max_bytes``.
  A value larger than ``max_bytes`` is not stored (counted in ``stats.rejected``).
* ``invalidate(tables, now) -> int`` — drop every entry that read any of ``tables``
  (matched on the unqualified name, see :func:`table_key`;
  ``"*"`` drops everything); returns how many live entries were dropped.
* ``stats`` — a :class:`CacheStats` snapshot: hits, misses, evictions, invalidations,
  expirations, rejected, entries, bytes.

Keys are any hashable value; by convention ``(fingerprint_id, params)``. Which statements
may be cached or must invalidate is decided by ``perfkit.querylog.classify.classify``.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from collections.abc import Hashable, Iterable
from dataclasses import dataclass
from typing import Any

__all__ = ["ALL_TABLES", "CacheEntry", "CacheStats", "QueryCache"]

ALL_TABLES = "*"


@dataclass(frozen=True, slots=True)
class CacheStats:
    hits: int
    misses: int
    evictions: int
    invalidations: int
    expirations: int
    rejected: int
    entries: int
    bytes: int

    @property
    def hit_rate(self) -> float:
        total = self.hits + self.misses
        return self.hits / total if total else 0.0


class CacheEntry:
    """A stored result. ``value`` is whatever the caller stored."""

    __slots__ = ("bare", "expires_at", "size", "stored_at", "tables", "value")

    def __init__(
        self,
        value: Any,
        tables: frozenset[str],
        size: int,
        stored_at: float,
        expires_at: float,
        bare: tuple[str, ...] = (),
    ) -> None:
        self.bare = bare  # the unqualified table names (the cache's index keys)
        self.value = value
        self.tables = tables
        self.size = size
        self.stored_at = stored_at
        self.expires_at = expires_at

    def __repr__(self) -> str:
        return (
            f"CacheEntry(size={self.size}, stored_at={self.stored_at}, tables={set(self.tables)})"
        )


def table_key(name: str) -> str:
    """The unqualified table name reads and writes are matched on (search_path is
    unknown, so ``s.t`` and ``t`` must meet: over-invalidating is safe, missing is not)."""
    return name.rsplit(".", 1)[-1]


class QueryCache:
    """TTL + LRU cache with table-based invalidation. See the module docstring."""

    __slots__ = (
        "_bare",
        "_by_table",
        "_bytes",
        "_data",
        "_expiry",
        "evictions",
        "expirations",
        "hits",
        "invalidations",
        "max_bytes",
        "max_entries",
        "misses",
        "rejected",
        "ttl_s",
    )

    def __init__(
        self, ttl_s: float, max_entries: int | None = None, max_bytes: int | None = None
    ) -> None:
        if ttl_s <= 0:
            raise ValueError("ttl_s must be positive")
        if max_entries is not None and max_entries < 1:
            raise ValueError("max_entries must be at least 1")
        if max_bytes is not None and max_bytes < 0:
            raise ValueError("max_bytes must not be negative")
        self.ttl_s = float(ttl_s)
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self._data: OrderedDict[Hashable, CacheEntry] = OrderedDict()
        # unqualified table name -> keys of entries that read it
        self._by_table: dict[str, set[Hashable]] = {}
        # (expires_at, key, entry) in put order; with one TTL that is expiry order, so
        # expired entries are purged from the front without scanning the cache.
        self._expiry: deque[tuple[float, Hashable, CacheEntry]] = deque()
        # frozenset of table names -> their unqualified names (few distinct sets)
        self._bare: dict[frozenset[str], tuple[str, ...]] = {}
        self._bytes = 0
        self.hits = 0
        self.misses = 0
        self.evictions = 0
        self.invalidations = 0
        self.expirations = 0
        self.rejected = 0

    def __len__(self) -> int:
        return len(self._data)

    def __contains__(self, key: object) -> bool:
        return key in self._data

    @property
    def stats(self) -> CacheStats:
        return CacheStats(
            hits=self.hits,
            misses=self.misses,
            evictions=self.evictions,
            invalidations=self.invalidations,
            expirations=self.expirations,
            rejected=self.rejected,
            entries=len(self._data),
            bytes=self._bytes,
        )

    def get(self, key: Hashable, now: float) -> CacheEntry | None:
        entry = self._data.get(key)
        if entry is None:
            self.misses += 1
            return None
        if now >= entry.expires_at:
            self._remove(key, entry)
            self.expirations += 1
            self.misses += 1
            return None
        self._data.move_to_end(key)
        self.hits += 1
        return entry

    def put(self, key: Hashable, value: Any, tables: Iterable[str], size: int, now: float) -> None:
        expiry = self._expiry
        if expiry and expiry[0][0] <= now:
            self._purge_expired(now)
        data = self._data
        old = data.get(key)
        if old is not None:
            self._remove(key, old)
        if self.max_bytes is not None and size > self.max_bytes:
            self.rejected += 1
            return
        tabs = tables if isinstance(tables, frozenset) else frozenset(tables)
        bare = self._bare_names(tabs)
        entry = CacheEntry(value, tabs, size, now, now + self.ttl_s, bare)
        data[key] = entry
        self._bytes += size
        by_table = self._by_table
        for b in bare:
            keys = by_table.get(b)
            if keys is None:
                by_table[b] = {key}
            else:
                keys.add(key)
        expiry.append((entry.expires_at, key, entry))
        max_entries, max_bytes = self.max_entries, self.max_bytes
        while (max_entries is not None and len(data) > max_entries) or (
            max_bytes is not None and self._bytes > max_bytes
        ):
            k, e = data.popitem(last=False)
            self._unindex(k, e)
            self.evictions += 1

    def invalidate(self, tables: Iterable[str], now: float) -> int:
        """Drop entries that read any of ``tables``; returns the live entries dropped."""
        dropped = 0
        names = (
            self._bare_names(tables)
            if isinstance(tables, frozenset)
            else [table_key(t) for t in tables]
        )
        for t in names:
            if t == ALL_TABLES:
                dropped += self.clear(now)
                continue
            keys = self._by_table.pop(t, None)
            if not keys:
                continue
            for k in keys:
                e = self._data.get(k)
                if e is None:
                    continue
                self._remove(k, e)
                if now < e.expires_at:
                    dropped += 1
        self.invalidations += dropped
        return dropped

    def _bare_names(self, tables: frozenset[str]) -> tuple[str, ...]:
        # the same few table sets come again and again: their unqualified names are
        # memoised per set
        bare = self._bare.get(tables)
        if bare is None:
            if len(self._bare) > 4096:
                self._bare.clear()
            bare = self._bare[tables] = tuple({table_key(t) for t in tables})
        return bare

    def clear(self, now: float) -> int:
        """Drop everything; returns (without counting) the number of live entries."""
        live = sum(1 for e in self._data.values() if now < e.expires_at)
        self._data.clear()
        self._by_table.clear()
        self._expiry.clear()
        self._bytes = 0
        return live

    def _remove(self, key: Hashable, entry: CacheEntry) -> None:
        del self._data[key]
        self._unindex(key, entry)

    def _unindex(self, key: Hashable, entry: CacheEntry) -> None:
        self._bytes -= entry.size
        by_table = self._by_table
        for b in entry.bare:
            keys = by_table.get(b)
            if keys is not None:
                keys.discard(key)
                if not keys:
                    del by_table[b]

    def _purge_expired(self, now: float) -> None:
        expiry = self._expiry
        data = self._data
        while expiry and expiry[0][0] <= now:
            _, k, e = expiry.popleft()
            if data.get(k) is e:
                self._remove(k, e)
                self.expirations += 1
        # Entries replaced or dropped early leave stale tuples behind; keep the deque
        # from growing past the live entries when nothing expires for a long time.
        if len(expiry) > 2 * len(data) + 1024:
            self._expiry = deque(item for item in expiry if data.get(item[1]) is item[2])
