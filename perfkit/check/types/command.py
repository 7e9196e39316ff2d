"""``type = "command"``: wall time of a shell command over N runs (the hyperfine case)."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

from perfkit.check.counters import (
    COUNTERS,
    count_instructions,
    perf_count_file,
    perf_prefix,
    resolve_counter,
)
from perfkit.check.model import CheckSpec, Metric, MetricSpec
from perfkit.check.types.base import CheckType, Param, RunEnv
from perfkit.errors import TargetError


class CommandCheck(CheckType):
    name: ClassVar[str] = "command"
    summary: ClassVar[str] = "wall time of a shell command over N runs"
    params: ClassVar[tuple[Param, ...]] = (
        Param("run", "str", required=True, help="the shell command (run by /bin/sh -c)"),
        Param("runs", "int", default=10, min=2, help="timed runs"),
        Param("warmup", "int", default=1, min=0, help="untimed runs first (disk cache, .pyc)"),
        Param("cwd", "path", default=".", help="working directory (relative to the config)"),
        Param("timeout", "duration", default="60s", help="a run taking longer is an error"),
        Param("env", "table", default={}, help="extra environment variables"),
        Param(
            "instructions",
            "str",
            default="auto",
            help="count instructions: auto (perf stat where the machine allows it), perf, "
            "callgrind (one extra run under valgrind per sample, slow), off",
        ),
    )

    def validate(self, params: Mapping[str, Any], fail: Any) -> None:
        if not str(params["run"]).strip():
            fail("run", "must not be empty")
        for k, v in params["env"].items():
            if not isinstance(v, str):
                fail("env", f"value of {k} must be a string")
        if params["instructions"] not in COUNTERS:
            fail("instructions", f"must be one of {', '.join(COUNTERS)}")

    def metric_specs(self, params: Mapping[str, Any]) -> tuple[MetricSpec, ...]:
        return (
            MetricSpec("wall", "s", "timing", "lower", "wall time of one run"),
            # user+system CPU of the command and its children: barely moved by other load
            # on a shared CI runner, unlike wall time
            MetricSpec("cpu", "s", "timing", "lower", "CPU time (user + system) of one run"),
        ) + (
            # instructions retired in user space: moved by neither load nor frequency
            (MetricSpec("instructions", "count", "timing", "lower", "instructions of one run"),)
            if params["instructions"] != "off"
            else ()
        )

    def rounds(self, params: Mapping[str, Any]) -> int:
        return int(params["runs"])

    def one_sample(self, params: Mapping[str, Any], first: bool) -> Mapping[str, Any]:
        return {**params, "runs": 1, "warmup": params["warmup"] if first else 0}

    def collect(self, check: CheckSpec, env: RunEnv) -> tuple[Metric, ...]:
        p = check.params
        environ = dict(os.environ)
        environ.update(p["env"])
        timeout: float = p["timeout"]
        runs: int = p["runs"]
        counter = resolve_counter(p["instructions"])
        wall: list[float] = []
        cpu: list[float] = []
        counts: list[float] = []
        for i in range(p["warmup"] + runs):
            perf_out: str | None = None
            if counter == "perf":
                fd, perf_out = tempfile.mkstemp(prefix="perfkit-perf-")
                os.close(fd)
            try:
                w, c = _run_once(p["run"], p["cwd"], environ, timeout, perf_out)
                if i >= p["warmup"]:
                    wall.append(w)
                    cpu.append(c)
                    if perf_out is not None:
                        counts.append(perf_count_file(Path(perf_out)))
                    elif counter == "callgrind":
                        counts.append(
                            count_instructions(
                                "callgrind", ["/bin/sh", "-c", p["run"]], p["cwd"], environ, timeout
                            )
                        )
            finally:
                if perf_out is not None:
                    os.unlink(perf_out)
        metrics = [
            Metric("wall", "s", "timing", tuple(wall)),
            Metric("cpu", "s", "timing", tuple(cpu)),
        ]
        if counts:
            metrics.append(Metric("instructions", "count", "timing", tuple(counts)))
        return tuple(metrics)


def _run_once(
    cmd: str, cwd: Any, environ: dict[str, str], timeout: float, perf_out: str | None = None
) -> tuple[float, float]:
    """Wall and CPU seconds of one run (under ``perf stat`` writing to ``perf_out`` if given).

    The CPU time comes from ``wait4`` on the shell: its own usage plus that of every
    process it waited for, and nothing else the calling process may be running.
    stderr goes to a temporary file, not a pipe: nothing reads it while the command runs,
    memory does not grow with a chatty command, and only its last line is ever shown.
    """
    with tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        try:
            argv = ["/bin/sh", "-c", cmd]
            if perf_out is not None:
                argv = [*perf_prefix(perf_out), *argv]
            proc = subprocess.Popen(
                argv,
                cwd=cwd,
                env=environ,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=err,
                start_new_session=True,  # a timeout kills the whole process group
            )
        except OSError as exc:
            raise TargetError(f"cannot run {cmd!r}: {exc.strerror}") from None
        timed_out = threading.Event()

        def kill() -> None:
            timed_out.set()
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)

        timer = threading.Timer(timeout, kill)
        timer.start()
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        except BaseException:
            # Ctrl-C: the command runs in its own session and would not see it
            kill()
            proc.wait()
            raise
        finally:
            timer.cancel()
        elapsed = time.perf_counter() - start
        code = os.waitstatus_to_exitcode(status)
        proc.returncode = code  # reaped here, not by Popen
        if timed_out.is_set():
            raise TargetError(f"command timed out after {timeout:g}s: {cmd}")
        if code != 0:
            err.seek(max(0, err.seek(0, os.SEEK_END) - 4096))
            last = err.read().decode("utf-8", "replace").strip().splitlines()
            why = f": {last[-1]}" if last else ""
            raise TargetError(f"command exited with status {code}{why}")
    return elapsed, usage.ru_utime + usage.ru_stime
