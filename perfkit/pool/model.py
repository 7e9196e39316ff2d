"""Results of ``perfkit pool`` (frozen dataclasses, JSON-ready): the endpoints measured,
one :class:`PointResult` per (endpoint, mode, pool size, clients) and the whole run.

A leaf module: the analysis (:mod:`perfkit.pool.recommend`), the rendering
(:mod:`perfkit.pool.report`) and the benchmark (:mod:`perfkit.pool.bench`) all import
it, and it imports none of them at run time.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from perfkit.pool.bench import PoolBenchOptions
    from perfkit.pool.recommend import LambdaCheck, Recommendation
    from perfkit.pool.timing import Summary
    from perfkit.pool.worker import Mode

__all__ = ["Endpoint", "PointResult", "PointStatus", "PoolBenchResult", "RunStatus"]

PointStatus = Literal["ok", "failed", "interrupted"]
RunStatus = Literal["complete", "failed", "interrupted"]


@dataclass(frozen=True)
class Endpoint:
    """A server (or pooler) the benchmark talked to."""

    label: str
    target: str  # masked
    transport: Literal["tcp", "unix"]
    host: str
    port: int
    server_version: str
    server_version_num: int
    startup_options: bool  # False: settings SET after connecting (PgBouncer)
    max_connections: int | None


@dataclass(frozen=True)
class PointResult:
    endpoint: str
    mode: Mode
    clients: int
    pool_size: int | None
    workers: int
    status: PointStatus
    error: str | None
    requests: int
    errors: int
    error_messages: tuple[str, ...]
    elapsed_s: float
    throughput: float
    latency: Summary | None
    connect: Summary | None
    connect_socket: Summary | None
    connect_startup: Summary | None
    pool_wait: Summary | None
    peak_backends: int | None
    peak_active: int | None
    pool_stats: Mapping[str, int]
    client_cpu_pct: float | None
    machine_cpu_pct: float | None
    ssl: bool | None

    @property
    def concurrency(self) -> float | None:
        """Little's law: throughput x mean latency = requests in flight on average."""
        if self.latency is None or self.throughput <= 0:
            return None
        return self.throughput * self.latency.mean_ms / 1000

    @property
    def key(self) -> str:
        size = f" size {self.pool_size}" if self.pool_size is not None else ""
        return f"{self.endpoint} {self.mode}{size} x{self.clients}"


@dataclass(frozen=True)
class PoolBenchResult:
    endpoints: tuple[Endpoint, ...]
    options: PoolBenchOptions
    workload: str
    points: tuple[PointResult, ...]
    recommendations: tuple[Recommendation, ...]
    lambda_check: LambdaCheck | None
    status: RunStatus
    error: str | None
    workers: int
    cores: int
    points_planned: int
