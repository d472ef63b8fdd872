-- Deleted record ids (from the deleted-records API) before they are applied.
CREATE OR REPLACE TEMPORARY TABLE {deletions} (
    "id" VARCHAR,
    "deleted_at" TIMESTAMP WITH TIME ZONE
)
