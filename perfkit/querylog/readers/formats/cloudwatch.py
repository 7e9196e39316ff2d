"""AWS RDS / Aurora PostgreSQL logs exported from CloudWatch Logs: the JSON of
``aws logs filter-log-events`` / ``get-log-events`` (``{"events": [{"timestamp",
"message", "logStreamName", "ingestionTime", "eventId"}, ...]}``, pretty-printed or not),
the same events one per line, a subscription's decoded payload (``{"logGroup", "logEvents":
[{"id", "timestamp", "message"}]}``) or the Logs Insights / console export
(``@timestamp``/``@message``). Each ``message`` is a line of the RDS stderr log, with
RDS's ``log_line_prefix`` ``%t:%r:%u@%d:[%p]:`` (or the instance's own). Format
documented in the CloudWatch Logs API reference (FilteredLogEvent, OutputLogEvent). The
text exports (to S3, ``aws logs tail``) are :mod:`.timestamped`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, ClassVar

from perfkit.querylog.readers.formats.wrapped import JsonWrapper


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
