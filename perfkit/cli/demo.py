"""CLI for `perfkit demo`."""

from __future__ import annotations

from typing import Annotated

import typer

from perfkit.cli.common import emit, progress
from perfkit.cli.options import FIXED_SEED_HELP, FormatOpt, OutputFormat, OutputOpt


def demo_cmd(
    ctx: typer.Context,
    keep: Annotated[
        bool, typer.Option("--keep", help="Keep the demo database (perfkit_demo) afterwards.")
    ] = False,
    statements: Annotated[
        int, typer.Option("--statements", min=50, help="Application statements to run and log.")
    ] = 1200,
    leads: Annotated[
        int, typer.Option("--leads", min=1000, help="Rows in the leads table.")
    ] = 100_000,
    pool_requests: Annotated[
        int, typer.Option("--pool-requests", min=10, help="Requests per pool benchmark point.")
    ] = 400,
    no_pool: Annotated[bool, typer.Option("--no-pool", help="Skip the pool benchmark.")] = False,
    seed: Annotated[int, typer.Option("--seed", metavar="N", help=FIXED_SEED_HELP)] = 42,
    fmt: FormatOpt = OutputFormat.table,
    output: OutputOpt = None,
) -> None:
    """The whole toolkit on a sample CRM database in the embedded PostgreSQL (about a minute)."""
    from perfkit.demo.report import to_document
    from perfkit.demo.run import DemoOptions, run_demo
    from perfkit.demo.workload import DemoSize

    size = DemoSize(leads=leads, activities=2 * leads, accounts=max(100, leads // 50))
    options = DemoOptions(
        statements=statements,
        size=size,
        keep=keep,
        seed=42 if seed is None else seed,
        pool=not no_pool,
        pool_requests=pool_requests,
    )
    result = run_demo(options, progress=progress(ctx))
    emit(to_document(result), fmt, output, ctx=ctx)


def register(app: typer.Typer) -> None:
    """Add this module's commands to ``app``."""
    app.command("demo")(demo_cmd)
