"""A PgBouncer process for the tests that compare an endpoint through a pooler."""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from psycopg.conninfo import conninfo_to_dict


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def run_pgbouncer(
    upstream: str, *, user: str, settings: str = "pool_mode = session\n", run_as: str = "postgres"
) -> Iterator[str]:
    """PgBouncer on a free 127.0.0.1 port in front of ``upstream`` (a DSN; a Unix-socket
    host works), trusting ``user``; yields ``postgresql://user@127.0.0.1:PORT``. As root
    it runs as ``run_as``, who must be able to reach the upstream's socket. Skips the test
    when pgbouncer is not installed."""
    binary = shutil.which("pgbouncer")
    if binary is None:
        pytest.skip("pgbouncer is not installed")
    params = conninfo_to_dict(upstream)
    port = free_port()
    work = Path(tempfile.mkdtemp(prefix="pkpgb-"))
    (work / "users.txt").write_text(f'"{user}" ""\n')
    (work / "pgb.ini").write_text(
        f"[databases]\n* = host={params.get('host', '127.0.0.1')} port={params.get('port', 5432)}\n"
        f"[pgbouncer]\nlisten_addr = 127.0.0.1\nlisten_port = {port}\nauth_type = trust\n"
        f"auth_file = {work}/users.txt\n{settings}unix_socket_dir =\n"
        f"logfile = {work}/pgb.log\n"
    )
    cmd = [binary, str(work / "pgb.ini")]
    if os.geteuid() == 0:
        uid = pwd.getpwnam(run_as).pw_uid
        for path in (work, *work.iterdir()):
            os.chown(path, uid, -1)
        cmd = ["runuser", "-u", run_as, "--", *cmd]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.05)
        yield f"postgresql://{user}@127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        shutil.rmtree(work, ignore_errors=True)
