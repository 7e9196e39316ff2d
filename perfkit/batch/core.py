"""The one entry point the CLI calls: :func:`run_batch` (one run or a sweep)."""

from __future__ import annotations

import contextlib
import itertools
import os
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import IO

from perfkit.batch.config import (
    MAX_FIFO_BATCH,
    LatencyModel,
    Mode,
    QueueSettings,
    RetryPolicy,
    RunResult,
    SweepResult,
)
from perfkit.batch.handlers import Handler, HandlerRef, handler_ref, load_handler
from perfkit.batch.inputs import InputSpec, Message, read_messages
from perfkit.batch.signals import StopSignals, deferred_signals
from perfkit.batch.sink import PostgresSink, SinkSettings
from perfkit.errors import InputError, UsageError
from perfkit.report.output import write_error
from perfkit.report.progress import NullProgress, ProgressSink

# a run stopped by Ctrl-C or SIGTERM (the CLI exits 130 / 143 after the partial report)
STOPPED_BY_SIGNAL = ("interrupted", "terminated")


@dataclass(frozen=True)
class BatchRequest:
    inputs: InputSpec
    mode: Mode = "simulate"
    handler: str | None = None
    batch_handler: str | None = None
    settings: QueueSettings = field(default_factory=QueueSettings)
    batch_sizes: tuple[int, ...] = (10,)
    concurrencies: tuple[int, ...] = (1,)
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    time_scale: float = 1.0
    seed: int | None = None
    model: LatencyModel = field(default_factory=LatencyModel)
    dlq_out: Path | None = None
    sink: SinkSettings | None = None
    target_p95: float | None = None
    plot: Path | None = None


def _peek_fifo(it: Iterator[Message]) -> tuple[bool, Iterator[Message]]:
    first = next(it, None)
    if first is None:
        return False, iter(())
    fifo = first.group is not None or bool(
        first.record and str(first.record.get("eventSourceARN", "")).endswith(".fifo")
    )
    return fifo, itertools.chain((first,), it)


class _DlqFile:
    """DLQ'd records, unchanged, one per line; renamed into place only when complete."""

    def __init__(self, path: Path) -> None:
        self.path = path
        directory = path.parent if str(path.parent) else Path(".")
        if not directory.is_dir():
            raise InputError(path, "output directory does not exist")
        self.tmp: str | None = None
        self.count = 0
        if path.exists() and not path.is_file():
            # /dev/null, a FIFO, a terminal: renaming over it would replace the device
            # itself (as root), so such a target is written in place
            try:
                self.fh: IO[str] = open(path, "w", encoding="utf-8")  # noqa: SIM115
            except OSError as exc:
                raise write_error(path, exc) from None
            return
        try:
            fd, self.tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
        except OSError as exc:
            raise write_error(path, exc) from None
        self.fh = os.fdopen(fd, "w", encoding="utf-8")

    def add(self, m: Message) -> None:
        self.fh.write(m.raw)
        self.fh.write("\n")
        self.count += 1

    def commit(self) -> None:
        if self.tmp is None:
            self.fh.close()
            return
        self.fh.flush()
        os.fsync(self.fh.fileno())
        self.fh.close()
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(self.tmp, 0o666 & ~umask)
        os.replace(self.tmp, self.path)

    def discard(self) -> None:
        with contextlib.suppress(OSError):
            self.fh.close()
        if self.tmp is not None:
            with contextlib.suppress(OSError):
                os.unlink(self.tmp)


def _load(req: BatchRequest) -> Handler | HandlerRef | None:
    """Live runs import the handler in their worker processes only (never in perfkit's);
    a simulation imports it here, to check that it exists."""
    if req.handler and req.batch_handler:
        raise UsageError("--batch-handler", "give either HANDLER or --batch-handler, not both")
    load = handler_ref if req.mode == "live" else load_handler
    if req.batch_handler:
        return load(req.batch_handler, batch=True, option="--batch-handler")
    if req.handler:
        return load(req.handler, batch=False, option="HANDLER")
    if req.mode == "live":
        raise UsageError(
            "HANDLER", "--mode live needs a handler (module:function or --batch-handler)"
        )
    return None


