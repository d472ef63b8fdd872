-- Upsert the staged page into the target: one row per id, newest version wins.
-- Used when the page repeats an id (count_duplicate_ids.sql > 0): newest version first.
-- DISTINCT ON keeps the newest version of an id that appears twice in the page.
INSERT INTO {target} AS t ({columns})
SELECT DISTINCT ON ("id") {columns}
FROM {staging}
ORDER BY "id", {version} DESC NULLS LAST, "_extracted_at" DESC
ON CONFLICT ("id") DO UPDATE
    SET {excluded_assignments}
    WHERE t.{version} IS NULL OR EXCLUDED.{version} >= t.{version}
