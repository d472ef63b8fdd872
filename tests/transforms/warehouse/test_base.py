"""The shared loader protocol's helpers (no warehouse needed)."""

from __future__ import annotations

import pyarrow as pa

from transforms.warehouse.base import coalesce


def _batch(start: int, rows: int) -> pa.RecordBatch:
    return pa.record_batch({"id": pa.array([str(i) for i in range(start, start + rows)])})


def test_coalesce_regroups_small_batches_keeping_every_row_in_order() -> None:
    batches = [_batch(0, 3), _batch(3, 0), _batch(3, 2), _batch(5, 4), _batch(9, 1)]
    grouped = list(coalesce(batches, 5))
    assert [b.num_rows for b in grouped] == [5, 5]
    ids = [i for b in grouped for i in b.column("id").to_pylist()]
    assert ids == [str(i) for i in range(10)]
    assert [b.num_rows for b in coalesce([*batches, _batch(10, 2)], 5)] == [5, 5, 2]


def test_coalesce_passes_big_batches_through_without_copying() -> None:
    big = _batch(0, 10)
    (only,) = coalesce([big], 5)
    assert only is big


def test_coalesce_of_nothing_is_nothing() -> None:
    assert list(coalesce([_batch(0, 0)], 5)) == []
