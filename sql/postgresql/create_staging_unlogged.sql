-- One page's rows before the merge, for the ADBC fast path: ADBC ingests on its own
-- connection, so staging is a regular UNLOGGED table (no WAL) visible to both sessions;
-- the loader drops it after the merge, whatever happens.
CREATE UNLOGGED TABLE {staging} (
    {column_defs}
)
