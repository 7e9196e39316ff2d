"""``perfkit demo``: a CRM database in the embedded cluster, its workload logged (and
pg_stat_statements snapshotted around it), then analyze, the log joined with the
pg_stat_statements delta, suggest-indexes --verify and a short pool benchmark on it, in
one summary.

The embedded cluster is left as it was found: the demo database is dropped (unless
``keep``) and the cluster is stopped again when it was not running before.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from perfkit.demo.stats import StatsComparison
from perfkit.demo.workload import DemoSize, create_schema, run_workload
from perfkit.report.progress import NullProgress, ProgressSink

DEMO_DB = "perfkit_demo"


@dataclass(frozen=True)
class DemoOptions:
    statements: int = 1200
    size: DemoSize = field(default_factory=DemoSize)
    keep: bool = False
    seed: int = 42
    pool_requests: int = 400
    pool: bool = True


@dataclass(frozen=True)
class DemoResult:
    database: str
    kept: bool
    size: DemoSize
    statements: int
    workload_s: float
    log_bytes: int
    log_events: int
    analyze: Any  # perfkit.querylog.aggregate.AnalyzeResult
    suggest: Any  # perfkit.indexes.model.SuggestResult
    pool: Any | None  # perfkit.pool.PoolBenchResult
    pool_note: str | None
    stats: StatsComparison  # pg_stat_statements over the workload, joined with the log
    steps: tuple[tuple[str, float], ...]
    total_s: float


def _log_slice(log: Path, start: int) -> bytes:
    with log.open("rb") as fh:
        fh.seek(start)
        return fh.read()


def run_demo(
    options: DemoOptions | None = None, *, progress: ProgressSink | None = None
) -> DemoResult:
    """Run the whole demo on the embedded cluster and return what each tool found."""
    import tempfile

    from psycopg.conninfo import make_conninfo

    from perfkit.db import embedded
    from perfkit.db.connect import connect

    opts = options or DemoOptions()
    prog = progress or NullProgress()
    t_all = time.perf_counter()
    steps: list[tuple[str, float]] = []
    was_running = embedded.status().running
    admin = embedded.ensure_running()
    name = DEMO_DB if opts.keep else f"{DEMO_DB}_{uuid.uuid4().hex[:8]}"
    dsn = make_conninfo(admin, dbname=name)
    log = embedded.data_dir() / "log"
    try:
        with connect(admin, read_only=False) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'.encode())
            conn.execute(f'CREATE DATABASE "{name}"'.encode())
        t = time.perf_counter()
        prog.start("creating the CRM schema and data")
        with connect(dsn, read_only=False, statement_timeout="5min") as conn:
            create_schema(conn, opts.size)
        prog.finish()
        steps.append(("schema and data", time.perf_counter() - t))

        t = time.perf_counter()
        first, stats_problem = _snapshot(dsn)
        snapshots_s = time.perf_counter() - t
        t = time.perf_counter()
        start = log.stat().st_size if log.exists() else 0
        with connect(dsn, read_only=False, statement_timeout="60s") as conn:
            # logging for this session only: a superuser may set it per session
            conn.execute("SET log_min_duration_statement = 0")
            pid = conn.info.backend_pid
            prog.start("running the application workload", total=opts.statements)
            run_workload(
                conn, opts.size, opts.statements, seed=opts.seed, on_step=lambda: prog.advance(1)
            )
            conn.execute("RESET log_min_duration_statement")
            prog.finish()
        workload_s = time.perf_counter() - t
        steps.append(("workload (logged)", workload_s))
        t = time.perf_counter()
        second, stats_problem = _snapshot(dsn) if first is not None else (None, stats_problem)
        steps.append(("pg_stat_statements snapshots", snapshots_s + time.perf_counter() - t))

        with tempfile.TemporaryDirectory(prefix="perfkit-demo-") as tmp:
            sliced = Path(tmp) / "postgresql.log"
            data = _log_slice(log, start)
            sliced.write_bytes(data)
            t = time.perf_counter()
            analysis, events = _analyze(sliced, pid)
            steps.append(("analyze", time.perf_counter() - t))
        stats = _stats(first, second, stats_problem, analysis)
        t = time.perf_counter()
        suggest = _suggest(dsn, events, prog)
        steps.append(("suggest-indexes --verify", time.perf_counter() - t))
        pool, pool_note = None, None
        if opts.pool:
            t = time.perf_counter()
            pool, pool_note = _pool(dsn, opts, prog)
            steps.append(("pool benchmark", time.perf_counter() - t))
        return DemoResult(
            database=name,
            kept=opts.keep,
            size=opts.size,
            statements=opts.statements,
            workload_s=workload_s,
            log_bytes=len(data),
            log_events=len(events),
            analyze=analysis,
            suggest=suggest,
            pool=pool,
            pool_note=pool_note,
            stats=stats,
            steps=tuple(steps),
            total_s=time.perf_counter() - t_all,
        )
    finally:
        if not opts.keep:
            try:
                with connect(admin, read_only=False) as conn:
                    conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'.encode())
            finally:
                if not was_running:
                    embedded.stop()
        elif not was_running:
            embedded.stop()


def _snapshot(dsn: str) -> tuple[Any | None, str | None]:
    """One pg_stat_statements snapshot of the demo database on a read-only session, or why
    there is none (the demo goes on without the live path)."""
    from perfkit.errors import DatabaseError
    from perfkit.livestats.run import Session, snapshot_now

    try:
        return snapshot_now(Session(dsn=dsn)), None
    except DatabaseError as exc:
        hint = f" ({exc.hint})" if exc.hint else ""
        return None, f"{exc}{hint}"


def _stats(
    first: Any | None, second: Any | None, problem: str | None, analysis: Any
) -> StatsComparison:
    from perfkit.demo.stats import compare
    from perfkit.livestats.delta import compute_delta

    if first is None or second is None:
        return StatsComparison(problem=problem or "pg_stat_statements could not be read")
    return compare(compute_delta(first, second), analysis.fingerprints)


def _events(path: Path, pid: int) -> Iterator[Any]:
    from perfkit.querylog.readers import read_logs

    for ev in read_logs([str(path)]):
        # only the demo session: other clients of the cluster may log too
        if ev.pid is None or ev.pid == pid:
            yield ev


def _analyze(path: Path, pid: int) -> tuple[Any, list[Any]]:
    from perfkit.querylog.aggregate import AnalyzeOptions, analyze_events

    events = list(_events(path, pid))
    result = analyze_events(events, AnalyzeOptions(slow_ms=50.0, replay=True))
    return result, events


def _suggest(dsn: str, events: list[Any], prog: ProgressSink) -> Any:
    from perfkit.db.connect import connect
    from perfkit.indexes.advisor import SuggestOptions, suggest_indexes
    from perfkit.indexes.workload import load_workload

    rows = [
        (ev.query, ev.params, max(ev.calls, 1), ev.duration_ms, f"{ev.source}:{ev.line}")
        for ev in events
    ]
    workload = load_workload(stats_rows=rows)
    with connect(dsn, statement_timeout="60s") as conn:
        return suggest_indexes(
            conn, workload, SuggestOptions(verify=True), embedded=True, progress=prog
        )


def _pool(dsn: str, opts: DemoOptions, prog: ProgressSink) -> tuple[Any | None, str | None]:
    try:
        from perfkit.pool import PoolBenchOptions, query_workload, run_pool_benchmark
    except ImportError as exc:  # the pool library is optional for the demo
        return None, f"pool benchmark left out ({exc})"
    from perfkit.db.target import Target

    options = PoolBenchOptions(
        clients=(1, 4),
        pool_sizes=(2, 4),
        duration_s=None,
        requests=opts.pool_requests,
        warmup_s=0.0,
        workload=query_workload("SELECT id, name, team FROM users WHERE id = 1"),
        seed=opts.seed,
    )
    result = run_pool_benchmark(Target(dsn, "option"), options=options, progress=prog)
    return result, None
