"""The workload to advise on: statements from ``-s``, ``.sql`` files, logs or
pg_stat_statements, grouped by fingerprint and weighted by the time they cost."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from perfkit.errors import UsageError

_PLANNABLE = re.compile(
    r"^\s*(?:--[^\n]*\n\s*|/\*.*?\*/\s*)*(SELECT|WITH|INSERT|UPDATE|DELETE|VALUES|TABLE|MERGE)\b",
    re.I | re.S,
)


@dataclass(frozen=True)
class WorkloadQuery:
    id: str  # fingerprint id
    sql: str  # the statement planned (an example with its own values when known)
    display: str  # normalised text, constants as $n
    params: tuple[str | None, ...] | None
    calls: int
    total_ms: float | None
    source: str

    @property
    def weight(self) -> float:
        """Time the workload spends in this query (ms), or its call count untimed."""
        return self.total_ms if self.total_ms else float(self.calls)


@dataclass(frozen=True)
class Workload:
    queries: tuple[WorkloadQuery, ...]
    skipped: int  # statements that are not queries (SET, BEGIN, DDL...)
    filtered: int  # below --min-calls / --min-time-ms
    warnings: tuple[str, ...]


def is_plannable(sql: str) -> bool:
    return _PLANNABLE.match(sql) is not None


# Statements a user may pass with -s that are not queries at all; anything else given
# explicitly is planned, so that a typo is reported ("could not parse") rather than dropped.
_UTILITY = re.compile(
    r"^\s*(?:SET|RESET|SHOW|BEGIN|START|COMMIT|END|ROLLBACK|SAVEPOINT|RELEASE|CREATE|ALTER|DROP|"
    r"GRANT|REVOKE|VACUUM|ANALYZE|COPY|LISTEN|NOTIFY|DISCARD|DEALLOCATE|PREPARE|EXECUTE|"
    r"LOCK|CHECKPOINT|TRUNCATE|COMMENT|CALL|DO|FETCH|CLOSE|DECLARE|MOVE)\b",
    re.I,
)


class _Acc:
    __slots__ = (
        "calls",
        "display",
        "example_ms",
        "id",
        "params",
        "source",
        "sql",
        "timed",
        "total",
    )

    def __init__(self, fid: str, display: str, sql: str, source: str) -> None:
        self.id, self.display, self.sql, self.source = fid, display, sql, source
        self.params: tuple[str | None, ...] | None = None
        self.calls = 0
        self.total = 0.0
        self.timed = False
        self.example_ms = -1.0


def _fold(
    items: Iterable[tuple[str, tuple[str | None, ...] | None, int, float | None, str]],
) -> tuple[dict[str, _Acc], int]:
    from perfkit.querylog.fingerprint import Fingerprinter

    fp = Fingerprinter()
    accs: dict[str, _Acc] = {}
    skipped = 0
    for sql, params, calls, ms, source in items:
        explicit = source.startswith("-s #")
        if not is_plannable(sql) and (not explicit or _UTILITY.match(sql)):
            skipped += 1
            continue
        f = fp(sql)
        acc = accs.get(f.id)
        if acc is None:
            acc = accs[f.id] = _Acc(f.id, f.query, sql, source)
        acc.calls += calls
        if ms is not None:
            acc.total += ms
            acc.timed = True
        # keep the slowest execution as the example: its values are the ones that hurt
        one = (ms or 0.0) / max(calls, 1)
        if one > acc.example_ms or (acc.params is None and params):
            acc.example_ms = one
            acc.sql, acc.params, acc.source = sql, params, source
    return accs, skipped


def _from_logs(
    paths: Sequence[Path], log_format: str | None
) -> Iterable[tuple[str, Any, int, float | None, str]]:
    from perfkit.querylog.readers import read_logs

    for ev in read_logs([str(p) for p in paths], log_format=log_format):
        yield ev.query, ev.params, max(ev.calls, 1), ev.duration_ms, f"{ev.source}:{ev.line}"


def load_stats_workload(
    conn: Any, limit: int = 500
) -> tuple[list[tuple[str, Any, int, float | None, str]], str | None]:
    """Rows of pg_stat_statements, or ([], why) when it is missing or not readable."""
    import psycopg

    from perfkit.db.sql import load_sql

    try:
        with conn.transaction():
            rows = conn.execute(
                load_sql("idx_stat_statements", int(conn.info.server_version)), {"limit": limit}
            ).fetchall()
    except psycopg.errors.UndefinedTable:
        return [], "pg_stat_statements is not installed in this database"
    except psycopg.errors.InsufficientPrivilege as exc:
        return [], f"pg_stat_statements is not readable ({str(exc).strip().splitlines()[0]})"
    except psycopg.Error as exc:
        return [], f"pg_stat_statements could not be read ({str(exc).strip().splitlines()[0]})"
    return [(r[0], None, int(r[1]), float(r[2]), "pg_stat_statements") for r in rows], None


def load_workload(
    *,
    statements: Sequence[str] = (),
    paths: Sequence[Path] = (),
    log_format: str | None = None,
    stats_rows: Sequence[tuple[str, Any, int, float | None, str]] = (),
    min_calls: int = 1,
    min_time_ms: float = 0.0,
) -> Workload:
    """Group every input's statements by fingerprint (streaming: memory grows with the
    number of distinct fingerprints, not with the log)."""

    def items() -> Iterable[tuple[str, Any, int, float | None, str]]:
        for i, s in enumerate(statements, 1):
            if not s.strip():
                raise UsageError("--statement", f"statement {i} is empty")
            yield s.strip().rstrip(";"), None, 1, None, f"-s #{i}"
        if paths:
            yield from _from_logs(paths, log_format)
        yield from stats_rows

    accs, skipped = _fold(items())
    queries = []
    filtered = 0
    for a in accs.values():
        if a.calls < min_calls or (min_time_ms > 0 and a.total < min_time_ms):
            filtered += 1
            continue
        queries.append(
            WorkloadQuery(
                id=a.id,
                sql=a.sql,
                display=a.display,
                params=a.params,
                calls=a.calls,
                total_ms=a.total if a.timed else None,
                source=a.source,
            )
        )
    queries.sort(key=lambda q: -q.weight)
    return Workload(tuple(queries), skipped, filtered, ())
