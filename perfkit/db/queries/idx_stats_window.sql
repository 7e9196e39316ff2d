-- Seconds the table statistics of this database cover (since their reset, else since
-- the server started): the window insert/update/delete rates are measured over.
SELECT extract(epoch FROM now() - coalesce(
           (SELECT stats_reset FROM pg_stat_database WHERE datname = current_database()),
           pg_postmaster_start_time()))::float8
