"""CachedExecutor per-call overhead: a hit, and a miss over raw psycopg.

Against a real server (default: a private embedded PostgreSQL 18 over its Unix socket,
so other load on the machine's server does not leak in), in a throw-away database.
``--repeat`` interleaved rounds of ``--calls`` calls each:

* raw psycopg: ``cur.execute(q, (i,)); cur.fetchall()`` with a new ``i`` each call;
* executor miss: ``CachedExecutor.execute(q, (i,))`` with a new ``i`` each call (every
  call is a miss: lookup + execute + store); overhead = miss - raw;
* executor hit: the same key again and again (lookup + copy of the rows).

Both sides use the same connection and psycopg's own prepared-statement threshold.

    python benchmarks/bench_cache_executor.py [--dsn postgresql://postgres@127.0.0.1:5432/postgres]
    PYTHONPATH=TREE python benchmarks/bench_cache_executor.py --opcodes   # TREE's perfkit
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from typing import Any

import psycopg
from psycopg.conninfo import make_conninfo

from perfkit.cache.executor import CachedExecutor

Q = "SELECT id, name, price FROM bench_items WHERE id = %s"


@contextlib.contextmanager
def _server(dsn: str | None) -> Iterator[str]:
    """``dsn``, or a private embedded cluster (Unix socket; nobody else's load on it)."""
    if dsn:
        yield dsn
        return
    home = tempfile.mkdtemp(prefix="pk-bench-cache-")
    os.environ["PERFKIT_HOME"] = home
    from perfkit.db import embedded

    try:
        yield embedded.ensure_running()
    finally:
        embedded.stop()
        shutil.rmtree(home, ignore_errors=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dsn", help="admin DSN (default: a private embedded PostgreSQL 18)")
    ap.add_argument("--calls", type=int, default=5000)
    ap.add_argument("--repeat", type=int, default=7)
    ap.add_argument(
        "--gc-freeze",
        action="store_true",
        help="gc.freeze() after start-up, as long-running services often do",
    )
    ap.add_argument(
        "--opcodes",
        action="store_true",
        help="instead: count the Python opcodes perfkit's own code runs per miss and per "
        "hit (a figure that load on the machine cannot move; run it with PYTHONPATH set "
        "to another tree to compare)",
    )
    args = ap.parse_args()
    with _server(args.dsn) as admin_dsn:
        run(admin_dsn, args.calls, args.repeat, args.gc_freeze, args.opcodes)


def count_opcodes(fn: Any, calls: int) -> float:
    """Python opcodes executed in perfkit's files per call of ``fn`` (psycopg's and the
    standard library's are not counted: the same on both sides of a comparison)."""
    import perfkit

    root = os.path.dirname(perfkit.__file__)
    n = 0

    def local(frame: Any, event: str, arg: Any) -> Any:
        nonlocal n
        if event == "opcode":
            n += 1
        return local

    def tracer(frame: Any, event: str, arg: Any) -> Any:
        if not frame.f_code.co_filename.startswith(root):
            return None
        frame.f_trace_opcodes = True
        return local

    sys.settrace(tracer)
    try:
        for i in range(calls):
            fn(i)
    finally:
        sys.settrace(None)
    return n / calls


def run(admin_dsn: str, calls: int, repeat: int, freeze: bool, opcodes: bool = False) -> None:
    name = f"pk_bench_cache_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(admin_dsn, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        dsn = make_conninfo(admin_dsn, dbname=name)
        with psycopg.connect(dsn, autocommit=True) as conn:
            n = calls * repeat
            conn.execute("CREATE TABLE bench_items (id int PRIMARY KEY, name text, price int)")
            conn.execute(
                "INSERT INTO bench_items SELECT g, 'item ' || g, g %% 100 "
                "FROM generate_series(1, %s) g",
                (2 * n + 10,),
            )
            conn.execute("ANALYZE bench_items")
            cur = conn.cursor()
            ex = CachedExecutor(conn, max_entries=None, max_bytes=None, prepare_threshold=None)

            def timed(fn: Any, *a: Any) -> float:
                t0 = time.perf_counter()
                fn(*a)
                return (time.perf_counter() - t0) / calls

            def raw(base: int) -> None:
                for i in range(calls):
                    cur.execute(Q, (base + i + 1,))
                    cur.fetchall()

            def miss(base: int) -> None:
                for i in range(calls):
                    ex.execute(Q, (base + i + 1,))

            def hit() -> None:
                for _ in range(calls):
                    ex.execute(Q, (1,))

            raw(0)  # warm up the connection, plans and imports
            ex.execute(Q, (1,))
            if opcodes:
                per_miss = count_opcodes(lambda i: ex.execute(Q, (n + i + 1,)), 200)
                per_hit = count_opcodes(lambda i: ex.execute(Q, (1,)), 200)
                print(f"perfkit from {os.path.dirname(sys.modules['perfkit'].__file__ or '')}")
                print("| call | Python opcodes in perfkit per call |")
                print("|---|---:|")
                print(f"| CachedExecutor miss | {per_miss:.1f} |")
                print(f"| CachedExecutor hit | {per_hit:.1f} |")
                return
            if freeze:
                gc.collect()
                gc.freeze()
            raws, misses, hits = [], [], []
            for r in range(repeat):  # interleaved, so drift hits both sides alike
                raws.append(timed(raw, r * calls))
                misses.append(timed(miss, n + r * calls))
                hits.append(timed(hit))
            assert ex.stats.misses >= calls * repeat and ex.stats.hits >= calls * repeat
            d = {(Q, (1,)): 1}
            t0 = time.perf_counter()
            for _ in range(100_000):
                d.get((Q, (1,)))
            t_dict = (time.perf_counter() - t0) / 100_000
            server = conn.info.parameter_status("server_version")
    finally:
        with psycopg.connect(admin_dsn, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    us = 1e6
    t_raw, t_miss, t_hit = min(raws), min(misses), min(hits)
    over = statistics.median(m - r for m, r in zip(misses, raws, strict=True))
    print(
        f"server PostgreSQL {server}, Python {platform.python_version()}, "
        f"psycopg {psycopg.__version__}; {calls} calls per round, {repeat} interleaved rounds; "
        f"gc.freeze(): {'yes' if freeze else 'no'}"
    )
    print("| call | µs per call |")
    print("|---|---:|")
    print(f"| raw psycopg execute + fetchall (best round) | {t_raw * us:.1f} |")
    print(f"| CachedExecutor miss (best round) | {t_miss * us:.1f} |")
    print(f"| miss overhead over raw psycopg (median of round pairs) | {over * us:+.1f} |")
    print(f"| CachedExecutor hit (best round; target < 20) | {t_hit * us:.2f} |")
    print(f"| dict lookup of the same key (for scale) | {t_dict * us:.3f} |")
    print(f"| a hit vs a raw round trip | {t_raw / t_hit:.0f}x faster |")


if __name__ == "__main__":
    main()
