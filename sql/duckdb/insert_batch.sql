-- Insert one Arrow batch (registered as {source}) of ids new to the target: the merge of
-- new ids is an insert (count_clashing_ids.sql = 0 was checked in the same transaction).
INSERT INTO {target} ({columns})
SELECT {columns} FROM {source}
