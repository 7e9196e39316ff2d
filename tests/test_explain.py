"""perfkit explain on a real PostgreSQL (the embedded server)."""

from __future__ import annotations

import json
from typing import Any

import psycopg
import pytest

SCHEMA = """
CREATE TABLE items (id int PRIMARY KEY, kind int NOT NULL, label text NOT NULL);
INSERT INTO items SELECT g, g % 100, 'item ' || g FROM generate_series(1, 20000) g;
CREATE TABLE fresh (id int, v int);
INSERT INTO fresh SELECT g, g FROM generate_series(1, 20000) g;
ANALYZE items;
"""


@pytest.fixture
def db(scratch_db: str) -> str:
    with psycopg.connect(scratch_db, autocommit=True) as conn:
        conn.execute(SCHEMA.encode())
    return scratch_db


def test_plan_tree_and_seq_scan_finding(db: str, cli: Any) -> None:
    r = cli("explain", "--dsn", db, "-s", "SELECT label FROM items WHERE kind = 7")
    assert r.exit_code == 0, r.stderr
    assert r.stdout.splitlines()[:5] == [
        "perfkit explain",
        "1 queries, 1 findings",
        "[1] SELECT label FROM items WHERE kind = $1",
        "!! -> Seq Scan on items  cost=378 rows=200 (100% of cost)",
        "        Filter: (kind = 7)",
    ]
    flat = " ".join(r.stdout.split())
    assert "1 seq_scan Seq Scan on items reads 20,000 rows and" in flat
    assert "discards 99% (Filter: (kind =" in flat


def test_analyze_runs_dml_rolled_back_and_flags_estimates(db: str, cli: Any) -> None:
    r = cli(
        "explain", "--dsn", db, "--analyze", "-f", "json",
        "-s", "DELETE FROM items WHERE kind = 3",
        "-s", "SELECT * FROM fresh WHERE v < 10",
    )  # fmt: skip
    assert r.exit_code == 0, r.stderr
    report = json.loads(r.stdout)
    delete, fresh = report["queries"]
    assert delete["execution_ms"] is not None
    assert delete["plan"]["Plan"]["Node Type"] == "ModifyTable"
    with psycopg.connect(db) as conn:
        assert conn.execute("SELECT count(*) FROM items WHERE kind = 3").fetchone() == (200,)
    kinds = {f["kind"] for f in fresh["findings"]}
    assert "not_analyzed" in kinds
    assert "seq_scan" in kinds
    estimate = [f for f in fresh["findings"] if f["kind"] == "estimate"]
    assert estimate and estimate[0]["advice"].startswith("ANALYZE")


def test_spill_and_nested_loop_findings(db: str, cli: Any) -> None:
    from perfkit.indexes.explain import findings_for
    from perfkit.indexes.plan import parse_plan

    sql = (
        "SELECT * FROM items a JOIN items b ON a.kind = b.kind AND b.label < a.label "
        "WHERE a.label = 'item 5' ORDER BY b.label"
    )
    with psycopg.connect(db, autocommit=True) as conn:
        conn.execute("SET work_mem = '64kB'")
        conn.execute("SET enable_hashjoin = off")
        conn.execute("SET enable_mergejoin = off")
        from perfkit.indexes.catalog import load_catalog

        catalog = load_catalog(conn)
        found: set[str] = set()
        for q in (sql, "SELECT * FROM items ORDER BY label"):
            row = conn.execute(f"EXPLAIN (ANALYZE, FORMAT JSON) {q}".encode()).fetchone()
            assert row is not None
            found |= {f.kind for f in findings_for(parse_plan(row[0]), catalog, 10_000)}
    assert {"spill", "nested_loop_seq"} <= found


def test_unknown_column_is_reported_and_others_go_on(db: str, cli: Any) -> None:
    r = cli("explain", "--dsn", db, "-s", "SELECT nope FROM items", "-s", "SELECT 1")
    assert r.exit_code == 0, r.stderr
    assert 'could not explain: column "nope" does not exist' in r.stdout
    assert "[2] SELECT $1" in r.stdout


def test_no_queries_is_a_usage_error(db: str, cli: Any) -> None:
    r = cli("explain", "--dsn", db)
    assert r.exit_code == 2
    assert "no queries to work on" in r.stderr


def test_costly_nodes_are_highlighted_only_in_color() -> None:
    from perfkit.indexes.explain import render_tree
    from perfkit.indexes.plan import parse_plan

    plan = parse_plan(
        [
            {
                "Plan": {
                    "Node Type": "Limit",
                    "Startup Cost": 0.0,
                    "Total Cost": 110.0,
                    "Plan Rows": 10,
                    "Plans": [
                        {
                            "Node Type": "Seq Scan",
                            "Relation Name": "t",
                            "Startup Cost": 0.0,
                            "Total Cost": 100.0,
                            "Plan Rows": 10,
                            "Filter": "(a = 1)",
                        }
                    ],
                }
            }
        ]
    )
    plain = render_tree(plan)
    assert plain.splitlines() == [
        "   -> Limit  cost=110 rows=10",
        "!!    -> Seq Scan on t  cost=100 rows=10 (91% of cost)",
        "           Filter: (a = 1)",
    ]
    colored = render_tree(plan, color=True).splitlines()
    assert colored[0] == plain.splitlines()[0]
    assert colored[1] == "\x1b[1;31m" + plain.splitlines()[1] + "\x1b[0m"
