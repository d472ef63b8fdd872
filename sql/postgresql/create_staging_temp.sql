-- One page's rows before the merge (binary path, when the page updates stored ids):
-- temporary (no WAL, session-local buffers) and dropped by the transaction's end.
CREATE TEMPORARY TABLE {staging} (
    {column_defs}
) ON COMMIT DROP
