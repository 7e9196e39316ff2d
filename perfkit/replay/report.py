"""``ReplayResult`` -> :class:`~perfkit.report.Document` (pure)."""

from __future__ import annotations

from typing import Any

from perfkit.replay.model import SCHEMA_VERSION, ReplayResult, RunResult
from perfkit.report.model import Clipped, Column, Document, Style, Table
from perfkit.report.render import to_jsonable

__all__ = ["to_document"]


def _ms(v: float | None) -> str:
    return "-" if v is None else f"{v:,.2f} ms"


def _short(text: str, n: int = 70) -> Clipped:
    """Tables show ``n`` characters of the query; CSV and JSON all of it."""
    return Clipped(text, n)


def _run_line(r: RunResult) -> str:
    line = (
        f"{r.mode}: {r.statements} statements in {r.elapsed_s:.2f} s "
        f"({r.throughput:,.0f}/s), latency p50 {_ms(r.p50_ms)} p95 {_ms(r.p95_ms)} "
        f"p99 {_ms(r.p99_ms)}, {r.errors} errors"
    )
    if r.warnings:
        line += f", {r.warnings} server warnings"
    if r.cache is not None:
        c = r.cache
        line += f", hit rate {c.hit_rate:.1%} ({c.hits} hits)"
        if c.refused_stores:
            line += f", {c.refused_stores} results refused by the cache (a write raced them)"
    if r.skipped_writes or r.skipped_other:
        line += f", skipped {r.skipped_writes} writes + {r.skipped_other} other"
    if r.reconnects:
        line += f", {r.reconnects} reconnects"
    if r.waited_statements:
        line += (
            f", {r.waited_statements} statements waited {r.waited_ms:,.1f} ms for another "
            "session's transaction"
        )
    if r.unfinished_transactions:
        line += f", {r.unfinished_transactions} transactions the log never ended (rolled back)"
    return line


def _merged(result: ReplayResult, field: str) -> dict[tuple[str, str | None, str], list[Any]]:
    """Errors (or warnings) of the runs, one row per fingerprint and message (the
    larger count of the runs)."""
    out: dict[tuple[str, str | None, str], list[Any]] = {}
    for r in result.runs:
        for e in getattr(r, field):
            key = (e.fingerprint, e.sqlstate, e.message)
            if key in out:
                out[key][4] = max(out[key][4], e.count)
            else:
                out[key] = [e.fingerprint, _short(e.query, 50), e.sqlstate, e.message, e.count]
    return out


