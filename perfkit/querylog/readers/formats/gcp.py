"""Google Cloud SQL for PostgreSQL and AlloyDB logs from Cloud Logging: LogEntry JSON
(``gcloud logging read --format=json``, a console download, a Pub/Sub or GCS sink) with
``resource.type`` ``cloudsql_database`` / ``alloydb.googleapis.com/Instance``, ``timestamp``,
``severity`` and the PostgreSQL line in ``textPayload`` (Cloud SQL's prefix
``%m [%p]: [%l-1] db=%d,user=%u``) or a ``jsonPayload`` (its ``message`` a line, or a
jsonlog/CloudNativePG record, e.g. from a GKE pod). AlloyDB writes the source location
after the severity (``LOG: [postgres.c:1187] statement: ...``); it is dropped. Format
documented in the Cloud Logging API reference (LogEntry); AlloyDB samples as in IBM
Guardium's universal connector tests (alloydb ParserTest). ``gcloud logging read`` lists
the newest entry first; such an export is read oldest first.
"""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Iterable, Iterator
from typing import Any, ClassVar

from perfkit.errors import InputError
from perfkit.querylog.readers._common import Context
from perfkit.querylog.readers.formats.wrapped import JsonWrapper
from perfkit.querylog.readers.limits import MAX_RECORD_BYTES

#: a newest-first export is read in time order, held in memory up to this size
MAX_REVERSED_BYTES = 64 * MAX_RECORD_BYTES

# AlloyDB writes the source location after the severity: "LOG: [postgres.c:1187] statement:"
_LOCATION = re.compile(r"\b([A-Z]+[1-5]?):\s*\[[\w.-]+\.c:\d+\]\s*")


def _plain(text: str) -> str:
    if ".c:" in text:
        return _LOCATION.sub(r"\1:  ", text, count=1)
    return text


def _size(obj: Any) -> int:
    """About what one held entry costs (its text and the rest of the record)."""
    text = obj.get("textPayload") if isinstance(obj, dict) else None
    return 200 + (len(text) if isinstance(text, str) else 0)


class GcpFormat(JsonWrapper):
    name: ClassVar[str] = "gcp"
    summary: ClassVar[str] = (
        "Google Cloud SQL / AlloyDB log from Cloud Logging (LogEntry JSON, "
        "textPayload or jsonPayload)"
    )
    order: ClassVar[int] = 12

    def record_ok(self, obj: dict[str, Any]) -> bool:
        if "textPayload" not in obj and "jsonPayload" not in obj and "protoPayload" not in obj:
            return False  # (audit entries, protoPayload, are among them in an export)
        return "logName" in obj or "resource" in obj or "insertId" in obj

    def records(self, items: Iterator[tuple[int, Any]], ctx: Context) -> Iterable[tuple[int, Any]]:
        """``gcloud logging read`` writes the newest entry first: such an export is read
        oldest first, as PostgreSQL wrote it (a statement's DETAIL line is its own entry
        and must follow it), up to MAX_REVERSED_BYTES, else refused."""
        head = list(itertools.islice(items, 64))
        stamps = [
            o["timestamp"]
            for _n, o in head
            if isinstance(o, dict) and isinstance(o.get("timestamp"), str)
        ]
        pairs = list(itertools.pairwise(stamps))
        newer_first = sum(1 for a, b in pairs if a > b)
        if newer_first * 2 <= len(pairs) or newer_first == 0:
            return itertools.chain(head, items)
        held = head
        size = sum(_size(o) for _n, o in head)
        for item in items:
            held.append(item)
            size += _size(item[1])
            if size > MAX_REVERSED_BYTES:
                raise InputError(
                    ctx.source,
                    f"a newest-first Cloud Logging export over {MAX_REVERSED_BYTES >> 20} MB: "
                    "export it oldest first (gcloud logging read --order=asc)",
                    line=item[0],
                )
        held.reverse()
        return held

    def messages(self, obj: dict[str, Any]) -> Iterable[str]:
        text = obj.get("textPayload")
        if isinstance(text, str):
            return (_plain(text),)
        payload = obj.get("jsonPayload")
        if not isinstance(payload, dict):
            return ()
        if isinstance(payload.get("record"), dict) or "error_severity" in payload:
            return (json.dumps(payload),)  # a CloudNativePG or jsonlog record
        msg = payload.get("message") or payload.get("textPayload")
        return (_plain(msg),) if isinstance(msg, str) else ()
