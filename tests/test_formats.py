"""Every platform's log format, detected by content, read to the same events.

The samples in tests/data/formats are written by make_samples.py from one workload, each
in a platform's documented layout (the module of each format cites its source):

* AWS RDS/Aurora: the stderr file (``%t:%r:%u@%d:[%p]:``), the CloudWatch Logs export
  (``aws logs filter-log-events`` JSON, pretty-printed) and a subscription's payload
  (``logEvents``), as in the CloudWatch Logs API reference, and an export to S3
  (``<time> <message>`` lines);
* Google Cloud SQL (``gcloud logging read --format=json``, textPayload with Cloud SQL's
  ``%m [%p]: [%l-1] db=%d,user=%u``) and AlloyDB (LogEntry lines with the source location
  after the severity, as in IBM Guardium's AlloyDB connector tests);
* Azure flexible server diagnostic records (``properties.message``/``detail``, as in
  pganalyze collector's input/system/azure tests);
* Heroku: ``heroku logs`` output and a Logplex drain's frames (pganalyze collector's
  input/system/heroku tests);
* Kubernetes CRI lines (with a ``P``/``F`` split line) and Docker json-file records
  (with a split line), journald JSON, csvlog with 22 columns (PostgreSQL 8.4).

Real logs wrapped: the CloudNativePG capture of pgBadger's corpus inside CRI lines, and
sample_configs/logs/jsonlog.json (PostgreSQL 15) inside Docker records, each compared
with the unwrapped log.
"""

from __future__ import annotations

import datetime as dt
import gzip
import json
from pathlib import Path
from typing import Any

import pytest

from perfkit.errors import InputError
from perfkit.querylog.aggregate import analyze
from perfkit.querylog.model import LogEvent
from perfkit.querylog.readers import FORMATS, read_logs
from perfkit.querylog.readers.formats import REGISTRY

DATA = Path(__file__).parent / "data" / "formats"
QUERYLOG = Path(__file__).parent / "data" / "querylog"
SAMPLES = Path(__file__).parent.parent / "sample_configs" / "logs"

QUERIES = [
    "SELECT * FROM orders WHERE id = 42",
    "SELECT count(*)\nFROM orders o\nJOIN items i ON i.order_id = o.id",
    "UPDATE items SET qty = $1 WHERE id = $2",
    "INSERT INTO orders (customer) VALUES ('Ann')",
]
DURATIONS = [12.345, 1503.25, 3.5, 7.125]
USERS = ["shop", "report", "shop", "shop"]
DBS = ["orders", "analytics", "orders", "orders"]
APPS = ["web", "psql", "worker", "web"]
CLIENTS = ["10.0.1.17", "10.0.2.9", "10.0.1.18", "10.0.1.17"]
PIDS = [4101, 4102, 4103, 4101]

HEROKU = (
    'sql_error_code = %e time_ms = "%m" pid="%p" proc_start_time="%s" session_id="%c" '
    'vtid="%v" tid="%x" log_line="%l" database="%d" connection_source="%r" user="%u" '
    'application_name="%a" '
)

# sample -> (format, inner format, log_line_prefix, has application, has client)
PLATFORMS: dict[str, tuple[str, str | None, str | None, bool, bool]] = {
    "rds.log": ("stderr", None, "%t:%r:%u@%d:[%p]:", False, True),
    "cloudwatch.json": ("cloudwatch", "stderr", "%t:%r:%u@%d:[%p]:", False, True),
    "cloudwatch-subscription.json": ("cloudwatch", "stderr", "%t:%r:%u@%d:[%p]:", False, True),
    "cloudwatch-s3.log": ("timestamped", "stderr", "%t:%r:%u@%d:[%p]:", False, True),
    "cloudsql.json": ("gcp", "stderr", "%m [%p]: [%l-1] db=%d,user=%u ", False, False),
    "alloydb.jsonl": ("gcp", "stderr", "%m [%p]: [%l-1] db=%d,user=%u ", False, False),
    "azure.jsonl": ("azure", "stderr", "%m [%p] [user=%u,db=%d,app=%a] ", True, False),
    "heroku.log": ("heroku", "stderr", HEROKU, True, True),
    "heroku-drain.log": ("heroku", "stderr", HEROKU, True, True),
    "cri.log": ("cri", "stderr", "%m [%p] %q%u@%d ", False, False),
    "docker.log": ("docker", "stderr", "%m [%p] %q%u@%d ", False, False),
    "journald.json": ("journald", "stderr", "%m [%p] %q%u@%d ", False, False),
    "journald-syslog.json": ("journald", "syslog", "user=%u,db=%d,app=%a,client=%h ", True, True),
    "plain.log": ("stderr", None, "%m [%p] %q%u@%d ", False, False),
    "csvlog22.csv": ("csvlog", None, None, False, True),
}


