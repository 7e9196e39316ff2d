"""`perfkit analyze` through the CLI: exact output at width 100, formats, bad input."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import pytest

PREFIX = "%m [%p] %q%u@%d "

# A stderr log in the Debian default log_line_prefix. By construction (TTL 60 s):
# id=7 at 0.1 s miss; the lower-case spelling at 5 s is another key (simple-protocol keys
# are the exact text) -> miss; id=8 miss; the UPDATE at 10 s invalidates all three;
# id=7 at 11 s miss, at 12 s hit; the orders/users join misses; now() is volatile.
SMALL_LOG = """\
2024-05-01 12:00:00.100 UTC [101] app@shop LOG:  duration: 2.000 ms  statement: SELECT name FROM users WHERE id = 7
2024-05-01 12:00:05.000 UTC [102] app@shop LOG:  duration: 3.000 ms  statement: select name from users where id = 7
2024-05-01 12:00:06.000 UTC [101] app@shop LOG:  duration: 1.500 ms  statement: SELECT name FROM users WHERE id = 8
2024-05-01 12:00:10.000 UTC [103] app@shop LOG:  duration: 4.000 ms  statement: UPDATE users SET name = 'z' WHERE id = 7
2024-05-01 12:00:11.000 UTC [101] app@shop LOG:  duration: 2.500 ms  statement: SELECT name FROM users WHERE id = 7
2024-05-01 12:00:12.000 UTC [102] app@shop LOG:  duration: 2.000 ms  statement: SELECT name FROM users WHERE id = 7
2024-05-01 12:00:20.000 UTC [104] app@shop LOG:  duration: 750.250 ms  statement: SELECT count(*) FROM orders o JOIN users u ON u.id = o.user_id
2024-05-01 12:00:30.000 UTC [104] app@shop LOG:  duration: 0.300 ms  statement: SELECT now()
"""

EXPECTED = """\
perfkit analyze
input: small.log: stderr, prefix '%m [%p] %q%u@%d '
queries: 8 in 4 fingerprints, total 765.5 ms, 2024-05-01 12:00:00.100+00:00 .. 2024-05-01
12:00:30.000+00:00
slow (>= 500 ms): 1
skipped lines: 0

Top fingerprints by total time (3 of 4)

 id         calls   total ms   share     mean      p95   cached   query
 ──────────────────────────────────────────────────────────────────────────────────────────────────
 93e960f4       1      750.2   98.0%   750.25   750.25       0%   SELECT count(*) FROM orders o
                                                                  JOIN users u ON u.id = o.user_id
 5f5faa37       5       11.0    1.4%     2.20     3.00      20%   SELECT name FROM users WHERE id =
                                                                  $1
 42722079       1        4.0    0.5%     4.00     4.00       no   UPDATE users SET name = $1 WHERE
                                                                  id = $2


Slow queries (>= 500 ms: 1)

 time                            session      ms   statement
 ──────────────────────────────────────────────────────────────────────────────────────────────────
 2024-05-01 12:00:20.000+00:00   104       750.2   SELECT count(*) FROM orders o JOIN users u ON
                                                   u.id = o.user_id


Cache replay

 ttl   hit rate   hits   misses   saved ms   saved   invalidations   evictions
 ─────────────────────────────────────────────────────────────────────────────
 60s      16.7%      1        5        2.0    0.3%               3           0


Cache replay per fingerprint (by time saved)

 id         lookups   hit@60s   saved ms   query
 ──────────────────────────────────────────────────────────────────────────────────────────────────
 5f5faa37         5     20.0%        2.0   SELECT name FROM users WHERE id = $1
 93e960f4         1      0.0%        0.0   SELECT count(*) FROM orders o JOIN users u ON u.id =
                                           o.user_id


Not cacheable (why)

 id         calls   reason                                  query
 ──────────────────────────────────────────────────────────────────────────────────────────────────
 42722079       1   write                                   UPDATE users SET name = $1 WHERE id =
                                                            $2
 77d30c21       1   calls a volatile function               SELECT now()
                    (now/current_timestamp)


