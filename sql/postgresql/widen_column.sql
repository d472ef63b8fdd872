-- Schema drift, policy "evolve": widen a column to a type holding old and new values.
ALTER TABLE {target} ALTER COLUMN {column} SET DATA TYPE {column_type}
    USING CAST({column} AS {column_type})
