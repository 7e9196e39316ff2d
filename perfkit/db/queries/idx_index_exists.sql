-- Does an index of this name exist in this schema (for --apply)?
SELECT EXISTS (
  SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
   WHERE c.relkind IN ('i', 'I') AND n.nspname = %(schema)s AND c.relname = %(name)s)
