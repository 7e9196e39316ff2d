"""analyze --jobs N: byte ranges read by worker processes give exactly the one-pass result."""

from __future__ import annotations

import itertools
import json
import multiprocessing
import os
import re
import time
from pathlib import Path
from typing import Any

import pytest

from perfkit.errors import PerfkitError
from perfkit.querylog import parallel
from perfkit.querylog.aggregate import AnalyzeOptions, analyze
from perfkit.querylog.document import to_document
from perfkit.querylog.readers import read_logs
from perfkit.report.render import render

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "tests" / "data" / "querylog"
SAMPLES = ROOT / "sample_configs" / "logs"
# every statement is "slow" (the order of equal durations is by position in the file)
# and two TTLs are swept, so the slow list, the replay and the per-fingerprint cache
# figures all take part in the comparison; TOP25 keeps only the slowest 25
ALL = AnalyzeOptions(slow_ms=0.0, slow_limit=100_000, ttls=(1.0, 60.0))
TOP25 = AnalyzeOptions(slow_ms=0.5, slow_limit=25, ttls=(1.0, 60.0))


def _json(path: Path, jobs: int, opts: AnalyzeOptions = ALL) -> str:
    return _json_of([path], jobs, opts)


def _json_of(paths: list[Path], jobs: int, opts: AnalyzeOptions = ALL) -> str:
    r = analyze(paths, opts, jobs=jobs)
    return render(to_document(r, top=0, debug=True), "json")


