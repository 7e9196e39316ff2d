#!/usr/bin/env bash
# Regenerate the sample logs in this folder from a REAL PostgreSQL server and workload.
#
# Needs: root on a machine with the Debian PostgreSQL 15 cluster "15 main" on
# 127.0.0.1:5432 (trust auth), pgbench, psql, pg_dump and perfkit's Python (psycopg).
# The server's settings are changed for a few minutes and ALWAYS restored (trap), with
# two restarts (logging_collector and shared_preload_libraries need one).
#
#   sudo sample_configs/logs/make_samples.sh
#
# Output (each well under 200 KB):
#   stderr.log              stderr, log_line_prefix '%m [%p] %q%u@%d ', log_min_duration_statement=0,
#                           pgbench simple + -M prepared, a multi-line statement, an error
#   syslog.log              log_destination=syslog through a private rsyslogd (traditional file
#                           format), log_line_prefix 'user=%u,db=%d,app=%a,client=%h ', pgbench
#                           simple + -M prepared and a statement longer than one syslog chunk
#                           (skipped unless rsyslogd is installed: apt-get install rsyslog)
#   stderr-log_statement.log  stderr, prefix '%t [%p]: [%l-1] user=%u,db=%d,app=%a,client=%h ',
#                           log_statement=all + log_duration=on (no log_min_duration_statement),
#                           pgbench simple + -M extended
#   csvlog.csv, jsonlog.json  the csvlog/jsonlog of the first workload (same statements)
#   cnpg.json               csvlog.csv wrapped the way CloudNativePG's instance manager logs
#                           it ({"logger":"postgres","record":{<csvlog columns>}}), by cnpg_wrap.py
#   app.jsonl               a Python application's own query log (psycopg, timed around execute)
#   pg_stat_statements.csv / .json   pg_stat_statements after the pgbench runs
#   schema.sql              pg_dump of the sample database (functions with $$ and BEGIN ATOMIC, COPY data)
set -euo pipefail

HERE="$(cd "$(dirname "$0")" && pwd)"
PY="${PYTHON:-python3}"
DB=perfkit_samples
LOGDIR=/tmp/perfkit-sample-logs
PSQL=(psql -X -q -h 127.0.0.1 -U postgres -v ON_ERROR_STOP=1)
CLUSTER=(pg_ctlcluster --skip-systemctl-redirect 15 main)
TXNS="${TXNS:-3}"

restore() {
    "${PSQL[@]}" -d postgres -c "ALTER SYSTEM RESET log_min_duration_statement" \
        -c "ALTER SYSTEM RESET log_statement" -c "ALTER SYSTEM RESET log_duration" \
        -c "ALTER SYSTEM RESET log_destination" -c "ALTER SYSTEM RESET logging_collector" \
        -c "ALTER SYSTEM RESET log_directory" -c "ALTER SYSTEM RESET log_filename" \
        -c "ALTER SYSTEM RESET log_line_prefix" -c "ALTER SYSTEM RESET shared_preload_libraries" \
        -c "ALTER SYSTEM RESET log_rotation_age" -c "ALTER SYSTEM RESET syslog_facility" \
        >/dev/null || true
    if [ -n "${RSPID:-}" ]; then
        kill "$RSPID" 2>/dev/null || true
        wait "$RSPID" 2>/dev/null || true
        rm -f /dev/log
    fi
    "${CLUSTER[@]}" restart || true
    "${PSQL[@]}" -d postgres -c "DROP DATABASE IF EXISTS $DB" >/dev/null || true
    rm -rf "$LOGDIR"
}
trap restore EXIT

rm -rf "$LOGDIR" && mkdir -p "$LOGDIR" && chown postgres "$LOGDIR"
"${PSQL[@]}" -d postgres -c "DROP DATABASE IF EXISTS $DB" -c "CREATE DATABASE $DB"
pgbench -q -i -s 1 -h 127.0.0.1 -U postgres "$DB" >/dev/null 2>&1
"${PSQL[@]}" -d "$DB" <<'SQL'
CREATE FUNCTION add_one(i integer) RETURNS integer LANGUAGE sql IMMUTABLE
BEGIN ATOMIC
    SELECT CASE WHEN i IS NULL THEN NULL ELSE i + 1 END;
END;
CREATE FUNCTION note(t text) RETURNS text LANGUAGE plpgsql AS $body$
BEGIN
    RETURN 'note; ' || t;  -- a ; inside a dollar quote
