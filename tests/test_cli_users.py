"""What a person sees: progress lines, where notes go, errors in the user's words."""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from perfkit.cli.progress import RichProgress
from perfkit.pool.bench import PoolBenchOptions, plan_points, point_label

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib


def _shown(progress: RichProgress) -> str:
    """The progress line as a terminal 100 columns wide would show it now."""
    assert progress.progress is not None
    rec = Console(file=io.StringIO(), width=100, color_system=None)
    with rec.capture() as cap:
        rec.print(progress.progress.get_renderable())
    return cap.get()


def _fake(clock: list[float]) -> RichProgress:
    quiet = Console(file=io.StringIO(), width=100, force_terminal=False, color_system=None)
    return RichProgress(quiet, get_time=lambda: clock[0])


def test_reading_logs_shows_megabytes_rate_and_time_left() -> None:
    clock = [0.0]
    bar = _fake(clock)
    bar.start("Reading logs", total=66_446_775, unit="bytes")
    clock[0] = 1.0
    bar.update(completed=8_388_759)
    clock[0] = 2.0
    bar.update(completed=16_777_518)
    line = _shown(bar)
    bar.finish()
    assert "16777518" not in line and "66446775" not in line
    assert "16.8/66.4 MB" in line
    assert "8.4 MB/s" in line  # 8.4 MB read per second of the clock
    assert "0:00:06" in line  # 49.7 MB left at 8.4 MB/s


def test_counted_work_shows_done_of_total() -> None:
    clock = [0.0]
    bar = _fake(clock)
    bar.start("explaining", total=12)
    for _ in range(3):
        bar.advance()
    line = _shown(bar)
    assert " 3/12 " in line and " MB" not in line
    # the same bar switches to bytes when the next stage reads a log
    bar.start("Reading logs", total=2_000_000, unit="bytes")
    assert "0.0/2.0 MB" in _shown(bar)
    bar.finish()
    assert bar.progress is None


def test_pool_progress_label_says_what_runs() -> None:
    options = PoolBenchOptions(clients=(1, 8), pool_sizes=(2,), fresh=True, async_mode=True)
    labels = [point_label(p) for p in plan_points(options, 1)]
    assert labels == [
        "fresh connections, 1 client",
        "pool of 2, 1 client",
        "async pool of 2, 1 client",
        "fresh connections, 8 clients",
        "pool of 2, 8 clients",
        "async pool of 2, 8 clients",
    ]
    assert not any("pool pool" in label for label in labels)
    compare = plan_points(options, 2)[-1]
    assert point_label(compare, "compare") == "compare: async pool of 2, 8 clients"


# --- streams: a report on stdout or in its file, notes and warnings on stderr ----------

QUERYLOG = Path(__file__).parent / "data" / "querylog"
INFERRED = "inferred as '%m [%p] user=%u,db=%d '"


def test_analyze_warnings_go_to_stderr_not_into_the_report(cli: Any, tmp_path: Path) -> None:
    log = str(QUERYLOG / "multiline_param.log")
    r = cli("analyze", log)
    assert r.exit_code == 0, r.output
    assert INFERRED not in r.stdout and "warning" not in r.stdout
    assert any(line.startswith("warning: ") and INFERRED in line for line in r.stderr.splitlines())
    for fmt, ext in (("table", "txt"), ("markdown", "md"), ("csv", "csv")):
        out = tmp_path / f"report.{ext}"
        r = cli("analyze", log, "--format", fmt, "-o", str(out))
        assert r.exit_code == 0, r.output
        assert INFERRED not in out.read_text() and INFERRED in r.stderr
        assert r.stdout == ""
    # JSON keeps them as data for the programs that read it
    r = cli("analyze", log, "--format", "json")
    assert any(INFERRED in w for w in json.loads(r.stdout)["warnings"])


def test_quiet_silences_warnings_and_notes(cli: Any, tmp_path: Path) -> None:
    out = tmp_path / "report.md"
    r = cli("-q", "analyze", str(QUERYLOG / "multiline_param.log"), "-o", str(out))
    assert r.exit_code == 0, r.output
    assert r.stderr == "" and r.stdout == ""
    assert out.read_text().startswith("## ")
    r = cli("analyze", str(QUERYLOG / "multiline_param.log"), "--quiet")
    assert r.exit_code == 0 and r.stderr == "" and r.stdout.startswith("perfkit analyze")


