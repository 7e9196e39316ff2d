-- Whether a just-built index is invisible to the transaction that built it.
SELECT x.indcheckxmin FROM pg_index x WHERE x.indexrelid = %(name)s::regclass
