"""Vectorised conversion of a batch of CSV strings to the page's Arrow types.

The CSV is read with every column as ``string`` (so one bad value cannot stop the stream),
then each column is cast with Arrow compute. When a cast fails, the failing values are
isolated by bisection (``O(bad * log n)`` casts, so a clean batch costs one cast per column)
and reported; their rows are removed from the batch and go to the rejects output.
"""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc

from transforms.schema import MULTI_VALUE_SEPARATOR, PageSchema

_CAST_ERRORS = (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError)


@dataclass(frozen=True)
class ValueFailure:
    """A value of a batch that does not convert: batch row index, CSV column, raw, reason."""

    row: int
    column: str
    raw_value: str | None
    reason: str


@dataclass(frozen=True)
class ConvertedBatch:
    """The rows of a batch that converted cleanly, plus the failures of the others."""

    batch: pa.RecordBatch
    failures: tuple[ValueFailure, ...]
    rejected_rows: tuple[int, ...]


def convert_batch(raw: pa.RecordBatch, schema: PageSchema) -> ConvertedBatch:
    """Cast every column of ``raw`` (strings named by CSV header) to the schema's types."""
    arrays: list[pa.Array] = []
    failures: list[ValueFailure] = []
    for spec in schema.columns:
        column = raw.column(spec.source)
        converted, failed = convert_column(column, spec.arrow_type)
        arrays.append(converted)
        for index, reason in failed:
            value = column[index].as_py()
            failures.append(
                ValueFailure(index, spec.source, value, f"not a valid {spec.data_type}: {reason}")
            )
    batch = pa.RecordBatch.from_arrays(arrays, names=[c.name for c in schema.columns])
    if not failures:
        return ConvertedBatch(batch, (), ())
    rejected = sorted({f.row for f in failures})
    keep = [True] * batch.num_rows
    for row in rejected:
        keep[row] = False
    return ConvertedBatch(batch.filter(pa.array(keep)), tuple(failures), tuple(rejected))


def convert_column(column: pa.Array, target: pa.DataType) -> tuple[pa.Array, list[tuple[int, str]]]:
    """Cast one string column to ``target``; failing positions come back as nulls + reasons."""
    if pa.types.is_string(target):
        return column, []
    if pa.types.is_list(target):
        return pc.split_pattern(column, MULTI_VALUE_SEPARATOR), []
    try:
        return pc.cast(column, target), []
    except _CAST_ERRORS:
        pass
    failed = _isolate_failures(column, target, 0)
    bad = [False] * len(column)
    for index, _ in failed:
        bad[index] = True
    mask = pa.array(bad)
    cleaned = pc.if_else(mask, pa.scalar(None, pa.string()), column)
    return pc.cast(cleaned, target), failed


def _isolate_failures(column: pa.Array, target: pa.DataType, offset: int) -> list[tuple[int, str]]:
    try:
        pc.cast(column, target)
    except _CAST_ERRORS as exc:
        if len(column) == 1:
            return [(offset, str(exc).split("\n", 1)[0])]
        middle = len(column) // 2
        return _isolate_failures(column.slice(0, middle), target, offset) + _isolate_failures(
            column.slice(middle), target, offset + middle
        )
    return []
