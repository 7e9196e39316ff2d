"""`perfkit pool` against real servers: embedded PostgreSQL 18 and the local 15."""

from __future__ import annotations

import json
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import psycopg
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pgbouncer_proc import run_pgbouncer
from test_db_fixtures import PW_ROLE, private_cluster

from perfkit.db import embedded
from perfkit.errors import ConnectionFailed, InputError, UsageError
from perfkit.pool import (
    PoolBenchOptions,
    create_pool,
    lambda_pool_size,
    parse_script,
    pool_settings,
    run_pool_benchmark,
)
from perfkit.pool.model import PointResult
from perfkit.pool.recommend import recommend
from perfkit.pool.report import to_document, write_plot
from perfkit.pool.workload import evaluate, parse_expr, query_workload
from perfkit.report import NullProgress, render

__all__ = ["private_cluster"]  # the shared fixture

FAST = ("--requests", "40", "--warmup", "0", "--workers", "2")


# --- workload scripts -------------------------------------------------------------


def test_pgbench_script_subset() -> None:
    w = parse_script(
        "-- a pgbench script\n"
        "\\set aid random(1, 100000)\n"
        "\\set bid (:aid % 10) + 1\n"
        "\\sleep 0 ms\n"
        "SELECT abalance FROM pgbench_accounts\n"
        "  WHERE aid = :aid AND bid = :bid;  -- trailing comment\n"
        "SELECT :aid::bigint;\n",
        "s.sql",
    )
    assert w.statements == 2
    items = list(w.transaction(random.Random(1)))
    assert items[0] == 0.0
    sql = items[1]
    assert isinstance(sql, str) and "WHERE aid = " in sql and ":aid" not in sql
    aid = int(sql.split("aid = ")[1].split()[0])
    assert 1 <= aid <= 100000 and f"bid = {aid % 10 + 1}" in sql
    assert items[2] == f"SELECT {aid}::bigint"


@pytest.mark.parametrize(
    ("script", "message"),
    [
        ("\\set x random(1,\nSELECT 1;", r"s.sql:1: \\set: expression ends too early"),
        ("SELECT :nope;", r"s.sql:1: variable :nope is used before \\set"),
        ("\\set x 1\n\\gset\nSELECT 1;", r"s.sql:2: \\gset is not supported"),
        ("\\set x foo(1)\nSELECT 1;", r"s.sql:1: \\set: unknown function 'foo'"),
        ("-- nothing\n\\set x 1\n", "s.sql: the script has no SQL command"),
    ],
)
def test_script_errors_name_the_line(script: str, message: str) -> None:
    with pytest.raises(InputError, match=message):
        parse_script(script, "s.sql")


def _c_div(a: int, b: int) -> int:
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b >= 0) else -q


@settings(deadline=None)  # a loaded CI machine must not turn slowness into failure
@given(
    st.integers(-(10**6), 10**6),
    st.integers(-(10**6), 10**6).filter(lambda b: b != 0),
    st.sampled_from(["+", "-", "*", "/", "%"]),
)
def test_integer_arithmetic_has_pgbench_c_semantics(a: int, b: int, op: str) -> None:
    got = evaluate(parse_expr(f"({a}) {op} ({b})"), {}, random.Random(0))
    expected = {
        "+": a + b,
        "-": a - b,
        "*": a * b,
        "/": _c_div(a, b),
        "%": a - _c_div(a, b) * b,
    }[op]
    assert got == expected


@settings(deadline=None)
@given(st.integers(-1000, 1000), st.integers(0, 1000), st.integers(0, 2**32))
def test_random_functions_stay_within_bounds(lo: int, span: int, seed: int) -> None:
    rng = random.Random(seed)
    hi = lo + span
    for func in (
        f"random({lo}, {hi})",
        f"random_gaussian({lo}, {hi}, 2.5)",
        f"random_exponential({lo}, {hi}, 3)",
    ):
        assert lo <= evaluate(parse_expr(func), {}, rng) <= hi


# --- analysis ------------------------------------------------------------------------


def _point(mode: str, clients: int, size: int | None, tps: float) -> PointResult:
    return PointResult(
        endpoint="primary",
        mode=mode,  # type: ignore[arg-type]
        clients=clients,
        pool_size=size,
        workers=1,
        status="ok",
        error=None,
        requests=100,
        errors=0,
        error_messages=(),
        elapsed_s=1.0,
        throughput=tps,
        latency=None,
        connect=None,
        connect_socket=None,
        connect_startup=None,
        pool_wait=None,
        peak_backends=None,
        peak_active=None,
        pool_stats={},
        client_cpu_pct=None,
        machine_cpu_pct=None,
        ssl=None,
    )


