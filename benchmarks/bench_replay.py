"""perfkit replay --as-fast-as-possible vs pgbench on the same statements.

A private embedded PostgreSQL 18 (Unix socket, so other load on the machine's server
does not leak in) gets ``pgbench -i``; ``--statements`` point reads
``SELECT abalance FROM pgbench_accounts WHERE aid = <n>`` (random ``n``, fixed seed)
are written twice:

* as a pgbench script (one statement per line), run with
  ``pgbench -n -M simple -c C -j C -t 1 -f script.sql``: each client runs it once;
* as a JSON Lines log with ``C`` sessions, each holding the same statements, replayed
  with ``perfkit.replay.replay(..., speed=None, sessions=C, runs="direct")``.

Throughput is statements per second. pgbench's figure excludes connection time (its
``tps ... without initial connection time`` x statements per script); perfkit's is the
run's ``throughput`` (first dispatch to last completion). The whole-call wall time of
both is printed too (perfkit's includes reading and classifying the log).

    python benchmarks/bench_replay.py [--statements 20000] [--clients 1,2]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import re
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import psycopg
from psycopg.conninfo import conninfo_to_dict


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--statements", type=int, default=20000)
    ap.add_argument("--clients", default="1,2")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    clients = [int(c) for c in args.clients.split(",")]

    home = Path(tempfile.mkdtemp(prefix="pk-bench-replay-"))
    os.environ["PERFKIT_HOME"] = str(home)
    from perfkit.db import embedded
    from perfkit.db.target import Target
    from perfkit.replay.engine import replay
    from perfkit.replay.model import ReplayOptions

    try:
        uri = embedded.ensure_running()
        with psycopg.connect(uri, autocommit=True) as c:
            c.execute("CREATE DATABASE bench")
            server = c.info.parameter_status("server_version")
        parts = conninfo_to_dict(uri)
        host, user = str(parts["host"]), str(parts.get("user") or "postgres")
        pg = ["-h", host, "-U", user, "-p", str(parts.get("port") or 5432)]
        env = {**os.environ, "PGPASSWORD": ""}
        subprocess.run(
            ["pgbench", "-i", "-q", "-s", "1", *pg, "bench"],
            check=True,
            capture_output=True,
            env=env,
        )
        rng = random.Random(args.seed)
        stmts = [
            f"SELECT abalance FROM pgbench_accounts WHERE aid = {rng.randint(1, 100000)}"
            for _ in range(args.statements)
        ]
        work = home / "work"
        work.mkdir()
        script = work / "script.sql"
        script.write_text("".join(s + ";\n" for s in stmts))
        dsn = re.sub(r"/postgres\?", "/bench?", uri)
        t0 = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
        print(
            f"PostgreSQL {server} (embedded, Unix socket), {args.statements} statements "
            f"per client, pgbench {_pgbench_version()}"
        )
        print()
        print(
            "| clients | pgbench stmt/s | perfkit replay stmt/s | ratio | pgbench wall s | perfkit wall s |"
        )
        print("|---:|---:|---:|---:|---:|---:|")
        for c in clients:
            log = work / f"log-{c}.jsonl"
            with log.open("w") as f:
                for i, s in enumerate(stmts):
                    ts = (t0 + dt.timedelta(milliseconds=i)).isoformat()
                    for k in range(c):
                        f.write(
                            json.dumps(
                                {"ts": ts, "duration_ms": 0.05, "query": s, "session": f"s{k}"}
                            )
                            + "\n"
                        )
            w0 = time.perf_counter()
            out = subprocess.run(
                ["pgbench", "-n", "-M", "simple", "-c", str(c), "-j", str(c), "-t", "1",
                 "-f", str(script), *pg, "bench"],
                check=True, capture_output=True, text=True, env=env,
            )  # fmt: skip
            pg_wall = time.perf_counter() - w0
            m = re.search(r"tps = ([\d.]+) \(without initial connection time\)", out.stdout)
            assert m, out.stdout
            pg_rate = float(m.group(1)) * args.statements
            w0 = time.perf_counter()
            result = replay(
                [log],
                Target(dsn, "option"),
                ReplayOptions(speed=None, sessions=c, runs="direct", prepare_threshold=None),
            )
            pk_wall = time.perf_counter() - w0
            (run,) = result.runs
            assert run.statements == c * args.statements and run.errors == 0, run
            print(
                f"| {c} | {pg_rate:,.0f} | {run.throughput:,.0f} | {run.throughput / pg_rate:.2f} "
                f"| {pg_wall:.2f} | {pk_wall:.2f} |"
            )
    finally:
        embedded.stop()
        shutil.rmtree(home, ignore_errors=True)


def _pgbench_version() -> str:
    out = subprocess.run(["pgbench", "--version"], capture_output=True, text=True).stdout
    return out.strip().split()[-1] if out.strip() else "?"


if __name__ == "__main__":
    main()
