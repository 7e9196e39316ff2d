"""Formats that wrap another one: a container runtime's or a cloud service's envelope
around each line (or JSON record) PostgreSQL wrote. A wrapper says how to recognise its
envelope and how to take the wrapped lines out (:meth:`Wrapper.unwrap`); what is inside
is detected like any input, among the formats marked ``wrappable`` (stderr with any
``log_line_prefix``, syslog, jsonlog, CloudNativePG), and read by that format.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from typing import Any, ClassVar

from perfkit.errors import InputError
from perfkit.querylog.model import LogEvent
from perfkit.querylog.readers._common import Context
from perfkit.querylog.readers.formats.base import Detected, Head, LogFormat, Numbered, clip
from perfkit.querylog.readers.jsondoc import BadItem, json_items


def wrappable() -> tuple[str, ...]:
    from perfkit.querylog.readers.formats import REGISTRY

    return tuple(n for n, f in REGISTRY.items() if f.wrappable)


class QuietCtx:
    """Detection unwraps the first lines without recording anything."""

    source = ""

    def skip(self, line: int, text: str, why: str = "") -> None:
        pass

    def warn(self, message: str) -> None:
        pass


class Wrapper(LogFormat):
    """Subclasses set ``name``/``summary`` and implement :meth:`looks` and :meth:`unwrap`."""

    order: ClassVar[int] = 10
    #: formats the wrapped lines may be in (None: every wrappable format)
    inner_formats: ClassVar[tuple[str, ...] | None] = None

    def looks(self, head: Head) -> bool:
        raise NotImplementedError

    def unwrap(self, lines: Numbered, ctx: Context) -> Iterator[tuple[int, str]]:
        """The wrapped lines, numbered with the line of the envelope they came from."""
        raise NotImplementedError

    def detect(self, head: Head) -> Detected | None:
        if not self.looks(head):
            return None
        return self.inner_detect(head)

    def force(self, head: Head) -> Detected:
        return self.inner_detect(head)

    def inner_detect(self, head: Head) -> Detected:
        from perfkit.querylog.readers.formats import detect_wrapped

        inner_lines = [ln for _n, ln in self.unwrap(head.numbered(), QuietCtx())]  # type: ignore[arg-type]
        inner_head = Head(head.name, head.plain_name, tuple(inner_lines), head.prefix)
        first = head.first
        inner_first = inner_head.first
        if inner_first is None:
            raise InputError(
                head.name,
                f"looks like a {self.name} log ({self.summary}), but its first records hold "
                f"no PostgreSQL line: {clip(first[1] if first else '')}",
                line=first[0] if first else None,
            )
        try:
            inner = detect_wrapped(inner_head, self.inner_formats)
        except InputError as exc:
            if "matches no supported log format" not in str(exc):
                raise  # e.g. --prefix matching none of the lines inside
            names = ", ".join(self.inner_formats or wrappable())
            raise InputError(
                head.name,
                f"{self.name} records, but the lines inside match no format perfkit reads "
                f"(tried {names}): {clip(inner_first[1])}",
                line=first[0] if first else None,
                hint="pass --prefix '<your log_line_prefix>'",
            ) from None
        return Detected(self.name, inner.prefix, inner.inferred, inner=inner, notes=inner.notes)

    def read_numbered(self, lines: Numbered, ctx: Context, det: Detected) -> Iterator[LogEvent]:
        from perfkit.querylog.readers.formats import REGISTRY

        inner = det.inner
        assert inner is not None
        return REGISTRY[inner.format].read_numbered(self.unwrap(lines, ctx), ctx, inner)


def join_parts(parts: Iterable[tuple[int, str, bool]]) -> Iterator[tuple[int, str]]:
    """``(line, text, complete)`` -> lines: a runtime writes a long line as parts, all
    but the last not ``complete``; they are joined again, numbered by the first."""
    held: list[str] = []
    first = 0
    for lineno, text, complete in parts:
        if not held:
            first = lineno
        held.append(text)
        if complete:
            yield first, "".join(held) if len(held) > 1 else text
            held = []
    if held:
        yield first, "".join(held)


# a line of its own inside one record: it starts with a date, as the record's first line
DATED = re.compile(r"\d{4}-\d\d-\d\d[ T]\d\d:")


def split_message(lineno: int, text: str) -> Iterator[tuple[int, str]]:
    """A message holding several log lines -> its lines. PostgreSQL writes a tab after
    each newline inside a message; a collector that dropped it (Cloud SQL's textPayload
    holds ``...\nI/O timings: ...``) gets it back, so that the line continues the
    message instead of being skipped - unless it starts with a date as the first line
    does (a line of its own, e.g. the DETAIL a collector put in the same record)."""
    if "\n" not in text:
        yield lineno, text.rstrip("\r")
        return
    first, *rest = text.rstrip("\n").split("\n")
    yield lineno, first.rstrip("\r")
    dated = DATED.match(first) is not None
    for part in rest:
        part = part.rstrip("\r")
        if part[:1] != "\t" and not (dated and DATED.match(part)):
            part = "\t" + part
        yield lineno, part


class JsonWrapper(Wrapper):
    """Envelopes that are JSON records (JSON Lines, an array, or an object holding one)."""

    def record_ok(self, obj: dict[str, Any]) -> bool:
        raise NotImplementedError

    def messages(self, obj: dict[str, Any]) -> Iterable[str]:
        """The PostgreSQL lines one record holds (none for records of other kinds)."""
        raise NotImplementedError

    def looks(self, head: Head) -> bool:
        objs = [o for o in head.objects if isinstance(o, dict)]
        return bool(objs) and sum(1 for o in objs if self.record_ok(o)) * 2 > len(objs)

    def records(self, items: Iterator[tuple[int, Any]], ctx: Context) -> Iterable[tuple[int, Any]]:
        """The records in the order to read them (as they come, by default)."""
        return items

    def unwrap(self, lines: Numbered, ctx: Context) -> Iterator[tuple[int, str]]:
        for lineno, obj in self.records(json_items(lines, ctx.source), ctx):
            if isinstance(obj, BadItem):
                ctx.skip(lineno, obj.text, f"not a {self.name} JSON record")
                continue
            if not isinstance(obj, dict):
                ctx.skip(lineno, json.dumps(obj)[:300], f"not a {self.name} JSON record")
                continue
            for text in self.messages(obj):
                yield from split_message(lineno, text)
