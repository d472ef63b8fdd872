-- Append the Arrow table of (id, deleted_at) pairs registered as {source}.
INSERT INTO {deletions} SELECT "id", "deleted_at" FROM {source}
