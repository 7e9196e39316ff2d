"""log_line_prefix inference from the lines themselves (issue 14), on logs a real
PostgreSQL wrote (tests/data/querylog/prefixes, see its README) and on lines generated
for random prefixes."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from perfkit.errors import InputError
from perfkit.querylog.model import LogEvent
from perfkit.querylog.readers import compile_prefix, read_logs
from perfkit.querylog.readers.prefix import infer_prefix

DATA = Path(__file__).parent / "data" / "querylog" / "prefixes"

# the log_line_prefix each sample was written with (make_prefix_logs.sh)
REAL = {
    "debian_app": "%m [%p] %q%u@%d app=%a ",
    "queryid": "%m [%p] [queryid=%Q] %q%u@%d ",
    "xid_appli": "%t [%p]: [%l-1] [%x] usr=%u,db=%d,appli=%a ",
    "pipes": "%m|%u|%d|%c|",
    "rds": "%t:%r:%u@%d:[%p]:",
    "azure": "%t-%c-",
    "cloudsql": "%m [%p]: [%l-1] db=%d,user=%u ",
    "pgbadger": "%t [%p]: [%l-1] user=%u,db=%d,app=%a,client=%h ",
    "bracketed": "%m [%p] [%u] [%d] [%a] ",
    "many": "%n [%p-%l] %q%e %c %v %b %u@%d %h ",
    "syslogstyle": "db=%d,user=%u,app=%a,client=%h ",
    "verbose": "%m [%p] %q%u@%d ",  # log_error_verbosity = verbose: "LOG:  00000: ..."
    "pganalyze": "%m [%p][%b][%v][%x] %q[user=%u,db=%d,app=%a] ",
}


def _key(e: LogEvent) -> tuple[object, ...]:
    return (e.ts, e.duration_ms, e.query, e.params, e.user, e.database, e.application,
            e.client, e.pid, e.session, e.protocol)  # fmt: skip


@pytest.mark.parametrize("name", sorted(REAL))
def test_real_log_prefix_is_inferred_exactly(name: str) -> None:
    prefix = REAL[name]
    log = DATA / f"{name}.log"
    inferred = read_logs([log])
    evs = list(inferred)
    info = inferred.files[0]
    assert (info.prefix, info.prefix_inferred) == (prefix, True)
    note = next(w for w in inferred.warnings if "inferred as" in w)
    assert "matches" in note and "exactly" in note and "not identified" not in note
    explicit = read_logs([log], prefix=prefix)
    assert [_key(e) for e in evs] == [_key(e) for e in explicit]
    assert inferred.skipped_lines == explicit.skipped_lines == 0
    assert not [w for w in inferred.warnings if "non-English" in w]
    # the workload (make_prefix_logs.sh): 175 statements (pgbench -i, 6 + 4 transactions
    # of 2 clients, psql), whatever the prefix
    assert len(evs) == len(list(read_logs([DATA / "debian_app.log"])))
    # the workload: pgbench in acc_bench, psql in postgres
    assert evs and {e.user for e in evs} <= {"postgres", None}
    dbs = Counter(e.database for e in evs)
    apps = Counter(e.application for e in evs)
    if "%d" in prefix:
        assert set(dbs) == {"acc_bench", "postgres"}
    if "%a" in prefix:
        assert {"pgbench", "bench_prepared", "report", "psql"} == set(apps)
    else:
        assert set(apps) == {None}
    if "%h" in prefix or "%r" in prefix:
        assert {e.client for e in evs} == {"127.0.0.1"}
    if "%p" in prefix:
        assert all(e.pid and e.session for e in evs)
    if "%c" in prefix:
        assert all(e.session and "." in e.session for e in evs)
    # the multi-line psql statement keeps its end
    multi = [e for e in evs if "abalance\n" in e.query]
    assert len(multi) == 1 and multi[0].query.endswith("ORDER BY aid;")


def test_issue_example_database_and_application_are_not_glued() -> None:
    evs = list(read_logs([DATA / "debian_app.log"]))
    assert not [e for e in evs if e.database and " " in e.database]
    assert Counter(e.application for e in evs)["pgbench"] > 50


def test_percent_q_stops_non_session_lines() -> None:
    inf = infer_prefix(
        [
            "2024-05-01 10:00:00.100 UTC [71] alice@shop LOG:  duration: 1.000 ms  statement: SELECT 1",
            "2024-05-01 10:00:00.200 UTC [12] LOG:  checkpoint starting: time",
            "2024-05-01 10:00:00.300 UTC [72] bob@crm LOG:  duration: 2.000 ms  statement: SELECT 2",
            '2024-05-01 10:00:00.400 UTC [13] LOG:  automatic vacuum of table "a.b.c"',
        ]
    )
    assert inf is not None and inf.prefix.prefix == "%m [%p] %q%u@%d " and inf.matched == 4


def test_unidentified_field_is_skipped_not_glued(tmp_path: Path) -> None:
    rows = [
        ("alice", "shop", "web", "10.0.0.1", "tokyo"),
        ("bob", "crm", "cron", "10.0.0.2", "paris"),
        ("carol", "shop", "web", "10.0.0.3", "lima"),
    ]
    text = "".join(
        f"2024-05-01 10:00:0{i}.000 UTC [{70 + i}] {u} {d} {a} {h} {zone} LOG:  "
        f"duration: 1.000 ms  statement: SELECT {i}\n"
        for i, (u, d, a, h, zone) in enumerate(rows)
    )
    log = tmp_path / "odd.log"
    log.write_text(text)
    stream = read_logs([log])
    evs = list(stream)
    assert [(e.user, e.database, e.application, e.client) for e in evs] == [r[:4] for r in rows]
    note = next(w for w in stream.warnings if "inferred as" in w)
    assert "not identified" in note and "'tokyo'" in note


def test_inference_refuses_below_the_threshold(tmp_path: Path) -> None:
    good = (
        "2024-05-01 10:00:00.000 UTC [7] alice@shop LOG:  duration: 1.000 ms  statement: SELECT 1\n"
    )
    # what a wrapper script printed around the server's output
    junk = "".join(f"pg_ctl: waiting for server ({i}) ... done\n" for i in range(5))
    log = tmp_path / "mixed.log"
    log.write_text(good * 2 + junk + good)
    with pytest.raises(InputError) as exc:
        read_logs([log])
    msg = str(exc.value)
    assert "inferred as" in msg and "matches only" in msg and "--prefix" in (exc.value.hint or "")


def test_inferred_prefix_compiles_to_the_explicit_matcher() -> None:
    """What makes inferred runs as fast as explicit ones: the same regexes."""
    lines = (DATA / "pgbadger.log").read_text().splitlines()
    inf = infer_prefix(lines[:1000])
    assert inf is not None
    explicit = compile_prefix(REAL["pgbadger"])
    assert inf.prefix.regex.pattern == explicit.regex.pattern
    assert inf.prefix.slow is not None and explicit.slow is not None
    assert inf.prefix.slow.pattern == explicit.slow.pattern


def test_log_starting_with_many_background_lines() -> None:
    """The first lines tokenised are all background processes: all lines are used."""
    bg = [
        f"2024-05-01 10:00:{i % 60:02d}.{i % 1000:03d} UTC [{12 + i % 3}] LOG:  checkpoint starting: time"
        for i in range(300)
    ]
    session = [
        f"2024-05-01 10:01:00.{i:03d} UTC [{700 + i % 4}] alice@shop LOG:  duration: 1.000 ms  "
        f"statement: SELECT {i}"
        for i in range(200)
    ]
    inf = infer_prefix(bg + session)
    assert inf is not None and inf.prefix.prefix == "%m [%p] %q%u@%d "
    assert inf.matched == inf.considered == 500


SAMPLES = Path(__file__).parent.parent / "sample_configs" / "logs"


def test_syslog_with_the_issue_label_order(tmp_path: Path) -> None:
    """Issue 14: syslog with 'db=%d,user=%u,app=%a,client=%h ' was refused. The real
    rsyslog sample (written with 'user=%u,db=%d,...') with its labels swapped."""
    import re

    text = (SAMPLES / "syslog.log").read_text()
    swapped = re.sub(r"user=([^,]*),db=([^,]*),", r"db=\2,user=\1,", text)
    assert swapped != text
    log = tmp_path / "syslog-db-first.log"
    log.write_text(swapped)
    inferred = read_logs([log])
    evs = list(inferred)
    assert (inferred.files[0].format, inferred.files[0].prefix) == (
        "syslog",
        "db=%d,user=%u,app=%a,client=%h ",
    )
    explicit = list(read_logs([log], prefix="db=%d,user=%u,app=%a,client=%h "))
    original = list(read_logs([SAMPLES / "syslog.log"]))
    assert [_key(e) for e in evs] == [_key(e) for e in explicit]
    assert [(e.query, e.user, e.database, e.application, e.client, e.pid) for e in evs] == [
        (e.query, e.user, e.database, e.application, e.client, e.pid) for e in original
    ]
    assert inferred.skipped_lines == 0


@pytest.mark.parametrize(
    ("log_sev", "error_sev"), [("LOG", "FEHLER"), ("СООБЩЕНИЕ", "ОШИБКА"), ("日志", "错误")]
)
def test_translated_severities_are_found(tmp_path: Path, log_sev: str, error_sev: str) -> None:
    head = "2024-05-01 10:00:0{i}.000 UTC [7{i}] alice@shop "
    text = "".join(
        head.format(i=i) + (f"{log_sev}:  Dauer: 1.000 ms  Anweisung: SELECT {i}\n" if i % 2
                            else f"{error_sev}:  relation x\n")
        for i in range(6)
    )  # fmt: skip
    log = tmp_path / "translated.log"
    log.write_text(text, encoding="utf-8")
    stream = read_logs([log])
    assert stream.files[0].prefix == "%m [%p] %u@%d "
    # translated statements cannot be recognised, and nothing usable is an error saying why
    with pytest.raises(InputError, match="not in English"):
        list(stream)
    assert [w for w in stream.warnings if "non-English" in w]


def test_application_names_with_spaces_and_separators(tmp_path: Path) -> None:
    """JDBC's default name has spaces, pgAdmin's has ' - ' and ':'; neither adds fields."""
    apps = ["PostgreSQL JDBC Driver", "psql", "pgAdmin 4 - DB:shop", "PostgreSQL JDBC Driver"]
    text = "".join(
        f"2024-05-01 10:00:0{i}.000 UTC [{70 + i % 3}]: [{i + 1}-1] user=alice,db=shop,"
        f"app={apps[i % 4]},client=10.0.0.1 LOG:  duration: 1.000 ms  statement: SELECT {i}\n"
        for i in range(8)
    )
    log = tmp_path / "apps.log"
    log.write_text(text)
    stream = read_logs([log])
    evs = list(stream)
    assert stream.files[0].prefix == "%t [%p]: [%l-1] user=%u,db=%d,app=%a,client=%h ".replace(
        "%t", "%m"
    )
    assert [e.application for e in evs] == [apps[i % 4] for i in range(8)]
    assert {(e.user, e.database, e.client) for e in evs} == {("alice", "shop", "10.0.0.1")}


def test_a_later_format_reads_what_the_prefix_inference_refuses(tmp_path: Path) -> None:
    """The refusal of a low-match prefix is the answer only when no other format fits: a
    script whose string literals hold log lines is SQL (the refusal itself is
    test_inference_refuses_below_the_threshold)."""
    line = (
        "2024-05-01 10:00:00.000 UTC [7] alice@shop LOG:  duration: 1.000 ms  statement: SELECT 1"
    )
    script = (
        "-- rows copied from the server log\n"
        f"INSERT INTO audit (line) VALUES\n'{line}');\n"
        "SELECT count(*) FROM audit WHERE line LIKE '%LOG:  %';\n"
        f"SELECT line FROM audit WHERE line =\n'{line}';\n"
    )
    sql = tmp_path / "audit.sql"
    sql.write_text(script)
    stream = read_logs([sql])
    assert [e.query.split()[0] for e in stream] == ["INSERT", "SELECT", "SELECT"]