def test_recommendation_is_smallest_pool_within_5_percent() -> None:
    points = [
        _point("fresh", 16, None, 500),
        _point("pool", 16, 2, 9000),
        _point("pool", 16, 5, 9700),
        _point("pool", 16, 10, 10000),
    ]
    (rec,) = recommend(points)
    assert (rec.pool_size, rec.at_max.best_pool_size) == (5, 10)
    assert rec.speedup == pytest.approx(9700 / 500)


def test_lambda_heuristic() -> None:
    assert [lambda_pool_size(m) for m in (128, 200, 512, 1024, 1769, 10240)] == [1, 1, 4, 8, 10, 10]


# --- create_pool ------------------------------------------------------------------------


def test_pool_settings_from_memory() -> None:
    assert pool_settings(1024).max_size == 8
    assert pool_settings(4096).max_size == 10
    assert pool_settings(None, max_size=3, min_size=3).min_size == 3
    with pytest.raises(UsageError, match="min_size"):
        pool_settings(256, min_size=5)


def test_create_pool_is_warm_checked_and_sized(scratch_db: str) -> None:
    pool = create_pool(scratch_db, memory_mb=512, min_size=2, close_at_exit=False)
    try:
        stats = pool.get_stats()
        assert (stats["pool_min"], stats["pool_max"], stats["pool_size"]) == (2, 4, 2)
        with pool.connection() as conn:
            assert conn.execute("SHOW statement_timeout").fetchone() == ("30s",)
            conn.execute("CREATE TEMP TABLE writable (x int)")  # the app's pool may write
    finally:
        pool.close()
    assert pool.closed


def test_create_pool_reports_unreachable_server() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(ConnectionFailed, match="refused"):
        create_pool(f"postgresql://u:pw@127.0.0.1:{port}/x", connect_timeout=1, close_at_exit=False)


# --- the benchmark on the embedded server -------------------------------------------------


