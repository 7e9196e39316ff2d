"""PostgreSQL's own jsonlog (``log_destination = jsonlog``, PostgreSQL 15+)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import ClassVar

from perfkit.querylog.model import LogEvent
from perfkit.querylog.readers._common import ChunkEdges, Context
from perfkit.querylog.readers.formats.base import Detected, Head, LogFormat, Numbered
from perfkit.querylog.readers.prefix import CompiledPrefix
from perfkit.querylog.readers.structured import read_json_records


class JsonRecordsFormat(LogFormat):
    """One JSON record per line read by
    :func:`~perfkit.querylog.readers.structured.read_json_records`; ``envelope``: each
    PostgreSQL record is inside a CloudNativePG envelope."""

    envelope: ClassVar[bool] = False
    wrappable: ClassVar[bool] = True
    splittable: ClassVar[bool] = True

    def read_numbered(self, lines: Numbered, ctx: Context, det: Detected) -> Iterator[LogEvent]:
        return read_json_records(lines, ctx, envelope=self.envelope)

    def record_start(self, line: bytes, prefix: CompiledPrefix | None) -> bool:
        return True  # one record per line

    def read_range(
        self,
        text: Iterable[str],
        ctx: Context,
        prefix: CompiledPrefix | None,
        edges: ChunkEdges,
        line0: int,
    ) -> Iterator[LogEvent]:
        numbered = ((i, line.rstrip("\r\n")) for i, line in enumerate(text, line0))
        return read_json_records(numbered, ctx, envelope=self.envelope, edges=edges)


class JsonlogFormat(JsonRecordsFormat):
    name: ClassVar[str] = "jsonlog"
    summary: ClassVar[str] = "PostgreSQL jsonlog (15+), one JSON record per line"
    order: ClassVar[int] = 20

    def detect(self, head: Head) -> Detected | None:
        obj = head.first_object
        if obj is not None and "error_severity" in obj and "message" in obj:
            return Detected(self.name)
        return None
