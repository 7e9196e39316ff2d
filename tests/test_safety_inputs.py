"""Issue 13 (part C) and 16: passwords never shown, no silent wrong result, config errors.

Every test talks to a real PostgreSQL where a connection is involved: the session's
embedded cluster, or the private cluster of ``test_db_fixtures`` whose role needs a SCRAM
password. Masking is checked on text a user can see: stdout, stderr (with and without
``--debug``), report files, JUnit and markdown.
"""

from __future__ import annotations

import json
import os
import random
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_db_fixtures import PW_ROLE, PW_SECRET, private_cluster

from perfkit import redact
from perfkit.db import embedded
from perfkit.db.target import mask_dsn

__all__ = ["private_cluster"]  # the shared fixture

ROOT = Path(__file__).resolve().parent.parent
STDERR_LOG = ROOT / "sample_configs" / "logs" / "stderr.log"
JSONL_LOG = ROOT / "sample_configs" / "logs" / "app.jsonl"
SECRET = "Zq9SECRETxj"


@pytest.fixture(autouse=True)
def _fresh_registry() -> Any:
    redact.forget()
    yield
    redact.forget()


def _seen(result: Any) -> str:
    return str(result.stdout) + str(result.stderr)


# --- mask_dsn: never raises, never echoes ----------------------------------------------


@pytest.mark.parametrize(
    ("dsn", "masked"),
    [
        ("postgresql://app:s3cr3t@db:5432/x", "postgresql://app:***@db:5432/x"),
        ("postgres://app:s3cr3t@db/x?sslmode=require", "postgres://app:***@db/x?sslmode=require"),
        (
            "postgresql://db/x?password=s3cr3t&sslmode=require",
            "postgresql://db/x?password=***&sslmode=require",
        ),
        ("postgresql://u:SECRET@[127.0.0.1/db", "postgresql://u:***@[127.0.0.1/db"),
        ("postgresql://u:SECRET%zz@127.0.0.1/db", "postgresql://u:***@127.0.0.1/db"),
        ("postgresql://u:pa/ss@h/db", "postgresql://u:***@h/db"),
        ("postgresql://u:p@ss@h/db", "postgresql://u:***@h/db"),
        ("postgresql://u:p?ss@h/db?sslmode=a", "postgresql://u:***@h/db?sslmode=a"),
        ("postgresql://:SECRET@h/db", "postgresql://:***@h/db"),
        ("postgresql://u@h/db", "postgresql://u@h/db"),
        ("postgresql://u:SEC RET@h/db", "postgresql://u:***@h/db"),
        ("host=db password=s3cr3t user=u", "host=db password=*** user=u"),
        ("host=db password = 's3 cr\\'et' user=u", "host=db password = *** user=u"),
        ("host=db PASSWORD='unterminated secret", "host=db PASSWORD=***"),
        ("host=db user=u", "host=db user=u"),
        ("", ""),
    ],
)
def test_mask_dsn_every_form(dsn: str, masked: str) -> None:
    assert mask_dsn(dsn) == masked


_PW = st.text(
    alphabet=st.characters(blacklist_categories=["Cs"], blacklist_characters="\n\r"),
    min_size=0,
    max_size=20,
).map(lambda s: f"Zq{s}Xj")


@settings(max_examples=300, deadline=None)
@given(pw=_PW, host=st.sampled_from(["h", "[::1]", "[127.0.0.1", "h:5432,h2:5433", ""]))
def test_mask_dsn_hides_any_uri_password(pw: str, host: str) -> None:
    assert pw not in mask_dsn(f"postgresql://user:{pw}@{host}/db?sslmode=prefer")


@settings(max_examples=300, deadline=None)
@given(pw=_PW)
def test_mask_dsn_hides_any_quoted_key_value_password(pw: str) -> None:
    quoted = "'" + pw.replace("\\", "\\\\").replace("'", "\\'") + "'"
    masked = mask_dsn(f"host=h password={quoted} dbname=x")
    assert pw not in masked and masked.startswith("host=h password=***")


