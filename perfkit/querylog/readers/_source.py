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

_CHUNK = 1 << 20

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

    def readable(self) -> bool:
        return True

    def _fill(self) -> None:
        if self._pos >= len(self._buf):
            self._buf = b""
            self._pos = 0
        while not self._buf and not self._done:
            data = self._pending or self._raw.read(_CHUNK)
            self._pending = b""
            if not data:
                if not self._dec.eof:
                    raise TruncatedInput(
                        self._name,
                        f"{self._kind} stream ends early (file truncated or still being written); "
                        "no results are reported for a partial input",
                    )
                self._done = True
                return
            try:
                out = self._dec.decompress(data)
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
                    nxt = self._raw.read(_CHUNK)
                    if nxt:
                        self._dec = _new_decompressor(self._kind)
                        self._pending = nxt
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
            stream = io.BufferedReader(_Prefixed(raw, head), _CHUNK)
        else:
            stream = io.BufferedReader(
                _Decompressing(raw, self.compression, self.name, head), _CHUNK
            )
        # newline='' keeps \r\n inside csv fields intact; the readers strip line ends
        self.text = io.TextIOWrapper(stream, encoding="utf-8", errors="replace", newline="")

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

    def __init__(self, raw: BinaryIO, head: bytes) -> None:
        super().__init__()
        self._raw = raw
        self._head = head

    def readable(self) -> bool:
        return True

    def readinto(self, b: Any) -> int:
        if self._head:
            n = min(len(b), len(self._head))
            b[:n] = self._head[:n]
            self._head = self._head[n:]
            return n
        data = self._raw.read(len(b))
        n = len(data)
        b[:n] = data
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