@pytest.fixture
def spy(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """Records whether the parallel path ran to the end, and over how many ranges."""
    seen: dict[str, Any] = {"ranges": 0, "fallback": False}
    real_run, real_plan = parallel.run, parallel.plan_chunks

    def plan(*a: Any, **kw: Any) -> Any:
        for c in real_plan(*a, **kw):
            seen["ranges"] += 1
            yield c

    def run(*a: Any, **kw: Any) -> Any:
        try:
            return real_run(*a, **kw)
        except parallel.NotSplittable:
            seen["fallback"] = True
            raise

    monkeypatch.setattr(parallel, "plan_chunks", plan)
    monkeypatch.setattr(parallel, "run", run)
    return seen


# real logs of every format read in ranges, with a range size that cuts them often
REAL = [
    (SAMPLES / "stderr.log", 2000),
    (DATA / "multiline_param.log", 500),
    (SAMPLES / "jsonlog.json", 3000),
    (SAMPLES / "csvlog.csv", 1500),
]
MORE = [
    (SAMPLES / "stderr.log", 700),
    (SAMPLES / "stderr.log", 1500),
    (SAMPLES / "cnpg.json", 2500),
    (DATA / "anonymize.log", 700),
]


def _name(v: object) -> str:
    return v.name if isinstance(v, Path) else str(v)


@pytest.mark.parametrize(("path", "chunk"), REAL + MORE, ids=_name)
def test_parallel_equals_one_pass_on_real_logs(
    path: Path, chunk: int, monkeypatch: pytest.MonkeyPatch, spy: dict[str, Any]
) -> None:
    one = _json(path, 1)
    monkeypatch.setenv(parallel.CHUNK_ENV, str(chunk))
    assert _json(path, 2) == one
    assert spy["ranges"] >= 2 and not spy["fallback"]


@pytest.mark.parametrize("compression", ["gzip", "bz2", "zstd"])
@pytest.mark.parametrize(("path", "chunk"), REAL, ids=_name)
def test_compressed_logs_are_decompressed_by_the_parent_into_ranges(
    path: Path,
    chunk: int,
    compression: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    spy: dict[str, Any],
) -> None:
    import bz2
    import gzip

    import zstandard

    data = path.read_bytes()
    packed = {
        "gzip": lambda: gzip.compress(data),
        "bz2": lambda: bz2.compress(data),
        "zstd": lambda: zstandard.ZstdCompressor().compress(data),
    }[compression]()
    log = tmp_path / (path.name + {"gzip": ".gz", "bz2": ".bz2", "zstd": ".zst"}[compression])
    log.write_bytes(packed)
    one = _json(log, 1)
    monkeypatch.setenv(parallel.CHUNK_ENV, str(chunk))
    ranges = []
    real = parallel._stream_chunks

    def stream_chunks(*a: Any, **kw: Any) -> Any:
        for c in real(*a, **kw):
            ranges.append(c)
            yield c

    monkeypatch.setattr(parallel, "_stream_chunks", stream_chunks)
    # the file names differ (the compressed one is named); everything else is equal
    assert _json(log, 2) == one
    assert len(ranges) >= 3 and not spy["fallback"]


def test_truncated_compressed_log_is_read_in_one_pass(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, spy: dict[str, Any]
) -> None:
    import gzip

    from perfkit.errors import PerfkitError

    # long enough that format detection (the first lines) ends well before the cut
    packed = gzip.compress((SAMPLES / "stderr.log").read_bytes() * 30)
    log = tmp_path / "cut.log.gz"
    log.write_bytes(packed[: len(packed) * 2 // 3])
    with pytest.raises(PerfkitError) as one:
        analyze([log], ALL, jobs=1)
    monkeypatch.setenv(parallel.CHUNK_ENV, "2000")
    with pytest.raises(PerfkitError) as two:
        analyze([log], ALL, jobs=2)
    assert str(two.value) == str(one.value) and "truncated" in str(one.value)
    assert spy["fallback"]


def test_several_inputs_each_large_one_in_ranges_equal_one_pass(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, spy: dict[str, Any]
) -> None:
    """Inputs in order, the splittable ones in ranges and the others (syslog, JSON Lines)
    in one pass, into one accumulator: warnings, skipped lines, positions and the replay
    come out as from one pass over all of them."""
    import gzip

    csv_gz = tmp_path / "csvlog.csv.gz"
    csv_gz.write_bytes(gzip.compress((SAMPLES / "csvlog.csv").read_bytes()))
    lines = (SAMPLES / "stderr.log").read_text().splitlines(keepends=True)
    for k in (7, len(lines) // 2, len(lines) - 5):
        if lines[k].startswith("\t"):
            k += 1
        lines.insert(k, f"garbage line {k}\n")
    garbage = tmp_path / "garbage.log"
    garbage.write_text("".join(lines))
    inputs = [
        SAMPLES / "stderr.log",
        SAMPLES / "syslog.log",
        csv_gz,
        garbage,
        SAMPLES / "app.jsonl",
        SAMPLES / "jsonlog.json",
    ]
    one = _json_of(inputs, 1)
    monkeypatch.setenv(parallel.CHUNK_ENV, "1500")
    assert _json_of(inputs, 2) == one
    assert spy["ranges"] >= 20 and not spy["fallback"]
    assert json.loads(one)["summary"]["skipped_lines"] == 3

    # a log_statement log among them cannot be cut: everything is read in one pass
    mixed = [SAMPLES / "stderr.log", SAMPLES / "stderr-log_statement.log"]
    monkeypatch.setenv(parallel.CHUNK_ENV, "800")
    assert _json_of(mixed, 2) == _json_of(mixed, 1)
    assert spy["fallback"]

    # stdin among the inputs: nothing is split (it could not be read a second time)
    import io
    import sys

    stdin = io.TextIOWrapper(io.BytesIO((SAMPLES / "stderr.log").read_bytes()))
    monkeypatch.setattr(sys, "stdin", stdin)
    stream = read_logs(["-", *inputs])
    assert not any(parallel.eligible(stream, 2, i) for i in range(len(inputs) + 1))


@pytest.mark.parametrize("spill", ["none", "full"])
def test_parts_come_back_whole_without_a_spill_directory(
    spill: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, spy: dict[str, Any]
) -> None:
    """Parts go through a file in /dev/shm; without one (no tmpfs, or a full one) they
    come through the pool's pipe, with the same result."""
    path = SAMPLES / "stderr.log"
    one = _json(path, 1)
    monkeypatch.setenv(parallel.CHUNK_ENV, "1500")
    # "full": a directory the workers cannot write to stands for a full tmpfs
    target = None if spill == "none" else str(tmp_path / "missing")
    monkeypatch.setattr(parallel, "_spill_dir", lambda: target)
    assert _json(path, 2) == one
    assert spy["ranges"] >= 2 and not spy["fallback"]


def test_warnings_skips_and_disorder_across_cuts_merge_like_one_pass(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, spy: dict[str, Any]
) -> None:
    # the real log's halves swapped (time goes back at the cut, and within ranges),
    # plus unparseable lines in several ranges: warnings, skipped counts and samples,
    # slow list and replay must all come out as in one pass
    lines = (SAMPLES / "stderr.log").read_text().splitlines(keepends=True)
    starts = [i for i, ln in enumerate(lines) if " LOG:  duration" in ln]
    mid = starts[len(starts) // 2]
    body = lines[mid:] + lines[:mid]
    for k in (5, len(body) // 3, 2 * len(body) // 3):
        if body[k].startswith("\t"):
            k += 1
        body.insert(k, f"garbage line {k}\n")
    log = tmp_path / "swapped.log"
    log.write_text("".join(body))
    one = _json(log, 1, TOP25)
    doc = json.loads(one)
    assert doc["summary"]["skipped_lines"] == 3
    assert any("not in time order" in w for w in doc["warnings"])
    monkeypatch.setenv(parallel.CHUNK_ENV, "1200")
    assert _json(log, 2, TOP25) == one
    assert spy["ranges"] >= 4 and not spy["fallback"]


def test_jsonlog_disorder_garbage_and_pending_statements_across_cuts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, spy: dict[str, Any]
) -> None:
    """CloudNativePG's newest-first export (real, from the corpus) with garbage lines past
    the validated head: disorder, skips and warnings merge like one pass."""
    import gzip

    corpus = DATA / "cnpg.log.gz"
    lines = gzip.decompress(corpus.read_bytes()).decode().splitlines(keepends=True)
    for k in (100, 700, 1500):  # the first lies in the head one pass validates
        lines.insert(k, "not json at all\n")
    log = tmp_path / "cnpg.json"
    log.write_text("".join(lines))
    one = _json(log, 1, TOP25)
    assert json.loads(one)["summary"]["queries"] == 326  # 74 of the 400 are the empty statement ";"
    monkeypatch.setenv(parallel.CHUNK_ENV, "4000")
    assert _json(log, 2, TOP25) == one
    assert spy["ranges"] >= 10 and not spy["fallback"]

    # log_statement records wait for their duration record: a cut between them makes
    # the parent read the file in one pass
    rec = (
        '{{"timestamp":"2024-05-01 10:00:{s:02d}.000 UTC","pid":7,"session_id":"a.7",'
        '"error_severity":"LOG","message":"{m}","user":"u","dbname":"d"}}\n'
    )
    body = []
    for i in range(40):
        body.append(rec.format(s=i, m=f"statement: SELECT {i}"))
        body.append(rec.format(s=i, m="duration: 1.500 ms"))
    pending = tmp_path / "pending.json"
    pending.write_text("".join(body))
    one = _json(pending, 1)
    assert json.loads(one)["summary"]["timed_queries"] == 40
    monkeypatch.setenv(parallel.CHUNK_ENV, "420")  # ranges of three records
    assert _json(pending, 2) == one
    assert spy["fallback"]


def _csv_record(i: int, message: str, detail: str = "") -> str:
    import csv
    import io

    row = [f"2024-05-01 10:{i // 60:02d}:{i % 60:02d}.000 UTC", "app", "shop", "7", "",
           "a.7", str(i), "", "", "", "0", "LOG", "00000", message, detail, "", "", "", "",
           "", "", "", "psql"]  # fmt: skip
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerow(row)
    return buf.getvalue()


def test_csvlog_ranges_never_start_inside_a_quoted_field(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, spy: dict[str, Any]
) -> None:
    """Multi-line statements whose lines look like csvlog records (quoted, so inside a
    field): cuts only fall where the quotes before them are balanced."""
    fake = '2024-05-01 09:00:00.000 UTC,"x",y'
    body = []
    for i in range(120):
        q = f"SELECT {i},\n{fake}\n, 'it''s \"q\"'\n{fake}" if i % 3 else f"SELECT {i}"
        body.append(_csv_record(i, f"duration: {i % 7}.250 ms  statement: {q}"))
    log = tmp_path / "multi.csv"
    log.write_text("".join(body))
    one = _json(log, 1)
    assert json.loads(one)["summary"]["queries"] == 120
    for chunk in ("200", "333", "1000"):
        monkeypatch.setenv(parallel.CHUNK_ENV, chunk)
        assert _json(log, 2) == one
    assert spy["ranges"] >= 20 and not spy["fallback"]

    # a malformed record: the range cannot be trusted, the file is read in one pass
    body.insert(60, "2024-05-01 10:01:00.000 UTC,only,five,fields,here\n")
    log.write_text("".join(body))
    one = _json(log, 1)
    assert json.loads(one)["summary"]["skipped_lines"] == 1
    monkeypatch.setenv(parallel.CHUNK_ENV, "500")
    assert _json(log, 2) == one
    assert spy["fallback"]


def test_log_statement_pairs_across_a_cut_fall_back_to_one_pass(
    monkeypatch: pytest.MonkeyPatch, spy: dict[str, Any]
) -> None:
    path = SAMPLES / "stderr-log_statement.log"
    one = _json(path, 1)
    monkeypatch.setenv(parallel.CHUNK_ENV, "800")
    assert _json(path, 2) == one
    assert spy["fallback"]


def test_cuts_are_at_entry_starts_with_right_line_numbers() -> None:
    path = SAMPLES / "stderr.log"
    prefix = read_logs([path]).prefix_of(0)
    assert prefix is not None
    data = path.read_bytes()
    for size in (1, 300, 5000):
        ranges = list(parallel.plan_chunks(str(path), prefix, 2, chunk=size))
        assert ranges[0][0] == 0 and ranges[0][2] == 1 and ranges[-1][1] == len(data)
        assert len(ranges) > 1
        for (_, e0, _), (s1, _, line1) in itertools.pairwise(ranges):
            assert e0 == s1 and data[s1 - 1 : s1] == b"\n"
            assert line1 == data[:s1].count(b"\n") + 1
            first = data[s1 : data.index(b"\n", s1)].decode()
            assert not first.startswith("\t")
            assert " LOG:  " in first or " ERROR:  " in first or " FATAL:  " in first


def test_small_or_unsuitable_inputs_stay_in_one_process(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # below the size threshold, syslog or several files: one pass
    assert not parallel.eligible(read_logs([SAMPLES / "stderr.log"]), 2)
    assert not parallel.eligible(read_logs([DATA / "csvlog.csv.gz"]), 2)
    monkeypatch.setenv(parallel.CHUNK_ENV, "1000")
    assert parallel.eligible(read_logs([SAMPLES / "stderr.log"]), 2)
    assert not parallel.eligible(read_logs([SAMPLES / "stderr.log"]), 1)
    assert parallel.eligible(read_logs([DATA / "csvlog.csv.gz"]), 2)
    assert not parallel.eligible(read_logs([SAMPLES / "syslog.log"]), 2)
    two = read_logs([SAMPLES / "syslog.log", SAMPLES / "stderr.log"])
    assert not parallel.eligible(two, 2, 0) and parallel.eligible(two, 2, 1)


def test_cli_jobs_same_json_and_worker_errors_are_one_line(
    cli: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, spy: dict[str, Any]
) -> None:
    monkeypatch.setenv(parallel.CHUNK_ENV, "1500")
    log = str(SAMPLES / "stderr.log")
    one = cli("analyze", log, "--format", "json", "--jobs", "1")
    two = cli("analyze", log, "--format", "json", "--jobs", "2")
    assert one.exit_code == two.exit_code == 0
    assert one.stdout == two.stdout
    assert spy["ranges"] >= 2

    # --strict: an unparseable line deep in the file fails inside a worker
    lines = (SAMPLES / "stderr.log").read_text().splitlines(keepends=True)
    k = 2 * len(lines) // 3
    while lines[k].startswith("\t"):
        k += 1
    bad = tmp_path / "bad.log"
    bad.write_text("".join([*lines[:k], "not a log line\n", *lines[k:]]))
    r1 = cli("analyze", str(bad), "--strict", "--jobs", "1")
    r2 = cli("analyze", str(bad), "--strict", "--jobs", "2")
    assert r1.exit_code == r2.exit_code == 2
    assert r2.stderr == r1.stderr
    assert r2.stderr == (
        f"perfkit: error: {bad}:{k + 1}: cannot parse line (--strict): 'not a log line'\n"
    )


def _die(task: Any) -> Any:
    os._exit(3)  # as the OOM killer would leave it: no reply, no exception


def _hang(task: Any) -> Any:
    time.sleep(120)


@pytest.mark.parametrize(
    ("worker", "stall", "message"),
    [
        (_die, 300.0, "a worker process died unexpectedly (out of memory?); try --jobs 1"),
        (_hang, 2.0, "a worker process sent nothing back in 2 s; try --jobs 1"),
    ],
)
def test_a_dead_or_stuck_worker_is_one_error_never_a_hang(
    monkeypatch: pytest.MonkeyPatch, worker: Any, stall: float, message: str
) -> None:
    """The workers fork from this process, so they run the patched range reader."""
    monkeypatch.setattr(parallel, "_run_chunk", worker)
    monkeypatch.setattr(parallel, "STALL_SECONDS", stall)
    monkeypatch.setenv(parallel.CHUNK_ENV, "2000")
    made: list[str | None] = []
    real_spill = parallel._spill_dir

    def spill() -> str | None:
        made.append(real_spill())
        return made[-1]

    monkeypatch.setattr(parallel, "_spill_dir", spill)
    before = {p.pid for p in multiprocessing.active_children()}
    with pytest.raises(PerfkitError, match=re.escape(message)):
        analyze([SAMPLES / "stderr.log"], ALL, jobs=2)
    # the workers are gone and the run's spill directory with them
    assert {p.pid for p in multiprocessing.active_children()} <= before
    assert made and all(d is None or not os.path.exists(d) for d in made)
