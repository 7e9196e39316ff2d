"""No silent wrong result (issue 13): an input that gives nothing usable, impossible
durations, records over the cap and memory on hostile inputs (/dev/zero, a file without
a newline, a decompression bomb) are errors naming the file, never an empty report."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
import zlib
from pathlib import Path
from typing import Any

import pytest

from perfkit.errors import InputError
from perfkit.querylog.aggregate import analyze
from perfkit.querylog.readers import read_logs
from perfkit.querylog.readers.limits import MAX_RECORD_BYTES

SAMPLES = Path(__file__).parent.parent / "sample_configs" / "logs"
STDERR = "2024-05-01 12:00:00.100 UTC [101] app@shop LOG:  duration: {d} ms  statement: SELECT 1\n"


def write(tmp_path: Path, name: str, text: str) -> Path:
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


def read_all(path: Path, **kw: Any) -> list[Any]:
    return list(read_logs([path], **kw))


# -- nothing usable ----------------------------------------------------------------------
def test_forced_csvlog_on_a_stderr_log_names_file_format_and_line(tmp_path: Path, cli: Any) -> None:
    p = write(tmp_path, "stderr.log", STDERR.format(d="1.0") * 3)
    r = cli("analyze", "--log-format", "csvlog", str(p))
    assert r.exit_code == 2
    out = r.output
    assert f"{p}:1:" in out and "nothing usable was read as csvlog" in out
    assert "duration: 1.0 ms" in out  # the first bad line
    assert "Traceback" not in out


def test_json_lines_with_wrongly_typed_durations_are_refused(tmp_path: Path) -> None:
    p = write(tmp_path, "app.jsonl", '{"query": "SELECT 1", "duration_ms": "fast"}\n' * 3)
    with pytest.raises(InputError, match=r"app.jsonl:1: nothing usable was read as jsonl.*"):
        read_all(p)


def test_pgss_json_without_calls_is_refused(tmp_path: Path) -> None:
    rows = [{"query": "SELECT 1", "total_exec_time": 3.0}, {"query": "SELECT 2"}]
    p = write(tmp_path, "pgss.json", json.dumps(rows, indent=2))
    with pytest.raises(InputError, match=r"nothing usable was read as pgss-json.*calls"):
        read_all(p)


def test_gzip_of_random_bytes_is_refused(tmp_path: Path, cli: Any) -> None:
    p = tmp_path / "random.log.gz"
    p.write_bytes(gzip.compress(os.urandom(200_000)))
    r = cli("analyze", str(p))
    assert r.exit_code == 2 and str(p) in r.output


def test_a_log_with_no_statement_says_what_it_found(tmp_path: Path) -> None:
    text = "2024-05-01 12:00:00.100 UTC [101] LOG:  checkpoint starting: time\n" * 4
    text += '2024-05-01 12:00:01.100 UTC [102] LOG:  automatic vacuum of table "d.public.t"\n'
    p = write(tmp_path, "quiet.log", text)
    with pytest.raises(
        InputError,
        match=r"quiet.log:1: nothing usable .* none is an executed statement .* "
        r"found instead, in the first 5 lines: 4 checkpoint, 1 autovacuum",
    ):
        read_all(p)


def test_an_empty_input_is_not_an_error(tmp_path: Path) -> None:
    p = write(tmp_path, "empty.log", "\n\n")
    stream = read_logs([p])
    assert list(stream) == [] and any("empty input" in w for w in stream.warnings)


def test_one_unusable_input_among_good_ones_is_refused(tmp_path: Path) -> None:
    good = write(tmp_path, "good.log", STDERR.format(d="1.0"))
    bad = write(tmp_path, "bad.jsonl", '{"query": "SELECT 1", "duration_ms": [1]}\n')
    with pytest.raises(InputError, match=r"bad\.jsonl"):
        analyze([good, bad])


# -- impossible durations -----------------------------------------------------------------
@pytest.mark.parametrize("value", ["-2.0", "nan", "inf", "1e400"])
def test_impossible_stderr_durations_are_bad_input_with_their_line(
    tmp_path: Path, value: str
) -> None:
    p = write(tmp_path, "d.log", STDERR.format(d="1.5") + STDERR.format(d=value))
    with pytest.raises(InputError, match=r"d.log:2: impossible duration"):
        read_all(p)


@pytest.mark.parametrize("value", ["-1", "NaN", "Infinity"])
def test_impossible_jsonl_and_pgss_durations_are_bad_input(tmp_path: Path, value: str) -> None:
    p = write(tmp_path, "a.jsonl", f'{{"query": "SELECT 1", "duration_ms": {value}}}\n')
    with pytest.raises(InputError, match=r"a.jsonl:1: impossible duration"):
        read_all(p)
    row = f'{{"query": "SELECT 1", "calls": 2, "total_exec_time": {value}}}\n'
    q = write(tmp_path, "pgss.json", row)
    with pytest.raises(InputError, match=r"pgss.json:1: impossible duration"):
        read_all(q)


def test_impossible_durations_in_csvlog_and_jsonlog(tmp_path: Path) -> None:
    rec = {
        "timestamp": "2024-05-01 12:00:00.100 UTC",
        "pid": 1,
        "session_id": "a.1",
        "error_severity": "LOG",
        "message": "duration: -3.5 ms  statement: SELECT 1",
    }
    p = write(tmp_path, "j.json", json.dumps(rec) + "\n")
    with pytest.raises(InputError, match=r"j.json:1: impossible duration '-3.5'"):
        read_all(p)
    fields = ["2024-05-01 12:00:00.100 UTC", "u", "d", "1", "", "a.1"] + [""] * 5
    fields += ["LOG", "00000", "duration: nan ms  statement: SELECT 1"] + [""] * 9
    q = write(tmp_path, "c.csv", ",".join(fields) + "\n")
    with pytest.raises(InputError, match=r"c.csv:1: impossible duration 'nan'"):
        read_all(q)


def test_impossible_duration_is_refused_with_jobs_too(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from perfkit.querylog import parallel

    lines = [STDERR.format(d="1.0")] * 3000 + [STDERR.format(d="-1.0")]
    p = write(tmp_path, "big.log", "".join(lines))
    monkeypatch.setenv(parallel.CHUNK_ENV, "20000")
    for jobs in (1, 2):
        with pytest.raises(InputError, match=r"big.log:3001: impossible duration"):
            analyze([p], jobs=jobs, prefix="%m [%p] %q%u@%d ")


# -- records over the cap, bounded memory ------------------------------------------------
def test_a_line_over_the_cap_is_an_error_with_its_position(tmp_path: Path) -> None:
    head = STDERR.format(d="1.0") * 2
    p = tmp_path / "long.log"
    p.write_bytes(head.encode() + b"x" * (MAX_RECORD_BYTES + 10) + b"\n")
    with pytest.raises(
        InputError, match=rf"long.log: a line longer than 10 MB .* byte {len(head)}"
    ):
        read_all(p)


def test_a_line_of_exactly_the_cap_is_read(tmp_path: Path) -> None:
    from perfkit.querylog.readers._source import Source

    p = tmp_path / "edge.log.gz"
    long = b"x" * MAX_RECORD_BYTES
    p.write_bytes(gzip.compress(b"a\n" + long + b"\r\nb\n" + long + b"\n", compresslevel=1))
    src = Source(p)
    try:
        sizes = [len(line) for line in src.text]
    finally:
        src.close()
    assert sizes == [2, MAX_RECORD_BYTES + 2, 2, MAX_RECORD_BYTES + 1]


_LIMITED = """
import resource, sys
limit = int(sys.argv[1])
resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
from perfkit.cli import main
sys.argv = ["perfkit", "analyze", *sys.argv[2:]]
main()
"""


def _limited(tmp_path: Path, *args: str, mb: int = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", _LIMITED, str(mb << 20), *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="needs /dev/zero")
def test_dev_zero_fails_fast_in_small_memory(tmp_path: Path) -> None:
    r = _limited(tmp_path, "/dev/zero")
    assert r.returncode == 2, r.stderr
    assert "/dev/zero: a line longer than 10 MB" in r.stderr
    assert "Traceback" not in r.stderr


def test_a_file_without_newline_and_a_gzip_bomb_fail_in_small_memory(tmp_path: Path) -> None:
    flat = tmp_path / "flat.txt"
    flat.write_bytes(b"y" * (40 << 20))
    # 256 MB of one byte in one gzip member (~250 kB): decompressing a 1 MB read at once
    # would need more memory than the limit
    comp = zlib.compressobj(1, zlib.DEFLATED, 31)
    block = b"z" * (1 << 20)
    bomb = tmp_path / "bomb.log.gz"
    with bomb.open("wb") as f:
        for _ in range(256):
            f.write(comp.compress(block))
        f.write(comp.flush())
    for path in (flat, bomb):
        r = _limited(tmp_path, str(path))
        assert r.returncode == 2, r.stderr
        assert f"{path}: a line longer than 10 MB" in r.stderr


def test_nothing_usable_is_refused_with_jobs_too(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from perfkit.querylog import parallel

    line = "2024-05-01 12:00:00.100 UTC [101] app@shop LOG:  checkpoint starting: time\n"
    p = write(tmp_path, "quiet.log", line * 3000)
    monkeypatch.setenv(parallel.CHUNK_ENV, "20000")
    for jobs in (1, 2):
        with pytest.raises(InputError, match=r"quiet.log:1: nothing usable was read as stderr"):
            analyze([p], jobs=jobs)


def test_a_json_item_over_the_cap_is_an_error_with_its_line(tmp_path: Path) -> None:
    # a pretty-printed pg_stat_statements array whose second row never ends
    p = tmp_path / "pgss.json"
    row = '  {"query": "SELECT 1", "calls": 1, "total_exec_time": 1.0},\n'
    filler = '    "x": "' + "y" * 1000 + '",\n'
    with p.open("w") as f:
        f.write("[\n" + row + '  {"query": "SELECT 2",\n')
        for _ in range(MAX_RECORD_BYTES // len(filler) + 10):
            f.write(filler)
    with pytest.raises(InputError, match=r"pgss.json:3: a JSON item longer than 10 MB"):
        read_all(p)


def test_text_starting_with_a_bracket_is_no_json(tmp_path: Path) -> None:
    p = write(tmp_path, "app.log", "[2024-03-05 09:00:00] INFO started\n" * 5)
    with pytest.raises(InputError, match=r"app.log:1: matches no supported log format"):
        read_all(p)


@pytest.mark.parametrize("indent", [None, 2])
def test_pgss_json_under_any_key_is_read(tmp_path: Path, indent: int | None) -> None:
    rows = [
        {"query": "SELECT 1", "calls": 3, "total_exec_time": 2.5},
        {"query": "SELECT 2", "calls": 1, "total_exec_time": 1.0},
    ]
    p = write(tmp_path, "pgss.json", json.dumps({"pg_stat_statements": rows}, indent=indent))
    evs = read_all(p)
    assert [(e.query, e.calls, e.duration_ms) for e in evs] == [
        ("SELECT 1", 3, 2.5),
        ("SELECT 2", 1, 1.0),
    ]


def test_empty_statements_are_never_counted(tmp_path: Path) -> None:
    pre = "2024-05-01 12:00:00.100 UTC [101] a@b LOG:  "
    lines = [
        "duration: 0.027 ms  statement: ",  # RDS connection probe
        "duration: 0.030 ms  statement: ;",  # CloudNativePG's probe
        "duration: 0.010 ms  execute <unnamed>: ",  # JDBC isValid()
        "statement:  ; ",
        "duration: 1.000 ms  statement: SELECT 1",
    ]
    p = write(tmp_path, "probes.log", "".join(pre + ln + "\n" for ln in lines))
    assert [(e.query, e.duration_ms) for e in read_all(p)] == [("SELECT 1", 1.0)]


HOSTILE = {
    "deep.json": '{"a":' + "[" * 100_000 + "]" * 100_000 + "}\n",
    "deep-array.json": "[" * 100_000 + "]" * 100_000 + "\n",
    "deep-jsonlog.json": '{"error_severity": "LOG", "message": "x"}\n'
    + '{"a":'
    + "[" * 100_000
    + "]" * 100_000
    + "}\n",
    "odd-types.json": '{"log": 5, "stream": "stderr"}\n{"events": "x"}\n',
    "truncated-array.json": '[\n  {"query": "SELECT 1", "calls": 1,\n',
    "nul.log": "\x00" * 5000 + "\n",
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_inputs_are_input_errors_never_crashes(tmp_path: Path, name: str) -> None:
    p = write(tmp_path, name, HOSTILE[name])
    with pytest.raises(InputError, match=name.replace(".", r"\.")):
        read_all(p)


@pytest.mark.parametrize(
    "record",
    [
        {"error_severity": ["LOG"], "message": "duration: 1.0 ms  statement: SELECT 1"},
        {"error_severity": "LOG", "pid": 1e400, "message": "duration: 1.0 ms  statement: SELECT 1"},
    ],
)
def test_jsonlog_fields_of_the_wrong_type_do_not_crash(
    tmp_path: Path, record: dict[str, Any]
) -> None:
    good = {"error_severity": "LOG", "user": 5, "remote_host": ["h"], "session_id": 7}
    good["message"] = "duration: 2.0 ms  statement: SELECT 2"
    p = write(tmp_path, "j.json", json.dumps(record) + "\n" + json.dumps(good) + "\n")
    evs = read_all(p)
    assert [e.query for e in evs][-1] == "SELECT 2"
    assert (evs[-1].user, evs[-1].client, evs[-1].session) == ("5", None, "7")


def test_azure_records_without_properties_are_ignored(tmp_path: Path) -> None:
    msg = "2024-03-05 09:00:00.123 UTC [1] [user=u,db=d,app=a] LOG:  duration: 1.0 ms  statement: SELECT 1"
    good = {"category": "PostgreSQLLogs", "properties": {"message": msg}}
    p = write(tmp_path, "a.json", "\n".join(json.dumps(r) for r in (good, good, {"category": "x"})))
    assert [e.query for e in read_all(p)] == ["SELECT 1", "SELECT 1"]
