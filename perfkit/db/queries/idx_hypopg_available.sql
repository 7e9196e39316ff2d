-- Is HypoPG installed in this database, or available to install?
SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'hypopg') AS installed,
       EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'hypopg') AS available
