"""``AsyncCachedExecutor``: :class:`~perfkit.cache.executor.CachedExecutor` for asyncio.

Same rules, store and metadata; wraps a psycopg ``AsyncConnection`` or an
``AsyncConnectionPool``. The store's lock is held only around in-memory work (never
across an ``await``), so a shared :class:`~perfkit.cache.store.ResultCache` may serve
sync and async executors at once.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

from perfkit.cache.executor import (
    ExecResult,
    StatementCache,
    _Call,
    _columns,
    _Core,
    _is_pool,
    _result_columns,
    explain_refusal,
)
from perfkit.cache.store import DEFAULT_MAX_BYTES, DEFAULT_MAX_ENTRIES, ResultCache

if TYPE_CHECKING:
    import psycopg

__all__ = ["AsyncCachedExecutor"]

_IDLE = 0


class AsyncCachedExecutor(_Core):
    """See :class:`~perfkit.cache.executor.CachedExecutor`; methods are coroutines."""

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
        self._pool = conn_or_pool if _is_pool(conn_or_pool) else None
        self._conn = None if self._pool is not None else conn_or_pool

    @asynccontextmanager
    async def _connection(self) -> AsyncIterator[psycopg.AsyncConnection[Any]]:
        if self._pool is not None:
            async with self._pool.connection() as conn:
                yield conn
        else:
            assert self._conn is not None
            yield self._conn

    def _status(self) -> int | None:
        if self._conn is None:
            return None
        return int(self._conn.pgconn.transaction_status)

    def _cursor(self, conn: psycopg.AsyncConnection[Any], raw: bool) -> Any:
        import psycopg

        if raw:
            return psycopg.AsyncRawCursor(conn, row_factory=conn.row_factory)
        return conn.cursor()

    async def execute(
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
    ) -> ExecResult:
        """See :meth:`CachedExecutor.execute`."""
        in_tx = self._tx_state(self._status())
        call = self._plan(sql, params, cache, ttl, now, prepare, raw, in_tx)
        hit = self._lookup(call, explain)
        if hit is not None:
            return hit
        async with self._connection() as conn:
            res = await self._run(conn, call, explain)
        if self._pool is not None and call.stmt.tables_written:
            self.cache.invalidate(call.stmt.tables_written, call.now)
        return res

    async def _run(
        self, conn: psycopg.AsyncConnection[Any], call: _Call, explain: bool
    ) -> ExecResult:
        cur = self._cursor(conn, call.raw)
        t0 = time.perf_counter()
        try:
            await cur.execute(call.sql, call.params, prepare=call.prepare)
            columns = _result_columns(cur)
            rows = await cur.fetchall() if columns is not None else []
        except BaseException:
            self._failed()
            raise
        finally:
            ms = (time.perf_counter() - t0) * 1000.0
        plan = None
        if explain:
            plan, _ = await self._explain(conn, call)
        in_tx = self._conn is not None and conn.pgconn.transaction_status != _IDLE
        res = self._done(
            call, rows, columns or (), cur.rowcount, cur.statusmessage, ms, in_tx, plan
        )
        if self._wants_slow(call, ms):
            p, err = plan, None
            if self._want_plan(call) and p is None:
                p, err = await self._explain(conn, call)
            self._record_slow(call, self._slow_text(conn, call), ms, p, err)
        return res

    def _slow_text(self, conn: psycopg.AsyncConnection[Any], call: _Call) -> str:
        if call.raw or call.params is None:
            return call.sql
        import psycopg

        try:
            return psycopg.AsyncClientCursor(conn).mogrify(call.sql, call.params)
        except Exception:  # an adapter missing client-side: keep the placeholders
            return call.sql

    async def _explain(
        self, conn: psycopg.AsyncConnection[Any], call: _Call
    ) -> tuple[Any, str | None]:
        import psycopg
        from psycopg.rows import tuple_row

        if conn.pgconn.transaction_status not in (0, 2):
            return None, "the transaction is aborted"
        refused = explain_refusal(call.sql, call.raw)
        if refused is not None:
            return None, refused
        cur: Any = (
            psycopg.AsyncRawCursor(conn, row_factory=tuple_row)
            if call.raw
            else conn.cursor(row_factory=tuple_row)
        )
        try:
            async with conn.transaction():
                await cur.execute("EXPLAIN (FORMAT JSON) " + call.sql, call.params)
                row = await cur.fetchone()
        except psycopg.Error as exc:
            return None, str(exc).strip().splitlines()[0] if str(exc).strip() else "error"
        plan = row[0] if row else None
        if isinstance(plan, list) and plan:
            plan = plan[0]
        return plan, None

    async def execute_many(
        self,
        statements: Iterable[str | tuple[str, Any]],
        *,
        cache: bool = True,
        ttl: float | None = None,
        raw: bool = False,
        now: float | None = None,
    ) -> list[ExecResult]:
        """See :meth:`CachedExecutor.execute_many` (one round trip, pipeline mode)."""
        import psycopg

        items = [(s, None) if isinstance(s, str) else (s[0], s[1]) for s in statements]
        in_tx = self._tx_state(self._status())
        results, calls, written = self._plan_batch(items, cache, ttl, now, raw, in_tx)
        if calls:
            async with self._connection() as conn:
                cursors = []
                t0 = time.perf_counter()
                try:
                    if psycopg.AsyncPipeline.is_supported():
                        async with conn.pipeline():
                            for _, call in calls:
                                cur = self._cursor(conn, call.raw)
                                await cur.execute(call.sql, call.params, prepare=call.prepare)
                                cursors.append(cur)
                    else:
                        for _, call in calls:
                            cur = self._cursor(conn, call.raw)
                            await cur.execute(call.sql, call.params, prepare=call.prepare)
                            cursors.append(cur)
                    fetched = [
                        await c.fetchall() if c.description is not None else [] for c in cursors
                    ]
                except BaseException:
                    self._failed()
                    raise
                ms = (time.perf_counter() - t0) * 1000.0 / len(calls)
                tx = self._conn is not None and conn.pgconn.transaction_status != _IDLE
                for (i, call), cur, rows in zip(calls, cursors, fetched, strict=True):
                    results[i] = self._done(
                        call, rows, _columns(cur), cur.rowcount, cur.statusmessage, ms, tx
                    )
                with self._lock:
                    self._pipelines += 1
            if self._pool is not None and written:
                self.cache.invalidate(written, now)
        return [r for r in results if r is not None]
