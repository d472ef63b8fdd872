-- The ids of a page's first batch, to ask the target whether the page updates stored rows.
CREATE TEMPORARY TABLE {probe} (
    "id" text COLLATE "C"
) ON COMMIT DROP
