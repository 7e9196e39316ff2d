"""CLI for `perfkit coldstart`: a target's import time over fresh processes, and what to defer."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from perfkit.cli.check import AgainstDirOpt, AgainstOpt
from perfkit.cli.common import emit, note, progress
from perfkit.cli.options import FormatOpt, HtmlOpt, OutputFormat, OutputOpt

if TYPE_CHECKING:
    from perfkit.coldstart.model import ColdstartResult


AGAINST_RUNS = 12


def _env(pairs: list[str]) -> dict[str, str]:
    from perfkit.errors import UsageError

    out: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise UsageError("--env", f"{pair!r} is not KEY=VALUE")
        out[key] = value
    return out


def coldstart_cmd(
    ctx: typer.Context,
    target: Annotated[
        str | None,
        typer.Argument(
            help="Module (app.handler), file (handler.py), or either with :function "
            "(app.handler:lambda_handler) to also time the first and a warm call.",
            show_default=False,
        ),
    ] = None,
    importtime_log: Annotated[
        list[Path] | None,
        typer.Option(
            "--importtime-log",
            help="Instead of running a target, read saved `-X importtime` output (e.g. Lambda "
            "logs with PYTHONPROFILEIMPORTTIME=1); one run per process (repeatable).",
            dir_okay=False,
            show_default=False,
        ),
    ] = None,
    python: Annotated[
        str | None,
        typer.Option(
            "--python",
            help="Interpreter to run the target with (e.g. .venv/bin/python); default: this one.",
            show_default=False,
        ),
    ] = None,
    cwd: Annotated[
        Path | None,
        typer.Option(
            "--cwd", help="Directory to run in (default: the current one).", show_default=False
        ),
    ] = None,
    env: Annotated[
        list[str] | None,
        typer.Option("--env", help="KEY=VALUE for the target's environment (repeatable)."),
    ] = None,
    path: Annotated[
        list[str] | None,
        typer.Option("--path", help="Extra sys.path entry, before the others (repeatable)."),
    ] = None,
    runs: Annotated[
        int, typer.Option("--runs", min=1, help="Measured processes (plus one warm-up).")
    ] = 7,
    timeout: Annotated[
        str, typer.Option("--timeout", help="Kill a run that takes longer (e.g. 60s, 2m).")
    ] = "60s",
    event: Annotated[
        Path | None,
        typer.Option(
            "--event", help="JSON event for the handler call (default: {}).", show_default=False
        ),
    ] = None,
    top: Annotated[int, typer.Option("--top", min=1, help="Modules and candidates shown.")] = 20,
    html: HtmlOpt = None,
    baseline: Annotated[
        Path | None,
        typer.Option(
            "--baseline",
            help="Compare with an earlier --format json result (Mann-Whitney U over the "
            "run totals and per module, Holm-corrected).",
            show_default=False,
        ),
    ] = None,
    against: AgainstOpt = None,
    against_dir: AgainstDirOpt = None,
    fail_on_regression: Annotated[
        bool,
        typer.Option(
            "--fail-on-regression", help="Exit 1 when --baseline/--against finds a regression."
        ),
    ] = False,
    lambda_memory_mb: Annotated[
        int | None,
        typer.Option(
            "--lambda-memory-mb",
            help="Estimate init time and billed cost at this Lambda memory size.",
            show_default=False,
        ),
    ] = None,
    price_per_gb_s: Annotated[
        float,
        typer.Option(
            "--price-per-gb-s",
            metavar="USD",
            help="Lambda price per GB-second (arm64: 0.0000133334).  [default: 0.0000166667, x86]",
            show_default=False,
        ),
    ] = 0.0000166667,
    no_candidates: Annotated[
        bool, typer.Option("--no-candidates", help="Skip the lazy-load analysis.")
    ] = False,
    fmt: FormatOpt = OutputFormat.table,
    output: OutputOpt = None,
) -> None:
    """Where a handler's cold start goes: import tree, statistics, lazy-load candidates."""
    from perfkit.errors import UsageError

    for option, file in (("--output", output), ("--html", html)):
        # fail before minutes of runs, not after
        if file is not None and not file.parent.is_dir() and str(file.parent):
            raise UsageError(option, f"directory {file.parent} does not exist")
    if (against is not None or against_dir is not None) and importtime_log:
        raise UsageError("--against", "needs a target to run, not --importtime-log")
    if against is not None and against_dir is not None:
        raise UsageError("--against-dir", "give --against REF or --against-dir DIR, not both")
    if importtime_log:
        if target:
            raise UsageError("TARGET", "give a target or --importtime-log, not both")
        from perfkit.coldstart.core import profile_log

        result = profile_log(
            importtime_log,
            lambda_memory_mb=lambda_memory_mb,
            price_per_gb_s=price_per_gb_s,
            baseline=baseline,
        )
    else:
        if not target:
            raise UsageError("TARGET", "missing: a module, a .py file, or --importtime-log FILE")
        if against is not None or against_dir is not None:
            from perfkit.cli.clicklib import ParameterSource

            if ctx.get_parameter_source("runs") in (None, ParameterSource.DEFAULT):
                # paired tests need more runs than two separate results: 12 pairs let the
                # Holm-corrected signed-rank test settle the total and up to 100 modules
                runs = max(runs, AGAINST_RUNS)
            result = _run_against(
                ctx, cwd, against, against_dir,
                lambda other, label: _run(ctx, target, python, cwd, env, path, runs, timeout,
                                          event, lambda_memory_mb, price_per_gb_s, baseline,
                                          no_candidates, other, label),
            )  # fmt: skip
        else:
            result = _run(ctx, target, python, cwd, env, path, runs, timeout, event,
                          lambda_memory_mb, price_per_gb_s, baseline, no_candidates)  # fmt: skip
    _report(ctx, result, top, fmt, output, html, fail_on_regression)


