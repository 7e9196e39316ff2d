"""Entry points the CLI calls: connect, load the workload, advise or explain."""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from perfkit.errors import UsageError
from perfkit.indexes.workload import (
    Workload,
    load_stats_workload,
    load_workload,
    stats_delta_rows,
)
from perfkit.report.progress import ProgressSink


@dataclasses.dataclass(frozen=True)
class WorkloadSpec:
    statements: tuple[str, ...] = ()
    paths: tuple[Path, ...] = ()
    log_format: str | None = None
    from_stats: bool = False
    #: with from_stats: the workload is the delta over this many seconds from now
    stats_interval: float | None = None
    min_calls: int = 1
    min_time_ms: float = 0.0


def _workload(conn: Any, spec: WorkloadSpec, progress: ProgressSink | None = None) -> Workload:
    """The workload; ``conn`` is only needed (and may be None otherwise) for --from-stats."""
    rows: list[Any] = []
    warnings: list[str] = []
    why: str | None = None
    if spec.from_stats and spec.stats_interval is not None:
        from perfkit.livestats.run import delta_on

        # asked for by the user: pg_stat_statements missing is an error saying what to do
        rows, warnings = stats_delta_rows(delta_on(conn, spec.stats_interval, progress=progress))
    elif spec.from_stats:
        rows, why = load_stats_workload(conn)
    wl = load_workload(
        statements=spec.statements,
        paths=spec.paths,
        log_format=spec.log_format,
        stats_rows=rows,
        min_calls=spec.min_calls,
        min_time_ms=spec.min_time_ms,
    )
    if why and wl.queries:
        warnings.append(f"--from-stats: {why}; using the other inputs only")
    if not wl.queries:
        if spec.stats_interval is not None and spec.from_stats:
            raise UsageError(
                "--interval",
                f"no statement ran in this database during the {spec.stats_interval:g} s "
                "interval" + (f" ({'; '.join(warnings)})" if warnings else ""),
            )
        if why:
            # nothing else to use: say only why, not that other inputs are used
            raise UsageError("--from-stats", why)
        raise UsageError(
            "FILES",
            "no queries to work on: give a .sql file or a log, -s SQL, or --from-stats"
            + (f" ({wl.filtered} below --min-calls/--min-time-ms)" if wl.filtered else ""),
        )
    return dataclasses.replace(wl, warnings=(*wl.warnings, *warnings))


def suggest(
    spec: WorkloadSpec,
    options: Any,
    *,
    dsn: str | None = None,
    config: Any = None,
    statement_timeout: str = "30s",
    connect_timeout: float = 5.0,
    apply: bool = False,
    lock_timeout: str = "5s",
    build_timeout: str = "1h",
    progress: ProgressSink | None = None,
) -> Any:
    """Advise indexes for the workload ``spec`` on the target (``--apply`` creates them)."""
    from perfkit.db.connect import connect
    from perfkit.indexes.advisor import suggest_indexes
    from perfkit.indexes.apply import apply_suggestions
    from perfkit.units import parse_duration_ms

    with _session(spec, dsn, config, statement_timeout, connect_timeout, progress) as (
        target,
        conn,
        wl,
    ):
        result = suggest_indexes(conn, wl, options, embedded=target.embedded, progress=progress)
    if apply and result.suggestions:
        wconn = connect(
            target,
            read_only=False,
            statement_timeout=build_timeout,
            lock_timeout=lock_timeout,
            connect_timeout=connect_timeout,
        )
        try:
            applied = apply_suggestions(
                wconn, result.suggestions, lock_timeout_ms=parse_duration_ms(lock_timeout)
            )
        finally:
            wconn.close()
        result = dataclasses.replace(result, applied=tuple(applied))
    return result


def explain_queries(
    spec: WorkloadSpec,
    *,
    analyze: bool = False,
    min_rows: int = 10_000,
    dsn: str | None = None,
    config: Any = None,
    statement_timeout: str = "30s",
    connect_timeout: float = 5.0,
    progress: ProgressSink | None = None,
    allow_effects: frozenset[str] = frozenset(),
) -> Any:
    """EXPLAIN every workload query and list what its plan shows."""
    from perfkit.indexes.explain import explain_workload

    with _session(spec, dsn, config, statement_timeout, connect_timeout, progress) as (
        _,
        conn,
        wl,
    ):
        return explain_workload(
            conn,
            wl,
            analyze=analyze,
            min_rows=min_rows,
            progress=progress,
            allow_effects=allow_effects,
        )


@contextlib.contextmanager
def _session(
    spec: WorkloadSpec,
    dsn: str | None,
    config: Any,
    statement_timeout: str,
    connect_timeout: float,
    progress: ProgressSink | None = None,
) -> Iterator[tuple[Any, Any, Any]]:
    """The target, a read-only session on it and the workload; bad input fails before any
    server (or the embedded cluster) is touched."""
    from perfkit.db.connect import connect
    from perfkit.db.target import resolve_target

    target = resolve_target(dsn, config)
    wl = None if spec.from_stats else _workload(None, spec)
    conn = connect(target, statement_timeout=statement_timeout, connect_timeout=connect_timeout)
    try:
        yield target, conn, wl or _workload(conn, spec, progress)
    finally:
        conn.close()


__all__: Sequence[str] = ("WorkloadSpec", "explain_queries", "suggest")
