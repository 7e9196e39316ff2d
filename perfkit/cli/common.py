"""Helpers every command uses: state, output, progress. No heavy imports."""

from __future__ import annotations

import os
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from perfkit.cli.clicklib import get_current_context
from perfkit.config import Config
from perfkit.errors import PerfkitError

if TYPE_CHECKING:
    from perfkit.report.model import Document
    from perfkit.report.progress import ProgressSink


@dataclass
class CliState:
    debug: bool = False
    quiet: bool = False
    color: str = "auto"
    config: Config = field(default_factory=lambda: Config(None, {}))


def state(ctx: typer.Context | None = None) -> CliState:
    ctx = ctx or get_current_context(silent=True)  # type: ignore[assignment]
    found = ctx.find_object(CliState) if ctx else None
    return found or CliState()


def interactive() -> bool:
    """A person is watching: stderr is a terminal and we are not in CI."""
    return sys.stderr.isatty() and not os.environ.get("CI")


def color_stdout(ctx: typer.Context | None = None, stream: Any = None) -> bool:
    """Whether a report on stdout (or ``stream``) gets ANSI colour: ``--color``,
    NO_COLOR, FORCE_COLOR, TERM=dumb, then whether it is a terminal."""
    from perfkit.report.color import use_color

    return use_color(sys.stdout if stream is None else stream, state(ctx).color)


def progress(ctx: typer.Context | None = None) -> ProgressSink:
    """A rich progress bar on a terminal; silent in pipes, CI and with --quiet - and when
    colour is off (NO_COLOR, TERM=dumb, --color never): the bar redraws itself with escape
    sequences, which such a terminal or reader asked not to get."""
    if state(ctx).quiet or not interactive() or not color_stdout(ctx, sys.stderr):
        from perfkit.report.progress import NullProgress

        return NullProgress()
    from perfkit.cli.progress import RichProgress

    return RichProgress()


def note(message: str, ctx: typer.Context | None = None) -> None:
    """A short informational line on stderr (suppressed by --quiet); passwords scrubbed."""
    if not state(ctx).quiet:
        from perfkit.redact import scrub

        typer.echo(scrub(message), err=True)


def warn(message: str, ctx: typer.Context | None = None) -> None:
    """A warning line on stderr (``warning: ...``, yellow on a colour terminal); like every
    note it never goes into a report and --quiet silences it."""
    if state(ctx).quiet:
        return
    from perfkit.redact import scrub

    text = f"warning: {scrub(message)}"
    if color_stdout(ctx, sys.stderr):
        text = typer.style(text, fg="yellow")
    typer.echo(text, err=True, color=True)


#: how a warning that qualifies the result itself starts (``PARTIAL RESULT: stopped early``)
RESULT_MARKERS = ("PARTIAL", "EMPTY")


def about_result(warning: str) -> bool:
    """Whether ``warning`` says the result is partial or empty (it stays in the report)."""
    return warning.startswith(RESULT_MARKERS)


def report_text(doc: Document, name: str, *, table: str | None = None, color: bool = False) -> str:
    """``doc`` rendered as format ``name`` for stdout or a file. Its warnings are not in
    the text (they go to stderr, see :func:`emit`) except those that say the result
    itself is partial or empty (:func:`about_result`): a report file must not look
    complete when it is not. JSON keeps them all as data, under ``warnings``."""
    import dataclasses

    from perfkit.redact import scrub
    from perfkit.report.render import render

    if name != "json":
        doc = dataclasses.replace(doc, warnings=tuple(w for w in doc.warnings if about_result(w)))
    if name == "table" and color:
        from perfkit.report.terminal import render_table

        text = render_table(doc, color=True)
    else:
        text = render(doc, name, table=table)
    return scrub(text, key_values=False)


def debug_note(message: str, ctx: typer.Context | None = None) -> None:
    if state(ctx).debug:
        from perfkit.redact import scrub

        typer.echo(scrub(message), err=True)


def emit(
    doc: Document,
    fmt: Any,
    output: Path | None,
    *,
    table: str | None = None,
    ctx: typer.Context | None = None,
    html: Path | None = None,
) -> None:
    """Render ``doc`` and write it to ``output`` (atomically) or stdout, with every
    known password scrubbed (a report may quote an error or a target); its warnings
    go to stderr after it (not with --quiet). ``html``: also the HTML page of the report
    (``-o out.html`` without ``--format``: only the page), made from the whole report as
    ``perfkit report`` makes it from the JSON."""
    name = fmt.value if hasattr(fmt, "value") else str(fmt)
    if output is not None:
        name = format_for_output(name, output, ctx)
    page = None
    if html is not None or name == "html":
        from perfkit.html import render_document
        from perfkit.redact import scrub

        page = scrub(render_document(doc), key_values=False)
    if html is not None:
        from perfkit.report.output import write_atomic

        write_atomic(html, page or "")
        note(f"wrote {html}", ctx)
    if name == "html":
        text = page or ""
    else:
        text = report_text(doc, name, table=table, color=output is None and color_stdout(ctx))
    if output is None:
        write_stdout(text)
    else:
        from perfkit.report.output import write_atomic

        write_atomic(output, text)
        note(f"wrote {output}", ctx)
    for message in doc.warnings:
        warn(message, ctx)


#: ``-o FILE`` without ``--format``: the format its extension names
FORMAT_BY_EXTENSION = {
    ".json": "json",
    ".csv": "csv",
    ".md": "markdown",
    ".markdown": "markdown",
    ".txt": "table",
    ".html": "html",
    ".htm": "html",
}


