"""``perfkit analyze`` core: one streaming pass over a query log.

:func:`analyze` reads log files (any format the readers detect) and returns an
:class:`AnalyzeResult`; :func:`analyze_events` does the same for any iterable of
:class:`~perfkit.querylog.model.LogEvent` (tests, other tools). The per-event work is
:class:`~perfkit.querylog.accumulator.RunAccumulator`'s (a memoised fingerprint lookup and
a few dict/arith operations; each distinct fingerprint is classified, sqlglot, once);
this module runs the pass (one process, or ranges: :mod:`perfkit.querylog.parallel`) and
builds the report from the accumulator. Memory depends on the number of distinct fingerprints,
sessions in a transaction and cache keys alive within the TTL, never on the number of
log lines.
"""

from __future__ import annotations

import datetime as dt
import gc
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from perfkit.querylog.accumulator import RunAccumulator
from perfkit.querylog.classify import classify
from perfkit.querylog.model import LogEvent
from perfkit.querylog.stats import (
    EXACT_LIMIT,
    RELATIVE_ERROR,
    FingerprintHistograms,
    FingerprintSeries,
)

if TYPE_CHECKING:
    from perfkit.querylog.events import EventsResult
    from perfkit.querylog.readers import LogStream
    from perfkit.report.progress import ProgressSink

__all__ = [
    "SCHEMA_VERSION",
    "AnalyzeOptions",
    "AnalyzeResult",
    "CacheResult",
    "FileSummary",
    "FingerprintCacheStats",
    "FingerprintResult",
    "SlowQuery",
    "Summary",
    "analyze",
    "analyze_events",
    "build_result",
]

SCHEMA_VERSION = 1
#: Fingerprints (the most total time) whose calls and time per bucket a report carries.
TIMELINE_FINGERPRINTS = 50
#: At most this many buckets in the per-fingerprint series (merged when the log is longer).
TIMELINE_FP_POINTS = 1_500
#: at most this many buckets and histogram entries in the time window histograms
TIMELINE_HIST_POINTS = 300
TIMELINE_HIST_ENTRIES = 100_000
# the inputs that hold server messages besides statements (analyze --events)
_SERVER_LOGS = frozenset({"stderr", "syslog", "csvlog", "jsonlog", "cnpg"})


@dataclass(frozen=True)
class AnalyzeOptions:
    slow_ms: float = 500.0
    slow_limit: int = 100
    ttls: tuple[float, ...] = (60.0,)
    cache_entries: int | None = None
    replay: bool = True
    reorder_window: int = 100_000
    #: event categories to collect (``perfkit.querylog.events.CATEGORIES``); none by default
    events: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        if self.slow_ms < 0:
            raise ValueError("slow_ms must not be negative")
        if self.slow_limit < 0:
            raise ValueError("slow_limit must not be negative")
        if not self.ttls or any(t <= 0 or math.isinf(t) for t in self.ttls):
            raise ValueError("TTLs must be positive numbers of seconds")
        if self.cache_entries is not None and self.cache_entries < 1:
            raise ValueError("cache_entries must be at least 1")
        if self.events:
            from perfkit.querylog.events import CATEGORIES

            bad = sorted(self.events - set(CATEGORIES))
            if bad:
                raise ValueError(f"unknown event category {bad[0]!r}")


@dataclass(frozen=True)
class FileSummary:
    path: str
    format: str
    prefix: str | None
    prefix_inferred: bool
    compression: str


@dataclass(frozen=True)
class Summary:
    queries: int
    fingerprints: int
    total_ms: float
    timed_queries: int
    untimed_queries: int
    first_ts: dt.datetime | None
    last_ts: dt.datetime | None
    skipped_lines: int
    slow_queries: int
    regex_fingerprints: int


@dataclass(frozen=True)
class FingerprintCacheStats:
    ttl_s: float
    hits: int
    lookups: int
    hit_rate: float
    saved_ms: float


