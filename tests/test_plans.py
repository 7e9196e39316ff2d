"""auto_explain plan shapes: text and JSON plans of the same tree hash alike.

The plans come from real PostgreSQL servers (the test server, and the machine's
PostgreSQL 15 with PERFKIT_LOCAL_DSN): EXPLAIN of the same statements
in FORMAT TEXT and FORMAT JSON, laid out as auto_explain logs them.
"""

from __future__ import annotations

import json

import psycopg
import pytest

from perfkit.querylog.fingerprint import Fingerprinter
from perfkit.querylog.plans import PlanCollector, plan_shape

STATEMENTS = [
    "SELECT c.relname, count(*) FROM pg_class c LEFT JOIN pg_attribute a"
    " ON a.attrelid = c.oid GROUP BY c.relname ORDER BY 2 DESC LIMIT 5",
    "SELECT * FROM pg_class WHERE oid = 1259",
    "SELECT n.nspname FROM pg_namespace n WHERE EXISTS"
    " (SELECT 1 FROM pg_class c WHERE c.relnamespace = n.oid AND c.relkind = 'v')",
    "SELECT relname FROM pg_class UNION SELECT typname FROM pg_type",
    "WITH t AS MATERIALIZED (SELECT oid, relname FROM pg_class) SELECT count(*) FROM t t1"
    " JOIN t t2 USING (oid)",
    "SELECT x FROM generate_series(1, 10) x WHERE x > (SELECT 3)",
    "SELECT * FROM (VALUES (1), (2)) v(x) WHERE x NOT IN (SELECT oid::int FROM pg_class)",
    "SELECT relname, rank() OVER (PARTITION BY relkind ORDER BY relpages) FROM pg_class",
    "SELECT oid FROM pg_class EXCEPT SELECT oid FROM pg_type",
    "SELECT s.r FROM (SELECT relname r FROM pg_class ORDER BY relname OFFSET 3) s",
    "SELECT relkind FROM pg_class c WHERE NOT EXISTS"
    " (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid) FOR SHARE OF c",
    "SELECT c.oid FROM pg_class c JOIN pg_index i ON i.indexrelid = c.oid"
    " WHERE c.oid < 3000 ORDER BY c.oid",
    'SELECT 1 FROM pg_class "Pg Class" WHERE "Pg Class".relname = \'x\'',
]


def _plans(dsn: str, sql: str) -> tuple[str, str]:
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("SET statement_timeout = '10s'")
        text_rows = conn.execute(f"EXPLAIN (FORMAT TEXT) {sql}").fetchall()
        json_rows = conn.execute(f"EXPLAIN (FORMAT JSON) {sql}").fetchall()
    text = "\n".join(r[0] for r in text_rows)
    plan = json_rows[0][0]
    plan = plan[0] if isinstance(plan, list) else plan
    # auto_explain: "Query Text: ..." then the plan (text), or one object (json)
    body_text = f"Query Text: {sql}\n{text}"
    body_json = json.dumps({"Query Text": sql, **plan}, indent=2)
    return body_text, body_json


@pytest.fixture(params=["pg_server", "local_pg"])
def server(request: pytest.FixtureRequest) -> str:
    """The test server (PostgreSQL 18), then the machine's PostgreSQL 15 when set."""
    dsn: str = request.getfixturevalue(request.param)
    return dsn


@pytest.mark.parametrize("sql", STATEMENTS)
def test_text_and_json_plans_of_one_tree_have_one_shape(server: str, sql: str) -> None:
    body_text, body_json = _plans(server, sql)
    t = plan_shape("\n" + body_text)
    j = plan_shape("\n" + body_json)
    assert t is not None and j is not None
    assert t[0] == j[0] == sql
    assert t[3] == "text" and j[3] == "json"
    assert t[2] == j[2]  # the same node labels, depth by depth
    assert t[1] == j[1]


def test_costs_and_times_are_not_part_of_the_shape() -> None:
    a = (
        "\nQuery Text: SELECT 1 FROM t\n"
        "Seq Scan on t  (cost=0.00..35.50 rows=2550 width=4) (actual time=0.01..0.2 rows=9 loops=1)"
        "\n  Filter: (x > 1)\nPlanning Time: 0.1 ms"
    )
    b = "\nQuery Text: SELECT 1\n  FROM t\nSeq Scan on t  (cost=1.00..99.00 rows=1 width=4)"
    sa, sb = plan_shape(a), plan_shape(b)
    assert sa is not None and sb is not None
    assert sa[1] == sb[1] and sa[2] == ("Seq Scan on t",)
    assert sb[0] == "SELECT 1\n  FROM t"  # a query text over several lines
    c = plan_shape(
        "\nQuery Text: SELECT 1 FROM t WHERE id = $1\nQuery Parameters: $1 = '7'\n"
        "Index Scan using t_pkey on t  (cost=0.29..8.31 rows=1 width=4)"
    )
    assert c is not None and c[0] == "SELECT 1 FROM t WHERE id = $1"
    assert plan_shape("\n<explain>xml</explain>") is None


def test_plan_changes_are_flagged_in_log_order() -> None:
    pc = PlanCollector(Fingerprinter(), cap=1000)
    seq = "Seq Scan on orders  (cost=0.00..1.00 rows=1 width=4)"
    idx = "Index Scan using orders_customer on orders  (cost=0.29..8.31 rows=1 width=4)"
    for i, node in enumerate([idx, idx, seq, seq, idx]):
        pc.message(
            f"duration: {i + 1}.000 ms  plan:\nQuery Text: SELECT * FROM orders WHERE c = {i}\n"
            f"{node}",
            (None, None, None, None, None, None, None),
            "log",
            i + 1,
        )
    pc.message("duration: 1.0 ms  plan:\n---\nyaml: true", (None,) * 7, "log", 9)
    r = pc.result()
    assert r.plans == 6 and r.unparsed == 1
    (f,) = r.fingerprints
    assert f.plans == 5 and [s.count for s in f.shapes] == [3, 2]
    assert [(c.before, c.after, c.line) for c in f.changes] == [
        ("Index Scan using orders_customer on orders", "Seq Scan on orders", 3),
        ("Seq Scan on orders", "Index Scan using orders_customer on orders", 5),
    ]
    assert f.slowest_ms == 5.0 and "Index Scan" in f.slowest_plan
