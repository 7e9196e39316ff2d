"""systemd journal exported as JSON (``journalctl -u postgresql -o json``): one object
per line, the line PostgreSQL wrote in ``MESSAGE`` (``journalctl`` short output is read as
syslog). Fields documented in systemd.journal-fields(7). The journal also stores each
line of a multi-line message as its own entry, so the lines are read as stderr lines.
A server logging to syslog (``log_destination = syslog``) leaves ``[3-1] ...`` chunks in
``MESSAGE``: they are read as syslog lines, with the entry's time, identifier and pid.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from typing import Any, ClassVar

from perfkit.querylog.readers.formats.wrapped import JsonWrapper


class JournaldFormat(JsonWrapper):
    name: ClassVar[str] = "journald"
    summary: ClassVar[str] = "systemd journal as JSON (journalctl -o json), MESSAGE holds the line"
    order: ClassVar[int] = 7

    def record_ok(self, obj: dict[str, Any]) -> bool:
        return "MESSAGE" in obj and ("__REALTIME_TIMESTAMP" in obj or "_PID" in obj)

    def messages(self, obj: dict[str, Any]) -> Iterable[str]:
        msg = obj.get("MESSAGE")
        if isinstance(msg, list):  # non-UTF-8 text is exported as a list of bytes
            msg = bytes(b for b in msg if isinstance(b, int) and 0 <= b < 256).decode(
                "utf-8", "replace"
            )
        if not isinstance(msg, str):
            return ()
        if _CHUNK.match(msg):
            return (_as_syslog(obj, msg),)
        return (msg,)


_CHUNK = re.compile(r"^\[\d+-\d+\] ")


def _as_syslog(obj: dict[str, Any], msg: str) -> str:
    try:
        us = int(obj.get("__REALTIME_TIMESTAMP") or 0)
        stamp = dt.datetime.fromtimestamp(us / 1e6, dt.timezone.utc).isoformat(
            timespec="milliseconds"
        )
    except (TypeError, ValueError, OverflowError, OSError):
        stamp = "1970-01-01T00:00:00.000+00:00"
    ident = str(obj.get("SYSLOG_IDENTIFIER") or "postgres").replace(" ", "_")
    pid = str(obj.get("SYSLOG_PID") or obj.get("_PID") or "0")
    host = str(obj.get("_HOSTNAME") or "localhost").replace(" ", "_")
    return f"{stamp} {host} {ident}[{pid}]: {msg}"