def _run_against(
    ctx: typer.Context,
    cwd: Path | None,
    against: str | None,
    against_dir: Path | None,
    run: Callable[[Path, str], ColdstartResult],
) -> ColdstartResult:
    """``run(other_cwd, label)`` with the other tree in place (removed afterwards)."""
    import os

    from perfkit.check.against import other_tree, this_root

    here = (cwd or Path(os.getcwd())).resolve()
    root = this_root(here)
    with other_tree(here, against, against_dir) as info:
        note(f"measuring against {info.label}", ctx)
        return run(info.directory / here.relative_to(root), info.label)


def _run(
    ctx: typer.Context,
    target: str,
    python: str | None,
    cwd: Path | None,
    env: list[str] | None,
    path: list[str] | None,
    runs: int,
    timeout: str,
    event: Path | None,
    lambda_memory_mb: int | None,
    price_per_gb_s: float,
    baseline: Path | None,
    no_candidates: bool,
    against_cwd: Path | None = None,
    against_label: str = "",
) -> ColdstartResult:
    from perfkit.coldstart.core import profile
    from perfkit.errors import UsageError
    from perfkit.units import parse_duration

    try:
        timeout_s = parse_duration(timeout)
    except ValueError as exc:
        raise UsageError("--timeout", str(exc)) from None
    return profile(
        target,
        runs=runs,
        python=python,
        cwd=cwd,
        env=_env(env or []),
        paths=path or [],
        timeout=timeout_s,
        event=event,
        lambda_memory_mb=lambda_memory_mb,
        price_per_gb_s=price_per_gb_s,
        baseline=baseline,
        analyze=not no_candidates,
        progress=progress(ctx),
        against_cwd=against_cwd,
        against_label=against_label,
    )


def _report(
    ctx: typer.Context,
    result: ColdstartResult,
    top: int,
    fmt: OutputFormat,
    output: Path | None,
    html: Path | None,
    fail_on_regression: bool,
) -> None:
    from perfkit.coldstart.report import to_document
    from perfkit.errors import FindingError

    doc = to_document(result, top=top, terminal=fmt is OutputFormat.table)
    emit(doc, fmt, output, ctx=ctx, html=html)
    if fail_on_regression and result.baseline and result.baseline.verdict == "regression":
        raise FindingError(f"cold start regressed: {result.baseline.reason}")


def register(app: typer.Typer) -> None:
    """Add this module's commands to ``app``."""
    app.command("coldstart")(coldstart_cmd)
