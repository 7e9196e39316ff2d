-- Estimated size of a hypothetical index.
SELECT hypopg_relation_size(%(oid)s::oid)::bigint
