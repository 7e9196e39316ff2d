"""AnalyzeResult -> Document (pure): the JSON contract and the tables users read."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from perfkit.querylog.aggregate import SCHEMA_VERSION, AnalyzeResult, FingerprintResult
from perfkit.querylog.events_document import events_json, events_summary, events_tables
from perfkit.querylog.stats import (
    EXACT_LIMIT,
    RELATIVE_ERROR,
    WINDOW_GAMMA,
    WINDOW_RELATIVE_ERROR,
    WINDOW_ZERO,
)
from perfkit.report.model import Clipped, Column, Document, Style, Table

__all__ = ["to_document"]

_QUERY_WIDTH = 90  # characters of normalised query text shown in tables (JSON has all)


def _short(text: str, n: int = _QUERY_WIDTH) -> Clipped:
    """Tables show ``n`` characters of the query; CSV and JSON all of it."""
    return Clipped(text, n)


def _with_params(query: str, params: Sequence[Any] | None) -> Clipped:
    """A slow statement and its parameters: tables cut the statement at 1000 characters."""
    tail = f"  -- params: {', '.join(repr(p) for p in params)}" if params else ""
    shown = _short(query, 1000).shown() + tail
    return Clipped(query + tail, len(shown), display=shown)


def _sid(fid: str) -> Clipped:
    """Tables show the first 8 characters of the id; CSV and JSON all 16."""
    return Clipped(fid, 8, "")


def _ts(t: dt.datetime | None) -> str | None:
    return t.isoformat() if t is not None else None


def _show_ts(t: dt.datetime) -> str:
    return t.isoformat(sep=" ", timespec="milliseconds")


def _ttl(ttl: float) -> str:
    return f"{ttl:g}s"


def _fp_json(f: FingerprintResult) -> dict[str, Any]:
    return {
        "id": f.id,
        "query": f.query,
        "example": f.example,
        "example_params": list(f.example_params) if f.example_params is not None else None,
        "calls": f.calls,
        "timed_calls": f.timed_calls,
        "total_ms": f.total_ms,
        "mean_ms": f.mean_ms,
        "min_ms": f.min_ms,
        "p50_ms": f.p50_ms,
        "p95_ms": f.p95_ms,
        "p99_ms": f.p99_ms,
        "max_ms": f.max_ms,
        "share": f.share,
        "first_ts": _ts(f.first_ts),
        "last_ts": _ts(f.last_ts),
        "databases": list(f.databases),
        "users": list(f.users),
        "applications": list(f.applications),
        "kind": f.kind,
        "tables_read": list(f.tables_read),
        "tables_written": list(f.tables_written),
        "cacheable": f.cacheable,
        "uncacheable_reason": f.uncacheable_reason,
        "normalizer": f.normalizer,
        "percentiles_exact": f.percentiles_exact,
        "cache": [
            {
                "ttl_s": c.ttl_s,
                "hits": c.hits,
                "lookups": c.lookups,
                "hit_rate": c.hit_rate,
                "saved_ms": c.saved_ms,
            }
            for c in f.cache
        ],
        "cache_bypassed": dict(f.cache_bypassed),
        "histogram": [list(b) for b in f.histogram],
    }


def _with_plans(fps: list[dict[str, Any]], r: AnalyzeResult) -> list[dict[str, Any]]:
    """With ``--events plans``: each fingerprint's auto_explain summary (the details are
    in ``events.plans``)."""
    plans = r.events.plans if r.events is not None else None
    if plans is None:
        return fps
    by_id = {p.fingerprint: p for p in plans.fingerprints}
    for f in fps:
        p = by_id.get(f["id"])
        f["plans"] = (
            {
                "plans": p.plans,
                "shapes": len(p.shapes) + p.other_shapes,
                "changes": p.changes_total,
                "slowest_ms": p.slowest_ms,
            }
            if p is not None
            else None
        )
    return fps


def _fp_timeline(r: AnalyzeResult) -> dict[str, Any] | None:
    """Calls and total ms per bucket of the fingerprints with the most total time (and of
    all statements), dense from ``start``; total ms rounded to µs (bounded size)."""
    every = r.timeline_fp_all
    if every is None:
        return None
    return {
        "start": _ts(r.timeline_fp_start),
        "bucket_s": r.timeline_fp_bucket_s,
        "all": {"calls": list(every.calls), "total_ms": [round(t, 3) for t in every.total_ms]},
        "series": [
            {
                "id": s.fingerprint,
                "calls": list(s.calls),
                "total_ms": [round(t, 3) for t in s.total_ms],
            }
            for s in r.timeline_fingerprints
        ],
        "histograms": _fp_histograms(r),
    }


def _fp_histograms(r: AnalyzeResult) -> dict[str, Any] | None:
    """The same fingerprints' timed calls per window histogram bucket and time bucket
    (sparse, delta-encoded: bounded size), for a time window's percentiles."""
    if not r.timeline_histograms:
        return None
    cells = []
    for h in r.timeline_histograms:
        rows = []
        for offset, counts in h.cells:
            flat, prev = [offset], 0
            for n, (j, c) in enumerate(counts):
                flat += (j if n == 0 else j - prev, c)
                prev = j
            rows.append(flat)
        cells.append({"id": h.fingerprint, "cells": rows})
    return {
        "start": _ts(r.timeline_hist_start),
        "bucket_s": r.timeline_hist_bucket_s,
        "gamma": WINDOW_GAMMA,
        "relative_error": WINDOW_RELATIVE_ERROR,
        "zero_bucket": WINDOW_ZERO,
        "encoding": "per cell: [bucket offset, first histogram bucket j, count, j delta, "
        "count, ...]; bucket j holds durations in (gamma^(j-1), gamma^j] ms, represented by "
        "2 gamma^j / (gamma + 1) (zero_bucket: 0 ms)",
        "series": cells,
    }


