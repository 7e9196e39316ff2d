"""The ``perfkit`` command line: a thin layer over the library.

Each command module under :mod:`perfkit.cli` parses options and calls one core
function; heavy imports (pandas, psycopg, sqlglot, pglast) happen inside command
bodies so that ``perfkit --help`` stays fast. Errors are mapped to exit codes in
one place: :meth:`PerfkitGroup.invoke`.
"""

from __future__ import annotations

import atexit
import contextlib
import errno
import gc
import importlib
import sys
import traceback
from typing import Any, NoReturn

import typer
from typer.core import TyperGroup

from perfkit import __version__
from perfkit.cli.clicklib import ClickException, NoArgsIsHelpError
from perfkit.cli.clicklib import Context as ClickContext
from perfkit.cli.clicklib import UsageError as ClickUsageError
from perfkit.cli.common import CliState, usage_error
from perfkit.cli.options import ColorMode, HelpGroup, use_help_classes
from perfkit.config import Config
from perfkit.errors import (
    EXIT_INTERRUPTED,
    EXIT_TERMINATED,
    EXIT_USAGE,
    PerfkitError,
    Terminated,
)

_GLOBAL_FLAGS = ("--debug", "--quiet", "-q")
# global options that take a value, accepted anywhere on the command line
_GLOBAL_VALUED = ("--config", "--color")


class PerfkitGroup(HelpGroup):
    """Typer group with perfkit's error mapping and position-free global flags."""

    def parse_args(self, ctx: ClickContext, args: list[str]) -> list[str]:
        from perfkit import redact

        # every password on the command line is hidden wherever it turns up later (and
        # only those of this invocation: CliRunner runs many in one process)
        redact.forget()
        for arg in args:
            redact.register(arg)
        ctx.meta[_ARGS_KEY] = list(args)
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
            if arg in _GLOBAL_FLAGS or arg.startswith(tuple(f"{o}=" for o in _GLOBAL_VALUED)):
                flags.append(arg)
            elif arg in _GLOBAL_VALUED and i + 1 < len(head):
                # `perfkit check --config ci.toml` like `perfkit --config ci.toml check`
                flags += head[i : i + 2]
                i += 1
            else:
                rest.append(arg)
            i += 1
        return super().parse_args(ctx, flags + rest + tail)

    def make_context(
        self,
        info_name: str | None,
        args: list[str],
        parent: ClickContext | None = None,
        **extra: Any,
    ) -> ClickContext:
        try:
            return super().make_context(info_name, args, parent=parent, **extra)
        except ClickUsageError as exc:
            if isinstance(exc, NoArgsIsHelpError):
                raise
            err = usage_error(exc)
            _render(err, debug="--debug" in args)
            raise typer.Exit(err.exit_code) from None

    def invoke(self, ctx: ClickContext) -> Any:
        try:
            return super().invoke(ctx)
        except PerfkitError as exc:
            err = _blame_config(ctx, exc)
            _report_error(ctx, err)
            raise typer.Exit(err.exit_code) from None
        except Terminated:
            _stop_children()
            _render_line("perfkit: terminated")
            raise typer.Exit(EXIT_TERMINATED) from None
        except KeyboardInterrupt:
            _stop_children()
            _render_line("perfkit: interrupted")
            raise typer.Exit(EXIT_INTERRUPTED) from None
        except NoArgsIsHelpError:
            raise
        except ClickUsageError as exc:
            err = usage_error(exc, _config(ctx))
            _report_error(ctx, err)
            raise typer.Exit(err.exit_code) from None
        except ClickException as exc:  # e.g. a file option that cannot be opened
            err = PerfkitError(str(exc.format_message()).rstrip("."))
            _report_error(ctx, err)
            raise typer.Exit(err.exit_code) from None
        except typer.Abort:
            _render_line("perfkit: error: aborted")
            raise typer.Exit(EXIT_USAGE) from None
        except (typer.Exit, typer.TyperException):
            raise
        except OSError as exc:
            if exc.errno not in (errno.ENOSPC, errno.EDQUOT):
                _internal_error(ctx, exc)
            # a writer that does not go through write_atomic: still one line, not a traceback
            from perfkit.report.output import write_error

            err = write_error(exc.filename or "output", exc)
            _report_error(ctx, err)
            raise typer.Exit(err.exit_code) from None
        except Exception as exc:
            _internal_error(ctx, exc)


