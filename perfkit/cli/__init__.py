"""The ``perfkit`` command line: a thin layer over the library.

Each command module under :mod:`perfkit.cli` parses options and calls one core
function; heavy imports (pandas, psycopg, sqlglot, pglast) happen inside command
bodies so that ``perfkit --help`` stays fast. Errors are mapped to exit codes in
one place: :meth:`PerfkitGroup.invoke`.
"""

from __future__ import annotations

import atexit
import gc
import importlib
import sys
import traceback
from typing import Any

import typer
from typer._click.core import Context as ClickContext
from typer.core import TyperGroup

from perfkit import __version__
from perfkit.cli.common import CliState
from perfkit.config import Config
from perfkit.errors import EXIT_INTERRUPTED, EXIT_USAGE, PerfkitError

_GLOBAL_FLAGS = ("--debug", "--quiet", "-q")


class PerfkitGroup(TyperGroup):
    """Typer group with perfkit's error mapping and position-free global flags."""

    def parse_args(self, ctx: ClickContext, args: list[str]) -> list[str]:
        # `perfkit analyze x.log --debug` should work like `perfkit --debug analyze x.log`
        if "--" in args:
            cut = args.index("--")
            head, tail = args[:cut], args[cut:]
        else:
            head, tail = args, []
        flags: list[str] = []
        rest: list[str] = []
        i = 0
        while i < len(head):
            arg = head[i]
            if arg in _GLOBAL_FLAGS or arg.startswith("--config="):
                flags.append(arg)
            elif arg == "--config" and i + 1 < len(head):
                # `perfkit check --config ci.toml` like `perfkit --config ci.toml check`
                flags += head[i : i + 2]
                i += 1
            else:
                rest.append(arg)
            i += 1
        return super().parse_args(ctx, flags + rest + tail)

    def invoke(self, ctx: ClickContext) -> Any:
        try:
            return super().invoke(ctx)
        except PerfkitError as exc:
            _report_error(ctx, exc)
            raise typer.Exit(exc.exit_code) from None
        except KeyboardInterrupt:
            typer.echo("perfkit: interrupted", err=True)
            raise typer.Exit(EXIT_INTERRUPTED) from None
        except (typer.Exit, typer.Abort, typer.TyperException):
            raise
        except Exception as exc:
            if _debug(ctx):
                traceback.print_exc()
            typer.echo(
                f"perfkit: internal error: {type(exc).__name__}: {exc}"
                + ("" if _debug(ctx) else " (run with --debug for the traceback)"),
                err=True,
            )
            raise typer.Exit(EXIT_USAGE) from None


def _debug(ctx: ClickContext) -> bool:
    state = ctx.find_object(CliState)
    return bool(state and state.debug)


def _report_error(ctx: ClickContext, exc: PerfkitError) -> None:
    if _debug(ctx):
        traceback.print_exc()
    typer.echo(f"perfkit: error: {exc}", err=True)
    if exc.hint:
        typer.echo(f"  hint: {exc.hint}", err=True)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"perfkit {__version__}")
        raise typer.Exit()


def _root(
    ctx: typer.Context,
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress, no notes on stderr."),
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks and skipped lines."),
    config: str | None = typer.Option(
        None,
        "--config",
        help="Config file (default: ./perfkit.toml if present).",
        show_default=False,
    ),
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Show the version and exit."
    ),
) -> None:
    from perfkit.config import default_map, load_config

    try:
        cfg = load_config(config)
    except PerfkitError as exc:
        _report_error(ctx, exc)
        raise typer.Exit(exc.exit_code) from None
    ctx.obj = CliState(debug=debug, quiet=quiet, config=cfg)
    ctx.default_map = default_map(cfg)
    _check_section(ctx, cfg)


# Sections with their own structure, validated by their readers.
_FREE_SECTIONS = frozenset({"db", "check"})


def _check_section(ctx: typer.Context, cfg: Config) -> None:
    """A misspelt key in ``[analyze]`` must not be silently ignored."""
    from perfkit.config import unknown_options
    from perfkit.errors import ConfigError

    name = ctx.invoked_subcommand
    if not name or name in _FREE_SECTIONS or cfg.path is None:
        return
    group = ctx.command
    cmd = group.get_command(ctx, name) if isinstance(group, TyperGroup) else None
    if cmd is None:
        return
    params = {p.name for p in cmd.params if p.name}
    bad = unknown_options(cfg, name, params)
    if bad:
        exc = ConfigError(cfg.path, f"unknown option for perfkit {name}", section=name, key=bad[0])
        _report_error(ctx, exc)
        raise typer.Exit(exc.exit_code)


def _make_app() -> typer.Typer:
    new = typer.Typer(
        cls=PerfkitGroup,
        name="perfkit",
        help="PostgreSQL and serverless performance toolkit: pools, query logs, indexes, "
        "cold starts, SQS batches, and a CI regression gate.",
        rich_markup_mode=None,
        pretty_exceptions_enable=False,
        add_completion=False,
        no_args_is_help=True,
        context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
    )
    new.callback()(_root)
    return new


# The command modules, in `perfkit --help` order, and the commands each one registers.
_MODULES = ("analyze", "pool", "db", "explain", "coldstart", "batch", "replay", "check", "demo")
COMMANDS = {
    "analyze": "analyze",
    "pool": "pool",
    "db": "db",
    "explain": "explain",
    "suggest-indexes": "explain",
    "coldstart": "coldstart",
    "batch": "batch",
    "replay": "replay",
    "check": "check",
    "init": "check",
    "demo": "demo",
}


def _register(target: typer.Typer, modules: tuple[str, ...] = _MODULES) -> None:
    # Each module adds its own commands; modules import only typer at top level.
    for name in modules:
        importlib.import_module(f"perfkit.cli.{name}").register(target)


app = _make_app()
_register(app)


def app_for(args: list[str]) -> typer.Typer:
    """The app to run ``args`` with: one that holds only the invoked command when it is
    a known one (Typer turns every registered command into a click command on each run,
    ~50 ms for all of them, paid before any command starts), else the full app."""
    i = 0
    while i < len(args):
        arg = args[i]
        if arg == "--config":
            i += 2
            continue
        if arg.startswith("-"):
            if arg in _GLOBAL_FLAGS or arg.startswith("--config="):
                i += 1
                continue
            return app  # --help, --version, a mistake: the full app answers
        module = COMMANDS.get(arg)
        if module is None:
            return app
        lean = _make_app()
        _register(lean, (module,))
        return lean
    return app


def main() -> None:
    """Console-script entry point."""
    # Runs last (atexit is last-in, first-out): the interpreter's shutdown collections
    # then skip every object alive at exit, 50-70 ms after a large analyze. Outputs are
    # closed by then, and the standard streams are flushed by the interpreter anyway.
    atexit.register(gc.freeze)
    app_for(sys.argv[1:])(prog_name="perfkit")
    sys.exit(0)
