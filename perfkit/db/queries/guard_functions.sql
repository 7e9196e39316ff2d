-- The statement guard: every function of the given lower-case names (in any schema),
-- the function behind every operator of the given names, and every cast function to
-- the given type names, with its volatility (an aggregate: VOLATILE when one of its
-- support functions is), whether it is built in and which extension installed it, and
-- for a user-defined function its language and body (PL/pgSQL: its CREATE FUNCTION) (judged too: a declared volatility
-- may lie). A type's "casts" include the functions its domain constraints call.
WITH wanted AS (
    SELECT 'f' AS kind, lower(p.proname) AS key, p.oid
    FROM pg_catalog.pg_proc p
    WHERE lower(p.proname) = ANY(%(functions)s)
    UNION ALL
    SELECT 'o', o.oprname, o.oprcode
    FROM pg_catalog.pg_operator o
    WHERE o.oprname = ANY(%(operators)s)
    UNION ALL
    SELECT 'c', lower(t.typname), c.castfunc
    FROM pg_catalog.pg_cast c
    JOIN pg_catalog.pg_type t ON t.oid = c.casttarget
    WHERE c.castfunc <> 0 AND lower(t.typname) = ANY(%(types)s)
    UNION ALL
    SELECT 'c', lower(t.typname), d.refobjid
    FROM pg_catalog.pg_type t
    JOIN pg_catalog.pg_constraint k ON k.contypid = t.oid
    JOIN pg_catalog.pg_depend d
      ON d.classid = 'pg_catalog.pg_constraint'::pg_catalog.regclass
     AND d.objid = k.oid
     AND d.refclassid = 'pg_catalog.pg_proc'::pg_catalog.regclass
    WHERE t.typtype = 'd' AND lower(t.typname) = ANY(%(types)s)
)
SELECT w.kind,
       w.key,
       n.nspname,
       p.proname,
       CASE WHEN p.prokind = 'a' AND EXISTS (
                SELECT 1
                FROM pg_catalog.pg_aggregate a
                JOIN pg_catalog.pg_proc f
                  ON f.oid IN (a.aggtransfn, a.aggfinalfn, a.aggcombinefn, a.aggserialfn,
                               a.aggdeserialfn, a.aggmtransfn, a.aggminvtransfn, a.aggmfinalfn)
                JOIN pg_catalog.pg_namespace fn ON fn.oid = f.pronamespace
                WHERE a.aggfnoid = p.oid AND f.provolatile = 'v'
                  AND fn.nspname <> 'pg_catalog'
            ) THEN 'v' ELSE p.provolatile::text END AS provolatile,
       n.nspname IN ('pg_catalog', 'information_schema') AS builtin,
       e.extname,
       l.lanname,
       CASE WHEN n.nspname NOT IN ('pg_catalog', 'information_schema') AND e.extname IS NULL
            THEN CASE WHEN l.lanname = 'plpgsql' THEN pg_catalog.pg_get_functiondef(p.oid)
                      ELSE p.prosrc END END AS body
FROM wanted w
JOIN pg_catalog.pg_proc p ON p.oid = w.oid
JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
JOIN pg_catalog.pg_language l ON l.oid = p.prolang
LEFT JOIN pg_catalog.pg_depend d
       ON d.classid = 'pg_catalog.pg_proc'::pg_catalog.regclass
      AND d.objid = p.oid
      AND d.deptype = 'e'
LEFT JOIN pg_catalog.pg_extension e ON e.oid = d.refobjid
