-- The statement guard: every function of the given lower-case names, in any schema,
-- with its volatility, whether it is built in and which extension installed it.
SELECT lower(p.proname) AS key,
       n.nspname,
       p.proname,
       p.provolatile,
       n.nspname IN ('pg_catalog', 'information_schema') AS builtin,
       e.extname
FROM pg_catalog.pg_proc p
JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
LEFT JOIN pg_catalog.pg_depend d
       ON d.classid = 'pg_catalog.pg_proc'::pg_catalog.regclass
      AND d.objid = p.oid
      AND d.deptype = 'e'
LEFT JOIN pg_catalog.pg_extension e ON e.oid = d.refobjid
WHERE lower(p.proname) = ANY(%(names)s)
