-- Size of an index, summed over its partitions for an index on a partitioned table.
SELECT CASE WHEN c.relkind = 'I'
            THEN (SELECT coalesce(sum(pg_relation_size(t.relid)), 0) FROM pg_partition_tree(c.oid) AS t)
            ELSE pg_relation_size(c.oid) END::bigint
  FROM pg_class c
 WHERE c.oid = %(name)s::regclass
