"""``type = "batch"``: throughput and p95 of an SQS batch setting (perfkit batch).

The measurement is :func:`perfkit.batch.run_batch`. In the default ``simulate`` mode with
a fixed seed the figures are deterministic, so they compare exactly unless limited.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from perfkit.check.model import CheckSpec, Metric, MetricSpec
from perfkit.check.types.base import CheckType, Param, RunEnv
from perfkit.errors import ConfigError, PerfkitError


class BatchCheck(CheckType):
    name: ClassVar[str] = "batch"
    summary: ClassVar[str] = "SQS batch simulation: throughput, p95, DLQ of one setting"
    requires: ClassVar[tuple[str, ...]] = ("perfkit.batch:run_batch",)
    params: ClassVar[tuple[Param, ...]] = (
        Param("input", "path", required=True, help="SQS message dump (relative to the config)"),
        Param("mode", "str", default="simulate", help="simulate (deterministic) or live"),
        Param("handler", "str", default=None, help="module:function handling one record"),
        Param("batch_handler", "str", default=None, help="module:function handling a batch"),
        Param("batch_size", "int", default=10, min=1),
        Param("concurrency", "int", default=1, min=1),
        Param("latency_ms", "str", default="lognormal:20,60", help="simulated handler time"),
        Param("model", "path", default=None, help="fitted model from a live run's JSON"),
        Param("failure_rate", "percent", default=0.0),
        Param("poison_rate", "percent", default=0.0),
        Param("retries", "int", default=0, min=0, help="in-handler retries per record"),
        Param("max_receive_count", "int", default=3, min=1),
        Param("visibility_timeout", "duration", default="30s"),
        Param("seed", "int", default=0, help="random seed of the simulation"),
    )

    def validate(self, params: Mapping[str, Any], fail: Any) -> None:
        # latency_ms is parsed at run time: importing perfkit.batch here would cost every
        # gate run half a second, checks of other types included.
        if params["mode"] not in ("simulate", "live"):
            fail("mode", f"must be simulate or live, not {params['mode']!r}")
        for key in ("failure_rate", "poison_rate"):
            if params[key] > 1:
                fail(key, "must be between 0 and 100%")

    def metric_specs(self, params: Mapping[str, Any]) -> tuple[MetricSpec, ...]:
        return (
            MetricSpec("throughput", "per_s", "deterministic", "higher", "messages per second"),
            MetricSpec("p95", "s", "deterministic", "lower", "95th percentile message latency"),
            MetricSpec("dlq", "count", "deterministic", "lower", "messages sent to the DLQ"),
            MetricSpec("retried", "count", "deterministic", "lower", "messages delivered again"),
        )

    def collect(self, check: CheckSpec, env: RunEnv) -> tuple[Metric, ...]:
        from perfkit.batch import (
            BatchRequest,
            InputSpec,
            LatencyModel,
            QueueSettings,
            RetryPolicy,
            run_batch,
        )
        from perfkit.batch.config import load_model, parse_latency

        p = check.params
        if p["model"] is not None:
            model = load_model(p["model"])
        else:
            try:
                kind, values = parse_latency(p["latency_ms"])
            except PerfkitError as exc:
                raise ConfigError(
                    check.source,
                    str(exc).split(": ", 1)[-1],
                    section=f"check.{check.name}",
                    key="latency_ms",
                ) from None
            model = LatencyModel(
                kind=kind,
                params=values,
                failure_rate=p["failure_rate"],
                poison_rate=p["poison_rate"],
            )
        request = BatchRequest(
            inputs=InputSpec(paths=(str(p["input"]),)),
            mode=p["mode"],
            handler=p["handler"],
            batch_handler=p["batch_handler"],
            settings=QueueSettings(
                max_receive_count=p["max_receive_count"],
                visibility_timeout=p["visibility_timeout"],
            ),
            batch_sizes=(p["batch_size"],),
            concurrencies=(p["concurrency"],),
            retry=RetryPolicy(retries=p["retries"]),
            seed=p["seed"],
            model=model,
        )
        run = run_batch(request).runs[0]
        metrics = [
            Metric("throughput", "per_s", "deterministic", (run.throughput,), "higher"),
        ]
        if run.latency_p95 is not None:
            metrics.append(Metric("p95", "s", "deterministic", (run.latency_p95,)))
        metrics.append(Metric("dlq", "count", "deterministic", (float(run.conservation.dlq),)))
        metrics.append(Metric("retried", "count", "deterministic", (float(run.retried),)))
        return tuple(metrics)
