"""The database layer against real servers: embedded PostgreSQL 18 and the local 15."""

from __future__ import annotations

import json
import shutil
import socket
import tempfile
import threading
import time
import uuid
from pathlib import Path

import psycopg
import pytest
from test_db_fixtures import PW_SECRET, private_cluster

from perfkit.db import embedded
from perfkit.db.connect import (
    ServerVersion,
    apply_session_settings,
    connect,
    conninfo,
    detect_server_version,
    is_connection_lost,
    map_error,
    rolled_back,
    session_defaults,
)
from perfkit.db.sql import _index, load_sql
from perfkit.errors import AuthenticationFailed, ConfigError, ConnectionFailed

__all__ = ["private_cluster"]  # the fixture, shared with test_pool.py

SECRET = PW_SECRET


def _socket_dsn(pgdata: Path, user: str, password: str | None = None) -> str:
    pw = f" password={password}" if password else ""
    return f"host={pgdata} user={user} dbname=postgres{pw}"


# --- config and session settings --------------------------------------------------


def test_session_defaults_come_from_config_db_section() -> None:
    d = session_defaults(
        {"db": {"statement_timeout": "2s", "lock_timeout": "250ms", "connect_timeout": 3}}
    )
    assert (d.statement_timeout, d.lock_timeout, d.connect_timeout) == ("2s", "250ms", 3.0)
    assert session_defaults({}).statement_timeout == "30s"


def test_bad_config_timeout_names_section_and_key() -> None:
    with pytest.raises(ConfigError, match=r"perfkit.toml: \[db\] lock_timeout: "):
        session_defaults({"db": {"lock_timeout": "soon"}})


def test_connect_sets_perfkit_session(scratch_db: str) -> None:
    with connect(scratch_db, statement_timeout="1500ms", lock_timeout="2s") as conn:
        row = conn.execute(
            "SELECT current_setting('statement_timeout'), current_setting('lock_timeout'),"
            " current_setting('default_transaction_read_only'),"
            " current_setting('application_name')"
        ).fetchone()
        assert row == ("1500ms", "2s", "on", "perfkit")
        with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
            conn.execute("CREATE TABLE t (x int)")


def test_session_settings_can_be_set_after_connecting(scratch_db: str) -> None:
    # the path used for PgBouncer, which rejects the `options` startup parameter
    assert "options" not in conninfo(scratch_db, session_settings=False)
    with connect(scratch_db, session_settings=False, statement_timeout="3s") as conn:
        assert conn.execute("SHOW statement_timeout").fetchone() == ("3s",)
        assert conn.execute("SHOW default_transaction_read_only").fetchone() == ("on",)
    with psycopg.connect(scratch_db) as conn:  # not autocommit: committed by the helper
        apply_session_settings(conn, read_only=False, lock_timeout="1s")
        assert conn.execute("SHOW lock_timeout").fetchone() == ("1s",)


def test_rolled_back_never_commits(scratch_db: str) -> None:
    with connect(scratch_db) as conn:
        with rolled_back(conn, read_write=True):
            conn.execute("CREATE TABLE kept (x int)")
        assert conn.execute("SELECT to_regclass('kept')").fetchone() == (None,)


# --- versions and SQL files ---------------------------------------------------------


def test_server_version_detected_on_embedded(pg_server: str) -> None:
    with connect(pg_server) as conn:
        v = detect_server_version(conn)
    assert v.major >= 13 and v.supported
    assert str(v) == v.text and v.text.split(".")[0] == str(v.major)


def test_server_version_properties() -> None:
    v = ServerVersion(150020, "15.20")
    assert (v.major, v.minor, v.supported) == (15, 20, True)
    assert not ServerVersion(120003, "12.3").supported


OWN_QUERIES = ("backends", "server_info", "pool_backends")


def _run_own_queries(dsn: str) -> None:
    with connect(dsn) as conn:
        version = detect_server_version(conn)
        for name in OWN_QUERIES:
            with rolled_back(conn):
                assert conn.execute(load_sql(name, version.num).encode()).fetchall()


def test_every_sql_file_has_a_variant_for_each_supported_version() -> None:
    for name in _index():
        for major in range(13, 19):
            assert load_sql(name, major * 10000).strip(), (name, major)


def test_db_queries_run_on_embedded(pg_server: str) -> None:
    _run_own_queries(pg_server)


@pytest.mark.localpg
def test_db_queries_run_on_postgres_15(local_pg: str) -> None:
    with connect(local_pg) as conn:
        assert detect_server_version(conn).major == 15
    _run_own_queries(local_pg)


# --- faults ---------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_refused_port_is_a_connection_failure_with_masked_dsn() -> None:
    dsn = f"postgresql://app:{SECRET}@127.0.0.1:{_free_port()}/db"
    with pytest.raises(ConnectionFailed) as info:
        connect(dsn, connect_timeout=2)
    text = str(info.value)
    assert SECRET not in text and "app:***@127.0.0.1" in text
    assert "\n" not in text and "refused" in text.lower()


def test_silent_server_fails_within_connect_timeout() -> None:
    # a socket that accepts TCP but never speaks: only the timeout can end the wait
    with socket.socket() as srv:
        srv.bind(("127.0.0.1", 0))
        srv.listen(8)
        port = srv.getsockname()[1]
        t0 = time.monotonic()
        with pytest.raises(ConnectionFailed, match="timeout"):
            connect(f"postgresql://u@127.0.0.1:{port}/db", connect_timeout=2)
        assert time.monotonic() - t0 < 4


