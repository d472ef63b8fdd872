-- Schema drift: a field new in Zoho becomes a column (null in rows loaded before).
ALTER TABLE {target} ADD COLUMN IF NOT EXISTS {column} {column_type}
