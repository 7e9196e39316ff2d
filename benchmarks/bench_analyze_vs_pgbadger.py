"""perfkit analyze vs pgBadger on the same real PostgreSQL log.

1. ``--generate`` (root, local PostgreSQL 15 "15 main" at 127.0.0.1:5432): logs a pgbench
   run with ``log_min_duration_statement = 0`` - a simple-protocol part and a
   ``-M prepared`` part, each in its own file - into ``benchmarks/work/`` (git-ignored).
   The server's settings are restored afterwards (ALTER SYSTEM RESET + restart), even on
   error. Without ``--generate`` the existing logs are reused.
2. Times ``pgbadger -j 1`` and ``perfkit analyze`` on the whole log (one process each),
   and ``read_logs`` alone (the readers without statistics), and prints MB/s and ratios.
3. Compares per-fingerprint call counts with pgBadger's on the simple-protocol part.
4. Peak RSS of ``perfkit analyze`` on the log and on a 10x larger one (the log
   concatenated 10 times, each copy shifted by a year so time keeps moving forward).

``perfkit analyze`` runs twice: ``--jobs 1`` (one process) and ``--jobs N`` (default: one
per core; worker processes read byte ranges), and the two JSON reports must be identical.
pgBadger runs with ``-j 1`` (the issue's reference) and ``-j N`` for fairness. Peak RSS is
that of the whole process tree (parent + workers, sampled from /proc every 20 ms).

    python benchmarks/bench_analyze_vs_pgbadger.py --generate      # ~2 min + pgBadger time
    python benchmarks/bench_analyze_vs_pgbadger.py --skip-big      # reuse logs, no 500 MB run
    python benchmarks/bench_analyze_vs_pgbadger.py --other-prefix  # + pgBadger's own prefix
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / "benchmarks" / "work"
PREFIX = "%m [%p] %q%u@%d "
DB = "perfkit_bench"
LOGDIR = "/tmp/perfkit-bench-logs"
PSQL = ["psql", "-X", "-q", "-h", "127.0.0.1", "-U", "postgres", "-v", "ON_ERROR_STOP=1"]
CLUSTER = ["pg_ctlcluster", "--skip-systemctl-redirect", "15", "main"]
SETTINGS = (
    "log_min_duration_statement",
    "logging_collector",
    "log_destination",
    "log_directory",
    "log_filename",
    "log_line_prefix",
    "log_rotation_age",
    "log_rotation_size",
)


def sh(cmd: list[str], **kw: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, check=True, text=True, capture_output=True, **kw)  # type: ignore[call-overload,no-any-return]


def psql(db: str, *sql: str) -> None:
    args = [*PSQL, "-d", db]
    for s in sql:
        args += ["-c", s]
    sh(args)


# -- 1. log generation -------------------------------------------------------------------------
def generate(simple_txns: int, prepared_txns: int, clients: int) -> None:
    WORK.mkdir(parents=True, exist_ok=True)
    sh(["rm", "-rf", LOGDIR])
    os.makedirs(LOGDIR)
    sh(["chown", "postgres", LOGDIR])
    psql("postgres", f"DROP DATABASE IF EXISTS {DB}", f"CREATE DATABASE {DB}")
    try:
        sh(["pgbench", "-q", "-i", "-s", "10", "-h", "127.0.0.1", "-U", "postgres", DB])
        psql(
            "postgres",
            "ALTER SYSTEM SET logging_collector = on",
            "ALTER SYSTEM SET log_destination = 'stderr'",
            f"ALTER SYSTEM SET log_directory = '{LOGDIR}'",
            "ALTER SYSTEM SET log_filename = 'simple.log'",
            "ALTER SYSTEM SET log_rotation_age = 0",
            "ALTER SYSTEM SET log_rotation_size = 0",
            f"ALTER SYSTEM SET log_line_prefix = '{PREFIX}'",
            "ALTER SYSTEM SET log_min_duration_statement = 0",
        )
        sh([*CLUSTER, "restart"])
        bench = ["pgbench", "-n", "-c", str(clients), "-h", "127.0.0.1", "-U", "postgres"]
        t0 = time.time()
        sh([*bench, "-t", str(simple_txns), DB])
        psql(
            "postgres", "ALTER SYSTEM SET log_filename = 'prepared.log'", "SELECT pg_reload_conf()"
        )
        time.sleep(1)
        psql("postgres", "SELECT pg_rotate_logfile()")
        time.sleep(1)
        sh([*bench, "-M", "prepared", "-t", str(prepared_txns), DB])
        time.sleep(1)
        print(f"pgbench runs took {time.time() - t0:.0f} s")
    finally:
        psql("postgres", *(f"ALTER SYSTEM RESET {s}" for s in SETTINGS))
        sh([*CLUSTER, "restart"])
        psql("postgres", f"DROP DATABASE IF EXISTS {DB}")
    simple = Path(LOGDIR, "simple.log").read_bytes()
    prepared = Path(LOGDIR, "prepared.log").read_bytes()
    (WORK / "simple.log").write_bytes(simple)
    (WORK / "prepared.log").write_bytes(prepared)
    (WORK / "bench.log").write_bytes(simple + prepared)
    sh(["rm", "-rf", LOGDIR])
    print(f"logs: simple {len(simple) / 1e6:.1f} MB, prepared {len(prepared) / 1e6:.1f} MB")


def make_big(src: Path, dst: Path, copies: int = 10) -> None:
    """``copies`` x the log, copy k shifted by k years (timestamps keep increasing)."""
    data = src.read_bytes()
    year = data[:4]
    with dst.open("wb") as out:
        for k in range(copies):
            y = str(int(year) + k).encode()
            out.write(y + data[4:].replace(b"\n" + year + b"-", b"\n" + y + b"-"))


# -- 2. timings -----------------------------------------------------------------------------------
def median_run(cmd: list[str], repeat: int) -> tuple[float, float, float, float]:
    """The run with the median wall time of ``repeat`` (a shared 2-core VM is noisy);
    all runs' wall and CPU times are printed."""
    runs = sorted(timed(cmd) for _ in range(max(1, repeat)))
    if repeat > 1:
        print(
            f"  {' '.join(cmd[3:5])} ... {cmd[-2:]}: wall "
            + ", ".join(f"{r[0]:.2f}" for r in runs)
            + " s; cpu "
            + ", ".join(f"{r[1]:.2f}" for r in runs)
            + " s"
        )
    return runs[len(runs) // 2]


def _children(pid: int) -> list[int]:
    kids: list[int] = []
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            kids += [int(k) for k in Path(f"/proc/{pid}/task/{task}/children").read_text().split()]
    except OSError:
        pass
    return kids


def tree_pss_mb(root: int) -> float:
    """Memory of ``root`` and all its descendants (MB), as PSS: forked workers share
    the parent's pages copy-on-write, and summing their RSS would count those twice."""
    todo, total = [root], 0
    while todo:
        pid = todo.pop()
        todo.extend(_children(pid))
        try:
            for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    total += int(line.split()[1])
                    break
        except OSError:
            pass
    return total / 1024


def timed(cmd: list[str]) -> tuple[float, float, float, float]:
    """(wall s, CPU s, peak tree PSS MB, largest process's peak RSS MB) of a command and
    its worker processes.

    CPU time (user + system, children included) via /usr/bin/time; it is the fairer
    figure on a shared machine, wall time also counts the time spent waiting for a core
    (and, for parallel runs, is what the user waits for). Peak RSS is the process
    tree's PSS sum, sampled every 250 ms (reading smaps_rollup more often slows the
    measured processes down on 2 cores; their memory is flat after start-up anyway).
    """
    with tempfile.NamedTemporaryFile("r", suffix=".time") as tf:
        t0 = time.perf_counter()
        proc = subprocess.Popen(
            ["/usr/bin/time", "-f", "%U %S %M", "-o", tf.name, *cmd], stdout=subprocess.DEVNULL
        )
        peak = [0.0]

        def sample() -> None:
            while proc.poll() is None:
                peak[0] = max(peak[0], tree_pss_mb(proc.pid))
                time.sleep(0.25)

        sampler = threading.Thread(target=sample)
        sampler.start()
        rc = proc.wait()
        elapsed = time.perf_counter() - t0
        sampler.join()
        if rc:
            raise subprocess.CalledProcessError(rc, cmd)
        user, system, rss_kb = tf.read().strip().splitlines()[-1].split()
    # /usr/bin/time's own few hundred kB are in the tree; %M (the largest single
    # process's peak RSS) is reported too, as the classic figure
    return elapsed, float(user) + float(system), peak[0], int(rss_kb) / 1024


def only_database(src: Path, dst: Path, db: str) -> None:
    """The lines of one database's sessions (the server is shared with other work)."""
    marker = f"@{db} ".encode()
    keep = False
    with src.open("rb") as fin, dst.open("wb") as fout:
        for line in fin:
            if not line.startswith(b"\t"):
                keep = marker in line
            if keep:
                fout.write(line)


RECOMMENDED = "%t [%p]: [%l-1] user=%u,db=%d,app=%a,client=%h "  # pgBadger's advice
_DEBIAN = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)\.\d{3} (\w+) \[(\d+)\] (?:(\S*)@(\S*) )?")


