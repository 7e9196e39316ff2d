"""Fingerprints: invariant to layout and constants; the regex fallback is total."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from perfkit.querylog.fingerprint import Fingerprinter, fingerprint, regex_normalize


def test_constants_and_parameters_become_placeholders() -> None:
    a = fingerprint("SELECT * FROM users WHERE id = 42 AND name = 'bob'")
    b = fingerprint("SELECT * FROM users WHERE id = $1 AND name = $2")
    assert a.id == b.id and a.method == "pglast"
    assert a.query == "SELECT * FROM users WHERE id = $1 AND name = $2"


def test_in_lists_of_any_length_collapse() -> None:
    one = fingerprint("SELECT * FROM t WHERE id IN (1)")
    many = fingerprint("SELECT * FROM t WHERE id IN (1, 2, 3, 4, 5, 6)")
    assert one.id == many.id
    assert many.query.endswith("IN ($1, ...)") or many.query.endswith("IN ($1)")


def test_different_shapes_differ() -> None:
    assert fingerprint("SELECT a FROM t").id != fingerprint("SELECT b FROM t").id
    assert fingerprint("SELECT a FROM t").id != fingerprint("SELECT a FROM u").id


def test_unparseable_text_falls_back_to_regex_and_is_marked() -> None:
    cut = fingerprint("SELECT * FROM t WHERE note = 'this statement was cut by the log")
    assert cut.method == "regex" and cut.id.startswith("r") and len(cut.id) == 16
    assert cut.query == "select * from t where note = ?"
    again = fingerprint("SELECT  *  FROM t WHERE note = 'another value cut")
    assert again.id == cut.id


def test_memo_is_bounded() -> None:
    fpr = Fingerprinter(memo_size=10)
    for i in range(100):
        fpr(f"SELECT {i} FROM t{i % 3}")
    assert len(fpr._memo) <= 10
    assert len(fpr.by_id) == 3


def test_real_statements_from_the_corpus(corpora: Path) -> None:
    """Every statement of the CloudNativePG log fingerprints with the real parser."""
    statements = []
    with gzip.open(corpora / "cnpg.log.gz", "rt") as f:
        for line in f:
            msg = json.loads(line).get("record", {}).get("message", "")
            if "statement: " in msg:
                statements.append(msg.split("statement: ", 1)[1])
    assert len(statements) == 400
    fps = [fingerprint(s) for s in statements]
    assert all(fp.method == "pglast" for fp in fps if fp.query.strip(" ;"))
    assert len({fp.id for fp in fps}) < 40  # 400 monitoring statements, few shapes


# --- properties -------------------------------------------------------------------------

idents = st.sampled_from(["id", "name", "created_at", "total", "owner_id"])
values = st.one_of(
    st.integers(0, 10**9).map(str),
    st.text(alphabet="abc xyz'-_%", max_size=12).map(lambda s: "'" + s.replace("'", "''") + "'"),
    st.floats(0, 1e6, allow_nan=False).map(lambda f: f"{f:.3f}"),
)
spaces = st.sampled_from([" ", "  ", "\n", "\t", " /* c */ ", " -- note\n"])


@st.composite
def statements(draw: st.DrawFn) -> tuple[str, str]:
    """The same shape twice, with different layout, case, comments and constants."""
    col, col2 = draw(idents), draw(idents)
    n1, n2 = draw(st.integers(1, 8)), draw(st.integers(1, 8))

    def render(n: int) -> str:
        kw = draw(st.sampled_from([str.upper, str.lower, str.title]))
        sp = draw(spaces)
        vals = ", ".join(draw(values) for _ in range(n))
        return (
            f"{kw('select')}{sp}{col}{sp}{kw('from')} orders{sp}{kw('where')} {col2} = "
            f"{draw(values)}{sp}{kw('and')} {col} {kw('in')} ({vals})"
        )

    return render(n1), render(n2)


@settings(max_examples=150, deadline=None)
@given(pair=statements())
def test_fingerprint_invariant_to_layout_case_comments_constants_and_list_length(
    pair: tuple[str, str],
) -> None:
    a, b = pair
    fa, fb = fingerprint(a), fingerprint(b)
    assert fa.method == fb.method == "pglast"
    assert fa.id == fb.id


@settings(max_examples=300, deadline=None)
@given(text=st.text(max_size=200))
def test_regex_fallback_is_total(text: str) -> None:
    out = regex_normalize(text)
    assert isinstance(out, str)
    fp = fingerprint(text)  # never raises either
    assert len(fp.id) == 16


@settings(max_examples=150, deadline=None)
@given(pair=statements())
def test_regex_fallback_ignores_constants_layout_and_list_length(pair: tuple[str, str]) -> None:
    a, b = pair
    assert regex_normalize(a) == regex_normalize(b)


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        ("SELECT $$x; y$$, E'a\\'b', 'it''s' FROM \"T\" -- c", 'select ?, ?, ? from "T"'),
        ("INSERT INTO t VALUES (1, 2), (3, 4)", "insert into t values (?)"),
        ("select t1.c2 from t1 where x = -1.5e3", "select t1.c2 from t1 where x = -?"),
    ],
)
def test_regex_normalize_examples(sql: str, expected: str) -> None:
    assert regex_normalize(sql) == expected


def test_memo_never_merges_statements_the_parser_tells_apart() -> None:
    fpr = Fingerprinter()
    pairs = [
        ("SELECT * FROM t1 WHERE a = 1", "SELECT * FROM t2 WHERE a = 1"),
        ('SELECT "1" FROM t', 'SELECT "2" FROM t'),
        ("SELECT $x$1$x$ FROM t", "SELECT $x$1$x$ FROM u"),
        ("SELECT 1 -- t\n FROM a", "SELECT 1 -- t\n FROM b"),
        ("SELECT a1 FROM t", "SELECT a2 FROM t"),
        ("SELECT a::float(24) FROM t", "SELECT a::float(53) FROM t"),
    ]
    for a, b in pairs:
        assert fpr(a).id != fpr(b).id, (a, b)
    assert fpr("SELECT * FROM t1 WHERE a = 2").id == fpr("SELECT * FROM t1 WHERE a = 1").id


def test_driver_placeholders_from_application_logs() -> None:
    a = fingerprint("SELECT abalance FROM pgbench_accounts WHERE aid = %s")
    b = fingerprint("SELECT abalance FROM pgbench_accounts WHERE aid = %(aid)s")
    c = fingerprint("SELECT abalance FROM pgbench_accounts WHERE aid = 5")
    assert a.method == b.method == "pglast"
    assert a.id == b.id == c.id


piece = st.sampled_from(
    [
        "t1", "t2", "a1", "a2", "1", "2", "1.5", "'x'", "'y''z'", "::int", "::float(24)",
        "::float(53)", "::varchar(9)", " ", ", ", " = ", " + ", "-", "(", ")", "[1]", "e5",
        "in", "limit", "and", "select", "from", "where",
    ]
)  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(parts=st.lists(st.lists(piece, min_size=1, max_size=12), min_size=2, max_size=8))
def test_memo_agrees_with_the_parser(parts: list[list[str]]) -> None:
    """Whatever the memo returns is what libpg_query says for that exact text."""
    from pglast import parser

    fpr = Fingerprinter()
    for p in parts:
        sql = "SELECT " + "".join(p) + " FROM t1"
        try:
            expected = parser.fingerprint(sql)
        except Exception:
            continue
        assert fpr(sql).id == expected, sql


@settings(max_examples=300)
@given(text=st.one_of(st.lists(piece, max_size=20).map("".join), st.text(max_size=60)))
def test_memo_literal_pattern_is_the_readable_one(text: str) -> None:
    """The memo key's literal pattern is written for speed; it blanks exactly what the
    plain pattern (quoted strings, numbers not inside words) blanks."""
    import re

    from perfkit.querylog.fingerprint import _LITERALS

    readable = re.compile(r"'(?:[^']|'')*'|\b\d+(?:\.\d+)?(?:[eE][-+]?\d+)?")
    assert _LITERALS.sub("\x00", text) == readable.sub("\x00", text)


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT /* a /* b */ c */ id FROM t WHERE id = 1",
        "SELECT /* a /* b /* deep */ */ c */ id FROM t WHERE id = 2",
        "SELECT id /* one */ FROM t /* two /* three */ four */ WHERE id = 3",
    ],
)
def test_nested_comments_do_not_leak_into_the_text(sql: str) -> None:
    """PostgreSQL's block comments nest: all of ``/* a /* b */ c */`` is comment."""
    from perfkit.querylog.fingerprint import display_text, strip_block_comments

    fp = Fingerprinter()(sql)
    assert fp.method == "pglast"
    assert fp.query == "SELECT id FROM t WHERE id = $1"
    for text in (fp.query, regex_normalize(sql), display_text(sql), strip_block_comments(sql)):
        assert "*/" not in text and "/*" not in text
        for word in ("c", "four", "deep"):
            assert f" {word} " not in f" {text} "
    # the regex fallback (text the parser rejects) drops the whole comment too
    cut = sql + " AND ("
    assert Fingerprinter()(cut).method == "regex"
    assert regex_normalize(cut) == "select id from t where id = ? and ("


def test_comment_markers_inside_quotes_are_text() -> None:
    from perfkit.querylog.fingerprint import strip_block_comments

    sql = "SELECT '/* not a comment', \"a/*b\", $$ /* $$ /* real */ FROM t"
    assert strip_block_comments(sql) == "SELECT '/* not a comment', \"a/*b\", $$ /* $$   FROM t"
    assert strip_block_comments("SELECT 1 /* open /* never closed") == "SELECT 1  "
