"""``type = "analyze"``: calls, total time, p95 and cache hit rate from a PostgreSQL log.

The measurement is :func:`perfkit.querylog.aggregate.analyze`. A log is a fixed input, so
its figures are deterministic: the log of a test run that makes one more query per
request (an N+1) shows it exactly in ``calls``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from perfkit.check.model import CheckSpec, Metric, MetricSpec
from perfkit.check.types.base import CheckType, Param, RunEnv
from perfkit.errors import InputError


class AnalyzeCheck(CheckType):
    name: ClassVar[str] = "analyze"
    summary: ClassVar[str] = "calls, time and cache hit rate of a log, or of one query in it"
    requires: ClassVar[tuple[str, ...]] = (
        "perfkit.querylog.aggregate:analyze",
        "perfkit.querylog.fingerprint:fingerprint",
    )
    params: ClassVar[tuple[Param, ...]] = (
        Param("log", "path", required=True, help="the log file (relative to the config)"),
        Param("log_format", "str", default=None, help="force the format (default: detected)"),
        Param("prefix", "str", default=None, help="log_line_prefix of stderr logs"),
        Param("fingerprint", "str", default=None, help="one query, by its perfkit analyze id"),
        Param("query", "str", default=None, help="one query, by an example of its text"),
        Param("ttl", "duration", default="60s", help="cache TTL of the hit-rate replay"),
    )

    def validate(self, params: Mapping[str, Any], fail: Any) -> None:
        if params["fingerprint"] and params["query"]:
            fail("query", "give fingerprint or query, not both")
        if params["ttl"] <= 0:
            fail("ttl", "must be positive")

    def metric_specs(self, params: Mapping[str, Any]) -> tuple[MetricSpec, ...]:
        specs = [
            MetricSpec("calls", "count", "deterministic", "lower", "statements"),
            MetricSpec("total_time", "s", "deterministic", "lower", "summed duration"),
        ]
        if params["fingerprint"] or params["query"]:
            specs.append(MetricSpec("p95", "s", "deterministic", "lower", "95th percentile"))
        specs.append(
            MetricSpec("cache_hit_rate", "ratio", "deterministic", "higher", "query-cache replay")
        )
        return tuple(specs)

    def collect(self, check: CheckSpec, env: RunEnv) -> tuple[Metric, ...]:
        from perfkit.querylog.aggregate import AnalyzeOptions, analyze

        p = check.params
        if not p["log"].is_file():
            raise InputError(p["log"], "log file not found")
        result = analyze(
            [p["log"]],
            AnalyzeOptions(ttls=(p["ttl"],), slow_limit=0),
            log_format=p["log_format"],
            prefix=p["prefix"],
        )
        wanted = p["fingerprint"]
        if p["query"]:
            from perfkit.querylog.fingerprint import fingerprint

            wanted = fingerprint(p["query"]).id
        if wanted is None:
            metrics = [
                Metric("calls", "count", "deterministic", (float(result.summary.queries),)),
                Metric("total_time", "s", "deterministic", (result.summary.total_ms / 1000,)),
            ]
            if result.cache:
                metrics.append(
                    Metric(
                        "cache_hit_rate",
                        "ratio",
                        "deterministic",
                        (result.cache[0].hit_rate,),
                        "higher",
                    )
                )
            return tuple(metrics)
        fp = next((f for f in result.fingerprints if f.id == wanted), None)
        if fp is None:
            # The query vanished from the log: zero calls is a real, comparable figure.
            return (
                Metric("calls", "count", "deterministic", (0.0,)),
                Metric("total_time", "s", "deterministic", (0.0,)),
            )
        metrics = [
            Metric("calls", "count", "deterministic", (float(fp.calls),)),
            Metric("total_time", "s", "deterministic", (fp.total_ms / 1000,)),
        ]
        if fp.p95_ms is not None:
            metrics.append(Metric("p95", "s", "deterministic", (fp.p95_ms / 1000,)))
        if fp.cache:
            metrics.append(
                Metric(
                    "cache_hit_rate", "ratio", "deterministic", (fp.cache[0].hit_rate,), "higher"
                )
            )
        return tuple(metrics)
