-- The statement guard: the function behind every operator of the given names.
SELECT o.oprname AS key,
       n.nspname,
       p.proname,
       p.provolatile,
       n.nspname IN ('pg_catalog', 'information_schema') AS builtin,
       e.extname
FROM pg_catalog.pg_operator o
JOIN pg_catalog.pg_proc p ON p.oid = o.oprcode
JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
LEFT JOIN pg_catalog.pg_depend d
       ON d.classid = 'pg_catalog.pg_proc'::pg_catalog.regclass
      AND d.objid = p.oid
      AND d.deptype = 'e'
LEFT JOIN pg_catalog.pg_extension e ON e.oid = d.refobjid
WHERE o.oprname = ANY(%(names)s)
