"""CLI for `perfkit pool`: fresh connections vs a pool, and how big the pool should be."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from perfkit.cli.common import emit, note, progress
from perfkit.cli.common import state as cli_state
from perfkit.cli.options import (
    FIXED_SEED_HELP,
    ConnectTimeoutOpt,
    DsnOpt,
    FormatOpt,
    HtmlOpt,
    OutputFormat,
    OutputOpt,
    StatementTimeoutOpt,
)


def pool_cmd(
    ctx: typer.Context,
    dsn: DsnOpt = None,
    compare_dsn: Annotated[
        str | None,
        typer.Option(
            "--compare-dsn",
            help="A second endpoint measured in the same run (e.g. PgBouncer in front of the "
            "same server).",
            show_default=False,
        ),
    ] = None,
    clients: Annotated[
        str, typer.Option("--clients", help="Concurrent clients to sweep, comma-separated.")
    ] = "1,4,16,64",
    pool_size: Annotated[
        str, typer.Option("--pool-size", help="Pool sizes to sweep, comma-separated.")
    ] = "2,5,10",
    duration: Annotated[
        str, typer.Option("--duration", help="Measured time per point (e.g. 10s, 500ms).")
    ] = "10s",
    requests: Annotated[
        int | None,
        typer.Option(
            "--requests",
            help="Measure a fixed number of requests per point instead of --duration.",
            show_default=False,
        ),
    ] = None,
    warmup: Annotated[
        str,
        typer.Option(
            "--warmup",
            help="Warm-up per point, excluded from figures: a duration (1s) or a number of "
            "requests per client (50).",
        ),
    ] = "1s",
    query: Annotated[
        str | None,
        typer.Option(
            "--query", help="SQL run per request (default: SELECT 1).", show_default=False
        ),
    ] = None,
    script: Annotated[
        Path | None,
        typer.Option(
            "--script",
            help="pgbench-style script run per request (\\set x random(1, 100000), :x).",
            dir_okay=False,
            show_default=False,
        ),
    ] = None,
    allow_writes: Annotated[
        bool,
        typer.Option("--allow-writes", help="Let the workload write (sessions are read-only)."),
    ] = False,
    allow_side_effects: Annotated[
        list[str] | None,
        typer.Option(
            "--allow-side-effects",
            help="Let the workload run statements with these effects a rollback cannot undo "
            "(categories such as sequences,advisory-locks or function names; docs/safety.md).",
            show_default=False,
        ),
    ] = None,
    async_mode: Annotated[
        bool, typer.Option("--async", help="Also measure psycopg_pool.AsyncConnectionPool.")
    ] = False,
    no_fresh: Annotated[
        bool, typer.Option("--no-fresh", help="Skip the fresh-connection-per-request mode.")
    ] = False,
    workers: Annotated[
        int | None,
        typer.Option(
            "--workers",
            help="Load-generator processes (default: number of cores).",
            show_default=False,
        ),
    ] = None,
    lambda_memory_mb: Annotated[
        int | None,
        typer.Option(
            "--lambda-memory-mb",
            help="Compare with the Lambda heuristic (1 connection per 128 MB, at most 10).",
            show_default=False,
        ),
    ] = None,
    plot: Annotated[
        Path | None,
        typer.Option(
            "--plot",
            help="Write throughput and p95 vs clients to FILE (.png, .svg or .html).",
            dir_okay=False,
            show_default=False,
        ),
    ] = None,
    storm: Annotated[
        bool,
        typer.Option(
            "--storm",
            help="Instead of the sweep: --clients concurrent Lambda cold starts, each opening "
            "its pool at once; accepted/refused connections, connect time, server backends, "
            "the safe reserved concurrency (docs/pool.md).",
        ),
    ] = False,
    pool_min: Annotated[
        int | None,
        typer.Option(
            "--pool-min",
            help="With --storm: connections each instance opens at its cold start "
            "(default: the pool's max size).",
            show_default=False,
        ),
    ] = None,
    max_clients: Annotated[
        int,
        typer.Option(
            "--max-clients",
            metavar="N",
            help="With --storm: never more connections than this at once.",
        ),
    ] = 500,
    allow_exhaust: Annotated[
        bool,
        typer.Option(
            "--allow-exhaust",
            help="With --storm: let it take every connection slot of a server other than the "
            "embedded one (locks other applications out meanwhile).",
        ),
    ] = False,
    statement_timeout: StatementTimeoutOpt = "30s",
    lock_timeout: Annotated[
        str, typer.Option("--lock-timeout", help="lock_timeout for every session.")
    ] = "5s",
    connect_timeout: ConnectTimeoutOpt = 5.0,
    seed: Annotated[int, typer.Option("--seed", metavar="N", help=FIXED_SEED_HELP)] = 0,
    fmt: FormatOpt = OutputFormat.table,
    output: OutputOpt = None,
    html: HtmlOpt = None,
) -> None:
    """Measure a fresh connection per request against a connection pool, and size the pool.

    Sweeps --clients and --pool-size, reports throughput, latency percentiles, connect
    time (socket vs authentication), pool wait, server backends, and recommends the
    smallest pool within 5% of the best throughput.
    """
    from perfkit.cli.clicklib import ParameterSource
    from perfkit.db.connect import session_defaults
    from perfkit.db.guard import parse_effect_flags
    from perfkit.errors import ConnectionFailed, UsageError
    from perfkit.pool.bench import PoolBenchOptions, run_pool_benchmark
    from perfkit.pool.report import check_plot_path, to_document, write_plot
    from perfkit.pool.workload import load_script, query_workload, select_one
    from perfkit.units import parse_duration, parse_list

    config = cli_state(ctx).config

    def given(name: str) -> bool:
        """Set on the command line or in the config's [pool] section."""
        src = ctx.get_parameter_source(name)
        return src is not None and src != ParameterSource.DEFAULT

    def typed(name: str) -> bool:
        """Set on the command line (or environment), not by a default."""
        src = ctx.get_parameter_source(name)
        return src in (ParameterSource.COMMANDLINE, ParameterSource.ENVIRONMENT)

    # [db] timeouts apply unless the option (or [pool]) says otherwise
    db_defaults = session_defaults(config.data, path=str(config.path or "perfkit.toml"))
    if not given("statement_timeout"):
        statement_timeout = db_defaults.statement_timeout
    if not given("lock_timeout"):
        lock_timeout = db_defaults.lock_timeout
    if not given("connect_timeout"):
        connect_timeout = db_defaults.connect_timeout
    if storm:
        from perfkit.cli.pool_storm import SWEEP_ONLY, run_storm_command

        run_storm_command(
            ctx,
            dsn=dsn,
            compare_dsn=compare_dsn,
            clients=clients if typed("clients") else None,
            pool_size=pool_size if typed("pool_size") else None,
            pool_min=pool_min,
            duration=duration if typed("duration") else None,
            lambda_memory_mb=lambda_memory_mb,
            max_clients=max_clients,
            allow_exhaust=allow_exhaust,
            plot=plot,
            statement_timeout=statement_timeout,
            lock_timeout=lock_timeout,
            connect_timeout=connect_timeout,
            fmt=fmt,
            output=output,
            html=html,
            sweep_options=[opt for opt, name in SWEEP_ONLY.items() if typed(name)],
        )
        return
    for option, name in (("--pool-min", "pool_min"), ("--max-clients", "max_clients")):
        if typed(name):
            raise UsageError(option, "only used with --storm")
    if allow_exhaust:
        raise UsageError("--allow-exhaust", "only used with --storm")

    def int_list(option: str, text: str) -> tuple[int, ...]:
        try:
            return tuple(parse_list(text, int))
        except ValueError:
            raise UsageError(
                option, f"{text!r} is not a comma-separated list of integers"
            ) from None

    def duration_of(option: str, text: str) -> float:
        try:
            return parse_duration(text)
        except ValueError as exc:
            raise UsageError(option, str(exc)) from None

    client_counts = int_list("--clients", clients)
    sizes = int_list("--pool-size", pool_size)
    if requests is not None and typed("duration") and typed("requests"):
        raise UsageError("--requests", "give --duration or --requests, not both")
    duration_s = duration_of("--duration", duration)
    for option, value in (
        ("--statement-timeout", statement_timeout),
        ("--lock-timeout", lock_timeout),
    ):
        duration_of(option, value)
    warm = warmup.strip()
    if warm.lstrip("-").isdigit():
        warmup_requests, warmup_s = int(warm), 0.0
        if warmup_requests < 0:
            raise UsageError("--warmup", "cannot be negative")
    else:
        warmup_requests, warmup_s = 0, duration_of("--warmup", warm)
    if query is not None and script is not None:
        raise UsageError("--query", "give --query or --script, not both")
    if script is not None:
        workload = load_script(script)
    elif query is not None:
        workload = query_workload(query)
    else:
        workload = select_one()
    if plot is not None:
        check_plot_path(plot)

    options = PoolBenchOptions(
        clients=client_counts,
        pool_sizes=sizes,
        duration_s=duration_s,
        requests=requests,
        warmup_s=warmup_s,
        warmup_requests=warmup_requests,
        workload=workload,
        async_mode=async_mode,
        fresh=not no_fresh,
        workers=workers,
        read_only=not allow_writes,
        allow_effects=parse_effect_flags(allow_side_effects or ()),
        statement_timeout=statement_timeout,
        lock_timeout=lock_timeout,
        connect_timeout=connect_timeout,
        lambda_memory_mb=lambda_memory_mb,
        seed=seed or 0,
    )
    result = run_pool_benchmark(
        dsn, compare_dsn=compare_dsn, options=options, config=config.data, progress=progress(ctx)
    )
    emit(to_document(result), fmt, output, ctx=ctx, html=html)
    if plot is not None and result.points:
        write_plot(result, plot)
        note(f"wrote {plot}", ctx)
    if result.status == "interrupted":
        typer.echo("perfkit: interrupted: partial report above", err=True)
        raise typer.Exit(130)
    if result.status == "failed":
        failed = result.points[-1] if result.points else None
        where = failed.key if failed else "pool"
        raise ConnectionFailed(where, f"point failed: {result.error}")


def register(app: typer.Typer) -> None:
    """Add this module's commands to ``app``."""
    app.command("pool")(pool_cmd)
