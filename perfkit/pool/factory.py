"""A ready-made ``psycopg_pool.ConnectionPool`` for a service (a Lambda handler, a worker).

``create_pool(dsn, memory_mb=1024)`` returns an *open* pool with:

* sizing: ``max_size`` from ``memory_mb`` by the Lambda heuristic (one connection per
  128 MB, 1 to 10) unless given; ``min_size`` connections are opened before it returns
  (the warm-up, so the first request does not pay the connect);
* keep-alive: TCP keepalives (``keepalives_idle=30s``, 10 s interval, 3 probes), so a
  connection silently dropped by a NAT or a failover is found instead of hanging;
* timeouts: ``connect_timeout`` per connection, ``timeout`` to wait for a free
  connection, ``statement_timeout`` and ``lock_timeout`` on every session;
* a health check on checkout (``ConnectionPool.check_connection``) and recycling by
  ``max_lifetime``/``max_idle``;
* graceful close: use it as a context manager, call ``pool.close()``, or leave
  ``close_at_exit=True`` to close it when the interpreter exits.

This pool is for *your* application, so its sessions are read-write unless you pass
``read_only=True`` (perfkit's own benchmark sessions are read-only).
"""

from __future__ import annotations

import atexit
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from perfkit.errors import UsageError
from perfkit.pool.recommend import lambda_pool_size

if TYPE_CHECKING:
    from psycopg_pool import ConnectionPool

DEFAULT_MAX_SIZE = 10
KEEPALIVES = {
    "keepalives": 1,
    "keepalives_idle": 30,
    "keepalives_interval": 10,
    "keepalives_count": 3,
}


@dataclass(frozen=True)
class PoolSettings:
    """The sizes :func:`create_pool` uses, and why."""

    min_size: int
    max_size: int
    reason: str


def pool_settings(
    memory_mb: int | None = None, *, min_size: int | None = None, max_size: int | None = None
) -> PoolSettings:
    """Pool sizes: explicit values win, else the Lambda heuristic from ``memory_mb``."""
    if memory_mb is not None and memory_mb < 128:
        raise UsageError("memory_mb", "Lambda memory is at least 128 MB")
    if max_size is not None:
        reason = "max_size given"
        size = max_size
    elif memory_mb is not None:
        size = lambda_pool_size(memory_mb)
        reason = f"{memory_mb} MB / 128 MB per connection, at most 10"
    else:
        size = DEFAULT_MAX_SIZE
        reason = "default"
    if size < 1:
        raise UsageError("max_size", "must be 1 or more")
    low = 1 if min_size is None else min_size
    if low < 0 or low > size:
        raise UsageError("min_size", f"must be between 0 and max_size ({size})")
    return PoolSettings(min_size=low, max_size=size, reason=reason)


def create_pool(
    dsn: str | None = None,
    memory_mb: int | None = None,
    *,
    min_size: int | None = None,
    max_size: int | None = None,
    timeout: float = 10.0,
    connect_timeout: float = 5.0,
    statement_timeout: str | float = "30s",
    lock_timeout: str | float = "5s",
    read_only: bool = False,
    max_lifetime: float = 1800.0,
    max_idle: float = 300.0,
    application_name: str | None = None,
    session_settings: bool = True,
    close_at_exit: bool = True,
    name: str | None = None,
) -> ConnectionPool[Any]:
    """Create, open and warm up a connection pool for ``dsn`` (resolved like ``--dsn``).

    ``session_settings=False`` sends the timeouts with SET after connecting, for
    PgBouncer (which rejects the ``options`` startup parameter).
    Raises :class:`perfkit.errors.DatabaseError` when the warm-up cannot connect.
    """
    from psycopg.conninfo import conninfo_to_dict, make_conninfo
    from psycopg_pool import ConnectionPool

    from perfkit.db.connect import conninfo, map_error, session_statements
    from perfkit.db.target import Target, resolve_target

    sizes = pool_settings(memory_mb, min_size=min_size, max_size=max_size)
    target: Target = resolve_target(dsn)
    app = application_name
    if app is None and target.dsn:
        try:
            app = str(conninfo_to_dict(target.dsn).get("application_name") or "") or None
        except Exception:
            app = None
    info = conninfo(
        target,
        read_only=read_only,
        statement_timeout=statement_timeout,
        lock_timeout=lock_timeout,
        connect_timeout=connect_timeout,
        application_name=app or "perfkit-create-pool",
        session_settings=session_settings,
    )
    host = str(conninfo_to_dict(info).get("host") or "")
    if host and not host.startswith("/"):
        info = make_conninfo(info, **KEEPALIVES)
    setup = (
        []
        if session_settings
        else session_statements(
            read_only=read_only, statement_timeout=statement_timeout, lock_timeout=lock_timeout
        )
    )

    def configure(conn: Any) -> None:
        for stmt in setup:
            conn.execute(stmt.encode())
        if not conn.autocommit:
            conn.commit()

    pool: ConnectionPool[Any] = ConnectionPool(
        info,
        min_size=sizes.min_size,
        max_size=sizes.max_size,
        timeout=timeout,
        max_lifetime=max_lifetime,
        max_idle=max_idle,
        check=ConnectionPool.check_connection,
        configure=configure if setup else None,
        open=False,
        name=name,
    )
    try:
        pool.open(wait=sizes.min_size > 0, timeout=max(2.0, connect_timeout * 2))
    except Exception as exc:
        pool.close(timeout=0.5)
        # the pool only says it timed out; one direct attempt says why
        import psycopg

        try:
            psycopg.connect(info).close()
        except psycopg.Error as direct:
            raise map_error(direct, target.masked) from None
        raise map_error(exc, target.masked) from None
    if close_at_exit:
        atexit.register(pool.close)
    return pool
