-- A hypothetical index (backend memory only): its oid and the name plans show.
SELECT indexrelid, indexname FROM hypopg_create_index(%(statement)s)
