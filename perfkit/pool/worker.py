"""The load generator: one worker process runs its share of the clients of a point.

One Python process cannot drive PostgreSQL as hard as pgbench (the GIL serialises the
client-side work), so a point is split over several worker processes, each with its
own clients and its own share of the pool. Workers send back their raw samples
(latency, pool wait, connect phases) so the parent merges them exactly.

Protocol on the worker's pipe (parent -> worker / worker -> parent)::

    ("run", ShareTask)   ->  ("ready", None) | ("done", ShareResult with fatal)
    ("go", None)         ->  ("done", ShareResult)
    ("cancel", None)     ->  ("done", ShareResult)   # skipped after "ready"
    ("exit", None)

A shared ``abort`` event stops every client of every worker: set by a worker that
lost the server, or by the parent on Ctrl-C.
"""

from __future__ import annotations

import asyncio
import gc
import itertools
import logging
import random
import signal
import threading
import time
from array import array
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from perfkit.pool.timing import ConnectError, execute, timed_connect
from perfkit.pool.workload import Workload

Mode = Literal["fresh", "pool", "async"]
_CHECK_EVERY = 8  # look at the shared abort flag every N requests


class AbortFlag:
    """A stop flag shared by every worker process, read without a lock.

    ``multiprocessing.Event.is_set()`` takes a cross-process semaphore; with many
    client threads checking it on an oversubscribed machine, a preempted holder
    stalled every client for up to seconds. A byte in shared memory cannot.
    """

    def __init__(self, ctx: Any) -> None:
        self._value = ctx.RawValue("b", 0)

    def is_set(self) -> bool:
        return bool(self._value.value)

    def set(self) -> None:
        self._value.value = 1

    def clear(self) -> None:
        self._value.value = 0


@dataclass(frozen=True)
class ShareTask:
    mode: Mode
    conninfo: str
    setup_sql: tuple[str, ...]
    clients: int
    pool_size: int
    duration_s: float | None
    requests: int | None
    warmup_s: float
    warmup_requests: int
    workload: Workload
    seed: int
    connect_timeout: float
    pool_timeout: float


@dataclass(frozen=True)
class ShareResult:
    requests: int = 0
    errors: int = 0
    error_messages: tuple[str, ...] = ()
    fatal: str | None = None
    latency: bytes = b""
    wait: bytes = b""
    connect_socket: bytes = b""
    connect_startup: bytes = b""
    t_start: float = 0.0
    t_end: float = 0.0
    cpu_s: float = 0.0
    pool_stats: dict[str, int] = field(default_factory=dict)
    ssl: bool | None = None


class _Recorder:
    """Samples and errors of one share; each client thread appends to its own arrays."""

    def __init__(self, abort: Any) -> None:
        self.abort = abort
        self.latency: list[array[float]] = []
        self.wait: list[array[float]] = []
        self.socket: list[array[float]] = []
        self.startup: list[array[float]] = []
        self.errors = 0
        self.messages: list[str] = []
        self.fatal: str | None = None
        self.ssl: bool | None = None
        self._lock = threading.Lock()

    def arrays(self) -> tuple[array[float], array[float], array[float], array[float]]:
        arrs = (array("d"), array("d"), array("d"), array("d"))
        with self._lock:
            self.latency.append(arrs[0])
            self.wait.append(arrs[1])
            self.socket.append(arrs[2])
            self.startup.append(arrs[3])
        return arrs

    def error(self, exc: BaseException) -> None:
        msg = _one_line(exc)
        with self._lock:
            self.errors += 1
            if msg not in self.messages and len(self.messages) < 5:
                self.messages.append(msg)

    def fail(self, exc: BaseException | str) -> None:
        with self._lock:
            if self.fatal is None:
                self.fatal = exc if isinstance(exc, str) else _one_line(exc)
        self.abort.set()

    def result(
        self, t_start: float, t_end: float, cpu_s: float, stats: dict[str, int]
    ) -> ShareResult:
        def cat(parts: list[array[float]]) -> bytes:
            out = array("d")
            for p in parts:
                out.extend(p)
            return out.tobytes()

        return ShareResult(
            requests=sum(len(a) for a in self.latency),
            errors=self.errors,
            error_messages=tuple(self.messages),
            fatal=self.fatal,
            latency=cat(self.latency),
            wait=cat(self.wait),
            connect_socket=cat(self.socket),
            connect_startup=cat(self.startup),
            t_start=t_start,
            t_end=t_end,
            cpu_s=cpu_s,
            pool_stats=stats,
            ssl=self.ssl,
        )


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip()
    if not text:
        return type(exc).__name__
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    for ln in lines:
        if ln.startswith(("FATAL:", "ERROR:")):
            return ln
    return lines[0]


