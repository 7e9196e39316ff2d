"""Helpers every command uses: state, output, progress. No heavy imports."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from typer._click.globals import get_current_context

from perfkit.config import Config

if TYPE_CHECKING:
    from perfkit.report.model import Document
    from perfkit.report.progress import ProgressSink


@dataclass
class CliState:
    debug: bool = False
    quiet: bool = False
    config: Config = field(default_factory=lambda: Config(None, {}))


def state(ctx: typer.Context | None = None) -> CliState:
    ctx = ctx or get_current_context(silent=True)  # type: ignore[assignment]
    found = ctx.find_object(CliState) if ctx else None
    return found or CliState()


def interactive() -> bool:
    """A person is watching: stderr is a terminal and we are not in CI."""
    return sys.stderr.isatty() and not os.environ.get("CI")


def progress(ctx: typer.Context | None = None) -> ProgressSink:
    """A rich progress bar on a terminal; silent in pipes, CI and with --quiet."""
    if state(ctx).quiet or not interactive():
        from perfkit.report.progress import NullProgress

        return NullProgress()
    from perfkit.cli.progress import RichProgress

    return RichProgress()


def note(message: str, ctx: typer.Context | None = None) -> None:
    """A short informational line on stderr (suppressed by --quiet)."""
    if not state(ctx).quiet:
        typer.echo(message, err=True)


def debug_note(message: str, ctx: typer.Context | None = None) -> None:
    if state(ctx).debug:
        typer.echo(message, err=True)


def emit(
    doc: Document,
    fmt: Any,
    output: Path | None,
    *,
    table: str | None = None,
    ctx: typer.Context | None = None,
) -> None:
    """Render ``doc`` and write it to ``output`` (atomically) or stdout."""
    from perfkit.report.render import render

    name = fmt.value if hasattr(fmt, "value") else str(fmt)
    if name == "table" and output is None and sys.stdout.isatty():
        from perfkit.report.terminal import render_table

        text = render_table(doc, color=True)
    else:
        text = render(doc, name, table=table)
    if output is None:
        sys.stdout.write(text)
        sys.stdout.flush()
    else:
        from perfkit.report.output import write_atomic

        write_atomic(output, text)
        note(f"wrote {output}", ctx)
