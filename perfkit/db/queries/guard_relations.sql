-- The statement guard: tables and views of the given names, in any schema. A view's
-- definition (its functions run when it is read); for a written table, whether a
-- column draws from a sequence (identity or nextval default), its user triggers and
-- its rewrite rules (effects a rollback may not undo).
SELECT n.nspname,
       c.relname,
       c.relkind,
       CASE WHEN c.relkind = 'v' THEN pg_catalog.pg_get_viewdef(c.oid) END AS definition,
       EXISTS (
           SELECT 1 FROM pg_catalog.pg_attribute a
           WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
             AND a.attidentity <> ''
       ) OR EXISTS (
           SELECT 1 FROM pg_catalog.pg_attrdef d
           WHERE d.adrelid = c.oid
             AND pg_catalog.pg_get_expr(d.adbin, d.adrelid) ~* 'nextval'
       ) AS sequence_default,
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
