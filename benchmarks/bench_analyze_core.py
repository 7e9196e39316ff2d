"""Per-event cost of the analyze core (no log reading) and of the shared cache engine.

The end-to-end comparison with pgBadger is ``bench_analyze_vs_pgbadger.py``; this one
isolates what happens after the readers: fingerprinting, statistics and cache replay on
LogEvents built in memory, plus QueryCache hit/miss costs (the engine behind
``perfkit.cache.CachedExecutor``). CPU time of this process is reported, so other load
on the machine disturbs the figures less than wall time would.

    python benchmarks/bench_analyze_core.py [--events 200000]
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import time

from perfkit.cache.core import QueryCache
from perfkit.querylog.aggregate import AnalyzeOptions, analyze_events
from perfkit.querylog.model import LogEvent

T0 = dt.datetime(2024, 5, 1, 12, 0, tzinfo=dt.timezone.utc)


def tpcb(n: int, rng: random.Random) -> list[LogEvent]:
    """pgbench's TPC-B-like transaction, simple protocol, 10 sessions."""
    out: list[LogEvent] = []
    t = T0
    while len(out) < n:
        pid = rng.randint(1, 10)
        aid, bid, tid = rng.randint(1, 1_000_000), rng.randint(1, 10), rng.randint(1, 100)
        delta = rng.randint(-5000, 5000)
        for q in (
            "BEGIN;",
            f"UPDATE pgbench_accounts SET abalance = abalance + {delta} WHERE aid = {aid};",
            f"SELECT abalance FROM pgbench_accounts WHERE aid = {aid};",
            f"UPDATE pgbench_tellers SET tbalance = tbalance + {delta} WHERE tid = {tid};",
            f"UPDATE pgbench_branches SET bbalance = bbalance + {delta} WHERE bid = {bid};",
            "INSERT INTO pgbench_history (tid, bid, aid, delta, mtime) "
            f"VALUES ({tid}, {bid}, {aid}, {delta}, CURRENT_TIMESTAMP);",
            "END;",
        ):
            t += dt.timedelta(microseconds=rng.randint(50, 400))
            out.append(LogEvent(t, rng.random(), q, "bench", 0, session=str(pid), pid=pid))
    return out[:n]


def select_only(n: int, rng: random.Random, prepared: bool) -> list[LogEvent]:
    """pgbench -S: one point read, 100k distinct keys (so the cache fills and hits)."""
    out = []
    t = T0
    for _ in range(n):
        t += dt.timedelta(microseconds=rng.randint(50, 400))
        aid = rng.randint(1, 100_000)
        if prepared:
            q, params = "SELECT abalance FROM pgbench_accounts WHERE aid = $1", (str(aid),)
        else:
            q, params = f"SELECT abalance FROM pgbench_accounts WHERE aid = {aid};", None
        out.append(LogEvent(t, rng.random(), q, "bench", 0, params=params, session="1"))
    return out


def per_event(events: list[LogEvent], options: AnalyzeOptions) -> float:
    best = float("inf")
    for _ in range(2):
        t = time.process_time()
        analyze_events(events, options)
        best = min(best, time.process_time() - t)
    return best / len(events) * 1e6


def cache_ops(n: int) -> tuple[float, float]:
    c = QueryCache(ttl_s=60, max_entries=10_000)
    tables = frozenset({"pgbench_accounts"})
    keys = [("fp", (str(i),)) for i in range(n)]
    t = time.process_time()
    for i, k in enumerate(keys):
        c.put(k, None, tables, 100, i * 1e-6)
    miss = (time.process_time() - t) / n * 1e6
    hot = keys[-5000:]
    t = time.process_time()
    for k in hot * (n // 5000):
        c.get(k, 1.0)
    hit = (time.process_time() - t) / len(hot * (n // 5000)) * 1e6
    return miss, hit


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", type=int, default=200_000)
    n = ap.parse_args().events
    rng = random.Random(1)
    workloads = {
        "tpcb simple": tpcb(n, rng),
        "select-only simple": select_only(n, rng, prepared=False),
        "select-only prepared": select_only(n, rng, prepared=True),
    }
    print(f"{n:,} events per workload; CPU µs per event (best of 2)")
    print(f"{'workload':22} {'no replay':>10} {'ttl 60':>10} {'4 ttls':>10} {'lru 10k':>10}")
    for name, events in workloads.items():
        row = [
            per_event(events, AnalyzeOptions(replay=False)),
            per_event(events, AnalyzeOptions()),
            per_event(events, AnalyzeOptions(ttls=(1.0, 10.0, 60.0, 300.0))),
            per_event(events, AnalyzeOptions(cache_entries=10_000)),
        ]
        print(f"{name:22} " + " ".join(f"{v:10.2f}" for v in row))
    miss, hit = cache_ops(n)
    print(f"QueryCache put (miss path, LRU-bounded): {miss:.2f} µs; get hit: {hit:.2f} µs")


if __name__ == "__main__":
    main()
