"""suggest-indexes beyond one candidate at a time: partial indexes only from evidence,
write cost and HOT updates, --verify with other values, thresholds and their messages
(the case-suite schema, on the embedded PostgreSQL in trial mode)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg.conninfo import make_conninfo

from perfkit.indexes.workload import load_workload

CASES_DIR = Path(__file__).parent / "data" / "indexes" / "cases"

FLAGS = """
CREATE TABLE flags (id int PRIMARY KEY, kind text NOT NULL, pad text NOT NULL);
INSERT INTO flags SELECT g, CASE WHEN g % 200 = 0 THEN 'rare' ELSE 'common' END, md5(g::text)
FROM generate_series(1, 60000) AS g;
"""


@pytest.fixture(scope="module")
def db(pg_server: str) -> Iterator[str]:
    name = f"pk_idxs_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(pg_server, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    dsn = make_conninfo(pg_server, dbname=name)
    try:
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute((CASES_DIR / "schema.sql").read_text().encode())
            conn.execute(FLAGS.encode())
            conn.execute("VACUUM ANALYZE")
        yield dsn
    finally:
        with psycopg.connect(pg_server, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _run(dsn: str, statements: list[str], **opts: Any) -> Any:
    from perfkit.db.connect import connect
    from perfkit.db.target import resolve_target
    from perfkit.indexes.advisor import SuggestOptions, suggest_indexes

    conn = connect(resolve_target(dsn, None), statement_timeout="30s", connect_timeout=5)
    try:
        return suggest_indexes(
            conn,
            load_workload(statements=statements),
            SuggestOptions(method="trial", allow_trial=True, **opts),
        )
    finally:
        conn.close()


def _catalog_and_access(dsn: str, sql: str) -> tuple[Any, Any]:
    from perfkit.indexes.catalog import load_catalog
    from perfkit.indexes.shape import analyze_query

    conn = psycopg.connect(dsn)
    catalog = load_catalog(conn)
    shape = analyze_query(sql, catalog)
    return conn, (catalog, shape.accesses[0])


def test_a_constant_seen_in_every_call_earns_a_partial_candidate(db: str) -> None:
    from perfkit.indexes.candidates import candidates_for

    sql = "SELECT id FROM stories WHERE board_id = 42 ORDER BY created_at LIMIT 5"
    wl = load_workload(statements=[sql, sql])
    assert wl.queries[0].fixed == ("42", "5")
    once = load_workload(statements=[sql, sql.replace("42", "43")])
    assert "42" not in once.queries[0].fixed
    conn, (catalog, access) = _catalog_and_access(db, sql)
    try:
        with_evidence = {c.where for c in candidates_for(access, catalog, fixed=("42",))}
        without = {c.where for c in candidates_for(access, catalog)}
    finally:
        conn.close()
    # board_id has 800 values: one statement's 42 is a parameter, not a partial index
    assert "board_id = 42" in with_evidence
    assert without == {None}


def test_a_rare_value_of_a_few_valued_column_earns_a_partial_candidate(db: str) -> None:
    from perfkit.indexes.candidates import candidates_for

    sql = "SELECT id FROM stories WHERE state = 'failed' ORDER BY created_at LIMIT 5"
    conn, (catalog, access) = _catalog_and_access(db, sql)
    try:
        wheres = {c.where for c in candidates_for(access, catalog)}
    finally:
        conn.close()
    assert "state = 'failed'" in wheres


def test_hot_updates_and_write_cost_are_reported_and_weighed(db: str) -> None:
    select = "SELECT id FROM stories WHERE score = 7"
    update = "UPDATE stories SET score = score + 1 WHERE id = 5"
    one = _run(db, [select, update])
    got = {s.columns: s for s in one.suggestions}
    assert ("score",) in got
    w = got[("score",)].write_cost
    assert w is not None and w.breaks_hot and w.updated_columns == ("score",)
    assert 0 < w.ratio < 1 and w.entry_bytes > 0 and w.row_bytes > w.entry_bytes
    # the same UPDATE called 20 times per SELECT: the index costs more than it saves
    many = _run(db, [select] + [update] * 20)
    assert ("score",) not in {s.columns for s in many.suggestions}
    reasons = {n.query: n for n in many.no_suggestion}
    assert reasons["SELECT id FROM stories WHERE score = $1"].code == "write_cost"


def test_an_index_that_does_not_index_an_updated_column_keeps_hot(db: str) -> None:
    result = _run(db, ["UPDATE stories SET score = score + 1 WHERE writer_id = 5"])
    (s,) = result.suggestions
    assert s.columns == ("writer_id",)
    assert s.write_cost is not None and not s.write_cost.breaks_hot


def test_verify_rejects_an_index_that_helps_the_example_only(db: str) -> None:
    result = _run(db, ["SELECT * FROM flags WHERE kind = 'rare'"], verify=True, verify_runs=1)
    assert result.suggestions == ()
    (rej,) = result.rejected
    assert rej.code == "verify_rejected" and "example values only" in rej.reason


def test_verify_reports_other_values_it_helps(db: str) -> None:
    result = _run(db, ["SELECT title FROM stories WHERE writer_id = 77"], verify=True)
    (s,) = result.suggestions
    origins = {v.values for v in s.verification}
    assert origins == {"example", "pg_stats"}
    assert all(v.helps for v in s.verification)
    assert all(v.cost_after is not None and v.cost_before is not None for v in s.verification)


def test_per_query_savings_name_the_whole_set(db: str) -> None:
    sql = (
        "SELECT s.title FROM stories s JOIN writers w ON w.id = s.writer_id "
        "WHERE w.handle = 'hc4ca4238a0b923820dcc509a6f75849b'"
    )
    result = _run(db, [sql])
    names = {s.name for s in result.suggestions}
    assert len(names) == 2
    for s in result.suggestions:
        (pq,) = s.per_query
        assert set(pq.indexes) == names  # the plan uses both
        assert pq.savings >= 0.5


def test_min_savings_of_100_percent_is_accepted_and_never_met_by_rounding(
    db: str, cli: Any
) -> None:
    r = cli(
        "suggest-indexes", "--dsn", db, "--trial", "--min-savings", "100%", "-f", "json",
        "-s", "SELECT id FROM stories WHERE writer_id = 77",
    )  # fmt: skip
    assert r.exit_code == 0, r.stderr
    report = json.loads(r.stdout)
    assert report["suggestions"] == []
    (n,) = report["no_suggestion"]
    assert "(< 100%)" in n["reason"] and "saves 100%" not in n["reason"]


def test_from_stats_error_names_the_option_once(db: str, cli: Any) -> None:
    with psycopg.connect(db, autocommit=True) as conn:  # the embedded cluster has it
        conn.execute("DROP EXTENSION IF EXISTS pg_stat_statements")
    r = cli("suggest-indexes", "--dsn", db, "--from-stats", "--trial")
    assert r.exit_code == 2
    assert r.stderr.count("--from-stats") == 1, r.stderr


@pytest.mark.parametrize(
    ("sql", "eq", "join"),
    [
        # a row comparison is one equality per member
        (
            "SELECT * FROM stories WHERE (writer_id, board_id) = (1, 2)",
            ["writer_id", "board_id"],
            [],
        ),
        # a cast of a jsonb field is an expression key, written as PostgreSQL writes it
        (
            "SELECT id FROM stories WHERE (meta ->> 'ref')::int = 5",
            ["CAST(meta ->> 'ref' AS integer)"],
            [],
        ),
        # arithmetic on a column is no key
        ("SELECT id FROM stories WHERE score + 1 = 5", [], []),
        # a correlated EXISTS: the inner table's filter and its correlation column
        (
            "SELECT id FROM writers w WHERE EXISTS "
            "(SELECT 1 FROM remarks r WHERE r.writer_id = w.id AND r.story_id = 7)",
            ["story_id"],
            ["writer_id"],
        ),
        # LATERAL: the subquery's correlation column is a join key of its table
        (
            "SELECT * FROM writers w, LATERAL (SELECT id FROM remarks r "
            "WHERE r.writer_id = w.id ORDER BY r.id LIMIT 1) x WHERE w.handle = 'h'",
            [],
            ["writer_id"],
        ),
    ],
)
def test_predicates_are_read_from_postgresqls_parse_tree(
    db: str, sql: str, eq: list[str], join: list[str]
) -> None:
    from perfkit.indexes.catalog import load_catalog
    from perfkit.indexes.shape import analyze_query

    with psycopg.connect(db) as conn:
        shape = analyze_query(sql, load_catalog(conn))
    first = shape.accesses[0] if shape.accesses else None
    assert ([k.text for k in first.eq] if first else []) == eq
    assert ([k.text for k in first.join] if first else []) == join


#: modules a suggest-indexes run must not load: PostgreSQL's parser (pglast) reads the
#: statements, and reports are rendered without rich
NOT_ON_THE_SUGGEST_PATH = ("sqlglot", "pandas", "numpy", "scipy", "rich", "matplotlib")


@pytest.mark.parametrize("source", ["file", "statement"])
def test_a_suggest_indexes_process_loads_no_heavy_module(
    db: str, tmp_path: Path, source: str
) -> None:
    import subprocess
    import sys

    sql = "SELECT id, title FROM stories WHERE slug = 's0cc175b9c0f1b6a831c399e269772661'"
    query = tmp_path / "q.sql"
    query.write_text(sql + ";\n")
    loaded = tmp_path / "modules.json"
    inputs = [str(query)] if source == "file" else ["-s", sql]
    argv = ["perfkit", "suggest-indexes", *inputs, "--dsn", db, "--trial", "-f", "json"]
    code = (
        "import atexit, json, sys\n"
        f"atexit.register(lambda: open({str(loaded)!r}, 'w').write(json.dumps(sorted(sys.modules))))\n"
        f"sys.argv = {argv!r}\n"
        "from perfkit.cli import main\n"
        "main()\n"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert run.returncode == 0, run.stderr
    report = json.loads(run.stdout)
    assert [s["columns"] for s in report["suggestions"]] == [["slug"]]  # the real work ran
    modules = set(json.loads(loaded.read_text()))
    assert "perfkit.indexes.advisor" in modules and "pglast" in modules
    heavy = sorted(m for m in modules if m.split(".")[0] in NOT_ON_THE_SUGGEST_PATH)
    assert heavy == []
    assert "pglast.stream" not in modules  # a plain comparison needs no deparser
    if source == "statement":  # -s needs no log reader
        assert not any(m.startswith("perfkit.querylog.readers") for m in modules)