def to_document(result: ReplayResult, top: int = 20) -> Document:
    summary = [
        f"target {result.target}, {result.events} statements, {result.sessions_seen} sessions"
    ]
    summary += [_run_line(r) for r in result.runs]
    cmp = result.comparison
    if cmp is not None:
        rel = f" ({cmp.saved_relative_error:+.0%})" if cmp.saved_relative_error is not None else ""
        summary.append(
            f"simulated by analyze: hit rate {cmp.simulated_hit_rate:.1%}, saved "
            f"{cmp.simulated_saved_ms:,.1f} ms; measured: hit rate {cmp.measured_hit_rate:.1%}, "
            f"saved {cmp.measured_saved_ms:,.1f} ms"
            + (
                f" (end to end {cmp.end_to_end_delta_ms:+,.1f} ms)"
                if cmp.end_to_end_delta_ms is not None
                else ""
            )
        )
        summary.append(
            f"simulation error: hit rate {cmp.hit_rate_error:+.1%}, "
            f"saved {cmp.saved_error_ms:+,.1f} ms{rel}"
        )
    rows = list(result.fingerprints if top <= 0 else result.fingerprints[:top])
    lat_rows: list[tuple[Any, ...]] = []
    for f in rows:
        if f.direct_p50_ms is not None:
            lat_rows.append(
                (
                    f.fingerprint,
                    _short(f.query, 40),
                    "direct",
                    f.calls,
                    f.direct_p50_ms,
                    f.direct_p95_ms,
                    f.direct_p99_ms,
                )
            )
        if f.cached_p50_ms is not None:
            lat_rows.append(
                (
                    f.fingerprint,
                    _short(f.query, 40),
                    "cached",
                    f.calls,
                    f.cached_p50_ms,
                    f.cached_p95_ms,
                    f.cached_p99_ms,
                )
            )
    latency_table = Table(
        name="latency",
        title="Measured latency per fingerprint (ms, as the client saw it)",
        columns=(
            Column("fingerprint", "fingerprint"),
            Column("query", "query"),
            Column("run", "run"),
            Column("calls", "calls", "right"),
            Column("p50_ms", "p50", "right", "{:.3f}"),
            Column("p95_ms", "p95", "right", "{:.3f}"),
            Column("p99_ms", "p99", "right", "{:.3f}"),
        ),
        rows=lat_rows,
    )
    styles: list[Style] = [
        "good" if (f.saved_ms or 0) > 0 and f.hits else "dim" if not f.cacheable else ""
        for f in rows
    ]
    fp_table = Table(
        name="fingerprints",
        title="Cache per fingerprint: measured vs simulated by analyze",
        columns=(
            Column("fingerprint", "fingerprint"),
            Column("query", "query"),
            Column("calls", "calls", "right"),
            Column("hits", "hits", "right"),
            Column("simulated_hits", "sim hits", "right"),
            Column("saved_ms", "saved ms", "right", "{:,.2f}"),
            Column("simulated_saved_ms", "sim saved ms", "right", "{:,.2f}"),
        ),
        rows=[
            (
                f.fingerprint,
                _short(f.query, 40),
                f.calls,
                f.hits,
                f.simulated_hits,
                f.saved_ms,
                f.simulated_saved_ms,
            )
            for f in rows
        ],
        row_styles=styles,
    )
    runs_table = Table(
        name="runs",
        title="Runs",
        columns=(
            Column("mode", "run"),
            Column("statements", "stmts", "right"),
            Column("throughput", "per s", "right", "{:,.0f}"),
            Column("p50_ms", "p50 ms", "right", "{:.3f}"),
            Column("p95_ms", "p95 ms", "right", "{:.3f}"),
            Column("p99_ms", "p99 ms", "right", "{:.3f}"),
            Column("hit_rate", "hit rate", "right", "{:.1%}"),
            Column("errors", "errors", "right"),
            Column("skipped", "skipped", "right"),
            Column("lag_max_ms", "max lag ms", "right", "{:,.1f}"),
        ),
        rows=[
            (
                r.mode,
                r.statements,
                r.throughput,
                r.p50_ms,
                r.p95_ms,
                r.p99_ms,
                r.cache.hit_rate if r.cache else None,
                r.errors,
                r.skipped_writes + r.skipped_other,
                r.lag_max_ms,
            )
            for r in result.runs
        ],
    )
    errors = _merged(result, "error_counts")
    warned = _merged(result, "warning_counts")
    has_cache = any(r.cache is not None for r in result.runs)
    tables = [latency_table, fp_table, runs_table] if has_cache else [latency_table, runs_table]
    if errors:
        tables.append(
            Table(
                name="errors",
                title="Statements that failed on the target (per fingerprint, server error)",
                columns=(
                    Column("fingerprint", "fingerprint"),
                    Column("query", "query"),
                    Column("sqlstate", "sqlstate"),
                    Column("message", "error"),
                    Column("count", "count", "right"),
                ),
                rows=[tuple(v) for v in errors.values()],
                row_styles=["bad"] * len(errors),
            )
        )
    if warned:
        tables.append(
            Table(
                name="warnings",
                title="Statements the server warned about (per fingerprint, server warning)",
                columns=(
                    Column("fingerprint", "fingerprint"),
                    Column("query", "query"),
                    Column("sqlstate", "sqlstate"),
                    Column("message", "warning"),
                    Column("count", "count", "right"),
                ),
                rows=[tuple(v) for v in warned.values()],
                row_styles=["warn"] * len(warned),
            )
        )
    verdict = ""
    if result.interrupted:
        verdict = "interrupted: partial results"
    elif cmp is not None:
        verdict = (
            f"a {result.options.ttl:g}s cache served {cmp.measured_hit_rate:.1%} of cacheable "
            f"reads and saved {cmp.measured_saved_ms:,.1f} ms of client time on this target"
        )
    data = {
        "sources": list(result.sources),
        "target": result.target,
        "options": to_jsonable(result.options),
        "events": result.events,
        "sessions": result.sessions_seen,
        "interrupted": result.interrupted,
        "runs": to_jsonable(result.runs),
        "comparison": to_jsonable(result.comparison),
        "fingerprints": to_jsonable(result.fingerprints),
        "warnings": list(result.warnings),
    }
    return Document(
        kind="replay",
        schema_version=SCHEMA_VERSION,
        data=data,
        tables=tables,
        title="perfkit replay",
        summary=summary,
        verdict=verdict,
        warnings=list(result.warnings),
    )
