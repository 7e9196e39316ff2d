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
