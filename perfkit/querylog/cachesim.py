"""Cache replay: what a query cache in front of the database would have saved.

The log is walked in time order. For every statement:

* a write (see ``classify``) invalidates, in every simulated cache, the entries that
  read a table it writes, and again when its transaction commits (another session may
  have cached the old rows in between);
* a read that ``classify`` calls cacheable, and that the session rules
  (:class:`~perfkit.querylog.classify.SessionTracker`) do not block, looks up the key
  ``(fingerprint id, statement text, parameter values)`` (for the simple protocol the
  values are in the text; a prepared statement may embed literals the fingerprint
  ignores, so its text is part of the key too); a fresh entry is a hit and saves the
  statement's logged duration, otherwise it is a miss and the result is stored.

Several TTLs are simulated in one pass with one :class:`~perfkit.cache.core.QueryCache`
each, so each TTL's figures equal a separate run with that TTL alone.

Logs are not always in time order (several files, a newest-first export). Events pass
through :class:`ReorderBuffer`, a bounded buffer that sorts anything within its window;
an event that arrives later than the window allows is replayed at the time of the
latest event already replayed, and counted in ``late_events`` so reports can say the
figures are approximate.
"""

from __future__ import annotations

import heapq
from collections import deque
from collections.abc import Hashable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field

from perfkit.cache.core import QueryCache
from perfkit.querylog.classify import SessionTracker, StatementClass

__all__ = [
    "CacheReplay",
    "FingerprintCache",
    "ReorderBuffer",
    "ReplayEvent",
    "ReplayItem",
    "TtlResult",
]


@dataclass(frozen=True, slots=True)
class TtlResult:
    """Figures for one simulated TTL."""

    ttl_s: float
    max_entries: int | None
    hits: int
    misses: int
    saved_ms: float
    invalidations: int
    evictions: int

    @property
    def hit_rate(self) -> float:
        n = self.hits + self.misses
        return self.hits / n if n else 0.0


@dataclass
class FingerprintCache:
    """Per-fingerprint replay counters (mutable while replaying)."""

    hits: list[int]
    saved_ms: list[float]
    lookups: int = 0  # cacheable reads that reached the cache (hits + misses, every TTL)
    bypassed: dict[str, int] = field(default_factory=dict)  # session-rule reason -> calls


# (ts, seq, fingerprint id, key, duration ms, session, class)
ReplayEvent = tuple[float, int, str, Hashable, "float | None", Hashable, StatementClass]
# what callers queue: (ts, fingerprint id, key, duration ms, session, class)
ReplayItem = tuple[float, str, Hashable, "float | None", Hashable, StatementClass]


class ReorderBuffer:
    """Yield events in time order within a window of ``size`` events.

    Logs are nearly always in order, so in-order events go to a FIFO (O(1)) and only
    events older than the FIFO's newest go to a heap (O(log n)); the two sorted sources
    are merged when events leave the window.
    """

    __slots__ = ("_fifo", "_heap", "_size", "last_ts", "late_events")

    def __init__(self, size: int = 100_000) -> None:
        self._fifo: deque[ReplayEvent] = deque()
        self._heap: list[ReplayEvent] = []
        self._size = max(1, size)
        self.late_events = 0
        self.last_ts = float("-inf")

    def push(self, ev: ReplayEvent) -> ReplayEvent | None:
        """Add ``ev``; returns the event that leaves the window, if any."""
        fifo = self._fifo
        if not fifo or ev[0] >= fifo[-1][0]:
            fifo.append(ev)
        else:
            heapq.heappush(self._heap, ev)
        if len(fifo) + len(self._heap) > self._size:
            return self._pop()
        return None

    def drain(self) -> Iterator[ReplayEvent]:
        while self._fifo or self._heap:
            yield self._pop()

    def _pop(self) -> ReplayEvent:
        fifo, heap = self._fifo, self._heap
        from_heap = heap and (not fifo or heap[0] < fifo[0])
        ev = heapq.heappop(heap) if from_heap else fifo.popleft()
        if ev[0] < self.last_ts:
            self.late_events += 1
            return (self.last_ts, *ev[1:])
        self.last_ts = ev[0]
        return ev


