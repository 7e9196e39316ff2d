"""Make the live-server sample reports of the HTML page tests (see README.md here).

``python tests/data/html/make_live.py storm OUT.json``: a connection storm of a plain role
against a private embedded PostgreSQL 18 cluster with max_connections = 20, direct and
through PgBouncer (transaction mode); ``... stats OUT.json``: a pg_stat_statements delta
over a mixed workload on a private PostgreSQL 18 cluster. Both clusters are removed after.
"""

from __future__ import annotations

import pwd
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # tests/: the fixtures' modules

import psycopg
from pgbouncer_proc import run_pgbouncer
from psycopg.conninfo import make_conninfo
from test_pgss_fixtures import private_cluster

from perfkit.db import embedded
from perfkit.report.model import Document
from perfkit.report.render import render_json


def storm() -> Document:
    from perfkit.pool.storm import StormOptions, run_storm
    from perfkit.pool.storm_report import to_document

    home = Path(tempfile.mkdtemp(prefix="pkstormpages-"))
    pgdata = home / "pgdata"
    try:
        uri = embedded.ensure_running(pgdata)
        with psycopg.connect(uri, autocommit=True) as conn:
            conn.execute("ALTER SYSTEM SET max_connections = 20")
            conn.execute("CREATE ROLE storm_app LOGIN")
        embedded.stop(pgdata)
        uri = embedded.ensure_running(pgdata)
        owner = pwd.getpwuid(pgdata.stat().st_uid).pw_name
        settings = "pool_mode = transaction\ndefault_pool_size = 3\nmax_client_conn = 200\n"
        with run_pgbouncer(uri, user="storm_app", settings=settings, run_as=owner) as base:
            result = run_storm(
                make_conninfo(uri, user="storm_app"),
                compare_dsn=f"{base}/postgres",
                options=StormOptions(
                    levels=(1, 2, 4, 6, 7, 8, 10, 12), pool_max=2, allow_exhaust=True, hold_s=0.3
                ),
            )
        return to_document(result)
    finally:
        embedded.reset(pgdata)
        shutil.rmtree(home, ignore_errors=True)


def stats() -> Document:
    from perfkit.livestats.document import to_document
    from perfkit.livestats.run import Session, around

    with private_cluster("18") as c:
        c.admin("ALTER SYSTEM SET track_io_timing = on")
        c.admin("SELECT pg_reload_conf()")
        c.admin("CREATE TABLE orders (id int PRIMARY KEY, customer int, status text, note text)")
        c.admin(
            "INSERT INTO orders SELECT g, g % 500, CASE WHEN g % 7 = 0 THEN 'new' ELSE 'done' "
            "END, repeat('x', 50) FROM generate_series(1, 50000) g"
        )
        c.admin("CREATE TABLE events (id bigserial PRIMARY KEY, order_id int, kind text)")
        c.admin("SELECT pg_stat_statements_reset()")

        def work() -> None:
            with psycopg.connect(c.dsn()) as conn:
                for i in range(300):
                    conn.execute("SELECT * FROM orders WHERE id = %s", (i * 7 + 1,)).fetchall()
                for i in range(40):
                    conn.execute("SELECT count(*) FROM orders WHERE customer = %s", (i,)).fetchall()
                for i in range(120):
                    conn.execute("INSERT INTO events (order_id, kind) VALUES (%s, 'paid')", (i,))
                    conn.commit()
                for i in range(20):
                    conn.execute("UPDATE orders SET status = 'done' WHERE id = %s", (i * 7,))
                conn.commit()
                conn.execute("SET work_mem = '64kB'")
                for i in range(5):
                    conn.execute(
                        "SELECT note, id FROM orders ORDER BY note, id DESC LIMIT 10 OFFSET %s",
                        (i,),
                    ).fetchall()
                for _ in range(10):
                    conn.execute("SELECT status, count(*) FROM orders GROUP BY status").fetchall()
                conn.commit()

        delta, _ = around(Session(c.dsn()), work)
        return to_document(delta)


if __name__ == "__main__":
    make = {"storm": storm, "stats": stats}[sys.argv[1]]
    Path(sys.argv[2]).write_text(render_json(make()))
