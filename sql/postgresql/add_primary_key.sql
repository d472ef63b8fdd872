-- The key of a table created by create_table_unkeyed.sql: built from the rows it holds, it
-- fails (unique_violation) when the page repeated an id.
ALTER TABLE {target} ADD PRIMARY KEY ("id")
