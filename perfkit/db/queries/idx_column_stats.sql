-- Planner statistics of one column: how selective a value is, and sample values for
-- planning queries whose parameters the workload did not keep.
SELECT null_frac::float8 AS null_frac,
       n_distinct::float8 AS n_distinct,
       most_common_vals::text AS most_common_vals,
       most_common_freqs::float8[] AS most_common_freqs,
       histogram_bounds::text AS histogram_bounds
  FROM pg_stats
 WHERE schemaname = %(schema)s
   AND tablename = %(table)s
   AND attname = %(column)s
 LIMIT 1