def run_once(
    req: BatchRequest,
    settings: QueueSettings,
    handler: Handler | HandlerRef | None,
    progress: ProgressSink,
    *,
    extras: bool = True,
    stop: StopSignals | None = None,
) -> RunResult:
    """One run at one batch size and concurrency."""
    source = read_messages(req.inputs)
    if stop is not None:
        source = stop.guard(source, stream=not req.inputs.rereadable)
    fifo, messages = _peek_fifo(source)
    if settings.fifo is not None:
        fifo = settings.fifo
    settings.check(fifo)
    dlq: _DlqFile | None = None
    sink: PostgresSink | None = None
    try:
        # a signal between creating the temporary file and ``dlq`` naming it would leave
        # the file behind: Ctrl-C / SIGTERM are held back until then
        with deferred_signals():
            dlq = _DlqFile(req.dlq_out) if extras and req.dlq_out else None
        sink = PostgresSink(req.sink, time.time()) if extras and req.sink else None
        on_success: Callable[[Message, float], None] | None = sink.add if sink else None
        if sink is not None:
            sink.open()
        if req.mode == "live":
            from perfkit.batch.live import run_live

            assert handler is not None
            result = run_live(
                messages,
                settings,
                handler,
                fifo=fifo,
                retry=req.retry,
                time_scale=req.time_scale,
                seed=req.seed,
                on_dlq=dlq.add if dlq else None,
                on_success=on_success,
                progress=progress,
                stop=stop,
            )
        else:
            from perfkit.batch.simulate import simulate

            result = simulate(
                messages,
                settings,
                req.model,
                fifo=fifo,
                retry=req.retry,
                seed=req.seed,
                handler=handler.spec if handler else "(model)",
                on_dlq=dlq.add if dlq else None,
                on_success=on_success,
                progress=progress,
            )
        sink_stats = sink.close() if sink is not None else None
        sink = None
        dlq_path = None
        if dlq is not None:
            if result.stopped in STOPPED_BY_SIGNAL:
                dlq.discard()  # an interrupted run writes no file that looks complete
            else:
                dlq.commit()
                dlq_path = str(req.dlq_out)
        return replace(result, dlq_out=dlq_path, sink=sink_stats)
    except BaseException:
        if dlq is not None:
            dlq.discard()
        if sink is not None:
            sink.abort()
        raise


def run_batch(req: BatchRequest, progress: ProgressSink | None = None) -> SweepResult:
    """Run the dump through the handler (live) or the model (simulate), once or as a sweep
    over every batch size x concurrency."""
    progress = progress or NullProgress()
    handler = _load(req)
    combos = list(itertools.product(req.batch_sizes, req.concurrencies))
    sweep = len(combos) > 1
    if sweep and not req.inputs.rereadable:
        raise UsageError(
            "--batch-size", "a sweep reads the input once per setting: stdin cannot be used"
        )
    if sweep and (req.dlq_out or req.sink):
        raise UsageError("--dlq-out" if req.dlq_out else "--sink", "not available with a sweep")
    runs: list[RunResult] = []
    notes: list[str] = []
    # live: Ctrl-C / SIGTERM from here on end with a partial report (the whole sweep)
    with StopSignals() if req.mode == "live" else contextlib.nullcontext() as stop:
        for bs, conc in combos:
            settings = replace(req.settings, batch_size=bs, concurrency=conc)
            if sweep and settings.fifo is not False and bs > MAX_FIFO_BATCH:
                fifo, _ = _peek_fifo(read_messages(replace(req.inputs, check_duplicates=False)))
                if fifo or settings.fifo:
                    notes.append(
                        f"batch size {bs} skipped: FIFO queues take at most {MAX_FIFO_BATCH}"
                    )
                    continue
            runs.append(run_once(req, settings, handler, progress, stop=stop))
            if runs[-1].stopped in STOPPED_BY_SIGNAL:
                if req.dlq_out:
                    notes.append(
                        f"--dlq-out {req.dlq_out}: not written, the run was {runs[-1].stopped}"
                    )
                if sweep:
                    notes.append(f"sweep {runs[-1].stopped}: the remaining settings were not run")
                break
    best = pick_best(runs, req.target_p95) if sweep else None
    plot = None
    if sweep and req.plot is not None:
        from perfkit.batch.plot import plot_sweep

        plot_sweep(runs, best, req.plot)
        plot = str(req.plot)
    return SweepResult(
        runs=tuple(runs), best=best, target_p95=req.target_p95, plot=plot, notes=tuple(notes)
    )


def pick_best(runs: list[RunResult], target_p95: float | None) -> int | None:
    """Highest throughput (ties: lower p95, then fewer resources); with ``target_p95``
    only settings whose p95 meets it qualify."""
    best: int | None = None
    for i, r in enumerate(runs):
        if target_p95 is not None and (r.latency_p95 is None or r.latency_p95 > target_p95):
            continue
        if best is None:
            best = i
            continue
        b = runs[best]
        key_r = (round(r.throughput, 6), -(r.latency_p95 or 0.0), -r.settings.concurrency)
        key_b = (round(b.throughput, 6), -(b.latency_p95 or 0.0), -b.settings.concurrency)
        if key_r > key_b:
            best = i
    return best
