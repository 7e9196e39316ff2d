"""Syslog in the RFC 5424 layout (rsyslog's ``RSYSLOG_SyslogProtocol23Format``,
syslog-ng's ``syslog-protocol``, a log server's archive): ``<134>1 2024-03-05T09:00:00.123Z
host postgres 4101 - - [3-1] LOG:  ...`` (an octet count may come first). Each line is
turned into the classic form (``<time> host postgres[4101]: [3-1] ...``) and read as
syslog. Layout as in RFC 5424 section 6.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import ClassVar

from perfkit.errors import InputError
from perfkit.querylog.readers._common import Context
from perfkit.querylog.readers.formats.base import Detected, Head, Numbered
from perfkit.querylog.readers.formats.wrapped import Wrapper

# PRI VERSION TIMESTAMP HOSTNAME APP-NAME PROCID MSGID STRUCTURED-DATA MSG
_LINE = re.compile(
    r"^(?:\d+ )?<\d{1,3}>1 (\S+) (\S+) (\S+) (\d+) \S+ (?:-|(?:\[(?:[^\]\\]|\\.)*\])+) ?(.*)$"
)


class Rfc5424Format(Wrapper):
    name: ClassVar[str] = "rfc5424"
    summary: ClassVar[str] = (
        "syslog in the RFC 5424 layout ('<134>1 <time> host postgres 4101 - - ...')"
    )
    order: ClassVar[int] = 9  # after heroku: its drains are RFC 5424 too
    inner_formats: ClassVar[tuple[str, ...] | None] = ("stderr",)  # which detects syslog

    def looks(self, head: Head) -> bool:
        lines = [ln for ln in head.lines if ln.strip()][:50]
        return bool(lines) and sum(1 for ln in lines if _LINE.match(ln)) * 2 > len(lines)

    def detect(self, head: Head) -> Detected | None:
        if not self.looks(head):
            return None
        try:
            return self.inner_detect(head)
        except InputError:
            return None

    def unwrap(self, lines: Numbered, ctx: Context) -> Iterator[tuple[int, str]]:
        match = _LINE.match
        for lineno, line in lines:
            m = match(line)
            if m is None:
                if line.strip():
                    ctx.skip(lineno, line, "not an RFC 5424 syslog line")
                continue
            stamp, host, app, pid, msg = m.groups()
            if msg.startswith("\ufeff"):  # RFC 5424's BOM before a UTF-8 MSG
                msg = msg[1:]
            yield lineno, f"{stamp} {host} {app}[{pid}]: {msg}"