def _events(path: Path, **kw: Any) -> tuple[Any, list[LogEvent]]:
    stream = read_logs([path], **kw)
    return stream, list(stream)


def _check(evs: list[LogEvent], app: bool, client: bool, *, by_line: bool = True) -> None:
    # in the order of their lines (syslog hands a report on when it is complete, so a
    # statement whose DETAIL chunk comes later may follow a later one)
    if by_line:
        evs = sorted(evs, key=lambda e: e.line)
    assert [e.query for e in evs] == QUERIES
    assert [e.duration_ms for e in evs] == DURATIONS
    assert [e.user for e in evs] == USERS
    assert [e.database for e in evs] == DBS
    assert [e.pid for e in evs] == PIDS
    assert [e.application for e in evs] == (APPS if app else [None] * 4)
    assert [e.client for e in evs] == (CLIENTS if client else [None] * 4)
    ext = evs[2]
    assert ext.protocol == "extended" and ext.params == ("3", "77") and ext.statement_name == "S_1"
    assert all(e.ts is not None and e.ts.year == 2024 for e in evs)


@pytest.mark.parametrize("name", sorted(PLATFORMS))
def test_every_platform_is_detected_and_read_to_the_same_events(name: str) -> None:
    fmt, inner, prefix, app, client = PLATFORMS[name]
    stream, evs = _events(DATA / name)
    info = stream.files[0]
    assert (info.format, info.inner) == (fmt, inner)
    if prefix is not None:
        assert info.prefix == prefix and info.prefix_inferred
    _check(evs, app, client)
    assert stream.skipped_lines == 0


@pytest.mark.parametrize("name", sorted(n for n, p in PLATFORMS.items() if p[2] is not None))
def test_every_platform_reads_the_same_with_prefix_given(name: str) -> None:
    fmt, _inner, prefix, app, client = PLATFORMS[name]
    stream, evs = _events(DATA / name, prefix=prefix)
    assert stream.files[0].format == fmt and not stream.files[0].prefix_inferred
    _check(evs, app, client)


@pytest.mark.parametrize("name", sorted(PLATFORMS))
def test_every_platform_reads_the_same_when_forced(name: str) -> None:
    fmt, _inner, _prefix, app, client = PLATFORMS[name]
    _stream, evs = _events(DATA / name, log_format=fmt)
    _check(evs, app, client)


def test_aws_logs_tail_output_is_cloudwatch(tmp_path: Path) -> None:
    lines = (DATA / "cloudwatch-s3.log").read_text().splitlines()
    p = tmp_path / "tail.log"
    p.write_text(
        "\n".join(
            ln.replace("Z ", "000+00:00 mydb-instance-1 ", 1) if ln[:1] == "2" else ln
            for ln in lines
        )
        + "\n"
    )
    stream, evs = _events(p)
    assert stream.files[0].format == "timestamped"
    _check(evs, False, True)


