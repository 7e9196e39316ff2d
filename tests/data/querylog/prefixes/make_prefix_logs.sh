#!/usr/bin/env bash
# Regenerate the real logs in this folder: a PRIVATE PostgreSQL cluster (initdb in a temp
# directory, its own port; the machine's shared server is never touched) is started once
# per log_line_prefix with logging to stderr, log_min_duration_statement = 0 and
# log_connections, and a small workload runs against it: pgbench simple and -M prepared
# with application_name set, a multi-line psql statement, a failing statement, a
# CHECKPOINT (a non-session process line) and a connection that fails authentication
# ([unknown] fields). Run as root (the cluster runs as the postgres user):
#
#   tests/data/querylog/prefixes/make_prefix_logs.sh
#
# Each output file is the server's stderr, unchanged: <name>.log (a few hundred lines).
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
BIN="${PGBIN:-/usr/lib/postgresql/15/bin}"
WORK="$(mktemp -d /tmp/perfkit-prefix-logs.XXXXXX)"
chown postgres "$WORK"
PORT="${PORT:-55491}"
AS=(runuser -u postgres --)
cleanup() {
    "${AS[@]}" "$BIN/pg_ctl" -D "$WORK/data" -m immediate stop >/dev/null 2>&1 || true
    rm -rf "$WORK"
}
trap cleanup EXIT
"${AS[@]}" "$BIN/initdb" -D "$WORK/data" -U postgres --auth=trust >/dev/null
cat >>"$WORK/data/pg_hba.conf" <<HBA
host all nobody 127.0.0.1/32 reject
HBA
sed -i '1i host all nobody 127.0.0.1/32 reject' "$WORK/data/pg_hba.conf"

# name|log_line_prefix|extra settings
PREFIXES=(
  "debian_app|%m [%p] %q%u@%d app=%a |"
  "queryid|%m [%p] [queryid=%Q] %q%u@%d |compute_query_id=on"
  "xid_appli|%t [%p]: [%l-1] [%x] usr=%u,db=%d,appli=%a |"
  "pipes|%m|%u|%d|%c||"
  "rds|%t:%r:%u@%d:[%p]:|"
  "azure|%t-%c-|"
  "cloudsql|%m [%p]: [%l-1] db=%d,user=%u |"
  "pgbadger|%t [%p]: [%l-1] user=%u,db=%d,app=%a,client=%h |"
  "bracketed|%m [%p] [%u] [%d] [%a] |"
  "many|%n [%p-%l] %q%e %c %v %b %u@%d %h |"
  "syslogstyle|db=%d,user=%u,app=%a,client=%h |"
  "verbose|%m [%p] %q%u@%d |log_error_verbosity=verbose"
  "pganalyze|%m [%p][%b][%v][%x] %q[user=%u,db=%d,app=%a] |"
)

for entry in "${PREFIXES[@]}"; do
    IFS='|' read -r name prefix extra <<<"$entry"
    # the prefix itself may contain '|': take everything between the first and last '|'
    prefix="${entry#*|}"; prefix="${prefix%|*}"; extra="${entry##*|}"
    opts=(-c "port=$PORT" -c "listen_addresses=127.0.0.1" -c "unix_socket_directories=$WORK"
          -c "log_line_prefix=$prefix" -c "log_min_duration_statement=0" -c "log_connections=on"
          -c "log_checkpoints=on" -c "lc_messages=C")
    [ -n "$extra" ] && opts+=(-c "$extra")
    printf -v optstr '%q ' "${opts[@]}"
    "${AS[@]}" "$BIN/pg_ctl" -D "$WORK/data" -w -l "$WORK/$name.log" -o "$optstr" start >/dev/null
    PG=(-h 127.0.0.1 -p "$PORT" -U postgres)
    psql -X -q "${PG[@]}" -d postgres -c "DROP DATABASE IF EXISTS acc_bench" -c "CREATE DATABASE acc_bench" >/dev/null
    pgbench -q -i -s 1 "${PG[@]}" acc_bench >/dev/null 2>&1
    PGAPPNAME=pgbench pgbench -n -c 2 -t 6 "${PG[@]}" acc_bench >/dev/null 2>&1
    PGAPPNAME=bench_prepared pgbench -n -c 2 -t 4 -M prepared "${PG[@]}" acc_bench >/dev/null 2>&1
    PGAPPNAME=report psql -X -q "${PG[@]}" -d acc_bench >/dev/null 2>&1 <<'SQL' || true
SELECT aid, abalance
    FROM pgbench_accounts
    WHERE aid IN (1, 2, 3)
    ORDER BY aid;
SELECT * FROM no_such_table;
CHECKPOINT;
SQL
    psql -X -q -h 127.0.0.1 -p "$PORT" -U nobody -d acc_bench -c "SELECT 1" >/dev/null 2>&1 || true
    "${AS[@]}" "$BIN/pg_ctl" -D "$WORK/data" -w stop >/dev/null
    cp "$WORK/$name.log" "$HERE/$name.log"
    chmod 644 "$HERE/$name.log"
    echo "$name: $(wc -l <"$HERE/$name.log") lines  prefix '$prefix'"
done
