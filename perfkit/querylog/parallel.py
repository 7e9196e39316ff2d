"""Parallel ``analyze`` of large stderr, jsonlog, CloudNativePG or csvlog logs: byte
ranges read by worker processes (a compressed log is decompressed by the parent, which
writes each range to a file in ``/dev/shm`` for a worker). Several inputs are taken one
after the other into one accumulator; :func:`run` reads one of them.

The file is cut into ranges at lines that start a new log entry (stderr: the prefix
matches and the message is not one of the lines attached to the previous message:
``DETAIL``, ``STATEMENT``, ...; never a tab continuation line; JSON: any line, one record
each; csvlog: a line starting with a timestamp field, outside any quoted field - an even
number of quotes before it, csv doubles quotes inside fields), so every message is read
whole by one worker. A csvlog range holding a malformed record sends the file back to
one pass, where the csv module may have read it differently. Each worker (a forked
process) runs the format's reader on its range, then fingerprints and counts per
fingerprint (calls, first/last seen, names, example), keeps its slow-query candidates,
and turns every event into a compact record ``(ts, fingerprint id, cache key hash,
duration, session)``.

The parent classifies each new fingerprint (sqlglot; workers never load it), merges
ranges strictly in file order and replays the records in order, so
everything order-dependent is computed exactly as in one pass: duration digests and
float totals (additions happen in the same order), the timeline, the cache replay
(through the same reorder buffer), "first seen" values, the first N names, the slowest
statements (ties broken by global position), skipped-line samples and once-per-file
warnings (the time-order check across a cut is done by the parent). At most
``4 x jobs`` ranges are in flight, so memory stays flat whatever the log's size; parts
come back through files in ``/dev/shm`` (through the pool's pipe where there is none, or
less than 1 GiB free there). A worker that dies or sends nothing back for 5 minutes ends
the run with one error, never a hang.

What could differ from one pass is ``log_statement`` linking: a ``statement:`` line
waiting for its session's ``duration:`` line in a later range. A worker reports
statements still waiting at the end of its range; the parent then drops the parallel
run and reads the file in one pass (correct, just slower; logs with
``log_min_duration_statement`` alone never wait).

Only where ``fork`` exists (the workers inherit the parsed prefix).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import gc
import io
import math
import multiprocessing
import os
import pickle
import re
import shutil
import signal
import stat
import tempfile
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures import TimeoutError as FuturesTimeout
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from multiprocessing.process import BaseProcess
from typing import TYPE_CHECKING, Any, cast

from perfkit.errors import PerfkitError
from perfkit.querylog.accumulator import RangeTotals, RunAccumulator, consume_range
from perfkit.querylog.fingerprint import Fingerprinter
from perfkit.querylog.model import LogEvent
from perfkit.querylog.readers import (
    FOREIGN_WARNING,
    ORDER_WARNING,
    SAMPLE_LIMIT,
    ChunkEdges,
    Context,
)
from perfkit.querylog.readers.formats import REGISTRY
from perfkit.querylog.readers.limits import MAX_RECORD_BYTES
from perfkit.querylog.readers.prefix import CompiledPrefix

if TYPE_CHECKING:
    from perfkit.querylog.aggregate import AnalyzeOptions
    from perfkit.querylog.events import EventCollector
    from perfkit.querylog.readers import LogStream
    from perfkit.report.progress import ProgressSink

__all__ = ["CHUNK_ENV", "MIN_PARALLEL_BYTES", "NotSplittable", "default_jobs", "plan_chunks"]

#: Files smaller than this are read in one process (start-up would cost more).
MIN_PARALLEL_BYTES = 16 << 20
#: Internal knob (tests, benchmarks): range size in bytes; also lifts the size threshold.
CHUNK_ENV = "PERFKIT_ANALYZE_CHUNK_BYTES"
_MAX_CHUNK = 4 << 20
_MIN_CHUNK = 1 << 20
_ZONE = "zone"


class NotSplittable(Exception):
    """A cut fell between linked messages: the caller reads the file in one pass."""


def default_jobs() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def fork_available() -> bool:
    return "fork" in multiprocessing.get_all_start_methods()


#: Formats read in ranges: those of the registry that say where a record may start
#: (stderr, jsonlog and CloudNativePG - one record per line - and csvlog).
FORMATS = frozenset(name for name, f in REGISTRY.items() if f.splittable)


def eligible(stream: LogStream, jobs: int, index: int = 0) -> bool:
    """Input ``index`` is a regular file in one of :data:`FORMATS`, large enough (or the
    knob set), and no input is stdin (a run that must start over in one pass reads every
    input again)."""
    if jobs < 2 or not fork_available():
        return False
    if any(f.path == "<stdin>" for f in stream.files):
        return False
    info = stream.files[index]
    if info.format not in FORMATS or (info.format == "stderr" and info.prefix is None):
        return False
    compressed = info.compression != "none"
    if compressed and not os.path.isdir("/dev/shm"):
        return False  # decompressed ranges are handed to the workers in tmpfs files
    try:
        st = os.stat(info.path)
    except OSError:
        return False
    if not stat.S_ISREG(st.st_mode):
        return False
    # compressed logs shrink 5-15x: a 2 MB .gz holds more than 16 MB of log
    least = MIN_PARALLEL_BYTES // 8 if compressed else MIN_PARALLEL_BYTES
    return _chunk_env() is not None or st.st_size >= least


def _chunk_env() -> int | None:
    raw = os.environ.get(CHUNK_ENV)
    if not raw:
        return None
    try:
        return max(1, int(raw))
    except ValueError:
        return None


# -- cutting --------------------------------------------------------------------------
# a csvlog record starts with its timestamp field (the caller also checks that the line
# is outside any quoted field: an even number of quotes before it)
_CSV_START = re.compile(rb"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?:\.\d+)?(?: [^,\r\n]*)?,")


def _is_entry_start(line: bytes, fmt: str, prefix: CompiledPrefix | None) -> bool:
    """Whether a range may start at ``line``."""
    if not line or line[:1] in (b"\t", b"\n", b"\r"):
        return False
    if b"\r" in line.rstrip(b"\r\n"):
        return False  # a lone CR would split this line differently when read as text
    return REGISTRY[fmt].record_start(line, prefix)


def _count_lines(data: bytes) -> int:
    # as io.TextIOWrapper(newline="") splits: \n, \r\n and a lone \r end a line
    n = data.count(b"\n")
    cr = data.count(b"\r")
    if cr:
        n += cr - data.count(b"\r\n")
    return n


def plan_chunks(
    path: str,
    prefix: CompiledPrefix | None,
    jobs: int,
    chunk: int | None = None,
    fmt: str = "stderr",
) -> Iterator[tuple[int, int, int]]:
    """``(start, end, first line number)`` of each range, in file order (lazily)."""
    size = os.path.getsize(path)
    if chunk is None:
        chunk = _chunk_env()
    if chunk is None:
        chunk = min(_MAX_CHUNK, max(_MIN_CHUNK, math.ceil(size / (4 * jobs))))
    csv_log = fmt == "csvlog"
    with open(path, "rb") as f:
        start = 0
        line0 = 1
        quotes = 0  # '"' before start: csv quoting doubles quotes, so odd = inside a field
        while start < size:
            end = size
            target = start + chunk
            if target < size:
                f.seek(target)
                f.readline(MAX_RECORD_BYTES)  # to the next line start
                pos = f.tell()
                if csv_log:
                    f.seek(start)
                    q = quotes + f.read(pos - start).count(b'"')
                while pos < size:
                    if pos - target > MAX_RECORD_BYTES:
                        # no entry starts for 10 MB: one pass reads it (and refuses a
                        # line over the cap) with bounded memory
                        raise NotSplittable(path)
                    line = f.readline(MAX_RECORD_BYTES)
                    if _is_entry_start(line, fmt, prefix) and not (csv_log and q % 2):
                        end = pos
                        break
                    pos += len(line)
                    if csv_log:
                        q += line.count(b'"')
            f.seek(start)
            data = f.read(end - start)
            yield start, end, line0
            line0 += _count_lines(data)
            if csv_log:
                quotes += data.count(b'"')
            start = end


def _stream_chunks(
    path: str, prefix: CompiledPrefix | None, fmt: str, spill: str
) -> Iterator[tuple[int, int, int, str | None, int]]:
    """Ranges of a compressed log: the parent decompresses it and writes each range to a
    file in ``spill`` for a worker. ``(0, length, first line, file, compressed bytes
    read)``; raises :class:`NotSplittable` when the file cannot be read to its end (one
    pass then reports the damage as it always does)."""
    from perfkit.querylog.readers import Source

    chunk = _chunk_env() or _MAX_CHUNK
    csv_log = fmt == "csvlog"
    try:
        src = Source(path)
    except PerfkitError:
        raise NotSplittable(path) from None
    try:
        buf = src.text.buffer
        raw = src.raw
        line0 = 1
        k = 0
        quotes = 0
        carry = b""
        while True:
            try:
                data = carry + buf.read(chunk)
                if not data:
                    return
                data += buf.readline()  # to the next line start
                q = quotes + data.count(b'"') if csv_log else 0
                carry = b""
                while True:
                    line = buf.readline()
                    if not line:
                        break
                    if _is_entry_start(line, fmt, prefix) and not (csv_log and q % 2):
                        carry = line
                        break
                    data += line
                    if csv_log:
                        q += line.count(b'"')
            except (PerfkitError, OSError, EOFError) as exc:
                raise NotSplittable(path) from exc
            k += 1
            name = os.path.join(spill, f"range-{k}.log")
            try:
                with open(name, "wb") as f:
                    f.write(data)
            except OSError as exc:  # tmpfs full: one pass instead
                raise NotSplittable(path) from exc
            yield 0, len(data), line0, name, raw.tell()
            line0 += _count_lines(data)
            if csv_log:
                quotes += data.count(b'"')
            if not carry:
                return
    finally:
        src.close()


# -- workers --------------------------------------------------------------------------
@dataclass(frozen=True)
class _Job:
    path: str
    fmt: str
    prefix: CompiledPrefix | None  # stderr only
    strict: bool
    options: AnalyzeOptions
    spill: str | None  # directory for the workers' parts (None: through the pipe)


_JOB: _Job | None = None  # set in the parent before forking; workers inherit it
_FPR: Fingerprinter | None = None  # per worker process


class _ChunkStream:
    def __init__(self, event_sink: EventCollector | None = None) -> None:
        self.event_sink = event_sink  # read by the readers' Context (analyze --events)
        self.skipped_lines = 0
        self.skipped_samples: list[tuple[str, int, str]] = []
        self.warnings: list[tuple[str, str]] = []


class _ChunkContext(Context):
    """Tags the warnings that are written once per file, so the parent can dedupe."""

    def warn(self, message: str, kind: str = "") -> None:
        kind = kind or (_ZONE if message.startswith("unknown time zone") else "")
        cast(_ChunkStream, self.stream).warnings.append((kind, message))


@dataclass
class _Part:
    """A worker's range: its figures for the accumulator, and what the stream records
    (skipped lines, warnings tagged by kind) with the range's edges."""

    totals: RangeTotals
    skipped_lines: int
    skipped_samples: list[tuple[str, int, str]]
    warnings: list[tuple[str, str]]
    edges: ChunkEdges