def test_kubectl_logs_with_timestamps_is_timestamped(tmp_path: Path) -> None:
    lines = (DATA / "plain.log").read_text().splitlines()
    p = tmp_path / "kubectl.log"
    p.write_text(
        "".join(
            (f"2024-03-05T09:00:0{i % 10}.123456789Z {ln}\n" if ln[:1] != "\t" else ln + "\n")
            for i, ln in enumerate(lines)
        )
    )
    stream, evs = _events(p)
    assert (stream.files[0].format, stream.files[0].inner) == ("timestamped", "stderr")
    _check(evs, False, False)


def test_an_iso_timestamped_application_log_is_not_taken_for_postgresql(tmp_path: Path) -> None:
    p = tmp_path / "app.log"
    p.write_text("2024-03-05T09:00:00.123Z web-1 GET /orders 200 12ms\n" * 5)
    with pytest.raises(InputError, match="matches no supported log format"):
        read_logs([p])


def test_cloud_sql_lines_without_their_tab_continue_the_message(tmp_path: Path) -> None:
    """Cloud SQL's textPayload holds a multi-line message with bare newlines (as in the
    pganalyze-collector-style sample "automatic analyze ...\\nI/O timings: ...")."""
    entry = {
        "textPayload": "2025-06-05 15:57:58.017 UTC [110445]: [1-1] db=app,user=web LOG:  "
        "duration: 2.500 ms  statement: SELECT a,\nb FROM t\nWHERE c = 1",
        "resource": {"type": "cloudsql_database", "labels": {"database_id": "p:i"}},
        "logName": "projects/p/logs/cloudsql.googleapis.com%2Fpostgres.log",
        "timestamp": "2025-06-05T15:57:58.017Z",
    }
    p = tmp_path / "gcp.json"
    p.write_text(json.dumps(entry) + "\n")
    stream, evs = _events(p)
    assert stream.files[0].format == "gcp" and stream.skipped_lines == 0
    assert [(e.query, e.duration_ms, e.user, e.database) for e in evs] == [
        ("SELECT a,\nb FROM t\nWHERE c = 1", 2.5, "web", "app")
    ]


def test_azure_single_server_records_keep_the_prefix_apart(tmp_path: Path) -> None:
    """Single server: the prefix (``%t-%c-``) and the severity are fields of their own
    (records as in pganalyze collector's input/system/azure/logs_test.go), in an Event
    Hubs ``{"records": [...]}`` document."""

    def rec(msg: str, detail: str = "", session: str = "63fd3b04.cfc") -> dict[str, Any]:
        return {
            "LogicalServerName": "pg2",
            "time": "2023-02-27T23:21:40Z",
            "resourceId": "/SUBSCRIPTIONS/0/RESOURCEGROUPS/T/PROVIDERS/MICROSOFT.DBFORPOSTGRESQL/SERVERS/PG2",
            "category": "PostgreSQLLogs",
            "operationName": "LogEvent",
            "properties": {
                "prefix": f"2023-02-27 23:21:40 UTC-{session}-",
                "message": msg,
                "detail": detail,
                "errorLevel": "LOG",
                "domain": "postgres-11",
            },
        }

    records = [
        rec("connection received: host=10.0.1.4 port=38850 pid=3312", session="63fd3b04.cf0"),
        rec(
            "duration: 0.000 ms  bind <unnamed>: UPDATE a SET b = $1 WHERE c = $2;",
            "parameters: $1 = '353', $2 = '9'",
        ),
        rec(
            "duration: 0.250 ms  execute <unnamed>: UPDATE a SET b = $1 WHERE c = $2;",
            "parameters: $1 = '353', $2 = '9'",
        ),
        rec("duration: 1.500 ms  statement: select count(*) from pgbench_branches"),
        rec("checkpoint complete (212): wrote 0 buffers (0.0%)", session="63fd3286.d4"),
    ]
    p = tmp_path / "insights-logs-postgresqllogs.json"
    p.write_text(json.dumps({"records": records}))
    stream, evs = _events(p)
    assert (stream.files[0].format, stream.files[0].prefix) == ("azure", "%t-%c-")
    assert [(e.query, e.duration_ms, e.params, e.session) for e in evs] == [
        ("UPDATE a SET b = $1 WHERE c = $2;", 0.25, ("353", "9"), "63fd3b04.cfc"),
        ("select count(*) from pgbench_branches", 1.5, None, "63fd3b04.cfc"),
    ]


