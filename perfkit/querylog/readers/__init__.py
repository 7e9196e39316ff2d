"""Log readers: every supported input format -> one stream of :class:`LogEvent`.

Contract (shared with the consumers in ``perfkit.querylog``)::

    stream = read_logs(paths, log_format=None, prefix=None, strict=False, progress=None)
    for event in stream: ...          # once; streams, memory does not grow with input
    stream.files / skipped_lines / skipped_samples / warnings / has_timeline / truncated
    stream.records_read               # usable records so far (see below)

Decisions worth knowing (details in the modules):

* Formats are detected per file from its first lines when ``read_logs`` is called, by
  the registry :mod:`perfkit.querylog.readers.formats` (one module per format), so a
  file matching no format, a log perfkit refuses by name (pgBouncer, MySQL...), or a
  ``--prefix`` matching nothing, raises :class:`~perfkit.errors.InputError` *before*
  any event is read; ``files`` and ``has_timeline`` are complete from the start.
* Nothing usable is an error: an input that is not empty but gave no usable record
  when its reader ends raises :class:`~perfkit.errors.InputError` naming the file, the
  format and the first bad line (:func:`nothing_usable`). "Usable" is
  ``stream.records_read``: the reader adds the statement events it yields; code that
  takes other messages from the readers (an events collector: checkpoints, locks,
  connections...) adds one per message it keeps, so an input holding only those is
  not an error.
* Limits (:mod:`perfkit.querylog.readers.limits`): a line over 10 MB is an error with
  its byte position (memory stays bounded on any input, compressed or not); a
  negative, NaN or infinite duration is an error with its line; an empty statement
  (blanks and ``;``) is never an event.
* A compressed input that ends early sets ``truncated`` and raises
  :class:`~perfkit.errors.TruncatedInput` when the reader reaches the cut (after the
  events before it have been yielded): a consumer that lets the error propagate never
  presents partial results as complete.
* Only executed statements are events. parse/bind/execute of one extended-protocol
  statement is one event (at execute; parse and bind durations are not added, as in
  pgBadger); ``statement:`` lines without a duration are linked to a later duration
  line of the same session; an ERROR's ``STATEMENT:`` is not an event. See
  :mod:`perfkit.querylog.readers._common`.
* ``strict=True`` turns the first unparseable line into an ``InputError``.
"""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from perfkit.errors import InputError, TruncatedInput, UsageError
from perfkit.querylog.model import LogEvent
from perfkit.querylog.readers._common import (
    FOREIGN_WARNING,
    ORDER_WARNING,
    SAMPLE_LIMIT,
    ChunkEdges,
    Context,
    parse_parameters,
)
from perfkit.querylog.readers._source import Source, peek_lines
from perfkit.querylog.readers.formats import NAMES, REGISTRY, Detected, Head, detect
from perfkit.querylog.readers.prefix import CANDIDATES, CompiledPrefix, compile_prefix
from perfkit.querylog.readers.sqlfile import split_sql
from perfkit.report.progress import ProgressSink

if TYPE_CHECKING:
    from perfkit.querylog.events import EventCollector

__all__ = [
    "CANDIDATES",
    "FOREIGN_WARNING",
    "FORMATS",
    "ORDER_WARNING",
    "SAMPLE_LIMIT",
    "ChunkEdges",
    "Context",
    "FileInfo",
    "LogStream",
    "Source",
    "compile_prefix",
    "parse_parameters",
    "read_logs",
    "split_sql",
]

#: every format --log-format takes (the registry, :mod:`perfkit.querylog.readers.formats`)
FORMATS = NAMES
_HEAD_LINES = 1000


@dataclass(frozen=True)
class FileInfo:
    path: str
    format: str  # one of FORMATS or "empty"
    prefix: str | None
    prefix_inferred: bool
    compression: str  # none | gzip | bz2 | zstd
    #: a wrapper format (cri, docker, cloudwatch, gcp, azure, heroku, journald): the
    #: format of the lines inside it (stderr, syslog, jsonlog, cnpg)
    inner: str | None = None


@dataclass(frozen=True)
class _Plan:
    info: FileInfo
    compiled: CompiledPrefix | None
    source: Source | None  # kept open only for stdin (cannot be read twice)
    head: list[str]
    detected: Detected | None = None  # None: an empty input


