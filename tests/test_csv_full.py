"""CSV is for machines: whole query texts and whole fingerprint ids; tables cut for people."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

from perfkit.report.model import Clipped, Column, Document, Table, joined, short_id
from perfkit.report.render import render, render_csv


def _long_query(n_cols: int) -> str:
    cols = ", ".join(f"column_number_{i}" for i in range(n_cols))
    return f"SELECT {cols} FROM a_table_with_a_long_name WHERE id = 1"


def _log(tmp_path: Path, query: str) -> Path:
    line = "2024-05-01 10:00:00.000 UTC [42] LOG:  duration: 12.5 ms  statement: {q}\n"
    path = tmp_path / "long.log"
    path.write_text("".join(line.format(q=query) for _ in range(3)), encoding="utf-8")
    return path


def _rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def test_analyze_csv_has_whole_query_and_id(cli: Any, tmp_path: Path) -> None:
    query = _long_query(20)
    assert len(query) > 300
    log = _log(tmp_path, query)
    as_json = json.loads(cli("analyze", str(log), "--format", "json").stdout)
    fingerprint = as_json["fingerprints"][0]
    rows = _rows(cli("analyze", str(log), "--format", "csv").stdout)
    assert rows[0]["id"] == fingerprint["id"]
    assert rows[0]["query"] == fingerprint["query"]
    assert len(rows[0]["query"]) > 300
    # people still get a table that fits
    table = cli("analyze", str(log), "--format", "table").stdout
    assert fingerprint["query"] not in table.replace("\n", "")
    assert fingerprint["id"][:8] in table


def test_analyze_slow_table_csv_has_whole_statement(tmp_path: Path) -> None:
    from perfkit.querylog.aggregate import AnalyzeOptions, analyze
    from perfkit.querylog.document import to_document

    query = _long_query(80)
    assert len(query) > 1000
    result = analyze([str(_log(tmp_path, query))], AnalyzeOptions(slow_ms=1), log_format="stderr")
    doc = to_document(result, top=20)
    rows = _rows(render_csv(doc, "slow"))
    assert rows and rows[0]["query"] == query
    assert query not in render(doc, "markdown")


def test_clipped_cells() -> None:
    long = "SELECT " + "x, " * 100 + "y"
    fid = "0123456789abcdef"
    doc = Document(
        kind="t",
        schema_version=1,
        data={},
        tables=[
            Table(
                name="t",
                title="t",
                columns=[Column("id", "id"), Column("query", "query"), Column("b", "b")],
                rows=[(short_id(fid), Clipped(long, 40), joined([long, long], 20))],
            )
        ],
    )
    row = _rows(render_csv(doc))[0]
    assert row == {"id": fid, "query": long, "b": f"{long}; {long}"}
    for fmt in ("markdown", "table"):
        shown = render(doc, fmt, width=200)
        assert long not in shown and fid not in shown
        assert fid[:8] in shown and "\u2026" in shown
    assert json.loads(json.dumps({"q": Clipped(long, 5)}))["q"] == long