def test_a_newest_first_cloud_logging_export_is_read_oldest_first(tmp_path: Path) -> None:
    """``gcloud logging read`` (default ``--order=desc``): the DETAIL entry of an execute
    comes before it in the file; read in the file's order its parameters would go to the
    statement logged after it."""
    entries = json.loads((DATA / "cloudsql.json").read_text())
    for i, e in enumerate(entries):
        e["timestamp"] = f"2024-03-05T09:00:{i:02d}.000000Z"
    p = tmp_path / "desc.json"
    p.write_text(json.dumps(entries[::-1], indent=2))
    stream, evs = _events(p)
    assert stream.files[0].format == "gcp"
    assert not any("not in time order" in w for w in stream.warnings)
    _check(evs, False, False, by_line=False)  # in time order, last lines of the file first


def test_cloud_logging_json_payloads_of_a_gke_cloudnativepg_pod(tmp_path: Path) -> None:
    """GKE sends a container's JSON lines to Cloud Logging as ``jsonPayload``: the real
    CloudNativePG capture (tests/data/querylog/cnpg.log.gz) as LogEntry lines."""
    lines = gzip.decompress((QUERYLOG / "cnpg.log.gz").read_bytes()).decode().splitlines()
    p = tmp_path / "gke.json"
    with p.open("w") as f:
        for i, line in enumerate(lines):
            entry = {
                "insertId": f"id{i}",
                "jsonPayload": json.loads(line),
                "resource": {"type": "k8s_container", "labels": {"pod_name": "pg-1"}},
                "logName": "projects/p/logs/stdout",
                "timestamp": f"2022-11-27T18:54:21.{i:06d}Z",
            }
            f.write(json.dumps(entry) + "\n")
    plain = list(read_logs([QUERYLOG / "cnpg.log.gz"]))
    stream, evs = _events(p)
    assert (stream.files[0].format, stream.files[0].inner) == ("gcp", "cnpg")
    assert [(e.query, e.duration_ms, e.user, e.database) for e in evs] == [
        (e.query, e.duration_ms, e.user, e.database) for e in plain
    ]


def test_a_wrong_prefix_on_a_wrapped_log_is_refused() -> None:
    with pytest.raises(InputError, match=r"cloudwatch.json.*matches none"):
        read_logs([DATA / "cloudwatch.json"], prefix="%m [%p] ")


def test_heroku_lines_of_other_dynos_are_ignored_and_metadata_comes_from_the_prefix() -> None:
    stream, evs = _events(DATA / "heroku.log")
    assert stream.skipped_lines == 0  # the web dyno's line is not a Heroku Postgres line
    assert [e.session for e in evs] == [
        "65e6df00.1005",
        "65e6df00.1006",
        "65e6df00.1007",
        "65e6df00.1005",
    ]


def test_azure_unknown_fields_before_authentication_keep_the_real_prefix() -> None:
    """The checkpointer writes the bracket with [unknown] values: no %q in that prefix."""
    stream, _evs = _events(DATA / "azure.jsonl")
    assert stream.files[0].prefix == "%m [%p] [user=%u,db=%d,app=%a] "
    assert not any("generic" in w for w in stream.warnings)


