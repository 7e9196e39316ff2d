"""Log readers on real logs: counts, linking, fields, detection and bad input.

The logs were written by real servers: those in tests/data/querylog, three of them from
pgBadger's test corpus (../shared/corpora/postgres-logs), and the samples every user gets
in sample_configs/logs (the local PostgreSQL 15 running pgbench, make_samples.sh).
"""

from __future__ import annotations

import bz2
import gzip
import io
import sys
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest
import zstandard

from perfkit.errors import InputError, TruncatedInput, UsageError
from perfkit.querylog.model import LogEvent
from perfkit.querylog.readers import FORMATS, LogStream, read_logs

DATA = Path(__file__).parent / "data" / "querylog"
SAMPLES = Path(__file__).parent.parent / "sample_configs" / "logs"
STDERR_PREFIX = "%m [%p] %q%u@%d "


def _log(name: str) -> Path:
    """tests/data/querylog, or the samples every user gets (not copied twice)."""
    return DATA / name if (DATA / name).exists() else SAMPLES / name


def events(*names: str, **kw: object) -> tuple[LogStream, list[LogEvent]]:
    stream = read_logs([_log(n) for n in names], **kw)  # type: ignore[arg-type]
    return stream, list(stream)


def write(tmp_path: Path, name: str, text: str) -> Path:
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


# -- real logs -------------------------------------------------------------------------
def test_multiline_param_log_links_parse_bind_execute() -> None:
    stream, evs = events("multiline_param.log")
    info = stream.files[0]
    assert (info.format, info.prefix, info.prefix_inferred) == (
        "stderr",
        "%m [%p] user=%u,db=%d ",
        True,
    )
    assert any("inferred as '%m [%p] user=%u,db=%d '" in w for w in stream.warnings)
    # 3 simple statements + 2 executes; the parse and the two binds are not events
    assert [e.protocol for e in evs] == ["simple"] * 3 + ["extended"] * 2
    assert [e.duration_ms for e in evs] == [124.928, 0.211, 0.032, 0.215, 0.131]
    ext = evs[3]
    assert ext.statement_name == "njTypeOidQuery_Name"
    assert ext.query.startswith("SELECT t.oid FROM pg_catalog.pg_type t")
    # the value spans two lines: PostgreSQL's tab after the newline is not part of it
    assert ext.params == ("1234", "njchar\nhello", "aaaa")
    assert evs[4].params == ("1234", "njvarchar\nbye", "iiii")
    assert (ext.user, ext.database, ext.pid, ext.session) == ("user1", "mydb", 4913, "4913")
    assert ext.ts is not None and ext.ts.isoformat() == "2021-12-03T07:14:48.594000+00:00"
    assert ext.line == 8
    assert stream.skipped_lines == 0


def test_csvlog_23_columns_jdbc() -> None:
    stream, evs = events("anonymize.log")
    assert stream.files[0].format == "csvlog"
    # 9 records: 6 executes... minus binds = 5 events, all extended
    assert len(evs) == 5 and {e.protocol for e in evs} == {"extended"}
    assert [e.statement_name for e in evs] == ["S_65", "<unnamed>", "<unnamed>", "S_29", "S_29"]
    first = evs[0]
    assert first.params is not None and first.params[1] is None and first.params[0] == "XXXXXXXX"
    assert (first.user, first.database, first.client) == ("aaaa", "aaaa", "127.0.0.1")
    assert first.application == "PostgreSQL JDBC Driver"
    assert first.session == "6009c305.5ce" and first.pid == 1486
    offset = first.ts.utcoffset() if first.ts is not None else None
    assert offset is not None and offset.total_seconds() == 3600  # CET
    assert evs[4].duration_ms == 1221.083
    assert any("not in time order" in w for w in stream.warnings)


