-- A module's new table when its first page is copied straight in (binary COPY): the same
-- columns as create_table.sql, its primary key added by add_primary_key.sql once the page
-- is in, in the same transaction. A key built from the stored rows (one sort) costs less
-- than the row-by-row inserts into it during the COPY, each of which writes its own WAL.
CREATE TABLE {target} (
    {column_defs}
)
