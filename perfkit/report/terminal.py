"""Terminal rendering with rich. The only report module that imports rich."""

from __future__ import annotations

import io
import os
from typing import IO

from rich import box
from rich.console import Console
from rich.table import Table as RichTable
from rich.text import Text

from perfkit.report.cells import format_cell
from perfkit.report.model import Document, Table

_STYLES = {"bad": "bold red", "warn": "yellow", "good": "green", "dim": "dim", "": ""}


def terminal_width(default: int = 100) -> int:
    try:
        return int(os.environ.get("COLUMNS", "")) or default
    except ValueError:
        return default


def make_console(
    file: IO[str] | None = None, *, width: int | None = None, color: bool = False
) -> Console:
    return Console(
        file=file,
        width=width or terminal_width(),
        force_terminal=color,
        no_color=not color,
        color_system="standard" if color else None,
        highlight=False,
        emoji=False,
        soft_wrap=False,
    )


def rich_table(t: Table) -> RichTable:
    rt = RichTable(title=t.title or None, box=box.SIMPLE_HEAD, title_justify="left", pad_edge=False)
    for c in t.columns:
        rt.add_column(c.header, justify=c.align, overflow="fold")
    styles = t.row_styles or [""] * len(t.rows)
    for row, style in zip(t.rows, styles, strict=True):
        rt.add_row(
            *(format_cell(v, c) for v, c in zip(row, t.columns, strict=True)), style=_STYLES[style]
        )
    return rt


def render_table(doc: Document, *, width: int | None = None, color: bool = False) -> str:
    buf = io.StringIO()
    console = make_console(buf, width=width, color=color)
    if doc.title:
        console.print(Text(doc.title, style="bold"))
    for w in doc.warnings:
        console.print(Text(f"warning: {w}", style="yellow"))
    for line in doc.summary:
        console.print(Text(line))
    for extra in doc.extras:
        console.print(Text.from_ansi(extra) if color else Text(extra))
    for t in doc.tables:
        console.print()
        if t.rows:
            console.print(rich_table(t))
        else:
            console.print(Text(f"{t.title}: none", style="dim"))
    if doc.verdict:
        console.print()
        console.print(Text(doc.verdict, style="bold"))
    return buf.getvalue()
