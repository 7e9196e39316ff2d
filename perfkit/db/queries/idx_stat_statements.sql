-- The workload as pg_stat_statements saw it (PostgreSQL 13+ column names).
SELECT s.query,
       sum(s.calls)::bigint AS calls,
       sum(s.total_exec_time)::float8 AS total_ms
  FROM pg_stat_statements s
 WHERE s.dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
 GROUP BY s.query
 ORDER BY sum(s.total_exec_time) DESC
 LIMIT %(limit)s