def test_cri_around_a_real_cloudnativepg_log_reads_as_the_log(tmp_path: Path) -> None:
    """pgBadger's CloudNativePG capture (tests/data/querylog/cnpg.log.gz), each line as
    the kubelet stores it, one of every 50 split into a P and an F part."""
    lines = gzip.decompress((QUERYLOG / "cnpg.log.gz").read_bytes()).decode().splitlines()
    out = []
    for i, line in enumerate(lines):
        stamp = f"2022-11-27T18:54:{i % 60:02d}.{i:09d}Z"
        if i % 50 == 7 and len(line) > 30:
            out += [f"{stamp} stdout P {line[:30]}", f"{stamp} stdout F {line[30:]}"]
        else:
            out.append(f"{stamp} stdout F {line}")
    p = tmp_path / "pod.log"
    p.write_text("\n".join(out) + "\n")
    plain = list(read_logs([QUERYLOG / "cnpg.log.gz"]))
    stream, evs = _events(p)
    assert (stream.files[0].format, stream.files[0].inner) == ("cri", "cnpg")
    assert len(evs) == len(plain) == 326
    assert [(e.query, e.duration_ms, e.user, e.database, e.application, e.client) for e in evs] == [
        (e.query, e.duration_ms, e.user, e.database, e.application, e.client) for e in plain
    ]


def test_docker_around_a_real_jsonlog_reads_as_the_log(tmp_path: Path) -> None:
    src = SAMPLES / "jsonlog.json"
    p = tmp_path / "c-json.log"
    with p.open("w") as f:
        for line in src.read_text().splitlines():
            f.write(
                json.dumps({"log": line + "\n", "stream": "stderr", "time": "2024-01-01T00:00:00Z"})
                + "\n"
            )
    plain = list(read_logs([src]))
    stream, evs = _events(p)
    assert (stream.files[0].format, stream.files[0].inner) == ("docker", "jsonlog")
    assert len(evs) == len(plain) > 0
    assert [(e.query, e.duration_ms, e.user, e.database, e.params) for e in evs] == [
        (e.query, e.duration_ms, e.user, e.database, e.params) for e in plain
    ]


def test_rfc5424_syslog_reads_as_the_classic_syslog_capture(tmp_path: Path) -> None:
    """sample_configs/logs/syslog.log (rsyslogd, the classic layout) rewritten in the RFC
    5424 layout rsyslog writes with RSYSLOG_SyslogProtocol23Format."""
    import re

    head = re.compile(r"^(\w{3} +\d+ [\d:]+) (\S+) (\w+)\[(\d+)\]: (.*)$")
    out = []
    for line in (SAMPLES / "syslog.log").read_text().splitlines():
        m = head.match(line)
        assert m is not None, line
        stamp, host, app, pid, msg = m.groups()
        t = dt.datetime.strptime(f"2024 {stamp}", "%Y %b %d %H:%M:%S")
        frame = f"<134>1 {t:%Y-%m-%dT%H:%M:%S}.000+00:00 {host} {app} {pid} - - {msg}"
        out.append(f"{len(frame.encode())} {frame}")
    p = tmp_path / "rfc5424.log"
    p.write_text("\n".join(out) + "\n")
    plain = list(read_logs([SAMPLES / "syslog.log"]))
    stream, evs = _events(p)
    assert (stream.files[0].format, stream.files[0].inner) == ("rfc5424", "syslog")
    assert len(evs) == len(plain) == 89
    assert [(e.query, e.duration_ms, e.user, e.database, e.application, e.pid) for e in evs] == [
        (e.query, e.duration_ms, e.user, e.database, e.application, e.pid) for e in plain
    ]


def test_syslog_sample_is_detected_as_syslog() -> None:
    stream, evs = _events(SAMPLES / "syslog.log")
    assert stream.files[0].format == "syslog" and evs


# -- refused ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("name", "what"),
    [
        ("pgbouncer.log", "pgBouncer log"),
        ("mysql-slow.log", "MySQL/MariaDB slow query or general log"),
        ("nginx-access.log", "web server access log"),
    ],
)
def test_logs_perfkit_cannot_read_are_refused_by_name(name: str, what: str, cli: Any) -> None:
    path = DATA / name
    r = cli("analyze", str(path))
    assert r.exit_code == 2
    first = path.read_text().splitlines()[0][:40]
    assert f"{path}:1: is a {what}" in r.output
    assert first in r.output and "stderr" in r.output and "cloudwatch" in r.output
    assert "Traceback" not in r.output


