#!/bin/sh
# Regenerates the sample logs of this directory from a private PostgreSQL cluster
# (PostgreSQL 15 of the machine, run as the non-root user "postgres"). Usage, as root:
#   sh tests/data/querylog/events/make_logs.sh [BINDIR [OUTDIR]]
# Writes stderr.log, csvlog.csv, jsonlog.json (auto_explain text) and
# stderr_json_plans.log (auto_explain json) here. Nothing outside a temporary directory
# is changed; the cluster is stopped and removed at the end.
set -u
BIN=${1:-/usr/lib/postgresql/15/bin}
OUT=${2:-$(cd "$(dirname "$0")" && pwd)}
TMP=$(mktemp -d /tmp/perfkit-events.XXXXXX)
trap 'for d in "$TMP"/data-*; do as_pg "$BIN/pg_ctl" -D "$d" -w stop -m fast >/dev/null 2>&1; done; rm -rf "$TMP"' EXIT
chown postgres "$TMP"
PORT=54329
as_pg() { runuser -u postgres -- "$@"; }
PSQL="psql -h $TMP -p $PORT -X -q -o /dev/null"

run_cluster() {  # $1: plan format (text/json)  $2: log_destination
  D=$TMP/data-$1-$2
  as_pg "$BIN/initdb" -D "$D" -U postgres --auth-local=trust --auth-host=trust -E UTF8 \
    --locale=C >/dev/null
  # one user needs a password: its failed logins are the authentication failures
  echo "host all secret 127.0.0.1/32 scram-sha-256" > "$D/pg_hba.conf.new"
  cat "$D/pg_hba.conf" >> "$D/pg_hba.conf.new"
  mv "$D/pg_hba.conf.new" "$D/pg_hba.conf"; chown postgres "$D/pg_hba.conf"
  cat >> "$D/postgresql.conf" <<CONF
port = $PORT
listen_addresses = '127.0.0.1'
unix_socket_directories = '$TMP'
lc_messages = 'C'
logging_collector = on
log_directory = '$TMP/log-$1-$2'
log_filename = 'pg.log'
log_destination = '$2'
log_line_prefix = '%m [%p] %q%u@%d/%a '
log_min_duration_statement = 0
log_temp_files = 0
log_lock_waits = on
deadlock_timeout = '100ms'
log_checkpoints = on
log_autovacuum_min_duration = 0
autovacuum_naptime = 1
log_connections = on
log_disconnections = on
shared_preload_libraries = 'auto_explain'
auto_explain.log_min_duration = 0
auto_explain.log_format = '$1'
CONF
  as_pg "$BIN/pg_ctl" -D "$D" -w -l "$TMP/startup.log" start >/dev/null
  as_pg $PSQL -d postgres -c "CREATE ROLE secret LOGIN PASSWORD 'right'" \
    -c "CREATE TABLE orders (id int PRIMARY KEY, customer int, total numeric)" \
    -c "INSERT INTO orders SELECT g, g % 100, g FROM generate_series(1, 20000) g" \
    -c "CREATE INDEX orders_customer ON orders (customer)" -c "ANALYZE orders"
  # plans: index scan first, then a seq scan for the same statement shape
  as_pg $PSQL -d postgres -c "SELECT count(*) FROM orders WHERE customer = 7" \
    -c "SET enable_indexscan = off" -c "SET enable_bitmapscan = off" \
    -c "SELECT count(*) FROM orders WHERE customer = 8"
  # a temporary file
  as_pg $PSQL -d postgres -c "SET work_mem = '64kB'" \
    -c "SELECT id FROM orders ORDER BY total DESC, id LIMIT 5 OFFSET 10000"
  # statement_timeout, an error, a cancellation by lock_timeout
  as_pg $PSQL -d postgres -c "SET statement_timeout = '50ms'" -c "SELECT pg_sleep(1)"
  as_pg $PSQL -d postgres -c "SELECT 1/0" -c "SELECT * FROM no_such_table"
  # a lock wait (log_lock_waits) and a deadlock
  as_pg $PSQL -d postgres -c "BEGIN" -c "UPDATE orders SET total = total + 1 WHERE id = 1" \
    -c "SELECT pg_sleep(0.5)" -c "UPDATE orders SET total = total + 1 WHERE id = 2" \
    -c "SELECT pg_sleep(0.5)" -c "COMMIT" &
  sleep 0.2
  as_pg $PSQL -d postgres -c "BEGIN" -c "UPDATE orders SET total = total + 1 WHERE id = 2" \
    -c "UPDATE orders SET total = total + 1 WHERE id = 1" -c "COMMIT" || true
  wait
  # authentication failures (wrong password), then a good login
  PGPASSWORD=wrong psql -h 127.0.0.1 -p $PORT -U secret -d postgres -X -c "SELECT 1" \
    >/dev/null 2>&1 || true
  PGPASSWORD=wrong psql -h 127.0.0.1 -p $PORT -U secret -d postgres -X -c "SELECT 1" \
    >/dev/null 2>&1 || true
  PGPASSWORD=right psql -h 127.0.0.1 -p $PORT -U secret -d postgres -X -c "SELECT 2" >/dev/null
  # a burst of short sessions (a connection storm)
  for i in 1 2 3 4 5 6; do
    as_pg psql -h $TMP -p $PORT -X -q -d postgres -c "SELECT $i" >/dev/null &
  done
  wait
  # autovacuum and autoanalyze on orders, then checkpoints
  as_pg $PSQL -d postgres -c "DELETE FROM orders WHERE id > 15000"
  sleep 4
  as_pg $PSQL -d postgres -c "CHECKPOINT"
  as_pg "$BIN/pg_ctl" -D "$D" -w stop >/dev/null
}

run_cluster text stderr
cp "$TMP/log-text-stderr/pg.log" "$OUT/stderr.log"
run_cluster json stderr
cp "$TMP/log-json-stderr/pg.log" "$OUT/stderr_json_plans.log"
run_cluster text csvlog
cp "$TMP/log-text-csvlog/pg.csv" "$OUT/csvlog.csv"
run_cluster json jsonlog
cp "$TMP/log-json-jsonlog/pg.json" "$OUT/jsonlog.json"
chmod 644 "$OUT"/*.log "$OUT"/*.csv "$OUT"/*.json
rm -rf "$TMP"
