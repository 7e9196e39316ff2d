"""``type = "pool"``: request latency with a fresh connection each time vs through a pool.

The measurement is :func:`perfkit.pool.run_pool_benchmark`. It reports order statistics,
not raw samples, so the check repeats a short benchmark ``repeats`` times: each
repetition's median latency is one sample of the significance test.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from perfkit.check.model import CheckSpec, Metric, MetricSpec
from perfkit.check.types.base import CheckType, Param, RunEnv
from perfkit.errors import DatabaseError


class PoolCheck(CheckType):
    name: ClassVar[str] = "pool"
    summary: ClassVar[str] = "fresh-connection and pooled latency at given clients"
    requires: ClassVar[tuple[str, ...]] = ("perfkit.pool:run_pool_benchmark",)
    params: ClassVar[tuple[Param, ...]] = (
        Param("clients", "int_list", default=(1, 4), help="concurrent clients to measure"),
        Param("pool_size", "int", default=5, min=1, help="size of the pool measured"),
        Param("requests", "int", default=200, min=1, help="requests per client count and mode"),
        Param("repeats", "int", default=5, min=2, help="benchmarks run; one sample each"),
        Param("query", "str", default=None, help="statement each request runs (SELECT 1)"),
        Param("script", "path", default=None, help="a pgbench-style script instead"),
        Param("fresh", "bool", default=True, help="measure fresh connections too"),
        Param("dsn", "str", default=None, help="database (default: --dsn, [db] dsn, embedded)"),
    )

    def validate(self, params: Mapping[str, Any], fail: Any) -> None:
        if params["query"] and params["script"]:
            fail("script", "give query or script, not both")

    def metric_specs(self, params: Mapping[str, Any]) -> tuple[MetricSpec, ...]:
        specs = []
        for c in params["clients"]:
            if params["fresh"]:
                specs.append(
                    MetricSpec(f"fresh_c{c}", "s", "timing", "lower", f"fresh, {c} clients")
                )
            specs.append(MetricSpec(f"pooled_c{c}", "s", "timing", "lower", f"pooled, {c} clients"))
        return tuple(specs)

    def rounds(self, params: Mapping[str, Any]) -> int:
        return int(params["repeats"])

    def one_sample(self, params: Mapping[str, Any], first: bool) -> Mapping[str, Any]:
        return {**params, "repeats": 1}

    def collect(self, check: CheckSpec, env: RunEnv) -> tuple[Metric, ...]:
        from perfkit.db.target import resolve_target
        from perfkit.pool import PoolBenchOptions, load_script, query_workload, run_pool_benchmark
        from perfkit.pool.workload import select_one

        p = check.params
        if p["script"] is not None:
            workload = load_script(p["script"])
        elif p["query"]:
            workload = query_workload(p["query"])
        else:
            workload = select_one()
        options = PoolBenchOptions(
            clients=tuple(p["clients"]),
            pool_sizes=(p["pool_size"],),
            duration_s=None,
            requests=p["requests"],
            warmup_s=0.0,
            warmup_requests=min(20, p["requests"]),
            workload=workload,
            fresh=p["fresh"],
            statement_timeout=env.statement_timeout,
        )
        target = resolve_target(p["dsn"] or env.dsn, env.config.data)
        samples: dict[str, list[float]] = {s.name: [] for s in self.metric_specs(p)}
        for _ in range(p["repeats"]):
            result = run_pool_benchmark(target, options=options, config=env.config.data)
            if result.status != "complete":
                raise DatabaseError(
                    target.masked, f"pool benchmark {result.status}: {result.error}"
                )
            for point in result.points:
                if point.endpoint != "primary" or point.latency is None:
                    continue
                if point.status != "ok":
                    raise DatabaseError(target.masked, f"{point.key}: {point.error}")
                name = f"{'fresh' if point.mode == 'fresh' else 'pooled'}_c{point.clients}"
                if name in samples:
                    samples[name].append(point.latency.p50_ms / 1000)
        return tuple(
            Metric(name, "s", "timing", tuple(values)) for name, values in samples.items() if values
        )
