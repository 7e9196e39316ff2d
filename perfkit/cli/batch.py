"""CLI for `perfkit batch`: SQS message dumps through a handler, live or simulated."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

from perfkit.cli.options import (
    ConnectTimeoutOpt,
    DsnOpt,
    FormatOpt,
    HtmlOpt,
    OutputFormat,
    OutputOpt,
    SeedOpt,
    StatementTimeoutOpt,
)


class BatchMode(str, Enum):
    live = "live"
    simulate = "simulate"


class Arrival(str, Enum):
    sent = "sent"
    backlog = "backlog"


class InputFormatOpt(str, Enum):
    auto = "auto"
    lambda_ = "lambda"
    receive = "receive"
    plain = "plain"


class SinkKind(str, Enum):
    postgres = "postgres"


def batch(
    ctx: typer.Context,
    inputs: Annotated[
        list[str],
        typer.Argument(
            help="Message dumps: Lambda SQS events, `aws sqs receive-message` output, JSON Lines "
            "of either, or plain bodies one per line; - for stdin.",
            show_default=False,
        ),
    ],
    mode: Annotated[
        BatchMode,
        typer.Option("--mode", help="live: run the real handler; simulate: a virtual-clock model."),
    ] = BatchMode.simulate,
    handler: Annotated[
        str | None,
        typer.Option(
            "--handler",
            help="module:function taking one record (sync or async).",
            show_default=False,
        ),
    ] = None,
    batch_handler: Annotated[
        str | None,
        typer.Option(
            "--batch-handler",
            help='module:function taking a Lambda (event, context) and returning {"batchItemFailures": [...]}.',
            show_default=False,
        ),
    ] = None,
    batch_size: Annotated[
        str, typer.Option("--batch-size", help="Records per invocation; a list (1,10,100) sweeps.")
    ] = "10",
    concurrency: Annotated[
        str, typer.Option("--concurrency", help="Invocations at once; a list (1,5,20) sweeps.")
    ] = "1",
    batching_window: Annotated[
        str,
        typer.Option(
            "--batching-window", help="Wait up to this long to fill a batch (e.g. 0, 500ms, 5s)."
        ),
    ] = "0",
    visibility_timeout: Annotated[
        str,
        typer.Option("--visibility-timeout", help="Until an undeleted message is visible again."),
    ] = "30s",
    max_receive_count: Annotated[
        int, typer.Option("--max-receive-count", help="Receives before a message goes to the DLQ.")
    ] = 3,
    fifo: Annotated[
        bool | None,
        typer.Option(
            "--fifo/--standard",
            help="Queue type (default: FIFO when messages carry MessageGroupId).",
            show_default=False,
        ),
    ] = None,
    arrival: Annotated[
        Arrival,
        typer.Option(
            "--arrival",
            help="sent: messages arrive at their SentTimestamp offsets; backlog: all at once.",
        ),
    ] = Arrival.sent,
    max_time: Annotated[
        str | None,
        typer.Option(
            "--max-time",
            help="Stop after this long (virtual time in simulate); the rest stays in flight.",
            show_default=False,
        ),
    ] = None,
    timeout: Annotated[
        str,
        typer.Option(
            "--timeout",
            help="Live: function timeout of one invocation (real time, not scaled); a batch "
            "that overruns it is killed and fails whole, as in Lambda.",
        ),
    ] = "3s",
    retries: Annotated[
        int,
        typer.Option(
            "--retries",
            min=0,
            help="Retries of a failing record inside one invocation (live and simulate).",
        ),
    ] = 0,
    backoff_base: Annotated[
        str, typer.Option("--backoff-base", help="Exponential backoff base (full jitter).")
    ] = "100ms",
    backoff_cap: Annotated[str, typer.Option("--backoff-cap", help="Backoff ceiling.")] = "5s",
    time_scale: Annotated[
        float,
        typer.Option(
            "--time-scale",
            min=0.0,
            help="Live: multiply perfkit's own waits (visibility, window, backoff, arrivals) by this.",
        ),
    ] = 1.0,
    latency_ms: Annotated[
        str,
        typer.Option(
            "--latency-ms",
            help="Simulate: per-record time: const:MS, uniform:LO,HI, lognormal:MEDIAN,P95, exp:MEAN.",
        ),
    ] = "lognormal:20,60",
    batch_overhead_ms: Annotated[
        float,
        typer.Option(
            "--batch-overhead-ms", min=0.0, help="Simulate: time added once per invocation."
        ),
    ] = 10.0,
    failure_rate: Annotated[
        str, typer.Option("--failure-rate", help="Simulate: chance one attempt fails (e.g. 2%).")
    ] = "0",
    poison_rate: Annotated[
        str, typer.Option("--poison-rate", help="Simulate: share of messages that always fail.")
    ] = "0",
    model: Annotated[
        Path | None,
        typer.Option(
            "--model",
            help="Simulate with the latency/failure model fitted by a previous live run's JSON report.",
            dir_okay=False,
            show_default=False,
        ),
    ] = None,
    target_p95: Annotated[
        str | None,
        typer.Option(
            "--target-p95",
            help="Sweep: best = highest throughput with p95 at or under this.",
            show_default=False,
        ),
    ] = None,
    plot: Annotated[
        Path | None,
        typer.Option(
            "--plot",
            help="Sweep: write throughput and p95 per setting to a .png or .svg.",
            dir_okay=False,
            show_default=False,
        ),
    ] = None,
    dlq_out: Annotated[
        Path | None,
        typer.Option(
            "--dlq-out",
            help="Write DLQ'd records, unchanged, one per line (atomically).",
            dir_okay=False,
            show_default=False,
        ),
    ] = None,
    sink: Annotated[
        SinkKind | None,
        typer.Option(
            "--sink",
            help="Write each processed message through BatchWriter with COPY.",
            show_default=False,
        ),
    ] = None,
    dsn: DsnOpt = None,
    table: Annotated[
        str | None,
        typer.Option("--table", help="Sink table (name or schema.name).", show_default=False),
    ] = None,
    create_table: Annotated[
        bool, typer.Option("--create-table", help="Create the sink table if it does not exist.")
    ] = False,
    sink_batch: Annotated[
        int, typer.Option("--sink-batch", min=1, help="BatchWriter max_items for the sink.")
    ] = 100,
    sink_max_wait: Annotated[
        str, typer.Option("--sink-max-wait", help="BatchWriter max_wait_s for the sink.")
    ] = "5s",
    input_format: Annotated[
        InputFormatOpt, typer.Option("--input-format", help="Input shape (auto detects per file).")
    ] = InputFormatOpt.auto,
    check_duplicates: Annotated[
        bool,
        typer.Option(
            "--check-duplicates/--no-check-duplicates", help="Reject duplicate message ids."
        ),
    ] = True,
    seed: SeedOpt = None,
    statement_timeout: StatementTimeoutOpt = "30s",
    connect_timeout: ConnectTimeoutOpt = 5.0,
    fmt: FormatOpt = OutputFormat.table,
    output: OutputOpt = None,
    html: HtmlOpt = None,
) -> None:
    """Replay an SQS message dump through a handler: batching, concurrency, retries,
    partial failures (batchItemFailures), DLQ; or sweep batch size x concurrency."""
    from perfkit.batch.config import (
        LatencyModel,
        QueueSettings,
        RetryPolicy,
        load_model,
        parse_latency,
    )
    from perfkit.batch.core import STOPPED_BY_SIGNAL, BatchRequest, run_batch
    from perfkit.batch.inputs import InputSpec
    from perfkit.batch.report import to_document
    from perfkit.batch.signals import Terminated
    from perfkit.batch.sink import SinkSettings
    from perfkit.cli.common import emit, progress
    from perfkit.errors import EXIT_INTERRUPTED, UsageError
    from perfkit.units import parse_duration, parse_list, parse_percent

    def dur(opt: str, text: str) -> float:
        try:
            return parse_duration(text)
        except ValueError as exc:
            raise UsageError(opt, str(exc)) from None

    def ints(opt: str, text: str) -> tuple[int, ...]:
        try:
            vals = tuple(parse_list(text, int))
        except ValueError:
            raise UsageError(opt, f"{text!r}: whole numbers expected (e.g. 1,10,100)") from None
        if any(v < 1 for v in vals):
            raise UsageError(opt, "values must be at least 1")
        return vals

    def pct(opt: str, text: str) -> float:
        try:
            v = parse_percent(text)
        except ValueError as exc:
            raise UsageError(opt, str(exc)) from None
        if not 0 <= v <= 1:
            raise UsageError(opt, "must be between 0 and 100%")
        return v

    if model is not None:
        lat_model = load_model(model)
    else:
        kind, params = parse_latency(latency_ms)
        lat_model = LatencyModel(
            kind=kind,
            params=params,
            batch_overhead=batch_overhead_ms / 1000.0,
            failure_rate=pct("--failure-rate", failure_rate),
            poison_rate=pct("--poison-rate", poison_rate),
        )
    sink_settings = None
    if sink is not None:
        if not table:
            raise UsageError("--table", "--sink postgres needs --table")
        sink_settings = SinkSettings(
            dsn=dsn,
            table=table,
            create_table=create_table,
            max_items=sink_batch,
            max_wait_s=dur("--sink-max-wait", sink_max_wait),
            statement_timeout=statement_timeout,
            connect_timeout=connect_timeout,
        )
    elif create_table or table:
        raise UsageError("--table" if table else "--create-table", "only with --sink postgres")
    req = BatchRequest(
        inputs=InputSpec(
            paths=tuple(inputs),
            input_format=input_format.value,
            check_duplicates=check_duplicates,
        ),
        mode=mode.value,
        handler=handler,
        batch_handler=batch_handler,
        settings=QueueSettings(
            batching_window=dur("--batching-window", batching_window),
            visibility_timeout=dur("--visibility-timeout", visibility_timeout),
            max_receive_count=max_receive_count,
            fifo=fifo,
            arrival_from_sent=arrival is Arrival.sent,
            max_time=dur("--max-time", max_time) if max_time else None,
            timeout=dur("--timeout", timeout),
        ),
        batch_sizes=ints("--batch-size", batch_size),
        concurrencies=ints("--concurrency", concurrency),
        retry=RetryPolicy(
            retries=retries,
            backoff_base=dur("--backoff-base", backoff_base),
            backoff_cap=dur("--backoff-cap", backoff_cap),
        ),
        time_scale=time_scale,
        seed=seed,
        model=lat_model,
        dlq_out=dlq_out,
        sink=sink_settings,
        target_p95=dur("--target-p95", target_p95) if target_p95 else None,
        plot=plot,
    )
    try:
        with _terminate_raises():
            result = run_batch(req, progress(ctx))
    except Terminated:
        typer.echo("perfkit: terminated", err=True)
        raise typer.Exit(EXIT_TERMINATED) from None
    emit(to_document(result), fmt, output, ctx=ctx, html=html)
    stopped = next((r.stopped for r in result.runs if r.stopped in STOPPED_BY_SIGNAL), None)
    if stopped is not None:
        typer.echo(f"perfkit: {stopped}: partial report above", err=True)
        raise typer.Exit(EXIT_INTERRUPTED if stopped == "interrupted" else EXIT_TERMINATED)


EXIT_TERMINATED = 128 + 15  # killed by SIGTERM, by the shell's convention


@contextmanager
def _terminate_raises() -> Iterator[None]:
    """SIGTERM outside the live loop (reading inputs, a simulation) raises Terminated (a
    KeyboardInterrupt), so temporary files are removed exactly as on Ctrl-C (the live loop
    handles both signals itself and ends with a partial report)."""
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        yield
        return

    from perfkit.batch.signals import Terminated

    def _raise(signum: int, frame: object) -> None:
        raise Terminated

    old = signal.signal(signal.SIGTERM, _raise)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, old)


def register(app: typer.Typer) -> None:
    """Add this module's commands to ``app``."""
    app.command("batch")(batch)
