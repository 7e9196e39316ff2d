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
callers (tuples are immutable; with ``dict_row`` do not mutate them).

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

import datetime as dt
import functools
import json
import re
import threading
import time
from collections import deque
from collections.abc import Callable, Hashable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from perfkit.cache.core import ALL_TABLES, table_key
from perfkit.cache.store import (
    DEFAULT_MAX_BYTES,
    DEFAULT_MAX_ENTRIES,
    ResultCache,
    Stored,
    freeze_params,
)
from perfkit.querylog.classify import StatementClass, classify
from perfkit.querylog.fingerprint import Fingerprinter

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

_IDLE = 0  # psycopg.pq.TransactionStatus.IDLE
_MEMO_SIZE = 20_000
_EXPLAINABLE = ("read", "write")


@dataclass(frozen=True, slots=True)
class ExecResult:
    """The outcome of one statement.

    ``execution_ms`` is the time the call took: the server round trip on a miss, the
    cache lookup on a hit (then ``saved_ms`` is what the stored result had cost).
    ``reason`` says why the result was neither served from nor stored in the cache.
    """

    rows: list[Any]
    columns: tuple[str, ...]
    rowcount: int
    status: str | None
    cached: bool
    execution_ms: float
    fingerprint: str
    cacheable: bool
    reason: str | None = None
    plan: Any = None
    saved_ms: float = 0.0
    prepared: bool = False


@dataclass(frozen=True)
class SlowStatement:
    """A statement slower than ``slow_ms``. ``query`` has its parameters inlined
    (psycopg ``%s`` style) or keeps ``$n`` with ``params`` (``raw=True`` calls)."""

    ts: dt.datetime
    fingerprint: str
    query: str
    params: tuple[str | None, ...] | None
    duration_ms: float
    plan: Any = None
    explain_error: str | None = None


@dataclass(frozen=True)
class ExecutorStats:
    calls: int
    executed: int  # statements sent to the server
    hits: int
    misses: int
    hit_rate: float
    evictions: int
    invalidations: int
    expirations: int
    entries: int
    bytes: int
    saved_ms: float
    uncacheable: int  # calls whose statement may not be cached (writes, volatile reads, ...)
    bypassed: int  # cacheable reads that skipped the cache (cache=False, written tx, ...)
    errors: int
    prepared: int
    slow_queries: int
    pipelines: int
    #: results the cache refused to store (a write invalidated their tables meanwhile)
    refused_stores: int = 0


class Statement:
    """What the executor knows about one statement text (memoised)."""

    __slots__ = ("cls", "fingerprint", "query", "tables_read", "tables_written")

    def __init__(self, fingerprint: str, query: str, cls: StatementClass) -> None:
        self.fingerprint = fingerprint
        self.query = query  # normalised text
        self.cls = cls
        self.tables_read = cls.tables_read
        self.tables_written = cls.tables_written


class StatementCache:
    """Thread-safe memo of :class:`Statement` per exact text. Classification (sqlglot,
    0.2-1 ms) runs once per *fingerprint*: statements that differ only in constants
    read and write the same tables and call the same functions. Executors may share
    one (``perfkit replay`` does)."""

    def __init__(self, memo_size: int = _MEMO_SIZE, max_fingerprints: int = 100_000) -> None:
        self._lock = threading.Lock()
        self._fpr = Fingerprinter()
        self._memo: dict[str, Statement] = {}
        self._by_fp: dict[str, Statement] = {}
        self._memo_size = memo_size
        self._max_fps = max_fingerprints

    def __call__(self, sql: str) -> Statement:
        st = self._memo.get(sql)
        if st is not None:
            return st
        with self._lock:
            fp = self._fpr(_dollar_placeholders(sql) if "%" in sql else sql)
            st = self._by_fp.get(fp.id)
            if st is None:
                st = Statement(fp.id, fp.query, classify(sql))
                if len(self._by_fp) >= self._max_fps:
                    self._by_fp.clear()
                self._by_fp[fp.id] = st
            if len(self._memo) >= self._memo_size:
                self._memo.clear()
            self._memo[sql] = st
        return st