def test_cnpg_gzip_counts_every_duration_message() -> None:
    stream, evs = events("cnpg.log.gz")
    info = stream.files[0]
    assert (info.format, info.compression) == ("cnpg", "gzip")
    # the 400 "duration:" messages less the 74 of an empty statement (";", the instance
    # manager's probe), which no format counts (as an RDS "statement: " is not);
    # connections are not events
    assert len(evs) == 326
    assert not any(e.query.strip(" ;") == "" for e in evs)
    assert stream.skipped_lines == 0
    apps = Counter(e.application for e in evs)
    assert apps["cnpg-instance-manager"] > 0
    assert all(e.session and e.client == "[local]" and e.user == "postgres" for e in evs)


def _key(e: LogEvent) -> tuple[object, ...]:
    return (
        e.query,
        e.duration_ms,
        e.params,
        e.protocol,
        e.statement_name,
        e.user,
        e.database,
        e.pid,
    )


def test_stderr_csvlog_jsonlog_of_one_workload_agree() -> None:
    """One pgbench run logged three ways: the same 130 statements come out of each."""
    _, err = events("stderr.log")
    _, csv_ = events("csvlog.csv.gz")
    js_stream, js = events("jsonlog.json.zst")
    assert js_stream.files[0].format == "jsonlog" and js_stream.files[0].compression == "zstd"
    assert len(err) == 130  # pgBadger counts 130 queries in stderr.log as well
    # each destination is written through its own pipe: sessions interleave differently
    assert sorted(map(_key, err), key=repr) == sorted(map(_key, csv_), key=repr)
    assert sorted(map(_key, err), key=repr) == sorted(map(_key, js), key=repr)
    protocols = Counter(e.protocol for e in err)
    assert protocols == {"extended": 78, "simple": 52}
    # pgbench -M prepared: 6 transactions x 7 statements, each executed once
    prepared = [e for e in err if e.statement_name and e.statement_name.startswith("P_")]
    assert len(prepared) == 42
    assert Counter(e.statement_name for e in prepared) == {f"P_{i}": 6 for i in range(7)}
    update = next(e for e in prepared if e.statement_name == "P_1")
    assert update.query == "UPDATE pgbench_accounts SET abalance = abalance + $1 WHERE aid = $2;"
    assert update.params is not None and len(update.params) == 2
    # a statement spanning lines keeps its newlines (and its string literal's newline)
    multi = next(e for e in err if e.query.startswith("SELECT n.id,"))
    assert multi.query.splitlines()[1].strip() == "n.body"
    assert any(e.query == "SELECT note('multi\nline');" for e in err)
    # the failed statement (ERROR + STATEMENT:) is not an executed statement
    assert not any("no_such_table" in e.query for e in err)
    assert len({e.session for e in js}) > 2 and all("." in (e.session or "") for e in js)


def test_log_statement_all_with_log_duration_is_linked() -> None:
    """statement:/execute lines (log_statement=all) get the duration logged after them."""
    stream, evs = events("stderr-log_statement.log")
    assert stream.files[0].prefix == "%t [%p]: [%l-1] user=%u,db=%d,app=%a,client=%h "
    text = (_log("stderr-log_statement.log")).read_text()
    logged = text.count("LOG:  statement: ") + text.count("LOG:  execute ")
    assert len(evs) == logged == 89
    assert all(e.duration_ms is not None for e in evs)
    assert Counter(e.protocol for e in evs) == {"simple": 47, "extended": 42}
    ext = [e for e in evs if e.protocol == "extended"]
    assert all(e.params is not None or "$1" not in e.query for e in ext)
    assert {e.application for e in evs} >= {"pgbench"}
    assert {e.client for e in evs} == {"127.0.0.1"}