def rewrite_prefix(src: Path, dst: Path) -> None:
    """The same log as if written with pgBadger's recommended prefix (whole seconds,
    per-session line numbers, four name fields): a second real layout to compare on."""
    counters: dict[str, int] = {}
    with src.open() as fin, dst.open("w") as fout:
        for line in fin:
            m = _DEBIAN.match(line)
            if m is None:
                fout.write(line)
                continue
            ts, zone, pid, user, db = m.groups()
            n = counters[pid] = counters.get(pid, 0) + 1
            fout.write(
                f"{ts} {zone} [{pid}]: [{n}-1] user={user or '[unknown]'},"
                f"db={db or '[unknown]'},app=pgbench,client=127.0.0.1 " + line[m.end() :]
            )


def pgbadger(log: Path, out: Path, jobs: int = 1, prefix: str = PREFIX) -> list[str]:
    return [
        "pgbadger",
        "-j",
        str(jobs),
        "-q",
        "-f",
        "stderr",
        "--prefix",
        prefix,
        "-x",
        "json",
        "-o",
        str(out),
        str(log),
    ]


def perfkit(log: Path, out: Path, jobs: int = 1, prefix: str = PREFIX) -> list[str]:
    exe = [sys.executable, "-m", "perfkit"]
    return [
        *exe,
        "analyze",
        str(log),
        "--prefix",
        prefix,
        "--format",
        "json",
        "--output",
        str(out),
        "--jobs",
        str(jobs),
    ]


