"""suggest-indexes on a real PostgreSQL: trial mode on the embedded server, HypoPG on
the local PostgreSQL 15 (``localpg``)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from psycopg.conninfo import make_conninfo

from perfkit.db.ident import quote_ident

DATA = Path(__file__).parent / "data" / "indexes"
WORKLOAD = DATA / "workload.sql"


@pytest.fixture(scope="module")
def idx_db(pg_server: str, schema_db: Any) -> Iterator[str]:
    with schema_db(pg_server, DATA / "schema.sql") as dsn:
        yield dsn


def _index_defs(dsn: str) -> list[str]:
    with psycopg.connect(dsn) as conn:
        return sorted(r[0] for r in conn.execute("SELECT indexdef FROM pg_indexes"))


@pytest.fixture(scope="module")
def trial_report(idx_db: str) -> dict[str, Any]:
    from typer.testing import CliRunner

    from perfkit.cli import app

    before = _index_defs(idx_db)
    r = CliRunner().invoke(
        app,
        ["suggest-indexes", str(WORKLOAD), "--dsn", idx_db, "--trial", "--verify", "-f", "json"],
        env={"COLUMNS": "100", "CI": "1"},
        catch_exceptions=False,
    )
    assert r.exit_code == 0, r.stderr
    assert _index_defs(idx_db) == before  # every trial build was rolled back
    return dict(json.loads(r.stdout))


def _by_statement(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {s["statement"]: s for s in report["suggestions"]}


def test_trial_suggests_the_expected_indexes(trial_report: dict[str, Any]) -> None:
    got = _by_statement(trial_report)
    expected = {
        # single-column equality
        "CREATE INDEX CONCURRENTLY customers_email_idx ON public.customers (email)",
        # equality + range, equality + ORDER BY LIMIT, join, UPDATE, DELETE, view: one index
        "CREATE INDEX CONCURRENTLY orders_customer_id_idx ON public.orders (customer_id)",
        # two equality predicates, most selective first; id makes it index-only; the set
        # choice lets it serve the CTE's predicate on city too (one index, not two)
        "CREATE INDEX CONCURRENTLY customers_city_country_idx ON public.customers (city, country) "
        "INCLUDE (id)",
        # ORDER BY ... DESC LIMIT: a backward scan of an ascending index
        "CREATE INDEX CONCURRENTLY customers_created_at_idx ON public.customers (created_at)",
        # partitioned table: at the parent, not concurrently
        "CREATE INDEX events_account_id_idx ON public.events (account_id)",
        # quoted mixed-case identifiers
        'CREATE INDEX CONCURRENTLY userprofiles_tenantid_idx ON public."UserProfiles" ("TenantId") '
        'INCLUDE ("Nickname")',
        # expression index
        "CREATE INDEX CONCURRENTLY customers_lower_email_idx ON public.customers ((lower(email)))",
        # partial index for a rare constant
        "CREATE INDEX CONCURRENTLY orders_created_at_part_idx ON public.orders (created_at) "
        "WHERE status = 'draft'",
        # INCLUDE turns the range scan into an index-only scan
        "CREATE INDEX CONCURRENTLY orders_total_idx ON public.orders (total) INCLUDE (customer_id)",
    }
    assert set(got) == expected
    city = got[
        "CREATE INDEX CONCURRENTLY customers_city_country_idx ON public.customers (city, country) "
        "INCLUDE (id)"
    ]
    assert any(q.startswith("WITH recent") for q in city["queries"])
    shared = got["CREATE INDEX CONCURRENTLY orders_customer_id_idx ON public.orders (customer_id)"]
    helped = " | ".join(shared["queries"])
    for fragment in ("UPDATE orders", "DELETE FROM orders", "FROM open_orders", "JOIN orders"):
        assert fragment in helped
    for s in trial_report["suggestions"]:
        assert s["cost_after"] <= 0.5 * s["cost_before"]
        assert s["size_bytes"] > 0
        assert s["table"].startswith("public.")
    part = got[
        "CREATE INDEX CONCURRENTLY orders_created_at_part_idx ON public.orders (created_at) WHERE status = 'draft'"
    ]
    assert part["where"] == "status = 'draft'"
    assert part["columns"] == ["created_at"]
    cover = got[
        "CREATE INDEX CONCURRENTLY orders_total_idx ON public.orders (total) INCLUDE (customer_id)"
    ]
    assert cover["include"] == ["customer_id"]
    assert cover["plan_after"] == "Index Only Scan using orders_total_idx on orders"
    expr = got[
        "CREATE INDEX CONCURRENTLY customers_lower_email_idx ON public.customers ((lower(email)))"
    ]
    assert expr["expression"] == "lower(email)"


def test_verify_measures_real_time(trial_report: dict[str, Any]) -> None:
    for s in trial_report["suggestions"]:
        assert s["verification"], s["statement"]
        for v in s["verification"]:
            assert 0 <= v["after_ms"] < v["before_ms"], (s["statement"], v)
            assert v["plan_before"].startswith("Seq Scan")


def test_every_other_query_has_a_reason(trial_report: dict[str, Any]) -> None:
    reasons = {n["query"]: (n["code"], n["reason"]) for n in trial_report["no_suggestion"]}
    assert reasons["SELECT * FROM orders WHERE sku = $1"][0] == "low_cost"  # already indexed
    assert reasons["SELECT count(*) FROM orders"] == ("no_candidates", "no candidate columns")
    assert reasons["SELECT value FROM settings WHERE scope = $1"][0] == "low_cost"  # tiny table
    code, why = reasons["select from where customers"]
    assert code == "parse_error" and why.startswith("could not parse: ")
    assert reasons["SELECT * FROM customers WHERE no_such_column = $1"] == (
        "explain_error",
        'could not explain: column "no_such_column" does not exist',
    )
    assert reasons["SELECT * FROM nowhere WHERE id = $1"] == (
        "unknown_tables",
        "tables not in this database: nowhere",
    )
    assert reasons["SELECT id FROM customers WHERE email LIKE $1"][0] == "no_candidates"
    advice = trial_report["advice"]
    assert advice[0]["statement"] == (
        "CREATE INDEX CONCURRENTLY ON public.customers USING gin (email gin_trgm_ops)"
    )
    assert advice[0]["note"] == "not costed"
    helped = {q for s in trial_report["suggestions"] for q in s["queries"]}
    assert len(helped) + len(reasons) == len(trial_report["queries"])


def test_hygiene_reports_unused_duplicate_and_prefix(scratch_db: str, cli: Any) -> None:
    with psycopg.connect(scratch_db, autocommit=True) as conn:
        conn.execute(
            "CREATE TABLE t (a int, b int, c int, d int);"
            "CREATE INDEX t_a ON t (a); CREATE INDEX t_a_again ON t (a);"
            "CREATE INDEX t_b ON t (b); CREATE INDEX t_b_c ON t (b, c);"
            "CREATE INDEX t_c ON t (c); CREATE INDEX t_c_inc ON t (c) INCLUDE (a);"
            "CREATE INDEX t_d_inc ON t (d) INCLUDE (a); CREATE INDEX t_d_b ON t (d, b);"
        )
    r = cli(
        "suggest-indexes", "--dsn", scratch_db, "-s", "SELECT 1 FROM t", "-f", "json", "--trial"
    )
    assert r.exit_code == 0, r.stderr
    got = {(h["kind"], h["index"], h["detail"]) for h in json.loads(r.stdout)["hygiene"]}
    assert ("duplicate", "t_a", "duplicate of t_a_again") in got
    assert ("prefix", "t_b", "its keys are a prefix of t_b_c") in got
    assert ("prefix", "t_c", "t_c_inc has the same keys and more INCLUDE columns") in got
    # (d) INCLUDE (a) serves index-only scans (d, b) cannot: not covered
    assert not any(kind == "prefix" and index == "t_d_inc" for kind, index, _ in got)
    assert ("unused", "t_b_c", "never scanned since statistics were reset") in got


def test_dollar_parameters_use_pg_stats_values(idx_db: str, cli: Any) -> None:
    r = cli(
        "suggest-indexes", "--dsn", idx_db, "--trial", "-f", "json",
        "-s", "SELECT * FROM orders WHERE status = $1 AND customer_id = $2",
        "-s", "SELECT * FROM orders WHERE total > $1 + 1",
    )  # fmt: skip
    assert r.exit_code == 0, r.stderr
    report = json.loads(r.stdout)
    modes = {q["query"]: q["params"] for q in report["queries"]}
    assert modes["SELECT * FROM orders WHERE status = $1 AND customer_id = $2"] == "pg_stats"
    assert modes["SELECT * FROM orders WHERE total > $1 + $2"] == "generic"
    assert "pg_stats" in r.stdout


def test_log_workload_uses_logged_values_and_weights(idx_db: str, cli: Any) -> None:
    r = cli("suggest-indexes", str(DATA / "app.log"), "--dsn", idx_db, "--trial", "-f", "json")
    assert r.exit_code == 0, r.stderr
    report = json.loads(r.stdout)
    queries = {q["query"]: q for q in report["queries"]}
    top = queries[
        "SELECT id, total FROM orders WHERE customer_id = $1 ORDER BY created_at DESC LIMIT $2"
    ]
    assert (top["calls"], top["total_ms"], top["params"]) == (5, 32.5, "example")
    assert report["queries"][0] is not None and report["queries"][0]["query"] == top["query"]
    assert queries["SELECT count(*) FROM events WHERE account_id = $1"]["params"] == "none"
    r = cli(
        "suggest-indexes", str(DATA / "app.log"), "--dsn", idx_db, "--trial", "-f", "json",
        "--min-calls", "3", "--min-time-ms", "10",
    )  # fmt: skip
    kept = [q["query"] for q in json.loads(r.stdout)["queries"]]
    assert kept == [top["query"]]  # 5 calls, 32.5 ms; the email lookup has 9.3 ms
    got = {s["statement"] for s in report["suggestions"]}
    assert "CREATE INDEX CONCURRENTLY customers_email_idx ON public.customers (email)" in got
    assert "CREATE INDEX events_account_id_idx ON public.events (account_id)" in got


def test_include_and_exclude_tables(idx_db: str, cli: Any) -> None:
    args = ["suggest-indexes", str(WORKLOAD), "--dsn", idx_db, "--trial", "-f", "json"]
    r = cli(*args, "--include", "customers,settings")
    report = json.loads(r.stdout)
    assert {s["table"] for s in report["suggestions"]} == {"public.customers"}
    r = cli(*args, "--exclude", "customers", "--exclude", "orders")
    report = json.loads(r.stdout)
    assert {s["table"] for s in report["suggestions"]} == {"public.events", "public.UserProfiles"}
    codes = {n["query"]: n["code"] for n in report["no_suggestion"]}
    assert codes["SELECT * FROM customers WHERE email = $1"] == "excluded"


def test_embedded_default_uses_trial_mode(cli: Any) -> None:
    r = cli("suggest-indexes", "-s", "SELECT 1", "-f", "json")
    assert r.exit_code == 0, r.stderr
    assert json.loads(r.stdout)["method"] == "trial"


def test_trial_is_refused_on_a_server_without_trial_flag(idx_db: str, cli: Any) -> None:
    r = cli("suggest-indexes", "--dsn", idx_db, "--method", "trial", "-s", "SELECT 1")
    assert r.exit_code == 2
    assert "pass --trial" in r.stderr


def test_without_hypopg_or_trial_nothing_is_costed(idx_db: str, cli: Any) -> None:
    sql = "SELECT * FROM customers WHERE email = 'x'"
    r = cli("suggest-indexes", "--dsn", idx_db, "-s", sql, "-f", "json")
    assert r.exit_code == 0, r.stderr
    report = json.loads(r.stdout)
    assert report["method"] == "none"
    assert "pass --trial" in report["method_note"]
    assert report["suggestions"] == []
    assert report["no_suggestion"][0]["code"] == "not_costed"


def test_from_stats_without_the_extension_says_so(idx_db: str, cli: Any) -> None:
    with psycopg.connect(idx_db, autocommit=True) as conn:  # the embedded cluster has it
        conn.execute("DROP EXTENSION IF EXISTS pg_stat_statements")
    r = cli("suggest-indexes", "--dsn", idx_db, "--from-stats", "--trial")
    assert r.exit_code == 2
    assert "pg_stat_statements is not installed" in r.stderr


def test_apply_creates_concurrently_and_skips_existing(scratch_db: str, cli: Any) -> None:
    with psycopg.connect(scratch_db, autocommit=True) as conn:
        conn.execute(
            "CREATE TABLE p (id int, owner int);"
            "INSERT INTO p SELECT g, g % 5000 FROM generate_series(1, 30000) g; ANALYZE p"
        )
    sql = "SELECT * FROM p WHERE owner = 42"
    r = cli("suggest-indexes", "--dsn", scratch_db, "--trial", "-s", sql, "-f", "json")
    assert json.loads(r.stdout)["applied"] == []
    assert not [d for d in _index_defs(scratch_db) if " p_owner_idx " in d]
    r = cli("suggest-indexes", "--dsn", scratch_db, "--trial", "-s", sql, "--apply", "-f", "json")
    assert r.exit_code == 0, r.stderr
    assert json.loads(r.stdout)["applied"][0]["status"] == "created"
    assert "CREATE INDEX p_owner_idx ON public.p USING btree (owner)" in _index_defs(scratch_db)
    r = cli("suggest-indexes", "--dsn", scratch_db, "--trial", "-s", sql, "-f", "json")
    assert json.loads(r.stdout)["suggestions"] == []


def test_suggested_names_do_not_clash_with_existing_indexes(scratch_db: str, cli: Any) -> None:
    with psycopg.connect(scratch_db, autocommit=True) as conn:
        conn.execute(
            "CREATE TABLE v (id int, owner int, kind int);"
            "INSERT INTO v SELECT g, g % 5000, g % 3 FROM generate_series(1, 30000) g; ANALYZE v;"
            "CREATE INDEX v_owner_idx ON v (kind)"  # a misleading name someone chose
        )
    sql = "SELECT * FROM v WHERE owner = 42"
    r = cli("suggest-indexes", "--dsn", scratch_db, "--trial", "-s", sql, "-f", "json")
    statement = json.loads(r.stdout)["suggestions"][0]["statement"]
    assert statement == "CREATE INDEX CONCURRENTLY v_owner_2_idx ON public.v (owner)"


def test_apply_skips_an_index_that_appeared_meanwhile(scratch_db: str) -> None:
    from perfkit.db.connect import connect
    from perfkit.indexes.advisor import SuggestOptions, suggest_indexes
    from perfkit.indexes.apply import apply_suggestions
    from perfkit.indexes.workload import load_workload

    with psycopg.connect(scratch_db, autocommit=True) as conn:
        conn.execute(
            "CREATE TABLE u (id int, email text);"
            "INSERT INTO u SELECT g, 'u' || g FROM generate_series(1, 30000) g; ANALYZE u"
        )
    wl = load_workload(statements=["SELECT id FROM u WHERE lower(email) = 'u5'"])
    with connect(scratch_db) as conn:
        result = suggest_indexes(conn, wl, SuggestOptions(), embedded=True)
    assert [s.name for s in result.suggestions] == ["u_lower_email_idx"]
    with psycopg.connect(scratch_db, autocommit=True) as conn:
        conn.execute("CREATE INDEX someone_elses ON u (lower(email))")
    with connect(scratch_db, read_only=False) as conn:
        applied = apply_suggestions(conn, result.suggestions)
    assert [(a.status, a.detail) for a in applied] == [
        ("exists", "someone_elses has the same definition")
    ]


def test_unreadable_input_names_the_file_and_line(tmp_path: Path, cli: Any) -> None:
    bad = tmp_path / "notes.txt"
    bad.write_text("this is not a log\n")
    r = cli("suggest-indexes", str(bad))
    assert r.exit_code == 2
    assert r.stderr.startswith(f"perfkit: error: {bad}:1: matches no supported log format")


def test_bad_options_exit_2(cli: Any) -> None:
    r = cli("suggest-indexes", "-s", "SELECT 1", "--min-savings", "lots")
    assert r.exit_code == 2
    assert "--min-savings" in r.stderr
    r = cli("suggest-indexes", "-s", "SELECT 1", "--method", "magic")
    assert r.exit_code == 2
    assert "--method: must be one of auto, trial, hypopg, none" in r.stderr


@pytest.mark.localpg
def test_hypopg_path_on_local_server(local_pg: str, schema_db: Any) -> None:
    from perfkit.db.connect import connect
    from perfkit.indexes.advisor import SuggestOptions, suggest_indexes
    from perfkit.indexes.workload import load_workload

    with schema_db(local_pg, DATA / "schema.sql") as dsn:
        wl = load_workload(paths=[WORKLOAD])
        with connect(dsn) as conn:
            result = suggest_indexes(conn, wl, SuggestOptions())
        assert result.method == "hypopg"
        statements = {s.statement for s in result.suggestions}
        assert (
            "CREATE INDEX CONCURRENTLY customers_email_idx ON public.customers (email)"
            in statements
        )
        assert "CREATE INDEX events_account_id_idx ON public.events (account_id)" in statements
        assert all((s.size_bytes or 0) > 0 for s in result.suggestions)
        with psycopg.connect(dsn) as conn:
            left = conn.execute("SELECT count(*) FROM pg_extension WHERE extname = 'hypopg'")
            assert left.fetchone() == (0,)  # created inside a rolled-back transaction


@pytest.mark.localpg
def test_hypopg_permission_denied_falls_back_and_says_so(local_pg: str, schema_db: Any) -> None:
    from perfkit.db.connect import connect
    from perfkit.indexes.advisor import SuggestOptions, suggest_indexes
    from perfkit.indexes.workload import load_workload

    role = f"pk_low_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(local_pg, autocommit=True) as conn:
        conn.execute(f"CREATE ROLE {role} LOGIN")
    try:
        with schema_db(local_pg, DATA / "schema.sql") as dsn:
            with psycopg.connect(dsn, autocommit=True) as conn:
                conn.execute(f"GRANT SELECT ON ALL TABLES IN SCHEMA public TO {role}")
            wl = load_workload(statements=["SELECT * FROM customers WHERE email = 'x'"])
            with connect(make_conninfo(dsn, user=role)) as conn:
                result = suggest_indexes(conn, wl, SuggestOptions())
            assert result.method == "none"
            assert result.method_note.startswith("HypoPG could not be created (permission denied")
            assert result.method_note.endswith(
                "pass --trial to cost candidates by building them (rolled back)"
            )
            assert result.no_suggestion[0].code == "not_costed"
    finally:
        with psycopg.connect(local_pg, autocommit=True) as conn:
            conn.execute(f"DROP ROLE IF EXISTS {role}")


@pytest.mark.localpg
def test_generic_plans_before_16_use_prepared_statements(local_pg: str) -> None:
    from perfkit.db.connect import connect
    from perfkit.indexes.plan import explain

    with connect(local_pg) as conn:
        assert conn.info.server_version < 160000
        sql = "SELECT relname FROM pg_class WHERE relpages > $1 AND relname <> $2"
        plan = explain(conn, sql, generic=True)
        assert plan.root.node_type == "Seq Scan"
        assert "$1" in plan.root.detail  # a generic plan keeps the parameters
        again = explain(conn, sql, generic=True)  # the prepared statement was deallocated
        assert again.cost == plan.cost


@settings(deadline=None)  # the first example pays pglast's import
@given(st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=20))
def test_quote_ident_round_trips_through_postgresqls_parser(name: str) -> None:
    from pglast import parse_sql

    if "\x00" in name:
        return
    stmt: Any = parse_sql(f"SELECT 1 FROM {quote_ident(name)}")[0].stmt
    relname = stmt.fromClause[0].relname
    raw = name.encode()
    # PostgreSQL cuts identifiers at 63 bytes (NAMEDATALEN), quoted or not
    assert relname == name or (len(raw) > 63 and raw.startswith(relname.encode()))


def test_a_mistyped_statement_given_with_s_is_reported_not_dropped() -> None:
    from perfkit.indexes.workload import load_workload

    wl = load_workload(statements=["SELEC 1", "SET work_mem = '64MB'", "SELECT 1"])
    # SET is not a query, but given with -s it is kept: the statement guard reports why it
    # is not sent, rather than it being dropped
    assert sorted(q.sql for q in wl.queries) == ["SELEC 1", "SELECT 1", "SET work_mem = '64MB'"]
    assert wl.skipped == 0
