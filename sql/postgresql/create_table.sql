-- The target table of a module; "id" is the Zoho record id (a 19-digit string).
CREATE TABLE IF NOT EXISTS {target} (
    {column_defs},
    PRIMARY KEY ("id")
)
