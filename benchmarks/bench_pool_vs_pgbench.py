"""perfkit pool vs pgbench on PostgreSQL 15, TCP, password (SCRAM) authentication.

Creates a throw-away PostgreSQL 15 cluster on 127.0.0.1:<port> with ``scram-sha-256``
for TCP (the machine's own cluster is left untouched), then in one run:

* ``pgbench -C`` (a new connection per transaction) and plain ``pgbench`` on a
  ``SELECT 1`` script at 1, 4 and 16 clients;
* perfkit's fresh-connection and pooled modes at the same client counts
  (pool size = clients), through the library (``run_pool_benchmark``).

and prints a Markdown report: the ratios against the issue's targets and where the
CPU went. The cluster is removed afterwards.

Run as root (the cluster runs as the ``postgres`` user)::

    python benchmarks/bench_pool_vs_pgbench.py --duration 5 [--out benchmarks/results/pool.md]
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

PG_BIN = Path("/usr/lib/postgresql/15/bin")
RUN_KINDS = ("pgbench", "pooled", "pgbench -C", "fresh")
PASSWORD = "bench-Pa55"
CLIENTS = (1, 4, 16)


def _as_postgres(cmd: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *cmd] if os.geteuid() == 0 else cmd


@dataclass
class Cluster:
    root: Path
    port: int

    @property
    def pgdata(self) -> Path:
        return self.root / "data"

    def dsn(self) -> str:
        return f"postgresql://bench:{PASSWORD}@127.0.0.1:{self.port}/bench?sslmode=disable"


def start_cluster(port: int) -> Cluster:
    root = Path(tempfile.mkdtemp(prefix="pk-bench-pg-"))
    if os.geteuid() == 0:
        shutil.chown(root, "postgres", "postgres")
    c = Cluster(root, port)
    pwfile = root / "pw"
    pwfile.write_text(PASSWORD + "\n")
    if os.geteuid() == 0:
        shutil.chown(pwfile, "postgres", "postgres")
    subprocess.run(
        _as_postgres(
            [str(PG_BIN / "initdb"), "-D", str(c.pgdata), "-U", "postgres", "--auth-local=trust",
             "--auth-host=scram-sha-256", f"--pwfile={pwfile}", "-E", "UTF8"]
        ),
        check=True, stdout=subprocess.DEVNULL,
    )  # fmt: skip
    conf = (
        f"port = {port}\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '{root}'\n"
        "max_connections = 200\nshared_buffers = 128MB\nfsync = off\n"
    )
    with open(c.pgdata / "postgresql.conf", "a", encoding="utf-8") as fh:
        fh.write(conf)
    subprocess.run(
        _as_postgres([str(PG_BIN / "pg_ctl"), "-D", str(c.pgdata), "-l", str(root / "log"),
                      "-w", "start"]),
        check=True, stdout=subprocess.DEVNULL,
    )  # fmt: skip
    psql = [str(PG_BIN.parent / "bin" / "psql")] if (PG_BIN / "psql").exists() else ["psql"]
    for sql in (
        f"CREATE ROLE bench LOGIN PASSWORD '{PASSWORD}'",
        "CREATE DATABASE bench OWNER bench",
    ):
        subprocess.run(
            _as_postgres([*psql, "-h", str(root), "-p", str(port), "-U", "postgres", "-qc", sql]),
            check=True,
        )
    return c


def stop_cluster(c: Cluster) -> None:
    subprocess.run(
        _as_postgres([str(PG_BIN / "pg_ctl"), "-D", str(c.pgdata), "-m", "fast", "-w", "stop"]),
        check=False, stdout=subprocess.DEVNULL,
    )  # fmt: skip
    shutil.rmtree(c.root, ignore_errors=True)


def _cpu() -> tuple[int, int]:
    with open("/proc/stat", encoding="ascii") as fh:
        v = [int(x) for x in fh.readline().split()[1:9]]
    return sum(v) - v[3] - v[4], sum(v)


@dataclass
class PgbenchRun:
    clients: int
    connect_each: bool
    tps: float
    avg_conn_ms: float | None
    latency_ms: float | None
    client_cpu_pct: float
    machine_cpu_pct: float


def pgbench(
    c: Cluster, clients: int, connect_each: bool, duration: int, script: Path
) -> PgbenchRun:
    cmd = [str(PG_BIN / "pgbench"), "-h", "127.0.0.1", "-p", str(c.port), "-U", "bench", "-n",
           "-f", str(script), "-c", str(clients), "-j", str(clients), "-T", str(duration), "bench"]  # fmt: skip
    if connect_each:
        cmd.insert(1, "-C")
    env = {**os.environ, "PGPASSWORD": PASSWORD, "PGSSLMODE": "disable"}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu0 = _cpu()
    t0 = time.monotonic()
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True).stdout
    wall = time.monotonic() - t0
    cpu1 = _cpu()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    used = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    cores = os.cpu_count() or 1
    tps = float(re.search(r"tps = ([\d.]+)", out).group(1))  # type: ignore[union-attr]
    conn = re.search(r"average connection time = ([\d.]+) ms", out)
    lat = re.search(r"latency average = ([\d.]+) ms", out)
    return PgbenchRun(
        clients,
        connect_each,
        tps,
        float(conn.group(1)) if conn else None,
        float(lat.group(1)) if lat else None,
        used / (wall * cores) * 100,
        (cpu1[0] - cpu0[0]) / (cpu1[1] - cpu0[1]) * 100,
    )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--duration", type=int, default=5, help="seconds per point")
    ap.add_argument("--repeat", type=int, default=3, help="interleaved rounds")
    ap.add_argument(
        "--pick", choices=("best", "median"), default="best", help="which round to report"
    )
    ap.add_argument("--port", type=int, default=55432)
    ap.add_argument("--out", type=Path, default=None, help="also write the Markdown here")
    args = ap.parse_args()

    from perfkit.pool import PoolBenchOptions, run_pool_benchmark

    load_before = Path("/proc/loadavg").read_text().split()[:3]
    cluster = start_cluster(args.port)
    script = cluster.root / "select1.sql"
    script.write_text("SELECT 1;\n")
    # The machine is shared: interleave pgbench and perfkit at each client count and
    # report the best (or median) of --repeat rounds, so background load hits both alike.
    runs: dict[str, dict[int, list[Any]]] = {k: {n: [] for n in CLIENTS} for k in RUN_KINDS}
    workers = 0
    try:
        for _ in range(args.repeat):
            for n in CLIENTS:
                runs["pgbench"][n].append(pgbench(cluster, n, False, args.duration, script))
                r = run_pool_benchmark(
                    cluster.dsn(),
                    options=PoolBenchOptions(
                        clients=(n,), pool_sizes=(n,), fresh=False,
                        duration_s=args.duration, warmup_s=1.0,
                    ),
                )  # fmt: skip
                workers = max(workers, r.workers)
                runs["pooled"][n].append(r.points[0])
                runs["pgbench -C"][n].append(pgbench(cluster, n, True, args.duration, script))
                r = run_pool_benchmark(
                    cluster.dsn(),
                    options=PoolBenchOptions(
                        clients=(n,), pool_sizes=(), duration_s=args.duration, warmup_s=0.5
                    ),
                )
                runs["fresh"][n].append(r.points[0])
    finally:
        stop_cluster(cluster)

    def rate(kind: str, item: Any) -> float:
        return float(item.tps if kind.startswith("pgbench") else item.throughput)

    def median(kind: str, n: int) -> Any:
        items = sorted(runs[kind][n], key=lambda r: rate(kind, r))
        # best: the round least disturbed by other jobs; median: the typical one
        return items[-1] if args.pick == "best" else items[len(items) // 2]

    pg_plain = {n: median("pgbench", n) for n in CLIENTS}
    pg_conn = {n: median("pgbench -C", n) for n in CLIENTS}
    pooled = {n: median("pooled", n) for n in CLIENTS}
    fresh = {n: median("fresh", n) for n in CLIENTS}

    lines = [
        "## perfkit pool vs pgbench (PostgreSQL 15, TCP 127.0.0.1, scram-sha-256, SELECT 1)",
        "",
        f"Command: `python benchmarks/bench_pool_vs_pgbench.py --duration {args.duration:g} "
        f"--repeat {args.repeat}` ({os.cpu_count()} cores shared with other jobs, perfkit "
        f"workers = {workers}, {args.duration:g} s per point, pool size = clients, {args.pick} "
        f"of {args.repeat} interleaved rounds per tool and mode). Load average before/after: "
        f"{' '.join(load_before)} / {' '.join(Path('/proc/loadavg').read_text().split()[:3])}.",
        "",
        "| Clients | pgbench tps | perfkit pooled req/s | ratio | target | pgbench -C tps "
        "| perfkit fresh req/s | pgbench avg conn ms | perfkit mean connect ms "
        "(socket + startup) | conn ratio |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for n in CLIENTS:
        pl, pc, f, p = pg_plain[n], pg_conn[n], fresh.get(n), pooled.get(n)
        ratio = p.throughput / pl.tps if p else float("nan")
        target = 0.75 if n == 1 else 0.50
        conn_ms = f.connect.mean_ms if f and f.connect else float("nan")
        sock = f.connect_socket.mean_ms if f and f.connect_socket else float("nan")
        start = f.connect_startup.mean_ms if f and f.connect_startup else float("nan")
        conn_ratio = conn_ms / pc.avg_conn_ms if pc.avg_conn_ms else float("nan")
        lines.append(
            f"| {n} | {pl.tps:,.0f} | {p.throughput if p else float('nan'):,.0f} | "
            f"{ratio:.0%} | {'ok' if ratio >= target else 'MISSED'} >= {target:.0%} | "
            f"{pc.tps:,.0f} | {f.throughput if f else float('nan'):,.0f} | "
            f"{pc.avg_conn_ms or float('nan'):.2f} | {conn_ms:.2f} ({sock:.2f} + {start:.2f}) | "
            f"{conn_ratio:.2f} ({'ok' if abs(conn_ratio - 1) <= 0.25 else 'MISSED'} within 25%) |"
        )
    lines += [
        "",
        "Where the time goes (share of the machine's CPU during each point; 'server' is the "
        "rest of the machine, i.e. PostgreSQL backends and the postmaster):",
        "",
        "| Clients | run | client CPU % | server+other CPU % | p50 ms | p99 ms | in flight (λW) |",
        "| ---: | --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for n in CLIENTS:
        for name, run in (("pgbench", pg_plain[n]), ("pgbench -C", pg_conn[n])):
            lines.append(
                f"| {n} | {name} | {run.client_cpu_pct:.0f} | "
                f"{max(0.0, run.machine_cpu_pct - run.client_cpu_pct):.0f} | | | |"
            )
        for name, pt in (("perfkit pooled", pooled.get(n)), ("perfkit fresh", fresh.get(n))):
            if pt is None or pt.latency is None:
                continue
            other = (pt.machine_cpu_pct or 0) - (pt.client_cpu_pct or 0)
            lines.append(
                f"| {n} | {name} | {pt.client_cpu_pct or 0:.0f} | {max(0.0, other):.0f} | "
                f"{pt.latency.p50_ms:.3f} | {pt.latency.p99_ms:.3f} | {pt.concurrency or 0:.2f} |"
            )
    lines += ["", "Every round (requests/s), in run order:", ""]
    for kind in RUN_KINDS:
        for n in CLIENTS:
            rounds = ", ".join(f"{rate(kind, r):,.0f}" for r in runs[kind][n])
            lines.append(f"- {kind} x{n}: {rounds}")
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        args.out.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
