"""Open a log (file or stdin), decompress it transparently and hand out text lines.

Compression is recognised by magic bytes (not the file name), so ``log.1`` that is
really gzip works, and so does a compressed stdin. Every decompressor reports whether
its stream ended properly: an input that stops early raises :class:`TruncatedInput`
instead of silently yielding a partial log.
"""

from __future__ import annotations

import bz2
import io
import sys
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

from perfkit.errors import InputError, TruncatedInput
from perfkit.querylog.readers.limits import MAX_RECORD_BYTES, too_long

_CHUNK = 1 << 20
_ZSTD_IN = 1 << 10
_MAX_RUN = MAX_RECORD_BYTES + 1  # a line's text, and a '\r' before its '\n'

_MAGIC = (
    (b"\x1f\x8b", "gzip"),
    (b"BZh", "bz2"),
    (b"\x28\xb5\x2f\xfd", "zstd"),
)


def _new_decompressor(kind: str) -> Any:
    if kind == "gzip":
        return zlib.decompressobj(16 + zlib.MAX_WBITS)
    if kind == "bz2":
        return bz2.BZ2Decompressor()
    import zstandard

    return zstandard.ZstdDecompressor().decompressobj()


class _LineGuard:
    """Raises when a line grows past :data:`MAX_RECORD_BYTES` (one check per read of up
    to a megabyte, so the text layer above never buffers an unbounded line)."""

    __slots__ = ("name", "offset", "run")

    def __init__(self, name: str) -> None:
        self.name = name
        self.run = 0  # bytes since the last line break
        self.offset = 0  # bytes seen before the current read

    def feed(self, data: bytes) -> None:
        n = len(data)
        first = data.find(b"\n")
        if first < 0:
            first = data.find(b"\r")
        if first < 0:
            if self.run + n > _MAX_RUN:
                raise too_long(self.name, self.offset - self.run)
            self.run += n
        else:
            if self.run + first > _MAX_RUN:
                raise too_long(self.name, self.offset - self.run)
            last = data.rfind(b"\n")
            if last < 0:
                last = data.rfind(b"\r")
            self.run = n - last - 1
            if self.run > _MAX_RUN:
                raise too_long(self.name, self.offset + last + 1)
        self.offset += n


class _Decompressing(io.RawIOBase):
    """A raw stream over a compressed one; multi-member/multi-frame aware."""

    def __init__(self, raw: BinaryIO, kind: str, name: str, head: bytes) -> None:
        super().__init__()
        self._raw = raw
        self._kind = kind
        self._name = name
        self._pending = head
        self._dec: Any = _new_decompressor(kind)
        self._buf = b""
        self._pos = 0  # read offset into _buf (slicing the rest off would copy it each time)
        self._done = False
        self._guard = _LineGuard(name)
        self._more = False
        # one zstd block (<= 128 kB) can come from a few bytes: 1 kB in, <= 32 MB out
        self._in_size = _ZSTD_IN if kind == "zstd" else _CHUNK

    def readable(self) -> bool:
        return True

    def _fill(self) -> None:
        if self._pos >= len(self._buf):
            self._buf = b""
            self._pos = 0
        while not self._buf and not self._done:
            if self._more:
                data = b""  # bz2 holds more output for the input it has
            else:
                data = self._pending or self._raw.read(self._in_size)
                self._pending = b""
                if not data:
                    if not self._dec.eof:
                        raise TruncatedInput(
                            self._name,
                            f"{self._kind} stream ends early (file truncated or still being "
                            "written); no results are reported for a partial input",
                        )
                    self._done = True
                    return
            # at most _CHUNK bytes of output per call: a small input can expand a
            # thousandfold (a compressed /dev/zero), memory must not follow
            dec = self._dec
            try:
                if self._kind == "gzip":
                    out = dec.decompress(data, _CHUNK)
                    if dec.unconsumed_tail:
                        self._pending = dec.unconsumed_tail
                elif self._kind == "bz2":
                    out = dec.decompress(data, max_length=_CHUNK)
                    self._more = not dec.eof and not dec.needs_input
                else:  # zstandard has no output limit: its input comes in small pieces
                    out = dec.decompress(data)
            except (OSError, EOFError, zlib.error, ValueError) as exc:
                raise InputError(self._name, f"corrupt {self._kind} data: {exc}") from exc
            except Exception as exc:  # zstandard.ZstdError is not an OSError
                raise InputError(self._name, f"corrupt {self._kind} data: {exc}") from exc
            if self._dec.eof:
                rest = self._dec.unused_data
                if rest.strip(b"\x00"):
                    # another gzip member / zstd frame follows
                    self._dec = _new_decompressor(self._kind)
                    self._pending = rest
                elif not rest:
                    # next read decides: either EOF (fine) or a new member
                    nxt = self._raw.read(self._in_size)
                    if nxt:
                        self._dec = _new_decompressor(self._kind)
                        self._pending = nxt
            self._guard.feed(out)
            self._buf = out

    def readinto(self, b: Any) -> int:
        self._fill()
        pos = self._pos
        n = min(len(b), len(self._buf) - pos)
        b[:n] = memoryview(self._buf)[pos : pos + n]
        self._pos = pos + n
        return n