@dataclass(frozen=True)
class _Spilled:
    """A worker's part, pickled to a file of the run's spill directory."""

    path: str

    def load(self) -> _Part:
        with open(self.path, "rb") as f:
            part: _Part = pickle.load(f)
        os.unlink(self.path)
        return part


@dataclass
class _Failure:
    error: type[PerfkitError]
    state: dict[str, Any]
    args: tuple[Any, ...]

    def rebuild(self) -> PerfkitError:
        # PerfkitError subclasses take keyword-only constructor arguments, which pickle
        # cannot replay: rebuild the same object from its state instead
        exc = self.error.__new__(self.error)
        exc.args = self.args
        exc.__dict__.update(self.state)
        return exc


def _init_worker() -> None:
    # Ctrl-C goes to the whole process group: the parent alone decides what to do
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _run_chunk(task: tuple[int, int, int, bool, str | None]) -> _Part | _Spilled | _Failure:
    start, end, line0, last, range_file = task
    job = _JOB
    assert job is not None
    gc.disable()
    try:
        if range_file is not None:  # a decompressed range written by the parent
            with open(range_file, "rb") as f:
                data = f.read()
            os.unlink(range_file)
        else:
            with open(job.path, "rb") as f:
                f.seek(start)
                data = f.read(end - start)
        text = io.TextIOWrapper(io.BytesIO(data), encoding="utf-8", errors="replace", newline="")
        sink = None
        if job.options.events:
            from perfkit.querylog.events import EventCollector

            # unbounded: the parent keeps the first groups in file order while merging
            sink = EventCollector(job.options.events, _fingerprinter(), cap=None)
        stream = _ChunkStream(sink)
        ctx = _ChunkContext(cast("LogStream", stream), job.path, job.strict)
        edges = ChunkEdges(check_tail=not last)
        events: Iterable[LogEvent] = REGISTRY[job.fmt].read_range(
            text, ctx, job.prefix, edges, line0
        )
        if sink is not None and sink.want_locks:
            events = sink.watch(events)  # lock waits: the blockers' statements
        part = _consume(events, job.options, stream, edges)
        part.totals.event_sink = sink
    except PerfkitError as exc:
        return _Failure(type(exc), dict(exc.__dict__), exc.args)
    if job.spill is None:
        return part
    # A part is about 1 MB pickled. Through the pool's pipe (64 kB at a time) the worker
    # waits for the parent's result thread, which competes for the GIL with the merge:
    # workers sat idle for 20-70 ms per range. A file in memory (tmpfs) is written at once.
    path = os.path.join(job.spill, f"{line0}.part")
    try:
        with open(path, "wb") as f:
            pickle.dump(part, f, protocol=pickle.HIGHEST_PROTOCOL)
    except OSError:  # tmpfs full (containers give /dev/shm 64 MB): the pipe then
        with contextlib.suppress(OSError):
            os.unlink(path)
        return part
    return _Spilled(path)


