"""``--mode simulate``: a discrete-event simulation of the queue and its consumers on a
virtual clock. One heap event per batch completion; per-record work is a few float
operations on pre-drawn latencies, so a million messages take seconds."""

from __future__ import annotations

import heapq
import math
import random
from collections.abc import Callable, Iterator
from typing import Any

from perfkit.batch.config import (
    BatchOutcome,
    Conservation,
    LatencyModel,
    QueueSettings,
    RetryPolicy,
    RunResult,
)
from perfkit.batch.inputs import Message
from perfkit.batch.queue import SqsQueue
from perfkit.querylog.stats import DurationDigest
from perfkit.report.progress import NullProgress, ProgressSink

_CHUNK = 1 << 15
MAX_BATCH_LOG = 1000


def simulate(
    messages: Iterator[Message],
    settings: QueueSettings,
    model: LatencyModel,
    *,
    fifo: bool,
    retry: RetryPolicy | None = None,
    seed: int | None = None,
    handler: str = "(model)",
    on_dlq: Callable[[Message], None] | None = None,
    on_success: Callable[[Message, float], None] | None = None,
    progress: ProgressSink | None = None,
) -> RunResult:
    import numpy as np

    retry = retry or RetryPolicy()
    progress = progress or NullProgress()
    gen = np.random.default_rng(seed)
    rng = random.Random(seed)
    n = settings.batch_size
    conc = settings.concurrency
    window = settings.batching_window
    max_time = settings.max_time if settings.max_time is not None else math.inf
    overhead = model.batch_overhead
    fail_rate = model.failure_rate
    poison_rate = model.poison_rate
    retries = retry.retries

    q = SqsQueue(
        messages,
        fifo=fifo,
        visibility_timeout=settings.visibility_timeout,
        max_receive_count=settings.max_receive_count,
        lookahead=settings.lookahead if fifo else max(256, n * conc * 2),
        arrival_from_sent=settings.arrival_from_sent,
        on_dlq=on_dlq,
    )
    hist = DurationDigest()  # latencies in seconds; 1% relative error
    pending_lat: list[float] = []
    lats: list[float] = []
    li = 0
    unif: list[float] = []
    ui = 0
    record_retries = failed_attempts = batches = batches_failed = 0
    batch_log: list[BatchOutcome] = []
    omitted = 0
    comp: list[tuple[float, int, list[Message], set[str] | None, float]] = []
    collectors: list[list[Any]] = []
    running = 0
    bid = 0
    t = 0.0
    end = 0.0
    last_ok = 0.0
    stopped = "drained"
    progress.start("simulating", None)
    next_progress = 10_000

    while True:
        # -- start batches at time t ------------------------------------------------------
        starts: list[tuple[int, list[Message]]] = []
        if collectors:
            for c in list(collectors):
                need = n - len(c[1])
                if need > 0:
                    c[1].extend(q.receive(t, need, c[0]))
                if len(c[1]) >= n or t >= c[2]:
                    collectors.remove(c)
                    starts.append((c[0], c[1]))
        while running + len(starts) + len(collectors) < conc:
            got = q.receive(t, n, bid + 1)
            if not got:
                break
            bid += 1
            if len(got) < n and window > 0:
                collectors.append([bid, got, t + window])
            else:
                starts.append((bid, got))
        for b, batch in starts:
            running += 1
            batches += 1
            dur = overhead
            failed: set[str] | None = None
            held_groups: set[Any] | None = None
            k = len(batch)
            has_poison = False
            if poison_rate:
                if ui + k > len(unif):
                    unif = unif[ui:] + gen.random(_CHUNK).tolist()
                    ui = 0
                for m in batch:
                    if m.receive_count == 1:
                        # a message's poison-ness is drawn once, at its first delivery
                        m.poison = unif[ui] < poison_rate
                        ui += 1
                    if m.poison:
                        has_poison = True
            if not has_poison:
                # Fast path: the whole batch succeeds at the first attempt. It reads the
                # same draws, in the same order, as the record-by-record path below.
                if li + k > len(lats):
                    lats = lats[li:] + model.draw(gen, _CHUNK).tolist()
                    li = 0
                ok = True
                if fail_rate:
                    if ui + k > len(unif):
                        unif = unif[ui:] + gen.random(_CHUNK).tolist()
                        ui = 0
                    ok = min(unif[ui : ui + k]) >= fail_rate
                if ok:
                    dur += sum(lats[li : li + k])
                    li += k
                    if fail_rate:
                        ui += k
                    heapq.heappush(comp, (t + dur, b, batch, None, t))
                    continue
            for m in batch:
                if held_groups is not None and m.group in held_groups:
                    failed.add(m.message_id)  # type: ignore[union-attr]
                    continue
                attempt = 0
                while True:
                    if li >= len(lats):
                        lats = model.draw(gen, _CHUNK).tolist()
                        li = 0
                    dur += lats[li]
                    li += 1
                    if not m.poison:
                        if not fail_rate:
                            break
                        if ui >= len(unif):
                            unif = gen.random(_CHUNK).tolist()
                            ui = 0
                        u = unif[ui]
                        ui += 1
                        if u >= fail_rate:
                            break
                    failed_attempts += 1
                    if attempt >= retries:
                        if failed is None:
                            failed = set()
                        failed.add(m.message_id)
                        if fifo:
                            if held_groups is None:
                                held_groups = set()
                            held_groups.add(m.group)
                        break
                    dur += retry.delay(attempt, rng.random())
                    attempt += 1
                    record_retries += 1
            heapq.heappush(comp, (t + dur, b, batch, failed, t))

        # -- advance the clock -------------------------------------------------------------
        nt = comp[0][0] if comp else math.inf
        for c in collectors:
            if c[2] < nt:
                nt = c[2]
        if running + len(collectors) < conc or any(len(c[1]) < n for c in collectors):
            r = q.next_ready_time(t)
            if r is not None and t < r < nt:
                nt = r
        if nt == math.inf:
            break
        if nt > max_time:
            stopped = "time limit"
            end = max_time
            break
        t = nt
        while comp and comp[0][0] <= t:
            done_t, b, batch, failed, start = heapq.heappop(comp)
            running -= 1
            end = done_t
            newly = q.complete(batch, b, failed)
            if newly:
                last_ok = done_t
                pending_lat.extend([done_t - m.arrival for m in newly])
                if on_success is not None:
                    for m in newly:
                        on_success(m, done_t)
            if len(pending_lat) >= _CHUNK:
                hist.add_many(pending_lat)
                pending_lat.clear()
            if failed:
                batches_failed += 1
                if len(batch_log) < MAX_BATCH_LOG:
                    batch_log.append(
                        BatchOutcome(
                            batch=b,
                            start=start,
                            duration=done_t - start,
                            message_ids=tuple(m.message_id for m in batch),
                            failures=tuple(m.message_id for m in batch if m.message_id in failed),
                        )
                    )
                else:
                    omitted += 1
        if q.admitted >= next_progress:
            progress.update(completed=q.admitted, description=f"simulating ({q.admitted:,} read)")
            next_progress = q.admitted + 10_000

    hist.add_many(pending_lat)
    progress.finish()
    cons = Conservation.of(q)
    return RunResult(
        mode="simulate",
        settings=settings,
        fifo=fifo,
        handler=handler,
        handler_kind="model",
        conservation=cons,
        deliveries=q.deliveries,
        retried=q.redelivered,
        duplicate_deliveries=q.duplicate_deliveries,
        duplicate_processed=q.duplicate_processed,
        record_retries=record_retries,
        failed_attempts=failed_attempts,
        batches=batches,
        batches_with_failures=batches_failed,
        handler_bugs=0,
        elapsed=end,
        latency_from="SentTimestamp" if q.used_sent_timestamp else "run start",
        latency_p50=hist.quantile(0.5),
        latency_p95=hist.quantile(0.95),
        latency_p99=hist.quantile(0.99),
        batch_log=tuple(batch_log),
        batch_log_omitted=omitted,
        stopped=stopped,
        seed=seed,
        model=model,
        last_success=last_ok,
    )
