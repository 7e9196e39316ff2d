"""``--mode live``: the user's real handler against the SQS model in (scaled) real time.

Execution strategy by handler kind and concurrency:

* sync handler, concurrency 1: a plain loop in this thread (no pool, no task per record),
  so perfkit adds about as little per record as Powertools' ``BatchProcessor``;
* sync handler, concurrency > 1: one thread-pool task per *batch* (records of a batch run
  in order, as in one Lambda invocation);
* async handler: an event loop in a helper thread, one coroutine per batch, bounded by an
  ``asyncio.Semaphore(concurrency)``.

Only perfkit's own waits (visibility timeout, batching window, retry backoff, arrival
gaps) are multiplied by ``time_scale``; the handler runs at its own speed.
"""

from __future__ import annotations

import asyncio
import concurrent.futures as cf
import random
import threading
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
from perfkit.batch.handlers import Handler, LambdaContext, check_batch_response
from perfkit.batch.inputs import Message
from perfkit.batch.queue import SqsQueue
from perfkit.querylog.stats import DurationDigest
from perfkit.report.progress import NullProgress, ProgressSink

MAX_BATCH_LOG = 1000
_SAMPLE = 2048


class _Outcome:
    __slots__ = ("bug", "duration", "error", "failed", "failed_attempts", "retries", "work")

    def __init__(self) -> None:
        self.failed: list[str] = []
        self.bug: str | None = None
        self.error: str | None = None
        self.retries = 0
        self.failed_attempts = 0
        self.duration = 0.0
        self.work = 0.0  # time inside the handler


class _Stats:
    """Attempt latencies kept in a bounded sample, for the model ``--model`` reuses."""

    def __init__(self) -> None:
        self.sample: list[float] = []
        self.seen = 0
        self.lock = threading.Lock()

    def add(self, lat: float) -> None:
        self.add_many([lat])

    def add_many(self, lats: list[float]) -> None:
        # O(1) per batch once the sample is full: one value of the batch replaces a slot,
        # so the sample keeps covering the whole run without a per-record cost.
        with self.lock:
            i = self.seen
            self.seen = i + len(lats)
            sample = self.sample
            if len(sample) < _SAMPLE:
                sample.extend(lats[: _SAMPLE - len(sample)])
            elif lats:
                sample[(i * 2654435761) % _SAMPLE] = lats[i % len(lats)]


_RC = tuple(str(i) for i in range(64))


