"""Reading SQS message dumps: Lambda events, ``aws sqs receive-message`` output, JSON
Lines of either, and plain bodies. Every reader streams except a whole JSON document
(``{"Records": [...]}`` / ``{"Messages": [...]}`` spanning several lines), which is
loaded whole because its records are one JSON value.
"""

from __future__ import annotations

import io
import json
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from perfkit.errors import InputError

try:  # orjson parses SQS records 2-3x faster than the json module: the reader's hot path
    from orjson import loads as _loads
except ImportError:  # pragma: no cover - orjson is a dependency; stay correct without it
    _loads = json.loads  # type: ignore[assignment]

MAX_BODY_BYTES = 256 * 1024
InputFormat = Literal["auto", "lambda", "receive", "plain"]
_RECORD_KEYS = ("messageId", "MessageId", "Records", "Messages")


class Message:
    """One queue message plus the simulation/live state the queue model keeps for it.

    ``raw`` is the record exactly as read (a JSON Lines line, the re-serialised record of a
    whole document, or a plain body line), so the DLQ output loses nothing.
    """

    __slots__ = (
        "arrival",
        "body",
        "copies",
        "done",
        "group",
        "held",
        "index",
        "message_id",
        "poison",
        "raw",
        "receive_count",
        "record",
        "rseq",
        "sent_ms",
        "where",
    )

    def __init__(
        self,
        index: int,
        message_id: str,
        body: str,
        group: str | None,
        sent_ms: int | None,
        raw: str,
        record: dict[str, Any] | None,
        where: str | tuple[str, int | None, str],
    ) -> None:
        self.index = index
        self.message_id = message_id
        self.body = body
        self.group = group
        self.sent_ms = sent_ms
        self.raw = raw
        self.record = record
        self.where = where
        self.arrival = 0.0
        self.receive_count = 0
        self.rseq = -1
        self.copies = 0
        self.held = False
        self.done = False
        self.poison = False

    @property
    def location(self) -> str:
        """``file:line`` (JSON Lines, plain) or ``file Records[i]`` (a whole document)."""
        w = self.where
        if isinstance(w, str):
            return w
        path, line, where = w
        if line is None:
            return f"{path} {where}"
        return f"{path}:{line}" + ("" if where == "record" else f" {where}")

    def lambda_record(self) -> dict[str, Any]:
        """The record as Lambda's SQS event source hands it to a function (built once;
        its ``ApproximateReceiveCount`` is updated on each delivery)."""
        rec = self.record
        if rec is None or "eventSource" not in rec:
            src = rec or {}
            attrs: dict[str, Any] = dict(src.get("attributes") or {})
            if self.sent_ms is not None:
                attrs.setdefault("SentTimestamp", str(self.sent_ms))
            if self.group is not None:
                attrs.setdefault("MessageGroupId", self.group)
            rec = {
                "messageId": self.message_id,
                "receiptHandle": src.get("receiptHandle") or f"perfkit-{self.message_id}",
                "body": self.body,
                "attributes": attrs,
                "messageAttributes": src.get("messageAttributes") or {},
                "md5OfBody": src.get("md5OfBody") or "",
                "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:us-east-1:000000000000:perfkit",
                "awsRegion": "us-east-1",
            }
            self.record = rec
        elif not isinstance(rec.get("attributes"), dict):
            rec["attributes"] = {}
        return rec


@dataclass(frozen=True)
class InputSpec:
    """Where the messages come from. ``paths`` may contain ``-`` for stdin."""

    paths: tuple[str, ...]
    input_format: InputFormat = "auto"
    check_duplicates: bool = True

    @property
    def rereadable(self) -> bool:
        return "-" not in self.paths


