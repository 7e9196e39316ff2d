-- Forget one hypothetical index.
SELECT hypopg_drop_index(%(oid)s::oid)
