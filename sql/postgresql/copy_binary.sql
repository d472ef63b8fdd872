-- Stream rows into a table (the target or staging) as binary COPY tuples, encoded column by
-- column by transforms/warehouse/pgbinary.py.
COPY {target} ({columns}) FROM STDIN (FORMAT binary)
