"""The COPY sink writes every processed message into a real table."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import psycopg


def _dump(tmp_path: Path, n: int) -> Path:
    p = tmp_path / "dump.jsonl"
    p.write_text(
        "".join(
            json.dumps(
                {
                    "messageId": f"m{i}",
                    "body": json.dumps({"n": i}),
                    "attributes": {"SentTimestamp": str(1_700_000_000_000 + i)},
                }
            )
            + "\n"
            for i in range(n)
        )
    )
    return p


def test_copy_sink_into_a_real_table(cli: Any, tmp_path: Path, scratch_db: str) -> None:
    dump = _dump(tmp_path, 250)
    args = ["batch", str(dump), "--sink", "postgres", "--dsn", scratch_db, "--table", "processed"]
    res = cli(*args)
    assert res.exit_code == 2
    assert res.stderr.startswith(
        "perfkit: error: processed: table does not exist\n  hint: add --create-table"
    )
    res = cli(*args, "--create-table", "--sink-batch", "100", "-f", "json", "--poison-rate", "0")
    assert res.exit_code == 0, res.stderr
    sink = json.loads(res.stdout)["run"]["sink"]
    assert sink["rows"] == 250
    assert sink["copy_round_trips"] == 3  # 100 + 100 + 50
    assert sink["row_by_row_round_trips"] == 250
    with psycopg.connect(scratch_db) as conn:
        rows = conn.execute(
            "SELECT count(*), count(DISTINCT message_id), min(receive_count), max(body::json->>'n') "
            "FROM processed"
        ).fetchone()
        # the row-by-row comparison was rolled back: its temporary table is gone
        assert rows == (250, 250, 1, "99")
        sent = conn.execute("SELECT sent_at FROM processed WHERE message_id = 'm0'").fetchone()
        assert sent is not None and int(sent[0].timestamp() * 1000) == 1_700_000_000_000
