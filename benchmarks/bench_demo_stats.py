"""What the live path adds to `perfkit demo`: two pg_stat_statements snapshots and the join.

Runs the default demo once on a private embedded cluster (``--keep``, without the pool
benchmark) and prints its steps; then, on the kept demo database, times what the live
path does around the workload, median of 10: two snapshots
(:func:`perfkit.livestats.run.snapshot_now`, each on its own read-only session), their
delta and the join with the demo's log fingerprints (:func:`perfkit.demo.stats.compare`).

    python benchmarks/bench_demo_stats.py
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
    from psycopg.conninfo import make_conninfo

    from perfkit.db import embedded
    from perfkit.demo.run import DEMO_DB, DemoOptions, run_demo
    from perfkit.demo.stats import compare
    from perfkit.livestats.delta import compute_delta
    from perfkit.livestats.run import Session, snapshot_now

    try:
        uri = embedded.ensure_running()
        result = run_demo(DemoOptions(keep=True, pool=False))
        for step, seconds in result.steps:
            print(f"demo step {step}: {seconds:.2f} s")
        print(f"demo total: {result.total_s:.2f} s")
        session = Session(dsn=make_conninfo(uri, dbname=DEMO_DB))
        times = []
        for _ in range(10):
            t = time.perf_counter()
            first = snapshot_now(session)
            second = snapshot_now(session)
            compare(compute_delta(first, second), result.analyze.fingerprints)
            times.append(time.perf_counter() - t)
        print(
            f"live path (2 snapshots + delta + join), median of 10: "
            f"{statistics.median(times) * 1000:.1f} ms"
        )
    finally:
        embedded.stop()
        shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    main()
