"""Timed connections and exact latency statistics.

psycopg does not say how long the socket took versus the startup/authentication
exchange, so :func:`timed_connect` drives libpq's non-blocking connect itself
(``PQconnectStart``/``PQconnectPoll``, as psycopg's own generator does) and notes
when the status leaves ``CONNECTION_STARTED``: that is the moment the TCP (or
Unix-socket) connect completed. Everything after it - TLS negotiation, the startup
packet, authentication, the server forking a backend and sending its parameters -
is the startup time.
"""

from __future__ import annotations

import math
import selectors
import time
from array import array
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from psycopg import pq


class ConnectError(Exception):
    """A fresh connection failed; the message is libpq's."""


@dataclass(frozen=True)
class ConnectTiming:
    socket_s: float
    startup_s: float

    @property
    def total_s(self) -> float:
        return self.socket_s + self.startup_s


def timed_connect(conninfo: str, timeout: float) -> tuple[pq.abc.PGconn, ConnectTiming]:
    """Open a libpq connection and time its two phases; ``timeout`` bounds the whole."""
    from psycopg import pq

    started_status = pq.ConnStatus.STARTED
    t0 = time.perf_counter()
    deadline = t0 + timeout
    conn = pq.PGconn.connect_start(conninfo.encode())
    t_socket: float | None = None
    sel = selectors.DefaultSelector()
    try:
        while True:
            if conn.status == pq.ConnStatus.BAD:
                raise ConnectError(_message(conn))
            status = conn.connect_poll()
            if t_socket is None and conn.status != started_status:
                t_socket = time.perf_counter()
            if status == pq.PollingStatus.OK:
                break
            if status == pq.PollingStatus.FAILED:
                raise ConnectError(_message(conn))
            events = (
                selectors.EVENT_READ
                if status == pq.PollingStatus.READING
                else selectors.EVENT_WRITE
            )
            remaining = deadline - time.perf_counter()
            if remaining <= 0:
                raise ConnectError("connection timeout expired")
            sel.register(conn.socket, events)
            try:
                ready = sel.select(remaining)
            finally:
                sel.unregister(conn.socket)
            if not ready:
                raise ConnectError("connection timeout expired")
    except BaseException:
        conn.finish()
        raise
    finally:
        sel.close()
    t1 = time.perf_counter()
    if t_socket is None:
        t_socket = t1
    return conn, ConnectTiming(socket_s=t_socket - t0, startup_s=t1 - t_socket)


def _message(conn: Any) -> str:
    raw = conn.error_message
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
    lines = [ln.strip() for ln in text.strip().splitlines() if ln.strip()]
    return lines[0] if lines else "connection failed"


_OK_STATUSES: frozenset[int] = frozenset()


def execute(conn: pq.abc.PGconn, sql: bytes) -> None:
    """Run one statement with the simple query protocol (as pgbench does by default).

    Raises the psycopg exception for the server's error. This is the benchmark's hot
    loop: the common case is one C call and a set lookup.
    """
    global _OK_STATUSES
    res = conn.exec_(sql)
    if res.status in _OK_STATUSES:
        return
    from psycopg import errors, pq

    if not _OK_STATUSES:
        _OK_STATUSES = frozenset(
            (pq.ExecStatus.COMMAND_OK, pq.ExecStatus.TUPLES_OK, pq.ExecStatus.EMPTY_QUERY)
        )
        if res.status in _OK_STATUSES:
            return
    if res.status in (pq.ExecStatus.COPY_IN, pq.ExecStatus.COPY_OUT):
        raise errors.ProgrammingError("COPY is not supported in a benchmark workload")
    raise errors.error_from_result(res, encoding="utf-8")


# --- statistics ------------------------------------------------------------------


@dataclass(frozen=True)
class Summary:
    """Exact order statistics of a set of samples, in milliseconds."""

    count: int
    mean_ms: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    max_ms: float

    def to_json(self) -> dict[str, float | int]:
        return {
            "count": self.count,
            "mean_ms": self.mean_ms,
            "p50_ms": self.p50_ms,
            "p95_ms": self.p95_ms,
            "p99_ms": self.p99_ms,
            "max_ms": self.max_ms,
        }


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """Linear-interpolated percentile (numpy's default) of already sorted values."""
    if not sorted_values:
        return math.nan
    pos = (len(sorted_values) - 1) * q
    lo = math.floor(pos)
    hi = min(lo + 1, len(sorted_values) - 1)
    frac = pos - lo
    return sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * frac


def summarize(samples_s: Sequence[float] | array[float]) -> Summary | None:
    """Summary of samples given in seconds; ``None`` when there are none."""
    if not samples_s:
        return None
    values = sorted(samples_s)
    n = len(values)
    return Summary(
        count=n,
        mean_ms=math.fsum(values) / n * 1000,
        p50_ms=percentile(values, 0.50) * 1000,
        p95_ms=percentile(values, 0.95) * 1000,
        p99_ms=percentile(values, 0.99) * 1000,
        max_ms=values[-1] * 1000,
    )
