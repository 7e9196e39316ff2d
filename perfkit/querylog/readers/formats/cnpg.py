"""CloudNativePG: each PostgreSQL record inside ``{"logger": "postgres", "record": {...}}``
(``kubectl logs`` of a CNPG pod), among the operator's own JSON messages."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import ClassVar

from perfkit.querylog.model import LogEvent
from perfkit.querylog.readers._common import ChunkEdges, Context
from perfkit.querylog.readers.formats.base import Detected, Head, LogFormat, Numbered
from perfkit.querylog.readers.prefix import CompiledPrefix
from perfkit.querylog.readers.structured import read_json_records


class CnpgFormat(LogFormat):
    name: ClassVar[str] = "cnpg"
    summary: ClassVar[str] = 'CloudNativePG pod log (JSON, PostgreSQL records under "record")'
    order: ClassVar[int] = 21
    wrappable: ClassVar[bool] = True

    def detect(self, head: Head) -> Detected | None:
        objs = [o for o in head.objects if isinstance(o, dict)]
        if not objs or not all("record" in o or "logger" in o or "level" in o for o in objs):
            return None
        if any(isinstance(o.get("record"), dict) for o in objs):
            return Detected(self.name)
        return None

    def read_numbered(self, lines: Numbered, ctx: Context, det: Detected) -> Iterator[LogEvent]:
        return read_json_records(lines, ctx, envelope=True)

    splittable: ClassVar[bool] = True

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
        return read_json_records(numbered, ctx, envelope=True, edges=edges)
