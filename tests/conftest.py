"""Shared fixtures: a real PostgreSQL for every test that needs one, never a mock.

* ``PERFKIT_TEST_DSN`` set: tests use that server (it must allow CREATE DATABASE).
* otherwise: a private embedded cluster in a temporary ``PERFKIT_HOME``, which is
  also what the CLI's embedded default resolves to during the tests.

``PERFKIT_LOCAL_DSN`` names a second server (the machine's PostgreSQL 15 with
HypoPG in CI); tests marked ``localpg`` skip without it.
"""

from __future__ import annotations

import os
import tempfile
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

# Every test run gets its own PERFKIT_HOME so nothing touches the user's embedded cluster.
_HOME = Path(tempfile.mkdtemp(prefix="pk-"))
os.environ["PERFKIT_HOME"] = str(_HOME)
for _var in ("PERFKIT_DSN", "PGHOST", "PGHOSTADDR", "PGPORT", "PGDATABASE", "PGUSER", "PGSERVICE"):
    os.environ.pop(_var, None)
os.environ.pop("CI", None)  # progress is silent anyway: CliRunner is not a terminal

WIDTH = 100


@pytest.fixture(scope="session")
def pg_server() -> Iterator[str]:
    """Admin DSN of the test server (embedded unless PERFKIT_TEST_DSN is set)."""
    dsn = os.environ.get("PERFKIT_TEST_DSN")
    if dsn:
        yield dsn
        return
    from perfkit.db import embedded

    uri = embedded.ensure_running()
    try:
        yield uri
    finally:
        embedded.stop()


def _with_dbname(dsn: str, dbname: str) -> str:
    from psycopg.conninfo import make_conninfo

    return make_conninfo(dsn, dbname=dbname)


def _admin_exec(dsn: str, sql: str) -> None:
    import psycopg

    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(sql)


@pytest.fixture
def scratch_db(pg_server: str) -> Iterator[str]:
    """A new, empty database with a unique name, dropped after the test. Yields its DSN."""
    name = f"pk_{uuid.uuid4().hex[:12]}"
    _admin_exec(pg_server, f'CREATE DATABASE "{name}"')
    try:
        yield _with_dbname(pg_server, name)
    finally:
        _admin_exec(pg_server, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def _schema_db(admin: str, schema: Path) -> Iterator[str]:
    name = f"pk_{uuid.uuid4().hex[:12]}"
    _admin_exec(admin, f'CREATE DATABASE "{name}"')
    dsn = _with_dbname(admin, name)
    try:
        import psycopg

        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(schema.read_text().encode())
            # the load's row counts reach pg_stat now: flushed after VACUUM has set
            # n_live_tup, they would be added again (n_live_tup twice the table's rows)
            conn.execute("SELECT pg_stat_force_next_flush()")
            conn.execute("VACUUM ANALYZE")  # statistics and a visibility map, as in production
        yield dsn
    finally:
        _admin_exec(admin, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def schema_db() -> Callable[[str, Path], AbstractContextManager[str]]:
    """``with schema_db(admin_dsn, schema_sql) as dsn``: a new database with a unique name on
    that server, the schema loaded and VACUUM ANALYZEd; dropped afterwards."""
    return _schema_db


@pytest.fixture(scope="session")
def local_pg() -> str:
    """DSN of the machine's own PostgreSQL (15, with HypoPG in CI)."""
    dsn = os.environ.get("PERFKIT_LOCAL_DSN")
    if not dsn:
        pytest.skip("PERFKIT_LOCAL_DSN not set")
    return dsn


@pytest.fixture
def local_scratch_db(local_pg: str) -> Iterator[str]:
    name = f"pk_{uuid.uuid4().hex[:12]}"
    _admin_exec(local_pg, f'CREATE DATABASE "{name}"')
    try:
        yield _with_dbname(local_pg, name)
    finally:
        _admin_exec(local_pg, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def cli() -> Any:
    """Run the CLI in-process at a fixed width: ``cli("analyze", "x.log")``."""
    from perfkit.cli import app

    runner = CliRunner()

    def invoke(*args: str, input: str | None = None, env: dict[str, str] | None = None) -> Any:
        full_env = {"COLUMNS": str(WIDTH), "CI": "1"}
        full_env.update(env or {})
        return runner.invoke(app, list(args), input=input, env=full_env, catch_exceptions=False)

    return invoke


@pytest.fixture(scope="session")
def corpora() -> Path:
    """The directory of the real-log corpus (pgBadger's test logs, PostgreSQL licence): the
    shared one beside the project, else the copy in tests/data/querylog."""
    here = Path(__file__).resolve().parent
    shared = here.parent.parent / "shared" / "corpora" / "postgres-logs"
    return shared if shared.is_dir() else here / "data" / "querylog"