def _data(r: AnalyzeResult) -> dict[str, Any]:
    s = r.summary
    caches = [
        {
            "ttl_s": c.ttl_s,
            "hit_rate": c.hit_rate,
            "hits": c.hits,
            "misses": c.misses,
            "saved_ms": c.saved_ms,
            "invalidations": c.invalidations,
            "saved_share": c.saved_share,
            "evictions": c.evictions,
            "max_entries": c.max_entries,
            "bypassed_reads": c.bypassed_reads,
            "uncacheable_reads": c.uncacheable_reads,
            "writes": c.writes,
        }
        for c in r.cache
    ]
    cache: Any = None if not caches else caches[0] if len(caches) == 1 else caches
    return {
        "summary": {
            "queries": s.queries,
            "fingerprints": s.fingerprints,
            "total_ms": s.total_ms,
            "first_ts": _ts(s.first_ts),
            "last_ts": _ts(s.last_ts),
            "skipped_lines": s.skipped_lines,
            "timed_queries": s.timed_queries,
            "untimed_queries": s.untimed_queries,
            "slow_queries": s.slow_queries,
            "slow_ms": r.options.slow_ms,
            "regex_fingerprints": s.regex_fingerprints,
            "truncated": r.truncated,
        },
        "fingerprints": _with_plans([_fp_json(f) for f in r.fingerprints], r),
        "slow": [
            {
                "ts": _ts(q.ts),
                "session": q.session,
                "duration_ms": q.duration_ms,
                "fingerprint": q.fingerprint,
                "query": q.query,
                "params": list(q.params) if q.params is not None else None,
                "database": q.database,
                "user": q.user,
                "source": q.source,
                "line": q.line,
            }
            for q in r.slow
        ],
        "cache": cache,
        "cache_note": r.cache_note,
        "timeline": {
            "bucket_s": r.timeline_bucket_s,
            "points": [
                {
                    "start": _ts(p.start),
                    "calls": p.calls,
                    "total_ms": p.total_ms,
                    "p95_ms": p.p95_ms,
                }
                for p in r.timeline
            ],
            "fingerprints": _fp_timeline(r),
        },
        "percentiles": {
            "method": r.percentile_method,
            "exact_below_calls": EXACT_LIMIT,
            "relative_error": RELATIVE_ERROR,
        },
        "files": [
            {
                "path": f.path,
                "format": f.format,
                "prefix": f.prefix,
                "prefix_inferred": f.prefix_inferred,
                "compression": f.compression,
            }
            for f in r.files
        ],
        "warnings": list(r.warnings),
        **({"events": events_json(r.events)} if r.events is not None else {}),
    }


