-- The columns of a table, in order, with their types; %(table)s is the quoted table
-- name as a bound parameter (to_regclass resolves it through the search_path).
SELECT a.attname, format_type(a.atttypid, a.atttypmod)
FROM pg_attribute AS a
WHERE a.attrelid = to_regclass(%(table)s) AND a.attnum > 0 AND NOT a.attisdropped
ORDER BY a.attnum
