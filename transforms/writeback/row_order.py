"""An order of a table's rows that depends on their content only, not on how they came.

A write-back saves its progress under a key of its input and, when re-run after a crash,
rebuilds the same chunks to check it is sending the same rows. A source without a fixed
order (``sql:SELECT ... ORDER BY random()``, a warehouse scan) gives the same rows in a
different order each time, so both the key and the chunks are built from the rows in
`content_order`: sorted by a 64-bit digest of each row's values (pandas'
``hash_pandas_object``, stable across processes), ties in input order (tied rows are equal,
so their order changes nothing). `content_digest` is the key: the same rows in any order
give the same digest.
"""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pandas as pd
import pyarrow as pa


def row_digests(table: pa.Table) -> np.ndarray:
    """One uint64 per row from its values (column names and order count too)."""
    if table.num_rows == 0:
        return np.zeros(0, dtype=np.uint64)
    frame = table.to_pandas(types_mapper=pd.ArrowDtype)
    try:
        hashed = pd.util.hash_pandas_object(frame, index=False)
        return np.asarray(hashed.to_numpy(), dtype=np.uint64)
    except TypeError:  # nested values (lists, structs): hash each row's JSON instead
        rows = (json.dumps(r, sort_keys=True, default=str) for r in table.to_pylist())
        return np.array(
            [int.from_bytes(hashlib.blake2b(r.encode(), digest_size=8).digest()) for r in rows],
            dtype=np.uint64,
        )


def content_order(table: pa.Table) -> np.ndarray:
    """Row positions in content order (see the module docstring)."""
    return np.argsort(row_digests(table), kind="stable")


def content_digest(table: pa.Table) -> str:
    """A digest of the schema and the multiset of rows: row order does not change it."""
    digest = hashlib.sha256(table.schema.serialize().to_pybytes())
    digest.update(np.sort(row_digests(table)).tobytes())
    return digest.hexdigest()
