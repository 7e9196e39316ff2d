# generated from async_executor.py by tools/async_to_sync.py, do not edit
# (change perfkit/cache/async_executor.py and run `python tools/async_to_sync.py`; a test checks it)
"""``CachedExecutor``: a query-result cache in front of a psycopg connection or pool.

    from perfkit.cache import CachedExecutor
    ex = CachedExecutor(pool, ttl=60, max_entries=10_000, max_bytes=64 << 20, slow_ms=200)
    r = ex.execute("SELECT * FROM users WHERE id = %s", (42,))
    r.rows, r.cached, r.execution_ms

Which statements are cached and which invalidate is decided by
:func:`perfkit.querylog.classify.classify`, the same code ``perfkit analyze`` simulates
with; the store is the same :class:`~perfkit.cache.core.QueryCache` engine:

* a read is served from the cache when the same statement text with the same
  parameter values was stored less than ``ttl`` seconds ago and no write through this
  cache touched one of its tables since; volatile (``now()``, ``random()``, ...) and
  locking (``FOR UPDATE``) reads are never cached;
* a write (INSERT/UPDATE/DELETE/MERGE/TRUNCATE/COPY/DDL, CALL/DO = everything)
  invalidates every entry that read a table it writes. Writes that do not go through
  the executor (other services, triggers, functions called by a SELECT) are invisible
  to it: the TTL bounds how stale a result can be;
* on a single connection outside autocommit, reads after a write in the same
  transaction bypass the cache, and the write's tables are invalidated again once the
  transaction is over (a concurrent reader may have stored the old data meanwhile).

The executor never changes the session it is given (no SET, no read-only mode, no
``prepare_threshold`` change): it is for users' services. It uses the connection's row
factory, so rows are what the application expects; cached rows are shared between
callers (tuples are immutable; with ``dict_row`` do not mutate them). The store's lock
is held only around in-memory work, never during I/O, so one
:class:`~perfkit.cache.store.ResultCache` may serve sync and asyncio executors at once.

Prepared statements: a statement with parameters whose fingerprint has run
``prepare_threshold`` times is executed with ``prepare=True`` (psycopg prepares it on
the connection); ``None`` leaves it to the connection's own ``prepare_threshold``
(set ``prepare_threshold=None`` behind PgBouncer in transaction mode before 1.21). A
connection whose ``prepare_threshold`` is ``None`` never prepares (psycopg's rule).

Slow statements (``slow_ms``) are recorded with their parameters and, once per
fingerprint, an ``EXPLAIN (FORMAT JSON)`` (never ANALYZE: it would run them again),
inside a savepoint so a failing EXPLAIN cannot abort the caller's transaction.
:meth:`CachedExecutor.export_slow` writes them as JSON Lines (or SQL) that
``perfkit analyze`` / ``suggest-indexes`` read.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from perfkit.cache.executor_base import (
    IDLE,
    Call,
    CursorSet,
    ExecResult,
    ExecutorCore,
    ExecutorStats,
    SlowStatement,
    Statement,
    StatementCache,
    ThreadCursors,
    column_names,
    explain_refusal,
    is_pool,
    result_columns,
)
from perfkit.cache.store import DEFAULT_MAX_BYTES, DEFAULT_MAX_ENTRIES, ResultCache

if TYPE_CHECKING:
    import psycopg

__all__ = [
    "CachedExecutor",
    "ExecResult",
    "ExecutorStats",
    "SlowStatement",
    "Statement",
    "StatementCache",
]

_MAX_CURSORS = 64  # reused cursors per thread (task); more: start the set again


class CachedExecutor(ExecutorCore):
    """A query cache in front of a psycopg ``Connection`` or ``ConnectionPool``.

    Safe to share between threads (and asyncio tasks): the store is locked, a connection
    is used by one call at a time (psycopg serialises it; a pool hands one connection per call).

    ``cache`` shares a :class:`ResultCache` between executors (then ``ttl``,
    ``max_entries`` and ``max_bytes`` are the shared cache's). ``clock`` is the time
    source of the cache (seconds).
    """

    def __init__(
        self,
        conn_or_pool: Any,
        ttl: float = 60.0,
        *,
        max_entries: int | None = DEFAULT_MAX_ENTRIES,
        max_bytes: int | None = DEFAULT_MAX_BYTES,
        slow_ms: float | None = None,
        slow_limit: int = 1000,
        explain_slow: bool = True,
        prepare_threshold: int | None = 5,
        cache: ResultCache | None = None,
        clock: Callable[[], float] = time.monotonic,
        statements: StatementCache | None = None,
    ) -> None:
        super().__init__(
            ttl,
            max_entries,
            max_bytes,
            slow_ms,
            slow_limit,
            explain_slow,
            prepare_threshold,
            cache,
            clock,
            statements,
        )
        self._pool = conn_or_pool if is_pool(conn_or_pool) else None
        self._conn = None if self._pool is not None else conn_or_pool
        self._cursors = ThreadCursors()

    @contextmanager
    def _connection(self) -> Iterator[psycopg.Connection[Any]]:
        if self._pool is not None:
            with self._pool.connection() as conn:
                yield conn
        else:
            assert self._conn is not None
            yield self._conn

    def _status(self) -> int | None:
        if self._conn is None:
            return None  # a pool commits each call: no transaction outlives it
        return int(self._conn.pgconn.transaction_status)

    def execute(
        self,
        sql: str,
        params: Any = None,
        *,
        cache: bool = True,
        ttl: float | None = None,
        explain: bool = False,
        raw: bool = False,
        prepare: bool | None = None,
        now: float | None = None,
        order: int | None = None,
    ) -> ExecResult:
        """Run ``sql`` (or serve it from the cache) and return rows and metadata.

        ``params`` use psycopg placeholders (``%s``, ``%(name)s``); ``raw=True`` takes
        PostgreSQL's ``$1`` placeholders instead (as in server logs). ``explain=True``
        also returns ``EXPLAIN (FORMAT JSON)`` of the statement (the statement runs).
        ``now`` overrides the cache clock (replays use the log's time); ``order`` is the
        statement's position in a log: a result is then refused by the cache only when
        a write later in the log invalidated its tables first (exact, not a race).
        """
        in_tx = self._tx_state(self._status())
        call = self._plan(sql, params, cache, ttl, now, prepare, raw, in_tx)
        call.order = order
        hit = self._lookup(call, explain)
        if hit is not None:
            return hit
        with self._connection() as conn:
            res = self._run(conn, call, explain)
        if self._pool is not None and call.stmt.tables_written:
            # the pool committed on leaving the block: drop what readers stored meanwhile
            self.cache.invalidate(call.stmt.tables_written, call.now)
        return res

    def _cursor(self, conn: psycopg.Connection[Any], raw: bool) -> psycopg.Cursor[Any]:
        import psycopg

        if raw:
            return psycopg.RawCursor(conn, row_factory=conn.row_factory)
        return conn.cursor()

    def _reused_cursor(
        self, conn: psycopg.Connection[Any], raw: bool
    ) -> tuple[psycopg.Cursor[Any], str]:
        # A cursor caches its dumpers and loaders: a new one per call costs ~20 µs more.
        cursors: CursorSet = self._cursors.mine()
        key = (id(conn), raw)
        got = cursors.get(key)
        if (
            got is None
            or got[0].connection is not conn
            or got[0].closed
            or (got[0].row_factory is not conn.row_factory)
        ):
            if len(cursors) >= _MAX_CURSORS:
                cursors.clear()
            got = cursors[key] = (self._cursor(conn, raw), conn.info.encoding)
            with self._lock:
                self._cursors_made += 1
        return got

    def _run(self, conn: psycopg.Connection[Any], call: Call, explain: bool) -> ExecResult:
        cur, enc = self._reused_cursor(conn, call.raw)
        t0 = time.perf_counter()
        try:
            cur.execute(call.sql, call.params, prepare=call.prepare)
            columns = result_columns(cur, enc)
            rows = cur.fetchall() if columns is not None else []
        except BaseException:
            self._failed()
            raise
        finally:
            ms = (time.perf_counter() - t0) * 1000.0
        plan = None
        if explain:
            plan, _ = self._explain(conn, call)
        in_tx = self._conn is not None and conn.pgconn.transaction_status != IDLE
        res = self._done(
            call, rows, columns or (), cur.rowcount, cur.statusmessage, ms, in_tx, plan
        )
        if self._wants_slow(call, ms):
            p: Any = plan
            err: str | None = None
            if self._want_plan(call) and p is None:
                p, err = self._explain(conn, call)
            self._record_slow(call, self._slow_text(conn, call), ms, p, err)
        return res

    def _slow_text(self, conn: psycopg.Connection[Any], call: Call) -> str:
        if call.raw or call.params is None:
            return call.sql
        import psycopg

        try:
            return psycopg.ClientCursor(conn).mogrify(call.sql, call.params)
        except Exception:  # an adapter missing client-side: keep the placeholders
            return call.sql

    def _explain(self, conn: psycopg.Connection[Any], call: Call) -> tuple[Any, str | None]:
        import psycopg
        from psycopg.rows import tuple_row

        if conn.pgconn.transaction_status not in (0, 2):  # idle or in a good transaction
            return (None, "the transaction is aborted")
        refused = explain_refusal(call.sql, call.raw)
        if refused is not None:
            return (None, refused)
        cur: Any = (
            psycopg.RawCursor(conn, row_factory=tuple_row)
            if call.raw
            else conn.cursor(row_factory=tuple_row)
        )
        try:
            with conn.transaction():  # a savepoint inside the caller's transaction
                cur.execute("EXPLAIN (FORMAT JSON) " + call.sql, call.params)
                row = cur.fetchone()
        except psycopg.Error as exc:
            return (None, str(exc).strip().splitlines()[0] if str(exc).strip() else "error")
        plan = row[0] if row else None
        if isinstance(plan, list) and plan:
            plan = plan[0]
        return (plan, None)

    def execute_many(
        self,
        statements: Iterable[str | tuple[str, Any]],
        *,
        cache: bool = True,
        ttl: float | None = None,
        raw: bool = False,
        now: float | None = None,
    ) -> list[ExecResult]:
        """Run several statements in one round trip (psycopg pipeline mode); cached
        results are served without being sent. A read after a write in the same batch
        that touches its tables is not served from the cache. Each sent statement's
        ``execution_ms`` is the batch's time divided among them."""
        import psycopg

        items = [(s, None) if isinstance(s, str) else (s[0], s[1]) for s in statements]
        in_tx = self._tx_state(self._status())
        results, calls, written = self._plan_batch(items, cache, ttl, now, raw, in_tx)
        if calls:
            with self._connection() as conn:
                cursors = []
                t0 = time.perf_counter()
                try:
                    if psycopg.Pipeline.is_supported():
                        with conn.pipeline():
                            for _, call in calls:
                                cur = self._cursor(conn, call.raw)
                                cur.execute(call.sql, call.params, prepare=call.prepare)
                                cursors.append(cur)
                    else:  # libpq < 14
                        for _, call in calls:
                            cur = self._cursor(conn, call.raw)
                            cur.execute(call.sql, call.params, prepare=call.prepare)
                            cursors.append(cur)
                    fetched = [c.fetchall() if c.description is not None else [] for c in cursors]
                except BaseException:
                    self._failed()
                    raise
                ms = (time.perf_counter() - t0) * 1000.0 / len(calls)
                tx = self._conn is not None and conn.pgconn.transaction_status != IDLE
                for (i, call), cur, rows in zip(calls, cursors, fetched, strict=True):
                    results[i] = self._done(
                        call, rows, column_names(cur), cur.rowcount, cur.statusmessage, ms, tx
                    )
                with self._lock:
                    self._pipelines += 1
            if self._pool is not None and written:
                self.cache.invalidate(written, now)
        return [r for r in results if r is not None]
