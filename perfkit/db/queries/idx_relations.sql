-- Relations suggest-indexes and explain may meet: tables, partitioned tables, views,
-- materialized views of user schemas, with their size, statistics age and write load.
SELECT n.nspname AS schema,
       c.relname AS name,
       c.relkind::text AS relkind,
       c.relispartition AS is_partition,
       (SELECT pn.nspname || '.' || pc.relname
          FROM pg_inherits i
          JOIN pg_class pc ON pc.oid = i.inhparent
          JOIN pg_namespace pn ON pn.oid = pc.relnamespace
         WHERE i.inhrelid = c.oid
         LIMIT 1) AS parent,
       greatest(c.reltuples, 0)::float8 AS reltuples,
       c.relpages::bigint AS relpages,
       s.last_analyze IS NOT NULL OR s.last_autoanalyze IS NOT NULL AS analyzed,
       coalesce(s.n_tup_ins, 0)::bigint AS n_tup_ins,
       coalesce(s.n_tup_upd, 0)::bigint AS n_tup_upd,
       coalesce(s.n_tup_del, 0)::bigint AS n_tup_del,
       coalesce(s.seq_scan, 0)::bigint AS seq_scan,
       coalesce(s.n_live_tup, 0)::bigint AS n_live_tup,
       CASE WHEN c.relkind IN ('v', 'm') THEN pg_get_viewdef(c.oid, true) END AS viewdef,
       coalesce(s.n_tup_hot_upd, 0)::bigint AS n_tup_hot_upd
  FROM pg_class c
  JOIN pg_namespace n ON n.oid = c.relnamespace
  LEFT JOIN pg_stat_user_tables s ON s.relid = c.oid
 WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f')
   AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')
   AND n.nspname NOT LIKE 'pg_temp%'
   AND n.nspname NOT LIKE 'pg_toast_temp%'
