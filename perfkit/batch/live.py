"""``--mode live``: the user's real handler against the SQS model in (scaled) real time,
bounded like Lambda.

The handler runs in worker processes (:mod:`perfkit.batch.workers`), one per concurrent
invocation, never in perfkit's own process: an invocation that overruns ``timeout`` is
killed and fails whole (all its messages come back after the visibility timeout), a
crash or a ``SystemExit`` fails the invocation it happened in, and ``--max-time``,
Ctrl-C and SIGTERM stop the run at once at every concurrency. perfkit's loop only ever
waits in ``poll`` on the workers' pipes and a wake-up pipe, so it always answers.

Only perfkit's own waits (visibility timeout, batching window, retry backoff, arrival
gaps) are multiplied by ``time_scale``; the handler, and its timeout, run at real speed.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from typing import Any

from perfkit.batch.config import (
    BatchOutcome,
    Conservation,
    QueueSettings,
    RetryPolicy,
    RunResult,
)
from perfkit.batch.handlers import Handler, HandlerRef
from perfkit.batch.inputs import Message
from perfkit.batch.queue import SqsQueue
from perfkit.batch.signals import StopSignals
from perfkit.batch.worker import Outcome
from perfkit.batch.workers import InitFailed, WorkerConfig, WorkerPool, items_of
from perfkit.querylog.stats import DurationDigest
from perfkit.report.progress import NullProgress, ProgressSink

MAX_BATCH_LOG = 1000
_SAMPLE = 2048


class _Stats:
    """Attempt latencies kept in a bounded sample, for the model ``--model`` reuses."""

    def __init__(self) -> None:
        self.sample: list[float] = []
        self.seen = 0

    def add_many(self, lats: list[float]) -> None:
        # O(1) per batch once the sample is full: one value of the batch replaces a slot,
        # so the sample keeps covering the whole run without a per-record cost.
        i = self.seen
        self.seen = i + len(lats)
        sample = self.sample
        if len(sample) < _SAMPLE:
            sample.extend(lats[: _SAMPLE - len(sample)])
        elif lats:
            sample[(i * 2654435761) % _SAMPLE] = lats[i % len(lats)]


_RC = tuple(str(i) for i in range(64))


def _records(batch: list[Message]) -> list[dict[str, Any]]:
    out = []
    for m in batch:
        rec = m.record if m.record is not None and "eventSource" in m.record else m.lambda_record()
        rc = m.receive_count
        rec["attributes"]["ApproximateReceiveCount"] = _RC[rc] if rc < 64 else str(rc)
        out.append(rec)
    return out


def run_live(
    messages: Iterator[Message],
    settings: QueueSettings,
    handler: HandlerRef | Handler,
    *,
    fifo: bool,
    retry: RetryPolicy | None = None,
    time_scale: float = 1.0,
    seed: int | None = None,
    on_dlq: Callable[[Message], None] | None = None,
    on_success: Callable[[Message, float], None] | None = None,
    progress: ProgressSink | None = None,
    stop: StopSignals | None = None,
) -> RunResult:
    """Run the messages through the handler's worker processes. ``stop`` (already entered)
    lets the caller catch Ctrl-C / SIGTERM over a longer span (a sweep); by default the run
    installs its own for its duration."""
    retry = retry or RetryPolicy()
    progress = progress or NullProgress()
    ref = handler if isinstance(handler, HandlerRef) else HandlerRef(handler.spec, handler.batch)
    n = settings.batch_size
    conc = settings.concurrency
    window = settings.batching_window * time_scale
    perf = time.perf_counter
    begin = perf()
    # --max-time bounds the whole run, worker start-up included
    t_end = None if settings.max_time is None else begin + settings.max_time
    hist = DurationDigest()  # latencies in seconds; 1% relative error
    pending_lat: list[float] = []
    stats = _Stats()
    totals = {
        "retries": 0,
        "failed_attempts": 0,
        "batches": 0,
        "failed": 0,
        "bugs": 0,
        "whole": 0,
        "timeouts": 0,
    }
    batch_log: list[BatchOutcome] = []
    omitted = [0]
    last_ok = [0.0]
    overhead_sum = [0.0]
    timeout_text = "Task timed out after"

    own = stop is None
    with StopSignals() if stop is None else contextlib.nullcontext(stop) as stop:
        if own:
            messages = stop.guard(messages)
        pool = WorkerPool(
            WorkerConfig(
                ref=ref,
                fifo=fifo,
                retry=(retry.retries, retry.backoff_base, retry.backoff_cap),
                time_scale=time_scale,
                seed=seed,
                timeout=settings.timeout,
            ),
            conc,
            stop.rfd,
        )
        q = SqsQueue(
            messages,
            fifo=fifo,
            visibility_timeout=settings.visibility_timeout * time_scale,
            max_receive_count=settings.max_receive_count,
            lookahead=settings.lookahead if fifo else max(256, n * conc * 2),
            arrival_from_sent=settings.arrival_from_sent,
            time_scale=time_scale,
            on_dlq=on_dlq,
        )
        t0 = perf()

        def now() -> float:
            return perf() - t0

        def finish(bid: int, batch: list[Message], start: float, out: Outcome) -> None:
            done_t = now()
            totals["batches"] += 1
            totals["retries"] += out.retries
            totals["failed_attempts"] += out.failed_attempts
            overhead_sum[0] += max(0.0, out.duration - out.work)
            if out.lats:
                stats.add_many(out.lats)
            if out.fatal is not None:
                totals["whole"] += 1
                if out.fatal.startswith(timeout_text):
                    totals["timeouts"] += 1
            failed = set(out.failed) if out.failed else None
            newly = q.complete(batch, bid, failed)
            if newly:
                last_ok[0] = done_t
                pending_lat.extend([done_t - m.arrival for m in newly])
                if on_success is not None:
                    for m in newly:
                        on_success(m, done_t)
            if len(pending_lat) >= 65536:
                hist.add_many(pending_lat)
                pending_lat.clear()
            if out.bug:
                totals["bugs"] += 1
            if out.failed or out.bug or out.error:
                if out.failed:
                    totals["failed"] += 1
                if len(batch_log) < MAX_BATCH_LOG:
                    batch_log.append(
                        BatchOutcome(
                            batch=bid,
                            start=start,
                            duration=out.duration,
                            message_ids=tuple(m.message_id for m in batch),
                            failures=tuple(out.failed),
                            whole_batch_failed=bool(
                                out.fatal or (ref.batch and (out.bug or out.error))
                            ),
                            handler_bug=out.bug,
                            error=out.error,
                        )
                    )
                else:
                    omitted[0] += 1

        def submit(bid: int, batch: list[Message]) -> None:
            start = now()
            try:
                w = pool.idle(t_end)
            except InitFailed as exc:
                finish(bid, batch, start, Outcome.whole_batch(
                    [m.message_id for m in batch], f"Runtime.InitError: {exc}", now() - start
                ))  # fmt: skip
                return
            if w is None:  # stopped while a replacement worker started
                q.complete(batch, bid, {m.message_id for m in batch})
                return
            pool.submit(w, bid, batch, items_of(batch, _records(batch)), start)

        def stop_reason() -> str | None:
            if stop.reason is not None:
                return stop.reason
            if t_end is not None and perf() >= t_end:
                return "time limit"
            return None

        def idle(until: float | None) -> None:
            """Wait until a batch ends, ``until`` (queue clock), a signal or the time limit."""
            timeout = None if until is None else max(0.0, until - now())
            if t_end is not None:
                left = max(0.0, t_end - perf())
                timeout = left if timeout is None else min(timeout, left)
            for w, out in pool.wait(timeout):
                bid_, batch_, start_ = w.bid, w.batch or [], w.start
                pool.release(w)
                finish(bid_, batch_, start_, out)

        stopped = "drained"
        bid = 0
        last_progress = 0
        init_s = 0.0
        progress.start("running handler", None)
        try:
            if not pool.start(t_end):
                stopped = stop_reason() or "interrupted"
            init_s = perf() - begin
            t0 = perf()
            while stopped == "drained":
                why = stop_reason()
                if why is not None:
                    stopped = why
                    break
                while len(pool.busy) < conc and stop_reason() is None:
                    got = q.receive(now(), n, bid + 1)
                    if not got:
                        break
                    bid += 1
                    if len(got) < n and window > 0:
                        wend = now() + window
                        while len(got) < n and now() < wend and stop_reason() is None:
                            r = q.next_ready_time(now())
                            idle(wend if r is None or r > wend else r)
                            got.extend(q.receive(now(), n - len(got), bid))
                    submit(bid, got)
                    if q.admitted - last_progress >= 1000:
                        last_progress = q.admitted
                        progress.update(
                            completed=q.admitted,
                            description=f"running handler ({q.admitted:,} read)",
                        )
                r = q.next_ready_time(now()) if len(pool.busy) < conc else None
                if not pool.busy and r is None:
                    break
                idle(r)
        except KeyboardInterrupt:  # not in the main thread, or before the handlers were set
            stopped = "interrupted"
        finally:
            pool.abandon()  # their batches stay in flight (counted as being processed)
            pool.close()
            progress.finish()
    elapsed = now()
    hist.add_many(pending_lat)
    cons = Conservation.of(q)
    attempts = stats.seen
    poison_attempts = q.dlq * settings.max_receive_count * (retry.retries + 1)
    transient = max(0, totals["failed_attempts"] - poison_attempts)
    fitted = {
        "sample_ms": [round(x * 1000, 4) for x in stats.sample],
        "batch_overhead_ms": round(overhead_sum[0] / max(1, totals["batches"]) * 1000, 4),
        "failure_rate": round(transient / max(1, attempts - poison_attempts), 6),
        "poison_rate": round(q.dlq / max(1, cons.messages_in), 6),
        "attempts": attempts,
    }
    kind = f"{'async' if pool.is_async else 'sync'} {'batch' if ref.batch else 'record'}"
    return RunResult(
        mode="live",
        settings=settings,
        fifo=fifo,
        handler=ref.spec,
        handler_kind=kind,
        conservation=cons,
        deliveries=q.deliveries,
        retried=q.redelivered,
        duplicate_deliveries=q.duplicate_deliveries,
        duplicate_processed=q.duplicate_processed,
        record_retries=totals["retries"],
        failed_attempts=totals["failed_attempts"],
        batches=totals["batches"],
        batches_with_failures=totals["failed"],
        handler_bugs=totals["bugs"],
        elapsed=elapsed,
        latency_from="SentTimestamp" if q.used_sent_timestamp else "run start",
        latency_p50=hist.quantile(0.5),
        latency_p95=hist.quantile(0.95),
        latency_p99=hist.quantile(0.99),
        batch_log=tuple(batch_log),
        batch_log_omitted=omitted[0],
        stopped=stopped,
        time_scale=time_scale,
        seed=seed,
        fitted_model=fitted,
        last_success=last_ok[0],
        invocation_failures=totals["whole"],
        timeouts=totals["timeouts"],
        cold_starts=pool.cold_starts,
        init_s=init_s,
        input_cut=stop.cut,
    )
