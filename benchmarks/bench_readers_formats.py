"""The log readers before and after a change, on the same machine in the same minutes,
plus the throughput of the platform formats.

1. A stderr log of about ``--mb`` MB: ``sample_configs/logs/stderr.log`` (PostgreSQL 15
   running pgbench, simple and extended protocol) repeated.
2. ``read_logs`` over it (the readers alone) and ``analyze(jobs=1)`` (readers, fingerprints,
   statistics, cache replay) in fresh processes, for the working tree and for ``--base``
   (a git revision, exported with ``git archive`` to a temporary directory), alternating
   ``--repeat`` times: CPU seconds (user + system of the process, what other processes on
   a busy machine disturb least), the minimum and the median.
3. The same log in each platform envelope (CloudWatch JSON, Cloud Logging JSON, CRI,
   Docker json-file; working tree only), ``read_logs`` CPU seconds and MB/s.

    python benchmarks/bench_readers_formats.py --base af7ff3a --mb 30 --repeat 7
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "sample_configs" / "logs" / "stderr.log"

_MEASURE = """
import resource, sys, time
sys.path.insert(0, sys.argv[1])
import perfkit
from perfkit.querylog.readers import read_logs
from perfkit.querylog.aggregate import analyze
assert perfkit.__file__.startswith(sys.argv[1]), perfkit.__file__
path, what = sys.argv[2], sys.argv[3]
t = time.process_time()
if what == "read":
    n = sum(1 for _ in read_logs([path]))
else:
    n = analyze([path], jobs=1).summary.queries
print(n, time.process_time() - t)
"""


def _run(tree: Path, path: Path, what: str) -> tuple[int, float]:
    out = subprocess.run(
        [sys.executable, "-c", _MEASURE, str(tree), str(path), what],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split()
    return int(out[0]), float(out[1])


def _export(rev: str, into: Path) -> Path:
    into.mkdir(parents=True, exist_ok=True)
    tar = into / "base.tar"
    subprocess.run(["git", "-C", str(ROOT), "archive", "-o", str(tar), rev, "perfkit"], check=True)
    with tarfile.open(tar) as t:
        t.extractall(into, filter="data")
    return into


def _wrap(src: Path, kind: str, dest: Path) -> None:
    with src.open() as f, dest.open("w") as out:
        if kind == "cloudwatch":
            for i, line in enumerate(f):
                rec = {"timestamp": 1709629200000 + i, "message": line.rstrip("\n")}
                rec["logStreamName"] = "db-1"
                out.write(json.dumps(rec) + "\n")
        elif kind == "gcp":
            for line in f:
                rec = {
                    "textPayload": line.rstrip("\n"),
                    "resource": {"type": "cloudsql_database"},
                    "logName": "projects/p/logs/cloudsql.googleapis.com%2Fpostgres.log",
                }
                out.write(json.dumps(rec) + "\n")
        elif kind == "cri":
            for line in f:
                out.write("2024-03-05T09:00:00.123456789Z stderr F " + line)
        elif kind == "docker":
            for line in f:
                out.write(json.dumps({"log": line, "stream": "stderr", "time": "t"}) + "\n")


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--base", default=None, help="git revision to compare with")
    ap.add_argument("--mb", type=float, default=30.0)
    ap.add_argument("--repeat", type=int, default=7)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        log = d / "stderr.log"
        text = SAMPLE.read_text()
        copies = max(1, int(args.mb * 1e6 / len(text.encode())))
        log.write_text(text * copies)
        size = log.stat().st_size / 1e6
        print(f"log: {size:.1f} MB ({copies} copies of {SAMPLE.name})")
        trees = {"working tree": ROOT}
        if args.base:
            trees[f"base {args.base}"] = _export(args.base, d / "base")
        for what in ("read", "analyze"):
            times: dict[str, list[float]] = {k: [] for k in trees}
            counts: dict[str, int] = {}
            for _ in range(args.repeat):
                for name, tree in trees.items():
                    n, cpu = _run(tree, log, what)
                    times[name].append(cpu)
                    counts[name] = n
            for name, ts in times.items():
                print(
                    f"{what:8} {name:24} statements {counts[name]:>8}  CPU s min {min(ts):.3f}"
                    f"  median {statistics.median(ts):.3f}  ({size / min(ts):.1f} MB/s)"
                )
        for kind in ("cloudwatch", "gcp", "cri", "docker"):
            p = d / f"{kind}.log"
            _wrap(log, kind, p)
            mb = p.stat().st_size / 1e6
            runs = [_run(ROOT, p, "read") for _ in range(max(1, args.repeat // 2))]
            best = min(t for _, t in runs)
            print(
                f"read     {kind:24} statements {runs[0][0]:>8}  CPU s min {best:.3f}"
                f"  ({mb:.1f} MB, {mb / best:.1f} MB/s)"
            )


if __name__ == "__main__":
    main()