def test_pool_json_report_on_embedded(cli, pg_server: str, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    plot = tmp_path / "pool.html"
    r = cli(
        "pool", "--dsn", pg_server, "--clients", "1,3", "--pool-size", "1,2",
        *FAST, "--format", "json", "--plot", str(plot), "--lambda-memory-mb", "256",
    )  # fmt: skip
    assert r.exit_code == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["schema_version"] == 1 and doc["kind"] == "pool" and doc["status"] == "complete"
    (ep,) = doc["endpoints"]
    assert ep["transport"] == "unix" and ep["server_version_num"] >= 180000
    points = doc["points"]
    assert [(p["mode"], p["clients"], p["pool_size"]) for p in points] == [
        ("fresh", 1, None), ("pool", 1, 1), ("pool", 1, 2),
        ("fresh", 3, None), ("pool", 3, 1), ("pool", 3, 2),
    ]  # fmt: skip
    for p in points:
        assert p["status"] == "ok" and p["requests"] == 40 and p["errors"] == 0
        assert p["throughput"] > 0 and p["latency"]["p50_ms"] <= p["latency"]["max_ms"]
    fresh = points[3]
    assert fresh["connect"]["count"] == 40 and fresh["workers"] == 2
    assert fresh["pool_wait"] is None and points[4]["connect"] is None
    assert points[5]["peak_backends"] >= 2  # both pool connections seen by the monitor
    assert points[5]["pool_stats"]["pool_max"] == 2
    assert points[5]["pool_stats"]["requests_num"] == 40
    (rec,) = doc["recommendations"]
    assert rec["mode"] == "pool" and rec["clients"] == 3 and rec["pool_size"] in (1, 2)
    assert doc["lambda"]["heuristic_pool_size"] == 2 and doc["lambda"]["agrees"] is not None
    html = plot.read_text()
    assert "<svg" in html and "<script" not in html and "http://" not in html.split("<svg")[0]


def test_pool_table_report(cli, pg_server: str) -> None:  # type: ignore[no-untyped-def]
    r = cli("pool", "--dsn", pg_server, "--clients", "2", "--pool-size", "2", *FAST)
    assert r.exit_code == 0, r.stderr
    out = r.stdout
    assert out.startswith("perfkit pool: a fresh connection per request vs a pool\n")
    assert "Unix socket" in out and "Smallest pool within 5% of the best throughput" in out
    assert "recommended pool size: 2 (smallest within 5% of the best at 2 clients)" in out
    assert all(len(line) <= 100 for line in out.splitlines())


def test_pool_script_reads_and_refuses_writes(cli, scratch_db: str, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    with psycopg.connect(scratch_db, autocommit=True) as conn:
        conn.execute("CREATE TABLE acc (aid int PRIMARY KEY, bal int)")
        conn.execute("INSERT INTO acc SELECT g, 0 FROM generate_series(1, 1000) g")
    read = tmp_path / "read.sql"
    read.write_text("\\set aid random(1, 1000)\nSELECT bal FROM acc WHERE aid = :aid;\n")
    base = ("pool", "--dsn", scratch_db, "--clients", "2", "--pool-size", "2", "--no-fresh", *FAST)
    r = cli(*base, "--script", str(read), "--format", "csv")
    assert r.exit_code == 0, r.stderr
    assert r.stdout.splitlines()[0].startswith("mode,clients,pool_size,status,throughput")
    write = tmp_path / "write.sql"
    write.write_text("\\set aid random(1, 1000)\nUPDATE acc SET bal = bal + 1 WHERE aid = :aid;\n")
    r = cli(*base, "--script", str(write))
    assert r.exit_code == 2
    assert "refused by the statement guard" in r.stderr and "--allow-writes" in r.stderr
    assert "UPDATE acc SET bal = bal + 1 WHERE aid = :aid" in r.stderr
    r = cli(*base, "--script", str(write), "--allow-writes", "--format", "json")
    assert r.exit_code == 0, r.stderr
    with psycopg.connect(scratch_db) as conn:
        # 40 measured requests plus the one preflight run
        assert conn.execute("SELECT sum(bal) FROM acc").fetchone() == (41,)


def test_pool_bad_query_is_one_line(cli, pg_server: str) -> None:  # type: ignore[no-untyped-def]
    r = cli("pool", "--dsn", pg_server, "--query", "SELECT nope FROM nowhere", *FAST)
    assert r.exit_code == 2
    assert r.stderr.startswith("perfkit: error: SELECT nope FROM nowhere: the workload fails:")
    assert len(r.stderr.strip().splitlines()) == 1


def test_async_mode_and_compare_endpoint(pg_server: str) -> None:
    result = run_pool_benchmark(
        pg_server,
        compare_dsn=pg_server + "&application_name=second",
        options=PoolBenchOptions(
            clients=(2,), pool_sizes=(2,), requests=30, warmup_s=0, async_mode=True, workers=1
        ),
    )
    assert result.status == "complete"
    assert [e.label for e in result.endpoints] == ["primary", "compare"]
    assert [(p.endpoint, p.mode) for p in result.points] == [
        ("primary", "fresh"), ("primary", "pool"), ("primary", "async"),
        ("compare", "fresh"), ("compare", "pool"), ("compare", "async"),
    ]  # fmt: skip
    assert all(p.requests == 30 and p.status == "ok" for p in result.points)
    text = render(to_document(result), "markdown")
    assert "| primary async | 2 | 2 | ok |" in text


# --- bad input ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--clients", "0"), "--clients: client counts must be 1 or more"),
        (("--clients", "1,,4"), "--clients: '1,,4' is not a comma-separated list of integers"),
        (("--pool-size", "0"), "--pool-size: pool sizes must be 1 or more"),
        (("--duration", "-1s"), "--duration: '-1s' is not a duration"),
        (("--duration", "10x"), "--duration: '10x' is not a duration"),
        (("--duration", "0s"), "--duration: must be more than 0"),
        (("--requests", "0"), "--requests: must be 1 or more"),
        (("--warmup", "-3"), "--warmup: cannot be negative"),
        (
            ("--statement-timeout", "5 parsecs"),
            "--statement-timeout: '5 parsecs' is not a duration",
        ),
        (("--plot", "x.pdf"), "--plot: x.pdf: use a .png, .svg or .html file name"),
        (("--lambda-memory-mb", "64"), "--lambda-memory-mb: Lambda memory is at least 128 MB"),
        (("--workers", "0"), "--workers: must be 1 or more"),
    ],
)
def test_bad_options_are_usage_errors(cli, args: tuple[str, ...], message: str) -> None:  # type: ignore[no-untyped-def]
    r = cli("pool", "--dsn", "postgresql://u@127.0.0.1:1/x", *args)
    assert r.exit_code == 2
    assert r.stderr == f"perfkit: error: {message}\n" or r.stderr.startswith(
        f"perfkit: error: {message}"
    )
    assert "Traceback" not in r.stderr


