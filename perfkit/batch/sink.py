"""``--sink postgres``: every processed message written through :class:`BatchWriter`
with COPY, and the same rows inserted one by one in a never-committed transaction on a
second session, so the report compares round trips on the same data in the same run."""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass
from typing import Any

from perfkit.batch.inputs import Message
from perfkit.batch.writer import BatchWriter, FlushError
from perfkit.errors import DatabaseError, UsageError

COLUMNS = (
    "message_id",
    "group_id",
    "body",
    "receive_count",
    "sent_at",
    "processed_at",
    "latency_ms",
)
_DDL = (
    "CREATE TABLE IF NOT EXISTS {} (message_id text NOT NULL, group_id text, body text NOT NULL, "
    "receive_count integer NOT NULL, sent_at timestamptz, processed_at timestamptz NOT NULL, "
    "latency_ms double precision)"
)


@dataclass(frozen=True)
class SinkSettings:
    dsn: str | None
    table: str
    create_table: bool = False
    max_items: int = 100
    max_wait_s: float = 5.0
    compare_row_by_row: bool = True
    statement_timeout: str = "30s"
    connect_timeout: float = 5.0


def _ident(table: str) -> Any:
    from psycopg import sql

    parts = table.split(".")
    if not 1 <= len(parts) <= 2 or not all(parts):
        raise UsageError("--table", f"{table!r}: use name or schema.name")
    return sql.Identifier(*parts)


class PostgresSink:
    """Open with :meth:`open`, feed with :meth:`add`, end with :meth:`close` (returns stats)."""

    def __init__(self, settings: SinkSettings, wall_origin: float) -> None:
        self.s = settings
        self.origin = wall_origin
        self.copy_round_trips = 0
        self.copy_seconds = 0.0
        self.row_round_trips = 0
        self.row_seconds = 0.0
        self.rows = 0
        self._conn: Any = None
        self._cmp: Any = None
        self._writer: BatchWriter[tuple[Any, ...]] | None = None
        self._ident: Any = _ident(settings.table)

    def open(self) -> None:
        from psycopg import sql

        from perfkit.db.connect import connect

        kw: dict[str, Any] = {
            "statement_timeout": self.s.statement_timeout,
            "connect_timeout": self.s.connect_timeout,
        }
        # The user asked for writes with --sink: the session is read-write for this only.
        self._conn = connect(self.s.dsn, read_only=False, **kw)
        try:
            if self.s.create_table:
                self._conn.execute(sql.SQL(_DDL).format(self._ident))
            self._copy_sql = sql.SQL("COPY {} ({}) FROM STDIN").format(
                self._ident, sql.SQL(", ").join(sql.Identifier(c) for c in COLUMNS)
            )
            self._check_table()
            if self.s.compare_row_by_row:
                self._cmp = connect(self.s.dsn, read_only=False, autocommit=False, **kw)
                # Rows inserted one by one into a temporary copy that is always rolled back.
                self._cmp.execute(
                    sql.SQL("CREATE TEMP TABLE perfkit_rowbyrow (LIKE {}) ON COMMIT DROP").format(
                        self._ident
                    )
                )
                self._insert_sql = sql.SQL("INSERT INTO perfkit_rowbyrow ({}) VALUES ({})").format(
                    sql.SQL(", ").join(sql.Identifier(c) for c in COLUMNS),
                    sql.SQL(", ").join(sql.Placeholder() * len(COLUMNS)),
                )
        except Exception as exc:
            self.abort()
            raise self._map(exc) from None
        self._writer = BatchWriter(
            self._flush, max_items=self.s.max_items, max_wait_s=self.s.max_wait_s
        )

    def _check_table(self) -> None:
        import psycopg

        try:
            with (
                self._conn.transaction(force_rollback=True),
                self._conn.cursor() as cur,
                cur.copy(self._copy_sql),
            ):
                pass
        except psycopg.errors.UndefinedTable:
            raise DatabaseError(
                self.s.table, "table does not exist", hint="add --create-table to create it"
            ) from None

    def _map(self, exc: BaseException) -> Exception:
        if isinstance(exc, (DatabaseError, UsageError)):
            return exc
        return DatabaseError(self.s.table, f"{type(exc).__name__}: {exc}".splitlines()[0])

    def row(self, m: Message, done_t: float) -> tuple[Any, ...]:
        utc = dt.timezone.utc
        sent = dt.datetime.fromtimestamp(m.sent_ms / 1000, utc) if m.sent_ms is not None else None
        return (
            m.message_id,
            m.group,
            m.body,
            m.receive_count,
            sent,
            dt.datetime.fromtimestamp(self.origin + done_t, utc),
            round((done_t - m.arrival) * 1000, 3),
        )

    def add(self, m: Message, done_t: float) -> None:
        assert self._writer is not None
        self._writer.add(self.row(m, done_t))

    def _flush(self, rows: list[tuple[Any, ...]]) -> None:
        t = time.perf_counter()
        with self._conn.cursor() as cur, cur.copy(self._copy_sql) as cp:
            for r in rows:
                cp.write_row(r)
        self.copy_seconds += time.perf_counter() - t
        self.copy_round_trips += 1
        self.rows += len(rows)
        if self._cmp is not None:
            t = time.perf_counter()
            with self._cmp.cursor() as cur:
                for r in rows:
                    cur.execute(self._insert_sql, r)
            self.row_seconds += time.perf_counter() - t
            self.row_round_trips += len(rows)

    def abort(self) -> None:
        for c in (self._cmp, self._conn):
            if c is not None:
                try:
                    if not c.autocommit:
                        c.rollback()
                    c.close()
                except Exception:
                    pass
        self._conn = self._cmp = None

    def close(self) -> dict[str, Any]:
        try:
            if self._writer is not None:
                try:
                    self._writer.close()
                except FlushError as err:
                    raise DatabaseError(
                        self.s.table,
                        f"{len(err.items)} row(s) not written: {type(err.cause).__name__}: "
                        f"{str(err.cause).splitlines()[0] if str(err.cause) else ''}",
                    ) from err
        finally:
            self.abort()
        return self.stats()

    def stats(self) -> dict[str, Any]:
        return {
            "table": self.s.table,
            "rows": self.rows,
            "batch_size": self.s.max_items,
            "copy_round_trips": self.copy_round_trips,
            "copy_seconds": round(self.copy_seconds, 6),
            "row_by_row_round_trips": self.row_round_trips if self.s.compare_row_by_row else None,
            "row_by_row_seconds": round(self.row_seconds, 6) if self.s.compare_row_by_row else None,
        }