@dataclass(slots=True)
class _Call:
    """A planned call: what to look up, store and invalidate."""

    sql: str
    params: Any
    stmt: Statement
    key: Hashable | None
    ttl: float
    now: float | None
    reason: str | None
    prepare: bool | None
    raw: bool
    since: int | None = None
    order: int | None = None  # position in a log (ordered invalidation, see ResultCache)


_PYFORMAT = re.compile(r"%%|%\((\w+)\)s|%[sbt]")


def _dollar_placeholders(sql: str) -> str:
    """psycopg placeholders -> ``$n`` so the PostgreSQL parser can fingerprint the text
    (the same id as the statement in a server log)."""
    names: dict[str, int] = {}
    count = 0

    def sub(m: re.Match[str]) -> str:
        nonlocal count
        if m.group() == "%%":
            return "%"
        name = m.group(1)
        if name is not None and name in names:
            return f"${names[name]}"
        count += 1
        if name is not None:
            names[name] = count
        return f"${count}"

    return _PYFORMAT.sub(sub, sql)


@functools.lru_cache(maxsize=4096)
def explain_refusal(sql: str, raw: bool) -> str | None:
    """Why the slow-statement EXPLAIN must not be sent for ``sql``, or None.

    The statement guard (:mod:`perfkit.db.guard`) in plan-only mode: exactly one
    statement that EXPLAIN takes (text holding ``; DELETE ...`` would run the rest)."""
    from perfkit.db.guard import Guard, explain_policy

    text = sql if raw else _dollar_placeholders(sql)
    v = Guard(explain_policy(analyze=False)).judge_one(text)
    return None if v.allowed else f"not explained: {v.kind}: {v.message}"


def _result_columns(cur: Any, enc: str | None = None) -> tuple[str, ...] | None:
    """Column names of the current result, None when it returns no rows. (Reading
    ``cursor.description`` builds Column objects on every access: 7 µs.)"""
    res = cur.pgresult
    if res is None or res.status != 2:  # PGRES_TUPLES_OK
        return None
    if enc is None:
        enc = cur.connection.info.encoding
    return tuple(res.fname(i).decode(enc) for i in range(res.nfields))


def _columns(cur: Any) -> tuple[str, ...]:
    desc = cur.description
    return tuple(c.name for c in desc) if desc else ()


def _text_param(v: Any) -> str | None:
    if v is None or isinstance(v, str):
        return v
    if isinstance(v, (bytes, bytearray, memoryview)):
        return "\\x" + bytes(v).hex()
    if isinstance(v, (dt.date, dt.time, dt.datetime)):
        return v.isoformat()
    if isinstance(v, (list, tuple, dict)):
        return json.dumps(v, default=str)
    return str(v)


