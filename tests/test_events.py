"""analyze --events: server events besides statements, from real PostgreSQL logs.

The logs under tests/data/querylog/events were written by a private PostgreSQL 15
cluster (make_logs.sh there) running one known workload: one sort spilling to a
temporary file, one lock wait ending in a deadlock, a statement_timeout, two failed
password logins, a burst of short sessions, autovacuum on ``orders`` and a CHECKPOINT.
"""

from __future__ import annotations

import json
import random
import re
from pathlib import Path
from typing import Any

import pytest

from perfkit.querylog import parallel
from perfkit.querylog.aggregate import AnalyzeOptions, analyze
from perfkit.querylog.document import to_document
from perfkit.querylog.events import CATEGORIES, EventCollector, _Peak, parse_categories
from perfkit.querylog.fingerprint import Fingerprinter
from perfkit.report.render import render, to_jsonable

EVENTS = Path(__file__).resolve().parent / "data" / "querylog" / "events"
PREFIX = "%m [%p] %q%u@%d/%a "
LOGS15 = ["stderr.log", "stderr_json_plans.log", "csvlog.csv", "jsonlog.json"]
LOGS = LOGS15 + [f"pg18/{name}" for name in LOGS15]  # PostgreSQL 15 and 18
ALL = AnalyzeOptions(events=frozenset(CATEGORIES))


def _analyze(name: str, opts: AnalyzeOptions = ALL, jobs: int = 1) -> Any:
    path = EVENTS / name
    prefix = PREFIX if name.endswith(".log") else None
    return analyze([path], opts, prefix=prefix, jobs=jobs)


@pytest.mark.parametrize("name", LOGS)
def test_the_workload_events_are_found_in_every_format(name: str) -> None:
    e = _analyze(name).events
    assert e is not None
    t = e.temp_files
    assert t is not None and t.count == 1 and t.total_bytes == t.max_bytes > 0
    (g,) = t.by_statement
    assert g.query is not None and g.query.startswith("SELECT id FROM orders ORDER BY")
    lk = e.locks
    assert lk is not None and lk.waits == 1 and lk.acquired == 1 and lk.deadlocks == 1
    assert lk.acquired_wait_ms > 100  # deadlock_timeout = 100ms, then the deadlock
    waiting = [w for w in lk.samples if w.kind == "waiting"]
    assert waiting[0].lock.startswith("ShareLock on transaction ")
    # the waited-for pid is the other session of the deadlock
    (dl,) = lk.deadlock_samples
    pids = {pid for pid, _ in dl.processes}
    assert len(pids) == 2 and set(waiting[0].waited_for) <= pids
    # the holder was in pg_sleep(0.5) (its transaction holds the row lock) during the wait
    assert waiting[0].blocker_statements == ("SELECT pg_sleep(0.5)",)
    assert all(s is not None and s.startswith("UPDATE orders") for _, s in dl.processes)
    er = e.errors
    assert er is not None and er.statement_timeouts == 1
    (timeout,) = er.statement_timeout_statements
    assert timeout.example == "SELECT pg_sleep(1)"
    states = {g.sqlstate for g in er.groups}
    assert {"57014", "40P01", "22012", "42P01", "28P01"} <= states
    assert dict(er.by_severity) == {"ERROR": 5, "FATAL": 2}
    cp = e.checkpoints
    assert cp is not None and cp.completed == cp.started == 2 and cp.buffers_written > 0
    assert any("immediate" in r for r, _ in cp.by_reason)
    av = e.autovacuum
    assert av is not None
    orders = [tb for tb in av.tables if tb.table == "postgres.public.orders"]
    assert orders and orders[0].vacuums >= 1 and orders[0].tuples_removed >= 5000
    c = e.connections
    assert (
        c is not None and c.auth_failures == 2 and dict(c.auth_failure_reasons) == {"password": 2}
    )
    assert c.received == 18 and c.authorized == c.disconnections == 16
    assert c.peak_per_s >= 6  # the burst of six sessions
    assert c.rate_per_s is not None and c.short_sessions == 16
    secret = [g for g in c.groups if g.user == "secret"]
    assert secret and secret[0].auth_failures == 2 and secret[0].connections == 1
    (psql,) = [a for a in c.applications if a.application == "psql"]
    assert psql.connections == 16 and psql.rate_per_s is not None
    assert psql.sessions == 16 and psql.auth_failures == 0  # the app is on every line
    assert psql.total_session_s == c.total_session_s