def test_pg_stat_statements_exports_have_no_timeline() -> None:
    for name in ("pg_stat_statements.csv", "pg_stat_statements.json"):
        stream, evs = events(name)
        assert not stream.has_timeline
        assert stream.files[0].format == ("pgss-csv" if name.endswith("csv") else "pgss-json")
        assert evs and all(e.protocol == "stats" and e.ts is None for e in evs)
        begin = next(e for e in evs if e.query == "BEGIN")
        assert begin.calls > 1 and begin.duration_ms is not None and begin.duration_ms > 0
    _, csv_evs = events("pg_stat_statements.csv")
    assert all(e.database == "perfkit_samples" and e.user == "postgres" for e in csv_evs)
    stream = read_logs([_log("stderr.log"), _log("pg_stat_statements.csv")])
    assert not stream.has_timeline


def test_application_json_lines() -> None:
    stream, evs = events("app.jsonl")
    assert stream.files[0].format == "jsonl" and len(evs) == 36
    assert evs[0].query == "SELECT abalance FROM pgbench_accounts WHERE aid = %s"
    assert evs[0].params == ("1",)
    assert all(e.ts is not None and e.ts.tzinfo is not None for e in evs)
    assert all(e.duration_ms is not None and e.duration_ms > 0 for e in evs)


def test_sql_dump_splits_like_postgres_parser() -> None:
    import pglast

    stream, evs = events("schema.sql")
    assert stream.files[0].format == "sql"
    assert all(e.protocol == "file" and e.duration_ms is None for e in evs)
    text = _log("schema.sql").read_text()
    # the real parser, after removing what psql handles itself (meta-commands, COPY data)
    sql_only = []
    copy = False
    for line in text.splitlines(keepends=True):
        if copy:
            copy = line.rstrip("\n") != "\\."
            continue
        if line.startswith("\\"):
            continue
        sql_only.append(line)
        copy = line.startswith("COPY ") and "FROM stdin;" in line
    expected = [s.strip() for s in pglast.split("".join(sql_only))]
    assert [e.query.rstrip(";").strip() for e in evs] == expected
    atomic = next(e for e in evs if "BEGIN ATOMIC" in e.query)
    assert atomic.query.rstrip().endswith("END")
    assert any("'note; '" in e.query for e in evs)


# -- several inputs, compression, stdin -------------------------------------------------
def test_several_files_and_compressions_agree(tmp_path: Path) -> None:
    raw = (_log("stderr.log")).read_bytes()
    (tmp_path / "a.log.bz2").write_bytes(bz2.compress(raw))
    (tmp_path / "b.log.zst").write_bytes(zstandard.ZstdCompressor().compress(raw))
    # two gzip members (what `cat a.gz b.gz` produces) are one log
    half = raw.index(b"\n2026", len(raw) // 2) + 1
    (tmp_path / "c.log.gz").write_bytes(gzip.compress(raw[:half]) + gzip.compress(raw[half:]))
    stream = read_logs([tmp_path / "a.log.bz2", tmp_path / "b.log.zst", tmp_path / "c.log.gz"])
    evs = list(stream)
    assert [f.compression for f in stream.files] == ["bz2", "zstd", "gzip"]
    assert len(evs) == 3 * 130
    assert (
        [_key(e) for e in evs[:130]]
        == [_key(e) for e in evs[130:260]]
        == [_key(e) for e in evs[260:]]
    )
    assert evs[0].source.endswith("a.log.bz2")


@pytest.mark.parametrize("kind", ["gzip", "bz2", "zstd"])
def test_truncated_compressed_input_is_an_error(tmp_path: Path, kind: str) -> None:
    one = (_log("stderr.log")).read_bytes()
    # 25 different copies (identical ones would compress into a few bytes)
    raw = b"".join(one.replace(b" ms  ", b"%d ms  " % i) for i in range(25))
    compress: dict[str, Callable[[bytes], bytes]] = {
        "gzip": gzip.compress,
        "bz2": bz2.compress,
        "zstd": zstandard.ZstdCompressor().compress,
    }
    packed = compress[kind](raw)
    p = tmp_path / "cut.log"
    p.write_bytes(packed[: len(packed) * 2 // 3])
    stream = read_logs([p])
    seen = 0
    with pytest.raises(TruncatedInput, match="truncated") as err:
        for _ in stream:
            seen += 1
    assert stream.truncated and err.value.path == str(p)
    assert 0 < seen < 25 * 130  # the complete part was read, but the error says it is partial


def test_truncated_small_input_fails_before_reading(tmp_path: Path) -> None:
    packed = gzip.compress((DATA / "multiline_param.log").read_bytes())
    p = tmp_path / "cut.log.gz"
    p.write_bytes(packed[:-20])
    with pytest.raises(TruncatedInput, match=r"cut\.log\.gz: gzip stream ends early"):
        read_logs([p])


def test_stdin(monkeypatch: pytest.MonkeyPatch) -> None:
    data = gzip.compress((DATA / "multiline_param.log").read_bytes())
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data)))
    stream = read_logs(["-"])
    evs = list(stream)
    assert stream.files[0].path == "<stdin>" and stream.files[0].compression == "gzip"
    assert len(evs) == 5 and evs[3].source == "<stdin>"


