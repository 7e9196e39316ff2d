"""CLI for `perfkit explain` and `perfkit suggest-indexes`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from perfkit.cli.common import color_stdout, emit, note, progress
from perfkit.cli.common import state as cli_state
from perfkit.cli.options import (
    ConnectTimeoutOpt,
    DsnOpt,
    FormatOpt,
    HtmlOpt,
    OutputFormat,
    OutputOpt,
    StatementTimeoutOpt,
    duration_text,
)

QueriesArg = Annotated[
    list[Path] | None,
    typer.Argument(
        help=".sql files or PostgreSQL logs (any format `perfkit analyze` reads).",
        show_default=False,
        exists=True,
        dir_okay=False,
    ),
]
StatementOpt = Annotated[
    list[str] | None,
    typer.Option("--statement", "-s", help="A query to work on (repeatable).", show_default=False),
]
FromStatsOpt = Annotated[
    bool,
    typer.Option("--from-stats", help="Take the workload from pg_stat_statements on the target."),
]
StatsIntervalOpt = Annotated[
    str | None,
    typer.Option(
        "--interval",
        metavar="DURATION",
        help="With --from-stats: the workload is what pg_stat_statements counts over this "
        "long from now (30s, 5m), not since its last reset.",
        callback=duration_text,
        show_default=False,
    ),
]
LogFormatOpt = Annotated[
    str | None,
    typer.Option("--log-format", help="Force the log format (as in analyze).", show_default=False),
]
MinCallsOpt = Annotated[
    int, typer.Option("--min-calls", min=1, help="Ignore fingerprints called fewer times.")
]
MinTimeOpt = Annotated[
    float,
    typer.Option("--min-time-ms", min=0, help="Ignore fingerprints with less total time (ms)."),
]


def _spec(
    files: list[Path] | None,
    statements: list[str] | None,
    from_stats: bool,
    log_format: str | None,
    min_calls: int,
    min_time_ms: float,
    interval: str | None = None,
) -> Any:
    from perfkit.errors import UsageError
    from perfkit.indexes.run import WorkloadSpec
    from perfkit.units import parse_duration

    seconds = parse_duration(interval) if interval is not None else None
    if seconds is not None and not from_stats:
        raise UsageError("--interval", "needs --from-stats")
    if seconds is not None and seconds <= 0:
        raise UsageError("--interval", "must be more than 0")
    return WorkloadSpec(
        statements=tuple(statements or ()),
        paths=tuple(files or ()),
        log_format=log_format,
        from_stats=from_stats,
        stats_interval=seconds,
        min_calls=min_calls,
        min_time_ms=min_time_ms,
    )


def _names(option: str, values: list[str] | None) -> tuple[str, ...]:
    from perfkit.errors import UsageError
    from perfkit.units import parse_list

    out: list[str] = []
    for v in values or ():
        try:
            out.extend(parse_list(v, str))
        except ValueError as exc:
            raise UsageError(option, str(exc)) from None
    return tuple(out)


def explain_cmd(
    ctx: typer.Context,
    files: QueriesArg = None,
    statement: StatementOpt = None,
    from_stats: FromStatsOpt = False,
    interval: StatsIntervalOpt = None,
    log_format: LogFormatOpt = None,
    min_calls: MinCallsOpt = 1,
    min_time_ms: MinTimeOpt = 0.0,
    analyze: Annotated[
        bool,
        typer.Option(
            "--analyze",
            help="EXPLAIN (ANALYZE, BUFFERS): runs each query, DML inside a rolled-back transaction.",
        ),
    ] = False,
    min_rows: Annotated[
        int,
        typer.Option("--min-rows", min=0, help="Report sequential scans of tables this large."),
    ] = 10_000,
    allow_side_effects: Annotated[
        list[str] | None,
        typer.Option(
            "--allow-side-effects",
            help="With --analyze, run statements with these effects a rollback cannot undo "
            "(categories such as sequences,signals or function names; see docs/safety.md).",
            show_default=False,
        ),
    ] = None,
    dsn: DsnOpt = None,
    statement_timeout: StatementTimeoutOpt = "30s",
    connect_timeout: ConnectTimeoutOpt = 5.0,
    fmt: FormatOpt = OutputFormat.table,
    output: OutputOpt = None,
    html: HtmlOpt = None,
) -> None:
    """Plans of the workload's queries, with what each plan shows and the node that shows it."""
    from perfkit.db.guard import parse_effect_flags
    from perfkit.indexes.explain import to_document
    from perfkit.indexes.run import explain_queries

    st = cli_state(ctx)
    result = explain_queries(
        _spec(files, statement, from_stats, log_format, min_calls, min_time_ms, interval),
        analyze=analyze,
        allow_effects=parse_effect_flags(allow_side_effects or ()),
        min_rows=min_rows,
        dsn=dsn,
        config=st.config.data,
        statement_timeout=statement_timeout,
        connect_timeout=connect_timeout,
        progress=progress(ctx),
    )
    color = fmt == OutputFormat.table and output is None and color_stdout(ctx)
    emit(to_document(result, color=color), fmt, output, ctx=ctx, html=html)
    refused = [q for q in result.queries if q.refused]
    if refused and len(refused) == len(result.queries):
        from perfkit.errors import UnsafeOperation

        raise UnsafeOperation(
            f"every statement was refused by the statement guard ({len(refused)}); "
            "nothing was sent",
            hint="the report above gives each reason; see docs/safety.md",
        )
    if refused:
        note(f"{len(refused)} statement(s) refused by the statement guard, not sent", ctx)