@settings(max_examples=300, deadline=None)
@given(text=st.text(max_size=60))
def test_mask_dsn_and_scrub_never_raise(text: str) -> None:
    mask_dsn(text)
    redact.register(text)
    redact.scrub(text)


# --- scrub: every secret perfkit was handed ----------------------------------------------


def test_scrub_hides_pgpassword_passfile_and_service_file_passwords(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    passfile = tmp_path / "pgpass"
    passfile.write_text("# comment\ndb:5432:*:app:file\\:Secret1\n*:*:*:*:other-Secret2\n")
    service = tmp_path / "services.conf"
    service.write_text("[app]\nhost=db\npassword=svc-Secret3\n")
    monkeypatch.setenv("PGPASSWORD", "env-Secret0")
    monkeypatch.setenv("PGPASSFILE", str(passfile))
    monkeypatch.setenv("PGSERVICEFILE", str(service))
    text = 'failed: "env-Secret0" "file:Secret1" other-Secret2 (svc-Secret3)'
    assert redact.scrub(text) == 'failed: "***" "***" *** (***)'


def test_scrub_hides_a_passfile_named_in_the_dsn(tmp_path: Path) -> None:
    passfile = tmp_path / "pf"
    passfile.write_text("*:*:*:*:Named-Secret\n")
    redact.register(f"host=db passfile={passfile}")
    assert redact.scrub("echo Named-Secret") == "echo ***"


def test_scrub_hides_every_spelling_in_reports() -> None:
    pw = 'a"b|c<d&e\\f'
    redact.register_secret(pw)
    for spelt in (pw, json.dumps(pw)[1:-1], pw.replace('"', '""'), pw.replace("|", "\\|")):
        assert redact.scrub(f"x {spelt} y", key_values=False) == "x *** y"
    assert redact.scrub("x a&quot;b|c&lt;d&amp;e\\f y", key_values=False) == "x *** y"


def test_scrub_masks_structure_it_was_never_told_about() -> None:
    text = 'bad URI: "postgresql://u:Unknown1@[::1/db" and host=h password=Unknown2 x'
    assert redact.scrub(text) == 'bad URI: "postgresql://u:***@[::1/db" and host=h password=*** x'


def test_sql_on_the_command_line_is_not_taken_for_a_password() -> None:
    redact.register("SELECT * FROM users WHERE password = $1")
    redact.register("--dsn=host=h password='two words' user=u")
    assert redact.scrub("WHERE id = $1 AND pw = 'two words'", key_values=False) == (
        "WHERE id = $1 AND pw = ***"
    )


def test_a_short_password_is_hidden_without_eating_words() -> None:
    redact.register("postgresql://postgres:postgres@h/db")
    assert redact.scrub("postgresql://postgres@h: user postgres") == (
        "postgresql://***@h: user ***"
    )


# --- the CLI: every command that connects, every DSN form, with and without --debug -----

_BAD_DSNS = [
    pytest.param(f"postgresql://u:{SECRET}@[127.0.0.1/db", id="uri-unclosed-bracket"),
    pytest.param(f"postgresql://u:{SECRET}%zz@127.0.0.1/db", id="uri-bad-percent-escape"),
    pytest.param(f"postgresql://u:{SECRET}@127.0.0.1:1/db", id="uri-unreachable"),
    pytest.param(f"postgresql://127.0.0.1:1/db?password={SECRET}", id="uri-query-password"),
    pytest.param(f"host=127.0.0.1 port=1 password={SECRET}", id="kv-unreachable"),
    pytest.param(f"host=127.0.0.1 port=1 password='{SECRET} x", id="kv-unterminated-quote"),
    pytest.param(f"host=127.0.0.1 port=99999 password={SECRET}", id="kv-bad-port"),
]
_COMMANDS = [
    pytest.param(("explain", "-s", "SELECT 1"), id="explain"),
    pytest.param(("pool", "--requests", "5", "--warmup", "0", "--clients", "1"), id="pool"),
    pytest.param(("db", "status", "--check"), id="db-status-check"),
    pytest.param(
        ("suggest-indexes", "-s", "SELECT 1 FROM pg_class WHERE relname = 'x'"), id="suggest"
    ),
]


@pytest.mark.parametrize("dsn", _BAD_DSNS)
@pytest.mark.parametrize("command", _COMMANDS)
@pytest.mark.parametrize("debug", [False, True], ids=["plain", "debug"])
def test_no_error_path_shows_the_password(
    cli: Any, command: tuple[str, ...], dsn: str, debug: bool
) -> None:
    args = (*command, "--dsn", dsn, "--connect-timeout", "1")
    result = cli(*(("--debug", *args) if debug else args))
    assert result.exit_code == 2, _seen(result)
    assert SECRET not in _seen(result)
    assert "perfkit: error: " in result.stderr and "internal error" not in result.stderr
    if not debug:
        assert result.stderr.startswith("perfkit: error: ")
        assert "Traceback" not in result.stderr


@pytest.mark.parametrize("where", ["PERFKIT_DSN", "config"])
def test_a_malformed_dsn_from_the_environment_or_config_is_masked(
    cli: Any, tmp_path: Path, where: str
) -> None:
    dsn = f"postgresql://u:{SECRET}%zz@127.0.0.1/db"
    cfg = tmp_path / "perfkit.toml"
    cfg.write_text(f'[db]\ndsn = "{dsn}"\n' if where == "config" else "")
    env = {"PERFKIT_DSN": dsn} if where == "PERFKIT_DSN" else {}
    result = cli("--config", str(cfg), "--debug", "db", "status", "--check", env=env)
    assert result.exit_code == 2
    assert SECRET not in _seen(result)
    assert result.stderr.splitlines()[-1] == (
        "perfkit: error: postgresql://u:***@127.0.0.1/db: invalid connection string: "
        'invalid percent-encoded token: "***"'
    )


@pytest.mark.parametrize("fmt", ["table", "json", "csv", "markdown"])
def test_every_output_format_shows_the_target_masked(
    cli: Any, tmp_path: Path, fmt: str, private_cluster: Path
) -> None:
    embedded.ensure_running(private_cluster)
    dsn = f"postgresql://{PW_ROLE}:{PW_SECRET}@/postgres?host={private_cluster}"
    out = tmp_path / f"status.{fmt}"
    result = cli("db", "status", "--dsn", dsn, "--format", fmt)
    assert result.exit_code == 0, result.stderr
    assert PW_SECRET not in _seen(result) and f"{PW_ROLE}:***@" in result.stdout
    result = cli("db", "status", "--dsn", dsn, "--format", fmt, "-o", str(out))
    assert result.exit_code == 0, result.stderr
    assert PW_SECRET not in out.read_text() + _seen(result)


def test_pgpassword_and_passfile_connect_and_never_show(
    cli: Any, tmp_path: Path, private_cluster: Path
) -> None:
    embedded.ensure_running(private_cluster)
    dsn = f"postgresql://{PW_ROLE}@/postgres?host={private_cluster}"
    result = cli(
        "--debug",
        "db",
        "status",
        "--check",
        "--dsn",
        dsn,
        "-f",
        "json",
        env={"PGPASSWORD": PW_SECRET},
    )
    assert result.exit_code == 0, result.stderr
    assert PW_SECRET not in _seen(result)
    passfile = tmp_path / "pgpass"
    passfile.write_text(f"*:*:*:{PW_ROLE}:{PW_SECRET}\n")
    passfile.chmod(0o600)
    result = cli(
        "db", "status", "--check", "--dsn", dsn, "-f", "json", env={"PGPASSFILE": str(passfile)}
    )
    assert result.exit_code == 0, result.stderr
    assert PW_SECRET not in _seen(result)


def test_a_wrong_password_is_an_authentication_error_without_it(
    cli: Any, private_cluster: Path
) -> None:
    embedded.ensure_running(private_cluster)
    for args, env in (
        ((f"postgresql://{PW_ROLE}:{SECRET}@/postgres?host={private_cluster}",), {}),
        ((f"host={private_cluster} user={PW_ROLE} dbname=postgres password='{SECRET}'",), {}),
        ((f"postgresql://{PW_ROLE}@/postgres?host={private_cluster}",), {"PGPASSWORD": SECRET}),
    ):
        for debug in ((), ("--debug",)):
            result = cli(*debug, "explain", "-s", "SELECT 1", "--dsn", *args, env=env)
            assert result.exit_code == 2
            assert "authentication failed" in result.stderr
            assert SECRET not in _seen(result)


def test_check_reports_junit_and_markdown_never_show_the_password(cli: Any, tmp_path: Path) -> None:
    cfg = tmp_path / "perfkit.toml"
    cfg.write_text(
        "[check.pool]\n"
        'type = "pool"\n'
        f'dsn = "postgresql://u:{SECRET}%zz@127.0.0.1/db"\n'
        "clients = [1]\nrequests = 10\nrepeats = 2\n"
        'limits.pooled_c1 = { max = "1s" }\n'
    )
    junit, md, out = tmp_path / "j.xml", tmp_path / "m.md", tmp_path / "o.json"
    result = cli(
        "--config", str(cfg), "--debug", "check",
        "--junit", str(junit), "--markdown", str(md), "-f", "json", "-o", str(out),
    )  # fmt: skip
    assert result.exit_code == 2
    for text in (junit.read_text(), md.read_text(), out.read_text(), _seen(result)):
        assert SECRET not in text
    assert "postgresql://u:***@127.0.0.1/db: invalid connection string" in junit.read_text()


def test_a_baseline_file_never_shows_the_password(
    cli: Any, tmp_path: Path, private_cluster: Path
) -> None:
    embedded.ensure_running(private_cluster)
    dsn = f"postgresql://{PW_ROLE}:{PW_SECRET}@/postgres?host={private_cluster}"
    cfg = tmp_path / "perfkit.toml"
    cfg.write_text(
        f'[check]\ndsn = "{dsn}"\n\n[check.pool]\ntype = "pool"\n'
        "clients = [1]\nrequests = 5\nrepeats = 2\nfresh = false\n"
        'limits.pooled_c1 = { max = "10s" }\n'
    )
    base = tmp_path / "baseline.json"
    result = cli("--config", str(cfg), "check", "--save-baseline", str(base))
    assert result.exit_code == 0, result.stderr
    assert PW_SECRET not in base.read_text() + _seen(result)


# --- config: unknown sections and keys, bad values name the file and key ------------


@pytest.mark.parametrize(
    ("text", "command", "message"),
    [
        (
            '[db]\nstatment_timeout = "1s"\n',
            ("analyze", str(STDERR_LOG)),
            "[db] statment_timeout: unknown key; did you mean statement_timeout?",
        ),
        ('[db]\nstatement-timeout = "1s"\n', ("db", "status"), "[db] statement-timeout: unknown key; did you mean statement_timeout?"),
        ('[db]\nsslmode = "require"\n', ("db", "status"), "[db] sslmode: unknown key"),
        ("[analyse]\nslow_ms = 1\n", ("analyze", str(STDERR_LOG)), "[analyse] unknown section; did you mean [analyze]?"),
        ("[nothing-like-it]\nx = 1\n", ("db", "status"), "[nothing-like-it] unknown section"),
        ("[analyze]\nslow_ms = 1\nslo_ms = 2\n", ("analyze", str(STDERR_LOG)), "[analyze] slo_ms: unknown option for perfkit analyze; did you mean slow_ms?"),
        # a typo in another command's section is found too, whatever the command run
        ('[pool]\nclints = "1,4"\n', ("analyze", str(STDERR_LOG)), "[pool] clints: unknown option for perfkit pool; did you mean clients?"),
        ("analyze = 3\n", ("analyze", str(STDERR_LOG)), "[analyze] must be a table"),
        ('[analyze]\nslow_ms = "abc"\n', ("analyze", str(STDERR_LOG)), "[analyze] slow_ms: must be a number, not 'abc'"),
        ("[analyze]\ntop = -1\n", ("analyze", str(STDERR_LOG)), "[analyze] top: must be at least 0, not -1"),
        ('[analyze]\nformat = "xml"\n', ("analyze", str(STDERR_LOG)), "[analyze] format: must be one of table, json, csv, markdown, not 'xml'"),
        ('[pool]\nclients = "a,b"\n', ("pool",), "[pool] clients: 'a,b' is not a comma-separated list of integers"),
        ('[explain]\nstatement_timeout = "soon"\n', ("explain", "-s", "SELECT 1"), "[explain] statement_timeout: 'soon' is not a duration (use e.g. 500ms, 10s, 2m)"),
        ('[db]\nstatement_timeout = "soon"\n', ("analyze", str(STDERR_LOG)), "[db] statement_timeout: 'soon' is not a duration (use e.g. 500ms, 10s, 2m)"),
        ("[db]\ndsn = 5\n", ("db", "status"), "[db] dsn: must be a string (a libpq URI or key=value DSN)"),
        ('[replay]\ndatabase = "nope"\n', ("replay", str(STDERR_LOG)), f"[replay] database: no statement in {STDERR_LOG} was logged for database 'nope' (databases in the log: perfkit_samples)"),
    ],
)  # fmt: skip
def test_config_errors_name_file_section_and_key(
    cli: Any, tmp_path: Path, text: str, command: tuple[str, ...], message: str, pg_server: str
) -> None:
    cfg = tmp_path / "perfkit.toml"
    cfg.write_text(text)
    result = cli("--config", str(cfg), *command)
    assert result.exit_code == 2
    assert result.stderr == f"perfkit: error: {cfg}: {message}\n"
    assert result.stdout == ""


def test_an_option_typed_on_the_command_line_is_blamed_on_the_option(
    cli: Any, tmp_path: Path
) -> None:
    cfg = tmp_path / "perfkit.toml"
    cfg.write_text('[pool]\nclients = "1"\n[analyze]\nslow_ms = 5\n')
    result = cli("--config", str(cfg), "pool", "--clients", "a,b")
    assert result.exit_code == 2
    assert (
        result.stderr
        == "perfkit: error: --clients: 'a,b' is not a comma-separated list of integers\n"
    )
    result = cli("--config", str(cfg), "analyze", "--slow-ms", "abc", str(STDERR_LOG))
    assert result.stderr == "perfkit: error: --slow-ms: must be a number, not 'abc'\n"


def test_config_keys_are_checked_against_each_commands_real_parameters() -> None:
    """The signature-derived parameter sets (cheap) are the click commands' own."""
    from typer.main import get_command

    from perfkit.cli import COMMANDS, app, command_parameters

    group = get_command(app)
    for name in COMMANDS:
        cmd = group.commands[name]  # type: ignore[attr-defined]
        if hasattr(cmd, "commands"):  # `db` is a group; [db] is the target's section
            assert command_parameters(name) is None
        else:
            assert command_parameters(name) == {p.name for p in cmd.params if p.name}, name


def test_the_sample_config_is_valid_for_every_command(cli: Any) -> None:
    sample = ROOT / "sample_configs" / "perfkit.toml"
    result = cli("--config", str(sample), "analyze", str(STDERR_LOG), "-f", "json")
    assert result.exit_code == 0, result.stderr


# --- usage errors: plain sentences naming the option --------------------------------


@pytest.mark.parametrize(
    ("args", "stderr"),
    [
        (("analyze", "--format", "xml", str(STDERR_LOG)), "perfkit: error: --format: must be one of table, json, csv, markdown, not 'xml'\n"),
        (("analyze", "--top", "-1", str(STDERR_LOG)), "perfkit: error: --top: must be at least 0, not -1\n"),
        (("analyze", "--top", "many", str(STDERR_LOG)), "perfkit: error: --top: must be a whole number, not 'many'\n"),
        (("analyze", "--tpo", "3", str(STDERR_LOG)), "perfkit: error: --tpo: no such option for perfkit analyze; did you mean --top?\n"),
        (("analyze",), "perfkit: error: missing argument 'LOG' (a log file, - for stdin, or --from-stats; see 'perfkit analyze --help')\n"),
        (("pool", "--clients"), "perfkit: error: --clients: needs a value\n"),
        (("analyze", "--strict=yes", str(STDERR_LOG)), "perfkit: error: --strict: takes no value\n"),
        (("explain", "--connect-timeout", "0", "-s", "SELECT 1"), "perfkit: error: --connect-timeout: must be at least 0.1, not 0\n"),
        (("explain", "--statement-timeout", "soon", "-s", "SELECT 1"), "perfkit: error: --statement-timeout: 'soon' is not a duration (use e.g. 500ms, 10s, 2m)\n"),
        (("--frobnicate", "analyze"), "perfkit: error: --frobnicate: no such option for perfkit (see 'perfkit --help')\n"),
    ],
)  # fmt: skip
def test_usage_errors_are_plain_sentences(cli: Any, args: tuple[str, ...], stderr: str) -> None:
    result = cli(*args)
    assert result.exit_code == 2
    assert result.stderr == stderr


def test_db_reset_without_a_terminal_asks_for_yes(cli: Any, tmp_path: Path) -> None:
    pgdata = tmp_path / "embedded" / "pgdata"
    pgdata.mkdir(parents=True)
    (pgdata / "PG_VERSION").write_text("18\n")
    result = cli("db", "reset", env={"PERFKIT_HOME": str(tmp_path)}, input="y\n")
    assert result.exit_code == 2
    assert result.stderr == (
        f"perfkit: error: --yes: there is no terminal to confirm on; pass --yes to delete {pgdata}\n"
    )
    assert (pgdata / "PG_VERSION").exists()


# --- full disk: one line naming the file, no partial temp file ------------------------


def _perfkit(*args: str, **kwargs: Any) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CI": "1"}
    kwargs.setdefault("stdout", subprocess.PIPE)
    return subprocess.run(
        [sys.executable, "-m", "perfkit", *args],
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        **kwargs,
    )


def test_a_full_device_is_one_line_naming_the_output(tmp_path: Path) -> None:
    r = _perfkit("analyze", str(STDERR_LOG), "-o", "/dev/full")
    assert r.returncode == 2
    assert r.stderr == "perfkit: error: /dev/full: no space left on device\n"
    with open("/dev/full", "w") as full:
        r = _perfkit("analyze", str(STDERR_LOG), stdout=full)
    assert r.returncode == 2
    assert r.stderr == "perfkit: error: <stdout>: no space left on device\n"


def _limit_file_size() -> None:
    import resource

    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # EFBIG instead of being killed
    resource.setrlimit(resource.RLIMIT_FSIZE, (2000, 2000))


def test_a_failed_write_leaves_no_temp_file_and_the_old_report(tmp_path: Path) -> None:
    out = tmp_path / "report.json"
    out.write_text("old report\n")
    r = _perfkit(
        "analyze", str(STDERR_LOG), "-f", "json", "-o", str(out), preexec_fn=_limit_file_size
    )
    assert r.returncode == 2
    assert r.stderr == f"perfkit: error: {out}: cannot write: File too large\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.json"]
    assert out.read_text() == "old report\n"


