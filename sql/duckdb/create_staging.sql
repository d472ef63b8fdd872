-- One page's rows before the merge; temporary, so it disappears with the connection.
CREATE OR REPLACE TEMPORARY TABLE {staging} (
    {column_defs}
)
