-- How many staged rows repeat an id already staged (0 for a normal page): picks merge.sql
-- (no deduplication needed, no sort) or merge_dedup.sql.
SELECT count(*) - count(DISTINCT "id") FROM {staging}
