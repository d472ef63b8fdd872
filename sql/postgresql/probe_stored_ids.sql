-- Does the target already hold any id of the page's first rows? %(ids)s is those ids as
-- one bound text[] parameter. No: the page goes straight into the target (one write
-- instead of staging + merge); yes: staging + merge.sql.
SELECT EXISTS (SELECT 1 FROM {target} WHERE "id" = ANY(%(ids)s::text[]))