def _fingerprinter() -> Fingerprinter:
    """One fingerprinter per worker, kept across its ranges: a range must not pay again
    for parsing shapes the worker has seen (by_id keeps the first fingerprint of an id
    from an earlier range of this worker, which the parent's in-order merge has then
    already taken)."""
    global _FPR
    if _FPR is None:
        _FPR = Fingerprinter()
    return _FPR


def _consume(
    events: Iterable[LogEvent], opts: AnalyzeOptions, stream: _ChunkStream, edges: ChunkEdges
) -> _Part:
    totals = consume_range(events, opts, _fingerprinter())
    return _Part(totals, stream.skipped_lines, stream.skipped_samples, stream.warnings, edges)


# -- parent ---------------------------------------------------------------------------
class _Merger:
    """Folds the ranges' parts, in file order, into the parent's accumulator."""

    def __init__(self, acc: RunAccumulator, stream: LogStream, source: str, strict: bool) -> None:
        # warnings, skipped lines and samples go to the stream, as one pass records them
        self.acc = acc
        self.stream = stream
        self.warnings = stream.warnings
        self._ctx = Context(stream, source, strict)  # the file's once-only warnings
        self._zones: set[str] = set()
        self._last_ts: dt.datetime | None = None
        self.events = 0  # events merged (an input giving none is refused, as in one pass)

    def _warn(self, kind: str, text: str) -> None:
        if kind in (ORDER_WARNING, FOREIGN_WARNING):
            self._ctx.warn_once(kind, text)
            return
        if kind == _ZONE:
            if text in self._zones:
                return
            self._zones.add(text)
        self.warnings.append(text)

    def _boundary(self, edges: ChunkEdges) -> None:
        first = edges.first
        if first is not None and self._last_ts is not None and first[0] < self._last_ts:
            self._ctx.disorder(self._last_ts, first[0], first[1])

    def add(self, part: _Part) -> None:
        self.events += part.totals.events
        # warnings, with the order check across the cut where one pass would do it
        at = part.edges.first[2] if part.edges.first is not None else len(part.warnings)
        for i, (kind, text) in enumerate(part.warnings):
            if i == at:
                self._boundary(part.edges)
            self._warn(kind, text)
        if at >= len(part.warnings):
            self._boundary(part.edges)
        if part.edges.last is not None:
            self._last_ts = part.edges.last
        stream = self.stream
        stream.skipped_lines += part.skipped_lines
        room = SAMPLE_LIMIT - len(stream.skipped_samples)
        if room > 0:
            stream.skipped_samples.extend(part.skipped_samples[:room])
        self.acc.merge(part.totals)


