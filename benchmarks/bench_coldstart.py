"""Benchmark: perfkit coldstart against bare `python -X importtime` on a heavy handler.

    python benchmarks/bench_coldstart.py [--rounds 3] [--runs 7]

A temporary project holds a Lambda-style handler importing pandas (and boto3 when
installed). Each round runs, interleaved to share the machine's drift:

* ``runs`` independent ``python -X importtime -c "import handler"`` processes: the
  handler line's cumulative time is the reference import total, and the sum of
  their wall times is the "bare" cost;
* ``perfkit coldstart handler --runs <runs>`` as a subprocess (wall time).

Reported: perfkit's median total vs the median of the bare importtime totals
(target: within 10%), and perfkit's overhead = perfkit wall - bare wall, relative
to the bare wall (target: under 20%; it includes perfkit's own startup, the
warm-up run and the lazy-load analysis). Because whole 7-run blocks drift with the
load of a shared machine, two load-robust figures are added: the CPU-time overhead,
and ``--pairs`` bare runs and perfkit-runner runs alternating one by one (ABBA).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HANDLER = """\
import json
{boto}
import pandas as pd


def handler(event, context):
    frame = pd.DataFrame(event.get("rows", [{{"a": 1}}]))
    return json.dumps({{"rows": len(frame)}})
"""


def _cpu() -> float:
    """CPU seconds (user + system) of the waited-for children so far, grandchildren included."""
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def _selfs(stderr: str) -> dict[str, float]:
    """Self ms per module of the handler's import subtree (a module reported twice adds up)."""
    from perfkit.coldstart.importtime import build_tree, parse_text

    out: dict[str, float] = {}
    for root in build_tree(parse_text(stderr)):
        if root.name == "handler":
            for _, node in root.walk():
                out[node.name] = out.get(node.name, 0.0) + node.self_us / 1000.0
    return out


def bare_run(python: str, cwd: Path, selfs: list[dict[str, float]]) -> tuple[float, float, float]:
    """(importtime cumulative of the handler line, process wall, process CPU), all in ms."""
    cpu = _cpu()
    start = time.perf_counter()
    proc = subprocess.run(
        [python, "-X", "importtime", "-c", "import handler"],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=True,
    )
    wall = (time.perf_counter() - start) * 1000.0
    cpu_ms = (_cpu() - cpu) * 1000.0
    selfs.append(_selfs(proc.stderr))
    for line in reversed(proc.stderr.splitlines()):
        if line.startswith("import time:") and line.rsplit("|", 1)[-1].strip() == "handler":
            return int(line.split("|")[1]) / 1000.0, wall, cpu_ms
    raise RuntimeError("no handler line in the importtime output")


def perfkit_run(cwd: Path, runs: int, out: Path) -> tuple[float, float, dict[str, object]]:
    exe = shutil.which("perfkit") or sys.executable
    cmd = [exe] if exe.endswith("perfkit") else [exe, "-m", "perfkit"]
    cmd += ["coldstart", "handler", "--runs", str(runs), "--cwd", str(cwd)]
    cmd += ["--format", "json", "--output", str(out), "--quiet"]
    cpu = _cpu()
    start = time.perf_counter()
    subprocess.run(cmd, check=True, capture_output=True)
    wall = (time.perf_counter() - start) * 1000.0
    return wall, (_cpu() - cpu) * 1000.0, json.loads(out.read_text())


