"""Mergeable partials: ``analyze --partial-out DIR`` then ``perfkit merge DIR`` gives the
report of one run over the same logs (issue 20)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest

from perfkit.errors import InputError
from perfkit.querylog.aggregate import AnalyzeOptions, analyze
from perfkit.querylog.document import to_document
from perfkit.querylog.merge import merge_partials
from perfkit.querylog.partial import read_partial
from perfkit.report.render import render

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "tests" / "data" / "querylog"
SAMPLES = ROOT / "sample_configs" / "logs"
ALL = AnalyzeOptions(slow_ms=0.0, slow_limit=100_000, ttls=(1.0, 60.0))


def _doc(result: Any) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(render(to_document(result, top=0, debug=True), "json"))
    return doc


LOGS = [
    SAMPLES / "stderr.log",
    SAMPLES / "stderr-log_statement.log",
    SAMPLES / "csvlog.csv",
    SAMPLES / "jsonlog.json",
    SAMPLES / "cnpg.json",
    SAMPLES / "syslog.log",
    SAMPLES / "app.jsonl",
    DATA / "multiline_param.log",
    DATA / "csvlog.csv.gz",
    DATA / "jsonlog.json.zst",
]


@pytest.mark.parametrize("per_partial", [250_000, 7])
@pytest.mark.parametrize("log", LOGS, ids=lambda p: p.name)
def test_a_partial_merges_to_the_report_of_the_run(
    log: Path, per_partial: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With 7 statements a partial, an input becomes many ranges (as a large log does)."""
    from perfkit.querylog import aggregate

    monkeypatch.setattr(aggregate, "PARTIAL_STATEMENTS", per_partial)
    one = _doc(analyze([log], ALL))
    written = _doc(analyze([log], ALL, partial_out=tmp_path / "p"))
    assert written == one  # writing partials does not change the run's own report
    assert _doc(merge_partials([tmp_path / "p"], options=ALL)) == one


def _split(log: Path, parts: int, out: Path) -> list[Path]:
    """Cut a stderr log into ``parts`` files at lines that start a record."""
    lines = log.read_text().splitlines(keepends=True)
    starts = [i for i, ln in enumerate(lines) if ln[:2] == "20"]
    cuts = [starts[len(starts) * k // parts] for k in range(1, parts)]
    files = []
    for k, (lo, hi) in enumerate(zip([0, *cuts], [*cuts, len(lines)], strict=True)):
        f = out / f"part{k}.log"
        f.write_text("".join(lines[lo:hi]))
        files.append(f)
    return files


def test_partials_of_several_runs_merge_to_one_run_and_windows_select(tmp_path: Path) -> None:
    import subprocess
    import sys

    gen = tmp_path / "gen.log"  # 20 minutes of a seeded workload, in time order
    subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "gen_stderr_log.py"), str(gen), "20"],
        check=True,
        timeout=120,
    )
    gen.write_text("".join(sorted(gen.read_text().splitlines(keepends=True))))
    files = _split(gen, 3, tmp_path)
    prefix = "%m [%p] %q%u@%d "
    for f in files:  # one run per file, as an hourly job would
        analyze([f], ALL, prefix=prefix, partial_out=tmp_path / "p", server="db1")
    one = _doc(analyze(files, ALL, prefix=prefix))
    merged = _doc(merge_partials([tmp_path / "p"], options=ALL))
    assert merged == one
    # a window starting at the second file's first statement is the run over files 2 and 3
    parts = sorted((tmp_path / "p").iterdir())
    second = read_partial(parts[1])[1].first
    assert second is not None
    later = _doc(analyze(files[1:], ALL, prefix=prefix))
    window = _doc(merge_partials([tmp_path / "p"], options=ALL, since=second))
    assert window == later
    # an edge inside a partial takes it whole, and says so
    inside = _doc(merge_partials(parts, options=ALL, since=second + dt.timedelta(seconds=1)))
    assert inside["summary"] == later["summary"]
    assert any("spans an edge of the window" in w for w in inside["warnings"])


def test_bad_partials_are_one_line_each(tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    (tmp_path / "text.partial.parquet").write_text("hello")
    with pytest.raises(InputError, match=r"text\.partial\.parquet: not a perfkit partial"):
        merge_partials([tmp_path / "text.partial.parquet"])
    pq.write_table(pa.table({"a": [1]}), tmp_path / "other.parquet")
    with pytest.raises(InputError, match=r"other\.parquet: a Parquet file, but not a perfkit"):
        merge_partials([tmp_path / "other.parquet"])
    with pytest.raises(InputError, match=r"empty: no \*\.partial\.parquet files"):
        (tmp_path / "empty").mkdir()
        merge_partials([tmp_path / "empty"])
    # a partial of another schema version names both
    analyze([SAMPLES / "stderr.log"], ALL, partial_out=tmp_path / "p")
    (good,) = (tmp_path / "p").iterdir()
    table = pq.read_table(good)
    meta = json.loads(table.schema.metadata[b"perfkit.partial"])
    meta["schema"] = 99
    pq.write_table(
        table.replace_schema_metadata({b"perfkit.partial": json.dumps(meta).encode()}),
        tmp_path / "future.partial.parquet",
    )
    with pytest.raises(InputError, match="partial schema 99; this perfkit reads schema 1"):
        merge_partials([tmp_path / "future.partial.parquet"])


def test_cli_merge_and_its_errors(cli: Any, tmp_path: Path) -> None:
    log = str(SAMPLES / "stderr.log")
    out = tmp_path / "p"
    r = cli("analyze", log, "--partial-out", str(out), "--server", "a", "-f", "json", "-q")
    assert r.exit_code == 0, r.output
    one = cli("analyze", log, "-f", "json", "-q")
    merged = cli("merge", str(out), "-f", "json", "-q")
    assert merged.exit_code == 0
    strip = ("generated_at", "elapsed_s")
    a, b = json.loads(one.stdout), json.loads(merged.stdout)
    assert {k: v for k, v in a.items() if k not in strip} == {
        k: v for k, v in b.items() if k not in strip
    }
    cli("analyze", log, "--partial-out", str(out / "b"), "--server", "b", "-q")
    r = cli("merge", str(out), str(out / "b"), "-q")
    assert r.exit_code == 2
    assert "partials of 2 servers (a, b): the cache replay is per server" in r.stderr
    assert cli("merge", str(out), str(out / "b"), "--server", "b", "-q").exit_code == 0
    r = cli("merge", str(tmp_path / "nope"), "-q")
    assert (r.exit_code, r.stderr.count("\n")) == (2, 1)
    r = cli("merge", str(out), "--from", "yesterday")
    assert r.exit_code == 2 and "--from: 'yesterday' is not a time" in r.stderr
    r = cli("analyze", str(SAMPLES / "pg_stat_statements.csv"), "--partial-out", str(out))
    assert r.exit_code == 2 and "pg_stat_statements export" in r.stderr
    r = cli("analyze", log, "--server", "x")
    assert r.exit_code == 2 and "--server" in r.stderr
