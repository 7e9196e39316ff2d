"""HTML reports without a browser: the data a page embeds equals the JSON report's
figures, the series stay bounded, bad reports are one line, every kind renders."""

from __future__ import annotations

import datetime as dt
import json
import math
import re
from pathlib import Path
from typing import Any

import pytest
from html_workload import write_log
from hypothesis import given, settings
from hypothesis import strategies as st

from perfkit.errors import InputError
from perfkit.html import SUPPORTED_SCHEMA, check_report, render
from perfkit.html.data import rebucket_timeline
from perfkit.html.parts import costly_nodes
from perfkit.querylog.aggregate import AnalyzeOptions, analyze, analyze_events
from perfkit.querylog.document import to_document
from perfkit.querylog.model import LogEvent
from perfkit.querylog.stats import (
    HISTOGRAM_EDGES_MS,
    WINDOW_RELATIVE_ERROR,
    DurationDigest,
    Timeline,
    decode_cell,
    window_quantiles,
)
from perfkit.report.render import render_json

DATA = Path(__file__).parent / "data" / "html"
SAMPLES = {
    "pool": "pool.json",
    "batch": "batch.json",
    "check": "check.json",
    "coldstart": "coldstart.json",
    "explain": "explain.json",
    "replay": "replay.json",
    "suggest-indexes": "suggest.json",
    "pool-storm": "storm.json",
    "stats-delta": "stats.json",
}


def embedded(page: str, element: str) -> Any:
    m = re.search(rf'<script type="application/json" id="{element}">(.*?)</script>', page, re.S)
    assert m is not None, element
    return json.loads(m.group(1))