def readers_only(log: Path) -> list[str]:
    code = (
        "import sys; from perfkit.querylog.readers import read_logs\n"
        "n = sum(1 for _ in read_logs([sys.argv[1]], prefix=sys.argv[2]))\n"
    )
    return [sys.executable, "-c", code, str(log), PREFIX]


# -- 3. per-fingerprint counts ------------------------------------------------------------------
_NORM = [
    (re.compile(r"'(?:[^']|'')*'"), "?"),
    (re.compile(r"\$\d+"), "?"),
    (re.compile(r"(?<![\w.])-?\d+(?:\.\d+)?"), "?"),
    (re.compile(r"\b(?:true|false)\b"), "?"),
    (re.compile(r"\s+"), " "),
]


def norm(q: str) -> str:
    """A neutral key both tools' normalised texts map to (they spell placeholders apart)."""
    q = q.lower()
    for rx, rep in _NORM:
        q = rx.sub(rep, q)
    return q.strip().rstrip(";").strip()


def pgbadger_counts(path: Path) -> Counter[str]:
    data = json.loads(path.read_text())
    counts: Counter[str] = Counter()
    for per_db in data["normalyzed_info"].values():
        for q, info in per_db.items():
            counts[norm(q)] += int(info.get("count", 0))
    return counts