def _receive_to_lambda(rec: dict[str, Any]) -> dict[str, Any]:
    """``aws sqs receive-message`` (PascalCase) -> the Lambda record shape."""
    attrs = rec.get("MessageAttributes") or {}
    mattrs = {}
    if isinstance(attrs, dict):
        for name, val in attrs.items():
            if isinstance(val, dict):
                mattrs[name] = {
                    "stringValue": val.get("StringValue"),
                    "binaryValue": val.get("BinaryValue"),
                    "stringListValues": val.get("StringListValues", []),
                    "binaryListValues": val.get("BinaryListValues", []),
                    "dataType": val.get("DataType"),
                }
    return {
        "messageId": rec.get("MessageId"),
        "receiptHandle": rec.get("ReceiptHandle"),
        "body": rec.get("Body"),
        "attributes": rec.get("Attributes") or {},
        "messageAttributes": mattrs,
        "md5OfBody": rec.get("MD5OfBody"),
    }


class _Reader:
    """Turns parsed records into validated :class:`Message` objects."""

    def __init__(self, dups: _DuplicateFilter | None) -> None:
        self.count = 0
        self.dups = dups
        # the Bloom filter's pending ids, appended to inline (the reader's hot path)
        self._pend = dups._pending if dups is not None and dups.exact is None else None

    def make(
        self, rec: Any, path: str, where: str, line: int | None, raw: str, lambda_shape: bool | None
    ) -> Message:
        if not isinstance(rec, dict):
            raise InputError(path, f"{where}: a record must be a JSON object", line=line)
        if lambda_shape is None:
            lambda_shape = "messageId" in rec or "MessageId" not in rec
        if not lambda_shape:
            rec = _receive_to_lambda(rec)
        mid = rec.get("messageId")
        if mid.__class__ is not str or not mid:
            key = "messageId" if lambda_shape else "MessageId"
            raise InputError(path, f"{where}: missing {key}", line=line)
        body = rec.get("body")
        if body.__class__ is not str:
            key = "body" if lambda_shape else "Body"
            raise InputError(path, f"{where}: message {mid!r} has no {key}", line=line)
        attrs = rec.get("attributes")
        sent_ms: int | None = None
        group = None
        if attrs:
            if not isinstance(attrs, dict):
                raise InputError(path, f"{where}: attributes must be an object", line=line)
            sent = attrs.get("SentTimestamp")
            if sent is not None:
                try:
                    sent_ms = int(sent)
                except (TypeError, ValueError):
                    raise InputError(
                        path,
                        f"{where}: SentTimestamp {sent!r} is not epoch milliseconds",
                        line=line,
                    ) from None
            group = attrs.get("MessageGroupId")
            if group is not None:
                group = str(group)
        if len(body) > _QUARTER and len(body.encode("utf-8")) > MAX_BODY_BYTES:
            self._too_big(mid, body, path, where, line)
        msg = Message(self.count, mid, body, group, sent_ms, raw, rec, (path, line, where))
        pend = self._pend
        if pend is not None:
            pend.append(mid)
            if len(pend) >= _DUP_CHUNK:
                self.dups.flush()  # type: ignore[union-attr]
        elif self.dups is not None:
            self.dups.add(mid, msg)
        self.count += 1
        return msg

    def plain(self, body: str, path: str, line: int) -> Message:
        mid = f"00000000-0000-4000-8000-{self.count + 1:012d}"
        if len(body) > _QUARTER and len(body.encode("utf-8")) > MAX_BODY_BYTES:
            self._too_big(mid, body, path, "line", line)
        msg = Message(self.count, mid, body, None, None, body, None, (path, line, "record"))
        if self.dups is not None:
            self.dups.add(mid, msg)
            if self._pend is not None and len(self._pend) >= _DUP_CHUNK:
                self.dups.flush()
        self.count += 1
        return msg

    @staticmethod
    def _too_big(mid: str, body: str, path: str, where: str, line: int | None) -> None:
        raise InputError(
            path,
            f"{where}: message {mid!r} body is {len(body.encode('utf-8'))} bytes, "
            f"over SQS's 256 KB limit",
            line=line,
        )


_QUARTER = MAX_BODY_BYTES // 4
_DUP_CHUNK = 8192


