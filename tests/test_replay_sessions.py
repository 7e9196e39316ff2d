"""replay keeps original sessions apart, counts server warnings and the cache's refused
stores, against a real PostgreSQL, on JSON Lines logs whose expected figures are known
by construction."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import psycopg
import pytest

from perfkit.cache.executor import CachedExecutor
from perfkit.cache.store import ResultCache, Stored
from perfkit.db.target import Target
from perfkit.replay.engine import replay
from perfkit.replay.model import ReplayOptions

T0 = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)


def _write_log(path: Path, rows: list[tuple[str, str]], gap_s: float = 0.001) -> Path:
    """(session, query) rows, one every ``gap_s`` of log time, each lasting 0.1 ms."""
    path.write_text(
        "".join(
            json.dumps(
                {
                    "ts": (T0 + dt.timedelta(seconds=i * gap_s)).isoformat(),
                    "duration_ms": 0.1,
                    "query": q,
                    "session": s,
                }
            )
            + "\n"
            for i, (s, q) in enumerate(rows)
        )
    )
    return path


@pytest.fixture
def table_db(scratch_db: str) -> str:
    with psycopg.connect(scratch_db, autocommit=True) as c:
        c.execute("CREATE TABLE t (id int PRIMARY KEY, v int NOT NULL)")
        c.execute("INSERT INTO t SELECT g, g FROM generate_series(1, 10) g")
    return scratch_db


def _opts(**kw: Any) -> ReplayOptions:
    base: dict[str, Any] = {"speed": None, "sessions": 1}
    base.update(kw)
    return ReplayOptions(**base)


# s1's transaction (with a skipped write) is interleaved with s2's statements. Sharing one
# connection, s2's BEGIN ran inside s1's transaction (25001 warning), s1's COMMIT ended
# s2's, s2's COMMIT found none (25P01), and s2's reads bypassed the cache as if they were
# in s1's written transaction.
INTERLEAVED = [
    ("s1", "BEGIN"),
    ("s1", "UPDATE t SET v = v WHERE id = 1"),
    ("s2", "SELECT v FROM t WHERE id = 2"),  # waits for s1's COMMIT
    ("s2", "BEGIN"),  # waits
    ("s1", "SELECT v FROM t WHERE id = 3"),  # bypasses: s1's transaction wrote
    ("s2", "SELECT v FROM t WHERE id = 4"),  # waits
    ("s1", "COMMIT"),
    ("s2", "SELECT v FROM t WHERE id = 2"),
    ("s2", "COMMIT"),
]
WAITING = 3  # s2's statements logged inside s1's transaction


def test_a_transaction_holds_its_connection(table_db: str, tmp_path: Path) -> None:
    log = _write_log(tmp_path / "interleaved.jsonl", INTERLEAVED)
    result = replay([log], Target(table_db, "option"), _opts())
    cached, direct = result.run("cached"), result.run("direct")
    assert cached is not None and direct is not None
    for run in (cached, direct):
        assert (run.errors, run.warnings, run.warning_counts) == (0, 0, ())
        assert run.waited_statements == WAITING
        assert run.waited_ms >= 0.0
        assert run.unfinished_transactions == 0
        assert run.skipped_writes == 1
    assert cached.cache is not None and result.comparison is not None
    cmp = result.comparison
    # every read is a lookup or a bypass by its own session's state, as analyze counts
    assert cached.cache.hits + cached.cache.misses == cmp.simulated_hits + cmp.simulated_misses
    assert cached.cache.hits + cached.cache.misses == 3
    # and here the ordered guard makes the waits invisible to the cache: exact
    assert (cached.cache.hits, cached.cache.misses) == (cmp.simulated_hits, cmp.simulated_misses)
    assert cached.cache.refused_stores == 2


def test_one_connection_per_session_never_waits(table_db: str, tmp_path: Path) -> None:
    log = _write_log(tmp_path / "interleaved.jsonl", INTERLEAVED)
    result = replay([log], Target(table_db, "option"), _opts(sessions=2, runs="direct"))
    (run,) = result.runs
    assert (run.waited_statements, run.warnings, run.errors) == (0, 0, 0)


def test_server_warnings_are_counted(table_db: str, tmp_path: Path) -> None:
    rows = [
        ("s1", "BEGIN"),
        ("s1", "BEGIN"),  # 25001 there is already a transaction in progress
        ("s1", "SELECT v FROM t WHERE id = 1"),
        ("s1", "COMMIT"),
        ("s1", "COMMIT"),  # 25P01 there is no transaction in progress
        ("s1", "ROLLBACK"),  # 25P01 again
    ]
    log = _write_log(tmp_path / "warn.jsonl", rows)
    result = replay([log], Target(table_db, "option"), _opts(runs="direct"))
    (run,) = result.runs
    assert run.errors == 0
    assert run.warnings == 3
    got = sorted((w.sqlstate, w.message, w.count) for w in run.warning_counts)
    # per fingerprint: COMMIT and ROLLBACK are two
    assert got == [
        ("25001", "there is already a transaction in progress", 1),
        ("25P01", "there is no transaction in progress", 1),
        ("25P01", "there is no transaction in progress", 1),
    ]


def test_a_transaction_the_log_never_ends(table_db: str, tmp_path: Path) -> None:
    rows = [
        ("s1", "BEGIN"),
        ("s1", "SELECT v FROM t WHERE id = 1"),
        ("s2", "SELECT v FROM t WHERE id = 2"),  # waits until the end of the log
    ]
    log = _write_log(tmp_path / "cut.jsonl", rows)
    result = replay([log], Target(table_db, "option"), _opts(runs="direct"))
    (run,) = result.runs
    assert run.unfinished_transactions == 1
    assert run.waited_statements == 1
    assert run.statements == 3 and run.errors == 0


def test_a_transaction_keeping_too_many_waiting_is_rolled_back(
    table_db: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import perfkit.replay.engine as engine

    monkeypatch.setattr(engine, "_MAX_DEFERRED", 2)
    rows = [
        ("s1", "BEGIN"),
        ("s1", "SELECT v FROM t WHERE id = 1"),
        ("s2", "SELECT v FROM t WHERE id = 2"),
        ("s2", "SELECT v FROM t WHERE id = 3"),  # the second waiting: s1 is rolled back
        ("s1", "SELECT v FROM t WHERE id = 4"),  # skipped
        ("s1", "COMMIT"),  # skipped
        ("s2", "SELECT v FROM t WHERE id = 5"),
    ]
    log = _write_log(tmp_path / "idle.jsonl", rows)
    result = replay([log], Target(table_db, "option"), _opts(runs="direct"))
    (run,) = result.runs
    assert (run.unfinished_transactions, run.waited_statements) == (1, 2)
    assert run.statements == 5 and (run.errors, run.warnings) == (0, 0)
    (reason,) = (k for k, _ in run.skipped_reasons if k.startswith("transaction rolled back"))
    assert dict(run.skipped_reasons)[reason] == 2


# Paced, one connection per session: the session's reads and the other session's writes
# are 100 ms apart in the log (10x slower than any jitter the replay may add), so the
# cross-session order is the log's and the measured hits are analyze's, exactly.
PACED = [
    ("a", "SELECT v FROM t WHERE id = 1"),  # miss
    ("a", "SELECT v FROM t WHERE id = 1"),  # hit
    ("b", "SELECT v FROM t WHERE id = 2"),  # miss
    ("b", "UPDATE t SET v = v WHERE id = 5"),  # skipped write: invalidates t
    ("a", "SELECT v FROM t WHERE id = 1"),  # miss
    ("b", "SELECT v FROM t WHERE id = 2"),  # miss
    ("a", "SELECT v FROM t WHERE id = 2"),  # hit
    ("b", "SELECT v FROM t WHERE id = 1"),  # hit
]


def test_paced_replay_measures_the_simulated_hits(table_db: str, tmp_path: Path) -> None:
    log = _write_log(tmp_path / "paced.jsonl", PACED, gap_s=0.1)
    result = replay([log], Target(table_db, "option"), _opts(speed=1.0, sessions=2, runs="cached"))
    (run,) = result.runs
    assert run.cache is not None and result.comparison is not None
    assert (run.cache.hits, run.cache.misses) == (3, 4)
    assert (result.comparison.simulated_hits, result.comparison.simulated_misses) == (3, 4)
    assert run.cache.refused_stores == 0 and run.waited_statements == 0


def test_one_connection_as_fast_as_possible_measures_the_simulated_hits(
    table_db: str, tmp_path: Path
) -> None:
    # docs/replay.md's other exact case: one connection, no session's statement inside
    # another's transaction, so every statement meets the cache in log order
    log = _write_log(tmp_path / "asap.jsonl", PACED)
    result = replay([log], Target(table_db, "option"), _opts(sessions=1, runs="cached"))
    (run,) = result.runs
    assert run.cache is not None and result.comparison is not None
    assert (run.cache.hits, run.cache.misses) == (3, 4)
    assert (result.comparison.simulated_hits, result.comparison.simulated_misses) == (3, 4)
    assert run.cache.refused_stores == 0 and run.waited_statements == 0


# The end of a transaction is applied where it is in the log: a COMMIT invalidates what
# it wrote again, a ROLLBACK does not (analyze's rule), not at the session's next statement.
PACED_TX = [
    ("a", "BEGIN"),
    ("a", "UPDATE t SET v = v WHERE id = 5"),  # skipped write: invalidates t
    ("a", "ROLLBACK"),
    ("b", "SELECT v FROM t WHERE id = 2"),  # miss
    ("b", "SELECT v FROM t WHERE id = 2"),  # hit
    ("a", "SELECT v FROM t WHERE id = 3"),  # miss
    ("b", "SELECT v FROM t WHERE id = 2"),  # hit
    ("a", "BEGIN"),
    ("a", "UPDATE t SET v = v WHERE id = 5"),  # skipped write: invalidates t
    ("b", "SELECT v FROM t WHERE id = 2"),  # miss (b is not in a's transaction)
    ("a", "COMMIT"),  # invalidates t again
    ("b", "SELECT v FROM t WHERE id = 2"),  # miss
    ("a", "SELECT v FROM t WHERE id = 4"),  # miss
    ("b", "SELECT v FROM t WHERE id = 2"),  # hit
]


def test_paced_transactions_end_where_the_log_ends_them(table_db: str, tmp_path: Path) -> None:
    log = _write_log(tmp_path / "paced_tx.jsonl", PACED_TX, gap_s=0.1)
    result = replay([log], Target(table_db, "option"), _opts(speed=1.0, sessions=2, runs="cached"))
    (run,) = result.runs
    assert run.cache is not None and result.comparison is not None
    assert (run.cache.hits, run.cache.misses) == (3, 5)
    assert (result.comparison.simulated_hits, result.comparison.simulated_misses) == (3, 5)
    assert run.waited_statements == 0 and run.errors == 0


# --- the cache's refused stores -----------------------------------------------------------


def _stored() -> Stored:
    return Stored((1,), ("x",), 1, "SELECT 1", 1.0)


def test_raced_stores_are_refused_and_counted() -> None:
    cache = ResultCache(60)
    since = cache.epoch(["t"])
    cache.invalidate(["t"])
    assert cache.put("k", _stored(), ["t"], since=since) is False
    assert cache.get("k") is None
    assert cache.put("k", _stored(), ["t"], since=cache.epoch(["t"])) is True
    assert cache.stats.refused_stores == 1


def test_ordered_invalidation_refuses_only_later_writes() -> None:
    cache = ResultCache(60)
    cache.invalidate(["public.t"], 0.0, order=5)
    # a read logged before the write: the write (already applied) came after it
    assert cache.put("early", _stored(), ["t"], now=0.0, order=3) is False
    # a read logged after the write: stored, whatever the threads' timing
    assert cache.put("late", _stored(), ["t"], now=0.0, order=7) is True
    # other tables are not concerned
    assert cache.put("other", _stored(), ["u"], now=0.0, order=1) is True
    cache.invalidate(["*"], 0.0, order=9)
    assert cache.put("all", _stored(), ["u"], now=0.0, order=8) is False
    assert cache.stats.refused_stores == 2


def test_executor_reports_refused_stores(table_db: str) -> None:
    with psycopg.connect(table_db, autocommit=True) as conn:
        ex = CachedExecutor(conn, ttl=60)
        ex.invalidate(["t"], order=10)
        sql = "SELECT v FROM t WHERE id = %s"
        assert not ex.execute(sql, (1,), order=4).cached  # refused: a later write ran
        assert not ex.execute(sql, (1,), order=11).cached  # stored
        assert ex.execute(sql, (1,), order=12).cached
        assert ex.stats.refused_stores == 1


def test_cli_reports_waits_and_warnings(table_db: str, tmp_path: Path, cli: Any) -> None:
    rows = [*INTERLEAVED, ("s2", "COMMIT")]  # s2's second COMMIT: 25P01
    log = _write_log(tmp_path / "interleaved.jsonl", rows)
    args = ("replay", str(log), "--dsn", table_db, "--as-fast-as-possible", "--sessions", "1")
    r = cli(*args, "--format", "json")
    assert r.exit_code == 0, r.stderr
    doc = json.loads(r.stdout)
    for run in doc["runs"]:
        assert (run["waited_statements"], run["warnings"]) == (WAITING, 1)
        assert run["warning_counts"][0]["sqlstate"] == "25P01"
    # s2's two reads that waited for s1's COMMIT ran after it: s1's COMMIT (later in the
    # log) had invalidated their table, so the cache refused to store them
    assert doc["runs"][0]["cache"]["refused_stores"] == 2
    text = " ".join(cli(*args, "--runs", "direct").stdout.split())  # unwrapped
    assert f"{WAITING} statements waited" in text and "1 server warnings" in text
    assert "Statements the server warned about" in text


def test_statements_the_guard_skips_are_not_simulated(table_db: str, tmp_path: Path) -> None:
    with psycopg.connect(table_db, autocommit=True) as c:
        c.execute("CREATE FUNCTION f() RETURNS int LANGUAGE sql VOLATILE AS 'SELECT 1'")
    rows = [
        ("s1", "SELECT f(), v FROM t WHERE id = 1"),  # a volatile user function: skipped
        ("s1", "SELECT f(), v FROM t WHERE id = 1"),
        ("s1", "SELECT v FROM t WHERE id = 1"),  # miss
        ("s1", "SELECT v FROM t WHERE id = 1"),  # hit
    ]
    log = _write_log(tmp_path / "guard.jsonl", rows)
    result = replay([log], Target(table_db, "option"), _opts(runs="cached"))
    (run,) = result.runs
    assert run.skipped_other == 2
    assert run.cache is not None and result.comparison is not None
    cmp = result.comparison
    assert (run.cache.hits, run.cache.misses) == (1, 1)
    assert (cmp.simulated_hits, cmp.simulated_misses) == (1, 1)
