"""`perfkit pool --storm`: how fast and how bounded a storm of a few hundred connections is.

Creates a throw-away embedded PostgreSQL 18 cluster with ``max_connections = 300`` (its own
data directory and socket; removed afterwards), then in one run:

* ``run_storm`` at 50, 100 and 150 concurrent cold starts of 2 connections each (100, 200
  and 300 connection attempts; the last is past the 296 usable slots of a plain role),
  recording each level's wall time, the process's peak OS thread count while it runs, the
  accepted/refused counts against the model, and the backends left afterwards;
* ``pgbench -n -C -c N -j 2 -t 1`` (N clients, each one new connection and one
  ``SELECT 1``) at the same 100 and 200 connections, the tool a user would otherwise reach
  for: its wall time and its average connection time.

Prints a Markdown report. Run from the repository root::

    python benchmarks/bench_storm.py [--out benchmarks/results/storm.md]
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import tempfile
import threading
import time
from pathlib import Path

MAX_CONNECTIONS = 300
ROLE = "storm_bench"


def _threads() -> int:
    with open("/proc/self/status", encoding="ascii") as fh:
        for line in fh:
            if line.startswith("Threads:"):
                return int(line.split()[1])
    return 0


class _ThreadPeak:
    def __init__(self) -> None:
        self.peak = _threads()
        self._stop = threading.Event()
        self._t = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.005):
            self.peak = max(self.peak, _threads())

    def __enter__(self) -> _ThreadPeak:
        self._t.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._t.join()


def _pgbench(uri: str, clients: int, work: Path) -> tuple[float, float | None]:
    script = work / "select1.sql"
    script.write_text("SELECT 1;\n")
    binary = shutil.which("pgbench")
    if binary is None:
        raise SystemExit("pgbench not found")
    t0 = time.perf_counter()
    out = subprocess.run(
        [binary, "-n", "-C", "-c", str(clients), "-j", "2", "-t", "1", "-f", str(script), uri],
        capture_output=True,
        text=True,
        check=True,
    )
    wall = time.perf_counter() - t0
    m = re.search(r"average connection time = ([\d.]+) ms", out.stdout)
    return wall, float(m.group(1)) if m else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()

    import psycopg
    from psycopg.conninfo import make_conninfo

    from perfkit.db import embedded
    from perfkit.pool.storm import StormOptions, run_storm

    home = Path(tempfile.mkdtemp(prefix="pkstormbench-"))
    pgdata = home / "pgdata"
    lines: list[str] = []
    try:
        uri = embedded.ensure_running(pgdata)
        with psycopg.connect(uri, autocommit=True) as conn:
            conn.execute(f"ALTER SYSTEM SET max_connections = {MAX_CONNECTIONS}")
            conn.execute(f"CREATE ROLE {ROLE} LOGIN")
        embedded.stop(pgdata)
        uri = embedded.ensure_running(pgdata)
        app = make_conninfo(uri, user=ROLE)
        load = os.getloadavg()[0]
        lines.append(f"load average at the start: {load:.1f} on {os.cpu_count()} cores\n")
        lines.append(
            "| level | attempts | got | refused | model got (at most) | wall s | "
            "connect p50 / p95 ms | peak OS threads |"
        )
        lines.append("|---|---|---|---|---|---|---|---|")
        t0 = time.perf_counter()
        for n in (50, 100, 150):
            with _ThreadPeak() as threads:
                result = run_storm(
                    app,
                    options=StormOptions(levels=(n,), pool_max=2, allow_exhaust=True, hold_s=0),
                )
            lv = result.results[0]
            pred = lv.predicted
            c = lv.connect
            lines.append(
                f"| {n} x 2 | {lv.wanted} | {lv.accepted} | {lv.refused} | "
                f"{pred.accepted if pred else ''} | {lv.elapsed_s:.2f} | "
                f"{c.p50_ms:.0f} / {c.p95_ms:.0f} | {threads.peak} |"
                if c
                else f"| {n} x 2 | {lv.wanted} | 0 | {lv.refused} | | {lv.elapsed_s:.2f} | | |"
            )
            assert result.endpoints[0].leftover == 0, "backends left behind"
        total = time.perf_counter() - t0
        lines.append(f"\nthree storms, each with its own monitor and endpoint check: {total:.1f} s")
        lines.append("\n| pgbench -C -j 2 -t 1 | wall s | average connection time ms |")
        lines.append("|---|---|---|")
        for clients in (100, 200):
            wall, avg = _pgbench(app, clients, home)
            lines.append(f"| {clients} clients | {wall:.2f} | {avg if avg is not None else ''} |")
    finally:
        embedded.reset(pgdata)
        shutil.rmtree(home, ignore_errors=True)
    report = "\n".join(lines) + "\n"
    print(report)
    if args.out:
        args.out.write_text(report)


if __name__ == "__main__":
    main()