def test_unreachable_server_is_one_line_exit_2(cli) -> None:  # type: ignore[no-untyped-def]
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    t0 = time.monotonic()
    r = cli(
        "pool", "--dsn", f"postgresql://u:{'pw-123'}@127.0.0.1:{port}/x", "--connect-timeout", "2"
    )
    assert r.exit_code == 2 and time.monotonic() - t0 < 3
    assert r.stderr.startswith(
        f"perfkit: error: postgresql://u:***@127.0.0.1:{port}/x: cannot connect:"
    )
    assert "pw-123" not in r.stderr and len(r.stderr.strip().splitlines()) == 1


def test_authentication_failure_says_so_without_password(cli, private_cluster: Path) -> None:  # type: ignore[no-untyped-def]
    embedded.ensure_running(private_cluster)
    dsn = f"postgresql://{PW_ROLE}:battery-staple@/postgres?host={private_cluster}"
    r = cli("pool", "--dsn", dsn, *FAST)
    assert r.exit_code == 2
    assert "authentication failed" in r.stderr and "battery-staple" not in r.stderr
    assert f"{PW_ROLE}:***@" in r.stderr


class _StopAfterFirstPoint(NullProgress):
    """Stops the cluster once the first point completed, before the second can finish:
    the stop is waited for (a timer raced the second point on a loaded machine)."""

    def __init__(self, pgdata: Path) -> None:
        self.pgdata = pgdata
        self.stopped = False

    def advance(self, amount: float = 1.0) -> None:
        if not self.stopped:
            self.stopped = True
            embedded.stop(self.pgdata)


def test_server_stopped_mid_run_keeps_measured_points(private_cluster: Path) -> None:
    uri = embedded.ensure_running(private_cluster)
    sink = _StopAfterFirstPoint(private_cluster)
    t0 = time.monotonic()
    result = run_pool_benchmark(
        uri,
        options=PoolBenchOptions(
            clients=(1, 2), pool_sizes=(1,), duration_s=1.5, warmup_s=0, connect_timeout=2
        ),
        progress=sink,
    )
    assert sink.stopped
    assert time.monotonic() - t0 < 60
    assert result.status == "failed"
    assert [p.status for p in result.points] == ["ok", "failed"]
    good, broken = result.points
    assert good.requests > 0 and broken.error
    assert len(result.points) < result.points_planned
    doc = to_document(result)
    assert doc.data["status"] == "failed" and doc.data["points"][-1]["error"] == broken.error
    embedded.ensure_running(private_cluster)


