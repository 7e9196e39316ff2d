"""The cost of ``perfkit analyze --events`` on stderr logs, and of the reader hook
when events are not asked for (against the code before the events work).

Two logs of about ``--mb`` MB each, built from real PostgreSQL 15 logs repeated with
each copy shifted a day later (time keeps increasing):

* ``statements``: ``sample_configs/logs/stderr.log`` (pgbench, ``log_min_duration_statement
  = 0``): nearly every line a statement, the case the analyze hot path is tuned for;
* ``events``: ``tests/data/querylog/events/stderr.log`` (connections, auto_explain plans,
  temp files, lock waits, errors, checkpoints, autovacuum between the statements).

CPU seconds of ``analyze(..., jobs=1)`` in a fresh process (median and minimum of
``--repeat`` runs, the cases interleaved), for
``--base`` (a source tree of the code before the change, e.g. made with ``git archive
<commit> perfkit | tar -x -C /tmp/perfkit-base``) and for this tree, without events and
with ``--events all``. (The event counts are compared with pgBadger's in
``tests/test_events_pgbadger.py``.)

    python benchmarks/bench_analyze_events.py --mb 20 --repeat 5 --base /tmp/perfkit-base
    python benchmarks/bench_analyze_events.py --opcodes 1 --base /tmp/perfkit-base
    python benchmarks/bench_analyze_events.py --mb 20 --jobs 2 --base /tmp/perfkit-base

``--opcodes`` counts the Python opcodes ``analyze`` executes (``sys.settrace``), a
figure that other jobs on the machine cannot move.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import re
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / "benchmarks" / "work"
PREFIX = "%m [%p] %q%u@%d "
EVENTS_PREFIX = "%m [%p] %q%u@%d/%a "
_TS = re.compile(r"^(\d{4}-\d\d-\d\d) ")

CHILD = """
import sys, time
import perfkit
assert perfkit.__file__.startswith(sys.argv[4]), perfkit.__file__
from perfkit.querylog.aggregate import AnalyzeOptions, analyze
if sys.argv[3] == "all":
    from perfkit.querylog.events import CATEGORIES
    opts = AnalyzeOptions(events=frozenset(CATEGORIES))
else:
    opts = AnalyzeOptions()
t, w = time.process_time(), time.perf_counter()
r = analyze([sys.argv[1]], opts, prefix=sys.argv[2], jobs=int(sys.argv[5]))
print(time.process_time() - t, r.summary.queries, time.perf_counter() - w)
"""


# Python opcodes executed by analyze(): a count that load on the machine cannot move
OPCODES = """
import sys
import perfkit
assert perfkit.__file__.startswith(sys.argv[4]), perfkit.__file__
from perfkit.querylog.aggregate import AnalyzeOptions, analyze
if sys.argv[3] == "all":
    from perfkit.querylog.events import CATEGORIES
    opts = AnalyzeOptions(events=frozenset(CATEGORIES))
else:
    opts = AnalyzeOptions()
n = 0
def local(frame, event, arg):
    global n
    if event == "opcode":
        n += 1
    return local
def tracer(frame, event, arg):
    frame.f_trace_opcodes = True
    return local