#: free space ``/dev/shm`` must have for the parts to go through it
SPILL_MIN_FREE = 1 << 30


def _spill_dir() -> str | None:
    """A private directory in memory (``/dev/shm``) for the workers' parts, or None."""
    if not os.path.isdir("/dev/shm"):
        return None
    try:
        # tmpfs is memory: leave it to the pipe when little is free (a full /dev/shm
        # also starves PostgreSQL's shared memory on this machine)
        st = os.statvfs("/dev/shm")
        if st.f_bavail * st.f_frsize < SPILL_MIN_FREE:
            return None
        return tempfile.mkdtemp(prefix="perfkit-analyze-", dir="/dev/shm")
    except OSError:
        return None


#: a range is at most a few MB: a worker that sends nothing back for this long is stuck
STALL_SECONDS = 300.0
#: forking the workers and their first reply
START_SECONDS = 120.0


def _result(res: Future[Any]) -> Any:
    try:
        return res.result(timeout=STALL_SECONDS)
    except BrokenProcessPool:
        raise PerfkitError(
            "a worker process died unexpectedly (out of memory?); "
            "try --jobs 1 to read the log in one process"
        ) from None
    except FuturesTimeout:
        raise PerfkitError(
            f"a worker process sent nothing back in {STALL_SECONDS:.0f} s; "
            "try --jobs 1 to read the log in one process"
        ) from None