# --- SIGTERM: the Ctrl-C path, exit 143 ------------------------------------------------


def _children(pid: int) -> set[int]:
    out: set[int] = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                out.add(int(entry.name))
    return out


def _spill_dirs() -> set[str]:
    return {p.name for p in Path("/dev/shm").glob("perfkit-analyze-*")}


@pytest.mark.slow
@pytest.mark.skipif(not Path("/dev/shm").is_dir(), reason="no /dev/shm")
def test_sigterm_cleans_up_like_ctrl_c(tmp_path: Path) -> None:
    big = tmp_path / "big.log"
    block = STDERR_LOG.read_bytes()
    with big.open("wb") as fh:
        for _ in range(400):
            fh.write(block)
    before = _spill_dirs()
    env = {**os.environ, "CI": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "perfkit", "analyze", "--jobs", "2", "-f", "json", str(big)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    deadline = time.monotonic() + 60
    mine: set[str] = set()
    workers: set[int] = set()
    while time.monotonic() < deadline and proc.poll() is None:
        mine = _spill_dirs() - before
        workers = _children(proc.pid)
        if mine and workers:
            break
        time.sleep(0.02)
    if proc.poll() is not None or len(mine) != 1:
        proc.terminate()  # SIGTERM, so that even this run leaves no spill directory
        proc.communicate(timeout=60)
        why = "the run ended first" if len(mine) < 2 else "another analyze made a spill directory"
        pytest.skip(f"{why}: cannot tell which spill directory is this run's")
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 143
    assert err == "perfkit: terminated\n"
    assert not (Path("/dev/shm") / mine.pop()).exists()
    for pid in workers:
        assert (
            not Path(f"/proc/{pid}").exists()
            or "Z" in Path(f"/proc/{pid}/stat").read_text().split()[2]
        )


# --- no silent wrong result -------------------------------------------------------------


def test_a_pool_point_without_a_completed_request_is_failed(
    cli: Any, tmp_path: Path, pg_server: str
) -> None:
    from perfkit.pool import PoolBenchOptions, run_pool_benchmark
    from perfkit.pool.workload import parse_script

    # passes the preflight (which draws with random.Random(0)), fails for every other draw
    hit = random.Random(0).randint(1, 10**12)
    script = tmp_path / "fails.sql"
    script.write_text(f"\\set x random(1, 1000000000000)\nSELECT 1 / (:x = {hit})::int;\n")
    opts = PoolBenchOptions(
        clients=(1,), pool_sizes=(2,), duration_s=None, requests=30, warmup_s=0, fresh=False,
        workers=1,
        workload=parse_script(script.read_text(), str(script)),
    )  # fmt: skip
    result = run_pool_benchmark(pg_server, options=opts)
    (point,) = result.points
    assert point.requests == 0 and point.errors > 0
    assert point.status == "failed" and result.status == "failed"
    assert point.error == f"no request completed ({point.errors} failed: division by zero)"
    r = cli("pool", "--dsn", pg_server, "--script", str(script), "--clients", "1",
            "--pool-size", "2", "--no-fresh", "--requests", "30", "--warmup", "0")  # fmt: skip
    assert r.exit_code == 2
    assert re.search(
        r"point failed: no request completed \(\d+ failed: division by zero\)", r.stderr
    )


def test_replay_database_that_matches_nothing_is_an_error(cli: Any, pg_server: str) -> None:
    r = cli("replay", str(STDERR_LOG), "--dsn", pg_server, "--database", "perfkit_sample")
    assert r.exit_code == 2
    assert r.stderr == (
        f"perfkit: error: --database: no statement in {STDERR_LOG} was logged for database "
        "'perfkit_sample' (databases in the log: perfkit_samples); did you mean perfkit_samples?\n"
    )
    r = cli("replay", str(JSONL_LOG), "--dsn", pg_server, "--database", "app")
    assert r.exit_code == 2
    assert r.stderr == (
        f"perfkit: error: --database: no statement can be selected for 'app': {JSONL_LOG} "
        "does not record database names\n"
    )
