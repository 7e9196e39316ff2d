-- Existing indexes of user tables: key columns (or expressions), predicate, validity,
-- size and how often each was scanned (hygiene, and to skip candidates they cover).
SELECT n.nspname AS schema,
       t.relname AS table,
       ic.relname AS name,
       am.amname AS method,
       x.indisvalid AS valid,
       x.indisunique AS is_unique,
       x.indisprimary AS is_primary,
       x.indnkeyatts::int AS nkeys,
       ARRAY(SELECT pg_get_indexdef(x.indexrelid, k, true)
               FROM generate_series(1, x.indnatts) AS k
              ORDER BY k) AS columns,
       ARRAY(SELECT (x.indoption[k - 1] & 1) = 1
               FROM generate_series(1, x.indnkeyatts) AS k
              ORDER BY k) AS descending,
       pg_get_expr(x.indpred, x.indrelid, true) AS predicate,
       pg_relation_size(x.indexrelid)::bigint AS size_bytes,
       coalesce(s.idx_scan, 0)::bigint AS idx_scan,
       EXISTS (SELECT 1 FROM pg_constraint con WHERE con.conindid = x.indexrelid) AS constraint_backed,
       pg_get_indexdef(x.indexrelid) AS definition
  FROM pg_index x
  JOIN pg_class ic ON ic.oid = x.indexrelid
  JOIN pg_class t ON t.oid = x.indrelid
  JOIN pg_namespace n ON n.oid = t.relnamespace
  JOIN pg_am am ON am.oid = ic.relam
  LEFT JOIN pg_stat_user_indexes s ON s.indexrelid = x.indexrelid
 WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')
   AND n.nspname NOT LIKE 'pg_temp%'
 ORDER BY n.nspname, t.relname, ic.relname
