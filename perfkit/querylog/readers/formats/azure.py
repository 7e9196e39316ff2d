"""Azure Database for PostgreSQL (flexible server; single server and Cosmos DB for
PostgreSQL too) diagnostic logs, category ``PostgreSQLLogs``: one JSON record per line
(a storage account blob) or ``{"records": [...]}`` (Event Hubs), with the PostgreSQL
line in ``properties.message`` (flexible server: the whole line with its prefix,
e.g. ``%m [%p] [user=%u,db=%d,app=%a] ``) and, on single server, the prefix apart in
``properties.prefix`` (``%t-%c-``); ``properties.detail`` holds the DETAIL line.
Record layout as in pganalyze collector's tests (input/system/azure/logs_test.go) and
Azure Monitor's resource log schema.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any, ClassVar

from perfkit.querylog.readers.formats.wrapped import JsonWrapper


class AzureFormat(JsonWrapper):
    name: ClassVar[str] = "azure"
    summary: ClassVar[str] = (
        "Azure Database for PostgreSQL diagnostic log JSON (category PostgreSQLLogs)"
    )
    order: ClassVar[int] = 13

    def record_ok(self, obj: dict[str, Any]) -> bool:
        props = obj.get("properties")
        return isinstance(props, dict) and "message" in props and "category" in obj

    def messages(self, obj: dict[str, Any]) -> Iterable[str]:
        if obj.get("category") not in (None, "PostgreSQLLogs"):
            return ()
        props = obj.get("properties")
        if not isinstance(props, dict):
            return ()
        msg = props.get("message")
        if not isinstance(msg, str):
            return ()
        prefix = props.get("prefix")
        level = props.get("errorLevel")
        # single server: the prefix and the severity are fields of their own
        line = f"{prefix}{level or 'LOG'}:  {msg}" if isinstance(prefix, str) and prefix else msg
        head = _prefix_of(line)
        if head is not None and "[unknown]" in head:
            # "[user=[unknown],db=[unknown],app=[unknown]]" (before authentication): the
            # same as empty fields, which the prefix's "[...]" can hold
            line = _UNKNOWN.sub(r"\1=", head) + line[len(head) :]
        out = [line]
        detail = props.get("detail")
        if isinstance(detail, str) and detail and "DETAIL:  " not in msg:
            head = _prefix_of(line)
            if head is not None:
                out.append(f"{head}DETAIL:  {detail}")
        return out


_UNKNOWN = re.compile(r"\b(user|db|app)=\[unknown\]")


def _prefix_of(line: str) -> str | None:
    """``<prefix>LOG:  msg`` -> ``<prefix>`` (to write the DETAIL line after it)."""
    for sev in ("LOG:  ", "ERROR:  ", "WARNING:  ", "FATAL:  ", "PANIC:  ", "NOTICE:  "):
        i = line.find(sev)
        if i >= 0:
            return line[:i]
    return None