def _file_line(f: Any) -> str:
    extra = []
    if f.compression and f.compression != "none":
        extra.append(f.compression)
    if f.prefix is not None:
        extra.append(f"prefix {f.prefix!r}" + (" (inferred)" if f.prefix_inferred else ""))
    more = ", " + ", ".join(extra) if extra else ""
    return f"{f.path}: {f.format}{more}"


def _summary_lines(r: AnalyzeResult) -> list[str]:
    s = r.summary
    lines = [f"input: {_file_line(f)}" for f in r.files[:5]]
    if len(r.files) > 5:
        lines.append(f"input: ... and {len(r.files) - 5} more files")
    span = ""
    if s.first_ts is not None and s.last_ts is not None:
        span = f", {_show_ts(s.first_ts)} .. {_show_ts(s.last_ts)}"
    lines.append(
        f"queries: {s.queries:,} in {s.fingerprints:,} fingerprints, "
        f"total {s.total_ms:,.1f} ms{span}"
    )
    if s.untimed_queries:
        lines.append(f"without duration: {s.untimed_queries:,} (counted, not timed)")
    lines.append(f"slow (>= {r.options.slow_ms:g} ms): {s.slow_queries:,}")
    lines.append(f"skipped lines: {s.skipped_lines:,}")
    if s.regex_fingerprints:
        lines.append(
            f"fingerprints by regex fallback (text PostgreSQL cannot parse): "
            f"{s.regex_fingerprints:,}"
        )
    if any(not f.percentiles_exact for f in r.fingerprints):
        lines.append(
            f"percentiles: exact up to {EXACT_LIMIT} calls per fingerprint, "
            f"beyond that within {RELATIVE_ERROR:.0%} relative error"
        )
    if r.cache_note and not r.cache:
        lines.append(f"cache replay: {r.cache_note}")
    if r.events is not None:
        lines.extend(events_summary(r.events))
    return lines


def _cache_cell(f: FingerprintResult) -> str:
    if not f.cacheable:
        return "no"
    if not f.cache:
        return "yes"
    c = f.cache[0] if len(f.cache) == 1 else f.cache[-1]
    return f"{c.hit_rate:.0%}" if c.lookups else "yes"