@dataclass(frozen=True)
class FingerprintResult:
    id: str
    query: str
    example: str
    example_params: tuple[str | None, ...] | None
    calls: int
    timed_calls: int
    total_ms: float
    mean_ms: float | None
    min_ms: float | None
    max_ms: float | None
    p50_ms: float | None
    p95_ms: float | None
    p99_ms: float | None
    share: float
    first_ts: dt.datetime | None
    last_ts: dt.datetime | None
    databases: tuple[str, ...]
    users: tuple[str, ...]
    applications: tuple[str, ...]
    kind: str
    tables_read: tuple[str, ...]
    tables_written: tuple[str, ...]
    cacheable: bool
    uncacheable_reason: str | None
    normalizer: str
    percentiles_exact: bool
    cache: tuple[FingerprintCacheStats, ...] = ()
    cache_bypassed: tuple[tuple[str, int], ...] = ()
    #: timed calls per duration bin: (low ms, high ms or None, count), see
    #: :meth:`~perfkit.querylog.stats.DurationDigest.histogram`
    histogram: tuple[tuple[float, float | None, int], ...] = ()


@dataclass(frozen=True)
class SlowQuery:
    ts: dt.datetime | None
    session: str | None
    duration_ms: float
    fingerprint: str
    query: str
    params: tuple[str | None, ...] | None
    database: str | None
    user: str | None
    source: str
    line: int


@dataclass(frozen=True)
class CacheResult:
    ttl_s: float
    max_entries: int | None
    hit_rate: float
    hits: int
    misses: int
    saved_ms: float
    saved_share: float
    invalidations: int
    evictions: int
    bypassed_reads: int  # cacheable reads blocked by session rules
    uncacheable_reads: int
    writes: int


@dataclass(frozen=True)
class TimelineRow:
    start: dt.datetime
    calls: int
    total_ms: float
    p95_ms: float | None


@dataclass(frozen=True)
class AnalyzeResult:
    summary: Summary
    fingerprints: tuple[FingerprintResult, ...]  # by total time, descending
    slow: tuple[SlowQuery, ...]  # slowest first, at most slow_limit
    cache: tuple[CacheResult, ...]  # one per TTL; empty when not replayed
    cache_note: str | None  # why there is no (or only an approximate) replay
    timeline: tuple[TimelineRow, ...]
    timeline_bucket_s: float
    files: tuple[FileSummary, ...]
    warnings: tuple[str, ...]
    skipped_samples: tuple[tuple[str, int, str], ...]
    options: AnalyzeOptions
    truncated: bool = False
    late_events: int = 0
    events: EventsResult | None = None  # with AnalyzeOptions.events
    #: calls and time per bucket of the TIMELINE_FINGERPRINTS fingerprints with the most
    #: total time (``timeline_fp_all``: of every statement) on a grid of
    #: ``timeline_fp_bucket_s`` from ``timeline_fp_start``
    timeline_fp_start: dt.datetime | None = None
    timeline_fp_bucket_s: float = 60.0
    timeline_fp_all: FingerprintSeries | None = None
    timeline_fingerprints: tuple[FingerprintSeries, ...] = ()
    #: the same fingerprints' timed calls per window histogram bucket (a time window's
    #: percentiles) on a grid of ``timeline_hist_bucket_s`` from ``timeline_hist_start``
    timeline_hist_start: dt.datetime | None = None
    timeline_hist_bucket_s: float = 60.0
    timeline_histograms: tuple[FingerprintHistograms, ...] = ()
    percentile_method: str = field(
        default=f"exact up to {EXACT_LIMIT} timed calls per fingerprint, else a log-bucketed "
        f"histogram with at most {RELATIVE_ERROR:.0%} relative error"
    )


# --- the run --------------------------------------------------------------------------


