"""Time to advise 200 distinct query fingerprints on the embedded database (trial mode).

    python benchmarks/bench_indexes.py [--queries 200]
    python benchmarks/bench_indexes.py --admin-dsn postgresql://postgres@127.0.0.1/test --method hypopg

Builds a scratch database in the embedded cluster (8 tables x 20,000 rows), generates
distinct queries over them (equality, two-column equality, range, ORDER BY ... LIMIT,
joins), runs ``suggest_indexes`` and prints the wall time and EXPLAIN calls it took.
The scratch database is dropped afterwards.

    python benchmarks/bench_indexes.py --suite 75 [--admin-dsn ... --method hypopg]

runs a Dexter-sized suite instead: the cases of tests/data/indexes/cases (cycled to 75),
each as its own ``perfkit suggest-indexes`` process as Dexter runs one per case (or all
in this process with ``--in-process``), on the case schema, and prints the wall time.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path

import psycopg
from psycopg.conninfo import make_conninfo

from perfkit.db import embedded
from perfkit.db.connect import connect
from perfkit.indexes.advisor import SuggestOptions, suggest_indexes
from perfkit.indexes.workload import load_workload

TABLES = 8
ROWS = 20_000
COLS = ("a", "b", "c", "d", "e", "f")


def schema() -> str:
    parts = []
    for t in range(TABLES):
        parts.append(
            f"CREATE TABLE t{t} (id int PRIMARY KEY, a int, b int, c int, d int, e int, f text, "
            "created_at timestamptz);"
            f"INSERT INTO t{t} SELECT g, g % 1000, g % 37, g % 5000, g % 7, g % 20000, 'x' || g % 300, "
            f"timestamptz '2024-01-01' + g * interval '1 minute' FROM generate_series(1, {ROWS}) g;"
        )
    return "".join(parts) + "ANALYZE;"


def queries(n: int, rnd: random.Random) -> list[str]:
    from perfkit.querylog.fingerprint import fingerprint

    out: dict[str, str] = {}
    while len(out) < n:
        t = rnd.randrange(TABLES)
        x, y = rnd.sample(COLS[:5], 2)
        shape = rnd.randrange(5)
        if shape == 0:
            q = f"SELECT * FROM t{t} WHERE {x} = 1"
        elif shape == 1:
            q = f"SELECT id FROM t{t} WHERE {x} = 1 AND {y} = 2"
        elif shape == 2:
            q = f"SELECT id, {y} FROM t{t} WHERE {x} = 3 AND created_at > '2024-01-05'"
        elif shape == 3:
            q = f"SELECT * FROM t{t} WHERE {x} = 4 ORDER BY {y} DESC LIMIT 10"
        else:
            u = (t + 1) % TABLES
            q = f"SELECT t{t}.id FROM t{t} JOIN t{u} ON t{u}.{x} = t{t}.id WHERE t{t}.{y} = 5"
        # varied select lists make more distinct fingerprints than the 5 x 8 x 20 shapes
        extra = rnd.sample(COLS, rnd.randrange(1, 4))
        q = q.replace("SELECT ", "SELECT " + ", ".join(f"t{t}.{c}" for c in extra) + ", ", 1)
        out.setdefault(fingerprint(q).id, q)
    return sorted(out.values())


CASES = Path(__file__).resolve().parent.parent / "tests" / "data" / "indexes" / "cases"


def suite(dsn: str, n: int, method: str, in_process: bool) -> None:
    cases = [
        c for c in json.loads((CASES / "cases.json").read_text())
        if method != "hypopg" or not c.get("trial_only")
    ]  # fmt: skip
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute((CASES / "schema.sql").read_text().encode())
        conn.execute("VACUUM ANALYZE")
        if method == "hypopg":
            conn.execute("CREATE EXTENSION IF NOT EXISTS hypopg")
    t0 = time.perf_counter()
    if in_process:
        with connect(dsn) as conn:
            for i in range(n):
                case = cases[i % len(cases)]
                suggest_indexes(
                    conn,
                    load_workload(statements=case["statements"]),
                    SuggestOptions(method=method, allow_trial=True),
                )
    walls: list[float] = []
    cpu0 = _children_cpu()
    for i in range(0 if in_process else n):
        case = cases[i % len(cases)]
        args = ["perfkit", "suggest-indexes", "--dsn", dsn, "--method", method, "--trial"]
        for sql in case["statements"]:
            args += ["-s", sql]
        start = time.perf_counter()
        run = subprocess.run([*args, "-f", "json"], capture_output=True, check=False)
        walls.append(time.perf_counter() - start)
        if run.returncode != 0:  # a failed case is no timing
            raise SystemExit(f"case {case['name']}: exit {run.returncode}: {run.stderr!r}")
    how = "in one process" if in_process else "one process each"
    print(f"cases: {n} ({len(cases)} distinct), {how}")
    print(f"wall time: {time.perf_counter() - t0:.1f} s")
    if walls:
        cpu = _children_cpu() - cpu0
        print(
            f"per process: median {statistics.median(walls) * 1000:.0f} ms wall, "
            f"min {min(walls) * 1000:.0f} ms, {cpu / n * 1000:.0f} ms CPU (user+sys) on average"
        )
        print(f"bytecode cache written: {not sys.flags.dont_write_bytecode}")
    print(f"costing: {method}")
    print(f"load average (1 min) after: {os.getloadavg()[0]:.1f}")


def _children_cpu() -> float:
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--suite", type=int, default=0, help="run this many suite cases instead")
    ap.add_argument("--in-process", action="store_true", help="--suite cases in this process")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--admin-dsn", help="a server allowing CREATE DATABASE; default: embedded")
    ap.add_argument("--method", default="trial", choices=("trial", "hypopg"))
    args = ap.parse_args()
    print(f"load average (1 min) before: {os.getloadavg()[0]:.1f}")
    was_running = embedded.status().running or bool(args.admin_dsn)
    admin = args.admin_dsn or embedded.ensure_running()
    name = f"pk_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    dsn = make_conninfo(admin, dbname=name)
    try:
        if args.suite:
            suite(dsn, args.suite, args.method, args.in_process)
            return
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(schema().encode())
        wl = load_workload(statements=queries(args.queries, random.Random(args.seed)))
        with connect(dsn) as conn:
            t0 = time.perf_counter()
            result = suggest_indexes(
                conn, wl, SuggestOptions(method=args.method, allow_trial=True), embedded=True
            )
            elapsed = time.perf_counter() - t0
        print(f"fingerprints: {len(wl.queries)}")
        print(f"wall time: {elapsed:.1f} s")
        print(f"EXPLAIN calls: {result.explain_calls}")
        print(f"costing: {result.method}")
        print(f"candidates costed: {result.candidates_costed}")
        print(f"suggestions: {len(result.suggestions)}")
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        if not was_running:
            embedded.stop()


if __name__ == "__main__":
    main()
