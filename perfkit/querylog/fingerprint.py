"""Query fingerprints: one id per statement shape, whatever its constants and layout.

The id comes from libpg_query's fingerprint (``pglast.parser.fingerprint``, the real
PostgreSQL parser, a few microseconds per call): constants and ``$n`` parameters are
ignored, IN-lists of any length are one shape, whitespace, keyword case and comments do
not matter. Text the PostgreSQL parser rejects (a statement cut by the log's length
limit, non-SQL lines) falls back to :func:`regex_normalize`, which never raises; such ids
start with ``r`` and :attr:`Fingerprint.method` is ``"regex"``.

:class:`Fingerprinter` memoises per exact statement text (bounded), so logs that repeat
exact texts (prepared statements, ORMs) pay for parsing once.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Literal

__all__ = [
    "Fingerprint",
    "Fingerprinter",
    "display_text",
    "fingerprint",
    "regex_normalize",
    "strip_block_comments",
]

Method = Literal["pglast", "regex"]


@dataclass(frozen=True, slots=True)
class Fingerprint:
    """``id``: 16 hex digits (``r`` + 15 for the regex fallback); ``query``: the
    normalised text shown to users (constants as ``$n``)."""

    id: str
    query: str
    method: Method


# One tokenizer for both the fallback normaliser and the display clean-up. Alternatives
# are tried left to right at each position, so a quote inside a comment (or a comment
# marker inside a string) is never mistaken for the other.
_TOKENS = re.compile(
    r"""
      (?P<comment>--[^\n]*|/\*.*?(?:\*/|\Z))
    | (?P<ident>"(?:[^"]|"")*(?:"|\Z))
    | (?P<dollar>\$(?P<tag>(?:[A-Za-z_][A-Za-z_0-9]*)?)\$.*?(?:\$(?P=tag)\$|\Z))
    | (?P<estr>[eE]'(?:[^'\\]|\\.|'')*(?:'|\Z))
    | (?P<str>(?:[bBxXnN]|[uU]&)?'(?:[^']|'')*(?:'|\Z))
    | (?P<num>\$\d+|(?<![\w.$])(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?(?![\w$]))
    | (?P<ws>\s+)
    """,
    re.S | re.X,
)
_LIST = re.compile(r"\(\s*\?(?:\s*,\s*\?)+\s*\)")
_ROWS = re.compile(r"(\(\s*\?(?:\s*,\s*\?)*\s*\))(?:\s*,\s*\(\s*\?(?:\s*,\s*\?)*\s*\))+")
# Blanked with NUL (never in a statement); the memo key is not shown to anyone.
# (the same matches as ``'(?:[^']|'')*'|\b\d+(?:\.\d+)?(?:[eE][-+]?\d+)?``, written
# to start from one character class: twice as fast, and it runs on every statement)
_LITERALS = re.compile(
    r"[\d'](?:(?<=')[^']*(?:''[^']*)*'|(?<=\d)(?<!\w\d)\d*(?:\.\d+)?(?:[eE][-+]?\d+)?)"
)
_PARAM_LIST = re.compile(r"\(\s*(\$\d+)(?:\s*,\s*\$\d+)+\s*\)")
_PARAM_ROWS = re.compile(r"(\(\$\d+(?:, \.\.\.)?\))(?:\s*,\s*\(\$\d+(?:, \.\.\.)?\))+")


# where a block comment, quoted text or a line comment starts (block comments nest in
# PostgreSQL: "/* a /* b */ c */" is one comment, which a regex alone cannot match)
_QUOTED_OR_COMMENT = re.compile(
    r"""
      (?P<open>/\*)
    | --[^\n]*
    | "(?:[^"]|"")*(?:"|\Z)
    | \$(?P<tag>(?:[A-Za-z_][A-Za-z_0-9]*)?)\$.*?(?:\$(?P=tag)\$|\Z)
    | [eE]'(?:[^'\\]|\\.|'')*(?:'|\Z)
    | '(?:[^']|'')*(?:'|\Z)
    """,
    re.S | re.X,
)
_COMMENT_EDGE = re.compile(r"/\*|\*/")


def strip_block_comments(sql: str) -> str:
    """Block comments (nested ones too) -> one space; quoted text is left alone."""
    if "/*" not in sql:
        return sql
    out: list[str] = []
    pos = 0
    search = _QUOTED_OR_COMMENT.search
    edge = _COMMENT_EDGE.search
    while True:
        m = search(sql, pos)
        if m is None:
            break
        if m.group("open") is None:
            out.append(sql[pos : m.end()])
            pos = m.end()
            continue
        out.append(sql[pos : m.start()])
        depth, at = 1, m.end()
        while depth:
            e = edge(sql, at)
            if e is None:
                at = len(sql)  # unterminated: the rest is comment
                break
            depth += 1 if e.group() == "/*" else -1
            at = e.end()
        out.append(" ")
        pos = at
    out.append(sql[pos:])
    return "".join(out)


def _fallback_token(m: re.Match[str]) -> str:
    kind = m.lastgroup
    if kind == "ident":
        return m.group()
    if kind in ("comment", "ws"):
        return " "
    return "?"


def regex_normalize(sql: str) -> str:
    """Constants -> ``?``, comments dropped, whitespace collapsed, lists collapsed,
    lower-cased outside quoted identifiers. Total: never raises, any input."""
    text = _TOKENS.sub(_fallback_token, strip_block_comments(sql))
    if '"' in text:
        parts = re.split(r'("(?:[^"]|"")*"?)', text)
        text = "".join(p if p.startswith('"') else p.lower() for p in parts)
    else:
        text = text.lower()
    text = _ROWS.sub(r"\1", text)
    text = _LIST.sub("(?)", text)
    return " ".join(text.split()).rstrip("; ")


def _display_token(m: re.Match[str]) -> str:
    kind = m.lastgroup
    if kind in ("comment", "ws"):
        return " "
    return m.group()


def display_text(normalized: str) -> str:
    """Tidy pglast's normalised text for display: no comments, single spaces, and
    ``IN ($1, $2, $3)`` shown as ``IN ($1, ...)``."""
    text = _TOKENS.sub(_display_token, strip_block_comments(normalized))
    text = _PARAM_LIST.sub(r"(\1, ...)", text)
    text = _PARAM_ROWS.sub(r"\1, ...", text)
    return " ".join(text.split()).rstrip("; ")


_DRIVER_PARAM = re.compile(r"%(?:\([A-Za-z_][A-Za-z_0-9]*\))?s|%%")


def _driver_placeholders(sql: str) -> str | None:
    """Statements logged by applications may carry the driver's placeholders (psycopg
    ``%s``/``%(name)s``); rewrite them as ``$n`` so PostgreSQL's parser accepts them.
    None when there is nothing to rewrite."""
    if "%" not in sql:
        return None
    n = 0

    def repl(m: re.Match[str]) -> str:
        nonlocal n
        if m.group() == "%%":
            return "%"
        n += 1
        return f"${n}"

    out = _DRIVER_PARAM.sub(repl, sql)
    return out if n else None


def _regex_fingerprint(sql: str) -> Fingerprint:
    norm = regex_normalize(sql)
    digest = hashlib.blake2b(norm.encode("utf-8", "surrogatepass"), digest_size=8).hexdigest()
    return Fingerprint("r" + digest[:15], norm, "regex")


class Fingerprinter:
    """Fingerprint statements, memoised per exact text (at most ``memo_size`` texts;
    the memo is dropped and rebuilt when full, which keeps the hot path a dict lookup).

    ``by_id`` keeps the first :class:`Fingerprint` seen for each id, so the displayed
    text of a fingerprint is stable for the whole run.
    """

    __slots__ = ("_memo", "_memo_size", "_pg_fingerprint", "_pg_normalize", "by_id")

    def __init__(self, memo_size: int = 50_000) -> None:
        from pglast import parser

        self._pg_fingerprint = parser.fingerprint
        self._pg_normalize = parser.normalize
        self._memo: dict[str, Fingerprint] = {}
        self._memo_size = memo_size
        self.by_id: dict[str, Fingerprint] = {}

    def __call__(self, sql: str) -> Fingerprint:
        memo = self._memo
        fp = memo.get(sql)
        if fp is not None:
            return fp
        # Simple-protocol logs repeat shapes with new constants: key the memo on the text
        # with its literals blanked too (half the cost of parsing). Only for text without
        # quoted identifiers, dollar quotes, escapes or comments, where blanking literals
        # can never merge two statements the parser would tell apart -- and without
        # FLOAT(p), whose precision the grammar turns into a type (float4 or float8).
        key = None
        if not (
            '"' in sql
            or "$" in sql
            or "\\" in sql
            or "--" in sql
            or "/*" in sql
            or "float" in sql.lower()
        ):
            key = _LITERALS.sub("\x00", sql)
            fp = memo.get(key)
            if fp is not None:
                return fp
        fp = self._fingerprint(sql)
        if len(memo) >= self._memo_size:
            memo.clear()
        memo[sql] = fp
        if key is not None:
            memo[key] = fp
        return fp

    def _fingerprint(self, sql: str) -> Fingerprint:
        fp: Fingerprint | None
        try:
            fid: str = self._pg_fingerprint(sql)
        except Exception:  # pglast raises ParseError, and others on odd input
            converted = _driver_placeholders(sql)
            if converted is not None:
                return self._fingerprint(converted)
            fp = _regex_fingerprint(sql)
            return self.by_id.setdefault(fp.id, fp)
        fp = self.by_id.get(fid)
        if fp is None:
            try:
                query = display_text(self._pg_normalize(sql))
            except Exception:  # normalise failed where fingerprint did not
                query = regex_normalize(sql)
            fp = self.by_id[fid] = Fingerprint(fid, query, "pglast")
        return fp


_default: Fingerprinter | None = None


def fingerprint(sql: str) -> Fingerprint:
    """Fingerprint one statement with a process-wide memo (not thread-safe to mutate
    concurrently; create a :class:`Fingerprinter` per thread for heavy parallel use)."""
    global _default
    if _default is None:
        _default = Fingerprinter()
    return _default(sql)
