"""PostgreSQL's stderr log (any ``log_line_prefix``) and the same lines wrapped by syslog
(rsyslog/syslog-ng files, ``journalctl`` short output: ``host postgres[pid]: [l-1] ...``).

Detection infers the prefix from the first lines themselves
(:func:`~perfkit.querylog.readers.prefix.infer_prefix`), or checks ``--prefix`` on them;
the reading is
:func:`~perfkit.querylog.readers.stderr.read_stderr`.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import ClassVar

from perfkit.errors import InputError
from perfkit.querylog.model import LogEvent
from perfkit.querylog.readers._common import ChunkEdges, Context
from perfkit.querylog.readers.formats.base import Detected, Head, LogFormat, Numbered, clip
from perfkit.querylog.readers.prefix import (
    CompiledPrefix,
    compile_prefix,
    fit_to_lines,
    infer_prefix,
)
from perfkit.querylog.readers.stderr import is_syslog, read_stderr, unwrap_syslog

#: severities of the lines PostgreSQL attaches to the message before them (DETAIL of a
#: statement, its CONTEXT...): a range never starts at one
ATTACHED = frozenset({"DETAIL", "HINT", "CONTEXT", "STATEMENT", "QUERY", "LOCATION"})


class _NullCtx:
    def skip(self, line: int, text: str, why: str = "") -> None:
        pass


def syslog_inner(line: str) -> str:
    out = list(unwrap_syslog([(1, line)], _NullCtx()))  # type: ignore[arg-type]
    return out[0][1] if out else line


def detect_text(head: Head, *, forced: bool) -> Detected | None:
    """stderr or syslog with a given or inferred prefix; ``forced``: raise instead of
    returning ``None`` when no prefix fits."""
    first = head.first
    if first is None:
        return None
    name = head.name
    stripped = list(head.lines)
    syslog = is_syslog(stripped[first[0] - 1])
    if syslog:
        stripped = [syslog_inner(ln) for ln in stripped]
    fmt = "syslog" if syslog else "stderr"
    prefix = head.prefix
    if prefix is not None:
        cp = compile_prefix(prefix, syslog=syslog)
        matched = sum(1 for ln in stripped if ln and not ln.startswith("\t") and cp.regex.match(ln))
        if not matched:
            raise InputError(
                name,
                f"log_line_prefix {prefix!r} matches none of the first {len(stripped)} lines "
                f"(expected the prefix, then e.g. 'LOG:  '): {clip(first[1])}",
                line=first[0],
                hint="check log_line_prefix in postgresql.conf (SHOW log_line_prefix)",
            )
        return Detected(fmt, fit_to_lines(cp, stripped), False)
    inf = infer_prefix(stripped, syslog=syslog)
    if inf is not None and inf.ok:
        cp = inf.prefix
        unknown = f"; not identified, ignored: {', '.join(inf.unknown)}" if inf.unknown else ""
        note = (
            f"{name}: log_line_prefix inferred as {cp.prefix!r} (matches {inf.matched} of "
            f"{inf.considered} first lines exactly{unknown}); pass --prefix to override"
        )
        return Detected(fmt, cp, True, notes=(note,))
    if inf is not None and inf.matched:
        # PostgreSQL messages, but no prefix fits enough of them: refuse, never guess
        raise InputError(
            name,
            f"log_line_prefix inferred as {inf.prefix.prefix!r} matches only {inf.matched} "
            f"of the first {inf.considered} lines: {clip(first[1])}",
            line=first[0],
            hint="pass --prefix '<your log_line_prefix>' (SHOW log_line_prefix on the server)",
        )
    if forced:
        raise InputError(
            name,
            f"no PostgreSQL message (a severity such as 'LOG:  ') in the first "
            f"{len(stripped)} lines: {clip(first[1])}",
            line=first[0],
            hint="pass --prefix '<your log_line_prefix>' (SHOW log_line_prefix on the server)",
        )
    return None


class StderrFormat(LogFormat):
    name: ClassVar[str] = "stderr"
    summary: ClassVar[str] = (
        "PostgreSQL stderr log, any log_line_prefix (AWS RDS/Aurora files, Debian, "
        "pgBadger's, ...); syslog-wrapped lines are detected as 'syslog'"
    )
    order: ClassVar[int] = 80
    wrappable: ClassVar[bool] = True

    def detect(self, head: Head) -> Detected | None:
        return detect_text(head, forced=False)

    def force(self, head: Head) -> Detected:
        det = detect_text(head, forced=True)
        assert det is not None
        return det

    def read(self, lines: Iterable[str], ctx: Context, det: Detected) -> Iterator[LogEvent]:
        if det.format == "syslog":
            return self.read_numbered(enumerate(lines, 1), ctx, det)
        assert det.prefix is not None
        return read_stderr(enumerate(lines, 1), ctx, det.prefix)

    splittable: ClassVar[bool] = True  # with a prefix (parallel.eligible checks)

    def record_start(self, line: bytes, prefix: CompiledPrefix | None) -> bool:
        # the prefix matches and the message is not one attached to the one before it
        assert prefix is not None
        text = line.decode("utf-8", "replace")
        m = prefix.regex.match(text) or (prefix.slow or prefix.regex).match(text)
        return m is not None and m.group("sev") not in ATTACHED

    def read_range(
        self,
        text: Iterable[str],
        ctx: Context,
        prefix: CompiledPrefix | None,
        edges: ChunkEdges,
        line0: int,
    ) -> Iterator[LogEvent]:
        assert prefix is not None
        return read_stderr(enumerate(text, line0), ctx, prefix, edges)

    def read_numbered(self, lines: Numbered, ctx: Context, det: Detected) -> Iterator[LogEvent]:
        assert det.prefix is not None
        if det.format == "syslog":
            lines = unwrap_syslog(((i, ln.rstrip("\r\n")) for i, ln in lines), ctx)
        return read_stderr(lines, ctx, det.prefix)


class SyslogFormat(StderrFormat):
    """Registered for its name (FileInfo.format, docs); detected by :class:`StderrFormat`."""

    name: ClassVar[str] = "syslog"
    splittable: ClassVar[bool] = False  # a report's chunks interleave with other sessions
    summary: ClassVar[str] = (
        "stderr lines wrapped by syslog (rsyslog, syslog-ng, journalctl short output)"
    )
    order: ClassVar[int] = 81

    def detect(self, head: Head) -> Detected | None:
        return None  # StderrFormat detects both

    def force(self, head: Head) -> Detected:
        det = detect_text(head, forced=True)
        assert det is not None
        return det