@pytest.mark.parametrize("name", LOGS)
def test_plans_attach_to_fingerprints_and_are_never_executions(name: str) -> None:
    with_events = _analyze(name)
    without = _analyze(name, AnalyzeOptions())
    assert without.events is None
    assert with_events.summary == without.summary  # plans are not executions
    p = with_events.events.plans
    assert p is not None and p.unparsed == 0
    # auto_explain.log_min_duration = 0: one plan per statement of the workload
    assert p.plans == sum(f.plans for f in p.fingerprints) == with_events.summary.queries - 13
    ids = {f.id for f in with_events.fingerprints}
    assert {f.fingerprint for f in p.fingerprints} <= ids
    (count,) = [f for f in p.fingerprints if f.query.startswith("SELECT count(*) FROM orders")]
    assert len(count.shapes) == 2 and count.changes_total == 1
    (change,) = count.changes
    assert change.before == "Bitmap Heap Scan on orders, Bitmap Index Scan on orders_customer"
    assert change.after == "Seq Scan on orders"
    assert count.slowest_ms == max(s.max_ms for s in count.shapes)
    assert "Seq Scan" in count.slowest_plan
    assert p.changes == (change,)


def test_text_and_json_plans_have_the_same_shapes() -> None:
    text = _analyze("stderr.log").events.plans
    js = _analyze("stderr_json_plans.log").events.plans

    def shapes(p: Any) -> dict[str, set[str]]:
        return {f.fingerprint: {s.hash for s in f.shapes} for f in p.fingerprints}

    assert shapes(text) == shapes(js)


def test_statement_counts_do_not_change_with_events() -> None:
    # pgBadger's sample logs hold real events of many kinds
    corpus = Path("/work/shared/corpora/postgres-logs")
    logs = [p for p in (EVENTS.parent / "anonymize.log", EVENTS.parent / "multiline_param.log")]
    logs += sorted(corpus.glob("*.log"))[:2] if corpus.is_dir() else []
    for log in logs:
        a = analyze([log], ALL)
        b = analyze([log], AnalyzeOptions())
        assert a.summary == b.summary and a.fingerprints == b.fingerprints


