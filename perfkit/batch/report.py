"""Turning a batch run or sweep into a :class:`Document` (pure)."""

from __future__ import annotations

from typing import Any

from perfkit.batch.config import RunResult, SweepResult
from perfkit.report.model import Column, Document, Table

SCHEMA_VERSION = 1


def _ms(x: float | None) -> float | None:
    return None if x is None else round(x * 1000, 3)


def run_json(r: RunResult) -> dict[str, Any]:
    c = r.conservation
    s = r.settings
    return {
        "mode": r.mode,
        "handler": r.handler,
        "handler_kind": r.handler_kind,
        "fifo": r.fifo,
        "settings": {
            "batch_size": s.batch_size,
            "concurrency": s.concurrency,
            "batching_window_s": s.batching_window,
            "visibility_timeout_s": s.visibility_timeout,
            "max_receive_count": s.max_receive_count,
            "max_time_s": s.max_time,
            "timeout_s": s.timeout if r.mode == "live" else None,
            "time_scale": r.time_scale,
            "seed": r.seed,
        },
        "messages_in": c.messages_in,
        "succeeded": c.succeeded,
        "dlq": c.dlq,
        "in_flight": c.in_flight + c.never_read,
        "never_read": c.never_read,
        "conservation_ok": c.ok,
        "conservation": c.line(),
        "retried": r.retried,
        "deliveries": r.deliveries,
        "duplicate_deliveries": r.duplicate_deliveries,
        "duplicate_processed": r.duplicate_processed,
        "record_retries": r.record_retries,
        "failed_attempts": r.failed_attempts,
        "batches": r.batches,
        "batches_with_failures": r.batches_with_failures,
        "handler_bugs": r.handler_bugs,
        "elapsed_s": round(r.elapsed, 6),
        "throughput_per_s": round(r.throughput, 3),
        "latency_from": r.latency_from,
        "latency_ms": {
            "p50": _ms(r.latency_p50),
            "p95": _ms(r.latency_p95),
            "p99": _ms(r.latency_p99),
        },
        "stopped": r.stopped,
        "complete": not r.partial,
        "input_read_to_end": not r.input_cut,
        "accounting": c.to_json(),
        "invocation_failures": r.invocation_failures,
        "timeouts": r.timeouts,
        "cold_starts": r.cold_starts,
        "init_s": round(r.init_s, 6),
        "batch_failures": [b.to_json() for b in r.batch_log],
        "batch_failures_omitted": r.batch_log_omitted,
        "model": r.model.to_json() if r.model else None,
        "fitted_model": dict(r.fitted_model) if r.fitted_model else None,
        "dlq_out": r.dlq_out,
        "sink": dict(r.sink) if r.sink else None,
    }


def _fmt_ms(x: float | None) -> str:
    return "" if x is None else f"{x * 1000:.1f}"


def to_document(res: SweepResult) -> Document:
    if len(res.runs) == 1:
        return _single(res.runs[0], res)
    return _sweep(res)