def test_stream_is_iterable_once() -> None:
    stream = read_logs([DATA / "multiline_param.log"])
    assert len(list(stream)) == 5
    with pytest.raises(RuntimeError):
        iter(stream)


def test_forced_format_and_explicit_prefix() -> None:
    stream, evs = events(
        "multiline_param.log", log_format="stderr", prefix="%m [%p] user=%u,db=%d "
    )
    assert stream.files[0].prefix_inferred is False and len(evs) == 5
    assert set(FORMATS) >= {
        "stderr",
        "csvlog",
        "jsonlog",
        "cnpg",
        "sql",
        "jsonl",
        "pgss-csv",
        "pgss-json",
    }


# -- bad input --------------------------------------------------------------------------
def test_file_matching_no_format_names_the_first_line(tmp_path: Path) -> None:
    p = write(tmp_path, "notes.txt", "\n\nhello world, this is not a log\nsecond\n")
    with pytest.raises(InputError) as err:
        read_logs([p])
    assert str(err.value).startswith(f"{p}:3: matches no supported log format")
    assert "hello world" in str(err.value)
    # a config file's "[section]" is not a JSON array (a pg_stat_statements export)
    p = write(tmp_path, "pyproject.toml", '[build-system]\nrequires = ["x"]\n')
    with pytest.raises(InputError) as err:
        read_logs([p])
    assert str(err.value).startswith(f"{p}:1: matches no supported log format")


def test_prefix_matching_nothing_says_so(tmp_path: Path) -> None:
    with pytest.raises(InputError) as err:
        read_logs([DATA / "multiline_param.log"], prefix="%t:%r:%u@%d:[%p]:")
    msg = str(err.value)
    assert "log_line_prefix '%t:%r:%u@%d:[%p]:' matches none of the first 16 lines" in msg
    assert msg.startswith(str(DATA / "multiline_param.log") + ":1:")


def test_bad_options() -> None:
    with pytest.raises(UsageError, match="--log-format"):
        read_logs([_log("stderr.log")], log_format="pgbadger")
    with pytest.raises(UsageError, match="--prefix"):
        read_logs([_log("stderr.log")], prefix="%m %Z ")
    with pytest.raises(InputError, match="no such file"):
        read_logs([DATA / "missing.log"])


def test_skipped_lines_counted_and_strict_makes_them_fatal(tmp_path: Path) -> None:
    lines = (DATA / "multiline_param.log").read_text().splitlines(keepends=True)
    lines.insert(3, "garbage line from somewhere else\n")
    p = write(tmp_path, "bad.log", "".join(lines))
    stream, evs = events(str(p))
    assert len(evs) == 5 and stream.skipped_lines == 1
    assert stream.skipped_samples == [(str(p), 4, "garbage line from somewhere else")]
    with pytest.raises(InputError) as err:
        list(read_logs([p], strict=True))
    assert str(err.value).startswith(f"{p}:4: cannot parse line (--strict)")