def format_for_output(name: str, output: Path, ctx: typer.Context | None) -> str:
    """The report format for ``-o output``: ``--format`` (or the config's ``format``) when
    given, else the one the extension names (``out.json`` is JSON, ``out.html`` the HTML
    page), else ``name``."""
    ctx = ctx or get_current_context(silent=True)  # type: ignore[assignment]
    source = ctx.get_parameter_source("fmt") if ctx is not None else None
    if source is None or source.name != "DEFAULT":
        return name  # given on the command line, by the environment or the config
    ext = output.suffix.lower()
    return FORMAT_BY_EXTENSION.get(ext, name)


def write_stdout(text: str) -> None:
    """Write a report to stdout; a full disk behind a redirection is one error line."""
    import errno

    try:
        sys.stdout.write(text)
        sys.stdout.flush()
    except OSError as exc:
        if exc.errno == errno.EPIPE:
            raise
        from perfkit.report.output import write_error

        # what is still buffered would fail again at exit, with a traceback-like message
        with open(os.devnull, "wb") as null:
            os.dup2(null.fileno(), sys.stdout.fileno())
        raise write_error("<stdout>", exc) from None


def _choice_first(text: str) -> str:
    """``'xml' is not one of 'table', 'json'`` -> ``must be one of table, json, not 'xml'``:
    what the value must be first, like every other bad-value message."""
    choice = re.fullmatch(r"(.+?) is not one of (.+)", text)
    if choice is None:
        return text
    return f"must be one of {choice.group(2).replace(chr(39), '')}, not {choice.group(1)}"


def _sentence(exc: Any) -> str:
    """What is wrong with a value, as a plain sentence (not the validator's wording)."""
    cause = exc.__cause__
    errors = cause.errors() if cause is not None and hasattr(cause, "errors") else None
    if not errors:
        text = str(exc.message).strip()
        if text.startswith("Value error, "):
            text = text[len("Value error, ") :]
        return _choice_first(text.rstrip("."))
    err = errors[0]
    kind = str(err.get("type", ""))
    given = err.get("input")
    shown = repr(given) if isinstance(given, str) else str(given)
    limits = err.get("ctx") or {}
    bounds = {
        "greater_than_equal": ("ge", "at least"),
        "greater_than": ("gt", "more than"),
        "less_than_equal": ("le", "at most"),
        "less_than": ("lt", "less than"),
    }
    if kind in bounds:
        key, words = bounds[kind]
        return f"must be {words} {limits.get(key)}, not {given}"
    if kind.startswith("int_"):
        return f"must be a whole number, not {shown}"
    if kind.startswith("float_") or kind.startswith("decimal_"):
        return f"must be a number, not {shown}"
    if kind.startswith("bool_"):
        return f"must be true or false, not {shown}"
    if kind == "enum":
        expected = str(limits.get("expected", "")).replace("'", "")
        return f"must be one of {expected}, not {shown}"
    if kind == "value_error" and "error" in limits:
        return _choice_first(str(limits["error"]).rstrip("."))
    return str(err.get("msg", exc.message)).replace("Input should be", "should be").rstrip(".")


def _param_label(param: Any) -> str:
    opts = [o for o in getattr(param, "opts", ()) if o.startswith("--")]
    if getattr(param, "param_type_name", "") == "argument" or not opts:
        return str(getattr(param, "metavar", None) or param.name)
    return str(opts[0])


def usage_error(exc: Any, config: Config | None = None) -> PerfkitError:
    """A click usage error (bad or unknown option, missing argument) as perfkit's one
    plain line naming the option - or the config file and key the bad value came from."""
    from perfkit.cli.clicklib import (
        BadOptionUsage,
        BadParameter,
        MissingParameter,
        NoSuchOption,
        ParameterSource,
    )
    from perfkit.config import DEFAULT_CONFIG_NAME, close_match, config_key
    from perfkit.errors import ConfigError, UsageError

    sub = exc.ctx
    where = f"perfkit {sub.command_path.split(' ', 1)[1]}" if sub and sub.parent else "perfkit"
    helper = f" (see '{sub.command_path} --help')" if sub else ""
    if (
        isinstance(exc, BadParameter)
        and not isinstance(exc, MissingParameter)
        and exc.param
        and exc.param.name
    ):
        sentence = _sentence(exc)
        name = exc.param.name
        if (
            sub is not None
            and config is not None
            and config.path is not None
            and sub.get_parameter_source(name) == ParameterSource.DEFAULT_MAP
        ):
            section = str(sub.info_name)
            key = config_key(config, section, name) or name
            return ConfigError(
                config.path or DEFAULT_CONFIG_NAME, sentence, section=section, key=key
            )
        return UsageError(_param_label(exc.param), sentence)
    if isinstance(exc, NoSuchOption):
        known = [
            o for p in (sub.command.params if sub else ()) for o in p.opts if o.startswith("--")
        ]
        match = close_match(exc.option_name.lstrip("-"), [o.lstrip("-") for o in known])
        if match:
            return UsageError(
                exc.option_name, f"no such option for {where}; did you mean --{match}?"
            )
        return UsageError(exc.option_name, f"no such option for {where}{helper}")
    text = str(exc.format_message()).strip().rstrip(".")
    if isinstance(exc, BadOptionUsage) and exc.option_name:
        if "requires" in text and "argument" in text:
            return UsageError(exc.option_name, "needs a value")
        if "does not take a value" in text:
            return UsageError(exc.option_name, "takes no value")
    return PerfkitError(text[:1].lower() + text[1:] + helper)
