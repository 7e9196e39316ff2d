"""What `perfkit analyze --from-stats` costs on a full pg_stat_statements view.

A private embedded cluster (PostgreSQL 18, pg_stat_statements.max = 5000, the default) is
filled with 5000 distinct statements; then, median of 5 each:

* ``raw``: what a user would otherwise run, ``SELECT * FROM pg_stat_statements`` fetched
  with psycopg;
* ``snapshot``: :func:`perfkit.livestats.snapshot.take_snapshot` (context, info, entries);
* ``delta``: :func:`perfkit.livestats.delta.compute_delta` of two such snapshots
  (fingerprinting every text with perfkit's log-path code).

    python benchmarks/bench_pgss.py
"""

from __future__ import annotations

import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path


def main() -> None:
    home = Path(tempfile.mkdtemp(prefix="pkbench-"))
    os.environ["PERFKIT_HOME"] = str(home)
    import psycopg

    from perfkit.db import embedded
    from perfkit.db.connect import connect
    from perfkit.livestats.delta import compute_delta
    from perfkit.livestats.snapshot import take_snapshot

    try:
        uri = embedded.ensure_running()
        with psycopg.connect(uri, autocommit=True) as conn:
            for t in range(100):
                conn.execute(f"CREATE TABLE IF NOT EXISTS bench_{t} (a int)".encode())
            conn.execute("SELECT pg_stat_statements_reset()")
            for i in range(5000):  # 5000 shapes: 100 tables x 1..50 output columns
                cols = ", ".join(["a"] * (i % 50 + 1))
                conn.execute(f"SELECT {cols} FROM bench_{i // 50}".encode())
        conn = connect(uri)
        raw, snap, delta = [], [], []
        for _ in range(5):
            t = time.perf_counter()
            rows = conn.execute("SELECT * FROM pg_stat_statements").fetchall()
            raw.append(time.perf_counter() - t)
            t = time.perf_counter()
            a = take_snapshot(conn)
            snap.append(time.perf_counter() - t)
            b = take_snapshot(conn)
            t = time.perf_counter()
            compute_delta(a, b)
            delta.append(time.perf_counter() - t)
        conn.close()
        r, s, d = (statistics.median(x) for x in (raw, snap, delta))
        print(f"entries: {len(rows)} (snapshot: {len(a.entries)}); load {os.getloadavg()[0]:.1f}")
        print(f"raw SELECT * fetch: {r * 1000:.1f} ms")
        print(f"perfkit snapshot:   {s * 1000:.1f} ms ({s / r:.2f}x raw)")
        print(f"perfkit delta:      {d * 1000:.1f} ms")
    finally:
        embedded.reset()
        shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    main()
