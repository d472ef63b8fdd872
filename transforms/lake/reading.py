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
from transforms.schema import ID_COLUMN


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


def holds_any(table: DeltaTable, ids: pa.ChunkedArray) -> bool:
    """Whether ``table`` stores any of ``ids``. Only the files whose ``id`` range meets the
    ids' are read: the pages of a first load carry ids above every stored one, so none is,
    however big the table grows. Read by delta-rs' engine, which applies deletion vectors
    and reads text stored as ``string`` or as ``string_view`` alike."""
    low, high = pc.min(ids).as_py(), pc.max(ids).as_py()
    files = pa.table(table.get_add_actions(flatten=True))
    if f"min.{ID_COLUMN}" in files.column_names:
        lows, highs = files[f"min.{ID_COLUMN}"], files[f"max.{ID_COLUMN}"]
        unknown = pc.or_(pc.is_null(lows), pc.is_null(highs))
        meets = pc.and_(pc.less_equal(lows, high), pc.greater_equal(highs, low))
        if not pc.any(pc.or_kleene(unknown, meets)).as_py():
            return False
    between = f'"{ID_COLUMN}" >= {_sql_text(low)} AND "{ID_COLUMN}" <= {_sql_text(high)}'
    values = ids.combine_chunks()
    stored = table.scan(columns=[ID_COLUMN], predicate=between)
    return any(
        pc.any(pc.is_in(pa.array(b.column(0)).cast(values.type), value_set=values)).as_py()
        for b in stored  # text comes as string_view: cast to the ids' type
    )


def _sql_text(value: object) -> str:
    return "'" + str(value).replace("'", "''") + "'"


def arrow_source(table: DeltaTable) -> ds.Dataset | pa.Table:
    """What DuckDB can query: the dataset, or the rows read whole when vectors hide some."""
    return read_arrow(table) if has_deletion_vectors(table) else table.to_pyarrow_dataset()


__all__ = ["arrow_source", "column_names", "has_deletion_vectors", "holds_any", "read_arrow"]
