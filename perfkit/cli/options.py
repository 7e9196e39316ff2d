"""Typer options shared by several commands, defined once as ``Annotated`` aliases."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated, Any

import typer
from typer.core import TyperCommand, TyperGroup

from perfkit.cli.clicklib import Context as ClickContext
from perfkit.cli.clicklib import HelpFormatter


class OutputFormat(str, Enum):
    table = "table"
    json = "json"
    csv = "csv"
    markdown = "markdown"


class ColorMode(str, Enum):
    auto = "auto"
    always = "always"
    never = "never"


FormatOpt = Annotated[
    OutputFormat,
    typer.Option("--format", "-f", help="Report format.", case_sensitive=False),
]
OutputOpt = Annotated[
    Path | None,
    typer.Option(
        "--output",
        "-o",
        help="Write the report to FILE (atomically) instead of stdout; without --format, "
        "the extension picks it (.json, .csv, .md, .txt, .html).",
        dir_okay=False,
    ),
]


def html_path(value: Path | None) -> Path | None:
    """Option callback: an HTML report's file, its directory checked where it is given
    (before minutes of measuring, not after)."""
    if value is not None and str(value.parent) and not value.parent.is_dir():
        raise typer.BadParameter(f"directory {value.parent} does not exist")
    return value


HtmlOpt = Annotated[
    Path | None,
    typer.Option(
        "--html",
        help="Also write the report as one self-contained HTML page to FILE (charts, "
        "sortable tables; opens offline).",
        dir_okay=False,
        show_default=False,
        callback=html_path,
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
        "--connect-timeout",
        min=0.1,
        metavar="SECONDS",
        help="Seconds to wait for a connection before giving up.",
    ),
]
SeedOpt = Annotated[
    int | None,
    typer.Option(
        "--seed",
        metavar="N",
        help="Random seed, for repeatable runs; default: a new random seed each run.",
        show_default=False,
    ),
]
FIXED_SEED_HELP = "Random seed (the same one every run unless given)."


# --- help rendering -------------------------------------------------------------------
# Typer's own help shows the Python type of a value (`--config <str>`, `LOG <list[str]>`,
# `--top <int range>`) and braces in usage lines (`{LOG}...`). perfkit's help names what
# a person types instead: every option that does not declare a metavar gets one derived
# from its name and type, and arguments read `LOG...` / `[FILE]...` like any Unix tool.

# option name (without dashes) or its last word -> metavar
_NAMED_METAVARS = {
    "dsn": "DSN",
    "config": "FILE",
    "output": "FILE",
    "file": "FILE",
    "path": "PATH",
    "dir": "DIR",
    "directory": "DIR",
    "ms": "MS",
    "mb": "MB",
    "timeout": "DURATION",
    "seed": "N",
    "url": "URL",
    "format": "FORMAT",
    "log": "FILE",
    "event": "FILE",
    "duration": "DURATION",
    "warmup": "DURATION",
    "window": "DURATION",
    "time": "DURATION",
    "wait": "DURATION",
    "base": "DURATION",
    "cap": "DURATION",
    "p95": "DURATION",
    "ttl": "DURATION",
    "clients": "N[,N...]",
    "size": "N[,N...]",
    "concurrency": "N[,N...]",
    "rate": "RATE",
    "effects": "EFFECT[,EFFECT...]",
    "statement": "SQL",
    "query": "SQL",
    "handler": "MODULE:FUNC",
    "table": "TABLE",
    "include": "TABLE[,TABLE...]",
    "exclude": "TABLE[,TABLE...]",
    "database": "NAME",
    "env": "KEY=VALUE",
    "python": "PYTHON",
    "bytes": "SIZE",
    "speed": "FACTOR",
    "savings": "PERCENT",
    "prefix": "PREFIX",
    "only": "NAME",
    "method": "METHOD",
    "runs": "RUNS",
}


def derived_metavar(param: Any) -> str | None:
    """The metavar ``param`` shows in help when it declares none (``None`` for a flag)."""
    if getattr(param, "is_flag", False) or getattr(param, "count", False):
        return None
    opts = [o.lstrip("-") for o in getattr(param, "opts", ()) if o.startswith("--")]
    name = (opts[0] if opts else str(param.name or "value")).replace("_", "-").lower()
    words = name.split("-")
    desc = getattr(param, "type_descriptor", None)
    if desc is not None and desc.is_choice:
        return "|".join(str(getattr(c, "value", c)) for c in desc.choices or ())
    for key in (name, words[-1]):
        if key in _NAMED_METAVARS:
            return _NAMED_METAVARS[key]
    if desc is not None and desc.is_path:
        return "DIR" if getattr(desc.parameter_info, "file_okay", True) is False else "FILE"
    annotation = getattr(desc, "annotation", None)
    if desc is not None and desc.is_list:
        args = getattr(annotation, "__args__", ())
        annotation = args[0] if args else str
    if annotation is int:
        return "N"
    if annotation is float:
        return "NUMBER"
    return words[-1].upper() if param.param_type_name == "argument" else "TEXT"


class PerfkitCommand(TyperCommand):
    """A Typer command whose ``--help`` shows human metavars and plain usage lines."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for param in self.params:
            if param.param_type_name == "argument":
                if param.metavar is None:
                    param.metavar = str(param.name or "arg").upper()
            elif param.metavar is None and not getattr(param, "hidden", False):
                param.metavar = derived_metavar(param)

    def collect_usage_pieces(self, ctx: ClickContext) -> list[str]:
        pieces = [self.options_metavar] if self.options_metavar else []
        for param in self.get_params(ctx):
            if param.param_type_name != "argument":
                continue
            name = str(param.metavar or param.name).removesuffix("...")
            dots = "..." if param.nargs != 1 else ""
            pieces.append(f"{name}{dots}" if param.required else f"[{name}]{dots}")
        return pieces

    def format_options(self, ctx: ClickContext, formatter: HelpFormatter) -> None:
        args: list[tuple[str, str]] = []
        opts: list[tuple[str, str]] = []
        for param in self.get_params(ctx):
            record = param.get_help_record(ctx)
            if record is None:
                continue
            if param.param_type_name == "argument":
                name = str(param.metavar or param.name).removesuffix("...")
                dots = "..." if param.nargs != 1 else ""
                args.append((f"{name}{dots}", record[1]))
            else:
                opts.append(record)
        if args:
            with formatter.section("Arguments"):
                formatter.write_dl(args)
        if opts:
            with formatter.section("Options"):
                formatter.write_dl(opts)


