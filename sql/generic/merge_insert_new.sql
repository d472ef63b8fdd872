-- Merge step 2 of 2: insert staged rows whose id is not stored (new, or removed by step 1).
INSERT INTO {target} ({columns})
SELECT {source_columns}
FROM {staging} AS s
WHERE NOT EXISTS (SELECT 1 FROM {target} AS t WHERE t."id" = s."id")
