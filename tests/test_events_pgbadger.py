"""analyze --events against pgBadger on the same real logs, where the categories match.

pgBadger (installed on the machine) reads the sample logs of tests/data/querylog/events
in the same three formats; the figures both tools report must agree.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from perfkit.querylog.aggregate import AnalyzeOptions, analyze
from perfkit.querylog.events import CATEGORIES

EVENTS = Path(__file__).resolve().parent / "data" / "querylog" / "events"
PREFIX = "%m [%p] %q%u@%d/%a "
CASES = [
    ("stderr.log", ["-f", "stderr", "-p", PREFIX]),
    ("stderr_json_plans.log", ["-f", "stderr", "-p", PREFIX]),
    ("csvlog.csv", ["-f", "csv"]),
    ("jsonlog.json", ["-f", "jsonlog"]),
]
CASES += [(f"pg18/{name}", args) for name, args in CASES]  # PostgreSQL 15 and 18

pytestmark = pytest.mark.skipif(shutil.which("pgbadger") is None, reason="pgbadger missing")


def _pgbadger(name: str, args: list[str], tmp: Path) -> dict[str, Any]:
    out = tmp / "out.json"
    subprocess.run(
        # its own pid dir: pgBadger refuses to start while another run's /tmp/pgbadger.pid exists
        [
            "pgbadger",
            "-q",
            "-j",
            "1",
            "--pid-dir",
            str(tmp),
            *args,
            "-o",
            str(out),
            str(EVENTS / name),
        ],
        check=True,
        timeout=120,
    )
    data: dict[str, Any] = json.loads(out.read_text())
    return data


@pytest.mark.parametrize(("name", "args"), CASES, ids=[c[0] for c in CASES])
def test_event_counts_agree_with_pgbadger(name: str, args: list[str], tmp_path: Path) -> None:
    pgb = _pgbadger(name, args, tmp_path)
    prefix = PREFIX if name.endswith(".log") else None
    r = analyze([EVENTS / name], AnalyzeOptions(events=frozenset(CATEGORIES)), prefix=prefix)
    e = r.events
    assert e is not None
    assert e.temp_files is not None and e.locks is not None and e.connections is not None
    assert e.checkpoints is not None and e.autovacuum is not None
    assert e.errors is not None and e.plans is not None
    # pgBadger counts each auto_explain plan as one more query; perfkit does not
    assert pgb["overall_stat"]["queries_number"] == r.summary.queries + e.plans.plans
    t = pgb["tempfile_info"]["postgres"]
    assert (t["count"], t["size"], t["maxsize"]) == (
        e.temp_files.count,
        e.temp_files.total_bytes,
        e.temp_files.max_bytes,
    )
    (mode,) = pgb["lock_info"]["postgres"]
    lk = pgb["lock_info"]["postgres"][mode]
    assert lk["count"] == e.locks.acquired
    assert lk["duration"] == pytest.approx(e.locks.acquired_wait_ms)
    assert e.locks.by_statement[0].count == lk["count"]
    (kind,) = e.locks.by_lock
    assert kind.lock.split(" ")[0] == mode and kind.lock.endswith(" on transaction")
    assert kind.acquired == lk["transaction"]["count"]
    assert kind.acquired_wait_ms == pytest.approx(lk["transaction"]["duration"])
    c = pgb["connection_info"]["postgres"]
    s = pgb["session_info"]["postgres"]
    assert c["count"] == e.connections.authorized
    assert s["count"] == e.connections.disconnections
    assert s["duration"] == pytest.approx(e.connections.total_session_s * 1000)
    users = {g.user: g.connections for g in e.connections.groups if g.connections}
    assert users == c["user"]
    cp = pgb["checkpoint_info"]
    ours = e.checkpoints
    assert cp["starting"] == dict(ours.by_reason)
    if name.startswith("pg18/"):
        # PostgreSQL 18 writes "wrote 257 buffers (1.6%), wrote 3 SLRU buffers; ...":
        # pgBadger 12 reads nothing of that line, perfkit reads all of it
        assert cp["wbuffer"] == cp["total"] == 0
        assert ours.buffers_written > 0 and ours.total_s > 0 and ours.distance_kb > 0
    else:
        assert cp["wbuffer"] == ours.buffers_written
        assert cp["total"] == pytest.approx(ours.total_s)
        assert cp["write"] == pytest.approx(ours.write_s)
        assert cp["sync"] == pytest.approx(ours.sync_s)
        assert cp["distance"] == ours.distance_kb
        assert (cp["file_added"], cp["file_removed"], cp["file_recycled"]) == (
            ours.wal_added,
            ours.wal_removed,
            ours.wal_recycled,
        )
    av = pgb["autovacuum_info"]["postgres"]
    assert av["count"] == e.autovacuum.vacuums
    tables = {t.table: t for t in e.autovacuum.tables}
    for table, info in av["tables"].items():
        assert tables[table].vacuums == info["vacuums"]
        if name.endswith(".log"):
            # pgBadger 12 reads the "tuples:" line only after a tab (stderr); in csvlog
            # and jsonlog records it reports 0 removed where PostgreSQL wrote 5003
            assert tables[table].tuples_removed == info["tuples"]["removed"]
            assert tables[table].pages_removed == info["pages"]["removed"]
    for table, info in pgb["autoanalyze_info"]["postgres"]["tables"].items():
        assert tables[table].analyzes == info["analyzes"]
    # errors: pgBadger files some LOG events (lock waits, start-up) with them; the
    # ERROR/FATAL messages it keys by their text must have perfkit's counts
    groups = {(g.severity, g.example): g.count for g in e.errors.groups}
    checked = 0
    for key, info in pgb["error_info"]["postgres"].items():
        sev, _, text = key.partition(":  ")
        if (sev, text) in groups:
            assert groups[(sev, text)] == info["count"]
            checked += 1
    assert checked >= 4
    fatal = sum(v["count"] for k, v in pgb["error_info"]["postgres"].items() if k[:6] == "FATAL:")
    assert fatal == dict(e.errors.by_severity)["FATAL"] == e.connections.auth_failures
