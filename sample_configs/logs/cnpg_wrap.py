"""Wrap a real csvlog the way CloudNativePG's instance manager does.

CNPG runs PostgreSQL with ``log_destination = csvlog`` and re-emits every record as
``{"level","ts","logger":"postgres","msg":"record","logging_pod",
"record":{<csvlog column name>: <value>}}`` (empty columns left out). Usage:
``python cnpg_wrap.py csvlog.csv > cnpg.json``.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import sys

COLUMNS = [
    "log_time", "user_name", "database_name", "process_id", "connection_from", "session_id",
    "session_line_num", "command_tag", "session_start_time", "virtual_transaction_id",
    "transaction_id", "error_severity", "sql_state_code", "message", "detail", "hint",
    "internal_query", "internal_query_pos", "context", "query", "query_pos", "location",
    "application_name", "backend_type", "leader_pid", "query_id",
]  # fmt: skip


def main(path: str) -> None:
    with open(path, newline="", encoding="utf-8") as fh:
        for row in csv.reader(fh):
            record = {k: v for k, v in zip(COLUMNS, row, strict=False) if v != ""}
            stamp = dt.datetime.strptime(row[0][:23], "%Y-%m-%d %H:%M:%S.%f")
            epoch = stamp.replace(tzinfo=dt.timezone.utc).timestamp()
            print(
                json.dumps(
                    {
                        "level": "info",
                        "ts": epoch,
                        "logger": "postgres",
                        "msg": "record",
                        "logging_pod": "sample-pg-1",
                        "record": record,
                    },
                    separators=(",", ":"),
                )
            )


if __name__ == "__main__":
    main(sys.argv[1])
