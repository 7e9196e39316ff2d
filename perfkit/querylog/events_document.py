"""EventsResult -> tables and summary lines of the analyze report (pure)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from perfkit.querylog.events import EventsResult
from perfkit.report.model import Clipped, Column, Table, clip, joined, short_id
from perfkit.report.render import to_jsonable

__all__ = ["events_json", "events_summary", "events_tables"]


def events_json(e: EventsResult) -> dict[str, Any]:
    """The ``events`` section of the analyze JSON (one key per category asked for)."""
    data: dict[str, Any] = to_jsonable(e)
    return data


def _size(n: float) -> str:
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if abs(n) < 1024 or unit == "TB":
            return f"{n:,.0f} {unit}" if unit == "B" else f"{n:,.1f} {unit}"
        n /= 1024
    return f"{n:,.1f} TB"  # pragma: no cover


def _short(text: str | None, n: int = 90) -> str | None:
    """Tables show ``n`` characters of a statement; CSV and JSON all of it."""
    return clip(text, n)


def _t(t: dt.datetime | None) -> str | None:
    return t.isoformat(sep=" ", timespec="milliseconds") if t is not None else None


def _hm(t: dt.datetime | None) -> str:
    return t.strftime("%H:%M") if t is not None else "?"


def _pairs(items: tuple[tuple[Any, int], ...], n: int = 5) -> str:
    return ", ".join(f"{k}: {v:,}" for k, v in items[:n])


def events_summary(e: EventsResult) -> list[str]:
    lines: list[str] = []
    if (t := e.temp_files) is not None:
        lines.append(
            f"temporary files: {t.count:,}, {_size(t.total_bytes)}"
            + (f" (largest {_size(t.max_bytes)})" if t.count else "")
        )
    if (lk := e.locks) is not None:
        lines.append(
            f"lock waits: {lk.waits:,} over deadlock_timeout, {lk.acquired:,} acquired after "
            f"{lk.acquired_wait_ms:,.1f} ms in all (longest {lk.max_wait_ms:,.1f} ms); "
            f"deadlocks: {lk.deadlocks:,}"
        )
    if (er := e.errors) is not None:
        lines.append(
            f"errors: {er.total:,}"
            + (f" ({_pairs(er.by_severity)})" if er.by_severity else "")
            + f"; statement_timeout hits: {er.statement_timeouts:,}"
            + (f"; cancellations: {_pairs(er.cancellations)}" if er.cancellations else "")
        )
    if (cp := e.checkpoints) is not None:
        lines.append(
            f"checkpoints: {cp.completed:,} ({_pairs(cp.by_reason)})"
            + (f", restartpoints: {cp.restartpoints:,}" if cp.restartpoints else "")
            + f", {cp.buffers_written:,} buffers written, {cp.total_s:,.1f} s in all "
            f"(longest {cp.max_s:,.3f} s), distance {cp.distance_kb:,} kB"
            + (f"; too frequent: {cp.too_frequent:,}" if cp.too_frequent else "")
        )
    if (av := e.autovacuum) is not None:
        lines.append(
            f"autovacuum: {av.vacuums:,} vacuums, {av.analyzes:,} analyzes on "
            f"{len(av.tables) + av.other_tables:,} tables, {av.total_s:,.1f} s"
        )
    if (c := e.connections) is not None:
        rate = f"{c.rate_per_s:,.2f}/s" if c.rate_per_s is not None else "n/a"
        mean = f"{c.mean_session_s:,.3f} s" if c.mean_session_s is not None else "n/a"
        lines.append(
            f"connections: {c.received:,} received ({rate}, peak {c.peak_per_s:,} in one "
            f"second at {_t(c.peak_ts) or 'n/a'}), {c.disconnections:,} sessions ended "
            f"(mean {mean}, {c.short_sessions:,} under 1 s), "
            f"authentication failures: {c.auth_failures:,}"
            + (f", refused (too many clients): {c.refused:,}" if c.refused else "")
        )
    if (p := e.plans) is not None:
        multi = sum(1 for f in p.fingerprints if len(f.shapes) + f.other_shapes > 1)
        lines.append(
            f"auto_explain plans: {p.plans:,} for {len(p.fingerprints):,} fingerprints "
            f"(not counted as executions), {multi:,} with more than one plan shape, "
            f"{len(p.changes):,} plan changes"
            + (f", {p.unparsed:,} in a format not read" if p.unparsed else "")
        )
    return lines


def events_tables(e: EventsResult, top: int) -> list[Table]:
    """One table per category asked for; ``top`` bounds the rows (0 = all)."""

    def cut(rows: list[Any]) -> list[Any]:
        return rows if top <= 0 else rows[:top]

    tables: list[Table] = []
    if (t := e.temp_files) is not None:
        tables.append(
            Table(
                name="temp_files",
                title="Temporary files by statement",
                columns=(
                    Column("count", "files", "right", "{:,}"),
                    Column("total", "total", "right"),
                    Column("max", "largest", "right"),
                    Column("fingerprint", "id"),
                    Column("query", "statement"),
                ),
                rows=cut(
                    [
                        (
                            g.count,
                            _size(g.total),
                            _size(g.max),
                            short_id(g.fingerprint),
                            _short(g.query) or "(statement not logged)",
                        )
                        for g in t.by_statement
                    ]
                ),
            )
        )
    if (lk := e.locks) is not None:
        tables.append(
            Table(
                name="locks",
                title="Lock waits by lock and by statement",
                columns=(
                    Column("what", "lock or statement"),
                    Column("waits", "waits", "right", "{:,}"),
                    Column("acquired", "acquired", "right", "{:,}"),
                    Column("wait_ms", "waited ms", "right", "{:,.1f}"),
                ),
                rows=[(k.lock, k.waits, k.acquired, k.acquired_wait_ms) for k in lk.by_lock]
                + cut(
                    [
                        (
                            _short(g.query, 80) or "(statement not logged)",
                            None,
                            g.count,
                            g.total / 1000,
                        )
                        for g in lk.by_statement
                    ]
                ),
            )
        )
        tables.append(
            Table(
                name="lock_waits",
                title="Lock waits (log_lock_waits)",
                columns=(
                    Column("ts", "time"),
                    Column("pid", "pid", "right"),
                    Column("kind", "event"),
                    Column("lock", "lock"),
                    Column("wait_ms", "after ms", "right", "{:,.1f}"),
                    Column("waited_for", "waiting for"),
                    Column("statement", "statement"),
                    Column("blocker", "blocker's next statement"),
                ),
                rows=cut(
                    [
                        (
                            _t(w.ts),
                            w.pid,
                            w.kind,
                            w.lock,
                            w.wait_ms,
                            ", ".join(str(p) for p in w.waited_for),
                            _short(w.statement, 60),
                            joined([b or "?" for b in w.blocker_statements], 60)
                            if w.blocker_statements
                            else None,
                        )
                        for w in lk.samples
                    ]
                ),
            )
        )
        tables.append(
            Table(
                name="deadlocks",
                title=f"Deadlocks ({lk.deadlocks:,})",
                columns=(
                    Column("ts", "time"),
                    Column("pid", "pid", "right"),
                    Column("processes", "processes and their statements"),
                ),
                rows=cut(
                    [
                        (
                            _t(d.ts),
                            d.pid,
                            Clipped(
                                "; ".join(f"{pid}: {s or '?'}" for pid, s in d.processes),
                                60,
                                display="; ".join(
                                    f"{pid}: {Clipped(s or '?', 60).shown()}"
                                    for pid, s in d.processes
                                ),
                            ),
                        )
                        for d in lk.deadlock_samples
                    ]
                ),
            )
        )
    if (er := e.errors) is not None:
        tables.append(
            Table(
                name="errors",
                title="Errors and cancellations (most frequent first)",
                columns=(
                    Column("count", "count", "right", "{:,}"),
                    Column("severity", "severity"),
                    Column("sqlstate", "sqlstate"),
                    Column("message", "message"),
                    Column("statement", "statement"),
                ),
                rows=cut(
                    [
                        (
                            g.count,
                            g.severity,
                            g.sqlstate,
                            _short(g.message, 80),
                            _short(g.statement, 60),
                        )
                        for g in er.groups
                    ]
                ),
            )
        )
    if (cp := e.checkpoints) is not None:
        tables.append(
            Table(
                name="checkpoints",
                title="Checkpoints",
                columns=(
                    Column("completed", "checkpoints", "right", "{:,}"),
                    Column("restartpoints", "restartpoints", "right", "{:,}"),
                    Column("buffers", "buffers", "right", "{:,}"),
                    Column("total_s", "total s", "right", "{:,.3f}"),
                    Column("max_s", "longest s", "right", "{:,.3f}"),
                    Column("write_s", "write s", "right", "{:,.3f}"),
                    Column("sync_s", "sync s", "right", "{:,.3f}"),
                    Column("distance_kb", "distance kB", "right", "{:,}"),
                    Column("wal", "WAL added/removed/recycled"),
                ),
                rows=[
                    (
                        cp.completed,
                        cp.restartpoints,
                        cp.buffers_written,
                        cp.total_s,
                        cp.max_s,
                        cp.write_s,
                        cp.sync_s,
                        cp.distance_kb,
                        f"{cp.wal_added:,}/{cp.wal_removed:,}/{cp.wal_recycled:,}",
                    )
                ],
            )
        )
    if (av := e.autovacuum) is not None:
        tables.append(
            Table(
                name="autovacuum",
                title="Autovacuum and autoanalyze per table (by time spent)",
                columns=(
                    Column("table", "table"),
                    Column("vacuums", "vacuums", "right", "{:,}"),
                    Column("analyzes", "analyzes", "right", "{:,}"),
                    Column("total_s", "total s", "right", "{:,.2f}"),
                    Column("max_s", "longest s", "right", "{:,.2f}"),
                    Column("tuples_removed", "tuples removed", "right", "{:,}"),
                    Column("pages_removed", "pages removed", "right", "{:,}"),
                ),
                rows=cut(
                    [
                        (
                            tm.table,
                            tm.vacuums,
                            tm.analyzes,
                            tm.total_s,
                            tm.max_s,
                            tm.tuples_removed,
                            tm.pages_removed,
                        )
                        for tm in av.tables
                    ]
                ),
            )
        )
    if (c := e.connections) is not None:
        tables.append(
            Table(
                name="sessions",
                title="Connections and sessions per user and database",
                columns=(
                    Column("user", "user"),
                    Column("database", "database"),
                    Column("connections", "connections", "right", "{:,}"),
                    Column("rate", "per s", "right", "{:,.2f}"),
                    Column("sessions", "sessions", "right", "{:,}"),
                    Column("mean_s", "mean s", "right", "{:,.3f}"),
                    Column("max_s", "longest s", "right", "{:,.3f}"),
                    Column("auth_failures", "auth failures", "right", "{:,}"),
                ),
                rows=cut(
                    [
                        (
                            g.user,
                            g.database,
                            g.connections,
                            g.rate_per_s,
                            g.sessions,
                            g.total_session_s / g.sessions if g.sessions else None,
                            g.max_session_s,
                            g.auth_failures,
                        )
                        for g in c.groups
                    ]
                ),
            )
        )
        tables.append(
            Table(
                name="applications",
                title="Connections and sessions per application",
                columns=(
                    Column("application", "application"),
                    Column("connections", "connections", "right", "{:,}"),
                    Column("rate", "per s", "right", "{:,.2f}"),
                    Column("sessions", "sessions", "right", "{:,}"),
                    Column("mean_s", "mean s", "right", "{:,.3f}"),
                    Column("max_s", "longest s", "right", "{:,.3f}"),
                    Column("auth_failures", "auth failures", "right", "{:,}"),
                ),
                rows=cut(
                    [
                        (
                            a.application,
                            a.connections,
                            a.rate_per_s,
                            a.sessions,
                            a.total_session_s / a.sessions if a.sessions else None,
                            a.max_session_s,
                            a.auth_failures,
                        )
                        for a in c.applications
                    ]
                ),
            )
        )
    if (p := e.plans) is not None:
        tables.append(
            Table(
                name="plan_changes",
                title="Plan changes (auto_explain)",
                columns=(
                    Column("ts", "time"),
                    Column("fingerprint", "id"),
                    Column("change", "change"),
                ),
                rows=cut(
                    [
                        (
                            _t(ch.ts),
                            short_id(ch.fingerprint),
                            f"{_hm(ch.ts)}: {ch.before} \u2192 {ch.after}",
                        )
                        for ch in p.changes
                    ]
                ),
            )
        )
        tables.append(
            Table(
                name="plans",
                title="Plans per fingerprint (auto_explain)",
                columns=(
                    Column("fingerprint", "id"),
                    Column("plans", "plans", "right", "{:,}"),
                    Column("shapes", "shapes", "right", "{:,}"),
                    Column("slowest_ms", "slowest ms", "right", "{:,.1f}"),
                    Column("plan", "slowest plan's scans"),
                    Column("query", "query"),
                ),
                rows=cut(
                    [
                        (
                            short_id(f.fingerprint),
                            f.plans,
                            len(f.shapes) + f.other_shapes,
                            f.slowest_ms,
                            _slowest_summary(f),
                            _short(f.query, 70),
                        )
                        for f in p.fingerprints
                    ]
                ),
            )
        )
    return tables


def _slowest_summary(f: Any) -> str | None:
    best = None
    for s in f.shapes:
        if best is None or s.max_ms > best.max_ms:
            best = s
    return best.summary if best is not None else None
