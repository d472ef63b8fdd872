-- Schema drift, policy "evolve": a multi-select column becomes text, values joined by ';'.
ALTER TABLE {target} ALTER COLUMN {column} SET DATA TYPE VARCHAR
    USING array_to_string({column}, ';')