def _stop_children() -> None:
    """After Ctrl-C or SIGTERM, and after every ``finally`` ran: a worker process a pool
    started while it was being torn down would keep the interpreter waiting at exit."""
    mp = sys.modules.get("multiprocessing")
    if mp is None:
        return
    for proc in mp.active_children():
        with contextlib.suppress(Exception):
            proc.kill()


def _internal_error(ctx: ClickContext, exc: BaseException) -> NoReturn:
    if _debug(ctx):
        _render_line(traceback.format_exc().rstrip("\n"))
    _render_line(
        f"perfkit: internal error: {type(exc).__name__}: {exc}"
        + ("" if _debug(ctx) else " (run with --debug for the traceback)")
    )
    raise typer.Exit(EXIT_USAGE) from None


_ARGS_KEY = "perfkit.args"


def _debug(ctx: ClickContext) -> bool:
    state = ctx.find_object(CliState)
    return bool(state and state.debug)


def _config(ctx: ClickContext) -> Config:
    found = ctx.find_object(CliState)
    return found.config if found else Config(None, {})


def _render_line(text: str) -> None:
    """The one place perfkit writes an error: every password is scrubbed from it."""
    from perfkit.redact import scrub

    typer.echo(scrub(text), err=True)


def _render(exc: PerfkitError, *, debug: bool) -> None:
    if debug:
        _render_line(traceback.format_exc().rstrip("\n"))
    _render_line(f"perfkit: error: {exc}")
    if exc.hint:
        _render_line(f"  hint: {exc.hint}")


def _report_error(ctx: ClickContext, exc: PerfkitError) -> None:
    _render(exc, debug=_debug(ctx))


def _typed(ctx: ClickContext, opts: list[str]) -> bool:
    """Whether one of ``opts`` is on the command line (``--opt v``, ``--opt=v``, ``-ov``)."""
    args = ctx.meta.get(_ARGS_KEY, [])
    for arg in args:
        if arg == "--":
            break
        for opt in opts:
            if arg == opt or arg.startswith(opt + "="):
                return True
            if len(opt) == 2 and not opt.startswith("--") and arg.startswith(opt):
                return True
    return False


def _blame_config(ctx: ClickContext, exc: PerfkitError) -> PerfkitError:
    """A bad option value that came from the config file names the file and key, not an
    option the user never typed (``[analyze] slow_ms = "abc"`` is not ``--slow-ms``)."""
    from perfkit.config import DEFAULT_CONFIG_NAME, config_key
    from perfkit.errors import ConfigError, UsageError

    if not isinstance(exc, UsageError):
        return exc
    cfg = _config(ctx)
    name = ctx.invoked_subcommand
    group = ctx.command
    if cfg.path is None or not name or not isinstance(group, TyperGroup):
        return exc
    cmd = group.get_command(ctx, name)
    for param in cmd.params if cmd is not None else ():
        opts = [*param.opts, *param.secondary_opts]
        if exc.option not in opts or not param.name:
            continue
        key = config_key(cfg, name, param.name)
        if key is None or _typed(ctx, opts):
            return exc
        prefix = f"{exc.option}: "
        message = exc.message[len(prefix) :] if exc.message.startswith(prefix) else exc.message
        err = ConfigError(cfg.path or DEFAULT_CONFIG_NAME, message, section=name, key=key)
        err.hint = exc.hint
        return err
    return exc


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
    color: ColorMode = typer.Option(
        ColorMode.auto,
        "--color",
        help="Colour in reports and progress: auto (a terminal, unless NO_COLOR is set or "
        "TERM=dumb; FORCE_COLOR forces it), always or never.",
        case_sensitive=False,
    ),
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Show the version and exit."
    ),
) -> None:
    from perfkit import redact
    from perfkit.config import default_map, load_config

    ctx.obj = CliState(debug=debug, quiet=quiet, color=color.value)
    try:
        cfg = load_config(config)
        redact.register_values(cfg.data)
        _check_config(ctx, cfg)
    except PerfkitError as exc:
        _report_error(ctx, exc)
        raise typer.Exit(exc.exit_code) from None
    ctx.obj = CliState(debug=debug, quiet=quiet, color=color.value, config=cfg)
    ctx.default_map = default_map(cfg)


def _check_config(ctx: typer.Context, cfg: Config) -> None:
    """Unknown sections and keys are errors, in every section of the file (``[db]`` too),
    checked against each command's real parameters: nothing is silently ignored."""
    from perfkit.config import validate_config

    group = ctx.command

    def params_of(name: str) -> set[str] | None:
        if name == ctx.invoked_subcommand and isinstance(group, TyperGroup):
            cmd = group.get_command(ctx, name)
            if cmd is None or isinstance(cmd, TyperGroup):
                return None
            return {p.name for p in cmd.params if p.name}
        return command_parameters(name)

    validate_config(cfg, COMMANDS, params_of)