def test_non_english_messages_are_reported(tmp_path: Path) -> None:
    # lc_messages = 'de_DE': PostgreSQL's German translation of the same messages
    text = (
        "2024-03-01 10:00:00.001 CET [42] app@shop LOG:  Dauer: 0.512 ms  Anweisung: SELECT 1\n"
        "2024-03-01 10:00:00.002 CET [42] app@shop FEHLER:  Relation »x« existiert nicht\n"
        "2024-03-01 10:00:00.003 CET [42] app@shop LOG:  duration: 0.100 ms  statement: SELECT 2\n"
    )
    stream, evs = events(str(write(tmp_path, "de.log", text)))
    assert [e.query for e in evs] == ["SELECT 2"]
    assert any("non-English server messages" in w and "de.log:1" in w for w in stream.warnings)
    assert stream.skipped_lines == 0


def test_empty_file(tmp_path: Path) -> None:
    stream, evs = events(str(write(tmp_path, "empty.log", "")))
    assert evs == [] and stream.files[0].format == "empty"


def test_directory_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="is a directory"):
        read_logs([tmp_path])


# -- server-log variants -----------------------------------------------------------------
RDS = (
    "2024-05-01 10:00:00 UTC:10.0.1.5(51234):app_user@orders:[2201]:LOG:  duration: 1.250 ms  "
    "statement: SELECT * FROM orders WHERE id = 7\n"
    "2024-05-01 10:00:01 UTC:10.0.1.5(51234):app_user@orders:[2201]:LOG:  duration: 0.500 ms  "
    "execute <unnamed>: SELECT * FROM orders WHERE id = $1\n"
    "2024-05-01 10:00:01 UTC:10.0.1.5(51234):app_user@orders:[2201]:DETAIL:  parameters: $1 = '8'\n"
    "2024-05-01 10:00:02 UTC::@:[1987]:LOG:  checkpoint starting: time\n"
)


def test_rds_prefix_is_inferred(tmp_path: Path) -> None:
    stream, evs = events(str(write(tmp_path, "rds.log", RDS)))
    assert stream.files[0].prefix == "%t:%r:%u@%d:[%p]:"
    assert [(e.user, e.database, e.client, e.pid) for e in evs] == [
        ("app_user", "orders", "10.0.1.5", 2201)
    ] * 2
    assert evs[1].params == ("8",) and evs[1].protocol == "extended"
    assert stream.skipped_lines == 0


def test_log_statement_and_min_duration_together_count_once(tmp_path: Path) -> None:
    """log_statement=all plus log_min_duration_statement=0 logs each statement twice."""
    p = "2024-05-01 10:00:00.{ms:03d} UTC [{pid}] u@d LOG:  "
    text = "".join(
        [
            p.format(ms=1, pid=7) + "statement: SELECT 1\n",
            p.format(ms=2, pid=8) + "statement: SELECT 2\n",
            p.format(ms=3, pid=7) + "duration: 0.300 ms  statement: SELECT 1\n",
            p.format(ms=4, pid=8) + "duration: 0.400 ms  statement: SELECT 2\n",
            p.format(ms=5, pid=7) + "statement: SELECT 3\n",  # fast, not logged with duration
            p.format(ms=6, pid=7) + "statement: SELECT 4\n",
            p.format(ms=7, pid=7) + "duration: 9.000 ms  statement: SELECT 4\n",
            p.format(ms=8, pid=8) + "statement: SELECT 5\n",  # never completed
        ]
    )
    _, evs = events(str(write(tmp_path, "both.log", text)))
    assert [(e.query, e.duration_ms) for e in evs] == [
        ("SELECT 1", 0.3),
        ("SELECT 2", 0.4),
        ("SELECT 3", None),
        ("SELECT 4", 9.0),
        ("SELECT 5", None),
    ]


