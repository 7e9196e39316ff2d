-- What a pg_stat_statements snapshot needs besides its rows: when it was taken, the
-- settings that decide what the view holds, and the transactions committed so far
-- (and, 14+, the sessions opened: each opening commits one transaction of its own).
SELECT /* perfkit livestats */ clock_timestamp() AS taken_at,
       pg_postmaster_start_time() AS started_at,
       (SELECT oid::bigint FROM pg_database WHERE datname = current_database()) AS dbid,
       current_database() AS datname,
       current_user AS username,
       pg_backend_pid() AS pid,
       current_setting('pg_stat_statements.max', true) AS pgss_max,
       current_setting('pg_stat_statements.track', true) AS pgss_track,
       current_setting('pg_stat_statements.track_planning', true) AS pgss_track_planning,
       current_setting('pg_stat_statements.track_utility', true) AS pgss_track_utility,
       current_setting('track_io_timing') AS track_io_timing,
       (SELECT coalesce(sum(xact_commit + xact_rollback), 0)::bigint FROM pg_stat_database)
           AS xacts,
       (SELECT coalesce(sum(xact_commit + xact_rollback), 0)::bigint FROM pg_stat_database
         WHERE datname = current_database()) AS db_xacts,
       (SELECT coalesce(sum(sessions), 0)::bigint FROM pg_stat_database) AS sessions,
       (SELECT coalesce(sum(sessions), 0)::bigint FROM pg_stat_database
         WHERE datname = current_database()) AS db_sessions,
       pg_has_role(current_user, 'pg_read_all_stats', 'USAGE') AS read_all_stats