def command_parameters(name: str) -> set[str] | None:
    """The parameter names of command ``name``, read from the signature of the function
    it runs (what Typer names its options after), without building the click command
    (~50 ms for all of them); ``None`` for a group or an unknown name."""
    import inspect

    for info in app.registered_commands:
        callback = info.callback
        if callback is None:
            continue
        if (info.name or callback.__name__.replace("_", "-")) != name:
            continue
        return {
            pname
            for pname, param in inspect.signature(callback).parameters.items()
            if "Context" not in str(param.annotation)
        }
    return None


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
_MODULES = (
    "analyze",
    "merge",
    "pool",
    "db",
    "explain",
    "coldstart",
    "batch",
    "replay",
    "check",
    "report",
    "demo",
)
COMMANDS = {
    "analyze": "analyze",
    "merge": "merge",
    "pool": "pool",
    "db": "db",
    "explain": "explain",
    "suggest-indexes": "explain",
    "coldstart": "coldstart",
    "batch": "batch",
    "replay": "replay",
    "check": "check",
    "init": "check",
    "report": "report",
    "demo": "demo",
}


def _register(target: typer.Typer, modules: tuple[str, ...] = _MODULES) -> None:
    # Each module adds its own commands; modules import only typer at top level.
    for name in modules:
        importlib.import_module(f"perfkit.cli.{name}").register(target)
    use_help_classes(target)


app = _make_app()
_register(app)


def app_for(args: list[str]) -> typer.Typer:
    """The app to run ``args`` with: one that holds only the invoked command when it is
    a known one (Typer turns every registered command into a click command on each run,
    ~50 ms for all of them, paid before any command starts), else the full app."""
    i = 0
    while i < len(args):
        arg = args[i]
        if arg in _GLOBAL_VALUED:
            i += 2
            continue
        if arg.startswith("-"):
            if arg in _GLOBAL_FLAGS or arg.startswith(tuple(f"{o}=" for o in _GLOBAL_VALUED)):
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
    install_sigterm()
    try:
        app_for(sys.argv[1:])(prog_name="perfkit")
    except Terminated:
        _stop_children()
        _render_line("perfkit: terminated")
        sys.exit(EXIT_TERMINATED)
    except KeyboardInterrupt:
        _stop_children()
        _render_line("perfkit: interrupted")
        sys.exit(EXIT_INTERRUPTED)
    sys.exit(0)


def install_sigterm() -> None:
    """SIGTERM takes the path Ctrl-C takes: :class:`Terminated` (a ``KeyboardInterrupt``)
    is raised in the main thread, so every ``finally`` runs - analyze's ``/dev/shm`` spill
    directory and its worker pool, temp files of atomic writes, rolled-back transactions -
    and perfkit exits with 143 (128 + SIGTERM). Forked children (analyze's workers) keep
    the default action: a pool that terminates them must not make them raise."""
    import os
    import signal
    import threading

    owner = os.getpid()

    def on_sigterm(signum: int, frame: object) -> None:
        if os.getpid() != owner:  # a child forked before the at-fork reset could run
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            os.kill(os.getpid(), signal.SIGTERM)
            return
        raise Terminated()

    def default_in_child() -> None:
        # a Python-level handler only runs between bytecodes: a worker blocked in C on its
        # task queue would never die of the SIGTERM its pool's terminate() sends
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        if sys.platform.startswith("linux"):
            # and a worker forked while the parent was being terminated (before its pool
            # could track it) must not outlive the parent: PR_SET_PDEATHSIG
            with contextlib.suppress(Exception):
                import ctypes

                ctypes.CDLL(None).prctl(1, signal.SIGTERM)

    # A signal that lands in code whose exceptions Python ignores (an at-fork hook while
    # analyze starts its workers, a __del__) would be lost: send it again a moment later.
    previous = sys.unraisablehook

    def on_unraisable(info: Any) -> None:
        if isinstance(info.exc_value, Terminated) and os.getpid() == owner:
            threading.Timer(0.01, os.kill, (owner, signal.SIGTERM)).start()
            return
        previous(info)

    sys.unraisablehook = on_unraisable
    os.register_at_fork(after_in_child=default_in_child)
    signal.signal(signal.SIGTERM, on_sigterm)