def analyze_events(
    events: Iterable[LogEvent],
    options: AnalyzeOptions | None = None,
    *,
    has_timeline: bool = True,
    skipped_lines: int = 0,
) -> AnalyzeResult:
    """Analyse ``events`` in one pass (see :func:`analyze` for files)."""
    acc = RunAccumulator(options or AnalyzeOptions(), has_timeline)
    acc.consume(events)
    return build_result(acc, skipped_lines=skipped_lines)


def analyze(
    paths: Sequence[str | Path],
    options: AnalyzeOptions | None = None,
    *,
    log_format: str | None = None,
    prefix: str | None = None,
    strict: bool = False,
    progress: ProgressSink | None = None,
    jobs: int | None = 1,
    partial_out: Path | None = None,
    server: str | None = None,
) -> AnalyzeResult:
    """Read ``paths`` (``-`` = stdin, compressed files transparently) and analyse them.

    ``jobs`` > 1 (``None``: one per core) reads each large stderr, jsonlog, CNPG or
    csvlog input (compressed or not) in ranges with that many worker processes; the
    result is the same as with ``jobs=1`` (see :mod:`perfkit.querylog.parallel`). Other
    inputs, and every input when one of them is stdin, are read in one pass.

    ``partial_out`` (a directory) also gets one partial per input
    (:mod:`perfkit.querylog.partial`, named ``server`` or this machine's host name):
    each input is read in this process, as one range.
    """
    from perfkit.querylog.readers import read_logs

    opts = options or AnalyzeOptions()
    stream = read_logs(
        paths, log_format=log_format, prefix=prefix, strict=strict, progress=progress
    )
    acc = RunAccumulator(opts, has_timeline=True)
    stream.event_sink = acc.events
    if opts.events and not any(f.format in _SERVER_LOGS for f in stream.files):
        stream.warnings.append(
            "--events: no input is a server log (stderr, syslog, csvlog, jsonlog, "
            "CloudNativePG): there are no events to report"
        )
    files = tuple(
        FileSummary(f.path, f.format, f.prefix, f.prefix_inferred, f.compression)
        for f in stream.files
    )
    if partial_out is not None:
        return _with_partials(acc, stream, files, partial_out, server)
    if jobs is None:
        from perfkit.querylog.parallel import default_jobs

        jobs = default_jobs()
    if jobs > 1:
        from perfkit.querylog import parallel

        split = [
            (stream.prefix_of(i) is not None or info.format != "stderr")
            and parallel.eligible(stream, jobs, i)
            for i, info in enumerate(stream.files)
        ]
        if any(split):
            # inputs in order, each large one in ranges, the others in one pass, into one
            # accumulator: the same figures, warnings and positions as one pass
            pacc = acc
            gc_enabled = gc.isenabled()
            gc.disable()
            try:
                for i, ranges in enumerate(split):
                    if ranges:
                        parallel.run(
                            pacc,
                            stream,
                            stream.prefix_of(i),
                            jobs=jobs,
                            strict=strict,
                            progress=progress,
                            index=i,
                        )
                    else:
                        pacc.consume(stream.events_of(i))
            except parallel.NotSplittable:
                # a cut fell inside log_statement linking (or a malformed csv record):
                # read everything again in one pass
                stream = read_logs(
                    paths, log_format=log_format, prefix=prefix, strict=strict, progress=progress
                )
                acc = RunAccumulator(opts, has_timeline=True)
                stream.event_sink = acc.events
            else:
                return build_result(
                    pacc,
                    skipped_lines=stream.skipped_lines,
                    files=files,
                    warnings=tuple(stream.warnings),
                    skipped_samples=tuple(stream.skipped_samples),
                    has_timeline=stream.has_timeline,
                    truncated=stream.truncated,
                )
            finally:
                if gc_enabled:
                    gc.enable()
    acc.consume(stream)
    return build_result(
        acc,
        skipped_lines=stream.skipped_lines,
        files=files,
        warnings=tuple(stream.warnings),
        skipped_samples=tuple(stream.skipped_samples),
        has_timeline=stream.has_timeline,
        truncated=bool(getattr(stream, "truncated", False)),
    )