END
$body$;
CREATE TABLE notes (id serial PRIMARY KEY, body text);
INSERT INTO notes (body) VALUES ('it''s; fine'), (E'line\none'), ('$$ not a quote $$');
SQL

# -- phase A: log_min_duration_statement = 0, stderr + csvlog + jsonlog -----------------
"${PSQL[@]}" -d postgres \
    -c "ALTER SYSTEM SET shared_preload_libraries = 'pg_stat_statements'" \
    -c "ALTER SYSTEM SET logging_collector = on" \
    -c "ALTER SYSTEM SET log_destination = 'stderr,csvlog,jsonlog'" \
    -c "ALTER SYSTEM SET log_directory = '$LOGDIR'" \
    -c "ALTER SYSTEM SET log_filename = 'phase-a.log'" \
    -c "ALTER SYSTEM SET log_rotation_age = 0" \
    -c "ALTER SYSTEM SET log_line_prefix = '%m [%p] %q%u@%d '" \
    -c "ALTER SYSTEM SET log_min_duration_statement = 0"
"${CLUSTER[@]}" restart
"${PSQL[@]}" -d "$DB" -c "CREATE EXTENSION IF NOT EXISTS pg_stat_statements" -c "SELECT pg_stat_statements_reset()" >/dev/null
pgbench -n -c 2 -t "$TXNS" -h 127.0.0.1 -U postgres "$DB" >/dev/null 2>&1
pgbench -n -c 2 -t "$TXNS" -M prepared -h 127.0.0.1 -U postgres "$DB" >/dev/null 2>&1
"${PSQL[@]}" -d "$DB" <<'SQL' >/dev/null 2>&1 || true
SELECT n.id,
       n.body
  FROM notes n
 WHERE n.body LIKE 'it%'
   AND add_one(n.id) > 1;