class _Core:
    """Planning, bookkeeping and reporting shared by the sync and asyncio executors."""

    def __init__(
        self,
        ttl: float,
        max_entries: int | None,
        max_bytes: int | None,
        slow_ms: float | None,
        slow_limit: int,
        explain_slow: bool,
        prepare_threshold: int | None,
        cache: ResultCache | None,
        clock: Callable[[], float],
        statements: StatementCache | None = None,
    ) -> None:
        if slow_ms is not None and slow_ms < 0:
            raise ValueError("slow_ms must not be negative")
        if prepare_threshold is not None and prepare_threshold < 0:
            raise ValueError("prepare_threshold must not be negative")
        self.cache = cache or ResultCache(
            ttl, max_entries=max_entries, max_bytes=max_bytes, clock=clock
        )
        self.ttl = float(ttl) if cache is None else self.cache.ttl
        self.slow_ms = slow_ms
        self.explain_slow = explain_slow
        self.prepare_threshold = prepare_threshold
        self._lock = threading.Lock()
        self.statements = statements or StatementCache()
        self._fp_calls: dict[str, int] = {}
        self._slow: deque[SlowStatement] = deque(maxlen=max(1, slow_limit))
        self._explained: set[str] = set()
        self._pending: set[str] = set()  # tables written in the open transaction
        self._calls = self._executed = self._uncacheable = self._bypassed = 0
        self._errors = self._prepared = self._slow_count = self._pipelines = 0

    # --- statements ---------------------------------------------------------------------

    def statement(self, sql: str) -> Statement:
        """Fingerprint and classification of ``sql`` (memoised)."""
        return self.statements(sql)

    def _plan(
        self,
        sql: str,
        params: Any,
        cache: bool,
        ttl: float | None,
        now: float | None,
        prepare: bool | None,
        raw: bool,
        in_written_tx: bool,
    ) -> _Call:
        st = self.statement(sql)
        cls = st.cls
        key: Hashable | None = None
        reason: str | None = None
        t = self.ttl if ttl is None else float(ttl)
        if not cls.cacheable:
            reason = cls.reason or "not cacheable"
        elif not cache:
            reason = "cache disabled for this call"
        elif in_written_tx:
            reason = "inside a transaction that already wrote"
        else:
            try:
                key = (sql, freeze_params(params))
            except TypeError:
                reason = "parameters cannot be used as a cache key"
        if prepare is None and self.prepare_threshold is not None and params is not None:
            fid = st.fingerprint
            n = self._fp_calls.get(fid, 0) + 1
            if len(self._fp_calls) < _MEMO_SIZE or fid in self._fp_calls:
                self._fp_calls[fid] = n
            if n > self.prepare_threshold:
                prepare = True
        with self._lock:
            self._calls += 1
            if not cls.cacheable:
                self._uncacheable += 1
            elif key is None:
                self._bypassed += 1
        return _Call(sql, params, st, key, t, now, reason, prepare, raw)

    def _plan_batch(
        self,
        items: list[tuple[str, Any]],
        cache: bool,
        ttl: float | None,
        now: float | None,
        raw: bool,
        in_tx: bool,
    ) -> tuple[list[ExecResult | None], list[tuple[int, _Call]], set[str]]:
        """Serve what the cache can for a batch; the rest is to be sent. A read after a
        write earlier in the same batch that touches its tables is never served. Also
        returns the tables the batch writes (invalidated again once a pool commits)."""
        results: list[ExecResult | None] = [None] * len(items)
        calls: list[tuple[int, _Call]] = []
        written: set[str] = set()
        for i, (sql, params) in enumerate(items):
            st = self.statement(sql)
            dirty = bool(written) and (
                ALL_TABLES in written or any(table_key(t) in written for t in st.tables_read)
            )
            call = self._plan(sql, params, cache and not dirty, ttl, now, None, raw, in_tx)
            if dirty and call.key is None and st.cls.cacheable:
                call.reason = "a write earlier in the batch touched its tables"
            written.update(table_key(t) for t in st.tables_written)
            hit = self._lookup(call, False)
            if hit is not None:
                results[i] = hit
            else:
                calls.append((i, call))
        return results, calls, written

    def _lookup(self, call: _Call, explain: bool) -> ExecResult | None:
        if call.key is None:
            return None
        t0 = time.perf_counter()
        stored = self.cache.get(call.key, call.ttl, call.now)
        if stored is None:
            call.since = self.cache.epoch(call.stmt.tables_read)
            return None
        if explain:
            return None  # the caller wants a plan: run it (the result is still fresh)
        return ExecResult(
            rows=list(stored.rows),
            columns=stored.columns,
            rowcount=stored.rowcount,
            status=stored.status,
            cached=True,
            execution_ms=(time.perf_counter() - t0) * 1000.0,
            fingerprint=call.stmt.fingerprint,
            cacheable=True,
            saved_ms=stored.execution_ms,
        )

    def _done(
        self,
        call: _Call,
        rows: list[Any],
        columns: tuple[str, ...],
        rowcount: int,
        status: str | None,
        ms: float,
        in_tx: bool,
        plan: Any = None,
    ) -> ExecResult:
        written = call.stmt.tables_written
        if written:
            self.cache.invalidate(written, call.now, order=call.order)
            if in_tx:
                with self._lock:
                    self._pending.update(written)
        if call.key is not None:
            self.cache.put(
                call.key,
                Stored(tuple(rows), columns, rowcount, status, ms),
                call.stmt.tables_read,
                ttl=call.ttl,
                now=call.now,
                since=call.since,
                order=call.order,
            )
        with self._lock:
            self._executed += 1
            if call.prepare:
                self._prepared += 1
        return ExecResult(
            rows=rows,
            columns=columns,
            rowcount=rowcount,
            status=status,
            cached=False,
            execution_ms=ms,
            fingerprint=call.stmt.fingerprint,
            cacheable=call.stmt.cls.cacheable,
            reason=call.reason,
            plan=plan,
            prepared=bool(call.prepare),
        )

    def _failed(self) -> None:
        with self._lock:
            self._errors += 1

    def _tx_state(self, status: int | None) -> bool:
        """Given the single connection's transaction status, apply pending invalidations
        of a finished transaction; returns whether reads must bypass the cache."""
        if status is None or not self._pending:
            return False
        with self._lock:
            if not self._pending:
                return False
            if status == _IDLE:
                tables = list(self._pending)
                self._pending.clear()
            else:
                return True
        self.cache.invalidate(tables)
        return False

    def _wants_slow(self, call: _Call, ms: float) -> bool:
        return self.slow_ms is not None and ms >= self.slow_ms

    def _want_plan(self, call: _Call) -> bool:
        if not self.explain_slow or call.stmt.cls.kind not in _EXPLAINABLE:
            return False
        with self._lock:
            if call.stmt.fingerprint in self._explained:
                return False
            if len(self._explained) < _MEMO_SIZE:
                self._explained.add(call.stmt.fingerprint)
            return True

    def _record_slow(
        self, call: _Call, query: str, ms: float, plan: Any, error: str | None
    ) -> None:
        params: tuple[str | None, ...] | None = None
        if call.raw and call.params is not None:
            params = tuple(_text_param(v) for v in call.params)
        rec = SlowStatement(
            ts=dt.datetime.now(dt.timezone.utc),
            fingerprint=call.stmt.fingerprint,  # of the $n form: analyze's id too
            query=query,
            params=params,
            duration_ms=ms,
            plan=plan,
            explain_error=error,
        )
        with self._lock:
            self._slow.append(rec)
            self._slow_count += 1

    # --- public reporting ---------------------------------------------------------------

    def invalidate(
        self,
        tables: Iterable[str],
        now: float | None = None,
        *,
        in_transaction: bool = False,
        order: int | None = None,
    ) -> int:
        """Invalidate entries reading ``tables``, for writes made outside the executor.
        ``in_transaction``: the write is in the connection's open transaction, so reads
        bypass the cache until it ends (and the tables are invalidated again then).
        ``order``: the write's position in a log (see :meth:`ResultCache.put`)."""
        tabs = list(tables)
        if in_transaction:
            with self._lock:
                self._pending.update(tabs)
        return self.cache.invalidate(tabs, now, order=order)

    def end_transaction(
        self, committed: bool, now: float | None = None, *, order: int | None = None
    ) -> int:
        """The connection's transaction just ended: a COMMIT invalidates the tables it
        wrote once more (a concurrent reader may have stored the old data meanwhile), a
        ROLLBACK wrote nothing. Without this call the next ``execute`` invalidates them
        either way; replays call it right after COMMIT/ROLLBACK so it happens where it
        did in the log (``analyze``'s rule). Returns the entries dropped."""
        with self._lock:
            tables = list(self._pending)
            self._pending.clear()
        if not committed or not tables:
            return 0
        return self.cache.invalidate(tables, now, order=order)

    @property
    def stats(self) -> ExecutorStats:
        c = self.cache.stats
        with self._lock:
            return ExecutorStats(
                calls=self._calls,
                executed=self._executed,
                hits=c.hits,
                misses=c.misses,
                hit_rate=c.hit_rate,
                evictions=c.evictions,
                invalidations=c.invalidations,
                expirations=c.expirations,
                entries=c.entries,
                bytes=c.bytes,
                saved_ms=c.saved_ms,
                uncacheable=self._uncacheable,
                bypassed=self._bypassed,
                errors=self._errors,
                prepared=self._prepared,
                slow_queries=self._slow_count,
                pipelines=self._pipelines,
                refused_stores=c.refused_stores,
            )

    def slow_queries(self) -> list[SlowStatement]:
        """The most recent slow statements (at most ``slow_limit``), oldest first."""
        with self._lock:
            return list(self._slow)

    def export_slow(self, path: str | Path, fmt: str = "jsonl") -> int:
        """Write the slow statements as JSON Lines (``{"ts", "query", "params",
        "duration_ms", "fingerprint", "plan"}``, what the log readers read) or as a
        ``.sql`` file; returns how many. Written atomically."""
        from perfkit.report.output import write_atomic

        recs = self.slow_queries()
        if fmt == "jsonl":
            lines = []
            for r in recs:
                obj: dict[str, Any] = {
                    "ts": r.ts.isoformat(),
                    "duration_ms": round(r.duration_ms, 3),
                    "query": r.query,
                    "fingerprint": r.fingerprint,
                }
                if r.params is not None:
                    obj["params"] = list(r.params)
                if r.plan is not None:
                    obj["plan"] = r.plan
                lines.append(json.dumps(obj, default=str))
            text = "".join(line + "\n" for line in lines)
        elif fmt == "sql":
            text = "".join(
                f"-- {r.ts.isoformat()} duration: {r.duration_ms:.3f} ms fingerprint {r.fingerprint}\n"
                + _sql_with_params(r.query, r.params)
                + ";\n"
                for r in recs
            )
        else:
            raise ValueError("fmt must be 'jsonl' or 'sql'")
        write_atomic(Path(path), text)
        return len(recs)


