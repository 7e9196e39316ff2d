-- Client backends of the whole server (max_connections is server-wide; this monitor
-- session included) and those of the storm (by application_name). Sampled by
-- `perfkit pool --storm` while a level runs. Rows of other roles may hide their
-- backend_type from an unprivileged monitor: those with a user and a database are
-- counted as clients (server processes and launchers lack one or both).
SELECT count(*) FILTER (WHERE backend_type = 'client backend'
                          OR (backend_type IS NULL AND usesysid IS NOT NULL AND datid IS NOT NULL))::int AS backends,
       count(*) FILTER (WHERE application_name = %(app)s)::int AS ours
FROM pg_stat_activity