class _DuplicateFilter:
    """Duplicate-id detection in fixed memory.

    A Bloom filter (32 MiB, 4 probes; about one false positive in 40 million-id dumps)
    says "certainly new" for almost every id. An id it may have seen becomes a suspect;
    suspects are confirmed by a second pass over the (re-readable) inputs, so a real
    duplicate is always reported with both places and a false positive never is.
    ``exact=True`` (stdin, which cannot be read twice) keeps every id instead.
    """

    BITS = 1 << 28

    def __init__(self, exact: bool = False) -> None:
        self.exact: dict[str, str] | None = {} if exact else None
        self._bits: Any = None
        self._pending: list[str] = []
        self._early: list[str] = []
        self.suspects: set[str] = set()

    def add(self, mid: str, msg: Message) -> None:
        if self.exact is not None:
            first = self.exact.get(mid)
            if first is not None:
                raise InputError(msg.location, f"duplicate messageId {mid!r} (first at {first})")
            self.exact[mid] = msg.location
            return
        self._pending.append(mid)

    def flush(self) -> None:
        """Check the pending ids against the filter in one vectorised step."""
        ids = list(self._pending)
        if not ids:
            return
        self._pending.clear()
        if self._bits is None and not self._early and len(ids) < _DUP_CHUNK:
            # a small input's only flush (at its end): a set is exact and saves importing
            # numpy and a 32 MiB filter (~0.3 s that a live run would count as latency)
            known: set[str] = set()
            for x in ids:
                if x in known:
                    self.suspects.add(x)
                known.add(x)
            self._early = ids  # a later flush still checks them against the filter
            return
        import numpy as np

        if self._early:
            ids = self._early + ids
            self._early = []
        if self._bits is None:
            self._bits = np.zeros(self.BITS >> 3, dtype=np.uint8)
        bits = self._bits
        h = np.fromiter((hash(x) for x in ids), dtype=np.int64, count=len(ids)).view(np.uint64)
        mask = np.uint64(self.BITS - 1)
        h2 = ((h >> np.uint64(32)) | np.uint64(1)) & mask
        pos = np.stack([(h + np.uint64(i) * h2) & mask for i in range(4)])
        byte = (pos >> np.uint64(3)).astype(np.int64)
        bit = (np.uint8(1) << (pos & np.uint64(7)).astype(np.uint8)).astype(np.uint8)
        seen = np.all((bits[byte] & bit) != 0, axis=0)
        # two equal ids inside one chunk both look new to the filter
        _, first_idx, counts = np.unique(h, return_index=True, return_counts=True)
        if (counts > 1).any():
            dup_h = set(h[first_idx[counts > 1]].tolist())
            seen |= np.fromiter((x in dup_h for x in h.tolist()), dtype=bool, count=len(ids))
        for i in np.flatnonzero(seen).tolist():
            self.suspects.add(ids[i])
        np.bitwise_or.at(bits, byte.ravel(), bit.ravel())


def _confirm_duplicates(spec: InputSpec, suspects: set[str]) -> None:
    first: dict[str, str] = {}
    for msg in _read(spec, None):
        if msg.message_id in suspects:
            if msg.message_id in first:
                raise InputError(
                    msg.location,
                    f"duplicate messageId {msg.message_id!r} (first at {first[msg.message_id]})",
                )
            first[msg.message_id] = msg.location


def read_messages(spec: InputSpec) -> Iterator[Message]:
    """Validated messages from every input, in order, streaming.

    Raises :class:`InputError` naming the file and line/record of the first problem.
    """
    dups = _DuplicateFilter(exact=not spec.rereadable) if spec.check_duplicates else None
    yield from _read(spec, dups)
    if dups is not None:
        dups.flush()
    if dups is not None and dups.suspects:
        _confirm_duplicates(spec, dups.suspects)


def _open(path: str) -> io.TextIOBase:
    if path == "-":
        return sys.stdin  # type: ignore[return-value]
    p = Path(path)
    if not p.is_file():
        raise InputError(path, "no such file" if not p.exists() else "not a regular file")
    try:
        return open(p, encoding="utf-8", newline=None)
    except OSError as exc:
        raise InputError(path, f"cannot open: {exc.strerror}") from None


