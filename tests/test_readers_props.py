"""Property tests for the parsers of the readers: parameters, prefixes, the SQL splitter."""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from perfkit.querylog.readers import compile_prefix, read_logs, split_sql
from perfkit.querylog.readers._common import (
    _parse_parameters_general,
    format_parameters,
    parse_parameters,
)
from perfkit.querylog.readers._time import TimestampParser

values = st.lists(st.one_of(st.none(), st.text(max_size=30)), min_size=1, max_size=6).map(tuple)


@given(values)
def test_parameters_round_trip(vals: tuple[str | None, ...]) -> None:
    assert parse_parameters(format_parameters(vals)) == vals


# pieces of parameter lists, glued in any order: fast path and general parser must agree
_pieces = st.lists(
    st.sampled_from(["$1", "$2", "$3", "$10", " = ", "'", "''", "a", "NULL", ", ", "...", "x"]),
    max_size=14,
).map("".join)


@given(st.one_of(values.map(format_parameters), _pieces))
def test_parameters_fast_path_agrees_with_the_general_parser(text: str) -> None:
    assert parse_parameters(text) == _parse_parameters_general(text)


@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(values, min_size=1, max_size=4))
def test_parameters_through_a_stderr_log(
    tmp_path: Path, calls: list[tuple[str | None, ...]]
) -> None:
    """Values with quotes, commas and newlines survive PostgreSQL's line wrapping."""
    lines = []
    for i, vals in enumerate(calls):
        prefix = f"2024-05-01 10:00:00.{i:03d} UTC [99] app@shop "
        query = " AND ".join(f"c{n} = ${n}" for n in range(1, len(vals) + 1))
        lines.append(f"{prefix}LOG:  duration: 0.100 ms  execute S_1: SELECT 1 WHERE {query}")
        # PostgreSQL puts a tab after every newline of a message
        lines.append(
            f"{prefix}DETAIL:  parameters: " + format_parameters(vals).replace("\n", "\n\t")
        )
    p = tmp_path / "params.log"
    p.write_bytes(("\n".join(lines) + "\n").encode())
    evs = list(read_logs([p], prefix="%m [%p] %q%u@%d "))
    # "\r" would end a line for any reader of text files; PostgreSQL logs it raw too
    expected = [tuple(None if v is None else v for v in vals) for vals in calls]
    if not any("\r" in (v or "") for vals in calls for v in vals):
        assert [e.params for e in evs] == expected


# -- log_line_prefix compiler --------------------------------------------------------------
NAME = st.text("abcdefghijklmnopqrstuvwxyz0123456789_", min_size=1, max_size=12)
SEPARATORS = [" ", ":", "] ", " [", "@", ",", "|", "-", " user=", ",db=", "=", "/", ": "]
ESCAPES = ["m", "t", "n", "p", "u", "d", "a", "h", "r", "c", "l", "x", "v", "e", "i", "s", "Q"]


@st.composite
def prefixes(draw: st.DrawFn) -> tuple[str, str, str, dict[str, object]]:
    """(log_line_prefix, rendered line for a session, rendered line without session, values)."""
    n = draw(st.integers(1, 7))
    escapes = draw(st.lists(st.sampled_from(ESCAPES), min_size=n, max_size=n, unique=True))
    seps = [draw(st.sampled_from(SEPARATORS)) for _ in escapes]
    q_at = draw(st.integers(0, n))
    vals: dict[str, object] = {
        "pid": draw(st.integers(1, 4_000_000)),
        "user": draw(NAME),
        "db": draw(NAME),
        "app": draw(NAME),
        "host": f"10.0.{draw(st.integers(0, 255))}.{draw(st.integers(0, 255))}",
        "session": f"{draw(st.integers(1, 2**32)):x}.{draw(st.integers(1, 2**16)):x}",
    }
    render = {
        "m": "2024-05-01 10:00:00.123 UTC",
        "t": "2024-05-01 10:00:00 UTC",
        "n": "1714557600.123",
        "p": str(vals["pid"]),
        "u": vals["user"],
        "d": vals["db"],
        "a": vals["app"],
        "h": vals["host"],
        "r": f"{vals['host']}(5432)",
        "c": vals["session"],
        "l": "17",
        "x": "0",
        "v": "3/14",
        "e": "00000",
        "i": "SELECT",
        "s": "2024-05-01 09:00:00 UTC",
        "Q": "-12",
    }
    prefix = full = short = ""
    for i, (esc, sep) in enumerate(zip(escapes, seps, strict=True)):
        if i == q_at:
            prefix += "%q"
        prefix += f"%{esc}{sep}"
        full += f"{render[esc]}{sep}"
        if i < q_at:
            short += f"{render[esc]}{sep}"
    return prefix, full, short, {**vals, "escapes": escapes, "q_at": q_at}