_DOLLAR = re.compile(r"\$(\d+)")


def _sql_with_params(query: str, params: tuple[str | None, ...] | None) -> str:
    text = query.strip().rstrip(";")
    if not params:
        return text

    def sub(m: re.Match[str]) -> str:
        i = int(m.group(1)) - 1
        if not 0 <= i < len(params):
            return m.group()
        v = params[i]
        return "NULL" if v is None else "'" + v.replace("'", "''") + "'"

    return _DOLLAR.sub(sub, text)


def _is_pool(obj: Any) -> bool:
    return hasattr(obj, "getconn") and hasattr(obj, "connection")


class CachedExecutor(_Core):
    """A query cache in front of a psycopg ``Connection`` or ``ConnectionPool``.

    Thread-safe: the store is locked, a connection is used by one call at a time
    (psycopg serialises it; a pool hands one connection per call).

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
        self._pool = conn_or_pool if _is_pool(conn_or_pool) else None
        self._conn = None if self._pool is not None else conn_or_pool
        self._local = threading.local()

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
        # One per thread and connection (a thread runs execute + fetch in sequence).
        cursors: dict[tuple[int, bool], tuple[psycopg.Cursor[Any], str]] | None = getattr(
            self._local, "cursors", None
        )
        if cursors is None:
            cursors = self._local.cursors = {}
        key = (id(conn), raw)
        got = cursors.get(key)
        if (
            got is None
            or got[0].connection is not conn
            or got[0].closed
            or got[0].row_factory is not conn.row_factory
        ):
            if len(cursors) >= 64:
                cursors.clear()
            got = cursors[key] = (self._cursor(conn, raw), conn.info.encoding)
        return got

    def _run(self, conn: psycopg.Connection[Any], call: _Call, explain: bool) -> ExecResult:
        cur, enc = self._reused_cursor(conn, call.raw)
        t0 = time.perf_counter()
        try:
            cur.execute(call.sql, call.params, prepare=call.prepare)
            columns = _result_columns(cur, enc)
            rows = cur.fetchall() if columns is not None else []
        except BaseException:
            self._failed()
            raise
        finally:
            ms = (time.perf_counter() - t0) * 1000.0
        plan = None
        if explain:
            plan, _ = self._explain(conn, call)
        in_tx = self._conn is not None and conn.pgconn.transaction_status != _IDLE
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

    def _slow_text(self, conn: psycopg.Connection[Any], call: _Call) -> str:
        if call.raw or call.params is None:
            return call.sql
        import psycopg

        try:
            return psycopg.ClientCursor(conn).mogrify(call.sql, call.params)
        except Exception:  # an adapter missing client-side: keep the placeholders
            return call.sql

    def _explain(self, conn: psycopg.Connection[Any], call: _Call) -> tuple[Any, str | None]:
        import psycopg
        from psycopg.rows import tuple_row

        if conn.pgconn.transaction_status not in (0, 2):  # idle or in a good transaction
            return None, "the transaction is aborted"
        refused = explain_refusal(call.sql, call.raw)
        if refused is not None:
            return None, refused
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
            return None, str(exc).strip().splitlines()[0] if str(exc).strip() else "error"
        plan = row[0] if row else None
        if isinstance(plan, list) and plan:
            plan = plan[0]
        return plan, None

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
