"""Reading a lake table whatever its merges wrote: with or without deletion vectors.

delta-rs' pyarrow dataset (`DeltaTable.to_pyarrow_dataset`) prunes files by their
statistics and streams, but refuses a table with deletion vectors
(`transforms.lake.local_merge`): it cannot hide the rows they delete. Such a table is read
through delta-rs' own engine (`DeltaTable.scan`), which applies them.
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
from deltalake import DeltaTable

from transforms.lake.deletion_vectors import DELETION_VECTORS
from transforms.lake.types import from_delta_schema, lake_schema


def has_deletion_vectors(table: DeltaTable) -> bool:
    return DELETION_VECTORS in (table.protocol().reader_features or [])


def column_names(table: DeltaTable) -> list[str]:
    return list(pa.schema(table.schema().to_arrow()).names)


def read_arrow(
    table: DeltaTable, columns: list[str] | None = None, where: pc.Expression | None = None
) -> pa.Table:
    """``columns`` (default: all) of the rows matching ``where``, in the page's types."""
    if has_deletion_vectors(table):
        data = pa.table(table.scan(columns=columns))  # strings come as views: cast back
        data = data.cast(from_delta_schema(lake_schema(data.schema)))
        return data.filter(where) if where is not None else data
    data = table.to_pyarrow_dataset().to_table(columns=columns, filter=where)
    return data.cast(from_delta_schema(data.schema))


def arrow_source(table: DeltaTable) -> ds.Dataset | pa.Table:
    """What DuckDB can query: the dataset, or the rows read whole when vectors hide some."""
    return read_arrow(table) if has_deletion_vectors(table) else table.to_pyarrow_dataset()


__all__ = ["arrow_source", "column_names", "has_deletion_vectors", "read_arrow"]
