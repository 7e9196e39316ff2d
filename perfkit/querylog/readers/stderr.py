"""PostgreSQL stderr logs (any ``log_line_prefix``) and syslog-wrapped ones.

One regex match per line at most: continuation lines (a tab after a newline, which
PostgreSQL inserts into multi-line messages) are recognised by their first character,
and a message is only turned into an event when it is complete (its continuation lines
and ``DETAIL`` have been seen), because the statement text and the bound parameters
can span lines.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Iterator

from perfkit.querylog.model import LogEvent
from perfkit.querylog.readers._common import (
    SEVERITIES,
    STATEMENT_STARTS,
    ChunkEdges,
    Context,
    Linker,
    Meta,
    make_event,
)
from perfkit.querylog.readers._time import TimestampParser
from perfkit.querylog.readers.limits import BLANK_START, INF, empty_statement
from perfkit.querylog.readers.prefix import CompiledPrefix

# lines attached to the message before them; only DETAIL matters (bound parameters)
_NOT_EVENTS = ("parse ", "bind ", "plan:")
_ATTACHED = frozenset({"DETAIL", "HINT", "CONTEXT", "STATEMENT", "QUERY", "LOCATION"})


def read_stderr(
    lines: Iterable[tuple[int, str]],
    ctx: Context,
    prefix: CompiledPrefix,
    edges: ChunkEdges | None = None,
) -> Iterator[LogEvent]:
    """Events from numbered lines of a stderr log (line ends may still be there)."""
    match = prefix.regex.match
    slow_match = (prefix.slow or prefix.regex).match
    meta_of = prefix.meta_getter(TimestampParser(ctx.warn))
    linker = Linker(ctx)
    out = linker.out
    handle = linker.handle
    waiting = linker.waiting  # the linker's state, read by the fast path below
    queue = linker.queue
    source = ctx.source
    severities = SEVERITIES
    attached = _ATTACHED
    starts = STATEMENT_STARTS
    # analyze --events: the other messages, with their lines, go to the collector
    held = ctx.events.stderr_buffer(source) if ctx.events is not None else None
    held_open = False  # a message is in ``held`` (locals: the statement path tests bools)

    # the open statement message: its match, text, first line, continuation parts, detail
    cur: re.Match[str] | None = None
    cur_msg = ""
    cur_line = 0
    cur_ms = -1  # where " ms  " is in a "duration: " message, else -1
    cur_parts: list[str] = []
    detail: list[str] | None = None
    # "<prefix of the last message>DETAIL:  " while its DETAIL line may be next
    detail_head: str | None = None
    detail_head_ = ""
    target: list[str] | None = None  # where continuation lines go (None: dropped)
    prev_ts: dt.datetime | None = None
    started = False  # continuation lines before the first message are garbage

    for lineno, line in lines:
        if line[:1] == "\t":
            if target is not None:
                target.append(line[1:].rstrip("\r\n"))
            elif not started and line.strip():
                ctx.skip(lineno, line.rstrip("\r\n"))
            continue
        if detail_head is not None and line.startswith(detail_head):
            # the DETAIL line of the message just read: PostgreSQL writes it with the
            # same prefix (one timestamp per message), so no regex is needed
            detail_head = None
            if cur is not None:
                detail = [line[len(detail_head_) :].rstrip("\r\n")]
                target = detail
            else:
                target = None
            continue
        detail_head = None
        m = match(line) or slow_match(line)
        if m is None:
            if line[:1] == " " and line.strip() and started:
                # a continuation line whose tab became spaces (copied, or re-shipped by a
                # log collector): still part of the message before it
                if target is not None:
                    target.append(line.rstrip("\r\n").lstrip(" "))
            elif line.strip():
                ctx.skip(lineno, line.rstrip("\r\n"))
            continue
        started = True
        sev, msg = m.group("sev", "msg")
        if sev in attached:
            if sev == "DETAIL" and cur is not None:
                detail = [msg.rstrip("\r")]
                target = detail
            elif held_open:
                target = held.attach(sev, msg)  # type: ignore[union-attr]
            else:
                target = None
            continue
        if cur is not None:
            # the previous statement is complete: turn it into an event
            if cur_parts:
                cur_msg = "\n".join([cur_msg, *cur_parts])
            meta: Meta = meta_of(cur)  # type: ignore[assignment]
            ts = meta[0]
            if ts is not None:
                if prev_ts is not None:
                    if ts < prev_ts:
                        ctx.disorder(prev_ts, ts, cur_line)
                elif edges is not None:
                    edges.first = (ts, cur_line, len(ctx.stream.warnings))
                prev_ts = ts
            ev = None
            if (
                cur_ms > 0
                and not waiting
                and not queue
                and cur_msg.startswith("statement: ", cur_ms + 5)
            ):
                # Linker.handle's most common case, inlined (one call less per statement
                # of a log_min_duration_statement log): nothing waits for a duration
                query = cur_msg[cur_ms + 16 :]
                try:
                    duration = float(cur_msg[10:cur_ms])
                except ValueError:
                    pass
                else:
                    # an impossible duration goes to Linker.handle, which refuses it
                    if 0.0 <= duration < INF:
                        if query and (query[0] not in BLANK_START or not empty_statement(query)):
                            yield make_event(
                                meta, duration, query, source, cur_line, None, "simple", None
                            )
                        cur_ms = -2  # done (an empty statement is no event)
            if cur_ms != -2:
                ev = handle(
                    cur_msg, "\n".join(detail) if detail is not None else None, meta, cur_line
                )
                if ev is not None:
                    yield ev
                elif out:
                    yield from out
                    out.clear()
            cur = None
            detail = None
        elif held_open:  # (never open while a statement is)
            held.flush(meta_of)  # type: ignore[union-attr]
            held_open = False
        target = None
        if sev == "LOG":
            if msg.startswith(starts):
                cur_ms = -1
                if msg[0] == "d":
                    # parse/bind durations and plans are never events: skip them early
                    cur_ms = msg.find(" ms  ", 10)
                    if cur_ms > 0 and msg.startswith(_NOT_EVENTS, cur_ms + 5):
                        if msg[cur_ms + 5] == "b":  # bind: its DETAIL (parameters) follows
                            detail_head = detail_head_ = line[: m.start("sev")] + "DETAIL:  "
                        elif held is not None and msg[cur_ms + 6] == "l":  # plan:
                            target = held.start(m, sev, msg, lineno)
                            held_open = True
                        continue
                if cur_ms < 0 or not msg.startswith("statement: ", cur_ms + 5):
                    detail_head = detail_head_ = line[: m.start("sev")] + "DETAIL:  "
                cur = m
                cur_msg = msg.rstrip("\r")
                cur_line = lineno
                cur_parts = []
                target = cur_parts
            else:
                linker.check_foreign(msg, lineno)
                if held is not None:
                    target = held.start(m, sev, msg, lineno)
                    held_open = True
        elif sev not in severities:
            # a translated severity (FEHLER, ERREUR, ОШИБКА); a lower-case word is no
            # severity at all (a line some other program wrote)
            if not any(ch.islower() for ch in sev):
                ctx.foreign(lineno, f"severity {sev!r}")
        elif held is not None:
            target = held.start(m, sev, msg, lineno)
            held_open = True
    if cur is not None:
        if cur_parts:
            cur_msg = "\n".join([cur_msg, *cur_parts])
        meta = meta_of(cur)  # type: ignore[assignment]
        if edges is not None and edges.check_tail:
            # a whole log checks this message when the next range's first line arrives
            ts = meta[0]
            if ts is not None:
                if prev_ts is not None:
                    if ts < prev_ts:
                        ctx.disorder(prev_ts, ts, cur_line)
                else:
                    edges.first = (ts, cur_line, len(ctx.stream.warnings))
                prev_ts = ts
        ev = handle(
            cur_msg,
            "\n".join(detail) if detail is not None else None,
            meta,
            cur_line,
        )
        if ev is not None:
            yield ev
    if held_open:
        held.flush(meta_of)  # type: ignore[union-attr]
    yield from linker.close(edges, prev_ts)


_SYSLOG = re.compile(
    r"^([A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d|\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:?\d\d)?)"
    r" \S+ [^\s\[]+\[(\d+)\]: (?:\[(\d+)-(\d+)\] ?)?(.*)$"
)


# a chunk that starts a message line: "<prefix>DETAIL:  " etc. (else it continues a line)
_NEW_MESSAGE = re.compile(
    r"(?:^|[\s:\]])(?:LOG|ERROR|WARNING|FATAL|PANIC|DETAIL|STATEMENT|HINT|CONTEXT|NOTICE|INFO"
    r"|DEBUG[1-5]?|LOCATION|QUERY):  "
)


def is_syslog(line: str) -> bool:
    return _SYSLOG.match(line) is not None


class _Report:
    """The chunks of one syslog report (one pid, one sequence number) seen so far."""

    __slots__ = ("done", "held", "held_no", "last", "seq")

    def __init__(self, seq: str | None, lineno: int) -> None:
        self.seq = seq
        self.done: list[tuple[int, str]] = []
        self.held: list[str] | None = None
        self.held_no = 0
        self.last = lineno

    def lines(self) -> list[tuple[int, str]]:
        if self.held is not None:
            self.done.append((self.held_no, "".join(self.held)))
            self.held = None
        return self.done


# chunks of concurrent sessions interleave in syslog; a report is complete when its
# session starts the next one or after this many lines of other sessions
_REPORT_WINDOW = 200


def unwrap_syslog(lines: Iterable[tuple[int, str]], ctx: Context) -> Iterator[tuple[int, str]]:
    """Syslog lines -> the stderr lines PostgreSQL wrote, as ``<pid> <time>\x1f<line>``.

    PostgreSQL splits a report at newlines and at ~900 bytes into ``[seq-part]``
    chunks. A chunk starting with ``#011`` (an escaped tab) follows a newline inside the
    message; one carrying a severity (``DETAIL:  ``) is the next line of the report; any
    other chunk continues the previous line. ``#011`` becomes a tab again. Chunks of
    other sessions can come in between (each chunk is its own syslog call), so chunks
    are gathered per pid and a report's lines are handed on together.
    """
    match = _SYSLOG.match
    reports: dict[str, _Report] = {}  # by pid, least recently active first
    for lineno, line in lines:
        m = match(line)
        if m is None:
            if line.strip():
                ctx.skip(lineno, line, "not a syslog line")
            continue
        stamp, pid, seq, part, text = m.groups()
        rep = reports.pop(pid, None)
        if rep is not None and (seq != rep.seq or part is None or part == "1"):
            yield from rep.lines()
            rep = None
        if rep is None:
            rep = _Report(seq, lineno)
        reports[pid] = rep
        rep.last = lineno
        if "#011" in text:
            text = text.replace("#011", "\t")
        if text[:1] == "\t":
            if rep.held is not None:
                rep.done.append((rep.held_no, "".join(rep.held)))
            rep.held = [text]
            rep.held_no = lineno
        elif part is None or part == "1" or _NEW_MESSAGE.search(text):
            # part 1, or a later line of the same report (DETAIL, STATEMENT...) that
            # PostgreSQL wrote with its own prefix
            if rep.held is not None:
                rep.done.append((rep.held_no, "".join(rep.held)))
            rep.held = [pid, " ", stamp, "\x1f", text]
            rep.held_no = lineno
        elif rep.held is not None:
            rep.held.append(text)
        # hand on reports whose session has been quiet for a while
        while reports:
            oldest = next(iter(reports))
            if reports[oldest].last > lineno - _REPORT_WINDOW:
                break
            yield from reports.pop(oldest).lines()
    for rep in reports.values():
        yield from rep.lines()
