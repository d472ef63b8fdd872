"""Delta file statistics of a Parquet file, from its own footer, as delta-rs writes them.

An *add* action's ``stats`` give the file's row count and, per column, the null count, the
minimum and the maximum. They must be complete: delta-rs turns them into a guarantee per file
for its readers (`DeltaTable.to_pyarrow_dataset`), and a column it finds no statistics for
reads as "compared with null", which pyarrow takes to mean "never null", so a filter on
``IS NULL`` would skip the file. So every primitive column of the table gets its null count
(a column the file does not hold: all its rows) and, when it holds a value, its minimum and
maximum, taken from the footer's row-group statistics or, where a row group has none, from
the column's values. Nested columns get none, as delta-rs gives them none.

Values are written the way the Delta protocol reads them: timestamps as UTC ISO strings in
milliseconds (the minimum rounded down, the maximum up), dates as ``YYYY-MM-DD``, decimals
exactly (`_decimal`), floats as JSON numbers rounded outward, strings whole.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

_MS = dt.timedelta(milliseconds=1)


def file_stats(path: Path, table_schema: pa.Schema) -> str:
    """The ``stats`` JSON of the add action of ``path`` in a table of ``table_schema``."""
    metadata = pq.read_metadata(path)
    rows = metadata.num_rows
    columns = {metadata.schema.column(i).path: i for i in range(metadata.num_columns)}
    low: dict[str, Any] = {}
    high: dict[str, Any] = {}
    nulls: dict[str, int] = {}
    for field in table_schema:
        if pa.types.is_nested(field.type):
            continue
        index = columns.get(field.name)
        if index is None:  # not in this file: null in every row
            nulls[field.name] = rows
            continue
        found = _footer_range(metadata, index)
        if found is None:
            found = _value_range(path, field.name)
        count, smallest, largest = found
        nulls[field.name] = count
        if smallest is not None and largest is not None:
            low[field.name] = _stat(smallest, field.type, up=False)
            high[field.name] = _stat(largest, field.type, up=True)
    stats = {"numRecords": rows, "minValues": low, "maxValues": high, "nullCount": nulls}
    return json.dumps(stats)


def _footer_range(metadata: pq.FileMetaData, index: int) -> tuple[int, Any, Any] | None:
    """(nulls, min, max) of column ``index`` over the row groups; None if one has no stats."""
    nulls = 0
    smallest: Any = None
    largest: Any = None
    for group in range(metadata.num_row_groups):
        chunk = metadata.row_group(group).column(index)
        stats = chunk.statistics
        if stats is None or stats.null_count is None:
            return None
        nulls += stats.null_count
        if stats.null_count == chunk.num_values:
            continue  # only nulls: no min or max to take
        if not stats.has_min_max:
            return None
        smallest = stats.min if smallest is None else min(smallest, stats.min)
        largest = stats.max if largest is None else max(largest, stats.max)
    return nulls, smallest, largest


def _value_range(path: Path, name: str) -> tuple[int, Any, Any]:
    """(nulls, min, max) of one column read from the file (its footer had no statistics)."""
    values = pq.read_table(path, columns=[name])[name]
    found = pc.min_max(values)
    return values.null_count, found["min"].as_py(), found["max"].as_py()


def _stat(value: Any, kind: pa.DataType, *, up: bool) -> Any:
    """``value`` as Delta's statistics write it (see module); ``up``: it is a maximum."""
    if pa.types.is_timestamp(kind):
        moment = value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)
        moment = moment.astimezone(dt.UTC)
        whole = moment.replace(microsecond=moment.microsecond // 1000 * 1000)
        if up and whole != moment:
            whole += _MS
        return whole.strftime("%Y-%m-%dT%H:%M:%S.") + f"{whole.microsecond // 1000:03d}Z"
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return _decimal(value)
    if isinstance(value, float):
        return _outward(value, up)
    return value


def _decimal(value: Decimal) -> int | float | str:
    """A decimal exactly: a JSON integer, a JSON number where a float's shortest text is the
    decimal's own (15 digits or fewer), else its text (delta-rs parses it exactly; a float
    would be unreadable to it past 2**63 and inexact past 15 digits)."""
    if value == value.to_integral_value():
        return int(value)
    if len(value.as_tuple().digits) <= 15:
        return float(value)
    return str(value)


def _outward(value: float, up: bool) -> float:
    """A float no smaller (``up``) or no larger than the exact value it stands for."""
    return math.nextafter(value, math.inf if up else -math.inf)
