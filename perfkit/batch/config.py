"""Settings and results of a batch run (frozen dataclasses), and the latency model."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from perfkit.errors import InputError, UsageError

Mode = Literal["live", "simulate"]
MAX_FIFO_BATCH = 10
MAX_BATCH = 10_000


@dataclass(frozen=True)
class QueueSettings:
    """How the queue and the event source mapping behave (the SQS model)."""

    batch_size: int = 10
    concurrency: int = 1
    batching_window: float = 0.0
    visibility_timeout: float = 30.0
    max_receive_count: int = 3
    fifo: bool | None = None
    arrival_from_sent: bool = True
    max_time: float | None = None
    # live: the function timeout of one invocation (Lambda's default is 3 s)
    timeout: float = 3.0
    # FIFO: how many read-ahead messages the group interleaving sees; a standard queue
    # only needs enough to fill every consumer's batch (kept small: cache-friendly).
    lookahead: int = 10_000

    def check(self, fifo: bool) -> None:
        if self.batch_size < 1 or self.batch_size > MAX_BATCH:
            raise UsageError("--batch-size", f"must be between 1 and {MAX_BATCH}")
        if fifo and self.batch_size > MAX_FIFO_BATCH:
            raise UsageError(
                "--batch-size",
                f"{self.batch_size} is over {MAX_FIFO_BATCH}, the limit for FIFO queues",
            )
        if self.concurrency < 1:
            raise UsageError("--concurrency", "must be at least 1")
        if self.max_receive_count < 1:
            raise UsageError("--max-receive-count", "must be at least 1")
        if self.visibility_timeout <= 0:
            raise UsageError("--visibility-timeout", "must be more than 0")
        if not self.timeout > 0:
            raise UsageError("--timeout", "must be more than 0")
        if self.max_time is not None and not self.max_time > 0:
            raise UsageError("--max-time", "must be more than 0")


@dataclass(frozen=True)
class RetryPolicy:
    """Retries of one record inside an invocation: exponential backoff, full jitter."""

    retries: int = 0
    backoff_base: float = 0.1
    backoff_cap: float = 5.0

    def delay(self, attempt: int, uniform: float) -> float:
        """Full jitter: uniform(0, min(cap, base * 2**attempt)); ``uniform`` in [0, 1)."""
        return uniform * min(self.backoff_cap, self.backoff_base * (2.0**attempt))


LatencyKind = Literal["const", "uniform", "lognormal", "exp", "empirical"]


@dataclass(frozen=True)
class LatencyModel:
    """Per-record handler time (seconds) and failure behaviour for the simulator.

    ``failure_rate`` is the chance that one attempt fails (transient); ``poison_rate``
    the share of messages that fail every attempt. ``batch_overhead`` is added once per
    invocation (poll, invoke, delete).
    """

    kind: LatencyKind = "lognormal"
    params: tuple[float, ...] = (0.020, 0.060)
    sample: tuple[float, ...] = ()
    batch_overhead: float = 0.010
    failure_rate: float = 0.0
    poison_rate: float = 0.0
    source: str = "flags"

    def describe(self) -> str:
        if self.kind == "empirical":
            return f"empirical ({len(self.sample)} samples from {self.source})"
        ms = ",".join(f"{p * 1000:g}" for p in self.params)
        return f"{self.kind}:{ms} ms"

    def draw(self, gen: Any, n: int) -> Any:
        """``n`` latencies (seconds) as a numpy array from ``gen`` (a numpy Generator)."""
        import numpy as np

        if self.kind == "const":
            return np.full(n, self.params[0])
        if self.kind == "uniform":
            return gen.uniform(self.params[0], self.params[1], n)
        if self.kind == "exp":
            return gen.exponential(self.params[0], n)
        if self.kind == "empirical":
            return gen.choice(np.asarray(self.sample), n)
        median, p95 = self.params
        sigma = max(1e-9, math.log(p95 / median) / 1.6448536269514722)
        return gen.lognormal(math.log(median), sigma, n)

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "params_ms": [p * 1000 for p in self.params],
            "sample_ms": [round(s * 1000, 4) for s in self.sample],
            "batch_overhead_ms": self.batch_overhead * 1000,
            "failure_rate": self.failure_rate,
            "poison_rate": self.poison_rate,
        }


def parse_latency(text: str) -> tuple[LatencyKind, tuple[float, ...]]:
    """``20`` / ``const:20`` / ``uniform:5,50`` / ``lognormal:20,80`` (median, p95) / ``exp:20``;
    all in milliseconds."""
    kind, _, rest = text.partition(":")
    if not rest:
        kind, rest = "const", text
    kind = kind.strip().lower()
    try:
        nums = tuple(float(x) / 1000.0 for x in rest.split(","))
    except ValueError:
        raise UsageError("--latency-ms", f"{text!r}: numbers expected") from None
    want = {"const": 1, "uniform": 2, "lognormal": 2, "exp": 1}
    if kind not in want:
        raise UsageError(
            "--latency-ms",
            f"{text!r}: use const:MS, uniform:LO,HI, lognormal:MEDIAN,P95 or exp:MEAN",
        )
    if len(nums) != want[kind] or any(n < 0 for n in nums):
        raise UsageError(
            "--latency-ms", f"{text!r}: {kind} takes {want[kind]} non-negative numbers"
        )
    if kind == "lognormal" and not (0 < nums[0] <= nums[1]):
        raise UsageError("--latency-ms", f"{text!r}: need 0 < median <= p95")
    if kind == "uniform" and nums[0] > nums[1]:
        raise UsageError("--latency-ms", f"{text!r}: low is above high")
    return kind, nums  # type: ignore[return-value]


def load_model(path: Path) -> LatencyModel:
    """The model fitted by a previous ``--mode live --format json`` run."""
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise InputError(path, f"cannot read: {exc.strerror}") from None
    except ValueError as exc:
        raise InputError(path, f"not valid JSON: {exc}") from None
    fit = None
    if isinstance(doc, dict):
        run = doc.get("run") or (doc.get("runs") or [None])[0] or doc
        fit = run.get("fitted_model") if isinstance(run, dict) else None
    if not isinstance(fit, Mapping):
        raise InputError(path, "no fitted_model: use the JSON report of a --mode live run")
    try:
        sample = tuple(float(x) / 1000.0 for x in fit["sample_ms"])
        if not sample:
            raise ValueError("empty sample")
        return LatencyModel(
            kind="empirical",
            params=(),
            sample=sample,
            batch_overhead=float(fit.get("batch_overhead_ms", 0.0)) / 1000.0,
            failure_rate=float(fit.get("failure_rate", 0.0)),
            poison_rate=float(fit.get("poison_rate", 0.0)),
            source=str(path),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise InputError(path, f"fitted_model is malformed ({exc})") from None


@dataclass(frozen=True)
class BatchOutcome:
    """One invocation: which records Lambda would retry and why."""

    batch: int
    start: float
    duration: float
    message_ids: tuple[str, ...]
    failures: tuple[str, ...]
    whole_batch_failed: bool = False
    handler_bug: str | None = None
    error: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "batch": self.batch,
            "start_s": round(self.start, 6),
            "duration_ms": round(self.duration * 1000, 3),
            "size": len(self.message_ids),
            "message_ids": list(self.message_ids),
            "batchItemFailures": [{"itemIdentifier": i} for i in self.failures],
            "whole_batch_failed": self.whole_batch_failed,
            "handler_bug": self.handler_bug,
            "error": self.error,
        }


@dataclass(frozen=True)
class Conservation:
    """Every input message ends in exactly one bucket; ``ok`` when they add up.

    ``in_flight`` is every message read but neither succeeded nor in the DLQ; a stopped run
    (``--max-time``, Ctrl-C) splits it into ``in_progress`` (inside an invocation that was
    abandoned), ``returned`` (delivered, failed or timed out, waiting to be delivered again)
    and the rest, read but never delivered.
    """

    messages_in: int
    succeeded: int
    dlq: int
    in_flight: int
    never_read: int
    in_progress: int = 0
    returned: int = 0

    @classmethod
    def of(cls, q: Any) -> Conservation:
        """Count a finished or stopped :class:`~perfkit.batch.queue.SqsQueue`."""
        acc = q.account()
        return cls(
            messages_in=q.admitted + acc.never_read,
            succeeded=q.succeeded,
            dlq=q.dlq,
            in_flight=acc.in_progress + acc.returned + acc.queued,
            never_read=acc.never_read,
            in_progress=acc.in_progress,
            returned=acc.returned,
        )

    @property
    def ok(self) -> bool:
        return (
            self.messages_in == self.succeeded + self.dlq + self.in_flight + self.never_read
            and 0 <= self.in_progress + self.returned <= self.in_flight
        )

    @property
    def unfinished(self) -> int:
        return self.in_flight + self.never_read

    @property
    def never_delivered(self) -> int:
        """Read but never delivered, plus never read."""
        return self.in_flight - self.in_progress - self.returned + self.never_read

    @property
    def delivered(self) -> int:
        """Delivered at least once."""
        return self.succeeded + self.dlq + self.in_progress + self.returned

    def line(self) -> str:
        mark = "ok" if self.ok else "MISMATCH"
        rest = f"{self.unfinished} still in flight"
        if self.unfinished:
            rest += (
                f" ({self.in_progress} being processed, {self.returned} returned to the queue, "
                f"{self.never_delivered} never delivered)"
            )
        return (
            f"{self.messages_in} in = {self.succeeded} succeeded + {self.dlq} DLQ + {rest}: {mark}"
        )

    def to_json(self) -> dict[str, int]:
        return {
            "delivered": self.delivered,
            "succeeded": self.succeeded,
            "failed": self.dlq + self.returned,  # = dlq + returned
            "dlq": self.dlq,
            "in_progress": self.in_progress,
            "returned": self.returned,
            "never_delivered": self.never_delivered,
            "never_read": self.never_read,
        }


@dataclass(frozen=True)
class RunResult:
    """Everything one run (one batch size / concurrency setting) measured."""

    mode: Mode
    settings: QueueSettings
    fifo: bool
    handler: str
    handler_kind: str
    conservation: Conservation
    deliveries: int
    retried: int
    duplicate_deliveries: int
    duplicate_processed: int
    record_retries: int
    failed_attempts: int
    batches: int
    batches_with_failures: int
    handler_bugs: int
    elapsed: float
    latency_from: str
    latency_p50: float | None
    latency_p95: float | None
    latency_p99: float | None
    batch_log: tuple[BatchOutcome, ...]
    batch_log_omitted: int
    stopped: str
    time_scale: float = 1.0
    seed: int | None = None
    model: LatencyModel | None = None
    fitted_model: Mapping[str, Any] | None = None
    dlq_out: str | None = None
    sink: Mapping[str, Any] | None = None
    last_success: float = 0.0
    # live: invocations that failed whole (timeout, crash, SystemExit & co.), of which timeouts
    invocation_failures: int = 0
    timeouts: int = 0
    cold_starts: int = 0  # workers replaced after a timeout or a crash
    init_s: float = 0.0  # starting the workers and importing the handler (not in elapsed)
    input_cut: bool = False  # Ctrl-C / SIGTERM while reading the input ended it there

    @property
    def partial(self) -> bool:
        """Stopped before the queue drained (``--max-time``, Ctrl-C, SIGTERM)."""
        return self.stopped != "drained"

    @property
    def throughput(self) -> float:
        """Messages succeeded per second, up to the last success (a DLQ tail of
        visibility timeouts does not dilute it; ``elapsed`` is the full drain time)."""
        span = self.last_success or self.elapsed
        return self.conservation.succeeded / span if span > 0 else 0.0


@dataclass(frozen=True)
class SweepResult:
    runs: tuple[RunResult, ...]
    best: int | None
    target_p95: float | None
    plot: str | None = None
    notes: Sequence[str] = field(default_factory=tuple)
