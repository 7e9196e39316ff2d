-- The statement guard: every function of the given lower-case names (in any schema),
-- and the function behind every operator of the given names, with its volatility,
-- whether it is built in and which extension installed it.
WITH wanted AS (
    SELECT 'f' AS kind, lower(p.proname) AS key, p.oid
    FROM pg_catalog.pg_proc p
    WHERE lower(p.proname) = ANY(%(functions)s)
    UNION ALL
    SELECT 'o', o.oprname, o.oprcode
    FROM pg_catalog.pg_operator o
    WHERE o.oprname = ANY(%(operators)s)
)
SELECT w.kind,
       w.key,
       n.nspname,
       p.proname,
       p.provolatile,
       n.nspname IN ('pg_catalog', 'information_schema') AS builtin,
       e.extname
FROM wanted w
JOIN pg_catalog.pg_proc p ON p.oid = w.oid
JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
LEFT JOIN pg_catalog.pg_depend d
       ON d.classid = 'pg_catalog.pg_proc'::pg_catalog.regclass
      AND d.objid = p.oid
      AND d.deptype = 'e'
LEFT JOIN pg_catalog.pg_extension e ON e.oid = d.refobjid
