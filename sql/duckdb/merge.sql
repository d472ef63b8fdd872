-- Upsert the staged page into the target: one row per id, newest version wins.
-- Staging holds each id once (count_duplicate_ids.sql = 0); else merge_dedup.sql runs.
MERGE INTO {target} AS t
USING {staging} AS s
ON t."id" = s."id"
WHEN MATCHED AND (t.{version} IS NULL OR s.{version} >= t.{version}) THEN
    UPDATE SET {update_assignments}
WHEN NOT MATCHED THEN
    INSERT ({columns}) VALUES ({source_columns})
