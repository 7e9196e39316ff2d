"""Plain ``.sql`` files: statements split on ``;`` the way psql does.

A ``;`` ends a statement only outside string literals (``'..'`` with ``''``,
``E'..'`` with backslash escapes), quoted identifiers, dollar quotes (``$$``,
``$tag$``), comments (``--`` and nested ``/* */``) and ``BEGIN ATOMIC ... END``
bodies of SQL-standard functions. psql meta-commands (``\\connect``) are skipped, and
so is the data of ``COPY ... FROM stdin`` up to ``\\.`` (pg_dump output). The file is
read line by line with a state carried across lines, so size does not matter.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator

from perfkit.querylog.model import LogEvent

_TOKEN = re.compile(
    r"""(?P<lc>--)|(?P<bc>/\*)|(?P<sq>[eE]')|(?P<q>')|(?P<dq>")|(?P<dol>\$(?:[A-Za-z_\x80-\uffff][A-Za-z_0-9\x80-\uffff]*)?\$)|(?P<semi>;)|(?P<word>[A-Za-z_][A-Za-z_0-9$]*)|(?P<ws>[ \t\r\n]+)"""
)
_BLOCK = re.compile(r"/\*|\*/")
_COPY_STDIN = re.compile(r"^\s*COPY\b.*\bFROM\s+stdin\b", re.IGNORECASE | re.DOTALL)
_STATEMENT_START = re.compile(
    r"^\s*(?:SELECT|INSERT|UPDATE|DELETE|WITH|CREATE|ALTER|DROP|BEGIN|COMMIT|ROLLBACK|SET|"
    r"TRUNCATE|COPY|EXPLAIN|VALUES|TABLE|MERGE|GRANT|REVOKE|VACUUM|ANALYZE|CALL|DO|SHOW|"
    r"PREPARE|EXECUTE|DECLARE|FETCH|START|END|LOCK|REINDEX|CLUSTER|COMMENT|\\|--|/\*)",
    re.IGNORECASE,
)


def looks_like_sql(lines: Iterable[str]) -> bool:
    """Is the first non-blank line the start of an SQL statement (or a comment)?"""
    for line in lines:
        if line.strip():
            return _STATEMENT_START.match(line) is not None
    return False


class _Splitter:
    """A streaming SQL splitter; feed lines, collect ``(statement, first_line)``."""

    def __init__(self) -> None:
        self.buf: list[str] = []
        self.start_line = 0
        self.has_code = False
        self.state = ""  # "", "'", "e'", '"', "$tag$", "/*"
        self.depth = 0  # nested /* */ depth
        self.atomic = 0  # BEGIN ATOMIC nesting (CASE ... END inside counts too)
        self.prev_word = ""
        self.first_word = ""
        self.copy_data = False
        self.out: list[tuple[str, int]] = []

    def feed(self, line: str, lineno: int) -> None:
        if self.copy_data:
            if line.rstrip("\r\n") == "\\.":
                self.copy_data = False
            return
        if not self.state and not self.has_code and line.startswith("\\"):
            return  # psql meta-command
        pos = 0
        n = len(line)
        buf = self.buf
        while pos < n:
            st = self.state
            if st:
                pos = self._in_literal(line, pos, lineno)
                continue
            m = _TOKEN.search(line, pos)
            if m is None:
                self._code(line[pos:], lineno)
                break
            if m.start() > pos:
                self._code(line[pos : m.start()], lineno)
            kind = m.lastgroup
            tok = m.group()
            pos = m.end()
            if kind == "ws":
                if buf:
                    buf.append(tok)
            elif kind == "lc":
                nl = line.find("\n", pos)
                end = n if nl < 0 else nl
                if buf:
                    buf.append(line[m.start() : end])
                pos = end
            elif kind == "bc":
                self.state = "/*"
                self.depth = 1
                if buf:
                    buf.append(tok)
            elif kind == "semi":
                if self.atomic:
                    self._code(tok, lineno)
                else:
                    self._end()
            elif kind == "word":
                self._code(tok, lineno)
                self._word(tok.lower())
            else:
                self._code(tok, lineno)
                self.state = (
                    "e'" if kind == "sq" else "'" if kind == "q" else '"' if kind == "dq" else tok
                )

    def _in_literal(self, line: str, pos: int, lineno: int) -> int:
        st = self.state
        buf = self.buf
        if st == "/*":
            while True:
                m = _BLOCK.search(line, pos)
                if m is None:
                    if buf:
                        buf.append(line[pos:])
                    return len(line)
                self.depth += 1 if m.group() == "/*" else -1
                if buf:
                    buf.append(line[pos : m.end()])
                pos = m.end()
                if self.depth == 0:
                    self.state = ""
                    return pos
        if st in ("'", '"'):
            i = line.find(st, pos)
            while i >= 0 and line.startswith(st, i + 1):
                i = line.find(st, i + 2)
            if i < 0:
                buf.append(line[pos:])
                return len(line)
            buf.append(line[pos : i + 1])
            self.state = ""
            return i + 1
        if st == "e'":
            i = pos
            n = len(line)
            while i < n:
                c = line[i]
                if c == "\\":
                    i += 2
                    continue
                if c == "'":
                    if line.startswith("'", i + 1):
                        i += 2
                        continue
                    buf.append(line[pos : i + 1])
                    self.state = ""
                    return i + 1
                i += 1
            buf.append(line[pos:])
            return n
        # dollar quote
        i = line.find(st, pos)
        if i < 0:
            buf.append(line[pos:])
            return len(line)
        buf.append(line[pos : i + len(st)])
        self.state = ""
        return i + len(st)

    def _code(self, text: str, lineno: int) -> None:
        if not self.buf:
            if not text.strip():
                return
            self.start_line = lineno
        self.has_code = True
        self.buf.append(text)

    def _word(self, w: str) -> None:
        if not self.first_word:
            self.first_word = w
        prev = self.prev_word
        self.prev_word = w
        if w == "atomic" and prev == "begin" and self.first_word == "create":
            self.atomic += 1
        elif self.atomic:
            if w == "case":
                self.atomic += 1
            elif w == "end":
                self.atomic -= 1

    def _end(self) -> None:
        if self.has_code:
            text = "".join(self.buf).strip()
            if text:
                self.out.append((text, self.start_line))
                if _COPY_STDIN.match(text):
                    self.copy_data = True
        self.buf.clear()  # in place: feed() holds a reference
        self.has_code = False
        self.prev_word = ""
        self.first_word = ""
        self.atomic = 0

    def close(self) -> None:
        if self.state not in ("", "/*"):
            # unterminated literal: keep the text as one statement
            self.state = ""
        self.state = ""
        self._end()


def split_sql(lines: Iterable[str]) -> Iterator[tuple[str, int]]:
    """``(statement, first line)`` for each statement of an SQL script (lines with ends)."""
    sp = _Splitter()
    out = sp.out
    for lineno, line in enumerate(lines, 1):
        sp.feed(line, lineno)
        if out:
            yield from out
            out.clear()
    sp.close()
    yield from out


def read_sql(lines: Iterable[str], source: str) -> Iterator[LogEvent]:
    for text, line in split_sql(lines):
        yield LogEvent(None, None, text, source, line, protocol="file")
