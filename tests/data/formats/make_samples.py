"""Writes the platform samples of tests/test_formats.py from one stderr log per prefix.

The PostgreSQL lines follow each platform's documented log_line_prefix and the record
layouts of public samples (cited in each format's module and in tests/test_formats.py):
AWS RDS ("%t:%r:%u@%d:[%p]:"), Cloud SQL ("%m [%p]: [%l-1] db=%d,user=%u "), Azure
flexible server ("%m [%p] [user=%u,db=%d,app=%a] "), Heroku (its key=value prefix). Each
sample holds the same workload, so the tests compare every wrapper with the plain log.

    python tests/data/formats/make_samples.py
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from pathlib import Path
from typing import Any

HERE = Path(__file__).parent
T0 = dt.datetime(2024, 3, 5, 9, 0, 0, 123000, tzinfo=dt.timezone.utc)

# (seconds, pid, user, db, app, client, port, duration, statement or None, detail)
WORK: list[tuple[float, int, str, str, str, str, int, str | None, str | None, str | None]] = [
    (0.0, 4101, "shop", "orders", "web", "10.0.1.17", 50112, None, None, None),
    (
        0.5,
        4101,
        "shop",
        "orders",
        "web",
        "10.0.1.17",
        50112,
        "12.345",
        "SELECT * FROM orders WHERE id = 42",
        None,
    ),
    (
        1.0,
        4102,
        "report",
        "analytics",
        "psql",
        "10.0.2.9",
        40022,
        "1503.250",
        "SELECT count(*)\n\tFROM orders o\n\tJOIN items i ON i.order_id = o.id",
        None,
    ),
    (1.5, 4101, "shop", "orders", "web", "10.0.1.17", 50112, "0.027", "", None),
    (
        2.0,
        4103,
        "shop",
        "orders",
        "worker",
        "10.0.1.18",
        50200,
        "3.500",
        "execute S_1: UPDATE items SET qty = $1 WHERE id = $2",
        "parameters: $1 = '3', $2 = '77'",
    ),
    (2.5, 4102, "report", "analytics", "psql", "10.0.2.9", 40022, "0.410", ";", None),
    (
        3.0,
        4101,
        "shop",
        "orders",
        "web",
        "10.0.1.17",
        50112,
        "7.125",
        "INSERT INTO orders (customer) VALUES ('Ann')",
        None,
    ),
]
EXPECTED_QUERIES = 4  # the empty statement and ";" are not counted
EXPECTED_TOTAL_MS = 12.345 + 1503.250 + 3.5 + 7.125


def _msg(stmt: str, duration: str | None) -> str:
    if stmt.startswith("execute "):
        return f"duration: {duration} ms  {stmt}"
    return f"duration: {duration} ms  statement: {stmt}"


def lines_for(prefix_of) -> list[list[str]]:  # type: ignore[no-untyped-def]
    """Per message, its lines (the first with the prefix, continuation lines as logged)."""
    out: list[list[str]] = []
    for i, (sec, pid, user, db, app, host, port, dur, stmt, detail) in enumerate(WORK, 1):
        ts = T0 + dt.timedelta(seconds=sec)
        pre = prefix_of(ts, pid, user, db, app, host, port, i)
        if stmt is None:
            out.append([f"{pre}LOG:  connection authorized: user={user} database={db}"])
            continue
        first, *rest = _msg(stmt, dur).split("\n")
        msg = [f"{pre}LOG:  {first}", *rest]
        if detail:
            msg.append(f"{pre}DETAIL:  {detail}")
        out.append(msg)
    # a background process (no user/db), as every real log has
    ts = T0 + dt.timedelta(seconds=4)
    out.append([f"{prefix_of(ts, 60, '', '', '', '', 0, 99)}LOG:  checkpoint starting: time"])
    return out


def rds(ts, pid, user, db, app, host, port, n):  # type: ignore[no-untyped-def]
    remote = f"{host}({port})" if host else ""
    return f"{ts:%Y-%m-%d %H:%M:%S} UTC:{remote}:{user}@{db}:[{pid}]:"


def cloudsql(ts, pid, user, db, app, host, port, n):  # type: ignore[no-untyped-def]
    return f"{ts:%Y-%m-%d %H:%M:%S}.{ts.microsecond // 1000:03d} UTC [{pid}]: [{n}-1] db={db},user={user} "


def azure(ts, pid, user, db, app, host, port, n):  # type: ignore[no-untyped-def]
    u, d, a = user or "[unknown]", db or "[unknown]", app or "[unknown]"
    return f"{ts:%Y-%m-%d %H:%M:%S}.{ts.microsecond // 1000:03d} UTC [{pid}] [user={u},db={d},app={a}] "


def plain(ts, pid, user, db, app, host, port, n):  # type: ignore[no-untyped-def]
    who = f"{user}@{db} " if user else ""
    return f"{ts:%Y-%m-%d %H:%M:%S}.{ts.microsecond // 1000:03d} UTC [{pid}] {who}"


def syslog_prefix(ts, pid, user, db, app, host, port, n):  # type: ignore[no-untyped-def]
    return f"user={user},db={db},app={app},client={host} "


def epoch_ms(ts: dt.datetime) -> int:
    return int(ts.timestamp() * 1000)


def main() -> None:
    rds_msgs = lines_for(rds)
    (HERE / "rds.log").write_text("".join(ln + "\n" for m in rds_msgs for ln in m))
    # CloudWatch: one event per message (continuation lines inside it), pretty-printed
    events: list[dict[str, Any]] = []
    for i, m in enumerate(rds_msgs):
        ts = T0 + dt.timedelta(seconds=i * 0.5)
        events.append(
            {
                "logStreamName": "mydb-instance-1",
                "timestamp": epoch_ms(ts),
                "message": "\n".join(m),
                "ingestionTime": epoch_ms(ts) + 900,
                "eventId": f"3{i:055d}",
            }
        )
    doc = {
        "events": events,
        "searchedLogStreams": [{"logStreamName": "mydb-instance-1", "searchedCompletely": True}],
    }
    (HERE / "cloudwatch.json").write_text(json.dumps(doc, indent=4) + "\n")
    sub = {
        "messageType": "DATA_MESSAGE",
        "owner": "123456789012",
        "logGroup": "/aws/rds/instance/mydb/postgresql",
        "logStream": "mydb",
        "subscriptionFilters": ["to-s3"],
        "logEvents": [
            {"id": e["eventId"], "timestamp": e["timestamp"], "message": e["message"]}
            for e in events
        ],
    }
    (HERE / "cloudwatch-subscription.json").write_text(json.dumps(sub) + "\n")
    # an export to S3: "<time> <message>" (a message's continuation lines follow it)
    with (HERE / "cloudwatch-s3.log").open("w") as f:
        for e in events:
            ts = dt.datetime.fromtimestamp(e["timestamp"] / 1000, dt.timezone.utc)
            f.write(f"{ts:%Y-%m-%dT%H:%M:%S}.{ts.microsecond // 1000:03d}Z {e['message']}\n")

    # Cloud SQL: gcloud logging read --format=json (an array); each line its own entry
    entries: list[dict[str, Any]] = []
    for m in lines_for(cloudsql):
        for ln in m:
            entries.append(
                {
                    "textPayload": ln,
                    "insertId": f"s=abc;i={len(entries):x}",
                    "resource": {
                        "type": "cloudsql_database",
                        "labels": {
                            "database_id": "proj:inst",
                            "project_id": "proj",
                            "region": "europe-west1",
                        },
                    },
                    "timestamp": "2024-03-05T09:00:00.123456Z",
                    "severity": "INFO",
                    "labels": {"LOG_BUCKET_NUM": "1"},
                    "logName": "projects/proj/logs/cloudsql.googleapis.com%2Fpostgres.log",
                    "receiveTimestamp": "2024-03-05T09:00:01.5Z",
                }
            )
    (HERE / "cloudsql.json").write_text(json.dumps(entries, indent=2) + "\n")
    # AlloyDB: one entry per message, JSON Lines, the source location after the severity
    with (HERE / "alloydb.jsonl").open("w") as f:
        for m in lines_for(cloudsql):
            text = "\n".join(m).replace("LOG:  ", "LOG: [postgres.c:1187] ", 1)
            entry = {
                "textPayload": text,
                "insertId": "s=21bf;i=18d4f1",
                "resource": {
                    "type": "alloydb.googleapis.com/Instance",
                    "labels": {
                        "cluster_id": "c1",
                        "instance_id": "c1-primary",
                        "location": "us-central1",
                    },
                },
                "timestamp": "2024-03-05T09:00:00.336161Z",
                "severity": "INFO",
                "logName": "projects/proj/logs/alloydb.googleapis.com%2Fpostgres.log",
            }
            f.write(json.dumps(entry) + "\n")

    # Azure flexible server: one record per line (storage blob), DETAIL in properties.detail
    with (HERE / "azure.jsonl").open("w") as f:
        for m in lines_for(azure):
            main_lines = [ln for ln in m if "DETAIL:  " not in ln]
            props_detail = next((ln.split("DETAIL:  ", 1)[1] for ln in m if "DETAIL:  " in ln), "")
            rec = {
                "properties": {
                    "timestamp": "2024-03-05 09:00:00.123 UTC",
                    "processId": 4101,
                    "errorLevel": "LOG",
                    "sqlerrcode": "00000",
                    "message": "\n".join(main_lines),
                    "detail": props_detail,
                },
                "time": "2024-03-05T09:00:00.130Z",
                "resourceId": "/SUBSCRIPTIONS/0/RESOURCEGROUPS/RG/PROVIDERS/MICROSOFT.DBFORPOSTGRESQL/FLEXIBLESERVERS/PG1",
                "location": "eastus",
                "category": "PostgreSQLLogs",
                "operationName": "LogEvent",
            }
            f.write(json.dumps(rec) + "\n")

    # Heroku: `heroku logs` output, the current key=value prefix, [seq-part] numbers
    out: list[str] = []
    for n, (sec, pid, user, db, app, host, port, dur, stmt, detail) in enumerate(WORK, 1):
        ts = T0 + dt.timedelta(seconds=sec)
        stamp = f"{ts:%Y-%m-%dT%H:%M:%S}+00:00"
        pre = (
            f' sql_error_code = 00000 time_ms = "{ts:%Y-%m-%d %H:%M:%S}.{ts.microsecond // 1000:03d} UTC" '
            f'pid="{pid}" proc_start_time="2024-03-05 08:59:00 UTC" session_id="65e6df00.{pid:x}" '
            f'vtid="2/0" tid="0" log_line="{n}" database="{db}" connection_source="{host}({port})" '
            f'user="{user}" application_name="{app}" '
        )
        if stmt is None:
            body = [f"LOG:  connection authorized: user={user} database={db}"]
        else:
            first, *rest = _msg(stmt, dur).split("\n")
            body = [f"LOG:  {first}", *rest]
        for part, text in enumerate(body, 1):
            head = pre if part == 1 else ""
            out.append(f"{stamp} app[postgres.1105947]: [YELLOW] [{n}-{part}] {head}{text}")
        if detail:
            out.append(
                f"{stamp} app[postgres.1105947]: [YELLOW] [{n + 100}-1] {pre}DETAIL:  {detail}"
            )
    out.insert(3, '2024-03-05T09:00:01+00:00 app[web.1]: Started GET "/orders" for 1.2.3.4')
    (HERE / "heroku.log").write_text("".join(ln + "\n" for ln in out))
    # the same through an HTTPS drain (octet-counted syslog frames)
    drain = []
    for ln in out:
        stamp, tail = ln.split(" ", 1)
        proc, msg = tail.split(": ", 1)
        procid = proc[proc.index("[") + 1 : -1]
        frame = f"<134>1 {stamp} host app {procid} - {msg}"
        drain.append(f"{len(frame.encode())} {frame}")
    (HERE / "heroku-drain.log").write_text("".join(ln + "\n" for ln in drain))

    # Kubernetes: CRI around the plain stderr log; the long statement split into P + F
    plain_msgs = lines_for(plain)
    with (HERE / "cri.log").open("w") as f:
        for m in plain_msgs:
            for ln in m:
                stamp = "2024-03-05T09:00:00.123456789Z"
                if len(ln) > 60:
                    f.write(f"{stamp} stderr P {ln[:40]}\n{stamp} stderr F {ln[40:]}\n")
                else:
                    f.write(f"{stamp} stderr F {ln}\n")
    # docker json-file around the same lines (one split into two parts)
    with (HERE / "docker.log").open("w") as f:
        for m in plain_msgs:
            for ln in m:
                if len(ln) > 60:
                    f.write(
                        json.dumps(
                            {"log": ln[:40], "stream": "stderr", "time": "2024-03-05T09:00:00.1Z"}
                        )
                        + "\n"
                    )
                    ln = ln[40:]
                f.write(
                    json.dumps(
                        {"log": ln + "\n", "stream": "stderr", "time": "2024-03-05T09:00:00.1Z"}
                    )
                    + "\n"
                )
    (HERE / "plain.log").write_text("".join(ln + "\n" for m in plain_msgs for ln in m))
    # journald: journalctl -u postgresql -o json, one entry per line
    with (HERE / "journald.json").open("w") as f:
        for m in plain_msgs:
            for ln in m:
                f.write(
                    json.dumps(
                        {
                            "__REALTIME_TIMESTAMP": "1709629200123000",
                            "_PID": "4100",
                            "SYSLOG_IDENTIFIER": "postgres",
                            "_SYSTEMD_UNIT": "postgresql@16-main.service",
                            "MESSAGE": ln,
                            "PRIORITY": "6",
                        }
                    )
                    + "\n"
                )

    # journald of a server with log_destination = syslog: MESSAGE holds "[n-m] ..." chunks
    with (HERE / "journald-syslog.json").open("w") as f:
        for n, m in enumerate(lines_for(syslog_prefix), 1):
            for part, ln in enumerate(m, 1):
                text = ln.replace("\t", "#011", 1) if part > 1 else ln
                rec = {
                    "__REALTIME_TIMESTAMP": str(epoch_ms(T0) * 1000 + n * 500_000),
                    "_HOSTNAME": "db1",
                    "SYSLOG_IDENTIFIER": "postgres",
                    "SYSLOG_PID": str(WORK[min(n, len(WORK)) - 1][1]),
                    "_PID": str(WORK[min(n, len(WORK)) - 1][1]),
                    "MESSAGE": f"[{n}-{part}] {text}",
                }
                f.write(json.dumps(rec) + "\n")

    # csvlog of PostgreSQL 8.4: 22 columns (no application_name)
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    for n, (sec, pid, user, db, _app, host, port, dur, stmt, detail) in enumerate(WORK, 1):
        ts = T0 + dt.timedelta(seconds=sec)
        msg = (
            f"connection authorized: user={user} database={db}"
            if stmt is None
            else _msg(stmt, dur).replace("\n\t", "\n")
        )
        w.writerow(
            [
                f"{ts:%Y-%m-%d %H:%M:%S}.{ts.microsecond // 1000:03d} UTC",
                user,
                db,
                pid,
                f"{host}:{port}",
                f"65e6df00.{pid:x}",
                n,
                "SELECT",
                "2024-03-05 08:59:00 UTC",
                "2/0",
                0,
                "LOG",
                "00000",
                msg,
                detail or "",
                "",
                "",
                "",
                "",
                "",
                "",
                "",
            ]
        )
    (HERE / "csvlog22.csv").write_text(buf.getvalue())

    # logs that are not PostgreSQL's: refused by name
    (HERE / "pgbouncer.log").write_text(
        "2024-03-05 09:00:00.123 UTC [812] LOG kernel file descriptor limit: 1024 (hard: 524288); max_client_conn: 100, max expected fd use: 152\n"
        "2024-03-05 09:00:00.124 UTC [812] LOG listening on 0.0.0.0:6432\n"
        "2024-03-05 09:00:00.124 UTC [812] LOG process up: PgBouncer 1.21.0, libevent 2.1.12-stable (epoll), adns: c-ares 1.19.1, tls: OpenSSL 3.0.11\n"
        "2024-03-05 09:00:05.301 UTC [812] LOG C-0x55d1c8b4e6a0: orders/shop@10.0.1.17:50112 login attempt: db=orders user=shop tls=no\n"
        "2024-03-05 09:01:00.124 UTC [812] LOG stats: 2 xacts/s, 5 queries/s, 0 client parses/s, in 830 B/s, out 1410 B/s, xact 1520 us, query 610 us, wait 20 us\n"
    )
    (HERE / "mysql-slow.log").write_text(
        "/usr/sbin/mysqld, Version: 8.0.36 (MySQL Community Server - GPL). started with:\n"
        "Tcp port: 3306  Unix socket: /var/run/mysqld/mysqld.sock\n"
        "Time                 Id Command    Argument\n"
        "# Time: 2024-03-05T09:00:00.123456Z\n"
        "# User@Host: shop[shop] @ localhost []  Id:     8\n"
        "# Query_time: 2.000123  Lock_time: 0.000010 Rows_sent: 1  Rows_examined: 100000\n"
        "SET timestamp=1709629200;\n"
        "SELECT count(*) FROM orders;\n"
    )
    (HERE / "nginx-access.log").write_text(
        '10.0.1.17 - - [05/Mar/2024:09:00:00 +0000] "GET /orders HTTP/1.1" 200 512 "-" "curl/8.5.0"\n'
        '10.0.1.18 - - [05/Mar/2024:09:00:01 +0000] "POST /orders HTTP/1.1" 201 64 "-" "curl/8.5.0"\n'
    )


if __name__ == "__main__":
    main()
