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


#: Distinct value sets of one fingerprint kept (each may be planned on its own).
MAX_SAMPLES = 4
# constants are read from every call up to _SCAN_ALL calls, then from every _SCAN_EVERY-th
_SCAN_ALL = 200
_SCAN_EVERY = 50


@dataclass(frozen=True)
class Sample:
    """One distinct set of values a fingerprint was called with."""

    sql: str
    params: tuple[str | None, ...] | None
    calls: int
    total_ms: float | None


@dataclass(frozen=True)
class WorkloadQuery:
    id: str  # fingerprint id
    sql: str  # the statement planned (an example with its own values when known)
    display: str  # normalised text, constants as $n
    params: tuple[str | None, ...] | None
    calls: int
    total_ms: float | None
    source: str
    #: constants of the statement text that every call used (evidence for a partial
    #: index); empty when the fingerprint was seen once
    fixed: tuple[str, ...] = ()
    #: distinct value sets seen (up to MAX_SAMPLES, the example first)
    samples: tuple[Sample, ...] = ()
    #: number of distinct value sets seen (MAX_SAMPLES + 1 means "more")
    distinct_values: int = 1

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


class _Acc:
    __slots__ = (
        "calls",
        "consts",
        "display",
        "example_ms",
        "id",
        "params",
        "samples",
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
        self.consts: list[str | None] | None = None  # None at a position that varied
        # values -> [sql, params, calls, total ms or None]
        self.samples: dict[tuple[str | None, ...], list[Any]] = {}

    def observe(
        self, sql: str, params: tuple[str | None, ...] | None, calls: int, ms: float | None
    ) -> None:
        from perfkit.indexes.literals import constant_values

        full = len(self.samples) > MAX_SAMPLES
        if full and self.consts is not None and all(v is None for v in self.consts):
            return  # every position varied and enough samples: nothing more to learn
        if full and (sql == self.sql or (self.calls > _SCAN_ALL and self.calls % _SCAN_EVERY)):
            return  # a long log: its constants are read from a sample of the calls
        consts = constant_values(sql)
        if self.consts is None:
            self.consts = list(consts)
        elif len(self.consts) != len(consts):
            self.consts = [None] * len(self.consts)
        else:
            for i, v in enumerate(consts):
                if self.consts[i] != v:
                    self.consts[i] = None
        key = (*consts, "\x00", *(params or ()))
        got = self.samples.get(key)
        if got is not None:
            got[2] += calls
            if ms is not None:
                got[3] = (got[3] or 0.0) + ms
        elif len(self.samples) <= MAX_SAMPLES:
            self.samples[key] = [sql, params, calls, ms]

    def workload_query(self) -> WorkloadQuery:
        samples = sorted(
            self.samples.values(), key=lambda s: s[0] != self.sql or s[1] != self.params
        )
        return WorkloadQuery(
            id=self.id,
            sql=self.sql,
            display=self.display,
            params=self.params,
            calls=self.calls,
            total_ms=self.total if self.timed else None,
            source=self.source,
            fixed=tuple(v for v in self.consts or () if v is not None) if self.calls > 1 else (),
            samples=tuple(Sample(s[0], s[1], s[2], s[3]) for s in samples[:MAX_SAMPLES]),
            distinct_values=len(self.samples),
        )


def _fold(
    items: Iterable[tuple[str, tuple[str | None, ...] | None, int, float | None, str]],
) -> tuple[dict[str, _Acc], int]:
    from perfkit.querylog.fingerprint import Fingerprinter

    fp = Fingerprinter()
    accs: dict[str, _Acc] = {}
    skipped = 0
    for sql, params, calls, ms, source in items:
        explicit = source.startswith("-s #")
        # a statement given with -s is always kept: the statement guard then reports why
        # it is not sent (VACUUM, SET ROLE, COMMIT...) or the server why it cannot be
        # planned (a typo), instead of it being dropped
        if not explicit and not is_plannable(sql):
            skipped += 1
            continue
        f = fp(sql)
        acc = accs.get(f.id)
        if acc is None:
            acc = accs[f.id] = _Acc(f.id, f.query, sql, source)
        acc.calls += calls
        acc.observe(sql, params, calls, ms)
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
    paths: Sequence[Path], log_format: str | None, notes: list[str]
) -> Iterable[tuple[str, Any, int, float | None, str]]:
    """The logs' statements; the readers' warnings (an inferred prefix, skipped lines,
    input out of time order) are added to ``notes`` once the logs are read."""
    from perfkit.querylog.readers import read_logs

    stream = read_logs([str(p) for p in paths], log_format=log_format)
    for ev in stream:
        yield ev.query, ev.params, max(ev.calls, 1), ev.duration_ms, f"{ev.source}:{ev.line}"
    notes.extend(stream.warnings)


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


def stats_delta_rows(
    delta: Any,
) -> tuple[list[tuple[str, Any, int, float | None, str]], list[str]]:
    """The statements of a pg_stat_statements delta (``perfkit.livestats``) that ran in the
    connected database, and why the delta is not the whole interval (if it is not)."""
    rows = [
        (r.query, None, r.calls, r.exec.total, "pg_stat_statements delta")
        for r in delta.rows
        if r.dbid == delta.dbid and r.calls > 0
    ]
    return rows, [f"--from-stats --interval: {p}" for p in delta.problems]


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

    notes: list[str] = []

    def items() -> Iterable[tuple[str, Any, int, float | None, str]]:
        for i, s in enumerate(statements, 1):
            if not s.strip():
                raise UsageError("--statement", f"statement {i} is empty")
            yield s.strip().rstrip(";"), None, 1, None, f"-s #{i}"
        if paths:
            yield from _from_logs(paths, log_format, notes)
        yield from stats_rows

    accs, skipped = _fold(items())
    queries = []
    filtered = 0
    for a in accs.values():
        if a.calls < min_calls or (min_time_ms > 0 and a.total < min_time_ms):
            filtered += 1
            continue
        queries.append(a.workload_query())
    queries.sort(key=lambda q: -q.weight)
    return Workload(tuple(queries), skipped, filtered, tuple(notes))