analyze([sys.argv[1]], opts, prefix=sys.argv[2], jobs=1)  # warm (imports, caches)
sys.settrace(tracer)
r = analyze([sys.argv[1]], opts, prefix=sys.argv[2], jobs=1)
sys.settrace(None)
print(n, r.summary.queries)
"""


def build(src: Path, dst: Path, mb: int) -> None:
    if dst.exists() and dst.stat().st_size >= mb << 20:
        return
    text = src.read_text()
    dst.parent.mkdir(parents=True, exist_ok=True)
    with dst.open("w") as out:
        k = 0
        while out.tell() < mb << 20:

            def shift(m: re.Match[str], k: int = k) -> str:
                d = dt.date.fromisoformat(m[1]) + dt.timedelta(days=k)
                return d.isoformat() + " "

            out.write("".join(_TS.sub(shift, ln) for ln in text.splitlines(keepends=True)))
            k += 1


def run_once(
    tree: Path, log: Path, prefix: str, events: str, child: str = CHILD, jobs: int = 1
) -> tuple[float, int]:
    secs, queries, _wall = run_timed(tree, log, prefix, events, child, jobs)
    return secs, queries


def run_timed(
    tree: Path, log: Path, prefix: str, events: str, child: str = CHILD, jobs: int = 1
) -> tuple[float, int, float]:
    """(CPU s of the analyzing process, statements, wall s; wall is 0 for OPCODES)."""
    env = dict(os.environ, PYTHONPATH=str(tree))
    out = subprocess.run(
        [sys.executable, "-c", child, str(log), prefix, events, str(tree.resolve()), str(jobs)],
        env=env,
        cwd=tree,  # sys.path[0]: the tree measured, not an installed copy
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split()
    return float(out[0]), int(out[1]), float(out[2]) if len(out) > 2 else 0.0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--mb", type=int, default=20)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--base", type=Path, help="source tree of the code before the change")
    ap.add_argument(
        "--opcodes",
        type=float,
        metavar="MB",
        help="instead: count the Python opcodes analyze executes on logs of MB megabytes",
    )
    ap.add_argument(
        "--jobs",
        type=int,
        default=1,
        help="analyze(jobs=N): above 1 the log is read in ranges by N workers; the CPU "
        "column is then the parent's (the merge), and the wall time is shown too",
    )
    args = ap.parse_args()
    if args.opcodes is not None:
        opcodes(args)
        return
    logs = {
        "statements": (ROOT / "sample_configs/logs/stderr.log", PREFIX),
        "events": (ROOT / "tests/data/querylog/events/stderr.log", EVENTS_PREFIX),
    }
    print(f"load average before: {os.getloadavg()[0]:.2f}")
    for name, (src, prefix) in logs.items():
        log = WORK / f"events-bench-{name}-{args.mb}mb.log"
        build(src, log, args.mb)
        size = log.stat().st_size / (1 << 20)
        cases = []
        if args.base is not None:
            cases.append(("before (base), no events", args.base, "none"))
        cases.append(("this tree, no events", ROOT, "none"))
        cases.append(("this tree, --events all", ROOT, "all"))
        times: dict[str, list[float]] = {label: [] for label, _t, _e in cases}
        walls: dict[str, list[float]] = {label: [] for label, _t, _e in cases}
        queries: dict[str, int] = {}
        for _ in range(args.repeat):  # interleaved: load changes hit every case alike
            for label, tree, events in cases:
                secs, queries[label], wall = run_timed(tree, log, prefix, events, jobs=args.jobs)
                times[label].append(secs)
                walls[label].append(wall)
        jobs = f", --jobs {args.jobs}" if args.jobs > 1 else ""
        print(f"\n{name}: {log.name}, {size:.1f} MB{jobs}")
        print("| case | CPU s (median) | CPU s (min) | wall s (median) | statements |")
        print("| --- | ---: | ---: | ---: | ---: |")
        for label, ts in times.items():
            med = statistics.median(ts)
            wall = statistics.median(walls[label])
            print(f"| {label} | {med:.2f} | {min(ts):.2f} | {wall:.2f} | {queries[label]:,} |")
    print(f"\nload average after: {os.getloadavg()[0]:.2f}")


def opcodes(args: argparse.Namespace) -> None:
    logs = {
        "statements": (ROOT / "sample_configs/logs/stderr.log", PREFIX),
        "events": (ROOT / "tests/data/querylog/events/stderr.log", EVENTS_PREFIX),
    }
    for name, (src, prefix) in logs.items():
        log = WORK / f"events-opcodes-{name}-{args.opcodes:g}mb.log"
        if not log.exists():
            build_kb(src, log, int(args.opcodes * 1024))
        print(f"\n{name}: {log.name}, {log.stat().st_size / (1 << 20):.2f} MB")
        print("| case | Python opcodes | per statement | statements |")
        print("| --- | ---: | ---: | ---: |")
        cases = [("this tree, no events", ROOT, "none"), ("this tree, --events all", ROOT, "all")]
        if args.base is not None:
            cases.insert(0, ("before (base), no events", args.base, "none"))
        for label, tree, events in cases:
            n, queries = run_once(tree, log, prefix, events, OPCODES)
            print(f"| {label} | {n:,.0f} | {n / queries:,.1f} | {queries:,} |")


def build_kb(src: Path, dst: Path, kb: int) -> None:
    text = src.read_text()
    dst.parent.mkdir(parents=True, exist_ok=True)
    with dst.open("w") as out:
        k = 0
        while out.tell() < kb << 10:

            def shift(m: re.Match[str], k: int = k) -> str:
                d = dt.date.fromisoformat(m[1]) + dt.timedelta(days=k)
                return d.isoformat() + " "

            out.write("".join(_TS.sub(shift, ln) for ln in text.splitlines(keepends=True)))
            k += 1


if __name__ == "__main__":
    main()
