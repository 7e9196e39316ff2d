"""Options and results of ``perfkit replay`` (frozen dataclasses, JSON-ready)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

Mode = Literal["direct", "cached"]
RunSelection = Literal["both", "direct", "cached"]

SCHEMA_VERSION = 1


@dataclass(frozen=True)
class ReplayOptions:
    """``speed``: 1.0 = the log's pace, 10.0 = ten times faster, ``None`` = as fast as
    possible. ``sessions``: connections (worker threads); each original session is
    pinned to one of them, so its statements run in order on one connection; an open
    transaction holds its connection (other sessions pinned there wait for its end)."""

    speed: float | None = 1.0
    sessions: int = 4
    ttl: float = 60.0
    cache_entries: int | None = 10_000
    cache_bytes: int | None = 64 * 1024 * 1024
    allow_writes: bool = False
    #: effects a rollback cannot undo the user named (``--allow-side-effects``)
    allow_effects: frozenset[str] = frozenset()
    max_errors: int | None = None
    runs: RunSelection = "both"
    statement_timeout: str = "30s"
    lock_timeout: str = "5s"
    connect_timeout: float = 5.0
    prepare_threshold: int | None = 5
    reconnect_attempts: int = 5
    limit: int | None = None  # replay at most this many statements per run
    database: str | None = None  # replay only this database's statements (when logged)

    def __post_init__(self) -> None:
        if self.speed is not None and (self.speed <= 0 or math.isinf(self.speed)):
            raise ValueError("speed must be a positive number")
        if self.sessions < 1:
            raise ValueError("sessions must be at least 1")
        if self.ttl <= 0:
            raise ValueError("ttl must be positive")
        if self.max_errors is not None and self.max_errors < 1:
            raise ValueError("max_errors must be at least 1")
        if self.limit is not None and self.limit < 1:
            raise ValueError("limit must be at least 1")


@dataclass(frozen=True)
class ErrorCount:
    """Statements of one fingerprint that failed on the target with one server error."""

    fingerprint: str
    query: str
    sqlstate: str | None
    message: str
    count: int
    example: str


@dataclass(frozen=True)
class FingerprintRun:
    """Measured latency (ms, as the client saw it) of one fingerprint in one run."""

    fingerprint: str
    query: str
    calls: int
    errors: int
    total_ms: float
    mean_ms: float | None
    p50_ms: float | None
    p95_ms: float | None
    p99_ms: float | None
    hits: int
    saved_ms: float  # the stored results' execution times, summed over the hits
    hit_ms: float  # client time of the hits themselves


@dataclass(frozen=True)
class CacheFigures:
    ttl_s: float
    hits: int
    misses: int
    hit_rate: float
    saved_ms: float  # sum of the stored results' execution times over the hits
    invalidations: int
    evictions: int
    entries: int
    bytes: int
    #: results the cache refused to store: a write later in the log had already
    #: invalidated one of their tables (the epoch guard, ordered by log position)
    refused_stores: int = 0


@dataclass(frozen=True)
class RunResult:
    mode: Mode
    statements: int  # sent to the server or answered by the cache
    elapsed_s: float
    throughput: float  # statements per second
    total_ms: float  # sum of statement latencies
    p50_ms: float | None
    p95_ms: float | None
    p99_ms: float | None
    skipped_writes: int
    skipped_other: int
    skipped_reasons: tuple[tuple[str, int], ...]
    errors: int
    error_counts: tuple[ErrorCount, ...]
    reconnects: int
    lag_max_ms: float
    lag_p95_ms: float | None
    fingerprints: tuple[FingerprintRun, ...]
    cache: CacheFigures | None
    stopped: str | None  # why the run ended early (max errors, Ctrl-C, connection lost)
    #: WARNING-level messages the server raised for statements that still ran (e.g.
    #: 25001 "there is already a transaction in progress"), per fingerprint and message
    warnings: int = 0
    warning_counts: tuple[ErrorCount, ...] = ()
    #: statements of a session that waited while another session's transaction held
    #: their shared connection, and how long they waited in total (wall ms)
    waited_statements: int = 0
    waited_ms: float = 0.0
    #: transactions the log never ended (cut log): rolled back when the run ended
    unfinished_transactions: int = 0


@dataclass(frozen=True)
class FingerprintComparison:
    fingerprint: str
    query: str
    calls: int
    direct_p50_ms: float | None
    direct_p95_ms: float | None
    direct_p99_ms: float | None
    cached_p50_ms: float | None
    cached_p95_ms: float | None
    cached_p99_ms: float | None
    hits: int
    simulated_hits: int | None
    saved_ms: float | None  # measured: hits x direct-run mean latency - the hits' own time
    simulated_saved_ms: float | None
    cacheable: bool
    reason: str | None


@dataclass(frozen=True)
class SimulationComparison:
    """The measured cache against ``analyze``'s simulation on the same log."""

    simulated_hits: int
    simulated_misses: int
    simulated_hit_rate: float
    simulated_saved_ms: float
    measured_hits: int
    measured_misses: int
    measured_hit_rate: float
    measured_saved_ms: float  # sum of the fingerprints' saved_ms
    end_to_end_delta_ms: float | None  # direct run total - cached run total (noisier)
    hit_rate_error: float  # simulated - measured (percentage points / 100)
    saved_error_ms: float  # simulated - measured
    saved_relative_error: float | None  # (simulated - measured) / measured


@dataclass(frozen=True)
class ReplayResult:
    sources: tuple[str, ...]
    target: str  # masked
    options: ReplayOptions
    events: int  # statements read from the log (first run)
    sessions_seen: int
    runs: tuple[RunResult, ...]
    comparison: SimulationComparison | None
    fingerprints: tuple[FingerprintComparison, ...]
    warnings: tuple[str, ...]
    interrupted: bool

    def run(self, mode: Mode) -> RunResult | None:
        for r in self.runs:
            if r.mode == mode:
                return r
        return None
