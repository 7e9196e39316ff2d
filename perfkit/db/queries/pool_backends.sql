-- Client backends in this database other than the monitor itself, and how many are
-- running a statement right now. Sampled by `perfkit pool` during each point.
-- Works on PostgreSQL 10 and later (backend_type appeared in 10).
SELECT count(*)::int AS backends,
       count(*) FILTER (WHERE state = 'active')::int AS active
FROM pg_stat_activity
WHERE datname = current_database()
  AND backend_type = 'client backend'
  AND pid <> pg_backend_pid()
