"""CLI for `perfkit analyze`: fingerprints, statistics, slow queries and cache replay."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from perfkit.cli.common import emit, note, progress
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

# the registry's names (perfkit.querylog.readers.formats; a test keeps them equal), written
# out so that `--help` does not import the readers
FORMATS_HELP = (
    "cri, docker, journald, heroku, rfc5424, cloudwatch, gcp, azure, timestamped, jsonlog, "
    "cnpg, pgss-json, jsonl, csvlog, pgss-csv, stderr, syslog, sql"
)


# the cache replay's and the tables' options, shared with `perfkit merge`
TtlOpt = Annotated[
    str,
    typer.Option(
        "--ttl",
        metavar="TTL[,TTL...]",
        help="Cache TTL(s) for the replay (30s, 5m; bare numbers are seconds); several "
        "(1,10,60,300) are swept in one pass.",
    ),
]
CacheEntriesOpt = Annotated[
    int | None,
    typer.Option(
        "--cache-entries",
        min=1,
        help="Bound the simulated cache to N entries (LRU eviction); default: unbounded.",
        show_default=False,
    ),
]
NoReplayOpt = Annotated[bool, typer.Option("--no-replay", help="Skip the cache replay.")]
TopOpt = Annotated[
    int,
    typer.Option("--top", min=0, help="Fingerprints shown in the tables (0 = all)."),
]


def ttls_option(text: str) -> tuple[float, ...]:
    from perfkit.errors import UsageError
    from perfkit.units import parse_duration, parse_list

    try:
        values = parse_list(text, parse_duration)
    except ValueError as exc:
        raise UsageError("--ttl", str(exc)) from None
    if any(v <= 0 for v in values):
        raise UsageError("--ttl", "a TTL must be positive")
    return tuple(sorted(set(values)))


def _from_stats(
    ctx: typer.Context,
    files: list[str],
    interval: str | None,
    snapshot: Path | None,
    dsn: str | None,
    statement_timeout: str,
    connect_timeout: float,
    top: int,
    fmt: OutputFormat,
    output: Path | None,
    html: Path | None,
) -> None:
    """``--from-stats``: pg_stat_statements over an interval (or one snapshot saved)."""
    from perfkit.errors import UsageError
    from perfkit.livestats.run import Session, snapshot_now, stats_delta
    from perfkit.units import parse_duration

    st = cli_state(ctx)
    session = Session(dsn, st.config.data, statement_timeout, connect_timeout)
    if snapshot is not None:
        if files or interval:
            raise UsageError("--snapshot", "saves one snapshot: give no --interval or files")
        from perfkit.livestats.snapshot import to_json
        from perfkit.report.output import write_atomic

        snap = snapshot_now(session)
        write_atomic(snapshot, to_json(snap))
        note(f"wrote {snapshot}: {len(snap.entries):,} pg_stat_statements entries", ctx)
        return
    seconds = parse_duration(interval) if interval is not None else None
    delta = stats_delta(
        session, interval=seconds, snapshots=[Path(f) for f in files], progress=progress(ctx)
    )
    from perfkit.livestats.document import to_document

    emit(to_document(delta, top=top), fmt, output, ctx=ctx, html=html)


def analyze_cmd(
    ctx: typer.Context,
    logs: Annotated[
        list[str] | None,
        typer.Argument(
            help="Log files (- for stdin; .gz, .bz2, .zst read transparently); with "
            "--from-stats, one or two saved snapshots.",
            metavar="LOG",
            show_default=False,
        ),
    ] = None,
    log_format: Annotated[
        str | None,
        typer.Option(
            "--log-format",
            help=f"Force the input format ({FORMATS_HELP}); default: detected per file.",
            show_default=False,
        ),
    ] = None,
    prefix: Annotated[
        str | None,
        typer.Option(
            "--prefix",
            help="log_line_prefix of stderr/syslog logs, e.g. '%m [%p] %q%u@%d '; "
            "default: inferred from the log's own lines.",
            show_default=False,
        ),
    ] = None,
    slow_ms: Annotated[
        float,
        typer.Option("--slow-ms", min=0, help="List statements at least this slow (ms)."),
    ] = 500.0,
    slow_limit: Annotated[
        int,
        typer.Option("--slow-limit", min=0, help="Keep at most this many slow statements."),
    ] = 100,
    ttl: TtlOpt = "60",
    cache_entries: CacheEntriesOpt = None,
    no_replay: NoReplayOpt = False,
    top: TopOpt = 20,
    strict: Annotated[
        bool,
        typer.Option("--strict", help="Fail on the first line that cannot be parsed."),
    ] = False,
    jobs: Annotated[
        int | None,
        typer.Option(
            "--jobs",
            "-j",
            min=1,
            help="Worker processes that read a large cnpg, csvlog, jsonlog or stderr log in "
            "ranges, compressed or not (same results as 1, which reads in this process); "
            "default: one per core.",
            show_default=False,
        ),
    ] = None,
    events: Annotated[
        str,
        typer.Option(
            "--events",
            metavar="CATEGORY[,...]",
            help="Also report server events: temp, locks, errors, checkpoints, autovacuum, "
            "connections, plans (auto_explain), all or none.",
        ),
    ] = "none",
    from_stats: Annotated[
        bool,
        typer.Option(
            "--from-stats",
            help="Read pg_stat_statements on --dsn instead of logs: the per-query delta "
            "over --interval, from a saved snapshot (LOG) to now, or between two.",
        ),
    ] = False,
    interval: Annotated[
        str | None,
        typer.Option(
            "--interval",
            metavar="DURATION",
            help="With --from-stats: snapshot, wait this long (30s, 5m), snapshot, report "
            "the delta.",
            callback=duration_text,
            show_default=False,
        ),
    ] = None,
    snapshot: Annotated[
        Path | None,
        typer.Option(
            "--snapshot",
            help="With --from-stats: save one snapshot to FILE (JSON) and stop.",
            dir_okay=False,
            show_default=False,
        ),
    ] = None,
    partial_out: Annotated[
        Path | None,
        typer.Option(
            "--partial-out",
            metavar="DIR",
            help="Also write one mergeable partial per input into DIR (Parquet; "
            "'perfkit merge DIR' gives this report again, or any time window of it).",
            file_okay=False,
            show_default=False,
        ),
    ] = None,
    server: Annotated[
        str | None,
        typer.Option(
            "--server",
            metavar="NAME",
            help="With --partial-out: the server the logs come from (the cache replay "
            "of a merge is per server); default: this machine's host name.",
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
    """Fingerprints, statistics, slow queries and a query-cache replay of PostgreSQL logs.

    With --from-stats: pg_stat_statements over an interval, per query, instead of logs.
    """
    from perfkit.errors import UsageError

    if from_stats:
        _from_stats(
            ctx,
            logs or [],
            interval,
            snapshot,
            dsn,
            statement_timeout,
            connect_timeout,
            top,
            fmt,
            output,
            html,
        )
        return
    if server is not None and partial_out is None:
        raise UsageError("--server", "names the server of --partial-out's partials")
    for given, name in ((interval, "--interval"), (snapshot, "--snapshot"), (dsn, "--dsn")):
        if given is not None:
            raise UsageError(name, "needs --from-stats (logs are read from files)")
    if not logs:
        from perfkit.errors import PerfkitError

        raise PerfkitError(
            "missing argument 'LOG' (a log file, - for stdin, or --from-stats; "
            "see 'perfkit analyze --help')"
        )
    from perfkit.querylog.aggregate import AnalyzeOptions, analyze
    from perfkit.querylog.document import to_document
    from perfkit.querylog.events import parse_categories

    st = cli_state(ctx)
    try:
        categories = parse_categories(events)
    except ValueError as exc:
        raise UsageError("--events", str(exc)) from None
    options = AnalyzeOptions(
        events=categories,
        slow_ms=slow_ms,
        slow_limit=slow_limit,
        ttls=ttls_option(ttl),
        cache_entries=cache_entries,
        replay=not no_replay,
    )
    result = analyze(
        logs,
        options,
        log_format=log_format,
        prefix=prefix,
        strict=strict,
        progress=progress(ctx),
        jobs=jobs,
        partial_out=partial_out,
        server=server,
    )
    if partial_out is not None:
        note(f"wrote {len(result.files)} partial(s) to {partial_out}", ctx)
    emit(to_document(result, top=top, debug=st.debug), fmt, output, ctx=ctx, html=html)


def register(app: typer.Typer) -> None:
    """Add this module's commands to ``app``."""
    app.command("analyze")(analyze_cmd)