SYSLOG = (
    "Mar  3 10:00:00 db1 postgres[3301]: [5-1] 2024-03-03 10:00:00.100 UTC [3301] bob@shop LOG:  "
    "duration: 0.800 ms  statement: SELECT id,\n"
    "Mar  3 10:00:00 db1 postgres[3301]: [5-2] #011       name FROM items WHERE note = 'a#011b'\n"
    "Mar  3 10:00:00 db1 postgres[3301]: [5-3]  AND id > 3\n"
    "Mar  3 10:00:01 db1 postgres[3302]: [2-1] 2024-03-03 10:00:01.000 UTC [3302] LOG:  checkpoint starting\n"
)


def test_syslog_continuations_and_tabs(tmp_path: Path) -> None:
    stream, evs = events(str(write(tmp_path, "syslog", SYSLOG)))
    assert stream.files[0].format == "syslog" and stream.files[0].prefix == STDERR_PREFIX
    assert len(evs) == 1
    # [5-2] starts with #011 (the tab after a newline); [5-3] continues the same line
    assert evs[0].query == "SELECT id,\n       name FROM items WHERE note = 'a\tb' AND id > 3"
    assert (evs[0].user, evs[0].pid) == ("bob", 3301)


def test_real_syslog_log() -> None:
    """rsyslog file of PostgreSQL 15 (log_destination=syslog): pgBadger counts 89 too."""
    stream, evs = events("syslog.log")
    info = stream.files[0]
    assert (info.format, info.prefix) == ("syslog", "user=%u,db=%d,app=%a,client=%h ")
    assert len(evs) == 89 and stream.skipped_lines == 0
    assert Counter(e.protocol for e in evs) == {"simple": 47, "extended": 42}
    # DETAIL chunks ([n-2] with their own prefix) still give the bound values
    ext = [e for e in evs if e.protocol == "extended" and "$1" in e.query]
    assert ext and all(e.params for e in ext)
    # a statement longer than one syslog chunk: [4-3] #011..., [4-4] (mid-line), [4-5] #011...
    long = next(e for e in evs if "IN (" in e.query)
    assert long.query.startswith(
        "SELECT aid, abalance\n  FROM pgbench_accounts\n WHERE aid IN (1, 2, 3,"
    )
    assert ", 198, 199, 200, " in long.query and long.query.endswith("260)\n   AND abalance >= 0")
    # the time and pid come from the syslog header (the prefix has neither)
    assert long.ts is not None and long.ts.tzinfo is not None and long.pid is not None
    assert (long.user, long.database, long.application, long.client) == (
        "postgres",
        "perfkit_samples",
        "psql",
        "127.0.0.1",
    )
    assert all(e.pid is not None and e.session == str(e.pid) for e in evs)


def test_unusual_prefix_is_inferred_from_its_labels(tmp_path: Path) -> None:
    text = (
        "2024-05-01 10:00:00.123 UTC <pid=77> {user=alice db=crm} LOG:  duration: 2.000 ms  "
        "statement: SELECT 1\n"
    )
    stream, evs = events(str(write(tmp_path, "odd.log", text)))
    assert stream.files[0].prefix == "%m <pid=%p> {user=%u db=%d} "
    assert "matches 1 of 1 first lines exactly" in stream.warnings[0]
    assert len(evs) == 1 and evs[0].user == "alice" and evs[0].database == "crm"


def test_crlf_line_ends(tmp_path: Path) -> None:
    text = (DATA / "multiline_param.log").read_text().replace("\n", "\r\n")
    p = tmp_path / "crlf.log"
    p.write_bytes(text.encode())
    _, evs = events(str(p))
    assert [_key(e) for e in evs] == [_key(e) for e in events("multiline_param.log")[1]]


