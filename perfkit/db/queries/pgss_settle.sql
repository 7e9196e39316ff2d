-- Sessions of the database that started during the interval (the workload's), or the one
-- that read the first snapshot, still alive: their transactions are not all counted yet.
SELECT /* perfkit livestats */ count(*)::int AS alive
  FROM pg_stat_activity
 WHERE datid = %(dbid)s
   AND pid <> pg_backend_pid()
   AND backend_type = 'client backend'
   AND (pid = %(pid)s OR backend_start >= to_timestamp(%(since)s))
