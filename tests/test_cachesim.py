"""Cache replay: hit counts known by construction."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from hypothesis import given, settings
from hypothesis import strategies as st

from perfkit.querylog.aggregate import AnalyzeOptions, AnalyzeResult, CacheResult, analyze_events
from perfkit.querylog.cachesim import ReorderBuffer
from perfkit.querylog.model import LogEvent

T0 = dt.datetime(2024, 5, 1, 12, 0, tzinfo=dt.timezone.utc)


def ev(
    at: float,
    query: str,
    ms: float | None = 1.0,
    session: str = "s1",
    params: tuple[str | None, ...] | None = None,
) -> LogEvent:
    return LogEvent(
        ts=T0 + dt.timedelta(seconds=at),
        duration_ms=ms,
        query=query,
        source="test.log",
        line=1,
        params=params,
        session=session,
        protocol="extended" if params is not None else "simple",
    )


def run(events: Sequence[LogEvent], ttls: Sequence[float] = (60,), **kw: object) -> AnalyzeResult:
    return analyze_events(events, AnalyzeOptions(ttls=tuple(float(t) for t in ttls), **kw))  # type: ignore[arg-type]


def one(result: AnalyzeResult) -> CacheResult:
    assert len(result.cache) == 1
    return result.cache[0]


READ = "SELECT name FROM users WHERE id = 7"


def test_repeated_reads_within_and_outside_the_ttl() -> None:
    c = one(run([ev(0, READ, 2.0), ev(10, READ, 3.0), ev(59.9, READ, 4.0), ev(61, READ, 5.0)]))
    # 0: miss (stored), 10 and 59.9: hits, 61: the entry stored at 0 is 61 s old -> miss
    assert (c.hits, c.misses) == (2, 2)
    assert c.saved_ms == 7.0
    assert c.hit_rate == 0.5


def test_different_parameter_values_are_different_keys() -> None:
    c = one(
        run(
            [
                ev(0, READ),
                ev(1, "SELECT name FROM users WHERE id = 8"),
                ev(2, READ),
                ev(3, "SELECT name FROM users WHERE id = $1", params=("7",)),
                ev(4, "SELECT name FROM users WHERE id = $1", params=("7",)),
                ev(5, "SELECT name FROM users WHERE id = $1", params=("8",)),
                # the same values spelled differently are another key (a lower bound)
                ev(6, "select name from users where id = $1", params=("7",)),
            ]
        )
    )
    assert (c.hits, c.misses) == (2, 5)


def test_a_write_invalidates_reads_of_its_table_only() -> None:
    other = "SELECT * FROM orders WHERE id = 1"
    c = one(
        run(
            [
                ev(0, READ),
                ev(0, other),
                ev(1, "UPDATE users SET name = 'x' WHERE id = 3", session="s2"),
                ev(2, READ),  # invalidated: miss
                ev(3, other),  # other table: hit
                ev(4, READ),  # hit again
            ]
        )
    )
    assert (c.hits, c.misses, c.invalidations) == (2, 3, 1)


def test_schema_qualified_write_invalidates_unqualified_read() -> None:
    c = one(run([ev(0, READ), ev(1, "DELETE FROM public.users WHERE id = 1"), ev(2, READ)]))
    assert (c.hits, c.misses, c.invalidations) == (0, 2, 1)


def test_write_inside_a_cte_invalidates() -> None:
    cte = "WITH d AS (DELETE FROM users WHERE id = 9 RETURNING id) SELECT count(*) FROM d"
    c = one(run([ev(0, READ), ev(1, cte), ev(2, READ)]))
    assert (c.hits, c.misses, c.invalidations) == (0, 2, 1)


def test_volatile_and_locking_reads_never_hit() -> None:
    vol = "SELECT now(), name FROM users WHERE id = 7"
    lock = "SELECT name FROM users WHERE id = 7 FOR UPDATE"
    r = run([ev(0, vol), ev(1, vol), ev(2, lock), ev(3, lock)])
    c = one(r)
    assert (c.hits, c.misses, c.uncacheable_reads) == (0, 0, 4)
    reasons = {f.query: f.uncacheable_reason for f in r.fingerprints}
    assert reasons[vol.replace("7", "$1")] == "calls a volatile function (now/current_timestamp)"
    assert reasons[lock.replace("7", "$1")] == "locks rows (FOR UPDATE)"


def test_read_in_a_transaction_that_already_wrote_bypasses_the_cache() -> None:
    events = [
        ev(0, READ, session="a"),  # miss, stored
        ev(1, "BEGIN", session="b"),
        ev(2, READ, session="b"),  # hit: b has not written yet
        ev(3, "INSERT INTO audit (x) VALUES (1)", session="b"),
        ev(4, READ, session="b"),  # bypassed: b's transaction wrote
        ev(5, READ, session="a"),  # hit: a is not in that transaction
        ev(6, "COMMIT", session="b"),
        ev(7, READ, session="b"),  # hit again
    ]
    r = run(events)
    c = one(r)
    assert (c.hits, c.misses, c.bypassed_reads) == (3, 1, 1)
    fp = next(f for f in r.fingerprints if f.kind == "read")
    assert dict(fp.cache_bypassed) == {"inside a transaction that already wrote": 1}
    assert fp.cache[0].lookups == 4 and fp.cache[0].hits == 3


def test_lru_bound_evicts_the_least_recently_used() -> None:
    q = "SELECT * FROM t WHERE id = {}"
    events = [ev(0, q.format(1)), ev(1, q.format(2)), ev(2, q.format(1)), ev(3, q.format(3))]
    events += [ev(4, q.format(2)), ev(5, q.format(1))]
    # capacity 2: 1 miss, 2 miss, 1 hit, 3 miss (evicts 2), 2 miss (evicts 1), 1 miss
    c = one(run(events, cache_entries=2))
    assert (c.hits, c.misses, c.evictions) == (1, 5, 3)
    unbounded = one(run(events))
    assert (unbounded.hits, unbounded.misses, unbounded.evictions) == (3, 3, 0)


def test_ttl_sweep_equals_separate_runs() -> None:
    q = "SELECT * FROM t WHERE id = {}"
    events = []
    for i in range(300):
        events.append(ev(i * 0.7, q.format(i % 13), ms=float(i % 5)))
        if i % 37 == 0:
            events.append(ev(i * 0.7, "UPDATE t SET x = 1 WHERE id = 1"))
    swept = run(events, ttls=(1, 10, 60, 300)).cache
    assert [c.ttl_s for c in swept] == [1, 10, 60, 300]
    for c in swept:
        assert one(run(events, ttls=(c.ttl_s,))) == c


def test_out_of_order_input_is_replayed_in_time_order() -> None:
    events = [ev(0, READ), ev(5, READ), ev(70, READ)]
    forward = one(run(events))
    backward = run(list(reversed(events)))
    assert one(backward) == forward
    assert backward.late_events == 0


def test_out_of_order_beyond_the_window_is_counted_and_reported() -> None:
    events = [ev(i, READ) for i in range(10, 20)] + [ev(0, READ)]
    r = run(events, reorder_window=3)
    assert r.late_events == 1
    assert r.cache_note is not None and "approximate" in r.cache_note
    assert any("out of time order" in w for w in r.warnings)


def test_pg_stat_statements_rows_are_not_replayed() -> None:
    row = LogEvent(
        ts=None,
        duration_ms=120.0,
        query="SELECT * FROM t WHERE id = $1",
        source="pgss.csv",
        line=2,
        protocol="stats",
        calls=40,
    )
    r = analyze_events([row], has_timeline=False)
    assert r.cache == ()
    assert r.cache_note is not None and "no timeline" in r.cache_note
    f = r.fingerprints[0]
    assert (f.calls, f.total_ms, f.mean_ms, f.p95_ms) == (40, 120.0, 3.0, None)


def test_reorder_buffer_sorts_within_its_window() -> None:
    buf = ReorderBuffer(size=4)
    out = []
    for i, t in enumerate([3.0, 1.0, 2.0, 0.0, 5.0, 4.0, 6.0]):
        got = buf.push((t, i, "f", None, None, None, None))  # type: ignore[arg-type]
        if got is not None:
            out.append(got[0])
    out.extend(e[0] for e in buf.drain())
    assert out == [0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0] and buf.late_events == 0


# --- properties -------------------------------------------------------------------------

STATEMENTS = [
    "SELECT * FROM a WHERE id = {}",
    "SELECT * FROM b WHERE id = {}",
    "SELECT * FROM a JOIN b ON a.id = b.id WHERE a.id = {}",
    "UPDATE a SET v = {} WHERE id = 1",
    "INSERT INTO b (v) VALUES ({})",
    "SELECT random() + {}",
    "BEGIN",
    "COMMIT",
]

event_lists = st.lists(
    st.tuples(
        st.integers(0, 30),  # seconds since the previous event
        st.sampled_from(STATEMENTS),
        st.integers(0, 3),  # parameter value
        st.sampled_from(["s1", "s2"]),
    ),
    max_size=60,
)


def _events(spec: list[tuple[int, str, int, str]]) -> list[LogEvent]:
    t = 0.0
    out = []
    for gap, stmt, value, session in spec:
        t += gap
        out.append(ev(t, stmt.format(value), ms=float(value + 1), session=session))
    return out


@settings(max_examples=60, deadline=None)
@given(spec=event_lists)
def test_hits_plus_misses_are_the_cacheable_reads(spec: list[tuple[int, str, int, str]]) -> None:
    events = _events(spec)
    r = run(events, ttls=(5, 60))
    cacheable_reads = sum(f.calls for f in r.fingerprints if f.cacheable and f.kind == "read")
    for c in r.cache:
        assert c.hits + c.misses + c.bypassed_reads == cacheable_reads
        assert 0.0 <= c.hit_rate <= 1.0
        assert c.saved_ms <= r.summary.total_ms


@settings(max_examples=60, deadline=None)
@given(spec=event_lists)
def test_hit_rate_is_monotone_in_ttl_without_an_entry_bound(
    spec: list[tuple[int, str, int, str]],
) -> None:
    r = run(_events(spec), ttls=(1, 10, 60, 300))
    hits = [c.hits for c in r.cache]
    assert hits == sorted(hits)


def test_commit_invalidates_again_what_other_sessions_cached_meanwhile() -> None:
    events = [
        ev(0, "BEGIN", session="w"),
        ev(1, "UPDATE users SET name = 'n' WHERE id = 7", session="w"),
        ev(2, READ, session="r"),  # miss: stores the pre-commit row
        ev(3, READ, session="r"),  # hit (still the committed state)
        ev(4, "COMMIT", session="w"),  # invalidates users again
        ev(5, READ, session="r"),  # miss: must see the new row
    ]
    c = one(run(events))
    assert (c.hits, c.misses, c.invalidations) == (1, 2, 1)


def test_rollback_does_not_invalidate_again() -> None:
    events = [
        ev(0, "BEGIN", session="w"),
        ev(1, "UPDATE users SET name = 'n' WHERE id = 7", session="w"),
        ev(2, READ, session="r"),
        ev(4, "ROLLBACK", session="w"),
        ev(5, READ, session="r"),
    ]
    c = one(run(events))
    assert (c.hits, c.misses, c.invalidations) == (1, 1, 0)


def test_prepared_statements_with_different_embedded_literals_do_not_share_entries() -> None:
    a = "SELECT * FROM t WHERE kind = 1 AND id = $1"
    b = "SELECT * FROM t WHERE kind = 2 AND id = $1"
    r = run([ev(0, a, params=("5",)), ev(1, b, params=("5",)), ev(2, a, params=("5",))])
    assert len(r.fingerprints) == 1  # one shape...
    c = one(r)
    assert (c.hits, c.misses) == (1, 2)  # ...but two different results
