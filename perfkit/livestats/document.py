"""StatsDelta -> Document (pure): the JSON contract and the table of statements."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from perfkit.livestats.delta import DeltaRow, Moments, StatsDelta
from perfkit.report.model import Clipped, Column, Document, Style, Table

#: version of the ``stats-delta`` JSON document
SCHEMA_VERSION = 1
_QUERY_WIDTH = 70


def _iso(epoch: float | None) -> str | None:
    if epoch is None:
        return None
    return datetime.fromtimestamp(epoch, tz=timezone.utc).isoformat(timespec="milliseconds")


def _moments(m: Moments | None) -> dict[str, Any] | None:
    if m is None:
        return None
    return {"count": m.n, "total_ms": m.total, "mean_ms": m.mean, "stddev_ms": m.stddev}


def _row_json(r: DeltaRow, d: StatsDelta) -> dict[str, Any]:
    return {
        "fingerprint": r.fingerprint,
        "queryid": r.queryid,
        "query": r.query,
        "database": r.datname,
        "dbid": r.dbid,
        "user": r.rolname,
        "userid": r.userid,
        "toplevel": r.toplevel,
        "status": r.status,
        "partial": r.partial,
        "calls": r.calls,
        "calls_per_s": r.calls / d.seconds if d.seconds > 0 else None,
        "exec": _moments(r.exec),
        "plan": _moments(r.plan),
        **{k: v for k, v in r.counters.items() if k not in ("calls", "plans")},
    }


def _data(d: StatsDelta) -> dict[str, Any]:
    return {
        "source": "pg_stat_statements",
        "complete": d.complete,
        "problems": list(d.problems),
        "notes": list(d.notes),
        "start": _iso(d.start),
        "end": _iso(d.end),
        "covered_from": _iso(d.covered_from),
        "seconds": d.seconds,
        "reset_at": _iso(d.reset_at),
        "evictions": d.evictions,
        "entries_gone": d.entries_gone,
        "server_version_num": d.server_version_num,
        "settings": {
            "pg_stat_statements.max": d.settings.max,
            "pg_stat_statements.track": d.settings.track,
            "pg_stat_statements.track_planning": d.settings.track_planning,
            "pg_stat_statements.track_utility": d.settings.track_utility,
            "track_io_timing": d.settings.track_io_timing,
        },
        "database": d.datname,
        "transactions": d.xacts,
        "database_transactions": d.db_xacts,
        "calls": d.calls,
        "total_exec_ms": d.total_exec_ms,
        "statements": [_row_json(r, d) for r in d.rows],
    }


_COLUMNS = (
    Column("id", "id"),
    Column("where", "db/user"),
    Column("calls", "calls", "right", "{:,}"),
    Column("total_ms", "total ms", "right", "{:,.1f}"),
    Column("mean_ms", "mean ms", "right", "{:,.3f}"),
    Column("stddev_ms", "stddev ms", "right", "{:,.3f}"),
    Column("plan_ms", "plan ms", "right", "{:,.3f}"),
    Column("rows", "rows", "right", "{:,.0f}"),
    Column("status", "status"),
    Column("query", "query"),
)
_IO_COLUMNS = (
    Column("id", "id"),
    Column("shared_hit", "shared hit", "right", "{:,.0f}"),
    Column("shared_read", "shared read", "right", "{:,.0f}"),
    Column("shared_dirtied", "dirtied", "right", "{:,.0f}"),
    Column("shared_written", "written", "right", "{:,.0f}"),
    Column("local", "local r/w", "right", "{:,.0f}"),
    Column("temp", "temp r/w", "right", "{:,.0f}"),
    Column("read_ms", "read ms", "right", "{:,.1f}"),
    Column("write_ms", "write ms", "right", "{:,.1f}"),
    Column("wal", "WAL bytes", "right", "{:,.0f}"),
    Column("query", "query"),
)


def _sum(r: DeltaRow, *names: str) -> float | None:
    known = [v for v in (r.counters.get(k) for k in names) if v is not None]
    return sum(known) if known else None


def _cells(r: DeltaRow) -> list[Any]:
    return [
        Clipped(r.fingerprint, 8, ""),
        Clipped(f"{r.datname or r.dbid}/{r.rolname or r.userid}", 24),
        r.calls,
        r.exec.total,
        r.exec.mean,
        r.exec.stddev,
        r.plan.mean if r.plan is not None else None,
        r.counters.get("rows"),
        r.status if r.toplevel else f"{r.status}, nested",
        Clipped(r.query, _QUERY_WIDTH),
    ]


def _io_cells(r: DeltaRow) -> list[Any]:
    return [
        Clipped(r.fingerprint, 8, ""),
        r.counters.get("shared_blks_hit"),
        r.counters.get("shared_blks_read"),
        r.counters.get("shared_blks_dirtied"),
        r.counters.get("shared_blks_written"),
        _sum(r, "local_blks_read", "local_blks_written"),
        _sum(r, "temp_blks_read", "temp_blks_written"),
        _sum(r, "blk_read_time", "temp_blk_read_time"),
        _sum(r, "blk_write_time", "temp_blk_write_time"),
        r.counters.get("wal_bytes"),
        Clipped(r.query, 40),
    ]


def to_document(d: StatsDelta, *, top: int = 20) -> Document:
    """The report of a delta; ``top`` rows in the table (0: all), every row in JSON."""
    rows = d.rows if top == 0 else d.rows[:top]
    styles: list[Style] = ["warn" if r.partial else "" for r in rows]
    shown = f" (top {len(rows)} of {len(d.rows)} by total time)" if len(rows) < len(d.rows) else ""
    tables = [
        Table(
            "statements",
            f"Statements over the interval{shown}",
            _COLUMNS,
            [_cells(r) for r in rows],
            styles,
        ),
        Table(
            "io",
            "Blocks (8 kB), I/O time and WAL of the same statements",
            _IO_COLUMNS,
            [_io_cells(r) for r in rows],
            styles,
        ),
    ]
    summary = [
        f"interval: {_iso(d.start)} to {_iso(d.end)} ({d.end - d.start:,.1f} s)"
        + (f"; figures from {_iso(d.covered_from)} on ({d.seconds:,.1f} s)" if d.reset_at else ""),
        f"statements: {len(d.rows):,} entries, {d.calls:,} calls, "
        f"{d.total_exec_ms:,.1f} ms executing",
    ]
    if d.xacts is not None:
        per = f", {d.calls / d.xacts:,.2f} calls per transaction" if d.xacts else ""
        summary.append(f"transactions: {d.xacts:,} (every database){per}")
    summary.extend(d.notes)
    verdict = (
        f"complete delta over {d.seconds:,.1f} s"
        if d.complete
        else f"PARTIAL delta: {len(d.problems)} "
        + ("reason" if len(d.problems) == 1 else "reasons")
        + " the figures are lower than what ran (see warnings)"
    )
    return Document(
        kind="stats-delta",
        schema_version=SCHEMA_VERSION,
        data=_data(d),
        tables=tables,
        title="perfkit analyze --from-stats",
        summary=summary,
        verdict=verdict,
        warnings=list(d.problems),
    )
