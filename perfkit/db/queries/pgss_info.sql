-- PostgreSQL 13 has no pg_stat_statements_info: no eviction count, no reset time.
SELECT /* perfkit livestats */ NULL::bigint AS dealloc, NULL::timestamptz AS stats_reset
