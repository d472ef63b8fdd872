"""A warehouse table's live rows, comparable row by row across runs."""

from __future__ import annotations

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