@pytest.mark.parametrize("name", LOGS)
def test_jobs_give_the_same_events(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    if not parallel.fork_available():
        pytest.skip("no fork")
    one = render(to_document(_analyze(name), top=0), "json")
    ranges = []
    real = parallel.plan_chunks

    def plan(*a: Any, **kw: Any) -> Any:
        for c in real(*a, **kw):
            ranges.append(c)
            yield c

    monkeypatch.setattr(parallel, "plan_chunks", plan)
    for chunk in (700, 2500):
        ranges.clear()
        monkeypatch.setenv(parallel.CHUNK_ENV, str(chunk))
        assert render(to_document(_analyze(name, jobs=2), top=0), "json") == one
        assert len(ranges) >= 3


def _messages(n: int, seed: int) -> list[tuple[str, str, tuple[Any, ...], str | None]]:
    """Random but plausible messages of a few kinds, in log order."""
    import datetime as dt

    rnd = random.Random(seed)
    t0 = dt.datetime(2026, 1, 1, 12, 0, 0)
    out: list[tuple[str, str, tuple[Any, ...], str | None]] = []
    ms = 0
    for i in range(n):
        ms += rnd.choice([0, 0, 1, 5, 400, 1200])
        ts = t0 + dt.timedelta(milliseconds=ms)
        user = f"u{rnd.randrange(6)}"
        meta = (ts, str(i), 100 + i, user, f"db{rnd.randrange(3)}", f"app{rnd.randrange(4)}", None)
        k = rnd.randrange(7)
        stmt = f"SELECT {rnd.randrange(9)} FROM t{rnd.randrange(5)}"
        if k == 0:
            out.append(("LOG", "connection received: host=[local]", meta, None))
        elif k == 1:
            out.append(("LOG", f"connection authorized: user={user} database=db1", meta, None))
        elif k == 2:
            s = rnd.randrange(3000)
            out.append(("LOG", f"disconnection: session time: 0:00:{s // 1000:02d}.{s % 1000:03d}"
                        f" user={user} database=db1 host=[local]", meta, None))  # fmt: skip
        elif k == 3:
            out.append(("LOG", f'temporary file: path "x", size {rnd.randrange(1, 9) * 8192}',
                        meta, stmt))  # fmt: skip
        elif k == 4:
            out.append(("ERROR", f'relation "t{rnd.randrange(8)}" does not exist', meta, stmt))
        elif k == 5:
            out.append(("LOG", f'automatic analyze of table "db.public.t{rnd.randrange(8)}"\n'
                        f"system usage: CPU: user: 0.00 s, system: 0.00 s, elapsed: "
                        f"0.0{rnd.randrange(9)} s", meta, None))  # fmt: skip
        else:
            scan = rnd.choice(["Seq Scan on t", "Index Scan using t_pkey on t"])
            out.append(("LOG", f"duration: 1.5 ms  plan:\nQuery Text: {stmt}\n"
                        f"{scan}  (cost=0.00..1.00 rows=1 width=4)", meta, None))  # fmt: skip
    return out


def _collect(msgs: Any, cap: int | None) -> EventCollector:
    c = EventCollector(CATEGORIES, Fingerprinter(), cap=cap)
    for i, (sev, msg, meta, stmt) in enumerate(msgs):
        c.message(sev, msg, meta, "log", i + 1, statement=stmt)
    return c


@pytest.mark.parametrize("seed", range(8))
def test_merging_ranges_in_order_equals_one_pass_with_caps(seed: int) -> None:
    msgs = _messages(400, seed)
    for cap in (3, 1000):
        one = _collect(msgs, cap).result()
        cuts = sorted(random.Random(seed).sample(range(1, len(msgs)), 5))
        merged = EventCollector(CATEGORIES, Fingerprinter(), cap=cap)
        for a, b in zip([0, *cuts], [*cuts, len(msgs)], strict=True):
            part = EventCollector(CATEGORIES, Fingerprinter(), cap=None)
            for i, (sev, msg, meta, stmt) in enumerate(msgs[a:b], a):
                part.message(sev, msg, meta, "log", i + 1, statement=stmt)
            merged.merge(part)
        assert to_jsonable(merged.result()) == to_jsonable(one)
        if cap == 3:
            assert one.errors is not None and one.errors.other_groups > 0


@pytest.mark.parametrize("seed", range(20))
def test_busiest_second_merges_like_one_pass(seed: int) -> None:
    rnd = random.Random(seed)
    secs = sorted(rnd.choice(range(10)) for _ in range(rnd.randrange(1, 40)))
    if seed % 3 == 0:
        rnd.shuffle(secs)  # disorder: runs are still counted in log order
    whole = _Peak()
    for s in secs:
        whole.add(s)
    cuts = sorted(rnd.sample(range(len(secs) + 1), min(3, len(secs) + 1)))
    merged = _Peak()
    for a, b in zip([0, *cuts], [*cuts, len(secs)], strict=True):
        part = _Peak()
        for s in secs[a:b]:
            part.add(s)
        merged.merge(part)
    assert merged.peak() == whole.peak()
    runs: list[list[int]] = []
    for s in secs:
        if runs and runs[-1][0] == s:
            runs[-1][1] += 1
        else:
            runs.append([s, 1])
    best = max(runs, key=lambda r: r[1])  # the first of the longest runs
    assert whole.peak() == (best[0], best[1])


def test_a_non_english_log_gets_a_note(tmp_path: Path) -> None:
    log = tmp_path / "de.log"
    log.write_text(
        "2026-01-01 10:00:00.000 UTC [1] LOG:  duration: 1.000 ms  statement: SELECT 1\n"
        "2026-01-01 10:00:01.000 UTC [1] FEHLER:  Relation »x« existiert nicht\n"
        "2026-01-01 10:00:02.000 UTC [1] LOG:  Dauer: 1.000 ms  Anweisung: SELECT 2\n"
    )
    r = analyze([log], ALL)
    assert r.events is not None and r.events.notes
    assert any("events" in w and "not recognised" in w for w in r.warnings)
    assert r.events.errors is not None and r.events.errors.total == 0


def test_parse_categories() -> None:
    assert parse_categories("all") == frozenset(CATEGORIES)
    assert parse_categories("none") == frozenset()
    assert parse_categories("temp, Locks") == {"temp", "locks"}
    with pytest.raises(ValueError, match="unknown event category 'tmp'"):
        parse_categories("tmp")
    with pytest.raises(ValueError):
        AnalyzeOptions(events=frozenset({"nope"}))


def test_only_the_categories_asked_for_are_reported() -> None:
    r = _analyze("stderr.log", AnalyzeOptions(events=frozenset({"temp", "plans"})))
    e = r.events
    assert e is not None and e.categories == ("temp", "plans")
    assert e.temp_files is not None and e.plans is not None
    assert e.locks is e.errors is e.checkpoints is e.autovacuum is e.connections is None


def test_cli_events_json_and_tables(cli: Any) -> None:
    log = str(EVENTS / "csvlog.csv")
    res = cli("analyze", log, "--events", "all", "--format", "json")
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert data["schema_version"] >= 1
    ev = data["events"]
    assert set(ev) >= {"temp_files", "locks", "errors", "checkpoints", "plans", "connections"}
    assert ev["errors"]["statement_timeouts"] == 1
    fps = data["fingerprints"]
    (count,) = [f for f in fps if f["query"].startswith("SELECT count(*) FROM orders")]
    assert count["plans"] == {
        "plans": 2,
        "shapes": 2,
        "changes": 1,
        "slowest_ms": count["plans"]["slowest_ms"],
    }
    assert all("plans" in f for f in fps)
    res = cli("analyze", log, "--events", "errors,plans", "--format", "markdown")
    assert res.exit_code == 0, res.output
    assert "statement_timeout hits: 1" in res.stdout
    assert "Seq Scan on orders" in res.stdout and "\u2192" in res.stdout
    res = cli("analyze", log, "--format", "json")
    assert res.exit_code == 0 and '"events"' not in res.stdout
    res = cli("analyze", log, "--events", "tmp")
    assert res.exit_code == 2
    assert "--events" in res.output and "Traceback" not in res.output


@pytest.mark.parametrize("name", ["stderr.log", "jsonlog.json"])
@pytest.mark.parametrize("category", CATEGORIES)
def test_one_category_alone_reports_what_all_report(name: str, category: str) -> None:
    field = {"temp": "temp_files"}.get(category, category)
    alone = _analyze(name, AnalyzeOptions(events=frozenset({category}))).events
    every = _analyze(name).events
    assert getattr(alone, field) == getattr(every, field) is not None


def test_blocker_statements_resolve_across_ranges_like_one_pass() -> None:
    import datetime as dt

    from perfkit.querylog.model import LogEvent

    t = dt.datetime(2026, 1, 1)
    items: list[tuple[str, Any]] = []
    for i in range(30):
        holder, waiter = 1000 + i % 4, 2000 + i
        items.append(("stmt", LogEvent(t, 1.0, f"UPDATE t SET v = {i}", "x", i, pid=holder)))
        detail = f"Process holding the lock: {holder}. Wait queue: {waiter}."
        msg = f"process {waiter} still waiting for ShareLock on transaction {i} after 100.0 ms"
        items.append(("msg", (msg, (t, str(waiter), waiter, "u", "d", "a", None), detail)))
        if i % 3:
            items.append(("stmt", LogEvent(t, 1.0, f"SELECT {i}", "x", i, pid=holder)))

    def drive(c: EventCollector, part: list[tuple[str, Any]]) -> None:
        def gen() -> Any:
            for kind, x in part:
                if kind == "stmt":
                    yield x
                else:
                    c.message("LOG", x[0], x[1], "x", 1, detail=x[2])

        for _ in c.watch(gen()):
            pass

    one = EventCollector({"locks"}, Fingerprinter())
    drive(one, items)
    expected = to_jsonable(one.result())
    locks = one.result().locks
    assert locks is not None
    resolved = [w.blocker_statements for w in locks.samples]
    assert resolved[:4] == [
        ("UPDATE t SET v = 4",),
        ("SELECT 1",),
        ("SELECT 2",),
        ("UPDATE t SET v = 7",),
    ]
    for cuts in ([5, 6, 7], [1, 20, 41], [12]):
        merged = EventCollector({"locks"}, Fingerprinter())
        for a, b in zip([0, *cuts], [*cuts, len(items)], strict=True):
            part = EventCollector({"locks"}, Fingerprinter(), cap=None)
            drive(part, items[a:b])
            merged.merge(part)
        assert to_jsonable(merged.result()) == expected


def test_verbose_messages_and_sqlstates_of_stderr_logs() -> None:
    c = EventCollector({"errors", "temp"}, Fingerprinter())
    meta = (None, "1", 1, "u", "d", "a", None)
    # log_error_verbosity = verbose puts the SQLSTATE before the text
    c.message("ERROR", "VERBOSE42P01: x", meta, "s", 1)  # not a SQLSTATE prefix
    c.message("ERROR", '42P01: relation "x" does not exist', meta, "s", 2, statement="SELECT 1")
    c.message("LOG", '00000: temporary file: path "t", size 10', meta, "s", 3)
    # without %e: the SQLSTATE of well-known messages; numbers and positions grouped
    c.message("ERROR", "canceling statement due to lock timeout", meta, "s", 4)
    c.message("ERROR", 'relation "y" does not exist at character 15', meta, "s", 5)
    c.message("ERROR", "value 123 out of range", meta, "s", 6)
    c.message("ERROR", "value 456 out of range", meta, "s", 7)
    c.message("ERROR", 'invalid input syntax for type integer: "abc"', meta, "s", 8)
    c.message("ERROR", 'invalid input syntax for type integer: "x""y"', meta, "s", 9)
    r = c.result()
    assert r.temp_files is not None and r.temp_files.count == 1
    assert r.errors is not None
    groups = {(g.sqlstate, g.message): g.count for g in r.errors.groups}
    assert groups[("42P01", 'relation "x" does not exist')] == 1
    assert groups[("42P01", 'relation "y" does not exist')] == 1
    assert groups[("55P03", "canceling statement due to lock timeout")] == 1
    assert groups[(None, "value N out of range")] == 2
    assert groups[(None, 'invalid input syntax for type integer: "..."')] == 2
    assert dict(r.errors.cancellations) == {"lock timeout": 1}


def test_inputs_without_server_messages_say_so() -> None:
    samples = Path(__file__).resolve().parent.parent / "sample_configs" / "logs"
    r = analyze([samples / "pg_stat_statements.csv"], ALL)
    assert any("no input is a server log" in w for w in r.warnings)
    r = analyze([EVENTS / "csvlog.csv"], ALL)
    assert not any("no input is a server log" in w for w in r.warnings)
    assert r.events is not None
    c = r.events.connections
    assert c is not None and sum(g.connections for g in c.groups) == c.authorized
    assert all(g.rate_per_s is not None and g.rate_per_s > 0 for g in c.groups)


def _as_syslog(stderr_text: str) -> str:
    """A stderr log as PostgreSQL writes it to syslog: one report per message (its
    DETAIL/STATEMENT and continuation lines numbered [seq-part], tabs as #011)."""
    out = []
    seq: dict[str, int] = {}
    part = 0
    pid = "0"
    head = re.compile(r"^\S+ (\S+) UTC \[(\d+)\] .*?(LOG|ERROR|FATAL|WARNING|DETAIL|STATEMENT"
                      r"|HINT|CONTEXT):  ")  # fmt: skip
    for line in stderr_text.splitlines():
        m = head.match(line)
        if m is not None and m[3] not in ("DETAIL", "STATEMENT", "HINT", "CONTEXT"):
            pid = m[2]
            seq[pid] = seq.get(pid, 0) + 1
            part = 1
        else:
            part += 1
        text = "#011" + line[1:] if line.startswith("\t") else line
        clock = m[1][:8] if m is not None else "00:00:00"
        out.append(f"Dec  3 {clock} host postgres[{pid}]: [{seq.get(pid, 1)}-{part}] {text}")
    return "\n".join(out) + "\n"


def test_syslog_logs_give_the_same_events(tmp_path: Path) -> None:
    log = tmp_path / "syslog.log"
    log.write_text(_as_syslog((EVENTS / "stderr.log").read_text()))
    r = analyze([log], ALL, prefix=PREFIX)
    assert r.files[0].format == "syslog"
    one = _analyze("stderr.log").events
    e = r.events
    assert e is not None and one is not None
    assert e.temp_files is not None and e.locks is not None and e.checkpoints is not None
    assert e.errors is not None and one.errors is not None
    assert e.autovacuum is not None and e.connections is not None and e.plans is not None
    assert one.temp_files is not None and one.checkpoints is not None
    assert one.autovacuum is not None and one.connections is not None and one.plans is not None
    assert e.temp_files.count == one.temp_files.count == 1
    assert (e.locks.waits, e.locks.acquired, e.locks.deadlocks) == (1, 1, 1)
    assert e.errors.by_severity == one.errors.by_severity
    assert e.checkpoints.completed == one.checkpoints.completed
    assert e.autovacuum.tables == one.autovacuum.tables
    assert e.connections.authorized == one.connections.authorized
    assert [f.shapes for f in e.plans.fingerprints] == [f.shapes for f in one.plans.fingerprints]
