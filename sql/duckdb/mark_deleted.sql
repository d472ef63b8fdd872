-- Soft delete: stamp _zoho_deleted_at on the rows Zoho reports deleted; rows stay.
UPDATE {target} AS t
SET "_zoho_deleted_at" = d."deleted_at"
FROM (SELECT "id", max("deleted_at") AS "deleted_at" FROM {deletions} GROUP BY "id") AS d
WHERE t."id" = d."id"
