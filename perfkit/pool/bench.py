"""`perfkit pool`: fresh connections vs a pool, swept over clients and pool sizes.

:func:`run_pool_benchmark` is the one core function: it checks each endpoint once,
starts the worker processes, runs every point of the sweep and returns a frozen
:class:`PoolBenchResult`. Rendering lives in :mod:`perfkit.pool.report`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import multiprocessing
import os
import sys
import threading
import time
import types
from array import array
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, cast

from perfkit.db.target import Target, resolve_target
from perfkit.errors import DatabaseError, InputError, UnsafeOperation, UsageError
from perfkit.pool.model import Endpoint, PointResult, PointStatus, PoolBenchResult, RunStatus
from perfkit.pool.recommend import analyze
from perfkit.pool.timing import summarize
from perfkit.pool.worker import AbortFlag, Mode, ShareResult, ShareTask, worker_main
from perfkit.pool.workload import Workload, select_one
from perfkit.report.progress import NullProgress, ProgressSink

if TYPE_CHECKING:
    import psycopg

APPLICATION_NAME = "perfkit-pool"


@dataclass(frozen=True)
class PoolBenchOptions:
    """What to measure. Durations are seconds."""

    clients: tuple[int, ...] = (1, 4, 16, 64)
    pool_sizes: tuple[int, ...] = (2, 5, 10)
    duration_s: float | None = 10.0
    requests: int | None = None
    warmup_s: float = 1.0
    warmup_requests: int = 0
    workload: Workload = field(default_factory=select_one)
    async_mode: bool = False
    fresh: bool = True
    workers: int | None = None
    read_only: bool = True
    #: side effects a rollback cannot undo that the user allowed (``--allow-side-effects``)
    allow_effects: frozenset[str] = frozenset()
    statement_timeout: str = "30s"
    lock_timeout: str = "5s"
    connect_timeout: float = 5.0
    lambda_memory_mb: int | None = None
    seed: int = 0
    monitor_interval_s: float = 0.05

    def validate(self) -> None:
        """Raise :class:`UsageError` naming the option for values that cannot work."""
        if not self.clients:
            raise UsageError("--clients", "give at least one client count")
        if any(c < 1 for c in self.clients):
            raise UsageError("--clients", "client counts must be 1 or more")
        if any(s < 1 for s in self.pool_sizes):
            raise UsageError("--pool-size", "pool sizes must be 1 or more")
        if self.duration_s is None and self.requests is None:
            raise UsageError("--duration", "give --duration or --requests")
        if self.duration_s is not None and self.duration_s <= 0:
            raise UsageError("--duration", "must be more than 0")
        if self.requests is not None and self.requests < 1:
            raise UsageError("--requests", "must be 1 or more")
        if self.warmup_s < 0 or self.warmup_requests < 0:
            raise UsageError("--warmup", "cannot be negative")
        if self.workers is not None and self.workers < 1:
            raise UsageError("--workers", "must be 1 or more")
        if self.connect_timeout <= 0:
            raise UsageError("--connect-timeout", "must be more than 0")
        if self.lambda_memory_mb is not None and self.lambda_memory_mb < 128:
            raise UsageError("--lambda-memory-mb", "Lambda memory is at least 128 MB")
        if not self.fresh and not self.pool_sizes:
            raise UsageError("--pool-size", "nothing to measure")


# --- endpoint checks -------------------------------------------------------------


@dataclass
class _Prepared:
    endpoint: Endpoint
    conninfo: str
    setup_sql: tuple[str, ...]
    monitor: psycopg.Connection[Any]
    monitor_sql: str


def _prepare(label: str, target: Target, options: PoolBenchOptions) -> _Prepared:
    from perfkit.db.connect import (
        connect,
        conninfo,
        detect_server_version,
        rejects_startup_options,
        session_statements,
    )
    from perfkit.db.sql import load_sql

    settings: dict[str, Any] = {
        "read_only": options.read_only,
        "statement_timeout": options.statement_timeout,
        "lock_timeout": options.lock_timeout,
        "connect_timeout": options.connect_timeout,
    }
    startup_options = True
    try:
        conn = connect(target, application_name=APPLICATION_NAME + "-monitor", **settings)
    except DatabaseError as exc:
        if not rejects_startup_options(exc):
            raise
        startup_options = False
        conn = connect(
            target,
            application_name=APPLICATION_NAME + "-monitor",
            session_settings=False,
            **settings,
        )
    try:
        version = detect_server_version(conn)
        info = conn.info
        host = info.host or ""
        transport: Literal["tcp", "unix"] = "unix" if host.startswith("/") or not host else "tcp"
        max_conn = None
        with contextlib.suppress(Exception):
            row = conn.execute("SHOW max_connections").fetchone()
            max_conn = int(row[0]) if row else None
        _guard(conn, options)
        _preflight(conn, options.workload)
    except BaseException:
        conn.close()
        raise
    endpoint = Endpoint(
        label=label,
        target=target.masked if not target.embedded else "embedded",
        transport=transport,
        host=host,
        port=int(info.port or 0),
        server_version=version.text,
        server_version_num=version.num,
        startup_options=startup_options,
        max_connections=max_conn,
    )
    info_str = conninfo(
        target,
        application_name=APPLICATION_NAME,
        session_settings=startup_options,
        read_only=options.read_only,
        statement_timeout=options.statement_timeout,
        lock_timeout=options.lock_timeout,
        connect_timeout=options.connect_timeout,
    )
    setup: tuple[str, ...] = ()
    if not startup_options:
        setup = tuple(
            session_statements(
                read_only=options.read_only,
                statement_timeout=options.statement_timeout,
                lock_timeout=options.lock_timeout,
            )
        )
    return _Prepared(endpoint, info_str, setup, conn, load_sql("pool_backends", version.num))


def _guard(conn: psycopg.Connection[Any], options: PoolBenchOptions) -> None:
    """Every statement of the workload through the statement guard before any is sent:
    writes only with --allow-writes, never a statement that lifts the read-only mode or
    the timeouts, side effects only when named by --allow-side-effects."""
    from perfkit.db.guard import Guard, GuardPolicy, server_catalog
    from perfkit.pool.workload import guard_workload

    policy = GuardPolicy(
        writes=not options.read_only,
        transactions=True,
        session=True,
        allow_effects=options.allow_effects,
        writes_commit=not options.read_only,
    )
    guard_workload(options.workload, Guard(policy, server_catalog(conn)))


def _preflight(conn: psycopg.Connection[Any], workload: Workload) -> None:
    """Run the workload once so a write without --allow-writes or a broken query fails
    before the sweep, with one clear line."""
    import random

    import psycopg

    from perfkit.pool.timing import execute

    try:
        for item in workload.transaction(random.Random(0)):
            if isinstance(item, str):
                execute(conn.pgconn, item.encode())
    except psycopg.errors.ReadOnlySqlTransaction as exc:
        raise UnsafeOperation(
            f"{workload.source}: the workload writes ({_first(exc)})",
            hint="perfkit pool sessions are read-only; pass --allow-writes to benchmark writes",
        ) from None
    except psycopg.Error as exc:
        if conn.pgconn.status != psycopg.pq.ConnStatus.OK:
            raise
        raise InputError(workload.source, f"the workload fails: {_first(exc)}") from None
    except ValueError as exc:  # expression errors (division by zero, bad bounds)
        raise InputError(workload.source, str(exc)) from None


def _first(exc: BaseException) -> str:
    lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
    return lines[0] if lines else type(exc).__name__


# --- monitor and CPU -------------------------------------------------------------


class _Monitor:
    """Samples server backends from a separate connection while a point runs."""

    def __init__(self, conn: psycopg.Connection[Any], sql: str, interval: float) -> None:
        self.conn, self.sql, self.interval = conn, sql, interval
        self.peak_backends: int | None = None
        self.peak_active: int | None = None
        self.broken = False
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def sample(self) -> None:
        if self.broken:
            return
        try:
            row = self.conn.execute(self.sql.encode()).fetchone()
        except Exception:
            self.broken = True
            return
        if row:
            b, a = int(row[0]), int(row[1])
            self.peak_backends = max(self.peak_backends or 0, b)
            self.peak_active = max(self.peak_active or 0, a)

    def _run(self) -> None:
        while True:
            self.sample()
            if self._stop.wait(self.interval):
                return

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="perfkit-monitor", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None


def _cpu_jiffies() -> tuple[int, int] | None:
    """(busy, total) CPU time of the whole machine, from /proc/stat (Linux)."""
    try:
        with open("/proc/stat", encoding="ascii") as fh:
            fields = fh.readline().split()
    except OSError:
        return None
    if not fields or fields[0] != "cpu":
        return None
    values = [int(v) for v in fields[1:9]]
    idle = values[3] + values[4]
    total = sum(values)
    return total - idle, total


# --- workers ---------------------------------------------------------------------


@dataclass
class _Worker:
    process: Any
    pipe: Any


class _WorkerSet:
    def __init__(self, count: int) -> None:
        methods = multiprocessing.get_all_start_methods()
        # fork is fast and re-imports nothing; only safe while this process has no
        # other threads (a forked child would inherit their locks).
        method = "fork" if "fork" in methods and threading.active_count() == 1 else "spawn"
        self.ctx: Any = cast(Any, multiprocessing.get_context(method))
        self.abort = AbortFlag(self.ctx)
        self.workers: list[_Worker] = []
        for i in range(count):
            parent, child = self.ctx.Pipe()
            proc = self.ctx.Process(
                target=worker_main, args=(child, self.abort), name=f"perfkit-worker-{i}"
            )
            proc.daemon = True
            if method == "fork":
                proc.start()
            else:
                with _hidden_main():
                    proc.start()
            child.close()
            self.workers.append(_Worker(proc, parent))

    def close(self) -> None:
        for w in self.workers:
            with contextlib.suppress(OSError, ValueError):
                w.pipe.send(("exit", None))
        for w in self.workers:
            w.process.join(timeout=3)
            if w.process.is_alive():
                w.process.terminate()
                w.process.join(timeout=3)
            with contextlib.suppress(OSError):
                w.pipe.close()


@contextlib.contextmanager
def _hidden_main() -> Iterator[None]:
    """Start spawned workers without re-running the caller's script in them.

    A spawned child imports ``__main__`` from its path (the caller's script, which
    may call the benchmark again at import); the worker's entry point lives in
    perfkit.pool.worker, so the child needs none of it.
    """
    main = sys.modules.get("__main__")
    sys.modules["__main__"] = types.ModuleType("__main__")
    try:
        yield
    finally:
        if main is not None:
            sys.modules["__main__"] = main


def _split(total: int, parts: int) -> list[int]:
    base, extra = divmod(total, parts)
    return [base + (1 if i < extra else 0) for i in range(parts)]


@dataclass(frozen=True)
class _Plan:
    prepared_index: int
    mode: Mode
    clients: int
    pool_size: int | None


class _Interrupted(Exception):
    pass


def _wait_all(
    workers: Sequence[_Worker],
    pending: set[int],
    deadline: float | None,
    expected: set[str],
) -> dict[int, tuple[str, Any]]:
    """Collect one message from each pending worker; a dead worker counts as failed."""
    from multiprocessing.connection import wait

    out: dict[int, tuple[str, Any]] = {}
    pending = set(pending)
    while pending:
        timeout = 0.2
        if deadline is not None:
            timeout = min(timeout, max(0.0, deadline - time.monotonic()))
        ready = wait([workers[i].pipe for i in pending], timeout=timeout)
        for i in list(pending):
            w = workers[i]
            if w.pipe in ready:
                try:
                    msg = w.pipe.recv()
                except (EOFError, OSError):
                    msg = ("done", ShareResult(fatal="a load-generator process ended unexpectedly"))
                if msg[0] in expected:
                    out[i] = msg
                    pending.discard(i)
            elif not w.process.is_alive():
                code = w.process.exitcode
                out[i] = ("done", ShareResult(fatal=f"a load-generator process died (exit {code})"))
                pending.discard(i)
        if pending and deadline is not None and time.monotonic() >= deadline:
            for i in pending:
                out[i] = ("done", ShareResult(fatal="timed out waiting for the load generator"))
            break
    return out


def _run_point(
    wset: _WorkerSet,
    prepared: _Prepared,
    plan: _Plan,
    options: PoolBenchOptions,
    worker_limit: int,
) -> PointResult:
    pool_size = plan.pool_size or 0
    n = min(worker_limit, plan.clients, pool_size if plan.pool_size else plan.clients)
    clients = _split(plan.clients, n)
    sizes = _split(pool_size, n) if plan.pool_size else [0] * n
    # a fixed request count is split across workers in proportion to their clients
    requests: list[int | None] = (
        list(_split_weighted(options.requests, clients))
        if options.requests is not None
        else [None] * n
    )
    workers = wset.workers[:n]
    wset.abort.clear()
    pool_timeout = max(2.0, options.connect_timeout * 2)
    for i, w in enumerate(workers):
        task = ShareTask(
            mode=plan.mode,
            conninfo=prepared.conninfo,
            setup_sql=prepared.setup_sql,
            clients=clients[i],
            pool_size=sizes[i],
            duration_s=options.duration_s if options.requests is None else None,
            requests=requests[i],
            warmup_s=options.warmup_s,
            warmup_requests=options.warmup_requests,
            workload=options.workload,
            seed=options.seed * 1000 + i,
            connect_timeout=options.connect_timeout,
            pool_timeout=pool_timeout,
        )
        w.pipe.send(("run", task))
    everyone = set(range(n))
    interrupted = False
    monitor = _Monitor(prepared.monitor, prepared.monitor_sql, options.monitor_interval_s)
    cpu0 = cpu1 = None
    try:
        prep_deadline = time.monotonic() + options.warmup_s + options.connect_timeout * 4 + 30
        if options.warmup_requests:
            prep_deadline += 60
        first = _wait_all(workers, everyone, prep_deadline, {"ready", "done"})
        results: dict[int, ShareResult] = {i: m[1] for i, m in first.items() if m[0] == "done"}
        ready = {i for i, m in first.items() if m[0] == "ready"}
        if results:  # someone failed while preparing: cancel the others
            wset.abort.set()
            for i in ready:
                workers[i].pipe.send(("cancel", None))
        else:
            monitor.sample()  # pools are open now: their connections count
            cpu0 = _cpu_jiffies()
            monitor.start()
            for i in ready:
                workers[i].pipe.send(("go", None))
        run_deadline = None
        if options.requests is None and options.duration_s is not None:
            run_deadline = (
                time.monotonic()
                + options.duration_s
                + _seconds(options.statement_timeout)
                + options.connect_timeout * 2
                + 30
            )
        try:
            rest = _wait_all(workers, ready, run_deadline, {"done"})
        except KeyboardInterrupt:
            interrupted = True
            wset.abort.set()
            rest = _wait_all(workers, ready, time.monotonic() + 30, {"done"})
        results.update({i: m[1] for i, m in rest.items()})
        cpu1 = _cpu_jiffies()
    except KeyboardInterrupt:
        interrupted = True
        wset.abort.set()
        results = {
            i: m[1]
            for i, m in _wait_all(workers, everyone, time.monotonic() + 30, {"done"}).items()
        }
    finally:
        monitor.stop()
    if not interrupted and monitor.peak_backends is None and not monitor.broken:
        monitor.sample()
    return _merge(
        plan,
        prepared,
        n,
        [results.get(i, ShareResult()) for i in range(n)],
        monitor,
        cpu0,
        cpu1,
        interrupted,
    )


def _split_weighted(total: int, weights: Sequence[int]) -> list[int]:
    whole = sum(weights)
    shares = [total * w // whole for w in weights]
    for i in range(total - sum(shares)):
        shares[i % len(shares)] += 1
    return shares


def _seconds(text: str) -> float:
    from perfkit.units import parse_duration

    return parse_duration(text)


def _merge(
    plan: _Plan,
    prepared: _Prepared,
    n: int,
    shares: Sequence[ShareResult],
    monitor: _Monitor,
    cpu0: tuple[int, int] | None,
    cpu1: tuple[int, int] | None,
    interrupted: bool,
) -> PointResult:
    def joined(attr: str) -> array[float]:
        out = array("d")
        for s in shares:
            out.frombytes(getattr(s, attr))
        return out

    latency = joined("latency")
    fatal = next((s.fatal for s in shares if s.fatal), None)
    starts = [s.t_start for s in shares if s.t_end > 0]
    ends = [s.t_end for s in shares if s.t_end > 0]
    elapsed = max(ends) - min(starts) if starts else 0.0
    requests = len(latency)
    throughput = requests / elapsed if elapsed > 0 else 0.0
    stats: dict[str, int] = {}
    for s in shares:
        for k, v in s.pool_stats.items():
            stats[k] = stats.get(k, 0) + int(v)
    cores = os.cpu_count() or 1
    client_cpu = machine_cpu = None
    if elapsed > 0:
        client_cpu = sum(s.cpu_s for s in shares) / (elapsed * cores) * 100
        if cpu0 and cpu1 and cpu1[1] > cpu0[1]:
            machine_cpu = (cpu1[0] - cpu0[0]) / (cpu1[1] - cpu0[1]) * 100
    messages: list[str] = []
    for s in shares:
        for m in s.error_messages:
            if m not in messages:
                messages.append(m)
    errors = sum(s.errors for s in shares)
    if not interrupted and not fatal and requests == 0:
        # a point without one completed request measured nothing: it is not "ok" with a
        # throughput of 0, it failed (every request errored, or none finished in time)
        fatal = (
            f"no request completed ({errors} failed: {messages[0]})"
            if errors and messages
            else "no request completed in the measured time"
        )
    status: PointStatus = "interrupted" if interrupted else ("failed" if fatal else "ok")
    socket = joined("connect_socket")
    startup = joined("connect_startup")
    total = array("d", (a + b for a, b in zip(socket, startup, strict=True)))
    ssl = next((s.ssl for s in shares if s.ssl is not None), None)
    return PointResult(
        endpoint=prepared.endpoint.label,
        mode=plan.mode,
        clients=plan.clients,
        pool_size=plan.pool_size,
        workers=n,
        status=status,
        error=("interrupted (Ctrl-C)" if interrupted else fatal),
        requests=requests,
        errors=errors,
        error_messages=tuple(messages),
        elapsed_s=elapsed,
        throughput=throughput,
        latency=summarize(latency),
        connect=summarize(total),
        connect_socket=summarize(socket),
        connect_startup=summarize(startup),
        pool_wait=summarize(joined("wait")),
        peak_backends=monitor.peak_backends,
        peak_active=monitor.peak_active,
        pool_stats=stats,
        client_cpu_pct=client_cpu,
        machine_cpu_pct=machine_cpu,
        ssl=ssl,
    )


# --- the core function -----------------------------------------------------------


def point_label(plan: _Plan, endpoint: str | None = None) -> str:
    """What the progress line says while ``plan`` runs: ``pool of 2, 1 client``."""
    clients = f"{plan.clients} client{'' if plan.clients == 1 else 's'}"
    if plan.mode == "fresh":
        what = "fresh connections"
    else:
        what = f"{'async pool' if plan.mode == 'async' else 'pool'} of {plan.pool_size}"
    return f"{endpoint + ': ' if endpoint else ''}{what}, {clients}"


def plan_points(options: PoolBenchOptions, endpoints: int) -> list[_Plan]:
    sizes = sorted(set(options.pool_sizes))
    if options.lambda_memory_mb is not None:
        from perfkit.pool.recommend import lambda_pool_size

        sizes = sorted(set(sizes) | {lambda_pool_size(options.lambda_memory_mb)})
    plans: list[_Plan] = []
    for e in range(endpoints):
        for c in options.clients:
            if options.fresh:
                plans.append(_Plan(e, "fresh", c, None))
            for s in sizes:
                plans.append(_Plan(e, "pool", c, s))
            if options.async_mode:
                for s in sizes:
                    plans.append(_Plan(e, "async", c, s))
    return plans


def run_pool_benchmark(
    dsn: str | Target | None = None,
    *,
    compare_dsn: str | None = None,
    options: PoolBenchOptions | None = None,
    config: Mapping[str, Any] | None = None,
    progress: ProgressSink | None = None,
) -> PoolBenchResult:
    """Measure fresh connections vs a pool on ``dsn`` (and ``compare_dsn``).

    Raises :class:`~perfkit.errors.UsageError` for bad options and
    :class:`~perfkit.errors.DatabaseError` when an endpoint cannot be reached before
    the sweep starts. Once the sweep runs, a lost server or Ctrl-C ends it early: the
    result then has ``status`` ``failed``/``interrupted`` and the points measured so far.
    """
    from perfkit.pool.workload import split_workload

    options = options or PoolBenchOptions()
    options.validate()
    # one statement per command: each is judged by the guard and sent alone
    options = dataclasses.replace(options, workload=split_workload(options.workload))
    sink = progress or NullProgress()
    targets = [dsn if isinstance(dsn, Target) else resolve_target(dsn, config)]
    if compare_dsn:
        targets.append(Target(compare_dsn, "option"))
    labels = ["primary", "compare"]
    prepared: list[_Prepared] = []
    try:
        for label, target in zip(labels, targets, strict=False):
            prepared.append(_prepare(label, target, options))
        plans = plan_points(options, len(prepared))
        cores = os.cpu_count() or 1
        worker_count = options.workers or cores
        needed = min(worker_count, max(options.clients))
        points: list[PointResult] = []
        status: RunStatus = "complete"
        error = None
        wset = _WorkerSet(needed)
        try:
            sink.start("pool benchmark", total=len(plans))
            for plan in plans:
                p = prepared[plan.prepared_index]
                try:
                    where = p.endpoint.label if len(prepared) > 1 else None
                    sink.update(description=point_label(plan, where))
                    point = _run_point(wset, p, plan, options, needed)
                except KeyboardInterrupt:  # between points: nothing half-measured
                    status, error = "interrupted", "interrupted (Ctrl-C)"
                    break
                points.append(point)
                sink.advance()
                if point.status != "ok":
                    status = "interrupted" if point.status == "interrupted" else "failed"
                    error = point.error
                    break
        finally:
            sink.finish()
            wset.close()
    finally:
        for p in prepared:
            with contextlib.suppress(Exception):
                p.monitor.close()
    recs, lam = analyze(points, options.lambda_memory_mb)
    return PoolBenchResult(
        endpoints=tuple(p.endpoint for p in prepared),
        options=options,
        workload=options.workload.source,
        points=tuple(points),
        recommendations=recs,
        lambda_check=lam,
        status=status,
        error=error,
        workers=needed,
        cores=cores,
        points_planned=len(plans),
    )