def _paired(cwd: Path, pairs: int) -> tuple[float, float]:
    """Bare runs and perfkit's runner (the same code `perfkit coldstart` uses per run),
    alternating one by one, so that load drift on a shared machine hits both equally."""
    from perfkit.coldstart.importtime import build_tree
    from perfkit.coldstart.runner import RunSpec, resolve_target, run_once

    spec = RunSpec(sys.executable, resolve_target("handler", cwd), cwd, dict(os.environ), 120)
    bare: list[float] = []
    ours: list[float] = []
    for i in range(pairs * 2):
        if (i % 2) == (i // 2 % 2):
            bare.append(bare_run(sys.executable, cwd, [])[0])
        else:
            run = run_once(spec)
            ours.append(sum(n.cumulative_us for n in build_tree(run.records)) / 1000.0)
    return statistics.median(bare), statistics.median(ours)


def _sum_of_medians(samples: list[dict[str, float]]) -> float:
    names = {n for s in samples for n in s}
    return sum(statistics.median(s.get(n, 0.0) for s in samples) for n in names)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--pairs", type=int, default=14)
    args = ap.parse_args()
    boto = importlib.util.find_spec("boto3") is not None
    with tempfile.TemporaryDirectory(prefix="bench-cs-") as tmp:
        cwd = Path(tmp)
        (cwd / "handler.py").write_text(HANDLER.format(boto="import boto3" if boto else ""))
        bare_selfs: list[dict[str, float]] = []
        pk_selfs: list[dict[str, float]] = []
        bare_run(sys.executable, cwd, [])  # warm the page cache and write .pyc files once
        bare_totals: list[float] = []
        bare_walls: list[float] = []
        pk_totals: list[float] = []
        pk_walls: list[float] = []
        overheads: list[float] = []
        cpu_overheads: list[float] = []
        candidates: list[str] = []
        for i in range(args.rounds):
            # alternate the order so that drift on a shared machine hits both sides
            if i % 2:
                wall, pk_cpu, data = perfkit_run(cwd, args.runs, cwd / "out.json")
            round_walls = []
            bare_cpu = 0.0
            for _ in range(args.runs):
                total, one, cpu = bare_run(sys.executable, cwd, bare_selfs)
                bare_totals.append(total)
                round_walls.append(one)
                bare_cpu += cpu
            if not i % 2:
                wall, pk_cpu, data = perfkit_run(cwd, args.runs, cwd / "out.json")
            cpu_overheads.append((pk_cpu - bare_cpu) / bare_cpu * 100.0)
            bare_sum = sum(round_walls)
            bare_walls.append(bare_sum)
            pk_walls.append(wall)
            runs = data["runs"]
            assert isinstance(runs, list)
            modules = data["modules"]
            assert isinstance(modules, list)
            pk_selfs.append({m["name"]: float(m["self_ms"]["median"]) for m in modules})
            pk_totals.extend(float(r["import_ms"]) for r in runs)
            overheads.append((wall - bare_sum) / bare_sum * 100.0)
            cands = data["candidates"]
            assert isinstance(cands, list)
            candidates = [f"{c['statement']} (saves {c['saving_ms']:.0f} ms)" for c in cands]
        paired = _paired(cwd, args.pairs)
    bare_median = statistics.median(bare_totals)
    pk_median = statistics.median(pk_totals)
    diff = (pk_median - bare_median) / bare_median * 100.0
    target = "pandas + boto3" if boto else "pandas"
    print(f"target: handler importing {target}; {args.rounds} rounds x {args.runs} runs")
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(
        f"python {sys.version.split()[0]}, {sys.platform}, {os.cpu_count()} CPUs, load {load:.1f}"
    )
    print()
    print("| measure | value |")
    print("| --- | ---: |")
    print(f"| bare `python -X importtime` median import total (all runs) | {bare_median:.1f} ms |")
    print(f"| perfkit coldstart median import total (all runs) | {pk_median:.1f} ms |")
    print(f"| difference | {diff:+.1f}% (target within ±10%) |")
    bare_sum = _sum_of_medians(bare_selfs)
    pk_sum = _sum_of_medians(pk_selfs)
    print(f"| sum of per-module median self times, bare / perfkit (robust to load spikes) | "
          f"{bare_sum:.1f} / {pk_sum:.1f} ms ({(pk_sum - bare_sum) / bare_sum * 100:+.1f}%) |")  # fmt: skip
    print(
        f"| {args.runs} bare runs, wall (median of rounds) | {statistics.median(bare_walls):.0f} ms |"
    )
    print(f"| perfkit coldstart --runs {args.runs}, wall (median of rounds) | "
          f"{statistics.median(pk_walls):.0f} ms |")  # fmt: skip
    print(f"| perfkit overhead (median of rounds) | {statistics.median(overheads):.1f}% "
          "(target < 20%) |")  # fmt: skip
    print(f"| overhead per round | {', '.join(f'{o:.1f}%' for o in overheads)} |")
    pb, pp = paired
    print(f"| paired single runs ({args.pairs} each, alternating): bare / perfkit runner median "
          f"import total | {pb:.1f} / {pp:.1f} ms ({(pp - pb) / pb * 100:+.1f}%) |")  # fmt: skip
    print(f"| perfkit CPU-time overhead (median of rounds; robust to machine load) | "
          f"{statistics.median(cpu_overheads):.1f}% |")  # fmt: skip
    print()
    print("candidates found: " + ("; ".join(candidates) or "none"))


if __name__ == "__main__":
    main()