def report_of(log: Path, **options: Any) -> dict[str, Any]:
    r = analyze([str(log)], AnalyzeOptions(**options), jobs=1)
    return json.loads(render_json(to_document(r)))  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def two_hours(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    log = write_log(tmp_path_factory.mktemp("html") / "two-hours.log")
    return report_of(log, ttls=(1.0, 10.0, 60.0, 300.0))


def test_analyze_page_embeds_the_json_figures(two_hours: dict[str, Any]) -> None:
    report = two_hours
    page = render(report)
    data = embedded(page, "pk-data")
    charts = {c["id"]: c for c in embedded(page, "pk-charts")}
    # the per-minute timeline: the JSON's points, dense, nothing merged for two hours
    tl = data["timeline"]
    points = report["timeline"]["points"]
    assert not tl["p95_merged"] and tl["bucket_s"] == 60
    assert sum(tl["calls"]) == sum(p["calls"] for p in points) == report["summary"]["queries"]
    by_start = {p["start"]: p for p in points}
    for t, calls, p95 in zip(tl["t"], tl["calls"], tl["p95_ms"], strict=True):
        p = by_start.get(dt.datetime.fromtimestamp(t, dt.timezone.utc).isoformat())
        assert calls == (p["calls"] if p else 0)
        assert p95 == (round(p["p95_ms"], 3) if p else None)
    # the time brush's series: each fingerprint's calls and time, summed, are its JSON figures
    window = data["window"]
    fps = {f["id"]: f for f in report["fingerprints"]}
    assert len(window["series"]) == len(fps)  # fewer than 50 fingerprints: all of them
    for fid, s in window["series"].items():
        assert sum(s["calls"]) == fps[fid]["calls"]
        assert sum(s["total_ms"]) == pytest.approx(fps[fid]["total_ms"], abs=0.01)
    assert sum(window["all"]["calls"]) == report["summary"]["queries"]
    # the stacked chart: 7 fingerprints + "other", layers adding up to every statement's time
    stacked = charts["chart-stacked"]
    assert len(stacked["series"]) == 8
    per_bucket = [sum(v) for v in zip(*(s["values"] for s in stacked["series"]), strict=True)]
    assert per_bucket == pytest.approx(window["all"]["total_ms"], abs=0.01)
    # the fingerprints table's sort values are the JSON figures
    for f in report["fingerprints"]:
        row = re.search(rf'<tr class="pick" data-fid="{f["id"]}"[^>]*>(.*?)</tr>', page, re.S)
        assert row is not None
        values = re.findall(r'data-v="([^"]*)"', row.group(1))
        assert float(values[0]) == f["calls"] and float(values[1]) == f["total_ms"]
        assert float(values[5]) == f["p99_ms"]
    # each drill-down histogram counts the fingerprint's timed calls
    for f in report["fingerprints"]:
        hist = charts[f"hist-{f['id']}"]
        assert sum(hist["series"][0]["values"]) == f["timed_calls"]
    # the TTL sweep curve is the cache table
    ttl = charts["chart-ttl"]
    assert ttl["x"] == [c["ttl_s"] for c in report["cache"]]
    assert ttl["series"][1]["values"] == [round(c["saved_ms"], 3) for c in report["cache"]]
    # one file: no network, no external resource
    assert not re.search(r'(src|href)\s*=\s*"(https?:)?//', page)
    assert "<link" not in page


def test_page_data_is_bounded_for_a_long_log() -> None:
    # three weeks of one statement a minute: the page merges buckets (exact sums) to
    # at most 1,500 and says that p95 is then the highest of the merged ones
    t0 = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
    events = [
        LogEvent(
            ts=t0 + dt.timedelta(minutes=i),
            query=f"SELECT {i % 7}" if i % 3 else "SELECT * FROM t WHERE a = 1",
            duration_ms=float(1 + i % 5),
            source="long.log",
            line=i + 1,
        )
        for i in range(21 * 1440)
    ]
    r = analyze_events(events, AnalyzeOptions(replay=False))
    report = json.loads(render_json(to_document(r)))
    data = embedded(render(report), "pk-data")
    assert len(data["timeline"]["t"]) <= 1500 and data["timeline"]["p95_merged"]
    assert sum(data["timeline"]["calls"]) == len(events)
    grid = report["timeline"]["fingerprints"]
    assert len(grid["all"]["calls"]) <= 1500 and sum(grid["all"]["calls"]) == len(events)


def _wide(k: int, i: int) -> str:
    return f"SELECT c{k} FROM wide_table_{k} WHERE id = {i} AND status = 'x{i % 97}'"


def test_size_of_a_large_report_stays_under_2_mb() -> None:
    # A day's log: the page's size depends on the timeline (1,440 minutes), the 50
    # fingerprints with series (here busy in almost every minute: the densest case) and
    # the 200 table rows, not on the number of statements; 400 fingerprints in all.
    t0 = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
    events = [
        LogEvent(
            ts=t0 + dt.timedelta(seconds=i * 0.864),
            query=_wide(i % 50 if i % 4 else 50 + (i // 4) % 350, i),
            duration_ms=0.1 + (i * 7919 % 1000) / 10,
            source="large.log",
            line=i + 1,
        )
        for i in range(100_000)
    ]
    r = analyze_events(events, AnalyzeOptions(slow_ms=90, ttls=(1, 10, 60, 300, 3600)))
    report = json.loads(render_json(to_document(r)))
    assert report["summary"]["fingerprints"] == 400
    series = report["timeline"]["fingerprints"]["series"]
    assert len(series) == 50 and len(series[0]["calls"]) == 1440
    assert sum(1 for s in series for c in s["calls"] if c) > 0.8 * 50 * 1440
    page = render(report)
    assert len(page.encode()) < 2_000_000, len(page.encode())
    assert "200 of 400 rows shown" in page


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.floats(0, 86_400),
            st.sampled_from("abcdefgh"),
            st.one_of(st.none(), st.floats(0, 1e4)),
        ),
        max_size=300,
    ),
    st.integers(1, 40),
    st.integers(2, 50),
    st.integers(1, 30),
)
def test_fingerprint_grid_keeps_exact_sums_within_its_bound(
    events: list[tuple[float, str, float | None]], cells: int, points: int, buckets: int
) -> None:
    # both grids coarsen (the timeline past ``buckets``, the grid past ``cells``)
    tl = Timeline(max_buckets=buckets, max_fp_cells=cells)
    for ts, fid, ms in events:
        tl.add(ts, ms, fingerprint=fid)
    assert tl._fp_cells <= max(cells, 8)  # a single bucket holds every fingerprint once
    start, bucket_s, every, series = tl.fingerprint_series(list("abcdefgh"), points)
    if not events:
        assert every.calls == () and series == ()
        return
    assert len(every.calls) <= points
    for s in series:
        mine = [(ts, ms) for ts, f, ms in events if f == s.fingerprint]
        assert sum(s.calls) == len(mine)
        assert sum(s.total_ms) == pytest.approx(sum(ms or 0.0 for _, ms in mine), abs=1e-6)
        for ts, _ in mine:  # each statement sits in the bucket of its time
            assert s.calls[int((ts - start) // bucket_s)] > 0
    assert sum(every.calls) == len(events)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(0, 3_000_000), min_size=1, max_size=2000))
