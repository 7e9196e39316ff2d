"""CLI for `perfkit db`: manage the embedded default cluster and inspect the target."""

from __future__ import annotations

import sys

import typer

from perfkit.cli.common import emit, note
from perfkit.cli.common import state as cli_state
from perfkit.cli.options import DsnOpt, FormatOpt, OutputFormat, OutputOpt

db_app = typer.Typer(
    name="db",
    help="The embedded default database (status, start, stop, url, reset) and the current target.",
    no_args_is_help=True,
)

SCHEMA_VERSION = 1


@db_app.command("status")
def status_cmd(
    ctx: typer.Context,
    dsn: DsnOpt = None,
    fmt: FormatOpt = OutputFormat.table,
    output: OutputOpt = None,
    check: bool = typer.Option(
        False,
        "--check",
        help="Connect to the target and show its server version (starts the embedded "
        "cluster if that is the target).",
    ),
) -> None:
    """Which database perfkit would use, and whether the embedded cluster runs."""
    from perfkit.db import embedded
    from perfkit.db.target import resolve_target
    from perfkit.report.model import Column, Document, Table

    config = cli_state(ctx).config
    target = resolve_target(dsn, config.data)
    server: dict[str, object] | None = None
    if check:
        server = _server_info(target, config.data, str(config.path or "perfkit.toml"))
    st = embedded.status()
    rows: list[tuple[str, object]] = [
        ("target", target.masked if not target.embedded else "embedded"),
        ("target source", target.source),
    ]
    if server is not None:
        rows += [
            ("server version", server["server_version"]),
            ("server supported", server["supported"]),
            ("database", server["database"]),
            ("user", server["user"]),
            ("in recovery", server["in_recovery"]),
            ("max_connections", server["max_connections"]),
        ]
    rows += [
        ("embedded data dir", str(st.data_dir)),
        ("embedded initialized", st.initialized),
        ("embedded running", st.running),
        ("embedded pid", st.pid),
        ("embedded url", st.uri),
        ("embedded PostgreSQL", st.version),
    ]
    doc = Document(
        kind="db-status",
        schema_version=SCHEMA_VERSION,
        data={
            "target": {"dsn": target.masked, "source": target.source},
            "server": server,
            "embedded": {
                "data_dir": str(st.data_dir),
                "initialized": st.initialized,
                "running": st.running,
                "pid": st.pid,
                "url": st.uri,
                "version": st.version,
            },
        },
        tables=(Table("status", "", (Column("item", "Item"), Column("value", "Value")), rows),),
    )
    emit(doc, fmt, output, ctx=ctx)


def _server_info(target: object, config: object, path: str) -> dict[str, object]:
    from collections.abc import Mapping

    from perfkit.db.connect import connect, detect_server_version, session_defaults
    from perfkit.db.sql import load_sql
    from perfkit.db.target import Target

    assert isinstance(target, Target)
    defaults = session_defaults(config if isinstance(config, Mapping) else None, path=path)
    with connect(target, **defaults.kwargs()) as conn:
        version = detect_server_version(conn)
        cur = conn.execute(load_sql("server_info", version.num).encode())
        row = cur.fetchone()
        names = [d.name for d in cur.description or ()]
    info: dict[str, object] = dict(zip(names, row or (), strict=False))
    info["server_version"] = version.text
    info["server_version_num"] = version.num
    info["supported"] = version.supported
    return info


@db_app.command("start")
def start_cmd(ctx: typer.Context) -> None:
    """Create (first time) and start the embedded cluster."""
    from perfkit.db import embedded

    uri = embedded.ensure_running()
    note(f"embedded PostgreSQL running at {uri}", ctx)


@db_app.command("stop")
def stop_cmd(ctx: typer.Context) -> None:
    """Stop the embedded cluster (its data is kept)."""
    from perfkit.db import embedded

    note("stopped" if embedded.stop() else "embedded cluster was not running", ctx)


@db_app.command("url")
def url_cmd() -> None:
    """Print the embedded cluster's connection URL (starting it if needed)."""
    from perfkit.db import embedded

    typer.echo(embedded.ensure_running())


@db_app.command("reset")
def reset_cmd(
    ctx: typer.Context,
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask for confirmation."),
) -> None:
    """Stop and delete the embedded cluster and all its data."""
    from perfkit.db import embedded
    from perfkit.errors import PerfkitError, UsageError

    path = embedded.data_dir()
    if not yes:
        if not sys.stdin.isatty():
            raise UsageError(
                "--yes", f"there is no terminal to confirm on; pass --yes to delete {path}"
            )
        if not typer.confirm(f"Delete the embedded cluster at {path}?", default=False):
            raise PerfkitError(f"not confirmed; {path} was not deleted")
    embedded.reset()
    note(f"deleted {path}", ctx)


def register(app: typer.Typer) -> None:
    app.add_typer(db_app)
