"""perfkit replay against a real PostgreSQL, on a log the server itself wrote.

The log comes from running a known workload against a scratch database with
``log_min_duration_statement = 0`` (set per session) and cutting the embedded
cluster's own log file (``<pgdata>/log``). Hit counts are known by construction.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest

from perfkit.db.target import Target
from perfkit.replay.engine import replay, skip_reason
from perfkit.replay.model import ReplayOptions

Q = "SELECT price FROM items WHERE id = %s"

# Cacheable reads in log order (one replay session keeps the log's global order):
#   A: Q(1) m, Q(2) m, Q(1) h, Q(1) h, Q(3) m, Q(2) h, literal id=5 m, literal id=5 h
#   B: count m, count h;  C: SELECT FROM gone m (fails on the target)
#   A: UPDATE items (skipped, still invalidates);  A: Q(1) m;  B: count m
#   C: INSERT/DELETE items (skipped, invalidate);  A: Q(2) m
EXPECTED_HITS = 5
EXPECTED_MISSES = 9


@dataclass
class Workload:
    dsn: str
    log: Path


def _log_file() -> Path:
    if os.environ.get("PERFKIT_TEST_DSN"):
        pytest.skip("needs the embedded test cluster's log file")
    from perfkit.db import embedded

    return embedded.data_dir() / "log"


def _state(dsn: str) -> tuple[Any, ...]:
    with psycopg.connect(dsn, autocommit=True) as c:
        return (
            c.execute("SELECT count(*), sum(id * price) FROM items").fetchone(),
            c.execute("SELECT count(*) FROM other").fetchone(),
            c.execute("SELECT count(*) FROM audit").fetchone(),
            c.execute("SELECT to_regclass('t2') IS NULL").fetchone(),
        )


@pytest.fixture
def workload(scratch_db: str, tmp_path: Path) -> Workload:
    log = _log_file()
    with psycopg.connect(scratch_db, autocommit=True) as c:
        c.execute("CREATE TABLE items (id int PRIMARY KEY, price int NOT NULL)")
        c.execute("INSERT INTO items SELECT g, g * 10 FROM generate_series(1, 50) g")
        c.execute("CREATE TABLE other (id int)")
        c.execute("CREATE TABLE gone (x int)")
        c.execute("CREATE TABLE audit (op text, at timestamptz DEFAULT now())")
        c.execute(
            "CREATE FUNCTION audit_fn() RETURNS trigger LANGUAGE plpgsql AS "
            "$$BEGIN INSERT INTO audit(op) VALUES (TG_OP); RETURN NULL; END$$"
        )
    start = log.stat().st_size
    with (
        psycopg.connect(scratch_db, autocommit=True) as a,
        psycopg.connect(scratch_db, autocommit=True) as b,
        psycopg.connect(scratch_db, autocommit=True) as cc,
    ):
        for conn in (a, b, cc):
            conn.execute("SET log_min_duration_statement = 0")
        for i in (1, 2, 1, 1, 3, 2):
            a.execute(Q, (i,))
        lit = psycopg.ClientCursor(a)  # literals in the text: the simple protocol
        lit.execute(Q, (5,))
        lit.execute(Q, (5,))
        b.execute("SELECT count(*) FROM items")
        a.execute("SELECT now()")
        b.execute("SELECT count(*) FROM items")
        cc.execute("SELECT * FROM gone")
        time.sleep(0.05)  # the log spans at least 50 ms (paced tests rely on it)
        a.execute("UPDATE items SET price = price + 1 WHERE id = 1")
        a.execute(Q, (1,))
        b.execute("SELECT count(*) FROM items")
        cc.execute("SET default_transaction_read_only = off")
        cc.execute("INSERT INTO items VALUES (1000, 1)")
        cc.execute("DELETE FROM items WHERE id = 1000")
        cc.execute("SELECT * FROM items WHERE id = 2 FOR UPDATE")
        cc.execute("BEGIN")
        cc.execute("UPDATE other SET id = 1")
        cc.execute("COMMIT")
        cc.execute("CREATE TABLE t2 (x int)")
        a.execute(Q, (2,))
    for _ in range(50):  # the server writes its log asynchronously
        text = log.read_bytes()[start:].decode()
        if "FROM items WHERE id = $1" in text.rsplit("statement: CREATE TABLE t2", 1)[-1]:
            break
        time.sleep(0.05)
    out = tmp_path / "postgresql.log"
    out.write_text(text)
    with psycopg.connect(scratch_db, autocommit=True) as c:
        c.execute("DROP TABLE gone")  # fails on the target during the replay
        c.execute("DROP TABLE t2")
        for t in ("items", "other"):
            c.execute(
                f"CREATE TRIGGER audit_{t} AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON {t} "
                "FOR EACH STATEMENT EXECUTE FUNCTION audit_fn()"
            )
    return Workload(scratch_db, out)


def _require_params(workload: Workload) -> None:
    """The exact counts need the bound parameter values of the extended protocol."""
    from perfkit.querylog.readers import read_logs

    events = list(read_logs([workload.log]))
    if any(e.protocol == "extended" and e.params is None for e in events):
        pytest.xfail(
            "the stderr reader drops the values of PostgreSQL 18's 'DETAIL:  Parameters:' "
            "lines (it matches lower-case 'parameters:' only)"
        )


def _options(**kw: Any) -> ReplayOptions:
    base: dict[str, Any] = {"speed": None, "sessions": 1}
    base.update(kw)
    return ReplayOptions(**base)


def test_no_write_reaches_the_target(workload: Workload) -> None:
    before = _state(workload.dsn)
    result = replay([workload.log], Target(workload.dsn, "option"), _options(sessions=3))
    assert _state(workload.dsn) == before  # nothing written, no trigger fired
    assert before[2] == (0,)
    assert [r.skipped_writes for r in result.runs] == [5, 5]


def test_replay_exact_hits(workload: Workload) -> None:
    _require_params(workload)
    result = replay([workload.log], Target(workload.dsn, "option"), _options())

    cached, direct = result.run("cached"), result.run("direct")
    assert cached is not None and direct is not None and not result.interrupted
    assert cached.cache is not None
    assert (cached.cache.hits, cached.cache.misses) == (EXPECTED_HITS, EXPECTED_MISSES)
    assert direct.cache is None
    for run in (cached, direct):
        # writes/DDL: UPDATE, INSERT, DELETE, UPDATE in the transaction, CREATE TABLE
        assert run.skipped_writes == 5
        reasons = dict(run.skipped_reasons)
        assert reasons["could lift read-only mode or timeouts"] == 1
        assert reasons["locks rows"] == 1
        assert run.errors == 1
        (err,) = run.error_counts
        assert (err.sqlstate, err.message) == ("42P01", 'relation "gone" does not exist')
        assert err.query == "SELECT * FROM gone"

    cmp = result.comparison
    assert cmp is not None
    assert (cmp.simulated_hits, cmp.measured_hits) == (EXPECTED_HITS, EXPECTED_HITS)
    assert cmp.hit_rate_error == pytest.approx(0.0)
    per_fp = {f.query: f for f in result.fingerprints}
    q = per_fp["SELECT price FROM items WHERE id = $1"]
    assert (q.calls, q.hits, q.simulated_hits) == (10, 4, 4)
    assert q.direct_p50_ms is not None and q.cached_p99_ms is not None
    count = per_fp["SELECT count(*) FROM items"]
    assert (count.calls, count.hits, count.simulated_hits) == (3, 1, 1)
    assert per_fp["SELECT now()"].hits == 0 and not per_fp["SELECT now()"].cacheable


def test_session_order_is_kept_with_several_connections(workload: Workload) -> None:
    _require_params(workload)
    result = replay(
        [workload.log], Target(workload.dsn, "option"), _options(sessions=3, runs="direct")
    )
    (run,) = result.runs
    assert result.sessions_seen == 3
    # the literal and parameterised reads of session A all ran, in A's own connection
    assert sum(f.calls for f in run.fingerprints) == run.statements
    assert run.errors == 1 and run.reconnects == 0


def test_paced_replay_tracks_lag(workload: Workload) -> None:
    result = replay(
        [workload.log], Target(workload.dsn, "option"), _options(speed=10.0, runs="direct")
    )
    (run,) = result.runs
    assert run.statements > 0 and run.lag_p95_ms is not None and run.lag_max_ms >= 0


def test_max_errors_stops_the_run(workload: Workload) -> None:
    result = replay(
        [workload.log], Target(workload.dsn, "option"), _options(max_errors=1, runs="direct")
    )
    (run,) = result.runs
    assert run.stopped == "stopped after 1 errors (--max-errors 1)"


def test_allow_writes_applies_them(workload: Workload) -> None:
    result = replay(
        [workload.log],
        Target(workload.dsn, "option"),
        _options(allow_writes=True, runs="direct"),
    )
    (run,) = result.runs
    assert run.skipped_writes == 0
    state = _state(workload.dsn)
    assert state[2][0] >= 4  # the trigger saw UPDATE, INSERT, DELETE, UPDATE
    assert state[3] == (False,)  # CREATE TABLE t2 ran


def test_skip_rules() -> None:
    from perfkit.querylog.classify import classify

    def skip(sql: str) -> str | None:
        return skip_reason(sql, classify(sql), allow_writes=False)

    assert skip("SELECT 1") is None
    assert skip("SET search_path = app, public") is None
    assert skip("BEGIN") is None and skip("COMMIT") is None
    assert skip("BEGIN READ WRITE") == "could lift read-only mode or timeouts"
    assert skip("SET SESSION CHARACTERISTICS AS TRANSACTION READ WRITE") is not None
    assert skip("SET statement_timeout = 0") is not None
    assert skip("SELECT set_config('default_transaction_read_only', 'off', false)") is not None
    assert skip("SET ROLE admin") is not None
    assert skip("SELECT pg_terminate_backend(123)") is not None
    assert skip("WITH d AS (DELETE FROM t RETURNING *) SELECT * FROM d") == "write"
    assert skip("CALL proc()") == "side effect a rollback cannot undo (procedures)"
    assert skip("VACUUM t") == "side effect a rollback cannot undo (maintenance)"
    assert skip("SELECT 1; COMMIT") == "several statements in one log entry"
    assert skip("SELECT setval('s', 1)") == "side effect a rollback cannot undo (sequences)"
    assert skip("RESET ALL") == "could lift read-only mode or timeouts"
    assert skip("COPY t FROM STDIN") is not None
    assert skip_reason("COPY t FROM STDIN", classify("COPY t FROM STDIN"), True) is not None
    assert skip_reason("DELETE FROM t", classify("DELETE FROM t"), True) is None


# --- the command line ------------------------------------------------------------------


def test_cli_json_report(workload: Workload, cli: Any) -> None:
    _require_params(workload)
    r = cli(
        "replay", str(workload.log), "--dsn", workload.dsn, "--as-fast-as-possible",
        "--sessions", "1", "--ttl", "60s", "--format", "json",
    )  # fmt: skip
    assert r.exit_code == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["schema_version"] == 1 and doc["kind"] == "replay"
    assert [run["mode"] for run in doc["runs"]] == ["cached", "direct"]
    assert doc["runs"][0]["cache"]["hits"] == EXPECTED_HITS
    assert doc["comparison"]["simulated_hits"] == EXPECTED_HITS
    assert {"fingerprint", "p50_ms", "p95_ms", "p99_ms"} <= set(doc["runs"][1]["fingerprints"][0])
    assert doc["target"] == workload.dsn and doc["options"]["allow_writes"] is False


def test_cli_refuses_writes_to_a_real_target(workload: Workload, cli: Any) -> None:
    r = cli("replay", str(workload.log), "--dsn", workload.dsn, "--allow-writes")
    assert r.exit_code == 2
    lines = r.stderr.strip().splitlines()
    assert lines[0].startswith("perfkit: error: --allow-writes: the replay would write to ")
    assert lines[0].endswith(", which is not the embedded database")
    assert lines[1] == (
        "  hint: replay writes against a scratch copy; add --i-know-this-writes to confirm"
    )


def test_cli_max_errors_exit_code(workload: Workload, cli: Any) -> None:
    r = cli(
        "replay", str(workload.log), "--dsn", workload.dsn, "--as-fast-as-possible",
        "--max-errors", "1", "--runs", "direct", "--format", "csv",
    )  # fmt: skip
    assert r.exit_code == 1
    assert r.stdout.startswith("fingerprint,query,run,calls,p50_ms,p95_ms,p99_ms\n")
    *warnings, last = r.stderr.strip().splitlines()
    assert last == "perfkit: error: replay stopped after 1 errors (--max-errors 1)"
    # the report's warnings come before, on stderr (the CSV on stdout has none of them)
    assert "warning: direct run stopped after 1 errors (--max-errors 1)" in warnings
    assert all(w.startswith("warning: ") for w in warnings)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--speed", "fast"],
            "perfkit: error: --speed: 'fast' is not a speed like 1x, 10x or 0.5x",
        ),
        (["--speed", "0x"], "perfkit: error: --speed: must be more than 0"),
        (["--runs", "twice"], "perfkit: error: --runs: 'twice': one of both, direct, cached"),
        (["--ttl", "soon"], "perfkit: error: --ttl: "),
    ],
)
def test_cli_bad_options(tmp_path: Path, cli: Any, args: list[str], message: str) -> None:
    log = tmp_path / "q.sql"
    log.write_text("SELECT 1;\n")
    r = cli("replay", str(log), "--dsn", "postgresql://nobody@127.0.0.1:1/x", *args)
    assert r.exit_code == 2
    assert r.stderr.startswith(message)
    assert len(r.stderr.strip().splitlines()) == 1


def test_cli_pg_stat_statements_cannot_be_replayed(tmp_path: Path, cli: Any) -> None:
    f = tmp_path / "pgss.csv"
    f.write_text("query,calls,total_exec_time,mean_exec_time,rows\nSELECT 1,3,1.5,0.5,3\n")
    r = cli("replay", str(f), "--dsn", "postgresql://nobody@127.0.0.1:1/x")
    assert r.exit_code == 2
    assert "cannot be replayed" in r.stderr and len(r.stderr.strip().splitlines()) == 1


def test_reconnects_after_the_connection_is_lost(workload: Workload) -> None:
    import threading

    def kill() -> None:
        time.sleep(0.3)
        with psycopg.connect(workload.dsn, autocommit=True) as c:
            c.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE application_name = 'perfkit replay' AND pid <> pg_backend_pid()"
            )

    killer = threading.Thread(target=kill)
    killer.start()
    # the log spans more than 50 ms: at 0.02x the replay lasts more than 2.5 s
    result = replay(
        [workload.log],
        Target(workload.dsn, "option"),
        _options(speed=0.02, sessions=2, runs="direct"),
    )
    killer.join()
    (run,) = result.runs
    assert run.reconnects >= 1
    assert any(e.message == "connection lost" for e in run.error_counts)
    assert run.statements > 0 and run.stopped is None


def test_database_filter_and_limit_apply_to_the_simulation_too(
    scratch_db: str, tmp_path: Path
) -> None:
    log = tmp_path / "app.jsonl"
    rows = [
        ("a", "SELECT 1"),
        ("b", "SELECT 2"),
        ("a", "SELECT 1"),
        ("a", "SELECT 1"),
        ("b", "SELECT 2"),
    ]
    log.write_text(
        "".join(
            json.dumps(
                {"ts": f"2026-01-01T00:00:0{i}Z", "duration_ms": 1.0, "query": q, "database": db}
            )
            + "\n"
            for i, (db, q) in enumerate(rows)
        )
    )
    target = Target(scratch_db, "option")
    result = replay([log], target, _options(database="a"))
    cached = result.run("cached")
    assert cached is not None and cached.cache is not None
    assert (cached.statements, cached.cache.hits) == (3, 2)
    assert result.comparison is not None and result.comparison.simulated_hits == 2
    limited = replay([log], target, _options(limit=3))
    assert limited.comparison is not None
    assert (limited.comparison.measured_hits, limited.comparison.simulated_hits) == (1, 1)
