-- Whether pg_stat_statements is loaded (shared_preload_libraries) and installed here.
SELECT /* perfkit livestats */ current_setting('shared_preload_libraries') AS preload,
       current_setting('pg_stat_statements.max', true) IS NOT NULL AS loaded,
       (SELECT extversion FROM pg_extension WHERE extname = 'pg_stat_statements') AS installed,
       (SELECT default_version FROM pg_available_extensions WHERE name = 'pg_stat_statements')
           AS available
