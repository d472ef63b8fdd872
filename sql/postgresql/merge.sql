-- Upsert the staged page into the target: one row per id, newest version wins.
-- Staging holds each id once (count_duplicate_ids.sql = 0); else merge_dedup.sql runs.
INSERT INTO {target} AS t ({columns})
SELECT {columns}
FROM {staging}
ON CONFLICT ("id") DO UPDATE
    SET {excluded_assignments}
    WHERE t.{version} IS NULL OR EXCLUDED.{version} >= t.{version}
