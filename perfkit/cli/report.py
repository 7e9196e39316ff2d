"""CLI for `perfkit report`: the HTML page of a saved JSON report."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from perfkit.cli.common import note, write_stdout
from perfkit.cli.options import html_path


def report_cmd(
    ctx: typer.Context,
    report: Annotated[
        str,
        typer.Argument(
            help="A perfkit JSON report (--format json of analyze, pool, explain, "
            "suggest-indexes, replay, coldstart, batch or check); - for stdin.",
            metavar="REPORT.json",
            show_default=False,
        ),
    ],
    html: Annotated[
        Path | None,
        typer.Option(
            "--html",
            "--output",
            "-o",
            help="Write the page to FILE (atomically); default: stdout.",
            dir_okay=False,
            show_default=False,
            callback=html_path,
        ),
    ] = None,
) -> None:
    """Render a saved JSON report as one self-contained HTML page (opens offline)."""
    from perfkit.html import render
    from perfkit.html.load import load_report

    data = load_report(report)
    page = render(data, report)
    if html is None:
        from perfkit.redact import scrub

        write_stdout(scrub(page, key_values=False))
        return
    from perfkit.report.output import write_atomic

    write_atomic(html, page)
    note(f"wrote {html}", ctx)


def register(app: typer.Typer) -> None:
    """Add this module's commands to ``app``."""
    app.command("report")(report_cmd)
