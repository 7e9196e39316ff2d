"""Behaviour every command relies on: errors, formats, atomic output, config, DB layer."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from perfkit.db.target import mask_dsn, resolve_target
from perfkit.errors import ConfigError, InputError, UsageError
from perfkit.report import Column, Document, Table, render, write_atomic
from perfkit.units import parse_duration, parse_list, parse_percent, parse_size

DOC = Document(
    kind="demo",
    schema_version=3,
    data={"items": [{"name": "a|b", "ms": 1.5}]},
    tables=(
        Table(
            name="items",
            title="Items",
            columns=(Column("name", "Name"), Column("ms", "ms", "right", "{:.1f}")),
            rows=(("a|b", 1.5), ("c", None)),
        ),
    ),
    summary=("two items",),
)


def test_json_carries_schema_version_and_kind() -> None:
    payload = json.loads(render(DOC, "json"))
    assert payload["schema_version"] == 3
    assert payload["kind"] == "demo"
    assert payload["items"] == [{"name": "a|b", "ms": 1.5}]


def test_csv_is_the_main_table_with_keys_as_header() -> None:
    assert render(DOC, "csv") == "name,ms\na|b,1.5\nc,\n"


def test_markdown_escapes_pipes_and_aligns_numbers() -> None:
    text = render(DOC, "markdown")
    assert "| Name | ms |\n| --- | ---: |\n| a\\|b | 1.5 |\n| c |  |" in text
    assert "- two items" in text


def test_table_render_is_plain_at_fixed_width() -> None:
    text = render(DOC, "table", width=40)
    assert "two items" in text
    assert "a|b" in text and "1.5" in text
    assert "\x1b[" not in text
    assert all(len(line) <= 40 for line in text.splitlines())


def test_write_atomic_replaces_whole_file_and_keeps_mode(tmp_path: Path) -> None:
    target = tmp_path / "r.json"
    target.write_text("old")
    target.chmod(0o640)
    write_atomic(target, "new")
    assert target.read_text() == "new"
    assert target.stat().st_mode & 0o777 == 0o640
    assert [p.name for p in tmp_path.iterdir()] == ["r.json"]


def test_write_atomic_into_missing_directory_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="output directory does not exist"):
        write_atomic(tmp_path / "nope" / "r.json", "x")


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("250ms", 0.25), ("10s", 10.0), ("2m", 120.0), ("1.5", 1.5), ("100us", 1e-4), (3, 3.0)],
)
def test_parse_duration(text: str | int, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("bad", ["-1s", "ten seconds", "5 parsecs", ""])
def test_parse_duration_rejects(bad: str) -> None:
    with pytest.raises(ValueError):
        parse_duration(bad)


def test_parse_size_percent_list() -> None:
    assert parse_size("64MiB") == 64 * 1024 * 1024
    assert parse_percent("10%") == pytest.approx(0.10)
    assert parse_percent(0.5) == 0.5
    assert parse_list("1, 4,16", int) == [1, 4, 16]
    with pytest.raises(ValueError):
        parse_list("1,,2", int)


def test_mask_dsn_hides_passwords_in_every_form() -> None:
    assert mask_dsn("postgresql://app:s3cr3t@db:5432/x") == "postgresql://app:***@db:5432/x"
    assert mask_dsn("postgresql://db/x?password=s3cr3t&sslmode=require") == (
        "postgresql://db/x?password=***&sslmode=require"
    )
    assert mask_dsn("host=db password='a b' user=u") == "host=db password=*** user=u"
    assert "s3cr3t" not in mask_dsn("host=db password=s3cr3t")


def test_target_precedence(monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = {"db": {"dsn": "postgresql://cfg/x"}}
    assert resolve_target(None, {}).source == "embedded"
    assert resolve_target(None, cfg).source == "config"
    monkeypatch.setenv("PGHOST", "h")
    assert resolve_target(None, cfg).source == "libpq"
    monkeypatch.setenv("PERFKIT_DSN", "postgresql://env/x")
    assert resolve_target(None, cfg).dsn == "postgresql://env/x"
    assert resolve_target("postgresql://opt/x", cfg).source == "option"


def test_error_messages_name_the_place() -> None:
    assert str(InputError("a.log", "bad line", line=7)) == "a.log:7: bad line"
    assert str(UsageError("--clients", "must be at least 1")) == "--clients: must be at least 1"
    assert str(ConfigError("p.toml", "not a number", section="check.pool", key="max")) == (
        "p.toml: [check.pool] max: not a number"
    )


def test_bad_config_file_is_one_line_exit_2(tmp_path: Path, cli: object) -> None:
    bad = tmp_path / "perfkit.toml"
    bad.write_text("[analyze\nslow_ms = 1\n")
    result = cli("--config", str(bad), "db", "status")  # type: ignore[operator]
    assert result.exit_code == 2
    assert result.stderr.startswith(f"perfkit: error: {bad}:1: invalid TOML")
    assert len(result.stderr.strip().splitlines()) == 1


def test_help_does_not_import_heavy_modules() -> None:
    code = (
        "import sys; from perfkit.cli import app; "
        "heavy = [m for m in ('pandas','psycopg','sqlglot','pglast','numpy','scipy','rich') "
        "if m in sys.modules]; print(','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_readonly_session_and_rolled_back_writes(scratch_db: str) -> None:
    from perfkit.db.connect import connect, rolled_back

    conn = connect(scratch_db, statement_timeout="1500ms")
    try:
        assert conn.execute("SHOW statement_timeout").fetchone() == ("1500ms",)
        assert conn.execute("SHOW application_name").fetchone() == ("perfkit",)
        with pytest.raises(Exception, match="read-only transaction"):
            conn.execute("CREATE TABLE t (a int)")
        with rolled_back(conn, read_write=True):
            conn.execute("CREATE TABLE t (a int)")
        assert conn.execute("SELECT to_regclass('t')").fetchone() == (None,)
    finally:
        conn.close()


def test_unreachable_server_is_a_connection_error_without_password() -> None:
    from perfkit.db.connect import connect
    from perfkit.errors import ConnectionFailed

    with pytest.raises(ConnectionFailed) as info:
        connect("postgresql://u:hunter2@127.0.0.1:1/x", connect_timeout=1)
    assert "hunter2" not in str(info.value)
    assert str(info.value).startswith("postgresql://u:***@127.0.0.1:1/x: cannot connect")


def test_config_section_sets_option_defaults_and_rejects_unknown_keys(
    tmp_path: Path, cli: object
) -> None:
    cfg = tmp_path / "perfkit.toml"
    cfg.write_text(
        '[db]\nstatement_timeout = "9s"\n\n[suggest-indexes]\nmin-savings = "40%"\nslo_ms = 3\n'
    )
    result = cli("--config", str(cfg), "suggest-indexes", "-s", "SELECT 1")  # type: ignore[operator]
    assert result.exit_code == 2
    assert result.stderr == (
        f"perfkit: error: {cfg}: [suggest-indexes] slo_ms: unknown option for perfkit suggest-indexes\n"
    )
    good = tmp_path / "good.toml"
    good.write_text('[analyze]\nformat = "json"\nslow-ms = 0\n')
    log = Path(__file__).resolve().parent.parent / "sample_configs" / "logs" / "stderr.log"
    result = cli("--config", str(good), "analyze", str(log))  # type: ignore[operator]
    assert result.exit_code == 0, result.stderr
    payload = json.loads(result.stdout)
    assert payload["schema_version"] >= 1
    assert len(payload["slow"]) > 0  # slow-ms = 0 from the file: every statement is slow


def test_every_sample_config_key_is_a_real_option(cli: object) -> None:
    from typer.main import get_command

    from perfkit.cli import app
    from perfkit.config import load_config, unknown_options

    group = get_command(app)
    sample = Path(__file__).resolve().parent.parent / "sample_configs" / "perfkit.toml"
    cfg = load_config(sample)
    for name in cfg.data:
        if name in ("db", "check"):
            continue
        cmd = group.commands[name]  # type: ignore[attr-defined]
        params = {p.name for p in cmd.params if p.name}
        assert unknown_options(cfg, name, params) == [], name


def test_the_lean_app_of_each_command_is_the_full_apps_command() -> None:
    """`perfkit NAME ...` runs an app holding only NAME: same options, help and output."""
    from typer.main import get_command
    from typer.testing import CliRunner

    from perfkit.cli import COMMANDS, app, app_for

    full = get_command(app)
    assert set(full.commands) == set(COMMANDS)  # type: ignore[attr-defined]
    runner = CliRunner()
    env = {"COLUMNS": "100", "CI": "1"}
    for name in COMMANDS:
        for args in ([name, "--help"], ["--debug", name, "--help"], ["--config", "x", name]):
            lean = app_for(args)
            assert lean is not app
            assert list(get_command(lean).commands) == [  # type: ignore[attr-defined]
                n for n, m in COMMANDS.items() if m == COMMANDS[name]
            ]
        a = runner.invoke(app, [name, "--help"], env=env)
        b = runner.invoke(app_for([name, "--help"]), [name, "--help"], env=env)
        assert (a.exit_code, a.stdout) == (b.exit_code, b.stdout), name
    for args in (["--help"], ["--version"], ["nonsense"], [], ["-x", "analyze"]):
        assert app_for(args) is app
