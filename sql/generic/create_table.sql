-- The target table of a module (portable SQL: no arrays, no upsert syntax).
CREATE TABLE {target} (
    {column_defs},
    PRIMARY KEY ("id")
)
