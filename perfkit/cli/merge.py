"""CLI for `perfkit merge`: the analyze report of saved partials (``analyze --partial-out``)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated

import typer

from perfkit.cli.analyze import CacheEntriesOpt, NoReplayOpt, TopOpt, TtlOpt, ttls_option
from perfkit.cli.common import emit
from perfkit.cli.common import state as cli_state
from perfkit.cli.options import FormatOpt, HtmlOpt, OutputFormat, OutputOpt


def _when(option: str, text: str | None) -> dt.datetime | None:
    from perfkit.errors import UsageError

    if text is None:
        return None
    try:
        t = dt.datetime.fromisoformat(text)
    except ValueError:
        raise UsageError(
            option, f"{text!r} is not a time (2026-12-03T10:00 or 2026-12-03 10:00:00+01:00)"
        ) from None
    return t if t.tzinfo is not None else t.replace(tzinfo=dt.timezone.utc)


def merge_cmd(
    ctx: typer.Context,
    partials: Annotated[
        list[Path],
        typer.Argument(
            help="Partials (*.partial.parquet) or directories of them, from "
            "'perfkit analyze --partial-out'.",
            metavar="PARTIAL",
            show_default=False,
        ),
    ],
    since: Annotated[
        str | None,
        typer.Option(
            "--from",
            metavar="TIME",
            help="Only partials from this time on (ISO 8601; no zone = UTC); one that "
            "straddles the edge is taken whole, with a warning.",
            show_default=False,
        ),
    ] = None,
    until: Annotated[
        str | None,
        typer.Option(
            "--to",
            metavar="TIME",
            help="Only partials before this time (ISO 8601; no zone = UTC).",
            show_default=False,
        ),
    ] = None,
    server: Annotated[
        str | None,
        typer.Option(
            "--server",
            metavar="NAME",
            help="Only the partials of this server (analyze --server).",
            show_default=False,
        ),
    ] = None,
    ttl: TtlOpt = "60",
    cache_entries: CacheEntriesOpt = None,
    no_replay: NoReplayOpt = False,
    top: TopOpt = 20,
    fmt: FormatOpt = OutputFormat.table,
    output: OutputOpt = None,
    html: HtmlOpt = None,
) -> None:
    """The analyze report of saved partials: several runs, hours or days as one run."""
    from perfkit.errors import UsageError
    from perfkit.querylog.aggregate import AnalyzeOptions
    from perfkit.querylog.document import to_document
    from perfkit.querylog.merge import merge_partials

    st = cli_state(ctx)
    lo, hi = _when("--from", since), _when("--to", until)
    if lo is not None and hi is not None and hi <= lo:
        raise UsageError("--to", "must be after --from")
    options = AnalyzeOptions(
        ttls=ttls_option(ttl), cache_entries=cache_entries, replay=not no_replay
    )
    result = merge_partials(partials, options=options, since=lo, until=hi, server=server)
    emit(to_document(result, top=top, debug=st.debug), fmt, output, ctx=ctx, html=html)


def register(app: typer.Typer) -> None:
    """Add this module's commands to ``app``."""
    app.command("merge")(merge_cmd)
