"""Connections with perfkit's session settings and its error mapping."""

from __future__ import annotations

import contextlib
import math
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from perfkit.db.target import Target, mask_dsn, resolve_target
from perfkit.errors import AuthenticationFailed, ConfigError, ConnectionFailed, DatabaseError
from perfkit.units import parse_duration, parse_duration_ms

if TYPE_CHECKING:
    import psycopg

DEFAULT_STATEMENT_TIMEOUT = "30s"
DEFAULT_LOCK_TIMEOUT = "5s"
#: A session left idle inside a transaction is ended by the server after this long.
DEFAULT_IDLE_IN_TRANSACTION_TIMEOUT = "60s"
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
        "-c idle_in_transaction_session_timeout="
        f"{parse_duration_ms(DEFAULT_IDLE_IN_TRANSACTION_TIMEOUT)}",
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
    import psycopg

    try:
        return make_conninfo(target_uri(target), **kwargs)
    except psycopg.ProgrammingError as exc:
        # libpq's parser quotes the bad part of the DSN: the reason is kept, the DSN is not
        raise DatabaseError(target.masked, f"invalid connection string: {_reason(exc)}") from None


def _reason(exc: BaseException) -> str:
    """libpq's complaint about a DSN without the DSN it quotes (``... in URI: "..."``)."""
    from perfkit.redact import scrub

    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    text = re.sub(r'\s+in URI: ".*$', "", text)
    return scrub(text)


_AUTH_MARKERS = (
    "password authentication failed",
    "no password supplied",
    "authentication failed",
    "no pg_hba.conf entry",
    "is not permitted to log in",
    "password is required",
    "scram authentication",
)
_ROLE_MISSING = re.compile(r'role "[^"]*" does not exist')
_CONNECTION_MARKERS = (
    "connection refused",
    "timeout expired",
    "connection timeout",
    "could not translate host name",
    "no route to host",
    "network is unreachable",
    "no such file or directory",
    "connection timed out",
    "server closed the connection",
    "terminating connection due to administrator command",
    "the database system is shutting down",
    "the database system is starting up",
    "the database system is in recovery mode",
    "consuming input failed",
    "connection is bad",
    "connection is closed",
    "connection is lost",
    "lost synchronization with server",
    "ssl syscall error",
    "could not receive data from server",
    "could not send data to server",
    "sorry, too many clients already",
)
# SQLSTATE classes: 08 connection exception, 57P0x operator intervention (shutdown),
# 28 invalid authorization, 53300 too_many_connections.
_CONNECTION_STATES = ("08", "57P01", "57P02", "57P03", "53300")


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    if not text:
        return type(exc).__name__
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    # psycopg prefixes libpq's message: 'connection failed: connection to server at
    # "127.0.0.1", port 1 failed: Connection refused' - keep the line that says why.
    for ln in lines:
        if ln.lower().startswith(("fatal:", "error:")):
            return ln
    first = lines[0]
    for prefix in ("connection failed: ", "connection is bad: "):
        if first.startswith(prefix):
            return first[len(prefix) :]
    return first


def map_error(exc: BaseException, where: str) -> DatabaseError:
    """Turn a psycopg connection error into perfkit's one-line error.

    The message never contains a password: ``where`` is a masked target and libpq's
    own messages do not echo credentials.
    """
    text = _first_line(exc)
    lowered = str(exc).lower()
    sqlstate = str(getattr(exc, "sqlstate", None) or "")
    if (
        sqlstate.startswith("28")
        or any(m in lowered for m in _AUTH_MARKERS)
        or _ROLE_MISSING.search(lowered)
    ):
        reason = text
        for prefix in ("FATAL:  ", "FATAL: "):
            if reason.startswith(prefix):
                reason = reason[len(prefix) :]
        return AuthenticationFailed(
            where,
            f"authentication failed ({reason})"
            if "authentication failed" not in reason.lower()
            else reason,
            hint="check the user name and password; the password is never shown",
        )
    if (
        sqlstate.startswith(_CONNECTION_STATES)
        or any(m in lowered for m in _CONNECTION_MARKERS)
        or (
            type(exc).__name__ in ("ConnectionTimeout", "OperationalError") and "timeout" in lowered
        )
    ):
        return ConnectionFailed(where, f"cannot connect: {text}")
    return DatabaseError(where, text)