def _single(r: RunResult, res: SweepResult) -> Document:
    c = r.conservation
    s = r.settings
    rows: list[list[Any]] = [
        ["messages in", c.messages_in],
        ["succeeded", c.succeeded],
        ["sent to DLQ", c.dlq],
        ["still in flight", c.in_flight + c.never_read],
    ]
    if r.partial:
        rows += [
            ["delivered (at least once)", c.delivered],
            ["being processed when stopped", c.in_progress],
            ["returned to the queue (failed, not yet retried)", c.returned],
            ["never delivered", c.never_delivered],
        ]
    rows += [
        ["retried (delivered again)", r.retried],
        ["duplicate deliveries", r.duplicate_deliveries],
        ["retries inside the handler", r.record_retries],
        ["batches", r.batches],
        ["batches with failures", r.batches_with_failures],
        ["handler bugs (whole batch failed)", r.handler_bugs],
    ]
    if r.mode == "live":
        rows += [
            ["invocations failed whole (timeout, crash, exit)", r.invocation_failures],
            [f"invocations timed out (--timeout {s.timeout:g}s)", r.timeouts],
            ["workers replaced (cold starts)", r.cold_starts],
            ["worker start-up (s, not in elapsed)", f"{r.init_s:.3f}"],
        ]
    rows += [
        ["elapsed (s)" + (" virtual" if r.mode == "simulate" else ""), f"{r.elapsed:.3f}"],
        ["throughput (msg/s)", f"{r.throughput:.1f}"],
        [f"latency p50 (ms, from {r.latency_from})", _fmt_ms(r.latency_p50)],
        ["latency p95 (ms)", _fmt_ms(r.latency_p95)],
        ["latency p99 (ms)", _fmt_ms(r.latency_p99)],
    ]
    tables = [
        Table(
            name="summary",
            title="Run",
            columns=[Column("metric", "metric"), Column("value", "value", align="right")],
            rows=rows,
        )
    ]
    if r.batch_log:
        tables.append(
            Table(
                name="batch_failures",
                title="Batches with failures (batchItemFailures)",
                columns=[
                    Column("batch", "batch", align="right"),
                    Column("size", "size", align="right"),
                    Column("failures", "batchItemFailures"),
                    Column("problem", "problem"),
                ],
                rows=[
                    [
                        b.batch,
                        len(b.message_ids),
                        ", ".join(b.failures[:5])
                        + (f" (+{len(b.failures) - 5})" if len(b.failures) > 5 else ""),
                        (b.handler_bug and f"handler bug: {b.handler_bug}") or b.error or "",
                    ]
                    for b in r.batch_log[:50]
                ],
                row_styles=["bad" if b.handler_bug else "warn" for b in r.batch_log[:50]],
            )
        )
    if r.sink:
        sk = r.sink
        tables.append(
            Table(
                name="sink",
                title=f"Sink: {sk['table']}",
                columns=[
                    Column("method", "method"),
                    Column("rows", "rows", align="right"),
                    Column("round_trips", "round trips", align="right"),
                    Column("seconds", "seconds", align="right", fmt="{:.4f}"),
                ],
                rows=[
                    [
                        "COPY via BatchWriter",
                        sk["rows"],
                        sk["copy_round_trips"],
                        sk["copy_seconds"],
                    ],
                    [
                        "row-by-row INSERT (rolled back)",
                        sk["rows"],
                        sk["row_by_row_round_trips"],
                        sk["row_by_row_seconds"],
                    ]
                    if sk.get("row_by_row_round_trips") is not None
                    else ["row-by-row INSERT", None, None, None],
                ],
            )
        )
    summary = [
        f"{r.mode}: {r.handler} ({r.handler_kind}), {'FIFO' if r.fifo else 'standard'} queue, "
        f"batch size {s.batch_size}, concurrency {s.concurrency}, visibility timeout "
        f"{s.visibility_timeout:g}s, max receive count {s.max_receive_count}",
        f"conservation: {c.line()}",
    ]
    if r.model is not None and r.mode == "simulate":
        summary.append(
            f"model: latency {r.model.describe()}, batch overhead {r.model.batch_overhead * 1000:g} ms, "
            f"failure rate {r.model.failure_rate:g}, poison rate {r.model.poison_rate:g}"
        )
    if r.mode == "live" and r.time_scale != 1.0:
        summary.append(f"perfkit's own waits scaled by {r.time_scale:g} (--time-scale)")
    if r.dlq_out:
        summary.append(f"DLQ: {c.dlq} message(s) written unchanged to {r.dlq_out}")
    warnings = list(res.notes)
    if r.handler_bugs:
        warnings.append(
            f"{r.handler_bugs} batch(es) failed whole because the handler's batchItemFailures response "
            "was invalid (Lambda retries every record of such a batch)"
        )
    if r.partial:
        warnings.append(
            f"PARTIAL RESULT: stopped early ({r.stopped}): {c.unfinished} of {c.messages_in} "
            f"message(s) not finished. Of {c.messages_in}: {c.delivered} delivered, "
            f"{c.succeeded} succeeded, {c.dlq + c.returned} failed ({c.dlq} to the DLQ, "
            f"{c.returned} returned to the queue), {c.in_progress} in flight (being processed), "
            f"{c.never_delivered} never delivered"
        )
    if r.input_cut:
        warnings.append(
            f"the input was not read to its end ({r.stopped} while reading it): messages after "
            f"that point are not counted in the {c.messages_in} in"
        )
    elif c.messages_in == 0:
        warnings.append("EMPTY RESULT: the input held no messages, so nothing was run")
    if r.timeouts:
        warnings.append(
            f"{r.timeouts} invocation(s) ran past the function timeout ({s.timeout:g}s) and were "
            "killed: every message of such a batch comes back after the visibility timeout"
        )
    if r.batch_log_omitted:
        warnings.append(f"{r.batch_log_omitted} more failed batch(es) not listed")
    if r.duplicate_deliveries:
        s = r.settings
        warnings.append(
            f"{r.duplicate_deliveries} message(s) were delivered again while a copy was still "
            f"being processed or batched: the visibility timeout ({s.visibility_timeout:g}s) "
            "is shorter than the batching window plus the batch's run time"
            + ("; a FIFO group's order is then no longer guaranteed" if r.fifo else "")
        )
    if not c.ok:
        warnings.append("message counts do not add up: " + c.line())
    verdict = (
        f"{c.succeeded} of {c.messages_in} succeeded, {c.dlq} to the DLQ, "
        f"{r.throughput:.1f} msg/s, p95 {_fmt_ms(r.latency_p95) or '-'} ms"
    )
    if r.partial:
        verdict = f"PARTIAL ({r.stopped}): {verdict}, {c.unfinished} not finished"
    elif c.messages_in == 0 and not r.input_cut:
        verdict = "EMPTY: no messages in the input"
    return Document(
        kind="batch",
        schema_version=SCHEMA_VERSION,
        data={"sweep": False, "run": run_json(r)},
        tables=tables,
        title="perfkit batch",
        summary=summary,
        verdict=verdict,
        warnings=warnings,
    )


