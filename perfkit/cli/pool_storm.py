"""`perfkit pool --storm`: the options of `perfkit pool` read for a connection storm."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import typer

from perfkit.cli.common import emit, note, progress
from perfkit.cli.common import state as cli_state
from perfkit.cli.options import OutputFormat

#: `perfkit pool` options that mean nothing to a storm (its sessions only run SELECT 1)
SWEEP_ONLY = {
    "--requests": "requests",
    "--warmup": "warmup",
    "--query": "query",
    "--script": "script",
    "--allow-writes": "allow_writes",
    "--allow-side-effects": "allow_side_effects",
    "--async": "async_mode",
    "--no-fresh": "no_fresh",
    "--workers": "workers",
    "--seed": "seed",
}


def run_storm_command(
    ctx: typer.Context,
    *,
    dsn: str | None,
    compare_dsn: str | None,
    clients: str | None,
    pool_size: str | None,
    pool_min: int | None,
    duration: str | None,
    lambda_memory_mb: int | None,
    max_clients: int,
    allow_exhaust: bool,
    plot: Path | None,
    statement_timeout: str,
    lock_timeout: str,
    connect_timeout: float,
    fmt: OutputFormat,
    output: Path | None,
    html: Path | None,
    sweep_options: Sequence[str],
) -> None:
    """``None`` for an option means it was not typed: the storm's own default applies."""
    from perfkit.errors import ConnectionFailed, UsageError
    from perfkit.pool.report import check_plot_path
    from perfkit.pool.storm import StormOptions, run_storm
    from perfkit.pool.storm_report import to_document, write_plot
    from perfkit.units import parse_duration, parse_list

    if sweep_options:
        raise UsageError(sweep_options[0], "not used with --storm (a storm only connects)")
    levels = None
    if clients is not None:
        try:
            levels = tuple(parse_list(clients, int))
        except ValueError:
            raise UsageError(
                "--clients", f"{clients!r} is not a comma-separated list of integers"
            ) from None
    pool_max = None
    if pool_size is not None:
        try:
            sizes = parse_list(pool_size, int)
        except ValueError:
            raise UsageError("--pool-size", f"{pool_size!r} is not an integer") from None
        if len(sizes) != 1:
            raise UsageError("--pool-size", "give one pool size per instance with --storm")
        pool_max = sizes[0]
    hold_s = 1.0
    if duration is not None:
        try:
            hold_s = parse_duration(duration)
        except ValueError as exc:
            raise UsageError("--duration", str(exc)) from None
    if plot is not None:
        check_plot_path(plot)
    options = StormOptions(
        levels=levels,
        memory_mb=lambda_memory_mb,
        pool_max=pool_max,
        pool_min=pool_min,
        max_clients=max_clients,
        hold_s=hold_s,
        allow_exhaust=allow_exhaust,
        statement_timeout=statement_timeout,
        lock_timeout=lock_timeout,
        connect_timeout=connect_timeout,
    )
    result = run_storm(
        dsn,
        compare_dsn=compare_dsn,
        options=options,
        config=cli_state(ctx).config.data,
        progress=progress(ctx),
    )
    emit(to_document(result), fmt, output, ctx=ctx, html=html)
    if plot is not None and result.results:
        write_plot(result, plot)
        note(f"wrote {plot}", ctx)
    if result.status == "interrupted":
        typer.echo("perfkit: interrupted: partial report above", err=True)
        raise typer.Exit(130)
    if result.status == "failed":
        raise ConnectionFailed("pool --storm", f"storm failed: {result.error}")
