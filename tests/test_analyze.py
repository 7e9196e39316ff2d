"""analyze core: statistics, slow queries, the JSON contract, real logs."""

from __future__ import annotations

import datetime as dt
import json
import math
import random
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from perfkit.querylog.aggregate import AnalyzeOptions, analyze, analyze_events
from perfkit.querylog.document import to_document
from perfkit.querylog.model import LogEvent
from perfkit.querylog.stats import EXACT_LIMIT, RELATIVE_ERROR, DurationDigest, Timeline
from perfkit.report.render import render

T0 = dt.datetime(2024, 5, 1, 12, 0, tzinfo=dt.timezone.utc)


def ev(at: float, query: str, ms: float | None, **kw: object) -> LogEvent:
    return LogEvent(
        ts=T0 + dt.timedelta(seconds=at),
        duration_ms=ms,
        query=query,
        source="t.log",
        line=1,
        **kw,  # type: ignore[arg-type]
    )


def nearest_rank(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[max(0, math.ceil(q * len(s)) - 1)]


def test_percentiles_are_exact_for_small_samples() -> None:
    d = DurationDigest()
    values = [float(v) for v in range(1, 101)]
    for v in reversed(values):
        d.add(v)
    assert d.exact
    assert d.quantiles((0.5, 0.95, 0.99)) == (50.0, 95.0, 99.0)
    assert (d.min, d.max, d.count, d.total) == (1.0, 100.0, 100, 5050.0)


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 2**32),
    n=st.integers(EXACT_LIMIT + 1, 3000),
    sigma=st.floats(0.1, 4.0),
    q=st.sampled_from([0.5, 0.9, 0.95, 0.99, 1.0]),
)
def test_sketch_percentiles_within_stated_relative_error(
    seed: int, n: int, sigma: float, q: float
) -> None:
    rng = random.Random(seed)
    values = [rng.lognormvariate(0.0, sigma) for _ in range(n)]
    d = DurationDigest()
    for v in values:
        d.add(v)
    assert not d.exact
    got = d.quantile(q)
    true = nearest_rank(values, q)
    assert got is not None
    assert abs(got - true) <= RELATIVE_ERROR * true * (1 + 1e-9)


def test_sketch_memory_does_not_grow_with_count() -> None:
    d = DurationDigest()
    for i in range(200_000):
        d.add(0.5 + (i % 1000) / 100)
    assert len(d._buckets) < 300


def test_timeline_coarsens_instead_of_growing() -> None:
    tl = Timeline(max_buckets=10)
    for minute in range(100):
        tl.add(minute * 60.0, 1.0)
    points = tl.points()
    assert len(points) <= 10 and sum(p.calls for p in points) == 100
    assert tl.bucket_s > 60


def test_fingerprint_statistics_and_summary() -> None:
    events = [
        ev(0, "SELECT * FROM t WHERE id = 1", 10.0, database="app", user="u1", application="api"),
        ev(30, "SELECT * FROM t WHERE id = 2", 30.0, database="app", user="u2"),
        ev(90, "select * from t where id = 3", 20.0, database="app", user="u1"),
        ev(100, "UPDATE t SET x = 1", 40.0),
        ev(110, "SELECT * FROM t WHERE id = 4", None),  # log_statement, no duration
    ]
    r = analyze_events(events)
    s = r.summary
    assert (s.queries, s.fingerprints, s.total_ms) == (5, 2, 100.0)
    assert (s.timed_queries, s.untimed_queries) == (4, 1)
    assert s.first_ts == T0 and s.last_ts == T0 + dt.timedelta(seconds=110)
    sel = r.fingerprints[0]
    assert sel.query == "SELECT * FROM t WHERE id = $1"
    assert (sel.calls, sel.timed_calls, sel.total_ms, sel.mean_ms) == (4, 3, 60.0, 20.0)
    assert (sel.min_ms, sel.p50_ms, sel.p95_ms, sel.max_ms) == (10.0, 20.0, 30.0, 30.0)
    assert sel.share == 0.6
    assert sel.databases == ("app",) and sel.users == ("u1", "u2")
    assert sel.applications == ("api",)
    assert sel.example == "SELECT * FROM t WHERE id = 1"
    assert sel.first_ts == T0 and sel.last_ts == T0 + dt.timedelta(seconds=110)
    assert [p.calls for p in r.timeline] == [2, 3]  # 12:00 and 12:01


