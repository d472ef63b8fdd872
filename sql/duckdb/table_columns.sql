-- The columns of a table, in order, with their types (the table name is a bound parameter).
SELECT column_name, data_type
FROM information_schema.columns
WHERE table_schema = current_schema() AND table_name = ?
ORDER BY ordinal_position
