"""systemd journal exported as JSON (``journalctl -u postgresql -o json``): one object
per line, the line PostgreSQL wrote in ``MESSAGE`` (``journalctl`` short output is read as
syslog). Fields documented in systemd.journal-fields(7). The journal also stores each
line of a multi-line message as its own entry, so the lines are read as stderr lines.
"""

from __future__ import annotations

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
        return (msg,) if isinstance(msg, str) else ()
