"""Each check type through the gate, on real inputs: coldstart, analyze, batch,
suggest-indexes and pool (command and explain are in test_check.py)."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Any


def write_config(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "perfkit.toml"
    path.write_text(textwrap.dedent(body), encoding="utf-8")
    return path


def metrics_of(stdout: str, check: str) -> dict[str, Any]:
    payload = json.loads(stdout)
    for c in payload["checks"]:
        if c["name"] == check:
            return {m["name"]: m for m in c["metrics"]}
    raise AssertionError(f"no check {check}")


def run(cli: Any, cfg: Path, *args: str) -> Any:
    return cli("--config", str(cfg), "check", "--format", "json", *args)


def test_coldstart_counts_modules_and_times_a_named_one(cli: Any, tmp_path: Path) -> None:
    (tmp_path / "svc.py").write_text("import json\n\ndef handler(event, context):\n    return 1\n")
    cfg = write_config(
        tmp_path,
        """
        [check.cold]
        type = "coldstart"
        target = "svc:handler"
        runs = 3
        modules = ["json"]
        limits.modules = { max_increase = "0%" }
        """,
    )
    base = tmp_path / "base.json"
    r = run(cli, cfg, "--save-baseline", str(base))
    assert r.exit_code == 0, r.stderr
    m = metrics_of(r.stdout, "cold")
    assert set(m) == {"import_time", "wall", "cpu", "modules", "first_call", "module:json"}
    assert len(m["import_time"]["current"]["samples"]) == 3
    assert len(m["cpu"]["current"]["samples"]) == 3 and m["cpu"]["current"]["median"] > 0
    assert m["module:json"]["current"]["median"] > 0
    before = m["modules"]["current"]["median"]

    # the handler now imports a module more at import time: an exact, deterministic regression
    (tmp_path / "svc.py").write_text(
        "import json\nimport csv\n\ndef handler(event, context):\n    return 1\n"
    )
    r = run(cli, cfg, "--baseline", str(base))
    assert r.exit_code == 1
    m = metrics_of(r.stdout, "cold")
    assert m["modules"]["status"] == "regression"
    assert m["modules"]["current"]["median"] > before


def test_coldstart_of_a_broken_module_is_exit_2(cli: Any, tmp_path: Path) -> None:
    (tmp_path / "svc.py").write_text("raise RuntimeError('no config')\n")
    cfg = write_config(tmp_path, '[check.cold]\ntype = "coldstart"\ntarget = "svc"\nruns = 2\n')
    r = cli("--config", str(cfg), "check")
    assert r.exit_code == 2
    assert r.stderr.strip().splitlines()[-1] == (
        "perfkit: error: 1 of 1 check(s) could not run (cold)"
    )
    assert "cold: could not run: " in r.stdout
    assert "no config" in r.stdout


def _log(path: Path, lookups: int) -> None:
    """A stderr log of one request: one list query, then ``lookups`` single-row lookups."""
    lines = []
    for i in range(lookups + 1):
        sec = 10 + i // 100
        ms = i % 100
        sql = (
            "SELECT id, name FROM users ORDER BY id LIMIT 50"
            if i == 0
            else f"SELECT * FROM orders WHERE user_id = {i}"
        )
        lines.append(
            f"2026-11-25 02:15:{sec:02d}.{ms:03d} UTC [4242] app@shop LOG:  "
            f"duration: {0.5 + (i % 7) / 10:.3f} ms  statement: {sql}"
        )
    path.write_text("\n".join(lines) + "\n")


def test_analyze_catches_an_n_plus_one(cli: Any, tmp_path: Path) -> None:
    log = tmp_path / "pg.log"
    _log(log, 10)
    cfg = write_config(
        tmp_path,
        """
        [check.orders-query]
        type = "analyze"
        log = "pg.log"
        query = "SELECT * FROM orders WHERE user_id = 1"
        limits.total_time = { max_increase = "50%" }
        limits.p95 = { max = "10ms" }
        """,
    )
    base = tmp_path / "base.json"
    r = run(cli, cfg, "--save-baseline", str(base))
    assert r.exit_code == 0, r.stderr
    m = metrics_of(r.stdout, "orders-query")
    assert m["calls"]["current"]["median"] == 10
    assert m["p95"]["current"]["median"] < 0.01

    _log(log, 40)  # the same request now makes 40 lookups
    r = run(cli, cfg, "--baseline", str(base))
    assert r.exit_code == 1
    m = metrics_of(r.stdout, "orders-query")
    assert m["calls"]["status"] == "regression"
    assert m["calls"]["note"] == "compared exactly"
    assert m["total_time"]["status"] == "regression"
    assert m["p95"]["status"] == "pass"


def _messages(path: Path, n: int) -> None:
    rows = []
    for i in range(n):
        rows.append(
            {
                "messageId": f"m-{i:04d}",
                "body": json.dumps({"order_id": i}),
                "attributes": {
                    "ApproximateReceiveCount": "1",
                    "SentTimestamp": "1732500000000",  # a backlog: all queued at once
                },
            }
        )
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))


def test_batch_simulation_is_deterministic_and_gates_throughput(cli: Any, tmp_path: Path) -> None:
    _messages(tmp_path / "queue.jsonl", 200)
    body = """
        [check.orders]
        type = "batch"
        input = "queue.jsonl"
        batch_size = 10
        concurrency = {concurrency}
        latency_ms = "const:20"
        limits.throughput = {{ max_decrease = "10%" }}
        """
    cfg = write_config(tmp_path, body.format(concurrency=4))
    base = tmp_path / "base.json"
    r = run(cli, cfg, "--save-baseline", str(base))
    assert r.exit_code == 0, r.stderr
    first = metrics_of(r.stdout, "orders")
    assert first["dlq"]["current"]["median"] == 0
    r = run(cli, cfg, "--baseline", str(base))
    assert r.exit_code == 0
    again = metrics_of(r.stdout, "orders")
    assert again["throughput"]["current"] == first["throughput"]["current"]
    assert again["p95"]["current"] == first["p95"]["current"]

    write_config(tmp_path, body.format(concurrency=1))  # a config change halves the throughput
    r = run(cli, cfg, "--baseline", str(base))
    assert r.exit_code == 1
    m = metrics_of(r.stdout, "orders")
    assert m["throughput"]["status"] == "regression"
    assert "under -10%" in m["throughput"]["note"]
    warnings = json.loads(r.stdout)["warnings"]
    assert (
        "check orders is defined differently than when the baseline was taken; compared anyway"
        in warnings
    )


def test_suggest_indexes_fails_on_a_new_missing_index(
    cli: Any, tmp_path: Path, scratch_db: str
) -> None:
    import psycopg

    with psycopg.connect(scratch_db, autocommit=True) as conn:
        conn.execute("CREATE TABLE events (id int, account int, kind text, payload text)")
        conn.execute(
            "INSERT INTO events SELECT g, g % 1000, 'k' || (g % 50), repeat('x', 50) "
            "FROM generate_series(1, 30000) g"
        )
        conn.execute("CREATE INDEX events_account ON events (account)")
        conn.execute("ANALYZE events")
    cfg = write_config(
        tmp_path,
        """
        [check.idx]
        type = "suggest-indexes"
        queries = ["SELECT * FROM events WHERE account = 7"]
        trial = true   # the test server has no HypoPG; trial indexes are rolled back
        """,
    )
    base = tmp_path / "base.json"
    r = run(cli, cfg, "--dsn", scratch_db, "--save-baseline", str(base))
    assert r.exit_code == 0, r.stderr
    assert metrics_of(r.stdout, "idx")["missing_indexes"]["current"]["median"] == 0

    with psycopg.connect(scratch_db, autocommit=True) as conn:
        conn.execute("DROP INDEX events_account")
    r = run(cli, cfg, "--dsn", scratch_db, "--baseline", str(base))
    assert r.exit_code == 1, r.stdout
    m = metrics_of(r.stdout, "idx")
    assert m["missing_indexes"]["status"] == "regression"
    assert m["index:events(account)"]["status"] == "regression"
    assert m["index:events(account)"]["note"] == "new since the baseline"


def test_pool_latency_metrics(cli: Any, tmp_path: Path, scratch_db: str) -> None:
    cfg = write_config(
        tmp_path,
        """
        [check.pool]
        type = "pool"
        clients = [2]
        requests = 30
        repeats = 2
        limits.pooled_c2 = { max = "5s" }
        """,
    )
    r = run(cli, cfg, "--dsn", scratch_db)
    assert r.exit_code == 0, r.stderr
    m = metrics_of(r.stdout, "pool")
    assert set(m) == {"fresh_c2", "pooled_c2"}
    assert len(m["pooled_c2"]["current"]["samples"]) == 2
    # a fresh connection per request costs more than a pooled one
    assert m["fresh_c2"]["current"]["median"] > m["pooled_c2"]["current"]["median"]


def test_terminal_table_at_width_100(cli: Any, tmp_path: Path, monkeypatch: Any) -> None:
    monkeypatch.chdir(tmp_path)
    _log(tmp_path / "pg.log", 10)
    cfg = write_config(
        tmp_path,
        """
        [check.orders-query]
        type = "analyze"
        log = "pg.log"
        query = "SELECT * FROM orders WHERE user_id = 1"
        limits.total_time = { max_increase = "50%" }
        limits.p95 = { max = "10ms" }
        """,
    )
    assert cli("--config", str(cfg), "check", "--save-baseline", "base.json").exit_code == 0
    data = json.loads((tmp_path / "base.json").read_text())
    data["created"] = "2026-01-01T00:00:00+00:00"
    (tmp_path / "base.json").write_text(json.dumps(data))
    _log(tmp_path / "pg.log", 40)
    r = cli("--config", str(cfg), "check", "--baseline", "base.json")
    assert r.exit_code == 1
    assert r.stdout == EXPECTED_TABLE
    assert r.stderr == (
        "perfkit: error: 2 regression(s) in 4 metric(s): orders-query.calls, "
        "orders-query.total_time\n"
    )


EXPECTED_TABLE = (
    "perfkit check\n"
    "baseline base.json, taken 2026-01-01T00:00:00+00:00\n"
    "a timing fails when over its limit and slower with p < 0.05 (one-sided Mann-Whitney U); 3 retries\n"
    "orders-query.calls: regression, 10 -> 40 (+300.0%), compared exactly\n"
    "orders-query.total_time: regression, 7.7 ms -> 32.0 ms (+315.6%), over +50%\n"
    "\n"
    "                                                                                      \n"
    " Metric                        Baseline   Current    Change   Limit        Status     \n"
    " ──────────────────────────────────────────────────────────────────────────────────── \n"
    " orders-query.calls                  10        40   +300.0%   exact        regression \n"
    " orders-query.total_time         7.7 ms   32.0 ms   +315.6%   +50%         regression \n"
    " orders-query.p95                1.1 ms    1.1 ms     +0.0%   <= 10.0 ms   pass       \n"
    " orders-query.cache_hit_rate       0.0%      0.0%     +0.0%   exact        pass       \n"
    "                                                                                      \n"
    "\n"
    "2 regression(s) in 4 metric(s): orders-query.calls, orders-query.total_time\n"
)


def test_command_counts_instructions_under_callgrind(cli: Any, tmp_path: Path) -> None:
    import shutil

    import pytest

    if shutil.which("valgrind") is None:
        pytest.skip("valgrind not installed")
    cfg = write_config(
        tmp_path,
        """
        [check.t]
        type = "command"
        run = "true"
        runs = 2
        warmup = 0
        instructions = "callgrind"
        limits.instructions = { max_increase = "5%" }
        """,
    )
    r = run(cli, cfg)
    assert r.exit_code == 0, r.stderr
    counts = metrics_of(r.stdout, "t")["instructions"]
    assert counts["unit"] == "count"
    assert len(counts["current"]["samples"]) == 2
    assert all(n > 1000 for n in counts["current"]["samples"])
    first, second = counts["current"]["samples"]
    assert abs(first - second) <= 0.01 * first  # a count, not a timing: load moves nothing


def test_coldstart_counts_instructions_under_callgrind(cli: Any, tmp_path: Path) -> None:
    import shutil

    import pytest

    if shutil.which("valgrind") is None:
        pytest.skip("valgrind not installed")
    (tmp_path / "svc.py").write_text("import json\n")
    cfg = write_config(
        tmp_path,
        """
        [check.cold]
        type = "coldstart"
        target = "svc"
        runs = 2
        warmup = false
        instructions = "callgrind"
        limits.instructions = { max_increase = "1%" }
        """,
    )
    r = run(cli, cfg)
    assert r.exit_code == 0, r.stdout + r.stderr
    counts = metrics_of(r.stdout, "cold")["instructions"]
    assert counts["unit"] == "count"
    first, second = counts["current"]["samples"]
    # the interpreter's start and json's import: tens of millions, the same in both runs
    # (PYTHONHASHSEED fixed for the counted run) whatever the machine's load
    assert first > 10_000_000
    assert abs(first - second) <= 0.01 * first
    cfg.write_text(cfg.read_text().replace('"callgrind"', '"papi"'))
    r = run(cli, cfg)
    assert r.exit_code == 2
    assert "[check.cold] instructions: must be one of auto, perf, callgrind, off" in r.stderr


def test_instructions_by_perf_where_it_counts_nothing_is_exit_2(cli: Any, tmp_path: Path) -> None:
    import pytest

    from perfkit.check.counters import perf_available

    if perf_available():
        pytest.skip("perf counts instructions on this machine")
    cfg = write_config(
        tmp_path, '[check.t]\ntype = "command"\nrun = "true"\nruns = 2\ninstructions = "perf"\n'
    )
    r = run(cli, cfg)
    assert r.exit_code == 2
    assert "counts nothing on this machine" in json.loads(r.stdout)["checks"][0]["error"]
    # auto: the metric is simply not there
    cfg.write_text('[check.t]\ntype = "command"\nrun = "true"\nruns = 2\n')
    r = run(cli, cfg)
    assert r.exit_code == 0
    assert set(metrics_of(r.stdout, "t")) == {"wall", "cpu"}


def test_instructions_key_is_validated(cli: Any, tmp_path: Path) -> None:
    cfg = write_config(
        tmp_path, '[check.t]\ntype = "command"\nrun = "true"\ninstructions = "papi"\n'
    )
    r = run(cli, cfg)
    assert r.exit_code == 2
    assert "[check.t] instructions: must be one of auto, perf, callgrind, off" in r.stderr
