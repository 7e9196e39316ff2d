-- The server's connection slots as the current role sees them (PostgreSQL 16+:
-- reserved_connections, waived for members of pg_use_reserved_connections), and the
-- client backends connected right now (this session included). Read by
-- `perfkit pool --storm` before it storms.
SELECT current_setting('max_connections')::int AS max_connections,
       current_setting('superuser_reserved_connections')::int AS superuser_reserved,
       current_setting('reserved_connections')::int AS reserved,
       (SELECT count(*) FROM pg_stat_activity
         WHERE backend_type = 'client backend'
            OR (backend_type IS NULL AND usesysid IS NOT NULL AND datid IS NOT NULL))::int AS in_use,
       (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) AS superuser,
       pg_has_role(current_user, 'pg_use_reserved_connections', 'USAGE') AS reserved_role
