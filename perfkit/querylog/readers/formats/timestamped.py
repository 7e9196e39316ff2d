"""PostgreSQL's lines with a collector's time in front: a CloudWatch Logs export to S3
(``2024-03-05T09:00:00.000Z 2024-03-05 09:00:00 UTC:...:LOG:  ...``, as the CloudWatch
Logs user guide describes exported data), ``aws logs tail`` (the log stream's name after
the time) and ``kubectl logs --timestamps`` (RFC 3339 nanoseconds). The time is dropped
(PostgreSQL's own prefix has one); a line without it continues the message before.
Recognised only when the lines behind the time are PostgreSQL's: ``<ISO time> <text>``
is common in other logs.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import ClassVar

from perfkit.errors import InputError
from perfkit.querylog.readers._common import Context
from perfkit.querylog.readers.formats.base import Detected, Head, Numbered
from perfkit.querylog.readers.formats.wrapped import DATED, Wrapper

# the time, a space, then the line; `aws logs tail` puts the stream's name in between
# (PostgreSQL's line itself starts with its date, or with no word and a space)
_LINE = re.compile(
    r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:\d\d) (?:(?!\d{4}-)\S+ )?(.*)$"
)


class TimestampedFormat(Wrapper):
    name: ClassVar[str] = "timestamped"
    summary: ClassVar[str] = (
        "lines with a collector's time in front (CloudWatch export to S3, aws logs tail, "
        "kubectl logs --timestamps)"
    )
    order: ClassVar[int] = 14

    def looks(self, head: Head) -> bool:
        lines = [ln for ln in head.lines if ln.strip()][:50]
        return bool(lines) and sum(1 for ln in lines if _LINE.match(ln)) * 2 > len(lines)

    def detect(self, head: Head) -> Detected | None:
        if not self.looks(head):
            return None
        try:  # only PostgreSQL lines inside make it ours
            return self.inner_detect(head)
        except InputError:
            return None

    def unwrap(self, lines: Numbered, ctx: Context) -> Iterator[tuple[int, str]]:
        match = _LINE.match
        for lineno, line in lines:
            m = match(line)
            if m is not None:
                yield lineno, m.group(1)
            elif line.strip():  # continues the message before (a newline in it)
                kept = line[:1] == "\t" or DATED.match(line) is not None
                yield lineno, line if kept else "\t" + line