def _is_fatal(exc: BaseException, pgconn: Any = None) -> bool:
    """The server or the path to it is gone: stop the point rather than count errors."""
    from psycopg import pq
    from psycopg_pool import PoolTimeout

    from perfkit.db.connect import is_connection_lost

    if isinstance(exc, (ConnectError, PoolTimeout, OSError)):
        return True
    if pgconn is not None and pgconn.status == pq.ConnStatus.BAD:
        return True
    return is_connection_lost(exc)


def _run_transaction(pgconn: Any, workload: Workload, rng: random.Random) -> None:
    static = workload.static_sql
    if static is not None:
        for sql in static:
            execute(pgconn, sql)
        return
    for item in workload.transaction(rng):
        if isinstance(item, str):
            execute(pgconn, item.encode())
        elif item > 0:
            time.sleep(item)


# --- thread-based modes (fresh, pool) --------------------------------------------


def _client_loop(
    one: Callable[[random.Random, tuple[array[float], ...]], None],
    rec: _Recorder,
    rng: random.Random,
    until: float | None,
    counter: itertools.count[int] | None,
    limit: int,
    record: bool,
) -> None:
    arrs = rec.arrays() if record else (array("d"), array("d"), array("d"), array("d"))
    i = 0
    while True:
        if counter is not None:
            if next(counter) >= limit:
                return
        elif time.perf_counter() >= (until or 0.0):
            return
        i += 1
        if i % _CHECK_EVERY == 0 and rec.abort.is_set():
            return
        try:
            one(rng, arrs)
        except Exception as exc:
            if rec.fatal is not None or rec.abort.is_set():
                return
            pg = getattr(exc, "pgconn", None)
            if _is_fatal(exc, pg):
                rec.fail(exc)
                return
            rec.error(exc)


def _request_fn(
    task: ShareTask, pool: Any, rec: _Recorder
) -> Callable[[random.Random, tuple[array[float], ...]], None]:
    workload = task.workload
    perf = time.perf_counter
    setup = [s.encode() for s in task.setup_sql]
    static = workload.static_sql
    single = static[0] if static is not None and len(static) == 1 else None

    if task.mode == "fresh":
        conninfo, timeout = task.conninfo, task.connect_timeout

        def fresh(rng: random.Random, arrs: tuple[array[float], ...]) -> None:
            t0 = perf()
            pgconn, timing = timed_connect(conninfo, timeout)
            try:
                if rec.ssl is None:
                    rec.ssl = bool(pgconn.ssl_in_use)
                for stmt in setup:
                    execute(pgconn, stmt)
                _run_transaction(pgconn, workload, rng)
            finally:
                pgconn.finish()
            t1 = perf()
            arrs[0].append(t1 - t0)
            arrs[2].append(timing.socket_s)
            arrs[3].append(timing.startup_s)

        return fresh

    getconn, putconn = pool.getconn, pool.putconn

    def pooled(rng: random.Random, arrs: tuple[array[float], ...]) -> None:
        # getconn/putconn rather than the pool.connection() context manager: the same
        # pool work without a generator per request (half the client-side overhead)
        t0 = perf()
        conn = getconn()
        t_acq = perf()
        try:
            if single is not None:
                execute(conn.pgconn, single)
            else:
                _run_transaction(conn.pgconn, workload, rng)
        finally:
            putconn(conn)
        t1 = perf()
        arrs[0].append(t1 - t0)
        arrs[1].append(t_acq - t0)

    return pooled


