-- After a page was inserted straight into the target, inside its transaction: rows of the
-- target holding one of the page's ids ({source}) minus the page's distinct ids. 0 means
-- every id of the page was new and appears once; anything else rolls the insert back and
-- the page is staged and merged instead (newest Modified_Time wins).
SELECT
    (SELECT count(*) FROM {target} WHERE "id" IN (SELECT "id" FROM {source}))
    - (SELECT count(DISTINCT "id") FROM {source})