def _sweep(res: SweepResult) -> Document:
    rows = []
    styles: list[Any] = []
    for i, r in enumerate(res.runs):
        c = r.conservation
        rows.append(
            [
                r.settings.batch_size,
                r.settings.concurrency,
                round(r.throughput, 1),
                _ms(r.latency_p50),
                _ms(r.latency_p95),
                _ms(r.latency_p99),
                c.succeeded,
                c.dlq,
                r.retried,
                r.duplicate_deliveries,
                "yes" if i == res.best else "",
            ]
        )
        styles.append("good" if i == res.best else "")
    table = Table(
        name="sweep",
        title="Sweep",
        columns=[
            Column("batch_size", "batch", align="right"),
            Column("concurrency", "conc", align="right"),
            Column("throughput", "msg/s", align="right", fmt="{:.1f}"),
            Column("p50_ms", "p50 ms", align="right", fmt="{:.1f}"),
            Column("p95_ms", "p95 ms", align="right", fmt="{:.1f}"),
            Column("p99_ms", "p99 ms", align="right", fmt="{:.1f}"),
            Column("succeeded", "ok", align="right"),
            Column("dlq", "DLQ", align="right"),
            Column("retried", "retried", align="right"),
            Column("duplicates", "dups", align="right"),
            Column("best", "best"),
        ],
        rows=rows,
        row_styles=styles,
    )
    best = res.runs[res.best] if res.best is not None else None
    if best is not None:
        verdict = (
            f"best: batch size {best.settings.batch_size}, concurrency {best.settings.concurrency} "
            f"({best.throughput:.1f} msg/s, p95 {_fmt_ms(best.latency_p95)} ms)"
        )
    else:
        verdict = "no setting meets the p95 target" if res.target_p95 is not None else ""
    if any(r.partial for r in res.runs):
        verdict = f"PARTIAL sweep: {verdict}" if verdict else "PARTIAL sweep"
    first = res.runs[0] if res.runs else None
    summary = []
    if first is not None:
        summary.append(
            f"{first.mode} sweep over {len(res.runs)} settings, {first.conservation.messages_in} messages, "
            f"{'FIFO' if first.fifo else 'standard'} queue"
        )
    if res.target_p95 is not None:
        summary.append(f"best = highest throughput with p95 <= {res.target_p95 * 1000:g} ms")
    else:
        summary.append("best = highest throughput (ties: lower p95, then lower concurrency)")
    if res.plot:
        summary.append(f"plot written to {res.plot}")
    warnings = list(res.notes)
    warnings += [
        f"batch {r.settings.batch_size} x {r.settings.concurrency}: PARTIAL ({r.stopped}), "
        f"{r.conservation.unfinished} message(s) not finished"
        for r in res.runs
        if r.partial
    ]
    if res.runs and all(r.conservation.messages_in == 0 for r in res.runs):
        warnings.append("EMPTY RESULT: the input held no messages, so nothing was run")
    warnings += [
        f"batch {r.settings.batch_size} x {r.settings.concurrency}: counts do not add up"
        for r in res.runs
        if not r.conservation.ok
    ]
    return Document(
        kind="batch",
        schema_version=SCHEMA_VERSION,
        data={
            "sweep": True,
            "best": None
            if best is None
            else {"batch_size": best.settings.batch_size, "concurrency": best.settings.concurrency},
            "target_p95_ms": _ms(res.target_p95),
            "plot": res.plot,
            "runs": [run_json(r) for r in res.runs],
        },
        tables=[table],
        title="perfkit batch sweep",
        summary=summary,
        verdict=verdict,
        warnings=warnings,
    )