#: statements per partial (``--partial-out``): tens of MB while one is written
PARTIAL_STATEMENTS = 250_000


def _with_partials(
    acc: RunAccumulator,
    stream: LogStream,
    files: tuple[FileSummary, ...],
    out: Path,
    server: str | None,
) -> AnalyzeResult:
    import itertools
    import socket
    import uuid

    from perfkit.errors import UsageError
    from perfkit.querylog.accumulator import consume_range
    from perfkit.querylog.partial import PartialInput, partial_name, write_partial

    opts = acc.opts
    if opts.events:
        raise UsageError("--partial-out", "partials hold statements: give no --events")
    host = server or socket.gethostname()
    # what opening the inputs told (an inferred prefix...), by input
    planned: list[list[str]] = [[] for _ in stream.files]
    for w in stream.warnings:
        owner = next((i for i, f in enumerate(stream.files) if w.startswith(f"{f.path}:")), 0)
        planned[owner].append(w)
    run = uuid.uuid4().hex
    for i, info in enumerate(stream.files):
        if info.format in ("pgss-json", "pgss-csv"):
            raise UsageError(
                "--partial-out",
                f"{info.path} is a pg_stat_statements export; partials hold statement logs",
            )
        events = stream.events_of(i)
        order: float | None = None
        for k in itertools.count():
            # a partial per range of statements: memory stays bounded on any input
            w0, s0, n0 = len(stream.warnings), len(stream.skipped_samples), stream.skipped_lines
            totals = consume_range(
                itertools.islice(events, PARTIAL_STATEMENTS), opts, acc.fingerprinter
            )
            if k and not totals.events:
                break
            acc.merge(totals)
            if k == 0 and totals.first_f != math.inf:
                order = totals.first_f
            write_partial(
                out / partial_name(i, info.path, k),
                totals,
                PartialInput(
                    path=info.path,
                    format=info.format,
                    prefix=info.prefix,
                    prefix_inferred=info.prefix_inferred,
                    compression=info.compression,
                    server=host,
                    run=run,
                    index=i,
                    range=k,
                    order=order,
                    skipped_lines=stream.skipped_lines - n0,
                    skipped_samples=tuple(stream.skipped_samples[s0:]),
                    plan_warnings=tuple(planned[i]) if k == 0 else (),
                    warnings=tuple(stream.warnings[w0:]),
                    has_timeline=stream.has_timeline,
                    truncated=bool(getattr(stream, "truncated", False)),
                    slow_ms=opts.slow_ms,
                    slow_limit=opts.slow_limit,
                ),
            )
    return build_result(
        acc,
        skipped_lines=stream.skipped_lines,
        files=files,
        warnings=tuple(stream.warnings),
        skipped_samples=tuple(stream.skipped_samples),
        has_timeline=stream.has_timeline,
        truncated=bool(getattr(stream, "truncated", False)),
    )


# --- the report -----------------------------------------------------------------------