def _run_threads(
    task: ShareTask,
    one: Callable[[random.Random, tuple[array[float], ...]], None],
    rec: _Recorder,
    *,
    duration: float | None,
    per_client: int | None,
    total: int | None,
    record: bool,
    seed_offset: int,
) -> None:
    until = time.perf_counter() + duration if duration is not None else None
    shared = itertools.count() if total is not None else None
    threads = []
    for i in range(task.clients):
        rng = random.Random(task.seed * 7919 + seed_offset * 104729 + i)
        counter = shared if shared is not None else (itertools.count() if per_client else None)
        limit = total if total is not None else (per_client or 0)
        t = threading.Thread(
            target=_client_loop,
            args=(one, rec, rng, until, counter, limit, record),
            name=f"perfkit-client-{i}",
            daemon=True,
        )
        threads.append(t)
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def _open_pool(task: ShareTask) -> Any:
    from psycopg_pool import ConnectionPool

    setup = task.setup_sql

    def configure(conn: Any) -> None:
        for stmt in setup:
            conn.execute(stmt.encode())

    pool = ConnectionPool(
        task.conninfo,
        min_size=task.pool_size,
        max_size=task.pool_size,
        kwargs={"autocommit": True},
        configure=configure if setup else None,
        timeout=task.pool_timeout,
        open=False,
        name="perfkit-bench",
    )
    try:
        pool.open(wait=True, timeout=max(2.0, task.connect_timeout * 2))
    except Exception as exc:
        pool.close(timeout=0.5)
        raise ConnectError(_pool_open_error(task, exc)) from None
    return pool


def _pool_open_error(task: ShareTask, exc: BaseException) -> str:
    # The pool only says it timed out; one direct attempt tells why.
    try:
        pg, _ = timed_connect(task.conninfo, task.connect_timeout)
        pg.finish()
    except ConnectError as direct:
        return str(direct)
    return f"the pool could not open {task.pool_size} connections: {_one_line(exc)}"


def _sync_point(pipe: Any, abort: Any, task: ShareTask) -> ShareResult:
    rec = _Recorder(abort)
    pool = None
    try:
        if task.mode == "pool":
            try:
                pool = _open_pool(task)
            except ConnectError as exc:
                return ShareResult(fatal=str(exc))
        one = _request_fn(task, pool, rec)
        if task.warmup_s > 0 or task.warmup_requests > 0:
            _run_threads(
                task,
                one,
                rec,
                duration=task.warmup_s if task.warmup_s > 0 else None,
                per_client=task.warmup_requests or None,
                total=None,
                record=False,
                seed_offset=1,
            )
            if rec.fatal:
                return rec.result(0.0, 0.0, 0.0, {})
            rec.errors, rec.messages = 0, []
        if pool is not None:
            pool.pop_stats()
        if not _wait_go(pipe, abort):
            return ShareResult()
        t_start, c_start = time.perf_counter(), time.process_time()
        _run_threads(
            task,
            one,
            rec,
            duration=task.duration_s,
            per_client=None,
            total=task.requests,
            record=True,
            seed_offset=2,
        )
        t_end, c_end = time.perf_counter(), time.process_time()
        stats = dict(pool.get_stats()) if pool is not None else {}
        return rec.result(t_start, t_end, c_end - c_start, stats)
    finally:
        if pool is not None:
            pool.close(timeout=1.0)


def _wait_go(pipe: Any, abort: Any) -> bool:
    pipe.send(("ready", None))
    while not pipe.poll(0.05):
        if abort.is_set():
            return False
    msg, _ = pipe.recv()
    return bool(msg == "go")


# --- asyncio mode ----------------------------------------------------------------