def test_histogram_counts_every_value_in_its_bin(values: list[float]) -> None:
    d = DurationDigest()
    for v in values:
        d.add(v)
    bins = d.histogram()
    assert sum(n for _, _, n in bins) == len(values)
    assert all(lo in HISTOGRAM_EDGES_MS for lo, _, _ in bins)
    if d.exact:  # exact values: each in [low, high)
        for v in values:
            assert any(
                lo <= v < (hi if hi is not None else float("inf")) and n for lo, hi, n in bins
            )


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.integers(0, 20_000), min_size=1, max_size=400, unique=True),
    st.integers(2, 500),
)
def test_rebucketing_sums_calls_exactly(minutes: list[int], max_points: int) -> None:
    t0 = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
    points: list[dict[str, Any]] = [
        {
            "start": (t0 + dt.timedelta(minutes=m)).isoformat(),
            "calls": m % 7 + 1,
            "total_ms": m / 3,
            "p95_ms": float(m % 11),
        }
        for m in sorted(minutes)
    ]
    out = rebucket_timeline(points, 60.0, max_points)
    assert len(out["t"]) <= max_points
    assert sum(out["calls"]) == sum(p["calls"] for p in points)
    assert max(v for v in out["p95_ms"] if v is not None) == max(p["p95_ms"] for p in points)


@pytest.mark.parametrize("kind", sorted(SAMPLES))
def test_every_kind_renders_from_a_real_report(kind: str) -> None:
    report = json.loads((DATA / SAMPLES[kind]).read_text())
    assert report["kind"] == kind
    page = render(report)
    assert page.startswith("<!DOCTYPE html>") and f'data-kind="{kind}"' in page
    embedded(page, "pk-charts")
    assert "uPlot" in page


def test_pool_page_marks_the_recommended_size() -> None:
    report = json.loads((DATA / "pool.json").read_text())
    charts = {c["id"]: c for c in embedded(render(report), "pk-charts")}
    rec = report["recommendations"][0]["pool_size"]
    labels = [s["label"] for s in charts["chart-throughput"]["series"]]
    assert f"pool size {rec} (recommended)" in labels
    assert sum("(recommended)" in x for x in labels) == 1
    # every series point is a measured point's throughput
    points = {(p["mode"], p["pool_size"], p["clients"]): p["throughput"] for p in report["points"]}
    clients = sorted({p["clients"] for p in report["points"]})
    fresh = next(s for s in charts["chart-throughput"]["series"] if s["label"] == "fresh")
    assert fresh["values"] == [points[("fresh", None, c)] for c in clients]


def test_batch_heatmap_cells_are_the_runs_figures() -> None:
    report = json.loads((DATA / "batch.json").read_text())
    page = render(report)
    table = re.search(r'<table class="pk heat" id="heat-throughput">(.*?)</table>', page, re.S)
    assert table is not None
    cells = [float(v) for v in re.findall(r'data-v="([^"]+)"', table.group(1))]
    runs = sorted(
        report["runs"], key=lambda r: (r["settings"]["batch_size"], r["settings"]["concurrency"])
    )
    assert cells == [r["throughput_per_s"] for r in runs]
    assert table.group(1).count("\u2605") == 1


def test_check_strips_hold_every_sample() -> None:
    report = json.loads((DATA / "check.json").read_text())
    charts = embedded(render(report), "pk-charts")
    metrics = [m for c in report["checks"] for m in c["metrics"]]
    assert len(charts) == len(metrics)
    for c, m in zip(charts, metrics, strict=True):
        base = [v for v in c["series"][0]["values"] if v is not None]
        assert base == m["baseline"]["samples"]


