-- Deleted record ids (from the deleted-records API) before they are applied.
CREATE TEMPORARY TABLE {deletions} (
    "id" text,
    "deleted_at" timestamp with time zone
)
