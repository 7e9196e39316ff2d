"""perfkit demo end to end on the embedded cluster (small sizes: the full demo is ~1 min)."""

from __future__ import annotations

import json
from typing import Any

import psycopg


def _databases(admin: str) -> set[str]:
    with psycopg.connect(admin) as conn:
        return {r[0] for r in conn.execute("SELECT datname FROM pg_database")}


def test_demo_runs_every_tool_and_cleans_up(pg_server: str, cli: Any) -> None:
    from perfkit.db import embedded

    before = _databases(pg_server)
    r = cli(
        "demo", "--leads", "10000", "--statements", "200", "--pool-requests", "40", "-f", "json"
    )
    assert r.exit_code == 0, r.stderr
    report = json.loads(r.stdout)
    assert report["kind"] == "demo"
    assert report["log_events"] >= 200  # the workload came back through the log reader
    assert report["analyze"]["fingerprints"] >= 8
    statements = {s["statement"] for s in report["suggest_indexes"]["suggestions"]}
    assert (
        "CREATE INDEX CONCURRENTLY activities_lead_id_idx ON public.activities (lead_id)"
        in statements
    )
    verified = [v for s in report["suggest_indexes"]["suggestions"] for v in s["verification"]]
    assert verified and all(v["after_ms"] < v["before_ms"] for v in verified)
    assert report["pool"]["recommended_pool_size"] >= 1
    assert _databases(pg_server) == before  # the demo database is gone
    assert embedded.status().running  # it was running (the fixture started it): still is


_SMALL = ("demo", "--leads", "10000", "--statements", "200", "--no-pool", "-f", "json")


def test_demo_stats_calls_equal_the_log_per_fingerprint(pg_server: str, cli: Any) -> None:
    from perfkit.db import embedded

    # the premise: no eviction during the workload. Earlier tests may have filled the view of
    # this private test cluster (pg_stat_statements.max distinct statements): start it empty
    with psycopg.connect(embedded.ensure_running(), autocommit=True) as conn:
        conn.execute("SELECT pg_stat_statements_reset()")
    r = cli(*_SMALL)
    assert r.exit_code == 0, r.stderr
    report = json.loads(r.stdout)
    stats = report["stats"]
    assert stats["status"] == "complete" and stats["complete"] and stats["problems"] == []
    by_fp = {row["fingerprint"]: row for row in stats["rows"]}
    # every statement the workload made (the 8 of the mix and the session's SET that turns
    # logging on) is in both paths, with exactly the same number of calls
    logged = [row for row in stats["rows"] if row["log_calls"] is not None]
    assert len(logged) == 9
    for row in logged:
        assert row["calls"] == row["log_calls"], row
        assert row["agrees"]
    assert sum(row["log_calls"] for row in logged) == report["log_events"] == 201
    for top in report["analyze"]["top"]:
        assert by_fp[top["id"]]["calls"] == top["calls"]
    agreement = stats["agreement"]
    assert agreement["differ"] == [] and agreement["log_only"] == []
    assert agreement["equal"] == agreement["joined"] == 9
    # the RESET that turns logging off again runs unlogged: pg_stat_statements alone sees it
    only = [by_fp[fp]["query"] for fp in agreement["stats_only"]]
    assert only == ["RESET log_min_duration_statement"]
    assert stats["calls"] == 202 and stats["queries"] == 10
    assert stats["top"][0] in {row["fingerprint"] for row in logged}


def test_demo_stats_partial_without_pg_stat_statements(
    pg_server: str, cli: Any, monkeypatch: Any
) -> None:
    from perfkit.demo.workload import create_schema as create

    def without_pgss(conn: psycopg.Connection[Any], size: Any) -> None:
        create(conn, size)
        conn.execute("DROP EXTENSION pg_stat_statements")

    monkeypatch.setattr("perfkit.demo.run.create_schema", without_pgss)
    r = cli(*_SMALL)
    assert r.exit_code == 0, r.stderr
    report = json.loads(r.stdout)
    stats = report["stats"]
    assert stats["status"] == "partial" and not stats["complete"]
    assert stats["calls"] is None and stats["rows"] == [] and stats["agreement"] is None
    assert len(stats["problems"]) == 1 and "not installed in database" in stats["problems"][0]
    assert "CREATE EXTENSION pg_stat_statements" in stats["problems"][0]
    assert any("PARTIAL" in w for w in report["warnings"])
    # the log path is whole
    assert report["log_events"] == 201 and report["analyze"]["fingerprints"] == 9
    table = cli(*_SMALL[:-2])
    assert table.exit_code == 0
    assert "pg_stat_statements over the workload: PARTIAL" in table.stdout


def test_demo_stats_section_names_every_disagreement() -> None:
    from types import SimpleNamespace as NS

    from perfkit.demo.report import stats_section
    from perfkit.demo.stats import compare

    def row(fp: str, calls: int, ms: float, dbid: int = 1) -> Any:
        return NS(
            fingerprint=fp,
            query=f"q{fp}",
            dbid=dbid,
            calls=calls,
            exec=NS(total=ms),
            plan=NS(total=1.0),
        )

    delta = NS(
        dbid=1,
        rows=(row("a", 5, 50.0), row("a", 2, 10.0), row("b", 3, 30.0), row("c", 9, 90.0, 2)),
        problems=("pg_stat_statements.max = 100 is too small",),
        notes=(),
        seconds=1.0,
    )
    log = [
        NS(id="a", query="qa", calls=7, total_ms=70.0),
        NS(id="b", query="qb", calls=4, total_ms=40.0),
        NS(id="d", query="qd", calls=1, total_ms=1.0),
    ]
    st = compare(delta, log)
    assert [q.fingerprint for q in st.queries] == ["a", "b", "d"]  # c: another database
    assert st.calls == 10 and not st.complete
    data, lines = stats_section(st, log)
    assert data["status"] == "partial"
    assert data["agreement"] == {
        "joined": 2,
        "equal": 1,
        "differ": ["b"],
        "stats_only": [],
        "log_only": ["d"],
    }
    assert data["plan_ms"] == 3.0
    assert lines[0].startswith("pg_stat_statements over the workload (PARTIAL): 10 calls of 2")
    assert "differ: qb (4 vs 3)" in lines[1] and "only in the log: qd" in lines[1]
    assert lines[2] == "pg_stat_statements: pg_stat_statements.max = 100 is too small"