def to_document(r: AnalyzeResult, *, top: int = 20, debug: bool = False) -> Document:
    """Build the report. ``top`` bounds the fingerprint tables (0 = all); ``debug`` adds
    samples of skipped lines to the warnings."""
    fps = r.fingerprints if top <= 0 else r.fingerprints[:top]
    cache_hdr = "cached" if len(r.cache) <= 1 else f"hit@{_ttl(r.cache[-1].ttl_s)}"
    fp_table = Table(
        name="fingerprints",
        title=f"Top fingerprints by total time ({len(fps)} of {len(r.fingerprints)})",
        columns=(
            Column("id", "id"),
            Column("calls", "calls", "right", "{:,}"),
            Column("total_ms", "total ms", "right", "{:,.1f}"),
            Column("share", "share", "right", "{:.1%}"),
            Column("mean_ms", "mean", "right", "{:,.2f}"),
            Column("p95_ms", "p95", "right", "{:,.2f}"),
            Column("cache", cache_hdr, "right"),
            Column("query", "query"),
        ),
        rows=[
            (
                _sid(f.id),
                f.calls,
                f.total_ms,
                f.share,
                f.mean_ms,
                f.p95_ms,
                _cache_cell(f),
                _short(f.query),
            )
            for f in fps
        ],
    )
    slow_table = Table(
        name="slow",
        title=f"Slow queries (>= {r.options.slow_ms:g} ms: {r.summary.slow_queries:,}"
        + (f", slowest {len(r.slow)} shown)" if r.summary.slow_queries > len(r.slow) else ")"),
        columns=(
            Column("ts", "time"),
            Column("session", "session"),
            Column("duration_ms", "ms", "right", "{:,.1f}"),
            Column("query", "statement"),
        ),
        rows=[
            (
                _show_ts(q.ts) if q.ts is not None else None,
                q.session,
                q.duration_ms,
                _with_params(q.query, q.params),
            )
            for q in r.slow
        ],
    )
    tables = [fp_table, slow_table]
    if r.cache:
        tables.append(
            Table(
                name="cache",
                title="Cache replay"
                + (
                    f" (LRU, {r.options.cache_entries:,} entries)"
                    if r.options.cache_entries
                    else ""
                ),
                columns=(
                    Column("ttl", "ttl", "right"),
                    Column("hit_rate", "hit rate", "right", "{:.1%}"),
                    Column("hits", "hits", "right", "{:,}"),
                    Column("misses", "misses", "right", "{:,}"),
                    Column("saved_ms", "saved ms", "right", "{:,.1f}"),
                    Column("saved_share", "saved", "right", "{:.1%}"),
                    Column("invalidations", "invalidations", "right", "{:,}"),
                    Column("evictions", "evictions", "right", "{:,}"),
                ),
                rows=[
                    (
                        _ttl(c.ttl_s),
                        c.hit_rate,
                        c.hits,
                        c.misses,
                        c.saved_ms,
                        c.saved_share,
                        c.invalidations,
                        c.evictions,
                    )
                    for c in r.cache
                ],
            )
        )
        cacheable = [f for f in r.fingerprints if f.cache and f.cache[0].lookups]
        cacheable.sort(key=lambda f: (-f.cache[-1].saved_ms, -f.calls, f.id))
        if top > 0:
            cacheable = cacheable[:top]
        tables.append(
            Table(
                name="cache_fingerprints",
                title="Cache replay per fingerprint (by time saved)",
                columns=(
                    Column("id", "id"),
                    Column("lookups", "lookups", "right", "{:,}"),
                    *(
                        Column(f"hit_rate_{c.ttl_s:g}", f"hit@{_ttl(c.ttl_s)}", "right", "{:.1%}")
                        for c in r.cache
                    ),
                    Column("saved_ms", "saved ms", "right", "{:,.1f}"),
                    Column("query", "query"),
                ),
                rows=[
                    (
                        _sid(f.id),
                        f.cache[0].lookups,
                        *(c.hit_rate for c in f.cache),
                        f.cache[-1].saved_ms,
                        _short(f.query, 100),
                    )
                    for f in cacheable
                ],
            )
        )
    uncacheable = [f for f in r.fingerprints if not f.cacheable or f.cache_bypassed]
    uncacheable.sort(key=lambda f: (-f.calls, f.id))
    if top > 0:
        uncacheable = uncacheable[:top]
    styles: list[Style] = ["dim" if f.kind != "read" else "" for f in uncacheable]
    tables.append(
        Table(
            name="uncacheable",
            title="Not cacheable (why)",
            columns=(
                Column("id", "id"),
                Column("calls", "calls", "right", "{:,}"),
                Column("reason", "reason"),
                Column("query", "query"),
            ),
            rows=[
                (
                    _sid(f.id),
                    f.calls,
                    f.uncacheable_reason
                    if not f.cacheable
                    else "; ".join(f"{why}: {n:,} calls" for why, n in f.cache_bypassed),
                    _short(f.query, 80),
                )
                for f in uncacheable
            ],
            row_styles=styles,
        )
    )
    if r.events is not None:
        tables.extend(events_tables(r.events, top))
    warnings = list(r.warnings)
    if debug:
        warnings.extend(
            f"skipped {path}:{line}: {text[:200]}" for path, line, text in r.skipped_samples
        )
    elif r.summary.skipped_lines:
        n = r.summary.skipped_lines
        warnings.append(
            f"{n:,} {'line' if n == 1 else 'lines'} could not be parsed and "
            f"{'was' if n == 1 else 'were'} skipped "
            "(--debug shows samples, --strict makes them fatal)"
        )
    verdict = ""
    if r.cache:
        best = max(r.cache, key=lambda c: (c.saved_ms, -c.ttl_s))
        verdict = (
            "no cacheable reads: a query cache would not help this workload"
            if best.hits + best.misses == 0
            else f"a query cache with ttl {_ttl(best.ttl_s)} would have answered "
            f"{best.hits:,} of {best.hits + best.misses:,} cacheable reads "
            f"({best.hit_rate:.1%}), saving {best.saved_ms:,.1f} ms ({best.saved_share:.1%})"
        )
    return Document(
        kind="analyze",
        schema_version=SCHEMA_VERSION,
        data=_data(r),
        tables=tables,
        title="perfkit analyze",
        summary=_summary_lines(r),
        verdict=verdict,
        warnings=warnings,
    )
