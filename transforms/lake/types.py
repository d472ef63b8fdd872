"""The Arrow types a Delta table can hold, and the one place page columns are converted to them.

The warehouse pages (`transforms.schema`) already use Delta-friendly types: ``string`` ids,
``int64``, ``decimal128(p, s)`` with ``p <= 38``, ``float64``, ``bool``, ``date32``,
``timestamp[us, tz=UTC]`` and ``list<string>``. Those pass through unchanged. Anything else
an Arrow producer might hand over is converted here, losslessly where Delta allows it:

==========================================  ==========================================
Arrow type                                  stored in the lake as
==========================================  ==========================================
``timestamp`` of any unit, any or no zone   ``timestamp[us, tz=UTC]`` (no zone: read as
                                            UTC; nanoseconds truncated to microseconds)
``uint8`` / ``uint16`` / ``uint32``         ``int16`` / ``int32`` / ``int64``
``uint64``                                  ``decimal128(20, 0)``
``float16``                                 ``float32``
``decimal`` with precision > 38             ``string`` (Delta decimals stop at 38 digits)
``decimal256`` with precision <= 38         ``decimal128`` of the same precision and scale
``date64``                                  ``date32``
``time32`` / ``time64``                     ``string`` (``HH:MM:SS[.ffffff]``: no time in Delta)
``duration``                                ``int64`` microseconds
``large_string`` / ``string_view``          ``string``
``large_binary`` / ``binary_view``          ``binary``
``dictionary<values=T>``                    ``T`` converted
``large_list`` / ``list_view`` / ``list``   ``list`` (child named ``item``), child converted
``struct``                                  ``struct``, every field converted
``null`` (a column of nulls only)           ``string``
==========================================  ==========================================

Delta names a list's child ``element`` where pyarrow says ``item``; `from_delta_schema`
renames it back, so a schema read from the table compares equal to the page's.
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

from transforms.schema import MAX_DECIMAL_PRECISION, UTC_TIMESTAMP

_UNSIGNED = {
    pa.uint8(): pa.int16(),
    pa.uint16(): pa.int32(),
    pa.uint32(): pa.int64(),
    pa.uint64(): pa.decimal128(20, 0),
}


def lake_type(t: pa.DataType) -> pa.DataType:
    """The type a column of Arrow type ``t`` is stored as (see the module docstring)."""
    if pa.types.is_timestamp(t):
        return UTC_TIMESTAMP
    if t in _UNSIGNED:
        return _UNSIGNED[t]
    if pa.types.is_float16(t):
        return pa.float32()
    if pa.types.is_decimal(t):
        if t.precision > MAX_DECIMAL_PRECISION:
            return pa.string()
        return pa.decimal128(t.precision, t.scale)
    if pa.types.is_date64(t):
        return pa.date32()
    if pa.types.is_time(t) or pa.types.is_null(t):
        return pa.string()
    if pa.types.is_duration(t):
        return pa.int64()
    if pa.types.is_large_string(t) or pa.types.is_string_view(t):
        return pa.string()
    if pa.types.is_large_binary(t) or pa.types.is_binary_view(t):
        return pa.binary()
    if pa.types.is_dictionary(t):
        return lake_type(t.value_type)
    if pa.types.is_list(t) or pa.types.is_large_list(t) or pa.types.is_list_view(t):
        return pa.list_(lake_type(t.value_type))
    if pa.types.is_struct(t):
        return pa.struct([pa.field(f.name, lake_type(f.type)) for f in t])
    return t


def lake_schema(schema: pa.Schema) -> pa.Schema:
    """``schema`` with every column's type replaced by its `lake_type`."""
    return pa.schema([pa.field(f.name, lake_type(f.type)) for f in schema])


def to_lake_array(values: pa.Array | pa.ChunkedArray) -> pa.Array | pa.ChunkedArray:
    """Convert one column to its `lake_type`."""
    source, target = values.type, lake_type(values.type)
    if source.equals(target):
        return values
    if pa.types.is_null(source):
        return pa.nulls(len(values), target)
    if pa.types.is_dictionary(source):
        return to_lake_array(values.cast(source.value_type))
    if pa.types.is_timestamp(source):
        if source.unit != "us":  # nanoseconds cannot be stored: truncate, never fail
            values = pc.cast(values, pa.timestamp("us", source.tz), safe=False)
        return values.cast(target)  # no zone: the wall time is taken as UTC
    if pa.types.is_duration(source):
        return pc.cast(pc.cast(values, pa.duration("us"), safe=False), pa.int64())
    return pc.cast(values, target)


def to_lake_table(table: pa.Table) -> pa.Table:
    """``table`` with every column converted by `to_lake_array` (unchanged columns kept)."""
    if lake_schema(table.schema).equals(table.schema):
        return table
    columns = [to_lake_array(column) for column in table.columns]
    return pa.table(columns, names=table.column_names)


def from_delta_schema(schema: pa.Schema) -> pa.Schema:
    """A schema read from a Delta table, with list children named as pyarrow names them."""
    return pa.schema([pa.field(f.name, _rename_list_items(f.type)) for f in schema])


def _rename_list_items(t: pa.DataType) -> pa.DataType:
    if pa.types.is_list(t) or pa.types.is_large_list(t):
        return pa.list_(_rename_list_items(t.value_type))
    if pa.types.is_struct(t):
        return pa.struct([pa.field(f.name, _rename_list_items(f.type)) for f in t])
    return t
