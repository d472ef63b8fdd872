-- Ids of one Arrow batch (registered as {source}) that are already in the target, plus
-- ids the batch repeats: 0 means the batch can be inserted as is (insert_batch.sql).
SELECT
    (SELECT count(*) FROM {source} AS b WHERE b."id" IN (SELECT t."id" FROM {target} AS t))
    + (SELECT count(*) - count(DISTINCT "id") FROM {source})
