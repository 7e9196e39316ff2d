"""perfkit analyze vs pgBadger on csvlog and jsonlog (the stderr comparison is
``bench_analyze_vs_pgbadger.py``).

The inputs are the real samples in ``sample_configs/logs/`` (written by PostgreSQL 15
running pgbench, see ``make_samples.sh``) repeated until the file is about ``--mb`` MB,
each copy shifted later by the sample's own time span plus one second, so time keeps
increasing and the copies do not overlap (a cache replay over overlapping copies would
find hits that no real log has). Each record stays valid: JSON records are decoded and
re-encoded, csv rows re-written by the csv module.

For each format: ``pgbadger -j 1`` once, then ``perfkit analyze`` with ``--jobs 1`` and
with the default (one worker per core; csvlog is always read in one process, jsonlog in
ranges), ``--repeat`` times each (median), and the statement totals of both tools.

    python benchmarks/bench_analyze_formats.py --mb 50 --repeat 3
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import io
import json
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "sample_configs" / "logs"
WORK = ROOT / "benchmarks" / "work"
FMT = "%Y-%m-%d %H:%M:%S"


def _parse(ts: str) -> dt.datetime:
    # "2026-11-25 02:15:44.339 UTC"
    return dt.datetime.strptime(ts[:23], FMT + ".%f")


def _shifted(ts: str, by: dt.timedelta) -> str:
    t = _parse(ts) + by
    return t.strftime(FMT) + f".{t.microsecond // 1000:03d}" + ts[23:]


def build_jsonlog(dst: Path, mb: float) -> None:
    records = [json.loads(line) for line in (SAMPLES / "jsonlog.json").read_text().splitlines()]
    times = [_parse(r["timestamp"]) for r in records]
    span = max(times) - min(times) + dt.timedelta(seconds=1)
    with dst.open("w") as out:
        k = 0
        while out.tell() < mb * 1e6:
            for r in records:
                r2 = dict(r, timestamp=_shifted(r["timestamp"], span * k))
                out.write(json.dumps(r2, separators=(",", ":")) + "\n")
            k += 1


def build_csvlog(dst: Path, mb: float) -> None:
    rows = list(csv.reader(io.StringIO((SAMPLES / "csvlog.csv").read_text(), newline="")))
    times = [_parse(r[0]) for r in rows if r]
    span = max(times) - min(times) + dt.timedelta(seconds=1)
    with dst.open("w", newline="") as out:
        writer = csv.writer(out, lineterminator="\n")
        k = 0
        while out.tell() < mb * 1e6:
            for r in rows:
                if r:
                    writer.writerow([_shifted(r[0], span * k), *r[1:]])
            k += 1


def wall_cpu(cmd: list[str]) -> tuple[float, float]:
    t0 = time.perf_counter()
    before = _children_cpu()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - t0, _children_cpu() - before


def _children_cpu() -> float:
    import resource

    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def pgbadger_total(path: Path) -> int:
    data = json.loads(path.read_text())
    return sum(
        int(info.get("count", 0))
        for per_db in data["normalyzed_info"].values()
        for info in per_db.values()
    )


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--mb", type=float, default=50.0, help="size of each generated log")
    ap.add_argument("--repeat", type=int, default=3, help="perfkit runs per setting")
    args = ap.parse_args()
    WORK.mkdir(parents=True, exist_ok=True)
    cases = [
        ("jsonlog", "jsonlog", WORK / "formats-jsonlog.json", build_jsonlog),
        ("csvlog", "csv", WORK / "formats-csvlog.csv", build_csvlog),
    ]
    for name, pgb_format, path, build in cases:
        build(path, args.mb)
        mb = path.stat().st_size / 1e6
        pgb_out = WORK / f"formats-{name}-pgbadger.json"
        pk_out = WORK / f"formats-{name}-perfkit.json"
        pgb_cmd = ["pgbadger", "-j", "1", "-q", "-f", pgb_format, "-x", "json"]
        pgb = wall_cpu([*pgb_cmd, "-o", str(pgb_out), str(path)])
        base = [sys.executable, "-m", "perfkit", "analyze", str(path), "--format", "json"]
        runs = {}
        for label, extra in (("--jobs 1", ["--jobs", "1"]), ("default --jobs", [])):
            times = sorted(wall_cpu([*base, "-o", str(pk_out), *extra]) for _ in range(args.repeat))
            runs[label] = times[len(times) // 2]
            walls = ", ".join(f"{w:.2f}" for w, _ in times)
            print(f"  {name} perfkit {label}: wall {walls} s")
        pk_total = json.loads(pk_out.read_text())["summary"]["queries"]
        print(
            f"{name} ({mb:.1f} MB): pgbadger -j 1 wall {pgb[0]:.2f} s ({mb / pgb[0]:.1f} MB/s), "
            f"cpu {pgb[1]:.2f} s; statements pgBadger {pgbadger_total(pgb_out)}, "
            f"perfkit {pk_total}"
        )
        for label, (wall, cpu) in runs.items():
            print(
                f"  perfkit {label}: wall {wall:.2f} s ({mb / wall:.1f} MB/s), cpu {cpu:.2f} s; "
                f"{pgb[0] / wall:.1f}x pgBadger -j 1 by wall time, "
                f"{pgb[1] / cpu:.1f}x by CPU time"
            )


if __name__ == "__main__":
    main()
