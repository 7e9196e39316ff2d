"""pg_stat_statements over an interval, on real servers (private clusters, 15 and 18).

Each test resets the view first, so none depends on another; the clusters have
``pg_stat_statements.max = 100`` so that evictions are easy to force.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import statistics
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_pgss_fixtures import Cluster, bin_dir, private_cluster

from perfkit.errors import DatabaseError, InputError
from perfkit.livestats.delta import DeltaRow, StatsDelta, compute_delta, interval_moments
from perfkit.livestats.run import Session, around, snapshot_now, stats_delta
from perfkit.querylog.fingerprint import fingerprint

TARGET = "SELECT v FROM t WHERE id = %s"
SLEEP = "SELECT pg_sleep(%s)"


@pytest.fixture(scope="module", params=["18", "15"])
def cluster(request: pytest.FixtureRequest) -> Iterator[Cluster]:
    if bin_dir(request.param) is None:
        pytest.skip(f"no PostgreSQL {request.param} binaries on this machine")
    with private_cluster(request.param) as c:
        c.admin("CREATE TABLE t (id int PRIMARY KEY, v text)")
        c.admin("INSERT INTO t SELECT g, md5(g::text) FROM generate_series(1, 1000) g")
        c.admin("CREATE ROLE pk_plain LOGIN")
        yield c


def _reset(c: Cluster) -> None:
    c.admin("SELECT pg_stat_statements_reset()")


def _run(c: Cluster, sql: str, args: list[Any], *, log: bool = False) -> None:
    with psycopg.connect(c.dsn(), autocommit=True) as conn:
        if log:
            conn.execute("SET log_min_duration_statement = 0")
        for a in args:
            conn.execute(sql.encode(), (a,))


def _row(d: StatsDelta, sql: str) -> DeltaRow:
    fid = fingerprint(sql).id
    rows = [r for r in d.rows if r.fingerprint == fid]
    assert len(rows) == 1, [r.query for r in d.rows]
    return rows[0]


def _major(c: Cluster) -> int:
    with psycopg.connect(c.dsn()) as conn:
        return int(conn.info.server_version) // 10000


def test_interval_delta_counts_what_ran(cluster: Cluster) -> None:
    _reset(cluster)
    _run(cluster, TARGET, [1])  # the entry exists before the interval
    ran = {"done": False}

    def sleep(seconds: float) -> None:  # the workload runs while the command waits
        if not ran["done"]:
            _run(cluster, TARGET, list(range(1, 51)))
            ran["done"] = True

    d = stats_delta(Session(cluster.dsn()), interval=0.001, sleep=sleep)
    assert d.complete, d.problems
    r = _row(d, "SELECT v FROM t WHERE id = 42")
    assert (r.calls, r.counters["rows"], r.status) == (50, 50, "delta")
    assert r.counters["shared_blks_hit"] is not None and r.counters["shared_blks_hit"] >= 50
    assert r.plan is not None and r.exec.mean is not None and r.exec.mean > 0
    assert r.datname == "postgres" and r.rolname == "postgres" and r.toplevel
    assert not [x for x in d.rows if "perfkit livestats" in x.query]  # its own reads left out


def test_mean_and_stddev_over_the_interval_add_up(cluster: Cluster) -> None:
    _reset(cluster)
    a = snapshot_now(Session(cluster.dsn()))
    _run(cluster, SLEEP, [0.002] * 4)
    b = snapshot_now(Session(cluster.dsn()))
    _run(cluster, SLEEP, [0.004] * 3 + [0.008] * 3)
    c = snapshot_now(Session(cluster.dsn()))
    ab, bc, ac = (
        _row(compute_delta(x, y), "SELECT pg_sleep(1)") for x, y in ((a, b), (b, c), (a, c))
    )
    assert (ab.calls, bc.calls, ac.calls) == (4, 6, 10)
    # pg_sleep never returns early: lower bounds that hold however loaded the machine is
    assert ab.exec.mean is not None and ab.exec.mean >= 2.0
    assert bc.exec.mean is not None and bc.exec.mean >= (3 * 4 + 3 * 8) / 6
    # the two halves combine into the whole (parallel variance), as measured by the server
    assert math.isclose(ab.exec.total + bc.exec.total, ac.exec.total, rel_tol=1e-9)
    assert ab.exec.stddev is not None and bc.exec.stddev is not None
    m2 = (
        ab.calls * ab.exec.stddev**2
        + bc.calls * bc.exec.stddev**2
        + ab.calls * bc.calls / 10 * (bc.exec.mean - ab.exec.mean) ** 2
    )
    assert ac.exec.stddev is not None
    assert math.isclose(math.sqrt(m2 / 10), ac.exec.stddev, rel_tol=1e-6, abs_tol=1e-9)


def test_reset_between_snapshots_is_partial(cluster: Cluster) -> None:
    _reset(cluster)
    _run(cluster, TARGET, [1, 2, 3])
    a = snapshot_now(Session(cluster.dsn()))
    _run(cluster, TARGET, [4, 5])
    _reset(cluster)
    _run(cluster, TARGET, [6, 7, 8, 9])
    d = compute_delta(a, snapshot_now(Session(cluster.dsn())))
    assert not d.complete and d.reset_at is not None
    assert "was reset" in d.problems[0] and "lost" in d.problems[0]
    r = _row(d, "SELECT v FROM t WHERE id = 1")
    assert (r.calls, r.status, r.partial) == (4, "since_reset", True)
    assert d.covered_from == d.reset_at


def test_evictions_say_how_many_and_make_it_partial(cluster: Cluster) -> None:
    _reset(cluster)
    _run(cluster, TARGET, [1])
    a = snapshot_now(Session(cluster.dsn()))
    with psycopg.connect(cluster.dsn(), autocommit=True) as conn:
        for i in range(1, 251):  # 250 statements of different shapes, max is 100
            conn.execute(("SELECT " + ", ".join(["1"] * i)).encode())
    _run(cluster, TARGET, [2, 3])
    d = compute_delta(a, snapshot_now(Session(cluster.dsn())))
    assert not d.complete
    msg = next(p for p in d.problems if "pg_stat_statements.max = 100 is too small" in p)
    assert d.evictions is not None and d.evictions > 0 and f"{d.evictions} eviction" in msg
    assert "lost" in msg and "raise pg_stat_statements.max" in msg
    r = _row(d, "SELECT v FROM t WHERE id = 1")
    assert r.calls <= 2 and (r.status != "delta" or r.calls == 2)
    if _major(cluster) < 17:  # an eviction may hide behind more calls: a lower bound
        assert r.partial and r.status in ("maybe_recreated", "recreated", "new")


def test_entry_recreated_with_more_calls_is_seen_on_17(cluster: Cluster) -> None:
    if _major(cluster) < 17:
        pytest.skip("stats_since is 17+; before, only dealloc tells of evictions")
    _reset(cluster)
    _run(cluster, TARGET, [1])
    a = snapshot_now(Session(cluster.dsn()))
    e = next(x for x in a.entries if fingerprint(x.query).id == fingerprint(TARGET % 1).id)
    cluster.admin(f"SELECT pg_stat_statements_reset({e.userid}, {e.dbid}, {e.queryid})")
    _run(cluster, TARGET, [2, 3, 4])  # more calls than before: a naive diff would say 2
    r = _row(compute_delta(a, snapshot_now(Session(cluster.dsn()))), TARGET % 1)
    assert (r.status, r.calls, r.partial) == ("recreated", 3, True)


def test_other_users_texts_need_pg_read_all_stats(cluster: Cluster) -> None:
    _reset(cluster)
    plain = Session(cluster.dsn(user="pk_plain"))
    a = snapshot_now(plain)
    _run(cluster, TARGET, [1, 2])
    d = compute_delta(a, snapshot_now(plain))
    assert not d.complete
    assert any("GRANT pg_read_all_stats TO pk_plain" in p for p in d.problems)
    cluster.admin("GRANT pg_read_all_stats TO pk_plain")
    try:
        d = compute_delta(a, snapshot_now(plain))
        assert _row(d, TARGET % 1).calls == 2
        assert not any("pg_read_all_stats" in p for p in d.problems)
    finally:
        cluster.admin("REVOKE pg_read_all_stats FROM pk_plain")


def test_stats_and_log_fingerprints_join(cluster: Cluster, tmp_path: Path) -> None:
    from perfkit.querylog.aggregate import AnalyzeOptions, analyze

    _reset(cluster)
    log = cluster.home / "log"
    start = log.stat().st_size
    d, _ = around(
        Session(cluster.dsn()),
        lambda: _run(cluster, TARGET, [5, 6, 7], log=True),
    )
    part = tmp_path / "part.log"
    with open(log, "rb") as fh:
        fh.seek(start)
        part.write_bytes(fh.read())
    logged = analyze([part], AnalyzeOptions(replay=False))
    by_id = {f.id: f for f in logged.fingerprints}
    r = _row(d, TARGET % 5)
    assert r.fingerprint in by_id and by_id[r.fingerprint].calls == r.calls == 3


def test_saved_snapshots_through_the_cli(cli: Any, cluster: Cluster, tmp_path: Path) -> None:
    _reset(cluster)
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    dsn = cluster.dsn()
    res = cli("analyze", "--from-stats", "--snapshot", str(a), "--dsn", dsn)
    assert res.exit_code == 0, res.output
    assert json.loads(a.read_text())["format"] == "perfkit-pgss-snapshot"
    _run(cluster, TARGET, [1, 2, 3])
    assert cli("analyze", "--from-stats", "--snapshot", str(b), "--dsn", dsn).exit_code == 0
    _run(cluster, TARGET, [4])
    both = cli("analyze", "--from-stats", str(a), str(b), "-f", "json")
    assert both.exit_code == 0, both.output
    doc = json.loads(both.stdout)
    assert doc["kind"] == "stats-delta" and doc["schema_version"] == 1 and doc["complete"]
    fid = fingerprint(TARGET % 1).id
    assert [s["calls"] for s in doc["statements"] if s["fingerprint"] == fid] == [3]
    to_now = json.loads(cli("analyze", "--from-stats", str(a), "--dsn", dsn, "-f", "json").stdout)
    assert [s["calls"] for s in to_now["statements"] if s["fingerprint"] == fid] == [4]
    md = cli("analyze", "--from-stats", str(b), str(a), "-f", "csv")  # order does not matter
    assert md.exit_code == 0 and fid in md.stdout


def test_extension_not_installed_says_what_to_run(cli: Any, cluster: Cluster) -> None:
    cluster.admin("DROP DATABASE IF EXISTS nopgss")
    cluster.admin("CREATE DATABASE nopgss TEMPLATE template0")
    try:
        with pytest.raises(DatabaseError) as err:
            snapshot_now(Session(cluster.dsn("nopgss")))
        assert "loaded but not installed in database 'nopgss'" in str(err.value)
        assert (
            err.value.hint is not None and "CREATE EXTENSION pg_stat_statements" in err.value.hint
        )
        res = cli("analyze", "--from-stats", "--interval", "1s", "--dsn", cluster.dsn("nopgss"))
        assert res.exit_code == 2 and "Traceback" not in res.output
        assert "not installed" in res.stderr
    finally:
        cluster.admin("DROP DATABASE IF EXISTS nopgss WITH (FORCE)")


def test_embedded_default_needs_no_setup(cli: Any, pg_server: str) -> None:
    res = cli("analyze", "--from-stats", "--interval", "0.2s", "-f", "json")
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    assert doc["kind"] == "stats-delta" and doc["seconds"] > 0
    with psycopg.connect(pg_server) as conn:
        assert "auto_explain" in str(conn.execute("SHOW shared_preload_libraries").fetchone())
        assert conn.execute("SHOW auto_explain.log_min_duration").fetchone() == ("-1",)


def test_bad_snapshot_files_are_one_line(cli: Any, tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("{}")
    res = cli("analyze", "--from-stats", str(bad), str(bad))
    assert res.exit_code == 2 and "not a pg_stat_statements snapshot" in res.stderr
    bad.write_text(
        '{"format": "perfkit-pgss-snapshot", "schema_version": 1, "settings": {}, "entries": [{}]}'
    )
    with pytest.raises(InputError, match=r"bad snapshot: entries\[0\]: missing 'userid'"):
        stats_delta(Session(), snapshots=[bad, bad])
    res = cli("analyze", "--from-stats")
    assert res.exit_code == 2 and "--interval" in res.stderr
    res = cli("analyze", "--interval", "5m", "x.log")
    assert res.exit_code == 2 and "needs --from-stats" in res.stderr


def _pgss_moments(xs: list[float]) -> tuple[int, float, float]:
    """What pg_stat_statements keeps of a list of durations: calls, total, pop. stddev."""
    return len(xs), math.fsum(xs), statistics.pstdev(xs) if len(xs) > 1 else 0.0


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.floats(0.001, 5000.0), max_size=40),
    st.lists(st.floats(0.001, 5000.0), min_size=1, max_size=40),
)
def test_interval_moments_are_those_of_the_later_calls(
    before: list[float], during: list[float]
) -> None:
    n_a, t_a, s_a = _pgss_moments(before)
    n_b, t_b, s_b = _pgss_moments(before + during)
    m = interval_moments(n_a, t_a, s_a, n_b, t_b, s_b)
    assert m.n == len(during)
    assert m.mean is not None and m.stddev is not None
    assert math.isclose(m.mean, statistics.fmean(during), rel_tol=1e-7, abs_tol=1e-7)
    want = statistics.pstdev(during) if len(during) > 1 else 0.0
    # doubles, as the server keeps them: exact to a millionth of the largest duration
    assert math.isclose(m.stddev, want, rel_tol=1e-6, abs_tol=1e-6 * max(before + during))


def test_suggest_indexes_from_the_interval(cli: Any, cluster: Cluster) -> None:
    import threading

    cluster.admin("DROP TABLE IF EXISTS big")
    cluster.admin(
        "CREATE TABLE big AS SELECT g AS a, g % 5000 AS b FROM generate_series(1, 50000) g"
    )
    cluster.admin("VACUUM ANALYZE big")
    _reset(cluster)
    stop, started = threading.Event(), threading.Event()

    def workload() -> None:  # runs from before the first snapshot to after the second
        with psycopg.connect(cluster.dsn(), autocommit=True) as conn:
            while not stop.is_set():
                conn.execute("SELECT a FROM big WHERE b = %s", (7,))
                started.set()

    t = threading.Thread(target=workload)
    t.start()
    try:
        assert started.wait(30)
        res = cli(
            "suggest-indexes", "--from-stats", "--interval", "1s", "--dsn", cluster.dsn(),
            "--trial", "-f", "json",
        )  # fmt: skip
        plans = cli("explain", "--from-stats", "--interval", "0.5s", "--dsn", cluster.dsn())
    finally:
        stop.set()
        t.join()
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    assert [(s["table"], s["columns"]) for s in doc["suggestions"]] == [("public.big", ["b"])]
    (q,) = doc["queries"]
    assert q["source"] == "pg_stat_statements delta" and q["calls"] > 0
    assert plans.exit_code == 0 and "Seq Scan on big" in plans.stdout


def _lookups(per_xact: int) -> str:
    """A workload of two transactions, each looking ``per_xact`` rows up one by one."""
    one = "BEGIN; " + " ".join(f"SELECT v FROM t WHERE id = {i};" for i in range(per_xact))
    return f'psql -X -q "$DATABASE_URL" -c "{one} COMMIT;" -c "{one} COMMIT;" >/dev/null'


def test_check_gates_calls_per_transaction(cli: Any, cluster: Cluster, tmp_path: Path) -> None:
    if shutil.which("psql") is None:
        pytest.skip("no psql client")
    cfg = tmp_path / "perfkit.toml"

    def write(per_xact: int) -> None:
        cfg.write_text(
            "[check.lookups]\n"
            'type = "stats"\n'
            f"run = {json.dumps(_lookups(per_xact))}\n"
            'query = "SELECT v FROM t WHERE id = 1"\n'
            "runs = 2\n"
            "limits.calls_per_xact = { max = 3 }\n"
        )

    def run(*args: str) -> Any:
        return cli("--config", str(cfg), "check", "--format", "json", "--dsn", cluster.dsn(), *args)

    base = tmp_path / "base.json"
    write(2)
    r = run("--save-baseline", str(base))
    assert r.exit_code == 0, r.stderr
    m = {x["name"]: x for x in json.loads(r.stdout)["checks"][0]["metrics"]}
    assert m["calls"]["current"]["median"] == 4
    assert m["calls_per_xact"]["current"]["median"] == 2
    assert m["mean_time"]["current"]["median"] > 0
    write(5)  # the same two transactions now make five lookups each: an N+1
    r = run("--baseline", str(base))
    assert r.exit_code == 1, r.stdout
    m = {x["name"]: x for x in json.loads(r.stdout)["checks"][0]["metrics"]}
    assert m["calls_per_xact"]["current"]["median"] == 5
    assert m["calls_per_xact"]["status"] == "regression"
    assert m["calls"]["status"] == "regression"


def test_check_fails_clearly_when_the_workload_fails(
    cli: Any, cluster: Cluster, tmp_path: Path
) -> None:
    cfg = tmp_path / "perfkit.toml"
    cfg.write_text('[check.w]\ntype = "stats"\nrun = "echo broken >&2; exit 3"\nruns = 1\n')
    r = cli("--config", str(cfg), "check", "--dsn", cluster.dsn())
    assert r.exit_code == 2 and "workload exited with status 3: broken" in r.stdout


@pytest.mark.localpg
def test_machine_postgresql_15(local_scratch_db: str) -> None:
    """The machine's PostgreSQL 15 (CI preloads pg_stat_statements there: .ci/run)."""
    with psycopg.connect(local_scratch_db, autocommit=True) as conn:
        if conn.execute("SELECT current_setting('pg_stat_statements.max', true)").fetchone() == (
            None,
        ):
            pytest.skip("pg_stat_statements is not preloaded on PERFKIT_LOCAL_DSN")
        conn.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
        # autovacuum's analyze of the new rows would count as a transaction of the database
        conn.execute("CREATE TABLE t (id int PRIMARY KEY, v text) WITH (autovacuum_enabled = off)")
        conn.execute("INSERT INTO t SELECT g, g::text FROM generate_series(1, 100) g")
        conn.execute("ANALYZE t")
        # this session's transactions reach pg_stat_database now, not from its exit, which
        # may come after the first snapshot (and count as the workload's)
        conn.execute("SELECT pg_stat_force_next_flush()")

    def work() -> None:
        with psycopg.connect(local_scratch_db, autocommit=True) as conn:
            for i in range(7):
                conn.execute("SELECT v FROM t WHERE id = %s", (i,))

    d, _ = around(Session(local_scratch_db), work)
    mine = [r for r in d.rows if r.dbid == d.dbid and r.fingerprint == fingerprint(TARGET % 1).id]
    assert [r.calls for r in mine] == [7]
    # PostgreSQL 15 reports a session's transaction counters when it exits or after 10 s
    # idle, not at once: one transaction of the sessions around the interval can land in it
    # (exact on 18, where the private-cluster tests assert it); the calls above are exact
    assert d.db_xacts in (7, 8)


