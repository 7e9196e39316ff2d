-- Names of the partition indexes an index on a partitioned table created (plans name those).
SELECT c.relname
  FROM pg_partition_tree(%(name)s::regclass) AS t
  JOIN pg_class c ON c.oid = t.relid
 WHERE t.relid <> %(name)s::regclass