def _error_text(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


class _Runner:
    """Runs one batch through the handler and says which records to retry."""

    def __init__(
        self,
        handler: Handler,
        fifo: bool,
        retry: RetryPolicy,
        time_scale: float,
        seed: int | None,
    ) -> None:
        self.h = handler
        self.fifo = fifo
        self.retry = retry
        self.scale = time_scale
        self.rng = random.Random(seed)
        self.stats = _Stats()
        self.lock = threading.Lock()

    @staticmethod
    def _records(batch: list[Message]) -> list[dict[str, Any]]:
        out = []
        for m in batch:
            rec = (
                m.record
                if m.record is not None and "eventSource" in m.record
                else m.lambda_record()
            )
            rc = m.receive_count
            rec["attributes"]["ApproximateReceiveCount"] = _RC[rc] if rc < 64 else str(rc)
            out.append(rec)
        return out

    def _backoff(self, attempt: int) -> float:
        with self.lock:
            u = self.rng.random()
        return self.retry.delay(attempt, u) * self.scale

    # -- sync -------------------------------------------------------------------------------
    def run_sync(self, batch: list[Message]) -> _Outcome:
        out = _Outcome()
        perf = time.perf_counter
        t0 = perf()
        records = self._records(batch)
        if self.h.batch:
            try:
                resp = self.h.func({"Records": records}, LambdaContext())
            except Exception as exc:
                out.failed = [m.message_id for m in batch]
                out.error = _error_text(exc)
            else:
                out.failed, out.bug = check_batch_response(resp, [m.message_id for m in batch])
            out.duration = out.work = perf() - t0
            self.stats.add(out.duration / max(1, len(batch)))
            return out
        func = self.h.func
        held: set[Any] | None = None
        lats: list[float] = []
        add = lats.append
        for m, rec in zip(batch, records, strict=True):
            if held is not None and m.group in held:
                out.failed.append(m.message_id)
                continue
            a = perf()
            try:
                func(rec)
            except Exception as exc:
                add(perf() - a)
                if not self._retry_sync(rec, out, exc, add):
                    out.failed.append(m.message_id)
                    if self.fifo:
                        if held is None:
                            held = set()
                        held.add(m.group)
                continue
            add(perf() - a)
        out.work = sum(lats)
        out.duration = perf() - t0
        self.stats.add_many(lats)
        return out

    def _retry_sync(
        self,
        rec: dict[str, Any],
        out: _Outcome,
        exc: Exception,
        add: Callable[[float], None],
    ) -> bool:
        """The slow path after a failed attempt: retries with backoff; True if one worked."""
        perf = time.perf_counter
        if out.error is None:
            out.error = _error_text(exc)
        out.failed_attempts += 1
        for attempt in range(self.retry.retries):
            time.sleep(self._backoff(attempt))
            out.retries += 1
            a = perf()
            try:
                self.h.func(rec)
            except Exception:
                add(perf() - a)
                out.failed_attempts += 1
                continue
            add(perf() - a)
            return True
        return False

    # -- async ------------------------------------------------------------------------------
    async def run_async(self, batch: list[Message], sem: asyncio.Semaphore) -> _Outcome:
        async with sem:
            out = _Outcome()
            perf = time.perf_counter
            t0 = perf()
            records = self._records(batch)
            if self.h.batch:
                try:
                    resp = self.h.func({"Records": records}, LambdaContext())
                    if asyncio.iscoroutine(resp):
                        resp = await resp
                except Exception as exc:
                    out.failed = [m.message_id for m in batch]
                    out.error = _error_text(exc)
                else:
                    out.failed, out.bug = check_batch_response(resp, [m.message_id for m in batch])
                out.duration = out.work = perf() - t0
                self.stats.add(out.duration / max(1, len(batch)))
                return out
            held: set[Any] | None = None
            for m, rec in zip(batch, records, strict=True):
                if held is not None and m.group in held:
                    out.failed.append(m.message_id)
                    continue
                attempt = 0
                while True:
                    a = perf()
                    try:
                        await self.h.func(rec)
                        ok = True
                    except Exception as exc:
                        ok = False
                        if out.error is None:
                            out.error = _error_text(exc)
                    lat = perf() - a
                    out.work += lat
                    self.stats.add(lat)
                    if ok:
                        break
                    out.failed_attempts += 1
                    if attempt >= self.retry.retries:
                        out.failed.append(m.message_id)
                        if self.fifo:
                            if held is None:
                                held = set()
                            held.add(m.group)
                        break
                    await asyncio.sleep(self._backoff(attempt))
                    attempt += 1
                    out.retries += 1
            out.duration = perf() - t0
            return out


def run_live(
    messages: Iterator[Message],
    settings: QueueSettings,
    handler: Handler,
    *,
    fifo: bool,
    retry: RetryPolicy | None = None,
    time_scale: float = 1.0,
    seed: int | None = None,
    on_dlq: Callable[[Message], None] | None = None,
    on_success: Callable[[Message, float], None] | None = None,
    progress: ProgressSink | None = None,
) -> RunResult:
    retry = retry or RetryPolicy()
    progress = progress or NullProgress()
    n = settings.batch_size
    conc = settings.concurrency
    window = settings.batching_window * time_scale
    max_time = settings.max_time
    runner = _Runner(handler, fifo, retry, time_scale, seed)
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
    hist = DurationDigest()  # latencies in seconds; 1% relative error
    pending_lat: list[float] = []
    perf = time.perf_counter
    t0 = perf()

    def now() -> float:
        return perf() - t0

    totals = {"retries": 0, "failed_attempts": 0, "batches": 0, "failed": 0, "bugs": 0}
    batch_log: list[BatchOutcome] = []
    omitted = [0]
    last_ok = [0.0]
    overhead_sum = [0.0]

    def finish(bid: int, batch: list[Message], start: float, out: _Outcome) -> None:
        done_t = now()
        totals["batches"] += 1
        totals["retries"] += out.retries
        totals["failed_attempts"] += out.failed_attempts
        overhead_sum[0] += max(0.0, out.duration - out.work)
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
                        whole_batch_failed=bool(handler.batch and (out.bug or out.error)),
                        handler_bug=out.bug,
                        error=out.error,
                    )
                )
            else:
                omitted[0] += 1

    loop: asyncio.AbstractEventLoop | None = None
    loop_thread: threading.Thread | None = None
    pool: cf.ThreadPoolExecutor | None = None
    sem: asyncio.Semaphore | None = None
    inline = not handler.is_async and conc == 1
    if handler.is_async:
        loop = asyncio.new_event_loop()
        loop_thread = threading.Thread(
            target=loop.run_forever, name="perfkit-batch-loop", daemon=True
        )
        loop_thread.start()

        async def _make_sem() -> asyncio.Semaphore:
            return asyncio.Semaphore(conc)

        sem = asyncio.run_coroutine_threadsafe(_make_sem(), loop).result()
    elif not inline:
        pool = cf.ThreadPoolExecutor(max_workers=conc, thread_name_prefix="perfkit-batch")

    pending: dict[cf.Future[_Outcome], tuple[int, list[Message], float]] = {}

    def submit(bid: int, batch: list[Message]) -> None:
        start = now()
        if inline:
            finish(bid, batch, start, runner.run_sync(batch))
        elif loop is not None and sem is not None:
            fut = asyncio.run_coroutine_threadsafe(runner.run_async(batch, sem), loop)
            pending[fut] = (bid, batch, start)
        else:
            assert pool is not None
            pending[pool.submit(runner.run_sync, batch)] = (bid, batch, start)

    def idle(until: float | None) -> None:
        """Wait for a batch to finish (or until ``until``), then record what finished."""
        if pending:
            timeout = None if until is None else max(0.0, until - now())
            done, _ = cf.wait(list(pending), timeout=timeout, return_when=cf.FIRST_COMPLETED)
            for fut in done:
                bid, batch, start = pending.pop(fut)
                finish(bid, batch, start, fut.result())
        elif until is not None:
            time.sleep(max(0.0, until - now()))

    stopped = "drained"
    bid = 0
    progress.start("running handler", None)
    last_progress = 0
    try:
        while True:
            if max_time is not None and now() >= max_time:
                stopped = "time limit"
                break
            while len(pending) < conc:
                got = q.receive(now(), n, bid + 1)
                if not got:
                    break
                bid += 1
                if len(got) < n and window > 0:
                    wend = now() + window
                    while len(got) < n and now() < wend:
                        r = q.next_ready_time(now())
                        idle(wend if r is None or r > wend else r)
                        got.extend(q.receive(now(), n - len(got), bid))
                submit(bid, got)
                if q.admitted - last_progress >= 1000:
                    last_progress = q.admitted
                    progress.update(
                        completed=q.admitted, description=f"running handler ({q.admitted:,} read)"
                    )
            r = q.next_ready_time(now()) if len(pending) < conc else None
            if not pending and r is None:
                break
            if r is not None and max_time is not None:
                r = min(r, max_time)
            idle(r)
        while pending:
            idle(None)
    except KeyboardInterrupt:
        stopped = "interrupted"
        for fut in list(pending):
            fut.cancel()
        for fut in list(pending):
            if not fut.cancelled():
                try:
                    bid_, batch_, start_ = pending[fut]
                    finish(bid_, batch_, start_, fut.result())
                except (cf.CancelledError, KeyboardInterrupt):
                    pass
        pending.clear()
    finally:
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
        if loop is not None and loop_thread is not None:
            loop.call_soon_threadsafe(loop.stop)
            loop_thread.join(timeout=5)
            loop.close()
        progress.finish()
    elapsed = now()
    hist.add_many(pending_lat)
    in_flight, unread = q.remaining()
    cons = Conservation(
        messages_in=q.admitted + unread,
        succeeded=q.succeeded,
        dlq=q.dlq,
        in_flight=in_flight,
        never_read=unread,
    )
    st = runner.stats
    attempts = st.seen
    poison_attempts = q.dlq * settings.max_receive_count * (retry.retries + 1)
    transient = max(0, totals["failed_attempts"] - poison_attempts)
    fitted = {
        "sample_ms": [round(x * 1000, 4) for x in st.sample],
        "batch_overhead_ms": round(overhead_sum[0] / max(1, totals["batches"]) * 1000, 4),
        "failure_rate": round(transient / max(1, attempts - poison_attempts), 6),
        "poison_rate": round(q.dlq / max(1, cons.messages_in), 6),
        "attempts": attempts,
    }
    return RunResult(
        mode="live",
        settings=settings,
        fifo=fifo,
        handler=handler.spec,
        handler_kind=handler.kind,
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
    )
