-- Merge step 1 of 2 (same transaction as step 2): remove stored rows that the page
-- replaces (stored version null, or the staged one is the same or newer).
-- Staging holds one row per id: the loader deduplicates before staging.
DELETE FROM {target}
WHERE EXISTS (
    SELECT 1 FROM {staging} AS s
    WHERE s."id" = {target}."id"
      AND ({target}.{version} IS NULL OR s.{version} >= {target}.{version})
)