class LogStream:
    """The events of several inputs, in input order; iterable exactly once."""

    def __init__(
        self,
        paths: Sequence[str | Path],
        *,
        log_format: str | None = None,
        prefix: str | None = None,
        strict: bool = False,
        progress: ProgressSink | None = None,
    ) -> None:
        if log_format is not None and log_format not in FORMATS:
            raise UsageError(
                "--log-format", f"unknown format {log_format!r}; one of {', '.join(FORMATS)}"
            )
        if prefix is not None:
            try:
                compile_prefix(prefix)
            except ValueError as exc:
                raise UsageError("--prefix", str(exc)) from None
        if sum(1 for p in paths if str(p) == "-") > 1:
            raise UsageError("LOG", "stdin ('-') can be read only once")
        self.files: list[FileInfo] = []
        self.skipped_lines = 0
        self.skipped_samples: list[tuple[str, int, str]] = []
        self.warnings: list[str] = []
        self.has_timeline = True
        self.truncated = False
        #: usable records read so far: statement events, and the other messages an
        #: events collector takes (it adds them here). An input that is not empty and
        #: gives none is an error ("nothing usable was read"), see _read.
        self.records_read = 0
        self.event_sink: EventCollector | None = None  # analyze --events (readers/_common)
        self._strict = strict
        self._progress = progress
        self._used = False
        self._plans: list[_Plan] = []
        for p in paths:
            plan = _plan(p, log_format, prefix, self.warnings)
            self._plans.append(plan)
            self.files.append(plan.info)
            if plan.detected is not None and not REGISTRY[plan.detected.format].timeline:
                self.has_timeline = False

    def __iter__(self) -> Iterator[LogEvent]:
        if self._used:
            raise RuntimeError("a LogStream can be iterated only once")
        self._used = True
        return self._events()

    def _events(self) -> Iterator[LogEvent]:
        progress = self._progress
        sizes = [_size(p.info.path) for p in self._plans]
        if progress is not None:
            progress.start("Reading logs", total=float(sum(sizes)) or None, unit="bytes")
        try:
            done = 0.0
            for plan, size in zip(self._plans, sizes, strict=False):
                src = plan.source or Source(plan.info.path)
                ctx = _FileContext(self, plan.info.path, self._strict)
                try:
                    yield from _read(plan, src, ctx, progress, done)
                except TruncatedInput:
                    self.truncated = True
                    raise
                finally:
                    src.close()
                done += size
        finally:
            if progress is not None:
                progress.finish()

    def prefix_of(self, index: int) -> CompiledPrefix | None:
        """The ``log_line_prefix`` input ``index`` is read with (stderr logs; else None)."""
        return self._plans[index].compiled

    def events_of(self, index: int) -> Iterator[LogEvent]:
        """The events of input ``index`` alone, for a caller that takes the inputs one
        by one (warnings and skipped lines are recorded here as in a whole iteration)."""
        plan = self._plans[index]
        src = plan.source or Source(plan.info.path)
        ctx = _FileContext(self, plan.info.path, self._strict)
        try:
            yield from _read(plan, src, ctx, None, 0.0)
        except TruncatedInput:
            self.truncated = True
            raise
        finally:
            src.close()


def read_logs(
    paths: Sequence[str | Path],
    *,
    log_format: str | None = None,
    prefix: str | None = None,
    strict: bool = False,
    progress: ProgressSink | None = None,
) -> LogStream:
    """Open and detect ``paths`` (``-`` = stdin); iterate the result for the events."""
    return LogStream(paths, log_format=log_format, prefix=prefix, strict=strict, progress=progress)


# -- detection ------------------------------------------------------------------------
def _size(path: str) -> int:
    try:
        return Path(path).stat().st_size if path != "<stdin>" else 0
    except OSError:
        return 0


def _plan(path: str | Path, forced: str | None, prefix: str | None, warnings: list[str]) -> _Plan:
    src = Source(path)
    keep = src if str(path) == "-" else None
    try:
        head = peek_lines(src.text, _HEAD_LINES)
    finally:
        if keep is None:
            src.close()
    if head and head[0].startswith("\ufeff"):
        head[0] = head[0][1:]
    name = src.name
    h = Head(name, src.plain_name, tuple(head), prefix)
    if h.first is None:
        warnings.append(f"{name}: empty input")
        info = FileInfo(name, forced or "empty", None, False, src.compression)
        return _Plan(info, None, keep, head, None)
    det = detect(h, forced)
    warnings.extend(det.notes)
    inner = det.innermost
    if prefix is not None and det.prefix is None:
        warnings.append(f"{name}: --prefix is not used for a {det.format} input")
    info = FileInfo(
        name,
        det.format,
        det.prefix.prefix if det.prefix is not None else None,
        det.inferred,
        src.compression,
        inner.format if inner is not det else None,
    )
    return _Plan(info, det.prefix, keep, head, det)


class _FileContext(Context):
    """A :class:`Context` that remembers the first line it skipped (for the error of an
    input that gave nothing usable)."""

    def __init__(self, stream: LogStream, source: str, strict: bool) -> None:
        super().__init__(stream, source, strict)
        self.first_skipped: tuple[int, str, str] | None = None
        self.skipped = 0
        self.foreign_line: tuple[int, str] | None = None

    def foreign(self, line: int, what: str) -> None:
        if self.foreign_line is None:
            self.foreign_line = (line, what)
        super().foreign(line, what)

    def skip(self, line: int, text: str, why: str = "cannot parse line") -> None:
        if self.first_skipped is None:
            self.first_skipped = (line, text, why)
        self.skipped += 1
        super().skip(line, text, why)