def build_result(
    acc: RunAccumulator,
    *,
    skipped_lines: int,
    files: tuple[FileSummary, ...] = (),
    warnings: tuple[str, ...] = (),
    skipped_samples: tuple[tuple[str, int, str], ...] = (),
    has_timeline: bool | None = None,
    truncated: bool = False,
) -> AnalyzeResult:
    opts = acc.opts
    timeline_ok = acc.has_timeline if has_timeline is None else has_timeline
    notes: list[str] = list(warnings)
    cache: tuple[CacheResult, ...] = ()
    cache_note: str | None = None
    late = 0
    replay = acc.replay
    per_fp_cache: dict[
        str, tuple[tuple[FingerprintCacheStats, ...], tuple[tuple[str, int], ...]]
    ] = {}
    if replay is None:
        cache_note = "cache replay disabled"
    elif acc.queries == 0:
        cache_note = "no statements in the input: no cache replay"
    elif acc.stats_rows or not timeline_ok:
        cache_note = (
            "the input has no timeline (pg_stat_statements export or SQL file): no cache replay"
        )
    elif acc.untimed_ts == acc.queries and acc.queries:
        cache_note = "no statement has a timestamp: no cache replay"
    elif replay is not None:
        ttl_results = replay.finish()
        late = replay.late_events
        writes = uncacheable = bypassed = 0
        for a in acc.accs.values():
            cls = a.cls
            if cls is None:
                continue
            if cls.tables_written:
                writes += a.calls
            elif cls.kind == "read" and not cls.cacheable:
                uncacheable += a.calls
        for fid, fpc in replay.per_fingerprint.items():
            bypassed += sum(fpc.bypassed.values())
            per_fp_cache[fid] = (
                tuple(
                    FingerprintCacheStats(
                        ttl_s=r.ttl_s,
                        hits=fpc.hits[i],
                        lookups=fpc.lookups,
                        hit_rate=fpc.hits[i] / fpc.lookups if fpc.lookups else 0.0,
                        saved_ms=fpc.saved_ms[i],
                    )
                    for i, r in enumerate(ttl_results)
                ),
                tuple(sorted(fpc.bypassed.items(), key=lambda kv: -kv[1])),
            )
        cache = tuple(
            CacheResult(
                ttl_s=r.ttl_s,
                max_entries=r.max_entries,
                hit_rate=r.hit_rate,
                hits=r.hits,
                misses=r.misses,
                saved_ms=r.saved_ms,
                saved_share=r.saved_ms / acc.total_ms if acc.total_ms else 0.0,
                invalidations=r.invalidations,
                evictions=r.evictions,
                bypassed_reads=bypassed,
                uncacheable_reads=uncacheable,
                writes=writes,
            )
            for r in ttl_results
        )
        if not late:
            # The readers warn about out-of-order input; the replay sorted it.
            notes = [
                w.split(";")[0] + "; the cache replay put them in time order"
                if "not in time order" in w
                else w
                for w in notes
            ]
        if late:
            cache_note = (
                f"{late} statements arrived out of time order beyond the reorder window "
                f"({opts.reorder_window} statements); they were replayed at the time of "
                "the previous statement, so the cache figures are approximate"
            )
            notes.append(cache_note)
        if acc.untimed_ts:
            notes.append(
                f"{acc.untimed_ts} statements without a timestamp were left out of "
                "the timeline and the cache replay"
            )
    if truncated:
        notes.append("input is truncated: the results cover only what could be read")

    fps = _fingerprints(acc, per_fp_cache)
    slow = tuple(
        SlowQuery(
            ts=ev.ts,
            session=ev.session
            if ev.session is not None
            else (str(ev.pid) if ev.pid is not None else None),
            duration_ms=d,
            fingerprint=fid,
            query=ev.query,
            params=ev.params,
            database=ev.database,
            user=ev.user,
            source=ev.source,
            line=ev.line,
        )
        for d, _, ev, fid in sorted(acc.slow_heap, reverse=True)
    )
    regex_fps = sum(1 for f in fps if f.normalizer == "regex")
    tl = acc.timeline
    timeline = tuple(
        TimelineRow(
            start=dt.datetime.fromtimestamp(p.start, tz=dt.timezone.utc),
            calls=p.calls,
            total_ms=p.total_ms,
            p95_ms=p.p95_ms,
        )
        for p in tl.points()
    )
    summary = Summary(
        queries=acc.queries,
        fingerprints=len(fps),
        total_ms=acc.total_ms,
        timed_queries=acc.timed,
        untimed_queries=acc.untimed,
        first_ts=acc.first,
        last_ts=acc.last,
        skipped_lines=skipped_lines,
        slow_queries=acc.slow_count,
        regex_fingerprints=regex_fps,
    )
    events = _events_result(acc, notes)
    fp_start, fp_bucket_s, fp_all, fp_series = tl.fingerprint_series(
        [f.id for f in fps[:TIMELINE_FINGERPRINTS]], TIMELINE_FP_POINTS
    )
    hist_start, hist_bucket_s, hists = tl.fingerprint_histograms(
        [f.id for f in fps[:TIMELINE_FINGERPRINTS]], TIMELINE_HIST_POINTS, TIMELINE_HIST_ENTRIES
    )
    return AnalyzeResult(
        summary=summary,
        fingerprints=fps,
        slow=slow,
        cache=cache,
        cache_note=cache_note,
        timeline=timeline,
        timeline_bucket_s=tl.bucket_s,
        files=files,
        warnings=tuple(notes),
        skipped_samples=skipped_samples,
        options=opts,
        truncated=truncated,
        late_events=late,
        events=events,
        timeline_fp_start=(
            dt.datetime.fromtimestamp(fp_start, tz=dt.timezone.utc) if fp_all.calls else None
        ),
        timeline_fp_bucket_s=fp_bucket_s,
        timeline_fp_all=fp_all if fp_all.calls else None,
        timeline_fingerprints=fp_series,
        timeline_hist_start=(
            dt.datetime.fromtimestamp(hist_start, tz=dt.timezone.utc) if hists else None
        ),
        timeline_hist_bucket_s=hist_bucket_s,
        timeline_histograms=hists,
    )


