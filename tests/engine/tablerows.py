"""A warehouse table's rows, comparable row by row across runs and with the lake."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

from engine.runtime import Runtime

#: load metadata: differs between two loads of the same records
META = ("_zoho_job_id", "_extracted_at", "_zoho_deleted_at", "_zoho_module")


def live_rows(rt: Runtime, table: str) -> list[dict[str, object]]:
    """The table's live rows without load metadata, sorted by id (row-by-row comparable)."""
    with rt.load_lock:
        data = rt.warehouse.read_table(table)
    if "_zoho_deleted_at" in data.column_names:
        data = data.filter(pc.is_null(data["_zoho_deleted_at"]))
    keep = [c for c in data.column_names if c not in META]
    return sorted(data.select(keep).to_pylist(), key=lambda r: str(r["id"]))


def assert_same_table(lake: pa.Table, warehouse: pa.Table) -> pa.Table:
    """One row per id in ``lake``, and the same rows, values and types as ``warehouse`` (both
    sorted by id); returns ``lake`` in the warehouse's column order."""
    assert pc.count_distinct(lake["id"]).as_py() == lake.num_rows
    assert sorted(lake.column_names) == sorted(warehouse.column_names)
    lake = lake.select(warehouse.column_names)
    for name in warehouse.column_names:
        assert lake.schema.field(name).type == warehouse.schema.field(name).type, name
    assert lake.to_pylist() == warehouse.to_pylist()
    return lake
