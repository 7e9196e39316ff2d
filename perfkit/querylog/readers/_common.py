"""Pieces shared by the server-log readers (stderr, syslog, csvlog, jsonlog, CNPG).

:class:`Linker` turns PostgreSQL *messages* into statement events. It is where the
rules about what counts as one executed statement live:

* ``duration: X ms  statement: Q`` -> one simple-protocol event.
* ``duration: X ms  execute NAME: Q`` (+ ``DETAIL:  parameters: ...``) -> one
  extended-protocol event with the bound values. ``parse`` and ``bind`` messages of the
  same statement are *not* events and their durations are not added: pgBadger does the
  same (it reports them apart), so call counts and totals compare one to one. The
  ``duration`` of an extended event is the execute phase, as PostgreSQL measured it.
* ``statement: Q`` / ``execute NAME: Q`` without a duration (``log_statement = all``)
  -> an event with ``duration_ms=None``, unless the same session then logs the
  duration: a bare ``duration: X ms`` (``log_duration = on``) or ``duration: X ms
  statement: Q`` with the same text (``log_min_duration_statement`` as well) completes
  the pending event instead of adding a second one. Events stay in log order.
* An ``ERROR`` with its ``STATEMENT:`` line is not an executed statement (the
  statement failed; its text may be anything the client sent), so it yields nothing;
  nor do connection, checkpoint, autovacuum, ``plan:`` (auto_explain) or other messages.
"""

from __future__ import annotations

import datetime as dt
import re
from collections import deque
from typing import TYPE_CHECKING

from perfkit.errors import InputError
from perfkit.querylog.model import LogEvent
from perfkit.querylog.readers.limits import INF, empty_statement, impossible_duration

if TYPE_CHECKING:
    from perfkit.querylog.events import EventCollector
    from perfkit.querylog.readers import LogStream

SAMPLE_LIMIT = 50

# every severity PostgreSQL writes in English; anything else means lc_messages != C/en
SEVERITIES = frozenset(
    [
        "LOG",
        "ERROR",
        "WARNING",
        "FATAL",
        "PANIC",
        "DETAIL",
        "STATEMENT",
        "HINT",
        "CONTEXT",
        "NOTICE",
        "INFO",
        "DEBUG",
        "DEBUG1",
        "DEBUG2",
        "DEBUG3",
        "DEBUG4",
        "DEBUG5",
        "LOCATION",
        "QUERY",
    ]
)
STATEMENT_STARTS = ("duration: ", "statement: ", "execute ")
# a translated "duration: 1.5 ms" (Dauer, durée, duración, продолжительность, ...)
_FOREIGN_DURATION = re.compile(r"^[^\W\d_][^\W\d_ ]*(?: [^\W\d_]+)?: *\d+[.,]\d+ ms")

Meta = tuple[
    "dt.datetime | None",  # ts
    "str | None",  # session
    "int | None",  # pid
    "str | None",  # user
    "str | None",  # database
    "str | None",  # application
    "str | None",  # client
]


#: the kinds of the warnings a file gets once (:meth:`Context.warn_once`)
ORDER_WARNING = "order"
FOREIGN_WARNING = "foreign"