def perfkit_counts(path: Path) -> Counter[str]:
    data = json.loads(path.read_text())
    counts: Counter[str] = Counter()
    for fp in data["fingerprints"]:
        counts[norm(fp["query"])] += int(fp["calls"])
    return counts


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument(
        "--generate", action="store_true", help="(re)generate the log on the local server"
    )
    ap.add_argument(
        "--simple-txns", type=int, default=6500, help="pgbench -t per client, simple part"
    )
    ap.add_argument(
        "--prepared-txns", type=int, default=2200, help="pgbench -t per client, prepared part"
    )
    ap.add_argument("--clients", type=int, default=4)
    ap.add_argument("--skip-big", action="store_true", help="skip the 10x log memory run")
    ap.add_argument(
        "--other-prefix",
        action="store_true",
        help="also compare on the log rewritten with pgBadger's recommended prefix",
    )
    ap.add_argument(
        "--jobs", type=int, default=os.cpu_count() or 2, help="perfkit --jobs / pgbadger -j"
    )
    ap.add_argument(
        "--repeat", type=int, default=5, help="perfkit runs per setting (median reported)"
    )
    args = ap.parse_args()
    jobs = args.jobs
    if args.generate or not (WORK / "bench.log").exists():
        generate(args.simple_txns, args.prepared_txns, args.clients)
    log = WORK / "bench.log"
    size_mb = log.stat().st_size / 1e6
    print(
        f"log: {log} ({size_mb:.1f} MB; simple {(WORK / 'simple.log').stat().st_size / 1e6:.1f} MB)"
    )

    out = WORK / "out"
    out.mkdir(exist_ok=True)
    print(f"load average before: {os.getloadavg()}")
    runs = {
        "pgbadger -j 1": timed(pgbadger(log, out / "pgbadger.json")),
        f"pgbadger -j {jobs}": timed(pgbadger(log, out / "pgbadger-j.json", jobs)),
        "perfkit -j 1": median_run(perfkit(log, out / "perfkit-j1.json"), args.repeat),
        f"perfkit -j {jobs}": median_run(perfkit(log, out / "perfkit.json", jobs), args.repeat),
        "read_logs only": timed(readers_only(log)),
    }
    print(f"load average after: {os.getloadavg()}")
    for name, (wall, cpu, pss, rss) in runs.items():
        print(
            f"{name:<16}: wall {wall:6.1f} s ({size_mb / wall:5.1f} MB/s)  "
            f"cpu {cpu:6.1f} s ({size_mb / cpu:5.1f} MB/s)  peak PSS (tree) {pss:5.0f} MB  "
            f"max RSS (one process) {rss:5.0f} MB"
        )
    pgb, rd = runs["pgbadger -j 1"], runs["read_logs only"]
    pgbj = runs[f"pgbadger -j {jobs}"]
    for name in ("perfkit -j 1", f"perfkit -j {jobs}"):
        pk = runs[name]
        print(
            f"throughput {name} / pgBadger -j 1: {pgb[0] / pk[0]:.1f}x by wall time, "
            f"{pgb[1] / pk[1]:.1f}x by CPU time; / pgBadger -j {jobs}: "
            f"{pgbj[0] / pk[0]:.1f}x by wall time"
        )
    print(f"(read_logs alone: {pgb[1] / rd[1]:.1f}x pgBadger -j 1 by CPU time)")
    identical = (out / "perfkit-j1.json").read_bytes() == (out / "perfkit.json").read_bytes()
    print(f"perfkit --jobs {jobs} JSON identical to --jobs 1: {identical}")
    pk = runs[f"perfkit -j {jobs}"]
    pgb_all = pgbadger_counts(out / "pgbadger.json")
    pk_all = perfkit_counts(out / "perfkit.json")
    print(f"statements: pgBadger {sum(pgb_all.values())}, perfkit {sum(pk_all.values())}")

    # per-fingerprint counts on the simple-protocol part of the pgbench database
    simple = WORK / "simple-bench.log"
    only_database(WORK / "simple.log", simple, DB)
    subprocess.run(pgbadger(simple, out / "pgbadger-simple.json"), check=True)
    subprocess.run(
        perfkit(simple, out / "perfkit-simple.json"), check=True, stdout=subprocess.DEVNULL
    )
    a, b = (
        pgbadger_counts(out / "pgbadger-simple.json"),
        perfkit_counts(out / "perfkit-simple.json"),
    )
    same = sum(1 for k in a.keys() | b.keys() if a.get(k) == b.get(k))
    print(
        f"simple part ({DB} only, {simple.stat().st_size / 1e6:.1f} MB): {len(a)} pgBadger "
        f"fingerprints, {len(b)} perfkit; identical call counts for {same}"
    )
    for k in sorted(a.keys() | b.keys(), key=lambda k: -(a.get(k) or b.get(k) or 0)):
        flag = "==" if a.get(k) == b.get(k) else "!="
        print(f"  {a.get(k, 0):>8} {flag} {b.get(k, 0):<8} {k[:90]}")

    if args.other_prefix:
        other = WORK / "bench-recommended-prefix.log"
        rewrite_prefix(log, other)
        other_mb = other.stat().st_size / 1e6
        pgb_o = timed(pgbadger(other, out / "pgbadger-o.json", prefix=RECOMMENDED))
        pk_o = median_run(perfkit(other, out / "perfkit-o.json", jobs, RECOMMENDED), 3)
        same_total = sum(pgbadger_counts(out / "pgbadger-o.json").values()) == sum(
            perfkit_counts(out / "perfkit-o.json").values()
        )
        print(
            f"prefix {RECOMMENDED!r} ({other_mb:.1f} MB): pgbadger -j 1 {pgb_o[0]:.1f} s, "
            f"perfkit -j {jobs} {pk_o[0]:.2f} s: {pgb_o[0] / pk_o[0]:.1f}x by wall time, "
            f"{pgb_o[1] / pk_o[1]:.1f}x by CPU time; same statement total: {same_total}"
        )

    if not args.skip_big:
        big = WORK / "bench-x10.log"
        if not big.exists() or big.stat().st_size < 9 * log.stat().st_size:
            make_big(log, big)
        big_mb = big.stat().st_size / 1e6
        for j in (1, jobs):
            small = runs[f"perfkit -j {j}"]
            wall, cpu, pss, rss = timed(perfkit(big, out / f"perfkit-x10-j{j}.json", j))
            print(
                f"perfkit -j {j} on {big_mb:.0f} MB: wall {wall:.1f} s ({big_mb / wall:.1f} "
                f"MB/s), cpu {cpu:.1f} s ({big_mb / cpu:.1f} MB/s), peak PSS (tree) {pss:.0f} "
                f"MB = {pss / small[2]:.2f}x the {size_mb:.0f} MB run; max RSS {rss:.0f} MB "
                f"= {rss / small[3]:.2f}x"
            )
        identical = (out / "perfkit-x10-j1.json").read_bytes() == (
            out / f"perfkit-x10-j{jobs}.json"
        ).read_bytes()
        print(f"x10: perfkit --jobs {jobs} JSON identical to --jobs 1: {identical}")


if __name__ == "__main__":
    main()
