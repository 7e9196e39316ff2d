"""The accumulator of an ``analyze`` run: what the hot loop adds per event.

:class:`RunAccumulator` reads events in one pass (:meth:`RunAccumulator.consume`) or
merges ranges read by other processes (:func:`consume_range` in the workers of
:mod:`perfkit.querylog.parallel`, then :meth:`RunAccumulator.merge` in file order, with
the same figures as one pass). :mod:`perfkit.querylog.aggregate` turns it into the
report. Per event the work is a memoised fingerprint lookup and a few dict/arith
operations; counters live in locals inside the loops.
"""

from __future__ import annotations

import datetime as dt
import gc
import heapq
import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from xxhash import xxh3_64_intdigest

from perfkit.querylog.cachesim import CacheReplay, ReplayItem
from perfkit.querylog.classify import StatementClass, classify
from perfkit.querylog.fingerprint import Fingerprint, Fingerprinter
from perfkit.querylog.model import LogEvent
from perfkit.querylog.stats import DurationDigest, Timeline, bucket_index

if TYPE_CHECKING:
    from perfkit.querylog.aggregate import AnalyzeOptions
    from perfkit.querylog.events import EventCollector

__all__ = [
    "MAX_NAMES",
    "FingerprintAcc",
    "RangeTotals",
    "Record",
    "RunAccumulator",
    "consume_range",
    "utc_timestamp",
]

#: How many distinct databases/users/applications are kept per fingerprint.
MAX_NAMES = 10
#: replay items go to the cache simulator in blocks of this many (one call per block)
REPLAY_BLOCK = 4096

#: one event of a range, for the order-dependent work done in file order:
#: (ts or None, fingerprint id, cache key hash, duration or None, session)
Record = tuple["float | None", str, int, "float | None", "str | int | None"]


class FingerprintAcc:
    """One fingerprint's figures while a run is read."""

    __slots__ = (
        "apps",
        "calls",
        "cls",
        "dbs",
        "digest",
        "example",
        "first",
        "first_f",
        "last",
        "last_f",
        "stats_total",
        "users",
    )

    def __init__(self, ev: LogEvent) -> None:
        self.calls = 0
        self.digest = DurationDigest()
        self.stats_total = 0.0  # pg_stat_statements rows: total time without per-call data
        self.first: dt.datetime | None = None
        self.last: dt.datetime | None = None
        self.first_f = math.inf
        self.last_f = -math.inf
        # insertion-ordered (dicts, not sets): "the first MAX_NAMES seen" must merge
        # across the ranges of a parallel run exactly as in one pass
        self.dbs: dict[str, None] = {}
        self.users: dict[str, None] = {}
        self.apps: dict[str, None] = {}
        self.example = ev
        self.cls: StatementClass | None = None

    def merge(self, other: FingerprintAcc) -> None:
        """Add ``other`` (the same fingerprint, read later in the input): calls, first
        and last times, and names up to :data:`MAX_NAMES` in the order they came. The
        durations are not merged here: they come in order, with the records."""
        self.calls += other.calls
        if other.first_f < self.first_f:
            self.first_f, self.first = other.first_f, other.first
        if other.last_f > self.last_f:
            self.last_f, self.last = other.last_f, other.last
        for mine, theirs in (
            (self.dbs, other.dbs),
            (self.users, other.users),
            (self.apps, other.apps),
        ):
            for name in theirs:
                if len(mine) >= MAX_NAMES:
                    break
                mine[name] = None


def cache_key(query: str, params: tuple[str | None, ...] | None) -> int:
    """The cache replay's key of one statement: its text and bound values, as a 64-bit
    hash that is the same in every process and run (Python's ``hash`` of a string is
    seeded per process), so ranges read by other processes or machines merge exactly.
    It keeps the key small and the text not alive; a collision (p ~ n^2 / 2^64) cannot
    matter at log sizes."""
    data = query.encode("utf-8", "surrogatepass")
    if params is not None:
        # PostgreSQL text cannot hold NUL: \0 separates, \1 marks an SQL NULL
        data += b"\0\0" + b"\0".join(
            b"\1" if v is None else v.encode("utf-8", "surrogatepass") for v in params
        )
    return xxh3_64_intdigest(data)