def test_check_warnings_stay_out_of_report_and_markdown(cli: Any, tmp_path: Path) -> None:
    cfg = tmp_path / "perfkit.toml"
    cfg.write_text('[check.t]\ntype = "command"\nrun = "true"\nruns = 3\n')
    base = tmp_path / "base.json"
    assert cli("--config", str(cfg), "check", "--save-baseline", str(base)).exit_code == 0
    data = json.loads(base.read_text())
    data["schema_version"] = 0
    base.write_text(json.dumps(data))
    md = tmp_path / "summary.md"
    r = cli("--config", str(cfg), "check", "--baseline", str(base), "--markdown", str(md))
    assert r.exit_code == 0, r.output
    said = "has schema version 0 (current 1); compared anyway"
    assert said not in r.stdout and said not in md.read_text()
    assert f"warning: baseline base.json {said}" in r.stderr


def test_every_command_renders_through_emit() -> None:
    """Reports are rendered in one place (cli.common), which takes the warnings out of
    them: a command module that renders a Document itself would put them back."""
    import ast

    cli_dir = Path(__file__).parent.parent / "perfkit" / "cli"
    offenders = []
    for path in sorted(cli_dir.glob("*.py")):
        if path.name == "common.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module in (
                "perfkit.report.render",
                "perfkit.report.terminal",
            ):
                names = [a.name for a in node.names]
                if {"render", "render_table", "render_markdown"} & set(names):
                    offenders.append(f"{path.name}:{node.lineno}")
    assert offenders == []


# --- perfkit init writes only checks that run -----------------------------------------

ONE = "SELECT relname FROM pg_class WHERE relpages > 10;\n"
TWO = "SELECT 1;\n\nSELECT count(*) FROM pg_class\n  WHERE relkind = 'r';\n"
NONE = "-- queries go here\n"
DDL = "CREATE TABLE t (a int);\nSELECT oid FROM pg_type WHERE typname = 'int4';\n"


@pytest.mark.parametrize(
    ("files", "checks", "skipped"),
    [
        ({"q/one.sql": ONE}, {"explain-one": ("file", "q/one.sql")}, []),
        (
            {"two.sql": TWO},
            {
                "explain-two-line1": ("query", "SELECT 1"),
                "explain-two-line3": (
                    "query",
                    "SELECT count(*) FROM pg_class\n  WHERE relkind = 'r'",
                ),
            },
            [],
        ),
        ({"empty.sql": NONE}, {}, ["empty.sql: no SQL statement in it, no explain check"]),
        (
            {"schema.sql": DDL},
            {"explain-schema-line2": ("query", "SELECT oid FROM pg_type WHERE typname = 'int4'")},
            ["schema.sql:1: no explain check: refused (write): CREATE TABLE t (a int)"],
        ),
        ({}, {}, []),
    ],
    ids=["one-statement", "two-statements", "no-statement", "ddl-and-select", "no-files"],
)
def test_init_then_check_runs(
    cli: Any,
    tmp_path: Path,
    pg_server: str,
    files: dict[str, str],
    checks: dict[str, tuple[str, str]],
    skipped: list[str],
) -> None:
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    r = cli("init", str(tmp_path))
    assert r.exit_code == 0, r.stderr
    for line in skipped:
        assert line in r.stderr
    written = tomllib.loads((tmp_path / "perfkit.toml").read_text())["check"]
    explain = {k: v for k, v in written.items() if isinstance(v, dict) and v["type"] == "explain"}
    assert {
        k: (key, v[key]) for k, v in explain.items() for key in ("file", "query") if key in v
    } == checks
    r = cli("--config", str(tmp_path / "perfkit.toml"), "check", "--format", "json")
    assert r.exit_code == 0, r.stderr
    report = json.loads(r.stdout)
    assert report["verdict"] == "pass"
    ran = {c["name"] for c in report["checks"]}
    assert set(checks) <= ran