def full_short_help(command: Any) -> str:
    """A command's one-line summary for the command list: its first sentence, never cut."""
    if command.short_help:
        return str(command.short_help).strip()
    text = (command.help or "").strip().split("\n\n", 1)[0]
    return " ".join(text.split())


class HelpGroup(TyperGroup):
    """A Typer group whose command list shows each command's whole first sentence."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for param in self.params:
            if param.metavar is None and not getattr(param, "hidden", False):
                param.metavar = derived_metavar(param)

    def format_commands(self, ctx: ClickContext, formatter: HelpFormatter) -> None:
        rows = []
        for name in self.list_commands(ctx):
            cmd = self.get_command(ctx, name)
            if cmd is not None and not cmd.hidden:
                rows.append((name, full_short_help(cmd)))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


def use_help_classes(app: typer.Typer) -> None:
    """Give every command of ``app`` (and of its sub-apps) perfkit's help rendering."""
    for info in app.registered_commands:
        if info.cls in (None, TyperCommand):
            info.cls = PerfkitCommand
    for group in app.registered_groups:
        sub = group.typer_instance
        if sub is None:
            continue
        if sub.info.cls in (None, TyperGroup) or not isinstance(sub.info.cls, type):
            sub.info.cls = HelpGroup
        use_help_classes(sub)
