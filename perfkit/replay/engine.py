"""Replay a query log against a database, without and with the ``CachedExecutor``.

One run reads the log as a stream (memory does not grow with it) and dispatches each
statement to the worker its original session is pinned to (``sessions`` workers, one
connection each, round-robin on first sight): a session's statements run in their
original order on one connection. Sessions sharing a connection never share a
transaction: while one session's transaction is open there (as the server reports it),
the other sessions' statements wait for its end (counted with their wait). WARNING
messages the server raises (25001 "already a transaction in progress", ...) are counted
per fingerprint. Pacing: a statement is due at
``start + (t_log - t_first) / speed`` (``t_log`` is when it started: the log time
minus its duration); ``speed=None`` sends as fast as possible. Lag is how late a
statement started compared with when it was due.

Safety (read-only unless ``allow_writes``): sessions come from
:func:`perfkit.db.connect` (``default_transaction_read_only``, ``statement_timeout``),
and every statement goes through the statement guard (:mod:`perfkit.db.guard`, see
docs/safety.md): writes and row locks (unless ``allow_writes``), statements that could
lift those settings (``SET default_transaction_read_only``, ``SET ROLE``,
``SET statement_timeout``, ``BEGIN READ WRITE``, ...), side effects a rollback cannot
undo (``setval``, ``pg_terminate_backend``, advisory locks, DO/CALL, VACUUM, volatile
user functions ...) and text the parser rejects are skipped and counted. A skipped write still invalidates the cache of the cached run, at the point
where it happened, as it would have in production.

The cached run's cache runs on the log's clock (TTL in log time, whatever the speed),
keyed and invalidated like ``analyze``'s simulation, so the two compare statement
for statement; latencies are measured on the target. Every lookup, store and
invalidation carries the statement's position in the log, so the cache's race guard
refuses a result only for a write later in the log (exact, counted), and a transaction's
end invalidates where the log has its COMMIT.

The cached run goes first: it meets a colder database than the direct run, so the
measured saving is a lower bound rather than inflated by warm buffers.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import queue
import re
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from perfkit.cache.executor import StatementCache
from perfkit.db.connect import connect, is_connection_lost
from perfkit.db.guard import FunctionCatalog, Guard, GuardPolicy, server_catalog
from perfkit.db.target import Target, mask_dsn
from perfkit.errors import ConnectionFailed, InputError, PerfkitError, UsageError
from perfkit.querylog.classify import StatementClass
from perfkit.querylog.model import LogEvent
from perfkit.querylog.stats import DurationDigest
from perfkit.replay.model import (
    CacheFigures,
    ErrorCount,
    FingerprintComparison,
    FingerprintRun,
    Mode,
    ReplayOptions,
    ReplayResult,
    RunResult,
    SimulationComparison,
)

if TYPE_CHECKING:
    import psycopg

    from perfkit.cache.store import ResultCache
    from perfkit.querylog.aggregate import AnalyzeResult
    from perfkit.report.progress import ProgressSink

__all__ = ["replay", "replay_events", "skip_reason"]

_QUEUE_SIZE = 2000  # batches (or items, when paced)
# As fast as possible, items go to a worker in batches: one queue hand-off (and thread
# wake-up) per batch instead of per statement.
_BATCH = 128
# statements of other sessions that may wait for one session's transaction on a worker
_MAX_DEFERRED = 20_000
_MAX_UNREPLAYED = 100_000
_FIRST = re.compile(r"(?:\s+|--[^\n]*|/\*.*?\*/|\()*([A-Za-z_]+)", re.S)
_COPY_CLIENT = re.compile(r"\b(?:stdin|stdout)\b", re.I)
_SKIP_LABELS = {
    "write": "write",
    "lock": "locks rows",
    "lifts_guard": "could lift read-only mode or timeouts",
    "unparsable": "not parsed by PostgreSQL's parser",
}


def replay_guard(
    allow_writes: bool,
    catalog: FunctionCatalog | None = None,
    allow_effects: frozenset[str] = frozenset(),
) -> Guard:
    """The statement guard of a replay: the log's transactions and harmless session
    settings are replayed, writes only with ``allow_writes``, side effects a rollback
    cannot undo only when named in ``allow_effects``; anything that could lift read-only
    mode or the timeouts, never."""
    policy = GuardPolicy(
        writes=allow_writes,
        transactions=True,
        session=True,
        allow_effects=allow_effects,
        writes_commit=allow_writes,
    )
    return Guard(policy, catalog)


def skip_reason(
    sql: str, cls: StatementClass, allow_writes: bool, guard: Guard | None = None
) -> str | None:
    """Why a statement is not replayed, or None (the statement guard's verdict, one
    label per class so the report counts them: ``write``, ``locks rows``, ...)."""
    m = _FIRST.match(sql)
    word = m.group(1).lower() if m else ""
    if word == "copy" and _COPY_CLIENT.search(sql):
        return "COPY to or from the client (the data is not in the log)"
    g = guard or replay_guard(allow_writes)
    verdicts = g.judge(sql)
    if not verdicts:
        return None
    v = next((v for v in verdicts if not v.allowed), None)
    if v is None:
        if len(verdicts) > 1:
            return "several statements in one log entry"
        return None
    if v.kind == "side_effect" or "--allow-side-effects" in v.hint:
        cats = sorted({e.rpartition(": ")[2] for e in v.effects})
        return f"side effect a rollback cannot undo ({', '.join(cats)})"
    return _SKIP_LABELS.get(v.kind, f"{v.kind}: {v.reason}")


@dataclass(slots=True)
class _Item:
    due: float | None  # log seconds of the statement's start
    ts: float | None  # log time (cache clock)
    sql: str
    params: tuple[str | None, ...] | None
    fid: str
    session: object
    seq: int = 0  # position in the log (the cache's ordered invalidation)
    invalidate: frozenset[str] | None = None  # a skipped write: only invalidate


@dataclass
class _FpAcc:
    digest: DurationDigest = field(default_factory=DurationDigest)
    errors: int = 0
    hits: int = 0
    saved_ms: float = 0.0
    hit_ms: float = 0.0


class _Shared:
    """State shared by the workers of one run."""

    def __init__(self, options: ReplayOptions) -> None:
        self.options = options
        self.stop = threading.Event()
        self.stopped: str | None = None
        self.lock = threading.Lock()
        self.errors = 0
        self.error_counts: dict[tuple[str, str | None, str], list[Any]] = {}
        self.warnings = 0
        self.warning_counts: dict[tuple[str, str | None, str], list[Any]] = {}
        self.fatal: BaseException | None = None
        self.wall0 = 0.0
        self.log0: float | None = None

    @staticmethod
    def _count(
        counts: dict[tuple[str, str | None, str], list[Any]],
        key: tuple[str, str | None, str],
        sql: str,
    ) -> None:
        e = counts.get(key)
        if e is None:
            if len(counts) < 10_000:
                counts[key] = [1, sql]
        else:
            e[0] += 1

    def warning(self, fid: str, sqlstate: str | None, message: str, sql: str) -> None:
        """A WARNING the server raised for a statement that ran (not an error)."""
        with self.lock:
            self.warnings += 1
            self._count(self.warning_counts, (fid, sqlstate, message), sql)

    def error(self, fid: str, sqlstate: str | None, message: str, sql: str) -> None:
        with self.lock:
            self.errors += 1
            self._count(self.error_counts, (fid, sqlstate, message), sql)
            limit = self.options.max_errors
            if limit is not None and self.errors >= limit and self.stopped is None:
                self.stopped = f"stopped after {self.errors} errors (--max-errors {limit})"
                self.stop.set()

    def halt(self, why: str, exc: BaseException | None = None) -> None:
        with self.lock:
            if self.stopped is None:
                self.stopped = why
            if exc is not None and self.fatal is None:
                self.fatal = exc
        self.stop.set()


class _Worker(threading.Thread):
    def __init__(
        self,
        idx: int,
        shared: _Shared,
        mode: Mode,
        target: Target,
        cache: ResultCache | None,
        connector: Callable[[], psycopg.Connection[Any]],
        statements: StatementCache,
    ) -> None:
        super().__init__(name=f"perfkit-replay-{idx}", daemon=True)
        self.statements = statements
        # bounded either way, so reading the log never runs far ahead of the replay
        size = _QUEUE_SIZE // _BATCH if shared.options.speed is None else _QUEUE_SIZE
        self.q: queue.Queue[_Item | list[_Item] | None] = queue.Queue(size)
        self.batch: list[_Item] = []
        self.shared = shared
        self.mode = mode
        self.target = target
        self.cache = cache
        self.connector = connector
        self.conn: psycopg.Connection[Any] | None = None
        self.executor: Any = None
        self.fps: dict[str, _FpAcc] = {}
        self.lag = DurationDigest()
        self.latency = DurationDigest()
        self.done = 0
        self.reconnects = 0
        # sessions whose open transaction was aborted: why its rest is skipped
        self.aborted_sessions: dict[object, str] = {}
        self.skipped: dict[str, int] = {}
        self.last_end = 0.0
        # the session whose transaction holds the connection, and the statements of
        # other sessions waiting for it to end (with when they started waiting)
        self.holder: object | None = None
        self.deferred: list[tuple[_Item, float]] = []
        self.waited = 0
        self.waited_ms = 0.0
        self.unfinished = 0
        self.notices: list[tuple[str | None, str]] = []

    # --- connection -------------------------------------------------------------------

    def _open(self) -> None:
        from perfkit.cache.executor import CachedExecutor

        self.conn = self.connector()
        self.conn.add_notice_handler(self._notice)
        opts = self.shared.options
        if opts.prepare_threshold is None:
            self.conn.prepare_threshold = None  # our own connection: never prepare
        self.executor = CachedExecutor(
            self.conn,
            cache=self.cache,
            prepare_threshold=opts.prepare_threshold,
            ttl=opts.ttl,
            statements=self.statements,
        )
        if self.cache is None:
            self.cache = self.executor.cache  # direct runs never look it up

    def _notice(self, diag: psycopg.errors.Diagnostic) -> None:
        if diag.severity_nonlocalized == "WARNING":
            self.notices.append((diag.sqlstate, (diag.message_primary or "warning").strip()))

    def _reconnect(self) -> bool:
        if self.conn is not None:
            with contextlib.suppress(Exception):  # already broken
                self.conn.close()
        delay = 0.1
        last: BaseException | None = None
        for _ in range(self.shared.options.reconnect_attempts):
            if self.shared.stop.is_set():
                return False
            time.sleep(delay)
            try:
                self._open()
                self.reconnects += 1
                return True
            except PerfkitError as exc:
                last = exc
            delay = min(delay * 2, 5.0)
        self.shared.halt(
            f"connection lost and {self.shared.options.reconnect_attempts} reconnects failed",
            last or ConnectionFailed(self.target.masked, "connection lost"),
        )
        return False

    # --- the loop ---------------------------------------------------------------------

    def run(self) -> None:
        try:
            self._open()
        except BaseException as exc:
            self.shared.halt("could not connect", exc)
        stop = self.shared.stop
        while True:
            got = self.q.get()
            if got is None:
                break
            for item in got if isinstance(got, list) else (got,):
                if stop.is_set():
                    break
                try:
                    self._offer(item)
                except BaseException as exc:  # never let a worker die silently
                    self.shared.halt(f"replay worker failed: {exc}", exc)
        try:
            self._finish()
        except BaseException as exc:
            self.shared.halt(f"replay worker failed: {exc}", exc)
        if self.conn is not None:
            with contextlib.suppress(Exception):  # closing a broken connection
                self.conn.close()

    # --- sessions sharing a connection -----------------------------------------------

    def _offer(self, item: _Item) -> None:
        """Run ``item`` unless another session's transaction holds the connection; then
        it waits (with the rest of its session) until that transaction ends."""
        if self.holder is not None and item.session != self.holder:
            self.deferred.append((item, time.perf_counter()))
            if len(self.deferred) >= _MAX_DEFERRED:
                self._abandon()
            return
        self._one(item)
        self._settle(item.session)
        if self.holder is None and self.deferred:
            self._drain()

    def _settle(self, session: object) -> None:
        """After a statement of ``session``: it holds the connection while the server
        says a transaction is open (BEGIN ... COMMIT/ROLLBACK, or an aborted one)."""
        conn = self.conn
        if conn is None or conn.closed:
            self.holder = None
            return
        status = int(conn.pgconn.transaction_status)
        self.holder = session if status in (1, 2, 3) else None  # ACTIVE, INTRANS, INERROR

    def _drain(self) -> None:
        """Run the waiting statements, oldest first, as far as the holder allows (a
        session's own statements always keep their order)."""
        stop = self.shared.stop
        i = 0
        while i < len(self.deferred) and not stop.is_set():
            item, since = self.deferred[i]
            if self.holder is not None and item.session != self.holder:
                i += 1
                continue
            del self.deferred[i]
            if item.invalidate is None:  # a statement (not a skipped write's bookkeeping)
                start = time.perf_counter()
                due = self._due_wall(item)
                self.waited += 1
                self.waited_ms += max(0.0, start - max(since, due or since)) * 1000.0
            self._one(item)
            self._settle(item.session)
            if self.holder is None:
                i = 0

    def _abandon(self) -> None:
        """The holder's transaction kept too many statements of other sessions waiting
        (a log cut inside it, or a session idle in transaction): roll it back, skip the
        rest of it (counted) and let the others run. Memory stays bounded."""
        holder = self.holder
        self.unfinished += 1
        self.holder = None
        if self.conn is not None and not self.conn.closed:
            with contextlib.suppress(Exception):  # a broken connection
                self.conn.execute("ROLLBACK")
        if holder is not None:
            self.aborted_sessions[holder] = (
                f"transaction rolled back: it kept {_MAX_DEFERRED} statements of other "
                "sessions waiting"
            )
        self._drain()

    def _finish(self) -> None:
        """End of the log: a transaction it never ended is rolled back (counted), so the
        statements waiting for it still run."""
        while not self.shared.stop.is_set():
            if self.holder is not None:
                self.unfinished += 1
                self.holder = None
                if self.conn is not None and not self.conn.closed:
                    with contextlib.suppress(Exception):  # a broken connection
                        self.conn.execute("ROLLBACK")
            if not self.deferred:
                return
            self._drain()

    def _due_wall(self, item: _Item) -> float | None:
        speed = self.shared.options.speed
        log0 = self.shared.log0
        if speed is None or item.due is None or log0 is None:
            return None
        return self.shared.wall0 + (item.due - log0) / speed

    def _warnings(self, item: _Item) -> None:
        notices, self.notices = self.notices, []
        for sqlstate, message in notices:
            self.shared.warning(item.fid, sqlstate, message, item.sql)

    def _wait(self, item: _Item) -> None:
        due_wall = self._due_wall(item)
        if due_wall is None:
            return
        stop = self.shared.stop
        while True:
            delta = due_wall - time.perf_counter()
            if delta <= 0:
                self.lag.add(-delta * 1000.0)
                return
            if stop.wait(min(delta, 0.2)):
                return

    def _one(self, item: _Item) -> None:
        ex = self.executor
        if item.invalidate is not None:
            if self.mode == "cached" and ex is not None and self.conn is not None:
                # as the write would have, had it run: in an open transaction, later reads
                # of the session bypass the cache until it ends (analyze's rule too)
                in_tx = self.conn.pgconn.transaction_status == 2  # INTRANS
                ex.invalidate(item.invalidate, item.ts, in_transaction=in_tx, order=item.seq)
            return
        self._wait(item)
        if self.shared.stop.is_set() or ex is None:
            return
        session = item.session
        cls = ex.statement(item.sql).cls
        why = self.aborted_sessions.get(session)
        if why is not None:
            if cls.tx_action in ("commit", "rollback"):
                del self.aborted_sessions[session]
            self.skipped[why] = self.skipped.get(why, 0) + 1
            return
        import psycopg

        self.notices.clear()
        t0 = time.perf_counter()
        try:
            res = ex.execute(
                item.sql,
                item.params,
                raw=item.params is not None,
                cache=self.mode == "cached",
                now=item.ts,
                order=item.seq,
            )
        except psycopg.Error as exc:
            self._warnings(item)
            self._failed(item, exc, cls)
            return
        if self.notices:
            self._warnings(item)
        if (
            cls.tx_action in ("commit", "rollback")
            and self.mode == "cached"
            and self.conn is not None
            and self.conn.pgconn.transaction_status == 0  # IDLE: the transaction ended
        ):
            # at the COMMIT's place in the log, not at the session's next statement
            ex.end_transaction(cls.tx_action == "commit", item.ts, order=item.seq)
        end = time.perf_counter()
        ms = (end - t0) * 1000.0
        self.last_end = end
        self.done += 1
        self.latency.add(ms)
        acc = self.fps.get(item.fid)
        if acc is None:
            acc = self.fps[item.fid] = _FpAcc()
        acc.digest.add(ms)
        if res.cached:
            acc.hits += 1
            acc.saved_ms += res.saved_ms
            acc.hit_ms += ms

    def _failed(self, item: _Item, exc: BaseException, cls: StatementClass) -> None:
        conn = self.conn
        if is_connection_lost(exc) or conn is None or conn.closed:
            self.shared.error(item.fid, None, "connection lost", item.sql)
            if self.holder is not None and cls.tx_action not in ("commit", "rollback"):
                # its open transaction went with the connection: skip the rest of it
                self.aborted_sessions[self.holder] = "transaction lost with the connection"
                self.holder = None
            self._reconnect()
            return
        sqlstate = getattr(exc, "sqlstate", None)
        diag = getattr(exc, "diag", None)
        message = (getattr(diag, "message_primary", None) or str(exc)).strip().splitlines()
        self.shared.error(item.fid, sqlstate, message[0] if message else "error", item.sql)
        acc = self.fps.get(item.fid)
        if acc is None:
            acc = self.fps[item.fid] = _FpAcc()
        acc.errors += 1
        # An error aborts the session's open transaction: roll it back at once (another
        # session may share this connection) and skip the rest of that transaction.
        if int(conn.info.transaction_status) == 3:  # INERROR
            with contextlib.suppress(Exception):  # trouble shows up on the next statement
                conn.execute("ROLLBACK")
            if cls.tx_action not in ("commit", "rollback"):
                self.aborted_sessions[item.session] = "transaction aborted by an earlier error"


def _event_times(ev: LogEvent) -> tuple[float | None, float | None]:
    t = ev.ts
    if t is None:
        return None, None
    if t.tzinfo is None:
        t = t.replace(tzinfo=dt.timezone.utc)
    ts = t.timestamp()
    d = ev.duration_ms
    return ts, (ts - d / 1000.0) if d is not None else ts


@dataclass
class _Dispatch:
    events: int = 0
    sessions: int = 0
    skipped: dict[str, int] = field(default_factory=dict)
    skipped_writes: int = 0
    # texts skipped for reasons other than writing: no cache effect in the replay, so
    # left out of the simulation too (bounded: beyond it, they are compared as logged)
    unreplayed: set[str] = field(default_factory=set)


def _run(
    events: Iterable[LogEvent],
    mode: Mode,
    target: Target,
    options: ReplayOptions,
    progress: ProgressSink | None,
    total: int | None,
    connector: Callable[..., psycopg.Connection[Any]],
    fingerprints: dict[str, tuple[str, StatementClass]],
    statements: StatementCache,
) -> tuple[RunResult, _Dispatch, bool]:
    from perfkit.cache.store import ResultCache

    cache = (
        ResultCache(options.ttl, max_entries=options.cache_entries, max_bytes=options.cache_bytes)
        if mode == "cached"
        else None
    )
    shared = _Shared(options)
    workers = [
        _Worker(i, shared, mode, target, cache, connector, statements)
        for i in range(options.sessions)
    ]
    memo: dict[str, tuple[str, StatementClass, str | None]] = {}
    # the guard's own session: function volatility is looked up on the target
    # (its own application_name: it is not a replayed session)
    guard_conn = connector("perfkit replay guard")
    guard = replay_guard(options.allow_writes, server_catalog(guard_conn), options.allow_effects)
    pinned: dict[object, _Worker] = {}
    disp = _Dispatch()
    interrupted = False
    batched = options.speed is None
    label = "direct" if mode == "direct" else f"cached (ttl {options.ttl:g}s)"
    if progress is not None:
        progress.start(f"replay {label}", total=total)
    last_progress = 0.0
    shared.wall0 = time.perf_counter()
    for w in workers:
        w.start()
    try:
        for ev in events:
            if shared.stop.is_set():
                break
            if options.limit is not None and disp.events >= options.limit:
                break
            if not _selected(ev, options):
                continue
            disp.events += 1
            q = ev.query
            info = memo.get(q)
            if info is None:
                st = statements(q)
                cls = st.cls
                info = (st.fingerprint, cls, skip_reason(q, cls, options.allow_writes, guard))
                if len(memo) > 50_000:
                    memo.clear()
                memo[q] = info
                if st.fingerprint not in fingerprints and len(fingerprints) < 100_000:
                    fingerprints[st.fingerprint] = (st.query, cls)
            fid, cls, skip = info
            ts, start = _event_times(ev)
            if start is not None and shared.log0 is None:
                shared.log0 = start
                shared.wall0 = time.perf_counter()
            session = ev.session if ev.session is not None else ev.pid
            w = pinned.get(session) or workers[len(pinned) % len(workers)]
            pinned.setdefault(session, w)
            item: _Item
            if skip is not None:
                disp.skipped[skip] = disp.skipped.get(skip, 0) + 1
                if skip != "write":
                    if len(disp.unreplayed) < _MAX_UNREPLAYED:
                        disp.unreplayed.add(q)
                else:
                    disp.skipped_writes += 1
                    if mode == "cached" and cls.tables_written:
                        item = _Item(
                            start, ts, q, None, fid, session, disp.events, cls.tables_written
                        )
                        _send(w, item, shared, batched)
                continue
            item = _Item(start, ts, q, ev.params, fid, session, disp.events)
            _send(w, item, shared, batched)
            now = time.perf_counter()
            if progress is not None and now - last_progress > 0.25:
                last_progress = now
                _show(progress, label, workers, shared)
    except KeyboardInterrupt:
        interrupted = True
        shared.halt("interrupted (Ctrl-C): partial results")
    finally:
        for w in workers:
            if w.batch and not interrupted:
                _put(w, w.batch, shared)
            w.batch = []
            _put(w, None, shared, force=True)
        try:
            for w in workers:
                while w.is_alive():
                    w.join(0.2)
                    if progress is not None:
                        _show(progress, label, workers, shared)
        except KeyboardInterrupt:
            interrupted = True
            shared.halt("interrupted (Ctrl-C): partial results")
            for w in workers:
                w.join()
        if progress is not None:
            progress.finish()
        guard_conn.close()
    if shared.fatal is not None and not any(w.done for w in workers):
        fatal = shared.fatal
        if isinstance(fatal, PerfkitError):
            raise fatal
        raise ConnectionFailed(target.masked, str(fatal)) from None
    disp.sessions = len(pinned)
    return _collect(mode, workers, shared, disp, cache, options, fingerprints), disp, interrupted


def _send(w: _Worker, item: _Item, shared: _Shared, batched: bool) -> None:
    if not batched:
        _put(w, item, shared)
        return
    w.batch.append(item)
    if len(w.batch) >= _BATCH:
        _put(w, w.batch, shared)
        w.batch = []


def _put(
    w: _Worker, item: _Item | list[_Item] | None, shared: _Shared, force: bool = False
) -> None:
    while True:
        try:
            w.q.put(item, timeout=0.2)
            return
        except queue.Full:
            if not w.is_alive():
                return
            if shared.stop.is_set() and not force:
                return


def _show(progress: ProgressSink, label: str, workers: Sequence[_Worker], shared: _Shared) -> None:
    done = sum(w.done for w in workers)
    lag = max((w.lag.max for w in workers if w.lag.count), default=0.0)
    progress.update(
        completed=done,
        description=f"replay {label}: lag {lag:,.0f} ms, {shared.errors} errors",
    )


def _collect(
    mode: Mode,
    workers: Sequence[_Worker],
    shared: _Shared,
    disp: _Dispatch,
    cache: ResultCache | None,
    options: ReplayOptions,
    fingerprints: dict[str, tuple[str, StatementClass]],
) -> RunResult:
    latency = DurationDigest()
    lag = DurationDigest()
    per_fp: dict[str, _FpAcc] = {}
    skipped = dict(disp.skipped)
    for w in workers:
        latency.merge(w.latency)
        lag.merge(w.lag)
        for fid, acc in w.fps.items():
            into = per_fp.get(fid)
            if into is None:
                into = per_fp[fid] = _FpAcc()
            into.digest.merge(acc.digest)
            into.errors += acc.errors
            into.hits += acc.hits
            into.saved_ms += acc.saved_ms
            into.hit_ms += acc.hit_ms
        for k, v in w.skipped.items():
            skipped[k] = skipped.get(k, 0) + v
    end = max((w.last_end for w in workers), default=shared.wall0)
    elapsed = max(end - shared.wall0, 1e-9)
    statements = latency.count
    fps = []
    for fid, acc in per_fp.items():
        dg = acc.digest
        p50, p95, p99 = dg.quantiles((0.5, 0.95, 0.99)) if dg.count else (None, None, None)
        fps.append(
            FingerprintRun(
                fingerprint=fid,
                query=fingerprints.get(fid, ("?", None))[0],
                calls=dg.count,
                errors=acc.errors,
                total_ms=dg.total,
                mean_ms=dg.total / dg.count if dg.count else None,
                p50_ms=p50,
                p95_ms=p95,
                p99_ms=p99,
                hits=acc.hits,
                saved_ms=acc.saved_ms,
                hit_ms=acc.hit_ms,
            )
        )
    fps.sort(key=lambda f: (-f.total_ms, f.fingerprint))
    errors = _counts(shared.error_counts, fingerprints)
    warned = _counts(shared.warning_counts, fingerprints)
    figures = None
    if cache is not None:
        s = cache.stats
        figures = CacheFigures(
            ttl_s=options.ttl,
            hits=s.hits,
            misses=s.misses,
            hit_rate=s.hit_rate,
            saved_ms=s.saved_ms,
            invalidations=s.invalidations,
            evictions=s.evictions,
            entries=s.entries,
            bytes=s.bytes,
            refused_stores=s.refused_stores,
        )
    p50, p95, p99 = latency.quantiles((0.5, 0.95, 0.99)) if latency.count else (None,) * 3
    skipped_writes = disp.skipped_writes
    return RunResult(
        mode=mode,
        statements=statements,
        elapsed_s=elapsed,
        throughput=statements / elapsed if statements else 0.0,
        total_ms=latency.total,
        p50_ms=p50,
        p95_ms=p95,
        p99_ms=p99,
        skipped_writes=skipped_writes,
        skipped_other=sum(skipped.values()) - skipped_writes,
        skipped_reasons=tuple(sorted(skipped.items(), key=lambda kv: (-kv[1], kv[0]))),
        errors=shared.errors,
        error_counts=tuple(errors),
        reconnects=sum(w.reconnects for w in workers),
        lag_max_ms=lag.max if lag.count else 0.0,
        lag_p95_ms=lag.quantile(0.95) if lag.count else None,
        fingerprints=tuple(fps),
        cache=figures,
        stopped=shared.stopped,
        warnings=shared.warnings,
        warning_counts=tuple(warned),
        waited_statements=sum(w.waited for w in workers),
        waited_ms=sum(w.waited_ms for w in workers),
        unfinished_transactions=sum(w.unfinished for w in workers),
    )


def _counts(
    counts: dict[tuple[str, str | None, str], list[Any]],
    fingerprints: dict[str, tuple[str, StatementClass]],
) -> list[ErrorCount]:
    return sorted(
        (
            ErrorCount(
                fingerprint=fid,
                query=fingerprints.get(fid, ("?", None))[0],
                sqlstate=state,
                message=msg,
                count=v[0],
                example=v[1][:2000],
            )
            for (fid, state, msg), v in counts.items()
        ),
        key=lambda e: (-e.count, e.fingerprint),
    )


# --- the two runs and the comparison --------------------------------------------------------


def _saved(d: FingerprintRun | None, c: FingerprintRun | None) -> float | None:
    """Client time the hits saved: each hit would have cost the fingerprint's mean
    latency in the direct run (without it, the stored results' own execution time)."""
    if c is None:
        return None
    if not c.hits:
        return 0.0
    if d is not None and d.mean_ms is not None:
        return c.hits * d.mean_ms - c.hit_ms
    return c.saved_ms - c.hit_ms


def _compare(
    runs: Sequence[RunResult],
    sim: AnalyzeResult | None,
    fingerprints: dict[str, tuple[str, StatementClass]],
) -> tuple[SimulationComparison | None, tuple[FingerprintComparison, ...]]:
    direct = next((r for r in runs if r.mode == "direct"), None)
    cached = next((r for r in runs if r.mode == "cached"), None)
    d_fp = {f.fingerprint: f for f in direct.fingerprints} if direct else {}
    c_fp = {f.fingerprint: f for f in cached.fingerprints} if cached else {}
    s_fp = {f.id: f for f in sim.fingerprints} if sim is not None else {}
    rows = []
    for fid in dict.fromkeys([*d_fp, *c_fp]):
        d, c, s = d_fp.get(fid), c_fp.get(fid), s_fp.get(fid)
        query, cls = fingerprints.get(fid, ("?", None))
        sim_stats = s.cache[0] if s is not None and s.cache else None
        rows.append(
            FingerprintComparison(
                fingerprint=fid,
                query=query,
                calls=max(d.calls + d.errors if d else 0, c.calls + c.errors if c else 0),
                direct_p50_ms=d.p50_ms if d else None,
                direct_p95_ms=d.p95_ms if d else None,
                direct_p99_ms=d.p99_ms if d else None,
                cached_p50_ms=c.p50_ms if c else None,
                cached_p95_ms=c.p95_ms if c else None,
                cached_p99_ms=c.p99_ms if c else None,
                hits=c.hits if c else 0,
                simulated_hits=sim_stats.hits if sim_stats else (0 if s is not None else None),
                saved_ms=_saved(d, c),
                simulated_saved_ms=sim_stats.saved_ms
                if sim_stats
                else (0.0 if s is not None else None),
                cacheable=bool(cls and cls.cacheable),
                reason=None if cls is None or cls.cacheable else cls.reason,
            )
        )
    rows.sort(key=lambda r: (-(r.saved_ms or 0.0), -r.calls, r.fingerprint))
    comparison = None
    if cached is not None and cached.cache is not None and sim is not None and sim.cache:
        sc = sim.cache[0]
        measured_saved = sum(r.saved_ms or 0.0 for r in rows)
        comparison = SimulationComparison(
            simulated_hits=sc.hits,
            simulated_misses=sc.misses,
            simulated_hit_rate=sc.hit_rate,
            simulated_saved_ms=sc.saved_ms,
            measured_hits=cached.cache.hits,
            measured_misses=cached.cache.misses,
            measured_hit_rate=cached.cache.hit_rate,
            measured_saved_ms=measured_saved,
            end_to_end_delta_ms=(direct.total_ms - cached.total_ms) if direct else None,
            hit_rate_error=sc.hit_rate - cached.cache.hit_rate,
            saved_error_ms=sc.saved_ms - measured_saved,
            saved_relative_error=(sc.saved_ms - measured_saved) / measured_saved
            if measured_saved
            else None,
        )
    return comparison, tuple(rows)


def _spool_stdin() -> Path:
    with tempfile.NamedTemporaryFile(prefix="perfkit-replay-", suffix=".log", delete=False) as tmp:
        shutil.copyfileobj(sys.stdin.buffer, tmp)
    return Path(tmp.name)


def replay(
    paths: Sequence[str | Path],
    target: Target,
    options: ReplayOptions | None = None,
    *,
    log_format: str | None = None,
    prefix: str | None = None,
    progress: ProgressSink | None = None,
) -> ReplayResult:
    """Replay the logs at ``paths`` against ``target`` (see the module docstring).

    The log is read once per run plus once for ``analyze``'s simulation; stdin
    (``-``) is first copied to a temporary file.
    """
    from perfkit.querylog.readers import read_logs

    opts = options or ReplayOptions()
    spooled: list[Path] = []
    real_paths: list[str | Path] = []
    for p in paths:
        if str(p) == "-":
            sp = _spool_stdin()
            spooled.append(sp)
            real_paths.append(sp)
        else:
            real_paths.append(p)
    try:
        first = read_logs(real_paths, log_format=log_format, prefix=prefix)
        if not first.has_timeline and any(f.format.startswith("pgss") for f in first.files):
            raise InputError(
                ", ".join(str(p) for p in paths),
                "a pg_stat_statements export has no statements with their parameter "
                "values: it cannot be replayed",
            )

        if opts.database is not None:
            check_database(
                read_logs(real_paths, log_format=log_format, prefix=prefix),
                opts.database,
                ", ".join(str(p) for p in paths),
            )

        def streams() -> Iterable[Iterable[LogEvent]]:
            yield first
            while True:
                yield read_logs(real_paths, log_format=log_format, prefix=prefix)

        return replay_events(
            streams(),
            target,
            opts,
            sources=tuple(str(p) for p in paths),
            warnings=tuple(first.warnings),
            progress=progress,
            simulate=lambda unreplayed: _simulate(real_paths, opts, log_format, prefix, unreplayed),
        )
    finally:
        for sp in spooled:
            sp.unlink(missing_ok=True)


def _selected(ev: LogEvent, options: ReplayOptions) -> bool:
    if ev.protocol == "stats":
        return False
    db = options.database
    return db is None or ev.database is None or ev.database == db


def check_database(events: Iterable[LogEvent], database: str, where: str) -> None:
    """``--database`` must select something: raise :class:`UsageError` when no statement
    of ``events`` was logged for ``database`` (a typo, or a log without ``%d``) instead of
    replaying nothing - or everything. Reads only up to the first match."""
    from perfkit.config import close_match

    seen: set[str] = set()
    for ev in events:
        if ev.protocol == "stats":
            continue
        if ev.database == database:
            return
        if ev.database is not None:
            seen.add(ev.database)
    if not seen:
        raise UsageError(
            "--database",
            f"no statement can be selected for {database!r}: {where} does not record "
            "database names",
        )
    names = sorted(seen)
    listed = ", ".join(names[:10]) + (", ..." if len(names) > 10 else "")
    match = close_match(database, names)
    raise UsageError(
        "--database",
        f"no statement in {where} was logged for database {database!r} "
        f"(databases in the log: {listed})" + (f"; did you mean {match}?" if match else ""),
    )


def _replayed(
    events: Iterable[LogEvent], options: ReplayOptions, unreplayed: frozenset[str] = frozenset()
) -> Iterator[LogEvent]:
    """The events a run replays (database filter, ``limit``), for the simulation; the
    ``unreplayed`` texts (skipped by the guard, not as writes) are left out: the replay
    neither looks them up nor invalidates for them."""
    n = 0
    for ev in events:
        if options.limit is not None and n >= options.limit:
            return
        if _selected(ev, options):
            n += 1
            if ev.query not in unreplayed:
                yield ev


def _simulate(
    paths: Sequence[str | Path],
    opts: ReplayOptions,
    log_format: str | None,
    prefix: str | None,
    unreplayed: frozenset[str] = frozenset(),
) -> AnalyzeResult:
    """``analyze``'s cache simulation of exactly the statements the runs replayed."""
    from perfkit.querylog.aggregate import AnalyzeOptions, analyze_events
    from perfkit.querylog.readers import read_logs

    return analyze_events(
        _replayed(read_logs(paths, log_format=log_format, prefix=prefix), opts, unreplayed),
        AnalyzeOptions(ttls=(opts.ttl,), cache_entries=opts.cache_entries, slow_limit=0),
    )


def _connector(target: Target, opts: ReplayOptions) -> Callable[..., psycopg.Connection[Any]]:
    def make(application_name: str = "perfkit replay") -> psycopg.Connection[Any]:
        return connect(
            target,
            read_only=not opts.allow_writes,
            statement_timeout=opts.statement_timeout,
            lock_timeout=opts.lock_timeout,
            connect_timeout=opts.connect_timeout,
            application_name=application_name,
        )

    return make


def replay_events(
    streams: Iterable[Iterable[LogEvent]],
    target: Target,
    options: ReplayOptions | None = None,
    *,
    sources: tuple[str, ...] = (),
    warnings: tuple[str, ...] = (),
    progress: ProgressSink | None = None,
    simulate: Callable[[frozenset[str]], AnalyzeResult | None] | None = None,
) -> ReplayResult:
    """Replay event streams (one fresh stream per run) against ``target``. ``simulate``
    gets the statement texts the runs skipped other than as writes (to leave out)."""
    opts = options or ReplayOptions()
    modes: tuple[Mode, ...] = ("cached", "direct") if opts.runs == "both" else (opts.runs,)
    notes = list(warnings)
    fingerprints: dict[str, tuple[str, StatementClass]] = {}
    statements = StatementCache()
    connector = _connector(target, opts)
    runs: list[RunResult] = []
    interrupted = False
    events = sessions = 0
    unreplayed: frozenset[str] = frozenset()
    total: int | None = None
    it = iter(streams)
    for mode in modes:
        run, disp, interrupted = _run(
            next(it), mode, target, opts, progress, total, connector, fingerprints, statements
        )
        runs.append(run)
        if total is None:
            events, sessions = disp.events, disp.sessions
            unreplayed = frozenset(disp.unreplayed)
            total = run.statements + run.errors
        if interrupted or (run.stopped and "max-errors" not in run.stopped):
            break
    if opts.allow_writes and len(runs) == 2:
        notes.append(
            "writes were allowed and both runs applied them: the second run met the data "
            "as the first one left it"
        )
    sim = None
    if simulate is not None and not interrupted and any(r.mode == "cached" for r in runs):
        try:
            sim = simulate(unreplayed)
        except PerfkitError as exc:
            notes.append(f"no simulation to compare with: {exc}")
    comparison, per_fp = _compare(runs, sim, fingerprints)
    for r in runs:
        if r.stopped:
            notes.append(f"{r.mode} run {r.stopped}")
    return ReplayResult(
        sources=sources,
        target=mask_dsn(target.masked),
        options=opts,
        events=events,
        sessions_seen=sessions,
        runs=tuple(runs),
        comparison=comparison,
        fingerprints=per_fp,
        warnings=tuple(notes),
        interrupted=interrupted,
    )