def test_init_then_check_runs_for_a_handler(cli: Any, tmp_path: Path) -> None:
    (tmp_path / "handler.py").write_text(
        "import json\n\ndef handler(event, context):\n    return json.dumps(event)\n"
    )
    r = cli("init", str(tmp_path))
    assert r.exit_code == 0, r.stderr
    assert "coldstart (coldstart)" in r.stdout and "import (command)" in r.stdout
    r = cli("--config", str(tmp_path / "perfkit.toml"), "check", "--format", "json")
    assert r.exit_code == 0, r.stderr
    assert json.loads(r.stdout)["verdict"] == "pass"


# --- errors in the user's words ---------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "line"),
    [
        (
            ("--color", "purple", "demo"),
            "--color: must be one of auto, always, never, not 'purple'",
        ),
        (
            ("analyze", "x.log", "--format", "xml"),
            "--format: must be one of table, json, csv, markdown, not 'xml'",
        ),
        (("analyze", "x.log", "--top", "-1"), "--top: must be at least 0, not -1"),
        (("analyze", "x.log", "--slow-ms", "abc"), "--slow-ms: must be a number, not 'abc'"),
        (
            ("explain", "--statement", "SELECT 1", "--wat"),
            "--wat: no such option for perfkit explain",
        ),
    ],
)
def test_bad_values_get_plain_sentences(cli: Any, args: tuple[str, ...], line: str) -> None:
    r = cli(*args)
    assert r.exit_code == 2
    assert r.stderr.startswith(f"perfkit: error: {line}")
    assert len(r.stderr.splitlines()) == 1 and r.stdout == ""


def test_from_stats_alone_says_only_why(cli: Any, scratch_db: str) -> None:
    import psycopg

    # the embedded cluster has the extension in every database: this one goes without
    with psycopg.connect(scratch_db, autocommit=True) as conn:
        conn.execute("DROP EXTENSION IF EXISTS pg_stat_statements")
    for command in ("explain", "suggest-indexes"):
        r = cli(command, "--from-stats", "--dsn", scratch_db)
        assert r.exit_code == 2, r.output
        assert r.stderr.startswith("perfkit: error: --from-stats: ")
        assert "pg_stat_statements" in r.stderr
        assert "using the other inputs only" not in r.stderr


def test_db_reset_without_a_terminal_asks_for_yes(cli: Any) -> None:
    r = cli("db", "reset")
    assert r.exit_code == 2
    assert "pass --yes" in r.stderr and "Aborted" not in r.output


def test_a_warning_that_the_result_is_empty_stays_in_the_report(cli: Any, tmp_path: Path) -> None:
    """A report file must not look complete when it is not: EMPTY/PARTIAL warnings are
    in it as well as on stderr."""
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    out = tmp_path / "batch.md"
    r = cli("batch", str(empty), "-o", str(out))
    assert r.exit_code == 0, r.output
    said = "EMPTY RESULT: the input held no messages, so nothing was run"
    assert f"> **warning:** {said}" in out.read_text()
    assert f"warning: {said}" in r.stderr
    r = cli("batch", str(empty))
    assert f"warning: {said}" in r.stdout and f"warning: {said}" in r.stderr


def test_init_caps_the_checks_of_one_file_and_says_so(tmp_path: Path) -> None:
    from perfkit.check.init import starter_config

    (tmp_path / "many.sql").write_text("\n".join(f"SELECT {i};" for i in range(8)))
    written = starter_config(tmp_path)
    assert [name for name, _ in written.checks] == [f"explain-many-line{i}" for i in range(1, 6)]
    assert written.skipped == (
        "many.sql: explain checks for its first 5 statements only, not the 3 after them "
        "(add them by hand)",
    )
    table = tomllib.loads(written.text)["check"]["explain-many-line5"]
    assert table == {
        "type": "explain",
        "query": "SELECT 4",
        "limits": {"cost": {"max_increase": "20%"}},
    }


def test_explain_of_a_log_says_what_the_log_reader_warned(cli: Any, scratch_db: str) -> None:
    """The readers' notes (here: the inferred prefix) reach stderr and the JSON, not the table."""
    log = Path(__file__).resolve().parent.parent / "sample_configs" / "logs" / "stderr.log"
    r = cli("explain", str(log), "--dsn", scratch_db)
    assert r.exit_code == 0, r.output
    assert "log_line_prefix inferred as" in r.stderr
    assert "inferred as" not in r.stdout
    r = cli("explain", str(log), "--dsn", scratch_db, "-f", "json")
    assert any("inferred as" in w for w in json.loads(r.stdout)["warnings"])
