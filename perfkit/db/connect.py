"""Connections with perfkit's session settings and its error mapping."""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from perfkit.db.target import Target, mask_dsn, resolve_target
from perfkit.errors import AuthenticationFailed, ConnectionFailed, DatabaseError
from perfkit.units import parse_duration_ms

if TYPE_CHECKING:
    import psycopg

DEFAULT_STATEMENT_TIMEOUT = "30s"
DEFAULT_LOCK_TIMEOUT = "5s"
DEFAULT_CONNECT_TIMEOUT = 5.0


def session_options(
    *,
    read_only: bool = True,
    statement_timeout: str | float = DEFAULT_STATEMENT_TIMEOUT,
    lock_timeout: str | float = DEFAULT_LOCK_TIMEOUT,
) -> str:
    """The libpq ``options`` string that sets perfkit's session defaults at connect time."""
    parts = [
        f"-c statement_timeout={parse_duration_ms(statement_timeout)}",
        f"-c lock_timeout={parse_duration_ms(lock_timeout)}",
    ]
    if read_only:
        parts.append("-c default_transaction_read_only=on")
    return " ".join(parts)


def target_uri(target: Target) -> str:
    """The DSN to hand to libpq; starts the embedded cluster when that is the target."""
    if target.embedded:
        from perfkit.db.embedded import ensure_running

        return ensure_running()
    return target.dsn


def conninfo(
    target: Target | str | None = None,
    *,
    dbname: str | None = None,
    read_only: bool = True,
    statement_timeout: str | float = DEFAULT_STATEMENT_TIMEOUT,
    lock_timeout: str | float = DEFAULT_LOCK_TIMEOUT,
    connect_timeout: float = DEFAULT_CONNECT_TIMEOUT,
    application_name: str = "perfkit",
    session_settings: bool = True,
) -> str:
    """A complete conninfo string with perfkit's settings merged in.

    ``session_settings=False`` leaves out the ``options`` startup parameter, for
    poolers such as PgBouncer that reject it; callers then SET the values themselves.
    """
    from psycopg.conninfo import make_conninfo

    if not isinstance(target, Target):
        target = resolve_target(target)
    kwargs: dict[str, Any] = {
        "application_name": application_name,
        "connect_timeout": max(1, math.ceil(connect_timeout)),
    }
    if session_settings:
        kwargs["options"] = session_options(
            read_only=read_only, statement_timeout=statement_timeout, lock_timeout=lock_timeout
        )
    if dbname:
        kwargs["dbname"] = dbname
    return make_conninfo(target_uri(target), **kwargs)


def map_error(exc: BaseException, where: str) -> DatabaseError:
    """Turn a psycopg connection error into perfkit's one-line error."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    lowered = text.lower()
    if (
        "password authentication failed" in lowered
        or "no password supplied" in lowered
        or ("authentication" in lowered and "failed" in lowered)
    ):
        return AuthenticationFailed(where, "authentication failed (check user and password)")
    if any(
        s in lowered
        for s in (
            "connection refused",
            "timeout expired",
            "could not translate host name",
            "no route to host",
            "network is unreachable",
            "no such file or directory",
            "connection timed out",
            "server closed the connection",
        )
    ):
        return ConnectionFailed(where, f"cannot connect: {text}")
    return DatabaseError(where, text)


def connect(
    target: Target | str | None = None,
    *,
    dbname: str | None = None,
    read_only: bool = True,
    statement_timeout: str | float = DEFAULT_STATEMENT_TIMEOUT,
    lock_timeout: str | float = DEFAULT_LOCK_TIMEOUT,
    connect_timeout: float = DEFAULT_CONNECT_TIMEOUT,
    autocommit: bool = True,
    application_name: str = "perfkit",
) -> psycopg.Connection[Any]:
    """Open a connection to ``target`` (resolved as :func:`resolve_target` does).

    Sessions are read-only by default (``default_transaction_read_only``); pass
    ``read_only=False`` only for work the user asked for by flag.
    """
    import psycopg

    if not isinstance(target, Target):
        target = resolve_target(target)
    info = conninfo(
        target,
        dbname=dbname,
        read_only=read_only,
        statement_timeout=statement_timeout,
        lock_timeout=lock_timeout,
        connect_timeout=connect_timeout,
        application_name=application_name,
    )
    try:
        return psycopg.connect(info, autocommit=autocommit)
    except psycopg.Error as exc:
        raise map_error(exc, mask_dsn(target.masked)) from None


@contextlib.contextmanager
def rolled_back(conn: psycopg.Connection[Any], *, read_write: bool = False) -> Iterator[None]:
    """A transaction that is always rolled back, whatever happens inside.

    ``read_write=True`` lifts the session's read-only default for this transaction
    only (trial indexes, EXPLAIN ANALYZE of DML): nothing it does is ever committed.
    """
    with conn.transaction(force_rollback=True):
        if read_write:
            conn.execute("SET TRANSACTION READ WRITE")
        yield


def server_version(conn: psycopg.Connection[Any]) -> int:
    """``server_version_num`` as an int, e.g. 150020."""
    return int(conn.info.server_version)
