-- The statement guard: tables and views of the given names, in any schema, with the
-- code that runs when they are used: a view's definition and the row-level security
-- policies' expressions (read); for a written table, whether a column is an identity
-- column, its column defaults and CHECK constraints (as expressions), its user
-- triggers and its rewrite rules.
SELECT n.nspname,
       c.relname,
       c.relkind,
       CASE WHEN c.relkind = 'v' THEN pg_catalog.pg_get_viewdef(c.oid) END AS definition,
       EXISTS (
           SELECT 1 FROM pg_catalog.pg_attribute a
           WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
             AND a.attidentity <> ''
       ) AS identity,
       ARRAY(
           SELECT pg_catalog.pg_get_expr(d.adbin, d.adrelid)
           FROM pg_catalog.pg_attrdef d WHERE d.adrelid = c.oid
       ) AS defaults,
       ARRAY(
           SELECT pg_catalog.pg_get_expr(k.conbin, k.conrelid)
           FROM pg_catalog.pg_constraint k
           WHERE k.conrelid = c.oid AND k.contype = 'c' AND k.conbin IS NOT NULL
       ) AS checks,
       ARRAY(
           SELECT x FROM (
               SELECT pg_catalog.pg_get_expr(p.polqual, p.polrelid) AS x
               FROM pg_catalog.pg_policy p WHERE p.polrelid = c.oid
               UNION ALL
               SELECT pg_catalog.pg_get_expr(p.polwithcheck, p.polrelid)
               FROM pg_catalog.pg_policy p WHERE p.polrelid = c.oid
           ) q WHERE x IS NOT NULL
       ) AS policies,
       ARRAY(
           SELECT t.tgname::text FROM pg_catalog.pg_trigger t
           WHERE t.tgrelid = c.oid AND NOT t.tgisinternal
           ORDER BY t.tgname
       ) AS triggers,
       EXISTS (
           SELECT 1 FROM pg_catalog.pg_rewrite r
           WHERE r.ev_class = c.oid AND r.rulename <> '_RETURN'
       ) AS rules
FROM pg_catalog.pg_class c
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE c.relname = ANY(%(names)s)