def test_ctrl_c_prints_partial_report(pg_server: str, tmp_path: Path) -> None:
    out = tmp_path / "out.json"
    env = {**os.environ, "PERFKIT_HOME": os.environ["PERFKIT_HOME"]}
    proc = subprocess.Popen(
        [sys.executable, "-m", "perfkit", "pool", "--dsn", pg_server, "--clients", "1,2",
         "--pool-size", "1", "--duration", "1s", "--warmup", "0", "--format", "json",
         "--output", str(out)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, text=True,
    )  # fmt: skip
    # interrupt once the sweep runs: its monitor connection is open, the first point done
    deadline = time.monotonic() + 30
    with psycopg.connect(pg_server, autocommit=True) as conn:
        while time.monotonic() < deadline and proc.poll() is None:
            row = conn.execute(
                "SELECT count(*) FROM pg_stat_activity"
                " WHERE application_name = 'perfkit-pool-monitor'"
            ).fetchone()
            if row and row[0]:
                break
            time.sleep(0.1)
    time.sleep(1.6)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err
    assert "interrupted" in err and "Traceback" not in err
    doc = json.loads(out.read_text())
    assert doc["status"] == "interrupted"
    statuses = [p["status"] for p in doc["points"]]
    # Ctrl-C lands in a point (marked interrupted) or between two (nothing half-done)
    assert set(statuses[:-1]) <= {"ok"} and statuses[-1:] in ([], ["ok"], ["interrupted"])


# --- the local PostgreSQL 15 over TCP ----------------------------------------------------------


@pytest.mark.localpg
def test_pool_on_local_postgres_15_over_tcp(local_pg: str, tmp_path: Path) -> None:
    result = run_pool_benchmark(
        local_pg,
        options=PoolBenchOptions(clients=(2,), pool_sizes=(1, 2), requests=40, warmup_s=0),
    )
    assert result.status == "complete"
    (ep,) = result.endpoints
    assert ep.transport == "tcp" and ep.server_version_num // 10000 == 15
    fresh = result.points[0]
    assert fresh.connect is not None and fresh.connect_socket is not None
    assert fresh.connect_startup is not None
    assert fresh.connect_socket.mean_ms > 0 and fresh.connect_startup.mean_ms > 0
    png = tmp_path / "p.png"
    write_plot(result, png)
    assert png.read_bytes().startswith(b"\x89PNG")
    svg = tmp_path / "p.svg"
    write_plot(result, svg)
    assert "<svg" in svg.read_text()


def test_query_workload_rejects_empty() -> None:
    with pytest.raises(InputError, match="--query: the query is empty"):
        query_workload("  ;")


def test_config_sections_set_defaults(cli, pg_server: str, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    cfg = tmp_path / "perfkit.toml"
    cfg.write_text(
        '[db]\nstatement_timeout = "7s"\nlock_timeout = "1s"\n\n'
        '[pool]\nclients = "2"\npool_size = "1"\nrequests = 10\nwarmup = "0"\n'
        'no_fresh = true\nlock_timeout = "2s"\n'
    )
    r = cli("--config", str(cfg), "pool", "--dsn", pg_server, "--format", "json")
    assert r.exit_code == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["options"]["statement_timeout"] == "7s"  # from [db]
    assert doc["options"]["lock_timeout"] == "2s"  # [pool] wins over [db]
    assert [(p["mode"], p["clients"], p["requests"]) for p in doc["points"]] == [("pool", 2, 10)]


@pytest.mark.localpg
def test_compare_dsn_through_pgbouncer(local_pg: str, tmp_path: Path) -> None:
    """PgBouncer rejects the `options` startup parameter: perfkit SETs instead."""
    from psycopg.conninfo import conninfo_to_dict

    params = conninfo_to_dict(local_pg)
    with run_pgbouncer(local_pg, user=str(params.get("user", "postgres"))) as bouncer:
        result = run_pool_benchmark(
            local_pg,
            compare_dsn=f"{bouncer}/{params['dbname']}",
            options=PoolBenchOptions(clients=(2,), pool_sizes=(2,), requests=20, warmup_s=0),
        )
    assert result.status == "complete", result.error
    primary, compare = result.endpoints
    assert primary.startup_options and not compare.startup_options
    assert all(p.requests == 20 for p in result.points)


def test_runs_from_a_threaded_caller(pg_server: str) -> None:
    """A caller with threads gets spawned workers (fork would copy held locks)."""
    done = threading.Event()
    other = threading.Thread(target=done.wait, daemon=True)
    other.start()
    try:
        result = run_pool_benchmark(
            pg_server,
            options=PoolBenchOptions(
                clients=(2,), pool_sizes=(2,), requests=20, warmup_s=0, workers=1
            ),
        )
    finally:
        done.set()
    assert result.status == "complete", result.error
    assert [p.requests for p in result.points] == [20, 20]


def test_cli_reports_measured_points_when_server_stops(cli, private_cluster: Path) -> None:  # type: ignore[no-untyped-def]
    uri = embedded.ensure_running(private_cluster)

    def stop_during_second_point() -> None:
        # the second point is the first pooled one: its connection lives on, unlike the
        # fresh point's one-request connections
        deadline = time.monotonic() + 30
        with psycopg.connect(uri, autocommit=True) as conn:
            while time.monotonic() < deadline:
                row = conn.execute(
                    "SELECT count(*) FROM pg_stat_activity"
                    " WHERE application_name = 'perfkit-pool'"
                    " AND backend_start < now() - interval '500 ms'"
                ).fetchone()
                if row and row[0]:
                    break
                time.sleep(0.05)
        embedded.stop(private_cluster)

    stopper = threading.Thread(target=stop_during_second_point)
    stopper.start()
    try:
        r = cli(
            "pool", "--dsn", uri, "--clients", "1", "--pool-size", "1,2", "--duration", "1s",
            "--warmup", "0", "--workers", "1", "--connect-timeout", "2", "--format", "json",
        )  # fmt: skip
    finally:
        stopper.join()
        embedded.ensure_running(private_cluster)
    assert r.exit_code == 2
    doc = json.loads(r.stdout)
    assert doc["status"] == "failed"
    assert [p["status"] for p in doc["points"]] == ["ok", "failed"]
    assert doc["points"][-1]["status"] == "failed" and doc["points"][-1]["error"]
    assert r.stderr.startswith("perfkit: error: primary ")
    assert "point failed:" in r.stderr and "Traceback" not in r.stderr
