"""What every log format declares: its name, how it is recognised from the first lines
of an input, how its records are read, and whether ``analyze --jobs`` may read it in
byte ranges. One module per format under :mod:`perfkit.querylog.readers.formats`;
adding a format is one module, one line in the registry and its tests.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, ClassVar

from perfkit.querylog.model import LogEvent
from perfkit.querylog.readers._common import ChunkEdges, Context
from perfkit.querylog.readers.prefix import CompiledPrefix

Numbered = Iterable[tuple[int, str]]


@dataclass(frozen=True)
class Head:
    """The first lines of one input, as detection sees them."""

    name: str  # the input's name, for messages
    plain_name: str  # without a compression suffix (``.sql`` detection)
    raw: tuple[str, ...]  # as read, line ends kept (csv)
    prefix: str | None = None  # --prefix, if given

    @functools.cached_property
    def lines(self) -> tuple[str, ...]:
        """The first lines without their line ends."""
        return tuple(ln.rstrip("\r\n") for ln in self.raw)

    @property
    def first(self) -> tuple[int, str] | None:
        """The first non-blank line and its number."""
        for i, line in enumerate(self.raw, 1):
            if line.strip():
                return i, line.rstrip("\r\n")
        return None

    def numbered(self) -> list[tuple[int, str]]:
        return [(i, ln.rstrip("\r\n")) for i, ln in enumerate(self.raw, 1)]

    @functools.cached_property
    def objects(self) -> tuple[Any, ...]:
        """The JSON values the first lines hold (JSON Lines, array or wrapping
        object; see :mod:`~perfkit.querylog.readers.jsondoc`), up to 50; () if the input
        does not start like JSON."""
        first = self.first
        if first is None or first[1].lstrip()[:1] not in ("{", "["):
            return ()
        from perfkit.querylog.readers.jsondoc import BadItem, json_items

        out: list[Any] = []
        try:
            for _n, value in json_items(self.numbered(), self.name):
                if isinstance(value, BadItem):
                    if out:
                        break  # the head may end inside an item
                    return ()
                out.append(value)
                if len(out) >= 50:
                    break
        except (ValueError, RecursionError):  # deeply nested JSON: not a record
            return ()
        return tuple(out)

    @property
    def first_object(self) -> dict[str, Any] | None:
        objs = self.objects
        return objs[0] if objs and isinstance(objs[0], dict) else None


@dataclass(frozen=True)
class Detected:
    """A format recognised in one input, with what its reader needs."""

    format: str
    prefix: CompiledPrefix | None = None  # stderr/syslog: the log_line_prefix
    inferred: bool = False  # the prefix was inferred, not given
    inner: Detected | None = None  # a wrapper: how the wrapped messages are read
    notes: tuple[str, ...] = field(default=())  # warnings for the stream

    @property
    def innermost(self) -> Detected:
        det = self
        while det.inner is not None:
            det = det.inner
        return det


class LogFormat:
    """Base class; subclasses set the class attributes and implement :meth:`detect`
    and :meth:`read_numbered` (or :meth:`read`, for readers that need line ends)."""

    name: ClassVar[str]
    summary: ClassVar[str]  # for --log-format and docs/analyze-formats.md
    #: detection order, lowest first: specific formats before permissive ones
    order: ClassVar[int] = 50
    #: a timeline (timestamps of single executions) exists
    timeline: ClassVar[bool] = True
    #: may be the content of a wrapper (container runtime, cloud log export)
    wrappable: ClassVar[bool] = False

    def detect(self, head: Head) -> Detected | None:
        """This format, if the first lines are in it; ``None`` otherwise."""
        raise NotImplementedError

    def force(self, head: Head) -> Detected:
        """``--log-format NAME``: read the input as this format."""
        return self.detect(head) or Detected(self.name)

    def read(self, lines: Iterable[str], ctx: Context, det: Detected) -> Iterator[LogEvent]:
        """Events from the input's text lines (line ends kept)."""
        return self.read_numbered(numbered(lines), ctx, det)

    def read_numbered(self, lines: Numbered, ctx: Context, det: Detected) -> Iterator[LogEvent]:
        raise NotImplementedError

    #: ``analyze --jobs`` may read it in byte ranges (:meth:`record_start` and
    #: :meth:`read_range` are implemented); see :mod:`perfkit.querylog.parallel`
    splittable: ClassVar[bool] = False

    def record_start(self, line: bytes, prefix: CompiledPrefix | None) -> bool:
        """Whether a record may start at ``line`` (a range is cut there; the caller has
        ruled out continuation, blank and lone-CR lines, and quoted csv fields)."""
        raise NotImplementedError

    def read_range(
        self,
        text: Iterable[str],
        ctx: Context,
        prefix: CompiledPrefix | None,
        edges: ChunkEdges,
        line0: int,
    ) -> Iterator[LogEvent]:
        """Events of one byte range whose first line is line ``line0`` of the file;
        ``edges`` receives what joining it to its neighbours needs."""
        raise NotImplementedError


class Refused:
    """A format perfkit recognises but does not read: refused, never read as another."""

    name: ClassVar[str]
    pattern: ClassVar[re.Pattern[str]]
    #: how many of the first non-blank lines (at most 20) must match
    share: ClassVar[float] = 0.5

    def matches(self, head: Head) -> bool:
        lines = [ln for ln in head.lines if ln.strip()][:20]
        if not lines:
            return False
        hits = sum(1 for ln in lines if self.pattern.match(ln))
        return hits >= max(1, self.share * len(lines))


def numbered(lines: Iterable[str]) -> Iterator[tuple[int, str]]:
    for i, line in enumerate(lines, 1):
        yield i, line.rstrip("\r\n")


def clip(text: str, n: int = 100) -> str:
    text = text.rstrip("\r\n")
    return repr(text if len(text) <= n else text[:n] + "...")
