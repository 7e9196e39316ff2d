"""The per-statement costs behind ``perfkit analyze``'s hot path, each next to the
plain way of doing the same thing (what the code did before, kept here as the reference),
plus the start-up of the ``perfkit`` command.

* building a ``LogEvent`` (a NamedTuple, built with ``tuple.__new__``) vs the same 16
  fields as a frozen slotted dataclass;
* the fingerprint memo's literal pattern vs the readable one (same matches; tested);
* ``parse_parameters``'s one-split fast path vs the general parser, on real
  ``DETAIL:  parameters:`` values of ``sample_configs/logs/stderr.log``;
* ``perfkit --help`` and ``perfkit analyze --help`` wall time (fresh processes).

    python benchmarks/bench_analyze_micro.py
"""

from __future__ import annotations

import datetime as dt
import re
import statistics
import subprocess
import sys
import time
import timeit
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from perfkit.querylog.fingerprint import _LITERALS
from perfkit.querylog.readers._common import (
    _parse_parameters_general,
    make_event,
    parse_parameters,
)

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "sample_configs" / "logs"
READABLE_LITERALS = re.compile(r"'(?:[^']|'')*'|\b\d+(?:\.\d+)?(?:[eE][-+]?\d+)?")


@dataclass(frozen=True, slots=True)
class DataclassEvent:
    ts: dt.datetime | None
    duration_ms: float | None
    query: str
    source: str
    line: int
    params: tuple[str | None, ...] | None = None
    session: str | None = None
    pid: int | None = None
    user: str | None = None
    database: str | None = None
    application: str | None = None
    client: str | None = None
    protocol: str = "simple"
    statement_name: str | None = None
    calls: int = 1
    rows: int | None = None


def per_call_us(fn: Callable[[Any], object], items: Sequence[Any]) -> float:
    best = min(timeit.repeat(lambda: [fn(x) for x in items], number=20, repeat=5))
    return best / 20 / len(items) * 1e6


def main() -> None:
    meta = (dt.datetime.now(dt.timezone.utc), "123", 123, "app", "shop", None, None)
    n = list(range(1000))
    new = per_call_us(
        lambda _: make_event(meta, 1.0, "SELECT 1", "src", 1, None, "simple", None), n
    )
    ts = meta[0]
    old = per_call_us(
        lambda _: DataclassEvent(ts, 1.0, "SELECT 1", "src", 1, None, "123", 123, "app", "shop"),
        n,
    )
    print(f"LogEvent: NamedTuple {new:.2f} us, frozen slotted dataclass {old:.2f} us")

    lines = (SAMPLES / "stderr.log").read_text().splitlines()
    queries = [ln.split("statement: ", 1)[1] for ln in lines if "statement: " in ln]
    fast = per_call_us(lambda q: _LITERALS.sub("\x00", q), queries)
    slow = per_call_us(lambda q: READABLE_LITERALS.sub("\x00", q), queries)
    print(
        f"memo key of {len(queries)} simple-protocol statements: {fast:.2f} us, "
        f"readable pattern {slow:.2f} us"
    )

    params = [ln.split("arameters: ", 1)[1] for ln in lines if "arameters: " in ln]
    fast = per_call_us(parse_parameters, params)
    slow = per_call_us(_parse_parameters_general, params)
    print(f"parameters of {len(params)} DETAIL lines: {fast:.2f} us, general parser {slow:.2f} us")

    for args in (["--help"], ["analyze", "--help"]):
        walls = []
        for _ in range(7):
            t0 = time.perf_counter()
            subprocess.run(
                [sys.executable, "-m", "perfkit", *args], check=True, capture_output=True
            )
            walls.append(time.perf_counter() - t0)
        print(f"perfkit {' '.join(args)}: median {statistics.median(walls):.3f} s of 7")


if __name__ == "__main__":
    main()