class Context:
    """Per-file bookkeeping shared by a reader and the :class:`LogStream`."""

    def __init__(self, stream: LogStream, source: str, strict: bool) -> None:
        self.stream = stream
        self.source = source
        self.strict = strict
        self._warned: set[str] = set()  # kinds of the once-per-file warnings given
        self._last_ts: dt.datetime | None = None
        # analyze --events: the messages that are not statements go there (else None)
        self.events: EventCollector | None = getattr(stream, "event_sink", None)

    def skip(self, line: int, text: str, why: str = "cannot parse line") -> None:
        if self.strict:
            raise InputError(self.source, f"{why} (--strict): {_clip(text)}", line=line)
        st = self.stream
        st.skipped_lines += 1
        if len(st.skipped_samples) < SAMPLE_LIMIT:
            st.skipped_samples.append((self.source, line, text[:500]))

    def warn(self, message: str, kind: str = "") -> None:
        """Record a warning. ``kind``: set for the once-per-file ones (:meth:`warn_once`)."""
        self.stream.warnings.append(message)

    def warn_once(self, kind: str, message: str) -> bool:
        """Record ``message`` unless this file already had a warning of ``kind``
        (:data:`ORDER_WARNING`, :data:`FOREIGN_WARNING`); True when it was recorded."""
        if kind in self._warned:
            return False
        self._warned.add(kind)
        self.warn(message, kind)
        return True

    @property
    def last_ts(self) -> dt.datetime | None:
        """The time of the last entry :meth:`check_order` saw (None: none yet)."""
        return self._last_ts

    def foreign(self, line: int, what: str) -> None:
        """A server message in another language: its statements cannot be recognised."""
        if self.events is not None:
            self.events.foreign = True
        if FOREIGN_WARNING not in self._warned:
            self.warn_once(
                FOREIGN_WARNING,
                f"{self.source}:{line}: non-English server messages ({_clip(what, 40)}); "
                "statements in translated messages are not counted. Set lc_messages = 'C' "
                "on the server to get logs perfkit (and pgBadger) can read",
            )

    def check_order(
        self, ts: dt.datetime | None, line: int, edges: ChunkEdges | None = None
    ) -> None:
        """``edges``: reading one range of a file, whose first time the parent checks
        against the previous range's last one."""
        if ts is None:
            return
        last = self._last_ts
        self._last_ts = ts
        if last is not None:
            if ts < last:
                self.disorder(last, ts, line)
        elif edges is not None:
            edges.first = (ts, line, len(self.stream.warnings))

    def disorder(self, last: dt.datetime, ts: dt.datetime, line: int) -> None:
        """``ts`` follows the later ``last``; sub-second jitter between sessions is normal."""
        if ORDER_WARNING not in self._warned and last - ts > dt.timedelta(seconds=1):
            self.warn_once(
                ORDER_WARNING,
                f"{self.source}:{line}: entries are not in time order ({ts.isoformat()} "
                f"after {last.isoformat()}); time-ordered results (timeline, cache replay) "
                "follow the order of the file",
            )


def _clip(text: str, n: int = 120) -> str:
    text = text.replace("\n", "\\n")
    return repr(text if len(text) <= n else text[:n] + "...")


_PARAM = re.compile(r"\$(\d+) = (?:'((?:[^']|'')*)'|(NULL))")
# the whole text must be such a list (a trailing "..." of truncated logs is tolerated)
_PARAM_LIST = re.compile(r"(?:\$\d+ = (?:'(?:[^']|'')*'|NULL)(?:, |$))+")


# the usual list ($1..$n in order, quoted values without '' escapes, no NULL): one
# split gives [before, n1, v1, between, n2, v2, ..., after], a third of the cost of
# validating and extracting separately, on every DETAIL line of extended-protocol logs
_SIMPLE_PARAM = re.compile(r"(?:^|, )\$(\d+) = '([^']*)'")
_ORDINALS = [str(i) for i in range(1, 101)]


def parse_parameters(text: str) -> tuple[str | None, ...] | None:
    """``$1 = 'a''b', $2 = NULL`` -> ``("a'b", None)``; ``None`` if not a parameter list.

    Values are in ``$n`` order; PostgreSQL truncates long values itself
    (``log_parameter_max_length``) and those are kept as logged.
    """
    if text[:1] == "$":
        parts = _SIMPLE_PARAM.split(text)
        n = len(parts) // 3
        if n and not any(parts[0::3]) and parts[1::3] == _ORDINALS[:n]:
            return tuple(parts[2::3])
    return _parse_parameters_general(text)


def _parse_parameters_general(text: str) -> tuple[str | None, ...] | None:
    if not _PARAM_LIST.match(text):
        return None
    found = _PARAM.findall(text)
    if all(n == str(i) for i, (n, _v, _z) in enumerate(found, 1)):  # the usual $1..$n
        return tuple(None if z else v.replace("''", "'") for _n, v, z in found)
    values = {int(n): None if z else v.replace("''", "'") for n, v, z in found}
    top = max(values)
    return tuple(values.get(i) for i in range(1, top + 1))