def test_jsonl_variants_and_pgss_old_column_names(tmp_path: Path) -> None:
    jl = write(
        tmp_path,
        "app.jsonl",
        '{"ts": 1714557600.5, "duration_ms": 3, "query": "SELECT $1", "params": {"1": 7}}\n'
        "not json\n"
        '{"ts": "2024-05-01T10:00:01Z", "query": "SELECT 2", "user": "api"}\n',
    )
    stream, evs = events(str(jl))
    assert [(e.query, e.duration_ms, e.params, e.user) for e in evs] == [
        ("SELECT $1", 3.0, ("7",), None),
        ("SELECT 2", None, None, "api"),
    ]
    assert evs[0].ts is not None and evs[0].ts.isoformat() == "2024-05-01T10:00:00.500000+00:00"
    assert stream.skipped_lines == 1 and stream.skipped_samples[0][1:] == (2, "not json")
    # PostgreSQL 12 and older call it total_time
    pgss = write(tmp_path, "pgss.csv", 'query,calls,total_time,rows\n"SELECT $1",10,25.5,10\n')
    stream, evs = events(str(pgss))
    assert stream.files[0].format == "pgss-csv" and not stream.has_timeline
    assert [(e.query, e.calls, e.duration_ms, e.rows) for e in evs] == [("SELECT $1", 10, 25.5, 10)]


def test_postgres_13_plus_capitalised_parameters_detail(tmp_path: Path) -> None:
    # PostgreSQL 13+ writes "DETAIL:  Parameters:"; the values must not be dropped
    log = tmp_path / "pg18.log"
    log.write_text(
        "2026-11-25 02:08:21.409 UTC [12470] LOG:  duration: 6.808 ms  execute <unnamed>: "
        "SELECT id FROM leads WHERE email = $1 AND owner_id = $2\n"
        "2026-11-25 02:08:21.409 UTC [12470] DETAIL:  Parameters: $1 = 'a''b@x.io', $2 = NULL\n"
    )
    (ev,) = list(read_logs([log]))
    assert ev.protocol == "extended"
    assert ev.params == ("a'b@x.io", None)


def test_jsonlog_parse_and_bind_records_are_skipped_but_never_a_statement(
    tmp_path: Path,
) -> None:
    """Past the validated head, parse/bind duration records are dropped before JSON
    decoding; statements whose text merely contains those words still count."""
    import json

    def rec(i: int, message: str) -> str:
        obj = {
            "timestamp": f"2024-05-01 10:{i // 60:02d}:{i % 60:02d}.000 UTC",
            "pid": 7,
            "session_id": "a.7",
            "error_severity": "LOG",
            "message": message,
            "detail": "parameters: $1 = '5'",
        }
        return json.dumps(obj, separators=(",", ":")) + "\n"

    tricky = [
        "SELECT 'duration: 1.000 ms  bind S_1: x' WHERE a = $1",
        'SELECT "message":"duration: 2 ms  parse x" FROM t WHERE a = $1',
    ]
    lines = []
    for i in range(300):
        lines.append(rec(i, f"duration: 0.010 ms  parse S_{i}: SELECT {i} WHERE a = $1"))
        lines.append(rec(i, f"duration: 0.020 ms  bind S_{i}: SELECT {i} WHERE a = $1"))
        q = tricky[i % 2] if i >= 250 else f"SELECT {i} WHERE a = $1"
        lines.append(rec(i, f"duration: 0.030 ms  execute S_{i}: {q}"))
    log = tmp_path / "pg.json"
    log.write_text("".join(lines))
    stream = read_logs([log])
    events = list(stream)
    assert stream.files[0].format == "jsonlog"
    assert len(events) == 300 and stream.skipped_lines == 0
    assert [e.query for e in events[250:252]] == tricky
    assert all(e.params == ("5",) and e.duration_ms == 0.03 for e in events)