def test_costly_plan_nodes() -> None:
    report = json.loads((DATA / "explain.json").read_text())
    plan = report["queries"][0]["plan"]
    marked = costly_nodes(plan)
    assert marked  # the hash join over two scans of a 200,000-row table
    page = render(report)
    assert page.count('class="node hot"') == len(marked)
    assert costly_nodes(plan, share=1.01) == []


@pytest.mark.parametrize(
    ("report", "message"),
    [
        ([], "not a perfkit JSON report (expected a JSON object)"),
        ({"kind": "pool"}, "not a perfkit JSON report (no 'kind' and 'schema_version' at the top)"),
        ({"kind": "nope", "schema_version": 1}, "no HTML page for report kind 'nope'"),
        ({"kind": "pool", "schema_version": 2}, "pool report schema_version 2 is not supported"),
        ({"kind": "pool", "schema_version": True}, "no 'kind' and 'schema_version'"),
    ],
)
def test_bad_reports_are_one_line(report: Any, message: str) -> None:
    with pytest.raises(InputError, match=re.escape(message)):
        check_report(report, "x.json")


def test_malformed_report_names_the_file() -> None:
    with pytest.raises(InputError, match=r"^x\.json: malformed pool report: KeyError"):
        render({"kind": "pool", "schema_version": 1, "points": [{"status": "ok"}]}, "x.json")
    assert set(SUPPORTED_SCHEMA) >= set(SAMPLES)


# --- the CLI ------------------------------------------------------------------------


def test_report_command(cli: Any, tmp_path: Path, two_hours: dict[str, Any]) -> None:
    src = tmp_path / "a.json"
    src.write_text(json.dumps(two_hours))
    out = tmp_path / "a.html"
    r = cli("report", str(src), "--html", str(out))
    assert r.exit_code == 0, r.stderr
    assert r.stderr == f"wrote {out}\n"
    assert out.read_text() == render(two_hours, str(src))
    r = cli("report", str(src))  # stdout
    assert r.exit_code == 0 and r.stdout == render(two_hours, str(src))
    bad = tmp_path / "bad.json"
    bad.write_text('{"kind": "analyze",\n "schema_version": 1,,}')
    r = cli("report", str(bad), "-o", str(out))
    assert r.exit_code == 2
    assert (
        r.stderr
        == f"perfkit: error: {bad}:2: not valid JSON: Expecting property name enclosed in double quotes\n"
    )
    bad.write_text('{"kind": "demo2", "schema_version": 1}')
    r = cli("report", str(bad))
    assert r.exit_code == 2 and r.stderr.startswith(
        f"perfkit: error: {bad}: no HTML page for report kind 'demo2' (known: analyze, "
    )
    r = cli("report", str(tmp_path / "missing.json"))
    assert r.exit_code == 2
    assert r.stderr == f"perfkit: error: {tmp_path / 'missing.json'}: no such file\n"
    r = cli("report", str(src), "--html", str(tmp_path / "no" / "a.html"))
    assert r.exit_code == 2
    assert r.stderr == f"perfkit: error: --html: directory {tmp_path / 'no'} does not exist\n"


def test_analyze_html_options(cli: Any, tmp_path: Path) -> None:
    log = write_log(tmp_path / "a.log", minutes=10)
    page, js = tmp_path / "a.html", tmp_path / "a.json"
    r = cli("analyze", str(log), "--html", str(page), "-f", "json", "-o", str(js))
    assert r.exit_code == 0, r.stderr
    assert page.read_text() == render(json.loads(js.read_text()), "perfkit analyze")
    other = tmp_path / "b.html"
    r = cli("analyze", str(log), "-o", str(other))  # the extension picks the page
    assert r.exit_code == 0, r.stderr
    assert other.read_text() == page.read_text()
    r = cli(
        "batch",
        str(Path(__file__).parent.parent / "sample_configs" / "batch" / "orders.jsonl"),
        "--mode",
        "simulate",
        "--html",
        str(tmp_path / "batch.html"),
    )
    assert r.exit_code == 0, r.stderr
    assert 'data-kind="batch"' in (tmp_path / "batch.html").read_text()


