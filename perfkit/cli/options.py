"""Typer options shared by several commands, defined once as ``Annotated`` aliases."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated

import typer


class OutputFormat(str, Enum):
    table = "table"
    json = "json"
    csv = "csv"
    markdown = "markdown"


FormatOpt = Annotated[
    OutputFormat,
    typer.Option("--format", "-f", help="Report format.", case_sensitive=False),
]
OutputOpt = Annotated[
    Path | None,
    typer.Option(
        "--output",
        "-o",
        help="Write the report to FILE (atomically) instead of stdout.",
        dir_okay=False,
    ),
]
DsnOpt = Annotated[
    str | None,
    typer.Option(
        "--dsn",
        help="Target database (libpq URI or key=value). Default: PERFKIT_DSN, PG* variables, "
        "the config file, then the embedded database.",
        show_default=False,
    ),
]


def duration_text(value: str | None) -> str | None:
    """Option callback: a duration such as ``30s`` or ``500ms``, checked where it is given
    (on the command line or in the config file), not when the first session opens."""
    if value is None:
        return None
    from perfkit.units import parse_duration

    try:
        parse_duration(value)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    return value


StatementTimeoutOpt = Annotated[
    str,
    typer.Option(
        "--statement-timeout",
        help="statement_timeout for every perfkit session (e.g. 30s, 500ms).",
        callback=duration_text,
    ),
]
ConnectTimeoutOpt = Annotated[
    float,
    typer.Option(
        "--connect-timeout", min=0.1, help="Seconds to wait for a connection before giving up."
    ),
]
SeedOpt = Annotated[int | None, typer.Option("--seed", help="Random seed, for repeatable runs.")]