def test_unknown_text_is_refused_with_the_formats_tried(tmp_path: Path) -> None:
    p = tmp_path / "notes.txt"
    p.write_text("hello world\nthis is not a log\n")
    with pytest.raises(
        InputError, match=r"notes.txt:1: matches no supported log format \(tried cri, "
    ):
        read_logs([p])


def test_json_that_is_no_known_record_is_refused(tmp_path: Path) -> None:
    p = tmp_path / "other.json"
    p.write_text('{"level": "info", "msg": "started"}\n')
    with pytest.raises(InputError, match="matches no supported log format"):
        read_logs([p])


# -- registry -----------------------------------------------------------------------------
def test_registry_names_are_the_formats_and_the_cli_lists_them(cli: Any) -> None:
    assert tuple(REGISTRY) == FORMATS
    assert len({f.order for f in REGISTRY.values()}) == len(REGISTRY)
    assert all(f.summary for f in REGISTRY.values())
    from perfkit.cli.analyze import FORMATS_HELP

    assert ", ".join(FORMATS) == FORMATS_HELP
    r = cli("analyze", "--help")
    text = " ".join(r.output.split()).replace("- ", "-")  # help wraps at hyphens
    for name in FORMATS:
        assert name in text


def test_docs_list_every_format() -> None:
    doc = (Path(__file__).parent.parent / "docs" / "analyze-formats.md").read_text()
    for name in FORMATS:
        assert f"`{name}`" in doc, name


# -- --jobs -------------------------------------------------------------------------------
def _big(tmp_path: Path, name: str, copies: int) -> Path:
    text = (DATA / name).read_text()
    p = tmp_path / name
    p.write_text(text * copies)
    return p


@pytest.mark.parametrize(
    "name", ["csvlog22.csv", "rds.log", "cri.log", "cloudwatch-subscription.json"]
)
def test_jobs_output_equals_one_pass(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    from perfkit.querylog import parallel

    p = _big(tmp_path, name, 300)
    one = analyze([p], jobs=1)
    monkeypatch.setenv(parallel.CHUNK_ENV, "20000")
    many = analyze([p], jobs=2)
    assert one.summary == many.summary
    assert [(f.id, f.calls, f.total_ms) for f in one.fingerprints] == [
        (f.id, f.calls, f.total_ms) for f in many.fingerprints
    ]
    assert one.summary.queries == 4 * 300


def test_an_envelope_around_no_postgresql_line_is_refused(tmp_path: Path) -> None:
    p = tmp_path / "app-json.log"
    rec = {"log": "GET /orders 200\n", "stream": "stdout", "time": "2024-01-01T00:00:00Z"}
    p.write_text(json.dumps(rec) + "\n")
    with pytest.raises(
        InputError,
        match=r"app-json.log:1: docker records, but the lines inside match no format perfkit "
        r"reads \(tried jsonlog, cnpg, stderr, syslog\): 'GET /orders 200'",
    ):
        read_logs([p])


def test_a_newest_first_export_with_bad_entries_among_them(tmp_path: Path) -> None:
    lines = []
    for i in range(10):
        text = (
            f"2024-03-05 09:00:{59 - i:02d}.000 UTC [1]: [1-1] db=d,user=u LOG:  "
            f"duration: 1.0 ms  statement: SELECT {i}"
        )
        lines.append(json.dumps({"textPayload": text, "logName": "x", "timestamp": f"{59 - i}"}))
    lines.insert(3, "{not json")
    lines.insert(5, json.dumps({"textPayload": 5, "logName": "x", "timestamp": 7}))
    p = tmp_path / "desc.jsonl"
    p.write_text("\n".join(lines) + "\n")
    stream, evs = _events(p)
    assert [e.query for e in evs] == [f"SELECT {i}" for i in range(9, -1, -1)]
    assert stream.skipped_lines == 1
