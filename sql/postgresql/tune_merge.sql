-- Inside the merge transaction only: let the DISTINCT ON sort of a 200,000-row page
-- happen in memory instead of spilling to disk (halves the merge time).
SET LOCAL work_mem = '256MB'
