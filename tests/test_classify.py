"""Cacheability rules shared by analyze's replay and the CachedExecutor."""

from __future__ import annotations

import pytest

from perfkit.querylog.classify import ALL_TABLES, SessionTracker, classify, table_key

READS_CACHEABLE = [
    ("SELECT abalance FROM pgbench_accounts WHERE aid = 4405;", {"pgbench_accounts"}),
    ("SELECT * FROM t WHERE a = $1", {"t"}),
    ("select * from Public.Users u join orders o on o.uid = u.id", {"public.users", "orders"}),
    ('SELECT * FROM "Sch"."T"', {"Sch.T"}),
    ("WITH c AS (SELECT * FROM t) SELECT * FROM c", {"t"}),
    ("VALUES (1)", set()),
    ("SELECT 1", set()),
]


@pytest.mark.parametrize(("sql", "tables"), READS_CACHEABLE)
def test_plain_reads_are_cacheable(sql: str, tables: set[str]) -> None:
    c = classify(sql)
    assert c.kind == "read"
    assert c.cacheable and c.reason is None
    assert c.tables_read == frozenset(tables)
    assert not c.tables_written


UNCACHEABLE_READS = [
    ("SELECT now(), a FROM t", "volatile function (now"),
    ("SELECT * FROM t ORDER BY random()", "volatile function (random)"),
    ("SELECT nextval('s')", "volatile function (nextval)"),
    ("SELECT clock_timestamp()", "volatile function (clock_timestamp)"),
    ("SELECT txid_current()", "volatile function (txid_current)"),
    ("SELECT gen_random_uuid()", "volatile function (gen_random_uuid)"),
    ("SELECT pg_try_advisory_lock(1)", "volatile function (pg_try_advisory_lock)"),
    ("SELECT * FROM t WHERE created > current_date", "volatile function (current_date)"),
    ("SELECT * FROM a JOIN b ON true FOR UPDATE", "locks rows (FOR UPDATE)"),
    ("SELECT * FROM a FOR SHARE SKIP LOCKED", "locks rows (FOR SHARE)"),
    ("SELECT * FROM pg_temp.scratch", "temporary table"),
    ("SELECT * FROM pg_stat_activity", "server state (pg_stat_activity)"),
    ("SELECT EXISTS(SELECT 1 FROM pg_settings WHERE pending_restart)", "server state"),
    ("SELECT pg_is_in_recovery()", "volatile function (pg_is_in_recovery)"),
    ("SELECT pg_reload_conf()", "volatile function (pg_reload_conf)"),
    ("SELECT current_schemas(true)", "volatile function (current_schemas)"),
    ("SELECT pg_catalog.pg_rotate_logfile()", "volatile function (pg_rotate_logfile)"),
    ("SELECT current_setting('work_mem')", "volatile function (current_setting)"),
    ("COPY t TO STDOUT", "COPY TO"),
]


@pytest.mark.parametrize(("sql", "reason"), UNCACHEABLE_READS)
def test_uncacheable_reads_say_why(sql: str, reason: str) -> None:
    c = classify(sql)
    assert c.kind == "read"
    assert not c.cacheable
    assert c.reason is not None and reason in c.reason
    assert not c.tables_written


WRITES = [
    ("INSERT INTO pgbench_history (tid) VALUES (1)", {"pgbench_history"}),
    ("UPDATE t SET a = 1 FROM u WHERE t.id = u.id", {"t"}),
    ("DELETE FROM s.t WHERE id = $1", {"s.t"}),
    ("MERGE INTO t USING s ON t.id = s.id WHEN MATCHED THEN UPDATE SET x = 1", {"t"}),
    ("TRUNCATE a, b", {"a", "b"}),
    ("COPY t FROM STDIN", {"t"}),
    ("WITH d AS (DELETE FROM t RETURNING *) SELECT * FROM d", {"t"}),
    ("WITH i AS (INSERT INTO log VALUES (1) RETURNING id) SELECT * FROM x, i", {"log"}),
    ("SELECT * INTO copy_of_t FROM t", {"copy_of_t"}),
    ("REFRESH MATERIALIZED VIEW CONCURRENTLY mv", {"mv"}),
    ("EXPLAIN ANALYZE DELETE FROM t", {"t"}),
    ("CALL do_things()", {ALL_TABLES}),
    ("DO $$ BEGIN PERFORM 1; END $$", {ALL_TABLES}),
]


@pytest.mark.parametrize(("sql", "written"), WRITES)
def test_writes_name_the_tables_they_change(sql: str, written: set[str]) -> None:
    c = classify(sql)
    assert c.kind == "write"
    assert not c.cacheable
    assert c.tables_written == frozenset(written)


DDL = [
    ("ALTER TABLE t ADD COLUMN x int", {"t"}),
    ("DROP TABLE x, y", {"x", "y"}),
    ("CREATE INDEX i ON s.t (a)", {"s.t"}),
    ("CREATE TABLE n AS SELECT * FROM y", {"n"}),
]


