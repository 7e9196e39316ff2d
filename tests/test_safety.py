"""The statement guard keeps every database unchanged (issue 13, items 1 and 2).

Each dangerous statement class goes through the paths that send user SQL (``explain``
with and without ``--analyze``, ``pool --query/--script``, ``replay``, the library)
against a real server - the embedded cluster, and the machine's PostgreSQL 15 when
``PERFKIT_LOCAL_DSN`` is set - and a snapshot taken before and after must be equal:
row checksums, sequence values, another session still alive, advisory and relation
locks, indexes, extensions, tables, large objects, prepared transactions. Hypothesis
builds random multi-statement texts from the classes: no write or guard-lifting
statement is ever allowed, and every statement gets exactly one verdict.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from perfkit.db.guard import (
    FunctionInfo,
    Guard,
    GuardPolicy,
    RelationInfo,
    explain_policy,
    split_statements,
)

# --- statement classes -----------------------------------------------------------------

READS = [
    "SELECT * FROM t WHERE id = 3",
    "SELECT count(*), random(), now(), clock_timestamp() FROM t",
    "SELECT gen_random_uuid()",
    "WITH x AS (SELECT v FROM t) SELECT sum(v) FROM x",
    "VALUES (1), (2)",
    "SELECT pg_sleep(0)",
    "SELECT stable_f()",
    "SELECT * FROM safe_view",
]
WRITES = [
    "UPDATE t SET v = -8 WHERE id = 6",
    "DELETE FROM t WHERE id < 3",
    "INSERT INTO t (v) VALUES (42)",
    "INSERT INTO plain VALUES (1)",
    "WITH d AS (DELETE FROM t RETURNING *) SELECT count(*) FROM d",
    "MERGE INTO plain p USING (SELECT 1 AS a) s ON p.a = s.a WHEN NOT MATCHED THEN INSERT VALUES (s.a)",
    "SELECT * INTO made FROM t",
    "CREATE TABLE made2 (a int)",
    "CREATE INDEX made_idx ON t (v)",
    "DROP TABLE plain",
    "TRUNCATE t",
    "COPY t FROM STDIN",
    "ALTER TABLE t ADD COLUMN w int",
    "CREATE TEMP TABLE tmp1 AS SELECT 1",
]
TRANSACTION = [
    "BEGIN",
    "COMMIT",
    "END",
    "ROLLBACK",
    "START TRANSACTION ISOLATION LEVEL SERIALIZABLE",
    "SAVEPOINT s1",
    "RELEASE SAVEPOINT s1",
    "ROLLBACK TO SAVEPOINT s1",
]
LIFTS_GUARD = [
    "BEGIN READ WRITE",
    "START TRANSACTION READ WRITE",
    "SET TRANSACTION READ WRITE",
    "SET SESSION CHARACTERISTICS AS TRANSACTION READ WRITE",
    "SET default_transaction_read_only = off",
    "SET transaction_read_only = off",
    "SET LOCAL transaction_read_only TO off",
    "SET statement_timeout = 0",
    "SET lock_timeout TO DEFAULT",
    "RESET statement_timeout",
    "SET idle_in_transaction_session_timeout = 0",
    "RESET ALL",
    "SET ROLE postgres",
    "RESET ROLE",
    "SET SESSION AUTHORIZATION postgres",
    "DISCARD ALL",
    "SELECT set_config('default_transaction_read_only', 'off', false)",
    "SELECT pg_catalog.set_config('statement_timeout', '0', true)",
    "SELECT set_config(current_setting('application_name'), 'off', false)",
]
SIDE_EFFECTS = [
    "SELECT setval('t_id_seq', 5)",
    "SELECT nextval('t_id_seq')",
    'SELECT "pg_catalog"."setval"(\'t_id_seq\', 7, true)',
    "SELECT SETVAL('t_id_seq', 9)",
    "SELECT * FROM t WHERE v > (SELECT nextval('t_id_seq'))",
    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'victim'",
    "SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE application_name = 'victim'",
    "SELECT pg_advisory_lock(42)",
    "SELECT pg_try_advisory_lock(43)",
    "SELECT pg_advisory_xact_lock(44)",
    "SELECT pg_notify('chan', 'x')",
    "NOTIFY chan",
    "SELECT lo_create(0)",
    "SELECT lo_from_bytea(0, 'x')",
    "SELECT writes_f()",
    "SELECT public.writes_f()",
    "SELECT seq_f()",
    "SELECT * FROM term_view",
    "SELECT 1 FROM t WHERE v = seq_f()",
    "DO $$ BEGIN INSERT INTO plain VALUES (9); END $$",
    "CALL proc_ins()",
    "VACUUM t",
    "ANALYZE t",
    "CLUSTER t USING t_pkey",
    "REINDEX TABLE t",
    "CHECKPOINT",
    "CREATE INDEX CONCURRENTLY made_cidx ON t (v)",
    "COPY t TO PROGRAM 'cat > /dev/null'",
    "COPY (SELECT 1) TO '/tmp/perfkit_guard_copy'",
    "SELECT query_to_xml('SELECT setval(''t_id_seq'', 1)', true, true, '')",
    "PREPARE TRANSACTION 'pk'",
    "COMMIT PREPARED 'pk'",
    "SELECT pg_reload_conf()",
    "SELECT dblink_exec('x', 'y')",
]
UNPARSABLE = [
    "SELEC 1",
    "UPDATE t SET",
    "\\set x 1",
    "SELECT 'unterminated",
]
# Offline only: these must never reach a shared server even if the guard broke.
OFFLINE_ONLY = [
    "ALTER SYSTEM SET work_mem = '1GB'",
    "CREATE EXTENSION IF NOT EXISTS dblink",
    "CREATE DATABASE other_db",
    "LOAD 'auto_explain'",
    "SELECT pg_promote()",
    "SELECT pg_switch_wal()",
    "SELECT pg_create_restore_point('x')",
    "SELECT pg_logical_emit_message(true, 'x', 'y')",
    "SELECT pg_rotate_logfile()",
    "SELECT pg_file_write('f', 'x', false)",
    "SELECT lo_unlink(1)",
    "SELECT lo_export(1, '/tmp/x')",
    "SELECT dblink('host=x', 'DELETE FROM t')",
    "COPY t FROM PROGRAM 'true'",
    "EXPLAIN ANALYZE SELECT setval('t_id_seq', 5)",
    "CREATE TABLE made3 AS SELECT pg_terminate_backend(1)",
    "SELECT * FROM t, LATERAL (SELECT pg_advisory_lock(t.id)) x",
    "SELECT ARRAY(SELECT setval('s', 1))",
    "SELECT CASE WHEN true THEN pg_cancel_backend(1) END",
    "SELECT (SELECT max(v) FROM t) + nextval('s')",
    "SELECT setval(pg_get_serial_sequence('t', 'id'), 1)",
    "SELECT * FROM generate_series(1, nextval('s'))",
    "EXPLAIN (ANALYZE) SELECT setval('s', 1)",
    "SELECT lo_import('/etc/passwd')",
    "COPY t TO '/tmp/x'",
    'SET "Statement_Timeout" = 0',
    "SET SESSION statement_timeout = 0",
    "SELECT set_config('STATEMENT_TIMEOUT', '0', false)",
    "ALTER ROLE postgres SET default_transaction_read_only = off",
    "ALTER DATABASE x RESET ALL",
    "ALTER SYSTEM SET statement_timeout = 0",
    "DECLARE c CURSOR FOR SELECT setval('s', 1)",
    "SELECT U&\"\\0073etval\"('s', 1)",
    "SELECT * FROM pg_advisory_lock(1)",
    "SET LOCAL ROLE x",
    "SET TRANSACTION ISOLATION LEVEL SERIALIZABLE, READ WRITE",
    "WITH x AS MATERIALIZED (SELECT setval('s', 1)) SELECT * FROM x",
    "SELECT count(*) FILTER (WHERE nextval('s') > 0) FROM t",
    "SELECT row_number() OVER (ORDER BY pg_cancel_backend(1)) FROM t",
    "SELECT 1 ORDER BY pg_advisory_lock(1)",
    "SELECT JSON_OBJECT('a': setval('s', 1))",
    "SELECT * FROM t WHERE id = ANY(ARRAY(SELECT nextval('s')))",
    "VALUES (nextval('s'))",
    "SELECT pg_stat_reset()",
    "SELECT pg_create_logical_replication_slot('x', 'pgoutput')",
    "SELECT pg_drop_replication_slot('x')",
    "SELECT pg_backup_start('x')",
    "SELECT brin_summarize_new_values('i')",
    "PREPARE p1 AS SELECT setval('s', 1)",
    "EXECUTE never_prepared",
    "SELECT 1 \\g",
    "COMMIT AND CHAIN",
    "ABORT",
    "SELECT pg_rotate_logfile_old()",
]

DANGEROUS = WRITES + LIFTS_GUARD + SIDE_EFFECTS + UNPARSABLE + TRANSACTION
# what a view hides only the server's catalog tells
NEEDS_CATALOG = {"SELECT * FROM term_view"}
OFFLINE = [s for s in DANGEROUS + OFFLINE_ONLY if s not in NEEDS_CATALOG]

# the measurement policy of the read paths (check, pool without flags): reads only
READ_ONLY = GuardPolicy()


def _kinds(sql: str, policy: GuardPolicy = READ_ONLY) -> list[tuple[str, bool]]:
    return [(v.kind, v.allowed) for v in Guard(policy).judge(sql)]


# --- the guard alone (no server) -------------------------------------------------------


@pytest.mark.parametrize("sql", READS[:6])
def test_reads_are_allowed(sql: str) -> None:
    assert _kinds(sql) == [("read", True)]


@pytest.mark.parametrize("sql", OFFLINE)
def test_dangerous_statements_are_refused_with_a_reason(sql: str) -> None:
    for policy in (READ_ONLY, explain_policy(analyze=True)):
        verdicts = Guard(policy).judge(sql)
        assert verdicts, sql
        for v in verdicts:
            if v.kind in ("write", "lock") and policy.writes:
                continue  # explain --analyze runs DML rolled back (tested on the server)
            assert not v.allowed, (sql, v)
            assert v.reason


@pytest.mark.parametrize("sql", LIFTS_GUARD)
def test_guard_lifting_is_refused_even_with_every_flag(sql: str) -> None:
    from perfkit.db.guard import EFFECT_CATEGORIES

    policy = GuardPolicy(
        writes=True, transactions=True, session=True, allow_effects=frozenset(EFFECT_CATEGORIES)
    )
    assert [v.allowed for v in Guard(policy).judge(sql)] == [False]
    assert Guard(policy).judge(sql)[0].kind == "lifts_guard"


@pytest.mark.parametrize(
    "sql", ["SELECT 1\x00; DELETE FROM t", "DELETE FROM t\x00", "/* \x00 */ SELECT 1"]
)
def test_nul_bytes_are_refused(sql: str) -> None:
    """libpq and the parser both cut the text at a NUL: it is never judged or sent."""
    for policy in (READ_ONLY, explain_policy(analyze=True)):
        (v,) = Guard(policy).judge(sql)
        assert (v.kind, v.allowed) == ("unparsable", False), v
        assert "\x00" not in v.text and "NUL" in v.reason


class _TableCatalog:
    """A :class:`FunctionCatalog` from a table of user functions (no server)."""

    def __init__(self, *infos: FunctionInfo) -> None:
        self.infos = infos

    def functions(self, names: Iterable[str]) -> Mapping[str, Sequence[FunctionInfo]]:
        return {n: [i for i in self.infos if i.name == n] for n in names}

    def operators(self, names: Iterable[str]) -> Mapping[str, Sequence[FunctionInfo]]:
        return {n: [] for n in names}

    def relations(self, names: Iterable[str]) -> Mapping[str, Sequence[RelationInfo]]:
        return {n: [] for n in names}

    def casts(self, types: Iterable[str]) -> Mapping[str, Sequence[FunctionInfo]]:
        return {n: [] for n in types}


def _plpgsql(name: str, body: str, vol: str = "s") -> FunctionInfo:
    text = (
        f"CREATE FUNCTION public.{name}(a integer) RETURNS integer LANGUAGE plpgsql AS $b${body}$b$"
    )
    return FunctionInfo("public", name, vol, False, None, "plpgsql", text)


def test_function_bodies_are_judged_whatever_they_declare() -> None:
    cat = _TableCatalog(
        _plpgsql("honest", "DECLARE r int; BEGIN r := a + 1; RETURN r; END"),
        _plpgsql("dyn", "DECLARE r int; BEGIN EXECUTE 'SELECT 1' INTO r; RETURN r; END"),
        _plpgsql("sig", "BEGIN PERFORM pg_cancel_backend(a); RETURN 0; END", "i"),
        _plpgsql("ping", "BEGIN RETURN pong(a); END"),
        _plpgsql(
            "pong", "BEGIN IF a > 0 THEN RETURN ping(a - 1); END IF; RETURN setval('s', 1); END"
        ),
        FunctionInfo("public", "sqlf", "i", False, None, "sql", "SELECT nextval('s')::int"),
        FunctionInfo("public", "cf", "s", False, None, "c", "cf"),
    )
    for analyze in (True, False):
        g = Guard(explain_policy(analyze=analyze), cat)
        assert g.judge_one("SELECT honest(1)").allowed
        for sql in ("SELECT pong(1)", "SELECT ping(1)", "SELECT sig(1)", "SELECT sqlf(1)"):
            v = g.judge_one(sql)  # the planner folds these even without ANALYZE
            assert not v.allowed and v.effects, (analyze, sql, v)
        for sql in ("SELECT dyn(1)", "SELECT cf(1)"):  # bodies that cannot be read
            v = g.judge_one(sql)
            assert not v.allowed and "volatile-functions" in v.hint, (analyze, sql, v)


def test_split_and_classes() -> None:
    text = "UPDATE t SET v=-8 WHERE id=6; COMMIT; UPDATE t SET v=-9 WHERE id=7"
    verdicts = Guard(explain_policy(analyze=True)).judge(text)
    assert [v.kind for v in verdicts] == ["write", "transaction", "write"]
    assert [v.text for v in verdicts] == [
        "UPDATE t SET v=-8 WHERE id=6",
        "COMMIT",
        "UPDATE t SET v=-9 WHERE id=7",
    ]
    assert not verdicts[1].allowed and "never sent" in verdicts[1].message
    one = Guard(READ_ONLY).judge_one(text)
    assert not one.allowed and "3 statements" in one.reason


def test_flags_name_the_effect() -> None:
    sql = "SELECT setval('t_id_seq', 5)"
    assert not Guard(GuardPolicy(allow_effects=frozenset({"signals"}))).judge(sql)[0].allowed
    for flag in ("sequences", "setval"):
        v = Guard(GuardPolicy(allow_effects=frozenset({flag}))).judge(sql)[0]
        assert v.allowed and v.needs_write and v.effects == ("setval: sequences",)
    # a plan alone runs nothing: EXPLAIN without ANALYZE may plan it
    assert Guard(explain_policy(analyze=False)).judge(sql)[0].allowed


def test_effect_flags_must_name_effects(cli: Any) -> None:
    from perfkit.db.guard import parse_effect_flags
    from perfkit.errors import UsageError

    assert parse_effect_flags(["sequences,Signals", " setval "]) == {
        "sequences",
        "signals",
        "setval",
    }
    with pytest.raises(UsageError, match="name the effects"):
        parse_effect_flags(["all"])
    r = cli("explain", "-s", "SELECT 1", "--analyze", "--allow-side-effects", "all")
    assert r.exit_code == 2 and "--allow-side-effects: name the effects" in r.stderr


def test_prepared_statements_are_judged_by_their_body() -> None:
    g = Guard(GuardPolicy(session=True))
    kinds = [(v.kind, v.allowed) for v in g.judge("PREPARE p AS DELETE FROM t; EXECUTE p")]
    assert kinds == [("write", False), ("write", False)]
    g = Guard(GuardPolicy(session=True))
    kinds = [(v.kind, v.allowed) for v in g.judge("PREPARE q AS SELECT 1; EXECUTE q")]
    assert kinds == [("session", True), ("read", True)]
    assert not Guard(GuardPolicy()).judge("EXECUTE unknown_stmt")[0].allowed


def test_select_for_update_locks() -> None:
    v = Guard(READ_ONLY).judge("SELECT * FROM t FOR UPDATE")[0]
    assert (v.kind, v.allowed) == ("lock", False)
    v = Guard(explain_policy(analyze=True)).judge("SELECT * FROM t FOR SHARE")[0]
    assert (v.kind, v.allowed, v.needs_write) == ("lock", True, True)
    assert Guard(READ_ONLY).judge("LOCK TABLE t")[0].kind == "lock"


# (an unterminated quote would swallow the statements after it: tested alone above)
def test_pool_scripts_are_split_per_statement() -> None:
    import random

    from perfkit.errors import UnsafeOperation
    from perfkit.pool.workload import guard_workload, parse_script, split_workload

    wl = split_workload(
        parse_script("\\set a random(1, 9)\nSELECT :a; SELECT :a + 1, 'x;y';\nBEGIN;\nCOMMIT;\n")
    )
    sent = [x for x in wl.transaction(random.Random(0)) if isinstance(x, str)]
    assert len(sent) == 4 and sent[1].endswith(", 'x;y'") and sent[2:] == ["BEGIN", "COMMIT"]
    assert sent[0] == f"SELECT {sent[1].split()[1]}"  # one value of :a for both statements
    pool = GuardPolicy(transactions=True, session=True)
    assert len(guard_workload(wl, Guard(pool))) == 4
    bad = split_workload(
        parse_script("SELECT 1; RESET ALL;\nSELECT setval('s', :x);\n".replace(":x", "1"))
    )
    with pytest.raises(UnsafeOperation) as err:
        guard_workload(bad, Guard(pool))
    assert "line 1: lifts_guard: RESET ALL" in str(err.value)
    assert "line 2: side_effect" in str(err.value)


_PIECES = st.sampled_from([p for p in READS[:6] + OFFLINE if "'unterminated" not in p])
_SEP = st.sampled_from([";", "; ", ";\n", " ;\n-- note\n", "; /* c */ "])


@settings(max_examples=150, deadline=None, derandomize=True)
@given(st.lists(st.tuples(_PIECES, _SEP), min_size=1, max_size=6))
def test_random_multi_statement_text_never_lets_danger_through(
    parts: list[tuple[str, str]],
) -> None:
    text = "".join(p + s for p, s in parts)
    readish = set(READS)
    for policy in (READ_ONLY, GuardPolicy(session=True, transactions=True)):
        verdicts = Guard(policy).judge(text)
        raws, error = split_statements(text)
        if error is not None:
            # one unparsable piece: the whole text is refused, nothing is sent
            assert len(verdicts) == 1 and not verdicts[0].allowed
            continue
        assert len(verdicts) == len(raws) == len(parts)  # nothing dropped, nothing merged
        for v, (piece, _) in zip(verdicts, parts, strict=True):
            assert " ".join(v.text.split()) == " ".join(piece.split())
            if v.allowed:
                assert v.kind in ("read", "transaction", "session"), v
                assert piece in readish or v.kind == "transaction", v
            assert v.kind != "lifts_guard" or not v.allowed


# --- against a real server ---------------------------------------------------------------

SETUP = """
CREATE TABLE t (id serial PRIMARY KEY, v int);
INSERT INTO t (v) SELECT g FROM generate_series(1, 20) g;
CREATE TABLE plain (a int);
CREATE SEQUENCE s;
CREATE FUNCTION writes_f() RETURNS int LANGUAGE sql AS 'INSERT INTO plain VALUES (7) RETURNING 1';
CREATE FUNCTION seq_f() RETURNS bigint LANGUAGE sql AS $$SELECT nextval('t_id_seq')$$;
CREATE FUNCTION stable_f() RETURNS int LANGUAGE sql STABLE AS 'SELECT 1';
CREATE PROCEDURE proc_ins() LANGUAGE sql AS 'INSERT INTO plain VALUES (8)';
CREATE VIEW safe_view AS SELECT id, v FROM t;
CREATE VIEW term_view AS
    SELECT pg_terminate_backend(pid) AS x FROM pg_stat_activity WHERE application_name = 'victim';
