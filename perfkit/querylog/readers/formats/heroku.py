"""Heroku Postgres logs through Logplex: ``heroku logs`` output
(``2023-06-05T19:33:14+00:00 app[postgres.1105947]: [YELLOW] [12-1]  sql_error_code =
00000 ... LOG:  duration: ...``) or an HTTPS log drain's frames (``451 <134>1
2023-06-05T19:33:14+00:00 host app postgres.1105947 - [YELLOW] [12-1]  ...``). The
``[12-1]`` numbers are PostgreSQL's syslog sequence and part numbers (continuation
lines are ``[12-2]``...), so the lines are read as syslog, with Heroku's
``log_line_prefix`` (``sql_error_code = %e`` and, on current plans, ``time_ms``,
``pid``, ``session_id``, ``database``, ``user``, ``application_name``...). Samples:
pganalyze collector's input/system/heroku tests.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import ClassVar

from perfkit.errors import InputError
from perfkit.querylog.readers._common import Context
from perfkit.querylog.readers.formats.base import Detected, Head, Numbered
from perfkit.querylog.readers.formats.wrapped import Wrapper
from perfkit.querylog.readers.prefix import compile_prefix, infer_prefix

_CLI = re.compile(
    r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:?\d\d)) \S*\[postgres\.(\d+)\]: "
    r"(?:\[[A-Z0-9_]+\] )?(.*)$"
)
_DRAIN = re.compile(
    r"^(?:\d+ )?<\d+>1 (\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:?\d\d)) \S+ \S+ "
    r"postgres\.(\d+) - (?:\[[A-Z0-9_]+\] )?(.*)$"
)
_OTHER = re.compile(r"^(?:\d+ )?<\d+>1 \S+ \S+ \S+ \S+ - |^\d{4}-\d\d-\d\dT\S+ \S+\[[^\]]+\]: ")

#: Heroku's log_line_prefix, current and older plans (after the syslog "[n-m] ")
PREFIXES = (
    'sql_error_code = %e time_ms = "%m" pid="%p" proc_start_time="%s" session_id="%c" '
    'vtid="%v" tid="%x" log_line="%l" database="%d" connection_source="%r" user="%u" '
    'application_name="%a" ',
    'sql_error_code = %e time_ms = "%m" pid="%p" proc_start_time="%s" session_id="%c" '
    'vtid="%v" tid="%x" log_line="%l" database="%d" connection_source="%r" user="%u" ',
    "sql_error_code = %e ",
)
# the first chunk of a report: Heroku writes one space more than syslog after "[n-1]"
_FIRST_CHUNK = re.compile(r"^(\[\d+-1\]) +")


class HerokuFormat(Wrapper):
    name: ClassVar[str] = "heroku"
    summary: ClassVar[str] = "Heroku Postgres log (heroku logs output or a Logplex drain)"
    order: ClassVar[int] = 8

    def looks(self, head: Head) -> bool:
        lines = [ln for ln in head.lines if ln.strip()][:50]
        ours = sum(1 for ln in lines if _CLI.match(ln) or _DRAIN.match(ln))
        return ours > 0 and sum(1 for ln in lines if _OTHER.match(ln)) * 2 > len(lines)

    def force(self, head: Head) -> Detected:
        return self.inner_detect(head)

    def inner_detect(self, head: Head) -> Detected:
        inner = [ln for _n, ln in self.unwrap(head.numbered(), _quiet())]
        texts = [ln.split("\x1f", 1)[-1] for ln in inner]
        if head.prefix is not None:
            cp = compile_prefix(head.prefix.lstrip(), syslog=True)
            return Detected(self.name, cp, False, inner=Detected("stderr", cp, False))
        best = None
        best_n = 0
        for p in PREFIXES:
            cp = compile_prefix(p, syslog=True)
            n = sum(1 for ln in inner if cp.regex.match(ln))
            if n > best_n:
                best, best_n = cp, n
        if best is None:
            inf = infer_prefix(inner, syslog=True)
            if inf is None or not inf.ok:
                raise InputError(
                    head.name,
                    "Heroku log lines, but no log_line_prefix fits their PostgreSQL lines",
                    hint="pass --prefix '<log_line_prefix>'",
                )
            best, best_n = inf.prefix, inf.matched
        note = (
            f"{head.name}: Heroku log_line_prefix {best.prefix.strip()!r} (matches {best_n} "
            f"of {len(texts)} first PostgreSQL lines); pass --prefix to override"
        )
        det = Detected("stderr", best, True)
        return Detected(self.name, best, True, inner=det, notes=(note,))

    def unwrap(self, lines: Numbered, ctx: Context) -> Iterator[tuple[int, str]]:
        """Heroku lines -> syslog lines ``<time> heroku postgres[N]: [l-m] text``, then
        what :func:`~perfkit.querylog.readers.stderr.unwrap_syslog` makes of them."""
        from perfkit.querylog.readers.stderr import unwrap_syslog

        return unwrap_syslog(self._as_syslog(lines), ctx)

    @staticmethod
    def _as_syslog(lines: Numbered) -> Iterator[tuple[int, str]]:
        cli = _CLI.match
        drain = _DRAIN.match
        for lineno, line in lines:
            m = cli(line) or drain(line)
            if m is None:
                continue  # the app's own lines, router lines, heroku-postgres metrics
            ts, n, rest = m.groups()
            if rest[:1] == "[":
                rest = _FIRST_CHUNK.sub(r"\1 ", rest, count=1)
            yield lineno, f"{ts} heroku postgres[{n}]: {rest}"


def _quiet() -> Context:
    from perfkit.querylog.readers.formats.wrapped import QuietCtx

    return QuietCtx()  # type: ignore[return-value]