def format_parameters(values: tuple[str | None, ...]) -> str:
    """The inverse of :func:`parse_parameters`, as PostgreSQL writes it (for tests)."""
    parts = []
    for i, v in enumerate(values, 1):
        parts.append(f"${i} = NULL" if v is None else f"${i} = '" + v.replace("'", "''") + "'")
    return ", ".join(parts)


class ChunkEdges:
    """What a reader of one byte range of a log reports for joining it to its neighbours
    (parallel ``analyze``): the first timestamp it order-checked would have been compared
    with the previous range's last one, and statements still waiting for a duration
    (``log_statement`` linking) mean the split point was not safe."""

    __slots__ = ("check_tail", "first", "last", "pending", "unsure")

    def __init__(self, check_tail: bool) -> None:
        self.check_tail = check_tail  # another range follows: order-check the last message
        # (ts, line, number of warnings written before the check)
        self.first: tuple[dt.datetime, int, int] | None = None
        self.last: dt.datetime | None = None
        self.pending = False
        # the range held something malformed (csv): one pass might have cut it otherwise
        self.unsure = False


class Linker:
    """Links the messages of one input into statement events (see module docstring).

    ``handle`` appends finished events to ``out``; the reader yields and clears it.
    """

    QUEUE_LIMIT = 10_000

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.source = ctx.source
        self.out: list[LogEvent] = []
        # events waiting for a duration, per session; the queue keeps log order
        # read by the stderr reader's fast path (readers/stderr.py), written only here:
        # per session, the statement waiting for its duration; and the order they came in
        self.waiting: dict[str | None, list[object]] = {}
        self.queue: deque[list[object]] = deque()

    # -- output ordering -------------------------------------------------------------
    def _emit(self, ev: LogEvent) -> None:
        if self.queue:
            self.queue.append([ev, True])
            self._drain()
        else:
            self.out.append(ev)

    def _drain(self) -> None:
        q = self.queue
        while q and q[0][1]:
            ev = q.popleft()[0]
            self.out.append(ev)  # type: ignore[arg-type]
        if len(q) > self.QUEUE_LIMIT:
            # a session that never logs its duration must not hold everything back
            head = q[0]
            head[1] = True
            self.waiting.pop(head[0].session, None)  # type: ignore[attr-defined]
            self._drain()

    def _complete(self, session: str | None, duration: float | None) -> bool:
        entry = self.waiting.pop(session, None)
        if entry is None:
            return False
        if duration is not None:
            entry[0] = entry[0]._replace(duration_ms=duration)  # type: ignore[attr-defined]
        entry[1] = True
        self._drain()
        return True

    def has_pending(self) -> bool:
        """Statements still wait for a duration (or hold later events back)."""
        return bool(self.waiting or self.queue)

    def finish(self) -> None:
        for entry in self.queue:
            entry[1] = True
        self.waiting.clear()
        self._drain()

    def close(self, edges: ChunkEdges | None, last_ts: dt.datetime | None) -> list[LogEvent]:
        """The end of a reader's input: what ``edges`` reports about it (a range of a
        file), then every event still held back, in order."""
        if edges is not None:
            edges.last = last_ts
            edges.pending = self.has_pending()
        self.finish()
        rest = list(self.out)
        self.out.clear()
        return rest

    # -- messages ----------------------------------------------------------------------
    def handle(self, msg: str, detail: str | None, meta: Meta, line: int) -> LogEvent | None:
        """One LOG message (its text and DETAIL) of the session in ``meta``.

        Returns the event when it can go out at once; events that had to wait for
        earlier ones (``log_statement`` linking) are appended to ``out`` instead.
        """
        if msg.startswith("duration: "):
            i = msg.find(" ms", 10)
            if i < 0:
                return None
            try:
                duration = float(msg[10:i])
            except ValueError:
                self.ctx.skip(line, msg, "bad duration")
                return None
            if not 0.0 <= duration < INF:
                raise impossible_duration(self.source, line, msg[10:i], msg)
            j = i + 3
            if msg.startswith("  statement: ", j):
                query = msg[j + 13 :]
                if not query or empty_statement(query):
                    return None  # an empty query (connection probes): not a statement
                if self.waiting:
                    session = meta[1]
                    pending = self.waiting.get(session)
                    if pending is not None:
                        if pending[0].query == query:  # type: ignore[attr-defined]
                            self._complete(session, duration)
                            return None
                        self._complete(session, None)
                ev = make_event(meta, duration, query, self.source, line, None, "simple", None)
                if self.queue or self.out:
                    self._emit(ev)
                    return None
                return ev
            if msg.startswith("  execute ", j):
                name, equery = _split_named(msg[j + 10 :])
                if equery is None:
                    self.ctx.skip(line, msg, "bad execute message")
                    return None
                if empty_statement(equery):
                    return None  # e.g. JDBC's isValid(): an empty prepared statement
                if self.waiting:
                    session = meta[1]
                    pending = self.waiting.get(session)
                    if pending is not None:
                        if pending[0].query == equery:  # type: ignore[attr-defined]
                            self._complete(session, duration)
                            return None
                        self._complete(session, None)
                params = _params(detail)
                ev = make_event(meta, duration, equery, self.source, line, params, "extended", name)
                if self.queue or self.out:
                    self._emit(ev)
                    return None
                return ev
            if j >= len(msg) or msg[j:].isspace():
                # log_duration: belongs to the statement this session logged before
                if self.waiting:
                    self._complete(meta[1], duration)
                return None
            # parse/bind (counted at execute), plan: (auto_explain), fastpath calls
            return None
        if msg.startswith("statement: "):
            if empty_statement(msg[11:]):
                return None
            self._hold(make_event(meta, None, msg[11:], self.source, line, None, "simple", None))
            return None
        if msg.startswith("execute "):
            name, equery = _split_named(msg[8:])
            if equery is None:
                self.ctx.skip(line, msg, "bad execute message")
                return None
            if empty_statement(equery):
                return None
            ev = make_event(
                meta, None, equery, self.source, line, _params(detail), "extended", name
            )
            self._hold(ev)
        return None

    def check_foreign(self, msg: str, line: int) -> None:
        """Called for LOG messages that matched nothing: are they translated?"""
        if _FOREIGN_DURATION.match(msg):
            self.ctx.foreign(line, msg)

    def _hold(self, ev: LogEvent) -> None:
        session = ev.session
        if session in self.waiting:
            self._complete(session, None)
        entry: list[object] = [ev, False]
        self.waiting[session] = entry
        self.queue.append(entry)
        if len(self.queue) > self.QUEUE_LIMIT:
            self._drain()