def test_slow_queries_keep_the_slowest_and_count_all() -> None:
    events = [ev(i, f"SELECT pg_sleep({i})", float(i * 100), session=f"s{i}") for i in range(10)]
    r = analyze_events(events, AnalyzeOptions(slow_ms=500, slow_limit=3))
    assert r.summary.slow_queries == 5  # 500..900 ms
    assert [q.duration_ms for q in r.slow] == [900.0, 800.0, 700.0]
    assert r.slow[0].query == "SELECT pg_sleep(9)" and r.slow[0].session == "s9"


def test_json_contract() -> None:
    events = [ev(0, "SELECT 1", 1.0), ev(1, "SELECT 1", 2.0), ev(2, "DELETE FROM t", 600.0)]
    data = json.loads(render(to_document(analyze_events(events)), "json"))
    assert data["schema_version"] == 1
    assert {"queries", "fingerprints", "total_ms", "first_ts", "last_ts", "skipped_lines"} <= set(
        data["summary"]
    )
    fp_keys = {
        "id", "query", "example", "calls", "total_ms", "mean_ms", "p50_ms", "p95_ms",
        "p99_ms", "max_ms", "cacheable", "uncacheable_reason",
    }  # fmt: skip
    assert all(fp_keys <= set(f) for f in data["fingerprints"])
    assert data["slow"][0]["duration_ms"] == 600.0
    assert set(data["cache"]) >= {
        "ttl_s",
        "hit_rate",
        "hits",
        "misses",
        "saved_ms",
        "invalidations",
    }
    assert data["cache"]["hits"] == 1
    swept = json.loads(
        render(to_document(analyze_events(events, AnalyzeOptions(ttls=(1.0, 60.0)))), "json")
    )
    assert [c["ttl_s"] for c in swept["cache"]] == [1.0, 60.0]


@pytest.mark.parametrize("bad", [{"ttls": ()}, {"ttls": (0.0,)}, {"slow_ms": -1}])
def test_bad_options(bad: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        AnalyzeOptions(**bad)  # type: ignore[arg-type]


# --- real logs through the readers -----------------------------------------------------


def test_multiline_parameters_log(corpora: Path) -> None:
    r = analyze([corpora / "multiline_param.log"])
    assert r.files[0].format == "stderr"
    assert r.summary.queries == 5 and r.summary.skipped_lines == 0
    prepared = next(f for f in r.fingerprints if "pg_type" in f.query)
    assert prepared.calls == 2 and prepared.example_params is not None
    assert prepared.example_params[0] == "1234"
    # two executions with different parameter values: two misses, no hit
    assert prepared.cache[0].lookups == 2 and prepared.cache[0].hits == 0


def test_cnpg_log_newest_first_is_replayed_in_order(corpora: Path) -> None:
    r = analyze([corpora / "cnpg.log.gz"])
    assert r.summary.queries == 326  # 400 durations, 74 of the empty statement ";"
    assert r.late_events == 0 and r.cache
    assert not any("follow the order of the file" in w for w in r.warnings)
    monitoring = [f for f in r.fingerprints if "pg_control_system" in f.query]
    assert monitoring and not monitoring[0].cacheable


def test_csvlog_with_parameters(corpora: Path) -> None:
    r = analyze([corpora / "anonymize.log"])
    assert r.files[0].format == "csvlog"
    assert r.summary.queries > 0
    assert any(f.example_params for f in r.fingerprints)