"""


def _admin(dsn: str, sql: str) -> None:
    with psycopg.connect(dsn, autocommit=True) as c:
        c.execute(sql)


@pytest.fixture(scope="module", params=["embedded", "local"])
def server(request: Any) -> Iterator[str]:
    """A prepared database on the embedded cluster, or on PERFKIT_LOCAL_DSN's server."""
    from psycopg.conninfo import make_conninfo

    if request.param == "local":
        admin = os.environ.get("PERFKIT_LOCAL_DSN")
        if not admin:
            pytest.skip("PERFKIT_LOCAL_DSN not set")
    else:
        admin = request.getfixturevalue("pg_server")
    name = f"pk_guard_{uuid.uuid4().hex[:10]}"
    _admin(admin, f'CREATE DATABASE "{name}"')
    dsn = make_conninfo(admin, dbname=name)
    try:
        _admin(dsn, SETUP)
        yield dsn
    finally:
        _admin(admin, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def victim(server: str) -> Iterator[int]:
    """Another session that must stay alive; its pid."""
    conn = psycopg.connect(server, autocommit=True, application_name="victim")
    try:
        row = conn.execute("SELECT pg_backend_pid()").fetchone()
        assert row is not None
        yield int(row[0])
    finally:
        conn.close()


def snapshot(dsn: str, victim: int) -> dict[str, Any]:
    with psycopg.connect(dsn, autocommit=True) as c:

        def rows(sql: str, *args: Any) -> list[tuple[Any, ...]]:
            return c.execute(sql, args or None).fetchall()

        return {
            "t": rows("SELECT md5(coalesce(string_agg(t::text, ',' ORDER BY id), '')) FROM t"),
            "plain": rows("SELECT count(*), coalesce(sum(a), 0) FROM plain"),
            "sequences": rows("SELECT sequencename, last_value FROM pg_sequences ORDER BY 1"),
            "victim": rows("SELECT count(*) FROM pg_stat_activity WHERE pid = %s", victim),
            # this database's only: other test runs may share the server
            "locks": rows(
                "SELECT locktype, mode, objid FROM pg_locks "
                "WHERE database = (SELECT oid FROM pg_database WHERE datname = current_database())"
                " AND (locktype = 'advisory' OR (locktype = 'relation' AND pid <> pg_backend_pid()"
                # autovacuum and other background workers lock relations on their own
                " AND pid IN (SELECT pid FROM pg_stat_activity"
                " WHERE backend_type = 'client backend')))"
                " ORDER BY 1, 2, 3"
            ),
            "indexes": rows(
                "SELECT indexname FROM pg_indexes WHERE schemaname = 'public' ORDER BY 1"
            ),
            "tables": rows(
                "SELECT relname, relkind FROM pg_class WHERE relnamespace = 'public'::regnamespace ORDER BY 1"
            ),
            "columns": rows(
                "SELECT count(*) FROM information_schema.columns WHERE table_name = 't'"
            ),
            "extensions": rows("SELECT extname FROM pg_extension ORDER BY 1"),
            "large_objects": rows("SELECT count(*) FROM pg_largeobject_metadata"),
            "prepared_xacts": rows(
                "SELECT count(*) FROM pg_prepared_xacts WHERE database = current_database()"
            ),
        }


def _explain(cli: Any, dsn: str, *args: str) -> dict[str, Any]:
    if not args[0].startswith("-"):
        args = ("-s", *args)
    r = cli("explain", "--dsn", dsn, "--format", "json", *args)
    # every -s statement is in the report, utility statements too (never dropped)
    assert "no queries to work on" not in r.stderr, r.stderr
    assert "Traceback" not in r.stderr and "Warning" not in r.stderr, r.stderr
    doc = dict(json.loads(r.stdout))
    refused = [q for q in doc["queries"] if q["refused"]]
    if refused and len(refused) == len(doc["queries"]):
        assert r.exit_code == 2 and "every statement was refused" in r.stderr, r.stderr
    else:
        assert r.exit_code == 0, r.stderr
    return doc


CLASSES = {
    "writes": WRITES,
    "lifts_guard": LIFTS_GUARD,
    "side_effects": SIDE_EFFECTS,
    "unparsable": UNPARSABLE,
    "transaction": TRANSACTION,
}


@pytest.mark.parametrize("analyze", [True, False], ids=["analyze", "plan"])
def test_explain_changes_nothing(cli: Any, server: str, victim: int, analyze: bool) -> None:
    extra = ("--analyze",) if analyze else ()
    for name, statements in CLASSES.items():
        before = snapshot(server, victim)
        args = [a for sql in statements for a in ("-s", sql)]
        doc = _explain(cli, server, *args, *extra)
        assert snapshot(server, victim) == before, name
        for q in doc["queries"]:
            assert q["plan"] is not None or q["error"].strip(), q
            if name != "writes" and (analyze or name != "side_effects"):
                assert q["refused"] or q["error"], (name, q)
            if q["refused"]:
                assert q["error"].startswith("refused ("), q


@pytest.mark.parametrize("sql", ["VACUUM t", "SET ROLE postgres", "COMMIT", "SHOW work_mem"])
def test_a_lone_utility_statement_is_reported_not_dropped(
    cli: Any, server: str, victim: int, sql: str
) -> None:
    before = snapshot(server, victim)
    doc = _explain(cli, server, sql)
    assert snapshot(server, victim) == before
    [q] = doc["queries"]
    assert q["refused"] and q["error"].startswith("refused ("), q


def test_explain_analyze_of_the_issue(cli: Any, server: str, victim: int) -> None:
    before = snapshot(server, victim)
    doc = _explain(
        cli,
        server,
        "UPDATE t SET v=-8 WHERE id=6; COMMIT; UPDATE t SET v=-9 WHERE id=7",
        "--analyze",
    )
    assert snapshot(server, victim) == before
    refused = [q for q in doc["queries"] if q["refused"]]
    assert len(doc["queries"]) == 3 and len(refused) == 1
    assert "transaction" in refused[0]["error"]
    # both UPDATEs really ran (EXPLAIN ANALYZE), each rolled back
    assert all(q["execution_ms"] is not None for q in doc["queries"] if not q["refused"])


def test_reads_run_read_only(cli: Any, server: str, victim: int) -> None:
    doc = _explain(cli, server, "SELECT * FROM safe_view WHERE v > 3", "--analyze")
    assert doc["queries"][0]["error"] is None and doc["queries"][0]["execution_ms"] is not None
    # a writing function flagged through: it runs, the rollback undoes its write
    before = snapshot(server, victim)
    doc = _explain(
        cli, server, "SELECT writes_f()", "--analyze", "--allow-side-effects", "writes_f"
    )
    assert snapshot(server, victim) == before
    assert doc["queries"][0]["error"] is None


def test_flagged_sequence_advance_is_reported(cli: Any, server: str, victim: int) -> None:
    doc = _explain(cli, server, "INSERT INTO t (v) VALUES (1)", "--analyze")
    assert doc["queries"][0]["refused"] and "sequences" in doc["queries"][0]["error"]
    before = snapshot(server, victim)
    doc = _explain(
        cli,
        server,
        "INSERT INTO t (v) VALUES (1)",
        "--analyze",
        "--allow-side-effects",
        "sequences",
    )
    after = snapshot(server, victim)
    assert doc["queries"][0]["effects"] == ["advanced sequence public.t_id_seq"]
    assert after["t"] == before["t"]  # the row was rolled back, the sequence was not
    assert after["sequences"] != before["sequences"]


def test_hidden_effects_of_views_triggers_and_rules(cli: Any, server: str, victim: int) -> None:
    _admin(
        server,
        """
        CREATE TABLE IF NOT EXISTS trig (a int);
        CREATE OR REPLACE FUNCTION trig_f() RETURNS trigger LANGUAGE plpgsql AS
            $$BEGIN PERFORM pg_advisory_lock(7); RETURN NEW; END$$;
        DROP TRIGGER IF EXISTS trig_t ON trig;
        CREATE TRIGGER trig_t BEFORE INSERT ON trig FOR EACH ROW EXECUTE FUNCTION trig_f();
        CREATE TABLE IF NOT EXISTS ruled (a int);
        CREATE OR REPLACE RULE ruled_r AS ON INSERT TO ruled DO ALSO NOTIFY chan;
        CREATE OR REPLACE VIEW nested_view AS SELECT * FROM term_view;
        CREATE OR REPLACE FUNCTION vol_b(int) RETURNS boolean LANGUAGE sql AS 'SELECT true';
        CREATE TABLE IF NOT EXISTS dflt (a int DEFAULT nextval('s'), b int);
        CREATE TABLE IF NOT EXISTS chk (a int CHECK (vol_b(a)));
        CREATE TABLE IF NOT EXISTS rls (a int);
        ALTER TABLE rls ENABLE ROW LEVEL SECURITY;
        DROP POLICY IF EXISTS rls_p ON rls;
        CREATE POLICY rls_p ON rls USING (vol_b(a));
        CREATE OR REPLACE FUNCTION agg_sf(int, int) RETURNS int LANGUAGE sql AS 'SELECT $1 + $2';
        DROP AGGREGATE IF EXISTS my_agg(int);
        CREATE AGGREGATE my_agg(int) (sfunc = agg_sf, stype = int);
        DROP TYPE IF EXISTS mood CASCADE;
        CREATE TYPE mood AS ENUM ('ok');
        CREATE FUNCTION int_to_mood(int) RETURNS mood LANGUAGE sql AS $$SELECT 'ok'::mood$$;
        CREATE CAST (int AS mood) WITH FUNCTION int_to_mood(int);
        """,
    )
    for sql, effect in [
        ("INSERT INTO dflt (b) VALUES (1)", "sequences"),
        ("INSERT INTO chk VALUES (1)", "volatile-functions"),
        ("UPDATE chk SET a = 2", "volatile-functions"),
        ("SELECT * FROM rls", "volatile-functions"),
        ("SELECT my_agg(v) FROM t", "volatile-functions"),
        ("SELECT 1::mood", "volatile-functions"),
        ("INSERT INTO trig VALUES (1)", "volatile-functions"),
        ("INSERT INTO ruled VALUES (1)", "volatile-functions"),
        ("SELECT * FROM nested_view", "signals"),
        ("SELECT * FROM t JOIN term_view ON true", "signals"),
        ("UPDATE pg_settings SET setting = '0' WHERE name = 'statement_timeout'", ""),
    ]:
        before = snapshot(server, victim)
        doc = _explain(cli, server, sql, "--analyze")
        assert snapshot(server, victim) == before, sql
        (q,) = doc["queries"]
        assert q["refused"] and effect in q["error"], (sql, q["error"])


LYING = """
CREATE SEQUENCE IF NOT EXISTS lie_s;
CREATE OR REPLACE FUNCTION lie_seq(int) RETURNS int LANGUAGE sql STABLE
    AS $$SELECT nextval('public.lie_s')::int + $1$$;
CREATE OR REPLACE FUNCTION lie_pl(int) RETURNS int LANGUAGE plpgsql STABLE
    AS $$BEGIN PERFORM nextval('public.lie_s'); RETURN $1; END$$;
CREATE OR REPLACE FUNCTION lie_dyn(int) RETURNS int LANGUAGE plpgsql STABLE
    AS $$DECLARE r int; BEGIN EXECUTE 'SELECT nextval(''public.lie_s'')' INTO r; RETURN r; END$$;
CREATE OR REPLACE FUNCTION lie_term() RETURNS int LANGUAGE sql IMMUTABLE AS $$
    SELECT count(pg_terminate_backend(pid))::int FROM pg_stat_activity
    WHERE application_name = 'victim' AND datname = current_database()$$;
CREATE OR REPLACE FUNCTION lie_imm(int) RETURNS int LANGUAGE sql IMMUTABLE
    AS $$SELECT $1 + 0 * nextval('public.lie_s')::int$$;
CREATE OR REPLACE FUNCTION lie_eq(int, int) RETURNS boolean LANGUAGE sql STABLE
    AS $$SELECT nextval('public.lie_s') > 0$$;
CREATE OR REPLACE FUNCTION seq_trg() RETURNS trigger LANGUAGE plpgsql
    AS $$BEGIN PERFORM nextval('public.lie_s'); RETURN NEW; END$$;
CREATE OR REPLACE FUNCTION honest(int) RETURNS int LANGUAGE plpgsql STABLE
    AS $$DECLARE r int; BEGIN r := $1 + 1; RETURN r; END$$;
DO $$BEGIN
    CREATE DOMAIN lie_dom AS int CHECK (lie_pl(VALUE) > -1);
    CREATE TABLE dom_t (a lie_dom);
    CREATE TABLE parted (id int) PARTITION BY RANGE (id);
    CREATE TABLE parted_1 PARTITION OF parted FOR VALUES FROM (0) TO (1000);
    CREATE TRIGGER parted_1_t BEFORE INSERT ON parted_1 FOR EACH ROW EXECUTE FUNCTION seq_trg();
    CREATE TABLE fk_parent (id int PRIMARY KEY);
    INSERT INTO fk_parent VALUES (1);
    CREATE TABLE fk_child (id int REFERENCES fk_parent ON DELETE CASCADE);
    INSERT INTO fk_child VALUES (1);
    CREATE TRIGGER fk_child_t BEFORE DELETE ON fk_child FOR EACH ROW EXECUTE FUNCTION seq_trg();
    CREATE TABLE inh_parent (a int);
    CREATE TABLE inh_child () INHERITS (inh_parent);
    INSERT INTO inh_child VALUES (1);
    CREATE TRIGGER inh_child_t BEFORE UPDATE ON inh_child FOR EACH ROW EXECUTE FUNCTION seq_trg();
    CREATE TABLE ix_t (a int);
    CREATE INDEX ix_t_lie ON ix_t (lie_imm(a));
    CREATE TYPE lie_pair AS (a int, b int);
    CREATE FUNCTION lie_pair_eq(lie_pair, lie_pair) RETURNS boolean LANGUAGE sql IMMUTABLE
        AS $f$SELECT count(pg_terminate_backend(pid)) >= 0 FROM pg_stat_activity
        WHERE application_name = 'victim' AND datname = current_database()$f$;
    CREATE TABLE pairs (p lie_pair);
    INSERT INTO pairs VALUES (ROW(1, 2));
    CREATE TYPE lie_mood AS ENUM ('ok');
    CREATE FUNCTION int_to_lie_mood(int) RETURNS lie_mood LANGUAGE sql IMMUTABLE
        AS $f$SELECT CASE WHEN nextval('public.lie_s') > 0 THEN 'ok'::lie_mood END$f$;
    CREATE CAST (int AS lie_mood) WITH FUNCTION int_to_lie_mood(int) AS ASSIGNMENT;
    CREATE TABLE moods (m lie_mood);
    CREATE TABLE view_base (id serial, a int);
    CREATE TRIGGER view_base_t BEFORE UPDATE ON view_base FOR EACH ROW EXECUTE FUNCTION seq_trg();
    CREATE VIEW writable_view AS SELECT * FROM view_base;
    INSERT INTO view_base (a) VALUES (1);
EXCEPTION WHEN duplicate_object OR duplicate_table THEN NULL;
END$$;
"""
# operators are looked up by name: dropped after the test, not to refuse others' "="
LYING_OPERATORS = """
CREATE OPERATOR ~=~ (LEFTARG = int, RIGHTARG = int, FUNCTION = lie_eq);
CREATE OPERATOR = (LEFTARG = lie_pair, RIGHTARG = lie_pair, FUNCTION = lie_pair_eq);
"""


@pytest.mark.parametrize("analyze", [True, False], ids=["analyze", "plan"])
def test_declared_volatility_may_lie_and_writes_reach_other_tables(
    cli: Any, server: str, victim: int, analyze: bool
) -> None:
    """User functions are judged by their body, not their declared volatility (the
    planner itself runs IMMUTABLE/STABLE ones); a write reaches partitions, inheritance
    children, cascaded tables, a view's base tables, index expressions and domains."""
    _admin(server, LYING)
    _admin(server, LYING_OPERATORS)
    try:
        _lying_cases(cli, server, victim, analyze)
    finally:
        _admin(server, "DROP OPERATOR ~=~ (int, int); DROP OPERATOR = (lie_pair, lie_pair)")


def _lying_cases(cli: Any, server: str, victim: int, analyze: bool) -> None:
    extra = ("--analyze",) if analyze else ()
    refused = [
        "SELECT lie_term()",
        "SELECT * FROM t WHERE v = lie_seq(1)",
        "SELECT * FROM t WHERE v ~=~ 1",
        "SELECT * FROM pairs x JOIN pairs y USING (p)",
        "SELECT * FROM pairs x NATURAL JOIN pairs y",
        "SELECT CASE p WHEN ROW(1, 2)::lie_pair THEN 1 END FROM pairs",
        "SELECT * FROM t ORDER BY v USING ~=~",
    ]
    if analyze:
        refused += [
            "INSERT INTO plain VALUES (lie_seq(1))",
            "INSERT INTO plain VALUES (lie_pl(1))",
            "INSERT INTO plain VALUES (lie_dyn(1))",
            "INSERT INTO plain VALUES (5::lie_dom)",
            "UPDATE plain SET a = 1 WHERE a ~=~ 1",
            "INSERT INTO dom_t VALUES (1)",
            "INSERT INTO parted VALUES (1)",
            "DELETE FROM fk_parent",
            "UPDATE inh_parent SET a = 2",
            "INSERT INTO ix_t VALUES (1)",
            "INSERT INTO writable_view (a) VALUES (1)",
            "INSERT INTO moods VALUES (1)",
            "UPDATE writable_view SET a = 2",
        ]
    for sql in refused:
        before = snapshot(server, victim)
        doc = _explain(cli, server, sql, *extra)
        assert snapshot(server, victim) == before, sql
        (q,) = doc["queries"]
        assert q["refused"], (sql, q)
    # an honest STABLE function still runs
    doc = _explain(cli, server, "UPDATE plain SET a = honest(a)", *extra)
    (q,) = doc["queries"]
    assert not q["refused"] and q["plan"] is not None, q


def test_suggest_indexes_trial_and_verify_change_nothing(
    cli: Any, server: str, victim: int
) -> None:
    args = [a for sql in SIDE_EFFECTS[:8] + LIFTS_GUARD[:4] + WRITES[:3] for a in ("-s", sql)]
    before = snapshot(server, victim)
    r = cli("suggest-indexes", "--dsn", server, "--trial", "--verify", "--format", "json", *args)
    assert r.exit_code in (0, 1), r.stderr
    assert snapshot(server, victim) == before


def test_check_refuses_with_the_reason(cli: Any, server: str, victim: int, tmp_path: Path) -> None:
    cfg = tmp_path / "perfkit.toml"
    cfg.write_text(
        '[check.a]\ntype = "explain"\nquery = "SELECT 1; COMMIT; DELETE FROM t"\n'
        '[check.b]\ntype = "explain"\nquery = "BEGIN READ WRITE"\n'
    )
    before = snapshot(server, victim)
    r = cli("--config", str(cfg), "check", "--dsn", server, "--format", "json")
    assert snapshot(server, victim) == before
    assert r.exit_code != 0
    assert "Traceback" not in r.stderr
    errors = [c["error"] for c in json.loads(r.stdout)["checks"]]
    assert "holds 3 statements" in errors[0] and "refused (transaction): COMMIT" in errors[0]
    assert "refused (lifts_guard): BEGIN READ WRITE" in errors[1]


def test_pool_refuses_before_sending(cli: Any, server: str, victim: int, tmp_path: Path) -> None:
    base = ("pool", "--dsn", server, "--clients", "1", "--pool-size", "1", "--no-fresh")
    fast = ("--requests", "5", "--warmup", "0", "--workers", "1")
    script = tmp_path / "s.pgb"
    for first in ("SET SESSION CHARACTERISTICS AS TRANSACTION READ WRITE;", "BEGIN READ WRITE;"):
        script.write_text(f"{first}\nINSERT INTO plain VALUES (1);\nCOMMIT;\n")
        before = snapshot(server, victim)
        r = cli(*base, *fast, "--script", str(script))
        assert r.exit_code == 2, r.stdout
        assert "line 1" in r.stderr and "line 2" in r.stderr, r.stderr
        assert snapshot(server, victim) == before
    for sql in [
        *LIFTS_GUARD[:3],
        *SIDE_EFFECTS[:6:2],
        "SELECT writes_f()",
        "SELECT 1; DELETE FROM t",
    ]:
        before = snapshot(server, victim)
        r = cli(*base, *fast, "--query", sql)
        assert r.exit_code == 2, (sql, r.stdout)
        assert "refused" in r.stderr, r.stderr
        assert snapshot(server, victim) == before, sql
    r = cli(*base, *fast, "--query", "SELECT count(*) FROM safe_view", "--format", "json")
    assert r.exit_code == 0, r.stderr


def _jsonlog(path: Path, statements: list[str]) -> None:
    lines = []
    for i, sql in enumerate(statements):
        lines.append(
            json.dumps(
                {
                    "timestamp": f"2026-11-25 02:15:46.{i:03d} UTC",
                    "user": "postgres",
                    "dbname": "app",
                    "pid": 100 + i % 2,
                    "session_id": f"s{i % 2}",
                    "line_num": i + 1,
                    "error_severity": "LOG",
                    "message": f"duration: 0.050 ms  statement: {sql}",
                    "backend_type": "client backend",
                }
            )
        )
    path.write_text("\n".join(lines) + "\n")


def test_replay_skips_with_reasons(server: str, victim: int, tmp_path: Path) -> None:
    from perfkit.db.target import Target
    from perfkit.replay.engine import replay
    from perfkit.replay.model import ReplayOptions

    log = tmp_path / "app.json"
    statements = [s for s in DANGEROUS if s not in UNPARSABLE and "STDIN" not in s]
    _jsonlog(log, ["SELECT count(*) FROM t", *statements, "SELECT v FROM t WHERE id = 2"])
    before = snapshot(server, victim)
    result = replay([log], Target(server, "option"), ReplayOptions(speed=None, sessions=2))
    assert snapshot(server, victim) == before
    for r in result.runs:
        reasons = dict(r.skipped_reasons)
        reasons.pop("transaction aborted by an earlier error", None)
        # the log's own transaction control is replayed (the session stays read-only)
        assert sum(reasons.values()) == len(statements) - len(TRANSACTION), reasons
        assert reasons.get("could lift read-only mode or timeouts", 0) >= len(LIFTS_GUARD)
    assert all(r.statements >= 2 for r in result.runs)


@settings(
    max_examples=6,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(st.lists(st.sampled_from(READS + DANGEROUS), min_size=1, max_size=4))
def test_random_texts_through_the_library(server: str, victim: int, pieces: list[str]) -> None:
    from perfkit.db.connect import connect
    from perfkit.db.target import Target
    from perfkit.indexes.explain import explain_workload
    from perfkit.indexes.workload import Workload, WorkloadQuery

    text = "; ".join(pieces)
    query = WorkloadQuery("q", text, text, None, 1, None, "test")
    before = snapshot(server, victim)
    conn = connect(Target(server, "option"))
    try:
        result = explain_workload(conn, Workload((query,), 0, 0, ()), analyze=True)
        with conn.transaction():
            held = conn.execute(
                "SELECT count(*) FROM pg_locks WHERE pid = pg_backend_pid() AND locktype = 'advisory'"
            ).fetchone()
        assert held == (0,)
        assert conn.info.transaction_status == 0  # idle: nothing left open
    finally:
        conn.close()
    assert snapshot(server, victim) == before, text
    raws, error = split_statements(text)
    # every statement is reported, explained or refused (unparsable text: once, whole)
    assert len(result.queries) == (1 if error else len(raws))
