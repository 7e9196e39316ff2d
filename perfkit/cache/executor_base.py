"""What the sync and asyncio executors share: the results and statistics they return,
the statement memo, the planning and bookkeeping core (:class:`ExecutorCore`) and the
per-thread / per-task cursor sets.

The executors themselves are :mod:`perfkit.cache.async_executor` (the source) and
:mod:`perfkit.cache.executor` (generated from it by ``tools/async_to_sync.py``). Nothing
here does I/O: it is all in-memory work under a lock, so one core serves either kind.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import re
import threading
import time
import weakref
from collections import deque
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from perfkit.cache.core import ALL_TABLES, table_key
from perfkit.cache.store import ResultCache, Stored, freeze_params
from perfkit.querylog.classify import StatementClass, classify
from perfkit.querylog.fingerprint import Fingerprinter

__all__ = [
    "IDLE",
    "Call",
    "ExecResult",
    "ExecutorCore",
    "ExecutorStats",
    "SlowStatement",
    "Statement",
    "StatementCache",
    "TaskCursors",
    "ThreadCursors",
    "column_names",
    "explain_refusal",
    "is_pool",
    "result_columns",
]

IDLE = 0  # psycopg.pq.TransactionStatus.IDLE
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
    #: cursors made for single statements: reused, they stay at one per thread (asyncio
    #: task), connection and kind (raw or not) while the connection's row factory holds
    cursors: int = 0


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
class Call:
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


def result_columns(cur: Any, enc: str | None = None) -> tuple[str, ...] | None:
    """Column names of the current result, None when it returns no rows. (Reading
    ``cursor.description`` builds Column objects on every access: 7 µs.)"""
    res = cur.pgresult
    if res is None or res.status != 2:  # PGRES_TUPLES_OK
        return None
    if enc is None:
        enc = cur.connection.info.encoding
    return tuple(res.fname(i).decode(enc) for i in range(res.nfields))


def column_names(cur: Any) -> tuple[str, ...]:
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


class ExecutorCore:
    """Planning, bookkeeping and reporting shared by the sync and asyncio executors
    (everything but the I/O)."""

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
        self._cursors_made = 0

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
    ) -> Call:
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
        return Call(sql, params, st, key, t, now, reason, prepare, raw)

    def _plan_batch(
        self,
        items: list[tuple[str, Any]],
        cache: bool,
        ttl: float | None,
        now: float | None,
        raw: bool,
        in_tx: bool,
    ) -> tuple[list[ExecResult | None], list[tuple[int, Call]], set[str]]:
        """Serve what the cache can for a batch; the rest is to be sent. A read after a
        write earlier in the same batch that touches its tables is never served. Also
        returns the tables the batch writes (invalidated again once a pool commits)."""
        results: list[ExecResult | None] = [None] * len(items)
        calls: list[tuple[int, Call]] = []
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

    def _lookup(self, call: Call, explain: bool) -> ExecResult | None:
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
        call: Call,
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
            if status == IDLE:
                tables = list(self._pending)
                self._pending.clear()
            else:
                return True
        self.cache.invalidate(tables)
        return False

    def _wants_slow(self, call: Call, ms: float) -> bool:
        return self.slow_ms is not None and ms >= self.slow_ms

    def _want_plan(self, call: Call) -> bool:
        if not self.explain_slow or call.stmt.cls.kind not in _EXPLAINABLE:
            return False
        with self._lock:
            if call.stmt.fingerprint in self._explained:
                return False
            if len(self._explained) < _MEMO_SIZE:
                self._explained.add(call.stmt.fingerprint)
            return True

    def _record_slow(self, call: Call, query: str, ms: float, plan: Any, error: str | None) -> None:
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
                cursors=self._cursors_made,
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


def is_pool(obj: Any) -> bool:
    return hasattr(obj, "getconn") and hasattr(obj, "connection")


#: a reused cursor and its connection's encoding, per (connection id, raw)
CursorSet = dict[tuple[int, bool], tuple[Any, str]]


class ThreadCursors:
    """Cursors kept for reuse, one set per thread: a thread runs execute and fetch in
    sequence, so its cursor's result cannot be replaced in between."""

    def __init__(self) -> None:
        self._local = threading.local()

    def mine(self) -> CursorSet:
        cursors: CursorSet | None = getattr(self._local, "cursors", None)
        if cursors is None:
            cursors = self._local.cursors = {}
        return cursors


class TaskCursors:
    """Cursors kept for reuse, one set per asyncio task: tasks sharing a connection
    interleave at every ``await``, so another task's ``execute`` could replace a shared
    cursor's result between this task's ``execute`` and ``fetchall``. A set lives as
    long as its task (outside a task, nothing is reused)."""

    def __init__(self) -> None:
        self._by_task: weakref.WeakKeyDictionary[object, CursorSet] = weakref.WeakKeyDictionary()

    def mine(self) -> CursorSet:
        import asyncio

        try:
            task = asyncio.current_task()
        except RuntimeError:  # no running loop
            task = None
        if task is None:
            return {}
        cursors = self._by_task.get(task)
        if cursors is None:
            cursors = self._by_task[task] = {}
        return cursors