SELECT note('multi
line');
SELECT * FROM no_such_table;
SQL
"$PY" - "$DB" >"$HERE/app.jsonl" <<'PY'
# A tiny application that logs its own queries as JSON lines (ts, duration_ms, query, params).
import datetime, json, sys, time
import psycopg
with psycopg.connect(f"host=127.0.0.1 user=postgres dbname={sys.argv[1]}", autocommit=True) as conn:
    for i in range(12):
        aid = (i * 7919) % 100000 + 1
        for query, params in (
            ("SELECT abalance FROM pgbench_accounts WHERE aid = %s", [aid]),
            ("SELECT bid, bbalance FROM pgbench_branches WHERE bid = %s", [1]),
            ("UPDATE pgbench_tellers SET tbalance = tbalance + %s WHERE tid = %s", [i, i % 10 + 1]),
        ):
            start = time.perf_counter()
            conn.execute(query, params).fetchall() if query.startswith("SELECT") else conn.execute(query, params)
            ms = (time.perf_counter() - start) * 1000
            print(json.dumps({"ts": datetime.datetime.now(datetime.timezone.utc).isoformat(),
                              "duration_ms": round(ms, 3), "query": query, "params": params}))
PY
"${PSQL[@]}" -d "$DB" -c "\\copy (SELECT s.query, s.calls, s.total_exec_time, s.mean_exec_time, s.rows, d.datname, r.rolname AS usename FROM pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid JOIN pg_roles r ON r.oid = s.userid WHERE d.datname = '$DB' ORDER BY s.total_exec_time DESC) TO '$HERE/pg_stat_statements.csv' CSV HEADER"
"${PSQL[@]}" -d "$DB" -At -c "SELECT coalesce(json_agg(t), '[]') FROM (SELECT s.query, s.calls, s.total_exec_time, s.mean_exec_time, s.rows, d.datname FROM pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid WHERE d.datname = '$DB' ORDER BY s.total_exec_time DESC) t" >"$HERE/pg_stat_statements.json"

sleep 1
cp "$LOGDIR/phase-a.log" "$HERE/stderr.log"
cp "$LOGDIR/phase-a.csv" "$HERE/csvlog.csv"
cp "$LOGDIR/phase-a.json" "$HERE/jsonlog.json"

# -- phase B: log_statement = all + log_duration = on, another prefix --------------------
"${PSQL[@]}" -d postgres \
    -c "ALTER SYSTEM SET log_filename = 'phase-b.log'" \
    -c "ALTER SYSTEM SET log_destination = 'stderr'" \
    -c "ALTER SYSTEM SET log_line_prefix = '%t [%p]: [%l-1] user=%u,db=%d,app=%a,client=%h '" \
    -c "ALTER SYSTEM RESET log_min_duration_statement" \
    -c "ALTER SYSTEM SET log_statement = 'all'" \
    -c "ALTER SYSTEM SET log_duration = on" -c "SELECT pg_reload_conf()" >/dev/null
sleep 1
"${PSQL[@]}" -d postgres -c "SELECT pg_rotate_logfile()" >/dev/null
sleep 1
pgbench -n -c 2 -t 3 -h 127.0.0.1 -U postgres "$DB" >/dev/null 2>&1
pgbench -n -c 2 -t 3 -M extended -h 127.0.0.1 -U postgres "$DB" >/dev/null 2>&1
sleep 1

cp "$LOGDIR/phase-b.log" "$HERE/stderr-log_statement.log"

# -- phase C: syslog (through a private rsyslogd on /dev/log) -----------------------------
if command -v rsyslogd >/dev/null && [ ! -e /dev/log ]; then
    cat >"$LOGDIR/rsyslog.conf" <<CONF
module(load="imuxsock" SysSock.Name="/dev/log")
\$ActionFileDefaultTemplate RSYSLOG_TraditionalFileFormat
\$FileCreateMode 0644
local0.* $LOGDIR/syslog.log
CONF
    rsyslogd -n -f "$LOGDIR/rsyslog.conf" -i "$LOGDIR/rsyslog.pid" &
    RSPID=$!
    sleep 1
    "${PSQL[@]}" -d postgres \
        -c "ALTER SYSTEM SET log_destination = 'syslog'" \
        -c "ALTER SYSTEM SET syslog_facility = 'local0'" \
        -c "ALTER SYSTEM SET log_line_prefix = 'user=%u,db=%d,app=%a,client=%h '" \
        -c "ALTER SYSTEM RESET log_statement" -c "ALTER SYSTEM RESET log_duration" \
        -c "ALTER SYSTEM SET log_min_duration_statement = 0" -c "SELECT pg_reload_conf()" >/dev/null
    sleep 1
    pgbench -n -c 2 -t 3 -h 127.0.0.1 -U postgres "$DB" >/dev/null 2>&1
    pgbench -n -c 2 -t 3 -M prepared -h 127.0.0.1 -U postgres "$DB" >/dev/null 2>&1
    # longer than one syslog chunk (PostgreSQL splits at ~900 bytes: [n-2], [n-3] ...)
    IN_LIST=$(seq -s ', ' 1 260)
    "${PSQL[@]}" -d "$DB" -c "SELECT aid, abalance
  FROM pgbench_accounts
 WHERE aid IN ($IN_LIST)
   AND abalance >= 0" >/dev/null
    sleep 1
    kill "$RSPID" 2>/dev/null || true
    wait "$RSPID" 2>/dev/null || true
    RSPID=
    rm -f /dev/log
    # the server is shared: keep the messages of the sample database's sessions only
    "$PY" - "$LOGDIR/syslog.log" "$DB" >"$HERE/syslog.log" <<'PY'
import re, sys
chunk = re.compile(r"\[(\d+)\]: \[(\d+)-(\d+)\]")
keep = set()
for line in open(sys.argv[1], encoding="utf-8", errors="replace"):
    m = chunk.search(line)
    if m is None:
        continue
    if m.group(3) == "1" and f"db={sys.argv[2]}," in line:
        keep.add(m.group(1, 2))
    if m.group(1, 2) in keep:
        sys.stdout.write(line)
PY
fi
"$PY" "$HERE/cnpg_wrap.py" "$HERE/csvlog.csv" >"$HERE/cnpg.json"
pg_dump -h 127.0.0.1 -U postgres -t notes -t pgbench_branches -t pgbench_tellers "$DB" >"$HERE/schema.sql.tmp"
pg_dump -h 127.0.0.1 -U postgres -s -t pgbench_accounts -t pgbench_history "$DB" >>"$HERE/schema.sql.tmp"
pg_dump -h 127.0.0.1 -U postgres -s -n public "$DB" | sed -n '/CREATE FUNCTION/,/^ALTER FUNCTION/p' >>"$HERE/schema.sql.tmp"
mv "$HERE/schema.sql.tmp" "$HERE/schema.sql"
chmod a+r "$HERE"/*
ls -l "$HERE"
