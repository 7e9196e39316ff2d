"""JSON records however they are laid out: JSON Lines (one object per line), a JSON
array (``gcloud logging read --format=json``), or an object holding the array under a
known key (``aws logs filter-log-events``: ``events``; Azure diagnostic exports:
``records``), compact or pretty-printed. Items are decoded one by one as the lines
arrive, so memory is bounded by the largest item (at most
:data:`~perfkit.querylog.readers.limits.MAX_RECORD_BYTES`), not by the document.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from typing import Any

from perfkit.errors import InputError
from perfkit.querylog.readers.limits import MAX_RECORD_BYTES

#: keys whose array holds the records of a wrapping object
ARRAY_KEYS = (
    "events",
    "records",
    "entries",
    "logEvents",
    "items",
    "value",
    "rows",
    "data",
    "statements",
    "queries",
    "results",
)
_ARRAY_KEY = re.compile(r'"(' + "|".join(ARRAY_KEYS) + r')"\s*:\s*\[')
# any other key whose value is an array of objects (taken when no known key comes first)
_ANY_ARRAY = re.compile(r'"[^"\\]+"\s*:\s*\[(?=\s*\{)')
_decoder = json.JSONDecoder()
_WS = " \t\r\n"


class BadItem:
    """An item that is not valid JSON (its first line and text), for the caller to skip."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text


def json_items(lines: Iterable[tuple[int, str]], source: str) -> Iterator[tuple[int, Any]]:
    """``(line of the item's start, decoded value or BadItem)``, in order."""
    it = iter(lines)
    for lineno, line in it:
        text = line.strip()
        if not text:
            continue
        if text[0] == "{":
            try:
                obj = json.loads(text)
            except (ValueError, RecursionError):  # deeply nested JSON: not a record
                pass
            else:
                if isinstance(obj, dict) and not _holder(obj):
                    yield lineno, obj
                    yield from _json_lines(it)
                    return
                if isinstance(obj, dict):  # one compact wrapping object on a line
                    for item in _held(obj) or ():
                        yield lineno, item
                    yield from _json_lines(it)  # more such objects may follow
                    return
        yield from _document(lineno, line, it, source)
        return


def _incomplete(exc: json.JSONDecodeError, buf: str) -> bool:
    """The error is the end of what was read so far (more lines may complete the
    item), not a syntax error inside it."""
    return exc.msg.startswith("Unterminated string") or exc.pos >= len(buf.rstrip())


def _holder(obj: dict[str, Any]) -> bool:
    if "message" in obj or "textPayload" in obj or "jsonPayload" in obj:
        return False
    return _held(obj) is not None


def _held(obj: dict[str, Any]) -> list[Any] | None:
    """The array of records a wrapping object holds: under a known key, else its only
    array of objects."""
    for key in ARRAY_KEYS:
        value = obj.get(key)
        if isinstance(value, list):
            return value
    arrays = [v for v in obj.values() if isinstance(v, list) and v and isinstance(v[0], dict)]
    return arrays[0] if len(arrays) == 1 else None


def _json_lines(it: Iterator[tuple[int, str]]) -> Iterator[tuple[int, Any]]:
    loads = json.loads
    for lineno, line in it:
        if not line.strip():
            continue
        try:
            obj = loads(line)
        except (ValueError, RecursionError):  # deeply nested JSON: not a record
            yield lineno, BadItem(line)
            continue
        if isinstance(obj, dict) and _holder(obj):
            for item in _held(obj) or ():
                yield lineno, item
            continue
        yield lineno, obj


def _document(
    lineno: int, line: str, it: Iterator[tuple[int, str]], source: str
) -> Iterator[tuple[int, Any]]:
    """A pretty-printed array of objects, or an object with such an array under an
    ARRAY_KEYS key. The text of one item at a time is held; a decode is tried when a
    line may close the item (it holds a ``}``), so an item of k lines costs O(k) reads of
    it at worst, never a copy of the document per line."""
    # find where the records start: "[" or the array key of the wrapping object
    text = line.lstrip(_WS)
    first_no = lineno
    if text[:1] == "{":
        seen = 0
        window = text
        while True:
            m = _ARRAY_KEY.search(window) or _ANY_ARRAY.search(window)
            if m is not None:
                text = window[m.end() :]
                break
            seen += len(window)
            nxt = next(it, None)
            if nxt is None or seen > MAX_RECORD_BYTES:
                yield first_no, BadItem(line[:200])
                return
            lineno = nxt[0]
            window = window[-40:] + "\n" + nxt[1]  # a key may span the line end
    elif text[:1] == "[":
        text = text[1:]
    else:
        yield first_no, BadItem(line[:200])
        return
    # items: skip separators, then gather the lines of one object and decode it
    pending = text
    pending_no = lineno
    while True:
        rest = pending.lstrip(_WS + ",")
        while not rest:
            nxt = next(it, None)
            if nxt is None:
                return
            pending_no, rest = nxt[0], nxt[1].lstrip(_WS + ",")
        if rest[0] == "]":
            return
        if rest[0] != "{":
            yield pending_no, BadItem(rest[:200])
            return
        parts = [rest]
        size = len(rest)
        item_no = pending_no
        while True:
            if "}" in parts[-1]:
                buf = "\n".join(parts) if len(parts) > 1 else parts[0]
                try:
                    value, end = _decoder.raw_decode(buf)
                except RecursionError:
                    yield item_no, BadItem(buf[:200])
                    return
                except json.JSONDecodeError as exc:
                    if not _incomplete(exc, buf):
                        yield item_no, BadItem(buf[:200])
                        return
                else:
                    yield item_no, value
                    pending = buf[end:]
                    pending_no = item_no + len(parts) - 1 if len(parts) > 1 else item_no
                    break
            if size > MAX_RECORD_BYTES:
                raise InputError(
                    source,
                    f"a JSON item longer than {MAX_RECORD_BYTES >> 20} MB (the cap on one record)",
                    line=item_no,
                )
            nxt = next(it, None)
            if nxt is None:
                buf = "\n".join(parts)
                yield item_no, BadItem(buf[:200])
                return
            pending_no = nxt[0]
            parts.append(nxt[1])
            size += len(nxt[1]) + 1