def test_drill_down_holds_the_fingerprints_events() -> None:
    from perfkit.html.pages.analyze import events_by_fingerprint
    from perfkit.querylog.events import parse_categories

    logs = Path(__file__).parent / "data" / "querylog" / "events"
    r = analyze(
        [str(logs / "stderr.log"), str(logs / "stderr_json_plans.log")],
        AnalyzeOptions(events=parse_categories("all")),
        jobs=1,
    )
    report = json.loads(render_json(to_document(r)))
    page = render(report)
    mine = events_by_fingerprint(report["events"])
    plans = report["events"]["plans"]["fingerprints"]
    assert plans and all(p["fingerprint"] in mine for p in plans)
    for f in report["fingerprints"][:50]:
        details = re.search(rf'<details class="fp" id="fp-{f["id"]}">(.*?)</details>', page, re.S)
        assert details is not None
        want = {section for section, _ in mine.get(f["id"], [])}
        got = set(re.findall(r"<h4>Its events: ([^<]+)</h4>", details.group(1)))
        assert got == {w.replace("_", " ") for w in want}
    for key in ("temp_files", "locks", "errors", "checkpoints", "autovacuum", "connections"):
        assert f'id="sec-events-{key}"' in page


# --- pool --storm and analyze --from-stats --------------------------------------------


def _cards(page: str) -> dict[str, str]:
    found = re.findall(
        r'<div class="card"><div class="v">([^<]*)</div><div class="k">([^<]*)</div>', page
    )
    return {k: v for v, k in found}


def _column(page: str, tid: str, col: int) -> list[str]:
    """The sort values (``data-v``) of column ``col`` of table ``tid``, row by row."""
    table = re.search(rf'<table class="pk" id="{tid}">.*?<tbody>(.*?)</tbody>', page, re.S)
    assert table is not None, tid
    return [
        re.findall(r"<td([^>]*)>", row)[col].partition('data-v="')[2].partition('"')[0]
        for row in re.findall(r"<tr[^>]*>(.*?)</tr>", table.group(1), re.S)
    ]


def test_storm_page_draws_the_levels_figures() -> None:
    from perfkit.html.pages.storm import by_endpoint

    report = json.loads((DATA / "storm.json").read_text())
    page = render(report)
    charts = {c["id"]: c for c in embedded(page, "pk-charts")}
    storm = charts["chart-storm"]
    levels = by_endpoint(report)
    assert list(levels) == ["primary", "compare"]
    instances = sorted({lv["instances"] for lv in report["levels"]})
    safe = report["model"]["safe_concurrency"]
    # the x axis is the levels run; the modelled safe concurrency is marked on it, once
    assert storm["xCategories"] == [f"{n} (safe)" if n == safe else str(n) for n in instances]
    assert sum("(safe)" in c for c in storm["xCategories"]) == 1
    series = {s["label"]: s["values"] for s in storm["series"]}
    assert len(series) == 3 * 2 + 1
    for label, mine in levels.items():
        at = {lv["instances"]: lv for lv in mine}
        for key, name in (
            ("accepted", "got"),
            ("refused", "refused"),
            ("peak_backends", "peak backends"),
        ):
            assert series[f"{name} ({label})"] == [
                at[n][key] if n in at else None for n in instances
            ]
        # backends over time: every sample of the endpoint's levels, in order, time increasing
        tl = charts[f"chart-backends-{label}"]
        samples = [s for lv in mine for s in lv["backends_over_time"]]
        assert tl["series"][0]["values"] == [s["backends"] for s in samples]
        assert tl["series"][1]["values"] == [s["storm_backends"] for s in samples]
        assert tl["x"] == sorted(tl["x"]) and len(tl["x"]) == len(samples)
        assert max(tl["series"][0]["values"]) == max(lv["peak_backends"] for lv in mine)
    assert series["usable slots"] == [report["slots"]["usable"]] * len(instances)
    cards = _cards(page)
    prim = next(m for m in report["measured"] if m["endpoint"] == "primary")
    assert cards["first refused level"] == str(prim["saturated_at"])
    assert cards["safe reserved concurrency (model)"] == str(safe)
    assert cards["max_connections"] == str(report["slots"]["max_connections"])
    assert cards["left behind"] == str(report["endpoints"][0]["leftover_backends"])
    # the levels table: the JSON's figures, refusals by kind
    got = [float(v) for v in _column(page, "levels", 3)]
    assert got == [lv["accepted"] for ls in levels.values() for lv in ls]
    assert "Direct against through the pooler" in page
    assert "PARTIAL" not in page