@pytest.mark.parametrize(("sql", "written"), DDL)
def test_ddl_invalidates_its_table(sql: str, written: set[str]) -> None:
    c = classify(sql)
    assert c.kind == "ddl" and not c.cacheable
    assert c.tables_written == frozenset(written)


@pytest.mark.parametrize(
    ("sql", "action"),
    [
        ("BEGIN", "begin"),
        ("start transaction isolation level serializable", "begin"),
        ("COMMIT", "commit"),
        ("END", "commit"),
        ("ROLLBACK", "rollback"),
        ("ROLLBACK TO SAVEPOINT a", "savepoint"),
        ("SAVEPOINT a", "savepoint"),
    ],
)
def test_transaction_control(sql: str, action: str) -> None:
    c = classify(sql)
    assert c.kind == "transaction" and c.tx_action == action and not c.cacheable


@pytest.mark.parametrize(
    "sql", ["SET search_path = x", "SHOW work_mem", "VACUUM t", "LOCK TABLE t", "DISCARD ALL"]
)
def test_session_and_maintenance_commands_are_neither_reads_nor_writes(sql: str) -> None:
    c = classify(sql)
    assert c.kind == "other" and not c.cacheable and c.reason
    assert not c.tables_written


@pytest.mark.parametrize(
    "sql", ["", ";", "garbage here", "SELECT * FROM t WHERE a = 'unterminated", "\x00"]
)
def test_unparseable_is_uncacheable_not_an_error(sql: str) -> None:
    c = classify(sql)
    assert not c.cacheable and c.reason
    assert not c.tables_written


@pytest.mark.parametrize(
    "sql",
    [
        "CREATE TEMP TABLE scratch (a int)",
        "create temporary table if not exists scratch (a int) on commit drop",
        "CREATE TEMP TABLE scratch AS SELECT * FROM t",
    ],
)
def test_temp_table_creation_is_reported(sql: str) -> None:
    c = classify(sql)
    assert c.kind == "ddl" and c.temp_tables_created == frozenset({"scratch"})
    assert c.tables_written == frozenset({"scratch"})


def test_several_statements_combine() -> None:
    c = classify("BEGIN; UPDATE t SET a = 1; COMMIT;")
    assert c.kind == "write" and c.tables_written == frozenset({"t"})
    assert c.tx_action == "commit"
    both = classify("SELECT 1; SELECT * FROM t")
    assert both.kind == "read" and both.cacheable and both.tables_read == frozenset({"t"})


def test_table_key_drops_the_schema() -> None:
    assert table_key("public.t") == "t" and table_key("t") == "t"


def test_session_tracker_blocks_reads_after_a_write_in_a_transaction() -> None:
    tr = SessionTracker()
    read, write = classify("SELECT * FROM t"), classify("UPDATE u SET a = 1")
    begin, commit = classify("BEGIN"), classify("COMMIT")
    assert tr.observe("s1", begin) is None
    assert tr.observe("s1", read) is None  # nothing written yet
    assert tr.observe("s1", write) is None
    assert tr.observe("s1", read) == "inside a transaction that already wrote"
    assert tr.observe("s2", read) is None  # other sessions are unaffected
    assert tr.in_written_tx("s1") and not tr.in_written_tx("s2")
    tr.observe("s1", commit)
    assert tr.observe("s1", read) is None
    assert len(tr) == 0  # idle sessions are not kept


def test_session_tracker_autocommit_writes_do_not_block() -> None:
    tr = SessionTracker()
    tr.observe("s", classify("UPDATE u SET a = 1"))
    assert tr.observe("s", classify("SELECT * FROM t")) is None


def test_session_tracker_temp_tables_are_per_session() -> None:
    tr = SessionTracker()
    tr.observe("a", classify("CREATE TEMP TABLE scratch (x int)"))
    read = classify("SELECT * FROM scratch")
    assert tr.observe("a", read) == "reads a temporary table"
    assert tr.observe("b", read) is None


def test_session_tracker_is_bounded() -> None:
    tr = SessionTracker(max_sessions=10)
    begin = classify("BEGIN")
    for i in range(100):
        tr.observe(i, begin)
    assert len(tr) == 10


def test_session_tracker_reports_tables_to_invalidate_at_commit() -> None:
    tr = SessionTracker()
    tr.observe("w", classify("BEGIN"))
    tr.observe("w", classify("UPDATE u SET a = 1"))
    tr.observe("w", classify("DELETE FROM s.v"))
    assert tr.committed_tables == frozenset()
    tr.observe("w", classify("COMMIT"))
    assert tr.committed_tables == frozenset({"u", "s.v"})
    tr.observe("x", classify("SELECT 1"))
    assert tr.committed_tables == frozenset()


def test_long_statements_are_classified_by_shape() -> None:
    rows = ", ".join(f"({i}, 'v{i}')" for i in range(3000))
    bulk = classify(f"INSERT INTO big (a, b) VALUES {rows}")
    assert bulk.kind == "write" and bulk.tables_written == frozenset({"big"})
    ids = ", ".join(str(i) for i in range(5000))
    read = classify(f"SELECT * FROM t WHERE id IN ({ids}) FOR UPDATE")
    assert read.kind == "read" and read.reason == "locks rows (FOR UPDATE)"
