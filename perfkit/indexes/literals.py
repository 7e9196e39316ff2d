"""The constants of a statement, from PostgreSQL's own lexer (pglast), and the same
statement with other values in their place (``--verify`` with other parameter values)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

_CONST_TOKENS = frozenset(("SCONST", "ICONST", "FCONST", "TRUE_P", "FALSE_P"))
# tokens after which a '-' is a sign, not a subtraction
_BEFORE_SIGN = frozenset(
    ("ASCII_61", "ASCII_60", "ASCII_62", "ASCII_40", "ASCII_44", "LESS_EQUALS")
)


@dataclass(frozen=True)
class Literal:
    start: int  # character offsets in the text, end exclusive
    end: int
    value: str  # the constant's value as text ('it''s' -> it's; -5; true)
    kind: str  # string | number | bool


def _unquote(raw: str) -> str | None:
    if len(raw) >= 2 and raw[0] == "'" and raw[-1] == "'":
        return raw[1:-1].replace("''", "'")
    return None  # E'...', $$...$$, U&'...': kept as they are, never substituted


def literals(sql: str) -> list[Literal]:
    """Constants of ``sql`` in text order; [] when the lexer refuses the text."""
    from pglast import parser

    try:
        tokens = list(parser.scan(sql))
    except Exception:
        return []
    out: list[Literal] = []
    for i, tok in enumerate(tokens):
        if tok.name not in _CONST_TOKENS:
            continue
        raw = sql[tok.start : tok.end + 1]
        start = tok.start
        if tok.name == "SCONST":
            value = _unquote(raw)
            if value is None:
                continue
            kind = "string"
        elif tok.name in ("TRUE_P", "FALSE_P"):
            value, kind = raw.lower(), "bool"
        else:
            value, kind = raw, "number"
            if (
                i >= 2
                and tokens[i - 1].name == "ASCII_45"
                and tokens[i - 2].name in _BEFORE_SIGN | {"AND", "OR", "WHERE", "IN_P", "BETWEEN"}
            ):
                start = tokens[i - 1].start
                value = "-" + raw
        out.append(Literal(start, tok.end + 1, value, kind))
    return out


def constant_values(sql: str) -> tuple[str, ...]:
    return tuple(lit.value for lit in literals(sql))


def _render(lit: Literal, value: str) -> str:
    if lit.kind == "number":
        try:
            float(value)
        except ValueError:
            return "'" + value.replace("'", "''") + "'"
        return value
    return "'" + value.replace("'", "''") + "'"


def substitute(sql: str, replacements: Mapping[int, str]) -> str:
    """``sql`` with its ``i``-th constant (text order) replaced by ``replacements[i]``."""
    lits = literals(sql)
    parts: list[str] = []
    pos = 0
    for i, lit in enumerate(lits):
        if i not in replacements:
            continue
        parts.append(sql[pos : lit.start])
        parts.append(_render(lit, replacements[i]))
        pos = lit.end
    parts.append(sql[pos:])
    return "".join(parts)