def test_storm_page_says_a_stopped_storm_is_partial() -> None:
    report = json.loads((DATA / "storm.json").read_text())
    report.update(status="interrupted", error="stopped by the user", levels=report["levels"][:3])
    page = render(report)
    assert "warning: PARTIAL storm (interrupted): 3 of 16 levels run (stopped by the user)" in page
    assert "3 of 16 rows shown" in page
    assert _cards(page)["status"] == "interrupted"


def test_stats_page_holds_every_statement() -> None:
    from perfkit.html.pages.stats import TOP_BARS

    report = json.loads((DATA / "stats.json").read_text())
    assert report["complete"] and len(report["statements"]) > 5
    page = render(report)
    charts = {c["id"]: c for c in embedded(page, "pk-charts")}
    top = sorted(report["statements"], key=lambda s: -s["exec"]["total_ms"])[:TOP_BARS]
    bars = charts["chart-top"]
    assert bars["kind"] == "bars" and len(bars["series"]) == 1
    assert bars["series"][0]["values"] == [s["exec"]["total_ms"] for s in top]
    assert bars["xCategories"] == [s["fingerprint"][:8] for s in top]
    # both tables hold every statement, their sort values the JSON's figures
    calls = [float(v) for v in _column(page, "statements", 2)]
    assert calls == [s["calls"] for s in report["statements"]]
    wal = _column(page, "io", 7)
    assert wal == [repr(s["wal_bytes"]) for s in report["statements"]]
    assert 'id="io"' in page and ">I/O read ms<" in page  # track_io_timing was on
    cards = _cards(page)
    assert cards["delta"] == "complete" and cards["calls"] == f"{report['calls']:,}"
    assert "PARTIAL" not in page


def test_stats_page_never_shows_a_partial_delta_as_complete() -> None:
    report = json.loads((DATA / "stats.json").read_text())
    reasons = ["pg_stat_statements was reset between the snapshots", "3 entries were evicted"]
    report.update(complete=False, problems=reasons, warnings=reasons)
    for s in report["statements"]:  # a server without WAL or I/O timing columns
        s.update(wal_bytes=None, blk_read_time=None, blk_write_time=None)
        s.update(temp_blk_read_time=None, temp_blk_write_time=None)
    report["settings"]["track_io_timing"] = False
    page = render(report)
    assert _cards(page)["delta"] == "PARTIAL (2 reasons)"
    assert ">complete<" not in page
    assert f"warning: PARTIAL delta (2 reasons): {reasons[0]}; {reasons[1]}" in page
    alert = re.search(r'<section id="sec-partial">(.*?)</section>', page, re.S)
    assert alert is not None and all(r in alert.group(1) for r in reasons)
    assert page.index('id="sec-partial"') < page.index('id="sec-statements"')
    assert ">WAL bytes<" not in page and ">I/O read ms<" not in page
    assert "track_io_timing is off" in page


def test_storm_page_of_one_endpoint_and_of_none() -> None:
    report = json.loads((DATA / "storm.json").read_text())
    report["endpoints"] = report["endpoints"][:1]
    report["measured"] = report["measured"][:1]
    report["levels"] = [lv for lv in report["levels"] if lv["endpoint"] == "primary"]
    page = render(report)
    charts = {c["id"]: c for c in embedded(page, "pk-charts")}
    labels = [s["label"] for s in charts["chart-storm"]["series"]]
    assert labels == ["got", "refused", "peak backends", "usable slots"]
    assert set(charts) == {"chart-storm", "chart-backends-primary"}
    assert "<h2>Measured</h2>" in page and ">endpoint<" not in page.split('id="levels"')[1][:400]
    report.update(levels=[], measured=[], status="failed", error="could not connect")
    page = render(report)
    assert embedded(page, "pk-charts") == [] and "no level was run" in page
    cards = _cards(page)  # no level: nothing to claim
    assert cards["first refused level"] == "no level run"
    assert cards["measured: no refusal up to"] == "not measured"
    assert "warning: PARTIAL storm (failed): 0 of 8 levels run (could not connect)" in page


