-- Does the target already hold any probed id? No: the page goes straight into the target
-- (one write instead of staging + merge); yes: staging + merge.sql.
SELECT EXISTS (SELECT 1 FROM {probe} AS p JOIN {target} AS t ON t."id" = p."id")
