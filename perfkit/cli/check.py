"""CLI for `perfkit check` (the CI regression gate) and `perfkit init` (a starter config)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Annotated

import typer

from perfkit.cli.common import debug_note, emit, note, progress, report_text
from perfkit.cli.common import state as cli_state
from perfkit.cli.options import (
    DsnOpt,
    FormatOpt,
    HtmlOpt,
    OutputFormat,
    OutputOpt,
    StatementTimeoutOpt,
)

_FileOpt = dict(dir_okay=False, show_default=False)

# --against / --against-dir, shared with `perfkit coldstart`
AgainstOpt = Annotated[
    str | None,
    typer.Option(
        "--against",
        help="Measure REF (branch, tag, commit) in a temporary git worktree in the same run, "
        "interleaved with this tree run by run, and compare the pairs.",
        metavar="REF",
        show_default=False,
    ),
]
AgainstDirOpt = Annotated[
    Path | None,
    typer.Option(
        "--against-dir",
        help="Like --against, with a prepared checkout of the other version.",
        file_okay=False,
        show_default=False,
    ),
]


def check_cmd(
    ctx: typer.Context,
    baseline: Annotated[
        Path | None,
        typer.Option(
            "--baseline", help="Compare with this baseline (from --save-baseline).", **_FileOpt
        ),
    ] = None,
    against: AgainstOpt = None,
    against_dir: AgainstDirOpt = None,
    save_baseline: Annotated[
        Path | None,
        typer.Option(
            "--save-baseline",
            help="Record every metric with all its samples to FILE (atomically).",
            **_FileOpt,
        ),
    ] = None,
    retries: Annotated[
        int,
        typer.Option(
            "--retries",
            min=0,
            help="Re-measure a timing that crosses its limit up to N times (with --against: "
            "double the pairs while a ratio's interval still holds its limit).",
        ),
    ] = 3,
    alpha: Annotated[
        float,
        typer.Option(
            "--alpha",
            min=0.0001,
            max=0.5,
            help="Significance level of the one-sided tests on timings (Mann-Whitney U "
            "against a baseline file, Wilcoxon signed-rank on --against pairs).",
        ),
    ] = 0.05,
    only: Annotated[
        list[str] | None,
        typer.Option("--only", help="Run only this check (repeatable).", show_default=False),
    ] = None,
    markdown: Annotated[
        Path | None,
        typer.Option(
            "--markdown",
            help="Also write a Markdown report (e.g. $GITHUB_STEP_SUMMARY).",
            **_FileOpt,
        ),
    ] = None,
    junit: Annotated[
        Path | None,
        typer.Option("--junit", help="Also write JUnit XML: one testcase per check.", **_FileOpt),
    ] = None,
    dsn: DsnOpt = None,
    statement_timeout: StatementTimeoutOpt = "30s",
    fmt: FormatOpt = OutputFormat.table,
    output: OutputOpt = None,
    html: HtmlOpt = None,
) -> None:
    """Run the checks of [check] in perfkit.toml; exit 1 on a regression, 2 if one cannot run."""
    from perfkit.check import (
        GateOptions,
        load_baseline,
        parse_gate_config,
        run_gate,
        to_document,
        to_junit,
    )
    from perfkit.check import (
        save_baseline as write_baseline,
    )
    from perfkit.check.types import RunEnv
    from perfkit.errors import FindingError, PerfkitError, UsageError
    from perfkit.report.output import write_atomic

    st = cli_state(ctx)
    gate = parse_gate_config(st.config)
    if against is not None and against_dir is not None:
        raise UsageError("--against-dir", "give --against REF or --against-dir DIR, not both")
    base = load_baseline(baseline) if baseline is not None else None
    env = RunEnv(
        config=st.config, dsn=dsn, statement_timeout=statement_timeout, progress=progress(ctx)
    )
    options = GateOptions(alpha=alpha, retries=retries, only=only or (), env=env)
    if against is None and against_dir is None:
        result = run_gate(gate, base, options)
    else:
        from perfkit.check.against import other_tree, this_root

        config_dir = gate.path.resolve().parent
        with other_tree(config_dir, against, against_dir) as info:
            note(f"measuring against {info.label}", ctx)
            result = run_gate(
                gate, base, replace(options, against=info, here_root=this_root(config_dir))
            )
    doc = to_document(result, raw=fmt == OutputFormat.csv)
    for o in result.errors:
        if o.detail and st.debug:
            debug_note(o.detail, ctx)  # scrubbed like every error perfkit shows
    emit(doc, fmt, output, ctx=ctx, html=html)
    if markdown is not None:
        write_atomic(markdown, report_text(to_document(result), "markdown"))
        note(f"wrote {markdown}", ctx)
    if junit is not None:
        write_atomic(junit, to_junit(result))
        note(f"wrote {junit}", ctx)
    if result.errors:
        # exit 2: the gate is incomplete, which CI must not read as "no regression"
        if save_baseline is not None:
            note(f"baseline not written to {save_baseline}: it would lack those checks", ctx)
        raise PerfkitError(doc.verdict)
    if save_baseline is not None:
        write_baseline(save_baseline, result, gate)
        note(f"wrote baseline {save_baseline}", ctx)
    if result.regressions:
        raise FindingError(doc.verdict)


def init_cmd(
    ctx: typer.Context,
    directory: Annotated[
        Path,
        typer.Argument(help="Project folder to look at.", file_okay=False, exists=True),
    ] = Path("."),
    output: Annotated[
        Path | None,
        typer.Option(
            "--output",
            "-o",
            help="Where to write the config (default: DIRECTORY/perfkit.toml).",
            **_FileOpt,
        ),
    ] = None,
    force: Annotated[
        bool,
        typer.Option(
            "--force", help="Replace the [check] section of an existing file (others are kept)."
        ),
    ] = False,
) -> None:
    """Write a starter perfkit.toml with checks for what this project has."""
    from perfkit.check.init import write_starter_config

    target = output if output is not None else directory / "perfkit.toml"
    written = write_starter_config(directory, target, force=force)
    typer.echo(f"wrote {target}: {written.summary}")
    for line in written.skipped:
        note(line, ctx)
    note("next: perfkit check --save-baseline baseline.json, then --baseline baseline.json", ctx)


def register(app: typer.Typer) -> None:
    """Add this module's commands to ``app``."""
    app.command("check")(check_cmd)
    app.command("init")(init_cmd)