def utc_timestamp(t: dt.datetime) -> float:
    """Log times without a zone are taken as UTC (never as this machine's local time)."""
    return t.replace(tzinfo=dt.timezone.utc).timestamp()


class RunAccumulator:
    """The figures of one analyze run while its events are read: per fingerprint
    (:class:`FingerprintAcc`), totals, the slowest statements, the timeline, the cache
    replay and the server events. :meth:`consume` reads events in one pass;
    :meth:`merge` adds a range read elsewhere (:func:`consume_range`, parallel
    ``analyze``), fed in file order, with the same result as one pass."""

    def __init__(self, options: AnalyzeOptions, has_timeline: bool) -> None:
        self.opts = options
        self.has_timeline = has_timeline
        self.fingerprinter = Fingerprinter()
        self.accs: dict[str, FingerprintAcc] = {}
        self.queries = 0
        self.timed = 0
        self.untimed = 0
        self.total_ms = 0.0
        self.first: dt.datetime | None = None
        self.last: dt.datetime | None = None
        self.first_f = math.inf
        self.last_f = -math.inf
        self.slow_heap: list[tuple[float, int, LogEvent, str]] = []
        self.slow_count = 0
        self.timeline = Timeline()
        self.stats_rows = 0
        self.replay: CacheReplay | None = (
            CacheReplay(options.ttls, options.cache_entries, options.reorder_window)
            if options.replay
            else None
        )
        self.untimed_ts = 0  # events without a timestamp
        self.seq = 0  # events consumed so far, from every input
        self.events: EventCollector | None = None
        if options.events:
            from perfkit.querylog.events import EventCollector

            self.events = EventCollector(options.events, self.fingerprinter)

    def merge_events(self, other: EventCollector) -> None:
        """Add the events of a range read elsewhere (parallel ``analyze``), in log order."""
        if self.events is not None:
            self.events.merge(other)

    def consume(self, events: Iterable[LogEvent]) -> None:
        # Millions of long-lived small objects (cache entries, keys) and no reference
        # cycles: the cyclic GC would rescan them over and over for nothing (~25%).
        if self.events is not None and self.events.want_locks:
            events = self.events.watch(events)  # lock waits: the blockers' statements
        gc_enabled = gc.isenabled()
        gc.disable()
        try:
            self._consume(events)
        finally:
            if gc_enabled:
                gc.enable()

    def _consume(self, events: Iterable[LogEvent]) -> None:
        # Hot loop: counters live in locals and are written back at the end.
        fpr = self.fingerprinter
        accs = self.accs
        slow_ms = self.opts.slow_ms
        slow_limit = self.opts.slow_limit
        slow_heap = self.slow_heap
        timeline_add = self.timeline.add
        replay = self.replay if self.has_timeline else None
        # replay items go to the simulator in blocks (one call per block, not per event)
        pending: list[ReplayItem] | None = [] if replay is not None else None
        queries, timed, untimed, total_ms = self.queries, self.timed, self.untimed, self.total_ms
        slow_count, stats_rows, untimed_ts = self.slow_count, self.stats_rows, self.untimed_ts
        first_f, first, last_f, last = self.first_f, self.first, self.last_f, self.last
        seq = self.seq  # the position in the whole input (ties among the slowest)
        last_t: dt.datetime | None = None
        last_tf = 0.0
        try:
            for ev in events:
                seq += 1
                q = ev.query
                fid = fpr(q).id
                a = accs.get(fid)
                if a is None:
                    a = accs[fid] = FingerprintAcc(ev)
                    a.cls = classify(q)
                calls = ev.calls
                a.calls += calls
                queries += calls
                d = ev.duration_ms
                if ev.protocol == "stats":
                    stats_rows += 1
                    if d is not None:
                        a.stats_total += d
                        total_ms += d
                        timed += calls
                    else:
                        untimed += calls
                    continue
                bi = 0
                if d is not None:
                    bi = bucket_index(d)
                    a.digest.add(d, bi)
                    total_ms += d
                    timed += 1
                    if d >= slow_ms:
                        slow_count += 1
                        if slow_limit:
                            item = (d, -seq, ev, fid)
                            if len(slow_heap) < slow_limit:
                                heapq.heappush(slow_heap, item)
                            elif item > slow_heap[0]:
                                heapq.heapreplace(slow_heap, item)
                else:
                    untimed += 1
                if ev.database is not None and len(a.dbs) < MAX_NAMES:
                    a.dbs[ev.database] = None
                if ev.user is not None and len(a.users) < MAX_NAMES:
                    a.users[ev.user] = None
                if ev.application is not None and len(a.apps) < MAX_NAMES:
                    a.apps[ev.application] = None
                t = ev.ts
                if t is None:
                    untimed_ts += 1
                    continue
                if t is not last_t:  # readers hand out one datetime per distinct time
                    last_t = t
                    last_tf = t.timestamp() if t.tzinfo is not None else utc_timestamp(t)
                tf = last_tf
                if tf < a.first_f:
                    a.first_f, a.first = tf, t
                if tf > a.last_f:
                    a.last_f, a.last = tf, t
                if tf < first_f:
                    first_f, first = tf, t
                if tf > last_f:
                    last_f, last = tf, t
                timeline_add(tf, d, bi, fid)
                if pending is not None:
                    # The text is part of the key even with parameters: a prepared
                    # statement may embed literals the fingerprint ignores.
                    session = ev.session if ev.session is not None else ev.pid
                    pending.append((tf, fid, cache_key(q, ev.params), d, session, a.cls))  # type: ignore[arg-type]
                    if len(pending) >= REPLAY_BLOCK:
                        replay.add_many(pending)  # type: ignore[union-attr]
                        pending.clear()
        finally:
            if pending:
                replay.add_many(pending)  # type: ignore[union-attr]
            self.queries, self.timed, self.untimed, self.total_ms = (
                queries,
                timed,
                untimed,
                total_ms,
            )
            self.slow_count, self.stats_rows, self.untimed_ts = slow_count, stats_rows, untimed_ts
            self.first_f, self.first, self.last_f, self.last = first_f, first, last_f, last
            self.seq = seq

    def consume_records(self, records: Iterable[Record]) -> None:
        """The order-dependent half of ``_consume`` for records made by
        :func:`consume_range` (the workers of a parallel run), fed in file order."""
        accs = self.accs
        timeline_add = self.timeline.add
        replay = self.replay if self.has_timeline else None
        items: list[ReplayItem] = []
        item = items.append
        total_ms = self.total_ms
        try:
            for tf, fid, key, d, session in records:
                a = accs[fid]
                bi = 0
                if d is not None:
                    bi = bucket_index(d)
                    a.digest.add(d, bi)
                    total_ms += d
                if tf is None:
                    continue
                timeline_add(tf, d, bi, fid)
                item((tf, fid, key, d, session, a.cls))  # type: ignore[arg-type]
        finally:
            self.total_ms = total_ms
            if replay is not None:
                replay.add_many(items)

    def merge(self, part: RangeTotals) -> None:
        """Add a range of the input read elsewhere (:func:`consume_range`); ranges come
        in file order, after what this accumulator has read so far."""
        by_id = self.fingerprinter.by_id
        for fid, fp in part.by_id.items():
            by_id.setdefault(fid, fp)
        accs = self.accs
        for fid, pa in part.accs.items():
            a = accs.get(fid)
            if a is None:
                pa.digest = DurationDigest()  # filled from the records, in order
                pa.cls = classify(pa.example.query)  # its first text in file order
                accs[fid] = pa
            else:
                a.merge(pa)
        self.queries += part.queries
        self.timed += part.timed
        self.untimed += part.untimed
        self.untimed_ts += part.untimed_ts
        self.slow_count += part.slow_count
        if part.first_f < self.first_f:
            self.first_f, self.first = part.first_f, part.first
        if part.last_f > self.last_f:
            self.last_f, self.last = part.last_f, part.last
        limit = self.opts.slow_limit
        heap = self.slow_heap
        for d, neg, ev, fid in part.slow:
            item = (d, neg - self.seq, ev, fid)  # the position in the whole input
            if len(heap) < limit:
                heapq.heappush(heap, item)
            elif item > heap[0]:
                heapq.heapreplace(heap, item)
        self.seq += part.events
        self.consume_records(part.records)
        if part.event_sink is not None:
            self.merge_events(part.event_sink)


