"""The one record type every log reader yields and every consumer reads.

Readers (``perfkit.querylog.readers``) turn any supported log format into a stream of
:class:`LogEvent`; ``analyze``, ``suggest-indexes`` and ``replay`` consume that stream.
"""

from __future__ import annotations

import datetime as dt
from typing import Literal, NamedTuple

Protocol = Literal["simple", "extended", "file", "stats"]


class LogEvent(NamedTuple):
    """One executed statement (a named tuple: readers build hundreds of thousands per
    second, and a tuple is built several times faster than a frozen dataclass).

    * ``duration_ms`` is ``None`` when the log recorded the statement without a duration
      (``log_statement = all``). For ``protocol == "stats"`` rows (pg_stat_statements
      exports) it is the *total* time of ``calls`` executions and ``ts`` is ``None``.
    * ``query`` is the statement text; for the extended protocol it is the prepared
      statement's text and ``params`` holds the bound values (``None`` for SQL NULL).
    * ``session`` identifies the client session (csv/json ``session_id``, or the pid
      for stderr logs): statements of one session are in order.
    * ``source``/``line`` locate the event's first line in its input, for messages.
    """

    ts: dt.datetime | None
    duration_ms: float | None
    query: str
    source: str
    line: int
    params: tuple[str | None, ...] | None = None
    session: str | None = None
    pid: int | None = None
    user: str | None = None
    database: str | None = None
    application: str | None = None
    client: str | None = None
    protocol: Protocol = "simple"
    statement_name: str | None = None
    calls: int = 1
    rows: int | None = None
