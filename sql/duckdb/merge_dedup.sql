-- Upsert the staged page into the target: one row per id, newest version wins.
-- Used when the page repeats an id (count_duplicate_ids.sql > 0): newest version first.
MERGE INTO {target} AS t
USING (
    SELECT *
    FROM {staging}
    QUALIFY row_number() OVER (
        PARTITION BY "id"
        ORDER BY {version} DESC NULLS LAST, "_extracted_at" DESC
    ) = 1
) AS s
ON t."id" = s."id"
WHEN MATCHED AND (t.{version} IS NULL OR s.{version} >= t.{version}) THEN
    UPDATE SET {update_assignments}
WHEN NOT MATCHED THEN
    INSERT ({columns}) VALUES ({source_columns})
