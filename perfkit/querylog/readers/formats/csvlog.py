"""csvlog, every layout: 22 columns (PostgreSQL 8.4), 23 (9.0-12), 24 (13), 26 (14+)."""

from __future__ import annotations

import csv
import itertools
import re
from collections.abc import Iterable, Iterator
from typing import ClassVar

from perfkit.querylog.model import LogEvent
from perfkit.querylog.readers._common import ChunkEdges, Context
from perfkit.querylog.readers.formats.base import Detected, Head, LogFormat
from perfkit.querylog.readers.prefix import CompiledPrefix
from perfkit.querylog.readers.structured import MIN_CSV_COLUMNS, read_csvlog

_CSV_TS = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d")
_START = re.compile(rb"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?:\.\d+)?(?: [^,\r\n]*)?,")


def first_csv_record(head: Head) -> list[str] | None:
    first = head.first
    if first is None or "," not in first[1]:
        return None
    try:
        return next(csv.reader(itertools.dropwhile(lambda ln: not ln.strip(), head.raw)))
    except (csv.Error, StopIteration):
        return None


class CsvlogFormat(LogFormat):
    name: ClassVar[str] = "csvlog"
    summary: ClassVar[str] = "PostgreSQL csvlog, 22 to 26 columns (8.4 to 17+)"
    order: ClassVar[int] = 30

    def detect(self, head: Head) -> Detected | None:
        rec = first_csv_record(head)
        if rec is not None and len(rec) >= MIN_CSV_COLUMNS and _CSV_TS.match(rec[0]):
            return Detected(self.name)
        return None

    def read(self, lines: Iterable[str], ctx: Context, det: Detected) -> Iterator[LogEvent]:
        return read_csvlog(lines, ctx)

    splittable: ClassVar[bool] = True

    def record_start(self, line: bytes, prefix: CompiledPrefix | None) -> bool:
        # a record starts with its timestamp field (the caller also checks that the line
        # is outside any quoted field: an even number of quotes before it)
        return _START.match(line) is not None

    def read_range(
        self,
        text: Iterable[str],
        ctx: Context,
        prefix: CompiledPrefix | None,
        edges: ChunkEdges,
        line0: int,
    ) -> Iterator[LogEvent]:
        return read_csvlog(text, ctx, edges, line0)
