"""A plain ``.sql`` file (statements split as psql does; no durations)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import ClassVar

from perfkit.querylog.model import LogEvent
from perfkit.querylog.readers._common import Context
from perfkit.querylog.readers.formats.base import Detected, Head, LogFormat
from perfkit.querylog.readers.sqlfile import looks_like_sql, read_sql


class SqlFormat(LogFormat):
    name: ClassVar[str] = "sql"
    summary: ClassVar[str] = "a .sql file (statements without durations)"
    order: ClassVar[int] = 90  # after every log: a log line is never taken for SQL

    def detect(self, head: Head) -> Detected | None:
        if head.plain_name.endswith(".sql") or looks_like_sql(head.raw):
            return Detected(self.name)
        return None

    def read(self, lines: Iterable[str], ctx: Context, det: Detected) -> Iterator[LogEvent]:
        return read_sql(lines, ctx.source)
