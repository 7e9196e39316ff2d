-- The statement guard: sequence values, to report what a rolled-back statement advanced
-- (PostgreSQL never rolls a sequence back).
SELECT schemaname || '.' || sequencename AS name, last_value
FROM pg_catalog.pg_sequences
ORDER BY 1