class CacheReplay:
    """Replay statements through one simulated cache per TTL."""

    def __init__(
        self,
        ttls: Sequence[float],
        max_entries: int | None = None,
        reorder_window: int = 100_000,
    ) -> None:
        if not ttls:
            raise ValueError("at least one TTL is needed")
        self.ttls = tuple(float(t) for t in ttls)
        self.max_entries = max_entries
        self._caches = [QueryCache(t, max_entries=max_entries) for t in self.ttls]
        self._saved = [0.0] * len(self.ttls)
        self._sessions = SessionTracker()
        self._buffer = ReorderBuffer(reorder_window)
        self._seq = 0
        self.per_fingerprint: dict[str, FingerprintCache] = {}
        self.events = 0

    @property
    def late_events(self) -> int:
        return self._buffer.late_events

    def add(
        self,
        ts: float,
        fp_id: str,
        key: Hashable,
        duration_ms: float | None,
        session: Hashable,
        cls: StatementClass,
    ) -> None:
        """Queue one statement (``key`` identifies its parameter values)."""
        self.add_many(((ts, fp_id, key, duration_ms, session, cls),))

    def add_many(self, items: Iterable[ReplayItem]) -> None:
        """Queue statements in log order: ``(ts, fp_id, key, duration_ms, session, cls)``.

        The same as ``add`` for each; the reorder buffer's in-order path is inlined
        here (a log replays hundreds of thousands of statements).
        """
        buf = self._buffer
        fifo, heap, size = buf._fifo, buf._heap, buf._size
        push, pop = heapq.heappush, buf._pop
        seq = self._seq
        ready: list[ReplayEvent] = []
        out = ready.append
        for ts, fp_id, key, duration, session, cls in items:
            seq += 1
            ev = (ts, seq, fp_id, key, duration, session, cls)
            if not fifo or ts >= fifo[-1][0]:
                fifo.append(ev)
            else:
                push(heap, ev)
            if len(fifo) + len(heap) > size:
                out(pop())
        self._seq = seq
        if ready:
            self._replay(ready)

    def finish(self) -> tuple[TtlResult, ...]:
        self._replay(self._buffer.drain())
        return self.results()

    def results(self) -> tuple[TtlResult, ...]:
        out = []
        for ttl, cache, saved in zip(self.ttls, self._caches, self._saved, strict=True):
            s = cache.stats
            out.append(
                TtlResult(
                    ttl_s=ttl,
                    max_entries=self.max_entries,
                    hits=s.hits,
                    misses=s.misses,
                    saved_ms=saved,
                    invalidations=s.invalidations,
                    evictions=s.evictions,
                )
            )
        return tuple(out)

    def _replay(self, events: Iterable[ReplayEvent]) -> None:
        caches = self._caches
        n = len(caches)
        saved = self._saved
        per_fp = self.per_fingerprint
        sessions = self._sessions
        observe = sessions.observe
        count = 0
        for now, _, fp_id, key, duration, session, cls in events:
            count += 1
            blocked = observe(session, cls)
            written = cls.tables_written
            if written:
                for cache in caches:
                    cache.invalidate(written, now)
            committed = sessions.committed_tables
            if committed:
                for cache in caches:
                    cache.invalidate(committed, now)
            if not cls.cacheable:
                continue
            fpc = per_fp.get(fp_id)
            if fpc is None:
                fpc = per_fp[fp_id] = FingerprintCache([0] * n, [0.0] * n)
            if blocked is not None:
                fpc.bypassed[blocked] = fpc.bypassed.get(blocked, 0) + 1
                continue
            fpc.lookups += 1
            tables = cls.tables_read
            for i, cache in enumerate(caches):
                if cache.get(key, now) is not None:
                    fpc.hits[i] += 1
                    if duration is not None:
                        fpc.saved_ms[i] += duration
                        saved[i] += duration
                else:
                    cache.put(key, None, tables, 0, now)
        self.events += count
