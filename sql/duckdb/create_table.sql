-- The target table of a module; "id" is the Zoho record id (a 19-digit string).
-- No PRIMARY KEY: DuckDB maintains it with an ART index that makes MERGE updates of a
-- 200,000-row page take ~15 s instead of ~1 s. One row per id is kept by merge.sql
-- (the only writer; a DuckDB file has a single writer process).
CREATE TABLE IF NOT EXISTS {target} (
    {column_defs}
)
