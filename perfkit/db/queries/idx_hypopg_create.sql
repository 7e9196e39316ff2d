-- A hypothetical index (backend memory only): returns its oid.
SELECT indexrelid FROM hypopg_create_index(%(statement)s)