def _abandon(pool: ProcessPoolExecutor, workers: list[BaseProcess]) -> None:
    """Stop a pool after an error or Ctrl-C without waiting for its workers' ranges."""
    pool.shutdown(wait=False, cancel_futures=True)
    for p in workers:
        p.kill()
    for p in workers:
        p.join(5)


def run(
    acc: RunAccumulator,
    stream: LogStream,
    prefix: CompiledPrefix | None,
    *,
    jobs: int,
    strict: bool,
    progress: ProgressSink | None,
    index: int = 0,
) -> _Merger:
    """Read input ``index`` of ``stream`` in ranges with ``jobs`` workers into ``acc``.

    Raises :class:`NotSplittable` when the result could differ from one pass.
    """
    global _JOB
    info = stream.files[index]
    path = info.path
    size = os.path.getsize(path)
    fmt = info.format
    compressed = info.compression != "none"
    spill = _spill_dir()
    if compressed and spill is None:
        raise NotSplittable(path)
    _JOB = _Job(path, fmt, prefix, strict, acc.opts, spill)
    merger = _Merger(acc, stream, path, strict)
    seen0 = acc.events.seq if acc.events is not None else 0  # server events: usable too
    ctx = multiprocessing.get_context("fork")
    before = {p.pid for p in multiprocessing.active_children()}
    try:
        pool = ProcessPoolExecutor(jobs, mp_context=ctx, initializer=_init_worker)
        # the workers fork now, before a progress bar starts its refresh thread
        pool.submit(os.getpid).result(timeout=START_SECONDS)
    except BaseException:
        _JOB = None
        if spill is not None:
            shutil.rmtree(spill, ignore_errors=True)
        raise
    workers = [p for p in multiprocessing.active_children() if p.pid not in before]
    ok = False
    try:
        if progress is not None:
            progress.start("Reading logs", total=float(size) or None, unit="bytes")
        chunks: Iterator[tuple[int, int, int, str | None, int]]
        if compressed:
            assert spill is not None
            chunks = _stream_chunks(path, prefix, fmt, spill)
        else:
            chunks = ((s, e, n, None, e) for s, e, n in plan_chunks(path, prefix, jobs, fmt=fmt))
        # ranges handed out ahead of the merge: workers stay busy while the parent
        # replays a range, and at most this many parts (and decompressed ranges) wait
        window = (2 if compressed else 4) * jobs
        inflight: deque[tuple[Future[_Part | _Spilled | _Failure], int]] = deque()
        nxt = next(chunks, None)

        def fill() -> None:
            nonlocal nxt
            while nxt is not None and len(inflight) < window:
                start, end, line0, range_file, done = nxt
                nxt = next(chunks, None)
                task = (start, end, line0, nxt is None, range_file)
                inflight.append((pool.submit(_run_chunk, task), done))

        fill()
        while inflight:
            res, end = inflight.popleft()
            fill()
            part = _result(res)
            if isinstance(part, _Spilled):
                part = part.load()
            if isinstance(part, _Failure):
                raise part.rebuild()
            if part.edges.unsure or (part.edges.pending and (nxt is not None or inflight)):
                raise NotSplittable(path)
            merger.add(part)
            if progress is not None:
                progress.update(completed=float(end))
        ok = True
    except NotSplittable:
        # no worker is killed in the middle of a reply (a half-written message in the
        # pipe hangs the reader for good): the ranges handed out are few and bounded
        pool.shutdown(wait=True, cancel_futures=True)
        raise
    finally:
        if ok:
            pool.shutdown(wait=True)
        else:
            _abandon(pool, workers)
        _JOB = None
        if spill is not None:
            shutil.rmtree(spill, ignore_errors=True)
        if progress is not None:
            progress.finish()
    if not merger.events and (acc.events is None or acc.events.seq == seen0):
        from perfkit.querylog.readers import nothing_usable_in

        raise nothing_usable_in(stream, index)
    return merger