@dataclass
class RangeTotals:
    """What one range of the input adds to a run, from :func:`consume_range`: the
    order-independent figures, and one :data:`Record` per event for the rest."""

    accs: dict[str, FingerprintAcc]
    by_id: dict[str, Fingerprint]  # the first shape of each fingerprint in the range
    records: list[Record]
    slow: list[tuple[float, int, LogEvent, str]]  # (ms, -position in the range, ...)
    events: int
    queries: int
    timed: int
    untimed: int
    untimed_ts: int
    slow_count: int
    first: dt.datetime | None
    first_f: float
    last: dt.datetime | None
    last_f: float
    event_sink: EventCollector | None = None  # this range's events, merged in file order


def consume_range(
    events: Iterable[LogEvent], opts: AnalyzeOptions, fpr: Fingerprinter
) -> RangeTotals:
    """The per-event work of :meth:`RunAccumulator.consume` that does not depend on
    the order across ranges (stderr-like inputs: one call per event). Fingerprints are
    not classified here (workers never load sqlglot): :meth:`RunAccumulator.merge`
    classifies each new one."""
    accs: dict[str, FingerprintAcc] = {}
    records: list[Record] = []
    rec = records.append
    slow_ms = opts.slow_ms
    slow_limit = opts.slow_limit
    slow_heap: list[tuple[float, int, LogEvent, str]] = []
    queries = timed = untimed = untimed_ts = slow_count = seq = 0
    last_t: dt.datetime | None = None
    last_tf = 0.0
    first: dt.datetime | None = None
    last: dt.datetime | None = None
    first_f, last_f = math.inf, -math.inf
    for ev in events:
        seq += 1
        q = ev.query
        fid = fpr(q).id
        a = accs.get(fid)
        if a is None:
            a = accs[fid] = FingerprintAcc(ev)
        a.calls += 1  # stderr events are single calls
        queries += 1
        d = ev.duration_ms
        if d is not None:
            timed += 1
            if d >= slow_ms:
                slow_count += 1
                if slow_limit:
                    item = (d, -seq, ev, fid)
                    if len(slow_heap) < slow_limit:
                        heapq.heappush(slow_heap, item)
                    elif item > slow_heap[0]:
                        heapq.heapreplace(slow_heap, item)
        else:
            untimed += 1
        if ev.database is not None and len(a.dbs) < MAX_NAMES:
            a.dbs[ev.database] = None
        if ev.user is not None and len(a.users) < MAX_NAMES:
            a.users[ev.user] = None
        if ev.application is not None and len(a.apps) < MAX_NAMES:
            a.apps[ev.application] = None
        session = ev.session if ev.session is not None else ev.pid
        t = ev.ts
        if t is None:
            untimed_ts += 1
            rec((None, fid, 0, d, session))
            continue
        if t is not last_t:  # readers hand out one datetime per distinct time
            last_t = t
            last_tf = t.timestamp() if t.tzinfo is not None else utc_timestamp(t)
        tf = last_tf
        if tf < a.first_f:
            a.first_f, a.first = tf, t
        if tf > a.last_f:
            a.last_f, a.last = tf, t
        if tf < first_f:
            first_f, first = tf, t
        if tf > last_f:
            last_f, last = tf, t
        rec((tf, fid, cache_key(q, ev.params), d, session))
    return RangeTotals(
        accs,
        {fid: fpr.by_id[fid] for fid in accs},
        records,
        slow_heap,
        seq,
        queries,
        timed,
        untimed,
        untimed_ts,
        slow_count,
        first,
        first_f,
        last,
        last_f,
    )
