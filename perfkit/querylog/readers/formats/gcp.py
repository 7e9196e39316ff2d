"""Google Cloud SQL for PostgreSQL and AlloyDB logs from Cloud Logging: LogEntry JSON
(``gcloud logging read --format=json``, a console download, a Pub/Sub or GCS sink) with
``resource.type`` ``cloudsql_database`` / ``alloydb.googleapis.com/Instance``, ``timestamp``,
``severity`` and the PostgreSQL line in ``textPayload`` (Cloud SQL's prefix
``%m [%p]: [%l-1] db=%d,user=%u``) or a ``jsonPayload`` (its ``message`` a line, or a
jsonlog/CloudNativePG record, e.g. from a GKE pod). AlloyDB writes the source location
after the severity (``LOG: [postgres.c:1187] statement: ...``); it is dropped. Format
documented in the Cloud Logging API reference (LogEntry); AlloyDB samples as in IBM
Guardium's universal connector tests (alloydb ParserTest).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any, ClassVar

from perfkit.querylog.readers.formats.wrapped import JsonWrapper

# AlloyDB writes the source location after the severity: "LOG: [postgres.c:1187] statement:"
_LOCATION = re.compile(r"\b([A-Z]+[1-5]?):\s*\[[\w.-]+\.c:\d+\]\s*")


def _plain(text: str) -> str:
    if ".c:" in text:
        return _LOCATION.sub(r"\1:  ", text, count=1)
    return text


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