a query cache with ttl 60s would have answered 1 of 6 cacheable reads (16.7%), saving 2.0 ms (0.3%)
"""


@pytest.fixture
def small_log(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "small.log"
    path.write_text(SMALL_LOG)
    return path


def _lines(text: str) -> list[str]:
    return [line.rstrip() for line in text.rstrip("\n").split("\n")]


def test_table_output_exact(cli: Any, small_log: Path) -> None:
    r = cli("analyze", "small.log", "--top", "3", "--prefix", PREFIX)
    assert r.exit_code == 0, r.stderr
    assert _lines(r.stdout) == _lines(EXPECTED)


def test_json_output_and_ttl_sweep(cli: Any, small_log: Path) -> None:
    r = cli("analyze", "small.log", "--format", "json", "--ttl", "1,10s,1m", "--slow-ms", "3")
    assert r.exit_code == 0, r.stderr
    data = json.loads(r.stdout)
    assert data["schema_version"] == 1 and data["kind"] == "analyze"
    assert data["summary"]["queries"] == 8 and data["summary"]["fingerprints"] == 4
    assert data["summary"]["skipped_lines"] == 0
    assert [c["ttl_s"] for c in data["cache"]] == [1.0, 10.0, 60.0]
    assert [c["hits"] for c in data["cache"]] == [0, 1, 1]
    assert [q["duration_ms"] for q in data["slow"]] == [750.25, 4.0, 3.0]
    assert data["files"][0]["format"] == "stderr"


def test_csv_and_output_file(cli: Any, small_log: Path) -> None:
    r = cli("analyze", "small.log", "--format", "csv", "--output", "out.csv")
    assert r.exit_code == 0
    lines = Path("out.csv").read_text().splitlines()
    assert lines[0] == "id,calls,total_ms,share,mean_ms,p95_ms,cache,query"
    assert len(lines) == 5


def test_output_extension_picks_the_format_unless_one_is_given(cli: Any, small_log: Path) -> None:
    assert cli("analyze", "small.log", "-o", "out.json").exit_code == 0
    assert json.loads(Path("out.json").read_text())["schema_version"] == 1
    assert cli("analyze", "small.log", "-o", "out.csv").exit_code == 0
    assert Path("out.csv").read_text().startswith("id,calls,total_ms,")
    assert cli("analyze", "small.log", "-o", "out.md").exit_code == 0
    assert Path("out.md").read_text().startswith("## perfkit analyze")
    # --format wins over the extension, and so does the config's format
    assert cli("analyze", "small.log", "-f", "csv", "-o", "x.json").exit_code == 0
    assert Path("x.json").read_text().startswith("id,calls,total_ms,")
    Path("perfkit.toml").write_text('[analyze]\nformat = "markdown"\n')
    r = cli("--config", "perfkit.toml", "analyze", "small.log", "-o", "y.json")
    assert r.exit_code == 0, r.stderr
    assert Path("y.json").read_text().startswith("## perfkit analyze")
    Path("perfkit.toml").unlink()  # ./perfkit.toml is read by default
    r = cli("analyze", "small.log", "-o", "out.html")
    assert r.exit_code == 0, r.stderr
    assert Path("out.html").read_text().startswith("<!DOCTYPE html>")


def test_config_file_sets_defaults(cli: Any, small_log: Path) -> None:
    Path("perfkit.toml").write_text('[analyze]\nslow_ms = 1\nttl = "5"\n')
    r = cli("--config", "perfkit.toml", "analyze", "small.log", "--format", "json")
    assert r.exit_code == 0, r.stderr
    data = json.loads(r.stdout)
    assert data["summary"]["slow_ms"] == 1.0 and data["cache"]["ttl_s"] == 5.0


def test_cache_entries_bound(cli: Any, small_log: Path) -> None:
    r = cli("analyze", "small.log", "--format", "json", "--cache-entries", "1")
    data = json.loads(r.stdout)
    assert data["cache"]["max_entries"] == 1 and data["cache"]["hits"] == 1


def test_stdin(cli: Any, small_log: Path) -> None:
    r = cli("analyze", "-", "--format", "json", input=SMALL_LOG)
    assert r.exit_code == 0, r.stderr
    assert json.loads(r.stdout)["summary"]["queries"] == 8


def test_skipped_lines_are_counted_and_strict_makes_them_fatal(cli: Any, small_log: Path) -> None:
    lines = SMALL_LOG.splitlines(keepends=True)
    Path("noisy.log").write_text(
        "".join(lines[:3]) + "garbage that is no log line\n" + "".join(lines[3:])
    )
    r = cli("analyze", "noisy.log", "--prefix", PREFIX, "--format", "json")
    assert r.exit_code == 0
    data = json.loads(r.stdout)
    assert data["summary"]["skipped_lines"] >= 1 and data["summary"]["queries"] == 8
    r = cli("analyze", "noisy.log", "--prefix", PREFIX, "--strict")
    assert r.exit_code == 2
    assert "noisy.log:4" in r.stderr


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["missing.log"], "missing.log"),
        (["small.log", "--ttl", "0"], "--ttl"),
        (["small.log", "--ttl", "soon"], "--ttl"),
        (["small.log", "--log-format", "xml"], "--log-format"),
        (["small.log", "--prefix", "%t [%p]: [%l-1] user=%u,db=%d "], "matches none"),
        (["bad.txt"], "bad.txt:1"),
        (["cut.log.gz"], "cut.log.gz"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    cli: Any, small_log: Path, args: list[str], needle: str
) -> None:
    Path("bad.txt").write_text("hello, this is not a log\n")
    Path("cut.log.gz").write_bytes(gzip.compress(SMALL_LOG.encode() * 50)[:300])
    r = cli("analyze", *args)
    assert r.exit_code == 2
    assert needle in r.stderr
    assert "Traceback" not in r.stderr
    assert r.stdout == ""


def test_debug_shows_skipped_samples(cli: Any, small_log: Path) -> None:
    lines = SMALL_LOG.splitlines(keepends=True)
    Path("noisy.log").write_text("".join(lines[:3]) + "garbage line\n" + "".join(lines[3:]))
    quiet = cli("analyze", "noisy.log", "--prefix", PREFIX)
    # notes on stderr, never in the report
    assert "--debug shows samples" in quiet.stderr and "--debug" not in quiet.stdout
    loud = cli("--debug", "analyze", "noisy.log", "--prefix", PREFIX)
    assert "skipped noisy.log:4: garbage line" in loud.stderr
    assert "garbage line" not in loud.stdout


def test_empty_log_and_no_replay(cli: Any, small_log: Path) -> None:
    Path("empty.log").write_text("")
    data = json.loads(cli("analyze", "empty.log", "--format", "json").stdout)
    assert data["summary"]["queries"] == 0 and data["cache"] is None
    assert "no statements" in data["cache_note"]
    data = json.loads(cli("analyze", "small.log", "--no-replay", "--format", "json").stdout)
    assert data["cache"] is None and data["summary"]["queries"] == 8


def test_sql_file_has_no_timeline_so_no_replay(cli: Any, small_log: Path) -> None:
    Path("q.sql").write_text("SELECT 1;\nSELECT * FROM t WHERE a = 'x;y';\n")
    data = json.loads(cli("analyze", "q.sql", "--format", "json").stdout)
    assert data["summary"]["queries"] == 2 and data["cache"] is None
    assert data["cache_note"]