def is_connection_lost(exc: BaseException) -> bool:
    """Whether ``exc`` means the server (or the network to it) is gone, not a query error."""
    return isinstance(map_error(exc, ""), (ConnectionFailed, AuthenticationFailed))


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
    session_settings: bool = True,
) -> psycopg.Connection[Any]:
    """Open a connection to ``target`` (resolved as :func:`resolve_target` does).

    Sessions are read-only by default (``default_transaction_read_only``); pass
    ``read_only=False`` only for work the user asked for by flag.
    ``session_settings=False`` sends the settings as ``SET`` statements after
    connecting instead of the ``options`` startup parameter (for PgBouncer).
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
        session_settings=session_settings,
    )
    try:
        conn = psycopg.connect(info, autocommit=autocommit)
        if not session_settings:
            try:
                apply_session_settings(
                    conn,
                    read_only=read_only,
                    statement_timeout=statement_timeout,
                    lock_timeout=lock_timeout,
                )
            except BaseException:
                conn.close()
                raise
        return conn
    except psycopg.Error as exc:
        raise map_error(exc, mask_dsn(target.masked)) from None


def rejects_startup_options(exc: BaseException) -> bool:
    """Whether a connection error says the ``options`` startup parameter is not accepted
    (PgBouncer without ``ignore_startup_parameters = options``)."""
    return "unsupported startup parameter" in str(exc).lower()


@contextlib.contextmanager
def rolled_back(conn: psycopg.Connection[Any], *, read_write: bool = False) -> Iterator[None]:
    """A transaction that is always rolled back, whatever happens inside.

    It is READ ONLY (``SET TRANSACTION READ ONLY``, whatever the session's default),
    so a function that writes fails with the server's own error. ``read_write=True``
    lifts that for this transaction only (trial indexes, EXPLAIN ANALYZE of DML):
    nothing it does is ever committed. Nested in an open transaction, it is a
    savepoint, and the mode it set ends with it.
    """
    with conn.transaction(force_rollback=True):
        conn.execute("SET TRANSACTION READ WRITE" if read_write else "SET TRANSACTION READ ONLY")
        yield


def read_only(conn: psycopg.Connection[Any]) -> contextlib.AbstractContextManager[None]:
    """A READ ONLY transaction that is always rolled back: where reads of user SQL run."""
    return rolled_back(conn, read_write=False)


def server_version(conn: psycopg.Connection[Any]) -> int:
    """``server_version_num`` as an int, e.g. 150020."""
    return int(conn.info.server_version)


# Oldest and newest PostgreSQL major versions perfkit's SQL files are written for.
MIN_SERVER_MAJOR = 13
MAX_SERVER_MAJOR = 18


@dataclass(frozen=True)
class ServerVersion:
    """The server's version: ``num`` is ``server_version_num`` (150020), ``text`` as shown."""

    num: int
    text: str

    @property
    def major(self) -> int:
        return self.num // 10000

    @property
    def minor(self) -> int:
        return self.num % 10000

    @property
    def supported(self) -> bool:
        return MIN_SERVER_MAJOR <= self.major <= MAX_SERVER_MAJOR

    def __str__(self) -> str:
        return self.text


def detect_server_version(conn: psycopg.Connection[Any]) -> ServerVersion:
    """The version of the server behind ``conn`` (no query: libpq reports it at startup)."""
    num = int(conn.info.server_version)
    text = conn.info.parameter_status("server_version") or f"{num // 10000}.{num % 10000}"
    return ServerVersion(num=num, text=text.split(" ")[0])


@dataclass(frozen=True)
class SessionDefaults:
    """Session settings for perfkit's own connections, from config ``[db]`` or built-ins."""

    statement_timeout: str = DEFAULT_STATEMENT_TIMEOUT
    lock_timeout: str = DEFAULT_LOCK_TIMEOUT
    connect_timeout: float = DEFAULT_CONNECT_TIMEOUT

    def kwargs(self) -> dict[str, Any]:
        """Keyword arguments for :func:`connect` / :func:`conninfo`."""
        return {
            "statement_timeout": self.statement_timeout,
            "lock_timeout": self.lock_timeout,
            "connect_timeout": self.connect_timeout,
        }


def session_defaults(
    config: Mapping[str, Any] | None = None, *, path: str = "perfkit.toml"
) -> SessionDefaults:
    """Read ``statement_timeout``, ``lock_timeout`` and ``connect_timeout`` from ``[db]``.

    ```toml
    [db]
    statement_timeout = "30s"
    lock_timeout = "5s"
    connect_timeout = "5s"
    ```

    A bad value raises :class:`ConfigError` naming the section and key.
    """
    section = (config or {}).get("db", {})
    if not isinstance(section, Mapping):
        raise ConfigError(path, "must be a table", section="db")
    values: dict[str, Any] = {}
    for key in ("statement_timeout", "lock_timeout", "connect_timeout"):
        if key not in section:
            continue
        raw = section[key]
        try:
            seconds = parse_duration(raw)
        except ValueError as exc:
            raise ConfigError(path, str(exc), section="db", key=key) from None
        if key == "connect_timeout":
            if seconds <= 0:
                raise ConfigError(path, "must be more than 0", section="db", key=key)
            values[key] = seconds
        else:
            values[key] = str(raw) if isinstance(raw, str) else f"{seconds}s"
    return SessionDefaults(**values)


def session_statements(
    *,
    read_only: bool = True,
    statement_timeout: str | float = DEFAULT_STATEMENT_TIMEOUT,
    lock_timeout: str | float = DEFAULT_LOCK_TIMEOUT,
) -> list[str]:
    """The SET statements equal to :func:`session_options`, for connections made with
    ``session_settings=False`` (PgBouncer rejects the ``options`` startup parameter)."""
    out = [
        f"SET statement_timeout = {parse_duration_ms(statement_timeout)}",
        f"SET lock_timeout = {parse_duration_ms(lock_timeout)}",
        "SET idle_in_transaction_session_timeout = "
        f"{parse_duration_ms(DEFAULT_IDLE_IN_TRANSACTION_TIMEOUT)}",
    ]
    out.append(f"SET default_transaction_read_only = {'on' if read_only else 'off'}")
    return out


def apply_session_settings(
    conn: psycopg.Connection[Any],
    *,
    read_only: bool = True,
    statement_timeout: str | float = DEFAULT_STATEMENT_TIMEOUT,
    lock_timeout: str | float = DEFAULT_LOCK_TIMEOUT,
) -> None:
    """SET perfkit's session settings on an open connection (autocommit or not)."""
    for stmt in session_statements(
        read_only=read_only, statement_timeout=statement_timeout, lock_timeout=lock_timeout
    ):
        conn.execute(stmt.encode())  # built from integers only
    if not conn.autocommit:
        conn.commit()
