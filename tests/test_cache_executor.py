"""CachedExecutor / AsyncCachedExecutor against a real PostgreSQL (the test cluster)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from perfkit.cache.async_executor import AsyncCachedExecutor
from perfkit.cache.executor import CachedExecutor
from perfkit.cache.store import ResultCache, freeze_params

Q = "SELECT price FROM items WHERE id = %s"


@pytest.fixture
def db(scratch_db: str) -> str:
    with psycopg.connect(scratch_db, autocommit=True) as c:
        c.execute("CREATE TABLE items (id int PRIMARY KEY, price int NOT NULL)")
        c.execute("INSERT INTO items SELECT g, g * 10 FROM generate_series(1, 100) g")
        c.execute("CREATE TABLE other (id int)")
    return scratch_db


@pytest.fixture
def conn(db: str) -> Iterator[psycopg.Connection[Any]]:
    with psycopg.connect(db, autocommit=True) as c:
        yield c


class FakeClock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def test_hit_miss_and_rows(conn: psycopg.Connection[Any]) -> None:
    ex = CachedExecutor(conn, ttl=60)
    a = ex.execute(Q, (3,))
    b = ex.execute(Q, (3,))
    c = ex.execute(Q, (4,))
    assert (a.cached, b.cached, c.cached) == (False, True, False)
    assert a.rows == b.rows == [(30,)]
    assert c.rows == [(40,)]
    assert b.columns == ("price",) and b.status == "SELECT 1"
    assert b.saved_ms == pytest.approx(a.execution_ms)
    s = ex.stats
    assert (s.hits, s.misses, s.executed, s.calls) == (1, 2, 2, 3)
    assert s.hit_rate == pytest.approx(1 / 3)
    assert s.entries == 2 and s.bytes > 0


def test_write_through_executor_invalidates_only_its_tables(conn: psycopg.Connection[Any]) -> None:
    ex = CachedExecutor(conn)
    ex.execute(Q, (1,))
    ex.execute("SELECT count(*) FROM other")
    w = ex.execute("UPDATE items SET price = 999 WHERE id = %s", (1,))
    assert w.rowcount == 1 and not w.cached and not w.cacheable
    r = ex.execute(Q, (1,))
    assert not r.cached and r.rows == [(999,)]  # fresh data, not the stale 10
    assert ex.execute("SELECT count(*) FROM other").cached  # other table untouched
    assert ex.stats.invalidations == 1


def test_volatile_and_locking_reads_are_never_cached(conn: psycopg.Connection[Any]) -> None:
    ex = CachedExecutor(conn)
    for sql in ("SELECT now()", "SELECT random()", "SELECT * FROM items WHERE id = 1 FOR UPDATE"):
        first, second = ex.execute(sql), ex.execute(sql)
        assert not first.cached and not second.cached
        assert second.reason and ("volatile" in second.reason or "locks rows" in second.reason)
    assert ex.stats.hits == 0 and ex.stats.uncacheable == 6


def test_ttl_expiry_and_per_call_ttl(conn: psycopg.Connection[Any]) -> None:
    clock = FakeClock()
    ex = CachedExecutor(conn, ttl=10, clock=clock)
    ex.execute(Q, (1,))
    clock.t += 9.9
    assert ex.execute(Q, (1,)).cached
    clock.t += 0.2
    assert not ex.execute(Q, (1,)).cached  # 10.1 s after it was stored
    ex.execute(Q, (2,), ttl=1)
    clock.t += 0.5
    assert ex.execute(Q, (2,), ttl=1).cached
    clock.t += 0.6
    assert not ex.execute(Q, (2,), ttl=1).cached
    assert ex.stats.expirations == 2


def test_bounded_by_entries_and_bytes_lru(conn: psycopg.Connection[Any]) -> None:
    ex = CachedExecutor(conn, max_entries=2)
    for i in (1, 2):
        ex.execute(Q, (i,))
    ex.execute(Q, (1,))  # 1 is now the most recent
    ex.execute(Q, (3,))  # evicts 2
    assert ex.execute(Q, (1,)).cached
    assert not ex.execute(Q, (2,)).cached
    assert ex.stats.evictions >= 1 and ex.stats.entries == 2

    big = "SELECT id, repeat('x', 1000) FROM items WHERE id <= %s"
    ex2 = CachedExecutor(conn, max_entries=None, max_bytes=30_000)
    for n in (10, 11, 12):  # ~10 kB each
        ex2.execute(big, (n,))
    assert ex2.stats.bytes <= 30_000
    assert ex2.stats.evictions >= 1
    assert not ex2.execute(big, (10,)).cached  # the least recently used went first
    huge = ex2.execute("SELECT repeat('y', 100000)")
    assert not ex2.execute("SELECT repeat('y', 100000)").cached  # larger than the bound
    assert huge.rows[0][0] == "y" * 100000


def test_param_types_are_part_of_the_key(conn: psycopg.Connection[Any]) -> None:
    ex = CachedExecutor(conn)
    assert ex.execute("SELECT %s::text", (1,)).rows == [("1",)]
    assert not ex.execute("SELECT %s::text", (True,)).cached
    assert freeze_params((1,)) != freeze_params((True,))
    assert freeze_params({"a": [1, 2]}) == freeze_params({"a": [1, 2]})
    r = ex.execute("SELECT %s::int[]", ([1, 2],))
    assert ex.execute("SELECT %s::int[]", ([1, 2],)).cached and r.rows == [([1, 2],)]


def test_transaction_rules_on_a_single_connection(db: str) -> None:
    with psycopg.connect(db) as conn:  # not autocommit: the service manages transactions
        ex = CachedExecutor(conn)
        ex.execute(Q, (1,))
        conn.commit()
        assert ex.execute(Q, (1,)).cached  # read-only transaction: the cache is fine
        ex.execute("UPDATE items SET price = 1 WHERE id = 1")
        inside = ex.execute(Q, (1,))
        assert not inside.cached and inside.reason == "inside a transaction that already wrote"
        assert inside.rows == [(1,)]
        conn.commit()
        after = ex.execute(Q, (1,))
        assert not after.cached and after.rows == [(1,)]
        assert ex.execute(Q, (1,)).cached


def test_session_is_left_alone(conn: psycopg.Connection[Any]) -> None:
    before = conn.prepare_threshold
    ex = CachedExecutor(conn, slow_ms=0)
    ex.execute(Q, (1,))
    assert conn.execute("SHOW default_transaction_read_only").fetchone() == ("off",)
    assert conn.execute("SHOW statement_timeout").fetchone() == ("0",)
    assert conn.prepare_threshold == before
    assert conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE


def test_prepared_after_threshold(conn: psycopg.Connection[Any]) -> None:
    conn.prepare_threshold = 1000  # only the executor decides here
    ex = CachedExecutor(conn, prepare_threshold=2)
    flags = [ex.execute(Q, (i,), cache=False).prepared for i in range(1, 5)]
    assert flags == [False, False, True, True]
    n = conn.execute("SELECT count(*) FROM pg_prepared_statements").fetchone()
    assert n == (1,)
    assert ex.stats.prepared == 2


def test_execute_many_pipeline(conn: psycopg.Connection[Any]) -> None:
    ex = CachedExecutor(conn)
    ex.execute(Q, (1,))
    res = ex.execute_many(
        [
            (Q, (1,)),  # hit
            (Q, (2,)),  # miss, sent
            ("UPDATE items SET price = 5 WHERE id = %s", (2,)),
            (Q, (2,)),  # after a write to items in the batch: not from the cache
            "SELECT count(*) FROM other",
        ]
    )
    assert [r.cached for r in res] == [True, False, False, False, False]
    assert [r.rows for r in res] == [[(10,)], [(20,)], [], [(5,)], [(0,)]]
    assert res[3].reason == "a write earlier in the batch touched its tables"
    assert ex.stats.pipelines == 1
    assert not ex.execute(Q, (2,)).cached or ex.execute(Q, (2,)).rows == [(5,)]


def test_explain_and_slow_capture_feed_the_log_readers(
    conn: psycopg.Connection[Any], tmp_path: Path
) -> None:
    from perfkit.querylog.fingerprint import fingerprint
    from perfkit.querylog.readers import read_logs

    ex = CachedExecutor(conn, slow_ms=0)
    r = ex.execute(Q, (7,), explain=True)
    assert r.plan["Plan"]["Node Type"] in ("Index Scan", "Index Only Scan", "Seq Scan")
    ex.execute(Q, (8,))
    ex.execute("SELECT $1::int + 1", ("41",), raw=True)
    slow = ex.slow_queries()
    assert [s.query for s in slow] == [
        "SELECT price FROM items WHERE id = 7",
        "SELECT price FROM items WHERE id = 8",
        "SELECT $1::int + 1",
    ]
    assert slow[0].plan is not None and slow[1].plan is None  # EXPLAIN once per fingerprint
    assert slow[2].params == ("41",)
    assert slow[0].fingerprint == fingerprint("SELECT price FROM items WHERE id = 1").id
    out = tmp_path / "slow.jsonl"
    assert ex.export_slow(out) == 3
    events = list(read_logs([out]))
    assert [e.query for e in events] == [s.query for s in slow]
    assert events[2].params == ("41",)
    assert all(e.duration_ms is not None for e in events)
    sql = tmp_path / "slow.sql"
    ex.export_slow(sql, "sql")
    assert [e.query for e in read_logs([sql])][2] == "SELECT '41'::int + 1"


def test_explain_failure_does_not_abort_the_callers_transaction(db: str) -> None:
    with psycopg.connect(db) as conn:
        ex = CachedExecutor(conn, slow_ms=0)
        ex.execute("SHOW work_mem")  # not explainable: skipped
        ex.execute("SELECT 1; SELECT 2")  # EXPLAIN of two statements fails in a savepoint
        assert ex.execute(Q, (1,)).rows == [(10,)]
        conn.commit()


def test_thread_safety_with_a_pool(db: str) -> None:
    from psycopg_pool import ConnectionPool

    with ConnectionPool(db, min_size=4, max_size=4, open=True) as pool:
        ex = CachedExecutor(pool)
        errors: list[BaseException] = []

        def work() -> None:
            try:
                for i in range(200):
                    r = ex.execute(Q, (i % 10 + 1,))
                    assert r.rows == [((i % 10 + 1) * 10,)]
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=work) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert not errors
        s = ex.stats
        assert s.hits + s.misses == 1600 == s.calls
        assert 10 <= s.misses < 100  # each key missed at least once, races aside
        ex.execute("DELETE FROM items WHERE id = 1")
        assert ex.execute(Q, (1,)).rows == []


def test_shared_cache_between_executors(db: str) -> None:
    shared = ResultCache(60)
    with psycopg.connect(db, autocommit=True) as c1, psycopg.connect(db, autocommit=True) as c2:
        a, b = CachedExecutor(c1, cache=shared), CachedExecutor(c2, cache=shared)
        a.execute(Q, (1,))
        assert b.execute(Q, (1,)).cached
        b.execute("TRUNCATE other")
        b.execute("INSERT INTO items VALUES (1000, 1)")
        assert not a.execute(Q, (1,)).cached


def test_async_executor(db: str) -> None:
    async def main() -> None:
        async with await psycopg.AsyncConnection.connect(db, autocommit=True) as conn:
            ex = AsyncCachedExecutor(conn, slow_ms=0)
            a = await ex.execute(Q, (2,))
            b = await ex.execute(Q, (2,))
            assert (a.cached, b.cached, b.rows) == (False, True, [(20,)])
            await ex.execute("UPDATE items SET price = 1 WHERE id = 2")
            c = await ex.execute(Q, (2,))
            assert not c.cached and c.rows == [(1,)]
            res = await ex.execute_many([(Q, (2,)), (Q, (3,)), "SELECT now()"])
            assert [r.cached for r in res] == [True, False, False]
            assert res[1].rows == [(30,)]
            assert ex.slow_queries()[0].query == "SELECT price FROM items WHERE id = 2"
            plan = (await ex.execute(Q, (3,), explain=True)).plan
            assert plan is not None and "Plan" in plan

    asyncio.run(main())


def test_async_executor_with_a_pool(db: str) -> None:
    from psycopg_pool import AsyncConnectionPool

    async def main() -> None:
        async with AsyncConnectionPool(db, min_size=2, max_size=2, open=False) as pool:
            ex = AsyncCachedExecutor(pool)
            results = await asyncio.gather(*(ex.execute(Q, (i % 3 + 1,)) for i in range(30)))
            assert [r.rows for r in results] == [[((i % 3 + 1) * 10,)] for i in range(30)]
            assert ex.stats.hits + ex.stats.misses == 30 and ex.stats.misses >= 3
            await ex.execute("DELETE FROM items WHERE id = 1")
            assert (await ex.execute(Q, (1,))).rows == []

    asyncio.run(main())


def test_async_ordered_stores_follow_the_log_order(db: str) -> None:
    """``order=`` on the asyncio executor: a read logged before a write that already ran
    is refused by the cache, one logged after it is stored (CachedExecutor's rule)."""

    async def main() -> None:
        async with await psycopg.AsyncConnection.connect(db, autocommit=True) as conn:
            ex = AsyncCachedExecutor(conn, ttl=60)
            ex.invalidate(["items"], order=10)
            assert not (await ex.execute(Q, (1,), order=4)).cached  # refused
            assert not (await ex.execute(Q, (1,), order=11)).cached  # stored
            assert (await ex.execute(Q, (1,), order=12)).cached
            assert ex.stats.refused_stores == 1

    asyncio.run(main())


def test_cursors_are_reused_per_thread_and_connection(db: str) -> None:
    from psycopg.rows import dict_row

    with psycopg.connect(db, autocommit=True) as conn:
        ex = CachedExecutor(conn, ttl=60)
        for i in range(1, 6):
            ex.execute(Q, (i,), cache=False)
            ex.execute("SELECT $1::int", (i,), raw=True, cache=False)
        assert ex.stats.cursors == 2  # one plain, one raw
        conn.row_factory = dict_row  # type: ignore[assignment]
        assert ex.execute(Q, (1,), cache=False).rows == [{"price": 10}]
        assert ex.stats.cursors == 3
        t = threading.Thread(target=ex.execute, args=(Q, (2,)), kwargs={"cache": False})
        t.start()
        t.join()
        assert ex.stats.cursors == 4  # another thread: its own cursor


def test_async_cursors_are_reused_per_task_and_never_shared_between_tasks(db: str) -> None:
    async def main() -> None:
        async with await psycopg.AsyncConnection.connect(db, autocommit=True) as conn:
            ex = AsyncCachedExecutor(conn, ttl=60)
            for i in range(1, 6):  # one task
                assert (await ex.execute(Q, (i,), cache=False)).rows == [(i * 10,)]
            assert ex.stats.cursors == 1

            async def worker(k: int) -> list[list[Any]]:
                got = []
                for i in range(1, 11):
                    n = (k * 10 + i) % 100 + 1
                    got.append((await ex.execute(Q, (n,), cache=False)).rows)
                    got.append((await ex.execute("SELECT $1::int", (n,), raw=True)).rows)
                return got

            results = await asyncio.gather(*(worker(k) for k in range(8)))
            for k, got in enumerate(results):  # every task read its own results
                want = []
                for i in range(1, 11):
                    n = (k * 10 + i) % 100 + 1
                    want += [[(n * 10,)], [(n,)]]
                assert got == want
            assert ex.stats.cursors == 1 + 8 * 2  # per task: one plain and one raw

    asyncio.run(main())


def test_cursor_sets_belong_to_one_task_or_thread() -> None:
    from perfkit.cache.executor_base import TaskCursors, ThreadCursors

    tasks = TaskCursors()
    assert tasks.mine() is not tasks.mine()  # outside a task: nothing kept

    async def one() -> tuple[int, int]:
        a = tasks.mine()
        await asyncio.sleep(0)
        return id(a), id(tasks.mine())

    async def main() -> list[tuple[int, int]]:
        return list(await asyncio.gather(one(), one()))

    (a1, a2), (b1, b2) = asyncio.run(main())
    assert a1 == a2 and b1 == b2 and a1 != b1

    threads = ThreadCursors()
    mine = threads.mine()
    assert threads.mine() is mine
    other: list[object] = []
    t = threading.Thread(target=lambda: other.append(threads.mine()))
    t.start()
    t.join()
    assert other[0] is not mine