def _events_result(acc: RunAccumulator, notes: list[str]) -> EventsResult | None:
    if acc.events is None:
        return None
    res = acc.events.result()
    notes.extend(res.notes)
    return res


def _fingerprints(
    acc: RunAccumulator,
    per_fp_cache: dict[str, tuple[tuple[FingerprintCacheStats, ...], tuple[tuple[str, int], ...]]],
) -> tuple[FingerprintResult, ...]:
    by_id = acc.fingerprinter.by_id
    total = acc.total_ms
    out = []
    for fid, a in acc.accs.items():
        fp = by_id[fid]
        dg = a.digest
        cls = a.cls or classify(a.example.query)
        mn: float | None
        mx: float | None
        mean: float | None
        if dg.count:
            p50, p95, p99 = dg.quantiles((0.5, 0.95, 0.99))
            tot = dg.total + a.stats_total
            mean = dg.total / dg.count
            timed = dg.count
            mn, mx = dg.min, dg.max
        else:
            p50 = p95 = p99 = None
            tot = a.stats_total
            mean = a.stats_total / a.calls if a.stats_total and a.calls else None
            timed = a.calls if a.stats_total else 0
            mn = mx = None
        cache_stats, bypassed = per_fp_cache.get(fid, ((), ()))
        out.append(
            FingerprintResult(
                id=fid,
                query=fp.query,
                example=a.example.query,
                example_params=a.example.params,
                calls=a.calls,
                timed_calls=timed,
                total_ms=tot,
                mean_ms=mean,
                min_ms=mn,
                max_ms=mx,
                p50_ms=p50,
                p95_ms=p95,
                p99_ms=p99,
                share=tot / total if total else 0.0,
                first_ts=a.first,
                last_ts=a.last,
                databases=tuple(sorted(a.dbs)),
                users=tuple(sorted(a.users)),
                applications=tuple(sorted(a.apps)),
                kind=cls.kind,
                tables_read=tuple(sorted(cls.tables_read)),
                tables_written=tuple(sorted(cls.tables_written)),
                cacheable=cls.cacheable,
                uncacheable_reason=cls.reason,
                normalizer=fp.method,
                percentiles_exact=dg.exact,
                cache=cache_stats,
                cache_bypassed=bypassed,
                histogram=dg.histogram(),
            )
        )
    out.sort(key=lambda f: (-f.total_ms, -f.calls, f.id))
    return tuple(out)
