-- Who and where we are; cheap, read-only.
SELECT current_setting('server_version_num')::int AS server_version_num,
       current_setting('server_version') AS server_version,
       current_database() AS database,
       current_user AS "user",
       pg_is_in_recovery() AS in_recovery,
       current_setting('max_connections')::int AS max_connections
