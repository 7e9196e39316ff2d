"""pg_stat_statements exports: CSV with a header, or JSON (array or lines)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import ClassVar

from perfkit.querylog.model import LogEvent
from perfkit.querylog.readers._common import Context
from perfkit.querylog.readers.appfiles import is_pgss_header, read_pgss_csv, read_pgss_json
from perfkit.querylog.readers.formats.base import Detected, Head, LogFormat, Numbered
from perfkit.querylog.readers.formats.csvlog import first_csv_record


class PgssCsvFormat(LogFormat):
    name: ClassVar[str] = "pgss-csv"
    summary: ClassVar[str] = "pg_stat_statements as CSV with a header (query, calls, ...)"
    order: ClassVar[int] = 31
    timeline: ClassVar[bool] = False

    def detect(self, head: Head) -> Detected | None:
        rec = first_csv_record(head)
        if rec is not None and is_pgss_header(rec):
            return Detected(self.name)
        return None

    def read(self, lines: Iterable[str], ctx: Context, det: Detected) -> Iterator[LogEvent]:
        return read_pgss_csv(lines, ctx)


class PgssJsonFormat(LogFormat):
    name: ClassVar[str] = "pgss-json"
    summary: ClassVar[str] = "pg_stat_statements as JSON (an array, or one object per line)"
    order: ClassVar[int] = 25
    timeline: ClassVar[bool] = False

    def detect(self, head: Head) -> Detected | None:
        first = head.first
        if first is None:
            return None
        text = first[1].strip()
        obj = head.first_object
        if obj is not None and "query" in obj and "calls" in obj:
            return Detected(self.name)
        # a JSON array of objects, not an INI/TOML "[section]"
        array = text in ("[", "[]") or (text[:1] == "[" and text[1:].lstrip()[:1] == "{")
        if array and (obj is None or "query" in obj):
            return Detected(self.name)
        return None

    def read_numbered(self, lines: Numbered, ctx: Context, det: Detected) -> Iterator[LogEvent]:
        return read_pgss_json(lines, ctx)
