-- Columns of user relations, for resolving the columns a query uses, with their
-- collation (the database's for 'default': LIKE prefixes need C or a pattern opclass).
SELECT n.nspname AS schema,
       c.relname AS name,
       a.attname AS column,
       format_type(a.atttypid, a.atttypmod) AS type,
       CASE WHEN a.attcollation = 0 THEN NULL
            WHEN co.collname = 'default'
            THEN (SELECT d.datcollate FROM pg_database d WHERE d.datname = current_database())
            ELSE co.collname END AS collation
  FROM pg_attribute a
  JOIN pg_class c ON c.oid = a.attrelid
  LEFT JOIN pg_collation co ON co.oid = a.attcollation
  JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f')
   AND a.attnum > 0
   AND NOT a.attisdropped
   AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')
   AND n.nspname NOT LIKE 'pg_temp%'
 ORDER BY n.nspname, c.relname, a.attnum
