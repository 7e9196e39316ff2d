-- Client backends connected to the current database right now.
SELECT count(*)::int AS backends
FROM pg_stat_activity
WHERE datname = current_database()
  AND backend_type = 'client backend'