def _split_named(text: str) -> tuple[str | None, str | None]:
    """``S_1: SELECT`` / ``fetch from S_1/C_2: SELECT`` -> (statement name, query)."""
    i = text.find(": ")
    if i < 0:
        return None, None
    name = text[:i]
    if name.startswith("fetch from "):
        name = name[11:]
    slash = name.find("/")
    if slash >= 0:
        name = name[:slash]
    return name, text[i + 2 :]


def _params(detail: str | None) -> tuple[str | None, ...] | None:
    # PostgreSQL 13+ writes "Parameters:", older servers "parameters:"
    if detail and detail[1:].startswith("arameters: ") and detail[0] in "pP":
        return parse_parameters(detail[12:])
    return None


_new = tuple.__new__


def make_event(
    meta: Meta,
    duration: float | None,
    query: str,
    source: str,
    line: int,
    params: tuple[str | None, ...] | None,
    protocol: str,
    name: str | None,
) -> LogEvent:
    # tuple.__new__ directly (as namedtuple's own _make does): half the cost of calling
    # LogEvent(...), on the hottest path of every reader
    return _new(
        LogEvent,
        (meta[0], duration, query, source, line, params, meta[1], meta[2], meta[3], meta[4],
         meta[5], meta[6], protocol, name, 1, None),
    )  # fmt: skip
