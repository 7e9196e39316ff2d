"""The shared cache engine (perfkit.cache.core.QueryCache)."""

from __future__ import annotations

import os

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from perfkit.cache import ALL_TABLES, QueryCache


def test_hit_within_ttl_miss_after() -> None:
    c = QueryCache(ttl_s=10)
    assert c.get("k", 0.0) is None
    c.put("k", "v", frozenset({"t"}), 1, 0.0)
    e = c.get("k", 9.99)
    assert e is not None and e.value == "v" and e.stored_at == 0.0
    assert c.get("k", 10.0) is None  # exactly ttl old: expired
    s = c.stats
    assert (s.hits, s.misses, s.expirations, s.entries) == (1, 2, 1, 0)
    assert s.hit_rate == pytest.approx(1 / 3)


def test_invalidate_drops_entries_reading_the_table_by_unqualified_name() -> None:
    c = QueryCache(ttl_s=60)
    c.put(1, None, frozenset({"public.t", "u"}), 0, 0.0)
    c.put(2, None, frozenset({"u"}), 0, 0.0)
    c.put(3, None, frozenset({"v"}), 0, 0.0)
    assert c.invalidate(frozenset({"t"}), 1.0) == 1
    assert 1 not in c and 2 in c and 3 in c
    assert c.invalidate(frozenset({"other.u"}), 1.0) == 1
    assert c.invalidate(frozenset({"nothing"}), 1.0) == 0
    assert c.stats.invalidations == 2
    assert c.invalidate(frozenset({ALL_TABLES}), 1.0) == 1
    assert len(c) == 0


def test_expired_entries_are_not_counted_as_invalidations() -> None:
    c = QueryCache(ttl_s=1)
    c.put("k", None, frozenset({"t"}), 0, 0.0)
    assert c.invalidate(frozenset({"t"}), 5.0) == 0
    assert c.stats.invalidations == 0 and len(c) == 0


def test_lru_eviction_by_entries() -> None:
    c = QueryCache(ttl_s=60, max_entries=2)
    c.put("a", 1, frozenset(), 0, 0.0)
    c.put("b", 2, frozenset(), 0, 1.0)
    assert c.get("a", 2.0) is not None  # a is now most recently used
    c.put("c", 3, frozenset(), 0, 3.0)
    assert "b" not in c and "a" in c and "c" in c
    assert c.stats.evictions == 1


def test_lru_eviction_by_bytes_and_oversized_values() -> None:
    c = QueryCache(ttl_s=60, max_bytes=100)
    c.put("a", 1, frozenset({"t"}), 60, 0.0)
    c.put("b", 2, frozenset({"t"}), 60, 0.0)
    assert "a" not in c and c.stats.bytes == 60 and c.stats.evictions == 1
    c.put("huge", 3, frozenset(), 101, 0.0)
    assert "huge" not in c and c.stats.rejected == 1


def test_replacing_a_key_keeps_the_accounting_right() -> None:
    c = QueryCache(ttl_s=60, max_bytes=100)
    c.put("a", 1, frozenset({"t"}), 50, 0.0)
    c.put("a", 2, frozenset({"u"}), 70, 1.0)
    assert c.stats.bytes == 70 and len(c) == 1
    assert c.invalidate(frozenset({"t"}), 2.0) == 0  # old table index entry is gone
    assert c.invalidate(frozenset({"u"}), 2.0) == 1
    assert c.stats.bytes == 0


def test_expired_entries_are_purged_so_memory_follows_the_window() -> None:
    c = QueryCache(ttl_s=1)
    for i in range(10_000):
        c.put(i, None, frozenset({"t"}), 1, float(i))
    assert len(c) <= 2 and c.stats.bytes <= 2


@pytest.mark.parametrize("bad", [{"ttl_s": 0}, {"ttl_s": 1, "max_entries": 0}])
def test_bad_configuration(bad: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        QueryCache(**bad)  # type: ignore[arg-type]


ops = st.lists(
    st.tuples(
        st.sampled_from(["get", "put", "inv"]),
        st.integers(0, 6),
        st.sampled_from(["t", "u", "v"]),
        st.integers(0, 40),
    ),
    max_size=200,
)


@settings(max_examples=200, deadline=None)
@given(ops=ops, max_entries=st.one_of(st.none(), st.integers(1, 4)))
def test_cache_matches_a_naive_model(
    ops: list[tuple[str, int, str, int]], max_entries: int | None
) -> None:
    ttl = 5.0
    c = QueryCache(ttl_s=ttl, max_entries=max_entries, max_bytes=50)
    model: dict[int, tuple[float, str, int]] = {}  # key -> (stored_at, table, size), LRU order
    now = 0.0
    for op, key, table, size in ops:
        now += 1.0
        if op == "get":
            got = c.get(key, now)
            hit = key in model and now - model[key][0] < ttl
            assert (got is not None) == hit
            if hit:
                model[key] = model.pop(key)
            else:
                model.pop(key, None)
        elif op == "put":
            model.pop(key, None)
            model = {k: v for k, v in model.items() if now - v[0] < ttl}
            if size <= 50:
                model[key] = (now, table, size)
                while (max_entries is not None and len(model) > max_entries) or sum(
                    v[2] for v in model.values()
                ) > 50:
                    del model[next(iter(model))]
            c.put(key, None, frozenset({table}), size, now)
        else:
            c.invalidate(frozenset({table}), now)
            model = {k: v for k, v in model.items() if v[1] != table}
        live = {k for k, v in model.items() if now - v[0] < ttl}
        assert {k for k in live if k in c} == live
        s = c.stats
        assert s.bytes == sum(v[2] for k, v in model.items() if k in c)


def test_cache_keys_are_the_same_in_every_process() -> None:
    """Ranges read by other processes (or runs, or machines) merge into one replay only
    if a statement's key does not depend on the process's string-hash seed."""
    import subprocess
    import sys

    from perfkit.querylog.accumulator import cache_key

    cases = [("SELECT 1", None), ("SELECT $1", ("é",)), ("SELECT $1", (None,)), ("SELECT $1", ())]
    code = (
        "from perfkit.querylog.accumulator import cache_key; "
        f"print([cache_key(q, p) for q, p in {cases!r}])"
    )
    keys = [cache_key(q, p) for q, p in cases]
    assert len(set(keys)) == len(keys)  # NULL, an empty list and no list are told apart
    for seed in ("1", "2"):
        out = subprocess.run(
            [sys.executable, "-c", code],
            env={**os.environ, "PYTHONHASHSEED": seed},
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
        ).stdout
        assert out.strip() == repr(keys)