@given(prefixes())
def test_prefix_compiler_recovers_fields(case: tuple[str, str, str, dict[str, object]]) -> None:
    prefix, full, short, vals = case
    cp = compile_prefix(prefix)
    meta_of = cp.meta_getter(TimestampParser(lambda _m: None))
    escapes = vals["escapes"]
    assert isinstance(escapes, list)
    line = full + "LOG:  duration: 1.000 ms  statement: SELECT 1"
    m = cp.regex.match(line) or (cp.slow and cp.slow.match(line))
    assert m, (prefix, line)
    assert m.group("sev") == "LOG" and m.group("msg") == "duration: 1.000 ms  statement: SELECT 1"
    ts, session, pid, user, db, app, client = meta_of(m)
    if "p" in escapes:
        assert pid == vals["pid"]
    if "c" in escapes:
        assert session == vals["session"]
    elif "p" in escapes:
        assert session == str(vals["pid"])
    assert user == (vals["user"] if "u" in escapes else None)
    assert db == (vals["db"] if "d" in escapes else None)
    assert app == (vals["app"] if "a" in escapes else None)
    assert client == (vals["host"] if {"h", "r"} & set(escapes) else None)
    if {"m", "t", "n"} & set(escapes):
        assert isinstance(ts, dt.datetime) and ts.tzinfo is not None
        assert ts.replace(microsecond=0) == dt.datetime(2024, 5, 1, 10, 0, tzinfo=dt.timezone.utc)
    # a background process stops the prefix at %q
    bg = short + "LOG:  checkpoint starting: time"
    assert cp.regex.match(bg) or (cp.slow and cp.slow.match(bg)), (prefix, bg)


# -- SQL splitter ----------------------------------------------------------------------------
WORD = st.sampled_from(["SELECT", "x", "1", "a.b", "$1", "FROM t", "AND", "(", ")", "+", "::int"])
TEXT = st.text(
    st.characters(blacklist_categories=["Cs"], blacklist_characters="\x00\r"), max_size=12
)


@st.composite
def pieces(draw: st.DrawFn) -> str:
    kind = draw(st.integers(0, 6))
    t = draw(TEXT)
    if kind == 0:
        return draw(WORD)
    if kind == 1:
        return "'" + t.replace("'", "''") + "'"
    if kind == 2:
        return "E'" + t.replace("\\", "\\\\").replace("'", "\\'") + "'"
    if kind == 3:
        tag = draw(st.sampled_from(["", "body", "x1"]))
        if f"${tag}$" in t + "$" or t.endswith("$"):
            return "$$ok$$"
        return f"${tag}${t}${tag}$"
    if kind == 4:
        return '"' + t.replace('"', '""') + '"'
    if kind == 5:
        return "-- " + t.replace("\n", " ") + "\n"
    return "/* " + t.replace("*/", "").replace("/*", "") + " /* nested; */ */"


@st.composite
def statements(draw: st.DrawFn) -> str:
    body = " ".join(draw(st.lists(pieces(), min_size=0, max_size=6)))
    return "SELECT " + body


@given(st.lists(statements(), min_size=1, max_size=5), st.sampled_from([";", ";\n", " ;\n\n"]))
def test_sql_splitter(stmts: list[str], sep: str) -> None:
    text = sep.join(stmts) + sep
    # lines as a file reader yields them (str.splitlines would also split at \x0c etc.)
    got = [s for s, _ in split_sql(io.StringIO(text, newline=""))]
    assert got == [s.strip() for s in stmts]


def test_sql_splitter_begin_atomic_and_copy() -> None:
    text = (
        "CREATE FUNCTION f(i int) RETURNS int LANGUAGE sql\n"
        "BEGIN ATOMIC\n  SELECT CASE WHEN i > 0 THEN 1 ELSE 2 END;\n  SELECT 3;\nEND;\n"
        "\\connect other\n"
        "COPY t (a, b) FROM stdin;\n1\tx;y\n2\tz\n\\.\n"
        "SELECT 'a;b' -- c;\n, 2;\n"
    )
    got = split_sql(text.splitlines(keepends=True))
    assert [(s.split()[0], line) for s, line in got] == [("CREATE", 1), ("COPY", 7), ("SELECT", 11)]
