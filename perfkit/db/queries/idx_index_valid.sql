-- Validity of an index built concurrently (a failed build leaves it INVALID).
SELECT x.indisvalid
  FROM pg_index x JOIN pg_class c ON c.oid = x.indexrelid
  JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE n.nspname = %(schema)s AND c.relname = %(name)s
