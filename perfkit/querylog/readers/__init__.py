"""Log readers: every supported input format -> one stream of :class:`LogEvent`.

Contract (shared with the consumers in ``perfkit.querylog``)::

    stream = read_logs(paths, log_format=None, prefix=None, strict=False, progress=None)
    for event in stream: ...          # once; streams, memory does not grow with input
    stream.files / skipped_lines / skipped_samples / warnings / has_timeline / truncated

Decisions worth knowing (details in the modules):

* Formats are detected per file from its first lines when ``read_logs`` is called, so a
  file matching no format, or a ``--prefix`` matching nothing, raises
  :class:`~perfkit.errors.InputError` *before* any event is read; ``files`` and
  ``has_timeline`` are complete from the start.
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
import csv
import itertools
import json
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from perfkit.errors import InputError, TruncatedInput, UsageError
from perfkit.querylog.model import LogEvent
from perfkit.querylog.readers._common import Context, parse_parameters
from perfkit.querylog.readers._source import Source, peek_lines
from perfkit.querylog.readers.appfiles import (
    is_pgss_header,
    read_jsonl,
    read_pgss_csv,
    read_pgss_json,
)
from perfkit.querylog.readers.prefix import (
    CANDIDATES,
    GENERIC,
    CompiledPrefix,
    compile_prefix,
    infer_prefix,
)
from perfkit.querylog.readers.sqlfile import looks_like_sql, read_sql, split_sql
from perfkit.querylog.readers.stderr import is_syslog, read_stderr, unwrap_syslog
from perfkit.querylog.readers.structured import MIN_CSV_COLUMNS, read_csvlog, read_json_records
from perfkit.report.progress import ProgressSink

if TYPE_CHECKING:
    from perfkit.querylog.events import EventCollector

__all__ = [
    "CANDIDATES",
    "FORMATS",
    "FileInfo",
    "LogStream",
    "compile_prefix",
    "parse_parameters",
    "read_logs",
    "split_sql",
]

FORMATS = ("stderr", "csvlog", "jsonlog", "cnpg", "sql", "jsonl", "pgss-csv", "pgss-json")
# "syslog" is detected on its own but forced with --log-format stderr (same prefixes)
_HEAD_LINES = 1000
_STATS_FORMATS = ("pgss-csv", "pgss-json")
_CSV_TS = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d")


@dataclass(frozen=True)
class FileInfo:
    path: str
    format: str  # one of FORMATS, "syslog" (stderr wrapped by syslog) or "empty"
    prefix: str | None
    prefix_inferred: bool
    compression: str  # none | gzip | bz2 | zstd


@dataclass(frozen=True)
class _Plan:
    info: FileInfo
    compiled: CompiledPrefix | None
    source: Source | None  # kept open only for stdin (cannot be read twice)
    head: list[str]


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
        self.event_sink: EventCollector | None = None  # analyze --events (readers/_common)
        self._strict = strict
        self._progress = progress
        self._used = False
        self._plans: list[_Plan] = []
        for p in paths:
            plan = _plan(p, log_format, prefix, self.warnings)
            self._plans.append(plan)
            self.files.append(plan.info)
            if plan.info.format in _STATS_FORMATS:
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
            progress.start("Reading logs", total=float(sum(sizes)) or None)
        try:
            done = 0.0
            for plan, size in zip(self._plans, sizes, strict=False):
                src = plan.source or Source(plan.info.path)
                ctx = Context(self, plan.info.path, self._strict)
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

    def events_of(self, index: int) -> Iterator[LogEvent]:
        """The events of input ``index`` alone, for a caller that takes the inputs one
        by one (warnings and skipped lines are recorded here as in a whole iteration)."""
        plan = self._plans[index]
        src = plan.source or Source(plan.info.path)
        ctx = Context(self, plan.info.path, self._strict)
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


def _clip(text: str, n: int = 100) -> str:
    text = text.rstrip("\r\n")
    return repr(text if len(text) <= n else text[:n] + "...")


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
    fmt, compiled, inferred = _detect(src, head, forced, prefix, warnings)
    info = FileInfo(
        name,
        fmt,
        compiled.prefix if compiled is not None else None,
        inferred,
        src.compression,
    )
    return _Plan(info, compiled, keep, head)


def _first_code_line(head: list[str]) -> tuple[int, str] | None:
    for i, line in enumerate(head, 1):
        if line.strip():
            return i, line
    return None


def _no_format(name: str, first: tuple[int, str]) -> InputError:
    return InputError(
        name,
        "matches no supported log format (stderr/syslog with any of "
        f"{len(CANDIDATES)} common log_line_prefix values, csvlog, jsonlog, CloudNativePG, .sql, "
        f"JSON Lines, pg_stat_statements): {_clip(first[1])}",
        line=first[0],
        hint="pass --prefix '<your log_line_prefix>' or --log-format",
    )


def _detect(
    src: Source,
    head: list[str],
    forced: str | None,
    prefix: str | None,
    warnings: list[str],
) -> tuple[str, CompiledPrefix | None, bool]:
    name = src.name
    first = _first_code_line(head)
    if first is None:
        warnings.append(f"{name}: empty input")
        return (forced or "empty"), None, False
    text = first[1].strip()
    if forced is None and prefix is None:
        guess = _guess_structured(src, head, text)
        if guess is not None:
            return guess, None, False
    if forced in (None, "stderr"):
        stripped = [ln.rstrip("\r\n") for ln in head]
        syslog = is_syslog(stripped[first[0] - 1])
        if syslog:
            stripped = [_syslog_inner(ln) for ln in stripped]
        if prefix is not None:
            cp = compile_prefix(prefix, syslog=syslog)
            matched = sum(
                1 for ln in stripped if ln and not ln.startswith("\t") and cp.regex.match(ln)
            )
            if not matched:
                raise InputError(
                    name,
                    f"log_line_prefix {prefix!r} matches none of the first {len(head)} lines "
                    f"(expected the prefix, then e.g. 'LOG:  '): {_clip(first[1])}",
                    line=first[0],
                    hint="check log_line_prefix in postgresql.conf (SHOW log_line_prefix)",
                )
            return ("syslog" if syslog else "stderr"), cp, False
        inf = infer_prefix(stripped, syslog=syslog)
        if inf is not None:
            cp = inf.prefix
            if cp.prefix == GENERIC:
                warnings.append(
                    f"{name}: no known log_line_prefix fits; read with a generic pattern "
                    f"(timestamp ... SEVERITY, {inf.matched} of {inf.considered} first lines): "
                    "pass --prefix '<log_line_prefix>' for exact user/database fields"
                )
            else:
                warnings.append(
                    f"{name}: log_line_prefix inferred as {cp.prefix!r} (matches {inf.matched} of "
                    f"{inf.considered} first lines); pass --prefix to override"
                )
            return ("syslog" if syslog else "stderr"), cp, True
        if forced == "stderr":
            tried = ", ".join(repr(c) for c in CANDIDATES[:4])
            raise InputError(
                name,
                f"no log_line_prefix matches (tried {tried} and {len(CANDIDATES) - 4} more): "
                f"{_clip(first[1])}",
                line=first[0],
                hint="pass --prefix '<your log_line_prefix>' (SHOW log_line_prefix on the server)",
            )
        if src.plain_name.endswith(".sql") or looks_like_sql(head):
            return "sql", None, False
        raise _no_format(name, first)
    if forced in FORMATS:
        return forced, None, False
    raise _no_format(name, first)


def _syslog_inner(line: str) -> str:
    out = list(unwrap_syslog([(1, line)], _NullCtx()))  # type: ignore[arg-type]
    return out[0][1] if out else line


class _NullCtx:
    def skip(self, line: int, text: str, why: str = "") -> None:
        pass


def _guess_structured(src: Source, head: list[str], text: str) -> str | None:
    if text.startswith("{"):
        try:
            obj = json.loads(text)
        except ValueError:
            return "pgss-json" if text == "{" else None
        if isinstance(obj, dict):
            if isinstance(obj.get("record"), dict):
                return "cnpg"
            if "error_severity" in obj:
                return "jsonlog"
            if "query" in obj and "calls" in obj:
                return "pgss-json"
            if "query" in obj:
                return "jsonl"
        return None
    if text == "[" or (text[:1] == "[" and text[1:].lstrip()[:1] == "{"):
        # a JSON array of objects, not an INI/TOML "[section]"
        return "pgss-json"
    if src.plain_name.endswith(".sql"):
        return "sql"
    if "," in text:
        try:
            rec = next(csv.reader(itertools.dropwhile(lambda ln: not ln.strip(), head)))
        except (csv.Error, StopIteration):
            return None
        if is_pgss_header(rec):
            return "pgss-csv"
        if len(rec) >= MIN_CSV_COLUMNS and _CSV_TS.match(rec[0]):
            return "csvlog"
    return None


# -- reading --------------------------------------------------------------------------
def _raw_lines(plan: _Plan, src: Source) -> Iterable[str]:
    if plan.source is not None:
        return itertools.chain(plan.head, src.text)
    return src.text


def _numbered(lines: Iterable[str]) -> Iterator[tuple[int, str]]:
    for i, line in enumerate(lines, 1):
        yield i, line.rstrip("\r\n")


class _Tracker:
    """Reports bytes read to the progress sink every few thousand lines."""

    def __init__(self, src: Source, progress: ProgressSink, base: float) -> None:
        self.src = src
        self.progress = progress
        self.base = base

    def wrap(self, lines: Iterable[str]) -> Iterator[str]:
        raw = self.src._raw
        update = self.progress.update
        base = self.base
        for i, line in enumerate(lines):
            if not i & 0x3FFF:
                with contextlib.suppress(OSError, ValueError):
                    update(completed=base + raw.tell())
            yield line


def _read(
    plan: _Plan, src: Source, ctx: Context, progress: ProgressSink | None, done: float
) -> Iterator[LogEvent]:
    fmt = plan.info.format
    lines = _raw_lines(plan, src)
    if progress is not None:
        lines = _Tracker(src, progress, done).wrap(lines)
    if fmt == "empty":
        return
    if fmt in ("stderr", "syslog"):
        assert plan.compiled is not None
        numbered: Iterable[tuple[int, str]] = enumerate(lines, 1)
        if fmt == "syslog":
            numbered = unwrap_syslog(_numbered(lines), ctx)
        yield from read_stderr(numbered, ctx, plan.compiled)
    elif fmt == "csvlog":
        yield from read_csvlog(lines, ctx)
    elif fmt in ("jsonlog", "cnpg"):
        yield from read_json_records(_numbered(lines), ctx, envelope=fmt == "cnpg")
    elif fmt == "sql":
        yield from read_sql(lines, ctx.source)
    elif fmt == "jsonl":
        yield from read_jsonl(_numbered(lines), ctx)
    elif fmt == "pgss-csv":
        yield from read_pgss_csv(lines, ctx)
    elif fmt == "pgss-json":
        yield from read_pgss_json(_numbered(lines), ctx)
