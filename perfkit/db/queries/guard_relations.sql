-- The statement guard: tables and views of the given names, in any schema, with the
-- code that runs when they are used: a view's definition and the row-level security
-- policies' expressions (read); for a written table, whether a column is an identity
-- column, its column defaults and CHECK constraints (as expressions), its user
-- triggers and its rewrite rules; and what else runs when it is written: the user
-- triggers of its partitions, inheritance children, the tables whose foreign keys
-- reference it (cascades) and the base tables a view writes (all recursively), the
-- user functions their index expressions, defaults, constraints, column domains and
-- assignment casts to column types call, and whether any of them draws from a sequence.
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
       ) AS rules,
       w.triggers AS written_triggers,
       w.functions AS written_functions,
       w.sequences AS written_sequences
FROM pg_catalog.pg_class c
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
CROSS JOIN LATERAL (
    WITH RECURSIVE affected(oid) AS (
        SELECT c.oid
        UNION
        SELECT x.oid FROM affected a, LATERAL (
            SELECT i.inhrelid AS oid FROM pg_catalog.pg_inherits i WHERE i.inhparent = a.oid
            UNION ALL
            SELECT k.conrelid FROM pg_catalog.pg_constraint k
            WHERE k.contype = 'f' AND k.confrelid = a.oid
            UNION ALL
            SELECT d.refobjid FROM pg_catalog.pg_rewrite r
            JOIN pg_catalog.pg_depend d
              ON d.classid = 'pg_catalog.pg_rewrite'::pg_catalog.regclass
             AND d.objid = r.oid
             AND d.refclassid = 'pg_catalog.pg_class'::pg_catalog.regclass
            WHERE r.ev_class = a.oid AND d.refobjid <> a.oid
        ) x
    ),
    parts(classid, objid) AS (
        SELECT 'pg_catalog.pg_attrdef'::pg_catalog.regclass, d.oid
        FROM pg_catalog.pg_attrdef d JOIN affected a ON a.oid = d.adrelid
        UNION ALL
        SELECT 'pg_catalog.pg_constraint'::pg_catalog.regclass, k.oid
        FROM pg_catalog.pg_constraint k JOIN affected a ON a.oid = k.conrelid
        UNION ALL
        SELECT 'pg_catalog.pg_constraint'::pg_catalog.regclass, k.oid
        FROM pg_catalog.pg_attribute t
        JOIN affected a ON a.oid = t.attrelid
        JOIN pg_catalog.pg_constraint k ON k.contypid = t.atttypid
        WHERE t.attnum > 0 AND NOT t.attisdropped
        UNION ALL
        SELECT 'pg_catalog.pg_cast'::pg_catalog.regclass, k.oid
        FROM pg_catalog.pg_attribute t
        JOIN affected a ON a.oid = t.attrelid
        JOIN pg_catalog.pg_cast k ON k.casttarget = t.atttypid AND k.castcontext IN ('a', 'i')
        WHERE t.attnum > 0 AND NOT t.attisdropped        UNION ALL
        SELECT 'pg_catalog.pg_class'::pg_catalog.regclass, x.indexrelid
        FROM pg_catalog.pg_index x JOIN affected a ON a.oid = x.indrelid
        UNION ALL
        SELECT 'pg_catalog.pg_class'::pg_catalog.regclass, a.oid FROM affected a
    )
    SELECT ARRAY(
               SELECT t.tgname::text FROM pg_catalog.pg_trigger t
               JOIN affected a ON a.oid = t.tgrelid
               WHERE NOT t.tgisinternal AND t.tgrelid <> c.oid
               ORDER BY 1
           ) AS triggers,
           ARRAY(
               SELECT DISTINCT p.proname::text
               FROM parts q
               JOIN pg_catalog.pg_depend d ON d.classid = q.classid AND d.objid = q.objid
               JOIN pg_catalog.pg_proc p
                 ON d.refclassid = 'pg_catalog.pg_proc'::pg_catalog.regclass
                AND p.oid = d.refobjid
               WHERE p.pronamespace <> 'pg_catalog'::pg_catalog.regnamespace
               ORDER BY 1
           ) AS functions,
           EXISTS (
               SELECT 1 FROM parts q
               JOIN pg_catalog.pg_depend d ON d.classid = q.classid AND d.objid = q.objid
               JOIN pg_catalog.pg_class s
                 ON d.refclassid = 'pg_catalog.pg_class'::pg_catalog.regclass
                AND s.oid = d.refobjid AND s.relkind = 'S'
           ) OR EXISTS (
               SELECT 1 FROM pg_catalog.pg_attribute t JOIN affected a ON a.oid = t.attrelid
               WHERE t.attnum > 0 AND NOT t.attisdropped AND t.attidentity <> ''
           ) AS sequences
) w
WHERE c.relname = ANY(%(names)s)