def nothing_usable(
    info: FileInfo,
    head: list[str],
    skipped: int,
    first_skipped: tuple[int, str, str] | None,
    foreign: tuple[int, str] | None = None,
) -> InputError:
    """The error for an input that is not empty but gave no usable record; ``foreign``:
    the first server message in another language (its statements cannot be recognised)."""
    fmt = info.format + (f" ({info.inner} inside)" if info.inner else "")
    if info.prefix is not None:
        fmt += f" with log_line_prefix {info.prefix!r}"
    if foreign is not None:
        line, what = foreign
        return InputError(
            info.path,
            f"nothing usable was read as {fmt}: the server's messages are not in English "
            f"({what!r}), and statements in translated messages cannot be recognised",
            line=line,
            hint="set lc_messages = 'C' on the server (perfkit and pgBadger read English logs)",
        )
    if first_skipped is not None:
        line, text, why = first_skipped
        shown = text if len(text) <= 100 else text[:100] + "..."
        return InputError(
            info.path,
            f"nothing usable was read as {fmt}: {skipped} line(s) could not be read, "
            f"the first ({why}): {shown!r}",
            line=line,
            hint="check --log-format/--prefix, or run with --strict to stop at the first bad line",
        )
    first = next(((i, ln) for i, ln in enumerate(head, 1) if ln.strip()), (1, ""))
    shown = first[1].rstrip("\r\n")
    shown = shown if len(shown) <= 100 else shown[:100] + "..."
    found = _found(head)
    return InputError(
        info.path,
        f"nothing usable was read as {fmt}: its lines were recognised, but none is an "
        f"executed statement (no 'duration: ... statement:' or 'statement:' message)"
        + (f"; found instead, in the first {len(head)} lines: {found}" if found else "")
        + f"; first line: {shown!r}",
        line=first[0],
        hint="log statements with log_min_duration_statement = 0 (or log_statement = 'all')",
    )


# what a log without statements holds (for the error saying what was found instead)
_KINDS = (
    ("connection", ("connection received", "connection authorized", "disconnection")),
    ("checkpoint", ("checkpoint starting", "checkpoint complete", "restartpoint")),
    ("autovacuum", ("automatic vacuum", "automatic analyze", "automatic aggressive vacuum")),
    ("error", ("ERROR:", '"ERROR"', "FATAL:", '"FATAL"')),
    ("temporary file", ("temporary file",)),
    ("lock wait", ("still waiting for", "acquired ShareLock", "deadlock detected")),
    ("auto_explain plan", ("  plan:", "ms  plan:")),
    ("parse/bind", ("ms  parse ", "ms  bind ")),
)


def _found(head: list[str]) -> str:
    counts = []
    for kind, marks in _KINDS:
        n = sum(1 for ln in head if any(m in ln for m in marks))
        if n:
            counts.append(f"{n} {kind}")
    return ", ".join(counts)


def nothing_usable_in(stream: LogStream, index: int) -> InputError:
    """:func:`nothing_usable` for input ``index`` read in ranges (``analyze --jobs``)."""
    plan = stream._plans[index]
    path = plan.info.path
    sample = next(((ln, text) for p, ln, text in stream.skipped_samples if p == path), None)
    first = (sample[0], sample[1], "cannot parse line") if sample is not None else None
    return nothing_usable(plan.info, plan.head, stream.skipped_lines, first)


# -- reading --------------------------------------------------------------------------
def _raw_lines(plan: _Plan, src: Source) -> Iterable[str]:
    if plan.source is not None:
        return itertools.chain(plan.head, src.text)
    return src.text


class _Tracker:
    """Reports bytes read to the progress sink every few thousand lines."""

    def __init__(self, src: Source, progress: ProgressSink, base: float) -> None:
        self.src = src
        self.progress = progress
        self.base = base

    def wrap(self, lines: Iterable[str]) -> Iterator[str]:
        raw = self.src.raw
        update = self.progress.update
        base = self.base
        for i, line in enumerate(lines):
            if not i & 0x3FFF:
                with contextlib.suppress(OSError, ValueError):
                    update(completed=base + raw.tell())
            yield line


def _read(
    plan: _Plan, src: Source, ctx: _FileContext, progress: ProgressSink | None, done: float
) -> Iterator[LogEvent]:
    det = plan.detected
    if det is None:
        return
    lines = _raw_lines(plan, src)
    if progress is not None:
        lines = _Tracker(src, progress, done).wrap(lines)
    stream = ctx.stream
    before = stream.records_read
    sink = stream.event_sink
    seen = sink.seq if sink is not None else 0  # server events (analyze --events) count
    n = 0
    for ev in REGISTRY[det.format].read(lines, ctx, det):
        n += 1
        yield ev
    stream.records_read += n
    if sink is not None:
        stream.records_read += sink.seq - seen
    if stream.records_read == before:
        raise nothing_usable(plan.info, plan.head, ctx.skipped, ctx.first_skipped, ctx.foreign_line)


__all__ += ["CompiledPrefix", "nothing_usable", "nothing_usable_in"]
