"""Application JSON Lines: ``{"ts", "duration_ms", "query", "params"?}`` per line."""

from __future__ import annotations

from collections.abc import Iterator
from typing import ClassVar

from perfkit.querylog.model import LogEvent
from perfkit.querylog.readers._common import Context
from perfkit.querylog.readers.appfiles import read_jsonl
from perfkit.querylog.readers.formats.base import Detected, Head, LogFormat, Numbered


class JsonlFormat(LogFormat):
    name: ClassVar[str] = "jsonl"
    summary: ClassVar[str] = 'application JSON Lines ({"ts", "duration_ms", "query"})'
    order: ClassVar[int] = 26

    def detect(self, head: Head) -> Detected | None:
        first = head.first
        obj = head.first_object
        if first is None or not first[1].lstrip().startswith("{") or obj is None:
            return None
        if "query" in obj and "calls" not in obj:
            return Detected(self.name)
        return None

    def read_numbered(self, lines: Numbered, ctx: Context, det: Detected) -> Iterator[LogEvent]:
        return read_jsonl(lines, ctx)