def _page_window(hist: dict[str, Any], fid: str, h0: int, h1: int) -> tuple[float | None, ...]:
    """The page's arithmetic for a window of histogram buckets h0..h1 (see its script)."""
    series = {s["id"]: s["cells"] for s in hist["series"]}
    cells = [decode_cell(c) for c in series[fid]]
    return window_quantiles((h for off, h in cells if h0 <= off <= h1), (0.5, 0.95, 0.99))


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.floats(0, 1),
            st.sampled_from("abc"),
            st.one_of(st.just(0.0), st.floats(0.001, 1e5)),
        ),
        min_size=1,
        max_size=500,
    ),
    # ten minutes (many durations per cell) to 40 days (coarsened to <= 300 buckets)
    st.sampled_from([600.0, 86_400.0, 40 * 86_400.0]),
    st.data(),
)
def test_window_percentiles_are_within_the_stated_error(
    rows: list[tuple[float, str, float]], span: float, data: st.DataObject
) -> None:
    t0 = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
    rows = sorted((s * span, q, d) for s, q, d in rows)
    events = [
        LogEvent(
            ts=t0 + dt.timedelta(seconds=s),
            query=f"SELECT * FROM t_{q} WHERE a = {i}",
            duration_ms=d,
            source="w.log",
            line=i + 1,
        )
        for i, (s, q, d) in enumerate(rows)
    ]
    report = json.loads(
        render_json(to_document(analyze_events(events, AnalyzeOptions(replay=False))))
    )
    hist = report["timeline"]["fingerprints"]["histograms"]
    assert hist["relative_error"] == WINDOW_RELATIVE_ERROR < 0.051
    start = dt.datetime.fromisoformat(hist["start"]).timestamp()
    size = hist["bucket_s"]
    n = max(c[0] for s in hist["series"] for c in s["cells"]) + 1
    assert n <= 300
    h0 = data.draw(st.integers(0, n - 1))
    h1 = data.draw(st.integers(h0, n - 1))
    lo, hi = start + h0 * size, start + (h1 + 1) * size
    by_id = {f["query"]: f["id"] for f in report["fingerprints"]}
    for q in "abc":
        fid = by_id.get(f"SELECT * FROM t_{q} WHERE a = $1")
        if fid is None:
            continue
        mine = sorted(
            d
            for e, (_, qq, d) in zip(events, rows, strict=True)
            if qq == q and lo <= e.ts.timestamp() < hi  # type: ignore[union-attr]
        )
        got = _page_window(hist, fid, h0, h1)
        if not mine:
            assert got == (None, None, None)
            continue
        for q_, v in zip((0.5, 0.95, 0.99), got, strict=True):
            true = mine[max(0, math.ceil(q_ * len(mine)) - 1)]
            assert (
                v is not None and abs(v - true) <= WINDOW_RELATIVE_ERROR * true * (1 + 1e-9) + 1e-9
            ), (
                q_,
                v,
                true,
            )


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.tuples(st.floats(0, 86_400), st.sampled_from("abcdefgh")), max_size=300),
    st.integers(2, 40),
    st.integers(1, 60),
)
def test_histogram_grid_counts_every_timed_call_within_its_bounds(
    adds: list[tuple[float, str]], max_buckets: int, max_entries: int
) -> None:
    tl = Timeline(max_hist_buckets=max_buckets, max_hist_entries=max_entries)
    for i, (ts, fid) in enumerate(adds):
        tl.add(ts, float(1 + i % 300), None, fid)
        tl.add(ts, None, None, fid)  # untimed: in no histogram
    fids = sorted({f for _, f in adds})
    start, size, hists = tl.fingerprint_histograms(fids, max_points=7, max_entries=30)
    assert [h.fingerprint for h in hists] == fids
    for h in hists:
        assert sum(c for _, counts in h.cells for _, c in counts) == sum(
            1 for _, f in adds if f == h.fingerprint
        )
    offsets = [off for h in hists for off, _ in h.cells]
    entries = sum(len(counts) for h in hists for _, counts in h.cells)
    if offsets:
        assert max(offsets) < 7 and (entries <= 30 or max(offsets) == 0)
        for h in hists:  # every call sits in the bucket of its time
            for off, _ in h.cells:
                assert any(
                    f == h.fingerprint and int((ts - start) // size) == off for ts, f in adds
                )