def test_embedded_cluster_of_an_older_perfkit_is_upgraded_once(cli: Any) -> None:
    import subprocess
    import tempfile

    from test_pgss_fixtures import RUN_AS, embedded_bin

    from perfkit.db import embedded

    home = Path(tempfile.mkdtemp(prefix="pkup-"))  # not tmp_path: the server's user must reach it
    pgdata = home / "embedded" / "pgdata"
    try:
        embedded.ensure_running(pgdata)
        embedded.stop(pgdata)
        # what a cluster made before the preload looks like: no perfkit.conf, no include
        (pgdata / embedded.PERFKIT_CONF).unlink()
        conf = pgdata / "postgresql.conf"
        conf.write_text(
            "".join(ln for ln in conf.read_text().splitlines(True) if "perfkit" not in ln)
        )
        cmd = [str(embedded_bin() / "pg_ctl"), "-D", str(pgdata), "-o", f"-h '' -k {pgdata}"]
        cmd += ["-l", str(pgdata / "log"), "-w", "start"]
        if os.geteuid() == 0:
            cmd = ["runuser", "-u", RUN_AS, "--", *cmd]
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
        uri = f"postgresql://postgres@/postgres?host={pgdata}"
        # not loaded: what to enable and how
        with pytest.raises(DatabaseError) as err:
            snapshot_now(Session(uri))
        assert "not loaded: shared_preload_libraries is ''" in str(err.value)
        assert err.value.hint is not None
        assert "shared_preload_libraries = 'pg_stat_statements'" in err.value.hint
        assert "restart" in err.value.hint and "CREATE EXTENSION" in err.value.hint
        res = cli("analyze", "--from-stats", "--interval", "1s", "--dsn", uri)
        assert res.exit_code == 2 and "not loaded" in res.stderr and "Traceback" not in res.output
        uri = embedded.ensure_running(pgdata)  # restarted once with the settings
        d = stats_delta(Session(uri), interval=0.001, sleep=lambda s: None)
        assert d.settings.max is not None and d.settings.track_planning
        assert not embedded.configure(pgdata)  # nothing left to change: no second restart
    finally:
        embedded.reset(pgdata)
        shutil.rmtree(home, ignore_errors=True)


def test_older_sql_variants_run_where_their_columns_exist(cluster: Cluster) -> None:
    """The variants for older servers, on this one where its columns are a superset
    (13 and 14 on 15: the 17 renames came later); every variant names the same columns."""
    from perfkit.db.sql import load_sql

    major = _major(cluster)
    olders = [v for v in (13, 14, 15) if v <= major and (major < 17 or v >= 17)] or [major]
    names = set()
    with psycopg.connect(cluster.dsn(), autocommit=True) as conn:
        for v in olders:
            for q in ("pgss_context", "pgss_snapshot"):
                cur = conn.execute(load_sql(q, v * 10000).encode())
                assert cur.description is not None
                if q == "pgss_snapshot":
                    names.add(tuple(c.name for c in cur.description))
    assert len(names) == 1
