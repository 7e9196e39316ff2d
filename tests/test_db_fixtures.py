"""A private embedded cluster shared by tests/test_db.py and tests/test_pool.py.

Tests that stop the server, or need password authentication, use this cluster rather
than the shared ``pg_server``. It is created once per session (initdb is the slow
part) under ``<home>/embedded/pgdata`` so the ``perfkit db`` commands can manage it
with ``PERFKIT_HOME=<home>``.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from perfkit.db import embedded

PW_ROLE = "pk_pw"
PW_SECRET = "s3cret-Pa55word"


_shared: dict[str, object] = {}


def _create() -> Path:
    # not pytest's tmp_path: as root, the cluster runs as another user, who must be able
    # to reach the directory (pytest makes its temp tree private to its owner)
    home = Path(tempfile.mkdtemp(prefix="pkdb-"))
    pgdata = home / "embedded" / "pgdata"
    uri = embedded.ensure_running(pgdata)
    hba = pgdata / "pg_hba.conf"
    hba.write_text(f"local all {PW_ROLE} scram-sha-256\n" + hba.read_text())
    with psycopg.connect(uri, autocommit=True) as conn:
        conn.execute(f"CREATE ROLE {PW_ROLE} LOGIN PASSWORD '{PW_SECRET}'")
        conn.execute("SELECT pg_reload_conf()")
    return pgdata


@pytest.fixture(scope="session")
def private_cluster() -> Iterator[Path]:
    """pgdata of a cluster with one role (``pk_pw``) that must give a SCRAM password.

    Imported by two modules, pytest sees two fixtures: they share one cluster (initdb is
    the slow part) and the last user removes it.
    """
    if "pgdata" not in _shared:
        _shared["pgdata"] = _create()
        _shared["users"] = 0
    pgdata = _shared["pgdata"]
    assert isinstance(pgdata, Path)
    _shared["users"] = int(str(_shared["users"])) + 1
    try:
        yield pgdata
    finally:
        _shared["users"] = int(str(_shared["users"])) - 1
        if _shared["users"] == 0:
            embedded.reset(pgdata)
            shutil.rmtree(pgdata.parent.parent, ignore_errors=True)
            _shared.clear()
