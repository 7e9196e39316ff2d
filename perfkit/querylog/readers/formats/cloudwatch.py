"""AWS RDS / Aurora PostgreSQL logs exported from CloudWatch Logs: the JSON of
``aws logs filter-log-events`` / ``get-log-events`` (``{"events": [{"timestamp",
"message", "logStreamName", "ingestionTime", "eventId"}, ...]}``, pretty-printed or not),
the same events one per line, a subscription's decoded payload (``{"logGroup", "logEvents":
[{"id", "timestamp", "message"}]}``) or the Logs Insights / console export
(``@timestamp``/``@message``), or an export to S3 (``<time> <message>`` lines:
``2024-03-05T09:00:00.000Z 2024-03-05 09:00:00 UTC:...:LOG:  ...``, as the CloudWatch Logs
user guide describes exported data) and ``aws logs tail`` output (the same with the log
stream's name after the time). Each ``message`` is a line of the RDS stderr log, with
RDS's ``log_line_prefix`` ``%t:%r:%u@%d:[%p]:`` (or the instance's own). Format
documented in the CloudWatch Logs API reference (FilteredLogEvent, OutputLogEvent).
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable, Iterator
from typing import Any, ClassVar

from perfkit.errors import InputError
from perfkit.querylog.readers._common import Context
from perfkit.querylog.readers.formats.base import Detected, Head, Numbered
from perfkit.querylog.readers.formats.wrapped import DATED, JsonWrapper

# an S3 export line: the event's time, a space, the message; `aws logs tail` puts the log
# stream's name in between (the RDS message itself starts with its date)
_S3 = re.compile(
    r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:\d\d) (?:(?!\d{4}-)\S+ )?(.*)$"
)


class CloudwatchFormat(JsonWrapper):
    name: ClassVar[str] = "cloudwatch"
    summary: ClassVar[str] = (
        "AWS RDS/Aurora log exported from CloudWatch Logs (aws logs filter-log-events JSON)"
    )
    order: ClassVar[int] = 11

    def record_ok(self, obj: dict[str, Any]) -> bool:
        if isinstance(obj.get("message"), str):
            # epoch milliseconds; a subscription's logEvents carry "id" instead of "eventId"
            ts = obj.get("timestamp")
            return (isinstance(ts, int) and not isinstance(ts, bool)) or (
                "timestamp" in obj
                and ("logStreamName" in obj or "ingestionTime" in obj or "eventId" in obj)
            )
        return isinstance(obj.get("@message"), str)

    def messages(self, obj: dict[str, Any]) -> Iterable[str]:
        msg = obj.get("message")
        if not isinstance(msg, str):
            msg = obj.get("@message")
        return (msg,) if isinstance(msg, str) else ()

    # -- the S3 export (text) ---------------------------------------------------------------
    def looks(self, head: Head) -> bool:
        if head.objects:
            return super().looks(head)
        lines = [ln for ln in head.lines if ln.strip()][:50]
        return bool(lines) and sum(1 for ln in lines if _S3.match(ln)) * 2 > len(lines)

    def detect(self, head: Head) -> Detected | None:
        if not self.looks(head):
            return None
        if head.objects:
            return self._inner(head)
        try:  # "<ISO time> <text>" is common: only PostgreSQL lines inside make it ours
            return self._inner(head)
        except InputError:
            return None

    def unwrap(self, lines: Numbered, ctx: Context) -> Iterator[tuple[int, str]]:
        it = iter(lines)
        first = None
        for first in it:
            if first[1].strip():
                break
        if first is None:
            return iter(())
        rest = itertools.chain((first,), it)
        if first[1].lstrip()[:1] in ("{", "["):
            return super().unwrap(rest, ctx)
        return self._s3(rest)

    @staticmethod
    def _s3(lines: Numbered) -> Iterator[tuple[int, str]]:
        match = _S3.match
        for lineno, line in lines:
            m = match(line)
            if m is not None:
                yield lineno, m.group(1)
            else:  # a line without the time continues the message before (a newline in it)
                kept = line[:1] == "\t" or DATED.match(line) is not None
                yield lineno, line if kept else "\t" + line
