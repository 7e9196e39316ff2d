"""CLI for `perfkit replay`: replay a query log against a database, without and with a cache."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from perfkit.cli.common import emit, progress
from perfkit.cli.common import state as cli_state
from perfkit.cli.options import (
    ConnectTimeoutOpt,
    DsnOpt,
    FormatOpt,
    HtmlOpt,
    OutputFormat,
    OutputOpt,
    StatementTimeoutOpt,
)


def _speed(text: str) -> float:
    from perfkit.errors import UsageError

    t = text.strip().lower().removesuffix("x")
    try:
        value = float(t)
    except ValueError:
        raise UsageError("--speed", f"{text!r} is not a speed like 1x, 10x or 0.5x") from None
    if not value > 0 or value == float("inf"):
        raise UsageError("--speed", "must be more than 0")
    return value


def replay_cmd(
    ctx: typer.Context,
    logs: Annotated[
        list[str],
        typer.Argument(
            help="Query logs (any format analyze reads; '-' for stdin).",
            metavar="LOG...",
            show_default=False,
        ),
    ],
    dsn: DsnOpt = None,
    speed: Annotated[
        str, typer.Option("--speed", help="Pace relative to the log: 1x, 10x, 0.5x.")
    ] = "1x",
    as_fast_as_possible: Annotated[
        bool,
        typer.Option("--as-fast-as-possible", help="Ignore the log's timing: send at once."),
    ] = False,
    sessions: Annotated[
        int,
        typer.Option(
            "--sessions",
            min=1,
            help="Connections (concurrency). Each original session is pinned to one.",
        ),
    ] = 4,
    ttl: Annotated[
        str, typer.Option("--ttl", help="Cache TTL for the cached run (log time), e.g. 60s.")
    ] = "60s",
    cache_entries: Annotated[
        int, typer.Option("--cache-entries", min=1, help="Cache bound: entries (LRU).")
    ] = 10_000,
    cache_bytes: Annotated[
        str, typer.Option("--cache-bytes", help="Cache bound: result bytes (LRU), e.g. 64MiB.")
    ] = "64MiB",
    runs: Annotated[
        str,
        typer.Option("--runs", help="both (without then with the cache), direct, or cached."),
    ] = "both",
    allow_writes: Annotated[
        bool,
        typer.Option(
            "--allow-writes",
            help="Replay writes too (default: skipped and counted). Use a scratch copy.",
        ),
    ] = False,
    allow_side_effects: Annotated[
        list[str] | None,
        typer.Option(
            "--allow-side-effects",
            help="Replay statements with these effects a rollback cannot undo (categories "
            "such as sequences,advisory-locks or function names; see docs/safety.md).",
            show_default=False,
        ),
    ] = None,
    i_know_this_writes: Annotated[
        bool,
        typer.Option(
            "--i-know-this-writes",
            help="Confirm --allow-writes against a target that is not the embedded database.",
        ),
    ] = False,
    max_errors: Annotated[
        int | None,
        typer.Option(
            "--max-errors",
            min=1,
            help="Stop a run after this many failed statements.",
            show_default=False,
        ),
    ] = None,
    limit: Annotated[
        int | None,
        typer.Option(
            "--limit",
            min=1,
            help="Replay at most this many statements per run.",
            show_default=False,
        ),
    ] = None,
    database: Annotated[
        str | None,
        typer.Option(
            "--database",
            help="Replay only the statements logged for this database (default: all).",
            show_default=False,
        ),
    ] = None,
    prepare_threshold: Annotated[
        int,
        typer.Option(
            "--prepare-threshold",
            min=0,
            help="Prepare a parameterised statement after this many executions of its "
            "fingerprint (0 = never).",
        ),
    ] = 5,
    log_format: Annotated[
        str | None,
        typer.Option(
            "--log-format", help="Force the log format (default: detected).", show_default=False
        ),
    ] = None,
    prefix: Annotated[
        str | None,
        typer.Option(
            "--prefix",
            help="log_line_prefix of stderr logs (default: inferred).",
            show_default=False,
        ),
    ] = None,
    top: Annotated[
        int, typer.Option("--top", min=0, help="Fingerprints shown in the table (0 = all).")
    ] = 20,
    statement_timeout: StatementTimeoutOpt = "30s",
    connect_timeout: ConnectTimeoutOpt = 5.0,
    fmt: FormatOpt = OutputFormat.table,
    output: OutputOpt = None,
    html: HtmlOpt = None,
) -> None:
    """Replay a query log against a database, without and with a query cache, and measure it.

    Each original session keeps its order on its own connection; read-only unless
    --allow-writes. Reports latency per fingerprint (p50/p95/p99), throughput, the cache's
    hit rate and time saved, and how far analyze's simulation was from the measurement.
    """
    from perfkit.db.connect import session_defaults
    from perfkit.db.guard import parse_effect_flags
    from perfkit.db.target import resolve_target
    from perfkit.errors import FindingError, UnsafeOperation, UsageError
    from perfkit.replay.engine import replay
    from perfkit.replay.model import ReplayOptions
    from perfkit.replay.report import to_document
    from perfkit.units import parse_duration, parse_size

    config = cli_state(ctx).config
    if runs not in ("both", "direct", "cached"):
        raise UsageError("--runs", f"{runs!r}: one of both, direct, cached")
    try:
        ttl_s = parse_duration(ttl)
    except ValueError as exc:
        raise UsageError("--ttl", str(exc)) from None
    if ttl_s <= 0:
        raise UsageError("--ttl", "must be more than 0")
    try:
        max_bytes = parse_size(cache_bytes)
    except ValueError as exc:
        raise UsageError("--cache-bytes", str(exc)) from None
    pace = None if as_fast_as_possible else _speed(speed)
    target = resolve_target(dsn, config.data)
    if allow_writes and not target.embedded and not i_know_this_writes:
        raise UnsafeOperation(
            f"--allow-writes: the replay would write to {target.masked}, which is not the "
            "embedded database",
            hint="replay writes against a scratch copy; add --i-know-this-writes to confirm",
        )
    db_defaults = session_defaults(config.data, path=str(config.path or "perfkit.toml"))

    def given(name: str) -> bool:
        src = ctx.get_parameter_source(name)
        return src is not None and src.name != "DEFAULT"

    if not given("connect_timeout"):
        connect_timeout = db_defaults.connect_timeout
    if not given("statement_timeout"):
        statement_timeout = db_defaults.statement_timeout
    try:
        parse_duration(statement_timeout)
    except ValueError as exc:
        raise UsageError("--statement-timeout", str(exc)) from None
    options = ReplayOptions(
        speed=pace,
        sessions=sessions,
        ttl=ttl_s,
        cache_entries=cache_entries,
        cache_bytes=max_bytes,
        allow_writes=allow_writes,
        allow_effects=parse_effect_flags(allow_side_effects or ()),
        max_errors=max_errors,
        runs=runs,  # type: ignore[arg-type]  # checked above
        statement_timeout=statement_timeout,
        connect_timeout=connect_timeout,
        lock_timeout=db_defaults.lock_timeout,
        prepare_threshold=prepare_threshold or None,
        limit=limit,
        database=database,
    )
    import gc

    # Long-lived module objects (sqlglot, pglast, psycopg) out of the collector's full
    # scans: fewer pauses in the middle of the measured statements.
    gc.collect()
    gc.freeze()
    try:
        result = replay(
            [Path(p) if p != "-" else p for p in logs],
            target,
            options,
            log_format=log_format,
            prefix=prefix,
            progress=progress(ctx),
        )
    finally:
        gc.unfreeze()
    emit(to_document(result, top=top), fmt, output, ctx=ctx, html=html)
    if result.interrupted:
        typer.echo("perfkit: interrupted: partial report above", err=True)
        raise typer.Exit(130)
    stopped = [r.stopped for r in result.runs if r.stopped]
    if stopped:
        raise FindingError(f"replay {stopped[0]}")


def register(app: typer.Typer) -> None:
    """Add this module's commands to ``app``."""
    app.command("replay")(replay_cmd)
