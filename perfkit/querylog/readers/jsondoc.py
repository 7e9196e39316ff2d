"""JSON records however they are laid out: JSON Lines (one object per line), a JSON
array (``gcloud logging read --format=json``), or an object holding the array under a
known key (``aws logs filter-log-events``: ``events``; Azure diagnostic exports:
``records``), compact or pretty-printed. Items are decoded one by one as the lines
arrive, so memory is bounded by the largest item (at most
:data:`~perfkit.querylog.readers.limits.MAX_RECORD_BYTES`), not by the document.
"""

from __future__ import annotations

import bisect
import json
import re
from collections.abc import Iterable, Iterator
from typing import Any

from perfkit.errors import InputError
from perfkit.querylog.readers.limits import MAX_RECORD_BYTES

#: keys whose array holds the records of a wrapping object
ARRAY_KEYS = ("events", "records", "entries", "logEvents", "items", "value")
_ARRAY_KEY = re.compile(r'"(' + "|".join(ARRAY_KEYS) + r')"\s*:\s*\[')
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
            except ValueError:
                pass
            else:
                if isinstance(obj, dict) and not _holder(obj):
                    yield lineno, obj
                    yield from _json_lines(it)
                    return
                if isinstance(obj, dict):  # one compact wrapping object on a line
                    for key in ARRAY_KEYS:
                        if isinstance(obj.get(key), list):
                            for item in obj[key]:
                                yield lineno, item
                    yield from _json_lines(it)  # more such objects may follow
                    return
        yield from _document(lineno, line, it, source)
        return


def _holder(obj: dict[str, Any]) -> bool:
    return any(isinstance(obj.get(k), list) for k in ARRAY_KEYS) and not (
        "message" in obj or "textPayload" in obj or "jsonPayload" in obj
    )


def _json_lines(it: Iterator[tuple[int, str]]) -> Iterator[tuple[int, Any]]:
    loads = json.loads
    for lineno, line in it:
        if not line.strip():
            continue
        try:
            obj = loads(line)
        except ValueError:
            yield lineno, BadItem(line)
            continue
        if isinstance(obj, dict) and _holder(obj):
            for key in ARRAY_KEYS:
                if isinstance(obj.get(key), list):
                    for item in obj[key]:
                        yield lineno, item
            continue
        yield lineno, obj


def _document(
    lineno: int, line: str, it: Iterator[tuple[int, str]], source: str
) -> Iterator[tuple[int, Any]]:
    """A pretty-printed array, or an object with the array under an ARRAY_KEYS key."""
    buf = line
    starts = [0]  # offset in buf of each line
    nums = [lineno]
    pos = 0
    exhausted = False

    def more() -> bool:
        nonlocal buf, exhausted
        if exhausted:
            return False
        for n, ln in it:
            starts.append(len(buf) + 1)
            nums.append(n)
            buf += "\n" + ln
            return True
        exhausted = True
        return False

    def skip_ws() -> bool:
        nonlocal pos
        while True:
            while pos < len(buf) and buf[pos] in _WS:
                pos += 1
            if pos < len(buf):
                return True
            if not more():
                return False

    def line_at(offset: int) -> int:
        return nums[bisect.bisect_right(starts, offset) - 1]

    if not skip_ws():
        return
    if buf[pos] == "{":
        # find the array of records inside the wrapping object
        while True:
            m = _ARRAY_KEY.search(buf, pos)
            if m is not None:
                pos = m.end()
                break
            if len(buf) - pos > MAX_RECORD_BYTES or not more():
                yield line_at(pos), BadItem(buf[pos : pos + 200])
                return
    elif buf[pos] == "[":
        pos += 1
    else:
        yield line_at(pos), BadItem(buf[pos : pos + 200])
        return
    while True:
        if not skip_ws():
            return
        c = buf[pos]
        if c == "]":
            return
        if c == ",":
            pos += 1
            continue
        start = pos
        while True:
            try:
                value, end = _decoder.raw_decode(buf, start)
            except ValueError:
                if len(buf) - start > MAX_RECORD_BYTES:
                    raise InputError(
                        source,
                        f"a JSON item longer than {MAX_RECORD_BYTES >> 20} MB "
                        "(the cap on one record)",
                        line=line_at(start),
                    ) from None
                if more():
                    continue
                yield line_at(start), BadItem(buf[start : start + 200])
                return
            break
        yield line_at(start), value
        pos = end
        # drop what is decoded: the buffer holds one item at a time
        if pos > 4096:
            k = bisect.bisect_right(starts, pos) - 1
            cut = starts[k]
            buf = buf[cut:]
            pos -= cut
            del starts[:k]
            del nums[:k]
            for i in range(len(starts)):
                starts[i] -= cut