# -- issue 14: the stderr reader's faults ------------------------------------------------
def test_continuation_lines_indented_with_spaces_keep_the_statement_end(tmp_path: Path) -> None:
    """A log whose tabs became spaces (copied, or re-shipped by a collector)."""
    head = "2024-05-01 10:00:00.100 UTC [71] alice@shop LOG:  duration: 1.500 ms  statement: "
    text = (
        f"{head}SELECT id,\n"
        "        name\n"
        "    FROM items\n"
        "    WHERE id = 7\n"
        "2024-05-01 10:00:00.200 UTC [71] alice@shop LOG:  duration: 0.500 ms  statement: SELECT 2\n"
    )
    stream, evs = events(str(write(tmp_path, "spaces.log", text)))
    assert [e.query for e in evs] == ["SELECT id,\nname\nFROM items\nWHERE id = 7", "SELECT 2"]
    assert stream.skipped_lines == 0
    tabbed = text.replace("\n        ", "\n\t").replace("\n    ", "\n\t")
    _, tab_evs = events(str(write(tmp_path, "tabs.log", tabbed)))
    assert [e.duration_ms for e in tab_evs] == [e.duration_ms for e in evs]


def test_unknown_names_in_bracketed_prefix_fields(tmp_path: Path) -> None:
    text = (
        "2024-05-01 10:00:00.100 UTC [71] [[unknown]] [[unknown]] LOG:  connection received: "
        "host=10.0.0.1 port=5000\n"
        "2024-05-01 10:00:00.200 UTC [71] [alice] [shop] LOG:  duration: 1.500 ms  statement: "
        "SELECT 1\n"
    )
    p = write(tmp_path, "brackets.log", text)
    for prefix in ("%m [%p] [%u] [%d] ", None):
        stream = read_logs([p], prefix=prefix, strict=True)  # a line failing would raise
        evs = list(stream)
        assert stream.files[0].prefix == "%m [%p] [%u] [%d] "
        assert [(e.user, e.database) for e in evs] == [("alice", "shop")]


PGBOUNCER = (
    "2024-05-01 10:00:00.123 UTC [1234] LOG kernel file descriptor limit: 1024 (hard: 4096)\n"
    "2024-05-01 10:00:01.456 UTC [1234] LOG C-0x55d0b0: shop/alice@10.0.0.1:50000 login "
    "attempt: db=shop user=alice tls=no\n"
    "2024-05-01 10:01:00.000 UTC [1234] LOG stats: 2 xacts/s, 4 queries/s, in 120 B/s, out "
    "300 B/s, xact 1500 us, query 700 us, wait 10 us\n"
)


def test_pgbouncer_lines_are_not_called_non_english(tmp_path: Path) -> None:
    p = write(tmp_path, "pgbouncer.log", PGBOUNCER)
    with pytest.raises(InputError):
        read_logs([p])  # not a PostgreSQL log: refused, no guess
    # one container's output: the server's lines and pgBouncer's ("attempt:" is no severity)
    pg = "".join(
        f"2024-05-01 10:00:0{i}.000 UTC [7{i}] alice@shop LOG:  duration: 1.000 ms  "
        f"statement: SELECT {i}\n"
        for i in range(6)
    )
    stream = read_logs([write(tmp_path, "mixed.log", pg + PGBOUNCER)])
    assert len(list(stream)) == 6
    assert stream.files[0].prefix == "%m [%p] %u@%d "
    assert not [w for w in stream.warnings if "non-English" in w]
    german = write(
        tmp_path,
        "de.log",
        "2024-05-01 10:00:00.123 UTC [7] alice@shop FEHLER:  Relation »x« existiert nicht\n"
        "2024-05-01 10:00:00.200 UTC [7] alice@shop LOG:  Dauer: 1.000 ms  Anweisung: SELECT 1\n",
    )
    with pytest.raises(InputError, match="not in English") as err:
        list(read_logs([german]))  # nothing usable: an error, never an empty report
    assert "FEHLER" in str(err.value) and err.value.line == 1