def suggest_cmd(
    ctx: typer.Context,
    files: QueriesArg = None,
    statement: StatementOpt = None,
    from_stats: FromStatsOpt = False,
    interval: StatsIntervalOpt = None,
    log_format: LogFormatOpt = None,
    min_calls: MinCallsOpt = 1,
    min_time_ms: MinTimeOpt = 0.0,
    include: Annotated[
        list[str] | None,
        typer.Option(
            "--include", help="Only these tables (repeatable or comma list).", show_default=False
        ),
    ] = None,
    exclude: Annotated[
        list[str] | None,
        typer.Option(
            "--exclude", help="Never these tables (repeatable or comma list).", show_default=False
        ),
    ] = None,
    min_savings: Annotated[
        str,
        typer.Option("--min-savings", help="Accept an index that cuts a query's cost this much."),
    ] = "50%",
    min_cost: Annotated[
        float, typer.Option("--min-cost", min=0, help="Skip queries whose plan costs less.")
    ] = 100.0,
    method: Annotated[
        str,
        typer.Option(
            "--method",
            help="How to cost candidates: auto (trial on the embedded database, else HypoPG), "
            "hypopg, trial, none.",
        ),
    ] = "auto",
    trial: Annotated[
        bool,
        typer.Option(
            "--trial",
            help="Allow trial mode on a non-embedded target: builds each candidate in a "
            "rolled-back transaction (blocks writes to that table meanwhile).",
        ),
    ] = False,
    verify: Annotated[
        bool,
        typer.Option("--verify", help="EXPLAIN ANALYZE before/after each suggestion (trial mode)."),
    ] = False,
    apply: Annotated[
        bool,
        typer.Option("--apply", help="Create the suggested indexes (CONCURRENTLY)."),
    ] = False,
    lock_timeout: Annotated[
        str, typer.Option("--lock-timeout", help="lock_timeout for --apply.")
    ] = "5s",
    build_timeout: Annotated[
        str, typer.Option("--build-timeout", help="statement_timeout of each --apply build.")
    ] = "1h",
    dsn: DsnOpt = None,
    statement_timeout: StatementTimeoutOpt = "30s",
    connect_timeout: ConnectTimeoutOpt = 5.0,
    fmt: FormatOpt = OutputFormat.table,
    output: OutputOpt = None,
    html: HtmlOpt = None,
) -> None:
    """Missing indexes for a workload, each costed (HypoPG or a rolled-back trial build)."""
    from perfkit.errors import UsageError
    from perfkit.indexes.advisor import METHODS, SuggestOptions
    from perfkit.indexes.report import to_document
    from perfkit.indexes.run import suggest
    from perfkit.units import parse_duration, parse_percent

    st = cli_state(ctx)
    try:
        savings = parse_percent(min_savings)
    except ValueError as exc:
        raise UsageError("--min-savings", str(exc)) from None
    if not 0 < savings <= 1:
        raise UsageError("--min-savings", "must be more than 0% and at most 100%")
    if method not in METHODS:
        raise UsageError("--method", f"must be one of {', '.join(METHODS)}")
    for opt, value in (("--lock-timeout", lock_timeout), ("--build-timeout", build_timeout)):
        try:
            parse_duration(value)
        except ValueError as exc:
            raise UsageError(opt, str(exc)) from None
    options = SuggestOptions(
        min_savings=savings,
        min_cost=min_cost,
        method="trial" if trial and method == "auto" else method,
        allow_trial=trial,
        verify=verify,
        include=_names("--include", include),
        exclude=_names("--exclude", exclude),
    )
    result = suggest(
        _spec(files, statement, from_stats, log_format, min_calls, min_time_ms, interval),
        options,
        dsn=dsn,
        config=st.config.data,
        statement_timeout=statement_timeout,
        connect_timeout=connect_timeout,
        apply=apply,
        lock_timeout=lock_timeout,
        build_timeout=build_timeout,
        progress=progress(ctx),
    )
    if apply:
        created = sum(1 for a in result.applied if a.status == "created")
        note(f"--apply: created {created} of {len(result.suggestions)} index(es)", ctx)
    emit(to_document(result), fmt, output, ctx=ctx, html=html)


def register(app: typer.Typer) -> None:
    """Add this module's commands to ``app``."""
    app.command("explain")(explain_cmd)
    app.command("suggest-indexes")(suggest_cmd)
