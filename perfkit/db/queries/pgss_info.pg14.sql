-- Evictions (dealloc) and the last full reset of pg_stat_statements (14+).
SELECT /* perfkit livestats */ dealloc, stats_reset FROM pg_stat_statements_info
