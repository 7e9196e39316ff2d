"""`perfkit pool --storm`: N concurrent Lambda cold starts, each opening its pool, at once.

:func:`run_storm` is the one core function. Per endpoint (the server, and with
``compare_dsn`` a pooler such as PgBouncer in front of it) and per concurrency level it
opens every instance's connections at the same moment from one asyncio event loop
(``psycopg.AsyncConnection``; no thread per connection), classifies each attempt
(accepted; refused with ``too many clients``, ``remaining connection slots are reserved``
or by the pooler; other errors), holds the accepted ones for ``hold_s`` while a separate
monitor connection samples ``pg_stat_activity``, closes everything and waits for the
server's backends to go. The model of :mod:`perfkit.pool.storm_model` says what should
happen; the result holds both.

Bounded and safe: never more than ``max_clients`` connections at once, every wait has a
deadline, sessions are read-only with perfkit's timeouts and run ``SELECT 1`` only,
nothing is ever terminated, and a storm that would take every connection slot of a
server other than perfkit's embedded one is refused unless ``allow_exhaust``.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from perfkit.db.target import Target, resolve_target
from perfkit.errors import DatabaseError, UnsafeOperation, UsageError
from perfkit.pool import lambda_pool_size, pool_settings
from perfkit.pool.storm_model import (
    InstancePool,
    LevelPrediction,
    ServerSlots,
    exhausts,
    predict,
    safe_concurrency,
    saturation_point,
    storm_levels,
)
from perfkit.pool.timing import Summary, summarize
from perfkit.report.progress import NullProgress, ProgressSink

if TYPE_CHECKING:
    import psycopg

APPLICATION_NAME = "perfkit-storm"
MONITOR_NAME = "perfkit-storm-monitor"
Outcome = Literal["accepted", "too_many", "reserved", "pooler", "error"]
RunStatus = Literal["complete", "failed", "interrupted"]


@dataclass(frozen=True)
class StormOptions:
    """What to storm with. Durations are seconds."""

    #: concurrent cold starts to measure; ``None``: a ramp past the model's saturation point
    levels: tuple[int, ...] | None = None
    memory_mb: int | None = None  # Lambda memory: the pool size by the heuristic
    pool_max: int | None = None  # each instance's pool max_size (wins over memory_mb)
    pool_min: int | None = None  # connections each instance opens (default: pool_max)
    max_clients: int = 500  # never more connections than this at once
    hold_s: float = 1.0  # accepted connections stay open this long per level
    allow_exhaust: bool = False
    statement_timeout: str = "30s"
    lock_timeout: str = "5s"
    connect_timeout: float = 5.0
    monitor_interval_s: float = 0.02
    drain_timeout_s: float = 10.0

    def validate(self) -> None:
        if self.levels is not None:
            if not self.levels:
                raise UsageError("--clients", "give at least one concurrency")
            if any(n < 1 for n in self.levels):
                raise UsageError("--clients", "concurrencies must be 1 or more")
        if self.max_clients < 1:
            raise UsageError("--max-clients", "must be 1 or more")
        if self.hold_s < 0:
            raise UsageError("--duration", "cannot be negative")
        if self.connect_timeout <= 0:
            raise UsageError("--connect-timeout", "must be more than 0")
        if self.memory_mb is not None and self.memory_mb < 128:
            raise UsageError("--lambda-memory-mb", "Lambda memory is at least 128 MB")
        if self.pool_max is not None and self.pool_max < 1:
            raise UsageError("--pool-size", "must be 1 or more")
        if self.pool_min is not None and self.pool_min < 1:
            raise UsageError("--pool-min", "must be 1 or more (a storm opens connections)")

    def instance_pool(self) -> InstancePool:
        """The pool each instance creates: perfkit's create_pool sizing (the Lambda
        heuristic from the memory, else its default), opened to ``pool_min``."""
        settings = pool_settings(self.memory_mb, max_size=self.pool_max)
        if self.pool_max is not None:
            reason = "--pool-size"
        elif self.memory_mb is not None:
            reason = (
                f"{self.memory_mb} MB Lambda: 1 connection per 128 MB, at most 10 "
                f"= {lambda_pool_size(self.memory_mb)}"
            )
        else:
            reason = "create_pool's default max_size (no --lambda-memory-mb)"
        low = settings.max_size if self.pool_min is None else self.pool_min
        if low > settings.max_size:
            raise UsageError(
                "--pool-min", f"{low} is more than the pool's max size ({settings.max_size})"
            )
        return InstancePool(min_size=low, max_size=settings.max_size, reason=reason)


@dataclass(frozen=True)
class BackendSample:
    """One look at ``pg_stat_activity`` during a level (``t_s`` from the level's start)."""

    t_s: float
    backends: int  # client backends of the whole server (the monitor's own included)
    ours: int  # the storm's (by application_name)


@dataclass(frozen=True)
class StormLevel:
    """One concurrency level on one endpoint: what was asked for and what happened."""

    endpoint: str
    instances: int
    wanted: int
    accepted: int
    refused_too_many: int
    refused_reserved: int
    refused_pooler: int
    errors: int
    error_messages: tuple[str, ...]
    instances_failed: int  # instances with at least one connection not accepted
    connect: Summary | None  # accepted: until the connection answered SELECT 1
    refusal: Summary | None  # refused: until the refusal arrived
    peak_backends: int | None
    peak_ours: int | None
    samples: tuple[BackendSample, ...]
    elapsed_s: float
    predicted: LevelPrediction | None  # the model's (the server, not through a pooler)

    @property
    def refused(self) -> int:
        return self.refused_too_many + self.refused_reserved + self.refused_pooler


@dataclass(frozen=True)
class StormEndpoint:
    label: str
    target: str  # masked
    server_version: str
    server_version_num: int
    pooler: bool  # rejects the options startup parameter: settings sent in each transaction
    #: server backends of this endpoint's storm still there after it: 0 when the storm
    #: cleaned up; through a pooler, the server connections its pool keeps open
    leftover: int | None


@dataclass(frozen=True)
class EndpointVerdict:
    endpoint: str
    max_clean: int | None  # largest measured concurrency with every connection accepted
    saturated_at: int | None  # smallest measured concurrency with a refusal
    peak_backends: int | None


@dataclass(frozen=True)
class StormResult:
    endpoints: tuple[StormEndpoint, ...]
    slots: ServerSlots
    pool: InstancePool
    options: StormOptions
    levels: tuple[int, ...]
    results: tuple[StormLevel, ...]
    verdicts: tuple[EndpointVerdict, ...]
    safe_concurrency: int  # the model's: Lambda reserved concurrency for the pool's max size
    safe_concurrency_cold: int  # the model's, if pools stayed at the connections opened
    saturation_predicted: int
    monitor_slots: int  # connections perfkit itself holds during the storm (the monitor)
    status: RunStatus
    error: str | None

    def verdict(self, label: str) -> EndpointVerdict | None:
        return next((v for v in self.verdicts if v.endpoint == label), None)


# --- classification ----------------------------------------------------------------


def classify(message: str) -> Outcome:
    """What a failed connection attempt means, from the server's (or pooler's) message."""
    text = message.lower()
    if "too many clients" in text or "too many connections for" in text:
        return "too_many"
    if "remaining connection slots are reserved" in text:
        return "reserved"
    if "no more connections allowed" in text or "max_client_conn" in text:
        return "pooler"
    return "error"


_SEVERITY = re.compile(r"\b(?:FATAL|ERROR):\s+(?P<text>.+)")


def _message(exc: BaseException) -> str:
    """The server's own words (``FATAL: ...``) without libpq's socket/host prefix."""
    from perfkit.redact import scrub

    lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
    for ln in lines:
        m = _SEVERITY.search(ln)
        if m:
            return scrub(m.group("text"))
    return scrub(lines[0]) if lines else type(exc).__name__


# --- the monitor -------------------------------------------------------------------


class _Monitor:
    """Samples the server's backends from its own connection, in its own thread."""

    def __init__(self, conn: psycopg.Connection[Any], sql: str, interval: float) -> None:
        self.conn, self.sql, self.interval = conn, sql, interval
        self.lock = threading.Lock()
        self.samples: list[BackendSample] = []
        self.t0 = time.monotonic()
        self.broken: str | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def count(self, app: str) -> tuple[int, int]:
        with self.lock:
            row = self.conn.execute(self.sql, {"app": app}).fetchone()
        return (int(row[0]), int(row[1])) if row else (0, 0)

    def _run(self, app: str) -> None:
        while not self._stop.is_set():
            try:
                b, ours = self.count(app)
            except Exception as exc:
                self.broken = _message(exc)
                return
            self.samples.append(BackendSample(time.monotonic() - self.t0, b, ours))
            self._stop.wait(self.interval)

    def start(self, app: str) -> None:
        self.samples = []
        self.t0 = time.monotonic()
        self._stop.clear()
        self._thread = threading.Thread(
            target=self._run, args=(app,), name="perfkit-storm-monitor", daemon=True
        )
        self._thread.start()

    def stop(self) -> tuple[BackendSample, ...]:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None
        return tuple(self.samples)


# --- one level ---------------------------------------------------------------------


@dataclass
class _Attempt:
    instance: int
    outcome: Outcome = "error"
    seconds: float = 0.0
    message: str = ""
    conn: Any = None


async def _attempt(
    a: _Attempt, conninfo: str, check: str, start: asyncio.Event, timeout: float
) -> None:
    import psycopg

    await start.wait()
    t0 = time.perf_counter()
    step = "connection timeout expired"
    try:
        a.conn = await asyncio.wait_for(
            psycopg.AsyncConnection.connect(conninfo, autocommit=True), timeout
        )  # closed by the level whatever happens next
        step = "no answer to SELECT 1 in time"
        await asyncio.wait_for(a.conn.execute(check), timeout)
        a.outcome = "accepted"
    except (psycopg.Error, OSError) as exc:  # a pooler relays the server's refusal at SELECT
        a.message = _message(exc)
        a.outcome = classify(a.message)
    except asyncio.TimeoutError:
        a.message = step
    a.seconds = time.perf_counter() - t0


async def _close_all(attempts: Sequence[_Attempt]) -> None:
    async def close(a: _Attempt) -> None:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(a.conn.close(), 5)
        a.conn = None

    await asyncio.gather(*(close(a) for a in attempts if a.conn is not None))


async def _level(
    instances: int, per_instance: int, conninfo: str, check: str, options: StormOptions
) -> list[_Attempt]:
    attempts = [_Attempt(i) for i in range(instances) for _ in range(per_instance)]
    start = asyncio.Event()
    timeout = options.connect_timeout + 5
    tasks = [asyncio.ensure_future(_attempt(a, conninfo, check, start, timeout)) for a in attempts]
    try:
        start.set()  # every instance cold-starts at the same moment
        await asyncio.wait_for(asyncio.gather(*tasks), timeout * 2 + 5)
        await asyncio.sleep(options.hold_s)
    finally:
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await _close_all(attempts)
    return attempts


def _summarize_level(
    label: str,
    instances: int,
    per_instance: int,
    attempts: Sequence[_Attempt],
    samples: tuple[BackendSample, ...],
    elapsed: float,
    predicted: LevelPrediction | None,
) -> StormLevel:
    by: dict[str, int] = {}
    for a in attempts:
        by[a.outcome] = by.get(a.outcome, 0) + 1
    messages: list[str] = []
    for a in attempts:
        if a.outcome != "accepted" and a.message and a.message not in messages:
            messages.append(a.message)
    failed = {a.instance for a in attempts if a.outcome != "accepted"}
    refused = [a.seconds for a in attempts if a.outcome in ("too_many", "reserved", "pooler")]
    return StormLevel(
        endpoint=label,
        instances=instances,
        wanted=instances * per_instance,
        accepted=by.get("accepted", 0),
        refused_too_many=by.get("too_many", 0),
        refused_reserved=by.get("reserved", 0),
        refused_pooler=by.get("pooler", 0),
        errors=by.get("error", 0),
        error_messages=tuple(messages[:5]),
        instances_failed=len(failed),
        connect=summarize([a.seconds for a in attempts if a.outcome == "accepted"]),
        refusal=summarize(refused),
        peak_backends=max((s.backends for s in samples), default=None),
        peak_ours=max((s.ours for s in samples), default=None),
        samples=samples,
        elapsed_s=elapsed,
        predicted=predicted,
    )


# --- endpoints ---------------------------------------------------------------------


@dataclass
class _Endpoint:
    label: str
    target: Target
    masked: str
    version_num: int
    version: str
    pooler: bool
    conninfo: str
    check: str
    app: str


def _open_endpoint(label: str, target: Target, options: StormOptions) -> _Endpoint:
    """Reach the endpoint once (its version; whether it takes the options startup
    parameter) and build the storm's conninfo. The check connection is closed at once."""
    from perfkit.db.connect import (
        connect,
        conninfo,
        detect_server_version,
        rejects_startup_options,
    )
    from perfkit.units import parse_duration_ms

    settings: dict[str, Any] = {
        "statement_timeout": options.statement_timeout,
        "lock_timeout": options.lock_timeout,
        "connect_timeout": options.connect_timeout,
    }
    pooler = False
    # a pooler passes application_name on to its server connections: each endpoint has
    # its own, so the storm's backends on the server are told apart from the pooler's
    app = APPLICATION_NAME if label == "primary" else f"{APPLICATION_NAME}-{label}"
    try:
        conn = connect(target, application_name=app, **settings)
    except DatabaseError as exc:
        if not rejects_startup_options(exc):
            raise
        pooler = True
        conn = connect(target, application_name=app, session_settings=False, **settings)
    try:
        version = detect_server_version(conn)
    finally:
        conn.close()
    info = conninfo(target, application_name=app, session_settings=not pooler, **settings)
    check = "SELECT 1"
    if pooler:
        # in PgBouncer's transaction mode a plain SET would stay on whichever server
        # connection ran it, for the next client: the limits are set for this transaction
        check = (
            "BEGIN READ ONLY; "
            f"SET LOCAL statement_timeout = {parse_duration_ms(options.statement_timeout)}; "
            f"SET LOCAL lock_timeout = {parse_duration_ms(options.lock_timeout)}; "
            "SELECT 1; COMMIT"
        )
    return _Endpoint(
        label,
        target,
        "embedded" if target.embedded else target.masked,
        version.num,
        version.text,
        pooler,
        info,
        check,
        app,
    )


def _read_slots(conn: psycopg.Connection[Any], version_num: int) -> ServerSlots:
    from perfkit.db.sql import load_sql

    row = conn.execute(load_sql("storm_slots", version_num)).fetchone()
    if row is None:  # pragma: no cover - the query always returns one row
        raise DatabaseError("storm", "could not read the server's connection settings")
    return ServerSlots(
        max_connections=int(row[0]),
        superuser_reserved=int(row[1]),
        reserved=int(row[2]),
        in_use=int(row[3]),
        superuser=bool(row[4]),
        reserved_role=bool(row[5]),
    )


def _drain(monitor: _Monitor, app: str, timeout: float) -> int:
    """Wait until the server has no backend of ``app`` left; return how many remain."""
    deadline = time.monotonic() + timeout
    while True:
        _, ours = monitor.count(app)
        if ours == 0 or time.monotonic() >= deadline:
            return ours
        time.sleep(0.02)


def _verdict(label: str, levels: Sequence[StormLevel]) -> EndpointVerdict:
    mine = [lv for lv in levels if lv.endpoint == label]
    clean = [lv.instances for lv in mine if lv.accepted == lv.wanted]
    refused = [lv.instances for lv in mine if lv.refused > 0]
    return EndpointVerdict(
        endpoint=label,
        max_clean=max(clean) if clean else None,
        saturated_at=min(refused) if refused else None,
        peak_backends=max((lv.peak_backends or 0 for lv in mine), default=None),
    )


# --- the core function -------------------------------------------------------------


def run_storm(
    dsn: str | Target | None = None,
    *,
    compare_dsn: str | None = None,
    options: StormOptions | None = None,
    config: Mapping[str, Any] | None = None,
    progress: ProgressSink | None = None,
) -> StormResult:
    """Storm ``dsn`` (and ``compare_dsn``, e.g. PgBouncer in front of it) with concurrent
    cold starts and return what the model predicts and what happened.

    Raises :class:`UsageError` for bad options, :class:`DatabaseError` when an endpoint
    cannot be reached first, and :class:`UnsafeOperation` when the storm would take every
    connection slot of a server other than perfkit's embedded one without ``allow_exhaust``.
    """
    from perfkit.db.connect import connect
    from perfkit.db.sql import load_sql

    options = options or StormOptions()
    options.validate()
    pool = options.instance_pool()
    per = pool.min_size
    sink = progress or NullProgress()
    target = dsn if isinstance(dsn, Target) else resolve_target(dsn, config)
    monitor_conn = connect(
        target,
        application_name=MONITOR_NAME,
        statement_timeout=options.statement_timeout,
        lock_timeout=options.lock_timeout,
        connect_timeout=options.connect_timeout,
    )
    try:
        endpoints = [_open_endpoint("primary", target, options)]
        if compare_dsn:
            endpoints.append(_open_endpoint("compare", Target(compare_dsn, "option"), options))
        backends_sql = load_sql("storm_backends", endpoints[0].version_num)
        monitor = _Monitor(monitor_conn, backends_sql, options.monitor_interval_s)
        # the check connection just closed: its backend may take a moment to go
        _drain(monitor, APPLICATION_NAME, options.drain_timeout_s)
        slots = _read_slots(monitor_conn, endpoints[0].version_num)
        if options.levels is None:
            levels = storm_levels(
                slots,
                per,
                options.max_clients,
                may_exhaust=target.embedded or options.allow_exhaust,
            )
        else:
            levels = tuple(sorted(set(options.levels)))
        _check_bounds(levels, per, slots, options, target)
        results, status, error, leftovers = _storm(
            endpoints, levels, per, slots, monitor, options, sink
        )
        finals = tuple(
            StormEndpoint(
                e.label, e.masked, e.version, e.version_num, e.pooler, leftovers.get(e.label)
            )
            for e in endpoints
        )
    finally:
        with contextlib.suppress(Exception):
            monitor_conn.close()
    return StormResult(
        endpoints=finals,
        slots=slots,
        pool=pool,
        options=options,
        levels=levels,
        results=tuple(results),
        verdicts=tuple(_verdict(e.label, results) for e in endpoints),
        safe_concurrency=safe_concurrency(slots, pool.max_size),
        safe_concurrency_cold=safe_concurrency(slots, per),
        saturation_predicted=saturation_point(slots, per),
        monitor_slots=1,
        status=status,
        error=error,
    )


def _check_bounds(
    levels: Sequence[int], per: int, slots: ServerSlots, options: StormOptions, target: Target
) -> None:
    if not levels:
        raise UsageError(
            "--max-clients",
            f"{options.max_clients} connection(s) are fewer than one instance's pool ({per})"
            if options.max_clients < per
            else "no concurrency fits below the server's usable connection slots "
            f"({slots.usable}); pass --allow-exhaust to storm past them",
        )
    peak = max(levels) * per
    if peak > options.max_clients:
        raise UsageError(
            "--clients",
            f"{max(levels)} instances x {per} connections = {peak}, more than --max-clients "
            f"{options.max_clients}",
        )
    if not target.embedded and not options.allow_exhaust and exhausts(slots, peak):
        raise UnsafeOperation(
            f"{target.masked}: {max(levels)} instances x {per} connections = {peak} would take "
            f"every connection slot this role can use ({slots.usable} of max_connections "
            f"{slots.max_connections}) and lock other applications out",
            hint="pass --allow-exhaust to storm this server anyway, or lower --clients",
        )


def _storm(
    endpoints: Sequence[_Endpoint],
    levels: Sequence[int],
    per: int,
    slots: ServerSlots,
    monitor: _Monitor,
    options: StormOptions,
    sink: ProgressSink,
) -> tuple[list[StormLevel], RunStatus, str | None, dict[str, int]]:
    """Every level on every endpoint; per endpoint, its backends left after the last."""
    results: list[StormLevel] = []
    leftovers: dict[str, int] = {}
    sink.start("connection storm", total=len(levels) * len(endpoints))
    try:
        for e in endpoints:
            for n in levels:
                sink.update(description=f"{e.label}: {n} cold starts x {per}")
                # a pooler keeps its server connections: only the server's own are waited for
                left = 0 if e.pooler else _drain(monitor, e.app, options.drain_timeout_s)
                if left:
                    leftovers[e.label] = left
                    return results, "failed", _not_gone(left, options), leftovers
                t0 = time.monotonic()
                monitor.start(e.app)
                try:
                    attempts = asyncio.run(_level(n, per, e.conninfo, e.check, options))
                finally:
                    samples = monitor.stop()
                if monitor.broken:
                    return results, "failed", f"the monitor failed: {monitor.broken}", leftovers
                # the model is of the primary's server; a second endpoint is measured only
                predicted = predict(slots, per, n) if e.label == "primary" else None
                results.append(
                    _summarize_level(
                        e.label, n, per, attempts, samples, time.monotonic() - t0, predicted
                    )
                )
                sink.advance()
            leftovers[e.label] = _drain(
                monitor, e.app, options.drain_timeout_s if not e.pooler else 0.0
            )
            if leftovers[e.label] and not e.pooler:
                return results, "failed", _not_gone(leftovers[e.label], options), leftovers
    except KeyboardInterrupt:
        with contextlib.suppress(Exception):
            for e in endpoints:
                leftovers.setdefault(e.label, _drain(monitor, e.app, 0.0 if e.pooler else 2.0))
        return results, "interrupted", "interrupted (Ctrl-C)", leftovers
    finally:
        sink.finish()
    return results, "complete", None, leftovers


def _not_gone(left: int, options: StormOptions) -> str:
    return (
        f"{left} backend(s) of the storm still on the server {options.drain_timeout_s:g}s "
        "after their connections were closed"
    )
