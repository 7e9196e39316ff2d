"""Prefix inference: its cost, and the stderr reader with an inferred vs an explicit prefix.

The log is written by a REAL PostgreSQL: a private cluster (initdb in a temporary
directory, its own port; the machine's shared server is not touched) with
``log_min_duration_statement = 0`` and the given ``log_line_prefix``, running pgbench
(simple and ``-M prepared``, application_name set). Needs root (the cluster runs as the
postgres user) and /usr/lib/postgresql/15/bin.

    python benchmarks/bench_prefix.py --generate            # first time: ~50 MB per prefix
    python benchmarks/bench_prefix.py --repeat 5            # re-uses benchmarks/work/prefix-*.log
    git archive <rev> perfkit | tar -x -C /tmp/perfkit-before
    python benchmarks/bench_prefix.py --before /tmp/perfkit-before --repeat 7

Reported per log: ``infer_prefix`` on the first 1000 lines (what ``read_logs`` does) as
a share of reading the whole log, and ``read_logs`` (readers only, one process) with the
prefix inferred and with ``--prefix``: medians of ``--repeat`` runs, CPU time, the two
interleaved so that load from other jobs falls on both alike. ``--before DIR`` (a copy of
an older ``perfkit`` package, e.g. from ``git archive``) instead times the old and the
current readers in one process, alternately (so that other jobs' load falls on both
alike), reading each log with ``--prefix`` and inferred.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / "benchmarks" / "work"
BIN = Path(os.environ.get("PGBIN", "/usr/lib/postgresql/15/bin"))
PREFIXES = {
    "debian": "%m [%p] %q%u@%d ",
    "pgbadger": "%t [%p]: [%l-1] user=%u,db=%d,app=%a,client=%h ",
    "issue14": "%m [%p] %q%u@%d app=%a ",
}
PORT = 55492


def generate(name: str, prefix: str, txns: int) -> Path:
    tmp = Path(tempfile.mkdtemp(prefix="perfkit-bench-prefix-"))
    shutil.chown(tmp, "postgres")
    data, log = tmp / "data", tmp / "server.log"
    as_pg = ["runuser", "-u", "postgres", "--"]
    pg = ["-h", "127.0.0.1", "-p", str(PORT), "-U", "postgres"]
    try:
        subprocess.run(
            [*as_pg, str(BIN / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust"],
            check=True,
            capture_output=True,
        )
        opts = (
            f"-c port={PORT} -c listen_addresses=127.0.0.1 -c unix_socket_directories={tmp} "
            f"-c log_min_duration_statement=0 -c lc_messages=C -c fsync=off "
            f"-c synchronous_commit=off -c 'log_line_prefix={prefix}'"
        )
        subprocess.run(
            [*as_pg, str(BIN / "pg_ctl"), "-D", str(data), "-w", "-l", str(log), "-o", opts,
             "start"],
            check=True,
            capture_output=True,
        )  # fmt: skip
        subprocess.run(["createdb", *pg, "bench"], check=True)
        subprocess.run(["pgbench", "-q", "-i", "-s", "5", *pg, "bench"], check=True,
                       capture_output=True)  # fmt: skip
        env = {**os.environ, "PGAPPNAME": "pgbench"}
        for mode in ("simple", "prepared"):
            subprocess.run(
                ["pgbench", "-n", "-c", "4", "-t", str(txns), "-M", mode, *pg, "bench"],
                check=True,
                capture_output=True,
                env=env,
            )
        subprocess.run([*as_pg, str(BIN / "pg_ctl"), "-D", str(data), "-w", "stop"], check=True,
                       capture_output=True)  # fmt: skip
        out = WORK / f"prefix-{name}.log"
        WORK.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(log, out)
        return out
    finally:
        subprocess.run(
            [*as_pg, str(BIN / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"],
            capture_output=True,
        )
        shutil.rmtree(tmp, ignore_errors=True)


def cpu_run(fn: object, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.process_time()
        fn()  # type: ignore[operator]
        times.append(time.process_time() - t0)
    return statistics.median(times)


def interleaved(a: object, b: object, repeat: int) -> tuple[float, float]:
    ta: list[float] = []
    tb: list[float] = []
    for _ in range(repeat):
        for fn, out in ((a, ta), (b, tb)):
            t0 = time.process_time()
            fn()  # type: ignore[operator]
            out.append(time.process_time() - t0)
    return statistics.median(ta), statistics.median(tb)


def load_before(before: str) -> object:
    """The ``read_logs`` of an older copy of the package, imported beside the current one
    (copied as ``perfkit_before``, its absolute imports rewritten), so that both run in
    one process, alternately, under the same load."""
    import importlib
    import re
    import sys

    root = Path(tempfile.mkdtemp(prefix="perfkit-before-"))
    shutil.copytree(Path(before) / "perfkit", root / "perfkit_before")
    for py in (root / "perfkit_before").rglob("*.py"):
        text = py.read_text()
        text = re.sub(r"\b(from|import) perfkit\b", r"\1 perfkit_before", text)
        py.write_text(text.replace('"perfkit.', '"perfkit_before.'))
    sys.path.insert(0, str(root))
    return importlib.import_module("perfkit_before.querylog.readers").read_logs


def compare(before: str, repeat: int) -> None:
    from perfkit.querylog.readers import read_logs

    old_read = load_before(before)
    for name, prefix in PREFIXES.items():
        log = WORK / f"prefix-{name}.log"
        runs: dict[str, list[float]] = {}
        for _ in range(repeat):
            for label, reader in (("before", old_read), ("after", read_logs)):
                for mode, p in (("--prefix", prefix), ("inferred", None)):
                    t0 = time.process_time()
                    n = sum(1 for _ in reader([log], prefix=p))  # type: ignore[operator]
                    runs.setdefault(f"{label} {mode}", []).append(time.process_time() - t0)
                    assert n > 0
        print(f"{name} ({log.stat().st_size / 1e6:.1f} MB, {prefix!r}), CPU s of {repeat} runs:")
        # the minimum is the run least disturbed by other jobs on a shared machine
        for stat in (min, statistics.median):
            v = {k: stat(t) for k, t in runs.items()}
            print(
                f"  {stat.__name__}: "
                + ", ".join(f"{k} {x:.2f}" for k, x in v.items())
                + f"; after/before: --prefix {v['after --prefix'] / v['before --prefix']:.3f}, "
                f"inferred {v['after inferred'] / v['before inferred']:.3f}; after: inferred/"
                f"--prefix {v['after inferred'] / v['after --prefix']:.3f}"
            )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--generate", action="store_true")
    ap.add_argument("--txns", type=int, default=3000, help="pgbench transactions per client")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--before", help="a directory holding an older perfkit package")
    args = ap.parse_args()
    if args.before:
        print(f"load average before: {os.getloadavg()}")
        compare(args.before, args.repeat)
        print(f"load average after: {os.getloadavg()}")
        return

    from perfkit.querylog.readers import read_logs
    from perfkit.querylog.readers._source import Source, peek_lines
    from perfkit.querylog.readers.prefix import infer_prefix

    print(f"load average before: {os.getloadavg()}")
    for name, prefix in PREFIXES.items():
        log = WORK / f"prefix-{name}.log"
        if args.generate or not log.exists():
            generate(name, prefix, args.txns)
        src = Source(log)
        head = [ln.rstrip("\r\n") for ln in peek_lines(src.text, 1000)]
        src.close()
        infer = cpu_run(lambda: infer_prefix(head), max(args.repeat, 20))  # noqa: B023
        got = infer_prefix(head)
        inferred = got.prefix.prefix if got else None

        def read(p: str | None) -> None:
            n = sum(1 for _ in read_logs([log], prefix=p))  # noqa: B023
            assert n > 0

        t_inf, t_exp = interleaved(lambda: read(None), lambda: read(prefix), args.repeat)  # noqa: B023
        mb = log.stat().st_size / 1e6
        print(
            f"{name}: {mb:.1f} MB, prefix {prefix!r}, inferred {inferred!r} "
            f"({'same' if inferred == prefix else 'DIFFERENT'})\n"
            f"  infer_prefix(1000 lines) {infer * 1e3:.2f} ms CPU = "
            f"{100 * infer / t_exp:.2f}% of reading the log\n"
            f"  read_logs inferred {t_inf:.2f} s, --prefix {t_exp:.2f} s CPU "
            f"(median of {args.repeat}; ratio {t_inf / t_exp:.3f})"
        )
    print(f"load average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