def test_wrong_password_is_an_authentication_failure(private_cluster: Path) -> None:
    embedded.ensure_running(private_cluster)
    with pytest.raises(AuthenticationFailed) as info:
        connect(_socket_dsn(private_cluster, "pk_pw", "wrong-password"))
    assert "authentication failed" in str(info.value)
    assert "wrong-password" not in str(info.value)
    with connect(_socket_dsn(private_cluster, "pk_pw", SECRET)) as conn:
        assert conn.execute("SELECT current_user").fetchone() == ("pk_pw",)


@pytest.mark.localpg
def test_unknown_role_on_local_server_is_an_authentication_failure(local_pg: str) -> None:
    from psycopg.conninfo import make_conninfo

    dsn = make_conninfo(local_pg, user=f"nobody_{uuid.uuid4().hex[:6]}", password=SECRET)
    with pytest.raises(AuthenticationFailed) as info:
        connect(dsn)
    assert SECRET not in str(info.value) and "does not exist" in str(info.value)


def test_cluster_stopped_mid_session_is_a_lost_connection(private_cluster: Path) -> None:
    uri = embedded.ensure_running(private_cluster)
    conn = connect(uri)
    try:
        stopper = threading.Thread(target=embedded.stop, args=(private_cluster,))
        stopper.start()
        stopper.join(timeout=30)
        with pytest.raises(psycopg.OperationalError) as info:
            conn.execute("SELECT 1")
        assert is_connection_lost(info.value)
        assert isinstance(map_error(info.value, "embedded"), ConnectionFailed)
    finally:
        conn.close()
    with pytest.raises(ConnectionFailed):
        connect(uri, connect_timeout=2)
    embedded.ensure_running(private_cluster)


# --- perfkit db ------------------------------------------------------------------------


def test_db_lifecycle_commands(cli, private_cluster: Path) -> None:  # type: ignore[no-untyped-def]
    env = {"PERFKIT_HOME": str(private_cluster.parent.parent)}
    r = cli("db", "status", "--format", "json", env=env)
    assert r.exit_code == 0
    st = json.loads(r.stdout)
    assert st["schema_version"] == 1 and st["target"]["source"] == "embedded"
    assert st["embedded"]["data_dir"] == str(private_cluster)
    try:
        r = cli("db", "stop", env=env)
        assert r.exit_code == 0
        st = json.loads(cli("db", "status", "--format", "json", env=env).stdout)
        assert st["embedded"]["initialized"] is True and st["embedded"]["running"] is False
        r = cli("db", "stop", env=env)
        assert "was not running" in r.stderr
        r = cli("db", "url", env=env)  # starts it on demand
        assert r.exit_code == 0 and r.stdout.startswith("postgresql://")
        with psycopg.connect(r.stdout.strip()) as conn:
            assert conn.execute("SELECT 1").fetchone() == (1,)
        st = json.loads(cli("db", "status", "--format", "json", env=env).stdout)
        assert st["embedded"]["running"] is True and st["embedded"]["version"] == "18"
        r = cli("db", "reset", env=env, input="y\n")  # no terminal to ask on: needs --yes
        assert r.exit_code == 2 and (private_cluster / "PG_VERSION").exists()
        assert r.stderr == (
            "perfkit: error: --yes: there is no terminal to confirm on; "
            f"pass --yes to delete {private_cluster}\n"
        )
    finally:
        embedded.ensure_running(private_cluster)


def test_db_reset_deletes_the_cluster(cli) -> None:  # type: ignore[no-untyped-def]
    home = Path(tempfile.mkdtemp(prefix="pkreset-"))
    pgdata = home / "embedded" / "pgdata"
    pgdata.mkdir(parents=True)
    (pgdata / "leftover").write_text("x")
    r = cli("db", "reset", "--yes", env={"PERFKIT_HOME": str(home)})
    assert r.exit_code == 0 and r.stderr == f"deleted {pgdata}\n"
    assert not pgdata.exists()
    shutil.rmtree(home, ignore_errors=True)


def test_db_status_masks_the_target_password(cli) -> None:  # type: ignore[no-untyped-def]
    r = cli("db", "status", "--dsn", f"postgresql://app:{SECRET}@db.example/app")
    assert r.exit_code == 0
    assert SECRET not in r.stdout and "app:***@db.example" in r.stdout


@pytest.mark.localpg
def test_db_status_check_shows_server_version(cli, local_pg: str) -> None:  # type: ignore[no-untyped-def]
    r = cli("db", "status", "--check", "--dsn", local_pg, "--format", "json")
    assert r.exit_code == 0, r.stderr
    server = json.loads(r.stdout)["server"]
    assert server["server_version_num"] // 10000 == 15 and server["supported"] is True
    assert server["database"] == "test" and server["in_recovery"] is False


def test_db_status_check_reports_unreachable_target(cli) -> None:  # type: ignore[no-untyped-def]
    r = cli(
        "db", "status", "--check", "--dsn", f"postgresql://u:{SECRET}@127.0.0.1:{_free_port()}/x"
    )
    assert r.exit_code == 2 and SECRET not in r.stderr
    assert r.stderr.startswith("perfkit: error: postgresql://u:***@127.0.0.1:")
