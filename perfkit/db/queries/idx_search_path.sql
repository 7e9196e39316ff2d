-- Schemas an unqualified table name is looked up in, in order.
SELECT current_schemas(false) AS search_path