class Source:
    """One opened input: ``lines()`` yields decoded text lines (newline kept)."""

    def __init__(self, path: str | Path) -> None:
        self.name = "<stdin>" if str(path) == "-" else str(path)
        self.path = path
        raw: BinaryIO
        if str(path) == "-":
            raw = sys.stdin.buffer
            self._close = False
        else:
            p = Path(path)
            if p.is_dir():
                raise InputError(self.name, "is a directory, expected a log file")
            try:
                raw = p.open("rb")
            except FileNotFoundError:
                raise InputError(self.name, "no such file") from None
            except OSError as exc:
                raise InputError(self.name, f"cannot open: {exc.strerror or exc}") from exc
            self._close = True
        self._raw = raw
        head = raw.read(4)
        self.compression = "none"
        for magic, kind in _MAGIC:
            if head.startswith(magic):
                self.compression = kind
                break
        stream: io.BufferedIOBase
        if self.compression == "none":
            stream = io.BufferedReader(_Prefixed(raw, head, self.name), _CHUNK)
        else:
            stream = io.BufferedReader(
                _Decompressing(raw, self.compression, self.name, head), _CHUNK
            )
        # newline='' keeps \r\n inside csv fields intact; the readers strip line ends
        self.text = io.TextIOWrapper(stream, encoding="utf-8", errors="replace", newline="")

    @property
    def raw(self) -> BinaryIO:
        """The file as opened (compressed bytes, if it is): its ``tell()`` is how far
        the input has been read (progress, ranges of a compressed log)."""
        return self._raw

    @property
    def plain_name(self) -> str:
        """The file name without a compression suffix (for ``.sql`` detection)."""
        name = self.name
        for suffix in (".gz", ".bz2", ".zst", ".zstd"):
            if name.endswith(suffix):
                return name[: -len(suffix)]
        return name

    def close(self) -> None:
        if self._close:
            self._raw.close()


class _Prefixed(io.RawIOBase):
    """A raw stream that first returns bytes already read for sniffing."""

    def __init__(self, raw: BinaryIO, head: bytes, name: str) -> None:
        super().__init__()
        self._raw = raw
        self._head = head
        self._guard = _LineGuard(name)

    def readable(self) -> bool:
        return True

    def readinto(self, b: Any) -> int:
        if self._head:
            n = min(len(b), len(self._head))
            b[:n] = self._head[:n]
            self._guard.feed(self._head[:n])
            self._head = self._head[n:]
            return n
        data = self._raw.read(len(b))
        n = len(data)
        b[:n] = data
        self._guard.feed(data)
        return n


def peek_lines(it: Iterator[str], n: int, max_chars: int = 4 << 20) -> list[str]:
    """Read up to ``n`` lines (bounded in characters) for format detection."""
    head: list[str] = []
    size = 0
    for line in it:
        head.append(line)
        size += len(line)
        if len(head) >= n or size >= max_chars:
            break
    return head
