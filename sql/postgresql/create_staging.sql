-- One page's rows before the merge; temporary (no WAL, dropped with the session).
CREATE TEMPORARY TABLE {staging} (
    {column_defs}
)
