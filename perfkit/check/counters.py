"""Instruction counts of a process: a metric load and CPU frequency do not move.

``perf stat -e instructions:u`` reads the CPU's counter where the kernel lets it (not in
most VMs and containers); ``valgrind --tool=callgrind`` counts every instruction it
simulates, anywhere, tens of times slower (opt-in). Both count the process and every
process it starts.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path

from perfkit.errors import TargetError

COUNTERS = ("auto", "perf", "callgrind", "off")
PERF_EVENT = "instructions:u"
# valgrind runs a program tens of times slower: its timeout is this multiple of the check's
CALLGRIND_SLOWDOWN = 50
_COLLECTED = re.compile(r"^==\d+== Collected : (\d+)$", re.M)
_perf_ok: bool | None = None


def perf_available() -> bool:
    """Whether ``perf stat -e instructions:u`` counts here (not in most VMs and containers)."""
    global _perf_ok
    if _perf_ok is None:
        try:
            proc = subprocess.run(
                ["perf", "stat", "-x,", "-e", PERF_EVENT, "--", "true"],
                capture_output=True,
                text=True,
                timeout=10,
                check=False,
            )
            first = proc.stderr.strip().splitlines()[-1:] or [""]
            _perf_ok = proc.returncode == 0 and first[0].split(",")[0].strip().isdigit()
        except (OSError, subprocess.TimeoutExpired):
            _perf_ok = False
    return _perf_ok


def resolve_counter(mode: str) -> str | None:
    """The counter ``mode`` means here ("perf", "callgrind") or None; exit 2 (a
    :class:`TargetError`) when the one asked for cannot count on this machine."""
    if mode == "auto":
        return "perf" if perf_available() else None
    if mode == "perf" and not perf_available():
        raise TargetError(
            f'instructions = "perf": `perf stat -e {PERF_EVENT}` counts nothing on this '
            "machine (install linux-perf, lower kernel.perf_event_paranoid, or use callgrind)"
        )
    if mode == "callgrind" and shutil.which("valgrind") is None:
        raise TargetError('instructions = "callgrind": valgrind is not installed')
    return None if mode == "off" else mode


def perf_prefix(out: str) -> list[str]:
    """The words that run a command under ``perf stat``, its CSV written to ``out``."""
    return ["perf", "stat", "-x,", "-e", PERF_EVENT, "-o", out, "--"]


def perf_count_file(path: Path) -> float:
    """The instruction count in a ``perf stat -x,`` output file."""
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        fields = line.split(",")
        if len(fields) > 2 and fields[2].strip() == PERF_EVENT:
            if fields[0].strip().isdigit():
                return float(fields[0])
            break
    raise TargetError(f"perf stat counted no {PERF_EVENT} for the command")


def count_instructions(
    counter: str,
    argv: Sequence[str],
    cwd: str | Path,
    env: Mapping[str, str],
    timeout: float,
) -> float:
    """Instructions of one run of ``argv`` and every process it starts, by ``counter``
    ("perf" or "callgrind"); a failing run is a :class:`TargetError`."""
    perf_out = ""
    if counter == "callgrind":
        prefix = ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null",
                  "--trace-children=yes"]  # fmt: skip
        limit = timeout * CALLGRIND_SLOWDOWN
    else:
        fd, perf_out = tempfile.mkstemp(prefix="perfkit-perf-")
        os.close(fd)
        prefix = perf_prefix(perf_out)
        limit = timeout
    try:
        try:
            proc = subprocess.run(
                [*prefix, *argv],
                cwd=cwd,
                env=dict(env),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                text=True,
                errors="replace",
                timeout=limit,
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise TargetError(f"the run under {counter} took over {limit:g}s") from None
        except OSError as exc:
            raise TargetError(f"cannot run {argv[0]} under {counter}: {exc.strerror}") from None
        if proc.returncode != 0:
            raise TargetError(f"the run under {counter} exited with status {proc.returncode}")
        if counter == "perf":
            return perf_count_file(Path(perf_out))
        found = [int(n) for n in _COLLECTED.findall(proc.stderr)]
        if not found:
            raise TargetError("callgrind reported no instruction count")
        return float(sum(found))
    finally:
        if perf_out:
            os.unlink(perf_out)
