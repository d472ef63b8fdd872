-- Does the target already hold any id of the page's first rows (registered as {source})?
-- No: the page is inserted straight into the target (one write per row); yes: staging +
-- merge.sql.
SELECT EXISTS (SELECT 1 FROM {target} WHERE "id" IN (SELECT "id" FROM {source}))
