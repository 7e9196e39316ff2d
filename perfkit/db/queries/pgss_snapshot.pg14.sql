-- One snapshot of pg_stat_statements, PostgreSQL 14 (toplevel: track = all keeps nested statements apart).
-- Column names are the same in every variant; times in ms, I/O times summed over
-- shared and local blocks (one column before 17).
SELECT /* perfkit livestats */
       s.userid::bigint AS userid,
       s.dbid::bigint AS dbid,
       d.datname,
       r.rolname,
       s.toplevel,
       s.queryid,
       s.query,
       s.calls,
       s.total_exec_time,
       s.mean_exec_time,
       s.stddev_exec_time,
       s.plans,
       s.total_plan_time,
       s.mean_plan_time,
       s.stddev_plan_time,
       s.rows,
       s.shared_blks_hit,
       s.shared_blks_read,
       s.shared_blks_dirtied,
       s.shared_blks_written,
       s.local_blks_hit,
       s.local_blks_read,
       s.local_blks_dirtied,
       s.local_blks_written,
       s.temp_blks_read,
       s.temp_blks_written,
       s.blk_read_time AS blk_read_time,
       s.blk_write_time AS blk_write_time,
       NULL::float8 AS temp_blk_read_time,
       NULL::float8 AS temp_blk_write_time,
       s.wal_records,
       s.wal_fpi,
       s.wal_bytes::float8 AS wal_bytes,
       NULL::timestamptz AS stats_since
  FROM pg_stat_statements(true) s
  LEFT JOIN pg_database d ON d.oid = s.dbid
  LEFT JOIN pg_roles r ON r.oid = s.userid