async def _async_point(pipe: Any, abort: Any, task: ShareTask) -> ShareResult:
    from psycopg_pool import AsyncConnectionPool

    rec = _Recorder(abort)
    setup = task.setup_sql
    workload = task.workload
    perf = time.perf_counter

    async def configure(conn: Any) -> None:
        for stmt in setup:
            await conn.execute(stmt.encode())

    pool = AsyncConnectionPool(
        task.conninfo,
        min_size=task.pool_size,
        max_size=task.pool_size,
        kwargs={"autocommit": True},
        configure=configure if setup else None,
        timeout=task.pool_timeout,
        open=False,
        name="perfkit-bench-async",
    )
    try:
        try:
            await pool.open(wait=True, timeout=max(2.0, task.connect_timeout * 2))
        except Exception as exc:
            return ShareResult(fatal=_pool_open_error(task, exc))

        async def one(rng: random.Random, arrs: tuple[array[float], ...]) -> None:
            t0 = perf()
            async with pool.connection() as conn:
                t_acq = perf()
                for item in workload.transaction(rng):
                    if isinstance(item, str):
                        cur = await conn.execute(item.encode())
                        if cur.description is not None:
                            await cur.fetchall()
                    elif item > 0:
                        await asyncio.sleep(item)
            t1 = perf()
            arrs[0].append(t1 - t0)
            arrs[1].append(t_acq - t0)

        async def client(
            rng: random.Random,
            until: float | None,
            counter: itertools.count[int] | None,
            limit: int,
            record: bool,
        ) -> None:
            arrs = rec.arrays() if record else (array("d"), array("d"), array("d"), array("d"))
            i = 0
            while True:
                if counter is not None:
                    if next(counter) >= limit:
                        return
                elif perf() >= (until or 0.0):
                    return
                i += 1
                if i % _CHECK_EVERY == 0 and abort.is_set():
                    return
                try:
                    await one(rng, arrs)
                except Exception as exc:
                    if rec.fatal is not None or abort.is_set():
                        return
                    if _is_fatal(exc, getattr(exc, "pgconn", None)):
                        rec.fail(exc)
                        return
                    rec.error(exc)

        async def run(
            duration: float | None,
            per_client: int | None,
            total: int | None,
            record: bool,
            off: int,
        ) -> None:
            until = perf() + duration if duration is not None else None
            shared = itertools.count() if total is not None else None
            coros = []
            for i in range(task.clients):
                rng = random.Random(task.seed * 7919 + off * 104729 + i)
                counter = (
                    shared if shared is not None else (itertools.count() if per_client else None)
                )
                limit = total if total is not None else (per_client or 0)
                coros.append(client(rng, until, counter, limit, record))
            await asyncio.gather(*coros)

        if task.warmup_s > 0 or task.warmup_requests > 0:
            await run(
                task.warmup_s if task.warmup_s > 0 else None,
                task.warmup_requests or None,
                None,
                False,
                1,
            )
            if rec.fatal:
                return rec.result(0.0, 0.0, 0.0, {})
            rec.errors, rec.messages = 0, []
        pool.pop_stats()
        loop = asyncio.get_running_loop()
        if not await loop.run_in_executor(None, _wait_go, pipe, abort):
            return ShareResult()
        t_start, c_start = perf(), time.process_time()
        await run(task.duration_s, None, task.requests, True, 2)
        t_end, c_end = perf(), time.process_time()
        return rec.result(t_start, t_end, c_end - c_start, dict(pool.get_stats()))
    finally:
        await pool.close(timeout=1.0)


# --- process entry point ---------------------------------------------------------


def run_share(pipe: Any, abort: Any, task: ShareTask) -> ShareResult:
    """Run one share of a point (in the calling process)."""
    try:
        if task.mode == "async":
            return asyncio.run(_async_point(pipe, abort, task))
        return _sync_point(pipe, abort, task)
    except Exception as exc:  # never leave the parent waiting
        abort.set()
        return ShareResult(fatal=f"load generator failed: {type(exc).__name__}: {_one_line(exc)}")


def worker_main(pipe: Any, abort: Any) -> None:
    """Body of a worker process: run shares until told to exit."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent handles Ctrl-C
    # the pool logs every lost connection; the point's result already says what failed
    logging.getLogger("psycopg.pool").setLevel(logging.CRITICAL)
    # Everything imported so far lives forever: keep it out of the cyclic GC, whose
    # full collections would otherwise stall a client for milliseconds mid-point.
    import psycopg
    import psycopg_pool

    del psycopg, psycopg_pool
    gc.collect()
    gc.freeze()
    while True:
        try:
            msg, payload = pipe.recv()
        except (EOFError, OSError):
            return
        if msg == "exit":
            return
        if msg == "run":
            result = run_share(pipe, abort, payload)
            try:
                pipe.send(("done", result))
            except (BrokenPipeError, OSError):
                return
