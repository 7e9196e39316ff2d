"""The suggest-indexes case suite (tests/data/indexes/cases): one workload per class of
case, each with the indexes expected, in trial mode on the embedded PostgreSQL and with
HypoPG on the local PostgreSQL 15 (``localpg``).

Every expectation is measured on the same server before the advisor's answer is compared
with it: the expected indexes, built for real in a rolled-back transaction, are used by
the plans and save at least half of the cost of some statement of the case.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

CASES_DIR = Path(__file__).parent / "data" / "indexes" / "cases"
CASES: list[dict[str, Any]] = json.loads((CASES_DIR / "cases.json").read_text())


@pytest.fixture(scope="module")
def cases_db(pg_server: str, schema_db: Any) -> Iterator[str]:
    with schema_db(pg_server, CASES_DIR / "schema.sql") as dsn:
        yield dsn


@pytest.fixture(scope="module")
def local_cases_db(local_pg: str, schema_db: Any) -> Iterator[str]:
    with schema_db(local_pg, CASES_DIR / "schema.sql") as dsn:
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute("CREATE EXTENSION IF NOT EXISTS hypopg")
        yield dsn


def _plan_cost(conn: psycopg.Connection[Any], sql: str) -> tuple[float, set[str]]:
    row = conn.execute(f"EXPLAIN (FORMAT JSON) {sql}".encode()).fetchone()
    assert row is not None
    names: set[str] = set()

    def walk(node: dict[str, Any]) -> None:
        if "Index Name" in node:
            names.add(node["Index Name"])
        for child in node.get("Plans", ()):
            walk(child)

    top = row[0][0]["Plan"]
    walk(top)
    return float(top["Total Cost"]), names


def _measurable(sql: str, values: list[str]) -> str:
    """``sql`` with ``$n`` replaced by the case's ``measure_values`` (literals)."""
    return re.sub(r"\$(\d+)", lambda m: "'" + values[int(m.group(1)) - 1] + "'", sql)


def _measure(dsn: str, case: dict[str, Any]) -> None:
    """The expected indexes, built for real (rolled back), are used and save >= 50%."""
    statements = [_measurable(s, case.get("measure_values", [])) for s in case["statements"]]
    with psycopg.connect(dsn) as conn:
        base = {sql: _plan_cost(conn, sql)[0] for sql in statements}
        conn.rollback()
        with conn.transaction(force_rollback=True):
            names = []
            for n, stmt in enumerate(case["expect"], 1):
                name = f"pk_expected_{n}"
                conn.execute(stmt.replace("CREATE INDEX ON", f"CREATE INDEX {name} ON").encode())
                names.append(name)
            used: set[str] = set()
            best = 0.0
            for sql in statements:
                cost, seen = _plan_cost(conn, sql)
                used |= seen
                best = max(best, 1 - cost / base[sql])
    assert set(names) <= used, (case["name"], names, used)
    assert best >= 0.5, (case["name"], best)


def _suggest(dsn: str, case: dict[str, Any], method: str) -> list[str]:
    from perfkit.db.connect import connect
    from perfkit.db.target import resolve_target
    from perfkit.indexes.advisor import SuggestOptions, suggest_indexes
    from perfkit.indexes.workload import load_workload

    conn = connect(resolve_target(dsn, None), statement_timeout="30s", connect_timeout=5)
    try:
        result = suggest_indexes(
            conn,
            load_workload(statements=case["statements"]),
            SuggestOptions(method=method, allow_trial=True),
        )
    finally:
        conn.close()
    return sorted(
        re.sub(r"CREATE INDEX (CONCURRENTLY )?\S+ ON", "CREATE INDEX ON", s.statement)
        for s in result.suggestions
    )


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_case_in_trial_mode(cases_db: str, case: dict[str, Any]) -> None:
    if case["expect"]:
        _measure(cases_db, case)
    assert _suggest(cases_db, case, "trial") == sorted(case["expect"])


@pytest.mark.localpg
@pytest.mark.parametrize(
    "case",
    [c for c in CASES if not c.get("trial_only")],
    ids=[c["name"] for c in CASES if not c.get("trial_only")],
)
def test_case_with_hypopg(local_cases_db: str, case: dict[str, Any]) -> None:
    if case["expect"]:
        _measure(local_cases_db, case)
    assert _suggest(local_cases_db, case, "hypopg") == sorted(case["expect"])