def _read(spec: InputSpec, dups: _DuplicateFilter | None) -> Iterator[Message]:
    reader = _Reader(dups)
    for path in spec.paths:
        fh = _open(path)
        try:
            yield from _read_one(fh, path, spec.input_format, reader)
        except UnicodeDecodeError as exc:
            raise InputError(path, f"not UTF-8 text ({exc.reason})") from None
        finally:
            if fh is not sys.stdin:
                fh.close()


def _shape(doc: dict[str, Any]) -> tuple[str, bool] | None:
    if "Records" in doc:
        return "Records", True
    if "Messages" in doc:
        return "Messages", False
    return None


def _read_one(fh: Any, path: str, fmt: InputFormat, reader: _Reader) -> Iterator[Message]:
    lineno = 0
    first = ""
    for first in fh:
        lineno += 1
        if first.strip():
            break
    else:
        return
    lambda_shape: bool | None = {"lambda": True, "receive": False}.get(fmt)
    if fmt == "plain":
        yield from _plain(first, lineno, fh, path, reader)
        return
    try:
        head = _loads(first)
    except ValueError:
        head = None
        if first.lstrip().startswith(("{", "[")):
            # A multi-line JSON document: loaded whole (one JSON value cannot be streamed
            # line by line).
            text = first + fh.read()
            try:
                doc = json.loads(text)
            except ValueError as exc:
                raise InputError(path, f"not valid JSON: {exc}") from None
            yield from _document(doc, path, lambda_shape, reader, None)
            return
    if not isinstance(head, dict) or not any(k in head for k in _RECORD_KEYS):
        if fmt != "auto":
            raise InputError(path, "not an SQS record or event (missing messageId)", line=lineno)
        yield from _plain(first, lineno, fh, path, reader)
        return
    # JSON Lines: each line is a record or a whole event.
    yield from _jsonl(head, first, lineno, fh, path, lambda_shape, reader)


def _jsonl(
    obj: Any,
    line_text: str,
    lineno: int,
    fh: Any,
    path: str,
    lambda_shape: bool | None,
    reader: _Reader,
) -> Iterator[Message]:
    loads = _loads
    make = reader.make
    while True:
        if "Records" in obj or "Messages" in obj:
            yield from _document(obj, path, lambda_shape, reader, lineno)
        else:
            yield make(obj, path, "record", lineno, line_text.rstrip("\r\n"), lambda_shape)
        for line_text in fh:
            lineno += 1
            try:
                obj = loads(line_text)
            except ValueError as exc:
                if not line_text.strip():
                    continue
                raise InputError(path, f"not valid JSON: {exc}", line=lineno) from None
            if obj.__class__ is not dict:
                raise InputError(path, "record: a record must be a JSON object", line=lineno)
            break
        else:
            return


def _document(
    doc: Any, path: str, lambda_shape: bool | None, reader: _Reader, line: int | None
) -> Iterator[Message]:
    shape = _shape(doc) if isinstance(doc, dict) else None
    if shape is None:
        raise InputError(path, 'expected {"Records": [...]} or {"Messages": [...]}', line=line)
    key, is_lambda = shape
    records = doc[key]
    if not isinstance(records, list):
        raise InputError(path, f"{key} must be a list", line=line)
    if lambda_shape is None:
        lambda_shape = is_lambda
    for i, rec in enumerate(records):
        yield reader.make(rec, path, f"{key}[{i}]", line, json.dumps(rec), lambda_shape)


def _plain(first: str, lineno: int, fh: Any, path: str, reader: _Reader) -> Iterator[Message]:
    yield reader.plain(first.rstrip("\r\n"), path, lineno)
    for text in fh:
        lineno += 1
        if text.strip():
            yield reader.plain(text.rstrip("\r\n"), path, lineno)


def iter_paths(paths: Iterable[str]) -> tuple[str, ...]:
    return tuple(str(p) for p in paths)
