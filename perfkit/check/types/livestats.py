"""``type = "stats"``: what pg_stat_statements counts while a test workload runs.

The measurement is :func:`perfkit.livestats.run.around`: a snapshot of
pg_stat_statements, the ``run`` command (the workload, given the target as
``PERFKIT_DSN`` and ``DATABASE_URL``), a second snapshot once the workload's sessions
have ended, and their delta - for one query (``query`` as an example of its text, or
``fingerprint``) or every statement of the database. ``calls`` and ``calls_per_xact``
are counts: exact for a workload that makes the same queries each run, in a database
nothing else uses meanwhile (autovacuum visits count as transactions). ``mean_time``
and ``total_time`` are timings, one sample per run. A delta the server could not count
in full (a reset, evictions: see perfkit.livestats.delta) is an error, never a figure.
"""

from __future__ import annotations

import contextlib
import os
import signal
import statistics
import subprocess
import tempfile
from collections.abc import Mapping
from typing import Any, ClassVar

from perfkit.check.model import CheckSpec, Metric, MetricSpec
from perfkit.check.types.base import CheckType, Param, RunEnv
from perfkit.errors import DatabaseError, TargetError


class StatsCheck(CheckType):
    name: ClassVar[str] = "stats"
    summary: ClassVar[str] = "a query's calls per transaction and mean time over a workload run"
    requires: ClassVar[tuple[str, ...]] = (
        "perfkit.livestats.run:around",
        "perfkit.querylog.fingerprint:fingerprint",
    )
    params: ClassVar[tuple[Param, ...]] = (
        Param("run", "str", required=True, help="the workload (a shell command, /bin/sh -c)"),
        Param("query", "str", default=None, help="one query, by an example of its text"),
        Param("fingerprint", "str", default=None, help="one query, by its perfkit id"),
        Param("runs", "int", default=3, min=1, help="workload runs; one timing sample each"),
        Param("cwd", "path", default=".", help="working directory (relative to the config)"),
        Param("timeout", "duration", default="120s", help="a run taking longer is an error"),
        Param("env", "table", default={}, help="extra environment variables"),
        Param("dsn", "str", default=None, help="database (default: --dsn, [db] dsn, embedded)"),
    )

    def validate(self, params: Mapping[str, Any], fail: Any) -> None:
        if not str(params["run"]).strip():
            fail("run", "must not be empty")
        if params["fingerprint"] and params["query"]:
            fail("query", "give fingerprint or query, not both")
        for k, v in params["env"].items():
            if not isinstance(v, str):
                fail("env", f"value of {k} must be a string")

    def metric_specs(self, params: Mapping[str, Any]) -> tuple[MetricSpec, ...]:
        what = "the query" if params["query"] or params["fingerprint"] else "every statement"
        return (
            MetricSpec("calls", "count", "deterministic", "lower", f"calls of {what}"),
            MetricSpec(
                "calls_per_xact", "count", "deterministic", "lower", f"calls of {what} per xact"
            ),
            MetricSpec("mean_time", "s", "timing", "lower", f"mean execution time of {what}"),
            MetricSpec("total_time", "s", "timing", "lower", f"execution time of {what}"),
        )

    def rounds(self, params: Mapping[str, Any]) -> int:
        return int(params["runs"])

    def one_sample(self, params: Mapping[str, Any], first: bool) -> Mapping[str, Any]:
        return {**params, "runs": 1}

    def collect(self, check: CheckSpec, env: RunEnv) -> tuple[Metric, ...]:
        from perfkit.db.connect import target_uri
        from perfkit.db.target import resolve_target
        from perfkit.livestats.run import Session, around

        p = check.params
        dsn = p["dsn"] or env.dsn
        uri = target_uri(resolve_target(dsn, env.config.data))
        environ = {**os.environ, **p["env"], "PERFKIT_DSN": uri, "DATABASE_URL": uri}
        session = Session(dsn, env.config.data, env.statement_timeout)
        wanted = p["fingerprint"]
        if p["query"]:
            from perfkit.querylog.fingerprint import fingerprint

            wanted = fingerprint(p["query"]).id
        calls: list[float] = []
        per_xact: list[float] = []
        mean: list[float] = []
        total: list[float] = []
        for _ in range(p["runs"]):
            delta, _ = around(session, lambda: _workload(p["run"], p["cwd"], environ, p["timeout"]))
            if not delta.complete:
                raise DatabaseError(
                    f"check {check.name}",
                    "pg_stat_statements could not count the whole run: " + delta.problems[0],
                )
            rows = [
                r
                for r in delta.rows
                if r.dbid == delta.dbid and (wanted is None or r.fingerprint == wanted)
            ]
            n = sum(r.calls for r in rows)
            ms = sum(r.exec.total for r in rows)
            calls.append(float(n))
            if delta.db_xacts:
                per_xact.append(n / delta.db_xacts)
            total.append(ms / 1000)
            if n:
                mean.append(ms / n / 1000)
        metrics = [
            Metric("calls", "count", "deterministic", (statistics.median(calls),)),
            Metric("total_time", "s", "timing", tuple(total)),
        ]
        if per_xact:
            metrics.append(
                Metric("calls_per_xact", "count", "deterministic", (statistics.median(per_xact),))
            )
        if mean:
            metrics.append(Metric("mean_time", "s", "timing", tuple(mean)))
        return tuple(metrics)


def _workload(cmd: str, cwd: Any, environ: dict[str, str], timeout: float) -> None:
    """Run the workload once; a failure or a timeout is a :class:`TargetError`."""
    with tempfile.TemporaryFile() as err:
        try:
            proc = subprocess.Popen(
                ["/bin/sh", "-c", cmd],
                cwd=cwd,
                env=environ,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=err,
                start_new_session=True,  # a timeout ends the whole process group
            )
        except OSError as exc:
            raise TargetError(f"cannot run {cmd!r}: {exc.strerror}") from None
        try:
            code = proc.wait(timeout)
        except subprocess.TimeoutExpired:
            code = None
        finally:
            if proc.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        if code is None:
            raise TargetError(f"workload timed out after {timeout:g}s: {cmd}")
        if code != 0:
            err.seek(0)
            lines = err.read()[-4096:].decode("utf-8", "replace").strip().splitlines()
            raise TargetError(
                f"workload exited with status {code}" + (f": {lines[-1]}" if lines else "")
            )
