-- Append one Arrow record batch (registered as {source}) to the staging table.
INSERT INTO {staging} ({columns})
SELECT {columns} FROM {source}
